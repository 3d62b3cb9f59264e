/*
 * The emulated machine's clock and deferred work.
 *
 * The clock reads nanoseconds since boot. In deterministic mode it is
 * virtual: it starts at 0 and moves only when the host program calls
 * emu_advance_ns, so a run depends on nothing but its inputs and seed. In
 * SMP mode it is CLOCK_MONOTONIC since boot, plus whatever emu_advance_ns
 * added, so a scenario's "advance 30 seconds" means the same in both modes.
 * Both are one formula: base (0, or real time elapsed) + clock_offset.
 *
 * Deferred work (kswapd, the flusher, writeback expiry) is a queue of
 * kmm_work items sorted by due time, FIFO among equal times so that the
 * order is deterministic. Items run on the thread that calls
 * emu_run_pending_work or emu_advance_ns, never on a timer thread: work
 * functions do a bounded amount of work and return, so the machine's host
 * program decides when work runs and a deterministic run stays
 * single-threaded.
 *
 * An item is dequeued and marked not queued before its function runs, so the
 * function may queue itself again. One pass of emu_run_pending_work runs only
 * the items that were due when it started: an item that requeues itself with
 * no delay runs again on the next pass, not forever in this one.
 *
 * Locking: work_lock (a host mutex, a leaf lock) protects the queue and the
 * when_ns/next/queued fields of every queued item. It is never held while a
 * work function runs.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include <kmm/arch.h>

#include "emu_internal.h"

static enum emu_mode time_mode = EMU_DET;
static uint64_t boot_real_ns;                /* SMP: CLOCK_MONOTONIC at boot */
static _Atomic uint64_t clock_offset;        /* det: the clock; SMP: time added */

static pthread_mutex_t work_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kmm_work *work_queue;          /* sorted by when_ns, FIFO on ties */

/* Bounds a zero-delay requeue loop in emu_advance_ns: that is a busy loop. */
#define MAX_RUNS_AT_ONE_INSTANT (1UL << 20)

static uint64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t add_saturating(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

void emu_time_boot(enum emu_mode mode)
{
	time_mode = mode;
	boot_real_ns = real_ns();
	atomic_store(&clock_offset, 0);
}

/* The machine is gone: its work items will never run. */
void emu_time_shutdown(void)
{
	pthread_mutex_lock(&work_lock);
	while (work_queue) {
		struct kmm_work *w = work_queue;

		work_queue = w->next;
		w->next = NULL;
		w->queued = false;
	}
	pthread_mutex_unlock(&work_lock);
	time_mode = EMU_DET;
	atomic_store(&clock_offset, 0);
}

uint64_t arch_now_ns(void)
{
	uint64_t base = time_mode == EMU_DET ? 0 : real_ns() - boot_real_ns;

	return base + atomic_load_explicit(&clock_offset, memory_order_relaxed);
}

/* Moves the clock forward to at least t (never back). */
static void clock_reach(uint64_t t)
{
	uint64_t now = arch_now_ns();

	if (t > now)
		atomic_fetch_add(&clock_offset, t - now);
}

void arch_queue_work(struct kmm_work *work, uint64_t delay_ns)
{
	struct kmm_work **pos;

	if (!work || !work->fn)
		emu_panicf("arch_queue_work: %s", work ? "work item without a function"
						       : "NULL work item");
	pthread_mutex_lock(&work_lock);
	if (!work->queued) {
		work->when_ns = add_saturating(arch_now_ns(), delay_ns);
		/* After every item due at the same time: FIFO on ties. */
		for (pos = &work_queue; *pos && (*pos)->when_ns <= work->when_ns;
		     pos = &(*pos)->next)
			;
		work->next = *pos;
		*pos = work;
		work->queued = true;
	}
	pthread_mutex_unlock(&work_lock);
}

/* Dequeues the first item if it is due at or before limit, else NULL. */
static struct kmm_work *dequeue_due(uint64_t limit)
{
	struct kmm_work *w;

	pthread_mutex_lock(&work_lock);
	w = work_queue;
	if (w && w->when_ns <= limit) {
		work_queue = w->next;
		w->next = NULL;
		w->queued = false;
	} else {
		w = NULL;
	}
	pthread_mutex_unlock(&work_lock);
	return w;
}

/*
 * Runs, in order, the items due when called. An item queued while they run
 * is due no earlier than now, so it sorts after all of them: counting them
 * first is enough to leave it for the next pass.
 */
void emu_run_pending_work(void)
{
	uint64_t now = arch_now_ns();
	unsigned long due = 0;
	struct kmm_work *w;

	pthread_mutex_lock(&work_lock);
	for (w = work_queue; w && w->when_ns <= now; w = w->next)
		due++;
	pthread_mutex_unlock(&work_lock);

	while (due-- && (w = dequeue_due(now)))
		w->fn(w);
}

/* The due time of the first queued item if it is at or before limit. */
static bool next_due(uint64_t limit, uint64_t *when)
{
	bool found;

	pthread_mutex_lock(&work_lock);
	found = work_queue && work_queue->when_ns <= limit;
	if (found)
		*when = work_queue->when_ns;
	pthread_mutex_unlock(&work_lock);
	return found;
}

/*
 * Moves the clock forward by ns, stopping at each work item's due time to
 * run it, so every item sees the clock at the time it asked for and items
 * queued by a work function run in the same advance if they fall due in it.
 */
void emu_advance_ns(uint64_t ns)
{
	uint64_t target = add_saturating(arch_now_ns(), ns);
	uint64_t when, last = 0;
	unsigned long runs_at_last = 0;

	while (next_due(target, &when)) {
		if (when == last && ++runs_at_last > MAX_RUNS_AT_ONE_INSTANT)
			emu_panicf("emu_advance_ns: work keeps requeueing itself "
				   "with no delay at %llu ns", (unsigned long long)when);
		if (when != last)
			runs_at_last = 0;
		last = when;
		clock_reach(when);
		emu_run_pending_work();
	}
	clock_reach(target);
	emu_run_pending_work();
}
