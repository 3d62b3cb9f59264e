/*
 * Slab allocator and kmalloc benchmarks (slab.*, kmalloc.*), each run with
 * the same loop code for kmm and for every peer, all called through the
 * same function pointers (an allocator is a pair alloc/free):
 *
 *   slab.cache64 / .cache256 / .cache1k   alloc+free of one object size, a
 *                         window of 8 held at once: the magazine hit path,
 *                         on a deterministic machine (one host thread: the
 *                         locks take no atomic instruction, lock.h)
 *   slab.cache64.smp      the same on an SMP machine (one thread running),
 *                         where each magazine operation locks its CPU slot
 *   slab.burst1m          1,000,000 64-byte allocations, then all the frees
 *   slab.prodcons         64-byte objects allocated on CPU 0, freed on
 *                         CPU 1 (two host threads), ns per object
 *   slab.scaling2         2 CPUs against 1 on the cache64 loop (SMP)
 *   kmalloc.random        random sizes 8 B..8 KiB, a pool of 1024 live
 *                         blocks, one replaced per operation
 *   kmalloc.random.overhead   frames held / bytes requested with 20,000
 *                         live random-size blocks (peers: RSS growth)
 *
 * Peers: glibc malloc/free (the process's own), jemalloc, mimalloc and
 * tcmalloc (Debian's libjemalloc2, libmimalloc2.0, libtcmalloc-minimal4,
 * dlopen'ed with RTLD_LOCAL so each keeps its own heap and the process's
 * malloc stays glibc's), and for fixed sizes a bare free list of
 * preallocated objects (pop and push, no locks: the lower bound).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kmm/emu.h>
#include <kmm/page_alloc.h>
#include <kmm/shrinker.h>
#include <kmm/slab.h>

#include "bench.h"

#define W 8                    /* objects held at once in the hit loops */
#define POOL 1024              /* live blocks of kmalloc.random */
#define RAND_LEN 65536         /* random size sequence */
#define BURST 1000000
#define OVERHEAD_N 20000

/* ---- Allocators ---- */

struct allocator {
	const char *name;
	void *(*alloc)(struct allocator *a, size_t size);
	void (*free)(struct allocator *a, void *p);
	void *(*malloc_fn)(size_t);
	void (*free_fn)(void *);
	struct kmem_cache *cache;   /* kmm, fixed-size benchmarks */
	void *freelist;             /* freelist peer */
	void *freelist_mem;
};

static void *kmm_cache_alloc(struct allocator *a, size_t size)
{
	return kmem_cache_alloc(a->cache, GFP_KERNEL);
}

static void kmm_cache_free(struct allocator *a, void *p)
{
	kmem_cache_free(a->cache, p);
}

static void *kmm_kmalloc(struct allocator *a, size_t size)
{
	return kmalloc(size, GFP_KERNEL);
}

static void kmm_kfree(struct allocator *a, void *p)
{
	kfree(p);
}

static void *peer_alloc(struct allocator *a, size_t size)
{
	return a->malloc_fn(size);
}

static void peer_free(struct allocator *a, void *p)
{
	a->free_fn(p);
}

static void *fl_alloc(struct allocator *a, size_t size)
{
	void *p = a->freelist;

	a->freelist = *(void **)p;
	return p;
}

static void fl_free(struct allocator *a, void *p)
{
	*(void **)p = a->freelist;
	a->freelist = p;
}

static void freelist_setup(struct allocator *a, size_t size, size_t n)
{
	char *mem = aligned_alloc(64, size * n);

	free(a->freelist_mem);
	a->freelist_mem = mem;
	a->freelist = NULL;
	for (size_t i = n; i-- > 0;)
		fl_free(a, mem + i * size);
}

#define NR_PEERS 5
static struct allocator peers[NR_PEERS];
static unsigned int nr_peers;

static void add_peer(const char *name, const char *lib, const char *m, const char *f)
{
	struct allocator *a = &peers[nr_peers];
	void *h = NULL;

	*a = (struct allocator){ .name = name, .alloc = peer_alloc, .free = peer_free };
	if (!lib) {
		a->malloc_fn = malloc;
		a->free_fn = free;
	} else {
		h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			fprintf(stderr, "bench_slab: %s not found (%s), skipping the peer\n",
				lib, dlerror());
			return;
		}
		a->malloc_fn = (void *(*)(size_t))dlsym(h, m);
		a->free_fn = (void (*)(void *))dlsym(h, f);
		if (!a->malloc_fn || !a->free_fn) {
			fprintf(stderr, "bench_slab: %s lacks %s/%s, skipping\n", lib, m, f);
			return;
		}
	}
	nr_peers++;
}

static void peers_init(void)
{
	add_peer("glibc", NULL, NULL, NULL);
	add_peer("jemalloc", "libjemalloc.so.2", "malloc", "free");
	add_peer("mimalloc", "libmimalloc.so.2", "mi_malloc", "mi_free");
	add_peer("tcmalloc", "libtcmalloc_minimal.so.4", "tc_malloc", "tc_free");
}

/* ---- The machine ---- */

static void boot(enum emu_mode mode, unsigned int cpus)
{
	struct emu_config cfg;
	char err[256] = "";

	if (emu_booted())
		emu_shutdown();
	emu_config_default(&cfg);
	cfg.ram_bytes = 1ULL << 30;
	cfg.cpus = cpus;
	cfg.mode = mode;
	cfg.mm.quiet = true;
	if (emu_boot(&cfg, err, sizeof(err))) {
		fprintf(stderr, "bench_slab: boot failed: %s\n", err);
		exit(1);
	}
}

static void oom(void)
{
	fprintf(stderr, "bench_slab: allocation failed\n");
	exit(1);
}

/* ---- Loops ---- */

struct loop {
	struct allocator *a;
	size_t size;
	const uint32_t *sizes;     /* kmalloc.random */
	void **pool;
	uint64_t pos;
};

static void hit_loop(void *arg, uint64_t iters)
{
	struct loop *l = arg;
	struct allocator *a = l->a;
	void *held[W];

	for (uint64_t i = 0; i < iters; i++) {
		for (unsigned int k = 0; k < W; k++) {
			held[k] = a->alloc(a, l->size);
			if (__builtin_expect(!held[k], 0))
				oom();
			bench_escape(held[k]);
		}
		for (unsigned int k = W; k-- > 0;)
			a->free(a, held[k]);
	}
}

static void **burst_buf;

static void burst_loop(void *arg, uint64_t iters)
{
	struct loop *l = arg;
	struct allocator *a = l->a;

	for (uint64_t i = 0; i < iters; i++) {
		for (unsigned int k = 0; k < BURST; k++) {
			burst_buf[k] = a->alloc(a, l->size);
			if (__builtin_expect(!burst_buf[k], 0))
				oom();
		}
		for (unsigned int k = 0; k < BURST; k++)
			a->free(a, burst_buf[k]);
	}
}

static void random_loop(void *arg, uint64_t iters)
{
	struct loop *l = arg;
	struct allocator *a = l->a;

	for (uint64_t i = 0; i < iters; i++) {
		uint64_t pos = l->pos++;
		void **slot = &l->pool[(pos * 2654435761u) % POOL];
		void *p;

		a->free(a, *slot);
		p = a->alloc(a, l->sizes[pos % RAND_LEN]);
		if (__builtin_expect(!p, 0))
			oom();
		*(volatile char *)p = 1;
		*slot = p;
	}
}

static void pool_fill(struct loop *l)
{
	for (unsigned int i = 0; i < POOL; i++) {
		l->pool[i] = l->a->alloc(l->a, l->sizes[(i * 7919u) % RAND_LEN]);
		if (!l->pool[i])
			oom();
	}
}

static void pool_empty(struct loop *l)
{
	for (unsigned int i = 0; i < POOL; i++)
		l->a->free(l->a, l->pool[i]);
}

/* Reports kmm against every peer (and the free list for fixed sizes). */
static void report_all(const char *name, const char *unit, double kmm,
		       const double *peer_val, const struct allocator *fl, double fl_val)
{
	if (fl)
		bench_report(name, unit, kmm, "freelist", fl_val);
	for (unsigned int p = 0; p < nr_peers; p++)
		bench_report(name, unit, kmm, peers[p].name, peer_val[p]);
}

static void run_fixed(const char *name, size_t size, enum emu_mode mode)
{
	struct allocator kmm = { .name = "kmm", .alloc = kmm_cache_alloc, .free = kmm_cache_free };
	struct allocator fl = { .name = "freelist", .alloc = fl_alloc, .free = fl_free };
	double kv, fv, pv[NR_PEERS];
	struct loop l = { .size = size };

	if (!bench_selected(name))
		return;
	boot(mode, 2);
	kmm.cache = kmem_cache_create(name, size, 0, 0, NULL);
	l.a = &kmm;
	kv = bench_ns_per_op(hit_loop, &l, W);
	freelist_setup(&fl, size, 4 * W);
	l.a = &fl;
	fv = bench_ns_per_op(hit_loop, &l, W);
	for (unsigned int p = 0; p < nr_peers; p++) {
		l.a = &peers[p];
		pv[p] = bench_ns_per_op(hit_loop, &l, W);
	}
	report_all(name, "ns/op", kv, pv, &fl, fv);
	if (kmm_check())
		exit(1);
	free(fl.freelist_mem);
}

static void run_burst(void)
{
	const char *name = "slab.burst1m";
	struct allocator kmm = { .name = "kmm", .alloc = kmm_cache_alloc, .free = kmm_cache_free };
	struct allocator fl = { .name = "freelist", .alloc = fl_alloc, .free = fl_free };
	double kv, fv, pv[NR_PEERS];
	struct loop l = { .size = 64 };

	if (!bench_selected(name))
		return;
	boot(EMU_DET, 2);
	burst_buf = malloc(BURST * sizeof(void *));
	kmm.cache = kmem_cache_create("burst64", 64, 0, 0, NULL);
	l.a = &kmm;
	kv = bench_ns_per_op(burst_loop, &l, BURST);
	freelist_setup(&fl, 64, BURST);
	l.a = &fl;
	fv = bench_ns_per_op(burst_loop, &l, BURST);
	free(fl.freelist_mem);
	for (unsigned int p = 0; p < nr_peers; p++) {
		l.a = &peers[p];
		pv[p] = bench_ns_per_op(burst_loop, &l, BURST);
	}
	report_all(name, "ns/op", kv, pv, &fl, fv);
	if (kmm_check())
		exit(1);
	free(burst_buf);
}

static uint32_t rand_sizes[RAND_LEN];

static void run_random(void)
{
	const char *name = "kmalloc.random";
	struct allocator kmm = { .name = "kmm", .alloc = kmm_kmalloc, .free = kmm_kfree };
	static void *pool[POOL];
	double kv, pv[NR_PEERS];
	struct loop l = { .sizes = rand_sizes, .pool = pool };

	if (!bench_selected(name))
		return;
	boot(EMU_DET, 2);
	l.a = &kmm;
	pool_fill(&l);
	kv = bench_ns_per_op(random_loop, &l, 1);
	pool_empty(&l);
	for (unsigned int p = 0; p < nr_peers; p++) {
		l.a = &peers[p];
		pool_fill(&l);
		pv[p] = bench_ns_per_op(random_loop, &l, 1);
		pool_empty(&l);
	}
	report_all(name, "ns/op", kv, pv, NULL, 0);
	if (kmm_check())
		exit(1);
}

/* ---- Memory overhead of the random mix ---- */

static long rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, rss = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = 0;
	fclose(f);
	return rss * sysconf(_SC_PAGESIZE);
}

static void run_overhead(void)
{
	const char *name = "kmalloc.random.overhead";
	static void *objs[OVERHEAD_N];
	double requested = 0, kv, pv[NR_PEERS], classes = 0;
	unsigned long before;

	if (!bench_selected(name))
		return;
	boot(EMU_DET, 2);
	for (unsigned int i = 0; i < OVERHEAD_N; i++)
		requested += rand_sizes[i];
	shrink_slab(GFP_KERNEL, 0);
	drain_all_pages();
	before = nr_free_pages();
	for (unsigned int i = 0; i < OVERHEAD_N; i++) {
		objs[i] = kmalloc(rand_sizes[i], GFP_KERNEL);
		if (!objs[i])
			oom();
		memset(objs[i], 1, rand_sizes[i]);
		classes += (double)ksize(objs[i]);
	}
	drain_all_pages();
	kv = (double)(before - nr_free_pages()) * PAGE_SIZE / requested;
	for (unsigned int i = 0; i < OVERHEAD_N; i++)
		kfree(objs[i]);
	/* Peers: resident memory growth while they hold the same blocks. */
	for (unsigned int p = 0; p < nr_peers; p++) {
		long r0 = rss_bytes();

		for (unsigned int i = 0; i < OVERHEAD_N; i++) {
			objs[i] = peers[p].malloc_fn(rand_sizes[i]);
			if (!objs[i])
				oom();
			memset(objs[i], 1, rand_sizes[i]);
		}
		pv[p] = (double)(rss_bytes() - r0) / requested;
		for (unsigned int i = 0; i < OVERHEAD_N; i++)
			peers[p].free_fn(objs[i]);
	}
	report_all(name, "x", kv, pv, NULL, 0);
	/* How much of kmm's overhead is the size classes themselves. */
	bench_report("kmalloc.random.overhead.classes", "x", kv, "size classes",
		     classes / requested);
	if (kmm_check())
		exit(1);
}

/* ---- Two CPUs: producer/consumer, scaling ---- */

#define RING 4096
struct prodcons {
	struct allocator *a;
	size_t n;
	_Atomic(void *) ring[RING];
	atomic_size_t head, tail;
	atomic_uint arrived;
	uint64_t start, end;
};

static void prodcons_fn(unsigned int cpu, void *arg)
{
	struct prodcons *pc = arg;
	struct allocator *a = pc->a;

	atomic_fetch_add(&pc->arrived, 1);
	while (atomic_load(&pc->arrived) < 2)
		;
	if (cpu == 0) {
		pc->start = bench_now_ns();
		for (size_t i = 0; i < pc->n; i++) {
			size_t h = atomic_load_explicit(&pc->head, memory_order_relaxed);
			void *p = a->alloc(a, 64);

			if (!p)
				oom();
			while (h - atomic_load_explicit(&pc->tail, memory_order_acquire) >= RING)
				;
			atomic_store_explicit(&pc->ring[h % RING], p, memory_order_relaxed);
			atomic_store_explicit(&pc->head, h + 1, memory_order_release);
		}
	} else {
		for (size_t i = 0; i < pc->n; i++) {
			size_t t = atomic_load_explicit(&pc->tail, memory_order_relaxed);
			void *p;

			while (atomic_load_explicit(&pc->head, memory_order_acquire) == t)
				;
			p = atomic_load_explicit(&pc->ring[t % RING], memory_order_relaxed);
			atomic_store_explicit(&pc->tail, t + 1, memory_order_release);
			a->free(a, p);
		}
		pc->end = bench_now_ns();
	}
}

static double prodcons_ns(struct allocator *a)
{
	static struct prodcons pc;
	double samples[64];
	int reps = bench_reps() < 64 ? bench_reps() : 64;

	for (int r = 0; r < reps; r++) {
		memset(&pc, 0, sizeof(pc));
		pc.a = a;
		pc.n = 2000000;
		if (emu_run_on_cpus(2, prodcons_fn, &pc))
			oom();
		samples[r] = (double)(pc.end - pc.start) / (double)pc.n;
	}
	return bench_statistic(samples, reps);
}

static void run_prodcons(void)
{
	const char *name = "slab.prodcons";
	struct allocator kmm = { .name = "kmm", .alloc = kmm_cache_alloc, .free = kmm_cache_free };
	double kv, pv[NR_PEERS];

	if (!bench_selected(name))
		return;
	boot(EMU_SMP, 2);
	kmm.cache = kmem_cache_create("prodcons64", 64, 0, 0, NULL);
	kv = prodcons_ns(&kmm);
	for (unsigned int p = 0; p < nr_peers; p++)
		pv[p] = prodcons_ns(&peers[p]);
	report_all(name, "ns/op", kv, pv, NULL, 0);
	if (kmm_check())
		exit(1);
}

struct scaling {
	struct allocator *a;
	unsigned int nr;
	uint64_t iters;
	atomic_uint arrived;
	uint64_t start[2], end[2];
};

static void scaling_fn(unsigned int cpu, void *arg)
{
	struct scaling *s = arg;
	struct loop l = { .a = s->a, .size = 64 };

	hit_loop(&l, s->iters / 8);
	atomic_fetch_add(&s->arrived, 1);
	while (atomic_load(&s->arrived) < s->nr)
		;
	s->start[cpu] = bench_now_ns();
	hit_loop(&l, s->iters);
	s->end[cpu] = bench_now_ns();
}

static double throughput(struct allocator *a, unsigned int n, uint64_t iters)
{
	struct scaling s = { .a = a, .nr = n, .iters = iters };
	uint64_t start = UINT64_MAX, end = 0;

	atomic_init(&s.arrived, 0);
	if (emu_run_on_cpus(n, scaling_fn, &s))
		oom();
	for (unsigned int c = 0; c < n; c++) {
		start = s.start[c] < start ? s.start[c] : start;
		end = s.end[c] > end ? s.end[c] : end;
	}
	return (double)n * (double)iters * W / ((double)(end - start) / 1e9);
}

static double scaling_ratio(struct allocator *a)
{
	double one[64], two[64], t;
	int reps = bench_reps() < 64 ? bench_reps() : 64;
	uint64_t iters = 1000;

	while ((t = (double)iters * W / throughput(a, 1, iters)) < 0.02)
		iters *= 2;
	iters = (uint64_t)((double)iters * 0.1 / t);
	for (int i = 0; i < reps; i++) {
		one[i] = throughput(a, 1, iters);
		two[i] = throughput(a, 2, iters);
	}
	return bench_statistic(two, reps) / bench_statistic(one, reps);
}

static void run_scaling(void)
{
	const char *name = "slab.scaling2";
	struct allocator kmm = { .name = "kmm", .alloc = kmm_cache_alloc, .free = kmm_cache_free };
	double kv, pv[NR_PEERS];

	if (!bench_selected(name))
		return;
	boot(EMU_SMP, 2);
	kmm.cache = kmem_cache_create("scaling64", 64, 0, 0, NULL);
	kv = scaling_ratio(&kmm);
	for (unsigned int p = 0; p < nr_peers; p++)
		pv[p] = scaling_ratio(&peers[p]);
	/* Here higher is better: ratio > 1 means kmm scales better than the peer. */
	report_all(name, "x", kv, pv, NULL, 0);
	if (kmm_check())
		exit(1);
}

int main(int argc, char **argv)
{
	uint64_t r = 88172645463325252ULL;

	bench_init(argc, argv);
	if (!bench_group_selected("slab.") && !bench_group_selected("kmalloc."))
		return 0;
	/*
	 * jemalloc uses initial-exec TLS, which a dlopen'ed library can only
	 * get from the static TLS surplus: ask the loader for more, once.
	 */
	if (!getenv("KMM_BENCH_SLAB_REEXEC")) {
		setenv("KMM_BENCH_SLAB_REEXEC", "1", 1);
		setenv("GLIBC_TUNABLES", "glibc.rtld.optional_static_tls=65536", 1);
		execv("/proc/self/exe", argv);
		/* If that fails, run without the jemalloc peer. */
	}
	peers_init();
	for (unsigned int i = 0; i < RAND_LEN; i++) {
		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		rand_sizes[i] = (uint32_t)(8 + r % (8192 - 8 + 1));
	}

	/* First, while every peer's heap is fresh: RSS growth is then its own. */
	run_overhead();
	run_fixed("slab.cache64", 64, EMU_DET);
	run_fixed("slab.cache256", 256, EMU_DET);
	run_fixed("slab.cache1k", 1024, EMU_DET);
	run_fixed("slab.cache64.smp", 64, EMU_SMP);
	run_burst();
	run_random();
	run_prodcons();
	run_scaling();
	if (emu_booted())
		emu_shutdown();
	return 0;
}
