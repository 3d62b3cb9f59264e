/*
 * The emulated MMU: every load, store and instruction fetch of a task goes
 * through here, translated by the page tables the core keeps in emulated
 * RAM (x86-64, 4 levels, include/kmm/pgtable.h), as a PC's MMU would.
 *
 * TLB. Each CPU has a direct-mapped TLB of 64 entries indexed by the low
 * bits of the virtual page number. An entry holds the host address of the
 * frame and one tag per kind of access, the page number it permits that
 * access for (TLB_NONE otherwise): read (always), write (only when every
 * level allows it AND the PTE's Dirty bit is set, so the first write
 * through an entry a read loaded misses and walks again to set D, as
 * hardware must), execute (no level has NX). A hit is then one compare of
 * the tag of the access's kind, and the 32-byte entry is found by a shift.
 * That hit path is inline in the caller (include/kmm/emu_mmu.h, with the
 * TLB structures it reads); everything else is here, from emu_load_slow
 * and emu_store_slow on. There are no PCIDs: a CPU that switches to
 * another mm flushes its whole TLB, and records itself in the new mm's
 * context.cpumask (bits are never cleared: a CPU that left the mm has
 * flushed, so a stale bit costs a flusher one glance, nothing more).
 *
 * Walk. A miss walks PML4 -> PDPT -> PD -> PT through the direct map,
 * checks Present, User, RW (writes) and NX (fetches) at every level, and
 * sets Accessed at every level (and Dirty in the PTE on a write) with a
 * compare-and-swap that fails if the core changed the entry meanwhile, in
 * which case the walk reads it again: a Dirty bit can never be set on an
 * entry the core just cleared or write-protected. A failed check raises a
 * page fault with an x86 error code (PF_PROT if the entry was present,
 * PF_WRITE, PF_USER, PF_INSTR) and calls do_page_fault; a return of 0
 * means retry the access, anything else means the task is dead.
 *
 * Shootdown, and why frames may be freed as soon as a flush returns. Each mm
 * has a TLB generation, mm->context.tlb_gen, and each CPU remembers the
 * generation its entries are valid for. A flusher (the core, after changing
 * entries) increments the generation, invalidates its own TLB, and then
 * waits until no other CPU is in the middle of an access that started with
 * an older generation of this mm. An access proceeds as
 *
 *     cpu->active = cpu->gen;          (seq_cst store: "I am using gen")
 *     g = mm->tlb_gen;                 (seq_cst load)
 *     if (g != cpu->gen) { flush everything; cpu->gen = g; start over }
 *     ... TLB lookups, walks, the copy to or from the frames ...
 *     cpu->active = 0;                 (release store: done)
 *
 * and the flusher as
 *
 *     change the entries; new = ++mm->tlb_gen;      (seq_cst)
 *     for each other CPU in cpumask: wait while its active is a
 *         generation of this mm older than new     (acquire loads)
 *
 * Both sides store then load (Dekker's pattern) under sequential
 * consistency, so either the accessor's load sees the new generation (it
 * flushes and walks the changed tables) or the flusher's load sees the
 * accessor's older active value and waits for its access to finish. After
 * the wait, every CPU either is idle or has flushed: none can use the old
 * translation again, so the frame (or page-table frame) can be freed. The
 * release store that ends an access and the flusher's acquire load order
 * the access's reads and writes of the frame before its reuse. The cost of
 * an access is one store and one load; the cost of a shootdown, a scan of
 * the CPUs that ever used the mm. Stale entries on idle CPUs are dropped
 * lazily, at their next access (counted as a received shootdown). A CPU
 * never waits while inside an access: faults end the access first.
 *
 * Generations are 64-bit counters, one per mm, each starting from its own
 * base (a serial number << 32) the first time a CPU or a flusher sees the
 * mm, so a new mm allocated where a freed one lived (or a CPU whose TLB
 * survived a reboot) does not pass for the old one. A flusher compares
 * generations only of the mm it flushes (it checks the CPU's mm too), so
 * running past the next mm's base does no harm. arch_mm_release also makes
 * every CPU forget the mm as its current one.
 *
 * Deterministic mode has one host thread: there is nothing to wait for, so
 * accesses skip the store/load pair and only compare generations.
 */
#include <stdatomic.h>
#include <string.h>

#include <kmm/arch.h>
#include <kmm/emu.h>
#include <kmm/errno.h>
#include <kmm/mm.h>
#include <kmm/mmzone.h>
#include <kmm/pgtable.h>
#include <kmm/vmstat.h>

#include "emu_internal.h"

#define TLB_READ (1u << EMU_TLB_R)    /* any valid entry */
#define TLB_WRITE (1u << EMU_TLB_W)   /* writable at every level and Dirty */
#define TLB_EXEC (1u << EMU_TLB_X)    /* no NX at any level */
#define TLB_NONE (~0ULL)

#define GEN_BASE_SHIFT 32

_Static_assert(sizeof(struct emu_tlb_entry) == 32, "a TLB entry is found by a shift");

static inline void tlb_entry_clear(struct emu_tlb_entry *te)
{
	for (unsigned int k = 0; k < EMU_TLB_KINDS; k++)
		te->tag[k] = TLB_NONE;
}

/* te holds vpn with every kind of access in need. */
static inline bool tlb_entry_permits(const struct emu_tlb_entry *te, uint64_t vpn, uint32_t need)
{
	for (unsigned int k = 0; k < EMU_TLB_KINDS; k++)
		if ((need & (1u << k)) && te->tag[k] != vpn)
			return false;
	return true;
}


struct emu_mmu_cpu emu_mmu_cpus[KMM_MAX_CPUS];
static _Atomic uint64_t mm_serial;


static inline bool smp_mode(void)
{
	const struct emu_config *cfg = emu_config();

	return cfg && cfg->mode == EMU_SMP;
}

/* mm's generation, giving it a unique base the first time it is seen. */
static uint64_t mm_gen(struct mm *mm)
{
	uint64_t g = atomic_load(&mm->context.tlb_gen);

	if (unlikely(g == 0)) {
		uint64_t base = (atomic_fetch_add(&mm_serial, 1) + 1) << GEN_BASE_SHIFT;

		if (atomic_compare_exchange_strong(&mm->context.tlb_gen, &g, base))
			g = base;
	}
	return g;
}

static void tlb_flush_all(struct emu_mmu_cpu *c)
{
	for (unsigned int i = 0; i < EMU_TLB_ENTRIES; i++)
		tlb_entry_clear(&c->tlb[i]);
	emu_mmu_stat_add(&c->flushes_all, 1);
	count_vm_event(NR_TLB_LOCAL_FLUSH_ALL);
}

/*
 * Makes c's TLB valid for mm (switching to it if needed) and, in SMP mode,
 * opens an access: c->active holds the generation in use.
 */
static void mmu_enter(struct emu_mmu_cpu *c, unsigned int cpu, struct mm *mm, bool smp)
{
	/*
	 * A reboot always comes through here before the fast path can run
	 * (generations are unique), so the cached mode is always this boot's.
	 */
	c->smp = smp;
	if (unlikely(atomic_load_explicit(&c->mm, memory_order_relaxed) != mm)) {
		atomic_fetch_or(&mm->context.cpumask, 1ULL << cpu);
		atomic_store(&c->mm, mm);
		if (c->gen)
			tlb_flush_all(c);   /* no PCIDs: the old mm's entries go */
		c->gen = 0;         /* 0: the TLB is empty */
	}
	for (;;) {
		uint64_t g;

		if (smp) {
			atomic_store(&c->active, c->gen);
			g = atomic_load(&mm->context.tlb_gen);
		} else {
			g = atomic_load_explicit(&mm->context.tlb_gen, memory_order_relaxed);
		}
		if (likely(g == c->gen && g))
			return;
		if (!g)
			g = mm_gen(mm);
		if (c->gen) {
			/* Someone flushed this mm since our last access. */
			count_vm_event(NR_TLB_REMOTE_FLUSH_RECEIVED);
			tlb_flush_all(c);
		}
		c->gen = g;
		if (!smp)
			return;
	}
}


/*
 * Walks mm's tables for va and fills c's entry. Returns 0, or the page-fault
 * error code (never 0: PF_USER is always set).
 */
static unsigned int mmu_walk(struct emu_mmu_cpu *c, struct mm *mm, uint64_t va, uint32_t need)
{
	bool write = need & TLB_WRITE, exec = need & TLB_EXEC;
	unsigned int err = PF_USER | (write ? PF_WRITE : 0) | (exec ? PF_INSTR : 0);
	pteval_t *table = phys_to_virt(mm->pgd), e = 0;
	bool rw = true, x = true;
	struct emu_tlb_entry *te;

	emu_mmu_stat_add(&c->misses, 1);
	if (va >= TASK_SIZE)
		return err;   /* the kernel half, or non-canonical: never user-mapped */
	for (int level = 3; level >= 0; level--) {
		pteval_t *ep = &table[pt_index(va, level)], want;

		e = pte_read(ep);
		for (;;) {
			if (!(e & _PAGE_PRESENT))
				return err;
			if (!(e & _PAGE_USER) || (write && !(e & _PAGE_RW)) ||
			    (exec && (e & _PAGE_NX)))
				return err | PF_PROT;
			want = e | _PAGE_ACCESSED | (level == 0 && write ? _PAGE_DIRTY : 0);
			if (want == e || pte_cmpxchg(ep, &e, want))
				break;
			/* The entry changed under us (e reloaded): check it again. */
		}
		e = want;
		rw = rw && (e & _PAGE_RW);
		x = x && !(e & _PAGE_NX);
		if (unlikely(!pfn_valid(pte_pfn(e))))
			emu_panicf("MMU: entry %#llx at level %d for %#llx points outside RAM",
				   (unsigned long long)e, level, (unsigned long long)va);
		table = phys_to_virt(e & PTE_PFN_MASK);
	}
	te = &c->tlb[(va >> PAGE_SHIFT) & (EMU_TLB_ENTRIES - 1)];
	te->frame = (char *)table;
	te->tag[EMU_TLB_R] = va >> PAGE_SHIFT;
	te->tag[EMU_TLB_W] = rw && (e & _PAGE_DIRTY) ? va >> PAGE_SHIFT : TLB_NONE;
	te->tag[EMU_TLB_X] = x ? va >> PAGE_SHIFT : TLB_NONE;
	return 0;
}

/* One task access in progress on this CPU. */
struct access {
	struct task *t;
	struct mm *mm;
	struct emu_mmu_cpu *c;
	unsigned int cpu;
	bool smp;
};

static inline int access_begin(struct access *a, struct task *t)
{
	struct mm *mm;

	if (!t || t->state == TASK_DEAD || !(mm = t->mm))
		return -KMM_EFAULT;
	a->t = t;
	a->mm = mm;
	a->cpu = arch_this_cpu();
	a->c = &emu_mmu_cpus[a->cpu];
	a->smp = smp_mode();
	mmu_enter(a->c, a->cpu, mm, a->smp);
	return 0;
}

static inline void access_end(struct access *a)
{
	emu_mmu_exit(a->c, a->smp);
}

static int __attribute__((noinline)) xlate_slow(struct access *a, uint64_t va, uint32_t need,
						char **out)
{
	unsigned int code = mmu_walk(a->c, a->mm, va, need);

	if (!code) {
		struct emu_tlb_entry *te = &a->c->tlb[(va >> PAGE_SHIFT) & (EMU_TLB_ENTRIES - 1)];

		*out = te->frame + (va & (PAGE_SIZE - 1));
		return 1;
	}
	emu_mmu_stat_add(&a->c->faults, 1);
	access_end(a);
	if (do_page_fault(a->t, (uintptr_t)va, code))
		return -KMM_EFAULT;
	mmu_enter(a->c, a->cpu, a->mm, a->smp);
	return 0;
}

/*
 * The host address of va for an access needing perm: 1 and *out, 0 when a
 * fault was handled (the access is open again; the caller starts over, as
 * earlier translations may be stale), or -KMM_EFAULT (the task is dead;
 * the access is closed).
 */
static inline int xlate(struct access *a, uint64_t va, uint32_t need, char **out)
{
	struct emu_tlb_entry *te = &a->c->tlb[(va >> PAGE_SHIFT) & (EMU_TLB_ENTRIES - 1)];

	if (likely(tlb_entry_permits(te, va >> PAGE_SHIFT, need))) {
		emu_mmu_stat_add(&a->c->hits, 1);
		*out = te->frame + (va & (PAGE_SIZE - 1));
		return 1;
	}
	return xlate_slow(a, va, need, out);
}

/* A runaway retry loop is a core bug (a fault that fixes nothing): say so. */
#define MAX_RETRIES 100000

static void retry_guard(unsigned long *tries, uint64_t va)
{
	if (++*tries > MAX_RETRIES)
		emu_panicf("MMU: the access at %#llx still faults after %d handled faults",
			   (unsigned long long)va, MAX_RETRIES);
}




/*
 * Translates [va, va+size) (at most two pages) for need: both pages are
 * translated before any byte moves, so a store that faults on its second
 * page writes nothing, as on x86. 0, or -KMM_EFAULT (access closed).
 */
static int xlate_span(struct access *a, uint64_t va, unsigned int size, uint32_t need,
		      char **p1, char **p2, unsigned int *n1)
{
	unsigned long tries = 0;
	int r;

	*n1 = (unsigned int)MIN((uint64_t)size, PAGE_SIZE - (va & (PAGE_SIZE - 1)));
	for (;;) {
		r = xlate(a, va, need, p1);
		if (r == 1 && *n1 < size)
			r = xlate(a, va + *n1, need, p2);
		if (r == 1)
			return 0;
		if (r < 0)
			return r;
		retry_guard(&tries, va);
	}
}

int emu_load_slow(struct task *t, uint64_t va, unsigned int size, uint64_t *val)
{
	struct access a;
	char *p1, *p2 = NULL;
	unsigned int n1;
	uint64_t v = 0;
	int r;

	if (!emu_valid_size(size) || !val)
		return -KMM_EINVAL;
	if (access_begin(&a, t))
		return -KMM_EFAULT;
	r = xlate_span(&a, va, size, TLB_READ, &p1, &p2, &n1);
	if (r)
		return r;
	if (likely(n1 == size)) {
		v = emu_load_bytes(p1, size);
	} else {
		memcpy(&v, p1, n1);
		memcpy((char *)&v + n1, p2, size - n1);
	}
	access_end(&a);
	*val = v;
	return 0;
}

int emu_store_slow(struct task *t, uint64_t va, unsigned int size, uint64_t val)
{
	struct access a;
	char *p1, *p2 = NULL;
	unsigned int n1;
	int r;

	if (!emu_valid_size(size))
		return -KMM_EINVAL;
	if (access_begin(&a, t))
		return -KMM_EFAULT;
	r = xlate_span(&a, va, size, TLB_READ | TLB_WRITE, &p1, &p2, &n1);
	if (r)
		return r;
	if (likely(n1 == size)) {
		emu_store_bytes(p1, size, val);
	} else {
		memcpy(p1, &val, n1);
		memcpy(p2, (char *)&val + n1, size - n1);
	}
	access_end(&a);
	return 0;
}

/*
 * The byte-range operations, a page at a time: what reached earlier pages
 * stays there if a later page kills the task (as a copy_to_user that faults
 * part way).
 */
enum range_op { RANGE_FROM, RANGE_TO, RANGE_FILL, RANGE_TOUCH_R, RANGE_TOUCH_W, RANGE_FETCH };

static int user_range(struct task *t, uint64_t va, size_t len, enum range_op op, char *buf,
		      int byte)
{
	uint32_t need = TLB_READ;
	unsigned long tries = 0;
	struct access a;
	size_t done = 0;

	if (op == RANGE_TO || op == RANGE_FILL || op == RANGE_TOUCH_W)
		need |= TLB_WRITE;
	if (op == RANGE_FETCH)
		need |= TLB_EXEC;
	if (va + len < va)
		return -KMM_EINVAL;
	if (access_begin(&a, t))
		return -KMM_EFAULT;
	while (done < len) {
		uint64_t cur = va + done;
		size_t n = MIN(len - done, (size_t)(PAGE_SIZE - (cur & (PAGE_SIZE - 1))));
		char *p;
		int r = xlate(&a, cur, need, &p);

		if (r < 0)
			return r;
		if (r == 0) {
			retry_guard(&tries, cur);
			continue;
		}
		switch (op) {
		case RANGE_FROM: memcpy(buf + done, p, n); break;
		case RANGE_TO: memcpy(p, buf + done, n); break;
		case RANGE_FILL: memset(p, byte, n); break;
		case RANGE_TOUCH_R:
		case RANGE_FETCH:
			(void)__atomic_load_n((uint8_t *)p, __ATOMIC_RELAXED);
			break;
		case RANGE_TOUCH_W:
			__atomic_store_n((uint8_t *)p, __atomic_load_n((uint8_t *)p, __ATOMIC_RELAXED),
					 __ATOMIC_RELAXED);
			break;
		}
		done += n;
	}
	access_end(&a);
	return 0;
}

int emu_copy_from_user(struct task *t, void *dst, uint64_t va, size_t len)
{
	if (!dst && len)
		return -KMM_EINVAL;
	return len ? user_range(t, va, len, RANGE_FROM, dst, 0) : 0;
}

int emu_copy_to_user(struct task *t, uint64_t va, const void *src, size_t len)
{
	if (!src && len)
		return -KMM_EINVAL;
	return len ? user_range(t, va, len, RANGE_TO, (char *)src, 0) : 0;
}

int emu_fill_user(struct task *t, uint64_t va, int byte, size_t len)
{
	return len ? user_range(t, va, len, RANGE_FILL, NULL, byte) : 0;
}

int emu_touch(struct task *t, uint64_t va, size_t len, bool write)
{
	return len ? user_range(t, va, len, write ? RANGE_TOUCH_W : RANGE_TOUCH_R, NULL, 0) : 0;
}

int emu_fetch(struct task *t, uint64_t va)
{
	return user_range(t, va, 1, RANGE_FETCH, NULL, 0);
}

/* ---- Flushes ---- */

/*
 * Is CPU o inside an access of mm begun under a generation older than gen?
 * o sets its mm before it publishes a generation and changes it only at
 * the start of a later access, so an in-progress access of mm is seen with
 * o->mm == mm; a value read after o moved on is at worst a moment's wait.
 */
static inline bool uses_older(struct emu_mmu_cpu *o, struct mm *mm, uint64_t gen)
{
	uint64_t active = atomic_load_explicit(&o->active, memory_order_acquire);

	return active && active < gen && atomic_load(&o->mm) == mm;
}

static void flush_tlb(struct mm *mm, uintptr_t start, uintptr_t end, bool all)
{
	unsigned int cpu = arch_this_cpu();
	struct emu_mmu_cpu *c = &emu_mmu_cpus[cpu];
	uint64_t gen, mask;

	mm_gen(mm);
	gen = atomic_fetch_add(&mm->context.tlb_gen, 1) + 1;

	if (atomic_load_explicit(&c->mm, memory_order_relaxed) == mm) {
		uint64_t first = start >> PAGE_SHIFT, last = (end - 1) >> PAGE_SHIFT;

		if (!all && c->gen == gen - 1 && end > start && last - first < EMU_TLB_ENTRIES) {
			/* Only our own change is new: drop just its pages. */
			for (uint64_t vpn = first; vpn <= last; vpn++) {
				struct emu_tlb_entry *te = &c->tlb[vpn & (EMU_TLB_ENTRIES - 1)];

				if (te->tag[EMU_TLB_R] == vpn)
					tlb_entry_clear(te);
			}
			emu_mmu_stat_add(&c->flushes_one, last - first + 1);
			count_vm_events(NR_TLB_LOCAL_FLUSH_ONE, last - first + 1);
		} else {
			tlb_flush_all(c);
		}
		c->gen = gen;
	}

	mask = atomic_load(&mm->context.cpumask) & ~(1ULL << cpu);
	if (!mask)
		return;
	for (unsigned int other = 0; other < KMM_MAX_CPUS; other++) {
		struct emu_mmu_cpu *o = &emu_mmu_cpus[other];

		if (!(mask & (1ULL << other)))
			continue;
		emu_mmu_stat_add(&c->shootdowns, 1);
		count_vm_event(NR_TLB_REMOTE_FLUSH);
		while (uses_older(o, mm, gen))
			arch_cpu_relax();
	}
}

void arch_flush_tlb_page(struct mm *mm, uintptr_t addr)
{
	flush_tlb(mm, addr & PAGE_MASK, (addr & PAGE_MASK) + PAGE_SIZE, false);
}

void arch_flush_tlb_range(struct mm *mm, uintptr_t start, uintptr_t end)
{
	flush_tlb(mm, start & PAGE_MASK, ALIGN_UP(end, PAGE_SIZE), false);
}

void arch_flush_tlb_mm(struct mm *mm)
{
	flush_tlb(mm, 0, 0, true);
}

void arch_mm_release(struct mm *mm)
{
	for (unsigned int cpu = 0; cpu < KMM_MAX_CPUS; cpu++) {
		struct mm *expected = mm;

		atomic_compare_exchange_strong(&emu_mmu_cpus[cpu].mm, &expected, NULL);
	}
}

void emu_tlb_stats(struct emu_tlb_stats *out)
{
	*out = (struct emu_tlb_stats){ 0 };
	for (unsigned int cpu = 0; cpu < KMM_MAX_CPUS; cpu++) {
		struct emu_mmu_cpu *c = &emu_mmu_cpus[cpu];

		out->hits += atomic_load_explicit(&c->hits, memory_order_relaxed);
		out->misses += atomic_load_explicit(&c->misses, memory_order_relaxed);
		out->faults += atomic_load_explicit(&c->faults, memory_order_relaxed);
		out->flushes_all += atomic_load_explicit(&c->flushes_all, memory_order_relaxed);
		out->flushes_one += atomic_load_explicit(&c->flushes_one, memory_order_relaxed);
		out->shootdowns += atomic_load_explicit(&c->shootdowns, memory_order_relaxed);
	}
}
