/*
 * Fault injection (see kmm/fault_inject.h). The generator is xorshift64*,
 * seeded per attribute, so a probabilistic run replays exactly from its seed
 * in the deterministic machine. In SMP mode the order in which CPUs draw
 * numbers varies, so only the rate is reproducible there.
 */
#include <kmm/fault_inject.h>

struct fault_attr fail_page_alloc = { .name = "fail_page_alloc" };

void fault_attr_configure(struct fault_attr *attr, unsigned long fail_nth,
			  uint32_t probability_ppm, uint64_t seed)
{
	attr->fail_nth = fail_nth;
	attr->probability_ppm = probability_ppm;
	attr->seed = seed;
	atomic_store(&attr->calls, 0);
	atomic_store(&attr->injected, 0);
	atomic_store(&attr->rng, seed ? seed : 0x9e3779b97f4a7c15ULL);
}

static uint64_t fault_random(struct fault_attr *attr)
{
	uint64_t old = atomic_load_explicit(&attr->rng, memory_order_relaxed);
	uint64_t x;

	do {
		x = old;
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
	} while (!atomic_compare_exchange_weak_explicit(
		&attr->rng, &old, x, memory_order_relaxed, memory_order_relaxed));
	return x * 0x2545f4914f6cdd1dULL;
}

bool __should_fail(struct fault_attr *attr)
{
	unsigned long call;
	bool fail = false;

	call = atomic_fetch_add_explicit(&attr->calls, 1, memory_order_relaxed) + 1;
	if (attr->fail_nth && call == attr->fail_nth)
		fail = true;
	if (attr->probability_ppm &&
	    fault_random(attr) % 1000000 < attr->probability_ppm)
		fail = true;
	if (fail)
		atomic_fetch_add_explicit(&attr->injected, 1, memory_order_relaxed);
	return fail;
}
