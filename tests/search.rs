//! `aiop search` end to end: a NAS-Bench-201 search with the shipped NB-201 predictor writes a
//! chosen network that converts, a front consistent with it, and refuses bad arguments; the
//! ground-truth benchmark runs on a small labelled dataset.

mod common;

use std::path::Path;

use common::{aiop, text};

const START: &str = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|";

/// Runs `aiop search` with `args`, which must succeed, and returns `OUT/front.json`.
fn search_report(args: &[&str], out: &Path) -> serde_json::Value {
    let o = aiop(args);
    let (stdout, err) = text(&o);
    assert!(o.status.success(), "{stdout}{err}");
    serde_json::from_str(&std::fs::read_to_string(out.join("front.json")).unwrap()).unwrap()
}

/// `OUT/chosen.onnx` is a valid model whose MACs are the report's.
fn assert_chosen_converts(out: &Path, chosen: &serde_json::Value) {
    let inspect = aiop(&[
        "inspect",
        out.join("chosen.onnx").to_str().unwrap(),
        "--json",
    ]);
    let summary: serde_json::Value = serde_json::from_str(&text(&inspect).0).unwrap();
    assert_eq!(summary["macs"], chosen["macs"]);
}

fn predictor() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models/predictor/nb201-cifar10.onnx")
        .display()
        .to_string()
}

#[test]
fn searches_nb201_and_writes_the_chosen_network() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let args = [
        "search",
        START,
        "--space",
        "nb201",
        "--task",
        "cifar10-top1",
        "--predictor",
        &predictor(),
        "--budget",
        "120",
        "--max-drop",
        "0.5",
        "-o",
        out.to_str().unwrap(),
    ];
    let report = search_report(&args, &out);
    assert_eq!(report["evaluated"], 120);
    let start = &report["start"];
    let chosen = &report["chosen"];
    assert_eq!(start["key"], START);
    assert!(chosen["macs"].as_u64() < start["macs"].as_u64(), "{report}");
    let drop = start["predicted"].as_f64().unwrap() - chosen["predicted"].as_f64().unwrap();
    assert!(drop <= 0.5, "{report}");
    assert!(!chosen["edits"].as_array().unwrap().is_empty());
    assert_chosen_converts(&out, chosen);
    // the front runs from cheap to expensive with rising predicted scores
    let front = report["front"].as_array().unwrap();
    assert!(
        front
            .windows(2)
            .all(|w| w[0]["macs"].as_u64() <= w[1]["macs"].as_u64()
                && w[0]["predicted"].as_f64() <= w[1]["predicted"].as_f64())
    );
    assert!(
        std::fs::read_to_string(out.join("front.svg"))
            .unwrap()
            .contains("Pareto front")
    );
    // the same seed gives the same search
    let again = dir.path().join("again");
    let mut args2 = args;
    args2[13] = again.to_str().unwrap();
    assert!(aiop(&args2).status.success());
    let second: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(again.join("front.json")).unwrap()).unwrap();
    assert_eq!(second["chosen"], report["chosen"]);
}

#[test]
fn bad_arguments_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = dir.path().to_str().unwrap();
    let p = predictor();
    let base = [
        "search",
        "--space",
        "nb201",
        "--predictor",
        &p,
        "-o",
        out.to_str().unwrap(),
    ];
    let run = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        aiop(&args)
    };
    // an argument, like `aiop zoo nb201`'s: a usage error
    let bad_arch = run(&["|bogus~0|", "--task", "cifar10-top1"]);
    assert_eq!(bad_arch.status.code(), Some(1), "{}", text(&bad_arch).1);
    assert!(
        text(&bad_arch)
            .1
            .contains("not a NAS-Bench-201 architecture")
    );
    let no_task = run(&[START, "--task", "imagenet-top1"]);
    assert!(!no_task.status.success());
    assert!(text(&no_task).1.contains("no task `imagenet-top1`"));
    let bad_drop = run(&[START, "--task", "cifar10-top1", "--max-drop=-1"]);
    assert_eq!(bad_drop.status.code(), Some(1));
    assert!(!out.exists(), "nothing written in {o}");
}

/// The slow tier: the full NB-201 dataset (≈25 s to build), one seed, a small budget.
#[test]
#[ignore]
fn ground_truth_benchmark_runs_every_method() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = dir.path().join("nb201.aiopds");
    let built = aiop(&["dataset", "build", "nb201", "-o", dataset.to_str().unwrap()]);
    assert!(built.status.success(), "{}", text(&built).1);
    let out = dir.path().join("bench");
    let o = aiop(&[
        "search",
        "--space",
        "nb201",
        "--task",
        "cifar10-top1",
        "--predictor",
        &predictor(),
        "--benchmark",
        dataset.to_str().unwrap(),
        "--seeds",
        "1",
        "--budget",
        "30",
        "-o",
        out.to_str().unwrap(),
    ]);
    let (stdout, err) = text(&o);
    assert!(o.status.success(), "{stdout}{err}");
    assert!(stdout.contains("| evolution + predictor |"), "{stdout}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("benchmark.json")).unwrap())
            .unwrap();
    let methods = results.as_array().unwrap();
    assert_eq!(methods.len(), 3);
    for m in methods {
        let hv = m["hypervolume"][0].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&hv), "{m}");
        // every evaluated network includes the returned ones: it dominates at least as much
        let explored = m["explored_hypervolume"][0].as_f64().unwrap();
        assert!(explored >= hv - 1e-12 && explored <= 1.0, "{m}");
    }
    // the MACs-only search returns everything it evaluated
    assert_eq!(
        methods[2]["explored_hypervolume"],
        methods[2]["hypervolume"]
    );
    // the predictor-guided methods choose networks no more expensive than their starts
    let reduction = methods[0]["reduction"][0].as_f64().unwrap();
    assert!((0.0..100.0).contains(&reduction), "{}", methods[0]);
    assert!(methods[2]["reduction"].is_null());
}

/// `aiop search MODEL.onnx`: edits of a weight-stripped torchvision ResNet-18 with the bundled
/// predictor; the chosen file converts with the MACs the report gives.
#[test]
fn searches_edits_of_an_onnx_file() {
    let (zoo, _) = common::unpack_zoo("torchvision");
    let model = zoo.path().join("resnet18.onnx");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let args = [
        "search",
        model.to_str().unwrap(),
        "--task",
        "imagenet-top1",
        "--budget",
        "80",
        "--target-reduction",
        "0.15",
        "-o",
        out.to_str().unwrap(),
    ];
    let report = search_report(&args, &out);
    assert_eq!(report["space"], "onnx");
    assert_eq!(report["start"]["key"], "resnet18");
    let chosen = &report["chosen"];
    let drop =
        report["start"]["predicted"].as_f64().unwrap() - chosen["predicted"].as_f64().unwrap();
    assert!(drop <= 0.5, "{report}");
    assert!(report["reduction"].as_f64().unwrap() >= 0.15, "{report}");
    assert_chosen_converts(&out, chosen);
    assert!(!chosen["edits"].as_array().unwrap().is_empty());
}

/// A file that is not a model: one line naming it, exit code 2, nothing written.
#[test]
fn searching_a_bad_file_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("random.onnx");
    std::fs::write(&bad, [0x08u8, 0xff, 0xff, 0x12, 0x34, 0x99, 0x01]).unwrap();
    let out = dir.path().join("out");
    let o = aiop(&[
        "search",
        bad.to_str().unwrap(),
        "--task",
        "imagenet-top1",
        "-o",
        out.to_str().unwrap(),
    ]);
    let err = text(&o).1;
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("random.onnx"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!out.exists());
}

/// `aiop search mbv3 --space ofa`: subnets of the once-for-all MobileNetV3-like space, from the
/// largest; every network of the front is one the space can build.
#[test]
fn searches_the_ofa_space() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = |start: &str, head: &str| {
        aiop(&[
            "search",
            start,
            "--space",
            "ofa",
            "--head",
            head,
            "--task",
            "imagenet-top1",
            "--budget",
            "40",
            "-o",
            out.to_str().unwrap(),
        ])
    };
    let o = run("mbv3@192", "classification");
    assert!(o.status.success(), "{}", text(&o).1);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("front.json")).unwrap()).unwrap();
    assert_eq!(report["space"], "ofa");
    assert!(report["start"]["key"].as_str().unwrap().ends_with("@192"));
    assert_eq!(report["evaluated"], 40);
    assert!(report["front"].as_array().unwrap().iter().all(|c| {
        let key = c["key"].as_str().unwrap();
        key.starts_with("mbv3-") && c["macs"].as_u64() > Some(0)
    }));
    for (start, head, error) in [
        ("vgg", "classification", "not an OFA family"),
        ("mbv3", "detection", "--head detection"),
    ] {
        let o = run(start, head);
        assert!(!o.status.success());
        assert!(text(&o).1.contains(error), "{}", text(&o).1);
    }
}
