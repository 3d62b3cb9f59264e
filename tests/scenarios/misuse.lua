-- Random misuse of every function: arguments of every type, pages freed
-- twice or from another machine. Each call may fail, but only with a Lua
-- error: kmm must survive (under ASan too: ctest -L asan) and the machine
-- must stay consistent.
local kmm = require "kmm"
math.randomseed(tonumber(arg[1]) or 42)

local old = kmm.boot{ram = "16M", quiet = true}
local stale = assert(old:alloc_pages(0))
old:shutdown()

local m = kmm.boot{ram = "32M", quiet = true, cpus = 3}
local freed = assert(m:alloc_pages(1))
m:free_pages(freed)

local pool = {
  false, true, 0, 1, 2, 10, 11, -1, 1.5, 1e300, -1e300, 0 / 0, math.huge,
  math.maxinteger, math.mininteger, "", "0", "64M", "meminfo", "buddyinfo",
  "MemFree", "pgfree", "GFP_KERNEL", "kernel,zero", "GFP_BOGUS", "|", ",,",
  string.rep("x", 10000), {}, {ram = "16M"}, {bogus = 1}, {1, 2, 3},
  print, m, old, stale, freed, io.stdout, coroutine.create(function() end),
}
local methods = {"view", "stat", "check", "advance", "alloc_pages", "free_pages",
                 "drain_pages"}
local held, errors = {}, 0

for i = 1, 20000 do
  local args = {}
  for j = 1, math.random(0, 3) do args[j] = pool[math.random(#pool + 1)] end -- may be nil
  local self = math.random(10) == 1 and pool[math.random(#pool)] or m
  local name = methods[math.random(#methods)]
  local ok, res = pcall(function()
    if math.random(20) == 1 then return kmm.boot(args[1]) end
    if math.random(20) == 1 then return kmm.size(args[1]) end
    return m[name](self, table.unpack(args, 1, 3))
  end)
  if ok and type(res) == "userdata" and tostring(res):match("^page") then
    held[#held + 1] = res
  elseif not ok then
    errors = errors + 1
    assert(type(res) == "string" and not res:find("panic"), tostring(res))
  end
  -- Free held pages: the first free succeeds, a second one fails.
  if #held > 0 and math.random(3) == 1 then
    local k = math.random(#held)
    local p = held[k]
    local was_freed = p.freed
    local ok2 = pcall(m.free_pages, m, p)
    assert(ok2 == not was_freed, "free_pages of " .. tostring(p))
    assert(p.freed)
    if math.random(4) > 1 then table.remove(held, k) end
  end
end
assert(errors > 1000, "the misuse raised errors")
assert(m:check())
m:shutdown()
print(("misuse: ok (%d errors raised)"):format(errors))
