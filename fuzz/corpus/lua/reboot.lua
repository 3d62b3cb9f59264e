m:shutdown()
m = kmm.boot{ram = "16M", cpus = 1, kma = "buddy", mobility = false}
local p = m:alloc_pages(1)
print(m:view("vmstat"), m:kma())
