//! An ordered multiset of `(key, server)` nodes with 1.4's ebtree ordering, shared by the
//! tree-based algorithms (`roundrobin`, `leastconn`, `hash-type consistent`).
//!
//! 1.4 keeps servers in `eb32` trees (`src/lb_fwrr.c`, `src/lb_fwlc.c`, `src/lb_chash.c`).
//! Two properties of those trees decide which server is picked, so we must keep them:
//! nodes are ordered by unsigned 32-bit key, and nodes with equal keys are kept in insertion
//! order (a new duplicate goes after the existing ones). That second rule is what makes
//! leastconn rotate among equally loaded servers and what breaks weight ties by declaration
//! order in roundrobin.
//!
//! Hand-written instead of a `BTreeMap` because the pick path must not allocate: the tree is
//! a sorted `Vec` whose capacity is reserved up front (each server sits in at most one
//! fwrr/fwlc tree; a chash tree holds at most the sum of the servers' points), so inserts
//! and removals only move elements. Backends have few servers, so the `O(n)` moves are cheap.

/// One node: a server's position in a tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Node {
    pub key: u32,
    /// Insertion stamp; orders duplicates first-in first-out and identifies the node.
    pub seq: u64,
    /// Server index (declaration order).
    pub srv: usize,
}

/// A handle to a node in a tree: enough to find it again by binary search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NodeRef {
    pub key: u32,
    pub seq: u64,
}

impl Node {
    pub fn handle(&self) -> NodeRef {
        NodeRef {
            key: self.key,
            seq: self.seq,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct EbTree {
    nodes: Vec<Node>,
    next_seq: u64,
}

impl EbTree {
    pub fn with_capacity(cap: usize) -> EbTree {
        EbTree {
            nodes: Vec::with_capacity(cap),
            next_seq: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Inserts a node after every node with a key lower than or equal to `key`, as
    /// `eb32_insert()` places duplicates, and returns its handle.
    pub fn insert(&mut self, key: u32, srv: usize) -> NodeRef {
        let seq = self.next_seq;
        self.next_seq += 1;
        // `seq` grows, so the new node sorts after all existing nodes with the same key.
        let at = self.nodes.partition_point(|n| n.key <= key);
        self.nodes.insert(at, Node { key, seq, srv });
        NodeRef { key, seq }
    }

    /// Position of the node `r`, if it is in this tree.
    pub fn position(&self, r: NodeRef) -> Option<usize> {
        self.nodes
            .binary_search_by(|n| (n.key, n.seq).cmp(&(r.key, r.seq)))
            .ok()
    }

    /// Removes node `r`; returns false when it was not in this tree (like deleting a
    /// detached ebtree node, this is harmless).
    pub fn remove(&mut self, r: NodeRef) -> bool {
        match self.position(r) {
            Some(i) => {
                self.nodes.remove(i);
                true
            }
            None => false,
        }
    }

    pub fn get(&self, i: usize) -> Option<Node> {
        self.nodes.get(i).copied()
    }

    pub fn first(&self) -> Option<Node> {
        self.nodes.first().copied()
    }

    pub fn last(&self) -> Option<Node> {
        self.nodes.last().copied()
    }

    /// Index of the first node whose key is `>= key` (`eb32_lookup_ge`).
    pub fn lookup_ge(&self, key: u32) -> Option<usize> {
        let i = self.nodes.partition_point(|n| n.key < key);
        (i < self.nodes.len()).then_some(i)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_keep_insertion_order() {
        let mut t = EbTree::with_capacity(4);
        t.insert(5, 0);
        t.insert(3, 1);
        t.insert(5, 2);
        t.insert(5, 3);
        let order: Vec<usize> = t.iter().map(|n| n.srv).collect();
        assert_eq!(order, vec![1, 0, 2, 3]);
    }

    #[test]
    fn remove_and_reinsert_goes_after_equals() {
        let mut t = EbTree::with_capacity(3);
        let a = t.insert(0, 0);
        t.insert(0, 1);
        t.insert(0, 2);
        assert!(t.remove(a));
        assert!(!t.remove(a));
        t.insert(0, 0);
        let order: Vec<usize> = t.iter().map(|n| n.srv).collect();
        assert_eq!(order, vec![1, 2, 0]);
    }

    #[test]
    fn lookup_ge_and_ends() {
        let mut t = EbTree::with_capacity(3);
        t.insert(10, 0);
        t.insert(20, 1);
        t.insert(30, 2);
        assert_eq!(t.lookup_ge(0), Some(0));
        assert_eq!(t.lookup_ge(20), Some(1));
        assert_eq!(t.lookup_ge(21), Some(2));
        assert_eq!(t.lookup_ge(31), None);
        assert_eq!(t.first().map(|n| n.srv), Some(0));
        assert_eq!(t.last().map(|n| n.srv), Some(2));
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn no_reallocation_within_capacity() {
        let mut t = EbTree::with_capacity(8);
        let cap = t.nodes.capacity();
        for i in 0..8 {
            t.insert(8 - i as u32, i);
        }
        assert_eq!(t.nodes.capacity(), cap);
    }
}
