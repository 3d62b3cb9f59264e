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

/* Exits and releases every task; then no frame may be mapped. */
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
}

#endif
