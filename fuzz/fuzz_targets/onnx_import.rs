//! Fuzzes the ONNX importer end to end: bytes → `convert_onnx_bytes` → CG, then the CG's
//! binary and JSON round trips and both renderers. Nothing on this path may panic.

#![no_main]

use aiop_converter::cg::format::{from_binary, from_json, to_binary, to_json};
use aiop_converter::render::{RenderOptions, to_dot, to_svg};
use aiop_converter::{ConvertOptions, convert_onnx_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = ConvertOptions::default();
    let Ok(cg) = convert_onnx_bytes(bytes::Bytes::copy_from_slice(data), "fuzz", &options) else {
        return;
    };

    // Binary round trip: decoding what we wrote must succeed and re-encode to the same bytes.
    let bin = to_binary(&cg);
    let back = from_binary(&bin).expect("a CG written by to_binary must read back");
    assert_eq!(
        to_binary(&back),
        bin,
        "binary CG round trip changed the graph"
    );

    // JSON round trip, likewise.
    let json = to_json(&cg);
    let back = from_json(&json).expect("a CG written by to_json must read back");
    assert_eq!(to_json(&back), json, "JSON CG round trip changed the graph");

    // Both renderers, with and without chain collapsing, on a small box budget.
    for collapse_chains in [true, false] {
        let opts = RenderOptions {
            collapse_chains,
            max_boxes: 16,
        };
        let svg = to_svg(&cg, &opts);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        let dot = to_dot(&cg, &opts);
        assert!(dot.starts_with("digraph") && dot.ends_with("}\n"));
    }
});
