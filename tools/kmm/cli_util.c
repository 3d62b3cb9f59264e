/*
 * Helpers every command shares (declared in kmm_tool.h). They live apart
 * from main.c so that the commands and the Lua bindings form a library
 * without a main(): the fuzz targets (fuzz/) link that library and drive
 * cmd_replay and the scenario API directly.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kmm_tool.h"

int usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kmm%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

bool is_help(const char *arg)
{
	return !strcmp(arg, "--help") || !strcmp(arg, "-h");
}
