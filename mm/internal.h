/*
 * Interfaces between the files of mm/ that are not for ports or users:
 * boot steps that mm_init runs in order, and the show functions of the
 * views that mm/proc.c lists.
 */
#ifndef KMM_MM_INTERNAL_H
#define KMM_MM_INTERNAL_H

#include <kmm/printk.h>

/* page_alloc.c: boot */
int free_area_init(void);
unsigned long free_boot_range(unsigned long start_pfn, unsigned long end_pfn);
void setup_zone_pagesets(void);
unsigned long nr_totalreserve_pages(void);

/* Views: each writes one /proc-style file into s. */
void buddyinfo_show(struct seq_buf *s, long arg);
void pagetypeinfo_show(struct seq_buf *s, long arg);
void zoneinfo_show(struct seq_buf *s, long arg);
void extfrag_show(struct seq_buf *s, long arg);
void memblock_show(struct seq_buf *s, long arg);
void e820_show(struct seq_buf *s, long arg);
void meminfo_show(struct seq_buf *s, long arg);
void vmstat_show(struct seq_buf *s, long arg);
/* task_proc.c: the per-task views; arg is the pid. */
void maps_show(struct seq_buf *s, long pid);
void smaps_show(struct seq_buf *s, long pid);
void status_show(struct seq_buf *s, long pid);

#endif
