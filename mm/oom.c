/*
 * The out-of-memory killer (ULK3 ch. 17 "The Out of Memory Killer"): when
 * reclaim can free nothing and a page fault still needs a frame, one task
 * is killed so that the machine goes on. The victim is the task with the
 * largest badness, as Linux computes it since 2.6.36: the pages it would
 * give back (resident pages, swap entries and page-table frames), plus
 * oom_score_adj thousandths of all memory (RAM and swap); -1000 is never
 * chosen. Every task sharing the victim's address space dies with it (the
 * memory goes only with its last user), and the kill is logged in Linux's
 * words ("Out of memory: Killed process ...").
 *
 * Where it runs. Not inside the page allocator: the caller of an
 * allocation may hold locks the victim's teardown needs (its mmap_lock
 * during a fault or a fork, a page lock). A fault that could not get a
 * frame returns VM_FAULT_OOM and do_page_fault, with every lock dropped,
 * calls pagefault_out_of_memory (Linux's path of the same name). Other
 * allocations fail with -ENOMEM. The killer acts only when memory is
 * really exhausted, every zone below its high watermark after reclaim:
 * a failure injected for a test (or an order reclaim cannot assemble) is
 * not a reason to kill anyone, and the faulting task gets SIGBUS as before.
 *
 * A victim is torn down at once (task_kill), which needs its mmap_lock: a
 * task whose lock is held (it is faulting or forking on another CPU) is
 * passed over for the next largest. A task driven by another host thread
 * in SMP mode that is between two accesses is not detected; the tests
 * kill in deterministic mode, where the killer's thread is the machine's.
 *
 * Locking: tasklist_lock is held across the choice and the kill (through
 * task_for_each), so the victim cannot be released meanwhile; the kill
 * takes the victim's mmap_lock (exit_mmap), which comes after it.
 */
#include <kmm/errno.h>
#include <kmm/mm.h>
#include <kmm/mman.h>
#include <kmm/mmzone.h>
#include <kmm/page_alloc.h>
#include <kmm/printk.h>
#include <kmm/swap.h>
#include <kmm/vmstat.h>

#define OOM_SCORE_ADJ_MIN (-1000)

static unsigned long total_pages(void)
{
	unsigned long swap_total, swap_free;

	si_swapinfo(&swap_total, &swap_free);
	return totalram_pages() + swap_total;
}

long oom_badness(struct task *t)
{
	struct mm *mm = __atomic_load_n(&t->mm, __ATOMIC_ACQUIRE);
	long points;

	if (!mm || t->state == TASK_DEAD || t->oom_score_adj <= OOM_SCORE_ADJ_MIN)
		return 0;
	points = (long)get_mm_rss(mm) + get_mm_counter(mm, MM_SWAPENTS) +
		 atomic_load(&mm->pgtables_bytes) / (long)PAGE_SIZE;
	points += (long)t->oom_score_adj * (long)(total_pages() / 1000);
	/* An eligible task always scores: it holds at least its tables. */
	return points > 0 ? points : 1;
}

struct oom_control {
	struct task *victim;
	struct mm *mm;
	long points;
	int pid;
	unsigned int killed;
};

/* The largest badness among the tasks whose address space can be torn down now. */
static void choose_one(struct task *t, void *arg)
{
	struct oom_control *oc = arg;
	struct mm *mm = __atomic_load_n(&t->mm, __ATOMIC_ACQUIRE);
	long points = oom_badness(t);

	if (points <= oc->points || !mm)
		return;
	/* Held: it is faulting or changing its areas; its lock would be ours to wait for. */
	if (!write_trylock(&mm->mmap_lock))
		return;
	write_unlock(&mm->mmap_lock);
	oc->victim = t;
	oc->mm = mm;
	oc->points = points;
}

static void log_kill(struct task *t, struct mm *mm)
{
	printk(KERN_ERR "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,"
	       "mems_allowed=0,global_oom,task_memcg=/,task=%s,pid=%d,uid=0\n",
	       t->comm, t->pid);
	printk(KERN_ERR "Out of memory: Killed process %d (%s) total-vm:%lukB, "
	       "anon-rss:%lukB, file-rss:%lukB, shmem-rss:%lukB, UID:0 pgtables:%lukB "
	       "oom_score_adj:%d\n",
	       t->pid, t->comm, mm->total_vm << (PAGE_SHIFT - 10),
	       (unsigned long)get_mm_counter(mm, MM_ANONPAGES) << (PAGE_SHIFT - 10),
	       (unsigned long)get_mm_counter(mm, MM_FILEPAGES) << (PAGE_SHIFT - 10),
	       (unsigned long)get_mm_counter(mm, MM_SHMEMPAGES) << (PAGE_SHIFT - 10),
	       (unsigned long)atomic_load(&mm->pgtables_bytes) >> 10, t->oom_score_adj);
}

/* Kills every live task using the victim's mm (under tasklist_lock). */
static void kill_sharers(struct task *t, void *arg)
{
	struct oom_control *oc = arg;

	if (t->state == TASK_DEAD || __atomic_load_n(&t->mm, __ATOMIC_ACQUIRE) != oc->mm)
		return;
	if (t == oc->victim)
		log_kill(t, oc->mm);
	task_kill(t, KMM_SIGKILL, 0, 0);
	oc->killed++;
	count_vm_event(OOM_KILL);
}

int out_of_memory(void)
{
	struct oom_control oc = { .victim = NULL, .points = 0 };

	task_for_each(choose_one, &oc);
	if (!oc.victim)
		return 0;
	oc.pid = oc.victim->pid;
	/*
	 * Between the two walks the list lock is dropped: the victim is
	 * looked for again by its mm (a task that exited meanwhile has none).
	 */
	task_for_each(kill_sharers, &oc);
	return oc.killed ? oc.pid : 0;
}

/* Is every zone an ordinary allocation may use below its high watermark? */
static bool memory_exhausted(void)
{
	for (struct zone **zp = kmm_node->zonelist[ZONE_NORMAL]; *zp; zp++)
		if (populated_zone(*zp) &&
		    zone_watermark_ok(*zp, 0, (*zp)->watermark[WMARK_HIGH], ZONE_NORMAL, 0))
			return false;
	return true;
}

int pagefault_out_of_memory(struct task *t)
{
	if (!memory_exhausted() || !out_of_memory())
		return 0;
	return t->state == TASK_DEAD ? KMM_SIGKILL : -KMM_EAGAIN;
}
