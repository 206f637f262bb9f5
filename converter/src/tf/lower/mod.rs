//! Lowering of a TensorFlow `GraphDef` to the converter's [`crate::ir`] graph: TF operations
//! become the ONNX operations of the same meaning, so that shape inference, the CG and its
//! costs are shared with the ONNX importer.
//!
//! Layout: TensorFlow graphs are usually NHWC, ONNX ones NCHW. An NHWC graph is lowered as if
//! it were NCHW: 4-D inputs, 4-D constants and every axis argument of an op on a 4-D tensor are
//! permuted, convolution filters are rearranged (HWIO → OIHW), so the same network gives the
//! same CG whichever way it was exported. Ranks are tracked while lowering to know which
//! tensors are 4-D. `Identity`-like plumbing is removed.
//!
//! This module holds the lowering state and the helpers every rule uses; the rules themselves
//! are registered by TF op name per op family in [`ops`], as the ONNX shape rules are in
//! `infer::ops`. An op without a rule is kept under its TF name with a warning (inference then
//! marks its outputs unknown).

mod attrs;
mod ops;

use std::collections::HashMap as StdHashMap;

use self::attrs::{TfConst, attr_string};
use super::proto::{GraphDef, NodeDef};
use crate::error::{ConvertError, Result};
use crate::ir::{Attr, ConstTensor, Graph, Model, Node, TensorDecl};
use crate::value::{DType, Value};

/// The ONNX opset whose semantics the lowered graph follows.
const OPSET: i64 = 13;
/// NHWC axis → NCHW axis.
const NHWC_TO_NCHW: [i64; 4] = [0, 2, 3, 1];

/// One TF node as a rule sees it: the node, its data inputs resolved to lowered tensor names
/// (control dependencies dropped), and the rank of its first input when known.
struct Op<'a> {
    node: &'a NodeDef,
    inputs: Vec<String>,
    /// The first data input (empty when there is none).
    first: String,
    /// The rank of `first`, when known.
    rank: Option<usize>,
}

impl Op<'_> {
    /// The node's output tensor (its name).
    fn out(&self) -> String {
        self.node.name.clone()
    }
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

    /// Keeps `node` under its TF op name (inference marks its outputs unknown), with a warning.
    fn unsupported(&mut self, node: &NodeDef, inputs: Vec<String>, why: &str) -> Result<()> {
        self.warnings.push(format!(
            "TensorFlow op {} (`{}`): {why}",
            node.op, node.name
        ));
        self.push(node, &node.op, inputs, Vec::new());
        Ok(())
    }

    /// An op no rule lowers: kept under its TF name, so inference marks its outputs unknown.
    fn unknown(&mut self, op: Op) -> Result<()> {
        self.warnings.push(format!(
            "unsupported TensorFlow op {} (`{}`)",
            op.node.op, op.node.name
        ));
        self.push(op.node, &op.node.op, op.inputs, Vec::new());
        Ok(())
    }

    /// Records that `out` has the rank `rank`, when it is known.
    fn keep_rank(&mut self, out: String, rank: Option<usize>) {
        if let Some(r) = rank {
            self.rank.insert(out, r);
        }
    }

    /// Lowers one node through the rule registered for its op type.
    fn node(&mut self, node: &NodeDef) -> Result<()> {
        let inputs = self.inputs(node);
        let lowering = ops::lowering(&node.op);
        let needed = lowering.map_or(1, |l| l.min_inputs);
        if inputs.len() < needed {
            return self.unsupported(node, inputs, &format!("expects {needed} inputs"));
        }
        let first = inputs.first().cloned().unwrap_or_default();
        let rank = self.rank.get(&first).copied();
        let op = Op {
            node,
            inputs,
            first,
            rank,
        };
        match lowering {
            Some(l) => (l.rule)(self, op),
            None => self.unknown(op),
        }
    }
}
