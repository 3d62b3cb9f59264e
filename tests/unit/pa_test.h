/*
 * Shared pieces of the page allocator's and memblock's tests: booting a
 * machine of a given shape, snapshots of the buddy lists to compare before
 * and after, a counter by name, catching an expected panic, and a small
 * seeded generator so that every random test replays from its seed.
 *
 * Include after <cmocka.h> (and its prerequisites).
 */
#ifndef KMM_TESTS_PA_TEST_H
#define KMM_TESTS_PA_TEST_H

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmm/emu.h>
#include <kmm/errno.h>
#include <kmm/fault_inject.h>
#include <kmm/kmm.h>
#include <kmm/memblock.h>
#include <kmm/page_alloc.h>
#include <kmm/vmstat.h>

/* A quiet machine: ram bytes, cpus, deterministic unless changed after. */
static inline void pa_config(struct emu_config *cfg, uint64_t ram, unsigned int cpus)
{
	emu_config_default(cfg);
	cfg->ram_bytes = ram;
	cfg->cpus = cpus;
	cfg->mm.quiet = true;
}

static inline void pa_boot_cfg(const struct emu_config *cfg)
{
	char err[256] = "";
	int ret;

	if (emu_booted())
		emu_shutdown();
	ret = emu_boot(cfg, err, sizeof(err));
	if (ret)
		fail_msg("emu_boot(ram=%llu, cpus=%u): %d %s",
			 (unsigned long long)cfg->ram_bytes, cfg->cpus, ret, err);
	assert_true(emu_booted());
}

static inline void pa_boot(uint64_t ram, unsigned int cpus)
{
	struct emu_config cfg;

	pa_config(&cfg, ram, cpus);
	pa_boot_cfg(&cfg);
}

/* cmocka teardown: no machine and no fault injection left for the next test. */
static inline int pa_teardown(void **state)
{
	(void)state;
	fault_attr_configure(&fail_page_alloc, 0, 0, 0);
	if (emu_booted())
		emu_shutdown();
	return 0;
}

static inline struct zone *pa_zone(enum zone_type t)
{
	return &kmm_node->node_zones[t];
}

static inline unsigned long pa_zone_free(enum zone_type t)
{
	return zone_page_state(pa_zone(t), NR_FREE_PAGES);
}

static inline unsigned long pa_stat(const char *name)
{
	unsigned long v = 0;
	int ret = kmm_stat(name, &v);

	if (ret)
		fail_msg("kmm_stat(\"%s\") = %d", name, ret);
	return v;
}

/* Free blocks per zone and order: what buddyinfo shows. */
struct pa_buddy_snapshot {
	unsigned long nr_free[MAX_NR_ZONES][NR_ORDERS];
	unsigned long free_pages[MAX_NR_ZONES];
};

static inline void pa_snapshot(struct pa_buddy_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	for (unsigned int t = 0; t < MAX_NR_ZONES; t++) {
		for (unsigned int o = 0; o < NR_ORDERS; o++)
			s->nr_free[t][o] = __atomic_load_n(&pa_zone(t)->free_area[o].nr_free,
							   __ATOMIC_RELAXED);
		s->free_pages[t] = pa_zone_free((enum zone_type)t);
	}
}

static inline void pa_assert_snapshot_equal(const struct pa_buddy_snapshot *want,
					    const struct pa_buddy_snapshot *got)
{
	for (unsigned int t = 0; t < MAX_NR_ZONES; t++) {
		for (unsigned int o = 0; o < NR_ORDERS; o++)
			if (want->nr_free[t][o] != got->nr_free[t][o])
				fail_msg("zone %s order %u: %lu free blocks, expected %lu",
					 zone_names[t], o, got->nr_free[t][o],
					 want->nr_free[t][o]);
		assert_int_equal(got->free_pages[t], want->free_pages[t]);
	}
}

/* A view's text into a heap buffer the caller frees. */
static inline char *pa_view(const char *name)
{
	size_t size = 1 << 16;
	char *text = malloc(size);
	struct seq_buf s;

	assert_non_null(text);
	seq_buf_init(&s, text, size);
	assert_int_equal(kmm_view_show(name, 0, &s), 0);
	assert_false(seq_buf_overflowed(&s));
	return text;
}

/*
 * Catching a panic the test provokes on purpose: the handler longjmps back
 * into PA_EXPECT_PANIC, which fails the test if the statement returned.
 */
static jmp_buf pa_panic_env;
static char pa_panic_message[512];

static inline void pa_panic_handler(const char *message)
{
	snprintf(pa_panic_message, sizeof(pa_panic_message), "%s", message);
	longjmp(pa_panic_env, 1);
}

#define PA_EXPECT_PANIC(stmt, needle)                                         \
	do {                                                                  \
		pa_panic_message[0] = '\0';                                   \
		emu_set_panic_handler(pa_panic_handler);                      \
		if (setjmp(pa_panic_env) == 0) {                              \
			stmt;                                                 \
			emu_set_panic_handler(NULL);                          \
			fail_msg("%s did not panic", #stmt);                  \
		}                                                             \
		emu_set_panic_handler(NULL);                                  \
		if (!strstr(pa_panic_message, needle))                        \
			fail_msg("panic \"%s\" does not mention \"%s\"",      \
				 pa_panic_message, needle);                   \
	} while (0)

/* xorshift64*: the tests' own generator, one state per thread. */
static inline uint64_t pa_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static inline unsigned int pa_rand_below(uint64_t *state, unsigned int n)
{
	return (unsigned int)((pa_rand(state) >> 11) % n);
}

/* Is the frame at pfn wholly RAM with no byte of it reserved? */
static inline bool pa_frame_is_free_ram(unsigned long pfn)
{
	phys_addr_t pa = PFN_PHYS(pfn);

	return memblock_memory_in(pa, pa + PAGE_SIZE) == PAGE_SIZE &&
	       memblock_reserved_in(pa, pa + PAGE_SIZE) == 0;
}

/* The frames boot should have released to the buddy allocator. */
static inline unsigned long pa_memblock_free_pages(void)
{
	unsigned long pages = 0;

	for (unsigned long pfn = 0; pfn < max_pfn; pfn++)
		pages += pa_frame_is_free_ram(pfn);
	return pages;
}

/* A stamp written into an allocated page, to detect two owners of one frame. */
static inline uint64_t pa_stamp(unsigned long pfn, uint64_t salt)
{
	return (pfn * 0x9e3779b97f4a7c15ULL) ^ salt;
}

/* Blocks a test holds, to free them all at the end. */
struct pa_held {
	struct page *page;
	unsigned int order;
};

struct pa_list {
	struct pa_held *v;
	size_t n, cap;
};

static inline void pa_push(struct pa_list *l, struct page *page, unsigned int order)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 1024;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		assert_non_null(l->v);
	}
	l->v[l->n++] = (struct pa_held){ page, order };
}

static inline unsigned long pa_list_pages(const struct pa_list *l)
{
	unsigned long pages = 0;

	for (size_t i = 0; i < l->n; i++)
		pages += 1UL << l->v[i].order;
	return pages;
}

/* Frees every held block (newest first) and forgets them. */
static inline void pa_free_all(struct pa_list *l)
{
	while (l->n) {
		l->n--;
		__free_pages(l->v[l->n].page, l->v[l->n].order);
	}
}

static inline void pa_list_destroy(struct pa_list *l)
{
	pa_free_all(l);
	free(l->v);
	*l = (struct pa_list){ 0 };
}

/* Allocates order-`order` blocks with gfp until one fails; returns how many. */
static inline unsigned long pa_alloc_until_fail(struct pa_list *l, gfp_t gfp,
						unsigned int order)
{
	unsigned long n = 0;
	struct page *page;

	while ((page = alloc_pages(gfp | __GFP_NOWARN, order))) {
		pa_push(l, page, order);
		n++;
	}
	return n;
}

/* floor(sqrt(x)), as the kernel's int_sqrt. */
static inline unsigned long pa_isqrt(unsigned long x)
{
	unsigned long r = 0;

	while ((r + 1) * (r + 1) <= x)
		r++;
	return r;
}

#endif
