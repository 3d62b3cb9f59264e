-- Runs a scenario with the machine on another kernel memory allocator:
--   kmm run tests/kma_scenario.lua KMA SCRIPT [ARGS...]
-- Every kmm.boot{...} of SCRIPT that does not name kma= boots with KMA
-- (docs/kma.md, "The scenario suite on every allocator"). SCRIPT sees its
-- own name in arg[0] and ARGS in arg[1..] and as varargs, as under kmm run.
local kma, script = ...
if not kma or not script then
  error("usage: kmm run tests/kma_scenario.lua KMA SCRIPT [ARGS...]", 0)
end
local args = table.pack(select(3, ...))

local boot = kmm.boot
kmm.boot = function(opts, ...)
  local t = {}
  if opts ~= nil then
    if type(opts) ~= "table" then return boot(opts, ...) end  -- boot's own error
    for k, v in pairs(opts) do t[k] = v end
  end
  if t.kma == nil then t.kma = kma end
  local m = boot(t, ...)
  assert(m:kma() == t.kma, "booted on " .. m:kma() .. ", not " .. t.kma)
  return m
end

arg = { [0] = script, table.unpack(args, 1, args.n) }
local chunk = assert(loadfile(script))
return chunk(table.unpack(args, 1, args.n))
