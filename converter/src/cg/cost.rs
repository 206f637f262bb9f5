//! Cost convention (documented in `docs/cg-format.md`):
//!
//! * **MACs** count multiply-accumulates of convolutions, transposed convolutions and matrix
//!   products only (torchvision's "GFLOPS" metadata follows the same convention): conv =
//!   `out_elements × (in_channels/groups) × kernel_area`; transposed conv =
//!   `in_elements × (out_channels/groups) × kernel_area`; matmul/Gemm = `out_elements × K`.
//! * **FLOPs** add element-wise work to `2 × MACs`: one per output element for activations,
//!   arithmetic and resizing, two for batch norm, five for layer/group/instance norm and
//!   softmax, one per input element for reductions and global pooling, one per window element
//!   for pooling, plus one per output element for a conv/Gemm bias. Data movement (reshape,
//!   transpose, slice, concat, gather, pad, cast) costs nothing.

use super::OpCategory;
use crate::infer::fact::{Fact, product};
use crate::infer::ops::{fused_operand, linalg_contraction};

/// MACs and FLOPs of one node.
pub struct Cost {
    pub macs: u64,
    pub flops: u64,
}

/// The cost of a node of category `op` with input facts `ins` and first output `out`.
/// `weight` is the weight operand's shape, `kernel` the pooling window.
pub fn cost(
    op: OpCategory,
    node: &crate::ir::Node,
    ins: &[Option<&Fact>],
    out: &Fact,
    weight: &[u64],
    kernel: &[u64],
    bias: bool,
) -> Cost {
    use OpCategory::*;
    let out_n = out.numel().unwrap_or(0);
    let in_n = ins
        .first()
        .copied()
        .flatten()
        .and_then(Fact::numel)
        .unwrap_or(0);
    let macs = match op {
        Conv | DepthwiseConv if weight.len() >= 2 => out_n.saturating_mul(product(&weight[1..])),
        ConvTranspose if weight.len() >= 2 => in_n.saturating_mul(product(&weight[1..])),
        Linear | MatMul => matmul_macs(node, ins, out_n),
        _ => 0,
    };
    let per_element = match op {
        Input | Output | Concat | Split | Slice | Gather | Pad | Reshape | Transpose | Expand
        | SpaceDepth | Cast | ShapeOp | ControlFlow | Other | DataDependent | Nms => 0,
        BatchNorm => 2,
        LayerNorm | GroupNorm | InstanceNorm | OtherNorm | Softmax => 5,
        MaxPool | AvgPool => product(kernel),
        Conv | DepthwiseConv | ConvTranspose | Linear | MatMul => u64::from(bias),
        _ => 1,
    };
    let elementwise = match op {
        Reduce | ArgReduce | GlobalAvgPool | GlobalMaxPool => in_n,
        _ => out_n.saturating_mul(per_element),
    };
    Cost {
        macs,
        flops: macs.saturating_mul(2).saturating_add(elementwise),
    }
}

fn matmul_macs(node: &crate::ir::Node, ins: &[Option<&Fact>], out_n: u64) -> u64 {
    let dims = |i: usize| ins.get(i).copied().flatten().and_then(Fact::dims);
    match node.op_type.as_str() {
        "Gemm" => {
            let Some(a) = dims(0) else { return 0 };
            let k = if node.int("transA").unwrap_or(0) != 0 {
                a.first()
            } else {
                a.last()
            };
            out_n.saturating_mul(k.copied().unwrap_or(0))
        }
        "Einsum" => {
            let shapes: Option<Vec<Vec<u64>>> = (0..ins.len()).map(dims).collect();
            shapes
                .and_then(|s| linalg_contraction(node.string("equation")?, &s))
                .unwrap_or(0)
        }
        _ => {
            let k = dims(0)
                .and_then(|a| fused_operand(node, 'A', &a).last().copied())
                .unwrap_or(0);
            out_n.saturating_mul(k)
        }
    }
}
