//! The rewrites on hand-made graphs, each beside the float graph it stands for: the same MACs,
//! parameters and compute nodes, every shape known. (The deployment fixtures of
//! `tests/deploy_formats.rs` cover what ONNX Runtime writes for five real networks; these cover
//! the operators they do not contain.)

use bytes::Bytes;
use prost::Message;

use crate::cg::{Cg, OpCategory, Precision};
use crate::onnx::proto::{ModelProto, TensorProto};
use crate::onnx::writer::{ModelBuilder, attr_float, attr_int, attr_string};
use crate::value::DType;

fn convert(model: ModelProto) -> Cg {
    let cg =
        crate::convert_onnx_bytes(Bytes::from(model.encode_to_vec()), "t", &Default::default())
            .expect("converts");
    assert_eq!(cg.unknown_shapes(), 0, "{:?}", cg.warnings);
    cg
}

/// The model with its node `index` moved to the `com.microsoft` domain.
fn microsoft(m: &ModelBuilder, index: usize) -> ModelProto {
    let mut p = m.build();
    p.graph.as_mut().unwrap().node[index].domain = "com.microsoft".into();
    p
}

/// A stored tensor of `dtype` (one byte per element; 4 for floats), zero-filled.
fn stored(name: &str, dtype: DType, dims: &[i64]) -> TensorProto {
    let n: i64 = dims.iter().product();
    let width = dtype.size_of().unwrap_or(1);
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: dtype.to_onnx(),
        raw_data: Bytes::from(vec![0u8; n as usize * width]),
        ..Default::default()
    }
}

/// A float scalar initializer.
fn scalar(name: &str, v: f32) -> TensorProto {
    TensorProto {
        name: name.into(),
        data_type: DType::F32.to_onnx(),
        float_data: vec![v],
        ..Default::default()
    }
}

/// A uint8 scalar initializer (a zero point).
fn zero_point(name: &str, v: i32) -> TensorProto {
    TensorProto {
        name: name.into(),
        data_type: DType::U8.to_onnx(),
        int32_data: vec![v],
        ..Default::default()
    }
}

fn count(cg: &Cg, op: OpCategory) -> usize {
    cg.nodes().filter(|n| n.op == op).count()
}

fn same_costs(a: &Cg, b: &Cg) {
    assert_eq!((a.macs(), a.params()), (b.macs(), b.params()));
    for op in [OpCategory::Conv, OpCategory::Linear, OpCategory::MatMul] {
        assert_eq!(count(a, op), count(b, op), "{op:?}");
    }
}

#[test]
fn fused_gemm_and_nhwc_conv_are_their_parts() {
    let mut fused = ModelBuilder::new(17);
    fused
        .input("a", DType::F32, &[1, 16])
        .weight("w", &[16, 8])
        .weight("c", &[8])
        .node(
            "FusedGemm",
            &["a", "w", "c"],
            &["y"],
            vec![
                attr_string("activation", "LeakyRelu"),
                attr_float("activation_alpha", 0.1),
            ],
        )
        .output("y");
    let mut plain = ModelBuilder::new(17);
    plain
        .input("a", DType::F32, &[1, 16])
        .weight("w", &[16, 8])
        .weight("c", &[8])
        .node("Gemm", &["a", "w", "c"], &["g"], vec![])
        .node("LeakyRelu", &["g"], &["y"], vec![])
        .output("y");
    let (f, p) = (convert(microsoft(&fused, 0)), convert(plain.build()));
    same_costs(&f, &p);
    assert_eq!(count(&f, OpCategory::LeakyRelu), 1);

    let mut nhwc = ModelBuilder::new(17);
    nhwc.input("x", DType::F32, &[1, 8, 8, 3])
        .weight("w", &[4, 3, 3, 3])
        .node("NhwcConv", &["x", "w"], &["y"], vec![])
        .output("y");
    let cg = convert(microsoft(&nhwc, 0));
    assert_eq!(cg.macs(), 6 * 6 * 4 * 27);
    let out = cg.nodes().find(|n| n.op == OpCategory::Output).unwrap();
    assert_eq!(out.output_shape, vec![1, 6, 6, 4]);
}

#[test]
fn transformer_fusions_are_their_parts() {
    // BiasAdd, SkipSimplifiedLayerNormalization, MultiHeadAttention with a packed bias
    let mut m = ModelBuilder::new(17);
    m.input("x", DType::F32, &[1, 5, 16])
        .weight("b", &[16])
        .weight("gamma", &[16])
        .weight("qkv_bias", &[48])
        .node("Relu", &["x"], &["skip"], vec![])
        .node("BiasAdd", &["x", "b", "skip"], &["s"], vec![])
        .node(
            "SkipSimplifiedLayerNormalization",
            &["s", "skip", "gamma"],
            &["n"],
            vec![],
        )
        .node(
            "MultiHeadAttention",
            &["n", "n", "n", "qkv_bias"],
            &["y"],
            vec![attr_int("num_heads", 2)],
        )
        .output("y");
    let cg = convert(m.build());
    // Q·Kᵀ and P·V: 2 × 5 × 5 × 16
    assert_eq!(cg.macs(), 800);
    assert_eq!(cg.params(), 16 + 16 + 48);
    assert_eq!(count(&cg, OpCategory::MatMul), 2);
    assert_eq!(count(&cg, OpCategory::Softmax), 1);
    assert_eq!(count(&cg, OpCategory::OtherNorm), 1);

    // com.microsoft Attention: the packed projection, then the same core
    let mut a = ModelBuilder::new(17);
    a.input("x", DType::F32, &[1, 5, 16])
        .weight("w", &[16, 48])
        .weight("bias", &[48])
        .node(
            "Attention",
            &["x", "w", "bias"],
            &["y"],
            vec![attr_int("num_heads", 2)],
        )
        .output("y");
    let cg = convert(microsoft(&a, 0));
    assert_eq!(cg.macs(), 5 * 16 * 48 + 800);
    assert_eq!(cg.params(), 16 * 48 + 48);
    let out = cg.nodes().find(|n| n.op == OpCategory::Output).unwrap();
    assert_eq!(out.output_shape, vec![1, 5, 16]);
}

#[test]
fn quantized_products_keep_their_weights_and_precision() {
    // DynamicQuantizeMatMul with a bias, MatMulNBits (4-bit), MatMulIntegerToFloat
    let mut m = ModelBuilder::new(17);
    m.input("x", DType::F32, &[1, 5, 16])
        .initializer(stored("b8", DType::I8, &[16, 8]))
        .initializer(scalar("s", 0.1))
        .weight("bias", &[8])
        .initializer(stored("packed", DType::U8, &[8, 1, 8]))
        .weight("scales", &[8])
        .node(
            "DynamicQuantizeMatMul",
            &["x", "b8", "s", "", "bias"],
            &["y1"],
            vec![],
        )
        .node(
            "MatMulNBits",
            &["x", "packed", "scales"],
            &["y2"],
            vec![
                attr_int("K", 16),
                attr_int("N", 8),
                attr_int("bits", 4),
                attr_int("block_size", 16),
            ],
        )
        .node("Add", &["y1", "y2"], &["y"], vec![])
        .output("y");
    let cg = convert(m.build());
    assert_eq!(cg.macs(), 2 * 5 * 16 * 8);
    assert_eq!(cg.params(), 16 * 8 + 8 + 16 * 8);
    let mut precisions: Vec<Option<Precision>> = cg
        .nodes()
        .filter(|n| n.op == OpCategory::Linear)
        .map(|n| n.precision)
        .collect();
    precisions.sort();
    assert_eq!(
        precisions,
        vec![Some(Precision::Int4), Some(Precision::Int8)]
    );
}

#[test]
fn qoperator_activations_and_pools_are_float_ops() {
    let mut m = ModelBuilder::new(17);
    m.input("x", DType::U8, &[1, 3, 8, 8])
        .initializer(scalar("s", 0.1))
        .initializer(zero_point("z", 128))
        .node(
            "QLinearAveragePool",
            &["x", "s", "z", "s", "z"],
            &["p"],
            vec![
                crate::onnx::writer::attr_ints("kernel_shape", &[2, 2]),
                crate::onnx::writer::attr_ints("strides", &[2, 2]),
            ],
        )
        .node("QLinearSigmoid", &["p", "s", "z", "s", "z"], &["g"], vec![])
        .node(
            "QLinearLeakyRelu",
            &["g", "s", "z", "s", "z"],
            &["l"],
            vec![attr_float("alpha", 0.1)],
        )
        .node(
            "QLinearConcat",
            &["s", "z", "l", "s", "z", "g", "s", "z"],
            &["c"],
            vec![attr_int("axis", 1)],
        )
        .node(
            "Transpose",
            &["c"],
            &["t"],
            vec![crate::onnx::writer::attr_ints("perm", &[0, 2, 3, 1])],
        )
        .node(
            "QLinearGlobalAveragePool",
            &["t", "s", "z", "s", "z"],
            &["y"],
            vec![attr_int("channels_last", 1)],
        )
        .output_of("y", DType::U8);
    let cg = convert(m.build());
    for op in [
        OpCategory::AvgPool,
        OpCategory::Sigmoid,
        OpCategory::LeakyRelu,
        OpCategory::Concat,
        OpCategory::GlobalAvgPool,
    ] {
        assert_eq!(count(&cg, op), 1, "{op:?}");
    }
    let gap = cg
        .nodes()
        .find(|n| n.op == OpCategory::GlobalAvgPool)
        .unwrap();
    assert_eq!(gap.input_shape, vec![1, 6, 4, 4], "pooled channels-first");
    let out = cg.nodes().find(|n| n.op == OpCategory::Output).unwrap();
    assert_eq!(out.output_shape, vec![1, 1, 1, 6], "back to channels-last");
    assert!(
        cg.nodes()
            .filter(|n| n.op == OpCategory::Sigmoid)
            .all(|n| n.precision == Some(Precision::Uint8))
    );
}

#[test]
fn a_range_clamped_at_six_is_a_relu6() {
    // Conv → QuantizeLinear(scale 6/255, zero point 0): the quantizer folded a ReLU6.
    let qdq = |zp: i32| {
        let mut m = ModelBuilder::new(17);
        m.input("x", DType::F32, &[1, 3, 8, 8])
            .weight("w", &[4, 3, 3, 3])
            .initializer(scalar("s", 6.0 / 255.0))
            .initializer(zero_point("z", zp))
            .node("Conv", &["x", "w"], &["c"], vec![])
            .node("QuantizeLinear", &["c", "s", "z"], &["q"], vec![])
            .node("DequantizeLinear", &["q", "s", "z"], &["y"], vec![])
            .output("y");
        convert(m.build())
    };
    let clamped = qdq(0);
    assert_eq!(count(&clamped, OpCategory::of("Clip")), 1);
    // a signed range (zero point 128) is no activation
    let signed = qdq(128);
    assert_eq!(signed.node_count(), 3, "input, conv, output");
}

/// `1 + erf(x)` quantized with a range starting at zero (as ONNX Runtime quantizes an exact
/// GELU) is no folded ReLU, in QDQ and QOperator form alike; `conv + 1` with that range is.
#[test]
fn one_plus_erf_is_not_a_folded_relu() {
    // x → Conv → c → Erf → e, a quantization (s, zero point 0) and the constant 1 quantized
    let base = || {
        let mut m = ModelBuilder::new(17);
        m.input("x", DType::F32, &[1, 3, 8, 8])
            .weight("w", &[3, 3, 1, 1])
            .initializer(scalar("s", 2.0 / 255.0))
            .initializer(zero_point("z", 0))
            .initializer(zero_point("one_q", 127))
            .initializer(scalar("one_s", 1.0 / 127.0))
            .node("Conv", &["x", "w"], &["c"], vec![])
            .node("Erf", &["c"], &["e"], vec![]);
        m
    };
    let qdq = |bounded: &str| {
        let mut m = base();
        m.node("QuantizeLinear", &[bounded, "s", "z"], &["eq"], vec![])
            .node("DequantizeLinear", &["eq", "s", "z"], &["ed"], vec![])
            .node("DequantizeLinear", &["one_q", "one_s"], &["one"], vec![])
            .node("Add", &["ed", "one"], &["a"], vec![])
            .node("QuantizeLinear", &["a", "s", "z"], &["aq"], vec![])
            .node("DequantizeLinear", &["aq", "s", "z"], &["y"], vec![])
            .output("y");
        convert(m.build())
    };
    assert_eq!(count(&qdq("e"), OpCategory::of("Relu")), 0);
    // the same sum on a convolution's output is clamped: a folded ReLU
    assert_eq!(count(&qdq("c"), OpCategory::of("Relu")), 1);

    let mut m = base();
    m.node("QuantizeLinear", &["e", "s", "z"], &["eq"], vec![])
        .node(
            "QLinearAdd",
            &["eq", "s", "z", "one_q", "one_s", "z", "s", "z"],
            &["aq"],
            vec![],
        )
        .node("DequantizeLinear", &["aq", "s", "z"], &["y"], vec![])
        .output("y");
    let qop = convert(microsoft(&m, 3));
    assert_eq!(count(&qop, OpCategory::of("Relu")), 0);
}
