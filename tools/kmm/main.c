/*
 * kmm: boots the emulated machine with the kmm core and lets people look at
 * it (views), check it (invariant checkers) and drive it (Lua scenarios).
 * This file only dispatches to the commands, one file each (cmd_*.c).
 * Without a command, kmm runs the tour (cmd_tour.c).
 */
#include <stdio.h>
#include <string.h>

#include "kmm_tool.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	void (*usage)(FILE *f);
	const char *summary;
};

static const struct command commands[] = {
	{ "tour", cmd_tour, cmd_tour_usage, "the guided tour (what kmm alone runs)" },
	{ "boot", cmd_boot, cmd_boot_usage,
	  "boot a machine, show its views, run the invariant checkers" },
	{ "run", cmd_run, cmd_run_usage, "run a Lua scenario script" },
	{ "views", cmd_views, cmd_views_usage, "list the views (/proc-style files)" },
	{ "record", cmd_record, cmd_record_usage,
	  "record a real program's memory references (valgrind lackey)" },
	{ "replay", cmd_replay, cmd_replay_usage, "replay a memory-reference trace through a task" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: kmm [COMMAND [OPTIONS...]]\n"
		   "\n"
		   "kmm boots an emulated machine running the kmm memory manager.\n"
		   "Without a command it runs the tour (kmm tour): the memory manager at\n"
		   "work on the default machine (256 MiB, 2 CPUs, deterministic), charted\n"
		   "into kmm-tour.svg.\n"
		   "\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "  %-8s %s\n", "help", "help of a command (also: kmm COMMAND --help)");
	fprintf(f, "\n"
		   "Exit status: 0 success, 1 failure (boot failed, script error),\n"
		   "2 usage error, 3 kernel panic.\n");
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static int help(int argc, char **argv)
{
	const struct command *c;

	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	c = find_command(argv[1]);
	if (!c)
		return usage_error("help", "unknown command '%s' (see kmm --help)", argv[1]);
	c->usage(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	static char tour_name[] = "tour";
	static char *default_argv[] = { tour_name, NULL };
	const struct command *c;

	panic_handler_install();
	if (argc < 2)
		return cmd_tour(1, default_argv);
	if (is_help(argv[1])) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "help"))
		return help(argc - 1, argv + 1);
	c = find_command(argv[1]);
	if (!c) {
		if (argv[1][0] == '-')
			return usage_error(NULL, "unknown option '%s' (see kmm --help)", argv[1]);
		return usage_error(NULL, "unknown command '%s' (see kmm --help)", argv[1]);
	}
	return c->run(argc - 1, argv + 1);
}
