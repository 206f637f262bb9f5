//! aiop-converter: model files (ONNX, TensorFlow) → computational graphs (CG) with shapes, MACs and params.
//!
//! ```no_run
//! let cg = aiop_converter::convert_file("resnet50.onnx".as_ref(), &Default::default())?;
//! println!("{} nodes, {} MACs, {} params", cg.node_count(), cg.macs(), cg.params());
//! # Ok::<(), aiop_converter::ConvertError>(())
//! ```
//!
//! Layers, from the file up: [`onnx`] and [`tf`] decode and lower to [`ir`]; [`rewrite`] turns
//! quantized and runtime-fused operators back into the float network's; [`infer`] computes a fact
//! (type, shape, small values) for every tensor with per-op rules; [`cg`] keeps the operations
//! on the data path and counts costs; [`render`] draws the result.

pub mod cg;
mod convert;
pub mod error;
pub mod files;
pub mod infer;
pub mod ir;
pub mod load;
pub mod onnx;
pub mod render;
pub mod rewrite;
pub mod tf;
pub mod value;

pub use cg::{Cg, CgNode, OpCategory, ShapeStatus};
pub use convert::{
    ConvertOptions, convert_file, convert_model, convert_onnx_bytes, convert_tf_bytes, data_inputs,
    seed_facts,
};
pub use error::ConvertError;
