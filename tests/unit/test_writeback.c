/*
 * Tests of writeback (mm/page-writeback.c): dirty pages reach the host
 * after the expiry in virtual time and not before, sync writes everything
 * with contiguous pages clustered into one host write, injected write
 * errors are reported once to every open file and to sync, a short write
 * is ENOSPC, writers over the dirty limit are throttled, drop_caches keeps
 * dirty pages, read errors leave nothing behind, and a crash (SIGKILL of a
 * host process running kmm) loses nothing written before its sync.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
#include <kmm/vmstat.h>

#include "helpers.h"

#define MACHINE (64 * MiB)
#define PG PAGE_SIZE
#define SEC 1000000000ULL

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

static unsigned char *make_host_file(const char *name, size_t len, unsigned int seed)
{
	unsigned char *b = malloc(len ? len : 1);
	char p[512];
	FILE *f;

	assert_non_null(b);
	srand(seed);
	for (size_t i = 0; i < len; i++)
		b[i] = (unsigned char)(rand() >> 7);
	host_path(p, sizeof(p), name);
	f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, len, f), len);
	fclose(f);
	return b;
}

static unsigned char *read_host_file(const char *name, size_t *len)
{
	char p[512];
	struct stat st;
	unsigned char *b;
	FILE *f;

	host_path(p, sizeof(p), name);
	assert_int_equal(stat(p, &st), 0);
	*len = (size_t)st.st_size;
	b = malloc(*len + 1);
	f = fopen(p, "rb");
	assert_non_null(f);
	assert_int_equal(fread(b, 1, *len, f), *len);
	fclose(f);
	return b;
}

static void boot_root(uint64_t ram)
{
	struct emu_config cfg;

	th_config(&cfg, ram, 2, EMU_DET);
	snprintf(cfg.root, sizeof(cfg.root), "%s", root);
	cfg.root_rw = true;
	th_boot_cfg(&cfg);
	base_free = settled_free();
}

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/kmm-wb-XXXXXX");
	assert_non_null(mkdtemp(root));
	boot_root(MACHINE);
	return 0;
}

static void rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char p[512];

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static int teardown(void **state)
{
	th_shutdown();
	rm_tree(root);
	return 0;
}

static unsigned long zone_sum(enum zone_stat_item item)
{
	unsigned long s = 0;
	struct zone *z;

	for_each_zone(z)
		s += zone_page_state(z, item);
	return s;
}

static struct file *open_or_fail(const char *path, int flags)
{
	struct file *f = NULL;

	assert_int_equal(file_open(path, flags, 0644, &f), 0);
	return f;
}

static void write_at(struct file *f, loff_t pos, const void *buf, size_t len)
{
	assert_int_equal(kernel_write(f, buf, len, &pos), (long)len);
}

static void assert_all_back(void)
{
	kmm_check();
	emu_fs_fail_clear();
	assert_int_equal(sync_all(), 0);
	drop_caches();
	kmm_check();
	assert_int_equal(zone_sum(NR_FILE_PAGES), 0);
	assert_int_equal(zone_sum(NR_WRITEBACK), 0);
	assert_int_equal(emu_fs_open_files(), 0);
	assert_int_equal(settled_free(), base_free);
}

/* ---- Expiry ---- */

static void test_dirty_written_after_expiry_not_before(void **state)
{
	unsigned char *init = make_host_file("/e", 4 * PG, 1), *host;
	unsigned char data[PG];
	struct file *f = open_or_fail("/e", KMM_O_RDWR);
	size_t hsize;

	memset(data, 'e', sizeof(data));
	write_at(f, PG, data, PG);
	write_at(f, 3 * PG, data, 10);
	assert_int_equal(zone_sum(NR_FILE_DIRTY), 2);
	assert_int_equal(nr_dirty_inodes(), 1);
	/* 29 virtual seconds: the flusher ran but nothing is old enough. */
	emu_advance_ns(29 * SEC);
	assert_true(writeback_flusher_runs() >= 5);
	assert_int_equal(zone_sum(NR_FILE_DIRTY), 2);
	host = read_host_file("/e", &hsize);
	assert_memory_equal(host, init, 4 * PG);
	free(host);
	kmm_check();
	/* Past 30 s: written, clean, and the flusher stops. */
	emu_advance_ns(2 * SEC);
	assert_int_equal(zone_sum(NR_FILE_DIRTY), 0);
	assert_int_equal(nr_dirty_inodes(), 0);
	host = read_host_file("/e", &hsize);
	memcpy(init + PG, data, PG);
	memcpy(init + 3 * PG, data, 10);
	assert_memory_equal(host, init, 4 * PG);
	free(host);
	{
		unsigned long runs = writeback_flusher_runs();

		emu_advance_ns(60 * SEC);
		assert_int_equal(writeback_flusher_runs(), runs);
	}
	/* Dirtied again later: it expires 30 s after that. */
	write_at(f, 0, data, 1);
	emu_advance_ns(25 * SEC);
	assert_int_equal(zone_sum(NR_FILE_DIRTY), 1);
	emu_advance_ns(10 * SEC);
	assert_int_equal(zone_sum(NR_FILE_DIRTY), 0);
	fput(f);
	free(init);
	assert_all_back();
}

/* ---- sync and clustering ---- */

static void test_sync_writes_everything_clustered(void **state)
{
	unsigned char *model[3], *host;
	struct file *f[3];
	unsigned long w0, out0;
	size_t hsize;

	for (int i = 0; i < 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "/s%d", i);
		model[i] = calloc(1, 64 * PG);
		f[i] = open_or_fail(name, KMM_O_RDWR | KMM_O_CREAT);
		for (size_t k = 0; k < 64 * PG; k++)
			model[i][k] = (unsigned char)(k * 7 + (size_t)i);
		write_at(f[i], 0, model[i], 64 * PG);
	}
	assert_int_equal(zone_sum(NR_FILE_DIRTY), 3 * 64);
	w0 = emu_fs_calls(EMU_FS_WRITE);
	out0 = vm_event_sum(PGPGOUT);
	assert_int_equal(sync_all(), 0);
	/* 64 contiguous dirty pages per file: one host write each. */
	assert_int_equal(emu_fs_calls(EMU_FS_WRITE) - w0, 3);
	assert_int_equal(vm_event_sum(PGPGOUT) - out0, 3 * 64 * PG / 1024);
	assert_int_equal(zone_sum(NR_FILE_DIRTY), 0);
	for (int i = 0; i < 3; i++) {
		char name[16];

		snprintf(name, sizeof(name), "/s%d", i);
		host = read_host_file(name, &hsize);
		assert_int_equal(hsize, 64 * PG);
		assert_memory_equal(host, model[i], 64 * PG);
		free(host);
	}
	/* Non-contiguous dirty pages: a write per run. */
	w0 = emu_fs_calls(EMU_FS_WRITE);
	write_at(f[0], 0, "a", 1);
	write_at(f[0], PG, "b", 1);
	write_at(f[0], 5 * PG, "c", 1);
	assert_int_equal(filemap_write_and_wait_range(f[0]->f_mapping, 0, (pgoff_t)-1), 0);
	assert_int_equal(emu_fs_calls(EMU_FS_WRITE) - w0, 2);
	for (int i = 0; i < 3; i++) {
		fput(f[i]);
		free(model[i]);
	}
	assert_all_back();
}

/* ---- Errors ---- */

static void test_write_error_reported_once_per_open_file(void **state)
{
	free(make_host_file("/err", 2 * PG, 2));
	struct file *a = open_or_fail("/err", KMM_O_RDWR);
	struct file *b = open_or_fail("/err", KMM_O_RDWR);
	struct file *c;
	struct task *t;
	long fd;

	assert_int_equal(task_spawn("t", &t), 0);
	fd = sys_open(t, "/err", KMM_O_RDONLY, 0);
	assert_true(fd >= 0);
	write_at(a, 10, "xyz", 3);
	assert_int_equal(emu_fs_fail("/err", EMU_FS_WRITE, 1, 1, -KMM_EIO), 0);
	/* The writer's fsync sees it, once. */
	assert_int_equal(sys_fsync(t, (int)fd), -KMM_EIO);
	assert_int_equal(sys_fsync(t, (int)fd), 0);
	assert_int_equal(emu_fs_failed(), 1);
	/* Every other description open at the time sees it once too. */
	assert_int_equal(file_check_and_advance_wb_err(a), -KMM_EIO);
	assert_int_equal(file_check_and_advance_wb_err(a), 0);
	assert_int_equal(file_check_and_advance_wb_err(b), -KMM_EIO);
	assert_int_equal(file_check_and_advance_wb_err(b), 0);
	/* One opened after the error does not. */
	c = open_or_fail("/err", KMM_O_RDWR);
	assert_int_equal(file_check_and_advance_wb_err(c), 0);
	/* sync reports it once as well. */
	assert_int_equal(sync_all(), -KMM_EIO);
	assert_int_equal(sync_all(), 0);
	/* The page was not left dirty (Linux drops it after a failed write). */
	assert_int_equal(zone_sum(NR_FILE_DIRTY), 0);
	kmm_check();
	assert_int_equal(sys_close(t, (int)fd), 0);
	task_exit(t, 0);
	task_release(t);
	fput(a);
	fput(b);
	fput(c);
	assert_all_back();
}

static void test_short_write_is_enospc_and_flusher_errors_reach_fsync(void **state)
{
	unsigned char data[4 * PG];
	struct file *f = open_or_fail("/full", KMM_O_RDWR | KMM_O_CREAT);
	struct file *g = open_or_fail("/full", KMM_O_RDONLY);

	memset(data, 's', sizeof(data));
	write_at(f, 0, data, sizeof(data));
	assert_int_equal(emu_fs_fail("/full", EMU_FS_WRITE, 1, 1, 0), 0);
	/* The flusher meets the error; nobody is calling fsync then. */
	emu_advance_ns(31 * SEC);
	assert_int_equal(emu_fs_failed(), 1);
	assert_int_equal(zone_sum(NR_FILE_DIRTY), 0);
	/* Both open files hear of it at their next fsync, and sync does. */
	assert_int_equal(file_check_and_advance_wb_err(f), -KMM_ENOSPC);
	assert_int_equal(file_check_and_advance_wb_err(g), -KMM_ENOSPC);
	assert_int_equal(file_check_and_advance_wb_err(f), 0);
	assert_int_equal(sync_all(), -KMM_ENOSPC);
	assert_int_equal(sync_all(), 0);
	fput(f);
	fput(g);
	assert_all_back();
}

static void test_read_error_leaves_nothing_cached(void **state)
{
	unsigned char *want = make_host_file("/rerr", 8 * PG, 3);
	unsigned char buf[PG];
	struct file *f = open_or_fail("/rerr", KMM_O_RDONLY);
	loff_t pos = 2 * PG;

	assert_int_equal(emu_fs_fail("/rerr", EMU_FS_READ, 1, 2, -KMM_EIO), 0);
	assert_int_equal(kernel_read(f, buf, PG, &pos), -KMM_EIO);
	assert_int_equal(pos, 2 * PG);
	assert_int_equal(f->f_mapping->nrpages, 0);
	kmm_check();
	/* The device recovered: the same read works. */
	assert_int_equal(kernel_read(f, buf, PG, &pos), PG);
	assert_memory_equal(buf, want + 2 * PG, PG);
	fput(f);
	free(want);
	assert_all_back();
}

/* ---- drop_caches and throttling ---- */

static void test_drop_caches_keeps_dirty_pages(void **state)
{
	unsigned char *init = make_host_file("/dc", 8 * PG, 4);
	unsigned char buf[8 * PG];
	struct file *f = open_or_fail("/dc", KMM_O_RDWR);
	loff_t pos = 0;

	assert_int_equal(kernel_read(f, buf, sizeof(buf), &pos), 8 * PG);
	write_at(f, 3 * PG, "dirty", 5);
	assert_int_equal(drop_caches(), 7);
	assert_int_equal(f->f_mapping->nrpages, 1);
	assert_int_equal(f->f_mapping->nrdirty, 1);
	pos = 3 * PG;
	assert_int_equal(kernel_read(f, buf, 5, &pos), 5);
	assert_memory_equal(buf, "dirty", 5);
	fput(f);
	free(init);
	assert_all_back();
}

static void test_writers_over_the_limit_are_throttled(void **state)
{
	unsigned char *chunk = malloc(64 * PG);
	unsigned long bg, thresh, max_seen = 0;
	struct file *f;

	boot_root(32 * MiB);
	f = open_or_fail("/big", KMM_O_RDWR | KMM_O_CREAT);
	memset(chunk, 'T', 64 * PG);
	global_dirty_limits(&bg, &thresh);
	assert_true(bg < thresh);
	assert_int_equal(writeback_throttled_count(), 0);
	/* Write about 60% of available memory, never syncing. */
	for (loff_t pos = 0; pos < (loff_t)(thresh * 3 * PG);) {
		unsigned long d;

		assert_int_equal(kernel_write(f, chunk, 64 * PG, &pos), 64 * PG);
		d = zone_sum(NR_FILE_DIRTY) + zone_sum(NR_WRITEBACK);
		if (d > max_seen)
			max_seen = d;
	}
	assert_true(writeback_throttled_count() > 0);
	global_dirty_limits(&bg, &thresh);
	/* Dirty memory never ran past the limit by more than one write. */
	assert_true(max_seen <= thresh + 64);
	kmm_check();
	fput(f);
	free(chunk);
	assert_all_back();
}

/* ---- Shared mappings: page_mkclean ---- */

/*
 * Stores through a shared mapping reach the file at writeback; writeback
 * cleans and write-protects the entry (page_mkclean), so the next store
 * dirties the page again and is written by the next sync. A private
 * mapping's stores never reach the file.
 */
static void test_shared_mapping_stores_are_written_back(void **state)
{
	unsigned char *init = make_host_file("/map", 2 * PG, 5), *host;
	struct task *t;
	struct page *p;
	size_t hsize;
	long fd, a, pa;

	assert_int_equal(task_spawn("m", &t), 0);
	fd = sys_open(t, "/map", KMM_O_RDWR, 0);
	assert_true(fd >= 0);
	a = sys_mmap(t, 0, 2 * PG, KMM_PROT_READ | KMM_PROT_WRITE, KMM_MAP_SHARED, (int)fd, 0);
	pa = sys_mmap(t, 0, 2 * PG, KMM_PROT_READ | KMM_PROT_WRITE, KMM_MAP_PRIVATE, (int)fd, 0);
	assert_true(a > 0 && pa > 0);
	assert_int_equal(emu_store(t, (uint64_t)a + 10, 8, 0x1122334455667788ULL), 0);
	assert_int_equal(emu_store(t, (uint64_t)pa + PG + 20, 1, 'P'), 0);
	assert_int_equal(zone_sum(NR_FILE_DIRTY), 1);
	kmm_check();
	/* The D bit of the entry is moved to the page, the entry made read-only. */
	{
		struct file *ff = fget(t, (int)fd);

		assert_non_null(ff);
		p = find_get_page(ff->f_mapping, 0);
		fput(ff);
	}
	assert_non_null(p);
	lock_page(p);
	assert_int_equal(page_mkclean(p), 1);
	assert_int_equal(page_mkclean(p), 0);
	unlock_page(p);
	put_page(p);
	assert_int_equal(sync_all(), 0);
	host = read_host_file("/map", &hsize);
	assert_int_equal(hsize, 2 * PG);
	memcpy(init + 10, "\x88\x77\x66\x55\x44\x33\x22\x11", 8);
	assert_memory_equal(host, init, 2 * PG);   /* and not the private 'P' */
	free(host);
	assert_int_equal(zone_sum(NR_FILE_DIRTY), 0);
	/* The next store faults on the clean entry and dirties the page again. */
	assert_int_equal(emu_store(t, (uint64_t)a + 11, 1, 0xab), 0);
	assert_int_equal(zone_sum(NR_FILE_DIRTY), 1);
	assert_int_equal(sync_all(), 0);
	host = read_host_file("/map", &hsize);
	init[11] = 0xab;
	assert_memory_equal(host, init, 2 * PG);
	free(host);
	kmm_check();
	task_exit(t, 0);
	task_release(t);
	free(init);
	assert_all_back();
}

/* ---- A crash ---- */

/*
 * A child process boots kmm on the directory, writes two files, syncs,
 * writes more (which stays dirty in its cache), tells the parent and
 * waits to be killed. Every byte written before the sync must be in the
 * host files; what came after may or may not be.
 */
static void crash_child(int tell)
{
	struct emu_config cfg;
	char err[256];
	unsigned char data[3 * PG];
	struct file *a = NULL, *b = NULL;
	loff_t pos;

	emu_shutdown();
	th_config(&cfg, MACHINE, 1, EMU_DET);
	snprintf(cfg.root, sizeof(cfg.root), "%s", root);
	cfg.root_rw = true;
	if (emu_boot(&cfg, err, sizeof(err)))
		_exit(10);
	if (file_open("/crash_a", KMM_O_RDWR | KMM_O_CREAT, 0644, &a) ||
	    file_open("/crash_b", KMM_O_RDWR | KMM_O_CREAT, 0644, &b))
		_exit(11);
	memset(data, 'A', sizeof(data));
	pos = 0;
	if (kernel_write(a, data, sizeof(data), &pos) != (long)sizeof(data))
		_exit(12);
	memset(data, 'B', sizeof(data));
	pos = 100;
	if (kernel_write(b, data, sizeof(data), &pos) != (long)sizeof(data))
		_exit(13);
	if (sync_all())
		_exit(14);
	memset(data, 'C', sizeof(data));
	pos = 2 * PG;
	if (kernel_write(a, data, sizeof(data), &pos) != (long)sizeof(data))
		_exit(15);
	if (write(tell, "k", 1) != 1)
		_exit(16);
	for (;;)
		pause();
}

static void test_crash_after_sync_loses_nothing_synced(void **state)
{
	unsigned char *host;
	int p[2], status;
	size_t hsize;
	char c;
	pid_t pid;

	th_shutdown();
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		crash_child(p[1]);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	host = read_host_file("/crash_a", &hsize);
	assert_true(hsize >= 3 * PG);
	/* The synced bytes: pages 0 and 1 are all 'A' (page 2 may be 'C'). */
	for (size_t i = 0; i < 2 * PG; i++)
		assert_int_equal(host[i], 'A');
	for (size_t i = 2 * PG; i < 3 * PG; i++)
		assert_true(host[i] == 'A' || host[i] == 'C');
	free(host);
	host = read_host_file("/crash_b", &hsize);
	assert_int_equal(hsize, 100 + 3 * PG);
	for (size_t i = 0; i < 100; i++)
		assert_int_equal(host[i], 0);
	for (size_t i = 100; i < hsize; i++)
		assert_int_equal(host[i], 'B');
	free(host);
	boot_root(MACHINE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dirty_written_after_expiry_not_before, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_writes_everything_clustered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_error_reported_once_per_open_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_write_is_enospc_and_flusher_errors_reach_fsync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_error_leaves_nothing_cached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drop_caches_keeps_dirty_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writers_over_the_limit_are_throttled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_mapping_stores_are_written_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_after_sync_loses_nothing_synced, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
