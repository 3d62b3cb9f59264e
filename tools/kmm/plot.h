/*
 * Memory use over time, drawn as a self-contained SVG (plot.c): a stacked
 * area chart of where the machine's RAM is (free; kernel: reserved, slab,
 * page tables, per-CPU lists; anonymous; page cache clean and dirty; swap
 * used, drawn above RAM), with markers for kswapd wake-ups, OOM kills and
 * the marks a scenario adds (a sync), and a second panel with the free
 * blocks of each buddy order. The x axis counts scenario steps: one sample
 * after every call a scenario makes into the machine while recording.
 */
#ifndef KMM_PLOT_H
#define KMM_PLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Starts recording on the running machine (forgets earlier samples). */
void plot_start(uint64_t ram_bytes);
void plot_stop(void);
bool plot_recording(void);
/* Takes a sample now (no-op when not recording). Host code; reads views. */
void plot_sample(void);
/* A labelled marker at the current step. */
void plot_mark(const char *label);
/* Writes the chart. 0, or -1 with a message in err. */
int plot_write_svg(const char *path, const char *title, char *err, size_t len);
/* Samples taken (after decimation) and markers, for tests and messages. */
unsigned int plot_nr_samples(void);
unsigned int plot_nr_marks(void);

#endif
