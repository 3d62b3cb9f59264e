/*
 * The machine's boot parameters, described once for both front ends: the
 * command line (kmm boot --ram 64M) and Lua (kmm.boot{ram = "64M"}). Each
 * row checks a value given as text and stores it in a struct emu_config;
 * a later issue's parameter (root=, rw=, swap) is one more row.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <kmm/kma.h>
#include <kmm/types.h>

#include "kmm_tool.h"

/* Unsigned decimal (or 0x hex) that fills the whole text, within [min, max]. */
static int parse_uint(const char *text, uint64_t min, uint64_t max, uint64_t *out,
		      char *err, size_t len)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (text[0] < '0' || text[0] > '9')
		goto bad;
	v = strtoull(text, &end, 0);
	if (errno || *end)
		goto bad;
	if (v < min || v > max) {
		snprintf(err, len, "%s is out of range %llu..%llu", text,
			 (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*out = v;
	return 0;
bad:
	snprintf(err, len, "'%s' is not a non-negative integer", text);
	return -1;
}

static int parse_bool(const char *text, bool *out, char *err, size_t len)
{
	if (!strcmp(text, "true")) {
		*out = true;
		return 0;
	}
	if (!strcmp(text, "false")) {
		*out = false;
		return 0;
	}
	snprintf(err, len, "'%s' is not true or false", text);
	return -1;
}

static int parse_bytes(const char *text, uint64_t *out, char *err, size_t len)
{
	if (text[0] == '-' || emu_parse_size(text, out)) {
		snprintf(err, len, "bad size '%s' (a number of bytes, or with K, M, G: \"64M\")",
			 text);
		return -1;
	}
	return 0;
}

static int set_ram(struct emu_config *cfg, const char *text, char *err, size_t len)
{
	return parse_bytes(text, &cfg->ram_bytes, err, len);
}

static int set_kernel(struct emu_config *cfg, const char *text, char *err, size_t len)
{
	return parse_bytes(text, &cfg->kernel_bytes, err, len);
}

static int set_cpus(struct emu_config *cfg, const char *text, char *err, size_t len)
{
	uint64_t v;

	if (parse_uint(text, 1, KMM_MAX_CPUS, &v, err, len))
		return -1;
	cfg->cpus = (unsigned int)v;
	return 0;
}

static int set_mode(struct emu_config *cfg, const char *text, char *err, size_t len)
{
	if (!strcmp(text, "det"))
		cfg->mode = EMU_DET;
	else if (!strcmp(text, "smp"))
		cfg->mode = EMU_SMP;
	else {
		snprintf(err, len, "'%s' is not det or smp", text);
		return -1;
	}
	return 0;
}

static int set_seed(struct emu_config *cfg, const char *text, char *err, size_t len)
{
	return parse_uint(text, 0, UINT64_MAX, &cfg->seed, err, len);
}

static int set_mobility(struct emu_config *cfg, const char *text, char *err, size_t len)
{
	return parse_bool(text, &cfg->mm.group_by_mobility, err, len);
}

static int set_pcp(struct emu_config *cfg, const char *text, char *err, size_t len)
{
	return parse_bool(text, &cfg->mm.pcp_lists, err, len);
}

static int set_quiet(struct emu_config *cfg, const char *text, char *err, size_t len)
{
	return parse_bool(text, &cfg->mm.quiet, err, len);
}

static int set_min_free_kbytes(struct emu_config *cfg, const char *text, char *err,
			       size_t len)
{
	uint64_t v;

	if (parse_uint(text, 0, 1ULL << 32, &v, err, len))
		return -1;
	cfg->mm.min_free_kbytes = (unsigned long)v;
	return 0;
}

static int set_fail_page_nth(struct emu_config *cfg, const char *text, char *err,
			     size_t len)
{
	uint64_t v;

	if (parse_uint(text, 0, ULONG_MAX, &v, err, len))
		return -1;
	cfg->fail_page_nth = (unsigned long)v;
	return 0;
}

static int set_fail_page_prob(struct emu_config *cfg, const char *text, char *err,
			      size_t len)
{
	char *end;
	double p;

	errno = 0;
	p = strtod(text, &end);
	if (errno || end == text || *end || !(p >= 0.0 && p <= 1.0)) {
		snprintf(err, len, "'%s' is not a probability between 0 and 1", text);
		return -1;
	}
	cfg->fail_page_probability = p;
	return 0;
}

/* The kernel memory allocator: any registered name (include/kmm/kma.h). */
static int set_kma(struct emu_config *cfg, const char *text, char *err, size_t len)
{
	char names[96];

	if (!kma_find(text) || strlen(text) >= sizeof(cfg->mm.kma)) {
		snprintf(err, len, "'%s' is not a kernel memory allocator (one of: %s)", text,
			 kma_names(names, sizeof(names), ", "));
		return -1;
	}
	snprintf(cfg->mm.kma, sizeof(cfg->mm.kma), "%s", text);
	return 0;
}

/* Reclaim's balance of anonymous against file pages (vm.swappiness). */
static int set_swappiness(struct emu_config *cfg, const char *text, char *err, size_t len)
{
	uint64_t v;

	if (parse_uint(text, 0, 200, &v, err, len))
		return -1;
	cfg->mm.swappiness = (int)v;
	return 0;
}

/* The root directory: a host path, checked when the machine boots. */
static int set_root(struct emu_config *cfg, const char *text, char *err, size_t len)
{
	if (!text[0] || strlen(text) >= sizeof(cfg->root)) {
		snprintf(err, len, "root must be a host directory path of 1 to %zu characters",
			 sizeof(cfg->root) - 1);
		return -1;
	}
	snprintf(cfg->root, sizeof(cfg->root), "%s", text);
	return 0;
}

static int set_rw(struct emu_config *cfg, const char *text, char *err, size_t len)
{
	return parse_bool(text, &cfg->root_rw, err, len);
}

/* NAME=FILE; the option may be given again for more disks (appended). */
static int set_disk(struct emu_config *cfg, const char *text, char *err, size_t len)
{
	size_t have = strlen(cfg->disks);
	const char *eq = strchr(text, '=');

	if (!eq || eq == text || !eq[1] || strchr(text, ',')) {
		snprintf(err, len, "bad disk '%s' (NAME=FILE, FILE a host file)", text);
		return -1;
	}
	if (have + 1 + strlen(text) >= sizeof(cfg->disks)) {
		snprintf(err, len, "too many disks");
		return -1;
	}
	snprintf(cfg->disks + have, sizeof(cfg->disks) - have, "%s%s", have ? "," : "", text);
	return 0;
}

const struct boot_param boot_params[] = {
	{ "ram", "--ram", "SIZE", NULL, "RAM size, 16M to 64G (default 256M)", set_ram },
	{ "cpus", "--cpus", "N", NULL, "number of CPUs, 1..64 (default 2)", set_cpus },
	{ "mode", "--mode", "det|smp", NULL,
	  "det (one thread, virtual time) or smp (a thread per CPU); default det",
	  set_mode },
	{ "seed", "--seed", "N", NULL, "seed of the deterministic mode (default 1)",
	  set_seed },
	{ "kernel", "--kernel-size", "SIZE", NULL,
	  "size of the kernel image reserved at 1 MiB (default 4M)", set_kernel },
	{ "mobility", "--no-mobility", NULL, "false",
	  "no grouping of pages by mobility (anti-fragmentation off)", set_mobility },
	{ "pcp", "--no-pcp", NULL, "false",
	  "no per-CPU page lists (the buddy lists alone)", set_pcp },
	{ "min_free_kbytes", "--min-free-kbytes", "N", NULL,
	  "reserve for the watermarks, in KiB (default: computed from RAM)",
	  set_min_free_kbytes },
	{ "fail_page_nth", "--fail-page-nth", "N", NULL,
	  "make the Nth page allocation fail (fault injection)", set_fail_page_nth },
	{ "fail_page_prob", "--fail-page-prob", "P", NULL,
	  "make page allocations fail with probability P, under the seed",
	  set_fail_page_prob },
	{ "quiet", "--quiet", NULL, "true", "no boot log", set_quiet },
	{ "kma", "--kma", "NAME", NULL,
	  "kernel memory allocator of the whole machine: slab (default), buddy, rmap, "
	  "p2, mk, zone or dynix", set_kma },
	{ "swappiness", "--swappiness", "N", NULL,
	  "reclaim's preference for swapping anonymous pages over dropping cache, "
	  "0..200 (default 60)", set_swappiness },
	{ "root", "--root", "DIR", NULL,
	  "host directory that is the machine's root file system (default /)", set_root },
	{ "rw", "--rw", NULL, "true", "the root is writable (default: read-only)", set_rw },
	{ "disk", "--disk", "NAME=FILE", NULL,
	  "a host file as the block device /dev/NAME (repeatable)", set_disk },
};

const unsigned int nr_boot_params = sizeof(boot_params) / sizeof(boot_params[0]);

const struct boot_param *boot_param_by_field(const char *field)
{
	for (unsigned int i = 0; i < nr_boot_params; i++)
		if (!strcmp(boot_params[i].field, field))
			return &boot_params[i];
	return NULL;
}

const struct boot_param *boot_param_by_option(const char *option)
{
	for (unsigned int i = 0; i < nr_boot_params; i++)
		if (boot_params[i].option && !strcmp(boot_params[i].option, option))
			return &boot_params[i];
	return NULL;
}

void boot_params_usage(FILE *f)
{
	for (unsigned int i = 0; i < nr_boot_params; i++) {
		const struct boot_param *p = &boot_params[i];
		char left[64];

		if (!p->option)
			continue;
		snprintf(left, sizeof(left), "%s%s%s", p->option, p->metavar ? " " : "",
			 p->metavar ? p->metavar : "");
		fprintf(f, "  %-26s %s\n", left, p->help);
	}
}
