/*
 * arch/native: the arch interface on the host, for the user-space malloc
 * (tools/malloc, libkmm-malloc.so). What the front end needs from it:
 * booting the core over host memory, growing that memory by sections,
 * giving free memory back, the per-thread CPU slots and deferred work.
 *
 * Physical memory is a range of the host's address space reserved at boot
 * (PROT_NONE, nothing committed) and mapped a section at a time as the
 * allocator needs it; "physical address" p lives at arch_direct_map_base +
 * p, and physical memory starts at NATIVE_PHYS_BASE (4 GiB) so that all of
 * it is in ZONE_NORMAL. mem_map is a second reservation, one struct page
 * per frame of the whole range (Linux's SPARSEMEM_VMEMMAP), mapped section
 * by section before add_memory() touches it. The section table says which
 * sections are present: it is what decides that an address is ours.
 */
#ifndef KMM_ARCH_NATIVE_H
#define KMM_ARCH_NATIVE_H

#include <kmm/mm_types.h>
#include <kmm/types.h>

#include <stdatomic.h>

#define NATIVE_PHYS_BASE (4ULL << 30)
#define NATIVE_SECTION_SHIFT 22                    /* 4 MiB: a MAX_ORDER block */
#define NATIVE_SECTION_SIZE (1ULL << NATIVE_SECTION_SHIFT)
#ifndef NATIVE_MAX_SECTIONS                        /* tests build with fewer */
#define NATIVE_MAX_SECTIONS 16384                  /* 64 GiB of memory at most */
#endif

/* Set once at boot. */
extern uintptr_t native_ram_start;     /* host address of physical NATIVE_PHYS_BASE */
/* Bytes of memory present (sections added), from native_ram_start. Grows. */
extern _Atomic uint64_t native_ram_present;

/* Is p inside the memory given to the allocator? One subtraction, one load. */
static inline bool native_addr_present(const void *p)
{
	return (uintptr_t)p - native_ram_start <
	       atomic_load_explicit(&native_ram_present, memory_order_acquire);
}

/*
 * Boots the core over a first section. Returns 0 or -errno. Not thread-safe:
 * the front end calls it once, under its own init lock.
 */
int native_boot(void);

/*
 * Adds memory: at least bytes more (whole sections, more when the heap is
 * large already, so that the number of sections grows slowly). Serialized
 * inside. Returns 0, or -KMM_ENOMEM when the host or the reservation has
 * no more.
 */
int native_grow(uint64_t bytes);

/* Serializes growth (fork takes it). */
void native_grow_lock(void);
void native_grow_unlock(void);
void native_cpus_init(void);

/* Sections added so far; bytes of memory handed back to the host. */
unsigned long native_sections(void);

/* ---- CPU slots: a "CPU" is a thread (include/kmm/arch.h, owned slots) ---- */

/* Slots the arch reports as CPUs: NATIVE_NR_SLOTS - 1 are leased to threads,
   the last is shared. Each cache keeps a 64-byte CPU array entry per slot,
   so this is RSS every process pays: 32 keeps it small. */
#define NATIVE_NR_SLOTS 32

enum native_slot_state {
	NATIVE_SLOT_NONE = 0,     /* this thread has no slot yet */
	NATIVE_SLOT_OWNED,        /* slot is this thread's alone */
	NATIVE_SLOT_SHARED,       /* every slot leased: the shared slot, under
				     native_shared_lock for each call */
};

struct native_thread {
	unsigned int slot;
	unsigned int state;       /* enum native_slot_state */
	unsigned int countdown;   /* calls until the next upkeep (front end) */
	unsigned int exiting;     /* the slot was returned at thread exit */
};

extern __thread struct native_thread native_self
	__attribute__((tls_model("initial-exec")));

/*
 * Gives the calling thread a slot (owned if one is free, else the shared
 * one) and arranges for it to be returned, its magazines and page lists
 * flushed, when the thread exits.
 */
void native_slot_lease(void);
/* The shared slot's lock: held around every core call in the shared state. */
void native_shared_lock(void);
void native_shared_unlock(void);
/* Slots leased now (tests). */
unsigned int native_slots_leased(void);

/* Runs the deferred work that is due (the slab allocator's upkeep). */
void native_run_work(void);

/* Fork: take every lock of the arch and the core, release in parent/child. */
void native_fork_prepare(void);
void native_fork_parent(void);
void native_fork_child(void);

/* Writes a message to stderr and aborts (free of an invalid pointer, ...). */
__attribute__((noreturn, format(printf, 1, 2))) void native_fatal(const char *fmt, ...);

/* Console output of the core (boot log, warnings): off unless asked for. */
extern bool native_console_on;

#endif
