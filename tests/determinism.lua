-- The deterministic-mode workload of tests/determinism.sh: with the seed of
-- arg[1], a run of tasks, forks, faults, kernel allocations, reclaim and
-- virtual time on two CPUs, with page allocations failing at random (the
-- seed's random stream picks which), printing the views and counters after
-- each phase. Two runs with one seed must print the same bytes.
local seed = tonumber(arg[1]) or 1
local m = kmm.boot{ram = "32M", cpus = 2, mode = "det", seed = seed, quiet = true,
                   fail_page_prob = 0.005}
local function show(phase)
  print("== " .. phase)
  for _, v in ipairs{"meminfo", "buddyinfo", "vmstat", "slabinfo"} do
    print(m:view(v))
  end
end

-- An allocation that fails (ENOMEM, a task killed by SIGBUS or by the OOM
-- killer) is part of the run: each step prints its outcome, never stops it.
local function try(what, f, ...)
  local ok, a, b = pcall(f, ...)
  print(what, ok, ok and (a == nil and "nil " .. tostring(b) or type(a)) or a)
  return ok and a or nil
end

local tasks, pages = {}, {}
for i = 1, 6 do
  local t = try("spawn", m.spawn, m, "w" .. i)
  if t then
    tasks[#tasks + 1] = t
    local a = try("mmap", t.mmap, t, {len = (i * 40) * 4096, prot = "rw", flags = "private,anon"})
    if a then
      try("touch", t.touch, t, a, (i * 30) * 4096, "w")
      try("store", t.store, t, a, i, 8)
      local c = try("fork", t.fork, t)
      if c then
        tasks[#tasks + 1] = c
        try("touch child", c.touch, c, a, (i * 10) * 4096, "w")
      end
    end
  end
  local p = try("alloc_pages", m.alloc_pages, m, i % 4)
  if p then pages[#pages + 1] = p end
end
show("after the tasks")
local objs = {}
for i = 1, 400 do
  local o = m:kmalloc(32 + (i * 37) % 2000)
  if o then objs[#objs + 1] = o end
end
print("kmalloc objects", #objs)
for i = 1, #objs, 3 do m:kfree(objs[i]) end
m:advance(40)
show("after kmalloc and 40 s")
for _, t in ipairs(tasks) do
  try("status", m.view, m, "status", t.pid)
  try("exit", t.exit, t, 0)
end
for _, p in ipairs(pages) do m:free_pages(p) end
m:shrink_slab()
m:advance(5)
show("after teardown")
m:check()
m:shutdown()
