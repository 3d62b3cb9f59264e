/*
 * Kernel memory allocator benchmarks (kma.*): every design of mm/kma/ on
 * the same workloads, each line against the buddy KMA (requests rounded up
 * to pages: the allocator every other one is built to beat), and a second
 * line against the slab allocator's kmalloc/kfree, called through the same
 * loops.
 *
 *   kma.fixed64.A         64-byte objects: allocate a window of 16, free them
 *   kma.random.A          a live set of 1024 blocks, sizes 8 B..8 KiB drawn
 *                         log-uniformly; each step frees one and allocates one
 *   kma.random.held.A     the same sizes on a 128 MiB machine, 16384 live
 *                         blocks (19 MiB requested) churned 100000 times:
 *                         frames held / bytes requested by the live blocks
 *                         (1.0 would be no waste)
 *   kma.random.frag.A     fragmentation after that run: 90% of the live set
 *                         freed at random, the allocator shrunk and per-CPU
 *                         pages drained — how many 2 MiB (order-9) blocks the
 *                         page allocator can still supply (higher is better);
 *                         the free blocks of every order go to stderr
 *   kma.smp2.A            kma.fixed64 on 2 CPUs at once (SMP): ns per
 *                         alloc+free of the machine as a whole
 *   kma.smp2.scaling.A    throughput on 2 CPUs / on 1 (2.0 is perfect)
 *   kma.kernelmix.A       the allocations and frees kmm's machine made running
 *                         its scenarios, recorded (bench/kma-kernelmix.trace,
 *                         scripts/kma-trace.sh) and replayed in order
 *   kma.kernelmix.held.A  frames held / bytes requested at the replay's peak
 *                         of live bytes
 *
 * ns/op is per alloc+free pair. The designs include slab (kmalloc through
 * the registry, mm/kma/slab.c); "kmalloc" is the same allocator called
 * directly, so slab against kmalloc is the registry's own cost.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmm/emu.h>
#include <kmm/kma.h>
#include <kmm/page_alloc.h>
#include <kmm/shrinker.h>
#include <kmm/slab.h>

#include "bench.h"

#define W 16
#define LIVE 1024
#define SEQ 65536          /* length of the random size sequence */
#define SMP_ITERS 200000UL /* windows per CPU in an SMP repetition */

/* ---- The allocators under test: the KMAs, and kmalloc as a peer ---- */

struct alloc {
	const char *name;
	const struct kma_ops *k;       /* NULL: kmalloc */
};

static inline void *a_alloc(const struct alloc *a, size_t size)
{
	return a->k ? kma_alloc(a->k, size, GFP_KERNEL) : kmalloc(size, GFP_KERNEL);
}

static inline void a_free(const struct alloc *a, void *p, size_t size)
{
	if (a->k)
		kma_free(a->k, p, size);
	else
		kfree(p);
}

static void sum_slab(struct kmem_cache *c, void *arg)
{
	struct kmem_cache_info info;

	kmem_cache_get_info(c, &info);
	*(unsigned long *)arg += info.bytes_total;
}

static unsigned long held_bytes(const struct alloc *a)
{
	unsigned long bytes = 0;
	struct kma_stats st;

	if (!a->k) {
		kmem_cache_for_each(sum_slab, &bytes);
		return bytes;
	}
	kma_get_stats(a->k, &st);
	return (unsigned long)st.pages_held * PAGE_SIZE;
}

static void a_shrink(const struct alloc *a)
{
	if (a->k)
		kma_shrink(a->k);
	else
		shrink_slab(GFP_KERNEL, 0);
}

static void oom(const char *what)
{
	fprintf(stderr, "bench_kma: %s: out of memory\n", what);
	exit(1);
}

static void boot(uint64_t ram, enum emu_mode mode, unsigned int cpus)
{
	struct emu_config cfg;
	char err[256] = "";

	if (emu_booted())
		emu_shutdown();
	emu_config_default(&cfg);
	cfg.ram_bytes = ram;
	cfg.cpus = cpus;
	cfg.mode = mode;
	cfg.mm.quiet = true;
	if (emu_boot(&cfg, err, sizeof(err)) || kma_boot()) {
		fprintf(stderr, "bench_kma: boot failed: %s\n", err);
		exit(1);
	}
}

/* ---- Loops ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static size_t sizes[SEQ];

/* Log-uniform 8 B .. 8 KiB: every power-of-two range equally likely, as
   small objects dominate a kernel's allocations. */
static void make_sizes(void)
{
	for (unsigned int i = 0; i < SEQ; i++) {
		double e = 3.0 + 10.0 * (double)(rnd() >> 11) / 9007199254740992.0;

		sizes[i] = (size_t)MIN(8192.0, MAX(8.0, floor(pow(2.0, e))));
	}
}

struct fixed_arg {
	const struct alloc *a;
	size_t size;
};

static void fixed_loop(void *arg, uint64_t iters)
{
	struct fixed_arg *f = arg;
	void *held[W];

	for (uint64_t i = 0; i < iters; i++) {
		for (unsigned int k = 0; k < W; k++) {
			held[k] = a_alloc(f->a, f->size);
			if (__builtin_expect(!held[k], 0))
				oom("fixed");
		}
		for (unsigned int k = 0; k < W; k++)
			a_free(f->a, held[k], f->size);
	}
}

struct random_arg {
	const struct alloc *a;
	void *p[LIVE];
	size_t size[LIVE];
	uint64_t pos;
};

static void random_fill(struct random_arg *r)
{
	for (unsigned int i = 0; i < LIVE; i++) {
		r->size[i] = sizes[(r->pos++) % SEQ];
		r->p[i] = a_alloc(r->a, r->size[i]);
		if (!r->p[i])
			oom("random fill");
	}
}

static void random_loop(void *arg, uint64_t iters)
{
	struct random_arg *r = arg;

	for (uint64_t i = 0; i < iters; i++) {
		unsigned int slot = (unsigned int)((r->pos * 0x9E3779B1u) % LIVE);

		a_free(r->a, r->p[slot], r->size[slot]);
		r->size[slot] = sizes[r->pos % SEQ];
		r->p[slot] = a_alloc(r->a, r->size[slot]);
		if (__builtin_expect(!r->p[slot], 0))
			oom("random");
		r->pos++;
	}
}

/* ---- The measurements of one allocator ---- */

struct result {
	double fixed, random, held, frag, smp2, scaling, mix, mix_held;
};

static double measure_fixed(const struct alloc *a)
{
	struct fixed_arg f = { a, 64 };

	boot(512 * MiB, EMU_DET, 2);
	return bench_ns_per_op(fixed_loop, &f, W);
}

static unsigned long order9_blocks(bool print, const char *name)
{
	unsigned long blocks[NR_ORDERS] = { 0 }, big = 0;
	struct zone *z;

	drain_all_pages();
	for_each_zone(z)
		for (unsigned int o = 0; o < NR_ORDERS; o++)
			blocks[o] += __atomic_load_n(&z->free_area[o].nr_free, __ATOMIC_RELAXED);
	for (unsigned int o = pageblock_order; o < NR_ORDERS; o++)
		big += blocks[o] << (o - pageblock_order);
	if (print) {
		fprintf(stderr, "bench_kma: free blocks per order after kma.random, %-6s:", name);
		for (unsigned int o = 0; o < NR_ORDERS; o++)
			fprintf(stderr, " %lu", blocks[o]);
		fprintf(stderr, "\n");
	}
	return big;
}

static void measure_random(const struct alloc *a, struct result *res)
{
	static struct random_arg r;

	boot(128 * MiB, EMU_DET, 2);
	memset(&r, 0, sizeof(r));
	r.a = a;
	random_fill(&r);
	res->random = bench_ns_per_op(random_loop, &r, 1);
	for (unsigned int i = 0; i < LIVE; i++)
		a_free(a, r.p[i], r.size[i]);
}

/*
 * Memory and fragmentation on a 128 MiB machine with a live set of
 * FRAG_LIVE blocks (about 19 MiB requested; the buddy KMA needs 70), churned FRAG_STEPS times: the
 * frames held per byte requested then; then 90% of the blocks freed at
 * random, the allocator shrunk, and the 2 MiB blocks left counted.
 */
#define FRAG_LIVE 16384
#define FRAG_STEPS 100000

static void measure_frag(const struct alloc *a, struct result *res)
{
	static void *p[FRAG_LIVE];
	static size_t size[FRAG_LIVE];
	unsigned long live = 0;
	uint64_t pos = 0;

	boot(128 * MiB, EMU_DET, 2);
	for (unsigned int i = 0; i < FRAG_LIVE; i++) {
		size[i] = sizes[pos++ % SEQ];
		if (!(p[i] = a_alloc(a, size[i])))
			oom("frag fill");
	}
	for (unsigned int s = 0; s < FRAG_STEPS; s++) {
		unsigned int i = (unsigned int)(rnd() % FRAG_LIVE);

		a_free(a, p[i], size[i]);
		size[i] = sizes[pos++ % SEQ];
		if (!(p[i] = a_alloc(a, size[i])))
			oom("frag churn");
	}
	for (unsigned int i = 0; i < FRAG_LIVE; i++)
		live += size[i];
	res->held = (double)held_bytes(a) / (double)live;
	for (unsigned int i = 0; i < FRAG_LIVE; i++) {
		if (rnd() % 10) {
			a_free(a, p[i], size[i]);
			p[i] = NULL;
		}
	}
	a_shrink(a);
	res->frag = (double)order9_blocks(true, a->name);
	for (unsigned int i = 0; i < FRAG_LIVE; i++)
		if (p[i])
			a_free(a, p[i], size[i]);
}

static void smp_fn(unsigned int cpu, void *arg)
{
	struct fixed_arg f = { arg, 64 };

	fixed_loop(&f, SMP_ITERS);
}

/* Wall time of SMP_ITERS windows on each of n CPUs, median of the reps. */
static double smp_ns(const struct alloc *a, unsigned int n)
{
	double samples[64];
	int reps = MIN(bench_reps(), 64);

	for (int i = 0; i < reps; i++) {
		uint64_t t0 = bench_now_ns();

		if (emu_run_on_cpus(n, smp_fn, (void *)a))
			oom("smp");
		samples[i] = (double)(bench_now_ns() - t0) / (double)(SMP_ITERS * W * n);
	}
	return bench_statistic(samples, reps);
}

static void measure_smp(const struct alloc *a, struct result *res)
{
	double one, two;

	boot(512 * MiB, EMU_SMP, 2);
	smp_fn(0, (void *)a);   /* warm up */
	one = smp_ns(a, 1);
	two = smp_ns(a, 2);
	res->smp2 = two;
	res->scaling = one / two;
}

/* ---- The recorded kernel mix ---- */

struct mix_op {
	uint32_t id;                 /* the block (alloc: the new one) */
	uint32_t size;               /* 0: a free */
};

static struct mix_op *mix;
static size_t nmix, mix_allocs, mix_ids;

/* Reads the trace; segments are replayed one after the other, ids offset
   so that each block has its own slot. Returns false if there is none. */
static bool mix_load(void)
{
	FILE *f = fopen(KMA_TRACE_FILE, "r");
	char line[128];
	size_t cap = 0, base = 0, seg_ids = 0;

	if (!f) {
		fprintf(stderr, "bench_kma: no trace %s: kma.kernelmix skipped\n", KMA_TRACE_FILE);
		return false;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long v;
		struct mix_op op;

		if (line[0] == 's') {
			base += seg_ids;
			seg_ids = 0;
			continue;
		}
		if ((line[0] != 'k' && line[0] != 'c' && line[0] != 'f') ||
		    sscanf(line + 1, "%lu", &v) != 1)
			continue;
		if (line[0] == 'f') {
			if (v >= seg_ids) {
				fprintf(stderr, "bench_kma: %s: free of unknown id %lu\n",
					KMA_TRACE_FILE, v);
				exit(1);
			}
			op = (struct mix_op){ (uint32_t)(base + v), 0 };
		} else {
			op = (struct mix_op){ (uint32_t)(base + seg_ids++), (uint32_t)MAX(v, 1UL) };
			mix_allocs++;
		}
		if (nmix == cap) {
			cap = cap ? cap * 2 : 1024;
			mix = realloc(mix, cap * sizeof(*mix));
			if (!mix)
				oom("trace");
		}
		mix[nmix++] = op;
	}
	fclose(f);
	mix_ids = base + seg_ids;
	return mix_allocs > 0;
}

struct mix_arg {
	const struct alloc *a;
	void **p;
	size_t *size;
};

static void mix_loop(void *arg, uint64_t iters)
{
	struct mix_arg *m = arg;

	for (uint64_t i = 0; i < iters; i++) {
		for (size_t j = 0; j < nmix; j++) {
			const struct mix_op *op = &mix[j];

			if (op->size) {
				m->p[op->id] = a_alloc(m->a, op->size);
				if (__builtin_expect(!m->p[op->id], 0))
					oom("kernelmix");
				m->size[op->id] = op->size;
			} else {
				a_free(m->a, m->p[op->id], m->size[op->id]);
			}
		}
	}
}

/* One replay watching the live bytes: frames held per byte at their peak. */
static double mix_peak_held(struct mix_arg *m)
{
	unsigned long live = 0, peak = 0;
	double held = -1;

	for (size_t j = 0; j < nmix; j++) {
		const struct mix_op *op = &mix[j];

		if (op->size) {
			m->p[op->id] = a_alloc(m->a, op->size);
			if (!m->p[op->id])
				oom("kernelmix");
			m->size[op->id] = op->size;
			live += op->size;
			if (live > peak) {
				peak = live;
				held = (double)held_bytes(m->a) / (double)live;
			}
		} else {
			a_free(m->a, m->p[op->id], m->size[op->id]);
			live -= m->size[op->id];
		}
	}
	return held;
}

static void measure_mix(const struct alloc *a, struct result *res)
{
	struct mix_arg m = { a, calloc(mix_ids, sizeof(void *)), calloc(mix_ids, sizeof(size_t)) };

	if (!m.p || !m.size)
		oom("kernelmix");
	boot(128 * MiB, EMU_DET, 2);
	res->mix_held = mix_peak_held(&m);
	res->mix = bench_ns_per_op(mix_loop, &m, (double)mix_allocs);
	free(m.p);
	free(m.size);
}

static void measure(const struct alloc *a, struct result *res)
{
	*res = (struct result){ -1, -1, -1, -1, -1, -1, -1, -1 };
	if (nmix && bench_group_selected("kma.kernelmix"))
		measure_mix(a, res);
	if (bench_group_selected("kma.fixed64"))
		res->fixed = measure_fixed(a);
	if (bench_group_selected("kma.random")) {
		measure_random(a, res);
		measure_frag(a, res);
	}
	if (bench_group_selected("kma.smp2"))
		measure_smp(a, res);
}

static void report(const char *workload, const char *unit, const char *name, double v,
		   const char *peer, double pv)
{
	char full[96];

	snprintf(full, sizeof(full), "kma.%s.%s", workload, name);
	if (bench_selected(full) && v >= 0 && pv >= 0)
		bench_report(full, unit, v, peer, pv);
}

int main(int argc, char **argv)
{
	static struct alloc allocs[KMA_MAX + 1];
	static struct result res[KMA_MAX + 1];
	unsigned int n = 0, buddy = 0, slab;

	bench_init(argc, argv);
	if (!bench_group_selected("kma."))
		return 0;
	make_sizes();
	if (bench_group_selected("kma.kernelmix"))
		mix_load();
	for (unsigned int i = 0; i < kma_count(); i++) {
		allocs[n] = (struct alloc){ kma_at(i)->name, kma_at(i) };
		if (!strcmp(allocs[n].name, "buddy"))
			buddy = n;
		n++;
	}
	slab = n;
	allocs[n++] = (struct alloc){ "kmalloc", NULL };
	/* A run thrown away first: the first boots of each RAM size touch host
	   memory that later boots reuse, and would charge it to the first
	   allocator measured. */
	measure(&allocs[slab], &res[slab]);
	for (unsigned int i = 0; i < n; i++)
		measure(&allocs[i], &res[i]);
	for (unsigned int i = 0; i < n; i++) {
		const char *name = allocs[i].name;

		if (i == buddy || i == slab)
			continue;
		for (unsigned int p = 0; p < 2; p++) {
			unsigned int j = p ? slab : buddy;
			const char *peer = allocs[j].name;

			report("fixed64", "ns/op", name, res[i].fixed, peer, res[j].fixed);
			report("random", "ns/op", name, res[i].random, peer, res[j].random);
			report("random.held", "held/req", name, res[i].held, peer, res[j].held);
			report("random.frag", "order9_blocks", name, res[i].frag, peer, res[j].frag);
			report("smp2", "ns/op", name, res[i].smp2, peer, res[j].smp2);
			report("smp2.scaling", "x", name, res[i].scaling, peer, res[j].scaling);
			report("kernelmix", "ns/op", name, res[i].mix, peer, res[j].mix);
			report("kernelmix.held", "held/req", name, res[i].mix_held, peer,
			       res[j].mix_held);
		}
	}
	/* The buddy KMA itself against kmalloc, so the peers' own numbers show too. */
	report("fixed64", "ns/op", "buddy", res[buddy].fixed, "kmalloc", res[slab].fixed);
	report("random", "ns/op", "buddy", res[buddy].random, "kmalloc", res[slab].random);
	report("random.held", "held/req", "buddy", res[buddy].held, "kmalloc", res[slab].held);
	report("random.frag", "order9_blocks", "buddy", res[buddy].frag, "kmalloc",
	       res[slab].frag);
	report("smp2", "ns/op", "buddy", res[buddy].smp2, "kmalloc", res[slab].smp2);
	report("smp2.scaling", "x", "buddy", res[buddy].scaling, "kmalloc", res[slab].scaling);
	report("kernelmix", "ns/op", "buddy", res[buddy].mix, "kmalloc", res[slab].mix);
	report("kernelmix.held", "held/req", "buddy", res[buddy].mix_held, "kmalloc",
	       res[slab].mix_held);
	if (emu_booted())
		emu_shutdown();
	return 0;
}
