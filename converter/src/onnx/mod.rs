//! ONNX front end: decode the protobuf, check external data, lower to [`crate::ir`].

mod external;
mod lower;
pub mod proto;
pub mod writer;

use std::path::Path;

use bytes::Bytes;
use prost::Message;

use crate::error::{ConvertError, Result};
use crate::ir::Model;

/// Largest file accepted: protobuf messages cannot exceed 2 GiB.
pub const MAX_ONNX_BYTES: u64 = 2 << 30;

/// Reads and lowers an ONNX file. External data files are looked up next to it and must stay
/// inside its folder.
pub fn read_onnx(path: &Path) -> Result<Model> {
    let io = |source| ConvertError::Io {
        path: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_ONNX_BYTES {
        return Err(ConvertError::TooLarge(len));
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    parse_onnx(Bytes::from(bytes), Some(dir))
}

/// Decodes and lowers ONNX bytes. `model_dir` is the folder external data is resolved in;
/// without one (bytes from a browser, say) external tensors keep their shapes but no values.
pub fn parse_onnx(bytes: Bytes, model_dir: Option<&Path>) -> Result<Model> {
    if bytes.len() as u64 > MAX_ONNX_BYTES {
        return Err(ConvertError::TooLarge(bytes.len() as u64));
    }
    let proto =
        proto::ModelProto::decode(bytes).map_err(|e| ConvertError::Decode(e.to_string()))?;
    lower::lower_model(proto, model_dir)
}
