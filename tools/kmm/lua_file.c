/*
 * Lua bindings of files and the page cache: on a task t, t:open, t:read,
 * t:write, t:pread, t:pwrite, t:lseek, t:ftruncate, t:fsync, t:fdatasync
 * and t:close (buffers are addresses in the task, as in DESIGN.md); on the
 * machine, m:sync() and m:drop_caches(). m:advance (lua_machine.c) moves
 * virtual time, which runs the writeback flusher.
 *
 * The methods join the task objects of lua_task.c (their metatable's
 * "methods" table); a task is found by its pid while it lives, so this
 * file needs nothing from lua_task.c but the object's pid and alive
 * fields. At shutdown the machine syncs, as a system going down does, so
 * what a scenario wrote reaches the host files; a panicked machine writes
 * nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kmm/emu.h>
#include <kmm/errno.h>
#include <kmm/fs.h>
#include <kmm/mm.h>

#include "lua_kmm.h"

#define TASK_MT "kmm.task"

struct fcall {
	struct task *t;
	const char *path;
	int fd, flags, whence;
	unsigned int mode;
	uintptr_t buf;
	size_t n;
	loff_t off;
	long ret;
};

/* The live kernel task behind the task object at idx; a Lua error if dead. */
static struct task *check_task(lua_State *L, int idx, const char *who)
{
	struct task *t;
	int pid;

	luaL_checkudata(L, idx, TASK_MT);
	lua_getfield(L, idx, "alive");
	if (!lua_toboolean(L, -1))
		luaL_error(L, "%s: the task is dead", who);
	lua_pop(L, 1);
	lua_getfield(L, idx, "pid");
	pid = (int)lua_tointeger(L, -1);
	lua_pop(L, 1);
	t = task_find(pid);
	if (!t || t->state != TASK_RUNNING)
		luaL_error(L, "%s: task %d is dead", who, pid);
	return t;
}

static int result(lua_State *L, long ret)
{
	if (ret < 0 && ret >= -4095)
		return kmm_lua_fail(L, (int)ret);
	lua_pushinteger(L, (lua_Integer)ret);
	return 1;
}

static int check_fd(lua_State *L, int idx)
{
	lua_Integer fd = luaL_checkinteger(L, idx);

	/* Out-of-range descriptors are EBADF from the kernel, not an error here. */
	return fd < -1 || fd > KMM_NR_OPEN ? -1 : (int)fd;
}

static const struct {
	const char *name;
	int value;
	bool access;                 /* an access mode (exactly one may be named) */
} open_flags[] = {
	{ "r", KMM_O_RDONLY, true }, { "w", KMM_O_WRONLY, true }, { "rw", KMM_O_RDWR, true },
	{ "rdonly", KMM_O_RDONLY, true }, { "wronly", KMM_O_WRONLY, true },
	{ "rdwr", KMM_O_RDWR, true }, { "creat", KMM_O_CREAT, false },
	{ "excl", KMM_O_EXCL, false }, { "trunc", KMM_O_TRUNC, false },
	{ "append", KMM_O_APPEND, false },
};

/* "rw,creat,trunc" -> KMM_O_*; read-only when no access mode is named. */
static int parse_open_flags(lua_State *L, int idx)
{
	const char *text = luaL_checkstring(L, idx);
	int flags = 0, acc = -1;

	while (*text) {
		size_t len = strcspn(text, ",|");
		bool found = false;

		for (size_t i = 0; i < sizeof(open_flags) / sizeof(open_flags[0]); i++) {
			if (strlen(open_flags[i].name) != len ||
			    strncmp(text, open_flags[i].name, len))
				continue;
			found = true;
			if (!open_flags[i].access)
				flags |= open_flags[i].value;
			else if (acc >= 0 && acc != open_flags[i].value)
				luaL_error(L, "open: flags name two access modes");
			else
				acc = open_flags[i].value;
		}
		if (!found && len)
			luaL_error(L, "open: unknown flag '%s' (r, w, rw, rdonly, wronly, rdwr, "
				   "creat, excl, trunc, append)", lua_pushlstring(L, text, len));
		text += len;
		if (*text)
			text++;
	}
	return flags | (acc < 0 ? KMM_O_RDONLY : acc);
}

static void do_open(void *arg)
{
	struct fcall *c = arg;

	c->ret = sys_open(c->t, c->path, c->flags, c->mode);
}

/* t:open(path, flags [, mode]): a descriptor, or nil, "ENOENT"... */
static int l_open(lua_State *L)
{
	struct fcall c = { .t = check_task(L, 1, "open") };

	c.path = luaL_checkstring(L, 2);
	c.flags = parse_open_flags(L, 3);
	c.mode = (unsigned int)luaL_optinteger(L, 4, 0644);
	kmm_lua_core(L, do_open, &c);
	return result(L, c.ret);
}

static void do_close(void *arg)
{
	struct fcall *c = arg;

	c->ret = sys_close(c->t, c->fd);
}

static int l_close(lua_State *L)
{
	struct fcall c = { .t = check_task(L, 1, "close"), .fd = check_fd(L, 2) };

	kmm_lua_core(L, do_close, &c);
	return result(L, c.ret);
}

enum rw_kind { RW_READ, RW_WRITE, RW_PREAD, RW_PWRITE };

struct rwcall {
	struct fcall c;
	enum rw_kind kind;
};

static void do_rw(void *arg)
{
	struct rwcall *r = arg;
	struct fcall *c = &r->c;

	switch (r->kind) {
	case RW_READ: c->ret = sys_read(c->t, c->fd, c->buf, c->n); break;
	case RW_WRITE: c->ret = sys_write(c->t, c->fd, c->buf, c->n); break;
	case RW_PREAD: c->ret = sys_pread(c->t, c->fd, c->buf, c->n, c->off); break;
	case RW_PWRITE: c->ret = sys_pwrite(c->t, c->fd, c->buf, c->n, c->off); break;
	}
}

static int rw(lua_State *L, enum rw_kind kind, const char *who)
{
	struct rwcall r = { .c = { .t = check_task(L, 1, who), .fd = check_fd(L, 2) },
			    .kind = kind };

	r.c.buf = (uintptr_t)luaL_checkinteger(L, 3);
	r.c.n = (size_t)kmm_lua_checksize(L, 4);
	if (kind == RW_PREAD || kind == RW_PWRITE)
		r.c.off = (loff_t)luaL_checkinteger(L, 5);
	kmm_lua_core(L, do_rw, &r);
	return result(L, r.c.ret);
}

/* t:read(fd, buf, n) / t:write(fd, buf, n): bytes moved. */
static int l_read(lua_State *L) { return rw(L, RW_READ, "read"); }
static int l_write(lua_State *L) { return rw(L, RW_WRITE, "write"); }
/* t:pread(fd, buf, n, off) / t:pwrite(fd, buf, n, off) */
static int l_pread(lua_State *L) { return rw(L, RW_PREAD, "pread"); }
static int l_pwrite(lua_State *L) { return rw(L, RW_PWRITE, "pwrite"); }

static void do_lseek(void *arg)
{
	struct fcall *c = arg;

	c->ret = sys_lseek(c->t, c->fd, c->off, c->whence);
}

/* t:lseek(fd, off [, "set"|"cur"|"end"]): the new offset. */
static int l_lseek(lua_State *L)
{
	static const char *const whences[] = { "set", "cur", "end", NULL };
	struct fcall c = { .t = check_task(L, 1, "lseek"), .fd = check_fd(L, 2) };

	c.off = (loff_t)luaL_checkinteger(L, 3);
	c.whence = luaL_checkoption(L, 4, "set", whences);
	kmm_lua_core(L, do_lseek, &c);
	return result(L, c.ret);
}

static void do_ftruncate(void *arg)
{
	struct fcall *c = arg;

	c->ret = sys_ftruncate(c->t, c->fd, c->off);
}

static int l_ftruncate(lua_State *L)
{
	struct fcall c = { .t = check_task(L, 1, "ftruncate"), .fd = check_fd(L, 2) };

	c.off = (loff_t)luaL_checkinteger(L, 3);
	kmm_lua_core(L, do_ftruncate, &c);
	return result(L, c.ret);
}

static void do_fsync(void *arg)
{
	struct fcall *c = arg;

	c->ret = c->flags ? sys_fdatasync(c->t, c->fd) : sys_fsync(c->t, c->fd);
}

static int l_fsync(lua_State *L)
{
	struct fcall c = { .t = check_task(L, 1, "fsync"), .fd = check_fd(L, 2) };

	kmm_lua_core(L, do_fsync, &c);
	return result(L, c.ret);
}

static int l_fdatasync(lua_State *L)
{
	struct fcall c = { .t = check_task(L, 1, "fdatasync"), .fd = check_fd(L, 2),
			   .flags = 1 };

	kmm_lua_core(L, do_fsync, &c);
	return result(L, c.ret);
}

/* ---- Machine methods ---- */

static void do_sync(void *arg)
{
	*(long *)arg = sys_sync();
}

/* m:sync(): 0, or nil, "EIO" when a writeback error happened since the last. */
static int l_sync(lua_State *L)
{
	long ret;

	kmm_lua_machine(L, 1);
	kmm_lua_core(L, do_sync, &ret);
	return result(L, ret);
}

static void do_drop(void *arg)
{
	*(unsigned long *)arg = drop_caches();
}

/* m:drop_caches(): the number of clean pages dropped. */
static int l_drop_caches(lua_State *L)
{
	unsigned long n;

	kmm_lua_machine(L, 1);
	kmm_lua_core(L, do_drop, &n);
	lua_pushinteger(L, (lua_Integer)n);
	return 1;
}

static const luaL_Reg task_file_methods[] = {
	{ "open", l_open }, { "close", l_close }, { "read", l_read }, { "write", l_write },
	{ "pread", l_pread }, { "pwrite", l_pwrite }, { "lseek", l_lseek },
	{ "ftruncate", l_ftruncate }, { "fsync", l_fsync }, { "fdatasync", l_fdatasync },
	{ NULL, NULL },
};

static const luaL_Reg machine_methods[] = {
	{ "sync", l_sync },
	{ "drop_caches", l_drop_caches },
	{ NULL, NULL },
};

/* Adds the file methods to the task objects' methods (task_open ran first). */
static void file_open_lib(lua_State *L)
{
	luaL_getmetatable(L, TASK_MT);
	if (lua_istable(L, -1)) {
		lua_getfield(L, -1, "methods");
		if (lua_istable(L, -1))
			luaL_setfuncs(L, task_file_methods, 0);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

static int file_boot(void)
{
	return 0;
}

/*
 * A machine going down writes its dirty pages, as a clean shutdown does
 * (hooks run in reverse order: the tasks are still alive here; their
 * files close when they exit, and the host files when the machine goes).
 */
static void file_shutdown(bool panicked)
{
	if (!panicked)
		sync_all();
}

const struct kmm_lua_binding kmm_lua_file_binding = {
	.name = "file",
	.methods = machine_methods,
	.open = file_open_lib,
	.boot = file_boot,
	.shutdown = file_shutdown,
};
