/*
 * kmm record -o FILE [--] CMD [ARGS...]: runs a real program under
 * valgrind's lackey tool, which reports every instruction fetch, load and
 * store the program makes, and turns that stream into a kmm trace
 * (trace.h): references at page granularity, consecutive references of one
 * kind to one page collapsed into a count, and the program's areas, which
 * lackey does not report, inferred from the pages used: runs of pages with
 * gaps of at most AREA_GAP_PAGES, readable always, writable if stored to,
 * executable if fetched from.
 *
 * The references go to a temporary file while the program runs (the areas
 * are known only at its end), then the trace is written: header, areas,
 * references; gzip-compressed when FILE ends in ".gz". A "modify" (lackey's
 * M: a load and a store of one datum) is recorded as a store.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "kmm_tool.h"
#include "trace.h"

#define AREA_GAP_PAGES 16

void cmd_record_usage(FILE *f)
{
	fprintf(f, "Usage: kmm record -o FILE [--] CMD [ARGS...]\n"
		   "\n"
		   "Runs CMD under valgrind's lackey tool and records its memory references\n"
		   "as a page-level kmm trace (gzip-compressed if FILE ends in .gz), to be\n"
		   "replayed with kmm replay FILE. Needs valgrind (scripts/deps.sh installs\n"
		   "it). Programs run about 100 times slower under lackey.\n"
		   "\n"
		   "  %-26s %s\n"
		   "  %-26s %s\n"
		   "  %-26s %s\n",
		   "-o, --output FILE", "where to write the trace",
		   "--no-progress", "no progress line on a terminal",
		   "-h, --help", "this help");
}

/* The pages used, with what was done to them (bit 0 load, 1 store, 2 fetch). */
struct page_map {
	uint64_t *pages;     /* page + 1; 0: empty */
	uint8_t *kinds;
	size_t cap, n;
};

static bool page_map_add(struct page_map *m, uint64_t page, uint8_t kind)
{
	if (m->n * 2 >= m->cap) {
		struct page_map b = { 0 };

		b.cap = m->cap ? m->cap * 2 : 4096;
		b.pages = calloc(b.cap, sizeof(*b.pages));
		b.kinds = calloc(b.cap, 1);
		if (!b.pages || !b.kinds) {
			free(b.pages);
			free(b.kinds);
			return false;
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->pages[i])
				page_map_add(&b, m->pages[i] - 1, m->kinds[i]);
		free(m->pages);
		free(m->kinds);
		*m = b;
	}
	for (size_t i = (page * 0x9e3779b97f4a7c15ULL) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (m->pages[i] == page + 1) {
			m->kinds[i] |= kind;
			return true;
		}
		if (!m->pages[i]) {
			m->pages[i] = page + 1;
			m->kinds[i] = kind;
			m->n++;
			return true;
		}
	}
}

struct page_kind {
	uint64_t page;
	uint8_t kind;
};

static int cmp_page(const void *a, const void *b)
{
	uint64_t x = ((const struct page_kind *)a)->page, y = ((const struct page_kind *)b)->page;

	return x < y ? -1 : x > y;
}

/* Writes the areas: runs of used pages. Returns how many, or -1. */
static int write_areas(gzFile out, const struct page_map *m)
{
	struct page_kind *v = malloc((m->n ? m->n : 1) * sizeof(*v));
	size_t k = 0;
	int nr = 0;

	if (!v)
		return -1;
	for (size_t i = 0; i < m->cap; i++)
		if (m->pages[i])
			v[k++] = (struct page_kind){ m->pages[i] - 1, m->kinds[i] };
	qsort(v, k, sizeof(*v), cmp_page);
	for (size_t i = 0; i < k;) {
		size_t j = i;
		uint8_t kind = v[i].kind;

		while (j + 1 < k && v[j + 1].page <= v[j].page + AREA_GAP_PAGES + 1)
			kind |= v[++j].kind;
		if (nr == TRACE_MAX_AREAS) {
			free(v);
			errno = E2BIG;
			return -1;
		}
		gzprintf(out, "area 0x%" PRIx64 " 0x%" PRIx64 " r%c%cp [recorded]\n",
			 v[i].page << 12, (v[j].page + 1) << 12, kind & 2 ? 'w' : '-',
			 kind & 4 ? 'x' : '-');
		nr++;
		i = j + 1;
	}
	free(v);
	return nr;
}

struct recorder {
	FILE *refs;             /* the temporary file of references */
	struct page_map pages;
	uint64_t last_page;
	char last_op;           /* 0: none yet */
	uint64_t count, lines, refs_written;
};

static void flush_run(struct recorder *r)
{
	if (r->last_op) {
		fprintf(r->refs, "%c 0x%" PRIx64 " %" PRIu64 "\n", r->last_op, r->last_page,
			r->count);
		r->refs_written++;
	}
}

/* One lackey line: "I  ADDR,SIZE", " L ADDR,SIZE", " S ...", " M ...". */
static bool record_line(struct recorder *r, const char *line)
{
	char kind;
	uint64_t addr, page;
	unsigned int size;
	char op;

	if (line[0] == '=' || sscanf(line, " %c %" SCNx64 ",%u", &kind, &addr, &size) != 3)
		return true;   /* valgrind's own messages */
	switch (kind) {
	case 'I': op = 'X'; break;
	case 'L': op = 'R'; break;
	case 'S': case 'M': op = 'W'; break;
	default: return true;
	}
	page = addr >> 12;
	r->lines++;
	if (!page_map_add(&r->pages, page, op == 'R' ? 1 : op == 'W' ? 2 : 4))
		return false;
	if (op == r->last_op && page == r->last_page) {
		r->count++;
		return true;
	}
	flush_run(r);
	r->last_op = op;
	r->last_page = page;
	r->count = 1;
	return true;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

/* Runs valgrind; its lackey log comes through a pipe on fd 3. */
static pid_t start_valgrind(char **cmd, int *log_fd)
{
	int fds[2];
	pid_t pid;

	if (pipe(fds))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		int n = 0;
		char **argv;

		while (cmd[n])
			n++;
		argv = calloc((size_t)n + 5, sizeof(*argv));
		if (!argv)
			_exit(127);
		argv[0] = "valgrind";
		argv[1] = "--tool=lackey";
		argv[2] = "--trace-mem=yes";
		argv[3] = "--log-fd=3";
		memcpy(argv + 4, cmd, (size_t)n * sizeof(*argv));
		close(fds[0]);
		if (fds[1] != 3) {
			dup2(fds[1], 3);
			close(fds[1]);
		}
		execvp("valgrind", argv);
		fprintf(stderr, "kmm record: cannot run valgrind: %s (scripts/deps.sh installs "
			"it)\n", strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	*log_fd = fds[0];
	return pid;
}

int cmd_record(int argc, char **argv)
{
	const char *out_path = NULL;
	bool progress = isatty(STDERR_FILENO);
	struct recorder r = { 0 };
	char line[512];
	FILE *log;
	gzFile out;
	int i, log_fd, status, areas;
	pid_t pid;

	for (i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			cmd_record_usage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) {
			if (i + 1 >= argc)
				return usage_error("record", "option %s needs a value (FILE)", argv[i]);
			out_path = argv[++i];
		} else if (!strncmp(argv[i], "--output=", 9)) {
			out_path = argv[i] + 9;
		} else if (!strcmp(argv[i], "--no-progress")) {
			progress = false;
		} else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (argv[i][0] == '-') {
			return usage_error("record", "unknown option '%s' (see kmm record --help)",
					   argv[i]);
		} else {
			break;
		}
	}
	if (!out_path)
		return usage_error("record", "where to? (kmm record -o FILE -- CMD ...)");
	if (i >= argc)
		return usage_error("record", "which program? (kmm record -o FILE -- CMD ...)");

	r.refs = tmpfile();
	if (!r.refs) {
		fprintf(stderr, "kmm record: cannot create a temporary file: %s\n", strerror(errno));
		return EXIT_FAILURE;
	}
	pid = start_valgrind(argv + i, &log_fd);
	if (pid < 0 || !(log = fdopen(log_fd, "r"))) {
		fprintf(stderr, "kmm record: cannot start valgrind: %s\n", strerror(errno));
		fclose(r.refs);
		return EXIT_FAILURE;
	}
	while (fgets(line, sizeof(line), log)) {
		if (!record_line(&r, line)) {
			fprintf(stderr, "kmm record: out of host memory\n");
			kill(pid, SIGKILL);
			break;
		}
		if (progress && !(r.lines & 0xfffff) && r.lines) {
			fprintf(stderr, "\r  record: %" PRIu64 " references, %zu pages", r.lines,
				r.pages.n);
			fflush(stderr);
		}
	}
	fclose(log);
	if (progress)
		fprintf(stderr, "\r%60s\r", "");
	flush_run(&r);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) == 127) {
		fprintf(stderr, "kmm record: valgrind failed (%s)\n",
			WIFSIGNALED(status) ? "killed by a signal" : "could not run the program");
		fclose(r.refs);
		return EXIT_FAILURE;
	}
	if (!r.lines) {
		fprintf(stderr, "kmm record: valgrind reported no memory reference\n");
		fclose(r.refs);
		return EXIT_FAILURE;
	}

	out = gzopen(out_path, has_suffix(out_path, ".gz") ? "wb6" : "wbT");
	if (!out) {
		fprintf(stderr, "kmm record: %s: %s\n", out_path, strerror(errno));
		fclose(r.refs);
		return EXIT_FAILURE;
	}
	gzprintf(out, "# kmm-trace 1\n# recorded from:");
	for (int k = i; k < argc; k++)
		gzprintf(out, " %s", argv[k]);
	gzprintf(out, "\n# %" PRIu64 " references in %" PRIu64 " runs, %zu pages\n", r.lines,
		 r.refs_written, r.pages.n);
	areas = write_areas(out, &r.pages);
	rewind(r.refs);
	while (areas >= 0 && fgets(line, sizeof(line), r.refs))
		gzputs(out, line);
	if (gzclose(out) != Z_OK || areas < 0 || ferror(r.refs)) {
		fprintf(stderr, "kmm record: %s: %s\n", out_path,
			areas < 0 ? "too many areas" : "write failed");
		fclose(r.refs);
		free(r.pages.pages);
		free(r.pages.kinds);
		return EXIT_FAILURE;
	}
	fclose(r.refs);
	free(r.pages.pages);
	free(r.pages.kinds);
	printf("kmm record: %s: %" PRIu64 " references (%" PRIu64 " runs) to %zu pages in %d "
	       "areas; program exit status %d\n", out_path, r.lines, r.refs_written, r.pages.n,
	       areas, WEXITSTATUS(status));
	return 0;
}
