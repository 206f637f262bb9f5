//! Reading a TF node's attributes and constants: typed attribute getters, the TF tensor
//! decoder and the NHWC → NCHW rearrangement of 4-D values.

use std::sync::Arc;

use super::super::proto::{AttrValue, NodeDef, TensorProto, TensorShapeProto, attr_value};
use crate::error::{ConvertError, Result};
use crate::value::{DType, FOLD_LIMIT, Value, decode_le};

/// Largest float constant decoded for folding (shape arithmetic only needs short vectors).
const FLOAT_FOLD_LIMIT: usize = 64;

/// A constant of the TF graph.
#[derive(Clone)]
pub(super) struct TfConst {
    pub dtype: DType,
    pub dims: Vec<u64>,
    pub value: Option<Arc<Value>>,
}

pub(super) fn attr<'a>(node: &'a NodeDef, name: &str) -> Option<&'a attr_value::Value> {
    node.attr
        .get(name)
        .and_then(|a: &AttrValue| a.value.as_ref())
}

pub(super) fn attr_ints(node: &NodeDef, name: &str) -> Option<Vec<i64>> {
    match attr(node, name)? {
        attr_value::Value::List(l) => Some(l.i.clone()),
        _ => None,
    }
}

pub(super) fn attr_int(node: &NodeDef, name: &str) -> Option<i64> {
    match attr(node, name)? {
        attr_value::Value::I(i) => Some(*i),
        _ => None,
    }
}

pub(super) fn attr_string(node: &NodeDef, name: &str) -> Option<String> {
    match attr(node, name)? {
        attr_value::Value::S(s) => Some(String::from_utf8_lossy(s).into_owned()),
        _ => None,
    }
}

pub(super) fn attr_bool(node: &NodeDef, name: &str) -> Option<bool> {
    match attr(node, name)? {
        attr_value::Value::B(b) => Some(*b),
        _ => None,
    }
}

pub(super) fn attr_float(node: &NodeDef, name: &str) -> Option<f32> {
    match attr(node, name)? {
        attr_value::Value::F(f) => Some(*f),
        _ => None,
    }
}

pub(super) fn attr_dtype(node: &NodeDef, name: &str) -> DType {
    match attr(node, name) {
        Some(attr_value::Value::Type(t)) => DType::from_onnx(super::super::proto::onnx_dtype(*t)),
        _ => DType::Other,
    }
}

/// The dims of a `shape` attribute; `None` for an unknown rank.
pub(super) fn attr_shape(node: &NodeDef, name: &str) -> Option<Vec<i64>> {
    match attr(node, name)? {
        attr_value::Value::Shape(s) => shape_dims(s),
        _ => None,
    }
}

fn shape_dims(shape: &TensorShapeProto) -> Option<Vec<i64>> {
    (!shape.unknown_rank).then(|| shape.dim.iter().map(|d| d.size).collect())
}

/// NHWC order → NCHW order of a 4-element list.
pub(super) fn to_nchw<T: Copy>(v: &[T]) -> Vec<T> {
    vec![v[0], v[3], v[1], v[2]]
}

/// The elements of a 4-D NHWC tensor in NCHW order.
pub(super) fn nhwc_to_nchw_value(v: &Value) -> Option<Arc<Value>> {
    let [n, h, w, c] = <[usize; 4]>::try_from(v.shape.as_slice()).ok()?;
    let order: Vec<usize> = (0..n)
        .flat_map(|b| {
            (0..c).flat_map(move |ch| {
                (0..h).flat_map(move |y| (0..w).map(move |x| ((b * h + y) * w + x) * c + ch))
            })
        })
        .collect();
    let shape = vec![n, c, h, w];
    match &v.data {
        crate::value::Data::Int(d) => Value::int(shape, order.iter().map(|&i| d[i]).collect()),
        crate::value::Data::Float(d) => Value::float(shape, order.iter().map(|&i| d[i]).collect()),
    }
}

/// Decodes a TF tensor: dims and, when small, its elements.
pub(super) fn decode_tensor(t: &TensorProto) -> Result<TfConst> {
    let dims: Vec<u64> = t
        .tensor_shape
        .as_ref()
        .map(|s| s.dim.iter().map(|d| d.size.max(0) as u64).collect())
        .unwrap_or_default();
    let count = dims.iter().try_fold(1u64, |a, d| a.checked_mul(*d));
    let count = match count {
        Some(n) if n <= crate::onnx::MAX_TENSOR_ELEMENTS && usize::try_from(n).is_ok() => {
            n as usize
        }
        _ => {
            return Err(ConvertError::Invalid(format!(
                "a constant of {dims:?} elements is too large"
            )));
        }
    };
    let dtype = DType::from_onnx(super::super::proto::onnx_dtype(t.dtype));
    let shape: Vec<usize> = dims.iter().map(|&d| d as usize).collect();
    let small = count <= FOLD_LIMIT && (!dtype.is_float() || count <= FLOAT_FOLD_LIMIT);
    let value = if !small {
        None
    } else if !t.tensor_content.is_empty() {
        decode_le(dtype, shape, &t.tensor_content)
    } else {
        // typed lists; a single element fills the whole tensor
        let fill = |v: Vec<f64>| -> Option<Vec<f64>> {
            match v.len() {
                0 => None,
                1 => Some(vec![v[0]; count]),
                n if n == count => Some(v),
                _ => None,
            }
        };
        if dtype.is_float() {
            let v: Vec<f64> = if t.float_val.is_empty() {
                t.double_val.clone()
            } else {
                t.float_val.iter().map(|&f| f64::from(f)).collect()
            };
            fill(v).and_then(|v| Value::float(shape, v))
        } else {
            let v: Vec<f64> = if !t.int64_val.is_empty() {
                t.int64_val.iter().map(|&i| i as f64).collect()
            } else if !t.bool_val.is_empty() {
                t.bool_val.iter().map(|&b| f64::from(u8::from(b))).collect()
            } else {
                t.int_val.iter().map(|&i| f64::from(i)).collect()
            };
            fill(v).and_then(|v| Value::int(shape, v.into_iter().map(|x| x as i64).collect()))
        }
    };
    Ok(TfConst { dtype, dims, value })
}
