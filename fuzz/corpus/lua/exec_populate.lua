local t = m:spawn("e")
print(t:exec("/nonexistent"))
t:mmap{addr = 0x10000, len = "1G", flags = "fixed,anon,private,populate", prot = "rw"}
