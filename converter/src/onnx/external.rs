//! Tensors stored outside the `.onnx` file (`data_location = EXTERNAL`).
//!
//! Locations are resolved inside the model's folder only: absolute paths, `..` components and
//! symbolic links that lead outside are refused before anything is opened; a folder that cannot
//! be resolved refuses everything. The file opened is the resolved path, without following a
//! link in its last component (a link swapped in after the check fails to open) and without
//! blocking (a FIFO), and must be a regular file.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use crate::error::{ConvertError, Result};

use super::proto::TensorProto;

/// Where a tensor's bytes live outside the model file.
pub(super) struct ExternalLocation {
    pub file: PathBuf,
    pub offset: u64,
    pub length: Option<u64>,
}

fn refuse(tensor: &TensorProto, reason: impl Into<String>) -> ConvertError {
    ConvertError::ExternalData {
        tensor: tensor.name.clone(),
        reason: reason.into(),
    }
}

/// Reads the `location`, `offset` and `length` keys, refusing any location that could leave
/// `model_dir`.
pub(super) fn locate(tensor: &TensorProto, model_dir: &Path) -> Result<ExternalLocation> {
    let mut location = None;
    let mut offset = 0;
    let mut length = None;
    for entry in &tensor.external_data {
        let number = || {
            entry.value.parse::<u64>().map_err(|_| {
                refuse(
                    tensor,
                    format!("`{}` is not a byte count: {:?}", entry.key, entry.value),
                )
            })
        };
        match entry.key.as_str() {
            "location" => location = Some(entry.value.as_str()),
            "offset" => offset = number()?,
            "length" => length = Some(number()?),
            _ => {}
        }
    }
    let location = location.ok_or_else(|| refuse(tensor, "no `location` key"))?;
    let relative = Path::new(location);
    let escapes = relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    if location.is_empty() || escapes || location.contains('\\') && location.contains("..") {
        return Err(refuse(
            tensor,
            format!("path `{location}` points outside the model's folder"),
        ));
    }
    let root = model_dir.canonicalize().map_err(|e| {
        refuse(
            tensor,
            format!(
                "the model's folder {} cannot be resolved: {e}",
                model_dir.display()
            ),
        )
    })?;
    let file = root.join(relative);
    // A symbolic link inside the folder may still lead out of it. (A missing file stays as
    // named: opening it fails with a warning.)
    let file = match file.canonicalize() {
        Ok(real) if !real.starts_with(&root) => {
            return Err(refuse(
                tensor,
                format!("path `{location}` resolves outside the model's folder"),
            ));
        }
        Ok(real) => real,
        Err(_) => file,
    };
    Ok(ExternalLocation {
        file,
        offset,
        length,
    })
}

/// Checks that the external bytes exist and reads them when `want` bytes or fewer are needed.
/// Returns `Ok(None)` when the file is missing or too short (a warning, not an error: the
/// tensor's shape is in the model file).
pub(super) fn read_small(
    loc: &ExternalLocation,
    expected: u64,
    want: u64,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut f = crate::files::open_regular(&loc.file, false)?;
    let size = f.metadata()?.len();
    let length = loc.length.unwrap_or(expected);
    if loc.offset.checked_add(length).is_none_or(|end| end > size) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!(
                "needs bytes {}..{} but {} has {size}",
                loc.offset,
                loc.offset.saturating_add(length),
                loc.file.display()
            ),
        ));
    }
    if length > want || length != expected {
        return Ok(None);
    }
    f.seek(SeekFrom::Start(loc.offset))?;
    let mut buf = vec![0; length as usize];
    f.read_exact(&mut buf)?;
    Ok(Some(buf))
}
