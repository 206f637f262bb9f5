//! Prediction speed of the bundled predictor on a real CG of about 1,000 nodes (the timm
//! network closest to 1,000 nodes in `models/datasets/timm.aiopds`): one CG per run, all four
//! task columns and one task's (ImageNet top-1); a batch of 64 CGs; and a batch of 1,000 zoo
//! CGs (every timm network, then torchvision's and OpenMMLab's), one task. The native backend
//! and tract always, ONNX Runtime when `ORT_DYLIB_PATH` is set.
//! Conversion is not included (see the `convert` bench), except in `predict/convert+predict`:
//! ResNet-50 with its weights (`$AIOP_BENCH_DIR/resnet50_weights.onnx`, default
//! `$HOME/.cache/aiop/zoo/bench`, as in the `convert` bench; skipped when missing) converted
//! and predicted in process, to compare with the browser (`wasm/tests/browser.mjs`).
//!
//! ```text
//! cargo bench --bench predict
//! ```

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use aiop_datasets::Reader;
use aiop_predictor::{Backend, EncodedGraph, RuntimePredictor, encode};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// The CGs of a shipped dataset, encoded.
fn dataset_graphs(name: &str) -> Vec<EncodedGraph> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("models/datasets/{name}.aiopds"));
    let file = std::fs::File::open(path).expect("shipped dataset");
    Reader::new(std::io::BufReader::new(file))
        .expect("dataset")
        .map(|r| encode(&r.expect("record").cg().expect("cg")))
        .collect()
}

fn bench(c: &mut Criterion) {
    let predictor = aiop_predictor::DEFAULT_PREDICTOR;
    let mut graphs = dataset_graphs("timm");
    let zoo: Vec<EncodedGraph> = ["timm", "torchvision", "mmseg", "mmdet", "mmpose"]
        .iter()
        .flat_map(|d| dataset_graphs(d))
        .take(1000)
        .collect();
    let zoo: Vec<&EncodedGraph> = zoo.iter().collect();
    graphs.sort_by_key(|g| g.node_count().abs_diff(1000));
    let one = &graphs[0];
    let batch: Vec<&EncodedGraph> = graphs.iter().take(64).collect();
    eprintln!(
        "single CG: {} nodes; batch: 64 CGs of {}–{} nodes; zoo batch: {} CGs",
        one.node_count(),
        batch.iter().map(|g| g.node_count()).min().unwrap_or(0),
        batch.iter().map(|g| g.node_count()).max().unwrap_or(0),
        zoo.len()
    );
    let mut backends = vec![Backend::Native, Backend::Tract];
    if std::env::var_os("ORT_DYLIB_PATH").is_some() {
        backends.push(Backend::Ort);
    }
    let mut group = c.benchmark_group("predict");
    group.measurement_time(Duration::from_secs(5));
    let imagenet = [0];
    for backend in backends {
        let runtime = RuntimePredictor::from_bytes(predictor, backend).expect("predictor loads");
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("{backend:?}/one_cg"), |b| {
            b.iter(|| black_box(runtime.scores(&[one]).expect("runs")))
        });
        group.bench_function(format!("{backend:?}/one_cg_one_task"), |b| {
            b.iter(|| black_box(runtime.scores_of(&[one], &imagenet).expect("runs")))
        });
        group.throughput(Throughput::Elements(batch.len() as u64));
        group.bench_function(format!("{backend:?}/batch_64"), |b| {
            b.iter(|| black_box(runtime.scores(&batch).expect("runs")))
        });
        group.throughput(Throughput::Elements(zoo.len() as u64));
        group.sample_size(10);
        group.bench_function(format!("{backend:?}/zoo_1000_one_task"), |b| {
            b.iter(|| black_box(runtime.scores_of(&zoo, &imagenet).expect("runs")))
        });
        group.sample_size(100);
    }
    let dir = std::env::var_os("AIOP_BENCH_DIR").map_or_else(
        || Path::new(&std::env::var_os("HOME").unwrap_or_default()).join(".cache/aiop/zoo/bench"),
        Into::into,
    );
    let resnet50 = dir.join("resnet50_weights.onnx");
    if resnet50.is_file() {
        for backend in [Backend::Native, Backend::Tract] {
            let runtime = RuntimePredictor::from_bytes(predictor, backend).expect("loads");
            group.throughput(Throughput::Elements(1));
            group.sample_size(20);
            group.bench_function(
                format!("{backend:?}/convert+predict_resnet50_weights"),
                |b| {
                    b.iter(|| {
                        let cg = aiop_converter::convert_file(&resnet50, &Default::default())
                            .expect("cg");
                        let gflops = cg.macs() as f64 / 1e9;
                        black_box(runtime.predict(&[&encode(&cg)], &[gflops]).expect("runs"))
                    })
                },
            );
        }
    } else {
        eprintln!("{} missing: convert+predict skipped", resnet50.display());
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
