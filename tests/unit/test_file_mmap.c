/*
 * File mappings (mm/mmap.c, mm/memory.c, mm/vma.c over mm/filemap.c): a
 * shared mapping's stores reach the file after msync and after sync, a
 * private mapping's never do; a read-shared page is the cache page itself;
 * the first write to a private page copies it; a fault past the end of the
 * file is SIGBUS; fork, split, mremap and munmap keep the i_mmap lists and
 * the file references right; every frame comes back after the tasks exit,
 * the files are closed and the caches dropped. Every test checks the
 * invariants (mm_rmap_check, vma_check, filemap_check) as it goes.
 *
 * The machine's root is a fresh host directory (--root DIR --rw); the tests
 * read the host files directly to see what reached them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
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
#include <kmm/mmzone.h>
#include <kmm/page_alloc.h>
#include <kmm/printk.h>

#include "helpers.h"
#include "area_test.h"

#define MACHINE (64 * MiB)
#define PG PAGE_SIZE
#define PROT_R KMM_PROT_READ
#define PROT_RW (KMM_PROT_READ | KMM_PROT_WRITE)
#define SHARED KMM_MAP_SHARED
#define PRIVATE KMM_MAP_PRIVATE

/* The test file: 3 pages and 100 bytes, byte i = pattern(i). */
#define FILE_SIZE (3 * PG + 100)

static char root[256];
static unsigned long free_at_boot;

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 7 + 3);
}

static void host_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", root, name);
}

static void write_host_file(const char *name, size_t size)
{
	char path[512];
	unsigned char *buf = malloc(size);
	FILE *f;

	assert_non_null(buf);
	for (size_t i = 0; i < size; i++)
		buf[i] = pattern(i);
	host_path(path, sizeof(path), name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, size, f), size);
	fclose(f);
	free(buf);
}

/* The byte at off of the host file, read past every cache of ours. */
static int host_byte(const char *name, size_t off)
{
	char path[512];
	unsigned char b;
	int fd;
	ssize_t n;

	host_path(path, sizeof(path), name);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = pread(fd, &b, 1, (off_t)off);
	close(fd);
	return n == 1 ? b : -1;
}

static void check_all(void)
{
	task_check_all();
	mm_rmap_check();
	filemap_check();
}

static unsigned long file_mapped(void)
{
	unsigned long n = 0;
	struct zone *z;

	for_each_zone(z)
		n += zone_page_state(z, NR_FILE_MAPPED);
	return n;
}

static struct task *boot_and_spawn(void)
{
	struct emu_config cfg;
	struct task *t;

	snprintf(root, sizeof(root), "/tmp/kmm-file-mmap-XXXXXX");
	assert_non_null(mkdtemp(root));
	write_host_file("data", FILE_SIZE);
	th_config(&cfg, MACHINE, 1, EMU_DET);
	snprintf(cfg.root, sizeof(cfg.root), "%s", root);
	cfg.root_rw = true;
	th_boot_cfg(&cfg);
	free_at_boot = at_settled_free();
	assert_int_equal(task_spawn("test", &t), 0);
	return t;
}

/* Exits every task, syncs, drops the caches: every frame must be back. */
static void reap_all(void)
{
	char cmd[600];

	at_reap_all();
	assert_int_equal(file_mapped(), 0);
	/* Dirty pages stay cached until written: sync, then drop. */
	assert_int_equal(sys_sync(), 0);
	drop_caches();
	filemap_check();
	assert_int_equal(at_settled_free(), free_at_boot);
	th_shutdown();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

static uint64_t load(struct task *t, uintptr_t a, unsigned int size)
{
	uint64_t v = 0;

	assert_int_equal(emu_load(t, a, size, &v), 0);
	return v;
}

static void store(struct task *t, uintptr_t a, unsigned int size, uint64_t v)
{
	assert_int_equal(emu_store(t, a, size, v), 0);
}

static int open_data(struct task *t, int flags)
{
	long fd = sys_open(t, "/data", flags, 0);

	assert_true(fd >= 0);
	return (int)fd;
}

static struct page *pte_page(struct task *t, uintptr_t a)
{
	pteval_t *ptep = pte_lookup(t->mm, a);

	if (!ptep || !pte_present(pte_read(ptep)))
		return NULL;
	return pfn_to_page(pte_pfn(pte_read(ptep)));
}

static bool pte_writable(struct task *t, uintptr_t a)
{
	pteval_t *ptep = pte_lookup(t->mm, a);

	return ptep && pte_present(pte_read(ptep)) && pte_write(pte_read(ptep));
}

static unsigned int i_mmap_count(struct address_space *mapping)
{
	struct list_head *pos;
	unsigned int n = 0;

	spin_lock(&mapping->i_mmap_lock);
	for (pos = mapping->i_mmap.next; pos != &mapping->i_mmap; pos = pos->next)
		n++;
	spin_unlock(&mapping->i_mmap_lock);
	return n;
}

static struct address_space *mapping_of(struct task *t, int fd)
{
	struct file *f = fget(t, fd);
	struct address_space *m;

	assert_non_null(f);
	m = f->f_mapping;
	fput(f);
	return m;
}

/* ---- Shared and private stores ---- */

static void test_shared_store_reaches_file(void **state)
{
	struct task *t = boot_and_spawn();
	int fd = open_data(t, KMM_O_RDWR);
	long a = sys_mmap(t, 0, 3 * PG, PROT_RW, SHARED, fd, 0);

	(void)state;
	assert_true(a > 0);
	/* A read maps the page read-only: the first store must fault and dirty it. */
	assert_int_equal(load(t, (uintptr_t)a + 10, 1), pattern(10));
	assert_false(pte_writable(t, (uintptr_t)a));
	store(t, (uintptr_t)a + 10, 1, 0xab);
	assert_true(pte_writable(t, (uintptr_t)a));
	assert_true(page_flag(pte_page(t, (uintptr_t)a), PG_dirty));
	/* A store to a page never read: a write fault maps it writable. */
	store(t, (uintptr_t)a + PG + 5, 1, 0xcd);
	check_all();
	/* Nothing written back yet: the host file is as it was. */
	assert_int_equal(host_byte("data", 10), pattern(10));
	assert_int_equal(sys_msync(t, (uintptr_t)a, 3 * PG, KMM_MS_SYNC), 0);
	assert_int_equal(host_byte("data", 10), 0xab);
	assert_int_equal(host_byte("data", PG + 5), 0xcd);
	assert_false(page_flag(pte_page(t, (uintptr_t)a), PG_dirty));

	/* After writeback the entry is clean and read-only: the next store dirties it again. */
	store(t, (uintptr_t)a + 11, 1, 0x5a);
	assert_true(page_flag(pte_page(t, (uintptr_t)a), PG_dirty));
	assert_int_equal(host_byte("data", 11), pattern(11));
	assert_int_equal(sys_sync(), 0);
	assert_int_equal(host_byte("data", 11), 0x5a);

	/* Stores through a writable entry leave only the D bit: msync collects it. */
	store(t, (uintptr_t)a + 12, 1, 0x77);
	assert_true(pte_writable(t, (uintptr_t)a));
	store(t, (uintptr_t)a + 13, 1, 0x78);
	assert_int_equal(sys_msync(t, (uintptr_t)a, PG, KMM_MS_SYNC), 0);
	assert_int_equal(host_byte("data", 12), 0x77);
	assert_int_equal(host_byte("data", 13), 0x78);

	/* An unmap keeps a dirty page's stores: they reach the file at sync. */
	store(t, (uintptr_t)a + 2 * PG, 2, 0x4242);
	check_all();
	assert_int_equal(sys_munmap(t, (uintptr_t)a, 3 * PG), 0);
	assert_int_equal(sys_sync(), 0);
	assert_int_equal(host_byte("data", 2 * PG), 0x42);
	assert_int_equal(host_byte("data", 2 * PG + 1), 0x42);
	assert_int_equal(sys_close(t, fd), 0);
	reap_all();
}

static void test_private_store_never_reaches_file(void **state)
{
	struct task *t = boot_and_spawn();
	int fd = open_data(t, KMM_O_RDWR);
	long a = sys_mmap(t, 0, 3 * PG, PROT_RW, PRIVATE, fd, 0);
	long b = sys_mmap(t, 0, 3 * PG, PROT_R, SHARED, fd, 0);

	(void)state;
	assert_true(a > 0 && b > 0);
	store(t, (uintptr_t)a + 10, 1, 0xab);
	store(t, (uintptr_t)a + 2 * PG, 8, 0x1122334455667788ULL);
	assert_int_equal(load(t, (uintptr_t)a + 10, 1), 0xab);
	/* The cache (seen through the shared mapping) and the file keep their bytes. */
	assert_int_equal(load(t, (uintptr_t)b + 10, 1), pattern(10));
	assert_int_equal(sys_msync(t, (uintptr_t)a, 3 * PG, KMM_MS_SYNC), 0);
	assert_int_equal(sys_sync(), 0);
	assert_int_equal(host_byte("data", 10), pattern(10));
	assert_int_equal(host_byte("data", 2 * PG), pattern(2 * PG));
	assert_int_equal(load(t, (uintptr_t)b + 2 * PG, 1), pattern(2 * PG));
	check_all();
	assert_int_equal(sys_close(t, fd), 0);
	/* The areas hold the file: the mappings work after close. */
	assert_int_equal(load(t, (uintptr_t)a + PG, 1), pattern(PG));
	reap_all();
}

/* ---- Which page is mapped ---- */

static void test_read_shares_cache_page(void **state)
{
	struct task *t = boot_and_spawn();
	int fd = open_data(t, KMM_O_RDONLY);
	struct address_space *m = mapping_of(t, fd);
	long a = sys_mmap(t, 0, 3 * PG, PROT_R, PRIVATE, fd, 0);
	long b = sys_mmap(t, 0, 2 * PG, PROT_R, SHARED, fd, PG);
	struct page *cached;
	unsigned long mapped0 = file_mapped();

	(void)state;
	assert_true(a > 0 && b > 0);
	assert_int_equal(load(t, (uintptr_t)a + PG + 1, 1), pattern(PG + 1));
	cached = find_get_page(m, 1);
	assert_non_null(cached);
	assert_ptr_equal(pte_page(t, (uintptr_t)a + PG), cached);
	assert_false(pte_writable(t, (uintptr_t)a + PG));
	assert_int_equal(file_mapped(), mapped0 + 1);
	assert_int_equal(get_mm_counter(t->mm, MM_FILEPAGES), 1);
	assert_int_equal(get_mm_counter(t->mm, MM_ANONPAGES), 0);
	/* The shared mapping at offset 1 page maps the same frame at its start. */
	assert_int_equal(load(t, (uintptr_t)b, 1), pattern(PG));
	assert_ptr_equal(pte_page(t, (uintptr_t)b), cached);
	assert_int_equal(atomic_load(&cached->_mapcount), 1);
	/* cache + two entries + our find_get_page reference */
	assert_int_equal(page_ref_count(cached), 4);
	assert_int_equal(file_mapped(), mapped0 + 1);
	put_page(cached);
	check_all();
	/* A read-only shared mapping of a read-only file can never be written. */
	assert_int_equal(sys_mprotect(t, (uintptr_t)b, PG, PROT_RW), -KMM_EACCES);
	assert_int_equal(sys_close(t, fd), 0);
	reap_all();
}

static void test_cow_from_file(void **state)
{
	struct task *t = boot_and_spawn();
	int fd = open_data(t, KMM_O_RDONLY);
	struct address_space *m = mapping_of(t, fd);
	long a = sys_mmap(t, 0, 4 * PG, PROT_RW, PRIVATE, fd, 0);
	struct page *cached, *copy;
	unsigned long cow0 = t->cow_flt;

	(void)state;
	assert_true(a > 0);
	assert_int_equal(load(t, (uintptr_t)a + 3, 1), pattern(3));
	cached = pte_page(t, (uintptr_t)a);
	assert_non_null(cached);
	assert_int_equal(get_mm_counter(t->mm, MM_FILEPAGES), 1);
	/* The first write copies the cache page into an anonymous one. */
	store(t, (uintptr_t)a + 3, 1, 0xee);
	copy = pte_page(t, (uintptr_t)a);
	assert_ptr_not_equal(copy, cached);
	assert_true(pte_writable(t, (uintptr_t)a));
	assert_int_equal(t->cow_flt, cow0 + 1);
	assert_int_equal(get_mm_counter(t->mm, MM_FILEPAGES), 0);
	assert_int_equal(get_mm_counter(t->mm, MM_ANONPAGES), 1);
	assert_int_equal(load(t, (uintptr_t)a + 3, 1), 0xee);
	assert_int_equal(load(t, (uintptr_t)a + 4, 1), pattern(4));
	assert_int_equal(((unsigned char *)page_address(cached))[3], pattern(3));
	assert_int_equal(atomic_load(&cached->_mapcount), -1);
	/* A write to a page never read copies at once (never maps the cache page). */
	store(t, (uintptr_t)a + PG, 1, 0x11);
	assert_int_equal(load(t, (uintptr_t)a + PG + 1, 1), pattern(PG + 1));
	{
		struct page *p1 = find_get_page(m, 1);

		assert_non_null(p1);
		assert_ptr_not_equal(pte_page(t, (uintptr_t)a + PG), p1);
		assert_int_equal(((unsigned char *)page_address(p1))[0], pattern(PG));
		put_page(p1);
	}
	/* The last page is partial: the bytes past the end of the file read as zeros. */
	assert_int_equal(load(t, (uintptr_t)a + 3 * PG + 99, 1), pattern(3 * PG + 99));
	assert_int_equal(load(t, (uintptr_t)a + 3 * PG + 100, 1), 0);
	check_all();
	assert_int_equal(sys_close(t, fd), 0);
	reap_all();
}

static void test_sigbus_past_eof(void **state)
{
	struct task *t = boot_and_spawn();
	int fd = open_data(t, KMM_O_RDWR);
	long a = sys_mmap(t, 0, 8 * PG, PROT_RW, SHARED, fd, 0);
	struct task *u;
	uint64_t v;

	(void)state;
	assert_true(a > 0);
	assert_int_equal(load(t, (uintptr_t)a + 3 * PG + 200, 1), 0);
	assert_int_equal(emu_load(t, (uintptr_t)a + 4 * PG, 1, &v), -KMM_EFAULT);
	assert_int_equal(t->state, TASK_DEAD);
	assert_int_equal(t->exit_signal, KMM_SIGBUS);
	assert_int_equal(t->fault_code, KMM_BUS_ADRERR);
	assert_int_equal(t->fault_addr, (uintptr_t)a + 4 * PG);
	/* A private mapping too, and a write as well as a read. */
	assert_int_equal(task_spawn("u", &u), 0);
	fd = open_data(u, KMM_O_RDONLY);
	a = sys_mmap(u, 0, 8 * PG, PROT_RW, PRIVATE, fd, 2 * PG);
	assert_true(a > 0);
	store(u, (uintptr_t)a + PG + 50, 1, 1);
	assert_int_equal(emu_store(u, (uintptr_t)a + 2 * PG, 1, 1), -KMM_EFAULT);
	assert_int_equal(u->exit_signal, KMM_SIGBUS);
	check_all();
	reap_all();
}

/* ---- Argument checks ---- */

static void test_mmap_errors(void **state)
{
	struct task *t = boot_and_spawn();
	int rw = open_data(t, KMM_O_RDWR), ro = open_data(t, KMM_O_RDONLY);
	int wo = open_data(t, KMM_O_WRONLY);
	long a;

	(void)state;
	assert_int_equal(sys_mmap(t, 0, PG, PROT_R, PRIVATE, 77, 0), -KMM_EBADF);
	assert_int_equal(sys_mmap(t, 0, PG, PROT_R, PRIVATE, -1, 0), -KMM_EBADF);
	assert_int_equal(sys_mmap(t, 0, PG, PROT_R, PRIVATE, rw, 100), -KMM_EINVAL);
	assert_int_equal(sys_mmap(t, 0, 0, PROT_R, PRIVATE, rw, 0), -KMM_EINVAL);
	assert_int_equal(sys_mmap(t, 0, PG, PROT_R, 0, rw, 0), -KMM_EINVAL);
	assert_int_equal(sys_mmap(t, 0, PG, PROT_R, PRIVATE, wo, 0), -KMM_EACCES);
	assert_int_equal(sys_mmap(t, 0, PG, PROT_RW, SHARED, ro, 0), -KMM_EACCES);
	assert_int_equal(sys_mmap(t, 0, PG, PROT_R, PRIVATE | KMM_MAP_GROWSDOWN, rw, 0),
			 -KMM_EINVAL);
	/* Read-only file: private writable is fine, shared read-only is "s" without VM_SHARED. */
	a = sys_mmap(t, 0, PG, PROT_RW, PRIVATE, ro, 0);
	assert_true(a > 0);
	a = sys_mmap(t, 0, PG, PROT_R, SHARED, ro, 0);
	assert_true(a > 0);
	{
		struct vm_area *vma = vma_lookup(t->mm, (uintptr_t)a);

		assert_non_null(vma);
		assert_true(vma->vm_flags & VM_MAYSHARE);
		assert_false(vma->vm_flags & (VM_SHARED | VM_MAYWRITE));
	}
	/* msync: flags and alignment as Linux checks them; holes are ENOMEM. */
	assert_int_equal(sys_msync(t, (uintptr_t)a, PG, KMM_MS_SYNC | KMM_MS_ASYNC), -KMM_EINVAL);
	assert_int_equal(sys_msync(t, (uintptr_t)a, PG, 8), -KMM_EINVAL);
	assert_int_equal(sys_msync(t, (uintptr_t)a + 1, PG, KMM_MS_SYNC), -KMM_EINVAL);
	assert_int_equal(sys_msync(t, (uintptr_t)a, 0, KMM_MS_SYNC), 0);
	assert_int_equal(sys_msync(t, 0x10000, PG, KMM_MS_SYNC), -KMM_ENOMEM);
	assert_int_equal(sys_msync(t, 0x10000, PG, KMM_MS_ASYNC), -KMM_ENOMEM);
	assert_int_equal(sys_msync(t, (uintptr_t)a, PG, KMM_MS_ASYNC | KMM_MS_INVALIDATE), 0);
	assert_int_equal(sys_msync(t, (uintptr_t)a - PG, 2 * PG, KMM_MS_ASYNC), -KMM_ENOMEM);
	check_all();
	reap_all();
}

/* ---- The area bookkeeping: i_mmap, file references ---- */

static void test_fork_split_mremap_unmap(void **state)
{
	struct task *t = boot_and_spawn();
	int fd = open_data(t, KMM_O_RDWR);
	struct address_space *m = mapping_of(t, fd);
	long sh = sys_mmap(t, 0, 3 * PG, PROT_RW, SHARED, fd, 0);
	long pv = sys_mmap(t, 0, 3 * PG, PROT_RW, PRIVATE, fd, 0);
	struct task *c;
	long moved;

	(void)state;
	assert_true(sh > 0 && pv > 0);
	assert_int_equal(i_mmap_count(m), 2);
	store(t, (uintptr_t)pv, 1, 0x99);        /* a private copy */
	assert_int_equal(load(t, (uintptr_t)pv + PG, 1), pattern(PG));   /* the cache page */
	store(t, (uintptr_t)sh + PG, 1, 0x31);
	assert_int_equal(task_fork(t, &c), 0);
	assert_int_equal(i_mmap_count(m), 4);
	check_all();
	/* The child shares the file pages and the shared stores; private stays private. */
	assert_int_equal(load(c, (uintptr_t)sh + PG, 1), 0x31);
	store(c, (uintptr_t)sh + PG, 1, 0x32);
	assert_int_equal(load(t, (uintptr_t)sh + PG, 1), 0x32);
	assert_int_equal(load(c, (uintptr_t)pv, 1), 0x99);
	/*
	 * t's private page 1 was only read: it is still the cache page, so it
	 * shows the shared mapping's store (as in Linux); the child's write
	 * there makes a copy that only the child sees.
	 */
	assert_int_equal(load(t, (uintptr_t)pv + PG, 1), 0x32);
	store(c, (uintptr_t)pv + PG, 1, 0x44);
	assert_int_equal(load(t, (uintptr_t)pv + PG, 1), 0x32);
	assert_int_equal(load(c, (uintptr_t)pv + PG, 1), 0x44);
	assert_int_equal(get_mm_counter(c->mm, MM_FILEPAGES) + get_mm_counter(c->mm, MM_ANONPAGES),
			 get_mm_counter(t->mm, MM_FILEPAGES) + get_mm_counter(t->mm, MM_ANONPAGES));
	check_all();

	/* A split puts both halves on the list; a merge back takes one off. */
	assert_int_equal(sys_mprotect(t, (uintptr_t)sh + PG, PG, PROT_R), 0);
	assert_int_equal(i_mmap_count(m), 6);
	assert_int_equal(sys_mprotect(t, (uintptr_t)sh + PG, PG, PROT_RW), 0);
	assert_int_equal(i_mmap_count(m), 4);
	/* mremap moves the area (and keeps its offset); the contents follow. */
	moved = sys_mremap(t, (uintptr_t)sh, 3 * PG, 3 * PG, KMM_MREMAP_MAYMOVE | KMM_MREMAP_FIXED,
			   0x200000000UL);
	assert_int_equal(moved, 0x200000000L);
	assert_int_equal(i_mmap_count(m), 4);
	assert_int_equal(load(t, (uintptr_t)moved + PG, 1), 0x32);
	assert_int_equal(load(t, (uintptr_t)moved + 2 * PG + 5, 1), pattern(2 * PG + 5));
	check_all();
	/* Unmapping the middle of the private area leaves two areas. */
	assert_int_equal(sys_munmap(c, (uintptr_t)pv + PG, PG), 0);
	assert_int_equal(i_mmap_count(m), 5);
	check_all();
	task_exit(c, 0);
	assert_int_equal(i_mmap_count(m), 2);
	assert_int_equal(sys_munmap(t, (uintptr_t)moved, 3 * PG), 0);
	assert_int_equal(sys_munmap(t, (uintptr_t)pv, 3 * PG), 0);
	assert_int_equal(i_mmap_count(m), 0);
	assert_int_equal(get_mm_counter(t->mm, MM_FILEPAGES), 0);
	assert_int_equal(get_mm_counter(t->mm, MM_ANONPAGES), 0);
	assert_int_equal(file_mapped(), 0);
	check_all();
	assert_int_equal(sys_sync(), 0);
	assert_int_equal(host_byte("data", PG), 0x32);
	assert_int_equal(sys_close(t, fd), 0);
	reap_all();
}

/* The files must be released once the last area goes: drop_caches then frees their pages. */
static void test_exit_releases_everything(void **state)
{
	struct task *t = boot_and_spawn();
	int fd = open_data(t, KMM_O_RDWR);
	struct file *f = fget(t, fd);
	int count0 = atomic_load(&f->f_count);
	long a = sys_mmap(t, 0, 4 * PG, PROT_RW, SHARED | KMM_MAP_POPULATE, fd, 0);
	long b = sys_mmap(t, 0, 4 * PG, PROT_RW, PRIVATE | KMM_MAP_POPULATE, fd, 0);
	struct task *c;

	(void)state;
	assert_true(a > 0 && b > 0);
	/* Each area holds a reference on the open file. */
	assert_int_equal(atomic_load(&f->f_count), count0 + 2);
	/* Populating a private writable mapping writes: copies, as Linux's FOLL_WRITE. */
	assert_int_equal(get_mm_counter(t->mm, MM_FILEPAGES), 4);
	assert_int_equal(get_mm_counter(t->mm, MM_ANONPAGES), 4);
	assert_int_equal(file_mapped(), 4);
	store(t, (uintptr_t)b, 1, 1);
	assert_int_equal(task_fork(t, &c), 0);
	/* The child's areas took two more (its descriptor table may take one too). */
	assert_true(atomic_load(&f->f_count) >= count0 + 4);
	assert_int_equal(sys_munmap(c, (uintptr_t)a, 4 * PG), 0);
	assert_true(atomic_load(&f->f_count) >= count0 + 3);
	fput(f);
	assert_int_equal(sys_close(t, fd), 0);
	check_all();
	/* Mapped pages stay cached through drop_caches. */
	drop_caches();
	assert_int_equal(file_mapped(), 4);
	check_all();
	reap_all();
}

/* ftruncate unmaps what lies past the new end: a later access is SIGBUS. */
static void test_truncate_while_mapped(void **state)
{
	struct task *t = boot_and_spawn();
	int fd = open_data(t, KMM_O_RDWR);
	long a = sys_mmap(t, 0, 4 * PG, PROT_RW, SHARED, fd, 0);
	long b = sys_mmap(t, 0, 4 * PG, PROT_RW, PRIVATE, fd, 0);
	uint64_t v;

	(void)state;
	assert_true(a > 0 && b > 0);
	assert_int_equal(emu_touch(t, (uintptr_t)a, 4 * PG, false), 0);
	store(t, (uintptr_t)a + 2 * PG, 1, 0x66);
	store(t, (uintptr_t)b + 2 * PG, 1, 0x67);   /* a private copy, past the new end too */
	assert_int_equal(load(t, (uintptr_t)b + PG, 1), pattern(PG));
	assert_int_equal(get_mm_counter(t->mm, MM_FILEPAGES), 5);
	assert_int_equal(sys_ftruncate(t, fd, PG + 10), 0);
	check_all();
	assert_int_equal(get_mm_counter(t->mm, MM_FILEPAGES), 3);
	assert_int_equal(get_mm_counter(t->mm, MM_ANONPAGES), 0);
	/* Inside the new size: still the file's bytes; the rest of the last page is zero. */
	assert_int_equal(load(t, (uintptr_t)a + PG + 9, 1), pattern(PG + 9));
	assert_int_equal(load(t, (uintptr_t)b + PG + 10, 1), 0);
	assert_int_equal(emu_load(t, (uintptr_t)a + 2 * PG, 1, &v), -KMM_EFAULT);
	assert_int_equal(t->exit_signal, KMM_SIGBUS);
	check_all();
	reap_all();
}

/* smaps: file pages are Shared/Private Clean/Dirty as their mappings say, never Anonymous. */
static unsigned long smaps_field(const char *text, uintptr_t start, const char *field)
{
	char head[32];
	const char *p;

	snprintf(head, sizeof(head), "%08lx-", (unsigned long)start);
	p = strstr(text, head);
	assert_non_null(p);
	p = strstr(p, field);
	assert_non_null(p);
	return strtoul(p + strlen(field), NULL, 10);
}

static void test_smaps_file_pages(void **state)
{
	static char buf[64 * 1024];
	struct task *t = boot_and_spawn();
	int fd = open_data(t, KMM_O_RDWR), fd2;
	long a = sys_mmap(t, 0, 3 * PG, PROT_RW, SHARED, fd, 0);
	long b;
	struct seq_buf sb;
	struct task *c;
	char line[160];

	(void)state;
	/* The private mapping is of another file, so no page is in both areas. */
	write_host_file("other", 3 * PG);
	fd2 = (int)sys_open(t, "/other", KMM_O_RDONLY, 0);
	assert_true(fd2 >= 0);
	b = sys_mmap(t, 0, 3 * PG, PROT_RW, PRIVATE, fd2, 0);
	assert_true(a > 0 && b > 0);
	assert_int_equal(emu_touch(t, (uintptr_t)a, 3 * PG, false), 0);
	store(t, (uintptr_t)a, 1, 1);                 /* page 0 dirty */
	assert_int_equal(emu_touch(t, (uintptr_t)b, 2 * PG, false), 0);
	store(t, (uintptr_t)b + PG, 1, 1);            /* page 1 copied: anonymous */
	assert_int_equal(task_fork(t, &c), 0);
	assert_int_equal(emu_touch(c, (uintptr_t)a + 2 * PG, PG, false), 0);
	seq_buf_init(&sb, buf, sizeof(buf));
	assert_int_equal(kmm_view_show("smaps", t->pid, &sb), 0);
	/* Shared area: page 0 (dirty) and 1 mapped by t only, page 2 by both. */
	assert_int_equal(smaps_field(buf, (uintptr_t)a, "Rss:"), 12);
	assert_int_equal(smaps_field(buf, (uintptr_t)a, "Private_Dirty:"), 4);
	assert_int_equal(smaps_field(buf, (uintptr_t)a, "Private_Clean:"), 4);
	assert_int_equal(smaps_field(buf, (uintptr_t)a, "Shared_Clean:"), 4);
	assert_int_equal(smaps_field(buf, (uintptr_t)a, "Anonymous:"), 0);
	/* Private area: page 0 the cache page, page 1 an anonymous copy (shared with the child). */
	assert_int_equal(smaps_field(buf, (uintptr_t)b, "Rss:"), 8);
	assert_int_equal(smaps_field(buf, (uintptr_t)b, "Anonymous:"), 4);
	/* maps: the offset, device, inode and path of the file. */
	{
		struct file *f = fget(t, fd);

		snprintf(line, sizeof(line), "%08lx-%08lx rw-s 00000000 %02x:%02x %lu",
			 (unsigned long)a, (unsigned long)a + 3 * PG, f->f_inode->i_dev >> 8,
			 f->f_inode->i_dev & 0xff, (unsigned long)f->f_inode->i_ino);
		fput(f);
	}
	assert_non_null(strstr(buf, line));
	assert_non_null(strstr(strstr(buf, line), " /data\n"));
	check_all();
	reap_all();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_shared_store_reaches_file, th_teardown),
		cmocka_unit_test_teardown(test_private_store_never_reaches_file, th_teardown),
		cmocka_unit_test_teardown(test_read_shares_cache_page, th_teardown),
		cmocka_unit_test_teardown(test_cow_from_file, th_teardown),
		cmocka_unit_test_teardown(test_sigbus_past_eof, th_teardown),
		cmocka_unit_test_teardown(test_mmap_errors, th_teardown),
		cmocka_unit_test_teardown(test_fork_split_mremap_unmap, th_teardown),
		cmocka_unit_test_teardown(test_exit_releases_everything, th_teardown),
		cmocka_unit_test_teardown(test_truncate_while_mapped, th_teardown),
		cmocka_unit_test_teardown(test_smaps_file_pages, th_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
