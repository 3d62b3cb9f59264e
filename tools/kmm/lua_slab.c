/*
 * Lua bindings of the slab allocator: m:kmalloc(n [, gfp]), m:kfree(p),
 * m:cache_create{name=, size=, align=, flags=, ctor=}, m:shrink_slab(),
 * and on a cache c:alloc([gfp]), c:free(obj), c:shrink(), c:destroy(),
 * c:info(). Objects are userdata naming a kernel address; the script side
 * keeps a table of every object it holds (a record per object, the
 * userdata points at its record), so that a double free, a free into the
 * wrong cache or through the wrong call, or an object of a machine that is
 * gone is a Lua error and never reaches the kernel, and so that at
 * shutdown every object still held is freed and every cache the script
 * made destroyed: a machine always goes down clean.
 *
 * ctor=true gives the cache a constructor that writes a pattern into the
 * first 8 bytes of each object, so that c:info().ctor_calls shows when
 * Bonwick's constructors run (once per object, when its slab is made).
 */
#include <stdlib.h>
#include <string.h>

#include <kmm/errno.h>
#include <kmm/page_alloc.h>
#include <kmm/shrinker.h>
#include <kmm/slab.h>

#include "lua_kmm.h"

#define OBJ_MT "kmm.object"
#define CACHE_MT "kmm.cache"
#define CTOR_PATTERN 0xc0ffee00c0ffee00ULL

struct held_obj {
	void *ptr;
	struct kmem_cache *cache;    /* NULL: from kmalloc */
	bool live;
};

struct lua_obj {
	unsigned long gen;
	size_t rec;                  /* index in held[] */
	size_t size;                 /* as asked (kmalloc) or the cache's */
};

struct lua_cache {
	unsigned long gen;
	struct kmem_cache *cache;
	size_t rec;                  /* index in caches[] */
};

static struct held_obj *held;
static size_t nheld, capheld;
static struct kmem_cache **caches;   /* created by the script; NULL once destroyed */
static size_t ncaches, capcaches;

static int slab_boot(void)
{
	return 0;
}

static void slab_shutdown(bool panicked)
{
	if (!panicked) {
		for (size_t i = 0; i < nheld; i++) {
			if (!held[i].live)
				continue;
			if (held[i].cache)
				kmem_cache_free(held[i].cache, held[i].ptr);
			else
				kfree(held[i].ptr);
		}
		for (size_t i = ncaches; i-- > 0;)
			if (caches[i])
				kmem_cache_destroy(caches[i]);
	}
	free(held);
	free(caches);
	held = NULL;
	caches = NULL;
	nheld = capheld = ncaches = capcaches = 0;
}

static void grow(lua_State *L, void **array, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return;
	size_t ncap = *cap ? *cap * 2 : 64;
	void *p = realloc(*array, ncap * elem);

	if (!p)
		luaL_error(L, "out of host memory");
	*array = p;
	*cap = ncap;
}

static void ctor_pattern(void *obj)
{
	*(uint64_t *)obj = CTOR_PATTERN;
}

/* ---- Calls into the core ---- */

struct call {
	struct kmem_cache *cache;
	size_t size, align;
	unsigned int flags;
	gfp_t gfp;
	const char *name;
	void *ptr;
	unsigned long result;
	int err;
	struct kmem_cache_info info;
};

static void do_kmalloc(void *arg)
{
	struct call *c = arg;
	c->ptr = kmalloc(c->size, c->gfp);
}

static void do_kfree(void *arg)
{
	struct call *c = arg;
	kfree(c->ptr);
}

static void do_cache_alloc(void *arg)
{
	struct call *c = arg;
	c->ptr = kmem_cache_alloc(c->cache, c->gfp);
}

static void do_cache_free(void *arg)
{
	struct call *c = arg;
	kmem_cache_free(c->cache, c->ptr);
}

static void do_cache_create(void *arg)
{
	struct call *c = arg;
	c->cache = kmem_cache_create(c->name, c->size, c->align, c->flags,
				     c->ptr ? ctor_pattern : NULL);
}

static void do_shrink(void *arg)
{
	struct call *c = arg;
	c->result = kmem_cache_shrink(c->cache);
}

static void do_destroy(void *arg)
{
	struct call *c = arg;
	c->err = kmem_cache_destroy(c->cache);
}

static void do_shrink_slab(void *arg)
{
	struct call *c = arg;
	c->result = shrink_slab(GFP_KERNEL, 0);
}

static void do_info(void *arg)
{
	struct call *c = arg;
	kmem_cache_get_info(c->cache, &c->info);
}

/* ---- Objects ---- */

/* Pushes an object userdata for a fresh allocation and records it. */
static int push_obj(lua_State *L, void *ptr, struct kmem_cache *cache, size_t size)
{
	struct lua_obj *o;

	grow(L, (void **)&held, &capheld, nheld, sizeof(*held));
	o = lua_newuserdatauv(L, sizeof(*o), 0);
	luaL_setmetatable(L, OBJ_MT);
	held[nheld] = (struct held_obj){ .ptr = ptr, .cache = cache, .live = true };
	*o = (struct lua_obj){ .gen = kmm_lua_generation(), .rec = nheld++, .size = size };
	return 1;
}

/* The live record of the object at idx, or a Lua error saying why not. */
static struct held_obj *check_obj(lua_State *L, int idx, const char *who)
{
	struct lua_obj *o = luaL_checkudata(L, idx, OBJ_MT);

	if (o->gen != kmm_lua_generation() || o->rec >= nheld)
		luaL_error(L, "%s: the object belongs to a machine that is shut down", who);
	if (!held[o->rec].live)
		luaL_error(L, "%s: object %p is already freed", who, held[o->rec].ptr);
	return &held[o->rec];
}

/* m:kmalloc(n [, gfp]): an object, or nil, "ENOMEM". */
static int l_kmalloc(lua_State *L)
{
	struct call c = { 0 };
	uint64_t n;

	kmm_lua_machine(L, 1);
	n = kmm_lua_checksize(L, 2);
	luaL_argcheck(L, n >= 1 && n <= KMALLOC_MAX_SIZE, 2, "size must be 1..4M");
	c.size = (size_t)n;
	c.gfp = kmm_lua_optgfp(L, 3, GFP_KERNEL);
	grow(L, (void **)&held, &capheld, nheld, sizeof(*held));
	kmm_lua_core(L, do_kmalloc, &c);
	if (!c.ptr)
		return kmm_lua_fail(L, -KMM_ENOMEM);
	return push_obj(L, c.ptr, NULL, c.size);
}

/* m:kfree(p) */
static int l_kfree(lua_State *L)
{
	struct held_obj *h;
	struct call c = { 0 };

	kmm_lua_machine(L, 1);
	h = check_obj(L, 2, "kfree");
	if (h->cache)
		return luaL_error(L, "kfree: object %p comes from cache %s: use cache:free",
				  h->ptr, kmem_cache_name(h->cache));
	c.ptr = h->ptr;
	kmm_lua_core(L, do_kfree, &c);
	h->live = false;
	return 0;
}

/* m:shrink_slab(): objects the shrinkers freed. */
static int l_shrink_slab(lua_State *L)
{
	struct call c = { 0 };

	kmm_lua_machine(L, 1);
	kmm_lua_core(L, do_shrink_slab, &c);
	lua_pushinteger(L, (lua_Integer)c.result);
	return 1;
}

/* obj.addr, obj.size, obj.ksize, obj.offset (in its page), obj.cache, obj.freed */
static int obj_index(lua_State *L)
{
	struct lua_obj *o = luaL_checkudata(L, 1, OBJ_MT);
	const char *key = luaL_checkstring(L, 2);
	bool gone = o->gen != kmm_lua_generation() || o->rec >= nheld;
	struct held_obj *h = gone ? NULL : &held[o->rec];

	if (!strcmp(key, "freed")) {
		lua_pushboolean(L, gone || !h->live);
		return 1;
	}
	if (!h)
		return luaL_error(L, "the object belongs to a machine that is shut down");
	if (!strcmp(key, "addr"))
		lua_pushinteger(L, (lua_Integer)(uintptr_t)h->ptr);
	else if (!strcmp(key, "phys"))
		lua_pushinteger(L, (lua_Integer)virt_to_phys(h->ptr));
	else if (!strcmp(key, "size"))
		lua_pushinteger(L, (lua_Integer)o->size);
	else if (!strcmp(key, "ksize"))
		lua_pushinteger(L, (lua_Integer)(h->cache || !h->live ? o->size
								       : ksize(h->ptr)));
	else if (!strcmp(key, "offset"))
		lua_pushinteger(L, (lua_Integer)((uintptr_t)h->ptr & (PAGE_SIZE - 1)));
	else if (!strcmp(key, "cache"))
		lua_pushstring(L, h->cache ? kmem_cache_name(h->cache) : "kmalloc");
	else if (!strcmp(key, "constructed"))
		lua_pushboolean(L, h->live && o->size >= 8 &&
				   *(uint64_t *)h->ptr == CTOR_PATTERN);
	else
		return luaL_error(L, "an object has no field '%s' (addr, phys, size, ksize, "
				     "offset, cache, constructed, freed)", key);
	return 1;
}

static int obj_tostring(lua_State *L)
{
	struct lua_obj *o = luaL_checkudata(L, 1, OBJ_MT);
	bool gone = o->gen != kmm_lua_generation() || o->rec >= nheld;

	if (gone)
		lua_pushstring(L, "object(gone)");
	else
		lua_pushfstring(L, "object(%p, %I bytes, %s%s)", held[o->rec].ptr,
				(lua_Integer)o->size,
				held[o->rec].cache ? kmem_cache_name(held[o->rec].cache)
						   : "kmalloc",
				held[o->rec].live ? "" : ", freed");
	return 1;
}

/* ---- Caches ---- */

static unsigned int parse_flags(lua_State *L, const char *text)
{
	static const struct { const char *name; unsigned int flag; } names[] = {
		{ "hwcache_align", SLAB_HWCACHE_ALIGN }, { "red_zone", SLAB_RED_ZONE },
		{ "poison", SLAB_POISON }, { "debug_free", SLAB_DEBUG_FREE },
		{ "debug", SLAB_DEBUG }, { "no_magazine", SLAB_NO_MAGAZINE },
		{ "reclaim_account", SLAB_RECLAIM_ACCOUNT },
	};
	unsigned int flags = 0;

	while (text && *text) {
		size_t len = strcspn(text, ",|");
		bool found = false;

		for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
			if (strlen(names[i].name) == len && !strncmp(text, names[i].name, len)) {
				flags |= names[i].flag;
				found = true;
			}
		}
		if (!found && len)
			luaL_error(L, "cache_create: unknown flag '%s' (hwcache_align, red_zone, "
				      "poison, debug_free, debug, no_magazine, reclaim_account)",
				   lua_pushlstring(L, text, len));
		text += len;
		if (*text)
			text++;
	}
	return flags;
}

/* m:cache_create{name=, size=, align=, flags=, ctor=}: a cache, or nil, "EINVAL"/"ENOMEM". */
static int l_cache_create(lua_State *L)
{
	struct call c = { 0 };
	struct lua_cache *lc;
	uint64_t size, align = 0;

	kmm_lua_machine(L, 1);
	luaL_checktype(L, 2, LUA_TTABLE);
	lua_getfield(L, 2, "name");
	c.name = luaL_checkstring(L, -1);
	lua_getfield(L, 2, "size");
	size = kmm_lua_checksize(L, -1);
	lua_getfield(L, 2, "align");
	if (!lua_isnil(L, -1))
		align = kmm_lua_checksize(L, -1);
	lua_getfield(L, 2, "flags");
	c.flags = parse_flags(L, luaL_optstring(L, -1, NULL));
	lua_getfield(L, 2, "ctor");
	c.ptr = lua_toboolean(L, -1) ? (void *)1 : NULL;
	if (c.ptr && size < 8)
		return luaL_error(L, "cache_create: a constructor needs objects of 8 bytes or more");
	if (size == 0 || size > KMEM_MAX_OBJECT_SIZE || align > PAGE_SIZE)
		return kmm_lua_fail(L, -KMM_EINVAL);
	c.size = (size_t)size;
	c.align = (size_t)align;
	grow(L, (void **)&caches, &capcaches, ncaches, sizeof(*caches));
	lc = lua_newuserdatauv(L, sizeof(*lc), 0);
	lc->gen = 0;
	luaL_setmetatable(L, CACHE_MT);
	kmm_lua_core(L, do_cache_create, &c);
	if (!c.cache)
		return kmm_lua_fail(L, (align & (align - 1)) ? -KMM_EINVAL : -KMM_ENOMEM);
	caches[ncaches] = c.cache;
	*lc = (struct lua_cache){ .gen = kmm_lua_generation(), .cache = c.cache,
				  .rec = ncaches++ };
	return 1;
}

static struct lua_cache *check_cache(lua_State *L, int idx, const char *who)
{
	struct lua_cache *lc = luaL_checkudata(L, idx, CACHE_MT);

	if (lc->gen != kmm_lua_generation() || !kmm_lua_generation())
		luaL_error(L, "%s: the cache belongs to a machine that is shut down", who);
	if (lc->rec >= ncaches || caches[lc->rec] != lc->cache)
		luaL_error(L, "%s: the cache is destroyed", who);
	return lc;
}

/* c:alloc([gfp]): an object, or nil, "ENOMEM". */
static int l_cache_alloc(lua_State *L)
{
	struct lua_cache *lc = check_cache(L, 1, "alloc");
	struct call c = { .cache = lc->cache };

	c.gfp = kmm_lua_optgfp(L, 2, GFP_KERNEL);
	grow(L, (void **)&held, &capheld, nheld, sizeof(*held));
	kmm_lua_core(L, do_cache_alloc, &c);
	if (!c.ptr)
		return kmm_lua_fail(L, -KMM_ENOMEM);
	return push_obj(L, c.ptr, lc->cache, kmem_cache_size(lc->cache));
}

/* c:free(obj) */
static int l_cache_free(lua_State *L)
{
	struct lua_cache *lc = check_cache(L, 1, "free");
	struct held_obj *h = check_obj(L, 2, "free");
	struct call c = { .cache = lc->cache, .ptr = h->ptr };

	if (h->cache != lc->cache)
		return luaL_error(L, "free: object %p comes from %s, not from cache %s",
				  h->ptr, h->cache ? kmem_cache_name(h->cache) : "kmalloc",
				  kmem_cache_name(lc->cache));
	kmm_lua_core(L, do_cache_free, &c);
	h->live = false;
	return 0;
}

/* c:shrink(): frames given back to the page allocator. */
static int l_cache_shrink(lua_State *L)
{
	struct lua_cache *lc = check_cache(L, 1, "shrink");
	struct call c = { .cache = lc->cache };

	kmm_lua_core(L, do_shrink, &c);
	lua_pushinteger(L, (lua_Integer)c.result);
	return 1;
}

/* c:destroy(): 0, or nil, "EBUSY" with the leaks reported on the console. */
static int l_cache_destroy(lua_State *L)
{
	struct lua_cache *lc = check_cache(L, 1, "destroy");
	struct call c = { .cache = lc->cache };

	kmm_lua_core(L, do_destroy, &c);
	if (c.err)
		return kmm_lua_fail(L, c.err);
	caches[lc->rec] = NULL;
	lua_pushinteger(L, 0);
	return 1;
}

#define SET_INT(field) \
	(lua_pushinteger(L, (lua_Integer)c.info.field), lua_setfield(L, -2, #field))

/* c:info(): a table of the cache's geometry, counts and waste. */
static int l_cache_info(lua_State *L)
{
	struct lua_cache *lc = check_cache(L, 1, "info");
	struct call c = { .cache = lc->cache };

	kmm_lua_core(L, do_info, &c);
	lua_createtable(L, 0, 32);
	lua_pushstring(L, c.info.name);
	lua_setfield(L, -2, "name");
	SET_INT(object_size); SET_INT(buffer_size); SET_INT(align);
	SET_INT(objs_per_slab); SET_INT(pages_per_slab); SET_INT(colours);
	SET_INT(colour_off); SET_INT(slabs_full); SET_INT(slabs_partial);
	SET_INT(slabs_free); SET_INT(active_objs); SET_INT(num_objs);
	SET_INT(magazine_objs); SET_INT(magazine_size); SET_INT(depot_full);
	SET_INT(depot_empty); SET_INT(ctor_calls); SET_INT(grown); SET_INT(reaped);
	SET_INT(alloc_fail); SET_INT(bytes_total); SET_INT(waste_padding);
	SET_INT(waste_headers); SET_INT(waste_leftover); SET_INT(waste_free);
	lua_pushboolean(L, c.info.off_slab);
	lua_setfield(L, -2, "off_slab");
	return 1;
}

static int cache_tostring(lua_State *L)
{
	struct lua_cache *lc = luaL_checkudata(L, 1, CACHE_MT);

	if (lc->gen != kmm_lua_generation() || lc->rec >= ncaches ||
	    caches[lc->rec] != lc->cache)
		lua_pushstring(L, "cache(gone)");
	else
		lua_pushfstring(L, "cache(%s, %I bytes)", kmem_cache_name(lc->cache),
				(lua_Integer)kmem_cache_size(lc->cache));
	return 1;
}

static const luaL_Reg cache_methods[] = {
	{ "alloc", l_cache_alloc },
	{ "free", l_cache_free },
	{ "shrink", l_cache_shrink },
	{ "destroy", l_cache_destroy },
	{ "info", l_cache_info },
	{ NULL, NULL },
};

static void slab_open(lua_State *L)
{
	luaL_newmetatable(L, OBJ_MT);
	lua_pushcfunction(L, obj_index);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, obj_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_pop(L, 1);

	luaL_newmetatable(L, CACHE_MT);
	luaL_newlib(L, cache_methods);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, cache_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_pop(L, 1);
}

static const luaL_Reg slab_methods[] = {
	{ "kmalloc", l_kmalloc },
	{ "kfree", l_kfree },
	{ "cache_create", l_cache_create },
	{ "shrink_slab", l_shrink_slab },
	{ NULL, NULL },
};

const struct kmm_lua_binding kmm_lua_slab_binding = {
	.name = "slab",
	.methods = slab_methods,
	.open = slab_open,
	.boot = slab_boot,
	.shutdown = slab_shutdown,
};
