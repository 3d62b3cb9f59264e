/*
 * Page-fault, TLB and fork benchmarks (fault.*, tlb.*, fork.*), each
 * against the host kernel doing the same thing to a host process in the
 * same run (peer "host"), or a plain host memory access (tlb.*).
 *
 *   fault.anon.write   a demand-zero fault and the first write of a 4 KiB
 *                      page: kmm emu_store on a fresh private mapping vs
 *                      the host touching a fresh mmap (THP off), per page
 *   fault.anon.read    a read fault that maps the zero page, per page
 *   fault.cow          a copy-on-write break: the child of a fork writes a
 *                      page its parent had written, per page
 *   fork.touched       fork of a task with 256 MiB written, per page
 *   tlb.hit.load       an 8-byte emu_load that hits the TLB (deterministic
 *                      machine) vs a host load; tlb.hit.load.smp on an SMP
 *                      machine, which pays the shootdown handshake
 *   tlb.hit.store      the same for emu_store
 *
 * The fault and fork figures are medians of repetitions over a batch of
 * pages; the mapping is torn down outside the timed part on both sides.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kmm/emu.h>
#include <kmm/mm.h>
#include <kmm/mman.h>

#include "bench.h"

#define PG 4096UL
#define BATCH 4096UL                 /* pages per fault repetition: 16 MiB */
#define FORK_PAGES (65536UL)         /* 256 MiB */

static void die(const char *what)
{
	fprintf(stderr, "bench_fault: %s\n", what);
	exit(1);
}

static void boot(enum emu_mode mode, uint64_t ram)
{
	struct emu_config cfg;
	char err[256] = "";

	if (emu_booted())
		emu_shutdown();
	emu_config_default(&cfg);
	cfg.ram_bytes = ram;
	cfg.cpus = 2;
	cfg.mode = mode;
	cfg.mm.quiet = true;
	if (emu_boot(&cfg, err, sizeof(err))) {
		fprintf(stderr, "bench_fault: boot failed: %s\n", err);
		exit(1);
	}
}

static struct task *spawn(void)
{
	struct task *t;

	if (task_spawn("bench", &t))
		die("task_spawn failed");
	return t;
}

static uintptr_t kmap(struct task *t, size_t len)
{
	long a = sys_mmap(t, 0, len, KMM_PROT_READ | KMM_PROT_WRITE,
			  KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, -1, 0);

	if (a < 0)
		die("sys_mmap failed");
	return (uintptr_t)a;
}

static void finish(struct task *t)
{
	task_exit(t, 0);
	task_release(t);
}

static char *hmap(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("host mmap failed");
	/* 4 KiB faults on both sides: no transparent huge pages. */
	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

/* ---- Faults ---- */

static double kmm_fault(bool write)
{
	double samples[64];
	int reps = bench_reps();
	struct task *t = spawn();
	uint64_t v;

	for (int r = 0; r < reps + 1; r++) {
		uintptr_t a = kmap(t, BATCH * PG);
		uint64_t t0 = bench_now_ns();

		for (unsigned long i = 0; i < BATCH; i++) {
			if (write ? emu_store(t, a + i * PG, 8, i) : emu_load(t, a + i * PG, 8, &v))
				die("access failed");
		}
		if (r)   /* the first repetition warms the caches and lists */
			samples[r - 1] = (double)(bench_now_ns() - t0) / BATCH;
		sys_munmap(t, a, BATCH * PG);
	}
	finish(t);
	return bench_statistic(samples, reps);
}

static double host_fault(bool write)
{
	double samples[64];
	int reps = bench_reps();
	volatile char sink = 0;

	for (int r = 0; r < reps + 1; r++) {
		char *p = hmap(BATCH * PG);
		uint64_t t0 = bench_now_ns();

		for (unsigned long i = 0; i < BATCH; i++) {
			if (write)
				((volatile char *)p)[i * PG] = (char)i;
			else
				sink += ((volatile char *)p)[i * PG];
		}
		if (r)
			samples[r - 1] = (double)(bench_now_ns() - t0) / BATCH;
		munmap(p, BATCH * PG);
	}
	(void)sink;
	return bench_statistic(samples, reps);
}

/* ---- Copy on write ---- */

static double kmm_cow(void)
{
	double samples[64];
	int reps = bench_reps();
	struct task *p = spawn();
	uintptr_t a = kmap(p, BATCH * PG);

	if (emu_touch(p, a, BATCH * PG, true))
		die("touch failed");
	for (int r = 0; r < reps + 1; r++) {
		struct task *c;
		uint64_t t0;

		if (task_fork(p, &c))
			die("task_fork failed");
		t0 = bench_now_ns();
		for (unsigned long i = 0; i < BATCH; i++)
			if (emu_store(c, a + i * PG, 8, i))
				die("store failed");
		if (r)
			samples[r - 1] = (double)(bench_now_ns() - t0) / BATCH;
		finish(c);
	}
	finish(p);
	return bench_statistic(samples, reps);
}

static double host_cow(void)
{
	double samples[64];
	int reps = bench_reps();
	char *p = hmap(BATCH * PG);

	memset(p, 1, BATCH * PG);
	for (int r = 0; r < reps + 1; r++) {
		int fds[2];
		double ns = 0;
		pid_t pid;

		if (pipe(fds))
			die("pipe failed");
		pid = fork();
		if (pid < 0)
			die("fork failed");
		if (pid == 0) {
			uint64_t t0 = bench_now_ns();

			for (unsigned long i = 0; i < BATCH; i++)
				((volatile char *)p)[i * PG] = (char)i;
			ns = (double)(bench_now_ns() - t0) / BATCH;
			if (write(fds[1], &ns, sizeof(ns)) != sizeof(ns))
				_exit(1);
			_exit(0);
		}
		if (read(fds[0], &ns, sizeof(ns)) != sizeof(ns))
			die("child did not report");
		waitpid(pid, NULL, 0);
		close(fds[0]);
		close(fds[1]);
		if (r)
			samples[r - 1] = ns;
	}
	munmap(p, BATCH * PG);
	return bench_statistic(samples, reps);
}

/* ---- fork ---- */

static double kmm_fork(void)
{
	double samples[64];
	int reps = bench_reps();
	struct task *p = spawn();
	uintptr_t a = kmap(p, FORK_PAGES * PG);

	if (emu_touch(p, a, FORK_PAGES * PG, true))
		die("touch failed");
	for (int r = 0; r < reps + 1; r++) {
		struct task *c;
		uint64_t t0 = bench_now_ns();

		if (task_fork(p, &c))
			die("task_fork failed");
		if (r)
			samples[r - 1] = (double)(bench_now_ns() - t0) / FORK_PAGES;
		finish(c);
		/* The parent writes its pages back: each is exclusively its own again. */
		if (emu_touch(p, a, FORK_PAGES * PG, true))
			die("touch failed");
	}
	finish(p);
	return bench_statistic(samples, reps);
}

static double host_fork(void)
{
	double samples[64];
	int reps = bench_reps();
	char *p = hmap(FORK_PAGES * PG);

	memset(p, 1, FORK_PAGES * PG);
	for (int r = 0; r < reps + 1; r++) {
		uint64_t t0 = bench_now_ns();
		pid_t pid = fork();

		if (pid < 0)
			die("fork failed");
		if (pid == 0)
			_exit(0);
		if (r)
			samples[r - 1] = (double)(bench_now_ns() - t0) / FORK_PAGES;
		waitpid(pid, NULL, 0);
		for (unsigned long i = 0; i < FORK_PAGES; i++)
			((volatile char *)p)[i * PG] = 2;
	}
	munmap(p, FORK_PAGES * PG);
	return bench_statistic(samples, reps);
}

/* ---- TLB hits ---- */

struct tlb_loop {
	struct task *t;
	uintptr_t a;
	volatile uint64_t *host;
};

/* 16 pages, all resident in the 64-entry TLB, 8 accesses per iteration. */
#define SPREAD(i, k) (((i) * 8 + (k)) % 16 * PG + (k) * 64)

static void kmm_load_loop(void *arg, uint64_t iters)
{
	struct tlb_loop *l = arg;
	uint64_t v, sum = 0;

	for (uint64_t i = 0; i < iters; i++)
		for (unsigned int k = 0; k < 8; k++) {
			emu_load(l->t, l->a + SPREAD(i, k), 8, &v);
			sum += v;
		}
	bench_escape(sum);
}

static void kmm_store_loop(void *arg, uint64_t iters)
{
	struct tlb_loop *l = arg;

	for (uint64_t i = 0; i < iters; i++)
		for (unsigned int k = 0; k < 8; k++)
			emu_store(l->t, l->a + SPREAD(i, k), 8, i);
}

static void host_load_loop(void *arg, uint64_t iters)
{
	struct tlb_loop *l = arg;
	uint64_t sum = 0;

	for (uint64_t i = 0; i < iters; i++)
		for (unsigned int k = 0; k < 8; k++)
			sum += l->host[SPREAD(i, k) / 8];
	bench_escape(sum);
}

static void host_store_loop(void *arg, uint64_t iters)
{
	struct tlb_loop *l = arg;

	for (uint64_t i = 0; i < iters; i++)
		for (unsigned int k = 0; k < 8; k++)
			l->host[SPREAD(i, k) / 8] = i;
}

static void bench_tlb(const char *suffix)
{
	struct tlb_loop l;
	char name[64];
	double k, h;

	l.t = spawn();
	l.a = kmap(l.t, 16 * PG);
	l.host = (volatile uint64_t *)hmap(16 * PG);
	if (emu_touch(l.t, l.a, 16 * PG, true))
		die("touch failed");
	memset((void *)l.host, 0, 16 * PG);

	snprintf(name, sizeof(name), "tlb.hit.load%s", suffix);
	if (bench_selected(name)) {
		k = bench_ns_per_op(kmm_load_loop, &l, 8);
		h = bench_ns_per_op(host_load_loop, &l, 8);
		bench_report(name, "ns/op", k, "host", h);
	}
	snprintf(name, sizeof(name), "tlb.hit.store%s", suffix);
	if (bench_selected(name)) {
		k = bench_ns_per_op(kmm_store_loop, &l, 8);
		h = bench_ns_per_op(host_store_loop, &l, 8);
		bench_report(name, "ns/op", k, "host", h);
	}
	munmap((void *)l.host, 16 * PG);
	finish(l.t);
}

int main(int argc, char **argv)
{
	bench_init(argc, argv);
	if (bench_reps() > 64)
		die("KMM_BENCH_REPS: at most 64 here");

	boot(EMU_DET, 1ULL << 30);
	if (bench_selected("fault.anon.write"))
		bench_report("fault.anon.write", "ns/page", kmm_fault(true), "host",
			     host_fault(true));
	if (bench_selected("fault.anon.read"))
		bench_report("fault.anon.read", "ns/page", kmm_fault(false), "host",
			     host_fault(false));
	if (bench_selected("fault.cow"))
		bench_report("fault.cow", "ns/page", kmm_cow(), "host", host_cow());
	if (bench_selected("fork.touched"))
		bench_report("fork.touched", "ns/page", kmm_fork(), "host", host_fork());
	if (bench_group_selected("tlb.hit"))
		bench_tlb("");
	emu_shutdown();

	if (bench_group_selected("tlb.hit")) {
		boot(EMU_SMP, 64ULL << 20);
		bench_tlb(".smp");
		emu_shutdown();
	}
	return 0;
}
