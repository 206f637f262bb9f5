//! Reductions over axes (ReduceMean, ReduceSum, …) and ArgMax/ArgMin.

use super::{Registry, axis};
use crate::infer::fact::{Dim, Fact};
use crate::infer::inputs::{Inputs, RuleError};
use crate::ir::Node;
use crate::value::{DType, Value};

pub fn register(r: &mut Registry) {
    r.add(
        &[
            "ReduceMean",
            "ReduceSum",
            "ReduceMax",
            "ReduceMin",
            "ReduceProd",
            "ReduceL1",
            "ReduceL2",
            "ReduceLogSum",
            "ReduceLogSumExp",
            "ReduceSumSquare",
        ],
        reduce,
    );
    r.add(&["ArgMax", "ArgMin"], arg_reduce);
    r.add(
        &["NegativeLogLikelihoodLoss", "SoftmaxCrossEntropyLoss"],
        loss,
    );
}

fn reduced(shape: &[Dim], axes: &[usize], keep: bool) -> Vec<Dim> {
    shape
        .iter()
        .enumerate()
        .filter_map(|(i, d)| match (axes.contains(&i), keep) {
            (false, _) => Some(*d),
            (true, true) => Some(Some(1)),
            (true, false) => None,
        })
        .collect()
}

fn reduce(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.req(0)?;
    let shape = inputs.shape(0)?;
    let keep = node.int("keepdims").unwrap_or(1) != 0;
    let axes = match inputs.get(1) {
        Some(_) => Some(inputs.ints(1)?),
        None => node.ints("axes").map(<[i64]>::to_vec),
    };
    let axes: Vec<usize> = match axes {
        Some(a) if !a.is_empty() => a
            .iter()
            .map(|v| axis(*v, shape.len()))
            .collect::<Result<_, _>>()?,
        _ if node.int("noop_with_empty_axes").unwrap_or(0) != 0 => vec![],
        _ => (0..shape.len()).collect(),
    };
    let dims = reduced(shape, &axes, keep);
    // Products, sums, minima and maxima of whole shape vectors appear in exported shape code.
    let value = x
        .value
        .as_ref()
        .filter(|v| v.shape.len() == 1 && axes == [0])
        .and_then(|v| {
            let e = v.as_floats();
            let r = match node.op_type.as_str() {
                "ReduceProd" => e.iter().product(),
                "ReduceSum" => e.iter().sum(),
                "ReduceMax" => e.iter().copied().reduce(f64::max)?,
                "ReduceMin" => e.iter().copied().reduce(f64::min)?,
                _ => return None,
            };
            let shape = if keep { vec![1] } else { vec![] };
            if x.dtype.is_float() {
                Value::float(shape, vec![r])
            } else {
                Value::int(shape, vec![r as i64])
            }
        });
    Ok(vec![Fact::new(x.dtype, dims).with_value(value)])
}

fn arg_reduce(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let shape = inputs.shape(0)?;
    let a = axis(node.int("axis").unwrap_or(0), shape.len())?;
    let keep = node.int("keepdims").unwrap_or(1) != 0;
    Ok(vec![Fact::new(DType::I64, reduced(shape, &[a], keep))])
}

/// `NegativeLogLikelihoodLoss`/`SoftmaxCrossEntropyLoss(scores [N, C, d…], target [N, d…])`:
/// the target's shape with `reduction = none`, else a scalar; `SoftmaxCrossEntropyLoss`'s
/// optional second output is the log-probabilities, shaped like the scores.
fn loss(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let scores = inputs.req(0)?;
    let target = inputs.shape(1)?;
    let shape = match node.string("reduction").unwrap_or("mean") {
        "none" => target.to_vec(),
        _ => Vec::new(),
    };
    Ok(vec![
        Fact::new(scores.dtype, shape),
        Fact {
            value: None,
            ..scores.clone()
        },
    ])
}
