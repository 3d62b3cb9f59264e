/*
 * hostfs: the emulated machine's root file system is a host directory, and
 * its disks are host files (the arch side of include/kmm/arch.h, "Files and
 * block devices").
 *
 * The core names files by absolute paths inside the root. Every lookup goes
 * through openat2(RESOLVE_IN_ROOT) on a descriptor of the root directory, so
 * ".." and symbolic links resolve as if the root were the host's "/" (as
 * under chroot) and no path can leave it; where openat2 is missing a path
 * with a ".." component is refused instead. /dev/NAME is the disk NAME given
 * at boot (--disk NAME=FILE): a block device the size of its file, which
 * neither grows nor shrinks.
 *
 * A read-only root (the default) refuses any open for writing, truncation or
 * creation with EROFS, as a file system mounted read-only does; disks are
 * writable always (they are explicitly given).
 *
 * Host errors are passed on as they are: the host is Linux, its errno values
 * are the core's.
 *
 * Fault injection (emu_fs_fail): rules keyed by path and operation make the
 * Nth .. N+count-1th read or write of a file fail with a chosen error, or
 * write half and fail (a short write), so tests can prove the page cache
 * reports every I/O error.
 *
 * Locking: fs_lock (a host mutex, a leaf lock) protects the list of open
 * files and the fault rules; I/O itself runs unlocked (pread/pwrite are
 * positioned and thread-safe).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <kmm/arch.h>
#include <kmm/emu.h>
#include <kmm/errno.h>
#include <kmm/fs.h>

#include "hostfs.h"

#define MAX_DISKS 8
#define MAX_RULES 8
#define PATH_MAX_KMM 4096

struct disk {
	char name[32];
	char file[1024];
};

struct arch_file {
	int fd;
	bool bdev;
	uint64_t bdev_size;
	uint32_t dev;
	char path[256];              /* as the core named it (for fault rules) */
	struct arch_file *next, **pprev;
};

struct fault_rule {
	char path[256];
	enum emu_fs_op op;
	unsigned long nth, count, calls;
	int err;
};

static pthread_mutex_t fs_lock = PTHREAD_MUTEX_INITIALIZER;
static int root_fd = -1;
static bool root_rw;
static bool have_openat2 = true;
static struct disk disks[MAX_DISKS];
static unsigned int nr_disks;
static struct arch_file *open_files;
static unsigned int nr_open;
static struct fault_rule rules[MAX_RULES];
static unsigned int nr_rules;
static unsigned long nr_failed;
static unsigned long nr_calls[2];   /* by enum emu_fs_op; relaxed atomics */

/* ---- Boot ---- */

static int parse_disks(const char *spec, char *err, size_t errlen)
{
	const char *p = spec;

	nr_disks = 0;
	while (*p) {
		size_t len = strcspn(p, ",");
		const char *eq = memchr(p, '=', len);
		struct disk *d;

		if (!len) {
			p++;
			continue;
		}
		if (!eq || eq == p || eq + 1 == p + len) {
			snprintf(err, errlen, "bad disk '%.*s' (NAME=FILE)", (int)len, p);
			return -KMM_EINVAL;
		}
		if (nr_disks == MAX_DISKS) {
			snprintf(err, errlen, "more than %d disks", MAX_DISKS);
			return -KMM_EINVAL;
		}
		d = &disks[nr_disks];
		if ((size_t)(eq - p) >= sizeof(d->name) || memchr(p, '/', (size_t)(eq - p)) ||
		    (size_t)(p + len - eq - 1) >= sizeof(d->file)) {
			snprintf(err, errlen, "bad disk '%.*s' (NAME of up to 31 characters "
				 "without '/', FILE of up to 1023)", (int)len, p);
			return -KMM_EINVAL;
		}
		memcpy(d->name, p, (size_t)(eq - p));
		d->name[eq - p] = '\0';
		memcpy(d->file, eq + 1, (size_t)(p + len - eq - 1));
		d->file[p + len - eq - 1] = '\0';
		for (unsigned int i = 0; i < nr_disks; i++)
			if (!strcmp(disks[i].name, d->name)) {
				snprintf(err, errlen, "disk '%s' given twice", d->name);
				return -KMM_EINVAL;
			}
		{
			struct stat st;

			if (stat(d->file, &st) || !S_ISREG(st.st_mode)) {
				snprintf(err, errlen, "disk %s: '%s' is not a regular file",
					 d->name, d->file);
				return -KMM_EINVAL;
			}
		}
		nr_disks++;
		p += len;
	}
	return 0;
}

int hostfs_boot(const struct emu_config *cfg, char *err, size_t errlen)
{
	const char *root = cfg->root[0] ? cfg->root : "/";
	struct stat st;
	int ret;

	emu_fs_fail_clear();
	ret = parse_disks(cfg->disks, err, errlen);
	if (ret)
		return ret;
	root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0 || fstat(root_fd, &st)) {
		ret = -errno;
		if (root_fd >= 0)
			close(root_fd);
		root_fd = -1;
		snprintf(err, errlen, "root '%s' is not a directory we can open (%s)", root,
			 strerror(-ret));
		return ret;
	}
	root_rw = cfg->root_rw;
	have_openat2 = true;
	return 0;
}

/* Closes every host file still open: the machine is gone, its inodes too. */
void hostfs_shutdown(void)
{
	pthread_mutex_lock(&fs_lock);
	while (open_files) {
		struct arch_file *f = open_files;

		open_files = f->next;
		close(f->fd);
		free(f);
	}
	nr_open = 0;
	pthread_mutex_unlock(&fs_lock);
	if (root_fd >= 0)
		close(root_fd);
	root_fd = -1;
	nr_disks = 0;
	emu_fs_fail_clear();
}

/* ---- Open ---- */

static bool has_dotdot(const char *path)
{
	for (const char *p = path; (p = strstr(p, "..")); p += 2)
		if ((p == path || p[-1] == '/') && (p[2] == '/' || p[2] == '\0'))
			return true;
	return false;
}

static int open_in_root(const char *path, int oflags, unsigned int mode)
{
	const char *rel = path + 1;   /* relative to the root descriptor */
	int fd;

	if (!*rel)
		rel = ".";
	if (have_openat2) {
		struct open_how how = {
			.flags = (uint64_t)oflags,
			.mode = (oflags & O_CREAT) ? mode : 0,
			.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
		};

		fd = (int)syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));
		if (fd >= 0 || errno != ENOSYS)
			return fd < 0 ? -errno : fd;
		have_openat2 = false;
	}
	if (has_dotdot(path))
		return -KMM_EACCES;
	fd = openat(root_fd, rel, oflags, mode);
	return fd < 0 ? -errno : fd;
}

static struct disk *find_disk(const char *path)
{
	if (strncmp(path, "/dev/", 5))
		return NULL;
	for (unsigned int i = 0; i < nr_disks; i++)
		if (!strcmp(path + 5, disks[i].name))
			return &disks[i];
	return NULL;
}

int arch_fs_open(const char *path, int flags, unsigned int mode, struct arch_file **out)
{
	int acc = flags & KMM_O_ACCMODE;
	int oflags = O_CLOEXEC | O_NOCTTY | O_NONBLOCK;   /* a FIFO must not block */
	struct disk *disk;
	struct arch_file *f;
	struct stat st;
	int fd;

	if (!path || !out)
		return -KMM_EINVAL;
	if (root_fd < 0)
		return -KMM_ENODEV;
	if (path[0] != '/')
		return -KMM_ENOENT;
	if (strlen(path) >= PATH_MAX_KMM)
		return -KMM_ENAMETOOLONG;
	if (acc == KMM_O_ACCMODE)
		return -KMM_EINVAL;
	oflags |= acc == KMM_O_RDONLY ? O_RDONLY : acc == KMM_O_WRONLY ? O_WRONLY : O_RDWR;
	disk = find_disk(path);
	if (disk) {
		if ((flags & KMM_O_CREAT) && (flags & KMM_O_EXCL))
			return -KMM_EEXIST;
		fd = open(disk->file, oflags);
		if (fd < 0)
			return -errno;
	} else {
		if (!root_rw && (acc != KMM_O_RDONLY || (flags & KMM_O_TRUNC)))
			return -KMM_EROFS;
		if (flags & KMM_O_TRUNC)
			oflags |= O_TRUNC;
		if (flags & KMM_O_CREAT) {
			if (!root_rw) {
				/* Creation is refused; opening what exists is not. */
				fd = open_in_root(path, oflags, 0);
				if (fd == -KMM_ENOENT)
					return -KMM_EROFS;
				if (fd >= 0 && (flags & KMM_O_EXCL)) {
					close(fd);
					return -KMM_EEXIST;
				}
				goto opened;
			}
			oflags |= O_CREAT;
			if (flags & KMM_O_EXCL)
				oflags |= O_EXCL;
		}
		fd = open_in_root(path, oflags, mode & 07777);
	}
opened:
	if (fd < 0)
		return fd;
	if (fstat(fd, &st)) {
		int e = -errno;

		close(fd);
		return e;
	}
	/*
	 * The cache holds regular files, directories and our disks. A host
	 * FIFO, socket or device has no pages to cache (and a FIFO would
	 * block): refused as a device that is not there, as ENXIO says.
	 */
	if (!disk && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		close(fd);
		return -KMM_ENXIO;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		close(fd);
		return -KMM_ENOMEM;
	}
	f->fd = fd;
	f->bdev = disk != NULL;
	f->bdev_size = (uint64_t)st.st_size;
	f->dev = disk ? (8u << 8) | (unsigned int)(disk - disks) * 16
		      : (uint32_t)(((major(st.st_dev) & 0xfff) << 8) | (minor(st.st_dev) & 0xff));
	snprintf(f->path, sizeof(f->path), "%s", path);
	pthread_mutex_lock(&fs_lock);
	f->next = open_files;
	if (open_files)
		open_files->pprev = &f->next;
	f->pprev = &open_files;
	open_files = f;
	nr_open++;
	pthread_mutex_unlock(&fs_lock);
	*out = f;
	return 0;
}

int arch_fs_stat(struct arch_file *f, struct arch_stat *out)
{
	struct stat st;

	if (!f || !out)
		return -KMM_EINVAL;
	if (fstat(f->fd, &st))
		return -errno;
	out->ino = (uint64_t)st.st_ino;
	out->dev = f->dev;
	if (f->bdev) {
		out->size = f->bdev_size;
		out->mode = 0060000 | 0660;   /* S_IFBLK */
		/* Unique among the machine's files: disks are not in the root. */
		out->ino = (1ULL << 63) | (uint64_t)st.st_ino;
	} else {
		out->size = (uint64_t)st.st_size;
		out->mode = (uint32_t)st.st_mode;
	}
	return 0;
}

void arch_fs_close(struct arch_file *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&fs_lock);
	*f->pprev = f->next;
	if (f->next)
		f->next->pprev = f->pprev;
	nr_open--;
	pthread_mutex_unlock(&fs_lock);
	close(f->fd);
	free(f);
}

unsigned long emu_fs_calls(enum emu_fs_op op)
{
	return op == EMU_FS_READ || op == EMU_FS_WRITE
		       ? __atomic_load_n(&nr_calls[op], __ATOMIC_RELAXED) : 0;
}

unsigned int emu_fs_open_files(void)
{
	unsigned int n;

	pthread_mutex_lock(&fs_lock);
	n = nr_open;
	pthread_mutex_unlock(&fs_lock);
	return n;
}

/* ---- Fault injection ---- */

int emu_fs_fail(const char *path, enum emu_fs_op op, unsigned long nth,
		unsigned long count, int err)
{
	int ret = 0;

	if (!path || strlen(path) >= sizeof(rules[0].path) || nth == 0 || count == 0 ||
	    (op != EMU_FS_READ && op != EMU_FS_WRITE) || err > 0 || err < -4095)
		return -KMM_EINVAL;
	pthread_mutex_lock(&fs_lock);
	if (nr_rules == MAX_RULES) {
		ret = -KMM_ENOSPC;
	} else {
		struct fault_rule *r = &rules[nr_rules++];

		*r = (struct fault_rule){ .op = op, .nth = nth, .count = count, .err = err };
		snprintf(r->path, sizeof(r->path), "%s", path);
	}
	pthread_mutex_unlock(&fs_lock);
	return ret;
}

void emu_fs_fail_clear(void)
{
	pthread_mutex_lock(&fs_lock);
	nr_rules = 0;
	nr_failed = 0;
	pthread_mutex_unlock(&fs_lock);
}

unsigned long emu_fs_failed(void)
{
	unsigned long n;

	pthread_mutex_lock(&fs_lock);
	n = nr_failed;
	pthread_mutex_unlock(&fs_lock);
	return n;
}

/* The injected result of this call: 1 to proceed, else *err (0: short write). */
static bool injected(struct arch_file *f, enum emu_fs_op op, int *err)
{
	bool fail = false;

	if (__atomic_load_n(&nr_rules, __ATOMIC_RELAXED) == 0)
		return false;
	pthread_mutex_lock(&fs_lock);
	for (unsigned int i = 0; i < nr_rules; i++) {
		struct fault_rule *r = &rules[i];

		if (r->op != op || strcmp(r->path, f->path))
			continue;
		r->calls++;
		if (r->calls >= r->nth && r->calls - r->nth < r->count && !fail) {
			fail = true;
			*err = r->err;
			nr_failed++;
		}
	}
	pthread_mutex_unlock(&fs_lock);
	return fail;
}

/* ---- I/O ---- */

static size_t iov_total(const struct arch_iovec *iov, int n)
{
	size_t t = 0;

	for (int i = 0; i < n; i++)
		t += iov[i].len;
	return t;
}

/*
 * preadv/pwritev until everything moved, EOF (reads) or an error. The
 * host's iovec array is rebuilt past what was done after a short transfer.
 */
static long do_io(struct arch_file *f, uint64_t off, const struct arch_iovec *iov, int n,
		  bool write, size_t limit)
{
	struct iovec hv[256];
	size_t done = 0, total = iov_total(iov, n);

	if (n < 0 || n > 256)
		return -KMM_EINVAL;
	if (total > limit)
		total = limit;
	while (done < total) {
		size_t skip = done, left = total - done;
		int hn = 0;
		ssize_t r;

		for (int i = 0; i < n && left; i++) {
			size_t len = iov[i].len;

			if (skip >= len) {
				skip -= len;
				continue;
			}
			len -= skip;
			if (len > left)
				len = left;
			hv[hn].iov_base = (char *)iov[i].base + skip;
			hv[hn].iov_len = len;
			hn++;
			left -= len;
			skip = 0;
		}
		r = write ? pwritev(f->fd, hv, hn, (off_t)(off + done))
			  : preadv(f->fd, hv, hn, (off_t)(off + done));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return done ? (long)done : -errno;
		}
		if (r == 0) {
			if (write)
				return done ? (long)done : -KMM_EIO;
			break;   /* end of file */
		}
		done += (size_t)r;
	}
	return (long)done;
}

long arch_fs_readv(struct arch_file *f, uint64_t off, const struct arch_iovec *iov, int n)
{
	size_t limit = SIZE_MAX;
	int err;

	if (!f || (n && !iov))
		return -KMM_EINVAL;
	__atomic_fetch_add(&nr_calls[EMU_FS_READ], 1, __ATOMIC_RELAXED);
	if (injected(f, EMU_FS_READ, &err))
		return err ? err : -KMM_EIO;
	if (f->bdev) {
		if (off >= f->bdev_size)
			return 0;
		limit = (size_t)(f->bdev_size - off);
	}
	return do_io(f, off, iov, n, false, limit);
}

long arch_fs_writev(struct arch_file *f, uint64_t off, const struct arch_iovec *iov, int n)
{
	size_t total = iov_total(iov, n), limit = SIZE_MAX;
	int err;

	if (!f || (n && !iov))
		return -KMM_EINVAL;
	__atomic_fetch_add(&nr_calls[EMU_FS_WRITE], 1, __ATOMIC_RELAXED);
	if (injected(f, EMU_FS_WRITE, &err)) {
		long r;

		if (err)
			return err;
		/* A short write: half goes to the file, then the disk is full. */
		r = do_io(f, off, iov, n, true, total / 2);
		return r < 0 ? r : -KMM_ENOSPC;
	}
	if (f->bdev) {
		if (off >= f->bdev_size)
			return -KMM_ENOSPC;
		limit = (size_t)(f->bdev_size - off);
		if (limit < total) {
			long r = do_io(f, off, iov, n, true, limit);

			return r < 0 ? r : -KMM_ENOSPC;
		}
	}
	return do_io(f, off, iov, n, true, limit);
}

long arch_fs_read(struct arch_file *f, uint64_t off, void *buf, size_t len)
{
	struct arch_iovec v = { buf, len };

	return arch_fs_readv(f, off, &v, 1);
}

long arch_fs_write(struct arch_file *f, uint64_t off, const void *buf, size_t len)
{
	struct arch_iovec v = { (void *)buf, len };

	return arch_fs_writev(f, off, &v, 1);
}

int arch_fs_truncate(struct arch_file *f, uint64_t size)
{
	if (!f)
		return -KMM_EINVAL;
	if (f->bdev)
		return -KMM_EINVAL;
	if (size > (uint64_t)INT64_MAX)
		return -KMM_EFBIG;
	return ftruncate(f->fd, (off_t)size) ? -errno : 0;
}

int arch_fs_fsync(struct arch_file *f, bool datasync)
{
	if (!f)
		return -KMM_EINVAL;
	return (datasync ? fdatasync(f->fd) : fsync(f->fd)) ? -errno : 0;
}
