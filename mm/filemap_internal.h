/*
 * The page cache's internal interface between mm/filemap.c (the index, the
 * inode cache, the read and write paths) and mm/page-writeback.c (dirty
 * accounting, writeback, sync). Nothing outside these two files includes it.
 */
#ifndef KMM_MM_FILEMAP_INTERNAL_H
#define KMM_MM_FILEMAP_INTERNAL_H

#include <kmm/fs.h>

/* Files larger than this are refused (EFBIG): 2^36 pages, 256 TiB. */
#define MAX_FILE_PAGES (1UL << 36)

/* The page lock (PG_locked): one page's I/O and truncation. */
void lock_page(struct page *page);
bool trylock_page(struct page *page);
void unlock_page(struct page *page);

/*
 * Up to max pages with the dirty tag at index >= *start and <= end, in index
 * order, each with a reference; *start is moved past the last one found.
 * tree_lock is taken inside.
 */
unsigned int find_get_dirty_pages(struct address_space *mapping, pgoff_t *start,
				  pgoff_t end, struct page **pages, unsigned int max);

/*
 * Clears PG_dirty of a locked cache page and its dirty tag, with the
 * counters (nrdirty, NR_FILE_DIRTY); returns true if it was dirty.
 */
bool clear_page_dirty_for_io(struct page *page);

/* Sets the file's size (i_lock held): host file, cache pages, mappings. */
int truncate_inode(struct inode *inode, loff_t size);

/* Inode references: every open file, area and the inode cache hold one. */
void ihold(struct inode *inode);
void iput(struct inode *inode);

/*
 * Calls fn on every cached inode with a reference held across the call
 * (fn may sleep and do I/O; the inode cache lock is not held).
 */
void for_each_inode(void (*fn)(struct inode *inode, void *arg), void *arg);

/* page-writeback.c: the mapping got its first dirty page (flusher list). */
void mark_mapping_dirty(struct address_space *mapping);
/* The mapping has no dirty page left: off the flusher's list. */
void mapping_clean(struct address_space *mapping);
/* Boot and checks of page-writeback.c. */
void writeback_check(void);

#endif
