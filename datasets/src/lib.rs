//! aiop-datasets: what the predictor learns from and is judged by.
//!
//! - [`format`]: the `.aiopds` file — a zstd stream of labelled CG records, read one record at
//!   a time ([`Reader`], [`Writer`], [`Record`]).
//! - [`labels`]: the published results of model zoos (timm, torchvision, OpenMMLab) as labels
//!   keyed by task, and `name,value` label CSVs; [`benchmarks`]: NAS-Bench-201's published
//!   tables; [`models`]: the name, family and labels of each file of an exported zoo.
//! - [`split`] and [`stats`]: train/test splits and the statistics of a dataset.
//! - [`rank`]: Spearman's ρ, Kendall's τ-b and MAE — how every prediction is judged.
//! - [`spaces`]: search-space generators (NAS-Bench-201 cells, OFA subnets) that emit real ONNX
//!   for the converter.
//!
//! The converter (`aiop-converter`) turns model files into CGs; this crate never reads a model
//! file itself.

pub mod benchmarks;
pub mod format;
pub mod labels;
pub mod models;
pub mod rank;
pub mod spaces;
pub mod split;
pub mod stats;

pub use format::{DatasetError, Header, MAGIC, MAX_EXPANSION, Reader, Record, VERSION, Writer};
