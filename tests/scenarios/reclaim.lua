-- Reclaim from Lua: a machine with a swappiness boot option and a swap
-- file runs a task whose memory is larger than RAM; every value comes back,
-- meminfo shows the LRU lists and the swap cache, vmstat counts the
-- swap-outs, swap-ins and reclaim scans; swapoff brings everything back.
-- Also run on every KMA (tests/kma_scenario.lua): their frames do not come
-- from direct reclaim, user pages do.
local kmm = require "kmm"
local P = kmm.PAGE_SIZE
local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p '" .. dir .. "'"))
local m = kmm.boot{ram = "32M", quiet = true, root = dir, rw = true, swappiness = 100}
assert(m:swapon("/swapfile", "64M") == 0)
for _, field in ipairs{"SwapCached", "Active", "Inactive", "Active(anon)", "Inactive(anon)",
                       "Active(file)", "Inactive(file)", "Unevictable"} do
  assert(m:stat(field), field .. " missing from meminfo")
end

local t = assert(m:spawn("big"))
local n = 40 * 256                     -- 40 MiB on a 32 MiB machine
local a = assert(t:mmap{len = n * P, prot = "rw", flags = "private,anon"})
for i = 0, n - 1 do t:store(a + i * P, i * 2654435761 % 4294967291, 8) end
assert(m:stat("pswpout") > 0, "nothing went to swap")
assert(m:stat("pgscan_direct") > 0 and m:stat("pgsteal_direct") > 0)
assert(m:stat("SwapFree") < m:stat("SwapTotal"))
assert(m:stat("Active(anon)") + m:stat("Inactive(anon)") > 0)
m:check()
for i = n - 1, 0, -1 do
  local v = t:load(a + i * P, 8)
  assert(v == i * 2654435761 % 4294967291, ("page %d reads %d"):format(i, v))
end
assert(m:stat("pswpin") > 0)
m:check()

-- Half of it unmapped: the rest fits in RAM, so swapoff can take it all in.
assert(t:munmap(a, n // 2 * P) == 0)
assert(m:swapoff("/swapfile") == 0)
assert(m:stat("SwapTotal") == 0 and m:stat("SwapCached") == 0)
m:check()
for i = n // 2, n - 1 do
  assert(t:load(a + i * P, 8) == i * 2654435761 % 4294967291)
end
t:exit()
m:check()
m:shutdown()
os.execute("rm -rf '" .. dir .. "'")
