-- Boot a machine, read every view, check the counters agree with the views,
-- and the machine's life: one at a time, shutdown, garbage collection.
local kmm = require "kmm"

local m = kmm.boot{ram = "64M", cpus = 2, mode = "det", seed = 1, quiet = true}
assert(tostring(m):match("^kmm machine %(64 MiB, 2 CPUs, det%)$"), tostring(m))

local names, help = kmm.views()
assert(#names >= 5, "at least five views")
local viewer = assert(m:spawn("viewer"))   -- for the per-task views (maps, ...)
for _, name in ipairs(names) do
  local text = m:view(name, viewer.pid)
  assert(type(text) == "string" and #text > 0, "view " .. name .. " is empty")
  assert(help[name] and #help[name] > 0, "view " .. name .. " has no help")
end

local meminfo = m:view("meminfo")
for _, field in ipairs{"MemTotal", "MemFree", "MemAvailable"} do
  local kb = meminfo:match(field .. ":%s+(%d+) kB")
  assert(kb, "meminfo lacks " .. field .. ":\n" .. meminfo)
  assert(m:stat(field) == tonumber(kb), field .. ": stat and view disagree")
end
assert(m:stat("MemTotal") > 50 * 1024 and m:stat("MemTotal") <= 64 * 1024, "MemTotal of 64M")
assert(m:stat("MemFree") <= m:stat("MemTotal"))
assert(math.type(m:stat("pgfree")) == "integer", "a vmstat counter is an integer")

-- /proc/buddyinfo format: "Node 0, zone   DMA  n n n ... (11 orders)".
local zones = 0
for line in m:view("buddyinfo"):gmatch("[^\n]+") do
  local zone, counts = line:match("^Node 0, zone%s+(%S+)(.*)$")
  assert(zone, "buddyinfo line: " .. line)
  local n = 0
  for _ in counts:gmatch("%d+") do n = n + 1 end
  assert(n == kmm.MAX_ORDER + 1, "buddyinfo orders: " .. line)
  zones = zones + 1
end
assert(zones == 2, "a 64M machine has DMA and DMA32")

assert(m:check() == true)
m:advance(1.5)
m:advance(0)

-- One machine per process.
local ok, err = pcall(kmm.boot, {ram = "16M", quiet = true})
assert(not ok and err:match("already running"), err)

m:shutdown()
assert(tostring(m) == "kmm machine (shut down)")
for _, call in ipairs{
  function() return m:view("meminfo") end,
  function() return m:stat("MemFree") end,
  function() return m:check() end,
  function() return m:alloc_pages(0) end,
  function() return m:advance(1) end,
  function() return m:shutdown() end,
} do
  local ok, err = pcall(call)
  assert(not ok and err:match("shut down"), "a method of a shut-down machine: " .. tostring(err))
end

-- Another machine after shutdown; a dropped handle is collected and shut
-- down, so the next boot works.
local m2 = kmm.boot{ram = 32 * 1024 * 1024, quiet = true, cpus = 1}
assert(m2:stat("MemTotal") < 32 * 1024)
m2 = nil
local m3 = kmm.boot{ram = "16M", quiet = true}
assert(m3:check())

-- A to-be-closed machine goes down at the end of its scope.
m3:shutdown()
do
  local m4 <close> = kmm.boot{ram = "16M", quiet = true, kma = "slab"}
  assert(m4:check())
end
local m5 = kmm.boot{ram = "16M", quiet = true}
m5:shutdown()
print("boot_views: ok")
