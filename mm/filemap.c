/*
 * The page cache (ULK3 ch. 15 "The Page Cache", ch. 16 "Accessing Files"):
 * every file and block device has an address_space holding its cached
 * pages, found by page offset in a radix tree; reads look there first and
 * read missing pages from the host with readahead; writes copy into cache
 * pages, mark them dirty and return (mm/page-writeback.c writes them back).
 * Also the inode cache, open files, the per-task descriptor tables and the
 * file system calls.
 *
 * The index is a radix tree of 64-slot nodes (Linux's radix tree before the
 * xarray): a lookup is one load per level, three levels for a 256 MiB file.
 * Every node keeps a bitmap of the slots below it that hold a dirty page
 * (the dirty tag), so writeback finds dirty pages without visiting clean
 * ones; a node's bit is set while any page under it is dirty.
 *
 * Readahead follows the idea of Linux's on-demand readahead (we wrote our
 * own): a file's f_ra holds the window last read (start, size) and how far
 * from its end the next read is triggered (async_size). A miss that follows
 * the previous read (or starts the file) opens a window of a few times the
 * request; a hit on the trigger page reads the next window, twice as large
 * (four times while small), up to 32 pages (Linux's default read_ahead_kb of
 * 128). A miss anywhere else is random: only the pages asked for are read,
 * and the window is forgotten. The trigger's read runs at once on the
 * reader's thread (the host's reads are synchronous), but it brings pages
 * the reader has not asked for yet, which is what makes it asynchronous
 * readahead in Linux's sense. Contiguous missing pages are read with one
 * arch_fs_readv. File mappings read around the faulting page instead.
 *
 * Inodes are found by the host file's (dev, ino), so two paths to one file
 * share one cache. The inode cache holds a reference on each inode; an
 * inode leaves it (closing its host file) only through drop_caches, when
 * nothing else holds it and it has no pages.
 *
 * Locking, in the order taken (fs.h has the whole order):
 *   inode->i_lock       one writer or truncation of the file at a time
 *   file->f_pos_lock    the file position of read/write/lseek
 *   page lock           PG_locked: a page's I/O and its removal
 *   mapping->i_mmap_lock
 *   mapping->tree_lock  the radix tree, nrpages, nrdirty, PG_dirty changes
 *   inode_hash_lock     the inode cache (a leaf)
 *   files->lock         a descriptor table's slots (a leaf)
 * A task's mmap_lock is taken to reach user memory only with no page lock
 * held (user pages are looked up first, then the cache page is locked).
 */
#include <kmm/errno.h>
#include <kmm/fs.h>
#include <kmm/mm.h>
#include <kmm/page_alloc.h>
#include <kmm/printk.h>
#include <kmm/slab.h>
#include <kmm/string.h>
#include <kmm/swap.h>
#include <kmm/vmstat.h>

#include "filemap_internal.h"

#define S_IFMT   0170000
#define S_IFDIR  0040000
#define S_IFREG  0100000
#define S_IFBLK  0060000

/* ---- The radix tree ---- */

#define RT_BITS 6
#define RT_SLOTS (1u << RT_BITS)
#define RT_MASK (RT_SLOTS - 1)
#define RT_MAX_SHIFT 30     /* covers MAX_FILE_PAGES = 2^36 */

struct rt_node {
	unsigned char shift;        /* 0: slots hold pages */
	unsigned char offset;       /* slot in the parent */
	unsigned short count;       /* non-NULL slots */
	struct rt_node *parent;
	uint64_t dirty;             /* slots with a dirty page below */
	void *slots[RT_SLOTS];
};

static struct kmem_cache *rt_node_cachep, *inode_cachep, *filp_cachep, *files_cachep;

static inline struct rt_node *rt_root(struct address_space *m)
{
	return m->index;
}

/* The largest index a tree whose root has this shift can hold. */
static inline pgoff_t rt_max_index(unsigned int shift)
{
	return ((pgoff_t)RT_SLOTS << shift) - 1;
}

static struct page *rt_lookup(struct address_space *m, pgoff_t index)
{
	struct rt_node *n = rt_root(m);

	if (!n || index > rt_max_index(n->shift))
		return NULL;
	while (n->shift) {
		n = n->slots[(index >> n->shift) & RT_MASK];
		if (!n)
			return NULL;
	}
	return n->slots[index & RT_MASK];
}

static struct rt_node *rt_node_new(struct rt_node **spare, unsigned int shift)
{
	struct rt_node *n = *spare;

	*spare = NULL;
	memset(n, 0, sizeof(*n));
	n->shift = (unsigned char)shift;
	return n;
}

/*
 * Inserts page at index. Needs at most one new node per call: returns
 * -KMM_EAGAIN when it needs one and *spare is empty (the caller allocates
 * one outside tree_lock and calls again), -KMM_EEXIST if the slot is taken.
 */
static int rt_insert(struct address_space *m, pgoff_t index, struct page *page,
		     struct rt_node **spare)
{
	struct rt_node *n = rt_root(m);

	if (!n) {
		if (!*spare)
			return -KMM_EAGAIN;
		n = rt_node_new(spare, 0);
		m->index = n;
	}
	while (index > rt_max_index(n->shift)) {
		struct rt_node *top;

		if (!*spare)
			return -KMM_EAGAIN;
		top = rt_node_new(spare, n->shift + RT_BITS);
		top->slots[0] = n;
		top->count = 1;
		top->dirty = n->dirty ? 1 : 0;
		n->parent = top;
		n->offset = 0;
		m->index = top;
		n = top;
	}
	while (n->shift) {
		unsigned int i = (index >> n->shift) & RT_MASK;
		struct rt_node *child = n->slots[i];

		if (!child) {
			if (!*spare)
				return -KMM_EAGAIN;
			child = rt_node_new(spare, n->shift - RT_BITS);
			child->parent = n;
			child->offset = (unsigned char)i;
			n->slots[i] = child;
			n->count++;
		}
		n = child;
	}
	if (n->slots[index & RT_MASK])
		return -KMM_EEXIST;
	n->slots[index & RT_MASK] = page;
	n->count++;
	return 0;
}

static void rt_tag_set(struct address_space *m, pgoff_t index)
{
	struct rt_node *n = rt_root(m);

	while (n) {
		unsigned int i = (index >> n->shift) & RT_MASK;

		n->dirty |= 1ULL << i;
		if (!n->shift)
			break;
		n = n->slots[i];
	}
}

/* Clears the leaf's bit and every ancestor's whose subtree is now clean. */
static void rt_tag_clear_leaf(struct rt_node *leaf, unsigned int slot)
{
	struct rt_node *n = leaf;

	n->dirty &= ~(1ULL << slot);
	while (!n->dirty && n->parent) {
		n->parent->dirty &= ~(1ULL << n->offset);
		n = n->parent;
	}
}

static struct rt_node *rt_leaf(struct address_space *m, pgoff_t index)
{
	struct rt_node *n = rt_root(m);

	if (!n || index > rt_max_index(n->shift))
		return NULL;
	while (n && n->shift)
		n = n->slots[(index >> n->shift) & RT_MASK];
	return n;
}

static void rt_tag_clear(struct address_space *m, pgoff_t index)
{
	struct rt_node *leaf = rt_leaf(m, index);

	if (leaf)
		rt_tag_clear_leaf(leaf, index & RT_MASK);
}

/* Removes index; frees nodes left empty. Returns the page that was there. */
static struct page *rt_delete(struct address_space *m, pgoff_t index)
{
	struct rt_node *n = rt_leaf(m, index);
	unsigned int slot = index & RT_MASK;
	struct page *page;

	if (!n || !(page = n->slots[slot]))
		return NULL;
	rt_tag_clear_leaf(n, slot);
	n->slots[slot] = NULL;
	while (--n->count == 0) {
		struct rt_node *parent = n->parent;

		if (!parent) {
			m->index = NULL;
			kmem_cache_free(rt_node_cachep, n);
			break;
		}
		parent->slots[n->offset] = NULL;
		kmem_cache_free(rt_node_cachep, n);
		n = parent;
	}
	return page;
}

/*
 * The first page at index >= start (dirty ones only if dirty_only) in the
 * subtree n, whose first index is base. NULL if none.
 */
static struct page *rt_find_from(struct rt_node *n, pgoff_t base, pgoff_t start,
				 bool dirty_only, pgoff_t *found)
{
	unsigned int first = start > base ? (unsigned int)((start - base) >> n->shift) : 0;

	for (unsigned int i = first; i < RT_SLOTS; i++) {
		pgoff_t sub = base + ((pgoff_t)i << n->shift);
		void *s;

		if (dirty_only) {
			uint64_t bits = n->dirty & (~0ULL << i);

			if (!bits)
				return NULL;
			i = (unsigned int)__builtin_ctzll(bits);
			sub = base + ((pgoff_t)i << n->shift);
		}
		s = n->slots[i];
		if (!s)
			continue;
		if (!n->shift) {
			*found = sub;
			return s;
		}
		{
			struct page *p = rt_find_from(s, sub, start > sub ? start : sub,
						      dirty_only, found);
			if (p)
				return p;
		}
	}
	return NULL;
}

static struct page *rt_find(struct address_space *m, pgoff_t start, bool dirty_only,
			    pgoff_t *found)
{
	struct rt_node *n = rt_root(m);

	if (!n || start > rt_max_index(n->shift))
		return NULL;
	return rt_find_from(n, 0, start, dirty_only, found);
}

/* Nodes of the tree, for the checker. */
static unsigned long rt_count_nodes(struct rt_node *n)
{
	unsigned long c = 1;

	if (n->shift)
		for (unsigned int i = 0; i < RT_SLOTS; i++)
			if (n->slots[i])
				c += rt_count_nodes(n->slots[i]);
	return c;
}

/* ---- Page locks ---- */

bool trylock_page(struct page *page)
{
	return !(atomic_fetch_or_explicit(&page->flags, 1UL << PG_locked,
					  memory_order_acquire) & (1UL << PG_locked));
}

void lock_page(struct page *page)
{
	while (!trylock_page(page))
		arch_yield();
}

void unlock_page(struct page *page)
{
	atomic_fetch_and_explicit(&page->flags, ~(1UL << PG_locked), memory_order_release);
}

/*
 * PG_uptodate is set after the page's bytes are written and tested before
 * they are read, on other CPUs without the page lock: release and acquire
 * order the bytes with the flag.
 */
static inline void set_page_uptodate(struct page *page)
{
	atomic_fetch_or_explicit(&page->flags, 1UL << PG_uptodate, memory_order_release);
}

static inline bool page_uptodate(struct page *page)
{
	return atomic_load_explicit(&page->flags, memory_order_acquire) & (1UL << PG_uptodate);
}

/* ---- Cache pages ---- */

static unsigned long nr_bdev_pages_;   /* cache pages of block devices (Buffers) */

unsigned long nr_bdev_pages(void)
{
	return __atomic_load_n(&nr_bdev_pages_, __ATOMIC_RELAXED);
}

/*
 * nrpages and nrdirty change under tree_lock but are read without it (the
 * writeback and eviction checks): atomic accesses, relaxed.
 */
static inline void mapping_count(unsigned long *c, long delta)
{
	__atomic_fetch_add(c, (unsigned long)delta, __ATOMIC_RELAXED);
}

static void account_cache_page(struct address_space *m, struct page *page, long delta)
{
	mapping_count(&m->nrpages, delta);
	mod_zone_page_state(page_zone(page), NR_FILE_PAGES, delta);
	if (m->host && m->host->i_bdev)
		__atomic_fetch_add(&nr_bdev_pages_, (unsigned long)delta, __ATOMIC_RELAXED);
}

struct page *find_get_page(struct address_space *mapping, pgoff_t index)
{
	struct page *page;

	spin_lock(&mapping->tree_lock);
	page = rt_lookup(mapping, index);
	if (page)
		get_page(page);
	spin_unlock(&mapping->tree_lock);
	return page;
}

/* A cache page's last reference may be the reader's or reclaim's: it leaves
   its LRU list on the way out (release_page). */
void put_page(struct page *page)
{
	if (put_page_testzero(page))
		release_page(page);
}

/*
 * Inserts a new, locked page at index (taking the cache's reference).
 * 0, -KMM_EEXIST if another page got there first, -KMM_ENOMEM.
 */
static int add_to_page_cache(struct address_space *m, struct page *page, pgoff_t index)
{
	struct rt_node *spare = NULL;
	int err;

	page->mapping = m;
	page->index = index;
	for (;;) {
		spin_lock(&m->tree_lock);
		err = rt_insert(m, index, page, &spare);
		if (!err) {
			get_page(page);
			account_cache_page(m, page, 1);
		}
		spin_unlock(&m->tree_lock);
		if (!err)
			lru_cache_add(page);   /* reclaim may take it from now on */
		if (err != -KMM_EAGAIN)
			break;
		spare = kmem_cache_alloc(rt_node_cachep, GFP_KERNEL);
		if (!spare) {
			err = -KMM_ENOMEM;
			break;
		}
	}
	if (spare)
		kmem_cache_free(rt_node_cachep, spare);
	if (err)
		page->mapping = NULL;
	return err;
}

static unsigned long shrink_clean_pages(unsigned long nr);
static void release_host_files(void);

/*
 * A page locked, not yet in the cache; NULL when out of memory. The
 * allocation reclaims (mm/vmscan.c) when memory is short; an allocation
 * that cannot (GFP flags of the caller, or reclaim found nothing) still
 * makes room by dropping clean, unused cache pages wherever they are, so
 * the cache never fails a read of a file larger than RAM only because it
 * kept the file's beginning.
 */
static struct page *page_cache_alloc(void)
{
	struct page *page = alloc_page(GFP_HIGHUSER_MOVABLE | __GFP_NOWARN);

	if (!page && shrink_clean_pages(2 * RT_SLOTS))
		page = alloc_page(GFP_HIGHUSER_MOVABLE);

	if (page) {
		set_page_flag(page, PG_locked);
		page->private = 0;
	}
	return page;
}

/*
 * Takes a locked page out of the cache and drops the cache's reference
 * (the caller keeps its own). A dirty page's counts go with it.
 */
static void delete_from_page_cache(struct page *page)
{
	struct address_space *m = page->mapping;

	spin_lock(&m->tree_lock);
	rt_delete(m, page->index);
	if (page_flag(page, PG_dirty)) {
		clear_page_flag(page, PG_dirty);
		mapping_count(&m->nrdirty, -1);
		mod_zone_page_state(page_zone(page), NR_FILE_DIRTY, -1);
	}
	account_cache_page(m, page, -1);
	page->mapping = NULL;
	spin_unlock(&m->tree_lock);
	/* Not reclaim's any more (unless it holds the page isolated: then it
	   sees the mapping gone and lets it be freed). */
	lru_del(page);
	put_page(page);
}

bool reclaim_cache_page(struct page *page)
{
	struct address_space *m = page->mapping;
	int expected = 2;   /* the caller's reference and the cache's */

	BUG_ON(!page_flag(page, PG_locked));
	if (!m || ((uintptr_t)m & PAGE_MAPPING_ANON))
		return false;
	spin_lock(&m->tree_lock);
	/*
	 * Dirty is set under tree_lock and lookups take their reference under
	 * it: a page clean and held by no one else here stays so, and frozen
	 * at 0 no one can find it any more.
	 */
	if (page->mapping != m || page_flag(page, PG_dirty) || page_flag(page, PG_writeback) ||
	    !atomic_compare_exchange_strong(&page->_refcount, &expected, 0)) {
		spin_unlock(&m->tree_lock);
		return false;
	}
	rt_delete(m, page->index);
	account_cache_page(m, page, -1);
	page->mapping = NULL;
	spin_unlock(&m->tree_lock);
	return true;
}

bool set_page_dirty(struct page *page)
{
	struct address_space *m = page->mapping;
	bool first = false;

	if (!m || ((uintptr_t)m & PAGE_MAPPING_ANON) || page_flag(page, PG_dirty))
		return false;
	spin_lock(&m->tree_lock);
	if (page->mapping != m ||
	    (atomic_fetch_or(&page->flags, 1UL << PG_dirty) & (1UL << PG_dirty))) {
		spin_unlock(&m->tree_lock);
		return false;
	}
	rt_tag_set(m, page->index);
	first = __atomic_fetch_add(&m->nrdirty, 1, __ATOMIC_RELAXED) == 0;
	mod_zone_page_state(page_zone(page), NR_FILE_DIRTY, 1);
	spin_unlock(&m->tree_lock);
	if (first)
		mark_mapping_dirty(m);
	return true;
}

bool clear_page_dirty_for_io(struct page *page)
{
	struct address_space *m = page->mapping;
	bool was;

	if (!m)
		return false;
	spin_lock(&m->tree_lock);
	was = atomic_fetch_and(&page->flags, ~(1UL << PG_dirty)) & (1UL << PG_dirty);
	if (was) {
		rt_tag_clear(m, page->index);
		mapping_count(&m->nrdirty, -1);
		mod_zone_page_state(page_zone(page), NR_FILE_DIRTY, -1);
	}
	spin_unlock(&m->tree_lock);
	return was;
}

unsigned int find_get_dirty_pages(struct address_space *mapping, pgoff_t *start,
				  pgoff_t end, struct page **pages, unsigned int max)
{
	unsigned int n = 0;
	pgoff_t idx = *start, found;

	spin_lock(&mapping->tree_lock);
	while (n < max && idx <= end) {
		struct page *p = rt_find(mapping, idx, true, &found);

		if (!p || found > end)
			break;
		get_page(p);
		pages[n++] = p;
		idx = found + 1;
		if (!idx)
			break;
	}
	spin_unlock(&mapping->tree_lock);
	*start = idx;
	return n;
}

/* ---- Reading pages from the host ---- */

static inline pgoff_t size_pages(loff_t size)
{
	return (pgoff_t)((size + PAGE_SIZE - 1) >> PAGE_SHIFT);
}

/*
 * Reads n contiguous locked pages (not uptodate, in the cache) with one
 * host call; marks them uptodate, or takes them out of the cache on an
 * error. Unlocks them and drops the caller's references. 0 or -errno.
 */
static int read_pages(struct address_space *m, struct page **pages, int n)
{
	struct arch_iovec iov[RT_SLOTS];
	loff_t off;
	long r;

	if (n <= 0 || n > (int)RT_SLOTS)
		return 0;
	off = (loff_t)pages[0]->index << PAGE_SHIFT;
	for (int i = 0; i < n; i++)
		iov[i] = (struct arch_iovec){ page_address(pages[i]), PAGE_SIZE };
	r = arch_fs_readv(m->host->i_host, (uint64_t)off, iov, n);
	for (int i = 0; i < n; i++) {
		struct page *p = pages[i];

		if (r >= 0) {
			long have = r - (long)i * (long)PAGE_SIZE;

			if (have < (long)PAGE_SIZE)
				memset((char *)page_address(p) + (have > 0 ? have : 0), 0,
				       PAGE_SIZE - (size_t)(have > 0 ? have : 0));
			set_page_uptodate(p);
		} else {
			delete_from_page_cache(p);
		}
		unlock_page(p);
		put_page(p);
	}
	if (r < 0)
		return (int)r;
	count_vm_events(PGPGIN, (unsigned long)n * (PAGE_SIZE / 1024));
	return 0;
}

/* Reads one locked page that is in the cache but not uptodate. */
static int read_one_locked(struct page *page)
{
	struct address_space *m = page->mapping;
	long r = arch_fs_read(m->host->i_host, (uint64_t)page->index << PAGE_SHIFT,
			      page_address(page), PAGE_SIZE);

	if (r < 0)
		return (int)r;
	if (r < (long)PAGE_SIZE)
		memset((char *)page_address(page) + r, 0, PAGE_SIZE - (size_t)r);
	set_page_uptodate(page);
	count_vm_events(PGPGIN, PAGE_SIZE / 1024);
	return 0;
}

/*
 * Brings [start, start + nr) into the cache, stopping at the end of the
 * file; pages already cached are skipped, each run of missing pages is one
 * host read. Returns 0 or the first error (pages of a failed run are not
 * left in the cache).
 */
static int read_window(struct address_space *m, pgoff_t start, unsigned long nr)
{
	struct page *run[RT_SLOTS];
	pgoff_t end = size_pages(i_size_read(m->host));
	int n = 0, err = 0, e;

	if (start >= end)
		return 0;
	if (nr > end - start)
		nr = end - start;
	for (pgoff_t i = start; i < start + nr; i++) {
		struct page *p = NULL;

		spin_lock(&m->tree_lock);
		if (!rt_lookup(m, i)) {
			spin_unlock(&m->tree_lock);
			p = page_cache_alloc();
			if (p && add_to_page_cache(m, p, i)) {
				unlock_page(p);
				put_page(p);
				p = NULL;
			}
		} else {
			spin_unlock(&m->tree_lock);
		}
		if (p) {
			run[n++] = p;
			if (n < (int)RT_SLOTS)
				continue;
		}
		if (n) {
			e = read_pages(m, run, n);
			if (e && !err)
				err = e;
			n = 0;
		}
	}
	if (n) {
		e = read_pages(m, run, n);
		if (e && !err)
			err = e;
	}
	return err;
}

/*
 * The page at index, uptodate, with a reference: from the cache, or read
 * alone. *major is set when it was read. 0 or -errno.
 */
static int get_page_uptodate(struct address_space *m, pgoff_t index, struct page **out,
			     bool *major)
{
	for (;;) {
		struct page *p = find_get_page(m, index);
		int err;

		if (!p) {
			p = page_cache_alloc();
			if (!p)
				return -KMM_ENOMEM;
			err = add_to_page_cache(m, p, index);
			if (err == -KMM_EEXIST) {
				unlock_page(p);
				put_page(p);
				continue;
			}
			if (err) {
				unlock_page(p);
				put_page(p);
				return err;
			}
			err = read_one_locked(p);
			if (major)
				*major = true;
			if (err) {
				delete_from_page_cache(p);
				unlock_page(p);
				put_page(p);
				return err;
			}
			unlock_page(p);
			*out = p;
			return 0;
		}
		if (page_uptodate(p)) {
			*out = p;
			return 0;
		}
		/* Being read by someone else, or a failed read: wait, then look. */
		lock_page(p);
		if (page_uptodate(p)) {
			unlock_page(p);
			*out = p;
			return 0;
		}
		if (p->mapping != m) {
			unlock_page(p);
			put_page(p);
			continue;
		}
		err = read_one_locked(p);
		if (major)
			*major = true;
		unlock_page(p);
		if (err) {
			put_page(p);
			return err;
		}
		*out = p;
		return 0;
	}
}

/* ---- Readahead ---- */

#define RA_MAX_PAGES 32UL    /* 128 KiB, Linux's default read_ahead_kb */

static unsigned long roundup_pow2(unsigned long n)
{
	unsigned long p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

/* The first window: a few times the request while it is small. */
static unsigned long ra_init_size(unsigned long req)
{
	unsigned long n = roundup_pow2(req);

	if (n <= RA_MAX_PAGES / 32)
		n *= 4;
	else if (n <= RA_MAX_PAGES / 4)
		n *= 2;
	else
		n = RA_MAX_PAGES;
	return MIN(n, RA_MAX_PAGES);
}

static unsigned long ra_next_size(unsigned long cur)
{
	return MIN(cur < RA_MAX_PAGES / 16 ? cur * 4 : cur * 2, RA_MAX_PAGES);
}

/* A miss at index while reading req pages: decide the window and read it. */
static void ra_on_miss(struct file *f, pgoff_t index, unsigned long req)
{
	struct address_space *m = f->f_mapping;
	bool sequential = (index == 0 && f->f_ra.prev_index == (pgoff_t)-1) ||
			  index == f->f_ra.prev_index + 1 || index == f->f_ra.prev_index;

	req = MIN(MAX(req, 1UL), RA_MAX_PAGES);
	if (f->f_ra.size && index == f->f_ra.start + f->f_ra.size) {
		/* Ran into the end of a window whose trigger was not seen. */
		f->f_ra.start = index;
		f->f_ra.size = (unsigned int)ra_next_size(f->f_ra.size);
		f->f_ra.async_size = f->f_ra.size;
	} else if (sequential) {
		f->f_ra.start = index;
		f->f_ra.size = (unsigned int)ra_init_size(req);
		/* A request as large as the window triggers the next one at once. */
		f->f_ra.async_size = f->f_ra.size > req ? f->f_ra.size - (unsigned int)req
						       : f->f_ra.size;
	} else {
		/* Random: read what was asked for, forget the window. */
		f->f_ra.start = index;
		f->f_ra.size = 0;
		f->f_ra.async_size = 0;
		read_window(m, index, req);
		return;
	}
	read_window(m, f->f_ra.start, f->f_ra.size);
}

/* A hit on the trigger page: read the next window ahead of the reader. */
static void ra_on_hit(struct file *f, pgoff_t index)
{
	if (!f->f_ra.size || !f->f_ra.async_size ||
	    index != f->f_ra.start + f->f_ra.size - f->f_ra.async_size)
		return;
	f->f_ra.start += f->f_ra.size;
	f->f_ra.size = (unsigned int)ra_next_size(f->f_ra.size);
	f->f_ra.async_size = f->f_ra.size;
	read_window(f->f_mapping, f->f_ra.start, f->f_ra.size);
}

/*
 * The read path's page lookup: a hit (which may trigger readahead) or a
 * miss (readahead brings the window, then the page is looked up again).
 */
static int read_get_page(struct file *f, pgoff_t index, unsigned long req,
			 struct page **out, bool *major)
{
	struct address_space *m = f->f_mapping;
	struct page *p = find_get_page(m, index);

	if (p && page_uptodate(p)) {
		count_vm_event(PGCACHE_HIT);
		ra_on_hit(f, index);
		*out = p;
		return 0;
	}
	if (p) {
		put_page(p);
	} else {
		count_vm_event(PGCACHE_MISS);
		ra_on_miss(f, index, req);
		/* The page that opened the window may be its trigger too. */
		ra_on_hit(f, index);
	}
	/* The window's read may have failed or skipped it: read it alone. */
	return get_page_uptodate(m, index, out, major);
}

/* ---- The inode cache ---- */

#define INODE_HASH_BITS 8
#define INODE_HASH_SIZE (1u << INODE_HASH_BITS)

static spinlock_t inode_hash_lock;
static struct list_head inode_hash[INODE_HASH_SIZE];
static unsigned long nr_inodes;

static unsigned int inode_hashfn(uint32_t dev, uint64_t ino)
{
	uint64_t h = (ino ^ ((uint64_t)dev << 32)) * 0x9e3779b97f4a7c15ULL;

	return (unsigned int)(h >> (64 - INODE_HASH_BITS));
}

void ihold(struct inode *inode)
{
	atomic_fetch_add(&inode->i_count, 1);
}

static void inode_free(struct inode *inode)
{
	if (inode->i_host)
		arch_fs_close(inode->i_host);
	if (inode->i_host_ro)
		arch_fs_close(inode->i_host_ro);
	kfree(inode->i_path);
	kmem_cache_free(inode_cachep, inode);
}

void iput(struct inode *inode)
{
	/* The inode cache holds one reference until drop_caches evicts it. */
	if (atomic_fetch_sub(&inode->i_count, 1) == 1)
		inode_free(inode);
}

static void address_space_init(struct address_space *m, struct inode *host)
{
	m->host = host;
	spin_lock_init(&m->tree_lock);
	m->index = NULL;
	m->nrpages = 0;
	m->nrdirty = 0;
	spin_lock_init(&m->i_mmap_lock);
	INIT_LIST_HEAD(&m->i_mmap);
	atomic_init(&m->wb_err_seq, 0);
	m->wb_err = 0;
	m->dirtied_when_ns = 0;
	INIT_LIST_HEAD(&m->dirty_list);
}

/*
 * The inode of an open host file: the cached one (host is then closed, or
 * kept as the inode's writable handle if it had only a read-only one), or a
 * new one that takes host. With a reference for the caller.
 */
static int iget(const char *path, struct arch_file *host, bool writable,
		struct inode **out)
{
	struct arch_stat st;
	struct inode *inode, *fresh;
	unsigned int h;
	int err = arch_fs_stat(host, &st);

	if (err) {
		arch_fs_close(host);
		return err;
	}
	fresh = kmem_cache_alloc(inode_cachep, GFP_KERNEL | __GFP_ZERO);
	if (fresh) {
		size_t len = kmm_strlen(path) + 1;

		fresh->i_path = kmalloc(len, GFP_KERNEL);
		if (fresh->i_path)
			memcpy(fresh->i_path, path, len);
	}
	h = inode_hashfn(st.dev, st.ino);
	spin_lock(&inode_hash_lock);
	list_for_each_entry(inode, &inode_hash[h], i_hash) {
		if (inode->i_ino != st.ino || inode->i_dev != st.dev)
			continue;
		ihold(inode);
		spin_unlock(&inode_hash_lock);
		if (fresh) {
			kfree(fresh->i_path);
			kmem_cache_free(inode_cachep, fresh);
		}
		/*
		 * Keep a writable handle: writeback writes through it. The
		 * read-only one stays open (a reader may be using it) until the
		 * inode goes; an inode is upgraded at most once.
		 */
		mutex_lock(&inode->i_lock);
		if (writable && !inode->i_host_rw) {
			inode->i_host_ro = inode->i_host;
			__atomic_store_n(&inode->i_host, host, __ATOMIC_RELEASE);
			inode->i_host_rw = true;
		} else {
			arch_fs_close(host);
		}
		mutex_unlock(&inode->i_lock);
		*out = inode;
		return 0;
	}
	if (!fresh || !fresh->i_path) {
		spin_unlock(&inode_hash_lock);
		if (fresh) {
			kfree(fresh->i_path);
			kmem_cache_free(inode_cachep, fresh);
		}
		arch_fs_close(host);
		return -KMM_ENOMEM;
	}
	inode = fresh;
	inode->i_ino = st.ino;
	inode->i_dev = st.dev;
	inode->i_mode = st.mode;
	inode->i_size = (loff_t)st.size;
	mutex_init(&inode->i_lock);
	atomic_init(&inode->i_count, 2);   /* the cache's and the caller's */
	inode->i_bdev = (st.mode & S_IFMT) == S_IFBLK;
	inode->i_host = host;
	inode->i_host_rw = writable;
	address_space_init(&inode->i_data, inode);
	list_add(&inode->i_hash, &inode_hash[h]);
	nr_inodes++;
	spin_unlock(&inode_hash_lock);
	*out = inode;
	return 0;
}

void for_each_inode(void (*fn)(struct inode *inode, void *arg), void *arg)
{
	/*
	 * Collect references in batches, then call fn unlocked: fn does I/O
	 * and may sleep. An inode cannot leave the cache while we hold it.
	 */
	for (unsigned int h = 0; h < INODE_HASH_SIZE; h++) {
		struct inode *batch[32];
		unsigned int n, skip = 0;

		do {
			struct inode *inode;
			unsigned int pos = 0;

			n = 0;
			spin_lock(&inode_hash_lock);
			list_for_each_entry(inode, &inode_hash[h], i_hash) {
				if (pos++ < skip)
					continue;
				if (n == ARRAY_SIZE(batch))
					break;
				ihold(inode);
				batch[n++] = inode;
			}
			spin_unlock(&inode_hash_lock);
			for (unsigned int i = 0; i < n; i++) {
				fn(batch[i], arg);
				iput(batch[i]);
			}
			skip += n;
		} while (n == ARRAY_SIZE(batch));
	}
}

/* ---- Open files ---- */

int file_open(const char *path, int flags, unsigned int mode, struct file **out)
{
	int acc = flags & KMM_O_ACCMODE;
	bool writable = acc == KMM_O_WRONLY || acc == KMM_O_RDWR;
	struct arch_file *host;
	struct inode *inode;
	struct file *f;
	int err;

	if (!path || !out)
		return -KMM_EFAULT;
	if (acc == KMM_O_ACCMODE)
		return -KMM_EINVAL;
	if (!path[0])
		return -KMM_ENOENT;
	f = kmem_cache_alloc(filp_cachep, GFP_KERNEL | __GFP_ZERO);
	if (!f)
		return -KMM_ENOMEM;
	/*
	 * A write-only file still needs reads: a partial write reads the
	 * page first. Ask the host for both, and fall back if refused.
	 */
	for (int attempt = 0; attempt < 2; attempt++) {
		err = -KMM_EACCES;
		if (acc == KMM_O_WRONLY)
			err = arch_fs_open(path, (flags & ~KMM_O_ACCMODE) | KMM_O_RDWR, mode,
					   &host);
		if (err == -KMM_EACCES)
			err = arch_fs_open(path, flags, mode, &host);
		if ((err != -KMM_EMFILE && err != -KMM_ENFILE) || attempt)
			break;
		release_host_files();
	}
	if (err) {
		kmem_cache_free(filp_cachep, f);
		return err;
	}
	err = iget(path, host, writable, &inode);
	if (err) {
		kmem_cache_free(filp_cachep, f);
		return err;
	}
	if ((inode->i_mode & S_IFMT) == S_IFDIR && writable) {
		iput(inode);
		kmem_cache_free(filp_cachep, f);
		return -KMM_EISDIR;
	}
	f->f_inode = inode;
	f->f_mapping = &inode->i_data;
	f->f_flags = flags;
	f->f_pos = 0;
	mutex_init(&f->f_pos_lock);
	atomic_init(&f->f_count, 1);
	f->f_wb_err = atomic_load(&inode->i_data.wb_err_seq);
	f->f_ra.prev_index = (pgoff_t)-1;
	if ((flags & KMM_O_TRUNC) && writable && !inode->i_bdev &&
	    (inode->i_mode & S_IFMT) == S_IFREG) {
		mutex_lock(&inode->i_lock);
		err = truncate_inode(inode, 0);
		mutex_unlock(&inode->i_lock);
		if (err) {
			fput(f);
			return err;
		}
	}
	*out = f;
	return 0;
}

struct file *get_file(struct file *f)
{
	atomic_fetch_add(&f->f_count, 1);
	return f;
}

void fput(struct file *f)
{
	if (atomic_fetch_sub(&f->f_count, 1) != 1)
		return;
	iput(f->f_inode);
	kmem_cache_free(filp_cachep, f);
}

static bool file_readable(const struct file *f)
{
	return (f->f_flags & KMM_O_ACCMODE) != KMM_O_WRONLY;
}

static bool file_writable(const struct file *f)
{
	int acc = f->f_flags & KMM_O_ACCMODE;

	return acc == KMM_O_WRONLY || acc == KMM_O_RDWR;
}

/* ---- Moving bytes: kernel buffers and task memory ---- */

/*
 * A read's destination or a write's source: a kernel buffer, or task
 * memory reached through its page tables (faulting pages in as the MMU
 * would, but failing with EFAULT instead of a signal, as Linux's
 * copy_to_user does).
 */
struct io_buf {
	struct task *t;       /* NULL: kbuf */
	uintptr_t uva;
	char *kbuf;
};

#define USER_TOP 0x800000000000UL

/* The frame at va, faulted in for the access, with a reference; or NULL. */
static struct page *get_user_page(struct task *t, uintptr_t va, bool write)
{
	struct mm *mm = t->mm;

	if (!mm)
		return NULL;
	for (int tries = 0; tries < 3; tries++) {
		struct vm_area *vma;
		pteval_t *ptep, e;
		unsigned int ret;

		read_lock(&mm->mmap_lock);
		vma = vma_lookup(mm, va);
		if (!vma || !(vma->vm_flags & (write ? VM_WRITE : VM_READ))) {
			read_unlock(&mm->mmap_lock);
			return NULL;
		}
		spin_lock(&mm->page_table_lock);
		ptep = pte_lookup(mm, va);
		e = ptep ? pte_read(ptep) : 0;
		if (pte_present(e) && (!write || pte_write(e))) {
			struct page *p = pfn_to_page(pte_pfn(e));

			get_page(p);
			spin_unlock(&mm->page_table_lock);
			read_unlock(&mm->mmap_lock);
			return p;
		}
		spin_unlock(&mm->page_table_lock);
		ret = handle_mm_fault(vma, va, (write ? FAULT_FLAG_WRITE : 0) | FAULT_FLAG_USER);
		read_unlock(&mm->mmap_lock);
		if (ret & VM_FAULT_ERROR)
			return NULL;
	}
	return NULL;
}

/* Copies n bytes between kernel memory k and the buffer at offset off. */
static int io_copy(struct io_buf *io, size_t off, void *k, size_t n, bool to_buf)
{
	uintptr_t va;

	if (!io->t) {
		if (to_buf)
			memcpy(io->kbuf + off, k, n);
		else
			memcpy(k, io->kbuf + off, n);
		return 0;
	}
	va = io->uva + off;
	while (n) {
		size_t chunk = MIN(n, PAGE_SIZE - (va & (PAGE_SIZE - 1)));
		struct page *p = get_user_page(io->t, va, to_buf);
		char *u;

		if (!p)
			return -KMM_EFAULT;
		u = (char *)page_address(p) + (va & (PAGE_SIZE - 1));
		if (to_buf) {
			memcpy(u, k, chunk);
			/* The kernel stored through no PTE: tell a file page it changed. */
			set_page_dirty(p);
		} else {
			memcpy(k, u, chunk);
		}
		/* The zero page is never freed: dropping our reference is harmless. */
		put_page(p);
		va += chunk;
		k = (char *)k + chunk;
		n -= chunk;
	}
	return 0;
}

/* ---- The read and write paths ---- */

#define MAX_RW_COUNT (0x7ffff000UL)   /* Linux's INT_MAX & PAGE_MASK */

static long do_read(struct file *f, struct io_buf *io, size_t len, loff_t *ppos)
{
	struct inode *inode = f->f_inode;
	loff_t pos = *ppos;
	size_t done = 0;
	pgoff_t last = (pgoff_t)-1;
	long err = 0;

	if ((inode->i_mode & S_IFMT) == S_IFDIR)
		return -KMM_EISDIR;
	if (pos < 0)
		return -KMM_EINVAL;
	len = MIN(len, MAX_RW_COUNT);
	while (done < len) {
		loff_t size = i_size_read(inode);
		pgoff_t index = (pgoff_t)(pos >> PAGE_SHIFT);
		size_t off = (size_t)(pos & (PAGE_SIZE - 1));
		unsigned long req = (unsigned long)((pos + (loff_t)(len - done) - 1) >> PAGE_SHIFT) -
				    index + 1;
		struct page *page;
		size_t n;

		if (pos >= size)
			break;
		err = read_get_page(f, index, req, &page, NULL);
		if (err)
			break;
		size = i_size_read(inode);
		n = MIN(PAGE_SIZE - off, len - done);
		if (pos + (loff_t)n > size)
			n = pos < size ? (size_t)(size - pos) : 0;
		if (n)
			err = io_copy(io, done, (char *)page_address(page) + off, n, true);
		/* A use, once per page a read goes through (several small reads
		   of one page are one use, as in Linux). */
		if (index != last && index != f->f_ra.prev_index)
			mark_page_accessed(page);
		put_page(page);
		last = index;
		if (err || !n)
			break;
		done += n;
		pos += (loff_t)n;
	}
	if (last != (pgoff_t)-1)
		f->f_ra.prev_index = last;
	*ppos = pos;
	return done ? (long)done : err;
}

/*
 * The page a write of [off, off+n) in page index goes to, locked, with a
 * reference: read first when the write covers it only partly and the file
 * has bytes there, zeroed when it does not.
 */
static int write_begin(struct address_space *m, pgoff_t index, size_t off, size_t n,
		       struct page **out)
{
	loff_t size = i_size_read(m->host);
	struct page *p;
	int err;

	for (;;) {
		p = find_get_page(m, index);
		if (p) {
			lock_page(p);
			if (p->mapping != m) {
				unlock_page(p);
				put_page(p);
				continue;
			}
			break;
		}
		p = page_cache_alloc();
		if (!p)
			return -KMM_ENOMEM;
		err = add_to_page_cache(m, p, index);
		if (!err)
			break;
		unlock_page(p);
		put_page(p);
		if (err != -KMM_EEXIST)
			return err;
	}
	if (!page_uptodate(p) && !(off == 0 && n == PAGE_SIZE)) {
		if (((loff_t)index << PAGE_SHIFT) < size) {
			err = read_one_locked(p);
			if (err) {
				if (!page_flag(p, PG_dirty) && p->mapping)
					delete_from_page_cache(p);
				unlock_page(p);
				put_page(p);
				return err;
			}
		} else {
			memset(page_address(p), 0, PAGE_SIZE);
			set_page_uptodate(p);
		}
	}
	mark_page_accessed(p);
	*out = p;
	return 0;
}

static long do_write(struct file *f, struct io_buf *io, size_t len, loff_t *ppos, bool append)
{
	struct inode *inode = f->f_inode;
	struct address_space *m = f->f_mapping;
	loff_t pos, limit;
	size_t done = 0;
	long err = 0;

	if ((inode->i_mode & S_IFMT) == S_IFDIR)
		return -KMM_EISDIR;
	len = MIN(len, MAX_RW_COUNT);
	mutex_lock(&inode->i_lock);
	pos = append ? i_size_read(inode) : *ppos;
	if (pos < 0) {
		mutex_unlock(&inode->i_lock);
		return -KMM_EINVAL;
	}
	limit = inode->i_bdev ? i_size_read(inode) : (loff_t)MAX_FILE_PAGES << PAGE_SHIFT;
	if (len && pos >= limit) {
		mutex_unlock(&inode->i_lock);
		return inode->i_bdev ? -KMM_ENOSPC : -KMM_EFBIG;
	}
	if ((loff_t)len > limit - pos)
		len = (size_t)(limit - pos);
	while (done < len) {
		pgoff_t index = (pgoff_t)(pos >> PAGE_SHIFT);
		size_t off = (size_t)(pos & (PAGE_SIZE - 1));
		size_t n = MIN(PAGE_SIZE - off, len - done);
		struct page *page;

		/*
		 * Task memory is reached with no page lock held (mmap_lock
		 * comes first): the source's frames (one or two) are faulted
		 * in and held before the cache page is locked.
		 */
		if (io->t) {
			struct page *up = NULL;
			uintptr_t va = io->uva + done;
			size_t first = MIN(n, PAGE_SIZE - (va & (PAGE_SIZE - 1)));
			struct page *up2 = NULL;

			up = get_user_page(io->t, va, false);
			if (!up) {
				err = -KMM_EFAULT;
				break;
			}
			if (first < n) {
				up2 = get_user_page(io->t, va + first, false);
				if (!up2) {
					put_page(up);
					err = -KMM_EFAULT;
					break;
				}
			}
			err = write_begin(m, index, off, n, &page);
			if (!err) {
				char *dst = (char *)page_address(page) + off;

				memcpy(dst, (char *)page_address(up) + (va & (PAGE_SIZE - 1)), first);
				if (up2)
					memcpy(dst + first, page_address(up2), n - first);
			}
			put_page(up);
			if (up2)
				put_page(up2);
		} else {
			err = write_begin(m, index, off, n, &page);
			if (!err)
				memcpy((char *)page_address(page) + off, io->kbuf + done, n);
		}
		if (err)
			break;
		set_page_uptodate(page);
		set_page_dirty(page);
		unlock_page(page);
		put_page(page);
		done += n;
		pos += (loff_t)n;
		if (pos > i_size_read(inode))
			__atomic_store_n(&inode->i_size, pos, __ATOMIC_RELEASE);
	}
	mutex_unlock(&inode->i_lock);
	*ppos = pos;
	if (done)
		balance_dirty_pages(m);
	return done ? (long)done : err;
}

long kernel_read(struct file *f, void *buf, size_t len, loff_t *pos)
{
	struct io_buf io = { .kbuf = buf };

	if (!f || !pos || (len && !buf))
		return -KMM_EFAULT;
	if (!file_readable(f))
		return -KMM_EBADF;
	return do_read(f, &io, len, pos);
}

long kernel_write(struct file *f, const void *buf, size_t len, loff_t *pos)
{
	struct io_buf io = { .kbuf = (char *)buf };

	if (!f || !pos || (len && !buf))
		return -KMM_EFAULT;
	if (!file_writable(f))
		return -KMM_EBADF;
	return do_write(f, &io, len, pos, (f->f_flags & KMM_O_APPEND) != 0);
}

int filemap_get_page(struct file *f, pgoff_t index, struct page **out, bool *major)
{
	struct page *p;

	if (!f || !out)
		return -KMM_EINVAL;
	if (major)
		*major = false;
	if (index >= size_pages(i_size_read(f->f_inode)))
		return -KMM_ENXIO;
	p = find_get_page(f->f_mapping, index);
	if (p && page_uptodate(p)) {
		count_vm_event(PGCACHE_HIT);
		*out = p;
		return 0;
	}
	if (p)
		put_page(p);
	else
		count_vm_event(PGCACHE_MISS);
	return get_page_uptodate(f->f_mapping, index, out, major);
}

int filemap_fault(struct vm_area *vma, pgoff_t index, struct page **out, bool *major)
{
	struct file *f = vma ? vma->vm_file : NULL;
	struct page *p;

	if (!f || !out)
		return -KMM_EINVAL;
	if (major)
		*major = false;
	if (index >= size_pages(i_size_read(f->f_inode)))
		return -KMM_ENXIO;
	p = find_get_page(f->f_mapping, index);
	if (p && page_uptodate(p)) {
		count_vm_event(PGCACHE_HIT);
		*out = p;
		return 0;
	}
	if (p) {
		put_page(p);
	} else {
		count_vm_event(PGCACHE_MISS);
		/* Read around the fault (Linux's mmap read-around), unless random. */
		if (!(vma->vm_flags & VM_RAND_READ)) {
			pgoff_t start = index - MIN(index, RA_MAX_PAGES / 2);

			if (vma->vm_flags & VM_SEQ_READ)
				start = index;
			read_window(f->f_mapping, start, RA_MAX_PAGES);
		}
	}
	if (major)
		*major = true;
	return get_page_uptodate(f->f_mapping, index, out, NULL);
}

/* ---- Truncation ---- */

/*
 * Sets the size of inode (i_lock held): the host file first, then the
 * cache loses the pages past the end (unmapped from every task) and the
 * last page's tail is zeroed, so bytes past the end read as zeros if the
 * file grows again. 0 or -errno.
 */
int truncate_inode(struct inode *inode, loff_t size)
{
	struct address_space *m = &inode->i_data;
	loff_t old = i_size_read(inode);
	pgoff_t first = size_pages(size), found;
	struct page *p;
	int err;

	if (size < 0)
		return -KMM_EINVAL;
	if ((pgoff_t)(size >> PAGE_SHIFT) >= MAX_FILE_PAGES)
		return -KMM_EFBIG;
	err = arch_fs_truncate(inode->i_host, (uint64_t)size);
	if (err)
		return err;
	__atomic_store_n(&inode->i_size, size, __ATOMIC_RELEASE);
	if (size >= old && !__atomic_load_n(&m->nrpages, __ATOMIC_RELAXED))
		return 0;
	/* Tasks mapping the pages past the end lose them (a later access: SIGBUS). */
	spin_lock(&m->i_mmap_lock);
	if (!list_empty(&m->i_mmap)) {
		struct vm_area *vma;

		list_for_each_entry(vma, &m->i_mmap, shared_node) {
			uintptr_t start = vma->vm_start;
			pgoff_t vend = vma->vm_pgoff + ((vma->vm_end - vma->vm_start) >> PAGE_SHIFT);

			if (vend <= first)
				continue;
			if (vma->vm_pgoff < first)
				start += (first - vma->vm_pgoff) << PAGE_SHIFT;
			zap_page_range(vma, start, vma->vm_end);
		}
	}
	spin_unlock(&m->i_mmap_lock);
	for (;;) {
		spin_lock(&m->tree_lock);
		p = rt_find(m, first, false, &found);
		if (p)
			get_page(p);
		spin_unlock(&m->tree_lock);
		if (!p)
			break;
		lock_page(p);
		if (p->mapping == m)
			delete_from_page_cache(p);
		unlock_page(p);
		put_page(p);
	}
	if (size & (PAGE_SIZE - 1)) {
		p = find_get_page(m, first - 1);
		if (p) {
			size_t off = (size_t)(size & (PAGE_SIZE - 1));

			lock_page(p);
			if (page_uptodate(p))
				memset((char *)page_address(p) + off, 0, PAGE_SIZE - off);
			unlock_page(p);
			put_page(p);
		}
	}
	return 0;
}

/* ---- drop_caches ---- */

struct drop_state {
	unsigned long dropped;
	unsigned long limit;         /* 0: no limit */
};

static void drop_inode_pages(struct inode *inode, void *arg)
{
	struct drop_state *st = arg;
	struct address_space *m = &inode->i_data;
	pgoff_t idx = 0, found;

	for (;;) {
		struct page *p;

		if (st->limit && st->dropped >= st->limit)
			break;
		spin_lock(&m->tree_lock);
		p = rt_find(m, idx, false, &found);
		if (p)
			get_page(p);
		spin_unlock(&m->tree_lock);
		if (!p)
			break;
		idx = found + 1;
		/* Ours (2 references: the cache's and this one), clean, unmapped. */
		if (trylock_page(p)) {
			if (p->mapping == m && !page_flag(p, PG_dirty) &&
			    !page_flag(p, PG_writeback) &&
			    atomic_load(&p->_mapcount) < 0 && page_ref_count(p) == 2) {
				delete_from_page_cache(p);
				st->dropped++;
			}
			unlock_page(p);
		}
		put_page(p);
	}
}

/* Drops up to nr clean, unused cache pages, wherever they are. */
static unsigned long shrink_clean_pages(unsigned long nr)
{
	struct drop_state st = { .limit = nr };

	for_each_inode(drop_inode_pages, &st);
	return st.dropped;
}

/*
 * Inodes nobody uses and with no pages leave the cache (Linux's drop_caches
 * "3"), closing their host files. An inode with no page has no dirty page,
 * so it leaves the flusher's list too (truncation may have left it there).
 */
static void prune_inodes(void)
{
	for (unsigned int h = 0; h < INODE_HASH_SIZE; h++) {
		struct inode *inode, *tmp;
		struct list_head gone;

		INIT_LIST_HEAD(&gone);
		spin_lock(&inode_hash_lock);
		list_for_each_entry_safe(inode, tmp, &inode_hash[h], i_hash) {
			if (atomic_load(&inode->i_count) == 1 &&
			    !__atomic_load_n(&inode->i_data.nrpages, __ATOMIC_RELAXED)) {
				list_del(&inode->i_hash);
				list_add(&inode->i_hash, &gone);
				nr_inodes--;
			}
		}
		spin_unlock(&inode_hash_lock);
		list_for_each_entry_safe(inode, tmp, &gone, i_hash) {
			mapping_clean(&inode->i_data);
			iput(inode);
		}
	}
}

unsigned long drop_caches(void)
{
	struct drop_state st = { 0 };

	for_each_inode(drop_inode_pages, &st);
	prune_inodes();
	return st.dropped;
}

/* An inode only the cache and the caller hold: written back and emptied. */
static void release_unused(struct inode *inode, void *arg)
{
	if (atomic_load(&inode->i_count) != 2)
		return;
	if (__atomic_load_n(&inode->i_data.nrdirty, __ATOMIC_RELAXED))
		filemap_write_and_wait_range(&inode->i_data, 0, (pgoff_t)-1);
	drop_inode_pages(inode, arg);
}

/*
 * Every cached inode keeps its host file open. When the host has no more
 * descriptors to give, the inodes nobody uses are written back, emptied and
 * evicted, which closes theirs.
 */
static void release_host_files(void)
{
	struct drop_state st = { 0 };

	for_each_inode(release_unused, &st);
	prune_inodes();
}

/* ---- Descriptor tables ---- */

struct files_struct {
	atomic_int count;            /* tasks sharing the table (threads) */
	spinlock_t lock;             /* fd[] */
	struct file *fd[KMM_NR_OPEN];
};

int files_alloc(struct task *t)
{
	struct files_struct *fs = kmem_cache_alloc(files_cachep, GFP_KERNEL | __GFP_ZERO);

	if (!fs)
		return -KMM_ENOMEM;
	atomic_init(&fs->count, 1);
	spin_lock_init(&fs->lock);
	t->files = fs;
	return 0;
}

int files_dup(struct task *child, struct task *parent)
{
	struct files_struct *pfs = parent->files, *fs;
	int err = files_alloc(child);

	if (err || !pfs)
		return err;
	fs = child->files;
	spin_lock(&pfs->lock);
	for (int i = 0; i < KMM_NR_OPEN; i++)
		if (pfs->fd[i])
			fs->fd[i] = get_file(pfs->fd[i]);
	spin_unlock(&pfs->lock);
	return 0;
}

void files_share(struct task *thread, struct task *parent)
{
	thread->files = parent->files;
	if (thread->files)
		atomic_fetch_add(&thread->files->count, 1);
}

void files_exit(struct task *t)
{
	struct files_struct *fs = t->files;

	if (!fs)
		return;
	t->files = NULL;
	if (atomic_fetch_sub(&fs->count, 1) != 1)
		return;
	for (int i = 0; i < KMM_NR_OPEN; i++)
		if (fs->fd[i])
			fput(fs->fd[i]);
	kmem_cache_free(files_cachep, fs);
}

struct file *fget(struct task *t, int fd)
{
	struct files_struct *fs = t ? t->files : NULL;
	struct file *f = NULL;

	if (!fs || fd < 0 || fd >= KMM_NR_OPEN)
		return NULL;
	spin_lock(&fs->lock);
	if (fs->fd[fd])
		f = get_file(fs->fd[fd]);
	spin_unlock(&fs->lock);
	return f;
}

/* Installs f at the lowest free descriptor; the table takes the reference. */
static int fd_install(struct task *t, struct file *f)
{
	struct files_struct *fs = t->files;

	spin_lock(&fs->lock);
	for (int i = 0; i < KMM_NR_OPEN; i++) {
		if (!fs->fd[i]) {
			fs->fd[i] = f;
			spin_unlock(&fs->lock);
			return i;
		}
	}
	spin_unlock(&fs->lock);
	return -KMM_EMFILE;
}

/* ---- System calls ---- */

static bool task_ok(struct task *t)
{
	return t && t->state == TASK_RUNNING && t->files;
}

long sys_open(struct task *t, const char *path, int flags, unsigned int mode)
{
	struct file *f;
	long fd;
	int err;

	if (!task_ok(t))
		return -KMM_ESRCH;
	err = file_open(path, flags, mode, &f);
	if (err)
		return err;
	fd = fd_install(t, f);
	if (fd < 0)
		fput(f);
	return fd;
}

long sys_close(struct task *t, int fd)
{
	struct files_struct *fs;
	struct file *f;

	if (!task_ok(t))
		return -KMM_ESRCH;
	if (fd < 0 || fd >= KMM_NR_OPEN)
		return -KMM_EBADF;
	fs = t->files;
	spin_lock(&fs->lock);
	f = fs->fd[fd];
	fs->fd[fd] = NULL;
	spin_unlock(&fs->lock);
	if (!f)
		return -KMM_EBADF;
	fput(f);
	return 0;
}

static bool user_range_ok(uintptr_t buf, size_t n)
{
	return buf < USER_TOP && n <= USER_TOP - buf;
}

static long rw_common(struct task *t, int fd, uintptr_t buf, size_t n, loff_t *off,
		      bool write)
{
	struct io_buf io = { .t = t, .uva = buf };
	struct file *f;
	long ret;

	if (!task_ok(t))
		return -KMM_ESRCH;
	f = fget(t, fd);
	if (!f)
		return -KMM_EBADF;
	if (write ? !file_writable(f) : !file_readable(f)) {
		fput(f);
		return -KMM_EBADF;
	}
	if (!user_range_ok(buf, n)) {
		fput(f);
		return -KMM_EFAULT;
	}
	if (off) {
		/* As Linux: pwrite on an O_APPEND file appends, whatever off says. */
		if (*off < 0)
			ret = -KMM_EINVAL;
		else
			ret = write ? do_write(f, &io, n, off, (f->f_flags & KMM_O_APPEND) != 0)
				    : do_read(f, &io, n, off);
	} else {
		mutex_lock(&f->f_pos_lock);
		ret = write ? do_write(f, &io, n, &f->f_pos, (f->f_flags & KMM_O_APPEND) != 0)
			    : do_read(f, &io, n, &f->f_pos);
		mutex_unlock(&f->f_pos_lock);
	}
	fput(f);
	return ret;
}

long sys_read(struct task *t, int fd, uintptr_t buf, size_t n)
{
	return rw_common(t, fd, buf, n, NULL, false);
}

long sys_write(struct task *t, int fd, uintptr_t buf, size_t n)
{
	return rw_common(t, fd, buf, n, NULL, true);
}

long sys_pread(struct task *t, int fd, uintptr_t buf, size_t n, loff_t off)
{
	return rw_common(t, fd, buf, n, &off, false);
}

long sys_pwrite(struct task *t, int fd, uintptr_t buf, size_t n, loff_t off)
{
	return rw_common(t, fd, buf, n, &off, true);
}

long sys_lseek(struct task *t, int fd, loff_t off, int whence)
{
	struct file *f;
	loff_t base, pos;
	long ret;

	if (!task_ok(t))
		return -KMM_ESRCH;
	f = fget(t, fd);
	if (!f)
		return -KMM_EBADF;
	mutex_lock(&f->f_pos_lock);
	switch (whence) {
	case KMM_SEEK_SET: base = 0; break;
	case KMM_SEEK_CUR: base = f->f_pos; break;
	case KMM_SEEK_END: base = i_size_read(f->f_inode); break;
	default: base = -1; break;
	}
	if (base < 0 || __builtin_add_overflow(base, off, &pos) || pos < 0) {
		ret = -KMM_EINVAL;
	} else {
		f->f_pos = pos;
		ret = (long)pos;
	}
	mutex_unlock(&f->f_pos_lock);
	fput(f);
	return ret;
}

long sys_ftruncate(struct task *t, int fd, loff_t len)
{
	struct file *f;
	long ret;

	if (!task_ok(t))
		return -KMM_ESRCH;
	f = fget(t, fd);
	if (!f)
		return -KMM_EBADF;
	if (len < 0 || !file_writable(f) || (f->f_inode->i_mode & S_IFMT) != S_IFREG)
		ret = -KMM_EINVAL;
	else if ((pgoff_t)(len >> PAGE_SHIFT) >= MAX_FILE_PAGES)
		ret = -KMM_EFBIG;
	else {
		mutex_lock(&f->f_inode->i_lock);
		ret = truncate_inode(f->f_inode, len);
		mutex_unlock(&f->f_inode->i_lock);
	}
	fput(f);
	return ret;
}

/* ---- Boot, shutdown ---- */

int filemap_init(void)
{
	spin_lock_init(&inode_hash_lock);
	for (unsigned int i = 0; i < INODE_HASH_SIZE; i++)
		INIT_LIST_HEAD(&inode_hash[i]);
	nr_inodes = 0;
	nr_bdev_pages_ = 0;
	rt_node_cachep = kmem_cache_create_boot("radix_tree_node", sizeof(struct rt_node), 0, 0);
	inode_cachep = kmem_cache_create_boot("inode_cache", sizeof(struct inode), 0,
					      SLAB_HWCACHE_ALIGN);
	filp_cachep = kmem_cache_create_boot("filp", sizeof(struct file), 0, SLAB_HWCACHE_ALIGN);
	files_cachep = kmem_cache_create_boot("files_cache", sizeof(struct files_struct), 0, 0);
	if (!rt_node_cachep || !inode_cachep || !filp_cachep || !files_cachep)
		return -KMM_ENOMEM;
	return writeback_init();
}

/* Drops every page of the inode, dirty or not (shutdown: nothing is written). */
static void forget_inode_pages(struct inode *inode, void *arg)
{
	struct address_space *m = &inode->i_data;
	pgoff_t found;

	for (;;) {
		struct page *p;

		spin_lock(&m->tree_lock);
		p = rt_find(m, 0, false, &found);
		if (p)
			get_page(p);
		spin_unlock(&m->tree_lock);
		if (!p)
			break;
		lock_page(p);
		if (p->mapping == m)
			delete_from_page_cache(p);
		unlock_page(p);
		put_page(p);
	}
	mapping_clean(m);
}

void filemap_shutdown(void)
{
	for_each_inode(forget_inode_pages, NULL);
	drop_caches();
}

/* ---- Views and the invariant checker ---- */

unsigned long nr_cached_inodes(void)
{
	unsigned long n;

	spin_lock(&inode_hash_lock);
	n = nr_inodes;
	spin_unlock(&inode_hash_lock);
	return n;
}

struct check_totals {
	unsigned long pages, dirty, bdev;
};

/* One mapping: every page is where it says, counts agree with the tree. */
static void check_inode(struct inode *inode, void *arg)
{
	struct check_totals *tot = arg;
	struct address_space *m = &inode->i_data;
	unsigned long pages = 0, dirty = 0;
	pgoff_t idx = 0, found;
	struct page *p;

	spin_lock(&m->tree_lock);
	while ((p = rt_find(m, idx, false, &found))) {
		if (p->mapping != m || p->index != found)
			panic("filemap_check: %s: page at index %lu has mapping %p index %lu",
			      inode->i_path, found, (void *)p->mapping, p->index);
		if (page_ref_count(p) < 1)
			panic("filemap_check: %s: cached page %lu has no reference",
			      inode->i_path, found);
		if (!page_flag(p, PG_lru) || page_flag(p, PG_swapbacked))
			panic("filemap_check: %s: cached page %lu is not on a file LRU list "
			      "(flags %#lx)", inode->i_path, found,
			      (unsigned long)atomic_load(&p->flags));
		if (page_flag(p, PG_dirty))
			dirty++;
		if (page_flag(p, PG_dirty) != (rt_find(m, found, true, &idx) == p && idx == found))
			panic("filemap_check: %s: page %lu: PG_dirty %d but the dirty tag says %d",
			      inode->i_path, found, page_flag(p, PG_dirty), !page_flag(p, PG_dirty));
		pages++;
		idx = found + 1;
	}
	if (pages != m->nrpages || dirty != m->nrdirty)
		panic("filemap_check: %s: %lu pages (%lu dirty) in the tree, nrpages %lu nrdirty %lu",
		      inode->i_path, pages, dirty, m->nrpages, m->nrdirty);
	if (!m->index != !pages)
		panic("filemap_check: %s: %lu pages but the tree %s", inode->i_path, pages,
		      m->index ? "has nodes" : "is empty");
	if (m->index)
		(void)rt_count_nodes(m->index);
	spin_unlock(&m->tree_lock);
	tot->pages += pages;
	tot->dirty += dirty;
	if (inode->i_bdev)
		tot->bdev += pages;
	if (atomic_load(&inode->i_count) < 1)
		panic("filemap_check: %s: cached inode with count %d", inode->i_path,
		      atomic_load(&inode->i_count));
}

static unsigned long zone_sum(enum zone_stat_item item)
{
	unsigned long sum = 0;
	struct zone *z;

	for_each_zone(z)
		sum += zone_page_state(z, item);
	return sum;
}

int filemap_check(void)
{
	struct check_totals tot = { 0 };

	if (!inode_cachep)
		return 0;
	for_each_inode(check_inode, &tot);
	if (tot.pages != zone_sum(NR_FILE_PAGES))
		panic("filemap_check: %lu cache pages, NR_FILE_PAGES %lu", tot.pages,
		      zone_sum(NR_FILE_PAGES));
	if (tot.dirty != zone_sum(NR_FILE_DIRTY))
		panic("filemap_check: %lu dirty cache pages, NR_FILE_DIRTY %lu", tot.dirty,
		      zone_sum(NR_FILE_DIRTY));
	if (tot.bdev != nr_bdev_pages())
		panic("filemap_check: %lu block-device pages, Buffers count %lu", tot.bdev,
		      nr_bdev_pages());
	writeback_check();
	return 0;
}
