/*
 * Shared helpers of the kernel-memory-allocator tests (test_kma*.c): boot a
 * machine with every KMA reset, and a random alloc/free workload checked
 * against a reference (each block filled with a pattern of its slot and
 * generation, verified when it is freed).
 */
#ifndef KMM_TESTS_KMA_TEST_H
#define KMM_TESTS_KMA_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kmm/emu.h>
#include <kmm/gfp.h>
#include <kmm/kma.h>

/* The allocators every conformance test runs over. */
#define KT_ALLOCATORS(X) X(slab) X(buddy) X(rmap) X(p2) X(mk) X(zone) X(dynix)

/* Boots a quiet machine, resets every KMA and returns the one named. */
const struct kma_ops *kt_boot(const char *name, uint64_t ram, unsigned int cpus,
			      enum emu_mode mode);

struct kt_slot {
	uint8_t *p;
	size_t size;
	uint32_t gen;
};

struct kt_work {
	const struct kma_ops *k;
	uint64_t rng;
	struct kt_slot *slots;
	unsigned int nslots;
	size_t max_size;             /* largest request drawn */
	unsigned long check_every;   /* run the KMA's checker every N ops (0: never) */
	unsigned long allocs, frees, fails;
};

uint64_t kt_rand(uint64_t *state);
/* Mostly small requests, some of pages, as a kernel's mix. */
size_t kt_random_size(uint64_t *state, size_t max);

void kt_fill(const struct kt_slot *s, unsigned int slot);
/* Fails the test if the block's pattern was disturbed. */
void kt_verify(const struct kt_slot *s, unsigned int slot);

void kt_work_init(struct kt_work *w, const struct kma_ops *k, uint64_t seed,
		  unsigned int nslots, size_t max_size);
/* ops random steps: an empty slot is filled, a full one verified and freed. */
void kt_work_run(struct kt_work *w, unsigned long ops);
/* Verifies and frees every block still held. */
void kt_work_free_all(struct kt_work *w);
void kt_work_destroy(struct kt_work *w);

/* The allocator's checker and the page allocator's. */
void kt_check(const struct kma_ops *k);

#endif
