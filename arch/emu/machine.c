/*
 * The emulated machine: its configuration, RAM, firmware memory map and
 * kernel image, and boot and shutdown.
 *
 * RAM is one host mapping (anonymous, private, MAP_NORESERVE) covering
 * physical addresses 0 up to the top of RAM; its address is the direct map
 * base, so phys_to_virt is one addition. The host commits pages only when
 * the emulated kernel touches them, so a 16 GiB machine costs what it uses.
 *
 * The memory map is a PC's, as its BIOS reports it with e820:
 *
 *   [0, 0x9fc00)          usable     conventional memory
 *   [0x9fc00, 0xa0000)    reserved   extended BIOS data area
 *   [0xa0000, 0xf0000)    (absent)   VGA window and option ROMs
 *   [0xf0000, 0x100000)   reserved   system BIOS
 *   [1 MiB, min(ram, 3 GiB))          usable
 *   [3 GiB, 4 GiB)        (absent)   the PCI hole: MMIO on a real PC
 *   [4 GiB, 4 GiB + ram - 3 GiB)      usable, when ram > 3 GiB
 *
 * With hotplug_bytes, a KMM_MEM_HOTPLUG range follows the top of RAM: no
 * RAM at boot, added a part at a time by emu_add_memory (memory hot-add,
 * the mechanism arch/native grows by; here it is tested).
 *
 * So the machine's RAM spans --ram bytes of physical addresses, of which the
 * first megabyte is legacy (partly reserved, partly shadowed by the VGA and
 * ROM window) and RAM above 3 GiB is remapped above the PCI hole, as a PC's
 * memory controller does. The parts of the host mapping that are not RAM
 * (the VGA/ROM window and the PCI hole) are PROT_NONE: a stray access to
 * them crashes at once instead of corrupting nothing in silence.
 *
 * One machine per host process: the core keeps its state in globals, as a
 * kernel does. emu_shutdown returns everything to the host so that the next
 * boot starts from scratch (tests boot hundreds of machines per process).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include <kmm/arch.h>
#include <kmm/emu.h>
#include <kmm/errno.h>
#include <kmm/fault_inject.h>
#include <kmm/kmm.h>
#include <kmm/page_alloc.h>

#include "emu_internal.h"
#include "hostfs.h"

#define EBDA_BASE 0x9fc00ULL         /* extended BIOS data area */
#define LEGACY_HOLE_BASE 0xa0000ULL  /* VGA window, option ROMs */
#define BIOS_ROM_BASE 0xf0000ULL
#define HIGH_MEMORY_BASE (1 * MiB)   /* also where the kernel image loads */
#define PCI_HOLE_BASE (3 * GiB)
#define PCI_HOLE_END (4 * GiB)

#define RAM_MIN (16 * MiB)
#define RAM_MAX (64 * GiB)
#define MEMORY_MAP_MAX 8             /* ranges in our firmware map */

uintptr_t arch_direct_map_base;

static bool booted;
static struct emu_config config;     /* of the booted machine */
static void *ram;                    /* the host mapping, ram_span bytes */
static uint64_t ram_span;            /* physical top of RAM and hotplug range */
static uint64_t hotplug_added;       /* bytes of it emu_add_memory added */
static _Atomic uint64_t rng_state;   /* emu_random; never 0 */

void emu_config_default(struct emu_config *cfg)
{
	*cfg = (struct emu_config){
		.ram_bytes = 256 * MiB,
		.kernel_bytes = 4 * MiB,
		.cpus = 2,
		.mode = EMU_DET,
		.seed = 1,
		.fail_page_nth = 0,
		.fail_page_probability = 0.0,
	};
	kmm_boot_options_default(&cfg->mm);
}

/*
 * "256M", "256MiB", "256mb", "4G", "64k", "1T", "1048576": a decimal number
 * of bytes with an optional binary suffix K, M, G or T (any case), which may
 * be followed by "iB" or "B". Nothing else: no sign, no spaces, no fraction.
 */
int emu_parse_size(const char *text, uint64_t *bytes)
{
	static const char units[] = "kmgt";
	const char *p = text;
	uint64_t value = 0;
	unsigned int shift = 0;

	if (!text || !bytes || *p < '0' || *p > '9')
		return -KMM_EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned int digit = (unsigned int)(*p - '0');

		if (value > (UINT64_MAX - digit) / 10)
			return -KMM_EINVAL;
		value = value * 10 + digit;
	}
	if (*p) {
		const char *unit = strchr(units, *p | 0x20);

		if (unit) {
			shift = 10 * (unsigned int)(unit - units + 1);
			p++;
			if ((*p | 0x20) == 'i' && (p[1] | 0x20) == 'b')
				p += 2;
			else if ((*p | 0x20) == 'b')
				p++;
		} else if ((*p | 0x20) == 'b') {
			p++;            /* "4096B": bytes */
		}
		if (*p)
			return -KMM_EINVAL;
	}
	if (shift && value > UINT64_MAX >> shift)
		return -KMM_EINVAL;
	*bytes = value << shift;
	return 0;
}

/* The physical address just above the last byte of RAM. */
static uint64_t ram_top(uint64_t ram_bytes)
{
	if (ram_bytes <= PCI_HOLE_BASE)
		return ram_bytes;
	return PCI_HOLE_END + (ram_bytes - PCI_HOLE_BASE);
}

static int reject(char *err, size_t errlen, int ret, const char *fmt, ...) __printf(4, 5);

static int reject(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* A size for a message: "8 MiB", "12 KiB" or "1000 bytes". */
static const char *size_text(uint64_t bytes, char buf[32])
{
	if (bytes && bytes % GiB == 0)
		snprintf(buf, 32, "%llu GiB", (unsigned long long)(bytes / GiB));
	else if (bytes && bytes % MiB == 0)
		snprintf(buf, 32, "%llu MiB", (unsigned long long)(bytes / MiB));
	else if (bytes && bytes % KiB == 0)
		snprintf(buf, 32, "%llu KiB", (unsigned long long)(bytes / KiB));
	else
		snprintf(buf, 32, "%llu bytes", (unsigned long long)bytes);
	return buf;
}

static int validate(const struct emu_config *cfg, char *err, size_t errlen)
{
	uint64_t low_top = cfg->ram_bytes < PCI_HOLE_BASE ? cfg->ram_bytes : PCI_HOLE_BASE;
	double p = cfg->fail_page_probability;
	char a[32], b[32];

	if (cfg->ram_bytes < RAM_MIN || cfg->ram_bytes > RAM_MAX)
		return reject(err, errlen, -KMM_EINVAL,
			      "ram of %s: must be between 16 MiB and 64 GiB",
			      size_text(cfg->ram_bytes, a));
	if (cfg->ram_bytes % PAGE_SIZE)
		return reject(err, errlen, -KMM_EINVAL,
			      "ram of %s: must be a multiple of 4 KiB",
			      size_text(cfg->ram_bytes, a));
	if (cfg->kernel_bytes == 0 || cfg->kernel_bytes % PAGE_SIZE)
		return reject(err, errlen, -KMM_EINVAL,
			      "kernel image of %s: must be a non-zero multiple of 4 KiB",
			      size_text(cfg->kernel_bytes, a));
	if (cfg->kernel_bytes > low_top - HIGH_MEMORY_BASE)
		return reject(err, errlen, -KMM_EINVAL,
			      "kernel image of %s does not fit in RAM between 1 MiB and %s",
			      size_text(cfg->kernel_bytes, a), size_text(low_top, b));
	if (cfg->cpus < 1 || cfg->cpus > KMM_MAX_CPUS)
		return reject(err, errlen, -KMM_EINVAL, "%u CPUs: must be 1 to %d",
			      cfg->cpus, KMM_MAX_CPUS);
	if (cfg->mode != EMU_DET && cfg->mode != EMU_SMP)
		return reject(err, errlen, -KMM_EINVAL, "unknown mode %d (det or smp)",
			      (int)cfg->mode);
	if (cfg->hotplug_bytes &&
	    (cfg->hotplug_bytes % (2 * MiB) || ram_top(cfg->ram_bytes) % (2 * MiB) ||
	     cfg->hotplug_bytes > RAM_MAX ||
	     (cfg->ram_bytes <= PCI_HOLE_BASE &&
	      cfg->hotplug_bytes > PCI_HOLE_BASE - cfg->ram_bytes)))
		return reject(err, errlen, -KMM_EINVAL,
			      "hotplug memory of %s: must be a multiple of 2 MiB, above "
			      "RAM that ends on a 2 MiB boundary, and below the PCI hole "
			      "when RAM is", size_text(cfg->hotplug_bytes, a));
	if (!(p >= 0.0 && p <= 1.0))
		return reject(err, errlen, -KMM_EINVAL,
			      "page fault-injection probability %g: must be between 0 and 1", p);
	return 0;
}

/* splitmix64, so that nearby seeds (1, 2, 3) start far apart. */
static uint64_t seed_mix(uint64_t seed)
{
	uint64_t z = seed + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return z ? z : 0x9e3779b97f4a7c15ULL;   /* xorshift must not start at 0 */
}

/* xorshift64* (Vigna 2016); atomic so that SMP CPUs may share it. */
uint64_t emu_random(void)
{
	uint64_t old = atomic_load_explicit(&rng_state, memory_order_relaxed), x;

	do {
		x = old ? old : seed_mix(0);
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
	} while (!atomic_compare_exchange_weak_explicit(&rng_state, &old, x,
							memory_order_relaxed,
							memory_order_relaxed));
	return x * 0x2545f4914f6cdd1dULL;
}

/* Makes [base, end) of the host mapping inaccessible: it is not RAM. */
static int protect_hole(uint64_t base, uint64_t end)
{
	return mprotect((char *)ram + base, end - base, PROT_NONE);
}

static int map_ram(const struct emu_config *cfg, char *err, size_t errlen)
{
	uint64_t span = ram_top(cfg->ram_bytes) + cfg->hotplug_bytes;
	void *p = mmap(NULL, span, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return reject(err, errlen, -KMM_ENOMEM,
			      "cannot map %s of host memory for RAM: %s",
			      size_text(span, (char[32]){ 0 }), strerror(errno));
	ram = p;
	ram_span = span;
	if (protect_hole(LEGACY_HOLE_BASE, BIOS_ROM_BASE) ||
	    (cfg->ram_bytes > PCI_HOLE_BASE && protect_hole(PCI_HOLE_BASE, PCI_HOLE_END))) {
		int e = errno;

		munmap(ram, ram_span);
		ram = NULL;
		return reject(err, errlen, -KMM_ENOMEM,
			      "cannot protect the memory holes: %s", strerror(e));
	}
	arch_direct_map_base = (uintptr_t)ram;
	return 0;
}

static void unmap_ram(void)
{
	if (ram)
		munmap(ram, ram_span);
	ram = NULL;
	ram_span = 0;
	arch_direct_map_base = 0;
}

int emu_boot(const struct emu_config *cfg, char *err, size_t errlen)
{
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (!cfg)
		return reject(err, errlen, -KMM_EINVAL, "no configuration");
	if (booted)
		return reject(err, errlen, -KMM_EBUSY,
			      "a machine is already running; shut it down first");
	ret = validate(cfg, err, errlen);
	if (ret)
		return ret;
	ret = map_ram(cfg, err, errlen);
	if (ret)
		return ret;

	ret = hostfs_boot(cfg, err, errlen);
	if (ret) {
		unmap_ram();
		return ret;
	}
	config = *cfg;
	hotplug_added = 0;
	emu_cpus_boot(cfg->cpus, cfg->mode);
	emu_time_boot(cfg->mode);
	atomic_store(&rng_state, seed_mix(cfg->seed));
	/*
	 * Booted before mm_init: a panic inside it leaves a machine that
	 * emu_shutdown can still take down.
	 */
	booted = true;
	/* Boot's own allocations never count towards the Nth failure. */
	fault_attr_configure(&fail_page_alloc, 0, 0, 0);
	ret = mm_init(&config.mm);
	if (ret) {
		emu_shutdown();
		return reject(err, errlen, ret,
			      "memory management could not start in %s of RAM "
			      "(error %d: too little for the boot structures?)",
			      size_text(cfg->ram_bytes, (char[32]){ 0 }), ret);
	}
	fault_attr_configure(&fail_page_alloc, cfg->fail_page_nth,
			     (uint32_t)(cfg->fail_page_probability * 1e6), cfg->seed);
	return 0;
}

void emu_shutdown(void)
{
	if (!booted)
		return;
	fault_attr_configure(&fail_page_alloc, 0, 0, 0);
	emu_time_shutdown();
	hostfs_shutdown();
	emu_cpus_shutdown();
	unmap_ram();
	booted = false;
}

bool emu_booted(void)
{
	return booted;
}

/* The booted machine's configuration, or NULL when none is booted. */
const struct emu_config *emu_config(void)
{
	return booted ? &config : NULL;
}

int arch_memory_map(struct kmm_mem_range *out, int max)
{
	struct kmm_mem_range map[MEMORY_MAP_MAX];
	uint64_t ram_bytes = config.ram_bytes;
	uint64_t low_top = ram_bytes < PCI_HOLE_BASE ? ram_bytes : PCI_HOLE_BASE;
	int n = 0;

	if (!booted)
		return 0;
	map[n++] = (struct kmm_mem_range){ 0, EBDA_BASE, KMM_MEM_USABLE };
	map[n++] = (struct kmm_mem_range){ EBDA_BASE, LEGACY_HOLE_BASE - EBDA_BASE,
					   KMM_MEM_RESERVED };
	map[n++] = (struct kmm_mem_range){ BIOS_ROM_BASE, HIGH_MEMORY_BASE - BIOS_ROM_BASE,
					   KMM_MEM_RESERVED };
	map[n++] = (struct kmm_mem_range){ HIGH_MEMORY_BASE, low_top - HIGH_MEMORY_BASE,
					   KMM_MEM_USABLE };
	if (ram_bytes > PCI_HOLE_BASE)
		map[n++] = (struct kmm_mem_range){ PCI_HOLE_END, ram_bytes - PCI_HOLE_BASE,
						   KMM_MEM_USABLE };
	if (config.hotplug_bytes)
		map[n++] = (struct kmm_mem_range){ ram_top(ram_bytes), config.hotplug_bytes,
						   KMM_MEM_HOTPLUG };
	if (n > max)
		n = max < 0 ? 0 : max;
	memcpy(out, map, (size_t)n * sizeof(*out));
	return n;
}

void arch_kernel_image(phys_addr_t *base, phys_addr_t *size)
{
	*base = HIGH_MEMORY_BASE;
	*size = booted ? config.kernel_bytes : 0;
}

/* mem_map comes from memblock, in the machine's RAM. */
struct page *arch_mem_map(unsigned long nr_pages)
{
	return NULL;
}

int emu_add_memory(uint64_t bytes)
{
	uint64_t base;
	int ret;

	if (!booted)
		return -KMM_EINVAL;
	if (bytes > config.hotplug_bytes - hotplug_added)
		return -KMM_ENOMEM;
	base = ram_top(config.ram_bytes) + hotplug_added;
	ret = add_memory(base, bytes);
	if (!ret)
		hotplug_added += bytes;
	return ret;
}
