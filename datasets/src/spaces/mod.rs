//! Search-space generators: networks built from an architecture encoding and emitted as real
//! ONNX (with [`aiop_converter::onnx::writer`]), so they go through the same converter as any file.

pub mod nb201;
pub mod ofa;
