/*
 * Page-replacement simulators (policy.h): OPT, LRU, CLOCK and FIFO counting
 * the faults of one reference string for a number of frames, plus the
 * synthetic strings the reclaim benchmark uses. Host code.
 *
 * Every simulator works on dense page ids (struct refstring), so its state
 * is a few arrays indexed by id:
 *  - LRU keeps the resident pages on a doubly linked list in recency order
 *    (O(1) a reference);
 *  - CLOCK and FIFO keep a circle of frames and a hand;
 *  - OPT (Belady, 1966) first computes, going backwards, where each
 *    reference's page is used next; resident pages sit in a max-heap keyed
 *    by their next use, with lazy deletion (a hit pushes the page again with
 *    its new key and the old entry is dropped when it surfaces), so a
 *    string of n references costs O(n log n).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "policy.h"
#include "trace.h"

#define NO_SLOT UINT32_MAX

const char *policy_name(enum policy p)
{
	static const char *const names[NR_POLICIES] = { "opt", "lru", "clock", "fifo" };

	return (unsigned int)p < NR_POLICIES ? names[p] : "?";
}

/* ---- Reference strings ---- */

void refstring_init(struct refstring *s)
{
	memset(s, 0, sizeof(*s));
}

void refstring_free(struct refstring *s)
{
	free(s->ids);
	free(s->keys);
	free(s->vals);
	refstring_init(s);
}

static size_t hash_slot(uint64_t page, size_t cap)
{
	return (size_t)((page * 0x9e3779b97f4a7c15ULL) >> 17) & (cap - 1);
}

/* The id of page, a new one on its first use. -1 when out of memory. */
static int64_t page_id(struct refstring *s, uint64_t page)
{
	size_t i;

	if ((s->distinct + 1) * 2 > s->hcap) {
		size_t cap = s->hcap ? s->hcap * 2 : 1024;
		uint64_t *keys = calloc(cap, sizeof(*keys));
		uint32_t *vals = calloc(cap, sizeof(*vals));

		if (!keys || !vals) {
			free(keys);
			free(vals);
			return -1;
		}
		for (size_t j = 0; j < s->hcap; j++) {
			if (!s->vals[j])
				continue;
			for (i = hash_slot(s->keys[j], cap); vals[i]; i = (i + 1) & (cap - 1))
				;
			keys[i] = s->keys[j];
			vals[i] = s->vals[j];
		}
		free(s->keys);
		free(s->vals);
		s->keys = keys;
		s->vals = vals;
		s->hcap = cap;
	}
	for (i = hash_slot(page, s->hcap); s->vals[i]; i = (i + 1) & (s->hcap - 1))
		if (s->keys[i] == page)
			return s->vals[i] - 1;
	if (s->distinct >= UINT32_MAX - 1)
		return -1;
	s->keys[i] = page;
	s->vals[i] = (uint32_t)++s->distinct;
	return (int64_t)s->distinct - 1;
}

int refstring_add(struct refstring *s, uint64_t page, int collapse)
{
	int64_t id = page_id(s, page);

	if (id < 0) {
		s->oom = 1;
		return -1;
	}
	if (collapse && s->n && s->ids[s->n - 1] == (uint32_t)id)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		uint32_t *ids = cap < UINT32_MAX ? realloc(s->ids, cap * sizeof(*ids)) : NULL;

		if (!ids) {
			s->oom = 1;
			return -1;
		}
		s->ids = ids;
		s->cap = cap;
	}
	s->ids[s->n++] = (uint32_t)id;
	return 0;
}

int refstring_check(const struct refstring *s)
{
	size_t entries = 0;
	uint32_t next_new = 0;

	if (s->n > s->cap || (s->hcap & (s->hcap - 1)) || s->distinct * 2 > s->hcap + 1)
		return -1;
	for (size_t j = 0; j < s->hcap; j++) {
		if (!s->vals[j])
			continue;
		if (s->vals[j] > s->distinct)
			return -1;
		entries++;
	}
	if (entries != s->distinct)
		return -1;
	/* ids are handed out in order of first use */
	for (size_t i = 0; i < s->n; i++) {
		if (s->ids[i] >= s->distinct || s->ids[i] > next_new)
			return -1;
		if (s->ids[i] == next_new)
			next_new++;
	}
	return !s->oom && next_new != s->distinct ? -1 : 0;
}

int refstring_from_trace(struct refstring *s, const char *path, char *err, size_t len)
{
	struct trace_reader *r;
	struct trace_ref ref;
	int got;

	if (trace_open(path, &r, err, len))
		return -1;
	while ((got = trace_next(r, &ref, err, len)) == 1) {
		if (refstring_add(s, ref.addr >> 12, 1)) {
			snprintf(err, len, "%s: out of host memory", path);
			got = -1;
			break;
		}
	}
	trace_close(r);
	return got < 0 ? -1 : 0;
}

/* ---- The simulators ---- */

static uint64_t lru_faults(const struct refstring *s, size_t frames)
{
	uint32_t *prev = malloc(s->distinct * sizeof(*prev));
	uint32_t *next = malloc(s->distinct * sizeof(*next));
	unsigned char *in = calloc(s->distinct, 1);
	uint32_t head = NO_SLOT, tail = NO_SLOT;   /* most and least recently used */
	uint64_t faults = 0;
	size_t held = 0;

	if (!prev || !next || !in) {
		faults = UINT64_MAX;
		goto out;
	}
	for (size_t i = 0; i < s->n; i++) {
		uint32_t id = s->ids[i];

		if (in[id]) {
			if (head == id)
				continue;
			/* unlink, then push at the head */
			next[prev[id]] = next[id];
			if (next[id] != NO_SLOT)
				prev[next[id]] = prev[id];
			else
				tail = prev[id];
		} else {
			faults++;
			if (held == frames) {
				uint32_t victim = tail;

				tail = prev[victim];
				if (tail != NO_SLOT)
					next[tail] = NO_SLOT;
				else
					head = NO_SLOT;
				in[victim] = 0;
				held--;
			}
			in[id] = 1;
			held++;
		}
		prev[id] = NO_SLOT;
		next[id] = head;
		if (head != NO_SLOT)
			prev[head] = id;
		head = id;
		if (tail == NO_SLOT)
			tail = id;
	}
out:
	free(prev);
	free(next);
	free(in);
	return faults;
}

/* CLOCK (second chance) and, with no reference bits, FIFO. */
static uint64_t circle_faults(const struct refstring *s, size_t frames, int second_chance)
{
	uint32_t *slot_of = malloc(s->distinct * sizeof(*slot_of));
	uint32_t *page_in = malloc(frames * sizeof(*page_in));
	unsigned char *ref = calloc(frames, 1);
	uint64_t faults = 0;
	size_t hand = 0, used = 0;

	if (!slot_of || !page_in || !ref) {
		faults = UINT64_MAX;
		goto out;
	}
	memset(slot_of, 0xff, s->distinct * sizeof(*slot_of));
	for (size_t i = 0; i < s->n; i++) {
		uint32_t id = s->ids[i];
		size_t slot;

		if (slot_of[id] != NO_SLOT) {
			ref[slot_of[id]] = 1;
			continue;
		}
		faults++;
		if (used < frames) {
			slot = used++;
		} else {
			while (second_chance && ref[hand]) {
				ref[hand] = 0;
				hand = (hand + 1) % frames;
			}
			slot = hand;
			slot_of[page_in[slot]] = NO_SLOT;
			hand = (hand + 1) % frames;
		}
		page_in[slot] = id;
		slot_of[id] = (uint32_t)slot;
		ref[slot] = 1;
	}
out:
	free(slot_of);
	free(page_in);
	free(ref);
	return faults;
}

/* A max-heap of (next use << 32 | id). */
struct heap {
	uint64_t *v;
	size_t n;
};

static void heap_push(struct heap *h, uint64_t x)
{
	size_t i = h->n++;

	while (i && h->v[(i - 1) / 2] < x) {
		h->v[i] = h->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->v[i] = x;
}

static uint64_t heap_pop(struct heap *h)
{
	uint64_t top = h->v[0], x = h->v[--h->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1] > h->v[c])
			c++;
		if (h->v[c] <= x)
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n)
		h->v[i] = x;
	return top;
}

static uint64_t opt_faults(const struct refstring *s, size_t frames)
{
	/* next_use[i]: where s->ids[i] is used next; s->n: never again. */
	uint32_t *next_use = malloc(s->n * sizeof(*next_use));
	uint32_t *seen = malloc(s->distinct * sizeof(*seen));
	uint32_t *key = malloc(s->distinct * sizeof(*key));   /* resident page's heap key */
	unsigned char *in = calloc(s->distinct, 1);
	struct heap h = { malloc((s->n + 1) * sizeof(uint64_t)), 0 };
	uint64_t faults = 0;
	size_t held = 0;

	if (!next_use || !seen || !key || !in || !h.v || s->n >= UINT32_MAX) {
		faults = UINT64_MAX;
		goto out;
	}
	for (size_t id = 0; id < s->distinct; id++)
		seen[id] = (uint32_t)s->n;
	for (size_t i = s->n; i-- > 0;) {
		next_use[i] = seen[s->ids[i]];
		seen[s->ids[i]] = (uint32_t)i;
	}
	for (size_t i = 0; i < s->n; i++) {
		uint32_t id = s->ids[i];

		if (!in[id]) {
			faults++;
			if (held == frames) {
				for (;;) {
					uint64_t top = heap_pop(&h);
					uint32_t victim = (uint32_t)top;

					/* stale: the page was hit (new key) or is gone */
					if (in[victim] && key[victim] == (uint32_t)(top >> 32)) {
						in[victim] = 0;
						break;
					}
				}
				held--;
			}
			in[id] = 1;
			held++;
		}
		/* A hit leaves its old entry behind, stale; one push a reference
		   keeps the heap within s->n entries. */
		key[id] = next_use[i];
		heap_push(&h, (uint64_t)key[id] << 32 | id);
	}
out:
	free(next_use);
	free(seen);
	free(key);
	free(in);
	free(h.v);
	return faults;
}

uint64_t policy_faults(enum policy p, const struct refstring *s, size_t frames)
{
	if (!frames)
		return UINT64_MAX;
	if (!s->n)
		return 0;
	switch (p) {
	case POLICY_OPT: return opt_faults(s, frames);
	case POLICY_LRU: return lru_faults(s, frames);
	case POLICY_CLOCK: return circle_faults(s, frames, 1);
	case POLICY_FIFO: return circle_faults(s, frames, 0);
	case NR_POLICIES: break;
	}
	return UINT64_MAX;
}

/* ---- Synthetic strings ---- */

const char *synth_name(enum synth_kind k)
{
	static const char *const names[NR_SYNTH] = { "loop", "scan", "zipf" };

	return (unsigned int)k < NR_SYNTH ? names[k] : "?";
}

int synth_by_name(const char *name)
{
	for (int k = 0; k < NR_SYNTH; k++)
		if (!strcmp(name, synth_name((enum synth_kind)k)))
			return k;
	return -1;
}

/* xorshift64*: the strings must be the same on every host and run. */
static uint64_t rnd(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* A uniform number in [0, n). */
static size_t rnd_below(uint64_t *state, size_t n)
{
	return (size_t)((rnd(state) >> 11) % n);
}

static int synth_zipf(struct refstring *s, size_t npages, size_t refs, uint64_t *st)
{
	double *cdf = malloc(npages * sizeof(*cdf));
	size_t *perm = malloc(npages * sizeof(*perm));
	double sum = 0;
	int ret = 0;

	if (!cdf || !perm) {
		ret = -1;
		goto out;
	}
	for (size_t i = 0; i < npages; i++) {
		sum += 1.0 / (double)(i + 1);
		cdf[i] = sum;
		perm[i] = i;
	}
	for (size_t i = npages - 1; i > 0; i--) {
		size_t j = rnd_below(st, i + 1), t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	for (size_t r = 0; r < refs && !ret; r++) {
		double u = (double)(rnd(st) >> 11) / 9007199254740992.0 * sum;
		size_t lo = 0, hi = npages - 1;

		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (cdf[mid] < u)
				lo = mid + 1;
			else
				hi = mid;
		}
		ret = refstring_add(s, perm[lo], 0);
	}
out:
	free(cdf);
	free(perm);
	return ret;
}

/* npages/4 hot pages at random; after every 4 * hot references, a scan of
   hot cold pages, continuing through the 3/4 of the pages that are cold. */
static int synth_scan(struct refstring *s, size_t npages, size_t refs, uint64_t *st)
{
	size_t hot = npages / 4 ? npages / 4 : 1, cold = npages - hot, next_cold = 0;
	size_t r = 0;

	while (r < refs) {
		for (size_t i = 0; i < 4 * hot && r < refs; i++, r++)
			if (refstring_add(s, rnd_below(st, hot), 0))
				return -1;
		for (size_t i = 0; i < hot && r < refs; i++, r++) {
			if (refstring_add(s, hot + next_cold, 0))
				return -1;
			next_cold = (next_cold + 1) % cold;
		}
	}
	return 0;
}

int synth_generate(struct refstring *s, enum synth_kind k, size_t npages, size_t refs,
		   uint64_t seed)
{
	uint64_t st = seed * 2654435761ULL + 0x9e3779b97f4a7c15ULL;

	if (npages < 2)
		return -1;
	switch (k) {
	case SYNTH_LOOP:
		for (size_t r = 0; r < refs; r++)
			if (refstring_add(s, r % npages, 0))
				return -1;
		return 0;
	case SYNTH_SCAN: return synth_scan(s, npages, refs, &st);
	case SYNTH_ZIPF: return synth_zipf(s, npages, refs, &st);
	case NR_SYNTH: break;
	}
	return -1;
}

int refstring_write_trace(const struct refstring *s, const char *path, uint64_t base_page,
			  char *err, size_t len)
{
	size_t plen = strlen(path);
	int gz = plen > 3 && !strcmp(path + plen - 3, ".gz");
	gzFile f = gzopen(path, gz ? "wb6" : "wbT");
	int bad;

	if (!f) {
		snprintf(err, len, "%s: cannot create", path);
		return -1;
	}
	bad = gzprintf(f, "# kmm-trace 1\n# a synthetic reference string: %zu references to "
		       "%zu pages\narea 0x%llx 0x%llx rw-p [synthetic]\n", s->n, s->distinct,
		       (unsigned long long)(base_page << 12),
		       (unsigned long long)((base_page + (s->distinct ? s->distinct : 1)) << 12))
	      <= 0;
	/* repeats of one page are one line with a count, as kmm record writes */
	for (size_t i = 0, run; i < s->n && !bad; i += run) {
		for (run = 1; i + run < s->n && s->ids[i + run] == s->ids[i]; run++)
			;
		bad = gzprintf(f, "W 0x%llx %zu\n", (unsigned long long)(base_page + s->ids[i]),
			       run) <= 0;
	}
	if (gzclose(f) != Z_OK)
		bad = 1;
	if (bad) {
		snprintf(err, len, "%s: write failed", path);
		return -1;
	}
	return 0;
}
