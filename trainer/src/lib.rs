//! AIO-P predictor training on libtorch (through `tch`).
//!
//! - [`batch`]: many encoded CGs as one disjoint graph (sparse message passing);
//! - [`model`]: the k-GNN backbone (embedding, GraphConv layers, mean pooling) and MLP head;
//! - [`data`]: labelled samples from `.aiopds` datasets;
//! - [`train`]: seeded training loops (validation, checkpoints) and batched prediction;
//! - [`optim`]: Adam with a state that checkpoints save;
//! - [`checkpoint`]: saving and resuming interrupted runs;
//! - [`predictor`]: a trained predictor with its label scaling, saved and loaded;
//! - [`export`]: the predictor as one ONNX file for tract, ONNX Runtime and browsers;
//! - [`eval`]: SRCC, Kendall τ and MAE beside the FLOPs, params and graph-statistics baselines;
//! - [`stats_regressor`]: the graph-statistics baseline (boosted trees on log MACs, params,
//!   nodes and resolution);
//! - [`adaproxy`]: the AdaProxy rescaling, the paper's alternative to fine-tuning;
//! - [`transfer`]: zero-shot and k-sample fine-tuned transfer to a new task;
//! - [`protocol`]: whole evaluation protocols (TOML) with every baseline, as in the paper;
//! - [`leave_family_out`]: each family held out in turn, beside the FLOPs and
//!   graph-statistics baselines (NASLib's zero-cost proxies, read by
//!   `aiop_datasets::benchmarks`, are baselines of the NB-201 protocols);

pub mod adaproxy;
pub mod average;
pub mod batch;
pub mod blend;
pub mod checkpoint;
pub mod data;
pub mod defaults;
pub mod eval;
pub mod export;
pub mod leave_family_out;
pub mod leave_zoo_out;
pub mod model;
pub mod optim;
pub mod predictor;
pub mod protocol;
pub mod stats_regressor;
pub mod train;
pub mod transfer;

pub use tch::Device;

/// Why training could not go on.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    #[error("{0}")]
    Dataset(#[from] aiop_datasets::DatasetError),
    #[error("{0}")]
    Labels(#[from] aiop_datasets::labels::LabelError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A file that could not be read, named (its cause follows in the error's chain).
    #[error("cannot read {}", path.display())]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A dataset file that is not a valid dataset, named (its cause follows in the chain).
    #[error("{}", path.display())]
    DatasetFile {
        path: std::path::PathBuf,
        #[source]
        source: aiop_datasets::DatasetError,
    },
    #[error("{0}")]
    Invalid(String),
    /// A dataset with no record labelled for the task.
    #[error("{}: no record has a `{task}` label", path.display())]
    NoLabels {
        path: std::path::PathBuf,
        task: String,
    },
    /// Writing or reading a JSON file of the trainer's own (metadata, checkpoints, caches).
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// A predictor that cannot be written as an ONNX bundle.
    #[error("{0}")]
    Bundle(#[from] aiop_predictor::BundleError),
}

impl TrainError {
    /// The error of reading `path`: `io_error.map_err(TrainError::reading(path))`.
    pub fn reading(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
        move |source| TrainError::Read {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The device to train on: CUDA when libtorch sees a GPU, else the CPU.
pub fn default_device() -> Device {
    Device::cuda_if_available()
}
