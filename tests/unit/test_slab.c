/*
 * The slab allocator on a deterministic machine: every kmalloc size class
 * and cache alignment, constructor run counts, colouring offsets, the slab
 * list transitions, shrinking back to the buddy allocator, page-allocator
 * failures, destroy with leaks, a randomized workload across caches under
 * both invariant checkers, the debug checks, and the views.
 *
 * Expectations come from the cache's own geometry (objects per slab,
 * colours, free-slab limit from kmem_cache_get_info), so a change of tuning
 * moves them with it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmm/emu.h>
#include <kmm/errno.h>
#include <kmm/fault_inject.h>
#include <kmm/kmm.h>
#include <kmm/page_alloc.h>
#include <kmm/shrinker.h>
#include <kmm/slab.h>

#include "helpers.h"

#define MACHINE (128 * MiB)

static void boot(void)
{
	th_boot(MACHINE, 2, EMU_DET);
}

static int teardown(void **state)
{
	fault_attr_configure(&fail_page_alloc, 0, 0, 0);
	kmem_debug_flags = 0;
	return th_teardown(state);
}

static struct kmem_cache_info info_of(struct kmem_cache *c)
{
	struct kmem_cache_info i;

	kmem_cache_get_info(c, &i);
	return i;
}

static void check_all(void)
{
	assert_int_equal(slab_check(), 0);
	assert_int_equal(page_alloc_check(), 0);
}

/* Frames free in the buddy allocator after everything is drained. */
static unsigned long settled_free(void)
{
	shrink_slab(GFP_KERNEL, 0);
	drain_all_pages();
	return nr_free_pages();
}

/* ---- kmalloc ---- */

static size_t expected_class(size_t size)
{
	for (unsigned int i = 0; i < KMALLOC_NR_CACHES; i++)
		if (size <= kmalloc_class_size(i))
			return kmalloc_class_size(i);
	return 0;
}

static void test_kmalloc_every_size(void **state)
{
	boot();
	for (size_t size = 1; size <= KMALLOC_MAX_CACHE_SIZE; size++) {
		uint8_t *p = kmalloc(size, GFP_KERNEL);
		size_t cls = expected_class(size);

		assert_non_null(p);
		assert_int_equal(ksize(p), cls);
		assert_ptr_equal(kmalloc_cache(size), virt_to_page(p)->slab_cache);
		/* Powers of two are naturally aligned, 96 and 192 to 32, all to 8. */
		if (!(cls & (cls - 1)))
			assert_true(IS_ALIGNED((uintptr_t)p, MIN(cls, PAGE_SIZE)));
		else
			assert_true(IS_ALIGNED((uintptr_t)p, 32));
		memset(p, 0xa5, size);
		kfree(p);
	}
	/* kzalloc zeroes what a dirty object left. */
	for (unsigned int i = 0; i < KMALLOC_NR_CACHES; i++) {
		size_t size = kmalloc_class_size(i);
		uint8_t *p = kmalloc(size, GFP_KERNEL);

		memset(p, 0xff, size);
		kfree(p);
		p = kzalloc(size, GFP_KERNEL);
		for (size_t b = 0; b < size; b++)
			assert_int_equal(p[b], 0);
		kfree(p);
	}
	check_all();
}

static void test_kmalloc_large_and_edges(void **state)
{
	static const size_t sizes[] = { 8193, 12288, 16384, 65537, 1 << 20, 4 << 20 };
	unsigned long before;

	boot();
	before = settled_free();
	for (unsigned int i = 0; i < ARRAY_SIZE(sizes); i++) {
		uint8_t *p = kmalloc(sizes[i], GFP_KERNEL);
		struct page *page;

		assert_non_null(p);
		page = virt_to_page(p);
		assert_true(page_flag(page, PG_head));
		assert_false(page_flag(page, PG_slab));
		assert_true(ksize(p) >= sizes[i]);
		assert_true(ksize(p) < 2 * sizes[i] + PAGE_SIZE);
		assert_true(IS_ALIGNED((uintptr_t)p, PAGE_SIZE));
		p[0] = 1;
		p[sizes[i] - 1] = 2;
		kfree(p);
	}
	assert_null(kmalloc(KMALLOC_MAX_SIZE + 1, GFP_KERNEL | __GFP_NOWARN));
	assert_ptr_equal(kmalloc(0, GFP_KERNEL), ZERO_SIZE_PTR);
	kfree(ZERO_SIZE_PTR);
	kfree(NULL);
	assert_int_equal(ksize(ZERO_SIZE_PTR), 0);
	assert_null(kcalloc(SIZE_MAX / 2, 4, GFP_KERNEL));
	assert_int_equal(settled_free(), before);
	check_all();
}

static void test_krealloc(void **state)
{
	uint8_t *p, *q;

	boot();
	p = krealloc(NULL, 20, GFP_KERNEL);
	assert_non_null(p);
	assert_int_equal(ksize(p), 32);
	for (int i = 0; i < 20; i++)
		p[i] = (uint8_t)i;
	q = krealloc(p, 30, GFP_KERNEL);       /* fits: in place */
	assert_ptr_equal(p, q);
	q = krealloc(p, 100, GFP_KERNEL);      /* moves to kmalloc-128 */
	assert_ptr_not_equal(p, q);
	assert_int_equal(ksize(q), 128);
	for (int i = 0; i < 20; i++)
		assert_int_equal(q[i], i);
	p = krealloc(q, 20000, GFP_KERNEL);    /* to pages */
	assert_non_null(p);
	assert_true(page_flag(virt_to_page(p), PG_head));
	for (int i = 0; i < 20; i++)
		assert_int_equal(p[i], i);
	q = krealloc(p, 0, GFP_KERNEL);
	assert_ptr_equal(q, ZERO_SIZE_PTR);
	check_all();
}

/* ---- Caches: alignment, constructors, colouring, lists ---- */

static void test_cache_alignment(void **state)
{
	static const size_t sizes[] = { 1, 7, 24, 100, 640, 1000, 3000, 5000, 20000 };
	void *objs[40];

	boot();
	for (size_t align = 0; align <= PAGE_SIZE; align = align ? align * 2 : 1) {
		for (unsigned int s = 0; s < ARRAY_SIZE(sizes); s++) {
			char name[32];
			struct kmem_cache *c;
			struct kmem_cache_info i;

			snprintf(name, sizeof(name), "align-%zu-%zu", align, sizes[s]);
			c = kmem_cache_create(name, sizes[s], align, 0, NULL);
			assert_non_null(c);
			i = info_of(c);
			assert_true(i.buffer_size >= sizes[s]);
			assert_true(i.objs_per_slab >= 1);
			for (unsigned int k = 0; k < ARRAY_SIZE(objs); k++) {
				objs[k] = kmem_cache_alloc(c, GFP_KERNEL);
				assert_non_null(objs[k]);
				assert_true(IS_ALIGNED((uintptr_t)objs[k], MAX(align, 8)));
				memset(objs[k], (int)k, sizes[s]);
			}
			/* The slab order keeps the unused tail within 1/8 of a slab. */
			i = info_of(c);
			if (i.waste_leftover * 8 > i.bytes_total)
				fail_msg("cache %s: leftover %lu of %lu bytes (order %u)", name,
					 i.waste_leftover, i.bytes_total, i.pages_per_slab);
			for (unsigned int k = 0; k < ARRAY_SIZE(objs); k++) {
				const uint8_t *b = objs[k];
				assert_int_equal(b[0], (uint8_t)k);
				assert_int_equal(b[sizes[s] - 1], (uint8_t)k);
			}
			for (unsigned int k = 0; k < ARRAY_SIZE(objs); k++)
				kmem_cache_free(c, objs[k]);
			check_all();
			assert_int_equal(kmem_cache_destroy(c), 0);
		}
	}
	/* Impossible arguments. */
	assert_null(kmem_cache_create("zero", 0, 0, 0, NULL));
	assert_null(kmem_cache_create("huge", KMEM_MAX_OBJECT_SIZE + 1, 0, 0, NULL));
	assert_null(kmem_cache_create("odd-align", 64, 24, 0, NULL));
	assert_null(kmem_cache_create(NULL, 64, 0, 0, NULL));
	check_all();
}

struct thing {
	uint64_t magic;
	uint64_t generation;
	char data[48];
};

static unsigned long ctor_runs;

static void thing_ctor(void *obj)
{
	struct thing *t = obj;

	t->magic = 0x7468696e67ULL;
	t->generation = 0;
	ctor_runs++;
}

static void test_constructor_runs_once(void **state)
{
	struct thing *objs[500];
	struct kmem_cache *c;
	struct kmem_cache_info i;

	boot();
	ctor_runs = 0;
	c = kmem_cache_create("thing", sizeof(struct thing), 0, 0, thing_ctor);
	assert_non_null(c);
	assert_int_equal(ctor_runs, 0);        /* nothing until a slab exists */
	for (unsigned int k = 0; k < ARRAY_SIZE(objs); k++) {
		objs[k] = kmem_cache_alloc(c, GFP_KERNEL);
		assert_int_equal(objs[k]->magic, 0x7468696e67ULL);
		objs[k]->generation++;            /* use it... */
	}
	i = info_of(c);
	/* One run per object of every slab created, at slab creation. */
	assert_int_equal(ctor_runs, i.grown * i.objs_per_slab);
	assert_int_equal(i.ctor_calls, ctor_runs);
	for (unsigned int k = 0; k < ARRAY_SIZE(objs); k++) {
		objs[k]->generation--;            /* ...and return it constructed */
		kmem_cache_free(c, objs[k]);
	}
	/* Round trips through the magazines and the slabs: no more runs. */
	for (int round = 0; round < 5; round++) {
		for (unsigned int k = 0; k < ARRAY_SIZE(objs); k++) {
			objs[k] = kmem_cache_alloc(c, GFP_KERNEL);
			assert_int_equal(objs[k]->magic, 0x7468696e67ULL);
			assert_int_equal(objs[k]->generation, 0);
		}
		for (unsigned int k = 0; k < ARRAY_SIZE(objs); k++)
			kmem_cache_free(c, objs[k]);
	}
	assert_int_equal(ctor_runs, info_of(c).grown * i.objs_per_slab);
	/* A released slab takes its objects' construction with it. */
	kmem_cache_shrink(c);
	objs[0] = kmem_cache_alloc(c, GFP_KERNEL);
	i = info_of(c);
	assert_int_equal(ctor_runs, i.grown * i.objs_per_slab);
	kmem_cache_free(c, objs[0]);
	assert_int_equal(kmem_cache_destroy(c), 0);
	check_all();
}

static void test_colouring(void **state)
{
	struct kmem_cache *c;
	struct kmem_cache_info i;
	void *objs[4096];
	uintptr_t first_off[64];
	unsigned int nslabs = 0;

	boot();
	/* 200-byte objects leave 40+ bytes per page: several colours. */
	c = kmem_cache_create("colour", 200, 0, SLAB_NO_MAGAZINE, NULL);
	i = info_of(c);
	assert_false(i.off_slab);
	assert_true(i.colours >= 1);
	assert_int_equal(i.colour_off, 64);
	/* Fill colours + 2 slabs; a new slab hands out its object 0 first. */
	unsigned int n = (i.colours + 2) * i.objs_per_slab;
	assert_true(n <= ARRAY_SIZE(objs));
	for (unsigned int k = 0; k < n; k++) {
		objs[k] = kmem_cache_alloc(c, GFP_KERNEL);
		if (k % i.objs_per_slab == 0)
			first_off[nslabs++] = (uintptr_t)objs[k] & (PAGE_SIZE - 1);
	}
	assert_int_equal(info_of(c).grown, nslabs);
	for (unsigned int s = 0; s < nslabs; s++)
		assert_int_equal(first_off[s] - first_off[0],
				 (s % i.colours) * i.colour_off);
	for (unsigned int k = 0; k < n; k++)
		kmem_cache_free(c, objs[k]);
	assert_int_equal(kmem_cache_destroy(c), 0);

	/* A cache with no room to spare has one colour. */
	c = kmem_cache_create("nocolour", 512, 0, 0, NULL);
	i = info_of(c);
	assert_true(i.off_slab);
	assert_int_equal(i.colours, 1);
	assert_int_equal(kmem_cache_destroy(c), 0);
	check_all();
}

static void test_slab_lists(void **state)
{
	struct kmem_cache *c;
	struct kmem_cache_info i;
	void *objs[2048];
	unsigned long free0, limit;
	unsigned int num;

	boot();
	c = kmem_cache_create("lists", 128, 0, SLAB_NO_MAGAZINE, NULL);
	i = info_of(c);
	num = i.objs_per_slab;
	assert_int_equal(i.slabs_full + i.slabs_partial + i.slabs_free, 0);

	objs[0] = kmem_cache_alloc(c, GFP_KERNEL);
	i = info_of(c);
	assert_int_equal(i.slabs_partial, 1);
	assert_int_equal(i.active_objs, 1);
	for (unsigned int k = 1; k < num; k++)
		objs[k] = kmem_cache_alloc(c, GFP_KERNEL);
	i = info_of(c);
	assert_int_equal(i.slabs_full, 1);
	assert_int_equal(i.slabs_partial, 0);
	objs[num] = kmem_cache_alloc(c, GFP_KERNEL);
	i = info_of(c);
	assert_int_equal(i.slabs_full, 1);
	assert_int_equal(i.slabs_partial, 1);
	kmem_cache_free(c, objs[0]);              /* full -> partial */
	i = info_of(c);
	assert_int_equal(i.slabs_full, 0);
	assert_int_equal(i.slabs_partial, 2);
	kmem_cache_free(c, objs[num]);            /* partial -> free */
	i = info_of(c);
	assert_int_equal(i.slabs_partial, 1);
	assert_int_equal(i.slabs_free, 1);
	check_all();
	objs[0] = kmem_cache_alloc(c, GFP_KERNEL); /* partial is preferred */
	assert_int_equal(info_of(c).slabs_free, 1);
	for (unsigned int k = 0; k < num; k++)
		kmem_cache_free(c, objs[k]);
	assert_int_equal(info_of(c).slabs_free, 2);

	/* Free slabs are kept to a limit; the rest go back to the buddy lists. */
	unsigned int n = 10 * num;
	for (unsigned int k = 0; k < n; k++)
		objs[k] = kmem_cache_alloc(c, GFP_KERNEL);
	drain_all_pages();
	free0 = nr_free_pages();
	for (unsigned int k = 0; k < n; k++)
		kmem_cache_free(c, objs[k]);
	i = info_of(c);
	limit = i.slabs_free;
	assert_true(limit >= 1 && limit < 10);
	assert_int_equal(i.slabs_full + i.slabs_partial, 0);
	drain_all_pages();
	assert_int_equal(nr_free_pages() - free0, (10 - limit) * i.pages_per_slab);
	assert_int_equal(kmem_cache_shrink(c), limit * i.pages_per_slab);
	assert_int_equal(info_of(c).slabs_free, 0);
	assert_int_equal(kmem_cache_destroy(c), 0);
	check_all();
}

/* ---- Cooperation with the page allocator ---- */

static void test_shrink_returns_frames(void **state)
{
	struct kmem_cache *c;
	void **objs;
	unsigned long base, used;
	const unsigned int n = 20000;

	boot();
	c = kmem_cache_create("shrinkme", 300, 0, 0, NULL);
	base = settled_free();
	objs = calloc(n, sizeof(*objs));
	for (unsigned int k = 0; k < n; k++) {
		objs[k] = (k & 1) ? kmem_cache_alloc(c, GFP_KERNEL)
				  : kmalloc(8 + (k * 37) % 3000, GFP_KERNEL);
		assert_non_null(objs[k]);
	}
	drain_all_pages();
	used = base - nr_free_pages();
	assert_true(used > 1000);
	for (unsigned int k = 0; k < n; k++) {
		if (k & 1)
			kmem_cache_free(c, objs[k]);
		else
			kfree(objs[k]);
	}
	check_all();
	/* Magazines and free slabs hold frames until the shrinker runs. */
	drain_all_pages();
	assert_true(nr_free_pages() < base);
	assert_true(shrink_slab(GFP_KERNEL, 0) > 0);
	drain_all_pages();
	assert_int_equal(nr_free_pages(), base);
	check_all();
	assert_int_equal(kmem_cache_destroy(c), 0);
	free(objs);
}

static void test_page_alloc_failure(void **state)
{
	struct kmem_cache *c, *big;
	void *p;

	boot();
	c = kmem_cache_create("fail", 100, 0, 0, NULL);
	big = kmem_cache_create("fail-big", 2000, 0, 0, NULL);   /* off-slab */
	/* The very first slab cannot be made. */
	fault_attr_configure(&fail_page_alloc, 1, 0, 0);
	assert_null(kmem_cache_alloc(c, GFP_KERNEL | __GFP_NOWARN));
	assert_int_equal(info_of(c).alloc_fail, 1);
	check_all();
	p = kmem_cache_alloc(c, GFP_KERNEL);
	assert_non_null(p);
	kmem_cache_free(c, p);
	fault_attr_configure(&fail_page_alloc, 1, 0, 0);
	assert_null(kmalloc(100000, GFP_KERNEL | __GFP_NOWARN));
	check_all();

	/* Random failures (25%) under a mixed load: NULLs, never damage. */
	fault_attr_configure(&fail_page_alloc, 0, 250000, 42);
	{
		static void *objs[6000];
		unsigned int nulls = 0;
		uint64_t r = 7;

		for (unsigned int k = 0; k < ARRAY_SIZE(objs); k++) {
			r ^= r << 13, r ^= r >> 7, r ^= r << 17;
			switch (k % 3) {
			case 0: objs[k] = kmem_cache_alloc(c, GFP_KERNEL | __GFP_NOWARN); break;
			case 1: objs[k] = kmem_cache_alloc(big, GFP_KERNEL | __GFP_NOWARN); break;
			default: objs[k] = kmalloc(1 + r % 20000, GFP_KERNEL | __GFP_NOWARN);
			}
			nulls += !objs[k];
			if (k % 500 == 0)
				check_all();
		}
		assert_true(nulls > 0);
		assert_true(atomic_load(&fail_page_alloc.injected) > 0);
		fault_attr_configure(&fail_page_alloc, 0, 0, 0);
		check_all();
		for (unsigned int k = 0; k < ARRAY_SIZE(objs); k++) {
			if (k % 3 == 0)
				kmem_cache_free(c, objs[k]);
			else if (k % 3 == 1)
				kmem_cache_free(big, objs[k]);
			else
				kfree(objs[k]);
		}
	}
	check_all();
	assert_int_equal(kmem_cache_destroy(c), 0);
	assert_int_equal(kmem_cache_destroy(big), 0);
	check_all();
}

static void test_destroy_with_leaks(void **state)
{
	struct kmem_cache *c;
	void *a, *b, *d;
	const char *text;
	char addr[32];
	unsigned long before;

	boot();
	before = settled_free();
	c = kmem_cache_create("leaky", 64, 0, 0, NULL);
	a = kmem_cache_alloc(c, GFP_KERNEL);
	b = kmem_cache_alloc(c, GFP_KERNEL);
	d = kmem_cache_alloc(c, GFP_KERNEL);
	kmem_cache_free(c, b);
	th_capture_begin();
	assert_int_equal(kmem_cache_destroy(c), -KMM_EBUSY);
	text = th_capture_end();
	assert_non_null(strstr(text, "leaky"));
	assert_non_null(strstr(text, "2 objects still allocated"));
	snprintf(addr, sizeof(addr), "%p", a);
	assert_non_null(strstr(text, addr));
	snprintf(addr, sizeof(addr), "%p", d);
	assert_non_null(strstr(text, addr));
	/* The cache survives with the leaked objects' slab. */
	assert_ptr_equal(kmem_cache_find("leaky"), c);
	assert_int_equal(info_of(c).active_objs, 2);
	check_all();
	kmem_cache_free(c, a);
	kmem_cache_free(c, d);
	assert_int_equal(kmem_cache_destroy(c), 0);
	assert_null(kmem_cache_find("leaky"));
	assert_int_equal(settled_free(), before);
	check_all();
}

/*
 * The depot keeps its working set: magazines unused through whole update
 * intervals go back, and once every depot is empty the update stops
 * queueing itself (so time may leap ahead).
 */
static void test_depot_working_set(void **state)
{
	static void *objs[3000];
	struct kmem_cache *c;
	struct kmem_cache_info i;

	boot();
	c = kmem_cache_create("depot", 64, 0, 0, NULL);
	for (unsigned int k = 0; k < ARRAY_SIZE(objs); k++)
		objs[k] = kmem_cache_alloc(c, GFP_KERNEL);
	for (unsigned int k = 0; k < ARRAY_SIZE(objs); k++)
		kmem_cache_free(c, objs[k]);
	i = info_of(c);
	assert_true(i.depot_full > 100);
	assert_int_equal(i.magazine_objs, ARRAY_SIZE(objs));
	/* Still in use: one interval takes nothing back. */
	emu_advance_ns(KMEM_UPDATE_INTERVAL_NS);
	assert_int_equal(info_of(c).depot_full, i.depot_full);
	check_all();
	emu_advance_ns(4 * KMEM_UPDATE_INTERVAL_NS);
	i = info_of(c);
	assert_int_equal(i.depot_full, 0);
	assert_int_equal(i.depot_empty, 0);
	assert_true(i.magazine_objs <= 2 * i.magazine_size);
	check_all();
	emu_advance_ns(UINT64_MAX);     /* returns: nothing left queued */
	assert_int_equal(kmem_cache_destroy(c), 0);
}

/* ---- Randomized ---- */

struct live {
	void *p;
	size_t size;
	int kind;      /* -1: kmalloc, else a cache index */
};

static void fill(void *p, size_t size)
{
	uint8_t *b = p;
	uint8_t v = (uint8_t)((uintptr_t)p >> 3);

	for (size_t i = 0; i < size; i++)
		b[i] = (uint8_t)(v + i);
}

static void verify(const void *p, size_t size)
{
	const uint8_t *b = p;
	uint8_t v = (uint8_t)((uintptr_t)p >> 3);

	for (size_t i = 0; i < size; i++)
		if (b[i] != (uint8_t)(v + i))
			fail_msg("object %p byte %zu changed while allocated", p, i);
}

static void random_run(unsigned int debug, uint64_t seed, unsigned long ops)
{
	static const size_t csize[] = { 24, 200, 700, 4000 };
	struct kmem_cache *caches[ARRAY_SIZE(csize)];
	static struct live live[4096];
	unsigned int nlive = 0;
	unsigned long before;
	uint64_t r = seed;

	kmem_debug_flags = debug;
	boot();
	before = settled_free();
	for (unsigned int i = 0; i < ARRAY_SIZE(csize); i++) {
		char name[32];

		snprintf(name, sizeof(name), "rand-%zu", csize[i]);
		caches[i] = kmem_cache_create(name, csize[i], 0, 0, NULL);
		assert_non_null(caches[i]);
	}
	for (unsigned long op = 0; op < ops; op++) {
		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		/* Phases that grow and shrink the live set. */
		bool grow = ((op / 5000) & 1) ? (r % 100) < 35 : (r % 100) < 65;

		if ((grow && nlive < ARRAY_SIZE(live)) || nlive == 0) {
			struct live *l = &live[nlive];
			unsigned int k = (unsigned int)((r >> 8) % 6);

			if (k < ARRAY_SIZE(csize)) {
				l->kind = (int)k;
				l->size = csize[k];
				l->p = kmem_cache_alloc(caches[k], GFP_KERNEL);
			} else {
				l->kind = -1;
				l->size = 1 + (r >> 16) % ((r >> 40) & 1 ? 8192 : 20000);
				l->p = kmalloc(l->size, GFP_KERNEL);
			}
			assert_non_null(l->p);
			fill(l->p, l->size);
			nlive++;
		} else {
			unsigned int idx = (unsigned int)((r >> 20) % nlive);
			struct live *l = &live[idx];

			verify(l->p, l->size);
			if (l->kind < 0)
				kfree(l->p);
			else
				kmem_cache_free(caches[l->kind], l->p);
			live[idx] = live[--nlive];
		}
		/* Switch CPUs now and then: frees land in another CPU's magazines. */
		if (op % 97 == 0)
			emu_set_cpu((unsigned int)(r >> 33) & 1);
		if (op % 20000 == 0)
			check_all();
	}
	for (unsigned int i = 0; i < nlive; i++) {
		verify(live[i].p, live[i].size);
		if (live[i].kind < 0)
			kfree(live[i].p);
		else
			kmem_cache_free(caches[live[i].kind], live[i].p);
	}
	check_all();
	for (unsigned int i = 0; i < ARRAY_SIZE(csize); i++)
		assert_int_equal(kmem_cache_destroy(caches[i]), 0);
	emu_set_cpu(0);
	assert_int_equal(settled_free(), before);
	check_all();
}

static void test_random(void **state)
{
	random_run(0, 0x9e3779b97f4a7c15ULL, 400000);
}

static void test_random_debug(void **state)
{
	random_run(SLAB_DEBUG, 0x1234567ULL, 150000);
}

/* ---- Debug checks ---- */

static struct kmem_cache *debug_cache(void)
{
	struct kmem_cache *c;

	boot();
	c = kmem_cache_create("dbg", 40, 0, SLAB_DEBUG, NULL);
	assert_non_null(c);
	return c;
}

static void test_debug_double_free(void **state)
{
	struct kmem_cache *c = debug_cache();
	void *p = kmem_cache_alloc(c, GFP_KERNEL);
	char needle[64];

	kmem_cache_free(c, p);
	snprintf(needle, sizeof(needle), "kmem_cache_free(dbg): double free of object %p", p);
	TH_EXPECT_PANIC(kmem_cache_free(c, p), needle);
	th_shutdown();
}

static void test_debug_overflow(void **state)
{
	struct kmem_cache *c = debug_cache();
	uint8_t *p = kmem_cache_alloc(c, GFP_KERNEL);
	char needle[96];

	memset(p, 1, 40);
	kmem_cache_free(c, p);                 /* in bounds: fine */
	p = kmem_cache_alloc(c, GFP_KERNEL);
	p[40] = 0;                             /* one byte past the end */
	snprintf(needle, sizeof(needle), "red zone after object %p overwritten at offset 40", p);
	TH_EXPECT_PANIC(kmem_cache_free(c, p), needle);
	th_shutdown();
}

static void test_debug_underflow_and_use_after_free(void **state)
{
	struct kmem_cache *c = debug_cache();
	uint8_t *p = kmem_cache_alloc(c, GFP_KERNEL);
	char needle[96];

	p[-1] = 0;
	TH_EXPECT_PANIC(kmem_cache_free(c, p), "red zone before object");
	th_shutdown();

	c = debug_cache();
	p = kmem_cache_alloc(c, GFP_KERNEL);
	kmem_cache_free(c, p);
	p[5] = 0x42;                           /* write after free */
	snprintf(needle, sizeof(needle), "object %p modified after free at offset 5", p);
	TH_EXPECT_PANIC(kmem_cache_alloc(c, GFP_KERNEL), needle);
	th_shutdown();
}

static void test_debug_wrong_cache(void **state)
{
	struct kmem_cache *c = debug_cache();
	struct kmem_cache *other = kmem_cache_create("other", 40, 0, 0, NULL);
	void *p = kmem_cache_alloc(other, GFP_KERNEL);
	char needle[96];

	snprintf(needle, sizeof(needle), "object %p belongs to cache other", p);
	TH_EXPECT_PANIC(kmem_cache_free(c, p), needle);
	th_shutdown();

	c = debug_cache();
	p = kmem_cache_alloc(c, GFP_KERNEL);
	TH_EXPECT_PANIC(kmem_cache_free(c, (char *)p + 8), "is not the start of an object");
	th_shutdown();

	boot();
	p = kmalloc(100, GFP_KERNEL);
	TH_EXPECT_PANIC(kfree(get_zeroed_page(GFP_KERNEL)), "was not returned by kmalloc");
	th_shutdown();
}

static void test_debug_poison_runs_ctor_each_time(void **state)
{
	struct kmem_cache *c;
	struct thing *t;

	boot();
	ctor_runs = 0;
	c = kmem_cache_create("poisoned", sizeof(struct thing), 0, SLAB_POISON, thing_ctor);
	for (int k = 0; k < 10; k++) {
		t = kmem_cache_alloc(c, GFP_KERNEL);
		assert_int_equal(t->magic, 0x7468696e67ULL);
		kmem_cache_free(c, t);
	}
	assert_int_equal(ctor_runs, 10);
	check_all();
	assert_int_equal(kmem_cache_destroy(c), 0);
}

/* ---- Views ---- */

static void test_views(void **state)
{
	static char text[65536];
	struct seq_buf s;
	void *p;

	boot();
	p = kmalloc(60, GFP_KERNEL);
	seq_buf_init(&s, text, sizeof(text));
	assert_int_equal(kmm_view_show("slabinfo", 0, &s), 0);
	assert_false(seq_buf_overflowed(&s));
	assert_true(strncmp(text, "slabinfo - version: 2.1\n", 24) == 0);
	assert_non_null(strstr(text, "# name            <active_objs> <num_objs> <objsize> "
				     "<objperslab> <pagesperslab> : tunables <limit> "
				     "<batchcount> <sharedfactor> : slabdata <active_slabs> "
				     "<num_slabs> <sharedavail>"));
	{
		char name[32];
		unsigned long active, num, objsize, per, pages;
		const char *line = strstr(text, "\nkmalloc-64 ");

		assert_non_null(line);
		assert_int_equal(sscanf(line + 1, "%31s %lu %lu %lu %lu %lu", name, &active,
					&num, &objsize, &per, &pages), 6);
		assert_int_equal(active, 1);
		assert_int_equal(num, per);
		assert_int_equal(objsize, 64);
		assert_int_equal(pages, 1);
	}
	seq_buf_init(&s, text, sizeof(text));
	assert_int_equal(kmm_view_show("slabwaste", 0, &s), 0);
	assert_non_null(strstr(text, "kmalloc-64"));
	assert_non_null(strstr(text, "padding"));
	kfree(p);
	assert_int_equal(kmm_check(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_kmalloc_every_size, teardown),
		cmocka_unit_test_teardown(test_kmalloc_large_and_edges, teardown),
		cmocka_unit_test_teardown(test_krealloc, teardown),
		cmocka_unit_test_teardown(test_cache_alignment, teardown),
		cmocka_unit_test_teardown(test_constructor_runs_once, teardown),
		cmocka_unit_test_teardown(test_colouring, teardown),
		cmocka_unit_test_teardown(test_slab_lists, teardown),
		cmocka_unit_test_teardown(test_shrink_returns_frames, teardown),
		cmocka_unit_test_teardown(test_page_alloc_failure, teardown),
		cmocka_unit_test_teardown(test_destroy_with_leaks, teardown),
		cmocka_unit_test_teardown(test_depot_working_set, teardown),
		cmocka_unit_test_teardown(test_random, teardown),
		cmocka_unit_test_teardown(test_random_debug, teardown),
		cmocka_unit_test_teardown(test_debug_double_free, teardown),
		cmocka_unit_test_teardown(test_debug_overflow, teardown),
		cmocka_unit_test_teardown(test_debug_underflow_and_use_after_free, teardown),
		cmocka_unit_test_teardown(test_debug_wrong_cache, teardown),
		cmocka_unit_test_teardown(test_debug_poison_runs_ctor_each_time, teardown),
		cmocka_unit_test_teardown(test_views, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
