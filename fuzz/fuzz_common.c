/*
 * Helpers of the fuzz targets (fuzz.h): host-side setup and temporary
 * files, and the settled free-frame count that the leak checks compare.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kmm/emu.h>
#include <kmm/page_alloc.h>
#include <kmm/shrinker.h>

#include "fuzz.h"

#define MAX_TMPDIRS 4

static char tmpdirs[MAX_TMPDIRS][512];
static unsigned int nr_tmpdirs;
/* The console's text: kept so that a finding can show the last lines. */
static char console[1 << 16];
/* KMM_FUZZ_VERBOSE: the console and stdout stay on the terminal. */
bool verbose;

void fuzz_fail(const char *fmt, ...)
{
	va_list ap;
	size_t n = emu_console_captured();

	if (n) {
		if (n >= sizeof(console))
			n = sizeof(console) - 1;
		console[n] = '\0';
		fprintf(stderr, "---- console ----\n%s\n-----------------\n", console);
	}
	fprintf(stderr, "fuzz: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static void panic_aborts(const char *message)
{
	fuzz_fail("kernel panic: %s", message);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (ftw->level > 0)
		remove(path);
	return 0;
}

void fuzz_empty_dir(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void remove_tmpdirs(void)
{
	for (unsigned int i = 0; i < nr_tmpdirs; i++) {
		fuzz_empty_dir(tmpdirs[i]);
		rmdir(tmpdirs[i]);
	}
}

const char *fuzz_tmpdir(const char *name)
{
	const char *base = getenv("TMPDIR");
	char *d;

	if (nr_tmpdirs == MAX_TMPDIRS)
		fuzz_fail("too many temporary directories");
	d = tmpdirs[nr_tmpdirs];
	snprintf(d, sizeof(tmpdirs[0]), "%s/kmm-fuzz-%s-XXXXXX", base && *base ? base : "/tmp",
		 name);
	if (!mkdtemp(d))
		fuzz_fail("mkdtemp %s: %m", d);
	if (!nr_tmpdirs++)
		atexit(remove_tmpdirs);
	return d;
}

void fuzz_write_file(const char *path, const void *data, size_t size, unsigned int mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd < 0)
		fuzz_fail("open %s: %m", path);
	for (size_t done = 0; done < size;) {
		ssize_t n = write(fd, (const char *)data + done, size - done);

		if (n <= 0)
			fuzz_fail("write %s: %m", path);
		done += (size_t)n;
	}
	if (fchmod(fd, mode))
		fuzz_fail("chmod %s: %m", path);
	close(fd);
}

void fuzz_setup(void)
{
	static int done;

	if (done++)
		return;
	emu_set_panic_handler(panic_aborts);
	verbose = getenv("KMM_FUZZ_VERBOSE") != NULL;
	if (!verbose) {
		emu_console_capture(console, sizeof(console));
		int fd = open("/dev/null", O_WRONLY);

		if (fd >= 0) {
			fflush(stdout);
			dup2(fd, STDOUT_FILENO);
			close(fd);
		}
	}
}

void fuzz_input_begin(void)
{
	fuzz_setup();
	if (!verbose)
		emu_console_capture(console, sizeof(console));
}

unsigned long fuzz_settled_free(void)
{
	shrink_slab(GFP_KERNEL, 0);
	drain_all_pages();
	return nr_free_pages();
}
