/*
 * Fuzz target: the ELF loader (mm/exec.c): ELF header, program headers,
 * PT_INTERP, PT_DYNAMIC and its DT_NEEDED strings, the mapping of segments
 * and the stack, then demand paging of what it mapped.
 *
 * Each input boots a fresh small machine whose root (hostfs) is a
 * temporary directory holding the program /prog and one more object at two
 * paths, the dynamic loader /lib64/ld-linux-x86-64.so.2 and the library
 * /lib/x86_64-linux-gnu/libf.so, so that an input naming those in PT_INTERP
 * or DT_NEEDED reaches every path of the loader. The input is the program,
 * then optionally SPLIT and the other object; without SPLIT the program is
 * the other object too (a loader must have no PT_INTERP of its own, hence
 * the two parts). A fresh machine per input keeps no page cache of the
 * previous one (a boot takes a few milliseconds).
 *
 * Findings: a crash, a sanitizer report, a kernel panic (an invariant
 * checker fails), an error that is not a clean -errno, a failed exec that
 * changed the task's address space, and a leak: once the task is gone and
 * the caches dropped, every frame must be free again.
 */
#define _GNU_SOURCE   /* memmem */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <kmm/emu.h>
#include <kmm/fs.h>
#include <kmm/kmm.h>
#include <kmm/lock.h>
#include <kmm/mm.h>
#include <kmm/mman.h>

#include "fuzz.h"

#define MAX_TOUCHED 32
#define SPLIT "\n--kmm-fuzz-split--\n"

static const char *root;
static char prog[600], ldso[600], lib[600];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[600];

	fuzz_setup();
	root = fuzz_tmpdir("elf");
	snprintf(dir, sizeof(dir), "%s/lib64", root);
	mkdir(dir, 0755);
	snprintf(dir, sizeof(dir), "%s/lib", root);
	mkdir(dir, 0755);
	snprintf(dir, sizeof(dir), "%s/lib/x86_64-linux-gnu", root);
	mkdir(dir, 0755);
	snprintf(prog, sizeof(prog), "%s/prog", root);
	snprintf(ldso, sizeof(ldso), "%s/lib64/ld-linux-x86-64.so.2", root);
	snprintf(lib, sizeof(lib), "%s/lib/x86_64-linux-gnu/libf.so", root);
	return 0;
}

/* The first byte of up to MAX_TOUCHED areas, read through the MMU. */
static void touch_areas(struct task *t)
{
	uintptr_t starts[MAX_TOUCHED];
	unsigned int n = 0;
	struct vm_area *v;

	read_lock(&t->mm->mmap_lock);
	for (v = find_vma(t->mm, 0); v && n < MAX_TOUCHED; v = vma_next(t->mm, v))
		starts[n++] = v->vm_start;
	read_unlock(&t->mm->mmap_lock);
	for (unsigned int i = 0; i < n; i++) {
		uint64_t val;

		/* A PROT_NONE hole or a segment past the end of the file kills
		   the task (SIGSEGV, SIGBUS): the right outcome, and the end. */
		if (emu_load(t, starts[i], 1, &val))
			break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const argv[] = { "prog", "fuzz", NULL };
	static const char *const envp[] = { "HOME=/", NULL };
	struct emu_config cfg;
	struct task *t;
	struct mm *old;
	unsigned long free0, free1;
	char err[256] = "";
	uint64_t marker;
	long a;
	int r;

	const uint8_t *other = data;
	size_t other_size = size, prog_size = size;
	const uint8_t *split = memmem(data, size, SPLIT, sizeof(SPLIT) - 1);

	fuzz_input_begin();
	if (split) {
		prog_size = (size_t)(split - data);
		other = split + sizeof(SPLIT) - 1;
		other_size = size - prog_size - (sizeof(SPLIT) - 1);
	}
	fuzz_write_file(prog, data, prog_size, 0755);
	fuzz_write_file(ldso, other, other_size, 0755);
	fuzz_write_file(lib, other, other_size, 0755);

	emu_config_default(&cfg);
	cfg.ram_bytes = 16ULL << 20;
	cfg.cpus = 1;
	cfg.mode = EMU_DET;
	cfg.mm.quiet = true;
	snprintf(cfg.root, sizeof(cfg.root), "%s", root);
	if (emu_boot(&cfg, err, sizeof(err)))
		fuzz_fail("boot failed: %s", err);
	free0 = fuzz_settled_free();

	if (task_spawn("fuzz", &t))
		fuzz_fail("task_spawn failed");
	/* A page of the old address space, which a failed exec must keep. */
	a = sys_mmap(t, 0, PAGE_SIZE, KMM_PROT_READ | KMM_PROT_WRITE,
		     KMM_MAP_PRIVATE | KMM_MAP_ANONYMOUS, -1, 0);
	if (a < 0 || emu_store(t, (uint64_t)a, 8, 0x5a5a5a5a5a5a5a5aULL))
		fuzz_fail("cannot set up the old address space");
	old = t->mm;
	r = task_exec_file(t, "/prog", argv, envp);
	if (verbose)
		fprintf(stderr, "exec: %d\n", r);
	if (r > 0 || r < -4095)
		fuzz_fail("exec returned %d, not 0 or -errno", r);
	if (r) {
		if (t->mm != old || emu_load(t, (uint64_t)a, 8, &marker) ||
		    marker != 0x5a5a5a5a5a5a5a5aULL)
			fuzz_fail("a failed exec (%d) changed the old address space", r);
	} else {
		touch_areas(t);
	}
	kmm_check();
	task_exit(t, 0);
	task_release(t);
	if (task_count())
		fuzz_fail("%u tasks left after the only one was released", task_count());
	drop_caches();
	free1 = fuzz_settled_free();
	if (free1 != free0)
		fuzz_fail("leak: %lu frames free after boot, %lu after exec %d and teardown",
			  free0, free1, r);
	kmm_check();
	emu_shutdown();
	return 0;
}
