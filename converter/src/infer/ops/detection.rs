//! Detection-style operators whose output sizes depend on the data. Their dimensions are bound
//! to the worst case (and the fact marked `bounded`), so detectors still get concrete shapes.

use super::{Registry, axis};
use crate::infer::fact::Fact;
use crate::infer::inputs::{Inputs, RuleError};
use crate::ir::Node;
use crate::value::DType;

pub fn register(r: &mut Registry) {
    r.add(&["TopK"], top_k);
    r.add(&["NonZero"], non_zero);
    r.add(&["NonMaxSuppression"], nms);
    r.add(&["RoiAlign", "MaxRoiPool"], roi_pool);
    r.add(&["Unique"], unique);
    r.add(&["GridSample"], grid_sample);
    r.add(&["Compress"], compress);
}

fn top_k(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.req(0)?;
    let shape = inputs.shape(0)?;
    let a = axis(node.int("axis").unwrap_or(-1), shape.len())?;
    let k = match inputs.get(1) {
        Some(_) => inputs.value(1).and_then(|v| v.as_ints().first().copied()),
        None => node.int("k"),
    };
    let mut dims = shape.to_vec();
    let bounded = k.is_none();
    dims[a] = match (k, shape[a]) {
        (Some(k), Some(len)) => Some((k.max(0) as u64).min(len)),
        (Some(k), None) => Some(k.max(0) as u64),
        (None, len) => len,
    };
    let mut values = Fact::new(x.dtype, dims.clone());
    let mut indices = Fact::new(DType::I64, dims);
    if bounded {
        values = values.bounded();
        indices = indices.bounded();
    }
    Ok(vec![values, indices])
}

fn non_zero(_: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.req(0)?;
    let rank = x.rank().ok_or("rank unknown")? as u64;
    Ok(vec![
        Fact::new(DType::I64, vec![Some(rank), x.numel()]).bounded(),
    ])
}

fn nms(_: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let boxes = inputs.shape(0)?;
    let scores = inputs.shape(1)?;
    if boxes.len() != 3 || scores.len() != 3 {
        return Err("boxes and scores must be 3-D".into());
    }
    let per_class = inputs
        .value(2)
        .and_then(|v| v.as_ints().first().copied())
        .unwrap_or(0)
        .max(0) as u64;
    let bound = match (scores[0], scores[1], boxes[1]) {
        (Some(b), Some(c), Some(n)) => Some(b.saturating_mul(c).saturating_mul(n.min(per_class))),
        _ => None,
    };
    Ok(vec![Fact::new(DType::I64, vec![bound, Some(3)]).bounded()])
}

fn roi_pool(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.shape(0)?;
    let rois = inputs.shape(1)?;
    if x.len() != 4 || rois.len() != 2 {
        return Err("needs a 4-D input and 2-D rois".into());
    }
    let (h, w) = match node.ints("pooled_shape") {
        Some([h, w]) => (*h, *w),
        _ => (
            node.int("output_height").unwrap_or(1),
            node.int("output_width").unwrap_or(1),
        ),
    };
    let dims = vec![rois[0], x[1], Some(h.max(0) as u64), Some(w.max(0) as u64)];
    Ok(vec![Fact::new(inputs.req(0)?.dtype, dims)])
}

fn unique(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.req(0)?;
    let n = x.numel();
    let y = match (node.int("axis"), &x.shape) {
        (Some(a), Some(s)) => {
            let a = axis(a, s.len())?;
            let mut d = s.clone();
            d[a] = s[a];
            Fact::new(x.dtype, d)
        }
        _ => Fact::new(x.dtype, vec![n]),
    }
    .bounded();
    let idx = Fact::new(DType::I64, vec![n]).bounded();
    Ok(vec![y, idx.clone(), idx.clone(), idx])
}

fn grid_sample(_: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.shape(0)?;
    let grid = inputs.shape(1)?;
    if x.len() < 3 || grid.len() != x.len() {
        return Err("input and grid ranks do not fit".into());
    }
    let mut dims = vec![x[0], x[1]];
    dims.extend_from_slice(&grid[1..grid.len() - 1]);
    Ok(vec![Fact::new(inputs.req(0)?.dtype, dims)])
}

fn compress(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.req(0)?;
    let cond = inputs.req(1)?.numel();
    let dims = match (node.int("axis"), &x.shape) {
        (Some(a), Some(s)) => {
            let a = axis(a, s.len())?;
            let mut d = s.clone();
            d[a] = cond.zip(s[a]).map(|(c, l)| c.min(l));
            d
        }
        _ => vec![x.numel().map(|n| cond.map_or(n, |c| c.min(n)))],
    };
    Ok(vec![Fact::new(x.dtype, dims).bounded()])
}
