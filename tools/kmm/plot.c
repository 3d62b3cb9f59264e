/*
 * The memory-use chart (plot.h). Samples read the machine's own views
 * (meminfo, vmstat, buddyinfo), as a user watching /proc would, so the
 * chart shows exactly what the views say. At most MAX_SAMPLES are kept:
 * when full, every other one is dropped and only every second step is
 * sampled from then on, so a long scenario costs O(MAX_SAMPLES log steps)
 * samples and keeps its whole history at a coarser grain.
 *
 * The SVG is written by hand (no library): two panels, a legend, axes in
 * MiB and steps; text is escaped so any label makes well-formed XML.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmm_tool.h"
#include "plot.h"

#define MAX_SAMPLES 4096
#define MAX_MARKS 256
#define NR_ORDERS 11

enum layer { L_FREE, L_KERNEL, L_ANON, L_CLEAN, L_DIRTY, L_SWAP, NR_LAYERS };

static const char *const layer_names[NR_LAYERS] = {
	"free", "kernel (reserved, slab, page tables)", "anonymous", "page cache (clean)",
	"page cache (dirty)", "swap used",
};
static const char *const layer_colours[NR_LAYERS] = {
	"#d9ead3", "#e06666", "#6fa8dc", "#ffd966", "#f6b26b", "#8e7cc3",
};

struct sample {
	uint64_t step;
	double kib[NR_LAYERS];
	unsigned long buddy[NR_ORDERS];
};

struct mark {
	uint64_t step;
	char label[32];
};

static struct {
	bool on;
	uint64_t ram_kib;
	uint64_t step, stride;
	struct sample *samples;
	unsigned int n;
	struct mark marks[MAX_MARKS];
	unsigned int nr_marks;
	unsigned long kswapd_wakes, oom_kills;
} plot;

/* The value of "Name: N kB" or "name N" in text; 0 when absent. */
static double field(const char *text, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (!strncmp(p, name, n) && (p[n] == ':' || p[n] == ' '))
			return strtod(p + n + 1, NULL);
	}
	return 0;
}

static char *render(const char *view)
{
	size_t len;

	return view_exists(view) ? view_render(view, 0, &len) : NULL;
}

void plot_start(uint64_t ram_bytes)
{
	free(plot.samples);
	memset(&plot, 0, sizeof(plot));
	plot.samples = calloc(MAX_SAMPLES, sizeof(*plot.samples));
	if (!plot.samples) {
		fprintf(stderr, "kmm: out of host memory for the plot\n");
		exit(EXIT_FAILURE);
	}
	plot.on = true;
	plot.ram_kib = ram_bytes / 1024;
	plot.stride = 1;
	plot_sample();
}

void plot_stop(void)
{
	plot.on = false;
}

bool plot_recording(void)
{
	return plot.on;
}

unsigned int plot_nr_samples(void)
{
	return plot.n;
}

unsigned int plot_nr_marks(void)
{
	return plot.nr_marks;
}

static void add_mark(const char *label)
{
	if (plot.nr_marks == MAX_MARKS)
		return;
	plot.marks[plot.nr_marks].step = plot.step;
	snprintf(plot.marks[plot.nr_marks].label, sizeof(plot.marks[0].label), "%s", label);
	plot.nr_marks++;
}

void plot_mark(const char *label)
{
	if (plot.on)
		add_mark(label);
}

static void read_buddy(struct sample *s)
{
	char *text = render("buddyinfo");

	if (!text)
		return;
	for (char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		char *p = strstr(line, "zone");

		if (!p)
			continue;
		p += 4;
		while (*p == ' ')
			p++;
		while (*p && *p != ' ')
			p++;   /* the zone's name */
		for (unsigned int o = 0; o < NR_ORDERS; o++)
			s->buddy[o] += strtoul(p, &p, 10);
	}
	free(text);
}

void plot_sample(void)
{
	struct sample s = { .step = 0 };
	char *meminfo, *vmstat;
	double free_kib, anon, cached, dirty, kernel, swap;
	unsigned long wakes, ooms;

	if (!plot.on)
		return;
	plot.step++;
	if (plot.step % plot.stride)
		return;
	meminfo = render("meminfo");
	vmstat = render("vmstat");
	if (!meminfo || !vmstat) {
		free(meminfo);
		free(vmstat);
		return;
	}
	free_kib = field(meminfo, "MemFree");
	anon = field(meminfo, "AnonPages");
	cached = field(meminfo, "Cached") + field(meminfo, "Buffers");
	dirty = field(meminfo, "Dirty") + field(meminfo, "Writeback");
	swap = field(meminfo, "SwapTotal") - field(meminfo, "SwapFree");
	if (dirty > cached)
		dirty = cached;
	kernel = (double)plot.ram_kib - free_kib - anon - cached;
	s.step = plot.step;
	s.kib[L_FREE] = free_kib;
	s.kib[L_KERNEL] = kernel > 0 ? kernel : 0;
	s.kib[L_ANON] = anon;
	s.kib[L_CLEAN] = cached - dirty;
	s.kib[L_DIRTY] = dirty;
	s.kib[L_SWAP] = swap > 0 ? swap : 0;
	wakes = (unsigned long)field(vmstat, "kswapd_wake");
	ooms = (unsigned long)field(vmstat, "oom_kill");
	if (plot.n && wakes > plot.kswapd_wakes)
		add_mark("kswapd");
	if (plot.n && ooms > plot.oom_kills)
		add_mark("OOM kill");
	plot.kswapd_wakes = wakes;
	plot.oom_kills = ooms;
	free(meminfo);
	free(vmstat);
	read_buddy(&s);

	if (plot.n == MAX_SAMPLES) {
		/* Keep the first sample and every other one after it, and
		   sample half as often from now on. */
		for (unsigned int i = 1; i < MAX_SAMPLES / 2; i++)
			plot.samples[i] = plot.samples[2 * i + 1];
		plot.n = MAX_SAMPLES / 2;
		plot.stride *= 2;
	}
	plot.samples[plot.n++] = s;
}

/* ---- SVG ---- */

#define W 960
#define LEFT 70
#define RIGHT 260
#define TOP 50
#define H1 340
#define GAP 70
#define H2 (NR_ORDERS * 14)

static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\t')
				fputc(*s, f);
		}
	}
}

/* A round step for an axis from 0 to max with about n ticks. */
static double nice_step(double max, int n)
{
	double raw = max / n, mag = pow(10, floor(log10(raw > 0 ? raw : 1)));
	double r = raw / mag;

	return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
}

static double x_of(uint64_t step, uint64_t first, uint64_t last)
{
	double span = last > first ? (double)(last - first) : 1;

	if (step < first)
		step = first;
	if (step > last)
		step = last;
	return LEFT + (double)(step - first) / span * (W - LEFT - RIGHT);
}

static void write_areas(FILE *f, uint64_t first, uint64_t last, double ymax)
{
	double y0 = TOP + H1;

	for (int l = NR_LAYERS - 1; l >= 0; l--) {
		/* The top edge of layers 0..l, left to right, then back along y = 0. */
		fprintf(f, "<path fill=\"%s\" stroke=\"none\" d=\"M%.1f %.1f", layer_colours[l],
			x_of(plot.samples[0].step, first, last), y0);
		for (unsigned int i = 0; i < plot.n; i++) {
			double top = 0;

			for (int k = 0; k <= l; k++)
				top += plot.samples[i].kib[k];
			fprintf(f, " L%.1f %.1f", x_of(plot.samples[i].step, first, last),
				y0 - top / 1024 / ymax * H1);
		}
		fprintf(f, " L%.1f %.1f Z\"/>\n", x_of(plot.samples[plot.n - 1].step, first, last),
			y0);
	}
}

static void write_axes(FILE *f, uint64_t first, uint64_t last, double ymax)
{
	double ystep = nice_step(ymax, 6), xstep = nice_step((double)(last - first), 8);

	fprintf(f, "<g font-size=\"11\" fill=\"#444\">\n");
	for (double v = 0; v <= ymax + 1e-9; v += ystep) {
		double y = TOP + H1 - v / ymax * H1;

		fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ccc\" "
			   "stroke-width=\"0.5\"/>\n", LEFT, y, W - RIGHT, y);
		fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", LEFT - 6,
			y + 4, v);
	}
	fprintf(f, "<text x=\"16\" y=\"%d\" transform=\"rotate(-90 16 %d)\" "
		   "text-anchor=\"middle\">MiB</text>\n", TOP + H1 / 2, TOP + H1 / 2);
	for (double v = 0; v <= (double)(last - first) + 1e-9; v += xstep) {
		double x = x_of(first + (uint64_t)v, first, last);

		fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.0f</text>\n", x,
			TOP + H1 + GAP + H2 + 16, (double)first + v);
	}
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">scenario steps</text>\n",
		LEFT + (W - LEFT - RIGHT) / 2, TOP + H1 + GAP + H2 + 34);
	fprintf(f, "</g>\n");
}

static void write_marks(FILE *f, uint64_t first, uint64_t last)
{
	fprintf(f, "<g font-size=\"10\">\n");
	for (unsigned int i = 0; i < plot.nr_marks; i++) {
		double x = x_of(plot.marks[i].step, first, last);
		bool oom = !strcmp(plot.marks[i].label, "OOM kill");
		const char *colour = oom ? "#990000" : "#333";

		fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"%s\" "
			   "stroke-dasharray=\"3,3\"/>\n", x, TOP, x, TOP + H1, colour);
		fprintf(f, "<text x=\"%.1f\" y=\"%d\" fill=\"%s\" transform=\"rotate(-45 %.1f %d)\">",
			x + 2, TOP - 4, colour, x + 2, TOP - 4);
		put_escaped(f, plot.marks[i].label);
		fprintf(f, "</text>\n");
	}
	fprintf(f, "</g>\n");
}

/* Free blocks per order: one row per order, darker for more blocks. */
static void write_buddy(FILE *f, uint64_t first, uint64_t last)
{
	int top = TOP + H1 + GAP;
	unsigned long max = 1;

	for (unsigned int i = 0; i < plot.n; i++)
		for (unsigned int o = 0; o < NR_ORDERS; o++)
			if (plot.samples[i].buddy[o] > max)
				max = plot.samples[i].buddy[o];
	fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\">free blocks per buddy order "
		   "(darker: more blocks, log scale; most: %lu)</text>\n", LEFT, top - 8, max);
	for (unsigned int o = 0; o < NR_ORDERS; o++) {
		int y = top + (int)(NR_ORDERS - 1 - o) * 14;

		fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"end\">%u</text>\n",
			LEFT - 6, y + 11, o);
		/* A cell reaches the next sample; cells narrower than half a
		   pixel join the next (the later sample gives the shade). */
		double x0 = x_of(plot.samples[0].step, first, last);

		for (unsigned int i = 0; i < plot.n; i++) {
			double x1 = i + 1 < plot.n ? x_of(plot.samples[i + 1].step, first, last)
						   : W - RIGHT;
			unsigned long c = plot.samples[i].buddy[o];
			double shade = c ? log1p((double)c) / log1p((double)max) : 0;

			if (x1 - x0 < 0.5 && i + 1 < plot.n)
				continue;
			fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.2f\" height=\"13\" "
				   "fill=\"#3d85c6\" fill-opacity=\"%.2f\"/>\n", x0, y,
				x1 - x0, 0.05 + 0.95 * shade);
			x0 = x1;
		}
	}
	fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"10\" transform=\"rotate(-90 %d %d)\" "
		   "text-anchor=\"middle\">order</text>\n", 30, top + H2 / 2, 30, top + H2 / 2);
}

static void write_legend(FILE *f)
{
	int x = W - RIGHT + 20;

	fprintf(f, "<g font-size=\"11\">\n");
	for (int l = NR_LAYERS - 1, row = 0; l >= 0; l--, row++) {
		int y = TOP + 10 + row * 20;

		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"14\" fill=\"%s\"/>\n", x,
			y, layer_colours[l]);
		fprintf(f, "<text x=\"%d\" y=\"%d\">%s</text>\n", x + 20, y + 11, layer_names[l]);
	}
	fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"#666\">dashed: kswapd wake-ups, OOM kills,"
		   "</text>\n<text x=\"%d\" y=\"%d\" fill=\"#666\">and the scenario's marks</text>\n",
		x, TOP + 20 + NR_LAYERS * 20, x, TOP + 34 + NR_LAYERS * 20);
	fprintf(f, "</g>\n");
}

int plot_write_svg(const char *path, const char *title, char *err, size_t len)
{
	uint64_t first, last;
	double ymax = 0;
	FILE *f;

	if (!plot.samples || !plot.n) {
		snprintf(err, len, "no samples to plot (nothing was recorded)");
		return -1;
	}
	first = plot.samples[0].step;
	last = plot.samples[plot.n - 1].step;
	if (last == first)
		last = first + 1;
	for (unsigned int i = 0; i < plot.n; i++) {
		double total = 0;

		for (int l = 0; l < NR_LAYERS; l++)
			total += plot.samples[i].kib[l];
		if (total / 1024 > ymax)
			ymax = total / 1024;
	}
	ymax = ymax > 0 ? ymax * 1.05 : 1;
	f = fopen(path, "w");
	if (!f) {
		snprintf(err, len, "%s: cannot write: %s", path, strerror(errno));
		return -1;
	}
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		   "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n"
		   "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W,
		   TOP + H1 + GAP + H2 + 50, W, TOP + H1 + GAP + H2 + 50);
	fprintf(f, "<text x=\"%d\" y=\"20\" font-size=\"15\" font-weight=\"bold\">", LEFT);
	put_escaped(f, title && *title ? title : "kmm: memory use");
	fprintf(f, "</text>\n");
	write_axes(f, first, last, ymax);
	write_areas(f, first, last, ymax);
	write_marks(f, first, last);
	write_buddy(f, first, last);
	write_legend(f);
	fprintf(f, "</svg>\n");
	if (fclose(f)) {
		snprintf(err, len, "%s: write failed: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}
