/*
 * Writeback (ULK3 ch. 15 "Writing Dirty Pages to Disk"): counting dirty
 * and under-writeback pages, writing them back to the host files, the
 * thresholds that throttle writers, the periodic flusher, fsync and sync,
 * and how write errors reach the callers that must see them.
 *
 * Dirty inodes: a mapping's first dirty page puts it on the flusher's list
 * (wb_dirty, oldest first) with the time it went dirty; it leaves the list
 * when writeback finds no dirty page left. The flusher is a work item that
 * runs every dirty_writeback_interval (5 s) while the list is not empty:
 * it writes every mapping dirty for longer than dirty_expire_interval (30 s),
 * as Linux's kupdate-style writeback does (a whole inode once its first
 * dirty page expired), and, when dirty memory is over the background
 * threshold, the oldest mappings until it is under. Time is the arch's:
 * virtual in deterministic mode, so a test advances the clock.
 *
 * Thresholds are Linux's defaults, in pages of dirtyable memory (free pages
 * plus the page cache): background at 10%, throttling at 20%. A writer that
 * leaves dirty + writeback pages over the throttle threshold writes back
 * pages itself (its own file's first, then the oldest) until the count is
 * halfway between the two thresholds, which slows it to the speed of the
 * host's writes (Linux sleeps the writer while the flusher works; a work
 * item cannot run in parallel with its caller in deterministic mode).
 *
 * Clustering: contiguous dirty pages, up to 256 (1 MiB), go to the host in
 * one arch_fs_writev. A page is locked and marked PG_writeback while it is
 * written; a page some task maps shared is cleaned through the reverse map
 * first (page_mkclean), so a later store dirties it again.
 *
 * Errors follow Linux's errseq design: a failed write leaves the pages
 * clean (the data is lost, as in Linux), records the errno on the mapping
 * and bumps its sequence. Every open file description sampled the sequence
 * when it was opened; its next fsync reports an error newer than its sample
 * once, and moves its sample. sync_all keeps one sample of its own for all
 * mappings, so sync reports an error the flusher met once too.
 *
 * Locking: wb_lock (a spinlock, after tree_lock and the page lock in the
 * order) protects the dirty list, each mapping's dirtied_when_ns and the
 * flusher's error sample. Writeback itself runs with no lock but the page
 * locks of the cluster being written.
 */
#include <kmm/errno.h>
#include <kmm/fs.h>
#include <kmm/mm.h>
#include <kmm/page_alloc.h>
#include <kmm/printk.h>
#include <kmm/string.h>
#include <kmm/vmstat.h>

#include "filemap_internal.h"

unsigned int dirty_background_ratio = 10;
unsigned int vm_dirty_ratio = 20;
uint64_t dirty_writeback_interval_ns = 5000000000ULL;
uint64_t dirty_expire_interval_ns = 30000000000ULL;

#define WB_CLUSTER 256

static spinlock_t wb_lock;
static struct list_head wb_dirty;           /* address_space.dirty_list, oldest first */
static unsigned long nr_dirty_mappings;
static struct kmm_work flusher_work;
static atomic_uint sync_err_seq;            /* bumped by every writeback error */
static int sync_err;
static unsigned int sync_err_seen;          /* sync_all's sample */
static atomic_ulong nr_throttled, nr_flusher_runs;
static atomic_long pages_under_writeback;

static void flusher_fn(struct kmm_work *work);

/* ---- Counters and thresholds ---- */

static inline unsigned long mapping_nrdirty(struct address_space *m)
{
	return __atomic_load_n(&m->nrdirty, __ATOMIC_RELAXED);
}

static unsigned long zone_sum(enum zone_stat_item item)
{
	unsigned long sum = 0;
	struct zone *z;

	for_each_zone(z)
		sum += zone_page_state(z, item);
	return sum;
}

void global_dirty_limits(unsigned long *background, unsigned long *dirty)
{
	unsigned long avail = nr_free_pages() + zone_sum(NR_FILE_PAGES);

	*background = avail * dirty_background_ratio / 100;
	*dirty = avail * vm_dirty_ratio / 100;
}

static unsigned long nr_dirty_and_writeback(void)
{
	return zone_sum(NR_FILE_DIRTY) + zone_sum(NR_WRITEBACK);
}

unsigned long writeback_throttled_count(void)
{
	return atomic_load(&nr_throttled);
}

unsigned long writeback_flusher_runs(void)
{
	return atomic_load(&nr_flusher_runs);
}

unsigned long nr_dirty_inodes(void)
{
	unsigned long n;

	spin_lock(&wb_lock);
	n = nr_dirty_mappings;
	spin_unlock(&wb_lock);
	return n;
}

/* ---- The dirty list ---- */

void mark_mapping_dirty(struct address_space *mapping)
{
	bool arm = false;

	spin_lock(&wb_lock);
	if (list_empty(&mapping->dirty_list)) {
		mapping->dirtied_when_ns = arch_now_ns();
		list_add_tail(&mapping->dirty_list, &wb_dirty);
		arm = nr_dirty_mappings++ == 0;
	}
	spin_unlock(&wb_lock);
	/* The flusher runs while anything is dirty, and only then. */
	if (arm)
		arch_queue_work(&flusher_work, dirty_writeback_interval_ns);
}

/* Off the list when clean; still dirty (redirtied meanwhile): to the tail. */
static void requeue_mapping(struct address_space *mapping, bool redirtied_now)
{
	spin_lock(&wb_lock);
	if (!list_empty(&mapping->dirty_list)) {
		if (!mapping_nrdirty(mapping)) {
			list_del_init(&mapping->dirty_list);
			nr_dirty_mappings--;
		} else if (redirtied_now) {
			mapping->dirtied_when_ns = arch_now_ns();
			list_move_tail(&mapping->dirty_list, &wb_dirty);
		}
	}
	spin_unlock(&wb_lock);
}

void mapping_clean(struct address_space *mapping)
{
	requeue_mapping(mapping, false);
}

/* ---- Errors ---- */

void mapping_set_error(struct address_space *mapping, int err)
{
	if (!err)
		return;
	if (err > 0)
		err = -err;
	spin_lock(&wb_lock);
	mapping->wb_err = err;
	atomic_fetch_add(&mapping->wb_err_seq, 1);
	sync_err = err;
	atomic_fetch_add(&sync_err_seq, 1);
	spin_unlock(&wb_lock);
}

int file_check_and_advance_wb_err(struct file *f)
{
	struct address_space *m = f->f_mapping;
	unsigned int seq;
	int err = 0;

	spin_lock(&wb_lock);
	seq = atomic_load(&m->wb_err_seq);
	if (seq != f->f_wb_err) {
		f->f_wb_err = seq;
		err = m->wb_err;
	}
	spin_unlock(&wb_lock);
	return err;
}

/* ---- Writing pages ---- */

/*
 * Writes n locked pages, contiguous from pages[0]->index, already cleaned
 * and marked PG_writeback, with one host call; ends their writeback.
 */
static int write_cluster(struct address_space *m, struct page **pages, int n)
{
	struct arch_iovec iov[WB_CLUSTER];
	loff_t size = i_size_read(m->host);
	loff_t off = (loff_t)pages[0]->index << PAGE_SHIFT;
	struct inode *inode = m->host;
	int k = 0, err = 0;
	long r = 0;

	for (int i = 0; i < n; i++) {
		loff_t po = (loff_t)pages[i]->index << PAGE_SHIFT;

		if (po >= size)
			break;
		iov[k++] = (struct arch_iovec){ page_address(pages[i]),
						(size_t)MIN((loff_t)PAGE_SIZE, size - po) };
	}
	if (k) {
		if (!inode->i_host_rw)
			r = -KMM_EBADF;
		else
			r = arch_fs_writev(inode->i_host, (uint64_t)off, iov, k);
		if (r < 0)
			err = (int)r;
		else
			count_vm_events(PGPGOUT, (unsigned long)k * (PAGE_SIZE / 1024));
	}
	for (int i = 0; i < n; i++) {
		struct page *p = pages[i];

		clear_page_flag(p, PG_writeback);
		mod_zone_page_state(page_zone(p), NR_WRITEBACK, -1);
		atomic_fetch_sub(&pages_under_writeback, 1);
		atomic_fetch_sub(&m->nrwriteback, 1);
		unlock_page(p);
		put_page(p);
	}
	if (err)
		mapping_set_error(m, err);
	return err;
}

/*
 * Writes the dirty pages of [start, end] back, in clusters. At most
 * max_pages pages (0: no limit); *written counts them. 0 or the first error.
 */
static int write_cache_pages(struct address_space *m, pgoff_t start, pgoff_t end,
			     unsigned long max_pages, unsigned long *written)
{
	struct page *batch[WB_CLUSTER], *cluster[WB_CLUSTER];
	pgoff_t idx = start;
	unsigned int got;
	int err = 0;

	while ((got = find_get_dirty_pages(m, &idx, end, batch, WB_CLUSTER))) {
		int n = 0;

		for (unsigned int i = 0; i < got; i++) {
			struct page *p = batch[i];

			if (max_pages && *written >= max_pages) {
				put_page(p);
				continue;
			}
			lock_page(p);
			if (p->mapping != m || !page_flag(p, PG_dirty)) {
				unlock_page(p);
				put_page(p);
				continue;
			}
			if (n && cluster[n - 1]->index + 1 != p->index) {
				int e = write_cluster(m, cluster, n);

				if (e && !err)
					err = e;
				n = 0;
			}
			/* A shared mapping's PTEs go clean and read-only first. */
			if (atomic_load(&p->_mapcount) >= 0)
				page_mkclean(p);
			clear_page_dirty_for_io(p);
			set_page_flag(p, PG_writeback);
			mod_zone_page_state(page_zone(p), NR_WRITEBACK, 1);
			atomic_fetch_add(&pages_under_writeback, 1);
			atomic_fetch_add(&m->nrwriteback, 1);
			cluster[n++] = p;
			(*written)++;
		}
		if (n) {
			int e = write_cluster(m, cluster, n);

			if (e && !err)
				err = e;
		}
		if (max_pages && *written >= max_pages)
			break;
		if (!idx)
			break;
	}
	return err;
}

/*
 * Reclaim met a dirty page at the tail of the inactive list: it is written
 * alone, now, so the next look at it finds it clean. The inode is held
 * across the write (the page alone does not keep its mapping alive once
 * unlocked). Entries mapping it were removed by reclaim first; page_mkclean
 * covers a fault that mapped it again meanwhile.
 */
int pageout_cache_page(struct page *page)
{
	struct address_space *m = page->mapping;
	struct inode *inode;
	int err = 0;

	BUG_ON(!page_flag(page, PG_locked) || !m || ((uintptr_t)m & PAGE_MAPPING_ANON));
	inode = m->host;
	ihold(inode);
	if (atomic_load(&page->_mapcount) >= 0)
		page_mkclean(page);
	if (!clear_page_dirty_for_io(page)) {
		unlock_page(page);
	} else {
		get_page(page);   /* write_cluster drops one */
		set_page_flag(page, PG_writeback);
		mod_zone_page_state(page_zone(page), NR_WRITEBACK, 1);
		atomic_fetch_add(&pages_under_writeback, 1);
		atomic_fetch_add(&m->nrwriteback, 1);
		err = write_cluster(m, &page, 1);
		requeue_mapping(m, false);
	}
	iput(inode);
	return err;
}

int filemap_write_and_wait_range(struct address_space *mapping, pgoff_t start, pgoff_t end)
{
	unsigned long written = 0;
	int err;

	if (!mapping)
		return -KMM_EINVAL;
	err = write_cache_pages(mapping, start, end, 0, &written);
	/* Writes another thread started (the flusher) end before we return. */
	while (atomic_load(&mapping->nrwriteback))
		arch_yield();
	requeue_mapping(mapping, false);
	return err;
}

/* ---- Throttling ---- */

struct oldest_state {
	unsigned long goal, written;
};

static void write_some(struct inode *inode, void *arg)
{
	struct oldest_state *st = arg;
	unsigned long before = st->written;

	if (nr_dirty_and_writeback() <= st->goal || !mapping_nrdirty(&inode->i_data))
		return;
	write_cache_pages(&inode->i_data, 0, (pgoff_t)-1, 0, &st->written);
	if (st->written != before)
		requeue_mapping(&inode->i_data, false);
}

void balance_dirty_pages(struct address_space *mapping)
{
	unsigned long bg, thresh, written = 0;
	struct oldest_state st;

	global_dirty_limits(&bg, &thresh);
	if (nr_dirty_and_writeback() <= thresh)
		return;
	atomic_fetch_add(&nr_throttled, 1);
	st.goal = bg + (thresh - bg) / 2;
	/* The writer pays first with its own file's pages. */
	while (nr_dirty_and_writeback() > st.goal && mapping_nrdirty(mapping)) {
		unsigned long before = written;

		write_cache_pages(mapping, 0, (pgoff_t)-1, WB_CLUSTER + written, &written);
		if (written == before)
			break;
	}
	requeue_mapping(mapping, false);
	if (nr_dirty_and_writeback() > st.goal) {
		st.written = 0;
		for_each_inode(write_some, &st);
	}
}

/* ---- The flusher ---- */

#define FLUSH_BATCH 16

/*
 * Takes up to FLUSH_BATCH mappings from the head of the dirty list that are
 * expired (or any, when over the background threshold), with inode
 * references. Returns how many.
 */
static unsigned int pick_dirty(struct inode **out, uint64_t now, bool background)
{
	struct address_space *m;
	unsigned int n = 0;

	spin_lock(&wb_lock);
	list_for_each_entry(m, &wb_dirty, dirty_list) {
		if (n == FLUSH_BATCH)
			break;
		if (!background && m->dirtied_when_ns + dirty_expire_interval_ns > now)
			break;   /* oldest first: the rest are younger */
		ihold(m->host);
		out[n++] = m->host;
	}
	spin_unlock(&wb_lock);
	return n;
}

static void flusher_fn(struct kmm_work *work)
{
	uint64_t now = arch_now_ns();
	unsigned long bg, thresh;
	struct inode *batch[FLUSH_BATCH];
	unsigned int n, rounds = 0;
	bool more;

	atomic_fetch_add(&nr_flusher_runs, 1);
	global_dirty_limits(&bg, &thresh);
	do {
		bool background = nr_dirty_and_writeback() > bg;

		n = pick_dirty(batch, now, background);
		for (unsigned int i = 0; i < n; i++) {
			unsigned long written = 0;

			write_cache_pages(&batch[i]->i_data, 0, (pgoff_t)-1, 0, &written);
			requeue_mapping(&batch[i]->i_data, true);
			iput(batch[i]);
		}
		/* Bounded work: a few batches a run, the rest at the next. */
	} while (n == FLUSH_BATCH && ++rounds < 4);
	spin_lock(&wb_lock);
	more = nr_dirty_mappings != 0;
	spin_unlock(&wb_lock);
	if (more)
		arch_queue_work(work, dirty_writeback_interval_ns);
}

/* ---- fsync and sync ---- */

static int do_fsync(struct file *f, bool datasync)
{
	struct inode *inode = f->f_inode;
	int err, err2 = 0;

	err = filemap_write_and_wait_range(f->f_mapping, 0, (pgoff_t)-1);
	if (inode->i_host_rw)
		err2 = arch_fs_fsync(inode->i_host, datasync);
	/* The error this file has not seen, this writeback's included. */
	err = file_check_and_advance_wb_err(f);
	return err ? err : err2;
}

long sys_fsync(struct task *t, int fd)
{
	struct file *f;
	long ret;

	if (!t || t->state != TASK_RUNNING)
		return -KMM_ESRCH;
	f = fget(t, fd);
	if (!f)
		return -KMM_EBADF;
	ret = do_fsync(f, false);
	fput(f);
	return ret;
}

long sys_fdatasync(struct task *t, int fd)
{
	struct file *f;
	long ret;

	if (!t || t->state != TASK_RUNNING)
		return -KMM_ESRCH;
	f = fget(t, fd);
	if (!f)
		return -KMM_EBADF;
	ret = do_fsync(f, true);
	fput(f);
	return ret;
}

struct sync_state {
	int err;
};

static void sync_inode(struct inode *inode, void *arg)
{
	struct sync_state *st = arg;
	bool had = mapping_nrdirty(&inode->i_data) != 0;
	int err = filemap_write_and_wait_range(&inode->i_data, 0, (pgoff_t)-1);

	if (err && !st->err)
		st->err = err;
	if (had && inode->i_host_rw) {
		err = arch_fs_fsync(inode->i_host, false);
		if (err && !st->err)
			st->err = err;
	}
}

int sync_all(void)
{
	struct sync_state st = { 0 };
	unsigned int seq;
	int err = 0;

	for_each_inode(sync_inode, &st);
	spin_lock(&wb_lock);
	seq = atomic_load(&sync_err_seq);
	if (seq != sync_err_seen) {
		sync_err_seen = seq;
		err = sync_err;
	}
	spin_unlock(&wb_lock);
	return st.err ? st.err : err;
}

long sys_sync(void)
{
	return sync_all();
}

/* ---- Boot and checks ---- */

int writeback_init(void)
{
	spin_lock_init(&wb_lock);
	INIT_LIST_HEAD(&wb_dirty);
	nr_dirty_mappings = 0;
	flusher_work = (struct kmm_work){ .fn = flusher_fn };
	atomic_store(&sync_err_seq, 0);
	sync_err = 0;
	sync_err_seen = 0;
	atomic_store(&nr_throttled, 0);
	atomic_store(&nr_flusher_runs, 0);
	atomic_store(&pages_under_writeback, 0);
	return 0;
}

/* The dirty list holds exactly the dirty mappings, oldest first. */
void writeback_check(void)
{
	struct address_space *m;
	unsigned long n = 0;
	uint64_t prev = 0;

	spin_lock(&wb_lock);
	list_for_each_entry(m, &wb_dirty, dirty_list) {
		if (m->dirtied_when_ns < prev)
			panic("writeback_check: %s on the dirty list out of age order",
			      m->host->i_path);
		prev = m->dirtied_when_ns;
		n++;
	}
	if (n != nr_dirty_mappings)
		panic("writeback_check: %lu mappings on the dirty list, count says %lu", n,
		      nr_dirty_mappings);
	spin_unlock(&wb_lock);
	if ((unsigned long)atomic_load(&pages_under_writeback) != zone_sum(NR_WRITEBACK))
		panic("writeback_check: %ld pages under writeback, NR_WRITEBACK %lu",
		      atomic_load(&pages_under_writeback), zone_sum(NR_WRITEBACK));
}
