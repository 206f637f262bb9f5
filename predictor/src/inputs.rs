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

/// Names of the exported predictor's inputs, in order.
pub const INPUT_NAMES: [&str; 5] = ["ops", "numeric", "neighbours", "members", "inv_counts"];
/// Name of its output: scaled scores `[B, T]`, one column per task of the bundle.
pub const OUTPUT_NAME: &str = "scores";

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
        };
        let b = EncodedGraph {
            ops: vec![4, 5],
            numeric: vec![1.0; 2 * NUMERIC_FEATURES],
            edges: vec![(0, 1)],
        };
        let x = PredictorInputs::new(&[&a, &b]);
        assert_eq!(x.nodes, 5);
        assert_eq!(x.max_in_degree, 2);
        assert_eq!(x.neighbours, vec![5, 5, 0, 5, 0, 1, 5, 5, 3, 5]);
        assert_eq!(x.members, vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(x.inv_counts, vec![1.0 / 3.0, 0.5]);
        assert_eq!(x.ops, vec![1, 2, 3, 4, 5]);
    }
}
