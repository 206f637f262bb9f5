//! A dataset from a directory of zoo exports: build, join labels, leave-family-out split.

mod common;

use common::{aiop, dataset_stats as stats, text};

#[test]
fn zoo_directory_to_labelled_split_dataset() {
    let (zoo, models) = common::unpack_zoo("opsets");
    std::fs::write(zoo.path().join("broken.onnx"), b"\x08\x07\x12\xff").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("zoo.aiopds");
    let o = aiop(&[
        "dataset",
        "build",
        "models",
        zoo.path().to_str().unwrap(),
        "-o",
        ds.to_str().unwrap(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(err.contains("broken.onnx left out"), "{err}");
    let s = stats(&ds);
    assert_eq!(s["records"], models.len());
    assert_eq!(s["families"]["resnet"], 7, "{}", s["families"]);
    assert_eq!(s["families"]["vit"], 2);

    // Labels keyed by the model's name (its file stem).
    let csv = dir.path().join("labels.csv");
    std::fs::write(
        &csv,
        "name,acc\nresnet18_opset9,69.76\nresnet18_opset13,69.76\nvit_b_16_opset20,81.07\n",
    )
    .unwrap();
    let o = aiop(&[
        "dataset",
        "join-labels",
        ds.to_str().unwrap(),
        csv.to_str().unwrap(),
        "--task",
        "acc=imagenet-top1",
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(
        stats(&ds)["tasks"]["imagenet-top1"]["count"],
        3,
        "joined in place"
    );

    let split = dir.path().join("split");
    let o = aiop(&[
        "dataset",
        "split",
        ds.to_str().unwrap(),
        "-o",
        split.to_str().unwrap(),
        "--test-families",
        "vit",
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(stats(&split.join("test.aiopds"))["records"], 2);
    assert_eq!(
        stats(&split.join("train.aiopds"))["records"],
        models.len() - 2
    );
}

/// The torchvision fixtures labelled from torchvision's own weight metadata: every task of
/// the zoo, one label per model and task, and the FLOPs baseline of each.
#[test]
fn torchvision_zoo_labelled_from_its_metadata() {
    let (zoo, models) = common::unpack_zoo("torchvision");
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("torchvision.aiopds");
    let build = |labels: &str| {
        let data = common::data_dir();
        aiop(&[
            "dataset",
            "build",
            "models",
            zoo.path().to_str().unwrap(),
            "-o",
            ds.to_str().unwrap(),
            "--labels",
            labels,
            "--data-dir",
            data.to_str().unwrap(),
        ])
    };
    let o = build("torchvision");
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    let s = stats(&ds);
    assert_eq!(s["records"], models.len());
    let count = |task: &str| s["tasks"][task]["count"].as_u64().unwrap_or(0);
    assert_eq!(count("imagenet-top1"), 80, "{}", s["tasks"]);
    assert_eq!(count("coco-voc-miou"), 6);
    assert_eq!(count("coco-box-ap"), 12, "11 detectors and keypoint R-CNN");
    assert_eq!(count("coco-mask-ap"), 2);
    assert_eq!(count("coco-kp-ap"), 1);
    // ImageNet: torchvision's best weights per model (e.g. resnet50 IMAGENET1K_V2, 80.858)
    let top1 = &s["tasks"]["imagenet-top1"];
    assert_eq!(top1["max"], 88.552, "vit_h_14 SWAG");
    let flops_srcc = top1["flops_srcc"].as_f64().unwrap();
    assert!((0.6..0.8).contains(&flops_srcc), "{flops_srcc}");

    let o = aiop(&["dataset", "build", "models", zoo.path().to_str().unwrap()]);
    assert!(!o.status.success(), "no output given");
    let o = build("keras");
    let (_, err) = text(&o);
    assert!(
        !o.status.success() && err.contains("unknown zoo `keras`"),
        "{err}"
    );
}
