-- The tour: what `make run` and `kmm` with no arguments show. It walks
-- through the memory manager of Understanding the Linux Kernel (ch. 1.6.8
-- and the chapters it points to) on a default machine, with real numbers
-- from the running system.
--
--   kmm tour            (this script, embedded in the program)
--   kmm run --plot tour.svg scenarios/tour.lua
--
-- Chapters: the boot memory map and zones; the buddy system under a burst
-- of allocations; the slab allocator; a process address space with demand
-- paging; fork and copy-on-write; real programs exec'd from the host; the
-- page cache (reads, deferred writes, writeback, sync); the summary views.
-- Page-frame reclaiming and swap join with issue 6.
--
-- The machine's root is the host's / (read-only), so that real programs
-- can be exec'd; writes go to a scratch disk, a temporary host file seen as
-- /dev/scratch, cached like a file (its pages are meminfo's Buffers).
local kmm = require "kmm"
local P = kmm.PAGE_SIZE
local MiB = 1024 * 1024

-- The scratch disk: a sparse 32 MiB host file, removed at the end.
local scratch = os.tmpname()
do
  local f = assert(io.open(scratch, "wb"))
  f:seek("set", 32 * 1024 * 1024 - 1)
  f:write("\0")
  f:close()
end

local m <close> = kmm.boot{ram = "256M", cpus = 2, quiet = true, disk = "scratch=" .. scratch}

local chapter_no = 0
local function chapter(title, caption)
  chapter_no = chapter_no + 1
  print(("\n%d. %s"):format(chapter_no, title))
  for line in caption:gmatch("[^\n]+") do print("   " .. line) end
  print()
  if m:plot_recording() then m:plot_mark(("%d. %s"):format(chapter_no, title:match("^[^:]+"))) end
end

-- Prints text indented; with patterns, only the lines matching one of them.
local function indent(text, patterns)
  for line in text:gmatch("[^\n]+") do
    local show = not patterns
    for _, p in ipairs(patterns or {}) do show = show or line:find(p) ~= nil end
    if show then print("     " .. line) end
  end
end

local function kb(name) return m:stat(name) end

-- 1 ---------------------------------------------------------------------
chapter("Boot: the physical memory map and the zones",
[[The firmware hands the kernel a map of physical memory (e820 on a PC): a
hole below 1 MiB, the kernel image at 1 MiB, the rest usable RAM. memblock
reserves what is taken; the rest goes to the buddy allocator, zone by zone
(DMA below 16 MiB, DMA32 below 4 GiB, Normal above).]])
indent(m:view("e820"))
print()
indent(m:view("zoneinfo"), {"^Node", "pages free", "^%s+min%s", "^%s+low%s", "^%s+high%s+%d", "managed"})
print(("\n   Of 262144 kB of RAM, MemTotal counts %d kB: the rest is the legacy hole,"):format(
  kb("MemTotal")))
print("   the kernel image, mem_map (one struct page per frame) and per-CPU data.")
print("   Below each zone's min watermark only atomic allocations may dig; reclaim")
print("   wakes at low and sleeps again at high.")

-- 2 ---------------------------------------------------------------------
chapter("The buddy system: free blocks of 2^order frames",
[[Frames are handed out in blocks of 1, 2, 4 ... 1024 frames. A free block
whose buddy is also free merges with it, so large blocks come back when
memory is freed. /proc/buddyinfo counts the free blocks of each order.]])
m:drain_pages()
-- Free order-10 blocks of DMA32, the last number of its buddyinfo line.
local function order10_blocks()
  return tonumber(m:view("buddyinfo"):match("DMA32[%s%d]-(%d+)%s*\n"))
end
local blocks_at_boot = order10_blocks()
print("   after boot:")
indent(m:view("buddyinfo"))
local burst, kept = {}, {}
for i = 1, 4000 do
  local p = m:alloc_pages(0, "GFP_HIGHUSER_MOVABLE")
  if not p then break end
  burst[#burst + 1] = p
end
for i, p in ipairs(burst) do
  if i % 8 == 0 then kept[#kept + 1] = p else m:free_pages(p) end
end
m:drain_pages()
print(("\n   after allocating %d frames and freeing all but every eighth (%d kept):"):format(
  #burst, #kept))
indent(m:view("buddyinfo"))
local lost = blocks_at_boot - order10_blocks()
print(("\n   %d frames kept (%d kB) leave %d fewer free 4 MiB blocks (%d MiB): one busy"):format(
  #kept, #kept * 4, lost, lost * 4))
print("   frame keeps its whole block from merging.")
print("   The share of free memory unusable for a block of each order (order 0 .. 10):")
indent(m:view("extfrag"), {"DMA32 0"})
for _, p in ipairs(kept) do m:free_pages(p) end
m:drain_pages()
print("\n   and when they are freed, the buddies merge again:")
indent(m:view("buddyinfo"))
print("   (Linux also groups pages by mobility so that kernel pages, which cannot")
print("   move, pin as few large blocks as possible: scenarios/fragmentation.lua.)")

-- 3 ---------------------------------------------------------------------
chapter("The slab allocator: object caches on top of the buddy system",
[[Kernel objects come from caches of equal-sized objects (Bonwick 1994).
A slab is a few frames cut into objects; successive slabs shift their
objects by a cache line (colouring) so they do not compete for the same
lines; per-CPU magazines make an allocation a few instructions.]])
local cache = m:cache_create{name = "tour_object", size = 200, align = 64}
local objs = {}
for i = 1, 2000 do objs[i] = cache:alloc() end
local info = cache:info()
if m:kma() == "slab" then
  print(("   2000 objects of 200 bytes (%d with alignment): %d slabs of %d frame(s), %d objects"):format(
    info.buffer_size, info.slabs_full + info.slabs_partial + info.slabs_free, info.pages_per_slab,
    info.objs_per_slab))
  print(("   each; %d colours, %d bytes apart; %d bytes of the slabs' %d are padding or left over."):format(
    info.colours, info.colour_off, info.waste_padding + info.waste_leftover, info.bytes_total))
  indent(m:view("slabinfo"), {"^# name", "^tour_object", "^kmalloc%-256 ", "^task_struct", "^vm_area_struct"})
else
  -- kmm --kma NAME: every cache's objects come from that design instead.
  print(("   This machine's kernel memory allocator is %s (--kma): the cache is a name"):format(m:kma()))
  print(("   over it, so its 2000 objects of 200 bytes sit in %s's blocks, with no slabs,"):format(m:kma()))
  print("   no colours and no constructed objects kept. What the design holds:")
  indent(m:view("kmainfo"), {"^kma ", "^" .. m:kma() .. " "})
end
m:drain_pages()
local before = kb("MemFree")
for i = 1, 2000 do cache:free(objs[i]) end
local reaped = cache:shrink()
m:drain_pages()
if m:kma() == "slab" then
  print(("\n   all freed, then the cache reaped: MemFree +%d kB (%d frames by the reap, the"):format(
    kb("MemFree") - before, reaped))
  print("   rest as slabs emptied beyond the cache's free-slab limit).")
else
  print(("\n   all freed: MemFree +%d kB, as far as %s gives frames back."):format(
    kb("MemFree") - before, m:kma()))
end
cache:destroy()

-- 4 ---------------------------------------------------------------------
chapter("A process: memory areas, page tables and demand paging",
[[A process's address space is a set of memory areas (vm_area). Mapping
memory creates an area but no frame: frames are given page by page when a
page is first touched (demand paging). Reads of untouched anonymous memory
map the one shared zero page; the first write gives a frame of its own.]])
local t = assert(m:spawn("tour"))
local heap = assert(t:brk(0))
assert(t:brk(heap + 4 * MiB))
local a = assert(t:mmap{len = 64 * MiB, prot = "rw"})
print(("   pid %d: a 4 MiB heap (brk) and a 64 MiB anonymous mapping at 0x%x"):format(t.pid, a))
indent(m:view("maps", t.pid))
for i = 0, 64 * MiB // P - 1, 16 do assert(t:load(a + i * P, 8)) end
for i = 0, 4 * MiB // P - 1 do assert(t:store(heap + i * P, i, 8)) end
local st = m:view("status", t.pid)
print(("\n   after reading every 16th page of the mapping and writing the heap:"))
indent(st, {"^VmSize", "^VmRSS", "^RssAnon", "^VmPTE"})
print(("   %d faults, %d of them mapped the zero page: of %d MiB mapped, %d MiB are resident."):format(
  t.min_flt, m:stat("pgfault_zero"), 68, m:stat("AnonPages") // 1024))
-- The story's numbers, checked: only the written heap is resident.
assert(m:stat("pgfault_zero") >= 64 * MiB // P // 16, "reads mapped the zero page")
assert(m:stat("AnonPages") // 1024 == 4, "only the 4 MiB heap holds frames")

-- 5 ---------------------------------------------------------------------
chapter("fork and copy-on-write",
[[fork gives the child a copy of the parent's areas and page tables, but
not of its pages: both share every frame, write-protected. The first write
to a shared page copies it (or, if the writer is its last user, just makes
it writable again).]])
local anon0 = kb("AnonPages")
local c = assert(t:fork())
print(("   child pid %d: AnonPages %d kB before and %d kB after fork (nothing copied)"):format(
  c.pid, anon0, kb("AnonPages")))
for i = 0, 4 * MiB // P // 2 - 1 do assert(c:store(heap + i * P, -i, 8)) end
print(("   the child wrote half of the heap: %d copy-on-write faults, AnonPages %d kB"):format(
  c.cow_flt, kb("AnonPages")))
assert(t:load(heap + P, 8) == 1 and c:load(heap + P, 8) == -1, "each sees its own writes")
assert(c.cow_flt == 4 * MiB // P // 2, "one copy per page the child wrote")
print("   the parent still reads its own values; the child reads its own.")
c:exit()
t:exit()
m:shrink_slab()
m:drain_pages()
print(("   both exited: AnonPages %d kB, PageTables %d kB: every frame is back."):format(
  kb("AnonPages"), kb("PageTables")))
m:check()

-- 6 ---------------------------------------------------------------------
-- The first of these programs the host has.
local function first_present(paths)
  for _, p in ipairs(paths) do
    local f = io.open(p, "rb")
    if f then f:close() return p end
  end
end
local prog = first_present{"/usr/bin/python3", "/bin/bash", "/bin/sh"}

chapter("Real programs: exec, and their pages from the page cache",
[[exec maps a program's ELF segments from its file (code read-only and
executable, data private and writable, bss anonymous), then its loader
and shared libraries, and builds a stack with argv, envp and the auxiliary
vector. Nothing is read yet: each page comes from the page cache when it is
first touched, and from the disk only if it is not cached yet.]])
local p1 = assert(m:spawn("prog"))
assert(p1:exec(prog, {prog, "-c", "pass"}))
local maps = m:view("maps", p1.pid)
local lines, libs = 0, {}
for line in maps:gmatch("[^\n]+") do
  lines = lines + 1
  local path = line:match("(/%S+)$")
  if path and path ~= prog then libs[path] = true end
  if lines <= 6 then print("     " .. line) end
end
local nlibs = 0
for _ in pairs(libs) do nlibs = nlibs + 1 end
print(("     ... %d areas in all: %s, %d libraries and the loader, bss, [stack]"):format(
  lines, prog, nlibs - 1))
indent(m:view("status", p1.pid), {"^VmSize", "^VmRSS"})

-- Touch the program's code as running it would, page by page.
local code_start, code_end = maps:match("(%x+)%-(%x+) r%-xp %x+ %S+ %d+ +" .. prog:gsub("%p", "%%%0") .. "\n")
code_start, code_end = tonumber(code_start, 16), tonumber(code_end, 16)
local before_cached = kb("Cached")
assert(p1:touch(code_start, code_end - code_start, "r") == 0)
print(("\n   reading its %d KiB of code: %d major faults, each reading a readahead window"):format(
  (code_end - code_start) // 1024, p1.maj_flt))
print(("   from the file (Cached +%d kB); the other faults found their page cached."):format(
  kb("Cached") - before_cached))
local p2 = assert(m:spawn("prog2"))
assert(p2:exec(prog, {prog}))
assert(p2:touch(code_start, code_end - code_start, "r") == 0)
print(("   a second instance reads the same code: %d major faults, %d minor: every page was"):format(
  p2.maj_flt, p2.min_flt))
print("   already in the page cache, and both map the same frames.")
assert(p1.maj_flt > 0 and p2.maj_flt == 0, "the second instance found its code cached")
p1:exit()
p2:exit()

-- 7 ---------------------------------------------------------------------
chapter("The page cache: reads, deferred writes, writeback and sync",
[[Reads look in the cache first; a miss reads the page, and sequential
reads make readahead fetch ahead in growing windows. Writes only copy into
cache pages and mark them dirty: the flusher writes pages dirty for more
than 30 s (dirty_expire, checked every 5 s), and sync writes everything.]])
m:drop_caches()
local t = assert(m:spawn("io"))
local buf = assert(t:mmap{len = 64 * 1024, prot = "rw"})
local function read_all(path)
  local fd = assert(t:open(path, "r"))
  local total = 0
  repeat
    local n = assert(t:read(fd, buf, 64 * 1024))
    total = total + n
  until n == 0
  t:close(fd)
  return total
end
local function cache_counts() return m:stat("pgcache_hit"), m:stat("pgcache_miss"), m:stat("pgpgin") end
local h0, m0, in0 = cache_counts()
local size = read_all(prog)
local h1, m1, in1 = cache_counts()
print(("   first read of %s (%d KiB): %d page lookups missed, %d hit (readahead had"):format(
  prog, size // 1024, m1 - m0, h1 - h0))
print(("   fetched them), %d KiB read from the host"):format(in1 - in0))
read_all(prog)
local h2, m2 = cache_counts()
print(("   second read: %d missed, %d hit"):format(m2 - m1, h2 - h1))
assert(m1 > m0 and m2 == m1 and h2 > h1, "the second read hit the cache only")

local disk = assert(t:open("/dev/scratch", "rw"))
assert(t:put(buf, string.rep("kmm!", 16 * 1024)))
-- What the host file behind the disk holds at byte offset off.
local function on_disk(off)
  local f = assert(io.open(scratch, "rb"))
  f:seek("set", off)
  local bytes = f:read(4)
  f:close()
  return bytes
end
for i = 0, 63 do assert(t:write(disk, buf, 64 * 1024) == 64 * 1024) end
assert(on_disk(8) == "\0\0\0\0", "written before writeback")
assert(kb("Dirty") >= 4096, "the writes wait in the cache, dirty")
print(("\n   wrote 4 MiB to /dev/scratch: Dirty %d kB, Buffers %d kB, nothing on the disk yet"):format(
  kb("Dirty"), kb("Buffers")))
m:advance(29)
print(("   29 s later: Dirty %d kB (not old enough)"):format(kb("Dirty")))
assert(kb("Dirty") >= 4096, "not written before the 30 s expiry")
m:advance(7)
print(("   36 s later: Dirty %d kB, %d KiB written back by the flusher"):format(
  kb("Dirty"), m:stat("pgpgout")))
for i = 0, 31 do assert(t:write(disk, buf, 64 * 1024) == 64 * 1024) end
print(("   2 MiB more: Dirty %d kB; then sync:"):format(kb("Dirty")))
if m:plot_recording() then m:plot_mark("sync") end
assert(m:sync() == 0)
print(("   Dirty %d kB, %d KiB written back in all"):format(kb("Dirty"), m:stat("pgpgout")))
assert(kb("Dirty") == 0, "sync wrote everything")
t:close(disk)
t:exit()
assert(on_disk(8) == "kmm!" and on_disk(4 * 1024 * 1024 + 8) == "kmm!", "the disk holds the writes")
print("   and the host file behind /dev/scratch holds the bytes written.")
m:check()

-- The end ---------------------------------------------------------------
chapter("The views at the end", [[/proc/meminfo and the /proc/vmstat counters this tour moved.]])
indent(m:view("meminfo"))
print()
indent(m:view("vmstat"), {"^pgalloc_dma32", "^pgfree", "^pgfault", "^pcp_", "^nr_tlb"})
print("\n   Every invariant checker passed (m:check()).")
os.remove(scratch)
