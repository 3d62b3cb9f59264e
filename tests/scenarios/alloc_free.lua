-- Page allocator round trip: every order, GFP strings, page fields; after
-- freeing everything and draining the per-CPU lists, MemFree is back.
local kmm = require "kmm"

local m = kmm.boot{ram = "64M", quiet = true}
m:drain_pages()
local free0 = m:stat("MemFree")
local held = {}

for order = 0, kmm.MAX_ORDER do
  local p = assert(m:alloc_pages(order))
  assert(p.order == order and p.pages == 1 << order)
  assert(p.pfn % (1 << order) == 0, "block not aligned to its order: " .. tostring(p))
  assert(p.phys == p.pfn * kmm.PAGE_SIZE)
  assert(p.zone == "DMA" or p.zone == "DMA32", p.zone)
  assert(not p.freed)
  assert(tostring(p):match("^page%(pfn=%d+, order=" .. order .. ", zone=%w+%)$"), tostring(p))
  held[#held + 1] = p
end

-- GFP strings, long and short forms; zone modifiers decide the zone.
for _, gfp in ipairs{"GFP_KERNEL", "GFP_KERNEL|__GFP_ZERO", "kernel,zero", "GFP_ATOMIC",
                     "GFP_HIGHUSER_MOVABLE", "user,movable", "nowait"} do
  held[#held + 1] = assert(m:alloc_pages(0, gfp))
end
local dma = assert(m:alloc_pages(1, "GFP_KERNEL|__GFP_DMA"))
assert(dma.zone == "DMA", "__GFP_DMA gave zone " .. dma.zone)
held[#held + 1] = dma

local used = 0
for _, p in ipairs(held) do used = used + p.pages end
assert(m:stat("MemFree") <= free0 - used * kmm.PAGE_SIZE // 1024,
       "MemFree did not drop by what was allocated")
assert(m:check())

for _, p in ipairs(held) do
  m:free_pages(p)
  assert(p.freed)
end
m:drain_pages()
assert(m:stat("MemFree") == free0,
       ("MemFree %d after the round trip, %d before"):format(m:stat("MemFree"), free0))
assert(m:check())

-- Many order-0 pages through the per-CPU lists, freed in another order.
local pages = {}
for i = 1, 2000 do pages[i] = assert(m:alloc_pages(0)) end
for i = 2000, 1, -2 do m:free_pages(pages[i]) end
for i = 1, 2000, 2 do m:free_pages(pages[i]) end
m:drain_pages()
assert(m:stat("MemFree") == free0)
assert(m:stat("pgfree") >= 2000)
assert(m:check())

-- Pages still held at shutdown are freed by the binding.
for i = 1, 100 do assert(m:alloc_pages(i % 4)) end
m:shutdown()
print("alloc_free: ok")
