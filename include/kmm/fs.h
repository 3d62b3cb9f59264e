/*
 * Files and the page cache: the contract between the files of the layer
 *
 *   mm/filemap.c        inodes, address spaces (the page-cache index), the
 *                       read and write paths, readahead, open files and the
 *                       per-task descriptor tables, the file system calls
 *   mm/page-writeback.c dirty and writeback accounting, thresholds and
 *                       throttling, the periodic flusher, fsync/sync, errors
 *   mm/rmap.c           the file side of the reverse map (page_mkclean)
 *
 * and with the address-space layer (mm/memory.c, mm/mmap.c, mm/exec.c),
 * which maps file pages (filemap_fault), keeps every area that maps a file
 * on its mapping's i_mmap list, and loads ELF programs with kernel_read.
 * The arch reads and writes the host files (arch.h, "Files and block
 * devices").
 *
 * A page-cache page: page->mapping is the address_space (bit 0 clear),
 * page->index its offset in pages; the cache holds one reference; PG_uptodate
 * once its bytes are valid, PG_dirty while newer than the file, PG_writeback
 * while being written, PG_locked while I/O or truncation works on it.
 * Zone counters NR_FILE_PAGES (every cache page), NR_FILE_DIRTY,
 * NR_WRITEBACK and NR_FILE_MAPPED (cache pages some task maps) follow them.
 *
 * Locking, in the order taken:
 *   mm->mmap_lock                 (faults on file areas)
 *   page lock (PG_locked bit)     one page's I/O and truncation
 *   mapping->i_mmap_lock          the areas mapping the file
 *   mapping->tree_lock            the page index, nrpages, dirty tags
 *   mm->page_table_lock
 */
#ifndef KMM_FS_H
#define KMM_FS_H

#include <kmm/arch.h>
#include <kmm/list.h>
#include <kmm/lock.h>
#include <kmm/mm_types.h>
#include <kmm/types.h>
#include <stdatomic.h>

struct task;
struct vm_area;

typedef int64_t loff_t;
typedef unsigned long pgoff_t;

/* open flags, Linux's values. */
#define KMM_O_RDONLY   00
#define KMM_O_WRONLY   01
#define KMM_O_RDWR     02
#define KMM_O_ACCMODE  03
#define KMM_O_CREAT    0100
#define KMM_O_EXCL     0200
#define KMM_O_TRUNC    01000
#define KMM_O_APPEND   02000

#define KMM_SEEK_SET 0
#define KMM_SEEK_CUR 1
#define KMM_SEEK_END 2

/* Descriptors a task may hold (RLIMIT_NOFILE). */
#define KMM_NR_OPEN 256

/*
 * The page cache of one file or block device. The index is keyed by page
 * offset with O(log n) or better lookup; pages dirty in it can be found
 * without scanning the clean ones (a dirty tag or list).
 */
struct address_space {
	struct inode *host;
	spinlock_t tree_lock;
	void *index;                 /* the page index (mm/filemap.c's structure) */
	unsigned long nrpages;
	unsigned long nrdirty;       /* pages with PG_dirty */
	atomic_uint nrwriteback;     /* pages with PG_writeback (fsync waits for 0) */
	/* Areas mapping this file (vm_area.shared_node), for page_mkclean. */
	spinlock_t i_mmap_lock;
	struct list_head i_mmap;
	/*
	 * Writeback errors, Linux's errseq_t: an error sequence counter
	 * bumped by each failed write, with the last errno; every open file
	 * description samples it at open and reports a newer one once.
	 */
	atomic_uint wb_err_seq;
	int wb_err;
	uint64_t dirtied_when_ns;    /* when the oldest dirty page was dirtied */
	struct list_head dirty_list; /* on the flusher's list of dirty inodes */
};

struct inode {
	uint64_t i_ino;
	uint32_t i_dev;
	uint32_t i_mode;
	loff_t i_size;               /* read and written under i_lock */
	mutex_t i_lock;          /* size changes, writes, truncation */
	atomic_int i_count;          /* open files + areas + the inode cache */
	bool i_bdev;                 /* a block device (its cache is "Buffers") */
	char *i_path;                /* path inside the root (for /proc maps) */
	struct arch_file *i_host;    /* the host file, open while i_count > 0 */
	bool i_host_rw;              /* i_host was opened for writing */
	struct arch_file *i_host_ro; /* the read-only handle i_host replaced (kept
					open for readers that hold it) */
	struct address_space i_data;
	struct list_head i_hash;     /* the inode cache (by path) */
};

/* An open file description (shared by fork's copies of a descriptor). */
struct file {
	struct inode *f_inode;
	struct address_space *f_mapping;
	int f_flags;                 /* KMM_O_* */
	loff_t f_pos;                /* under f_pos_lock */
	mutex_t f_pos_lock;
	atomic_int f_count;
	unsigned int f_wb_err;       /* the mapping's wb_err_seq last reported */
	/* Readahead state (on-demand, as Linux's): the window last read. */
	struct {
		pgoff_t start;
		unsigned int size, async_size;
		pgoff_t prev_index;
	} f_ra;
};

/* A task's descriptor table (shared by threads, copied by fork). */
struct files_struct;

/* ---- mm/filemap.c ---- */

/* Boot: the inode and file caches, the root. 0 or -errno. */
int filemap_init(void);
/* Shutdown: closes every file, writes nothing back (sync first). */
void filemap_shutdown(void);

/* Opens path in the root (for exec and the kernel itself). 0 or -errno. */
int file_open(const char *path, int flags, unsigned int mode, struct file **out);
struct file *get_file(struct file *f);
void fput(struct file *f);
/* Reads len bytes at *pos through the page cache. Bytes read or -errno. */
long kernel_read(struct file *f, void *buf, size_t len, loff_t *pos);
long kernel_write(struct file *f, const void *buf, size_t len, loff_t *pos);

static inline loff_t i_size_read(const struct inode *inode)
{
	return __atomic_load_n(&inode->i_size, __ATOMIC_ACQUIRE);
}

/*
 * The cache page at index, read from the file if it is not cached (a major
 * fault: *major set), with a reference the caller drops with put_page.
 * 0 with the page uptodate, -KMM_ENXIO when index is at or past the end of
 * the file (the fault's SIGBUS), -KMM_EIO, -KMM_ENOMEM.
 */
int filemap_get_page(struct file *f, pgoff_t index, struct page **out, bool *major);
/* The fault path of a file area: the page for the fault's offset, with
   readahead around it. Same returns as filemap_get_page. */
int filemap_fault(struct vm_area *vma, pgoff_t index, struct page **out, bool *major);
/* The cached page at index with a reference, or NULL (no I/O). */
struct page *find_get_page(struct address_space *mapping, pgoff_t index);
void put_page(struct page *page);

/*
 * The page lock (PG_locked, mm/filemap.c): held across a page's writeback
 * (page_mkclean, the write) and truncation. A store fault on a shared file
 * page takes it before making the entry writable (Linux's page_mkwrite),
 * so no store can reach a page while writeback reads it.
 */
void lock_page(struct page *page);
bool trylock_page(struct page *page);
void unlock_page(struct page *page);

/* Marks a cache page dirty (a write, a store through a shared mapping's D
   bit found by writeback or msync); returns true if it was clean. */
bool set_page_dirty(struct page *page);

/*
 * Reclaim's side (mm/vmscan.c). reclaim_cache_page: a locked, clean cache
 * page that no entry maps leaves the cache if the caller's reference and
 * the cache's are the only ones; its count is then 0 and the frame the
 * caller's to free. false if it is dirty or anyone else holds it.
 * pageout_cache_page (mm/page-writeback.c): writes a locked dirty cache
 * page back now and unlocks it; 0 or the write's error (recorded on the
 * mapping as any writeback error is).
 */
bool reclaim_cache_page(struct page *page);
int pageout_cache_page(struct page *page);

/* Drops every clean, unmapped, unlocked cache page; returns how many.
   Inodes left unused and empty leave the inode cache too. */
unsigned long drop_caches(void);
/* Cache pages of block devices (meminfo Buffers); inodes cached. */
unsigned long nr_bdev_pages(void);
unsigned long nr_cached_inodes(void);
/* Invariant checker: every cached page's mapping and index, nrpages,
   nrdirty, the dirty tags and the zone counters agree. Panics if not. */
int filemap_check(void);

/* Per-task descriptor tables (task->files). */
int files_alloc(struct task *t);                        /* spawn */
int files_dup(struct task *child, struct task *parent);  /* fork */
void files_share(struct task *thread, struct task *parent); /* threads share one */
void files_exit(struct task *t);                        /* exit: closes all */
/* The open file of fd with a reference (fput it), or NULL. */
struct file *fget(struct task *t, int fd);

/* File system calls: Linux semantics, -errno on failure. */
long sys_open(struct task *t, const char *path, int flags, unsigned int mode);
long sys_close(struct task *t, int fd);
long sys_read(struct task *t, int fd, uintptr_t buf, size_t n);
long sys_write(struct task *t, int fd, uintptr_t buf, size_t n);
long sys_pread(struct task *t, int fd, uintptr_t buf, size_t n, loff_t off);
long sys_pwrite(struct task *t, int fd, uintptr_t buf, size_t n, loff_t off);
long sys_lseek(struct task *t, int fd, loff_t off, int whence);
long sys_ftruncate(struct task *t, int fd, loff_t len);
long sys_fsync(struct task *t, int fd);
long sys_fdatasync(struct task *t, int fd);
long sys_msync(struct task *t, uintptr_t addr, size_t len, int flags);
long sys_sync(void);

/* ---- mm/page-writeback.c ---- */

int writeback_init(void);                  /* the flusher work, thresholds */
/* Writes back mapping's dirty pages in [start, end] (pages), waits for them;
   returns 0 or the first error. Used by fsync, msync, sync. */
int filemap_write_and_wait_range(struct address_space *mapping, pgoff_t start, pgoff_t end);
/* A writer dirtied pages: throttles it while dirty memory is over the limit. */
void balance_dirty_pages(struct address_space *mapping);
/* Records a writeback error on the mapping (errseq). */
void mapping_set_error(struct address_space *mapping, int err);
/* The error f has not yet seen (reported once per open file), or 0. */
int file_check_and_advance_wb_err(struct file *f);
/* Writes every dirty page of every file and device; 0 or the first error,
   including errors the flusher met since the last sync_all. */
int sync_all(void);

/* Tunables (Linux's defaults), and counters for tests and views. */
extern unsigned int dirty_background_ratio;      /* 10 (% of available) */
extern unsigned int vm_dirty_ratio;              /* 20 */
extern uint64_t dirty_writeback_interval_ns;     /* 5 s */
extern uint64_t dirty_expire_interval_ns;        /* 30 s */
/* Thresholds in pages now: background and throttle. */
void global_dirty_limits(unsigned long *background, unsigned long *dirty);
/* Times a writer was throttled; flusher runs; pages written back. */
unsigned long writeback_throttled_count(void);
unsigned long writeback_flusher_runs(void);
/* Mappings with dirty pages (on the flusher's list). */
unsigned long nr_dirty_inodes(void);

/* ---- mm/rmap.c (the file side) ---- */

/*
 * Write-protects and cleans every PTE mapping page through the areas on its
 * mapping's i_mmap list, moving each Dirty bit to the page (set_page_dirty)
 * first; flushes the TLBs. Returns how many entries were dirty. Called by
 * writeback before it writes a mapped page, so a later store faults and
 * dirties it again.
 */
int page_mkclean(struct page *page);

#endif
