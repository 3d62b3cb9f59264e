/*
 * kmm replay FILE [OPTIONS]: replays a memory-reference trace (trace.h)
 * through one emulated task. The trace is read twice: first to learn its
 * pages and build the task's areas (a recorded trace's own areas, or, for
 * the published formats, one private anonymous area per run of pages with
 * gaps of at most AREA_GAP_PAGES), then to send every reference through
 * the MMU, so TLB misses, demand paging and, under memory pressure, the
 * page-frame reclaiming of the machine happen as they would for the program.
 * It prints what the memory manager did: faults, resident pages, TLB hits
 * and misses, and the host time per reference.
 *
 * --compare reads the trace a third time as a reference string of pages
 * and counts the faults OPT, LRU and CLOCK (policy.c) would take with a
 * few numbers of frames, next to the major faults of the replay, so kmm's
 * reclaim can be judged against the optimum and the classic policies on
 * the same string. --synth generates one of policy.c's synthetic strings
 * and replays it as a kmm trace (kept with --save-trace).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <kmm/emu.h>
#include <kmm/kmm.h>
#include <kmm/mm.h>
#include <kmm/mman.h>
#include <kmm/page_alloc.h>
#include <kmm/vmstat.h>

#include "kmm_tool.h"
#include "policy.h"
#include "trace.h"

/* Pages closer than this share an area: a program's areas are contiguous,
   and a trace sees only some of their pages. */
#define AREA_GAP_PAGES 16

void cmd_replay_usage(FILE *f)
{
	fprintf(f, "Usage: kmm replay FILE [OPTIONS...]\n"
		   "       kmm replay --synth KIND:PAGES:REFS[:SEED] [OPTIONS...]\n"
		   "\n"
		   "Replays a memory-reference trace through an emulated task: every\n"
		   "reference goes through the MMU, with demand paging and TLB misses as\n"
		   "for the real program. FILE may be gzip-compressed; its format is\n"
		   "recognized from its first line:\n"
		   "  kmm       recorded by kmm record (areas, then R|W|X 0xPAGE COUNT)\n"
		   "  address   l|s 0xADDRESS N   (SPEC address traces)\n"
		   "  block     one block number a line (LIRS block traces; block = page)\n"
		   "  rw        R|W ADDRESS\n"
		   "\n"
		   "Policies:\n"
		   "  %-26s %s\n"
		   "  %-26s %s\n"
		   "  %-26s %s\n"
		   "  %-26s %s\n"
		   "  %-26s %s\n"
		   "\n"
		   "Machine:\n",
		   "--compare", "also count the faults of OPT, LRU and CLOCK on the trace",
		   "--frames N|P%,...", "frame counts to compare at (default: the frames free "
		   "for the task, and 25/50/75% of the trace's pages)",
		   "--no-replay", "only the policies' counts (no machine; implies --compare)",
		   "--synth KIND:PAGES:REFS[:SEED]", "replay a synthetic string instead of FILE: "
		   "loop, scan or zipf",
		   "--save-trace FILE", "keep the synthetic string as a kmm trace (.gz: gzip)");
	boot_params_usage(f);
	fprintf(f, "\n"
		   "Output:\n"
		   "  %-26s %s\n"
		   "  %-26s %s\n"
		   "  %-26s %s\n",
		   "--quiet", "only the summary (no boot log, no progress)",
		   "--no-progress", "no progress line on a terminal",
		   "-h, --help", "this help");
}

#define MAX_COMPARE_FRAMES 16

struct replay_args {
	struct emu_config cfg;
	const char *path;
	bool progress;
	bool compare, replay;
	/* --frames: a count, or (percent set) a share of the distinct pages */
	struct {
		uint64_t value;
		bool percent;
	} frames[MAX_COMPARE_FRAMES];
	unsigned int nr_frames;
	/* --synth */
	bool synth;
	enum synth_kind synth_kind;
	uint64_t synth_pages, synth_refs, synth_seed;
	const char *save_trace;
};

/* ---- Pass 1: the pages of the trace ---- */

struct page_set {
	uint64_t *slots;     /* page number + 1; 0: empty */
	size_t cap, n;
};

static void page_set_add(struct page_set *s, uint64_t page)
{
	if (s->n * 2 >= s->cap) {
		struct page_set bigger = { calloc(s->cap ? s->cap * 2 : 4096, sizeof(uint64_t)),
					   s->cap ? s->cap * 2 : 4096, 0 };

		if (!bigger.slots) {
			fprintf(stderr, "kmm replay: out of host memory\n");
			exit(EXIT_FAILURE);
		}
		for (size_t i = 0; i < s->cap; i++)
			if (s->slots[i])
				page_set_add(&bigger, s->slots[i] - 1);
		free(s->slots);
		*s = bigger;
	}
	for (size_t i = (page * 0x9e3779b97f4a7c15ULL) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (s->slots[i] == page + 1)
			return;
		if (!s->slots[i]) {
			s->slots[i] = page + 1;
			s->n++;
			return;
		}
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct plan {
	struct trace_area areas[TRACE_MAX_AREAS];
	unsigned int nr_areas;
	uint64_t refs, accesses, pages;
	enum trace_format format;
	/*
	 * Added to every address: traces made by simulators (the SPEC address
	 * traces) use page 0 and its neighbours, which no Linux task may map
	 * (mmap_min_addr); such a trace is moved up as a whole, keeping its
	 * layout. Never for kmm traces, whose areas are a real program's.
	 */
	uint64_t shift;
};

/* The address space a shifted trace must fit in. */
#define LOW_TRACE_SHIFT BLOCK_TRACE_BASE

/* Reads the whole trace once: counts, checks every line, plans the areas. */
static int plan_replay(const char *path, struct plan *p)
{
	struct trace_reader *r;
	struct page_set set = { 0 };
	struct trace_ref ref;
	char err[512];
	int got;

	if (trace_open(path, &r, err, sizeof(err))) {
		fprintf(stderr, "kmm replay: %s\n", err);
		return -1;
	}
	p->format = trace_format(r);
	while ((got = trace_next(r, &ref, err, sizeof(err))) == 1) {
		if (ref.addr < MMAP_MIN_ADDR && p->format != TRACE_KMM && !p->shift) {
			/* Start again, moved up (only the first pass ever restarts). */
			free(set.slots);
			set = (struct page_set){ 0 };
			trace_close(r);
			p->refs = p->accesses = 0;
			p->shift = LOW_TRACE_SHIFT;
			if (trace_open(path, &r, err, sizeof(err))) {
				fprintf(stderr, "kmm replay: %s\n", err);
				return -1;
			}
			continue;
		}
		ref.addr += p->shift;
		if (ref.addr < MMAP_MIN_ADDR || ref.addr >= TASK_SIZE || ref.addr < p->shift) {
			fprintf(stderr, "kmm replay: %s: address 0x%" PRIx64 " is outside the "
				"user address space [0x%lx, 0x%lx)\n", path, ref.addr,
				(unsigned long)MMAP_MIN_ADDR, (unsigned long)TASK_SIZE);
			got = -2;
			break;
		}
		p->refs++;
		p->accesses += ref.count;
		page_set_add(&set, ref.addr >> PAGE_SHIFT);
	}
	if (got == -1)
		fprintf(stderr, "kmm replay: %s\n", err);
	if (got < 0) {
		free(set.slots);
		trace_close(r);
		return -1;
	}
	/* A file of "*" separators only (block format), or a kmm header with
	   areas but no reference: nothing to replay, as for an empty file. */
	if (!p->refs) {
		fprintf(stderr, "kmm replay: %s: no references in the file\n", path);
		free(set.slots);
		trace_close(r);
		return -1;
	}
	p->pages = set.n;
	if (p->format == TRACE_KMM) {
		unsigned int n;
		const struct trace_area *a = trace_areas(r, &n);

		memcpy(p->areas, a, n * sizeof(*a));
		p->nr_areas = n;
	} else {
		/* Compact the set to a sorted array in place, then cut it in runs. */
		size_t k = 0;

		for (size_t i = 0; i < set.cap; i++)
			if (set.slots[i])
				set.slots[k++] = set.slots[i] - 1;
		qsort(set.slots, k, sizeof(uint64_t), cmp_u64);
		for (size_t i = 0; i < k; i++) {
			struct trace_area *last = p->nr_areas ? &p->areas[p->nr_areas - 1] : NULL;
			uint64_t start = set.slots[i] << PAGE_SHIFT;

			if (last && start <= last->end + (AREA_GAP_PAGES << PAGE_SHIFT)) {
				last->end = start + PAGE_SIZE;
				continue;
			}
			if (p->nr_areas == TRACE_MAX_AREAS) {
				fprintf(stderr, "kmm replay: %s: the pages form more than %d areas\n",
					path, TRACE_MAX_AREAS);
				free(set.slots);
				trace_close(r);
				return -1;
			}
			last = &p->areas[p->nr_areas++];
			last->start = start;
			last->end = start + PAGE_SIZE;
			memcpy(last->perms, "rw-p", 5);
			snprintf(last->name, sizeof(last->name), "[trace]");
		}
	}
	free(set.slots);
	trace_close(r);
	return 0;
}

/* ---- Pass 2: the references through the MMU ---- */

/* MAP_FIXED: a recorded program's stack may cover the new task's own. */
static int map_areas(struct task *t, const struct plan *p)
{
	for (unsigned int i = 0; i < p->nr_areas; i++) {
		const struct trace_area *a = &p->areas[i];
		int prot = KMM_PROT_READ | (a->perms[1] == 'w' ? KMM_PROT_WRITE : 0) |
			   (a->perms[2] == 'x' ? KMM_PROT_EXEC : 0);
		long ret = sys_mmap(t, a->start, a->end - a->start, prot,
				    KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS | KMM_MAP_FIXED |
				    KMM_MAP_NORESERVE, -1, 0);

		if (ret < 0) {
			fprintf(stderr, "kmm replay: cannot map area 0x%" PRIx64 "-0x%" PRIx64
				" %s %s: error %ld\n", a->start, a->end, a->perms, a->name, -ret);
			return -1;
		}
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void show_progress(struct trace_reader *r, uint64_t refs)
{
	uint64_t done, total;

	trace_progress(r, &done, &total);
	fprintf(stderr, "\r  replay: %3u%%  %" PRIu64 " references",
		total ? (unsigned int)(done * 100 / total) : 0, refs);
	fflush(stderr);
}

/* Sends every reference through the MMU. 0, or -1 when the task died. */
static int run_refs(struct task *t, const char *path, uint64_t shift, bool progress,
		    uint64_t *refs_done)
{
	struct trace_reader *r;
	struct trace_ref ref;
	char err[512];
	uint64_t v = 0;
	int got, dead = 0;

	if (trace_open(path, &r, err, sizeof(err))) {
		fprintf(stderr, "kmm replay: %s\n", err);
		return -1;
	}
	while (!dead && (got = trace_next(r, &ref, err, sizeof(err))) == 1) {
		ref.addr += shift;
		for (uint64_t i = 0; i < ref.count && !dead; i++) {
			if (ref.op == TRACE_LOAD)
				dead = emu_load(t, ref.addr, 1, &v);
			else if (ref.op == TRACE_STORE)
				dead = emu_store(t, ref.addr, 1, v + 1);
			else
				dead = emu_fetch(t, ref.addr);
		}
		if (progress && !(++*refs_done & 0xffff))
			show_progress(r, *refs_done);
	}
	if (progress)
		fprintf(stderr, "\r%60s\r", "");
	if (got < 0 && !dead)
		fprintf(stderr, "kmm replay: %s (the file changed since the first pass?)\n", err);
	trace_close(r);
	if (dead) {
		fprintf(stderr, "kmm replay: the task was killed by signal %d at address 0x%lx "
			"after %" PRIu64 " references (out of memory?)\n", t->exit_signal,
			(unsigned long)t->fault_addr, *refs_done);
		return -1;
	}
	return got < 0 ? -1 : 0;
}

/* "N" or "P%", comma-separated. 0, or -1 with the reason in err. */
static int parse_frames(struct replay_args *a, const char *text, char *err, size_t len)
{
	const char *p = text;

	a->nr_frames = 0;
	for (;;) {
		char *end;
		unsigned long long v;

		if (*p < '0' || *p > '9') {
			snprintf(err, len, "'%s': frame counts are numbers or percentages, "
				 "comma-separated", text);
			return -1;
		}
		v = strtoull(p, &end, 10);
		if (a->nr_frames == MAX_COMPARE_FRAMES) {
			snprintf(err, len, "at most %d frame counts", MAX_COMPARE_FRAMES);
			return -1;
		}
		a->frames[a->nr_frames].percent = *end == '%';
		if (*end == '%')
			end++;
		if (!v || v > (1ULL << 40) || (a->frames[a->nr_frames].percent && v > 100)) {
			snprintf(err, len, "'%s': a frame count is 1 or more, a share 1%% to 100%%",
				 text);
			return -1;
		}
		a->frames[a->nr_frames++].value = v;
		if (!*end)
			return 0;
		if (*end != ',') {
			snprintf(err, len, "'%s': frame counts are numbers or percentages, "
				 "comma-separated", text);
			return -1;
		}
		p = end + 1;
	}
}

/* KIND:PAGES:REFS[:SEED]. 0, or -1 with the reason in err. */
static int parse_synth(struct replay_args *a, const char *text, char *err, size_t len)
{
	char kind[16];
	unsigned long long pages, refs, seed = 1;
	int n, used = 0;

	n = sscanf(text, "%15[a-z]:%llu:%llu%n:%llu%n", kind, &pages, &refs, &used, &seed, &used);
	if (n < 3 || text[used] || synth_by_name(kind) < 0) {
		snprintf(err, len, "'%s': expected KIND:PAGES:REFS[:SEED], KIND loop, scan or zipf",
			 text);
		return -1;
	}
	if (pages < 2 || pages > (1ULL << 28) || !refs || refs > (1ULL << 31)) {
		snprintf(err, len, "'%s': PAGES from 2 to 2^28, REFS from 1 to 2^31", text);
		return -1;
	}
	a->synth = true;
	a->synth_kind = (enum synth_kind)synth_by_name(kind);
	a->synth_pages = pages;
	a->synth_refs = refs;
	a->synth_seed = seed;
	return 0;
}

static int parse_args(struct replay_args *a, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		char name[64], err[256];
		const char *arg = argv[i], *eq = strchr(arg, '='), *value = NULL;
		const struct boot_param *p;

		if (is_help(arg)) {
			cmd_replay_usage(stdout);
			return -1;
		}
		if (strncmp(arg, "--", 2)) {
			if (a->path)
				return usage_error("replay", "one trace file only ('%s' and '%s')",
						   a->path, arg);
			a->path = arg;
			continue;
		}
		if (eq) {
			snprintf(name, sizeof(name), "%.*s", (int)(eq - arg), arg);
			value = eq + 1;
		} else {
			snprintf(name, sizeof(name), "%s", arg);
		}
		if (!strcmp(name, "--compare") || !strcmp(name, "--no-replay")) {
			if (value)
				return usage_error("replay", "option %s takes no value", name);
			a->compare = true;
			if (!strcmp(name, "--no-replay"))
				a->replay = false;
			continue;
		}
		if (!strcmp(name, "--frames") || !strcmp(name, "--synth") ||
		    !strcmp(name, "--save-trace")) {
			if (!value) {
				if (i + 1 >= argc)
					return usage_error("replay", "option %s needs a value", name);
				value = argv[++i];
			}
			if (!strcmp(name, "--frames") && parse_frames(a, value, err, sizeof(err)))
				return usage_error("replay", "--frames: %s", err);
			if (!strcmp(name, "--synth") && parse_synth(a, value, err, sizeof(err)))
				return usage_error("replay", "--synth: %s", err);
			if (!strcmp(name, "--save-trace"))
				a->save_trace = value;
			continue;
		}
		if (!strcmp(name, "--quiet") || !strcmp(name, "--no-progress")) {
			if (value)
				return usage_error("replay", "option %s takes no value", name);
			a->progress = false;
			if (!strcmp(name, "--quiet"))
				a->cfg.mm.quiet = true;
			continue;
		}
		p = boot_param_by_option(name);
		if (!p)
			return usage_error("replay", "unknown option '%s' (see kmm replay --help)",
					   name);
		if (!p->metavar) {
			if (value)
				return usage_error("replay", "option %s takes no value", name);
			value = p->flag_value;
		} else if (!value) {
			if (i + 1 >= argc)
				return usage_error("replay", "option %s needs a value (%s)", name,
						   p->metavar);
			value = argv[++i];
		}
		if (p->set(&a->cfg, value, err, sizeof(err)))
			return usage_error("replay", "%s: %s", name, err);
	}
	if (a->synth && a->path)
		return usage_error("replay", "a trace file or --synth, not both");
	if (!a->path && !a->synth)
		return usage_error("replay", "which trace? (kmm replay FILE; see --help)");
	if (a->save_trace && !a->synth)
		return usage_error("replay", "--save-trace saves a --synth string");
	if (a->nr_frames && !a->compare)
		return usage_error("replay", "--frames goes with --compare");
	return 0;
}

/* What the replay leaves for --compare. */
struct replay_result {
	unsigned long free_frames;   /* frames free when the task started */
	unsigned long major, minor;
};

/* Boots the machine and replays path through a task; 0 or -1. */
static int replay(struct replay_args *a, const char *path, struct replay_result *out)
{
	struct plan *plan = calloc(1, sizeof(*plan));
	struct emu_tlb_stats tlb;
	struct task *t;
	uint64_t refs_done = 0;
	unsigned long resident;
	double t0, secs;
	char err[256] = "";
	int ret;

	if (!plan) {
		fprintf(stderr, "kmm replay: out of host memory\n");
		return -1;
	}
	if (plan_replay(path, plan)) {
		free(plan);
		return -1;
	}
	if (emu_boot(&a->cfg, err, sizeof(err))) {
		fprintf(stderr, "kmm replay: boot failed: %s\n", err[0] ? err : "error");
		free(plan);
		return -1;
	}
	fflush(stdout);
	ret = task_spawn("replay", &t);
	if (ret) {
		fprintf(stderr, "kmm replay: cannot create the task: error %d\n", -ret);
		emu_shutdown();
		free(plan);
		return -1;
	}
	drain_all_pages();
	out->free_frames = nr_free_pages();
	ret = map_areas(t, plan);
	t0 = now_s();
	if (!ret)
		ret = run_refs(t, path, plan->shift, a->progress, &refs_done);
	secs = now_s() - t0;
	emu_tlb_stats(&tlb);
	resident = t->mm ? get_mm_rss(t->mm) : 0;
	out->major = t->maj_flt;
	out->minor = t->min_flt;

	printf("%s%s: %s trace, %" PRIu64 " references (%" PRIu64 " accesses), %" PRIu64
	       " distinct pages, %u areas\n", a->cfg.mm.quiet ? "" : "\n", path,
	       trace_format_name(plan->format), plan->refs, plan->accesses, plan->pages,
	       plan->nr_areas);
	if (plan->shift)
		printf("the trace uses page 0, which a task cannot map: replayed %#" PRIx64
		       " bytes higher\n", plan->shift);
	printf("faults: %lu minor, %lu major (vmstat pgfault %lu, of which zero-page %lu, "
	       "cow %lu)\n", t->min_flt, t->maj_flt, vm_event_sum(PGFAULT),
	       vm_event_sum(PGZEROFAULT), vm_event_sum(PGCOWFAULT));
	printf("resident at the end: %lu pages (%lu KiB); TLB: %lu hits, %lu misses\n", resident,
	       resident * (PAGE_SIZE / 1024), tlb.hits, tlb.misses);
	printf("host time: %.3f s, %.1f ns per access\n", secs,
	       plan->accesses ? secs * 1e9 / (double)plan->accesses : 0.0);
	task_exit(t, 0);
	task_release(t);
	kmm_check();
	fflush(stdout);
	emu_shutdown();
	free(plan);
	return ret ? -1 : 0;
}

/*
 * --compare: the trace as a reference string of pages, and the faults of
 * OPT, LRU and CLOCK at each frame count. The policies' first touch of a
 * page is a cold fault, which in the replay is a minor fault (demand
 * paging), so the comparable figure is faults beyond the cold ones against
 * the replay's major faults.
 */
static int compare(struct replay_args *a, const char *path, const struct replay_result *res)
{
	static const enum policy policies[] = { POLICY_OPT, POLICY_LRU, POLICY_CLOCK };
	struct refstring s;
	uint64_t frames[MAX_COMPARE_FRAMES + 4];
	unsigned int nr = 0;
	char err[512];

	refstring_init(&s);
	if (refstring_from_trace(&s, path, err, sizeof(err))) {
		fprintf(stderr, "kmm replay: %s\n", err);
		refstring_free(&s);
		return -1;
	}
	if (a->nr_frames) {
		for (unsigned int i = 0; i < a->nr_frames; i++)
			frames[nr++] = a->frames[i].percent
				? (a->frames[i].value * s.distinct + 99) / 100 : a->frames[i].value;
	} else {
		if (res)
			frames[nr++] = res->free_frames;
		for (unsigned int pct = 25; pct <= 75; pct += 25)
			frames[nr++] = (pct * s.distinct + 99) / 100;
	}
	printf("\nreference string: %zu references to %zu distinct pages (repeats of one page "
	       "collapsed);\nfaults beyond the %zu cold ones, per policy and frame count:\n",
	       s.n, s.distinct, s.distinct);
	printf("  %12s", "frames");
	for (unsigned int p = 0; p < sizeof(policies) / sizeof(policies[0]); p++)
		printf(" %12s", policy_name(policies[p]));
	printf("%s\n", res ? "  kmm major" : "");
	for (unsigned int f = 0; f < nr; f++) {
		uint64_t k = frames[f] ? frames[f] : 1;

		printf("  %12" PRIu64, k);
		for (unsigned int p = 0; p < sizeof(policies) / sizeof(policies[0]); p++) {
			uint64_t faults = policy_faults(policies[p], &s, (size_t)k);

			if (faults == (uint64_t)-1) {
				fprintf(stderr, "kmm replay: out of host memory\n");
				refstring_free(&s);
				return -1;
			}
			printf(" %12" PRIu64, faults - s.distinct);
		}
		/* The replay's own figure belongs to the frames it had. */
		if (res && !a->nr_frames && f == 0)
			printf("  %lu (the machine, %" PRIu64 " frames free at the start)",
			       res->major, k);
		printf("\n");
	}
	refstring_free(&s);
	return 0;
}

/* --synth: writes the string to --save-trace or a temporary file. */
static int write_synth(struct replay_args *a, char *tmp, size_t len)
{
	struct refstring s;
	char err[512];
	int ret;

	refstring_init(&s);
	if (synth_generate(&s, a->synth_kind, a->synth_pages, a->synth_refs, a->synth_seed)) {
		fprintf(stderr, "kmm replay: --synth: out of host memory\n");
		refstring_free(&s);
		return -1;
	}
	if (!a->save_trace) {
		int fd;

		snprintf(tmp, len, "%s/kmm-synth-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		fd = mkstemp(tmp);
		if (fd < 0) {
			perror("kmm replay: temporary trace");
			refstring_free(&s);
			tmp[0] = 0;
			return -1;
		}
		close(fd);
	}
	/* Pages from 1 GiB up: a private area, as a program's heap. */
	ret = refstring_write_trace(&s, a->save_trace ? a->save_trace : tmp, 1UL << 18, err,
				    sizeof(err));
	if (ret)
		fprintf(stderr, "kmm replay: %s\n", err);
	else
		printf("synthetic %s string: %zu references to %zu pages (seed %" PRIu64 ")%s%s\n",
		       synth_name(a->synth_kind), s.n, s.distinct, a->synth_seed,
		       a->save_trace ? ", saved in " : "", a->save_trace ? a->save_trace : "");
	refstring_free(&s);
	a->path = a->save_trace ? a->save_trace : tmp;
	return ret;
}

int cmd_replay(int argc, char **argv)
{
	struct replay_args a = { .path = NULL, .replay = true };
	struct replay_result res = { 0 };
	char tmp[4096] = "";
	int ret;

	emu_config_default(&a.cfg);
	a.progress = isatty(STDERR_FILENO);
	ret = parse_args(&a, argc, argv);
	if (ret)
		return ret < 0 ? 0 : ret;
	if (a.synth && write_synth(&a, tmp, sizeof(tmp)))
		ret = -1;
	if (!ret && a.replay)
		ret = replay(&a, a.path, &res);
	if (!ret && a.compare)
		ret = compare(&a, a.path, a.replay ? &res : NULL);
	if (tmp[0])
		unlink(tmp);
	return ret ? EXIT_FAILURE : 0;
}
