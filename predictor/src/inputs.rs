//! The tensors an exported predictor takes for a batch of encoded CGs.
//!
//! Message passing and pooling are written with `Gather` and `ReduceSum` only, so every ONNX
//! runtime (tract, ONNX Runtime, browsers) runs them: each node lists its in-neighbours and
//! each graph its nodes, padded to a common width with the index of an extra all-zero row.

use crate::encoding::{EncodedGraph, NUMERIC_FEATURES};

/// Inputs of the exported predictor, in its input order, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct PredictorInputs {
    /// `ops` `[N]`: operation category per node.
    pub ops: Vec<i64>,
    /// `numeric` `[N, NUMERIC_FEATURES]`.
    pub numeric: Vec<f32>,
    /// `neighbours` `[N, D]`: the in-neighbours (producers) of each node, padded with `N`.
    pub neighbours: Vec<i64>,
    /// `D`, at least 1.
    pub max_in_degree: usize,
    /// `members` `[B, M]`: the (batch-wide) nodes of each graph, padded with `N`.
    pub members: Vec<i64>,
    /// `M`, at least 1.
    pub max_nodes: usize,
    /// `inv_counts` `[B, 1]`: 1 / node count of each graph.
    pub inv_counts: Vec<f32>,
    /// `N`.
    pub nodes: usize,
    /// `B`.
    pub graphs: usize,
}

/// The most entries a batch's padded `neighbours` input may have (nodes × largest in-degree).
/// Message passing gathers a row of features for each entry, so the predictor's memory grows
/// with it: a crafted graph of N nodes feeding one N-input node would otherwise take N² rows
/// (4,000 nodes: 2.6 GB). 2²¹ entries keep a layer's gathered rows near 0.5 GB; real networks
/// stay far below (a 2,000-node DenseNet with a 64-wide concatenation: 128 k).
pub const MAX_NEIGHBOUR_ENTRIES: usize = 1 << 21;

/// Names of the exported predictor's inputs, in order.
pub const INPUT_NAMES: [&str; 5] = ["ops", "numeric", "neighbours", "members", "inv_counts"];
/// Name of its output: scaled scores `[B, T]`, one column per task of the bundle.
pub const OUTPUT_NAME: &str = "scores";

/// The dynamic dimensions of a batch: N, D, B and M.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InputShape {
    pub nodes: usize,
    pub max_in_degree: usize,
    pub graphs: usize,
    pub max_nodes: usize,
}

impl InputShape {
    /// Entries of the padded `neighbours` input (`N × D`).
    pub fn neighbour_entries(self) -> usize {
        self.nodes.saturating_mul(self.max_in_degree)
    }

    /// A coarser shape at least as large, from a small set, so that runtimes which specialise
    /// on shapes (tract) reuse one plan for many batches: counts of nodes rounded up to a
    /// quarter of their power of two (at most 25 % of padding, about 10 % on average), other
    /// dimensions to a power of two.
    pub fn bucket(self) -> InputShape {
        let quarter_steps = |n: usize| {
            if n <= 8 {
                return 8;
            }
            let step = 1usize << (n.ilog2() - 2);
            n.div_ceil(step) * step
        };
        InputShape {
            nodes: quarter_steps(self.nodes),
            max_in_degree: self.max_in_degree.next_power_of_two(),
            graphs: self.graphs.next_power_of_two(),
            max_nodes: quarter_steps(self.max_nodes),
        }
    }
}

impl PredictorInputs {
    /// The inputs for `graphs` as one batch.
    pub fn new(graphs: &[&EncodedGraph]) -> PredictorInputs {
        let nodes: usize = graphs.iter().map(|g| g.node_count()).sum();
        let mut in_lists: Vec<Vec<i64>> = vec![Vec::new(); nodes];
        let mut offset = 0usize;
        for g in graphs {
            for &(src, dst) in &g.edges {
                in_lists[offset + dst as usize].push((offset + src as usize) as i64);
            }
            offset += g.node_count();
        }
        let pad = nodes as i64;
        let max_in_degree = in_lists.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let mut neighbours = Vec::with_capacity(nodes * max_in_degree);
        for list in &in_lists {
            neighbours.extend_from_slice(list);
            neighbours.extend(std::iter::repeat_n(pad, max_in_degree - list.len()));
        }
        let max_nodes = graphs
            .iter()
            .map(|g| g.node_count())
            .max()
            .unwrap_or(0)
            .max(1);
        let mut members = Vec::with_capacity(graphs.len() * max_nodes);
        let mut offset = 0i64;
        for g in graphs {
            let n = g.node_count() as i64;
            members.extend(offset..offset + n);
            members.extend(std::iter::repeat_n(pad, max_nodes - n as usize));
            offset += n;
        }
        PredictorInputs {
            ops: graphs
                .iter()
                .flat_map(|g| g.ops.iter().map(|&o| i64::from(o)))
                .collect(),
            numeric: graphs
                .iter()
                .flat_map(|g| g.numeric.iter().copied())
                .collect(),
            neighbours,
            max_in_degree,
            members,
            max_nodes,
            inv_counts: graphs
                .iter()
                .map(|g| 1.0 / g.node_count().max(1) as f32)
                .collect(),
            nodes,
            graphs: graphs.len(),
        }
    }

    /// The same inputs padded to `shape` (each dimension at least the current one): extra
    /// nodes with no edges and no graph, extra neighbour and member slots and extra graphs
    /// pointing at the zero row. The real graphs' scores are unchanged; the extra graphs'
    /// scores are meaningless.
    pub fn padded(&self, shape: InputShape) -> PredictorInputs {
        let current = self.shape();
        assert!(
            shape.nodes >= current.nodes
                && shape.max_in_degree >= current.max_in_degree
                && shape.graphs >= current.graphs
                && shape.max_nodes >= current.max_nodes,
            "padding {current:?} to the smaller {shape:?}"
        );
        let (old_pad, pad) = (self.nodes as i64, shape.nodes as i64);
        let repad = |rows: &[i64], width: usize, new_rows: usize, new_width: usize| {
            let mut out = Vec::with_capacity(new_rows * new_width);
            for row in rows.chunks(width.max(1)) {
                out.extend(row.iter().map(|&i| if i == old_pad { pad } else { i }));
                out.extend(std::iter::repeat_n(pad, new_width - row.len()));
            }
            out.resize(new_rows * new_width, pad);
            out
        };
        let mut ops = self.ops.clone();
        ops.resize(shape.nodes, 0);
        let mut numeric = self.numeric.clone();
        numeric.resize(shape.nodes * NUMERIC_FEATURES, 0.0);
        let mut inv_counts = self.inv_counts.clone();
        inv_counts.resize(shape.graphs, 0.0);
        PredictorInputs {
            ops,
            numeric,
            neighbours: repad(
                &self.neighbours,
                self.max_in_degree,
                shape.nodes,
                shape.max_in_degree,
            ),
            max_in_degree: shape.max_in_degree,
            members: repad(&self.members, self.max_nodes, shape.graphs, shape.max_nodes),
            max_nodes: shape.max_nodes,
            inv_counts,
            nodes: shape.nodes,
            graphs: shape.graphs,
        }
    }

    /// The dimensions of these inputs.
    pub fn shape(&self) -> InputShape {
        InputShape {
            nodes: self.nodes,
            max_in_degree: self.max_in_degree,
            graphs: self.graphs,
            max_nodes: self.max_nodes,
        }
    }

    /// Shapes of the five inputs, in [`INPUT_NAMES`] order.
    pub fn shapes(&self) -> [Vec<usize>; 5] {
        [
            vec![self.nodes],
            vec![self.nodes, NUMERIC_FEATURES],
            vec![self.nodes, self.max_in_degree],
            vec![self.graphs, self.max_nodes],
            vec![self.graphs, 1],
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_neighbours_and_members_with_the_zero_row() {
        // graph a: 0 → 1, 0 → 2, 1 → 2; graph b: 0 → 1
        let a = EncodedGraph {
            ops: vec![1, 2, 3],
            numeric: vec![0.0; 3 * NUMERIC_FEATURES],
            edges: vec![(0, 1), (0, 2), (1, 2)],
            ..Default::default()
        };
        let b = EncodedGraph {
            ops: vec![4, 5],
            numeric: vec![1.0; 2 * NUMERIC_FEATURES],
            edges: vec![(0, 1)],
            ..Default::default()
        };
        let x = PredictorInputs::new(&[&a, &b]);
        assert_eq!(x.nodes, 5);
        assert_eq!(x.max_in_degree, 2);
        assert_eq!(x.neighbours, vec![5, 5, 0, 5, 0, 1, 5, 5, 3, 5]);
        assert_eq!(x.members, vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(x.inv_counts, vec![1.0 / 3.0, 0.5]);
        assert_eq!(x.ops, vec![1, 2, 3, 4, 5]);

        let shape = InputShape {
            nodes: 6,
            max_in_degree: 3,
            graphs: 3,
            max_nodes: 4,
        };
        let p = x.padded(shape);
        assert_eq!(p.shape(), shape);
        assert_eq!(
            p.neighbours,
            vec![6, 6, 6, 0, 6, 6, 0, 1, 6, 6, 6, 6, 3, 6, 6, 6, 6, 6]
        );
        assert_eq!(p.members, vec![0, 1, 2, 6, 3, 4, 6, 6, 6, 6, 6, 6]);
        assert_eq!(p.ops, vec![1, 2, 3, 4, 5, 0]);
        assert_eq!(p.numeric.len(), 6 * NUMERIC_FEATURES);
        assert_eq!(p.inv_counts, vec![1.0 / 3.0, 0.5, 0.0]);
    }

    #[test]
    fn buckets_pad_at_most_a_quarter() {
        for n in 1..5000 {
            let shape = InputShape {
                nodes: n,
                max_in_degree: n % 37 + 1,
                graphs: 1,
                max_nodes: n,
            };
            let b = shape.bucket();
            assert!(
                b.nodes >= n && (b.nodes <= 8 || b.nodes * 4 <= n * 5),
                "{n} → {b:?}"
            );
            assert!(b.max_in_degree >= shape.max_in_degree);
            assert_eq!(b.bucket(), b, "buckets are fixed points");
        }
        let sizes: std::collections::HashSet<usize> = (1..5000)
            .map(|n| {
                InputShape {
                    nodes: n,
                    max_in_degree: 1,
                    graphs: 1,
                    max_nodes: n,
                }
                .bucket()
                .nodes
            })
            .collect();
        assert!(sizes.len() < 45, "{} buckets", sizes.len());
    }
}
