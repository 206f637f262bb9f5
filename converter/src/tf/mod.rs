//! TensorFlow import: a frozen `GraphDef` (`.pb`) or a SavedModel folder (`saved_model.pb`;
//! variables are known by the shapes their handles declare, the `variables/` files are never
//! read) lowered to the same [`crate::ir`] graph as ONNX, so a network gives the same CG
//! whichever way it was exported. [`inline`] flattens TF2 function calls and orders the nodes;
//! [`lower`] holds the op and layout rules.

mod inline;
mod lower;
pub mod proto;

use std::path::Path;

use prost::Message;

use crate::error::{ConvertError, Result};
use crate::ir::Model;

/// Largest `.pb` read (as for ONNX files).
const MAX_PB_BYTES: u64 = crate::onnx::MAX_ONNX_BYTES;

/// Whether `path` names a TensorFlow model: a `.pb` file or a SavedModel folder.
pub fn is_tf_model(path: &Path) -> bool {
    if path.is_dir() {
        return path.join("saved_model.pb").is_file();
    }
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("pb"))
}

/// Decodes and lowers the bytes of a frozen `GraphDef`, or of a `saved_model.pb` when
/// `saved_model` (its first meta graph, through its `serving_default` signature or else the
/// first one). Function calls (TF2) are inlined first.
pub fn parse_tf(bytes: &[u8], saved_model: bool) -> Result<Model> {
    if bytes.len() as u64 > MAX_PB_BYTES {
        return Err(ConvertError::TooLarge(bytes.len() as u64));
    }
    let bytes = bytes::Bytes::copy_from_slice(bytes);
    let (graph, outputs) = if saved_model {
        let model = proto::SavedModel::decode(bytes)
            .map_err(|e| ConvertError::DecodeTf(format!("not a SavedModel: {e}")))?;
        let meta = model
            .meta_graphs
            .into_iter()
            .find(|m| m.graph_def.is_some())
            .ok_or_else(|| ConvertError::Invalid("the SavedModel has no graph".into()))?;
        let outputs = serving_outputs(&meta);
        (meta.graph_def.unwrap_or_default(), outputs)
    } else {
        let graph = proto::GraphDef::decode(bytes)
            .map_err(|e| ConvertError::DecodeTf(format!("not a GraphDef: {e}")))?;
        (graph, Vec::new())
    };
    lower::lower_graph(inline::flatten(graph, &outputs)?)
}

/// The output tensors of the signature a SavedModel serves with: `serving_default`, else the
/// first signature that is not an internal one (`__saved_model_init_op`). Empty for TF1 models
/// without signatures: then every node is kept.
fn serving_outputs(meta: &proto::MetaGraphDef) -> Vec<String> {
    let signature = meta.signature_def.get("serving_default").or_else(|| {
        meta.signature_def
            .iter()
            .find(|(name, s)| !name.starts_with("__") && !s.outputs.is_empty())
            .map(|(_, s)| s)
    });
    signature
        .map(|s| s.outputs.values().map(|t| t.name.clone()).collect())
        .unwrap_or_default()
}

/// Reads a `.pb` file or a SavedModel folder.
pub fn read_tf(path: &Path) -> Result<Model> {
    let (file, saved_model) = if path.is_dir() {
        (path.join("saved_model.pb"), true)
    } else {
        let named = path.file_name().is_some_and(|n| n == "saved_model.pb");
        (path.to_path_buf(), named)
    };
    let io = |source| ConvertError::Io {
        path: file.clone(),
        source,
    };
    let len = std::fs::metadata(&file).map_err(io)?.len();
    if len > crate::files::Limit::Model.bytes() {
        return Err(ConvertError::TooLarge(len));
    }
    let bytes = crate::files::read_capped(&file, crate::files::Limit::Model.bytes()).map_err(io)?;
    parse_tf(&bytes, saved_model)
}
