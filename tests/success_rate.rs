//! Success rate on a mixed real sample: every torchvision export the exporter produces
//! (classification, segmentation, detection, keypoints) plus a seeded sample of timm
//! architectures must convert, at least 99 % of them with every shape known.

mod common;

use aiop_converter::{ConvertOptions, convert_file};

#[test]
fn real_zoo_exports_convert_with_known_shapes() {
    let mut total = 0;
    let mut incomplete = Vec::new();
    let mut failed = Vec::new();
    let mut per_zoo = Vec::new();
    for (zoo, minimum) in [("torchvision", 95), ("timm", 50)] {
        let (_dir, models) = common::unpack_zoo(zoo);
        assert!(
            models.len() >= minimum,
            "{zoo}: only {} models in the fixtures",
            models.len()
        );
        per_zoo.push((zoo, models.len()));
        for path in &models {
            total += 1;
            let name = format!("{zoo}/{}", path.file_name().unwrap().to_string_lossy());
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
