assert(m:swapon("/swap", "8M"))
local t = m:spawn("s")
local a = t:mmap{ne = l"40M", prot = "rw", flags = "private,anon,noreserve"}
if a then t:touch(a, 20 * 1024 * 1024, "w") end
print(m:view("meminfo"))
t:exit()
m:swapoff("/swap")
