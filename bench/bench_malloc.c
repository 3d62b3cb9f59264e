/*
 * malloc.* benchmarks: libkmm-malloc against glibc, jemalloc, mimalloc and
 * tcmalloc on standard allocator workloads, written for this project after
 * their published descriptions:
 *
 *   malloc.larson     server churn (Larson & Krishnan 1998): each thread
 *                     replaces random blocks (16..1024 bytes) of an array of
 *                     live blocks; after a round the array passes to a new
 *                     thread, which frees what the old one allocated
 *   malloc.cscratch   cache-scratch (Berger et al., Hoard 2000): each thread
 *                     frees a small block the main thread allocated for it,
 *                     then allocates, writes many times and frees blocks of
 *                     that size: an allocator that hands two threads the
 *                     same cache line (passive false sharing) is slow
 *   malloc.xmalloc    producer/consumer (after Lever & Boreham's xmalloc
 *                     test): blocks allocated on one thread, freed on another
 *   malloc.mix        one thread, random sizes (mostly small, some up to
 *                     64 KiB) replacing random members of a live pool
 *   malloc.realloc    buffers grown by realloc, vector-style, to 256 KiB
 *   malloc.python     python3 running an allocation-heavy script, the
 *                     allocator preloaded (LD_PRELOAD; glibc: none)
 *
 * Every allocator runs the same loop code through function pointers. Each
 * (workload, allocator) pair runs in a child process of its own, which
 * dlopens the allocator (RTLD_LOCAL: the child's own malloc stays glibc's),
 * so the peak RSS the parent reads from wait4 is that pair's alone. Lines:
 * ns per operation (kmm against each peer), peak RSS in KiB (name.rss), and
 * malloc.geomean: the geometric mean over workloads of kmm's time over the
 * best peer's (and malloc.geomean.rss, the same for peak RSS).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define MAX(a, b) ((a) > (b) ? (a) : (b))

#ifndef KMM_MALLOC_SO
#define KMM_MALLOC_SO "libkmm-malloc.so"
#endif

/* ---- Allocators ---- */

struct allocator {
	const char *name;
	const char *lib;             /* NULL: glibc, the process's own */
	const char *malloc_sym, *free_sym, *realloc_sym;
	void *(*malloc)(size_t);
	void (*free)(void *);
	void *(*realloc)(void *, size_t);
};

static struct allocator allocators[] = {
	{ .name = "kmm", .lib = KMM_MALLOC_SO, .malloc_sym = "malloc", .free_sym = "free",
	  .realloc_sym = "realloc" },
	{ .name = "glibc" },
	{ .name = "jemalloc", .lib = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
	  .malloc_sym = "malloc", .free_sym = "free", .realloc_sym = "realloc" },
	{ .name = "mimalloc", .lib = "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2",
	  .malloc_sym = "mi_malloc", .free_sym = "mi_free", .realloc_sym = "mi_realloc" },
	{ .name = "tcmalloc", .lib = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
	  .malloc_sym = "tc_malloc", .free_sym = "tc_free", .realloc_sym = "tc_realloc" },
};
#define NR_ALLOCATORS (sizeof(allocators) / sizeof(allocators[0]))

/* In the child: binds a's functions. Returns 0, or -1 (and says why). */
static int allocator_open(struct allocator *a)
{
	void *h;

	if (!a->lib) {
		a->malloc = malloc;
		a->free = free;
		a->realloc = realloc;
		return 0;
	}
	h = dlopen(a->lib, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "bench_malloc: %s: %s\n", a->name, dlerror());
		return -1;
	}
	a->malloc = (void *(*)(size_t))dlsym(h, a->malloc_sym);
	a->free = (void (*)(void *))dlsym(h, a->free_sym);
	a->realloc = (void *(*)(void *, size_t))dlsym(h, a->realloc_sym);
	if (!a->malloc || !a->free || !a->realloc) {
		fprintf(stderr, "bench_malloc: %s lacks its functions\n", a->name);
		return -1;
	}
	return 0;
}

static void oom(void)
{
	fprintf(stderr, "bench_malloc: allocation failed\n");
	_exit(2);
}

static inline uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* ---- larson ---- */

#define LARSON_THREADS 2
#define LARSON_SLOTS 1000
#define LARSON_OPS 20000     /* per thread per round */

struct larson_arg {
	struct allocator *a;
	void **slots;
	uint64_t seed;
};

static void *larson_thread(void *p)
{
	struct larson_arg *l = p;
	struct allocator *a = l->a;

	for (unsigned int i = 0; i < LARSON_OPS; i++) {
		unsigned int k = (unsigned int)(rnd(&l->seed) % LARSON_SLOTS);
		size_t n = 16 + rnd(&l->seed) % 1009;

		a->free(l->slots[k]);
		l->slots[k] = a->malloc(n);
		if (!l->slots[k])
			oom();
		*(volatile char *)l->slots[k] = 1;
	}
	return NULL;
}

struct larson_state {
	struct allocator *a;
	void *slots[LARSON_THREADS][LARSON_SLOTS];
	uint64_t seed;
};

/* One iteration: a round of LARSON_THREADS new threads, each inheriting the
   array of the last round's thread. */
static void larson_loop(void *arg, uint64_t iters)
{
	struct larson_state *st = arg;

	for (uint64_t r = 0; r < iters; r++) {
		pthread_t t[LARSON_THREADS];
		struct larson_arg la[LARSON_THREADS];

		for (unsigned int i = 0; i < LARSON_THREADS; i++) {
			la[i] = (struct larson_arg){ st->a, st->slots[i], st->seed + i * 7919 + r };
			pthread_create(&t[i], NULL, larson_thread, &la[i]);
		}
		for (unsigned int i = 0; i < LARSON_THREADS; i++)
			pthread_join(t[i], NULL);
		st->seed = la[0].seed;
	}
}

static double run_larson(struct allocator *a)
{
	static struct larson_state st;
	double ns;

	memset(&st, 0, sizeof(st));
	st.a = a;
	st.seed = 88172645463325252ULL;
	for (unsigned int i = 0; i < LARSON_THREADS; i++)
		for (unsigned int k = 0; k < LARSON_SLOTS; k++)
			st.slots[i][k] = a->malloc(16 + k % 1000);
	ns = bench_ns_per_op(larson_loop, &st, (double)LARSON_THREADS * LARSON_OPS);
	for (unsigned int i = 0; i < LARSON_THREADS; i++)
		for (unsigned int k = 0; k < LARSON_SLOTS; k++)
			a->free(st.slots[i][k]);
	return ns;
}

/* ---- cache-scratch ---- */

#define CS_THREADS 2
#define CS_OBJ 8
#define CS_INNER 100          /* allocations per thread per iteration */
#define CS_WRITES 500

struct cs_arg {
	struct allocator *a;
	char *first;
};

static void *cs_thread(void *p)
{
	struct cs_arg *c = p;
	struct allocator *a = c->a;

	a->free(c->first);
	for (unsigned int i = 0; i < CS_INNER; i++) {
		volatile char *o = a->malloc(CS_OBJ);

		if (!o)
			oom();
		for (unsigned int w = 0; w < CS_WRITES; w++)
			for (unsigned int b = 0; b < CS_OBJ; b++)
				o[b] = (char)(o[b] + 1);
		a->free((void *)o);
	}
	return NULL;
}

static void cs_loop(void *arg, uint64_t iters)
{
	struct allocator *a = arg;

	for (uint64_t r = 0; r < iters; r++) {
		pthread_t t[CS_THREADS];
		struct cs_arg ca[CS_THREADS];

		/* Allocated together by one thread: likely on one cache line. */
		for (unsigned int i = 0; i < CS_THREADS; i++)
			ca[i] = (struct cs_arg){ a, a->malloc(CS_OBJ) };
		for (unsigned int i = 0; i < CS_THREADS; i++)
			pthread_create(&t[i], NULL, cs_thread, &ca[i]);
		for (unsigned int i = 0; i < CS_THREADS; i++)
			pthread_join(t[i], NULL);
	}
}

static double run_cscratch(struct allocator *a)
{
	return bench_ns_per_op(cs_loop, a, (double)CS_THREADS * CS_INNER);
}

/* ---- xmalloc-style producer/consumer ---- */

/*
 * Blocks travel in batches (as xmalloc-test hands over lists of blocks), so
 * that the two threads meet once per XM_BATCH blocks: the workload measures
 * remote frees, not how the host schedules two spinning threads.
 */
#define XM_BATCH 256
#define XM_QUEUE 16            /* batches in flight */
#define XM_BLOCKS (XM_BATCH * 64)

struct xm_ring {
	struct allocator *a;
	void *batch[XM_QUEUE][XM_BATCH];
	_Alignas(64) atomic_uint head;
	_Alignas(64) atomic_uint tail;
	uint64_t batches;
};

/* Spins a while (the other thread is likely running), then yields. */
static inline void wait_a_little(unsigned int spin)
{
	if (spin < 200)
		__builtin_ia32_pause();
	else
		sched_yield();
}

static void *xm_consumer(void *p)
{
	struct xm_ring *r = p;

	for (uint64_t b = 0; b < r->batches; b++) {
		unsigned int t = atomic_load_explicit(&r->tail, memory_order_relaxed);

		for (unsigned int spin = 0;
		     atomic_load_explicit(&r->head, memory_order_acquire) == t; spin++)
			wait_a_little(spin);
		for (unsigned int i = 0; i < XM_BATCH; i++)
			r->a->free(r->batch[t % XM_QUEUE][i]);
		atomic_store_explicit(&r->tail, t + 1, memory_order_release);
	}
	return NULL;
}

static void xm_loop(void *arg, uint64_t iters)
{
	struct xm_ring *r = arg;
	pthread_t t;
	uint64_t seed = 1234567;

	atomic_store(&r->head, 0);
	atomic_store(&r->tail, 0);
	r->batches = iters * (XM_BLOCKS / XM_BATCH);
	pthread_create(&t, NULL, xm_consumer, r);
	for (uint64_t b = 0; b < r->batches; b++) {
		unsigned int h = atomic_load_explicit(&r->head, memory_order_relaxed);

		for (unsigned int spin = 0;
		     h - atomic_load_explicit(&r->tail, memory_order_acquire) == XM_QUEUE; spin++)
			wait_a_little(spin);
		for (unsigned int i = 0; i < XM_BATCH; i++) {
			void *p = r->a->malloc(8 + rnd(&seed) % 248);

			if (!p)
				oom();
			*(volatile char *)p = 1;
			r->batch[h % XM_QUEUE][i] = p;
		}
		atomic_store_explicit(&r->head, h + 1, memory_order_release);
	}
	pthread_join(t, NULL);
}

static double run_xmalloc(struct allocator *a)
{
	static struct xm_ring r;

	r.a = a;
	return bench_ns_per_op(xm_loop, &r, XM_BLOCKS);
}

/* ---- random-size mix ---- */

#define MIX_POOL 4096
#define MIX_OPS 100000

struct mix_state {
	struct allocator *a;
	void *pool[MIX_POOL];
	uint64_t seed;
};

static size_t mix_size(uint64_t *s)
{
	uint64_t r = rnd(s);

	switch (r % 16) {
	case 0:
		return 1 + (r >> 8) % 65536;        /* 1 in 16: up to 64 KiB */
	case 1: case 2: case 3:
		return 1 + (r >> 8) % 4096;
	default:
		return 1 + (r >> 8) % 256;          /* most: small */
	}
}

static void mix_loop(void *arg, uint64_t iters)
{
	struct mix_state *m = arg;

	for (uint64_t i = 0; i < iters * MIX_OPS; i++) {
		unsigned int k = (unsigned int)(rnd(&m->seed) % MIX_POOL);

		m->a->free(m->pool[k]);
		m->pool[k] = m->a->malloc(mix_size(&m->seed));
		if (!m->pool[k])
			oom();
		*(volatile char *)m->pool[k] = 1;
	}
}

static double run_mix(struct allocator *a)
{
	static struct mix_state m;
	double ns;

	m.a = a;
	m.seed = 99991;
	for (unsigned int k = 0; k < MIX_POOL; k++)
		m.pool[k] = a->malloc(mix_size(&m.seed));
	ns = bench_ns_per_op(mix_loop, &m, MIX_OPS);
	for (unsigned int k = 0; k < MIX_POOL; k++)
		a->free(m.pool[k]);
	return ns;
}

/* ---- realloc growth ---- */

#define RG_BUFS 16
#define RG_MAX (256 * 1024)

static void rg_loop(void *arg, uint64_t iters)
{
	struct allocator *a = arg;

	for (uint64_t r = 0; r < iters; r++) {
		char *b[RG_BUFS] = { 0 };
		size_t n = 16;

		/* The buffers grow in turn, so none can just extend in place. */
		while (n < RG_MAX) {
			n += n / 2;
			for (unsigned int i = 0; i < RG_BUFS; i++) {
				b[i] = a->realloc(b[i], n);
				if (!b[i])
					oom();
				b[i][n - 1] = 1;
			}
		}
		for (unsigned int i = 0; i < RG_BUFS; i++)
			a->free(b[i]);
	}
}

static double run_realloc(struct allocator *a)
{
	unsigned int steps = 0;

	for (size_t n = 16; n < RG_MAX; n += n / 2)
		steps++;
	return bench_ns_per_op(rg_loop, a, (double)steps * RG_BUFS);
}

/* ---- python3 ---- */

static const char python_script[] =
	"d = {i: str(i) * (i % 29) for i in range(300000)}\n"
	"l = [list(range(i % 200)) for i in range(30000)]\n"
	"s = [bytes(i % 5000) for i in range(20000)]\n"
	"t = sorted(d.values())\n"
	"import json\n"
	"j = json.loads(json.dumps({str(i): [i, str(i)] for i in range(100000)}))\n"
	"print(len(d), len(l), len(s), len(t), len(j))\n";

static char python_path[4096];

/* Finds the real python3 (not a wrapper script), once. */
static bool python_find(void)
{
	FILE *f = popen("python3 -c 'import sys; print(sys.executable)' 2>/dev/null", "r");

	if (!f)
		return false;
	if (!fgets(python_path, sizeof(python_path), f))
		python_path[0] = '\0';
	pclose(f);
	python_path[strcspn(python_path, "\n")] = '\0';
	return python_path[0] != '\0';
}

/* Runs python3 once under a (NULL: glibc); ns of wall time, peak RSS. */
static double python_run(struct allocator *a, long *maxrss_kb)
{
	uint64_t t0 = bench_now_ns();
	struct rusage ru;
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd >= 0)
			dup2(fd, 1);
		unsetenv("GLIBC_TUNABLES");
		if (a->lib)
			setenv("LD_PRELOAD", a->lib, 1);
		else
			unsetenv("LD_PRELOAD");
		execl(python_path, python_path, "-c", python_script, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		return -1;
	*maxrss_kb = ru.ru_maxrss;
	return (double)(bench_now_ns() - t0);
}

/* ---- Driver ---- */

struct workload {
	const char *name;
	double (*run)(struct allocator *a);
};

static const struct workload workloads[] = {
	{ "malloc.larson", run_larson },
	{ "malloc.cscratch", run_cscratch },
	{ "malloc.xmalloc", run_xmalloc },
	{ "malloc.mix", run_mix },
	{ "malloc.realloc", run_realloc },
	{ "malloc.python", NULL },
};
#define NR_WORKLOADS (sizeof(workloads) / sizeof(workloads[0]))

struct result {
	double ns;      /* < 0: did not run */
	long rss_kb;
};

/* Runs one workload on one allocator in a child process. */
static struct result measure(const struct workload *w, struct allocator *a)
{
	struct result res = { -1, 0 };
	int fds[2], status;
	struct rusage ru;
	pid_t pid;

	if (!w->run) {
		double best = -1;

		/* Wall time of a whole process: the median of a few runs. */
		for (int i = 0; i < 3; i++) {
			long rss = 0;
			double ns = python_run(a, &rss);

			if (ns < 0)
				return res;
			if (best < 0 || ns < best)
				best = ns;
			res.rss_kb = MAX(res.rss_kb, rss);
		}
		res.ns = best;
		return res;
	}
	if (pipe(fds))
		return res;
	pid = fork();
	if (pid == 0) {
		double ns = -1;

		close(fds[0]);
		if (!allocator_open(a))
			ns = w->run(a);
		if (write(fds[1], &ns, sizeof(ns)) != sizeof(ns))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	if (pid < 0 || read(fds[0], &res.ns, sizeof(res.ns)) != sizeof(res.ns))
		res.ns = -1;
	close(fds[0]);
	if (pid > 0 && wait4(pid, &status, 0, &ru) == pid && WIFEXITED(status) &&
	    !WEXITSTATUS(status))
		res.rss_kb = ru.ru_maxrss;
	else
		res.ns = -1;
	return res;
}

int main(int argc, char **argv)
{
	double log_time = 0, log_rss = 0;
	unsigned int n_geo = 0;
	bool have_python;

	/*
	 * The peers (and kmm) use initial-exec TLS; dlopen'ed after start-up
	 * they need glibc's optional static TLS surplus, which is too small by
	 * default for jemalloc: ask for more, re-executing once.
	 */
	if (!getenv("KMM_BENCH_MALLOC_TLS")) {
		setenv("KMM_BENCH_MALLOC_TLS", "1", 1);
		setenv("GLIBC_TUNABLES", "glibc.rtld.optional_static_tls=65536", 1);
		execv("/proc/self/exe", argv);
	}
	bench_init(argc, argv);
	if (!bench_group_selected("malloc"))
		return 0;
	have_python = python_find();
	for (unsigned int wi = 0; wi < NR_WORKLOADS; wi++) {
		const struct workload *w = &workloads[wi];
		struct result r[NR_ALLOCATORS];
		double best_ns = -1;
		long best_rss = -1;
		char rss_name[64];

		if (!bench_selected(w->name))
			continue;
		if (!w->run && !have_python) {
			fprintf(stderr, "bench_malloc: %s skipped: no python3\n", w->name);
			continue;
		}
		for (unsigned int ai = 0; ai < NR_ALLOCATORS; ai++) {
			r[ai] = measure(w, &allocators[ai]);
			if (r[ai].ns < 0)
				fprintf(stderr, "bench_malloc: %s on %s did not run\n", w->name,
					allocators[ai].name);
		}
		if (r[0].ns < 0)
			continue;
		snprintf(rss_name, sizeof(rss_name), "%s.rss", w->name);
		for (unsigned int ai = 1; ai < NR_ALLOCATORS; ai++) {
			const char *unit = w->run ? "ns/op" : "ns/run";

			if (r[ai].ns < 0)
				continue;
			bench_report(w->name, unit, r[0].ns, allocators[ai].name, r[ai].ns);
			bench_report(rss_name, "KiB", (double)r[0].rss_kb, allocators[ai].name,
				     (double)r[ai].rss_kb);
			if (best_ns < 0 || r[ai].ns < best_ns)
				best_ns = r[ai].ns;
			if (best_rss < 0 || r[ai].rss_kb < best_rss)
				best_rss = r[ai].rss_kb;
		}
		if (best_ns > 0 && best_rss > 0) {
			log_time += log(r[0].ns / best_ns);
			log_rss += log((double)r[0].rss_kb / (double)best_rss);
			n_geo++;
		}
	}
	if (n_geo) {
		/* kmm's geometric-mean ratio to the best peer of each workload. */
		double g = exp(log_time / n_geo), gr = exp(log_rss / n_geo);

		bench_report("malloc.geomean", "ratio", g, "best", 1.0);
		bench_report("malloc.geomean.rss", "ratio", gr, "best", 1.0);
	}
	return 0;
}
