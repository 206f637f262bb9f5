//! Constant folding of small tensors: the shape arithmetic that exporters write as operators
//! (`Shape → Gather → Unsqueeze → Concat → Reshape`). Everything here is bounded by
//! [`FOLD_LIMIT`] elements.

use std::sync::Arc;

use super::fact::Dim;
use crate::value::{Data, Value, foldable};

/// Multidirectional (numpy) broadcast of shapes.
pub fn broadcast(a: &[Dim], b: &[Dim]) -> Result<Vec<Dim>, String> {
    let rank = a.len().max(b.len());
    let at = |s: &[Dim], i: usize| {
        if i + s.len() >= rank {
            s[i + s.len() - rank]
        } else {
            Some(1)
        }
    };
    (0..rank)
        .map(|i| match (at(a, i), at(b, i)) {
            (Some(x), Some(y)) if x == y => Ok(Some(x)),
            (Some(1), y) => Ok(y),
            (x, Some(1)) => Ok(x),
            (Some(x), Some(y)) => Err(format!("cannot broadcast dimension {x} with {y}")),
            (Some(x), None) | (None, Some(x)) => Ok(Some(x)),
            (None, None) => Ok(None),
        })
        .collect()
}

/// For each output element, the flat index into a tensor of `shape` broadcast to `out`.
fn broadcast_index(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let n: usize = out.iter().product();
    let offset = out.len() - shape.len();
    let mut strides = vec![0usize; out.len()];
    let mut s = 1;
    for i in (0..shape.len()).rev() {
        strides[i + offset] = if shape[i] == 1 { 0 } else { s };
        s *= shape[i];
    }
    (0..n)
        .map(|mut flat| {
            let mut idx = 0;
            for d in (0..out.len()).rev() {
                idx += (flat % out[d]) * strides[d];
                flat /= out[d];
            }
            idx
        })
        .collect()
}

fn concrete(shape: &[Dim]) -> Option<Vec<usize>> {
    shape.iter().map(|d| d.map(|x| x as usize)).collect()
}

/// Element-wise arithmetic on constants of either kind.
#[derive(Clone, Copy)]
pub struct BinaryOp {
    pub int: fn(i64, i64) -> Option<i64>,
    pub float: fn(f64, f64) -> f64,
}

/// Applies `op` with broadcasting. The result is floating-point when `float_result` (or either
/// operand is float and the op is arithmetic), integer otherwise.
pub fn binary(a: &Value, b: &Value, op: BinaryOp, float_result: bool) -> Option<Arc<Value>> {
    let dims: Vec<Dim> = broadcast(&dims_of(a), &dims_of(b)).ok()?;
    let out = concrete(&dims)?;
    if !foldable(&out) {
        return None;
    }
    let ia = broadcast_index(&a.shape, &out);
    let ib = broadcast_index(&b.shape, &out);
    match (&a.data, &b.data, float_result) {
        (Data::Int(x), Data::Int(y), false) => {
            let data: Option<Vec<i64>> = ia
                .iter()
                .zip(&ib)
                .map(|(i, j)| (op.int)(x[*i], y[*j]))
                .collect();
            Value::int(out, data?)
        }
        _ => {
            let (x, y) = (a.as_floats(), b.as_floats());
            let data: Vec<f64> = ia
                .iter()
                .zip(&ib)
                .map(|(i, j)| (op.float)(x[*i], y[*j]))
                .collect();
            if float_result {
                Value::float(out, data)
            } else {
                Value::int(out, data.iter().map(|v| *v as i64).collect())
            }
        }
    }
}

/// Applies `f` to every element, producing floats or integers.
pub fn unary(a: &Value, f: fn(f64) -> f64, float_result: bool) -> Option<Arc<Value>> {
    let data: Vec<f64> = a.as_floats().into_iter().map(f).collect();
    if float_result {
        Value::float(a.shape.clone(), data)
    } else {
        Value::int(
            a.shape.clone(),
            data.into_iter().map(|v| v as i64).collect(),
        )
    }
}

/// Shape of a value as dims.
pub fn dims_of(v: &Value) -> Vec<Dim> {
    v.shape.iter().map(|d| Some(*d as u64)).collect()
}

/// Selects `indices` along `axis` (ONNX Gather).
pub fn gather(data: &Value, indices: &Value, axis: usize) -> Option<Arc<Value>> {
    let shape = &data.shape;
    let dim = *shape.get(axis)? as i64;
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..].iter().product();
    let idx: Option<Vec<usize>> = indices
        .as_ints()
        .iter()
        .map(|i| {
            let i = if *i < 0 { i + dim } else { *i };
            (0..dim).contains(&i).then_some(i as usize)
        })
        .collect();
    let idx = idx?;
    let mut out_shape = shape[..axis].to_vec();
    out_shape.extend(&indices.shape);
    out_shape.extend(&shape[axis + 1..]);
    if !foldable(&out_shape) {
        return None;
    }
    let pick = |o: usize, i: usize, k: usize| (o * dim as usize + i) * inner + k;
    let order: Vec<usize> = (0..outer)
        .flat_map(|o| {
            idx.iter()
                .flat_map(move |i| (0..inner).map(move |k| pick(o, *i, k)))
        })
        .collect();
    select(data, out_shape, &order)
}

/// A new value made of the elements of `data` at `order`.
pub fn select(data: &Value, shape: Vec<usize>, order: &[usize]) -> Option<Arc<Value>> {
    match &data.data {
        Data::Int(v) => Value::int(shape, order.iter().map(|i| v[*i]).collect()),
        Data::Float(v) => Value::float(shape, order.iter().map(|i| v[*i]).collect()),
    }
}

/// Concatenates values along `axis`.
pub fn concat(values: &[&Value], axis: usize) -> Option<Arc<Value>> {
    let first = values.first()?;
    let mut shape = first.shape.clone();
    if axis >= shape.len() {
        return None;
    }
    shape[axis] = values.iter().try_fold(0usize, |a, v| {
        a.checked_add(v.shape.get(axis).copied().unwrap_or(0))
    })?;
    if !foldable(&shape) {
        return None;
    }
    let outer: usize = shape[..axis].iter().product();
    let float = values.iter().any(|v| matches!(v.data, Data::Float(_)));
    if values.iter().any(|v| v.shape.len() != shape.len()) {
        return None;
    }
    // Each input contributes `chunk` consecutive elements per outer index.
    let chunks: Vec<usize> = values
        .iter()
        .map(|v| v.shape[axis..].iter().product())
        .collect();
    if float {
        let data: Vec<Vec<f64>> = values.iter().map(|v| v.as_floats()).collect();
        Value::float(shape, interleave(&data, &chunks, outer)?)
    } else {
        let data: Vec<Vec<i64>> = values.iter().map(|v| v.as_ints()).collect();
        Value::int(shape, interleave(&data, &chunks, outer)?)
    }
}

/// For each outer index, `chunks[k]` consecutive elements of every `data[k]` in turn.
fn interleave<T: Copy>(data: &[Vec<T>], chunks: &[usize], outer: usize) -> Option<Vec<T>> {
    let mut out = Vec::with_capacity(data.iter().map(Vec::len).sum());
    for o in 0..outer {
        for (d, c) in data.iter().zip(chunks) {
            out.extend_from_slice(d.get(o * c..(o + 1) * c)?);
        }
    }
    Some(out)
}

/// The same elements with a new shape.
pub fn reshape(v: &Value, shape: Vec<usize>) -> Option<Arc<Value>> {
    match &v.data {
        Data::Int(d) => Value::int(shape, d.clone()),
        Data::Float(d) => Value::float(shape, d.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasts_and_gathers() {
        assert_eq!(
            broadcast(&[Some(1), Some(3)], &[Some(2), Some(1)]).unwrap(),
            vec![Some(2), Some(3)]
        );
        assert!(broadcast(&[Some(2)], &[Some(3)]).is_err());
        let shape = Value::int(vec![4], vec![1, 3, 224, 224]).unwrap();
        let idx = Value::int(vec![], vec![-1]).unwrap();
        assert_eq!(gather(&shape, &idx, 0).unwrap().as_ints(), vec![224]);
        let a = Value::int(vec![2], vec![1, 2]).unwrap();
        assert_eq!(concat(&[&a, &a], 0).unwrap().as_ints(), vec![1, 2, 1, 2]);
    }
}
