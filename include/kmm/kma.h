/*
 * Kernel memory allocators (mm/kma/): the seven designs the book lists as
 * candidates for a kernel's general-purpose allocator, behind one interface
 * so that they can be measured on the same workloads and any of them chosen
 * for the whole machine.
 *
 *   buddy  requests rounded up to whole buddy blocks (mm/kma/kma.c)
 *   rmap   SVR4's resource map: first fit over (base, size) free extents
 *   p2     4.2BSD's power-of-two free lists, a header in every block
 *   mk     4.3BSD's McKusick-Karels allocator: no headers, sizes per page
 *   zone   Mach's zone allocator (kalloc over zones) with its garbage collector
 *   dynix  McKenney & Slingwine's per-CPU caches in front of a global pool
 *   slab   Bonwick's slab allocator (mm/slab.c), registered by it when present
 *
 * Every allocator draws its frames from alloc_pages and reports the same
 * statistics, kept by the registry (mm/kma/kma.c) around each call, so that
 * no design can count differently from another. Callers pass the size to
 * free: the resource map needs it, and the others check it where they can.
 *
 * Lifecycle: the allocators keep their state in globals, as a kernel does;
 * kma_boot() resets and initializes all of them, and must run once after
 * every mm_init (the tests and benchmarks call it; mm_init will when the
 * machine-wide --kma switch lands). Lock order: an allocator's own locks
 * (per-CPU cache, then global) before the page allocator's.
 */
#ifndef KMM_KMA_H
#define KMM_KMA_H

#include <kmm/gfp.h>
#include <kmm/printk.h>
#include <kmm/types.h>

/*
 * Request-size classes of the shared statistics: requests up to 8, 16, ...,
 * 8192 bytes, and larger. The waste of a class is what the design sets
 * aside for its live requests (rounding and headers) beyond what was asked.
 */
#define KMA_NR_CLASSES 12
#define KMA_CLASS_MIN_SHIFT 3      /* class 0: 1..8 bytes */

struct kma_class_stats {
	size_t max_size;               /* largest request of the class (SIZE_MAX: the rest) */
	unsigned long allocs;          /* cumulative */
	long live;                     /* blocks allocated now */
	long live_requested;           /* bytes asked for by those blocks */
	long live_footprint;           /* bytes the design set aside for them */
};

struct kma_stats {
	const char *name;
	/* Operations. */
	unsigned long allocs;          /* successful allocations */
	unsigned long frees;
	unsigned long failures;        /* allocations that returned NULL */
	/* Bytes requested. */
	long live_requested;           /* by blocks allocated now */
	unsigned long total_requested; /* by every successful allocation */
	long live_footprint;           /* set aside for live blocks (rounding, headers) */
	/* Frames taken from the page allocator. */
	long pages_held;               /* now */
	long pages_held_peak;
	unsigned long pages_taken;     /* cumulative alloc_pages frames */
	unsigned long pages_returned;  /* cumulative __free_pages frames */
	/* Filled by the design's own stats(): bytes free inside held frames,
	   and one number it finds worth showing (named by extra_name). */
	unsigned long free_bytes;
	const char *extra_name;
	unsigned long extra;
	struct kma_class_stats class[KMA_NR_CLASSES];
};

/* What a design promises (flags of struct kma_ops). */
#define KMA_RETURNS_FRAMES 0x1u  /* shrink() gives every frame back once all is freed */
#define KMA_NATURAL_ALIGN 0x2u   /* a power-of-two request up to natural_align_max
				    is aligned to its size */
#define KMA_PERCPU 0x4u          /* per-CPU caches: blocks may stay cached until shrink */

/*
 * The registry's bookkeeping of one allocator: per-CPU rows of the shared
 * counters (only the owning CPU writes its row, relaxed, as vmstat does;
 * readers sum the rows) and the frames held. Each design defines one and
 * points its ops at it; kma_boot zeroes it.
 */
struct kma_cpu_stats {
	unsigned long allocs, frees, failures, total_requested;
	long live_requested, live_footprint;
	unsigned long class_allocs[KMA_NR_CLASSES];
	long class_live[KMA_NR_CLASSES];
	long class_requested[KMA_NR_CLASSES];
	long class_footprint[KMA_NR_CLASSES];
} __attribute__((aligned(64)));

struct kma_state {
	struct kma_cpu_stats cpu[KMM_MAX_CPUS];
	long pages_held;               /* atomic */
	long pages_held_peak;          /* atomic */
	unsigned long pages_taken, pages_returned;  /* atomic */
};

struct kma_ops {
	const char *name;
	struct kma_state *state;
	const char *design;            /* one line: the design and where it is published */
	unsigned int flags;
	size_t min_align;              /* every block is aligned to at least this */
	size_t natural_align_max;      /* with KMA_NATURAL_ALIGN */
	size_t max_size;               /* largest request served */
	/* Resets the design's state (no frames held). Returns 0 or -errno. */
	int (*init)(void);
	/* size >= 1. Returns NULL when frames run out or size > max_size. */
	void *(*alloc)(size_t size, gfp_t gfp);
	/* size is what was asked of alloc for ptr. */
	void (*free)(void *ptr, size_t size);
	/* Bytes usable at ptr (>= the request); NULL if the design cannot tell. */
	size_t (*usable_size)(const void *ptr);
	/* Bytes the design sets aside for a request of size: rounding, headers. */
	size_t (*footprint)(size_t size);
	/* Gives back every frame it can now; returns the number of frames. */
	unsigned long (*shrink)(void);
	/* Invariant checker: returns 0, or panics describing what broke. */
	int (*check)(void);
	/* Adds the design's own numbers (free_bytes, extra) to st. */
	void (*stats)(struct kma_stats *st);
	/* Frames the design may keep after everything is freed and shrink()
	   ran, as a function of the peak of frames held (0 for the designs
	   that return everything). */
	unsigned long (*retained_bound)(unsigned long peak_pages);
};

/* ---- The registry ---- */

#define KMA_MAX 8

/* Adds an allocator (slab registers itself). Returns 0, -KMM_EEXIST, -KMM_ENOSPC. */
int kma_register(const struct kma_ops *ops);
/* The allocator called name, or NULL. */
const struct kma_ops *kma_find(const char *name);
/* All registered allocators: index 0..kma_count()-1. */
unsigned int kma_count(void);
const struct kma_ops *kma_at(unsigned int i);

/*
 * The machine-wide allocator: kmalloc dispatches to it when it is not the
 * slab allocator. NULL until kma_select (kmalloc then uses slab).
 * kma_select returns 0 or -KMM_ENOENT (no such allocator registered).
 */
extern const struct kma_ops *kma_current;
int kma_select(const char *name);

/* Resets every allocator and its statistics; after every mm_init. */
int kma_boot(void);

/*
 * Allocation through the registry: what every caller uses, so that the
 * shared statistics are kept the same way for every design. __GFP_ZERO
 * zeroes the request's bytes. size 0 or above ops->max_size returns NULL
 * (and counts a failure).
 */
void *kma_alloc(const struct kma_ops *k, size_t size, gfp_t gfp);
/* Frees ptr (NULL is ignored); size is what was asked of kma_alloc. */
void kma_free(const struct kma_ops *k, void *ptr, size_t size);
unsigned long kma_shrink(const struct kma_ops *k);
int kma_check_one(const struct kma_ops *k);
/* Every allocator's checker. */
int kma_check(void);
void kma_get_stats(const struct kma_ops *k, struct kma_stats *st);

/*
 * Frames for the designs: alloc_pages/__free_pages that also count the
 * frames each design holds (the "bytes held" of the statistics).
 */
struct page;
struct page *kma_get_pages(const struct kma_ops *k, gfp_t gfp, unsigned int order);
void kma_put_pages(const struct kma_ops *k, struct page *page, unsigned int order);

/* The view: one row per allocator that has been used since boot. */
void kmainfo_show(struct seq_buf *s, long arg);

/* The built-in designs (mm/kma/). */
extern const struct kma_ops kma_buddy_ops;
extern const struct kma_ops kma_rmap_ops;
extern const struct kma_ops kma_p2_ops;
extern const struct kma_ops kma_mk_ops;
extern const struct kma_ops kma_zone_ops;
extern const struct kma_ops kma_dynix_ops;

#endif
