/*
 * The kmm program's internal interface: its commands (one file each), the
 * boot parameters shared by the command line and kmm.boot{}, and the panic
 * handler that turns a kernel panic into an exit status or a Lua error.
 *
 * Exit statuses: 0 success, 1 failure (a boot that failed, a script error),
 * 2 usage error (unknown command or option, bad value), 3 kernel panic.
 */
#ifndef KMM_TOOL_H
#define KMM_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <kmm/emu.h>

#define EXIT_USAGE 2
#define EXIT_PANIC 3

/* ---- Commands (main.c dispatches; each returns the exit status) ---- */

int cmd_boot(int argc, char **argv);   /* argv[0] is the command name */
void cmd_boot_usage(FILE *f);
int cmd_run(int argc, char **argv);
void cmd_run_usage(FILE *f);
int cmd_views(int argc, char **argv);
void cmd_views_usage(FILE *f);
int cmd_tour(int argc, char **argv);
void cmd_tour_usage(FILE *f);
/* Runs a Lua scenario: the file script, or chunk named script (cmd_run.c). */
int run_scenario(const char *script, const char *chunk, size_t chunk_len, int nargs,
		 char **args);
int cmd_record(int argc, char **argv);
void cmd_record_usage(FILE *f);
int cmd_replay(int argc, char **argv);
void cmd_replay_usage(FILE *f);

/* kmm run --plot FILE: chart every machine the script boots (lua_plot.c). */
extern const char *kmm_plot_path;

/* Prints "kmm CMD: message" on stderr, one line; returns EXIT_USAGE. */
int usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Is arg "--help" or "-h"? */
bool is_help(const char *arg);

/* ---- Views (views.c) ---- */

bool view_exists(const char *name);
/*
 * Renders a view of the running machine into a malloc'd, NUL-terminated
 * buffer grown until the text fits; *len is its length. NULL for an
 * unknown view. Exits on host memory exhaustion.
 */
char *view_render(const char *name, long arg, size_t *len);
/*
 * NULL when view name can be shown for arg; else why not (a per-task
 * view needs the pid of a task), as a message for the user.
 */
const char *view_arg_error(const char *name, long arg);

/* ---- Boot parameters (boot_params.c) ----
 *
 * One table describes every machine parameter once: its kmm.boot{} field,
 * its command-line option (if it has one), its help, and how a value given
 * as text is checked and stored in a struct emu_config. Lua values are
 * turned into text first (numbers, booleans), so both front ends accept and
 * reject exactly the same values with the same messages.
 */
struct boot_param {
	const char *field;       /* kmm.boot{} field: "ram" */
	const char *option;      /* command-line option: "--ram"; NULL: Lua only */
	const char *metavar;     /* "SIZE"; NULL: the option is a flag */
	const char *flag_value;  /* the value a flag option sets ("false") */
	const char *help;
	/* Checks and stores text; on error writes a reason into err. */
	int (*set)(struct emu_config *cfg, const char *text, char *err, size_t len);
};

extern const struct boot_param boot_params[];
extern const unsigned int nr_boot_params;

const struct boot_param *boot_param_by_field(const char *field);
const struct boot_param *boot_param_by_option(const char *option);

/* Prints the command-line options of the table, for --help. */
void boot_params_usage(FILE *f);

/* ---- Kernel panics (panic.c) ---- */

/*
 * Installs the handler used outside catch_panic: the emu has printed the
 * message on stderr; flush stdout and exit with EXIT_PANIC, so a panic
 * never hangs or aborts with a core dump.
 */
void panic_handler_install(void);

/*
 * Runs fn(arg), core code that may panic. Returns 0; or, if the kernel
 * panicked inside on this thread, -1 with the panic message in msg. Not
 * nested. After a panic the machine's state cannot be trusted: the caller
 * must stop using it (shut it down without touching the core).
 */
int catch_panic(void (*fn)(void *arg), void *arg, char *msg, size_t len);

/* Set once any panic was caught: cmd_run exits with EXIT_PANIC on error. */
extern bool panic_happened;

#endif
