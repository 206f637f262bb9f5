//! CG → predictor inputs. Each node becomes its operation category (an index into the
//! converter's vocabulary, one-hot in the paper) and [`NUMERIC_FEATURES`] numbers: input and
//! output height/width/channels, weight dimensions, bias flag, kernel, stride, dilation,
//! groups, MACs, params and an unknown-shape flag. Sizes span many orders of magnitude, so
//! every count is fed as `ln(1 + x) / 10` (≈ 0–2 for real networks). Edges follow the data
//! flow, producer → consumer.
//!
//! Changing anything here changes what a trained predictor expects: bump
//! [`ENCODING_VERSION`], which every exported predictor records.

use aiop_converter::cg::vocab::VOCAB_VERSION;
use aiop_converter::{Cg, CgNode, OpCategory, ShapeStatus};

/// Version of the node-feature layout (includes the vocabulary's version).
pub const ENCODING_VERSION: u32 = 1000 * VOCAB_VERSION + 1;
/// Number of numeric features per node.
pub const NUMERIC_FEATURES: usize = 20;
/// Number of operation categories (size of the one-hot part).
pub const OP_CATEGORIES: usize = OpCategory::ALL.len();

/// One CG as predictor inputs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EncodedGraph {
    /// Operation category of each node (`< OP_CATEGORIES`).
    pub ops: Vec<u16>,
    /// `NUMERIC_FEATURES` numbers per node, row-major.
    pub numeric: Vec<f32>,
    /// Data-flow edges `(producer, consumer)`, node indices.
    pub edges: Vec<(u32, u32)>,
}

impl EncodedGraph {
    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.ops.len()
    }
}

/// `ln(1 + x) / 10` for a count or size; unknown (negative) values become 0.
fn squash(x: f64) -> f32 {
    (x.max(0.0).ln_1p() / 10.0) as f32
}

fn dim(v: &[u64], i: usize) -> f64 {
    v.get(i).copied().unwrap_or(0) as f64
}

/// The numeric features of one node, in the documented order.
pub fn node_features(node: &CgNode) -> [f32; NUMERIC_FEATURES] {
    let (ih, iw, ic) = CgNode::hwc(&node.input_shape);
    let (oh, ow, oc) = CgNode::hwc(&node.output_shape);
    let w = &node.weight_shape;
    [
        squash(ih as f64),
        squash(iw as f64),
        squash(ic as f64),
        squash(oh as f64),
        squash(ow as f64),
        squash(oc as f64),
        squash(dim(w, 0)),
        squash(dim(w, 1)),
        squash(dim(w, 2)),
        squash(dim(w, 3)),
        f32::from(u8::from(node.bias)),
        squash(dim(&node.kernel, 0)),
        squash(dim(&node.kernel, 1)),
        squash(dim(&node.strides, 0)),
        squash(dim(&node.strides, 1)),
        squash(dim(&node.dilations, 0)),
        squash(node.groups as f64),
        squash(node.macs as f64) / 2.0,
        squash(node.params as f64) / 2.0,
        f32::from(u8::from(node.shape == ShapeStatus::Unknown)),
    ]
}

/// Encodes a CG.
pub fn encode(cg: &Cg) -> EncodedGraph {
    let mut g = EncodedGraph::default();
    for node in cg.nodes() {
        g.ops.push(node.op.index() as u16);
        g.numeric.extend(node_features(node));
    }
    g.edges = cg.edges().map(|(a, b)| (a as u32, b as u32)).collect();
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_every_node_and_edge() {
        let mut cg = Cg::default();
        let mut conv = CgNode::new("conv", OpCategory::Conv, "Conv");
        conv.input_shape = vec![1, 3, 32, 32];
        conv.output_shape = vec![1, 16, 32, 32];
        conv.weight_shape = vec![16, 3, 3, 3];
        conv.macs = 442_368;
        let input = cg.add_node(CgNode::new("x", OpCategory::Input, "Input"));
        let c = cg.add_node(conv);
        cg.graph.add_edge(input, c, ());
        let g = encode(&cg);
        assert_eq!(g.node_count(), 2);
        assert_eq!(g.numeric.len(), 2 * NUMERIC_FEATURES);
        assert_eq!(g.edges, vec![(0, 1)]);
        assert_eq!(g.ops[1] as usize, OpCategory::Conv.index());
        let conv_features = &g.numeric[NUMERIC_FEATURES..];
        assert!(
            (conv_features[2] - squash(3.0)).abs() < 1e-6,
            "input channels"
        );
        assert!(
            (conv_features[5] - squash(16.0)).abs() < 1e-6,
            "output channels"
        );
        assert!(conv_features.iter().all(|v| v.is_finite() && *v >= 0.0));
    }
}
