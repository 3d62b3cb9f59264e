/*
 * Page-replacement policies simulated on a reference string (policy.c):
 * the yardsticks kmm's reclaim is measured against. Host code.
 *
 * A reference string is the sequence of pages a program touches. Given a
 * number of frames, each simulator counts the page faults: references to a
 * page not held in a frame. The first reference to every page faults under
 * every policy (cold faults, as many as the distinct pages); the rest are
 * the faults a policy could avoid, and are what compares with the major
 * faults (swap-ins) of a kmm replay, whose first touches are minor faults.
 *
 *   OPT    Belady's optimal policy: evict the page whose next use is the
 *          farthest in the future (never used again: farthest of all).
 *          Needs the whole string, so it only exists offline.
 *   LRU    evict the page least recently used (exact, as no kernel can
 *          afford: it orders the pages at every reference).
 *   CLOCK  second chance: the frames form a circle with a reference bit
 *          each, set by every reference (a newly loaded page's too, as the
 *          MMU sets the Accessed bit of the access that faulted it in);
 *          the hand clears set bits and evicts the first page found clear.
 *   FIFO   evict the page loaded first (for the textbook examples and
 *          Belady's anomaly).
 *
 * OPT and LRU are stack algorithms (the pages held with k frames are a
 * subset of those held with k + 1), so their faults never grow with more
 * frames; FIFO and CLOCK may (Belady's anomaly).
 */
#ifndef KMM_POLICY_H
#define KMM_POLICY_H

#include <stddef.h>
#include <stdint.h>

enum policy { POLICY_OPT, POLICY_LRU, POLICY_CLOCK, POLICY_FIFO, NR_POLICIES };

const char *policy_name(enum policy p);

/*
 * A reference string with its pages renamed to dense ids 0 .. distinct-1
 * (in order of first use), which lets the simulators index arrays instead
 * of hashing page numbers at every step.
 */
struct refstring {
	uint32_t *ids;      /* one per reference */
	size_t n, cap;
	size_t distinct;
	/* page number -> id + 1 (0: empty), open addressing */
	uint64_t *keys;
	uint32_t *vals;
	size_t hcap;
	int oom;            /* set when a host allocation failed */
};

void refstring_init(struct refstring *s);
void refstring_free(struct refstring *s);
/*
 * Appends a reference to page. With collapse set, a reference to the same
 * page as the previous one is dropped: it cannot fault under any policy
 * here, so the counts are unchanged and long traces take less memory.
 * 0, or -1 when the host is out of memory.
 */
int refstring_add(struct refstring *s, uint64_t page, int collapse);

/* Every id below distinct, every page's id unique and used in order of
   first use, distinct entries in the table. 0, or -1. */
int refstring_check(const struct refstring *s);

/*
 * Reads a trace (trace.h, any format) as page numbers (address >> 12),
 * collapsing repeats of one page. 0, or -1 with the reason in err.
 */
int refstring_from_trace(struct refstring *s, const char *path, char *err, size_t len);

/*
 * Page faults of policy p with frames frames (>= 1) on s; distinct(s)
 * of them are cold. Returns (uint64_t)-1 when the host is out of memory.
 */
uint64_t policy_faults(enum policy p, const struct refstring *s, size_t frames);

/* ---- Synthetic reference strings (deterministic for a seed) ---- */

/*
 * loop     pages 0..npages-1 in order, laps times (with npages - 1 frames,
 *          LRU, CLOCK and FIFO fault at every reference; OPT about once
 *          a lap per frame missing);
 * scan     a working set of npages/4 pages used at random, interrupted
 *          every 4*npages/4 references by a sequential scan of npages
 *          pages never used again (what a recency-only policy lets a scan
 *          flush out of memory);
 * zipf     npages pages chosen at random with Zipf's law (exponent 1):
 *          page i with probability proportional to 1/(i+1), shuffled so
 *          popular pages are not neighbours.
 * refs is the length of the string (for loop: npages * laps).
 */
enum synth_kind { SYNTH_LOOP, SYNTH_SCAN, SYNTH_ZIPF, NR_SYNTH };

const char *synth_name(enum synth_kind k);
/* The kind named name, or -1. */
int synth_by_name(const char *name);
/* 0, or -1 when out of host memory or npages < 2. */
int synth_generate(struct refstring *s, enum synth_kind k, size_t npages, size_t refs,
		   uint64_t seed);

/*
 * Writes s as a kmm-format trace (gzip-compressed when path ends in .gz):
 * one private read-write area covering the pages from base_page up, a
 * store a reference (so every page holds a frame). 0, or -1 with err.
 */
int refstring_write_trace(const struct refstring *s, const char *path, uint64_t base_page,
			  char *err, size_t len);

#endif
