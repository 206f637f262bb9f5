//! Typed access to a node's input facts for the op rules.

use super::fact::{Dim, Fact};
use crate::value::Value;

/// The facts of a node's inputs; omitted optional inputs are `None`.
pub struct Inputs<'a> {
    facts: Vec<Option<&'a Fact>>,
}

/// Why an op rule could not infer its outputs (one line).
pub type RuleError = String;

impl<'a> Inputs<'a> {
    pub(crate) fn new(facts: Vec<Option<&'a Fact>>) -> Self {
        Inputs { facts }
    }

    /// Number of input slots (including omitted ones).
    pub fn len(&self) -> usize {
        self.facts.len()
    }

    /// True when the node has no inputs.
    pub fn is_empty(&self) -> bool {
        self.facts.is_empty()
    }

    /// Input `i`, if present.
    pub fn get(&self, i: usize) -> Option<&'a Fact> {
        self.facts.get(i).copied().flatten()
    }

    /// All present inputs.
    pub fn present(&self) -> impl Iterator<Item = &'a Fact> + '_ {
        self.facts.iter().filter_map(|f| *f)
    }

    /// Input `i`, which the operator requires.
    pub fn req(&self, i: usize) -> Result<&'a Fact, RuleError> {
        self.get(i).ok_or_else(|| format!("missing input {i}"))
    }

    /// The (possibly partial) shape of input `i`; fails when its rank is unknown.
    pub fn shape(&self, i: usize) -> Result<&'a [Dim], RuleError> {
        self.req(i)?
            .shape
            .as_deref()
            .ok_or_else(|| format!("rank of input {i} unknown"))
    }

    /// The fully known shape of input `i`.
    pub fn dims(&self, i: usize) -> Result<Vec<u64>, RuleError> {
        self.req(i)?
            .dims()
            .ok_or_else(|| format!("shape of input {i} unknown"))
    }

    /// The constant value of input `i`, when known.
    pub fn value(&self, i: usize) -> Option<&'a Value> {
        self.get(i)?.value.as_deref()
    }

    /// The integer elements of input `i`, which must be a known constant.
    pub fn ints(&self, i: usize) -> Result<Vec<i64>, RuleError> {
        self.value(i)
            .map(Value::as_ints)
            .ok_or_else(|| format!("input {i} is not a constant known at conversion time"))
    }
}
