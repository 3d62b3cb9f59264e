/*
 * Constants of the memory system calls, with Linux's x86-64 values, so that
 * a differential test can hand the same numbers to the host kernel.
 */
#ifndef KMM_MMAN_H
#define KMM_MMAN_H

#define KMM_PROT_NONE  0x0
#define KMM_PROT_READ  0x1
#define KMM_PROT_WRITE 0x2
#define KMM_PROT_EXEC  0x4
#define KMM_PROT_GROWSDOWN 0x01000000

#define KMM_MAP_SHARED          0x01
#define KMM_MAP_PRIVATE         0x02
#define KMM_MAP_TYPE            0x0f
#define KMM_MAP_FIXED           0x10
#define KMM_MAP_ANONYMOUS       0x20
#define KMM_MAP_GROWSDOWN       0x0100
#define KMM_MAP_NORESERVE       0x4000
#define KMM_MAP_POPULATE        0x8000
#define KMM_MAP_FIXED_NOREPLACE 0x100000

#define KMM_MREMAP_MAYMOVE 1
#define KMM_MREMAP_FIXED   2

#define KMM_MADV_NORMAL   0
#define KMM_MADV_RANDOM   1
#define KMM_MADV_SEQUENTIAL 2
#define KMM_MADV_WILLNEED 3
#define KMM_MADV_DONTNEED 4

#define KMM_MS_ASYNC      1
#define KMM_MS_INVALIDATE 2
#define KMM_MS_SYNC       4

/* Signals and their codes, for the faults a task can take. */
#define KMM_SIGBUS  7
#define KMM_SIGKILL 9   /* the OOM killer (mm/oom.c) */
#define KMM_SIGSEGV 11
#define KMM_SEGV_MAPERR 1   /* no mapping at the address */
#define KMM_SEGV_ACCERR 2   /* a mapping that forbids the access */
#define KMM_BUS_ADRERR  2

#endif
