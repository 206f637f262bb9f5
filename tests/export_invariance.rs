//! Export-style invariance (issue 25): one network exported two ways gets one prediction
//! (goal: within 0.5 points). The predictor encodes the canonical CG; the keras.applications
//! networks of `tests/fixtures/keras.tar.xz` are exported as a frozen TensorFlow graph (lowered
//! to NCHW by the importer) and through tf2onnx (channels-last activations between transposes
//! around every convolution). (Held-back zoo: used here only to check invariance, never to
//! train or choose methods.)
//!
//! Both exports give the same canonical CG, node for node (canonical rule 7 writes tf2onnx's
//! channels-last shapes channels-first), so the predictions agree.
//!
//! The torchvision files of `tests/fixtures/deploy.tar.xz` (`tools/zoo/export_deploy.py`) are one
//! network each exported unfolded, with BatchNorm folded, by torch's dynamo exporter, quantized
//! three ways and optimised by ONNX Runtime: the convolutional ones are predicted alike too.

mod common;

use std::collections::BTreeMap;

use common::{aiop, text};

/// `(file stem, task) → prediction` of `aiop predict --json` on `files`.
fn predictions(files: &[String]) -> BTreeMap<(String, String), f64> {
    let mut args = vec!["predict", "--json"];
    args.extend(files.iter().map(String::as_str));
    let o = aiop(&args);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    rows.iter()
        .map(|r| {
            let file = std::path::Path::new(r["file"].as_str().unwrap());
            let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
            let task = r["task"].as_str().unwrap().to_string();
            ((stem, task), r["prediction"].as_f64().unwrap())
        })
        .collect()
}

#[test]
fn tensorflow_and_onnx_exports_of_one_network_are_predicted_alike() {
    let (dir, _) = common::unpack_zoo("keras");
    let with = |ext: &str| -> Vec<String> {
        let mut files: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .map(|p| p.display().to_string())
            .collect();
        files.sort();
        files
    };
    let (pb, onnx) = (predictions(&with("pb")), predictions(&with("onnx")));
    // every network but four (.pb only: Xception, NASNetMobile/Large, ConvNeXt-T) comes both ways
    let both: Vec<_> = pb.keys().filter(|k| onnx.contains_key(*k)).collect();
    assert!(both.len() >= 4 * 20, "{} predictions", both.len());
    for key in both {
        let (p, q) = (pb[key], onnx[key]);
        assert!(
            (p - q).abs() <= 0.5,
            "{key:?}: {p:.3} from the .pb, {q:.3} from the .onnx"
        );
    }
}

#[test]
fn folded_quantized_and_runtime_optimised_files_are_predicted_alike() {
    let (_dir, files) = common::unpack_zoo("deploy");
    let files: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let predicted = predictions(&files);
    let mut compared = 0;
    for ((stem, task), p) in &predicted {
        let model = stem.split_once('.').unwrap().0;
        // Not yet alike (issue 25): ViT-B/16's unquantized variants, up to 2.6 points apart
        // (COCO keypoints; ImageNet 1.3): ONNX Runtime's graph optimisation moves reshapes and
        // transposes around the attention. Its quantized files are the CG of the
        // ORT-preprocessed (`dynamic`) one: an exact GELU's `1 + erf` is no folded ReLU.
        if model == "vit_b_16" {
            if stem.ends_with(".qdq") || stem.ends_with(".qop") {
                let reference = predicted[&(format!("{model}.dynamic"), task.clone())];
                assert!(
                    (p - reference).abs() <= 0.05,
                    "{stem} {task}: {p:.3}, dynamic quantization {reference:.3}"
                );
            }
            continue;
        }
        let reference = predicted[&(format!("{model}.folded"), task.clone())];
        assert!(
            (p - reference).abs() <= 0.5,
            "{stem} {task}: {p:.3}, folded export {reference:.3}"
        );
        compared += 1;
    }
    // 4 networks × 7 variants × 4 tasks
    assert_eq!(compared, 4 * 7 * 4);
}
