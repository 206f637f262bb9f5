//! Fuzzes the TensorFlow importer end to end: bytes → `convert_tf_bytes` → CG → SVG. Nothing on
//! this path may panic. Seeds: the `.pb` files of `tests/fixtures/keras.tar.xz`.

#![no_main]

use aiop_converter::render::{RenderOptions, to_svg};
use aiop_converter::{ConvertOptions, convert_tf_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(cg) = convert_tf_bytes(data, "fuzz", &ConvertOptions::default()) else {
        return;
    };
    let opts = RenderOptions {
        collapse_chains: true,
        max_boxes: 16,
    };
    assert!(to_svg(&cg, &opts).starts_with("<svg"));
});
