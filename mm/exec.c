/*
 * exec (ULK3 ch. 20 "Program Execution"): a fresh address space replaces
 * the old one, laid out as x86-64 Linux lays out a process without
 * address-space randomization:
 *
 *   STACK_TOP (0x7ffffffff000)  the stack area, VM_GROWSDOWN: the argument
 *                               pages and 128 KiB below them, growing on
 *                               faults up to stack_limit (RLIMIT_STACK)
 *   mmap_base (0x7ffff7fff000)  top-down mmap allocations start below here
 *                               (Linux's mmap_base(): STACK_TOP less the
 *                               stack limit and its guard gap, >= 128 MiB):
 *                               the dynamic loader, then the libraries
 *   0x555555554000              a PIE (ET_DYN) program (ELF_ET_DYN_BASE),
 *                               its bss, then the heap (brk)
 *
 * task_exec(t) builds only the stack and an empty heap. task_exec_file
 * loads a real ELF64 x86-64 program from the root file system:
 *
 *   1. The program's headers are read through the page cache (kernel_read)
 *      and checked: magic, class, byte order, type, machine, header sizes,
 *      program headers inside the file and at most 64 KiB of them, each
 *      PT_LOAD with p_filesz <= p_memsz, its file part inside the file,
 *      p_offset and p_vaddr congruent modulo the page size, a power-of-two
 *      alignment, in ascending order without overlap. A PT_INTERP names the
 *      dynamic loader, which is opened and checked the same way. Anything
 *      wrong is -ENOEXEC with a printk line saying what.
 *   2. The DT_NEEDED libraries are found as ld.so finds them (the standard
 *      directories, breadth first, each object once) and checked too; a
 *      library that is missing or malformed is reported and left out, since
 *      on Linux exec succeeds and the loader fails later.
 *   3. A new mm is built beside the old one: PT_LOAD segments are mapped
 *      privately from the file (Linux's elf_map), the tail of the last file
 *      page zeroed through a private copy (padzero) and the rest of the bss
 *      mapped anonymous; the loader is mapped as the kernel maps it (its
 *      span placed top-down), the libraries as ld.so maps them (the whole
 *      span from the first segment, the holes made PROT_NONE, the other
 *      segments mapped fixed over it, then the bss), and PT_GNU_RELRO made
 *      read-only as ld.so does after relocation. The stack receives the
 *      strings, AT_RANDOM's 16 bytes, then argc, argv, envp and the
 *      auxiliary vector, as create_elf_tables lays them out.
 *   4. Only then does the task switch to the new mm and drop the old one.
 *      Every failure before that leaves the old address space untouched
 *      (Linux's point of no return comes earlier; kmm can afford to build
 *      the new space first because it holds no instruction state).
 *
 * No instruction runs: pages are demand-paged when a scenario touches them.
 *
 * Locking: the new mm belongs to nobody until step 4; do_mmap and
 * do_mprotect take its mmap_lock as for any mm, and stores into it (the
 * stack, padzero) fault pages in under its read lock.
 */
#include <kmm/errno.h>
#include <kmm/fs.h>
#include <kmm/mm.h>
#include <kmm/mman.h>
#include <kmm/page_alloc.h>
#include <kmm/printk.h>
#include <kmm/slab.h>
#include <kmm/string.h>

#include "vma_internal.h"

#define INITIAL_STACK_SIZE (128UL << 10)   /* Linux's stack_expand */
#define ELF_ET_DYN_BASE 0x555555554000UL
#define MMAP_MIN_GAP (128UL << 20)
#define MMAP_MAX_GAP ((TASK_SIZE / 6) * 5)

/* Linux's VM_STACK_DEFAULT_FLAGS on x86-64 (a non-executable stack). */
#define VM_STACK_DEFAULT_FLAGS \
	(VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC | VM_GROWSDOWN | VM_ACCOUNT)

static uintptr_t mmap_base_for(uintptr_t stack_limit)
{
	uintptr_t gap = stack_limit + STACK_GUARD_GAP;

	gap = CLAMP(gap, MMAP_MIN_GAP, MMAP_MAX_GAP);
	return ALIGN_UP(STACK_TOP - gap, PAGE_SIZE);
}

int setup_new_address_space(struct mm *mm)
{
	struct vm_area *stack = vm_area_alloc(mm);
	int err;

	if (!stack)
		return -KMM_ENOMEM;
	if (!mm->stack_limit)
		mm->stack_limit = DEFAULT_STACK_LIMIT;
	stack->vm_start = STACK_TOP - INITIAL_STACK_SIZE;
	stack->vm_end = STACK_TOP;
	stack->vm_flags = VM_STACK_DEFAULT_FLAGS;
	stack->vm_pgoff = stack->vm_start >> PAGE_SHIFT;
	write_lock(&mm->mmap_lock);
	err = vma_link(mm, stack);
	if (!err) {
		mm->start_stack = STACK_TOP;
		mm->mmap_base = mmap_base_for(mm->stack_limit);
		mm->start_brk = mm->brk = ELF_ET_DYN_BASE;
		mm->start_code = mm->end_code = ELF_ET_DYN_BASE;
		mm->start_data = mm->end_data = ELF_ET_DYN_BASE;
	}
	write_unlock(&mm->mmap_lock);
	if (err)
		vm_area_free(stack);
	return err;
}

/* Puts mm in t's place and drops the old one (the point of no return). */
static void exec_mmap(struct task *t, struct mm *mm)
{
	struct mm *old = t->mm;

	__atomic_store_n(&t->mm, mm, __ATOMIC_RELEASE);
	mmput(old);
}

/* A fresh mm with the task's stack limit (RLIMIT_STACK survives exec). */
static struct mm *exec_mm_alloc(struct task *t)
{
	struct mm *mm = mm_alloc();

	if (!mm)
		return NULL;
	mm->stack_limit = t->mm->stack_limit;
	if (setup_new_address_space(mm)) {
		mmput(mm);
		return NULL;
	}
	return mm;
}

int task_exec(struct task *t)
{
	struct mm *mm;

	if (!t || t->state != TASK_RUNNING || !t->mm)
		return -KMM_ESRCH;
	mm = exec_mm_alloc(t);
	if (!mm)
		return -KMM_ENOMEM;
	exec_mmap(t, mm);
	return 0;
}

/* ---- ELF64 (the System V ABI's structures, x86-64 supplement) ---- */

#define EI_NIDENT 16
#define ELFCLASS64 2
#define ELFDATA2LSB 1
#define EV_CURRENT 1
#define ET_EXEC 2
#define ET_DYN 3
#define EM_X86_64 62

#define PT_LOAD 1
#define PT_DYNAMIC 2
#define PT_INTERP 3
#define PT_PHDR 6
#define PT_GNU_RELRO 0x6474e552

#define PF_X 1
#define PF_W 2
#define PF_R 4

#define DT_NULL 0
#define DT_NEEDED 1
#define DT_STRTAB 5
#define DT_STRSZ 10

#define AT_NULL 0
#define AT_PHDR 3
#define AT_PHENT 4
#define AT_PHNUM 5
#define AT_PAGESZ 6
#define AT_BASE 7
#define AT_FLAGS 8
#define AT_ENTRY 9
#define AT_UID 11
#define AT_EUID 12
#define AT_GID 13
#define AT_EGID 14
#define AT_PLATFORM 15
#define AT_HWCAP 16
#define AT_CLKTCK 17
#define AT_SECURE 23
#define AT_RANDOM 25
#define AT_EXECFN 31

struct elf64_ehdr {
	unsigned char e_ident[EI_NIDENT];
	uint16_t e_type;
	uint16_t e_machine;
	uint32_t e_version;
	uint64_t e_entry;
	uint64_t e_phoff;
	uint64_t e_shoff;
	uint32_t e_flags;
	uint16_t e_ehsize;
	uint16_t e_phentsize;
	uint16_t e_phnum;
	uint16_t e_shentsize;
	uint16_t e_shnum;
	uint16_t e_shstrndx;
};

struct elf64_phdr {
	uint32_t p_type;
	uint32_t p_flags;
	uint64_t p_offset;
	uint64_t p_vaddr;
	uint64_t p_paddr;
	uint64_t p_filesz;
	uint64_t p_memsz;
	uint64_t p_align;
};

struct elf64_dyn {
	int64_t d_tag;
	uint64_t d_val;
};

_Static_assert(sizeof(struct elf64_ehdr) == 64, "ELF64 header is 64 bytes");
_Static_assert(sizeof(struct elf64_phdr) == 56, "ELF64 program header is 56 bytes");

/* Linux's limits: program headers fit in 64 KiB; the loader's path in a page. */
#define ELF_MIN_ALIGN 65536UL
#define INTERP_MAX 4096UL
/* Strings: MAX_ARG_STRLEN, and objects the loader maps at most. */
#define MAX_ARG_STRLEN (32UL * PAGE_SIZE)
#define MAX_OBJECTS 128
#define NEEDED_NAME_MAX 256
#define DYNAMIC_MAX (64UL << 10)

/* One ELF object: the program, the loader or a library. */
struct elf_image {
	struct file *file;
	char path[256];
	char name[NEEDED_NAME_MAX];   /* what DT_NEEDED names it by (ld.so's l_name) */
	struct elf64_ehdr eh;
	struct elf64_phdr *ph;
	const struct elf64_phdr *first, *last;   /* the lowest and highest PT_LOAD */
	const struct elf64_phdr *interp, *dynamic, *relro, *phdr;
	uintptr_t bias;                          /* where it was loaded, less p_vaddr */
};

static size_t kmm_strnlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

static const char *basename_of(const char *path)
{
	const char *base = path;

	for (const char *s = path; *s; s++)
		if (*s == '/' && s[1])
			base = s + 1;
	return base;
}

#define PAGE_DOWN(x) ((x) & PAGE_MASK)
#define PAGE_OFF(x) ((x) & ~PAGE_MASK)

static long elf_fail(const struct elf_image *img, const char *what)
{
	printk("exec: %s: %s: not a loadable ELF64 x86-64 object (ENOEXEC)\n", img->path, what);
	return -KMM_ENOEXEC;
}

/* Reads exactly len bytes at off; -ENOEXEC if the file is shorter. */
static long read_exact(struct elf_image *img, uint64_t off, void *buf, size_t len,
		       const char *what)
{
	loff_t pos = (loff_t)off;
	long n;

	if (off > (uint64_t)INT64_MAX - len)
		return elf_fail(img, what);
	n = kernel_read(img->file, buf, len, &pos);
	if (n < 0)
		return n;
	if ((size_t)n != len)
		return elf_fail(img, what);
	return 0;
}

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static void image_release(struct elf_image *img)
{
	if (img->ph)
		kfree(img->ph);
	if (img->file)
		fput(img->file);
	img->ph = NULL;
	img->file = NULL;
}

/*
 * Opens path and checks its headers (step 1 of the top comment). 0 with
 * img filled (image_release it), or -errno: the open's error, -EACCES for
 * something that is not a regular file (or, with need_exec, has no execute
 * bit: exec and the kernel's loading of the interpreter need one, ld.so's
 * mmap of a library does not), -ENOEXEC with a message for a malformed
 * object.
 */
static long image_open(struct elf_image *img, const char *path, bool need_exec)
{
	uint64_t isize, phsize, prev_end = 0;
	const struct elf64_ehdr *eh = &img->eh;
	struct inode *inode;
	long err;
	int ferr;

	*img = (struct elf_image){ 0 };
	kmm_strlcpy(img->path, path, sizeof(img->path));
	kmm_strlcpy(img->name, basename_of(path), sizeof(img->name));
	ferr = file_open(path, KMM_O_RDONLY, 0, &img->file);
	if (ferr) {
		img->file = NULL;
		return ferr == -KMM_EISDIR ? -KMM_EACCES : ferr;   /* Linux: a directory is EACCES */
	}
	inode = img->file->f_inode;
	err = -KMM_EACCES;
	/* A regular file with an execute bit (Linux: S_ISREG and MAY_EXEC). */
	if ((inode->i_mode & 0170000) != 0100000 || (need_exec && !(inode->i_mode & 0111)))
		goto fail;
	isize = (uint64_t)i_size_read(inode);
	err = read_exact(img, 0, &img->eh, sizeof(img->eh), "shorter than an ELF header");
	if (err)
		goto fail;
	err = -KMM_ENOEXEC;
	if (memcmp(eh->e_ident, "\177ELF", 4) != 0) {
		elf_fail(img, "bad magic");
		goto fail;
	}
	if (eh->e_ident[4] != ELFCLASS64) {
		elf_fail(img, "not ELFCLASS64");
		goto fail;
	}
	if (eh->e_ident[5] != ELFDATA2LSB) {
		elf_fail(img, "not little-endian");
		goto fail;
	}
	if (eh->e_ident[6] != EV_CURRENT) {
		elf_fail(img, "unknown ELF version");
		goto fail;
	}
	if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN) {
		elf_fail(img, "neither ET_EXEC nor ET_DYN");
		goto fail;
	}
	if (eh->e_machine != EM_X86_64) {
		elf_fail(img, "not EM_X86_64");
		goto fail;
	}
	if (eh->e_phentsize != sizeof(struct elf64_phdr)) {
		elf_fail(img, "e_phentsize is not 56");
		goto fail;
	}
	phsize = (uint64_t)eh->e_phnum * sizeof(struct elf64_phdr);
	if (eh->e_phnum < 1 || phsize > ELF_MIN_ALIGN) {
		elf_fail(img, "program header count 0 or over 64 KiB of headers");
		goto fail;
	}
	if (eh->e_phoff > isize || phsize > isize - eh->e_phoff) {
		elf_fail(img, "program headers outside the file");
		goto fail;
	}
	img->ph = kmalloc(phsize, GFP_KERNEL);
	if (!img->ph) {
		err = -KMM_ENOMEM;
		goto fail;
	}
	err = read_exact(img, eh->e_phoff, img->ph, phsize, "program headers truncated");
	if (err)
		goto fail;
	err = -KMM_ENOEXEC;
	for (unsigned int i = 0; i < eh->e_phnum; i++) {
		const struct elf64_phdr *p = &img->ph[i];

		switch (p->p_type) {
		case PT_LOAD:
			if (p->p_filesz > p->p_memsz) {
				elf_fail(img, "PT_LOAD with p_filesz > p_memsz");
				goto fail;
			}
			if (p->p_offset > isize || p->p_filesz > isize - p->p_offset) {
				elf_fail(img, "PT_LOAD outside the file");
				goto fail;
			}
			if (PAGE_OFF(p->p_offset) != PAGE_OFF(p->p_vaddr)) {
				elf_fail(img, "PT_LOAD p_offset and p_vaddr not congruent modulo the page size");
				goto fail;
			}
			if (p->p_align > 1 && !is_pow2(p->p_align)) {
				elf_fail(img, "PT_LOAD alignment not a power of two");
				goto fail;
			}
			if (p->p_vaddr >= TASK_SIZE || p->p_memsz > TASK_SIZE - p->p_vaddr) {
				elf_fail(img, "PT_LOAD beyond the user address space");
				goto fail;
			}
			if (!p->p_memsz)
				break;   /* nothing to map; Linux maps nothing either */
			if (img->last && p->p_vaddr < prev_end) {
				elf_fail(img, "PT_LOAD segments overlap or are not in ascending order");
				goto fail;
			}
			prev_end = p->p_vaddr + p->p_memsz;
			if (!img->first)
				img->first = p;
			img->last = p;
			break;
		case PT_INTERP:
			if (img->interp) {
				elf_fail(img, "two PT_INTERP headers");
				goto fail;
			}
			if (p->p_filesz < 2 || p->p_filesz > INTERP_MAX || p->p_offset > isize ||
			    p->p_filesz > isize - p->p_offset) {
				elf_fail(img, "PT_INTERP size or place invalid");
				goto fail;
			}
			img->interp = p;
			break;
		case PT_DYNAMIC:
			img->dynamic = p;
			break;
		case PT_GNU_RELRO:
			img->relro = p;
			break;
		case PT_PHDR:
			img->phdr = p;
			break;
		default:
			break;
		}
	}
	if (!img->first) {
		elf_fail(img, "no PT_LOAD segment");
		goto fail;
	}
	return 0;
fail:
	image_release(img);
	return err;
}

/* The file offset of virtual address v (in a PT_LOAD's file part), or -1. */
static int64_t vaddr_to_offset(const struct elf_image *img, uint64_t v, uint64_t len)
{
	for (unsigned int i = 0; i < img->eh.e_phnum; i++) {
		const struct elf64_phdr *p = &img->ph[i];

		if (p->p_type == PT_LOAD && v >= p->p_vaddr && v - p->p_vaddr < p->p_filesz &&
		    len <= p->p_filesz - (v - p->p_vaddr))
			return (int64_t)(p->p_offset + (v - p->p_vaddr));
	}
	return -1;
}

/* The page-aligned extent of an image's PT_LOAD segments. */
static uint64_t image_span(const struct elf_image *img)
{
	return ALIGN_UP(img->last->p_vaddr + img->last->p_memsz, PAGE_SIZE) -
	       PAGE_DOWN(img->first->p_vaddr);
}

static int elf_prot(uint32_t p_flags)
{
	return (p_flags & PF_R ? KMM_PROT_READ : 0) | (p_flags & PF_W ? KMM_PROT_WRITE : 0) |
	       (p_flags & PF_X ? KMM_PROT_EXEC : 0);
}

/* ---- Stores into the new mm ---- */

/*
 * Copies len bytes from src (or zeros, src NULL) to addr of mm, faulting
 * each page in for writing as a store would (a private file page is copied
 * first), and writing through the kernel's direct map. 0 or -errno.
 */
static int mm_store(struct mm *mm, uintptr_t addr, const void *src, size_t len)
{
	const unsigned char *from = src;
	int err = 0;

	read_lock(&mm->mmap_lock);
	while (len) {
		size_t chunk = MIN(len, PAGE_SIZE - PAGE_OFF(addr));
		struct vm_area *vma = vma_lookup(mm, addr);
		pteval_t *ptep;
		pteval_t e;

		if (!vma) {
			err = -KMM_EFAULT;
			break;
		}
		ptep = pte_lookup(mm, addr);
		e = ptep ? pte_read(ptep) : 0;
		if (!pte_present(e) || !pte_write(e)) {
			unsigned int fault = handle_mm_fault(vma, addr, FAULT_FLAG_WRITE);

			if (fault & VM_FAULT_ERROR) {
				err = fault & VM_FAULT_OOM ? -KMM_ENOMEM : -KMM_EFAULT;
				break;
			}
			ptep = pte_lookup(mm, addr);
			e = ptep ? pte_read(ptep) : 0;
			if (!pte_present(e) || !pte_write(e)) {
				err = -KMM_EFAULT;
				break;
			}
		}
		{
			unsigned char *to = (unsigned char *)page_address(pfn_to_page(pte_pfn(e))) +
					    PAGE_OFF(addr);

			if (from) {
				memcpy(to, from, chunk);
				from += chunk;
			} else {
				memset(to, 0, chunk);
			}
		}
		addr += chunk;
		len -= chunk;
	}
	read_unlock(&mm->mmap_lock);
	return err;
}

/*
 * Zeroes [start, end) of a segment's last file page (its bss begins inside
 * it): the store copies the page privately, so the file keeps its bytes. A
 * segment that is not writable is made writable for the moment, as ld.so
 * does.
 */
static int padzero(struct mm *mm, uintptr_t start, uintptr_t end, int prot)
{
	int err;

	if (start >= end)
		return 0;
	if (!(prot & KMM_PROT_WRITE)) {
		err = (int)do_mprotect(mm, PAGE_DOWN(start), PAGE_SIZE, prot | KMM_PROT_WRITE);
		if (err)
			return err;
	}
	err = mm_store(mm, start, NULL, end - start);
	if (!(prot & KMM_PROT_WRITE)) {
		int e2 = (int)do_mprotect(mm, PAGE_DOWN(start), PAGE_SIZE, prot);

		err = err ? err : e2;
	}
	return err;
}

/* ---- Mapping ---- */

static long map_fixed(struct mm *mm, struct file *file, uintptr_t addr, size_t len, int prot,
		      uint64_t off)
{
	int flags = KMM_MAP_PRIVATE | KMM_MAP_FIXED | (file ? 0 : KMM_MAP_ANONYMOUS);
	long r = do_mmap(mm, file, addr, len, prot, flags, file ? off >> PAGE_SHIFT : 0);

	return r < 0 ? r : 0;
}

/*
 * The bss of segment p (loaded at bias): the rest of its last file page
 * zeroed, whole pages beyond mapped anonymous with its protection.
 */
static long map_bss(struct mm *mm, const struct elf64_phdr *p, uintptr_t bias)
{
	uintptr_t zero = bias + p->p_vaddr + p->p_filesz;
	uintptr_t zeroend = bias + p->p_vaddr + p->p_memsz;
	uintptr_t zeropage = MIN(ALIGN_UP(zero, PAGE_SIZE), zeroend);
	int prot = elf_prot(p->p_flags);
	long err;

	if (p->p_memsz <= p->p_filesz)
		return 0;
	/* A segment with no file part has no file page to pad. */
	if (p->p_filesz) {
		err = padzero(mm, zero, zeropage, prot);
		if (err)
			return err;
	} else {
		zeropage = PAGE_DOWN(zero);
	}
	if (zeroend > zeropage)
		return map_fixed(mm, NULL, zeropage, ALIGN_UP(zeroend, PAGE_SIZE) - zeropage, prot,
				 0);
	return 0;
}

/*
 * The kernel's way (load_elf_binary, load_elf_interp): each PT_LOAD mapped
 * at bias + p_vaddr from the file, then its bss.
 */
static long map_image_kernel(struct mm *mm, struct elf_image *img)
{
	for (unsigned int i = 0; i < img->eh.e_phnum; i++) {
		const struct elf64_phdr *p = &img->ph[i];
		uintptr_t va = img->bias + p->p_vaddr;
		long err;

		if (p->p_type != PT_LOAD || !p->p_memsz)
			continue;
		if (p->p_filesz) {
			err = map_fixed(mm, img->file, PAGE_DOWN(va), PAGE_OFF(va) + p->p_filesz,
					elf_prot(p->p_flags), PAGE_DOWN(p->p_offset));
			if (err)
				return err;
		}
		err = map_bss(mm, p, img->bias);
		if (err)
			return err;
	}
	return 0;
}

/* A top-down free range for an image's span (mmap(NULL, span)), or -ENOMEM. */
static long find_span(struct mm *mm, uint64_t span)
{
	long r;

	write_lock(&mm->mmap_lock);
	r = get_unmapped_area(mm, 0, span, 0);
	write_unlock(&mm->mmap_lock);
	return r;
}

/*
 * ld.so's way (_dl_map_segments): the whole span mapped from the first
 * segment's offset with its protection, the holes between the first
 * segment and the last made PROT_NONE, the other segments mapped fixed
 * over the span, each followed by its bss.
 */
static long map_image_ldso(struct mm *mm, struct elf_image *img)
{
	const struct elf64_phdr *c = img->first;
	uint64_t span = image_span(img);
	uintptr_t base, mapend;
	long r;

	r = find_span(mm, span);
	if (r < 0)
		return r;
	base = (uintptr_t)r;
	img->bias = base - PAGE_DOWN(c->p_vaddr);
	r = do_mmap(mm, img->file, base, span, elf_prot(c->p_flags),
		    KMM_MAP_PRIVATE | KMM_MAP_FIXED, PAGE_DOWN(c->p_offset) >> PAGE_SHIFT);
	if (r < 0)
		return r;
	mapend = img->bias + ALIGN_UP(c->p_vaddr + c->p_filesz, PAGE_SIZE);
	if (img->last != c && img->bias + PAGE_DOWN(img->last->p_vaddr) > mapend) {
		r = do_mprotect(mm, mapend, img->bias + PAGE_DOWN(img->last->p_vaddr) - mapend,
				KMM_PROT_NONE);
		if (r)
			return r;
	}
	for (unsigned int i = 0; i < img->eh.e_phnum; i++) {
		const struct elf64_phdr *p = &img->ph[i];
		uintptr_t start = img->bias + PAGE_DOWN(p->p_vaddr);
		uintptr_t end = img->bias + ALIGN_UP(p->p_vaddr + p->p_filesz, PAGE_SIZE);

		if (p->p_type != PT_LOAD || !p->p_memsz)
			continue;
		if (p != c && end > start) {
			r = map_fixed(mm, img->file, start, end - start, elf_prot(p->p_flags),
				      PAGE_DOWN(p->p_offset));
			if (r)
				return r;
		}
		r = map_bss(mm, p, img->bias);
		if (r)
			return r;
	}
	return 0;
}

/* What ld.so does after relocating an object: PT_GNU_RELRO becomes read-only. */
static long apply_relro(struct mm *mm, const struct elf_image *img)
{
	uintptr_t start, end;

	if (!img->relro)
		return 0;
	start = PAGE_DOWN(img->bias + img->relro->p_vaddr);
	end = PAGE_DOWN(img->bias + img->relro->p_vaddr + img->relro->p_memsz);
	if (start >= end)
		return 0;
	return do_mprotect(mm, start, end - start, KMM_PROT_READ);
}

/* ---- Libraries (DT_NEEDED) ---- */

static const char *const lib_dirs[] = {
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib",
};

struct exec_objects {
	struct elf_image *img[MAX_OBJECTS];
	unsigned int n;
};

static bool name_loaded(const struct exec_objects *o, const char *name)
{
	for (unsigned int i = 0; i < o->n; i++)
		if (!kmm_strcmp(o->img[i]->name, name) || !kmm_strcmp(o->img[i]->path, name))
			return true;
	return false;
}

static bool already_loaded(const struct exec_objects *o, const struct inode *inode)
{
	for (unsigned int i = 0; i < o->n; i++) {
		const struct inode *other = o->img[i]->file->f_inode;

		if (other == inode || (other->i_ino == inode->i_ino && other->i_dev == inode->i_dev))
			return true;
	}
	return false;
}

/* Opens the library called name as ld.so searches for it; 0 or -errno. */
static long open_library(struct elf_image *img, const char *name)
{
	char path[256];
	long err = -KMM_ENOENT, e;

	if (name[0] == '/')
		return image_open(img, name, false);
	for (size_t i = 0; i < ARRAY_SIZE(lib_dirs); i++) {
		if ((size_t)kmm_snprintf(path, sizeof(path), "%s/%s", lib_dirs[i], name) >=
		    sizeof(path))
			return -KMM_ENAMETOOLONG;
		e = image_open(img, path, false);
		/* Like ld.so, go on past a file that is not there or not for this machine. */
		if (e != -KMM_ENOENT && e != -KMM_ENOEXEC && e != -KMM_EACCES)
			return e;
		/* Report the most telling failure: a file found but unusable. */
		if (err == -KMM_ENOENT)
			err = e;
	}
	return err;
}

/*
 * Reads img's DT_NEEDED names one by one and loads each object not loaded
 * yet (appending it to o: the breadth-first order ld.so uses). Problems of
 * a library are reported and skipped; only -ENOMEM stops the exec.
 */
static long load_needed(struct exec_objects *o, struct elf_image *img)
{
	const struct elf64_phdr *d = img->dynamic;
	struct elf64_dyn *dyn;
	uint64_t strtab = 0, strsz = 0, ndyn;
	int64_t stroff;
	long err = 0;

	if (!d || !d->p_filesz)
		return 0;
	if (d->p_filesz > DYNAMIC_MAX) {
		printk("exec: %s: PT_DYNAMIC larger than %lu bytes, libraries not loaded\n",
		       img->path, DYNAMIC_MAX);
		return 0;
	}
	ndyn = d->p_filesz / sizeof(*dyn);
	dyn = kmalloc(ndyn * sizeof(*dyn) + 1, GFP_KERNEL);
	if (!dyn)
		return -KMM_ENOMEM;
	if (read_exact(img, d->p_offset, dyn, ndyn * sizeof(*dyn), "PT_DYNAMIC outside the file")) {
		kfree(dyn);
		return 0;
	}
	for (uint64_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
		if (dyn[i].d_tag == DT_STRTAB)
			strtab = dyn[i].d_val;
		else if (dyn[i].d_tag == DT_STRSZ)
			strsz = dyn[i].d_val;
	}
	stroff = vaddr_to_offset(img, strtab, strsz);
	for (uint64_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL && !err; i++) {
		char name[NEEDED_NAME_MAX];
		struct elf_image *lib;
		loff_t pos;
		long n;

		if (dyn[i].d_tag != DT_NEEDED)
			continue;
		if (stroff < 0 || dyn[i].d_val >= strsz) {
			printk("exec: %s: DT_NEEDED outside the string table, skipped\n", img->path);
			continue;
		}
		pos = stroff + (loff_t)dyn[i].d_val;
		n = kernel_read(img->file, name, MIN(sizeof(name), strsz - dyn[i].d_val), &pos);
		if (n <= 0 || kmm_strnlen(name, (size_t)n) == (size_t)n || !name[0]) {
			printk("exec: %s: unreadable DT_NEEDED name, skipped\n", img->path);
			continue;
		}
		if (name_loaded(o, name))
			continue;
		if (o->n == MAX_OBJECTS) {
			printk("exec: %s: more than %d objects, %s not loaded\n", img->path,
			       MAX_OBJECTS, name);
			continue;
		}
		lib = kzalloc(sizeof(*lib), GFP_KERNEL);
		if (!lib) {
			err = -KMM_ENOMEM;
			break;
		}
		n = open_library(lib, name);
		if (n == -KMM_ENOMEM) {
			err = n;
		} else if (n) {
			printk("exec: %s: library %s not loadable (error %ld): the dynamic "
			       "loader would fail\n", img->path, name, -n);
		} else if (already_loaded(o, lib->file->f_inode)) {
			image_release(lib);
		} else {
			kmm_strlcpy(lib->name, name, sizeof(lib->name));
			o->img[o->n++] = lib;
			continue;
		}
		kfree(lib);
	}
	kfree(dyn);
	return err;
}

/* ---- The stack (create_elf_tables) ---- */

/* Pseudo-random bytes for AT_RANDOM: splitmix64 over the clock and a counter. */
static void exec_random(unsigned char out[16])
{
	static _Atomic uint64_t counter;
	uint64_t x = arch_now_ns() ^ (atomic_fetch_add(&counter, 1) * 0x9e3779b97f4a7c15ULL);

	for (int i = 0; i < 2; i++) {
		uint64_t z = (x += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		memcpy(out + 8 * i, &z, 8);
	}
}

struct exec_args {
	const char *filename;
	const char *const *argv;
	const char *const *envp;
	unsigned long argc, envc;
	size_t strings;           /* bytes of every string with its NUL */
};

static const char *const empty_argv[] = { "", NULL };

static long count_strings(const char *const *v, unsigned long *count, size_t *bytes)
{
	*count = 0;
	for (; v && *v; v++) {
		size_t len = kmm_strlen(*v) + 1;

		if (len > MAX_ARG_STRLEN)
			return -KMM_E2BIG;
		*bytes += len;
		(*count)++;
	}
	return 0;
}

/* Pushes a string below *p; returns its address. */
static long push_string(struct mm *mm, uintptr_t *p, const char *s)
{
	size_t len = kmm_strlen(s) + 1;
	long err;

	*p -= len;
	err = mm_store(mm, *p, s, len);
	return err ? err : (long)*p;
}

/*
 * Lays out the initial stack as Linux does: at the top an 8-byte end
 * marker, the file name (AT_EXECFN), the environment and argument strings;
 * below them, 16-byte aligned, the platform string and AT_RANDOM's bytes;
 * then argc, argv[], NULL, envp[], NULL and the auxiliary vector, with the
 * stack pointer (mm->start_stack) at argc, 16-byte aligned.
 */
static long create_elf_tables(struct mm *mm, struct exec_args *a, const struct elf_image *exe,
			      uintptr_t interp_base, uintptr_t phdr_addr)
{
	static const char platform[] = "x86_64";
	uintptr_t p = STACK_TOP - sizeof(uint64_t), execfn, u_platform, u_random, sp;
	uint64_t *table, *w;
	unsigned long items, n = 0;
	unsigned char rnd[16];
	long r;
	struct vm_area *stack;
	uintptr_t *argp, *envp;

	/* The strings must fit in a quarter of the stack limit (Linux's check). */
	if (a->strings + sizeof(platform) + 16 + 512 > mm->stack_limit / 4)
		return -KMM_E2BIG;
	argp = kmalloc((a->argc + a->envc + 1) * sizeof(uintptr_t), GFP_KERNEL);
	if (!argp)
		return -KMM_ENOMEM;
	envp = argp + a->argc;
	/* Room for the strings before writing any: grow the stack area to Linux's shape. */
	{
		uintptr_t lowest = STACK_TOP - sizeof(uint64_t) - a->strings -
				   sizeof(platform) - 16 - 64 -
				   (a->argc + a->envc + 64) * sizeof(uint64_t);
		uintptr_t want = PAGE_DOWN(lowest) - INITIAL_STACK_SIZE;

		write_lock(&mm->mmap_lock);
		stack = vma_lookup(mm, STACK_TOP - 1);
		if (stack && want < stack->vm_start)
			vma_set_range(mm, stack, want, stack->vm_end);
		write_unlock(&mm->mmap_lock);
	}
	r = mm_store(mm, p, "\0\0\0\0\0\0\0\0", sizeof(uint64_t));
	if (r)
		goto out;
	r = push_string(mm, &p, a->filename);
	if (r < 0)
		goto out;
	execfn = (uintptr_t)r;
	for (unsigned long i = a->envc; i-- > 0;) {
		r = push_string(mm, &p, a->envp[i]);
		if (r < 0)
			goto out;
		envp[i] = (uintptr_t)r;
	}
	for (unsigned long i = a->argc; i-- > 0;) {
		r = push_string(mm, &p, a->argv[i]);
		if (r < 0)
			goto out;
		argp[i] = (uintptr_t)r;
	}
	p &= ~(uintptr_t)15;
	r = push_string(mm, &p, platform);
	if (r < 0)
		goto out;
	u_platform = (uintptr_t)r;
	exec_random(rnd);
	p -= sizeof(rnd);
	u_random = p;
	r = mm_store(mm, p, rnd, sizeof(rnd));
	if (r)
		goto out;

	/* argc, argv + NULL, envp + NULL, then the auxiliary vector's pairs. */
	items = 1 + a->argc + 1 + a->envc + 1 + 2 * 18;
	table = kmalloc(items * sizeof(uint64_t), GFP_KERNEL);
	if (!table) {
		r = -KMM_ENOMEM;
		goto out;
	}
	w = table;
	*w++ = a->argc;
	for (unsigned long i = 0; i < a->argc; i++)
		*w++ = argp[i];
	*w++ = 0;
	for (unsigned long i = 0; i < a->envc; i++)
		*w++ = envp[i];
	*w++ = 0;
#define AUX(type, val) do { *w++ = (type); *w++ = (uint64_t)(val); n++; } while (0)
	AUX(AT_HWCAP, 0);
	AUX(AT_PAGESZ, PAGE_SIZE);
	AUX(AT_CLKTCK, 100);
	AUX(AT_PHDR, phdr_addr);
	AUX(AT_PHENT, sizeof(struct elf64_phdr));
	AUX(AT_PHNUM, exe->eh.e_phnum);
	AUX(AT_BASE, interp_base);
	AUX(AT_FLAGS, 0);
	AUX(AT_ENTRY, exe->bias + exe->eh.e_entry);
	AUX(AT_UID, 0);
	AUX(AT_EUID, 0);
	AUX(AT_GID, 0);
	AUX(AT_EGID, 0);
	AUX(AT_SECURE, 0);
	AUX(AT_RANDOM, u_random);
	AUX(AT_EXECFN, execfn);
	AUX(AT_PLATFORM, u_platform);
	AUX(AT_NULL, 0);
#undef AUX
	BUG_ON((size_t)(w - table) != items);
	sp = (p - items * sizeof(uint64_t)) & ~(uintptr_t)15;
	r = mm_store(mm, sp, table, items * sizeof(uint64_t));
	kfree(table);
	if (!r)
		mm->start_stack = sp;
out:
	kfree(argp);
	return r < 0 ? r : 0;
}

/* ---- exec ---- */

/* Where AT_PHDR points: PT_PHDR, or the PT_LOAD whose file part holds e_phoff. */
static uintptr_t phdr_address(const struct elf_image *img)
{
	if (img->phdr)
		return img->bias + img->phdr->p_vaddr;
	for (unsigned int i = 0; i < img->eh.e_phnum; i++) {
		const struct elf64_phdr *p = &img->ph[i];

		if (p->p_type == PT_LOAD && img->eh.e_phoff >= p->p_offset &&
		    img->eh.e_phoff - p->p_offset < p->p_filesz)
			return img->bias + p->p_vaddr + (img->eh.e_phoff - p->p_offset);
	}
	return 0;
}

/* The program's own segments: where it goes, then the layout fields of mm. */
static long load_program(struct mm *mm, struct elf_image *exe, bool has_interp)
{
	uint64_t start_code = UINT64_MAX, end_code = 0, start_data = 0, end_data = 0, elf_brk = 0;
	long r;

	if (exe->eh.e_type == ET_DYN) {
		uint64_t align = PAGE_SIZE;

		for (unsigned int i = 0; i < exe->eh.e_phnum; i++)
			if (exe->ph[i].p_type == PT_LOAD && exe->ph[i].p_align > align)
				align = exe->ph[i].p_align;
		if (has_interp) {
			/* Linux's ELF_ET_DYN_BASE, aligned down to the largest p_align. */
			exe->bias = (ELF_ET_DYN_BASE & ~(uintptr_t)(align - 1)) -
				    PAGE_DOWN(exe->first->p_vaddr);
		} else {
			/* A loader run as a program goes where mmap puts it. */
			r = find_span(mm, image_span(exe));
			if (r < 0)
				return r;
			exe->bias = (uintptr_t)r - PAGE_DOWN(exe->first->p_vaddr);
		}
		if (exe->bias + PAGE_DOWN(exe->first->p_vaddr) < MMAP_MIN_ADDR ||
		    image_span(exe) > TASK_SIZE - (exe->bias + PAGE_DOWN(exe->first->p_vaddr)))
			return -KMM_ENOMEM;
	} else if (PAGE_DOWN(exe->first->p_vaddr) < MMAP_MIN_ADDR) {
		printk("exec: %s: ET_EXEC segment below mmap_min_addr\n", exe->path);
		return -KMM_EPERM;
	}
	r = map_image_kernel(mm, exe);
	if (r)
		return r;
	for (unsigned int i = 0; i < exe->eh.e_phnum; i++) {
		const struct elf64_phdr *p = &exe->ph[i];

		if (p->p_type != PT_LOAD || !p->p_memsz)
			continue;
		if ((p->p_flags & PF_X) && p->p_vaddr < start_code)
			start_code = p->p_vaddr;
		if ((p->p_flags & PF_X) && p->p_vaddr + p->p_filesz > end_code)
			end_code = p->p_vaddr + p->p_filesz;
		if (p->p_vaddr > start_data)
			start_data = p->p_vaddr;
		if (p->p_vaddr + p->p_filesz > end_data)
			end_data = p->p_vaddr + p->p_filesz;
		if (p->p_vaddr + p->p_memsz > elf_brk)
			elf_brk = p->p_vaddr + p->p_memsz;
	}
	if (start_code == UINT64_MAX)
		start_code = end_code = 0;
	write_lock(&mm->mmap_lock);
	mm->start_code = exe->bias + start_code;
	mm->end_code = exe->bias + end_code;
	mm->start_data = exe->bias + start_data;
	mm->end_data = exe->bias + end_data;
	mm->start_brk = mm->brk = ALIGN_UP(exe->bias + elf_brk, PAGE_SIZE);
	write_unlock(&mm->mmap_lock);
	return 0;
}

static void objects_release(struct exec_objects *o)
{
	for (unsigned int i = 0; i < o->n; i++) {
		image_release(o->img[i]);
		kfree(o->img[i]);
	}
	o->n = 0;
}

static void set_comm(struct task *t, const char *path)
{
	kmm_strlcpy(t->comm, basename_of(path), sizeof(t->comm));
}

int task_exec_file(struct task *t, const char *path, const char *const *argv,
		   const char *const *envp)
{
	struct exec_objects *o;
	struct elf_image *exe, *interp = NULL;
	struct exec_args args = { .filename = path, .argv = argv, .envp = envp };
	struct mm *mm = NULL;
	long err;

	if (!t || t->state != TASK_RUNNING || !t->mm)
		return -KMM_ESRCH;
	if (!path)
		return task_exec(t);
	if (!path[0])
		return -KMM_ENOENT;
	if (kmm_strlen(path) >= 4096)
		return -KMM_ENAMETOOLONG;
	args.strings = kmm_strlen(path) + 1;
	err = count_strings(argv, &args.argc, &args.strings);
	if (!err)
		err = count_strings(envp, &args.envc, &args.strings);
	if (err)
		return (int)err;
	/* Linux 5.18 and later: an empty argv becomes { "" }. */
	if (!args.argc) {
		args.argv = empty_argv;
		args.argc = 1;
		args.strings += 1;
	}

	o = kzalloc(sizeof(*o), GFP_KERNEL);
	exe = kzalloc(sizeof(*exe), GFP_KERNEL);
	if (!o || !exe) {
		kfree(o);
		kfree(exe);
		return -KMM_ENOMEM;
	}
	err = image_open(exe, path, true);
	if (err) {
		kfree(exe);
		goto out;
	}
	o->img[o->n++] = exe;
	if (exe->interp) {
		char name[INTERP_MAX];

		err = read_exact(exe, exe->interp->p_offset, name, exe->interp->p_filesz,
				 "PT_INTERP outside the file");
		if (err)
			goto out;
		if (name[exe->interp->p_filesz - 1] != '\0' ||
		    kmm_strlen(name) != exe->interp->p_filesz - 1) {
			err = elf_fail(exe, "PT_INTERP path not a NUL-terminated string");
			goto out;
		}
		interp = kzalloc(sizeof(*interp), GFP_KERNEL);
		if (!interp) {
			err = -KMM_ENOMEM;
			goto out;
		}
		err = image_open(interp, name, true);
		if (err) {
			printk("exec: %s: interpreter %s cannot be loaded (error %ld)\n", path,
			       name, -err);
			kfree(interp);
			interp = NULL;
			if (err != -KMM_ENOMEM)
				err = -KMM_ENOEXEC;
			goto out;
		}
		o->img[o->n++] = interp;
		if (interp->interp || interp->eh.e_type != ET_DYN) {
			err = elf_fail(interp, "the interpreter is not a self-contained ET_DYN object");
			goto out;
		}
		/* ld.so's breadth-first walk of DT_NEEDED (the loader itself is loaded). */
		for (unsigned int i = 0; i < o->n && !err; i++)
			if (o->img[i] != interp)
				err = load_needed(o, o->img[i]);
		if (err)
			goto out;
	}

	mm = exec_mm_alloc(t);
	if (!mm) {
		err = -KMM_ENOMEM;
		goto out;
	}
	err = load_program(mm, exe, interp != NULL);
	if (err)
		goto out;
	if (interp) {
		/* The kernel maps the loader's span top-down below mmap_base. */
		err = find_span(mm, image_span(interp));
		if (err < 0)
			goto out;
		interp->bias = (uintptr_t)err - PAGE_DOWN(interp->first->p_vaddr);
		err = map_image_kernel(mm, interp);
		if (err)
			goto out;
		/* Then the loader maps the libraries, in the order it found them. */
		for (unsigned int i = 0; i < o->n && !err; i++)
			if (o->img[i] != exe && o->img[i] != interp)
				err = map_image_ldso(mm, o->img[i]);
		/* And after relocating, it protects every object's RELRO. */
		for (unsigned int i = 0; i < o->n && !err; i++)
			err = apply_relro(mm, o->img[i]);
		if (err)
			goto out;
	}
	err = create_elf_tables(mm, &args, exe, interp ? interp->bias : 0, phdr_address(exe));
	if (err)
		goto out;
	exec_mmap(t, mm);
	mm = NULL;
	set_comm(t, path);
out:
	if (mm)
		mmput(mm);   /* the old address space was never touched */
	objects_release(o);
	kfree(o);
	return (int)err;
}
