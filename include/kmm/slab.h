/*
 * The kernel memory allocator (mm/slab.c, mm/kmalloc.c): object caches after
 * Bonwick's slab allocator (1994) with the per-CPU magazine layer of Bonwick
 * and Adams (2001), and the general-purpose kmalloc family on top of them.
 * The design, the layout of a slab and the lock order are described at the
 * top of mm/slab.c; docs/slab.md is the user's guide.
 */
#ifndef KMM_SLAB_H
#define KMM_SLAB_H

#include <kmm/gfp.h>
#include <kmm/printk.h>
#include <kmm/types.h>

struct kmem_cache;

/*
 * Flags of kmem_cache_create. The debug flags are off by default; a test
 * turns them on for one cache, or for every cache created from then on
 * (the kmalloc caches included, if set before boot) with kmem_debug_flags.
 */
#define SLAB_HWCACHE_ALIGN 0x0001u  /* align objects to a cache line */
#define SLAB_RED_ZONE 0x0002u       /* guard bytes around each object */
#define SLAB_POISON 0x0004u         /* fill free objects, check on reuse */
#define SLAB_DEBUG_FREE 0x0008u     /* catch double frees, wrong-cache and
				       bad-address frees */
#define SLAB_NO_MAGAZINE 0x0010u    /* no per-CPU magazines: every call
				       goes to the slab layer */
#define SLAB_RECLAIM_ACCOUNT 0x0020u /* slabs from reclaimable pageblocks */
#define SLAB_PANIC 0x0040u          /* panic if the cache cannot be created */
#define SLAB_CPU_SLABS 0x0080u      /* with owned CPU slots (arch.h): each slab
				       belongs to the CPU that fills from it,
				       and an object freed on another CPU goes
				       back to its slab, not into the freeing
				       CPU's magazine (no passive false
				       sharing); ignored otherwise */
#define SLAB_DEBUG (SLAB_RED_ZONE | SLAB_POISON | SLAB_DEBUG_FREE)
#define SLAB_CREATE_MASK 0x00ffu

/* OR'ed into the flags of every cache created while set (tests). */
extern unsigned int kmem_debug_flags;

/* A constructor: puts a fresh object into its constructed state. */
typedef void (*kmem_ctor_t)(void *obj);

/*
 * Creates a cache of objects of size bytes, aligned to align (0: 8 bytes;
 * else a power of two), whose constructor (may be NULL) runs once for each
 * object when its slab is created: objects come out of and go back into the
 * cache constructed. name is copied. Returns NULL if memory runs out or the
 * arguments are impossible (size 0, size above KMEM_MAX_OBJECT_SIZE, a bad
 * alignment), or panics if flags has SLAB_PANIC.
 */
#define KMEM_MAX_OBJECT_SIZE (PAGE_SIZE << 5)   /* 128 KiB */
#define KMEM_CACHE_NAME_LEN 32
struct kmem_cache *kmem_cache_create(const char *name, size_t size, size_t align,
				     unsigned int flags, kmem_ctor_t ctor);

/*
 * For the caches the core creates once at boot (mm_init): a static
 * descriptor, so that booting takes no page frame from the buddy allocator
 * (a cache's first slab is made by its first allocation). No constructor;
 * never destroyed; a fixed number of them (NULL when they run out).
 */
struct kmem_cache *kmem_cache_create_boot(const char *name, size_t size, size_t align,
					  unsigned int flags);

/*
 * Allocates one constructed object, or returns NULL when the page allocator
 * cannot supply a new slab. __GFP_ZERO zeroes the object (do not combine it
 * with a constructor). The other gfp flags go to alloc_pages.
 */
void *kmem_cache_alloc(struct kmem_cache *cache, gfp_t gfp);
/*
 * Returns obj (from kmem_cache_alloc of the same cache, in its constructed
 * state) to the cache. NULL is ignored.
 */
void kmem_cache_free(struct kmem_cache *cache, void *obj);

/*
 * Empties every CPU's magazines and the depot of the cache back into its
 * slabs and gives all its free slabs back to the page allocator. Returns
 * the number of page frames released.
 */
unsigned long kmem_cache_shrink(struct kmem_cache *cache);

/*
 * Destroys an empty cache. If objects are still allocated, reports each
 * leak on the console (the cache name, the count and the first addresses),
 * frees nothing that holds them, leaves the cache usable and returns
 * -KMM_EBUSY; else returns 0.
 */
int kmem_cache_destroy(struct kmem_cache *cache);

/*
 * Sets the cache's magazine size (rounds: 1, 3, 7, ... 255), as the
 * periodic update would after contention; for a client that knows its
 * pattern (the user-space malloc wants large magazines from the start).
 * Returns 0, or -KMM_EINVAL for another size or a cache without magazines.
 */
int kmem_cache_set_magazine(struct kmem_cache *cache, unsigned int rounds);

/*
 * Is obj (an address of RAM) the start of an object of one of cp's slabs?
 * For a client that must check a pointer it is handed before freeing it
 * (the user-space malloc's free); says nothing of whether it is allocated.
 */
bool kmem_cache_is_object(struct kmem_cache *cache, const void *obj);

/* The cache's name and object size (as created). */
const char *kmem_cache_name(const struct kmem_cache *cache);
size_t kmem_cache_size(const struct kmem_cache *cache);
/* Looks a cache up by name (NULL if none); for tools and tests. */
struct kmem_cache *kmem_cache_find(const char *name);

/*
 * Statistics of one cache, for tests, tools and the views. Objects in
 * magazines are free for the user but allocated from the slab layer's
 * point of view: they count in active_objs, as in Linux's slabinfo, and
 * in magazine_objs.
 */
struct kmem_cache_info {
	const char *name;
	size_t object_size;        /* as created */
	size_t buffer_size;        /* stride between objects (padding, red zones) */
	size_t align;
	unsigned int objs_per_slab;
	unsigned int pages_per_slab;   /* 1 << order */
	unsigned int colours;          /* distinct colour offsets */
	size_t colour_off;             /* bytes between colours */
	bool off_slab;                 /* descriptor kmalloc'ed off the slab */
	unsigned int flags;
	unsigned long slabs_full, slabs_partial, slabs_free;
	unsigned long active_objs, num_objs;
	unsigned long magazine_objs;   /* in CPU magazines and the depot */
	unsigned int magazine_size;    /* rounds per magazine now */
	unsigned long depot_full, depot_empty;  /* magazines in the depot */
	unsigned long depot_contention;         /* failed depot trylocks */
	unsigned long ctor_calls;
	unsigned long grown, reaped;   /* slabs created / given back */
	unsigned long alloc_fail;      /* allocations that returned NULL */
	/* Waste, in bytes (the slabwaste view). */
	unsigned long bytes_total;     /* page frames held */
	unsigned long waste_padding;   /* buffer_size - object_size, all objects */
	unsigned long waste_headers;   /* slab descriptors on and off slab */
	unsigned long waste_leftover;  /* unused tail of each slab (colouring) */
	unsigned long waste_free;      /* free objects, magazines included */
};
void kmem_cache_get_info(struct kmem_cache *cache, struct kmem_cache_info *info);

/* Calls fn for every cache (under the cache-list lock: fn may not create
   or destroy caches). */
void kmem_cache_for_each(void (*fn)(struct kmem_cache *cache, void *arg), void *arg);

/*
 * The periodic upkeep the magazine layer needs (Bonwick & Adams, sec. 3.5):
 * grows the magazine size of caches whose depot lock was contended since
 * the last update, and gives back depot magazines unused for a whole
 * interval (the working-set estimate). Runs every KMEM_UPDATE_INTERVAL_NS
 * as deferred work; callable directly (tests, tools).
 */
#define KMEM_UPDATE_INTERVAL_NS (15ULL * 1000000000ULL)
void kmem_cache_update_all(void);

/*
 * Boot: creates the cache of caches, the magazine caches and the kmalloc
 * caches, and registers the slab allocator's shrinker. Called by mm_init
 * once the page allocator is up. Returns 0 or -KMM_ENOMEM.
 */
int kmem_cache_init(void);

/*
 * A CPU goes away (Linux's slab CPU-dead callback; arch/native: a thread
 * that leased the slot exits): its magazines of every cache go back to the
 * slab layer. With owned slots (include/kmm/arch.h) only the slot's owner,
 * or the arch once the owner is gone, may call it.
 */
void kmem_cache_cpu_dead(unsigned int cpu);

/* Takes / releases every lock of the slab allocator, in the lock order
   (around fork in a process that forks, arch/native). */
void kmem_cache_lock_all(void);
void kmem_cache_unlock_all(void);

/* Invariant checker of every cache: returns 0, or panics with what broke. */
int slab_check(void);

/* Views: /proc/slabinfo (2.1) and our per-cache waste table. */
void slabinfo_show(struct seq_buf *s, long arg);
void slabwaste_show(struct seq_buf *s, long arg);

/* ---- kmalloc (mm/kmalloc.c) ---- */

/*
 * Size classes: 8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096,
 * 8192 bytes, each a cache named "kmalloc-N". Power-of-two classes are
 * naturally aligned. Larger requests are whole compound page blocks.
 */
#define KMALLOC_MIN_SIZE 8
#define KMALLOC_MAX_CACHE_SIZE 8192
#define KMALLOC_MAX_SIZE (PAGE_SIZE << 10)   /* a MAX_ORDER block */
#define KMALLOC_NR_CACHES 13

/* kmalloc(0) returns this: not NULL, but no byte of it may be touched. */
#define ZERO_SIZE_PTR ((void *)16)
#define ZERO_OR_NULL_PTR(p) ((uintptr_t)(p) <= (uintptr_t)ZERO_SIZE_PTR)

/* Returns size bytes aligned to at least 8 (to the size up to 4 KiB for
   powers of two), or NULL when memory runs out or size is too large. */
void *kmalloc(size_t size, gfp_t gfp);
/* The same, zeroed. */
void *kzalloc(size_t size, gfp_t gfp);
/* n objects of size bytes, zeroed; NULL on overflow. */
void *kcalloc(size_t n, size_t size, gfp_t gfp);
/*
 * Resizes p (from kmalloc; NULL acts as kmalloc) to new_size, keeping its
 * contents up to the smaller size; in place when the block is big enough.
 * new_size 0 frees p and returns ZERO_SIZE_PTR. On failure returns NULL and
 * p is untouched.
 */
void *krealloc(const void *p, size_t new_size, gfp_t gfp);
/* Frees p from kmalloc and friends; NULL and ZERO_SIZE_PTR are ignored. A
   pointer kmalloc never returned panics. */
void kfree(const void *p);
/* The usable size of p's block (at least what was asked for). */
size_t ksize(const void *p);

/* The cache kmalloc(size) uses, or NULL above KMALLOC_MAX_CACHE_SIZE. */
struct kmem_cache *kmalloc_cache(size_t size);
/* Size of class i (0..KMALLOC_NR_CACHES-1). */
size_t kmalloc_class_size(unsigned int i);

/* kmalloc.c: creates the kmalloc caches (called by kmem_cache_init). */
int kmalloc_init(void);

#endif
