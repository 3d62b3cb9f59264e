-- Random calls of every task method with arguments of every type, on live,
-- dead and stale tasks (of a machine that is gone) and on things that are
-- not tasks. A call may fail (nil, "ENAME"), kill its task (nil,
-- "SIGSEGV") or raise a Lua error, but never a kernel panic, never a host
-- crash (ASan: ctest -L asan), and the machine stays consistent.
local kmm = require "kmm"
local P = kmm.PAGE_SIZE
math.randomseed(tonumber(arg[1]) or 7)

local old = kmm.boot{ram = "16M", quiet = true}
local stale = assert(old:spawn("stale"))
old:shutdown()

local m = kmm.boot{ram = "32M", quiet = true}
local tasks = {assert(m:spawn("t0"))}
local addrs = {0, 1, P, 0x10000, 0x7ffffffff000, 0x7fffffffe000, -1, math.maxinteger,
               math.mininteger}
for i = 1, 4 do
  local a = tasks[1]:mmap{len = (i * 3) * P, prot = ({"", "r", "rw", "rwx"})[i]}
  if a then addrs[#addrs + 1] = a; addrs[#addrs + 1] = a + P - 3 end
end
local dead = assert(m:spawn("dead"))
dead:exit()

local pool = {
  false, true, 0, 1, 2, 3, 4, 8, 16, -1, 1.5, 0 / 0, math.huge, "", "r", "w", "rw", "rwx",
  "xyz", "64K", "1G", "private,anon", "shared,anon", "fixed", "private,anon,fixed",
  "maymove", "maymove,fixed", "dontneed", "bogus", string.rep("w", 5000), {}, {len = P},
  {len = "16K", prot = "rw"}, {addr = 0x10000, len = P, flags = "private,anon,fixed"},
  {len = 0}, {len = -1}, {len = P, fd = 3}, {len = P, bogus = 1}, print, m, stale, dead,
  coroutine.create(function() end),
}
local methods = {"mmap", "munmap", "mprotect", "mremap", "brk", "madvise", "fork", "exit",
                 "exec", "load", "store", "get", "put", "touch"}
local fields = {"pid", "name", "alive", "exit_code", "signal", "fault_addr", "fault_code",
                "min_flt", "maj_flt", "cow_flt", "rss", "bogus"}
local errors, segv = 0, 0

local function arg_()
  local r = math.random(3)
  if r == 1 then return addrs[math.random(#addrs)] end
  return pool[math.random(#pool + 1)]    -- may be nil
end

for i = 1, 8000 do
  local live = {}
  for _, t in ipairs(tasks) do if t.alive then live[#live + 1] = t end end
  if #live == 0 or (#live < 6 and math.random(50) == 1) then
    live[#live + 1] = assert(m:spawn("t" .. i))
    tasks[#tasks + 1] = live[#live]
  end
  local self = live[math.random(#live)]
  local r = math.random(20)
  if r == 1 then self = stale elseif r == 2 then self = dead
  elseif r == 3 then self = pool[math.random(#pool)] end
  local name = methods[math.random(#methods)]
  if name == "exit" and math.random(4) > 1 then name = "load" end
  local args = {}
  for j = 1, math.random(0, 5) do args[j] = arg_() end
  local ok, res, err = pcall(function()
    if math.random(30) == 1 then return self[fields[math.random(#fields)]] end
    if math.random(30) == 1 then return m:view(({"maps", "smaps", "status"})[math.random(3)], args[1]) end
    return tasks[1][name](self, table.unpack(args, 1, 5))
  end)
  if not ok then
    errors = errors + 1
    assert(type(res) == "string" and not res:find("panic"), tostring(res))
  elseif err == "SIGSEGV" or err == "SIGBUS" then
    segv = segv + 1
  elseif type(res) == "userdata" and tostring(res):match("^task") then
    tasks[#tasks + 1] = res      -- a fork's child
  end
  if i % 1000 == 0 then assert(m:check()) end
end
assert(errors > 1000 and segv > 10, ("errors %d, faults %d"):format(errors, segv))
assert(m:check())
m:shutdown()          -- exits every task still alive
print(("task misuse: ok (%d errors raised, %d tasks killed by faults)"):format(errors, segv))
