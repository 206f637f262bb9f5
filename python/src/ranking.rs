//! `rank`: networks (files, folders of them, or CGs) sorted by one task's prediction, scored
//! against labels when given — `aiop rank --json`'s result, from the same library code.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use aiop_converter::files::{self, Limit};
use aiop_converter::{Cg, ConvertOptions, load};
use aiop_datasets::rank::{Ranking, Unranked};
use aiop_predictor::runtime::within_budget;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rayon::prelude::*;

use crate::errors::{self, Kind};
use crate::graph::PyCg;
use crate::predictor::PyPredictor;

/// What to do with a network that cannot be ranked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnError {
    Raise,
    Skip,
}

/// A network to rank: already converted, or a file to convert.
enum Item<'a> {
    Cg(&'a PyCg),
    File(PathBuf),
}

/// A converted network with its `(file, name)` and predictor input.
struct Ready<'a> {
    file: String,
    name: String,
    owned: Option<PyCg>,
    given: Option<&'a PyCg>,
}

impl Ready<'_> {
    fn cg(&self) -> &PyCg {
        self.given.or(self.owned.as_ref()).expect("one of the two")
    }
}

/// `name → value` from a `name,value` CSV path or a dict.
fn labels(value: &Bound<'_, PyAny>) -> PyResult<HashMap<String, f64>> {
    if let Ok(dict) = value.cast::<PyDict>() {
        return dict.extract().map_err(|_| {
            PyTypeError::new_err("labels: a dict of name → float, or the path of a name,value CSV")
        });
    }
    let path: PathBuf = value.extract()?;
    read_labels(value.py(), path)
}

/// Reads a `name,value` labels CSV (the format of `aiop rank --labels`).
#[pyfunction]
pub fn read_labels(py: Python<'_>, path: PathBuf) -> PyResult<HashMap<String, f64>> {
    py.detach(|| {
        let file =
            files::open_capped(&path, Limit::Text.bytes()).map_err(|e| errors::read(&path, &e))?;
        aiop_datasets::labels::read_values(file, &path.display().to_string())
            .map_err(|e| errors::raise(Kind::BadInput, e.to_string()))
    })
}

/// The items of `sources`: CGs as they are, folders expanded to the model and CG files in them.
fn items<'a>(
    sources: &'a [Bound<'a, PyAny>],
    refs: &'a [Option<PyRef<'a, PyCg>>],
) -> PyResult<Vec<Item<'a>>> {
    let mut out = Vec::new();
    for (source, cg) in sources.iter().zip(refs) {
        if let Some(cg) = cg {
            out.push(Item::Cg(cg));
            continue;
        }
        let path: PathBuf = source.extract().map_err(|_| {
            PyTypeError::new_err("rank: each source is a path (file or folder) or an aiop.CG")
        })?;
        if path.is_dir() && !aiop_converter::tf::is_tf_model(&path) {
            let found = files::find(&path, files::MODEL_AND_CG_EXTENSIONS)
                .map_err(|e| errors::read(&path, &e))?;
            out.extend(found.into_iter().map(Item::File));
        } else {
            out.push(Item::File(path));
        }
    }
    Ok(out)
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
}

/// Ranks networks by the predictor's `task`, best first.
///
/// `sources` are model files, CG files, folders (searched for `.onnx`, `.pb`, `.cg` files and
/// SavedModels) or `CG`s; a file's name in the ranking and the labels is its stem, a CG's its
/// `name`. `labels` (a `name,value` CSV path or a dict) adds SRCC, Kendall τ, MAE and the
/// FLOPs baseline's SRCC. Returns `aiop rank --json`'s record as JSON text, and the
/// `(source, message)` of each network skipped with `errors="skip"`.
#[pyfunction]
#[pyo3(signature = (sources, task, *, labels=None, predictor=None, canonical=false, batch=1, resolution=224, errors="raise"))]
#[allow(clippy::too_many_arguments)]
pub fn rank<'py>(
    py: Python<'py>,
    sources: Vec<Bound<'py, PyAny>>,
    task: &str,
    labels: Option<&Bound<'py, PyAny>>,
    predictor: Option<PyRef<'py, PyPredictor>>,
    canonical: bool,
    batch: u64,
    resolution: u64,
    errors: &str,
) -> PyResult<(String, Vec<(String, String)>)> {
    let on_error = match errors {
        "raise" => OnError::Raise,
        "skip" => OnError::Skip,
        other => {
            return Err(PyValueError::new_err(format!(
                "errors={other:?}: expected \"raise\" or \"skip\""
            )));
        }
    };
    let bundled;
    let predictor: &PyPredictor = match &predictor {
        Some(p) => p,
        None => {
            bundled = PyPredictor::bundled(py, aiop_predictor::Backend::Native)?;
            &bundled
        }
    };
    let column = predictor.columns(Some(&pyo3::types::PyString::new(py, task)))?[0];
    let labels = labels.map(self::labels).transpose()?;
    let options = ConvertOptions {
        canonical,
        batch,
        resolution,
        ..Default::default()
    };
    let refs: Vec<Option<PyRef<'py, PyCg>>> = sources.iter().map(|s| s.extract().ok()).collect();
    let items = items(&sources, &refs)?;

    // convert and encode in parallel, the GIL released; failures kept in order
    let converted: Vec<Result<Ready<'_>, (String, PyErr)>> = py.detach(|| {
        items
            .par_iter()
            .map(|item| {
                let ready = match item {
                    Item::Cg(cg) => Ready {
                        file: cg.cg.name.clone(),
                        name: cg.cg.name.clone(),
                        owned: None,
                        given: Some(*cg),
                    },
                    Item::File(path) => {
                        let file = path.display().to_string();
                        let cg: Cg = load::load_file(path, &options)
                            .map_err(|e| (file.clone(), errors::load(path, e)))?;
                        Ready {
                            name: stem(path),
                            file,
                            owned: Some(PyCg::new(cg)),
                            given: None,
                        }
                    }
                };
                within_budget(ready.cg().encoded()).map_err(|e| {
                    let message = format!("{}: {e}", ready.file);
                    (ready.file.clone(), errors::raise(Kind::BadInput, message))
                })?;
                Ok(ready)
            })
            .collect()
    });
    let mut ready = Vec::new();
    let mut skipped = Vec::new();
    for c in converted {
        match c {
            Ok(r) => ready.push(r),
            Err((_, e)) if on_error == OnError::Raise => return Err(e),
            Err((file, e)) => skipped.push((file, e.value(py).str()?.to_string())),
        }
    }
    let graphs: Vec<_> = ready.iter().map(|r| r.cg().encoded()).collect();
    let gflops: Vec<f64> = ready
        .iter()
        .map(|r| r.cg().cg.macs() as f64 / 1e9)
        .collect();
    let predicted = predictor.predict_graphs(py, &graphs, &gflops, &[column])?;
    let networks: Vec<Unranked> = ready
        .iter()
        .zip(predicted)
        .map(|(r, values)| {
            let cg = &r.cg().cg;
            (
                r.file.clone(),
                r.name.clone(),
                values[0],
                cg.macs(),
                cg.params(),
            )
        })
        .collect();
    Ok((to_json(task, networks, labels.as_ref())?, skipped))
}

fn to_json(
    task: &str,
    networks: Vec<Unranked>,
    labels: Option<&HashMap<String, f64>>,
) -> PyResult<String> {
    serde_json::to_string(&Ranking::new(task, networks, labels))
        .map_err(|e| errors::raise(Kind::Aiop, e.to_string()))
}

/// The ranking record (JSON text) of networks already predicted, given as `(file, name,
/// prediction, MACs, params)` tuples: how `aiop.dask.rank` ranks the rows its workers return.
#[pyfunction]
#[pyo3(signature = (task, networks, *, labels=None))]
pub fn ranking(
    task: &str,
    networks: Vec<Unranked>,
    labels: Option<&Bound<'_, PyAny>>,
) -> PyResult<String> {
    let labels = labels.map(self::labels).transpose()?;
    to_json(task, networks, labels.as_ref())
}
