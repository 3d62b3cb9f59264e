/*
 * Tasks and the lifetime of address spaces (ULK3 ch. 3 "Processes" and
 * ch. 9 "The Memory Descriptor"): the task list, pids, spawn, fork, threads
 * that share an mm, exit; mm_alloc/mmget/mmput; the anon_vma anchors.
 *
 * An mm has two counts, as in Linux: mm_users, the tasks using it (threads
 * share one), and mm_count, the references to the descriptor itself. The
 * last user tears the address space down (exit_mmap, the page tables, the
 * arch's per-mm state); the last reference frees the descriptor.
 *
 * fork copies the parent's area set area by area (vm_area_dup keeps the
 * anon_vma, putting the child's area on the same list, so reclaim finds
 * every mapping of a COW-shared page; shared anonymous areas take one more
 * reference on their object) and lets copy_page_range share the frames
 * copy-on-write. Any failure unwinds through the normal exit path: the
 * half-built child mm is released like any other.
 *
 * A task that exits stays on the task list (a zombie, state TASK_DEAD, its
 * mm gone) until task_release frees the descriptor and its pid. Pids start
 * at 1, and the lowest free one is taken, so a released pid is reused.
 *
 * Locking: tasklist_lock (a sleeping lock) protects the task list and pid
 * choice; it is taken before any mm's mmap_lock and never inside one.
 * anon_vma->lock protects an anon_vma's list of areas.
 */
#include <kmm/errno.h>
#include <kmm/fs.h>
#include <kmm/mm.h>
#include <kmm/mman.h>
#include <kmm/mmzone.h>
#include <kmm/printk.h>
#include <kmm/slab.h>
#include <kmm/string.h>

#include "vma_internal.h"

static struct kmem_cache *mm_cachep, *task_cachep, *anon_vma_cachep;

/* Identities of the anon_vmas Linux would give forked areas (see vm_area.anon_fork_id). */
static atomic_ulong anon_fork_ids;

static mutex_t tasklist_lock;
static struct list_head task_list;   /* every task, live or dead, by pid */
static unsigned int nr_tasks;

int mm_task_init(void)
{
	int err;

	mutex_init(&tasklist_lock);
	INIT_LIST_HEAD(&task_list);
	nr_tasks = 0;
	/* Static descriptors: booting takes no frame (see kmem_cache_create_boot). */
	mm_cachep = kmem_cache_create_boot("mm_struct", sizeof(struct mm), 0,
					   SLAB_HWCACHE_ALIGN);
	task_cachep = kmem_cache_create_boot("task_struct", sizeof(struct task), 0,
					     SLAB_HWCACHE_ALIGN);
	anon_vma_cachep = kmem_cache_create_boot("anon_vma", sizeof(struct anon_vma), 0, 0);
	if (!mm_cachep || !task_cachep || !anon_vma_cachep)
		return -KMM_ENOMEM;
	err = vma_cache_init();
	if (err)
		return err;
	return memory_init();
}

/* ---- anon_vma ---- */

struct anon_vma *anon_vma_alloc(void)
{
	struct anon_vma *av = kmem_cache_alloc(anon_vma_cachep, GFP_KERNEL);

	if (!av)
		return NULL;
	spin_lock_init(&av->lock);
	INIT_LIST_HEAD(&av->head);
	atomic_init(&av->refcount, 1);
	return av;
}

void anon_vma_get(struct anon_vma *av)
{
	atomic_fetch_add_explicit(&av->refcount, 1, memory_order_relaxed);
}

void anon_vma_put(struct anon_vma *av)
{
	int old = atomic_fetch_sub_explicit(&av->refcount, 1, memory_order_acq_rel);

	BUG_ON(old <= 0);
	if (old == 1) {
		BUG_ON(!list_empty(&av->head));
		kmem_cache_free(anon_vma_cachep, av);
	}
}

void anon_vma_link(struct vm_area *vma, struct anon_vma *av)
{
	anon_vma_get(av);
	spin_lock(&av->lock);
	list_add_tail(&vma->anon_vma_node, &av->head);
	spin_unlock(&av->lock);
	__atomic_store_n(&vma->anon_vma, av, __ATOMIC_RELEASE);
}

void anon_vma_unlink(struct vm_area *vma)
{
	struct anon_vma *av = vma->anon_vma;

	spin_lock(&av->lock);
	list_del_init(&vma->anon_vma_node);
	spin_unlock(&av->lock);
	vma->anon_vma = NULL;
	anon_vma_put(av);
}

/*
 * The first private page of an area needs its anchor. Faults hold
 * mmap_lock only for reading, so two threads may get here at once for one
 * area: page_table_lock decides which anchor is published. The new anchor
 * is private until then, so its list needs no lock of its own.
 */
int anon_vma_prepare(struct vm_area *vma)
{
	struct anon_vma *av;
	struct mm *mm = vma->vm_mm;

	if (__atomic_load_n(&vma->anon_vma, __ATOMIC_ACQUIRE))
		return 0;
	av = anon_vma_alloc();
	if (!av)
		return -KMM_ENOMEM;
	spin_lock(&mm->page_table_lock);
	if (!vma->anon_vma) {
		/* The area's reference replaces the allocation's. */
		list_add_tail(&vma->anon_vma_node, &av->head);
		__atomic_store_n(&vma->anon_vma, av, __ATOMIC_RELEASE);
		av = NULL;
	}
	spin_unlock(&mm->page_table_lock);
	if (av)
		kmem_cache_free(anon_vma_cachep, av);
	return 0;
}

/* ---- Memory descriptors ---- */

struct mm *mm_alloc(void)
{
	struct mm *mm = kmem_cache_alloc(mm_cachep, GFP_KERNEL | __GFP_ZERO);

	if (!mm)
		return NULL;
	mm->mm_rb = RB_ROOT;
	INIT_LIST_HEAD(&mm->mmap);
	rwlock_init(&mm->mmap_lock);
	spin_lock_init(&mm->page_table_lock);
	atomic_init(&mm->pgtables_bytes, 0);
	atomic_init(&mm->mm_users, 1);
	atomic_init(&mm->mm_count, 1);
	for (int i = 0; i < NR_MM_COUNTERS; i++)
		atomic_init(&mm->rss[i], 0);
	atomic_init(&mm->context.cpumask, 0);
	atomic_init(&mm->context.tlb_gen, 0);
	mm->stack_limit = DEFAULT_STACK_LIMIT;
	if (pgd_alloc(mm)) {
		kmem_cache_free(mm_cachep, mm);
		return NULL;
	}
	return mm;
}

void mmget(struct mm *mm)
{
	atomic_fetch_add_explicit(&mm->mm_users, 1, memory_order_relaxed);
}

static void mmdrop(struct mm *mm)
{
	if (atomic_fetch_sub_explicit(&mm->mm_count, 1, memory_order_acq_rel) == 1)
		kmem_cache_free(mm_cachep, mm);
}

void mmput(struct mm *mm)
{
	if (atomic_fetch_sub_explicit(&mm->mm_users, 1, memory_order_acq_rel) != 1)
		return;
	exit_mmap(mm);
	arch_mm_release(mm);
	pgd_free(mm);
	mmdrop(mm);
}

/* ---- The task list ---- */

/*
 * A descriptor with the lowest free pid, on the list in pid order.
 * The caller fills it in; it is visible to task_find at once, so mm is
 * set before it is linked.
 */
static struct task *task_create(const char *name, struct mm *mm, struct task *parent)
{
	struct task *t = kmem_cache_alloc(task_cachep, GFP_KERNEL | __GFP_ZERO);
	struct list_head *pos;
	int pid = 1;

	if (!t)
		return NULL;
	kmm_strlcpy(t->comm, name ? name : "", sizeof(t->comm));
	t->state = TASK_RUNNING;
	t->mm = mm;
	t->parent = parent;
	mutex_lock(&tasklist_lock);
	for (pos = task_list.next; pos != &task_list; pos = pos->next) {
		struct task *o = list_entry(pos, struct task, tasks);

		if (o->pid != pid)
			break;
		pid++;
	}
	t->pid = pid;
	list_add_tail(&t->tasks, pos);   /* before the first larger pid */
	nr_tasks++;
	mutex_unlock(&tasklist_lock);
	return t;
}

struct task *task_find(int pid)
{
	struct task *t, *found = NULL;

	mutex_lock(&tasklist_lock);
	list_for_each_entry(t, &task_list, tasks) {
		if (t->pid == pid) {
			found = t;
			break;
		}
		if (t->pid > pid)
			break;
	}
	mutex_unlock(&tasklist_lock);
	return found;
}

void task_for_each(void (*fn)(struct task *t, void *arg), void *arg)
{
	struct task *t;

	mutex_lock(&tasklist_lock);
	list_for_each_entry(t, &task_list, tasks)
		fn(t, arg);
	mutex_unlock(&tasklist_lock);
}

unsigned int task_count(void)
{
	unsigned int n;

	mutex_lock(&tasklist_lock);
	n = nr_tasks;
	mutex_unlock(&tasklist_lock);
	return n;
}

/* ---- spawn, fork, threads ---- */

int task_spawn(const char *name, struct task **out)
{
	struct mm *mm = mm_alloc();
	struct task *t;
	int err;

	if (!mm)
		return -KMM_ENOMEM;
	err = setup_new_address_space(mm);
	if (err) {
		mmput(mm);
		return err;
	}
	t = task_create(name, mm, NULL);
	if (!t) {
		mmput(mm);
		return -KMM_ENOMEM;
	}
	err = files_alloc(t);
	if (err) {
		task_release(t);
		return err;
	}
	*out = t;
	return 0;
}

/* Copies oldmm's areas and page tables into mm (Linux's dup_mmap). */
static int dup_mmap(struct mm *mm, struct mm *oldmm)
{
	struct vm_area *vma;
	int err = 0;

	write_lock(&oldmm->mmap_lock);
	mm->mmap_base = oldmm->mmap_base;
	mm->start_code = oldmm->start_code;
	mm->end_code = oldmm->end_code;
	mm->start_data = oldmm->start_data;
	mm->end_data = oldmm->end_data;
	mm->start_brk = oldmm->start_brk;
	mm->brk = oldmm->brk;
	mm->start_stack = oldmm->start_stack;
	mm->stack_limit = oldmm->stack_limit;
	mm->hiwater_rss = get_mm_rss(oldmm);
	mm->hiwater_vm = oldmm->total_vm;
	list_for_each_entry(vma, &oldmm->mmap, vm_list) {
		struct vm_area *new;

		if (vma->vm_flags & VM_DONTCOPY)
			continue;
		new = vm_area_dup(vma);
		if (!new) {
			err = -KMM_ENOMEM;
			break;
		}
		new->vm_mm = mm;
		if (new->anon_vma)
			new->anon_fork_id = atomic_fetch_add_explicit(&anon_fork_ids, 1,
								      memory_order_relaxed) + 1;
		/* The child is private to this thread: no lock needed on its set. */
		err = vma_link(mm, new);
		if (err) {
			vm_area_free(new);
			break;
		}
		err = copy_page_range(new, vma);
		if (err)
			break;
	}
	/* The parent's private pages are now write-protected: forget writable TLB entries. */
	arch_flush_tlb_mm(oldmm);
	write_unlock(&oldmm->mmap_lock);
	return err;
}

int task_fork(struct task *parent, struct task **child)
{
	struct mm *mm;
	struct task *t;
	int err;

	if (!parent || parent->state != TASK_RUNNING || !parent->mm)
		return -KMM_ESRCH;
	mm = mm_alloc();
	if (!mm)
		return -KMM_ENOMEM;
	err = dup_mmap(mm, parent->mm);
	if (err) {
		mmput(mm);   /* tears down whatever was copied */
		return err;
	}
	t = task_create(parent->comm, mm, parent);
	if (!t) {
		mmput(mm);
		return -KMM_ENOMEM;
	}
	t->oom_score_adj = parent->oom_score_adj;
	/* The child's descriptors share the parent's open files (f_count). */
	err = files_dup(t, parent);
	if (err) {
		task_release(t);
		return err;
	}
	*child = t;
	return 0;
}

int task_clone_thread(struct task *parent, struct task **thread)
{
	struct task *t;

	if (!parent || parent->state != TASK_RUNNING || !parent->mm)
		return -KMM_ESRCH;
	mmget(parent->mm);
	t = task_create(parent->comm, parent->mm, parent);
	if (!t) {
		mmput(parent->mm);
		return -KMM_ENOMEM;
	}
	files_share(t, parent);
	*thread = t;
	return 0;
}

/* ---- exit ---- */

void task_exit(struct task *t, int code)
{
	struct mm *mm;

	if (!t || t->state == TASK_DEAD)
		return;
	mm = t->mm;
	t->exit_code = code;
	__atomic_store_n(&t->state, TASK_DEAD, __ATOMIC_RELEASE);
	__atomic_store_n(&t->mm, NULL, __ATOMIC_RELEASE);
	files_exit(t);
	if (mm)
		mmput(mm);
}

void task_kill(struct task *t, int sig, int code, uintptr_t addr)
{
	if (!t || t->state == TASK_DEAD)
		return;
	t->exit_signal = sig;
	t->fault_code = code;
	t->fault_addr = addr;
	/* The status a shell reports for a task ended by a signal. */
	task_exit(t, 128 + sig);
}

/*
 * The children of a released task are orphans: there is no init to adopt
 * them, so their parent becomes none (PPid 0). Without this their parent
 * pointer would name a freed descriptor, later perhaps another task's.
 * Called with tasklist_lock held.
 */
static void reparent_children(struct task *gone)
{
	struct task *o;

	list_for_each_entry(o, &task_list, tasks)
		if (o->parent == gone)
			o->parent = NULL;
}

void task_release(struct task *t)
{
	if (!t)
		return;
	if (t->state != TASK_DEAD)
		task_exit(t, 0);
	mutex_lock(&tasklist_lock);
	list_del(&t->tasks);
	nr_tasks--;
	reparent_children(t);
	mutex_unlock(&tasklist_lock);
	kmem_cache_free(task_cachep, t);
}

int task_parent_pid(const struct task *t)
{
	int pid;

	mutex_lock(&tasklist_lock);
	pid = t->parent ? t->parent->pid : 0;
	mutex_unlock(&tasklist_lock);
	return pid;
}

/* ---- Invariant checker ---- */

struct check_state {
	unsigned int live;
};

static void check_one(struct task *t, void *arg)
{
	struct check_state *st = arg;
	struct mm *mm = __atomic_load_n(&t->mm, __ATOMIC_ACQUIRE);

	if (t->state == TASK_DEAD) {
		if (mm)
			panic("task %d is dead and still holds an mm", t->pid);
		return;
	}
	if (!mm)
		panic("task %d runs without an mm", t->pid);
	{
		/* Every user of an mm is a live task using it (no other holder exists). */
		struct task *o;
		int users = 0;

		list_for_each_entry(o, &task_list, tasks)
			if (o->state != TASK_DEAD && __atomic_load_n(&o->mm, __ATOMIC_ACQUIRE) == mm)
				users++;
		if (atomic_load(&mm->mm_users) != users)
			panic("task %d: its mm has %d users, %d live tasks use it", t->pid,
			      atomic_load(&mm->mm_users), users);
	}
	st->live++;
	vma_check(mm);
	mm_check(mm);
}

int task_check_all(void)
{
	struct check_state st = { 0 };
	struct zone *z;
	long anon = 0, tables = 0;

	task_for_each(check_one, &st);
	if (st.live)
		return 0;
	/* No address space is left: nothing may be mapped, no table held. */
	for_each_zone(z) {
		anon += (long)zone_page_state(z, NR_ANON_MAPPED);
		tables += (long)zone_page_state(z, NR_PAGETABLE);
	}
	if (anon || tables)
		panic("no task alive, yet %ld anonymous pages mapped and %ld page-table "
		      "pages held", anon, tables);
	return 0;
}
