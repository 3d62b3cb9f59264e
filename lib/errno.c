/* Names of error numbers, for messages and for the Lua API ("ENOMEM"). */
#include <kmm/errno.h>
#include <kmm/types.h>

static const char *const errno_names[] = {
	[KMM_EPERM] = "EPERM",     [KMM_ENOENT] = "ENOENT",
	[KMM_ESRCH] = "ESRCH",     [KMM_EINTR] = "EINTR",
	[KMM_EIO] = "EIO",         [KMM_ENXIO] = "ENXIO",
	[KMM_E2BIG] = "E2BIG",     [KMM_ENOEXEC] = "ENOEXEC",
	[KMM_EBADF] = "EBADF",     [KMM_ECHILD] = "ECHILD",
	[KMM_EAGAIN] = "EAGAIN",   [KMM_ENOMEM] = "ENOMEM",
	[KMM_EACCES] = "EACCES",   [KMM_EFAULT] = "EFAULT",
	[KMM_EBUSY] = "EBUSY",     [KMM_EEXIST] = "EEXIST",
	[KMM_ENODEV] = "ENODEV",   [KMM_ENOTDIR] = "ENOTDIR",
	[KMM_EISDIR] = "EISDIR",   [KMM_EINVAL] = "EINVAL",
	[KMM_ENFILE] = "ENFILE",   [KMM_EMFILE] = "EMFILE",
	[KMM_EFBIG] = "EFBIG",     [KMM_ENOSPC] = "ENOSPC",
	[KMM_ESPIPE] = "ESPIPE",   [KMM_EROFS] = "EROFS",
	[KMM_ERANGE] = "ERANGE",   [KMM_ENAMETOOLONG] = "ENAMETOOLONG",
	[KMM_ENOSYS] = "ENOSYS",   [KMM_EOVERFLOW] = "EOVERFLOW",
};

const char *kmm_errno_name(int err)
{
	if (err < 0)
		err = -err;
	if ((size_t)err < ARRAY_SIZE(errno_names) && errno_names[err])
		return errno_names[err];
	return "EUNKNOWN";
}
