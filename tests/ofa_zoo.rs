//! `aiop zoo ofa`: once-for-all style bodies with a task head written as ONNX files that convert
//! to the CG the library builds.

mod common;

use std::path::Path;

use aiop_converter::{ConvertOptions, convert_onnx_bytes};
use aiop_datasets::spaces::ofa::onnx::{Head, build, sample_bodies};
use aiop_datasets::spaces::ofa::{Body, CLASSES, Family, JOINTS};

/// The `.onnx` files of a folder, sorted by name.
fn onnx_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".onnx"))
        .collect();
    names.sort();
    names
}

fn inspect(path: &Path) -> serde_json::Value {
    let o = common::aiop(&["inspect", path.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{:?}", common::text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn largest_body_with_each_head_converts_like_the_library_model() {
    for family in [Family::MobileNetV3, Family::ResNet] {
        let body = family.largest();
        for head in Head::ALL {
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("zoo");
            let o = common::aiop(&[
                "zoo",
                "ofa",
                "--family",
                family.name(),
                "--head",
                head.name(),
                "--largest",
                "--resolution",
                "96",
                "-o",
                out.to_str().unwrap(),
            ]);
            assert!(o.status.success(), "{:?}", common::text(&o));
            let file = format!("{}.{}.onnx", body.name(), head.name());
            assert_eq!(onnx_files(&out), std::slice::from_ref(&file));
            assert!(common::text(&o).0.contains(&file));
            let summary = inspect(&out.join(&file));
            let shape = match head {
                Head::Classification => vec![1, CLASSES],
                Head::Pose => vec![1, JOINTS, 24, 24],
                Head::Segmentation => vec![1, CLASSES + 1, 96, 96],
            };
            assert_eq!(summary["outputs"][0]["shape"], serde_json::json!(shape));
            assert_eq!(
                summary["inputs"][0]["shape"],
                serde_json::json!([1, 3, 96, 96])
            );
            assert_eq!(summary["unknown_shapes"], 0);
            let bytes = build(&body, head, 96).unwrap().to_bytes();
            let cg = convert_onnx_bytes(bytes.into(), "ofa", &ConvertOptions::default()).unwrap();
            assert_eq!(summary["macs"], cg.macs());
            assert_eq!(summary["params"], cg.params());
            assert_eq!(summary["nodes"], cg.node_count());
        }
    }
}

#[test]
fn seeded_random_bodies_are_reproducible() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    for dir in &dirs {
        let o = common::aiop(&[
            "zoo",
            "ofa",
            "--family",
            "resnet",
            "--head",
            "pose",
            "--seed",
            "5",
            "--count",
            "3",
            "-o",
            dir.path().to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{:?}", common::text(&o));
    }
    let mut want: Vec<String> = sample_bodies(Family::ResNet, 5, 3)
        .iter()
        .map(|b: &Body| format!("{}.pose.onnx", b.name()))
        .collect();
    want.sort();
    want.dedup();
    let files = onnx_files(dirs[0].path());
    assert_eq!(files, want);
    for f in &files {
        assert_eq!(
            std::fs::read(dirs[0].path().join(f)).unwrap(),
            std::fs::read(dirs[1].path().join(f)).unwrap(),
            "{f}"
        );
        let summary = inspect(&dirs[0].path().join(f));
        assert_eq!(
            summary["outputs"][0]["shape"],
            serde_json::json!([1, JOINTS, 16, 16])
        );
    }
}

#[test]
fn bad_arguments_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("zoo");
    let out = out.to_str().unwrap();
    let o = common::aiop(&[
        "zoo",
        "ofa",
        "--family",
        "mbv3",
        "--head",
        "segmentation",
        "--resolution",
        "48",
        "-o",
        out,
    ]);
    assert_eq!(o.status.code(), Some(1), "{:?}", common::text(&o));
    assert!(
        common::text(&o).1.contains("multiple of 32"),
        "{:?}",
        common::text(&o)
    );
    assert!(!Path::new(out).exists(), "nothing written");
    for args in [
        &["--family", "vgg", "--head", "pose"][..],
        &["--family", "mbv3", "--head", "detection"],
        &[
            "--family",
            "mbv3",
            "--head",
            "pose",
            "--largest",
            "--seed",
            "3",
        ],
        &["--family", "mbv3", "--head", "pose", "--count", "0"],
        &["--family", "mbv3"],
    ] {
        let mut all = vec!["zoo", "ofa", "-o", out];
        all.extend_from_slice(args);
        let o = common::aiop(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {:?}", common::text(&o));
    }
    assert!(!Path::new(out).exists());
}
