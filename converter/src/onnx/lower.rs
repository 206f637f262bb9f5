//! Lowering of decoded ONNX protobufs to the converter's [`crate::ir`] graph.

use rustc_hash::FxHashMap as HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::error::{ConvertError, Result};
use crate::ir::{Attr, ConstTensor, DeclaredDim, Graph, Model, Node, TensorDecl};
use crate::value::{DType, FOLD_LIMIT, Value, decode_le};

use super::external;
use super::proto::{
    AttributeProto, FunctionProto, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto,
    attribute_type as at,
};

/// Largest float constant decoded for folding: scalars and short vectors (Resize scales, clip
/// bounds). Float weights stay undecoded.
const FLOAT_FOLD_LIMIT: usize = 64;
/// How deeply model-local functions may call each other before the importer gives up inlining.
const MAX_FUNCTION_DEPTH: usize = 16;
/// Most nodes that inlining may add in total: functions calling functions several times each
/// would otherwise multiply without bound.
const MAX_INLINED_NODES: usize = 1 << 18;
pub use crate::infer::fact::MAX_TENSOR_ELEMENTS;

/// An error when `dims` declare more than [`MAX_TENSOR_ELEMENTS`] elements (or overflow).
pub(crate) fn check_size(kind: &str, name: &str, dims: &[u64]) -> Result<()> {
    let n = dims.iter().try_fold(1u64, |a, d| a.checked_mul(*d));
    match n {
        Some(n) if n <= MAX_TENSOR_ELEMENTS => Ok(()),
        _ => Err(ConvertError::Invalid(format!(
            "{kind} `{name}` declares dimensions {dims:?}, more than {MAX_TENSOR_ELEMENTS} elements"
        ))),
    }
}

struct Lowerer<'a> {
    model_dir: Option<&'a Path>,
    functions: HashMap<(String, String), FunctionProto>,
    warnings: Vec<String>,
    inlined_calls: usize,
    inlined_nodes: usize,
}

/// Lowers a decoded model. Fails on a missing graph or an external-data path that escapes.
pub(super) fn lower_model(proto: ModelProto, model_dir: Option<&Path>) -> Result<Model> {
    let opset = proto
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map_or(0, |o| o.version);
    let graph = proto
        .graph
        .ok_or_else(|| ConvertError::Invalid("the model has no graph".into()))?;
    let mut lowerer = Lowerer {
        model_dir,
        functions: proto
            .functions
            .into_iter()
            .map(|f| ((f.domain.clone(), f.name.clone()), f))
            .collect(),
        warnings: Vec::new(),
        inlined_calls: 0,
        inlined_nodes: 0,
    };
    let graph = lowerer.graph(graph)?;
    if opset != 0 && !(7..=23).contains(&opset) {
        lowerer.warnings.push(format!(
            "opset {opset} is outside the tested range 7–21; converting anyway"
        ));
    }
    Ok(Model {
        graph,
        opset,
        producer: format!("{} {}", proto.producer_name, proto.producer_version)
            .trim()
            .to_string(),
        warnings: lowerer.warnings,
    })
}

impl Lowerer<'_> {
    fn graph(&mut self, g: GraphProto) -> Result<Graph> {
        let mut initializers =
            HashMap::with_capacity_and_hasher(g.initializer.len(), Default::default());
        for t in g.initializer {
            let name = t.name.clone();
            initializers.insert(name, self.tensor(t)?);
        }
        for s in g.sparse_initializer {
            if let Some(values) = s.values {
                let name = values.name.clone();
                let dims = checked_dims(&name, &s.dims)?;
                initializers.insert(
                    name,
                    ConstTensor {
                        dtype: DType::from_onnx(values.data_type),
                        dims,
                        value: None,
                    },
                );
            }
        }
        let inputs: Vec<TensorDecl> = g.input.into_iter().map(decl).collect();
        let outputs: Vec<TensorDecl> = g.output.into_iter().map(decl).collect();
        let value_info: HashMap<String, TensorDecl> = g
            .value_info
            .into_iter()
            .map(|v| (v.name.clone(), decl(v)))
            .collect();
        for d in inputs.iter().chain(&outputs).chain(value_info.values()) {
            let fixed: Vec<u64> = d
                .shape
                .iter()
                .flatten()
                .filter_map(|d| match d {
                    DeclaredDim::Fixed(x) => Some(*x),
                    _ => None,
                })
                .collect();
            check_size("value", &d.name, &fixed)?;
        }
        let mut nodes = Vec::with_capacity(g.node.len());
        for n in g.node {
            self.node(n, &mut nodes, 0, None)?;
        }
        Ok(Graph {
            name: g.name,
            nodes,
            inputs,
            outputs,
            initializers,
            value_info,
        })
    }

    /// Lowers one node into `out`, inlining calls of model-local functions.
    fn node(
        &mut self,
        n: NodeProto,
        out: &mut Vec<Node>,
        depth: usize,
        caller_attrs: Option<&[(String, Attr)]>,
    ) -> Result<()> {
        let key = (n.domain.clone(), n.op_type.clone());
        if let Some(size) = self.functions.get(&key).map(|f| f.node.len()) {
            if self.inlined_nodes + size > MAX_INLINED_NODES {
                return Err(ConvertError::Invalid(format!(
                    "model-local functions expand to more than {MAX_INLINED_NODES} nodes"
                )));
            }
            if depth < MAX_FUNCTION_DEPTH {
                self.inlined_nodes += size;
                let f = self.functions[&key].clone();
                return self.inline(n, &f, out, depth, caller_attrs);
            }
            let warning = format!(
                "function {} nested deeper than {MAX_FUNCTION_DEPTH} calls; left as an opaque node",
                n.op_type
            );
            if !self.warnings.contains(&warning) {
                self.warnings.push(warning);
            }
        }
        let attrs = self.attrs(n.attribute, caller_attrs)?;
        out.push(Node {
            name: n.name,
            op_type: n.op_type,
            domain: n.domain,
            inputs: n.input,
            outputs: n.output,
            attrs,
            precision: None,
        });
        Ok(())
    }

    fn inline(
        &mut self,
        call: NodeProto,
        f: &FunctionProto,
        out: &mut Vec<Node>,
        depth: usize,
        caller_attrs: Option<&[(String, Attr)]>,
    ) -> Result<()> {
        self.inlined_calls += 1;
        let prefix = format!("{}#{}/", f.name, self.inlined_calls);
        let mut rename: HashMap<String, String> = HashMap::default();
        for (formal, actual) in f.input.iter().zip(&call.input) {
            rename.insert(formal.clone(), actual.clone());
        }
        for (formal, actual) in f.output.iter().zip(&call.output) {
            rename.insert(formal.clone(), actual.clone());
        }
        // The call's own attributes, resolved against its caller, feed the body's references.
        let call_attrs = self.attrs(call.attribute, caller_attrs)?;
        let map = |name: &String, rename: &HashMap<String, String>| -> String {
            if name.is_empty() {
                String::new()
            } else {
                rename
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| format!("{prefix}{name}"))
            }
        };
        for mut body_node in f.node.clone() {
            body_node.input = body_node.input.iter().map(|i| map(i, &rename)).collect();
            body_node.output = body_node.output.iter().map(|o| map(o, &rename)).collect();
            body_node.name = format!("{prefix}{}", body_node.name);
            self.node(body_node, out, depth + 1, Some(&call_attrs))?;
        }
        Ok(())
    }

    /// Lowers a node's attributes; inside a function body, references (`ref_attr_name`) take
    /// the calling node's value (and are dropped when the caller does not set it).
    fn attrs(
        &mut self,
        protos: Vec<AttributeProto>,
        caller: Option<&[(String, Attr)]>,
    ) -> Result<Vec<(String, Attr)>> {
        let mut out = Vec::with_capacity(protos.len());
        for mut a in protos {
            let name = std::mem::take(&mut a.name);
            let value = if a.ref_attr_name.is_empty() {
                self.attr(a)?
            } else {
                caller
                    .unwrap_or_default()
                    .iter()
                    .find(|(n, _)| *n == a.ref_attr_name)
                    .map(|(_, v)| v.clone())
            };
            if let Some(v) = value {
                out.push((name, v));
            }
        }
        Ok(out)
    }

    fn attr(&mut self, a: AttributeProto) -> Result<Option<Attr>> {
        let ty = if a.r#type != 0 {
            a.r#type
        } else {
            guess_attr_type(&a)
        };
        Ok(Some(match ty {
            at::INT => Attr::Int(a.i),
            at::FLOAT => Attr::Float(a.f),
            at::INTS => Attr::Ints(a.ints),
            at::FLOATS => Attr::Floats(a.floats),
            at::STRING => Attr::String(String::from_utf8_lossy(&a.s).into_owned()),
            at::STRINGS => Attr::Strings(
                a.strings
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect(),
            ),
            at::TENSOR => match a.t {
                Some(t) => Attr::Tensor(self.tensor(t)?),
                None => return Ok(None),
            },
            at::GRAPH => match a.g {
                Some(g) => Attr::Graph(Arc::new(self.graph(*g)?)),
                None => return Ok(None),
            },
            at::GRAPHS => {
                let mut gs = Vec::with_capacity(a.graphs.len());
                for g in a.graphs {
                    gs.push(Arc::new(self.graph(g)?));
                }
                Attr::Graphs(gs)
            }
            _ => return Ok(None),
        }))
    }

    fn tensor(&mut self, t: TensorProto) -> Result<ConstTensor> {
        let dtype = DType::from_onnx(t.data_type);
        let dims = checked_dims(&t.name, &t.dims)?;
        check_size("tensor", &t.name, &dims)?;
        if let Some(size) = dtype.size_of()
            && !t.raw_data.is_empty()
            && (t.raw_data.len() as u64) != dims.iter().product::<u64>() * size as u64
        {
            return Err(ConvertError::Invalid(format!(
                "tensor `{}` has {} bytes of data for dimensions {dims:?}",
                t.name,
                t.raw_data.len()
            )));
        }
        let numel = dims
            .iter()
            .try_fold(1usize, |a, d| a.checked_mul(usize::try_from(*d).ok()?));
        let wanted = numel.filter(|n| {
            *n <= if dtype.is_float() {
                FLOAT_FOLD_LIMIT
            } else {
                FOLD_LIMIT
            }
        });
        let shape: Vec<usize> = dims.iter().map(|d| *d as usize).collect();
        let value = if t.data_location == 1 || !t.external_data.is_empty() {
            self.external_value(&t, dtype, shape, numel)?
        } else {
            wanted.and_then(|_| inline_value(&t, dtype, shape))
        };
        Ok(ConstTensor { dtype, dims, value })
    }

    fn external_value(
        &mut self,
        t: &TensorProto,
        dtype: DType,
        shape: Vec<usize>,
        numel: Option<usize>,
    ) -> Result<Option<Arc<Value>>> {
        let Some(dir) = self.model_dir else {
            return Ok(None);
        };
        let loc = external::locate(t, dir)?;
        let expected = numel
            .zip(dtype.size_of())
            .and_then(|(n, s)| n.checked_mul(s))
            .map_or(u64::MAX, |b| b as u64);
        let want = if dtype.is_float() {
            FLOAT_FOLD_LIMIT * 8
        } else {
            FOLD_LIMIT * 8
        } as u64;
        match external::read_small(&loc, expected, want) {
            Ok(Some(bytes)) => Ok(decode_le(dtype, shape, &bytes)),
            Ok(None) => Ok(None),
            Err(e) => {
                self.warnings.push(format!(
                    "external data of tensor `{}` unavailable ({e}); using its declared shape",
                    t.name
                ));
                Ok(None)
            }
        }
    }
}

fn checked_dims(name: &str, dims: &[i64]) -> Result<Vec<u64>> {
    dims.iter()
        .map(|d| {
            u64::try_from(*d).map_err(|_| {
                ConvertError::Invalid(format!("tensor `{name}` has a negative dimension {d}"))
            })
        })
        .collect()
}

/// Older writers leave `type` unset; infer it from which field carries data.
fn guess_attr_type(a: &AttributeProto) -> i32 {
    if a.g.is_some() {
        at::GRAPH
    } else if a.t.is_some() {
        at::TENSOR
    } else if !a.ints.is_empty() {
        at::INTS
    } else if !a.floats.is_empty() {
        at::FLOATS
    } else if !a.strings.is_empty() {
        at::STRINGS
    } else if !a.s.is_empty() {
        at::STRING
    } else if a.f != 0.0 {
        at::FLOAT
    } else {
        at::INT
    }
}

/// Decodes the elements of a small tensor stored in the model file.
fn inline_value(t: &TensorProto, dtype: DType, shape: Vec<usize>) -> Option<Arc<Value>> {
    if !t.raw_data.is_empty() {
        return decode_le(dtype, shape, &t.raw_data);
    }
    match dtype {
        DType::F32 => Value::float(shape, t.float_data.iter().map(|x| *x as f64).collect()),
        DType::F64 => Value::float(shape, t.double_data.clone()),
        DType::I64 => Value::int(shape, t.int64_data.clone()),
        DType::U64 | DType::U32 => {
            Value::int(shape, t.uint64_data.iter().map(|x| *x as i64).collect())
        }
        DType::I32 | DType::I16 | DType::I8 | DType::U16 | DType::U8 | DType::Bool => {
            Value::int(shape, t.int32_data.iter().map(|x| *x as i64).collect())
        }
        DType::F16 | DType::BF16 => {
            let bytes: Vec<u8> = t
                .int32_data
                .iter()
                .flat_map(|x| (*x as u16).to_le_bytes())
                .collect();
            decode_le(dtype, shape, &bytes)
        }
        DType::F8 | DType::I4 | DType::U4 | DType::String | DType::Other => None,
    }
}

fn decl(v: ValueInfoProto) -> TensorDecl {
    let tensor = v.r#type.and_then(|t| t.tensor_type);
    let dtype = tensor
        .as_ref()
        .map_or(DType::Other, |t| DType::from_onnx(t.elem_type));
    let shape = tensor.and_then(|t| t.shape).map(|s| {
        s.dim
            .into_iter()
            .map(|d| match (d.dim_value, d.dim_param) {
                (Some(v), _) if v >= 0 => DeclaredDim::Fixed(v as u64),
                (_, Some(p)) if !p.is_empty() => DeclaredDim::Symbol(p),
                _ => DeclaredDim::Unknown,
            })
            .collect()
    });
    TensorDecl {
        name: v.name,
        dtype,
        shape,
    }
}
