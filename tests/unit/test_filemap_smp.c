/*
 * The page cache on an SMP machine (host threads as CPUs, also under
 * ThreadSanitizer): two CPUs read one file at once through their own open
 * files, each racing the other to bring the same pages in (one inserts,
 * the other waits on the page lock or finds it), while one of them drops
 * the clean cache under the other's feet and the other writes and fsyncs a
 * file of its own. Every byte read must be the file's, every byte written
 * must reach the host, and the counters must balance afterwards.
 */
#define _GNU_SOURCE
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
#include <kmm/fs.h>
#include <kmm/kmm.h>
#include <kmm/mmzone.h>

#include "helpers.h"

#define PG PAGE_SIZE
#define FILE_PAGES 96
#define ROUNDS 12

static char root[256];
static unsigned char *want;

struct smp_state {
	struct file *reader[2];
	struct file *writer;
	unsigned char model[8 * PG];
	int bad[2];
};

static void host_path(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s%s", root, name);
}

static void cpu_fn(unsigned int cpu, void *arg)
{
	struct smp_state *s = arg;
	unsigned char *buf = malloc(FILE_PAGES * PG);

	for (int r = 0; r < ROUNDS; r++) {
		loff_t pos = 0;

		/* Both CPUs read the shared file, in different chunk sizes. */
		while (pos < (loff_t)(FILE_PAGES * PG)) {
			size_t chunk = cpu ? 3 * PG + 5 : 2 * PG - 1;
			loff_t at = pos;
			long n = kernel_read(s->reader[cpu], buf, chunk, &pos);

			if (n <= 0 || memcmp(buf, want + at, (size_t)n))
				s->bad[cpu]++;
			if (n <= 0)
				break;
		}
		if (cpu == 1) {
			drop_caches();
			/* The flusher runs here, on CPU 1, while CPU 0 writes. */
			emu_advance_ns(7000000000ULL);
		} else {
			loff_t wpos = (loff_t)(r % 4) * 1000;
			unsigned char b[1500];

			memset(b, 'a' + r, sizeof(b));
			memcpy(s->model + wpos, b, sizeof(b));
			if (kernel_write(s->writer, b, sizeof(b), &wpos) != (long)sizeof(b))
				s->bad[cpu]++;
			if (filemap_write_and_wait_range(s->writer->f_mapping, 0, (pgoff_t)-1))
				s->bad[cpu]++;
		}
	}
	free(buf);
}

static void test_concurrent_readers_dropper_writer(void **state)
{
	struct emu_config cfg;
	struct smp_state *s = calloc(1, sizeof(*s));
	char p[512];
	FILE *f;

	snprintf(root, sizeof(root), "/tmp/kmm-fsmp-XXXXXX");
	assert_non_null(mkdtemp(root));
	want = malloc(FILE_PAGES * PG);
	for (size_t i = 0; i < FILE_PAGES * PG; i++)
		want[i] = (unsigned char)(i * 13 + (i >> 12));
	host_path(p, sizeof(p), "/shared");
	f = fopen(p, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(want, 1, FILE_PAGES * PG, f), FILE_PAGES * PG);
	fclose(f);

	th_config(&cfg, 64 * MiB, 2, EMU_SMP);
	snprintf(cfg.root, sizeof(cfg.root), "%s", root);
	cfg.root_rw = true;
	th_boot_cfg(&cfg);
	for (int i = 0; i < 2; i++)
		assert_int_equal(file_open("/shared", KMM_O_RDONLY, 0, &s->reader[i]), 0);
	assert_int_equal(file_open("/mine", KMM_O_RDWR | KMM_O_CREAT, 0644, &s->writer), 0);

	assert_int_equal(emu_run_on_cpus(2, cpu_fn, s), 0);
	assert_int_equal(s->bad[0], 0);
	assert_int_equal(s->bad[1], 0);
	kmm_check();
	{
		unsigned char got[8 * PG];
		size_t n;

		host_path(p, sizeof(p), "/mine");
		f = fopen(p, "rb");
		assert_non_null(f);
		n = fread(got, 1, sizeof(got), f);
		fclose(f);
		assert_int_equal(n, 3 * 1000 + 1500);
		assert_memory_equal(got, s->model, n);
	}
	for (int i = 0; i < 2; i++)
		fput(s->reader[i]);
	fput(s->writer);
	assert_int_equal(sync_all(), 0);
	drop_caches();
	kmm_check();
	assert_int_equal(emu_fs_open_files(), 0);
	th_shutdown();
	unlink(p);
	host_path(p, sizeof(p), "/shared");
	unlink(p);
	rmdir(root);
	free(want);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_concurrent_readers_dropper_writer, th_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
