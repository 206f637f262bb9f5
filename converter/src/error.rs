//! Errors of the converter. Each message is one line and says what is wrong with the file.

use std::path::PathBuf;

/// Why a model could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The file (or directory) could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not a model in a format the converter knows.
    #[error("unrecognised model format: {0}")]
    UnknownFormat(String),
    /// The bytes are not a well-formed ONNX protobuf.
    #[error("not a valid ONNX file: {0}")]
    Decode(String),
    /// The file is well-formed but breaks a rule of the format.
    #[error("not a valid TensorFlow file: {0}")]
    DecodeTf(String),

    #[error("invalid model: {0}")]
    Invalid(String),
    /// A tensor's external data points somewhere the converter will not read.
    #[error("external data of tensor `{tensor}` refused: {reason}")]
    ExternalData { tensor: String, reason: String },
    /// The file is larger than any valid model of its format.
    #[error(
        "file too large ({0} bytes; the cap is AIOP_MAX_MODEL_BYTES, at most 2 GiB, the protobuf limit)"
    )]
    TooLarge(u64),
    /// The graph's data flow has a cycle.
    #[error("the graph has a cycle through node {0}")]
    Cycle(String),
    /// The converter hit a bug on this file (reported instead of crashing the caller).
    #[error("internal error while converting (please report it with the file): {0}")]
    Internal(String),
    /// A `--input-shape` override is malformed or names no input.
    #[error("input shape override: {0}")]
    InputShape(String),
}

/// Result alias of the converter.
pub type Result<T, E = ConvertError> = std::result::Result<T, E>;

/// `text` on one line, safe for a terminal: control characters (newlines, escape sequences
/// from names inside a hostile file) are written escaped, as `\n` or `\u{1b}`.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
