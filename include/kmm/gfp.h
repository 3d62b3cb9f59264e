/*
 * GFP ("get free pages") flags: how an allocation may be satisfied. Zone
 * modifiers pick the highest zone that may be used; mobility flags pick the
 * migrate type (anti-fragmentation); the rest say what the allocator may do
 * to find memory (dip into reserves, wake kswapd, reclaim, do I/O, enter
 * file-system code) and what it must do with it (zero it, stay quiet).
 * The combinations at the bottom are the ones callers use, as in Linux.
 */
#ifndef KMM_GFP_H
#define KMM_GFP_H

#include <kmm/types.h>

typedef unsigned int gfp_t;

/* Zone modifiers: the highest zone the allocation may come from. */
#define __GFP_DMA 0x01u
#define __GFP_DMA32 0x04u
/* Mobility: the pages may be moved/reclaimed (selects the migrate type). */
#define __GFP_MOVABLE 0x08u
#define __GFP_RECLAIMABLE 0x10u
/* Access to reserves below the min watermark. */
#define __GFP_HIGH 0x20u      /* high priority: may use half of the reserve */
#define __GFP_ATOMIC 0x40u    /* cannot sleep: may use a further quarter */
/* What reclaim may do (given meaning by the reclaim issue). */
#define __GFP_IO 0x80u
#define __GFP_FS 0x100u
#define __GFP_DIRECT_RECLAIM 0x200u
#define __GFP_KSWAPD_RECLAIM 0x400u
#define __GFP_RECLAIM (__GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM)
/* What to do with the memory and on failure. */
#define __GFP_ZERO 0x800u
#define __GFP_NOWARN 0x1000u
#define __GFP_NORETRY 0x2000u
#define __GFP_RETRY_MAYFAIL 0x4000u
#define __GFP_NOFAIL 0x8000u
#define __GFP_COMP 0x10000u       /* a compound page: tails point to the head */
#define __GFP_NOMEMALLOC 0x20000u /* never use the reserves */
#define __GFP_HARDWALL 0x40000u

#define __GFP_BITS_MASK 0x7ffffu
#define GFP_ZONEMASK (__GFP_DMA | __GFP_DMA32)
#define GFP_MOVABLE_MASK (__GFP_MOVABLE | __GFP_RECLAIMABLE)

#define GFP_ATOMIC (__GFP_HIGH | __GFP_ATOMIC | __GFP_KSWAPD_RECLAIM)
#define GFP_NOWAIT (__GFP_KSWAPD_RECLAIM)
#define GFP_KERNEL (__GFP_RECLAIM | __GFP_IO | __GFP_FS)
#define GFP_NOIO (__GFP_RECLAIM)
#define GFP_NOFS (__GFP_RECLAIM | __GFP_IO)
#define GFP_USER (GFP_KERNEL | __GFP_HARDWALL)
#define GFP_DMA (__GFP_DMA)
#define GFP_DMA32 (__GFP_DMA32)
#define GFP_HIGHUSER (GFP_USER)
#define GFP_HIGHUSER_MOVABLE (GFP_USER | __GFP_MOVABLE)
#define GFP_RECLAIMABLE (GFP_KERNEL | __GFP_RECLAIMABLE)

/*
 * Parses a GFP description such as "GFP_KERNEL|__GFP_ZERO" or the short
 * form "kernel,zero" (names without GFP_/__GFP_, lower case). Returns 0 and
 * sets *gfp, or -KMM_EINVAL naming nothing (the caller reports the string).
 */
int gfp_parse(const char *text, gfp_t *gfp);
/* Writes a description of gfp like "GFP_KERNEL|__GFP_ZERO" into buf. */
void gfp_format(gfp_t gfp, char *buf, size_t size);

#endif
