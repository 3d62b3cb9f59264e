/*
 * The emulated machine (arch/emu): what a host program (the kmm tool, tests,
 * benchmarks) uses to boot and drive a machine. One machine at a time per
 * host process: the core keeps its state in globals, as a kernel does.
 *
 * Modes: deterministic (one host thread; the caller switches the current
 * emulated CPU with emu_set_cpu; virtual time; a seed) and SMP (each
 * emulated CPU runs on its own host thread, see emu_run_on_cpus; real time).
 */
#ifndef KMM_EMU_H
#define KMM_EMU_H

#include <kmm/kmm.h>
#include <kmm/types.h>

enum emu_mode { EMU_DET, EMU_SMP };

struct emu_config {
	uint64_t ram_bytes;          /* --ram: 16 MiB .. 16 GiB and more */
	uint64_t kernel_bytes;       /* --kernel-size: image at 1 MiB, default 4 MiB */
	unsigned int cpus;           /* --cpus, default 2 */
	enum emu_mode mode;          /* --mode det|smp, default det */
	uint64_t seed;               /* --seed, default 1 */
	/* Fault injection of page allocations: fail the Nth, or with a probability. */
	unsigned long fail_page_nth;
	double fail_page_probability;
	struct kmm_boot_options mm;  /* core options (--no-mobility, --min-free-kbytes) */
	/* Memory hot-add: a range of this many bytes (a multiple of 2 MiB)
	   above RAM with no memory at boot, for emu_add_memory. Default 0. */
	uint64_t hotplug_bytes;
	/*
	 * Files (arch/emu/hostfs.c): the host directory that is the machine's
	 * root (--root, empty: "/"), writable only with --rw; and its disks,
	 * "NAME=FILE[,NAME=FILE...]" (--disk), seen as /dev/NAME.
	 */
	char root[1024];
	bool root_rw;
	char disks[1024];
};

void emu_config_default(struct emu_config *cfg);

/*
 * Parses a size such as "256M", "4G", "64k" or "1048576" (bytes).
 * Returns 0 or -KMM_EINVAL.
 */
int emu_parse_size(const char *text, uint64_t *bytes);

/*
 * Boots a machine: allocates its RAM from the host, builds the firmware
 * memory map, sets up the CPUs and calls mm_init. On failure returns a
 * negative errno and writes a one-line reason into err (if non-NULL).
 */
int emu_boot(const struct emu_config *cfg, char *err, size_t errlen);
/*
 * Adds the next bytes (a multiple of 2 MiB) of the hotplug range to the
 * running machine (add_memory). Returns 0, -KMM_ENOMEM past the range's end
 * or -KMM_EINVAL.
 */
int emu_add_memory(uint64_t bytes);

/* Tears the machine down and returns its RAM to the host. */
void emu_shutdown(void);
bool emu_booted(void);
const struct emu_config *emu_config(void);

/* Deterministic mode: make cpu the current CPU of the (single) host thread. */
void emu_set_cpu(unsigned int cpu);

/*
 * SMP mode: runs fn(cpu, arg) on host threads, one per CPU 0..n-1, each
 * bound as that CPU, and waits for all of them. Returns 0 or -errno.
 */
int emu_run_on_cpus(unsigned int n, void (*fn)(unsigned int cpu, void *arg),
		    void *arg);

/* Virtual time (deterministic mode): advance and run due work. */
void emu_advance_ns(uint64_t ns);
/* Runs work items that are due now (both modes). */
void emu_run_pending_work(void);

/* The console: by default stdout; a capture buffer for tests. */
void emu_console_capture(char *buf, size_t size);  /* NULL: stop capturing */
size_t emu_console_captured(void);

/*
 * Panics normally print and abort the host process. Tests that provoke one
 * on purpose install a handler, which must not return (longjmp out).
 */
typedef void (*emu_panic_handler)(const char *message);
void emu_set_panic_handler(emu_panic_handler handler);

/* A deterministic random number from the machine's seed (xorshift64*). */
uint64_t emu_random(void);

/*
 * Task memory accesses through the MMU (arch/emu/mmu.c): the current CPU
 * switches to t's mm (flushing its TLB, as a CPU without PCIDs does),
 * translates through its TLB (a walk on a miss, setting A and D bits
 * atomically), enforces user/write/NX, and on a miss or violation calls
 * do_page_fault and retries. Sizes of load/store: 1, 2, 4 or 8 (any
 * alignment; an access crossing a page is two translations).
 * Each returns 0, or -KMM_EFAULT when t is dead or the access ended it with a
 * signal (t->exit_signal, t->fault_code, t->fault_addr say which and where).
 */
struct task;
/* emu_load and emu_store are inline: <kmm/emu_mmu.h>, at the end. */
int emu_copy_from_user(struct task *t, void *dst, uint64_t va, size_t len);
int emu_copy_to_user(struct task *t, uint64_t va, const void *src, size_t len);
int emu_fill_user(struct task *t, uint64_t va, int byte, size_t len);
/* Touches one byte of every page of [va, va+len): a read, or a write of the byte read. */
int emu_touch(struct task *t, uint64_t va, size_t len, bool write);
/* An instruction fetch at va (the NX check). */
int emu_fetch(struct task *t, uint64_t va);

/*
 * I/O fault injection (arch/emu/hostfs.c), for tests: calls of kind op
 * (EMU_FS_READ or EMU_FS_WRITE) on the file at path (inside the root, or
 * /dev/NAME) are counted from 1 once this is called; calls nth ..
 * nth + count - 1 fail with err (a negative errno such as -KMM_EIO or
 * -KMM_ENOSPC), or, with err 0, a write stores only half of its bytes and
 * then fails with -KMM_ENOSPC (a short write). Up to 8 rules; 0 or
 * -KMM_ENOSPC when full, -KMM_EINVAL for a bad argument.
 * emu_fs_fail_clear removes every rule (boot does too).
 */
enum emu_fs_op { EMU_FS_READ, EMU_FS_WRITE };
int emu_fs_fail(const char *path, enum emu_fs_op op, unsigned long nth,
		unsigned long count, int err);
void emu_fs_fail_clear(void);
/* Failures injected so far by the rules (all of them). */
unsigned long emu_fs_failed(void);
/* Host read or write calls made so far (a cluster is one write). */
unsigned long emu_fs_calls(enum emu_fs_op op);
/* Host files the root and disks hold open now (a leak check for tests). */
unsigned int emu_fs_open_files(void);

struct emu_tlb_stats {
	unsigned long hits, misses, faults, flushes_all, flushes_one, shootdowns;
};
/* Summed over CPUs. */
void emu_tlb_stats(struct emu_tlb_stats *out);

/* The TLB-hit path of emu_load/emu_store, inline in the caller. */
#include <kmm/emu_mmu.h>

#endif
