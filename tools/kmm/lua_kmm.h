/*
 * The Lua module `kmm` (Lua 5.4): kmm.boot{...} returns the machine, and
 * the machine's methods come from one bindings file per subsystem
 * (lua_machine.c: view, stat, check, advance, shutdown; lua_page.c: the page
 * allocator; later lua_slab.c, tasks, files). The scenario API table of
 * DESIGN.md is the contract these files implement.
 *
 * Adding a bindings file: define a `const struct kmm_lua_binding
 * kmm_lua_NAME_binding` in it and add one line X(kmm_lua_NAME_binding) to
 * KMM_LUA_BINDINGS below (the build picks up every .c file of tools/kmm).
 *
 * Rules every binding follows, so that no script can crash the host:
 *  - check every argument at entry and raise a Lua error for a misuse
 *    (kmm_lua_machine first: it refuses a machine that is shut down);
 *  - call the core only through kmm_lua_core, which turns a kernel panic
 *    into a Lua error;
 *  - keep track of what the script holds (pages, objects) and release it in
 *    the shutdown hook, so a machine always goes down clean;
 *  - objects given to the script carry the machine's generation
 *    (kmm_lua_generation) and are refused once that machine is gone;
 *  - a failed system call returns nil, "ENAME" (kmm_lua_fail).
 */
#ifndef KMM_LUA_KMM_H
#define KMM_LUA_KMM_H

#include <lauxlib.h>
#include <lua.h>

#include <kmm/gfp.h>
#include <kmm/types.h>

struct kmm_lua_binding {
	const char *name;
	/* Methods of the machine (m:name(...)); argument 1 is the machine. */
	const luaL_Reg *methods;
	/* At require "kmm": create the metatables of this file's objects. */
	void (*open)(lua_State *L);
	/* After a machine booted: set up per-machine state. 0 or -errno. */
	int (*boot)(void);
	/*
	 * Before the machine goes down: release what the script still holds
	 * (core calls are allowed, under kmm_lua_core's protection), unless
	 * panicked: then free only host memory, never touch the core.
	 */
	void (*shutdown)(bool panicked);
};

#define KMM_LUA_BINDINGS(X) \
	X(kmm_lua_page_binding) \
	X(kmm_lua_slab_binding) \
	X(kmm_lua_task_binding) \
	X(kmm_lua_kma_binding) \
	X(kmm_lua_swap_binding) \
	X(kmm_lua_file_binding) \
	X(kmm_lua_plot_binding) \
	/* one line per bindings file, above this one */

#define KMM_LUA_DECLARE(b) extern const struct kmm_lua_binding b;
KMM_LUA_BINDINGS(KMM_LUA_DECLARE)
#undef KMM_LUA_DECLARE

/*
 * Hooks of an embedder that watches every machine a script boots (the Lua
 * fuzz target, fuzz/fuzz_lua.c, checks there that all frames come back):
 * after_boot runs once a machine is up, before_shutdown once every binding
 * has released what the script held and before the machine goes (never
 * after a panic). Both run inside catch_panic. NULL: none.
 */
extern void (*kmm_lua_after_boot)(void);
extern void (*kmm_lua_before_shutdown)(void);

/* The module's entry point (lua_machine.c), for luaL_requiref. */
int luaopen_kmm(lua_State *L);

/*
 * Checks that argument idx is a machine that is running (not shut down,
 * not panicked); raises a Lua error otherwise.
 */
void kmm_lua_machine(lua_State *L, int idx);

/* The generation of the running machine (0: none); one per boot. */
unsigned long kmm_lua_generation(void);

/*
 * Runs fn(arg), a call into the core. If the kernel panics, the machine is
 * marked dead and a Lua error "kernel panic: MSG" is raised.
 */
void kmm_lua_core(lua_State *L, void (*fn)(void *arg), void *arg);

/* Pushes nil and the errno name of err (negative or positive); returns 2. */
int kmm_lua_fail(lua_State *L, int err);

/* A size argument: a non-negative integer or a string like "64M". */
uint64_t kmm_lua_checksize(lua_State *L, int idx);

/* A GFP argument parsed by gfp_parse; def when absent or nil. */
gfp_t kmm_lua_optgfp(lua_State *L, int idx, gfp_t def);

#endif
