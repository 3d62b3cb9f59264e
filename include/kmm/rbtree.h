/*
 * Red-black trees (lib/rbtree.c), intrusive like the lists: the node lives
 * inside the object, the caller walks down to find the insertion point
 * (so the tree needs no comparison callback), links the node and calls
 * rb_insert_color to rebalance.
 *
 * Augmented trees: a tree may keep, in every node, a value computed from the
 * node and its two subtrees (the largest free gap below a memory area, say).
 * Pass an rb_augment whose recompute() recalculates a node's value from its
 * children and returns whether it changed; the tree calls it on rotations and
 * along the path to the root after every insertion and erasure. Pass NULL
 * for a plain tree.
 */
#ifndef KMM_RBTREE_H
#define KMM_RBTREE_H

#include <kmm/types.h>

struct rb_node {
	struct rb_node *parent;
	struct rb_node *left, *right;
	bool red;
};

struct rb_root {
	struct rb_node *node;
};

struct rb_augment {
	bool (*recompute)(struct rb_node *node);
};

#define RB_ROOT ((struct rb_root){ NULL })
#define rb_entry(ptr, type, member) container_of(ptr, type, member)

/* Links node as the child *link of parent (found by the caller's descent). */
static inline void rb_link_node(struct rb_node *node, struct rb_node *parent,
				struct rb_node **link)
{
	node->parent = parent;
	node->left = node->right = NULL;
	node->red = true;
	*link = node;
}

void rb_insert_color(struct rb_node *node, struct rb_root *root,
		     const struct rb_augment *aug);
void rb_erase(struct rb_node *node, struct rb_root *root,
	      const struct rb_augment *aug);
/* Recomputes augmented values from node up to the root (after the caller
   changed something the value depends on, e.g. an area's end). */
void rb_propagate(struct rb_node *node, const struct rb_augment *aug);

struct rb_node *rb_first(const struct rb_root *root);
struct rb_node *rb_last(const struct rb_root *root);
struct rb_node *rb_next(const struct rb_node *node);
struct rb_node *rb_prev(const struct rb_node *node);

/*
 * Checks the red-black properties (root black, no red node with a red
 * child, the same number of black nodes on every path, parent links
 * consistent). Returns the black height, or -1 if a property is broken.
 */
int rb_check(const struct rb_root *root);

#endif
