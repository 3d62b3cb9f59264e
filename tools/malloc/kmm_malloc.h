/*
 * libkmm-malloc's own entry points, beyond the C library's malloc family:
 * what tests and benchmarks look at. Find them with dlsym when the library
 * is preloaded or dlopen'ed.
 */
#ifndef KMM_MALLOC_H
#define KMM_MALLOC_H

#include <stddef.h>

struct kmm_malloc_stats {
	unsigned long sections;        /* 4 MiB sections added to the heap */
	unsigned long long present_bytes;  /* memory in those sections */
	unsigned long free_pages;      /* in the buddy lists */
	unsigned long pcp_pages;       /* on per-thread page lists */
	unsigned long trims;           /* times free memory went back to the host */
	unsigned long trimmed_pages;   /* pages given back (madvise), all trims */
	unsigned long huge_allocs;     /* blocks mmap'ed on their own */
	unsigned int slots_leased;     /* threads holding a CPU slot now */
	unsigned long large_free_pages;  /* in free runs of the large blocks' chunks */
};

/* Fills st; returns 0, or -1 if the allocator could not boot. */
int kmm_malloc_stats(struct kmm_malloc_stats *st);
/* Runs every invariant checker of the core (aborts on a broken one). */
int kmm_malloc_check(void);
/* Gives the calling thread's magazines and page lists back now. */
void kmm_malloc_thread_flush(void);
/* Runs the periodic upkeep now: magazine working sets, trim check. */
void kmm_malloc_upkeep(void);

#endif
