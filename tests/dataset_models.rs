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
