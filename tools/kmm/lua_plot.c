/*
 * Lua bindings of the memory-use chart (plot.h): m:plot_start() begins
 * recording (kmm run --plot FILE starts it at every boot and writes FILE
 * when the machine shuts down), m:plot_recording() tells, m:plot_mark(label) adds a marker (the tour
 * marks its syncs), m:plot(path [, title]) writes the chart now and returns
 * the number of samples. A sample is taken after every call into the
 * machine (kmm_lua_core) while recording.
 */
#include <kmm/emu.h>

#include "kmm_tool.h"
#include "lua_kmm.h"
#include "plot.h"

const char *kmm_plot_path;

static int l_plot_start(lua_State *L)
{
	kmm_lua_machine(L, 1);
	plot_start(emu_config()->ram_bytes);
	return 0;
}

static int l_plot_recording(lua_State *L)
{
	kmm_lua_machine(L, 1);
	lua_pushboolean(L, plot_recording());
	return 1;
}

static int l_plot_mark(lua_State *L)
{
	const char *label;

	kmm_lua_machine(L, 1);
	label = luaL_checkstring(L, 2);
	if (!plot_recording())
		return luaL_error(L, "m:plot_mark: not recording (m:plot_start() first, or "
				     "kmm run --plot FILE)");
	plot_mark(label);
	return 0;
}

static int l_plot(lua_State *L)
{
	const char *path, *title;
	char err[512];

	kmm_lua_machine(L, 1);
	path = luaL_checkstring(L, 2);
	title = luaL_optstring(L, 3, NULL);
	if (!plot_recording())
		return luaL_error(L, "m:plot: not recording (m:plot_start() first, or kmm run "
				     "--plot FILE)");
	plot_sample();
	if (plot_write_svg(path, title, err, sizeof(err))) {
		lua_pushnil(L);
		lua_pushstring(L, err);
		return 2;
	}
	lua_pushinteger(L, plot_nr_samples());
	return 1;
}

static int plot_boot(void)
{
	if (kmm_plot_path)
		plot_start(emu_config()->ram_bytes);
	return 0;
}

/* Runs first at shutdown (the last binding): the chart ends with the
   machine as the script left it. */
static void plot_shutdown(bool panicked)
{
	char err[512];

	if (!plot_recording())
		return;
	if (kmm_plot_path) {
		if (!panicked)
			plot_sample();
		if (plot_write_svg(kmm_plot_path, NULL, err, sizeof(err)))
			fprintf(stderr, "kmm: plot: %s\n", err);
		else
			printf("plot: wrote %s (%u samples, %u markers)\n", kmm_plot_path,
			       plot_nr_samples(), plot_nr_marks());
	}
	plot_stop();
}

static const luaL_Reg plot_methods[] = {
	{ "plot_start", l_plot_start },
	{ "plot_recording", l_plot_recording },
	{ "plot_mark", l_plot_mark },
	{ "plot", l_plot },
	{ NULL, NULL },
};

const struct kmm_lua_binding kmm_lua_plot_binding = {
	.name = "plot",
	.methods = plot_methods,
	.boot = plot_boot,
	.shutdown = plot_shutdown,
};
