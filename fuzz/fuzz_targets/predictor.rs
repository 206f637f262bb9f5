//! Fuzzes predictor files: bytes → `RuntimePredictor::from_bytes` (tract). A file that loads
//! must predict finite scores — or fail with an error — for a small real CG. Only weights and
//! metadata are read from the file (the graph is written anew), so a crafted file cannot bring
//! operators; this checks the reading of those weights and metadata. Seed: the bundled
//! predictor and a one-member export (`fuzz/seeds.sh`).

#![no_main]

use std::sync::LazyLock;

use aiop_converter::onnx::writer::ModelBuilder;
use aiop_converter::value::DType;
use aiop_converter::{ConvertOptions, convert_onnx_bytes};
use aiop_predictor::{Backend, EncodedGraph, RuntimePredictor, encode};
use libfuzzer_sys::fuzz_target;

/// A convolution and a ReLU: enough nodes and edges to run every part of the predictor.
static GRAPH: LazyLock<(EncodedGraph, f64)> = LazyLock::new(|| {
    let mut m = ModelBuilder::new(17);
    m.input("x", DType::F32, &[1, 3, 8, 8])
        .weight("w", &[4, 3, 3, 3])
        .node("Conv", &["x", "w"], &["c"], vec![])
        .node("Relu", &["c"], &["y"], vec![])
        .output("y");
    let cg = convert_onnx_bytes(m.to_bytes().into(), "probe", &ConvertOptions::default())
        .expect("the probe converts");
    (encode(&cg), cg.macs() as f64 / 1e9)
});

fuzz_target!(|data: &[u8]| {
    let Ok(predictor) = RuntimePredictor::from_bytes(data, Backend::Tract) else {
        return;
    };
    let (graph, gflops) = &*GRAPH;
    if let Ok(rows) = predictor.predict(&[graph], &[*gflops]) {
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].len(), predictor.meta.tasks.len());
    }
});
