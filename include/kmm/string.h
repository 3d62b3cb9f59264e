/*
 * String and memory helpers for the freestanding core. memcpy, memmove,
 * memset and memcmp are the four functions GCC and Clang require of every
 * freestanding environment (they may emit calls to them for struct copies);
 * the arch provides them. The rest are the core's own, in lib/string.c.
 */
#ifndef KMM_STRING_H
#define KMM_STRING_H

#include <kmm/types.h>

#if __STDC_HOSTED__
#include <string.h>
#else
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

/*
 * -ffreestanding turns off the compiler's knowledge of these functions; the
 * builtins give it back, so small fixed-size copies are inlined.
 */
#define memcpy(d, s, n) __builtin_memcpy(d, s, n)
#define memmove(d, s, n) __builtin_memmove(d, s, n)
#define memset(d, c, n) __builtin_memset(d, c, n)
#define memcmp(a, b, n) __builtin_memcmp(a, b, n)
#endif

size_t kmm_strlen(const char *s);
int kmm_strcmp(const char *a, const char *b);
int kmm_strncmp(const char *a, const char *b, size_t n);
/* Copies at most size-1 bytes and always terminates; returns strlen(src). */
size_t kmm_strlcpy(char *dst, const char *src, size_t size);

#endif
