//! Records of exported model zoos: which name and family a model file gets (the exporter's
//! `manifest.json` when there is one, else a naming rule) and its labels from a zoo's published
//! results.

use std::collections::HashMap;
use std::path::Path;

use aiop_converter::Cg;
use aiop_converter::files::{Limit, read_text_capped};

use crate::Record;
use crate::labels::LabelTable;

/// Why an exporter's manifest could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ManifestError {
    pub path: String,
    pub message: String,
}

/// What a zoo exporter's `manifest.json` says of one file.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct ManifestEntry {
    /// The model's name in the zoo (the key of its published results).
    pub name: String,
    /// The file, relative to the manifest's folder.
    pub file: String,
    /// The model's family, when the exporter knows it.
    #[serde(default)]
    pub family: Option<String>,
}

/// The exporter's manifest in `dir`, by file name; empty when there is none.
pub fn read_manifest(dir: &Path) -> Result<HashMap<String, ManifestEntry>, ManifestError> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        models: Vec<ManifestEntry>,
    }
    let path = dir.join("manifest.json");
    if !path.is_file() {
        return Ok(HashMap::new());
    }
    let error = |message: String| ManifestError {
        path: path.display().to_string(),
        message,
    };
    let text = read_text_capped(&path, Limit::Text.bytes()).map_err(|e| error(e.to_string()))?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| error(e.to_string()))?;
    Ok(manifest
        .models
        .into_iter()
        .map(|e| (e.file.clone(), e))
        .collect())
}

/// The leading letters of a model name: its family by naming convention (`resnet50` →
/// `resnet`, `efficientnet_b0` → `efficientnet`); the whole name when it starts otherwise.
pub fn family_of(name: &str) -> String {
    let letters: String = name
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    if letters.is_empty() {
        name.to_string()
    } else {
        letters.to_lowercase()
    }
}

/// The record of the model file `file` (its path relative to the zoo folder) converted to `cg`:
/// named as the manifest lists it (else as the CG), in `family` when given (else the
/// manifest's, else by [`family_of`]), labelled from `labels` at the CG's resolution.
pub fn model_record(
    cg: &Cg,
    file: &str,
    listed: Option<&ManifestEntry>,
    family: Option<&str>,
    labels: Option<&LabelTable>,
) -> Record {
    let resolution = cg.resolution();
    let name = listed.map_or(cg.name.as_str(), |e| e.name.as_str());
    let family = family
        .map(str::to_string)
        .or_else(|| listed.and_then(|e| e.family.clone()))
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| family_of(name));
    let mut record = Record::new(cg, &family, file, resolution);
    record.name = name.to_string();
    if let Some(table) = labels {
        record.labels = table.labels_for(name, resolution);
    }
    record
}

/// A record's name as a file stem: path separators, CSV quoting characters and control
/// characters become `_`, and leading dots are dropped (no hidden or relative names).
pub fn file_stem(name: &str) -> String {
    let stem: String = name
        .chars()
        .map(|c| {
            if matches!(c, '/' | '\\' | ',' | '"') || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    stem.trim_start_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_by_leading_letters() {
        assert_eq!(family_of("resnet50"), "resnet");
        assert_eq!(family_of("EfficientNet_b0"), "efficientnet");
        assert_eq!(family_of("3dnet"), "3dnet");
    }

    #[test]
    fn file_stems_stay_in_their_folder() {
        assert_eq!(file_stem("../a/b,c\n"), "_a_b_c_");
        assert_eq!(file_stem(".hidden"), "hidden");
    }

    #[test]
    fn manifests_name_and_group_files() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_manifest(dir.path()).unwrap().is_empty());
        std::fs::write(
            dir.path().join("manifest.json"),
            r#"{"models": [{"name": "resnet18", "file": "a.onnx", "family": "resnet"}]}"#,
        )
        .unwrap();
        let m = read_manifest(dir.path()).unwrap();
        assert_eq!(m["a.onnx"].name, "resnet18");
        let cg = Cg::default();
        let r = model_record(&cg, "a.onnx", m.get("a.onnx"), None, None);
        assert_eq!((r.name.as_str(), r.family.as_str()), ("resnet18", "resnet"));
        std::fs::write(dir.path().join("manifest.json"), "{").unwrap();
        let e = read_manifest(dir.path()).unwrap_err().to_string();
        assert!(e.contains("manifest.json: EOF"), "{e}");
    }
}
