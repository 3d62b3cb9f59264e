/*
 * Lua bindings of the kernel-memory-allocator registry (include/kmm/kma.h):
 * which allocator the machine runs on (booted with kmm.boot{kma = NAME}),
 * which exist, and the statistics every one reports the same way, so that a
 * script can boot the machine on each in turn and compare.
 *
 *   m:kma()               the machine's allocator ("slab", "rmap", ...)
 *   m:kmas()              every allocator's name, slab first
 *   m:kma_stats([name])   the shared statistics of one (default: the
 *                         machine's) as a table; see docs/scenario-api.md
 *   m:kma_shrink([name])  gives back the frames it can; returns how many
 *
 * They are machine methods (the bindings add methods, not module
 * functions): the list of names is the same on every machine.
 *
 * Also the recorder of the allocation trace: with KMM_KMA_TRACE=FILE in the
 * environment, every machine booted on slab records each kmalloc, object
 * allocation and free of the machine (kma_trace_start) and appends them to
 * FILE in the text format bench_kma replays (bench/kma-kernelmix.trace,
 * described in docs/kma.md). The hook runs on the emulated CPUs, so the
 * writer takes a lock.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmm/errno.h>
#include <kmm/kma.h>
#include <kmm/page_alloc.h>

#include "lua_kmm.h"

/* ---- The trace recorder ---- */

/* Live blocks: address -> id of the line that allocated it (open hashing). */
struct rec_node {
	const void *p;
	unsigned long id;
	struct rec_node *next;
};

#define REC_BUCKETS 4096

static struct {
	pthread_mutex_t lock;
	FILE *f;
	struct rec_node *bucket[REC_BUCKETS];
	unsigned long next_id, unmatched, lines;
} rec = { .lock = PTHREAD_MUTEX_INITIALIZER };

static unsigned int rec_hash(const void *p)
{
	uint64_t x = (uintptr_t)p >> 3;

	return (unsigned int)((x * 0x9E3779B97F4A7C15ULL) >> 52) % REC_BUCKETS;
}

static void record(char op, const void *p, size_t size)
{
	pthread_mutex_lock(&rec.lock);
	if (!rec.f)
		goto out;
	if (op == 'f') {
		struct rec_node **pp = &rec.bucket[rec_hash(p)];

		while (*pp && (*pp)->p != p)
			pp = &(*pp)->next;
		if (!*pp) {
			/* Allocated before the trace began: no id to free. */
			rec.unmatched++;
			goto out;
		}
		struct rec_node *n = *pp;

		fprintf(rec.f, "f %lu\n", n->id);
		*pp = n->next;
		free(n);
	} else {
		struct rec_node *n = malloc(sizeof(*n));

		if (!n)
			goto out;
		*n = (struct rec_node){ p, rec.next_id++, rec.bucket[rec_hash(p)] };
		rec.bucket[rec_hash(p)] = n;
		fprintf(rec.f, "%c %zu\n", op, size);
	}
	rec.lines++;
out:
	pthread_mutex_unlock(&rec.lock);
}

static void rec_begin(void)
{
	const char *path = getenv("KMM_KMA_TRACE");

	if (!path || !*path || kma_current != &kma_slab_ops)
		return;
	rec.f = fopen(path, "a");
	if (!rec.f) {
		fprintf(stderr, "kmm: KMM_KMA_TRACE: cannot open %s\n", path);
		return;
	}
	rec.next_id = rec.unmatched = rec.lines = 0;
	/* A segment: ids start again from 0. */
	fprintf(rec.f, "s\n");
	if (kma_trace_start(record)) {
		fclose(rec.f);
		rec.f = NULL;
	}
}

/* Ends the segment: the blocks still live are freed in it, so every
   segment of the file replays to an empty allocator. */
static void rec_end(void)
{
	if (!rec.f)
		return;
	kma_trace_stop();
	pthread_mutex_lock(&rec.lock);
	for (unsigned int b = 0; b < REC_BUCKETS; b++) {
		while (rec.bucket[b]) {
			struct rec_node *n = rec.bucket[b];

			fprintf(rec.f, "f %lu\n", n->id);
			rec.bucket[b] = n->next;
			free(n);
		}
	}
	fprintf(rec.f, "# %lu records, %lu frees of blocks from before the trace\n",
		rec.lines, rec.unmatched);
	fclose(rec.f);
	rec.f = NULL;
	pthread_mutex_unlock(&rec.lock);
}

static int kma_lua_boot(void)
{
	rec_begin();
	return 0;
}

static void kma_lua_shutdown(bool panicked)
{
	rec_end();
}

/* ---- Methods ---- */

/* The allocator named by argument idx (0 or none: the machine's). */
static const struct kma_ops *check_kma(lua_State *L, int idx)
{
	const char *name;
	const struct kma_ops *k;
	char names[96];

	if (!idx || lua_isnoneornil(L, idx))
		return kma_current ? kma_current : &kma_slab_ops;
	name = luaL_checkstring(L, idx);
	k = kma_find(name);
	if (!k)
		luaL_error(L, "no kernel memory allocator '%s' (one of: %s)", name,
			   kma_names(names, sizeof(names), ", "));
	return k;
}

static int l_kma(lua_State *L)
{
	kmm_lua_machine(L, 1);
	lua_pushstring(L, check_kma(L, 0)->name);
	return 1;
}

static int l_kmas(lua_State *L)
{
	kmm_lua_machine(L, 1);
	lua_createtable(L, (int)kma_count(), 0);
	for (unsigned int i = 0; i < kma_count(); i++) {
		lua_pushstring(L, kma_at(i)->name);
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

struct stats_call {
	const struct kma_ops *k;
	struct kma_stats st;
	unsigned long frames;
};

static void do_stats(void *arg)
{
	struct stats_call *c = arg;

	kma_get_stats(c->k, &c->st);
}

static void do_shrink(void *arg)
{
	struct stats_call *c = arg;

	c->frames = kma_shrink(c->k);
}

static void set_int(lua_State *L, const char *field, long long v)
{
	lua_pushinteger(L, (lua_Integer)v);
	lua_setfield(L, -2, field);
}

static int l_kma_stats(lua_State *L)
{
	struct stats_call c;
	const struct kma_stats *st = &c.st;
	long req;

	kmm_lua_machine(L, 1);
	c.k = check_kma(L, 2);
	kmm_lua_core(L, do_stats, &c);
	lua_createtable(L, 0, 20);
	lua_pushstring(L, c.k->name);
	lua_setfield(L, -2, "name");
	lua_pushstring(L, c.k->design);
	lua_setfield(L, -2, "design");
	set_int(L, "allocs", (long long)st->allocs);
	set_int(L, "frees", (long long)st->frees);
	set_int(L, "failures", (long long)st->failures);
	set_int(L, "live", (long long)(st->allocs - st->frees));
	set_int(L, "live_requested", st->live_requested);
	set_int(L, "total_requested", (long long)st->total_requested);
	set_int(L, "live_footprint", st->live_footprint);
	set_int(L, "pages_held", st->pages_held);
	set_int(L, "pages_held_peak", st->pages_held_peak);
	set_int(L, "pages_taken", (long long)st->pages_taken);
	set_int(L, "pages_returned", (long long)st->pages_returned);
	set_int(L, "held_bytes", st->pages_held * (long long)PAGE_SIZE);
	set_int(L, "free_bytes", (long long)st->free_bytes);
	if (st->extra_name) {
		set_int(L, st->extra_name, (long long)st->extra);
	}
	req = st->live_requested;
	if (req > 0) {
		lua_pushnumber(L, (double)st->pages_held * PAGE_SIZE / (double)req);
		lua_setfield(L, -2, "held_per_requested");
	}
	lua_createtable(L, KMA_NR_CLASSES, 0);
	for (unsigned int i = 0; i < KMA_NR_CLASSES; i++) {
		const struct kma_class_stats *cs = &st->class[i];

		lua_createtable(L, 0, 5);
		/* The last class has no upper bound: max_size is absent. */
		if (cs->max_size != SIZE_MAX)
			set_int(L, "max_size", (long long)cs->max_size);
		set_int(L, "allocs", (long long)cs->allocs);
		set_int(L, "live", cs->live);
		set_int(L, "live_requested", cs->live_requested);
		set_int(L, "live_footprint", cs->live_footprint);
		lua_rawseti(L, -2, i + 1);
	}
	lua_setfield(L, -2, "classes");
	return 1;
}

static int l_kma_shrink(lua_State *L)
{
	struct stats_call c;

	kmm_lua_machine(L, 1);
	c.k = check_kma(L, 2);
	kmm_lua_core(L, do_shrink, &c);
	lua_pushinteger(L, (lua_Integer)c.frames);
	return 1;
}

static const luaL_Reg kma_methods[] = {
	{ "kma", l_kma },
	{ "kmas", l_kmas },
	{ "kma_stats", l_kma_stats },
	{ "kma_shrink", l_kma_shrink },
	{ NULL, NULL },
};

const struct kmm_lua_binding kmm_lua_kma_binding = {
	.name = "kma",
	.methods = kma_methods,
	.boot = kma_lua_boot,
	.shutdown = kma_lua_shutdown,
};
