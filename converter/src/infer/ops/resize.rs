//! Resize and Upsample: output sizes from explicit sizes or scale factors.

use super::{Registry, axis};
use crate::infer::fact::{Dim, Fact};
use crate::infer::inputs::{Inputs, RuleError};
use crate::ir::Node;

pub fn register(r: &mut Registry) {
    r.add(&["Resize", "Upsample"], resize);
}

fn resize(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.shape(0)?;
    let rank = x.len();
    let axes: Vec<usize> = match node.ints("axes") {
        Some(a) => a.iter().map(|v| axis(*v, rank)).collect::<Result<_, _>>()?,
        None => (0..rank).collect(),
    };
    // Resize-10 and Upsample-9: (X, scales); Resize-11+: (X, roi, scales, sizes).
    let (scales_at, sizes_at) = if node.op_type == "Upsample" || inputs.len() == 2 {
        (Some(1), None)
    } else {
        (Some(2), Some(3))
    };
    let non_empty = |i: Option<usize>| i.and_then(|i| inputs.value(i)).filter(|v| !v.is_empty());
    let mut dims: Vec<Dim> = x.to_vec();
    if let Some(sizes) = non_empty(sizes_at) {
        let sizes = sizes.as_ints();
        if sizes.len() != axes.len() {
            return Err("sizes length differs from axes".into());
        }
        for (a, s) in axes.iter().zip(&sizes) {
            dims[*a] = u64::try_from(*s).ok();
        }
    } else if let Some(scales) = non_empty(scales_at).map(|v| v.as_floats()).or_else(|| {
        node.floats("scales")
            .map(|s| s.iter().map(|v| *v as f64).collect())
    }) {
        if scales.len() != axes.len() {
            return Err("scales length differs from axes".into());
        }
        for (a, s) in axes.iter().zip(&scales) {
            if !(s.is_finite() && *s >= 0.0) {
                return Err(format!("invalid scale {s}"));
            }
            dims[*a] = dims[*a].map(|d| (d as f64 * s).floor() as u64);
        }
    } else {
        let sized = sizes_at
            .and_then(|i| inputs.get(i))
            .or_else(|| scales_at.and_then(|i| inputs.get(i)));
        if sized.is_some_and(|f| f.numel() != Some(0)) {
            // Scales or sizes computed at run time: the spatial size is unknown.
            for a in &axes {
                if *a >= 2 {
                    dims[*a] = None;
                }
            }
        }
    }
    Ok(vec![Fact::new(inputs.req(0)?.dtype, dims)])
}
