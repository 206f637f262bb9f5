//! The `Predictor` class: an exported predictor (the bundled one or a file from `aiop export`)
//! run on CGs by the native, tract or ONNX Runtime engine, with the GIL released.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use aiop_predictor::{Backend, DEFAULT_PREDICTOR, EncodedGraph, RuntimePredictor};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyString};
use rayon::prelude::*;

use crate::errors;
use crate::graph::PyCg;

/// Graphs per engine run: the CLI's batch, so that every backend gives the CLI's numbers.
const BATCH: usize = 64;

/// A loaded predictor; safe to share between threads.
#[pyclass(name = "Predictor", module = "aiop", frozen)]
pub struct PyPredictor {
    pub inner: Arc<RuntimePredictor>,
    /// The file it was loaded from, or `bundled predictor`: how errors name it.
    pub source: String,
    backend: Backend,
}

fn backend(name: &str) -> PyResult<Backend> {
    match name {
        "native" => Ok(Backend::Native),
        "tract" => Ok(Backend::Tract),
        "ort" => Ok(Backend::Ort),
        other => Err(PyValueError::new_err(format!(
            "backend={other:?}: expected \"native\", \"tract\" or \"ort\""
        ))),
    }
}

/// The bundled predictor on the native backend, loaded once per process.
static BUNDLED_NATIVE: OnceLock<Arc<RuntimePredictor>> = OnceLock::new();

impl PyPredictor {
    /// The bundled predictor on `backend` (the native one shared by every caller).
    pub fn bundled(py: Python<'_>, backend: Backend) -> PyResult<PyPredictor> {
        let source = "bundled predictor".to_string();
        let load = || RuntimePredictor::from_bytes(DEFAULT_PREDICTOR, backend).map(Arc::new);
        let inner = match (backend, BUNDLED_NATIVE.get()) {
            (Backend::Native, Some(p)) => Ok(p.clone()),
            (Backend::Native, None) => py
                .detach(load)
                .map(|p| BUNDLED_NATIVE.get_or_init(|| p).clone()),
            _ => py.detach(load),
        }
        .map_err(|e| errors::predictor(&source, e))?;
        Ok(PyPredictor {
            inner,
            source,
            backend,
        })
    }

    /// The columns `task` names: every default task for `None`, one for a name, several for a
    /// list of names.
    pub fn columns(&self, task: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<usize>> {
        let meta = &self.inner.meta;
        let one = |name: &str| {
            meta.columns(Some(name))
                .map(|c| c[0])
                .map_err(|e| errors::predictor(&self.source, e.into()))
        };
        match task {
            None => Ok(meta.default_columns()),
            Some(t) if t.is_instance_of::<PyString>() => Ok(vec![one(&t.extract::<String>()?)?]),
            Some(t) => t
                .extract::<Vec<String>>()?
                .iter()
                .map(|name| one(name))
                .collect(),
        }
    }

    /// Predictions of `graphs` (with their MACs) for `columns`, `[B][columns]`, computed with
    /// the GIL released: batches of [`BATCH`] graphs, the graphs of a batch across cores.
    pub fn predict_graphs(
        &self,
        py: Python<'_>,
        graphs: &[&EncodedGraph],
        gflops: &[f64],
        columns: &[usize],
    ) -> PyResult<Vec<Vec<f64>>> {
        py.detach(|| {
            let mut out = Vec::with_capacity(graphs.len());
            for (g, f) in graphs.chunks(BATCH).zip(gflops.chunks(BATCH)) {
                out.extend(self.inner.predict_columns(g, f, columns)?);
            }
            Ok(out)
        })
        .map_err(|e| errors::predictor(&self.source, e))
    }
}

#[pymethods]
impl PyPredictor {
    /// Loads a predictor file (`aiop export`); `backend` is `"native"` (the default),
    /// `"tract"` or `"ort"` (ONNX Runtime, its library from `ORT_DYLIB_PATH`).
    #[new]
    #[pyo3(signature = (path, *, backend="native"))]
    fn new(py: Python<'_>, path: PathBuf, backend: &str) -> PyResult<PyPredictor> {
        let backend = self::backend(backend)?;
        let source = path.display().to_string();
        let inner = py
            .detach(|| RuntimePredictor::load(&path, backend))
            .map_err(|e| errors::predictor(&source, e))?;
        Ok(PyPredictor {
            inner: Arc::new(inner),
            source,
            backend,
        })
    }

    /// The predictor shipped inside aiop (`models/README.md` is its model card).
    #[staticmethod]
    #[pyo3(signature = (*, backend="native"))]
    fn default(py: Python<'_>, backend: &str) -> PyResult<PyPredictor> {
        PyPredictor::bundled(py, self::backend(backend)?)
    }

    /// The tasks predicted by default, in the order of `predict`'s columns.
    #[getter]
    fn tasks(&self) -> Vec<String> {
        let meta = &self.inner.meta;
        meta.default_columns()
            .into_iter()
            .map(|i| meta.tasks[i].task.clone())
            .collect()
    }

    /// `"native"`, `"tract"` or `"ort"`.
    #[getter]
    fn backend(&self) -> &'static str {
        match self.backend {
            Backend::Native => "native",
            Backend::Tract => "tract",
            Backend::Ort => "ort",
        }
    }

    /// What the file holds (tasks, label scaling, encoding, training), as `aiop predictor info
    /// --json` prints it.
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let text = serde_json::to_string(&self.inner.meta)
            .map_err(|e| errors::raise(errors::Kind::Aiop, e.to_string()))?;
        py.import("json")?.call_method1("loads", (text,))
    }

    /// Predictions of `cgs` as float64 little-endian bytes, row-major `[len(cgs)][columns]`,
    /// and the column count (`aiop.Predictor.predict` makes the NumPy array).
    #[pyo3(signature = (cgs, task=None))]
    fn _predict<'py>(
        &self,
        py: Python<'py>,
        cgs: Vec<PyRef<'py, PyCg>>,
        task: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(Bound<'py, PyByteArray>, usize)> {
        let columns = self.columns(task)?;
        let cgs: Vec<&PyCg> = cgs.iter().map(|c| &**c).collect();
        // encodings are cached on the CGs; the first prediction makes them, in parallel
        let (graphs, gflops): (Vec<&EncodedGraph>, Vec<f64>) = py.detach(|| {
            cgs.par_iter()
                .map(|c| (c.encoded(), c.cg.macs() as f64 / 1e9))
                .unzip()
        });
        let rows = self.predict_graphs(py, &graphs, &gflops, &columns)?;
        let bytes: Vec<u8> = rows
            .iter()
            .flatten()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        Ok((PyByteArray::new(py, &bytes), columns.len()))
    }

    /// Seconds taken by each of `repeat` calls of the Rust API on one CG's (cached) encoding
    /// for `task`: the baseline of the binding's overhead (tools/bench/python_throughput.py).
    fn _time_rust(
        &self,
        py: Python<'_>,
        cg: PyRef<'_, PyCg>,
        task: &str,
        repeat: usize,
    ) -> PyResult<Vec<f64>> {
        let column = self.columns(Some(&PyString::new(py, task)))?;
        let (graph, gflops) = (cg.encoded(), cg.cg.macs() as f64 / 1e9);
        py.detach(|| {
            (0..repeat)
                .map(|_| {
                    let start = std::time::Instant::now();
                    self.inner.predict_columns(&[graph], &[gflops], &column)?;
                    Ok(start.elapsed().as_secs_f64())
                })
                .collect::<Result<Vec<f64>, _>>()
        })
        .map_err(|e| errors::predictor(&self.source, e))
    }

    fn __repr__(&self) -> String {
        format!(
            "<Predictor {} ({}): {}>",
            self.source,
            self.backend(),
            self.tasks().join(", ")
        )
    }
}
