/*
 * Locks: a spinlock, a sleeping mutex and a reader-writer lock, built on C11
 * atomics so that they inline, and so that ThreadSanitizer understands them.
 * The arch supplies only what waiting means: arch_cpu_relax() while spinning
 * (a deterministic single-threaded arch panics there: a contended lock in
 * that mode is a deadlock), arch_yield() while a sleeping lock waits.
 *
 * On a machine whose CPUs share one host thread (arch_smp_threads false)
 * nothing runs between a lock's test and its set, so the locks skip the
 * atomic read-modify-write: relaxed loads and stores, plain moves on x86,
 * keep the lock's state (and the deterministic arch's deadlock check)
 * without its cost. The branch on the flag is always predicted.
 *
 * A port into a kernel with interrupts would add irq-saving variants here;
 * the emulated machine has no interrupts that take these locks.
 */
#ifndef KMM_LOCK_H
#define KMM_LOCK_H

#include <kmm/arch.h>
#include <stdatomic.h>

typedef struct {
	atomic_uint locked;
} spinlock_t;

#define SPINLOCK_INIT { 0 }

static inline void spin_lock_init(spinlock_t *lock)
{
	atomic_init(&lock->locked, 0);
}

/* Test-and-set of a lock word without an atomic instruction (one thread). */
static inline bool up_trylock(atomic_uint *word)
{
	if (atomic_load_explicit(word, memory_order_relaxed))
		return false;
	atomic_store_explicit(word, 1, memory_order_relaxed);
	return true;
}

static inline bool spin_trylock(spinlock_t *lock)
{
	if (!arch_smp_threads)
		return up_trylock(&lock->locked);
	return !atomic_exchange_explicit(&lock->locked, 1, memory_order_acquire);
}

static inline void spin_lock(spinlock_t *lock)
{
	while (unlikely(!spin_trylock(lock))) {
		do
			arch_cpu_relax();
		while (atomic_load_explicit(&lock->locked, memory_order_relaxed));
	}
}

static inline void spin_unlock(spinlock_t *lock)
{
	atomic_store_explicit(&lock->locked, 0, memory_order_release);
}

static inline bool spin_is_locked(spinlock_t *lock)
{
	return atomic_load_explicit(&lock->locked, memory_order_relaxed) != 0;
}

/* A sleeping lock: spins briefly, then yields the CPU between attempts. */
typedef struct {
	atomic_uint locked;
} mutex_t;

static inline void mutex_init(mutex_t *m)
{
	atomic_init(&m->locked, 0);
}

static inline bool mutex_trylock(mutex_t *m)
{
	if (!arch_smp_threads)
		return up_trylock(&m->locked);
	return !atomic_exchange_explicit(&m->locked, 1, memory_order_acquire);
}

static inline void mutex_lock(mutex_t *m)
{
	while (unlikely(!mutex_trylock(m))) {
		while (atomic_load_explicit(&m->locked, memory_order_relaxed))
			arch_yield();
	}
}

static inline void mutex_unlock(mutex_t *m)
{
	atomic_store_explicit(&m->locked, 0, memory_order_release);
}

/*
 * Reader-writer lock: the count is the number of readers, or RW_WRITER when
 * a writer holds it. Writers may starve under a constant stream of readers;
 * the users of this lock (the area set of an mm) hold it briefly.
 */
#define RW_WRITER (-1)

typedef struct {
	atomic_int count;
} rwlock_t;

static inline void rwlock_init(rwlock_t *rw)
{
	atomic_init(&rw->count, 0);
}

static inline void read_lock(rwlock_t *rw)
{
	for (;;) {
		int c = atomic_load_explicit(&rw->count, memory_order_relaxed);
		if (!arch_smp_threads && c >= 0) {
			atomic_store_explicit(&rw->count, c + 1, memory_order_relaxed);
			return;
		}
		if (c >= 0 && atomic_compare_exchange_weak_explicit(
				      &rw->count, &c, c + 1, memory_order_acquire,
				      memory_order_relaxed))
			return;
		arch_yield();
	}
}

static inline void read_unlock(rwlock_t *rw)
{
	if (!arch_smp_threads) {
		atomic_store_explicit(&rw->count,
				      atomic_load_explicit(&rw->count, memory_order_relaxed) - 1,
				      memory_order_relaxed);
		return;
	}
	atomic_fetch_sub_explicit(&rw->count, 1, memory_order_release);
}

static inline void write_lock(rwlock_t *rw)
{
	for (;;) {
		int c = 0;
		if (!arch_smp_threads) {
			if (atomic_load_explicit(&rw->count, memory_order_relaxed) == 0) {
				atomic_store_explicit(&rw->count, RW_WRITER, memory_order_relaxed);
				return;
			}
		} else if (atomic_compare_exchange_weak_explicit(&rw->count, &c, RW_WRITER,
							  memory_order_acquire,
							  memory_order_relaxed))
			return;
		arch_yield();
	}
}

static inline bool write_trylock(rwlock_t *rw)
{
	int c = 0;

	return atomic_compare_exchange_strong_explicit(&rw->count, &c, RW_WRITER,
						       memory_order_acquire, memory_order_relaxed);
}

static inline void write_unlock(rwlock_t *rw)
{
	atomic_store_explicit(&rw->count, 0, memory_order_release);
}

#endif
