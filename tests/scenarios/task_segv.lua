-- Faults a task cannot survive: SIGSEGV with SEGV_MAPERR (no area) or
-- SEGV_ACCERR (an area that forbids the access) ends the task, is reported
-- by the access (nil, "SIGSEGV") and on the task (t.signal, t.fault_code,
-- t.fault_addr), and leaves the machine and other tasks as they were. The
-- stack grows down on a fault just below it.
local kmm = require "kmm"
local P = kmm.PAGE_SIZE

local m = kmm.boot{ram = "64M", quiet = true}

-- On a KMA other than slab (tests/kma_scenario.lua) the allocator keeps a
-- few frames of its own once used: warm it up first, so "every frame back"
-- compares with a machine that has run a task before.
if m:kma() ~= "slab" then
  local w = assert(m:spawn("warm-up"))
  local wa = assert(w:mmap{len = 16 * 4096})
  local ws = assert(w:mmap{len = 2 * 4096, flags = "shared,anon"})
  assert(w:touch(wa, 16 * 4096, "w") == 0)
  local wc = assert(w:fork())
  assert(wc:fork():exit() == 0)
  assert(wc:store(wa, 1) == 0)
  assert(w:store(ws, 1) == 0 and wc:store(ws, 2) == 0)
  assert(wc:exec() == 0)
  wc:exit()
  w:exit()
end
m:shrink_slab()
m:drain_pages()
local free0 = m:stat("MemFree")

local function dies(t, code, addr, f, ...)
  local v, err = f(t, ...)
  assert(v == nil and err == "SIGSEGV", ("expected SIGSEGV, got %s, %s"):format(tostring(v), tostring(err)))
  assert(not t.alive and t.signal == "SIGSEGV" and t.fault_code == code,
         ("%s %s"):format(tostring(t.signal), tostring(t.fault_code)))
  assert(t.fault_addr == addr, ("fault at %x, expected %x"):format(t.fault_addr, addr))
  assert(not pcall(t.load, t, 0), "a dead task refuses calls")
end

local bystander = assert(m:spawn("bystander"))
local b = assert(bystander:mmap{len = P})
assert(bystander:store(b, 77) == 0)

-- No area: MAPERR, at the address itself.
local t = assert(m:spawn("a"))
dies(t, "SEGV_MAPERR", 0x1234, t.load, 0x1234, 4)

-- A read-only area written: ACCERR.
t = assert(m:spawn("b"))
local ro = assert(t:mmap{len = 2 * P, prot = "r"})
assert(t:load(ro) == 0)
dies(t, "SEGV_ACCERR", ro + P + 8, t.store, ro + P + 8, 1, 8)

-- PROT_NONE read: ACCERR; through get, put and touch as well.
t = assert(m:spawn("c"))
local none = assert(t:mmap{len = P, prot = ""})
dies(t, "SEGV_ACCERR", none + 100, t.get, none + 100, 10)
t = assert(m:spawn("d"))
none = assert(t:mmap{len = P, prot = "r"})
dies(t, "SEGV_ACCERR", none, t.put, none, "xyz")
t = assert(m:spawn("e"))
dies(t, "SEGV_MAPERR", 0x10000, t.touch, 0x10000, P, "w")

-- mprotect takes effect on pages already mapped (the TLB is flushed).
t = assert(m:spawn("f"))
local rw = assert(t:mmap{len = P, prot = "rw"})
assert(t:store(rw, 5) == 0)
assert(t:mprotect(rw, P, "r") == 0)
assert(t:load(rw) == 5)
dies(t, "SEGV_ACCERR", rw, t.store, rw, 6)

-- A store crossing into an unmapped page faults at the page boundary.
t = assert(m:spawn("g"))
local edge = assert(t:mmap{len = 2 * P})
assert(t:munmap(edge + P, P) == 0)
dies(t, "SEGV_MAPERR", edge + P, t.store, edge + P - 4, -1, 8)

-- The stack grows down on a fault below it.
t = assert(m:spawn("h"))
local lo, hi = m:view("maps", t.pid):match("(%x+)-(%x+) [^\n]*%[stack%]")
lo = tonumber(lo, 16)
assert(t:store(lo - 5 * P, 9) == 0, "a fault below the stack grows it")
local lo2 = tonumber(m:view("maps", t.pid):match("(%x+)-%x+ [^\n]*%[stack%]"), 16)
assert(lo2 == lo - 5 * P, ("stack now at %x"):format(lo2))
assert(t:load(lo - 5 * P) == 9)
t:exit()

-- The bystander never noticed.
assert(bystander.alive and bystander:load(b) == 77)
m:check()
bystander:exit()
m:shrink_slab()
m:drain_pages()
assert(m:stat("MemFree") == free0, "every dead task's frames are back")
