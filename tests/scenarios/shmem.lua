-- Shmem in meminfo counts the pages of shared anonymous mappings: each
-- page once however many tasks map it, from its first touch until the
-- last mapping of the object goes; private pages never count.
local kmm = require "kmm"
local P = kmm.PAGE_SIZE

local m = kmm.boot{ram = "64M", quiet = true}
local function shmem_pages() return m:stat("Shmem") * 1024 // P end
local function nr_shmem() return m:stat("nr_shmem") end

assert(shmem_pages() == 0 and nr_shmem() == 0)
local t = assert(m:spawn("shm"))
local a = assert(t:mmap{len = 16 * P, prot = "rw", flags = "shared,anon"})
assert(shmem_pages() == 0, "nothing touched yet")
t:touch(a, 5 * P, "w")
assert(shmem_pages() == 5, shmem_pages())
assert(nr_shmem() == 5)
-- Private anonymous memory is not Shmem.
local priv = assert(t:mmap{len = 8 * P, prot = "rw", flags = "private,anon"})
t:touch(priv, 8 * P, "w")
assert(shmem_pages() == 5)
-- A child shares the object: its touches add pages, its reads of pages
-- the parent touched add none.
local c = assert(t:fork())
c:touch(a, 5 * P, "r")
assert(shmem_pages() == 5)
c:store(a + 10 * P, 42, 8)
assert(shmem_pages() == 6)
assert(t:load(a + 10 * P, 8) == 42, "the parent sees the child's store")
-- Unmapping in one task keeps the object: the other still maps it.
assert(t:munmap(a, 16 * P) == 0)
assert(shmem_pages() == 6)
m:check()
c:exit()
assert(shmem_pages() == 0, "the last mapping went: " .. shmem_pages())
t:exit()
m:check()
assert(nr_shmem() == 0)
print("shmem: ok")
