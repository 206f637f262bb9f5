//! `aiop train` end to end on real NAS-Bench-201 cells and labels.

mod common;

use common::{aiop, text};

#[test]
#[ignore = "slow tier (~16 s idle, minutes under load): CI runs it with --include-ignored"]
fn trains_scores_and_saves_a_predictor() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("nb201.aiopds");
    let data = common::data_dir();
    let o = aiop(&[
        "dataset",
        "build",
        "nb201",
        "-o",
        ds.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--limit",
        "400",
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    let out_dir = dir.path().join("predictor");
    let o = aiop(&[
        "train",
        ds.to_str().unwrap(),
        "--task",
        "cifar10-top1",
        "--train-count",
        "250",
        "--epochs",
        "15",
        "--json",
        "-o",
        out_dir.to_str().unwrap(),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["train"], 250);
    assert_eq!(report["test"], 150);
    let srcc = report["scores"]["srcc"].as_f64().unwrap();
    // 250 cells and 15 epochs: far from the full protocol, far from chance too
    assert!(srcc > 0.4, "{report}");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("predictor.json")).unwrap())
            .unwrap();
    assert_eq!(meta["pretrained"]["task"], "cifar10-top1");
    assert!(out_dir.join("weights.safetensors").is_file());
    for file in ["history.csv", "training.svg", "test-scatter.svg"] {
        assert!(out_dir.join(file).is_file(), "{file}");
    }
    assert_eq!(report["history"].as_array().unwrap().len(), 15);
    assert!(
        !out_dir.join("checkpoint").exists(),
        "checkpoint removed when done"
    );

    // A K-Adapter on CIFAR-100, then 20-sample fine-tuning on ImageNet16-120.
    let stage = |command: &str, task: &str, extra: &[&str]| {
        let mut args = vec![
            command,
            "--predictor",
            out_dir.to_str().unwrap(),
            ds.to_str().unwrap(),
            "--task",
            task,
            "--epochs",
            "5",
            "--json",
        ];
        args.extend_from_slice(extra);
        let o = aiop(&args);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{command}: {out}{err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let adapted = stage("adapt", "cifar100-top1", &["--train-count", "250"]);
    assert!(adapted["scores"]["srcc"].as_f64().unwrap().is_finite());
    let tuned = stage("finetune", "imagenet16-120-top1", &[]);
    assert_eq!(tuned["train"], 20, "finetune defaults to 20 targets");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("predictor.json")).unwrap())
            .unwrap();
    assert_eq!(meta["adapters"][0]["task"], "cifar100-top1");
    assert_eq!(meta["finetuned"]["task"], "imagenet16-120-top1");
    assert_eq!(meta["finetuned"]["train"]["batch_size"], 1);

    // The transfer protocol: 20 fixed targets out of the test set, zero-shot + 2 seeds.
    let o = aiop(&[
        "eval",
        "--predictor",
        out_dir.to_str().unwrap(),
        ds.to_str().unwrap(),
        "--task",
        "imagenet16-120-top1",
        "--finetune-epochs",
        "2",
        "--seeds",
        "2",
        "--json",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    let runs: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 2);
    assert_eq!(runs[0]["zero_shot"]["count"], 380);
    assert_eq!(
        runs[0]["zero_shot"], runs[1]["zero_shot"],
        "zero-shot is seed-free"
    );
    assert!(runs[1]["finetuned"]["mae"].as_f64().unwrap().is_finite());

    let o = aiop(&["train", ds.to_str().unwrap(), "--task", "no-such-task"]);
    let (_, err) = text(&o);
    assert!(
        !o.status.success() && err.contains("no record has a `no-such-task` label"),
        "{err}"
    );

    // A whole protocol: 2 methods × 2 seeds, zero-shot, fine-tuned and AdaProxy, with the
    // zero-cost proxies; trained predictors are cached and reused by a second run.
    let protocol = dir.path().join("tiny.toml");
    std::fs::write(
        &protocol,
        format!(
            r#"
seeds = [0, 1]
methods = ["gnn-eq4", "aiop"]
[pretrain]
dataset = "nb201.aiopds"
task = "cifar10-top1"
train_count = 250
epochs = 4
[[adapters]]
dataset = "nb201.aiopds"
task = "cifar100-top1"
train_count = 250
epochs = 3
[[targets]]
dataset = "nb201.aiopds"
task = "imagenet16-120-top1"
proxies = {{ naslib = "{}", dataset = "ImageNet16-120" }}
[finetune]
epochs = 2
[adaproxy]
epochs = 20
"#,
            data.join("naslib/zc_nasbench201.json").display()
        ),
    )
    .unwrap();
    let run = || {
        let o = aiop(&["eval", "--protocol", protocol.to_str().unwrap(), "--json"]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{out}{err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let report = run();
    assert_eq!(report["scores"].as_array().unwrap().len(), 2 * 2 * 3);
    let target = &report["targets"][0];
    assert_eq!(target["test"], 380);
    // NASLib covers some of the first 400 cells; every proxy is scored on those
    let synflow = &target["proxies"]["synflow"];
    assert!(synflow[1].as_u64().unwrap() > 0, "{target}");
    assert!(
        dir.path()
            .join("tiny.cache/Eq45-seed1-adapters/weights.safetensors")
            .is_file()
    );
    let again = run();
    assert_eq!(
        again["scores"], report["scores"],
        "cached predictors give the same scores"
    );

    // Leave-zoo-out: zero-shot through the head, and through an adapter on another task.
    let zoo_protocol = dir.path().join("zoo.toml");
    std::fs::write(
        &zoo_protocol,
        r#"
kind = "leave-zoo-out"
seeds = [0, 1]
[pretrain]
dataset = "nb201.aiopds"
task = "cifar10-top1"
epochs = 3
[[transfers]]
target = { dataset = "nb201.aiopds", task = "imagenet16-120-top1" }
[[transfers]]
source = { dataset = "nb201.aiopds", task = "cifar100-top1" }
target = { dataset = "nb201.aiopds", task = "imagenet16-120-top1" }
epochs = 2
"#,
    )
    .unwrap();
    let run = |json: bool| {
        let mut args = vec!["eval", "--protocol", zoo_protocol.to_str().unwrap()];
        args.extend(json.then_some("--json"));
        let o = aiop(&args);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{out}{err}");
        out
    };
    let report: serde_json::Value = serde_json::from_str(&run(true)).unwrap();
    let transfers = report["transfers"].as_array().unwrap();
    assert_eq!(transfers.len(), 2);
    assert_eq!(
        transfers[1]["transfer"],
        "cifar100-top1 → imagenet16-120-top1 (nb201)"
    );
    for t in transfers {
        assert_eq!(t["count"], 400);
        assert_eq!(t["runs"].as_array().unwrap().len(), 2);
        assert_eq!(t["runs"][0]["predictions"].as_array().unwrap().len(), 400);
        assert!(t["runs"][0]["stats_srcc"].as_f64().unwrap().is_finite());
    }
    assert!(
        dir.path()
            .join("zoo.cache/pretrain-seed1/weights.safetensors")
            .is_file()
    );
    let again: serde_json::Value = serde_json::from_str(&run(true)).unwrap();
    assert_eq!(
        again["transfers"], report["transfers"],
        "cached runs reused"
    );
    let out = run(false);
    assert!(
        out.contains("| cifar100-top1 → imagenet16-120-top1 (nb201) | 400 | 400 | 400 |"),
        "{out}"
    );
}

#[test]
fn heads_experiment_takes_family_and_task_from_its_config_unless_flags_say_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("experiment.toml");
    // tiny budgets: were the config's family and task overridden, the run would end at once
    // in a success that fails this test, not in a half-hour default experiment
    std::fs::write(
        &config,
        "family = \"vgg\"\ntask = \"depth\"\ntest_images = 4\nbatch = 2\npretrain_steps = 1\n\
         bodies = 1\nground_truth_steps = 1\nshared_steps = 1\nfinetune_steps = 1\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let out = dir.path().join("out");
        let mut args = vec![
            "heads",
            "experiment",
            "--config",
            config.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = aiop(&args);
        assert!(!o.status.success(), "{:?}", text(&o));
        text(&o).1
    };
    assert!(run(&[]).contains("unknown family `vgg`"));
    assert!(run(&["--family", "mbv3"]).contains("unknown task `depth`"));
}

#[test]
#[ignore = "slow tier: a --quick heads experiment (every phase, a few steps), about 30 s"]
fn heads_quick_experiment_writes_the_report_with_test_retest_and_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = aiop(&[
        "heads",
        "experiment",
        "--quick",
        "--family",
        "resnet",
        "--task",
        "segmentation",
        "-o",
        out.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    for row in [
        "| test-retest (run 1 vs 2) |",
        "| latent sampling |",
        "| MACs |",
        "| run noise | body spread | one-run ICC | runs for 0.8 | ground-truth reliability |",
    ] {
        assert!(report.contains(row), "{row} missing:\n{report}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    // the headline's test-retest row is the first measure's, computed once
    let headline = &json["measures"][0];
    let retest_row = json["summary"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["method"].as_str().unwrap().starts_with("test-retest"))
        .unwrap();
    assert_eq!(retest_row["srcc"], headline["test_retest"]);
    assert!(headline.get("run_noise").is_some() && headline.get("one_run_reliability").is_some());
    // the two-run mean is at least as reliable as one run
    if let (Some(one), Some(both)) = (
        headline["one_run_reliability"].as_f64(),
        headline["ground_truth_reliability"].as_f64(),
    ) {
        assert!(both >= one - 1e-12, "{both} < {one}");
    }
    let bodies = json["bodies"].as_array().unwrap();
    assert!(!bodies.is_empty());
    assert!(
        bodies
            .iter()
            .all(|b| b["ground_truth_runs"].as_array().unwrap().len() == 2)
    );
    assert!(out.join("segmentation.aiopds").is_file());
}
