/*
 * Between mm/slab.c and mm/kmalloc.c: the boot caches, whose descriptors
 * are static so that booting takes no page frame.
 */
#ifndef KMM_MM_SLAB_INTERNAL_H
#define KMM_MM_SLAB_INTERNAL_H

#include <kmm/slab.h>

/* Creates a cache with a static descriptor (no constructor; never destroyed). */
struct kmem_cache *kmem_cache_create_boot(const char *name, size_t size, size_t align,
					  unsigned int flags);

#endif
