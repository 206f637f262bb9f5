//! Element-wise operators: unary maps, broadcasting binary ops, and the normalisations and
//! activations whose output has the shape of their first input.

use super::{Registry, axis};
use crate::infer::fact::Fact;
use crate::infer::fold::{self, BinaryOp};
use crate::infer::inputs::{Inputs, RuleError};
use crate::ir::Node;
use crate::value::DType;

pub fn register(r: &mut Registry) {
    r.add(
        &[
            "Relu",
            "Sigmoid",
            "Tanh",
            "Erf",
            "Exp",
            "Log",
            "Sin",
            "Cos",
            "Tan",
            "Asin",
            "Acos",
            "Atan",
            "Sinh",
            "Cosh",
            "Asinh",
            "Acosh",
            "Atanh",
            "Softplus",
            "Softsign",
            "HardSigmoid",
            "HardSwish",
            "Mish",
            "Gelu",
            "FastGelu",
            "QuickGelu",
            "BiasGelu",
            "Elu",
            "Selu",
            "Celu",
            "LeakyRelu",
            "ThresholdedRelu",
            "Shrink",
            "Softmax",
            "LogSoftmax",
            "Hardmax",
            "LRN",
            "Trilu",
            "CumSum",
            "BatchNormalization",
            "InstanceNormalization",
            "GroupNormalization",
            "LpNormalization",
            "MeanVarianceNormalization",
            "PRelu",
            "Dropout",
            "ReverseSequence",
            "Scatter",
            "ScatterND",
            "ScatterElements",
            "SimplifiedLayerNormalization",
            "SkipLayerNormalization",
            "RMSNormalization",
            "Swish",
            "CumProd",
            "Bernoulli",
            "RandomUniformLike",
            "RandomNormalLike",
            "RotaryEmbedding",
            "TensorScatter",
            "OptionalGetElement",
            "BitwiseNot",
        ],
        same_shape,
    );
    r.add(
        &[
            "Identity",
            "Neg",
            "Abs",
            "Floor",
            "Ceil",
            "Round",
            "Sqrt",
            "Reciprocal",
            "Sign",
            "Not",
        ],
        folding_unary,
    );
    r.add(&["IsNaN", "IsInf", "RegexFullMatch"], predicate);
    r.add(&["BitCast"], bit_cast);
    r.add(&["Clip"], clip);
    r.add(&["Cast", "CastLike"], cast);
    r.add(
        &[
            "QuantizeLinear",
            "DequantizeLinear",
            "DynamicQuantizeLinear",
        ],
        quantize,
    );
    r.add(&["LayerNormalization"], layer_norm);
    r.add(
        &[
            "Add",
            "Sub",
            "Mul",
            "Div",
            "Pow",
            "Mod",
            "Max",
            "Min",
            "Sum",
            "Mean",
            "BitShift",
            "Equal",
            "Less",
            "Greater",
            "LessOrEqual",
            "GreaterOrEqual",
            "And",
            "Or",
            "Xor",
            "BitwiseAnd",
            "BitwiseOr",
            "BitwiseXor",
            "SwiGLU",
            "StringConcat",
        ],
        broadcasting,
    );
    r.add(&["Where"], where_);
}

/// Output 0 is input 0's shape and type; extra outputs (BatchNorm training stats, Dropout mask)
/// are left unknown unless they mirror the input.
fn same_shape(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.req(0)?;
    let out = Fact {
        value: None,
        ..x.clone()
    };
    Ok(match node.op_type.as_str() {
        "Dropout" => vec![
            out.clone(),
            Fact {
                dtype: DType::Bool,
                ..out
            },
        ],
        _ => vec![out],
    })
}

fn folding_unary(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.req(0)?;
    let float = x.dtype.is_float();
    let f: fn(f64) -> f64 = match node.op_type.as_str() {
        "Identity" => |v| v,
        "Neg" => |v| -v,
        "Abs" => f64::abs,
        "Floor" => f64::floor,
        "Ceil" => f64::ceil,
        "Round" => f64::round_ties_even,
        "Sqrt" => f64::sqrt,
        "Reciprocal" => |v| 1.0 / v,
        "Sign" => |v| if v == 0.0 { 0.0 } else { v.signum() },
        _ => |v| if v == 0.0 { 1.0 } else { 0.0 },
    };
    let value = x.value.as_ref().and_then(|v| fold::unary(v, f, float));
    Ok(vec![
        Fact {
            value: None,
            ..x.clone()
        }
        .with_value(value),
    ])
}

fn predicate(_: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.req(0)?;
    Ok(vec![Fact {
        dtype: DType::Bool,
        value: None,
        ..x.clone()
    }])
}

/// `BitCast(x, to)`: the same bits read as `to`; the shape stays when the element sizes match.
fn bit_cast(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.req(0)?;
    let to = DType::from_onnx(node.int("to").unwrap_or(0) as i32);
    match (x.dtype.size_of(), to.size_of()) {
        (Some(a), Some(b)) if a == b => Ok(vec![Fact {
            dtype: to,
            value: None,
            ..x.clone()
        }]),
        _ => Err(format!(
            "bit cast {:?} → {to:?} changes the element size",
            x.dtype
        )),
    }
}

fn cast(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.req(0)?;
    let dtype = match node.op_type.as_str() {
        "CastLike" => inputs.req(1)?.dtype,
        _ => DType::from_onnx(node.int("to").unwrap_or(1) as i32),
    };
    let value = x
        .value
        .as_ref()
        .and_then(|v| fold::unary(v, |f| f, dtype.is_float()));
    Ok(vec![
        Fact {
            dtype,
            value: None,
            ..x.clone()
        }
        .with_value(value),
    ])
}

fn layer_norm(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.req(0)?;
    let y = Fact {
        value: None,
        ..x.clone()
    };
    let Some(shape) = &x.shape else {
        return Ok(vec![y]);
    };
    let a = axis(node.int("axis").unwrap_or(-1), shape.len())?;
    let mut stats = shape.clone();
    stats[a..].iter_mut().for_each(|d| *d = Some(1));
    let stat = Fact::new(DType::F32, stats);
    Ok(vec![y, stat.clone(), stat])
}

fn arithmetic(op: &str) -> Option<BinaryOp> {
    Some(match op {
        "Add" | "Sum" => BinaryOp {
            int: i64::checked_add,
            float: |a, b| a + b,
        },
        "Sub" => BinaryOp {
            int: i64::checked_sub,
            float: |a, b| a - b,
        },
        "Mul" => BinaryOp {
            int: i64::checked_mul,
            float: |a, b| a * b,
        },
        "Div" => BinaryOp {
            int: i64::checked_div,
            float: |a, b| a / b,
        },
        "Mod" => BinaryOp {
            int: i64::checked_rem_euclid,
            float: |a, b| a % b,
        },
        "Pow" => BinaryOp {
            int: |a, b| u32::try_from(b).ok().and_then(|b| a.checked_pow(b)),
            float: f64::powf,
        },
        "Max" => BinaryOp {
            int: |a, b| Some(a.max(b)),
            float: f64::max,
        },
        "Min" => BinaryOp {
            int: |a, b| Some(a.min(b)),
            float: f64::min,
        },
        _ => return None,
    })
}

fn comparison(op: &str) -> Option<BinaryOp> {
    fn b(x: bool) -> f64 {
        x as i64 as f64
    }
    Some(match op {
        "Equal" => BinaryOp {
            int: |a, c| Some((a == c) as i64),
            float: |a, c| b(a == c),
        },
        "Less" => BinaryOp {
            int: |a, c| Some((a < c) as i64),
            float: |a, c| b(a < c),
        },
        "Greater" => BinaryOp {
            int: |a, c| Some((a > c) as i64),
            float: |a, c| b(a > c),
        },
        "LessOrEqual" => BinaryOp {
            int: |a, c| Some((a <= c) as i64),
            float: |a, c| b(a <= c),
        },
        "GreaterOrEqual" => BinaryOp {
            int: |a, c| Some((a >= c) as i64),
            float: |a, c| b(a >= c),
        },
        "And" => BinaryOp {
            int: |a, c| Some((a != 0 && c != 0) as i64),
            float: |a, c| b(a != 0.0 && c != 0.0),
        },
        "Or" => BinaryOp {
            int: |a, c| Some((a != 0 || c != 0) as i64),
            float: |a, c| b(a != 0.0 || c != 0.0),
        },
        _ => return None,
    })
}

/// Broadcasting n-ary operators; folds small constants.
fn broadcasting(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let first = inputs.req(0)?;
    let op = node.op_type.as_str();
    let is_compare = comparison(op).is_some() || op == "Xor";
    let dtype = if is_compare { DType::Bool } else { first.dtype };
    let mut shape = first.shape.clone();
    for f in inputs.present().skip(1) {
        shape = match (shape, &f.shape) {
            (Some(a), Some(b)) => Some(fold::broadcast(&a, b)?),
            _ => None,
        };
    }
    let mut out = Fact {
        dtype,
        shape,
        value: None,
        bounded: false,
    };
    let fold_op = arithmetic(op).or_else(|| comparison(op));
    if let Some(fold_op) = fold_op {
        let mut acc = first.value.clone();
        for f in inputs.present().skip(1) {
            acc = match (acc, &f.value) {
                (Some(a), Some(b)) => fold::binary(&a, b, fold_op, dtype.is_float()),
                _ => None,
            };
        }
        if op == "Mean" {
            acc = None;
        }
        out = out.with_value(acc);
    }
    Ok(vec![out])
}

fn where_(_: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let (c, x, y) = (inputs.req(0)?, inputs.req(1)?, inputs.req(2)?);
    let shape = match (&c.shape, &x.shape, &y.shape) {
        (Some(a), Some(b), Some(d)) => Some(fold::broadcast(&fold::broadcast(a, b)?, d)?),
        _ => None,
    };
    let mut out = Fact {
        dtype: x.dtype,
        shape,
        value: None,
        bounded: false,
    };
    if let (Some(cv), Some(xv), Some(yv)) = (&c.value, &x.value, &y.value) {
        // where(c, x, y) = c*x + (1-c)*y on broadcast values.
        let pick = BinaryOp {
            int: |c, v| Some(if c != 0 { v } else { 0 }),
            float: |c, v| if c != 0.0 { v } else { 0.0 },
        };
        let not = fold::unary(cv, |v| if v != 0.0 { 0.0 } else { 1.0 }, false);
        let add = BinaryOp {
            int: i64::checked_add,
            float: |a, b| a + b,
        };
        let float = x.dtype.is_float();
        let value = fold::binary(cv, xv, pick, float)
            .zip(not.and_then(|n| fold::binary(&n, yv, pick, float)))
            .and_then(|(a, b)| fold::binary(&a, &b, add, float));
        out = out.with_value(value);
    }
    Ok(vec![out])
}

/// Clip folds when its input and bounds are known (exporters clamp padding arithmetic).
fn clip(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.req(0)?;
    let bound = |slot: usize, attr: &str| match inputs.get(slot) {
        Some(f) => f
            .value
            .as_ref()
            .and_then(|v| v.float_at(0))
            .map(Some)
            .ok_or(()),
        None => Ok(node.float(attr).map(f64::from)),
    };
    let value = match (&x.value, bound(1, "min"), bound(2, "max")) {
        (Some(v), Ok(lo), Ok(hi)) => {
            let clamp = |e: f64| {
                e.max(lo.unwrap_or(f64::NEG_INFINITY))
                    .min(hi.unwrap_or(f64::INFINITY))
            };
            let data: Vec<f64> = v.as_floats().into_iter().map(clamp).collect();
            if x.dtype.is_float() {
                crate::value::Value::float(v.shape.clone(), data)
            } else {
                crate::value::Value::int(
                    v.shape.clone(),
                    data.into_iter().map(|e| e as i64).collect(),
                )
            }
        }
        _ => None,
    };
    Ok(vec![
        Fact {
            value: None,
            ..x.clone()
        }
        .with_value(value),
    ])
}

/// Quantisation keeps the shape and changes the element type (to the zero point's type, or
/// back to the scale's float type).
fn quantize(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.req(0)?;
    let y = |dtype| Fact {
        dtype,
        value: None,
        ..x.clone()
    };
    Ok(match node.op_type.as_str() {
        "QuantizeLinear" => vec![y(inputs.get(2).map_or(DType::U8, |z| z.dtype))],
        "DequantizeLinear" => vec![y(inputs.get(1).map_or(DType::F32, |s| s.dtype))],
        _ => vec![
            y(DType::U8),
            Fact::fixed(DType::F32, &[]),
            Fact::fixed(DType::U8, &[]),
        ],
    })
}
