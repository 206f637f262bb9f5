//! Export-style invariance (issue 25): one network exported two ways gets one prediction. The
//! predictor encodes the canonical CG, so the keras.applications networks of
//! `tests/fixtures/keras.tar.xz`, each exported as a frozen TensorFlow graph (NHWC, TF ops,
//! BatchNorm as `FusedBatchNormV3`) and through tf2onnx (NCHW transposes, ONNX ops), must be
//! predicted the same for every task of the bundled predictor. (Held-back zoo: used here only
//! to check invariance, never to train or choose methods.)

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
    assert!(pb.len() >= 4 * 15, "{} predictions", pb.len());
    assert_eq!(
        pb.keys().collect::<Vec<_>>(),
        onnx.keys().collect::<Vec<_>>()
    );
    for (key, p) in &pb {
        let q = onnx[key];
        assert!(
            (p - q).abs() <= 0.01,
            "{key:?}: {p:.3} from the .pb, {q:.3} from the .onnx"
        );
    }
}
