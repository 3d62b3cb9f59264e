/*
 * The Lua module `kmm` and its machine: kmm.boot{...} boots the emulated
 * machine and returns a handle, whose methods come from every bindings file
 * (lua_kmm.h). This file owns the machine's life: one machine per process
 * (the core keeps its state in globals, as a kernel does), shut down by
 * m:shutdown(), by a to-be-closed variable, or when the handle is garbage
 * collected; and the methods that look at the whole machine: view, stat,
 * check, advance.
 *
 * A handle holds the generation of the boot that made it. Every method
 * first checks that the generation is the running machine's, so a handle
 * (or a page) of a machine that is gone is refused with a Lua error instead
 * of reaching into freed memory. A kernel panic inside a method becomes a
 * Lua error and leaves the machine dead: its methods refuse to run, and
 * m:shutdown() releases it without touching the core.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <kmm/emu.h>
#include <kmm/errno.h>
#include <kmm/kmm.h>
#include <kmm/mmzone.h>

#include "kmm_tool.h"
#include "lua_kmm.h"
#include "plot.h"

#define MACHINE_MT "kmm.machine"

/* The handle a script holds. */
struct lua_machine {
	unsigned long gen;
};

/* The one running machine. */
static struct {
	unsigned long gen;        /* of the running machine; 0: none */
	unsigned long last_gen;
	bool panicked;
	char panic_msg[512];
} machine;

static const struct kmm_lua_binding machine_binding;

void (*kmm_lua_after_boot)(void);
void (*kmm_lua_before_shutdown)(void);

static void do_hook(void *arg)
{
	(*(void (**)(void))arg)();
}

#define KMM_LUA_ENTRY(b) &b,
static const struct kmm_lua_binding *const bindings[] = {
	&machine_binding,
	KMM_LUA_BINDINGS(KMM_LUA_ENTRY)
};
#undef KMM_LUA_ENTRY

#define NR_BINDINGS (sizeof(bindings) / sizeof(bindings[0]))

/* ---- Helpers for every bindings file ---- */

unsigned long kmm_lua_generation(void)
{
	return machine.gen;
}

void kmm_lua_machine(lua_State *L, int idx)
{
	struct lua_machine *m = luaL_checkudata(L, idx, MACHINE_MT);

	if (!machine.gen || m->gen != machine.gen)
		luaL_error(L, "the machine is shut down");
	if (machine.panicked)
		luaL_error(L, "the machine panicked (%s); only m:shutdown() is allowed",
			   machine.panic_msg);
}

void kmm_lua_core(lua_State *L, void (*fn)(void *arg), void *arg)
{
	char msg[sizeof(machine.panic_msg)];

	if (!catch_panic(fn, arg, msg, sizeof(msg))) {
		plot_sample();   /* when recording a chart (plot.h) */
		return;
	}
	machine.panicked = true;
	snprintf(machine.panic_msg, sizeof(machine.panic_msg), "%s", msg);
	luaL_error(L, "kernel panic: %s", msg);
}

int kmm_lua_fail(lua_State *L, int err)
{
	lua_pushnil(L);
	lua_pushstring(L, kmm_errno_name(err < 0 ? -err : err));
	return 2;
}

uint64_t kmm_lua_checksize(lua_State *L, int idx)
{
	const char *text;
	uint64_t bytes = 0;

	if (lua_type(L, idx) == LUA_TNUMBER) {
		int exact;
		lua_Integer v = lua_tointegerx(L, idx, &exact);

		if (!exact || v < 0)
			luaL_argerror(L, idx, "a size is a non-negative integer or a string like \"64M\"");
		return (uint64_t)v;
	}
	if (lua_type(L, idx) != LUA_TSTRING)
		luaL_typeerror(L, idx, "size (number or string like \"64M\")");
	text = lua_tostring(L, idx);
	if (text[0] == '-' || emu_parse_size(text, &bytes))
		luaL_argerror(L, idx, lua_pushfstring(L,
			"bad size '%s' (e.g. 4096, \"64K\", \"64M\", \"1G\")", text));
	return bytes;
}

gfp_t kmm_lua_optgfp(lua_State *L, int idx, gfp_t def)
{
	const char *text;
	gfp_t gfp;

	if (lua_isnoneornil(L, idx))
		return def;
	text = luaL_checkstring(L, idx);
	if (gfp_parse(text, &gfp))
		luaL_argerror(L, idx, lua_pushfstring(L,
			"bad gfp '%s' (e.g. \"GFP_KERNEL|__GFP_ZERO\" or \"kernel,zero\")", text));
	return gfp;
}

/* ---- Boot and shutdown ---- */

struct boot_call {
	const struct emu_config *cfg;
	char err[256];
	int ret;
};

static void do_boot(void *arg)
{
	struct boot_call *c = arg;

	c->ret = emu_boot(c->cfg, c->err, sizeof(c->err));
}

static void do_emu_shutdown(void *arg)
{
	emu_shutdown();
}

struct hook_call {
	const struct kmm_lua_binding *b;
};

static void do_shutdown_hook(void *arg)
{
	struct hook_call *c = arg;

	c->b->shutdown(false);
}

/*
 * Shuts the running machine down: every binding releases what the script
 * holds, then the emulated machine goes. Returns NULL, or the message of a
 * panic that happened on the way (the machine is gone all the same).
 */
static const char *shutdown_machine(void)
{
	static char msg[sizeof(machine.panic_msg) + 32];
	bool panicked = machine.panicked;

	msg[0] = '\0';
	for (size_t i = NR_BINDINGS; i-- > 0;) {
		struct hook_call c = { bindings[i] };

		if (!bindings[i]->shutdown)
			continue;
		if (panicked) {
			bindings[i]->shutdown(true);
		} else if (catch_panic(do_shutdown_hook, &c, msg, sizeof(msg))) {
			panicked = true;
			bindings[i]->shutdown(true);
		}
	}
	if (!panicked && kmm_lua_before_shutdown &&
	    catch_panic(do_hook, (void *)&kmm_lua_before_shutdown, msg, sizeof(msg)))
		panicked = true;
	/* The emulated machine only frees host resources: safe after a panic. */
	if (catch_panic(do_emu_shutdown, NULL, msg, sizeof(msg)))
		panicked = true;
	machine.gen = 0;
	machine.panicked = false;
	return panicked && msg[0] ? msg : NULL;
}

/* Turns a Lua value into the text the boot parameter table checks. */
static const char *param_text(lua_State *L, const char *field, char *buf, size_t len)
{
	switch (lua_type(L, -1)) {
	case LUA_TSTRING:
		return lua_tostring(L, -1);
	case LUA_TBOOLEAN:
		return lua_toboolean(L, -1) ? "true" : "false";
	case LUA_TNUMBER: {
		int exact;
		lua_Integer v = lua_tointegerx(L, -1, &exact);

		if (exact)
			snprintf(buf, len, "%lld", (long long)v);
		else
			snprintf(buf, len, "%.17g", lua_tonumber(L, -1));
		return buf;
	}
	default:
		luaL_error(L, "kmm.boot: field '%s': expected a number, string or boolean, got %s",
			   field, luaL_typename(L, -1));
		return NULL;
	}
}

static void boot_config_from_table(lua_State *L, int idx, struct emu_config *cfg)
{
	emu_config_default(cfg);
	if (lua_isnoneornil(L, idx))
		return;
	luaL_checktype(L, idx, LUA_TTABLE);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		const struct boot_param *p;
		const char *field, *text;
		char buf[64], err[256];

		if (lua_type(L, -2) != LUA_TSTRING)
			luaL_error(L, "kmm.boot: fields are named (ram=, cpus=, ...), got a %s key",
				   luaL_typename(L, -2));
		field = lua_tostring(L, -2);
		p = boot_param_by_field(field);
		if (!p)
			luaL_error(L, "kmm.boot: unknown field '%s'", field);
		text = param_text(L, field, buf, sizeof(buf));
		if (p->set(cfg, text, err, sizeof(err)))
			luaL_error(L, "kmm.boot: field '%s': %s", field, err);
		lua_pop(L, 1);
	}
}

/* kmm.boot{ram=, cpus=, mode=, seed=, kernel=, mobility=, pcp=, ...} */
static int l_boot(lua_State *L)
{
	struct emu_config cfg;
	struct boot_call c = { .cfg = &cfg, .err = "" };
	struct lua_machine *m;
	char msg[sizeof(machine.panic_msg)];

	boot_config_from_table(L, 1, &cfg);
	if (machine.gen) {
		/* The running machine may be garbage whose handle was dropped. */
		lua_gc(L, LUA_GCCOLLECT);
		if (machine.gen)
			return luaL_error(L, "kmm.boot: a machine is already running (one per "
					     "process); shut it down first with m:shutdown()");
	}
	m = lua_newuserdatauv(L, sizeof(*m), 0);
	m->gen = 0;
	luaL_setmetatable(L, MACHINE_MT);

	if (catch_panic(do_boot, &c, msg, sizeof(msg))) {
		char again[sizeof(msg)];

		catch_panic(do_emu_shutdown, NULL, again, sizeof(again));
		return luaL_error(L, "kmm.boot: kernel panic: %s", msg);
	}
	if (c.ret)
		return luaL_error(L, "kmm.boot: boot failed: %s",
				  c.err[0] ? c.err : kmm_errno_name(-c.ret));
	machine.gen = ++machine.last_gen;
	machine.panicked = false;
	m->gen = machine.gen;
	for (size_t i = 0; i < NR_BINDINGS; i++) {
		int err = bindings[i]->boot ? bindings[i]->boot() : 0;

		if (err) {
			shutdown_machine();
			return luaL_error(L, "kmm.boot: %s bindings: %s", bindings[i]->name,
					  kmm_errno_name(-err));
		}
	}
	if (kmm_lua_after_boot && catch_panic(do_hook, (void *)&kmm_lua_after_boot, msg,
					      sizeof(msg))) {
		machine.panicked = true;
		snprintf(machine.panic_msg, sizeof(machine.panic_msg), "%s", msg);
		return luaL_error(L, "kmm.boot: kernel panic: %s", msg);
	}
	return 1;
}

/* m:shutdown(): the one method a panicked machine still accepts. */
static int l_shutdown(lua_State *L)
{
	struct lua_machine *m = luaL_checkudata(L, 1, MACHINE_MT);
	const char *panic_msg;

	if (!machine.gen || m->gen != machine.gen)
		return luaL_error(L, "the machine is shut down");
	panic_msg = shutdown_machine();
	if (panic_msg)
		return luaL_error(L, "kernel panic during shutdown: %s", panic_msg);
	return 0;
}

/* __gc and __close: shut down quietly; a panic can only be reported. */
static int l_gc(lua_State *L)
{
	struct lua_machine *m = luaL_checkudata(L, 1, MACHINE_MT);
	const char *panic_msg;

	if (!machine.gen || m->gen != machine.gen)
		return 0;
	panic_msg = shutdown_machine();
	if (panic_msg)
		fprintf(stderr, "kmm: kernel panic during shutdown: %s\n", panic_msg);
	return 0;
}

static int l_tostring(lua_State *L)
{
	struct lua_machine *m = luaL_checkudata(L, 1, MACHINE_MT);
	const struct emu_config *cfg;

	if (!machine.gen || m->gen != machine.gen) {
		lua_pushstring(L, "kmm machine (shut down)");
		return 1;
	}
	cfg = emu_config();
	lua_pushfstring(L, "kmm machine (%I MiB, %d CPUs, %s%s)",
			(lua_Integer)(cfg->ram_bytes >> 20), (int)cfg->cpus,
			cfg->mode == EMU_SMP ? "smp" : "det",
			machine.panicked ? ", panicked" : "");
	return 1;
}

/* ---- Methods on the whole machine ---- */

/* "meminfo, buddyinfo, ..." for error messages. */
static const char *view_names(lua_State *L)
{
	luaL_Buffer b;

	luaL_buffinit(L, &b);
	for (unsigned int i = 0; i < kmm_nr_views; i++) {
		if (i)
			luaL_addstring(&b, ", ");
		luaL_addstring(&b, kmm_views[i].name);
	}
	luaL_pushresult(&b);
	return lua_tostring(L, -1);
}

struct view_call {
	const char *name;
	long arg;
	char *text;
	size_t len;
};

static void do_view(void *arg)
{
	struct view_call *c = arg;

	c->text = view_render(c->name, c->arg, &c->len);
}

/* m:view(name [, pid]) */
static int l_view(lua_State *L)
{
	struct view_call c = { NULL, 0, NULL, 0 };

	kmm_lua_machine(L, 1);
	c.name = luaL_checkstring(L, 2);
	c.arg = (long)luaL_optinteger(L, 3, 0);
	if (!view_exists(c.name))
		return luaL_error(L, "unknown view '%s' (views: %s)", c.name, view_names(L));
	if (view_arg_error(c.name, c.arg))
		return luaL_error(L, "%s", view_arg_error(c.name, c.arg));
	kmm_lua_core(L, do_view, &c);
	lua_pushlstring(L, c.text, c.len);
	free(c.text);
	return 1;
}

struct stat_call {
	const char *name;
	unsigned long value;
	int ret;
};

static void do_stat(void *arg)
{
	struct stat_call *c = arg;

	c->ret = kmm_stat(c->name, &c->value);
}

/* m:stat(name): a vmstat or meminfo counter (meminfo in kB). */
static int l_stat(lua_State *L)
{
	struct stat_call c = { NULL, 0, 0 };

	kmm_lua_machine(L, 1);
	c.name = luaL_checkstring(L, 2);
	kmm_lua_core(L, do_stat, &c);
	if (c.ret)
		return luaL_error(L, "unknown counter '%s' (a name from m:view(\"vmstat\") "
				     "or m:view(\"meminfo\"))", c.name);
	lua_pushinteger(L, (lua_Integer)c.value);
	return 1;
}

static void do_check(void *arg)
{
	kmm_check();
}

/* m:check(): every invariant checker; a broken invariant is a kernel panic. */
static int l_check(lua_State *L)
{
	kmm_lua_machine(L, 1);
	kmm_lua_core(L, do_check, NULL);
	lua_pushboolean(L, 1);
	return 1;
}

static void do_advance(void *arg)
{
	emu_advance_ns(*(uint64_t *)arg);
}

/* m:advance(seconds): virtual time moves on and due work runs. */
static int l_advance(lua_State *L)
{
	double seconds;
	uint64_t ns;

	kmm_lua_machine(L, 1);
	seconds = luaL_checknumber(L, 2);
	luaL_argcheck(L, isfinite(seconds) && seconds >= 0 && seconds <= 1e9, 2,
		      "seconds must be between 0 and 1e9");
	ns = (uint64_t)(seconds * 1e9 + 0.5);
	kmm_lua_core(L, do_advance, &ns);
	return 0;
}

static void do_panic(void *arg)
{
	panic("%s", (const char *)arg);
}

/* m:_panic(message): a deliberate kernel panic, to test the panic path. */
static int l_panic(lua_State *L)
{
	const char *msg;

	kmm_lua_machine(L, 1);
	msg = luaL_optstring(L, 2, "panic requested by the script");
	kmm_lua_core(L, do_panic, (void *)msg);
	return 0;
}

static const luaL_Reg machine_methods[] = {
	{ "view", l_view },
	{ "stat", l_stat },
	{ "check", l_check },
	{ "advance", l_advance },
	{ "shutdown", l_shutdown },
	{ "_panic", l_panic },
	{ NULL, NULL },
};

static const struct kmm_lua_binding machine_binding = {
	.name = "machine",
	.methods = machine_methods,
};

/* ---- The module ---- */

/* kmm.views(): the view names in order, and a table name -> help. */
static int l_views(lua_State *L)
{
	lua_createtable(L, (int)kmm_nr_views, 0);
	lua_createtable(L, 0, (int)kmm_nr_views);
	for (unsigned int i = 0; i < kmm_nr_views; i++) {
		lua_pushstring(L, kmm_views[i].name);
		lua_rawseti(L, -3, (lua_Integer)i + 1);
		lua_pushstring(L, kmm_views[i].help);
		lua_setfield(L, -2, kmm_views[i].name);
	}
	return 2;
}

/* kmm.size(text): a size such as "64M" in bytes. */
static int l_size(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)kmm_lua_checksize(L, 1));
	return 1;
}

static const luaL_Reg module_functions[] = {
	{ "boot", l_boot },
	{ "views", l_views },
	{ "size", l_size },
	{ NULL, NULL },
};

int luaopen_kmm(lua_State *L)
{
	luaL_newmetatable(L, MACHINE_MT);
	lua_newtable(L);
	for (size_t i = 0; i < NR_BINDINGS; i++)
		if (bindings[i]->methods)
			luaL_setfuncs(L, bindings[i]->methods, 0);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, l_gc);
	lua_setfield(L, -2, "__gc");
	lua_pushcfunction(L, l_gc);
	lua_setfield(L, -2, "__close");
	lua_pushcfunction(L, l_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_pop(L, 1);

	for (size_t i = 0; i < NR_BINDINGS; i++)
		if (bindings[i]->open)
			bindings[i]->open(L);

	luaL_newlib(L, module_functions);
	lua_pushinteger(L, (lua_Integer)PAGE_SIZE);
	lua_setfield(L, -2, "PAGE_SIZE");
	lua_pushinteger(L, MAX_ORDER);
	lua_setfield(L, -2, "MAX_ORDER");
	return 1;
}
