/*
 * The conformance suite of the kernel memory allocators (mm/kma/): one body
 * per property, run over every registered design, slab (kmalloc) included. What each design
 * promises differs, and the tests read it from its ops rather than from a
 * list here: min_align, natural alignment (KMA_NATURAL_ALIGN up to
 * natural_align_max), whether every frame comes back after shrink
 * (KMA_RETURNS_FRAMES) or how many it may keep (retained_bound).
 *
 *   slab   8-byte aligned, naturally up to a page; shrink returns every
 *          free slab (its boot caches' frames stay, counted as held)
 *   buddy  page-aligned, naturally aligned; returns everything on free
 *   rmap   16-byte aligned only; returns every wholly free grown block
 *   p2     8-byte aligned only (the header); keeps its small-block pages
 *   mk     naturally aligned; keeps its small-block pages (4.3BSD)
 *   zone   naturally aligned for powers of two; zone_gc returns free chunks
 *   dynix  naturally aligned; shrink flushes the per-CPU caches, then all
 *          free spans are back
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
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

static const struct kma_ops *boot_for(void **state)
{
	return kt_boot((const char *)*state, RAM, 2, EMU_DET);
}

static unsigned long free_now(void)
{
	drain_all_pages();
	return nr_free_pages();
}

/* Free frames plus the frames k holds: constant while k is the only user
   of memory. (Only slab holds frames at boot: its caches' own slabs.) */
static unsigned long free_plus_held(const struct kma_ops *k)
{
	struct kma_stats st;

	kma_get_stats(k, &st);
	return free_now() + (unsigned long)st.pages_held;
}

/* Sizes from 1 byte to several pages: each usable whole, aligned, kept intact. */
static void test_sizes(void **state)
{
	const struct kma_ops *k = boot_for(state);
	static const size_t sizes[] = { 1,    2,    3,    7,     8,     9,     15,    16,
					17,   24,   31,   32,    33,    48,    63,    64,
					65,   96,   100,  127,   128,   129,   192,   255,
					256,  257,  500,  512,   513,   1000,  1024,  1025,
					2000, 2047, 2048, 2049,  3000,  4000,  4088,  4095,
					4096, 4097, 6000, 8191,  8192,  8193,  12288, 16384,
					20000, 65536, 100000 };
	struct kt_slot s[ARRAY_SIZE(sizes)];

	assert_true(k->min_align >= 8);
	for (unsigned int i = 0; i < ARRAY_SIZE(sizes); i++) {
		s[i] = (struct kt_slot){ .size = sizes[i], .gen = i };
		s[i].p = kma_alloc(k, sizes[i], GFP_KERNEL);
		if (!s[i].p)
			fail_msg("%s: %zu bytes failed", k->name, sizes[i]);
		assert_true(IS_ALIGNED((uintptr_t)s[i].p, k->min_align));
		if (k->usable_size)
			assert_true(k->usable_size(s[i].p) >= sizes[i]);
		assert_true(k->footprint(sizes[i]) >= sizes[i]);
		kt_fill(&s[i], i);
		kt_check(k);
	}
	for (unsigned int i = 0; i < ARRAY_SIZE(sizes); i++)
		kt_verify(&s[i], i);
	for (unsigned int i = 0; i < ARRAY_SIZE(sizes); i += 2)
		kma_free(k, s[i].p, s[i].size);
	kt_check(k);
	for (unsigned int i = 1; i < ARRAY_SIZE(sizes); i += 2) {
		kt_verify(&s[i], i);
		kma_free(k, s[i].p, s[i].size);
	}
	kt_check(k);

	struct kma_stats st;
	kma_get_stats(k, &st);
	assert_int_equal(st.allocs, ARRAY_SIZE(sizes));
	assert_int_equal(st.frees, ARRAY_SIZE(sizes));
	assert_int_equal(st.live_requested, 0);
	assert_int_equal(st.live_footprint, 0);
	assert_true(st.pages_held_peak > 0);

	/* Too large, and zero, fail cleanly and are counted. */
	assert_null(kma_alloc(k, k->max_size + 1, GFP_KERNEL | __GFP_NOWARN));
	assert_null(kma_alloc(k, 0, GFP_KERNEL));
	kma_get_stats(k, &st);
	assert_int_equal(st.failures, 2);
	/* __GFP_ZERO gives zeroed bytes even from a reused block. */
	for (unsigned int i = 0; i < 4; i++) {
		uint8_t *p = kma_alloc(k, 200, GFP_KERNEL);

		assert_non_null(p);
		memset(p, 0xaa, 200);
		kma_free(k, p, 200);
		p = kma_alloc(k, 200, GFP_KERNEL | __GFP_ZERO);
		for (unsigned int j = 0; j < 200; j++)
			assert_int_equal(p[j], 0);
		kma_free(k, p, 200);
	}
	kt_check(k);
}

/* Natural alignment where the design promises it; its minimum everywhere. */
static void test_alignment(void **state)
{
	const struct kma_ops *k = boot_for(state);
	enum { N = 9 };
	void *p[N];

	for (size_t size = 1; size <= 256 * KiB; size <<= 1) {
		size_t want = k->min_align;

		if ((k->flags & KMA_NATURAL_ALIGN) && size <= k->natural_align_max)
			want = MAX(want, size);
		for (unsigned int i = 0; i < N; i++) {
			p[i] = kma_alloc(k, size, GFP_KERNEL);
			assert_non_null(p[i]);
			if (!IS_ALIGNED((uintptr_t)p[i], want))
				fail_msg("%s: %zu bytes at %p, not %zu-aligned", k->name, size, p[i],
					 want);
		}
		for (unsigned int i = 0; i < N; i++)
			kma_free(k, p[i], size);
	}
	/* Odd sizes: the minimum. */
	for (size_t size = 3; size < 20000; size = size * 3 + 1) {
		void *q = kma_alloc(k, size, GFP_KERNEL);

		assert_non_null(q);
		assert_true(IS_ALIGNED((uintptr_t)q, k->min_align));
		kma_free(k, q, size);
	}
	kt_check(k);
}

/*
 * Exhaustion on a small machine: allocate until even the smallest request
 * fails; the allocator and the page allocator stay consistent, everything
 * can be freed, and memory can be allocated again.
 */
static void test_exhaustion(void **state)
{
	const struct kma_ops *k = kt_boot((const char *)*state, 16 * MiB, 1, EMU_DET);
	static const size_t sizes[] = { 20000, 3000, 1000, 200, 64, 16 };
	size_t cap = 1 << 16, n = 0;
	struct kt_slot *held = malloc(cap * sizeof(*held));
	unsigned long before = free_now();
	struct kma_stats st;

	kma_shrink(k);   /* slab: nothing free kept from boot */
	before = free_now();

	assert_non_null(held);
	for (unsigned int si = 0; si < ARRAY_SIZE(sizes); si++) {
		for (;;) {
			void *p = kma_alloc(k, sizes[si], GFP_KERNEL | __GFP_NOWARN);

			if (!p)
				break;
			if (n == cap) {
				cap *= 2;
				held = realloc(held, cap * sizeof(*held));
				assert_non_null(held);
			}
			held[n] = (struct kt_slot){ .p = p, .size = sizes[si], .gen = (uint32_t)n };
			/* The first and last 8 bytes: enough to catch overlap, cheap. */
			memcpy(held[n].p, &n, sizeof(n));
			memcpy(held[n].p + sizes[si] - sizeof(n), &n, sizeof(n));
			n++;
		}
		kt_check(k);
	}
	kma_get_stats(k, &st);
	assert_true(st.failures >= ARRAY_SIZE(sizes));
	assert_true(n > 100);
	/* A second failure at the bottom leaves everything as it was. */
	assert_null(kma_alloc(k, 16, GFP_KERNEL | __GFP_NOWARN));
	kt_check(k);
	for (size_t i = 0; i < n; i++) {
		size_t a, b;

		memcpy(&a, held[i].p, sizeof(a));
		memcpy(&b, held[i].p + held[i].size - sizeof(b), sizeof(b));
		if (a != i || b != i)
			fail_msg("%s: block %zu (%zu bytes at %p) overwritten", k->name, i,
				 held[i].size, held[i].p);
	}
	for (size_t i = 0; i < n; i++)
		kma_free(k, held[i].p, held[i].size);
	kma_shrink(k);
	kt_check(k);
	if (k->flags & KMA_RETURNS_FRAMES)
		assert_int_equal(free_now(), before);
	/* And it allocates again. */
	for (unsigned int i = 0; i < 100; i++) {
		held[i].p = kma_alloc(k, 100, GFP_KERNEL);
		assert_non_null(held[i].p);
	}
	for (unsigned int i = 0; i < 100; i++)
		kma_free(k, held[i].p, 100);
	kt_check(k);
	free(held);
}

/* Random alloc/free against the reference patterns, with the checker. */
static void test_random(void **state)
{
	const struct kma_ops *k = boot_for(state);
	struct kt_work w;

	kt_work_init(&w, k, 0x5eed1234, 1024, 20000);
	w.check_every = 2000;
	kt_work_run(&w, 60000);
	kt_check(k);
	assert_true(w.allocs > 20000);
	assert_int_equal(w.fails, 0);
	kt_work_free_all(&w);
	kt_check(k);

	struct kma_stats st;
	kma_get_stats(k, &st);
	assert_int_equal(st.allocs, w.allocs);
	assert_int_equal(st.frees, w.frees);
	assert_int_equal(st.live_requested, 0);
	for (unsigned int c = 0; c < KMA_NR_CLASSES; c++)
		assert_int_equal(st.class[c].live, 0);
	kt_work_destroy(&w);
}

/*
 * Frames after everything is freed and the allocator shrunk: all back for
 * the designs that return them; for the others, no more than their bound,
 * and a second identical run takes no new frames (the kept ones are reused).
 */
static void test_frames_returned(void **state)
{
	const struct kma_ops *k = boot_for(state);
	unsigned long before, held_boot;
	struct kma_stats st;
	struct kt_work w;
	long held_first;

	kma_shrink(k);
	kma_get_stats(k, &st);
	held_boot = (unsigned long)st.pages_held;
	before = free_plus_held(k);

	kt_work_init(&w, k, 0xfeedbeef, 512, 30000);
	kt_work_run(&w, 20000);
	kt_work_free_all(&w);
	kma_shrink(k);
	kt_check(k);
	kma_get_stats(k, &st);
	held_first = st.pages_held;
	assert_int_equal(free_now() + (unsigned long)st.pages_held, before);
	if (k->flags & KMA_RETURNS_FRAMES) {
		assert_int_equal(st.pages_held, held_boot);
		assert_int_equal(free_now() + held_boot, before);
	} else {
		assert_true((unsigned long)st.pages_held <=
			    k->retained_bound((unsigned long)st.pages_held_peak));
	}
	/* Again with the same seed: what was kept is enough. */
	kt_work_destroy(&w);
	kt_work_init(&w, k, 0xfeedbeef, 512, 30000);
	kt_work_run(&w, 20000);
	kt_work_free_all(&w);
	kma_shrink(k);
	kt_check(k);
	kma_get_stats(k, &st);
	assert_int_equal(st.pages_held, held_first);
	assert_int_equal(free_now() + (unsigned long)st.pages_held, before);
	kt_work_destroy(&w);
}

/*
 * A double free is caught, by free itself or by the design's checker. The
 * slab allocator catches it only with its debug flag (SLAB_DEBUG_FREE, set
 * here for the kmalloc caches before boot): without it the second free
 * lands in a magazine unseen, the price of a fast path that reads nothing
 * of the object — the other designs check a header or a page tag anyway.
 */
static void test_double_free(void **state)
{
	const struct kma_ops *k;
	void *a, *b;

	kmem_debug_flags = !strcmp((const char *)*state, "slab") ? SLAB_DEBUG_FREE : 0;
	k = boot_for(state);
	kmem_debug_flags = 0;
	a = kma_alloc(k, 40, GFP_KERNEL);
	b = kma_alloc(k, 40, GFP_KERNEL);

	assert_non_null(a);
	assert_non_null(b);
	kma_free(k, a, 40);
	TH_EXPECT_PANIC((kma_free(k, a, 40), kma_check_one(k)), "");
	th_shutdown();
}

/* The registry: lookups, selection, registration errors, the view. */
static void test_registry(void **state)
{
	const struct kma_ops *k = kt_boot("rmap", RAM, 2, EMU_DET);
	char text[8192];
	struct seq_buf s;
	void *p;

	assert_true(kma_count() >= 6);
	for (unsigned int i = 0; i < kma_count(); i++)
		assert_ptr_equal(kma_find(kma_at(i)->name), kma_at(i));
	assert_null(kma_at(kma_count()));
	assert_null(kma_find("nonesuch"));
	assert_int_equal(kma_select("nonesuch"), -KMM_ENOENT);
	assert_int_equal(kma_select("zone"), 0);
	assert_ptr_equal(kma_current, kma_find("zone"));
	kma_current = NULL;
	assert_int_equal(kma_register(&kma_rmap_ops), -KMM_EEXIST);
	assert_int_equal(kma_register(NULL), -KMM_EINVAL);
	/* slab may or may not be registered yet: both are fine. */
	if (kma_find("slab"))
		assert_int_equal(kma_select("slab"), 0), kma_current = NULL;

	p = kma_alloc(k, 100, GFP_KERNEL);
	assert_non_null(p);
	seq_buf_init(&s, text, sizeof(text));
	assert_int_equal(kmm_view_show("kmainfo", 0, &s), 0);
	assert_false(seq_buf_overflowed(&s));
	assert_non_null(strstr(text, "\nrmap "));
	assert_null(strstr(text, "\np2 "));     /* unused allocators have no row */
	kma_free(k, p, 100);
	kma_check();
}

/* One entry per property and allocator, named "property/allocator". */
#define KT_TEST(fn, name) { #fn "/" #name, fn, NULL, th_teardown, #name },
#define KT_TESTS(name)                                                          \
	KT_TEST(test_sizes, name) KT_TEST(test_alignment, name)                 \
	KT_TEST(test_exhaustion, name) KT_TEST(test_random, name)               \
	KT_TEST(test_frames_returned, name) KT_TEST(test_double_free, name)

int main(void)
{
	const struct CMUnitTest tests[] = {
		KT_ALLOCATORS(KT_TESTS)
		cmocka_unit_test_teardown(test_registry, th_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
