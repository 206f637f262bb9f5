//! Conversion speed: ResNet-50 (weight-stripped and with weights) and a whole zoo directory.
//!
//! ```text
//! cargo bench --bench convert                     # all three
//! cargo bench --bench convert -- resnet50_weights # one of them (criterion filter)
//! ```
//!
//! Paths come from the environment:
//! - `AIOP_BENCH_DIR` (default `$HOME/.cache/aiop/zoo/bench`): `resnet50.onnx` (weight-stripped)
//!   and `resnet50_weights.onnx` (with weights, ~100 MB);
//! - `AIOP_ZOO_DIR` (default `$HOME/.cache/aiop/zoo/torchvision`): every `.onnx` file under it
//!   is converted, one after another, in one iteration.
//!
//! A benchmark whose file (or directory) is missing is skipped with a note, so `cargo bench`
//! passes on a machine without the zoo. `tools/bench/compare.sh` runs this and onnx-tool side by
//! side; the results are in `docs/benchmarks.md`.

use std::env;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aiop_converter::{ConvertOptions, convert_file};
use criterion::{Criterion, criterion_group, criterion_main};

fn home_cache(sub: &str) -> PathBuf {
    let home = env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache/aiop/zoo").join(sub)
}

fn dir_from_env(var: &str, default_sub: &str) -> PathBuf {
    match env::var_os(var) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => home_cache(default_sub),
    }
}

/// Every `.onnx` file under `dir` (recursively), sorted for a stable order.
fn onnx_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "onnx") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn bench_resnet50(c: &mut Criterion) {
    let dir = dir_from_env("AIOP_BENCH_DIR", "bench");
    let options = ConvertOptions::default();
    let mut group = c.benchmark_group("convert");
    for (id, file, samples, secs) in [
        ("resnet50", "resnet50.onnx", 100, 5),
        ("resnet50_weights", "resnet50_weights.onnx", 20, 10),
    ] {
        let path = dir.join(file);
        if !path.is_file() {
            eprintln!("note: skipping convert/{id}: {} not found", path.display());
            continue;
        }
        // Convert once outside the timing: fail loudly on a broken file, and show the totals.
        match convert_file(&path, &options) {
            Ok(cg) => eprintln!(
                "convert/{id}: {} ({} nodes, {} MACs, {} params)",
                path.display(),
                cg.node_count(),
                cg.macs(),
                cg.params()
            ),
            Err(e) => {
                eprintln!("note: skipping convert/{id}: {}: {e}", path.display());
                continue;
            }
        }
        group
            .sample_size(samples)
            .measurement_time(Duration::from_secs(secs));
        group.bench_function(id, |b| {
            b.iter(|| {
                let cg = convert_file(black_box(&path), &options).expect("conversion failed");
                black_box((cg.macs(), cg.params(), cg.node_count()))
            })
        });
    }
    group.finish();
}

fn bench_zoo_dir(c: &mut Criterion) {
    let dir = dir_from_env("AIOP_ZOO_DIR", "torchvision");
    let files = onnx_files(&dir);
    if files.is_empty() {
        eprintln!(
            "note: skipping convert_dir: no .onnx files under {}",
            dir.display()
        );
        return;
    }
    let options = ConvertOptions::default();
    let id = dir
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or("zoo")
        .to_string();
    // The zoo may be re-exported while this runs: a failing (or vanished) file is counted, not
    // fatal, so every iteration does the same work.
    let failed = files
        .iter()
        .filter(|f| convert_file(f, &options).is_err())
        .count();
    eprintln!(
        "convert_dir/{id}: {} ({} .onnx files, {failed} failing), sequential, one iteration = all",
        dir.display(),
        files.len()
    );
    let mut group = c.benchmark_group("convert_dir");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(15));
    group.bench_function(&id, |b| {
        b.iter(|| {
            let mut macs = 0u64;
            for f in &files {
                if let Ok(cg) = convert_file(black_box(f), &options) {
                    macs = macs.wrapping_add(cg.macs());
                }
            }
            black_box(macs)
        })
    });
    group.finish();
}

criterion_group!(benches, bench_resnet50, bench_zoo_dir);
criterion_main!(benches);
