//! Channel pruning. The output channels of a convolution cannot be cut alone: every tensor that
//! carries the same channels — through normalisation, activations, pooling, depthwise
//! convolutions, residual additions and squeeze-excitation products — must lose the same ones,
//! and every convolution or linear layer reading them loses the matching input channels. This
//! module finds that group (a residual stream spans a whole stage) and slices its weights
//! consistently; a group that reaches something that mixes channels otherwise (a concatenation,
//! a reshape, a graph output) is refused.

use std::collections::{BTreeSet, HashMap, HashSet};

use aiop_converter::infer::fact::Fact;
use aiop_converter::onnx::proto::GraphProto;

use super::graph::{
    Index, Weight, constant_dims, int_attr, ints_attr, is_constant, set_int, weight, weight_dims,
};
use super::tensor;

/// Ops that keep each channel to itself and pass its tensor on (input 0 → output 0).
const PASS_THROUGH: &[&str] = &[
    "Relu",
    "Clip",
    "Sigmoid",
    "HardSigmoid",
    "HardSwish",
    "LeakyRelu",
    "Elu",
    "Selu",
    "Gelu",
    "Tanh",
    "Softplus",
    "Mish",
    "Erf",
    "Identity",
    "Dropout",
    "MaxPool",
    "AveragePool",
    "LpPool",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "Resize",
    "Upsample",
];

/// Element-wise ops with several inputs (broadcasting).
const ELEMENTWISE: &[&str] = &["Add", "Sub", "Mul", "Div", "PRelu", "Max", "Min", "Sum"];

/// The tensors and weights that share one convolution's output channels.
#[derive(Debug)]
pub struct Group {
    /// The channel count.
    pub channels: usize,
    /// Weights to slice: (weight, axis).
    slices: BTreeSet<(WeightKey, usize)>,
    /// The producing convolutions' kernels (their L1 norms choose the channels kept).
    producers: Vec<Weight>,
    /// Depthwise convolutions in the group: their `group` follows the kept count.
    depthwise: Vec<usize>,
}

/// A [`Weight`] with an order, for the set of slices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum WeightKey {
    Initializer(usize),
    Input(usize),
}

impl From<Weight> for WeightKey {
    fn from(w: Weight) -> WeightKey {
        match w {
            Weight::Initializer(i) => WeightKey::Initializer(i),
            Weight::Input(i) => WeightKey::Input(i),
        }
    }
}

impl From<WeightKey> for Weight {
    fn from(w: WeightKey) -> Weight {
        match w {
            WeightKey::Initializer(i) => Weight::Initializer(i),
            WeightKey::Input(i) => Weight::Input(i),
        }
    }
}

/// How the walk reached a node.
#[derive(Clone, Copy)]
enum Via<'a> {
    /// The node computes this group tensor.
    Output,
    /// The node reads this group tensor.
    Input(&'a str),
}

struct Walk<'a> {
    graph: &'a GraphProto,
    index: &'a Index,
    data: &'a HashSet<String>,
    facts: &'a HashMap<String, Fact>,
    group: Group,
    queue: Vec<String>,
    seen_tensors: HashSet<String>,
    /// Nodes visited, with whether as a dense convolution writing the group.
    seen_nodes: HashSet<(usize, bool)>,
}

/// The channel group of the output of the convolution `conv` (a node index).
pub fn group(
    graph: &GraphProto,
    index: &Index,
    data: &HashSet<String>,
    facts: &HashMap<String, Fact>,
    conv: usize,
) -> Result<Group, String> {
    let node = &graph.node[conv];
    if node.op_type != "Conv" || int_attr(node, "group").unwrap_or(1) != 1 {
        return Err(format!("`{}` is not a dense convolution", node.name));
    }
    let kernel = node
        .input
        .get(1)
        .and_then(|w| weight(graph, data, w))
        .ok_or_else(|| format!("`{}`: kernel is not a weight", node.name))?;
    let channels = weight_dims(graph, kernel)
        .and_then(|d| d.first().copied())
        .ok_or_else(|| format!("`{}`: kernel dims unknown", node.name))?
        as usize;
    let mut walk = Walk {
        graph,
        index,
        data,
        facts,
        group: Group {
            channels,
            slices: BTreeSet::new(),
            producers: Vec::new(),
            depthwise: Vec::new(),
        },
        queue: Vec::new(),
        seen_tensors: HashSet::new(),
        seen_nodes: HashSet::new(),
    };
    walk.seen_nodes.insert((conv, true));
    walk.produce(conv)?;
    walk.join(&node.output[0])?;
    while let Some(t) = walk.queue.pop() {
        if index.is_output(&t) {
            return Err(format!("channels of `{t}` reach a graph output"));
        }
        match index.producer(&t) {
            Some(p) => walk.visit(p, Via::Output)?,
            None => return Err(format!("channels of `{t}` come from a graph input")),
        }
        for &c in index.consumers(&t) {
            walk.visit(c, Via::Input(&t))?;
        }
    }
    Ok(walk.group)
}

impl Walk<'_> {
    /// Adds a tensor to the group after checking that its channel axis (1) has the group's size.
    fn join(&mut self, tensor: &str) -> Result<(), String> {
        if self.seen_tensors.contains(tensor) {
            return Ok(());
        }
        let dims = self
            .facts
            .get(tensor)
            .and_then(Fact::dims)
            .ok_or_else(|| format!("shape of `{tensor}` unknown"))?;
        if dims.len() < 2 || dims[1] as usize != self.group.channels {
            return Err(format!(
                "`{tensor}` ({dims:?}) does not carry the {} channels",
                self.group.channels
            ));
        }
        self.seen_tensors.insert(tensor.to_string());
        self.queue.push(tensor.to_string());
        Ok(())
    }

    fn slice(&mut self, tensor: &str, axis: usize) -> Result<(), String> {
        let w = weight(self.graph, self.data, tensor)
            .ok_or_else(|| format!("`{tensor}` is not a weight of the file"))?;
        self.group.slices.insert((w.into(), axis));
        Ok(())
    }

    /// A dense convolution writing the group's channels: its kernel and bias lose outputs.
    fn produce(&mut self, n: usize) -> Result<(), String> {
        let graph = self.graph;
        let node = &graph.node[n];
        let kernel = weight(graph, self.data, &node.input[1])
            .ok_or_else(|| format!("`{}`: kernel is not a weight", node.name))?;
        self.group.producers.push(kernel);
        self.slice(&node.input[1], 0)?;
        if let Some(bias) = node.input.get(2).filter(|b| !b.is_empty()) {
            self.slice(bias, 0)?;
        }
        Ok(())
    }

    fn visit(&mut self, n: usize, via: Via) -> Result<(), String> {
        let graph = self.graph;
        let node = &graph.node[n];
        // a dense convolution can read the group and (through a residual sum) also write it:
        // the two roles are visited apart
        let role = matches!(via, Via::Output)
            && node.op_type == "Conv"
            && int_attr(node, "group").unwrap_or(1) == 1;
        if !self.seen_nodes.insert((n, role)) {
            return Ok(());
        }
        let op = node.op_type.as_str();
        let refuse = || Err(format!("{op} `{}` mixes the channels", node.name));
        if !node.domain.is_empty() && node.domain != "ai.onnx" {
            return refuse();
        }
        match op {
            "Conv" => {
                let kernel = weight(graph, self.data, &node.input[1])
                    .and_then(|w| weight_dims(graph, w))
                    .ok_or_else(|| format!("`{}`: kernel dims unknown", node.name))?;
                let groups = int_attr(node, "group").unwrap_or(1);
                if groups == 1 {
                    match via {
                        Via::Output => self.produce(n),
                        Via::Input(t) if node.input[0] == t => self.slice(&node.input[1], 1),
                        Via::Input(_) => refuse(),
                    }
                } else if groups == kernel[0] && kernel[1] == 1 {
                    // depthwise: each channel to itself
                    self.group.depthwise.push(n);
                    self.slice(&node.input[1], 0)?;
                    if let Some(bias) = node.input.get(2).filter(|b| !b.is_empty()) {
                        self.slice(bias, 0)?;
                    }
                    self.join(&node.input[0])?;
                    self.join(&node.output[0])
                } else {
                    refuse()
                }
            }
            "BatchNormalization" | "InstanceNormalization" => {
                for param in node.input.iter().skip(1).filter(|p| !p.is_empty()) {
                    self.slice(param, 0)?;
                }
                self.join(&node.input[0])?;
                self.join(&node.output[0])
            }
            _ if PASS_THROUGH.contains(&op) => {
                // the other inputs (Clip's bounds, Resize's scales) must not be per channel,
                // and a Resize to explicit sizes spells the channel count
                let sizes = op == "Resize" && node.input.get(3).is_some_and(|s| !s.is_empty());
                if sizes {
                    return refuse();
                }
                for extra in node.input.iter().skip(1).filter(|p| !p.is_empty()) {
                    if !is_constant(graph, self.index, self.data, extra) {
                        return refuse();
                    }
                }
                self.join(&node.input[0])?;
                self.join(&node.output[0])
            }
            "ReduceMean" | "ReduceMax" | "Flatten" | "Squeeze" | "Reshape" => {
                // only as global pooling or its flattening: [N, C, 1, 1] ↔ [N, C]
                let input = self.facts.get(&node.input[0]).and_then(Fact::dims);
                let output = self.facts.get(&node.output[0]).and_then(Fact::dims);
                let (Some(input), Some(output)) = (input, output) else {
                    return refuse();
                };
                let spatial_gone =
                    |d: &[u64]| d.len() >= 2 && d[2..].iter().all(|&s| s == 1) || d.len() == 2;
                let pools = op.starts_with("Reduce") && spatial_gone(&output);
                let flattens = op != "Reshape" || reshape_keeps_channels(node, graph, self.index);
                if !(pools || (spatial_gone(&input) && output.len() == 2 && flattens))
                    || input[..2] != output[..2]
                {
                    return refuse();
                }
                if op.starts_with("Reduce") {
                    let axes = ints_attr(node, "axes").map(<[i64]>::to_vec);
                    if axes.is_some_and(|a| a.contains(&1) || a.contains(&0)) {
                        return refuse();
                    }
                }
                self.join(&node.input[0])?;
                self.join(&node.output[0])
            }
            "Gemm" | "MatMul" => {
                let Via::Input(t) = via else {
                    return refuse();
                };
                if node.input[0] != t || int_attr(node, "transA").unwrap_or(0) != 0 {
                    return refuse();
                }
                let axis = if op == "Gemm" && int_attr(node, "transB").unwrap_or(0) == 1 {
                    1
                } else {
                    0
                };
                self.slice(&node.input[1], axis)
            }
            _ if ELEMENTWISE.contains(&op) => {
                let rank = self
                    .facts
                    .get(&node.output[0])
                    .and_then(Fact::dims)
                    .map(|d| d.len())
                    .ok_or_else(|| format!("shape of `{}` unknown", node.output[0]))?;
                for input in node.input.iter().filter(|i| !i.is_empty()) {
                    if is_constant(graph, self.index, self.data, input) {
                        let dims = constant_dims(graph, self.index, self.data, input)
                            .ok_or_else(|| format!("`{input}`: dims unknown"))?;
                        // the constant's channel axis, aligned from the right
                        let axis = dims.len() as isize - (rank as isize - 1);
                        if axis >= 0 && dims[axis as usize] as usize == self.group.channels {
                            self.slice(input, axis as usize)?;
                        } else if axis >= 0 && dims[axis as usize] != 1 {
                            return refuse();
                        }
                    } else {
                        let dims = self.facts.get(input).and_then(Fact::dims);
                        match dims {
                            // a map broadcast over the channels (spatial attention) stays
                            Some(d) if d.len() == rank && d[1] == 1 => {}
                            _ => self.join(input)?,
                        }
                    }
                }
                self.join(&node.output[0])
            }
            _ => refuse(),
        }
    }
}

/// A `Reshape` to `[N, -1]` (or `[-1, C]`-free shapes): one that does not spell the channel count.
fn reshape_keeps_channels(
    node: &aiop_converter::onnx::proto::NodeProto,
    graph: &GraphProto,
    index: &Index,
) -> bool {
    let Some(shape) = node.input.get(1) else {
        return false;
    };
    let values = int_values(graph, index, shape);
    matches!(values.as_deref(), Some([_, -1]))
}

/// The values of a small int64 constant (an initializer or a `Constant` node's value).
fn int_values(graph: &GraphProto, index: &Index, name: &str) -> Option<Vec<i64>> {
    let t = match graph.initializer.iter().find(|t| t.name == name) {
        Some(t) => t,
        None => {
            let node = &graph.node[index.producer(name)?];
            if node.op_type != "Constant" {
                return None;
            }
            node.attribute
                .iter()
                .find(|a| a.name == "value")?
                .t
                .as_ref()?
        }
    };
    if t.data_type != 7 {
        return None;
    }
    if !t.raw_data.is_empty() {
        return Some(
            t.raw_data
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap_or_default()))
                .collect(),
        );
    }
    Some(t.int64_data.clone())
}

/// Keeps `keep` of the group's channels: those whose producing kernels have the largest L1
/// norm when the file holds the weights, else the first ones.
pub fn prune(graph: &mut GraphProto, group: &Group, keep: usize) -> Result<(), String> {
    if keep == 0 || keep >= group.channels {
        return Err(format!(
            "keep {keep} of {} channels: nothing to prune",
            group.channels
        ));
    }
    let norms: Option<Vec<Vec<f64>>> = group
        .producers
        .iter()
        .map(|&w| tensor::l1_per_output(graph, w))
        .collect();
    let mut kept: Vec<usize> = match norms {
        Some(norms) if norms.iter().all(|n| n.len() == group.channels) => {
            let mut order: Vec<usize> = (0..group.channels).collect();
            let total = |c: usize| norms.iter().map(|n| n[c]).sum::<f64>();
            order.sort_by(|&a, &b| total(b).total_cmp(&total(a)).then(a.cmp(&b)));
            order.truncate(keep);
            order
        }
        _ => (0..keep).collect(),
    };
    kept.sort_unstable();
    // a weight read and written by the group (x + conv(x)) is sliced along both axes
    for &(w, axis) in &group.slices {
        tensor::slice(graph, w.into(), axis, &kept)?;
    }
    for &n in &group.depthwise {
        set_int(&mut graph.node[n], "group", keep as i64);
    }
    Ok(())
}
