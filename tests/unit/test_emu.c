/*
 * Tests of the emulated machine (arch/emu): size parsing, the boot
 * configuration's checks, the PC memory map with its holes, the kernel
 * image, the clock and work queue of the deterministic mode, CPUs in both
 * modes, the console, panics, the seeded generator, and booting many
 * machines in one process.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <kmm/arch.h>
#include <kmm/emu.h>
#include <kmm/errno.h>
#include <kmm/fault_inject.h>
#include <kmm/lock.h>

#include "helpers.h"

/* ThreadSanitizer shadows every byte the kernel touches: big machines only without it. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

/* ---- Sizes ---- */

static void test_parse_size_good(void **state)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} good[] = {
		{ "0", 0 },
		{ "1048576", 1048576 },
		{ "4096B", 4096 },
		{ "64k", 64 * KiB },
		{ "64K", 64 * KiB },
		{ "64KiB", 64 * KiB },
		{ "64kib", 64 * KiB },
		{ "256M", 256 * MiB },
		{ "256MiB", 256 * MiB },
		{ "256mb", 256 * MiB },
		{ "4G", 4 * GiB },
		{ "4g", 4 * GiB },
		{ "1T", 1ULL << 40 },
		{ "16777215T", 16777215ULL << 40 },
		{ "18446744073709551615", UINT64_MAX },
	};

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		uint64_t bytes = 12345;

		if (emu_parse_size(good[i].text, &bytes))
			fail_msg("\"%s\" rejected", good[i].text);
		if (bytes != good[i].bytes)
			fail_msg("\"%s\" = %" PRIu64 ", expected %" PRIu64, good[i].text, bytes,
				 good[i].bytes);
	}
}

static void test_parse_size_bad(void **state)
{
	static const char *const bad[] = {
		"", "M", "-1", "+1", " 1", "1 ", "1.5G", "12x", "1MM", "1Mi", "1iB",
		"1Mib ", "0x10", "1P", "1KB2", "16777216T", "18446744073709551616",
		"99999999999999999999999", "1GiBB",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		uint64_t bytes = 12345;

		if (emu_parse_size(bad[i], &bytes) != -KMM_EINVAL)
			fail_msg("\"%s\" accepted as %" PRIu64, bad[i], bytes);
		assert_int_equal(bytes, 12345);
	}
	assert_int_equal(emu_parse_size(NULL, &(uint64_t){ 0 }), -KMM_EINVAL);
}

/* ---- The configuration ---- */

static void test_config_default(void **state)
{
	struct emu_config cfg;

	memset(&cfg, 0xa5, sizeof(cfg));
	emu_config_default(&cfg);
	assert_int_equal(cfg.ram_bytes, 256 * MiB);
	assert_int_equal(cfg.kernel_bytes, 4 * MiB);
	assert_int_equal(cfg.cpus, 2);
	assert_int_equal(cfg.mode, EMU_DET);
	assert_int_equal(cfg.seed, 1);
	assert_int_equal(cfg.fail_page_nth, 0);
	assert_true(cfg.fail_page_probability == 0.0);
	assert_true(cfg.mm.group_by_mobility);
	assert_true(cfg.mm.pcp_lists);
	assert_false(cfg.mm.quiet);
}

/* Each bad field is refused with -EINVAL and a reason naming it; nothing boots. */
static void test_config_rejected(void **state)
{
	static const struct {
		const char *field;
		uint64_t ram, kernel;
		unsigned int cpus;
		int mode;
		double prob;
		const char *reason;
	} bad[] = {
		{ "ram below 16M", 16 * MiB - PAGE_SIZE, 4 * MiB, 2, EMU_DET, 0, "16 MiB" },
		{ "ram 0", 0, 4 * MiB, 2, EMU_DET, 0, "ram" },
		{ "ram above 64G", 64 * GiB + PAGE_SIZE, 4 * MiB, 2, EMU_DET, 0, "64 GiB" },
		{ "ram not in frames", 32 * MiB + 1, 4 * MiB, 2, EMU_DET, 0, "4 KiB" },
		{ "kernel 0", 32 * MiB, 0, 2, EMU_DET, 0, "kernel" },
		{ "kernel not in frames", 32 * MiB, 4 * MiB + 100, 2, EMU_DET, 0, "kernel" },
		{ "kernel too big", 32 * MiB, 31 * MiB + PAGE_SIZE, 2, EMU_DET, 0, "does not fit" },
		{ "kernel into the PCI hole", 5 * GiB, 3 * GiB, 2, EMU_DET, 0, "does not fit" },
		{ "no CPUs", 32 * MiB, 4 * MiB, 0, EMU_DET, 0, "CPUs" },
		{ "too many CPUs", 32 * MiB, 4 * MiB, KMM_MAX_CPUS + 1, EMU_DET, 0, "CPUs" },
		{ "mode", 32 * MiB, 4 * MiB, 2, 7, 0, "mode" },
		{ "probability > 1", 32 * MiB, 4 * MiB, 2, EMU_DET, 1.5, "probability" },
		{ "probability < 0", 32 * MiB, 4 * MiB, 2, EMU_DET, -0.1, "probability" },
		{ "probability NaN", 32 * MiB, 4 * MiB, 2, EMU_DET, __builtin_nan(""), "probability" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct emu_config cfg;
		char err[256] = "";

		th_config(&cfg, bad[i].ram, bad[i].cpus, (enum emu_mode)bad[i].mode);
		cfg.kernel_bytes = bad[i].kernel;
		cfg.fail_page_probability = bad[i].prob;
		if (emu_boot(&cfg, err, sizeof(err)) != -KMM_EINVAL)
			fail_msg("%s: not rejected", bad[i].field);
		assert_false(emu_booted());
		assert_null(emu_config());
		if (!strstr(err, bad[i].reason))
			fail_msg("%s: reason \"%s\" lacks \"%s\"", bad[i].field, err, bad[i].reason);
		assert_null(strchr(err, '\n'));
	}
}

/* The smallest machine and a kernel that leaves exactly the rest boot. */
static void test_config_limits(void **state)
{
	struct emu_config cfg;

	th_boot(16 * MiB, 1, EMU_DET);
	assert_int_equal(arch_nr_cpus(), 1);
	th_config(&cfg, 64 * MiB, KMM_MAX_CPUS, EMU_DET);
	cfg.kernel_bytes = 48 * MiB;
	th_boot_cfg(&cfg);
	assert_int_equal(arch_nr_cpus(), KMM_MAX_CPUS);
	assert_int_equal(emu_config()->kernel_bytes, 48 * MiB);
	th_shutdown();
}

/* ---- Memory map ---- */

static uint64_t sum_of(const struct kmm_mem_range *map, int n, enum kmm_mem_type type)
{
	uint64_t sum = 0;

	for (int i = 0; i < n; i++)
		if (map[i].type == type)
			sum += map[i].size;
	return sum;
}

static void assert_range(const struct kmm_mem_range *r, phys_addr_t base, phys_addr_t size,
			 enum kmm_mem_type type)
{
	if (r->base != base || r->size != size || r->type != type)
		fail_msg("range [%#llx +%#llx type %d], expected [%#llx +%#llx type %d]",
			 (unsigned long long)r->base, (unsigned long long)r->size, r->type,
			 (unsigned long long)base, (unsigned long long)size, type);
}

/* Sorted, disjoint, and with the legacy VGA/ROM window (320 KiB) adds up to ram. */
static void assert_map_shape(const struct kmm_mem_range *map, int n, uint64_t ram)
{
	for (int i = 1; i < n; i++)
		assert_true(map[i - 1].base + map[i - 1].size <= map[i].base);
	assert_int_equal(sum_of(map, n, KMM_MEM_USABLE) + sum_of(map, n, KMM_MEM_RESERVED) +
				 (0xf0000 - 0xa0000),
			 ram);
}

static void test_memory_map_256m(void **state)
{
	struct kmm_mem_range map[16];
	int n;

	th_boot(256 * MiB, 2, EMU_DET);
	n = arch_memory_map(map, ARRAY_SIZE(map));
	assert_int_equal(n, 4);
	assert_range(&map[0], 0, 0x9fc00, KMM_MEM_USABLE);
	assert_range(&map[1], 0x9fc00, 0x400, KMM_MEM_RESERVED);
	assert_range(&map[2], 0xf0000, 0x10000, KMM_MEM_RESERVED);
	assert_range(&map[3], MiB, 255 * MiB, KMM_MEM_USABLE);
	assert_map_shape(map, n, 256 * MiB);

	/* A short table gets the first entries. */
	assert_int_equal(arch_memory_map(map, 2), 2);
	assert_range(&map[1], 0x9fc00, 0x400, KMM_MEM_RESERVED);
	th_shutdown();
}

static void test_memory_map_pci_hole(void **state)
{
	struct kmm_mem_range map[16];
	int n;

	th_boot(5 * GiB, 2, EMU_DET);
	n = arch_memory_map(map, ARRAY_SIZE(map));
	assert_int_equal(n, 5);
	assert_range(&map[0], 0, 0x9fc00, KMM_MEM_USABLE);
	assert_range(&map[1], 0x9fc00, 0x400, KMM_MEM_RESERVED);
	assert_range(&map[2], 0xf0000, 0x10000, KMM_MEM_RESERVED);
	assert_range(&map[3], MiB, 3 * GiB - MiB, KMM_MEM_USABLE);
	assert_range(&map[4], 4 * GiB, 2 * GiB, KMM_MEM_USABLE);
	assert_map_shape(map, n, 5 * GiB);
	th_shutdown();

	/* Exactly 3 GiB: no hole needed, nothing above 4 GiB. */
	th_boot(3 * GiB, 1, EMU_DET);
	n = arch_memory_map(map, ARRAY_SIZE(map));
	assert_int_equal(n, 4);
	assert_range(&map[3], MiB, 3 * GiB - MiB, KMM_MEM_USABLE);
	assert_map_shape(map, n, 3 * GiB);
	th_shutdown();
}

/* The protection of the host pages at physical address pa, from /proc/self/maps. */
static void host_protection(phys_addr_t pa, char perms[5])
{
	uintptr_t va = (uintptr_t)phys_to_virt(pa);
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");

	assert_non_null(f);
	strcpy(perms, "?");
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char p[5];

		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, p) == 3 && va >= lo && va < hi) {
			memcpy(perms, p, 5);
			break;
		}
	}
	fclose(f);
}

/* RAM is read-write through the direct map; the holes are not RAM at all. */
static void test_ram_and_holes(void **state)
{
	char perms[5];
	volatile uint64_t *p;

	th_boot(5 * GiB, 2, EMU_DET);
	assert_int_equal(arch_direct_map_base, (uintptr_t)phys_to_virt(0));
	assert_int_equal(virt_to_phys(phys_to_virt(4 * GiB + 123)), 4 * GiB + 123);

	static const phys_addr_t ram[] = { 0, 0x9f000, 0xf0000, MiB, 3 * GiB - 8,
					   4 * GiB, 6 * GiB - 8 };
	for (size_t i = 0; i < ARRAY_SIZE(ram); i++) {
		p = phys_to_virt(ram[i]);
		*p = 0x1234567890abcdefULL + i;
		assert_int_equal(*p, 0x1234567890abcdefULL + i);
		host_protection(ram[i], perms);
		assert_string_equal(perms, "rw-p");
	}
	static const phys_addr_t holes[] = { 0xa0000, 0xeffff, 3 * GiB, 4 * GiB - 1 };
	for (size_t i = 0; i < ARRAY_SIZE(holes); i++) {
		host_protection(holes[i], perms);
		if (strcmp(perms, "---p"))
			fail_msg("hole at %#llx is %s, not ---p", (unsigned long long)holes[i], perms);
	}
	th_shutdown();
}

/* A big machine costs only what it touches: 16 GiB boots. */
static void test_big_machine(void **state)
{
	struct kmm_mem_range map[16];
	int n;

#ifdef UNDER_TSAN
	skip();
#endif
	th_boot(16 * GiB, 4, EMU_DET);
	n = arch_memory_map(map, ARRAY_SIZE(map));
	assert_int_equal(n, 5);
	assert_range(&map[4], 4 * GiB, 13 * GiB, KMM_MEM_USABLE);
	assert_map_shape(map, n, 16 * GiB);
	*(volatile char *)phys_to_virt(17 * GiB - 1) = 1;
	th_shutdown();
}

static void test_kernel_image(void **state)
{
	struct emu_config cfg;
	phys_addr_t base, size;

	th_boot(64 * MiB, 2, EMU_DET);
	arch_kernel_image(&base, &size);
	assert_int_equal(base, MiB);
	assert_int_equal(size, 4 * MiB);

	th_config(&cfg, 64 * MiB, 2, EMU_DET);
	cfg.kernel_bytes = 12 * MiB;
	th_boot_cfg(&cfg);
	arch_kernel_image(&base, &size);
	assert_int_equal(base, MiB);
	assert_int_equal(size, 12 * MiB);
	th_shutdown();
}

/* ---- Boot and shutdown ---- */

static void test_boot_again(void **state)
{
	struct emu_config cfg;
	char err[256] = "";

	assert_false(emu_booted());
	assert_null(emu_config());
	th_config(&cfg, 32 * MiB, 3, EMU_DET);
	cfg.seed = 77;
	th_boot_cfg(&cfg);
	assert_int_equal(emu_config()->ram_bytes, 32 * MiB);
	assert_int_equal(emu_config()->cpus, 3);
	assert_int_equal(emu_config()->seed, 77);
	assert_int_equal(arch_nr_cpus(), 3);

	/* One machine at a time; the running one is untouched. */
	assert_int_equal(emu_boot(&cfg, err, sizeof(err)), -KMM_EBUSY);
	assert_true(err[0] != '\0');
	assert_true(emu_booted());
	assert_int_equal(emu_config()->cpus, 3);

	emu_shutdown();
	assert_false(emu_booted());
	assert_int_equal(arch_direct_map_base, 0);
	emu_shutdown(); /* harmless when down */

	for (int i = 0; i < 20; i++) {
		th_boot((uint64_t)(16 + i) * MiB, 1 + i % 4, i % 2 ? EMU_SMP : EMU_DET);
		assert_int_equal(arch_nr_cpus(), 1 + i % 4);
		assert_int_equal(arch_now_ns() < 1000000000ULL, true);
		emu_shutdown();
	}
}

/*
 * A machine too small for the boot structures: emu_boot (and mm_init, by
 * kmm.h's contract) report -ENOMEM with a reason, and leave no machine. If
 * the core panics instead, the arch must still be able to shut the
 * half-booted machine down and boot the next one.
 */
struct boot_call {
	struct emu_config cfg;
	char err[256];
	int ret;
};

static void do_boot(void *arg)
{
	struct boot_call *c = arg;

	c->ret = emu_boot(&c->cfg, c->err, sizeof(c->err));
}

static void test_boot_structures_too_big(void **state)
{
	struct boot_call c = { .ret = 1 };
	bool panicked;

	th_config(&c.cfg, 16 * MiB, 2, EMU_DET);
	c.cfg.kernel_bytes = 15 * MiB;
	panicked = th_catch_panic(do_boot, &c);
	if (panicked) {
		assert_true(emu_booted());
		emu_shutdown();
		assert_false(emu_booted());
		th_boot(16 * MiB, 2, EMU_DET);
		th_shutdown();
		fail_msg("mm_init panicked (\"%s\") instead of returning -ENOMEM",
			 th_panic_message());
	}
	if (c.ret == 0)
		fail_msg("16 MiB with a 15 MiB kernel booted");
	assert_int_equal(c.ret, -KMM_ENOMEM);
	assert_non_null(strstr(c.err, "memory management"));
	assert_false(emu_booted());
	th_boot(16 * MiB, 2, EMU_DET);
	th_shutdown();
}

/* The boot log goes to the console; a quiet boot prints nothing. */
static void test_boot_log(void **state)
{
	struct emu_config cfg;
	const char *text;

	th_config(&cfg, 64 * MiB, 2, EMU_DET);
	cfg.mm.quiet = false;
	th_capture_begin();
	th_boot_cfg(&cfg);
	text = th_capture_end();
	assert_non_null(strstr(text, "BIOS-e820"));
	th_shutdown();

	th_capture_begin();
	th_boot(64 * MiB, 2, EMU_DET);
	assert_int_equal(emu_console_captured(), 0);
	text = th_capture_end();
	assert_string_equal(text, "");
	th_shutdown();
}

/* --fail-page-nth and --fail-page-prob reach the core's attribute. */
static void test_fault_injection_config(void **state)
{
	struct emu_config cfg;

	th_config(&cfg, 32 * MiB, 2, EMU_DET);
	cfg.fail_page_nth = 5;
	cfg.fail_page_probability = 0.25;
	cfg.seed = 9;
	th_boot_cfg(&cfg);
	assert_int_equal(fail_page_alloc.fail_nth, 5);
	assert_int_equal(fail_page_alloc.probability_ppm, 250000);
	assert_int_equal(fail_page_alloc.seed, 9);
	assert_int_equal(atomic_load(&fail_page_alloc.calls), 0);
	th_shutdown();
	assert_int_equal(fail_page_alloc.fail_nth, 0);
	assert_int_equal(fail_page_alloc.probability_ppm, 0);

	th_boot(32 * MiB, 2, EMU_DET);
	assert_int_equal(fail_page_alloc.fail_nth, 0);
	assert_int_equal(fail_page_alloc.probability_ppm, 0);
	th_shutdown();
}

/* ---- Time and work (deterministic mode) ---- */

struct event {
	struct kmm_work work;
	int id;
	int repeats;        /* requeue this many more times */
	uint64_t period;
};

static struct {
	int id[32];
	uint64_t at[32];
	int n;
} trace;

static void record(struct kmm_work *w)
{
	struct event *e = container_of(w, struct event, work);

	assert_false(w->queued);
	assert_true(trace.n < 32);
	trace.id[trace.n] = e->id;
	trace.at[trace.n] = arch_now_ns();
	trace.n++;
	if (e->repeats > 0) {
		e->repeats--;
		arch_queue_work(w, e->period);
		assert_true(w->queued);
	}
}

static void expect_trace(const int *ids, const uint64_t *at, int n)
{
	assert_int_equal(trace.n, n);
	for (int i = 0; i < n; i++) {
		if (trace.id[i] != ids[i] || trace.at[i] != at[i])
			fail_msg("event %d: id %d at %llu, expected id %d at %llu", i,
				 trace.id[i], (unsigned long long)trace.at[i], ids[i],
				 (unsigned long long)at[i]);
	}
}

static void test_virtual_time(void **state)
{
	th_boot(32 * MiB, 2, EMU_DET);
	assert_int_equal(arch_now_ns(), 0);
	assert_int_equal(arch_now_ns(), 0);
	emu_advance_ns(1500);
	assert_int_equal(arch_now_ns(), 1500);
	emu_advance_ns(0);
	assert_int_equal(arch_now_ns(), 1500);
	emu_advance_ns(UINT64_MAX);  /* saturates */
	assert_int_equal(arch_now_ns(), UINT64_MAX);
	th_shutdown();

	/* Each boot starts its clock at 0. */
	th_boot(32 * MiB, 2, EMU_DET);
	assert_int_equal(arch_now_ns(), 0);
	th_shutdown();
}

/* Work runs in time order, FIFO among equals, each seeing its own time. */
static void test_work_order(void **state)
{
	struct event a = { .work.fn = record, .id = 1 };
	struct event b = { .work.fn = record, .id = 2 };
	struct event c = { .work.fn = record, .id = 3 };
	struct event d = { .work.fn = record, .id = 4 };

	th_boot(32 * MiB, 2, EMU_DET);
	memset(&trace, 0, sizeof(trace));
	emu_advance_ns(100);
	arch_queue_work(&a.work, 30);
	arch_queue_work(&b.work, 10);
	arch_queue_work(&c.work, 10);
	arch_queue_work(&d.work, 20);
	assert_true(a.work.queued);
	assert_int_equal(a.work.when_ns, 130);
	/* Already queued: nothing changes, not even the time. */
	arch_queue_work(&a.work, 5);
	assert_int_equal(a.work.when_ns, 130);

	/* Nothing is due yet. */
	emu_run_pending_work();
	assert_int_equal(trace.n, 0);

	emu_advance_ns(25);
	{
		static const int ids[] = { 2, 3, 4 };
		static const uint64_t at[] = { 110, 110, 120 };
		expect_trace(ids, at, 3);
	}
	assert_int_equal(arch_now_ns(), 125);
	assert_true(a.work.queued);
	assert_false(b.work.queued);

	emu_advance_ns(1000);
	{
		static const int ids[] = { 2, 3, 4, 1 };
		static const uint64_t at[] = { 110, 110, 120, 130 };
		expect_trace(ids, at, 4);
	}
	assert_int_equal(arch_now_ns(), 1125);
	th_shutdown();
}

/* A work function that requeues itself runs at each period within the advance. */
static void test_work_requeues_itself(void **state)
{
	struct event tick = { .work.fn = record, .id = 7, .repeats = 4, .period = 10 };
	struct event other = { .work.fn = record, .id = 8 };

	th_boot(32 * MiB, 2, EMU_DET);
	memset(&trace, 0, sizeof(trace));
	arch_queue_work(&tick.work, 10);
	arch_queue_work(&other.work, 30);
	emu_advance_ns(45);
	{
		/* The tick requeued at 30 runs after "other", queued earlier for 30. */
		static const int ids[] = { 7, 7, 8, 7, 7 };
		static const uint64_t at[] = { 10, 20, 30, 30, 40 };
		expect_trace(ids, at, 5);
	}
	assert_true(tick.work.queued);
	assert_int_equal(tick.work.when_ns, 50);
	emu_advance_ns(100);
	assert_int_equal(trace.n, 6);
	assert_int_equal(trace.at[5], 50);
	assert_false(tick.work.queued);
	th_shutdown();
}

/* Zero delay: due now, run by the next pass; requeued, by the pass after. */
static void test_work_zero_delay(void **state)
{
	struct event e = { .work.fn = record, .id = 5, .repeats = 2, .period = 0 };

	th_boot(32 * MiB, 2, EMU_DET);
	memset(&trace, 0, sizeof(trace));
	emu_advance_ns(7);
	arch_queue_work(&e.work, 0);
	emu_run_pending_work();
	assert_int_equal(trace.n, 1);
	assert_true(e.work.queued);
	emu_run_pending_work();
	assert_int_equal(trace.n, 2);
	emu_run_pending_work();
	assert_int_equal(trace.n, 3);
	assert_false(e.work.queued);
	emu_run_pending_work();
	assert_int_equal(trace.n, 3);
	assert_int_equal(trace.at[2], 7);
	th_shutdown();
}

/* Shutdown drops queued work: it never runs on the next machine. */
static void test_shutdown_drops_work(void **state)
{
	struct event e = { .work.fn = record, .id = 9 };

	th_boot(32 * MiB, 2, EMU_DET);
	memset(&trace, 0, sizeof(trace));
	arch_queue_work(&e.work, 10);
	th_shutdown();
	assert_false(e.work.queued);
	th_boot(32 * MiB, 2, EMU_DET);
	emu_advance_ns(100);
	assert_int_equal(trace.n, 0);
	/* It can be queued again on the new machine. */
	arch_queue_work(&e.work, 10);
	emu_advance_ns(100);
	assert_int_equal(trace.n, 1);
	assert_int_equal(trace.at[0], 110);
	th_shutdown();
}

/* SMP time is real, never goes back, and emu_advance_ns adds to it. */
static void test_smp_time(void **state)
{
	struct event e = { .work.fn = record, .id = 11 };
	uint64_t t0, t1;

	th_boot(32 * MiB, 2, EMU_SMP);
	memset(&trace, 0, sizeof(trace));
	t0 = arch_now_ns();
	t1 = arch_now_ns();
	assert_true(t1 >= t0);
	arch_queue_work(&e.work, 3600ULL * 1000000000ULL);
	emu_advance_ns(3600ULL * 1000000000ULL);
	assert_true(arch_now_ns() >= t1 + 3600ULL * 1000000000ULL);
	assert_int_equal(trace.n, 1);
	assert_true(trace.at[0] >= e.work.when_ns);
	th_shutdown();
}

/* CPUs of an SMP machine queue work at once; every item runs once, in time order. */
#define ITEMS_PER_CPU 64

struct smp_item {
	struct kmm_work work;
	atomic_int runs;
};

static struct {
	struct smp_item item[4][ITEMS_PER_CPU];
	uint64_t last_when;
	bool out_of_order;
	uint64_t random[4][16];
} smp_work;

static void smp_item_run(struct kmm_work *w)
{
	struct smp_item *it = container_of(w, struct smp_item, work);

	/* Runs on the thread that advances the clock: no lock needed here. */
	if (w->when_ns < smp_work.last_when)
		smp_work.out_of_order = true;
	smp_work.last_when = w->when_ns;
	atomic_fetch_add(&it->runs, 1);
}

static void queue_items(unsigned int cpu, void *arg)
{
	for (unsigned int i = 0; i < ITEMS_PER_CPU; i++) {
		struct smp_item *it = &smp_work.item[cpu][i];

		it->work.fn = smp_item_run;
		/* Far in the future, so none falls due before the advance. */
		arch_queue_work(&it->work, 3600ULL * 1000000000ULL + (i * 7 + cpu) % 50);
		arch_queue_work(&it->work, 1); /* already queued: ignored */
	}
	for (unsigned int i = 0; i < 16; i++)
		smp_work.random[cpu][i] = emu_random();
}

static void test_smp_work_queue(void **state)
{
	th_boot(32 * MiB, 4, EMU_SMP);
	memset(&smp_work, 0, sizeof(smp_work));
	assert_int_equal(emu_run_on_cpus(4, queue_items, NULL), 0);
	emu_advance_ns(7200ULL * 1000000000ULL);
	assert_false(smp_work.out_of_order);
	for (unsigned int c = 0; c < 4; c++)
		for (unsigned int i = 0; i < ITEMS_PER_CPU; i++) {
			assert_int_equal(atomic_load(&smp_work.item[c][i].runs), 1);
			assert_false(smp_work.item[c][i].work.queued);
		}
	/* The shared generator never hands two CPUs the same number. */
	for (unsigned int a = 0; a < 4 * 16; a++)
		for (unsigned int b = 0; b < a; b++)
			assert_int_not_equal(smp_work.random[a / 16][a % 16],
					     smp_work.random[b / 16][b % 16]);
	th_shutdown();
}

/* ---- CPUs ---- */

#define SMP_CPUS 4

struct cpu_seen {
	unsigned int cpu[SMP_CPUS];
	pthread_t thread[SMP_CPUS];
	atomic_uint calls;
	unsigned int order[SMP_CPUS];
};

static void note_cpu(unsigned int cpu, void *arg)
{
	struct cpu_seen *seen = arg;
	unsigned int call = atomic_fetch_add(&seen->calls, 1);

	if (cpu < SMP_CPUS) {
		seen->cpu[cpu] = arch_this_cpu();
		seen->thread[cpu] = pthread_self();
		seen->order[call % SMP_CPUS] = cpu;
	}
}

static void test_smp_cpus(void **state)
{
	struct cpu_seen seen;

	th_boot(32 * MiB, SMP_CPUS, EMU_SMP);
	assert_int_equal(arch_this_cpu(), 0);
	memset(&seen, 0, sizeof(seen));
	for (unsigned int c = 0; c < SMP_CPUS; c++)
		seen.cpu[c] = ~0u;
	assert_int_equal(emu_run_on_cpus(SMP_CPUS, note_cpu, &seen), 0);
	assert_int_equal(atomic_load(&seen.calls), SMP_CPUS);
	for (unsigned int c = 0; c < SMP_CPUS; c++) {
		assert_int_equal(seen.cpu[c], c);
		assert_false(pthread_equal(seen.thread[c], pthread_self()));
		for (unsigned int d = 0; d < c; d++)
			assert_false(pthread_equal(seen.thread[c], seen.thread[d]));
	}
	/* The main thread is still CPU 0; fewer CPUs than the machine has is fine. */
	assert_int_equal(arch_this_cpu(), 0);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(emu_run_on_cpus(2, note_cpu, &seen), 0);
	assert_int_equal(atomic_load(&seen.calls), 2);
	assert_int_equal(seen.cpu[1], 1);

	/* emu_set_cpu binds the calling thread. */
	emu_set_cpu(3);
	assert_int_equal(arch_this_cpu(), 3);
	emu_set_cpu(0);

	assert_int_equal(emu_run_on_cpus(0, note_cpu, &seen), -KMM_EINVAL);
	assert_int_equal(emu_run_on_cpus(SMP_CPUS + 1, note_cpu, &seen), -KMM_EINVAL);
	th_shutdown();
	assert_int_equal(emu_run_on_cpus(1, note_cpu, &seen), -KMM_EINVAL);
}

/* Deterministic mode runs the CPUs in order on this thread, then restores the CPU. */
static void test_det_cpus(void **state)
{
	struct cpu_seen seen;

	th_boot(32 * MiB, SMP_CPUS, EMU_DET);
	memset(&seen, 0, sizeof(seen));
	emu_set_cpu(2);
	assert_int_equal(arch_this_cpu(), 2);
	assert_int_equal(emu_run_on_cpus(SMP_CPUS, note_cpu, &seen), 0);
	for (unsigned int c = 0; c < SMP_CPUS; c++) {
		assert_int_equal(seen.cpu[c], c);
		assert_int_equal(seen.order[c], c);
		assert_true(pthread_equal(seen.thread[c], pthread_self()));
	}
	assert_int_equal(arch_this_cpu(), 2);
	TH_EXPECT_PANIC(emu_set_cpu(SMP_CPUS), "does not exist");
	assert_int_equal(arch_this_cpu(), 2);
	th_shutdown();
}

/* Contention on a single-threaded machine can never end: a panic, not a hang. */
static void test_det_deadlock_panics(void **state)
{
	spinlock_t lock = SPINLOCK_INIT;
	mutex_t mutex;
	rwlock_t rw;

	th_boot(32 * MiB, 2, EMU_DET);
	TH_EXPECT_PANIC(arch_cpu_relax(), "deadlock");
	TH_EXPECT_PANIC(arch_yield(), "deadlock");
	spin_lock(&lock);
	TH_EXPECT_PANIC(spin_lock(&lock), "deadlock");
	spin_unlock(&lock);
	mutex_init(&mutex);
	mutex_lock(&mutex);
	TH_EXPECT_PANIC(mutex_lock(&mutex), "sleeping lock");
	mutex_unlock(&mutex);
	/* The reader-writer lock without atomics keeps its states too. */
	rwlock_init(&rw);
	read_lock(&rw);
	read_lock(&rw);
	TH_EXPECT_PANIC(write_lock(&rw), "deadlock");
	read_unlock(&rw);
	read_unlock(&rw);
	write_lock(&rw);
	TH_EXPECT_PANIC(read_lock(&rw), "deadlock");
	write_unlock(&rw);
	read_lock(&rw);
	read_unlock(&rw);
	assert_int_equal(atomic_load(&rw.count), 0);
	th_shutdown();
}

/* One host thread: the locks skip atomics; several: they use them. */
static void test_lock_mode_follows_machine(void **state)
{
	th_boot(32 * MiB, 2, EMU_DET);
	assert_false(arch_smp_threads);
	th_shutdown();
	assert_true(arch_smp_threads);
	th_boot(32 * MiB, 2, EMU_SMP);
	assert_true(arch_smp_threads);
	th_shutdown();
}

/* In SMP mode waiting is allowed: two CPUs take turns on one spinlock. */
struct shared_counter {
	spinlock_t lock;
	unsigned long value;
};

static void add_under_lock(unsigned int cpu, void *arg)
{
	struct shared_counter *c = arg;

	for (int i = 0; i < 20000; i++) {
		spin_lock(&c->lock);
		c->value++;
		spin_unlock(&c->lock);
	}
}

static void test_smp_spinlock(void **state)
{
	struct shared_counter c = { SPINLOCK_INIT, 0 };

	th_boot(32 * MiB, 2, EMU_SMP);
	arch_cpu_relax();
	arch_yield();
	assert_int_equal(emu_run_on_cpus(2, add_under_lock, &c), 0);
	assert_int_equal(c.value, 40000);
	th_shutdown();
}

/* ---- Console and panic ---- */

static void test_console_capture(void **state)
{
	char buf[16];

	emu_console_capture(buf, sizeof(buf));
	assert_string_equal(buf, "");
	arch_console_write("hello ", 6);
	arch_console_write("world", 5);
	assert_int_equal(emu_console_captured(), 11);
	assert_string_equal(buf, "hello world");
	/* Truncates, always terminated. */
	arch_console_write(", and more", 10);
	assert_int_equal(emu_console_captured(), 15);
	assert_string_equal(buf, "hello world, an");
	arch_console_write("x", 1);
	assert_string_equal(buf, "hello world, an");
	/* A new capture starts empty. */
	emu_console_capture(buf, sizeof(buf));
	assert_int_equal(emu_console_captured(), 0);
	arch_console_write("a", 1);
	assert_string_equal(buf, "a");
	emu_console_capture(NULL, 0);
	assert_int_equal(emu_console_captured(), 0);
	assert_string_equal(buf, "a");
}

static void panic_with(void *arg)
{
	arch_panic(arg);
}

static void no_panic(void *arg)
{
	*(int *)arg = 1;
}

static void test_panic_handler(void **state)
{
	int ran = 0;

	assert_true(th_catch_panic(panic_with, "out of cheese"));
	assert_string_equal(th_panic_message(), "out of cheese");
	assert_false(th_catch_panic(no_panic, &ran));
	assert_int_equal(ran, 1);
	/* The core's panic() formats, then reaches arch_panic. */
	TH_EXPECT_PANIC(panic("frame %d of %s", 42, "nowhere"), "frame 42 of nowhere");
}

/* ---- The seeded generator ---- */

static void test_random(void **state)
{
	struct emu_config cfg;
	uint64_t first[64], x;
	int same = 0;

	th_config(&cfg, 32 * MiB, 2, EMU_DET);
	cfg.seed = 1234;
	th_boot_cfg(&cfg);
	for (int i = 0; i < 64; i++)
		first[i] = emu_random();
	for (int i = 1; i < 64; i++)
		same += first[i] == first[i - 1];
	assert_int_equal(same, 0);

	/* The same seed replays the same sequence. */
	th_boot_cfg(&cfg);
	for (int i = 0; i < 64; i++)
		assert_int_equal(emu_random(), first[i]);

	/* Another seed, another sequence; seed 0 is as good as any. */
	cfg.seed = 1235;
	th_boot_cfg(&cfg);
	assert_int_not_equal(emu_random(), first[0]);
	cfg.seed = 0;
	th_boot_cfg(&cfg);
	x = emu_random();
	assert_int_not_equal(x, 0);
	assert_int_not_equal(emu_random(), x);
	th_shutdown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size_good),
		cmocka_unit_test(test_parse_size_bad),
		cmocka_unit_test(test_config_default),
		cmocka_unit_test_teardown(test_config_rejected, th_teardown),
		cmocka_unit_test_teardown(test_config_limits, th_teardown),
		cmocka_unit_test_teardown(test_memory_map_256m, th_teardown),
		cmocka_unit_test_teardown(test_memory_map_pci_hole, th_teardown),
		cmocka_unit_test_teardown(test_ram_and_holes, th_teardown),
		cmocka_unit_test_teardown(test_big_machine, th_teardown),
		cmocka_unit_test_teardown(test_kernel_image, th_teardown),
		cmocka_unit_test_teardown(test_boot_again, th_teardown),
		cmocka_unit_test_teardown(test_boot_structures_too_big, th_teardown),
		cmocka_unit_test_teardown(test_boot_log, th_teardown),
		cmocka_unit_test_teardown(test_fault_injection_config, th_teardown),
		cmocka_unit_test_teardown(test_virtual_time, th_teardown),
		cmocka_unit_test_teardown(test_work_order, th_teardown),
		cmocka_unit_test_teardown(test_work_requeues_itself, th_teardown),
		cmocka_unit_test_teardown(test_work_zero_delay, th_teardown),
		cmocka_unit_test_teardown(test_shutdown_drops_work, th_teardown),
		cmocka_unit_test_teardown(test_smp_time, th_teardown),
		cmocka_unit_test_teardown(test_smp_work_queue, th_teardown),
		cmocka_unit_test_teardown(test_smp_cpus, th_teardown),
		cmocka_unit_test_teardown(test_det_cpus, th_teardown),
		cmocka_unit_test_teardown(test_det_deadlock_panics, th_teardown),
		cmocka_unit_test_teardown(test_lock_mode_follows_machine, th_teardown),
		cmocka_unit_test_teardown(test_smp_spinlock, th_teardown),
		cmocka_unit_test_teardown(test_console_capture, th_teardown),
		cmocka_unit_test_teardown(test_panic_handler, th_teardown),
		cmocka_unit_test_teardown(test_random, th_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
