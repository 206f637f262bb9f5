//! Labelled samples for one task, read from a `.aiopds` dataset and encoded once.

use std::path::Path;

use aiop_datasets::Reader;
use aiop_predictor::{EncodedGraph, LabelScaling, NUMERIC_FEATURES, encode};
use tch::Tensor;

use crate::TrainError;

/// One labelled architecture.
#[derive(Clone, Debug)]
pub struct Sample {
    pub name: String,
    pub family: String,
    pub graph: EncodedGraph,
    /// The label in the task's metric.
    pub label: f64,
    /// MACs in billions (torchvision's "GFLOPS"), for Eq. 5 and the FLOPs baseline.
    pub gflops: f64,
    /// Parameters, for the params baseline.
    pub params: u64,
}

/// Every record of `path` that has a label for `task`, in file order.
pub fn load(path: &Path, task: &str) -> Result<Vec<Sample>, TrainError> {
    let named = |source| TrainError::DatasetFile {
        path: path.to_path_buf(),
        source,
    };
    let file =
        aiop_converter::files::open_regular(path, true).map_err(TrainError::reading(path))?;
    let reader = Reader::new(std::io::BufReader::new(file)).map_err(named)?;
    let mut samples = Vec::new();
    for record in reader {
        let record = record.map_err(named)?;
        let Some(&label) = record.labels.get(task) else {
            continue;
        };
        let cg = record
            .cg()
            .map_err(|e| named(aiop_datasets::DatasetError::from(e)))?;
        samples.push(Sample {
            graph: encode(&cg),
            label,
            gflops: record.macs as f64 / 1e9,
            params: record.params,
            name: record.name,
            family: record.family,
        });
    }
    if samples.is_empty() {
        return Err(TrainError::NoLabels {
            path: path.to_path_buf(),
            task: task.to_string(),
        });
    }
    Ok(samples)
}

/// Writes `samples` as one safetensors file of concatenated tensors: `ops` `[N]`, `numeric`
/// `[N, NUMERIC_FEATURES]`, `edge_src`/`edge_dst` `[E]` (batch-wide node indices; messages
/// flow from source to destination), `node_offsets`/`edge_offsets` `[G+1]`, and per graph
/// `labels`, `targets` (labels standardised, Eq. 4) and `gflops`.
pub fn write_tensors(samples: &[Sample], path: &Path) -> Result<(), TrainError> {
    let graphs: Vec<&EncodedGraph> = samples.iter().map(|s| &s.graph).collect();
    let batch = crate::batch::GraphBatch::new(&graphs, tch::Device::Cpu);
    let offsets = |count: fn(&EncodedGraph) -> usize| {
        let mut acc = 0i64;
        let mut out = vec![0i64];
        out.extend(graphs.iter().map(|g| {
            acc += count(g) as i64;
            acc
        }));
        Tensor::from_slice(&out)
    };
    let pairs: Vec<(f64, f64)> = samples.iter().map(|s| (s.label, s.gflops)).collect();
    let scaling = LabelScaling::fit(&pairs, false);
    let per_graph = |f: &dyn Fn(&Sample) -> f64| {
        Tensor::from_slice(&samples.iter().map(|s| f(s) as f32).collect::<Vec<f32>>())
    };
    let tensors = [
        ("ops", batch.ops),
        ("numeric", batch.numeric.view([-1, NUMERIC_FEATURES as i64])),
        ("edge_src", batch.src),
        ("edge_dst", batch.dst),
        ("node_offsets", offsets(|g| g.node_count())),
        ("edge_offsets", offsets(|g| g.edges.len())),
        ("labels", per_graph(&|s| s.label)),
        ("targets", per_graph(&|s| scaling.scale(s.label, s.gflops))),
        ("gflops", per_graph(&|s| s.gflops)),
    ];
    Tensor::write_safetensors(&tensors, path)?;
    Ok(())
}
