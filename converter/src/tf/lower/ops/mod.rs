//! The TF op → lowering table, filled per op family by the modules below (as `infer::ops`
//! registers the ONNX shape rules): [`graph`] for constants, inputs, variables and plumbing,
//! [`nn`] for convolutions, normalisation, pooling and activations with parameters, [`math`]
//! for element-wise ops, reductions and matrix products, [`shape`] for shape and layout ops.

mod graph;
mod math;
mod nn;
mod shape;

use std::collections::HashMap;
use std::sync::LazyLock;

use super::{Lowerer, Op};
use crate::error::Result;

/// A lowering rule: appends the ONNX nodes of one TF node to the lowered graph.
type Rule = fn(&mut Lowerer, Op) -> Result<()>;

/// How one TF op type is lowered.
#[derive(Clone, Copy)]
pub(super) struct Lowering {
    /// Data inputs the rule reads by position; a node with fewer is kept with a warning.
    pub min_inputs: usize,
    pub rule: Rule,
}

/// The op-type → lowering table that modules fill.
#[derive(Default)]
struct Registry(HashMap<&'static str, Lowering>);

impl Registry {
    /// Registers `rule` for each TF op type in `ops`, needing `min_inputs` data inputs.
    fn add(&mut self, ops: impl IntoIterator<Item = &'static str>, min_inputs: usize, rule: Rule) {
        for op in ops {
            self.0.insert(op, Lowering { min_inputs, rule });
        }
    }
}

static LOWERINGS: LazyLock<HashMap<&'static str, Lowering>> = LazyLock::new(|| {
    let mut r = Registry::default();
    graph::register(&mut r);
    nn::register(&mut r);
    math::register(&mut r);
    shape::register(&mut r);
    r.0
});

/// The lowering of TF op type `op`, if there is a rule for it.
pub(super) fn lowering(op: &str) -> Option<Lowering> {
    LOWERINGS.get(op).copied()
}
