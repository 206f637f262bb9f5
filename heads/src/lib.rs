//! aiop-heads: the shared task heads with latent sampling (the paper's pseudo-label
//! generation), on libtorch. Data, bodies, heads, targets, metrics and the experiment for the
//! shared task heads (DESIGN.md, "Shared task heads with
//! latent sampling"): a procedurally generated image set that tiny CNN bodies, an HPE head and a
//! segmentation head train on, on a CPU, with no downloads.
//!
//! - [`synthetic`]: seeded scenes of eight shape classes, each with a class label, a
//!   per-pixel segmentation mask and five oriented keypoints, generated in parallel;
//! - [`targets`]: Gaussian heatmap targets for keypoints and their inverse (argmax with the
//!   quarter-cell refinement of SimpleBaselines / HRNet);
//! - [`retest`]: how repeatable a ground truth is (test-retest halves, run noise against body
//!   differences);
//! - [`metrics`]: the tasks' metrics on plain slices: top-1 accuracy, mean IoU over a
//!   confusion matrix, COCO-style keypoint AP from OKS, and PCK.
//!
//! Coordinates: keypoints are `(x, y)` in input pixels, with the centre of pixel (row `i`,
//! column `j`) at `(j, i)`; the image spans `[-0.5, S - 0.5]` on both axes.

pub use tch::Device;

/// Why a step of the shared-heads pipeline failed.
#[derive(Debug, thiserror::Error)]
pub enum HeadsError {
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Invalid(String),
}

pub mod bodies;
pub mod experiment;
pub mod latent;
pub mod layers;
pub mod metrics;
pub mod retest;
pub mod synthetic;
pub mod targets;
pub mod task_heads;
