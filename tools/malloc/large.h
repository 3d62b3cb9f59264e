/*
 * Large blocks of libkmm-malloc (tools/malloc/large.c): runs of whole pages
 * carved first-fit out of 4 MiB buddy blocks, with boundary tags in struct
 * page so that a freed run coalesces with its free neighbours at once.
 */
#ifndef KMM_MALLOC_LARGE_H
#define KMM_MALLOC_LARGE_H

#include <stdbool.h>
#include <stddef.h>

/* Boot (no memory taken). */
void large_init(void);

/*
 * A run of pages pages; NULL when neither a free run nor a new chunk from
 * the buddy allocator is there (the caller grows the heap and retries).
 * Called inside the front end's enter()/leave().
 */
void *large_alloc(unsigned long pages);

/* The pages of the run p starts, or 0 if p is not the start of one. No
   lock: a valid block's tag does not change until it is freed. */
unsigned long large_pages(const void *p);

/* Frees run p (large_pages(p) != 0), coalescing with free neighbours. */
void large_free(void *p);

/*
 * Grows run p to pages pages without a new block: into the free run after
 * it, or into the free runs before (and after) it, the contents moved
 * down. Returns the block (p or lower), or NULL if its neighbours are not
 * free or not big enough.
 */
void *large_resize(void *p, unsigned long pages);

/* Pages in free runs (the trim trigger counts them with the buddy's). */
unsigned long large_free_pages(void);

/* Gives the free runs of at least min_pages back to the host (madvise);
   returns the pages given. */
unsigned long large_trim(unsigned long min_pages);

/* Fork: the arena's lock, taken before the core's. */
void large_lock(void);
void large_unlock(void);

/* Invariant checker: every chunk is tiled by runs whose tags agree, no two
   free runs touch, the bins hold exactly the free runs. Returns 0 or
   aborts with what broke. */
int large_check(void);

#endif
