//! The labelled zoo datasets in `models/datasets/` read with this build and hold what
//! `docs/datasets.md` says they hold.

mod common;

use std::path::Path;

use common::dataset_stats as stats;

fn shipped(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("models/datasets/{name}.aiopds"));
    stats(&path)
}

fn count(s: &serde_json::Value, task: &str) -> u64 {
    s["tasks"][task]["count"].as_u64().unwrap_or(0)
}

#[test]
fn every_shipped_dataset_has_its_tasks() {
    let timm = shipped("timm");
    assert!(count(&timm, "imagenet-top1") >= 400, "{}", timm["tasks"]);
    let tv = shipped("torchvision");
    assert_eq!(count(&tv, "imagenet-top1"), 80);
    assert_eq!(count(&tv, "coco-box-ap"), 12);
    assert_eq!(count(&tv, "coco-voc-miou"), 6);
    for (name, task) in [
        ("mmseg", "cityscapes-miou"),
        ("mmdet", "coco-box-ap"),
        ("mmpose", "coco-kp-ap"),
    ] {
        let s = shipped(name);
        assert!(count(&s, task) >= 60, "{name}: {}", s["tasks"]);
        let (min, max) = (
            s["tasks"][task]["min"].as_f64().unwrap(),
            s["tasks"][task]["max"].as_f64().unwrap(),
        );
        assert!(
            20.0 < min && max < 100.0,
            "{name}: labels in percent: {min}..{max}"
        );
    }
}
