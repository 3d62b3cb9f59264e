/*
 * The red-black tree against a reference (a presence array): random inserts
 * and erasures keep the red-black properties, the in-order walk sorted and
 * complete, and an augmented value (subtree maximum) exact after every
 * rotation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>

#include <kmm/rbtree.h>

#define NR_ITEMS 4096

struct item {
	struct rb_node rb;
	long key;
	long subtree_max;
};

static bool recompute_max(struct rb_node *node)
{
	struct item *it = rb_entry(node, struct item, rb);
	long max = it->key;

	if (node->left && rb_entry(node->left, struct item, rb)->subtree_max > max)
		max = rb_entry(node->left, struct item, rb)->subtree_max;
	if (node->right && rb_entry(node->right, struct item, rb)->subtree_max > max)
		max = rb_entry(node->right, struct item, rb)->subtree_max;
	if (max == it->subtree_max)
		return false;
	it->subtree_max = max;
	return true;
}

static const struct rb_augment max_augment = { recompute_max };

static long check_max(struct rb_node *node)
{
	struct item *it;
	long max, l, r;

	if (!node)
		return -1;
	it = rb_entry(node, struct item, rb);
	l = check_max(node->left);
	r = check_max(node->right);
	max = it->key > l ? it->key : l;
	max = max > r ? max : r;
	assert_int_equal(max, it->subtree_max);
	return max;
}

static void insert(struct rb_root *root, struct item *item)
{
	struct rb_node **link = &root->node, *parent = NULL;

	while (*link) {
		parent = *link;
		link = item->key < rb_entry(parent, struct item, rb)->key ? &parent->left
									 : &parent->right;
	}
	rb_link_node(&item->rb, parent, link);
	item->subtree_max = item->key;
	rb_insert_color(&item->rb, root, &max_augment);
}

static void check_tree(struct rb_root *root, const bool *present, struct item *items)
{
	long prev = -1;
	int walked = 0, expected = 0;

	assert_true(rb_check(root) >= 1);
	check_max(root->node);
	for (struct rb_node *n = rb_first(root); n; n = rb_next(n)) {
		long key = rb_entry(n, struct item, rb)->key;
		assert_true(key > prev);
		prev = key;
		walked++;
	}
	for (int i = 0; i < NR_ITEMS; i++)
		expected += present[i];
	assert_int_equal(walked, expected);
	/* Backwards too. */
	prev = 1L << 62;
	for (struct rb_node *n = rb_last(root); n; n = rb_prev(n)) {
		assert_true(rb_entry(n, struct item, rb)->key < prev);
		prev = rb_entry(n, struct item, rb)->key;
	}
	(void)items;
}

static void test_random_against_reference(void **state)
{
	static struct item items[NR_ITEMS];
	static bool present[NR_ITEMS];
	struct rb_root root = RB_ROOT;
	unsigned int seed = 7;

	for (int step = 0; step < 200000; step++) {
		int i = rand_r(&seed) % NR_ITEMS;

		if (!present[i]) {
			/* Unique keys: random high part, index as the low part. */
			items[i].key = (long)(rand_r(&seed) % 100000) * NR_ITEMS + i;
			insert(&root, &items[i]);
		} else {
			rb_erase(&items[i].rb, &root, &max_augment);
		}
		present[i] = !present[i];
		if (step % 997 == 0)
			check_tree(&root, present, items);
	}
	check_tree(&root, present, items);
}

static void test_sequential_and_empty(void **state)
{
	static struct item items[1000];
	struct rb_root root = RB_ROOT;

	assert_null(rb_first(&root));
	assert_int_equal(rb_check(&root), 1);
	for (int i = 0; i < 1000; i++) {
		items[i].key = i;
		insert(&root, &items[i]);
	}
	/* A sorted insertion order is the worst case for an unbalanced tree. */
	assert_true(rb_check(&root) <= 11);
	assert_int_equal(rb_entry(root.node, struct item, rb)->subtree_max, 999);
	for (int i = 0; i < 1000; i += 2)
		rb_erase(&items[i].rb, &root, &max_augment);
	assert_int_equal(rb_entry(rb_first(&root), struct item, rb)->key, 1);
	for (int i = 1; i < 1000; i += 2)
		rb_erase(&items[i].rb, &root, &max_augment);
	assert_null(root.node);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_against_reference),
		cmocka_unit_test(test_sequential_and_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
