-- The slab allocator from Lua: constructors run once per object at slab
-- creation, colouring offsets successive slabs, leaks block destroy, misuse
-- is a Lua error, and shrink_slab gives every frame back (MemFree).
local kmm = require "kmm"

local m = kmm.boot{ram = "64M", quiet = true}
m:shrink_slab()
m:drain_pages()
local free0 = m:stat("MemFree")

-- Constructors: once per object of each new slab, never per allocation.
local c = assert(m:cache_create{name = "demo", size = 300, ctor = true, flags = "no_magazine"})
local objs = {}
for i = 1, 200 do
  objs[i] = assert(c:alloc())
  assert(objs[i].constructed and objs[i].cache == "demo")
end
local info = c:info()
assert(info.ctor_calls == info.grown * info.objs_per_slab, "ctor ran per allocation?")
-- Colouring: the first object of successive slabs moves by colour_off.
assert(info.colours > 1, "300-byte objects should leave room for colours")
local firsts = {}
for i = 1, 200, info.objs_per_slab do firsts[#firsts + 1] = objs[i].offset end
for s = 2, math.min(#firsts, info.colours) do
  assert(firsts[s] - firsts[1] == (s - 1) * info.colour_off,
         ("slab %d starts at %d, slab 1 at %d"):format(s, firsts[s], firsts[1]))
end

for i = 1, 200 do c:free(objs[i]) end
for i = 1, 200 do objs[i] = c:alloc() end
-- Slabs kept free were reused as they were; only slabs made anew ran it.
info = c:info()
assert(info.ctor_calls == info.grown * info.objs_per_slab)

-- Misuse is a Lua error, never a kernel panic.
c:free(objs[1])
assert(not pcall(c.free, c, objs[1]))          -- double free
local k = assert(m:kmalloc(300))
assert(k.ksize == 512)
assert(not pcall(c.free, c, k))                -- wrong cache
assert(not pcall(m.kfree, m, objs[2]))         -- a cache object through kfree

-- Leaks block destroy; the view shows the cache.
local rc, err = c:destroy()
assert(rc == nil and err == "EBUSY")
assert(m:view("slabinfo"):match("\ndemo%s+199%s"))
for i = 2, 200 do c:free(objs[i]) end
assert(c:destroy() == 0)
m:kfree(k)

-- Every frame comes back.
assert(m:shrink_slab() >= 0)
m:drain_pages()
assert(m:stat("MemFree") == free0, ("MemFree %d, was %d"):format(m:stat("MemFree"), free0))
m:check()
