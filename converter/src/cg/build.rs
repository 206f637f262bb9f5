//! Builds the CG from an inferred graph: keeps the operations on the data path, drops weight
//! and shape plumbing, attributes parameters and costs to the nodes that consume them.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use petgraph::graph::NodeIndex;

use super::cost::cost;
use super::{Cg, CgNode, OpCategory, Precision, ShapeStatus};
use crate::infer::fact::Fact;
use crate::infer::{Inferred, NodeStatus};
use crate::ir::{Graph, Node};

/// Where a tensor comes from.
#[derive(Clone, Debug)]
enum Origin {
    /// Computed from a data input; produced by this CG node.
    Data(NodeIndex),
    /// Computed from weights only; the weight tensors (root ids) it derives from.
    Weight(Arc<[usize]>),
    /// A constant or shape computation.
    Const,
}

/// A weight tensor of the model (initializer, parameter input or large float constant).
struct Root {
    numel: u64,
    counted: bool,
}

/// Ops that pass their input through unchanged at inference time.
const BYPASS: &[&str] = &["Identity", "Dropout"];

/// Input slots whose weights are trainable parameters. Batch norm's running statistics and
/// the shape/index operands of plumbing ops are not.
fn counts_params(op_type: &str, slot: usize) -> bool {
    match op_type {
        "BatchNormalization" => slot == 1 || slot == 2,
        "Reshape" | "Expand" | "Tile" | "Resize" | "Upsample" | "Pad" | "Slice" | "Squeeze"
        | "Unsqueeze" | "Split" | "TopK" | "Clip" | "ConstantOfShape" | "Range" | "ReduceMean"
        | "ReduceSum" | "ReduceMax" | "ReduceMin" | "ReduceProd" | "ReduceL2" | "OneHot"
        | "NonMaxSuppression" | "RoiAlign" => slot == 0,
        _ => true,
    }
}

/// Builds the CG of `graph`. `data_inputs` are the graph inputs that carry data (the image);
/// every other input is a weight.
pub fn build(
    graph: &Graph,
    inferred: &Inferred,
    data_inputs: &[String],
    name: &str,
    source: &str,
) -> Cg {
    let mut b = Builder {
        graph,
        inferred,
        origin: HashMap::default(),
        roots: Vec::new(),
        cg: Cg {
            name: name.to_string(),
            source: source.to_string(),
            ..Cg::default()
        },
        used: graph
            .nodes
            .iter()
            .flat_map(|n| n.inputs.iter().map(String::as_str))
            .chain(graph.outputs.iter().map(|o| o.name.as_str()))
            .collect(),
    };
    b.seed(data_inputs);
    for &i in &inferred.order {
        b.node(&graph.nodes[i]);
    }
    b.outputs();
    b.warn();
    b.cg
}

struct Builder<'a> {
    graph: &'a Graph,
    inferred: &'a Inferred,
    origin: HashMap<&'a str, Origin>,
    roots: Vec<Root>,
    cg: Cg,
    used: HashSet<&'a str>,
}

impl<'a> Builder<'a> {
    fn fact(&self, name: &str) -> Option<&'a Fact> {
        self.inferred.facts.get(name)
    }

    fn root(&mut self, fact: Option<&Fact>) -> Origin {
        match fact {
            Some(f) if f.dtype.is_float() => {
                self.roots.push(Root {
                    numel: f.numel().unwrap_or(0),
                    counted: false,
                });
                Origin::Weight(Arc::from([self.roots.len() - 1]))
            }
            _ => Origin::Const,
        }
    }

    fn seed(&mut self, data_inputs: &[String]) {
        let graph = self.graph;
        for input in &graph.inputs {
            let fact = self.fact(&input.name);
            let origin = if data_inputs.contains(&input.name) {
                let mut node = CgNode::new(&input.name, OpCategory::Input, "Input");
                node.output_shape = dims(fact);
                node.shape = status(fact);
                Origin::Data(self.cg.add_node(node))
            } else if graph.initializers.contains_key(&input.name) {
                continue;
            } else {
                self.root(fact)
            };
            self.origin.insert(&input.name, origin);
        }
        for name in graph.initializers.keys() {
            if !self.origin.contains_key(name.as_str()) {
                let o = self.root(self.fact(name));
                self.origin.insert(name, o);
            }
        }
    }

    fn node(&mut self, node: &'a Node) {
        let origins: Vec<Origin> = node
            .inputs
            .iter()
            .map(|n| {
                self.origin
                    .get(n.as_str())
                    .cloned()
                    .unwrap_or(Origin::Const)
            })
            .collect();
        let set = |b: &mut Self, o: Origin| {
            for out in node.outputs.iter().filter(|o| !o.is_empty()) {
                b.origin.insert(out, o.clone());
            }
        };
        // If/Loop bodies read enclosing tensors by name: those count as inputs too.
        let implicit: Vec<Origin> = crate::infer::implicit_reads(node)
            .into_iter()
            .filter_map(|n| self.origin.get(n).cloned())
            .collect();
        let data: Vec<NodeIndex> = origins
            .iter()
            .chain(&implicit)
            .filter_map(|o| match o {
                Origin::Data(i) => Some(*i),
                _ => None,
            })
            .collect();
        if data.is_empty() {
            let weights: Vec<&Arc<[usize]>> = origins
                .iter()
                .filter_map(|o| match o {
                    Origin::Weight(r) => Some(r),
                    _ => None,
                })
                .collect();
            let o = if node.op_type == "Constant" {
                // Large float constants are weights stored inline; small ones are arithmetic.
                let fact = node.outputs.first().and_then(|o| self.fact(o));
                if fact.is_some_and(|f| f.value.is_none()) {
                    self.root(fact)
                } else {
                    Origin::Const
                }
            } else {
                match weights.as_slice() {
                    [] => Origin::Const,
                    [one] => Origin::Weight(Arc::clone(one)),
                    many => Origin::Weight(union(many)),
                }
            };
            set(self, o);
            return;
        }
        let outs: Vec<Option<&Fact>> = node.outputs.iter().map(|o| self.fact(o)).collect();
        if outs.iter().all(|f| f.is_some_and(|f| f.value.is_some())) {
            set(self, Origin::Const);
            return;
        }
        if BYPASS.contains(&node.op_type.as_str()) {
            let src = data[0];
            set(self, Origin::Data(src));
            return;
        }
        let index = self.add(node, &origins);
        for src in dedup(data) {
            self.cg.graph.add_edge(src, index, ());
        }
        set(self, Origin::Data(index));
    }

    fn add(&mut self, node: &'a Node, origins: &[Origin]) -> NodeIndex {
        let ins: Vec<Option<&Fact>> = node
            .inputs
            .iter()
            .map(|n| if n.is_empty() { None } else { self.fact(n) })
            .collect();
        // The main data input; none for an If/Loop that reads its data only inside its body.
        let main = origins
            .iter()
            .position(|o| matches!(o, Origin::Data(_)))
            .unwrap_or(usize::MAX);
        let weight_slot = origins.iter().enumerate().position(|(slot, o)| {
            matches!(o, Origin::Weight(_)) && counts_params(&node.op_type, slot)
        });
        let out = node.outputs.first().and_then(|o| self.fact(o));
        let mut cg_node = CgNode::new(
            if node.name.is_empty() {
                node.outputs.first().cloned().unwrap_or_default()
            } else {
                node.name.clone()
            },
            OpCategory::of(&node.op_type),
            qualified_op(node),
        );
        cg_node.input_shape = dims(ins.get(main).copied().flatten());
        cg_node.output_shape = dims(out);
        if let Some(w) = weight_slot {
            cg_node.weight_shape = ins[w].and_then(Fact::dims).unwrap_or_default();
        }
        self.refine(&mut cg_node, node, &ins, weight_slot);
        cg_node.precision = node.precision.or_else(|| {
            // Reduced-precision float files (fp16, bf16) keep their types: the weight's, else
            // the data input's.
            let reduced = |f: Option<&Fact>| {
                f.and_then(|f| Precision::of(f.dtype))
                    .filter(|p| matches!(p, Precision::Fp16 | Precision::Bf16 | Precision::Fp8))
            };
            weight_slot
                .and_then(|w| reduced(ins[w]))
                .or_else(|| reduced(ins.get(main).copied().flatten()))
        });
        cg_node.params = self.claim_params(node, origins);
        let unknown = Fact::unknown(crate::value::DType::Other);
        let c = cost(
            cg_node.op,
            node,
            &ins,
            out.unwrap_or(&unknown),
            &cg_node.weight_shape,
            &cg_node.kernel,
            cg_node.bias,
        );
        cg_node.macs = c.macs;
        cg_node.flops = c.flops;
        cg_node.shape = node
            .outputs
            .iter()
            .filter(|o| !o.is_empty() && self.used.contains(o.as_str()))
            .map(|o| status(self.fact(o)))
            .chain(std::iter::once(status(out)))
            .max_by_key(|s| match s {
                ShapeStatus::Known => 0,
                ShapeStatus::Bounded => 1,
                ShapeStatus::Unknown => 2,
            })
            .unwrap_or(ShapeStatus::Unknown);
        self.cg.add_node(cg_node)
    }

    /// Fills the window attributes and refines conv/matmul categories.
    fn refine(
        &self,
        n: &mut CgNode,
        node: &Node,
        ins: &[Option<&Fact>],
        weight_slot: Option<usize>,
    ) {
        let ints = |name: &str| -> Vec<u64> {
            node.ints(name)
                .map(|v| v.iter().map(|x| (*x).max(0) as u64).collect())
                .unwrap_or_default()
        };
        match n.op {
            OpCategory::Conv | OpCategory::ConvTranspose => {
                n.groups = node.int("group").unwrap_or(1).max(1) as u64;
                n.kernel = match ints("kernel_shape") {
                    k if !k.is_empty() => k,
                    _ => n
                        .weight_shape
                        .get(2..)
                        .map(<[u64]>::to_vec)
                        .unwrap_or_default(),
                };
                let rank = n.kernel.len();
                n.strides = ints("strides");
                n.dilations = ints("dilations");
                if n.strides.is_empty() {
                    n.strides = vec![1; rank];
                }
                if n.dilations.is_empty() {
                    n.dilations = vec![1; rank];
                }
                n.bias = ins.get(2).copied().flatten().is_some();
                if n.op == OpCategory::Conv {
                    let c_in = n.input_shape.get(1).and_then(|c| u64::try_from(*c).ok());
                    let c_out = n.output_shape.get(1).and_then(|c| u64::try_from(*c).ok());
                    n.op = OpCategory::conv(n.groups, c_in, c_out);
                }
            }
            OpCategory::MaxPool | OpCategory::AvgPool => {
                n.kernel = ints("kernel_shape");
                n.strides = ints("strides");
                if n.strides.is_empty() {
                    n.strides = vec![1; n.kernel.len()];
                }
                n.dilations = vec![1; n.kernel.len()];
            }
            OpCategory::Linear => n.bias = ins.get(2).copied().flatten().is_some(),
            OpCategory::MatMul if weight_slot.is_some() => n.op = OpCategory::Linear,
            _ => {}
        }
    }

    /// Parameters of weights this node consumes that no earlier node has claimed. Scalars are
    /// constants of the arithmetic, not parameters.
    fn claim_params(&mut self, node: &Node, origins: &[Origin]) -> u64 {
        let mut total = 0u64;
        for (slot, origin) in origins.iter().enumerate() {
            let Origin::Weight(roots) = origin else {
                continue;
            };
            if !counts_params(&node.op_type, slot) {
                continue;
            }
            for r in roots.iter() {
                let root = &mut self.roots[*r];
                if !root.counted && root.numel > 1 {
                    root.counted = true;
                    total = total.saturating_add(root.numel);
                }
            }
        }
        total
    }

    fn outputs(&mut self) {
        for o in &self.graph.outputs {
            if let Some(Origin::Data(src)) = self.origin.get(o.name.as_str()).cloned() {
                let fact = self.fact(&o.name);
                let mut node = CgNode::new(&o.name, OpCategory::Output, "Output");
                node.input_shape = dims(fact);
                node.output_shape = dims(fact);
                node.shape = status(fact);
                let idx = self.cg.add_node(node);
                self.cg.graph.add_edge(src, idx, ());
            }
        }
    }

    /// Summarises what inference could not do.
    fn warn(&mut self) {
        let mut unsupported: BTreeMap<&str, usize> = BTreeMap::new();
        let mut failed = Vec::new();
        for (i, node) in self.graph.nodes.iter().enumerate() {
            match &self.inferred.status[i] {
                NodeStatus::Inferred => {}
                NodeStatus::Unsupported => *unsupported.entry(&node.op_type).or_default() += 1,
                NodeStatus::Failed(e) => failed.push(format!("{}: {e}", node.label())),
            }
            if let Some(note) = &self.inferred.notes[i] {
                failed.push(format!("{}: {note}", node.label()));
            }
        }
        for (op, n) in unsupported {
            self.cg.warnings.push(format!(
                "unsupported op `{op}` ({n} node{}): outputs taken from the file's annotations or left unknown",
                if n == 1 { "" } else { "s" }
            ));
        }
        const SHOWN: usize = 10;
        let extra = failed.len().saturating_sub(SHOWN);
        self.cg.warnings.extend(failed.into_iter().take(SHOWN));
        if extra > 0 {
            self.cg
                .warnings
                .push(format!("… and {extra} more node warnings"));
        }
    }
}

/// Most weight tensors one derived weight is tracked back to. Real models combine a handful
/// (a weight and its scale); hostile graphs could otherwise make the lists grow without bound.
const MAX_ROOTS: usize = 256;

/// The sorted union of root lists, capped at [`MAX_ROOTS`].
fn union(lists: &[&Arc<[usize]>]) -> Arc<[usize]> {
    let mut all: Vec<usize> = lists.iter().flat_map(|l| l.iter().copied()).collect();
    all.sort_unstable();
    all.dedup();
    all.truncate(MAX_ROOTS);
    all.into()
}

fn dedup(mut v: Vec<NodeIndex>) -> Vec<NodeIndex> {
    let mut seen = HashSet::default();
    v.retain(|i| seen.insert(*i));
    v
}

fn qualified_op(node: &Node) -> String {
    match node.domain.as_str() {
        "" | "ai.onnx" => node.op_type.clone(),
        d => format!("{d}:{}", node.op_type),
    }
}

fn dims(fact: Option<&Fact>) -> Vec<i64> {
    fact.and_then(|f| f.shape.as_ref())
        .map(|s| {
            s.iter()
                .map(|d| d.map_or(-1, |v| v.min(i64::MAX as u64) as i64))
                .collect()
        })
        .unwrap_or_default()
}

fn status(fact: Option<&Fact>) -> ShapeStatus {
    match fact {
        Some(f) if f.is_known() && f.bounded => ShapeStatus::Bounded,
        Some(f) if f.is_known() => ShapeStatus::Known,
        _ => ShapeStatus::Unknown,
    }
}
