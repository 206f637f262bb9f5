//! Files as deployments hold them (issue 18): five torchvision classifiers (one a transformer)
//! exported with BatchNorm folded, through torch's dynamo exporter, quantized by ONNX Runtime
//! (QDQ, QOperator, dynamic) and optimised by it (`com.microsoft` fusions), made by
//! `tools/zoo/export_deploy.py` and committed weight-stripped in `tests/fixtures/deploy.tar.xz`.
//! Each must convert to the float network: no unknown shape, MACs and params within 1 % of the
//! folded export, the same compute nodes, the activations a fusion or quantizer folded away
//! back as nodes, and quantized nodes carrying their precision.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use aiop_converter::cg::Precision;
use aiop_converter::{Cg, ConvertOptions, OpCategory, convert_file};

/// The committed variants, by model then variant (`resnet18` → `qdq` → file).
fn variants() -> (
    tempfile::TempDir,
    BTreeMap<String, BTreeMap<String, PathBuf>>,
) {
    let (dir, files) = common::unpack_zoo("deploy");
    let mut zoo: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
    for f in files {
        let stem = f.file_stem().unwrap().to_str().unwrap().to_string();
        let (model, variant) = stem.split_once('.').expect("<model>.<variant>.onnx");
        zoo.entry(model.to_string())
            .or_default()
            .insert(variant.to_string(), f.clone());
    }
    (dir, zoo)
}

fn count(cg: &Cg, ops: &[OpCategory]) -> usize {
    cg.nodes().filter(|n| ops.contains(&n.op)).count()
}

const COMPUTE: &[OpCategory] = &[
    OpCategory::Conv,
    OpCategory::DepthwiseConv,
    OpCategory::Linear,
    OpCategory::MatMul,
];

fn close(a: u64, b: u64) -> bool {
    (a as f64 - b as f64).abs() <= 0.01 * b as f64
}

#[test]
fn every_deployment_variant_converts_to_the_float_network() {
    let (_dir, zoo) = variants();
    assert_eq!(zoo.len(), 5, "models: {:?}", zoo.keys());
    let opts = ConvertOptions::default();
    let mut checked = 0;
    for (model, files) in &zoo {
        let reference = convert_file(&files["folded"], &opts).unwrap();
        assert!(reference.macs() > 0 && reference.params() > 0);
        for want in ["plain", "dynamo", "qdq", "qop", "dynamic", "ort"] {
            assert!(files.contains_key(want), "{model}: no {want} variant");
        }
        for (variant, path) in files {
            let cg = convert_file(path, &opts).unwrap_or_else(|e| panic!("{model}.{variant}: {e}"));
            let what = format!("{model}.{variant}");
            assert_eq!(cg.unknown_shapes(), 0, "{what}: {:?}", cg.warnings);
            assert!(
                close(cg.macs(), reference.macs()),
                "{what}: MACs {} vs {}",
                cg.macs(),
                reference.macs()
            );
            // The unfolded export also counts BatchNorm's scale and shift.
            if variant != "plain" {
                assert!(
                    close(cg.params(), reference.params()),
                    "{what}: params {} vs {}",
                    cg.params(),
                    reference.params()
                );
            }
            assert_eq!(
                count(&cg, COMPUTE),
                count(&reference, COMPUTE),
                "{what}: compute nodes"
            );
            let canonical = aiop_converter::cg::canonicalize(&cg);
            assert_eq!(
                count(&canonical, COMPUTE),
                count(&aiop_converter::cg::canonicalize(&reference), COMPUTE),
                "{what}: compute nodes of the canonical CG"
            );
            checked += 1;
        }
    }
    assert!(checked >= 35, "{checked} files");
}

#[test]
fn quantizers_and_fusions_keep_the_activations() {
    let (_dir, zoo) = variants();
    let opts = ConvertOptions::default();
    // ReLU folded into FusedConv and into quantized output ranges; SiLU written as QuickGelu.
    for (model, acts) in [
        ("resnet18", &[OpCategory::Relu][..]),
        ("regnet_y_400mf", &[OpCategory::Relu, OpCategory::Sigmoid]),
        ("efficientnet_b0", &[OpCategory::Sigmoid]),
    ] {
        let files = &zoo[model];
        let reference = convert_file(&files["folded"], &opts).unwrap();
        for variant in ["ort", "qdq", "qop"] {
            let cg = convert_file(&files[variant], &opts).unwrap();
            for act in acts {
                assert_eq!(
                    count(&cg, &[*act]),
                    count(&reference, &[*act]),
                    "{model}.{variant}: {act:?} nodes"
                );
            }
            assert_eq!(
                cg.node_count(),
                reference.node_count(),
                "{model}.{variant}: nodes"
            );
        }
    }
}

#[test]
fn quantized_nodes_record_their_precision() {
    let (_dir, zoo) = variants();
    let opts = ConvertOptions::default();
    for (model, files) in &zoo {
        for variant in ["qdq", "qop", "dynamic"] {
            let cg = convert_file(&files[variant], &opts).unwrap();
            // Weights are int8; a product of two activations (attention) computes in their
            // uint8, or in float where only weights were quantized (dynamic).
            for n in cg.nodes().filter(|n| COMPUTE.contains(&n.op)) {
                let want = match (n.op, variant) {
                    (OpCategory::MatMul, "dynamic") => None,
                    (OpCategory::MatMul, _) => Some(Precision::Uint8),
                    _ => Some(Precision::Int8),
                };
                assert_eq!(
                    n.precision, want,
                    "{model}.{variant}: {} ({})",
                    n.name, n.op_type
                );
            }
        }
        for variant in ["folded", "dynamo", "ort"] {
            let cg = convert_file(&files[variant], &opts).unwrap();
            assert!(
                cg.nodes().all(|n| n.precision.is_none()),
                "{model}.{variant} is float"
            );
        }
    }
    // The precision survives the CG file (JSON and binary) and shows in `inspect`.
    let qop = &zoo["resnet18"]["qop"];
    let cg = convert_file(qop, &opts).unwrap();
    let json = aiop_converter::cg::format::to_json(&cg);
    assert!(json.contains("\"precision\": \"int8\""));
    let back = aiop_converter::cg::format::from_json(&json).unwrap();
    let bin = aiop_converter::cg::format::from_binary(&aiop_converter::cg::format::to_binary(&cg))
        .unwrap();
    for other in [back, bin] {
        assert!(cg.nodes().eq(other.nodes()));
    }
    let o = common::aiop(&["inspect", qop.to_str().unwrap()]);
    let (stdout, stderr) = common::text(&o);
    assert!(o.status.success(), "{stderr}");
    assert!(stdout.contains("precision: int8 21"), "{stdout}");
}

#[test]
fn legacy_and_dynamo_exports_have_one_canonical_cg() {
    // Canonical rules 3 (erf-GELU) and 8 (spatial ReduceMean is global average pooling).
    let (_dir, zoo) = variants();
    let opts = ConvertOptions {
        canonical: true,
        ..Default::default()
    };
    for (model, files) in &zoo {
        let legacy = convert_file(&files["folded"], &opts).unwrap();
        let dynamo = convert_file(&files["dynamo"], &opts).unwrap();
        let histogram = |cg: &Cg| {
            let mut h: BTreeMap<&'static str, usize> = BTreeMap::new();
            for n in cg.nodes() {
                *h.entry(n.op.name()).or_default() += 1;
            }
            h
        };
        assert_eq!(histogram(&legacy), histogram(&dynamo), "{model}");
        assert_eq!(legacy.node_count(), dynamo.node_count(), "{model}");
        assert_eq!(legacy.edge_count(), dynamo.edge_count(), "{model}");
        assert_eq!(legacy.macs(), dynamo.macs(), "{model}");
        assert_eq!(legacy.flops(), dynamo.flops(), "{model}");
    }
}
