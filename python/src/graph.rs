//! The `CG` class (a converted network: totals, histograms, JSON, files) and the functions that
//! make one: `convert` (a model file or its bytes), `convert_all` (many files, in parallel),
//! `load_cg` (a CG file) and `cg_from_bytes` (what pickling a `CG` stores).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use aiop_converter::cg::format;
use aiop_converter::cg::summary::summarize;
use aiop_converter::files::{self, Limit};
use aiop_converter::load;
use aiop_converter::{Cg, ConvertOptions};
use aiop_predictor::{EncodedGraph, encode};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyDict, PyString};
use rayon::prelude::*;

use crate::errors::{self, Kind};

/// A network's computational graph: one node per operation on the data path, with its output
/// shape, MACs and parameters.
#[pyclass(name = "CG", module = "aiop", frozen)]
pub struct PyCg {
    pub cg: Arc<Cg>,
    /// The predictor's encoding of `cg`, made on first use.
    encoded: OnceLock<EncodedGraph>,
}

impl PyCg {
    pub fn new(cg: Cg) -> PyCg {
        PyCg {
            cg: Arc::new(cg),
            encoded: OnceLock::new(),
        }
    }

    /// The predictor's input encoding of this CG (computed once).
    pub fn encoded(&self) -> &EncodedGraph {
        self.encoded.get_or_init(|| encode(&self.cg))
    }

    fn json_to_python<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
        py.import("json")?.call_method1("loads", (text,))
    }
}

#[pymethods]
impl PyCg {
    /// The network's name (the file's stem unless given).
    #[getter]
    fn name(&self) -> &str {
        &self.cg.name
    }

    /// Where it came from: the file name and the program that wrote it.
    #[getter]
    fn source(&self) -> &str {
        &self.cg.source
    }

    /// Multiply-accumulates of one forward pass.
    #[getter]
    fn macs(&self) -> u64 {
        self.cg.macs()
    }

    /// Floating-point operations of one forward pass, element-wise work included.
    #[getter]
    fn flops(&self) -> u64 {
        self.cg.flops()
    }

    /// Trainable parameters.
    #[getter]
    fn params(&self) -> u64 {
        self.cg.params()
    }

    #[getter]
    fn num_nodes(&self) -> usize {
        self.cg.node_count()
    }

    #[getter]
    fn num_edges(&self) -> usize {
        self.cg.edge_count()
    }

    /// Input height (0 when the network has no image input of known size).
    #[getter]
    fn resolution(&self) -> u32 {
        self.cg.resolution()
    }

    /// What the converter could not do exactly (unsupported operators, bound dimensions, …).
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.cg.warnings.clone()
    }

    /// Node count per operation category (`conv`, `matmul`, `relu`, …).
    #[getter]
    fn ops(&self) -> std::collections::BTreeMap<String, usize> {
        summarize(&self.cg).ops
    }

    /// The `aiop inspect --json` record: totals, histograms, inputs, outputs, stages.
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let text = serde_json::to_string(&summarize(&self.cg))
            .map_err(|e| errors::raise(Kind::Aiop, e.to_string()))?;
        Self::json_to_python(py, &text)
    }

    /// The CG as JSON text (what `aiop convert model.onnx -o cg.json` writes).
    fn to_json(&self, py: Python<'_>) -> String {
        py.detach(|| format::to_json(&self.cg))
    }

    /// The CG as a dict (the JSON file's content).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let text = self.to_json(py);
        Self::json_to_python(py, &text)
    }

    /// The CG in the compact binary form (what `aiop convert` writes for `*.cg`).
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let bytes = py.detach(|| format::to_binary(&self.cg));
        PyBytes::new(py, &bytes)
    }

    /// Writes the CG to `path`: JSON for `*.json`, the binary form otherwise; atomically.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| files::write_atomic(&path, &format::encode_for(&path, &self.cg)))
            .map_err(|e| {
                pyo3::exceptions::PyOSError::new_err(format!(
                    "cannot write {}: {e}",
                    path.display()
                ))
            })
    }

    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let py = slf.py();
        let rebuild = py.import("aiop._aiop")?.getattr("cg_from_bytes")?;
        Ok((rebuild, (slf.get().to_bytes(py),)))
    }

    fn __repr__(&self) -> String {
        format!(
            "<CG {}: {} nodes, {:.3} GMACs, {:.2} M params>",
            self.cg.name,
            self.cg.node_count(),
            self.cg.macs() as f64 / 1e9,
            self.cg.params() as f64 / 1e6
        )
    }
}

/// Converter options from the keyword arguments of `convert`.
fn options(
    canonical: bool,
    input_shape: Option<&Bound<'_, PyAny>>,
    batch: u64,
    resolution: u64,
) -> PyResult<ConvertOptions> {
    let mut o = ConvertOptions {
        canonical,
        batch,
        resolution,
        ..Default::default()
    };
    let bad = |e: aiop_converter::ConvertError| PyValueError::new_err(e.to_string());
    match input_shape {
        None => {}
        Some(spec) if spec.is_instance_of::<PyString>() => {
            o.add_input_shape(&spec.extract::<String>()?).map_err(bad)?
        }
        Some(spec) if spec.is_instance_of::<PyDict>() => {
            for (name, dims) in spec.cast::<PyDict>()? {
                let dims: Vec<u64> = dims.extract().map_err(|_| {
                    PyTypeError::new_err(format!(
                        "input_shape[{name}]: a sequence of non-negative ints"
                    ))
                })?;
                o.input_shapes.insert(name.extract()?, dims);
            }
        }
        Some(specs) => {
            let specs: Vec<String> = specs.extract().map_err(|_| {
                PyTypeError::new_err(
                    "input_shape: a dict {name: dims}, 'name=1,3,224,224', or a list of such strings",
                )
            })?;
            for spec in specs {
                o.add_input_shape(&spec).map_err(bad)?;
            }
        }
    }
    Ok(o)
}

/// A model given as a path or as the bytes of its file.
#[derive(FromPyObject)]
pub enum Source {
    Bytes(PyBackedBytes),
    Path(PathBuf),
}

/// Converts one model file (or bytes named `name`) with `options`; the error names it.
fn convert_one(source: &Source, name: Option<&str>, options: &ConvertOptions) -> PyResult<Cg> {
    match source {
        Source::Path(path) => {
            let mut cg = load::load_file(path, options).map_err(|e| errors::load(path, e))?;
            if let Some(name) = name {
                cg.name = name.to_string();
            }
            Ok(cg)
        }
        Source::Bytes(bytes) => {
            // the name's extension tells the format: `.pb` TensorFlow, `.json` a CG, else ONNX
            // (a binary CG is recognised by its first bytes)
            let file = Path::new(name.unwrap_or("model.onnx"));
            let shown = file.to_string_lossy();
            let mut cg = load::load_bytes(bytes.to_vec(), &shown, options)
                .map_err(|e| errors::load(file, e))?;
            if let Some(stem) = file.file_stem() {
                cg.name = stem.to_string_lossy().into_owned();
            }
            Ok(cg)
        }
    }
}

/// Converts a model — an ONNX file, a frozen TensorFlow graph (`.pb`), a SavedModel folder, or
/// a CG file — given by path or as bytes. `name` is the CG's name (default: the file's stem);
/// for bytes it is a file name whose extension tells the format (`.pb` TensorFlow, `.json` a
/// CG, anything else ONNX; default `model.onnx`).
#[pyfunction]
#[pyo3(signature = (source, *, canonical=false, input_shape=None, batch=1, resolution=224, name=None))]
pub fn convert(
    py: Python<'_>,
    source: Source,
    canonical: bool,
    input_shape: Option<&Bound<'_, PyAny>>,
    batch: u64,
    resolution: u64,
    name: Option<String>,
) -> PyResult<PyCg> {
    let options = options(canonical, input_shape, batch, resolution)?;
    let cg = py.detach(|| convert_one(&source, name.as_deref(), &options))?;
    Ok(PyCg::new(cg))
}

/// Converts many model files in parallel (all cores, the GIL released). Returns one entry per
/// source, in order: a `CG`, or — with `errors="return"` — the exception of a file that failed;
/// with `errors="raise"` (the default) the first failure is raised.
#[pyfunction]
#[pyo3(signature = (sources, *, canonical=false, input_shape=None, batch=1, resolution=224, errors="raise"))]
pub fn convert_all(
    py: Python<'_>,
    sources: Vec<Source>,
    canonical: bool,
    input_shape: Option<&Bound<'_, PyAny>>,
    batch: u64,
    resolution: u64,
    errors: &str,
) -> PyResult<Vec<Py<PyAny>>> {
    let keep_errors = match errors {
        "raise" => false,
        "return" => true,
        other => {
            return Err(PyValueError::new_err(format!(
                "errors={other:?}: expected \"raise\" or \"return\""
            )));
        }
    };
    let options = options(canonical, input_shape, batch, resolution)?;
    let converted: Vec<PyResult<Cg>> = py.detach(|| {
        sources
            .par_iter()
            .map(|s| convert_one(s, None, &options))
            .collect()
    });
    converted
        .into_iter()
        .map(|c| match c {
            Ok(cg) => Ok(Py::new(py, PyCg::new(cg))?.into_any()),
            Err(e) if keep_errors => Ok(e.into_value(py).into_any()),
            Err(e) => Err(e),
        })
        .collect()
}

/// Reads a CG file written by `aiop convert` or `CG.save` (binary, or JSON named `*.json`).
#[pyfunction]
#[pyo3(signature = (path, *, canonical=false))]
pub fn load_cg(py: Python<'_>, path: PathBuf, canonical: bool) -> PyResult<PyCg> {
    let cg = py.detach(|| {
        let bytes =
            files::read_capped(&path, Limit::Cg.bytes()).map_err(|e| errors::read(&path, &e))?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if !format::is_binary_cg(&bytes) && !name.ends_with(".json") {
            return Err(errors::raise(
                Kind::BadInput,
                format!(
                    "{}: not a CG file (a binary CG, or JSON named *.json); convert models with aiop.convert",
                    path.display()
                ),
            ));
        }
        let options = ConvertOptions {
            canonical,
            ..Default::default()
        };
        load::load_bytes(bytes, &name, &options).map_err(|e| errors::load(&path, e))
    })?;
    Ok(PyCg::new(cg))
}

/// A `CG` from the bytes of `CG.to_bytes()` (how a pickled `CG` is rebuilt).
#[pyfunction]
pub fn cg_from_bytes(py: Python<'_>, data: PyBackedBytes) -> PyResult<PyCg> {
    let cg = py
        .detach(|| format::from_binary(&data))
        .map_err(|e| errors::raise(Kind::BadInput, format!("CG bytes: {e}")))?;
    Ok(PyCg::new(cg))
}
