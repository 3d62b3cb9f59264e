-- Tasks on an SMP machine (a host thread per CPU; the script runs as one
-- of them): the same calls work, COW and faults behave, and every frame is
-- back when the tasks are gone.
local kmm = require "kmm"
local P = kmm.PAGE_SIZE

local m = kmm.boot{ram = "64M", mode = "smp", cpus = 4, quiet = true}
m:shrink_slab()
m:drain_pages()
local free0 = m:stat("MemFree")

for round = 1, 3 do
  local t = assert(m:spawn("smp" .. round))
  local a = assert(t:mmap{len = 64 * P})
  assert(t:touch(a, 64 * P, "w") == 0)
  local c = assert(t:fork())
  for i = 0, 63 do assert(c:store(a + i * P, i + round)) end
  for i = 0, 63 do assert(t:load(a + i * P) == 0 and c:load(a + i * P) == i + round) end
  assert(c.cow_flt == 64)
  assert(t:mprotect(a, P, "r") == 0)
  local v, err = t:store(a, 1)
  assert(v == nil and err == "SIGSEGV" and t.fault_code == "SEGV_ACCERR")
  assert(c:load(a) == round, "the child is untouched by its parent's death")
  c:exit()
end
m:check()
m:shrink_slab()
m:drain_pages()
-- (other KMAs keep a few frames once used: see cow_fork.lua's warm-up)
if m:kma() == "slab" then
  assert(m:stat("MemFree") == free0, ("MemFree %d kB, was %d kB"):format(m:stat("MemFree"), free0))
end
