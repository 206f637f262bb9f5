//! Labelled samples for one task, read from a `.aiopds` dataset and encoded once.

use std::path::Path;

use aiop_converter::dataset::Reader;
use aiop_predictor::{EncodedGraph, encode};

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
    let file = std::fs::File::open(path)?;
    let reader = Reader::new(std::io::BufReader::new(file))?;
    let mut samples = Vec::new();
    for record in reader {
        let record = record?;
        let Some(&label) = record.labels.get(task) else {
            continue;
        };
        let cg = record
            .cg()
            .map_err(aiop_converter::dataset::DatasetError::from)?;
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
        return Err(TrainError::Invalid(format!(
            "{}: no record has a `{task}` label",
            path.display()
        )));
    }
    Ok(samples)
}
