-- Random calls of every file method with arguments of every type, on live,
-- dead and stale tasks and on things that are not tasks, against a
-- read-write root: a call may fail (nil, "ENAME") or raise a Lua error,
-- never panic the kernel or crash the host (ASan: ctest -L asan), and the
-- machine stays consistent (m:check after every thousand calls, and with
-- the cache dropped at the end).
local kmm = require "kmm"
local P = kmm.PAGE_SIZE
math.randomseed(tonumber(arg[1]) or 11)

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p '" .. dir .. "/sub'"))
do
  local f = assert(io.open(dir .. "/seed", "wb"))
  f:write(string.rep("0123456789abcdef", 3000))
  f:close()
end

local old = kmm.boot{ram = "16M", quiet = true, root = dir}
local stale = assert(old:spawn("stale"))
old:shutdown()

local m = kmm.boot{ram = "32M", quiet = true, root = dir, rw = true}
local tasks = {assert(m:spawn("t0"))}
local buf = assert(tasks[1]:mmap{len = 8 * P, prot = "rw", flags = "private,anon"})
local dead = assert(m:spawn("dead"))
dead:exit()

local pool = {
  false, true, 0, 1, 2, 3, 4, 5, -1, 255, 256, 257, 1.5, 0 / 0, math.huge, math.maxinteger,
  math.mininteger, buf, buf + P - 3, buf + 8 * P - 1, 0x1000, 0x7ffffffff000, P, 3 * P,
  "", "r", "w", "rw", "rw,creat", "w,creat,trunc", "r,append", "rw,creat,excl", "r,w",
  "sideways", "set", "cur", "end", "64K", "/seed", "/new", "/sub", "/sub/x", "/../seed",
  "/dev/none", "relative", string.rep("a", 5000), "/" .. string.rep("b", 300), {}, print,
  m, stale, dead, coroutine.create(function() end),
}
local methods = {"open", "close", "read", "write", "pread", "pwrite", "lseek", "ftruncate",
                 "fsync", "fdatasync"}
local errors, fails = 0, 0

for i = 1, 6000 do
  local live = {}
  for _, t in ipairs(tasks) do if t.alive then live[#live + 1] = t end end
  if #live == 0 or (#live < 4 and math.random(80) == 1) then
    live[#live + 1] = assert(m:spawn("t" .. i))
    tasks[#tasks + 1] = live[#live]
  end
  local self = live[math.random(#live)]
  local r = math.random(25)
  if r == 1 then self = stale elseif r == 2 then self = dead
  elseif r == 3 then self = pool[math.random(#pool)] end
  local name = methods[math.random(#methods)]
  local args = {}
  for j = 1, math.random(0, 5) do args[j] = pool[math.random(#pool + 1)] end
  -- Often a plausible call, so the paths past the argument checks run too.
  if math.random(2) == 1 then
    args[1] = name == "open" and ({"/seed", "/new", "/sub", "/dev/none"})[math.random(4)]
              or math.random(0, 6)
    if name ~= "open" then args[2] = buf + math.random(0, 7 * P) end
    args[3] = name == "open" and ({"r", "rw", "rw,creat", "w,append,creat"})[math.random(4)]
              or math.random(0, 3 * P)
  end
  local ok, res, err = pcall(function()
    if math.random(40) == 1 then return m:sync() end
    if math.random(40) == 1 then return m:drop_caches() end
    if math.random(60) == 1 then return m:advance(math.random(0, 40)) end
    if math.random(80) == 1 then return self:fork() end
    if math.random(100) == 1 then return self:exit() end
    return tasks[1][name](self, table.unpack(args, 1, 5))
  end)
  if not ok then
    errors = errors + 1
    assert(type(res) == "string" and not res:find("panic"), tostring(res))
  elseif res == nil and type(err) == "string" then
    fails = fails + 1
  elseif type(res) == "userdata" and tostring(res):match("^task") then
    tasks[#tasks + 1] = res
  end
  if i % 1000 == 0 then assert(m:check()) end
end
assert(errors > 300 and fails > 300, ("errors %d, failed calls %d"):format(errors, fails))
for _, t in ipairs(tasks) do if t.alive then t:exit() end end
assert(m:sync() ~= false)
m:drop_caches()
assert(m:check())
assert(m:stat("Cached") == 0, "cache not empty after every task exited")
m:shutdown()
os.execute("rm -rf '" .. dir .. "'")
print(("files misuse: ok (%d errors raised, %d calls failed)"):format(errors, fails))
