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
    assert_eq!(report.summary.len(), 3);
    assert!(labelled.iter().all(|(cg, _)| cg.macs() > 0));
    let bad = ExperimentConfig {
        family: "vgg".into(),
        ..config
    };
    assert!(experiment::run(&bad, Device::Cpu, &|_, _, _| {}).is_err());
}
