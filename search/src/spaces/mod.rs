//! The spaces `aiop search --space` explores.

pub mod nb201;
pub mod ofa;
pub mod onnx;
