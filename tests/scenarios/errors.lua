-- Misuse of the API is a Lua error with a clear message, never a crash.
local kmm = require "kmm"

local function fails(pattern, f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok, "expected an error matching '" .. pattern .. "'")
  assert(tostring(err):find(pattern, 1, true),
         ("error '%s' lacks '%s'"):format(tostring(err), pattern))
  return err
end

-- kmm.boot: unknown fields and bad values name the field.
fails("unknown field 'bogus'", kmm.boot, {bogus = 1})
fails("field 'ram'", kmm.boot, {ram = "lots"})
fails("bad size 'lots'", kmm.boot, {ram = "lots"})
fails("field 'ram'", kmm.boot, {ram = -1})
fails("field 'ram'", kmm.boot, {ram = {}})
fails("field 'cpus'", kmm.boot, {cpus = 0})
fails("field 'cpus'", kmm.boot, {cpus = 1.5})
fails("field 'mode'", kmm.boot, {mode = "fast"})
fails("field 'seed'", kmm.boot, {seed = "x"})
fails("field 'mobility'", kmm.boot, {mobility = 1})
fails("field 'fail_page_prob'", kmm.boot, {fail_page_prob = 2})
fails("field 'root'", kmm.boot, {root = ""})
fails("field 'rw'", kmm.boot, {rw = 1})
fails("is not a directory", kmm.boot, {root = "/nonexistent/kmm-root", quiet = true})
fails("field 'disk'", kmm.boot, {disk = "nofile"})
fails("field 'kma'", kmm.boot, {kma = "slob"})
fails("fields are named", kmm.boot, {"64M"})
fails("boot failed", kmm.boot, {ram = 4096, quiet = true})
fails("bad argument", kmm.boot, "64M")

local m = kmm.boot{ram = "16M", quiet = true}

fails("unknown view 'nope'", m.view, m, "nope")
local err = fails("meminfo", m.view, m, "nope")      -- lists the valid names
assert(err:find("buddyinfo", 1, true))
fails("bad argument", m.view, m)
fails("unknown counter 'nope'", m.stat, m, "nope")
fails("bad argument", m.stat, m, {})
fails("bad argument", m.advance, m, -1)
fails("bad argument", m.advance, m, "soon")

fails("order must be 0..10", m.alloc_pages, m, 11)
fails("order must be 0..10", m.alloc_pages, m, -1)
fails("number has no integer representation", m.alloc_pages, m, 1.5)
fails("bad argument", m.alloc_pages, m)
fails("bad gfp 'GFP_BOGUS'", m.alloc_pages, m, 0, "GFP_BOGUS")
fails("bad gfp", m.alloc_pages, m, 0, "kernel,,zero,bogus")

local p = assert(m:alloc_pages(2))
m:free_pages(p)
fails("already freed", m.free_pages, m, p)
fails("bad argument", m.free_pages, m, "page")
fails("bad argument", m.free_pages, m, m)
fails("bad argument", m.free_pages, m)
fails("no field 'pnf'", function() return p.pnf end)

-- The wrong self.
fails("kmm.machine expected", m.view, p, "meminfo")
fails("kmm.machine expected", m.view, nil, "meminfo")
fails("kmm.machine expected", m.alloc_pages, {}, 0)

-- A page of a machine that is gone.
local q = assert(m:alloc_pages(0))
m:shutdown()
fails("shut down", m.free_pages, m, q)
local m2 = kmm.boot{ram = "16M", quiet = true}
fails("belongs to a machine that is shut down", m2.free_pages, m2, q)
assert(q.freed and tostring(q):match("gone"))
assert(m2:check())
m2:shutdown()

-- kmm.size
assert(kmm.size("64M") == 64 << 20 and kmm.size("4K") == 4096 and kmm.size(100) == 100)
fails("bad size", kmm.size, "64Q")
print("errors: ok")
