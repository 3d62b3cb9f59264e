-- Demand paging, the zero page and copy-on-write, seen through the views.
--   kmm run scenarios/cow.lua [PAGES]
-- A task maps PAGES pages (default 256), reads them (every read maps the
-- one shared zero page: no memory), writes them (each write fault gives a
-- zeroed frame of its own), forks (parent and child share every page,
-- write-protected), and the child writes half of them (each write copies
-- one page). maps, smaps, status, meminfo and the fault counters show
-- each step; at the end every frame is back.
local kmm = require "kmm"
local P = kmm.PAGE_SIZE
local pages = math.tointeger(tonumber(arg and arg[1] or 256)) or error("PAGES is a number")

local m <close> = kmm.boot{ram = "128M", quiet = true}
m:drain_pages()
local free0 = m:stat("MemFree")

local function counters(what)
  m:drain_pages()
  print(("%-34s MemFree %7d kB  AnonPages %6d kB  PageTables %4d kB  faults %5d  zero %5d  cow %5d")
        :format(what, m:stat("MemFree"), m:stat("AnonPages"), m:stat("PageTables"),
                m:stat("pgfault"), m:stat("pgfault_zero"), m:stat("pgfault_cow")))
end

-- The smaps block of the area starting at a, the lines that tell the story.
local function smaps(t, a)
  local text = m:view("smaps", t.pid)
  local head = ("%x-"):format(a)
  local at = text:find(head, 1, true)
  local block = text:sub(at):match("^(.-VmFlags[^\n]*\n)")
  local out = {}
  for line in block:gmatch("[^\n]+") do
    local name = line:match("^(%a[%w_]*):")
    if not name or ({Rss = 1, Pss = 1, Shared_Dirty = 1, Private_Dirty = 1, Anonymous = 1})[name] then
      out[#out + 1] = "    " .. line
    end
  end
  return table.concat(out, "\n")
end

counters("boot")
local t = assert(m:spawn("parent"))
local a = assert(t:mmap{len = pages * P, prot = "rw"})
print(("\nparent (pid %d) maps %d pages at 0x%x:"):format(t.pid, pages, a))
io.write(m:view("maps", t.pid))
counters("after mmap: no page yet")

assert(t:touch(a, pages * P, "r") == 0)
counters("after reading every page")
print(smaps(t, a))

assert(t:touch(a, pages * P, "w") == 0)
counters("after writing every page")
print(smaps(t, a))

local c = assert(t:fork())
print(("\nfork: child pid %d, the same areas:"):format(c.pid))
io.write(m:view("maps", c.pid))
counters("after fork: every page shared")
print("  parent:\n" .. smaps(t, a))
print("  child:\n" .. smaps(c, a))

for i = 0, pages // 2 - 1 do assert(c:store(a + i * P, i)) end
counters("after the child wrote half")
print("  parent:\n" .. smaps(t, a))
print("  child:\n" .. smaps(c, a))
assert(t:load(a) == 0 and c:load(a + P) == 1, "neither sees the other's writes")
print(("  child faults: %d minor, %d copy-on-write"):format(c.min_flt, c.cow_flt))

io.write("\n", m:view("status", c.pid):match("VmSize.-VmSwap[^\n]*\n"))

c:exit()
assert(t:store(a + P, 5))   -- the last sharer of a page takes it over: no copy
counters("child gone; parent wrote a page")
t:exit()
counters("every task gone")
m:shrink_slab()
m:drain_pages()
assert(m:stat("MemFree") == free0, "every frame is back")
print("every frame is back")
