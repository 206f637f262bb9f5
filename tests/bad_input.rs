//! Bad input: every broken or hostile file gets a one-line error naming the file, exit code 2,
//! no panic, and nothing is read outside the model's folder.

mod common;

use std::path::Path;

use aiop_converter::onnx::writer::{ModelBuilder, attr_int, attr_ints, external_tensor};
use aiop_converter::value::DType;
use common::{aiop, text};

fn small_conv() -> ModelBuilder {
    let mut m = ModelBuilder::new(17);
    m.input("x", DType::F32, &[1, 3, 8, 8])
        .weight("w", &[4, 3, 3, 3])
        .node(
            "Conv",
            &["x", "w"],
            &["y"],
            vec![attr_ints("pads", &[1, 1, 1, 1])],
        )
        .node("Relu", &["y"], &["z"], vec![])
        .output("z");
    m
}

/// Asserts that `aiop inspect file` fails cleanly with `needle` in a one-line message.
fn rejects(file: &Path, needle: &str) {
    let o = aiop(&["inspect", file.to_str().unwrap()]);
    let (out, err) = text(&o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "exit code for {}: {out}{err}",
        file.display()
    );
    assert!(!err.contains("panicked"), "panic: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected: {err}");
    assert!(
        lines[0].contains(file.file_name().unwrap().to_str().unwrap()),
        "names the file: {err}"
    );
    assert!(lines[0].contains(needle), "`{needle}` expected in: {err}");
}

#[test]
fn a_valid_hand_made_model_converts() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("ok.onnx");
    std::fs::write(&f, small_conv().to_bytes()).unwrap();
    let o = aiop(&["inspect", f.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["macs"], 4 * 8 * 8 * 3 * 9);
    assert_eq!(v["params"], 4 * 3 * 9);
    assert_eq!(v["unknown_shapes"], 0);
}

#[test]
fn truncated_random_and_text_files_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = small_conv().to_bytes();
    let truncated = dir.path().join("truncated.onnx");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    rejects(&truncated, "not a valid ONNX file");

    let random = dir.path().join("random.onnx");
    let mut state = 0x9E3779B97F4A7C15u64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(&random, noise).unwrap();
    rejects(&random, "");

    let textfile = dir.path().join("notes.onnx");
    std::fs::write(&textfile, "this is not a model\n").unwrap();
    rejects(&textfile, "a text file");

    let empty = dir.path().join("empty.onnx");
    std::fs::write(&empty, b"").unwrap();
    rejects(&empty, "no graph");
}

#[test]
fn absurd_dimensions_are_rejected_without_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = ModelBuilder::new(17);
    m.input("x", DType::F32, &[1, 3, 8, 8])
        .weight_input("w", &[1 << 40, 3, 3, 3])
        .node("Conv", &["x", "w"], &["y"], vec![])
        .output("y");
    let f = dir.path().join("huge.onnx");
    std::fs::write(&f, m.to_bytes()).unwrap();
    rejects(&f, "more than");
}

#[test]
fn cycles_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = ModelBuilder::new(17);
    m.input("x", DType::F32, &[1, 3, 8, 8])
        .node("Add", &["x", "b"], &["a"], vec![])
        .node("Relu", &["a"], &["b"], vec![])
        .output("b");
    let f = dir.path().join("cycle.onnx");
    std::fs::write(&f, m.to_bytes()).unwrap();
    rejects(&f, "cycle");
}

#[test]
fn external_data_cannot_leave_the_model_folder() {
    let root = tempfile::tempdir().unwrap();
    let model_dir = root.path().join("model");
    std::fs::create_dir(&model_dir).unwrap();
    // A secret next to the model folder that a hostile path would try to reach.
    std::fs::write(root.path().join("secret.bin"), vec![7u8; 432]).unwrap();
    for (name, location) in [
        ("dotdot.onnx", "../secret.bin".to_string()),
        ("passwd.onnx", "../../etc/passwd".to_string()),
        (
            "absolute.onnx",
            root.path().join("secret.bin").display().to_string(),
        ),
    ] {
        let mut m = small_conv();
        m.initializer(external_tensor("w2", &[4, 4, 3, 3], &location, 0, 576))
            .node("Conv", &["z", "w2"], &["z2"], vec![attr_int("group", 1)])
            .output("z2");
        let f = model_dir.join(name);
        std::fs::write(&f, m.to_bytes()).unwrap();
        rejects(&f, "outside the model's folder");
    }
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(root.path().join("secret.bin"), model_dir.join("link.bin"))
            .unwrap();
        let mut m = small_conv();
        m.initializer(external_tensor("w2", &[4, 4, 3, 3], "link.bin", 0, 576))
            .node("Conv", &["z", "w2"], &["z2"], vec![])
            .output("z2");
        let f = model_dir.join("symlink.onnx");
        std::fs::write(&f, m.to_bytes()).unwrap();
        rejects(&f, "outside the model's folder");
    }
}

/// Issue 19: named by a bare file name (`cd DIR && aiop inspect m.onnx`), the model's folder
/// is the current one, and a link out of it is refused as from anywhere else.
#[cfg(unix)]
#[test]
fn a_bare_file_name_keeps_external_data_inside_its_folder() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("secret.bin"), vec![7u8; 576]).unwrap();
    let model_dir = root.path().join("model");
    std::fs::create_dir(&model_dir).unwrap();
    std::os::unix::fs::symlink(root.path().join("secret.bin"), model_dir.join("link.bin")).unwrap();
    let mut m = small_conv();
    m.initializer(external_tensor("w2", &[4, 4, 3, 3], "link.bin", 0, 576))
        .node("Conv", &["z", "w2"], &["z2"], vec![])
        .output("z2");
    std::fs::write(model_dir.join("m.onnx"), m.to_bytes()).unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_aiop"))
        .args(["inspect", "m.onnx"])
        .current_dir(&model_dir)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("outside the model's folder"), "{stderr}");
}

/// Runs `aiop args`, failing the test if it has not ended after 20 s (a read that waits).
#[cfg(unix)]
fn within_20_s(args: &[&str]) -> std::process::Output {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_aiop"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("aiop {args:?} still running after 20 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// A FIFO at `path`, or `false` where `mkfifo` is missing.
#[cfg(unix)]
fn fifo(path: &std::path::Path) -> bool {
    std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

/// Issue 19: FIFOs and devices named as a predictor, a dataset, labels or a CG file, or lying
/// in a folder of models, are refused at once; the batch converts the rest.
#[cfg(unix)]
#[test]
fn fifos_and_devices_are_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let pipe = dir.path().join("pipe");
    if !fifo(&pipe) {
        eprintln!("mkfifo unavailable; skipped");
        return;
    }
    let model = dir.path().join("good.onnx");
    std::fs::write(&model, small_conv().to_bytes()).unwrap();
    let (m, p) = (model.to_str().unwrap(), pipe.to_str().unwrap());
    for args in [
        vec!["predict", "--predictor", p, m],
        vec!["predict", "--predictor", "/dev/zero", m],
        vec!["dataset", "stats", p],
        vec!["inspect", p],
    ] {
        let o = within_20_s(&args);
        let (stdout, stderr) = text(&o);
        assert!(!o.status.success(), "{args:?}: {stdout}{stderr}");
        assert!(stderr.contains("not a regular file"), "{args:?}: {stderr}");
    }
    let zoo = dir.path().join("zoo");
    std::fs::create_dir(&zoo).unwrap();
    std::fs::copy(&model, zoo.join("good.onnx")).unwrap();
    assert!(fifo(&zoo.join("stuck.onnx")));
    let out = dir.path().join("out");
    let o = within_20_s(&[
        "convert",
        zoo.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(out.join("good.cg").is_file());
}

/// Issue 19: external data that is a FIFO (or any non-regular file) is not waited on.
#[cfg(unix)]
#[test]
fn a_fifo_as_external_data_does_not_hang() {
    let dir = tempfile::tempdir().unwrap();
    if !fifo(&dir.path().join("weights.bin")) {
        eprintln!("mkfifo unavailable; skipped");
        return;
    }
    let mut m = small_conv();
    m.initializer(external_tensor("w2", &[4, 4, 3, 3], "weights.bin", 0, 576))
        .node("Conv", &["z", "w2"], &["z2"], vec![])
        .output("z2");
    let f = dir.path().join("fifo.onnx");
    std::fs::write(&f, m.to_bytes()).unwrap();
    let o = within_20_s(&["inspect", f.to_str().unwrap()]);
    let (stdout, stderr) = text(&o);
    // the tensor's shape is in the model: a warning, the graph still converts
    assert!(o.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("not a regular file"), "{stdout}");
}

#[test]
fn external_data_inside_the_folder_is_fine() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("weights.bin"), vec![0u8; 576]).unwrap();
    let mut m = small_conv();
    m.initializer(external_tensor("w2", &[4, 4, 3, 3], "weights.bin", 0, 576))
        .node("Conv", &["z", "w2"], &["z2"], vec![])
        .output("z2");
    let f = dir.path().join("external.onnx");
    std::fs::write(&f, m.to_bytes()).unwrap();
    let o = aiop(&["inspect", f.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["params"], 4 * 3 * 9 + 4 * 4 * 9);
}

#[test]
fn unsupported_ops_give_a_partial_graph_with_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = small_conv();
    m.node("MysteryOp", &["z"], &["q"], vec![])
        .node("Relu", &["q"], &["r"], vec![])
        .output("r");
    let f = dir.path().join("mystery.onnx");
    std::fs::write(&f, m.to_bytes()).unwrap();
    let o = aiop(&["inspect", f.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ops"]["other"], 1);
    assert_eq!(
        v["unknown_shapes"], 3,
        "MysteryOp, the Relu after it and the output"
    );
    assert!(v["warnings"][0].as_str().unwrap().contains("MysteryOp"));
}

/// Issue 19: one exit status for bad input of every kind (2), not just models and predictors.
#[test]
fn bad_cg_files_datasets_and_label_csvs_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cg = dir.path().join("broken.cg.json");
    std::fs::write(&cg, br#"{"format": "aiop-cg", "version": 2, "nodes": "#).unwrap();
    let dataset = dir.path().join("broken.aiopds");
    std::fs::write(&dataset, b"AIOPDS\0\x01 and then nothing").unwrap();
    let csv = dir.path().join("labels.csv");
    std::fs::write(&csv, "model,score\na,1\n").unwrap();
    let real = common::fixtures().join("../../models/datasets/mmdet.aiopds");
    for args in [
        vec!["inspect", cg.to_str().unwrap()],
        vec!["dataset", "stats", dataset.to_str().unwrap()],
        vec![
            "dataset",
            "join-labels",
            real.to_str().unwrap(),
            csv.to_str().unwrap(),
            "--key",
            "name",
            "--task",
            "score=x",
            "-o",
            dir.path().join("out.aiopds").to_str().unwrap(),
        ],
    ] {
        let o = aiop(&args);
        let (stdout, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stdout}{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    }
}

/// Issue 19: a predictor file is read for its weights and metadata only — operators it adds
/// (a `ConstantOfShape` of 28,000² took 3 GB and 48 s to load) never run — and NaN weights,
/// scores or labels are errors naming the file, not confident numbers.
#[test]
fn predictor_files_bring_weights_not_operators_and_nothing_non_finite() {
    use aiop_converter::onnx::proto::{ModelProto, NodeProto, TensorProto, ValueInfoProto};
    use prost::Message;

    let dir = tempfile::tempdir().unwrap();
    let bundled = common::fixtures().join("../../models/predictor/aiop-default.onnx");
    let model = ModelProto::decode(std::fs::read(&bundled).unwrap().as_slice()).unwrap();
    let sample = common::fixtures().join("../../models/samples/resnet18.onnx");
    let predict = |predictor: &Path| {
        within_20_s(&[
            "predict",
            "--json",
            "--task",
            "imagenet-top1",
            "--predictor",
            predictor.to_str().unwrap(),
            sample.to_str().unwrap(),
        ])
    };

    let mut costly = model.clone();
    let graph = costly.graph.as_mut().unwrap();
    graph.initializer.push(TensorProto {
        name: "huge_shape".into(),
        dims: vec![2],
        data_type: DType::I64.to_onnx(),
        int64_data: vec![28_000, 28_000],
        ..Default::default()
    });
    graph.node.push(NodeProto {
        op_type: "ConstantOfShape".into(),
        input: vec!["huge_shape".into()],
        output: vec!["huge".into()],
        ..Default::default()
    });
    graph.output.push(ValueInfoProto {
        name: "huge".into(),
        ..Default::default()
    });
    let costly_path = dir.path().join("costly.onnx");
    std::fs::write(&costly_path, costly.encode_to_vec()).unwrap();
    let (plain, crafted) = (predict(&bundled), predict(&costly_path));
    assert!(crafted.status.success(), "{:?}", text(&crafted));
    assert_eq!(text(&plain).0, text(&crafted).0);

    let mut broken = model.clone();
    let weight = broken
        .graph
        .as_mut()
        .unwrap()
        .initializer
        .iter_mut()
        .find(|t| t.data_type == DType::F32.to_onnx() && t.raw_data.len() >= 4)
        .unwrap();
    let mut raw = weight.raw_data.to_vec();
    raw[..4].copy_from_slice(&f32::NAN.to_le_bytes());
    weight.raw_data = raw.into();
    let nan_path = dir.path().join("nan.onnx");
    std::fs::write(&nan_path, broken.encode_to_vec()).unwrap();
    let o = predict(&nan_path);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("nan.onnx") && stderr.contains("NaN"),
        "{stderr}"
    );

    let labels = dir.path().join("labels.csv");
    std::fs::write(&labels, "name,value\nresnet18,NaN\n").unwrap();
    let o = aiop(&[
        "rank",
        sample.to_str().unwrap(),
        "--task",
        "imagenet-top1",
        "--labels",
        labels.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("labels.csv row 2"), "{stderr}");
}

/// Issue 19: what the ONNX spec forbids (Gemm inner dimensions that differ, Conv `group = 0`,
/// a Reshape that changes the element count) and inferred sizes beyond any real tensor (an
/// Expand to 2^62 elements) are warnings on their nodes, not silent shapes and MACs pinned at
/// the maximum; names carrying newlines or terminal escapes are printed escaped.
#[test]
fn invalid_and_oversized_nodes_are_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, ModelBuilder, &str)> = vec![
        (
            "gemm",
            {
                let mut m = ModelBuilder::new(17);
                m.input("x", DType::F32, &[1, 3])
                    .weight("w", &[7, 5])
                    .node("Gemm", &["x", "w"], &["y"], vec![])
                    .output("y");
                m
            },
            "inner dimensions 3 and 7 differ",
        ),
        (
            "group",
            {
                let mut m = ModelBuilder::new(17);
                m.input("x", DType::F32, &[1, 3, 8, 8])
                    .weight("w", &[4, 3, 3, 3])
                    .node("Conv", &["x", "w"], &["y"], vec![attr_int("group", 0)])
                    .output("y");
                m
            },
            "group 0",
        ),
        (
            "reshape",
            {
                let mut m = ModelBuilder::new(17);
                m.input("x", DType::F32, &[1, 3, 4, 4])
                    .ints("shape", &[5, 7])
                    .node("Reshape", &["x", "shape"], &["y"], vec![])
                    .output("y");
                m
            },
            "Reshape of 48 elements",
        ),
        (
            "expand",
            {
                let mut m = ModelBuilder::new(17);
                m.input("x", DType::F32, &[1, 1])
                    .ints("shape", &[1 << 31, 1 << 31])
                    .node("Expand", &["x", "shape"], &["y"], vec![])
                    .node("Relu", &["y"], &["z"], vec![])
                    .output("z");
                m
            },
            "more than 68719476736",
        ),
    ];
    for (name, model, needle) in cases {
        let f = dir.path().join(format!("{name}.onnx"));
        std::fs::write(&f, model.to_bytes()).unwrap();
        let o = within_20_s(&["inspect", f.to_str().unwrap(), "--json"]);
        assert!(o.status.success(), "{name}: {:?}", text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let warnings = v["warnings"].to_string();
        assert!(warnings.contains(needle), "{name}: {warnings}");
        assert!(
            v["macs"].as_u64().unwrap() < 1 << 40,
            "{name}: {}",
            v["macs"]
        );
    }

    // a file whose name carries a newline and a screen-clearing escape
    let f = dir.path().join("trunc\n\u{1b}[2J.onnx");
    std::fs::write(&f, &small_conv().to_bytes()[..40]).unwrap();
    let o = within_20_s(&["inspect", f.to_str().unwrap()]);
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stderr:?}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr:?}");
    assert!(stderr.contains(r"trunc\n\u{1b}[2J.onnx"), "{stderr:?}");
}

/// Issue 19: every size cap can be lowered (or, but for models, raised) from the environment.
#[test]
fn size_caps_are_overridable() {
    let dir = tempfile::tempdir().unwrap();
    let model = common::fixtures().join("../../models/samples/resnet18.onnx");
    let cg = dir.path().join("resnet18.cg");
    assert!(
        aiop(&[
            "convert",
            model.to_str().unwrap(),
            "-o",
            cg.to_str().unwrap()
        ])
        .status
        .success()
    );
    for (variable, args, needle) in [
        (
            "AIOP_MAX_MODEL_BYTES",
            vec!["inspect", model.to_str().unwrap()],
            "too large",
        ),
        (
            "AIOP_MAX_CG_BYTES",
            vec!["inspect", cg.to_str().unwrap()],
            "more than the 1000 allowed",
        ),
        (
            "AIOP_MAX_PREDICTOR_BYTES",
            vec![
                "predict",
                "--predictor",
                common::fixtures()
                    .join("../../models/predictor/aiop-default.onnx")
                    .to_str()
                    .unwrap(),
                model.to_str().unwrap(),
            ],
            "more than the 1000 allowed",
        ),
    ] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_aiop"))
            .args(&args)
            .env(variable, "1000")
            .output()
            .unwrap();
        let (stdout, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{variable}: {stdout}{stderr}");
        assert!(stderr.contains(needle), "{variable}: {stderr}");
        // without the variable the same command succeeds
        assert!(aiop(&args).status.success(), "{args:?}");
    }
}

/// Issue 19: N nodes feeding one N-input node would pad the predictor's inputs to N² rows
/// (4,000: 2.6 GB); such a graph is refused by name and the other models are still ranked.
#[test]
fn a_crafted_fan_in_fails_alone_in_a_ranking() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = ModelBuilder::new(17);
    m.input("x", DType::F32, &[1, 8]);
    let names: Vec<String> = (0..4_000).map(|i| format!("r{i}")).collect();
    for name in &names {
        m.node("Relu", &["x"], &[name], vec![]);
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    m.node("Sum", &refs, &["y"], vec![]).output("y");
    std::fs::write(dir.path().join("fan.onnx"), m.to_bytes()).unwrap();
    std::fs::copy(
        common::fixtures().join("../../models/samples/resnet18.onnx"),
        dir.path().join("resnet18.onnx"),
    )
    .unwrap();
    let o = within_20_s(&[
        "rank",
        dir.path().to_str().unwrap(),
        "--task",
        "imagenet-top1",
        "--json",
    ]);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("fan.onnx") && stderr.contains("too large"),
        "{stderr}"
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["ranking"].as_array().unwrap().len(), 1, "{report}");
}
