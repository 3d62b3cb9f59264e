-- A kernel panic inside a method is a Lua error; the machine is then dead
-- (every method but shutdown refuses), and a new machine can boot.
local kmm = require "kmm"

local m = kmm.boot{ram = "16M", quiet = true}
local p = assert(m:alloc_pages(0))
local ok, err = pcall(m._panic, m, "on purpose")
assert(not ok and err:find("kernel panic: on purpose", 1, true), err)
assert(tostring(m):match("panicked"))

for _, call in ipairs{
  function() return m:view("meminfo") end,
  function() return m:check() end,
  function() return m:alloc_pages(0) end,
  function() return m:free_pages(p) end,
} do
  local ok, err = pcall(call)
  assert(not ok and err:find("panicked", 1, true), tostring(err))
end

local ok2, err2 = pcall(kmm.boot, {ram = "16M", quiet = true})
assert(not ok2 and err2:find("already running", 1, true), err2)
m:shutdown()

m = kmm.boot{ram = "16M", quiet = true}
assert(m:check())
assert(m:alloc_pages(3))
m:shutdown()
print("panic: ok")
