/*
 * arch/native memory: physical memory from the host, added in sections
 * while the program runs (the layout is in native.h).
 *
 * Boot reserves two ranges of address space, neither committed: RAM (up to
 * NATIVE_MAX_SECTIONS sections) and mem_map (a struct page for every frame
 * from physical 0 to the end of that range; the part below
 * NATIVE_PHYS_BASE is never touched). The boot memory map the core reads
 * is one usable section followed by a KMM_MEM_HOTPLUG range over the rest
 * of the reservation, so mem_map and the pageblock types cover it all from
 * boot. native_grow maps the next sections of both reservations and gives
 * them to the core with add_memory(); sections are added in address order,
 * so "present" is one length, read with one load.
 *
 * Locking: grow_lock serializes growth (it is taken with no core lock
 * held, and add_memory takes the zone lock inside it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include <kmm/arch.h>
#include <kmm/errno.h>
#include <kmm/lock.h>
#include <kmm/page_alloc.h>

#include "native.h"

uintptr_t arch_direct_map_base;
uintptr_t native_ram_start;
_Atomic uint64_t native_ram_present;

static uint64_t ram_reserved;          /* bytes of the RAM reservation */
static struct page *vmemmap;           /* mem_map reservation, from pfn 0 */
static mutex_t grow_lock;
static unsigned long nr_sections;

/* Reserves len bytes aligned to align, inaccessible and uncommitted. */
static void *reserve(uint64_t len, uint64_t align)
{
	char *p = mmap(NULL, len + align, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uintptr_t a;

	if (p == MAP_FAILED)
		return NULL;
	a = ALIGN_UP((uintptr_t)p, align);
	if (a > (uintptr_t)p)
		munmap(p, a - (uintptr_t)p);
	munmap((char *)a + len, (uintptr_t)p + align - a);
	return (void *)a;
}

/* Makes [addr, addr + len) of a reservation ordinary read-write memory. */
static int commit(void *addr, uint64_t len)
{
	void *p = mmap(addr, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);

	return p == MAP_FAILED ? -KMM_ENOMEM : 0;
}

/* Maps the RAM and the mem_map of [off, off + len) of physical memory above
   NATIVE_PHYS_BASE. */
static int map_sections(uint64_t off, uint64_t len)
{
	unsigned long pfn = PHYS_PFN(NATIVE_PHYS_BASE + off);
	char *mm_lo = (char *)(vmemmap + pfn);
	char *mm_hi = (char *)(vmemmap + pfn + PHYS_PFN(len));

	if (commit((char *)native_ram_start + off, len))
		return -KMM_ENOMEM;
	/* A section's struct pages fill whole host pages (1024 x 64 bytes). */
	if (commit(mm_lo, (uint64_t)(mm_hi - mm_lo))) {
		mmap((char *)native_ram_start + off, len, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
		return -KMM_ENOMEM;
	}
	return 0;
}

int native_boot(void)
{
	uint64_t len = (uint64_t)NATIVE_MAX_SECTIONS * NATIVE_SECTION_SIZE;
	unsigned long pages;
	void *ram = NULL;

	/* Smaller if the host will not give us that much address space. */
	for (; len >= 64 * NATIVE_SECTION_SIZE; len /= 2) {
		ram = reserve(len, NATIVE_SECTION_SIZE);
		if (ram)
			break;
	}
	if (!ram)
		return -KMM_ENOMEM;
	pages = PHYS_PFN(NATIVE_PHYS_BASE + len);
	vmemmap = reserve(pages * sizeof(struct page), PAGE_SIZE);
	if (!vmemmap) {
		munmap(ram, len);
		return -KMM_ENOMEM;
	}
	ram_reserved = len;
	native_ram_start = (uintptr_t)ram;
	arch_direct_map_base = (uintptr_t)ram - NATIVE_PHYS_BASE;
	mutex_init(&grow_lock);
	if (map_sections(0, NATIVE_SECTION_SIZE))
		return -KMM_ENOMEM;
	nr_sections = 1;
	atomic_store_explicit(&native_ram_present, NATIVE_SECTION_SIZE, memory_order_release);
	return 0;
}

int arch_memory_map(struct kmm_mem_range *out, int max)
{
	struct kmm_mem_range map[2] = {
		{ NATIVE_PHYS_BASE, NATIVE_SECTION_SIZE, KMM_MEM_USABLE },
		{ NATIVE_PHYS_BASE + NATIVE_SECTION_SIZE, ram_reserved - NATIVE_SECTION_SIZE,
		  KMM_MEM_HOTPLUG },
	};
	int n = max < 2 ? max : 2;

	if (n > 0)
		memcpy(out, map, (size_t)n * sizeof(map[0]));
	return n;
}

/* No kernel image: the allocator's code is the program's. One page stands
   for it, so that boot's view of memory has the usual shape. */
void arch_kernel_image(phys_addr_t *base, phys_addr_t *size)
{
	*base = NATIVE_PHYS_BASE;
	*size = PAGE_SIZE;
}

struct page *arch_mem_map(unsigned long nr_pages)
{
	return vmemmap;
}

int native_grow(uint64_t bytes)
{
	uint64_t present, want, len;
	int ret;

	mutex_lock(&grow_lock);
	present = atomic_load_explicit(&native_ram_present, memory_order_relaxed);
	/* An eighth of the heap at a time (at least what was asked), so that a
	   large heap is made of few sections' worth of add_memory calls. */
	want = MAX(bytes, present / 8);
	want = MIN(want, 64 * NATIVE_SECTION_SIZE);
	want = MAX(want, bytes);
	len = ALIGN_UP(want, NATIVE_SECTION_SIZE);
	if (present + len > ram_reserved)
		len = ALIGN_UP(bytes, NATIVE_SECTION_SIZE);
	if (present + len > ram_reserved) {
		mutex_unlock(&grow_lock);
		return -KMM_ENOMEM;
	}
	ret = map_sections(present, len);
	if (!ret) {
		/* Present before the core may hand any of it out. */
		atomic_store_explicit(&native_ram_present, present + len, memory_order_release);
		ret = add_memory(NATIVE_PHYS_BASE + present, len);
		if (ret)
			native_fatal("kmm-malloc: add_memory(%#llx, %#llx) failed: %d",
				     (unsigned long long)(NATIVE_PHYS_BASE + present),
				     (unsigned long long)len, ret);
		__atomic_store_n(&nr_sections, nr_sections + (len >> NATIVE_SECTION_SHIFT),
				 __ATOMIC_RELAXED);
	}
	mutex_unlock(&grow_lock);
	return ret;
}

unsigned long native_sections(void)
{
	return __atomic_load_n(&nr_sections, __ATOMIC_RELAXED);
}

void native_grow_lock(void)
{
	mutex_lock(&grow_lock);
}

void native_grow_unlock(void)
{
	mutex_unlock(&grow_lock);
}
