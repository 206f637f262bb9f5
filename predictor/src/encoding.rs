//! CG → predictor inputs. The CG is first put in its canonical form
//! ([`aiop_converter::cg::canonicalize`]: layout transposes, casts, preprocessing and padding
//! dropped, batch norms folded into the layer before), so that one network gives one encoding
//! whether it was exported with BatchNorm folded or not, through ONNX or TensorFlow.
//!
//! Each node becomes its operation category (an index into the converter's vocabulary,
//! one-hot in the paper) and [`NUMERIC_FEATURES`] numbers:
//! - [`NODE_FEATURES`] of its own: input and output height/width/channels, weight dimensions,
//!   bias flag, kernel, stride, dilation, groups, MACs, params and an unknown-shape flag.
//!   Sizes span many orders of magnitude, so every count is fed as `ln(1 + x) / 10` (≈ 0–2
//!   for real networks);
//! - then [`GRAPH_FEATURES`] of the whole graph ([`GraphStats::features`]: log MACs, log
//!   params, log node count, log input resolution), the same on every node. A mean over nodes
//!   cannot see how big a network is; these let the predictor learn that, inside a family,
//!   width, depth and resolution buy accuracy.
//!
//! Edges follow the data flow, producer → consumer.
//!
//! Changing anything here changes what a trained predictor expects: bump
//! [`ENCODING_VERSION`], which every exported predictor records.

use aiop_converter::cg::canonicalize;
use aiop_converter::cg::vocab::VOCAB_VERSION;
use aiop_converter::{Cg, CgNode, OpCategory, ShapeStatus};

/// Version of the node-feature layout (includes the vocabulary's version).
pub const ENCODING_VERSION: u32 = 1000 * VOCAB_VERSION + 3;
/// Numeric features of a node's own.
pub const NODE_FEATURES: usize = 20;
/// Whole-graph features appended to every node.
pub const GRAPH_FEATURES: usize = 4;
/// Number of numeric features per node.
pub const NUMERIC_FEATURES: usize = NODE_FEATURES + GRAPH_FEATURES;
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
    /// The statistics of the (canonical) CG the graph features were computed from.
    pub stats: GraphStats,
}

impl EncodedGraph {
    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.ops.len()
    }

    /// The largest number of in-neighbours of a node (at least 1, as the predictor's
    /// `neighbours` input pads to it).
    pub fn max_in_degree(&self) -> usize {
        let mut degree = vec![0usize; self.node_count()];
        for &(_, dst) in &self.edges {
            if let Some(d) = degree.get_mut(dst as usize) {
                *d += 1;
            }
        }
        degree.into_iter().max().unwrap_or(0).max(1)
    }
}

/// What a whole (canonical) CG measures: the inputs of the graph features, and of the
/// graph-statistics baseline that every predictor result is compared with.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GraphStats {
    /// Multiply-accumulates.
    pub macs: u64,
    /// Trainable parameters.
    pub params: u64,
    /// Nodes of the canonical CG.
    pub nodes: usize,
    /// Input resolution (height of the image input; 0 when unknown).
    pub resolution: u32,
}

impl GraphStats {
    /// The statistics of `cg` (give it canonical, as [`encode`] does).
    pub fn of(cg: &Cg) -> GraphStats {
        GraphStats {
            macs: cg.macs(),
            params: cg.params(),
            nodes: cg.node_count(),
            resolution: cg.resolution(),
        }
    }

    /// The graph features, in order: `log10 MACs − 9`, `log10 params − 7`,
    /// `log10 nodes − 2.5` and `log2(resolution / 224)`, each 0 for a typical ImageNet
    /// network (1 GMAC, 10 M parameters, ≈ 300 nodes, 224 px) and within ±3 for real ones.
    /// Zero counts are taken as 1; an unknown resolution as 224.
    pub fn features(&self) -> [f32; GRAPH_FEATURES] {
        let log10 = |x: f64| x.max(1.0).log10();
        let resolution = if self.resolution == 0 {
            224
        } else {
            self.resolution
        };
        [
            (log10(self.macs as f64) - 9.0) as f32,
            (log10(self.params as f64) - 7.0) as f32,
            (log10(self.nodes as f64) - 2.5) as f32,
            (f64::from(resolution) / 224.0).log2() as f32,
        ]
    }
}

/// `ln(1 + x) / 10` for a count or size; unknown (negative) values become 0.
fn squash(x: f64) -> f32 {
    (x.max(0.0).ln_1p() / 10.0) as f32
}

fn dim(v: &[u64], i: usize) -> f64 {
    v.get(i).copied().unwrap_or(0) as f64
}

/// A node's own numeric features, in the documented order.
pub fn node_features(node: &CgNode) -> [f32; NODE_FEATURES] {
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

/// Encodes a CG (its canonical form).
pub fn encode(cg: &Cg) -> EncodedGraph {
    let cg = canonicalize(cg);
    let stats = GraphStats::of(&cg);
    let graph_features = stats.features();
    let mut g = EncodedGraph {
        stats,
        ..EncodedGraph::default()
    };
    g.ops.reserve(cg.node_count());
    g.numeric.reserve(cg.node_count() * NUMERIC_FEATURES);
    for node in cg.nodes() {
        g.ops.push(node.op.index() as u16);
        g.numeric.extend(node_features(node));
        g.numeric.extend(graph_features);
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
        let mut x = CgNode::new("x", OpCategory::Input, "Input");
        x.output_shape = vec![1, 3, 32, 32];
        let input = cg.add_node(x);
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
        assert!(
            conv_features[..NODE_FEATURES]
                .iter()
                .all(|v| v.is_finite() && *v >= 0.0)
        );
        assert_eq!(g.stats.macs, 442_368);
        assert_eq!(g.stats.nodes, 2);
        assert_eq!(g.stats.resolution, 32);
        let graph_features = g.stats.features();
        for node in g.numeric.chunks(NUMERIC_FEATURES) {
            assert_eq!(&node[NODE_FEATURES..], &graph_features[..], "on every node");
        }
    }

    #[test]
    fn graph_features_are_centred_on_a_typical_network() {
        let typical = GraphStats {
            macs: 1_000_000_000,
            params: 10_000_000,
            nodes: 316,
            resolution: 224,
        };
        for f in typical.features() {
            assert!(f.abs() < 1e-3, "{f}");
        }
        let tiny = GraphStats::default().features();
        assert_eq!(
            tiny,
            [-9.0, -7.0, -2.5, 0.0],
            "zero counts as 1, resolution as 224"
        );
        let wide = GraphStats {
            macs: 4_000_000_000,
            resolution: 448,
            ..typical
        };
        let f = wide.features();
        assert!((f[0] - 4f32.log10()).abs() < 1e-6 && (f[3] - 1.0).abs() < 1e-6);
    }
}
