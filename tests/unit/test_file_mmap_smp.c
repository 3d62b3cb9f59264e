/*
 * File mappings on two CPUs at once (SMP mode; also under ThreadSanitizer):
 * two threads of one task store into a shared mapping of one file, each
 * into its own bytes of every page, while each also msyncs, reads through
 * a private mapping of the same file (its own copies after its first write
 * there), and forks children that read the shared pages and exit. Write
 * faults, write-notify faults after page_mkclean, msync's D-bit collection,
 * writeback and fork's copies of the entries race on the same pages and
 * page tables. At the end every last store must be in the host file, the
 * private copies must have stayed private, the invariants must hold and
 * every frame must come back.
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
#include <kmm/mm.h>
#include <kmm/mman.h>

#include "helpers.h"
#include "area_test.h"

#define MACHINE (64 * MiB)
#define PG PAGE_SIZE
#define NPAGES 32
#define ROUNDS 200
#define RW (KMM_PROT_READ | KMM_PROT_WRITE)

struct smp_state {
	struct task *thr[2];
	uintptr_t shared, priv;
	atomic_int errors;
	atomic_int done;
};

static char root[256];

static void worker(unsigned int cpu, void *arg)
{
	struct smp_state *st = arg;
	struct task *t = st->thr[cpu];

	for (int r = 1; r <= ROUNDS; r++) {
		for (int p = 0; p < NPAGES; p++) {
			uint64_t v = 0;

			/* Byte cpu of every page: the round number. */
			if (emu_store(t, st->shared + (uintptr_t)p * PG + cpu, 1, (uint64_t)r))
				atomic_fetch_add(&st->errors, 1);
			/* The private mapping: this thread's own copy of page 2p + cpu. */
			if (p % 2 == 0 && emu_store(t, st->priv + (uintptr_t)(p + cpu) * PG + 64 + cpu,
						    1, (uint64_t)r))
				atomic_fetch_add(&st->errors, 1);
			if (emu_load(t, st->shared + (uintptr_t)p * PG + cpu, 1, &v) || v != (uint64_t)r)
				atomic_fetch_add(&st->errors, 1);
		}
		if (r % 10 == (int)cpu * 5) {
			long e = sys_msync(t, st->shared, NPAGES * PG,
					   cpu ? KMM_MS_ASYNC : KMM_MS_SYNC);

			if (e)
				atomic_fetch_add(&st->errors, 1);
		}
		if (r % 40 == 20 + (int)cpu) {
			struct task *c;
			uint64_t v = 0;

			if (task_fork(t, &c)) {
				atomic_fetch_add(&st->errors, 1);
				continue;
			}
			/* The child sees this thread's last store. */
			if (emu_load(c, st->shared + cpu, 1, &v) || v != (uint64_t)r)
				atomic_fetch_add(&st->errors, 1);
			task_exit(c, 0);
			task_release(c);
		}
	}
	atomic_fetch_add(&st->done, 1);
}

static int host_byte(size_t off)
{
	char path[512];
	unsigned char b;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/data", root);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = pread(fd, &b, 1, (off_t)off);
	close(fd);
	return n == 1 ? b : -1;
}

static void test_shared_file_two_cpus(void **state)
{
	static struct smp_state st;
	struct emu_config cfg;
	unsigned long free_at_boot;
	char path[512], cmd[600];
	struct task *t;
	FILE *f;
	long fd;

	(void)state;
	snprintf(root, sizeof(root), "/tmp/kmm-file-smp-XXXXXX");
	assert_non_null(mkdtemp(root));
	snprintf(path, sizeof(path), "%s/data", root);
	f = fopen(path, "wb");
	assert_non_null(f);
	for (int i = 0; i < NPAGES * (int)PG; i++)
		fputc(0xee, f);
	fclose(f);

	th_config(&cfg, MACHINE, 2, EMU_SMP);
	snprintf(cfg.root, sizeof(cfg.root), "%s", root);
	cfg.root_rw = true;
	th_boot_cfg(&cfg);
	free_at_boot = at_settled_free();
	assert_int_equal(task_spawn("writer", &t), 0);
	fd = sys_open(t, "/data", KMM_O_RDWR, 0);
	assert_true(fd >= 0);
	memset(&st, 0, sizeof(st));
	st.shared = (uintptr_t)sys_mmap(t, 0, NPAGES * PG, RW, KMM_MAP_SHARED, (int)fd, 0);
	st.priv = (uintptr_t)sys_mmap(t, 0, NPAGES * PG, RW, KMM_MAP_PRIVATE, (int)fd, 0);
	assert_true((long)st.shared > 0 && (long)st.priv > 0);
	assert_int_equal(sys_close(t, (int)fd), 0);
	st.thr[0] = t;
	assert_int_equal(task_clone_thread(t, &st.thr[1]), 0);

	assert_int_equal(emu_run_on_cpus(2, worker, &st), 0);
	assert_int_equal(atomic_load(&st.done), 2);
	assert_int_equal(atomic_load(&st.errors), 0);
	task_check_all();
	mm_rmap_check();
	filemap_check();

	/* Each thread's private copies hold its last store. */
	for (int p = 0; p < NPAGES; p += 2)
		for (unsigned int cpu = 0; cpu < 2; cpu++) {
			uint64_t v = 0;

			assert_int_equal(emu_load(t, st.priv + (uintptr_t)(p + (int)cpu) * PG + 64 + cpu,
						  1, &v), 0);
			assert_int_equal(v, ROUNDS);
		}
	assert_int_equal(sys_sync(), 0);
	for (int p = 0; p < NPAGES; p++) {
		assert_int_equal(host_byte((size_t)p * PG), ROUNDS);
		assert_int_equal(host_byte((size_t)p * PG + 1), ROUNDS);
		/* The private stores never reached the file. */
		assert_int_equal(host_byte((size_t)p * PG + 64), 0xee);
		assert_int_equal(host_byte((size_t)p * PG + 65), 0xee);
	}
	at_reap_all();
	drop_caches();
	assert_int_equal(at_settled_free(), free_at_boot);
	th_shutdown();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_shared_file_two_cpus, th_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
