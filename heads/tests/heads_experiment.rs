//! The shared-head experiment end to end at toy size. Alone in its test binary: libtorch's
//! random generator is global to the process, so tests running beside it would change the
//! draws that make two runs identical.

use aiop_heads::experiment::{self, ExperimentConfig};
use tch::Device;

#[test]
fn the_experiment_runs_end_to_end_at_toy_size() {
    let config = ExperimentConfig {
        family: "resnet".into(),
        task: "segmentation".into(),
        test_images: 16,
        batch: 8,
        pretrain_steps: 3,
        bodies: 3,
        spread: experiment::TestSpread::Length,
        body_rate: 1.0,
        bins: 3,
        per_bin: 1,
        ground_truth_steps: 2,
        shared_steps: 2,
        finetune_steps: 1,
        ..ExperimentConfig::default()
    };
    let (report, labelled) = experiment::run(&config, Device::Cpu, &|_, _, _| {}).expect("runs");
    let (again, _) = experiment::run(&config, Device::Cpu, &|_, _, _| {}).expect("runs");
    let labels = |r: &experiment::ExperimentReport| -> Vec<[f64; 3]> {
        r.bodies
            .iter()
            .map(|b| [b.ground_truth, b.body_swap, b.latent_sampling])
            .collect()
    };
    assert_eq!(
        labels(&report),
        labels(&again),
        "the experiment is reproducible"
    );
    assert_eq!(report.bodies.len(), 3);
    assert_eq!(labelled.len(), 3);
    for b in &report.bodies {
        for v in [b.ground_truth, b.body_swap, b.latent_sampling] {
            assert!((0.0..=100.0).contains(&v), "{b:?}");
        }
    }
    for b in &report.bodies {
        assert_eq!(b.ground_truth_runs.len(), 2, "{b:?}");
        let mean = b.ground_truth_runs.iter().sum::<f64>() / 2.0;
        assert!((b.ground_truth - mean).abs() < 1e-9, "{b:?}");
    }
    let methods: Vec<&str> = report.summary.iter().map(|m| m.method.as_str()).collect();
    assert_eq!(
        methods,
        [
            "ground truth",
            "test-retest (run 1 vs 2)",
            "body swap",
            "latent sampling",
            "MACs"
        ]
    );
    assert!(labelled.iter().all(|(cg, _)| cg.macs() > 0));

    // test bodies spread over MACs, the body at a tenth of the head's rate
    let spread = ExperimentConfig {
        spread: experiment::TestSpread::Macs,
        body_rate: 0.1,
        ground_truth_runs: 1,
        ..config.clone()
    };
    let (report, _) = experiment::run(&spread, Device::Cpu, &|_, _, _| {}).expect("runs");
    let macs: Vec<u64> = report.bodies.iter().map(|b| b.macs).collect();
    assert!(macs.windows(2).all(|w| w[0] < w[1]), "{macs:?}");
    // the segmentation head's constant MACs compress the span (the bodies alone span more)
    assert!(macs[2] as f64 >= 2.0 * macs[0] as f64, "{macs:?}");
    assert_eq!(report.summary.len(), 4, "no test-retest row with one run");
    let bad = ExperimentConfig {
        family: "vgg".into(),
        ..config
    };
    assert!(experiment::run(&bad, Device::Cpu, &|_, _, _| {}).is_err());
    let negative = ExperimentConfig {
        family: "resnet".into(),
        body_rate: -0.1,
        ..bad
    };
    let error = experiment::run(&negative, Device::Cpu, &|_, _, _| {}).unwrap_err();
    assert!(error.to_string().contains("body_rate -0.1"), "{error}");
}
