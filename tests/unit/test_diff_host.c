/*
 * The differential test against the host's Linux kernel: one random
 * sequence of mmap, munmap, mprotect, mremap, brk, madvise, fork, exit,
 * loads and stores is applied both to host processes and to kmm tasks, and
 * after every step the two must agree: the return values (errno names),
 * the signal, code and address of a fault, the values loaded, the areas of
 * a reserved address window as /proc/PID/maps shows them, and (every few
 * steps) the contents of every readable page and /proc/PID/smaps of the
 * window (Rss, Pss, Shared/Private Clean/Dirty, Referenced, Anonymous,
 * VmFlags, ...); and kmm's /proc/PID/status lines are lines of the host's,
 * in its order and format.
 *
 * The host side. The test forks "servers", processes that do nothing but
 * execute commands from a pipe with raw system calls and answer on
 * another, so that the only mappings that change are the ones the test
 * asks for. Every address of the sequence lies in a window of WIN_PAGES
 * pages at WIN (32 TiB, far from the host's own heap, libraries, stack and
 * the ASan shadow, and from kmm's layout): the test checks the window is
 * free, and MAP_FIXED, MAP_FIXED_NOREPLACE and hints inside it give both
 * kernels the same addresses. A fork command makes the server fork; a
 * fault in a load or store is caught with a signal handler, reported, and
 * ends the server, as a SIGSEGV ends the kmm task.
 *
 * Where the two may legitimately differ the test says so and filters:
 *  - an address the kernel chooses (mmap without a hint, a hint that is
 *    not free, mremap moving an area) is placed by each kernel below its
 *    own mmap_base: the test compares that both placed it outside the
 *    window, then unmaps it on both sides;
 *  - brk: the host heap starts where the host put it; break values are
 *    compared relative to each side's initial break, and the [heap] line
 *    relative to it as well;
 *  - the host has protection keys: a PROT_EXEC-only mapping is
 *    execute-only there (reads fault with SEGV_PKUERR) and readable on
 *    kmm, which has no keys: the generator never asks for exec-only, and
 *    smaps' ProtectionKey line is not compared;
 *  - the inode of a shared anonymous object (/dev/zero (deleted)) is
 *    compared by identity (the first object listed is 1, the next 2, ...);
 *  - mremap of a range that is not one area: Linux versions differ (see
 *    range_in_one_area); the generator asks only what all agree on;
 *  - merges: Linux's anon_vma chains keep some areas apart that kmm
 *    merges (see compare_maps); counted, not a failure;
 *  - smaps of shared areas: Linux's fork does not copy their page-table
 *    entries, kmm's does, so their page counts are not compared (see
 *    compare_smaps).
 * The kmm bugs the test found have all been fixed (git log names them);
 * anything else that differs fails the test with the step's log and both
 * listings.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kmm/emu.h>
#include <kmm/errno.h>
#include <kmm/kmm.h>
#include <kmm/mm.h>
#include <kmm/mman.h>
#include <kmm/page_alloc.h>
#include <kmm/shrinker.h>

#include "helpers.h"

#define PG 4096UL
#define WIN 0x200000000000UL
#define WIN_PAGES 64
#define WIN_END (WIN + WIN_PAGES * PG)
#define HEAP_PAGES 40
#define NSLOTS 4
#define STEPS 1000

/* Longer runs: KMM_DIFF_STEPS=n steps a seed, KMM_DIFF_SEEDS=first-last more seeds. */
static unsigned int nr_steps = STEPS;
#define HASH_EVERY 8
#define MAPS_MAX (1 << 20)

/*
 * Known kmm bugs this test found, each turning off or counting the one case
 * that shows it until it is fixed (then remove the switch). Fixed so far:
 * MAP_FIXED_NOREPLACE at an unaligned address (EINVAL), the page offset
 * of a never-faulted area moved by mremap (it merges at its new place),
 * VM_ACCOUNT dropped by mprotect from a never-written area made read-only,
 * MAP_POPULATE not marking its pages referenced (Linux populates with
 * FOLL_TOUCH, so a child forked later, whose entries start old, still
 * counts them in smaps' Referenced).
 */

enum op_kind {
	OP_MMAP, OP_MUNMAP, OP_MPROTECT, OP_MREMAP, OP_BRK, OP_MADVISE, OP_STORE,
	OP_LOAD, OP_FORK, OP_EXIT, OP_HASH_ALL,
	/* Host-only commands. */
	OP_HELLO, OP_MAPS, OP_HASH, OP_SMAPS, OP_STATUS,
};

static const char *const op_names[] = {
	"mmap", "munmap", "mprotect", "mremap", "brk", "madvise", "store", "load",
	"fork", "exit", "hash", "hello", "maps", "hash", "smaps", "status",
};

/* Where an address lies: the window (absolute), the heap (from the slot's base). */
enum region { REG_WIN, REG_HEAP, REG_NONE };

struct op {
	int kind, slot, newslot;
	int region;
	uint64_t addr, len, len2, addr2;
	int prot, flags, advice, size;
	uint64_t val;
};

/* A result, normalized so that the two sides compare. */
struct result {
	long ret;
	bool outside;        /* an address the kernel chose outside the window */
	int sig, code;
	uint64_t faddr;      /* fault address, in the op's region terms */
	uint64_t val;
};

/* The host server's answer. */
struct hrep {
	int64_t ret;
	int32_t sig, code;
	uint64_t faddr, val, aux;
	uint32_t len;        /* payload bytes that follow */
};

/* ---- The random sequence ---- */

static uint64_t rng;

static uint64_t rnd64(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t rnd(uint64_t n)
{
	return n ? rnd64() % n : 0;
}

/* ---- The host side ---- */

static int cmd_pipe[NSLOTS][2], rep_pipe[NSLOTS][2];

static sigjmp_buf srv_env;
static volatile sig_atomic_t srv_sig, srv_code;
static volatile uint64_t srv_addr;
static char srv_buf[MAPS_MAX];

static void srv_fault(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	srv_sig = sig;
	srv_code = si->si_code;
	srv_addr = (uint64_t)(uintptr_t)si->si_addr;
	siglongjmp(srv_env, 1);
}

typedef uint16_t __attribute__((aligned(1), may_alias)) u16u;
typedef uint32_t __attribute__((aligned(1), may_alias)) u32u;
typedef uint64_t __attribute__((aligned(1), may_alias)) u64u;

/* The accesses themselves: arbitrary addresses, unaligned, faults expected. */
__attribute__((no_sanitize("address", "undefined"), noinline))
static void raw_store(uint64_t a, uint64_t v, int size)
{
	switch (size) {
	case 1: *(volatile uint8_t *)a = (uint8_t)v; break;
	case 2: *(volatile u16u *)a = (uint16_t)v; break;
	case 4: *(volatile u32u *)a = (uint32_t)v; break;
	default: *(volatile u64u *)a = v; break;
	}
}

__attribute__((no_sanitize("address", "undefined"), noinline))
static uint64_t raw_load(uint64_t a, int size)
{
	switch (size) {
	case 1: return *(volatile uint8_t *)a;
	case 2: return *(volatile u16u *)a;
	case 4: return *(volatile u32u *)a;
	default: return *(volatile u64u *)a;
	}
}

/* FNV-1a of one page. */
__attribute__((no_sanitize("address", "undefined"), noinline))
static uint64_t hash_page(const volatile uint8_t *p)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < PG; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static bool write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static bool read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static long sys_ret(long r)
{
	return r == -1 ? -errno : r;
}

/* A maps or smaps header line: "start-end perms ...". */
static bool header_line(const char *line)
{
	const char *p = line;

	while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))
		p++;
	return p > line && *p == '-';
}

/*
 * The lines of a maps or smaps text that are about the window or the heap:
 * a header line and, in smaps, the field lines that follow it.
 */
static size_t filter_listing(const char *raw, char *out)
{
	size_t o = 0;
	bool keep = false;

	for (const char *line = raw; *line;) {
		const char *nl = strchr(line, '\n');
		size_t l = nl ? (size_t)(nl - line) + 1 : strlen(line);

		if (header_line(line)) {
			unsigned long start = strtoul(line, NULL, 16);

			keep = (start >= WIN && start < WIN_END) || memmem(line, l, "[heap]", 6);
		}
		if (keep) {
			memcpy(out + o, line, l);
			o += l;
		}
		line += l;
	}
	out[o] = '\0';
	return o;
}

/* The server's own /proc/self/maps or smaps, filtered. */
static uint32_t srv_listing(const char *path)
{
	static char raw[MAPS_MAX];
	size_t len = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return 0;
	for (;;) {
		ssize_t n = read(fd, raw + len, sizeof(raw) - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	raw[len] = '\0';
	return (uint32_t)filter_listing(raw, srv_buf);
}

/* start_brk (field 47 of /proc/self/stat). */
static uint64_t srv_start_brk(void)
{
	char buf[4096];
	int fd = open("/proc/self/stat", O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	char *p;
	int field = 2;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	p++;
	while (*p && field < 47) {
		if (*p == ' ')
			field++;
		p++;
	}
	return strtoull(p, NULL, 10);
}

static __attribute__((noreturn)) void server(int slot)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = srv_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	signal(SIGCHLD, SIG_IGN);   /* forked servers are reaped by the kernel */
	/*
	 * Only the test writes commands and reads answers: once it is gone,
	 * every server reads end-of-file and exits, whatever happened.
	 */
	for (int i = 0; i < NSLOTS; i++) {
		if (cmd_pipe[i][1] >= 0)
			close(cmd_pipe[i][1]);
		if (rep_pipe[i][0] >= 0)
			close(rep_pipe[i][0]);
		cmd_pipe[i][1] = rep_pipe[i][0] = -1;
	}

	for (;;) {
		struct op c;
		struct hrep r;
		volatile bool die = false;

		if (!read_full(cmd_pipe[slot][0], &c, sizeof(c)))
			_exit(0);
		memset(&r, 0, sizeof(r));
		switch (c.kind) {
		case OP_HELLO:
			r.ret = syscall(SYS_brk, 0);
			r.aux = srv_start_brk();
			break;
		case OP_MMAP:
			r.ret = sys_ret(syscall(SYS_mmap, c.addr, c.len, c.prot, c.flags, -1,
						c.addr2));
			break;
		case OP_MUNMAP:
			r.ret = sys_ret(syscall(SYS_munmap, c.addr, c.len));
			break;
		case OP_MPROTECT:
			r.ret = sys_ret(syscall(SYS_mprotect, c.addr, c.len, c.prot));
			break;
		case OP_MREMAP:
			r.ret = sys_ret(syscall(SYS_mremap, c.addr, c.len, c.len2, c.flags,
						c.addr2));
			break;
		case OP_BRK:
			r.ret = syscall(SYS_brk, c.addr);
			break;
		case OP_MADVISE:
			r.ret = sys_ret(syscall(SYS_madvise, c.addr, c.len, c.advice));
			break;
		case OP_STORE:
		case OP_LOAD:
			srv_sig = 0;
			if (!sigsetjmp(srv_env, 1)) {
				if (c.kind == OP_STORE)
					raw_store(c.addr, c.val, c.size);
				else
					r.val = raw_load(c.addr, c.size);
			} else {
				r.sig = srv_sig;
				r.code = srv_code;
				r.faddr = srv_addr;
				r.ret = -EFAULT;
				die = true;
			}
			break;
		case OP_HASH: {
			/* One (hash, signal) pair per page; a fault skips the page. */
			uint64_t *out = (uint64_t *)srv_buf;
			volatile uint64_t i;

			for (i = 0; i < c.len; i++) {
				srv_sig = 0;
				if (!sigsetjmp(srv_env, 1)) {
					out[2 * i] = hash_page((const uint8_t *)(c.addr + i * PG));
					out[2 * i + 1] = 0;
				} else {
					out[2 * i] = 0;
					out[2 * i + 1] = (uint64_t)srv_sig;
				}
			}
			r.len = (uint32_t)(c.len * 16);
			break;
		}
		case OP_MAPS:
			r.len = srv_listing("/proc/self/maps");
			break;
		case OP_SMAPS:
			r.len = srv_listing("/proc/self/smaps");
			break;
		case OP_STATUS: {
			int fd = open("/proc/self/status", O_RDONLY);
			ssize_t n = fd < 0 ? 0 : read(fd, srv_buf, sizeof(srv_buf) - 1);

			if (fd >= 0)
				close(fd);
			r.len = n > 0 ? (uint32_t)n : 0;
			break;
		}
		case OP_FORK: {
			pid_t pid = fork();

			if (pid == 0)
				server(c.newslot);
			r.ret = pid < 0 ? -errno : pid;
			break;
		}
		case OP_EXIT:
			die = true;
			break;
		}
		if (!write_full(rep_pipe[slot][1], &r, sizeof(r)) ||
		    (r.len && !write_full(rep_pipe[slot][1], srv_buf, r.len)))
			_exit(1);
		if (die)
			_exit(0);
	}
}

static char host_payload[MAPS_MAX];

/* Sends a command to slot's server and reads its answer (10 s at most). */
static void host_call(int slot, const struct op *c, struct hrep *r)
{
	struct pollfd p = { .fd = rep_pipe[slot][0], .events = POLLIN };

	assert_true(write_full(cmd_pipe[slot][1], c, sizeof(*c)));
	if (poll(&p, 1, 10000) != 1)
		fail_msg("host server of slot %d did not answer %s", slot, op_names[c->kind]);
	assert_true(read_full(rep_pipe[slot][0], r, sizeof(*r)));
	assert_true(r->len <= sizeof(host_payload) - 1);
	if (r->len)
		assert_true(read_full(rep_pipe[slot][0], host_payload, r->len));
	host_payload[r->len] = '\0';
}

/* ---- Both sides ---- */

struct side {
	bool live[NSLOTS];
	uint64_t hbase[NSLOTS], kbase[NSLOTS];   /* initial breaks */
	bool heap_comparable[NSLOTS];            /* host start_brk == initial break */
	struct task *kt[NSLOTS];
	pid_t pid[NSLOTS];                       /* host servers */
};

static struct side S;
static char kmm_maps_buf[MAPS_MAX];
static char log_buf[64][200];
static unsigned int log_n;

static void log_op(unsigned int step, const struct op *o)
{
	snprintf(log_buf[log_n++ % 64], sizeof(log_buf[0]),
		 "%4u slot %d %-8s %s addr=%#lx len=%#lx len2=%#lx addr2=%#lx prot=%d "
		 "flags=%#x adv=%d size=%d val=%#lx",
		 step, o->slot, op_names[o->kind], o->region == REG_HEAP ? "heap" : "win",
		 (unsigned long)o->addr, (unsigned long)o->len, (unsigned long)o->len2,
		 (unsigned long)o->addr2, o->prot, (unsigned)o->flags, o->advice, o->size,
		 (unsigned long)o->val);
}

static void dump_log(void)
{
	unsigned int first = log_n > 64 ? log_n - 64 : 0;

	fprintf(stderr, "---- the last steps ----\n");
	for (unsigned int i = first; i < log_n; i++)
		fprintf(stderr, "%s\n", log_buf[i % 64]);
}

/* kmm's maps or smaps of t, filtered as the host's. */
static void kmm_listing(struct task *t, const char *view)
{
	static char raw[MAPS_MAX];
	struct seq_buf s;

	seq_buf_init(&s, raw, sizeof(raw));
	assert_int_equal(kmm_view_show(view, t->pid, &s), 0);
	assert_false(seq_buf_overflowed(&s));
	filter_listing(raw, kmm_maps_buf);
}

/* One line of a listing, normalized: the heap relative to its base, shared objects by identity. */
struct area_line {
	uint64_t start, end, off;
	char perms[8];
	unsigned int obj;     /* 0: private anonymous; else the shared object's identity */
	bool heap;
};

struct listing {
	struct area_line l[256];
	unsigned int n;
};

static void parse_maps(const char *in, uint64_t base, bool keep_heap, struct listing *out)
{
	unsigned long inodes[64];
	unsigned int ninodes = 0;

	out->n = 0;
	for (const char *line = in; *line;) {
		const char *nl = strchr(line, '\n');
		size_t l = nl ? (size_t)(nl - line) + 1 : strlen(line);
		unsigned long start, end, off, ino;
		char text[256], dev[16], name[128] = "";
		struct area_line *a = &out->l[out->n];
		int n;

		snprintf(text, sizeof(text), "%.*s", (int)(nl ? (size_t)(nl - line) : l), line);
		line += l;
		n = sscanf(text, "%lx-%lx %7s %lx %15s %lu %127[^\n]", &start, &end, a->perms, &off,
			   dev, &ino, name);
		assert_true(n >= 6);
		assert_true(out->n < ARRAY_SIZE(out->l));
		a->obj = 0;
		if (!strcmp(dev, "00:01")) {
			for (a->obj = 0; a->obj < ninodes && inodes[a->obj] != ino; a->obj++)
				;
			if (a->obj == ninodes && ninodes < 64)
				inodes[ninodes++] = ino;
			a->obj++;
		}
		a->heap = !strcmp(name, "[heap]");
		if (a->heap && !keep_heap)
			continue;
		a->start = a->heap ? start - base : start;
		a->end = a->heap ? end - base : end;
		a->off = off;
		out->n++;
	}
}

static size_t format_listing(const struct listing *in, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	for (unsigned int i = 0; i < in->n; i++) {
		const struct area_line *a = &in->l[i];

		o += (size_t)snprintf(out + o, cap - o, "%s%lx-%s%lx %s %08lx obj%u\n",
				      a->heap ? "heap+" : "", (unsigned long)a->start,
				      a->heap ? "heap+" : "", (unsigned long)a->end, a->perms,
				      (unsigned long)a->off, a->obj);
		assert_true(o < cap);
	}
	return o;
}

/* Would Linux's maps show a and b as one line, had the kernel merged them? */
static bool joinable(const struct area_line *a, const struct area_line *b)
{
	return a->end == b->start && a->heap == b->heap && a->obj == b->obj &&
	       !strcmp(a->perms, b->perms) && (!a->obj || a->off + (a->end - a->start) == b->off);
}

/* The boundaries between joinable neighbours: where a kernel chose not to merge. */
static unsigned int unmerged(const struct listing *in, uint64_t *out)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i + 1 < in->n; i++)
		if (joinable(&in->l[i], &in->l[i + 1]))
			out[n++] = in->l[i].end;
	return n;
}

static void coalesce(const struct listing *in, struct listing *out)
{
	out->n = 0;
	for (unsigned int i = 0; i < in->n; i++) {
		if (out->n && joinable(&out->l[out->n - 1], &in->l[i]))
			out->l[out->n - 1].end = in->l[i].end;
		else
			out->l[out->n++] = in->l[i];
	}
}

static bool contains(const uint64_t *set, unsigned int n, uint64_t v)
{
	for (unsigned int i = 0; i < n; i++)
		if (set[i] == v)
			return true;
	return false;
}

/*
 * Merging. Two neighbouring areas that only differ in where the kernel
 * drew the line between them show as two lines or one, depending on the
 * kernel's merge rules; the program cannot tell. Linux refuses some merges
 * kmm makes: its anon_vma chains (a forked child's area has two anon_vmas,
 * so a grown heap or a new neighbour is not merged into it), which kmm's
 * simpler object-based anon_vma (one per family, as ULK describes) does
 * not have. So a boundary the host has and kmm has not is counted, not a
 * failure. A boundary kmm has and the host has not is a merge kmm missed:
 * a failure.
 */
static unsigned int nr_host_unmerged;
/* The host's areas at the last comparison, per slot (for range_in_one_area). */
static struct listing host_areas[NSLOTS];

static void compare_maps(int slot)
{
	static char hn[MAPS_MAX], kn[MAPS_MAX];
	static struct listing hl, kl, hc, kc;
	struct op c = { .kind = OP_MAPS, .slot = slot };
	struct hrep r;
	uint64_t hb[256], kb[256];
	unsigned int nhb, nkb;
	bool ok;

	host_call(slot, &c, &r);
	kmm_listing(S.kt[slot], "maps");
	parse_maps(host_payload, S.hbase[slot], S.heap_comparable[slot], &hl);
	parse_maps(kmm_maps_buf, S.kbase[slot], S.heap_comparable[slot], &kl);
	host_areas[slot] = hl;
	format_listing(&hl, hn, sizeof(hn));
	format_listing(&kl, kn, sizeof(kn));
	if (!strcmp(hn, kn))
		return;
	coalesce(&hl, &hc);
	coalesce(&kl, &kc);
	format_listing(&hc, hn, sizeof(hn));
	format_listing(&kc, kn, sizeof(kn));
	ok = !strcmp(hn, kn);
	nhb = unmerged(&hl, hb);
	nkb = unmerged(&kl, kb);
	for (unsigned int i = 0; i < nkb; i++)
		ok = ok && contains(hb, nhb, kb[i]);   /* a merge kmm missed fails */
	for (unsigned int i = 0; ok && i < nhb; i++)
		if (!contains(kb, nkb, hb[i]))
			nr_host_unmerged++;
	if (ok)
		return;
	format_listing(&hl, hn, sizeof(hn));
	format_listing(&kl, kn, sizeof(kn));
	dump_log();
	fprintf(stderr, "---- host maps (slot %d) ----\n%s---- kmm maps ----\n%s"
		"---- host, normalized ----\n%s---- kmm, normalized ----\n%s",
		slot, host_payload, kmm_maps_buf, hn, kn);
	fail_msg("maps differ after step %u", log_n - 1);
}

/* Every readable page of the window and the heap: same contents on both. */
static void compare_contents(int slot)
{
	static char listing[MAPS_MAX];
	struct op c = { .kind = OP_MAPS, .slot = slot };
	struct hrep r;

	host_call(slot, &c, &r);
	memcpy(listing, host_payload, r.len + 1);
	for (char *line = listing; *line;) {
		char *nl = strchr(line, '\n');
		unsigned long start, end;
		char perms[8];
		bool heap = nl ? memmem(line, (size_t)(nl - line), "[heap]", 6) != NULL
			       : strstr(line, "[heap]") != NULL;

		assert_int_equal(sscanf(line, "%lx-%lx %7s", &start, &end, perms), 3);
		line = nl ? nl + 1 : line + strlen(line);
		if (perms[0] != 'r' || (heap && !S.heap_comparable[slot]))
			continue;
		struct op h = { .kind = OP_HASH, .slot = slot, .addr = start,
				.len = (end - start) / PG };
		uint64_t hashes[2 * WIN_PAGES + 2 * HEAP_PAGES + 64];
		uint64_t kstart = heap ? start - S.hbase[slot] + S.kbase[slot] : start;

		assert_true(h.len <= (sizeof(hashes) / 16));
		host_call(slot, &h, &r);
		memcpy(hashes, host_payload, r.len);
		for (uint64_t i = 0; i < h.len; i++) {
			static uint8_t page[PG];
			int ret;

			if (hashes[2 * i + 1])
				continue;   /* the host could not read it (SIGBUS beyond a shared object) */
			ret = emu_copy_from_user(S.kt[slot], page, kstart + i * PG, PG);
			if (ret) {
				dump_log();
				fail_msg("kmm could not read %#lx (slot %d): the host could",
					 (unsigned long)(kstart + i * PG), slot);
			}
			if (hash_page(page) != hashes[2 * i]) {
				dump_log();
				fail_msg("page %#lx (slot %d) differs between host and kmm",
					 (unsigned long)(start + i * PG), slot);
			}
		}
	}
}

/* ---- status ---- */

/*
 * kmm's /proc/PID/status has a subset of Linux's lines (the memory ones and
 * the task's identity): each must be a line of the host's file, in the
 * host's order, in the same shape ("Name:\t" and, for sizes, the value
 * right-aligned in 8 columns and " kB").
 */
static void compare_status_format(int slot)
{
	static char host[MAPS_MAX], text[8192];
	struct op c = { .kind = OP_STATUS, .slot = slot };
	struct hrep r;
	struct seq_buf sb;
	const char *last = host;

	host_call(slot, &c, &r);
	host[0] = '\n';   /* every line, the first too, starts after a newline */
	memcpy(host + 1, host_payload, r.len + 1);
	seq_buf_init(&sb, text, sizeof(text));
	assert_int_equal(kmm_view_show("status", S.kt[slot]->pid, &sb), 0);
	for (const char *line = text; *line;) {
		const char *nl = strchr(line, '\n'), *tab = strchr(line, '\t');
		char key[32], pattern[40];
		const char *at;

		assert_non_null(nl);
		assert_true(tab && tab < nl && tab[-1] == ':');
		snprintf(key, sizeof(key), "%.*s", (int)(tab - line + 1), line);
		snprintf(pattern, sizeof(pattern), "\n%s", key);
		at = strstr(host, pattern);
		if (!at || at < last)
			fail_msg("status line '%s' is not in the host's file, or out of its order", key);
		last = at;
		if (nl - line > 3 && !strncmp(nl - 3, " kB", 3)) {
			const char *hv = at + 1 + strlen(key), *hnl = strchr(hv, '\n');

			/* The same shape: the value right-aligned in 8 columns, or wider
			   without padding when it has more digits. */
			assert_int_equal(nl - (tab + 1), 11);
			assert_true(hnl - hv == 11 || (hnl - hv > 11 && hv[0] != ' '));
			assert_int_equal(strncmp(hnl - 3, " kB", 3), 0);
		}
		line = nl + 1;
	}
}

/* ---- smaps ---- */

struct smaps_area {
	uint64_t start, end;
	char head[64];               /* "start-end perms" */
	char names[40][24];
	unsigned long vals[40];
	unsigned int n;
	char vmflags[256];
};

struct smaps_listing {
	struct smaps_area a[128];
	unsigned int n;
};

/* The window's areas of an smaps text (the heap is left to the maps test). */
static void parse_smaps(const char *text, struct smaps_listing *out)
{
	struct smaps_area *cur = NULL;

	out->n = 0;
	for (const char *line = text; *line;) {
		const char *nl = strchr(line, '\n');
		size_t l = nl ? (size_t)(nl - line) : strlen(line);
		char buf[256];

		snprintf(buf, sizeof(buf), "%.*s", (int)l, line);
		line += l + (nl ? 1 : 0);
		if (header_line(buf)) {
			unsigned long start, end;
			char perms[8];

			cur = NULL;
			if (sscanf(buf, "%lx-%lx %7s", &start, &end, perms) != 3 ||
			    start < WIN || start >= WIN_END)
				continue;
			assert_true(out->n < ARRAY_SIZE(out->a));
			cur = &out->a[out->n++];
			memset(cur, 0, sizeof(*cur));
			cur->start = start;
			cur->end = end;
			snprintf(cur->head, sizeof(cur->head), "%lx-%lx %s", start, end, perms);
			continue;
		}
		if (!cur)
			continue;
		if (!strncmp(buf, "VmFlags:", 8)) {
			snprintf(cur->vmflags, sizeof(cur->vmflags), "%s", buf + 8);
			continue;
		}
		/* Protection keys: the host has them, kmm has none. */
		if (!strncmp(buf, "ProtectionKey:", 14))
			continue;
		assert_true(cur->n < ARRAY_SIZE(cur->names));
		if (sscanf(buf, "%23[^:]: %lu", cur->names[cur->n], &cur->vals[cur->n]) == 2)
			cur->n++;
	}
}

/*
 * smaps of the window: the same fields in the same order with the same
 * values, area by area, where the two listings have the same areas (when
 * they differ only by a merge, see compare_maps, the counts cover other
 * ranges and are not compared). Two legitimate differences are filtered:
 *  - shared areas ("sh"): Linux's fork does not copy the page-table
 *    entries of shared areas (the child faults them in when it touches
 *    them), kmm's copies them; so which process has which shared page
 *    mapped, and each page's map count, differ: the page counts of shared
 *    areas (Rss, Pss, Shared_*, Private_*, Referenced) are not compared.
 */
static unsigned int nr_smaps_compared, nr_smaps_skipped;

static bool page_count_field(const char *name)
{
	static const char *const names[] = {
		"Rss", "Pss", "Pss_Dirty", "Shared_Clean", "Shared_Dirty", "Private_Clean",
		"Private_Dirty", "Referenced",
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(name, names[i]))
			return true;
	return false;
}

static bool same_vmflags(const struct smaps_area *h, const struct smaps_area *k)
{
	return !strcmp(h->vmflags, k->vmflags);
}

static void compare_smaps(int slot)
{
	static struct smaps_listing hs, ks;
	static char htext[MAPS_MAX];
	struct op c = { .kind = OP_SMAPS, .slot = slot };
	struct hrep r;

	host_call(slot, &c, &r);
	memcpy(htext, host_payload, r.len + 1);
	kmm_listing(S.kt[slot], "smaps");
	parse_smaps(htext, &hs);
	parse_smaps(kmm_maps_buf, &ks);
	if (hs.n != ks.n) {
		nr_smaps_skipped++;
		return;
	}
	for (unsigned int i = 0; i < hs.n; i++) {
		const struct smaps_area *h = &hs.a[i], *k = &ks.a[i];
		bool shared = strstr(h->vmflags, " sh ") != NULL;
		bool same = !strcmp(h->head, k->head) && h->n == k->n && same_vmflags(h, k);

		if (h->start != k->start || h->end != k->end) {
			nr_smaps_skipped++;
			return;
		}
		for (unsigned int j = 0; same && j < h->n; j++) {
			same = !strcmp(h->names[j], k->names[j]) &&
			       (h->vals[j] == k->vals[j] || (shared && page_count_field(h->names[j])));
		}
		if (same)
			continue;
		dump_log();
		fprintf(stderr, "---- smaps of %s (slot %d): host | kmm ----\n", h->head, slot);
		for (unsigned int j = 0; j < h->n || j < k->n; j++)
			fprintf(stderr, "%-16s %8lu | %-16s %8lu%s\n", j < h->n ? h->names[j] : "",
				j < h->n ? h->vals[j] : 0, j < k->n ? k->names[j] : "",
				j < k->n ? k->vals[j] : 0,
				j < h->n && j < k->n && h->vals[j] == k->vals[j] &&
				!strcmp(h->names[j], k->names[j]) ? "" : "   <--");
		fprintf(stderr, "VmFlags:%s | VmFlags:%s\n", h->vmflags, k->vmflags);
		fail_msg("smaps of %s differ after step %u", h->head, log_n - 1);
	}
	nr_smaps_compared++;
}

static void host_spawn(int slot)
{
	struct op c = { .kind = OP_HELLO, .slot = slot };
	struct hrep r;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		server(slot);
	S.pid[slot] = pid;
	host_call(slot, &c, &r);
	S.hbase[slot] = (uint64_t)r.ret;
	S.heap_comparable[slot] = r.aux == (uint64_t)r.ret;
}

static void kmm_spawn(int slot)
{
	assert_int_equal(task_spawn("diff", &S.kt[slot]), 0);
	S.kbase[slot] = (uint64_t)sys_brk(S.kt[slot], 0);
}

static void spawn(int slot)
{
	host_spawn(slot);
	kmm_spawn(slot);
	S.live[slot] = true;
}

static void kmm_reap(int slot)
{
	task_release(S.kt[slot]);
	S.kt[slot] = NULL;
	S.live[slot] = false;
}

/* ---- Generating a step ---- */

static struct vm_area *random_window_area(int slot);

static int live_slots(int *slots)
{
	int n = 0;

	for (int i = 0; i < NSLOTS; i++)
		if (S.live[i])
			slots[n++] = i;
	return n;
}

static int free_slot(void)
{
	for (int i = 0; i < NSLOTS; i++)
		if (!S.live[i])
			return i;
	return -1;
}

static int gen_prot(void)
{
	int prot = (int)rnd(8);

	/* Execute-only is a protection-key mapping on the host (see the top). */
	if (prot == KMM_PROT_EXEC)
		prot |= KMM_PROT_READ;
	return prot;
}

static uint64_t gen_win_addr(void)
{
	return WIN + rnd(WIN_PAGES) * PG;
}

/* A length of 1..12 pages (sometimes not a multiple of a page), inside the window. */
static uint64_t gen_len(uint64_t addr)
{
	uint64_t len = (1 + rnd(12)) * PG;

	if (rnd(8) == 0)
		len -= 1 + rnd(PG - 1);
	if (addr >= WIN && addr < WIN_END && addr + len > WIN_END)
		len = WIN_END - (addr & ~(PG - 1));
	return len;
}

/* An address to load from or store to: mostly inside a mapped area. */
static void gen_access(struct op *o)
{
	uint64_t r = rnd(100);

	o->size = 1 << rnd(4);
	o->val = rnd64();
	if (r < 15) {
		o->region = REG_HEAP;
		o->addr = rnd((HEAP_PAGES + 2) * PG);
		return;
	}
	o->region = REG_WIN;
	if (r < 80) {
		/* A page of an area kmm has, or just around one (stack growth). */
		struct vm_area *vma = random_window_area(o->slot);

		if (vma) {
			o->addr = vma->vm_start - PG + rnd(vma->vm_end - vma->vm_start + 2 * PG);
			if (rnd(10) == 0)
				o->addr = (o->addr & ~(PG - 1)) + PG - 1 - rnd(4);  /* across pages */
			if (o->addr < WIN || o->addr + 8 > WIN_END)
				o->addr = WIN + PG;
			return;
		}
	}
	o->addr = WIN + rnd(WIN_PAGES * PG - 8);
}

/* A random area of the slot's kmm task that starts in the window, or NULL. */
static struct vm_area *random_window_area(int slot)
{
	struct mm *mm = S.kt[slot]->mm;
	struct vm_area *vma;
	unsigned int n = 0, pick;

	list_for_each_entry(vma, &mm->mmap, vm_list)
		if (vma->vm_start >= WIN && vma->vm_start < WIN_END)
			n++;
	if (!n)
		return NULL;
	pick = (unsigned int)rnd(n);
	list_for_each_entry(vma, &mm->mmap, vm_list)
		if (vma->vm_start >= WIN && vma->vm_start < WIN_END && !pick--)
			return vma;
	return NULL;
}

/*
 * Does [addr, addr + len) lie inside one area? mremap of a range that does
 * not is where Linux versions differ: up to 6.x mremap first unmapped the
 * destination (MREMAP_FIXED) and the tail beyond new_len, then failed
 * with EFAULT (or succeeded, for a shrink); the host's newer mremap checks
 * the area first and changes nothing. kmm does what the older kernels did.
 * The generator asks for such ranges only where both agree: growth
 * without MREMAP_FIXED (EFAULT, nothing changed, in every version).
 */
static bool kmm_one_area(int slot, uint64_t addr, uint64_t len)
{
	struct vm_area *vma = vma_lookup(S.kt[slot]->mm, (uintptr_t)addr);

	len = (len + PG - 1) & ~(PG - 1);
	return vma && len && addr + len <= vma->vm_end;
}

static bool host_one_area(int slot, uint64_t addr, uint64_t len)
{
	const struct listing *h = &host_areas[slot];

	len = (len + PG - 1) & ~(PG - 1);
	for (unsigned int i = 0; i < h->n; i++)
		if (!h->l[i].heap && h->l[i].start <= addr && len && addr + len <= h->l[i].end)
			return true;
	return false;
}

/*
 * kmm merges some areas Linux keeps apart (see compare_maps), and mremap
 * works on one area: a range that is one area in kmm and two on the host
 * is remapped by kmm and refused (EFAULT) by Linux, both rightly. Such
 * ranges are not asked for (nr_mremap_merge_skips counts them).
 */
static unsigned int nr_mremap_merge_skips;

static bool range_in_one_area(int slot, uint64_t addr, uint64_t len)
{
	return kmm_one_area(slot, addr, len) && host_one_area(slot, addr, len);
}

static void gen_step(struct op *o)
{
	int slots[NSLOTS], n = live_slots(slots);
	uint64_t r = rnd(100);

	memset(o, 0, sizeof(*o));
	o->slot = slots[rnd((uint64_t)n)];
	o->region = REG_WIN;
	if (r < 22) {
		uint64_t place = rnd(100);

		o->kind = OP_MMAP;
		o->addr = gen_win_addr();
		o->len = gen_len(o->addr);
		o->prot = gen_prot();
		o->flags = KMM_MAP_ANONYMOUS | (rnd(5) == 0 ? KMM_MAP_SHARED : KMM_MAP_PRIVATE);
		if (place < 40)
			o->flags |= KMM_MAP_FIXED;
		else if (place < 70)
			o->flags |= KMM_MAP_FIXED_NOREPLACE;
		else if (place < 95)
			; /* a hint */
		else
			o->addr = 0;
		if (rnd(10) == 0)
			o->flags |= KMM_MAP_POPULATE;
		if (rnd(10) == 0)
			o->flags |= KMM_MAP_NORESERVE;
		if (rnd(25) == 0)
			o->flags |= KMM_MAP_GROWSDOWN;
		if (rnd(20) == 0)
			o->addr2 = rnd(4) * PG;                     /* an offset: ignored for anon */
		switch (rnd(40)) {
		case 0: o->len = 0; break;                          /* EINVAL */
		case 1: o->addr += 1 + rnd(PG - 1); break;         /* EINVAL when fixed */
		case 2: o->flags &= ~(KMM_MAP_SHARED | KMM_MAP_PRIVATE); break;  /* EINVAL */
		case 3: o->addr2 = 1 + rnd(PG - 1); break;          /* EINVAL: offset */
		}
	} else if (r < 34) {
		o->kind = OP_MUNMAP;
		o->addr = gen_win_addr();
		o->len = gen_len(o->addr);
		switch (rnd(25)) {
		case 0: o->len = 0; break;
		case 1: o->addr += 1 + rnd(PG - 1); break;
		case 2: o->len = (uint64_t)-PG; break;              /* EINVAL: past TASK_SIZE */
		}
	} else if (r < 46) {
		o->kind = OP_MPROTECT;
		o->addr = gen_win_addr();
		o->len = gen_len(o->addr);
		o->prot = gen_prot();
		switch (rnd(25)) {
		case 0: o->len = 0; break;
		case 1: o->addr += 1 + rnd(PG - 1); break;
		case 2: o->prot |= 0x10; break;                    /* EINVAL: unknown bit */
		}
	} else if (r < 56) {
		uint64_t how = rnd(100);
		struct vm_area *vma = random_window_area(o->slot);

		o->kind = OP_MREMAP;
		if (vma && rnd(5)) {
			/* A range inside one area (see mremap_outside_one_area). */
			uint64_t pages = (vma->vm_end - vma->vm_start) / PG;
			uint64_t first = rnd(pages);

			o->addr = vma->vm_start + first * PG;
			o->len = (1 + rnd(pages - first)) * PG;
			if (rnd(8) == 0)
				o->len -= 1 + rnd(PG - 1);
		} else {
			o->addr = gen_win_addr();
			o->len = gen_len(o->addr);
		}
		o->len2 = gen_len(o->addr);
		if (how < 45) {
			o->flags = 0;
		} else if (how < 70) {
			o->flags = KMM_MREMAP_MAYMOVE;
		} else {
			o->flags = KMM_MREMAP_MAYMOVE | KMM_MREMAP_FIXED;
			o->addr2 = gen_win_addr();
			if (o->addr2 + o->len2 > WIN_END)
				o->len2 = WIN_END - o->addr2;
		}
		if (kmm_one_area(o->slot, o->addr, o->len) !=
		    host_one_area(o->slot, o->addr, o->len)) {
			nr_mremap_merge_skips++;
			o->kind = OP_HASH_ALL;
			return;
		}
		if (!range_in_one_area(o->slot, o->addr, o->len)) {
			/* Only growth in place or by a move the kernel places. */
			uint64_t old_pages = (o->len + PG - 1) / PG;

			o->flags &= ~KMM_MREMAP_FIXED;
			if ((o->len2 + PG - 1) / PG <= old_pages)
				o->len2 = (old_pages + 1) * PG;
		}
		switch (rnd(30)) {
		case 0: o->len2 = 0; break;                         /* EINVAL */
		case 1: o->addr += 1 + rnd(PG - 1); break;         /* EINVAL */
		case 2: o->flags = KMM_MREMAP_FIXED; o->addr2 = gen_win_addr(); break; /* EINVAL */
		case 3: o->flags = 8; break;                        /* EINVAL: unknown flag */
		}
	} else if (r < 62) {
		o->kind = OP_BRK;
		o->region = REG_HEAP;
		o->addr = rnd(HEAP_PAGES * PG);
		if (rnd(3))
			o->addr &= ~(PG - 1);
		if (rnd(10) == 0)
			o->addr = 0;   /* the current break */
	} else if (r < 68) {
		static const int advices[] = {
			KMM_MADV_DONTNEED, KMM_MADV_DONTNEED, KMM_MADV_DONTNEED, KMM_MADV_NORMAL,
			KMM_MADV_RANDOM, KMM_MADV_SEQUENTIAL, KMM_MADV_WILLNEED,
		};
		o->kind = OP_MADVISE;
		o->addr = gen_win_addr();
		o->len = gen_len(o->addr);
		o->advice = advices[rnd(ARRAY_SIZE(advices))];
		if (rnd(25) == 0)
			o->addr += 1 + rnd(PG - 1);                 /* EINVAL */
	} else if (r < 84) {
		o->kind = OP_STORE;
		gen_access(o);
	} else if (r < 90) {
		o->kind = OP_LOAD;
		gen_access(o);
	} else if (r < 94 && free_slot() >= 0) {
		o->kind = OP_FORK;
		o->newslot = free_slot();
	} else if (r < 97 && n > 1) {
		o->kind = OP_EXIT;
	} else {
		o->kind = OP_HASH_ALL;
	}
}

/* ---- Running a step on each side ---- */

static bool in_window(uint64_t a)
{
	return a >= WIN && a < WIN_END;
}

/* A returned address: in the window, or "placed elsewhere" (compared as such). */
static void norm_addr(struct result *res, long ret)
{
	res->ret = ret;
	if (ret >= 0 && !in_window((uint64_t)ret)) {
		res->outside = true;
		res->ret = 1;
	}
}

static uint64_t resolve(const struct op *o, uint64_t base)
{
	return o->region == REG_HEAP && o->addr ? base + o->addr : o->addr;
}

/*
 * A server answers, then exits: its address space is torn down after the
 * answer, and until then its pages still count as mapped in the smaps of
 * the processes it shared them with. Wait for the exit to be complete:
 * a pidfd polls readable once the process has released its memory (Linux
 * notifies pidfds after exit_mm).
 */
static void host_wait_gone(int slot)
{
	int fd = (int)syscall(SYS_pidfd_open, S.pid[slot], 0);
	struct pollfd p = { .fd = fd, .events = POLLIN };

	S.live[slot] = false;
	if (fd < 0) {
		assert_int_equal(errno, ESRCH);   /* already reaped */
		return;
	}
	if (poll(&p, 1, 10000) != 1)
		fail_msg("host server of slot %d (pid %d) did not exit", slot, (int)S.pid[slot]);
	close(fd);
}

static void host_step(const struct op *o, struct result *res)
{
	struct op c = *o;
	struct hrep r;

	c.addr = resolve(o, S.hbase[o->slot]);
	host_call(o->slot, &c, &r);
	memset(res, 0, sizeof(*res));
	res->ret = r.ret;
	switch (o->kind) {
	case OP_MMAP:
	case OP_MREMAP:
		norm_addr(res, r.ret);
		if (res->outside) {
			struct op u = { .kind = OP_MUNMAP, .slot = o->slot, .addr = (uint64_t)r.ret,
					.len = o->kind == OP_MMAP ? o->len : o->len2 };
			struct hrep ur;

			host_call(o->slot, &u, &ur);
			assert_int_equal(ur.ret, 0);
		}
		break;
	case OP_BRK:
		res->ret = (long)(r.ret - (int64_t)S.hbase[o->slot]);
		break;
	case OP_STORE:
	case OP_LOAD:
		res->sig = r.sig;
		res->code = r.code;
		res->faddr = o->region == REG_HEAP ? r.faddr - S.hbase[o->slot] : r.faddr;
		res->val = r.val;
		if (r.sig)
			host_wait_gone(o->slot);   /* the server has exited */
		break;
	case OP_EXIT:
		host_wait_gone(o->slot);
		break;
	case OP_FORK:
		res->ret = r.ret > 0 ? 0 : r.ret;
		res->val = r.ret > 0 ? (uint64_t)r.ret : 0;   /* the pid, not compared */
		break;
	}
}

static void kmm_step(const struct op *o, struct result *res)
{
	struct task *t = S.kt[o->slot];
	uint64_t a = resolve(o, S.kbase[o->slot]);
	long ret = 0;

	memset(res, 0, sizeof(*res));
	emu_set_cpu((unsigned int)rnd(2));
	switch (o->kind) {
	case OP_MMAP:
		ret = sys_mmap(t, a, o->len, o->prot, o->flags, -1, (long)o->addr2);
		norm_addr(res, ret);
		if (res->outside)
			assert_int_equal(sys_munmap(t, (uintptr_t)ret, o->len), 0);
		return;
	case OP_MUNMAP:
		ret = sys_munmap(t, a, o->len);
		break;
	case OP_MPROTECT:
		ret = sys_mprotect(t, a, o->len, o->prot);
		break;
	case OP_MREMAP:
		ret = sys_mremap(t, a, o->len, o->len2, o->flags, o->addr2);
		norm_addr(res, ret);
		if (res->outside)
			assert_int_equal(sys_munmap(t, (uintptr_t)ret, o->len2), 0);
		return;
	case OP_BRK:
		ret = sys_brk(t, a) - (long)S.kbase[o->slot];
		break;
	case OP_MADVISE:
		ret = sys_madvise(t, a, o->len, o->advice);
		break;
	case OP_STORE:
	case OP_LOAD:
		ret = o->kind == OP_STORE ? emu_store(t, a, (unsigned int)o->size, o->val)
					  : emu_load(t, a, (unsigned int)o->size, &res->val);
		if (ret) {
			res->sig = t->exit_signal;
			res->code = t->fault_code;
			res->faddr = o->region == REG_HEAP ? t->fault_addr - S.kbase[o->slot]
							   : t->fault_addr;
			assert_int_equal(t->state, TASK_DEAD);
			kmm_reap(o->slot);
		}
		break;
	case OP_FORK: {
		struct task *child;

		ret = task_fork(t, &child);
		if (!ret)
			S.kt[o->newslot] = child;
		break;
	}
	case OP_EXIT:
		task_exit(t, 0);
		kmm_reap(o->slot);
		break;
	}
	res->ret = ret;
}

static void expect_same(const struct op *o, const struct result *h, const struct result *k)
{
	if (h->ret == k->ret && h->outside == k->outside && h->sig == k->sig &&
	    h->code == k->code && (!h->sig || h->faddr == k->faddr) &&
	    (o->kind != OP_LOAD || h->sig || h->val == k->val))
		return;
	dump_log();
	if (S.kt[o->slot] && S.kt[o->slot]->mm) {
		static char text[MAPS_MAX];

		format_listing(&host_areas[o->slot], text, sizeof(text));
		fprintf(stderr, "---- host areas before the step (slot %d) ----\n%s", o->slot, text);
		kmm_listing(S.kt[o->slot], "maps");
		fprintf(stderr, "---- kmm maps after it ----\n%s", kmm_maps_buf);
	}
	fail_msg("%s differs: host ret %ld (%s)%s sig %d code %d addr %#lx val %#lx; "
		 "kmm ret %ld (%s)%s sig %d code %d addr %#lx val %#lx",
		 op_names[o->kind], h->ret, h->ret < 0 ? kmm_errno_name((int)-h->ret) : "ok",
		 h->outside ? " elsewhere" : "", h->sig, h->code, (unsigned long)h->faddr,
		 (unsigned long)h->val, k->ret,
		 k->ret < 0 ? kmm_errno_name((int)-k->ret) : "ok", k->outside ? " elsewhere" : "",
		 k->sig, k->code, (unsigned long)k->faddr, (unsigned long)k->val);
}

/* ---- The test ---- */

static bool window_free(void)
{
	void *p = mmap((void *)WIN, WIN_END - WIN, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == MAP_FAILED)
		return false;
	munmap(p, WIN_END - WIN);
	return p == (void *)WIN;
}

/* After a failure: no server may outlive the test (they would wait forever). */
static int teardown(void **state)
{
	int status;

	for (int i = 0; i < NSLOTS; i++)
		if (S.live[i] && S.pid[i] > 0)
			kill(S.pid[i], SIGKILL);
	while (waitpid(-1, &status, 0) > 0 || errno == EINTR)
		;
	for (int i = 0; i < NSLOTS; i++) {
		for (int e = 0; e < 2; e++) {
			if (cmd_pipe[i][e] > 0)
				close(cmd_pipe[i][e]);
			if (rep_pipe[i][e] > 0)
				close(rep_pipe[i][e]);
			cmd_pipe[i][e] = rep_pipe[i][e] = -1;
		}
	}
	memset(&S, 0, sizeof(S));
	return th_teardown(state);
}

static void end_all(void)
{
	int status;

	for (int i = 0; i < NSLOTS; i++) {
		if (!S.live[i])
			continue;
		struct op c = { .kind = OP_EXIT, .slot = i };
		struct hrep r;

		host_call(i, &c, &r);
		host_wait_gone(i);
		task_exit(S.kt[i], 0);
		kmm_reap(i);
	}
	while (waitpid(-1, &status, 0) > 0 || errno == EINTR)
		;
}

/* Free frames once the slab caches and the per-CPU lists gave theirs back. */
static unsigned long free_frames(void)
{
	shrink_slab(GFP_KERNEL, 0);
	drain_all_pages();
	return nr_free_pages();
}

static void run_seed(uint64_t seed)
{
	unsigned long free0;
	unsigned int tasks0;

	if (!window_free())
		skip();
	rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	memset(&S, 0, sizeof(S));
	log_n = 0;
	nr_host_unmerged = nr_mremap_merge_skips = 0;
	memset(host_areas, 0, sizeof(host_areas));
	nr_smaps_compared = nr_smaps_skipped = 0;
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	for (int i = 0; i < NSLOTS; i++) {
		assert_int_equal(pipe(cmd_pipe[i]), 0);
		assert_int_equal(pipe(rep_pipe[i]), 0);
	}
	th_boot(64UL << 20, 2, EMU_DET);
	tasks0 = task_count();
	free0 = free_frames();

	spawn(0);
	compare_status_format(0);
	for (unsigned int step = 0; step < nr_steps; step++) {
		struct op o;
		struct result h, k;
		int slots[NSLOTS];

		if (!live_slots(slots))
			spawn(0);
		gen_step(&o);
		log_op(step, &o);
		if (o.kind == OP_HASH_ALL) {
			compare_contents(o.slot);
			continue;
		}
		host_step(&o, &h);
		kmm_step(&o, &k);
		expect_same(&o, &h, &k);
		if (o.kind == OP_FORK && !h.ret) {
			S.live[o.newslot] = true;
			S.pid[o.newslot] = h.val;
			S.hbase[o.newslot] = S.hbase[o.slot];
			S.kbase[o.newslot] = S.kbase[o.slot];
			S.heap_comparable[o.newslot] = S.heap_comparable[o.slot];
		}
		if (o.kind == OP_EXIT)
			S.live[o.slot] = false;
		if (S.live[o.slot])
			compare_maps(o.slot);
		if (o.kind == OP_FORK && !h.ret)
			compare_maps(o.newslot);
		if (S.live[o.slot] && step % HASH_EVERY == 0) {
			compare_contents(o.slot);
			compare_smaps(o.slot);
		}
		if (step % 50 == 0)
			assert_int_equal(task_check_all(), 0);
	}
	for (int i = 0; i < NSLOTS; i++)
		if (S.live[i])
			compare_contents(i);
	assert_int_equal(task_check_all(), 0);
	printf("seed %lu: %u steps; smaps compared %u times (%u skipped: areas merged "
	       "differently); area boundaries the host "
	       "kept and kmm merged: %u (boundaries x steps; mremap not asked across them: "
	       "%u)\n", (unsigned long)seed, nr_steps,
	       nr_smaps_compared, nr_smaps_skipped, nr_host_unmerged,
	       nr_mremap_merge_skips);
	end_all();
	assert_int_equal(page_alloc_check(), 0);
	assert_int_equal(task_count(), tasks0);
	/* Every frame back: page tables, pages, areas, tasks. */
	assert_int_equal(free_frames(), free0);
}

static void test_seed1(void **state) { run_seed(1); }
static void test_seed2(void **state) { run_seed(2); }
static void test_seed3(void **state) { run_seed(3); }
static void test_seed4(void **state) { run_seed(4); }
static void test_seed5(void **state) { run_seed(5); }
static void test_seed6(void **state) { run_seed(6); }
static void test_seed7(void **state) { run_seed(7); }
static void test_seed8(void **state) { run_seed(8); }

/* KMM_DIFF_SEEDS=first-last: those seeds too (skipped when unset). */
static void test_env_seeds(void **state)
{
	const char *env = getenv("KMM_DIFF_SEEDS");
	unsigned long first, last;

	if (!env || sscanf(env, "%lu-%lu", &first, &last) != 2 || first > last)
		skip();
	for (unsigned long seed = first; seed <= last; seed++) {
		run_seed(seed);
		teardown(state);
	}
}

int main(void)
{
	const char *steps = getenv("KMM_DIFF_STEPS");

	if (steps && atoi(steps) > 0)
		nr_steps = (unsigned int)atoi(steps);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_seed1, teardown),
		cmocka_unit_test_teardown(test_seed2, teardown),
		cmocka_unit_test_teardown(test_seed3, teardown),
		cmocka_unit_test_teardown(test_seed4, teardown),
		cmocka_unit_test_teardown(test_seed5, teardown),
		cmocka_unit_test_teardown(test_seed6, teardown),
		cmocka_unit_test_teardown(test_seed7, teardown),
		cmocka_unit_test_teardown(test_seed8, teardown),
		cmocka_unit_test_teardown(test_env_seeds, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
