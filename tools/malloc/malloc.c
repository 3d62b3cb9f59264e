/*
 * libkmm-malloc: the C library's malloc interface on kmm's own page and
 * slab allocators (the idea of illumos's libumem: the kernel's object
 * caches, with their magazines, serving a process), over arch/native.
 *
 *   LD_PRELOAD=build/libkmm-malloc.so CMD
 *
 * Three paths by size:
 *   small  (<= 64 KiB)  one of 44 object caches "malloc-N" (16-byte steps up
 *                       to 128, then four classes per power of two), whose
 *                       per-thread magazines are the fast path: a malloc or
 *                       free that the loaded magazine serves is a size-class
 *                       load, a TLS load and a pop/push, with no locked
 *                       instruction (the slot is the thread's, mm/slab.c 7);
 *   large  (<= 1 MiB)   a run of whole pages cut first fit from 4 MiB buddy
 *                       blocks (large.c: boundary tags, freed runs merge);
 *                       aligned beyond a page, a compound buddy block;
 *   huge               its own mmap, recorded in a hash table.
 * Power-of-two classes are aligned to their size (up to a page), so
 * memalign is served by the same caches; larger alignments by buddy
 * blocks (naturally aligned) or over-mapped huge blocks.
 *
 * free() finds what a pointer is from the pointer alone, as kfree does:
 * inside the heap's sections, struct page says slab (its cache) or large
 * block (its order); outside, the huge table. Anything else is an invalid
 * free and aborts with a message naming the pointer. A freed small block
 * carries its address XOR a per-process secret in its first word (cleared
 * when it is handed out again), so a second free of it is caught at once;
 * a freed large block is no longer a compound head, so its second free is
 * caught too. Objects are never handed out twice: the slab layer's free
 * chain and the magazines hold each free object once, and the checks stop
 * a double free before it can put an object in twice.
 *
 * When the allocator finds no memory, the heap grows by sections
 * (native_grow). Memory goes back to the host: free slabs beyond a few per
 * cache return to the buddy allocator (the slab layer does it), and when
 * free buddy memory has grown by more than a threshold since the last
 * trim, the free blocks of 64 KiB and more are taken out, given back with
 * madvise(MADV_DONTNEED) and freed again (trim). Upkeep (the slab
 * allocator's periodic work and the trim check) runs every 4096 frees of a
 * thread, a large free counting as 64.
 *
 * Locking (front end): init_lock (boot, once), huge_lock (the huge table),
 * trim_lock (one trim at a time), large.c's lock (large runs). Order:
 * huge_lock, trim_lock, large lock, then the arch's and the core's
 * (arch/native/machine.c); fork takes them all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <kmm/errno.h>
#include <kmm/kmm.h>
#include <kmm/lock.h>
#include <kmm/page_alloc.h>
#include <kmm/slab.h>

#include "native.h"
#include "kmm_malloc.h"
#include "large.h"

#define EXPORT __attribute__((visibility("default")))

/*
 * The tests build this file a second time with KMM_MALLOC_PREFIX, so that
 * the interface is kmmtest_malloc, ... and the sanitizers' own malloc
 * stays the process's.
 */
#ifdef KMM_MALLOC_PREFIX
#define API(name) kmmtest_##name
#else
#define API(name) name
#endif

#define GFP_MALLOC __GFP_NOWARN
#define SMALL_MAX 65536UL
#define LARGE_MAX (1UL << 20)
#define LARGE_MAX_ORDER 8                    /* 1 MiB */
#define MIN_ALIGN 16UL
#define UPKEEP_EVERY 4096u
#define TRIM_MIN_ORDER 4                     /* 64 KiB and larger blocks */
#define MAGAZINE_BYTES (16 * 1024)           /* bytes of objects a magazine holds */
#define MAGAZINE_MIN_ROUNDS 7                /* even for the largest classes */

/* ---- Size classes ---- */

#define NR_CLASSES 44
static const uint32_t class_size[NR_CLASSES] = {
	16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512,
	640, 768, 896, 1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096,
	5120, 6144, 7168, 8192, 10240, 12288, 14336, 16384, 20480, 24576, 28672, 32768,
	40960, 49152, 57344, 65536,
};
static struct kmem_cache *class_cache[NR_CLASSES];
/* The class of n bytes, by (n + 15) / 16: one load for every small size. */
static uint8_t small_index[SMALL_MAX / 16 + 1];

static inline size_t class_align(unsigned int c)
{
	size_t s = class_size[c];

	return (s & (s - 1)) ? MIN_ALIGN : MIN(s, (size_t)PAGE_SIZE);
}

/* ---- State ---- */

static atomic_int init_state;       /* 0 not started, 1 booting, 2 ready, -1 failed */
static uintptr_t free_secret;       /* the freed-block marker's key */
static mutex_t huge_lock;
static mutex_t trim_lock;
static atomic_ulong trim_base;      /* free pages right after the last trim */
static atomic_bool trimming;
static atomic_ulong stat_trims, stat_trimmed_pages, stat_huge;

static inline uintptr_t free_mark(const void *p)
{
	return (uintptr_t)p ^ free_secret;
}

/* Free pages of the buddy allocator and of the large runs. */
static unsigned long free_pages_all(void)
{
	return nr_free_pages() + large_free_pages();
}

/* ---- Boot ---- */

static void fork_prepare(void)
{
	if (atomic_load(&init_state) != 2)
		return;
	mutex_lock(&huge_lock);
	mutex_lock(&trim_lock);
	large_lock();
	native_fork_prepare();
}

static void fork_parent(void)
{
	if (atomic_load(&init_state) != 2)
		return;
	native_fork_parent();
	large_unlock();
	mutex_unlock(&trim_lock);
	mutex_unlock(&huge_lock);
}

static void fork_child(void)
{
	if (atomic_load(&init_state) != 2)
		return;
	native_fork_child();
	large_unlock();
	mutex_unlock(&trim_lock);
	mutex_unlock(&huge_lock);
}

static unsigned int magazine_rounds(size_t size)
{
	static const unsigned int rounds[] = { 255, 127, 63, 31, 15, 7, 3, 1 };

	for (unsigned int i = 0; i < ARRAY_SIZE(rounds); i++)
		if (rounds[i] * size <= MAGAZINE_BYTES || rounds[i] == MAGAZINE_MIN_ROUNDS)
			return rounds[i];
	return MAGAZINE_MIN_ROUNDS;
}

static int boot(void)
{
	struct kmm_boot_options opts;
	char name[KMEM_CACHE_NAME_LEN];
	uintptr_t secret = 0;
	const char *v = NULL;

	for (char **e = environ; e && *e; e++)
		if (!strncmp(*e, "KMM_MALLOC_VERBOSE=", 19))
			v = *e + 19;
	native_console_on = v && *v && *v != '0';
	if (getrandom(&secret, sizeof(secret), GRND_NONBLOCK) != sizeof(secret))
		secret = (uintptr_t)&secret * 0x9e3779b97f4a7c15ULL ^ (uintptr_t)time(NULL);
	free_secret = secret | 1;   /* never 0: a zeroed word is not a mark */
	mutex_init(&huge_lock);
	mutex_init(&trim_lock);
	large_init();
	native_cpus_init();
	if (native_boot())
		return -1;
	kmm_boot_options_default(&opts);
	opts.quiet = !native_console_on;
	opts.min_free_kbytes = 128;
	if (mm_init(&opts))
		return -1;
	for (unsigned int c = 0; c < NR_CLASSES; c++) {
		kmm_snprintf(name, sizeof(name), "malloc-%u", class_size[c]);
		class_cache[c] = kmem_cache_create(name, class_size[c], class_align(c),
						   SLAB_CPU_SLABS, NULL);
		if (!class_cache[c] ||
		    kmem_cache_set_magazine(class_cache[c], magazine_rounds(class_size[c])))
			return -1;
	}
	for (size_t i = 0, c = 0; i <= SMALL_MAX / 16; i++) {
		while (class_size[c] < i * 16)
			c++;
		small_index[i] = (uint8_t)c;
	}
	atomic_store(&trim_base, free_pages_all());
	return 0;
}

/* Boots once; a thread that finds another booting waits for it. */
static bool __attribute__((noinline)) ensure_init(void)
{
	int s = atomic_load_explicit(&init_state, memory_order_acquire), zero = 0;

	if (s == 2)
		return true;
	if (s == 0 && atomic_compare_exchange_strong(&init_state, &zero, 1)) {
		if (boot()) {
			atomic_store(&init_state, -1);
			return false;
		}
		atomic_store_explicit(&init_state, 2, memory_order_release);
		/* After "ready": registering may allocate. */
		pthread_atfork(fork_prepare, fork_parent, fork_child);
		native_slot_lease();
		return true;
	}
	while ((s = atomic_load_explicit(&init_state, memory_order_acquire)) == 1)
		sched_yield();
	return s == 2;
}

/*
 * Before a call into the core: the thread has a slot, and holds the shared
 * slot's lock if that is what it has. Returns false if the allocator could
 * not boot.
 */
static inline bool enter(void)
{
	if (unlikely(atomic_load_explicit(&init_state, memory_order_acquire) != 2) &&
	    !ensure_init())
		return false;
	if (native_self.state == NATIVE_SLOT_NONE)
		native_slot_lease();
	if (native_self.state == NATIVE_SLOT_SHARED)
		native_shared_lock();
	return true;
}

static inline void leave(void)
{
	if (native_self.state == NATIVE_SLOT_SHARED)
		native_shared_unlock();
}

/* ---- Growth and trimming ---- */

/*
 * The allocator found no memory for a request of bytes: add sections,
 * unless a trim holds free blocks for a moment (then wait for it).
 * Returns false when the host has no more.
 */
static bool grow(size_t bytes)
{
	if (atomic_load(&trimming)) {
		while (atomic_load(&trimming))
			sched_yield();
		return true;
	}
	return native_grow(bytes + (PAGE_SIZE << MAX_ORDER)) == 0;
}

struct trim_block {
	struct trim_block *next;
	unsigned int order;
};

static unsigned long trim_threshold(void)
{
	unsigned long present = (unsigned long)(atomic_load(&native_ram_present) >> PAGE_SHIFT);

	return MAX(present / 8, (2UL << 20) >> PAGE_SHIFT);
}

/*
 * Gives free buddy blocks of 64 KiB and more back to the host: takes them
 * out of the buddy lists (so nobody uses them meanwhile), madvise, frees
 * them again. Their pages read as zeros when next touched.
 */
static void trim(void)
{
	struct trim_block *list = NULL, *b;
	unsigned long pages = 0;

	if (!mutex_trylock(&trim_lock))
		return;
	atomic_store(&trimming, true);
	drain_all_pages();
	for (int order = MAX_ORDER; order >= TRIM_MIN_ORDER; order--) {
		struct page *pg;

		while ((pg = alloc_pages(__GFP_NOWARN, (unsigned int)order))) {
			b = page_address(pg);
			b->order = (unsigned int)order;
			b->next = list;
			list = b;
		}
	}
	while ((b = list)) {
		unsigned int order = b->order;

		list = b->next;
		madvise(b, PAGE_SIZE << order, MADV_DONTNEED);
		pages += 1UL << order;
		free_pages(b, order);
	}
	atomic_store(&trimming, false);
	pages += large_trim(1UL << TRIM_MIN_ORDER);
	atomic_store(&trim_base, free_pages_all());
	atomic_fetch_add(&stat_trims, 1);
	atomic_fetch_add(&stat_trimmed_pages, pages);
	mutex_unlock(&trim_lock);
}

static void upkeep(void)
{
	native_run_work();
	if (free_pages_all() > atomic_load(&trim_base) + trim_threshold())
		trim();
}

/* ---- Huge blocks: mmap, recorded in an open-addressing table ---- */

struct huge_entry {
	uintptr_t addr;    /* 0: empty; 1: deleted */
	size_t len;        /* bytes mapped */
};
static struct huge_entry *huge_table;
static size_t huge_cap, huge_used, huge_live;   /* under huge_lock */

static size_t huge_slot(uintptr_t a, size_t cap)
{
	return (size_t)((a >> PAGE_SHIFT) * 0x9e3779b97f4a7c15ULL) & (cap - 1);
}

static bool huge_insert_locked(uintptr_t a, size_t len)
{
	if ((huge_used + 1) * 2 > huge_cap) {
		size_t cap = huge_cap ? huge_cap * 2 : 256;
		struct huge_entry *t = mmap(NULL, cap * sizeof(*t), PROT_READ | PROT_WRITE,
					    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (t == MAP_FAILED)
			return false;
		for (size_t i = 0; i < huge_cap; i++) {
			if (huge_table[i].addr > 1) {
				size_t j = huge_slot(huge_table[i].addr, cap);

				while (t[j].addr)
					j = (j + 1) & (cap - 1);
				t[j] = huge_table[i];
			}
		}
		if (huge_table)
			munmap(huge_table, huge_cap * sizeof(*t));
		huge_table = t;
		huge_cap = cap;
		huge_used = huge_live;
	}
	for (size_t j = huge_slot(a, huge_cap);; j = (j + 1) & (huge_cap - 1)) {
		if (huge_table[j].addr <= 1) {
			if (!huge_table[j].addr)
				huge_used++;
			huge_table[j] = (struct huge_entry){ a, len };
			huge_live++;
			return true;
		}
	}
}

static struct huge_entry *huge_find_locked(uintptr_t a)
{
	if (!huge_cap)
		return NULL;
	for (size_t j = huge_slot(a, huge_cap);; j = (j + 1) & (huge_cap - 1)) {
		if (!huge_table[j].addr)
			return NULL;
		if (huge_table[j].addr == a)
			return &huge_table[j];
	}
}

/* The mapped length of huge block p, or 0 if p is none. */
static size_t huge_len(const void *p)
{
	struct huge_entry *e;
	size_t len;

	mutex_lock(&huge_lock);
	e = huge_find_locked((uintptr_t)p);
	len = e ? e->len : 0;
	mutex_unlock(&huge_lock);
	return len;
}

static void *huge_alloc(size_t n, size_t align)
{
	size_t len, map;
	char *p, *a;

	if (n > PTRDIFF_MAX - align - PAGE_SIZE)
		return NULL;
	len = ALIGN_UP(n ? n : 1, PAGE_SIZE);
	map = align > PAGE_SIZE ? len + align : len;
	p = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	a = p;
	if (align > PAGE_SIZE) {
		a = (char *)ALIGN_UP((uintptr_t)p, align);
		if (a > p)
			munmap(p, (size_t)(a - p));
		if (p + map > a + len)
			munmap(a + len, (size_t)(p + map - (a + len)));
	}
	mutex_lock(&huge_lock);
	if (!huge_insert_locked((uintptr_t)a, len)) {
		mutex_unlock(&huge_lock);
		munmap(a, len);
		return NULL;
	}
	mutex_unlock(&huge_lock);
	atomic_fetch_add_explicit(&stat_huge, 1, memory_order_relaxed);
	return a;
}

/* Frees huge block p; false if p is not one. */
static bool huge_free(void *p)
{
	struct huge_entry *e;
	size_t len;

	mutex_lock(&huge_lock);
	e = huge_find_locked((uintptr_t)p);
	if (!e) {
		mutex_unlock(&huge_lock);
		return false;
	}
	len = e->len;
	e->addr = 1;
	huge_live--;
	mutex_unlock(&huge_lock);
	munmap(p, len);
	return true;
}

/* Resizes huge block p in place or by moving it (mremap); NULL on failure. */
static void *huge_resize(void *p, size_t n)
{
	struct huge_entry *e;
	size_t len = ALIGN_UP(n, PAGE_SIZE);
	void *q;

	mutex_lock(&huge_lock);
	e = huge_find_locked((uintptr_t)p);
	q = mremap(p, e->len, len, MREMAP_MAYMOVE);
	if (q == MAP_FAILED) {
		mutex_unlock(&huge_lock);
		return NULL;
	}
	if (q == p) {
		e->len = len;
	} else {
		e->addr = 1;
		huge_live--;
		if (!huge_insert_locked((uintptr_t)q, len))
			native_fatal("kmm-malloc: cannot record a huge block");
	}
	mutex_unlock(&huge_lock);
	return q;
}

/* ---- Allocation ---- */

static unsigned int size_order(size_t n)
{
	unsigned int order = 0;

	while ((PAGE_SIZE << order) < n)
		order++;
	return order;
}

/* The smallest class that holds n bytes at alignment align, or -1. */
static int class_for(size_t n, size_t align)
{
	unsigned int c;

	if (n > SMALL_MAX)
		return -1;
	for (c = small_index[(n + 15) >> 4]; c < NR_CLASSES; c++)
		if (class_align(c) >= align)
			return (int)c;
	return -1;
}

/* Any request, inside enter()/leave(). NULL when memory is exhausted. */
static void *alloc_locked(size_t n, size_t align)
{
	int c = class_for(n, align);
	void *p;

	if (n > PTRDIFF_MAX)
		return NULL;
	if (c >= 0) {
		for (;;) {
			p = kmem_cache_alloc(class_cache[c], GFP_MALLOC);
			if (likely(p)) {
				*(uintptr_t *)p = 0;
				return p;
			}
			if (!grow(class_size[c]))
				return NULL;
		}
	}
	if (n <= LARGE_MAX && align <= PAGE_SIZE) {
		for (;;) {
			p = large_alloc((n + PAGE_SIZE - 1) >> PAGE_SHIFT);
			if (p)
				return p;
			if (!grow(PAGE_SIZE << MAX_ORDER))
				return NULL;
		}
	}
	if (n <= LARGE_MAX && align <= LARGE_MAX) {
		unsigned int order = MAX(size_order(n), size_order(align));
		struct page *pg;

		for (;;) {
			pg = alloc_pages(GFP_MALLOC | __GFP_COMP, order);
			if (pg)
				return page_address(pg);
			if (!grow(PAGE_SIZE << order))
				return NULL;
		}
	}
	return huge_alloc(n, align);
}

static void *__attribute__((noinline)) malloc_slow(size_t n, size_t align)
{
	void *p;

	if (n > PTRDIFF_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	if (!enter()) {
		errno = ENOMEM;
		return NULL;
	}
	p = alloc_locked(n, align);
	leave();
	if (!p)
		errno = ENOMEM;
	return p;
}

EXPORT __attribute__((flatten)) void *API(malloc)(size_t n)
{
	if (likely(n <= SMALL_MAX && native_self.state == NATIVE_SLOT_OWNED)) {
		void *p = kmem_cache_alloc(class_cache[small_index[(n + 15) >> 4]], GFP_MALLOC);

		if (likely(p)) {
			*(uintptr_t *)p = 0;
			return p;
		}
	}
	return malloc_slow(n, MIN_ALIGN);
}

/* ---- Free ---- */

enum block_kind { BLOCK_NONE, BLOCK_SMALL, BLOCK_LARGE, BLOCK_HUGE };

/* What p is, with its usable size; BLOCK_NONE for a pointer we never gave. */
static enum block_kind block_of(const void *p, size_t *usable)
{
	if (native_addr_present(p)) {
		struct page *pg = virt_to_page(p);

		if (page_flag(pg, PG_slab)) {
			*usable = kmem_cache_size(pg->slab_cache);
			return BLOCK_SMALL;
		}
		if (page_flag(pg, PG_head) && !((uintptr_t)p & ~PAGE_MASK)) {
			*usable = PAGE_SIZE << pg->compound_order;
			return BLOCK_LARGE;
		}
		*usable = large_pages(p) << PAGE_SHIFT;
		return *usable ? BLOCK_LARGE : BLOCK_NONE;
	}
	if ((uintptr_t)p & ~PAGE_MASK)
		return BLOCK_NONE;
	*usable = huge_len(p);
	return *usable ? BLOCK_HUGE : BLOCK_NONE;
}

static __attribute__((noreturn, noinline)) void bad_free(const char *who, const void *p,
							  const char *why)
{
	native_fatal("kmm-malloc: %s(): %s %p", who, why, p);
}

/* Checks a small block of cache cp being freed and marks it free. */
static inline void small_mark_free(const char *who, struct kmem_cache *cp, void *p)
{
	uintptr_t *w = p;

	if (unlikely(!kmem_cache_is_object(cp, p)))
		bad_free(who, p, "invalid pointer (inside a block)");
	if (unlikely(*w == free_mark(p)))
		bad_free(who, p, "double free of");
	*w = free_mark(p);
}

static void __attribute__((noinline)) free_slow(void *p, const char *who)
{
	size_t usable;

	if (!p)
		return;
	if (atomic_load_explicit(&init_state, memory_order_acquire) != 2)
		bad_free(who, p, "invalid pointer (the allocator has given out nothing yet)");
	switch (block_of(p, &usable)) {
	case BLOCK_SMALL: {
		struct kmem_cache *cp = virt_to_page(p)->slab_cache;

		small_mark_free(who, cp, p);
		if (!enter())
			return;
		kmem_cache_free(cp, p);
		leave();
		return;
	}
	case BLOCK_LARGE: {
		struct page *pg = virt_to_page(p);

		if (!enter())
			return;
		/* A large free brings the next upkeep closer by 64 small ones. */
		if (native_self.countdown > 64)
			native_self.countdown -= 64;
		else
			native_self.countdown = 0;
		if (page_flag(pg, PG_head))
			__free_pages(pg, pg->compound_order);
		else
			large_free(p);
		leave();
		return;
	}
	case BLOCK_HUGE:
		huge_free(p);
		return;
	default:
		bad_free(who, p, native_addr_present(p)
					 ? "invalid pointer (not the start of a block, or freed already)"
					 : "invalid pointer (not from this allocator)");
	}
}

static inline __attribute__((always_inline)) void free_inline(void *p, const char *who)
{
	if (likely(native_addr_present(p) && native_self.state == NATIVE_SLOT_OWNED)) {
		struct page *pg = virt_to_page(p);

		if (likely(page_flag(pg, PG_slab))) {
			struct kmem_cache *cp = pg->slab_cache;

			small_mark_free(who, cp, p);
			kmem_cache_free(cp, p);
			if (unlikely(--native_self.countdown >= UPKEEP_EVERY)) {
				native_self.countdown = UPKEEP_EVERY - 1;
				upkeep();
			}
			return;
		}
	}
	free_slow(p, who);
}

EXPORT __attribute__((flatten)) void API(free)(void *p)
{
	free_inline(p, "free");
}

EXPORT void API(cfree)(void *p)
{
	free_inline(p, "cfree");
}

/* ---- The rest of the interface ---- */

EXPORT void *API(calloc)(size_t n, size_t size)
{
	size_t bytes;
	void *p;

	if (__builtin_mul_overflow(n, size, &bytes)) {
		errno = ENOMEM;
		return NULL;
	}
	p = API(malloc)(bytes);
	if (p && bytes > SMALL_MAX) {
		size_t usable = 0;

		/* Huge blocks are fresh mappings: zero already. */
		if (block_of(p, &usable) == BLOCK_HUGE)
			return p;
	}
	if (p)
		memset(p, 0, bytes);
	return p;
}

EXPORT size_t API(malloc_usable_size)(void *p)
{
	size_t usable = 0;

	if (!p)
		return 0;
	if (block_of(p, &usable) == BLOCK_NONE)
		bad_free("malloc_usable_size", p, "invalid pointer");
	return usable;
}

EXPORT void *API(realloc)(void *p, size_t n)
{
	size_t usable = 0;
	enum block_kind kind;
	void *q;

	if (!p)
		return API(malloc)(n);
	if (!n) {
		free_inline(p, "realloc");
		return NULL;
	}
	kind = block_of(p, &usable);
	if (kind == BLOCK_NONE)
		bad_free("realloc", p, "invalid pointer");
	if (kind == BLOCK_SMALL && *(uintptr_t *)p == free_mark(p))
		bad_free("realloc", p, "use after free of");
	if (n > PTRDIFF_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	/* In place when the block is big enough and not more than twice too big. */
	if (n <= usable && (n > usable / 2 || usable <= MIN_ALIGN))
		return p;
	/* A large run grows into free runs beside it, if they are. */
	if (kind == BLOCK_LARGE && n > usable && n <= LARGE_MAX &&
	    !page_flag(virt_to_page(p), PG_head) &&
	    (q = large_resize(p, (n + PAGE_SIZE - 1) >> PAGE_SHIFT)))
		return q;
	if (kind == BLOCK_HUGE && n > LARGE_MAX) {
		q = huge_resize(p, n);
		if (!q)
			errno = ENOMEM;
		return q;
	}
	q = API(malloc)(n);
	if (!q)
		return NULL;
	memcpy(q, p, MIN(n, usable));
	free_inline(p, "realloc");
	return q;
}

EXPORT void *API(reallocarray)(void *p, size_t n, size_t size)
{
	size_t bytes;

	if (__builtin_mul_overflow(n, size, &bytes)) {
		errno = ENOMEM;
		return NULL;
	}
	return API(realloc)(p, bytes);
}

/* memalign's rules (glibc's): an alignment that is not a power of two is
   rounded up to one; one too large to round is EINVAL. */
static void *aligned(size_t align, size_t n)
{
	if (align <= MIN_ALIGN)
		return API(malloc)(n);
	if (align & (align - 1)) {
		if (align > (SIZE_MAX >> 1) + 1) {
			errno = EINVAL;
			return NULL;
		}
		align = (size_t)1 << (64 - __builtin_clzl(align));
	}
	if (n > PTRDIFF_MAX - align) {
		errno = ENOMEM;
		return NULL;
	}
	return malloc_slow(n, align);
}

EXPORT void *API(memalign)(size_t align, size_t n)
{
	return aligned(align, n);
}

EXPORT void *API(aligned_alloc)(size_t align, size_t n)
{
	return aligned(align, n);
}

EXPORT int API(posix_memalign)(void **out, size_t align, size_t n)
{
	void *p;
	int saved = errno;

	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	p = aligned(align, n);
	if (!p) {
		int e = errno;

		errno = saved;
		return e;
	}
	*out = p;
	return 0;
}

EXPORT void *API(valloc)(size_t n)
{
	return aligned(PAGE_SIZE, n);
}

EXPORT void *API(pvalloc)(size_t n)
{
	if (n > PTRDIFF_MAX - PAGE_SIZE) {
		errno = ENOMEM;
		return NULL;
	}
	return aligned(PAGE_SIZE, ALIGN_UP(n ? n : 1, PAGE_SIZE));
}

/* glibc's malloc_trim: give free memory back now. Returns 1 if any was. */
EXPORT int API(malloc_trim)(size_t pad)
{
	unsigned long before = atomic_load(&stat_trimmed_pages);

	if (!enter())
		return 0;
	for (unsigned int c = 0; c < NR_CLASSES; c++)
		kmem_cache_shrink(class_cache[c]);
	trim();
	leave();
	return atomic_load(&stat_trimmed_pages) != before;
}

/* ---- Introspection for tests and benchmarks (kmm_malloc.h) ---- */

EXPORT int kmm_malloc_stats(struct kmm_malloc_stats *st)
{
	if (!enter())
		return -1;
	*st = (struct kmm_malloc_stats){
		.sections = native_sections(),
		.present_bytes = atomic_load(&native_ram_present),
		.free_pages = nr_free_pages(),
		.pcp_pages = nr_pcp_pages(),
		.trims = atomic_load(&stat_trims),
		.trimmed_pages = atomic_load(&stat_trimmed_pages),
		.huge_allocs = atomic_load(&stat_huge),
		.slots_leased = native_slots_leased(),
		.large_free_pages = large_free_pages(),
	};
	leave();
	return 0;
}

EXPORT int kmm_malloc_check(void)
{
	if (!enter())
		return -1;
	kmm_check();
	large_check();
	leave();
	return 0;
}

EXPORT void kmm_malloc_thread_flush(void)
{
	if (!enter())
		return;
	if (native_self.state == NATIVE_SLOT_OWNED) {
		kmem_cache_cpu_dead(native_self.slot);
		drain_local_pages(native_self.slot);
	}
	leave();
}

EXPORT void kmm_malloc_upkeep(void)
{
	if (!enter())
		return;
	kmem_cache_update_all();
	upkeep();
	leave();
}
