/*
 * The random page-allocator workload shared by the single-CPU and SMP tests:
 * allocations of random orders and GFP types mixed with frees of random live
 * blocks, every block stamped so that two owners of one frame are caught,
 * every result checked (alignment, zone, reference count, zeroing, compound
 * links), and the counters the allocator keeps compared with the worker's
 * own tally at the end.
 *
 * A worker never calls cmocka: in SMP mode it runs on an emulated CPU's host
 * thread, so it records its first error in w->error and stops; the test
 * asserts on it afterwards.
 */
#ifndef KMM_TESTS_PA_RANDOM_H
#define KMM_TESTS_PA_RANDOM_H

#include <pthread.h>

#include <kmm/page_alloc.h>

struct pa_block {
	struct page *page;
	unsigned int order;
	gfp_t gfp;
	uint64_t salt;
};

/* Blocks one worker gives away for another CPU to free (SMP runs). */
struct pa_handoff {
	pthread_mutex_t lock;
	struct pa_block *blocks;
	unsigned long nr, cap;
};

struct pa_worker {
	/* Set by the test. */
	uint64_t seed;
	unsigned long ops;
	unsigned long check_every;    /* run page_alloc_check every N ops (0: never) */
	bool exact_accounting;        /* alone on the machine: free + live == managed */
	unsigned int switch_cpus;     /* deterministic mode: hop among this many CPUs */
	unsigned long phase_ops;      /* alternate fill and drain phases of this length */
	unsigned long cap;            /* live blocks at most */
	struct pa_handoff *handoff;   /* NULL, or blocks to trade with another worker */

	/* Results. */
	struct pa_block *live;
	unsigned long nr_live;
	unsigned long alloc_pages_zone[MAX_NR_ZONES];  /* pages allocated per zone */
	unsigned long freed_pages;
	unsigned long failures[NR_ORDERS];
	unsigned long successes;
	unsigned long checks;
	unsigned long max_live_pages, live_pages;
	char error[512];
};

/* Allocates w->live and resets the results. Returns false if out of host memory. */
bool pa_worker_init(struct pa_worker *w);
/* Runs w->ops operations; stops at the first error (w->error). */
void pa_worker_run(struct pa_worker *w);
/* Frees every block the worker holds, checking each. */
void pa_worker_free_all(struct pa_worker *w);
void pa_worker_destroy(struct pa_worker *w);

void pa_handoff_init(struct pa_handoff *h, unsigned long cap);
/* Frees (checking) every block left in the handoff, on the calling CPU. */
void pa_handoff_drain(struct pa_handoff *h, struct pa_worker *w);
void pa_handoff_destroy(struct pa_handoff *h);

#endif
