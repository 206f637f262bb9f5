//! What the trainer and every runtime share about the predictor: how a CG becomes tensors
//! ([`encoding`]), how labels are scaled for training and mapped back ([`scaling`]), and the
//! ranking metrics it is judged by ([`metrics`]). Pure Rust, no libtorch: safe for WASM.

pub mod encoding;
pub mod metrics;
pub mod scaling;

pub use encoding::{ENCODING_VERSION, EncodedGraph, NUMERIC_FEATURES, OP_CATEGORIES, encode};
pub use scaling::LabelScaling;
