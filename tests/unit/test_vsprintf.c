/*
 * The core's freestanding kmm_vsnprintf, compared with the host's snprintf
 * on every conversion and flag the core uses, plus truncation and seq_buf.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include <kmm/gfp.h>
#include <kmm/printk.h>

#define SAME(...)                                                   \
	do {                                                        \
		char ours[256], host[256];                          \
		int n1 = kmm_snprintf(ours, sizeof(ours), __VA_ARGS__); \
		int n2 = snprintf(host, sizeof(host), __VA_ARGS__); \
		assert_string_equal(ours, host);                    \
		assert_int_equal(n1, n2);                           \
	} while (0)

static void test_conversions_match_host(void **state)
{
	SAME("%d %i %u", -42, 17, 4000000000u);
	SAME("%ld %lu %lld %llu", -1L, 123456789012UL, -9223372036854775807LL - 1,
	     18446744073709551615ULL);
	SAME("%x %X %#x %#018llx %o", 0xbeef, 0xbeef, 255, 0x9fc00ULL, 8);
	SAME("[%8s] [%-8s] [%.3s] [%c]", "DMA", "DMA32", "Normal", 'x');
	SAME("[%6lu ] [%-6d] [%06d] [%+d] [% d]", 12UL, 5, -42, 3, 3);
	SAME("[%*d] [%-*d] [%.*s]", 5, 1, 5, 2, 2, "abc");
	SAME("%zu %zd %hhu %hd", (size_t)7, (ptrdiff_t)-7, 300, 70000);
	SAME("%%%s", "done");
	SAME("%5.3d|%.0d|", 7, 0);
}

static void test_truncation_and_seq_buf(void **state)
{
	char small[8];
	char text[16];
	struct seq_buf s;

	assert_int_equal(kmm_snprintf(small, sizeof(small), "%s", "0123456789"), 10);
	assert_string_equal(small, "0123456");
	assert_int_equal(kmm_snprintf(NULL, 0, "%d", 12345), 5);

	seq_buf_init(&s, text, sizeof(text));
	seq_printf(&s, "%s", "hello ");
	assert_false(seq_buf_overflowed(&s));
	seq_printf(&s, "%s", "world, long line");
	assert_true(seq_buf_overflowed(&s));
	assert_int_equal(s.len, strlen("hello world, long line"));
	assert_string_equal(text, "hello world, lo");
}

static void test_gfp_round_trip(void **state)
{
	gfp_t gfp;
	char text[128];

	assert_int_equal(gfp_parse("GFP_KERNEL|__GFP_ZERO", &gfp), 0);
	assert_int_equal(gfp, GFP_KERNEL | __GFP_ZERO);
	gfp_format(gfp, text, sizeof(text));
	assert_string_equal(text, "GFP_KERNEL|__GFP_ZERO");
	assert_int_equal(gfp_parse("highuser_movable", &gfp), 0);
	assert_int_equal(gfp, GFP_HIGHUSER_MOVABLE);
	assert_int_equal(gfp_parse("dma, nowarn", &gfp), 0);
	assert_int_equal(gfp, __GFP_DMA | __GFP_NOWARN);
	assert_int_not_equal(gfp_parse("GFP_BOGUS", &gfp), 0);
	assert_int_not_equal(gfp_parse("", &gfp), 0);
	gfp_format(0, text, sizeof(text));
	assert_string_equal(text, "0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conversions_match_host),
		cmocka_unit_test(test_truncation_and_seq_buf),
		cmocka_unit_test(test_gfp_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
