//! Fuzzes the TensorFlow importer end to end: bytes → `convert_tf_bytes` → CG (plain and
//! canonical) → SVG, and the same bytes read as a SavedModel (function inlining). Nothing on
//! this path may panic. Seeds: the `.pb` files of `tests/fixtures/keras.tar.xz` and the
//! `saved_model.pb` files of `tests/fixtures/keras-savedmodel.tar.xz`.

#![no_main]

use aiop_converter::render::{RenderOptions, to_svg};
use aiop_converter::{ConvertOptions, cg::canonicalize, convert_tf_bytes, tf::parse_tf};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_tf(data, true);
    let Ok(cg) = convert_tf_bytes(data, "fuzz", &ConvertOptions::default()) else {
        return;
    };
    let opts = RenderOptions {
        collapse_chains: true,
        max_boxes: 16,
    };
    assert!(to_svg(&cg, &opts).starts_with("<svg"));
    assert_eq!(canonicalize(&cg).macs(), cg.macs());
});
