/*
 * Page allocator benchmarks (page.*), each against peers measured in the
 * same run with the same loop shape: take a window of W blocks, then give
 * them back in the order taken; the time reported is per alloc+free pair.
 *
 *   page.order0.pcp      order 0 through the per-CPU lists, deterministic
 *                        machine (one host thread: locks are plain stores)
 *   page.order0.pcp.smp  the same on an SMP machine, one thread running
 *   page.order0.buddy    order 0 through the buddy lists alone (pcp_lists off)
 *   page.order3          order 3 (32 KiB)
 *   page.order9          order 9 (2 MiB, a pageblock)
 *   page.mix             orders 0..4 drawn at random, as a kernel's mix
 *   page.order0.pcp.scaling2   2 CPUs against 1 on the per-CPU path (SMP)
 *
 * Peers: "freelist", a bare singly-linked list of free frames of the block
 * size (pop and push: the lower bound of any frame allocator), and "glibc",
 * aligned_alloc(4096, size)/free.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmm/emu.h>
#include <kmm/page_alloc.h>

#include "bench.h"

#define W 16             /* blocks held at once */
#define MIX_LEN 4096     /* length of the random order sequence of page.mix */
#define MIX_MAX_ORDER 4

/* ---- The machine ---- */

static void boot(bool pcp, enum emu_mode mode, unsigned int cpus)
{
	struct emu_config cfg;
	char err[256] = "";

	if (emu_booted())
		emu_shutdown();
	emu_config_default(&cfg);
	cfg.ram_bytes = 512ULL << 20;
	cfg.cpus = cpus;
	cfg.mode = mode;
	cfg.mm.quiet = true;
	cfg.mm.pcp_lists = pcp;
	if (emu_boot(&cfg, err, sizeof(err))) {
		fprintf(stderr, "bench_page_alloc: boot failed: %s\n", err);
		exit(1);
	}
}

/* ---- The loops ---- */

struct loop {
	unsigned int order;         /* fixed order, or ... */
	const uint8_t *orders;      /* ... a sequence of MIX_LEN orders */
	gfp_t gfp;
	void *free_list[MAX_ORDER + 1];  /* freelist peer: one list per order */
};

static unsigned int order_at(const struct loop *l, uint64_t i, unsigned int k)
{
	return l->orders ? l->orders[(i * W + k) % MIX_LEN] : l->order;
}

static void alloc_failed(void)
{
	fprintf(stderr, "bench_page_alloc: alloc_pages failed\n");
	exit(1);
}

/* The loops come in two shapes: one order (the common case, kept tight), or the mix. */
static void kmm_loop(void *arg, uint64_t iters)
{
	struct loop *l = arg;
	struct page *held[W];

	if (!l->orders) {
		const unsigned int order = l->order;
		const gfp_t gfp = l->gfp;

		for (uint64_t i = 0; i < iters; i++) {
			for (unsigned int k = 0; k < W; k++) {
				held[k] = alloc_pages(gfp, order);
				if (__builtin_expect(!held[k], 0))
					alloc_failed();
			}
			for (unsigned int k = 0; k < W; k++)
				__free_pages(held[k], order);
		}
		return;
	}
	for (uint64_t i = 0; i < iters; i++) {
		for (unsigned int k = 0; k < W; k++) {
			held[k] = alloc_pages(l->gfp, order_at(l, i, k));
			if (__builtin_expect(!held[k], 0))
				alloc_failed();
		}
		for (unsigned int k = 0; k < W; k++)
			__free_pages(held[k], order_at(l, i, k));
	}
}

static void freelist_loop(void *arg, uint64_t iters)
{
	struct loop *l = arg;
	void *held[W];

	if (!l->orders) {
		void *head = l->free_list[l->order];

		for (uint64_t i = 0; i < iters; i++) {
			for (unsigned int k = 0; k < W; k++) {
				held[k] = head;
				head = *(void **)head;
			}
			for (unsigned int k = 0; k < W; k++) {
				*(void **)held[k] = head;
				head = held[k];
			}
		}
		l->free_list[l->order] = head;
		return;
	}
	for (uint64_t i = 0; i < iters; i++) {
		for (unsigned int k = 0; k < W; k++) {
			unsigned int o = order_at(l, i, k);
			void *p = l->free_list[o];
			l->free_list[o] = *(void **)p;
			held[k] = p;
		}
		for (unsigned int k = 0; k < W; k++) {
			unsigned int o = order_at(l, i, k);
			*(void **)held[k] = l->free_list[o];
			l->free_list[o] = held[k];
		}
	}
}

static void glibc_loop(void *arg, uint64_t iters)
{
	struct loop *l = arg;
	void *held[W];

	if (!l->orders) {
		const size_t size = 4096UL << l->order;

		for (uint64_t i = 0; i < iters; i++) {
			for (unsigned int k = 0; k < W; k++) {
				held[k] = aligned_alloc(4096, size);
				bench_escape(held[k]);
			}
			for (unsigned int k = 0; k < W; k++)
				free(held[k]);
		}
		return;
	}
	for (uint64_t i = 0; i < iters; i++) {
		for (unsigned int k = 0; k < W; k++) {
			held[k] = aligned_alloc(4096, 4096UL << order_at(l, i, k));
			bench_escape(held[k]);
		}
		for (unsigned int k = 0; k < W; k++)
			free(held[k]);
	}
}

/* The freelist peer's frames: W of each order used, naturally aligned. */
static void *freelist_memory[MAX_ORDER + 1];

static void freelist_setup(struct loop *l)
{
	for (unsigned int o = 0; o <= MAX_ORDER; o++) {
		size_t size = 4096UL << o;
		char *mem;

		if (!l->orders && o != l->order)
			continue;
		if (l->orders && o > MIX_MAX_ORDER)
			continue;
		mem = aligned_alloc(size, size * W);
		if (!mem) {
			perror("aligned_alloc");
			exit(1);
		}
		memset(mem, 0, size * W);
		l->free_list[o] = NULL;
		for (unsigned int k = W; k-- > 0;) {
			*(void **)(mem + k * size) = l->free_list[o];
			l->free_list[o] = mem + k * size;
		}
		free(freelist_memory[o]);
		freelist_memory[o] = mem;
	}
}

/* Runs one page.* benchmark: kmm, then each peer, and prints a line per peer. */
static void run(const char *name, struct loop *l)
{
	double kmm, freelist, glibc;

	if (!bench_selected(name))
		return;
	kmm = bench_ns_per_op(kmm_loop, l, W);
	if (page_alloc_check() != 0) {
		fprintf(stderr, "%s: invariant check failed\n", name);
		exit(1);
	}
	freelist_setup(l);
	freelist = bench_ns_per_op(freelist_loop, l, W);
	glibc = bench_ns_per_op(glibc_loop, l, W);
	bench_report(name, "ns/op", kmm, "freelist", freelist);
	bench_report(name, "ns/op", kmm, "glibc", glibc);
}

/* ---- 2-CPU scaling of the per-CPU path ---- */

struct scaling {
	unsigned int nr;
	uint64_t iters;
	atomic_uint arrived;
	uint64_t start[2], end[2];
};

static void scaling_fn(unsigned int cpu, void *arg)
{
	struct scaling *s = arg;
	struct loop l = { .order = 0, .gfp = GFP_KERNEL };

	kmm_loop(&l, s->iters / 8);   /* warm this CPU's list */
	atomic_fetch_add(&s->arrived, 1);
	while (atomic_load(&s->arrived) < s->nr)
		;
	s->start[cpu] = bench_now_ns();
	kmm_loop(&l, s->iters);
	s->end[cpu] = bench_now_ns();
}

/* Pairs per second of n CPUs together, each doing iters windows. */
static double throughput(unsigned int n, uint64_t iters)
{
	struct scaling s = { .nr = n, .iters = iters };
	uint64_t start = UINT64_MAX, end = 0;

	atomic_init(&s.arrived, 0);
	if (emu_run_on_cpus(n, scaling_fn, &s)) {
		fprintf(stderr, "bench_page_alloc: emu_run_on_cpus(%u) failed\n", n);
		exit(1);
	}
	for (unsigned int c = 0; c < n; c++) {
		start = s.start[c] < start ? s.start[c] : start;
		end = s.end[c] > end ? s.end[c] : end;
	}
	return (double)n * (double)iters * W / ((double)(end - start) / 1e9);
}

static void run_scaling(void)
{
	const char *name = "page.order0.pcp.scaling2";
	double one[64], two[64];
	int reps = bench_reps() < 64 ? bench_reps() : 64;
	uint64_t iters = 1000;
	double t;

	if (!bench_selected(name))
		return;
	boot(true, EMU_SMP, 2);
	/* Calibrate one CPU to about 100 ms a run. */
	while ((t = (double)iters * W / throughput(1, iters)) < 0.02)
		iters *= 2;
	iters = (uint64_t)((double)iters * 0.1 / t);
	for (int i = 0; i < reps; i++) {
		one[i] = throughput(1, iters);
		two[i] = throughput(2, iters);
	}
	if (page_alloc_check() != 0)
		exit(1);
	bench_report(name, "x", bench_statistic(two, reps) / bench_statistic(one, reps),
		     "1 thread", 1.0);
}

int main(int argc, char **argv)
{
	static uint8_t mix[MIX_LEN];
	struct loop l;
	uint64_t rng = 88172645463325252ULL;

	bench_init(argc, argv);
	if (!bench_group_selected("page."))
		return 0;

	/* Orders 0..4: 50%, 20%, 15%, 10%, 5%. */
	for (unsigned int i = 0; i < MIX_LEN; i++) {
		unsigned int r;
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		r = (unsigned int)(rng % 100);
		mix[i] = r < 50 ? 0 : r < 70 ? 1 : r < 85 ? 2 : r < 95 ? 3 : 4;
	}

	if (bench_group_selected("page.order0.buddy")) {
		boot(false, EMU_DET, 2);
		l = (struct loop){ .order = 0, .gfp = GFP_KERNEL };
		run("page.order0.buddy", &l);
	}

	boot(true, EMU_DET, 2);
	l = (struct loop){ .order = 0, .gfp = GFP_KERNEL };
	run("page.order0.pcp", &l);
	l = (struct loop){ .order = 3, .gfp = GFP_KERNEL };
	run("page.order3", &l);
	l = (struct loop){ .order = 9, .gfp = GFP_KERNEL };
	run("page.order9", &l);
	l = (struct loop){ .orders = mix, .gfp = GFP_KERNEL };
	run("page.mix", &l);

	/* The per-CPU path of an SMP machine (one thread running): its locks
	   are atomic instructions there. */
	if (bench_group_selected("page.order0.pcp.smp")) {
		boot(true, EMU_SMP, 2);
		l = (struct loop){ .order = 0, .gfp = GFP_KERNEL };
		run("page.order0.pcp.smp", &l);
	}
	run_scaling();
	if (emu_booted())
		emu_shutdown();
	for (unsigned int o = 0; o <= MAX_ORDER; o++)
		free(freelist_memory[o]);
	return 0;
}
