//! The spaces `aiop search --space` explores.

pub mod nb201;
pub mod onnx;
