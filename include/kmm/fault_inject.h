/*
 * Fault injection, after Linux's fault-injection framework and SQLite's
 * malloc tests: a site asks should_fail(attr) and fails on purpose when told.
 * An attribute fails either the Nth call (counting from 1) or every call with
 * probability probability_ppm / 1e6 under a seeded generator, so a failing
 * run can be replayed from its seed.
 */
#ifndef KMM_FAULT_INJECT_H
#define KMM_FAULT_INJECT_H

#include <kmm/types.h>
#include <stdatomic.h>

struct fault_attr {
	const char *name;
	unsigned long fail_nth;       /* 0: off; N: fail call number N only */
	uint32_t probability_ppm;     /* 0: off; else chance per call, in 1e-6 */
	uint64_t seed;
	atomic_ulong calls;           /* calls seen since configured */
	atomic_ulong injected;        /* failures injected */
	_Atomic uint64_t rng;         /* xorshift state, from seed */
};

void fault_attr_configure(struct fault_attr *attr, unsigned long fail_nth,
			  uint32_t probability_ppm, uint64_t seed);
bool __should_fail(struct fault_attr *attr);

/* Inline so that a site with injection off pays two loads, not a call. */
static inline bool should_fail(struct fault_attr *attr)
{
	if (__builtin_expect(!attr->fail_nth && !attr->probability_ppm, 1))
		return false;
	return __should_fail(attr);
}

/* Page allocations (alloc_pages) */
extern struct fault_attr fail_page_alloc;

#endif
