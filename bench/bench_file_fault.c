/*
 * File-mapping fault benchmark (fault.file.*), against the host kernel
 * doing the same to a host process in the same run:
 *
 *   fault.file.read   a read fault on a private mapping of a file whose
 *                     pages are all in the page cache: kmm emu_load of one
 *                     byte per page of a fresh mapping vs the host reading
 *                     a fresh mmap of the same host file (already in the
 *                     host's page cache), per page. Two peers: "host" with
 *                     MADV_RANDOM, which turns off Linux's fault-around so
 *                     that each page is one fault as in kmm, and
 *                     "host-faultaround" with the default (16 pages mapped
 *                     per fault), what a program gets.
 *
 * Medians of repetitions over a batch of pages; mapping and unmapping are
 * outside the timed part on both sides.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <kmm/emu.h>
#include <kmm/fs.h>
#include <kmm/mm.h>
#include <kmm/mman.h>

#include "bench.h"

#define PG 4096UL
#define BATCH 4096UL   /* pages: a 16 MiB file */

static char root[256], host_file[512];

static void die(const char *what)
{
	fprintf(stderr, "bench_file_fault: %s\n", what);
	exit(1);
}

static void make_file(void)
{
	char *buf = malloc(PG);
	FILE *f;

	snprintf(root, sizeof(root), "/tmp/kmm-bench-file-XXXXXX");
	if (!buf || !mkdtemp(root))
		die("temporary directory");
	snprintf(host_file, sizeof(host_file), "%s/data", root);
	f = fopen(host_file, "wb");
	if (!f)
		die("creating the file");
	for (unsigned long i = 0; i < BATCH; i++) {
		memset(buf, (int)i, PG);
		if (fwrite(buf, 1, PG, f) != PG)
			die("writing the file");
	}
	fclose(f);
	free(buf);
}

static void boot(void)
{
	struct emu_config cfg;
	char err[256] = "";

	emu_config_default(&cfg);
	cfg.ram_bytes = 256UL << 20;
	cfg.cpus = 1;
	cfg.mode = EMU_DET;
	cfg.mm.quiet = true;
	snprintf(cfg.root, sizeof(cfg.root), "%s", root);
	if (emu_boot(&cfg, err, sizeof(err))) {
		fprintf(stderr, "bench_file_fault: boot failed: %s\n", err);
		exit(1);
	}
}

static double kmm_file_read(void)
{
	double samples[64];
	int reps = bench_reps();
	struct task *t;
	long fd, a;
	uint64_t v;

	if (task_spawn("bench", &t))
		die("task_spawn");
	fd = sys_open(t, "/data", KMM_O_RDONLY, 0);
	if (fd < 0)
		die("open");
	/* Bring every page into the cache first. */
	a = sys_mmap(t, 0, BATCH * PG, KMM_PROT_READ, KMM_MAP_PRIVATE | KMM_MAP_POPULATE,
		     (int)fd, 0);
	if (a < 0)
		die("mmap");
	sys_munmap(t, (uintptr_t)a, BATCH * PG);
	for (int r = 0; r < reps + 1; r++) {
		uint64_t t0;

		a = sys_mmap(t, 0, BATCH * PG, KMM_PROT_READ, KMM_MAP_PRIVATE, (int)fd, 0);
		if (a < 0)
			die("mmap");
		t0 = bench_now_ns();
		for (unsigned long i = 0; i < BATCH; i++)
			if (emu_load(t, (uint64_t)a + i * PG, 1, &v) || v != (i & 0xff))
				die("load");
		if (r)
			samples[r - 1] = (double)(bench_now_ns() - t0) / BATCH;
		sys_munmap(t, (uintptr_t)a, BATCH * PG);
	}
	if (t->maj_flt > BATCH)
		die("the page cache did not keep the file");
	task_exit(t, 0);
	task_release(t);
	return bench_statistic(samples, reps);
}

static double host_file_read(bool fault_around)
{
	double samples[64];
	int reps = bench_reps();
	volatile char sink = 0;
	int fd = open(host_file, O_RDONLY);
	char *buf = malloc(PG);

	if (fd < 0 || !buf)
		die("host open");
	for (unsigned long i = 0; i < BATCH; i++)   /* into the host's page cache */
		if (pread(fd, buf, PG, (off_t)(i * PG)) != (ssize_t)PG)
			die("host read");
	free(buf);
	for (int r = 0; r < reps + 1; r++) {
		char *p = mmap(NULL, BATCH * PG, PROT_READ, MAP_PRIVATE, fd, 0);
		uint64_t t0;

		if (p == MAP_FAILED)
			die("host mmap");
		if (!fault_around)
			madvise(p, BATCH * PG, MADV_RANDOM);
		t0 = bench_now_ns();
		for (unsigned long i = 0; i < BATCH; i++)
			sink += ((volatile char *)p)[i * PG];
		if (r)
			samples[r - 1] = (double)(bench_now_ns() - t0) / BATCH;
		munmap(p, BATCH * PG);
	}
	close(fd);
	(void)sink;
	return bench_statistic(samples, reps);
}

int main(int argc, char **argv)
{
	char cmd[600];

	bench_init(argc, argv);
	if (!bench_group_selected("fault.file"))
		return 0;
	make_file();
	boot();
	if (bench_selected("fault.file.read")) {
		double k = kmm_file_read();

		bench_report("fault.file.read", "ns/page", k, "host", host_file_read(false));
		bench_report("fault.file.read", "ns/page", k, "host-faultaround",
			     host_file_read(true));
	}
	emu_shutdown();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		die("cleanup");
	return 0;
}
