//! The AIO-P predictor network (paper, "AIO-P Structure"): node features embedded to 32
//! dimensions, 6 k-GNN layers (Morris et al. 2019, `h' = W1·h + W2·Σ_{in-neighbours} h`,
//! ReLU), mean pooling to a graph embedding, and an MLP regressor of 4 hidden layers of 32.
//!
//! The readout joins the mean of the raw numeric node features to the pooled embedding
//! ([`Backbone::readout`]): the graph features of the encoding (log MACs, params, nodes,
//! resolution) and the average node's sizes reach the regressor directly, not only through
//! six layers of message passing.

use aiop_predictor::{NUMERIC_FEATURES, OP_CATEGORIES};
use serde::{Deserialize, Serialize};
use tch::Tensor;
use tch::nn::{self, Module};

use crate::batch::GraphBatch;

/// Sizes of the network.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Width of node embeddings and of the MLP.
    pub hidden: i64,
    /// Number of k-GNN layers.
    pub gnn_layers: usize,
    /// Hidden layers of the MLP regressor.
    pub mlp_layers: usize,
}

impl Default for ModelConfig {
    /// The paper's sizes: 32 wide, 6 GNN layers, 4 MLP layers.
    fn default() -> Self {
        ModelConfig {
            hidden: 32,
            gnn_layers: 6,
            mlp_layers: 4,
        }
    }
}

/// One k-GNN layer (PyTorch Geometric's `GraphConv`): a root weight without bias and a
/// neighbour weight with bias.
#[derive(Debug)]
pub struct GraphConv {
    root: nn::Linear,
    neighbours: nn::Linear,
}

impl GraphConv {
    /// A layer from `input` to `output` features.
    pub fn new(p: &nn::Path, input: i64, output: i64) -> GraphConv {
        let no_bias = nn::LinearConfig {
            bias: false,
            ..Default::default()
        };
        GraphConv {
            root: nn::linear(p / "root", input, output, no_bias),
            neighbours: nn::linear(p / "neighbours", input, output, Default::default()),
        }
    }

    /// The layer's output for node features `h` (before the activation).
    pub fn forward(&self, h: &Tensor, batch: &GraphBatch) -> Tensor {
        self.root.forward(h) + self.neighbours.forward(&batch.aggregate(h))
    }
}

/// Embedding and k-GNN layers: CG → node embeddings per layer.
#[derive(Debug)]
pub struct Backbone {
    /// The one-hot category times a weight matrix is a lookup of one of its rows.
    op_embedding: nn::Embedding,
    numeric_embedding: nn::Linear,
    layers: Vec<GraphConv>,
}

impl Backbone {
    /// A backbone under `p`.
    pub fn new(p: &nn::Path, config: &ModelConfig) -> Backbone {
        let h = config.hidden;
        Backbone {
            op_embedding: nn::embedding(
                p / "op_embedding",
                OP_CATEGORIES as i64,
                h,
                Default::default(),
            ),
            numeric_embedding: nn::linear(
                p / "numeric_embedding",
                NUMERIC_FEATURES as i64,
                h,
                Default::default(),
            ),
            layers: (0..config.gnn_layers)
                .map(|i| GraphConv::new(&(p / format!("gnn{i}")), h, h))
                .collect(),
        }
    }

    /// Node embeddings after the embedding and after each GNN layer (`gnn_layers + 1`).
    pub fn node_layers(&self, batch: &GraphBatch) -> Vec<Tensor> {
        let mut h =
            self.op_embedding.forward(&batch.ops) + self.numeric_embedding.forward(&batch.numeric);
        let mut all = Vec::with_capacity(self.layers.len() + 1);
        for layer in &self.layers {
            let next = layer.forward(&h, batch).relu();
            all.push(h);
            h = next;
        }
        all.push(h);
        all
    }

    /// Graph embeddings `[B, readout_width]`: see [`Backbone::readout`].
    pub fn embed(&self, batch: &GraphBatch) -> Tensor {
        let last = self
            .node_layers(batch)
            .pop()
            .expect("at least the embedding");
        Backbone::readout(&last, batch)
    }

    /// `[mean of the last layer's node embeddings, mean of the numeric node features]`,
    /// `[B, hidden + NUMERIC_FEATURES]`.
    pub fn readout(last: &Tensor, batch: &GraphBatch) -> Tensor {
        Tensor::cat(&[batch.mean_pool(last), batch.mean_pool(&batch.numeric)], 1)
    }

    /// Width of [`Backbone::readout`] for a backbone of `config`.
    pub fn readout_width(config: &ModelConfig) -> i64 {
        config.hidden + NUMERIC_FEATURES as i64
    }
}

/// MLP regressor: hidden layers with ReLU, then one output.
#[derive(Debug)]
pub struct Mlp {
    hidden: nn::Sequential,
    /// The output layer (AdaProxy rescales its weights).
    pub out: nn::Linear,
}

impl Mlp {
    /// An MLP from `input` features through `layers` hidden layers of `hidden` to 1.
    pub fn new(p: &nn::Path, input: i64, hidden: i64, layers: usize) -> Mlp {
        let mut net = nn::seq();
        let mut width = input;
        for i in 0..layers {
            net = net
                .add(nn::linear(
                    p / format!("fc{i}"),
                    width,
                    hidden,
                    Default::default(),
                ))
                .add_fn(|x| x.relu());
            width = hidden;
        }
        Mlp {
            hidden: net,
            out: nn::linear(p / "out", width, 1, Default::default()),
        }
    }

    /// The input of the output layer, `[B, input]` → `[B, hidden]`.
    pub fn hidden(&self, x: &Tensor) -> Tensor {
        self.hidden.forward(x)
    }

    /// `[B, input]` → `[B]`.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        self.out.forward(&self.hidden(x)).squeeze_dim(1)
    }
}

/// A K-Adapter (paper Eq. 1): GNN layers beside the frozen backbone. Layer `i` reads the
/// concatenation of the adapter's previous layer (the backbone's embedding for the first) and
/// the backbone's layer `i`; the adapter's pooled embedding, concatenated with the backbone's,
/// feeds a new MLP.
#[derive(Debug)]
pub struct Adapter {
    layers: Vec<GraphConv>,
    pub head: Mlp,
}

impl Adapter {
    /// An adapter under `p` matching a backbone of `config`.
    pub fn new(p: &nn::Path, config: &ModelConfig) -> Adapter {
        let h = config.hidden;
        Adapter {
            layers: (0..config.gnn_layers)
                .map(|i| GraphConv::new(&(p / format!("gnn{i}")), 2 * h, h))
                .collect(),
            head: Mlp::new(
                &(p / "head"),
                h + Backbone::readout_width(config),
                h,
                config.mlp_layers,
            ),
        }
    }

    /// One scaled prediction per graph from the backbone's per-layer node embeddings
    /// ([`Backbone::node_layers`]).
    pub fn forward(&self, backbone_layers: &[Tensor], batch: &GraphBatch) -> Tensor {
        self.head.forward(&self.pooled(backbone_layers, batch))
    }

    /// The input of the adapter's MLP: its pooled embedding beside the backbone's readout,
    /// `[B, h + readout_width]`.
    pub fn pooled(&self, backbone_layers: &[Tensor], batch: &GraphBatch) -> Tensor {
        let mut a = backbone_layers[0].shallow_clone();
        for (layer, b) in self.layers.iter().zip(&backbone_layers[1..]) {
            a = layer.forward(&Tensor::cat(&[&a, b], 1), batch).relu();
        }
        let last = backbone_layers.last().expect("at least the embedding");
        Tensor::cat(&[batch.mean_pool(&a), Backbone::readout(last, batch)], 1)
    }
}
