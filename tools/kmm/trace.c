/*
 * Reading memory-reference traces (formats in trace.h). zlib's gz* calls
 * read compressed and plain files alike. The format is fixed by the first
 * line that is not a comment, and every later line must be of that
 * format: a trace that mixes them is more likely damaged than clever.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "trace.h"

#define LINE_MAX_LEN 512

struct trace_reader {
	gzFile gz;
	char *path;
	unsigned long line_no;
	enum trace_format format;
	bool format_known;
	bool header_seen;          /* kmm: "# kmm-trace 1" */
	char pending[LINE_MAX_LEN]; /* the first data line, read by trace_open */
	bool have_pending;
	struct trace_area *areas;
	unsigned int nr_areas;
	uint64_t size;
};

static int fail(struct trace_reader *r, char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct trace_reader *r, char *err, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, len, "%s:%lu: ", r->path, r->line_no);

	if (n < 0 || (size_t)n >= len)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err + n, len - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

const char *trace_format_name(enum trace_format f)
{
	switch (f) {
	case TRACE_KMM: return "kmm";
	case TRACE_ADDRESS: return "address";
	case TRACE_BLOCK: return "block";
	case TRACE_RW: return "rw";
	}
	return "?";
}

/* Reads the next line without its newline. 1, 0 at the end, -1 on error. */
static int read_line(struct trace_reader *r, char *buf, char *err, size_t len)
{
	size_t n;

	if (!gzgets(r->gz, buf, LINE_MAX_LEN)) {
		int zerr;
		const char *msg = gzerror(r->gz, &zerr);

		if (zerr != Z_OK && zerr != Z_BUF_ERROR)
			return fail(r, err, len, "cannot read: %s",
				    zerr == Z_ERRNO ? strerror(errno) : msg);
		return 0;
	}
	r->line_no++;
	n = strlen(buf);
	if (n == LINE_MAX_LEN - 1 && buf[n - 1] != '\n')
		return fail(r, err, len, "line longer than %d bytes", LINE_MAX_LEN - 2);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return 1;
}

static bool blank(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return !*s;
}

/* An unsigned number in hex (0x...) or decimal, the whole token. */
static bool parse_u64(const char *tok, uint64_t *out)
{
	char *end;

	if (!tok || !*tok || *tok == '-' || *tok == '+')
		return false;
	errno = 0;
	*out = strtoull(tok, &end, 0);
	return !errno && !*end;
}

static enum trace_format guess_format(const char *line)
{
	char op[8];
	char arg[64];

	if (sscanf(line, "%7s %63s", op, arg) == 2) {
		if ((!strcmp(op, "l") || !strcmp(op, "s")) && !strncmp(arg, "0x", 2))
			return TRACE_ADDRESS;
		if (!strcmp(op, "R") || !strcmp(op, "W"))
			return TRACE_RW;
	}
	return TRACE_BLOCK;
}

static int parse_area(struct trace_reader *r, char *line, char *err, size_t len)
{
	char *save, *tok[6];
	unsigned int n = 0;
	struct trace_area *a;

	for (char *t = strtok_r(line, " \t", &save); t && n < 6; t = strtok_r(NULL, " \t", &save))
		tok[n++] = t;
	if (n != 5)
		return fail(r, err, len, "an area line is: area 0xSTART 0xEND PERMS NAME");
	if (r->nr_areas == TRACE_MAX_AREAS)
		return fail(r, err, len, "more than %d areas", TRACE_MAX_AREAS);
	a = &r->areas[r->nr_areas];
	if (!parse_u64(tok[1], &a->start) || !parse_u64(tok[2], &a->end) ||
	    a->start >= a->end || (a->start | a->end) & 0xfff)
		return fail(r, err, len, "bad area range '%s %s' (page-aligned, start < end)",
			    tok[1], tok[2]);
	if (strlen(tok[3]) != 4 || strspn(tok[3], "rwxp-s") != 4)
		return fail(r, err, len, "bad area permissions '%s' (like r-xp)", tok[3]);
	memcpy(a->perms, tok[3], 5);
	snprintf(a->name, sizeof(a->name), "%s", tok[4]);
	r->nr_areas++;
	return 0;
}

int trace_open(const char *path, struct trace_reader **out, char *err, size_t len)
{
	struct trace_reader *r = calloc(1, sizeof(*r));
	struct stat st;
	char line[LINE_MAX_LEN];
	int got;

	if (!r || !(r->path = strdup(path)) ||
	    !(r->areas = calloc(TRACE_MAX_AREAS, sizeof(*r->areas)))) {
		snprintf(err, len, "%s: out of memory", path);
		goto fail_free;
	}
	if (stat(path, &st) || !(r->gz = gzopen(path, "rb"))) {
		snprintf(err, len, "%s: %s", path, strerror(errno ? errno : ENOMEM));
		goto fail_free;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, len, "%s: not a regular file", path);
		goto fail_free;
	}
	r->size = (uint64_t)st.st_size;
	gzbuffer(r->gz, 256 * 1024);
	/* Comments, the kmm header and areas, up to the first reference. */
	while ((got = read_line(r, line, err, len)) == 1) {
		if (blank(line))
			continue;
		if (line[0] == '#') {
			if (!strncmp(line, "# kmm-trace", 11)) {
				if (strcmp(line, "# kmm-trace 1")) {
					fail(r, err, len, "unknown kmm trace version ('%s')", line);
					goto fail_free;
				}
				r->header_seen = true;
			}
			continue;
		}
		if (r->header_seen && !strncmp(line, "area ", 5)) {
			if (parse_area(r, line, err, len))
				goto fail_free;
			continue;
		}
		r->format = r->header_seen ? TRACE_KMM : guess_format(line);
		r->format_known = true;
		memcpy(r->pending, line, sizeof(line));
		r->have_pending = true;
		break;
	}
	if (got < 0)
		goto fail_free;
	if (!r->format_known) {
		if (r->header_seen) {
			r->format = TRACE_KMM;
		} else {
			snprintf(err, len, "%s: no references in the file", path);
			goto fail_free;
		}
	}
	*out = r;
	return 0;

fail_free:
	trace_close(r);
	return -1;
}

static int parse_ref(struct trace_reader *r, char *line, struct trace_ref *ref, char *err,
		     size_t len)
{
	char *save, *tok[4];
	unsigned int n = 0;
	uint64_t v;

	for (char *t = strtok_r(line, " \t", &save); t && n < 4; t = strtok_r(NULL, " \t", &save))
		tok[n++] = t;
	ref->count = 1;
	switch (r->format) {
	case TRACE_KMM:
		if (n != 3 || strlen(tok[0]) != 1 || !strchr("RWX", tok[0][0]))
			return fail(r, err, len, "expected 'R|W|X 0xPAGE COUNT'");
		if (!parse_u64(tok[1], &v) || v > (UINT64_MAX >> 12))
			return fail(r, err, len, "bad page number '%s'", tok[1]);
		if (!parse_u64(tok[2], &ref->count) || !ref->count)
			return fail(r, err, len, "bad count '%s' (a number >= 1)", tok[2]);
		ref->addr = v << 12;
		ref->op = tok[0][0] == 'R' ? TRACE_LOAD : tok[0][0] == 'W' ? TRACE_STORE
									    : TRACE_FETCH;
		return 1;
	case TRACE_ADDRESS:
		if (n != 3 || (strcmp(tok[0], "l") && strcmp(tok[0], "s")))
			return fail(r, err, len, "expected 'l|s 0xADDRESS N'");
		if (!parse_u64(tok[1], &ref->addr))
			return fail(r, err, len, "bad address '%s'", tok[1]);
		if (!parse_u64(tok[2], &v))
			return fail(r, err, len, "bad instruction count '%s'", tok[2]);
		ref->op = tok[0][0] == 'l' ? TRACE_LOAD : TRACE_STORE;
		return 1;
	case TRACE_BLOCK:
		if (n != 1 || !parse_u64(tok[0], &v))
			return fail(r, err, len, "expected one block number");
		if (v > ((1ULL << 46) - BLOCK_TRACE_BASE) >> 12)
			return fail(r, err, len, "block number %" PRIu64 " too large", v);
		ref->addr = BLOCK_TRACE_BASE + (v << 12);
		/* A block trace says which page is used, not how: a store gives
		   each page a frame of its own, as a cached block holds one (a
		   load would map the shared zero page and use no memory). */
		ref->op = TRACE_STORE;
		return 1;
	case TRACE_RW:
		if (n != 2 || (strcmp(tok[0], "R") && strcmp(tok[0], "W")))
			return fail(r, err, len, "expected 'R|W ADDRESS'");
		if (!parse_u64(tok[1], &ref->addr))
			return fail(r, err, len, "bad address '%s'", tok[1]);
		ref->op = tok[0][0] == 'R' ? TRACE_LOAD : TRACE_STORE;
		return 1;
	}
	return fail(r, err, len, "unknown format");
}

int trace_next(struct trace_reader *r, struct trace_ref *ref, char *err, size_t len)
{
	char line[LINE_MAX_LEN];
	int got;

	for (;;) {
		if (r->have_pending) {
			memcpy(line, r->pending, sizeof(line));
			r->have_pending = false;
		} else if ((got = read_line(r, line, err, len)) <= 0) {
			return got;
		}
		if (blank(line) || line[0] == '#')
			continue;
		/* Some LIRS traces hold "*" lines between their phases. */
		if (r->format == TRACE_BLOCK && !strcmp(line, "*"))
			continue;
		return parse_ref(r, line, ref, err, len) < 0 ? -1 : 1;
	}
}

enum trace_format trace_format(const struct trace_reader *r)
{
	return r->format;
}

const struct trace_area *trace_areas(const struct trace_reader *r, unsigned int *n)
{
	*n = r->nr_areas;
	return r->areas;
}

void trace_progress(const struct trace_reader *r, uint64_t *done, uint64_t *total)
{
	z_off_t off = gzoffset(r->gz);

	*done = off < 0 ? 0 : (uint64_t)off;
	*total = r->size;
}

void trace_close(struct trace_reader *r)
{
	if (!r)
		return;
	if (r->gz)
		gzclose(r->gz);
	free(r->areas);
	free(r->path);
	free(r);
}
