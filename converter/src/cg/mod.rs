//! The computational graph (CG): one node per primitive operation on the data path, edges for
//! data flow, per-node shapes and costs. Format documented in `docs/cg-format.md`.

mod build;
pub mod canonical;
pub mod cost;
pub mod format;
pub mod summary;
pub mod vocab;

pub use crate::value::Precision;
pub use build::build;
pub use canonical::canonicalize;
use petgraph::graph::{DiGraph, NodeIndex};
use serde::{Deserialize, Serialize};
pub use vocab::{OpCategory, VOCAB_VERSION};

/// How well a node's output shape is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShapeStatus {
    /// Every dimension is exact.
    Known,
    /// Every dimension is known, some as a data-dependent worst case (detections after NMS).
    Bounded,
    /// Some dimension (or the rank) could not be inferred.
    Unknown,
}

/// One operation of the CG.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CgNode {
    /// Name in the source model (or the first output's name).
    pub name: String,
    /// Category in the CG vocabulary.
    pub op: OpCategory,
    /// Original operator type (e.g. `Conv`, `com.example:MyOp`).
    pub op_type: String,
    /// Shape of the main data input; `-1` marks an unknown dimension. Empty for inputs.
    pub input_shape: Vec<i64>,
    /// Shape of the (first) output; `-1` marks an unknown dimension.
    pub output_shape: Vec<i64>,
    /// Dimensions of the weight operand, if the op has one (conv: `[out, in/groups, kh, kw]`).
    pub weight_shape: Vec<u64>,
    /// The op adds a bias of its own (Conv/Gemm third input).
    pub bias: bool,
    /// Window of convolutions and pooling; empty otherwise.
    pub kernel: Vec<u64>,
    pub strides: Vec<u64>,
    pub dilations: Vec<u64>,
    /// Convolution groups (1 for everything else).
    pub groups: u64,
    /// Multiply-accumulates of convolutions and matrix products (0 for other ops).
    pub macs: u64,
    /// Floating-point operations including element-wise work (see `docs/cg-format.md`).
    pub flops: u64,
    /// Trainable parameters first consumed by this node.
    pub params: u64,
    /// Whether the output shape is known.
    pub shape: ShapeStatus,
    /// The numeric format of a quantized or reduced-precision node (`int8`, `uint8`, `int4`,
    /// `fp16`, …); absent for 32-bit float. Not part of the predictor's encoding.
    #[serde(default)]
    pub precision: Option<Precision>,
}

impl CgNode {
    /// A node with the given category and op type and nothing else known yet.
    pub fn new(name: impl Into<String>, op: OpCategory, op_type: impl Into<String>) -> CgNode {
        CgNode {
            name: name.into(),
            op,
            op_type: op_type.into(),
            input_shape: Vec::new(),
            output_shape: Vec::new(),
            weight_shape: Vec::new(),
            bias: false,
            kernel: Vec::new(),
            strides: Vec::new(),
            dilations: Vec::new(),
            groups: 1,
            macs: 0,
            flops: 0,
            params: 0,
            shape: ShapeStatus::Known,
            precision: None,
        }
    }

    /// `(height, width, channels)` of a shape by the CG convention: NCHW for rank 4
    /// (rank ≥ 5: the spatial dims multiplied into H, the last into W), `[N, L, C]` → (L, 1, C),
    /// `[N, C]` → (1, 1, C), `[C]` → (1, 1, C). Unknown dims are `-1`.
    pub fn hwc(shape: &[i64]) -> (i64, i64, i64) {
        match shape.len() {
            0 => (1, 1, 1),
            1 => (1, 1, shape[0]),
            2 => (1, 1, shape[1]),
            3 => (shape[1], 1, shape[2]),
            4 => (shape[2], shape[3], shape[1]),
            n => {
                let h = shape[2..n - 1]
                    .iter()
                    .try_fold(1i64, |a, d| (*d >= 0).then(|| a.saturating_mul(*d)))
                    .unwrap_or(-1);
                (h, shape[n - 1], shape[1])
            }
        }
    }
}

/// A network's computational graph.
#[derive(Clone, Debug, Default)]
pub struct Cg {
    /// Model name (file stem by default).
    pub name: String,
    /// Where it came from (file name and producer).
    pub source: String,
    /// The nodes and data-flow edges; node indices are contiguous.
    pub graph: DiGraph<CgNode, ()>,
    /// Things the converter could not do exactly (unsupported ops, bound dims, …).
    pub warnings: Vec<String>,
}

impl Cg {
    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.graph.node_count()
    }

    /// Number of edges.
    pub fn edge_count(&self) -> usize {
        self.graph.edge_count()
    }

    /// Iterates nodes in index order.
    pub fn nodes(&self) -> impl Iterator<Item = &CgNode> {
        self.graph.node_weights()
    }

    /// Edges as `(source, target)` node indices.
    pub fn edges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.graph
            .raw_edges()
            .iter()
            .map(|e| (e.source().index(), e.target().index()))
    }

    /// Total multiply-accumulates (saturating).
    pub fn macs(&self) -> u64 {
        self.nodes().fold(0u64, |a, n| a.saturating_add(n.macs))
    }

    /// Total FLOPs including element-wise work (saturating).
    pub fn flops(&self) -> u64 {
        self.nodes().fold(0u64, |a, n| a.saturating_add(n.flops))
    }

    /// Input resolution: the height of the first input with a spatial shape (`[N, C, H, W]`
    /// after any layout lowering), 0 when no input has one or it is not known.
    pub fn resolution(&self) -> u32 {
        self.nodes()
            .filter(|n| n.op == OpCategory::Input && n.output_shape.len() >= 4)
            .map(|n| n.output_shape[2])
            .next()
            .map_or(0, |h| u32::try_from(h).unwrap_or(0))
    }

    /// Total trainable parameters (saturating).
    pub fn params(&self) -> u64 {
        self.nodes().fold(0u64, |a, n| a.saturating_add(n.params))
    }

    /// Nodes whose output shape is not fully known.
    pub fn unknown_shapes(&self) -> usize {
        self.nodes()
            .filter(|n| n.shape == ShapeStatus::Unknown)
            .count()
    }

    /// Nodes whose shape is a data-dependent worst case.
    pub fn bounded_shapes(&self) -> usize {
        self.nodes()
            .filter(|n| n.shape == ShapeStatus::Bounded)
            .count()
    }

    /// Adds a node and returns its index.
    pub fn add_node(&mut self, node: CgNode) -> NodeIndex {
        self.graph.add_node(node)
    }
}
