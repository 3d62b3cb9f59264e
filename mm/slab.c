/*
 * Kernel memory allocator, as described in the following two papers:
 *
 *   Jeff Bonwick, "The Slab Allocator: An Object-Caching Kernel Memory
 *   Allocator", USENIX Summer 1994.
 *   Jeff Bonwick and Jonathan Adams, "Magazines and Vmem: Extending the
 *   Slab Allocator to Many CPUs and Arbitrary Resources", USENIX 2001.
 *
 * and as chapter 8 of Understanding the Linux Kernel lays out its slabs.
 *
 * ---- Big Theory Statement ----
 *
 * 1. Object caching. A client creates a cache of objects of one size with
 *    kmem_cache_create(name, size, align, flags, ctor) and then allocates
 *    and frees objects of it. Initializing an object is often dearer than
 *    allocating its memory, so a cache keeps freed objects in their
 *    constructed state: the constructor runs once per object, when its
 *    slab is created, never on the allocation path, and a client frees an
 *    object only in the state it was given it (Bonwick 1994, sec. 3).
 *    There is no destructor: a slab given back simply stops existing.
 *
 * 2. Three layers. An allocation is served by the first that can:
 *
 *      CPU layer     this CPU's loaded and previous magazines
 *         |  full/empty magazines, one at a time
 *      depot         the cache's lists of full and of empty magazines
 *         |  one object at a time
 *      slab layer    the cache's slabs: full, partial, free lists
 *         |  2^order frames at a time
 *      alloc_pages   the buddy system (mm/page_alloc.c)
 *
 *    A magazine is an array of M object pointers ("rounds"). Each CPU has a
 *    loaded magazine it pops from and pushes to, and the previous one it
 *    swaps with when the loaded is empty (alloc) or full (free): with two
 *    magazines a CPU swinging around a boundary never reaches the depot,
 *    and any sequence of M operations costs at most one depot exchange
 *    (Bonwick & Adams, sec. 3.1). The fast path — kmem_cache_alloc and
 *    kmem_cache_free when the loaded magazine can serve — touches only this
 *    CPU's kmem_cpu_cache, one cache line, under its own lock, which no
 *    other CPU takes except to flush it (shrink, resize, destroy, check);
 *    so a free on another CPU than the allocation simply lands in that
 *    CPU's magazine. The objects in magazines are allocated as far as the
 *    slab layer knows; the magazine layer is a cache over it.
 *
 *    The depot's lock is the one a busy cache contends for. Every time a
 *    CPU fails to take it at once we count it; the periodic update
 *    (kmem_cache_update_all, every 15 s of machine time, as illumos's
 *    kmem_update) moves a cache whose count rose by more than
 *    KMEM_DEPOT_CONTENTION to the next larger magazine type, which divides
 *    depot traffic by about two (sec. 3.6). The update also keeps the depot
 *    to its working set: magazines that were not needed during a whole
 *    interval (the minimum length of each list) are given back (sec. 3.5).
 *    The update is armed by the first magazine to enter a depot and stops
 *    when every depot is empty, so an idle machine queues no work.
 *
 * 3. Slabs. A slab is 2^order contiguous frames cut into num objects. The
 *    order is the smallest that wastes at most 1/8 of the slab (Linux's
 *    rule), so a 3000-byte object gets a 4-page slab of 5 rather than a
 *    one-page slab wasting a quarter. A slab's descriptor (struct slab) and
 *    its free-object index (kmem_bufctl_t bufctl[num]: the free objects
 *    form a chain of indices, bufctl[i] naming the next free after i) live
 *    at the start of the slab for small objects, and off the slab, in a
 *    kmalloc'ed block, for objects of 512 bytes and more, where on-slab
 *    management would cost a whole object (ULK, "Slab descriptor"). The
 *    index keeps the free chain out of the objects, so constructed state
 *    is never overwritten. Every page of a slab carries PG_slab, its cache
 *    and its descriptor in struct page, so kfree and the debug checks go
 *    from any address to its slab in two loads.
 *
 *      on-slab:  | colour | struct slab + bufctl[num] | pad | obj obj ... obj | left |
 *      off-slab: | colour | obj obj ... obj | left |      (descriptor kmalloc'ed)
 *
 *    A cache keeps its slabs on three lists: full, partial (allocations
 *    come from here first) and free. Free slabs are kept up to free_limit
 *    (so a cache swinging around a slab boundary does not call the page
 *    allocator every time); beyond that, and on shrink, they go back to
 *    the buddy allocator.
 *
 * 4. Colouring. The bytes left over in a slab let successive slabs start
 *    their objects at different offsets, colour_off (a cache line) apart,
 *    cycling through colours = leftover / colour_off + 1 offsets, so that
 *    the same object of different slabs does not map to the same hardware
 *    cache lines (Bonwick 1994, sec. 4.1).
 *
 * 5. Debugging, per cache (flags), built into the same code paths:
 *    SLAB_DEBUG_FREE keeps a tag word before each object, its address
 *    XOR an allocated or free pattern, and checks at every free that the
 *    address is an object of this cache (wrong-cache and bad-address frees)
 *    that is allocated (double free); SLAB_RED_ZONE adds the tag and guard
 *    bytes after the object, checked at free (overruns, and underruns that
 *    hit the tag); SLAB_POISON fills free objects with 0x6b and checks the
 *    pattern when they are handed out again (writes after free). A
 *    poisoned object loses its constructed state, so in a poisoned cache
 *    the constructor runs at every allocation instead. Each error names the
 *    cache and the object address, then panics.
 *
 * 6. Bootstrapping. Caches are objects too: struct kmem_cache (with its
 *    per-CPU array sized for the CPUs the machine has) comes from the cache
 *    "kmem_cache", whose own descriptor is static. Magazines come from one
 *    cache per magazine size; those caches, and kmem_cache, have no
 *    magazine layer and keep their descriptors on the slab, so nothing
 *    recurses. Off-slab descriptors come from kmalloc, whose small classes
 *    (on-slab) are created before the large ones (off-slab).
 *
 * 7. Owned slots (KMM_OWNED_CPU_SLOTS, include/kmm/arch.h). When the arch
 *    guarantees that a CPU slot is used by one thread at a time (arch/native:
 *    a slot is leased to a thread), the CPU layer is that thread's alone:
 *    the fast path takes no lock (no locked instruction: a load, a store,
 *    and the object), and no other thread reads or writes the slot's
 *    magazines. What needed another CPU's magazines changes accordingly:
 *    a shrink or destroy flushes the caller's own slot and the depot (a
 *    thread keeps at most two magazines per cache, until it exits, when
 *    kmem_cache_cpu_dead gives them back); a magazine resize only changes
 *    the cache's magazine type and empties the depot, and each owner
 *    notices the new size in its next slow path and flushes its own; the
 *    depot refuses magazines of a size that is not the cache's (so a
 *    magazine of the old size never enters it); the checker and the
 *    statistics see the caller's slot and the depot. The slot lease is
 *    the lock: the arch hands a slot to a thread with acquire/release
 *    ordering, so the next owner sees everything the last one wrote.
 *
 * 8. CPU slabs (SLAB_CPU_SLABS, with owned slots only). The magazine
 *    layer lets a free on another CPU than the allocation land in the
 *    freeing CPU's magazine, which hands it out again at once: two threads
 *    then write objects that share a cache line ("passive false sharing",
 *    Berger et al., Hoard, 2000), and the slab layer, handing out one
 *    object at a time from a shared partial list, puts objects of two CPUs
 *    side by side too ("active"). A cache with SLAB_CPU_SLABS gives each
 *    slab an owner, as mimalloc's pages and Hoard's superblocks have: the
 *    CPU that fills its magazine from the slab layer takes a whole
 *    magazine of objects under one hold of slab_lock, from the partial
 *    slabs it owns (kept on its own list, cc->partial), else an unowned
 *    partial, free or new slab, which it then owns. A free checks the
 *    owner (a hint in struct page, read without a lock): the owner's free
 *    is the usual magazine push; another CPU's goes into the freeing CPU's
 *    remote magazine, which that CPU never allocates from: full, it goes
 *    to the depot like any full magazine (so a producer/consumer pair
 *    still trades whole magazines), and what it holds when the CPU
 *    flushes goes back to the slabs. An object freed on another thread
 *    is thus never handed out again by that thread right away. A slab
 *    loses its owner when it becomes free, and every slab of a CPU that
 *    goes away (kmem_cache_cpu_dead) loses it.
 *
 * ---- Locking ----
 *
 *   kmem_cache_lock (mutex)  the list of caches; held by create, destroy,
 *                            the shrinker, the update, views and checker.
 *   cc->lock (spinlock)      one CPU's magazines of one cache. Taken by that
 *                            CPU on every alloc and free, by others only to
 *                            flush or inspect; several in CPU order. Not
 *                            used with owned slots (7): the lease is the lock.
 *   cp->depot_lock           the depot's magazine lists and counters.
 *   cp->slab_lock            the slab lists (every CPU's cc->partial
 *                            too), the descriptors' free chains, in-use
 *                            counts and owners, the cache's counters.
 *
 *   Order: shrinker_lock -> kmem_cache_lock -> cc->lock -> depot_lock ->
 *   slab_lock. slab_lock is a leaf: slabs are created (alloc_pages,
 *   kmalloc of a descriptor, constructors) and destroyed with no lock of
 *   this cache held, and a CPU drops its cc->lock before it calls the slab
 *   layer or allocates a magazine. Two caches' locks are never held at
 *   once, so caches used by the slab allocator itself (kmalloc for
 *   descriptors, the magazine caches) need no order of their own.
 */
#include <kmm/arch.h>
#include <kmm/errno.h>
#include <kmm/lock.h>
#include <kmm/page_alloc.h>
#include <kmm/printk.h>
#include <kmm/shrinker.h>
#include <kmm/slab.h>
#include <kmm/string.h>

#include <stdatomic.h>

#include "kma/kma_internal.h"

/* ---- Data structures ---- */

typedef uint16_t kmem_bufctl_t;
#define BUFCTL_END ((kmem_bufctl_t)0xffff)
#define KMEM_MAX_OBJS 1024          /* per slab: bounds the checker's bitmaps */
#define KMEM_MAX_ORDER 5            /* slabs of at most 32 frames */
#define KMEM_OFF_SLAB_MIN (PAGE_SIZE / 8)
#define KMEM_MIN_ALIGN 8
#define KMEM_CACHE_LINE 64
#define KMEM_FREE_LIMIT 2           /* free slabs a cache keeps */
#define KMEM_DEPOT_CONTENTION 3     /* per update interval, as illumos */
#define KMEM_MAGAZINE_MAX_BYTES (64 * 1024)  /* objects one magazine may hold */

/* The slab descriptor: on the slab, or kmalloc'ed for off-slab caches. */
struct slab {
	struct list_head list;      /* in the cache's full/partial/free list */
	void *s_mem;                /* first buffer */
	struct page *page;          /* first frame */
	unsigned int inuse;         /* objects allocated (magazines included) */
	unsigned int free;          /* first free object's index, or BUFCTL_END */
	unsigned int colouroff;     /* this slab's colour offset in bytes */
	unsigned int owner;         /* SLAB_CPU_SLABS: owning CPU + 1, 0 none
				       (under slab_lock; 8 below) */
	kmem_bufctl_t bufctl[];     /* bufctl[i]: the free object after i */
};

/* A magazine: the rounds, and a link for the depot's lists (or, for a
   CPU's remote-free magazine, 8 below, its count of rounds). */
struct kmem_magazine {
	union {
		struct kmem_magazine *next;
		unsigned long count;
	};
	void *rounds[];
};

/* Magazine sizes (rounds), each with its cache; the sizes are 2^k - 1 so
   that a magazine with its link is a power-of-two object. */
struct kmem_magtype {
	unsigned int rounds;
	struct kmem_cache *cache;
};
static struct kmem_magtype kmem_magtypes[] = {
	{ 1, NULL }, { 3, NULL }, { 7, NULL }, { 15, NULL },
	{ 31, NULL }, { 63, NULL }, { 127, NULL }, { 255, NULL },
};
#define KMEM_NR_MAGTYPES ((unsigned int)ARRAY_SIZE(kmem_magtypes))

/* One list of the depot. min is the shortest the list has been since the
   last update: that many magazines were not needed (the working set). */
struct kmem_maglist {
	struct kmem_magazine *list;
	unsigned long total;
	unsigned long min;
	unsigned long reaplimit;
};

/*
 * One CPU's magazines of one cache: the whole of the fast path's data, in
 * one cache line. rounds/prounds are -1 when no magazine is loaded; magsize
 * is 0 when the cache has no magazine layer (or while it is being resized),
 * so the fast path needs no other test.
 */
struct kmem_cpu_cache {
	spinlock_t lock;
	int rounds;                      /* objects in loaded */
	int prounds;                     /* objects in previous */
	int magsize;                     /* rounds of a full magazine */
	struct kmem_magazine *loaded;
	struct kmem_magazine *previous;
	/* Objects this CPU allocated from another KMA (--kma) minus those it
	   freed to it; the sum over CPUs is what the cache has outstanding
	   there. Written by this CPU only (relaxed), read by summing. */
	long kma_live;
	/* SLAB_CPU_SLABS with owned slots (8): objects of other CPUs' slabs
	   freed here, on their way back to their slabs (this CPU's only); and
	   the partial slabs this CPU owns (under cp->slab_lock). */
	struct kmem_magazine *remote;
	struct list_head partial;
} __attribute__((aligned(KMEM_CACHE_LINE)));

_Static_assert(sizeof(struct kmem_cpu_cache) == KMEM_CACHE_LINE,
	       "a CPU's magazines of a cache fit one cache line");

struct kmem_cache {
	/* Set at creation, read-only after. */
	char name[KMEM_CACHE_NAME_LEN];
	size_t object_size;          /* as the client asked */
	size_t buffer_size;          /* stride: object, debug words, padding */
	size_t obj_offset;           /* buffer start to object (debug tag) */
	uint64_t buffer_recip;       /* 2^40 / buffer_size + 1: off / buffer_size
					is (off * buffer_recip) >> 40 for any
					offset in a slab (kmem_cache_is_object) */
	size_t align;
	unsigned int flags;
	unsigned int order;
	unsigned int num;            /* objects per slab */
	size_t mgmt_size;            /* struct slab + bufctl[num] */
	size_t onslab_size;          /* on-slab management incl. pad, else 0 */
	size_t leftover;             /* unused bytes of a slab at colour 0 */
	unsigned int colours;
	size_t colour_off;
	kmem_ctor_t ctor;
	gfp_t gfp;                   /* added to alloc_pages flags */
	unsigned int magtype;        /* index in kmem_magtypes (under depot_lock) */
	struct list_head next;       /* in cache_chain */

	atomic_uint colour_next;
	atomic_ulong ctor_calls;
	atomic_ulong alloc_fail;

	spinlock_t depot_lock;
	struct kmem_maglist full, empty;
	unsigned long depot_contention;
	unsigned long depot_contention_prev;

	spinlock_t slab_lock;
	struct list_head slabs_full, slabs_partial, slabs_free;
	unsigned long nr_full, nr_partial, nr_free;   /* slabs */
	unsigned long active_objs;   /* allocated from the slab layer */
	unsigned long free_limit;
	unsigned long grown, reaped;

	struct kmem_cpu_cache cpu[];  /* [arch_nr_cpus()] */
};

/* Internal flags (above SLAB_CREATE_MASK). */
#define CFLGS_OFF_SLAB 0x10000u
#define CFLGS_FORCE_ON_SLAB 0x20000u
#define CFLGS_BOOT 0x40000u           /* static descriptor */
#define KMEM_TAGGED (SLAB_DEBUG_FREE | SLAB_RED_ZONE)
#define KMEM_DEBUG_ANY (SLAB_DEBUG_FREE | SLAB_RED_ZONE | SLAB_POISON)

unsigned int kmem_debug_flags;

/*
 * Walks cache_chain. Not list_for_each_entry: that forms a struct
 * kmem_cache pointer from the list head itself, which is misaligned for
 * the type (its per-CPU array is cache-line aligned), and UBSan says so.
 */
#define for_each_cache(cp)                                                     \
	for (struct list_head *pos_ = cache_chain.next;                        \
	     pos_ != &cache_chain &&                                           \
	     ((cp) = list_entry(pos_, struct kmem_cache, next), true);         \
	     pos_ = pos_->next)

/* The CPU layer's lock: cc->lock, or nothing when the slot is owned (7). */
#ifdef KMM_OWNED_CPU_SLOTS
#define cpu_lock(cc) ((void)(cc))
#define cpu_unlock(cc) ((void)(cc))
#define CPU_SLOTS_OWNED true
#else
#define cpu_lock(cc) spin_lock(&(cc)->lock)
#define cpu_unlock(cc) spin_unlock(&(cc)->lock)
#define CPU_SLOTS_OWNED false
#endif

/* Does the cache give its slabs owners (8)? Never without owned slots. */
static inline bool cpu_slabs(const struct kmem_cache *cp)
{
	return CPU_SLOTS_OWNED && (cp->flags & SLAB_CPU_SLABS);
}

/*
 * page->private of a slab's page: bits 0-31 the offset of the slab's first
 * object from its first page, 32-39 the page's index in the slab, 40-47
 * the slab's owner + 1 (8), a copy of sp->owner that a free reads without
 * slab_lock: a stale value only sends an object the other way, which
 * either way is correct. Read and written atomically (relaxed).
 */
#define SLAB_PRIV_INDEX_SHIFT 32
#define SLAB_PRIV_OWNER_SHIFT 40
#define SLAB_PRIV_OWNER_MASK (0xffUL << SLAB_PRIV_OWNER_SHIFT)
_Static_assert(KMM_MAX_CPUS < 255, "an owner fits 8 bits");

static inline unsigned int slab_owner_hint(const void *obj)
{
	unsigned long priv = __atomic_load_n(&virt_to_page(obj)->private, __ATOMIC_RELAXED);

	return (unsigned int)((priv & SLAB_PRIV_OWNER_MASK) >> SLAB_PRIV_OWNER_SHIFT);
}

static mutex_t kmem_cache_lock;
static struct list_head cache_chain = LIST_HEAD_INIT(cache_chain);
static struct kmem_cache *kmem_cache_cache;   /* the cache of caches */
static bool kmem_ready;
static struct kmm_work kmem_update_work;
static struct shrinker slab_shrinker;

/*
 * The boot caches (the cache of caches, the magazine caches, the kmalloc
 * caches, and the caches the core creates in mm_init: mm_struct,
 * task_struct, anon_vma, vm_area_struct) have static descriptors, so that
 * booting takes no page frame from the buddy allocator: a cache's first
 * slab is made by its first allocation. They are never destroyed. The
 * descriptors are cut one after the other from a pool sized for
 * KMM_MAX_CPUS, each only as long as the machine's CPUs need, so that a
 * machine with fewer CPUs touches only the start of it (resident memory
 * of the user-space malloc).
 */
#define KMEM_BOOT_CACHE_SIZE \
	(sizeof(struct kmem_cache) + KMM_MAX_CPUS * sizeof(struct kmem_cpu_cache))
#define KMEM_NR_BOOT_CACHES 32
static char kmem_boot_pool[KMEM_NR_BOOT_CACHES * KMEM_BOOT_CACHE_SIZE]
	__attribute__((aligned(KMEM_CACHE_LINE)));
static size_t kmem_boot_used;     /* bytes of the pool cut so far */

static size_t cache_struct_size(void)
{
	return sizeof(struct kmem_cache) + arch_nr_cpus() * sizeof(struct kmem_cpu_cache);
}

/* The next boot descriptor of the pool, or NULL when it is used up. */
static struct kmem_cache *boot_cache_take(void)
{
	size_t size = ALIGN_UP(cache_struct_size(), (size_t)KMEM_CACHE_LINE);
	struct kmem_cache *cp;

	if (kmem_boot_used + size > sizeof(kmem_boot_pool))
		return NULL;
	cp = (struct kmem_cache *)(kmem_boot_pool + kmem_boot_used);
	kmem_boot_used += size;
	return cp;
}

/* ---- Debugging helpers ---- */

#define BUFTAG_ALLOC 0xa110c8edbaddcafeULL
#define BUFTAG_FREE 0xf4eedbaddeadbeefULL
#define REDZONE_BYTE 0xbb
#define POISON_FREE 0x6b
#define POISON_END 0xa5

static inline uint64_t *buftag(void *obj)
{
	return (uint64_t *)((char *)obj - sizeof(uint64_t));
}

/* Guard bytes after the object: to the next 8-byte boundary, plus 8. */
static inline size_t redzone_len(const struct kmem_cache *cp)
{
	return ALIGN_UP(cp->object_size, 8) - cp->object_size + 8;
}

static inline void *slab_obj(const struct kmem_cache *cp, const struct slab *sp,
			     unsigned int idx)
{
	return (char *)sp->s_mem + (size_t)idx * cp->buffer_size + cp->obj_offset;
}

static inline unsigned int obj_index(const struct kmem_cache *cp,
				     const struct slab *sp, const void *obj)
{
	return (unsigned int)(((const char *)obj - cp->obj_offset -
			       (const char *)sp->s_mem) / cp->buffer_size);
}

/* Puts a buffer into its free state at slab creation (debug caches). */
static void debug_init_object(struct kmem_cache *cp, void *obj)
{
	if (cp->flags & KMEM_TAGGED)
		*buftag(obj) = (uintptr_t)obj ^ BUFTAG_FREE;
	if (cp->flags & SLAB_RED_ZONE)
		memset((char *)obj + cp->object_size, REDZONE_BYTE, redzone_len(cp));
	if (cp->flags & SLAB_POISON) {
		memset(obj, POISON_FREE, cp->object_size);
		((uint8_t *)obj)[cp->object_size - 1] = POISON_END;
	}
}

static bool addr_in_ram(const void *p)
{
	uintptr_t a = (uintptr_t)p;

	return a >= arch_direct_map_base &&
	       pfn_valid(PHYS_PFN((phys_addr_t)(a - arch_direct_map_base)));
}

/*
 * Finds the slab of obj and checks that obj is the start of one of its
 * objects; panics with what is wrong. who names the caller for the message.
 */
static struct slab *debug_find_slab(struct kmem_cache *cp, const void *obj,
				    const char *who)
{
	struct page *page;
	struct slab *sp;
	size_t off;

	if (!addr_in_ram(obj))
		panic("%s(%s): %p is not an address of the machine's memory", who,
		      cp->name, obj);
	page = virt_to_page(obj);
	if (!page_flag(page, PG_slab))
		panic("%s(%s): object %p is not in any slab", who, cp->name, obj);
	if (page->slab_cache != cp)
		panic("%s(%s): object %p belongs to cache %s (wrong cache)", who,
		      cp->name, obj, page->slab_cache->name);
	sp = page->slab_desc;
	off = (size_t)((const char *)obj - (const char *)sp->s_mem);
	if ((const char *)obj < (const char *)sp->s_mem + cp->obj_offset ||
	    (off - cp->obj_offset) % cp->buffer_size ||
	    (off - cp->obj_offset) / cp->buffer_size >= cp->num)
		panic("%s(%s): %p is not the start of an object", who, cp->name, obj);
	return sp;
}

/* Checks an object being freed and puts it into its free state. */
static void debug_free(struct kmem_cache *cp, void *obj)
{
	if (cp->flags & SLAB_DEBUG_FREE)
		debug_find_slab(cp, obj, "kmem_cache_free");
	if (cp->flags & KMEM_TAGGED) {
		uint64_t tag = *buftag(obj);

		if (tag == ((uintptr_t)obj ^ BUFTAG_FREE))
			panic("kmem_cache_free(%s): double free of object %p", cp->name, obj);
		if (tag != ((uintptr_t)obj ^ BUFTAG_ALLOC))
			panic("kmem_cache_free(%s): red zone before object %p overwritten "
			      "(buffer underrun, or not an object)", cp->name, obj);
		*buftag(obj) = (uintptr_t)obj ^ BUFTAG_FREE;
	}
	if (cp->flags & SLAB_RED_ZONE) {
		const uint8_t *rz = (const uint8_t *)obj + cp->object_size;

		for (size_t i = 0; i < redzone_len(cp); i++)
			if (rz[i] != REDZONE_BYTE)
				panic("kmem_cache_free(%s): red zone after object %p overwritten "
				      "at offset %zu (buffer overrun)", cp->name, obj,
				      cp->object_size + i);
	}
	if (cp->flags & SLAB_POISON) {
		memset(obj, POISON_FREE, cp->object_size);
		((uint8_t *)obj)[cp->object_size - 1] = POISON_END;
	}
}

/* Checks an object being handed out and puts it into its allocated state. */
static void debug_alloc(struct kmem_cache *cp, void *obj)
{
	if (cp->flags & KMEM_TAGGED) {
		if (*buftag(obj) != ((uintptr_t)obj ^ BUFTAG_FREE))
			panic("kmem_cache_alloc(%s): object %p has a corrupt tag "
			      "(underrun of the object before it, or handed out twice)",
			      cp->name, obj);
		*buftag(obj) = (uintptr_t)obj ^ BUFTAG_ALLOC;
	}
	if (cp->flags & SLAB_POISON) {
		const uint8_t *b = obj;

		for (size_t i = 0; i + 1 < cp->object_size; i++)
			if (b[i] != POISON_FREE)
				panic("kmem_cache_alloc(%s): object %p modified after free "
				      "at offset %zu", cp->name, obj, i);
		if (b[cp->object_size - 1] != POISON_END)
			panic("kmem_cache_alloc(%s): object %p modified after free at "
			      "offset %zu", cp->name, obj, cp->object_size - 1);
		if (cp->ctor) {
			cp->ctor(obj);
			atomic_fetch_add_explicit(&cp->ctor_calls, 1, memory_order_relaxed);
		}
	}
}

/* ---- The slab layer ---- */

/*
 * Creates a slab: frames, descriptor, free chain, constructed objects.
 * Called with no lock held; returns the slab (not yet on a list) or NULL.
 */
static struct slab *cache_grow(struct kmem_cache *cp, gfp_t gfp)
{
	gfp_t page_gfp = (gfp & ~(__GFP_ZERO | __GFP_COMP | GFP_MOVABLE_MASK)) | cp->gfp;
	unsigned int npages = 1u << cp->order;
	unsigned int colour;
	struct page *page;
	struct slab *sp;
	char *addr;

	page = alloc_pages(page_gfp, cp->order);
	if (!page)
		return NULL;
	kma_count_frames(&kma_slab_ops, npages);
	addr = page_address(page);
	colour = atomic_fetch_add_explicit(&cp->colour_next, 1, memory_order_relaxed) %
		 cp->colours;
	if (cp->flags & CFLGS_OFF_SLAB) {
		sp = slab_kmalloc(cp->mgmt_size, gfp & ~(__GFP_ZERO | __GFP_COMP | GFP_ZONEMASK |
							  GFP_MOVABLE_MASK));
		if (!sp) {
			kma_count_frames(&kma_slab_ops, -(long)npages);
			__free_pages(page, cp->order);
			return NULL;
		}
		sp->s_mem = addr + colour * cp->colour_off;
	} else {
		sp = (struct slab *)(addr + colour * cp->colour_off);
		sp->s_mem = (char *)sp + cp->onslab_size;
	}
	sp->page = page;
	sp->inuse = 0;
	sp->free = 0;
	sp->colouroff = colour * (unsigned int)cp->colour_off;
	sp->owner = 0;
	for (unsigned int i = 0; i < cp->num; i++)
		sp->bufctl[i] = (kmem_bufctl_t)(i + 1 < cp->num ? i + 1 : BUFCTL_END);

	for (unsigned int i = 0; i < npages; i++) {
		page[i].slab_cache = cp;
		page[i].slab_desc = sp;
		/* Where the page sits in its slab and where the objects start,
		   so kmem_cache_is_object needs no load of the descriptor. */
		__atomic_store_n(&page[i].private,
				 ((unsigned long)i << SLAB_PRIV_INDEX_SHIFT) |
					 (unsigned long)((char *)sp->s_mem - addr),
				 __ATOMIC_RELAXED);
		set_page_flag(&page[i], PG_slab);
	}

	for (unsigned int i = 0; i < cp->num; i++) {
		void *obj = slab_obj(cp, sp, i);

		if (cp->flags & KMEM_DEBUG_ANY)
			debug_init_object(cp, obj);
		if (cp->ctor && !(cp->flags & SLAB_POISON))
			cp->ctor(obj);
	}
	if (cp->ctor && !(cp->flags & SLAB_POISON))
		atomic_fetch_add_explicit(&cp->ctor_calls, cp->num, memory_order_relaxed);
	return sp;
}

static void slab_free_batch(struct kmem_cache *cp, void **objs, unsigned int n);

/* Gives a slab (already off the lists) back to the page allocator. */
static void slab_destroy(struct kmem_cache *cp, struct slab *sp)
{
	struct page *page = sp->page;

	for (unsigned int i = 0; i < (1u << cp->order); i++) {
		clear_page_flag(&page[i], PG_slab);
		page[i].slab_cache = NULL;
		page[i].slab_desc = NULL;
		__atomic_store_n(&page[i].private, 0UL, __ATOMIC_RELAXED);
	}
	if (cp->flags & CFLGS_OFF_SLAB) {
		/* Straight to the slab layer: a shrink must not leave the
		   descriptor in a magazine, holding a kmalloc slab. */
		struct kmem_cache *dcp = kmalloc_cache(cp->mgmt_size);
		void *desc = sp;

		if (dcp->flags & KMEM_DEBUG_ANY)
			debug_free(dcp, desc);
		slab_free_batch(dcp, &desc, 1);
	}
	kma_count_frames(&kma_slab_ops, -(1L << cp->order));
	__free_pages(page, cp->order);
}

static void slab_destroy_list(struct kmem_cache *cp, struct list_head *list)
{
	struct slab *sp, *tmp;

	list_for_each_entry_safe(sp, tmp, list, list) {
		list_del(&sp->list);
		slab_destroy(cp, sp);
	}
}

/* Sets a slab's owner (8): CPU + 1, or 0. Under slab_lock. */
static void slab_set_owner(struct kmem_cache *cp, struct slab *sp, unsigned int owner)
{
	sp->owner = owner;
	for (unsigned int i = 0; i < (1u << cp->order); i++) {
		unsigned long *priv = &sp->page[i].private;
		unsigned long v = __atomic_load_n(priv, __ATOMIC_RELAXED);

		v = (v & ~SLAB_PRIV_OWNER_MASK) | ((unsigned long)owner << SLAB_PRIV_OWNER_SHIFT);
		__atomic_store_n(priv, v, __ATOMIC_RELAXED);
	}
}

/* Takes one object off a slab with free objects. Under slab_lock. */
static void *slab_take(struct kmem_cache *cp, struct slab *sp)
{
	unsigned int idx = sp->free;

	sp->free = sp->bufctl[idx];
	if (sp->inuse++ == 0) {
		cp->nr_free--;
		if (sp->inuse == cp->num) {
			list_move(&sp->list, &cp->slabs_full);
			cp->nr_full++;
		} else {
			list_move(&sp->list, &cp->slabs_partial);
			cp->nr_partial++;
		}
	} else if (sp->inuse == cp->num) {
		list_move(&sp->list, &cp->slabs_full);
		cp->nr_partial--;
		cp->nr_full++;
	}
	cp->active_objs++;
	return slab_obj(cp, sp, idx);
}

/*
 * Puts obj back on its slab. Under slab_lock; a slab that becomes free
 * beyond the cache's limit moves to *release, for the caller to destroy
 * after dropping the lock.
 */
static void slab_put(struct kmem_cache *cp, void *obj, struct list_head *release)
{
	struct slab *sp = virt_to_page(obj)->slab_desc;
	unsigned int idx = obj_index(cp, sp, obj);

	sp->bufctl[idx] = (kmem_bufctl_t)sp->free;
	sp->free = idx;
	cp->active_objs--;
	if (sp->inuse-- == cp->num) {
		cp->nr_full--;
		if (sp->inuse) {
			list_move(&sp->list, sp->owner ? &cp->cpu[sp->owner - 1].partial
						       : &cp->slabs_partial);
			cp->nr_partial++;
			return;
		}
	} else if (sp->inuse == 0) {
		cp->nr_partial--;
	} else {
		return;
	}
	/* The slab is free now, and nobody's (8). */
	if (sp->owner)
		slab_set_owner(cp, sp, 0);
	if (cp->nr_free >= cp->free_limit) {
		list_move(&sp->list, release);
		cp->reaped++;
	} else {
		list_move(&sp->list, &cp->slabs_free);
		cp->nr_free++;
	}
}

/*
 * CPU slabs (8): takes up to max objects off sp (on the free list or a
 * partial list, with free objects) for cpu, which owns it from now on.
 * Under slab_lock; returns the number taken.
 */
static unsigned int slab_take_many(struct kmem_cache *cp, struct slab *sp, unsigned int cpu,
				   void **out, unsigned int max)
{
	unsigned int n = 0;

	if (sp->inuse == 0)
		cp->nr_free--;
	else
		cp->nr_partial--;
	if (sp->owner != cpu + 1)
		slab_set_owner(cp, sp, cpu + 1);
	while (n < max && sp->free != BUFCTL_END) {
		unsigned int idx = sp->free;

		sp->free = sp->bufctl[idx];
		out[n++] = slab_obj(cp, sp, idx);
	}
	sp->inuse += n;
	cp->active_objs += n;
	if (sp->inuse == cp->num) {
		list_move(&sp->list, &cp->slabs_full);
		cp->nr_full++;
	} else {
		list_move(&sp->list, &cp->cpu[cpu].partial);
		cp->nr_partial++;
	}
	return n;
}

/*
 * CPU slabs (8): up to want objects for cpu under one hold of slab_lock:
 * from the partial slabs it owns, then unowned partial ones, free ones,
 * and at most one new slab. Returns the number taken; 0 when no slab
 * could be made.
 */
static unsigned int slab_fill(struct kmem_cache *cp, unsigned int cpu, void **out,
			      unsigned int want, gfp_t gfp)
{
	struct list_head *own = &cp->cpu[cpu].partial;
	bool grew = false;
	unsigned int n = 0;
	struct slab *sp;

	spin_lock(&cp->slab_lock);
	while (n < want) {
		if (!list_empty(own)) {
			sp = list_first_entry(own, struct slab, list);
		} else if (!list_empty(&cp->slabs_partial)) {
			sp = list_first_entry(&cp->slabs_partial, struct slab, list);
		} else if (!list_empty(&cp->slabs_free)) {
			sp = list_first_entry(&cp->slabs_free, struct slab, list);
		} else if (!grew) {
			spin_unlock(&cp->slab_lock);
			sp = cache_grow(cp, gfp);
			spin_lock(&cp->slab_lock);
			if (!sp)
				break;
			grew = true;
			list_add(&sp->list, &cp->slabs_free);
			cp->nr_free++;
			cp->grown++;
			continue;
		} else {
			break;
		}
		n += slab_take_many(cp, sp, cpu, out + n, want - n);
	}
	spin_unlock(&cp->slab_lock);
	if (!n)
		atomic_fetch_add_explicit(&cp->alloc_fail, 1, memory_order_relaxed);
	return n;
}

/* Allocates one object from the slab layer, growing the cache if needed. */
static void *slab_alloc(struct kmem_cache *cp, gfp_t gfp)
{
	struct slab *sp;
	void *obj;

	if (cpu_slabs(cp))
		return slab_fill(cp, arch_this_cpu(), &obj, 1, gfp) ? obj : NULL;

	spin_lock(&cp->slab_lock);
	while (list_empty(&cp->slabs_partial) && list_empty(&cp->slabs_free)) {
		spin_unlock(&cp->slab_lock);
		sp = cache_grow(cp, gfp);
		if (!sp) {
			atomic_fetch_add_explicit(&cp->alloc_fail, 1, memory_order_relaxed);
			return NULL;
		}
		spin_lock(&cp->slab_lock);
		list_add(&sp->list, &cp->slabs_free);
		cp->nr_free++;
		cp->grown++;
	}
	if (!list_empty(&cp->slabs_partial))
		sp = list_first_entry(&cp->slabs_partial, struct slab, list);
	else
		sp = list_first_entry(&cp->slabs_free, struct slab, list);
	obj = slab_take(cp, sp);
	spin_unlock(&cp->slab_lock);
	return obj;
}

/* Returns n objects to their slabs under one hold of the lock. */
static void slab_free_batch(struct kmem_cache *cp, void **objs, unsigned int n)
{
	struct list_head release = LIST_HEAD_INIT(release);

	if (!n)
		return;
	spin_lock(&cp->slab_lock);
	for (unsigned int i = 0; i < n; i++)
		slab_put(cp, objs[i], &release);
	spin_unlock(&cp->slab_lock);
	slab_destroy_list(cp, &release);
}

/* Gives every free slab back; returns the frames released. */
static unsigned long slab_reap_free(struct kmem_cache *cp)
{
	struct list_head release = LIST_HEAD_INIT(release);
	unsigned long slabs;

	spin_lock(&cp->slab_lock);
	slabs = cp->nr_free;
	while (!list_empty(&cp->slabs_free))
		list_move(cp->slabs_free.next, &release);
	cp->nr_free = 0;
	cp->reaped += slabs;
	spin_unlock(&cp->slab_lock);
	slab_destroy_list(cp, &release);
	return slabs << cp->order;
}

/* ---- The depot ---- */

static void kmem_update_arm(void);
static void magazine_destroy(struct kmem_cache *cp, struct kmem_magazine *mp,
			     int rounds, unsigned int magsize);
static void cpu_cache_flush(struct kmem_cache *cp, struct kmem_cpu_cache *cc,
			    bool disable);

static inline void depot_lock(struct kmem_cache *cp)
{
	if (unlikely(!spin_trylock(&cp->depot_lock))) {
		spin_lock(&cp->depot_lock);
		cp->depot_contention++;
	}
}

/* The rounds of the cache's magazines now (0: no magazine layer). */
static inline int cache_magsize(struct kmem_cache *cp)
{
	if (cp->flags & SLAB_NO_MAGAZINE)
		return 0;
	return (int)kmem_magtypes[__atomic_load_n(&cp->magtype, __ATOMIC_RELAXED)].rounds;
}

/*
 * The depot holds magazines of the cache's size only: a CPU still using
 * another size (owned slots, between a resize and its next slow path)
 * gets nothing, and depot_put refuses its magazine (false).
 */
static struct kmem_magazine *depot_get(struct kmem_cache *cp, struct kmem_maglist *ml,
				       int magsize)
{
	struct kmem_magazine *mp;

	depot_lock(cp);
	mp = magsize == (int)kmem_magtypes[cp->magtype].rounds ? ml->list : NULL;
	if (mp) {
		ml->list = mp->next;
		if (--ml->total < ml->min)
			ml->min = ml->total;
	}
	spin_unlock(&cp->depot_lock);
	return mp;
}

static bool depot_put(struct kmem_cache *cp, struct kmem_maglist *ml,
		      struct kmem_magazine *mp, int magsize)
{
	depot_lock(cp);
	if (magsize != (int)kmem_magtypes[cp->magtype].rounds) {
		spin_unlock(&cp->depot_lock);
		return false;
	}
	mp->next = ml->list;
	ml->list = mp;
	ml->total++;
	spin_unlock(&cp->depot_lock);
	kmem_update_arm();
	return true;
}

static struct kmem_magtype *magtype_of(unsigned int rounds)
{
	for (unsigned int i = 0; i < KMEM_NR_MAGTYPES; i++)
		if (kmem_magtypes[i].rounds == rounds)
			return &kmem_magtypes[i];
	return NULL;
}

/* Returns a magazine's rounds to the slab layer and frees the magazine. */
static void magazine_destroy(struct kmem_cache *cp, struct kmem_magazine *mp,
			     int rounds, unsigned int magsize)
{
	if (!mp)
		return;
	if (rounds > 0)
		slab_free_batch(cp, mp->rounds, (unsigned int)rounds);
	slab_cache_free(magtype_of(magsize)->cache, mp);
}

/* ---- The CPU layer: allocation and free ---- */

/*
 * Owned slots (7): the cache's magazine size changed since this CPU loaded
 * its magazines; give them back and take the new size. Only the owner
 * calls this, from its slow path. A no-op otherwise.
 */
static void cpu_owner_resync(struct kmem_cache *cp, struct kmem_cpu_cache *cc)
{
	int want;

	if (!CPU_SLOTS_OWNED)
		return;
	want = cache_magsize(cp);
	if (likely(cc->magsize == want))
		return;
	cpu_cache_flush(cp, cc, false);
	cc->magsize = want;
}

/*
 * CPU slabs (8), owned slots only (no cc->lock): the loaded magazine is
 * empty and the depot has no full one; fill it from this CPU's slabs, at
 * most a slab's worth, and hand out one object. NULL if there is no
 * magazine or no memory (the caller falls back to one object).
 */
static void *cpu_fill(struct kmem_cache *cp, struct kmem_cpu_cache *cc, gfp_t gfp)
{
	unsigned int want = MIN((unsigned int)cc->magsize, cp->num), n;

	if (!cc->loaded) {
		struct kmem_cache *mcp = magtype_of((unsigned int)cc->magsize)->cache;

		if (!mcp || !(cc->loaded = slab_cache_alloc(mcp, GFP_NOWAIT | __GFP_NOWARN)))
			return NULL;
		cc->rounds = 0;
	}
	n = slab_fill(cp, arch_this_cpu(), cc->loaded->rounds, want, gfp);
	if (!n)
		return NULL;
	cc->rounds = (int)n - 1;
	return cc->loaded->rounds[n - 1];
}

/*
 * CPU slabs (8), owned slots only: obj belongs to another CPU's slab (or
 * to no CPU's), and this CPU must not hand it out again. It goes into the
 * remote magazine, which this CPU never allocates from: when full, into
 * the depot (whose full magazines go to CPUs that run out, as in the
 * papers: a producer/consumer pair keeps trading whole magazines), and
 * what is left in it when the CPU flushes, back to the slabs.
 */
static void __attribute__((noinline))
cpu_free_remote(struct kmem_cache *cp, struct kmem_cpu_cache *cc, void *obj)
{
	struct kmem_magazine *rm = cc->remote;
	int magsize;

	cpu_owner_resync(cp, cc);
	magsize = cc->magsize;
	if (!rm) {
		struct kmem_magtype *mt = magtype_of((unsigned int)magsize);

		rm = magsize ? depot_get(cp, &cp->empty, magsize) : NULL;
		if (!rm && mt && mt->cache)
			rm = slab_cache_alloc(mt->cache, GFP_NOWAIT | __GFP_NOWARN);
		if (!rm) {
			slab_free_batch(cp, &obj, 1);
			return;
		}
		rm->count = 0;
		cc->remote = rm;
	}
	rm->rounds[rm->count++] = obj;
	if (rm->count == (unsigned long)magsize) {
		cc->remote = NULL;
		if (!depot_put(cp, &cp->full, rm, magsize))
			magazine_destroy(cp, rm, magsize, (unsigned int)magsize);
	}
}

/* The slow path of alloc: called with cc->lock held and the loaded
   magazine empty; returns with it dropped. */
static void *__attribute__((noinline))
cpu_alloc_slow(struct kmem_cache *cp, struct kmem_cpu_cache *cc, gfp_t gfp)
{
	struct kmem_magazine *fmp;
	void *obj;

	cpu_owner_resync(cp, cc);
	for (;;) {
		if (cc->rounds > 0) {
			obj = cc->loaded->rounds[--cc->rounds];
			cpu_unlock(cc);
			return obj;
		}
		/* The previous magazine is full: swap it in. */
		if (cc->prounds > 0) {
			struct kmem_magazine *m = cc->loaded;
			int r = cc->rounds;

			cc->loaded = cc->previous;
			cc->rounds = cc->prounds;
			cc->previous = m;
			cc->prounds = r;
			continue;
		}
		if (!cc->magsize)
			break;
		/* Trade the empty previous for a full one from the depot. */
		fmp = depot_get(cp, &cp->full, cc->magsize);
		if (!fmp)
			break;
		if (cc->previous && !depot_put(cp, &cp->empty, cc->previous, cc->magsize))
			magazine_destroy(cp, cc->previous, 0, (unsigned int)cc->magsize);
		cc->previous = cc->loaded;
		cc->prounds = cc->rounds;
		cc->loaded = fmp;
		cc->rounds = cc->magsize;
	}
	if (cpu_slabs(cp) && cc->magsize > 0 && (obj = cpu_fill(cp, cc, gfp)))
		return obj;
	cpu_unlock(cc);
	return slab_alloc(cp, gfp);
}

/* The slow path of free: called with cc->lock held and the loaded
   magazine full (or none); returns with it dropped. */
static void __attribute__((noinline))
cpu_free_slow(struct kmem_cache *cp, struct kmem_cpu_cache *cc, void *obj)
{
	struct kmem_magazine *emp;

	cpu_owner_resync(cp, cc);
	for (;;) {
		if ((unsigned int)cc->rounds < (unsigned int)cc->magsize) {
			cc->loaded->rounds[cc->rounds++] = obj;
			cpu_unlock(cc);
			return;
		}
		/* The previous magazine is empty: swap it in. */
		if (cc->prounds == 0) {
			struct kmem_magazine *m = cc->loaded;
			int r = cc->rounds;

			cc->loaded = cc->previous;
			cc->rounds = cc->prounds;
			cc->previous = m;
			cc->prounds = r;
			continue;
		}
		if (!cc->magsize)
			break;
		/* Trade the full previous for an empty one from the depot. */
		emp = depot_get(cp, &cp->empty, cc->magsize);
		if (emp) {
			if (cc->previous &&
			    !depot_put(cp, &cp->full, cc->previous, cc->magsize))
				magazine_destroy(cp, cc->previous, cc->prounds,
						 (unsigned int)cc->magsize);
			cc->previous = cc->loaded;
			cc->prounds = cc->rounds;
			cc->loaded = emp;
			cc->rounds = 0;
			continue;
		}
		/*
		 * The depot has no empty magazine: make one. Not under our lock
		 * (the magazine cache's slab layer may call alloc_pages); the
		 * cache may have been resized meanwhile, then we retry.
		 */
		{
			int magsize = cc->magsize;
			struct kmem_cache *mcp = magtype_of((unsigned int)magsize)->cache;

			if (!mcp)
				break;
			cpu_unlock(cc);
			emp = slab_cache_alloc(mcp, GFP_NOWAIT | __GFP_NOWARN);
			cpu_lock(cc);
			if (!emp)
				break;
			if (cc->magsize != magsize) {
				cpu_unlock(cc);
				slab_cache_free(mcp, emp);
				cpu_lock(cc);
				continue;
			}
			if (!depot_put(cp, &cp->empty, emp, magsize)) {
				/* Resized meanwhile (owned slots): adopt it. */
				slab_cache_free(mcp, emp);
				cpu_owner_resync(cp, cc);
			}
		}
	}
	cpu_unlock(cc);
	slab_free_batch(cp, &obj, 1);
}

/* The slab allocator's own path: the magazine fast path, then the slow one. */
static inline __attribute__((always_inline)) void *cache_alloc(struct kmem_cache *cp,
								gfp_t gfp)
{
	struct kmem_cpu_cache *cc = &cp->cpu[arch_this_cpu()];
	void *obj;

	cpu_lock(cc);
	if (likely(cc->rounds > 0)) {
		obj = cc->loaded->rounds[--cc->rounds];
		cpu_unlock(cc);
	} else {
		obj = cpu_alloc_slow(cp, cc, gfp);
		if (unlikely(!obj))
			return NULL;
	}
	if (unlikely(cp->flags & KMEM_DEBUG_ANY))
		debug_alloc(cp, obj);
	if (unlikely(gfp & __GFP_ZERO))
		memset(obj, 0, cp->object_size);
	return obj;
}

static inline __attribute__((always_inline)) void cache_free(struct kmem_cache *cp,
							      void *obj)
{
	struct kmem_cpu_cache *cc;
	unsigned int cpu;

	if (unlikely(cp->flags & KMEM_DEBUG_ANY))
		debug_free(cp, obj);
	cpu = arch_this_cpu();
	cc = &cp->cpu[cpu];
	if (cpu_slabs(cp) && unlikely(slab_owner_hint(obj) != cpu + 1)) {
		cpu_free_remote(cp, cc, obj);
		return;
	}
	cpu_lock(cc);
	if (likely((unsigned int)cc->rounds < (unsigned int)cc->magsize)) {
		cc->loaded->rounds[cc->rounds++] = obj;
		cpu_unlock(cc);
		return;
	}
	cpu_free_slow(cp, cc, obj);
}

/*
 * The machine-wide dispatch (--kma, include/kmm/kma.h): with another design
 * selected, a cache's objects are object_size bytes at its alignment from
 * that design, and the constructor runs at every allocation since the
 * design keeps no constructed objects; the debug flags (red zones,
 * poisoning, free checks) are the slab layer's and do not apply. With the
 * allocation trace on, the machine stays on slab and each call is
 * recorded. The slab allocator's own bookkeeping (cache descriptors,
 * magazines, off-slab slab descriptors) always stays on slab.
 */
static void kma_live_add(struct kmem_cache *cp, long delta)
{
	long *live = &cp->cpu[arch_this_cpu()].kma_live;

	__atomic_store_n(live, __atomic_load_n(live, __ATOMIC_RELAXED) + delta,
			 __ATOMIC_RELAXED);
}

static long kma_live_sum(struct kmem_cache *cp)
{
	long live = 0;

	for (unsigned int c = 0; c < arch_nr_cpus(); c++)
		live += __atomic_load_n(&cp->cpu[c].kma_live, __ATOMIC_RELAXED);
	return live;
}

static void *__attribute__((noinline)) cache_alloc_dispatch(struct kmem_cache *cp, gfp_t gfp)
{
	void *obj;

	if (kma_current == &kma_slab_ops) {
		obj = cache_alloc(cp, gfp);
		if (obj)
			kma_trace('c', obj, cp->object_size);
		return obj;
	}
	obj = kma_obj_alloc(cp->object_size, cp->align, gfp & ~__GFP_ZERO);
	if (unlikely(!obj)) {
		atomic_fetch_add_explicit(&cp->alloc_fail, 1, memory_order_relaxed);
		return NULL;
	}
	kma_live_add(cp, 1);
	if (cp->ctor) {
		cp->ctor(obj);
		atomic_fetch_add_explicit(&cp->ctor_calls, 1, memory_order_relaxed);
	}
	if (gfp & __GFP_ZERO)
		memset(obj, 0, cp->object_size);
	return obj;
}

/* Objects in slab pages (allocated before the switch, or the trace is on)
   go back to their slab; the others to the design. */
static void __attribute__((noinline)) cache_free_dispatch(struct kmem_cache *cp, void *obj)
{
	if (page_flag(virt_to_page(obj), PG_slab)) {
		kma_trace('f', obj, cp->object_size);
		cache_free(cp, obj);
		return;
	}
	kma_obj_free(obj, cp->object_size, cp->align);
	kma_live_add(cp, -1);
}

void *kmem_cache_alloc(struct kmem_cache *cp, gfp_t gfp)
{
	if (unlikely(kma_dispatching()))
		return cache_alloc_dispatch(cp, gfp);
	return cache_alloc(cp, gfp);
}

void kmem_cache_free(struct kmem_cache *cp, void *obj)
{
	if (unlikely(!obj))
		return;
	if (unlikely(kma_dispatching()))
		cache_free_dispatch(cp, obj);
	else
		cache_free(cp, obj);
}

void *slab_cache_alloc(struct kmem_cache *cp, gfp_t gfp)
{
	return cache_alloc(cp, gfp);
}

void slab_cache_free(struct kmem_cache *cp, void *obj)
{
	if (obj)
		cache_free(cp, obj);
}

/* ---- Flushing magazines ---- */

/* Empties one CPU's magazines into the slab layer. With disable, also
   turns the CPU layer off (resize). */
static void cpu_cache_flush(struct kmem_cache *cp, struct kmem_cpu_cache *cc,
			    bool disable)
{
	struct kmem_magazine *loaded, *previous, *remote;
	int rounds, prounds, magsize;

	cpu_lock(cc);
	loaded = cc->loaded;
	previous = cc->previous;
	remote = cc->remote;
	rounds = cc->rounds;
	prounds = cc->prounds;
	magsize = cc->magsize;
	cc->loaded = cc->previous = cc->remote = NULL;
	cc->rounds = cc->prounds = -1;
	if (disable)
		cc->magsize = 0;
	cpu_unlock(cc);
	magazine_destroy(cp, loaded, rounds, (unsigned int)magsize);
	magazine_destroy(cp, previous, prounds, (unsigned int)magsize);
	if (remote)   /* of the CPU's magazine size (cpu_free_remote) */
		magazine_destroy(cp, remote, (int)remote->count, (unsigned int)magsize);
}

/* CPU slabs (8): the CPU goes away; its slabs become nobody's. */
static void slab_disown_cpu(struct kmem_cache *cp, unsigned int cpu)
{
	struct list_head *own = &cp->cpu[cpu].partial;
	struct slab *sp;

	spin_lock(&cp->slab_lock);
	while (!list_empty(own)) {
		sp = list_first_entry(own, struct slab, list);
		slab_set_owner(cp, sp, 0);
		list_move_tail(&sp->list, &cp->slabs_partial);
	}
	list_for_each_entry(sp, &cp->slabs_full, list)
		if (sp->owner == cpu + 1)
			slab_set_owner(cp, sp, 0);
	spin_unlock(&cp->slab_lock);
}

static void depot_flush_resize(struct kmem_cache *cp, unsigned int next);

/* Empties the depot (n magazines of each list at most). */
static void depot_flush(struct kmem_cache *cp, unsigned long nfull,
			unsigned long nempty)
{
	struct kmem_magazine *full = NULL, *empty = NULL, *mp;
	unsigned int magsize;

	spin_lock(&cp->depot_lock);
	magsize = kmem_magtypes[cp->magtype].rounds;
	while (nfull-- && (mp = cp->full.list)) {
		cp->full.list = mp->next;
		cp->full.total--;
		mp->next = full;
		full = mp;
	}
	while (nempty-- && (mp = cp->empty.list)) {
		cp->empty.list = mp->next;
		cp->empty.total--;
		mp->next = empty;
		empty = mp;
	}
	cp->full.min = MIN(cp->full.min, cp->full.total);
	cp->empty.min = MIN(cp->empty.min, cp->empty.total);
	spin_unlock(&cp->depot_lock);
	while ((mp = full)) {
		full = mp->next;
		magazine_destroy(cp, mp, (int)magsize, magsize);
	}
	while ((mp = empty)) {
		empty = mp->next;
		magazine_destroy(cp, mp, 0, magsize);
	}
}

/* Owned slots (7): only the caller's own CPU layer, never another's. */
/*
 * Owned slots (7): switches the cache to magazine type next and empties
 * the depot of the old size's magazines, under one hold of depot_lock, so
 * that no magazine of the new size can be taken for an old one.
 */
static void depot_flush_resize(struct kmem_cache *cp, unsigned int next)
{
	struct kmem_magazine *full, *empty, *mp;
	unsigned int magsize;

	spin_lock(&cp->depot_lock);
	magsize = kmem_magtypes[cp->magtype].rounds;
	__atomic_store_n(&cp->magtype, next, __ATOMIC_RELAXED);
	full = cp->full.list;
	empty = cp->empty.list;
	cp->full = (struct kmem_maglist){ 0 };
	cp->empty = (struct kmem_maglist){ 0 };
	spin_unlock(&cp->depot_lock);
	while ((mp = full)) {
		full = mp->next;
		magazine_destroy(cp, mp, (int)magsize, magsize);
	}
	while ((mp = empty)) {
		empty = mp->next;
		magazine_destroy(cp, mp, 0, magsize);
	}
}

static void magazines_flush(struct kmem_cache *cp, bool disable)
{
	if (CPU_SLOTS_OWNED) {
		cpu_cache_flush(cp, &cp->cpu[arch_this_cpu()], disable);
	} else {
		for (unsigned int c = 0; c < arch_nr_cpus(); c++)
			cpu_cache_flush(cp, &cp->cpu[c], disable);
	}
	depot_flush(cp, ~0UL, ~0UL);
}

void kmem_cache_cpu_dead(unsigned int cpu)
{
	struct kmem_cache *cp;

	if (!kmem_ready || cpu >= arch_nr_cpus())
		return;
	mutex_lock(&kmem_cache_lock);
	for_each_cache(cp) {
		cpu_cache_flush(cp, &cp->cpu[cpu], false);
		if (cpu_slabs(cp))
			slab_disown_cpu(cp, cpu);
	}
	mutex_unlock(&kmem_cache_lock);
}

/*
 * Every lock of the slab allocator in the lock order: the cache list, then
 * each cache's CPU locks (none with owned slots), depot and slab locks.
 * Holding all of them at once cannot deadlock: no path holds two caches'
 * locks, and the page allocator's locks come after (page_alloc_lock_all).
 */
void kmem_cache_lock_all(void)
{
	struct kmem_cache *cp;

	mutex_lock(&kmem_cache_lock);
	for_each_cache(cp) {
		if (!CPU_SLOTS_OWNED)
			for (unsigned int c = 0; c < arch_nr_cpus(); c++)
				spin_lock(&cp->cpu[c].lock);
		spin_lock(&cp->depot_lock);
		spin_lock(&cp->slab_lock);
	}
}

void kmem_cache_unlock_all(void)
{
	struct kmem_cache *cp;

	for_each_cache(cp) {
		spin_unlock(&cp->slab_lock);
		spin_unlock(&cp->depot_lock);
		if (!CPU_SLOTS_OWNED)
			for (unsigned int c = arch_nr_cpus(); c-- > 0;)
				spin_unlock(&cp->cpu[c].lock);
	}
	mutex_unlock(&kmem_cache_lock);
}

static void magazines_enable(struct kmem_cache *cp, unsigned int magsize)
{
	for (unsigned int c = 0; c < arch_nr_cpus(); c++) {
		struct kmem_cpu_cache *cc = &cp->cpu[c];

		cpu_lock(cc);
		cc->magsize = (int)magsize;
		cpu_unlock(cc);
	}
}

/* ---- Cache creation and destruction ---- */

static unsigned int onslab_num(size_t slab_bytes, size_t bs, size_t align,
			       size_t *mgmt_aligned)
{
	size_t n = slab_bytes / bs;

	while (n && ALIGN_UP(sizeof(struct slab) + n * sizeof(kmem_bufctl_t), align) +
			    n * bs > slab_bytes)
		n--;
	*mgmt_aligned = ALIGN_UP(sizeof(struct slab) + n * sizeof(kmem_bufctl_t), align);
	return (unsigned int)n;
}

/* Chooses the slab order and the on/off-slab layout; false if impossible. */
static bool cache_layout(struct kmem_cache *cp)
{
	bool off = !(cp->flags & CFLGS_FORCE_ON_SLAB) && cp->buffer_size >= KMEM_OFF_SLAB_MIN;

	for (unsigned int order = 0; order <= KMEM_MAX_ORDER; order++) {
		size_t slab_bytes = PAGE_SIZE << order;
		size_t mgmt = 0;
		unsigned int num;

		if (off)
			num = (unsigned int)(slab_bytes / cp->buffer_size);
		else
			num = onslab_num(slab_bytes, cp->buffer_size, cp->align, &mgmt);
		if (num > KMEM_MAX_OBJS)
			num = KMEM_MAX_OBJS;
		if (!num)
			continue;
		if (!off)
			mgmt = ALIGN_UP(sizeof(struct slab) + num * sizeof(kmem_bufctl_t),
					cp->align);
		cp->order = order;
		cp->num = num;
		cp->onslab_size = off ? 0 : mgmt;
		cp->mgmt_size = sizeof(struct slab) + num * sizeof(kmem_bufctl_t);
		cp->leftover = slab_bytes - cp->onslab_size - num * cp->buffer_size;
		if (off)
			cp->flags |= CFLGS_OFF_SLAB;
		if (cp->leftover * 8 <= slab_bytes)
			break;
	}
	if (!cp->num)
		return false;
	cp->colour_off = MAX((size_t)KMEM_CACHE_LINE, cp->align);
	cp->colours = (unsigned int)(cp->leftover / cp->colour_off) + 1;
	return true;
}

static unsigned int initial_magtype(size_t bs)
{
	unsigned int rounds = bs <= 256 ? 15 : bs <= 1024 ? 7 : bs <= 4096 ? 3 : 1;

	return (unsigned int)(magtype_of(rounds) - kmem_magtypes);
}

/* Fills in a cache descriptor; false if the arguments are impossible. */
static bool cache_setup(struct kmem_cache *cp, const char *name, size_t size,
			size_t align, unsigned int flags, kmem_ctor_t ctor)
{
	memset(cp, 0, cache_struct_size());
	kmm_strlcpy(cp->name, name, sizeof(cp->name));
	cp->object_size = size;
	cp->flags = flags;
	cp->ctor = ctor;
	align = MAX(align, (size_t)KMEM_MIN_ALIGN);
	if (flags & SLAB_HWCACHE_ALIGN)
		align = MAX(align, (size_t)KMEM_CACHE_LINE);
	cp->align = align;
	if (flags & KMEM_TAGGED)
		cp->obj_offset = ALIGN_UP(sizeof(uint64_t), align);
	cp->buffer_size = ALIGN_UP(cp->obj_offset + size +
				   ((flags & SLAB_RED_ZONE) ? redzone_len(cp) : 0), align);
	cp->buffer_recip = (1ULL << 40) / cp->buffer_size + 1;
	if (!cache_layout(cp))
		return false;
	cp->gfp = (flags & SLAB_RECLAIM_ACCOUNT) ? __GFP_RECLAIMABLE : 0;
	cp->free_limit = KMEM_FREE_LIMIT;
	cp->magtype = initial_magtype(cp->buffer_size);
	atomic_init(&cp->colour_next, 0);
	atomic_init(&cp->ctor_calls, 0);
	atomic_init(&cp->alloc_fail, 0);
	spin_lock_init(&cp->depot_lock);
	spin_lock_init(&cp->slab_lock);
	INIT_LIST_HEAD(&cp->slabs_full);
	INIT_LIST_HEAD(&cp->slabs_partial);
	INIT_LIST_HEAD(&cp->slabs_free);
	for (unsigned int c = 0; c < arch_nr_cpus(); c++) {
		struct kmem_cpu_cache *cc = &cp->cpu[c];

		spin_lock_init(&cc->lock);
		INIT_LIST_HEAD(&cc->partial);
		cc->rounds = cc->prounds = -1;
		cc->magsize = (flags & SLAB_NO_MAGAZINE) ? 0
			      : (int)kmem_magtypes[cp->magtype].rounds;
	}
	return true;
}

static bool is_power_of_2(size_t x)
{
	return x && !(x & (x - 1));
}

static bool create_args_ok(const char *name, size_t size, size_t align,
			   unsigned int flags)
{
	return kmem_ready && name && size && size <= KMEM_MAX_OBJECT_SIZE &&
	       (!align || (is_power_of_2(align) && align <= PAGE_SIZE)) &&
	       !(flags & ~(SLAB_CREATE_MASK | CFLGS_FORCE_ON_SLAB));
}

static void cache_link(struct kmem_cache *cp)
{
	mutex_lock(&kmem_cache_lock);
	list_add_tail(&cp->next, &cache_chain);
	mutex_unlock(&kmem_cache_lock);
}

struct kmem_cache *kmem_cache_create(const char *name, size_t size, size_t align,
				     unsigned int flags, kmem_ctor_t ctor)
{
	struct kmem_cache *cp = NULL;

	if (!create_args_ok(name, size, align, flags))
		goto fail;
	flags |= kmem_debug_flags & SLAB_DEBUG;
	cp = slab_cache_alloc(kmem_cache_cache, GFP_KERNEL);
	if (!cp)
		goto fail;
	if (!cache_setup(cp, name, size, align, flags, ctor)) {
		slab_cache_free(kmem_cache_cache, cp);
		goto fail;
	}
	cache_link(cp);
	return cp;
fail:
	if (flags & SLAB_PANIC)
		panic("kmem_cache_create: cannot create cache %s (size %zu, align %zu)",
		      name ? name : "(null)", size, align);
	return NULL;
}

struct kmem_cache *kmem_cache_create_boot(const char *name, size_t size, size_t align,
					  unsigned int flags)
{
	struct kmem_cache *cp;

	if (!create_args_ok(name, size, align, flags))
		return NULL;
	flags |= kmem_debug_flags & SLAB_DEBUG;
	cp = boot_cache_take();
	if (!cp)
		return NULL;
	if (!cache_setup(cp, name, size, align, flags | CFLGS_BOOT, NULL)) {
		kmem_boot_used -= ALIGN_UP(cache_struct_size(), (size_t)KMEM_CACHE_LINE);
		return NULL;
	}
	cache_link(cp);
	return cp;
}

/* Reports the objects still allocated in cp's slabs (magazines flushed). */
static unsigned long report_leaks(struct kmem_cache *cp)
{
	uint64_t freemap[KMEM_MAX_OBJS / 64];
	unsigned long leaked = 0, shown = 0;
	struct slab *sp;

	spin_lock(&cp->slab_lock);
	leaked = cp->active_objs;
	printk(KERN_ERR "kmem_cache_destroy %s: %lu object%s still allocated; "
	       "the cache and their slabs are kept\n", cp->name, leaked,
	       leaked == 1 ? "" : "s");
	/* The full list, the unowned partial list, each CPU's (8). */
	for (unsigned int l = 0; l < 2 + arch_nr_cpus(); l++) {
		struct list_head *list = l == 0 ? &cp->slabs_full
					 : l == 1 ? &cp->slabs_partial
						  : &cp->cpu[l - 2].partial;

		list_for_each_entry(sp, list, list) {
			memset(freemap, 0, sizeof(freemap));
			for (unsigned int i = sp->free; i != BUFCTL_END; i = sp->bufctl[i])
				freemap[i / 64] |= 1ULL << (i % 64);
			for (unsigned int i = 0; i < cp->num && shown < 16; i++) {
				if (freemap[i / 64] & (1ULL << (i % 64)))
					continue;
				printk(KERN_ERR "kmem_cache_destroy %s: leaked object %p\n",
				       cp->name, slab_obj(cp, sp, i));
				shown++;
			}
		}
	}
	if (leaked > shown)
		printk(KERN_ERR "kmem_cache_destroy %s: ... and %lu more\n", cp->name,
		       leaked - shown);
	spin_unlock(&cp->slab_lock);
	return leaked;
}

int kmem_cache_destroy(struct kmem_cache *cp)
{
	unsigned long active;

	if (!cp)
		return 0;
	if (cp->flags & CFLGS_BOOT)
		return -KMM_EBUSY;
	mutex_lock(&kmem_cache_lock);
	magazines_flush(cp, false);
	slab_reap_free(cp);
	spin_lock(&cp->slab_lock);
	active = cp->active_objs;
	spin_unlock(&cp->slab_lock);
	if (active) {
		report_leaks(cp);
		mutex_unlock(&kmem_cache_lock);
		return -KMM_EBUSY;
	}
	active = (unsigned long)kma_live_sum(cp);
	if (active) {
		/* The design keeps no list of a cache's objects: the count is all
		   there is to report. */
		printk(KERN_ERR "kmem_cache_destroy %s: %lu object%s still allocated from "
		       "the %s allocator (--kma); the cache is kept\n", cp->name, active,
		       active == 1 ? "" : "s", kma_current ? kma_current->name : "?");
		mutex_unlock(&kmem_cache_lock);
		return -KMM_EBUSY;
	}
	list_del(&cp->next);
	mutex_unlock(&kmem_cache_lock);
	slab_cache_free(kmem_cache_cache, cp);
	return 0;
}

unsigned long kmem_cache_shrink(struct kmem_cache *cp)
{
	unsigned long pages;

	magazines_flush(cp, false);
	pages = slab_reap_free(cp);
	/* Under another design the cache has nothing of its own to give back:
	   that design's frames are shrunk instead. */
	if (kma_dispatching() && kma_current != &kma_slab_ops)
		pages += kma_shrink(kma_current);
	return pages;
}

int kmem_cache_set_magazine(struct kmem_cache *cp, unsigned int rounds)
{
	struct kmem_magtype *mt = magtype_of(rounds);
	unsigned int idx;

	if (!cp || !mt || !mt->cache || (cp->flags & SLAB_NO_MAGAZINE))
		return -KMM_EINVAL;
	idx = (unsigned int)(mt - kmem_magtypes);
	mutex_lock(&kmem_cache_lock);
	if (CPU_SLOTS_OWNED) {
		depot_flush_resize(cp, idx);
	} else {
		magazines_flush(cp, true);
		spin_lock(&cp->depot_lock);
		cp->magtype = idx;
		spin_unlock(&cp->depot_lock);
		magazines_enable(cp, rounds);
	}
	mutex_unlock(&kmem_cache_lock);
	return 0;
}

bool kmem_cache_is_object(struct kmem_cache *cp, const void *obj)
{
	struct page *page = virt_to_page(obj);
	unsigned long priv;
	uint32_t off, start, idx;

	if (!page_flag(page, PG_slab) || page->slab_cache != cp)
		return false;
	/* page->private: the page's index in its slab, and the offset of the
	   first object (cache_grow); slabs are at most 32 frames, so 32-bit
	   arithmetic is enough. */
	priv = __atomic_load_n(&page->private, __ATOMIC_RELAXED);
	off = (uint32_t)(((priv >> SLAB_PRIV_INDEX_SHIFT) & 0xff) << PAGE_SHIFT) + (uint32_t)((uintptr_t)obj & ~PAGE_MASK);
	start = (uint32_t)priv + (uint32_t)cp->obj_offset;
	if (off < start)
		return false;
	off -= start;
	/* off / buffer_size by a multiplication (a division costs some 25
	   cycles on the free path): exact, as off < 2^(KMEM_MAX_ORDER +
	   PAGE_SHIFT) makes the reciprocal's error below 1 / buffer_size. */
	idx = (uint32_t)(((uint64_t)off * cp->buffer_recip) >> 40);
	return idx * (uint32_t)cp->buffer_size == off && idx < cp->num;
}

const char *kmem_cache_name(const struct kmem_cache *cp)
{
	return cp->name;
}

size_t kmem_cache_size(const struct kmem_cache *cp)
{
	return cp->object_size;
}

struct kmem_cache *kmem_cache_find(const char *name)
{
	struct kmem_cache *cp, *found = NULL;

	mutex_lock(&kmem_cache_lock);
	for_each_cache(cp) {
		if (!kmm_strcmp(cp->name, name)) {
			found = cp;
			break;
		}
	}
	mutex_unlock(&kmem_cache_lock);
	return found;
}

void kmem_cache_for_each(void (*fn)(struct kmem_cache *cache, void *arg), void *arg)
{
	struct kmem_cache *cp;

	mutex_lock(&kmem_cache_lock);
	for_each_cache(cp)
		fn(cp, arg);
	mutex_unlock(&kmem_cache_lock);
}

/* ---- Periodic update: magazine resizing and the depot's working set ---- */

static bool cache_update(struct kmem_cache *cp)
{
	unsigned long reap_full, reap_empty, contention;
	unsigned int magtype, next;
	bool resize = false, busy;

	spin_lock(&cp->depot_lock);
	/* Magazines unused through the whole last interval may go. */
	reap_full = MIN(cp->full.reaplimit, cp->full.min);
	reap_empty = MIN(cp->empty.reaplimit, cp->empty.min);
	cp->full.reaplimit = cp->full.min;
	cp->empty.reaplimit = cp->empty.min;
	cp->full.min = cp->full.total;
	cp->empty.min = cp->empty.total;
	contention = cp->depot_contention - cp->depot_contention_prev;
	cp->depot_contention_prev = cp->depot_contention;
	magtype = cp->magtype;
	next = magtype + 1;
	busy = contention || cp->full.total || cp->empty.total;
	if (!(cp->flags & SLAB_NO_MAGAZINE) && contention > KMEM_DEPOT_CONTENTION &&
	    next < KMEM_NR_MAGTYPES && kmem_magtypes[next].cache &&
	    kmem_magtypes[next].rounds * cp->buffer_size <= KMEM_MAGAZINE_MAX_BYTES)
		resize = true;
	spin_unlock(&cp->depot_lock);

	if (resize && CPU_SLOTS_OWNED) {
		/* Owned slots (7): each owner adopts the size in its slow path;
		   the depot's magazines of the old size go now. */
		depot_flush_resize(cp, next);
	} else if (resize) {
		/* As illumos: purge every magazine, then enable the larger size. */
		magazines_flush(cp, true);
		spin_lock(&cp->depot_lock);
		cp->magtype = next;
		spin_unlock(&cp->depot_lock);
		magazines_enable(cp, kmem_magtypes[next].rounds);
	} else if (reap_full || reap_empty) {
		depot_flush(cp, reap_full, reap_empty);
	}
	return busy;
}

/*
 * The update runs as deferred work only while some depot holds magazines
 * or was contended: it is armed by the first magazine entering a depot
 * (kmem_update_arm) and re-arms itself while there is upkeep to do, so an
 * idle machine has no work queued and time can leap ahead freely.
 */
static atomic_bool kmem_update_armed;

static void kmem_update_arm(void)
{
	if (!atomic_load_explicit(&kmem_update_armed, memory_order_relaxed) &&
	    !atomic_exchange(&kmem_update_armed, true))
		arch_queue_work(&kmem_update_work, KMEM_UPDATE_INTERVAL_NS);
}

static bool __kmem_cache_update_all(void)
{
	struct kmem_cache *cp;
	bool busy = false;

	if (!kmem_ready)
		return false;
	mutex_lock(&kmem_cache_lock);
	for_each_cache(cp)
		busy |= cache_update(cp);
	mutex_unlock(&kmem_cache_lock);
	return busy;
}

void kmem_cache_update_all(void)
{
	__kmem_cache_update_all();
}

static void kmem_update_fn(struct kmm_work *work)
{
	atomic_store(&kmem_update_armed, false);
	if (__kmem_cache_update_all())
		kmem_update_arm();
}

/* ---- Statistics ---- */

/*
 * The CPU slots the statistics and the checker may look at, locked: every
 * CPU's, or with owned slots (7) the caller's own, which needs no lock.
 */
static unsigned int cpu_slots_first(void)
{
	return CPU_SLOTS_OWNED ? arch_this_cpu() : 0;
}

static unsigned int cpu_slots_end(void)
{
	return CPU_SLOTS_OWNED ? arch_this_cpu() + 1 : arch_nr_cpus();
}

static void cpu_slots_lock(struct kmem_cache *cp)
{
	if (!CPU_SLOTS_OWNED)
		for (unsigned int c = 0; c < arch_nr_cpus(); c++)
			spin_lock(&cp->cpu[c].lock);
}

static void cpu_slots_unlock(struct kmem_cache *cp)
{
	if (!CPU_SLOTS_OWNED)
		for (unsigned int c = arch_nr_cpus(); c-- > 0;)
			spin_unlock(&cp->cpu[c].lock);
}

void kmem_cache_get_info(struct kmem_cache *cp, struct kmem_cache_info *info)
{
	unsigned long slabs, mag_objs = 0;
	unsigned int magsize;

	memset(info, 0, sizeof(*info));
	cpu_slots_lock(cp);
	spin_lock(&cp->depot_lock);
	spin_lock(&cp->slab_lock);

	for (unsigned int c = cpu_slots_first(); c < cpu_slots_end(); c++) {
		mag_objs += (unsigned long)MAX(cp->cpu[c].rounds, 0);
		mag_objs += (unsigned long)MAX(cp->cpu[c].prounds, 0);
		if (cp->cpu[c].remote)
			mag_objs += cp->cpu[c].remote->count;
	}
	magsize = (cp->flags & SLAB_NO_MAGAZINE) ? 0 : kmem_magtypes[cp->magtype].rounds;
	mag_objs += cp->full.total * magsize;
	info->name = cp->name;
	info->object_size = cp->object_size;
	info->buffer_size = cp->buffer_size;
	info->align = cp->align;
	info->objs_per_slab = cp->num;
	info->pages_per_slab = 1u << cp->order;
	info->colours = cp->colours;
	info->colour_off = cp->colour_off;
	info->off_slab = cp->flags & CFLGS_OFF_SLAB;
	info->flags = cp->flags & SLAB_CREATE_MASK;
	info->slabs_full = cp->nr_full;
	info->slabs_partial = cp->nr_partial;
	info->slabs_free = cp->nr_free;
	slabs = cp->nr_full + cp->nr_partial + cp->nr_free;
	info->active_objs = cp->active_objs;
	info->num_objs = slabs * cp->num;
	info->magazine_objs = mag_objs;
	info->magazine_size = magsize;
	info->depot_full = cp->full.total;
	info->depot_empty = cp->empty.total;
	info->depot_contention = cp->depot_contention;
	info->grown = cp->grown;
	info->reaped = cp->reaped;

	info->bytes_total = slabs * (PAGE_SIZE << cp->order);
	info->waste_padding = info->num_objs * (cp->buffer_size - cp->object_size);
	info->waste_headers = slabs * (cp->onslab_size ? cp->onslab_size
				       : kmem_cache_size(kmalloc_cache(cp->mgmt_size)));
	info->waste_leftover = slabs * cp->leftover;
	info->waste_free = (info->num_objs - info->active_objs + mag_objs) *
			   cp->object_size;

	spin_unlock(&cp->slab_lock);
	spin_unlock(&cp->depot_lock);
	cpu_slots_unlock(cp);
	info->ctor_calls = atomic_load_explicit(&cp->ctor_calls, memory_order_relaxed);
	info->alloc_fail = atomic_load_explicit(&cp->alloc_fail, memory_order_relaxed);
}

/* ---- Shrinker ---- */

static unsigned long slab_shrink_count(struct shrinker *s, struct shrink_control *sc)
{
	struct kmem_cache *cp;
	struct kmem_cache_info info;
	unsigned long count = 0;

	mutex_lock(&kmem_cache_lock);
	for_each_cache(cp) {
		kmem_cache_get_info(cp, &info);
		count += info.magazine_objs + info.slabs_free * info.objs_per_slab;
	}
	mutex_unlock(&kmem_cache_lock);
	return count;
}

/*
 * Empties every cache's magazines, then gives back every free slab, the
 * caches in reverse order of creation: a slab's off-slab descriptor goes
 * back to a smaller kmalloc cache, created earlier, whose slab it may free
 * in turn; and the magazines, flushed first, to the magazine caches.
 * Under kmem_cache_lock. Returns the frames released.
 */
static unsigned long kmem_reap_all(void)
{
	struct list_head *pos;
	struct kmem_cache *cp;
	unsigned long pages = 0;

	for_each_cache(cp)
		magazines_flush(cp, false);
	for (pos = cache_chain.prev; pos != &cache_chain; pos = pos->prev)
		pages += slab_reap_free(list_entry(pos, struct kmem_cache, next));
	return pages;
}

unsigned long kmem_cache_reap_all(void)
{
	unsigned long pages;

	mutex_lock(&kmem_cache_lock);
	pages = kmem_reap_all();
	mutex_unlock(&kmem_cache_lock);
	return pages;
}

/* Frees everything the count promised, whatever nr_to_scan (a shrink of
   the slab allocator is cheap and all-or-nothing per cache). */
static unsigned long slab_shrink_scan(struct shrinker *s, struct shrink_control *sc)
{
	unsigned long freed = slab_shrink_count(s, sc);

	mutex_lock(&kmem_cache_lock);
	kmem_reap_all();
	mutex_unlock(&kmem_cache_lock);
	sc->nr_scanned = MAX(freed, sc->nr_to_scan);
	return freed;
}

/* ---- Boot ---- */

int kmem_cache_init(void)
{
	struct kmem_cache *boot;
	char name[KMEM_CACHE_NAME_LEN];

	kmem_ready = false;
	mutex_init(&kmem_cache_lock);
	INIT_LIST_HEAD(&cache_chain);
	shrinker_init();
	for (unsigned int i = 0; i < KMEM_NR_MAGTYPES; i++)
		kmem_magtypes[i].cache = NULL;

	kmem_boot_used = 0;
	boot = boot_cache_take();
	if (!cache_setup(boot, "kmem_cache", cache_struct_size(), KMEM_CACHE_LINE,
			 SLAB_NO_MAGAZINE | CFLGS_FORCE_ON_SLAB | CFLGS_BOOT, NULL))
		return -KMM_ENOMEM;
	list_add_tail(&boot->next, &cache_chain);
	kmem_cache_cache = boot;
	kmem_ready = true;

	for (unsigned int i = 0; i < KMEM_NR_MAGTYPES; i++) {
		struct kmem_cache *mcp;

		kmm_snprintf(name, sizeof(name), "kmem_magazine_%u", kmem_magtypes[i].rounds);
		mcp = kmem_cache_create_boot(name,
					     sizeof(struct kmem_magazine) +
						     kmem_magtypes[i].rounds * sizeof(void *),
					     0, SLAB_NO_MAGAZINE | CFLGS_FORCE_ON_SLAB);
		if (!mcp)
			return -KMM_ENOMEM;
		kmem_magtypes[i].cache = mcp;
	}
	if (kmalloc_init())
		return -KMM_ENOMEM;

	slab_shrinker = (struct shrinker){
		.name = "slab",
		.count_objects = slab_shrink_count,
		.scan_objects = slab_shrink_scan,
		.seeks = DEFAULT_SEEKS,
		.batch = 0,
	};
	register_shrinker(&slab_shrinker);
	kmem_update_work = (struct kmm_work){ .fn = kmem_update_fn };
	atomic_store(&kmem_update_armed, false);
	return 0;
}

/* ---- Views ---- */

static void slabinfo_row(struct kmem_cache *cp, void *arg)
{
	struct seq_buf *s = arg;
	struct kmem_cache_info i;
	unsigned long bypassed;

	kmem_cache_get_info(cp, &i);
	/* Objects a bypassed cache has outstanding in another design count as
	   active (and existing) objects of the cache, so leaks still show. */
	bypassed = (unsigned long)MAX(kma_live_sum(cp), 0L);
	seq_printf(s, "%-17s %6lu %6lu %6zu %4u %4u : tunables %4u %4u %4u : "
		   "slabdata %6lu %6lu %6lu\n",
		   i.name, i.active_objs + bypassed, i.num_objs + bypassed, i.buffer_size, i.objs_per_slab,
		   i.pages_per_slab, i.magazine_size, i.magazine_size, 0u,
		   i.slabs_full + i.slabs_partial,
		   i.slabs_full + i.slabs_partial + i.slabs_free,
		   i.depot_full * i.magazine_size);
}

/*
 * /proc/slabinfo, version 2.1. Our tunables: limit and batchcount are the
 * magazine size (a magazine is both what a CPU keeps and what it trades
 * with the depot); sharedavail is the objects in the depot's full
 * magazines.
 */
void slabinfo_show(struct seq_buf *s, long arg)
{
	seq_puts(s, "slabinfo - version: 2.1\n");
	seq_puts(s, "# name            <active_objs> <num_objs> <objsize> <objperslab> "
		    "<pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : "
		    "slabdata <active_slabs> <num_slabs> <sharedavail>\n");
	if (kma_dispatching() && kma_current != &kma_slab_ops)
		seq_printf(s, "# caches bypassed: objects come from the %s allocator (--kma %s, "
			   "see kmainfo); active_objs counts them, slabs hold none\n",
			   kma_current->name, kma_current->name);
	kmem_cache_for_each(slabinfo_row, s);
}

static void slabwaste_row(struct kmem_cache *cp, void *arg)
{
	struct seq_buf *s = arg;
	struct kmem_cache_info i;
	unsigned long waste;

	kmem_cache_get_info(cp, &i);
	waste = i.waste_padding + i.waste_headers + i.waste_leftover + i.waste_free;
	seq_printf(s, "%-20s %7zu %7zu %5u %3u %4s %7lu %7lu %9lu %9lu %8lu %8lu %9lu %3lu.%lu%%\n",
		   i.name, i.object_size, i.buffer_size, i.objs_per_slab, i.pages_per_slab,
		   i.off_slab ? "off" : "on", i.active_objs - i.magazine_objs, i.num_objs,
		   i.bytes_total, i.waste_padding, i.waste_headers, i.waste_leftover,
		   i.waste_free,
		   i.bytes_total ? waste * 100 / i.bytes_total : 0,
		   i.bytes_total ? waste * 1000 / i.bytes_total % 10 : 0);
}

/*
 * Our own view: where each cache's frames go. used counts objects held by
 * clients (magazines excluded); the waste columns are bytes: padding
 * (buffer - object size, every object), headers (on-slab management, or the
 * kmalloc block of an off-slab descriptor — those bytes sit in a kmalloc
 * cache's frames, counted here for the cache they serve), leftover (the
 * slab's tail, where colouring plays), free (free objects, in slabs and
 * magazines). waste% = the four over the bytes held.
 */
void slabwaste_show(struct seq_buf *s, long arg)
{
	seq_printf(s, "%-20s %7s %7s %5s %3s %4s %7s %7s %9s %9s %8s %8s %9s %6s\n",
		   "# name", "objsize", "bufsize", "objs", "pgs", "desc", "used", "total",
		   "bytes", "padding", "headers", "leftover", "free", "waste");
	kmem_cache_for_each(slabwaste_row, s);
}

/* ---- Invariant checker ---- */

static void check_magazine(struct kmem_cache *cp, struct kmem_magazine *mp,
			   int rounds, const char *where)
{
	for (int r = 0; r < rounds; r++) {
		void *obj = mp->rounds[r];
		struct page *page;

		if (!addr_in_ram(obj))
			panic("slab_check: cache %s: %s magazine holds %p, outside RAM",
			      cp->name, where, obj);
		page = virt_to_page(obj);
		if (!page_flag(page, PG_slab) || page->slab_cache != cp)
			panic("slab_check: cache %s: %s magazine holds %p of another cache",
			      cp->name, where, obj);
		if ((cp->flags & KMEM_TAGGED) &&
		    *buftag(obj) != ((uintptr_t)obj ^ BUFTAG_FREE))
			panic("slab_check: cache %s: object %p in a %s magazine is not "
			      "tagged free", cp->name, obj, where);
	}
}

enum slab_state { SLAB_FULL, SLAB_PARTIAL, SLAB_FREE };
static const char *const slab_state_names[] = { "full", "partial", "free" };

/*
 * owner: the owner (CPU + 1) every slab of the list must have, or -1 for
 * any (the full list). Adds the slabs to *nr.
 */
static unsigned long check_slab_list(struct kmem_cache *cp, struct list_head *list,
				     enum slab_state state, int owner, unsigned long *nr)
{
	uint64_t freemap[KMEM_MAX_OBJS / 64];
	unsigned long active = 0;
	struct slab *sp;

	list_for_each_entry(sp, list, list) {
		unsigned int nfree = 0;
		char *base = page_address(sp->page);

		(*nr)++;
		if ((owner >= 0 && sp->owner != (unsigned int)owner) ||
		    sp->owner > arch_nr_cpus() || (sp->owner && !cpu_slabs(cp)))
			panic("slab_check: cache %s: slab %p on the %s list is owned by "
			      "%u", cp->name, sp->s_mem, slab_state_names[state], sp->owner);
		if ((state == SLAB_FULL && sp->inuse != cp->num) ||
		    (state == SLAB_PARTIAL && (sp->inuse == 0 || sp->inuse >= cp->num)) ||
		    (state == SLAB_FREE && sp->inuse != 0))
			panic("slab_check: cache %s: slab %p on the %s list has %u of %u "
			      "objects in use", cp->name, sp->s_mem, slab_state_names[state],
			      sp->inuse, cp->num);
		if (sp->colouroff % cp->colour_off || sp->colouroff > cp->leftover ||
		    (char *)sp->s_mem != base + sp->colouroff + cp->onslab_size)
			panic("slab_check: cache %s: slab %p has a bad colour offset %u",
			      cp->name, sp->s_mem, sp->colouroff);
		for (unsigned int i = 0; i < (1u << cp->order); i++) {
			struct page *page = sp->page + i;

			if (!page_flag(page, PG_slab) || page->slab_cache != cp ||
			    page->slab_desc != sp)
				panic("slab_check: cache %s: frame %lu of slab %p is not "
				      "marked as this slab's", cp->name, page_to_pfn(page),
				      sp->s_mem);
			if (slab_owner_hint(base + ((size_t)i << PAGE_SHIFT)) != sp->owner)
				panic("slab_check: cache %s: frame %lu of slab %p names "
				      "owner %u, the slab %u", cp->name, page_to_pfn(page),
				      sp->s_mem,
				      slab_owner_hint(base + ((size_t)i << PAGE_SHIFT)),
				      sp->owner);
		}
		memset(freemap, 0, sizeof(freemap));
		for (unsigned int i = sp->free; i != BUFCTL_END; i = sp->bufctl[i]) {
			if (i >= cp->num || (freemap[i / 64] & (1ULL << (i % 64))) ||
			    nfree > cp->num)
				panic("slab_check: cache %s: slab %p has a corrupt free chain "
				      "(index %u)", cp->name, sp->s_mem, i);
			freemap[i / 64] |= 1ULL << (i % 64);
			nfree++;
			if (cp->flags & KMEM_TAGGED) {
				void *obj = slab_obj(cp, sp, i);

				if (*buftag(obj) != ((uintptr_t)obj ^ BUFTAG_FREE))
					panic("slab_check: cache %s: free object %p is not "
					      "tagged free", cp->name, obj);
			}
		}
		if (nfree + sp->inuse != cp->num)
			panic("slab_check: cache %s: slab %p: %u free + %u in use != %u",
			      cp->name, sp->s_mem, nfree, sp->inuse, cp->num);
		active += sp->inuse;
	}
	return active;
}

static void check_cache(struct kmem_cache *cp)
{
	unsigned long active = 0, nr, magsize, mag_objs = 0, n;
	struct kmem_magazine *mp;

	cpu_slots_lock(cp);
	spin_lock(&cp->depot_lock);
	spin_lock(&cp->slab_lock);

	nr = 0;
	active += check_slab_list(cp, &cp->slabs_full, SLAB_FULL, -1, &nr);
	if (nr != cp->nr_full)
		panic("slab_check: cache %s: %lu full slabs, counter says %lu", cp->name,
		      nr, cp->nr_full);
	nr = 0;
	active += check_slab_list(cp, &cp->slabs_partial, SLAB_PARTIAL, 0, &nr);
	for (unsigned int c = 0; c < arch_nr_cpus(); c++)
		active += check_slab_list(cp, &cp->cpu[c].partial, SLAB_PARTIAL, (int)c + 1,
					  &nr);
	if (nr != cp->nr_partial)
		panic("slab_check: cache %s: %lu partial slabs, counter says %lu",
		      cp->name, nr, cp->nr_partial);
	nr = 0;
	active += check_slab_list(cp, &cp->slabs_free, SLAB_FREE, 0, &nr);
	if (nr != cp->nr_free)
		panic("slab_check: cache %s: %lu free slabs, counter says %lu", cp->name,
		      nr, cp->nr_free);
	if (active != cp->active_objs)
		panic("slab_check: cache %s: slabs hold %lu objects in use, counter "
		      "says %lu", cp->name, active, cp->active_objs);

	magsize = (cp->flags & SLAB_NO_MAGAZINE) ? 0 : kmem_magtypes[cp->magtype].rounds;
	for (unsigned int c = cpu_slots_first(); c < cpu_slots_end(); c++) {
		struct kmem_cpu_cache *cc = &cp->cpu[c];

		if (cc->magsize && (unsigned long)cc->magsize != magsize &&
		    !CPU_SLOTS_OWNED)   /* an owner adopts a resize lazily (7) */
			panic("slab_check: cache %s: CPU %u uses magazines of %d, the "
			      "cache %lu", cp->name, c, cc->magsize, magsize);
		if (cc->rounds > cc->magsize || cc->prounds > cc->magsize ||
		    (cc->rounds >= 0) != (cc->loaded != NULL) ||
		    (cc->prounds >= 0) != (cc->previous != NULL))
			panic("slab_check: cache %s: CPU %u magazines inconsistent "
			      "(rounds %d/%d of %d)", cp->name, c, cc->rounds,
			      cc->prounds, cc->magsize);
		if (cc->loaded) {
			check_magazine(cp, cc->loaded, cc->rounds, "loaded");
			mag_objs += (unsigned long)cc->rounds;
		}
		if (cc->previous) {
			check_magazine(cp, cc->previous, cc->prounds, "previous");
			mag_objs += (unsigned long)cc->prounds;
		}
		if (cc->remote) {
			if (!cpu_slabs(cp) || cc->remote->count >= (unsigned long)cc->magsize)
				panic("slab_check: cache %s: CPU %u has a remote magazine "
				      "of %lu rounds", cp->name, c, cc->remote->count);
			check_magazine(cp, cc->remote, (int)cc->remote->count, "remote");
			mag_objs += cc->remote->count;
		}
	}
	n = 0;
	for (mp = cp->full.list; mp; mp = mp->next, n++)
		check_magazine(cp, mp, (int)magsize, "depot");
	if (n != cp->full.total || cp->full.min > n)
		panic("slab_check: cache %s: depot has %lu full magazines, counter "
		      "says %lu", cp->name, n, cp->full.total);
	mag_objs += n * magsize;
	n = 0;
	for (mp = cp->empty.list; mp; mp = mp->next)
		n++;
	if (n != cp->empty.total || cp->empty.min > n)
		panic("slab_check: cache %s: depot has %lu empty magazines, counter "
		      "says %lu", cp->name, n, cp->empty.total);
	if (mag_objs > cp->active_objs)
		panic("slab_check: cache %s: %lu objects in magazines but only %lu "
		      "allocated from slabs", cp->name, mag_objs, cp->active_objs);

	spin_unlock(&cp->slab_lock);
	spin_unlock(&cp->depot_lock);
	cpu_slots_unlock(cp);
}

int slab_check(void)
{
	struct kmem_cache *cp;

	if (!kmem_ready)
		return 0;
	mutex_lock(&kmem_cache_lock);
	for_each_cache(cp)
		check_cache(cp);
	mutex_unlock(&kmem_cache_lock);
	return 0;
}
