//! The native backend: the predictor computed straight from its weights in Rust — an
//! embedding lookup, dense layers (matrixmultiply's `sgemm`), sums over in-neighbours and over
//! a graph's nodes, ReLU — the same function as the exported ONNX graph ([`crate::graph`]),
//! with three differences that make it fast:
//!
//! - nothing to plan: loading reads the weights into place (microseconds), where an ONNX
//!   runtime optimises a plan per input shape first;
//! - only the asked columns: a task's output needs the backbone and its head or adapter, not
//!   the other adapters (the mean-of-adapters column needs them all);
//! - message passing without padding: each k-GNN layer multiplies the node rows once by the
//!   root and neighbour weights side by side, then adds each node's in-neighbours' rows of the
//!   second half (`W·Σx = Σ W·x`), over the graph's edge list.
//!
//! Sums are in `f32` in another order than ONNX runtimes', so scores agree with theirs (and
//! with libtorch) to rounding, well within the 1e-4 every backend is held to.

use matrixmultiply::sgemm;

use crate::bundle::BundleError;
use crate::encoding::{EncodedGraph, NUMERIC_FEATURES};
use crate::graph::{Architecture, Weights, member_prefix, members};

/// A dense layer `y = x · Wᵀ + b`.
struct Dense {
    /// `[outputs, inputs]`, row-major.
    weight: Vec<f32>,
    bias: Vec<f32>,
    inputs: usize,
    outputs: usize,
}

impl Dense {
    /// The layer `prefix` (`prefix.weight`, `prefix.bias`) taking `inputs` columns.
    fn read(weights: &Weights, prefix: &str, inputs: usize) -> Result<Dense, BundleError> {
        let weight = take(weights, &format!("{prefix}.weight"))?;
        let bias = take(weights, &format!("{prefix}.bias"))?;
        Dense::new(weight, bias, inputs, prefix)
    }

    fn new(
        weight: Vec<f32>,
        bias: Vec<f32>,
        inputs: usize,
        name: &str,
    ) -> Result<Dense, BundleError> {
        let outputs = bias.len();
        if outputs == 0 || weight.len() != outputs * inputs {
            return Err(BundleError::NotAPredictor(format!(
                "`{name}`: {} weights and {outputs} biases for {inputs} inputs",
                weight.len()
            )));
        }
        Ok(Dense {
            weight,
            bias,
            inputs,
            outputs,
        })
    }

    /// `x` (`rows × inputs`) through the layer into `out` (`rows × outputs`), ReLU'd when
    /// `relu`.
    fn forward(&self, x: &[f32], rows: usize, relu: bool, out: &mut Vec<f32>) {
        out.clear();
        for _ in 0..rows {
            out.extend_from_slice(&self.bias);
        }
        matmul_transposed(x, rows, self.inputs, &self.weight, self.outputs, out);
        if relu {
            out.iter_mut().for_each(|v| *v = v.max(0.0));
        }
    }
}

/// `c += a · bᵀ` for `a` `[m, k]`, `b` `[n, k]` and `c` `[m, n]`, all row-major.
fn matmul_transposed(a: &[f32], m: usize, k: usize, b: &[f32], n: usize, c: &mut [f32]) {
    assert!(a.len() >= m * k && b.len() >= n * k && c.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: the assertion above keeps every access of sgemm (rows of `a` and `c`, rows of `b`
    // read as columns of bᵀ) inside the slices; `c` does not alias `a` or `b` (a `&mut`).
    unsafe {
        sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            1,
            k as isize,
            1.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

/// A k-GNN layer: `relu(W_root · x_v + W_neighbours · Σ_{u → v} x_u + b)`, both weights in one
/// dense layer of twice the width (the bias only on the root half).
struct Gnn {
    stacked: Dense,
    bias: Vec<f32>,
    width: usize,
}

impl Gnn {
    fn read(weights: &Weights, prefix: &str, inputs: usize) -> Result<Gnn, BundleError> {
        let mut stacked = take(weights, &format!("{prefix}.root.weight"))?;
        stacked.extend(take(weights, &format!("{prefix}.neighbours.weight"))?);
        let bias = take(weights, &format!("{prefix}.neighbours.bias"))?;
        let width = bias.len();
        let zeros = vec![0.0; 2 * width];
        Ok(Gnn {
            stacked: Dense::new(stacked, zeros, inputs, prefix)?,
            bias,
            width,
        })
    }

    /// The layer on node rows `x` of `graph` into `out`; `scratch` holds the products.
    fn forward(&self, x: &[f32], graph: &Adjacency, scratch: &mut Vec<f32>, out: &mut Vec<f32>) {
        let (n, h) = (graph.nodes, self.width);
        self.stacked.forward(x, n, false, scratch);
        out.clear();
        out.resize(n * h, 0.0);
        for v in 0..n {
            let row = &mut out[v * h..(v + 1) * h];
            let own = &scratch[v * 2 * h..v * 2 * h + h];
            for ((o, &r), &b) in row.iter_mut().zip(own).zip(&self.bias) {
                *o = r + b;
            }
            for &u in graph.producers(v) {
                let start = u as usize * 2 * h + h;
                for (o, &m) in row.iter_mut().zip(&scratch[start..start + h]) {
                    *o += m;
                }
            }
            row.iter_mut().for_each(|o| *o = o.max(0.0));
        }
    }
}

/// An MLP: hidden layers with ReLU, then one output.
struct Mlp {
    hidden: Vec<Dense>,
    out: Dense,
}

impl Mlp {
    fn read(
        weights: &Weights,
        prefix: &str,
        layers: usize,
        inputs: usize,
    ) -> Result<Mlp, BundleError> {
        let mut hidden = Vec::with_capacity(layers);
        let mut width = inputs;
        for i in 0..layers {
            let layer = Dense::read(weights, &format!("{prefix}.fc{i}"), width)?;
            width = layer.outputs;
            hidden.push(layer);
        }
        let out = Dense::read(weights, &format!("{prefix}.out"), width)?;
        if out.outputs != 1 {
            return Err(BundleError::NotAPredictor(format!(
                "`{prefix}.out` has {} outputs",
                out.outputs
            )));
        }
        Ok(Mlp { hidden, out })
    }

    fn forward(&self, x: &[f32]) -> f32 {
        let (mut h, mut next) = (x.to_vec(), Vec::new());
        for layer in &self.hidden {
            layer.forward(&h, 1, true, &mut next);
            std::mem::swap(&mut h, &mut next);
        }
        self.out.forward(&h, 1, false, &mut next);
        next[0]
    }
}

/// A K-Adapter: k-GNN layers reading its own rows beside the backbone's, and its head.
struct Adapter {
    layers: Vec<Gnn>,
    head: Mlp,
}

/// One predictor of the ensemble.
struct Member {
    /// `[categories, hidden]`.
    embedding: Vec<f32>,
    numeric: Dense,
    backbone: Vec<Gnn>,
    head: Mlp,
    adapters: Vec<Adapter>,
}

impl Member {
    fn read(weights: &Weights, prefix: &str, arch: Architecture) -> Result<Member, BundleError> {
        let h = usize::try_from(arch.hidden).unwrap_or(0);
        let embedding = take(weights, &format!("{prefix}backbone.op_embedding.weight"))?;
        let numeric = Dense::read(
            weights,
            &format!("{prefix}backbone.numeric_embedding"),
            NUMERIC_FEATURES,
        )?;
        let backbone = (0..arch.gnn_layers)
            .map(|i| Gnn::read(weights, &format!("{prefix}backbone.gnn{i}"), h))
            .collect::<Result<Vec<_>, _>>()?;
        let readout = h + NUMERIC_FEATURES;
        let head = Mlp::read(weights, &format!("{prefix}head"), arch.mlp_layers, readout)?;
        let adapters = (0..arch.adapters)
            .map(|k| {
                let p = format!("{prefix}adapter{k}");
                Ok(Adapter {
                    layers: (0..arch.gnn_layers)
                        .map(|i| Gnn::read(weights, &format!("{p}.gnn{i}"), 2 * h))
                        .collect::<Result<Vec<_>, BundleError>>()?,
                    head: Mlp::read(weights, &format!("{p}.head"), arch.mlp_layers, h + readout)?,
                })
            })
            .collect::<Result<Vec<_>, BundleError>>()?;
        let widths_agree = numeric.outputs == h
            && embedding.len() % h.max(1) == 0
            && backbone.iter().all(|g| g.width == h)
            && adapters
                .iter()
                .all(|a| a.layers.iter().all(|g| g.width == h));
        if h == 0 || !widths_agree {
            return Err(BundleError::NotAPredictor(format!(
                "member `{prefix}`: layers of different widths"
            )));
        }
        Ok(Member {
            embedding,
            numeric,
            backbone,
            head,
            adapters,
        })
    }

    /// This member's scores of `graph` for `wanted` columns (head, each adapter, their mean),
    /// added into `sums`.
    fn add_scores(
        &self,
        graph: &EncodedGraph,
        adjacency: &Adjacency,
        wanted: &Wanted,
        sums: &mut [f32],
    ) -> Result<(), String> {
        let n = adjacency.nodes;
        let h = self.numeric.outputs;
        let categories = self.embedding.len() / h;
        // layer 0: op embedding + numeric embedding
        let mut x0 = Vec::new();
        self.numeric.forward(&graph.numeric, n, false, &mut x0);
        for (v, &op) in graph.ops.iter().enumerate() {
            let op = usize::from(op);
            if op >= categories {
                return Err(format!("node {v} has op category {op} of {categories}"));
            }
            let row = &self.embedding[op * h..(op + 1) * h];
            for (x, &e) in x0[v * h..(v + 1) * h].iter_mut().zip(row) {
                *x += e;
            }
        }
        let mut layers = vec![x0];
        let mut scratch = Vec::new();
        for gnn in &self.backbone {
            let mut next = Vec::new();
            gnn.forward(
                layers.last().expect("layer 0"),
                adjacency,
                &mut scratch,
                &mut next,
            );
            layers.push(next);
        }
        let mut readout = mean_rows(layers.last().expect("layer 0"), n, h);
        readout.extend(mean_rows(&graph.numeric, n, NUMERIC_FEATURES));
        if wanted.head {
            sums[0] += self.head.forward(&readout);
        }
        let mut adapter_total = 0.0f32;
        let (mut joined, mut a, mut next) = (Vec::new(), Vec::new(), Vec::new());
        for (k, adapter) in self.adapters.iter().enumerate() {
            if !wanted.adapter(k) {
                continue;
            }
            a.clone_from(&layers[0]);
            for (gnn, b) in adapter.layers.iter().zip(&layers[1..]) {
                joined.clear();
                for v in 0..n {
                    joined.extend_from_slice(&a[v * h..(v + 1) * h]);
                    joined.extend_from_slice(&b[v * h..(v + 1) * h]);
                }
                gnn.forward(&joined, adjacency, &mut scratch, &mut next);
                std::mem::swap(&mut a, &mut next);
            }
            let mut both = mean_rows(&a, n, h);
            both.extend_from_slice(&readout);
            let score = adapter.head.forward(&both);
            sums[1 + k] += score;
            adapter_total += score;
        }
        if wanted.mean {
            sums[1 + self.adapters.len()] += adapter_total / self.adapters.len() as f32;
        }
        Ok(())
    }
}

/// The mean of the `n` rows of `x` (`width` wide); zeros for no rows.
fn mean_rows(x: &[f32], n: usize, width: usize) -> Vec<f32> {
    let mut sum = vec![0.0f32; width];
    for row in x.chunks_exact(width).take(n) {
        for (s, &v) in sum.iter_mut().zip(row) {
            *s += v;
        }
    }
    let inv = 1.0 / n.max(1) as f32;
    sum.iter_mut().for_each(|s| *s *= inv);
    sum
}

/// The in-neighbours of each node, as compressed rows.
struct Adjacency {
    nodes: usize,
    starts: Vec<u32>,
    producers: Vec<u32>,
}

impl Adjacency {
    fn of(graph: &EncodedGraph) -> Result<Adjacency, String> {
        let nodes = graph.node_count();
        if graph.numeric.len() != nodes * NUMERIC_FEATURES {
            return Err(format!(
                "{} numeric features for {nodes} nodes",
                graph.numeric.len()
            ));
        }
        let mut counts = vec![0u32; nodes + 1];
        for &(src, dst) in &graph.edges {
            if src as usize >= nodes || dst as usize >= nodes {
                return Err(format!("edge {src} → {dst} of a graph of {nodes} nodes"));
            }
            counts[dst as usize + 1] += 1;
        }
        for i in 0..nodes {
            counts[i + 1] += counts[i];
        }
        let mut fill = counts.clone();
        let mut producers = vec![0u32; graph.edges.len()];
        for &(src, dst) in &graph.edges {
            producers[fill[dst as usize] as usize] = src;
            fill[dst as usize] += 1;
        }
        Ok(Adjacency {
            nodes,
            starts: counts,
            producers,
        })
    }

    fn producers(&self, v: usize) -> &[u32] {
        &self.producers[self.starts[v] as usize..self.starts[v + 1] as usize]
    }
}

/// Which parts of a member a set of columns needs.
struct Wanted {
    head: bool,
    adapters: Vec<bool>,
    mean: bool,
}

impl Wanted {
    fn adapter(&self, k: usize) -> bool {
        self.mean || self.adapters[k]
    }
}

/// A predictor ready to run natively.
pub struct Model {
    members: Vec<Member>,
    adapters: usize,
    columns: usize,
}

impl Model {
    /// The model of a predictor's `weights` (see [`crate::graph::weights_of`]), which must be
    /// those of [`crate::graph::write`]'s layout with `columns` output columns.
    pub fn new(weights: &Weights, columns: usize) -> Result<Model, BundleError> {
        let arch = Architecture::of(weights)?;
        let expected = 1 + arch.adapters + usize::from(arch.adapters > 0);
        if columns != expected {
            return Err(BundleError::NotAPredictor(format!(
                "{columns} task outputs for {expected} columns"
            )));
        }
        let members = (0..members(weights))
            .map(|m| Member::read(weights, &member_prefix(m), arch))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Model {
            members,
            adapters: arch.adapters,
            columns,
        })
    }

    /// The scaled scores of `graph` for `columns` (indices of the bundle's tasks), in that
    /// order: the mean over the ensemble's members.
    pub fn scores(&self, graph: &EncodedGraph, columns: &[usize]) -> Result<Vec<f32>, String> {
        let per_member = self.member_scores(graph, columns)?;
        let share = 1.0 / self.members.len() as f32;
        Ok((0..columns.len())
            .map(|c| per_member.iter().map(|m| m[c]).sum::<f32>() * share)
            .collect())
    }

    /// Each member's scaled scores of `graph` for `columns`: `[members][columns]` (how much
    /// the ensemble's members disagree).
    pub fn member_scores(
        &self,
        graph: &EncodedGraph,
        columns: &[usize],
    ) -> Result<Vec<Vec<f32>>, String> {
        let mut wanted = Wanted {
            head: false,
            adapters: vec![false; self.adapters],
            mean: false,
        };
        for &c in columns {
            match c {
                0 => wanted.head = true,
                c if c <= self.adapters => wanted.adapters[c - 1] = true,
                c if c < self.columns => wanted.mean = true,
                c => return Err(format!("no column {c} of {}", self.columns)),
            }
        }
        let adjacency = Adjacency::of(graph)?;
        self.members
            .iter()
            .map(|member| {
                let mut sums = vec![0.0f32; self.columns];
                member.add_scores(graph, &adjacency, &wanted, &mut sums)?;
                Ok(columns.iter().map(|&c| sums[c]).collect())
            })
            .collect()
    }
}

/// The values of weight `name`.
fn take(weights: &Weights, name: &str) -> Result<Vec<f32>, BundleError> {
    weights
        .get(name)
        .map(|w| w.values.clone())
        .ok_or_else(|| BundleError::NotAPredictor(format!("no weight `{name}`")))
}
