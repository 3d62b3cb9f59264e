-- exec of real programs from Lua: t:exec(path, argv, envp) loads the host's
-- /bin/sh (the machine's root is the host's "/", read-only) with its loader
-- and libraries; the maps show them as Linux does; the program's pages come
-- in on demand; a file mapping reads the file; bad programs and bad
-- arguments fail cleanly and leave the task as it was.
local kmm = require "kmm"
local P = kmm.PAGE_SIZE

local m = kmm.boot{ram = "128M", quiet = true}
local t = assert(m:spawn("shell"))

local function expect(err, ok, got)
  assert(ok == nil and got == err, ("expected nil, %s; got %s, %s"):format(err, tostring(ok), tostring(got)))
end

-- Failures first: the task keeps its address space.
-- (at an address no program or library of this layout uses)
local keep = assert(t:mmap{addr = 0x200000000, len = P, prot = "rw", flags = "private,anon,fixed"})
assert(t:store(keep, 42) == 0)
expect("ENOENT", t:exec("/no/such/program"))
expect("EACCES", t:exec("/etc/passwd"))          -- no execute permission
expect("EACCES", t:exec("/etc"))                 -- a directory
expect("ENOEXEC", t:exec("/usr/bin/ldd"))        -- a #! script: kmm has no binfmt_script
assert(not pcall(t.exec, t, "/bin/sh", {"sh", 1, {}}), "argv must hold strings")
assert(not pcall(t.exec, t, "/bin/sh", "sh"), "argv must be a table")
assert(t:load(keep) == 42, "the old address space survives every failed exec")
m:check()

-- /bin/sh (dash, a PIE): code, rodata, data at 0x555555554000, the loader
-- below mmap_base, libc below it, the stack at the top.
assert(t:exec("/bin/sh", {"sh", "-c", "true"}, {"PATH=/bin", "HOME=/"}) == 0)
assert(t.name == "sh", t.name)
assert(t:load(keep) == nil and not t.alive and t.signal == "SIGSEGV",
  "the old mapping is gone after exec")

t = assert(m:spawn("shell"))
assert(t:exec("/bin/sh", {"sh", "-c", "true"}, {"PATH=/bin", "HOME=/"}) == 0)
local maps = m:view("maps", t.pid)
assert(maps:match("555555554000%-%x+ r%-%-p 00000000 %x%x:%x%x %d+ +/bin/sh\n"), maps)
assert(maps:match("%x+%-%x+ r%-xp %x+ %x%x:%x%x %d+ +/bin/sh\n"), maps)
assert(maps:match("%x+%-%x+ rw%-p %x+ %x%x:%x%x %d+ +/bin/sh\n"), maps)
assert(maps:match("7ffff7%x+%-7ffff7fff000 rw%-p %x+ %x%x:%x%x %d+ +/[%w/_.-]*ld%-linux%-x86%-64%.so%.2\n"), maps)
assert(maps:match("%x+%-%x+ r%-xp %x+ %x%x:%x%x %d+ +/[%w/_.-]*libc%.so%.6\n"), maps)
assert(maps:match("7ffffffde000%-7ffffffff000 rw%-p 00000000 00:00 0 +%[stack%]\n"), maps)

-- Nothing of the program is resident until touched: then it is file pages.
local rss_file = function() return tonumber(m:view("status", t.pid):match("RssFile:%s+(%d+) kB")) end
assert(rss_file() == 0, "exec itself faults in nothing of the program")
assert(t:load(0x555555554000, 4) == 0x464c457f, "the ELF magic, read through the MMU")
assert(rss_file() == 4)
local majflt = t.maj_flt
assert(t:touch(0x555555554000, 4 * P, "r") == 0)
assert(rss_file() == 16)
assert(t.maj_flt >= majflt)

-- The heap starts right after the program's bss.
local heap = t:brk(0)
assert(heap > 0x555555554000 and heap % P == 0)
assert(t:brk(heap + 4 * P) == heap + 4 * P)
assert(m:view("maps", t.pid):find(("%x%%-%x rw%%-p 00000000 00:00 0 +%%[heap%%]"):format(heap, heap + 4 * P)),
  m:view("maps", t.pid))

-- A private mapping of a file reads it; a write copies the page, the file stays.
local fd = assert(t:open("/etc/passwd", "r"))
local a = assert(t:mmap{len = P, prot = "rw", flags = "private", fd = fd})
assert(t:load(a, 4) == string.unpack("<I4", "root"))
assert(t:store(a, 0x58585858, 4) == 0)
local b = assert(t:mmap{len = P, prot = "r", flags = "shared", fd = fd})
assert(t:load(b, 4) == string.unpack("<I4", "root"), "the cache page is untouched")
expect("EACCES", t:mmap{len = P, prot = "rw", flags = "shared", fd = fd})
assert(t:close(fd) == 0)
assert(m:view("maps", t.pid):find(" /etc/passwd\n", 1, true))
m:check()

-- fork keeps the file mappings; exit of both releases them.
local c = assert(t:fork())
assert(c:load(0x555555554000, 4) == 0x464c457f)
assert(c:load(b, 4) == string.unpack("<I4", "root"))
assert(c:load(a, 4) == 0x58585858, "the child has the parent's private copy")
m:check()
c:exit()
t:exit()
m:check()
print("exec: ok")
