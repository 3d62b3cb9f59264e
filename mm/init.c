/*
 * Bringing memory management up (Linux's mm_init path, in one place): read
 * the firmware memory map into memblock, reserve what is in use, build the
 * node and mem_map, release free memory to the buddy allocator, set the
 * watermarks and per-CPU lists, and print the boot log a Linux user knows.
 * Also the list of every subsystem's invariant checker.
 */
#include <kmm/arch.h>
#include <kmm/errno.h>
#include <kmm/fs.h>
#include <kmm/kma.h>
#include <kmm/kmm.h>
#include <kmm/memblock.h>
#include <kmm/mm.h>
#include <kmm/page_alloc.h>
#include <kmm/printk.h>
#include <kmm/slab.h>
#include <kmm/string.h>
#include <kmm/swap.h>
#include <kmm/vmstat.h>

#include "internal.h"

void kmm_boot_options_default(struct kmm_boot_options *opts)
{
	*opts = (struct kmm_boot_options){
		.group_by_mobility = true,
		.min_free_kbytes = 0,
		.pcp_lists = true,
		.quiet = false,
		.swappiness = 60,
	};
}

static void print_view(void (*show)(struct seq_buf *, long))
{
	char text[4096];
	struct seq_buf s;

	seq_buf_init(&s, text, sizeof(text));
	show(&s, 0);
	arch_console_write(text, MIN(s.len, sizeof(text) - 1));
}

static void print_boot_log(phys_addr_t kernel_size)
{
	unsigned long reserved_kb = nr_reserved_pages() << (PAGE_SHIFT - 10);
	unsigned long kernel_kb = (unsigned long)(kernel_size >> 10);
	unsigned long present = 0;
	struct zone *z;

	print_view(e820_show);
	for (unsigned int i = 0; i < memblock.reserved.cnt; i++) {
		const struct memblock_region *r = &memblock.reserved.regions[i];
		printk("memblock: reserved [mem 0x%016llx-0x%016llx] %s\n",
		       (unsigned long long)r->base,
		       (unsigned long long)(r->base + r->size - 1), r->name);
	}
	printk("Zone ranges:\n");
	for_each_zone(z) {
		if (!z->spanned_pages) {
			printk("  %-8s empty\n", z->name);
			continue;
		}
		printk("  %-8s [mem 0x%016llx-0x%016llx]\n", z->name,
		       (unsigned long long)PFN_PHYS(z->zone_start_pfn),
		       (unsigned long long)PFN_PHYS(zone_end_pfn(z)) - 1);
		present += z->present_pages;
	}
	printk("Early memory node ranges\n");
	for (unsigned int i = 0; i < memblock.memory.cnt; i++) {
		const struct memblock_region *r = &memblock.memory.regions[i];
		printk("  node   0: [mem 0x%016llx-0x%016llx]\n",
		       (unsigned long long)r->base,
		       (unsigned long long)(r->base + r->size - 1));
	}
	printk("Built 1 zonelists, mobility grouping %s.  Total pages: %lu\n",
	       page_group_by_mobility ? "on" : "off", totalram_pages());
	printk("Memory: %luK/%luK available (%luK kernel image, %luK boot data "
	       "and firmware, %luK reserved)\n",
	       totalram_pages() << (PAGE_SHIFT - 10), present << (PAGE_SHIFT - 10),
	       kernel_kb, reserved_kb - MIN(reserved_kb, kernel_kb), reserved_kb);
	printk("min_free_kbytes: %lu, per-CPU page lists %s, %u CPUs\n",
	       min_free_kbytes, page_alloc_use_pcp ? "on" : "off", arch_nr_cpus());
}

/* Reads the arch's memory map: usable ranges become memblock memory. */
static int memblock_setup(void)
{
	phys_addr_t kernel_base, kernel_size;

	memblock_reset();
	e820_entries = arch_memory_map(e820_table, MEMBLOCK_MAX_REGIONS);
	for (int i = 0; i < e820_entries; i++) {
		const struct kmm_mem_range *r = &e820_table[i];
		phys_addr_t base = ALIGN_UP(r->base, PAGE_SIZE);
		phys_addr_t end = ALIGN_DOWN(r->base + r->size, PAGE_SIZE);

		if (r->type == KMM_MEM_USABLE && end > base && memblock_add(base, end - base))
			return -KMM_ENOMEM;
	}
	/*
	 * The first megabyte holds the real-mode IVT, BIOS data and EBDA;
	 * like Linux since 5.13 we never hand any of it out.
	 */
	if (memblock_reserve(0, 1 << 20, "first 1 MiB (BIOS, real mode)"))
		return -KMM_ENOMEM;
	arch_kernel_image(&kernel_base, &kernel_size);
	if (memblock_reserve(kernel_base, kernel_size, "kernel image"))
		return -KMM_ENOMEM;
	return 0;
}

int mm_init(const struct kmm_boot_options *opts)
{
	phys_addr_t kernel_base, kernel_size;
	int err;

	page_group_by_mobility = opts->group_by_mobility;
	page_alloc_use_pcp = opts->pcp_lists;
	min_free_kbytes = opts->min_free_kbytes;
	wakeup_kswapd_hook = NULL;
	direct_reclaim_hook = NULL;
	max_pfn = 0;
	kmm_node = NULL;
	mem_map = NULL;

	err = memblock_setup();
	if (err)
		return err;
	err = vmstat_init();
	if (err)
		return err;
	err = free_area_init();
	if (err)
		return err;
	memblock_free_all();
	lru_init();
	setup_per_zone_wmarks();
	setup_zone_pagesets();
	err = kmem_cache_init();
	if (err)
		return err;
	err = kma_boot();
	if (err)
		return err;
	if (kma_select(opts->kma[0] ? opts->kma : "slab")) {
		char names[96];

		printk(KERN_ERR "kma: no kernel memory allocator '%.16s' (choose one of: %s)\n",
		       opts->kma, kma_names(names, sizeof(names), ", "));
		return -KMM_EINVAL;
	}
	err = mm_task_init();
	if (err)
		return err;
	err = filemap_init();
	if (err)
		return err;
	swap_init();
	reclaim_init(opts->swappiness);
	if (!opts->quiet) {
		arch_kernel_image(&kernel_base, &kernel_size);
		print_boot_log(kernel_size);
	}
	return 0;
}

int kmm_check(void)
{
	page_alloc_check();
	slab_check();
	kma_check();
	task_check_all();
	mm_rmap_check();
	filemap_check();
	swap_check();
	lru_check();
	return 0;
}
