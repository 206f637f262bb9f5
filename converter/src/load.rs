//! Whatever a user hands aiop as "a model", read one way: a model file (ONNX, TensorFlow
//! GraphDef or SavedModel folder) is converted; a CG file written by `aiop convert` (binary, or
//! JSON named `*.json`) is read as it is, made canonical when the options ask for it. The CLI,
//! the browser page and the Python package all load through here.

use std::io::Read;
use std::path::Path;

use crate::cg::format::{self, FormatError};
use crate::files::{self, Limit};
use crate::{Cg, ConvertError, ConvertOptions, convert_file, convert_onnx_bytes, convert_tf_bytes};

/// Why a model or CG file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A model file that did not convert.
    #[error(transparent)]
    Convert(#[from] ConvertError),
    /// A CG file that is not a valid CG.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// A CG file that could not be read (missing, not a regular file, over the size cap).
    #[error(transparent)]
    Read(#[from] std::io::Error),
}

/// What a file holds, judged from its first bytes and its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    BinaryCg,
    JsonCg,
    Model,
}

fn kind(head: &[u8], name: &str) -> Kind {
    if format::is_binary_cg(head) {
        Kind::BinaryCg
    } else if name.ends_with(".json") {
        Kind::JsonCg
    } else {
        Kind::Model
    }
}

/// The CG of the model or CG file at `path` (a SavedModel is a folder).
pub fn load_file(path: &Path, options: &ConvertOptions) -> Result<Cg, LoadError> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let found = if path.is_file() {
        let mut head = [0u8; 8];
        let n = files::open_regular(path, true)
            .and_then(|mut f| f.read(&mut head))
            .unwrap_or(0);
        kind(&head[..n], &name)
    } else {
        Kind::Model
    };
    let cg = match found {
        Kind::BinaryCg => format::from_binary(&files::read_capped(path, Limit::Cg.bytes())?)?,
        Kind::JsonCg => format::from_json(&files::read_text_capped(path, Limit::Cg.bytes())?)?,
        Kind::Model => return Ok(caught(|| convert_file(path, options))?),
    };
    Ok(canonical_if_asked(cg, options))
}

/// The CG of the bytes of a model or CG file named `name` (an ONNX file, a frozen TensorFlow
/// graph `*.pb`, or a CG file; a SavedModel needs its folder, [`load_file`]).
pub fn load_bytes(bytes: Vec<u8>, name: &str, options: &ConvertOptions) -> Result<Cg, LoadError> {
    let cg = match kind(&bytes, name) {
        Kind::BinaryCg => format::from_binary(&bytes)?,
        Kind::JsonCg => {
            let text = std::str::from_utf8(&bytes)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            format::from_json(text)?
        }
        Kind::Model if name.to_ascii_lowercase().ends_with(".pb") => {
            return Ok(caught(|| convert_tf_bytes(&bytes, name, options))?);
        }
        Kind::Model => return Ok(caught(|| convert_onnx_bytes(bytes.into(), name, options))?),
    };
    Ok(canonical_if_asked(cg, options))
}

fn canonical_if_asked(cg: Cg, options: &ConvertOptions) -> Cg {
    if options.canonical {
        crate::cg::canonicalize(&cg)
    } else {
        cg
    }
}

/// Runs a conversion with a panic turned into an error: the converter reports bad files as
/// errors, and a panic would be a bug, but one file's bug must not end a batch. (In WASM,
/// where a panic aborts, the page restarts its worker instead.)
fn caught(convert: impl FnOnce() -> Result<Cg, ConvertError>) -> Result<Cg, ConvertError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(convert))
        .unwrap_or_else(|panic| Err(ConvertError::Internal(panic_message(&panic))))
}

/// The message of a caught panic.
pub fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}
