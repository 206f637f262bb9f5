//! Shape (and small-value) rules of the operators, registered by ONNX op type.
//!
//! Each module registers the operators it knows; a rule receives the node and the facts of its
//! inputs and returns one fact per output (fewer is fine: the rest stay unknown).

mod detection;
mod elementwise;
mod linalg;

pub use linalg::{contraction_macs as linalg_contraction, fused_operand};
mod nn;
mod recurrent;
mod reduce;
mod resize;
mod signal;
mod tensor;

use std::collections::HashMap;
use std::sync::LazyLock;

use super::fact::Fact;
use super::inputs::{Inputs, RuleError};
use crate::ir::Node;

/// A shape rule.
pub type Rule = fn(&Node, &Inputs) -> Result<Vec<Fact>, RuleError>;

/// The op-type → rule table that modules fill.
#[derive(Default)]
pub struct Registry(HashMap<&'static str, Rule>);

impl Registry {
    /// Registers `rule` for each op type in `ops`.
    pub fn add(&mut self, ops: &[&'static str], rule: Rule) {
        for op in ops {
            self.0.insert(op, rule);
        }
    }
}

static RULES: LazyLock<HashMap<&'static str, Rule>> = LazyLock::new(|| {
    let mut r = Registry::default();
    elementwise::register(&mut r);
    nn::register(&mut r);
    linalg::register(&mut r);
    tensor::register(&mut r);
    reduce::register(&mut r);
    resize::register(&mut r);
    detection::register(&mut r);
    recurrent::register(&mut r);
    signal::register(&mut r);
    r.0
});

/// The rule for `op_type`, if the converter knows the operator.
pub fn rule(op_type: &str) -> Option<Rule> {
    RULES.get(op_type).copied()
}

/// Sizes given as integers (a shape input or attribute), refusing negative ones; `what` names
/// them in the error.
pub fn sizes(values: &[i64], what: &str) -> Result<Vec<u64>, RuleError> {
    values
        .iter()
        .map(|v| u64::try_from(*v).map_err(|_| format!("negative {what} {v}")))
        .collect()
}

/// Resolves a possibly negative `axis` against `rank`.
pub fn axis(axis: i64, rank: usize) -> Result<usize, RuleError> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..r).contains(&a) {
        Ok(a as usize)
    } else {
        Err(format!("axis {axis} out of range for rank {rank}"))
    }
}

/// What can still be said when a rule fails for want of a constant (a data-dependent pad,
/// repeat count or target shape): the output's rank, with unknown dimensions.
pub fn rank_only(node: &Node, inputs: &Inputs) -> Option<Fact> {
    let x = inputs.get(0)?;
    let operand_len = |i: usize| {
        inputs
            .get(i)
            .and_then(|f| f.dims())
            .and_then(|d| d.first().copied())
    };
    let rank = match node.op_type.as_str() {
        "Slice" | "Pad" | "Tile" | "Resize" | "Upsample" | "Transpose" | "ScatterND"
        | "CenterCropPad" => x.rank()?,
        "ConstantOfShape" | "Reshape" => {
            operand_len(if node.op_type == "Reshape" { 1 } else { 0 })? as usize
        }
        "Expand" => x.rank().unwrap_or(0).max(operand_len(1)? as usize),
        _ => return None,
    };
    let dtype = match node.op_type.as_str() {
        "ConstantOfShape" => match node.attr("value") {
            Some(crate::ir::Attr::Tensor(t)) => t.dtype,
            _ => crate::value::DType::F32,
        },
        _ => x.dtype,
    };
    Some(Fact::new(dtype, vec![None; rank]))
}
