//! `aiop predict`, `rank`, `predictor info` with the bundled default predictor (tract), and
//! its parity with the libtorch scores stored when it was exported.

mod common;

use std::collections::HashMap;
use std::path::Path;

use aiop_datasets::Reader;
use aiop_predictor::metrics::max_abs_difference;
use aiop_predictor::{Backend, RuntimePredictor, encode};
use common::{aiop, text};

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

#[test]
fn predicts_the_sample_for_every_task() {
    let o = aiop(&["predict", &repo("models/samples/resnet18.onnx"), "--json"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let tasks: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["task"].as_str().unwrap())
        .collect();
    assert_eq!(
        tasks,
        [
            "imagenet-top1",
            "cityscapes-miou",
            "coco-box-ap",
            "coco-kp-ap"
        ]
    );
    for row in rows.as_array().unwrap() {
        assert_eq!(row["macs"], 1_814_073_344u64, "{row}");
        assert_eq!(row["params"], 11_689_512u64);
        let p = row["prediction"].as_f64().unwrap();
        assert!((20.0..100.0).contains(&p), "{row}");
    }
    let o = aiop(&[
        "predict",
        &repo("models/samples/resnet18.onnx"),
        "--task",
        "nope",
    ]);
    let (_, err) = text(&o);
    assert!(
        !o.status.success() && err.contains("no task `nope`"),
        "{err}"
    );
}

#[test]
fn bad_predictor_files_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, b"\x08\x07garbage that is not a model").unwrap();
    // a real ONNX model without predictor metadata
    for bad in [
        junk.display().to_string(),
        repo("models/samples/resnet18.onnx"),
    ] {
        let o = aiop(&[
            "predict",
            &repo("models/samples/resnet18.onnx"),
            "--predictor",
            &bad,
        ]);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("not an aiop predictor"), "{err}");
    }
    let o = aiop(&["predictor", "info"]);
    let (out, err) = text(&o);
    assert!(
        o.status.success() && out.contains("coco-kp-ap"),
        "{out}{err}"
    );
}

#[test]
fn ranks_models_against_labels() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo("models/samples/resnet18.onnx"),
        dir.path().join("resnet18.onnx"),
    )
    .unwrap();
    for (name, arch) in [
        (
            "strong",
            "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
        ),
        (
            "weak",
            "|avg_pool_3x3~0|+|none~0|avg_pool_3x3~1|+|none~0|none~1|avg_pool_3x3~2|",
        ),
    ] {
        let out = dir.path().join(format!("{name}.onnx"));
        assert!(
            aiop(&["zoo", "nb201", arch, "-o", out.to_str().unwrap()])
                .status
                .success()
        );
    }
    let labels = dir.path().join("labels.csv");
    std::fs::write(&labels, "name,value\nresnet18,69.76\nstrong,60\nweak,30\n").unwrap();
    let o = aiop(&[
        "rank",
        dir.path().to_str().unwrap(),
        "--task",
        "imagenet-top1",
        "--labels",
        labels.to_str().unwrap(),
        "--json",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["n"], 3);
    for key in ["srcc", "kendall", "mae", "flops_srcc"] {
        assert!(report[key].as_f64().unwrap().is_finite(), "{key}: {report}");
    }
    let ranking = report["ranking"].as_array().unwrap();
    assert_eq!(ranking.len(), 3);
    let predictions: Vec<f64> = ranking
        .iter()
        .map(|r| r["prediction"].as_f64().unwrap())
        .collect();
    assert!(
        predictions.windows(2).all(|w| w[0] >= w[1]),
        "sorted: {predictions:?}"
    );
}

/// The held-out records of a shipped dataset (`dataset export --held-out`, the split `aiop
/// train --seed 0` trains beside) as CG files ranked by `aiop rank`: the bundled predictor's
/// held-out figure as a user reproduces it, above ranking by FLOPs.
#[test]
fn held_out_records_rank_above_flops() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("held-out");
    let o = aiop(&[
        "dataset",
        "export",
        &repo("models/datasets/mmseg.aiopds"),
        "--task",
        "cityscapes-miou",
        "--held-out",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    let labels = std::fs::read_to_string(out.join("labels.csv")).unwrap();
    assert_eq!(
        labels.lines().count(),
        1 + 16,
        "header + 20 % of 82: {labels}"
    );
    let o = aiop(&[
        "rank",
        out.to_str().unwrap(),
        "--task",
        "cityscapes-miou",
        "--labels",
        out.join("labels.csv").to_str().unwrap(),
        "--json",
    ]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["n"], 16);
    let (srcc, flops) = (
        report["srcc"].as_f64().unwrap(),
        report["flops_srcc"].as_f64().unwrap(),
    );
    assert!(srcc > flops, "SRCC {srcc} vs FLOPs {flops}");
}

/// tract (and ONNX Runtime, when `ORT_DYLIB_PATH` is set) agrees with libtorch (scores stored
/// by `aiop export --check`) within 1e-4 on every shipped zoo network.
#[test]
#[ignore = "slow tier (~30 s): CI runs it with --include-ignored"]
fn bundled_predictor_matches_libtorch() {
    let mut backends = vec![Backend::Native, Backend::Tract];
    if std::env::var_os("ORT_DYLIB_PATH").is_some() {
        backends.push(Backend::Ort);
    }
    for backend in backends {
        let (checked, max) = parity(backend);
        eprintln!("{backend:?}: {checked} networks, max |difference| {max:.2e}");
        assert!(checked >= 800, "{checked} networks checked");
        assert!(max < 1e-4, "{backend:?} differs by {max}");
    }
}

/// Networks compared with the libtorch reference, and the largest difference.
fn parity(backend: Backend) -> (usize, f32) {
    #[derive(serde::Deserialize)]
    struct Reference {
        dataset: String,
        name: String,
        scores: Vec<f32>,
    }
    let text =
        std::fs::read_to_string(repo("models/predictor/aiop-default.reference.json")).unwrap();
    let reference: Vec<Reference> = serde_json::from_str(&text).unwrap();
    let bytes = std::fs::read(repo("models/predictor/aiop-default.onnx")).unwrap();
    let runtime = RuntimePredictor::from_bytes(&bytes, backend).unwrap();
    let (mut checked, mut max) = (0, 0f32);
    let mut by_dataset: HashMap<&str, Vec<&Reference>> = HashMap::new();
    for r in &reference {
        by_dataset.entry(r.dataset.as_str()).or_default().push(r);
    }
    for (dataset, wanted) in by_dataset {
        let path = repo(&format!("models/datasets/{dataset}"));
        let Ok(file) = std::fs::File::open(&path) else {
            continue; // NB-201 is built on demand, not shipped
        };
        let mut graphs = HashMap::new();
        for record in Reader::new(std::io::BufReader::new(file)).unwrap() {
            let record = record.unwrap();
            graphs.insert(record.name.clone(), encode(&record.cg().unwrap()));
        }
        for chunk in wanted.chunks(64) {
            let batch: Vec<_> = chunk.iter().map(|r| &graphs[&r.name]).collect();
            let got = runtime.scores(&batch).unwrap();
            let want: Vec<Vec<f32>> = chunk.iter().map(|r| r.scores.clone()).collect();
            // a NaN or a missing score makes the difference NaN or infinite: the check fails
            let d = max_abs_difference(&got, &want);
            if d.is_nan() || d > max {
                max = d;
            }
            checked += chunk.len();
        }
    }
    (checked, max)
}

/// `aiop predictor blend`: the output becomes `(1 − w) · GNN + w · trees`; the shipped file is
/// what the command makes of it (split seed 0); bad predictors are refused like in `predict`.
#[test]
fn blending_mixes_the_gnn_and_the_graph_statistics_trees() {
    let dir = tempfile::tempdir().unwrap();
    let kp_ap = |predictor: Option<&Path>| -> f64 {
        let sample = repo("models/samples/resnet18.onnx");
        let mut args = vec!["predict", &sample, "--task", "coco-kp-ap", "--json"];
        let path;
        if let Some(p) = predictor {
            path = p.display().to_string();
            args.extend(["--predictor", &path]);
        }
        let o = aiop(&args);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{out}{err}");
        let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
        rows[0]["prediction"].as_f64().unwrap()
    };
    let dataset = repo("models/datasets/mmpose.aiopds");
    let blended = |weight: &str| {
        let out = dir.path().join(format!("w{weight}.onnx"));
        let o = aiop(&[
            "predictor",
            "blend",
            &dataset,
            "--task",
            "coco-kp-ap",
            "--weight",
            weight,
            "-o",
            out.to_str().unwrap(),
        ]);
        let (stdout, err) = text(&o);
        assert!(o.status.success(), "{stdout}{err}");
        assert!(stdout.contains("fitted on 70 of 88 networks"), "{stdout}");
        kp_ap(Some(&out))
    };
    let (gnn, half, trees) = (blended("0"), blended("0.5"), blended("1"));
    assert!((gnn - trees).abs() > 0.1, "{gnn} {trees}");
    assert!(
        (half - (gnn + trees) / 2.0).abs() < 1e-9,
        "{gnn} {half} {trees}"
    );
    assert!(
        (kp_ap(None) - half).abs() < 1e-9,
        "the bundled file: {}",
        kp_ap(None)
    );

    let info = aiop(&[
        "predictor",
        "info",
        dir.path().join("w0.5.onnx").to_str().unwrap(),
    ]);
    let (out, _) = text(&info);
    assert!(out.contains("bundle format 2"), "{out}");
    assert!(
        out.contains("graph-statistics trees: weight 0.5, 200 trees (70 networks)"),
        "{out}"
    );

    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, b"not a predictor").unwrap();
    let out = dir.path().join("never.onnx");
    let o = aiop(&[
        "predictor",
        "blend",
        &dataset,
        "--task",
        "coco-kp-ap",
        "--predictor",
        junk.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
    assert!(text(&o).1.contains("junk.onnx"), "{:?}", text(&o));
    assert!(!out.exists());
}

/// The first `n` CGs of the shipped segmentation zoo.
fn segmentation_cgs(n: usize) -> Vec<aiop_converter::Cg> {
    let file = std::fs::File::open(repo("models/datasets/mmseg.aiopds")).unwrap();
    Reader::new(std::io::BufReader::new(file))
        .unwrap()
        .take(n)
        .map(|r| r.unwrap().cg().unwrap())
        .collect()
}

/// The native backend computes only the columns asked for: each alone gives what it gives
/// among all four (same operations, same order), on real zoo CGs.
#[test]
fn native_columns_alone_match_all_columns() {
    let predictor =
        RuntimePredictor::from_bytes(aiop_predictor::DEFAULT_PREDICTOR, Backend::Native).unwrap();
    let graphs: Vec<_> = segmentation_cgs(8).iter().map(encode).collect();
    let refs: Vec<_> = graphs.iter().collect();
    let all = predictor.scores(&refs).unwrap();
    let columns = predictor.meta.tasks.len();
    for c in 0..columns {
        let alone = predictor.scores_of(&refs, &[c]).unwrap();
        for (row, one) in all.iter().zip(&alone) {
            assert_eq!(row[c], one[0], "column {c}");
        }
    }
    assert!(predictor.scores_of(&refs, &[columns]).is_err());
}

/// Each member of the bundled ensemble predicts on its own; their mean is the ensemble's
/// prediction (the blended trees shift every member alike), and the members do disagree.
#[test]
fn native_members_average_to_the_ensemble() {
    let predictor =
        RuntimePredictor::from_bytes(aiop_predictor::DEFAULT_PREDICTOR, Backend::Native).unwrap();
    let cgs = segmentation_cgs(8);
    let graphs: Vec<_> = cgs.iter().map(encode).collect();
    let refs: Vec<_> = graphs.iter().collect();
    let gflops: Vec<f64> = cgs.iter().map(|c| c.macs() as f64 / 1e9).collect();
    let mut spread = 0.0f64;
    for c in 0..predictor.meta.tasks.len() {
        let ensemble = predictor.predict_columns(&refs, &gflops, &[c]).unwrap();
        let members = predictor.predict_members(&refs, &gflops, c).unwrap();
        for (whole, each) in ensemble.iter().zip(&members) {
            assert_eq!(each.len(), 3, "three members");
            let mean = each.iter().sum::<f64>() / 3.0;
            assert!(
                (mean - whole[0]).abs() < 1e-4,
                "column {c}: {mean} vs {}",
                whole[0]
            );
            spread = spread.max(each.iter().fold(0.0, |m, v| m.max((v - mean).abs())));
        }
    }
    assert!(spread > 0.01, "members agree to {spread}: not an ensemble?");
    assert!(predictor.predict_members(&refs, &gflops, 99).is_err());
    let tract = RuntimePredictor::from_bytes(aiop_predictor::DEFAULT_PREDICTOR, Backend::Tract);
    if let Ok(tract) = tract {
        assert!(tract.predict_members(&refs, &gflops, 0).is_err());
    }
}
