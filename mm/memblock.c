/*
 * memblock: the boot-time memory allocator (as Linux's mm/memblock.c).
 *
 * Before the buddy allocator exists, the kernel still needs memory for the
 * structures that describe memory: the mem_map array of struct page, the
 * zone and per-CPU data. memblock keeps two sorted arrays of ranges: the RAM
 * the firmware reported ("memory") and the parts of it already taken
 * ("reserved": the first megabyte, the kernel image, every boot allocation).
 * Allocations are carved top-down from memory minus reserved. At the end of
 * boot, memblock_free_all() gives every frame that is not reserved to the
 * buddy allocator; reserved frames stay PG_reserved for ever and show in the
 * views as the kernel's own memory.
 *
 * Regions of one type never overlap. Adjacent or overlapping regions with
 * the same name merge; a reservation over a differently named one takes
 * that part over, so totals always match the union of the ranges.
 *
 * No locking: memblock runs on the boot CPU before any other starts.
 */
#include <kmm/errno.h>
#include <kmm/memblock.h>
#include <kmm/mmzone.h>
#include <kmm/printk.h>
#include <kmm/string.h>

#include "internal.h"

struct memblock memblock;
struct kmm_mem_range e820_table[MEMBLOCK_MAX_REGIONS];
int e820_entries;


void memblock_reset(void)
{
	memset(&memblock, 0, sizeof(memblock));
	memblock.memory.label = "memory";
	memblock.reserved.label = "reserved";
}

static bool same_name(const char *a, const char *b)
{
	if (a == b)
		return true;
	return a && b && !kmm_strcmp(a, b);
}

static void remove_region(struct memblock_type *type, unsigned int i)
{
	type->total_size -= type->regions[i].size;
	memmove(&type->regions[i], &type->regions[i + 1],
		(type->cnt - i - 1) * sizeof(type->regions[0]));
	type->cnt--;
}

static int insert_region(struct memblock_type *type, unsigned int i,
			 phys_addr_t base, phys_addr_t size, const char *name)
{
	if (type->cnt == MEMBLOCK_MAX_REGIONS)
		return -KMM_ENOMEM;
	memmove(&type->regions[i + 1], &type->regions[i],
		(type->cnt - i) * sizeof(type->regions[0]));
	type->regions[i] = (struct memblock_region){ base, size, name };
	type->cnt++;
	type->total_size += size;
	return 0;
}

/* Removes [base, end) from every region of type, splitting where needed. */
static int carve_out(struct memblock_type *type, phys_addr_t base, phys_addr_t end)
{
	for (unsigned int i = 0; i < type->cnt;) {
		struct memblock_region *r = &type->regions[i];
		phys_addr_t r_end = r->base + r->size;

		if (r_end <= base || r->base >= end) {
			i++;
			continue;
		}
		if (r->base < base && r_end > end) {
			/* The new range is inside: split r in two. */
			int err = insert_region(type, i + 1, end, r_end - end, r->name);
			if (err)
				return err;
			r = &type->regions[i];
			type->total_size -= r_end - base;
			r->size = base - r->base;
			return 0;
		}
		if (r->base < base) {
			type->total_size -= r_end - base;
			r->size = base - r->base;
			i++;
		} else if (r_end > end) {
			type->total_size -= end - r->base;
			r->size = r_end - end;
			r->base = end;
			i++;
		} else {
			remove_region(type, i);
		}
	}
	return 0;
}

static int add_range(struct memblock_type *type, phys_addr_t base,
		     phys_addr_t size, const char *name)
{
	phys_addr_t end = base + size;
	unsigned int i;
	int err;

	if (size == 0)
		return 0;
	if (end < base)
		return -KMM_EINVAL;
	err = carve_out(type, base, end);
	if (err)
		return err;
	for (i = 0; i < type->cnt && type->regions[i].base < base; i++)
		;
	err = insert_region(type, i, base, size, name);
	if (err)
		return err;
	/* Merge with the neighbours of the same name that touch it. */
	if (i + 1 < type->cnt && type->regions[i + 1].base == end &&
	    same_name(type->regions[i + 1].name, name)) {
		type->regions[i].size += type->regions[i + 1].size;
		type->total_size += type->regions[i + 1].size;
		remove_region(type, i + 1);
	}
	if (i > 0 && type->regions[i - 1].base + type->regions[i - 1].size == base &&
	    same_name(type->regions[i - 1].name, name)) {
		type->regions[i - 1].size += type->regions[i].size;
		type->total_size += type->regions[i].size;
		remove_region(type, i);
	}
	return 0;
}

int memblock_add(phys_addr_t base, phys_addr_t size)
{
	return add_range(&memblock.memory, base, size, NULL);
}

int memblock_reserve(phys_addr_t base, phys_addr_t size, const char *name)
{
	return add_range(&memblock.reserved, base, size, name);
}

static phys_addr_t overlap_in(const struct memblock_type *type,
			      phys_addr_t start, phys_addr_t end)
{
	phys_addr_t total = 0;

	for (unsigned int i = 0; i < type->cnt; i++) {
		phys_addr_t b = MAX(type->regions[i].base, start);
		phys_addr_t e = MIN(type->regions[i].base + type->regions[i].size, end);
		if (e > b)
			total += e - b;
	}
	return total;
}

phys_addr_t memblock_memory_in(phys_addr_t start, phys_addr_t end)
{
	return overlap_in(&memblock.memory, start, end);
}

phys_addr_t memblock_reserved_in(phys_addr_t start, phys_addr_t end)
{
	return overlap_in(&memblock.reserved, start, end);
}

static bool type_contains(const struct memblock_type *type, phys_addr_t addr)
{
	for (unsigned int i = 0; i < type->cnt; i++) {
		const struct memblock_region *r = &type->regions[i];
		if (addr >= r->base && addr - r->base < r->size)
			return true;
	}
	return false;
}

bool memblock_is_memory(phys_addr_t addr)
{
	return type_contains(&memblock.memory, addr);
}

bool memblock_is_reserved(phys_addr_t addr)
{
	return type_contains(&memblock.reserved, addr);
}

/*
 * Calls fn for each free range (memory minus reserved), from the highest
 * address down, until fn returns true. Returns whether fn stopped the walk.
 */
static bool for_each_free_range_reverse(bool (*fn)(phys_addr_t start,
						   phys_addr_t end, void *arg),
					void *arg)
{
	const struct memblock_type *mem = &memblock.memory, *res = &memblock.reserved;

	for (int m = (int)mem->cnt - 1; m >= 0; m--) {
		phys_addr_t m_start = mem->regions[m].base;
		phys_addr_t top = m_start + mem->regions[m].size;

		/* Reserved regions are sorted: walk them downwards in this region. */
		for (int r = (int)res->cnt - 1; r >= -1 && top > m_start; r--) {
			phys_addr_t r_start = r >= 0 ? res->regions[r].base : 0;
			phys_addr_t r_end = r >= 0 ? r_start + res->regions[r].size : 0;
			phys_addr_t gap_start;

			if (r >= 0 && r_start >= top)
				continue;
			gap_start = MAX(r_end, m_start);
			if (top > gap_start && fn(gap_start, top, arg))
				return true;
			if (r >= 0)
				top = MIN(top, r_start);
		}
	}
	return false;
}

struct alloc_request {
	phys_addr_t size, align, limit, found;
};

static bool try_fit(phys_addr_t start, phys_addr_t end, void *arg)
{
	struct alloc_request *req = arg;
	phys_addr_t candidate;

	if (req->limit && end > req->limit)
		end = req->limit;
	if (end < start + req->size)
		return false;
	candidate = ALIGN_DOWN(end - req->size, req->align);
	if (candidate < start)
		return false;
	req->found = candidate;
	return true;
}

void *memblock_alloc_below(phys_addr_t size, phys_addr_t align,
			   phys_addr_t limit, const char *name)
{
	struct alloc_request req = { size, align ? align : 8, limit, 0 };
	void *ptr;

	BUG_ON(memblock.released);
	BUG_ON(req.align & (req.align - 1));
	if (size == 0 || !for_each_free_range_reverse(try_fit, &req))
		return NULL;
	if (memblock_reserve(req.found, size, name))
		return NULL;
	ptr = phys_to_virt(req.found);
	memset(ptr, 0, size);
	return ptr;
}

void *memblock_alloc(phys_addr_t size, phys_addr_t align, const char *name)
{
	return memblock_alloc_below(size, align, 0, name);
}

static bool release_range(phys_addr_t start, phys_addr_t end, void *arg)
{
	unsigned long *released = arg;
	unsigned long start_pfn = PFN_UP(start), end_pfn = PFN_DOWN(end);

	if (end_pfn > start_pfn)
		*released += free_boot_range(start_pfn, end_pfn);
	return false;
}

unsigned long memblock_free_all(void)
{
	unsigned long released = 0;

	BUG_ON(memblock.released);
	for_each_free_range_reverse(release_range, &released);
	memblock.released = true;
	return released;
}

/* The "memblock" view: both region arrays, as Linux's debugfs memblock files. */
void memblock_show(struct seq_buf *s, long arg)
{
	const struct memblock_type *types[] = { &memblock.memory, &memblock.reserved };

	for (unsigned int t = 0; t < ARRAY_SIZE(types); t++) {
		const struct memblock_type *type = types[t];

		seq_printf(s, "%s: %u regions, %llu KiB\n", type->label, type->cnt,
			   (unsigned long long)(type->total_size >> 10));
		for (unsigned int i = 0; i < type->cnt; i++) {
			const struct memblock_region *r = &type->regions[i];
			seq_printf(s, "%4u: 0x%016llx..0x%016llx %10llu KiB %s\n", i,
				   (unsigned long long)r->base,
				   (unsigned long long)(r->base + r->size - 1),
				   (unsigned long long)(r->size >> 10),
				   r->name ? r->name : "");
		}
	}
}

static const char *e820_type_name(enum kmm_mem_type type)
{
	return type == KMM_MEM_USABLE ? "usable" : "reserved";
}

/* The firmware map, in the format of Linux's boot log. */
void e820_show(struct seq_buf *s, long arg)
{
	seq_puts(s, "BIOS-provided physical RAM map:\n");
	for (int i = 0; i < e820_entries; i++) {
		const struct kmm_mem_range *r = &e820_table[i];
		seq_printf(s, "BIOS-e820: [mem 0x%016llx-0x%016llx] %s\n",
			   (unsigned long long)r->base,
			   (unsigned long long)(r->base + r->size - 1),
			   e820_type_name(r->type));
	}
}
