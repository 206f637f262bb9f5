//! Neural-network layers: convolutions (with TF's atrous form and the transposed one), bias,
//! batch normalisation, pooling, `Relu6` and `Softmax`, with TF's `padding`, `strides` and
//! `dilations` attributes and HWIO filters rearranged to ONNX's layout.

use super::super::super::proto::NodeDef;
use super::super::attrs::{TfConst, attr_float, attr_ints, attr_string, to_nchw};
use super::super::{Lowerer, Op, tensor_name};
use super::Registry;
use crate::error::Result;
use crate::ir::Attr;
use crate::value::{DType, Value};

pub(super) fn register(r: &mut Registry) {
    r.add(["Conv2D", "DepthwiseConv2dNative"], 2, conv);
    r.add(["Conv2DBackpropInput"], 3, conv_transpose);
    r.add(["BiasAdd"], 2, bias_add);
    r.add(
        ["FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"],
        5,
        batch_norm,
    );
    r.add(["Relu6"], 1, relu6);
    r.add(["MaxPool", "AvgPool"], 1, pool);
    r.add(["Softmax"], 1, softmax);
}

fn conv(l: &mut Lowerer, op: Op) -> Result<()> {
    let (node, inputs) = (op.node, &op.inputs);
    let depthwise = node.op == "DepthwiseConv2dNative";
    let Some((w, filter_dims)) = l.filter(&inputs[1], [3, 2, 0, 1], depthwise) else {
        return l.unsupported(node, op.inputs, "the filter is not a 4-D constant");
    };
    // the TF name of the input: a SpaceToBatchND output marks an atrous convolution
    let raw_input = node.input.first().and_then(|i| tensor_name(i));
    let atrous = raw_input.and_then(|i| l.atrous.get(&i).cloned());
    let dilations = atrous
        .clone()
        .unwrap_or_else(|| l.spatial(node, "dilations"));
    let mut attrs = vec![
        ("strides".into(), Attr::Ints(l.spatial(node, "strides"))),
        ("dilations".into(), Attr::Ints(dilations)),
    ];
    if depthwise {
        let channels = filter_dims[2];
        attrs.push(("group".into(), Attr::Int(channels as i64)));
    }
    if atrous.is_some() {
        // SpaceToBatchND padded the input so that the dilated result keeps its size
        attrs.push(("auto_pad".into(), Attr::String("SAME_UPPER".into())));
    } else {
        attrs.extend(l.padding(node));
    }
    l.push(node, "Conv", vec![op.first.clone(), w], attrs);
    l.rank.insert(op.out(), 4);
    Ok(())
}

/// Inputs: the output shape, the filter `[H, W, out, in]`, the data.
fn conv_transpose(l: &mut Lowerer, op: Op) -> Result<()> {
    let (node, inputs) = (op.node, &op.inputs);
    let Some((w, _)) = l.filter(&inputs[1], [3, 2, 0, 1], false) else {
        return l.unsupported(node, op.inputs, "the filter is not a 4-D constant");
    };
    let mut attrs = vec![("strides".into(), Attr::Ints(l.spatial(node, "strides")))];
    if let Some(shape) = l.const_ints(&inputs[0]).filter(|s| s.len() == 4) {
        let s = if l.nhwc { to_nchw(&shape) } else { shape };
        attrs.push(("output_shape".into(), Attr::Ints(s[2..].to_vec())));
    }
    attrs.extend(l.padding(node));
    l.push(node, "ConvTranspose", vec![inputs[2].clone(), w], attrs);
    l.rank.insert(op.out(), 4);
    Ok(())
}

fn bias_add(l: &mut Lowerer, op: Op) -> Result<()> {
    let (node, inputs) = (op.node, &op.inputs);
    let channels_first = l.is_nhwc4(&op.first) || (!l.nhwc && op.rank == Some(4));
    let bias = if !channels_first {
        inputs[1].clone()
    } else if l.graph.initializers.contains_key(&inputs[1]) {
        l.broadcast_operand(&inputs[1])
    } else {
        // a computed bias vector [C] → [C, 1, 1]
        let shape = l.int_const(&node.name, &[-1, 1, 1]);
        let column = l.fresh(&node.name);
        l.push_named(
            &column,
            "Reshape",
            vec![inputs[1].clone(), shape],
            Vec::new(),
        );
        column
    };
    l.push(node, "Add", vec![op.first.clone(), bias], Vec::new());
    l.keep_rank(op.out(), op.rank);
    Ok(())
}

fn batch_norm(l: &mut Lowerer, op: Op) -> Result<()> {
    let eps = attr_float(op.node, "epsilon").unwrap_or(1e-3);
    l.push(
        op.node,
        "BatchNormalization",
        op.inputs[..5.min(op.inputs.len())].to_vec(),
        vec![("epsilon".into(), Attr::Float(eps))],
    );
    l.keep_rank(op.out(), op.rank);
    Ok(())
}

fn relu6(l: &mut Lowerer, op: Op) -> Result<()> {
    let lo = l.float_scalar("relu6_min", 0.0);
    let hi = l.float_scalar("relu6_max", 6.0);
    l.push(op.node, "Clip", vec![op.first.clone(), lo, hi], Vec::new());
    l.keep_rank(op.out(), op.rank);
    Ok(())
}

fn pool(l: &mut Lowerer, op: Op) -> Result<()> {
    let node = op.node;
    let kernel = l.spatial(node, "ksize");
    let mut attrs = vec![
        ("kernel_shape".into(), Attr::Ints(kernel)),
        ("strides".into(), Attr::Ints(l.spatial(node, "strides"))),
    ];
    attrs.extend(l.padding(node));
    let onnx = if node.op == "MaxPool" {
        "MaxPool"
    } else {
        "AveragePool"
    };
    l.push(node, onnx, vec![op.first.clone()], attrs);
    l.rank.insert(op.out(), 4);
    Ok(())
}

fn softmax(l: &mut Lowerer, op: Op) -> Result<()> {
    let axis = op.rank.map_or(-1, |r| l.axis(&op.first, r as i64 - 1));
    l.push(
        op.node,
        "Softmax",
        vec![op.first.clone()],
        vec![("axis".into(), Attr::Int(axis))],
    );
    l.keep_rank(op.out(), op.rank);
    Ok(())
}

impl Lowerer {
    /// A convolution filter constant rearranged by `perm` (and reshaped to `dims`).
    /// The rearranged filter and its TF dims; `None` when the filter is not a 4-D constant.
    fn filter(
        &mut self,
        tensor: &str,
        perm: [usize; 4],
        depthwise: bool,
    ) -> Option<(String, Vec<u64>)> {
        let c = self.graph.initializers.get(tensor).cloned()?;
        let d = self.tf_dims.get(tensor).cloned().unwrap_or(c.dims.clone());
        if d.len() != 4 {
            return None;
        }
        let dims = if depthwise {
            // HWCM → [C·M, 1, H, W]
            vec![d[2].saturating_mul(d[3]), 1, d[0], d[1]]
        } else {
            perm.iter().map(|&p| d[p]).collect()
        };
        let name = format!("{tensor}/oihw");
        self.constant(
            &name,
            TfConst {
                dtype: c.dtype,
                dims,
                value: None,
            },
        );
        Some((name, d))
    }

    /// Spatial attributes (strides, dilations: `[1, h, w, 1]` in NHWC) as `[h, w]`.
    fn spatial(&self, node: &NodeDef, name: &str) -> Vec<i64> {
        let v = attr_ints(node, name).unwrap_or_else(|| vec![1, 1, 1, 1]);
        if v.len() != 4 {
            return vec![1, 1];
        }
        if self.nhwc {
            vec![v[1], v[2]]
        } else {
            vec![v[2], v[3]]
        }
    }

    /// `auto_pad` or explicit `pads` of a TF `padding` attribute.
    fn padding(&self, node: &NodeDef) -> Vec<(String, Attr)> {
        match attr_string(node, "padding").as_deref() {
            Some("SAME") => vec![("auto_pad".into(), Attr::String("SAME_UPPER".into()))],
            Some("EXPLICIT") => {
                let p = attr_ints(node, "explicit_paddings").unwrap_or_default();
                if p.len() == 8 {
                    let (h, w) = if self.nhwc { (2, 4) } else { (4, 6) };
                    vec![(
                        "pads".into(),
                        Attr::Ints(vec![p[h], p[w], p[h + 1], p[w + 1]]),
                    )]
                } else {
                    Vec::new()
                }
            }
            _ => vec![("auto_pad".into(), Attr::String("VALID".into()))],
        }
    }

    fn float_scalar(&mut self, stem: &str, v: f64) -> String {
        let name = format!("aiop/{stem}");
        if !self.graph.initializers.contains_key(&name) {
            self.constant(
                &name,
                TfConst {
                    dtype: DType::F32,
                    dims: Vec::new(),
                    value: Value::float(Vec::new(), vec![v]),
                },
            );
        }
        name
    }
}
