/*
 * Views for the command line and the bindings: rendering one into a buffer
 * that grows until the text fits (the core's seq_buf counts what did not),
 * and kmm views, the list of names with their help (from kmm_views[]).
 */
#include <stdlib.h>
#include <string.h>

#include <kmm/kmm.h>
#include <kmm/mm.h>

#include "kmm_tool.h"

bool view_exists(const char *name)
{
	for (unsigned int i = 0; i < kmm_nr_views; i++)
		if (!strcmp(kmm_views[i].name, name))
			return true;
	return false;
}

const char *view_arg_error(const char *name, long arg)
{
	static char msg[160];

	if (!kmm_view_per_task(name))
		return NULL;
	if (arg <= 0) {
		snprintf(msg, sizeof(msg), "view '%s' is a task's: give a pid (m:view(\"%s\", t.pid))",
			 name, name);
		return msg;
	}
	if (!task_find((int)arg)) {
		snprintf(msg, sizeof(msg), "view '%s': no task with pid %ld", name, arg);
		return msg;
	}
	return NULL;
}

char *view_render(const char *name, long arg, size_t *len)
{
	size_t size = 16384;

	if (!view_exists(name))
		return NULL;
	for (;;) {
		char *text = malloc(size);
		struct seq_buf s;

		if (!text) {
			fprintf(stderr, "kmm: out of host memory rendering view %s\n", name);
			exit(EXIT_FAILURE);
		}
		seq_buf_init(&s, text, size);
		kmm_view_show(name, arg, &s);
		if (!seq_buf_overflowed(&s)) {
			*len = s.len;
			return text;
		}
		free(text);
		size = s.len + 1 > size * 2 ? s.len + 1 : size * 2;
	}
}

void cmd_views_usage(FILE *f)
{
	fprintf(f, "Usage: kmm views\n"
		   "\n"
		   "Lists the views of a machine: /proc-style files in Linux's formats,\n"
		   "shown by kmm boot --view NAME and by m:view(NAME) in scenarios.\n");
}

int cmd_views(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			cmd_views_usage(stdout);
			return 0;
		}
		return usage_error("views", "unexpected argument '%s' (see kmm views --help)",
				   argv[i]);
	}
	for (unsigned int i = 0; i < kmm_nr_views; i++)
		printf("%-14s %s\n", kmm_views[i].name, kmm_views[i].help);
	return 0;
}
