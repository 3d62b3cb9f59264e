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
 *   slab   Bonwick's slab allocator: kmalloc (mm/slab.c) seen as a KMA (mm/kma/slab.c)
 *
 * Every allocator draws its frames from alloc_pages and reports the same
 * statistics, kept by the registry (mm/kma/kma.c) around each call, so that
 * no design can count differently from another. Callers pass the size to
 * free: the resource map needs it, and the others check it where they can.
 *
 * Lifecycle: the allocators keep their state in globals, as a kernel does;
 * mm_init calls kma_boot(), which resets all of them and initializes slab;
 * each other design is initialized when it is first used (selected, or
 * called through kma_alloc and friends), so that a machine that never
 * uses one pays neither its time nor its memory (arch/native's malloc
 * uses none: some 200 KiB of counters and tables stay untouched). Then
 * kma_select(the --kma boot option). Lock order: an allocator's own locks
 * (per-CPU cache, then global) before the page allocator's.
 *
 * The machine-wide switch (docs/kma.md, "The machine on another allocator"):
 * with a design other than slab selected, kmalloc, kzalloc, krealloc, ksize,
 * kfree, kmem_cache_alloc and kmem_cache_free all come here (one predictable
 * branch on kma_dispatch in each slab fast path). kfree has only a pointer:
 * a design that records the request (p2's header) frees with it; one that
 * can tell the block's usable size (buddy, mk, zone, dynix) frees with that
 * and counts the kmalloc request as that size; one that can tell neither
 * (rmap) gets a 16-byte header in front of each kmalloc block. Object caches
 * allocate object_size at the cache's alignment from the design, and run
 * the constructor at every allocation.
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
 * points its ops at it; it is zeroed when the design is initialized.
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
	/* Last, kept by the zeroing: 0 until the design is first used after
	   boot (then the rest is zeroed and init() runs), 1 while that
	   happens, 2 ready. Atomic. */
	int ready;
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
	/* The size ptr was allocated with, where the design records it (p2's
	   header); NULL otherwise. */
	size_t (*request_size)(const void *ptr);
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
 * The machine-wide allocator. kma_current is the selected design (NULL or
 * slab: the slab allocator). kma_dispatch is true when kmalloc and the
 * object caches must go through the registry: a design other than slab is
 * selected, or the allocation trace is on. Both are set at boot only (a
 * design cannot take over blocks another one handed out); read them with
 * kma_dispatching().
 *
 * kma_select returns 0, or -KMM_ENOENT when no allocator has that name.
 */
extern const struct kma_ops *kma_current;
extern bool kma_dispatch;
int kma_select(const char *name);

static inline bool kma_dispatching(void)
{
	/* Relaxed: a plain load, but one ThreadSanitizer knows is shared. */
	return __atomic_load_n(&kma_dispatch, __ATOMIC_RELAXED);
}

/* The names of every registered allocator, separated by sep, into buf
   (for messages); returns buf. */
char *kma_names(char *buf, size_t len, const char *sep);

/*
 * Resets every allocator and its statistics, and the selection to slab:
 * at boot (mm_init), or on a machine still on slab (tests and benchmarks
 * that want fresh statistics). Never on a machine dispatching to another
 * design: its blocks would be forgotten. Slab is initialized now, the
 * others at their first use; a design not used since reads as all zeros.
 */
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

/* ---- The machine-wide dispatch (called by mm/kmalloc.c and mm/slab.c) ---- */

/* kmalloc, kfree and ksize on kma_current (kfree/ksize of a block that is
   neither a slab object nor a large kmalloc block). */
void *kma_kmalloc(size_t size, gfp_t gfp);
void kma_kfree(const void *p);
size_t kma_ksize(const void *p);
/*
 * An object of size bytes aligned to align (a power of two) from
 * kma_current, for an object cache; freed with the same size and align.
 * Where the design's own alignment falls short, a power-of-two request
 * (designs with natural alignment) or an over-allocation with a pointer
 * back to the block (the others) makes up the difference.
 */
void *kma_obj_alloc(size_t size, size_t align, gfp_t gfp);
void kma_obj_free(void *obj, size_t size, size_t align);

/*
 * The allocation trace (off by default): when a hook is set with
 * kma_trace_start, the machine dispatches through the registry, and every
 * kmalloc ('k', the request size), object-cache allocation ('c', the
 * object size) and free ('f') of the machine calls the hook. kmm's tools
 * record kmm's own allocations this way (bench/kma-kernelmix.trace).
 * kma_trace_start fails with -KMM_EBUSY when another design than slab is
 * selected (the trace records the slab machine).
 */
typedef void (*kma_trace_fn)(char op, const void *p, size_t size);
int kma_trace_start(kma_trace_fn fn);
void kma_trace_stop(void);
void kma_trace(char op, const void *p, size_t size);

/* The built-in designs (mm/kma/). */
extern const struct kma_ops kma_buddy_ops;
extern const struct kma_ops kma_rmap_ops;
extern const struct kma_ops kma_p2_ops;
extern const struct kma_ops kma_mk_ops;
extern const struct kma_ops kma_zone_ops;
extern const struct kma_ops kma_dynix_ops;
extern const struct kma_ops kma_slab_ops;   /* mm/kma/slab.c: kmalloc as a KMA */
/* In a forked child of a threaded host process (arch/native): count the
   slab KMA's frames again from what its caches hold. */
void kma_slab_recount_after_fork(void);

#endif
