//! Opening the files aiop reads (models, CGs, datasets, predictors, label CSVs): only regular
//! files, never waiting on a FIFO, never reading more than a cap.
//!
//! A FIFO, a device (`/dev/zero`) or a folder named where a file is expected gets a clear error
//! instead of a hang or an unbounded read. The type is checked on the opened handle, so the check
//! and the read are one step. Symbolic links to regular files are followed (models are often
//! linked into zoo folders); external tensor data, which must stay inside the model's folder,
//! also refuses a link in the last component (`onnx::external`).
//!
//! Files aiop writes go through [`write_atomic`]: a temporary file beside the target, renamed
//! over it once complete, so that a failure never leaves a partial file behind.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Largest CG file read (JSON or binary): a few hundred thousand nodes.
pub const MAX_CG_BYTES: u64 = 1 << 30;
/// Largest predictor file read (the bundled one is under 1 MB).
pub const MAX_PREDICTOR_BYTES: u64 = 256 << 20;
/// Largest label CSV or protocol file read.
pub const MAX_TEXT_BYTES: u64 = 256 << 20;

/// The size caps of the files aiop reads, each overridable by an environment variable
/// (`AIOP_MAX_MODEL_BYTES`, `AIOP_MAX_CG_BYTES`, `AIOP_MAX_PREDICTOR_BYTES`,
/// `AIOP_MAX_TEXT_BYTES`, in bytes): lower them on a small machine or for untrusted input,
/// raise them for an unusually large CG. A model cannot exceed protobuf's 2 GiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// ONNX and TensorFlow model files (default and ceiling 2 GiB).
    Model,
    /// CG files, JSON or binary (default [`MAX_CG_BYTES`]).
    Cg,
    /// Predictor files (default [`MAX_PREDICTOR_BYTES`]).
    Predictor,
    /// Label CSVs and protocol files (default [`MAX_TEXT_BYTES`]).
    Text,
}

impl Limit {
    /// The environment variable that overrides this cap.
    pub fn variable(self) -> &'static str {
        match self {
            Limit::Model => "AIOP_MAX_MODEL_BYTES",
            Limit::Cg => "AIOP_MAX_CG_BYTES",
            Limit::Predictor => "AIOP_MAX_PREDICTOR_BYTES",
            Limit::Text => "AIOP_MAX_TEXT_BYTES",
        }
    }

    /// The cap in bytes: the environment's value when it is a number, else the default.
    pub fn bytes(self) -> u64 {
        let default = match self {
            Limit::Model => crate::onnx::MAX_ONNX_BYTES,
            Limit::Cg => MAX_CG_BYTES,
            Limit::Predictor => MAX_PREDICTOR_BYTES,
            Limit::Text => MAX_TEXT_BYTES,
        };
        let set = std::env::var(self.variable())
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(default);
        match self {
            Limit::Model => set.min(crate::onnx::MAX_ONNX_BYTES),
            _ => set,
        }
    }
}

/// Opens `path` for reading if it is a regular file; `follow` false also refuses a symbolic link
/// in the last component.
pub fn open_regular(path: &Path, follow: bool) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(not(unix))]
    let _ = follow; // no O_NOFOLLOW: the type check on the handle still applies
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let nofollow = if follow { 0 } else { libc::O_NOFOLLOW };
        options.custom_flags(libc::O_NONBLOCK | nofollow);
    }
    let f = options.open(path)?;
    if !f.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    Ok(f)
}

/// The regular file `path` opened for streaming, refused when larger than `cap` (a reader that
/// parses as it goes, like a CSV reader, then reads at most about `cap` bytes).
pub fn open_capped(path: &Path, cap: u64) -> io::Result<File> {
    let f = open_regular(path, true)?;
    let len = f.metadata()?.len();
    if len > cap {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} has {len} bytes, more than the {cap} allowed",
                path.display()
            ),
        ));
    }
    Ok(f)
}

/// The bytes of the regular file `path`, refusing files larger than `cap`.
pub fn read_capped(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    let f = open_capped(path, cap)?;
    let len = f.metadata()?.len();
    let mut buf = Vec::with_capacity(len as usize);
    // a file that grows while it is read still stops at the cap
    f.take(cap + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > cap {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} grew past the {cap} bytes allowed", path.display()),
        ));
    }
    Ok(buf)
}

/// The text of the regular file `path` (UTF-8), refusing files larger than `cap`.
pub fn read_text_capped(path: &Path, cap: u64) -> io::Result<String> {
    String::from_utf8(read_capped(path, cap)?).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is not UTF-8 text", path.display()),
        )
    })
}

/// A temporary file in `path`'s folder (created if needed), to be [`persist`]ed over `path`;
/// named `.<file name>.<random>`, so that what a killed writer leaves is recognisable.
pub fn temp_beside(path: &Path) -> io::Result<tempfile::NamedTempFile> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let prefix = format!(
        ".{}.",
        path.file_name().unwrap_or_default().to_string_lossy()
    );
    tempfile::Builder::new().prefix(&prefix).tempfile_in(dir)
}

/// Moves a [`temp_beside`] file over `path`, readable by all (0644) like a plainly written file.
pub fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path).map(drop).map_err(|e| e.error)
}

/// Writes `bytes` to `path` atomically: [`temp_beside`], then [`persist`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = temp_beside(path)?;
    io::Write::write_all(&mut tmp, bytes)?;
    persist(tmp, path)
}

/// Extensions of the model files a folder is searched for (SavedModel folders are found too).
pub const MODEL_EXTENSIONS: &[&str] = &["onnx", "pb"];
/// [`MODEL_EXTENSIONS`] and CG files (`.cg`, as `aiop convert` and `aiop dataset export` write
/// them), for what reads either.
pub const MODEL_AND_CG_EXTENSIONS: &[&str] = &["onnx", "pb", "cg"];

/// SavedModel folders and regular files (or links to them) with one of `extensions` under
/// `dir`, sorted. Links to folders are not followed (no cycles); a FIFO named `*.onnx` is
/// skipped, not opened.
pub fn find(dir: &Path, extensions: &[&str]) -> io::Result<Vec<std::path::PathBuf>> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)?.flatten() {
            let p = e.path();
            let ft = e.file_type()?;
            if ft.is_dir() && crate::tf::is_tf_model(&p) {
                found.push(p); // a SavedModel folder
            } else if ft.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .is_some_and(|x| extensions.iter().any(|e| x == *e))
                && p.is_file()
            {
                found.push(p);
            }
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_cap_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.txt");
        std::fs::write(&f, b"hello").unwrap();
        assert_eq!(read_text_capped(&f, 5).unwrap(), "hello");
        assert!(read_capped(&f, 4).is_err());
        assert!(read_capped(dir.path(), 100).is_err(), "a folder");
        #[cfg(unix)]
        {
            assert!(
                read_capped(Path::new("/dev/zero"), 100).is_err(),
                "a device"
            );
            let link = dir.path().join("link.txt");
            std::os::unix::fs::symlink(&f, &link).unwrap();
            assert!(open_regular(&link, true).is_ok());
            assert!(open_regular(&link, false).is_err());
        }
    }
}
