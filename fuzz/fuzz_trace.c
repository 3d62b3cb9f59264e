/*
 * Fuzz target: the trace parsers of kmm replay (tools/kmm/trace.c: the kmm,
 * SPEC address, LIRS block and R|W formats, plain or gzip) and, for a trace
 * they accept that is short enough, the whole replay (tools/kmm/cmd_replay.c)
 * on a small machine: the recorded areas mapped fixed wherever the trace
 * says, every reference sent through the MMU, the invariant checkers run at
 * the end.
 *
 * The input is written to a file, since the readers take a path (zlib reads
 * it). A trace may be refused, with a message; what must never happen is a
 * crash, a sanitizer report, a kernel panic, or a reference that breaks
 * what trace.h promises (counts >= 1, kmm pages page-aligned, block pages
 * above BLOCK_TRACE_BASE, areas page-aligned and non-empty).
 */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "kmm_tool.h"
#include "trace.h"

/* Bounds that keep one input well under a second. */
#define PARSE_MAX_REFS (1u << 16)
#define REPLAY_MAX_REFS 512
#define REPLAY_MAX_ACCESSES 4096

static char path[600];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_setup();
	snprintf(path, sizeof(path), "%s/trace", fuzz_tmpdir("trace"));
	return 0;
}

/* Reads the whole trace; 1 if it parsed to the end within the bounds. */
static int parse(uint64_t *refs, uint64_t *accesses)
{
	struct trace_reader *r;
	struct trace_ref ref;
	const struct trace_area *areas;
	unsigned int nr;
	char err[512] = "";
	int got = 0;

	*refs = *accesses = 0;
	if (trace_open(path, &r, err, sizeof(err))) {
		if (!err[0] || !memchr(err, '\0', sizeof(err)))
			fuzz_fail("trace_open failed without a message");
		return 0;
	}
	areas = trace_areas(r, &nr);
	if (nr > TRACE_MAX_AREAS || (nr && trace_format(r) != TRACE_KMM))
		fuzz_fail("%u areas in a %s trace", nr, trace_format_name(trace_format(r)));
	for (unsigned int i = 0; i < nr; i++)
		if (areas[i].start >= areas[i].end || ((areas[i].start | areas[i].end) & 0xfff) ||
		    strlen(areas[i].perms) != 4 || !memchr(areas[i].name, '\0', sizeof(areas[i].name)))
			fuzz_fail("bad area %u accepted", i);
	while (*refs < PARSE_MAX_REFS && (got = trace_next(r, &ref, err, sizeof(err))) == 1) {
		if (!ref.count)
			fuzz_fail("a reference with count 0");
		if (ref.op != TRACE_LOAD && ref.op != TRACE_STORE && ref.op != TRACE_FETCH)
			fuzz_fail("bad op %d", (int)ref.op);
		switch (trace_format(r)) {
		case TRACE_KMM:
			if (ref.addr & 0xfff)
				fuzz_fail("kmm trace page 0x%llx not page-aligned",
					  (unsigned long long)ref.addr);
			break;
		case TRACE_BLOCK:
			if (ref.addr < BLOCK_TRACE_BASE || ref.addr >= (1ULL << 46) ||
			    ref.op != TRACE_STORE)
				fuzz_fail("block reference 0x%llx", (unsigned long long)ref.addr);
			break;
		case TRACE_ADDRESS:
		case TRACE_RW:
			if (ref.op == TRACE_FETCH)
				fuzz_fail("a fetch in a %s trace", trace_format_name(trace_format(r)));
			break;
		}
		(*refs)++;
		*accesses += ref.count < REPLAY_MAX_ACCESSES ? ref.count : REPLAY_MAX_ACCESSES + 1;
	}
	if (*refs == PARSE_MAX_REFS) {
		trace_close(r);
		return 0;
	}
	if (got < 0 && (!err[0] || !memchr(err, '\0', sizeof(err))))
		fuzz_fail("trace_next failed without a message");
	trace_close(r);
	return got == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t refs, accesses;
	char *argv[] = { "replay", path, "--quiet", "--no-progress", "--ram=16M", "--cpus=1",
			 NULL };
	int ret;

	fuzz_input_begin();
	fuzz_write_file(path, data, size, 0644);
	if (!parse(&refs, &accesses) || refs > REPLAY_MAX_REFS || accesses > REPLAY_MAX_ACCESSES)
		return 0;
	/* 0: replayed; 1: refused (an address outside the task, an area that
	   cannot be mapped) or the task was killed. Anything else is ours. */
	ret = cmd_replay((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv);
	if (ret != 0 && ret != 1)
		fuzz_fail("kmm replay exited %d", ret);
	return 0;
}
