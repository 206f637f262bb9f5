//! Graph plumbing: constants, placeholders and variables (the graph's inputs and weights),
//! ops that pass a tensor through (removed by aliasing), bookkeeping ops (dropped), and the
//! `SpaceToBatchND`/`BatchToSpaceND` pair around TF's atrous convolutions.

use super::super::super::proto::attr_value;
use super::super::attrs::{
    TfConst, attr, attr_dtype, attr_shape, decode_tensor, nhwc_to_nchw_value, to_nchw,
};
use super::super::{Lowerer, Op};
use super::Registry;
use crate::error::{ConvertError, Result};
use crate::ir::{DeclaredDim, TensorDecl};

/// Ops that pass their first input through unchanged.
const PASS_THROUGH: &[&str] = &[
    "Identity",
    "StopGradient",
    "PreventGradient",
    "Snapshot",
    "CheckNumerics",
    "EnsureShape",
    "ReadVariableOp",
];

pub(super) fn register(r: &mut Registry) {
    r.add(["Const"], 0, constant);
    r.add(["Placeholder"], 0, placeholder);
    r.add(["PlaceholderWithDefault"], 1, alias_first);
    r.add(["VarHandleOp", "VariableV2"], 0, variable);
    r.add(["NoOp"], 0, drop);
    r.add(
        ["Assert", "AssignVariableOp", "SaveV2", "RestoreV2"],
        1,
        drop,
    );
    r.add(PASS_THROUGH.iter().copied(), 1, alias_first);
    r.add(["IdentityN"], 0, identity_n);
    r.add(["SpaceToBatchND"], 2, space_to_batch);
    r.add(["BatchToSpaceND"], 2, batch_to_space);
}

fn constant(l: &mut Lowerer, op: Op) -> Result<()> {
    let node = op.node;
    let tensor = match attr(node, "value") {
        Some(attr_value::Value::Tensor(t)) => t,
        _ => {
            return Err(ConvertError::Invalid(format!(
                "Const `{}` has no value",
                node.name
            )));
        }
    };
    let mut c = decode_tensor(tensor)?;
    if l.nhwc && c.dims.len() == 4 {
        // a 4-D constant is NHWC (or a filter): stored as NCHW like the activations
        l.tf_dims.insert(op.out(), c.dims.clone());
        c.value = c.value.and_then(|v| nhwc_to_nchw_value(&v));
        c.dims = to_nchw(&c.dims);
    }
    l.constant(&node.name, c);
    Ok(())
}

fn placeholder(l: &mut Lowerer, op: Op) -> Result<()> {
    let out = op.out();
    let dims = attr_shape(op.node, "shape").map(|d| {
        if l.nhwc && d.len() == 4 {
            to_nchw(&d)
        } else {
            d
        }
    });
    if let Some(d) = &dims {
        let fixed: Vec<u64> = d.iter().map(|&v| v.max(1) as u64).collect();
        crate::onnx::check_size("placeholder", &out, &fixed)?;
        l.rank.insert(out.clone(), d.len());
    }
    l.graph.inputs.push(TensorDecl {
        name: out,
        dtype: attr_dtype(op.node, "dtype"),
        shape: dims.map(|d| {
            d.iter()
                .map(|&v| {
                    if v >= 0 {
                        DeclaredDim::Fixed(v as u64)
                    } else {
                        DeclaredDim::Unknown
                    }
                })
                .collect()
        }),
    });
    Ok(())
}

/// SavedModel variables: only their shapes matter.
fn variable(l: &mut Lowerer, op: Op) -> Result<()> {
    let out = op.out();
    let dims = attr_shape(op.node, "shape").unwrap_or_default();
    let dims: Vec<u64> = dims.iter().map(|&d| d.max(0) as u64).collect();
    crate::onnx::check_size("variable", &out, &dims)?;
    let c = TfConst {
        dtype: attr_dtype(op.node, "dtype"),
        dims,
        value: None,
    };
    l.constant(&out, c);
    Ok(())
}

fn drop(_: &mut Lowerer, _: Op) -> Result<()> {
    Ok(())
}

/// The output is the first input (a placeholder's default value is that tensor).
fn alias_first(l: &mut Lowerer, op: Op) -> Result<()> {
    l.alias.insert(op.out(), op.first);
    Ok(())
}

/// Output k is input k (custom-gradient wrappers, e.g. Keras's swish).
fn identity_n(l: &mut Lowerer, op: Op) -> Result<()> {
    let out = op.out();
    for (k, input) in op.inputs.into_iter().enumerate() {
        let name = if k == 0 {
            out.clone()
        } else {
            format!("{out}:{k}")
        };
        l.alias.insert(name, input);
    }
    Ok(())
}

/// Whether the atrous-convolution pair can be folded away (4-D NHWC data).
fn atrous_pair(l: &Lowerer, op: &Op) -> bool {
    l.nhwc && op.rank == Some(4)
}

/// Remembers the block shape for the convolution that reads the output, which becomes dilated.
fn space_to_batch(l: &mut Lowerer, op: Op) -> Result<()> {
    if !atrous_pair(l, &op) {
        return l.unknown(op);
    }
    let Some(block) = op.inputs.get(1).and_then(|b| l.const_ints(b)) else {
        return l.unsupported(op.node, op.inputs, "non-constant block shape");
    };
    l.atrous.insert(op.out(), block);
    alias_first(l, op)
}

fn batch_to_space(l: &mut Lowerer, op: Op) -> Result<()> {
    if !atrous_pair(l, &op) {
        return l.unknown(op);
    }
    alias_first(l, op)
}
