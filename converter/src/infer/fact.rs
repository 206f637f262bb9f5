//! What inference knows about one tensor.

use std::sync::Arc;

use crate::value::{DType, Value};

/// Most elements a tensor may have, declared or inferred (2^36 ≈ 69 billion, 250 GiB of
/// floats); larger ones are corrupt or hostile.
pub const MAX_TENSOR_ELEMENTS: u64 = 1 << 36;

/// A dimension: `Some(n)` when known, `None` when inference could not tell.
pub type Dim = Option<u64>;

/// What is known about a tensor: element type, shape, and for small constants the value.
#[derive(Clone, Debug, PartialEq)]
pub struct Fact {
    pub dtype: DType,
    /// `None` when even the rank is unknown.
    pub shape: Option<Vec<Dim>>,
    /// Elements, for small tensors computable at conversion time (shape arithmetic).
    pub value: Option<Arc<Value>>,
    /// Some dimension is the worst-case bound of a data-dependent size (NonZero, NMS, …).
    pub bounded: bool,
}

impl Fact {
    /// Nothing known but the element type.
    pub fn unknown(dtype: DType) -> Fact {
        Fact {
            dtype,
            shape: None,
            value: None,
            bounded: false,
        }
    }

    /// A tensor of the given (possibly partial) shape.
    pub fn new(dtype: DType, shape: Vec<Dim>) -> Fact {
        Fact {
            dtype,
            shape: Some(shape),
            value: None,
            bounded: false,
        }
    }

    /// A tensor of a fully known shape.
    pub fn fixed(dtype: DType, dims: &[u64]) -> Fact {
        Fact::new(dtype, dims.iter().map(|d| Some(*d)).collect())
    }

    /// A constant; its shape comes from the value.
    pub fn constant(dtype: DType, value: Arc<Value>) -> Fact {
        Fact {
            dtype,
            shape: Some(value.shape.iter().map(|d| Some(*d as u64)).collect()),
            value: Some(value),
            bounded: false,
        }
    }

    /// Attaches a folded value if there is one (keeping the shape otherwise).
    pub fn with_value(mut self, value: Option<Arc<Value>>) -> Fact {
        if let Some(v) = value {
            self.shape = Some(v.shape.iter().map(|d| Some(*d as u64)).collect());
            self.value = Some(v);
        }
        self
    }

    /// Marks the shape as a data-dependent worst case.
    pub fn bounded(mut self) -> Fact {
        self.bounded = true;
        self
    }

    /// Rank, when known.
    pub fn rank(&self) -> Option<usize> {
        self.shape.as_ref().map(Vec::len)
    }

    /// All dimensions, when every one is known.
    pub fn dims(&self) -> Option<Vec<u64>> {
        self.shape.as_ref()?.iter().copied().collect()
    }

    /// True when every dimension is known.
    pub fn is_known(&self) -> bool {
        self.shape
            .as_ref()
            .is_some_and(|s| s.iter().all(Option::is_some))
    }

    /// The element count of the known dimensions when it exceeds [`MAX_TENSOR_ELEMENTS`].
    pub fn oversized(&self) -> Option<u64> {
        let known = self.shape.as_ref()?.iter().flatten();
        let n = known.fold(1u64, |a, d| a.saturating_mul(*d));
        (n > MAX_TENSOR_ELEMENTS).then_some(n)
    }

    /// Element count (saturating), when the shape is known.
    pub fn numel(&self) -> Option<u64> {
        Some(self.dims()?.iter().fold(1u64, |a, d| a.saturating_mul(*d)))
    }
}

/// Product of dimensions, saturating instead of overflowing.
pub fn product(dims: &[u64]) -> u64 {
    dims.iter().fold(1u64, |a, d| a.saturating_mul(*d))
}
