//! Batching: the graphs of a mini-batch become one disjoint graph whose node indices are
//! offset per graph, so one sparse scatter-add does the message passing of all of them.

use aiop_predictor::{EncodedGraph, NUMERIC_FEATURES};
use tch::{Device, Kind, Tensor};

/// Tensors of a mini-batch of graphs.
pub struct GraphBatch {
    /// Operation category per node, `[N]` (i64).
    pub ops: Tensor,
    /// Numeric node features, `[N, NUMERIC_FEATURES]`.
    pub numeric: Tensor,
    /// Edge sources and targets, `[E]` each (i64, batch-wide node indices).
    pub src: Tensor,
    pub dst: Tensor,
    /// Graph of each node, `[N]` (i64).
    pub node_graph: Tensor,
    /// `1 / node count` per graph, `[B, 1]`.
    pub inv_counts: Tensor,
    /// Number of graphs.
    pub graphs: i64,
}

impl GraphBatch {
    /// Builds the batch of `graphs` on `device`.
    pub fn new(graphs: &[&EncodedGraph], device: Device) -> GraphBatch {
        let nodes: usize = graphs.iter().map(|g| g.node_count()).sum();
        let edges: usize = graphs.iter().map(|g| g.edges.len()).sum();
        let mut ops = Vec::with_capacity(nodes);
        let mut numeric = Vec::with_capacity(nodes * NUMERIC_FEATURES);
        let (mut src, mut dst) = (Vec::with_capacity(edges), Vec::with_capacity(edges));
        let mut node_graph = Vec::with_capacity(nodes);
        let mut inv_counts = Vec::with_capacity(graphs.len());
        let mut offset = 0i64;
        for (i, g) in graphs.iter().enumerate() {
            ops.extend(g.ops.iter().map(|&o| i64::from(o)));
            numeric.extend_from_slice(&g.numeric);
            for &(a, b) in &g.edges {
                src.push(offset + i64::from(a));
                dst.push(offset + i64::from(b));
            }
            node_graph.extend(std::iter::repeat_n(i as i64, g.node_count()));
            inv_counts.push(1.0 / g.node_count().max(1) as f32);
            offset += g.node_count() as i64;
        }
        let to = |t: Tensor| t.to_device(device);
        GraphBatch {
            ops: to(Tensor::from_slice(&ops)),
            numeric: to(Tensor::from_slice(&numeric).view([nodes as i64, NUMERIC_FEATURES as i64])),
            src: to(Tensor::from_slice(&src)),
            dst: to(Tensor::from_slice(&dst)),
            node_graph: to(Tensor::from_slice(&node_graph)),
            inv_counts: to(Tensor::from_slice(&inv_counts).view([graphs.len() as i64, 1])),
            graphs: graphs.len() as i64,
        }
    }

    /// Sum over each node's in-neighbours (producers) of `h`, `[N, D]`.
    pub fn aggregate(&self, h: &Tensor) -> Tensor {
        h.zeros_like()
            .index_add(0, &self.dst, &h.index_select(0, &self.src))
    }

    /// Mean of `h` over each graph's nodes, `[B, D]`.
    pub fn mean_pool(&self, h: &Tensor) -> Tensor {
        let size = h.size();
        Tensor::zeros([self.graphs, size[1]], (Kind::Float, h.device())).index_add(
            0,
            &self.node_graph,
            h,
        ) * &self.inv_counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> EncodedGraph {
        EncodedGraph {
            ops: vec![1; n],
            numeric: (0..n * NUMERIC_FEATURES).map(|i| i as f32).collect(),
            edges: (1..n as u32).map(|i| (i - 1, i)).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn offsets_aggregation_and_pooling() {
        let (a, b) = (chain(2), chain(3));
        let batch = GraphBatch::new(&[&a, &b], Device::Cpu);
        assert_eq!(Vec::<i64>::try_from(&batch.src).unwrap(), vec![0, 2, 3]);
        assert_eq!(Vec::<i64>::try_from(&batch.dst).unwrap(), vec![1, 3, 4]);
        let h = Tensor::from_slice(&[1f32, 2., 3., 4., 5.]).view([5, 1]);
        let agg = Vec::<f32>::try_from(batch.aggregate(&h).view([5])).unwrap();
        assert_eq!(
            agg,
            vec![0., 1., 0., 3., 4.],
            "each node receives its producer"
        );
        let pooled = Vec::<f32>::try_from(batch.mean_pool(&h).view([2])).unwrap();
        assert_eq!(pooled, vec![1.5, 4.0]);
    }
}
