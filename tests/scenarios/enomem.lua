-- Exhaustion: on a 16M machine allocations end with nil, "ENOMEM" and the
-- allocator stays consistent; freeing everything gives all memory back.
-- Also the fault injection of boot{fail_page_nth=}.
local kmm = require "kmm"

for _, mobility in ipairs{true, false} do
  local m = kmm.boot{ram = "16M", quiet = true, mobility = mobility}
  m:drain_pages()
  local free0 = m:stat("MemFree")

  -- No order-10 block on a 16M machine once memory is scattered: take
  -- orders from high to low until each fails.
  local held, err = {}, nil
  for order = kmm.MAX_ORDER, 0, -1 do
    while true do
      local p, e = m:alloc_pages(order, "kernel,nowarn")
      if not p then err = e; break end
      held[#held + 1] = p
    end
    assert(err == "ENOMEM", "allocation failure returned " .. tostring(err))
  end
  assert(#held > 0)
  assert(m:stat("MemFree") < free0 // 8, "memory was not exhausted")
  local fails = 0
  for order = 0, kmm.MAX_ORDER do
    fails = fails + m:stat("pgalloc_fail_order" .. order)
  end
  assert(fails >= kmm.MAX_ORDER + 1, "failures counted per order")
  assert(m:check())

  -- Dipping into reserves with GFP_ATOMIC may still succeed; then fail.
  while m:alloc_pages(0, "GFP_ATOMIC|__GFP_NOWARN") do end
  assert(m:check())

  for _, p in ipairs(held) do m:free_pages(p) end
  assert(m:check())
  -- Pages from the GFP_ATOMIC loop are still held; shutdown frees them.
  m:shutdown()

  -- Again, all freed by hand this time.
  m = kmm.boot{ram = "16M", quiet = true, mobility = mobility}
  m:drain_pages()
  free0 = m:stat("MemFree")
  held = {}
  while true do
    local p, e = m:alloc_pages(0, "GFP_KERNEL|__GFP_NOWARN")
    if not p then assert(e == "ENOMEM"); break end
    held[#held + 1] = p
  end
  for _, p in ipairs(held) do m:free_pages(p) end
  m:drain_pages()
  assert(m:stat("MemFree") == free0, "MemFree not restored after exhaustion")
  assert(m:check())
  m:shutdown()
end

-- Fault injection: the third page allocation fails, the others succeed.
local m = kmm.boot{ram = "16M", quiet = true, fail_page_nth = 3}
assert(m:alloc_pages(0))
assert(m:alloc_pages(1))
local p, err = m:alloc_pages(0, "kernel,nowarn")
assert(p == nil and err == "ENOMEM", "the third allocation should fail")
assert(m:alloc_pages(0))
assert(m:check())
m:shutdown()

-- With a probability of 1 every allocation fails.
m = kmm.boot{ram = "16M", quiet = true, fail_page_prob = 1, seed = 42}
for _ = 1, 10 do
  local p, err = m:alloc_pages(0, "kernel,nowarn")
  assert(p == nil and err == "ENOMEM")
end
m:shutdown()
print("enomem: ok")
