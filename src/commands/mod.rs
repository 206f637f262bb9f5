//! The CLI's subcommands and what they share: model options, loading, atomic writes.

pub mod convert;
pub mod dataset;
#[cfg(feature = "train")]
pub mod eval;
#[cfg(feature = "train")]
pub mod export;
#[cfg(feature = "train")]
pub mod heads;
pub mod inspect;
pub mod predict;
pub mod predictor;
pub mod render;
pub mod search;
#[cfg(feature = "train")]
pub mod train;
pub mod workers;
pub mod zoo;

use std::path::{Path, PathBuf};

use aiop_converter::cg::format;
use aiop_converter::files;
use aiop_converter::load::{self, LoadError};
use aiop_converter::{Cg, ConvertError, ConvertOptions};
use anyhow::{Context, Result};

/// Exit status for a model the converter rejects.
pub const EXIT_BAD_INPUT: u8 = 2;

/// A model file the converter could not read, with its path (one line).
#[derive(Debug)]
pub struct BadInput {
    pub path: PathBuf,
    pub error: ConvertError,
}

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.error)
    }
}

impl std::error::Error for BadInput {}

/// 2 for bad input — a model, CG file, dataset, label CSV or predictor that is missing, cannot
/// be read or is not what it claims to be (anywhere in the error's chain of causes) — and 1 for
/// anything else (usage errors, failures to write; a missing output folder counts as missing
/// input, 2).
pub fn exit_code(e: &anyhow::Error) -> u8 {
    let bad_input = e.chain().any(|cause| {
        cause.is::<BadInput>()
            || cause.is::<predict::BadPredictor>()
            || cause.is::<ConvertError>()
            || cause.is::<format::FormatError>()
            || cause.is::<aiop_datasets::DatasetError>()
            || cause.is::<aiop_datasets::labels::LabelError>()
            || cause.is::<aiop_datasets::models::ManifestError>()
            || cause.is::<aiop_predictor::RuntimeError>()
            || cause.is::<aiop_search::spaces::onnx::OpenError>()
            || cause.is::<csv::Error>()
            || cause.downcast_ref::<std::io::Error>().is_some_and(|io| {
                matches!(
                    io.kind(),
                    std::io::ErrorKind::NotFound
                        | std::io::ErrorKind::InvalidInput
                        | std::io::ErrorKind::InvalidData
                        | std::io::ErrorKind::UnexpectedEof
                )
            })
    });
    if bad_input { EXIT_BAD_INPUT } else { 1 }
}

/// Options that bind a model's open dimensions.
#[derive(clap::Args, Clone, Debug)]
pub struct ModelOptions {
    /// Exact shape of an input, e.g. `input=1,3,224,224` (repeatable; marks it as data).
    #[arg(long = "input-shape", value_name = "NAME=DIMS")]
    pub input_shape: Vec<String>,
    /// Batch size bound to an open first dimension.
    #[arg(long, default_value_t = 1)]
    pub batch: u64,
    /// Height/width bound to open spatial dimensions of image inputs.
    #[arg(long, default_value_t = 224)]
    pub resolution: u64,
    /// Canonical CG: layout transposes and casts dropped, batch norms and biases folded into
    /// the layer before them, so that TensorFlow and ONNX exports of a network agree
    /// (docs/cg-format.md). Predictors are trained on the plain CG.
    #[arg(long)]
    pub canonical: bool,
}

impl ModelOptions {
    /// The converter options these flags describe.
    pub fn to_options(&self) -> Result<ConvertOptions> {
        let mut o = ConvertOptions {
            batch: self.batch,
            resolution: self.resolution,
            canonical: self.canonical,
            ..Default::default()
        };
        for spec in &self.input_shape {
            o.add_input_shape(spec)?;
        }
        Ok(o)
    }

    /// These flags as command-line arguments again (for worker processes).
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            format!("--batch={}", self.batch),
            format!("--resolution={}", self.resolution),
        ];
        args.extend(
            self.input_shape
                .iter()
                .map(|s| format!("--input-shape={s}")),
        );
        if self.canonical {
            args.push("--canonical".into());
        }
        args
    }
}

pub use aiop_converter::error::one_line;

/// A progress bar of `len` steps: `{spinner} [elapsed] {bar} {pos}/{len}` then `what` (an
/// indicatif template tail such as `models {msg}`).
pub fn progress_bar(len: usize, what: &str) -> indicatif::ProgressBar {
    let template = format!("{{spinner}} [{{elapsed_precise}}] {{bar:40}} {{pos}}/{{len}} {what}");
    indicatif::ProgressBar::new(len as u64)
        .with_style(indicatif::ProgressStyle::with_template(&template).expect("a valid template"))
}

/// Writes `text` to stdout; a closed pipe (`aiop inspect m.onnx | head`) is not an error.
pub fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Converts a model file, or reads a CG file (`.json` or binary) as is
/// ([`aiop_converter::load`]), with the file named in the error.
pub fn load_cg(path: &Path, options: &ConvertOptions) -> Result<Cg> {
    load::load_file(path, options).map_err(|error| match error {
        LoadError::Read(e) => {
            anyhow::Error::new(e).context(format!("cannot read {}", path.display()))
        }
        LoadError::Format(e) => anyhow::Error::new(e).context(format!("{}", path.display())),
        LoadError::Convert(error) => BadInput {
            path: path.to_path_buf(),
            error,
        }
        .into(),
    })
}

/// A temporary file in `path`'s folder (created if needed), to be [`persist`]ed over `path`.
pub fn temp_beside(path: &Path) -> Result<tempfile::NamedTempFile> {
    files::temp_beside(path).with_context(|| format!("cannot write beside {}", path.display()))
}

/// Moves a [`temp_beside`] file over `path`.
pub fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> Result<()> {
    files::persist(tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes `bytes` to `path` through a temporary file in the same folder, so that a failure
/// never leaves a partial file behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    files::write_atomic(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

pub use format::encode_for;
