/*
 * The slab allocator (mm/slab.c, Bonwick 1994 and Bonwick & Adams 2001) as
 * one of the KMAs: kmalloc/kfree/ksize behind struct kma_ops, so that the
 * conformance suite, kmainfo, bench_kma and the --kma switch treat it like
 * the other designs, and the machine's default.
 *
 * The ops call the slab allocator without the machine-wide dispatch
 * (slab_kmalloc, not kmalloc), so kma_alloc(&kma_slab_ops, ...) gives a
 * slab object even on a machine running another design.
 *
 * Frames: the slab allocator calls alloc_pages itself, for slabs and for
 * large kmalloc blocks; mm/slab.c and mm/kmalloc.c report each to
 * kma_count_frames, so "frames held" counts every frame the slab allocator
 * holds (boot caches included), as for the other designs. The requests
 * counted are those made through the registry (kma_alloc, the benchmarks);
 * the machine's own kmalloc calls on the slab fast path are not counted
 * here — slabinfo and slabwaste show them.
 *
 * Locking: the slab allocator's own (mm/slab.c).
 */
#include <kmm/kma.h>
#include <kmm/slab.h>

#include "kma_internal.h"

static struct kma_state slab_kma_state;

struct slab_walk {
	unsigned long frames;
	unsigned long free_bytes;
	unsigned long caches;
};

static void walk_cache(struct kmem_cache *cp, void *arg)
{
	struct slab_walk *w = arg;
	struct kmem_cache_info info;

	kmem_cache_get_info(cp, &info);
	w->frames += info.bytes_total >> PAGE_SHIFT;
	w->free_bytes += info.waste_free;
	w->caches++;
}

static unsigned long frames_now(void)
{
	struct slab_walk w = { 0 };

	kmem_cache_for_each(walk_cache, &w);
	return w.frames + kmalloc_large_frames();
}

/* kma_boot zeroed the counters: start them from the frames slab holds now. */
static int slab_kma_init(void)
{
	kma_count_frames(&kma_slab_ops, (long)frames_now());
	return 0;
}

static void *slab_kma_alloc(size_t size, gfp_t gfp)
{
	return slab_kmalloc(size, gfp);
}

static void slab_kma_free(void *ptr, size_t size)
{
	slab_kfree(ptr);
}

static size_t slab_kma_usable_size(const void *ptr)
{
	return slab_ksize(ptr);
}

/* The kmalloc class, or the compound block above the largest class. */
static size_t slab_kma_footprint(size_t size)
{
	struct kmem_cache *cp = kmalloc_cache(size);

	if (cp)
		return kmem_cache_size(cp);
	return PAGE_SIZE << kma_order_for(size);
}

static unsigned long slab_kma_shrink(void)
{
	return kmem_cache_reap_all();
}

/*
 * In the child of a fork, threads that were between alloc_pages and putting
 * a slab on its cache's lists (or between taking one off and freeing its
 * frames) are gone with their half-done work: those frames stay allocated
 * in the child, held by no cache, as the blocks a vanished thread held are
 * in any malloc. The count starts again from what the caches hold (those
 * frames no longer count as taken), so the check below keeps proving that
 * mm/slab.c and mm/kmalloc.c report every frame from then on.
 */
void kma_slab_recount_after_fork(void)
{
	struct kma_state *s = &slab_kma_state;
	long lost = __atomic_load_n(&s->pages_held, __ATOMIC_RELAXED) - (long)frames_now();

	__atomic_fetch_sub(&s->pages_held, lost, __ATOMIC_RELAXED);
	__atomic_fetch_sub(&s->pages_taken, (unsigned long)lost, __ATOMIC_RELAXED);
}

/* The frames the registry counted are the frames the caches and the large
   blocks hold: proves mm/slab.c and mm/kmalloc.c report every one. */
static int slab_kma_check(void)
{
	long held = __atomic_load_n(&slab_kma_state.pages_held, __ATOMIC_RELAXED);
	unsigned long now = frames_now();

	if (held != (long)now)
		panic("kma slab: %ld frames counted, but the caches and large kmalloc "
		      "blocks hold %lu", held, now);
	return 0;
}

static void slab_kma_stats(struct kma_stats *st)
{
	struct slab_walk w = { 0 };

	kmem_cache_for_each(walk_cache, &w);
	st->free_bytes = w.free_bytes;
	st->extra_name = "caches";
	st->extra = w.caches;
}

static unsigned long slab_kma_retained(unsigned long peak)
{
	return 0;
}

const struct kma_ops kma_slab_ops = {
	.name = "slab",
	.state = &slab_kma_state,
	.design = "object caches with magazines (Bonwick 1994; Bonwick & Adams 2001)",
	.flags = KMA_RETURNS_FRAMES | KMA_NATURAL_ALIGN | KMA_PERCPU,
	.min_align = KMALLOC_MIN_SIZE,
	/* kmalloc-8k is page-aligned only; the compound blocks above are whole
	   buddy blocks, but not promised as such. */
	.natural_align_max = PAGE_SIZE,
	.max_size = KMALLOC_MAX_SIZE,
	.init = slab_kma_init,
	.alloc = slab_kma_alloc,
	.free = slab_kma_free,
	.usable_size = slab_kma_usable_size,
	.footprint = slab_kma_footprint,
	.shrink = slab_kma_shrink,
	.check = slab_kma_check,
	.stats = slab_kma_stats,
	.retained_bound = slab_kma_retained,
};
