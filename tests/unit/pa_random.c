/*
 * The random page-allocator workload (see pa_random.h). Orders are drawn
 * mostly small, as a kernel's are, with every order up to MAX_ORDER present;
 * the workload alternates phases that fill memory to exhaustion and phases
 * that drain it, so both the split and the merge paths, the watermarks and
 * the failures are all exercised.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmm/emu.h>
#include <kmm/page_alloc.h>

#include "pa_random.h"

/* Weights (of 1000) of orders 0..10. */
static const unsigned int order_weight[NR_ORDERS] = {
	700, 100, 60, 50, 30, 20, 15, 10, 7, 5, 3,
};

static const gfp_t gfp_choices[] = {
	GFP_KERNEL,
	GFP_KERNEL | __GFP_MOVABLE,
	GFP_HIGHUSER_MOVABLE,
	GFP_KERNEL | __GFP_RECLAIMABLE,
	GFP_KERNEL | __GFP_DMA32,
	GFP_KERNEL | __GFP_DMA,
	GFP_ATOMIC,
	GFP_NOWAIT | __GFP_MOVABLE,
	GFP_KERNEL | __GFP_ZERO,
	GFP_KERNEL | __GFP_COMP,
	GFP_KERNEL | __GFP_MOVABLE | __GFP_COMP | __GFP_ZERO,
};

static uint64_t rnd(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static unsigned int rnd_below(uint64_t *s, unsigned int n)
{
	return (unsigned int)((rnd(s) >> 11) % n);
}

static __attribute__((format(printf, 2, 3))) bool werr(struct pa_worker *w,
							const char *fmt, ...)
{
	va_list ap;

	if (w->error[0])
		return false;
	va_start(ap, fmt);
	vsnprintf(w->error, sizeof(w->error), fmt, ap);
	va_end(ap);
	return false;
}

static unsigned int random_order(uint64_t *s)
{
	unsigned int r = rnd_below(s, 1000);

	for (unsigned int o = 0; o < NR_ORDERS; o++) {
		if (r < order_weight[o])
			return o;
		r -= order_weight[o];
	}
	return 0;
}

static uint64_t stamp(unsigned long pfn, uint64_t salt)
{
	return (pfn * 0x9e3779b97f4a7c15ULL) ^ salt;
}

static uint64_t *page_words(struct page *page)
{
	return page_address(page);
}

static bool is_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Everything a freshly allocated block must satisfy; then stamps it. */
static bool check_new_block(struct pa_worker *w, struct pa_block *b)
{
	struct page *page = b->page;
	unsigned long pfn = page_to_pfn(page);
	unsigned long nr = 1UL << b->order;
	unsigned int zone = page_zonenum(page);

	if (!pfn_valid(pfn) || !pfn_valid(pfn + nr - 1))
		return werr(w, "order %u block at pfn %#lx beyond max_pfn %#lx", b->order,
			    pfn, max_pfn);
	if (pfn & (nr - 1))
		return werr(w, "order %u block at pfn %#lx is not aligned", b->order, pfn);
	if (page_ref_count(page) != 1)
		return werr(w, "new block pfn %#lx has refcount %d", pfn, page_ref_count(page));
	if ((b->gfp & __GFP_DMA) && zone != ZONE_DMA)
		return werr(w, "__GFP_DMA block pfn %#lx from zone %u", pfn, zone);
	if ((b->gfp & __GFP_DMA32) && zone > ZONE_DMA32)
		return werr(w, "__GFP_DMA32 block pfn %#lx from zone %u", pfn, zone);
	if (PFN_PHYS(pfn + nr) > ZONE_DMA_END && zone == ZONE_DMA)
		return werr(w, "DMA block pfn %#lx order %u ends above 16 MiB", pfn, b->order);
	for (unsigned long i = 0; i < nr; i++) {
		struct page *p = page + i;

		if (page_flag(p, PG_buddy) || page_flag(p, PG_pcp) ||
		    page_flag(p, PG_reserved) || page_flag(p, PG_slab))
			return werr(w, "new block pfn %#lx: page %lu has flags %#lx", pfn, i,
				    (unsigned long)atomic_load(&p->flags));
		if (page_zonenum(p) != zone)
			return werr(w, "block pfn %#lx order %u spans zones", pfn, b->order);
		if ((b->gfp & __GFP_COMP) && b->order) {
			if (i == 0 && (!page_flag(p, PG_head) || p->compound_order != b->order))
				return werr(w, "compound block pfn %#lx: head not marked", pfn);
			if (i && (!page_flag(p, PG_tail) || p->compound_head != page))
				return werr(w, "compound block pfn %#lx: tail %lu not linked", pfn, i);
		}
		if (b->gfp & __GFP_ZERO) {
			const unsigned char *bytes = (const unsigned char *)page_words(p);
			/* Whole pages when small; the ends of each page when large. */
			if (b->order <= 1 ? !is_zero(bytes, PAGE_SIZE)
					  : !is_zero(bytes, 64) ||
						    !is_zero(bytes + PAGE_SIZE - 64, 64))
				return werr(w, "__GFP_ZERO block pfn %#lx: page %lu not zeroed",
					    pfn, i);
		}
	}
	for (unsigned long i = 0; i < nr; i++) {
		uint64_t *words = page_words(page + i);
		words[0] = stamp(pfn + i, b->salt);
		words[PAGE_SIZE / 8 - 1] = ~stamp(pfn + i, b->salt);
	}
	return true;
}

/* The stamps are intact (nobody else was given these frames): free the block. */
static bool free_block(struct pa_worker *w, struct pa_block *b)
{
	unsigned long pfn = page_to_pfn(b->page);
	unsigned long nr = 1UL << b->order;

	if (page_ref_count(b->page) != 1)
		return werr(w, "block pfn %#lx refcount %d before free", pfn,
			    page_ref_count(b->page));
	for (unsigned long i = 0; i < nr; i++) {
		uint64_t *words = page_words(b->page + i);
		if (words[0] != stamp(pfn + i, b->salt) ||
		    words[PAGE_SIZE / 8 - 1] != ~stamp(pfn + i, b->salt))
			return werr(w, "block pfn %#lx order %u: page %lu was overwritten "
				    "while allocated", pfn, b->order, i);
	}
	__free_pages(b->page, b->order);
	w->freed_pages += nr;
	w->live_pages -= nr;
	return true;
}

bool pa_worker_init(struct pa_worker *w)
{
	w->live = calloc(w->cap, sizeof(*w->live));
	w->nr_live = 0;
	memset(w->alloc_pages_zone, 0, sizeof(w->alloc_pages_zone));
	memset(w->failures, 0, sizeof(w->failures));
	w->freed_pages = w->successes = w->checks = 0;
	w->live_pages = w->max_live_pages = 0;
	w->error[0] = '\0';
	return w->live != NULL;
}

void pa_worker_destroy(struct pa_worker *w)
{
	free(w->live);
	w->live = NULL;
}

static void handoff_put(struct pa_handoff *h, struct pa_worker *w, struct pa_block *b)
{
	pthread_mutex_lock(&h->lock);
	if (h->nr < h->cap) {
		h->blocks[h->nr++] = *b;
		/* The pages leave this worker's books; the freeing worker counts them. */
		w->live_pages -= 1UL << b->order;
		pthread_mutex_unlock(&h->lock);
		return;
	}
	pthread_mutex_unlock(&h->lock);
	free_block(w, b);
}

static bool handoff_take(struct pa_handoff *h, struct pa_block *b, uint64_t *rng)
{
	bool got = false;

	pthread_mutex_lock(&h->lock);
	if (h->nr) {
		unsigned int i = rnd_below(rng, (unsigned int)h->nr);
		*b = h->blocks[i];
		h->blocks[i] = h->blocks[--h->nr];
		got = true;
	}
	pthread_mutex_unlock(&h->lock);
	return got;
}

static bool check_totals(struct pa_worker *w)
{
	unsigned long free = nr_free_pages(), pcp = nr_pcp_pages(), total = totalram_pages();

	if (free + pcp + w->live_pages != total)
		return werr(w, "free %lu + per-CPU %lu + live %lu != managed %lu", free, pcp,
			    w->live_pages, total);
	return true;
}

static void do_alloc(struct pa_worker *w)
{
	struct pa_block b = {
		.order = random_order(&w->seed),
		.gfp = gfp_choices[rnd_below(&w->seed, ARRAY_SIZE(gfp_choices))] | __GFP_NOWARN,
		.salt = rnd(&w->seed),
	};

	b.page = alloc_pages(b.gfp, b.order);
	if (!b.page) {
		w->failures[b.order]++;
		return;
	}
	w->successes++;
	w->alloc_pages_zone[page_zonenum(b.page)] += 1UL << b.order;
	w->live_pages += 1UL << b.order;
	if (w->live_pages > w->max_live_pages)
		w->max_live_pages = w->live_pages;
	if (!check_new_block(w, &b))
		return;
	w->live[w->nr_live++] = b;
}

static void do_free(struct pa_worker *w)
{
	unsigned long i = rnd_below(&w->seed, (unsigned int)w->nr_live);
	struct pa_block b = w->live[i];

	w->live[i] = w->live[--w->nr_live];
	if (w->handoff && rnd_below(&w->seed, 4) == 0)
		handoff_put(w->handoff, w, &b);
	else
		free_block(w, &b);
}

void pa_worker_run(struct pa_worker *w)
{
	for (unsigned long op = 1; op <= w->ops && !w->error[0]; op++) {
		bool filling = !w->phase_ops || (op / w->phase_ops) % 2 == 0;
		unsigned int alloc_pct = filling ? 60 : 40;

		if (w->switch_cpus > 1 && op % 1000 == 0)
			emu_set_cpu(rnd_below(&w->seed, w->switch_cpus));
		struct pa_block b;

		if (w->handoff && rnd_below(&w->seed, 8) == 0 &&
		    handoff_take(w->handoff, &b, &w->seed)) {
			/* Another CPU's block, freed here. */
			w->live_pages += 1UL << b.order;
			free_block(w, &b);
		} else if (w->nr_live < w->cap &&
			   (w->nr_live == 0 || rnd_below(&w->seed, 100) < alloc_pct)) {
			do_alloc(w);
		} else {
			do_free(w);
		}
		if (w->check_every && op % w->check_every == 0) {
			page_alloc_check();
			w->checks++;
			if (w->exact_accounting)
				check_totals(w);
		}
	}
}

void pa_worker_free_all(struct pa_worker *w)
{
	while (w->nr_live && !w->error[0]) {
		struct pa_block b = w->live[--w->nr_live];
		free_block(w, &b);
	}
}

void pa_handoff_init(struct pa_handoff *h, unsigned long cap)
{
	pthread_mutex_init(&h->lock, NULL);
	h->blocks = calloc(cap, sizeof(*h->blocks));
	h->cap = h->blocks ? cap : 0;
	h->nr = 0;
}

void pa_handoff_drain(struct pa_handoff *h, struct pa_worker *w)
{
	struct pa_block b;

	while (!w->error[0] && handoff_take(h, &b, &w->seed)) {
		w->live_pages += 1UL << b.order;
		free_block(w, &b);
	}
}

void pa_handoff_destroy(struct pa_handoff *h)
{
	free(h->blocks);
	pthread_mutex_destroy(&h->lock);
}
