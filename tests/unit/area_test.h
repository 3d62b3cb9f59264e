/*
 * Helpers shared by the area-level tests (test_mmap, test_fork,
 * test_fork_smp): a settled count of free frames, and reaping every task so
 * a test can check that all frames came back. Include after helpers.h.
 */
#ifndef KMM_TESTS_AREA_TEST_H
#define KMM_TESTS_AREA_TEST_H

#include <kmm/mm.h>
#include <kmm/page_alloc.h>
#include <kmm/shrinker.h>
#include <kmm/slab.h>

/* Frames free in the buddy allocator once slab caches and CPU lists are emptied. */
static inline unsigned long at_settled_free(void)
{
	shrink_slab(GFP_KERNEL, 0);
	drain_all_pages();
	return nr_free_pages();
}

#define AT_MAX_TASKS 4096

struct at_tasks {
	struct task *t[AT_MAX_TASKS];
	unsigned int n;
};

static inline void at_collect(struct task *t, void *arg)
{
	struct at_tasks *ts = arg;

	if (ts->n < AT_MAX_TASKS)
		ts->t[ts->n++] = t;
}

/* Objects of the area level's caches still allocated (magazines emptied first). */
static inline unsigned long at_live_objects(void)
{
	static const char *const names[] = { "mm_struct", "task_struct", "vm_area_struct",
					     "anon_vma" };
	unsigned long live = 0;

	shrink_slab(GFP_KERNEL, 0);
	for (unsigned int i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct kmem_cache *c = kmem_cache_find(names[i]);
		struct kmem_cache_info info;

		assert_non_null(c);
		kmem_cache_get_info(c, &info);
		live += info.active_objs - info.magazine_objs;
	}
	return live;
}

/* Exits and releases every task; then no frame may be mapped, no descriptor live. */
static inline void at_reap_all(void)
{
	static struct at_tasks ts;

	ts.n = 0;
	task_for_each(at_collect, &ts);
	for (unsigned int i = 0; i < ts.n; i++) {
		task_exit(ts.t[i], 0);
		task_release(ts.t[i]);
	}
	assert_int_equal(task_count(), 0);
	task_check_all();
	assert_int_equal(at_live_objects(), 0);
}

#endif
