/*
 * Benchmark harness (see bench.h). Timing repeats a calibrated loop and
 * reports the median by default: on a shared machine the median resists
 * the occasional preempted repetition, and "best" is there for the lower
 * bound when the machine is quiet.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *prefix = "";
static int reps = 7;
static double rep_ns = 40e6;
static bool use_best;

void bench_init(int argc, char **argv)
{
	const char *env;

	if (argc > 1 && argv[1])
		prefix = argv[1];
	if (argc > 2 || !strcmp(prefix, "-h") || !strcmp(prefix, "--help")) {
		fprintf(stderr, "usage: %s [NAME-PREFIX]\n", argv[0]);
		exit(2);
	}
	if ((env = getenv("KMM_BENCH_REPS")) && atoi(env) > 0)
		reps = atoi(env);
	if ((env = getenv("KMM_BENCH_MS")) && atof(env) > 0)
		rep_ns = atof(env) * 1e6;
	if ((env = getenv("KMM_BENCH_STAT")))
		use_best = !strcmp(env, "best");
}

bool bench_selected(const char *name)
{
	return !strncmp(name, prefix, strlen(prefix));
}

bool bench_group_selected(const char *group)
{
	size_t n = strlen(group) < strlen(prefix) ? strlen(group) : strlen(prefix);

	return !strncmp(group, prefix, n);
}

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int bench_reps(void)
{
	return reps;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_statistic(double *samples, int n)
{
	qsort(samples, (size_t)n, sizeof(*samples), cmp_double);
	if (use_best)
		return samples[0];
	return n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
}

static double time_call(bench_loop_fn loop, void *arg, uint64_t iters)
{
	uint64_t t0 = bench_now_ns();

	loop(arg, iters);
	return (double)(bench_now_ns() - t0);
}

double bench_ns_per_op(bench_loop_fn loop, void *arg, double ops_per_iter)
{
	double samples[64];
	uint64_t iters = 1;
	double t;
	int n = reps < 64 ? reps : 64;

	/* Calibrate (and warm up): grow until one call takes a tenth of the target. */
	while ((t = time_call(loop, arg, iters)) < rep_ns / 10 && iters < (1ULL << 40))
		iters *= 4;
	iters = (uint64_t)((double)iters * rep_ns / (t > 1 ? t : 1));
	if (iters == 0)
		iters = 1;
	time_call(loop, arg, iters);
	for (int i = 0; i < n; i++)
		samples[i] = time_call(loop, arg, iters) / ((double)iters * ops_per_iter);
	return bench_statistic(samples, n);
}

void bench_report(const char *name, const char *unit, double kmm, const char *peer,
		  double peer_value)
{
	printf("{\"name\": \"%s\", \"unit\": \"%s\", \"kmm\": %.3g, \"peer\": \"%s\", "
	       "\"peer_value\": %.3g, \"ratio\": %.3g}\n",
	       name, unit, kmm, peer, peer_value, peer_value != 0 ? kmm / peer_value : 0.0);
	fflush(stdout);
}
