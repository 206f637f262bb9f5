//! Search-space networks for Python: NAS-Bench-201 cells and OFA subnets as ONNX bytes, and
//! `generate`, which turns compact specs (strings a Dask worker can receive instead of
//! graphs) into CGs in parallel.
//!
//! Specs: `nb201:<arch>` (the CIFAR-10 network of a cell) and
//! `ofa:<family>:<head>:<resolution>:<seed>:<index>` (body `index` of
//! `aiop zoo ofa --family F --seed S --count index+1`, with the head, at the resolution).

use std::collections::HashMap;

use aiop_converter::{ConvertOptions, convert_onnx_bytes};
use aiop_datasets::spaces::nb201::{self, Cell, Skeleton};
use aiop_datasets::spaces::ofa::onnx::{self as ofa, Head};
use aiop_datasets::spaces::ofa::{Body, Family};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use rayon::prelude::*;

use crate::errors::{self, Kind};
use crate::graph::PyCg;

fn cell(arch: &str) -> PyResult<Cell> {
    arch.parse()
        .map_err(|e: nb201::ParseError| errors::raise(Kind::BadInput, e.to_string()))
}

/// The NAS-Bench-201 network of the cell `arch` as ONNX bytes (weights as graph inputs).
#[pyfunction]
#[pyo3(signature = (arch, *, classes=10, resolution=32))]
pub fn nb201_onnx<'py>(
    py: Python<'py>,
    arch: &str,
    classes: i64,
    resolution: i64,
) -> PyResult<Bound<'py, PyBytes>> {
    let skeleton = Skeleton {
        classes,
        resolution,
        ..Skeleton::default()
    };
    let bytes = nb201::build(&cell(arch)?, &skeleton).to_bytes();
    Ok(PyBytes::new(py, &bytes))
}

/// `count` different NAS-Bench-201 cells drawn with `seed` (at most all 15,625), as
/// architecture strings.
#[pyfunction]
#[pyo3(signature = (count, *, seed=0))]
pub fn nb201_sample(count: usize, seed: u64) -> Vec<String> {
    Cell::sample(count, seed)
        .iter()
        .map(Cell::to_string)
        .collect()
}

fn family(name: &str) -> PyResult<Family> {
    Family::from_name(name)
        .ok_or_else(|| errors::raise(Kind::BadInput, format!("`{name}` is not mbv3 or resnet")))
}

fn head(name: &str) -> PyResult<Head> {
    Head::from_name(name).ok_or_else(|| {
        errors::raise(
            Kind::BadInput,
            format!("`{name}` is not classification, pose or segmentation"),
        )
    })
}

/// Body `index` of the seeded stream `aiop zoo ofa --seed` draws from, with its task head at
/// `resolution`, as `(name, ONNX bytes)`.
#[pyfunction]
#[pyo3(signature = (family, head, *, seed=0, index=0, resolution=64))]
pub fn ofa_onnx<'py>(
    py: Python<'py>,
    family: &str,
    head: &str,
    seed: u64,
    index: usize,
    resolution: i64,
) -> PyResult<(String, Bound<'py, PyBytes>)> {
    let (family, head) = (self::family(family)?, self::head(head)?);
    let body = stream_bodies(family, seed, &[index])?
        .pop()
        .expect("one body");
    let model =
        ofa::build(&body, head, resolution).map_err(|e| errors::raise(Kind::BadInput, e))?;
    Ok((
        format!("{}.{}", body.name(), head.name()),
        PyBytes::new(py, &model.to_bytes()),
    ))
}

/// The bodies at `indices` of the seeded stream of `family`.
fn stream_bodies(family: Family, seed: u64, indices: &[usize]) -> PyResult<Vec<Body>> {
    ofa::bodies_at(family, seed, indices).ok_or_else(|| {
        errors::raise(
            Kind::BadInput,
            format!(
                "OFA body index past the stream's limit of {}",
                ofa::MAX_STREAM_INDEX
            ),
        )
    })
}

/// A parsed spec.
enum Spec {
    Nb201(Cell),
    Ofa {
        family: Family,
        head: Head,
        resolution: i64,
        seed: u64,
        index: usize,
    },
}

fn parse(spec: &str) -> PyResult<Spec> {
    let bad = || {
        errors::raise(
            Kind::BadInput,
            format!(
                "`{spec}` is not a network spec (nb201:<arch> or ofa:<family>:<head>:<resolution>:<seed>:<index>)"
            ),
        )
    };
    if let Some(arch) = spec.strip_prefix("nb201:") {
        return Ok(Spec::Nb201(cell(arch)?));
    }
    let parts: Vec<&str> = spec.split(':').collect();
    match parts.as_slice() {
        ["ofa", family, head, resolution, seed, index] => Ok(Spec::Ofa {
            family: self::family(family)?,
            head: self::head(head)?,
            resolution: resolution.parse().map_err(|_| bad())?,
            seed: seed.parse().map_err(|_| bad())?,
            index: index.parse().map_err(|_| bad())?,
        }),
        _ => Err(bad()),
    }
}

/// The CGs of `specs` (converted in parallel, the GIL released), each named by its spec.
#[pyfunction]
pub fn generate(py: Python<'_>, specs: Vec<String>) -> PyResult<Vec<PyCg>> {
    let parsed = specs
        .iter()
        .map(|s| parse(s))
        .collect::<PyResult<Vec<_>>>()?;
    // the bodies of each OFA stream asked for, drawn once per stream
    let mut wanted: HashMap<(Family, u64), Vec<usize>> = HashMap::new();
    for p in &parsed {
        if let Spec::Ofa {
            family,
            seed,
            index,
            ..
        } = p
        {
            wanted.entry((*family, *seed)).or_default().push(*index);
        }
    }
    let mut bodies: HashMap<(Family, u64, usize), Body> = HashMap::new();
    for ((family, seed), indices) in wanted {
        let drawn = stream_bodies(family, seed, &indices)?;
        bodies.extend(indices.into_iter().map(|i| (family, seed, i)).zip(drawn));
    }
    py.detach(|| {
        specs
            .par_iter()
            .zip(&parsed)
            .map(|(name, spec)| {
                let model = match spec {
                    Spec::Nb201(cell) => nb201::build(cell, &Skeleton::default()),
                    Spec::Ofa {
                        family,
                        head,
                        resolution,
                        seed,
                        index,
                    } => ofa::build(&bodies[&(*family, *seed, *index)], *head, *resolution)
                        .map_err(|e| errors::raise(Kind::BadInput, format!("{name}: {e}")))?,
                };
                let cg =
                    convert_onnx_bytes(model.to_bytes().into(), name, &ConvertOptions::default())
                        .map_err(|e| errors::raise(Kind::Aiop, format!("{name}: {e}")))?;
                Ok(PyCg::new(cg))
            })
            .collect()
    })
}
