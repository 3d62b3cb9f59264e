/*
 * The page-replacement simulators of tools/kmm/policy.c (host code): the
 * textbook strings with their hand-computed fault counts (OPT, LRU, FIFO,
 * CLOCK), Belady's anomaly under FIFO, a loop, and on random strings the
 * invariants every correct simulator keeps (OPT <= every other policy,
 * faults >= distinct pages, OPT and LRU never worse with more frames) and
 * agreement with naive O(n * frames) versions of OPT and LRU written here
 * independently. Also the synthetic strings and the trace round trip.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"

static void load(struct refstring *s, const unsigned int *pages, size_t n)
{
	refstring_init(s);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(refstring_add(s, pages[i], 0), 0);
	assert_int_equal(refstring_check(s), 0);
}

#define LOAD(s, ...)                                                         \
	do {                                                                 \
		static const unsigned int p_[] = { __VA_ARGS__ };            \
		load(s, p_, sizeof(p_) / sizeof(p_[0]));                     \
	} while (0)

/* Silberschatz's string: 20 references to 6 pages. */
static void test_textbook(void **state)
{
	struct refstring s;

	(void)state;
	LOAD(&s, 7, 0, 1, 2, 0, 3, 0, 4, 2, 3, 0, 3, 2, 1, 2, 0, 1, 7, 0, 1);
	assert_int_equal(s.n, 20);
	assert_int_equal(s.distinct, 6);
	assert_int_equal(policy_faults(POLICY_OPT, &s, 3), 9);
	assert_int_equal(policy_faults(POLICY_LRU, &s, 3), 12);
	assert_int_equal(policy_faults(POLICY_FIFO, &s, 3), 15);
	/* worked by hand: new pages enter with the bit set, the hand moves
	   past the frame it filled */
	assert_int_equal(policy_faults(POLICY_CLOCK, &s, 3), 14);
	/* enough frames: only the cold faults */
	for (int p = 0; p < NR_POLICIES; p++) {
		assert_int_equal(policy_faults((enum policy)p, &s, 6), 6);
		assert_int_equal(policy_faults((enum policy)p, &s, 100), 6);
		/* one frame: every change of page faults */
		assert_int_equal(policy_faults((enum policy)p, &s, 1), 20);
	}
	refstring_free(&s);
}

/* 1 2 3 4 1 2 5 1 2 3 4 5: FIFO faults more with 4 frames than with 3. */
static void test_belady_anomaly(void **state)
{
	struct refstring s;

	(void)state;
	LOAD(&s, 1, 2, 3, 4, 1, 2, 5, 1, 2, 3, 4, 5);
	assert_int_equal(policy_faults(POLICY_FIFO, &s, 3), 9);
	assert_int_equal(policy_faults(POLICY_FIFO, &s, 4), 10);
	assert_int_equal(policy_faults(POLICY_OPT, &s, 3), 7);
	assert_int_equal(policy_faults(POLICY_OPT, &s, 4), 6);
	assert_int_equal(policy_faults(POLICY_LRU, &s, 3), 10);
	assert_int_equal(policy_faults(POLICY_LRU, &s, 4), 8);
	refstring_free(&s);
}

/* A loop over one page more than the frames: the recency policies fault at
   every reference, OPT about once a lap per frame short. */
static void test_loop(void **state)
{
	struct refstring s;

	(void)state;
	LOAD(&s, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3);
	assert_int_equal(policy_faults(POLICY_OPT, &s, 3), 6);
	assert_int_equal(policy_faults(POLICY_LRU, &s, 3), 12);
	assert_int_equal(policy_faults(POLICY_CLOCK, &s, 3), 12);
	assert_int_equal(policy_faults(POLICY_FIFO, &s, 3), 12);
	refstring_free(&s);

	refstring_init(&s);
	assert_int_equal(synth_generate(&s, SYNTH_LOOP, 101, 101 * 50, 1), 0);
	assert_int_equal(s.distinct, 101);
	assert_int_equal(s.n, 101 * 50);
	assert_int_equal(policy_faults(POLICY_LRU, &s, 100), 101 * 50);
	assert_int_equal(policy_faults(POLICY_CLOCK, &s, 100), 101 * 50);
	assert_true(policy_faults(POLICY_OPT, &s, 100) < 101 * 50 / 10);
	refstring_free(&s);
}

/* ---- Independent naive simulators ---- */

static uint64_t naive_opt(const struct refstring *s, size_t frames)
{
	uint32_t *held = calloc(frames, sizeof(*held));
	size_t nheld = 0;
	uint64_t faults = 0;

	for (size_t i = 0; i < s->n; i++) {
		size_t j, victim = 0, far = 0;

		for (j = 0; j < nheld && held[j] != s->ids[i]; j++)
			;
		if (j < nheld)
			continue;
		faults++;
		if (nheld < frames) {
			held[nheld++] = s->ids[i];
			continue;
		}
		for (j = 0; j < nheld; j++) {
			size_t k;

			for (k = i + 1; k < s->n && s->ids[k] != held[j]; k++)
				;
			if (k > far) {
				far = k;
				victim = j;
			}
		}
		held[victim] = s->ids[i];
	}
	free(held);
	return faults;
}

static uint64_t naive_lru(const struct refstring *s, size_t frames)
{
	uint32_t *held = calloc(frames, sizeof(*held));
	size_t *last = calloc(frames, sizeof(*last));
	size_t nheld = 0;
	uint64_t faults = 0;

	for (size_t i = 0; i < s->n; i++) {
		size_t j, victim = 0;

		for (j = 0; j < nheld && held[j] != s->ids[i]; j++)
			;
		if (j == nheld) {
			faults++;
			if (nheld < frames) {
				j = nheld++;
			} else {
				for (size_t k = 1; k < nheld; k++)
					if (last[k] < last[victim])
						victim = k;
				j = victim;
			}
			held[j] = s->ids[i];
		}
		last[j] = i;
	}
	free(held);
	free(last);
	return faults;
}

static void random_string(struct refstring *s, uint64_t seed, size_t n, size_t pages)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;

	refstring_init(s);
	for (size_t i = 0; i < n; i++) {
		/* a mix of a hot quarter and the rest, so policies differ */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		size_t p = (x >> 3) % 4 ? (x >> 8) % (pages / 4 + 1) : (x >> 8) % pages;

		assert_int_equal(refstring_add(s, 1000 + p * 7, (int)(seed & 1)), 0);
	}
	assert_int_equal(refstring_check(s), 0);
}

static void test_invariants_random(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 12; seed++) {
		struct refstring s;
		uint64_t prev_opt = UINT64_MAX, prev_lru = UINT64_MAX;

		random_string(&s, seed, 400 + seed * 37, 10 + seed * 5);
		for (size_t k = 1; k <= s.distinct + 1; k++) {
			uint64_t opt = policy_faults(POLICY_OPT, &s, k);
			uint64_t lru = policy_faults(POLICY_LRU, &s, k);
			uint64_t clock = policy_faults(POLICY_CLOCK, &s, k);
			uint64_t fifo = policy_faults(POLICY_FIFO, &s, k);

			assert_int_equal(opt, naive_opt(&s, k));
			assert_int_equal(lru, naive_lru(&s, k));
			assert_true(opt <= lru);
			assert_true(opt <= clock);
			assert_true(opt <= fifo);
			assert_true(opt >= s.distinct);
			assert_true(lru <= s.n && clock <= s.n && fifo <= s.n);
			assert_true(opt <= prev_opt);
			assert_true(lru <= prev_lru);
			if (k >= s.distinct) {
				assert_int_equal(opt, s.distinct);
				assert_int_equal(lru, s.distinct);
				assert_int_equal(clock, s.distinct);
				assert_int_equal(fifo, s.distinct);
			}
			prev_opt = opt;
			prev_lru = lru;
		}
		refstring_free(&s);
	}
}

/* Dropping a repeat of the previous page changes no count. */
static void test_collapse(void **state)
{
	static const unsigned int pages[] = { 5, 5, 5, 9, 9, 5, 2, 2, 9, 5, 5, 1, 2 };
	struct refstring full, col;

	(void)state;
	load(&full, pages, sizeof(pages) / sizeof(pages[0]));
	refstring_init(&col);
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
		assert_int_equal(refstring_add(&col, pages[i], 1), 0);
	assert_int_equal(refstring_check(&col), 0);
	assert_int_equal(col.n, 8);
	assert_int_equal(col.distinct, 4);
	/* ids in order of first use */
	assert_int_equal(col.ids[0], 0);
	assert_int_equal(col.ids[1], 1);
	assert_int_equal(col.ids[3], 2);
	for (int p = 0; p < NR_POLICIES; p++)
		for (size_t k = 1; k <= 5; k++)
			assert_int_equal(policy_faults((enum policy)p, &full, k),
					 policy_faults((enum policy)p, &col, k));
	refstring_free(&full);
	refstring_free(&col);
}

static void test_bad_arguments(void **state)
{
	struct refstring s;
	char err[256] = "";

	(void)state;
	LOAD(&s, 1, 2, 3);
	assert_true(policy_faults(POLICY_OPT, &s, 0) == UINT64_MAX);
	assert_true(policy_faults(NR_POLICIES, &s, 3) == UINT64_MAX);
	refstring_free(&s);
	refstring_init(&s);
	assert_int_equal(policy_faults(POLICY_LRU, &s, 3), 0);  /* empty string */
	assert_int_equal(synth_generate(&s, SYNTH_ZIPF, 1, 10, 1), -1);
	assert_int_equal(synth_generate(&s, NR_SYNTH, 10, 10, 1), -1);
	assert_int_equal(refstring_from_trace(&s, "/nonexistent/x.trace", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "x.trace"));
	refstring_free(&s);
	assert_int_equal(synth_by_name("zipf"), SYNTH_ZIPF);
	assert_int_equal(synth_by_name("nope"), -1);
	assert_string_equal(policy_name(POLICY_CLOCK), "clock");
}

static void test_synthetic(void **state)
{
	struct refstring a, b;
	size_t hot_refs = 0;

	(void)state;
	/* the same seed, the same string; another seed, another one */
	refstring_init(&a);
	refstring_init(&b);
	assert_int_equal(synth_generate(&a, SYNTH_ZIPF, 1000, 20000, 7), 0);
	assert_int_equal(synth_generate(&b, SYNTH_ZIPF, 1000, 20000, 7), 0);
	assert_int_equal(a.n, 20000);
	assert_true(a.distinct <= 1000 && a.distinct > 500);
	assert_memory_equal(a.ids, b.ids, a.n * sizeof(*a.ids));
	refstring_free(&b);
	refstring_init(&b);
	assert_int_equal(synth_generate(&b, SYNTH_ZIPF, 1000, 20000, 8), 0);
	assert_true(memcmp(a.ids, b.ids, a.n * sizeof(*a.ids)) != 0);
	/* Zipf: the most popular page (id 0 is not necessarily it) takes about
	   1/H(1000) = 13% of the references */
	{
		size_t *count = calloc(a.distinct, sizeof(*count)), top = 0;

		for (size_t i = 0; i < a.n; i++)
			count[a.ids[i]]++;
		for (size_t i = 0; i < a.distinct; i++)
			top = count[i] > top ? count[i] : top;
		assert_true(top > a.n / 10 && top < a.n / 6);
		free(count);
	}
	refstring_free(&a);
	refstring_free(&b);

	/* scan: a hot quarter of the pages gets 4/5 of the references */
	refstring_init(&a);
	assert_int_equal(synth_generate(&a, SYNTH_SCAN, 400, 20000, 1), 0);
	assert_int_equal(a.n, 20000);
	assert_int_equal(a.distinct, 400);
	for (size_t i = 0; i < a.n; i++)
		hot_refs += a.ids[i] < 100;
	assert_true(hot_refs >= a.n * 3 / 4);
	/* with the hot set plus a little held, OPT keeps the hot set through
	   the scans (its faults are mostly the scans' own); LRU loses it to
	   every scan (here about twice OPT's faults) */
	assert_true(policy_faults(POLICY_OPT, &a, 125) * 3 < policy_faults(POLICY_LRU, &a, 125) * 2);
	refstring_free(&a);
}

/* A string written as a kmm trace reads back the same. */
static void test_trace_round_trip(void **state)
{
	char dir[] = "/tmp/kmm-policy.XXXXXX", path[300], err[256];
	const char *names[] = { "s.trace", "s.trace.gz" };
	struct refstring a, b, col;

	(void)state;
	assert_non_null(mkdtemp(dir));
	refstring_init(&a);
	refstring_init(&col);
	assert_int_equal(synth_generate(&a, SYNTH_SCAN, 64, 3000, 3), 0);
	for (size_t i = 0; i < a.n; i++)
		assert_int_equal(refstring_add(&col, a.ids[i], 1), 0);
	/* random hot pages repeat now and then: the reader collapses them */
	assert_true(col.n < a.n);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		assert_int_equal(refstring_write_trace(&a, path, 0x10000, err, sizeof(err)), 0);
		refstring_init(&b);
		assert_int_equal(refstring_from_trace(&b, path, err, sizeof(err)), 0);
		assert_int_equal(b.n, col.n);
		assert_int_equal(b.distinct, a.distinct);
		assert_memory_equal(col.ids, b.ids, col.n * sizeof(*b.ids));
		for (int p = 0; p < NR_POLICIES; p++)
			assert_int_equal(policy_faults((enum policy)p, &a, 20),
					 policy_faults((enum policy)p, &b, 20));
		refstring_free(&b);
		unlink(path);
	}
	/* a malformed trace: the reader's line and reason */
	snprintf(path, sizeof(path), "%s/bad.trace", dir);
	{
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fputs("R 0x1000\nQ 0x2000\n", f);
		fclose(f);
	}
	refstring_init(&b);
	assert_int_equal(refstring_from_trace(&b, path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad.trace:2:"));
	refstring_free(&b);
	unlink(path);
	refstring_free(&a);
	refstring_free(&col);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_textbook),
		cmocka_unit_test(test_belady_anomaly),
		cmocka_unit_test(test_loop),
		cmocka_unit_test(test_invariants_random),
		cmocka_unit_test(test_collapse),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_synthetic),
		cmocka_unit_test(test_trace_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
