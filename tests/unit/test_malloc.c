/*
 * libkmm-malloc's interface (tools/malloc/malloc.c over arch/native), built
 * with the interface renamed kmmtest_* (KMM_MALLOC_PREFIX) so that it runs
 * under ASan+UBSan beside the sanitizer's own malloc: every function, every
 * alignment, the size paths (small, large, huge), glibc's contract at the
 * edges (errno, malloc(0), realloc(p, 0)), the hardening (invalid and
 * double frees abort naming the pointer, in a child process), fork, the
 * heap growing by sections and memory going back to the host; the core's
 * invariant checkers after each.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <kmm/slab.h>

#include "kmm_malloc.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *kmmtest_malloc(size_t n);
void kmmtest_free(void *p);
void *kmmtest_calloc(size_t n, size_t size);
void *kmmtest_realloc(void *p, size_t n);
void *kmmtest_reallocarray(void *p, size_t n, size_t size);
int kmmtest_posix_memalign(void **out, size_t align, size_t n);
void *kmmtest_aligned_alloc(size_t align, size_t n);
void *kmmtest_memalign(size_t align, size_t n);
void *kmmtest_valloc(size_t n);
void *kmmtest_pvalloc(size_t n);
size_t kmmtest_malloc_usable_size(void *p);
int kmmtest_malloc_trim(size_t pad);

static void fill(void *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		((unsigned char *)p)[i] = (unsigned char)(seed + i * 7);
}

static bool filled(const void *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n; i++)
		if (((const unsigned char *)p)[i] != (unsigned char)(seed + i * 7))
			return false;
	return true;
}

/* Every size from 0 to 40 KiB in steps, and the large and huge paths. */
static void test_malloc_sizes(void **state)
{
	static const size_t big[] = { 40000, 65536, 100000, 1 << 20, (1 << 20) + 1,
				      3 << 20, 17 << 20 };
	void *held[512];
	unsigned int n = 0;

	for (size_t size = 0; size <= 40000; size += size < 512 ? 1 : 97) {
		void *p = kmmtest_malloc(size);

		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		assert_true(kmmtest_malloc_usable_size(p) >= size);
		fill(p, size, (unsigned int)size);
		if (n < 512)
			held[n++] = p;
		else
			kmmtest_free(p);
	}
	for (unsigned int i = 0; i < ARRAY_LEN(big); i++) {
		void *p = kmmtest_malloc(big[i]);

		assert_non_null(p);
		assert_true(kmmtest_malloc_usable_size(p) >= big[i]);
		fill(p, big[i], i);
		assert_true(filled(p, big[i], i));
		kmmtest_free(p);
	}
	for (unsigned int i = 0; i < n; i++) {
		size_t usable = kmmtest_malloc_usable_size(held[i]);

		(void)usable;
		kmmtest_free(held[i]);
	}
	kmmtest_free(NULL);
	assert_int_equal(kmm_malloc_check(), 0);
}

/* No two live blocks overlap, and contents survive other allocations. */
static void test_malloc_no_overlap(void **state)
{
	enum { N = 4000 };
	static void *p[N];
	static size_t sz[N];
	unsigned int seed = 12345;

	for (unsigned int i = 0; i < N; i++) {
		seed = seed * 1103515245 + 12345;
		sz[i] = (seed >> 8) % (i % 10 == 0 ? 70000 : 600) + 1;
		p[i] = kmmtest_malloc(sz[i]);
		assert_non_null(p[i]);
		fill(p[i], sz[i], i);
	}
	for (unsigned int i = 0; i < N; i += 2)
		kmmtest_free(p[i]);
	for (unsigned int i = 0; i < N; i += 2) {
		p[i] = kmmtest_malloc(sz[i]);
		fill(p[i], sz[i], i);
	}
	for (unsigned int i = 0; i < N; i++) {
		assert_true(filled(p[i], sz[i], i));
		kmmtest_free(p[i]);
	}
	assert_int_equal(kmm_malloc_check(), 0);
}

static void test_zeroed_alloc(void **state)
{
	size_t sizes[] = { 1, 16, 100, 4096, 40000, 300000, 5 << 20 };

	for (unsigned int i = 0; i < ARRAY_LEN(sizes); i++) {
		/* Dirty a block of the size first, so that calloc must zero. */
		void *d = kmmtest_malloc(sizes[i]);
		unsigned char *p;

		memset(d, 0xa5, sizes[i]);
		kmmtest_free(d);
		p = kmmtest_calloc(1, sizes[i]);
		assert_non_null(p);
		for (size_t k = 0; k < sizes[i]; k++)
			assert_int_equal(p[k], 0);
		kmmtest_free(p);
	}
	errno = 0;
	assert_null(kmmtest_calloc(SIZE_MAX / 2, 3));
	assert_int_equal(errno, ENOMEM);
	errno = 0;
	assert_null(kmmtest_calloc((size_t)1 << 33, (size_t)1 << 33));
	assert_int_equal(errno, ENOMEM);
	kmmtest_free(kmmtest_calloc(0, 5));
}

static void test_resize(void **state)
{
	char *p = kmmtest_realloc(NULL, 10);
	size_t size = 10;

	assert_non_null(p);
	fill(p, size, 3);
	/* Grow through every path: small, large, huge, and back down. */
	while (size < (24 << 20)) {
		size_t next = size * 3 / 2 + 1;

		p = kmmtest_realloc(p, next);
		assert_non_null(p);
		assert_true(filled(p, size, 3));
		fill(p, next, 3);
		size = next;
	}
	while (size > 8) {
		size /= 3;
		p = kmmtest_realloc(p, size);
		assert_non_null(p);
		assert_true(filled(p, size, 3));
	}
	/* glibc: realloc(p, 0) frees p and returns NULL. */
	assert_null(kmmtest_realloc(p, 0));
	/* realloc(NULL, 0) is malloc(0): a unique, freeable pointer. */
	p = kmmtest_realloc(NULL, 0);
	assert_non_null(p);
	errno = 0;
	assert_null(kmmtest_realloc(p, SIZE_MAX));
	assert_int_equal(errno, ENOMEM);
	kmmtest_free(p);

	p = kmmtest_reallocarray(NULL, 100, 10);
	assert_non_null(p);
	fill(p, 1000, 9);
	errno = 0;
	assert_null(kmmtest_reallocarray(p, SIZE_MAX / 4, 8));
	assert_int_equal(errno, ENOMEM);
	assert_true(filled(p, 1000, 9));   /* untouched on failure */
	p = kmmtest_reallocarray(p, 200, 10);
	assert_true(filled(p, 1000, 9));
	kmmtest_free(p);
}

static void test_edges(void **state)
{
	void *a = kmmtest_malloc(0), *b = kmmtest_malloc(0);

	/* malloc(0): unique pointers that can be freed (glibc's behaviour). */
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	kmmtest_free(a);
	kmmtest_free(b);
	errno = 0;
	assert_null(kmmtest_malloc(SIZE_MAX));
	assert_int_equal(errno, ENOMEM);
	errno = 0;
	assert_null(kmmtest_malloc((size_t)PTRDIFF_MAX + 1));
	assert_int_equal(errno, ENOMEM);
	errno = 0;
	assert_null(kmmtest_memalign(64, SIZE_MAX - 100));
	assert_int_equal(errno, ENOMEM);
	errno = 0;
	assert_null(kmmtest_valloc(SIZE_MAX));
	assert_int_equal(errno, ENOMEM);
	errno = 0;
	assert_null(kmmtest_pvalloc(SIZE_MAX - 10));
	assert_int_equal(errno, ENOMEM);
	errno = 0;
	assert_null(kmmtest_aligned_alloc(4096, SIZE_MAX));
	assert_int_equal(errno, ENOMEM);
	/* An alignment too large to round up to a power of two. */
	errno = 0;
	assert_null(kmmtest_memalign(SIZE_MAX / 2 + 2, 10));
	assert_int_equal(errno, EINVAL);
}

static void test_alignments(void **state)
{
	static const size_t sizes[] = { 1, 24, 100, 1000, 5000, 40000, 2 << 20 };
	void *p;

	for (size_t align = 1; align <= (8 << 20); align *= 2) {
		for (unsigned int i = 0; i < ARRAY_LEN(sizes); i++) {
			size_t n = sizes[i];

			p = kmmtest_memalign(align, n);
			assert_non_null(p);
			assert_int_equal((uintptr_t)p % align, 0);
			assert_true(kmmtest_malloc_usable_size(p) >= n);
			fill(p, n, (unsigned int)align);
			kmmtest_free(p);

			p = kmmtest_aligned_alloc(align, n);
			assert_non_null(p);
			assert_int_equal((uintptr_t)p % align, 0);
			kmmtest_free(p);

			if (align >= sizeof(void *)) {
				p = NULL;
				assert_int_equal(kmmtest_posix_memalign(&p, align, n), 0);
				assert_non_null(p);
				assert_int_equal((uintptr_t)p % align, 0);
				fill(p, n, 1);
				kmmtest_free(p);
			}
		}
	}
	/* memalign rounds an alignment that is not a power of two up. */
	p = kmmtest_memalign(48, 10);
	assert_non_null(p);
	assert_int_equal((uintptr_t)p % 64, 0);
	kmmtest_free(p);
	/* posix_memalign: EINVAL for a bad alignment, *out untouched, errno kept. */
	p = (void *)0x1234;
	errno = 77;
	assert_int_equal(kmmtest_posix_memalign(&p, 24, 10), EINVAL);
	assert_int_equal(kmmtest_posix_memalign(&p, 4, 10), EINVAL);
	assert_int_equal(kmmtest_posix_memalign(&p, 0, 10), EINVAL);
	assert_ptr_equal(p, (void *)0x1234);
	assert_int_equal(kmmtest_posix_memalign(&p, 64, SIZE_MAX), ENOMEM);
	assert_int_equal(errno, 77);

	p = kmmtest_valloc(100);
	assert_int_equal((uintptr_t)p % 4096, 0);
	kmmtest_free(p);
	p = kmmtest_pvalloc(100);
	assert_int_equal((uintptr_t)p % 4096, 0);
	assert_true(kmmtest_malloc_usable_size(p) >= 4096);
	kmmtest_free(p);
	assert_int_equal(kmm_malloc_check(), 0);
}

/*
 * Runs fn in a child process and expects it to abort with a message on
 * stderr containing needle (and the pointer it names).
 */
static void expect_abort(void (*fn)(void *), void *arg, const char *needle,
			 const void *ptr)
{
	int fds[2], status;
	char buf[1024] = "", want[64];
	ssize_t n, got = 0;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		fn(arg);
		_exit(0);      /* not caught: the parent fails the test */
	}
	close(fds[1]);
	while ((n = read(fds[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	buf[got] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
		fail_msg("expected an abort with \"%s\", got status %#x, stderr \"%s\"",
			 needle, status, buf);
	if (!strstr(buf, needle))
		fail_msg("expected \"%s\" in \"%s\"", needle, buf);
	snprintf(want, sizeof(want), "%p", ptr);
	if (ptr && !strstr(buf, want))
		fail_msg("expected the pointer %s in \"%s\"", want, buf);
}

static void double_free_small(void *p)
{
	kmmtest_free(p);
	kmmtest_free(p);
}

static void double_free_large(void *p)
{
	kmmtest_free(p);
	kmmtest_free(p);
}

static void free_inside(void *p)
{
	kmmtest_free((char *)p + 16);
}

static void free_page_inside(void *p)
{
	kmmtest_free((char *)p + 4096);
}

static void free_foreign(void *p)
{
	kmmtest_free(p);
}

static void realloc_foreign(void *p)
{
	kmmtest_realloc(p, 100);
}

static void test_hardening(void **state)
{
	void *small = kmmtest_malloc(40), *large = kmmtest_malloc(200000);
	void *huge = kmmtest_malloc(3 << 20);
	static char not_ours[64];

	expect_abort(double_free_small, small, "double free", small);
	expect_abort(double_free_large, large, "invalid pointer", large);
	expect_abort(double_free_large, huge, "invalid pointer", huge);
	expect_abort(free_inside, small, "invalid pointer", (char *)small + 16);
	expect_abort(free_inside, large, "invalid pointer", (char *)large + 16);
	expect_abort(free_page_inside, large, "invalid pointer", (char *)large + 4096);
	expect_abort(free_foreign, not_ours, "not from this allocator", not_ours);
	expect_abort(realloc_foreign, not_ours, "invalid pointer", not_ours);
	/* The parent's blocks were never freed: still usable. */
	memset(small, 1, 40);
	kmmtest_free(small);
	kmmtest_free(large);
	kmmtest_free(huge);
	/* A freed block is not handed out twice: many frees then allocations. */
	{
		enum { N = 2000 };
		static void *a[N], *b[N];

		for (int i = 0; i < N; i++)
			a[i] = kmmtest_malloc(64);
		for (int i = 0; i < N; i++)
			kmmtest_free(a[i]);
		for (int i = 0; i < N; i++) {
			b[i] = kmmtest_malloc(64);
			*(int *)b[i] = i;
		}
		for (int i = 0; i < N; i++) {
			assert_int_equal(*(int *)b[i], i);
			kmmtest_free(b[i]);
		}
	}
}

/* Marks / checks every 64th byte and the last of a large block. */
static void mark(unsigned char *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n - 1; i += 64)
		p[i] = (unsigned char)(seed + i / 64);
	p[n - 1] = (unsigned char)seed;
}

static bool marked(const unsigned char *p, size_t n, unsigned int seed)
{
	for (size_t i = 0; i < n - 1; i += 64)
		if (p[i] != (unsigned char)(seed + i / 64))
			return false;
	return p[n - 1] == (unsigned char)seed;
}

/*
 * Large blocks (tools/malloc/large.c): sizes rounded to a page, not to a
 * power of two; random allocation, growth and frees keep every block's
 * contents, and the checker (large_check) finds the runs tiling their
 * chunks with no two free runs side by side (freed runs merge).
 */
static void test_large_runs(void **state)
{
	enum { N = 48 };
	static unsigned char *p[N];
	static size_t sz[N];
	uint64_t seed = 88172645463325252ULL;

	for (size_t n = 65537; n <= (1 << 20); n += 4093 * 9) {
		void *q = kmmtest_malloc(n);

		assert_non_null(q);
		assert_int_equal((uintptr_t)q % 4096, 0);
		assert_int_equal(kmmtest_malloc_usable_size(q), (n + 4095) & ~(size_t)4095);
		kmmtest_free(q);
	}
	for (unsigned int round = 0; round < 1500; round++) {
		unsigned int i;

		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		i = (unsigned int)(seed % N);
		if (!p[i]) {
			sz[i] = 65537 + (size_t)(seed >> 20) % (600 * 1024);
			p[i] = kmmtest_malloc(sz[i]);
			assert_non_null(p[i]);
			mark(p[i], sz[i], i + round);
			sz[i] |= (size_t)(i + round) << 32;
		} else {
			size_t n = sz[i] & 0xffffffffu;
			unsigned int s = (unsigned int)(sz[i] >> 32);

			assert_true(marked(p[i], n, s));
			if (round % 3 == 0 && n < (700 << 10)) {
				size_t m = n + n / 3;

				p[i] = kmmtest_realloc(p[i], m);
				assert_non_null(p[i]);
				assert_true(marked(p[i], n, s));
				mark(p[i], m, s);
				sz[i] = m | ((size_t)s << 32);
			} else {
				kmmtest_free(p[i]);
				p[i] = NULL;
			}
		}
		if (round % 100 == 0)
			assert_int_equal(kmm_malloc_check(), 0);
	}
	for (unsigned int i = 0; i < N; i++) {
		kmmtest_free(p[i]);
		p[i] = NULL;
	}
	assert_int_equal(kmm_malloc_check(), 0);
}

/*
 * kmem_cache_is_object, which free() trusts to refuse interior pointers,
 * finds the object index by a multiplication with a reciprocal: exact for
 * every object size, at every byte around real objects.
 */
static void test_is_object_exact(void **state)
{
	static const size_t sizes[] = { 8, 24, 40, 72, 104, 200, 1000, 3000, 5000,
					12345, 40000, 65536 + 8, 131072 };
	char name[32];

	kmmtest_free(kmmtest_malloc(1));   /* booted, and this thread has a slot */
	for (unsigned int i = 0; i < ARRAY_LEN(sizes); i++) {
		struct kmem_cache *cp;
		struct kmem_cache_info info;
		char *obj[24];

		snprintf(name, sizeof(name), "isobj-%zu", sizes[i]);
		cp = kmem_cache_create(name, sizes[i], 0, 0, NULL);
		assert_non_null(cp);
		kmem_cache_get_info(cp, &info);
		for (unsigned int k = 0; k < ARRAY_LEN(obj); k++) {
			obj[k] = kmem_cache_alloc(cp, 0);
			assert_non_null(obj[k]);
		}
		for (unsigned int k = 0; k < ARRAY_LEN(obj); k++) {
			assert_true(kmem_cache_is_object(cp, obj[k]));
			for (size_t d = 1; d < info.buffer_size; d += d < 64 ? 1 : 61)
				assert_false(kmem_cache_is_object(cp, obj[k] + d));
			assert_false(kmem_cache_is_object(cp, obj[k] + info.buffer_size - 1));
		}
		for (unsigned int k = 0; k < ARRAY_LEN(obj); k++)
			kmem_cache_free(cp, obj[k]);
		assert_int_equal(kmem_cache_destroy(cp), 0);
	}
}

/* The heap grows by sections as it needs memory, and gives memory back. */
static void test_growth_and_trim(void **state)
{
	enum { N = 200 };
	static void *p[N];
	struct kmm_malloc_stats before, grown, after;

	assert_int_equal(kmm_malloc_stats(&before), 0);
	for (int i = 0; i < N; i++) {
		p[i] = kmmtest_malloc(512 * 1024);   /* large: page runs */
		assert_non_null(p[i]);
		memset(p[i], 0x5a, 512 * 1024);
	}
	assert_int_equal(kmm_malloc_stats(&grown), 0);
	assert_true(grown.sections > before.sections);
	/* Grown by what was asked, less what was free already. */
	assert_true(grown.present_bytes + (uint64_t)(before.free_pages + before.pcp_pages +
						     before.large_free_pages) * 4096 >=
		    before.present_bytes + (uint64_t)N * 512 * 1024);
	for (int i = 0; i < N; i++)
		kmmtest_free(p[i]);
	assert_int_equal(kmm_malloc_check(), 0);
	/* 100 MiB went free: the frees' upkeep trims, or malloc_trim does. */
	kmmtest_malloc_trim(0);
	assert_int_equal(kmm_malloc_stats(&after), 0);
	assert_true(after.trims > before.trims);
	assert_true(after.trimmed_pages - before.trimmed_pages >= (uint64_t)N * 128 / 2);
	/* Trimmed memory reads as zeros and serves allocations again. */
	for (int i = 0; i < N; i++) {
		p[i] = kmmtest_malloc(512 * 1024);
		assert_non_null(p[i]);
	}
	for (int i = 0; i < N; i++)
		kmmtest_free(p[i]);
	assert_int_equal(kmm_malloc_stats(&after), 0);
	assert_int_equal(after.sections, grown.sections);   /* reused, not regrown */
	assert_int_equal(kmm_malloc_check(), 0);
}

static void *fork_worker(void *arg)
{
	volatile bool *stop = arg;
	void *held[64] = { 0 };
	unsigned int i = 0;

	while (!*stop) {
		unsigned int k = i++ % 64;

		kmmtest_free(held[k]);
		held[k] = kmmtest_malloc((i * 37) % 3000 + 1);
	}
	for (unsigned int k = 0; k < 64; k++)
		kmmtest_free(held[k]);
	return NULL;
}

/* Fork while other threads allocate: never deadlocks, the child allocates. */
static void test_fork(void **state)
{
	pthread_t t[3];
	volatile bool stop = false;

	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&t[i], NULL, fork_worker, (void *)&stop), 0);
	for (int round = 0; round < 20; round++) {
		pid_t pid = fork();
		int status;

		assert_true(pid >= 0);
		if (pid == 0) {
			void *p[100];
			int ok = 1;

			for (int i = 0; i < 100; i++) {
				p[i] = kmmtest_malloc((size_t)i * 100 + 1);
				ok &= p[i] != NULL;
			}
			for (int i = 0; i < 100; i++)
				kmmtest_free(p[i]);
			_exit(ok && kmm_malloc_check() == 0 ? 0 : 1);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	stop = true;
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(kmm_malloc_check(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_malloc_sizes),
		cmocka_unit_test(test_malloc_no_overlap),
		cmocka_unit_test(test_zeroed_alloc),
		cmocka_unit_test(test_resize),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_alignments),
		cmocka_unit_test(test_hardening),
		cmocka_unit_test(test_large_runs),
		cmocka_unit_test(test_is_object_exact),
		cmocka_unit_test(test_growth_and_trim),
		cmocka_unit_test(test_fork),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
