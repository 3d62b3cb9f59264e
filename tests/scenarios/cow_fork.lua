-- Demand paging and copy-on-write from Lua: read faults map the shared
-- zero page (no memory, no Rss), write faults allocate, fork shares every
-- private page read-only between parent and child, the first write copies
-- (or reuses the page when its last sharer writes), shared mappings stay
-- shared, and when every task has exited every frame is back.
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

local function free_now()
  m:drain_pages()
  return m:stat("MemFree")
end

-- The smaps counters (kB) of the area of task t that starts at a.
local function smaps(t, a)
  local text = m:view("smaps", t.pid)
  local start = ("%x-"):format(a)
  local i = assert(text:find("\n" .. start, 1, true) or (text:sub(1, #start) == start and 0),
                   "no area at " .. start)
  local block = text:sub(i + 1):match("^(.-)\nVmFlags")
  local c = {}
  for k, v in block:gmatch("\n([%w_]+):%s+(%d+) kB") do c[k] = tonumber(v) end
  return c
end

-- The zero page: reads cost no memory.
local t = assert(m:spawn("parent"))
local a = assert(t:mmap{len = 16 * P, prot = "rw"})
local zero0, free1 = m:stat("pgfault_zero"), free_now()
assert(t:touch(a, 16 * P, "r") == 0)
assert(m:stat("pgfault_zero") == zero0 + 16, "16 read faults map the zero page")
assert(t:load(a + 5 * P + 8) == 0)
local s = smaps(t, a)
assert(s.Rss == 0 and s.Anonymous == 0, "the zero page is not the task's memory")
local used = free1 - free_now()
assert(used <= 3 * 4, ("reading 16 pages took %d kB: at most page tables may be allocated"):format(used))
-- A write replaces the zero page by a zeroed frame of its own.
for i = 0, 7 do assert(t:store(a + i * P, 0x100 + i) == 0) end
s = smaps(t, a)
assert(s.Rss == 32 and s.Private_Dirty == 32 and s.Anonymous == 32 and s.Pss == 32, m:view("smaps", t.pid))
assert(t:load(a + 8 * P) == 0, "pages still on the zero page read zero")

-- fork: every private page shared, read-only, by both.
local cow0 = m:stat("pgfault_cow")
local c = assert(t:fork())
assert(c.pid ~= t.pid)
for _, task in ipairs{t, c} do
  s = smaps(task, a)
  assert(s.Rss == 32 and s.Shared_Dirty == 32 and s.Private_Dirty == 0 and s.Pss == 16,
         m:view("smaps", task.pid))
end
assert(m:view("maps", c.pid) == m:view("maps", t.pid), "the child's areas are the parent's")
-- The child writes page 0: it gets a copy; the parent keeps its data.
assert(c:store(a, 0xc0ffee) == 0)
assert(c:load(a) == 0xc0ffee and t:load(a) == 0x100)
assert(c:load(a + P) == 0x101, "the child reads the parent's data")
assert(m:stat("pgfault_cow") == cow0 + 1 and c.cow_flt == 1)
s = smaps(t, a)
assert(s.Private_Dirty == 4 and s.Shared_Dirty == 28, m:view("smaps", t.pid))
-- The parent writes page 2: a copy again; neither sees the other's write.
assert(t:store(a + 2 * P, 0xdad) == 0)
assert(t:load(a + 2 * P) == 0xdad and c:load(a + 2 * P) == 0x102)

-- A chain of forks: each generation writes; each sees its own.
local g = assert(c:fork())
assert(g:store(a + 3 * P, 0x9) == 0 and c:store(a + 3 * P, 0x8) == 0)
assert(g:load(a + 3 * P) == 0x9 and c:load(a + 3 * P) == 0x8 and t:load(a + 3 * P) == 0x103)
assert(g:load(a) == 0xc0ffee, "the grandchild inherits the child's copy")
assert(g:exit() == 0 and c:exit() == 0)

-- The last sharer writes: the page is reused, not copied.
s = smaps(t, a)
assert(s.Shared_Dirty == 0 and s.Private_Dirty == 32, m:view("smaps", t.pid))
local before = free_now()
cow0 = m:stat("pgfault_cow")
assert(t:store(a + 4 * P, 0x44) == 0)
assert(free_now() == before, "a write to a page of one user takes no frame")
assert(t:load(a + 4 * P) == 0x44)

-- Shared mappings stay shared across fork.
local sh = assert(t:mmap{len = 2 * P, prot = "rw", flags = "shared,anon"})
assert(t:store(sh, 1) == 0)
local c2 = assert(t:fork())
assert(c2:store(sh, 2) == 0 and t:load(sh) == 2, "the parent sees the child's write")
assert(c2:store(sh + P, 3) == 0 and t:load(sh + P) == 3)
assert(m:view("maps", t.pid):find(("%x-%x rw-s"):format(sh, sh + 2 * P), 1, true))
assert(m:view("status", c2.pid):match("RssShmem:%s+(%d+) kB") == "8")

-- exec without a program: a fresh address space, the old one gone.
assert(c2:exec() == 0)
assert(not m:view("maps", c2.pid):find(("%x-"):format(a), 1, true))
assert(c2:load(a) == nil and not c2.alive and c2.signal == "SIGSEGV")

-- Views and counters after all this.
local status = m:view("status", t.pid)
assert(status:match("Name:\tparent\n") and status:match("State:\tR %(running%)"))
assert(tonumber(status:match("VmRSS:%s+(%d+) kB")) >= 40)
assert(m:stat("AnonPages") > 0 and m:stat("PageTables") > 0)
assert(t.min_flt > 0)
m:check()

-- Every frame back once every task has exited.
t:exit()
assert(m:stat("AnonPages") == 0 and m:stat("PageTables") == 0)
m:shrink_slab()
assert(free_now() == free0, ("MemFree %d kB, was %d kB"):format(free_now(), free0))
m:check()
