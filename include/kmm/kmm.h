/*
 * The core's entry points for a port: bring memory management up over the
 * memory the arch describes, look at it through Linux-style views, read a
 * counter by name, and run every invariant checker.
 */
#ifndef KMM_KMM_H
#define KMM_KMM_H

#include <kmm/printk.h>
#include <kmm/types.h>

struct kmm_boot_options {
	bool group_by_mobility;          /* anti-fragmentation (default on) */
	unsigned long min_free_kbytes;   /* 0: computed from RAM as Linux does */
	bool pcp_lists;                  /* per-CPU page lists (default on; off
					    measures the buddy lists alone) */
	bool quiet;                      /* no boot log on the console */
	/* The kernel memory allocator every kmalloc and object cache of the
	   machine uses: a name of include/kmm/kma.h ("slab", "buddy", "rmap",
	   "p2", "mk", "zone", "dynix"); empty means slab. */
	char kma[16];
	/* Reclaim's balance of anonymous against file pages, 0..200 (Linux's
	   vm.swappiness; default 60). */
	int swappiness;
};

void kmm_boot_options_default(struct kmm_boot_options *opts);

/*
 * Initializes memory management: memblock from the arch memory map, mem_map
 * and zones, then releases free memory to the buddy allocator. Call once per
 * boot, after the arch has set up RAM and CPUs. Returns 0 or -KMM_ENOMEM if
 * RAM is too small for the boot structures.
 */
int mm_init(const struct kmm_boot_options *opts);

/* Views: /proc-style text. arg is a pid for per-task views, else ignored. */
struct kmm_view {
	const char *name;
	const char *help;
	void (*show)(struct seq_buf *s, long arg);
};

extern const struct kmm_view kmm_views[];
extern const unsigned int kmm_nr_views;

/* Is the view one task's (maps, smaps, status)? Its arg is then a pid. */
bool kmm_view_per_task(const char *name);

/* Renders a view into s. Returns 0 or -KMM_ENOENT for an unknown name. */
int kmm_view_show(const char *name, long arg, struct seq_buf *s);

/*
 * Reads one counter by name: a /proc/vmstat line ("pgfree") or a
 * /proc/meminfo line ("MemFree", in kB as meminfo shows it).
 * Returns 0 or -KMM_ENOENT.
 */
int kmm_stat(const char *name, unsigned long *value);

/* Runs every subsystem's invariant checker; panics on the first broken one. */
int kmm_check(void);

#endif
