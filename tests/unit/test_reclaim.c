/*
 * Page-frame reclaim and swap (mm/vmscan.c, mm/swap.c, mm/swap_state.c,
 * mm/rmap.c, mm/oom.c) on deterministic machines smaller than the memory
 * their tasks use, with a swap file in a temporary host root:
 *
 *  - a working set larger than RAM goes through swap and comes back with
 *    every byte right (each page compared in full with what was written),
 *    under three seeds that change the order pages are touched in;
 *  - fork after swap-out shares slots (counts 2), copy-on-write keeps
 *    parent and child apart through more swap-outs, and the child's exit
 *    gives its slot counts back;
 *  - swapoff brings every page back into every page table that names it;
 *  - a failed swap write keeps the page in memory with its data; a failed
 *    swap read ends the faulting task with SIGBUS and nothing else;
 *  - shared file pages dirtied through a mapping larger than RAM are
 *    written back by reclaim and never lost (the host file is checked);
 *  - a file read twice stays cached through a read of a file larger than
 *    RAM (active and inactive lists);
 *  - kswapd, run as the work item the allocator queued, frees memory;
 *  - the OOM killer kills the task with the largest badness (never one
 *    with oom_score_adj -1000), logs it as Linux does, and the machine
 *    goes on with every invariant.
 * After each test every slot is free, the swap cache empty, and every
 * frame back. mm_rmap_check checks each slot's count against the entries
 * naming it, so "slot counts right" is checked at every step.
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
#include <unistd.h>

#include <kmm/emu.h>
#include <kmm/errno.h>
#include <kmm/fs.h>
#include <kmm/kmm.h>
#include <kmm/mm.h>
#include <kmm/mman.h>
#include <kmm/page_alloc.h>
#include <kmm/shrinker.h>
#include <kmm/slab.h>
#include <kmm/swap.h>
#include <kmm/vmstat.h>

#include "helpers.h"

#define MACHINE (32 * MiB)
#define PG PAGE_SIZE
#define PRIV (KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS)
#define RW (KMM_PROT_READ | KMM_PROT_WRITE)
#define SWAP_BYTES (96 * MiB)

static char root[256];
static unsigned long base_free;

static unsigned long settled_free(void)
{
	shrink_slab(GFP_KERNEL, 0);
	drain_all_pages();
	return nr_free_pages();
}

static void boot_seed(uint64_t seed)
{
	struct emu_config cfg;

	th_config(&cfg, MACHINE, 2, EMU_DET);
	cfg.seed = seed;
	snprintf(cfg.root, sizeof(cfg.root), "%s", root);
	cfg.root_rw = true;
	th_boot_cfg(&cfg);
	base_free = settled_free();
}

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/kmm-reclaim-XXXXXX");
	assert_non_null(mkdtemp(root));
	boot_seed(1);
	return 0;
}

static int teardown(void **state)
{
	DIR *d = opendir(root);
	struct dirent *e;

	th_teardown(state);
	emu_fs_fail_clear();
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

static unsigned long stat_of(const char *name)
{
	unsigned long v = 0;

	assert_int_equal(kmm_stat(name, &v), 0);
	return v;
}

static void swap_on(void)
{
	assert_int_equal(swap_format("/swap", SWAP_BYTES), 0);
	assert_int_equal(swapon("/swap", -1), 0);
}

/* No task left: every slot free, the swap cache empty, then every frame back. */
static void assert_all_back(void)
{
	kmm_check();
	assert_int_equal(task_count(), 0);
	assert_int_equal(stat_of("SwapCached"), 0);
	assert_int_equal(stat_of("SwapFree"), stat_of("SwapTotal"));
	if (stat_of("SwapTotal"))
		assert_int_equal(swapoff("/swap"), 0);
	drop_caches();
	assert_int_equal(settled_free(), base_free);
}

static struct task *spawn(const char *name)
{
	struct task *t;

	assert_int_equal(task_spawn(name, &t), 0);
	return t;
}

static struct task *fork_of(struct task *p)
{
	struct task *c;

	assert_int_equal(task_fork(p, &c), 0);
	return c;
}

static void finish(struct task *t)
{
	task_exit(t, 0);
	task_release(t);
}

static uintptr_t map(struct task *t, size_t len)
{
	long a = sys_mmap(t, 0, len, RW, PRIV, -1, 0);

	assert_true(a > 0);
	return (uintptr_t)a;
}

/* The bytes page i of generation gen holds: xorshift64* from both. */
static void pattern(unsigned char *buf, unsigned long i, unsigned long gen)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ULL ^ (gen + 1) * 0xbf58476d1ce4e5b9ULL;

	for (size_t k = 0; k < PG; k += 8) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		uint64_t v = x * 0x2545f4914f6cdd1dULL;
		memcpy(buf + k, &v, 8);
	}
}

static void put_page_of(struct task *t, uintptr_t a, unsigned long i, unsigned long gen)
{
	unsigned char buf[PG];

	pattern(buf, i, gen);
	assert_int_equal(emu_copy_to_user(t, a + i * PG, buf, PG), 0);
}

/* The whole page compared with what generation gen wrote there. */
static void check_page_of(struct task *t, uintptr_t a, unsigned long i, unsigned long gen)
{
	unsigned char want[PG], got[PG];

	pattern(want, i, gen);
	assert_int_equal(emu_copy_from_user(t, got, a + i * PG, PG), 0);
	if (memcmp(want, got, PG))
		fail_msg("task %d page %lu: not what generation %lu wrote", t->pid, i, gen);
}

/* The swap entry at a in t, or val 0 if a maps a page or nothing. */
static swp_entry_t entry_at(struct task *t, uintptr_t a)
{
	pteval_t *ptep = pte_lookup(t->mm, a);
	swp_entry_t none = { 0 };

	if (!ptep || pte_none(*ptep) || pte_present(*ptep))
		return none;
	return pte_to_swp_entry(*ptep);
}

static unsigned long swapped_pages(struct task *t, uintptr_t a, unsigned long n)
{
	unsigned long k = 0;

	for (unsigned long i = 0; i < n; i++)
		k += entry_at(t, a + i * PG).val != 0;
	return k;
}

/* A permutation of 0..n-1 from the machine's seed (Fisher-Yates). */
static unsigned long *shuffled(unsigned long n)
{
	unsigned long *order = malloc(n * sizeof(*order));

	assert_non_null(order);
	for (unsigned long i = 0; i < n; i++)
		order[i] = i;
	for (unsigned long i = n - 1; i > 0; i--) {
		unsigned long j = (unsigned long)(emu_random() % (i + 1)), tmp = order[i];

		order[i] = order[j];
		order[j] = tmp;
	}
	return order;
}

/*
 * 48 MiB of private memory on a 32 MiB machine: written in order, then
 * read and rewritten in a random order, then read again, each page in
 * full. Swap must have carried most of it, both ways.
 */
static void test_working_set_larger_than_ram(void **state)
{
	const unsigned long n = 48 * MiB / PG;

	for (uint64_t seed = 1; seed <= 3; seed++) {
		struct task *t;
		unsigned long *order;
		uintptr_t a;

		boot_seed(seed);
		swap_on();
		t = spawn("big");
		a = map(t, n * PG);
		for (unsigned long i = 0; i < n; i++)
			put_page_of(t, a, i, 0);
		assert_true(stat_of("pswpout") > n / 4);
		kmm_check();
		assert_int_equal(get_mm_counter(t->mm, MM_SWAPENTS), swapped_pages(t, a, n));
		order = shuffled(n);
		for (unsigned long k = 0; k < n; k++) {
			check_page_of(t, a, order[k], 0);
			if (order[k] % 3 == 0)
				put_page_of(t, a, order[k], 1);
		}
		kmm_check();
		for (unsigned long k = n; k-- > 0;)
			check_page_of(t, a, order[k], order[k] % 3 == 0 ? 1 : 0);
		free(order);
		assert_true(stat_of("pswpin") > n / 4);
		assert_true(stat_of("pgmajfault") > 0);
		assert_true(stat_of("pgsteal_direct") > 0);
		kmm_check();
		finish(t);
		assert_all_back();
	}
}

/*
 * fork of a task whose pages are on swap: both name the same slots (count
 * 2 each); writes in the child copy, the parent keeps its bytes through
 * further swap-outs of both; the child's exit gives its counts back.
 */
static void test_fork_swap_cow_keeps_parent_and_child_apart(void **state)
{
	const unsigned long n = 2048;   /* 8 MiB: the machine holds it, then swaps it */
	struct task *p, *c;
	uintptr_t a;
	unsigned long swapped;

	swap_on();
	p = spawn("parent");
	a = map(p, n * PG);
	for (unsigned long i = 0; i < n; i++)
		put_page_of(p, a, i, 0);
	assert_true(shrink_all_memory(4 * n) >= n / 2);
	swapped = swapped_pages(p, a, n);
	assert_true(swapped >= n / 2);
	kmm_check();

	c = fork_of(p);
	kmm_check();   /* every slot: two entries, plus the cache if it holds the page */
	for (unsigned long i = 0; i < n; i++) {
		swp_entry_t e = entry_at(p, a + i * PG);

		if (!e.val)
			continue;
		assert_int_equal(entry_at(c, a + i * PG).val, e.val);
		assert_in_range(swap_count(e), 2, 3);
	}
	assert_int_equal(get_mm_counter(c->mm, MM_SWAPENTS), (long)swapped);

	/* The child rewrites every other page; both see their own. */
	for (unsigned long i = 0; i < n; i += 2)
		put_page_of(c, a, i, 7);
	kmm_check();
	shrink_all_memory(4 * n);
	kmm_check();
	for (unsigned long i = 0; i < n; i++)
		check_page_of(p, a, i, 0);
	for (unsigned long i = 0; i < n; i++)
		check_page_of(c, a, i, i % 2 ? 0 : 7);
	shrink_all_memory(4 * n);
	kmm_check();

	finish(c);
	kmm_check();
	/* The parent alone names its slots again. */
	for (unsigned long i = 0; i < n; i++) {
		swp_entry_t e = entry_at(p, a + i * PG);

		if (e.val)
			assert_in_range(swap_count(e), 1, 2);
	}
	for (unsigned long i = 0; i < n; i++)
		check_page_of(p, a, i, 0);
	finish(p);
	assert_all_back();
}

/* swapoff: every entry of every task is a present page again, with its bytes. */
static void test_swapoff_brings_every_page_back(void **state)
{
	const unsigned long n = 1024;
	struct task *p, *c;
	uintptr_t a;

	swap_on();
	p = spawn("parent");
	a = map(p, n * PG);
	for (unsigned long i = 0; i < n; i++)
		put_page_of(p, a, i, 0);
	c = fork_of(p);
	for (unsigned long i = 0; i < n; i += 4)
		put_page_of(c, a, i, 3);
	shrink_all_memory(4 * n);
	assert_true(swapped_pages(p, a, n) > n / 2);
	assert_true(swapped_pages(c, a, n) > n / 2);
	kmm_check();

	assert_int_equal(swapoff("/swap"), 0);
	assert_int_equal(stat_of("SwapTotal"), 0);
	assert_int_equal(stat_of("SwapCached"), 0);
	assert_int_equal(swapped_pages(p, a, n), 0);
	assert_int_equal(swapped_pages(c, a, n), 0);
	assert_int_equal(get_mm_counter(p->mm, MM_SWAPENTS), 0);
	assert_int_equal(get_mm_counter(c->mm, MM_SWAPENTS), 0);
	kmm_check();
	for (unsigned long i = 0; i < n; i++) {
		check_page_of(p, a, i, 0);
		check_page_of(c, a, i, i % 4 ? 0 : 3);
	}
	/* Reclaim now finds no swap: it leaves anonymous memory alone. */
	shrink_all_memory(4 * n);
	assert_int_equal(swapped_pages(p, a, n), 0);
	finish(c);
	finish(p);
	assert_all_back();
}

/* Writes to swap fail: nothing is freed, nothing is lost; then they work. */
static void test_swap_write_error_keeps_the_page(void **state)
{
	const unsigned long n = 512;
	unsigned long out0;
	struct task *t;
	uintptr_t a;

	swap_on();
	t = spawn("t");
	a = map(t, n * PG);
	for (unsigned long i = 0; i < n; i++)
		put_page_of(t, a, i, 0);
	assert_int_equal(emu_fs_fail("/swap", EMU_FS_WRITE, 1, 1000000, -KMM_EIO), 0);
	out0 = stat_of("pswpout");
	assert_int_equal(shrink_all_memory(4 * n), 0);
	assert_true(emu_fs_failed() > 0);
	assert_int_equal(stat_of("pswpout"), out0);
	/* The pages stayed in memory, in the swap cache, named by their entries. */
	assert_true(stat_of("SwapCached") > 0);
	kmm_check();
	for (unsigned long i = 0; i < n; i++)
		check_page_of(t, a, i, 0);
	kmm_check();

	emu_fs_fail_clear();
	assert_true(shrink_all_memory(4 * n) > n / 2);
	assert_true(stat_of("pswpout") > out0);
	for (unsigned long i = 0; i < n; i++)
		check_page_of(t, a, i, 0);
	finish(t);
	assert_all_back();
}

/* A read from swap fails: the faulting task gets SIGBUS, the other task is fine. */
static void test_swap_read_error_is_sigbus_for_the_faulting_task(void **state)
{
	const unsigned long n = 256;
	struct task *a_task, *b_task;
	uintptr_t a, b;
	uint64_t v;

	swap_on();
	a_task = spawn("a");
	b_task = spawn("b");
	a = map(a_task, n * PG);
	b = map(b_task, n * PG);
	for (unsigned long i = 0; i < n; i++) {
		put_page_of(a_task, a, i, 1);
		put_page_of(b_task, b, i, 2);
	}
	shrink_all_memory(8 * n);
	assert_true(entry_at(a_task, a + 5 * PG).val != 0);
	assert_true(swapped_pages(b_task, b, n) > n / 2);

	/* The slot of the faulting page is read first, before any readahead. */
	assert_int_equal(emu_fs_fail("/swap", EMU_FS_READ, 1, 1, -KMM_EIO), 0);
	assert_int_equal(emu_load(a_task, a + 5 * PG, 8, &v), -KMM_EFAULT);
	assert_int_equal(a_task->state, TASK_DEAD);
	assert_int_equal(a_task->exit_signal, KMM_SIGBUS);
	assert_int_equal(a_task->fault_code, KMM_BUS_ADRERR);
	assert_int_equal(a_task->fault_addr, a + 5 * PG);
	emu_fs_fail_clear();
	kmm_check();
	for (unsigned long i = 0; i < n; i++)
		check_page_of(b_task, b, i, 2);
	task_release(a_task);
	finish(b_task);
	assert_all_back();
}

/*
 * A shared file mapping larger than RAM, written through its pages: the
 * Dirty bits reach the pages when reclaim unmaps them, reclaim writes them
 * back, and after munmap and sync the host file holds every byte.
 */
static void test_dirty_file_pages_under_pressure_are_written(void **state)
{
	const unsigned long n = 40 * MiB / PG;
	unsigned char want[PG], got[PG];
	struct task *t = spawn("writer");
	char host[512];
	long fd, a;
	FILE *f;

	fd = sys_open(t, "/data", KMM_O_RDWR | KMM_O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(sys_ftruncate(t, (int)fd, (loff_t)(n * PG)), 0);
	a = sys_mmap(t, 0, n * PG, RW, KMM_MAP_SHARED, (int)fd, 0);
	assert_true(a > 0);
	for (unsigned long i = 0; i < n; i++)
		put_page_of(t, (uintptr_t)a, i, 5);
	assert_true(stat_of("pgsteal_direct") > 0);
	assert_true(stat_of("pgpgout") > 0);   /* reclaim wrote some back before sync */
	kmm_check();
	for (unsigned long i = 0; i < n; i += 7)
		check_page_of(t, (uintptr_t)a, i, 5);
	assert_int_equal(sys_munmap(t, (uintptr_t)a, n * PG), 0);
	assert_int_equal(sys_sync(), 0);
	assert_int_equal(sys_close(t, (int)fd), 0);
	snprintf(host, sizeof(host), "%s/data", root);
	f = fopen(host, "rb");
	assert_non_null(f);
	for (unsigned long i = 0; i < n; i++) {
		pattern(want, i, 5);
		assert_int_equal(fread(got, 1, PG, f), PG);
		if (memcmp(want, got, PG))
			fail_msg("host file page %lu lost what was stored through the mapping", i);
	}
	fclose(f);
	finish(t);
	kmm_check();
	assert_all_back();
}

/* A host file of n pages of generation gen, in the machine's root. */
static void host_file(const char *name, unsigned long n, unsigned long gen)
{
	unsigned char buf[PG];
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s%s", root, name);
	f = fopen(p, "wb");
	assert_non_null(f);
	for (unsigned long i = 0; i < n; i++) {
		pattern(buf, i, gen);
		assert_int_equal(fwrite(buf, 1, PG, f), PG);
	}
	fclose(f);
}

/* Reads the whole file through a 64 KiB buffer of t, checking every page. */
static void read_file(struct task *t, uintptr_t buf, const char *name, unsigned long n,
		      unsigned long gen)
{
	unsigned char want[PG], got[PG];
	long fd = sys_open(t, name, KMM_O_RDONLY, 0);

	assert_true(fd >= 0);
	for (unsigned long i = 0; i < n; i += 16) {
		unsigned long k = MIN(16UL, n - i);

		assert_int_equal(sys_read(t, (int)fd, buf, k * PG), (long)(k * PG));
		for (unsigned long j = 0; j < k; j++) {
			pattern(want, i + j, gen);
			assert_int_equal(emu_copy_from_user(t, got, buf + j * PG, PG), 0);
			if (memcmp(want, got, PG))
				fail_msg("%s page %lu read wrong", name, i + j);
		}
	}
	assert_int_equal(sys_close(t, (int)fd), 0);
}

/*
 * The two lists at work: a small file read twice is active; a sequential
 * read of a file larger than RAM, once, fills the inactive list and is
 * reclaimed from it, leaving the small file cached (read again, it misses
 * nothing).
 */
static void test_scan_of_a_large_file_keeps_the_active_set(void **state)
{
	const unsigned long small = 4 * MiB / PG, large = 48 * MiB / PG;
	struct task *t = spawn("reader");
	uintptr_t buf = map(t, 16 * PG);
	unsigned long misses;

	host_file("/small", small, 1);
	host_file("/large", large, 2);
	read_file(t, buf, "/small", small, 1);
	read_file(t, buf, "/small", small, 1);
	assert_true(stat_of("Active(file)") * 1024 >= small * PG);
	read_file(t, buf, "/large", large, 2);
	assert_true(stat_of("pgsteal_direct") + stat_of("pgsteal_kswapd") > large / 2);
	kmm_check();
	misses = stat_of("pgcache_miss");
	read_file(t, buf, "/small", small, 1);
	assert_int_equal(stat_of("pgcache_miss"), misses);
	finish(t);
	assert_all_back();
}

/* The allocator wakes kswapd below the low watermark; its work item frees memory. */
static void test_kswapd_reclaims_when_woken(void **state)
{
	const unsigned long n = 26 * MiB / PG;
	struct task *t;
	uintptr_t a;
	unsigned long before;

	swap_on();
	t = spawn("t");
	a = map(t, n * PG);
	for (unsigned long i = 0; i < n; i++)
		put_page_of(t, a, i, 0);
	assert_true(stat_of("kswapd_wake") > 0);
	assert_int_equal(stat_of("pgscan_kswapd"), 0);   /* queued, not run yet */
	before = settled_free();
	emu_run_pending_work();
	emu_advance_ns(1000000000ULL);   /* and whatever it queued again */
	assert_true(stat_of("pgscan_kswapd") > 0);
	assert_true(stat_of("pgsteal_kswapd") > 0);
	assert_true(settled_free() > before);
	kmm_check();
	for (unsigned long i = 0; i < n; i++)
		check_page_of(t, a, i, 0);
	finish(t);
	assert_all_back();
}

/*
 * No swap: a task that keeps growing runs the machine out of memory. The
 * largest task (not the one at -1000, not the grower) is killed with
 * SIGKILL and logged; the grower gets its memory and everything checks.
 */
static void test_oom_kills_the_largest_task(void **state)
{
	struct task *big = spawn("big"), *huge = spawn("huge"), *small = spawn("small");
	struct task *grower = spawn("grower");
	uintptr_t a_big = map(big, 8 * MiB), a_huge = map(huge, 10 * MiB);
	uintptr_t a_small = map(small, 1 * MiB), a_grow = map(grower, 10 * MiB);
	const char *log;
	char line[128];

	assert_int_equal(emu_fill_user(big, a_big, 0x11, 8 * MiB), 0);
	assert_int_equal(emu_fill_user(huge, a_huge, 0x22, 10 * MiB), 0);
	assert_int_equal(emu_fill_user(small, a_small, 0x33, 1 * MiB), 0);
	huge->oom_score_adj = -1000;   /* never chosen, though the largest */
	assert_true(oom_badness(big) > oom_badness(small));
	assert_int_equal(oom_badness(huge), 0);

	th_capture_begin();
	assert_int_equal(emu_fill_user(grower, a_grow, 0x44, 10 * MiB), 0);
	log = th_capture_end();
	assert_int_equal(stat_of("oom_kill"), 1);
	assert_int_equal(big->state, TASK_DEAD);
	assert_int_equal(big->exit_signal, KMM_SIGKILL);
	assert_int_equal(huge->state, TASK_RUNNING);
	assert_int_equal(small->state, TASK_RUNNING);
	assert_int_equal(grower->state, TASK_RUNNING);
	snprintf(line, sizeof(line), "Out of memory: Killed process %d (big) total-vm:", big->pid);
	assert_non_null(strstr(log, line));
	assert_non_null(strstr(log, "anon-rss:8192kB, file-rss:0kB, shmem-rss:0kB, UID:0"));
	kmm_check();
	/* The others' memory is intact. */
	for (uintptr_t off = 0; off < 10 * MiB; off += 61 * PG + 8) {
		uint64_t v;

		assert_int_equal(emu_load(grower, a_grow + off, 1, &v), 0);
		assert_int_equal(v, 0x44);
		if (off < 10 * MiB) {
			assert_int_equal(emu_load(huge, a_huge + off, 1, &v), 0);
			assert_int_equal(v, 0x22);
		}
	}
	task_release(big);
	finish(huge);
	finish(small);
	finish(grower);
	assert_all_back();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_working_set_larger_than_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_swap_cow_keeps_parent_and_child_apart,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_swapoff_brings_every_page_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_swap_write_error_keeps_the_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_swap_read_error_is_sigbus_for_the_faulting_task,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_dirty_file_pages_under_pressure_are_written,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_of_a_large_file_keeps_the_active_set,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_kswapd_reclaims_when_woken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oom_kills_the_largest_task, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
