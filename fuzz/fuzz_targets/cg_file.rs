//! Fuzzes the CG file readers: bytes → `from_binary` (or, for text, `from_json`) → CG. A CG that
//! reads must write back to the same binary bytes, and render, canonicalise and encode for the
//! predictor without panicking. Seeds: CG files of zoo exports in both forms (`fuzz/seeds.sh`).

#![no_main]

use aiop_converter::cg::{canonicalize, format};
use aiop_converter::render::{RenderOptions, to_svg};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cg = if format::is_binary_cg(data) {
        format::from_binary(data)
    } else {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        format::from_json(text)
    };
    let Ok(cg) = cg else {
        return;
    };
    let binary = format::to_binary(&cg);
    let again = format::from_binary(&binary).expect("a CG that was read writes back readable");
    assert_eq!(format::to_binary(&again), binary);
    let opts = RenderOptions {
        collapse_chains: true,
        max_boxes: 16,
    };
    assert!(to_svg(&cg, &opts).starts_with("<svg"));
    // (a file's per-node counts are its own: canonical MACs equal the plain ones only for
    // CGs the converter made, so this only checks that canonicalising does not panic)
    let _ = canonicalize(&cg);
    let encoded = aiop_predictor::encode(&cg);
    assert!(encoded.node_count() <= cg.graph.node_count());
});
