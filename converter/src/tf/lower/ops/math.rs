//! Arithmetic: element-wise ops (constant operands of 4-D tensors broadcast per channel in
//! the lowered layout), reductions over TF axes, and matrix products.

use super::super::super::proto::NodeDef;
use super::super::attrs::{attr_bool, attr_dtype, attr_float};
use super::super::{Lowerer, Op};
use super::Registry;
use crate::error::Result;
use crate::ir::Attr;

/// Elementwise ops with an ONNX op of the same meaning.
const ELEMENTWISE: &[(&str, &str)] = &[
    ("Add", "Add"),
    ("AddV2", "Add"),
    ("Sub", "Sub"),
    ("Mul", "Mul"),
    ("RealDiv", "Div"),
    ("Div", "Div"),
    ("Maximum", "Max"),
    ("Minimum", "Min"),
    ("Pow", "Pow"),
    ("Relu", "Relu"),
    ("Sigmoid", "Sigmoid"),
    ("Tanh", "Tanh"),
    ("Elu", "Elu"),
    ("Selu", "Selu"),
    ("Softplus", "Softplus"),
    ("LeakyRelu", "LeakyRelu"),
    ("Exp", "Exp"),
    ("Log", "Log"),
    ("Sqrt", "Sqrt"),
    ("Neg", "Neg"),
    ("Abs", "Abs"),
    ("Erf", "Erf"),
    // erfc(x) = 1 − erf(x) (Keras's exact GELU): one unary node, as `Erf` is
    ("Erfc", "Erf"),
    ("Floor", "Floor"),
    ("Reciprocal", "Reciprocal"),
    ("Cast", "Cast"),
];

/// Reductions: TF op → ONNX op.
const REDUCTIONS: &[(&str, &str)] = &[
    ("Mean", "ReduceMean"),
    ("Sum", "ReduceSum"),
    ("Max", "ReduceMax"),
    ("Min", "ReduceMin"),
    ("Prod", "ReduceProd"),
];

pub(super) fn register(r: &mut Registry) {
    r.add(ELEMENTWISE.iter().map(|(tf, _)| *tf), 1, elementwise);
    r.add(REDUCTIONS.iter().map(|(tf, _)| *tf), 2, reduction);
    r.add(["MatMul"], 2, matmul);
    r.add(["Rsqrt"], 1, rsqrt);
    r.add(["Square"], 1, square);
    r.add(["SquaredDifference"], 1, squared_difference);
}

/// The ONNX op of TF op `op` in `table`, which registered it.
fn onnx_of(table: &[(&str, &'static str)], op: &str) -> &'static str {
    table
        .iter()
        .find(|(tf, _)| *tf == op)
        .map_or("", |(_, onnx)| onnx)
}

fn elementwise(l: &mut Lowerer, op: Op) -> Result<()> {
    let onnx = onnx_of(ELEMENTWISE, &op.node.op);
    l.elementwise(op.node, onnx, op.inputs)
}

fn reduction(l: &mut Lowerer, op: Op) -> Result<()> {
    let onnx = onnx_of(REDUCTIONS, &op.node.op);
    l.reduction(op.node, onnx, &op.inputs)
}

fn matmul(l: &mut Lowerer, op: Op) -> Result<()> {
    let node = op.node;
    let mut operands = op.inputs.clone();
    for (i, flag) in [(0, "transpose_a"), (1, "transpose_b")] {
        if attr_bool(node, flag) == Some(true) {
            let t = l.fresh(&node.name);
            l.push_named(&t, "Transpose", vec![operands[i].clone()], Vec::new());
            l.rank.insert(t.clone(), 2);
            operands[i] = t;
        }
    }
    l.push(node, "MatMul", operands, Vec::new());
    l.rank.insert(op.out(), 2);
    Ok(())
}

/// 1 / √x.
fn rsqrt(l: &mut Lowerer, op: Op) -> Result<()> {
    let root = l.fresh(&op.node.name);
    l.push_named(&root, "Sqrt", vec![op.first.clone()], Vec::new());
    l.push(op.node, "Reciprocal", vec![root], Vec::new());
    l.keep_rank(op.out(), op.rank);
    Ok(())
}

/// x · x.
fn square(l: &mut Lowerer, op: Op) -> Result<()> {
    l.push(
        op.node,
        "Mul",
        vec![op.first.clone(), op.first.clone()],
        Vec::new(),
    );
    l.keep_rank(op.out(), op.rank);
    Ok(())
}

/// (x − y)²: the difference broadcasts like any element-wise op.
fn squared_difference(l: &mut Lowerer, op: Op) -> Result<()> {
    let mut difference = op.node.clone();
    difference.name = l.fresh(&op.node.name);
    l.elementwise(&difference, "Sub", op.inputs.clone())?;
    let d = difference.name;
    let rank = l.rank.get(&d).copied();
    l.push(op.node, "Mul", vec![d.clone(), d], Vec::new());
    l.keep_rank(op.out(), rank);
    Ok(())
}

impl Lowerer {
    fn elementwise(&mut self, node: &NodeDef, onnx: &str, inputs: Vec<String>) -> Result<()> {
        let rank = inputs
            .iter()
            .filter_map(|i| self.rank.get(i))
            .max()
            .copied();
        let layout4 = inputs
            .iter()
            .any(|i| self.is_nhwc4(i) && !self.graph.initializers.contains_key(i));
        let inputs: Vec<String> = inputs
            .into_iter()
            .map(|i| {
                if !layout4 {
                    i
                } else if self.graph.initializers.contains_key(&i) {
                    self.broadcast_operand(&i)
                } else if self.rank.get(&i) == Some(&1) {
                    // a computed per-channel vector [C] → [C, 1, 1]
                    let shape = self.int_const(&node.name, &[-1, 1, 1]);
                    let column = self.fresh(&node.name);
                    self.push_named(&column, "Reshape", vec![i, shape], Vec::new());
                    column
                } else {
                    i
                }
            })
            .collect();
        let mut attrs = Vec::new();
        if let Some(alpha) = attr_float(node, "alpha") {
            attrs.push(("alpha".into(), Attr::Float(alpha)));
        }
        if onnx == "Cast" {
            let to = attr_dtype(node, "DstT");
            attrs.push(("to".into(), Attr::Int(i64::from(to.to_onnx()))));
        }
        let n = if onnx == "Cast" { 1 } else { inputs.len() };
        self.push(node, onnx, inputs[..n.min(inputs.len())].to_vec(), attrs);
        if let Some(r) = rank {
            self.rank.insert(node.name.clone(), r);
        }
        Ok(())
    }

    fn reduction(&mut self, node: &NodeDef, onnx: &str, inputs: &[String]) -> Result<()> {
        let first = inputs[0].clone();
        let Some(axes) = inputs.get(1).and_then(|p| self.const_ints(p)) else {
            return self.unsupported(node, inputs.to_vec(), "non-constant reduction axes");
        };
        let axes: Vec<i64> = axes.iter().map(|&a| self.axis(&first, a)).collect();
        let keep = attr_bool(node, "keep_dims").unwrap_or(false);
        let mut ins = vec![first.clone()];
        let mut attrs = vec![("keepdims".into(), Attr::Int(i64::from(keep)))];
        if onnx == "ReduceSum" {
            ins.push(self.int_const(&node.name, &axes));
        } else {
            attrs.push(("axes".into(), Attr::Ints(axes.clone())));
        }
        if let Some(r) = self.rank.get(&first).copied() {
            let r = if keep {
                r
            } else {
                r.saturating_sub(axes.len())
            };
            self.rank.insert(node.name.clone(), r);
        }
        self.push(node, onnx, ins, attrs);
        Ok(())
    }
}
