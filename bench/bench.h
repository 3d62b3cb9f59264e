/*
 * Shared benchmark helpers: a monotonic clock, a timing harness that
 * calibrates the number of iterations, warms up and repeats, and the output
 * DESIGN.md defines — one JSON object a line, kmm against a named peer
 * measured in the same run:
 *
 *   {"name": "page.order0.pcp", "unit": "ns/op", "kmm": 6.1,
 *    "peer": "freelist", "peer_value": 2.4, "ratio": 2.54}
 *
 * A benchmark binary calls bench_init(argc, argv) first; its optional
 * argument is a name prefix, and only benchmarks whose name starts with it
 * run (bench_selected). Environment knobs, for quick or careful runs:
 *   KMM_BENCH_REPS  repetitions of each measurement (default 7)
 *   KMM_BENCH_MS    target length of one repetition in ms (default 40)
 *   KMM_BENCH_STAT  "median" (default) or "best" across repetitions
 */
#ifndef KMM_BENCH_H
#define KMM_BENCH_H

#include <stdbool.h>
#include <stdint.h>

void bench_init(int argc, char **argv);

/* Runs the benchmark called name? (its name starts with the prefix given) */
bool bench_selected(const char *name);
/* Might any benchmark of a group whose names start with group run? */
bool bench_group_selected(const char *group);

/* CLOCK_MONOTONIC, in nanoseconds. */
uint64_t bench_now_ns(void);

/* A timed loop: performs iters iterations of what is measured. */
typedef void (*bench_loop_fn)(void *arg, uint64_t iters);

/*
 * Times loop: finds an iteration count that makes one call last about
 * KMM_BENCH_MS (which also warms caches and lists up), then runs
 * KMM_BENCH_REPS calls and returns the median (or best) time per
 * operation in ns, an iteration counting ops_per_iter operations.
 */
double bench_ns_per_op(bench_loop_fn loop, void *arg, double ops_per_iter);

/* The median (or best, per KMM_BENCH_STAT) of n samples; reorders them. */
double bench_statistic(double *samples, int n);
int bench_reps(void);

/* Prints one JSON line (ratio = kmm / peer_value) and flushes stdout. */
void bench_report(const char *name, const char *unit, double kmm, const char *peer,
		  double peer_value);

/* Keeps the compiler from optimizing a value (e.g. a pointer) away. */
#define bench_escape(p) __asm__ volatile("" : : "g"(p) : "memory")

#endif
