-- Files through the page cache from Lua: a machine whose root is a fresh
-- host directory (read-write), a task that writes, reads back, seeks,
-- truncates and appends; writes stay dirty until the flusher's expiry (in
-- virtual time) or sync; drop_caches empties the clean cache; errors come
-- back as nil plus Linux's errno name. Every step is checked against the
-- host's copy of the file.
local kmm = require "kmm"
local P = kmm.PAGE_SIZE

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p '" .. dir .. "'"))

local function host(name)
  local f = io.open(dir .. name, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function expect(err, ok, got)
  assert(ok == nil and got == err,
         ("expected nil, %s; got %s, %s"):format(err, tostring(ok), tostring(got)))
end

local m = kmm.boot{ram = "64M", quiet = true, root = dir, rw = true}
local t = assert(m:spawn("writer"))
local buf = assert(t:mmap{len = 4 * P, prot = "rw", flags = "private,anon"})

-- Create and write: nothing reaches the host before writeback.
local fd = assert(t:open("/notes.txt", "rw,creat,trunc", 420))
assert(t:put(buf, "hello, page cache\n"))
assert(t:write(fd, buf, 18) == 18)
assert(host("/notes.txt") == "", "written before writeback")
assert(m:stat("Dirty") == 4)
assert(m:stat("nr_dirty") == 1)
m:check()

-- The flusher writes it once it is 30 virtual seconds old, not before.
m:advance(29)
assert(host("/notes.txt") == "")
m:advance(2)
assert(host("/notes.txt") == "hello, page cache\n")
assert(m:stat("Dirty") == 0)

-- Read back through the cache, at an offset, and seek.
assert(t:lseek(fd, 7) == 7)
assert(t:read(fd, buf + 100, 100) == 11)
assert(t:get(buf + 100, 11) == "page cache\n")
assert(t:read(fd, buf, 10) == 0)                        -- end of file
assert(t:pread(fd, buf, 5, 0) == 5)
assert(t:get(buf, 5) == "hello")
assert(t:lseek(fd, 0, "end") == 18)
assert(t:lseek(fd, -1, "cur") == 17)

-- Append, truncate, sync.
local a = assert(t:open("/notes.txt", "w,append"))
assert(t:put(buf, "more\n"))
assert(t:write(a, buf, 5) == 5)
assert(t:ftruncate(fd, 6) == 0)
assert(t:write(a, buf, 5) == 5)                         -- at the new end
assert(m:sync() == 0)
assert(host("/notes.txt") == "hello,more\n")
assert(t:fsync(a) == 0)
assert(t:fdatasync(fd) == 0)
assert(t:close(a) == 0)

-- A bigger file written at odd offsets matches the host after sync.
local big = assert(t:open("/big.bin", "rw,creat"))
local model = {}
for i = 1, 3 * P do model[i] = string.char(i % 251) end
model = table.concat(model)
assert(t:put(buf, model))
assert(t:pwrite(big, buf + 1, 3 * P - 1, 4095) == 3 * P - 1)
assert(m:sync() == 0)
local h = host("/big.bin")
assert(#h == 4095 + 3 * P - 1)
assert(h:sub(1, 4095) == string.rep("\0", 4095))
assert(h:sub(4096) == model:sub(2))
assert(m:stat("Cached") > 0)

-- drop_caches: clean pages go; reads still see the file.
local dropped = m:drop_caches()
assert(dropped > 0, "nothing dropped")
assert(t:pread(big, buf, 10, 4095 + 100) == 10)
assert(t:get(buf, 10) == model:sub(102, 111))

-- Errors: nil plus errno names.
expect("ENOENT", t:open("/missing", "r"))
expect("EEXIST", t:open("/big.bin", "rw,creat,excl"))
expect("EBADF", t:read(99, buf, 1))
expect("EBADF", t:close(99))
expect("EINVAL", t:lseek(fd, -100))
expect("EINVAL", t:ftruncate(fd, -1))
expect("EFAULT", t:pread(fd, 16, 10, 0))
assert(not pcall(t.open, t, "/x", "sideways"))          -- unknown flag: a Lua error
assert(not pcall(t.open, t, "/x", "r,w"))               -- two access modes

-- Descriptors are inherited by fork and closed at exit.
local c = assert(t:fork())
assert(c:pread(big, buf, 3, 4095) == 3)
c:exit()
assert(t:close(big) == 0)
assert(t:close(fd) == 0)
t:exit()
m:check()
m:drop_caches()
assert(m:stat("Cached") == 0 and m:stat("Buffers") == 0)

-- Writes left dirty are synced when the machine shuts down.
local t2 = assert(m:spawn("late"))
local b2 = assert(t2:mmap{len = P, prot = "rw", flags = "private,anon"})
local f2 = assert(t2:open("/late.txt", "w,creat"))
assert(t2:put(b2, "at shutdown"))
assert(t2:write(f2, b2, 11) == 11)
m:shutdown()
assert(host("/late.txt") == "at shutdown")

-- A read-only root refuses writes.
local ro = kmm.boot{ram = "32M", quiet = true, root = dir}
local t3 = assert(ro:spawn("ro"))
expect("EROFS", t3:open("/notes.txt", "rw"))
expect("EROFS", t3:open("/new", "w,creat"))
assert(t3:open("/notes.txt", "r"))
ro:shutdown()

os.execute("rm -rf '" .. dir .. "'")
print("files: ok")
