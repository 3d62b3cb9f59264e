/*
 * Helpers shared by the KMA tests; see kma_test.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <kmm/page_alloc.h>

#include "helpers.h"
#include "kma_test.h"

const struct kma_ops *kt_boot(const char *name, uint64_t ram, unsigned int cpus,
			      enum emu_mode mode)
{
	const struct kma_ops *k;

	th_boot(ram, cpus, mode);
	assert_int_equal(kma_boot(), 0);
	k = kma_find(name);
	if (!k)
		fail_msg("no allocator named %s", name);
	return k;
}

uint64_t kt_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

size_t kt_random_size(uint64_t *state, size_t max)
{
	uint64_t r = kt_rand(state);
	unsigned int pick = (unsigned int)(r % 100);
	size_t size;

	r >>= 8;
	if (pick < 70)
		size = 1 + r % 256;
	else if (pick < 92)
		size = 257 + r % (4096 - 256);
	else if (pick < 98)
		size = 4097 + r % 4096;
	else
		size = 8193 + r % (3 * 4096);
	return size > max ? 1 + r % max : size;
}

static uint8_t pattern(unsigned int slot, uint32_t gen, size_t i)
{
	return (uint8_t)(slot * 7u + gen * 13u + i * 31u + (i >> 8));
}

void kt_fill(const struct kt_slot *s, unsigned int slot)
{
	for (size_t i = 0; i < s->size; i++)
		s->p[i] = pattern(slot, s->gen, i);
}

void kt_verify(const struct kt_slot *s, unsigned int slot)
{
	for (size_t i = 0; i < s->size; i++)
		if (s->p[i] != pattern(slot, s->gen, i))
			fail_msg("block %p (slot %u, %zu bytes) corrupted at byte %zu", s->p, slot,
				 s->size, i);
}

void kt_work_init(struct kt_work *w, const struct kma_ops *k, uint64_t seed,
		  unsigned int nslots, size_t max_size)
{
	memset(w, 0, sizeof(*w));
	w->k = k;
	w->rng = seed | 1;
	w->nslots = nslots;
	w->max_size = max_size;
	w->slots = calloc(nslots, sizeof(*w->slots));
	assert_non_null(w->slots);
}

void kt_work_run(struct kt_work *w, unsigned long ops)
{
	for (unsigned long op = 0; op < ops; op++) {
		unsigned int i = (unsigned int)(kt_rand(&w->rng) % w->nslots);
		struct kt_slot *s = &w->slots[i];

		if (s->p) {
			kt_verify(s, i);
			kma_free(w->k, s->p, s->size);
			s->p = NULL;
			w->frees++;
		} else {
			s->size = kt_random_size(&w->rng, w->max_size);
			s->p = kma_alloc(w->k, s->size, GFP_KERNEL | __GFP_NOWARN);
			if (!s->p) {
				w->fails++;
				continue;
			}
			if (!IS_ALIGNED((uintptr_t)s->p, w->k->min_align))
				fail_msg("%s: %zu bytes at %p, not %zu-aligned", w->k->name, s->size,
					 s->p, w->k->min_align);
			if (w->k->usable_size && w->k->usable_size(s->p) < s->size)
				fail_msg("%s: usable size %zu of %p below the %zu asked", w->k->name,
					 w->k->usable_size(s->p), s->p, s->size);
			s->gen++;
			kt_fill(s, i);
			w->allocs++;
		}
		if (w->check_every && (op + 1) % w->check_every == 0)
			kma_check_one(w->k);
	}
}

void kt_work_free_all(struct kt_work *w)
{
	for (unsigned int i = 0; i < w->nslots; i++) {
		struct kt_slot *s = &w->slots[i];

		if (!s->p)
			continue;
		kt_verify(s, i);
		kma_free(w->k, s->p, s->size);
		s->p = NULL;
		w->frees++;
	}
}

void kt_work_destroy(struct kt_work *w)
{
	free(w->slots);
	w->slots = NULL;
}

void kt_check(const struct kma_ops *k)
{
	kma_check_one(k);
	page_alloc_check();
}
