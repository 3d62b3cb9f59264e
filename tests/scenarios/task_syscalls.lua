-- The memory system calls from Lua, edge cases first: every failure comes
-- back as nil plus Linux's errno name, success as Linux's return value,
-- and a misuse of the API is a Lua error. The maps view shows the areas
-- each call leaves.
local kmm = require "kmm"
local P = kmm.PAGE_SIZE

local m = kmm.boot{ram = "64M", quiet = true}
local t = assert(m:spawn("sys"))

local function expect(err, ok, got)
  assert(ok == nil and got == err, ("expected nil, %s; got %s, %s"):format(err, tostring(ok), tostring(got)))
end

-- The areas of t in a window, as "start-end perms" lines relative to base.
local function areas(base, len)
  local out = {}
  for s, e, perms in m:view("maps", t.pid):gmatch("(%x+)-(%x+) (%S+)[^\n]*\n") do
    s, e = tonumber(s, 16), tonumber(e, 16)
    if s >= base and e <= base + len then
      out[#out + 1] = ("%x-%x %s"):format(s - base, e - base, perms)
    end
  end
  return table.concat(out, " ")
end

-- mmap
expect("EINVAL", t:mmap{len = 0})
expect("EINVAL", t:mmap{len = P, flags = "anon"})                 -- neither private nor shared
expect("EBADF", t:mmap{len = P, flags = "private"})               -- a file mapping without a file
local base = assert(t:mmap{len = 16 * P, prot = ""})               -- a window to work in
assert(base % P == 0)
expect("EINVAL", t:mmap{addr = base + 1, len = P, flags = "private,anon,fixed"})
expect("EEXIST", t:mmap{addr = base, len = P, flags = "private,anon,fixed_noreplace"})
assert(t:munmap(base, 16 * P) == 0)
assert(t:mmap{addr = base, len = 16 * P, prot = "rw", flags = "private,anon,fixed_noreplace"} == base)
-- A hint that is free is taken.
assert(t:munmap(base + 8 * P, 8 * P) == 0)
assert(t:mmap{addr = base + 12 * P, len = P, prot = "r"} == base + 12 * P)
assert(areas(base, 16 * P) == "0-8000 rw-p c000-d000 r--p", areas(base, 16 * P))

-- munmap: any sub-range; alignment and length are checked
expect("EINVAL", t:munmap(base + 1, P))
expect("EINVAL", t:munmap(base, 0))
assert(t:munmap(base + 2 * P, P) == 0)
assert(t:munmap(base + 13 * P, 3 * P) == 0)                       -- nothing there: fine
assert(areas(base, 16 * P) == "0-2000 rw-p 3000-8000 rw-p c000-d000 r--p", areas(base, 16 * P))

-- mprotect: splits and merges; a hole is ENOMEM after the part before it changed (Linux)
expect("EINVAL", t:mprotect(base + 1, P, "r"))
expect("ENOMEM", t:mprotect(base + 9 * P, P, "r"))
assert(t:mprotect(base + 4 * P, P, "r") == 0)
assert(areas(base, 16 * P) == "0-2000 rw-p 3000-4000 rw-p 4000-5000 r--p 5000-8000 rw-p c000-d000 r--p",
       areas(base, 16 * P))
assert(t:mprotect(base + 4 * P, P, "rw") == 0)                   -- merged again
assert(areas(base, 16 * P) == "0-2000 rw-p 3000-8000 rw-p c000-d000 r--p", areas(base, 16 * P))
expect("ENOMEM", t:mprotect(base, 4 * P, "r"))                     -- [0,2) changes, then the hole
assert(areas(base, 16 * P) == "0-2000 r--p 3000-8000 rw-p c000-d000 r--p", areas(base, 16 * P))

-- mremap: shrink, grow in place, move
expect("EINVAL", t:mremap(base + 3 * P, 5 * P, 0))
expect("EFAULT", t:mremap(base + 9 * P, P, 2 * P))                 -- no area there
assert(t:store(base + 3 * P, 0x1122334455667788) == 0)
assert(t:mremap(base + 3 * P, 5 * P, 4 * P) == base + 3 * P)       -- shrink
assert(t:mremap(base + 3 * P, 4 * P, 6 * P) == base + 3 * P)       -- grow into the hole
expect("ENOMEM", t:mremap(base + 3 * P, 6 * P, 10 * P))            -- [c000) is in the way
local moved = assert(t:mremap(base + 3 * P, 6 * P, 10 * P, "maymove"))
assert(moved ~= base + 3 * P and t:load(moved) == 0x1122334455667788, "the data moves with the area")
assert(t:mremap(moved, 10 * P, P, "maymove,fixed", base + 3 * P) == base + 3 * P)
assert(t:load(base + 3 * P) == 0x1122334455667788)
expect("EINVAL", t:mremap(base + 3 * P, P, P, "fixed", base))       -- fixed needs maymove

-- madvise(DONTNEED): private pages read back as zero
assert(t:madvise(base + 3 * P, P, "dontneed") == 0)
assert(t:load(base + 3 * P) == 0)
expect("ENOMEM", t:madvise(base + 9 * P, P, "dontneed"))
expect("EINVAL", t:madvise(base + 1, P, "dontneed"))

-- brk: grows and shrinks the heap; a request it cannot honour returns the current break
local b0 = t:brk(0)
assert(t:brk(b0 + 3 * P + 100) == b0 + 3 * P + 100)
assert(m:view("maps", t.pid):find("[heap]", 1, true), "the heap is named in maps")
assert(t:store(b0 + 3 * P, 42) == 0 and t:load(b0 + 3 * P) == 42)
assert(t:brk(b0 - P) == b0 + 3 * P + 100, "below the start: the current break")
assert(t:brk(b0 + P) == b0 + P)
local r, err = t:load(b0 + 3 * P)
assert(r == nil and err == "SIGSEGV", "the shrunk heap is gone")
assert(not t.alive and t.signal == "SIGSEGV" and t.fault_code == "SEGV_MAPERR")

-- Misuse is a Lua error (and the task is dead now, which is one too).
local u = assert(m:spawn("misuse"))
local function fails(pattern, f, ...)
  local ok, msg = pcall(f, ...)
  assert(not ok and msg:find(pattern, 1, true), ("expected an error with %q, got %s"):format(pattern, tostring(msg)))
end
fails("is dead", t.load, t, b0)
fails("bad protection", u.mmap, u, {len = P, prot = "rwz"})
fails("unknown mmap flag", u.mmap, u, {len = P, flags = "private,anon,huge"})
fails("unknown field", u.mmap, u, {len = P, size = 3})
fails("'len' is required", u.mmap, u, {})
fails("size must be 1, 2, 4 or 8", u.load, u, 0x10000, 3)
fails("mode is", u.touch, u, 0x10000, P, "x")
fails("unknown madvise flag", u.madvise, u, 0x10000, P, "free")
fails("no field", function() return u.nothing end)
assert(u.alive and u.exit_code == nil)   -- (u may reuse the dead t's pid)
assert(u:exit(3) == 0 and not u.alive and u.exit_code == 3 and u.signal == nil)
fails("has exited", u.brk, u, 0)

m:check()
m:shutdown()
fails("shut down", u.brk, u, 0)
assert(not u.alive and u.pid and not t.alive, "tasks of a machine that is gone are dead")
