//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `aiop` binary with `args`.
pub fn aiop(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aiop"))
        .args(args)
        .output()
        .expect("aiop runs")
}

/// Stdout and stderr of a run, for assertion messages.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The committed fixtures folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Unpacks `tests/fixtures/<name>.tar.xz` (a zoo of weight-stripped exports) into a fresh
/// temporary folder and returns it with the sorted model paths.
pub fn unpack_zoo(name: &str) -> (tempfile::TempDir, Vec<PathBuf>) {
    let archive = fixtures().join(format!("{name}.tar.xz"));
    let compressed =
        std::fs::read(&archive).unwrap_or_else(|e| panic!("{}: {e}", archive.display()));
    let mut tar_bytes = Vec::new();
    lzma_rs::xz_decompress(&mut compressed.as_slice(), &mut tar_bytes).expect("valid xz");
    let dir = tempfile::tempdir().expect("temp dir");
    tar::Archive::new(tar_bytes.as_slice())
        .unpack(dir.path())
        .expect("valid tar");
    let mut models: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .expect("unpacked")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .collect();
    models.sort();
    (dir, models)
}

/// The labelled data folder: `AIOP_DATA`, else the checkout's vendored `data/`.
pub fn data_dir() -> PathBuf {
    std::env::var_os("AIOP_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("data"))
}

/// `aiop dataset stats PATH --json`, parsed; panics if the command fails.
pub fn dataset_stats(path: &Path) -> serde_json::Value {
    let o = aiop(&["dataset", "stats", path.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{:?}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}
