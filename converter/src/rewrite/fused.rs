//! ONNX Runtime's `com.microsoft` fusions → the operators they fuse.
//!
//! * `FusedConv`, `FusedGemm`: the convolution or Gemm, the `Add` of `FusedConv`'s fourth
//!   input, then the activation as its own node.
//! * `NhwcConv`: `Conv` between the transposes to and from channels-last.
//! * `BiasGelu`, `FastGelu` with a bias, `BiasAdd`: the `Add`s, then the `Gelu`.
//! * `SkipLayerNormalization`, `SkipSimplifiedLayerNormalization`: the residual `Add` (and
//!   bias), then the (simplified) layer normalisation; the sum output is the `Add`'s.
//! * `Attention` (packed QKV weights) and `MultiHeadAttention` (separate Q, K, V): projection,
//!   `Split`, then scores `MatMul(Q, Kᵀ)`, `Softmax`, `MatMul(·, V)` on `[batch, sequence,
//!   hidden]`. The heads are not split out: the MACs are those of the per-head products
//!   (`batch × heads × S² × head_size = batch × S² × hidden`), the intermediate shapes are not.
//!
//! * `QuickGelu(x) = x · σ(alpha · x)`: `Sigmoid` and `Mul` (ONNX Runtime writes SiLU/Swish
//!   as `QuickGelu` with `alpha = 1`), with the `Mul` by `alpha` when it is not 1.
//!
//! `FusedMatMul` (transposed operands) and `Gelu` have shape rules of their own.

use super::quantized::transpose;
use super::{Context, Registry, attrs_without, given, input, op, scalar};
use crate::ir::{Attr, Node};
use crate::value::DType;

pub(super) fn register(r: &mut Registry) {
    r.add(&["FusedConv"], fused_conv);
    r.add(&["FusedGemm"], fused_gemm);
    r.add(&["NhwcConv"], nhwc_conv);
    r.add(&["BiasGelu", "FastGelu"], biased_gelu);
    r.add(&["QuickGelu"], quick_gelu);
    r.add(&["BiasAdd"], bias_add);
    r.add(
        &["SkipLayerNormalization", "SkipSimplifiedLayerNormalization"],
        skip_norm,
    );
    r.add(&["Attention"], attention);
    r.add(&["MultiHeadAttention"], multi_head_attention);
}

/// The activation node `name(x) → y` with ONNX Runtime's activation parameters.
fn activation(like: &Node, name: &str, params: &[f32], x: String, y: String) -> Vec<Node> {
    let mut n = op(like, name, vec![x], vec![y]);
    let param = |i: usize, default: f32| params.get(i).copied().unwrap_or(default);
    match name {
        "LeakyRelu" => n.attrs.push(("alpha".into(), Attr::Float(param(0, 0.01)))),
        "HardSigmoid" => {
            n.attrs.push(("alpha".into(), Attr::Float(param(0, 0.2))));
            n.attrs.push(("beta".into(), Attr::Float(param(1, 0.5))));
        }
        "Clip" if params.len() >= 2 => {
            let mut nodes = Vec::new();
            for (i, bound) in ["min", "max"].iter().enumerate() {
                let c = format!("{}::aiop_{bound}", n.outputs[0]);
                nodes.push(scalar(like, c.clone(), DType::F32, f64::from(params[i])));
                n.inputs.push(c);
            }
            nodes.push(n);
            return nodes;
        }
        _ => {}
    }
    vec![n]
}

/// Pushes `n` (whose output is `node`'s), then `node`'s activation attribute as its own node.
fn then_activation(
    node: &Node,
    mut n: Node,
    params: &[f32],
    cx: &mut Context,
    out: &mut Vec<Node>,
) {
    match node.string("activation").filter(|a| !a.is_empty()) {
        Some(act) => {
            let y = n.outputs[0].clone();
            let pre = cx.fresh(&y);
            n.outputs = vec![pre.clone()];
            out.push(n);
            out.extend(activation(node, act, params, pre, y));
        }
        None => out.push(n),
    }
}

/// `FusedConv(X, W, B, Z)`: `act(Conv(X, W, B) + Z)`.
fn fused_conv(node: &Node, cx: &mut Context, out: &mut Vec<Node>) -> bool {
    let (Some(y), true) = (node.outputs.first().cloned(), node.inputs.len() >= 2) else {
        return false;
    };
    let ins: Vec<String> = node.inputs.iter().take(3).cloned().collect();
    let mut conv = op(node, "Conv", ins, vec![y.clone()]);
    conv.attrs = attrs_without(node, &["activation", "activation_params"]);
    let params = node.floats("activation_params").unwrap_or(&[]).to_vec();
    let conv = match input(node, 3).cloned() {
        Some(z) => {
            let c = cx.fresh(&y);
            conv.outputs = vec![c.clone()];
            out.push(conv);
            op(node, "Add", vec![c, z], vec![y])
        }
        None => conv,
    };
    then_activation(node, conv, &params, cx, out);
    true
}

/// `FusedGemm(A, B, C)`: `act(Gemm(A, B, C))`.
fn fused_gemm(node: &Node, cx: &mut Context, out: &mut Vec<Node>) -> bool {
    let Some(y) = node.outputs.first().cloned() else {
        return false;
    };
    let mut gemm = op(node, "Gemm", node.inputs.clone(), vec![y]);
    gemm.attrs = node
        .attrs
        .iter()
        .filter(|(n, _)| !n.starts_with("activation"))
        .cloned()
        .collect();
    let params: Vec<f32> = ["activation_alpha", "activation_beta", "activation_gamma"]
        .iter()
        .map_while(|a| node.float(a))
        .collect();
    then_activation(node, gemm, &params, cx, out);
    true
}

/// `NhwcConv(X, W, B)` on channels-last `X`: transpose, `Conv`, transpose back.
fn nhwc_conv(node: &Node, cx: &mut Context, out: &mut Vec<Node>) -> bool {
    let Some(([x], y)) = given(node, [0]) else {
        return false;
    };
    let (nchw, conv_out) = (cx.fresh(&x), cx.fresh(&y));
    out.push(transpose(node, x, nchw.clone(), &[0, 3, 1, 2]));
    let mut ins = vec![nchw];
    ins.extend(node.inputs.iter().skip(1).cloned());
    let mut conv = op(node, "Conv", ins, vec![conv_out.clone()]);
    conv.attrs = node.attrs.clone();
    out.push(conv);
    out.push(transpose(node, conv_out, y, &[0, 2, 3, 1]));
    true
}

/// `a + b → y` (a fresh `y` when `None`); returns `y`.
fn add(
    node: &Node,
    a: String,
    b: String,
    y: Option<String>,
    cx: &mut Context,
    out: &mut Vec<Node>,
) -> String {
    let y = y.unwrap_or_else(|| cx.fresh(&a));
    out.push(op(node, "Add", vec![a, b], vec![y.clone()]));
    y
}

/// `BiasGelu(A, B)` and `FastGelu(X, bias)`: `Gelu(A + B)`; a `FastGelu` without a bias is
/// left to its shape rule.
fn biased_gelu(node: &Node, cx: &mut Context, out: &mut Vec<Node>) -> bool {
    let Some(([x, bias], y)) = given(node, [0, 1]) else {
        return false;
    };
    let sum = add(node, x, bias, None, cx, out);
    out.push(op(node, "Gelu", vec![sum], vec![y]));
    true
}

/// `QuickGelu(X)` with attribute `alpha` (default 1.702): `X · Sigmoid(alpha · X)`.
fn quick_gelu(node: &Node, cx: &mut Context, out: &mut Vec<Node>) -> bool {
    let Some(([x], y)) = given(node, [0]) else {
        return false;
    };
    let alpha = node.float("alpha").unwrap_or(1.702);
    let scaled = if alpha == 1.0 {
        x.clone()
    } else {
        let (a, s) = (cx.fresh(&y), cx.fresh(&y));
        out.push(scalar(node, a.clone(), DType::F32, f64::from(alpha)));
        out.push(op(node, "Mul", vec![x.clone(), a], vec![s.clone()]));
        s
    };
    let gate = cx.fresh(&y);
    out.push(op(node, "Sigmoid", vec![scaled], vec![gate.clone()]));
    out.push(op(node, "Mul", vec![x, gate], vec![y]));
    true
}

/// `BiasAdd(X, bias, skip)`: `X + bias + skip`.
fn bias_add(node: &Node, cx: &mut Context, out: &mut Vec<Node>) -> bool {
    let Some(([x, bias, skip], y)) = given(node, [0, 1, 2]) else {
        return false;
    };
    let sum = add(node, x, bias, None, cx, out);
    add(node, sum, skip, Some(y), cx, out);
    true
}

/// `SkipLayerNormalization(input, skip, gamma, beta, bias)` and
/// `SkipSimplifiedLayerNormalization(input, skip, gamma, bias)` → outputs
/// `(output, mean, inv_std_var, input_skip_bias_sum)`.
fn skip_norm(node: &Node, cx: &mut Context, out: &mut Vec<Node>) -> bool {
    let Some(([x, skip, gamma], y)) = given(node, [0, 1, 2]) else {
        return false;
    };
    let simplified = node.op_type == "SkipSimplifiedLayerNormalization";
    let (beta, bias) = if simplified {
        (None, input(node, 3).cloned())
    } else {
        (input(node, 3).cloned(), input(node, 4).cloned())
    };
    let sum_out = node.outputs.get(3).filter(|s| !s.is_empty()).cloned();
    let sum = match bias {
        Some(bias) => {
            let s = add(node, x, skip, None, cx, out);
            add(node, s, bias, sum_out, cx, out)
        }
        None => add(node, x, skip, sum_out, cx, out),
    };
    let (norm, mut ins) = if simplified {
        ("SimplifiedLayerNormalization", vec![sum, gamma])
    } else {
        ("LayerNormalization", vec![sum, gamma])
    };
    ins.extend(beta);
    let mut n = op(node, norm, ins, vec![y]);
    n.attrs = attrs_without(node, &[]);
    n.attrs.push(("axis".into(), Attr::Int(-1)));
    out.push(n);
    true
}

/// `com.microsoft` `Attention(input, weights, bias, …)`, packed Q/K/V projection. (The standard
/// domain's `Attention`, opset 23, takes Q, K and V and has a shape rule of its own.)
fn attention(node: &Node, cx: &mut Context, out: &mut Vec<Node>) -> bool {
    node.domain == "com.microsoft" && attention_of(node, 0, 1, 2, cx, out)
}

/// Packed attention on the inputs at `x`, `w`, `b` of `node` (shared with `QAttention`):
/// `MatMul(x, w) (+ b)`, split into Q, K, V per `qkv_hidden_sizes` (equal thirds without it),
/// then [`core`].
pub(super) fn attention_of(
    node: &Node,
    x: usize,
    w: usize,
    b: usize,
    cx: &mut Context,
    out: &mut Vec<Node>,
) -> bool {
    let Some(([x, w], y)) = given(node, [x, w]) else {
        return false;
    };
    let projected = cx.fresh(&y);
    out.push(op(node, "MatMul", vec![x, w], vec![projected.clone()]));
    let qkv = match input(node, b).cloned() {
        Some(bias) => add(node, projected, bias, None, cx, out),
        None => projected,
    };
    let parts = [cx.fresh(&y), cx.fresh(&y), cx.fresh(&y)];
    let mut split = op(node, "Split", vec![qkv], parts.to_vec());
    split.attrs.push(("axis".into(), Attr::Int(-1)));
    if let Some(sizes) = node.ints("qkv_hidden_sizes").filter(|s| s.len() == 3) {
        split
            .attrs
            .push(("split".into(), Attr::Ints(sizes.to_vec())));
    }
    out.push(split);
    let [q, k, v] = parts;
    core(node, q, k, v, y, cx, out);
    true
}

/// `MultiHeadAttention(query, key, value, bias, …)` with separate `[batch, S, hidden]` Q, K, V;
/// packed forms (no `value`) are left to the shape rules.
fn multi_head_attention(node: &Node, cx: &mut Context, out: &mut Vec<Node>) -> bool {
    let Some(([q, k, v], y)) = given(node, [0, 1, 2]) else {
        return false;
    };
    let (q, k, v) = match input(node, 3).cloned() {
        Some(bias) => {
            let parts = [cx.fresh(&bias), cx.fresh(&bias), cx.fresh(&bias)];
            let mut split = op(node, "Split", vec![bias], parts.to_vec());
            split.attrs.push(("axis".into(), Attr::Int(0)));
            out.push(split);
            let [bq, bk, bv] = parts;
            (
                add(node, q, bq, None, cx, out),
                add(node, k, bk, None, cx, out),
                add(node, v, bv, None, cx, out),
            )
        }
        None => (q, k, v),
    };
    core(node, q, k, v, y, cx, out);
    true
}

/// `Softmax(Q · Kᵀ) · V → y` on `[batch, sequence, hidden]` operands.
fn core(
    node: &Node,
    q: String,
    k: String,
    v: String,
    y: String,
    cx: &mut Context,
    out: &mut Vec<Node>,
) {
    let kt = cx.fresh(&k);
    out.push(transpose(node, k, kt.clone(), &[0, 2, 1]));
    let scores = cx.fresh(&y);
    out.push(op(node, "MatMul", vec![q, kt], vec![scores.clone()]));
    let probs = cx.fresh(&y);
    let mut softmax = op(node, "Softmax", vec![scores], vec![probs.clone()]);
    softmax.attrs.push(("axis".into(), Attr::Int(-1)));
    out.push(softmax);
    out.push(op(node, "MatMul", vec![probs, v], vec![y]));
}
