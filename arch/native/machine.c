/*
 * arch/native: time, deferred work, the console and panic, and fork.
 *
 * Deferred work (the slab allocator's periodic upkeep) has no thread of
 * its own: a library inside someone else's process should not start one.
 * Work items wait on a list; native_run_work, which the front end calls
 * now and then from an allocating thread, runs those that are due. Work
 * functions are bounded by contract (include/kmm/arch.h), so this costs
 * the thread that happens to run them little.
 *
 * Fork: every lock of the allocator is taken before fork (the front end's
 * first, then work_lock, the growth lock, the slab allocator's and the page
 * allocator's, in their lock order) and released after it in both
 * processes, so the child never inherits a lock held by a thread it does
 * not have.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <kmm/arch.h>
#include <kmm/kma.h>
#include <kmm/lock.h>
#include <kmm/page_alloc.h>
#include <kmm/printk.h>
#include <kmm/slab.h>

#include "native.h"

bool native_console_on;
static spinlock_t work_lock = SPINLOCK_INIT;    /* the work list */
static struct kmm_work *work_list;

void native_grow_lock(void);
void native_grow_unlock(void);
void native_cpus_fork_child(void);

uint64_t arch_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void arch_queue_work(struct kmm_work *work, uint64_t delay_ns)
{
	spin_lock(&work_lock);
	if (!work->queued) {
		work->queued = true;
		work->when_ns = arch_now_ns() + delay_ns;
		work->next = work_list;
		work_list = work;
	}
	spin_unlock(&work_lock);
}

void native_run_work(void)
{
	uint64_t now = arch_now_ns();

	for (;;) {
		struct kmm_work **pp, *w = NULL;

		if (!spin_trylock(&work_lock))
			return;              /* someone else is at it */
		for (pp = &work_list; *pp; pp = &(*pp)->next) {
			if ((*pp)->when_ns <= now) {
				w = *pp;
				*pp = w->next;
				w->queued = false;
				break;
			}
		}
		spin_unlock(&work_lock);
		if (!w)
			return;
		w->fn(w);
	}
}

/* Address-space calls: the user-space allocator has no address spaces. */
void arch_flush_tlb_page(struct mm *mm, uintptr_t addr)
{
}

void arch_flush_tlb_range(struct mm *mm, uintptr_t start, uintptr_t end)
{
}

void arch_flush_tlb_mm(struct mm *mm)
{
}

void arch_mm_release(struct mm *mm)
{
}

static void write_all(const char *text, size_t len)
{
	while (len) {
		ssize_t n = write(2, text, len);

		if (n <= 0)
			return;
		text += n;
		len -= (size_t)n;
	}
}

void arch_console_write(const char *text, size_t len)
{
	if (native_console_on)
		write_all(text, len);
}

void native_fatal(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kmm_vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	write_all(buf, (size_t)n);
	abort();
}

void arch_panic(const char *message)
{
	native_fatal("kmm-malloc: panic: %s", message);
}

/* Lock order: shared slot -> growth -> slab -> page allocator -> work list
   (a leaf: arch_queue_work is called from inside the core). */
void native_fork_prepare(void)
{
	native_shared_lock();
	native_grow_lock();
	kmem_cache_lock_all();
	page_alloc_lock_all();
	spin_lock(&work_lock);
}

void native_fork_parent(void)
{
	spin_unlock(&work_lock);
	page_alloc_unlock_all();
	kmem_cache_unlock_all();
	native_grow_unlock();
	native_shared_unlock();
}

void native_fork_child(void)
{
	spin_unlock(&work_lock);
	page_alloc_unlock_all();
	kmem_cache_unlock_all();
	native_grow_unlock();
	native_cpus_fork_child();
	kma_slab_recount_after_fork();
}
