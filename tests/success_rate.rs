//! Success rate on a mixed real sample: every torchvision export the exporter produces
//! (classification, segmentation, detection, keypoints) plus a seeded sample of timm
//! architectures must convert, at least 99 % of them with every shape known.

mod common;

use aiop_converter::{ConvertOptions, convert_file};

/// Exports that are not valid models: ONNX Runtime 1.32 refuses to load them too (checked with
/// `onnxruntime.InferenceSession`). They must still convert, with the bad node reported.
const INVALID_EXPORTS: &[(&str, &str)] = &[
    (
        "timm/vit_base_patch16_rope_mixed_ape_224.onnx",
        "torch's exporter writes Expand([1,1,768] → [1,3,3]); ORT: ShapeInferenceError at /Expand",
    ),
    (
        "timm/vit_large_patch16_rope_mixed_224.onnx",
        "same exporter fault (Expand of the class token to [1,3,3])",
    ),
];

#[test]
fn real_zoo_exports_convert_with_known_shapes() {
    let mut total = 0;
    let mut incomplete = Vec::new();
    let mut failed = Vec::new();
    let mut per_zoo = Vec::new();
    for (zoo, minimum) in [("torchvision", 95), ("timm", 50), ("opsets", 25)] {
        let (_dir, models) = common::unpack_zoo(zoo);
        assert!(
            models.len() >= minimum,
            "{zoo}: only {} models in the fixtures",
            models.len()
        );
        per_zoo.push((zoo, models.len()));
        for path in &models {
            let name = format!("{zoo}/{}", path.file_name().unwrap().to_string_lossy());
            if INVALID_EXPORTS.iter().any(|(f, _)| *f == name) {
                let cg = convert_file(path, &ConvertOptions::default())
                    .unwrap_or_else(|e| panic!("{name}: an invalid file must still convert: {e}"));
                assert!(
                    cg.unknown_shapes() > 0 && cg.warnings.iter().any(|w| w.contains("Expand"))
                );
                continue;
            }
            total += 1;
            match convert_file(path, &ConvertOptions::default()) {
                Ok(cg) if cg.unknown_shapes() == 0 => {
                    assert!(cg.node_count() > 2 && cg.macs() > 0, "{name}: empty graph");
                }
                Ok(cg) => incomplete.push(format!(
                    "{name} ({} unknown: {:?})",
                    cg.unknown_shapes(),
                    cg.warnings.first()
                )),
                Err(e) => failed.push(format!("{name}: {e}")),
            }
        }
    }
    let ok = total - incomplete.len() - failed.len();
    println!("{per_zoo:?}: {ok}/{total} complete; incomplete {incomplete:#?}; failed {failed:#?}");
    assert!(failed.is_empty(), "conversions failed: {failed:#?}");
    assert!(
        ok as f64 >= 0.99 * total as f64,
        "{ok}/{total} with every shape known; incomplete: {incomplete:#?}"
    );
}

/// The same network exported at opsets 7 to 21 has the same MACs and params.
#[test]
fn opsets_agree_on_costs() {
    let (_dir, models) = common::unpack_zoo("opsets");
    let mut by_model: std::collections::BTreeMap<String, Vec<(String, u64, u64)>> =
        Default::default();
    for path in &models {
        let stem = path.file_stem().unwrap().to_str().unwrap();
        let (model, opset) = stem.rsplit_once("_opset").expect("NAME_opsetN.onnx");
        let cg = convert_file(path, &ConvertOptions::default()).unwrap();
        by_model
            .entry(model.into())
            .or_default()
            .push((opset.into(), cg.macs(), cg.params()));
    }
    assert!(by_model.len() >= 4);
    for (model, exports) in &by_model {
        let (_, macs, params) = exports[0];
        for (opset, m, p) in exports {
            assert_eq!((*m, *p), (macs, params), "{model} at opset {opset}");
        }
    }
}
