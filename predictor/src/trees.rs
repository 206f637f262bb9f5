//! The graph-statistics regressor a predictor file may carry beside its GNN: boosted
//! regression trees on the four [`GraphStats::features`] (log MACs, log params, log node count,
//! log input resolution), and how a task blends their prediction with the GNN's.
//!
//! Why: with a few hundred labelled training networks, the GNN ranks networks of families it
//! has not seen worse than these four numbers do on many families, and the mean of both ranks
//! better than either (issue 25, `protocols/results/timm-leave-family-out.md`). The trees are
//! fitted by the trainer (`aiop predictor blend`) on the same training networks as the task's
//! output and evaluated here, after the GNN, by every runtime alike (tract, ONNX Runtime, WASM).
//!
//! The layout is the trainer's trees, flattened: a tree is a list of nodes, the root first;
//! a split sends a network left when its feature is below the threshold. Children always come
//! after their parent, which [`TreeEnsemble::check`] enforces on every file read, so that a
//! crafted file can neither loop nor index out of bounds.

use serde::{Deserialize, Serialize};

use crate::encoding::{GRAPH_FEATURES, GraphStats};

/// Most trees an ensemble may have (the trainer fits 200).
pub const MAX_TREES: usize = 10_000;
/// Most nodes a tree may have (depth 3 gives at most 15).
pub const MAX_NODES: usize = 1 << 16;
/// Most nodes of all trees together: a prediction visits at most this many.
pub const MAX_TOTAL_NODES: usize = 1 << 20;

/// One node of a tree. In the file a leaf is its value and a split the array
/// `[feature, threshold, left, right]`, which keeps 200 trees of depth 3 near 50 KB.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TreeNode {
    /// The value of the leaf.
    Leaf(f32),
    /// A network goes to `left` (an index in the tree's nodes) when its feature `feature` (an
    /// index into [`GraphStats::features`]) is below `threshold`, else to `right`.
    Split(u8, f32, u32, u32),
}

/// Boosted trees: `base + shrinkage · Σ tree(x)`, summed in `f32` as the trainer does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TreeEnsemble {
    pub base: f32,
    pub shrinkage: f32,
    pub trees: Vec<Vec<TreeNode>>,
}

/// How a task's output blends the GNN with the graph-statistics trees:
/// `(1 − weight) · gnn + weight · trees`, in the task's metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatsBlend {
    pub weight: f64,
    pub trees: TreeEnsemble,
    /// Labelled networks the trees were fitted on.
    pub samples: usize,
}

impl TreeEnsemble {
    /// Why the ensemble cannot be evaluated safely, if it cannot.
    pub fn check(&self) -> Result<(), String> {
        if self.trees.len() > MAX_TREES {
            return Err(format!("{} trees (at most {MAX_TREES})", self.trees.len()));
        }
        let total: usize = self.trees.iter().map(Vec::len).sum();
        if total > MAX_TOTAL_NODES {
            return Err(format!("{total} nodes (at most {MAX_TOTAL_NODES})"));
        }
        if !self.base.is_finite() || !self.shrinkage.is_finite() {
            return Err("a non-finite base or shrinkage".into());
        }
        for (t, tree) in self.trees.iter().enumerate() {
            if tree.is_empty() || tree.len() > MAX_NODES {
                return Err(format!("tree {t} has {} nodes", tree.len()));
            }
            for (i, node) in tree.iter().enumerate() {
                let bad = match *node {
                    TreeNode::Leaf(value) => !value.is_finite(),
                    TreeNode::Split(feature, threshold, left, right) => {
                        let child = |c: u32| (c as usize) <= i || c as usize >= tree.len();
                        usize::from(feature) >= GRAPH_FEATURES
                            || child(left)
                            || child(right)
                            || threshold.is_nan()
                    }
                };
                if bad {
                    return Err(format!("tree {t}, node {i} is malformed"));
                }
            }
        }
        Ok(())
    }

    /// The prediction for graph statistics `x` (an ensemble that passed [`Self::check`]).
    pub fn predict(&self, x: &[f32; GRAPH_FEATURES]) -> f32 {
        let mut sum = self.base;
        for tree in &self.trees {
            let mut node = tree[0];
            while let TreeNode::Split(feature, threshold, left, right) = node {
                let next = if x[usize::from(feature)] < threshold {
                    left
                } else {
                    right
                };
                node = tree[next as usize];
            }
            if let TreeNode::Leaf(value) = node {
                sum += self.shrinkage * value;
            }
        }
        sum
    }
}

impl StatsBlend {
    /// The blended prediction of a network with statistics `stats` whose GNN prediction (in
    /// the task's metric) is `gnn`.
    pub fn apply(&self, gnn: f64, stats: &GraphStats) -> f64 {
        let trees = f64::from(self.trees.predict(&stats.features()));
        (1.0 - self.weight) * gnn + self.weight * trees
    }

    /// Why the blend cannot be used, if it cannot.
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.weight) {
            return Err(format!("blend weight {} is not in [0, 1]", self.weight));
        }
        self.trees.check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TreeNode::{Leaf, Split};

    fn stump(feature: u8, threshold: f32, low: f32, high: f32) -> Vec<TreeNode> {
        vec![Split(feature, threshold, 1, 2), Leaf(low), Leaf(high)]
    }

    #[test]
    fn sums_the_trees_leaves_with_shrinkage() {
        let trees = TreeEnsemble {
            base: 1.0,
            shrinkage: 0.5,
            trees: vec![stump(0, 9.0, -2.0, 2.0), stump(3, 2.0, 10.0, 20.0)],
        };
        trees.check().unwrap();
        // log10 MACs 10 (right: 2), log10 resolution 2.35 (right: 20)
        assert_eq!(
            trees.predict(&[10.0, 7.0, 3.0, 2.35]),
            1.0 + 0.5 * 2.0 + 0.5 * 20.0
        );
        assert_eq!(trees.predict(&[8.0, 7.0, 3.0, 1.9]), 1.0 - 1.0 + 5.0);
        // the file's layout: leaves as numbers, splits as arrays
        let json = serde_json::to_string(&trees.trees[0]).unwrap();
        assert_eq!(json, "[[0,9.0,1,2],-2.0,2.0]");
        let back: Vec<TreeNode> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, trees.trees[0]);
    }

    #[test]
    fn crafted_trees_are_refused() {
        let cases = [
            vec![Split(0, 1.0, 1, 0), Leaf(0.0)], // a child before its parent would loop
            vec![Split(0, 1.0, 1, 2), Split(0, 1.0, 1, 2), Leaf(0.0)], // a node as its own child
            stump(7, 1.0, 0.0, 0.0),              // no such feature
            vec![],                               // an empty tree
            vec![Split(0, 1.0, 1, 9), Leaf(0.0)], // out of bounds
            stump(0, f32::NAN, 0.0, 0.0),         // a NaN threshold
            stump(0, 1.0, f32::INFINITY, 0.0),    // a leaf that is not finite
        ];
        for tree in cases {
            let e = TreeEnsemble {
                base: 0.0,
                shrinkage: 0.1,
                trees: vec![tree],
            };
            assert!(e.check().is_err(), "{e:?}");
        }
        let blend = StatsBlend {
            weight: 1.5,
            trees: TreeEnsemble {
                base: 0.0,
                shrinkage: 0.1,
                trees: vec![stump(0, 1.0, 0.0, 1.0)],
            },
            samples: 2,
        };
        assert!(blend.check().is_err());
    }
}
