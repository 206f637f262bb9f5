//! Quantized operators → the float operators they compute.
//!
//! * QDQ: `QuantizeLinear` and `DequantizeLinear` become identities (the float ops between them
//!   stay); a dequantized stored integer tensor is a weight.
//! * QOperator: `QLinearConv`, `QLinearMatMul`, `QGemm`, `QLinearAdd`/`Mul`, `QLinearConcat`,
//!   the quantized pools, `QLinearSigmoid`/`LeakyRelu`/`Softmax`/`ReduceMean` and
//!   `QAttention` become their float ops on the same data operands; scales and zero points go.
//! * Dynamic: `DynamicQuantizeLinear` passes its input on (with a unit scale and zero zero
//!   point), `ConvInteger`/`MatMulInteger` become `Conv`/`MatMul`, and the `Cast` and the
//!   rescaling `Mul` after them become identities. `DynamicQuantizeMatMul` and
//!   `MatMulIntegerToFloat` become `MatMul` (+ `Add` of their bias).
//! * `MatMulNBits`: `MatMul` with a float weight of the declared `[K, N]` in place of the packed
//!   blocks.
//!
//! Every rewritten compute node records its precision: the weight's type, else the quantized
//! activation's.

use rustc_hash::FxHashMap as HashMap;

use super::{Context, Registry, attrs_without, given, identity, input, op, scalar};
use crate::ir::{Attr, Node};
use crate::value::{DType, Precision};

pub(super) fn register(r: &mut Registry) {
    r.add(&["QuantizeLinear"], quantize);
    r.add(&["DequantizeLinear"], dequantize);
    r.add(&["DynamicQuantizeLinear"], dynamic_quantize);
    r.add(&["QLinearConv", "QLinearConvTranspose"], qlinear_conv);
    r.add(&["ConvInteger", "MatMulInteger"], integer_product);
    r.add(&["QLinearMatMul"], qlinear_matmul);
    r.add(&["QGemm"], qgemm);
    r.add(&["QLinearAdd", "QLinearMul"], qlinear_binary);
    r.add(
        &[
            "QLinearSigmoid",
            "QLinearLeakyRelu",
            "QLinearSoftmax",
            "QLinearAveragePool",
            "QLinearGlobalAveragePool",
            "QLinearReduceMean",
        ],
        qlinear_unary,
    );
    r.add(&["QLinearConcat"], qlinear_concat);
    r.add(
        &["DynamicQuantizeMatMul", "MatMulIntegerToFloat"],
        matmul_to_float,
    );
    r.add(&["MatMulNBits"], matmul_nbits);
    r.add(&["QAttention"], qattention);
}

/// `QuantizeLinear(x, scale, zero_point)`: `x`, now carrying the zero point's type.
fn quantize(node: &Node, cx: &mut Context, out: &mut Vec<Node>) -> bool {
    let (Some(x), Some(y)) = (input(node, 0), node.outputs.first()) else {
        return false;
    };
    let precision = input(node, 2)
        .and_then(|z| cx.precision_of(z))
        .or_else(|| {
            node.int("output_dtype")
                .and_then(|t| Precision::of(DType::from_onnx(t as i32)))
        })
        .unwrap_or(Precision::Uint8);
    cx.quantized.insert(y.clone(), precision);
    // A range the quantizer clamped at zero after a signed op stands for a folded activation
    // (only when this is the op's one reader: otherwise the others read it unclamped).
    let signed = cx.producer.get(x.as_str()).is_some_and(|&p| {
        let n = &cx.nodes[p];
        match n.op_type.as_str() {
            "Conv" | "ConvTranspose" | "Gemm" | "MatMul" => true,
            "Add" => !non_negative_sum(cx, &n.inputs),
            _ => false,
        }
    });
    if signed && cx.readers.get(x.as_str()) == Some(&1) {
        clamped(node, cx, x.clone(), y.clone(), 1, 2, out);
    } else {
        out.push(identity(node, x.clone(), y.clone()));
    }
    true
}

/// `x → y` through the activation that the quantized output range at (`scale`, `zero_point`)
/// of `node` implies: none when the range holds negative values, else a ReLU (a ReLU6, as a
/// `Clip` to [0, 6], when the range ends at 6). A uint8 zero point of 0 (int8: −128) cannot
/// represent anything below zero: the quantizer folded the ReLU that followed a signed op
/// into the range, as ONNX Runtime's quantizers do.
fn clamped(
    node: &Node,
    cx: &mut Context,
    x: String,
    y: String,
    scale: usize,
    zero_point: usize,
    out: &mut Vec<Node>,
) {
    let output = input(node, zero_point).and_then(|z| cx.precision_of(z));
    if let Some(p) = output {
        cx.quantized.insert(y.clone(), p);
    }
    let value = |i: usize| input(node, i).and_then(|n| cx.values.get(n));
    let lowest = match output {
        Some(Precision::Uint8) => 0,
        Some(Precision::Int8) => -128,
        _ => i64::MAX,
    };
    let at_zero = value(zero_point)
        .is_some_and(|z| !z.is_empty() && z.as_ints().iter().all(|v| *v == lowest));
    if !at_zero {
        out.push(identity(node, x, y));
        return;
    }
    let top = value(scale).and_then(|s| s.float_at(0)).map(|s| s * 255.0);
    let mut clamp = if top.is_some_and(|t| (t - 6.0).abs() < 0.06) {
        let (lo, hi) = (cx.fresh(&y), cx.fresh(&y));
        out.push(scalar(node, lo.clone(), DType::F32, 0.0));
        out.push(scalar(node, hi.clone(), DType::F32, 6.0));
        op(node, "Clip", vec![x, lo, hi], vec![y])
    } else {
        op(node, "Relu", vec![x], vec![y])
    };
    clamp.precision = output;
    out.push(clamp);
}

/// Pushes `n`, writing `node`'s output through the activation its output range implies
/// ([`clamped`]; scale and zero point at `scale`, `scale + 1`).
fn push_clamped(node: &Node, mut n: Node, scale: usize, cx: &mut Context, out: &mut Vec<Node>) {
    let y = n.outputs[0].clone();
    let pre = cx.fresh(&y);
    n.outputs = vec![pre.clone()];
    out.push(n);
    let start = out.len();
    clamped(node, cx, pre, y, scale, scale + 1, out);
    if out.len() == start + 1 && out[start].op_type == "Identity" {
        // No activation: the op writes the output itself.
        let id = out.pop().expect("just pushed");
        out.last_mut().expect("the op").outputs = id.outputs;
    }
}

/// `DequantizeLinear(x, scale, zero_point)`: `x`; a stored `x` is a weight.
fn dequantize(node: &Node, cx: &mut Context, out: &mut Vec<Node>) -> bool {
    let (Some(x), Some(y)) = (input(node, 0), node.outputs.first()) else {
        return false;
    };
    let precision = cx.weight(x).or_else(|| cx.precision_of(x));
    if let Some(p) = precision {
        cx.quantized.insert(y.clone(), p);
    }
    out.push(identity(node, x.clone(), y.clone()));
    true
}

/// `DynamicQuantizeLinear(x) → (y, y_scale, y_zero_point)`: `y = x`, scale 1, zero point 0.
fn dynamic_quantize(node: &Node, cx: &mut Context, out: &mut Vec<Node>) -> bool {
    let (Some(x), Some(y)) = (input(node, 0), node.outputs.first()) else {
        return false;
    };
    cx.quantized.insert(y.clone(), Precision::Uint8);
    out.push(identity(node, x.clone(), y.clone()));
    if let Some(s) = node.outputs.get(1).filter(|s| !s.is_empty()) {
        out.push(scalar(node, s.clone(), DType::F32, 1.0));
    }
    if let Some(z) = node.outputs.get(2).filter(|s| !s.is_empty()) {
        out.push(scalar(node, z.clone(), DType::U8, 0.0));
    }
    true
}

/// A float op on `inputs` with `node`'s attributes (less `drop`) and outputs.
fn float_op(node: &Node, op_type: &str, inputs: Vec<String>, drop: &[&str]) -> Node {
    let mut n = op(node, op_type, inputs, node.outputs[..1].to_vec());
    n.attrs = attrs_without(node, drop);
    n
}

/// The weight at `w` (marked as such) and the activation zero point at `zp` give the precision.
fn precision(node: &Node, cx: &mut Context, w: &[usize], zp: usize) -> Option<Precision> {
    let mut found = None;
    for &i in w {
        if let Some(name) = input(node, i).cloned() {
            found = found.or(cx.weight(&name));
        }
    }
    found.or_else(|| input(node, zp).and_then(|z| cx.precision_of(z)))
}

/// Inputs `slots` of `node`, all required.
fn operands(node: &Node, slots: &[usize]) -> Option<Vec<String>> {
    slots.iter().map(|&i| input(node, i).cloned()).collect()
}

/// `QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B)` → `Conv(x, w, B)`.
fn qlinear_conv(node: &Node, cx: &mut Context, out: &mut Vec<Node>) -> bool {
    let Some(mut ins) = operands(node, &[0, 3]) else {
        return false;
    };
    ins.extend(input(node, 8).cloned());
    let float = node.op_type.trim_start_matches("QLinear");
    let mut n = float_op(node, float, ins, &[]);
    n.precision = precision(node, cx, &[3, 8], 2);
    push_clamped(node, n, 6, cx, out);
    true
}

/// `ConvInteger(x, w, x_zp, w_zp)` → `Conv(x, w)`; `MatMulInteger(a, b, a_zp, b_zp)` →
/// `MatMul(a, b)`.
fn integer_product(node: &Node, cx: &mut Context, out: &mut Vec<Node>) -> bool {
    let Some(ins) = operands(node, &[0, 1]) else {
        return false;
    };
    let float = node.op_type.trim_end_matches("Integer");
    let mut n = float_op(node, float, ins, &[]);
    n.precision = precision(node, cx, &[1], 2);
    out.push(n);
    true
}

/// `QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp)` → `MatMul(a, b)`.
fn qlinear_matmul(node: &Node, cx: &mut Context, out: &mut Vec<Node>) -> bool {
    let Some(ins) = operands(node, &[0, 3]) else {
        return false;
    };
    let mut n = float_op(node, "MatMul", ins, &[]);
    n.precision = precision(node, cx, &[3], 2);
    push_clamped(node, n, 6, cx, out);
    true
}

/// `QGemm(A, a_scale, a_zp, B, b_scale, b_zp, C, y_scale, y_zp)` → `Gemm(A, B, C)`.
fn qgemm(node: &Node, cx: &mut Context, out: &mut Vec<Node>) -> bool {
    let Some(mut ins) = operands(node, &[0, 3]) else {
        return false;
    };
    ins.extend(input(node, 6).cloned());
    let mut n = float_op(node, "Gemm", ins, &[]);
    n.precision = precision(node, cx, &[3, 6], 2);
    push_clamped(node, n, 7, cx, out);
    true
}

/// `QLinearAdd/Mul(A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp)` → `Add/Mul(A, B)`.
fn qlinear_binary(node: &Node, cx: &mut Context, out: &mut Vec<Node>) -> bool {
    let Some(ins) = operands(node, &[0, 3]) else {
        return false;
    };
    let float = node.op_type.trim_start_matches("QLinear");
    let mut n = float_op(node, float, ins, &[]);
    n.precision = precision(node, cx, &[3], 2);
    // `1 + erf(…)` starts its range at zero without a folded ReLU
    let dequantized = [
        node.inputs[..3].to_vec(),
        node.inputs.get(3..6).unwrap_or_default().to_vec(),
    ];
    if float == "Add" && !non_negative_sum(cx, &dequantized.concat()) {
        push_clamped(node, n, 6, cx, out);
    } else {
        if let Some(p) = input(node, 7).and_then(|z| cx.precision_of(z)) {
            cx.quantized.insert(n.outputs[0].clone(), p);
        }
        out.push(n);
    }
    true
}

/// Whether a sum cannot be negative by construction: one operand an `Erf` or `Tanh` output
/// (in [−1, 1], seen through quantize/dequantize steps), the other a constant ≥ 1 — the
/// `1 + erf(x/√2)` of an exact GELU, whose quantized range starts at zero although no
/// activation was folded into it. `operands` are the two addends as `[a, b]`, or as
/// `[a, a_scale, a_zp, b, b_scale, b_zp]` when quantized.
fn non_negative_sum(cx: &Context, operands: &[String]) -> bool {
    let (a, b) = match operands.len() {
        2 => ((&operands[0], None), (&operands[1], None)),
        6 => (
            (&operands[0], Some((&operands[1], &operands[2]))),
            (&operands[3], Some((&operands[4], &operands[5]))),
        ),
        _ => return false,
    };
    let bounded = |name: &str| {
        let source = through_quantization(cx, name);
        cx.producer
            .get(source)
            .is_some_and(|&p| matches!(cx.nodes[p].op_type.as_str(), "Erf" | "Tanh"))
    };
    let at_least_one = |(name, q): (&String, Option<(&String, &String)>)| {
        constant_values(cx, name, q).is_some_and(|v| !v.is_empty() && v.iter().all(|x| *x >= 0.999))
    };
    (bounded(a.0) && at_least_one(b)) || (bounded(b.0) && at_least_one(a))
}

/// The tensor `name` carries the values of, before any `QuantizeLinear`/`DequantizeLinear`.
fn through_quantization<'a>(cx: &'a Context, mut name: &'a str) -> &'a str {
    for _ in 0..4 {
        match cx.producer.get(name).map(|&p| &cx.nodes[p]) {
            Some(n) if matches!(n.op_type.as_str(), "QuantizeLinear" | "DequantizeLinear") => {
                match n.inputs.first() {
                    Some(x) => name = x,
                    None => break,
                }
            }
            _ => break,
        }
    }
    name
}

/// The real values of the constant `name`: stored as floats, dequantized by the
/// `DequantizeLinear` that produces it, or by `quantization` (scale, zero point) when given.
fn constant_values(
    cx: &Context,
    name: &str,
    quantization: Option<(&String, &String)>,
) -> Option<Vec<f64>> {
    let dequantize = |q: &str, scale: &str, zp: Option<&str>| {
        let scale = cx.values.get(scale)?.float_at(0)?;
        let zp = zp
            .and_then(|z| cx.values.get(z))
            .map_or(0, |z| z.as_ints().first().copied().unwrap_or(0));
        let q = cx.values.get(q)?;
        Some(
            q.as_ints()
                .iter()
                .map(|v| (v - zp) as f64 * scale)
                .collect::<Vec<f64>>(),
        )
    };
    if let Some((scale, zp)) = quantization {
        return dequantize(name, scale, Some(zp));
    }
    if let Some(&p) = cx.producer.get(name) {
        let n = &cx.nodes[p];
        if n.op_type == "DequantizeLinear" {
            return dequantize(
                n.inputs.first()?,
                n.inputs.get(1)?,
                n.inputs.get(2).map(String::as_str),
            );
        }
        return None;
    }
    let v = cx.values.get(name)?;
    Some(v.as_floats())
}

/// `QLinearX(X, X_scale, X_zp, Y_scale, Y_zp)` → `X(X)`; a channels-last pool is wrapped in
/// the transposes that give it the NCHW input it has in the float graph.
fn qlinear_unary(node: &Node, cx: &mut Context, out: &mut Vec<Node>) -> bool {
    let Some(([x], y)) = given(node, [0]) else {
        return false;
    };
    let float = node.op_type.trim_start_matches("QLinear");
    let precision = cx.precision_of(input(node, 2).map_or("", String::as_str));
    if let Some(p) = input(node, 4).and_then(|z| cx.precision_of(z)) {
        cx.quantized.insert(y.clone(), p);
    }
    let channels_last = node.int("channels_last").unwrap_or(0) != 0;
    let mut n = float_op(node, float, vec![x.clone()], &["channels_last"]);
    n.precision = precision;
    if channels_last {
        let nchw = cx.fresh(&x);
        let pooled = cx.fresh(&y);
        out.push(transpose(node, x, nchw.clone(), &[0, 3, 1, 2]));
        n.inputs = vec![nchw];
        n.outputs = vec![pooled.clone()];
        out.push(n);
        out.push(transpose(node, pooled, y, &[0, 2, 3, 1]));
    } else {
        out.push(n);
    }
    true
}

/// `QLinearConcat(Y_scale, Y_zp, X1, X1_scale, X1_zp, …)` → `Concat(X1, …)`.
fn qlinear_concat(node: &Node, cx: &mut Context, out: &mut Vec<Node>) -> bool {
    let parts: Vec<String> = node.inputs.iter().skip(2).step_by(3).cloned().collect();
    if parts.is_empty() || parts.iter().any(String::is_empty) {
        return false;
    }
    let mut n = float_op(node, "Concat", parts, &[]);
    n.precision = input(node, 1).and_then(|z| cx.precision_of(z));
    if let Some(p) = n.precision {
        cx.quantized.insert(n.outputs[0].clone(), p);
    }
    out.push(n);
    true
}

/// `DynamicQuantizeMatMul(A, B, b_scale, b_zp, bias)` and
/// `MatMulIntegerToFloat(A, B, a_scale, b_scale, a_zp, b_zp, bias)` → `MatMul(A, B)` (+ bias).
fn matmul_to_float(node: &Node, cx: &mut Context, out: &mut Vec<Node>) -> bool {
    let Some(ins) = operands(node, &[0, 1]) else {
        return false;
    };
    let bias = input(
        node,
        if node.op_type == "DynamicQuantizeMatMul" {
            4
        } else {
            6
        },
    )
    .cloned();
    let mut n = float_op(node, "MatMul", ins, &[]);
    n.precision = precision(node, cx, &[1], usize::MAX);
    push_with_bias(node, n, bias, cx, out);
    true
}

/// `MatMulNBits(A, B, scales, zp, g_idx, bias)` with attributes `K`, `N`, `bits`: `MatMul` of
/// `A` and a float `[K, N]` weight declared in place of the packed `B` (+ bias).
fn matmul_nbits(node: &Node, cx: &mut Context, out: &mut Vec<Node>) -> bool {
    let (Some(a), Some(b)) = (input(node, 0).cloned(), input(node, 1).cloned()) else {
        return false;
    };
    let (Some(k), Some(n_out)) = (node.int("K"), node.int("N")) else {
        return false;
    };
    let (Ok(k), Ok(n_out)) = (u64::try_from(k), u64::try_from(n_out)) else {
        return false;
    };
    let Some(source) = cx.stored_source(&b).map(str::to_string) else {
        return false;
    };
    let w = cx.fresh(&b);
    cx.new_weights.push((w.clone(), source, vec![k, n_out]));
    let mut n = op(node, "MatMul", vec![a, w], node.outputs[..1].to_vec());
    n.precision = match node.int("bits").unwrap_or(4) {
        4 => Some(Precision::Int4),
        8 => Some(Precision::Int8),
        _ => None,
    };
    push_with_bias(node, n, input(node, 5).cloned(), cx, out);
    true
}

/// `QAttention(input, weight, bias, input_scale, weight_scale, mask, input_zp, weight_zp, …)`:
/// the float attention of [`super::fused`] on `input`, `weight`, `bias`.
fn qattention(node: &Node, cx: &mut Context, out: &mut Vec<Node>) -> bool {
    let precision = precision(node, cx, &[1], 6);
    let start = out.len();
    let done = super::fused::attention_of(node, 0, 1, 2, cx, out);
    for n in &mut out[start..] {
        if n.op_type == "MatMul" {
            n.precision = precision;
        }
    }
    done
}

/// Pushes `n`, then `Add(n, bias)` writing `node`'s output when there is a bias.
fn push_with_bias(
    node: &Node,
    mut n: Node,
    bias: Option<String>,
    cx: &mut Context,
    out: &mut Vec<Node>,
) {
    match bias {
        Some(bias) => {
            let y = n.outputs[0].clone();
            let product = cx.fresh(&y);
            n.outputs = vec![product.clone()];
            out.push(n);
            out.push(op(node, "Add", vec![product, bias], vec![y]));
        }
        None => out.push(n),
    }
}

/// `Transpose(x, perm) → y`.
pub(super) fn transpose(like: &Node, x: String, y: String, perm: &[i64]) -> Node {
    let mut n = op(like, "Transpose", vec![x], vec![y]);
    n.attrs.push(("perm".into(), Attr::Ints(perm.to_vec())));
    n
}

/// The `Cast` and rescaling `Mul` after each `ConvInteger`/`MatMulInteger`, by node index, with
/// the tensor each passes on: in the float graph, the product is used directly.
pub(super) fn rescaling(cx: &Context) -> HashMap<usize, String> {
    let nodes = &cx.nodes;
    let mut consumers: HashMap<&str, Vec<usize>> = HashMap::default();
    for (i, n) in nodes.iter().enumerate() {
        for input in n.inputs.iter().filter(|s| !s.is_empty()) {
            consumers.entry(input).or_default().push(i);
        }
    }
    // Tensors computed from scales only: the scale output of DynamicQuantizeLinear, stored
    // tensors, and what is computed from nothing else.
    let mut scales: rustc_hash::FxHashSet<&str> = cx.stored.keys().map(String::as_str).collect();
    for n in nodes {
        if n.op_type == "DynamicQuantizeLinear" {
            scales.extend(n.outputs.iter().skip(1).map(String::as_str));
        } else if n
            .inputs
            .iter()
            .all(|i| i.is_empty() || scales.contains(i.as_str()))
        {
            scales.extend(n.outputs.iter().map(String::as_str));
        }
    }
    let only = |name: &str| match consumers.get(name).map(Vec::as_slice) {
        Some([one]) => Some(*one),
        _ => None,
    };
    let mut passthrough = HashMap::default();
    for n in nodes
        .iter()
        .filter(|n| matches!(n.op_type.as_str(), "ConvInteger" | "MatMulInteger"))
    {
        let Some(product) = n.outputs.first() else {
            continue;
        };
        let Some(cast) = only(product).filter(|&c| nodes[c].op_type == "Cast") else {
            continue;
        };
        passthrough.insert(cast, product.clone());
        let Some(cast_out) = nodes[cast].outputs.first() else {
            continue;
        };
        if let Some(mul) = only(cast_out).filter(|&m| nodes[m].op_type == "Mul") {
            let other = nodes[mul].inputs.iter().find(|i| *i != cast_out);
            if other.is_some_and(|o| scales.contains(o.as_str())) {
                passthrough.insert(mul, cast_out.clone());
            }
        }
    }
    passthrough
}

/// Gives each float node that reads a dequantized tensor (QDQ) that tensor's precision: the
/// weight's when it reads one, else the first quantized activation's.
pub(super) fn annotate(nodes: &mut [Node], cx: &Context) {
    for n in nodes
        .iter_mut()
        .filter(|n| n.precision.is_none() && !matches!(n.op_type.as_str(), "Identity" | "Constant"))
    {
        let of = |i: &String| cx.quantized.get(i).copied();
        n.precision = n
            .inputs
            .iter()
            .skip(1)
            .find_map(of)
            .or_else(|| n.inputs.first().and_then(of));
    }
}
