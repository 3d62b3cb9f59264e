/*
 * The machine on each kernel memory allocator (--kma): booted with a
 * design, every kmalloc/kzalloc/krealloc/ksize/kfree and every object-cache
 * allocation comes from it — its statistics count them, the slab caches
 * grow no slab — and they behave as on slab: sizes usable, alignment kept,
 * contents intact, constructors applied, leaks reported at destroy, frames
 * back after everything is freed. Also the boot option's error, and the
 * allocation trace. Each test runs once per design ("property/design").
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmm/errno.h>
#include <kmm/kmm.h>
#include <kmm/page_alloc.h>
#include <kmm/slab.h>

#include "helpers.h"
#include "kma_test.h"

#define RAM (64 * MiB)

static const struct kma_ops *boot_kma(const char *name, unsigned int cpus, enum emu_mode mode)
{
	struct emu_config cfg;

	th_config(&cfg, RAM, cpus, mode);
	snprintf(cfg.mm.kma, sizeof(cfg.mm.kma), "%s", name);
	th_boot_cfg(&cfg);
	assert_non_null(kma_current);
	assert_string_equal(kma_current->name, name);
	assert_int_equal(kma_dispatching(), strcmp(name, "slab") != 0);
	return kma_current;
}

static bool is_slab(const struct kma_ops *k)
{
	return k == &kma_slab_ops;
}

static unsigned long free_now(void)
{
	drain_all_pages();
	return nr_free_pages();
}

static uint8_t pat(size_t i, unsigned int seed)
{
	return (uint8_t)(i * 31 + seed * 7 + 1);
}

static void fill(uint8_t *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = pat(i, seed);
}

static void verify(const uint8_t *p, size_t n, unsigned int seed, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != pat(i, seed))
			fail_msg("%s: byte %zu of block %u at %p changed", name, i, seed, p);
}

/* kmalloc and friends: all from the design, all intact, all counted. */
static void test_kmalloc(void **state)
{
	const struct kma_ops *k = boot_kma(*state, 2, EMU_DET);
	static const size_t sizes[] = { 1, 7, 8, 9, 16, 24, 40, 64, 96, 100, 128, 192,
					200, 256, 500, 512, 1000, 1024, 2000, 2048, 3000,
					4096, 5000, 8192, 8193, 20000, 65536, 100000 };
	enum { N = ARRAY_SIZE(sizes) };
	uint8_t *p[N];
	struct kma_stats before, st;
	unsigned long nalloc = 0;

	kma_get_stats(k, &before);
	assert_ptr_equal(kmalloc(0, GFP_KERNEL), ZERO_SIZE_PTR);
	kfree(NULL);
	kfree(ZERO_SIZE_PTR);
	for (unsigned int i = 0; i < N; i++) {
		p[i] = kmalloc(sizes[i], GFP_KERNEL);
		assert_non_null(p[i]);
		nalloc++;
		assert_true(IS_ALIGNED((uintptr_t)p[i], KMALLOC_MIN_SIZE));
		assert_true(ksize(p[i]) >= sizes[i]);
		fill(p[i], sizes[i], i);
	}
	kmm_check();
	for (unsigned int i = 0; i < N; i++)
		verify(p[i], sizes[i], i, k->name);

	/* krealloc: grows by moving (contents kept), shrinks in place. */
	for (unsigned int i = 0; i < N; i++) {
		size_t bigger = sizes[i] * 3 + 5;
		uint8_t *q = krealloc(p[i], bigger, GFP_KERNEL);

		assert_non_null(q);
		if (q != p[i])
			nalloc++;
		verify(q, sizes[i], i, k->name);
		assert_true(ksize(q) >= bigger);
		p[i] = krealloc(q, sizes[i], GFP_KERNEL);
		assert_ptr_equal(p[i], q);
		verify(p[i], sizes[i], i, k->name);
	}
	/* kzalloc and kcalloc give zeroes even from reused blocks. */
	for (unsigned int r = 0; r < 4; r++) {
		uint8_t *z = kmalloc(300, GFP_KERNEL);

		memset(z, 0xee, 300);
		kfree(z);
		z = r & 1 ? kcalloc(30, 10, GFP_KERNEL) : kzalloc(300, GFP_KERNEL);
		assert_non_null(z);
		for (unsigned int j = 0; j < 300; j++)
			assert_int_equal(z[j], 0);
		kfree(z);
		nalloc += 2;
	}
	assert_null(kcalloc(SIZE_MAX / 2, 4, GFP_KERNEL));
	kmm_check();
	for (unsigned int i = 0; i < N; i++)
		kfree(p[i]);
	kmm_check();

	kma_get_stats(k, &st);
	if (is_slab(k)) {
		/* The slab machine's kmalloc is the fast path: not counted here. */
		assert_int_equal(st.allocs, before.allocs);
	} else {
		assert_int_equal(st.allocs - before.allocs, nalloc);
		assert_int_equal(st.frees - before.frees, nalloc);
		assert_int_equal(st.live_requested, before.live_requested);
		assert_int_equal(st.live_footprint, before.live_footprint);
	}
}

/* A pointer kmalloc never gave is refused, whatever the design. */
static void test_bad_kfree(void **state)
{
	boot_kma(*state, 2, EMU_DET);
	struct page *pg = alloc_pages(GFP_KERNEL | __GFP_ZERO, 1);

	assert_non_null(pg);
	TH_EXPECT_PANIC(kfree((char *)page_address(pg) + PAGE_SIZE), "");
	th_shutdown();
}

static atomic_ulong ctor_runs;

static void ctor(void *obj)
{
	memset(obj, 0x5c, 16);
	atomic_fetch_add(&ctor_runs, 1);
}

/* Object caches: alignment, constructors, leak reports, slabinfo. */
static void test_caches(void **state)
{
	const struct kma_ops *k = boot_kma(*state, 2, EMU_DET);
	static const struct { size_t size, align; } shapes[] = {
		{ 24, 8 }, { 100, 64 }, { 200, 32 }, { 5000, 4096 }, { 40, 128 },
	};
	enum { M = 120 };
	static void *obj[M];
	struct kma_stats before, st;
	char text[16384];
	struct seq_buf s;

	kma_get_stats(k, &before);
	for (unsigned int c = 0; c < ARRAY_SIZE(shapes); c++) {
		size_t size = shapes[c].size, align = shapes[c].align;
		struct kmem_cache *cp = kmem_cache_create("kt_cache", size, align, 0, ctor);
		struct kmem_cache_info info;
		const char *log;

		assert_non_null(cp);
		atomic_store(&ctor_runs, 0);
		for (unsigned int i = 0; i < M; i++) {
			uint8_t *o = obj[i] = kmem_cache_alloc(cp, GFP_KERNEL);

			assert_non_null(o);
			if (!IS_ALIGNED((uintptr_t)o, align))
				fail_msg("%s: object of %zu at %p not %zu-aligned", k->name, size,
					 (void *)o, align);
			for (unsigned int j = 0; j < 16; j++)
				assert_int_equal(o[j], 0x5c);
			fill(o, size, i);
		}
		/* Slab constructs each object once, when its slab is made; the
		   other designs keep no constructed objects: at every allocation. */
		if (is_slab(k))
			assert_true(atomic_load(&ctor_runs) >= M);
		else
			assert_int_equal(atomic_load(&ctor_runs), M);
		kmm_check();
		for (unsigned int i = 0; i < M; i++)
			verify(obj[i], size, i, k->name);

		/* slabinfo counts the objects outstanding, wherever they are. */
		kmem_cache_get_info(cp, &info);
		seq_buf_init(&s, text, sizeof(text));
		slabinfo_show(&s, 0);
		assert_non_null(strstr(text, "kt_cache"));
		assert_true(is_slab(k) == !strstr(text, "# caches bypassed"));
		if (!is_slab(k))
			assert_int_equal(info.slabs_full + info.slabs_partial, 0);

		for (unsigned int i = 1; i < M; i++)
			kmem_cache_free(cp, obj[i]);
		/* One object left: destroy refuses, and says so. */
		th_capture_begin();
		assert_int_equal(kmem_cache_destroy(cp), -KMM_EBUSY);
		log = th_capture_end();
		if (!strstr(log, "1 object still allocated"))
			fail_msg("%s: leak report: %s", k->name, log);
		kmem_cache_free(cp, obj[0]);
		assert_int_equal(kmem_cache_destroy(cp), 0);
		kmm_check();
	}
	/* __GFP_ZERO on a cache without a constructor. */
	{
		struct kmem_cache *cp = kmem_cache_create("kt_zero", 72, 0, 0, NULL);
		uint8_t *o = kmem_cache_alloc(cp, GFP_KERNEL);

		memset(o, 0xaa, 72);
		kmem_cache_free(cp, o);
		o = kmem_cache_alloc(cp, GFP_KERNEL | __GFP_ZERO);
		for (unsigned int j = 0; j < 72; j++)
			assert_int_equal(o[j], 0);
		kmem_cache_free(cp, o);
		assert_int_equal(kmem_cache_destroy(cp), 0);
	}
	kma_get_stats(k, &st);
	if (!is_slab(k)) {
		assert_int_equal(st.allocs - before.allocs, ARRAY_SIZE(shapes) * M + 2);
		assert_int_equal(st.live_requested, before.live_requested);
	}
	kmm_check();
}

/* Everything freed and shrunk: the frames are back (or within the bound). */
static void test_frames(void **state)
{
	const struct kma_ops *k = boot_kma(*state, 2, EMU_DET);
	struct kmem_cache *cp = kmem_cache_create("kt_frames", 180, 0, 0, NULL);
	struct kt_work w;
	struct kma_stats st;
	static void *obj[2000];
	unsigned long before;

	assert_non_null(cp);
	kmem_cache_shrink(cp);
	kma_shrink(k);
	before = free_now();
	/* kt_work goes through kma_alloc; this machine's kmalloc as well. */
	for (unsigned int round = 0; round < 2; round++) {
		kt_work_init(&w, k, 0x1234 + round, 256, 10000);
		kt_work_run(&w, 5000);
		for (unsigned int i = 0; i < ARRAY_SIZE(obj); i++) {
			obj[i] = i % 2 ? kmem_cache_alloc(cp, GFP_KERNEL)
				       : kmalloc(8 + i * 13 % 3000, GFP_KERNEL);
			assert_non_null(obj[i]);
		}
		kmm_check();
		for (unsigned int i = 0; i < ARRAY_SIZE(obj); i++) {
			if (i % 2)
				kmem_cache_free(cp, obj[i]);
			else
				kfree(obj[i]);
		}
		kt_work_free_all(&w);
		kt_work_destroy(&w);
	}
	kmem_cache_shrink(cp);
	kma_shrink(k);
	kmm_check();
	kma_get_stats(k, &st);
	if (k->flags & KMA_RETURNS_FRAMES)
		assert_int_equal(free_now(), before);
	else
		assert_true(before - free_now() <=
			    k->retained_bound((unsigned long)st.pages_held_peak));
	assert_int_equal(kmem_cache_destroy(cp), 0);
}

/* Two CPUs allocate and free across each other, through kmalloc and a cache. */
struct smp_arg {
	struct kmem_cache *cp;
	void *p[2][512];
	atomic_int bad;
};

static void smp_alloc(unsigned int cpu, void *arg)
{
	struct smp_arg *a = arg;

	for (unsigned int r = 0; r < 20; r++) {
		for (unsigned int i = 0; i < 512; i++) {
			a->p[cpu][i] = i % 2 ? kmem_cache_alloc(a->cp, GFP_KERNEL)
					     : kmalloc(16 + (i * 37 + cpu) % 2000, GFP_KERNEL);
			if (!a->p[cpu][i])
				atomic_store(&a->bad, 1);
			else
				*(unsigned int *)a->p[cpu][i] = cpu * 1000 + i;
		}
		for (unsigned int i = 0; i < 512; i += 4) {
			if (i % 2)
				kmem_cache_free(a->cp, a->p[cpu][i]);
			else
				kfree(a->p[cpu][i]);
			a->p[cpu][i] = NULL;
		}
		for (unsigned int i = 0; i < 512; i++) {
			if (!a->p[cpu][i])
				continue;
			if (*(unsigned int *)a->p[cpu][i] != cpu * 1000 + i)
				atomic_store(&a->bad, 2);
			if (i % 2)
				kmem_cache_free(a->cp, a->p[cpu][i]);
			else
				kfree(a->p[cpu][i]);
		}
	}
}

static void test_smp(void **state)
{
	const struct kma_ops *k = boot_kma(*state, 2, EMU_SMP);
	static struct smp_arg a;
	struct kma_stats st;

	a.cp = kmem_cache_create("kt_smp", 48, 16, 0, NULL);
	assert_non_null(a.cp);
	atomic_store(&a.bad, 0);
	assert_int_equal(emu_run_on_cpus(2, smp_alloc, &a), 0);
	assert_int_equal(atomic_load(&a.bad), 0);
	kmm_check();
	assert_int_equal(kmem_cache_destroy(a.cp), 0);
	kma_get_stats(k, &st);
	if (!is_slab(k)) {
		assert_int_equal(st.allocs, st.frees);
		assert_int_equal(st.live_requested, 0);
	}
}

/* An unknown name stops the boot, and the console names the choices. */
static void test_unknown(void **state)
{
	struct emu_config cfg;
	char err[256] = "";
	const char *log;

	th_config(&cfg, RAM, 1, EMU_DET);
	snprintf(cfg.mm.kma, sizeof(cfg.mm.kma), "slub");
	th_capture_begin();
	assert_int_not_equal(emu_boot(&cfg, err, sizeof(err)), 0);
	log = th_capture_end();
	if (!strstr(log, "'slub'") || !strstr(log, "slab, buddy, rmap, p2, mk, zone, dynix"))
		fail_msg("boot log: %s", log);
	assert_false(emu_booted());
}

/* The trace: every kmalloc, cache allocation and free, on slab only. */
static struct { char op; const void *p; size_t size; } trace[64];
static unsigned int ntrace;

static void record(char op, const void *p, size_t size)
{
	if (ntrace < ARRAY_SIZE(trace))
		trace[ntrace].op = op, trace[ntrace].p = p, trace[ntrace].size = size;
	ntrace++;
}

static void test_trace(void **state)
{
	struct kmem_cache *cp;
	void *a, *b, *c;

	boot_kma("slab", 1, EMU_DET);
	cp = kmem_cache_create("kt_trace", 40, 0, 0, NULL);
	ntrace = 0;
	assert_int_equal(kma_trace_start(record), 0);
	assert_true(kma_dispatching());
	a = kmalloc(100, GFP_KERNEL);
	b = kmem_cache_alloc(cp, GFP_KERNEL);
	c = kmalloc(20000, GFP_KERNEL);
	kfree(a);
	kmem_cache_free(cp, b);
	kfree(c);
	kma_trace_stop();
	assert_false(kma_dispatching());
	kfree(kmalloc(10, GFP_KERNEL));
	assert_int_equal(ntrace, 6);
	assert_true(trace[0].op == 'k' && trace[0].p == a && trace[0].size == 100);
	assert_true(trace[1].op == 'c' && trace[1].p == b && trace[1].size == 40);
	assert_true(trace[2].op == 'k' && trace[2].p == c && trace[2].size == 20000);
	assert_true(trace[3].op == 'f' && trace[3].p == a);
	assert_true(trace[4].op == 'f' && trace[4].p == b);
	assert_true(trace[5].op == 'f' && trace[5].p == c);
	assert_int_equal(kmem_cache_destroy(cp), 0);
	kmm_check();

	boot_kma("zone", 1, EMU_DET);
	assert_int_equal(kma_trace_start(record), -KMM_EBUSY);
	assert_int_equal(kma_trace_start(NULL), -KMM_EINVAL);
	(void)state;
}

#define KM_TEST(fn, name) { #fn "/" #name, fn, NULL, th_teardown, #name },
#define KM_TESTS(name)                                                         \
	KM_TEST(test_kmalloc, name) KM_TEST(test_bad_kfree, name)              \
	KM_TEST(test_caches, name) KM_TEST(test_frames, name)                  \
	KM_TEST(test_smp, name)

int main(void)
{
	const struct CMUnitTest tests[] = {
		KT_ALLOCATORS(KM_TESTS)
		cmocka_unit_test_teardown(test_unknown, th_teardown),
		cmocka_unit_test_teardown(test_trace, th_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
