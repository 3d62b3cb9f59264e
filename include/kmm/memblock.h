/*
 * memblock (mm/memblock.c): the boot-time memory allocator. It records the
 * firmware memory map as "memory" regions and the ranges already in use
 * (kernel image, first megabyte, boot allocations) as "reserved" regions,
 * hands out the early structures (mem_map, zone data) from free memory, and
 * finally releases every free frame to the buddy allocator.
 */
#ifndef KMM_MEMBLOCK_H
#define KMM_MEMBLOCK_H

#include <kmm/arch.h>
#include <kmm/types.h>

#define MEMBLOCK_MAX_REGIONS 128

struct memblock_region {
	phys_addr_t base;
	phys_addr_t size;
	const char *name;   /* reserved regions: who reserved it, for the views */
};

struct memblock_type {
	unsigned int cnt;
	phys_addr_t total_size;
	struct memblock_region regions[MEMBLOCK_MAX_REGIONS];
	const char *label;
};

struct memblock {
	struct memblock_type memory;
	struct memblock_type reserved;
	bool released;      /* memblock_free_all has run */
};

extern struct memblock memblock;
/* The firmware map as the arch gave it, kept for the boot log and views. */
extern struct kmm_mem_range e820_table[MEMBLOCK_MAX_REGIONS];
extern int e820_entries;

void memblock_reset(void);
int memblock_add(phys_addr_t base, phys_addr_t size);
int memblock_reserve(phys_addr_t base, phys_addr_t size, const char *name);
/*
 * Allocates size bytes aligned to align from free memory below limit (0: no
 * limit), top-down; the memory is zeroed and reserved under name. Returns
 * NULL if no free range fits.
 */
void *memblock_alloc(phys_addr_t size, phys_addr_t align, const char *name);
void *memblock_alloc_below(phys_addr_t size, phys_addr_t align,
			   phys_addr_t limit, const char *name);
/* Bytes of memory and reserved regions inside [start, end). */
phys_addr_t memblock_memory_in(phys_addr_t start, phys_addr_t end);
phys_addr_t memblock_reserved_in(phys_addr_t start, phys_addr_t end);
bool memblock_is_memory(phys_addr_t addr);
bool memblock_is_reserved(phys_addr_t addr);
/* Gives every frame of memory that is not reserved to the buddy allocator. */
unsigned long memblock_free_all(void);

#endif
