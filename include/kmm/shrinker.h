/*
 * Shrinkers (mm/shrinker.c): how caches that hold memory they could give
 * back (the slab allocator's magazines and free slabs now; later the inode
 * and dentry-like caches) cooperate with reclaim. Each registers a pair of
 * callbacks, as in Linux: count_objects says how many objects it could
 * free, scan_objects frees up to nr_to_scan of them. Reclaim (a later
 * issue) calls shrink_slab with a priority that sets how hard to push.
 */
#ifndef KMM_SHRINKER_H
#define KMM_SHRINKER_H

#include <kmm/gfp.h>
#include <kmm/list.h>
#include <kmm/types.h>

struct shrink_control {
	gfp_t gfp_mask;
	unsigned long nr_to_scan;   /* in: objects to scan in this call */
	unsigned long nr_scanned;   /* out: objects actually scanned */
};

#define SHRINK_STOP (~0UL)       /* scan_objects: cannot make progress now */
#define DEFAULT_SEEKS 2          /* cost of recreating an object, relative */
#define DEF_PRIORITY 12          /* scan count >> priority objects per call */

struct shrinker {
	const char *name;
	/* Objects that could be freed now (an estimate is fine; 0: nothing). */
	unsigned long (*count_objects)(struct shrinker *s, struct shrink_control *sc);
	/* Frees up to sc->nr_to_scan objects; returns how many, or SHRINK_STOP. */
	unsigned long (*scan_objects)(struct shrinker *s, struct shrink_control *sc);
	int seeks;
	long batch;                 /* objects per scan_objects call (0: 128) */
	struct list_head list;      /* shrinker_list, under shrinker_lock */
};

/* Adds s to the list reclaim walks. Returns 0 (or -KMM_EINVAL if s lacks
   a callback). */
int register_shrinker(struct shrinker *s);
void unregister_shrinker(struct shrinker *s);

/*
 * Asks every shrinker to free objects: each is asked to scan
 * count >> priority * DEFAULT_SEEKS / seeks of its objects (priority 0:
 * everything it has). Returns the number of objects freed in all.
 */
unsigned long shrink_slab(gfp_t gfp_mask, int priority);

/* Boot: an empty shrinker list (kmem_cache_init calls it). */
void shrinker_init(void);

#endif
