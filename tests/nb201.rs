//! NAS-Bench-201 networks built by `aiop_datasets::spaces::nb201` match the benchmark's published
//! parameter counts (NASLib's `zc_nasbench201.json`, CIFAR-10 entries) within 1 %.

mod common;

use aiop_converter::{ConvertOptions, convert_onnx_bytes};
use aiop_datasets::spaces::nb201::{Cell, Skeleton, build};

#[test]
fn params_match_naslib_within_one_percent() {
    let path = common::data_dir().join("naslib/zc_nasbench201.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cifar10 = json["nasbench201"]["cifar10"]
        .as_object()
        .expect("cifar10 entries");
    let mut checked = 0;
    let mut worst: f64 = 0.0;
    for (key, entry) in cifar10.iter().take(60) {
        let indices: Vec<usize> = key
            .trim_matches(|c| c == '(' || c == ')')
            .split(',')
            .map(|v| v.trim().parse().unwrap())
            .collect();
        let cell = Cell::from_naslib(indices.try_into().unwrap()).unwrap();
        let published = entry["params"].as_f64().unwrap() * 1e6;
        let model = build(&cell, &Skeleton::default());
        let cg = convert_onnx_bytes(model.to_bytes().into(), "nb201", &ConvertOptions::default())
            .unwrap();
        assert_eq!(cg.unknown_shapes(), 0, "{cell}");
        let diff = (cg.params() as f64 - published) / published;
        worst = worst.max(diff.abs());
        if checked < 5 {
            println!(
                "{cell}: MACs {} vs published FLOPs {}",
                cg.macs(),
                entry["flops"].as_f64().unwrap() * 1e6
            );
        }
        assert!(
            diff.abs() <= 0.01,
            "{cell}: {} params vs published {published}",
            cg.params()
        );
        checked += 1;
    }
    println!(
        "{checked} cells, worst params difference {:.4} %",
        worst * 100.0
    );
    assert!(checked >= 50);
}

#[test]
fn cli_writes_the_network_as_onnx_or_as_a_cg() {
    let dir = tempfile::tempdir().unwrap();
    let arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|";
    let onnx = dir.path().join("cell.onnx");
    let json = dir.path().join("cell.json");
    for out in [&onnx, &json] {
        let o = common::aiop(&["zoo", "nb201", arch, "-o", out.to_str().unwrap()]);
        assert!(o.status.success(), "{:?}", common::text(&o));
    }
    let o = common::aiop(&["inspect", onnx.to_str().unwrap(), "--json"]);
    let from_onnx: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let o = common::aiop(&["inspect", json.to_str().unwrap(), "--json"]);
    let from_cg: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(from_onnx["params"], from_cg["params"]);
    assert_eq!(from_onnx["outputs"][0]["shape"], serde_json::json!([1, 10]));
    let o = common::aiop(&[
        "zoo",
        "nb201",
        "|nor_conv_3x3~0|",
        "-o",
        onnx.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        common::text(&o)
            .1
            .contains("not a NAS-Bench-201 architecture")
    );
}

#[test]
#[ignore = "slow tier (~25 s): CI runs it with --include-ignored"]
fn dataset_build_and_stats() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nb201.aiopds");
    let data = common::data_dir();
    let o = common::aiop(&[
        "dataset",
        "build",
        "nb201",
        "-o",
        out.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{:?}", common::text(&o));
    let s = common::dataset_stats(&out);
    // Every cell of the space, each with every label.
    assert_eq!(s["records"], 15_625);
    assert_eq!(
        s["tasks"]["cifar10-analognas-analog-accuracy"]["count"],
        15_625
    );
    for task in ["cifar10-top1", "cifar100-top1", "imagenet16-120-top1"] {
        assert_eq!(s["tasks"][task]["count"], 15_625, "{task}");
        // FLOPs alone rank NB-201 cells with an SRCC of about 0.7 (the naive baseline).
        let srcc = s["tasks"][task]["flops_srcc"].as_f64().unwrap();
        assert!(srcc > 0.6 && srcc < 0.85, "{task}: FLOPs SRCC {srcc}");
    }
    let max = s["tasks"]["cifar10-top1"]["max"].as_f64().unwrap();
    assert!(
        max > 90.0 && max < 95.0,
        "CIFAR-10 accuracies are percentages: {max}"
    );
    // Seeded splits: the NB-201 protocol's 1,000 training cells, the same for the same seed.
    let split = |dir: &std::path::Path, seed: &str| {
        let o = common::aiop(&[
            "dataset",
            "split",
            out.to_str().unwrap(),
            "-o",
            dir.to_str().unwrap(),
            "--train-count",
            "1000",
            "--seed",
            seed,
        ]);
        assert!(o.status.success(), "{:?}", common::text(&o));
        (
            std::fs::read(dir.join("train.aiopds")).unwrap(),
            std::fs::read(dir.join("test.aiopds")).unwrap(),
        )
    };
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    assert_eq!(split(&a, "1"), split(&b, "1"));
    assert_ne!(split(&c, "2").0, split(&a, "1").0);
    for (file, n) in [("train.aiopds", 1000), ("test.aiopds", 14_625)] {
        assert_eq!(common::dataset_stats(&a.join(file))["records"], n, "{file}");
    }
    // Labels from another source join by record name.
    let csv = dir.path().join("extra.csv");
    std::fs::write(
        &csv,
        "name,score\n\
         |skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|,1.5\n\
         |nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|,2.5\n\
         not-an-architecture,9\n",
    )
    .unwrap();
    let joined = dir.path().join("joined.aiopds");
    let o = common::aiop(&[
        "dataset",
        "join-labels",
        out.to_str().unwrap(),
        csv.to_str().unwrap(),
        "--task",
        "score=extra",
        "-o",
        joined.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{:?}", common::text(&o));
    let s = common::dataset_stats(&joined);
    assert_eq!(s["tasks"]["extra"]["count"], 2);
    assert_eq!(s["tasks"]["extra"]["max"], 2.5);
    assert_eq!(
        s["tasks"]["cifar10-top1"]["count"], 15_625,
        "existing labels kept"
    );
    // A file that is not a dataset is refused with a clear message.
    let o = common::aiop(&[
        "dataset",
        "stats",
        data.join("nb201/nats_tss_200ep_test_acc.csv")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "bad input");
    assert!(common::text(&o).1.contains("not an aiop dataset file"));
}
