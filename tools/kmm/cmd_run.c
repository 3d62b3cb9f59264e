/*
 * kmm run FILE.lua [ARGS...]: runs a Lua 5.4 scenario with the kmm module
 * preloaded (require "kmm", and the global kmm), ARGS in the arg table as
 * the lua interpreter sets it (arg[0] the script, arg[1..] ARGS) and as the
 * chunk's varargs. An error prints "FILE:LINE: message" and a traceback on
 * stderr and exits 1 (EXIT_PANIC if a kernel panic was behind it). Closing
 * the Lua state shuts down a machine the script left running.
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "kmm_tool.h"
#include "lua_kmm.h"

void cmd_run_usage(FILE *f)
{
	fprintf(f, "Usage: kmm run [--plot FILE.svg] FILE.lua [ARGS...]\n"
		   "\n"
		   "Runs a Lua 5.4 scenario. The module kmm is preloaded (local kmm =\n"
		   "require \"kmm\"; also the global kmm); ARGS are in arg[1..], the\n"
		   "script's name in arg[0]. FILE - reads the script from stdin.\n"
		   "The API is in docs/scenario-api.md.\n"
		   "\n"
		   "  --plot FILE.svg  chart memory use over the scenario's steps (free,\n"
		   "                   kernel, anonymous, page cache, swap; kswapd and OOM\n"
		   "                   markers; free blocks per buddy order), written when\n"
		   "                   the machine shuts down\n"
		   "\n"
		   "Exit status: 0 when the script ends, 1 on a script error (printed as\n"
		   "FILE:LINE: message with a traceback), 2 when the file cannot be read,\n"
		   "3 on a kernel panic the script did not catch.\n");
}

/* The message handler: adds a traceback, as the lua interpreter does. */
static int traceback(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);

	if (!msg) {
		if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
			return 1;
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	}
	luaL_traceback(L, L, msg, 1);
	return 1;
}

static void set_arg_table(lua_State *L, const char *script, int nargs, char **args)
{
	lua_createtable(L, nargs, 2);
	lua_pushliteral(L, "kmm");
	lua_rawseti(L, -2, -2);
	lua_pushliteral(L, "run");
	lua_rawseti(L, -2, -1);
	lua_pushstring(L, script);
	lua_rawseti(L, -2, 0);
	for (int i = 0; i < nargs; i++) {
		lua_pushstring(L, args[i]);
		lua_rawseti(L, -2, i + 1);
	}
	lua_setglobal(L, "arg");
}

/*
 * Runs a scenario: the file script ("-": stdin), or, with chunk, that text
 * under the name script. args are its arguments (arg[1..]). Returns the
 * exit status.
 */
int run_scenario(const char *script, const char *chunk, size_t chunk_len, int nargs,
		 char **args)
{
	lua_State *L;
	int status, ret = 0;

	L = luaL_newstate();
	if (!L) {
		fprintf(stderr, "kmm run: cannot create a Lua state\n");
		return EXIT_FAILURE;
	}
	luaL_openlibs(L);
	luaL_requiref(L, "kmm", luaopen_kmm, 1);
	lua_pop(L, 1);
	set_arg_table(L, script, nargs, args);

	lua_pushcfunction(L, traceback);
	if (chunk)
		status = luaL_loadbuffer(L, chunk, chunk_len, script);
	else   /* "-" is stdin, as for the lua interpreter. */
		status = luaL_loadfile(L, strcmp(script, "-") ? script : NULL);
	if (status == LUA_ERRFILE) {
		fprintf(stderr, "kmm run: %s\n", lua_tostring(L, -1));
		lua_close(L);
		return EXIT_USAGE;
	}
	if (status == LUA_OK) {
		for (int i = 0; i < nargs; i++)
			lua_pushstring(L, args[i]);
		status = lua_pcall(L, nargs, 0, 1);
	}
	if (status != LUA_OK) {
		const char *msg = lua_tostring(L, -1);

		fflush(stdout);
		fprintf(stderr, "%s\n", msg ? msg : "(error object is not a string)");
		ret = panic_happened ? EXIT_PANIC : EXIT_FAILURE;
	}
	fflush(stdout);
	lua_close(L);
	fflush(stdout);
	return ret;
}

int cmd_run(int argc, char **argv)
{
	while (argc >= 2 && !strncmp(argv[1], "--plot", 6)) {
		if (!strncmp(argv[1], "--plot=", 7)) {
			kmm_plot_path = argv[1] + 7;
		} else if (!strcmp(argv[1], "--plot") && argc >= 3) {
			kmm_plot_path = argv[2];
			argv++;
			argc--;
		} else {
			return usage_error("run", "option --plot needs a value (FILE.svg)");
		}
		if (!*kmm_plot_path)
			return usage_error("run", "option --plot needs a value (FILE.svg)");
		argv++;
		argc--;
	}
	if (argc < 2)
		return usage_error("run", "missing script (usage: kmm run FILE.lua [ARGS...])");
	if (is_help(argv[1])) {
		cmd_run_usage(stdout);
		return 0;
	}
	return run_scenario(argv[1], NULL, 0, argc - 2, argv + 2);
}
