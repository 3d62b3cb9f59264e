/*
 * The area set of an address space (ULK3 ch. 9, "Memory Regions"): the
 * vm_area descriptors of one mm, kept twice, as Linux 2.6 kept them:
 *
 *   - mm->mmap, a list in address order: walks (munmap of a range, fork,
 *     exit, the views) and the neighbours of an area in O(1);
 *   - mm->mm_rb, a red-black tree keyed by address: find_vma in O(log n).
 *
 * The tree is augmented: every area knows the free gap just below it
 * (from the end of the previous area to its own start, less the guard gap
 * when it grows down), and every node holds rb_subtree_gap, the largest
 * such gap in its subtree. get_unmapped_area walks down from the root,
 * skipping subtrees whose largest gap is too small, so finding the highest
 * hole that fits a request is O(log n) however many areas there are.
 *
 * A gap depends on the area's previous neighbour, so a change of one
 * area's end changes the gap of the next one: every change of bounds goes
 * through this file (vma_link, vma_unlink, vma_set_range), which
 * recomputes the values along the paths to the root.
 *
 * Counters: total_vm, stack_vm, data_vm and exec_vm follow Linux's
 * vm_stat_account; linking and unlinking an area, changing its bounds or
 * its flags keep them, so vma_check can compare them with the areas.
 *
 * File areas (vm_file set) hold a reference on their file (get_file at
 * creation and in vm_area_dup, fput in vm_area_free) and sit on the
 * file's mapping->i_mmap list exactly while they are linked into an area
 * set, so page_mkclean (mm/rmap.c) finds every page-table entry that may
 * map a page of the file: fork's copies, both halves of a split, mremap's
 * destination. page_mkclean reads vm_start, vm_end and vm_pgoff under
 * i_mmap_lock without the mmap_lock, so a linked file area's bounds change
 * only under its mapping's i_mmap_lock too.
 *
 * Locking: every function expects mm->mmap_lock held for writing (readers
 * may use find_vma and vma_lookup under the read lock); vma_check takes the
 * read lock itself. i_mmap_lock nests inside mmap_lock (fs.h).
 */
#include <kmm/errno.h>
#include <kmm/fs.h>
#include <kmm/mm.h>
#include <kmm/mman.h>
#include <kmm/printk.h>
#include <kmm/slab.h>
#include <kmm/string.h>

#include "vma_internal.h"

static struct kmem_cache *vm_area_cachep;

int vma_cache_init(void)
{
	vm_area_cachep = kmem_cache_create_boot("vm_area_struct", sizeof(struct vm_area),
						0, SLAB_HWCACHE_ALIGN);
	return vm_area_cachep ? 0 : -KMM_ENOMEM;
}

/* ---- Descriptors ---- */

struct vm_area *vm_area_alloc(struct mm *mm)
{
	struct vm_area *vma = kmem_cache_alloc(vm_area_cachep, GFP_KERNEL | __GFP_ZERO);

	if (!vma)
		return NULL;
	vma->vm_mm = mm;
	INIT_LIST_HEAD(&vma->vm_list);
	INIT_LIST_HEAD(&vma->anon_vma_node);
	INIT_LIST_HEAD(&vma->shared_node);
	return vma;
}

/*
 * A copy of vma, not linked into any set: the same anon_vma (the copy is
 * put on its list) and the same shared object (one more reference).
 */
struct vm_area *vm_area_dup(struct vm_area *vma)
{
	struct vm_area *new = kmem_cache_alloc(vm_area_cachep, GFP_KERNEL);

	if (!new)
		return NULL;
	/*
	 * Field by field, not *new = *vma: the list links of anon_vma_node
	 * change under the anon_vma's lock whenever a neighbour on that list
	 * comes or goes, possibly in another mm on another CPU.
	 */
	new->vm_start = vma->vm_start;
	new->vm_end = vma->vm_end;
	new->vm_mm = vma->vm_mm;
	new->vm_flags = vma->vm_flags;
	new->vm_pgoff = vma->vm_pgoff;
	new->vm_file = vma->vm_file;
	new->vm_shared = vma->vm_shared;
	new->anon_fork_id = vma->anon_fork_id;
	new->vm_rb = (struct rb_node){ 0 };
	new->rb_subtree_gap = 0;
	INIT_LIST_HEAD(&new->vm_list);
	INIT_LIST_HEAD(&new->anon_vma_node);
	INIT_LIST_HEAD(&new->shared_node);
	new->anon_vma = NULL;
	if (vma->anon_vma)
		anon_vma_link(new, vma->anon_vma);
	if (new->vm_shared)
		shared_anon_get(new->vm_shared);
	if (new->vm_file)
		get_file(new->vm_file);
	return new;
}

/* Frees an area that is in no set, dropping its anon_vma, shared object and file. */
void vm_area_free(struct vm_area *vma)
{
	if (!vma)
		return;
	if (vma->anon_vma)
		anon_vma_unlink(vma);
	if (vma->vm_shared)
		shared_anon_put(vma->vm_shared);
	if (vma->vm_file) {
		BUG_ON(!list_empty(&vma->shared_node));
		fput(vma->vm_file);
	}
	kmem_cache_free(vm_area_cachep, vma);
}

/* ---- The file's list of areas (i_mmap) ---- */

static spinlock_t *vma_i_mmap_lock(const struct vm_area *vma)
{
	return vma->vm_file ? &vma->vm_file->f_mapping->i_mmap_lock : NULL;
}

/*
 * The reverse map's locks of an area: its file's i_mmap_lock and its
 * anon_vma's lock. Reclaim (mm/rmap.c) reads vm_start, vm_end, vm_pgoff
 * and vm_flags under one of them without the mmap_lock, so they change
 * under both. i_mmap_lock is taken first.
 */
static void i_mmap_lock_vma(const struct vm_area *vma)
{
	if (vma->vm_file)
		spin_lock(vma_i_mmap_lock(vma));
	if (vma->anon_vma)
		spin_lock(&vma->anon_vma->lock);
}

static void i_mmap_unlock_vma(const struct vm_area *vma)
{
	if (vma->anon_vma)
		spin_unlock(&vma->anon_vma->lock);
	if (vma->vm_file)
		spin_unlock(vma_i_mmap_lock(vma));
}

void vma_rmap_lock(const struct vm_area *vma)
{
	i_mmap_lock_vma(vma);
}

void vma_rmap_unlock(const struct vm_area *vma)
{
	i_mmap_unlock_vma(vma);
}

/* Puts a file area on its mapping's list (caller holds i_mmap_lock). */
static void __vma_file_link(struct vm_area *vma)
{
	list_add_tail(&vma->shared_node, &vma->vm_file->f_mapping->i_mmap);
}

static void vma_file_link(struct vm_area *vma)
{
	if (!vma->vm_file)
		return;
	i_mmap_lock_vma(vma);
	__vma_file_link(vma);
	i_mmap_unlock_vma(vma);
}

static void vma_file_unlink(struct vm_area *vma)
{
	if (!vma->vm_file)
		return;
	i_mmap_lock_vma(vma);
	list_del_init(&vma->shared_node);
	i_mmap_unlock_vma(vma);
}

/* ---- Counters ---- */

void vm_stat_account(struct mm *mm, unsigned long flags, long npages)
{
	mm->total_vm += (unsigned long)npages;
	if ((flags & (VM_EXEC | VM_WRITE | VM_STACK)) == VM_EXEC)
		mm->exec_vm += (unsigned long)npages;
	else if (flags & VM_STACK)
		mm->stack_vm += (unsigned long)npages;
	else if ((flags & (VM_WRITE | VM_SHARED | VM_STACK)) == VM_WRITE)
		mm->data_vm += (unsigned long)npages;
	if (mm->total_vm > mm->hiwater_vm)
		mm->hiwater_vm = mm->total_vm;
}

static long vma_pages(const struct vm_area *vma)
{
	return (long)((vma->vm_end - vma->vm_start) >> PAGE_SHIFT);
}

/* ---- The augmented tree ---- */

static inline struct vm_area *node_vma(struct rb_node *n)
{
	return rb_entry(n, struct vm_area, vm_rb);
}

/* Where the free space below vma ends: a stack keeps its guard gap free. */
static uintptr_t vm_start_gap(const struct vm_area *vma)
{
	uintptr_t start = vma->vm_start;

	if (vma->vm_flags & VM_GROWSDOWN)
		start = start > STACK_GUARD_GAP ? start - STACK_GUARD_GAP : 0;
	return start;
}

struct vm_area *vma_prev(struct mm *mm, struct vm_area *vma)
{
	if (!vma)
		return list_empty(&mm->mmap) ? NULL :
			container_of(mm->mmap.prev, struct vm_area, vm_list);
	if (vma->vm_list.prev == &mm->mmap)
		return NULL;
	return container_of(vma->vm_list.prev, struct vm_area, vm_list);
}

struct vm_area *vma_next(struct mm *mm, struct vm_area *vma)
{
	if (!vma)
		return list_empty(&mm->mmap) ? NULL :
			container_of(mm->mmap.next, struct vm_area, vm_list);
	if (vma->vm_list.next == &mm->mmap)
		return NULL;
	return container_of(vma->vm_list.next, struct vm_area, vm_list);
}

static uintptr_t prev_end(const struct vm_area *vma)
{
	struct vm_area *prev = vma_prev(vma->vm_mm, (struct vm_area *)vma);

	return prev ? prev->vm_end : 0;
}

/* The free gap just below vma, in bytes. */
static uintptr_t vma_gap(const struct vm_area *vma)
{
	uintptr_t lo = prev_end(vma), hi = vm_start_gap(vma);

	return hi > lo ? hi - lo : 0;
}

static uintptr_t subtree_gap_of(struct rb_node *n)
{
	return n ? node_vma(n)->rb_subtree_gap : 0;
}

static bool gap_recompute(struct rb_node *n)
{
	struct vm_area *vma = node_vma(n);
	uintptr_t gap = vma_gap(vma);

	gap = MAX(gap, subtree_gap_of(n->left));
	gap = MAX(gap, subtree_gap_of(n->right));
	if (gap == vma->rb_subtree_gap)
		return false;
	vma->rb_subtree_gap = gap;
	return true;
}

static const struct rb_augment gap_augment = { .recompute = gap_recompute };

/* ---- Lookup ---- */

struct vm_area *find_vma(struct mm *mm, uintptr_t addr)
{
	struct rb_node *n = mm->mm_rb.node;
	struct vm_area *found = NULL;

	while (n) {
		struct vm_area *vma = node_vma(n);

		if (vma->vm_end > addr) {
			found = vma;
			if (vma->vm_start <= addr)
				break;
			n = n->left;
		} else {
			n = n->right;
		}
	}
	return found;
}

struct vm_area *vma_lookup(struct mm *mm, uintptr_t addr)
{
	struct vm_area *vma = find_vma(mm, addr);

	return vma && vma->vm_start <= addr ? vma : NULL;
}

/* ---- Insertion and removal ---- */

/*
 * Links vma into the list and the tree without touching the counters
 * (a split moves pages between areas; it does not add any).
 */
static int __vma_link(struct mm *mm, struct vm_area *vma)
{
	struct rb_node **link = &mm->mm_rb.node, *parent = NULL;
	struct vm_area *next = NULL;

	if (vma->vm_start >= vma->vm_end || !IS_ALIGNED(vma->vm_start, PAGE_SIZE) ||
	    !IS_ALIGNED(vma->vm_end, PAGE_SIZE) || vma->vm_end > TASK_SIZE)
		return -KMM_EINVAL;
	while (*link) {
		struct vm_area *cur = node_vma(*link);

		parent = *link;
		if (vma->vm_end <= cur->vm_start) {
			next = cur;
			link = &parent->left;
		} else if (vma->vm_start >= cur->vm_end) {
			link = &parent->right;
		} else {
			return -KMM_EEXIST;
		}
	}
	/* The list first: the gap of vma and of its successor read it. */
	if (next)
		list_add_tail(&vma->vm_list, &next->vm_list);
	else
		list_add_tail(&vma->vm_list, &mm->mmap);
	vma->vm_mm = mm;
	vma->rb_subtree_gap = vma_gap(vma);
	rb_link_node(&vma->vm_rb, parent, link);
	/*
	 * vma is a leaf and its successor is the nearest ancestor it hangs
	 * to the left of, so the propagation in rb_insert_color reaches the
	 * successor's changed gap too.
	 */
	rb_insert_color(&vma->vm_rb, &mm->mm_rb, &gap_augment);
	mm->map_count++;
	return 0;
}

static void __vma_unlink(struct mm *mm, struct vm_area *vma)
{
	struct vm_area *next = vma_next(mm, vma);

	list_del(&vma->vm_list);
	INIT_LIST_HEAD(&vma->vm_list);
	rb_erase(&vma->vm_rb, &mm->mm_rb, &gap_augment);
	/*
	 * rb_erase recomputes from the lowest changed node up, which passes
	 * the successor whether it took vma's place or was an ancestor; one
	 * more walk keeps this independent of that detail.
	 */
	if (next)
		rb_propagate(&next->vm_rb, &gap_augment);
	mm->map_count--;
}

int vma_link(struct mm *mm, struct vm_area *vma)
{
	int err;

	if (mm->map_count >= DEFAULT_MAX_MAP_COUNT)
		return -KMM_ENOMEM;
	err = __vma_link(mm, vma);
	if (!err) {
		vm_stat_account(mm, vma->vm_flags, vma_pages(vma));
		vma_file_link(vma);
	}
	return err;
}

void vma_unlink(struct mm *mm, struct vm_area *vma)
{
	vm_stat_account(mm, vma->vm_flags, -vma_pages(vma));
	vma_file_unlink(vma);
	__vma_unlink(mm, vma);
}

void vma_set_range(struct mm *mm, struct vm_area *vma, uintptr_t start, uintptr_t end)
{
	struct vm_area *next = vma_next(mm, vma);
	long delta = (long)((end - start) >> PAGE_SHIFT) - vma_pages(vma);

	BUG_ON(start >= end || !IS_ALIGNED(start, PAGE_SIZE) || !IS_ALIGNED(end, PAGE_SIZE));
	i_mmap_lock_vma(vma);
	if (start != vma->vm_start) {
		if (start < vma->vm_start)
			vma->vm_pgoff -= (vma->vm_start - start) >> PAGE_SHIFT;
		else
			vma->vm_pgoff += (start - vma->vm_start) >> PAGE_SHIFT;
		vma->vm_start = start;
		rb_propagate(&vma->vm_rb, &gap_augment);
	}
	if (end != vma->vm_end) {
		vma->vm_end = end;
		if (next)
			rb_propagate(&next->vm_rb, &gap_augment);
	}
	i_mmap_unlock_vma(vma);
	vm_stat_account(mm, vma->vm_flags, delta);
}

void vma_set_flags(struct mm *mm, struct vm_area *vma, unsigned long vm_flags)
{
	bool guard_changed = (vm_flags ^ vma->vm_flags) & VM_GROWSDOWN;

	vm_stat_account(mm, vma->vm_flags, -vma_pages(vma));
	i_mmap_lock_vma(vma);
	vma->vm_flags = vm_flags;
	i_mmap_unlock_vma(vma);
	vm_stat_account(mm, vma->vm_flags, vma_pages(vma));
	if (guard_changed)
		rb_propagate(&vma->vm_rb, &gap_augment);
}

/* ---- Split and merge ---- */

int split_vma(struct mm *mm, struct vm_area *vma, uintptr_t addr, bool new_below)
{
	if (mm->map_count >= DEFAULT_MAX_MAP_COUNT)
		return -KMM_ENOMEM;
	return __split_vma(mm, vma, addr, new_below);
}

int __split_vma(struct mm *mm, struct vm_area *vma, uintptr_t addr, bool new_below)
{
	struct vm_area *new;
	unsigned long off;
	int err;

	if (addr <= vma->vm_start || addr >= vma->vm_end || !IS_ALIGNED(addr, PAGE_SIZE))
		return -KMM_EINVAL;
	new = vm_area_dup(vma);
	if (!new)
		return -KMM_ENOMEM;
	off = (addr - vma->vm_start) >> PAGE_SHIFT;
	/*
	 * new goes on the file's list before vma shrinks, so page_mkclean
	 * sees every entry of the range at every moment.
	 */
	i_mmap_lock_vma(vma);
	if (vma->vm_file)
		__vma_file_link(new);
	/* Shrink vma before linking new, so the two never overlap in the tree. */
	if (new_below) {
		new->vm_end = addr;
		vma->vm_start = addr;
		vma->vm_pgoff += off;
		rb_propagate(&vma->vm_rb, &gap_augment);
	} else {
		struct vm_area *next = vma_next(mm, vma);

		new->vm_start = addr;
		new->vm_pgoff += off;
		vma->vm_end = addr;
		if (next)
			rb_propagate(&next->vm_rb, &gap_augment);
	}
	i_mmap_unlock_vma(vma);
	err = __vma_link(mm, new);
	BUG_ON(err);   /* the range was vma's own */
	return 0;
}

static bool same_object_contiguous(const struct vm_area *a, const struct vm_area *b)
{
	return a->vm_pgoff + (unsigned long)vma_pages(a) == b->vm_pgoff;
}

bool vma_can_merge(const struct vm_area *a, const struct vm_area *b)
{
	return __vma_can_merge(a, b, NULL);
}

/*
 * fresh, if not NULL, is a or b: an area whose range Linux merges as a new
 * range (mremap's growth in place, the destination of a move), so its own
 * fork-inherited anchor does not stop the merge (only the other side's).
 */
bool __vma_can_merge(const struct vm_area *a, const struct vm_area *b,
		     const struct vm_area *fresh)
{
	if (!a || !b || a->vm_end != b->vm_start || a->vm_flags != b->vm_flags)
		return false;
	if (a->vm_file != b->vm_file || a->vm_shared != b->vm_shared)
		return false;
	/* Pages are found by offset (file, shared object, anon rmap): keep them in line. */
	if (!same_object_contiguous(a, b))
		return false;
	/*
	 * Linux's is_mergeable_anon_vma: the same anchor, or none on one side
	 * provided the other's was not inherited by fork.
	 */
	if (a->anon_vma && b->anon_vma)
		return a->anon_vma == b->anon_vma && a->anon_fork_id == b->anon_fork_id;
	if (a->anon_vma)
		return a == fresh || !a->anon_fork_id;
	if (b->anon_vma)
		return b == fresh || !b->anon_fork_id;
	return true;
}

/* Makes prev cover next too and frees next (prev just below next). */
static void merge_pair(struct mm *mm, struct vm_area *prev, struct vm_area *next)
{
	uintptr_t end = next->vm_end;

	if (!prev->anon_vma && next->anon_vma) {
		anon_vma_link(prev, next->anon_vma);
		prev->anon_fork_id = next->anon_fork_id;
	}
	__vma_unlink(mm, next);
	/* prev takes over next's entries before next leaves the file's list. */
	i_mmap_lock_vma(prev);
	prev->vm_end = end;
	if (next->vm_file)
		list_del_init(&next->shared_node);
	i_mmap_unlock_vma(prev);
	{
		struct vm_area *after = vma_next(mm, prev);

		if (after)
			rb_propagate(&after->vm_rb, &gap_augment);
	}
	vm_area_free(next);
}

struct vm_area *vma_merge_neighbours(struct mm *mm, struct vm_area *vma)
{
	return __vma_merge_neighbours(mm, vma, false, true);
}

struct vm_area *__vma_merge_neighbours(struct mm *mm, struct vm_area *vma, bool fresh,
				       bool with_prev)
{
	struct vm_area *prev = vma_prev(mm, vma), *next;
	struct vm_area *f = fresh ? vma : NULL;

	if (with_prev && __vma_can_merge(prev, vma, f)) {
		merge_pair(mm, prev, vma);
		vma = prev;
		f = NULL;   /* the survivor is an old area now */
	}
	next = vma_next(mm, vma);
	if (__vma_can_merge(vma, next, f))
		merge_pair(mm, vma, next);
	return vma;
}

/* ---- Free ranges ---- */

/* The highest a with [a, a + len) inside vma's gap and inside [low, high). */
static bool fit_in_gap(const struct vm_area *vma, size_t len, uintptr_t low,
		       uintptr_t high, uintptr_t *out)
{
	uintptr_t lo = MAX(prev_end(vma), low);
	uintptr_t hi = MIN(vm_start_gap(vma), high);

	if (hi < lo || hi - lo < len)
		return false;
	*out = hi - len;
	return true;
}

/*
 * The highest fitting gap in the subtree under n: right subtree first
 * (higher addresses), then n's own gap, then the left subtree; a subtree
 * whose largest gap is too small, or that lies wholly outside
 * [low, high), is not entered.
 */
static bool topdown_search(struct rb_node *n, size_t len, uintptr_t low,
			   uintptr_t high, uintptr_t *out)
{
	struct vm_area *vma;

	if (!n || node_vma(n)->rb_subtree_gap < len)
		return false;
	vma = node_vma(n);
	/* Every gap on the right starts at or above vma->vm_end. */
	if (vma->vm_end < high && high - vma->vm_end >= len &&
	    topdown_search(n->right, len, low, high, out))
		return true;
	if (fit_in_gap(vma, len, low, high, out))
		return true;
	/* Every gap on the left ends at or below vma->vm_start. */
	if (vma->vm_start > low && vma->vm_start - low >= len)
		return topdown_search(n->left, len, low, high, out);
	return false;
}

static bool unmapped_area_topdown(struct mm *mm, size_t len, uintptr_t low,
				  uintptr_t high, uintptr_t *out)
{
	struct vm_area *last = vma_prev(mm, NULL);
	uintptr_t top_lo = MAX(last ? last->vm_end : 0, low);

	if (high <= low || high - low < len)
		return false;
	/* Above the highest area, nothing but the ceiling limits the gap. */
	if (high > top_lo && high - top_lo >= len) {
		*out = high - len;
		return true;
	}
	return topdown_search(mm->mm_rb.node, len, low, high, out);
}

long get_unmapped_area(struct mm *mm, uintptr_t hint, size_t len, unsigned long flags)
{
	uintptr_t addr, high;

	if (len == 0 || len > TASK_SIZE - MMAP_MIN_ADDR)
		return -KMM_ENOMEM;
	len = ALIGN_UP(len, PAGE_SIZE);
	if (flags & KMM_MAP_FIXED) {
		/* Linux's order: out of range first, then misaligned. */
		if (hint > TASK_SIZE - len)
			return -KMM_ENOMEM;
		if (!IS_ALIGNED(hint, PAGE_SIZE))
			return -KMM_EINVAL;
		return (long)hint;
	}
	if (hint) {
		struct vm_area *next, *prev;

		addr = ALIGN_UP(hint, PAGE_SIZE);
		next = find_vma(mm, addr);
		prev = next ? vma_prev(mm, next) : vma_prev(mm, NULL);
		if (addr >= MMAP_MIN_ADDR && addr <= TASK_SIZE - len &&
		    (!next || addr + len <= vm_start_gap(next)) &&
		    (!prev || addr >= prev->vm_end))
			return (long)addr;
	}
	high = mm->mmap_base && mm->mmap_base <= TASK_SIZE ? mm->mmap_base : TASK_SIZE;
	if (unmapped_area_topdown(mm, len, MMAP_MIN_ADDR, high, &addr))
		return (long)addr;
	/*
	 * Nothing below mmap_base: Linux then searches bottom-up from a third
	 * of the space; kmm searches the whole space top-down, which finds a
	 * hole whenever one exists.
	 */
	if (high != TASK_SIZE &&
	    unmapped_area_topdown(mm, len, MMAP_MIN_ADDR, TASK_SIZE, &addr))
		return (long)addr;
	return -KMM_ENOMEM;
}

/* ---- Invariant checker ---- */

/* Returns the subtree's largest gap after checking every node's value. */
static uintptr_t check_gaps(struct mm *mm, struct rb_node *n)
{
	uintptr_t gap, left, right;
	struct vm_area *vma;

	if (!n)
		return 0;
	vma = node_vma(n);
	/* Into locals first: MAX evaluates its arguments twice. */
	left = check_gaps(mm, n->left);
	right = check_gaps(mm, n->right);
	gap = MAX(vma_gap(vma), MAX(left, right));
	if (gap != vma->rb_subtree_gap)
		panic("mm %p: area %#lx-%#lx holds rb_subtree_gap %#lx, its subtree has %#lx",
		      (void *)mm, (unsigned long)vma->vm_start, (unsigned long)vma->vm_end,
		      (unsigned long)vma->rb_subtree_gap, (unsigned long)gap);
	return gap;
}

/*
 * Faults (under the read lock, like this checker) may give an area its
 * anon_vma at any moment: read the pointer once, atomically, and walk the
 * list under its lock.
 */
static bool on_anon_list(struct anon_vma *av, struct vm_area *vma)
{
	struct list_head *pos;
	bool found = false;

	spin_lock(&av->lock);
	for (pos = av->head.next; pos != &av->head; pos = pos->next)
		if (pos == &vma->anon_vma_node) {
			found = true;
			break;
		}
	spin_unlock(&av->lock);
	return found;
}

static bool on_i_mmap(struct vm_area *vma)
{
	struct address_space *mapping = vma->vm_file->f_mapping;
	struct list_head *pos;
	bool found = false;

	spin_lock(&mapping->i_mmap_lock);
	for (pos = mapping->i_mmap.next; pos != &mapping->i_mmap; pos = pos->next)
		if (pos == &vma->shared_node) {
			found = true;
			break;
		}
	spin_unlock(&mapping->i_mmap_lock);
	return found;
}

int vma_check(struct mm *mm)
{
	unsigned long total, stack, data, exec, count = 0;
	struct rb_node *n;
	struct vm_area *vma, *prev = NULL;
	struct anon_vma *av;
	struct mm shadow;

	read_lock(&mm->mmap_lock);
	if (rb_check(&mm->mm_rb) < 0)
		panic("mm %p: the area tree breaks a red-black rule", (void *)mm);
	n = rb_first(&mm->mm_rb);
	list_for_each_entry(vma, &mm->mmap, vm_list) {
		if (vma->vm_mm != mm)
			panic("mm %p: area %#lx-%#lx belongs to mm %p", (void *)mm,
			      (unsigned long)vma->vm_start, (unsigned long)vma->vm_end,
			      (void *)vma->vm_mm);
		if (vma->vm_start >= vma->vm_end || !IS_ALIGNED(vma->vm_start, PAGE_SIZE) ||
		    !IS_ALIGNED(vma->vm_end, PAGE_SIZE) || vma->vm_end > TASK_SIZE)
			panic("mm %p: bad area %#lx-%#lx", (void *)mm,
			      (unsigned long)vma->vm_start, (unsigned long)vma->vm_end);
		if (prev && prev->vm_end > vma->vm_start)
			panic("mm %p: areas %#lx-%#lx and %#lx-%#lx overlap or are out of order",
			      (void *)mm, (unsigned long)prev->vm_start,
			      (unsigned long)prev->vm_end, (unsigned long)vma->vm_start,
			      (unsigned long)vma->vm_end);
		if (n != &vma->vm_rb)
			panic("mm %p: the tree and the list disagree at area %#lx-%#lx",
			      (void *)mm, (unsigned long)vma->vm_start, (unsigned long)vma->vm_end);
		av = __atomic_load_n(&vma->anon_vma, __ATOMIC_ACQUIRE);
		if (av && !on_anon_list(av, vma))
			panic("mm %p: area %#lx-%#lx is not on the list of its anon_vma",
			      (void *)mm, (unsigned long)vma->vm_start, (unsigned long)vma->vm_end);
		if (vma->vm_file && (vma->vm_shared || !on_i_mmap(vma)))
			panic("mm %p: file area %#lx-%#lx is not on its file's i_mmap list "
			      "or also maps a shared object", (void *)mm,
			      (unsigned long)vma->vm_start, (unsigned long)vma->vm_end);
		if (!vma->vm_file && !list_empty(&vma->shared_node))
			panic("mm %p: anonymous area %#lx-%#lx is on a file's i_mmap list",
			      (void *)mm, (unsigned long)vma->vm_start, (unsigned long)vma->vm_end);
		if ((vma->vm_flags & VM_SHARED) && av)
			panic("mm %p: shared area %#lx-%#lx has an anon_vma", (void *)mm,
			      (unsigned long)vma->vm_start, (unsigned long)vma->vm_end);
		n = rb_next(n);
		count++;
		prev = vma;
	}
	if (n)
		panic("mm %p: the tree holds more areas than the list", (void *)mm);
	if (count != mm->map_count)
		panic("mm %p: map_count %lu, %lu areas", (void *)mm, mm->map_count, count);
	check_gaps(mm, mm->mm_rb.node);

	/* The counters, recomputed the way vm_stat_account keeps them. */
	shadow.total_vm = shadow.stack_vm = shadow.data_vm = shadow.exec_vm = 0;
	shadow.hiwater_vm = 0;
	list_for_each_entry(vma, &mm->mmap, vm_list)
		vm_stat_account(&shadow, vma->vm_flags, vma_pages(vma));
	total = shadow.total_vm;
	stack = shadow.stack_vm;
	data = shadow.data_vm;
	exec = shadow.exec_vm;
	if (total != mm->total_vm || stack != mm->stack_vm || data != mm->data_vm ||
	    exec != mm->exec_vm)
		panic("mm %p: counters total/stack/data/exec %lu/%lu/%lu/%lu, areas say "
		      "%lu/%lu/%lu/%lu", (void *)mm, mm->total_vm, mm->stack_vm,
		      mm->data_vm, mm->exec_vm, total, stack, data, exec);
	read_unlock(&mm->mmap_lock);
	return 0;
}
