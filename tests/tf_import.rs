//! TensorFlow import (`.pb`): keras.applications models and a DeepLab-v3+ segmenter exported by
//! `tools/zoo/export_keras_tf.py` (weight-stripped, in `tests/fixtures/keras.tar.xz`) convert
//! with every shape known, Keras's own parameter count, and the MACs of the ONNX export of the
//! same model (within 1 %). After canonicalisation (`aiop_converter::cg::canonical`), the `.pb`
//! and the ONNX export give the same CG: equal MACs, FLOPs, params, node and edge counts, and
//! the same count per op category. TF2 SavedModels of four of them (`keras-savedmodel.tar.xz`,
//! the network inside functions, an open batch) give exactly the frozen graph's CG, and one
//! network written NHWC and NCHW gives one CG. Bad `.pb` files get a clear error and exit
//! code 2.

mod common;

use aiop_converter::cg::summary::summarize;
use aiop_converter::{Cg, ConvertOptions, convert_file};

/// Models whose `.pb` parameter count differs from Keras's: by how much (aiop − Keras), and why.
const PARAM_EXCEPTIONS: &[(&str, i64, &str)] = &[
    ("efficientnetb0", -1, NORMALIZATION_COUNT),
    ("efficientnetb1", -1, NORMALIZATION_COUNT),
    ("efficientnetb2", -1, NORMALIZATION_COUNT),
    ("efficientnetb3", -1, NORMALIZATION_COUNT),
    ("convnexttiny", 6, NORMALIZATION_CONSTANTS),
    ("efficientnetv2b0", 6, NORMALIZATION_CONSTANTS),
];
const NORMALIZATION_CONSTANTS: &str = "a Normalization layer built with its mean and variance keeps \
     them as constants (3 + 3 values), which Keras does not count but the graph's arithmetic \
     reads; the canonical CG drops the preprocessing with them";
const NORMALIZATION_COUNT: &str = "Keras counts the Normalization layer's sample count (an int64 \
     scalar variable), which the inference graph never reads";

#[test]
fn keras_graphs_match_keras_params_and_onnx_macs() {
    let (dir, _) = common::unpack_zoo("keras");
    let (mut checked, mut paired) = (0, 0);
    for entry in std::fs::read_dir(dir.path()).expect("unpacked") {
        let pb = entry.expect("entry").path();
        if pb.extension().is_none_or(|e| e != "pb") {
            continue;
        }
        let stem = pb.file_stem().and_then(|s| s.to_str()).expect("name");
        let info: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(pb.with_extension("keras.json")).expect("keras.json"),
        )
        .expect("json");
        let tf = convert_file(&pb, &ConvertOptions::default())
            .unwrap_or_else(|e| panic!("{stem}.pb: {e}"));
        assert_eq!(tf.unknown_shapes(), 0, "{stem}.pb: {:?}", tf.warnings);
        let extra = PARAM_EXCEPTIONS
            .iter()
            .find(|(name, ..)| *name == stem)
            .map_or(0, |(_, n, _)| *n);
        let keras = info["keras_params"].as_i64().expect("keras_params");
        assert_eq!(tf.params() as i64 - extra, keras, "{stem}.pb params");
        checked += 1;
        let onnx_file = pb.with_extension("onnx");
        if !onnx_file.exists() {
            continue; // Keras could not export it to ONNX (xception: a dynamic padding)
        }
        let onnx = convert_file(&onnx_file, &ConvertOptions::default())
            .unwrap_or_else(|e| panic!("{stem}.onnx: {e}"));
        let ratio = tf.macs() as f64 / onnx.macs() as f64;
        assert!(
            (ratio - 1.0).abs() < 0.01,
            "{stem}: MACs {} (.pb) vs {} (.onnx)",
            tf.macs(),
            onnx.macs()
        );
        assert_same_canonical_cg(stem, &tf, &onnx);
        paired += 1;
    }
    assert!(
        checked >= 16 && paired >= 15,
        "{checked} models, {paired} with ONNX"
    );
}

/// The canonical CGs of the two exports of one network agree in every total and histogram, and
/// node for node.
fn assert_same_canonical_cg(stem: &str, tf: &Cg, onnx: &Cg) {
    let (tf, onnx) = (
        aiop_converter::cg::canonicalize(tf),
        aiop_converter::cg::canonicalize(onnx),
    );
    let (a, b) = (summarize(&tf), summarize(&onnx));
    let totals =
        |s: &aiop_converter::cg::summary::Summary| (s.nodes, s.edges, s.macs, s.flops, s.params);
    assert_eq!(
        totals(&a),
        totals(&b),
        "{stem}: canonical (nodes, edges, MACs, FLOPs, params) of .pb vs .onnx"
    );
    assert_eq!(
        a.ops, b.ops,
        "{stem}: canonical op categories of .pb vs .onnx"
    );
    // node for node: every (op, shapes, weight, kernel, stride, bias) appears as often in both
    let nodes = |cg: &Cg| {
        let mut v: Vec<String> = cg
            .nodes()
            .map(|n| {
                format!(
                    "{:?} {:?} {:?} {:?} {:?} {:?} {}",
                    n.op,
                    n.input_shape,
                    n.output_shape,
                    n.weight_shape,
                    n.kernel,
                    n.strides,
                    n.bias
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        nodes(&tf),
        nodes(&onnx),
        "{stem}: canonical nodes of .pb vs .onnx"
    );
}

/// Keras's NASNetMobile crops with `Cropping2D`, whose `StridedSlice` bounds are computed from
/// `Shape` at run time: they must fold. Published: NASNet-A (4 @ 1056), 564 M mult-adds and
/// 5.3 M parameters (Zoph et al., 2018, Table 2).
#[test]
fn nasnet_cropping_bounds_fold_and_give_the_published_macs() {
    let (dir, _) = common::unpack_zoo("keras");
    let cg = convert_file(
        &dir.path().join("nasnetmobile.pb"),
        &ConvertOptions::default(),
    )
    .expect("nasnetmobile.pb");
    assert_eq!(cg.unknown_shapes(), 0, "{:?}", cg.warnings);
    let published = 564e6;
    assert!(
        (cg.macs() as f64 - published).abs() < 0.01 * published,
        "{} MACs",
        cg.macs()
    );
}

#[test]
fn savedmodels_give_the_frozen_graphs_cg() {
    let (saved, _) = common::unpack_zoo("keras-savedmodel");
    let (frozen, _) = common::unpack_zoo("keras");
    let mut checked = 0;
    for entry in std::fs::read_dir(saved.path()).expect("unpacked") {
        let folder = entry.expect("entry").path();
        let Some(stem) = folder
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".savedmodel"))
        else {
            continue;
        };
        let from_saved = convert_file(&folder, &ConvertOptions::default())
            .unwrap_or_else(|e| panic!("{stem}.savedmodel: {e}"));
        let pb = frozen.path().join(format!("{stem}.pb"));
        let from_frozen = convert_file(&pb, &ConvertOptions::default()).expect("frozen graph");
        let (a, b) = (summarize(&from_saved), summarize(&from_frozen));
        assert_eq!(a.unknown_shapes, 0, "{stem}: {:?}", a.warnings);
        assert_eq!(
            (a.nodes, a.edges, a.macs, a.flops, a.params, &a.ops),
            (b.nodes, b.edges, b.macs, b.flops, b.params, &b.ops),
            "{stem}: SavedModel vs frozen graph"
        );
        checked += 1;
    }
    assert!(checked >= 4, "{checked} SavedModels");
}

/// One small network written channels-last and channels-first (`tools/zoo/export_tf_layouts.py`:
/// Conv2D, BiasAdd, FusedBatchNormV3, pools, depthwise, Conv2DBackpropInput, ConcatV2, Mean)
/// gives one CG, with the MACs and parameters counted by hand.
#[test]
fn nhwc_and_nchw_graphs_give_one_cg() {
    let (dir, _) = common::unpack_zoo("tf-layouts");
    let convert = |name: &str| {
        let cg = convert_file(&dir.path().join(name), &ConvertOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(cg.unknown_shapes(), 0, "{name}: {:?}", cg.warnings);
        summarize(&cg)
    };
    let (nhwc, nchw) = (convert("layouts_nhwc.pb"), convert("layouts_nchw.pb"));
    // conv 32·32·16·27 + depthwise 16·16·16·9 + 1×1 conv 16·16·8·16
    // + transposed conv (16·16·24 inputs)·12·2·2 + matmul 12·10
    assert_eq!(nhwc.macs, 442_368 + 36_864 + 32_768 + 294_912 + 120);
    // conv 432 + bias 16 + batch norm scale and offset 32 + depthwise 144 + 1×1 conv 128
    // + transposed conv 1,152 + matmul 120
    assert_eq!(nhwc.params, 432 + 16 + 32 + 144 + 128 + 1152 + 120);
    assert_eq!(nhwc.ops.get("conv_transpose"), Some(&1));
    assert_eq!(
        (
            nchw.nodes,
            nchw.edges,
            nchw.macs,
            nchw.flops,
            nchw.params,
            &nchw.ops
        ),
        (
            nhwc.nodes,
            nhwc.edges,
            nhwc.macs,
            nhwc.flops,
            nhwc.params,
            &nhwc.ops
        )
    );
    let outputs = |s: &aiop_converter::cg::summary::Summary| s.outputs[0].shape.clone();
    assert_eq!(outputs(&nhwc), [1, 10]);
    assert_eq!(outputs(&nchw), [1, 10]);
    // a TF1 SavedModel (graph-mode variables, simple_save, open batch), variables folder dropped
    let tf1 = convert("tf1_savedmodel");
    assert_eq!(tf1.macs, 442_368 + 160);
    assert_eq!(tf1.params, 432 + 16 + 160);
    assert_eq!(outputs(&tf1), [1, 10]);
}

#[test]
fn bad_pb_files_exit_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let garbage = dir.path().join("garbage.pb");
    std::fs::write(
        &garbage,
        (0..4096u32)
            .map(|i| (i * 7919 % 251) as u8)
            .collect::<Vec<_>>(),
    )
    .expect("write");
    let (pb_dir, _) = common::unpack_zoo("keras");
    let real = std::fs::read(pb_dir.path().join("mobilenetv2.pb")).expect("fixture");
    let truncated = dir.path().join("truncated.pb");
    std::fs::write(&truncated, &real[..real.len() / 3]).expect("write");
    let empty = dir.path().join("empty.pb");
    std::fs::write(&empty, b"").expect("write");
    for file in [&garbage, &truncated, &empty] {
        let out = common::aiop(&["inspect", file.to_str().expect("utf-8")]);
        let (_, stderr) = common::text(&out);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", file.display());
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// A deterministic stand-in for the fuzzer (`fuzz/fuzz_targets/tf_import.rs` needs nightly):
/// 400 corrupted copies of a real `.pb` (bytes flipped, cut, spliced) all convert or fail
/// cleanly, without a panic.
#[test]
fn corrupted_pb_files_never_panic() {
    let (dir, _) = common::unpack_zoo("keras");
    let real = std::fs::read(dir.path().join("mobilenetv2.pb")).expect("fixture");
    corrupt_and_convert(&real, |bytes| {
        aiop_converter::convert_tf_bytes(bytes, "mutant", &ConvertOptions::default()).is_ok()
    });
}

/// The same for a TF2 SavedModel, whose functions are inlined first.
#[test]
fn corrupted_savedmodels_never_panic() {
    let (dir, _) = common::unpack_zoo("keras-savedmodel");
    let file = dir
        .path()
        .join("mobilenetv3small.savedmodel/saved_model.pb");
    let real = std::fs::read(file).expect("fixture");
    corrupt_and_convert(&real, |bytes| {
        aiop_converter::tf::parse_tf(bytes, true).is_ok()
    });
}

/// Converts 400 corrupted copies of `real` with `convert`; none may panic.
fn corrupt_and_convert(real: &[u8], convert: impl Fn(&[u8]) -> bool + std::panic::RefUnwindSafe) {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in 0..400 {
        let mut bytes = real.to_vec();
        match i % 3 {
            0 => {
                for _ in 0..1 + next() % 16 {
                    let at = (next() % bytes.len() as u64) as usize;
                    bytes[at] ^= (next() % 255 + 1) as u8;
                }
            }
            1 => bytes.truncate((next() % bytes.len() as u64) as usize),
            _ => {
                let from = (next() % bytes.len() as u64) as usize;
                let to = (next() % bytes.len() as u64) as usize;
                let len = (next() % 4096) as usize;
                let chunk: Vec<u8> = bytes[from..(from + len).min(bytes.len())].to_vec();
                bytes.splice(to..to, chunk);
            }
        }
        let result = std::panic::catch_unwind(|| convert(&bytes));
        assert!(result.is_ok(), "mutant {i} panicked");
    }
}
