//! The CLI end to end on committed files: convert (file and directory), inspect, render.

mod common;

use aiop_converter::cg::format;
use common::{aiop, fixtures, text};

fn sample() -> String {
    fixtures()
        .join("../../models/samples/resnet18.onnx")
        .display()
        .to_string()
}

#[test]
fn inspect_json_has_the_documented_keys() {
    let o = aiop(&["inspect", &sample(), "--json"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for key in [
        "nodes",
        "edges",
        "macs",
        "params",
        "unknown_shapes",
        "ops",
        "stages",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(
        v["macs"], 1_814_073_344u64,
        "torchvision: resnet18 1.814 GFLOPS"
    );
    assert_eq!(
        v["params"], 11_689_512u64,
        "torchvision: resnet18 num_params"
    );
    assert_eq!(v["ops"]["conv"], 20);
    assert_eq!(v["ops"]["batch_norm"], 20);
    let text_out = aiop(&["inspect", &sample()]);
    assert!(String::from_utf8_lossy(&text_out.stdout).contains("MACs 1.81G"));
}

#[test]
fn convert_writes_json_and_binary_that_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r18.json");
    let bin = dir.path().join("r18.cg");
    for out in [&json, &bin] {
        let o = aiop(&["convert", &sample(), "-o", out.to_str().unwrap()]);
        assert!(o.status.success(), "{:?}", text(&o));
    }
    let from_json = format::from_json(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let bin_bytes = std::fs::read(&bin).unwrap();
    let from_bin = format::from_binary(&bin_bytes).unwrap();
    assert_eq!(
        format::to_binary(&from_json),
        bin_bytes,
        "JSON and binary hold the same CG"
    );
    assert_eq!(
        format::to_json(&from_bin),
        std::fs::read_to_string(&json).unwrap()
    );
    assert!(
        bin_bytes.len() * 5 < std::fs::metadata(&json).unwrap().len() as usize,
        "binary is compact"
    );
    // A CG file can be inspected like a model.
    let o = aiop(&["inspect", bin.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["params"], 11_689_512u64);
}

#[test]
fn models_that_share_a_name_keep_their_own_cg_files() {
    // issue 19: `net.onnx` and `net.pb` both wrote `net.cg`, one silently replacing the other
    let (keras, _) = common::unpack_zoo("keras");
    let input = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    for ext in ["onnx", "pb"] {
        std::fs::copy(
            keras.path().join(format!("mobilenet.{ext}")),
            input.path().join(format!("net.{ext}")),
        )
        .unwrap();
    }
    std::fs::copy(sample(), input.path().join("alone.onnx")).unwrap();
    let o = aiop(&[
        "convert",
        input.path().to_str().unwrap(),
        "-o",
        out.path().to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}{stderr}");
    for file in ["net.onnx.cg", "net.pb.cg", "alone.cg"] {
        assert!(out.path().join(file).is_file(), "{file}: {stdout}");
    }
    assert!(!out.path().join("net.cg").exists());
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    let mut outputs: Vec<&str> = report
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["output"].as_str().unwrap())
        .collect();
    outputs.sort_unstable();
    outputs.dedup();
    assert_eq!(outputs.len(), 3, "one output file per model");
}

#[test]
fn convert_directory_reports_failures_and_leaves_no_partial_files() {
    let input = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    std::fs::copy(sample(), input.path().join("good.onnx")).unwrap();
    std::fs::create_dir(input.path().join("nested")).unwrap();
    std::fs::copy(sample(), input.path().join("nested/also_good.onnx")).unwrap();
    std::fs::write(input.path().join("broken.onnx"), b"\x08\x07\x12\xff\xff").unwrap();
    let o = aiop(&[
        "convert",
        input.path().to_str().unwrap(),
        "-o",
        out.path().to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stdout.contains("converted 2 of 3 models"), "{stdout}");
    assert!(out.path().join("good.cg").is_file());
    assert!(out.path().join("nested/also_good.cg").is_file());
    assert!(
        !out.path().join("broken.cg").exists(),
        "no output for a failed model"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    let failed: Vec<_> = report
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert!(failed[0]["file"].as_str().unwrap().contains("broken.onnx"));
    let leftovers: Vec<_> = walk(out.path())
        .into_iter()
        .filter(|p| !p.ends_with(".cg") && !p.ends_with("report.json"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

/// Issue 19: a file that takes a worker down (here: a tensor of 600 M packed zeros, decoded
/// under a 256 MiB memory limit, which aborts the worker) costs that file alone — the worker is replaced,
/// the models after it convert, `report.json` is written and no temporary file is left.
#[cfg(target_os = "linux")]
#[test]
fn a_worker_dying_on_one_file_costs_only_that_file() {
    let input = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    // sorted first, so that the one worker (-j 1) meets it before the good models
    let huge = input.path().join("a_huge.onnx");
    write_packed_zeros_model(&huge);
    std::fs::copy(sample(), input.path().join("b_good.onnx")).unwrap();
    std::fs::copy(sample(), input.path().join("c_good.onnx")).unwrap();
    // a name with a newline and a tab travels to a worker intact
    std::fs::copy(sample(), input.path().join("d_new\nline\t.onnx")).unwrap();
    let dir = input.path().to_str().unwrap();
    let o = aiop_with_small_workers(&[
        "convert",
        dir,
        "-j",
        "1",
        "-o",
        out.path().to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stdout.contains("converted 3 of 4 models"),
        "{stdout}{stderr}"
    );
    assert!(out.path().join("d_new\nline\t.cg").is_file());
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    let entries = report.as_array().unwrap();
    assert_eq!(entries[0]["status"], "failed");
    let error = entries[0]["error"].as_str().unwrap();
    assert!(error.contains("stopped on this file"), "{error}");
    assert!(entries[1..].iter().all(|e| e["status"] == "ok"), "{report}");
    let leftovers: Vec<_> = walk(out.path())
        .into_iter()
        .filter(|p| !p.ends_with(".cg") && !p.ends_with("report.json"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

/// `aiop ARGS` with worker processes limited to 256 MiB.
fn aiop_with_small_workers(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_aiop"))
        .args(args)
        .env("AIOP_WORKER_MEMORY", (256u64 << 20).to_string())
        .output()
        .unwrap()
}

/// A model whose one tensor packs 600 M zero varints (`int64_data`), 4.8 GB once decoded;
/// sparse on disk (the zeros are a hole).
fn write_packed_zeros_model(path: &std::path::Path) {
    let varint = |mut v: u64| {
        let mut out = Vec::new();
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
        out
    };
    let zeros: u64 = 600 << 20;
    let field = |tag: u8, len: u64| [vec![tag], varint(len)].concat();
    let tensor = field(0x3a, zeros); // TensorProto.int64_data (7), packed
    let tensor_len = tensor.len() as u64 + zeros;
    let graph = field(0x2a, tensor_len); // GraphProto.initializer (5)
    let graph_len = graph.len() as u64 + tensor_len;
    let model = field(0x3a, graph_len); // ModelProto.graph (7)
    let header = [model, graph, tensor].concat();
    std::fs::write(path, &header).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(header.len() as u64 + zeros)
        .unwrap();
}

/// Issue 19: `predict a b c` converts its files in worker processes too: the file that kills
/// its worker is the one error, the others are predicted.
#[cfg(target_os = "linux")]
#[test]
fn predicting_several_files_survives_one_that_kills_its_worker() {
    let input = tempfile::tempdir().unwrap();
    let huge = input.path().join("a_huge.onnx");
    write_packed_zeros_model(&huge);
    let good = input.path().join("b_good.onnx");
    std::fs::copy(sample(), &good).unwrap();
    let (huge, good) = (huge.to_str().unwrap(), good.to_str().unwrap());
    let o = aiop_with_small_workers(&["predict", "--json", huge, good]);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("a_huge.onnx") && stderr.contains("stopped on this file"),
        "{stderr}"
    );
    let rows: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|r| r["file"].as_str().unwrap().ends_with("b_good.onnx"))
    );
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut all = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            all.extend(walk(&p));
        } else {
            all.push(p.display().to_string());
        }
    }
    all
}

#[test]
fn render_draws_svg_and_dot() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("g.svg");
    let dot = dir.path().join("g.dot");
    for out in [&svg, &dot] {
        let o = aiop(&["render", &sample(), "-o", out.to_str().unwrap()]);
        assert!(o.status.success(), "{:?}", text(&o));
    }
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    assert!(svg_text.starts_with("<svg") && svg_text.trim_end().ends_with("</svg>"));
    assert!(
        svg_text.contains("conv → batch_norm → relu"),
        "chains are collapsed into one box"
    );
    let dot_text = std::fs::read_to_string(&dot).unwrap();
    assert!(dot_text.starts_with("digraph") && dot_text.contains("->"));
    let o = aiop(&[
        "render",
        &sample(),
        "-o",
        dir.path().join("g.png").to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "unsupported picture format is a usage error"
    );
}

#[test]
fn input_shape_overrides_bind_the_resolution() {
    let o = aiop(&[
        "inspect",
        &sample(),
        "--json",
        "--input-shape",
        "input=1,3,112,112",
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["inputs"][0]["shape"], serde_json::json!([1, 3, 112, 112]));
    let o = aiop(&["inspect", &sample(), "--input-shape", "nope=1,3,8,8"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("no input `nope`"));
}
