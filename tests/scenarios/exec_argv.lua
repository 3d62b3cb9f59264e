-- t:exec with argv and no envp (the envp slot must not be confused with
-- argv's array), with both, and with neither.
local m <close> = kmm.boot{ram = "64M", quiet = true}
local t = m:spawn("sh")
assert(t:exec("/bin/sh", {"sh", "-c", "true"}) == 0, "argv without envp")
assert(m:view("maps", t.pid):find("/bin/", 1, true) or m:view("maps", t.pid):find("/usr/bin/", 1, true))
assert(t:exec("/bin/sh", {"sh"}, {"HOME=/", "PATH=/bin"}) == 0, "argv and envp")
assert(t:exec("/bin/sh") == 0, "path alone")
local ok, err = t:exec("/nonexistent/program", {"x"})
assert(ok == nil and err == "ENOENT", "a missing program: " .. tostring(err))
assert(t.alive, "a failed exec keeps the task")
t:exit()
m:check()
