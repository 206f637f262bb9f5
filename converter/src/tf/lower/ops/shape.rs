//! Shape and layout ops: concatenation, padding, reshapes (constant or computed targets, in TF
//! order), squeezes, resizes, `Shape`, `StridedSlice` and `Pack`, with their axes mapped to the
//! lowered layout.

use super::super::super::proto::{NodeDef, attr_value};
use super::super::attrs::{attr, attr_int, attr_ints, to_nchw};
use super::super::{Lowerer, Op};
use super::Registry;
use crate::error::Result;
use crate::ir::Attr;

pub(super) fn register(r: &mut Registry) {
    r.add(["ConcatV2"], 2, concat);
    r.add(["Pad", "PadV2", "MirrorPad"], 2, pad);
    r.add(["Reshape"], 2, reshape);
    r.add(["Squeeze"], 1, squeeze);
    r.add(
        ["ResizeBilinear", "ResizeNearestNeighbor", "ResizeBicubic"],
        2,
        resize,
    );
    r.add(["Shape"], 1, shape);
    r.add(["StridedSlice"], 4, |l, op| {
        l.strided_slice(op.node, &op.inputs)
    });
    r.add(["Pack"], 1, pack);
}

/// The last input is the axis.
fn concat(l: &mut Lowerer, op: Op) -> Result<()> {
    let (node, inputs) = (op.node, &op.inputs);
    let (data, axis) = inputs.split_at(inputs.len().saturating_sub(1));
    let Some(axis) = axis
        .first()
        .and_then(|a| l.const_ints(a))
        .and_then(|v| v.first().copied())
    else {
        return l.unsupported(node, op.inputs.clone(), "non-constant axis");
    };
    let known = data
        .iter()
        .find(|d| l.rank.contains_key(*d))
        .unwrap_or(&data[0])
        .clone();
    let axis = l.axis(&known, axis);
    l.push(
        node,
        "Concat",
        data.to_vec(),
        vec![("axis".into(), Attr::Int(axis))],
    );
    let rank = l.rank.get(&known).copied();
    l.keep_rank(op.out(), rank);
    Ok(())
}

fn pad(l: &mut Lowerer, op: Op) -> Result<()> {
    let node = op.node;
    let Some(paddings) = op.inputs.get(1).and_then(|p| l.const_ints(p)) else {
        return l.unsupported(node, op.inputs, "non-constant paddings");
    };
    let rank = paddings.len() / 2;
    let mut begin: Vec<i64> = (0..rank).map(|i| paddings[2 * i]).collect();
    let mut end: Vec<i64> = (0..rank).map(|i| paddings[2 * i + 1]).collect();
    if l.is_nhwc4(&op.first) && rank == 4 {
        begin = to_nchw(&begin);
        end = to_nchw(&end);
    }
    begin.extend(end);
    let pads = l.int_const(&node.name, &begin);
    l.push(node, "Pad", vec![op.first.clone(), pads], Vec::new());
    l.rank.insert(op.out(), rank);
    Ok(())
}

fn reshape(l: &mut Lowerer, op: Op) -> Result<()> {
    let (node, inputs) = (op.node, &op.inputs);
    let out = op.out();
    let Some(shape) = l.const_ints(&inputs[1]) else {
        // a shape computed in the graph (Keras's Flatten with an open batch), in TF order
        let Some(rank) = l.lengths.get(&inputs[1]).copied() else {
            return l.unsupported(node, op.inputs, "non-constant shape of unknown length");
        };
        let target = if l.nhwc && rank == 4 {
            l.gather(&node.name, &inputs[1], &[0, 3, 1, 2])
        } else {
            inputs[1].clone()
        };
        l.rank.insert(out, rank);
        l.push(node, "Reshape", vec![op.first.clone(), target], Vec::new());
        return Ok(());
    };
    let shape = if l.nhwc && shape.len() == 4 {
        to_nchw(&shape)
    } else {
        shape
    };
    let target = l.int_const(&node.name, &shape);
    l.rank.insert(out, shape.len());
    l.push(node, "Reshape", vec![op.first.clone(), target], Vec::new());
    Ok(())
}

fn squeeze(l: &mut Lowerer, op: Op) -> Result<()> {
    let node = op.node;
    let dims = attr_ints(node, "squeeze_dims").unwrap_or_default();
    let axes: Vec<i64> = dims.iter().map(|&a| l.axis(&op.first, a)).collect();
    let mut ins = vec![op.first.clone()];
    if !axes.is_empty() {
        ins.push(l.int_const(&node.name, &axes));
    }
    if let Some(r) = op.rank {
        l.rank.insert(op.out(), r.saturating_sub(axes.len().max(1)));
    }
    l.push(node, "Squeeze", ins, Vec::new());
    Ok(())
}

/// `Resize` to `shape(x)[0:2] ++ size`.
fn resize(l: &mut Lowerer, op: Op) -> Result<()> {
    let node = op.node;
    let first = op.first.clone();
    let Some(size) = op
        .inputs
        .get(1)
        .and_then(|p| l.const_ints(p))
        .filter(|s| s.len() == 2)
    else {
        return l.unsupported(node, op.inputs, "non-constant size");
    };
    let shape = l.fresh(&node.name);
    l.push_named(&shape, "Shape", vec![first.clone()], Vec::new());
    let starts = l.int_const(&node.name, &[0]);
    let ends = l.int_const(&node.name, &[2]);
    let lead = l.fresh(&node.name);
    l.push_named(&lead, "Slice", vec![shape, starts, ends], Vec::new());
    let hw = l.int_const(&node.name, &size);
    let sizes = l.fresh(&node.name);
    l.push_named(
        &sizes,
        "Concat",
        vec![lead, hw],
        vec![("axis".into(), Attr::Int(0))],
    );
    let mode = match node.op.as_str() {
        "ResizeNearestNeighbor" => "nearest",
        "ResizeBicubic" => "cubic",
        _ => "linear",
    };
    l.push(
        node,
        "Resize",
        vec![first, String::new(), String::new(), sizes],
        vec![("mode".into(), Attr::String(mode.into()))],
    );
    l.rank.insert(op.out(), 4);
    Ok(())
}

/// TF order: an NCHW-lowered 4-D tensor's shape is gathered back to NHWC.
fn shape(l: &mut Lowerer, op: Op) -> Result<()> {
    let (node, first, out) = (op.node, op.first.clone(), op.out());
    if l.is_nhwc4(&first) {
        let lowered = l.fresh(&node.name);
        l.push_named(&lowered, "Shape", vec![first], Vec::new());
        let indices = l.int_const(&node.name, &[0, 2, 3, 1]);
        l.push(node, "Gather", vec![lowered, indices], Vec::new());
    } else {
        l.push(node, "Shape", vec![first], Vec::new());
    }
    if let Some(r) = op.rank {
        l.lengths.insert(out.clone(), r);
    }
    l.rank.insert(out, 1);
    Ok(())
}

/// Stacks tensors along a new axis: `Unsqueeze` each, then `Concat`.
fn pack(l: &mut Lowerer, op: Op) -> Result<()> {
    let (node, inputs) = (op.node, &op.inputs);
    let out = op.out();
    let axis = attr_int(node, "axis");
    let known_rank = inputs.iter().find_map(|i| l.rank.get(i).copied());
    if inputs.iter().any(|i| l.is_nhwc4(i)) {
        return l.unsupported(node, op.inputs, "packing 4-D tensors");
    }
    let rank = known_rank.unwrap_or(0) as i64;
    let axis = axis.unwrap_or(0);
    let axis = if axis < 0 { axis + rank + 1 } else { axis };
    let axes = l.int_const(&node.name, &[axis]);
    let mut parts = Vec::with_capacity(inputs.len());
    for input in inputs {
        let part = l.fresh(&node.name);
        l.push_named(
            &part,
            "Unsqueeze",
            vec![input.clone(), axes.clone()],
            Vec::new(),
        );
        parts.push(part);
    }
    l.push(
        node,
        "Concat",
        parts,
        vec![("axis".into(), Attr::Int(axis))],
    );
    if rank == 0 {
        l.lengths.insert(out.clone(), inputs.len());
    }
    l.rank.insert(out, rank as usize + 1);
    Ok(())
}

impl Lowerer {
    /// `Gather(tensor, indices)` on axis 0 under a fresh name.
    fn gather(&mut self, stem: &str, tensor: &str, indices: &[i64]) -> String {
        let indices = self.int_const(stem, indices);
        let out = self.fresh(stem);
        self.push_named(
            &out,
            "Gather",
            vec![tensor.to_string(), indices],
            Vec::new(),
        );
        out
    }

    /// `StridedSlice` as ONNX `Slice` (plus `Squeeze` for the axes it shrinks). Strides must be
    /// constant; bounds that are computed (Keras's `Cropping2D` and `ZeroPadding2D` take them
    /// from `Shape`) become `bound · keep + fill` tensors, which shape inference folds: `keep`
    /// is 1 where the bound is read from the tensor and 0 where a mask replaces it by `fill`.
    fn strided_slice(&mut self, node: &NodeDef, inputs: &[String]) -> Result<()> {
        let mask = |name: &str| match attr(node, name) {
            Some(attr_value::Value::I(i)) => *i,
            _ => 0,
        };
        let Some(strides) = self.const_ints(&inputs[3]) else {
            return self.unsupported(node, inputs.to_vec(), "non-constant strides");
        };
        let (begin, end) = (self.const_ints(&inputs[1]), self.const_ints(&inputs[2]));
        let n = strides.len();
        let fits = |b: &Option<Vec<i64>>| b.as_ref().is_none_or(|b| b.len() == n);
        if !fits(&begin) || !fits(&end) || n > 64 {
            return self.unsupported(node, inputs.to_vec(), "bounds of different lengths");
        }
        if mask("ellipsis_mask") != 0 || mask("new_axis_mask") != 0 {
            return self.unsupported(node, inputs.to_vec(), "ellipsis or new-axis masks");
        }
        let bit = |m: i64, i: usize| m >> i & 1 == 1;
        let (begin_mask, end_mask, shrink) = (
            mask("begin_mask"),
            mask("end_mask"),
            mask("shrink_axis_mask"),
        );
        if begin.is_none() && (0..n).any(|i| bit(shrink, i)) {
            return self.unsupported(node, inputs.to_vec(), "shrinking a computed bound");
        }
        let data = &inputs[0];
        // per axis: `Some(v)` a constant bound, `None` the bound tensor's element
        let (mut starts, mut ends, mut axes, mut steps, mut squeezed) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            let step = if bit(shrink, i) { 1 } else { strides[i] };
            if step == 0 {
                return self.unsupported(node, inputs.to_vec(), "a zero stride");
            }
            let given = |b: &Option<Vec<i64>>| b.as_ref().map(|b| b[i]);
            let start = if bit(begin_mask, i) && !bit(shrink, i) {
                Some(if step > 0 { 0 } else { i64::MAX })
            } else {
                given(&begin)
            };
            let stop = if bit(shrink, i) {
                // a shrunk axis has a constant begin (checked above)
                begin.as_ref().map(|b| {
                    if b[i] == -1 {
                        i64::MAX
                    } else {
                        b[i].saturating_add(1)
                    }
                })
            } else if bit(end_mask, i) {
                Some(if step > 0 { i64::MAX } else { i64::MIN })
            } else {
                given(&end)
            };
            let axis = self.axis(data, i as i64);
            starts.push(start);
            ends.push(stop);
            axes.push(axis);
            steps.push(step);
            if bit(shrink, i) {
                squeezed.push(axis);
            }
        }
        let operands = vec![
            data.clone(),
            self.bound(&node.name, &starts, &inputs[1]),
            self.bound(&node.name, &ends, &inputs[2]),
            self.int_const(&node.name, &axes),
            self.int_const(&node.name, &steps),
        ];
        let rank = self.rank.get(data).copied();
        let out = node.name.clone();
        if squeezed.is_empty() {
            self.push(node, "Slice", operands, Vec::new());
        } else {
            let sliced = self.fresh(&node.name);
            self.push_named(&sliced, "Slice", operands, Vec::new());
            let squeeze = self.int_const(&node.name, &squeezed);
            self.push(node, "Squeeze", vec![sliced, squeeze], Vec::new());
        }
        if let Some(r) = rank {
            self.rank.insert(out, r.saturating_sub(squeezed.len()));
        }
        Ok(())
    }

    /// A slice bound: constant when every entry is, else `tensor · keep + fill` (see
    /// [`Self::strided_slice`]).
    fn bound(&mut self, stem: &str, entries: &[Option<i64>], tensor: &str) -> String {
        if let Some(all) = entries.iter().copied().collect::<Option<Vec<i64>>>() {
            return self.int_const(stem, &all);
        }
        let keep: Vec<i64> = entries.iter().map(|e| i64::from(e.is_none())).collect();
        let fill: Vec<i64> = entries.iter().map(|e| e.unwrap_or(0)).collect();
        let (keep, fill) = (self.int_const(stem, &keep), self.int_const(stem, &fill));
        let kept = self.fresh(stem);
        self.push_named(&kept, "Mul", vec![tensor.to_string(), keep], Vec::new());
        let bound = self.fresh(stem);
        self.push_named(&bound, "Add", vec![kept, fill], Vec::new());
        bound
    }
}
