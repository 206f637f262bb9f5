//! Shape rules of individual operators, checked on hand-made models.

use aiop_converter::onnx::proto::AttributeProto;
use aiop_converter::onnx::writer::{ModelBuilder, attr_float, attr_int, attr_ints, attr_string};
use aiop_converter::value::DType;
use aiop_converter::{Cg, ConvertOptions, convert_onnx_bytes};

fn convert(m: &ModelBuilder) -> Cg {
    convert_onnx_bytes(m.to_bytes().into(), "test", &ConvertOptions::default()).expect("converts")
}

/// Output shape of the last node before the graph output.
fn out_shape(m: &ModelBuilder) -> Vec<i64> {
    let cg = convert(m);
    cg.nodes().last().expect("nodes").output_shape.clone()
}

/// A model `x → op(x, extra inputs) → y`.
fn single(
    op: &str,
    x: &[i64],
    extra: &[&str],
    attrs: Vec<AttributeProto>,
    setup: impl FnOnce(&mut ModelBuilder),
) -> ModelBuilder {
    let mut m = ModelBuilder::new(18);
    m.input("x", DType::F32, x);
    setup(&mut m);
    let mut inputs = vec!["x"];
    inputs.extend_from_slice(extra);
    m.node(op, &inputs, &["y"], attrs).output("y");
    m
}

#[test]
fn conv_padding_stride_dilation_groups() {
    let m = single(
        "Conv",
        &[1, 32, 56, 56],
        &["w"],
        vec![
            attr_ints("strides", &[2, 2]),
            attr_ints("pads", &[2, 2, 2, 2]),
            attr_ints("dilations", &[2, 2]),
            attr_int("group", 32),
        ],
        |m| {
            m.weight("w", &[32, 1, 3, 3]);
        },
    );
    let cg = convert(&m);
    let conv = cg.nodes().find(|n| n.op_type == "Conv").unwrap();
    assert_eq!(conv.output_shape, vec![1, 32, 28, 28]);
    assert_eq!(conv.op.name(), "depthwise_conv");
    assert_eq!(conv.macs, 32 * 28 * 28 * 9);
    assert_eq!(
        (conv.groups, conv.kernel.clone(), conv.strides.clone()),
        (32, vec![3, 3], vec![2, 2])
    );
}

#[test]
fn conv_same_upper_and_transpose() {
    let m = single(
        "Conv",
        &[1, 3, 15, 15],
        &["w"],
        vec![
            attr_ints("strides", &[2, 2]),
            attr_string("auto_pad", "SAME_UPPER"),
        ],
        |m| {
            m.weight("w", &[8, 3, 3, 3]);
        },
    );
    assert_eq!(out_shape(&m), vec![1, 8, 8, 8]);
    let m = single(
        "ConvTranspose",
        &[1, 16, 7, 7],
        &["w"],
        vec![
            attr_ints("strides", &[2, 2]),
            attr_ints("pads", &[1, 1, 1, 1]),
            attr_ints("output_padding", &[1, 1]),
        ],
        |m| {
            m.weight("w", &[16, 8, 3, 3]);
        },
    );
    let cg = convert(&m);
    let t = cg.nodes().find(|n| n.op_type == "ConvTranspose").unwrap();
    assert_eq!(t.output_shape, vec![1, 8, 14, 14]);
    assert_eq!(
        t.macs,
        16 * 7 * 7 * 8 * 9,
        "input elements × out channels × kernel"
    );
}

#[test]
fn pooling_with_ceil_mode() {
    let m = single(
        "MaxPool",
        &[1, 64, 112, 112],
        &[],
        vec![
            attr_ints("kernel_shape", &[3, 3]),
            attr_ints("strides", &[2, 2]),
            attr_int("ceil_mode", 1),
        ],
        |_| {},
    );
    assert_eq!(out_shape(&m), vec![1, 64, 56, 56]);
    let m = single(
        "AveragePool",
        &[1, 8, 7, 7],
        &[],
        vec![
            attr_ints("kernel_shape", &[2, 2]),
            attr_ints("strides", &[2, 2]),
            attr_int("ceil_mode", 1),
        ],
        |_| {},
    );
    assert_eq!(out_shape(&m), vec![1, 8, 4, 4]);
}

#[test]
fn reshape_with_zero_and_minus_one() {
    let m = single("Reshape", &[2, 3, 4, 5], &["s"], vec![], |m| {
        m.ints("s", &[0, -1, 5]);
    });
    assert_eq!(out_shape(&m), vec![2, 12, 5]);
}

#[test]
fn slice_with_negative_steps_and_clamping() {
    let m = single(
        "Slice",
        &[1, 10, 8],
        &["st", "en", "ax", "sp"],
        vec![],
        |m| {
            m.ints("st", &[-1, 0])
                .ints("en", &[i64::MIN, i64::MAX])
                .ints("ax", &[1, 2])
                .ints("sp", &[-2, 3]);
        },
    );
    assert_eq!(out_shape(&m), vec![1, 5, 3]);
}

#[test]
fn shape_arithmetic_folds_into_reshape() {
    // x: [1, 3, 8, 8] → Shape → Gather(0) and Gather(1) → Concat with -1 → Reshape → [1, 3, 64].
    let mut m = ModelBuilder::new(18);
    m.input("x", DType::F32, &[1, 3, 8, 8])
        .ints("i0", &[0])
        .ints("i1", &[1])
        .ints("m1", &[-1])
        .node("Shape", &["x"], &["s"], vec![])
        .node("Gather", &["s", "i0"], &["n"], vec![attr_int("axis", 0)])
        .node("Gather", &["s", "i1"], &["c"], vec![attr_int("axis", 0)])
        .node(
            "Concat",
            &["n", "c", "m1"],
            &["t"],
            vec![attr_int("axis", 0)],
        )
        .node("Reshape", &["x", "t"], &["y"], vec![])
        .output("y");
    let cg = convert(&m);
    assert_eq!(cg.nodes().last().unwrap().output_shape, vec![1, 3, 64]);
    assert_eq!(
        cg.node_count(),
        3,
        "input, reshape, output: the shape arithmetic is folded away"
    );
}

#[test]
fn resize_by_scales_and_by_sizes() {
    let mut m = single(
        "Resize",
        &[1, 8, 10, 10],
        &["", "sc"],
        vec![attr_string("mode", "nearest")],
        |_| {},
    );
    m.initializer(aiop_converter::onnx::proto::TensorProto {
        name: "sc".into(),
        dims: vec![4],
        data_type: 1,
        float_data: vec![1.0, 1.0, 2.0, 2.5],
        ..Default::default()
    });
    assert_eq!(out_shape(&m), vec![1, 8, 20, 25]);
    let m = single("Resize", &[1, 8, 10, 10], &["", "", "sz"], vec![], |m| {
        m.ints("sz", &[1, 8, 33, 17]);
    });
    assert_eq!(out_shape(&m), vec![1, 8, 33, 17]);
}

#[test]
fn matmul_broadcasts_and_counts_macs() {
    let mut m = ModelBuilder::new(18);
    m.input("x", DType::F32, &[1, 12, 197, 64])
        .node(
            "Transpose",
            &["x"],
            &["xt"],
            vec![attr_ints("perm", &[0, 1, 3, 2])],
        )
        .node("MatMul", &["x", "xt"], &["y"], vec![])
        .output("y");
    let cg = convert(&m);
    let mm = cg.nodes().find(|n| n.op_type == "MatMul").unwrap();
    assert_eq!(mm.output_shape, vec![1, 12, 197, 197]);
    assert_eq!(mm.op.name(), "matmul", "two activations");
    assert_eq!(mm.macs, 12 * 197 * 197 * 64);
    let m = single("MatMul", &[1, 197, 768], &["w"], vec![], |m| {
        m.weight("w", &[768, 3072]);
    });
    let cg = convert(&m);
    let lin = cg.nodes().find(|n| n.op_type == "MatMul").unwrap();
    assert_eq!(lin.op.name(), "linear", "weight operand");
    assert_eq!(lin.params, 768 * 3072);
}

#[test]
fn einsum_and_gemm() {
    let m = single(
        "Einsum",
        &[2, 4, 5],
        &["w"],
        vec![attr_string("equation", "bij,jk->bik")],
        |m| {
            m.weight("w", &[5, 6]);
        },
    );
    let cg = convert(&m);
    let e = cg.nodes().find(|n| n.op_type == "Einsum").unwrap();
    assert_eq!(e.output_shape, vec![2, 4, 6]);
    assert_eq!(e.macs, 2 * 4 * 5 * 6);
    let m = single(
        "Gemm",
        &[1, 512],
        &["w", "b"],
        vec![attr_int("transB", 1)],
        |m| {
            m.weight("w", &[1000, 512]).weight("b", &[1000]);
        },
    );
    let cg = convert(&m);
    let g = cg.nodes().find(|n| n.op_type == "Gemm").unwrap();
    assert_eq!(
        (g.output_shape.clone(), g.macs, g.params, g.bias),
        (vec![1, 1000], 512_000, 513_000, true)
    );
}

#[test]
fn batch_norm_counts_scale_and_bias_only() {
    let m = single(
        "BatchNormalization",
        &[1, 16, 4, 4],
        &["s", "b", "mean", "var"],
        vec![attr_float("epsilon", 1e-5)],
        |m| {
            m.weight("s", &[16])
                .weight("b", &[16])
                .weight("mean", &[16])
                .weight("var", &[16]);
        },
    );
    let cg = convert(&m);
    assert_eq!(
        cg.params(),
        32,
        "running statistics are buffers, not parameters"
    );
}

#[test]
fn data_dependent_sizes_are_bounded() {
    let mut m = ModelBuilder::new(18);
    m.input("x", DType::F32, &[1, 100])
        .node("NonZero", &["x"], &["nz"], vec![])
        .node("Transpose", &["nz"], &["y"], vec![])
        .output("y");
    let cg = convert(&m);
    let t = cg.nodes().find(|n| n.op_type == "Transpose").unwrap();
    assert_eq!(t.output_shape, vec![100, 2]);
    assert_eq!(t.shape, aiop_converter::ShapeStatus::Bounded);
    assert_eq!(cg.unknown_shapes(), 0);
}

#[test]
fn opset_9_attribute_forms() {
    // Upsample with a scales input (opset 9), Squeeze/Unsqueeze/Split/Pad with attributes.
    let mut m = ModelBuilder::new(9);
    m.input("x", DType::F32, &[1, 4, 5, 5]);
    m.initializer(aiop_converter::onnx::proto::TensorProto {
        name: "sc".into(),
        dims: vec![4],
        data_type: 1,
        float_data: vec![1.0, 1.0, 2.0, 2.0],
        ..Default::default()
    });
    m.node("Upsample", &["x", "sc"], &["u"], vec![])
        .node(
            "Pad",
            &["u"],
            &["p"],
            vec![attr_ints("pads", &[0, 0, 1, 1, 0, 0, 1, 1])],
        )
        .node(
            "Split",
            &["p"],
            &["a", "b"],
            vec![attr_int("axis", 1), attr_ints("split", &[1, 3])],
        )
        .node("Unsqueeze", &["b"], &["c"], vec![attr_ints("axes", &[0])])
        .node("Squeeze", &["c"], &["y"], vec![attr_ints("axes", &[0])])
        .output("y");
    assert_eq!(out_shape(&m), vec![1, 3, 12, 12]);
}

fn branch(op: &str, out: &str, shape: &[i64]) -> aiop_converter::onnx::proto::GraphProto {
    let mut b = ModelBuilder::new(18);
    b.ints(&format!("{out}_shape"), shape)
        .node(op, &["x", &format!("{out}_shape")], &[out], vec![])
        .output(out);
    b.graph()
}

#[test]
fn if_with_a_constant_condition_takes_its_branch() {
    use aiop_converter::onnx::writer::attr_graph;
    let mut m = ModelBuilder::new(18);
    m.input("x", DType::F32, &[1, 3, 4, 4])
        .initializer(aiop_converter::onnx::proto::TensorProto {
            name: "cond".into(),
            dims: vec![],
            data_type: 9,
            int32_data: vec![0],
            ..Default::default()
        })
        .node(
            "If",
            &["cond"],
            &["y"],
            vec![
                attr_graph("then_branch", branch("Reshape", "t", &[1, 48])),
                attr_graph("else_branch", branch("Reshape", "e", &[1, 3, 16])),
            ],
        )
        .node("Relu", &["y"], &["z"], vec![])
        .output("z");
    let cg = convert(&m);
    assert_eq!(
        cg.nodes().last().unwrap().output_shape,
        vec![1, 3, 16],
        "else branch"
    );
    assert_eq!(cg.unknown_shapes(), 0);
    assert!(cg.nodes().any(|n| n.op.name() == "control_flow"));
}

#[test]
fn if_with_a_data_condition_keeps_what_both_branches_agree_on() {
    use aiop_converter::onnx::writer::attr_graph;
    let mut m = ModelBuilder::new(18);
    m.input("x", DType::F32, &[1, 3, 4, 4])
        .input("flag", DType::Bool, &[])
        .node(
            "If",
            &["flag"],
            &["y"],
            vec![
                attr_graph("then_branch", branch("Reshape", "t", &[1, 3, 16])),
                attr_graph("else_branch", branch("Reshape", "e", &[3, 1, 16])),
            ],
        )
        .output("y");
    let opts = {
        let mut o = ConvertOptions::default();
        o.add_input_shape("x=1,3,4,4").unwrap();
        o.add_input_shape("flag=").unwrap_err();
        o
    };
    let cg = convert_onnx_bytes(m.to_bytes().into(), "if", &opts).unwrap();
    let node = cg.nodes().find(|n| n.op_type == "If").unwrap();
    assert_eq!(node.output_shape, vec![-1, -1, 16]);
    assert_eq!(cg.unknown_shapes(), 2, "the If and the output");
    assert!(
        cg.warnings.iter().any(|w| w.contains("If")),
        "{:?}",
        cg.warnings
    );
}

#[test]
fn loop_scan_outputs_get_the_trip_count() {
    use aiop_converter::onnx::writer::attr_graph;
    let mut body = ModelBuilder::new(18);
    body.input("i", DType::I64, &[])
        .input("c", DType::Bool, &[])
        .input("acc", DType::F32, &[1, 8])
        .node("Identity", &["c"], &["c_out"], vec![])
        .node("Add", &["acc", "x"], &["acc_out"], vec![])
        .node("Relu", &["x"], &["scan"], vec![])
        .output("c_out")
        .output("acc_out")
        .output("scan");
    let mut m = ModelBuilder::new(18);
    m.input("x", DType::F32, &[1, 8])
        .ints("trip", &[5])
        .node(
            "Loop",
            &["trip", "", "x"],
            &["acc_final", "scans"],
            vec![attr_graph("body", body.graph())],
        )
        .node("Relu", &["scans"], &["y"], vec![])
        .output("y");
    let cg = convert(&m);
    let relu = cg.nodes().filter(|n| n.op_type == "Relu").last().unwrap();
    assert_eq!(relu.output_shape, vec![5, 1, 8]);
}

#[test]
fn model_local_functions_are_inlined() {
    use aiop_converter::onnx::proto::{FunctionProto, NodeProto, OperatorSetIdProto};
    use prost::Message;
    let mut m = ModelBuilder::new(18);
    m.input("x", DType::F32, &[1, 3, 8, 8])
        .weight("w1", &[3, 3, 3, 3])
        .weight("w2", &[3, 3, 3, 3]);
    let mut proto = m.build();
    let call = |i: &str, w: &str, o: &str| NodeProto {
        input: vec![i.into(), w.into()],
        output: vec![o.into()],
        name: format!("call_{o}"),
        op_type: "ConvRelu".into(),
        domain: "local".into(),
        attribute: vec![],
    };
    let graph = proto.graph.as_mut().unwrap();
    graph.node = vec![call("x", "w1", "a"), call("a", "w2", "y")];
    graph.output = vec![aiop_converter::onnx::writer::value_info(
        "y",
        DType::F32,
        &[1, 3, 8, 8],
    )];
    proto.opset_import.push(OperatorSetIdProto {
        domain: "local".into(),
        version: 1,
    });
    let body = |op: &str, inputs: &[&str], out: &str, attrs| NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![out.into()],
        name: op.into(),
        op_type: op.into(),
        domain: String::new(),
        attribute: attrs,
    };
    proto.functions.push(FunctionProto {
        name: "ConvRelu".into(),
        domain: "local".into(),
        input: vec!["X".into(), "W".into()],
        output: vec!["Y".into()],
        attribute: vec![],
        node: vec![
            body(
                "Conv",
                &["X", "W"],
                "C",
                vec![attr_ints("pads", &[1, 1, 1, 1])],
            ),
            body("Relu", &["C"], "Y", vec![]),
        ],
    });
    let cg = convert_onnx_bytes(
        proto.encode_to_vec().into(),
        "f",
        &ConvertOptions::default(),
    )
    .unwrap();
    let ops: Vec<&str> = cg.nodes().map(|n| n.op.name()).collect();
    assert_eq!(ops, ["input", "conv", "relu", "conv", "relu", "output"]);
    assert_eq!(cg.params(), 2 * 81);
    assert_eq!(cg.unknown_shapes(), 0);
}
