//! `aiop._aiop`: the Rust half of the Python package `aiop` (python/aiop wraps it; its
//! docstrings and type stubs are the user-facing documentation).
//!
//! One module per concept: [`errors`] maps the libraries' errors to the package's exception
//! types, [`graph`] is the `CG` class and conversion, [`predictor`] the `Predictor` class,
//! [`ranking`] `rank`, [`zoo`] the search-space generators. Long work releases the GIL
//! ([`Python::detach`]) and spreads over cores with rayon.

use pyo3::prelude::*;

mod errors;
mod graph;
mod predictor;
mod ranking;
mod zoo;

/// The native part of `aiop`; import `aiop`, not this module.
#[pymodule]
fn _aiop(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<graph::PyCg>()?;
    m.add_function(wrap_pyfunction!(graph::convert, m)?)?;
    m.add_function(wrap_pyfunction!(graph::convert_all, m)?)?;
    m.add_function(wrap_pyfunction!(graph::load_cg, m)?)?;
    m.add_function(wrap_pyfunction!(graph::cg_from_bytes, m)?)?;
    m.add_class::<predictor::PyPredictor>()?;
    m.add_function(wrap_pyfunction!(ranking::rank, m)?)?;
    m.add_function(wrap_pyfunction!(ranking::ranking, m)?)?;
    m.add_function(wrap_pyfunction!(ranking::read_labels, m)?)?;
    m.add_function(wrap_pyfunction!(zoo::nb201_onnx, m)?)?;
    m.add_function(wrap_pyfunction!(zoo::nb201_sample, m)?)?;
    m.add_function(wrap_pyfunction!(zoo::ofa_onnx, m)?)?;
    m.add_function(wrap_pyfunction!(zoo::generate, m)?)?;
    Ok(())
}
