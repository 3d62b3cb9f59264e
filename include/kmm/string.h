/*
 * String and memory helpers for the freestanding core. memcpy, memmove,
 * memset and memcmp are the four functions GCC and Clang require of every
 * freestanding environment (they may emit calls to them for struct copies);
 * the arch provides them. The rest are the core's own, in lib/string.c.
 */
#ifndef KMM_STRING_H
#define KMM_STRING_H

#include <kmm/types.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

size_t kmm_strlen(const char *s);
int kmm_strcmp(const char *a, const char *b);
int kmm_strncmp(const char *a, const char *b, size_t n);
/* Copies at most size-1 bytes and always terminates; returns strlen(src). */
size_t kmm_strlcpy(char *dst, const char *src, size_t size);

#endif
