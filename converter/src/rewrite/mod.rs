//! Deployment rewrites: the operators that quantizers and ONNX Runtime's optimisers write become
//! the float operators they stand for, before shape inference, so that a quantized or
//! runtime-optimised file converts to the CG of the float network it was made from.
//!
//! * [`quantized`]: QDQ pairs, QOperator ops (`QLinearConv`, `com.microsoft` `QLinearAdd`, …),
//!   dynamic quantization (`ConvInteger`, `MatMulInteger` and their rescaling), n-bit weights
//!   (`MatMulNBits`). Integer weights are re-declared as float weights of the same shape, so they
//!   count as parameters; each rewritten node keeps its precision ([`Precision`]).
//! * [`fused`]: `com.microsoft` fusions (`FusedConv`, `FusedGemm`, `SkipLayerNormalization`,
//!   `BiasGelu`, `Attention`, `NhwcConv`, …) are split back into their parts; a fused activation
//!   becomes its own node again.
//!
//! Rewrites are registered by op type; names do not collide between the standard and the
//! `com.microsoft` domains except `Attention`, whose rewrite checks the domain. An op that cannot
//! be rewritten (a missing operand) is left as it is, for the shape rules to do what they can.

mod fused;
mod quantized;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::HashMap as StdHashMap;
use std::sync::{Arc, LazyLock};

use crate::ir::{Attr, ConstTensor, Graph, Node};
use crate::value::{DType, Precision, Value};

/// A rewrite: the node, the graph's context; pushes the replacement nodes onto `out`, or
/// returns `false` to keep the node as it is.
type Rule = fn(&Node, &mut Context, &mut Vec<Node>) -> bool;

/// The op-type → rewrite table that [`quantized`] and [`fused`] fill.
#[derive(Default)]
struct Registry(StdHashMap<&'static str, Rule>);

impl Registry {
    fn add(&mut self, ops: &[&'static str], rule: Rule) {
        for op in ops {
            self.0.insert(op, rule);
        }
    }
}

static RULES: LazyLock<StdHashMap<&'static str, Rule>> = LazyLock::new(|| {
    let mut r = Registry::default();
    quantized::register(&mut r);
    fused::register(&mut r);
    r.0
});

/// What the rewrites know of the graph.
struct Context {
    /// Element types of the stored tensors (initializers and graph inputs).
    stored: HashMap<String, DType>,
    /// The decoded values of small initializers (zero points, scales).
    values: HashMap<String, Arc<Value>>,
    /// The node producing each tensor (index into the original node list).
    producer: HashMap<String, usize>,
    /// How many nodes read each tensor.
    readers: HashMap<String, usize>,
    /// The original nodes, for looking through layout ops to a stored weight.
    nodes: Vec<Node>,
    /// Stored integer tensors that are weights: re-declared as float, with their precision.
    weights: HashMap<String, Precision>,
    /// The precision of quantized tensors: `QuantizeLinear` outputs and what dequantizes them.
    quantized: HashMap<String, Precision>,
    /// Nodes replaced by an identity, by index (the rescaling around dynamic quantization).
    passthrough: HashMap<usize, String>,
    /// Stored tensors to add (the unpacked weight of `MatMulNBits`), declared like their source.
    new_weights: Vec<(String, String, Vec<u64>)>,
    fresh: usize,
}

impl Context {
    /// A tensor name that does not occur in the graph.
    fn fresh(&mut self, base: &str) -> String {
        self.fresh += 1;
        format!("{base}::aiop{}", self.fresh)
    }

    /// The stored tensor `name` derives from through layout ops (a transposed or reshaped
    /// weight), if any.
    fn stored_source<'a>(&'a self, mut name: &'a str) -> Option<&'a str> {
        for _ in 0..8 {
            if self.stored.contains_key(name) {
                return Some(name);
            }
            let node = &self.nodes[*self.producer.get(name)?];
            match node.op_type.as_str() {
                "Identity" | "Transpose" | "Reshape" | "Flatten" | "Squeeze" | "Unsqueeze" => {
                    name = node.inputs.first()?;
                }
                _ => return None,
            }
        }
        None
    }

    /// Marks the stored integer tensor behind `name` as a weight; returns its precision.
    fn weight(&mut self, name: &str) -> Option<Precision> {
        let source = self.stored_source(name)?.to_string();
        let precision = Precision::of(self.stored[&source])?;
        self.weights.insert(source, precision);
        Some(precision)
    }

    /// The precision of `name` as an integer tensor: stored, or a quantized activation.
    fn precision_of(&self, name: &str) -> Option<Precision> {
        self.quantized.get(name).copied().or_else(|| {
            self.stored_source(name)
                .and_then(|s| Precision::of(self.stored[s]))
        })
    }
}

/// Rewrites the deployment operators of `graph` (see the module documentation) and returns the
/// number of nodes rewritten. Subgraphs (If/Loop bodies) are left alone.
pub fn rewrite(graph: &mut Graph) -> usize {
    if !graph
        .nodes
        .iter()
        .any(|n| RULES.contains_key(n.op_type.as_str()))
    {
        return 0;
    }
    let mut stored: HashMap<String, DType> = graph
        .initializers
        .iter()
        .map(|(n, t)| (n.clone(), t.dtype))
        .collect();
    for i in &graph.inputs {
        stored.entry(i.name.clone()).or_insert(i.dtype);
    }
    let nodes = std::mem::take(&mut graph.nodes);
    let producer = nodes
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.outputs.iter().map(move |o| (o.clone(), i)))
        .collect();
    let mut readers: HashMap<String, usize> = HashMap::default();
    for name in nodes.iter().flat_map(|n| &n.inputs) {
        *readers.entry(name.clone()).or_default() += 1;
    }
    for o in &graph.outputs {
        *readers.entry(o.name.clone()).or_default() += 1;
    }
    let values = graph
        .initializers
        .iter()
        .filter_map(|(n, t)| Some((n.clone(), Arc::clone(t.value.as_ref()?))))
        .collect();
    let mut cx = Context {
        stored,
        values,
        producer,
        readers,
        passthrough: HashMap::default(),
        nodes,
        weights: HashMap::default(),
        quantized: HashMap::default(),
        new_weights: Vec::new(),
        fresh: 0,
    };
    cx.passthrough = quantized::rescaling(&cx);
    let mut out = Vec::with_capacity(cx.nodes.len());
    let mut rewritten = 0;
    for i in 0..cx.nodes.len() {
        let node = cx.nodes[i].clone();
        if let Some(data) = cx.passthrough.get(&i).cloned() {
            out.push(identity(&node, data, node.outputs[0].clone()));
            rewritten += 1;
            continue;
        }
        match RULES.get(node.op_type.as_str()) {
            Some(rule) if rule(&node, &mut cx, &mut out) => rewritten += 1,
            _ => out.push(node),
        }
    }
    quantized::annotate(&mut out, &cx);
    graph.nodes = out;
    redeclare(graph, &cx);
    rewritten
}

/// Re-declares the integer weights as float (their values, if decoded, are quantized codes and
/// are dropped) and adds the unpacked n-bit weights.
fn redeclare(graph: &mut Graph, cx: &Context) {
    for name in cx.weights.keys() {
        if let Some(t) = graph.initializers.get_mut(name) {
            t.dtype = DType::F32;
            t.value = None;
        }
        if let Some(i) = graph.inputs.iter_mut().find(|i| &i.name == name) {
            i.dtype = DType::F32;
        }
    }
    let consts: HashSet<&str> = cx.weights.keys().map(String::as_str).collect();
    for node in graph.nodes.iter_mut().filter(|n| n.op_type == "Constant") {
        if node.outputs.iter().any(|o| consts.contains(o.as_str())) {
            for (_, a) in node.attrs.iter_mut() {
                if let Attr::Tensor(t) = a {
                    t.dtype = DType::F32;
                    t.value = None;
                }
            }
        }
    }
    for (name, source, dims) in &cx.new_weights {
        let tensor = ConstTensor {
            dtype: DType::F32,
            dims: dims.clone(),
            value: None,
        };
        if graph.initializers.contains_key(source) {
            graph.initializers.insert(name.clone(), tensor);
        } else {
            graph.inputs.push(crate::ir::TensorDecl {
                name: name.clone(),
                dtype: DType::F32,
                shape: Some(
                    dims.iter()
                        .map(|d| crate::ir::DeclaredDim::Fixed(*d))
                        .collect(),
                ),
            });
        }
    }
}

/// A node of the standard domain named after `like`, with the given inputs and outputs.
fn op(like: &Node, op_type: &str, inputs: Vec<String>, outputs: Vec<String>) -> Node {
    Node {
        name: like.name.clone(),
        op_type: op_type.to_string(),
        domain: String::new(),
        inputs,
        outputs,
        attrs: Vec::new(),
        precision: None,
    }
}

/// `Identity(input) → output`.
fn identity(like: &Node, input: String, output: String) -> Node {
    op(like, "Identity", vec![input], vec![output])
}

/// A scalar constant node.
fn scalar(like: &Node, output: String, dtype: DType, v: f64) -> Node {
    let value = match dtype {
        DType::F32 => Value::float(Vec::new(), vec![v]),
        _ => Value::int(Vec::new(), vec![v as i64]),
    };
    let mut n = op(like, "Constant", Vec::new(), vec![output]);
    n.attrs.push((
        "value".into(),
        Attr::Tensor(ConstTensor {
            dtype,
            dims: Vec::new(),
            value,
        }),
    ));
    n
}

/// Input `i` of `node`, if given (an empty name is an omitted optional input).
fn input(node: &Node, i: usize) -> Option<&String> {
    node.inputs.get(i).filter(|s| !s.is_empty())
}

/// Inputs `slots` of `node` and its first output, when all are given.
fn given<const N: usize>(node: &Node, slots: [usize; N]) -> Option<([String; N], String)> {
    let mut names: [String; N] = std::array::from_fn(|_| String::new());
    for (name, slot) in names.iter_mut().zip(slots) {
        *name = input(node, slot)?.clone();
    }
    Some((names, node.outputs.first()?.clone()))
}

/// The attributes of `node` except `drop`.
fn attrs_without(node: &Node, drop: &[&str]) -> Vec<(String, Attr)> {
    node.attrs
        .iter()
        .filter(|(n, _)| !drop.contains(&n.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests;
