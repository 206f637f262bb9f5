//! Data, targets and metrics for the shared task heads (DESIGN.md, "Shared task heads with
//! latent sampling"): a procedurally generated image set that tiny CNN bodies, an HPE head and a
//! segmentation head train on, on a CPU, with no downloads.
//!
//! - [`synthetic`]: seeded scenes of eight shape classes, each with a class label, a
//!   per-pixel segmentation mask and five oriented keypoints, generated in parallel;
//! - [`targets`]: Gaussian heatmap targets for keypoints and their inverse (argmax with the
//!   quarter-cell refinement of SimpleBaselines / HRNet);
//! - [`metrics`]: the tasks' metrics on plain slices: top-1 accuracy, mean IoU over a
//!   confusion matrix, COCO-style keypoint AP from OKS, and PCK.
//!
//! Coordinates: keypoints are `(x, y)` in input pixels, with the centre of pixel (row `i`,
//! column `j`) at `(j, i)`; the image spans `[-0.5, S - 0.5]` on both axes.

pub mod bodies;
pub mod experiment;
pub mod latent;
pub mod layers;
pub mod metrics;
pub mod synthetic;
pub mod targets;
pub mod task_heads;
