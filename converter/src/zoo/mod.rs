//! Search-space generators: networks built from an architecture encoding and emitted as real
//! ONNX (with [`crate::onnx::writer`]), so they go through the same converter as any file.

pub mod nb201;
pub mod ofa;
