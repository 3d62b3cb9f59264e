/*
 * The regression runner: without libFuzzer, a fuzz target links this main(),
 * which feeds it every file named on the command line, or every file of a
 * directory named there (in name order, so a run is repeatable). This is how
 * the corpora of fuzz/corpus/ run in `make test` under ASan+UBSan, and how
 * a crash file found by a fuzzer is replayed with gcc alone.
 *
 * A corpus that holds no file fails: a test that feeds nothing proves nothing.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Weak: a target without an initializer links too. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static unsigned long inputs;

static void run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		fprintf(stderr, "runner: cannot open %s\n", path);
		exit(EXIT_FAILURE);
	}
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			buf = realloc(buf, cap);
			if (!buf) {
				fprintf(stderr, "runner: out of memory\n");
				exit(EXIT_FAILURE);
			}
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n);
	fclose(f);
	fprintf(stderr, "runner: %s (%zu bytes)\n", path, len);
	/* A copy of exactly len bytes: ASan then sees a read past the input. */
	{
		unsigned char *exact = malloc(len ? len : 1);

		if (!exact)
			exit(EXIT_FAILURE);
		memcpy(exact, buf, len);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	free(buf);
	inputs++;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void run_path(const char *path)
{
	struct stat st;
	struct dirent **names;
	int n;

	if (stat(path, &st)) {
		fprintf(stderr, "runner: %s: no such file or directory\n", path);
		exit(EXIT_FAILURE);
	}
	if (!S_ISDIR(st.st_mode)) {
		run_file(path);
		return;
	}
	n = scandir(path, &names, NULL, by_name);
	if (n < 0) {
		fprintf(stderr, "runner: cannot read the directory %s\n", path);
		exit(EXIT_FAILURE);
	}
	for (int i = 0; i < n; i++) {
		char child[4096];

		snprintf(child, sizeof(child), "%s/%s", path, names[i]->d_name);
		if (names[i]->d_name[0] != '.' && !stat(child, &st) && S_ISREG(st.st_mode))
			run_file(child);
		free(names[i]);
	}
	free(names);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
		return EXIT_FAILURE;
	}
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++)
		run_path(argv[i]);
	if (!inputs) {
		fprintf(stderr, "runner: no input files\n");
		return EXIT_FAILURE;
	}
	fprintf(stderr, "runner: %lu inputs, no finding\n", inputs);
	return 0;
}
