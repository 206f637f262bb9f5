//! Lowering of a TensorFlow `GraphDef` to the converter's [`crate::ir`] graph: TF operations
//! become the ONNX operations of the same meaning, so that shape inference, the CG and its
//! costs are shared with the ONNX importer.
//!
//! Layout: TensorFlow graphs are usually NHWC, ONNX ones NCHW. An NHWC graph is lowered as if
//! it were NCHW: 4-D inputs, 4-D constants and every axis argument of an op on a 4-D tensor are
//! permuted, convolution filters are rearranged (HWIO → OIHW), so the same network gives the
//! same CG whichever way it was exported. Ranks are tracked while lowering to know which
//! tensors are 4-D. `Identity`-like plumbing is removed.

use std::collections::HashMap as StdHashMap;
use std::sync::Arc;

use super::proto::{AttrValue, GraphDef, NodeDef, TensorProto, TensorShapeProto, attr_value};
use crate::error::{ConvertError, Result};
use crate::ir::{Attr, ConstTensor, DeclaredDim, Graph, Model, Node, TensorDecl};
use crate::value::{DType, FOLD_LIMIT, Value, decode_le};

/// The ONNX opset whose semantics the lowered graph follows.
const OPSET: i64 = 13;
/// Largest float constant decoded for folding (shape arithmetic only needs short vectors).
const FLOAT_FOLD_LIMIT: usize = 64;
/// NHWC axis → NCHW axis.
const NHWC_TO_NCHW: [i64; 4] = [0, 2, 3, 1];

/// Ops that pass their first input through unchanged.
const PASS_THROUGH: &[&str] = &[
    "Identity",
    "StopGradient",
    "PreventGradient",
    "Snapshot",
    "CheckNumerics",
    "EnsureShape",
    "ReadVariableOp",
];

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

/// A constant of the TF graph.
#[derive(Clone)]
struct TfConst {
    dtype: DType,
    dims: Vec<u64>,
    value: Option<Arc<Value>>,
}

struct Lowerer {
    nhwc: bool,
    graph: Graph,
    /// TF tensor name → IR tensor name (pass-through ops resolve to their input).
    alias: StdHashMap<String, String>,
    /// Rank of each lowered tensor, when known.
    rank: StdHashMap<String, usize>,
    /// The TF (NHWC / HWIO) dims of 4-D constants, stored permuted to NCHW.
    tf_dims: StdHashMap<String, Vec<u64>>,
    /// Tensors out of `SpaceToBatchND` (TF's atrous convolution), with the block shape: the
    /// convolution that reads them is dilated by it, and both reshuffles disappear.
    atrous: StdHashMap<String, Vec<i64>>,
    /// Element counts of computed 1-D shape vectors (`Shape`, `Pack`), when known.
    lengths: StdHashMap<String, usize>,
    warnings: Vec<String>,
    fresh: usize,
}

/// `node:0` and `node` name the same tensor; `^node` is a control dependency.
fn tensor_name(input: &str) -> Option<String> {
    if input.starts_with('^') {
        return None;
    }
    Some(input.strip_suffix(":0").unwrap_or(input).to_string())
}

fn attr<'a>(node: &'a NodeDef, name: &str) -> Option<&'a attr_value::Value> {
    node.attr
        .get(name)
        .and_then(|a: &AttrValue| a.value.as_ref())
}

fn attr_ints(node: &NodeDef, name: &str) -> Option<Vec<i64>> {
    match attr(node, name)? {
        attr_value::Value::List(l) => Some(l.i.clone()),
        _ => None,
    }
}

fn attr_string(node: &NodeDef, name: &str) -> Option<String> {
    match attr(node, name)? {
        attr_value::Value::S(s) => Some(String::from_utf8_lossy(s).into_owned()),
        _ => None,
    }
}

fn attr_bool(node: &NodeDef, name: &str) -> Option<bool> {
    match attr(node, name)? {
        attr_value::Value::B(b) => Some(*b),
        _ => None,
    }
}

fn attr_float(node: &NodeDef, name: &str) -> Option<f32> {
    match attr(node, name)? {
        attr_value::Value::F(f) => Some(*f),
        _ => None,
    }
}

fn attr_dtype(node: &NodeDef, name: &str) -> DType {
    match attr(node, name) {
        Some(attr_value::Value::Type(t)) => DType::from_onnx(super::proto::onnx_dtype(*t)),
        _ => DType::Other,
    }
}

fn shape_dims(shape: &TensorShapeProto) -> Option<Vec<i64>> {
    (!shape.unknown_rank).then(|| shape.dim.iter().map(|d| d.size).collect())
}

/// NHWC order → NCHW order of a 4-element list.
fn to_nchw<T: Copy>(v: &[T]) -> Vec<T> {
    vec![v[0], v[3], v[1], v[2]]
}

/// Inputs an op needs before it can be lowered (the importer indexes them).
fn min_inputs(op: &str) -> usize {
    match op {
        "Conv2DBackpropInput" => 3,
        "FusedBatchNorm" | "FusedBatchNormV2" | "FusedBatchNormV3" => 5,
        "Conv2D"
        | "DepthwiseConv2dNative"
        | "BiasAdd"
        | "MatMul"
        | "ConcatV2"
        | "Pad"
        | "PadV2"
        | "MirrorPad"
        | "Reshape"
        | "ResizeBilinear"
        | "ResizeNearestNeighbor"
        | "ResizeBicubic"
        | "SpaceToBatchND"
        | "BatchToSpaceND" => 2,
        "StridedSlice" => 4,
        _ if REDUCTIONS.iter().any(|(tf, _)| *tf == op) => 2,
        "Const" | "Placeholder" | "VarHandleOp" | "VariableV2" | "NoOp" | "IdentityN" => 0,
        _ => 1,
    }
}

/// The elements of a 4-D NHWC tensor in NCHW order.
fn nhwc_to_nchw_value(v: &Value) -> Option<Arc<Value>> {
    let [n, h, w, c] = <[usize; 4]>::try_from(v.shape.as_slice()).ok()?;
    let order: Vec<usize> = (0..n)
        .flat_map(|b| {
            (0..c).flat_map(move |ch| {
                (0..h).flat_map(move |y| (0..w).map(move |x| ((b * h + y) * w + x) * c + ch))
            })
        })
        .collect();
    let shape = vec![n, c, h, w];
    match &v.data {
        crate::value::Data::Int(d) => Value::int(shape, order.iter().map(|&i| d[i]).collect()),
        crate::value::Data::Float(d) => Value::float(shape, order.iter().map(|&i| d[i]).collect()),
    }
}

/// Decodes a TF tensor: dims and, when small, its elements.
fn decode_tensor(t: &TensorProto) -> Result<TfConst> {
    let dims: Vec<u64> = t
        .tensor_shape
        .as_ref()
        .map(|s| s.dim.iter().map(|d| d.size.max(0) as u64).collect())
        .unwrap_or_default();
    let count = dims.iter().try_fold(1u64, |a, d| a.checked_mul(*d));
    let count = match count {
        Some(n) if n <= crate::onnx::MAX_TENSOR_ELEMENTS && usize::try_from(n).is_ok() => {
            n as usize
        }
        _ => {
            return Err(ConvertError::Invalid(format!(
                "a constant of {dims:?} elements is too large"
            )));
        }
    };
    let dtype = DType::from_onnx(super::proto::onnx_dtype(t.dtype));
    let shape: Vec<usize> = dims.iter().map(|&d| d as usize).collect();
    let small = count <= FOLD_LIMIT && (!dtype.is_float() || count <= FLOAT_FOLD_LIMIT);
    let value = if !small {
        None
    } else if !t.tensor_content.is_empty() {
        decode_le(dtype, shape, &t.tensor_content)
    } else {
        // typed lists; a single element fills the whole tensor
        let fill = |v: Vec<f64>| -> Option<Vec<f64>> {
            match v.len() {
                0 => None,
                1 => Some(vec![v[0]; count]),
                n if n == count => Some(v),
                _ => None,
            }
        };
        if dtype.is_float() {
            let v: Vec<f64> = if t.float_val.is_empty() {
                t.double_val.clone()
            } else {
                t.float_val.iter().map(|&f| f64::from(f)).collect()
            };
            fill(v).and_then(|v| Value::float(shape, v))
        } else {
            let v: Vec<f64> = if !t.int64_val.is_empty() {
                t.int64_val.iter().map(|&i| i as f64).collect()
            } else if !t.bool_val.is_empty() {
                t.bool_val.iter().map(|&b| f64::from(u8::from(b))).collect()
            } else {
                t.int_val.iter().map(|&i| f64::from(i)).collect()
            };
            fill(v).and_then(|v| Value::int(shape, v.into_iter().map(|x| x as i64).collect()))
        }
    };
    Ok(TfConst { dtype, dims, value })
}

/// Lowers a frozen `GraphDef`.
pub(super) fn lower_graph(graph: GraphDef) -> Result<Model> {
    let nhwc = !graph
        .node
        .iter()
        .any(|n| attr_string(n, "data_format").is_some_and(|f| f.starts_with("NC")));
    let mut l = Lowerer {
        nhwc,
        graph: Graph {
            name: "graph".into(),
            ..Default::default()
        },
        alias: StdHashMap::new(),
        rank: StdHashMap::new(),
        tf_dims: StdHashMap::new(),
        atrous: StdHashMap::new(),
        lengths: StdHashMap::new(),
        warnings: Vec::new(),
        fresh: 0,
    };
    let mut consumed = std::collections::HashSet::new();
    for node in &graph.node {
        for input in &node.input {
            if let Some(t) = tensor_name(input) {
                consumed.insert(t.split(':').next().unwrap_or_default().to_string());
            }
        }
    }
    for node in &graph.node {
        l.node(node)?;
    }
    // outputs: the last tensors of the data path (produced, never consumed)
    let produced: std::collections::HashSet<String> = l
        .graph
        .nodes
        .iter()
        .flat_map(|n| n.outputs.iter().cloned())
        .collect();
    for node in &graph.node {
        if consumed.contains(&node.name)
            || matches!(
                node.op.as_str(),
                "Const" | "NoOp" | "Placeholder" | "Assert"
            )
        {
            continue;
        }
        let name = l.resolve(&node.name);
        if produced.contains(&name) {
            l.graph.outputs.push(TensorDecl {
                name,
                dtype: DType::Other,
                shape: None,
            });
        }
    }
    if l.graph.nodes.is_empty() {
        return Err(ConvertError::Invalid(
            "the TensorFlow graph has no operations".into(),
        ));
    }
    Ok(Model {
        graph: l.graph,
        opset: OPSET,
        producer: format!(
            "TensorFlow GraphDef{}",
            graph
                .versions
                .map(|v| format!(" (producer {})", v.producer))
                .unwrap_or_default()
        ),
        warnings: l.warnings,
    })
}

impl Lowerer {
    fn resolve(&self, tf_name: &str) -> String {
        let mut name = tf_name.to_string();
        // aliases chain through pass-through ops; bounded by the alias count
        for _ in 0..=self.alias.len() {
            match self.alias.get(&name) {
                Some(next) if *next != name => name = next.clone(),
                _ => break,
            }
        }
        name
    }

    fn inputs(&self, node: &NodeDef) -> Vec<String> {
        node.input
            .iter()
            .filter_map(|i| tensor_name(i))
            .map(|t| self.resolve(&t))
            .collect()
    }

    fn fresh(&mut self, stem: &str) -> String {
        self.fresh += 1;
        format!("{stem}/aiop_{}", self.fresh)
    }

    fn is_nhwc4(&self, tensor: &str) -> bool {
        self.nhwc && self.rank.get(tensor) == Some(&4)
    }

    /// Adds a constant initializer.
    fn constant(&mut self, name: &str, c: TfConst) {
        self.rank.insert(name.to_string(), c.dims.len());
        self.graph.initializers.insert(
            name.to_string(),
            ConstTensor {
                dtype: c.dtype,
                dims: c.dims,
                value: c.value,
            },
        );
    }

    /// A new int64 constant.
    fn int_const(&mut self, stem: &str, values: &[i64]) -> String {
        let name = self.fresh(stem);
        self.constant(
            &name,
            TfConst {
                dtype: DType::I64,
                dims: vec![values.len() as u64],
                value: Value::int(vec![values.len()], values.to_vec()),
            },
        );
        name
    }

    /// The integer elements of a constant input.
    fn const_ints(&self, tensor: &str) -> Option<Vec<i64>> {
        self.graph
            .initializers
            .get(tensor)
            .and_then(|c| c.value.as_ref())
            .map(|v| v.as_ints())
    }

    fn push(&mut self, node: &NodeDef, op: &str, inputs: Vec<String>, attrs: Vec<(String, Attr)>) {
        self.push_named(&node.name, op, inputs, attrs);
    }

    fn push_named(&mut self, out: &str, op: &str, inputs: Vec<String>, attrs: Vec<(String, Attr)>) {
        self.graph.nodes.push(Node {
            name: out.to_string(),
            op_type: op.to_string(),
            domain: String::new(),
            inputs,
            outputs: vec![out.to_string()],
            attrs,
            precision: None,
        });
    }

    /// Maps an axis of a tensor of rank `rank` (negative allowed) to the lowered layout.
    fn axis(&self, tensor: &str, axis: i64) -> i64 {
        let rank = self.rank.get(tensor).copied().unwrap_or(0) as i64;
        let a = if axis < 0 { axis + rank } else { axis };
        if self.is_nhwc4(tensor) && (0..4).contains(&a) {
            NHWC_TO_NCHW[a as usize]
        } else {
            a
        }
    }

    /// A constant operand of an elementwise op on a 4-D tensor in the lowered layout: a
    /// per-channel vector `[C]` as `[C, 1, 1]` (4-D constants are already NCHW).
    fn broadcast_operand(&mut self, tensor: &str) -> String {
        let Some(c) = self.graph.initializers.get(tensor).cloned() else {
            return tensor.to_string();
        };
        let dims = match c.dims.len() {
            1 if c.dims[0] > 1 => vec![c.dims[0], 1, 1],
            _ => return tensor.to_string(),
        };
        let name = format!("{tensor}/nchw");
        if !self.graph.initializers.contains_key(&name) {
            let value = c.value.and_then(|v| {
                Value::float(dims.iter().map(|&d| d as usize).collect(), v.as_floats())
            });
            self.constant(
                &name,
                TfConst {
                    dtype: c.dtype,
                    dims,
                    value,
                },
            );
        }
        name
    }

    /// A convolution filter constant rearranged by `perm` (and reshaped to `dims`).
    /// The rearranged filter and its TF dims; `None` when the filter is not a 4-D constant.
    fn filter(
        &mut self,
        tensor: &str,
        perm: [usize; 4],
        depthwise: bool,
    ) -> Option<(String, Vec<u64>)> {
        let c = self.graph.initializers.get(tensor).cloned()?;
        let d = self.tf_dims.get(tensor).cloned().unwrap_or(c.dims.clone());
        if d.len() != 4 {
            return None;
        }
        let dims = if depthwise {
            // HWCM → [C·M, 1, H, W]
            vec![d[2].saturating_mul(d[3]), 1, d[0], d[1]]
        } else {
            perm.iter().map(|&p| d[p]).collect()
        };
        let name = format!("{tensor}/oihw");
        self.constant(
            &name,
            TfConst {
                dtype: c.dtype,
                dims,
                value: None,
            },
        );
        Some((name, d))
    }

    /// Keeps `node` under its TF op name (inference marks its outputs unknown), with a warning.
    fn unsupported(&mut self, node: &NodeDef, inputs: Vec<String>, why: &str) -> Result<()> {
        self.warnings.push(format!(
            "TensorFlow op {} (`{}`): {why}",
            node.op, node.name
        ));
        self.push(node, &node.op, inputs, Vec::new());
        Ok(())
    }

    /// Spatial attributes (strides, dilations: `[1, h, w, 1]` in NHWC) as `[h, w]`.
    fn spatial(&self, node: &NodeDef, name: &str) -> Vec<i64> {
        let v = attr_ints(node, name).unwrap_or_else(|| vec![1, 1, 1, 1]);
        if v.len() != 4 {
            return vec![1, 1];
        }
        if self.nhwc {
            vec![v[1], v[2]]
        } else {
            vec![v[2], v[3]]
        }
    }

    /// `auto_pad` or explicit `pads` of a TF `padding` attribute.
    fn padding(&self, node: &NodeDef) -> Vec<(String, Attr)> {
        match attr_string(node, "padding").as_deref() {
            Some("SAME") => vec![("auto_pad".into(), Attr::String("SAME_UPPER".into()))],
            Some("EXPLICIT") => {
                let p = attr_ints(node, "explicit_paddings").unwrap_or_default();
                if p.len() == 8 {
                    let (h, w) = if self.nhwc { (2, 4) } else { (4, 6) };
                    vec![(
                        "pads".into(),
                        Attr::Ints(vec![p[h], p[w], p[h + 1], p[w + 1]]),
                    )]
                } else {
                    Vec::new()
                }
            }
            _ => vec![("auto_pad".into(), Attr::String("VALID".into()))],
        }
    }

    fn node(&mut self, node: &NodeDef) -> Result<()> {
        let op = node.op.as_str();
        let inputs = self.inputs(node);
        let needed = min_inputs(op);
        if inputs.len() < needed {
            return self.unsupported(node, inputs, &format!("expects {needed} inputs"));
        }
        let first = inputs.first().cloned().unwrap_or_default();
        let rank_of_first = self.rank.get(&first).copied();
        let out = node.name.clone();
        match op {
            "Const" => {
                let tensor = match attr(node, "value") {
                    Some(attr_value::Value::Tensor(t)) => t,
                    _ => {
                        return Err(ConvertError::Invalid(format!(
                            "Const `{}` has no value",
                            node.name
                        )));
                    }
                };
                let mut c = decode_tensor(tensor)?;
                if self.nhwc && c.dims.len() == 4 {
                    // a 4-D constant is NHWC (or a filter): stored as NCHW like the activations
                    self.tf_dims.insert(out.clone(), c.dims.clone());
                    c.value = c.value.and_then(|v| nhwc_to_nchw_value(&v));
                    c.dims = to_nchw(&c.dims);
                }
                self.constant(&out, c);
            }
            "Placeholder" | "PlaceholderWithDefault" => {
                let dims = match attr(node, "shape") {
                    Some(attr_value::Value::Shape(s)) => shape_dims(s),
                    _ => None,
                };
                if op == "PlaceholderWithDefault" {
                    // a default value: treat it as that tensor
                    self.alias.insert(out, first);
                    return Ok(());
                }
                let dims = dims.map(|d| {
                    if self.nhwc && d.len() == 4 {
                        to_nchw(&d)
                    } else {
                        d
                    }
                });
                if let Some(d) = &dims {
                    let fixed: Vec<u64> = d.iter().map(|&v| v.max(1) as u64).collect();
                    crate::onnx::check_size("placeholder", &out, &fixed)?;
                    self.rank.insert(out.clone(), d.len());
                }
                self.graph.inputs.push(TensorDecl {
                    name: out,
                    dtype: attr_dtype(node, "dtype"),
                    shape: dims.map(|d| {
                        d.iter()
                            .map(|&v| {
                                if v >= 0 {
                                    DeclaredDim::Fixed(v as u64)
                                } else {
                                    DeclaredDim::Unknown
                                }
                            })
                            .collect()
                    }),
                });
            }
            "VarHandleOp" | "VariableV2" => {
                // SavedModel variables: only their shapes matter
                let dims = match attr(node, "shape") {
                    Some(attr_value::Value::Shape(s)) => shape_dims(s).unwrap_or_default(),
                    _ => Vec::new(),
                };
                let dims: Vec<u64> = dims.iter().map(|&d| d.max(0) as u64).collect();
                crate::onnx::check_size("variable", &out, &dims)?;
                let c = TfConst {
                    dtype: attr_dtype(node, "dtype"),
                    dims,
                    value: None,
                };
                self.constant(&out, c);
            }
            "NoOp" | "Assert" | "AssignVariableOp" | "SaveV2" | "RestoreV2" => {}
            "SpaceToBatchND" if self.nhwc && rank_of_first == Some(4) => {
                let Some(block) = inputs.get(1).and_then(|b| self.const_ints(b)) else {
                    return self.unsupported(node, inputs, "non-constant block shape");
                };
                self.atrous.insert(out.clone(), block);
                self.alias.insert(out, first);
            }
            "BatchToSpaceND" if self.nhwc && rank_of_first == Some(4) => {
                self.alias.insert(out, first);
            }
            "IdentityN" => {
                // output k is input k (custom-gradient wrappers, e.g. Keras's swish)
                for (k, input) in inputs.into_iter().enumerate() {
                    let name = if k == 0 {
                        out.clone()
                    } else {
                        format!("{out}:{k}")
                    };
                    self.alias.insert(name, input);
                }
            }
            _ if PASS_THROUGH.contains(&op) => {
                self.alias.insert(out, first);
            }
            "Conv2D" | "DepthwiseConv2dNative" => {
                let depthwise = op == "DepthwiseConv2dNative";
                let Some((w, filter_dims)) = self.filter(&inputs[1], [3, 2, 0, 1], depthwise)
                else {
                    return self.unsupported(node, inputs, "the filter is not a 4-D constant");
                };
                // the TF name of the input: a SpaceToBatchND output marks an atrous convolution
                let raw_input = node.input.first().and_then(|i| tensor_name(i));
                let atrous = raw_input.and_then(|i| self.atrous.get(&i).cloned());
                let dilations = atrous
                    .clone()
                    .unwrap_or_else(|| self.spatial(node, "dilations"));
                let mut attrs = vec![
                    ("strides".into(), Attr::Ints(self.spatial(node, "strides"))),
                    ("dilations".into(), Attr::Ints(dilations)),
                ];
                if depthwise {
                    let channels = filter_dims[2];
                    attrs.push(("group".into(), Attr::Int(channels as i64)));
                }
                if atrous.is_some() {
                    // SpaceToBatchND padded the input so that the dilated result keeps its size
                    attrs.push(("auto_pad".into(), Attr::String("SAME_UPPER".into())));
                } else {
                    attrs.extend(self.padding(node));
                }
                self.push(node, "Conv", vec![first, w], attrs);
                self.rank.insert(out, 4);
            }
            "Conv2DBackpropInput" => {
                // inputs: output shape, filter [H, W, out, in], data
                let Some((w, _)) = self.filter(&inputs[1], [3, 2, 0, 1], false) else {
                    return self.unsupported(node, inputs, "the filter is not a 4-D constant");
                };
                let mut attrs = vec![("strides".into(), Attr::Ints(self.spatial(node, "strides")))];
                if let Some(shape) = self.const_ints(&inputs[0]).filter(|s| s.len() == 4) {
                    let s = if self.nhwc { to_nchw(&shape) } else { shape };
                    attrs.push(("output_shape".into(), Attr::Ints(s[2..].to_vec())));
                }
                attrs.extend(self.padding(node));
                self.push(node, "ConvTranspose", vec![inputs[2].clone(), w], attrs);
                self.rank.insert(out, 4);
            }
            "BiasAdd" => {
                let channels_first =
                    self.is_nhwc4(&first) || (!self.nhwc && rank_of_first == Some(4));
                let bias = if !channels_first {
                    inputs[1].clone()
                } else if self.graph.initializers.contains_key(&inputs[1]) {
                    self.broadcast_operand(&inputs[1])
                } else {
                    // a computed bias vector [C] → [C, 1, 1]
                    let shape = self.int_const(&node.name, &[-1, 1, 1]);
                    let column = self.fresh(&node.name);
                    self.push_named(
                        &column,
                        "Reshape",
                        vec![inputs[1].clone(), shape],
                        Vec::new(),
                    );
                    column
                };
                self.push(node, "Add", vec![first, bias], Vec::new());
                if let Some(r) = rank_of_first {
                    self.rank.insert(out, r);
                }
            }
            "FusedBatchNorm" | "FusedBatchNormV2" | "FusedBatchNormV3" => {
                let eps = attr_float(node, "epsilon").unwrap_or(1e-3);
                self.push(
                    node,
                    "BatchNormalization",
                    inputs[..5.min(inputs.len())].to_vec(),
                    vec![("epsilon".into(), Attr::Float(eps))],
                );
                if let Some(r) = rank_of_first {
                    self.rank.insert(out, r);
                }
            }
            "Relu6" => {
                let lo = self.float_scalar("relu6_min", 0.0);
                let hi = self.float_scalar("relu6_max", 6.0);
                self.push(node, "Clip", vec![first, lo, hi], Vec::new());
                if let Some(r) = rank_of_first {
                    self.rank.insert(out, r);
                }
            }
            "MaxPool" | "AvgPool" => {
                let kernel = self.spatial(node, "ksize");
                let mut attrs = vec![
                    ("kernel_shape".into(), Attr::Ints(kernel)),
                    ("strides".into(), Attr::Ints(self.spatial(node, "strides"))),
                ];
                attrs.extend(self.padding(node));
                let onnx = if op == "MaxPool" {
                    "MaxPool"
                } else {
                    "AveragePool"
                };
                self.push(node, onnx, vec![first], attrs);
                self.rank.insert(out, 4);
            }
            "MatMul" => {
                let mut operands = inputs.clone();
                for (i, flag) in [(0, "transpose_a"), (1, "transpose_b")] {
                    if attr_bool(node, flag) == Some(true) {
                        let t = self.fresh(&node.name);
                        self.push_named(&t, "Transpose", vec![operands[i].clone()], Vec::new());
                        self.rank.insert(t.clone(), 2);
                        operands[i] = t;
                    }
                }
                self.push(node, "MatMul", operands, Vec::new());
                self.rank.insert(out, 2);
            }
            "ConcatV2" => {
                let (data, axis) = inputs.split_at(inputs.len().saturating_sub(1));
                let Some(axis) = axis
                    .first()
                    .and_then(|a| self.const_ints(a))
                    .and_then(|v| v.first().copied())
                else {
                    return self.unsupported(node, inputs, "non-constant axis");
                };
                let known = data
                    .iter()
                    .find(|d| self.rank.contains_key(*d))
                    .unwrap_or(&data[0])
                    .clone();
                let axis = self.axis(&known, axis);
                self.push(
                    node,
                    "Concat",
                    data.to_vec(),
                    vec![("axis".into(), Attr::Int(axis))],
                );
                if let Some(r) = self.rank.get(&known).copied() {
                    self.rank.insert(out, r);
                }
            }
            "Pad" | "PadV2" | "MirrorPad" => {
                let Some(paddings) = inputs.get(1).and_then(|p| self.const_ints(p)) else {
                    return self.unsupported(node, inputs, "non-constant paddings");
                };
                let rank = paddings.len() / 2;
                let mut begin: Vec<i64> = (0..rank).map(|i| paddings[2 * i]).collect();
                let mut end: Vec<i64> = (0..rank).map(|i| paddings[2 * i + 1]).collect();
                if self.is_nhwc4(&first) && rank == 4 {
                    begin = to_nchw(&begin);
                    end = to_nchw(&end);
                }
                begin.extend(end);
                let pads = self.int_const(&node.name, &begin);
                self.push(node, "Pad", vec![first, pads], Vec::new());
                self.rank.insert(out, rank);
            }
            "Reshape" if self.const_ints(&inputs[1]).is_none() => {
                // a shape computed in the graph (Keras's Flatten with an open batch), in TF order
                let Some(rank) = self.lengths.get(&inputs[1]).copied() else {
                    return self.unsupported(node, inputs, "non-constant shape of unknown length");
                };
                let target = if self.nhwc && rank == 4 {
                    self.gather(&node.name, &inputs[1], &[0, 3, 1, 2])
                } else {
                    inputs[1].clone()
                };
                self.rank.insert(out, rank);
                self.push(node, "Reshape", vec![first, target], Vec::new());
            }
            "Reshape" => {
                let Some(shape) = inputs.get(1).and_then(|p| self.const_ints(p)) else {
                    return self.unsupported(node, inputs, "non-constant shape");
                };
                let shape = if self.nhwc && shape.len() == 4 {
                    to_nchw(&shape)
                } else {
                    shape
                };
                let target = self.int_const(&node.name, &shape);
                self.rank.insert(out.clone(), shape.len());
                self.push(node, "Reshape", vec![first, target], Vec::new());
            }
            "Squeeze" => {
                let dims = attr_ints(node, "squeeze_dims").unwrap_or_default();
                let axes: Vec<i64> = dims.iter().map(|&a| self.axis(&first, a)).collect();
                let mut ins = vec![first];
                if !axes.is_empty() {
                    ins.push(self.int_const(&node.name, &axes));
                }
                if let Some(r) = rank_of_first {
                    self.rank.insert(out, r.saturating_sub(axes.len().max(1)));
                }
                self.push(node, "Squeeze", ins, Vec::new());
            }
            "ResizeBilinear" | "ResizeNearestNeighbor" | "ResizeBicubic" => {
                let Some(size) = inputs
                    .get(1)
                    .and_then(|p| self.const_ints(p))
                    .filter(|s| s.len() == 2)
                else {
                    return self.unsupported(node, inputs, "non-constant size");
                };
                // sizes = shape(x)[0:2] ++ size
                let shape = self.fresh(&node.name);
                self.push_named(&shape, "Shape", vec![first.clone()], Vec::new());
                let starts = self.int_const(&node.name, &[0]);
                let ends = self.int_const(&node.name, &[2]);
                let lead = self.fresh(&node.name);
                self.push_named(&lead, "Slice", vec![shape, starts, ends], Vec::new());
                let hw = self.int_const(&node.name, &size);
                let sizes = self.fresh(&node.name);
                self.push_named(
                    &sizes,
                    "Concat",
                    vec![lead, hw],
                    vec![("axis".into(), Attr::Int(0))],
                );
                let mode = match op {
                    "ResizeNearestNeighbor" => "nearest",
                    "ResizeBicubic" => "cubic",
                    _ => "linear",
                };
                self.push(
                    node,
                    "Resize",
                    vec![first, String::new(), String::new(), sizes],
                    vec![("mode".into(), Attr::String(mode.into()))],
                );
                self.rank.insert(out, 4);
            }
            "Shape" => {
                // TF order: an NCHW-lowered 4-D tensor's shape is gathered back to NHWC
                if self.is_nhwc4(&first) {
                    let lowered = self.fresh(&node.name);
                    self.push_named(&lowered, "Shape", vec![first], Vec::new());
                    let indices = self.int_const(&node.name, &[0, 2, 3, 1]);
                    self.push(node, "Gather", vec![lowered, indices], Vec::new());
                } else {
                    self.push(node, "Shape", vec![first], Vec::new());
                }
                if let Some(r) = rank_of_first {
                    self.lengths.insert(out.clone(), r);
                }
                self.rank.insert(out, 1);
            }
            "StridedSlice" => return self.strided_slice(node, &inputs),
            "Pack" => {
                let axis = attr(node, "axis").and_then(|a| match a {
                    attr_value::Value::I(i) => Some(*i),
                    _ => None,
                });
                let known_rank = inputs.iter().find_map(|i| self.rank.get(i).copied());
                if inputs.iter().any(|i| self.is_nhwc4(i)) {
                    return self.unsupported(node, inputs, "packing 4-D tensors");
                }
                let rank = known_rank.unwrap_or(0) as i64;
                let axis = axis.unwrap_or(0);
                let axis = if axis < 0 { axis + rank + 1 } else { axis };
                let axes = self.int_const(&node.name, &[axis]);
                let mut parts = Vec::with_capacity(inputs.len());
                for input in &inputs {
                    let part = self.fresh(&node.name);
                    self.push_named(
                        &part,
                        "Unsqueeze",
                        vec![input.clone(), axes.clone()],
                        Vec::new(),
                    );
                    parts.push(part);
                }
                self.push(
                    node,
                    "Concat",
                    parts,
                    vec![("axis".into(), Attr::Int(axis))],
                );
                if rank == 0 {
                    self.lengths.insert(out.clone(), inputs.len());
                }
                self.rank.insert(out, rank as usize + 1);
            }
            "Softmax" => {
                let axis = rank_of_first.map_or(-1, |r| self.axis(&first, r as i64 - 1));
                self.push(
                    node,
                    "Softmax",
                    vec![first],
                    vec![("axis".into(), Attr::Int(axis))],
                );
                if let Some(r) = rank_of_first {
                    self.rank.insert(out, r);
                }
            }
            "Rsqrt" => {
                let root = self.fresh(&node.name);
                self.push_named(&root, "Sqrt", vec![first], Vec::new());
                self.push(node, "Reciprocal", vec![root], Vec::new());
                if let Some(r) = rank_of_first {
                    self.rank.insert(out, r);
                }
            }
            "Square" => {
                self.push(node, "Mul", vec![first.clone(), first], Vec::new());
                if let Some(r) = rank_of_first {
                    self.rank.insert(out, r);
                }
            }
            "SquaredDifference" => {
                // (x − y)²: the difference broadcasts like any element-wise op
                let mut difference = node.clone();
                difference.name = self.fresh(&node.name);
                self.elementwise(&difference, "Sub", inputs)?;
                let d = difference.name;
                let rank = self.rank.get(&d).copied();
                self.push(node, "Mul", vec![d.clone(), d], Vec::new());
                if let Some(r) = rank {
                    self.rank.insert(out, r);
                }
            }
            _ => {
                if let Some((_, onnx)) = REDUCTIONS.iter().find(|(tf, _)| *tf == op) {
                    return self.reduction(node, onnx, &inputs);
                }
                if let Some((_, onnx)) = ELEMENTWISE.iter().find(|(tf, _)| *tf == op) {
                    return self.elementwise(node, onnx, inputs);
                }
                // unknown: kept under its TF name, so inference marks its outputs unknown
                self.warnings
                    .push(format!("unsupported TensorFlow op {op} (`{}`)", node.name));
                self.push(node, op, inputs, Vec::new());
            }
        }
        Ok(())
    }

    /// `Gather(tensor, indices)` on axis 0 under a fresh name.
    fn gather(&mut self, stem: &str, tensor: &str, indices: &[i64]) -> String {
        let indices = self.int_const(stem, indices);
        let out = self.fresh(stem);
        self.push_named(
            &out,
            "Gather",
            vec![tensor.to_string(), indices],
            Vec::new(),
        );
        out
    }

    /// `StridedSlice` as ONNX `Slice` (plus `Squeeze` for the axes it shrinks). Strides must be
    /// constant; bounds that are computed (Keras's `Cropping2D` and `ZeroPadding2D` take them
    /// from `Shape`) become `bound · keep + fill` tensors, which shape inference folds: `keep`
    /// is 1 where the bound is read from the tensor and 0 where a mask replaces it by `fill`.
    fn strided_slice(&mut self, node: &NodeDef, inputs: &[String]) -> Result<()> {
        let mask = |name: &str| match attr(node, name) {
            Some(attr_value::Value::I(i)) => *i,
            _ => 0,
        };
        let Some(strides) = self.const_ints(&inputs[3]) else {
            return self.unsupported(node, inputs.to_vec(), "non-constant strides");
        };
        let (begin, end) = (self.const_ints(&inputs[1]), self.const_ints(&inputs[2]));
        let n = strides.len();
        let fits = |b: &Option<Vec<i64>>| b.as_ref().is_none_or(|b| b.len() == n);
        if !fits(&begin) || !fits(&end) || n > 64 {
            return self.unsupported(node, inputs.to_vec(), "bounds of different lengths");
        }
        if mask("ellipsis_mask") != 0 || mask("new_axis_mask") != 0 {
            return self.unsupported(node, inputs.to_vec(), "ellipsis or new-axis masks");
        }
        let bit = |m: i64, i: usize| m >> i & 1 == 1;
        let (begin_mask, end_mask, shrink) = (
            mask("begin_mask"),
            mask("end_mask"),
            mask("shrink_axis_mask"),
        );
        if begin.is_none() && (0..n).any(|i| bit(shrink, i)) {
            return self.unsupported(node, inputs.to_vec(), "shrinking a computed bound");
        }
        let data = &inputs[0];
        // per axis: `Some(v)` a constant bound, `None` the bound tensor's element
        let (mut starts, mut ends, mut axes, mut steps, mut squeezed) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            let step = if bit(shrink, i) { 1 } else { strides[i] };
            if step == 0 {
                return self.unsupported(node, inputs.to_vec(), "a zero stride");
            }
            let given = |b: &Option<Vec<i64>>| b.as_ref().map(|b| b[i]);
            let start = if bit(begin_mask, i) && !bit(shrink, i) {
                Some(if step > 0 { 0 } else { i64::MAX })
            } else {
                given(&begin)
            };
            let stop = if bit(shrink, i) {
                // a shrunk axis has a constant begin (checked above)
                begin.as_ref().map(|b| {
                    if b[i] == -1 {
                        i64::MAX
                    } else {
                        b[i].saturating_add(1)
                    }
                })
            } else if bit(end_mask, i) {
                Some(if step > 0 { i64::MAX } else { i64::MIN })
            } else {
                given(&end)
            };
            let axis = self.axis(data, i as i64);
            starts.push(start);
            ends.push(stop);
            axes.push(axis);
            steps.push(step);
            if bit(shrink, i) {
                squeezed.push(axis);
            }
        }
        let operands = vec![
            data.clone(),
            self.bound(&node.name, &starts, &inputs[1]),
            self.bound(&node.name, &ends, &inputs[2]),
            self.int_const(&node.name, &axes),
            self.int_const(&node.name, &steps),
        ];
        let rank = self.rank.get(data).copied();
        let out = node.name.clone();
        if squeezed.is_empty() {
            self.push(node, "Slice", operands, Vec::new());
        } else {
            let sliced = self.fresh(&node.name);
            self.push_named(&sliced, "Slice", operands, Vec::new());
            let squeeze = self.int_const(&node.name, &squeezed);
            self.push(node, "Squeeze", vec![sliced, squeeze], Vec::new());
        }
        if let Some(r) = rank {
            self.rank.insert(out, r.saturating_sub(squeezed.len()));
        }
        Ok(())
    }

    /// A slice bound: constant when every entry is, else `tensor · keep + fill` (see
    /// [`Self::strided_slice`]).
    fn bound(&mut self, stem: &str, entries: &[Option<i64>], tensor: &str) -> String {
        if let Some(all) = entries.iter().copied().collect::<Option<Vec<i64>>>() {
            return self.int_const(stem, &all);
        }
        let keep: Vec<i64> = entries.iter().map(|e| i64::from(e.is_none())).collect();
        let fill: Vec<i64> = entries.iter().map(|e| e.unwrap_or(0)).collect();
        let (keep, fill) = (self.int_const(stem, &keep), self.int_const(stem, &fill));
        let kept = self.fresh(stem);
        self.push_named(&kept, "Mul", vec![tensor.to_string(), keep], Vec::new());
        let bound = self.fresh(stem);
        self.push_named(&bound, "Add", vec![kept, fill], Vec::new());
        bound
    }

    fn float_scalar(&mut self, stem: &str, v: f64) -> String {
        let name = format!("aiop/{stem}");
        if !self.graph.initializers.contains_key(&name) {
            self.constant(
                &name,
                TfConst {
                    dtype: DType::F32,
                    dims: Vec::new(),
                    value: Value::float(Vec::new(), vec![v]),
                },
            );
        }
        name
    }

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
