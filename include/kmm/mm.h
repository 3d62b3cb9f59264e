/*
 * Process address spaces: the memory descriptor (struct mm), its memory
 * areas (struct vm_area), tasks, and the functions that work on them. This
 * header is the contract between the files of the layer:
 *
 *   mm/vma.c     the area set: lookup, gaps, insert/remove, split, merge
 *   mm/mmap.c    mmap, munmap, mprotect, mremap, brk, madvise, stack growth
 *   mm/memory.c  page tables, the fault handler, zap/copy/protect/move of
 *                ranges of page tables, the zero page
 *   mm/fork.c    tasks, mm lifetime, fork, threads, exit
 *   mm/exec.c    exec: a fresh address space with a stack, or an ELF
 *                program with its loader and libraries
 *
 * and with the arch, which translates task accesses (arch/emu/mmu.c) and
 * calls do_page_fault on a miss or a violation.
 *
 * Locking, in the order taken:
 *   mm->mmap_lock (rw)       the area set and every area's fields; readers
 *                            for faults and lookups, writers for changes.
 *   anon_vma->lock           the list of areas of an anon_vma; also, with
 *                            the writer's mmap_lock, the bounds, vm_pgoff
 *                            and vm_flags of those areas, which reclaim
 *                            reads under it alone (mm/rmap.c). A file
 *                            area's i_mmap_lock is taken before it.
 *   mm->page_table_lock      allocation and freeing of page-table frames,
 *                            and changes to entries by the core (the MMU
 *                            sets A/D bits atomically without it).
 *   page allocator / slab locks.
 */
#ifndef KMM_MM_H
#define KMM_MM_H

#include <kmm/gfp.h>
#include <kmm/list.h>
#include <kmm/lock.h>
#include <kmm/mm_types.h>
#include <kmm/pgtable.h>
#include <kmm/rbtree.h>
#include <kmm/types.h>
#include <stdatomic.h>

struct mm;
struct task;
struct file;   /* fs.h */
struct files_struct;

/* ---- Memory areas ---- */

/* vm_flags, with Linux's values (smaps prints them as VmFlags). */
#define VM_NONE       0x00000000UL
#define VM_READ       0x00000001UL
#define VM_WRITE      0x00000002UL
#define VM_EXEC       0x00000004UL
#define VM_SHARED     0x00000008UL
#define VM_MAYREAD    0x00000010UL
#define VM_MAYWRITE   0x00000020UL
#define VM_MAYEXEC    0x00000040UL
#define VM_MAYSHARE   0x00000080UL
#define VM_GROWSDOWN  0x00000100UL
#define VM_DENYWRITE  0x00000800UL
#define VM_LOCKED     0x00002000UL
#define VM_SEQ_READ   0x00008000UL
#define VM_RAND_READ  0x00010000UL
#define VM_DONTCOPY   0x00020000UL
#define VM_ACCOUNT    0x00100000UL
#define VM_NORESERVE  0x00200000UL
#define VM_STACK      VM_GROWSDOWN

#define VM_ACCESS_FLAGS (VM_READ | VM_WRITE | VM_EXEC)

/*
 * The anonymous-memory anchor of the object-based reverse map (ULK3 ch. 17):
 * every area that may map a given anonymous page is on the list of the
 * page's anon_vma (page->mapping holds the anon_vma with bit 0 set). fork
 * puts the child's areas on the parent's anon_vma; reclaim walks the list.
 */
struct anon_vma {
	spinlock_t lock;             /* protects head */
	struct list_head head;       /* vm_area.anon_vma_node */
	atomic_int refcount;         /* areas on the list + pages pointing here */
};

#define PAGE_MAPPING_ANON 0x1UL

/*
 * Shared anonymous memory (MAP_SHARED|MAP_ANONYMOUS): the pages belong to
 * this object, indexed by page offset, so every area sharing it (after
 * fork or mremap) finds the same frames. The page-cache issue replaces it
 * with a shmem file.
 */
struct shared_anon;

struct vm_area {
	uintptr_t vm_start;          /* first byte */
	uintptr_t vm_end;            /* first byte after */
	struct mm *vm_mm;
	unsigned long vm_flags;
	unsigned long vm_pgoff;      /* offset in the file or object, in pages */
	struct file *vm_file;        /* file mappings (page-cache issue); NULL: anonymous */
	struct shared_anon *vm_shared;  /* MAP_SHARED anonymous; else NULL */
	/* On vm_file's mapping->i_mmap (fs.h) while vm_file is set. */
	struct list_head shared_node;
	struct anon_vma *anon_vma;   /* NULL until the first private page is faulted */
	struct list_head anon_vma_node;
	/*
	 * Nonzero: anon_vma came from the parent at fork, and this number
	 * stands for the anon_vma of its own Linux would have given the child's
	 * area (its anon_vma_chain is then not singular). Such an area merges
	 * only with an area of the same anon_vma and number (its own splits),
	 * never with one that has no anon_vma, as in Linux.
	 */
	unsigned long anon_fork_id;
	/* The area set (mm/vma.c). */
	struct rb_node vm_rb;
	uintptr_t rb_subtree_gap;    /* largest gap below an area of this subtree */
	struct list_head vm_list;    /* every area of the mm, in address order */
};

/* ---- The memory descriptor ---- */

enum mm_counter {
	MM_FILEPAGES,   /* file pages mapped */
	MM_ANONPAGES,   /* private anonymous pages mapped */
	MM_SWAPENTS,    /* swap entries in the page tables */
	MM_SHMEMPAGES,  /* shared anonymous pages mapped */
	NR_MM_COUNTERS
};

struct mm {
	/* The area set (mmap_lock). */
	struct rb_root mm_rb;
	struct list_head mmap;       /* vm_area.vm_list, in address order */
	unsigned long map_count;
	rwlock_t mmap_lock;

	/* Page tables (page_table_lock). */
	phys_addr_t pgd;             /* physical address of the PML4 frame */
	spinlock_t page_table_lock;
	atomic_long pgtables_bytes;

	/* Lifetime: users are tasks sharing it (threads); count is references. */
	atomic_int mm_users;
	atomic_int mm_count;

	/* Layout (mmap_lock). */
	uintptr_t mmap_base;         /* top-down allocation starts below this */
	uintptr_t start_code, end_code, start_data, end_data;
	uintptr_t start_brk, brk;    /* the heap */
	uintptr_t start_stack;       /* the initial stack pointer */
	uintptr_t stack_limit;       /* RLIMIT_STACK, bytes */

	/* Counters. rss: atomic, changed by faults under the read lock. */
	atomic_long rss[NR_MM_COUNTERS];
	unsigned long total_vm, stack_vm, data_vm, exec_vm, locked_vm;  /* pages */
	unsigned long hiwater_rss, hiwater_vm;

	/* The arch's per-mm TLB state (CPUs that may cache entries, generation). */
	struct {
		_Atomic uint64_t cpumask;
		_Atomic uint64_t tlb_gen;
	} context;
};

static inline long get_mm_counter(struct mm *mm, enum mm_counter c)
{
	return atomic_load_explicit(&mm->rss[c], memory_order_relaxed);
}

static inline void add_mm_counter(struct mm *mm, enum mm_counter c, long v)
{
	atomic_fetch_add_explicit(&mm->rss[c], v, memory_order_relaxed);
}

static inline unsigned long get_mm_rss(struct mm *mm)
{
	return (unsigned long)(get_mm_counter(mm, MM_FILEPAGES) +
			       get_mm_counter(mm, MM_ANONPAGES) +
			       get_mm_counter(mm, MM_SHMEMPAGES));
}

/* Default layout of a fresh address space (x86-64 Linux, no randomization). */
#define STACK_TOP         0x7ffffffff000UL
#define DEFAULT_STACK_LIMIT (8UL << 20)
#define STACK_GUARD_GAP   (256UL << PAGE_SHIFT)   /* Linux's stack_guard_gap */
#define MMAP_MIN_ADDR     0x10000UL

/* ---- Tasks (mm/fork.c) ---- */

enum task_state { TASK_RUNNING, TASK_DEAD };

struct task {
	int pid;
	char comm[16];
	enum task_state state;
	struct mm *mm;               /* NULL once dead */
	struct task *parent;         /* NULL: none, or released (no init adopts) */
	struct files_struct *files;  /* open descriptors (fs.h); NULL once dead */
	struct list_head tasks;      /* the task list */
	int exit_code;
	/* The signal that ended the task (0: exit), and its details. */
	int exit_signal;
	int fault_code;              /* SEGV_MAPERR / SEGV_ACCERR / BUS_ADRERR */
	uintptr_t fault_addr;
	/* Faults taken. */
	unsigned long min_flt, maj_flt, cow_flt;
	/* Linux's oom_score_adj, -1000..1000: added to the OOM badness in
	   thousandths of memory; -1000 never chosen. Inherited by fork. */
	int oom_score_adj;
};

/* Boot: caches of mm, vm_area, anon_vma, task; the zero page. 0 or -errno. */
int mm_task_init(void);

/* A new task with a fresh address space (a stack, an empty heap). */
int task_spawn(const char *name, struct task **out);
/* fork: the child gets a copy of the parent's address space (COW). */
int task_fork(struct task *parent, struct task **child);
/* A thread: a new task sharing parent's mm. */
int task_clone_thread(struct task *parent, struct task **thread);
/* Ends t: its mm is released (torn down with its last user). */
void task_exit(struct task *t, int code);
/* Ends t with a signal (a fault), recording why; used by do_page_fault. */
void task_kill(struct task *t, int sig, int code, uintptr_t addr);
/* Frees a dead task's descriptor (its pid becomes free). */
void task_release(struct task *t);
struct task *task_find(int pid);
/* The parent's pid; 0 when it has none or it was released. */
int task_parent_pid(const struct task *t);
/* Calls fn on every task, live or dead, in pid order. */
void task_for_each(void (*fn)(struct task *t, void *arg), void *arg);
unsigned int task_count(void);

struct mm *mm_alloc(void);
void mmget(struct mm *mm);
/* Drops a user; the last one tears the address space down. */
void mmput(struct mm *mm);

/* exec (mm/exec.c): replaces t's address space with a fresh one. */
int task_exec(struct task *t);
/*
 * exec of a program: loads the ELF64 x86-64 executable at path (in the
 * root file system), its PT_INTERP loader and DT_NEEDED libraries, and a
 * stack holding argv and envp (NULL-terminated arrays; NULL: none) and the
 * auxiliary vector. path NULL: task_exec. 0, or -errno with the old
 * address space intact: -ENOENT/-EACCES from the files, -ENOEXEC for a
 * malformed object (with a printk line saying why), -E2BIG, -ENOMEM.
 */
int task_exec_file(struct task *t, const char *path, const char *const *argv,
		   const char *const *envp);

/* ---- The area set (mm/vma.c) ---- */

struct vm_area *vm_area_alloc(struct mm *mm);
struct vm_area *vm_area_dup(struct vm_area *vma);
void vm_area_free(struct vm_area *vma);

/* The first area with vm_end > addr, or NULL. */
struct vm_area *find_vma(struct mm *mm, uintptr_t addr);
/* The area containing addr, or NULL. */
struct vm_area *vma_lookup(struct mm *mm, uintptr_t addr);
struct vm_area *vma_next(struct mm *mm, struct vm_area *vma);
struct vm_area *vma_prev(struct mm *mm, struct vm_area *vma);
/* Links a new area; it must not overlap any other. */
int vma_link(struct mm *mm, struct vm_area *vma);
void vma_unlink(struct mm *mm, struct vm_area *vma);
/* Splits vma at addr; the new area is the part below (new_below) or above. */
int split_vma(struct mm *mm, struct vm_area *vma, uintptr_t addr, bool new_below);
/*
 * Merges vma with its neighbours where they are compatible (adjacent, same
 * flags, file and offsets, anon_vma compatible); returns the surviving area.
 */
struct vm_area *vma_merge_neighbours(struct mm *mm, struct vm_area *vma);
/*
 * A free range of len bytes: at hint if it fits, else the highest gap below
 * mmap_base (top-down), keeping STACK_GUARD_GAP below grows-down areas.
 * Returns the address or -KMM_ENOMEM (as a negative value).
 */
long get_unmapped_area(struct mm *mm, uintptr_t hint, size_t len, unsigned long flags);
/* Invariant checker of the set: order, no overlap, gaps, counts. */
int vma_check(struct mm *mm);

/* ---- System calls (mm/mmap.c): Linux semantics, -errno on failure ---- */

long sys_mmap(struct task *t, uintptr_t addr, size_t len, int prot, int flags,
	      int fd, long off);
long sys_munmap(struct task *t, uintptr_t addr, size_t len);
long sys_mprotect(struct task *t, uintptr_t addr, size_t len, int prot);
long sys_mremap(struct task *t, uintptr_t old_addr, size_t old_len, size_t new_len,
		int flags, uintptr_t new_addr);
long sys_brk(struct task *t, uintptr_t brk);
long sys_madvise(struct task *t, uintptr_t addr, size_t len, int advice);
/* Grows a grows-down area to include addr (a fault below the stack). */
int expand_stack(struct mm *mm, struct vm_area *vma, uintptr_t addr);
/* Unmaps every area: exit and exec. */
void exit_mmap(struct mm *mm);

/* ---- Page tables and faults (mm/memory.c) ---- */

/* Result bits of handle_mm_fault. */
#define VM_FAULT_OOM     0x0001u
#define VM_FAULT_SIGBUS  0x0002u
#define VM_FAULT_MAJOR   0x0004u
#define VM_FAULT_SIGSEGV 0x0040u
#define VM_FAULT_COW     0x0100u   /* not an error: a write to a COW page (copied or reused) */
#define VM_FAULT_ERROR   (VM_FAULT_OOM | VM_FAULT_SIGBUS | VM_FAULT_SIGSEGV)

/* flags of handle_mm_fault. */
#define FAULT_FLAG_WRITE 0x01u
#define FAULT_FLAG_USER  0x02u
#define FAULT_FLAG_INSTR 0x04u

/* The shared zero page: mapped read-only by read faults, never written. */
extern struct page *zero_page;

/* Boot (called by mm_task_init): allocates the zero page. 0 or -KMM_ENOMEM. */
int memory_init(void);

/*
 * Shared anonymous objects (mm/memory.c). mmap(MAP_SHARED|MAP_ANONYMOUS)
 * creates one of nr_pages pages (vm_pgoff 0); every area that maps it holds
 * a reference (fork's copy and a split take one with shared_anon_get,
 * freeing the area drops it). The last put frees its pages, which must no
 * longer be mapped. A fault at a page offset >= nr_pages is a SIGBUS, as
 * beyond the end of Linux's shmem object. create returns NULL when out of
 * memory.
 */
struct shared_anon *shared_anon_create(unsigned long nr_pages);
void shared_anon_get(struct shared_anon *sa);
void shared_anon_put(struct shared_anon *sa);
/* Pages the object holds (for views: smaps, meminfo Shmem). */
unsigned long shared_anon_pages(const struct shared_anon *sa);

/*
 * Gives vma an anon_vma if it has none (the first private page fault,
 * mmap_lock held at least for reading). 0 or -KMM_ENOMEM.
 */
int anon_vma_prepare(struct vm_area *vma);

/* Allocates mm's PML4; 0 or -KMM_ENOMEM. */
int pgd_alloc(struct mm *mm);
void pgd_free(struct mm *mm);
/* The last-level entry for addr, or NULL if a table on the way is missing. */
pteval_t *pte_lookup(struct mm *mm, uintptr_t addr);
/* The same, allocating missing tables; NULL when out of memory. */
pteval_t *pte_alloc(struct mm *mm, uintptr_t addr);

/*
 * Handles a fault at addr in vma (mmap_lock held for read). Counts
 * PGFAULT (and PGCOWFAULT / PGZEROFAULT); returns 0, VM_FAULT_COW, or
 * error bits. The per-task counters are do_page_fault's.
 */
unsigned int handle_mm_fault(struct vm_area *vma, uintptr_t addr, unsigned int flags);
/*
 * The arch's entry: t took a fault at addr with an x86 error code (PF_*).
 * Returns 0 when the access may be retried, or the signal that ended t
 * (task_kill has been called).
 */
int do_page_fault(struct task *t, uintptr_t addr, unsigned int error_code);
/*
 * Note for mm/mmap.c: do_page_fault calls expand_stack with mmap_lock held
 * for WRITING (it drops its read lock, takes the write lock, looks the area
 * up again); expand_stack returns 0 or -errno (the fault is then SEGV_MAPERR).
 * An out-of-memory fault calls the OOM killer (mm/oom.c) with no lock held
 * when memory is really exhausted: the fault is retried if another task
 * was killed, and the faulting task ends with SIGKILL if it was chosen. An
 * allocation that failed while memory is not short (an injected failure)
 * kills the faulting task with SIGBUS/BUS_ADRERR.
 */

/* Clears the entries of [start, end) in vma, releasing pages; flushes the TLB. */
void zap_page_range(struct vm_area *vma, uintptr_t start, uintptr_t end);
/*
 * Frees page-table frames covering only [start, end) and empty, without
 * touching tables that also map below floor or at/above ceiling.
 */
void free_pgtables(struct mm *mm, uintptr_t start, uintptr_t end,
		   uintptr_t floor, uintptr_t ceiling);
/* fork: copies src's entries into dst's mm, write-protecting private pages. */
int copy_page_range(struct vm_area *dst, struct vm_area *src);
/* mprotect: applies vma->vm_flags' protection to [start, end). */
void change_protection(struct vm_area *vma, uintptr_t start, uintptr_t end);
/* mremap: moves the entries of [old, old+len) in vma to new in new_vma. */
int move_page_tables(struct vm_area *vma, uintptr_t old_addr,
		     struct vm_area *new_vma, uintptr_t new_addr, size_t len);
/* MAP_POPULATE: faults every page of [start, end) in. 0 or -errno. */
int populate_range(struct vm_area *vma, uintptr_t start, uintptr_t end);
/* The PTE protection bits for vm_flags (private writable areas map read-only
   until written, for COW). */
pteval_t vm_get_page_prot(unsigned long vm_flags);
/* Page tables, rss counters and page map counts of mm agree. */
int mm_check(struct mm *mm);
/* Every task's mm checked, and every mapped frame accounted for. */
int task_check_all(void);
/*
 * Across every mm of every task (mm/memory.c): each mapped page's _mapcount
 * and _refcount equal the entries that map it in all page tables (plus the
 * swap cache's reference), each mapped private page is on an anonymous LRU
 * list, each swap slot's count equals the entries naming it plus one for
 * its swap-cache page, and the
 * zone counters NR_ANON_MAPPED, NR_FILE_MAPPED and NR_PAGETABLE equal the
 * sums (a file page's count includes the page cache's reference). Valid when
 * every mm belongs to a task and none is changing (tests, kmm --check).
 */
int mm_rmap_check(void);

/* ---- The arch side (arch.h declares the TLB functions) ---- */

#endif
