/*
 * kmm tour (and kmm with no arguments): the guided tour, a Lua scenario
 * built into the program (scenarios/tour.lua, embedded by embed.cmake) so
 * a new user sees the whole system at work with one command. It charts the
 * run (plot.h) into kmm-tour.svg unless told otherwise.
 */
#include <string.h>

#include "kmm_tool.h"

extern const char kmm_tour_script[];
extern const size_t kmm_tour_script_len;

#define DEFAULT_PLOT "kmm-tour.svg"

void cmd_tour_usage(FILE *f)
{
	fprintf(f, "Usage: kmm tour [--plot FILE.svg | --no-plot]\n"
		   "\n"
		   "The guided tour of the memory manager (also: kmm with no arguments):\n"
		   "the boot memory map and zones, the buddy system under a burst of\n"
		   "allocations, the slab allocator, a process with demand paging, fork\n"
		   "and copy-on-write, a real program exec'd from the host with its pages\n"
		   "from the page cache, reads, deferred writes, writeback and sync, and\n"
		   "the views at the end, with real numbers from the running machine.\n"
		   "Its script is scenarios/tour.lua.\n"
		   "\n"
		   "  %-20s %s\n"
		   "  %-20s %s\n",
		   "--plot FILE.svg", "where to chart memory use (default " DEFAULT_PLOT ")",
		   "--no-plot", "no chart");
}

int cmd_tour(int argc, char **argv)
{
	kmm_plot_path = DEFAULT_PLOT;
	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			cmd_tour_usage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--no-plot")) {
			kmm_plot_path = NULL;
		} else if (!strcmp(argv[i], "--plot") && i + 1 < argc && *argv[i + 1]) {
			kmm_plot_path = argv[++i];
		} else if (!strncmp(argv[i], "--plot=", 7) && argv[i][7]) {
			kmm_plot_path = argv[i] + 7;
		} else if (!strncmp(argv[i], "--plot", 6)) {
			return usage_error("tour", "option --plot needs a value (FILE.svg)");
		} else {
			return usage_error("tour", "unexpected argument '%s' (see kmm tour --help)",
					   argv[i]);
		}
	}
	return run_scenario("=tour.lua", kmm_tour_script, kmm_tour_script_len, 0, NULL);
}
