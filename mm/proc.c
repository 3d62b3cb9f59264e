/*
 * The views: /proc-style files rendered as text, in Linux's formats so that
 * existing parsers and habits work on them, and counters read by name.
 * Each subsystem owns the show functions of its own files; this table lists
 * them all, and later subsystems add their rows here.
 */
#include <kmm/errno.h>
#include <kmm/fs.h>
#include <kmm/kma.h>
#include <kmm/kmm.h>
#include <kmm/page_alloc.h>
#include <kmm/slab.h>
#include <kmm/string.h>
#include <kmm/swap.h>

#include "internal.h"

static unsigned long pages_to_kb(unsigned long pages)
{
	return pages << (PAGE_SHIFT - 10);
}

static void show_val_kb(struct seq_buf *s, const char *name, unsigned long pages)
{
	seq_printf(s, "%-16s%8lu kB\n", name, pages_to_kb(pages));
}

/*
 * MemAvailable as Linux estimates it: free memory above the reserves the
 * allocator keeps back. Reclaimable cache and slab join it in later issues.
 * As in Linux, pages on the per-CPU lists count as neither free nor
 * available (vmstat's nr_free_pcp shows them).
 */
static unsigned long si_mem_available(void)
{
	long available = (long)nr_free_pages() - (long)nr_totalreserve_pages();

	return available < 0 ? 0 : (unsigned long)available;
}

/* A zone counter summed over the zones (Linux's global_node_page_state). */
static unsigned long global_zone_page_state(enum zone_stat_item item)
{
	unsigned long sum = 0;
	struct zone *z;

	for_each_zone(z)
		sum += zone_page_state(z, item);
	return sum;
}

void meminfo_show(struct seq_buf *s, long arg)
{
	unsigned long swap_total, swap_free;
	unsigned long lru[NR_LRU_LISTS];

	for (int l = 0; l < NR_LRU_LISTS; l++)
		lru[l] = global_zone_page_state(NR_LRU_BASE + l);
	show_val_kb(s, "MemTotal:", totalram_pages());
	show_val_kb(s, "MemFree:", nr_free_pages());
	show_val_kb(s, "MemAvailable:", si_mem_available());
	/* The page cache: block devices' pages are Buffers, files' Cached. */
	show_val_kb(s, "Buffers:", nr_bdev_pages());
	show_val_kb(s, "Cached:", global_zone_page_state(NR_FILE_PAGES) -
				  MIN(nr_bdev_pages(), global_zone_page_state(NR_FILE_PAGES)));
	show_val_kb(s, "SwapCached:", total_swapcache_pages());
	/* The reclaim lists (mm/swap.c), as Linux prints them. */
	show_val_kb(s, "Active:", lru[LRU_ACTIVE_ANON] + lru[LRU_ACTIVE_FILE]);
	show_val_kb(s, "Inactive:", lru[LRU_INACTIVE_ANON] + lru[LRU_INACTIVE_FILE]);
	show_val_kb(s, "Active(anon):", lru[LRU_ACTIVE_ANON]);
	show_val_kb(s, "Inactive(anon):", lru[LRU_INACTIVE_ANON]);
	show_val_kb(s, "Active(file):", lru[LRU_ACTIVE_FILE]);
	show_val_kb(s, "Inactive(file):", lru[LRU_INACTIVE_FILE]);
	show_val_kb(s, "Unevictable:", lru[LRU_UNEVICTABLE]);
	si_swapinfo(&swap_total, &swap_free);
	show_val_kb(s, "SwapTotal:", swap_total);
	show_val_kb(s, "SwapFree:", swap_free);
	show_val_kb(s, "Dirty:", global_zone_page_state(NR_FILE_DIRTY));
	show_val_kb(s, "Writeback:", global_zone_page_state(NR_WRITEBACK));
	show_val_kb(s, "AnonPages:", global_zone_page_state(NR_ANON_MAPPED));
	show_val_kb(s, "Mapped:", global_zone_page_state(NR_FILE_MAPPED));
	show_val_kb(s, "Shmem:", global_zone_page_state(NR_SHMEM));
	show_val_kb(s, "PageTables:", global_zone_page_state(NR_PAGETABLE));
}

const struct kmm_view kmm_views[] = {
	{ "meminfo", "memory totals (/proc/meminfo)", meminfo_show },
	{ "buddyinfo", "free blocks per order and zone (/proc/buddyinfo)", buddyinfo_show },
	{ "pagetypeinfo", "free blocks per migrate type, pageblock types (/proc/pagetypeinfo)",
	  pagetypeinfo_show },
	{ "zoneinfo", "zones: watermarks, counts, per-CPU lists (/proc/zoneinfo)",
	  zoneinfo_show },
	{ "vmstat", "event and page counters (/proc/vmstat)", vmstat_show },
	{ "extfrag", "fragmentation indices per order (debugfs extfrag)", extfrag_show },
	{ "memblock", "boot memory regions: memory and reserved (debugfs memblock)",
	  memblock_show },
	{ "e820", "the firmware memory map (boot log)", e820_show },
	{ "kmainfo", "kernel memory allocators: requests, waste, frames held", kmainfo_show },
	{ "slabinfo", "slab caches (/proc/slabinfo 2.1)", slabinfo_show },
	{ "slabwaste", "bytes each slab cache holds and loses, and where", slabwaste_show },
	{ "maps", "a task's memory areas (/proc/PID/maps)", maps_show },
	{ "smaps", "a task's memory areas and their pages (/proc/PID/smaps)", smaps_show },
	{ "status", "a task's state and memory counters (/proc/PID/status)", status_show },
	{ "swaps", "swap areas in use (/proc/swaps)", swaps_show },
};

const unsigned int kmm_nr_views = ARRAY_SIZE(kmm_views);

bool kmm_view_per_task(const char *name)
{
	static const char *const task_views[] = { "maps", "smaps", "status" };

	for (unsigned int i = 0; i < ARRAY_SIZE(task_views); i++)
		if (!kmm_strcmp(task_views[i], name))
			return true;
	return false;
}

int kmm_view_show(const char *name, long arg, struct seq_buf *s)
{
	for (unsigned int i = 0; i < kmm_nr_views; i++) {
		if (!kmm_strcmp(kmm_views[i].name, name)) {
			kmm_views[i].show(s, arg);
			return 0;
		}
	}
	return -KMM_ENOENT;
}

/* Finds "name value" or "name: value kB" in a view's text. */
static bool find_counter(const char *text, const char *name, unsigned long *value)
{
	size_t len = kmm_strlen(name);

	for (const char *line = text; *line;) {
		const char *p = line;

		if (!kmm_strncmp(p, name, len) && (p[len] == ' ' || p[len] == ':')) {
			unsigned long v = 0;

			p += len;
			while (*p == ' ' || *p == ':')
				p++;
			if (*p >= '0' && *p <= '9') {
				while (*p >= '0' && *p <= '9')
					v = v * 10 + (unsigned long)(*p++ - '0');
				*value = v;
				return true;
			}
		}
		while (*line && *line != '\n')
			line++;
		if (*line)
			line++;
	}
	return false;
}

/*
 * Reads a counter through the views themselves, so that a counter read by
 * name can never disagree with what the view shows.
 */
int kmm_stat(const char *name, unsigned long *value)
{
	static const char *const sources[] = { "vmstat", "meminfo" };
	char text[8192];

	for (unsigned int i = 0; i < ARRAY_SIZE(sources); i++) {
		struct seq_buf s;

		seq_buf_init(&s, text, sizeof(text));
		kmm_view_show(sources[i], 0, &s);
		BUG_ON(seq_buf_overflowed(&s));
		if (find_counter(text, name, value))
			return 0;
	}
	return -KMM_ENOENT;
}
