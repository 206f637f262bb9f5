//! A trained predictor written as one ONNX file (opset 13), so that it runs without libtorch:
//! tract, ONNX Runtime, browsers. The graph is written node by node from the weights; message
//! passing and pooling use `Gather` + `ReduceSum` over padded index lists (see
//! `aiop_predictor::inputs`), which every runtime supports.
//!
//! Output columns (`scores`, `[B, T]`, scaled): the MLP head (the pretraining task, or the
//! fine-tuned task when fine-tuning had no adapters), each adapter (its own task), and, with
//! adapters, their mean (the fine-tuned or last calibrated task: the predictor's own output).

use std::collections::HashMap;

use aiop_converter::onnx::proto::AttributeProto;
use aiop_converter::onnx::proto::TensorProto;
use aiop_converter::onnx::writer::{ModelBuilder, attr_int, attr_ints};
use aiop_converter::value::DType;
use aiop_predictor::bundle::{BUNDLE_FORMAT, BundleMeta, TaskOutput, vocabulary_hash};
use aiop_predictor::inputs::{INPUT_NAMES, OUTPUT_NAME};
use aiop_predictor::{ENCODING_VERSION, NUMERIC_FEATURES};
use prost::Message;
use tch::{Kind, Tensor};

use crate::TrainError;
use crate::predictor::Predictor;

/// Opset of exported predictors.
pub const OPSET: i64 = 13;

/// The tasks of the output columns of `p`, in order.
pub fn output_tasks(p: &Predictor) -> Vec<TaskOutput> {
    let meta = &p.meta;
    let mut tasks = Vec::new();
    let head = match (&meta.finetuned, meta.adapters.is_empty()) {
        (Some(tuned), true) => TaskOutput {
            task: tuned.task.clone(),
            scaling: meta.output,
            source: "head".into(),
            samples: tuned.samples,
        },
        _ => TaskOutput {
            task: meta.pretrained.task.clone(),
            scaling: meta.pretrained.scaling,
            source: "head".into(),
            samples: meta.pretrained.samples,
        },
    };
    tasks.push(head);
    for (i, a) in meta.adapters.iter().enumerate() {
        tasks.push(TaskOutput {
            task: a.task.clone(),
            scaling: a.scaling,
            source: format!("adapter{i}"),
            samples: a.samples,
        });
    }
    if !meta.adapters.is_empty() {
        let (task, samples) = match &meta.finetuned {
            Some(t) => (t.task.clone(), t.samples),
            None => ("mean-of-adapters".to_string(), 0),
        };
        tasks.push(TaskOutput {
            task,
            scaling: meta.output,
            source: "mean of adapters".into(),
            samples,
        });
    }
    // a later column of the same task (e.g. fine-tuned) is the one to use: keep names unique
    let mut seen = std::collections::HashSet::new();
    for t in tasks.iter_mut().rev() {
        if !seen.insert(t.task.clone()) {
            t.task = format!("{}@{}", t.task, t.source.replace(' ', "-"));
        }
    }
    tasks
}

/// Writes the graph of a predictor.
struct Writer {
    builder: ModelBuilder,
    weights: HashMap<String, Tensor>,
    next: usize,
}

impl Writer {
    fn fresh(&mut self, stem: &str) -> String {
        self.next += 1;
        format!("{stem}_{}", self.next)
    }

    /// Adds the weight `name` as an initializer (once) and returns its name.
    fn weight(&mut self, name: &str) -> Result<String, TrainError> {
        let tensor = self
            .weights
            .remove(name)
            .ok_or_else(|| TrainError::Invalid(format!("no weight `{name}`")))?;
        let dims = tensor.size();
        let values = Vec::<f32>::try_from(tensor.to_kind(Kind::Float).flatten(0, -1))?;
        let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.builder.initializer(TensorProto {
            name: name.into(),
            dims,
            data_type: DType::F32.to_onnx(),
            raw_data: raw.into(),
            ..Default::default()
        });
        Ok(name.into())
    }

    fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>) -> String {
        let out = self.fresh(&op.to_lowercase());
        self.builder.node(op, inputs, &[&out], attrs);
        out
    }

    /// `x · Wᵀ + b` of the linear layer `prefix` (`b` when it has one).
    fn linear(&mut self, x: &str, prefix: &str, bias: bool) -> Result<String, TrainError> {
        let w = self.weight(&format!("{prefix}.weight"))?;
        let mut inputs = vec![x.to_string(), w];
        if bias {
            inputs.push(self.weight(&format!("{prefix}.bias"))?);
        }
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        Ok(self.node("Gemm", &refs, vec![attr_int("transB", 1)]))
    }

    /// Sum over the rows listed in `index` (`[R, K]`, padded with the extra zero row `zero`).
    fn gather_sum(&mut self, x: &str, zero: &str, index: &str) -> String {
        let padded = self.node("Concat", &[x, zero], vec![attr_int("axis", 0)]);
        let gathered = self.node("Gather", &[&padded, index], vec![attr_int("axis", 0)]);
        self.node(
            "ReduceSum",
            &[&gathered, "axis1"],
            vec![attr_int("keepdims", 0)],
        )
    }

    /// A k-GNN layer `prefix` on `x` (`zero`: a zero row of `x`'s width), ReLU'd.
    fn gnn_layer(&mut self, x: &str, zero: &str, prefix: &str) -> Result<String, TrainError> {
        let aggregated = self.gather_sum(x, zero, "neighbours");
        let root = self.linear(x, &format!("{prefix}.root"), false)?;
        let neighbours = self.linear(&aggregated, &format!("{prefix}.neighbours"), true)?;
        let sum = self.node("Add", &[&root, &neighbours], vec![]);
        Ok(self.node("Relu", &[&sum], vec![]))
    }

    /// Mean of each graph's node rows.
    fn mean_pool(&mut self, x: &str, zero: &str) -> String {
        let sum = self.gather_sum(x, zero, "members");
        self.node("Mul", &[&sum, "inv_counts"], vec![])
    }

    /// The MLP `prefix` (hidden layers `fc<i>`, then `out`) on `x`: `[B, 1]`.
    fn mlp(&mut self, x: &str, prefix: &str, layers: usize) -> Result<String, TrainError> {
        let mut h = x.to_string();
        for i in 0..layers {
            let z = self.linear(&h, &format!("{prefix}.fc{i}"), true)?;
            h = self.node("Relu", &[&z], vec![]);
        }
        self.linear(&h, &format!("{prefix}.out"), true)
    }

    fn zeros(&mut self, name: &str, width: i64) -> String {
        self.builder.initializer(TensorProto {
            name: name.into(),
            dims: vec![1, width],
            data_type: DType::F32.to_onnx(),
            raw_data: vec![0u8; width as usize * 4].into(),
            ..Default::default()
        });
        name.into()
    }
}

/// The ONNX bytes of `p`; `training` describes its training data in words (stored in the
/// metadata).
pub fn export(p: &Predictor, training: &str) -> Result<Vec<u8>, TrainError> {
    let model = p.meta.model;
    let h = model.hidden;
    let mut w = Writer {
        builder: ModelBuilder::new(OPSET),
        weights: p.variables(),
        next: 0,
    };
    let [ops, numeric, neighbours, members, inv_counts] = INPUT_NAMES;
    w.builder
        .input(ops, DType::I64, &[-1])
        .input(numeric, DType::F32, &[-1, NUMERIC_FEATURES as i64])
        .input(neighbours, DType::I64, &[-1, -1])
        .input(members, DType::I64, &[-1, -1])
        .input(inv_counts, DType::F32, &[-1, 1])
        .ints("axis1", &[1]);
    let zero_h = w.zeros("zero_row", h);
    let zero_2h = w.zeros("zero_row_wide", 2 * h);

    let table = w.weight("backbone.op_embedding.weight")?;
    let embedded = w.node("Gather", &[&table, ops], vec![attr_int("axis", 0)]);
    let numeric_embedded = w.linear(numeric, "backbone.numeric_embedding", true)?;
    let mut layers = vec![w.node("Add", &[&embedded, &numeric_embedded], vec![])];
    for i in 0..model.gnn_layers {
        let next = w.gnn_layer(&layers[i], &zero_h, &format!("backbone.gnn{i}"))?;
        layers.push(next);
    }
    let last = layers.last().expect("embedding").clone();
    let pooled = w.mean_pool(&last, &zero_h);

    let mut columns = vec![w.mlp(&pooled, "head", model.mlp_layers)?];
    let mut adapter_outputs = Vec::new();
    for k in 0..p.meta.adapters.len() {
        let mut a = layers[0].clone();
        for (i, b) in layers[1..].iter().enumerate() {
            let joined = w.node("Concat", &[&a, b], vec![attr_int("axis", 1)]);
            a = w.gnn_layer(&joined, &zero_2h, &format!("adapter{k}.gnn{i}"))?;
        }
        let own = w.mean_pool(&a, &zero_h);
        let both = w.node("Concat", &[&own, &pooled], vec![attr_int("axis", 1)]);
        adapter_outputs.push(w.mlp(&both, &format!("adapter{k}.head"), model.mlp_layers)?);
    }
    columns.extend(adapter_outputs.iter().cloned());
    if !adapter_outputs.is_empty() {
        let refs: Vec<&str> = adapter_outputs.iter().map(String::as_str).collect();
        let all = w.node("Concat", &refs, vec![attr_int("axis", 1)]);
        // opset 13: ReduceMean's axes are an attribute (ReduceSum's an input)
        columns.push(w.node(
            "ReduceMean",
            &[&all],
            vec![attr_ints("axes", &[1]), attr_int("keepdims", 1)],
        ));
    }
    let refs: Vec<&str> = columns.iter().map(String::as_str).collect();
    w.builder
        .node("Concat", &refs, &[OUTPUT_NAME], vec![attr_int("axis", 1)])
        .output_shaped(OUTPUT_NAME, DType::F32, &[-1, columns.len() as i64]);

    if !w.weights.is_empty() {
        let mut left: Vec<&String> = w.weights.keys().collect();
        left.sort();
        return Err(TrainError::Invalid(format!(
            "weights not exported: {left:?}"
        )));
    }
    let tasks = output_tasks(p);
    let meta = BundleMeta {
        format: BUNDLE_FORMAT,
        encoding_version: ENCODING_VERSION,
        vocabulary_hash: vocabulary_hash(),
        tasks,
        training: training.to_string(),
    };
    let mut proto = w.builder.build();
    name_dynamic_dims(&mut proto);
    proto.metadata_props = meta.to_metadata();
    proto.producer_name = "aiop export".into();
    Ok(proto.encode_to_vec())
}

/// Names the dynamic dimensions: N nodes, D in-neighbours, B graphs, M nodes per graph (the
/// writer numbers them by position, which would tie N to B).
fn name_dynamic_dims(proto: &mut aiop_converter::onnx::proto::ModelProto) {
    let names: [&[&str]; 5] = [&["N"], &["N"], &["N", "D"], &["B", "M"], &["B"]];
    let graph = proto.graph.as_mut().expect("built with a graph");
    let values = graph.input.iter_mut().chain(graph.output.iter_mut());
    for (value, dims) in values.zip(names.iter().chain([&["B"][..]].iter())) {
        let shape = value
            .r#type
            .as_mut()
            .and_then(|t| t.tensor_type.as_mut())
            .and_then(|t| t.shape.as_mut());
        for (dim, name) in shape
            .into_iter()
            .flat_map(|s| s.dim.iter_mut())
            .zip(dims.iter())
        {
            dim.dim_value = None;
            dim.dim_param = Some((*name).to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Sample;
    use crate::model::ModelConfig;
    use crate::train::{Hooks, TrainConfig};
    use aiop_predictor::{Backend, EncodedGraph, LabelScaling, RuntimePredictor};

    /// A small random DAG with fan-in (several in-neighbours) and fan-out.
    fn graph(n: usize, seed: usize) -> EncodedGraph {
        let mut edges = Vec::new();
        for i in 1..n as u32 {
            edges.push((i - 1, i));
            if i >= 3 && (i as usize + seed).is_multiple_of(3) {
                edges.push((i - 3, i));
            }
        }
        EncodedGraph {
            ops: (0..n).map(|i| ((i * 7 + seed) % 55) as u16).collect(),
            numeric: (0..n * NUMERIC_FEATURES)
                .map(|i| ((i * 13 + seed) % 17) as f32 / 10.0)
                .collect(),
            edges,
        }
    }

    /// tract runs the exported file to the same scores as libtorch, column by column.
    #[test]
    fn tract_matches_libtorch() {
        let samples: Vec<Sample> = (0..24)
            .map(|i| Sample {
                name: format!("g{i}"),
                family: "f".into(),
                graph: graph(5 + i, i),
                label: i as f64,
                gflops: 0.1 * i as f64,
                params: i as u64,
            })
            .collect();
        let refs: Vec<&Sample> = samples.iter().collect();
        let config = TrainConfig {
            epochs: 3,
            ..Default::default()
        };
        let scaling = LabelScaling::fit(&[(1.0, 1.0), (3.0, 2.0)], true);
        let (mut p, _) = Predictor::pretrain(
            ModelConfig::default(),
            "a",
            &refs,
            scaling,
            &config,
            tch::Device::Cpu,
            Hooks::default(),
        )
        .unwrap();
        for task in ["b", "c"] {
            p.add_adapter(task, &refs, scaling, &config, Hooks::default())
                .unwrap();
        }
        let bytes = export(&p, "test").unwrap();
        let runtime = RuntimePredictor::from_bytes(&bytes, Backend::Tract).unwrap();
        let names: Vec<&str> = runtime.meta.tasks.iter().map(|t| t.task.as_str()).collect();
        assert_eq!(names, ["a", "b", "c", "mean-of-adapters"]);
        let graphs: Vec<&EncodedGraph> = samples.iter().map(|s| &s.graph).collect();
        let expected = p.output_columns(&graphs);
        // batched, and one graph at a time
        let batched = runtime.scores(&graphs).unwrap();
        for (row, want) in batched.iter().zip(&expected) {
            for (a, b) in row.iter().zip(want) {
                assert!((a - b).abs() < 1e-4, "{row:?} vs {want:?}");
            }
        }
        let single = runtime.scores(&graphs[5..6]).unwrap();
        assert!((single[0][1] - expected[5][1]).abs() < 1e-4);
        // the mean column is the predictor's own output
        let own = p.predict(&refs[..1])[0];
        let mapped = runtime.predict(&graphs[..1], &[refs[0].gflops]).unwrap()[0][3];
        assert!((own - mapped).abs() < 1e-3, "{own} vs {mapped}");
    }

    #[test]
    fn bad_bytes_are_errors() {
        assert!(RuntimePredictor::from_bytes(b"not onnx at all", Backend::Tract).is_err());
        assert!(RuntimePredictor::from_bytes(&[], Backend::Tract).is_err());
    }
}
