/*
 * Lua bindings of tasks and their address spaces: m:spawn(name) and, on a
 * task t, the memory system calls (t:mmap{...}, t:munmap, t:mprotect,
 * t:mremap, t:brk, t:madvise), the process calls (t:fork, t:exit, t:exec)
 * and memory access through the MMU (t:load, t:store, t:get, t:put,
 * t:touch).
 *
 * A task object is a userdata naming a record of this file; the record
 * holds the kernel's task while it lives. A task ends by t:exit or by a
 * fault the MMU could not resolve (SIGSEGV, SIGBUS): the record then keeps
 * how it ended (t.alive, t.signal, t.fault_addr, t.fault_code, t.exit_code)
 * and the kernel's descriptor is released at once, as a parent reaping its
 * child would, so that a scenario that runs thousands of tasks holds no
 * memory for the dead ones. A call on a dead task is a Lua error; the
 * access that killed it returns nil, "SIGSEGV". At shutdown every task
 * still alive exits, so the machine always goes down with every frame
 * back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmm/emu.h>
#include <kmm/errno.h>
#include <kmm/mm.h>
#include <kmm/mman.h>

#include "lua_kmm.h"

#define TASK_MT "kmm.task"

/* What the script may read through t.field, and the task while it lives. */
struct task_rec {
	struct task *t;              /* NULL once dead and released */
	int pid;
	char name[16];
	int exit_code;
	int signal;                  /* 0: exited, else KMM_SIGSEGV / KMM_SIGBUS */
	int fault_code;
	uintptr_t fault_addr;
	unsigned long min_flt, maj_flt, cow_flt;
};

struct lua_task {
	unsigned long gen;
	size_t rec;
	int pid;                     /* still known once the machine is gone */
};

static struct task_rec *recs;
static size_t nrecs, caprecs;

/* Reads and writes of t:get/t:put are bounded so a typo cannot eat the host. */
#define MAX_COPY (64UL << 20)

/* ---- Calls into the core ---- */

struct call {
	struct task *t;
	struct task *child;
	uintptr_t addr, addr2;
	size_t len, len2;
	int prot, flags, fd, advice, code;
	long off;
	long ret;
	uint64_t val;
	unsigned int size;
	void *buf;
	const char *name;
	const char *const *argv, *const *envp;
	bool write;
};

static void do_spawn(void *arg)
{
	struct call *c = arg;

	c->ret = task_spawn(c->name, &c->child);
}

static void do_fork(void *arg)
{
	struct call *c = arg;

	c->ret = task_fork(c->t, &c->child);
}

static void do_exit(void *arg)
{
	struct call *c = arg;

	task_exit(c->t, c->code);
}

static void do_release(void *arg)
{
	struct call *c = arg;

	task_release(c->t);
}

static void do_exec(void *arg)
{
	struct call *c = arg;

	c->ret = task_exec_file(c->t, c->name, c->argv, c->envp);
}

static void do_mmap(void *arg)
{
	struct call *c = arg;

	c->ret = sys_mmap(c->t, c->addr, c->len, c->prot, c->flags, c->fd, c->off);
}

static void do_munmap(void *arg)
{
	struct call *c = arg;

	c->ret = sys_munmap(c->t, c->addr, c->len);
}

static void do_mprotect(void *arg)
{
	struct call *c = arg;

	c->ret = sys_mprotect(c->t, c->addr, c->len, c->prot);
}

static void do_mremap(void *arg)
{
	struct call *c = arg;

	c->ret = sys_mremap(c->t, c->addr, c->len, c->len2, c->flags, c->addr2);
}

static void do_brk(void *arg)
{
	struct call *c = arg;

	c->ret = sys_brk(c->t, c->addr);
}

static void do_madvise(void *arg)
{
	struct call *c = arg;

	c->ret = sys_madvise(c->t, c->addr, c->len, c->advice);
}

static void do_load(void *arg)
{
	struct call *c = arg;

	c->ret = emu_load(c->t, c->addr, c->size, &c->val);
}

static void do_store(void *arg)
{
	struct call *c = arg;

	c->ret = emu_store(c->t, c->addr, c->size, c->val);
}

static void do_get(void *arg)
{
	struct call *c = arg;

	c->ret = emu_copy_from_user(c->t, c->buf, c->addr, c->len);
}

static void do_put(void *arg)
{
	struct call *c = arg;

	c->ret = emu_copy_to_user(c->t, c->addr, c->buf, c->len);
}

static void do_touch(void *arg)
{
	struct call *c = arg;

	c->ret = emu_touch(c->t, c->addr, c->len, c->write);
}

/* ---- Records ---- */

static int task_boot(void)
{
	return 0;
}

/* Copies how the task ended into its record, then releases the descriptor. */
static void reap(lua_State *L, struct task_rec *r)
{
	struct call c = { .t = r->t };

	r->exit_code = r->t->exit_code;
	r->signal = r->t->exit_signal;
	r->fault_code = r->t->fault_code;
	r->fault_addr = r->t->fault_addr;
	r->min_flt = r->t->min_flt;
	r->maj_flt = r->t->maj_flt;
	r->cow_flt = r->t->cow_flt;
	r->t = NULL;
	if (L)
		kmm_lua_core(L, do_release, &c);
	else
		task_release(c.t);
}

static void task_shutdown(bool panicked)
{
	if (!panicked) {
		/* Children first, so that no parent goes before its child. */
		for (size_t i = nrecs; i-- > 0;) {
			struct task_rec *r = &recs[i];

			if (!r->t)
				continue;
			if (r->t->state != TASK_DEAD)
				task_exit(r->t, 0);
			reap(NULL, r);
		}
	}
	free(recs);
	recs = NULL;
	nrecs = caprecs = 0;
}

/*
 * The userdata of a task to be made, pushed before the core makes it (a
 * Lua memory error afterwards would lose the task); it reads as gone
 * until new_rec fills it in.
 */
static struct lua_task *push_task(lua_State *L)
{
	struct lua_task *lt = lua_newuserdatauv(L, sizeof(*lt), 0);

	*lt = (struct lua_task){ .gen = 0 };
	luaL_setmetatable(L, TASK_MT);
	return lt;
}

/* Records t (room reserved by reserve_rec) and points lt at it. */
static void new_rec(struct lua_task *lt, struct task *t)
{
	struct task_rec *r = &recs[nrecs];

	memset(r, 0, sizeof(*r));
	r->t = t;
	r->pid = t->pid;
	memcpy(r->name, t->comm, sizeof(r->name));
	r->name[sizeof(r->name) - 1] = '\0';
	*lt = (struct lua_task){ .gen = kmm_lua_generation(), .rec = nrecs++, .pid = t->pid };
}

static void reserve_rec(lua_State *L)
{
	if (nrecs < caprecs)
		return;
	size_t ncap = caprecs ? caprecs * 2 : 32;
	void *p = realloc(recs, ncap * sizeof(*recs));

	if (!p)
		luaL_error(L, "out of host memory");
	recs = p;
	caprecs = ncap;
}

/* The record of the task at idx, of the running machine; dead or alive. */
static struct task_rec *task_record(lua_State *L, int idx)
{
	struct lua_task *lt = luaL_checkudata(L, idx, TASK_MT);

	if (!kmm_lua_generation() || lt->gen != kmm_lua_generation() || lt->rec >= nrecs)
		luaL_error(L, "the task belongs to a machine that is shut down");
	if (recs[lt->rec].t && recs[lt->rec].t->state == TASK_DEAD)
		reap(L, &recs[lt->rec]);   /* ended by the kernel, e.g. a fault */
	return &recs[lt->rec];
}

static const char *signal_name(int sig)
{
	switch (sig) {
	case KMM_SIGSEGV: return "SIGSEGV";
	case KMM_SIGBUS: return "SIGBUS";
	default: return "SIGKILL";
	}
}

static const char *fault_code_name(int sig, int code)
{
	if (sig == KMM_SIGBUS)
		return code == KMM_BUS_ADRERR ? "BUS_ADRERR" : "BUS_?";
	switch (code) {
	case KMM_SEGV_MAPERR: return "SEGV_MAPERR";
	case KMM_SEGV_ACCERR: return "SEGV_ACCERR";
	default: return "SEGV_?";
	}
}

/* A live task: the machine runs, the task has not ended. */
static struct task_rec *live_task(lua_State *L, int idx, const char *who)
{
	struct task_rec *r = task_record(L, idx);

	if (r->t)
		return r;
	if (r->signal) {
		char addr[32];

		snprintf(addr, sizeof(addr), "%#lx", (unsigned long)r->fault_addr);
		luaL_error(L, "%s: task %d (%s) is dead: %s (%s) at %s", who, r->pid, r->name,
			   signal_name(r->signal), fault_code_name(r->signal, r->fault_code), addr);
	}
	luaL_error(L, "%s: task %d (%s) has exited (code %d)", who, r->pid, r->name,
		   r->exit_code);
	return NULL;
}

/*
 * The result of a memory access: 0, or the access killed the task (the
 * signal's name is returned, as a failed call's errno is), or another
 * error. Pushes nothing on success; returns the count pushed on failure.
 */
static int access_result(lua_State *L, struct task_rec *r, long ret)
{
	if (!ret)
		return 0;
	if (r->t && r->t->state == TASK_DEAD) {
		reap(L, r);
		if (r->signal) {
			lua_pushnil(L);
			lua_pushstring(L, signal_name(r->signal));
			return 2;
		}
	}
	return kmm_lua_fail(L, (int)ret);
}

/* A system call's result: the value, or nil, "ENAME". */
static int syscall_result(lua_State *L, long ret)
{
	if (ret < 0 && ret >= -4095)
		return kmm_lua_fail(L, (int)ret);
	lua_pushinteger(L, (lua_Integer)ret);
	return 1;
}

static uintptr_t check_addr(lua_State *L, int idx)
{
	return (uintptr_t)luaL_checkinteger(L, idx);
}

/* "rwx", "r-x", "" (none) -> PROT_* */
static int check_prot(lua_State *L, int idx)
{
	const char *p = luaL_checkstring(L, idx);
	int prot = KMM_PROT_NONE;

	for (; *p; p++) {
		switch (*p) {
		case 'r': prot |= KMM_PROT_READ; break;
		case 'w': prot |= KMM_PROT_WRITE; break;
		case 'x': prot |= KMM_PROT_EXEC; break;
		case '-': break;
		default:
			luaL_argerror(L, idx, lua_pushfstring(L,
				"bad protection '%s' (letters r, w, x; \"\" for none)",
				lua_tostring(L, idx)));
		}
	}
	return prot;
}

struct flag_name {
	const char *name;
	int value;
};

static int parse_flag_list(lua_State *L, const char *text, const struct flag_name *names,
			   size_t n, const char *what)
{
	int flags = 0;

	while (*text) {
		size_t len = strcspn(text, ",|");
		bool found = false;

		for (size_t i = 0; i < n; i++) {
			if (strlen(names[i].name) == len && !strncmp(text, names[i].name, len)) {
				flags |= names[i].value;
				found = true;
			}
		}
		if (!found && len) {
			luaL_Buffer b;

			luaL_buffinit(L, &b);
			for (size_t i = 0; i < n; i++) {
				luaL_addstring(&b, i ? ", " : "");
				luaL_addstring(&b, names[i].name);
			}
			luaL_pushresult(&b);
			luaL_error(L, "unknown %s flag '%s' (%s)", what,
				   lua_pushlstring(L, text, len), lua_tostring(L, -2));
		}
		text += len;
		if (*text)
			text++;
	}
	return flags;
}

static const struct flag_name mmap_flags[] = {
	{ "private", KMM_MAP_PRIVATE }, { "shared", KMM_MAP_SHARED },
	{ "anon", KMM_MAP_ANONYMOUS }, { "anonymous", KMM_MAP_ANONYMOUS },
	{ "fixed", KMM_MAP_FIXED }, { "fixed_noreplace", KMM_MAP_FIXED_NOREPLACE },
	{ "populate", KMM_MAP_POPULATE }, { "growsdown", KMM_MAP_GROWSDOWN },
	{ "noreserve", KMM_MAP_NORESERVE },
};

static const struct flag_name mremap_flags[] = {
	{ "maymove", KMM_MREMAP_MAYMOVE }, { "fixed", KMM_MREMAP_FIXED },
};

static const struct flag_name advices[] = {
	{ "normal", KMM_MADV_NORMAL }, { "random", KMM_MADV_RANDOM },
	{ "sequential", KMM_MADV_SEQUENTIAL }, { "willneed", KMM_MADV_WILLNEED },
	{ "dontneed", KMM_MADV_DONTNEED },
};

/* ---- m:spawn ---- */

/* m:spawn([name]): a new task with a fresh address space, or nil, "ENOMEM". */
static int l_spawn(lua_State *L)
{
	struct call c = { 0 };
	struct lua_task *lt;

	kmm_lua_machine(L, 1);
	c.name = luaL_optstring(L, 2, "task");
	reserve_rec(L);
	lt = push_task(L);
	kmm_lua_core(L, do_spawn, &c);
	if (c.ret)
		return kmm_lua_fail(L, (int)c.ret);
	new_rec(lt, c.child);
	return 1;
}

/* ---- Process calls ---- */

/* t:fork(): the child task, or nil, "ENOMEM". */
static int l_fork(lua_State *L)
{
	struct task_rec *r = live_task(L, 1, "fork");
	struct call c = { .t = r->t };
	struct lua_task *lt;

	reserve_rec(L);   /* before the fork: a child must never be lost */
	lt = push_task(L);
	kmm_lua_core(L, do_fork, &c);
	if (c.ret)
		return kmm_lua_fail(L, (int)c.ret);
	new_rec(lt, c.child);
	return 1;
}

/* t:exit([code]): the task ends; its address space goes with its last user. */
static int l_exit(lua_State *L)
{
	struct task_rec *r = live_task(L, 1, "exit");
	struct call c = { .t = r->t, .code = (int)luaL_optinteger(L, 2, 0) };

	kmm_lua_core(L, do_exit, &c);
	reap(L, r);
	lua_pushinteger(L, 0);
	return 1;
}

/* Strings a script may pass to exec: a bound, so a typo cannot eat the host. */
#define MAX_EXEC_STRINGS 65536

/*
 * A NULL-terminated array of the strings of the table at idx (1..#t), in a
 * userdata left on the stack (collected with it, even after a Lua error);
 * the strings themselves stay alive in the table. NULL when idx is nil or
 * absent.
 */
static const char *const *string_array(lua_State *L, int idx, const char *what)
{
	const char **v;
	lua_Unsigned n;

	if (lua_isnoneornil(L, idx))
		return NULL;
	luaL_checktype(L, idx, LUA_TTABLE);
	n = lua_rawlen(L, idx);
	if (n > MAX_EXEC_STRINGS)
		luaL_error(L, "exec: %s has more than %d strings", what, MAX_EXEC_STRINGS);
	v = lua_newuserdatauv(L, (n + 1) * sizeof(*v), 0);
	for (lua_Unsigned i = 0; i < n; i++) {
		if (lua_rawgeti(L, idx, (lua_Integer)i + 1) != LUA_TSTRING)
			luaL_error(L, "exec: %s[%d] is not a string", what, (int)i + 1);
		v[i] = lua_tostring(L, -1);
		lua_pop(L, 1);   /* the table keeps the string alive */
	}
	v[n] = NULL;
	return v;
}

/*
 * t:exec(path [, argv [, envp]]): loads the ELF program at path (inside the
 * machine's root) with its loader and libraries; argv defaults to { path }.
 * t:exec() (no path): a fresh address space, a stack and an empty heap.
 * 0, or nil and the errno's name (the old address space is kept).
 */
static int l_exec(lua_State *L)
{
	struct task_rec *r = live_task(L, 1, "exec");
	struct call c = { .t = r->t };
	const char *deflt[2];

	/* Fixed slots: string_array pushes its arrays above them, so envp's
	   absence is not mistaken for argv's array. */
	lua_settop(L, 4);
	c.name = luaL_optstring(L, 2, NULL);
	c.argv = string_array(L, 3, "argv");
	c.envp = string_array(L, 4, "envp");
	if (!c.argv && c.name) {
		deflt[0] = c.name;
		deflt[1] = NULL;
		c.argv = deflt;
	}
	kmm_lua_core(L, do_exec, &c);
	if (c.ret == 0)
		memcpy(r->name, r->t->comm, sizeof(r->name));
	return syscall_result(L, c.ret);
}

/* ---- Memory system calls ---- */

static lua_Integer opt_field_int(lua_State *L, int tbl, const char *field, lua_Integer def)
{
	lua_Integer v;

	lua_getfield(L, tbl, field);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return def;
	}
	if (!lua_isinteger(L, -1))
		luaL_error(L, "mmap: field '%s' must be an integer, got %s", field,
			   luaL_typename(L, -1));
	v = lua_tointeger(L, -1);
	lua_pop(L, 1);
	return v;
}

/* t:mmap{addr=, len=, prot="rw", flags="private,anon", fd=, off=}: the address. */
static int l_mmap(lua_State *L)
{
	struct task_rec *r = live_task(L, 1, "mmap");
	struct call c = { .t = r->t };

	luaL_checktype(L, 2, LUA_TTABLE);
	lua_pushnil(L);
	while (lua_next(L, 2)) {
		static const char *const known[] = { "addr", "len", "prot", "flags", "fd", "off" };
		bool ok = false;

		if (lua_type(L, -2) == LUA_TSTRING)
			for (size_t i = 0; i < ARRAY_SIZE(known); i++)
				ok |= !strcmp(lua_tostring(L, -2), known[i]);
		if (!ok)
			return luaL_error(L, "mmap: unknown field '%s' (addr, len, prot, flags, fd, off)",
					  lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?");
		lua_pop(L, 1);
	}
	c.addr = (uintptr_t)opt_field_int(L, 2, "addr", 0);
	lua_getfield(L, 2, "len");
	if (lua_isnil(L, -1))
		return luaL_error(L, "mmap: field 'len' is required");
	c.len = (size_t)kmm_lua_checksize(L, -1);
	lua_getfield(L, 2, "prot");
	c.prot = lua_isnil(L, -1) ? KMM_PROT_READ | KMM_PROT_WRITE : check_prot(L, -1);
	lua_getfield(L, 2, "flags");
	c.flags = lua_isnil(L, -1)
		? KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS
		: parse_flag_list(L, luaL_checkstring(L, -1), mmap_flags,
				  ARRAY_SIZE(mmap_flags), "mmap");
	lua_settop(L, 2);
	c.fd = (int)opt_field_int(L, 2, "fd", -1);
	c.off = (long)opt_field_int(L, 2, "off", 0);
	kmm_lua_core(L, do_mmap, &c);
	return syscall_result(L, c.ret);
}

/* t:munmap(a, len) */
static int l_munmap(lua_State *L)
{
	struct task_rec *r = live_task(L, 1, "munmap");
	struct call c = { .t = r->t, .addr = check_addr(L, 2),
			  .len = (size_t)kmm_lua_checksize(L, 3) };

	kmm_lua_core(L, do_munmap, &c);
	return syscall_result(L, c.ret);
}

/* t:mprotect(a, len, prot) */
static int l_mprotect(lua_State *L)
{
	struct task_rec *r = live_task(L, 1, "mprotect");
	struct call c = { .t = r->t, .addr = check_addr(L, 2),
			  .len = (size_t)kmm_lua_checksize(L, 3), .prot = check_prot(L, 4) };

	kmm_lua_core(L, do_mprotect, &c);
	return syscall_result(L, c.ret);
}

/* t:mremap(a, old_len, new_len [, flags [, new_addr]]): the (new) address. */
static int l_mremap(lua_State *L)
{
	struct task_rec *r = live_task(L, 1, "mremap");
	struct call c = { .t = r->t, .addr = check_addr(L, 2),
			  .len = (size_t)kmm_lua_checksize(L, 3),
			  .len2 = (size_t)kmm_lua_checksize(L, 4) };

	if (!lua_isnoneornil(L, 5))
		c.flags = parse_flag_list(L, luaL_checkstring(L, 5), mremap_flags,
					  ARRAY_SIZE(mremap_flags), "mremap");
	if (!lua_isnoneornil(L, 6))
		c.addr2 = check_addr(L, 6);
	kmm_lua_core(L, do_mremap, &c);
	return syscall_result(L, c.ret);
}

/* t:brk(a): the new break, or the current one when a is 0 or the request fails. */
static int l_brk(lua_State *L)
{
	struct task_rec *r = live_task(L, 1, "brk");
	struct call c = { .t = r->t, .addr = lua_isnoneornil(L, 2) ? 0 : check_addr(L, 2) };

	kmm_lua_core(L, do_brk, &c);
	return syscall_result(L, c.ret);
}

/* t:madvise(a, len, advice): advice "dontneed", "normal", ... or a number. */
static int l_madvise(lua_State *L)
{
	struct task_rec *r = live_task(L, 1, "madvise");
	struct call c = { .t = r->t, .addr = check_addr(L, 2),
			  .len = (size_t)kmm_lua_checksize(L, 3) };

	if (lua_type(L, 4) == LUA_TNUMBER)
		c.advice = (int)luaL_checkinteger(L, 4);
	else
		c.advice = parse_flag_list(L, luaL_checkstring(L, 4), advices,
					   ARRAY_SIZE(advices), "madvise");
	kmm_lua_core(L, do_madvise, &c);
	return syscall_result(L, c.ret);
}

/* ---- Memory access through the MMU ---- */

static unsigned int check_access_size(lua_State *L, int idx)
{
	lua_Integer size = luaL_optinteger(L, idx, 8);

	luaL_argcheck(L, size == 1 || size == 2 || size == 4 || size == 8, idx,
		      "size must be 1, 2, 4 or 8");
	return (unsigned int)size;
}

/* t:load(a [, size]): the value (size 1, 2, 4 or 8 bytes, little-endian). */
static int l_load(lua_State *L)
{
	struct task_rec *r = live_task(L, 1, "load");
	struct call c = { .t = r->t, .addr = check_addr(L, 2),
			  .size = check_access_size(L, 3) };
	int n;

	kmm_lua_core(L, do_load, &c);
	n = access_result(L, r, c.ret);
	if (n)
		return n;
	lua_pushinteger(L, (lua_Integer)c.val);
	return 1;
}

/* t:store(a, value [, size]) */
static int l_store(lua_State *L)
{
	struct task_rec *r = live_task(L, 1, "store");
	struct call c = { .t = r->t, .addr = check_addr(L, 2),
			  .val = (uint64_t)luaL_checkinteger(L, 3),
			  .size = check_access_size(L, 4) };
	int n;

	kmm_lua_core(L, do_store, &c);
	n = access_result(L, r, c.ret);
	if (n)
		return n;
	lua_pushinteger(L, 0);
	return 1;
}

/* t:get(a, len): the bytes as a string. */
static int l_get(lua_State *L)
{
	struct task_rec *r = live_task(L, 1, "get");
	struct call c = { .t = r->t, .addr = check_addr(L, 2),
			  .len = (size_t)kmm_lua_checksize(L, 3) };
	luaL_Buffer b;
	int n;

	luaL_argcheck(L, c.len <= MAX_COPY, 3, "at most 64M at a time");
	c.buf = luaL_buffinitsize(L, &b, c.len);
	kmm_lua_core(L, do_get, &c);
	n = access_result(L, r, c.ret);
	if (n)
		return n;
	luaL_pushresultsize(&b, c.len);
	return 1;
}

/* t:put(a, bytes) */
static int l_put(lua_State *L)
{
	struct task_rec *r = live_task(L, 1, "put");
	struct call c = { .t = r->t, .addr = check_addr(L, 2) };
	int n;

	c.buf = (void *)luaL_checklstring(L, 3, &c.len);
	kmm_lua_core(L, do_put, &c);
	n = access_result(L, r, c.ret);
	if (n)
		return n;
	lua_pushinteger(L, 0);
	return 1;
}

/* t:touch(a, len [, "r"|"w"]): one access to every page of the range. */
static int l_touch(lua_State *L)
{
	struct task_rec *r = live_task(L, 1, "touch");
	struct call c = { .t = r->t, .addr = check_addr(L, 2),
			  .len = (size_t)kmm_lua_checksize(L, 3) };
	const char *mode = luaL_optstring(L, 4, "r");
	int n;

	luaL_argcheck(L, !strcmp(mode, "r") || !strcmp(mode, "w"), 4, "mode is \"r\" or \"w\"");
	c.write = mode[0] == 'w';
	kmm_lua_core(L, do_touch, &c);
	n = access_result(L, r, c.ret);
	if (n)
		return n;
	lua_pushinteger(L, 0);
	return 1;
}

/* ---- Fields ---- */

static const luaL_Reg task_methods[] = {
	{ "mmap", l_mmap }, { "munmap", l_munmap }, { "mprotect", l_mprotect },
	{ "mremap", l_mremap }, { "brk", l_brk }, { "madvise", l_madvise },
	{ "fork", l_fork }, { "exit", l_exit }, { "exec", l_exec },
	{ "load", l_load }, { "store", l_store }, { "get", l_get }, { "put", l_put },
	{ "touch", l_touch },
	{ NULL, NULL },
};

#define FIELDS "pid, name, alive, exit_code, signal, fault_addr, fault_code, " \
	       "min_flt, maj_flt, cow_flt, rss"

/* t.pid, t.alive, t.signal, ...; and the methods. */
static int task_index(lua_State *L)
{
	const char *key = luaL_checkstring(L, 2);
	struct lua_task *lt;
	struct task_rec *r;

	if (luaL_getmetafield(L, 1, "methods") != LUA_TNIL) {
		lua_getfield(L, -1, key);
		if (!lua_isnil(L, -1))
			return 1;
		lua_pop(L, 2);
	}
	/* A task of a machine that is gone is dead; its pid is still its pid. */
	lt = luaL_checkudata(L, 1, TASK_MT);
	if (!kmm_lua_generation() || lt->gen != kmm_lua_generation()) {
		if (!strcmp(key, "alive")) {
			lua_pushboolean(L, 0);
			return 1;
		}
		if (!strcmp(key, "pid")) {
			lua_pushinteger(L, lt->pid);
			return 1;
		}
	}
	r = task_record(L, 1);
	if (!strcmp(key, "pid"))
		lua_pushinteger(L, r->pid);
	else if (!strcmp(key, "name"))
		lua_pushstring(L, r->name);
	else if (!strcmp(key, "alive"))
		lua_pushboolean(L, r->t != NULL);
	else if (!strcmp(key, "exit_code"))
		r->t ? lua_pushnil(L) : lua_pushinteger(L, r->exit_code);
	else if (!strcmp(key, "signal"))
		r->t || !r->signal ? lua_pushnil(L) : lua_pushstring(L, signal_name(r->signal));
	else if (!strcmp(key, "fault_addr"))
		r->t || !r->signal ? lua_pushnil(L) : lua_pushinteger(L, (lua_Integer)r->fault_addr);
	else if (!strcmp(key, "fault_code"))
		r->t || !r->signal ? lua_pushnil(L)
				   : lua_pushstring(L, fault_code_name(r->signal, r->fault_code));
	else if (!strcmp(key, "min_flt"))
		lua_pushinteger(L, (lua_Integer)(r->t ? r->t->min_flt : r->min_flt));
	else if (!strcmp(key, "maj_flt"))
		lua_pushinteger(L, (lua_Integer)(r->t ? r->t->maj_flt : r->maj_flt));
	else if (!strcmp(key, "cow_flt"))
		lua_pushinteger(L, (lua_Integer)(r->t ? r->t->cow_flt : r->cow_flt));
	else if (!strcmp(key, "rss"))
		lua_pushinteger(L, (lua_Integer)(r->t && r->t->mm ? get_mm_rss(r->t->mm) : 0));
	else
		return luaL_error(L, "a task has no field '%s' (" FIELDS ")", key);
	return 1;
}

static int task_tostring(lua_State *L)
{
	struct lua_task *lt = luaL_checkudata(L, 1, TASK_MT);
	struct task_rec *r;

	if (!kmm_lua_generation() || lt->gen != kmm_lua_generation() || lt->rec >= nrecs) {
		lua_pushstring(L, "task(gone)");
		return 1;
	}
	r = &recs[lt->rec];
	if (r->t && r->t->state != TASK_DEAD)
		lua_pushfstring(L, "task(%d, %s)", r->pid, r->name);
	else
		lua_pushfstring(L, "task(%d, %s, dead)", r->pid, r->name);
	return 1;
}

static void task_open(lua_State *L)
{
	luaL_newmetatable(L, TASK_MT);
	luaL_newlib(L, task_methods);
	lua_setfield(L, -2, "methods");
	lua_pushcfunction(L, task_index);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, task_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_pop(L, 1);
}

static const luaL_Reg machine_methods[] = {
	{ "spawn", l_spawn },
	{ NULL, NULL },
};

const struct kmm_lua_binding kmm_lua_task_binding = {
	.name = "task",
	.methods = machine_methods,
	.open = task_open,
	.boot = task_boot,
	.shutdown = task_shutdown,
};
