/*
 * Error numbers. Core functions return negative values of these (-KMM_ENOMEM),
 * with Linux's numbering so that they read the same as Linux's errno values.
 */
#ifndef KMM_ERRNO_H
#define KMM_ERRNO_H

#define KMM_EPERM 1
#define KMM_ENOENT 2
#define KMM_ESRCH 3
#define KMM_EINTR 4
#define KMM_EIO 5
#define KMM_ENXIO 6
#define KMM_E2BIG 7
#define KMM_ENOEXEC 8
#define KMM_EBADF 9
#define KMM_ECHILD 10
#define KMM_EAGAIN 11
#define KMM_ENOMEM 12
#define KMM_EACCES 13
#define KMM_EFAULT 14
#define KMM_EBUSY 16
#define KMM_EEXIST 17
#define KMM_ENODEV 19
#define KMM_ENOTDIR 20
#define KMM_EISDIR 21
#define KMM_EINVAL 22
#define KMM_ENFILE 23
#define KMM_EMFILE 24
#define KMM_EFBIG 27
#define KMM_ENOSPC 28
#define KMM_ESPIPE 29
#define KMM_EROFS 30
#define KMM_ERANGE 34
#define KMM_ENAMETOOLONG 36
#define KMM_ENOSYS 38
#define KMM_EOVERFLOW 75

/* The errno name ("ENOMEM") of a negative or positive error number. */
const char *kmm_errno_name(int err);

#endif
