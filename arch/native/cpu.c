/*
 * arch/native CPUs: a "CPU" is a thread. The core's per-CPU data (the slab
 * allocator's magazines, the page allocator's per-CPU lists, the event
 * counters) is indexed by arch_this_cpu(), so a thread leases one of
 * NATIVE_NR_SLOTS - 1 slots the first time it allocates and returns it when it
 * exits, after giving back the slot's magazines (kmem_cache_cpu_dead) and
 * page lists (drain_local_pages). A slot is used by one thread at a time,
 * so the core is built with KMM_OWNED_CPU_SLOTS: the slab fast path takes
 * no lock. The lease is the lock: leasing is an acquire (compare-exchange
 * on the slot's word) and returning a release, so a new owner sees all the
 * old one wrote.
 *
 * When every slot is leased, further threads share the last slot, taking
 * shared_lock around each call into the core (the front end does it), so
 * one thread at a time still uses it; the magazines stay owned.
 *
 * Thread exit: a pthread key's destructor returns the slot. A destructor
 * of another library that allocates after ours ran leases a slot again
 * and sets the key again, and glibc runs destructors again while keys are
 * set (up to PTHREAD_DESTRUCTOR_ITERATIONS rounds).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>

#include <kmm/arch.h>
#include <kmm/lock.h>
#include <kmm/page_alloc.h>
#include <kmm/slab.h>

#include "native.h"

#define NATIVE_SHARED_SLOT (NATIVE_NR_SLOTS - 1)

__thread struct native_thread native_self __attribute__((tls_model("initial-exec")));

static atomic_uint slot_owned[NATIVE_NR_SLOTS];   /* 1: leased */
static atomic_uint nr_leased;
static mutex_t shared_lock;
static pthread_key_t exit_key;
static bool exit_key_ok;

unsigned int arch_this_cpu(void)
{
	return native_self.slot;
}

/* The host program's threads all may call in at once. */
bool arch_smp_threads = true;

unsigned int arch_nr_cpus(void)
{
	return NATIVE_NR_SLOTS;
}

void arch_cpu_relax(void)
{
	__builtin_ia32_pause();
}

void arch_yield(void)
{
	sched_yield();
}

void native_shared_lock(void)
{
	mutex_lock(&shared_lock);
}

void native_shared_unlock(void)
{
	mutex_unlock(&shared_lock);
}

unsigned int native_slots_leased(void)
{
	return atomic_load(&nr_leased);
}

/* Returns the slot: its magazines and page lists go back first. */
static void slot_release(void)
{
	struct native_thread *t = &native_self;
	unsigned int slot = t->slot;

	if (t->state != NATIVE_SLOT_OWNED)
		return;
	kmem_cache_cpu_dead(slot);
	drain_local_pages(slot);
	t->state = NATIVE_SLOT_NONE;
	t->slot = NATIVE_SHARED_SLOT;
	atomic_fetch_sub_explicit(&nr_leased, 1, memory_order_relaxed);
	atomic_store_explicit(&slot_owned[slot], 0, memory_order_release);
}

static void thread_exit(void *arg)
{
	native_self.exiting = 1;
	slot_release();
}

void native_cpus_init(void)
{
	mutex_init(&shared_lock);
	exit_key_ok = !pthread_key_create(&exit_key, thread_exit);
	native_self.slot = NATIVE_SHARED_SLOT;
}

void native_slot_lease(void)
{
	struct native_thread *t = &native_self;

	for (unsigned int s = 0; s < NATIVE_SHARED_SLOT; s++) {
		unsigned int free_ = 0;

		if (atomic_load_explicit(&slot_owned[s], memory_order_relaxed) ||
		    !atomic_compare_exchange_strong_explicit(&slot_owned[s], &free_, 1,
							     memory_order_acquire,
							     memory_order_relaxed))
			continue;
		atomic_fetch_add_explicit(&nr_leased, 1, memory_order_relaxed);
		t->slot = s;
		t->state = NATIVE_SLOT_OWNED;
		/* Any non-NULL value makes the destructor run at exit. */
		if (exit_key_ok)
			pthread_setspecific(exit_key, t);
		return;
	}
	t->slot = NATIVE_SHARED_SLOT;
	t->state = NATIVE_SLOT_SHARED;
}

/*
 * After fork the child has one thread: the slots of the parent's other
 * threads are leased to nobody who will return them. Their magazines may
 * have been mid-update when the fork copied them, so they are not
 * flushed: those slots stay leased (their objects are lost to the child,
 * as a forked child loses the other threads' caches in any allocator).
 */
void native_cpus_fork_child(void)
{
	mutex_init(&shared_lock);
}
