/*
 * exec of real programs (mm/exec.c): the host's own binaries are loaded
 * from a machine whose root is the host's "/", and what kmm mapped is
 * compared with what `readelf -l` says of each file (parsed here, in host
 * code): every PT_LOAD at its place with its permissions and file offset,
 * its bss anonymous, the tail of its last file page zero, the heap after
 * it, the interpreter and the DT_NEEDED libraries in the maps, and the
 * stack holding argc, argv, envp and the auxiliary vector. One test compares
 * kmm's maps of /usr/bin/cat with the host kernel's own (setarch -R, no
 * randomization) line by line. Then a corpus of malformed ELF files made
 * from a real one (truncated at many lengths, fields corrupted one at a
 * time, random bytes flipped) must all fail with ENOEXEC (the random ones
 * with some error or success, never a crash), leaving the old address
 * space as it was, and every frame must come back at the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kmm/emu.h>
#include <kmm/errno.h>
#include <kmm/fs.h>
#include <kmm/kmm.h>
#include <kmm/mm.h>
#include <kmm/mman.h>
#include <kmm/printk.h>

#include "helpers.h"
#include "area_test.h"

#define MACHINE (256 * MiB)
#define PG PAGE_SIZE
#define DYN_BASE 0x555555554000UL
#define PAGE_DOWN(x) ((x) & ~(uint64_t)(PG - 1))
#define PAGE_UP(x) (((x) + PG - 1) & ~(uint64_t)(PG - 1))

static unsigned long free_at_boot;

static void boot_root(const char *root, bool rw)
{
	struct emu_config cfg;

	th_config(&cfg, MACHINE, 1, EMU_DET);
	snprintf(cfg.root, sizeof(cfg.root), "%s", root);
	cfg.root_rw = rw;
	th_boot_cfg(&cfg);
	free_at_boot = at_settled_free();
}

static void reap_all(void)
{
	at_reap_all();
	drop_caches();
	assert_int_equal(at_settled_free(), free_at_boot);
	th_shutdown();
}

/* ---- readelf, on the host ---- */

struct seg {
	uint64_t off, vaddr, filesz, memsz, align;
	bool r, w, x;
};

struct elf_info {
	bool dyn;
	uint64_t entry;
	unsigned int phnum;
	struct seg load[16];
	unsigned int nload;
	bool has_relro;
	uint64_t relro_vaddr, relro_memsz;
	char interp[256];
	char needed[32][64];
	unsigned int nneeded;
};

/* Parses one program-header line: Type Offset VirtAddr PhysAddr FileSiz MemSiz Flg... Align. */
static bool parse_phdr(char *line, char *type, struct seg *s)
{
	char *tok[16];
	unsigned int n = 0;

	for (char *p = strtok(line, " \t\n"); p && n < 16; p = strtok(NULL, " \t\n"))
		tok[n++] = p;
	if (n < 8 || strncmp(tok[1], "0x", 2) != 0)
		return false;
	snprintf(type, 32, "%s", tok[0]);
	s->off = strtoull(tok[1], NULL, 16);
	s->vaddr = strtoull(tok[2], NULL, 16);
	s->filesz = strtoull(tok[4], NULL, 16);
	s->memsz = strtoull(tok[5], NULL, 16);
	s->align = strtoull(tok[n - 1], NULL, 16);
	s->r = s->w = s->x = false;
	for (unsigned int i = 6; i < n - 1; i++) {
		s->r |= strchr(tok[i], 'R') != NULL;
		s->w |= strchr(tok[i], 'W') != NULL;
		s->x |= strchr(tok[i], 'E') != NULL;
	}
	return true;
}

static bool readelf(const char *path, struct elf_info *e)
{
	char cmd[600], line[512];
	FILE *p;

	memset(e, 0, sizeof(*e));
	snprintf(cmd, sizeof(cmd), "readelf -lW '%s' 2>/dev/null", path);
	p = popen(cmd, "r");
	if (!p)
		return false;
	while (fgets(line, sizeof(line), p)) {
		char type[32];
		struct seg s;
		char *q;

		if (strstr(line, "Elf file type is DYN"))
			e->dyn = true;
		if ((q = strstr(line, "Entry point 0x")))
			e->entry = strtoull(q + 12, NULL, 16);
		if ((q = strstr(line, "There are ")))
			e->phnum = (unsigned int)strtoul(q + 10, NULL, 10);
		if ((q = strstr(line, "program interpreter: "))) {
			snprintf(e->interp, sizeof(e->interp), "%s", q + 21);
			e->interp[strcspn(e->interp, "]")] = '\0';
		}
		if (!parse_phdr(line, type, &s))
			continue;
		if (!strcmp(type, "LOAD") && e->nload < 16 && s.memsz)
			e->load[e->nload++] = s;
		if (!strcmp(type, "GNU_RELRO")) {
			e->has_relro = true;
			e->relro_vaddr = s.vaddr;
			e->relro_memsz = s.memsz;
		}
	}
	pclose(p);
	snprintf(cmd, sizeof(cmd), "readelf -dW '%s' 2>/dev/null", path);
	p = popen(cmd, "r");
	if (!p)
		return false;
	while (fgets(line, sizeof(line), p)) {
		char *q = strstr(line, "Shared library: [");

		if (q && e->nneeded < 32) {
			snprintf(e->needed[e->nneeded], sizeof(e->needed[0]), "%s", q + 17);
			e->needed[e->nneeded][strcspn(e->needed[e->nneeded], "]")] = '\0';
			e->nneeded++;
		}
	}
	pclose(p);
	return e->nload > 0;
}

/* ---- What kmm mapped ---- */

static const char *maps_text(struct task *t)
{
	static char buf[256 * 1024];
	struct seq_buf s;

	seq_buf_init(&s, buf, sizeof(buf));
	assert_int_equal(kmm_view_show("maps", t->pid, &s), 0);
	assert_false(seq_buf_overflowed(&s));
	return buf;
}

static uint64_t uload(struct task *t, uint64_t a)
{
	uint64_t v = 0;

	assert_int_equal(emu_load(t, a, 8, &v), 0);
	return v;
}

static void ustring(struct task *t, uint64_t a, char *buf, size_t size)
{
	size_t i;

	for (i = 0; i + 1 < size; i++) {
		uint64_t c;

		assert_int_equal(emu_load(t, a + i, 1, &c), 0);
		buf[i] = (char)c;
		if (!c)
			break;
	}
	buf[size - 1] = '\0';
}

static bool in_relro(const struct elf_info *e, uint64_t bias, uint64_t page)
{
	return e->has_relro && page >= PAGE_DOWN(bias + e->relro_vaddr) &&
	       page < PAGE_DOWN(bias + e->relro_vaddr + e->relro_memsz);
}

static unsigned long prot_of(bool r, bool w, bool x)
{
	return (r ? VM_READ : 0) | (w ? VM_WRITE : 0) | (x ? VM_EXEC : 0);
}

/*
 * Every PT_LOAD of e at bias: file pages from the right offset with the
 * segment's permissions (read-only in RELRO), bss pages anonymous, the
 * tail of the last file page zero.
 */
static void check_segments(struct task *t, const char *path, const struct elf_info *e,
			   uint64_t bias)
{
	struct mm *mm = t->mm;

	for (unsigned int i = 0; i < e->nload; i++) {
		const struct seg *s = &e->load[i];
		uint64_t start = PAGE_DOWN(bias + s->vaddr);
		uint64_t fileend = PAGE_UP(bias + s->vaddr + s->filesz);
		uint64_t memend = PAGE_UP(bias + s->vaddr + s->memsz);
		uint64_t limit = i + 1 < e->nload ? PAGE_DOWN(bias + e->load[i + 1].vaddr) : UINT64_MAX;

		for (uint64_t pg = start; pg < memend && pg < limit; pg += PG) {
			struct vm_area *vma = vma_lookup(mm, pg);
			unsigned long want = in_relro(e, bias, pg) ? VM_READ : prot_of(s->r, s->w, s->x);

			if (!vma)
				fail_msg("%s: segment %u: no area at %#lx", path, i, (unsigned long)pg);
			if ((vma->vm_flags & VM_ACCESS_FLAGS) != want)
				fail_msg("%s: segment %u: page %#lx has flags %#lx, readelf says %#lx",
					 path, i, (unsigned long)pg, vma->vm_flags, want);
			if (pg < fileend) {
				uint64_t off = vma->vm_pgoff + ((pg - vma->vm_start) >> PAGE_SHIFT);

				if (!vma->vm_file || strcmp(vma->vm_file->f_inode->i_path, path))
					fail_msg("%s: segment %u: page %#lx is not mapped from the file",
						 path, i, (unsigned long)pg);
				if (off != (PAGE_DOWN(s->off) >> PAGE_SHIFT) + ((pg - start) >> PAGE_SHIFT))
					fail_msg("%s: segment %u: page %#lx maps file page %#lx",
						 path, i, (unsigned long)pg, (unsigned long)off);
				if (vma->vm_flags & VM_MAYSHARE)
					fail_msg("%s: segment %u mapped shared", path, i);
			} else if (vma->vm_file) {
				fail_msg("%s: segment %u: bss page %#lx is file-backed", path, i,
					 (unsigned long)pg);
			}
		}
		/* padzero: from the end of the file part to the end of its page. */
		if (s->memsz > s->filesz && s->filesz && s->w) {
			uint64_t z = bias + s->vaddr + s->filesz, zend = PAGE_UP(z);

			if (zend > bias + s->vaddr + s->memsz)
				zend = bias + s->vaddr + s->memsz;
			for (uint64_t a = z; a < zend; a++) {
				uint64_t v;

				assert_int_equal(emu_load(t, a, 1, &v), 0);
				if (v)
					fail_msg("%s: bss byte %#lx reads %#lx", path, (unsigned long)a,
						 (unsigned long)v);
			}
		}
	}
}

/* The lowest address kmm mapped from a file whose path ends with name (0: none). */
static uint64_t object_base(struct task *t, const char *name)
{
	struct vm_area *vma;
	size_t n = strlen(name);

	list_for_each_entry(vma, &t->mm->mmap, vm_list) {
		const char *p;

		if (!vma->vm_file)
			continue;
		p = vma->vm_file->f_inode->i_path;
		if (strlen(p) >= n && !strcmp(p + strlen(p) - n, name) &&
		    (strlen(p) == n || p[strlen(p) - n - 1] == '/'))
			return vma->vm_start;
	}
	return 0;
}

static uint64_t auxv_get(struct task *t, uint64_t auxv, uint64_t type)
{
	for (int i = 0; i < 64; i++) {
		uint64_t k = uload(t, auxv + 16 * i);

		if (k == type)
			return uload(t, auxv + 16 * i + 8);
		if (k == 0)
			break;
	}
	fail_msg("auxv has no entry %lu", (unsigned long)type);
	return 0;
}

static void exec_and_check(const char *path)
{
	static const char *const argv[] = { "prog", "-x", "an argument", NULL };
	static const char *const envp[] = { "HOME=/root", "LANG=C", NULL };
	struct elf_info e;
	struct task *t;
	uint64_t bias = 0, sp, auxv, maxalign = PG, brk_end = 0;
	const char *maps;
	char s[64];

	if (access(path, R_OK) != 0 || !readelf(path, &e)) {
		printf("(%s not present or readelf failed: skipped)\n", path);
		return;
	}
	assert_int_equal(task_spawn("pre-exec", &t), 0);
	assert_int_equal(task_exec_file(t, path, argv, envp), 0);
	assert_string_equal(t->comm, strrchr(path, '/') + 1);
	vma_check(t->mm);
	mm_rmap_check();

	if (e.dyn) {
		for (unsigned int i = 0; i < e.nload; i++)
			if (e.load[i].align > maxalign)
				maxalign = e.load[i].align;
		bias = (DYN_BASE & ~(maxalign - 1)) - PAGE_DOWN(e.load[0].vaddr);
	}
	check_segments(t, path, &e, bias);
	for (unsigned int i = 0; i < e.nload; i++)
		if (bias + e.load[i].vaddr + e.load[i].memsz > brk_end)
			brk_end = bias + e.load[i].vaddr + e.load[i].memsz;
	assert_int_equal(t->mm->start_brk, PAGE_UP(brk_end));
	/* The ELF header is readable through the MMU at the first segment. */
	assert_int_equal(uload(t, bias + e.load[0].vaddr) & 0xffffffff, 0x464c457f);

	maps = maps_text(t);
	assert_non_null(strstr(maps, path));
	assert_non_null(strstr(maps, "[stack]"));
	if (e.interp[0]) {
		const char *base = strrchr(e.interp, '/') + 1;

		assert_non_null(strstr(maps, base));
		for (unsigned int i = 0; i < e.nneeded; i++)
			if (!strstr(maps, e.needed[i]))
				fail_msg("%s: library %s is not in the maps:\n%s", path, e.needed[i],
					 maps);
	}

	/* The stack: argc, argv, envp, the auxiliary vector. */
	sp = t->mm->start_stack;
	assert_int_equal(sp % 16, 0);
	assert_int_equal(uload(t, sp), 3);
	for (int i = 0; i < 3; i++) {
		ustring(t, uload(t, sp + 8 + 8 * i), s, sizeof(s));
		assert_string_equal(s, argv[i]);
	}
	assert_int_equal(uload(t, sp + 8 * 4), 0);
	for (int i = 0; i < 2; i++) {
		ustring(t, uload(t, sp + 8 * 5 + 8 * i), s, sizeof(s));
		assert_string_equal(s, envp[i]);
	}
	assert_int_equal(uload(t, sp + 8 * 7), 0);
	auxv = sp + 8 * 8;
	assert_int_equal(auxv_get(t, auxv, 6 /* AT_PAGESZ */), PG);
	assert_int_equal(auxv_get(t, auxv, 9 /* AT_ENTRY */), bias + e.entry);
	assert_int_equal(auxv_get(t, auxv, 4 /* AT_PHENT */), 56);
	assert_int_equal(auxv_get(t, auxv, 5 /* AT_PHNUM */), e.phnum);
	/* AT_PHDR points at the program headers: the first one is readable there. */
	{
		uint64_t phdr = auxv_get(t, auxv, 3 /* AT_PHDR */);

		assert_true(phdr > bias);
		assert_int_equal(uload(t, phdr) & 0xffffffff, 6 /* PT_PHDR */);
	}
	if (e.interp[0])
		assert_int_equal(auxv_get(t, auxv, 7 /* AT_BASE */),
				 object_base(t, strrchr(e.interp, '/') + 1));
	else
		assert_int_equal(auxv_get(t, auxv, 7 /* AT_BASE */), 0);
	{
		uint64_t rnd = auxv_get(t, auxv, 25 /* AT_RANDOM */);

		assert_true(rnd > sp && rnd + 16 <= STACK_TOP);
		assert_true(uload(t, rnd) != 0 || uload(t, rnd + 8) != 0);
		ustring(t, auxv_get(t, auxv, 31 /* AT_EXECFN */), s, sizeof(s));
		assert_string_equal(s, path);
	}
	/* The heap grows right after the bss. */
	assert_int_equal(sys_brk(t, t->mm->start_brk + 3 * PG), t->mm->start_brk + 3 * PG);
	assert_non_null(strstr(maps_text(t), "[heap]"));
	/* Demand paging of the code: touch every page of every segment. */
	for (unsigned int i = 0; i < e.nload; i++)
		assert_int_equal(emu_touch(t, PAGE_DOWN(bias + e.load[i].vaddr),
					   PAGE_UP(bias + e.load[i].vaddr + e.load[i].memsz) -
						   PAGE_DOWN(bias + e.load[i].vaddr),
					   false), 0);
	assert_true(get_mm_counter(t->mm, MM_FILEPAGES) > 0);
	mm_rmap_check();
	task_exit(t, 0);
	task_release(t);
}

/* Arguments too large for the stack: E2BIG, the old address space kept. */
static void test_exec_e2big(void)
{
	size_t big = 200 * 1024;
	char *s = malloc(big);
	const char *argv[3] = { "sh", s, NULL };
	const char **many = malloc(40001 * sizeof(*many));
	struct task *t;
	struct mm *old;

	assert_non_null(s);
	assert_non_null(many);
	memset(s, 'a', big - 1);
	s[big - 1] = '\0';
	assert_int_equal(task_spawn("args", &t), 0);
	old = t->mm;
	/* One string over MAX_ARG_STRLEN (32 pages). */
	assert_int_equal(task_exec_file(t, "/bin/sh", argv, NULL), -KMM_E2BIG);
	/* Many strings, together over a quarter of the 8 MiB stack limit. */
	s[100] = '\0';
	for (int i = 0; i < 40000; i++)
		many[i] = s;
	many[40000] = NULL;
	assert_int_equal(task_exec_file(t, "/bin/sh", argv, (const char *const *)many), -KMM_E2BIG);
	assert_ptr_equal(t->mm, old);
	/* Within the limits, with 128 KiB of strings: the stack area grows to hold them. */
	many[1280] = NULL;
	assert_int_equal(task_exec_file(t, "/bin/sh", argv, (const char *const *)many), 0);
	assert_true(t->mm->start_stack < STACK_TOP - 128 * KiB);
	assert_non_null(vma_lookup(t->mm, t->mm->start_stack));
	assert_true(vma_lookup(t->mm, STACK_TOP - 1)->vm_start <= t->mm->start_stack - 128 * KiB);
	task_exit(t, 0);
	task_release(t);
	free(many);
	free(s);
}

static void test_exec_host_binaries(void **state)
{
	(void)state;
	boot_root("/", false);
	test_exec_e2big();
	exec_and_check("/bin/sh");
	exec_and_check("/usr/bin/python3");
	exec_and_check("/bin/ls");
	exec_and_check("/usr/bin/cat");
	reap_all();
}

/* ---- kmm's maps against the host kernel's ---- */

struct line {
	uint64_t start, end, off;
	char perms[8];
	char name[256];
};

static unsigned int parse_maps(const char *text, struct line *out, unsigned int max)
{
	unsigned int n = 0;

	while (*text && n < max) {
		struct line *l = &out[n];
		int used = 0;
		char dev[16];
		unsigned long ino;

		l->name[0] = '\0';
		if (sscanf(text, "%lx-%lx %7s %lx %15s %lu%n", &l->start, &l->end, l->perms, &l->off,
			   dev, &ino, &used) >= 6) {
			const char *p = text + used;

			while (*p == ' ')
				p++;
			sscanf(p, "%255[^\n]", l->name);
			n++;
		}
		text = strchr(text, '\n');
		if (!text)
			break;
		text++;
	}
	return n;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/*
 * Every line kmm shows for the program, the loader and the stack must be
 * the host's, address for address; each library's lines the host's
 * relative to its base (the host's libraries sit lower by the vDSO and
 * what the loader allocated while running, which kmm does not model).
 */
static void test_maps_match_host(void **state)
{
	static char host[64 * 1024];
	static struct line hl[128], kl[128];
	const char *prog = "/usr/bin/cat";
	unsigned int nh, nk, matched = 0;
	struct task *t;
	size_t got;
	FILE *p;

	(void)state;
	if (access(prog, X_OK) != 0)
		skip();
	/* An 8 MiB stack limit (the top-down layout) and an empty environment, as kmm's. */
	p = popen("ulimit -s 8192 2>/dev/null; env -i setarch x86_64 -R /usr/bin/cat "
		  "/proc/self/maps 2>/dev/null", "r");
	assert_non_null(p);
	got = fread(host, 1, sizeof(host) - 1, p);
	host[got] = '\0';
	if (pclose(p) != 0 || !strstr(host, prog)) {
		printf("(setarch -R not usable here: skipped)\n");
		skip();
	}
	nh = parse_maps(host, hl, 128);
	boot_root("/", false);
	assert_int_equal(task_spawn("cat", &t), 0);
	{
		const char *argv[] = { prog, "/proc/self/maps", NULL };

		assert_int_equal(task_exec_file(t, prog, argv, NULL), 0);
	}
	nk = parse_maps(maps_text(t), kl, 128);
	for (unsigned int i = 0; i < nk; i++) {
		const struct line *k = &kl[i];
		bool absolute = !strcmp(k->name, prog) || !strcmp(k->name, "[stack]") ||
				strstr(k->name, "ld-linux");
		uint64_t kbase = 0, hbase = 0;
		bool found = false;

		if (!k->name[0] || !strcmp(k->name, "[heap]"))
			continue;   /* anonymous: the bss is checked against readelf */
		if (!absolute) {
			for (unsigned int j = 0; j < nk && !kbase; j++)
				if (!strcmp(base_name(kl[j].name), base_name(k->name)))
					kbase = kl[j].start;
			for (unsigned int j = 0; j < nh && !hbase; j++)
				if (!strcmp(base_name(hl[j].name), base_name(k->name)))
					hbase = hl[j].start;
			if (!hbase)
				fail_msg("the host does not map %s:\n%s", k->name, host);
		}
		for (unsigned int j = 0; j < nh && !found; j++) {
			const struct line *h = &hl[j];

			found = !strcmp(base_name(h->name), base_name(k->name)) &&
				h->start - hbase == k->start - kbase &&
				h->end - hbase == k->end - kbase && h->off == k->off &&
				!strcmp(h->perms, k->perms);
		}
		if (!found)
			fail_msg("kmm's line %lx-%lx %s %08lx %s is not the host's:\n%s",
				 (unsigned long)k->start, (unsigned long)k->end, k->perms,
				 (unsigned long)k->off, k->name, host);
		matched++;
	}
	/* cat: 5 lines of its own, 5 of the loader, 5 of libc, the stack. */
	printf("%u of kmm's maps lines are the host kernel's\n", matched);
	assert_true(matched >= 16);
	reap_all();
}

/* ---- Malformed ELF files ---- */

static char croot[256];
static unsigned char *good;
static size_t good_len;

static void put_file(const char *name, const void *buf, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", croot, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Offsets into the good file's headers. */
#define E_TYPE 16
#define E_MACHINE 18
#define E_PHOFF 32
#define E_PHENTSIZE 54
#define E_PHNUM 56

static uint64_t rd(const unsigned char *b, size_t off, int size)
{
	uint64_t v = 0;

	memcpy(&v, b + off, (size_t)size);
	return v;
}

static void wr(unsigned char *b, size_t off, int size, uint64_t v)
{
	memcpy(b + off, &v, (size_t)size);
}

/* The offset of the program header of type (the nth of them), or 0. */
static size_t phdr_of(const unsigned char *b, uint32_t type, int nth)
{
	uint64_t phoff = rd(b, E_PHOFF, 8);
	unsigned int phnum = (unsigned int)rd(b, E_PHNUM, 2);

	for (unsigned int i = 0; i < phnum; i++) {
		size_t o = phoff + 56 * i;

		if (rd(b, o, 4) == type && nth-- == 0)
			return o;
	}
	return 0;
}

/* Runs exec of name in t and checks the outcome; the old space must be intact on failure. */
static long try_exec(struct task *t, const char *name, uintptr_t marker)
{
	char path[300];
	struct mm *old = t->mm;
	long r;

	snprintf(path, sizeof(path), "/%s", name);
	th_capture_begin();
	r = task_exec_file(t, path, NULL, NULL);
	th_capture_end();
	if (r) {
		assert_ptr_equal(t->mm, old);
		assert_int_equal(uload(t, marker), 0x1234567890abcdefULL);
	}
	return r;
}

static struct task *marked_task(uintptr_t *marker)
{
	struct task *t;
	long a;

	assert_int_equal(task_spawn("victim", &t), 0);
	a = sys_mmap(t, 0, PG, KMM_PROT_READ | KMM_PROT_WRITE,
		     KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, -1, 0);
	assert_true(a > 0);
	assert_int_equal(emu_store(t, (uint64_t)a, 8, 0x1234567890abcdefULL), 0);
	*marker = (uintptr_t)a;
	return t;
}

typedef void (*corrupt_fn)(unsigned char *b);

static void c_magic(unsigned char *b) { b[1] = 'X'; }
static void c_class(unsigned char *b) { b[4] = 1; }
static void c_data(unsigned char *b) { b[5] = 2; }
static void c_version(unsigned char *b) { b[6] = 0; }
static void c_type_rel(unsigned char *b) { wr(b, E_TYPE, 2, 1); }
static void c_type_core(unsigned char *b) { wr(b, E_TYPE, 2, 4); }
static void c_machine(unsigned char *b) { wr(b, E_MACHINE, 2, 3); }
static void c_phentsize(unsigned char *b) { wr(b, E_PHENTSIZE, 2, 32); }
static void c_phnum0(unsigned char *b) { wr(b, E_PHNUM, 2, 0); }
static void c_phnum_huge(unsigned char *b) { wr(b, E_PHNUM, 2, 0xffff); }
static void c_phoff_huge(unsigned char *b) { wr(b, E_PHOFF, 8, 0x7fffffffffffff00ULL); }
static void c_phoff_end(unsigned char *b) { wr(b, E_PHOFF, 8, good_len - 60); }
static void c_filesz_gt_memsz(unsigned char *b)
{
	size_t o = phdr_of(b, 1, 3);

	wr(b, o + 40, 8, rd(b, o + 32, 8) - 1);   /* p_memsz = p_filesz - 1 */
}
static void c_load_outside(unsigned char *b) { wr(b, phdr_of(b, 1, 1) + 8, 8, good_len + PG); }
static void c_load_unaligned(unsigned char *b)
{
	size_t o = phdr_of(b, 1, 1);

	wr(b, o + 8, 8, rd(b, o + 8, 8) + 1);
}
static void c_load_align(unsigned char *b) { wr(b, phdr_of(b, 1, 1) + 48, 8, 0x3000); }
static void c_load_overlap(unsigned char *b)
{
	size_t o0 = phdr_of(b, 1, 0), o1 = phdr_of(b, 1, 1);

	/* The second segment starts inside the first (same page offset). */
	wr(b, o1 + 16, 8, rd(b, o0 + 16, 8) + (rd(b, o1 + 16, 8) & (PG - 1)));
}
static void c_load_descending(unsigned char *b)
{
	unsigned char tmp[56];
	size_t o0 = phdr_of(b, 1, 0), o1 = phdr_of(b, 1, 1);

	memcpy(tmp, b + o0, 56);
	memcpy(b + o0, b + o1, 56);
	memcpy(b + o1, tmp, 56);
}
static void c_load_huge_vaddr(unsigned char *b) { wr(b, phdr_of(b, 1, 1) + 16, 8, 0xffff800000000000ULL); }
static void c_load_huge_memsz(unsigned char *b) { wr(b, phdr_of(b, 1, 3) + 40, 8, 0x7fffffffffffULL); }
static void c_no_load(unsigned char *b)
{
	size_t o;

	while ((o = phdr_of(b, 1, 0)))
		wr(b, o, 4, 4);   /* PT_NOTE */
}
static void c_interp_missing(unsigned char *b)
{
	size_t o = phdr_of(b, 3, 0);

	memcpy(b + rd(b, o + 8, 8), "/nonexistent/ld.so", 19);
	wr(b, o + 32, 8, 19);
}
static void c_interp_unterminated(unsigned char *b)
{
	size_t o = phdr_of(b, 3, 0);

	b[rd(b, o + 8, 8) + rd(b, o + 32, 8) - 1] = 'x';
}
static void c_interp_tiny(unsigned char *b) { wr(b, phdr_of(b, 3, 0) + 32, 8, 1); }
static void c_interp_huge(unsigned char *b) { wr(b, phdr_of(b, 3, 0) + 32, 8, 5000); }
static void c_interp_outside(unsigned char *b) { wr(b, phdr_of(b, 3, 0) + 8, 8, good_len - 4); }
static void c_interp_twice(unsigned char *b) { wr(b, phdr_of(b, 4, 0), 4, 3); }

static const struct {
	const char *name;
	corrupt_fn fn;
} corruptions[] = {
	{ "magic", c_magic }, { "class", c_class }, { "data", c_data },
	{ "version", c_version }, { "type-rel", c_type_rel }, { "type-core", c_type_core },
	{ "machine", c_machine }, { "phentsize", c_phentsize }, { "phnum0", c_phnum0 },
	{ "phnum-huge", c_phnum_huge }, { "phoff-huge", c_phoff_huge },
	{ "phoff-end", c_phoff_end }, { "filesz-gt-memsz", c_filesz_gt_memsz },
	{ "load-outside", c_load_outside }, { "load-unaligned", c_load_unaligned },
	{ "load-align", c_load_align }, { "load-overlap", c_load_overlap },
	{ "load-descending", c_load_descending }, { "load-huge-vaddr", c_load_huge_vaddr },
	{ "load-huge-memsz", c_load_huge_memsz }, { "no-load", c_no_load },
	{ "interp-missing", c_interp_missing }, { "interp-unterminated", c_interp_unterminated },
	{ "interp-tiny", c_interp_tiny }, { "interp-huge", c_interp_huge },
	{ "interp-outside", c_interp_outside }, { "interp-twice", c_interp_twice },
};

static void test_malformed_corpus(void **state)
{
	const char *src = "/bin/ls";
	unsigned char *buf;
	size_t phend, load_end = 0, lens[64], nlens = 0;
	struct task *t;
	uintptr_t marker;
	char cmd[600], name[64];
	unsigned int ok_random = 0, bad_random = 0;
	uint64_t seed = 12345;

	(void)state;
	if (access(src, R_OK) != 0 || access("/lib64/ld-linux-x86-64.so.2", R_OK) != 0)
		skip();
	snprintf(croot, sizeof(croot), "/tmp/kmm-exec-XXXXXX");
	assert_non_null(mkdtemp(croot));
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/lib64' && cp -L /lib64/ld-linux-x86-64.so.2 '%s/lib64/'",
		 croot, croot);
	assert_int_equal(system(cmd), 0);
	good = slurp(src, &good_len);
	buf = malloc(good_len);
	assert_non_null(buf);
	assert_true(phdr_of(good, 3, 0) && phdr_of(good, 4, 0) && phdr_of(good, 1, 3));
	put_file("good", good, good_len);
	/* The corpus, written before boot. */
	for (size_t i = 0; i < ARRAY_SIZE(corruptions); i++) {
		memcpy(buf, good, good_len);
		corruptions[i].fn(buf);
		snprintf(name, sizeof(name), "bad-%s", corruptions[i].name);
		put_file(name, buf, good_len);
	}
	phend = rd(good, E_PHOFF, 8) + 56 * rd(good, E_PHNUM, 2);
	/* Where the file part of the last PT_LOAD ends: the loader needs every byte before it. */
	for (int i = 0; phdr_of(good, 1, i); i++) {
		size_t o = phdr_of(good, 1, i);

		if (rd(good, o + 8, 8) + rd(good, o + 32, 8) > load_end)
			load_end = rd(good, o + 8, 8) + rd(good, o + 32, 8);
	}
	{
		static const size_t fixed[] = { 0, 1, 3, 4, 5, 16, 17, 52, 63, 64, 65 };

		for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
			lens[nlens++] = fixed[i];
		for (size_t l = 64; l < phend; l += 56)
			if (nlens < 40)
				lens[nlens++] = l + 7;
		lens[nlens++] = phend - 1;
		lens[nlens++] = phend;
		lens[nlens++] = PG;
		lens[nlens++] = good_len / 2;
		lens[nlens++] = load_end - PG;
		lens[nlens++] = load_end - 1;
	}
	for (size_t i = 0; i < nlens; i++) {
		snprintf(name, sizeof(name), "trunc-%zu", i);
		put_file(name, good, lens[i]);
	}
	for (int i = 0; i < 200; i++) {
		memcpy(buf, good, good_len);
		for (int k = 0; k < 1 + i % 4; k++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			buf[(seed >> 33) % phend] ^= (unsigned char)(1 + ((seed >> 20) % 255));
		}
		snprintf(name, sizeof(name), "random-%d", i);
		put_file(name, buf, good_len);
	}

	boot_root(croot, false);
	t = marked_task(&marker);
	/* The good copy loads (its libraries are not in this root: reported, not fatal). */
	{
		struct task *g;

		assert_int_equal(task_spawn("good", &g), 0);
		th_capture_begin();
		assert_int_equal(task_exec_file(g, "/good", NULL, NULL), 0);
		assert_non_null(strstr(th_capture_end(), "libselinux.so.1"));
		assert_non_null(strstr(maps_text(g), "/lib64/ld-linux-x86-64.so.2"));
		task_exit(g, 0);
		task_release(g);
	}
	for (size_t i = 0; i < ARRAY_SIZE(corruptions); i++) {
		long r;

		snprintf(name, sizeof(name), "bad-%s", corruptions[i].name);
		r = try_exec(t, name, marker);
		if (r != -KMM_ENOEXEC)
			fail_msg("%s: exec returned %ld, expected ENOEXEC", name, r);
	}
	for (size_t i = 0; i < nlens; i++) {
		long r;

		snprintf(name, sizeof(name), "trunc-%zu", i);
		r = try_exec(t, name, marker);
		if (r != -KMM_ENOEXEC)
			fail_msg("truncated at %zu bytes: exec returned %ld, expected ENOEXEC",
				 lens[i], r);
	}
	/* A message says why. */
	th_capture_begin();
	assert_int_equal(task_exec_file(t, "/bad-machine", NULL, NULL), -KMM_ENOEXEC);
	assert_non_null(strstr(th_capture_end(), "EM_X86_64"));
	/* Not a file of the root, a directory, not executable. */
	assert_int_equal(task_exec_file(t, "/no-such-file", NULL, NULL), -KMM_ENOENT);
	assert_int_equal(task_exec_file(t, "/lib64", NULL, NULL), -KMM_EACCES);
	mm_rmap_check();
	for (int i = 0; i < 200; i++) {
		long r;

		snprintf(name, sizeof(name), "random-%d", i);
		r = try_exec(t, name, marker);
		if (r == 0) {
			ok_random++;
			task_exit(t, 0);
			task_release(t);
			t = marked_task(&marker);
		} else {
			assert_true(r < 0 && r > -4096);
			bad_random++;
		}
		if (i % 50 == 0)
			mm_rmap_check();
	}
	printf("random corruptions: %u loaded, %u refused\n", ok_random, bad_random);
	assert_true(bad_random > 0);
	mm_rmap_check();
	reap_all();
	free(buf);
	free(good);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", croot);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_exec_host_binaries, th_teardown),
		cmocka_unit_test_teardown(test_maps_match_host, th_teardown),
		cmocka_unit_test_teardown(test_malformed_corpus, th_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
