//! Element types and small constant tensors, as used by shape inference and constant folding.

use std::sync::Arc;

/// Most elements a folded constant may hold. Shape arithmetic in real exports uses tensors of a
/// handful of elements; anything bigger is left unfolded so that hostile files cannot make the
/// converter allocate.
pub const FOLD_LIMIT: usize = 4096;

/// Tensor element type (ONNX `TensorProto.DataType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    F32,
    F16,
    BF16,
    F64,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
    Bool,
    String,
    /// 4-bit integers (ONNX `INT4`, `UINT4`): quantized weights.
    I4,
    U4,
    /// The 8-bit float formats (ONNX `FLOAT8E4M3FN` … `FLOAT8E5M2FNUZ`).
    F8,
    /// A type the converter does not model (complex, float4, …) or an unset one.
    Other,
}

impl DType {
    /// Maps an ONNX `TensorProto.DataType` code.
    pub fn from_onnx(code: i32) -> DType {
        match code {
            1 => DType::F32,
            2 => DType::U8,
            3 => DType::I8,
            4 => DType::U16,
            5 => DType::I16,
            6 => DType::I32,
            7 => DType::I64,
            8 => DType::String,
            9 => DType::Bool,
            10 => DType::F16,
            11 => DType::F64,
            12 => DType::U32,
            13 => DType::U64,
            16 => DType::BF16,
            17..=20 => DType::F8,
            21 => DType::U4,
            22 => DType::I4,
            _ => DType::Other,
        }
    }

    /// The ONNX `TensorProto.DataType` code (0 for `Other`).
    pub fn to_onnx(self) -> i32 {
        match self {
            DType::F32 => 1,
            DType::U8 => 2,
            DType::I8 => 3,
            DType::U16 => 4,
            DType::I16 => 5,
            DType::I32 => 6,
            DType::I64 => 7,
            DType::String => 8,
            DType::Bool => 9,
            DType::F16 => 10,
            DType::F64 => 11,
            DType::U32 => 12,
            DType::U64 => 13,
            DType::BF16 => 16,
            DType::F8 => 17,
            DType::U4 => 21,
            DType::I4 => 22,
            DType::Other => 0,
        }
    }

    /// Floating-point element types: the ones trainable parameters have.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F16 | DType::BF16 | DType::F64)
    }

    /// Bytes per element, where fixed.
    pub fn size_of(self) -> Option<usize> {
        match self {
            DType::F64 | DType::I64 | DType::U64 => Some(8),
            DType::F32 | DType::I32 | DType::U32 => Some(4),
            DType::F16 | DType::BF16 | DType::I16 | DType::U16 => Some(2),
            DType::I8 | DType::U8 | DType::F8 | DType::Bool => Some(1),
            DType::I4 | DType::U4 | DType::String | DType::Other => None,
        }
    }
}

/// The numeric format a node computes in, when it is not 32-bit float: what quantized and
/// reduced-precision deployment files keep of their original types (recorded per CG node).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    Int4,
    Uint4,
    Int8,
    Uint8,
    Fp8,
    Int16,
    Uint16,
    Fp16,
    Bf16,
    Int32,
}

impl Precision {
    /// The precision of tensors of `dtype`; `None` for 32/64-bit floats and for types that are
    /// not numeric formats of weights or activations (64-bit integers, booleans, strings).
    pub fn of(dtype: DType) -> Option<Precision> {
        Some(match dtype {
            DType::I4 => Precision::Int4,
            DType::U4 => Precision::Uint4,
            DType::I8 => Precision::Int8,
            DType::U8 => Precision::Uint8,
            DType::F8 => Precision::Fp8,
            DType::I16 => Precision::Int16,
            DType::U16 => Precision::Uint16,
            DType::F16 => Precision::Fp16,
            DType::BF16 => Precision::Bf16,
            DType::I32 => Precision::Int32,
            _ => return None,
        })
    }

    /// The lowercase name used in CG files and summaries (`int8`, `fp16`, …).
    pub fn name(self) -> &'static str {
        match self {
            Precision::Int4 => "int4",
            Precision::Uint4 => "uint4",
            Precision::Int8 => "int8",
            Precision::Uint8 => "uint8",
            Precision::Fp8 => "fp8",
            Precision::Int16 => "int16",
            Precision::Uint16 => "uint16",
            Precision::Fp16 => "fp16",
            Precision::Bf16 => "bf16",
            Precision::Int32 => "int32",
        }
    }
}

/// Element count of a shape, `None` on overflow.
pub fn numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |a, d| a.checked_mul(*d))
}

/// True when a tensor of `shape` is small enough to fold.
pub fn foldable(shape: &[usize]) -> bool {
    numel(shape).is_some_and(|n| n <= FOLD_LIMIT)
}

/// The elements of a small constant tensor: integers (and booleans) or floats.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    Int(Vec<i64>),
    Float(Vec<f64>),
}

/// A small constant tensor known at conversion time (row-major).
#[derive(Clone, Debug, PartialEq)]
pub struct Value {
    pub shape: Vec<usize>,
    pub data: Data,
}

impl Value {
    /// An integer tensor; `None` when `shape` does not match the element count.
    pub fn int(shape: Vec<usize>, data: Vec<i64>) -> Option<Arc<Value>> {
        (numel(&shape) == Some(data.len())).then(|| {
            Arc::new(Value {
                shape,
                data: Data::Int(data),
            })
        })
    }

    /// A float tensor; `None` when `shape` does not match the element count.
    pub fn float(shape: Vec<usize>, data: Vec<f64>) -> Option<Arc<Value>> {
        (numel(&shape) == Some(data.len())).then(|| {
            Arc::new(Value {
                shape,
                data: Data::Float(data),
            })
        })
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.data {
            Data::Int(v) => v.len(),
            Data::Float(v) => v.len(),
        }
    }

    /// True for a tensor without elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements as integers (floats truncated toward zero).
    pub fn as_ints(&self) -> Vec<i64> {
        match &self.data {
            Data::Int(v) => v.clone(),
            Data::Float(v) => v.iter().map(|x| *x as i64).collect(),
        }
    }

    /// The elements as floats.
    pub fn as_floats(&self) -> Vec<f64> {
        match &self.data {
            Data::Int(v) => v.iter().map(|x| *x as f64).collect(),
            Data::Float(v) => v.clone(),
        }
    }

    /// Element `i` as a float.
    pub fn float_at(&self, i: usize) -> Option<f64> {
        match &self.data {
            Data::Int(v) => v.get(i).map(|x| *x as f64),
            Data::Float(v) => v.get(i).copied(),
        }
    }
}

/// Decodes little-endian tensor bytes of `dtype` into a [`Value`], if the type is numeric and
/// the byte count matches `shape`.
pub fn decode_le(dtype: DType, shape: Vec<usize>, bytes: &[u8]) -> Option<Arc<Value>> {
    let n = numel(&shape)?;
    if n > FOLD_LIMIT || bytes.len() != n.checked_mul(dtype.size_of()?)? {
        return None;
    }
    macro_rules! ints {
        ($t:ty) => {
            Value::int(
                shape,
                bytes
                    .chunks_exact(std::mem::size_of::<$t>())
                    .map(|c| <$t>::from_le_bytes(c.try_into().unwrap()) as i64)
                    .collect(),
            )
        };
    }
    match dtype {
        DType::I64 => ints!(i64),
        DType::U64 => ints!(u64),
        DType::I32 => ints!(i32),
        DType::U32 => ints!(u32),
        DType::I16 => ints!(i16),
        DType::U16 => ints!(u16),
        DType::I8 => ints!(i8),
        DType::U8 | DType::Bool => ints!(u8),
        DType::F32 => Value::float(
            shape,
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
                .collect(),
        ),
        DType::F64 => Value::float(
            shape,
            bytes
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                .collect(),
        ),
        DType::F16 => Value::float(
            shape,
            bytes
                .chunks_exact(2)
                .map(|c| f16_to_f64(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
        ),
        DType::BF16 => Value::float(
            shape,
            bytes
                .chunks_exact(2)
                .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16) as f64)
                .collect(),
        ),
        DType::F8 | DType::I4 | DType::U4 | DType::String | DType::Other => None,
    }
}

fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f64;
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_int64_and_half() {
        let v = decode_le(
            DType::I64,
            vec![2],
            &[
                1, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255,
            ],
        )
        .unwrap();
        assert_eq!(v.as_ints(), vec![1, -1]);
        let h = decode_le(DType::F16, vec![2], &[0x00, 0x3c, 0x00, 0xc0]).unwrap();
        assert_eq!(h.as_floats(), vec![1.0, -2.0]);
    }

    #[test]
    fn refuses_mismatched_or_large() {
        assert!(decode_le(DType::I64, vec![3], &[0; 16]).is_none());
        assert!(decode_le(DType::U8, vec![FOLD_LIMIT + 1], &vec![0; FOLD_LIMIT + 1]).is_none());
    }
}
