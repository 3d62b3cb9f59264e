/*
 * GFP flags as text: parsing "GFP_KERNEL|__GFP_ZERO" (or the short form
 * "kernel,zero") for scenarios and the command line, and formatting flags
 * back the same way for views and messages.
 */
#include <kmm/errno.h>
#include <kmm/gfp.h>
#include <kmm/printk.h>
#include <kmm/string.h>

struct gfp_name {
	const char *name; /* without the GFP_ / __GFP_ prefix, lower case */
	gfp_t flags;
	bool combination; /* GFP_x rather than __GFP_x */
};

/* Combinations first, largest first, so formatting picks the best fit. */
static const struct gfp_name gfp_names[] = {
	{ "highuser_movable", GFP_HIGHUSER_MOVABLE, true },
	{ "user", GFP_USER, true },
	{ "reclaimable", GFP_RECLAIMABLE, true },
	{ "kernel", GFP_KERNEL, true },
	{ "nofs", GFP_NOFS, true },
	{ "atomic", GFP_ATOMIC, true },
	{ "noio", GFP_NOIO, true },
	{ "nowait", GFP_NOWAIT, true },
	{ "dma", __GFP_DMA, false },
	{ "dma32", __GFP_DMA32, false },
	{ "movable", __GFP_MOVABLE, false },
	{ "high", __GFP_HIGH, false },
	{ "io", __GFP_IO, false },
	{ "fs", __GFP_FS, false },
	{ "direct_reclaim", __GFP_DIRECT_RECLAIM, false },
	{ "kswapd_reclaim", __GFP_KSWAPD_RECLAIM, false },
	{ "zero", __GFP_ZERO, false },
	{ "nowarn", __GFP_NOWARN, false },
	{ "noretry", __GFP_NORETRY, false },
	{ "retry_mayfail", __GFP_RETRY_MAYFAIL, false },
	{ "nofail", __GFP_NOFAIL, false },
	{ "comp", __GFP_COMP, false },
	{ "nomemalloc", __GFP_NOMEMALLOC, false },
	{ "hardwall", __GFP_HARDWALL, false },
};

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Matches one word (len chars) against the table, with or without prefix. */
static bool gfp_lookup(const char *word, size_t len, gfp_t *flags)
{
	char name[32];

	if (len >= 6 && !kmm_strncmp(word, "__GFP_", 6)) {
		word += 6;
		len -= 6;
	} else if (len >= 4 && !kmm_strncmp(word, "GFP_", 4)) {
		word += 4;
		len -= 4;
	}
	if (len == 0 || len >= sizeof(name))
		return false;
	for (size_t i = 0; i < len; i++)
		name[i] = lower(word[i]);
	name[len] = '\0';
	if (!kmm_strcmp(name, "reclaim")) {
		*flags = __GFP_RECLAIM;
		return true;
	}
	for (size_t i = 0; i < ARRAY_SIZE(gfp_names); i++) {
		if (!kmm_strcmp(name, gfp_names[i].name)) {
			*flags = gfp_names[i].flags;
			return true;
		}
	}
	return false;
}

int gfp_parse(const char *text, gfp_t *gfp)
{
	gfp_t result = 0;
	const char *p = text;

	if (!text)
		return -KMM_EINVAL;
	while (*p) {
		const char *start;
		gfp_t flags;

		while (*p == ' ' || *p == '|' || *p == ',')
			p++;
		start = p;
		while (*p && *p != ' ' && *p != '|' && *p != ',')
			p++;
		if (p == start)
			break;
		if (!gfp_lookup(start, (size_t)(p - start), &flags))
			return -KMM_EINVAL;
		result |= flags;
	}
	if (p == text)
		return -KMM_EINVAL;
	*gfp = result;
	return 0;
}

void gfp_format(gfp_t gfp, char *buf, size_t size)
{
	size_t len = 0;

	if (size)
		buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(gfp_names); i++) {
		const struct gfp_name *n = &gfp_names[i];
		char upper[32];
		size_t j;

		if ((gfp & n->flags) != n->flags)
			continue;
		for (j = 0; n->name[j] && j + 1 < sizeof(upper); j++)
			upper[j] = (char)(n->name[j] >= 'a' && n->name[j] <= 'z'
					      ? n->name[j] - 'a' + 'A'
					      : n->name[j]);
		upper[j] = '\0';
		len += (size_t)kmm_snprintf(buf + MIN(len, size), size - MIN(len, size),
					    "%s%s%s", len ? "|" : "",
					    n->combination ? "GFP_" : "__GFP_", upper);
		gfp &= ~n->flags;
	}
	if (gfp || !len)
		kmm_snprintf(buf + MIN(len, size), size - MIN(len, size), "%s%#x",
			     len ? "|" : "", gfp);
}
