/*
 * kmm boot [OPTIONS]: boots one machine, prints the views asked for (each
 * under a short header when there are several; a single view is printed
 * bare so that its output is exactly the file, for parsers), optionally
 * runs every invariant checker, and shuts the machine down.
 */
#include <stdlib.h>
#include <string.h>

#include <kmm/kmm.h>

#include "kmm_tool.h"

#define MAX_VIEWS 64

static const char *const default_views[] = {
	"meminfo", "buddyinfo", "pagetypeinfo", "zoneinfo", "vmstat",
};

void cmd_boot_usage(FILE *f)
{
	fprintf(f, "Usage: kmm boot [OPTIONS...]\n"
		   "\n"
		   "Boots a machine, prints its boot log and views, and shuts it down.\n"
		   "\n"
		   "Machine:\n");
	boot_params_usage(f);
	fprintf(f, "\n"
		   "Output:\n"
		   "  %-26s %s\n"
		   "  %-26s %s\n"
		   "  %-26s %s\n"
		   "\n"
		   "Sizes take a suffix K, M or G (\"64M\"); options also take the form\n"
		   "--option=VALUE. Without --view, the views are meminfo, buddyinfo,\n"
		   "pagetypeinfo, zoneinfo and vmstat; kmm views lists them all.\n",
		   "--view NAME", "print a view (repeatable; default: the five above)",
		   "--check", "run every invariant checker after the views",
		   "-h, --help", "this help");
}

struct boot_args {
	struct emu_config cfg;
	const char *views[MAX_VIEWS];
	unsigned int nr_views;
	bool check;
};

/* Parses one option; *i moves past its value. Returns 0 or an exit status. */
static int parse_option(struct boot_args *a, int argc, char **argv, int *i)
{
	char name[64];
	const char *arg = argv[*i], *eq = strchr(arg, '='), *value = NULL;
	const struct boot_param *p;
	char err[256];

	if (eq) {
		snprintf(name, sizeof(name), "%.*s", (int)(eq - arg), arg);
		value = eq + 1;
	} else {
		snprintf(name, sizeof(name), "%s", arg);
	}

	if (!strcmp(name, "--check")) {
		if (value)
			return usage_error("boot", "option --check takes no value");
		a->check = true;
		return 0;
	}
	p = boot_param_by_option(name);
	if (!p && strcmp(name, "--view"))
		return usage_error("boot", "unknown option '%s' (see kmm boot --help)", name);
	if (p && !p->metavar) {
		if (value)
			return usage_error("boot", "option %s takes no value", name);
		value = p->flag_value;
	} else if (!value) {
		if (*i + 1 >= argc)
			return usage_error("boot", "option %s needs a value (%s)", name,
					   p ? p->metavar : "NAME");
		value = argv[++*i];
	}

	if (!p) {
		if (!view_exists(value))
			return usage_error("boot", "unknown view '%s' (see kmm views)", value);
		if (kmm_view_per_task(value))
			return usage_error("boot", "view '%s' is a task's, and a machine booted by "
					   "kmm boot runs no task: use m:view(\"%s\", t.pid) in a "
					   "scenario (kmm run)", value, value);
		if (a->nr_views == MAX_VIEWS)
			return usage_error("boot", "more than %d views", MAX_VIEWS);
		a->views[a->nr_views++] = value;
		return 0;
	}
	if (p->set(&a->cfg, value, err, sizeof(err)))
		return usage_error("boot", "%s: %s", name, err);
	return 0;
}

static void show_views(const struct boot_args *a)
{
	bool headers = a->nr_views > 1;

	for (unsigned int i = 0; i < a->nr_views; i++) {
		size_t len;
		char *text = view_render(a->views[i], 0, &len);

		if (i > 0 || !a->cfg.mm.quiet)
			putchar('\n');
		if (headers)
			printf("== %s ==\n", a->views[i]);
		fwrite(text, 1, len, stdout);
		free(text);
	}
}

int cmd_boot(int argc, char **argv)
{
	struct boot_args a = { .nr_views = 0 };
	char err[256] = "";
	int ret;

	emu_config_default(&a.cfg);
	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			cmd_boot_usage(stdout);
			return 0;
		}
		if (strncmp(argv[i], "--", 2))
			return usage_error("boot", "unexpected argument '%s' (see kmm boot --help)",
					   argv[i]);
		ret = parse_option(&a, argc, argv, &i);
		if (ret)
			return ret;
	}
	if (!a.nr_views) {
		for (unsigned int i = 0; i < sizeof(default_views) / sizeof(default_views[0]); i++)
			a.views[a.nr_views++] = default_views[i];
	}

	ret = emu_boot(&a.cfg, err, sizeof(err));
	if (ret) {
		fflush(stdout);
		fprintf(stderr, "kmm boot: boot failed: %s\n", err[0] ? err : "error");
		return EXIT_FAILURE;
	}
	fflush(stdout);
	show_views(&a);
	if (a.check) {
		kmm_check();
		if (!a.cfg.mm.quiet)
			printf("\ncheck: every invariant holds\n");
	}
	fflush(stdout);
	emu_shutdown();
	return 0;
}
