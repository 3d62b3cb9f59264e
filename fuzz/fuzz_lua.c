/*
 * Fuzz target: the Lua scenario API (tools/kmm/lua_*.c, docs/scenario-api.md).
 * The input is a Lua chunk run against a booted machine `m` (global, with the
 * module as global `kmm`): every method of the machine, its tasks, pages,
 * caches, files and swap is reachable, with any arguments. The contract of
 * lua_kmm.h is that nothing a script does can crash the host: misuse is a
 * Lua error, a failed call nil and an errno name.
 *
 * Lua errors are expected and ignored. Findings: a crash or sanitizer report
 * (a host leak too: LeakSanitizer), a kernel panic (the panic handler
 * aborts, so even a panic the bindings would turn into a Lua error counts;
 * m:_panic, the one deliberate panic, is removed), and a frame leak: when a
 * machine shuts down, after every binding released what the script held
 * and the caches were written and dropped, every frame must be free again
 * (kmm_lua_before_shutdown).
 *
 * Bounds, so that one input ends quickly and touches nothing on the host
 * outside a temporary root: only the base, string, table, math and utf8
 * libraries (no io, os, debug, load of binary chunks), a memory cap, a cap on
 * Lua instructions, machines of at most 64 MiB in deterministic mode on the
 * temporary root, m:advance of at most a minute, swap areas of at most 64 MiB.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <kmm/fs.h>
#include <kmm/kmm.h>
#include <kmm/swap.h>

#include "fuzz.h"
#include "kmm_tool.h"
#include "lua_kmm.h"

#define LUA_MEMORY_CAP (64u << 20)
#define LUA_MAX_STEPS 200000   /* VM instructions, counted by thousands */

static const char *root;
static size_t lua_bytes;
static unsigned long steps;
static unsigned long free_at_boot;

/* Lua's allocator with a cap: past it, allocation fails (a Lua memory error). */
static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	if (!ptr)
		osize = 0;
	if (!nsize) {
		free(ptr);
		lua_bytes -= osize;
		return NULL;
	}
	if (nsize > osize && lua_bytes + (nsize - osize) > LUA_MEMORY_CAP)
		return NULL;
	ptr = realloc(ptr, nsize);
	if (ptr)
		lua_bytes += nsize - osize;
	return ptr;
}

static void step_hook(lua_State *L, lua_Debug *ar)
{
	if (++steps > LUA_MAX_STEPS / 1000)
		luaL_error(L, "fuzz: step limit");
}

static void after_boot(void)
{
	free_at_boot = fuzz_settled_free();
}

/* Every binding has released what the script held: all frames are back
   once dirty pages are written, the clean cache dropped and the swap areas
   a script may leave on (they go with the machine) switched off. */
static void before_shutdown(void)
{
	unsigned long now;

	kmm_check();
	swapoff_all();
	sys_sync();
	drop_caches();
	now = fuzz_settled_free();
	if (now != free_at_boot)
		fuzz_fail("leak: %lu frames free after boot, %lu at shutdown", free_at_boot, now);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	root = fuzz_tmpdir("lua");
	kmm_lua_after_boot = after_boot;
	kmm_lua_before_shutdown = before_shutdown;
	return 0;
}

/* Run before the input, without the step limit: the sandbox and the machine. */
static const char prelude[] =
	"local root = ...\n"
	"local real_boot, size = kmm.boot, kmm.size\n"
	"local MAX = 64 * 1024 * 1024\n"
	"kmm.boot = function(t)\n"
	"  if type(t) ~= 'table' then return real_boot(t) end\n"
	"  local c = {}\n"
	"  for k, v in pairs(t) do c[k] = v end\n"
	"  local ok, bytes = pcall(size, c.ram or '256M')\n"
	"  if ok and bytes > MAX then c.ram = MAX end\n"
	"  local n = tonumber(c.cpus)\n"
	"  if n and n > 4 then c.cpus = 4 end\n"
	"  c.mode, c.root, c.disk, c.quiet = 'det', root, nil, true\n"
	"  return real_boot(c)\n"
	"end\n"
	"m = kmm.boot{ram = '32M', cpus = 2, seed = 1, rw = true}\n"
	"local methods = getmetatable(m).__index\n"
	"methods._panic = nil\n"
	"local advance, swapon = methods.advance, methods.swapon\n"
	"methods.advance = function(self, s, ...)\n"
	"  if type(s) == 'number' and s > 60 then s = 60 end\n"
	"  return advance(self, s, ...)\n"
	"end\n"
	"methods.swapon = function(self, path, sz, ...)\n"
	"  local ok, bytes = pcall(size, sz)\n"
	"  if ok and bytes > MAX then sz = MAX end\n"
	"  return swapon(self, path, sz, ...)\n"
	"end\n"
	"load, loadfile, dofile = nil, nil, nil\n";

/* After the input: the invariants of whatever machine is still up. */
static const char epilogue[] =
	"if m and pcall(tostring, m) and not tostring(m):find('shut down') then\n"
	"  pcall(m.check, m)\n"
	"end\n";

static void open_lib(lua_State *L, const char *name, lua_CFunction open)
{
	luaL_requiref(L, name, open, 1);
	lua_pop(L, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lua_State *L;

	fuzz_input_begin();
	fuzz_empty_dir(root);
	lua_bytes = 0;
	L = lua_newstate(capped_alloc, NULL);
	if (!L)
		fuzz_fail("cannot create a Lua state");
	open_lib(L, "_G", luaopen_base);
	open_lib(L, LUA_STRLIBNAME, luaopen_string);
	open_lib(L, LUA_TABLIBNAME, luaopen_table);
	open_lib(L, LUA_MATHLIBNAME, luaopen_math);
	open_lib(L, LUA_UTF8LIBNAME, luaopen_utf8);
	open_lib(L, "kmm", luaopen_kmm);

	if (luaL_loadbufferx(L, prelude, sizeof(prelude) - 1, "=prelude", "t") != LUA_OK)
		fuzz_fail("prelude: %s", lua_tostring(L, -1));
	lua_pushstring(L, root);
	if (lua_pcall(L, 1, 0, 0) != LUA_OK)
		fuzz_fail("prelude: %s", lua_tostring(L, -1));

	/* Text only: Lua does not check binary chunks, which can crash it. */
	if (luaL_loadbufferx(L, (const char *)data, size, "=fuzz", "t") == LUA_OK) {
		steps = 0;
		lua_sethook(L, step_hook, LUA_MASKCOUNT, 1000);
		if (lua_pcall(L, 0, 0, 0) != LUA_OK && verbose)
			fprintf(stderr, "lua error: %s\n", lua_tostring(L, -1));
		lua_sethook(L, NULL, 0, 0);
	} else if (verbose) {
		fprintf(stderr, "lua syntax: %s\n", lua_tostring(L, -1));
	}
	lua_settop(L, 0);
	if (luaL_loadbufferx(L, epilogue, sizeof(epilogue) - 1, "=epilogue", "t") != LUA_OK ||
	    lua_pcall(L, 0, 0, 0) != LUA_OK)
		fuzz_fail("epilogue: %s", lua_tostring(L, -1));
	/* Collects every machine handle: the machine shuts down, checked. */
	lua_close(L);
	if (emu_booted())
		fuzz_fail("a machine is still up after the Lua state closed");
	return 0;
}
