-- Fragmentation: the buddy free lists before and after a burst of small
-- allocations, and why grouping pages by mobility matters.
--
--   kmm run scenarios/fragmentation.lua [RAM]        (default 64M)
--
-- A workload interleaves long-lived unmovable pages (kernel data) with
-- short-lived movable ones (user pages), then frees the movable ones. With
-- grouping by mobility the unmovable pages sit together in a few pageblocks
-- and large blocks come back; without it they are scattered everywhere and
-- pin every large block, so order-9 (2 MiB) requests fail although plenty
-- of memory is free.
local kmm = require "kmm"
local ram = arg[1] or "64M"

local function section(title)
  print("\n== " .. title .. " ==")
end

local function run(mobility)
  local m = kmm.boot{ram = ram, quiet = true, mobility = mobility}
  section(("mobility grouping %s: buddyinfo after boot"):format(mobility and "on" or "off"))
  io.write(m:view("buddyinfo"))

  -- The burst: 1 unmovable page for every 7 movable ones, until 3/4 of
  -- memory is used.
  local target = m:stat("MemFree") * 3 // 4 // 4      -- pages
  local unmovable, movable = {}, {}
  for i = 1, target do
    local gfp = (i % 8 == 0) and "GFP_KERNEL" or "GFP_HIGHUSER_MOVABLE"
    local p = m:alloc_pages(0, gfp .. "|__GFP_NOWARN")
    if not p then break end
    table.insert(i % 8 == 0 and unmovable or movable, p)
  end
  section(("after allocating %d unmovable and %d movable pages"):format(#unmovable, #movable))
  io.write(m:view("buddyinfo"))

  -- The movable pages go away (a process exits); the kernel's stay.
  for _, p in ipairs(movable) do m:free_pages(p) end
  m:drain_pages()
  section("after freeing the movable pages")
  io.write(m:view("buddyinfo"))

  -- How many 2 MiB blocks can we get now?
  local got = 0
  while m:alloc_pages(9, "GFP_KERNEL|__GFP_NOWARN") do got = got + 1 end
  print(("\n%d MiB free, %d order-9 (2 MiB) blocks allocated before failing")
        :format(m:stat("MemFree") // 1024 + got * 2, got))
  section("fragmentation indices (extfrag)")
  io.write(m:view("extfrag"))
  m:check()
  m:shutdown()
  return got
end

local with, without = run(true), run(false)
print(("\norder-9 blocks: %d with grouping by mobility, %d without"):format(with, without))
