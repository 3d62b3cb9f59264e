/*
 * Swap areas (mm/swapfile.c) on a machine whose root is a temporary host
 * directory: the header kmm writes is Linux's (checked byte by byte on the
 * host), swapon refuses every malformed header with EINVAL and leaks
 * nothing, slots come in cluster order per CPU, counts follow duplicate
 * and free, pages written to a slot read back, priorities order the areas,
 * bad pages are never handed out, I/O errors come back as errors, and
 * swapoff refuses while a slot is in use. swap_check runs after each step;
 * every frame is back at the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kmm/emu.h>
#include <kmm/errno.h>
#include <kmm/kmm.h>
#include <kmm/page_alloc.h>
#include <kmm/shrinker.h>
#include <kmm/slab.h>
#include <kmm/swap.h>
#include <kmm/vmstat.h>

#include "helpers.h"

#define MACHINE (64ULL << 20)
#define PG 4096

static char root[256];
static unsigned long base_free;

static unsigned long settled_free(void)
{
	shrink_slab(GFP_KERNEL, 0);
	drain_all_pages();
	return nr_free_pages();
}

static void host_path(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s%s", root, name);
}

static int setup(void **state)
{
	struct emu_config cfg;

	snprintf(root, sizeof(root), "/tmp/kmm-swap-XXXXXX");
	assert_non_null(mkdtemp(root));
	th_config(&cfg, MACHINE, 2, EMU_DET);
	snprintf(cfg.root, sizeof(cfg.root), "%s", root);
	cfg.root_rw = true;
	th_boot_cfg(&cfg);
	base_free = settled_free();
	return 0;
}

static int teardown(void **state)
{
	DIR *d = opendir(root);
	struct dirent *e;

	emu_fs_fail_clear();
	swapoff_all();
	assert_int_equal(settled_free(), base_free);
	th_shutdown();
	while (d && (e = readdir(d))) {
		char p[512];

		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof(p), "%s/%s", root, e->d_name);
			unlink(p);
		}
	}
	if (d)
		closedir(d);
	rmdir(root);
	return 0;
}

static void read_host(const char *name, unsigned char *buf, size_t len, long off)
{
	char p[512];
	FILE *f;

	host_path(p, sizeof(p), name);
	f = fopen(p, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, off, SEEK_SET), 0);
	assert_int_equal(fread(buf, 1, len, f), len);
	fclose(f);
}

static void write_host(const char *name, const unsigned char *buf, size_t len, long off)
{
	char p[512];
	FILE *f;

	host_path(p, sizeof(p), name);
	f = fopen(p, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, off, SEEK_SET), 0);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static unsigned long swap_kb(const char *field)
{
	unsigned long v = 0;

	assert_int_equal(kmm_stat(field, &v), 0);
	return v;
}

/* The header is Linux's: magic at the end of page 0, version 1, last_page. */
static void test_format_is_linux_header(void **state)
{
	unsigned char hdr[PG];
	struct stat st;
	char p[512];

	assert_int_equal(swap_format("/swap", 4 << 20), 0);
	host_path(p, sizeof(p), "/swap");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 4 << 20);
	read_host("/swap", hdr, PG, 0);
	assert_memory_equal(hdr + PG - 10, "SWAPSPACE2", 10);
	assert_int_equal(le32(hdr + 1024), 1);
	assert_int_equal(le32(hdr + 1028), (4 << 20) / PG - 1);
	assert_int_equal(le32(hdr + 1032), 0);
	assert_int_equal(swap_format("/odd", 4 * PG + 1), -KMM_EINVAL);
	assert_int_equal(swap_format("/tiny", PG), -KMM_EINVAL);
}

static void test_swapon_counts(void **state)
{
	unsigned long total, free;
	char text[1024];
	struct seq_buf s;

	assert_int_equal(swap_format("/swap", 4 << 20), 0);
	assert_int_equal(swapon("/swap", -1), 0);
	si_swapinfo(&total, &free);
	assert_int_equal(total, 1023);    /* the header's page is not swap */
	assert_int_equal(free, 1023);
	assert_int_equal(swap_kb("SwapTotal"), 1023 * 4);
	assert_int_equal(swap_kb("SwapFree"), 1023 * 4);
	seq_buf_init(&s, text, sizeof(text));
	swaps_show(&s, 0);
	assert_non_null(strstr(text, "/swap"));
	assert_non_null(strstr(text, "4092"));
	assert_int_equal(swapon("/swap", -1), -KMM_EBUSY);
	swap_check();
	assert_int_equal(swapoff("/swap"), 0);
	assert_int_equal(swapoff("/swap"), -KMM_EINVAL);
	assert_int_equal(swap_kb("SwapTotal"), 0);
}

/* Every malformed header is refused with EINVAL and leaves nothing behind. */
static void test_bad_headers(void **state)
{
	unsigned char hdr[PG], bad[PG];

	assert_int_equal(swapon("/missing", -1), -KMM_ENOENT);
	assert_int_equal(swap_format("/swap", 16 * PG), 0);
	read_host("/swap", hdr, PG, 0);

	memcpy(bad, hdr, PG);
	memcpy(bad + PG - 10, "SWAP-SPACE", 10);      /* the old v0 magic */
	write_host("/swap", bad, PG, 0);
	assert_int_equal(swapon("/swap", -1), -KMM_EINVAL);

	memcpy(bad, hdr, PG);
	put32(bad + 1024, 2);                         /* version */
	write_host("/swap", bad, PG, 0);
	assert_int_equal(swapon("/swap", -1), -KMM_EINVAL);

	memcpy(bad, hdr, PG);
	put32(bad + 1028, 16);                        /* last_page past the file */
	write_host("/swap", bad, PG, 0);
	assert_int_equal(swapon("/swap", -1), -KMM_EINVAL);

	memcpy(bad, hdr, PG);
	put32(bad + 1028, 0);                         /* no usable page */
	write_host("/swap", bad, PG, 0);
	assert_int_equal(swapon("/swap", -1), -KMM_EINVAL);

	memcpy(bad, hdr, PG);
	put32(bad + 1032, 100000);                    /* more bad pages than fit */
	write_host("/swap", bad, PG, 0);
	assert_int_equal(swapon("/swap", -1), -KMM_EINVAL);

	memcpy(bad, hdr, PG);
	put32(bad + 1032, 1);
	put32(bad + 1536, 99);                        /* a bad page outside */
	write_host("/swap", bad, PG, 0);
	assert_int_equal(swapon("/swap", -1), -KMM_EINVAL);

	/* Shorter than a header. */
	{
		char p[512];

		host_path(p, sizeof(p), "/short");
		FILE *f = fopen(p, "wb");

		assert_non_null(f);
		fputs("SWAPSPACE2", f);
		fclose(f);
	}
	assert_int_equal(swapon("/short", -1), -KMM_EINVAL);
	assert_int_equal(swap_kb("SwapTotal"), 0);
	assert_int_equal(emu_fs_open_files(), 0);
}

/* One CPU's slots come in order from its cluster; another CPU gets its own
   cluster; counts follow duplicate and free. */
static void test_slots_and_counts(void **state)
{
	swp_entry_t e[300], other;

	assert_int_equal(swap_format("/swap", 4 << 20), 0);
	assert_int_equal(swapon("/swap", -1), 0);
	emu_set_cpu(0);
	for (int i = 0; i < 300; i++) {
		e[i] = get_swap_page();
		assert_int_not_equal(e[i].val, 0);
		assert_int_equal(swap_count(e[i]), 1);
		if (i)
			assert_int_equal(swp_offset(e[i]), swp_offset(e[i - 1]) + 1);
	}
	emu_set_cpu(1);
	other = get_swap_page();
	emu_set_cpu(0);
	assert_int_equal(swp_offset(other) % SWAP_CLUSTER_SLOTS, 0);   /* a cluster of its own */
	assert_true(swp_offset(other) > swp_offset(e[299]));
	assert_int_equal(swap_kb("SwapFree"), (1023 - 301) * 4);

	assert_int_equal(swap_duplicate(e[5]), 0);
	assert_int_equal(swap_count(e[5]), 2);
	swap_free(e[5]);
	assert_int_equal(swap_count(e[5]), 1);
	swap_check();
	for (int i = 0; i < 300; i++)
		swap_free(e[i]);
	assert_int_equal(swap_count(e[0]), 0);
	assert_int_equal(swap_duplicate(e[0]), -KMM_EINVAL);   /* free: no reference */
	assert_int_equal(swapoff("/swap"), -KMM_EBUSY);      /* other is in use */
	swap_free(other);
	swap_check();
	assert_int_equal(swap_count(swp_entry(0, 0)), -KMM_EINVAL);      /* the header */
	assert_int_equal(swap_count(swp_entry(0, 1024)), -KMM_EINVAL);   /* past the end */
	assert_int_equal(swap_count(swp_entry(7, 1)), -KMM_EINVAL);      /* no area */
	TH_EXPECT_PANIC(swap_free(other), "already free");
	assert_int_equal(swapoff("/swap"), 0);
}

/* All slots, then none; freeing one makes exactly it available again. */
static void test_full_area(void **state)
{
	swp_entry_t *e = calloc(40, sizeof(*e)), last;

	assert_int_equal(swap_format("/swap", 40 * PG), 0);
	assert_int_equal(swapon("/swap", -1), 0);
	for (int i = 0; i < 39; i++) {
		e[i] = get_swap_page();
		assert_int_not_equal(e[i].val, 0);
	}
	assert_int_equal(get_swap_page().val, 0);
	swap_free(e[17]);
	last = get_swap_page();
	assert_int_equal(last.val, e[17].val);
	assert_int_equal(get_swap_page().val, 0);
	swap_check();
	for (int i = 0; i < 39; i++)
		swap_free(e[i]);
	free(e);
	assert_int_equal(swapoff("/swap"), 0);
}

/* Bad pages listed in the header are never handed out. */
static void test_bad_pages_skipped(void **state)
{
	unsigned char hdr[PG];
	swp_entry_t e[8];

	assert_int_equal(swap_format("/swap", 10 * PG), 0);
	read_host("/swap", hdr, PG, 0);
	put32(hdr + 1032, 2);
	put32(hdr + 1536, 3);
	put32(hdr + 1540, 4);
	write_host("/swap", hdr, PG, 0);
	assert_int_equal(swapon("/swap", -1), 0);
	assert_int_equal(swap_kb("SwapTotal"), 7 * 4);
	for (int i = 0; i < 7; i++) {
		e[i] = get_swap_page();
		assert_int_not_equal(e[i].val, 0);
		assert_int_not_equal(swp_offset(e[i]), 3);
		assert_int_not_equal(swp_offset(e[i]), 4);
	}
	assert_int_equal(get_swap_page().val, 0);
	swap_check();
	for (int i = 0; i < 7; i++)
		swap_free(e[i]);
	assert_int_equal(swapoff("/swap"), 0);
}

/* Pages go to their slot in the host file and come back. */
static void test_page_io(void **state)
{
	struct page *out = alloc_pages(GFP_KERNEL, 0), *in = alloc_pages(GFP_KERNEL, 0);
	unsigned char host[PG];
	swp_entry_t e;
	unsigned long pswpout = vm_event_sum(PSWPOUT);

	assert_int_equal(swap_format("/swap", 64 * PG), 0);
	assert_int_equal(swapon("/swap", -1), 0);
	e = get_swap_page();
	for (int i = 0; i < PG; i++)
		((unsigned char *)page_address(out))[i] = (unsigned char)(i * 7 + 3);
	assert_int_equal(swap_writepage(out, e), 0);
	assert_int_equal(vm_event_sum(PSWPOUT), pswpout + 1);
	read_host("/swap", host, PG, (long)swp_offset(e) * PG);
	assert_memory_equal(host, page_address(out), PG);
	memset(page_address(in), 0, PG);
	assert_int_equal(swap_readpage(in, e), 0);
	assert_memory_equal(page_address(in), page_address(out), PG);

	/* An I/O error is an error, not a silent loss. */
	assert_int_equal(emu_fs_fail("/swap", EMU_FS_WRITE, 1, 1, -KMM_EIO), 0);
	assert_int_equal(swap_writepage(out, e), -KMM_EIO);
	assert_int_equal(emu_fs_fail("/swap", EMU_FS_READ, 1, 1, -KMM_EIO), 0);
	assert_int_equal(swap_readpage(in, e), -KMM_EIO);
	emu_fs_fail_clear();
	swap_free(e);
	assert_int_equal(swap_writepage(out, e), -KMM_EINVAL);   /* a free slot */
	__free_pages(out, 0);
	__free_pages(in, 0);
	assert_int_equal(swapoff("/swap"), 0);
}

/* The higher priority area is used first; an area given none goes below. */
static void test_priorities(void **state)
{
	swp_entry_t a, b;

	assert_int_equal(swap_format("/low", 16 * PG), 0);
	assert_int_equal(swap_format("/high", 16 * PG), 0);
	assert_int_equal(swapon("/low", -1), 0);
	assert_int_equal(swapon("/high", 5), 0);
	a = get_swap_page();
	b = get_swap_page();
	assert_int_equal(swp_type(a), swp_type(b));
	/* The area of /high is the second one switched on. */
	assert_int_equal(swp_type(a), 1);
	swap_free(a);
	swap_free(b);
	assert_int_equal(swapoff("/low"), 0);
	assert_int_equal(swapoff("/high"), 0);
	for (int i = 0; i < MAX_SWAPFILES; i++) {
		char name[16];

		snprintf(name, sizeof(name), "/s%d", i);
		assert_int_equal(swap_format(name, 4 * PG), 0);
		assert_int_equal(swapon(name, -1), 0);
	}
	assert_int_equal(swap_format("/one-too-many", 4 * PG), 0);
	assert_int_equal(swapon("/one-too-many", -1), -KMM_EPERM);
	swap_check();
}

/* The swap-entry encoding survives a trip through a PTE. */
static void test_entry_encoding(void **state)
{
	swp_entry_t e = swp_entry(5, 123456789), back;
	pteval_t pte = swp_entry_to_pte(e);

	assert_false(pte & 1);           /* not present */
	assert_int_not_equal(pte, 0);
	back = pte_to_swp_entry(pte);
	assert_int_equal(back.val, e.val);
	assert_int_equal(swp_type(back), 5);
	assert_int_equal(swp_offset(back), 123456789);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_format_is_linux_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_swapon_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slots_and_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_area, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_pages_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_page_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_priorities, setup, teardown),
		cmocka_unit_test(test_entry_encoding),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
