/*
 * Red-black trees, after Cormen, Leiserson, Rivest and Stein ("Introduction
 * to Algorithms", chapter 13), with NULL leaves and explicit parent links.
 * Insertion and erasure rebalance with at most three rotations; every
 * operation is O(log n).
 *
 * Augmentation: a rotation changes the subtrees of exactly the two nodes it
 * turns, and leaves the set of nodes under the top of the rotation alone, so
 * recomputing those two (lower first) keeps every value right. A structural
 * insert or erase changes the subtrees along one path, which rb_propagate
 * recomputes up to the root before the rebalancing rotations run.
 */
#include <kmm/rbtree.h>

static inline void recompute(const struct rb_augment *aug, struct rb_node *node)
{
	if (aug)
		aug->recompute(node);
}

void rb_propagate(struct rb_node *node, const struct rb_augment *aug)
{
	if (!aug)
		return;
	for (; node; node = node->parent)
		aug->recompute(node);
}

static void replace_child(struct rb_root *root, struct rb_node *parent,
			  struct rb_node *old, struct rb_node *new)
{
	if (!parent)
		root->node = new;
	else if (parent->left == old)
		parent->left = new;
	else
		parent->right = new;
}

static void rotate_left(struct rb_root *root, struct rb_node *x,
			const struct rb_augment *aug)
{
	struct rb_node *y = x->right;

	x->right = y->left;
	if (y->left)
		y->left->parent = x;
	y->parent = x->parent;
	replace_child(root, x->parent, x, y);
	y->left = x;
	x->parent = y;
	recompute(aug, x);
	recompute(aug, y);
}

static void rotate_right(struct rb_root *root, struct rb_node *x,
			 const struct rb_augment *aug)
{
	struct rb_node *y = x->left;

	x->left = y->right;
	if (y->right)
		y->right->parent = x;
	y->parent = x->parent;
	replace_child(root, x->parent, x, y);
	y->right = x;
	x->parent = y;
	recompute(aug, x);
	recompute(aug, y);
}

static inline bool is_red(const struct rb_node *node)
{
	return node && node->red;
}

void rb_insert_color(struct rb_node *node, struct rb_root *root,
		     const struct rb_augment *aug)
{
	struct rb_node *parent;

	rb_propagate(node, aug);
	while ((parent = node->parent) && parent->red) {
		struct rb_node *grand = parent->parent; /* a red node is not the root */

		if (parent == grand->left) {
			struct rb_node *uncle = grand->right;

			if (is_red(uncle)) {
				parent->red = uncle->red = false;
				grand->red = true;
				node = grand;
				continue;
			}
			if (node == parent->right) {
				node = parent;
				rotate_left(root, node, aug);
				parent = node->parent;
			}
			parent->red = false;
			grand->red = true;
			rotate_right(root, grand, aug);
		} else {
			struct rb_node *uncle = grand->left;

			if (is_red(uncle)) {
				parent->red = uncle->red = false;
				grand->red = true;
				node = grand;
				continue;
			}
			if (node == parent->left) {
				node = parent;
				rotate_right(root, node, aug);
				parent = node->parent;
			}
			parent->red = false;
			grand->red = true;
			rotate_left(root, grand, aug);
		}
	}
	root->node->red = false;
}

/* Restores the black height after a black node left child's place (child may be NULL). */
static void erase_fixup(struct rb_root *root, struct rb_node *child,
			struct rb_node *parent, const struct rb_augment *aug)
{
	while (child != root->node && !is_red(child)) {
		if (child == parent->left) {
			struct rb_node *sibling = parent->right; /* exists: black height >= 1 */

			if (sibling->red) {
				sibling->red = false;
				parent->red = true;
				rotate_left(root, parent, aug);
				sibling = parent->right;
			}
			if (!is_red(sibling->left) && !is_red(sibling->right)) {
				sibling->red = true;
				child = parent;
				parent = child->parent;
				continue;
			}
			if (!is_red(sibling->right)) {
				sibling->left->red = false;
				sibling->red = true;
				rotate_right(root, sibling, aug);
				sibling = parent->right;
			}
			sibling->red = parent->red;
			parent->red = false;
			if (sibling->right)
				sibling->right->red = false;
			rotate_left(root, parent, aug);
			child = root->node;
		} else {
			struct rb_node *sibling = parent->left;

			if (sibling->red) {
				sibling->red = false;
				parent->red = true;
				rotate_right(root, parent, aug);
				sibling = parent->left;
			}
			if (!is_red(sibling->left) && !is_red(sibling->right)) {
				sibling->red = true;
				child = parent;
				parent = child->parent;
				continue;
			}
			if (!is_red(sibling->left)) {
				sibling->right->red = false;
				sibling->red = true;
				rotate_left(root, sibling, aug);
				sibling = parent->left;
			}
			sibling->red = parent->red;
			parent->red = false;
			if (sibling->left)
				sibling->left->red = false;
			rotate_right(root, parent, aug);
			child = root->node;
		}
	}
	if (child)
		child->red = false;
}

void rb_erase(struct rb_node *node, struct rb_root *root,
	      const struct rb_augment *aug)
{
	struct rb_node *child, *parent;
	bool removed_black;

	if (!node->left || !node->right) {
		child = node->left ? node->left : node->right;
		parent = node->parent;
		removed_black = !node->red;
		replace_child(root, parent, node, child);
		if (child)
			child->parent = parent;
	} else {
		/* Two children: the successor takes the node's place and colour. */
		struct rb_node *succ = node->right;

		while (succ->left)
			succ = succ->left;
		removed_black = !succ->red;
		child = succ->right;
		if (succ->parent == node) {
			parent = succ;
		} else {
			parent = succ->parent;
			parent->left = child;
			if (child)
				child->parent = parent;
			succ->right = node->right;
			node->right->parent = succ;
		}
		succ->left = node->left;
		node->left->parent = succ;
		succ->parent = node->parent;
		replace_child(root, node->parent, node, succ);
		succ->red = node->red;
	}
	rb_propagate(parent, aug);
	if (removed_black)
		erase_fixup(root, child, parent, aug);
	node->parent = node->left = node->right = NULL;
}

struct rb_node *rb_first(const struct rb_root *root)
{
	struct rb_node *n = root->node;

	while (n && n->left)
		n = n->left;
	return n;
}

struct rb_node *rb_last(const struct rb_root *root)
{
	struct rb_node *n = root->node;

	while (n && n->right)
		n = n->right;
	return n;
}

struct rb_node *rb_next(const struct rb_node *node)
{
	if (node->right) {
		node = node->right;
		while (node->left)
			node = node->left;
		return (struct rb_node *)node;
	}
	while (node->parent && node == node->parent->right)
		node = node->parent;
	return node->parent;
}

struct rb_node *rb_prev(const struct rb_node *node)
{
	if (node->left) {
		node = node->left;
		while (node->right)
			node = node->right;
		return (struct rb_node *)node;
	}
	while (node->parent && node == node->parent->left)
		node = node->parent;
	return node->parent;
}

static int check_subtree(const struct rb_node *node)
{
	int left, right;

	if (!node)
		return 1;
	if ((node->left && node->left->parent != node) ||
	    (node->right && node->right->parent != node))
		return -1;
	if (node->red && (is_red(node->left) || is_red(node->right)))
		return -1;
	left = check_subtree(node->left);
	right = check_subtree(node->right);
	if (left < 0 || left != right)
		return -1;
	return left + !node->red;
}

int rb_check(const struct rb_root *root)
{
	if (root->node && (root->node->red || root->node->parent))
		return -1;
	return check_subtree(root->node);
}
