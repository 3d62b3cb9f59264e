/*
 * The arch interface: everything the core (mm/, lib/) needs from a machine.
 * The core calls nothing else; a port (arch/emu, arch/native, a real kernel)
 * implements these functions and defines arch_direct_map_base.
 *
 * Later subsystems add to this header (page-table entries, TLB flushes, block
 * devices, files); each group says which layer uses it.
 */
#ifndef KMM_ARCH_H
#define KMM_ARCH_H

#include <kmm/types.h>

/* ---- Physical memory map at boot (used by memblock) ---- */

enum kmm_mem_type {
	KMM_MEM_USABLE = 1,   /* RAM the kernel may use */
	KMM_MEM_RESERVED = 2, /* firmware, ROM, MMIO: never RAM for us */
	KMM_MEM_HOTPLUG = 3,  /* no RAM at boot; the arch may add some later
				 with add_memory() (as ACPI's hot-pluggable
				 ranges): mem_map and the pageblock types
				 cover it from boot */
};

struct kmm_mem_range {
	phys_addr_t base;
	phys_addr_t size;
	enum kmm_mem_type type;
};

/*
 * Fills out[0..max) with the firmware memory map (like the BIOS e820 table),
 * sorted by base and non-overlapping. Returns the number of ranges.
 */
int arch_memory_map(struct kmm_mem_range *out, int max);

/* Where the loaded kernel image sits; memblock reserves it. */
void arch_kernel_image(phys_addr_t *base, phys_addr_t *size);

/*
 * Where mem_map lives (Linux's SPARSEMEM_VMEMMAP). NULL: the core takes it
 * from memblock, in RAM, as the emulated machine does. An arch with
 * KMM_MEM_HOTPLUG ranges far larger than its boot RAM (arch/native) returns
 * address space for nr_pages struct pages instead, which it backs with
 * memory section by section, each before the core touches it (boot RAM
 * before mm_init, a hot-added range before add_memory).
 */
struct page;
struct page *arch_mem_map(unsigned long nr_pages);

/*
 * The direct map: all of physical memory mapped linearly at
 * arch_direct_map_base (Linux's PAGE_OFFSET), so the core can turn any
 * physical address into a pointer with one addition.
 */
extern uintptr_t arch_direct_map_base;

static inline void *phys_to_virt(phys_addr_t pa)
{
	return (void *)(arch_direct_map_base + (uintptr_t)pa);
}

static inline phys_addr_t virt_to_phys(const void *va)
{
	return (phys_addr_t)((uintptr_t)va - arch_direct_map_base);
}

/* ---- CPUs ---- */

/*
 * Owned CPU slots. An arch may build the core with KMM_OWNED_CPU_SLOTS
 * defined when arch_this_cpu() names a slot that exactly one thread uses
 * at a time and that no thread leaves in the middle of an allocator call
 * (arch/native leases slots to threads: a "CPU" is a thread). The slab
 * allocator's per-CPU magazines are then private to the slot's owner: its
 * fast path takes no lock, and no other thread ever touches them; the
 * owner gives them back with kmem_cache_cpu_dead() before releasing the
 * slot (mm/slab.c, "Owned slots").
 */

/*
 * Can two host threads run kernel code at the same time? An arch whose
 * CPUs all run on one host thread (the emulated machine's deterministic
 * mode) sets it false, and the locks of lock.h then take and release with
 * plain loads and stores instead of atomic read-modify-write instructions
 * (about 10 ns an uncontended lock and unlock on the 2-core VM): a
 * uniprocessor kernel's spinlocks compile away for the same reason. It
 * changes only while no machine runs.
 */
extern bool arch_smp_threads;

/*
 * The CPU the caller runs on, 0 <= cpu < arch_nr_cpus(). It is on every
 * allocator fast path, so an arch whose CPU is a plain variable publishes
 * it for an inline read: arch_cpu_single while arch_smp_threads is false
 * (the one host thread switches it), arch_cpu_thread, one per host
 * thread, while it is true. An arch with owned slots (a thread leases its
 * CPU on first use) provides the function instead.
 */
#ifdef KMM_OWNED_CPU_SLOTS
unsigned int arch_this_cpu(void);
#else
extern unsigned int arch_cpu_single;
/* local-exec: one load off the thread pointer, no GOT (the core is linked
   into programs, not shared objects, wherever this variant is used). */
extern _Thread_local unsigned int arch_cpu_thread __attribute__((tls_model("local-exec")));

static inline unsigned int arch_this_cpu(void)
{
	return arch_smp_threads ? arch_cpu_thread : arch_cpu_single;
}
#endif
/* The number of CPUs, at most KMM_MAX_CPUS; fixed after boot. */
unsigned int arch_nr_cpus(void);
/* Called in a spin-wait loop (a pause instruction, or a deadlock check). */
void arch_cpu_relax(void);
/* Give up the CPU while waiting for a sleeping lock. */
void arch_yield(void);

/* ---- Time and deferred work ---- */

/* Nanoseconds since boot: virtual time in deterministic mode. */
uint64_t arch_now_ns(void);

/*
 * A work item runs fn once, at or after now + delay. Work functions do a
 * bounded amount of work and return (re-queue themselves to continue), so a
 * single-threaded deterministic machine can run them as events.
 */
struct kmm_work {
	void (*fn)(struct kmm_work *work);
	uint64_t when_ns;        /* owned by the arch while queued */
	struct kmm_work *next;   /* owned by the arch while queued */
	bool queued;             /* owned by the arch */
};

/* Queues work to run after delay_ns; does nothing if it is already queued. */
void arch_queue_work(struct kmm_work *work, uint64_t delay_ns);

/* ---- TLB (used by the address-space layer, mm/memory.c) ---- */

struct mm;

/*
 * After the core changes or clears present entries of mm, these make every
 * CPU that may cache them forget them (a shootdown in SMP mode). They
 * return only when no CPU can use a stale translation any more, so a frame
 * unmapped before the call may be freed after it. The core calls them with
 * mm->page_table_lock not held.
 */
void arch_flush_tlb_page(struct mm *mm, uintptr_t addr);
void arch_flush_tlb_range(struct mm *mm, uintptr_t start, uintptr_t end);
void arch_flush_tlb_mm(struct mm *mm);
/* mm is about to be freed: no CPU may keep it as its current mm. */
void arch_mm_release(struct mm *mm);

/* ---- Files and block devices (used by the page cache, mm/filemap.c) ---- */

/*
 * The machine's root file system is a host directory (arch/emu/hostfs.c);
 * its disks are host files. The core names files by absolute paths inside
 * the root and moves whole pages or byte ranges; it never sees a host path.
 * A block device appears as /dev/NAME and is read and written like a file
 * whose size is the disk's.
 */
struct arch_file;   /* an open file of the root, or a disk */

struct arch_stat {
	uint64_t size;       /* bytes */
	uint64_t ino;        /* unique per file while the machine runs */
	uint32_t dev;        /* major << 8 | minor, as /proc/PID/maps prints */
	uint32_t mode;       /* S_IFREG/S_IFDIR/S_IFBLK | permission bits, Linux's values */
};

/* Open flags the arch understands (Linux's values, as KMM_O_* in fs.h). */
/*
 * Opens path (absolute inside the root; no "..": the arch refuses to leave
 * the root) with KMM_O_ACCMODE / KMM_O_CREAT / KMM_O_EXCL / KMM_O_TRUNC bits.
 * 0 and *out, or -errno (ENOENT, EACCES, EROFS on a read-only root, EISDIR
 * when writing a directory, ENAMETOOLONG, EMFILE when the host runs out).
 */
int arch_fs_open(const char *path, int flags, unsigned int mode, struct arch_file **out);
int arch_fs_stat(struct arch_file *f, struct arch_stat *st);
/* Bytes read (fewer at end of file, 0 at or past it) or -errno. */
long arch_fs_read(struct arch_file *f, uint64_t off, void *buf, size_t len);
/* Bytes written (all of len unless an error stops it part-way) or -errno
   (EIO, ENOSPC, EFBIG...). */
long arch_fs_write(struct arch_file *f, uint64_t off, const void *buf, size_t len);
/*
 * The same over several buffers, one host call (readahead reads a window,
 * writeback writes a cluster of contiguous dirty pages into one write).
 */
struct arch_iovec {
	void *base;
	size_t len;
};
long arch_fs_readv(struct arch_file *f, uint64_t off, const struct arch_iovec *iov, int n);
long arch_fs_writev(struct arch_file *f, uint64_t off, const struct arch_iovec *iov, int n);
int arch_fs_truncate(struct arch_file *f, uint64_t size);
/* Makes what was written durable on the host (fsync / fdatasync). */
int arch_fs_fsync(struct arch_file *f, bool datasync);
void arch_fs_close(struct arch_file *f);

/* ---- Console and panic ---- */

void arch_console_write(const char *text, size_t len);
__noreturn void arch_panic(const char *message);

#endif
