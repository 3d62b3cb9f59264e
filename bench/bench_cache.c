/*
 * Page-cache benchmarks (cache.*), each against the host doing the same in
 * the same run:
 *
 *   cache.read.4k        pread of 4 KiB at successive offsets of a 256 MiB
 *                        file that is fully cached, into a task's memory
 *                        (sys_pread: the cache lookup, the copy, and the
 *                        walk of the task's page tables for the buffer) vs
 *                        the host's pread of the same file from its page
 *                        cache; ns per call (throughput = 4 KiB / that)
 *   cache.read.64k       the same with 64 KiB reads
 *   cache.read.4k.kernel kernel_read into a host buffer (no task memory)
 *   cache.write_fsync    write 64 MiB in 1 MiB writes, then fsync: kmm's
 *                        cache and writeback to the host file vs the
 *                        host's write + fsync of a file of its own; ms
 *   cache.lookup.hit     find_get_page + put_page of a cached page at a
 *                        pseudo-random index of the 256 MiB file vs a
 *                        host open-addressing hash table mapping the same
 *                        indexes to pointers ("hash"), and vs the host's
 *                        1-byte pread at that page ("host-pread1")
 *
 * The files live in a temporary directory under $TMPDIR (or /tmp), which is
 * the machine's read-write root; the host's copy is read once first so
 * both sides start from a warm host page cache. KMM_BENCH_CACHE_MB sets the
 * file size (default 256).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kmm/emu.h>
#include <kmm/fs.h>
#include <kmm/mm.h>
#include <kmm/mman.h>

#include "bench.h"

#define PG 4096UL

static char dir[256];
static size_t file_bytes;

static void die(const char *what)
{
	fprintf(stderr, "bench_cache: %s\n", what);
	exit(1);
}

static void boot(uint64_t ram)
{
	struct emu_config cfg;
	char err[256] = "";

	if (emu_booted())
		emu_shutdown();
	emu_config_default(&cfg);
	cfg.ram_bytes = ram;
	cfg.cpus = 2;
	cfg.mm.quiet = true;
	snprintf(cfg.root, sizeof(cfg.root), "%s", dir);
	cfg.root_rw = true;
	if (emu_boot(&cfg, err, sizeof(err))) {
		fprintf(stderr, "bench_cache: boot failed: %s\n", err);
		exit(1);
	}
}

static void make_file(const char *name, size_t bytes)
{
	char p[512];
	char *buf = malloc(1 << 20);
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || !buf)
		die("cannot create the test file");
	for (size_t i = 0; i < (1 << 20); i++)
		buf[i] = (char)(i * 31);
	for (size_t done = 0; done < bytes; done += 1 << 20)
		if (write(fd, buf, 1 << 20) != 1 << 20)
			die("cannot write the test file");
	close(fd);
	free(buf);
}

/* ---- Reads ---- */

struct read_ctx {
	struct task *t;
	int fd;              /* kmm descriptor, or host fd */
	struct file *f;
	uintptr_t ubuf;
	char *hbuf;
	size_t chunk;
	loff_t off;
};

static void kmm_pread_loop(void *arg, uint64_t iters)
{
	struct read_ctx *c = arg;

	for (uint64_t i = 0; i < iters; i++) {
		if (sys_pread(c->t, c->fd, c->ubuf, c->chunk, c->off) != (long)c->chunk)
			die("kmm pread failed");
		c->off += (loff_t)c->chunk;
		if (c->off >= (loff_t)file_bytes)
			c->off = 0;
	}
}

static void kmm_kernel_read_loop(void *arg, uint64_t iters)
{
	struct read_ctx *c = arg;

	for (uint64_t i = 0; i < iters; i++) {
		loff_t pos = c->off;

		if (kernel_read(c->f, c->hbuf, c->chunk, &pos) != (long)c->chunk)
			die("kernel_read failed");
		bench_escape(c->hbuf);
		c->off += (loff_t)c->chunk;
		if (c->off >= (loff_t)file_bytes)
			c->off = 0;
	}
}

static void host_pread_loop(void *arg, uint64_t iters)
{
	struct read_ctx *c = arg;

	for (uint64_t i = 0; i < iters; i++) {
		if (pread(c->fd, c->hbuf, c->chunk, c->off) != (ssize_t)c->chunk)
			die("host pread failed");
		bench_escape(c->hbuf);
		c->off += (loff_t)c->chunk;
		if (c->off >= (loff_t)file_bytes)
			c->off = 0;
	}
}

static void bench_reads(void)
{
	static const size_t chunks[] = { 4096, 65536 };
	struct read_ctx k = { 0 }, h = { 0 };
	char p[512];
	long ubuf;

	if (!bench_group_selected("cache.read"))
		return;
	boot((uint64_t)file_bytes * 2 + (256UL << 20));
	if (task_spawn("bench", &k.t))
		die("spawn");
	k.fd = (int)sys_open(k.t, "/big", KMM_O_RDONLY, 0);
	ubuf = sys_mmap(k.t, 0, 1 << 20, KMM_PROT_READ | KMM_PROT_WRITE,
			KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS | KMM_MAP_POPULATE, -1, 0);
	if (k.fd < 0 || ubuf < 0)
		die("open/mmap in the machine");
	k.ubuf = (uintptr_t)ubuf;
	k.hbuf = malloc(1 << 20);
	if (file_open("/big", KMM_O_RDONLY, 0, &k.f))
		die("file_open");
	/* Warm both caches: every page of the file read once. */
	k.chunk = 1 << 20;
	kmm_pread_loop(&k, file_bytes >> 20);
	snprintf(p, sizeof(p), "%s/big", dir);
	h.fd = open(p, O_RDONLY);
	h.hbuf = malloc(1 << 20);
	if (h.fd < 0 || !h.hbuf)
		die("host open");
	h.chunk = 1 << 20;
	host_pread_loop(&h, file_bytes >> 20);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		char name[64];

		snprintf(name, sizeof(name), "cache.read.%zuk", chunks[i] >> 10);
		if (!bench_selected(name))
			continue;
		k.chunk = h.chunk = chunks[i];
		k.off = h.off = 0;
		{
			double kv = bench_ns_per_op(kmm_pread_loop, &k, 1);
			double hv = bench_ns_per_op(host_pread_loop, &h, 1);

			bench_report(name, "ns/op", kv, "host", hv);
		}
	}
	if (bench_selected("cache.read.4k.kernel")) {
		k.chunk = h.chunk = 4096;
		k.off = h.off = 0;
		double kv = bench_ns_per_op(kmm_kernel_read_loop, &k, 1);
		double hv = bench_ns_per_op(host_pread_loop, &h, 1);

		bench_report("cache.read.4k.kernel", "ns/op", kv, "host", hv);
	}
	fput(k.f);
	close(h.fd);
	free(k.hbuf);
	free(h.hbuf);
	task_exit(k.t, 0);
	task_release(k.t);
	emu_shutdown();
}

/* ---- Lookups ---- */

#define NR_KEYS 4096

struct lookup_ctx {
	struct address_space *m;
	unsigned long keys[NR_KEYS];
	/* The peer: open addressing, linear probing, power-of-two size. */
	unsigned long *hkeys;
	void **hvals;
	unsigned long hmask;
	int hostfd;
	char byte;
};

static unsigned long hash_index(unsigned long k)
{
	return (k * 0x9e3779b97f4a7c15UL) >> 17;
}

static void hash_insert(struct lookup_ctx *c, unsigned long k, void *v)
{
	unsigned long i = hash_index(k) & c->hmask;

	while (c->hvals[i] && c->hkeys[i] != k)
		i = (i + 1) & c->hmask;
	c->hkeys[i] = k;
	c->hvals[i] = v;
}

static void *hash_lookup(struct lookup_ctx *c, unsigned long k)
{
	unsigned long i = hash_index(k) & c->hmask;

	while (c->hvals[i]) {
		if (c->hkeys[i] == k)
			return c->hvals[i];
		i = (i + 1) & c->hmask;
	}
	return NULL;
}

static void kmm_lookup_loop(void *arg, uint64_t iters)
{
	struct lookup_ctx *c = arg;

	for (uint64_t i = 0; i < iters; i++) {
		struct page *p = find_get_page(c->m, c->keys[i & (NR_KEYS - 1)]);

		if (!p)
			die("lookup missed");
		put_page(p);
	}
}

static void hash_lookup_loop(void *arg, uint64_t iters)
{
	struct lookup_ctx *c = arg;

	for (uint64_t i = 0; i < iters; i++) {
		void *v = hash_lookup(c, c->keys[i & (NR_KEYS - 1)]);

		if (!v)
			die("hash missed");
		bench_escape(v);
	}
}

static void host_pread1_loop(void *arg, uint64_t iters)
{
	struct lookup_ctx *c = arg;

	for (uint64_t i = 0; i < iters; i++)
		if (pread(c->hostfd, &c->byte, 1, (off_t)(c->keys[i & (NR_KEYS - 1)] * PG)) != 1)
			die("host pread");
}

static void bench_lookup(void)
{
	struct lookup_ctx *c;
	unsigned long pages = file_bytes / PG, size = 1;
	struct file *f;
	char *buf, p[512];
	loff_t pos = 0;

	if (!bench_selected("cache.lookup.hit"))
		return;
	c = calloc(1, sizeof(*c));
	buf = malloc(1 << 20);
	boot((uint64_t)file_bytes * 2 + (256UL << 20));
	if (!c || !buf || file_open("/big", KMM_O_RDONLY, 0, &f))
		die("lookup setup");
	while (pos < (loff_t)file_bytes)
		if (kernel_read(f, buf, 1 << 20, &pos) <= 0)
			die("warm read");
	c->m = f->f_mapping;
	srand(42);
	for (int i = 0; i < NR_KEYS; i++)
		c->keys[i] = ((unsigned long)rand() * 7919UL) % pages;
	while (size < pages * 2)
		size <<= 1;
	c->hmask = size - 1;
	c->hkeys = calloc(size, sizeof(*c->hkeys));
	c->hvals = calloc(size, sizeof(*c->hvals));
	if (!c->hkeys || !c->hvals)
		die("hash");
	/* The same mapping, index -> page, in the peer's table. */
	for (unsigned long i = 0; i < pages; i++) {
		struct page *pg = find_get_page(c->m, i);

		if (!pg)
			die("page not cached");
		hash_insert(c, i, pg);
		put_page(pg);
	}
	snprintf(p, sizeof(p), "%s/big", dir);
	c->hostfd = open(p, O_RDONLY);
	{
		double kv = bench_ns_per_op(kmm_lookup_loop, c, 1);
		double hv = bench_ns_per_op(hash_lookup_loop, c, 1);
		double pv = bench_ns_per_op(host_pread1_loop, c, 1);

		bench_report("cache.lookup.hit", "ns/op", kv, "hash", hv);
		bench_report("cache.lookup.hit", "ns/op", kv, "host-pread1", pv);
	}
	close(c->hostfd);
	fput(f);
	free(c->hkeys);
	free(c->hvals);
	free(c);
	free(buf);
	emu_shutdown();
}

/* ---- Writes ---- */

#define WRITE_BYTES (64UL << 20)

struct write_ctx {
	struct file *f;
	int hostfd;
	char *buf;
};

static void kmm_write_loop(void *arg, uint64_t iters)
{
	struct write_ctx *c = arg;

	for (uint64_t i = 0; i < iters; i++) {
		loff_t pos = 0;

		for (size_t done = 0; done < WRITE_BYTES; done += 1 << 20)
			if (kernel_write(c->f, c->buf, 1 << 20, &pos) != 1 << 20)
				die("kmm write");
		if (filemap_write_and_wait_range(c->f->f_mapping, 0, (pgoff_t)-1) ||
		    arch_fs_fsync(c->f->f_inode->i_host, false))
			die("kmm fsync");
	}
}

static void host_write_loop(void *arg, uint64_t iters)
{
	struct write_ctx *c = arg;

	for (uint64_t i = 0; i < iters; i++) {
		for (size_t done = 0; done < WRITE_BYTES; done += 1 << 20)
			if (pwrite(c->hostfd, c->buf, 1 << 20, (off_t)done) != 1 << 20)
				die("host write");
		if (fsync(c->hostfd))
			die("host fsync");
	}
}

static void bench_write(void)
{
	struct write_ctx k = { 0 }, h = { 0 };
	char p[512];

	if (!bench_selected("cache.write_fsync"))
		return;
	boot(1UL << 30);
	k.buf = h.buf = malloc(1 << 20);
	memset(k.buf, 'w', 1 << 20);
	if (file_open("/wk", KMM_O_RDWR | KMM_O_CREAT | KMM_O_TRUNC, 0644, &k.f))
		die("kmm open for write");
	snprintf(p, sizeof(p), "%s/wh", dir);
	h.hostfd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (h.hostfd < 0)
		die("host open for write");
	{
		double kv = bench_ns_per_op(kmm_write_loop, &k, 1) / 1e6;
		double hv = bench_ns_per_op(host_write_loop, &h, 1) / 1e6;

		bench_report("cache.write_fsync", "ms/op", kv, "host", hv);
	}
	fput(k.f);
	close(h.hostfd);
	free(k.buf);
	emu_shutdown();
}

static void cleanup(void)
{
	char p[600];

	snprintf(p, sizeof(p), "%s/big", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/wk", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/wh", dir);
	unlink(p);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR");
	const char *mb = getenv("KMM_BENCH_CACHE_MB");

	bench_init(argc, argv);
	if (!bench_group_selected("cache"))
		return 0;
	file_bytes = (size_t)(mb ? strtoul(mb, NULL, 10) : 256) << 20;
	if (file_bytes < (1 << 20))
		file_bytes = 1 << 20;
	snprintf(dir, sizeof(dir), "%s/kmm-bench-cache-XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		die("mkdtemp");
	atexit(cleanup);
	if (bench_group_selected("cache.read") || bench_selected("cache.lookup.hit"))
		make_file("big", file_bytes);
	bench_reads();
	bench_lookup();
	bench_write();
	return 0;
}
