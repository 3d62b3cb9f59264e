/*
 * Lua bindings of the swap areas (include/kmm/swap.h): m:swapon(path [,
 * size [, priority]]) switches swapping to path on, first writing a swap
 * header sized size (as mkswap) when a size is given; m:swapoff(path)
 * switches it off. Both return 0, or nil and the errno's name. The areas
 * go with the machine.
 */
#include <kmm/swap.h>

#include "kmm_tool.h"
#include "lua_kmm.h"

struct swap_call {
	const char *path;
	uint64_t size;
	int priority;
	int ret;
};

static void do_swapon(void *arg)
{
	struct swap_call *c = arg;

	c->ret = c->size ? swap_format(c->path, c->size) : 0;
	if (!c->ret)
		c->ret = swapon(c->path, c->priority);
}

static void do_swapoff(void *arg)
{
	struct swap_call *c = arg;

	c->ret = swapoff(c->path);
}

static int l_swapon(lua_State *L)
{
	struct swap_call c = { .priority = -1 };

	kmm_lua_machine(L, 1);
	c.path = luaL_checkstring(L, 2);
	if (!lua_isnoneornil(L, 3))
		c.size = kmm_lua_checksize(L, 3);
	if (!lua_isnoneornil(L, 4)) {
		lua_Integer p = luaL_checkinteger(L, 4);

		luaL_argcheck(L, p >= 0 && p <= 32767, 4, "a priority is 0..32767");
		c.priority = (int)p;
	}
	kmm_lua_core(L, do_swapon, &c);
	if (c.ret)
		return kmm_lua_fail(L, c.ret);
	lua_pushinteger(L, 0);
	return 1;
}

static int l_swapoff(lua_State *L)
{
	struct swap_call c = { .priority = -1 };

	kmm_lua_machine(L, 1);
	c.path = luaL_checkstring(L, 2);
	kmm_lua_core(L, do_swapoff, &c);
	if (c.ret)
		return kmm_lua_fail(L, c.ret);
	lua_pushinteger(L, 0);
	return 1;
}

static const luaL_Reg swap_methods[] = {
	{ "swapon", l_swapon },
	{ "swapoff", l_swapoff },
	{ NULL, NULL },
};

const struct kmm_lua_binding kmm_lua_swap_binding = {
	.name = "swap",
	.methods = swap_methods,
};
