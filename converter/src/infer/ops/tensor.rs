//! Tensor plumbing: shapes, reshapes, slicing, gathering, concatenation, padding, constants.
//! These operators carry most of an exporter's shape arithmetic, so they fold small values.

use std::sync::Arc;

use super::{Registry, axis, sizes};
use crate::infer::fact::{Dim, Fact, product};
use crate::infer::fold;
use crate::infer::inputs::{Inputs, RuleError};
use crate::ir::{Attr, Node};
use crate::value::{DType, FOLD_LIMIT, Value, foldable, numel};

pub fn register(r: &mut Registry) {
    r.add(&["Shape"], shape);
    r.add(&["Size"], size);
    r.add(&["Reshape"], reshape);
    r.add(&["Flatten"], flatten);
    r.add(&["Squeeze"], squeeze);
    r.add(&["Unsqueeze"], unsqueeze);
    r.add(&["Transpose"], transpose);
    r.add(&["Concat"], concat);
    r.add(&["Split"], split);
    r.add(&["Slice"], slice);
    r.add(&["Gather"], gather);
    r.add(&["GatherElements"], gather_elements);
    r.add(&["GatherND"], gather_nd);
    r.add(&["Expand"], expand);
    r.add(&["Tile"], tile);
    r.add(&["Pad"], pad);
    r.add(&["ConstantOfShape"], constant_of_shape);
    r.add(&["Constant"], constant);
    r.add(&["Range"], range);
    r.add(&["DepthToSpace", "SpaceToDepth"], depth_space);
    r.add(&["OneHot"], one_hot);
    r.add(&["EyeLike"], eye_like);
    r.add(&["RandomNormal", "RandomUniform"], random);
    r.add(&["Multinomial"], multinomial);
    r.add(&["CenterCropPad"], center_crop_pad);
    r.add(&["OptionalHasElement"], has_element);
}

fn ints_or_attr(
    node: &Node,
    inputs: &Inputs,
    input: usize,
    attr: &str,
) -> Result<Option<Vec<i64>>, RuleError> {
    if inputs.get(input).is_some() {
        return inputs.ints(input).map(Some);
    }
    Ok(node.ints(attr).map(<[i64]>::to_vec))
}

fn shape(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.shape(0)?;
    let r = x.len() as i64;
    let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
    let start = clamp(node.int("start").unwrap_or(0));
    let end = clamp(node.int("end").unwrap_or(r));
    let dims = &x[start.min(end)..end];
    let len = dims.len();
    let value = dims
        .iter()
        .map(|d| d.map(|v| v as i64))
        .collect::<Option<Vec<_>>>()
        .and_then(|v| Value::int(vec![len], v));
    Ok(vec![
        Fact::fixed(DType::I64, &[len as u64]).with_value(value),
    ])
}

fn size(_: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let value = inputs
        .req(0)?
        .numel()
        .and_then(|n| Value::int(vec![], vec![n as i64]));
    Ok(vec![Fact::fixed(DType::I64, &[]).with_value(value)])
}

/// Resolves a Reshape target (with 0 = copy and -1 = infer) against the input shape.
pub fn reshape_dims(
    input: &[Dim],
    target: &[i64],
    allow_zero: bool,
) -> Result<Vec<Dim>, RuleError> {
    let mut out: Vec<Dim> = Vec::with_capacity(target.len());
    let mut infer_at = None;
    for (i, t) in target.iter().enumerate() {
        match *t {
            -1 if infer_at.is_none() => {
                infer_at = Some(i);
                out.push(None);
            }
            0 if !allow_zero => {
                out.push(*input.get(i).ok_or("0 in Reshape beyond the input rank")?)
            }
            t if t >= 0 => out.push(Some(t as u64)),
            t => return Err(format!("invalid Reshape dimension {t}")),
        }
    }
    if let Some(i) = infer_at {
        let total: Option<u64> = input
            .iter()
            .copied()
            .collect::<Option<Vec<_>>>()
            .map(|d| product(&d));
        let known: Option<u64> = out
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, d)| *d)
            .collect::<Option<Vec<_>>>()
            .map(|d| product(&d));
        out[i] = match (total, known) {
            (Some(t), Some(k)) if k > 0 && t % k == 0 => Some(t / k),
            (Some(_), Some(k)) if k > 0 => return Err("Reshape sizes do not divide".into()),
            _ => None,
        };
    }
    let known = |dims: &[Dim]| dims.iter().copied().collect::<Option<Vec<u64>>>();
    if let (Some(from), Some(to)) = (known(input), known(&out))
        && product(&from) != product(&to)
    {
        return Err(format!(
            "Reshape of {} elements to {to:?} ({} elements)",
            product(&from),
            product(&to)
        ));
    }
    Ok(out)
}

fn reshape(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.req(0)?;
    let target = ints_or_attr(node, inputs, 1, "shape")?.ok_or("no target shape")?;
    let input = x.shape.clone().unwrap_or_default();
    if x.shape.is_none() && target.iter().any(|t| *t == 0 || *t == -1) {
        return Ok(vec![Fact::new(
            x.dtype,
            target
                .iter()
                .map(|t| (*t > 0).then_some(*t as u64))
                .collect(),
        )]);
    }
    let dims = reshape_dims(&input, &target, node.int("allowzero").unwrap_or(0) != 0)?;
    let value = x.value.as_ref().and_then(|v| {
        let shape: Option<Vec<usize>> = dims.iter().map(|d| d.map(|d| d as usize)).collect();
        fold::reshape(v, shape?)
    });
    Ok(vec![Fact::new(x.dtype, dims).with_value(value)])
}

fn flatten(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.shape(0)?;
    let a = node.int("axis").unwrap_or(1);
    let a = if a == x.len() as i64 {
        x.len()
    } else {
        axis(a, x.len().max(1))?
    };
    let prod = |s: &[Dim]| {
        s.iter()
            .copied()
            .collect::<Option<Vec<_>>>()
            .map(|d| product(&d))
    };
    Ok(vec![Fact::new(
        inputs.req(0)?.dtype,
        vec![prod(&x[..a]), prod(&x[a..])],
    )])
}

fn squeeze(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.req(0)?;
    let shape = inputs.shape(0)?;
    let axes = ints_or_attr(node, inputs, 1, "axes")?;
    let drop: Vec<usize> = match axes {
        Some(a) => a
            .iter()
            .map(|v| axis(*v, shape.len()))
            .collect::<Result<_, _>>()?,
        None => shape
            .iter()
            .enumerate()
            .filter(|(_, d)| **d == Some(1))
            .map(|(i, _)| i)
            .collect(),
    };
    let dims: Vec<Dim> = shape
        .iter()
        .enumerate()
        .filter(|(i, _)| !drop.contains(i))
        .map(|(_, d)| *d)
        .collect();
    let value = x
        .value
        .as_ref()
        .and_then(|v| fold::reshape(v, concrete(&dims)?));
    Ok(vec![Fact::new(x.dtype, dims).with_value(value)])
}

fn concrete(dims: &[Dim]) -> Option<Vec<usize>> {
    dims.iter().map(|d| d.map(|v| v as usize)).collect()
}

fn unsqueeze(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.req(0)?;
    let shape = inputs.shape(0)?;
    let axes = ints_or_attr(node, inputs, 1, "axes")?.ok_or("no axes")?;
    let rank = shape.len() + axes.len();
    let mut axes: Vec<usize> = axes
        .iter()
        .map(|a| axis(*a, rank))
        .collect::<Result<_, _>>()?;
    axes.sort_unstable();
    let mut dims = shape.to_vec();
    for a in axes {
        if a > dims.len() {
            return Err("Unsqueeze axis out of range".into());
        }
        dims.insert(a, Some(1));
    }
    let value = x
        .value
        .as_ref()
        .and_then(|v| fold::reshape(v, concrete(&dims)?));
    Ok(vec![Fact::new(x.dtype, dims).with_value(value)])
}

fn transpose(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.req(0)?;
    let shape = inputs.shape(0)?;
    let perm: Vec<usize> = match node.ints("perm") {
        Some(p) => p
            .iter()
            .map(|a| axis(*a, shape.len()))
            .collect::<Result<_, _>>()?,
        None => (0..shape.len()).rev().collect(),
    };
    let mut seen = vec![false; shape.len()];
    if perm.len() != shape.len() || perm.iter().any(|p| std::mem::replace(&mut seen[*p], true)) {
        return Err(format!(
            "perm {perm:?} is not a permutation of {} axes",
            shape.len()
        ));
    }
    let dims: Vec<Dim> = perm.iter().map(|p| shape[*p]).collect();
    let value = x.value.as_ref().and_then(|v| {
        let out: Vec<usize> = perm.iter().map(|p| v.shape[*p]).collect();
        let mut strides = vec![1usize; v.shape.len()];
        for i in (0..v.shape.len().saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * v.shape[i + 1];
        }
        let order: Vec<usize> = (0..v.len())
            .map(|mut flat| {
                let mut src = 0;
                for d in (0..out.len()).rev() {
                    src += (flat % out[d]) * strides[perm[d]];
                    flat /= out[d];
                }
                src
            })
            .collect();
        fold::select(v, out, &order)
    });
    Ok(vec![Fact::new(x.dtype, dims).with_value(value)])
}

fn concat(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let first = inputs.req(0)?;
    let rank = inputs
        .present()
        .find_map(Fact::rank)
        .ok_or("rank of every input unknown")?;
    let a = axis(node.int("axis").ok_or("no axis")?, rank.max(1))?;
    let mut dims: Vec<Dim> = vec![None; rank];
    let mut along: Dim = Some(0);
    for f in inputs.present() {
        let Some(s) = &f.shape else {
            along = None;
            continue;
        };
        if s.len() != rank {
            return Err("inputs of different rank".into());
        }
        along = along.zip(s[a]).and_then(|(x, y)| x.checked_add(y));
        for (i, d) in s.iter().enumerate() {
            if i != a && dims[i].is_none() {
                dims[i] = *d;
            }
        }
    }
    dims[a] = along;
    let values: Option<Vec<&Value>> = inputs.present().map(|f| f.value.as_deref()).collect();
    let value = values.and_then(|v| fold::concat(&v, a));
    Ok(vec![Fact::new(first.dtype, dims).with_value(value)])
}

fn split(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.req(0)?;
    let shape = inputs.shape(0)?;
    let a = axis(node.int("axis").unwrap_or(0), shape.len())?;
    let outputs = node.outputs.len();
    let parts: Vec<Dim> = match ints_or_attr(node, inputs, 1, "split")? {
        Some(s) => s.iter().map(|v| u64::try_from(*v).ok()).collect(),
        None => match shape[a] {
            Some(len) => {
                let n = node
                    .int("num_outputs")
                    .map_or(outputs as u64, |n| n.max(1) as u64);
                let chunk = len.div_ceil(n.max(1));
                (0..outputs as u64)
                    .map(|i| Some(chunk.min(len.saturating_sub(i.saturating_mul(chunk)))))
                    .collect()
            }
            None => vec![None; outputs],
        },
    };
    Ok(parts
        .into_iter()
        .map(|p| {
            let mut d = shape.to_vec();
            d[a] = p;
            Fact::new(x.dtype, d)
        })
        .collect())
}

/// Normalised `(start, end, step)` of one sliced axis and the resulting length (ONNX rules),
/// computed in 128 bits so that extreme starts, ends and steps cannot overflow.
fn slice_axis(len: i64, start: i64, end: i64, step: i64) -> (i64, i64, u64) {
    let (len, start, end, step) = (len as i128, start as i128, end as i128, step as i128);
    let norm = |v: i128| if v < 0 { v + len } else { v };
    let (s, e, n) = if step > 0 {
        let s = norm(start).clamp(0, len);
        let e = norm(end).clamp(0, len);
        (s, e, if e > s { (e - s + step - 1) / step } else { 0 })
    } else {
        let s = norm(start).clamp(-1, len - 1);
        let e = norm(end).clamp(-1, len - 1);
        (s, e, if s > e { (s - e - step - 1) / -step } else { 0 })
    };
    (s as i64, e as i64, n as u64)
}

fn slice(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.req(0)?;
    let shape = inputs.shape(0)?;
    let (starts, ends, axes, steps) = if inputs.len() > 1 {
        (
            inputs.ints(1)?,
            inputs.ints(2)?,
            inputs.get(3).map(|_| inputs.ints(3)).transpose()?,
            inputs.get(4).map(|_| inputs.ints(4)).transpose()?,
        )
    } else {
        (
            node.ints("starts").ok_or("no starts")?.to_vec(),
            node.ints("ends").ok_or("no ends")?.to_vec(),
            node.ints("axes").map(<[i64]>::to_vec),
            None,
        )
    };
    let axes: Vec<usize> = match axes {
        Some(a) => a
            .iter()
            .map(|v| axis(*v, shape.len()))
            .collect::<Result<_, _>>()?,
        None => (0..starts.len()).collect(),
    };
    let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err("starts/ends/axes/steps lengths differ".into());
    }
    let mut dims = shape.to_vec();
    let mut ranges = vec![None; shape.len()];
    let mut bounded = false;
    for i in 0..starts.len() {
        if steps[i] == 0 {
            return Err("zero step".into());
        }
        let a = axes[i];
        if let Some(len) = shape[a] {
            let (s, _, n) = slice_axis(len as i64, starts[i], ends[i], steps[i]);
            dims[a] = Some(n);
            ranges[a] = Some((s, steps[i], n));
        } else if steps[i] > 0 && starts[i] >= 0 && ends[i] >= starts[i] && ends[i] < i64::MAX / 2 {
            // Slicing an unknown (data-dependent) length to a fixed window: at most the window.
            dims[a] = Some(
                ((ends[i] as i128 - starts[i] as i128 + steps[i] as i128 - 1) / steps[i] as i128)
                    as u64,
            );
            bounded = true;
        }
    }
    let value = x.value.as_ref().and_then(|v| {
        let out = concrete(&dims)?;
        let n: usize = out.iter().product();
        // Row-major strides of the source, then the source index of every output element.
        let mut strides = vec![1usize; v.shape.len()];
        for d in (0..v.shape.len().saturating_sub(1)).rev() {
            strides[d] = strides[d + 1] * v.shape[d + 1];
        }
        let mut order = Vec::with_capacity(n);
        for flat in 0..n {
            let (mut rem, mut src) = (flat, 0usize);
            for d in (0..out.len()).rev() {
                let i = rem % out[d];
                rem /= out[d];
                let at = match ranges[d] {
                    Some((s, step, _)) => (s as i128 + i as i128 * step as i128) as usize,
                    None => i,
                };
                src += at * strides[d];
            }
            order.push(src);
        }
        fold::select(v, out, &order)
    });
    let fact = Fact::new(x.dtype, dims).with_value(value);
    Ok(vec![if bounded { fact.bounded() } else { fact }])
}

fn gather(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.req(0)?;
    let data = inputs.shape(0)?;
    let indices = inputs.shape(1)?;
    let a = axis(node.int("axis").unwrap_or(0), data.len())?;
    let mut dims = data[..a].to_vec();
    dims.extend_from_slice(indices);
    dims.extend_from_slice(&data[a + 1..]);
    let value = match (inputs.value(0), inputs.value(1)) {
        (Some(d), Some(i)) => fold::gather(d, i, a),
        _ => None,
    };
    Ok(vec![Fact::new(x.dtype, dims).with_value(value)])
}

fn gather_elements(_: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    Ok(vec![Fact::new(
        inputs.req(0)?.dtype,
        inputs.shape(1)?.to_vec(),
    )])
}

fn gather_nd(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let data = inputs.shape(0)?;
    let idx = inputs.shape(1)?;
    let b = node.int("batch_dims").unwrap_or(0).max(0) as usize;
    let last = idx.last().copied().flatten().ok_or("index depth unknown")? as usize;
    if idx.is_empty() || b.saturating_add(last) > data.len() {
        return Err("indices deeper than data".into());
    }
    let mut dims = idx[..idx.len() - 1].to_vec();
    dims.extend_from_slice(&data[b + last..]);
    Ok(vec![Fact::new(inputs.req(0)?.dtype, dims)])
}

fn expand(_: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.req(0)?;
    let target: Vec<Dim> = inputs
        .ints(1)?
        .iter()
        .map(|v| u64::try_from(*v).ok())
        .collect();
    let dims = match &x.shape {
        Some(s) => fold::broadcast(s, &target)?,
        None => target,
    };
    let value = x.value.as_ref().and_then(|v| {
        let out = concrete(&dims)?;
        if !foldable(&out) {
            return None;
        }
        let zeros = Value::int(out.clone(), vec![0; numel(&out)?])?;
        let add = fold::BinaryOp {
            int: i64::checked_add,
            float: |a, b| a + b,
        };
        fold::binary(v, &zeros, add, x.dtype.is_float())
    });
    Ok(vec![Fact::new(x.dtype, dims).with_value(value)])
}

fn tile(_: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.shape(0)?;
    let reps = inputs.ints(1)?;
    if reps.len() != x.len() {
        return Err("repeats length differs from rank".into());
    }
    let dims = x
        .iter()
        .zip(&reps)
        .map(|(d, r)| d.map(|d| d.saturating_mul((*r).max(0) as u64)))
        .collect();
    Ok(vec![Fact::new(inputs.req(0)?.dtype, dims)])
}

fn pad(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.shape(0)?;
    let pads = ints_or_attr(
        node,
        inputs,
        1,
        if node.attr("paddings").is_some() {
            "paddings"
        } else {
            "pads"
        },
    )?
    .ok_or("no pads")?;
    let axes: Vec<usize> = match inputs.get(3) {
        Some(_) => inputs
            .ints(3)?
            .iter()
            .map(|a| axis(*a, x.len()))
            .collect::<Result<_, _>>()?,
        None => (0..x.len()).collect(),
    };
    if pads.len() != 2 * axes.len() {
        return Err(format!("{} pads for {} axes", pads.len(), axes.len()));
    }
    let mut dims = x.to_vec();
    for (i, a) in axes.iter().enumerate() {
        let add = pads[i].saturating_add(pads[i + axes.len()]);
        dims[*a] = dims[*a]
            .and_then(|d| i64::try_from(d).ok()?.checked_add(add))
            .and_then(|d| u64::try_from(d).ok());
    }
    Ok(vec![Fact::new(inputs.req(0)?.dtype, dims)])
}

fn constant_of_shape(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let dims = sizes(&inputs.ints(0)?, "dimension")?;
    let (dtype, fill) = match node.attr("value") {
        Some(Attr::Tensor(t)) => (
            t.dtype,
            t.value.as_ref().and_then(|v| v.float_at(0)).unwrap_or(0.0),
        ),
        _ => (DType::F32, 0.0),
    };
    let n = product(&dims);
    let shape: Vec<usize> = dims.iter().map(|d| *d as usize).collect();
    let value = (n as usize <= FOLD_LIMIT)
        .then(|| {
            if dtype.is_float() {
                Value::float(shape, vec![fill; n as usize])
            } else {
                Value::int(shape, vec![fill as i64; n as usize])
            }
        })
        .flatten();
    Ok(vec![Fact::fixed(dtype, &dims).with_value(value)])
}

fn constant(node: &Node, _: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let fact = match node.attrs.first().map(|(n, a)| (n.as_str(), a)) {
        Some((_, Attr::Tensor(t))) => {
            let f = Fact::fixed(t.dtype, &t.dims);
            f.with_value(t.value.clone())
        }
        Some(("value_float", Attr::Float(v))) => {
            Fact::constant(DType::F32, Value::float(vec![], vec![*v as f64]).unwrap())
        }
        Some(("value_int", Attr::Int(v))) => {
            Fact::constant(DType::I64, Value::int(vec![], vec![*v]).unwrap())
        }
        Some(("value_ints", Attr::Ints(v))) => Fact::constant(
            DType::I64,
            Value::int(vec![v.len()], v.clone()).ok_or("bad ints")?,
        ),
        Some(("value_floats", Attr::Floats(v))) => Fact::constant(
            DType::F32,
            Value::float(vec![v.len()], v.iter().map(|x| *x as f64).collect())
                .ok_or("bad floats")?,
        ),
        _ => return Err("Constant without a supported value".into()),
    };
    Ok(vec![fact])
}

fn range(_: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let dtype = inputs.req(0)?.dtype;
    let get = |i: usize| inputs.value(i).and_then(|v| v.float_at(0));
    let (Some(start), Some(limit), Some(delta)) = (get(0), get(1), get(2)) else {
        return Ok(vec![Fact::new(dtype, vec![None])]);
    };
    if delta == 0.0 {
        return Err("zero delta".into());
    }
    let n = ((limit - start) / delta).ceil().max(0.0);
    if !n.is_finite() || n > 1e15 {
        return Err("range length out of bounds".into());
    }
    let n = n as u64;
    let value: Option<Arc<Value>> = (n as usize <= FOLD_LIMIT)
        .then(|| {
            let vals = (0..n).map(|i| start + i as f64 * delta);
            if dtype.is_float() {
                Value::float(vec![n as usize], vals.collect())
            } else {
                Value::int(vec![n as usize], vals.map(|v| v as i64).collect())
            }
        })
        .flatten();
    Ok(vec![Fact::fixed(dtype, &[n]).with_value(value)])
}

fn depth_space(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.shape(0)?;
    if x.len() != 4 {
        return Err("needs a 4-D input".into());
    }
    let b = node.int("blocksize").ok_or("no blocksize")?.max(1) as u64;
    let area = b.saturating_mul(b);
    let dims = if node.op_type == "DepthToSpace" {
        vec![
            x[0],
            x[1].map(|c| c / area),
            x[2].map(|h| h.saturating_mul(b)),
            x[3].map(|w| w.saturating_mul(b)),
        ]
    } else {
        vec![
            x[0],
            x[1].map(|c| c.saturating_mul(area)),
            x[2].map(|h| h / b),
            x[3].map(|w| w / b),
        ]
    };
    Ok(vec![Fact::new(inputs.req(0)?.dtype, dims)])
}

fn one_hot(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let idx = inputs.shape(0)?;
    let depth = inputs
        .value(1)
        .and_then(|v| v.float_at(0))
        .map(|d| d.max(0.0) as u64);
    let mut dims = idx.to_vec();
    let a = axis(node.int("axis").unwrap_or(-1), idx.len() + 1)?;
    dims.insert(a, depth);
    Ok(vec![Fact::new(inputs.req(2)?.dtype, dims)])
}

fn eye_like(_: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.req(0)?;
    Ok(vec![Fact {
        value: None,
        ..x.clone()
    }])
}

/// `RandomNormal`/`RandomUniform`: the `shape` attribute, of type `dtype` (default float).
fn random(node: &Node, _inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let dims = sizes(node.ints("shape").ok_or("no shape attribute")?, "dimension")?;
    let dtype = node
        .int("dtype")
        .map_or(DType::F32, |t| DType::from_onnx(t as i32));
    Ok(vec![Fact::fixed(dtype, &dims)])
}

/// `Multinomial(input [batch, classes])`: `[batch, sample_size]` indices.
fn multinomial(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.shape(0)?;
    let samples = u64::try_from(node.int("sample_size").unwrap_or(1)).ok();
    let dtype = node
        .int("dtype")
        .map_or(DType::I32, |t| DType::from_onnx(t as i32));
    Ok(vec![Fact::new(
        dtype,
        vec![x.first().copied().flatten(), samples],
    )])
}

/// `CenterCropPad(input, shape)`: the cropped or padded axes (attribute `axes`, default all)
/// take the lengths in `shape`.
fn center_crop_pad(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.shape(0)?;
    let lengths = inputs.ints(1)?;
    let axes: Vec<usize> = match node.ints("axes") {
        Some(a) => a
            .iter()
            .map(|a| axis(*a, x.len()))
            .collect::<Result<_, _>>()?,
        None => (0..x.len()).collect(),
    };
    if axes.len() != lengths.len() {
        return Err(format!("{} axes but {} lengths", axes.len(), lengths.len()));
    }
    let mut out = x.to_vec();
    for (a, l) in axes.into_iter().zip(sizes(&lengths, "length")?) {
        out[a] = Some(l);
    }
    Ok(vec![Fact::new(inputs.req(0)?.dtype, out)])
}

/// `OptionalHasElement(input)`: a boolean scalar.
fn has_element(_: &Node, _: &Inputs) -> Result<Vec<Fact>, RuleError> {
    Ok(vec![Fact::fixed(DType::Bool, &[])])
}
