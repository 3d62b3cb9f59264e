/*
 * The emulated MMU's TLB-hit path, inline in the caller (included by
 * emu.h): emu_load and emu_store of a page the current CPU's TLB holds with
 * the needed rights are a dozen instructions, without a call. Everything
 * else (a miss, a walk, a fault, an access across pages, a switch of mm,
 * a flush seen) goes to emu_load_slow/emu_store_slow in arch/emu/mmu.c,
 * which owns these structures and documents their protocol (generations,
 * the SMP shootdown handshake). Nothing but this path and mmu.c may touch
 * them. Include <kmm/emu.h>, not this header.
 */
#ifndef KMM_EMU_MMU_H
#define KMM_EMU_MMU_H

#include <kmm/mm.h>
#include <kmm/types.h>
#include <stdatomic.h>
#include <string.h>

#define EMU_TLB_ENTRIES 64
/* Kinds of access: tag indices, and bits of a "need" mask. */
enum { EMU_TLB_R, EMU_TLB_W, EMU_TLB_X, EMU_TLB_KINDS };

struct emu_tlb_entry {
	uint64_t tag[EMU_TLB_KINDS];   /* the vpn an access of that kind may use, or ~0 */
	char *frame;                   /* host address of the frame */
};

struct emu_mmu_cpu {
	_Atomic(struct mm *) mm;     /* current mm; arch_mm_release may clear it */
	uint64_t gen;                /* generation the entries are valid for (owner only) */
	bool smp;                    /* the machine's mode, cached by mmu_enter (owner only) */
	_Atomic uint64_t active;     /* SMP: generation of the access in progress; 0: none */
	atomic_ulong hits, misses, faults, flushes_all, flushes_one, shootdowns;
	struct emu_tlb_entry tlb[EMU_TLB_ENTRIES];
} __attribute__((aligned(64)));

extern struct emu_mmu_cpu emu_mmu_cpus[KMM_MAX_CPUS];

int emu_load_slow(struct task *t, uint64_t va, unsigned int size, uint64_t *val);
int emu_store_slow(struct task *t, uint64_t va, unsigned int size, uint64_t val);

/* Only the owning CPU writes its counters. */
static inline void emu_mmu_stat_add(atomic_ulong *c, unsigned long n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static inline bool emu_valid_size(unsigned int size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

/* Aligned accesses are single atomic operations, as on x86. */
static inline uint64_t emu_load_bytes(const char *p, unsigned int size)
{
	if (((uintptr_t)p & (size - 1)) == 0) {
		switch (size) {
		case 1: return __atomic_load_n((const uint8_t *)p, __ATOMIC_RELAXED);
		case 2: return __atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED);
		case 4: return __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED);
		default: return __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
		}
	}
	uint64_t v = 0;

	memcpy(&v, p, size);
	return v;
}

static inline void emu_store_bytes(char *p, unsigned int size, uint64_t v)
{
	if (((uintptr_t)p & (size - 1)) == 0) {
		switch (size) {
		case 1: __atomic_store_n((uint8_t *)p, (uint8_t)v, __ATOMIC_RELAXED); return;
		case 2: __atomic_store_n((uint16_t *)p, (uint16_t)v, __ATOMIC_RELAXED); return;
		case 4: __atomic_store_n((uint32_t *)p, (uint32_t)v, __ATOMIC_RELAXED); return;
		default: __atomic_store_n((uint64_t *)p, v, __ATOMIC_RELAXED); return;
		}
	}
	memcpy(p, &v, size);
}

/* Closes an access the fast path (or mmu.c) opened. */
static inline void emu_mmu_exit(struct emu_mmu_cpu *c, bool smp)
{
	if (smp)
		atomic_store_explicit(&c->active, 0, memory_order_release);
}

/*
 * The fast path of a single load or store: the task's mm is current, its
 * generation unchanged, the page in the TLB with the needed rights, the
 * access within one page. Returns the host address with the access open
 * (SMP: c->active set), or NULL with nothing open: take the slow path.
 * The caller closes the access with emu_mmu_exit(c, smp).
 */
static inline __attribute__((always_inline)) char *
emu_fast_xlate(struct task *t, uint64_t va, unsigned int size, unsigned int kind,
	       struct emu_mmu_cpu **cp, bool *smpp)
{
	struct emu_mmu_cpu *c;
	struct emu_tlb_entry *te;
	struct mm *mm;
	uint64_t g;
	bool smp;

	/* A dead task has no mm (task_exit clears it). */
	if (__builtin_expect(!t || !(mm = t->mm) || (va & (PAGE_SIZE - 1)) + size > PAGE_SIZE, 0))
		return NULL;
	c = &emu_mmu_cpus[arch_this_cpu()];
	if (__builtin_expect(atomic_load_explicit(&c->mm, memory_order_relaxed) != mm, 0))
		return NULL;
	smp = c->smp;
	if (smp) {
		atomic_store(&c->active, c->gen);
		g = atomic_load(&mm->context.tlb_gen);
	} else {
		g = atomic_load_explicit(&mm->context.tlb_gen, memory_order_relaxed);
	}
	te = &c->tlb[(va >> PAGE_SHIFT) & (EMU_TLB_ENTRIES - 1)];
	if (__builtin_expect(g != c->gen || te->tag[kind] != va >> PAGE_SHIFT, 0)) {
		emu_mmu_exit(c, smp);
		return NULL;
	}
	emu_mmu_stat_add(&c->hits, 1);
	*cp = c;
	*smpp = smp;
	/* Never NULL: frames are in the direct map, far above 0. */
	return (char *)__builtin_assume_aligned(te->frame, PAGE_SIZE) + (va & (PAGE_SIZE - 1));
}

static inline __attribute__((always_inline)) int
emu_load(struct task *t, uint64_t va, unsigned int size, uint64_t *val)
{
	struct emu_mmu_cpu *c;
	bool smp;
	char *p;

	if (__builtin_expect(emu_valid_size(size) && val, 1) &&
	    (p = emu_fast_xlate(t, va, size, EMU_TLB_R, &c, &smp))) {
		*val = emu_load_bytes(p, size);
		emu_mmu_exit(c, smp);
		return 0;
	}
	return emu_load_slow(t, va, size, val);
}

static inline __attribute__((always_inline)) int
emu_store(struct task *t, uint64_t va, unsigned int size, uint64_t val)
{
	struct emu_mmu_cpu *c;
	bool smp;
	char *p;

	if (__builtin_expect(emu_valid_size(size), 1) &&
	    (p = emu_fast_xlate(t, va, size, EMU_TLB_W, &c, &smp))) {
		emu_store_bytes(p, size, val);
		emu_mmu_exit(c, smp);
		return 0;
	}
	return emu_store_slow(t, va, size, val);
}

#endif
