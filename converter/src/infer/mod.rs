//! Shape inference: facts (type, shape, small values) for every tensor of a graph, computed
//! node by node in topological order with the rules of [`ops`].

pub mod fact;
pub mod fold;
pub mod inputs;
pub mod ops;

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use crate::error::{ConvertError, Result};
use crate::ir::{DeclaredDim, Graph, Node};
use crate::value::DType;
use fact::Fact;
use inputs::Inputs;

/// How a node's outputs were obtained.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeStatus {
    /// Inferred by the op's rule.
    Inferred,
    /// The converter has no rule for this op type.
    Unsupported,
    /// The rule failed (reason); outputs may come from the file's annotations.
    Failed(String),
}

/// Inference results of one graph.
#[derive(Debug, Default)]
pub struct Inferred {
    /// Facts of every tensor defined in the graph (inputs, constants, node outputs).
    pub facts: HashMap<String, Fact>,
    /// Node indices in a valid execution order.
    pub order: Vec<usize>,
    /// Per node (by index in the graph): how its outputs were obtained.
    pub status: Vec<NodeStatus>,
    /// Per node: subgraph notes (If/Loop handling) worth a warning.
    pub notes: Vec<Option<String>>,
}

/// Facts visible in a (sub)graph: its own, then its enclosing graphs'.
struct Scope<'a> {
    local: HashMap<String, Fact>,
    parent: Option<&'a Scope<'a>>,
}

impl Scope<'_> {
    fn get(&self, name: &str) -> Option<&Fact> {
        self.local
            .get(name)
            .or_else(|| self.parent.and_then(|p| p.get(name)))
    }
}

static UNDEFINED: std::sync::LazyLock<Fact> =
    std::sync::LazyLock::new(|| Fact::unknown(DType::Other));

/// Infers every tensor of `graph` given the facts of its inputs and initializers.
pub fn infer(graph: &Graph, seed: HashMap<String, Fact>) -> Result<Inferred> {
    infer_scoped(graph, seed, None)
}

fn infer_scoped(
    graph: &Graph,
    seed: HashMap<String, Fact>,
    parent: Option<&Scope>,
) -> Result<Inferred> {
    let order = topological_order(graph)?;
    let mut scope = Scope {
        local: seed,
        parent,
    };
    let mut status = vec![NodeStatus::Inferred; graph.nodes.len()];
    let mut notes = vec![None; graph.nodes.len()];
    for &i in &order {
        let node = &graph.nodes[i];
        let ins: Vec<Option<&Fact>> = node
            .inputs
            .iter()
            .map(|n| (!n.is_empty()).then(|| scope.get(n).unwrap_or(&UNDEFINED)))
            .collect();
        let any_bounded = ins.iter().flatten().any(|f| f.bounded);
        let result = match node.op_type.as_str() {
            "If" | "Loop" | "Scan" => control_flow(node, &ins, &scope)
                .map(|(facts, note)| {
                    notes[i] = Some(note);
                    facts
                })
                .map_err(|e| (e, None)),
            op => match ops::rule(op) {
                Some(rule) => {
                    let inputs = Inputs::new(ins);
                    rule(node, &inputs).map_err(|e| (e, ops::rank_only(node, &inputs)))
                }
                None => {
                    status[i] = NodeStatus::Unsupported;
                    Ok(Vec::new())
                }
            },
        };
        let mut outs = result.unwrap_or_else(|(e, partial)| {
            status[i] = NodeStatus::Failed(e);
            partial.into_iter().collect()
        });
        outs.resize_with(node.outputs.len(), || Fact::unknown(DType::Other));
        // an inferred size beyond any real tensor (Expand, Tile or a Loop to 2^62) is a
        // failure of the node, not a shape to count MACs with
        for (name, fact) in node.outputs.iter().zip(outs.iter_mut()) {
            if let Some(n) = fact.oversized() {
                if status[i] == NodeStatus::Inferred {
                    status[i] = NodeStatus::Failed(format!(
                        "output `{name}` would hold {n} elements, more than {}",
                        fact::MAX_TENSOR_ELEMENTS
                    ));
                }
                *fact = Fact::new(fact.dtype, vec![None; fact.rank().unwrap_or(0)]);
            }
        }
        for (name, mut fact) in node.outputs.iter().zip(outs) {
            if name.is_empty() {
                continue;
            }
            if !fact.is_known() {
                fact = annotated(graph, name).unwrap_or(fact);
            }
            if any_bounded && fact.value.is_none() {
                fact.bounded = true;
            }
            scope.local.insert(name.clone(), fact);
        }
    }
    Ok(Inferred {
        facts: scope.local,
        order,
        status,
        notes,
    })
}

/// The fully static shape the file annotates for `name`, if any.
fn annotated(graph: &Graph, name: &str) -> Option<Fact> {
    let decl = graph
        .value_info
        .get(name)
        .or_else(|| graph.outputs.iter().find(|o| o.name == name))?;
    let dims: Option<Vec<u64>> = decl
        .shape
        .as_ref()?
        .iter()
        .map(|d| match d {
            DeclaredDim::Fixed(v) => Some(*v),
            _ => None,
        })
        .collect();
    Some(Fact::fixed(decl.dtype, &dims?))
}

/// Names a node reads, including those its subgraphs read from enclosing scopes.
fn reads(node: &Node) -> Vec<&str> {
    let mut names: Vec<&str> = node
        .inputs
        .iter()
        .map(String::as_str)
        .filter(|n| !n.is_empty())
        .collect();
    names.extend(implicit_reads(node));
    names
}

/// Names a node's subgraphs (If branches, Loop bodies) read from enclosing scopes.
pub fn implicit_reads(node: &Node) -> Vec<&str> {
    node.subgraphs().flat_map(|g| outer_reads(g)).collect()
}

fn outer_reads(g: &Graph) -> Vec<&str> {
    let mut defined: HashSet<&str> = g.inputs.iter().map(|i| i.name.as_str()).collect();
    defined.extend(g.initializers.keys().map(String::as_str));
    for n in &g.nodes {
        defined.extend(n.outputs.iter().map(String::as_str));
    }
    let mut out = Vec::new();
    for n in &g.nodes {
        out.extend(reads(n).into_iter().filter(|r| !defined.contains(r)));
    }
    out
}

/// Kahn's algorithm, keeping file order among ready nodes; fails on cycles and on tensors
/// produced twice.
fn topological_order(graph: &Graph) -> Result<Vec<usize>> {
    let n = graph.nodes.len();
    let mut producer: HashMap<&str, usize> =
        HashMap::with_capacity_and_hasher(n * 2, Default::default());
    for (i, node) in graph.nodes.iter().enumerate() {
        for o in node.outputs.iter().filter(|o| !o.is_empty()) {
            if producer.insert(o, i).is_some() {
                return Err(ConvertError::Invalid(format!(
                    "tensor `{o}` is produced by two nodes"
                )));
            }
        }
    }
    let mut pending = vec![0usize; n];
    let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, node) in graph.nodes.iter().enumerate() {
        let mut deps: Vec<usize> = reads(node)
            .iter()
            .filter_map(|r| producer.get(r).copied())
            .collect();
        deps.sort_unstable();
        deps.dedup();
        pending[i] = deps.len();
        for d in deps {
            consumers[d].push(i);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> =
        (0..n).filter(|i| pending[*i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for &c in &consumers[i] {
            pending[c] -= 1;
            if pending[c] == 0 {
                ready.push(Reverse(c));
            }
        }
    }
    if order.len() < n {
        let stuck = (0..n).find(|i| pending[*i] > 0).unwrap_or(0);
        return Err(ConvertError::Cycle(graph.nodes[stuck].label()));
    }
    Ok(order)
}

/// Facts of a subgraph's declared inputs, overridden by `given` where supplied.
fn subgraph_seed(g: &Graph, given: &[Option<Fact>]) -> HashMap<String, Fact> {
    let mut seed: HashMap<String, Fact> = g
        .initializers
        .iter()
        .map(|(n, t)| {
            (
                n.clone(),
                Fact::fixed(t.dtype, &t.dims).with_value(t.value.clone()),
            )
        })
        .collect();
    for (i, decl) in g.inputs.iter().enumerate() {
        let fact = given
            .get(i)
            .cloned()
            .flatten()
            .unwrap_or_else(|| annotated_input(decl));
        seed.insert(decl.name.clone(), fact);
    }
    seed
}

fn annotated_input(decl: &crate::ir::TensorDecl) -> Fact {
    match &decl.shape {
        Some(s) => Fact::new(
            decl.dtype,
            s.iter()
                .map(|d| match d {
                    DeclaredDim::Fixed(v) => Some(*v),
                    _ => None,
                })
                .collect(),
        ),
        None => Fact::unknown(decl.dtype),
    }
}

fn output_facts(g: &Graph, inferred: &Inferred) -> Vec<Fact> {
    g.outputs
        .iter()
        .map(|o| {
            inferred
                .facts
                .get(&o.name)
                .cloned()
                .unwrap_or_else(|| annotated_input(o))
        })
        .collect()
}

/// The common part of two facts: dims where both agree.
fn merge(a: &Fact, b: &Fact) -> Fact {
    let shape = match (&a.shape, &b.shape) {
        (Some(x), Some(y)) if x.len() == y.len() => Some(
            x.iter()
                .zip(y)
                .map(|(p, q)| if p == q { *p } else { None })
                .collect(),
        ),
        _ => None,
    };
    Fact {
        dtype: a.dtype,
        shape,
        value: None,
        bounded: a.bounded || b.bounded,
    }
}

/// A loop-carried value after the loop: dimensions that grow by a fixed step per iteration
/// (an accumulating Concat) grow `trip` times; others must stay put.
fn grown(init: &Fact, body_out: &Fact, trip: Option<u64>, has_cond: bool) -> Fact {
    let mut f = merge(init, body_out);
    if let (Some(a), Some(b), Some(shape)) = (&init.shape, &body_out.shape, f.shape.as_mut())
        && a.len() == b.len()
    {
        for (i, d) in shape.iter_mut().enumerate() {
            if let (None, Some(x), Some(y), Some(t)) = (*d, a[i], b[i], trip)
                && y > x
            {
                *d = Some(x.saturating_add((y - x).saturating_mul(t)));
                f.bounded |= has_cond;
            }
        }
    }
    f
}

/// If, Loop and Scan: infer the subgraphs (as seen from the enclosing scope) and derive the
/// node's outputs. Returns the facts and a note for the conversion warnings.
fn control_flow(
    node: &Node,
    ins: &[Option<&Fact>],
    scope: &Scope,
) -> std::result::Result<(Vec<Fact>, String), String> {
    let err = |e: ConvertError| e.to_string();
    match node.op_type.as_str() {
        "If" => {
            let then_g = node.graph("then_branch").ok_or("no then_branch")?;
            let else_g = node.graph("else_branch").ok_or("no else_branch")?;
            let then_i =
                infer_scoped(then_g, subgraph_seed(then_g, &[]), Some(scope)).map_err(err)?;
            let else_i =
                infer_scoped(else_g, subgraph_seed(else_g, &[]), Some(scope)).map_err(err)?;
            let (t, e) = (output_facts(then_g, &then_i), output_facts(else_g, &else_i));
            let cond = ins
                .first()
                .copied()
                .flatten()
                .and_then(|f| f.value.as_ref())
                .and_then(|v| v.float_at(0));
            let facts = match cond {
                Some(c) if c != 0.0 => t,
                Some(_) => e,
                None => t.iter().zip(&e).map(|(a, b)| merge(a, b)).collect(),
            };
            Ok((
                facts,
                format!(
                    "If with branches of {} and {} nodes kept as one CG node",
                    then_g.nodes.len(),
                    else_g.nodes.len()
                ),
            ))
        }
        "Loop" => {
            let body = node.graph("body").ok_or("no body")?;
            let carried: Vec<Option<Fact>> = ins.iter().skip(2).map(|f| f.cloned()).collect();
            let mut given = vec![
                Some(Fact::fixed(DType::I64, &[])),
                Some(Fact::fixed(DType::Bool, &[])),
            ];
            given.extend(carried.iter().cloned());
            let inferred =
                infer_scoped(body, subgraph_seed(body, &given), Some(scope)).map_err(err)?;
            let outs = output_facts(body, &inferred);
            let trip = ins
                .first()
                .copied()
                .flatten()
                .and_then(|f| f.value.as_ref())
                .and_then(|v| v.as_ints().first().copied())
                .map(|m| m.max(0) as u64);
            let has_cond = ins.get(1).copied().flatten().is_some();
            let mut facts = Vec::new();
            for (k, f) in outs.iter().skip(1).enumerate() {
                if let Some(Some(init)) = carried.get(k) {
                    facts.push(grown(init, f, trip, has_cond));
                } else {
                    let mut shape = vec![trip];
                    shape.extend(f.shape.clone().unwrap_or_default());
                    let mut s = Fact::new(f.dtype, shape);
                    s.bounded = has_cond;
                    if f.shape.is_none() {
                        s.shape = None;
                    }
                    facts.push(s);
                }
            }
            Ok((
                facts,
                format!(
                    "Loop with a body of {} nodes kept as one CG node",
                    body.nodes.len()
                ),
            ))
        }
        _ => scan(node, ins, scope),
    }
}

/// Scan (opset 9 on): the body sees the `N` states and one slice of each of the
/// `num_scan_inputs` scan inputs (their scan axis, `scan_input_axes`, removed); the node returns
/// the final states and the body's other outputs stacked along `scan_output_axes` (default 0),
/// one entry per slice.
fn scan(
    node: &Node,
    ins: &[Option<&Fact>],
    scope: &Scope,
) -> std::result::Result<(Vec<Fact>, String), String> {
    let body = node.graph("body").ok_or("no body")?;
    let scans = usize::try_from(node.int("num_scan_inputs").ok_or("no num_scan_inputs")?)
        .map_err(|_| "negative num_scan_inputs")?;
    let states = ins
        .len()
        .checked_sub(scans)
        .ok_or("fewer inputs than scan inputs")?;
    if body.inputs.len() != ins.len() {
        return Err("Scan of opset 8 (with a batch axis) is not supported".into());
    }
    let input_axes = node.ints("scan_input_axes").unwrap_or(&[]);
    let mut given: Vec<Option<Fact>> = ins[..states].iter().map(|f| f.cloned()).collect();
    let mut length: Option<u64> = None;
    for (k, f) in ins[states..].iter().enumerate() {
        let sliced = f.and_then(|f| {
            let shape = f.shape.as_ref()?;
            let a = ops::axis(input_axes.get(k).copied().unwrap_or(0), shape.len()).ok()?;
            length = length.or(shape[a]);
            let mut s = shape.clone();
            s.remove(a);
            Some(Fact::new(f.dtype, s))
        });
        given.push(sliced);
    }
    let inferred =
        infer_scoped(body, subgraph_seed(body, &given), Some(scope)).map_err(|e| e.to_string())?;
    let outs = output_facts(body, &inferred);
    let output_axes = node.ints("scan_output_axes").unwrap_or(&[]);
    let mut facts: Vec<Fact> = outs.iter().take(states).cloned().collect();
    for (k, f) in outs.iter().skip(states).enumerate() {
        let stacked = f.shape.as_ref().and_then(|shape| {
            let a = ops::axis(output_axes.get(k).copied().unwrap_or(0), shape.len() + 1).ok()?;
            let mut s = shape.clone();
            s.insert(a, length);
            Some(Fact::new(f.dtype, s))
        });
        facts.push(stacked.unwrap_or_else(|| Fact::unknown(f.dtype)));
    }
    Ok((
        facts,
        format!(
            "Scan with a body of {} nodes kept as one CG node",
            body.nodes.len()
        ),
    ))
}
