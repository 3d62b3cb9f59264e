/*
 * The slab allocator on an SMP machine (one host thread per emulated CPU),
 * built under ASan and ThreadSanitizer: objects allocated on one CPU and
 * freed on the other through a ring (cross-CPU frees land in the freeing
 * CPU's magazines), each CPU also churning on its own, the invariant
 * checkers running concurrently from CPU 0, the shrinker flushing the
 * other CPU's magazines while it works; then every frame comes back. A
 * second test drives the depot hard enough to be contended and checks
 * that the periodic update grows the magazines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <kmm/emu.h>
#include <kmm/kmm.h>
#include <kmm/page_alloc.h>
#include <kmm/shrinker.h>
#include <kmm/slab.h>

#include "helpers.h"

#define NR_CPUS 2
#define RING 1024

#if defined(__SANITIZE_THREAD__)
#define OPS 150000UL
#else
#define OPS 400000UL
#endif

/* A single-producer single-consumer ring of object pointers. */
struct ring {
	_Atomic(void *) slot[RING];
	atomic_ulong head, tail;
};

struct run {
	struct kmem_cache *cache;
	struct ring ring[NR_CPUS];      /* ring[c]: produced by CPU c */
	atomic_uint done;
	atomic_ulong cross_freed;
};

static bool ring_push(struct ring *r, void *p)
{
	unsigned long h = atomic_load_explicit(&r->head, memory_order_relaxed);

	if (h - atomic_load_explicit(&r->tail, memory_order_acquire) == RING)
		return false;
	atomic_store_explicit(&r->slot[h % RING], p, memory_order_relaxed);
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
	return true;
}

static void *ring_pop(struct ring *r)
{
	unsigned long t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	void *p;

	if (t == atomic_load_explicit(&r->head, memory_order_acquire))
		return NULL;
	p = atomic_load_explicit(&r->slot[t % RING], memory_order_relaxed);
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
	return p;
}

/* Objects carry their producer and a checksum, verified by the consumer. */
struct obj {
	uint64_t stamp;
	uint32_t cpu;
	uint32_t size;
};

static void *make(struct run *run, unsigned int cpu, uint64_t r)
{
	struct obj *o;

	uint32_t size = 0;

	if (r & 1) {
		o = kmem_cache_alloc(run->cache, GFP_KERNEL);
	} else {
		size = (uint32_t)(sizeof(*o) + (r >> 8) % 3000);
		o = kmalloc(size, GFP_KERNEL);
	}
	assert_non_null(o);
	o->size = size;
	o->cpu = cpu;
	o->stamp = (uintptr_t)o ^ 0x5a5a5a5a5a5a5a5aULL;
	return o;
}

static void unmake(struct run *run, struct obj *o)
{
	if (o->stamp != ((uintptr_t)o ^ 0x5a5a5a5a5a5a5a5aULL))
		fail_msg("object %p corrupted while allocated", (void *)o);
	if (o->size)
		kfree(o);
	else
		kmem_cache_free(run->cache, o);
}

static void worker(unsigned int cpu, void *arg)
{
	struct run *run = arg;
	struct ring *out = &run->ring[cpu], *in = &run->ring[cpu ^ 1];
	void *local[64] = { 0 };
	uint64_t r = 0x9e3779b97f4a7c15ULL * (cpu + 1);
	void *p;

	assert_int_equal(arch_this_cpu(), cpu);
	for (unsigned long op = 0; op < OPS; op++) {
		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		switch (r % 4) {
		case 0: /* produce for the other CPU */
			p = make(run, cpu, r >> 4);
			if (!ring_push(out, p))
				unmake(run, p);
			break;
		case 1: /* consume what the other CPU made: a cross-CPU free */
			if ((p = ring_pop(in))) {
				unmake(run, p);
				atomic_fetch_add(&run->cross_freed, 1);
			}
			break;
		default: { /* local churn */
			unsigned int k = (unsigned int)(r >> 32) % 64;
			if (local[k])
				unmake(run, local[k]);
			local[k] = make(run, cpu, r >> 4);
		}
		}
		if (cpu == 0 && op % 25000 == 0) {
			assert_int_equal(slab_check(), 0);
			assert_int_equal(page_alloc_check(), 0);
		}
		if (cpu == 1 && op % 50000 == 49999)
			shrink_slab(GFP_KERNEL, 0);   /* flushes CPU 0's magazines too */
	}
	for (unsigned int k = 0; k < 64; k++)
		if (local[k])
			unmake(run, local[k]);
	atomic_fetch_add(&run->done, 1);
	/* Drain what the other CPU still sends until it is done, then the rest. */
	while (atomic_load(&run->done) < NR_CPUS)
		if ((p = ring_pop(in)))
			unmake(run, p);
	while ((p = ring_pop(in)))
		unmake(run, p);
}

static void test_cross_cpu(void **state)
{
	static struct run run;
	unsigned long before;

	th_boot(128 * MiB, NR_CPUS, EMU_SMP);
	memset(&run, 0, sizeof(run));
	shrink_slab(GFP_KERNEL, 0);
	drain_all_pages();
	before = nr_free_pages();
	run.cache = kmem_cache_create("smp", 72, 0, 0, NULL);
	assert_non_null(run.cache);
	assert_int_equal(emu_run_on_cpus(NR_CPUS, worker, &run), 0);
	assert_true(atomic_load(&run.cross_freed) > 1000);
	assert_int_equal(kmm_check(), 0);
	assert_int_equal(kmem_cache_destroy(run.cache), 0);
	shrink_slab(GFP_KERNEL, 0);
	drain_all_pages();
	assert_int_equal(nr_free_pages(), before);
	assert_int_equal(kmm_check(), 0);
}

/* ---- Magazine resizing under depot contention ---- */

struct churn {
	struct kmem_cache *cache;
	atomic_uint go;
};

static void churn_fn(unsigned int cpu, void *arg)
{
	struct churn *c = arg;
	void *objs[256];

	/* Start together, so that the two CPUs overlap. */
	atomic_fetch_add(&c->go, 1);
	while (atomic_load(&c->go) % NR_CPUS)
		;
	/* Bursts longer than two magazines: every burst trades with the depot. */
	for (int round = 0; round < 2000; round++) {
		for (unsigned int k = 0; k < ARRAY_SIZE(objs); k++)
			objs[k] = kmem_cache_alloc(c->cache, GFP_KERNEL);
		for (unsigned int k = 0; k < ARRAY_SIZE(objs); k++)
			kmem_cache_free(c->cache, objs[k]);
	}
}

static void test_magazine_resize(void **state)
{
	static struct churn c;
	struct kmem_cache_info before, after;

	th_boot(128 * MiB, NR_CPUS, EMU_SMP);
	c.cache = kmem_cache_create("contended", 1024, 0, 0, NULL);
	kmem_cache_get_info(c.cache, &before);
	for (int attempt = 0; attempt < 50; attempt++) {
		struct kmem_cache_info i;

		kmem_cache_get_info(c.cache, &i);
		if (i.depot_contention > before.depot_contention + 8)
			break;
		assert_int_equal(emu_run_on_cpus(NR_CPUS, churn_fn, &c), 0);
	}
	kmem_cache_get_info(c.cache, &after);
	if (after.depot_contention <= before.depot_contention + 3) {
		/* Two host threads may not overlap on a busy machine: say so. */
		print_message("depot never contended (%lu); resize not exercised\n",
			      after.depot_contention);
		skip();
	}
	kmem_cache_update_all();
	kmem_cache_get_info(c.cache, &after);
	assert_true(after.magazine_size > before.magazine_size);
	/* And the cache works with its new magazines. */
	assert_int_equal(emu_run_on_cpus(NR_CPUS, churn_fn, &c), 0);
	assert_int_equal(kmm_check(), 0);
	/* A quiet interval changes nothing. */
	kmem_cache_update_all();
	kmem_cache_get_info(c.cache, &before);
	kmem_cache_update_all();
	kmem_cache_get_info(c.cache, &after);
	assert_int_equal(after.magazine_size, before.magazine_size);
	assert_int_equal(kmem_cache_destroy(c.cache), 0);
	assert_int_equal(kmm_check(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_cross_cpu, th_teardown),
		cmocka_unit_test_teardown(test_magazine_resize, th_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
