//! The converter's entry points: a model file (or bytes) in, a [`Cg`] out.

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::path::Path;

use bytes::Bytes;

use crate::cg::{self, Cg};
use crate::error::{ConvertError, Result};
use crate::infer::{self, fact::Fact};
use crate::ir::{DeclaredDim, Model};
use crate::{onnx, tf};

/// How to bind the dimensions a model leaves open.
#[derive(Clone, Debug)]
pub struct ConvertOptions {
    /// Exact shapes for named inputs (`--input-shape NAME=1,3,224,224`); naming an input also
    /// marks it as a data input.
    pub input_shapes: HashMap<String, Vec<u64>>,
    /// Batch size bound to an open first dimension.
    pub batch: u64,
    /// Height and width bound to open spatial dimensions of 4-D inputs.
    pub resolution: u64,
    /// Return the canonical CG ([`cg::canonicalize`]): the same for one network whichever
    /// framework exported it.
    pub canonical: bool,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions {
            input_shapes: HashMap::default(),
            batch: 1,
            resolution: 224,
            canonical: false,
        }
    }
}

impl ConvertOptions {
    /// Parses `NAME=1,3,224,224` and adds it.
    pub fn add_input_shape(&mut self, spec: &str) -> Result<()> {
        let (name, dims) = spec
            .rsplit_once('=')
            .ok_or_else(|| ConvertError::InputShape(format!("`{spec}` is not NAME=d1,d2,…")))?;
        let dims = dims
            .split(',')
            .map(|d| d.trim().parse::<u64>())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| {
                ConvertError::InputShape(format!(
                    "`{spec}`: dimensions must be non-negative integers"
                ))
            })?;
        self.input_shapes.insert(name.to_string(), dims);
        Ok(())
    }
}

/// Converts the model file at `path` (ONNX) to a CG named after the file stem.
pub fn convert_file(path: &Path, options: &ConvertOptions) -> Result<Cg> {
    let model = if tf::is_tf_model(path) {
        tf::read_tf(path)?
    } else if path.is_dir() {
        return Err(ConvertError::UnknownFormat(
            "a directory without saved_model.pb".into(),
        ));
    } else if path.extension().is_some_and(|e| e == "pbtxt") {
        return Err(ConvertError::UnknownFormat(
            "text GraphDefs (.pbtxt) are not supported; freeze the graph to a binary .pb".into(),
        ));
    } else {
        onnx::read_onnx(path)?
    };
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("model");
    let file = path.file_name().and_then(|s| s.to_str()).unwrap_or(stem);
    convert_model(model, stem, file, options)
}

/// Converts ONNX bytes (no external data folder) to a CG called `name`.
pub fn convert_onnx_bytes(bytes: Bytes, name: &str, options: &ConvertOptions) -> Result<Cg> {
    let model = onnx::parse_onnx(bytes, None)?;
    convert_model(model, name, name, options)
}

/// Converts the bytes of a frozen TensorFlow `GraphDef` (`.pb`) to a CG called `name`.
pub fn convert_tf_bytes(bytes: &[u8], name: &str, options: &ConvertOptions) -> Result<Cg> {
    let model = tf::parse_tf(bytes, false)?;
    convert_model(model, name, name, options)
}

/// The seed facts of a model's graph: initializers, and inputs with their open dimensions
/// bound per `options` (each binding noted in `warnings`). Also returns the data inputs.
pub fn seed_facts(
    model: &Model,
    options: &ConvertOptions,
    warnings: &mut Vec<String>,
) -> Result<(FxHashMap<String, Fact>, Vec<String>)> {
    let graph = &model.graph;
    for name in options.input_shapes.keys() {
        if !graph.inputs.iter().any(|i| &i.name == name) {
            return Err(ConvertError::InputShape(format!(
                "the model has no input `{name}`"
            )));
        }
    }
    let data_inputs = data_inputs(model, options);
    let mut seed: FxHashMap<String, Fact> = FxHashMap::with_capacity_and_hasher(
        graph.initializers.len() + graph.inputs.len(),
        Default::default(),
    );
    for (name, t) in &graph.initializers {
        seed.insert(
            name.clone(),
            Fact::fixed(t.dtype, &t.dims).with_value(t.value.clone()),
        );
    }
    for input in &graph.inputs {
        if graph.initializers.contains_key(&input.name) {
            continue;
        }
        let is_data = data_inputs.contains(&input.name);
        let fact = match options.input_shapes.get(&input.name) {
            Some(dims) => Fact::fixed(input.dtype, dims),
            None => bind_input(input, is_data, options, warnings),
        };
        seed.insert(input.name.clone(), fact);
    }
    Ok((seed, data_inputs))
}

/// Infers shapes of a lowered model and builds its CG.
pub fn convert_model(
    mut model: Model,
    name: &str,
    file: &str,
    options: &ConvertOptions,
) -> Result<Cg> {
    crate::rewrite::rewrite(&mut model.graph);
    let mut warnings = model.warnings.clone();
    let (seed, data_inputs) = seed_facts(&model, options, &mut warnings)?;
    let graph = &model.graph;
    let inferred = infer::infer(graph, seed)?;
    let source = if model.producer.is_empty() {
        file.to_string()
    } else {
        format!("{file} ({})", model.producer)
    };
    let mut cg = cg::build(graph, &inferred, &data_inputs, name, &source);
    if options.canonical {
        cg = cg::canonicalize(&cg);
    }
    warnings.append(&mut cg.warnings);
    cg.warnings = warnings;
    Ok(cg)
}

/// Float initializers at most this large are constants of the arithmetic, not weights.
const WEIGHT_SIZE: u64 = 64;

/// The graph inputs that carry data. Inputs named in `--input-shape` are data; otherwise every
/// input that is not an initializer, except in weight-stripped exports (no float initializer
/// larger than a few elements, weights passed as inputs) where only the first input is data.
pub fn data_inputs(model: &Model, options: &ConvertOptions) -> Vec<String> {
    let graph = &model.graph;
    let free: Vec<&str> = graph
        .inputs
        .iter()
        .map(|i| i.name.as_str())
        .filter(|n| !graph.initializers.contains_key(*n))
        .collect();
    let named: Vec<String> = free
        .iter()
        .filter(|n| options.input_shapes.contains_key(**n))
        .map(|n| n.to_string())
        .collect();
    if !named.is_empty() {
        return named;
    }
    // Weight-stripped exports (torch's `export_params=False`, `tools/zoo/strip_weights.py`)
    // pass the weights as inputs after the image and keep no float tensor of weight size.
    let stripped = !graph
        .initializers
        .values()
        .any(|t| t.dtype.is_float() && t.numel() > WEIGHT_SIZE);
    if stripped && free.len() > 1 {
        return free
            .first()
            .map(|n| vec![n.to_string()])
            .unwrap_or_default();
    }
    free.iter().map(|n| n.to_string()).collect()
}

fn bind_input(
    input: &crate::ir::TensorDecl,
    is_data: bool,
    options: &ConvertOptions,
    warnings: &mut Vec<String>,
) -> Fact {
    let Some(shape) = &input.shape else {
        warnings.push(format!("input `{}` has no declared shape", input.name));
        return Fact::unknown(input.dtype);
    };
    let rank = shape.len();
    let mut bound = Vec::new();
    let dims = shape
        .iter()
        .enumerate()
        .map(|(i, d)| match d {
            DeclaredDim::Fixed(v) => Some(*v),
            _ if !is_data => None,
            _ => {
                let v = match (i, rank) {
                    (0, _) => Some(options.batch),
                    (1, 4) => Some(3),
                    (2 | 3, 4) => Some(options.resolution),
                    _ => None,
                };
                if let Some(v) = v {
                    bound.push(format!("{}={v}", label(d, i)));
                }
                v
            }
        })
        .collect();
    if !bound.is_empty() {
        warnings.push(format!(
            "input `{}`: open dimensions bound to {} (override with --input-shape)",
            input.name,
            bound.join(", ")
        ));
    }
    Fact::new(input.dtype, dims)
}

fn label(d: &DeclaredDim, i: usize) -> String {
    match d {
        DeclaredDim::Symbol(s) => s.clone(),
        _ => format!("dim{i}"),
    }
}
