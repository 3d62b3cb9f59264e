local c = m:cache_create{name = "fuzz", size = 200, align = 64}
local objs = {}
for i = 1, 50 do objs[i] = c:alloc() end
for i = 1, 50, 2 do c:free(objs[i]) end
local k = m:kmalloc(3000)
m:kfree(k)
c:shrink()
print(c:info())
m:shrink_slab()
print(m:view("slabinfo"))
