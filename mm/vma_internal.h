/*
 * Interfaces between the files of the area level (mm/vma.c, mm/mmap.c,
 * mm/fork.c, mm/exec.c) that are not part of the public contract in
 * include/kmm/mm.h. Every function here expects mm->mmap_lock held for
 * writing unless it says otherwise.
 */
#ifndef KMM_VMA_INTERNAL_H
#define KMM_VMA_INTERNAL_H

#include <kmm/mm.h>

/* Linux's vm.max_map_count default: a split or a new area past it fails. */
#define DEFAULT_MAX_MAP_COUNT 65530

/* vma.c: creates the "vm_area_struct" cache (mm_task_init). */
int vma_cache_init(void);

/*
 * Takes and drops the reverse map's locks of vma (its file's i_mmap_lock,
 * then its anon_vma's lock), around a change of the bounds or flags of an
 * area reclaim may be walking.
 */
void vma_rmap_lock(const struct vm_area *vma);
void vma_rmap_unlock(const struct vm_area *vma);

/* Adds npages (negative: removes) to the counters vm_flags belongs to. */
void vm_stat_account(struct mm *mm, unsigned long vm_flags, long npages);

/*
 * Moves vma's bounds to [start, end) (the caller has checked that no other
 * area overlaps): keeps the counters, the gaps of the tree and vm_pgoff
 * (which follows vm_start) right.
 */
void vma_set_range(struct mm *mm, struct vm_area *vma, uintptr_t start, uintptr_t end);
/* Changes vma's flags, moving its pages between the counters. */
void vma_set_flags(struct mm *mm, struct vm_area *vma, unsigned long vm_flags);
/* split_vma without the map_count limit (munmap may pass it for a moment). */
int __split_vma(struct mm *mm, struct vm_area *vma, uintptr_t addr, bool new_below);
/* Whether a and b (a just below b) could be one area. */
bool vma_can_merge(const struct vm_area *a, const struct vm_area *b);
/*
 * The same, where fresh (a, b or NULL) is merged as a new range is in
 * Linux (mremap's growth and destination): its own fork-inherited anchor
 * does not prevent the merge.
 */
bool __vma_can_merge(const struct vm_area *a, const struct vm_area *b,
		     const struct vm_area *fresh);
/* vma_merge_neighbours with vma as such a fresh range, optionally not with prev. */
struct vm_area *__vma_merge_neighbours(struct mm *mm, struct vm_area *vma, bool fresh,
				       bool with_prev);

/* fork.c: the anonymous-memory anchors. */
struct anon_vma *anon_vma_alloc(void);
void anon_vma_get(struct anon_vma *av);
void anon_vma_put(struct anon_vma *av);
/* Puts vma on av's list (vma->anon_vma = av), taking a reference. */
void anon_vma_link(struct vm_area *vma, struct anon_vma *av);
/* Takes vma off its anon_vma's list, dropping the reference. */
void anon_vma_unlink(struct vm_area *vma);

/*
 * mmap.c: mmap and mprotect of an mm that need not belong to a task (exec
 * builds the new address space before it replaces the old one). Each takes
 * mmap_lock itself. file may be NULL (anonymous); pgoff is in pages.
 */
struct file;
long do_mmap(struct mm *mm, struct file *file, uintptr_t addr, size_t len, int prot,
	     int flags, unsigned long pgoff);
long do_mprotect(struct mm *mm, uintptr_t start, size_t len, int prot);

/*
 * memory.c: moves the Dirty bits of the entries of [start, end) of a shared
 * file area into their pages (set_page_dirty), write-protecting nothing;
 * flushes the TLB. mmap_lock held (read is enough). Returns the pages dirtied.
 */
unsigned long vma_collect_dirty(struct vm_area *vma, uintptr_t start, uintptr_t end);

/* exec.c: the heap and stack of a fresh address space. */
int setup_new_address_space(struct mm *mm);

#endif
