//! ONNX front end: decode the protobuf, check external data, lower to [`crate::ir`].

mod external;
mod lower;
pub use lower::MAX_TENSOR_ELEMENTS;
pub(crate) use lower::check_size;
pub mod proto;
pub mod skeleton;
pub mod writer;

use std::path::Path;

use bytes::Bytes;
use prost::Message;

use crate::error::{ConvertError, Result};
use crate::ir::Model;

/// Largest file accepted: protobuf messages cannot exceed 2 GiB.
pub const MAX_ONNX_BYTES: u64 = 2 << 30;

/// Files at least this large are memory-mapped instead of read: the weights they hold are
/// never touched, so mapping skips copying (and paging in) hundreds of megabytes.
const MAP_THRESHOLD: u64 = 8 << 20;

/// Reads and lowers an ONNX file. External data files are looked up next to it and must stay
/// inside its folder.
///
/// Large files are memory-mapped; like every reader that maps files, the process would get
/// SIGBUS if another process truncated the file while it is being converted.
pub fn read_onnx(path: &Path) -> Result<Model> {
    let io = |source| ConvertError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = crate::files::open_regular(path, true).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len > crate::files::Limit::Model.bytes() {
        return Err(ConvertError::TooLarge(len));
    }
    let bytes = if len >= MAP_THRESHOLD {
        // SAFETY: the mapping is read-only and private to this process; the bytes are only
        // read while the returned model's decoding runs (see the SIGBUS note above).
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        Bytes::from_owner(map)
    } else {
        let mut buf = Vec::with_capacity(len as usize);
        std::io::Read::read_to_end(&mut &file, &mut buf).map_err(io)?;
        Bytes::from(buf)
    };
    // a bare file name (`aiop inspect m.onnx`) has the empty path as parent: the current folder
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    parse_onnx(bytes, Some(dir))
}

/// Decodes and lowers ONNX bytes. `model_dir` is the folder external data is resolved in;
/// without one (bytes from a browser, say) external tensors keep their shapes but no values.
pub fn parse_onnx(bytes: Bytes, model_dir: Option<&Path>) -> Result<Model> {
    if bytes.len() as u64 > MAX_ONNX_BYTES {
        return Err(ConvertError::TooLarge(bytes.len() as u64));
    }
    let text = looks_like_text(&bytes);
    let proto = proto::ModelProto::decode(bytes).map_err(|e| {
        if text {
            ConvertError::UnknownFormat("a text file, not an ONNX model".into())
        } else {
            ConvertError::Decode(e.to_string())
        }
    })?;
    lower::lower_model(proto, model_dir)
}

/// True when the first bytes are printable text (a common wrong file, worth its own message).
fn looks_like_text(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(512)];
    !head.is_empty()
        && head
            .iter()
            .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
}
