/*
 * Virtual-memory statistics: the per-CPU event counters (counted without
 * locked instructions, summed when read) and the /proc/vmstat view, which
 * lists the zone counters first and the events after, as Linux does.
 */
#include <kmm/errno.h>
#include <kmm/memblock.h>
#include <kmm/page_alloc.h>
#include <kmm/printk.h>
#include <kmm/vmstat.h>

#include "internal.h"

struct vm_event_state *vm_events;

const char *const vm_event_names[NR_VM_EVENT_ITEMS] = {
	[PGALLOC_DMA] = "pgalloc_dma",
	[PGALLOC_DMA32] = "pgalloc_dma32",
	[PGALLOC_NORMAL] = "pgalloc_normal",
	[PGFREE] = "pgfree",
	[KSWAPD_WAKE] = "kswapd_wake",
	[ALLOC_FAIL_ORDER0 + 0] = "pgalloc_fail_order0",
	[ALLOC_FAIL_ORDER0 + 1] = "pgalloc_fail_order1",
	[ALLOC_FAIL_ORDER0 + 2] = "pgalloc_fail_order2",
	[ALLOC_FAIL_ORDER0 + 3] = "pgalloc_fail_order3",
	[ALLOC_FAIL_ORDER0 + 4] = "pgalloc_fail_order4",
	[ALLOC_FAIL_ORDER0 + 5] = "pgalloc_fail_order5",
	[ALLOC_FAIL_ORDER0 + 6] = "pgalloc_fail_order6",
	[ALLOC_FAIL_ORDER0 + 7] = "pgalloc_fail_order7",
	[ALLOC_FAIL_ORDER0 + 8] = "pgalloc_fail_order8",
	[ALLOC_FAIL_ORDER0 + 9] = "pgalloc_fail_order9",
	[ALLOC_FAIL_ORDER0 + 10] = "pgalloc_fail_order10",
	[PCP_REFILL] = "pcp_refill",
	[PCP_DRAIN] = "pcp_drain",
	[PAGEBLOCK_STEAL] = "pageblock_steal",
	[ALLOC_FALLBACK] = "alloc_fallback",
	[PGFAULT] = "pgfault",
	[PGMAJFAULT] = "pgmajfault",
	[PGCOWFAULT] = "pgfault_cow",
	[PGZEROFAULT] = "pgfault_zero",
	[NR_TLB_REMOTE_FLUSH] = "nr_tlb_remote_flush",
	[NR_TLB_REMOTE_FLUSH_RECEIVED] = "nr_tlb_remote_flush_received",
	[NR_TLB_LOCAL_FLUSH_ALL] = "nr_tlb_local_flush_all",
	[NR_TLB_LOCAL_FLUSH_ONE] = "nr_tlb_local_flush_one",
	[PGPGIN] = "pgpgin",
	[PGPGOUT] = "pgpgout",
	[PGCACHE_HIT] = "pgcache_hit",
	[PGCACHE_MISS] = "pgcache_miss",
	[PSWPIN] = "pswpin",
	[PSWPOUT] = "pswpout",
	[PGSCAN_KSWAPD] = "pgscan_kswapd",
	[PGSCAN_DIRECT] = "pgscan_direct",
	[PGSTEAL_KSWAPD] = "pgsteal_kswapd",
	[PGSTEAL_DIRECT] = "pgsteal_direct",
	[PGACTIVATE] = "pgactivate",
	[PGDEACTIVATE] = "pgdeactivate",
	[PGROTATED] = "pgrotated",
	[ALLOCSTALL] = "allocstall",
	[OOM_KILL] = "oom_kill",
	[SWAP_RA] = "swap_ra",
	[SWAP_RA_HIT] = "swap_ra_hit",
};

_Static_assert(ALLOC_FAIL_LAST - ALLOC_FAIL_ORDER0 == 10,
	       "one failure counter per order 0..10");

int vmstat_init(void)
{
	/* memblock memory is zeroed: every counter starts at 0. */
	vm_events = memblock_alloc(arch_nr_cpus() * sizeof(*vm_events), 64,
				   "per-cpu vm events");
	return vm_events ? 0 : -KMM_ENOMEM;
}

unsigned long vm_event_sum(enum vm_event_item item)
{
	unsigned long sum = 0;

	for (unsigned int c = 0; c < arch_nr_cpus(); c++)
		sum += atomic_load_explicit(&vm_events[c].event[item], memory_order_relaxed);
	return sum;
}

void vmstat_show(struct seq_buf *s, long arg)
{
	seq_printf(s, "nr_free_pages %lu\n", nr_free_pages());
	seq_printf(s, "nr_free_pcp %lu\n", nr_pcp_pages());
	seq_printf(s, "nr_managed %lu\n", totalram_pages());
	seq_printf(s, "nr_reserved %lu\n", nr_reserved_pages());
	{
		/* The page cache's zone counters, under Linux's names. */
		static const struct { const char *name; enum zone_stat_item item; } zs[] = {
			{ "nr_file_pages", NR_FILE_PAGES }, { "nr_dirty", NR_FILE_DIRTY },
			{ "nr_writeback", NR_WRITEBACK }, { "nr_mapped", NR_FILE_MAPPED },
			{ "nr_shmem", NR_SHMEM },
			{ "nr_inactive_anon", NR_INACTIVE_ANON },
			{ "nr_active_anon", NR_ACTIVE_ANON },
			{ "nr_inactive_file", NR_INACTIVE_FILE },
			{ "nr_active_file", NR_ACTIVE_FILE },
			{ "nr_unevictable", NR_UNEVICTABLE },
			{ "nr_swapcached", NR_SWAPCACHE },
		};

		for (unsigned int i = 0; i < sizeof(zs) / sizeof(zs[0]); i++) {
			unsigned long sum = 0;
			struct zone *z;

			for_each_zone(z)
				sum += zone_page_state(z, zs[i].item);
			seq_printf(s, "%s %lu\n", zs[i].name, sum);
		}
	}
	for (unsigned int i = 0; i < NR_VM_EVENT_ITEMS; i++)
		seq_printf(s, "%s %lu\n", vm_event_names[i],
			   vm_event_sum((enum vm_event_item)i));
}
