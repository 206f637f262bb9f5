//! The canonical CG: the graph an inference compiler would run, so that one network gives the
//! same CG whichever framework exported it (TensorFlow `.pb`, ONNX from PyTorch, tf2onnx, …).
//!
//! Exporters differ in plumbing and in how they spell a few layers, not in the network. These
//! rules, applied in order, remove the differences (patterns are matched on the graph's
//! structure; constant values are not part of the CG):
//!
//! 1. **Layout and type plumbing goes.** `Cast` nodes and 4-D transposes between channels-first
//!    and channels-last (permutation `[0,3,1,2]` or `[0,2,3,1]`) are dropped; their consumers
//!    read the transpose's input. (Keras on PyTorch wraps every convolution in two of them.)
//! 2. **Input preprocessing goes.** Element-wise arithmetic applied to a network input before
//!    anything else (Keras's `Rescaling` and `Normalization` layers) is not part of the
//!    architecture; exporters store its constants differently.
//! 3. **Activations are named.** `x · sigmoid(β·x)` loses its `β` multiplication (swish);
//!    `clip(x + a) · b` (or `/ b`) is a `hard_sigmoid` and `x · hard_sigmoid(x)` a
//!    `hard_swish`, as ONNX's `HardSigmoid` and `HardSwish` ops are; `x · (erf(x / c) + 1) · ½`
//!    (PyTorch's legacy exporter) is a `gelu`, as the `Gelu` op (opset 20, torch's dynamo
//!    exporter) is.
//! 4. **Per-channel affine chains are one batch norm.** A chain of `Mul`/`Add`/`Sub` nodes, each
//!    with one data input and a weight operand holding one value per channel, each the only
//!    consumer of the one before, is an inference-time batch norm however it was written:
//!    `x·s + b′` (TensorFlow), `(x − μ)·s + b` (PyTorch's exporter) or `BatchNormalization`. It
//!    becomes one `batch_norm` node with `2·C` parameters (scale and shift), the convention of
//!    ONNX `BatchNormalization` (running statistics are not trainable). A chain of only scales
//!    or only shifts keeps its first node's category and counts `C`.
//! 5. **Affine work after a convolution is folded into it.** Such a chain, or a batch norm, that
//!    is the only consumer of a convolution or linear layer is folded into that layer, as
//!    compilers fold batch norm into the weights: the layer gains a bias (`C` parameters, one
//!    FLOP per output) if it had none. TensorFlow's `Conv2D` + `BiasAdd` and ONNX's `Conv` with
//!    a bias input become the same node.
//! 6. **Padding before a convolution is the convolution's.** A `Pad` whose only consumer is a
//!    convolution is dropped (TensorFlow writes asymmetric `SAME` padding into the
//!    convolution, PyTorch's exporter as a separate `Pad`); the convolution's input shape
//!    becomes the unpadded one, as if it padded itself.
//! 7. **Shapes are channels-first.** Exporters that keep activations channels-last between
//!    layout transposes (tf2onnx, Keras on PyTorch, ConvNeXt's permutes) leave 4-D shapes as
//!    `[N, H, W, C]` on the nodes between them; those shapes are written `[N, C, H, W]`, the
//!    layout of ONNX's convolutions. The layout of each tensor is read off the graph before
//!    rule 1 drops the transposes: a channels-first ↔ channels-last transpose sets it, an input
//!    that a channels-last → channels-first transpose consumes is channels-last, convolutions,
//!    batch norms and pools produce channels-first, and every other op keeps its input's.
//!
//! 8. **A spatial mean is global average pooling.** A `ReduceMean` of an `[N, C, H, W]` tensor
//!    to `[N, C, 1, 1]` or `[N, C]` (torch's dynamo exporter, TensorFlow's `Mean`) is a
//!    `global_avg_pool` node, as ONNX's `GlobalAveragePool` is (applied after rule 7, on
//!    channels-first shapes).
//!
//! MACs are unchanged; FLOPs drop by the folded element-wise work.

use std::collections::{HashMap, HashSet};

use petgraph::Direction::{Incoming, Outgoing};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::stable_graph::StableDiGraph;

use super::{Cg, CgNode, OpCategory};

/// The CG being rewritten: node removal keeps the other indices.
type Editable = StableDiGraph<CgNode, ()>;

/// The canonical form of `cg` (rules in the module docs). Node order is kept.
pub fn canonicalize(cg: &Cg) -> Cg {
    let mut g = Editable::from(cg.graph.clone());
    let layouts = Layouts::of(&g);
    drop_plumbing(&mut g);
    drop_preprocessing(&mut g);
    name_activations(&mut g);
    fold_affine(&mut g);
    fold_padding(&mut g, &layouts);
    layouts.make_channels_first(&mut g);
    name_global_pooling(&mut g);
    Cg {
        name: cg.name.clone(),
        source: cg.source.clone(),
        graph: DiGraph::from(g),
        warnings: cg.warnings.clone(),
    }
}

/// Rule 1.
fn drop_plumbing(g: &mut Editable) {
    for i in order(g) {
        if is_plumbing(&g[i]) && only_pred(g, i).is_some() {
            splice(g, i);
        }
    }
}

/// Rule 2.
fn drop_preprocessing(g: &mut Editable) {
    let inputs: Vec<NodeIndex> = g
        .node_indices()
        .filter(|&i| g[i].op == OpCategory::Input)
        .collect();
    for input in inputs {
        while let Some(next) = only_consumer(g, input) {
            let arithmetic = matches!(
                g[next].op,
                OpCategory::Add | OpCategory::Sub | OpCategory::Mul | OpCategory::Div
            );
            if !arithmetic || only_pred(g, next) != Some(input) {
                break;
            }
            splice(g, next);
        }
    }
}

/// Rule 3.
fn name_activations(g: &mut Editable) {
    for i in order(g) {
        if !g.contains_node(i) {
            continue;
        }
        match g[i].op {
            OpCategory::Sigmoid => drop_swish_beta(g, i),
            OpCategory::Add => {
                if let Some(hard_sigmoid) = hard_sigmoid_at(g, i) {
                    g[i].op = OpCategory::HardSigmoid;
                    g[i].op_type = "HardSigmoid".into();
                    g[i].output_shape = g[hard_sigmoid[1]].output_shape.clone();
                    for victim in hard_sigmoid {
                        absorb(g, i, victim);
                    }
                    name_hard_swish(g, i);
                }
            }
            OpCategory::HardSigmoid => name_hard_swish(g, i),
            OpCategory::UnaryMath if g[i].op_type == "Erf" => name_erf_gelu(g, i),
            _ => {}
        }
    }
}

/// `x → Div|Mul(c) → Erf → Add(1) → Mul(x, ·) → Mul(½)` becomes one `gelu` node.
fn name_erf_gelu(g: &mut Editable, erf: NodeIndex) {
    let scalar_op = |g: &Editable, i: NodeIndex, ops: &[OpCategory]| {
        ops.contains(&g[i].op) && has_scalar_operand(&g[i])
    };
    let Some(scale) = only_pred(g, erf).filter(|&d| {
        scalar_op(g, d, &[OpCategory::Div, OpCategory::Mul]) && only_consumer(g, d) == Some(erf)
    }) else {
        return;
    };
    let Some(x) = only_pred(g, scale) else {
        return;
    };
    let Some(plus_one) = only_consumer(g, erf).filter(|&a| scalar_op(g, a, &[OpCategory::Add]))
    else {
        return;
    };
    let Some(product) = only_consumer(g, plus_one).filter(|&m| is_product_of(g, m, x, plus_one))
    else {
        return;
    };
    let Some(half) = only_consumer(g, product).filter(|&h| {
        scalar_op(g, h, &[OpCategory::Mul, OpCategory::Div]) && only_pred(g, h) == Some(product)
    }) else {
        return;
    };
    g[scale].op = OpCategory::Gelu;
    g[scale].op_type = "Gelu".into();
    g[scale].weight_shape.clear();
    g[scale].output_shape = g[half].output_shape.clone();
    // one FLOP per element, as the `Gelu` op costs
    for victim in [erf, plus_one, product, half] {
        absorb(g, scale, victim);
    }
}

/// Rule 8.
fn name_global_pooling(g: &mut Editable) {
    let nodes: Vec<NodeIndex> = g.node_indices().collect();
    for i in nodes {
        let n = &mut g[i];
        let (x, y) = (&n.input_shape, &n.output_shape);
        let spatial_mean = n.op_type == "ReduceMean"
            && x.len() == 4
            && (y.len() == 2 || (y.len() == 4 && y[2] == 1 && y[3] == 1))
            && y[..2] == x[..2];
        if spatial_mean {
            n.op = OpCategory::GlobalAvgPool;
            n.op_type = "GlobalAveragePool".into();
        }
    }
}

/// `x → Mul(β) → Sigmoid → Mul(x, ·)`: the `β` multiplication goes.
fn drop_swish_beta(g: &mut Editable, sigmoid: NodeIndex) {
    let Some(beta) = only_pred(g, sigmoid) else {
        return;
    };
    if g[beta].op != OpCategory::Mul || !has_scalar_operand(&g[beta]) {
        return;
    }
    let (Some(x), Some(product)) = (only_pred(g, beta), only_consumer(g, sigmoid)) else {
        return;
    };
    if only_consumer(g, beta) == Some(sigmoid) && is_product_of(g, product, x, sigmoid) {
        splice(g, beta);
    }
}

/// The nodes after `add` of `Add(a) → Clip → Mul|Div(b)`, if `add` starts that pattern.
fn hard_sigmoid_at(g: &Editable, add: NodeIndex) -> Option<[NodeIndex; 2]> {
    only_pred(g, add)?;
    if !has_scalar_operand(&g[add]) {
        return None;
    }
    let clip = only_consumer(g, add).filter(|&c| g[c].op == OpCategory::Clip)?;
    let scale = only_consumer(g, clip)?;
    let scales = matches!(g[scale].op, OpCategory::Mul | OpCategory::Div);
    (scales && only_pred(g, scale) == Some(clip) && has_scalar_operand(&g[scale]))
        .then_some([clip, scale])
}

/// `x → HardSigmoid → Mul(x, ·)` becomes one `hard_swish` node.
fn name_hard_swish(g: &mut Editable, hard_sigmoid: NodeIndex) {
    let (Some(x), Some(product)) = (only_pred(g, hard_sigmoid), only_consumer(g, hard_sigmoid))
    else {
        return;
    };
    if is_product_of(g, product, x, hard_sigmoid) {
        g[hard_sigmoid].op = OpCategory::HardSwish;
        g[hard_sigmoid].op_type = "HardSwish".into();
        absorb(g, hard_sigmoid, product);
    }
}

/// Whether `node` is a `Mul` of exactly `a` and `b`.
fn is_product_of(g: &Editable, node: NodeIndex, a: NodeIndex, b: NodeIndex) -> bool {
    let mut preds: Vec<NodeIndex> = g.neighbors_directed(node, Incoming).collect();
    preds.sort_unstable();
    preds.dedup();
    let mut expected = vec![a, b];
    expected.sort_unstable();
    g[node].op == OpCategory::Mul && preds == expected
}

/// Rules 4 and 5.
fn fold_affine(g: &mut Editable) {
    for i in order(g) {
        let Some(kind) = affine_kind(&g[i]) else {
            continue;
        };
        let channels = channels_of(&g[i]);
        if let Some(pred) = only_pred(g, i)
            && only_consumer(g, pred) == Some(i)
            && (is_foldable_host(&g[pred]) || affine_kind(&g[pred]).is_some())
        {
            let mut fold = Fold::of(&g[pred]);
            fold.add(kind, channels);
            fold.apply(&mut g[pred]);
            absorb(g, pred, i);
        } else {
            let fold = Fold::of(&g[i]);
            fold.apply(&mut g[i]);
        }
    }
}

/// Rule 6.
fn fold_padding(g: &mut Editable, layouts: &Layouts) {
    for i in order(g) {
        let Some(conv) = only_consumer(g, i)
            .filter(|&c| matches!(g[c].op, OpCategory::Conv | OpCategory::DepthwiseConv))
        else {
            continue;
        };
        if g[i].op == OpCategory::Pad && only_pred(g, i).is_some() {
            let unpadded = &g[i].input_shape;
            let (from, to) = (layouts.input_last(i), layouts.input_last(conv));
            g[conv].input_shape = if from == to {
                unpadded.clone()
            } else if from {
                channels_first(unpadded)
            } else {
                channels_last(unpadded)
            };
            splice(g, i);
        }
    }
}

/// Rule 7: which nodes read and write channels-last 4-D tensors, from the original graph.
struct Layouts {
    /// Node → (its first input is channels-last, its output is channels-last).
    last: HashMap<NodeIndex, (bool, bool)>,
}

impl Layouts {
    fn of(g: &Editable) -> Layouts {
        // what a channels-last → channels-first transpose reads is channels-last, and so is
        // what feeds it through layout-neutral ops (an input's preprocessing, a reshape)
        let mut feeds_transpose: HashSet<NodeIndex> = HashSet::new();
        let mut stack: Vec<NodeIndex> = g
            .node_indices()
            .filter(|&t| to_channels_first(&g[t]))
            .flat_map(|t| g.neighbors_directed(t, Incoming))
            .collect();
        while let Some(n) = stack.pop() {
            if g[n].output_shape.len() == 4 && keeps_layout(&g[n]) && feeds_transpose.insert(n) {
                stack.extend(g.neighbors_directed(n, Incoming));
            }
        }
        let mut last: HashMap<NodeIndex, (bool, bool)> = HashMap::new();
        for i in order(g) {
            let node = &g[i];
            let first = g.neighbors_directed(i, Incoming).min();
            let input = first.is_some_and(|p| last.get(&p).is_some_and(|l| l.1));
            let output = node.output_shape.len() == 4
                && if node.op_type == "Transpose" {
                    to_channels_last(node)
                } else {
                    keeps_layout(node) && (input || feeds_transpose.contains(&i))
                };
            last.insert(i, (input && node.input_shape.len() == 4, output));
        }
        Layouts { last }
    }

    /// Whether the first input of `i` is channels-last.
    fn input_last(&self, i: NodeIndex) -> bool {
        self.last.get(&i).is_some_and(|l| l.0)
    }

    /// Writes the shapes of channels-last tensors channels-first.
    fn make_channels_first(&self, g: &mut Editable) {
        let nodes: Vec<NodeIndex> = g.node_indices().collect();
        for i in nodes {
            let (input, output) = self.last.get(&i).copied().unwrap_or_default();
            let node = &mut g[i];
            if input {
                node.input_shape = channels_first(&node.input_shape);
            }
            if output {
                node.output_shape = channels_first(&node.output_shape);
            }
        }
    }
}

/// Whether `node` writes its output in its input's layout: not a transpose, and not one of
/// the ops whose ONNX semantics are channels-first (convolutions, batch norms, pools).
fn keeps_layout(node: &CgNode) -> bool {
    node.op_type != "Transpose"
        && !matches!(
            node.op,
            OpCategory::Conv
                | OpCategory::DepthwiseConv
                | OpCategory::ConvTranspose
                | OpCategory::BatchNorm
                | OpCategory::MaxPool
                | OpCategory::AvgPool
                | OpCategory::GlobalMaxPool
                | OpCategory::GlobalAvgPool
        )
}

/// `[N, H, W, C]` → `[N, C, H, W]` (other ranks unchanged).
fn channels_first(shape: &[i64]) -> Vec<i64> {
    match shape {
        &[n, h, w, c] => vec![n, c, h, w],
        _ => shape.to_vec(),
    }
}

/// `[N, C, H, W]` → `[N, H, W, C]` (other ranks unchanged).
fn channels_last(shape: &[i64]) -> Vec<i64> {
    match shape {
        &[n, c, h, w] => vec![n, h, w, c],
        _ => shape.to_vec(),
    }
}

/// Node indices in a topological order (the builder adds nodes in one; this does not rely on it).
fn order(g: &Editable) -> Vec<NodeIndex> {
    petgraph::algo::toposort(g, None).unwrap_or_else(|_| g.node_indices().collect())
}

/// The one distinct data predecessor of `i`, if it has exactly one.
fn only_pred(g: &Editable, i: NodeIndex) -> Option<NodeIndex> {
    single(g.neighbors_directed(i, Incoming))
}

/// The one distinct consumer of `i`, if it has exactly one.
fn only_consumer(g: &Editable, i: NodeIndex) -> Option<NodeIndex> {
    single(g.neighbors_directed(i, Outgoing))
}

fn single(mut nodes: impl Iterator<Item = NodeIndex>) -> Option<NodeIndex> {
    let first = nodes.next()?;
    nodes.all(|n| n == first).then_some(first)
}

/// Removes `i`; its predecessors feed its consumers directly.
fn splice(g: &mut Editable, i: NodeIndex) {
    let preds: Vec<NodeIndex> = g.neighbors_directed(i, Incoming).collect();
    let consumers: Vec<NodeIndex> = g.neighbors_directed(i, Outgoing).collect();
    for &p in &preds {
        for &c in &consumers {
            g.update_edge(p, c, ());
        }
    }
    g.remove_node(i);
}

/// Merges `victim` into `keep`: `keep` feeds the victim's consumers.
fn absorb(g: &mut Editable, keep: NodeIndex, victim: NodeIndex) {
    let consumers: Vec<NodeIndex> = g.neighbors_directed(victim, Outgoing).collect();
    for c in consumers {
        if c != keep {
            g.update_edge(keep, c, ());
        }
    }
    g.remove_node(victim);
}

/// Casts and channels-first ↔ channels-last transposes of 4-D tensors.
fn is_plumbing(node: &CgNode) -> bool {
    match node.op_type.as_str() {
        "Cast" | "CastLike" => true,
        "Transpose" => to_channels_first(node) || to_channels_last(node),
        _ => false,
    }
}

/// Whether the 4-D transpose `node` permutes its input by `p`.
fn permutes(node: &CgNode, p: [usize; 4]) -> bool {
    let (i, o) = (&node.input_shape, &node.output_shape);
    i.len() == 4 && o.len() == 4 && (0..4).all(|k| o[k] == i[p[k]])
}

/// A channels-last → channels-first transpose (`[0, 3, 1, 2]`).
fn to_channels_first(node: &CgNode) -> bool {
    node.op_type == "Transpose" && permutes(node, [0, 3, 1, 2])
}

/// A channels-first → channels-last transpose (`[0, 2, 3, 1]`).
fn to_channels_last(node: &CgNode) -> bool {
    node.op_type == "Transpose" && permutes(node, [0, 2, 3, 1])
}

/// Whether the node's other operand is a single value (a constant of the arithmetic).
fn has_scalar_operand(node: &CgNode) -> bool {
    node.weight_shape.iter().all(|&d| d == 1)
}

/// Whether an affine op scales or shifts.
#[derive(Clone, Copy)]
enum Affine {
    Scale,
    Shift,
    /// A `BatchNormalization` node: both.
    Both,
}

/// The affine role of a node with a per-channel weight (more than one channel), if it has one.
fn affine_kind(node: &CgNode) -> Option<Affine> {
    let kind = match node.op {
        OpCategory::BatchNorm => return Some(Affine::Both),
        OpCategory::Mul => Affine::Scale,
        OpCategory::Add | OpCategory::Sub => Affine::Shift,
        _ => return None,
    };
    per_channel_width(node).filter(|&c| c > 1).map(|_| kind)
}

/// The channel count of a weight operand that broadcasts along one axis of the output only
/// (`1` for a single value), or `None` for anything else (a positional embedding, …).
fn per_channel_width(node: &CgNode) -> Option<u64> {
    let w = &node.weight_shape;
    if w.is_empty() || w.len() > node.output_shape.len() {
        return None;
    }
    let offset = node.output_shape.len() - w.len();
    let mut width = 1u64;
    for (k, &d) in w.iter().enumerate() {
        if d != 1 {
            if width != 1 || i64::try_from(d).ok() != Some(node.output_shape[offset + k]) {
                return None;
            }
            width = d;
        }
    }
    Some(width)
}

/// Layers that absorb a following batch norm or bias.
fn is_foldable_host(node: &CgNode) -> bool {
    matches!(
        node.op,
        OpCategory::Conv
            | OpCategory::DepthwiseConv
            | OpCategory::ConvTranspose
            | OpCategory::Linear
    )
}

/// The affine work folded into one kept node, read back from and written to the node.
struct Fold {
    /// The kept node is a convolution or linear layer (rule 5).
    into_layer: bool,
    scale: bool,
    shift: bool,
    /// Affine ops in the group, the kept node included when it is one.
    ops: usize,
    /// Channel count of the widest weight seen.
    channels: u64,
}

impl Fold {
    /// The fold a node stands for so far: a layer, a canonical batch norm or one affine op.
    fn of(node: &CgNode) -> Fold {
        let mut fold = Fold {
            into_layer: is_foldable_host(node),
            scale: false,
            shift: false,
            ops: 0,
            channels: 0,
        };
        if let Some(kind) = affine_kind(node) {
            fold.add(kind, channels_of(node));
        }
        fold
    }

    fn add(&mut self, kind: Affine, channels: u64) {
        self.ops += 1;
        self.channels = self.channels.max(channels);
        match kind {
            Affine::Scale => self.scale = true,
            Affine::Shift => self.shift = true,
            Affine::Both => {
                self.scale = true;
                self.shift = true;
            }
        }
    }

    /// Rewrites the kept node: a layer with a bias, a batch norm, or the node as it was.
    fn apply(&self, node: &mut CgNode) {
        // a CG file may hold any shape: negative dims count nothing, huge ones saturate
        let outputs = node
            .output_shape
            .iter()
            .try_fold(1u64, |n, &d| Some(n.saturating_mul(u64::try_from(d).ok()?)))
            .unwrap_or(0);
        if self.into_layer {
            if self.shift && !node.bias {
                node.bias = true;
                node.params = node.params.saturating_add(out_channels(node));
                node.flops = node.flops.saturating_add(outputs);
            }
            return;
        }
        let both = self.scale && self.shift;
        if both {
            node.op = OpCategory::BatchNorm;
            node.op_type = "BatchNormalization".into();
            node.weight_shape = vec![self.channels];
            node.flops = outputs.saturating_mul(2);
        }
        if self.ops > 1 || both {
            let terms = u64::from(self.scale) + u64::from(self.shift);
            node.params = self.channels.saturating_mul(terms);
        }
    }
}

/// Channel count of an affine node's weight (a batch norm's output channels).
fn channels_of(node: &CgNode) -> u64 {
    match node.op {
        OpCategory::BatchNorm if node.weight_shape.len() == 1 => node.weight_shape[0],
        OpCategory::BatchNorm => u64::try_from(CgNode::hwc(&node.output_shape).2).unwrap_or(0),
        _ => per_channel_width(node).unwrap_or(0),
    }
}

/// Output channels of a convolution or linear layer (the size of its bias).
fn out_channels(node: &CgNode) -> u64 {
    match node.op {
        OpCategory::ConvTranspose => node
            .weight_shape
            .get(1)
            .map_or(0, |c| c.saturating_mul(node.groups)),
        OpCategory::Linear => node
            .output_shape
            .last()
            .and_then(|c| u64::try_from(*c).ok())
            .unwrap_or(0),
        _ => node.weight_shape.first().copied().unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small CG under construction: nodes are chained by `then` or joined by `join`.
    struct Builder(Cg);

    impl Builder {
        fn new(input_shape: &[i64]) -> (Builder, NodeIndex) {
            let mut cg = Cg::default();
            let mut input = CgNode::new("input", OpCategory::Input, "Input");
            input.output_shape = input_shape.to_vec();
            let i = cg.add_node(input);
            (Builder(cg), i)
        }

        fn node(&mut self, op_type: &str, shape: &[i64], weight: &[u64], params: u64) -> CgNode {
            let mut n = CgNode::new(op_type, OpCategory::of(op_type), op_type);
            n.output_shape = shape.to_vec();
            n.weight_shape = weight.to_vec();
            n.params = params;
            n
        }

        fn then(
            &mut self,
            from: NodeIndex,
            op_type: &str,
            shape: &[i64],
            weight: &[u64],
        ) -> NodeIndex {
            self.join(&[from], op_type, shape, weight)
        }

        fn join(
            &mut self,
            from: &[NodeIndex],
            op_type: &str,
            shape: &[i64],
            weight: &[u64],
        ) -> NodeIndex {
            let params = weight.iter().product::<u64>() * u64::from(!weight.is_empty());
            let mut n = self.node(op_type, shape, weight, params);
            n.input_shape = self.0.graph[from[0]].output_shape.clone();
            let i = self.0.add_node(n);
            for &f in from {
                self.0.graph.add_edge(f, i, ());
            }
            i
        }

        fn ops(&self) -> Vec<&'static str> {
            canonicalize(&self.0).nodes().map(|n| n.op.name()).collect()
        }
    }

    const NCHW: [i64; 4] = [1, 8, 4, 4];
    const NHWC: [i64; 4] = [1, 4, 4, 8];

    #[test]
    fn decomposed_batch_norm_behind_a_transpose_folds_into_the_convolution() {
        let (mut b, x) = Builder::new(&[1, 3, 4, 4]);
        let conv = b.then(x, "Conv", &NCHW, &[8, 3, 3, 3]);
        let t = b.then(conv, "Transpose", &NHWC, &[]);
        let sub = b.then(t, "Sub", &NHWC, &[8]);
        let mul = b.then(sub, "Mul", &NHWC, &[8]);
        let add = b.then(mul, "Add", &NHWC, &[8]);
        b.then(add, "Relu", &NHWC, &[]);
        let canonical = canonicalize(&b.0);
        assert_eq!(b.ops(), ["input", "conv", "relu"]);
        let conv = canonical.nodes().nth(1).expect("conv");
        assert!(conv.bias);
        assert_eq!(conv.params, 8 * 3 * 3 * 3 + 8);
        assert_eq!(canonical.edge_count(), 2);
        let relu = canonical.nodes().nth(2).expect("relu");
        assert_eq!(
            (&relu.input_shape[..], &relu.output_shape[..]),
            (&NCHW[..], &NCHW[..])
        );
    }

    /// tf2onnx's layout: a channels-last input and activations between transposes around
    /// every convolution give the shapes of the channels-first export.
    #[test]
    fn channels_last_segments_get_channels_first_shapes() {
        let (mut b, x) = Builder::new(&[1, 8, 8, 3]);
        let t = b.then(x, "Transpose", &[1, 3, 8, 8], &[]);
        let pad = b.then(t, "Pad", &[1, 3, 9, 9], &[]);
        let conv = b.then(pad, "Conv", &[1, 8, 4, 4], &[8, 3, 3, 3]);
        let t = b.then(conv, "Transpose", &NHWC, &[]);
        let relu = b.then(t, "Relu", &NHWC, &[]);
        let add = b.join(&[relu, t], "Add", &NHWC, &[]);
        let t = b.then(add, "Transpose", &NCHW, &[]);
        b.then(t, "GlobalAveragePool", &[1, 8, 1, 1], &[]);
        let canonical = canonicalize(&b.0);
        assert_eq!(b.ops(), ["input", "conv", "relu", "add", "global_avg_pool"]);
        let shapes: Vec<(Vec<i64>, Vec<i64>)> = canonical
            .nodes()
            .map(|n| (n.input_shape.clone(), n.output_shape.clone()))
            .collect();
        assert_eq!(shapes[0].1, [1, 3, 8, 8], "input");
        assert_eq!(shapes[1].0, [1, 3, 8, 8], "conv reads the unpadded input");
        for (input, output) in &shapes[2..4] {
            assert_eq!((&input[..], &output[..]), (&NCHW[..], &NCHW[..]));
        }
        assert_eq!(shapes[4].0, NCHW, "pool");
        assert_eq!(canonical.resolution(), 8);
    }

    #[test]
    fn affine_chain_after_an_add_is_one_batch_norm_with_scale_and_shift() {
        let (mut b, x) = Builder::new(&NCHW);
        let relu = b.then(x, "Relu", &NCHW, &[]);
        let add = b.join(&[x, relu], "Add", &NCHW, &[]);
        let mul = b.then(add, "Mul", &NCHW, &[8, 1, 1]);
        b.then(mul, "Add", &NCHW, &[8, 1, 1]);
        let canonical = canonicalize(&b.0);
        assert_eq!(b.ops(), ["input", "relu", "add", "batch_norm"]);
        assert_eq!(canonical.params(), 16);
    }

    #[test]
    fn a_lone_per_channel_scale_and_an_embedding_add_stay() {
        let (mut b, x) = Builder::new(&[1, 197, 768]);
        let gelu = b.then(x, "Gelu", &[1, 197, 768], &[]);
        let scale = b.then(gelu, "Mul", &[1, 197, 768], &[768]);
        b.then(scale, "Add", &[1, 197, 768], &[1, 197, 768]);
        assert_eq!(b.ops(), ["input", "gelu", "mul", "add"]);
        assert_eq!(canonicalize(&b.0).params(), b.0.params());
    }

    #[test]
    fn hard_swish_and_hard_sigmoid_are_named_and_se_gates_keep_their_product() {
        let (mut b, x) = Builder::new(&NCHW);
        let conv = b.then(x, "Conv", &NCHW, &[8, 8, 1, 1]);
        let relu = b.then(conv, "Relu", &NCHW, &[]);
        // hard swish: relu · clip(relu + 3) / 6
        let add = b.then(relu, "Add", &NCHW, &[]);
        let clip = b.then(add, "Clip", &NCHW, &[]);
        let div = b.then(clip, "Div", &NCHW, &[]);
        let hswish = b.join(&[relu, div], "Mul", &NCHW, &[]);
        // squeeze-excite gate: hswish · hard_sigmoid(pool(hswish))
        let pool = b.then(hswish, "GlobalAveragePool", &[1, 8, 1, 1], &[]);
        let add = b.then(pool, "Add", &[1, 8, 1, 1], &[1]);
        let clip = b.then(add, "Clip", &[1, 8, 1, 1], &[]);
        let gate = b.then(clip, "Mul", &[1, 8, 1, 1], &[]);
        b.join(&[hswish, gate], "Mul", &NCHW, &[]);
        assert_eq!(
            b.ops(),
            [
                "input",
                "conv",
                "relu",
                "hard_swish",
                "global_avg_pool",
                "hard_sigmoid",
                "mul"
            ]
        );
    }

    #[test]
    fn swish_beta_goes() {
        let (mut b, x) = Builder::new(&NCHW);
        let conv = b.then(x, "Conv", &NCHW, &[8, 8, 1, 1]);
        let beta = b.then(conv, "Mul", &NCHW, &[]);
        let sigmoid = b.then(beta, "Sigmoid", &NCHW, &[]);
        b.join(&[conv, sigmoid], "Mul", &NCHW, &[]);
        assert_eq!(b.ops(), ["input", "conv", "sigmoid", "mul"]);
    }

    #[test]
    fn input_preprocessing_and_padding_before_convolutions_go_but_not_before_pooling() {
        let (mut b, x) = Builder::new(&[1, 3, 8, 8]);
        let rescale = b.then(x, "Mul", &[1, 3, 8, 8], &[]);
        let normalize = b.then(rescale, "Sub", &[1, 3, 8, 8], &[3, 1, 1]);
        let pad = b.then(normalize, "Pad", &[1, 3, 9, 9], &[]);
        let conv = b.then(pad, "Conv", &[1, 8, 4, 4], &[8, 3, 3, 3]);
        let pad = b.then(conv, "Pad", &[1, 8, 6, 6], &[]);
        b.then(pad, "MaxPool", &[1, 8, 3, 3], &[]);
        assert_eq!(b.ops(), ["input", "conv", "pad", "max_pool"]);
        let conv = canonicalize(&b.0).nodes().nth(1).expect("conv").clone();
        assert_eq!(
            conv.input_shape,
            [1, 3, 8, 8],
            "the padding is the convolution's"
        );
    }

    #[test]
    fn other_transposes_and_shared_activations_are_kept() {
        let (mut b, x) = Builder::new(&[1, 8, 4, 2]);
        let t = b.then(x, "Transpose", &[1, 4, 8, 2], &[]);
        let conv = b.then(t, "Conv", &[1, 8, 8, 2], &[8, 4, 1, 1]);
        // the convolution has two consumers: its bias add cannot be folded
        let bias = b.then(conv, "Add", &[1, 8, 8, 2], &[8, 1, 1]);
        b.join(&[conv, bias], "Add", &[1, 8, 8, 2], &[]);
        assert_eq!(b.ops(), ["input", "transpose", "conv", "add", "add"]);
    }
}
