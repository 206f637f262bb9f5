//! The package's exceptions (defined in `aiop/errors.py`, so that they can derive from two
//! Python bases) raised from the libraries' errors, each with the CLI's one-line message.

use std::io;
use std::path::Path;

use aiop_converter::ConvertError;
use aiop_converter::error::one_line;
use aiop_converter::load::LoadError;
use aiop_predictor::RuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyType;

/// The exception classes of `aiop.errors`.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// `AiopError`: anything else that went wrong inside aiop.
    Aiop,
    /// `BadInputError(AiopError, ValueError)`: a model, CG, predictor, label file or generator
    /// spec that is not what it claims to be (the CLI's exit status 2).
    BadInput,
    /// `MissingFileError(BadInputError, FileNotFoundError)`: an input that does not exist.
    MissingFile,
    /// `UnknownTaskError(AiopError, ValueError)`: a task the predictor has no output for.
    UnknownTask,
}

impl Kind {
    fn class_name(self) -> &'static str {
        match self {
            Kind::Aiop => "AiopError",
            Kind::BadInput => "BadInputError",
            Kind::MissingFile => "MissingFileError",
            Kind::UnknownTask => "UnknownTaskError",
        }
    }
}

/// An exception of `kind` with `message` made one line (control characters escaped).
pub fn raise(kind: Kind, message: impl AsRef<str>) -> PyErr {
    let message = one_line(message.as_ref());
    Python::attach(|py| {
        match py
            .import("aiop.errors")
            .and_then(|m| m.getattr(kind.class_name()))
            .and_then(|class| Ok(class.cast_into::<PyType>()?))
        {
            Ok(class) => PyErr::from_type(class, message),
            // only when `_aiop` is imported on its own, without the package
            Err(_) => pyo3::exceptions::PyValueError::new_err(message),
        }
    })
}

/// A model or CG file (or bytes named `path`) that did not load, as the CLI reports it.
pub fn load(path: &Path, error: LoadError) -> PyErr {
    let shown = path.display();
    match error {
        LoadError::Read(e) => read(path, &e),
        LoadError::Format(e) => raise(Kind::BadInput, format!("{shown}: {e}")),
        LoadError::Convert(e) => convert(path, e),
    }
}

/// A model that did not convert: `path: why`.
pub fn convert(path: &Path, error: ConvertError) -> PyErr {
    let missing = matches!(&error, ConvertError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound);
    let kind = if missing {
        Kind::MissingFile
    } else {
        Kind::BadInput
    };
    raise(kind, format!("{}: {error}", path.display()))
}

/// A file that could not be read.
pub fn read(path: &Path, error: &io::Error) -> PyErr {
    let kind = match error.kind() {
        io::ErrorKind::NotFound => Kind::MissingFile,
        _ => Kind::BadInput,
    };
    raise(kind, format!("cannot read {}: {error}", path.display()))
}

/// A predictor file (named `source`) that cannot be used, or a prediction that failed.
pub fn predictor(source: &str, error: RuntimeError) -> PyErr {
    let kind = match &error {
        RuntimeError::Bundle(aiop_predictor::BundleError::NoTask { .. }) => Kind::UnknownTask,
        RuntimeError::Io(e) if e.kind() == io::ErrorKind::NotFound => Kind::MissingFile,
        RuntimeError::Engine { .. } | RuntimeError::Unavailable(_) => Kind::Aiop,
        _ => Kind::BadInput,
    };
    raise(kind, format!("{source}: {error}"))
}
