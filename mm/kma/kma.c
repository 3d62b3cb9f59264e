/*
 * The kernel-memory-allocator registry: the seven candidate designs of the
 * book behind one interface (include/kmm/kma.h), the statistics they all
 * report the same way, the kmainfo view, and the buddy system itself as an
 * allocator of its own (requests rounded up to whole buddy blocks).
 *
 * Why the registry keeps the statistics: a number such as "bytes held per
 * byte requested" only compares designs if every design counts it the same
 * way. So the designs count nothing themselves: kma_alloc/kma_free count
 * requests, and kma_get_pages/kma_put_pages count frames. The counters are
 * per-CPU rows written only by their CPU (like vmstat), so a per-CPU design
 * is not slowed by a shared cache line that is not its own.
 *
 * Designs are initialized lazily (kma_ensure): slab at boot, the others
 * when first used, so a machine that uses only slab never touches their
 * state; a design not initialized since boot has no blocks and reads as
 * zeros everywhere.
 *
 * Locking: the registry table changes only at registration (boot); the
 * counters need no lock; a design's first use is made once by a state
 * word (kma_state.ready: 0, 1 initializing, 2 ready). The designs' locks come before the page
 * allocator's, which kma_get_pages takes.
 */
#include <kmm/errno.h>
#include <kmm/kma.h>
#include <kmm/string.h>

#include "kma_internal.h"

/* slab first: the machine's default, and the first row of every table. */
static const struct kma_ops *kma_table[KMA_MAX] = {
	&kma_slab_ops, &kma_buddy_ops, &kma_rmap_ops, &kma_p2_ops,
	&kma_mk_ops,   &kma_zone_ops,  &kma_dynix_ops,
};
static unsigned int kma_nr = 7;

const struct kma_ops *kma_current;
bool kma_dispatch;
static kma_trace_fn kma_trace_hook;

/* ---- The registry ---- */

int kma_register(const struct kma_ops *ops)
{
	if (!ops || !ops->name || !ops->state || !ops->alloc || !ops->free ||
	    !ops->footprint || !ops->init)
		return -KMM_EINVAL;
	if (kma_find(ops->name))
		return -KMM_EEXIST;
	if (kma_nr == KMA_MAX)
		return -KMM_ENOSPC;
	kma_table[kma_nr++] = ops;
	return 0;
}

const struct kma_ops *kma_find(const char *name)
{
	for (unsigned int i = 0; i < kma_nr; i++)
		if (!kmm_strcmp(kma_table[i]->name, name))
			return kma_table[i];
	return NULL;
}

unsigned int kma_count(void)
{
	return kma_nr;
}

const struct kma_ops *kma_at(unsigned int i)
{
	return i < kma_nr ? kma_table[i] : NULL;
}

static void dispatch_update(void)
{
	bool on = (kma_current && kma_current != &kma_slab_ops) ||
		  __atomic_load_n(&kma_trace_hook, __ATOMIC_RELAXED);

	__atomic_store_n(&kma_dispatch, on, __ATOMIC_RELAXED);
}

/* Zeroes the design's state and runs its init, once since boot. */
static int __attribute__((noinline)) kma_ensure_slow(const struct kma_ops *k)
{
	int *ready = &k->state->ready, zero = 0, err;

	if (__atomic_compare_exchange_n(ready, &zero, 1, false, __ATOMIC_ACQUIRE,
					__ATOMIC_RELAXED)) {
		memset(k->state, 0, __builtin_offsetof(struct kma_state, ready));
		err = k->init();
		__atomic_store_n(ready, err ? 0 : 2, __ATOMIC_RELEASE);
		return err;
	}
	while (__atomic_load_n(ready, __ATOMIC_ACQUIRE) == 1)
		arch_cpu_relax();
	return __atomic_load_n(ready, __ATOMIC_ACQUIRE) == 2 ? 0 : -KMM_ENOMEM;
}

static inline int kma_ensure(const struct kma_ops *k)
{
	if (likely(__atomic_load_n(&k->state->ready, __ATOMIC_ACQUIRE) == 2))
		return 0;
	return kma_ensure_slow(k);
}

static inline bool kma_is_ready(const struct kma_ops *k)
{
	return __atomic_load_n(&k->state->ready, __ATOMIC_ACQUIRE) == 2;
}

int kma_select(const char *name)
{
	const struct kma_ops *k = kma_find(name);
	int err;

	if (!k)
		return -KMM_ENOENT;
	err = kma_ensure(k);
	if (err)
		return err;
	kma_current = k;
	dispatch_update();
	return 0;
}

char *kma_names(char *buf, size_t len, const char *sep)
{
	size_t n = 0;

	if (!len)
		return buf;
	buf[0] = '\0';
	for (unsigned int i = 0; i < kma_nr && n + 1 < len; i++) {
		if (i)
			n += kmm_strlcpy(buf + n, sep, len - n);
		if (n + 1 < len)
			n += kmm_strlcpy(buf + n, kma_table[i]->name, len - n);
	}
	return buf;
}

int kma_boot(void)
{
	kma_current = &kma_slab_ops;
	__atomic_store_n(&kma_trace_hook, NULL, __ATOMIC_RELAXED);
	dispatch_update();
	/* Every design back to "not initialized"; slab (the machine's own)
	   initialized now, the others at their first use. */
	for (unsigned int i = 0; i < kma_nr; i++)
		__atomic_store_n(&kma_table[i]->state->ready, 0, __ATOMIC_RELAXED);
	return kma_ensure(&kma_slab_ops);
}

/* ---- Shared statistics ---- */

static inline unsigned int kma_class_of(size_t size)
{
	unsigned int l = kma_log2_up(size);

	if (l <= KMA_CLASS_MIN_SHIFT)
		return 0;
	return MIN(l - KMA_CLASS_MIN_SHIFT, KMA_NR_CLASSES - 1);
}

/* Only this CPU writes its row: a relaxed load and store, no locked add. */
#define ROW_ADD(field, delta) \
	__atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (delta), \
			 __ATOMIC_RELAXED)

/* size: the bytes asked for; fp: what the design set aside for them. */
static void count_alloc(const struct kma_ops *k, size_t size, long fp)
{
	struct kma_cpu_stats *row = &k->state->cpu[arch_this_cpu()];
	unsigned int c = kma_class_of(size);

	ROW_ADD(row->allocs, 1UL);
	ROW_ADD(row->total_requested, size);
	ROW_ADD(row->live_requested, (long)size);
	ROW_ADD(row->live_footprint, fp);
	ROW_ADD(row->class_allocs[c], 1UL);
	ROW_ADD(row->class_live[c], 1L);
	ROW_ADD(row->class_requested[c], (long)size);
	ROW_ADD(row->class_footprint[c], fp);
}

static void count_free(const struct kma_ops *k, size_t size, long fp)
{
	struct kma_cpu_stats *row = &k->state->cpu[arch_this_cpu()];
	unsigned int c = kma_class_of(size);

	ROW_ADD(row->frees, 1UL);
	ROW_ADD(row->live_requested, -(long)size);
	ROW_ADD(row->live_footprint, -fp);
	ROW_ADD(row->class_live[c], -1L);
	ROW_ADD(row->class_requested[c], -(long)size);
	ROW_ADD(row->class_footprint[c], -fp);
}

void *kma_alloc(const struct kma_ops *k, size_t size, gfp_t gfp)
{
	void *p = NULL;

	if (unlikely(kma_ensure(k)))
		return NULL;

	if (likely(size && size <= k->max_size))
		p = k->alloc(size, gfp & ~__GFP_ZERO);
	if (unlikely(!p)) {
		ROW_ADD(k->state->cpu[arch_this_cpu()].failures, 1UL);
		return NULL;
	}
	if (gfp & __GFP_ZERO)
		memset(p, 0, size);
	count_alloc(k, size, (long)k->footprint(size));
	return p;
}

void kma_free(const struct kma_ops *k, void *ptr, size_t size)
{
	if (!ptr)
		return;
	if (unlikely(!size || size > k->max_size))
		panic("kma %s: free of %p with impossible size %zu", k->name, ptr, size);
	k->free(ptr, size);
	count_free(k, size, (long)k->footprint(size));
}

unsigned long kma_shrink(const struct kma_ops *k)
{
	return k->shrink && kma_is_ready(k) ? k->shrink() : 0;
}

int kma_check_one(const struct kma_ops *k)
{
	struct kma_stats st;

	if (!kma_is_ready(k))
		return 0;   /* not used since boot: nothing to check */
	kma_get_stats(k, &st);
	if (st.pages_held < 0 || (unsigned long)st.pages_held !=
	    st.pages_taken - st.pages_returned)
		panic("kma %s: %ld frames held, but %lu taken - %lu returned", k->name,
		      st.pages_held, st.pages_taken, st.pages_returned);
	if (st.live_requested < 0 || st.live_footprint < st.live_requested)
		panic("kma %s: live footprint %ld below live request bytes %ld", k->name,
		      st.live_footprint, st.live_requested);
	return k->check ? k->check() : 0;
}

int kma_check(void)
{
	for (unsigned int i = 0; i < kma_nr; i++)
		kma_check_one(kma_table[i]);
	return 0;
}

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

long kma_live_footprint(const struct kma_ops *k)
{
	long fp = 0;

	if (!kma_is_ready(k))
		return 0;
	for (unsigned int c = 0; c < arch_nr_cpus(); c++)
		fp += LOAD(k->state->cpu[c].live_footprint);
	return fp;
}

void kma_get_stats(const struct kma_ops *k, struct kma_stats *st)
{
	struct kma_state *s = k->state;

	memset(st, 0, sizeof(*st));
	st->name = k->name;
	for (unsigned int i = 0; i < KMA_NR_CLASSES; i++)
		st->class[i].max_size = i == KMA_NR_CLASSES - 1
						? SIZE_MAX
						: (size_t)1 << (i + KMA_CLASS_MIN_SHIFT);
	if (!kma_is_ready(k))
		return;   /* not used since boot: all zeros */
	for (unsigned int c = 0; c < arch_nr_cpus(); c++) {
		struct kma_cpu_stats *row = &s->cpu[c];

		st->allocs += LOAD(row->allocs);
		st->frees += LOAD(row->frees);
		st->failures += LOAD(row->failures);
		st->total_requested += LOAD(row->total_requested);
		st->live_requested += LOAD(row->live_requested);
		st->live_footprint += LOAD(row->live_footprint);
		for (unsigned int i = 0; i < KMA_NR_CLASSES; i++) {
			st->class[i].allocs += LOAD(row->class_allocs[i]);
			st->class[i].live += LOAD(row->class_live[i]);
			st->class[i].live_requested += LOAD(row->class_requested[i]);
			st->class[i].live_footprint += LOAD(row->class_footprint[i]);
		}
	}
	st->pages_held = LOAD(s->pages_held);
	st->pages_held_peak = LOAD(s->pages_held_peak);
	st->pages_taken = LOAD(s->pages_taken);
	st->pages_returned = LOAD(s->pages_returned);
	if (k->stats)
		k->stats(st);
}

/* ---- Frames ---- */

void kma_count_frames(const struct kma_ops *k, long delta)
{
	struct kma_state *s = k->state;
	long held, peak;

	if (delta < 0) {
		__atomic_fetch_add(&s->pages_returned, (unsigned long)-delta, __ATOMIC_RELAXED);
		__atomic_fetch_sub(&s->pages_held, -delta, __ATOMIC_RELAXED);
		return;
	}
	__atomic_fetch_add(&s->pages_taken, (unsigned long)delta, __ATOMIC_RELAXED);
	held = __atomic_add_fetch(&s->pages_held, delta, __ATOMIC_RELAXED);
	peak = __atomic_load_n(&s->pages_held_peak, __ATOMIC_RELAXED);
	while (held > peak &&
	       !__atomic_compare_exchange_n(&s->pages_held_peak, &peak, held, true,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

struct page *kma_get_pages(const struct kma_ops *k, gfp_t gfp, unsigned int order)
{
	struct page *page = alloc_pages(kma_page_gfp(gfp), order);

	if (!page)
		return NULL;
	kma_count_frames(k, 1L << order);
	return page;
}

void kma_put_pages(const struct kma_ops *k, struct page *page, unsigned int order)
{
	kma_count_frames(k, -(1L << order));
	__free_pages(page, order);
}

/* ---- The view ---- */

static void kb_ratio(struct seq_buf *s, unsigned long num, unsigned long den)
{
	if (!den) {
		seq_printf(s, " %8s", "-");
		return;
	}
	/* Two decimals without floating point in the core. */
	unsigned long r = (num * 100 + den / 2) / den;
	seq_printf(s, " %5lu.%02lu", r / 100, r % 100);
}

/*
 * kmainfo: for each allocator used since boot, its operations and where
 * its frames go: requested (live), set aside for the requests (footprint:
 * rounding and headers), free inside its frames, and held. held/req is the
 * memory overhead; a per-class table of live internal waste follows.
 */
void kmainfo_show(struct seq_buf *s, long arg)
{
	seq_printf(s, "%-6s %10s %10s %6s %9s %9s %9s %9s %9s %8s  %s\n", "kma", "allocs",
		   "frees", "fails", "live_obj", "req_kB", "fp_kB", "free_kB", "held_kB",
		   "held/req", "design");
	for (unsigned int i = 0; i < kma_nr; i++) {
		const struct kma_ops *k = kma_table[i];
		struct kma_stats st;
		unsigned long held;

		kma_get_stats(k, &st);
		if (!st.allocs && !st.failures && !st.pages_held)
			continue;
		held = (unsigned long)MAX(st.pages_held, 0L) * PAGE_SIZE;
		seq_printf(s, "%-6s %10lu %10lu %6lu %9lu %9lu %9lu %9lu %9lu", k->name,
			   st.allocs, st.frees, st.failures, st.allocs - st.frees,
			   (unsigned long)MAX(st.live_requested, 0L) >> 10,
			   (unsigned long)MAX(st.live_footprint, 0L) >> 10, st.free_bytes >> 10,
			   held >> 10);
		kb_ratio(s, held, (unsigned long)MAX(st.live_requested, 0L));
		seq_printf(s, "  %s\n", k->design);
	}
	seq_puts(s, "\nlive internal waste by request size (bytes set aside - bytes asked):\n");
	seq_printf(s, "%-6s", "kma");
	for (unsigned int c = 0; c < KMA_NR_CLASSES; c++) {
		if (c == KMA_NR_CLASSES - 1)
			seq_printf(s, " %9s", ">8K");
		else if (c >= 7)
			seq_printf(s, " %8luK", (1UL << (c + KMA_CLASS_MIN_SHIFT)) >> 10);
		else
			seq_printf(s, " %9lu", 1UL << (c + KMA_CLASS_MIN_SHIFT));
	}
	seq_puts(s, "\n");
	for (unsigned int i = 0; i < kma_nr; i++) {
		const struct kma_ops *k = kma_table[i];
		struct kma_stats st;

		kma_get_stats(k, &st);
		if (!st.allocs && !st.failures && !st.pages_held)
			continue;
		seq_printf(s, "%-6s", k->name);
		for (unsigned int c = 0; c < KMA_NR_CLASSES; c++)
			seq_printf(s, " %9ld",
				   st.class[c].live_footprint - st.class[c].live_requested);
		seq_puts(s, "\n");
	}
}

/* ---- The machine-wide dispatch ---- */

/*
 * kfree gives only a pointer, and the registry's statistics and some
 * designs' free want the size. Three cases, by what the design can say
 * about a block (docs/kma.md has the costs):
 *
 *  - request_size (p2's header keeps the request): exact, no cost;
 *  - usable_size only (buddy, mk, zone, dynix: the block size from struct
 *    page, as McKusick-Karels's kmemsizes): the block is freed with its
 *    usable size, and so the kmalloc request is counted as that size too —
 *    the rounding of kmalloc'ed blocks is invisible in these designs'
 *    requested bytes (their footprint and frames are exact);
 *  - neither (rmap): a 16-byte header before the block holds the request;
 *    it is counted in the footprint, as the waste it is.
 *
 * Object caches know their size at free, so none of this applies to them.
 */
#define KHDR_SIZE 16UL
#define KHDR_MAGIC 0x6b6d616c6c6f6321UL

struct kma_khdr {
	size_t size;
	unsigned long magic;         /* KHDR_MAGIC ^ the block's address */
};

/* The selected design; with slab selected (the trace is on), p is no
   block of the machine's allocator. */
static const struct kma_ops *dispatch_target(const char *who, const void *p)
{
	const struct kma_ops *k = kma_current;

	if (unlikely(!k || k == &kma_slab_ops))
		panic("%s: %p was not returned by kmalloc", who, p);
	return k;
}

/* alloc through the design without counting: NULL (a failure counted) or the block. */
static void *raw_alloc(const struct kma_ops *k, size_t size, gfp_t gfp)
{
	void *p = NULL;

	if (likely(size && size <= k->max_size))
		p = k->alloc(size, gfp & ~__GFP_ZERO);
	if (unlikely(!p))
		ROW_ADD(k->state->cpu[arch_this_cpu()].failures, 1UL);
	return p;
}

void *kma_kmalloc(size_t size, gfp_t gfp)
{
	const struct kma_ops *k = kma_current;
	struct kma_khdr *h;
	void *p;

	if (!k || k == &kma_slab_ops) {
		/* The trace is on: the machine is still on slab. */
		p = slab_kmalloc(size, gfp);
		if (p)
			kma_trace('k', p, size);
		return p;
	}
	if (k->request_size)
		return kma_alloc(k, size, gfp);
	if (k->usable_size) {
		size_t u;

		p = raw_alloc(k, size, gfp);
		if (!p)
			return NULL;
		u = k->usable_size(p);
		count_alloc(k, u, (long)k->footprint(u));
	} else {
		if (size > SIZE_MAX - KHDR_SIZE)
			return NULL;
		h = raw_alloc(k, size + KHDR_SIZE, gfp);
		if (!h)
			return NULL;
		p = h + 1;
		*h = (struct kma_khdr){ size, KHDR_MAGIC ^ (uintptr_t)p };
		count_alloc(k, size, (long)k->footprint(size + KHDR_SIZE));
	}
	if (gfp & __GFP_ZERO)
		memset(p, 0, size);
	return p;
}

static struct kma_khdr *khdr_of(const void *p, const char *who)
{
	struct kma_khdr *h = (struct kma_khdr *)p - 1;

	if (unlikely(!IS_ALIGNED((uintptr_t)p, KHDR_SIZE) ||
		     h->magic != (KHDR_MAGIC ^ (uintptr_t)p)))
		panic("%s: %p was not returned by kmalloc (no kmalloc header: a double "
		      "free, or an object of a cache?)", who, p);
	return h;
}

void kma_kfree(const void *p)
{
	const struct kma_ops *k = dispatch_target("kfree", p);
	struct kma_khdr *h;

	if (k->request_size) {
		kma_free(k, (void *)p, k->request_size(p));
	} else if (k->usable_size) {
		size_t u = k->usable_size(p);

		k->free((void *)p, u);
		count_free(k, u, (long)k->footprint(u));
	} else {
		size_t size;

		h = khdr_of(p, "kfree");
		size = h->size;
		h->magic = 0;
		k->free(h, size + KHDR_SIZE);
		count_free(k, size, (long)k->footprint(size + KHDR_SIZE));
	}
}

size_t kma_ksize(const void *p)
{
	const struct kma_ops *k = dispatch_target("ksize", p);

	if (k->usable_size)
		return k->usable_size(p);
	return ALIGN_UP(khdr_of(p, "ksize")->size, k->min_align);
}

/*
 * How an object of size bytes aligned to align is taken from k: as is when
 * the design's minimum alignment suffices; as the power of two above
 * max(size, align) when the design aligns those naturally; else size +
 * align bytes, the object placed at the first aligned address at least a
 * pointer in, with the block's address in the word before it (*pad).
 */
static size_t obj_plan(const struct kma_ops *k, size_t size, size_t align, bool *pad)
{
	*pad = false;
	if (align <= k->min_align)
		return size;
	if (k->flags & KMA_NATURAL_ALIGN) {
		size_t s = (size_t)1 << kma_log2_up(MAX(size, align));

		if (s <= k->natural_align_max && s <= k->max_size)
			return s;
	}
	*pad = true;
	return size + align;
}

void *kma_obj_alloc(size_t size, size_t align, gfp_t gfp)
{
	const struct kma_ops *k = dispatch_target("kmem_cache_alloc", NULL);
	bool pad;
	size_t n = obj_plan(k, size, align, &pad);
	char *p = raw_alloc(k, n, gfp), *obj = p;

	if (!p)
		return NULL;
	if (pad) {
		obj = (char *)ALIGN_UP((uintptr_t)p + sizeof(void *), align);
		((void **)obj)[-1] = p;
	}
	count_alloc(k, size, (long)k->footprint(n));
	if (gfp & __GFP_ZERO)
		memset(obj, 0, size);
	return obj;
}

void kma_obj_free(void *obj, size_t size, size_t align)
{
	const struct kma_ops *k = dispatch_target("kmem_cache_free", obj);
	bool pad;
	size_t n = obj_plan(k, size, align, &pad);
	char *p = obj;

	if (pad) {
		p = ((char **)obj)[-1];
		if (unlikely(p > (char *)obj - sizeof(void *) || (char *)obj - p > (long)align))
			panic("kmem_cache_free: %p is not an object of this cache (its block "
			      "pointer %p is off)", obj, p);
	}
	k->free(p, n);
	count_free(k, size, (long)k->footprint(n));
}

/* ---- The allocation trace ---- */

int kma_trace_start(kma_trace_fn fn)
{
	if (!fn)
		return -KMM_EINVAL;
	if (kma_current && kma_current != &kma_slab_ops)
		return -KMM_EBUSY;
	__atomic_store_n(&kma_trace_hook, fn, __ATOMIC_RELAXED);
	dispatch_update();
	return 0;
}

void kma_trace_stop(void)
{
	__atomic_store_n(&kma_trace_hook, NULL, __ATOMIC_RELAXED);
	dispatch_update();
}

void kma_trace(char op, const void *p, size_t size)
{
	kma_trace_fn fn = __atomic_load_n(&kma_trace_hook, __ATOMIC_RELAXED);

	if (fn)
		fn(op, p, size);
}

/* ---- The buddy system as a KMA ---- */

/*
 * The simplest design the book lists: every request is a buddy block,
 * rounded up to a power-of-two number of frames. Fast for page-sized
 * requests, ruinous for small ones (a 16-byte object takes 4 KiB), which is
 * why every kernel puts another allocator on top. The order is kept in the
 * first page (tagged), so usable_size needs no size from the caller.
 */
static struct kma_state buddy_state;

static int buddy_init(void)
{
	return 0;
}

static void *buddy_alloc(size_t size, gfp_t gfp)
{
	unsigned int order = kma_order_for(size);
	struct page *page = kma_get_pages(&kma_buddy_ops, gfp, order);

	if (!page)
		return NULL;
	kma_page_tag(page, KMA_D_BUDDY, order);
	return page_address(page);
}

static void buddy_free(void *ptr, size_t size)
{
	struct page *page = virt_to_page(ptr);
	unsigned int order = kma_order_for(size);

	if (unlikely(!IS_ALIGNED((uintptr_t)ptr, PAGE_SIZE) ||
		     !kma_page_is(page, KMA_D_BUDDY) || kma_page_payload(page) != order))
		panic("kma buddy: free of %p (size %zu) that buddy did not allocate "
		      "with that size", ptr, size);
	page->private = 0;
	kma_put_pages(&kma_buddy_ops, page, order);
}

static size_t buddy_usable_size(const void *ptr)
{
	struct page *page = virt_to_page(ptr);

	if (!kma_page_is(page, KMA_D_BUDDY))
		panic("kma buddy: usable_size of %p, not a buddy KMA block", ptr);
	return PAGE_SIZE << kma_page_payload(page);
}

static size_t buddy_footprint(size_t size)
{
	return PAGE_SIZE << kma_order_for(size);
}

/* Every frame held is a live block: held bytes equal the live footprint. */
static int buddy_check(void)
{
	long fp = kma_live_footprint(&kma_buddy_ops);
	long held = __atomic_load_n(&buddy_state.pages_held, __ATOMIC_RELAXED);

	if (fp != held * (long)PAGE_SIZE)
		panic("kma buddy: %ld frames held but live blocks cover %ld bytes", held, fp);
	return 0;
}

static unsigned long buddy_retained(unsigned long peak)
{
	return 0;
}

const struct kma_ops kma_buddy_ops = {
	.name = "buddy",
	.state = &buddy_state,
	.design = "buddy blocks from alloc_pages (Knowlton 1965; ULK ch. 8)",
	.flags = KMA_RETURNS_FRAMES | KMA_NATURAL_ALIGN,
	.min_align = PAGE_SIZE,
	.natural_align_max = PAGE_SIZE << MAX_ORDER,
	.max_size = PAGE_SIZE << MAX_ORDER,
	.init = buddy_init,
	.alloc = buddy_alloc,
	.free = buddy_free,
	.usable_size = buddy_usable_size,
	.footprint = buddy_footprint,
	.check = buddy_check,
	.retained_bound = buddy_retained,
};
