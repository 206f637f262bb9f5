//! The predictor's ONNX graph (opset 13), written node by node from its named weights, so that
//! it runs without libtorch: tract, ONNX Runtime, browsers. The trainer writes it from its
//! variables (`aiop export CHECKPOINT`); an existing predictor file can be rewritten from its
//! initializers (`aiop export OLD.onnx`), which upgrades it to the current graph layout.
//!
//! Message passing and pooling use `Gather` + `ReduceSum` over padded index lists (see
//! [`crate::inputs`]), which every runtime supports. Each k-GNN layer is one `Gemm` on
//! `[x, Σ neighbours]` with the root and neighbour weights side by side (constant-folded at
//! load), followed by `Relu`, so runtimes fuse bias and activation into the matrix product; a
//! neighbour sum is computed once per tensor and shared by the backbone and every adapter.
//!
//! The readout is the mean of the last layer's node embeddings beside the mean of the numeric
//! node features (which carry the graph features of the encoding); the MLP head reads it, each
//! adapter reads its own pooled embedding beside it.
//!
//! Output columns (`scores`, `[B, T]`, scaled): the MLP head, each adapter, and, with
//! adapters, their mean (see [`crate::bundle::TaskOutput::source`]). An ensemble (several
//! predictors of one architecture trained with different seeds, weights of member `m ≥ 1`
//! named `member<m>.…`) outputs the mean of its members' columns.

use std::collections::{BTreeMap, HashMap};

use aiop_converter::onnx::proto::{AttributeProto, ModelProto, TensorProto};
use aiop_converter::onnx::writer::{ModelBuilder, attr_int, attr_ints};
use aiop_converter::value::DType;
use prost::Message;

use crate::bundle::{BundleError, BundleMeta};
use crate::encoding::NUMERIC_FEATURES;
use crate::inputs::{INPUT_NAMES, OUTPUT_NAME};

/// Opset of written predictors.
pub const OPSET: i64 = 13;

/// One weight tensor: dims and row-major values.
#[derive(Clone, Debug, PartialEq)]
pub struct Weight {
    pub dims: Vec<i64>,
    pub values: Vec<f32>,
}

/// A predictor's weights by variable name (`backbone.gnn0.root.weight`, `adapter1.head.out.bias`,
/// …), as the trainer names them.
pub type Weights = BTreeMap<String, Weight>;

/// The shape of a predictor, read off the names and dims of its weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Architecture {
    /// Width of node embeddings.
    pub hidden: i64,
    /// k-GNN layers of the backbone (and of each adapter).
    pub gnn_layers: usize,
    /// Hidden layers of each MLP head.
    pub mlp_layers: usize,
    /// K-Adapters.
    pub adapters: usize,
}

impl Architecture {
    /// Reads the architecture off `weights` (of the first member of an ensemble).
    pub fn of(weights: &Weights) -> Result<Architecture, BundleError> {
        Architecture::of_member(weights, "")
    }

    /// The architecture of the member whose weight names start with `prefix`.
    fn of_member(weights: &Weights, prefix: &str) -> Result<Architecture, BundleError> {
        let embedding_name = format!("{prefix}backbone.op_embedding.weight");
        let embedding = weights
            .get(&embedding_name)
            .filter(|w| w.dims.len() == 2)
            .ok_or_else(|| missing(&embedding_name))?;
        let count = |name: &dyn Fn(usize) -> String| {
            (0..)
                .take_while(|&i| weights.contains_key(&format!("{prefix}{}", name(i))))
                .count()
        };
        let hidden = embedding.dims[1];
        if !(1..=MAX_HIDDEN).contains(&hidden) || embedding.values.is_empty() {
            return Err(BundleError::NotAPredictor(format!(
                "embedding of dims {:?}",
                embedding.dims
            )));
        }
        Ok(Architecture {
            hidden,
            gnn_layers: count(&|i| format!("backbone.gnn{i}.root.weight")),
            mlp_layers: count(&|i| format!("head.fc{i}.weight")),
            adapters: count(&|i| format!("adapter{i}.head.out.weight")),
        })
    }
}

/// The prefix of the weight names of ensemble member `m`: none for the first (a single
/// predictor is an ensemble of one), `member<m>.` for the others.
pub fn member_prefix(m: usize) -> String {
    if m == 0 {
        String::new()
    } else {
        format!("member{m}.")
    }
}

/// How many members the ensemble in `weights` has (1 for a single predictor).
pub fn members(weights: &Weights) -> usize {
    1 + (1..)
        .take_while(|&m| {
            weights.contains_key(&format!("{}backbone.op_embedding.weight", member_prefix(m)))
        })
        .count()
}

/// Most members of an ensemble accepted.
const MAX_MEMBERS: usize = 16;

/// Widest node embedding accepted (trained predictors use 32–256).
const MAX_HIDDEN: i64 = 1 << 16;

fn missing(name: &str) -> BundleError {
    BundleError::NotAPredictor(format!("no weight `{name}`"))
}

/// Names of the helper initializers the writer adds itself (not weights).
const ZERO_ROW: &str = "zero_row";
const ENSEMBLE_SHARE: &str = "ensemble_share";
const AXIS1: &str = "axis1";

/// The weights stored in a predictor file: its float initializers, less the writer's helpers.
pub fn weights_of(model: &ModelProto) -> Result<Weights, BundleError> {
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| BundleError::NotAPredictor("no graph".into()))?;
    let mut weights = Weights::new();
    for t in &graph.initializer {
        if t.data_type != DType::F32.to_onnx()
            || t.name.starts_with(ZERO_ROW)
            || t.name == ENSEMBLE_SHARE
        {
            continue;
        }
        let values: Vec<f32> = if !t.raw_data.is_empty() {
            if t.raw_data.len() % 4 != 0 {
                return Err(BundleError::NotAPredictor(format!(
                    "weight `{}`: {} bytes",
                    t.name,
                    t.raw_data.len()
                )));
            }
            t.raw_data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        } else {
            t.float_data.clone()
        };
        let expected = t
            .dims
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(usize::try_from(d).ok()?));
        if values.iter().any(|v| !v.is_finite()) {
            return Err(BundleError::NotAPredictor(format!(
                "weight `{}` holds NaN or infinite values",
                t.name.escape_debug()
            )));
        }
        if expected != Some(values.len()) {
            return Err(BundleError::NotAPredictor(format!(
                "weight `{}`: dims {:?} for {} values",
                t.name,
                t.dims,
                values.len()
            )));
        }
        weights.insert(
            t.name.clone(),
            Weight {
                dims: t.dims.clone(),
                values,
            },
        );
    }
    Ok(weights)
}

/// Writes the graph of a predictor.
struct Writer {
    builder: ModelBuilder,
    weights: Weights,
    /// Neighbour sums already computed, by the tensor summed.
    neighbour_sums: HashMap<String, String>,
    /// Zero rows already declared, by width.
    zero_rows: HashMap<i64, String>,
    next: usize,
}

impl Writer {
    fn fresh(&mut self, stem: &str) -> String {
        self.next += 1;
        format!("{stem}_{}", self.next)
    }

    /// Adds the weight `name` as an initializer and returns its name and dims.
    fn weight(&mut self, name: &str) -> Result<(String, Vec<i64>), BundleError> {
        let w = self.weights.remove(name).ok_or_else(|| missing(name))?;
        let raw: Vec<u8> = w.values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.builder.initializer(TensorProto {
            name: name.into(),
            dims: w.dims.clone(),
            data_type: DType::F32.to_onnx(),
            raw_data: raw.into(),
            ..Default::default()
        });
        Ok((name.into(), w.dims))
    }

    fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        let out = self.fresh(&op.to_lowercase());
        self.builder.node(op, inputs, &[&out], attrs);
        out
    }

    fn concat(&mut self, inputs: &[&str], axis: i64) -> String {
        self.node("Concat", inputs, vec![attr_int("axis", axis)])
    }

    fn zero_row(&mut self, width: i64) -> String {
        if let Some(name) = self.zero_rows.get(&width) {
            return name.clone();
        }
        let name = format!("{ZERO_ROW}_{width}");
        self.builder.initializer(TensorProto {
            name: name.clone(),
            dims: vec![1, width],
            data_type: DType::F32.to_onnx(),
            raw_data: vec![0u8; width as usize * 4].into(),
            ..Default::default()
        });
        self.zero_rows.insert(width, name.clone());
        name
    }

    /// Sum over the rows of `x` (`width` wide) listed in `index` (`[R, K]`, padded with the
    /// index of an extra zero row).
    fn gather_sum(&mut self, x: &str, width: i64, index: &str) -> String {
        let zero = self.zero_row(width);
        let padded = self.concat(&[x, &zero], 0);
        let gathered = self.node("Gather", &[&padded, index], vec![attr_int("axis", 0)]);
        self.node(
            "ReduceSum",
            &[&gathered, AXIS1],
            vec![attr_int("keepdims", 0)],
        )
    }

    /// The sum of each node's in-neighbours' rows of `x`, computed once per tensor.
    fn neighbour_sum(&mut self, x: &str, width: i64) -> String {
        if let Some(sum) = self.neighbour_sums.get(x) {
            return sum.clone();
        }
        let sum = self.gather_sum(x, width, INPUT_NAMES[2]);
        self.neighbour_sums.insert(x.to_string(), sum.clone());
        sum
    }

    /// `x · Wᵀ + b` of the linear layer `prefix`, ReLU'd when `relu`.
    fn linear(&mut self, x: &str, prefix: &str, relu: bool) -> Result<String, BundleError> {
        let (w, _) = self.weight(&format!("{prefix}.weight"))?;
        let (b, _) = self.weight(&format!("{prefix}.bias"))?;
        let y = self.node("Gemm", &[x, &w, &b], vec![attr_int("transB", 1)]);
        Ok(if relu {
            self.node("Relu", &[&y], vec![])
        } else {
            y
        })
    }

    /// A k-GNN layer `prefix` on the column blocks `parts` (tensor, width) side by side:
    /// `relu(W_root · x + W_neighbours · Σ x_neighbours + b)` as one `Gemm`.
    fn gnn_layer(&mut self, parts: &[(&str, i64)], prefix: &str) -> Result<String, BundleError> {
        let sums: Vec<String> = parts
            .iter()
            .map(|&(x, width)| self.neighbour_sum(x, width))
            .collect();
        let mut columns: Vec<&str> = parts.iter().map(|&(x, _)| x).collect();
        columns.extend(sums.iter().map(String::as_str));
        let joined = self.concat(&columns, 1);
        let (root, root_dims) = self.weight(&format!("{prefix}.root.weight"))?;
        let (neighbours, _) = self.weight(&format!("{prefix}.neighbours.weight"))?;
        let (bias, _) = self.weight(&format!("{prefix}.neighbours.bias"))?;
        let width: i64 = parts.iter().map(|&(_, w)| w).sum();
        if root_dims.get(1) != Some(&width) {
            return Err(BundleError::NotAPredictor(format!(
                "`{prefix}.root.weight` has dims {root_dims:?} for inputs {width} wide"
            )));
        }
        let stacked = self.concat(&[&root, &neighbours], 1);
        let y = self.node(
            "Gemm",
            &[&joined, &stacked, &bias],
            vec![attr_int("transB", 1)],
        );
        Ok(self.node("Relu", &[&y], vec![]))
    }

    /// Mean of each graph's node rows.
    fn mean_pool(&mut self, x: &str, width: i64) -> String {
        let sum = self.gather_sum(x, width, INPUT_NAMES[3]);
        self.node("Mul", &[&sum, INPUT_NAMES[4]], vec![])
    }

    /// The MLP `prefix` (hidden layers `fc<i>`, then `out`) on `x`: `[B, 1]`.
    fn mlp(&mut self, x: &str, prefix: &str, layers: usize) -> Result<String, BundleError> {
        let mut h = x.to_string();
        for i in 0..layers {
            h = self.linear(&h, &format!("{prefix}.fc{i}"), true)?;
        }
        self.linear(&h, &format!("{prefix}.out"), false)
    }
}

/// The ONNX bytes of the predictor with `weights`, described by `meta` (one task per output
/// column: head, adapters, mean of adapters). An ensemble (weights of members 1… named
/// `member<m>.…`, all of one architecture) outputs the mean of its members' scores.
pub fn write(weights: Weights, meta: &BundleMeta) -> Result<Vec<u8>, BundleError> {
    let arch = Architecture::of(&weights)?;
    let columns = 1 + arch.adapters + usize::from(arch.adapters > 0);
    if meta.tasks.len() != columns {
        return Err(BundleError::NotAPredictor(format!(
            "{} task outputs for {columns} columns",
            meta.tasks.len()
        )));
    }
    let members = members(&weights);
    if members > MAX_MEMBERS {
        return Err(BundleError::NotAPredictor(format!(
            "an ensemble of {members} members (at most {MAX_MEMBERS})"
        )));
    }
    for m in 1..members {
        if Architecture::of_member(&weights, &member_prefix(m))? != arch {
            return Err(BundleError::NotAPredictor(format!(
                "ensemble member {m} differs in shape from the first"
            )));
        }
    }
    let mut w = Writer {
        builder: ModelBuilder::new(OPSET),
        weights,
        neighbour_sums: HashMap::new(),
        zero_rows: HashMap::new(),
        next: 0,
    };
    let [ops, numeric, neighbours, members_input, inv_counts] = INPUT_NAMES;
    w.builder
        .input(ops, DType::I64, &[-1])
        .input(numeric, DType::F32, &[-1, NUMERIC_FEATURES as i64])
        .input(neighbours, DType::I64, &[-1, -1])
        .input(members_input, DType::I64, &[-1, -1])
        .input(inv_counts, DType::F32, &[-1, 1])
        .ints(AXIS1, &[1]);
    let scores: Vec<String> = (0..members)
        .map(|m| w.member_scores(arch, &member_prefix(m)))
        .collect::<Result<_, _>>()?;
    if members == 1 {
        w.builder
            .node("Identity", &[&scores[0]], &[OUTPUT_NAME], vec![]);
    } else {
        let refs: Vec<&str> = scores.iter().map(String::as_str).collect();
        let sum = w.node("Sum", &refs, vec![]);
        let share = ENSEMBLE_SHARE;
        w.builder.initializer(TensorProto {
            name: share.into(),
            dims: vec![],
            data_type: DType::F32.to_onnx(),
            raw_data: (1.0 / members as f32).to_le_bytes().to_vec().into(),
            ..Default::default()
        });
        w.builder
            .node("Mul", &[&sum, share], &[OUTPUT_NAME], vec![]);
    }
    w.builder
        .output_shaped(OUTPUT_NAME, DType::F32, &[-1, columns as i64]);
    if !w.weights.is_empty() {
        let left: Vec<&String> = w.weights.keys().collect();
        return Err(BundleError::NotAPredictor(format!(
            "weights the graph does not use: {left:?}"
        )));
    }
    let mut proto = w.builder.build();
    name_dynamic_dims(&mut proto);
    proto.metadata_props = meta.to_metadata();
    proto.producer_name = "aiop export".into();
    Ok(proto.encode_to_vec())
}

impl Writer {
    /// The `[B, columns]` scores of the member whose weights are named `prefix…`.
    fn member_scores(&mut self, arch: Architecture, prefix: &str) -> Result<String, BundleError> {
        let h = arch.hidden;
        let [ops, numeric, ..] = INPUT_NAMES;
        let (table, _) = self.weight(&format!("{prefix}backbone.op_embedding.weight"))?;
        let embedded = self.node("Gather", &[&table, ops], vec![attr_int("axis", 0)]);
        let numeric_embedded = self.linear(
            numeric,
            &format!("{prefix}backbone.numeric_embedding"),
            false,
        )?;
        let mut layers = vec![self.node("Add", &[&embedded, &numeric_embedded], vec![])];
        for i in 0..arch.gnn_layers {
            let next = self.gnn_layer(&[(&layers[i], h)], &format!("{prefix}backbone.gnn{i}"))?;
            layers.push(next);
        }
        let last = layers.last().expect("embedding").clone();
        // the readout: pooled embedding beside the mean of the numeric node features
        let pooled_nodes = self.mean_pool(&last, h);
        let pooled_numeric = self.mean_pool(numeric, NUMERIC_FEATURES as i64);
        let pooled = self.concat(&[&pooled_nodes, &pooled_numeric], 1);

        let mut outputs = vec![self.mlp(&pooled, &format!("{prefix}head"), arch.mlp_layers)?];
        let mut adapter_outputs = Vec::new();
        for k in 0..arch.adapters {
            let mut a = layers[0].clone();
            for (i, b) in layers[1..].iter().enumerate() {
                a = self.gnn_layer(&[(&a, h), (b, h)], &format!("{prefix}adapter{k}.gnn{i}"))?;
            }
            let own = self.mean_pool(&a, h);
            let both = self.concat(&[&own, &pooled], 1);
            let head = format!("{prefix}adapter{k}.head");
            adapter_outputs.push(self.mlp(&both, &head, arch.mlp_layers)?);
        }
        outputs.extend(adapter_outputs.iter().cloned());
        if !adapter_outputs.is_empty() {
            let refs: Vec<&str> = adapter_outputs.iter().map(String::as_str).collect();
            let all = self.concat(&refs, 1);
            // opset 13: ReduceMean's axes are an attribute (ReduceSum's an input)
            outputs.push(self.node(
                "ReduceMean",
                &[&all],
                vec![attr_ints("axes", &[1]), attr_int("keepdims", 1)],
            ));
        }
        let refs: Vec<&str> = outputs.iter().map(String::as_str).collect();
        Ok(self.concat(&refs, 1))
    }
}

/// A predictor file written again from its own weights and metadata, in the current graph
/// layout (the scores stay the same).
pub fn rewrite(bytes: &[u8]) -> Result<Vec<u8>, BundleError> {
    let model = ModelProto::decode(bytes)
        .map_err(|e| BundleError::NotAPredictor(format!("not an ONNX file ({e})")))?;
    let meta = BundleMeta::from_model(&model)?;
    write(weights_of(&model)?, &meta)
}

/// Names the dynamic dimensions: N nodes, D in-neighbours, B graphs, M nodes per graph (the
/// writer numbers them by position, which would tie N to B).
fn name_dynamic_dims(proto: &mut ModelProto) {
    let names: [&[&str]; 6] = [&["N"], &["N"], &["N", "D"], &["B", "M"], &["B"], &["B"]];
    let Some(graph) = proto.graph.as_mut() else {
        return;
    };
    let values = graph.input.iter_mut().chain(graph.output.iter_mut());
    for (value, dims) in values.zip(names) {
        let shape = value
            .r#type
            .as_mut()
            .and_then(|t| t.tensor_type.as_mut())
            .and_then(|t| t.shape.as_mut());
        for (dim, name) in shape.into_iter().flat_map(|s| s.dim.iter_mut()).zip(dims) {
            dim.dim_value = None;
            dim.dim_param = Some((*name).to_string());
        }
    }
}
