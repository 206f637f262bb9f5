//! What the trainer and every runtime share about the predictor: how a CG becomes tensors
//! ([`encoding`], [`inputs`]), how labels are scaled for training and mapped back
//! ([`scaling`]), the ranking metrics it is judged by ([`metrics`]), and the exported
//! predictor file: its graph ([`graph`]), its metadata ([`bundle`]), the graph-statistics trees
//! it may blend in ([`trees`]), run natively or in WASM
//! ([`runtime`], with the `native` backend in [`native`]). No libtorch.

#[cfg(not(any(feature = "native", feature = "tract", feature = "ort")))]
compile_error!("aiop-predictor runs predictors with an engine: enable `native`, `tract` or `ort`");

pub mod bundle;
pub mod encoding;
pub mod graph;
pub mod inputs;
pub mod metrics;
#[cfg(feature = "native")]
pub mod native;
pub mod runtime;
pub mod scaling;
pub mod trees;

/// The default predictor (`models/README.md` is its model card), with the `bundled` feature.
#[cfg(feature = "bundled")]
pub const DEFAULT_PREDICTOR: &[u8] = include_bytes!("../../models/predictor/aiop-default.onnx");

pub use bundle::{BundleError, BundleMeta, TaskOutput};
pub use encoding::{ENCODING_VERSION, EncodedGraph, NUMERIC_FEATURES, OP_CATEGORIES, encode};
pub use inputs::{InputShape, PredictorInputs};
pub use runtime::{Backend, Prediction, RuntimeError, RuntimePredictor};
pub use scaling::LabelScaling;
