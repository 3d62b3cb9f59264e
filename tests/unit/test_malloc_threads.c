/*
 * libkmm-malloc with threads (built also under ThreadSanitizer): blocks
 * allocated on one thread and freed on another (producer/consumer rings),
 * random churn on many threads at once, more threads than CPU slots (the
 * shared slot), threads exiting (their slot and magazines return), and the
 * magazine size of a cache changed while its owners allocate (each owner
 * adopts it in its slow path, mm/slab.c "Owned slots"), and a block freed
 * by a thread that did not allocate it not handed out again on that
 * thread's lines (mm/slab.c "CPU slabs"). The per-thread
 * fast path takes no lock: TSan checks that the slot lease is what orders
 * one owner's writes before the next owner's reads.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <kmm/slab.h>
#include <kmm/types.h>

#include "native.h"

#include "kmm_malloc.h"

void *kmmtest_malloc(size_t n);
void kmmtest_free(void *p);
void *kmmtest_realloc(void *p, size_t n);
int kmmtest_malloc_trim(size_t pad);

#define RING 256

struct ring {
	void *slot[RING];
	atomic_uint head, tail;   /* producer writes head, consumer tail */
	unsigned int count;
};

static void ring_push(struct ring *r, void *p)
{
	unsigned int h = atomic_load_explicit(&r->head, memory_order_relaxed);

	while (h - atomic_load_explicit(&r->tail, memory_order_acquire) == RING)
		sched_yield();
	r->slot[h % RING] = p;
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
}

static void *ring_pop(struct ring *r)
{
	unsigned int t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	void *p;

	while (atomic_load_explicit(&r->head, memory_order_acquire) == t)
		sched_yield();
	p = r->slot[t % RING];
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
	return p;
}

static void *producer(void *arg)
{
	struct ring *r = arg;

	for (unsigned int i = 0; i < r->count; i++) {
		size_t n = (i * 131) % 2000 + 8;
		unsigned char *p = kmmtest_malloc(n);

		assert_non_null(p);
		memset(p, (int)(i & 0xff), n);
		ring_push(r, p);
	}
	ring_push(r, NULL);
	return NULL;
}

static void *consumer(void *arg)
{
	struct ring *r = arg;
	unsigned int i = 0;
	unsigned char *p;

	while ((p = ring_pop(r))) {
		size_t n = (i * 131) % 2000 + 8;

		if (p[0] != (unsigned char)(i & 0xff) || p[n - 1] != (unsigned char)(i & 0xff))
			fail_msg("block %u corrupted", i);
		kmmtest_free(p);
		i++;
	}
	return NULL;
}

/* Allocated on one thread, freed on another: two pairs at once. */
static void test_cross_thread_free(void **state)
{
	static struct ring rings[2];
	pthread_t t[4];

	for (int i = 0; i < 2; i++) {
		memset(&rings[i], 0, sizeof(rings[i]));
		rings[i].count = 20000;
		pthread_create(&t[2 * i], NULL, producer, &rings[i]);
		pthread_create(&t[2 * i + 1], NULL, consumer, &rings[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(kmm_malloc_check(), 0);
}

static pthread_barrier_t many_barrier;

static void *churn(void *arg)
{
	uintptr_t seed = (uintptr_t)arg * 2654435761u + 1;
	void *held[128] = { 0 };

	/* All alive at once: more threads than slots. */
	held[0] = kmmtest_malloc(100);
	pthread_barrier_wait(&many_barrier);
	pthread_barrier_wait(&many_barrier);

	for (unsigned int i = 0; i < 20000; i++) {
		unsigned int k;

		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		k = (unsigned int)(seed >> 33) % 128;
		if (held[k] && (seed >> 20) % 4 == 0)
			held[k] = kmmtest_realloc(held[k], (seed >> 40) % 5000 + 1);
		else {
			kmmtest_free(held[k]);
			held[k] = kmmtest_malloc((seed >> 40) % ((seed >> 12) % 64 ? 512 : 100000) + 1);
		}
		assert_non_null(held[k]);
		*(volatile char *)held[k] = 1;
	}
	for (unsigned int k = 0; k < 128; k++)
		kmmtest_free(held[k]);
	return NULL;
}

/* More threads than CPU slots: the last ones share a slot, under its lock. */
static void test_many_threads(void **state)
{
	enum { N = 80 };
	pthread_t t[N];
	struct kmm_malloc_stats st;

	pthread_barrier_init(&many_barrier, NULL, N + 1);
	for (uintptr_t i = 0; i < N; i++)
		assert_int_equal(pthread_create(&t[i], NULL, churn, (void *)i), 0);
	pthread_barrier_wait(&many_barrier);
	/* Every owned slot is leased (NATIVE_NR_SLOTS - 1; the last is shared). */
	assert_int_equal(kmm_malloc_stats(&st), 0);
	assert_int_equal(st.slots_leased, NATIVE_NR_SLOTS - 1);
	pthread_barrier_wait(&many_barrier);
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&many_barrier);
	/* Every exited thread gave its slot back: only this one holds one. */
	assert_int_equal(kmm_malloc_stats(&st), 0);
	assert_int_equal(st.slots_leased, 1);
	assert_int_equal(kmm_malloc_check(), 0);
}

static atomic_bool resize_stop;

static void *resize_worker(void *arg)
{
	void *held[300] = { 0 };
	unsigned int i = 0;

	while (!atomic_load(&resize_stop) || i < 100000) {
		unsigned int k = (i++ * 7919) % 300;

		kmmtest_free(held[k]);
		held[k] = kmmtest_malloc(64);
		*(volatile char *)held[k] = 2;
	}
	for (unsigned int k = 0; k < 300; k++)
		kmmtest_free(held[k]);
	return NULL;
}

/* A cache's magazine size changes while its owners use it. */
static void test_magazine_resize(void **state)
{
	static const unsigned int sizes[] = { 3, 255, 15, 63, 1, 127 };
	struct kmem_cache *cp;
	pthread_t t[3];

	kmmtest_free(kmmtest_malloc(64));   /* boots the allocator */
	cp = kmem_cache_find("malloc-64");
	assert_non_null(cp);
	atomic_store(&resize_stop, false);
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, resize_worker, NULL);
	for (unsigned int r = 0; r < 60; r++) {
		assert_int_equal(kmem_cache_set_magazine(cp, sizes[r % 6]), 0);
		sched_yield();
	}
	atomic_store(&resize_stop, true);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	kmm_malloc_upkeep();
	assert_int_equal(kmm_malloc_check(), 0);
}

/*
 * Passive false sharing (mm/slab.c 8, CPU slabs): a thread that frees a
 * small block another thread allocated must not get it, or anything on
 * the cache lines of that thread's blocks, from its own next allocations.
 */
#define FS_OWNER_BLOCKS 8
#define FS_WORKER_BLOCKS 300
#define FS_LINE 64

struct fs_arg {
	void *owner_blocks[FS_OWNER_BLOCKS];
	unsigned int shared;      /* worker blocks on a line of an owner block */
};

static void *fs_worker(void *arg)
{
	struct fs_arg *a = arg;
	static void *mine[FS_WORKER_BLOCKS];

	kmmtest_free(a->owner_blocks[0]);
	for (unsigned int i = 0; i < FS_WORKER_BLOCKS; i++) {
		mine[i] = kmmtest_malloc(8);
		assert_non_null(mine[i]);
		for (unsigned int k = 0; k < FS_OWNER_BLOCKS; k++)
			if ((uintptr_t)mine[i] / FS_LINE ==
			    (uintptr_t)a->owner_blocks[k] / FS_LINE)
				a->shared++;
		/* Half of them freed at once: the local free-and-reuse path. */
		if (i % 2) {
			kmmtest_free(mine[i]);
			mine[i] = NULL;
		}
	}
	for (unsigned int i = 0; i < FS_WORKER_BLOCKS; i++)
		kmmtest_free(mine[i]);
	return NULL;
}

static void test_remote_free_no_false_sharing(void **state)
{
	struct fs_arg a = { 0 };
	pthread_t t;

	/* Empty this thread's magazines and the depot: what follows comes
	   from the slabs. */
	kmmtest_malloc_trim(0);
	for (unsigned int k = 0; k < FS_OWNER_BLOCKS; k++) {
		a.owner_blocks[k] = kmmtest_malloc(8);
		assert_non_null(a.owner_blocks[k]);
	}
	pthread_create(&t, NULL, fs_worker, &a);
	pthread_join(t, NULL);
	assert_int_equal(a.shared, 0);
	for (unsigned int k = 1; k < FS_OWNER_BLOCKS; k++)
		kmmtest_free(a.owner_blocks[k]);
	assert_int_equal(kmm_malloc_check(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cross_thread_free),
		cmocka_unit_test(test_many_threads),
		cmocka_unit_test(test_magazine_resize),
		cmocka_unit_test(test_remote_free_no_false_sharing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
