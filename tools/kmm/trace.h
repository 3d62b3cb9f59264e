/*
 * Memory-reference traces: the formats kmm reads (trace.c), replays through
 * an emulated task (cmd_replay.c) and writes (cmd_record.c). Host code: the
 * traces are files on the host.
 *
 * Formats, detected from the first line that is not a comment, each plain
 * or gzip-compressed:
 *   kmm      "# kmm-trace 1", then "area 0xSTART 0xEND PERMS NAME" lines
 *            (the recorded program's areas), then "R|W|X 0xPAGE COUNT"
 *            (COUNT consecutive references to page PAGE).
 *   address  "l|s 0xADDRESS N": a load or store, N instructions since the
 *            previous one (SPEC traces of ../shared/traces/address).
 *   block    one block number a line, a block taken as a page (the LIRS
 *            traces); pages are placed from BLOCK_TRACE_BASE up.
 *   rw       "R|W ADDRESS" a line (hex with 0x, or decimal).
 * Lines starting with '#' are comments. A malformed line stops the read
 * with "FILE:LINE: reason".
 */
#ifndef KMM_TRACE_H
#define KMM_TRACE_H

#include <stddef.h>
#include <stdint.h>

enum trace_op { TRACE_LOAD, TRACE_STORE, TRACE_FETCH };

enum trace_format { TRACE_KMM, TRACE_ADDRESS, TRACE_BLOCK, TRACE_RW };

/* Where block traces' pages go in the replaying task (above the ELF base). */
#define BLOCK_TRACE_BASE 0x10000000ULL

struct trace_ref {
	uint64_t addr;      /* a byte address in the task */
	enum trace_op op;
	uint64_t count;     /* consecutive references (>= 1) */
};

/* An area of a recorded program (kmm format only). */
struct trace_area {
	uint64_t start, end;
	char perms[5];      /* "rwxp" style */
	char name[64];
};

#define TRACE_MAX_AREAS 4096

struct trace_reader;

/* 0 and *out, or -1 with a message in err. */
int trace_open(const char *path, struct trace_reader **out, char *err, size_t len);
/* 1: *ref filled; 0: end of the trace; -1: error, message in err. */
int trace_next(struct trace_reader *r, struct trace_ref *ref, char *err, size_t len);
enum trace_format trace_format(const struct trace_reader *r);
const char *trace_format_name(enum trace_format f);
/* The recorded areas (kmm format; none for the others). */
const struct trace_area *trace_areas(const struct trace_reader *r, unsigned int *n);
/* Bytes of the (possibly compressed) file read so far, and its size. */
void trace_progress(const struct trace_reader *r, uint64_t *done, uint64_t *total);
void trace_close(struct trace_reader *r);

#endif
