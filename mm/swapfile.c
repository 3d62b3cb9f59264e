/*
 * Swap areas (include/kmm/swap.h): swapon/swapoff of host files with
 * Linux's swap header, the per-slot reference counts, and the slot
 * allocator that keeps a CPU's consecutive swap-outs together on disk.
 *
 * The header (page 0) as Linux and mkswap lay it out: 1024 bytes of boot
 * block, then version (1), last_page (the last usable slot), nr_badpages,
 * a 16-byte UUID, a 16-byte volume label, padding, and the bad pages'
 * slot numbers; "SWAPSPACE2" ends the page. Fields are little-endian, as
 * on the PC the emulated machine is.
 *
 * Slot allocation. The slots are cut in clusters of SWAP_CLUSTER_SLOTS.
 * Each CPU owns at most one cluster of an area at a time and hands out its
 * slots in order, so one reclaim scan's pages land next to each other; a
 * CPU whose cluster is used up takes the next cluster with every slot free
 * (kept in cluster_used[]), and when no cluster is wholly free falls back
 * to the first free slot after a moving hint, as Linux does when swap is
 * nearly full. Areas are tried by priority, highest first.
 *
 * The swap cache (mm/swap_state.c) keeps one page pointer per slot, here in
 * frames allocated with the area (SWAP_CACHE_PER_FRAME pointers a frame),
 * so adding a page to the cache on the way out never needs memory.
 *
 * swapoff marks the area closing (no new slots), brings every page back
 * through each mm's page tables (unuse_mm, mm/memory.c), drops what the
 * swap cache still holds of it, and only then takes it away.
 */
#include <kmm/arch.h>
#include <kmm/errno.h>
#include <kmm/fs.h>
#include <kmm/lock.h>
#include <kmm/mm.h>
#include <kmm/mm_types.h>
#include <kmm/mmzone.h>
#include <kmm/page_alloc.h>
#include <kmm/printk.h>
#include <kmm/slab.h>
#include <kmm/string.h>
#include <kmm/swap.h>
#include <kmm/vmstat.h>

#define SWAP_MAGIC "SWAPSPACE2"
#define SWAP_MAGIC_LEN 10
#define SWAP_VERSION 1
#define HDR_VERSION_OFF 1024
#define HDR_LAST_PAGE_OFF 1028
#define HDR_NR_BAD_OFF 1032
#define HDR_UUID_OFF 1036
#define HDR_LABEL_OFF 1052
#define HDR_BADPAGES_OFF 1536   /* after 117 words of padding */
#define MAX_BADPAGES ((PAGE_SIZE - SWAP_MAGIC_LEN - HDR_BADPAGES_OFF) / 4)
#define NO_CLUSTER (~0UL)

/* The counts are u16: an area may hold this many slots. */
#define MAX_SWAP_SLOTS (KMALLOC_MAX_SIZE / sizeof(uint16_t))

struct swap_area {
	bool used;
	char path[256];
	int prio;
	struct arch_file *file;
	unsigned long max;            /* slots, header included: last_page + 1 */
	unsigned long pages;          /* usable slots (not header, not bad) */
	spinlock_t lock;              /* the fields below */
	unsigned long inuse;          /* slots with a count */
	uint16_t *map;                /* count per slot; SWAP_MAP_BAD for bad ones */
	uint16_t *cluster_used;       /* per cluster: slots with a count or bad */
	unsigned long nr_clusters;
	unsigned long cpu_next[KMM_MAX_CPUS];   /* next slot in the CPU's cluster */
	unsigned long cpu_end[KMM_MAX_CPUS];    /* end of it; NO_CLUSTER: none */
	unsigned long cluster_hint, scan_hint;
	struct page ***cache;         /* swap cache: [slot / PER_FRAME][slot % PER_FRAME] */
	unsigned long nr_cache_frames;
	bool closing;                 /* swapoff in progress: no new slots */
	/* Scratch of mm_rmap_check: the page-table entries naming each slot
	   (written only by the checker, which runs while nothing changes). */
	uint16_t *refs;
};

#define SWAP_CACHE_PER_FRAME (PAGE_SIZE / sizeof(struct page *))

/* The areas and their order (swap_lock). */
static spinlock_t swap_lock = SPINLOCK_INIT;
static struct swap_area areas[MAX_SWAPFILES];
static int next_prio = -1;        /* the priority of an area given none */

static inline uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void put_le32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

void swap_init(void)
{
	memset(areas, 0, sizeof(areas));
	spin_lock_init(&swap_lock);
	next_prio = -1;
}

/* ---- mkswap ---- */

int swap_format(const char *path, uint64_t bytes)
{
	struct arch_file *f;
	unsigned char *hdr;
	uint64_t pages = bytes / PAGE_SIZE;
	long n;
	int err;

	if (bytes % PAGE_SIZE || pages < 2 || pages - 1 > 0xffffffffULL)
		return -KMM_EINVAL;
	hdr = kzalloc(PAGE_SIZE, GFP_KERNEL);
	if (!hdr)
		return -KMM_ENOMEM;
	put_le32(hdr + HDR_VERSION_OFF, SWAP_VERSION);
	put_le32(hdr + HDR_LAST_PAGE_OFF, (uint32_t)(pages - 1));
	put_le32(hdr + HDR_NR_BAD_OFF, 0);
	/* A UUID from the clock: unique enough to tell areas apart. */
	for (unsigned int i = 0; i < 16; i++)
		hdr[HDR_UUID_OFF + i] = (unsigned char)(arch_now_ns() >> (i % 8 * 8)) ^ (unsigned char)i;
	kmm_strlcpy((char *)hdr + HDR_LABEL_OFF, "kmm-swap", 16);
	memcpy(hdr + PAGE_SIZE - SWAP_MAGIC_LEN, SWAP_MAGIC, SWAP_MAGIC_LEN);

	err = arch_fs_open(path, KMM_O_RDWR | KMM_O_CREAT | KMM_O_TRUNC, 0600, &f);
	if (err) {
		kfree(hdr);
		return err;
	}
	n = arch_fs_write(f, 0, hdr, PAGE_SIZE);
	err = n < 0 ? (int)n : n != PAGE_SIZE ? -KMM_EIO : 0;
	if (!err)
		err = arch_fs_truncate(f, pages * PAGE_SIZE);
	if (!err)
		err = arch_fs_fsync(f, false);
	arch_fs_close(f);
	kfree(hdr);
	return err;
}

/* ---- swapon / swapoff ---- */

static struct swap_area *find_area(const char *path)
{
	for (unsigned int i = 0; i < MAX_SWAPFILES; i++)
		if (areas[i].used && !kmm_strcmp(areas[i].path, path))
			return &areas[i];
	return NULL;
}

/* Checks the header in hdr against a file of size bytes; fills the area's
   geometry. 0 or -EINVAL with the reason printed. */
static int parse_header(struct swap_area *a, const unsigned char *hdr, uint64_t size)
{
	uint32_t version = get_le32(hdr + HDR_VERSION_OFF);
	uint32_t last = get_le32(hdr + HDR_LAST_PAGE_OFF);
	uint32_t nr_bad = get_le32(hdr + HDR_NR_BAD_OFF);

	if (memcmp(hdr + PAGE_SIZE - SWAP_MAGIC_LEN, SWAP_MAGIC, SWAP_MAGIC_LEN)) {
		printk("swapon: %s: no swap signature (run mkswap, or m:swapon with a size)\n",
		       a->path);
		return -KMM_EINVAL;
	}
	if (version != SWAP_VERSION) {
		printk("swapon: %s: unsupported swap header version %u\n", a->path, version);
		return -KMM_EINVAL;
	}
	if (last < 1 || (uint64_t)last >= size / PAGE_SIZE) {
		printk("swapon: %s: last_page %u does not fit a file of %llu pages\n", a->path,
		       last, (unsigned long long)(size / PAGE_SIZE));
		return -KMM_EINVAL;
	}
	if (nr_bad > MAX_BADPAGES) {
		printk("swapon: %s: %u bad pages listed, at most %lu fit the header\n", a->path,
		       nr_bad, (unsigned long)MAX_BADPAGES);
		return -KMM_EINVAL;
	}
	a->max = (unsigned long)last + 1;
	if (a->max > MAX_SWAP_SLOTS) {
		printk("swapon: %s: using the first %lu of its %lu pages\n", a->path,
		       (unsigned long)MAX_SWAP_SLOTS, a->max);
		a->max = MAX_SWAP_SLOTS;
	}
	for (uint32_t i = 0; i < nr_bad; i++) {
		uint32_t bad = get_le32(hdr + HDR_BADPAGES_OFF + 4 * i);

		if (bad == 0 || bad > last) {
			printk("swapon: %s: bad page %u is outside the area\n", a->path, bad);
			return -KMM_EINVAL;
		}
	}
	return 0;
}

static void set_bad(struct swap_area *a, unsigned long slot)
{
	if (slot >= a->max || a->map[slot] == SWAP_MAP_BAD)
		return;
	a->map[slot] = SWAP_MAP_BAD;
	a->cluster_used[slot / SWAP_CLUSTER_SLOTS]++;
	a->pages--;
}

static void free_area_maps(struct swap_area *a)
{
	kfree(a->map);
	kfree(a->cluster_used);
	kfree(a->refs);
	a->refs = NULL;
	if (a->cache) {
		for (unsigned long i = 0; i < a->nr_cache_frames; i++)
			free_pages(a->cache[i], 0);
		kfree(a->cache);
	}
	a->map = NULL;
	a->cluster_used = NULL;
	a->cache = NULL;
}

/* The swap cache's pointers for every slot of a; 0 or -ENOMEM. */
static int alloc_cache_frames(struct swap_area *a)
{
	a->nr_cache_frames = (a->max + SWAP_CACHE_PER_FRAME - 1) / SWAP_CACHE_PER_FRAME;
	a->cache = kzalloc(a->nr_cache_frames * sizeof(*a->cache), GFP_KERNEL);
	if (!a->cache)
		return -KMM_ENOMEM;
	for (unsigned long i = 0; i < a->nr_cache_frames; i++) {
		a->cache[i] = get_zeroed_page(GFP_KERNEL);
		if (!a->cache[i])
			return -KMM_ENOMEM;
	}
	return 0;
}

int swapon(const char *path, int priority)
{
	struct swap_area *a = NULL, probe = { .used = false };
	struct arch_stat st;
	unsigned char *hdr;
	long n;
	int err;

	if (!path || !*path || kmm_strlen(path) >= sizeof(probe.path))
		return -KMM_EINVAL;
	kmm_strlcpy(probe.path, path, sizeof(probe.path));
	hdr = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!hdr)
		return -KMM_ENOMEM;
	err = arch_fs_open(path, KMM_O_RDWR, 0, &probe.file);
	if (err)
		goto out_free;
	err = arch_fs_stat(probe.file, &st);
	if (!err && (st.mode & 0170000) != 0100000 && (st.mode & 0170000) != 0060000)
		err = -KMM_EINVAL;   /* neither a regular file nor a block device */
	if (err)
		goto out_close;
	n = arch_fs_read(probe.file, 0, hdr, PAGE_SIZE);
	if (n != PAGE_SIZE) {
		err = n < 0 ? (int)n : -KMM_EINVAL;
		if (n >= 0)
			printk("swapon: %s: shorter than a swap header\n", path);
		goto out_close;
	}
	err = parse_header(&probe, hdr, st.size);
	if (err)
		goto out_close;
	probe.nr_clusters = (probe.max + SWAP_CLUSTER_SLOTS - 1) / SWAP_CLUSTER_SLOTS;
	probe.map = kzalloc(probe.max * sizeof(*probe.map), GFP_KERNEL);
	probe.cluster_used = kzalloc(probe.nr_clusters * sizeof(*probe.cluster_used), GFP_KERNEL);
	probe.refs = kzalloc(probe.max * sizeof(*probe.refs), GFP_KERNEL);
	if (!probe.map || !probe.cluster_used || !probe.refs || alloc_cache_frames(&probe)) {
		err = -KMM_ENOMEM;
		goto out_maps;
	}
	probe.pages = probe.max - 1;
	/* The header's slot counts as used, so slot 0 is never handed out. */
	probe.map[0] = SWAP_MAP_BAD;
	probe.cluster_used[0] = 1;
	for (uint32_t i = 0; i < get_le32(hdr + HDR_NR_BAD_OFF); i++)
		set_bad(&probe, get_le32(hdr + HDR_BADPAGES_OFF + 4 * i));
	/* The tail of the last cluster beyond max counts as used. */
	probe.cluster_used[probe.nr_clusters - 1] +=
		(uint16_t)(probe.nr_clusters * SWAP_CLUSTER_SLOTS - probe.max);
	for (unsigned int c = 0; c < KMM_MAX_CPUS; c++)
		probe.cpu_end[c] = NO_CLUSTER;
	probe.scan_hint = 1;
	spin_lock_init(&probe.lock);

	spin_lock(&swap_lock);
	if (find_area(path)) {
		err = -KMM_EBUSY;
	} else {
		for (unsigned int i = 0; i < MAX_SWAPFILES && !a; i++)
			if (!areas[i].used)
				a = &areas[i];
		if (!a)
			err = -KMM_EPERM;
	}
	if (!err) {
		probe.prio = priority >= 0 ? priority : next_prio--;
		probe.used = true;
		*a = probe;
	}
	spin_unlock(&swap_lock);
	if (err)
		goto out_maps;
	printk("Adding %luk swap on %s.  Priority:%d extents:1 across:%luk\n",
	       a->pages * (PAGE_SIZE / 1024), path, a->prio, a->max * (PAGE_SIZE / 1024));
	kfree(hdr);
	return 0;

out_maps:
	free_area_maps(&probe);
out_close:
	arch_fs_close(probe.file);
out_free:
	kfree(hdr);
	return err;
}

/* The mms of every task, each once, with a user reference each. */
struct mm_set {
	struct mm **mms;
	unsigned int n, max;
};

static void collect_mm(struct task *t, void *arg)
{
	struct mm_set *set = arg;
	struct mm *mm = __atomic_load_n(&t->mm, __ATOMIC_ACQUIRE);

	if (!mm || set->n == set->max || t->state == TASK_DEAD)
		return;
	for (unsigned int i = 0; i < set->n; i++)
		if (set->mms[i] == mm)
			return;
	mmget(mm);
	set->mms[set->n++] = mm;
}

/* One pass over every mm: 0 or -errno. */
static int unuse_all_mms(unsigned int type)
{
	struct mm_set set = { .max = task_count() + 1 };
	int err = 0;

	set.mms = kcalloc(set.max, sizeof(*set.mms), GFP_KERNEL);
	if (!set.mms)
		return -KMM_ENOMEM;
	task_for_each(collect_mm, &set);
	for (unsigned int i = 0; i < set.n; i++) {
		if (!err) {
			read_lock(&set.mms[i]->mmap_lock);
			err = unuse_mm(set.mms[i], type);
			read_unlock(&set.mms[i]->mmap_lock);
		}
		mmput(set.mms[i]);
	}
	kfree(set.mms);
	return err;
}

/*
 * Drops what the swap cache holds of area type and nothing else refers to:
 * pages read ahead, or brought in and kept as clean copies. They stay in
 * memory, now backed by nothing. A page whose slot a page table still
 * names stays (its data may be nowhere else): the next pass brings it in.
 */
static void drop_area_cache(unsigned int type)
{
	struct swap_area *a = &areas[type];

	for (unsigned long slot = 1; slot < a->max; slot++) {
		swp_entry_t entry = swp_entry(type, slot);
		struct page *page = lookup_swap_cache(entry);

		if (!page)
			continue;
		lock_page(page);
		if (page_flag(page, PG_swapcache) && page->private == entry.val &&
		    !page_flag(page, PG_writeback) && swap_count(entry) == 1) {
			delete_from_swap_cache(page);
			/* The only copy is in memory now. */
			set_page_flag(page, PG_dirty);
		}
		unlock_page(page);
		put_anon_page(page);
	}
}

/*
 * Brings every page of area type back into memory; 0 or -errno. A fork or
 * a reclaim running meanwhile may leave an entry behind in an mm already
 * visited (new slots are not given out, but a slot of a page still in the
 * cache can be named again): a few passes, as long as each makes progress.
 */
static int try_to_unuse(unsigned int type)
{
	struct swap_area *a = &areas[type];
	unsigned long left = ~0UL;

	for (;;) {
		unsigned long inuse;
		int err = unuse_all_mms(type);

		if (err)
			return err;
		drop_area_cache(type);
		spin_lock(&a->lock);
		inuse = a->inuse;
		spin_unlock(&a->lock);
		if (!inuse || inuse >= left)
			return 0;   /* done, or stuck: swapoff says EBUSY */
		left = inuse;
	}
}

int swapoff(const char *path)
{
	struct swap_area *a, gone;
	unsigned int type;
	int err;

	spin_lock(&swap_lock);
	a = path ? find_area(path) : NULL;
	if (!a || a->closing) {
		spin_unlock(&swap_lock);
		return -KMM_EINVAL;
	}
	a->closing = true;
	type = (unsigned int)(a - areas);
	spin_unlock(&swap_lock);

	err = try_to_unuse(type);
	spin_lock(&swap_lock);
	spin_lock(&a->lock);
	if (!err && a->inuse)
		err = -KMM_EBUSY;   /* a slot is still referred to: a bug, or a race */
	if (err) {
		a->closing = false;
		spin_unlock(&a->lock);
		spin_unlock(&swap_lock);
		return err;
	}
	spin_unlock(&a->lock);
	gone = *a;
	a->used = false;
	a->closing = false;
	a->map = NULL;
	a->cluster_used = NULL;
	a->cache = NULL;
	a->refs = NULL;
	spin_unlock(&swap_lock);
	free_area_maps(&gone);
	arch_fs_close(gone.file);
	return 0;
}

void swapoff_all(void)
{
	for (unsigned int i = 0; i < MAX_SWAPFILES; i++) {
		if (!areas[i].used)
			continue;
		if (swapoff(areas[i].path))
			panic("swapoff at shutdown: %s still has %lu slots in use", areas[i].path,
			      areas[i].inuse);
	}
	next_prio = -1;
}

/* ---- Slots ---- */

static void take_slot(struct swap_area *a, unsigned long slot)
{
	a->map[slot] = 1;
	a->cluster_used[slot / SWAP_CLUSTER_SLOTS]++;
	a->inuse++;
}

/* A free slot of a, or 0. Called with a->lock held. */
static unsigned long alloc_slot(struct swap_area *a, unsigned int cpu)
{
	unsigned long *next = &a->cpu_next[cpu], *end = &a->cpu_end[cpu];

	if (a->inuse == a->pages)
		return 0;
	/* The CPU's cluster first: slots in order. */
	while (*end != NO_CLUSTER && *next < *end) {
		unsigned long slot = (*next)++;

		if (slot < a->max && !a->map[slot]) {
			take_slot(a, slot);
			return slot;
		}
	}
	/* A new cluster with every slot free, searched from the hint. */
	for (unsigned long i = 0; i < a->nr_clusters; i++) {
		unsigned long c = (a->cluster_hint + i) % a->nr_clusters;

		if (a->cluster_used[c])
			continue;
		a->cluster_hint = c + 1;
		*next = c * SWAP_CLUSTER_SLOTS + 1;
		*end = (c + 1) * SWAP_CLUSTER_SLOTS;
		take_slot(a, c * SWAP_CLUSTER_SLOTS);
		return c * SWAP_CLUSTER_SLOTS;
	}
	*end = NO_CLUSTER;
	/* Nearly full: the first free slot after the hint. */
	for (unsigned long i = 0; i < a->max; i++) {
		unsigned long slot = (a->scan_hint + i) % a->max;

		if (!a->map[slot]) {
			a->scan_hint = slot + 1;
			take_slot(a, slot);
			return slot;
		}
	}
	return 0;
}

swp_entry_t get_swap_page(void)
{
	swp_entry_t none = { 0 };
	unsigned int cpu = arch_this_cpu();
	bool tried[MAX_SWAPFILES] = { false };

	spin_lock(&swap_lock);
	for (;;) {
		struct swap_area *best = NULL;
		unsigned long slot;

		for (unsigned int i = 0; i < MAX_SWAPFILES; i++)
			if (areas[i].used && !areas[i].closing && !tried[i] &&
			    (!best || areas[i].prio > best->prio))
				best = &areas[i];
		if (!best)
			break;
		tried[best - areas] = true;
		spin_lock(&best->lock);
		slot = alloc_slot(best, cpu);
		spin_unlock(&best->lock);
		if (slot) {
			spin_unlock(&swap_lock);
			return swp_entry((unsigned int)(best - areas), slot);
		}
	}
	spin_unlock(&swap_lock);
	return none;
}

/* The area of entry with its lock held, or NULL for a bad entry. */
static struct swap_area *lock_entry(swp_entry_t entry)
{
	unsigned int type = swp_type(entry);
	struct swap_area *a;

	if (type >= MAX_SWAPFILES)
		return NULL;
	a = &areas[type];
	spin_lock(&a->lock);
	if (!a->used || !swp_offset(entry) || swp_offset(entry) >= a->max ||
	    a->map[swp_offset(entry)] == SWAP_MAP_BAD) {
		spin_unlock(&a->lock);
		return NULL;
	}
	return a;
}

int swap_duplicate(swp_entry_t entry)
{
	struct swap_area *a = lock_entry(entry);
	uint16_t *count;
	int err = 0;

	if (!a)
		return -KMM_EINVAL;
	count = &a->map[swp_offset(entry)];
	if (!*count)
		err = -KMM_EINVAL;   /* a free slot has no reference to copy */
	else if (*count >= SWAP_MAP_MAX)
		err = -KMM_ENOMEM;
	else
		(*count)++;
	spin_unlock(&a->lock);
	return err;
}

void swap_free(swp_entry_t entry)
{
	struct swap_area *a = lock_entry(entry);
	unsigned long slot = swp_offset(entry);

	if (!a)
		panic("swap_free: bad swap entry %#lx", entry.val);
	if (!a->map[slot]) {
		spin_unlock(&a->lock);   /* a checker may catch the panic and go on */
		panic("swap_free: slot %lu of %s is already free", slot, a->path);
	}
	if (!--a->map[slot]) {
		a->cluster_used[slot / SWAP_CLUSTER_SLOTS]--;
		a->inuse--;
	}
	spin_unlock(&a->lock);
}

int swap_count(swp_entry_t entry)
{
	struct swap_area *a = lock_entry(entry);
	int count;

	if (!a)
		return -KMM_EINVAL;
	count = a->map[swp_offset(entry)];
	spin_unlock(&a->lock);
	return count;
}

/* ---- I/O ---- */

/* The area's file for a slot in use, or NULL. */
static struct arch_file *slot_file(swp_entry_t entry)
{
	struct swap_area *a = lock_entry(entry);
	struct arch_file *f = NULL;

	if (a) {
		if (a->map[swp_offset(entry)])
			f = a->file;
		spin_unlock(&a->lock);
	}
	return f;
}

int swap_writepage(struct page *page, swp_entry_t entry)
{
	struct arch_file *f = slot_file(entry);
	long n;

	if (!f)
		return -KMM_EINVAL;
	n = arch_fs_write(f, (uint64_t)swp_offset(entry) * PAGE_SIZE, page_address(page),
			  PAGE_SIZE);
	if (n != PAGE_SIZE)
		return n < 0 ? (int)n : -KMM_EIO;
	count_vm_events(PSWPOUT, 1);
	return 0;
}

int swap_readpage(struct page *page, swp_entry_t entry)
{
	struct arch_file *f = slot_file(entry);
	long n;

	if (!f)
		return -KMM_EINVAL;
	n = arch_fs_read(f, (uint64_t)swp_offset(entry) * PAGE_SIZE, page_address(page),
			 PAGE_SIZE);
	if (n != PAGE_SIZE)
		return n < 0 ? (int)n : -KMM_EIO;
	count_vm_events(PSWPIN, 1);
	return 0;
}

struct page **swap_cache_slot(swp_entry_t entry)
{
	struct swap_area *a = lock_entry(entry);
	struct page **slot;

	if (!a)
		return NULL;
	slot = &a->cache[swp_offset(entry) / SWAP_CACHE_PER_FRAME]
			[swp_offset(entry) % SWAP_CACHE_PER_FRAME];
	spin_unlock(&a->lock);
	return slot;
}

bool swap_area_full(swp_entry_t entry)
{
	struct swap_area *a = lock_entry(entry);
	bool full;

	if (!a)
		return true;
	/* An area being switched off keeps no copies at all. */
	full = a->closing || a->inuse * 2 > a->pages;
	spin_unlock(&a->lock);
	return full;
}

bool swap_entry_closing(swp_entry_t entry)
{
	struct swap_area *a = lock_entry(entry);
	bool closing;

	if (!a)
		return true;
	closing = a->closing;
	spin_unlock(&a->lock);
	return closing;
}

/* ---- Reference counts against the page tables (mm_rmap_check) ---- */

void swap_refs_begin(void)
{
	for (unsigned int i = 0; i < MAX_SWAPFILES; i++)
		if (areas[i].used)
			memset(areas[i].refs, 0, areas[i].max * sizeof(*areas[i].refs));
}

void swap_refs_add(swp_entry_t entry)
{
	struct swap_area *a = lock_entry(entry);

	if (!a)
		panic("mm_rmap_check: a page table holds bad swap entry %#lx", entry.val);
	a->refs[swp_offset(entry)]++;
	spin_unlock(&a->lock);
}

void swap_refs_verify(void)
{
	for (unsigned int i = 0; i < MAX_SWAPFILES; i++) {
		struct swap_area *a = &areas[i];

		if (!a->used)
			continue;
		spin_lock(&a->lock);
		for (unsigned long k = 1; k < a->max; k++) {
			struct page *p = a->cache[k / SWAP_CACHE_PER_FRAME][k % SWAP_CACHE_PER_FRAME];
			unsigned int want = a->refs[k] + (p ? 1u : 0u);

			if (a->map[k] == SWAP_MAP_BAD || a->map[k] == want)
				continue;
			spin_unlock(&a->lock);
			panic("mm_rmap_check: %s: slot %lu has count %u, but %u page-table "
			      "entries name it and the swap cache %s it", a->path, k, a->map[k],
			      a->refs[k], p ? "holds" : "does not hold");
		}
		spin_unlock(&a->lock);
	}
}

/* ---- Views and checks ---- */

void si_swapinfo(unsigned long *total, unsigned long *free)
{
	*total = *free = 0;
	spin_lock(&swap_lock);
	for (unsigned int i = 0; i < MAX_SWAPFILES; i++) {
		if (!areas[i].used)
			continue;
		/* inuse changes under the area's lock (swap_free takes no other). */
		spin_lock(&areas[i].lock);
		*total += areas[i].pages;
		*free += areas[i].pages - areas[i].inuse;
		spin_unlock(&areas[i].lock);
	}
	spin_unlock(&swap_lock);
}

void swaps_show(struct seq_buf *s, long arg)
{
	seq_printf(s, "%-40s%-16s%-16s%-16s%s\n", "Filename", "Type", "Size", "Used",
		   "Priority");
	spin_lock(&swap_lock);
	for (unsigned int i = 0; i < MAX_SWAPFILES; i++) {
		struct swap_area *a = &areas[i];
		unsigned long inuse;

		if (!a->used)
			continue;
		spin_lock(&a->lock);
		inuse = a->inuse;
		spin_unlock(&a->lock);
		seq_printf(s, "%-40s%-16s%-16lu%-16lu%d\n", a->path, "file",
			   a->pages * (PAGE_SIZE / 1024), inuse * (PAGE_SIZE / 1024), a->prio);
	}
	spin_unlock(&swap_lock);
}

int swap_check(void)
{
	spin_lock(&swap_lock);
	for (unsigned int i = 0; i < MAX_SWAPFILES; i++) {
		struct swap_area *a = &areas[i];
		unsigned long inuse = 0, bad = 0;

		if (!a->used)
			continue;
		spin_lock(&a->lock);
		for (unsigned long c = 0; c < a->nr_clusters; c++) {
			unsigned long used = 0;

			for (unsigned long k = c * SWAP_CLUSTER_SLOTS;
			     k < (c + 1) * SWAP_CLUSTER_SLOTS; k++) {
				if (k >= a->max)
					used++;
				else if (a->map[k] == SWAP_MAP_BAD)
					used++, bad++;
				else if (a->map[k])
					used++, inuse++;
				if (k < a->max) {
					struct page *p = a->cache[k / SWAP_CACHE_PER_FRAME]
								 [k % SWAP_CACHE_PER_FRAME];

					if (p && (!page_flag(p, PG_swapcache) ||
						  p->private != swp_entry(i, k).val || !a->map[k] ||
						  a->map[k] == SWAP_MAP_BAD))
						panic("swap_check: %s: slot %lu (count %u) caches page "
						      "%#lx that is not its swap-cache page", a->path,
						      k, a->map[k], page_to_pfn(p));
					/* The cache's reference, one per mapping; on an
					   anonymous LRU list. */
					if (p && (!page_flag(p, PG_swapbacked) ||
						  !page_flag(p, PG_lru) ||
						  page_ref_count(p) !=
							  atomic_load(&p->_mapcount) + 2))
						panic("swap_check: %s: swap-cache page %#lx of slot %lu "
						      "has count %d, mapcount %d, flags %#lx", a->path,
						      page_to_pfn(p), k, page_ref_count(p),
						      atomic_load(&p->_mapcount),
						      (unsigned long)atomic_load(&p->flags));
				}
			}
			if (used != a->cluster_used[c])
				panic("swap_check: %s: cluster %lu has %lu slots used, counted %u",
				      a->path, c, used, a->cluster_used[c]);
		}
		if (inuse != a->inuse || a->pages + bad != a->max)
			panic("swap_check: %s: %lu slots in use (counted %lu), %lu bad, %lu usable "
			      "of %lu", a->path, inuse, a->inuse, bad, a->pages, a->max);
		spin_unlock(&a->lock);
	}
	spin_unlock(&swap_lock);
	return 0;
}
