/*
 * Shrinkers: the list of caches that can give memory back, and the call
 * that asks each of them to. As in Linux, a shrinker is asked to scan a
 * share of what it counts — count >> priority, scaled by how costly its
 * objects are to recreate (seeks) — in batches, so that reclaim at low
 * priority nibbles and reclaim at priority 0 empties everything.
 *
 * Locking: shrinker_lock (a sleeping lock) protects shrinker_list and is
 * held while callbacks run, so that unregister_shrinker cannot return while
 * its shrinker is in use. It is taken before any lock of the caches the
 * callbacks shrink (in mm/slab.c: before kmem_cache_lock).
 */
#include <kmm/errno.h>
#include <kmm/lock.h>
#include <kmm/shrinker.h>

static mutex_t shrinker_lock;
static struct list_head shrinker_list = LIST_HEAD_INIT(shrinker_list);

void shrinker_init(void)
{
	mutex_init(&shrinker_lock);
	INIT_LIST_HEAD(&shrinker_list);
}

int register_shrinker(struct shrinker *s)
{
	if (!s || !s->count_objects || !s->scan_objects)
		return -KMM_EINVAL;
	if (s->seeks <= 0)
		s->seeks = DEFAULT_SEEKS;
	mutex_lock(&shrinker_lock);
	list_add_tail(&s->list, &shrinker_list);
	mutex_unlock(&shrinker_lock);
	return 0;
}

void unregister_shrinker(struct shrinker *s)
{
	mutex_lock(&shrinker_lock);
	list_del(&s->list);
	mutex_unlock(&shrinker_lock);
}

/* Asks one shrinker for its share; returns the objects it freed. */
static unsigned long do_shrink(struct shrinker *s, gfp_t gfp, int priority)
{
	struct shrink_control sc = { .gfp_mask = gfp };
	unsigned long batch = s->batch > 0 ? (unsigned long)s->batch : 128;
	unsigned long count, todo, freed = 0;

	count = s->count_objects(s, &sc);
	if (!count)
		return 0;
	if (priority <= 0)
		todo = count;
	else
		todo = (count >> priority) * DEFAULT_SEEKS / (unsigned long)s->seeks;
	/* Even at low priority, a shrinker holding something is asked for one batch. */
	if (!todo)
		todo = MIN(count, batch);
	while (todo) {
		unsigned long ret;

		sc.nr_to_scan = MIN(todo, batch);
		sc.nr_scanned = sc.nr_to_scan;
		ret = s->scan_objects(s, &sc);
		if (ret == SHRINK_STOP)
			break;
		freed += ret;
		if (!sc.nr_scanned)
			break;
		todo -= MIN(todo, sc.nr_scanned);
	}
	return freed;
}

unsigned long shrink_slab(gfp_t gfp_mask, int priority)
{
	struct shrinker *s;
	unsigned long freed = 0;

	mutex_lock(&shrinker_lock);
	list_for_each_entry(s, &shrinker_list, list)
		freed += do_shrink(s, gfp_mask, priority);
	mutex_unlock(&shrinker_lock);
	return freed;
}
