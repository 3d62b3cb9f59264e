/*
 * Lua bindings of the page allocator: m:alloc_pages(order [, gfp]),
 * m:free_pages(p) and m:drain_pages(). A page object is a small userdata
 * naming the block (pfn, order, zone) and the machine it came from; the
 * machine remembers which blocks the script holds (one byte per pfn: order
 * + 1 at the head of each held block), so that
 *  - freeing a block twice, or a page of a machine that is gone, is a Lua
 *    error and never reaches the allocator;
 *  - blocks still held at shutdown are freed, and the allocator's checker
 *    sees a clean machine go down.
 * Dropping a page object does not free its block (a script may allocate
 * until ENOMEM without keeping the pages); only m:free_pages or shutdown do.
 */
#include <stdlib.h>
#include <string.h>

#include <kmm/errno.h>
#include <kmm/page_alloc.h>

#include "lua_kmm.h"

#define PAGE_MT "kmm.page"

struct lua_page {
	unsigned long gen;    /* the machine's generation */
	unsigned long pfn;
	unsigned int order;
	unsigned int zone;
	bool freed;
};

static uint8_t *held;       /* [held_pfns]: order + 1 of each held block's head */
static unsigned long held_pfns;

static int page_boot(void)
{
	held_pfns = max_pfn;
	held = calloc(held_pfns ? held_pfns : 1, 1);
	return held ? 0 : -KMM_ENOMEM;
}

static void page_shutdown(bool panicked)
{
	if (!panicked && held) {
		for (unsigned long pfn = 0; pfn < held_pfns; pfn++) {
			if (held[pfn]) {
				unsigned int order = held[pfn] - 1u;

				held[pfn] = 0;
				__free_pages(pfn_to_page(pfn), order);
			}
		}
	}
	free(held);
	held = NULL;
	held_pfns = 0;
}

struct alloc_call {
	gfp_t gfp;
	unsigned int order;
	struct page *page;
};

static void do_alloc(void *arg)
{
	struct alloc_call *c = arg;

	c->page = alloc_pages(c->gfp, c->order);
}

/* m:alloc_pages(order [, gfp]): a page object, or nil, "ENOMEM". */
static int l_alloc_pages(lua_State *L)
{
	struct alloc_call c;
	struct lua_page *p;
	lua_Integer order;
	unsigned long pfn;

	kmm_lua_machine(L, 1);
	order = luaL_checkinteger(L, 2);
	luaL_argcheck(L, order >= 0 && order <= MAX_ORDER, 2, "order must be 0..10");
	c.gfp = kmm_lua_optgfp(L, 3, GFP_KERNEL);
	c.order = (unsigned int)order;
	c.page = NULL;
	/* Before the allocation: a Lua memory error then leaks nothing. */
	p = lua_newuserdatauv(L, sizeof(*p), 0);
	p->gen = 0;
	p->freed = true;
	luaL_setmetatable(L, PAGE_MT);

	kmm_lua_core(L, do_alloc, &c);
	if (!c.page)
		return kmm_lua_fail(L, -KMM_ENOMEM);
	pfn = page_to_pfn(c.page);
	if (pfn >= held_pfns || held[pfn])
		return luaL_error(L, "alloc_pages returned pfn %I, which the script holds already",
				  (lua_Integer)pfn);
	held[pfn] = (uint8_t)(c.order + 1);
	*p = (struct lua_page){
		.gen = kmm_lua_generation(),
		.pfn = pfn,
		.order = c.order,
		.zone = page_zonenum(c.page),
		.freed = false,
	};
	return 1;
}

struct free_call {
	unsigned long pfn;
	unsigned int order;
};

static void do_free(void *arg)
{
	struct free_call *c = arg;

	__free_pages(pfn_to_page(c->pfn), c->order);
}

/* m:free_pages(p) */
static int l_free_pages(lua_State *L)
{
	struct lua_page *p;
	struct free_call c;

	kmm_lua_machine(L, 1);
	p = luaL_checkudata(L, 2, PAGE_MT);
	if (p->gen != kmm_lua_generation())
		return luaL_error(L, "free_pages: the page belongs to a machine that is shut down");
	if (p->freed)
		return luaL_error(L, "free_pages: page pfn %I order %d is already freed",
				  (lua_Integer)p->pfn, (int)p->order);
	if (p->pfn >= held_pfns || held[p->pfn] != p->order + 1)
		return luaL_error(L, "free_pages: page pfn %I is not held",
				  (lua_Integer)p->pfn);
	c.pfn = p->pfn;
	c.order = p->order;
	kmm_lua_core(L, do_free, &c);
	held[p->pfn] = 0;
	p->freed = true;
	return 0;
}

static void do_drain(void *arg)
{
	drain_all_pages();
}

/* m:drain_pages(): per-CPU list pages back to the buddy lists (MemFree). */
static int l_drain_pages(lua_State *L)
{
	kmm_lua_machine(L, 1);
	kmm_lua_core(L, do_drain, NULL);
	return 0;
}

static const char *zone_name(const struct lua_page *p)
{
	return p->zone < MAX_NR_ZONES ? zone_names[p->zone] : "?";
}

/* p.pfn, p.order, p.phys, p.zone, p.pages, p.freed */
static int page_index(lua_State *L)
{
	struct lua_page *p = luaL_checkudata(L, 1, PAGE_MT);
	const char *key = luaL_checkstring(L, 2);

	if (!strcmp(key, "pfn"))
		lua_pushinteger(L, (lua_Integer)p->pfn);
	else if (!strcmp(key, "order"))
		lua_pushinteger(L, p->order);
	else if (!strcmp(key, "phys"))
		lua_pushinteger(L, (lua_Integer)PFN_PHYS(p->pfn));
	else if (!strcmp(key, "zone"))
		lua_pushstring(L, zone_name(p));
	else if (!strcmp(key, "pages"))
		lua_pushinteger(L, (lua_Integer)1 << p->order);
	else if (!strcmp(key, "freed"))
		lua_pushboolean(L, p->freed || p->gen != kmm_lua_generation());
	else
		return luaL_error(L, "a page has no field '%s' (pfn, order, phys, zone, "
				     "pages, freed)", key);
	return 1;
}

static int page_tostring(lua_State *L)
{
	struct lua_page *p = luaL_checkudata(L, 1, PAGE_MT);

	lua_pushfstring(L, "page(pfn=%I, order=%d, zone=%s%s)", (lua_Integer)p->pfn,
			(int)p->order, zone_name(p),
			p->freed ? ", freed" : p->gen != kmm_lua_generation() ? ", gone" : "");
	return 1;
}

static void page_open(lua_State *L)
{
	luaL_newmetatable(L, PAGE_MT);
	lua_pushcfunction(L, page_index);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, page_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_pop(L, 1);
}

static const luaL_Reg page_methods[] = {
	{ "alloc_pages", l_alloc_pages },
	{ "free_pages", l_free_pages },
	{ "drain_pages", l_drain_pages },
	{ NULL, NULL },
};

const struct kmm_lua_binding kmm_lua_page_binding = {
	.name = "page",
	.methods = page_methods,
	.open = page_open,
	.boot = page_boot,
	.shutdown = page_shutdown,
};
