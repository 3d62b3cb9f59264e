/*
 * arch/native has no files: libkmm-malloc uses the page and slab
 * allocators only, but the core it links holds the page cache too, which
 * reaches files through these calls. Each fails with ENODEV, so the cache
 * can never be filled here.
 */
#include <kmm/arch.h>
#include <kmm/errno.h>

int arch_fs_open(const char *path, int flags, unsigned int mode, struct arch_file **out)
{
	return -KMM_ENODEV;
}

int arch_fs_stat(struct arch_file *f, struct arch_stat *st)
{
	return -KMM_ENODEV;
}

long arch_fs_read(struct arch_file *f, uint64_t off, void *buf, size_t len)
{
	return -KMM_ENODEV;
}

long arch_fs_write(struct arch_file *f, uint64_t off, const void *buf, size_t len)
{
	return -KMM_ENODEV;
}

long arch_fs_readv(struct arch_file *f, uint64_t off, const struct arch_iovec *iov, int n)
{
	return -KMM_ENODEV;
}

long arch_fs_writev(struct arch_file *f, uint64_t off, const struct arch_iovec *iov, int n)
{
	return -KMM_ENODEV;
}

int arch_fs_truncate(struct arch_file *f, uint64_t size)
{
	return -KMM_ENODEV;
}

int arch_fs_fsync(struct arch_file *f, bool datasync)
{
	return -KMM_ENODEV;
}

void arch_fs_close(struct arch_file *f)
{
}
