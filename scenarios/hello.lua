-- The scenario API in a dozen lines: boot a machine, look at it, allocate
-- and free pages, check every invariant.
--
--   kmm run scenarios/hello.lua
local kmm = require "kmm"

local m = kmm.boot{ram = "32M", cpus = 2, quiet = true}
print(m)
io.write(m:view("meminfo"))

local p = assert(m:alloc_pages(3, "GFP_KERNEL|__GFP_ZERO"))
print(("allocated %s: %d pages at physical address 0x%x"):format(tostring(p), p.pages, p.phys))
print("MemFree now " .. m:stat("MemFree") .. " kB, pgalloc_dma32 " .. m:stat("pgalloc_dma32"))
m:free_pages(p)

-- Order-10 (4 MiB) blocks from the 16 MiB DMA zone, until it says no.
local blocks, q, err = 0, nil, nil
repeat
  q, err = m:alloc_pages(10, "GFP_KERNEL|__GFP_DMA|__GFP_NOWARN")
  if q then blocks = blocks + 1 end
until not q
print(("%d order-10 blocks from zone DMA, then %s"):format(blocks, err))

assert(m:check())
print("every invariant holds")
m:shutdown()
