/*
 * Tests of the page cache's read and write paths (mm/filemap.c) and the
 * host directory under it (arch/emu/hostfs.c): every read and write at
 * every alignment against the host's bytes, hits after the first read,
 * readahead that grows on sequential reads and not on random ones,
 * truncation, O_APPEND and O_TRUNC, block devices, descriptors across fork,
 * bad input, and every frame back after close and drop_caches.
 *
 * Each test boots a machine whose root is a fresh temporary host directory
 * (read-write), and removes it afterwards.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
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

/* A host file of len pseudo-random bytes (seeded), returned malloc'd. */
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

/* The host file's bytes (malloc'd) and length. */
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

static void boot_root(const char *disks)
{
	struct emu_config cfg;

	th_config(&cfg, MACHINE, 2, EMU_DET);
	snprintf(cfg.root, sizeof(cfg.root), "%s", root);
	cfg.root_rw = true;
	if (disks)
		snprintf(cfg.disks, sizeof(cfg.disks), "%s", disks);
	th_boot_cfg(&cfg);
	base_free = settled_free();
}

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/kmm-filemap-XXXXXX");
	assert_non_null(mkdtemp(root));
	boot_root(NULL);
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
		if (e->d_type == DT_DIR)
			rm_tree(p);
		else
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

/* Everything closed: the cache can be emptied and every frame comes back. */
static void assert_all_back(void)
{
	kmm_check();
	assert_int_equal(sync_all(), 0);
	drop_caches();
	kmm_check();
	assert_int_equal(zone_sum(NR_FILE_PAGES), 0);
	assert_int_equal(zone_sum(NR_FILE_DIRTY), 0);
	assert_int_equal(nr_cached_inodes(), 0);
	assert_int_equal(emu_fs_open_files(), 0);
	assert_int_equal(settled_free(), base_free);
}

/* ---- Reads ---- */

static const size_t offsets[] = { 0, 1, 511, 4095, 4096, 4097, 8191, 12345, 65536,
				  69999, 70000, 70001, 100000 };
static const size_t lengths[] = { 0, 1, 100, 4095, 4096, 4097, 8192, 10000, 70001 };

static void test_read_every_alignment(void **state)
{
	const size_t size = 70000;
	unsigned char *want = make_host_file("/data", size, 1);
	unsigned char *buf = malloc(80000);
	struct file *f = open_or_fail("/data", KMM_O_RDONLY);

	for (size_t i = 0; i < ARRAY_SIZE(offsets); i++) {
		for (size_t j = 0; j < ARRAY_SIZE(lengths); j++) {
			loff_t pos = (loff_t)offsets[i];
			size_t len = lengths[j];
			size_t expect = offsets[i] >= size ? 0 : MIN(len, size - offsets[i]);
			long got;

			memset(buf, 0xa5, 80000);
			got = kernel_read(f, buf, len, &pos);
			assert_int_equal(got, (long)expect);
			assert_int_equal(pos, (loff_t)(offsets[i] + expect));
			assert_memory_equal(buf, want + MIN(offsets[i], size), expect);
			/* Not one byte past what was read. */
			assert_int_equal(buf[expect], 0xa5);
		}
		/* Drop the cache between offsets: cold and warm reads both. */
		if (i % 3 == 2) {
			fput(f);
			drop_caches();
			f = open_or_fail("/data", KMM_O_RDONLY);
		}
	}
	kmm_check();
	fput(f);
	free(want);
	free(buf);
	assert_all_back();
}

/* Reads into a task's memory (sys_read, sys_pread) land at every alignment. */
static void test_sys_read_into_task_memory(void **state)
{
	const size_t size = 3 * PG + 77;
	unsigned char *want = make_host_file("/t", size, 2);
	unsigned char *got = malloc(size + 2 * PG);
	struct task *t;
	long fd, buf;

	assert_int_equal(task_spawn("reader", &t), 0);
	fd = sys_open(t, "/t", KMM_O_RDONLY, 0);
	assert_true(fd >= 0);
	buf = sys_mmap(t, 0, 6 * PG, KMM_PROT_READ | KMM_PROT_WRITE,
		       KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, -1, 0);
	assert_true(buf > 0);
	for (size_t a = 0; a < 3; a++) {
		size_t ua = a == 0 ? 0 : a == 1 ? 1 : PG - 3;

		assert_int_equal(sys_lseek(t, (int)fd, 0, KMM_SEEK_SET), 0);
		assert_int_equal(sys_read(t, (int)fd, (uintptr_t)buf + ua, size), (long)size);
		assert_int_equal(emu_copy_from_user(t, got, (uint64_t)buf + ua, size), 0);
		assert_memory_equal(got, want, size);
		/* At end of file: 0. */
		assert_int_equal(sys_read(t, (int)fd, (uintptr_t)buf, 10), 0);
	}
	assert_int_equal(sys_pread(t, (int)fd, (uintptr_t)buf + 5, 2 * PG, PG - 1), 2 * PG);
	assert_int_equal(emu_copy_from_user(t, got, (uint64_t)buf + 5, 2 * PG), 0);
	assert_memory_equal(got, want + PG - 1, 2 * PG);
	/* A buffer outside the task's areas: EFAULT, not a signal. */
	assert_int_equal(sys_lseek(t, (int)fd, 0, KMM_SEEK_SET), 0);
	assert_int_equal(sys_read(t, (int)fd, 0x1000, 10), -KMM_EFAULT);
	assert_int_equal(sys_pread(t, (int)fd, (uintptr_t)buf, 10, -1), -KMM_EINVAL);
	assert_int_equal(t->state, TASK_RUNNING);
	assert_int_equal(sys_close(t, (int)fd), 0);
	assert_int_equal(sys_close(t, (int)fd), -KMM_EBADF);
	task_exit(t, 0);
	task_release(t);
	free(want);
	free(got);
	assert_all_back();
}

static void test_hits_after_first_read(void **state)
{
	const size_t size = 40 * PG;
	unsigned char *want = make_host_file("/h", size, 3);
	unsigned char *buf = malloc(size);
	struct file *f = open_or_fail("/h", KMM_O_RDONLY);
	unsigned long miss0 = vm_event_sum(PGCACHE_MISS), hit0 = vm_event_sum(PGCACHE_HIT);
	unsigned long in0 = vm_event_sum(PGPGIN), miss1, in1;
	loff_t pos = 0;

	assert_int_equal(kernel_read(f, buf, size, &pos), (long)size);
	miss1 = vm_event_sum(PGCACHE_MISS);
	in1 = vm_event_sum(PGPGIN);
	assert_true(miss1 > miss0);
	assert_int_equal(in1 - in0, size / 1024);   /* every page read once */
	assert_int_equal(zone_sum(NR_FILE_PAGES), 40);
	/* Again: all hits, no I/O. */
	for (int k = 0; k < 3; k++) {
		pos = 0;
		memset(buf, 0, size);
		assert_int_equal(kernel_read(f, buf, size, &pos), (long)size);
		assert_memory_equal(buf, want, size);
	}
	assert_int_equal(vm_event_sum(PGCACHE_MISS), miss1);
	assert_int_equal(vm_event_sum(PGPGIN), in1);
	assert_true(vm_event_sum(PGCACHE_HIT) - hit0 >= 3 * 40);
	fput(f);
	free(want);
	free(buf);
	assert_all_back();
}

static void test_readahead_grows_on_sequential(void **state)
{
	const size_t size = 256 * PG;
	unsigned char *want = make_host_file("/seq", size, 4);
	unsigned char buf[PG];
	struct file *f = open_or_fail("/seq", KMM_O_RDONLY);
	unsigned long miss0 = vm_event_sum(PGCACHE_MISS);
	unsigned int sizes[8], n = 0;
	loff_t pos = 0;

	/* The first 4 KiB read opens a window larger than the request. */
	assert_int_equal(kernel_read(f, buf, PG, &pos), (long)PG);
	assert_true(f->f_mapping->nrpages > 1);
	assert_true(f->f_ra.size > 1);
	sizes[n++] = f->f_ra.size;
	while (pos < (loff_t)size) {
		unsigned int last = f->f_ra.size;

		assert_int_equal(kernel_read(f, buf, PG, &pos), (long)PG);
		assert_memory_equal(buf, want + pos - PG, PG);
		/* The window never shrinks while reading sequentially. */
		assert_true(f->f_ra.size >= last);
		if (f->f_ra.size != last && n < ARRAY_SIZE(sizes))
			sizes[n++] = f->f_ra.size;
	}
	/* It grew at least twice, up to the maximum of 32 pages. */
	assert_true(n >= 3);
	assert_int_equal(f->f_ra.size, 32);
	/* Readahead stayed ahead: only the very first page was a miss. */
	assert_int_equal(vm_event_sum(PGCACHE_MISS) - miss0, 1);
	assert_int_equal(f->f_mapping->nrpages, 256);
	fput(f);
	/* With 64 KiB reads (as large as a window) too: one miss in all. */
	drop_caches();
	f = open_or_fail("/seq", KMM_O_RDONLY);
	miss0 = vm_event_sum(PGCACHE_MISS);
	for (pos = 0; pos < (loff_t)size;) {
		static unsigned char big[16 * PG];

		assert_int_equal(kernel_read(f, big, sizeof(big), &pos), (long)sizeof(big));
		assert_memory_equal(big, want + pos - sizeof(big), sizeof(big));
	}
	assert_int_equal(vm_event_sum(PGCACHE_MISS) - miss0, 1);
	assert_int_equal(f->f_ra.size, 32);
	fput(f);
	free(want);
	assert_all_back();
}

static void test_readahead_not_on_random(void **state)
{
	const size_t size = 256 * PG;
	unsigned char *want = make_host_file("/rnd", size, 5);
	unsigned char buf[100];
	struct file *f = open_or_fail("/rnd", KMM_O_RDONLY);
	/* Pages far apart, never one after the previous. */
	static const unsigned int pages[] = { 200, 17, 99, 3, 150, 60, 230, 41, 120, 9 };
	unsigned long in0 = vm_event_sum(PGPGIN);

	for (size_t i = 0; i < ARRAY_SIZE(pages); i++) {
		loff_t pos = (loff_t)pages[i] * PG + 1000;

		assert_int_equal(kernel_read(f, buf, sizeof(buf), &pos), (long)sizeof(buf));
		assert_memory_equal(buf, want + pages[i] * PG + 1000, sizeof(buf));
		assert_int_equal(f->f_ra.size, 0);
	}
	/* Exactly the pages asked for were read, nothing around them. */
	assert_int_equal(f->f_mapping->nrpages, ARRAY_SIZE(pages));
	assert_int_equal(vm_event_sum(PGPGIN) - in0, ARRAY_SIZE(pages) * PG / 1024);
	fput(f);
	free(want);
	assert_all_back();
}

/* A file larger than RAM reads to the end: old clean pages make room. */
static void test_file_larger_than_ram(void **state)
{
	const size_t size = 40 * MiB;
	unsigned char *want = make_host_file("/huge", size, 14);
	unsigned char *buf = malloc(1 << 20);
	struct file *f;
	loff_t pos = 0;

	{
		struct emu_config cfg;

		th_config(&cfg, 32 * MiB, 1, EMU_DET);
		snprintf(cfg.root, sizeof(cfg.root), "%s", root);
		th_boot_cfg(&cfg);
		base_free = settled_free();
	}
	f = open_or_fail("/huge", KMM_O_RDONLY);
	while (pos < (loff_t)size) {
		loff_t at = pos;

		assert_int_equal(kernel_read(f, buf, 1 << 20, &pos), 1 << 20);
		assert_memory_equal(buf, want + at, 1 << 20);
	}
	/* Less than the file stayed cached: the machine could not hold it. */
	assert_true(f->f_mapping->nrpages < size / PG);
	kmm_check();
	fput(f);
	free(want);
	free(buf);
	assert_all_back();
}

/* ---- Writes ---- */

static void test_write_every_alignment(void **state)
{
	size_t size = 20000, hsize;
	unsigned char *model = calloc(1, 200000);
	unsigned char *init = make_host_file("/w", size, 6);
	unsigned char *buf = malloc(80000), *host;
	struct file *f = open_or_fail("/w", KMM_O_RDWR);
	unsigned long out0 = vm_event_sum(PGPGOUT);

	memcpy(model, init, size);
	srand(7);
	for (size_t i = 0; i < ARRAY_SIZE(offsets); i++) {
		for (size_t j = 0; j < ARRAY_SIZE(lengths); j++) {
			loff_t pos = (loff_t)offsets[i];
			size_t len = lengths[j];

			for (size_t k = 0; k < len; k++)
				buf[k] = (unsigned char)rand();
			assert_int_equal(kernel_write(f, buf, len, &pos), (long)len);
			assert_int_equal(pos, (loff_t)(offsets[i] + len));
			memcpy(model + offsets[i], buf, len);
			if (len && offsets[i] + len > size)
				size = offsets[i] + len;
			assert_int_equal(i_size_read(f->f_inode), (loff_t)size);
		}
		if (i == 4) {
			/* Half-way: some pages written back, some still dirty. */
			assert_int_equal(sync_all(), 0);
		}
	}
	kmm_check();
	/* Through the cache: the model. */
	{
		unsigned char *back = malloc(size);
		loff_t pos = 0;

		assert_int_equal(kernel_read(f, back, size, &pos), (long)size);
		assert_memory_equal(back, model, size);
		free(back);
	}
	/* After sync, on the host: the model, byte for byte. */
	assert_int_equal(sync_all(), 0);
	assert_true(vm_event_sum(PGPGOUT) > out0);
	host = read_host_file("/w", &hsize);
	assert_int_equal(hsize, size);
	assert_memory_equal(host, model, size);
	fput(f);
	free(model);
	free(init);
	free(buf);
	free(host);
	assert_all_back();
}

/* Writes stay in the cache: the host file changes only at writeback. */
static void test_write_does_no_io(void **state)
{
	unsigned char *init = make_host_file("/lazy", 3 * PG, 8);
	unsigned char data[100];
	struct file *f = open_or_fail("/lazy", KMM_O_WRONLY);
	unsigned long out0 = vm_event_sum(PGPGOUT);
	unsigned char *host;
	size_t hsize;
	loff_t pos = PG + 10;

	memset(data, 'x', sizeof(data));
	assert_int_equal(kernel_write(f, data, sizeof(data), &pos), (long)sizeof(data));
	assert_int_equal(zone_sum(NR_FILE_DIRTY), 1);
	assert_int_equal(f->f_mapping->nrdirty, 1);
	assert_int_equal(vm_event_sum(PGPGOUT), out0);
	host = read_host_file("/lazy", &hsize);
	assert_memory_equal(host, init, 3 * PG);
	free(host);
	/* A partial write read the page first: the rest of it is the file's. */
	assert_int_equal(filemap_write_and_wait_range(f->f_mapping, 0, (pgoff_t)-1), 0);
	assert_int_equal(zone_sum(NR_FILE_DIRTY), 0);
	host = read_host_file("/lazy", &hsize);
	memset(init + PG + 10, 'x', sizeof(data));
	assert_memory_equal(host, init, 3 * PG);
	assert_int_equal(vm_event_sum(PGPGOUT) - out0, PG / 1024);
	free(host);
	fput(f);
	free(init);
	assert_all_back();
}

static void test_truncate_append_trunc(void **state)
{
	struct task *t;
	unsigned char *init = make_host_file("/tr", 5 * PG, 9), *host;
	unsigned char got[3 * PG];
	size_t hsize;
	long fd, buf;

	assert_int_equal(task_spawn("t", &t), 0);
	buf = sys_mmap(t, 0, 4 * PG, KMM_PROT_READ | KMM_PROT_WRITE,
		       KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, -1, 0);
	assert_true(buf > 0);
	fd = sys_open(t, "/tr", KMM_O_RDWR, 0);
	assert_true(fd >= 0);
	/* Cache the whole file, then shrink it to mid-page and grow it back. */
	assert_int_equal(sys_read(t, (int)fd, (uintptr_t)buf, 3 * PG), 3 * PG);
	assert_int_equal(sys_ftruncate(t, (int)fd, PG + 100), 0);
	assert_int_equal(sys_lseek(t, (int)fd, 0, KMM_SEEK_END), PG + 100);
	kmm_check();
	assert_int_equal(sys_ftruncate(t, (int)fd, 3 * PG), 0);
	assert_int_equal(sys_pread(t, (int)fd, (uintptr_t)buf, 3 * PG, 0), 3 * PG);
	assert_int_equal(emu_copy_from_user(t, got, (uint64_t)buf, 3 * PG), 0);
	assert_memory_equal(got, init, PG + 100);
	for (size_t i = PG + 100; i < 3 * PG; i++)
		assert_int_equal(got[i], 0);
	assert_int_equal(sys_ftruncate(t, (int)fd, -1), -KMM_EINVAL);
	assert_int_equal(sys_close(t, (int)fd), 0);

	/* O_APPEND: every write at the end, whatever the position. */
	fd = sys_open(t, "/tr", KMM_O_WRONLY | KMM_O_APPEND, 0);
	assert_true(fd >= 0);
	assert_int_equal(emu_copy_to_user(t, (uint64_t)buf, "abc", 3), 0);
	assert_int_equal(sys_lseek(t, (int)fd, 0, KMM_SEEK_SET), 0);
	assert_int_equal(sys_write(t, (int)fd, (uintptr_t)buf, 3), 3);
	assert_int_equal(sys_write(t, (int)fd, (uintptr_t)buf, 3), 3);
	assert_int_equal(sys_lseek(t, (int)fd, 0, KMM_SEEK_CUR), 3 * PG + 6);
	/* pwrite too, as in Linux; the position stays. */
	assert_int_equal(sys_pwrite(t, (int)fd, (uintptr_t)buf, 1, 0), 1);
	assert_int_equal(sys_lseek(t, (int)fd, 0, KMM_SEEK_CUR), 3 * PG + 6);
	assert_int_equal(sys_lseek(t, (int)fd, 0, KMM_SEEK_END), 3 * PG + 7);
	assert_int_equal(sys_fsync(t, (int)fd), 0);
	host = read_host_file("/tr", &hsize);
	assert_int_equal(hsize, 3 * PG + 7);
	assert_memory_equal(host + 3 * PG, "abcabca", 7);
	free(host);
	assert_int_equal(sys_close(t, (int)fd), 0);

	/* O_TRUNC: empty, in the cache and on the host. */
	fd = sys_open(t, "/tr", KMM_O_RDWR | KMM_O_TRUNC, 0);
	assert_true(fd >= 0);
	assert_int_equal(sys_lseek(t, (int)fd, 0, KMM_SEEK_END), 0);
	assert_int_equal(sys_read(t, (int)fd, (uintptr_t)buf, 10), 0);
	host = read_host_file("/tr", &hsize);
	assert_int_equal(hsize, 0);
	free(host);
	/* O_CREAT | O_EXCL on an existing file. */
	assert_int_equal(sys_open(t, "/tr", KMM_O_RDWR | KMM_O_CREAT | KMM_O_EXCL, 0644),
			 -KMM_EEXIST);
	fd = sys_open(t, "/new", KMM_O_RDWR | KMM_O_CREAT | KMM_O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(sys_write(t, (int)fd, (uintptr_t)buf, 3), 3);
	kmm_check();
	task_exit(t, 0);   /* closes its descriptors */
	task_release(t);
	free(init);
	assert_all_back();
	host = read_host_file("/new", &hsize);
	assert_int_equal(hsize, 3);
	assert_memory_equal(host, "abc", 3);
	free(host);
}

/* ---- Descriptors ---- */

static void test_fork_shares_open_files(void **state)
{
	struct task *p, *c;
	unsigned char *want = make_host_file("/fk", 2 * PG, 10);
	unsigned char got[16];
	long fd, buf;

	assert_int_equal(task_spawn("p", &p), 0);
	buf = sys_mmap(p, 0, PG, KMM_PROT_READ | KMM_PROT_WRITE,
		       KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, -1, 0);
	fd = sys_open(p, "/fk", KMM_O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(sys_read(p, (int)fd, (uintptr_t)buf, 10), 10);
	assert_int_equal(task_fork(p, &c), 0);
	/* One open file description: the child continues at the parent's offset. */
	assert_int_equal(sys_read(c, (int)fd, (uintptr_t)buf, 16), 16);
	assert_int_equal(emu_copy_from_user(c, got, (uint64_t)buf, 16), 0);
	assert_memory_equal(got, want + 10, 16);
	assert_int_equal(sys_lseek(p, (int)fd, 0, KMM_SEEK_CUR), 26);
	/* Closing in the child leaves the parent's open. */
	assert_int_equal(sys_close(c, (int)fd), 0);
	assert_int_equal(sys_read(p, (int)fd, (uintptr_t)buf, 4), 4);
	task_exit(c, 0);
	task_release(c);
	task_exit(p, 0);
	task_release(p);
	free(want);
	assert_all_back();
}

/*
 * Every cached inode holds a host file open. With few host descriptors
 * left, opening a new file writes back and evicts the unused inodes
 * instead of failing with EMFILE.
 */
static void test_many_files_few_host_descriptors(void **state)
{
	struct rlimit old, low;
	unsigned int open_now = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d)))
		open_now++;
	closedir(d);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = open_now + 24;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	for (int i = 0; i < 300; i++) {
		char name[32], data[32];
		struct file *f = NULL;
		loff_t pos = 0;
		int err;

		snprintf(name, sizeof(name), "/many%03d", i);
		snprintf(data, sizeof(data), "file %d", i);
		err = file_open(name, KMM_O_WRONLY | KMM_O_CREAT, 0644, &f);
		if (err) {
			setrlimit(RLIMIT_NOFILE, &old);
			fail_msg("open of file %d: %d", i, err);
		}
		assert_int_equal(kernel_write(f, data, strlen(data), &pos), (long)strlen(data));
		fput(f);
	}
	assert_true(emu_fs_open_files() <= 24);
	assert_int_equal(sync_all(), 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	for (int i = 0; i < 300; i += 37) {
		char name[32], data[32];
		unsigned char *host;
		size_t hsize;

		snprintf(name, sizeof(name), "/many%03d", i);
		snprintf(data, sizeof(data), "file %d", i);
		host = read_host_file(name, &hsize);
		assert_int_equal(hsize, strlen(data));
		assert_memory_equal(host, data, hsize);
		free(host);
	}
	assert_all_back();
}

/* ---- Bad input ---- */

static void test_bad_input_gets_errno(void **state)
{
	struct task *t;
	long fd, buf;

	{
		char p[512];

		host_path(p, sizeof(p), "/dir");
		assert_int_equal(mkdir(p, 0755), 0);
	}
	free(make_host_file("/ro", 100, 11));
	assert_int_equal(task_spawn("t", &t), 0);
	buf = sys_mmap(t, 0, PG, KMM_PROT_READ | KMM_PROT_WRITE,
		       KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, -1, 0);
	assert_int_equal(sys_open(t, "/missing", KMM_O_RDONLY, 0), -KMM_ENOENT);
	assert_int_equal(sys_open(t, "relative", KMM_O_RDONLY, 0), -KMM_ENOENT);
	assert_int_equal(sys_open(t, "", KMM_O_RDONLY, 0), -KMM_ENOENT);
	assert_int_equal(sys_open(t, NULL, KMM_O_RDONLY, 0), -KMM_EFAULT);
	assert_int_equal(sys_open(t, "/ro", 3, 0), -KMM_EINVAL);
	/* ".." cannot leave the root: it stays at the root. */
	fd = sys_open(t, "/../../../ro", KMM_O_RDONLY, 0);
	assert_true(fd >= 0 || fd == -KMM_EACCES);
	if (fd >= 0)
		assert_int_equal(sys_close(t, (int)fd), 0);
	assert_int_equal(sys_open(t, "/../../etc/passwd", KMM_O_RDONLY, 0), -KMM_ENOENT);
	assert_int_equal(sys_open(t, "/dir", KMM_O_RDWR, 0), -KMM_EISDIR);
	/* A host FIFO is not cached (and must not block the machine). */
	{
		char p[512];

		host_path(p, sizeof(p), "/fifo");
		assert_int_equal(mkfifo(p, 0644), 0);
		assert_int_equal(sys_open(t, "/fifo", KMM_O_RDONLY, 0), -KMM_ENXIO);
		assert_int_equal(sys_open(t, "/fifo", KMM_O_WRONLY, 0), -KMM_ENXIO);
	}
	fd = sys_open(t, "/dir", KMM_O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(sys_read(t, (int)fd, (uintptr_t)buf, 10), -KMM_EISDIR);
	assert_int_equal(sys_close(t, (int)fd), 0);
	fd = sys_open(t, "/ro", KMM_O_RDONLY, 0);
	assert_int_equal(sys_write(t, (int)fd, (uintptr_t)buf, 1), -KMM_EBADF);
	assert_int_equal(sys_ftruncate(t, (int)fd, 0), -KMM_EINVAL);
	assert_int_equal(sys_lseek(t, (int)fd, 0, 7), -KMM_EINVAL);
	assert_int_equal(sys_lseek(t, (int)fd, -1, KMM_SEEK_SET), -KMM_EINVAL);
	assert_int_equal(sys_lseek(t, (int)fd, INT64_MAX, KMM_SEEK_END), -KMM_EINVAL);
	assert_int_equal(sys_read(t, (int)fd, UINT64_MAX - 5, 10), -KMM_EFAULT);
	assert_int_equal(sys_close(t, (int)fd), 0);
	fd = sys_open(t, "/ro", KMM_O_WRONLY, 0);
	assert_int_equal(sys_read(t, (int)fd, (uintptr_t)buf, 1), -KMM_EBADF);
	assert_int_equal(sys_close(t, (int)fd), 0);
	for (int bad = -1; bad <= KMM_NR_OPEN; bad += KMM_NR_OPEN + 1) {
		assert_int_equal(sys_read(t, bad, (uintptr_t)buf, 1), -KMM_EBADF);
		assert_int_equal(sys_write(t, bad, (uintptr_t)buf, 1), -KMM_EBADF);
		assert_int_equal(sys_close(t, bad), -KMM_EBADF);
		assert_int_equal(sys_fsync(t, bad), -KMM_EBADF);
		assert_int_equal(sys_lseek(t, bad, 0, 0), -KMM_EBADF);
	}
	/* Descriptors run out at KMM_NR_OPEN. */
	for (int i = 0; i < KMM_NR_OPEN; i++)
		assert_int_equal(sys_open(t, "/ro", KMM_O_RDONLY, 0), i);
	assert_int_equal(sys_open(t, "/ro", KMM_O_RDONLY, 0), -KMM_EMFILE);
	task_exit(t, 0);
	task_release(t);
	assert_int_equal(sys_open(t = NULL, "/ro", KMM_O_RDONLY, 0), -KMM_ESRCH);
	assert_all_back();
}

static void test_read_only_root(void **state)
{
	struct emu_config cfg;
	struct file *f = NULL;

	free(make_host_file("/x", 10, 12));
	th_config(&cfg, MACHINE, 2, EMU_DET);
	snprintf(cfg.root, sizeof(cfg.root), "%s", root);
	th_boot_cfg(&cfg);
	assert_int_equal(file_open("/x", KMM_O_RDWR, 0, &f), -KMM_EROFS);
	assert_int_equal(file_open("/y", KMM_O_RDONLY | KMM_O_CREAT, 0644, &f), -KMM_EROFS);
	assert_int_equal(file_open("/x", KMM_O_RDONLY | KMM_O_TRUNC, 0, &f), -KMM_EROFS);
	assert_int_equal(file_open("/x", KMM_O_RDONLY, 0, &f), 0);
	fput(f);
	drop_caches();
	assert_int_equal(emu_fs_open_files(), 0);
}

/* ---- Block devices ---- */

static void test_block_device_through_the_cache(void **state)
{
	unsigned char *disk = make_host_file("/disk.img", 64 * PG, 13), *host;
	char spec[600], p[512];
	unsigned char buf[PG];
	struct file *f;
	size_t hsize;
	loff_t pos;

	host_path(p, sizeof(p), "/disk.img");
	snprintf(spec, sizeof(spec), "vdb=%s", p);
	boot_root(spec);
	f = open_or_fail("/dev/vdb", KMM_O_RDWR);
	assert_true(f->f_inode->i_bdev);
	assert_int_equal(i_size_read(f->f_inode), 64 * PG);
	pos = 10 * PG + 5;
	assert_int_equal(kernel_read(f, buf, PG, &pos), PG);
	assert_memory_equal(buf, disk + 10 * PG + 5, PG);
	assert_true(nr_bdev_pages() > 0);
	assert_int_equal(nr_bdev_pages(), f->f_mapping->nrpages);
	{
		unsigned long v;

		assert_int_equal(kmm_stat("Buffers", &v), 0);
		assert_int_equal(v, nr_bdev_pages() * 4);
	}
	memset(buf, 'd', sizeof(buf));
	pos = 63 * PG + 100;
	/* The device does not grow: a write stops at its end. */
	assert_int_equal(kernel_write(f, buf, PG, &pos), PG - 100);
	assert_int_equal(kernel_write(f, buf, 1, &pos), -KMM_ENOSPC);
	assert_int_equal(sync_all(), 0);
	host = read_host_file("/disk.img", &hsize);
	assert_int_equal(hsize, 64 * PG);
	memset(disk + 63 * PG + 100, 'd', PG - 100);
	assert_memory_equal(host, disk, 64 * PG);
	free(host);
	fput(f);
	free(disk);
	assert_all_back();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_every_alignment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sys_read_into_task_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hits_after_first_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readahead_grows_on_sequential, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readahead_not_on_random, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_larger_than_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_every_alignment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_does_no_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncate_append_trunc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_shares_open_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_files_few_host_descriptors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input_gets_errno, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only_root, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_device_through_the_cache, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
