//! Transfer to a new task (paper, "Fine-Tuning" and the evaluation protocol): `k` labelled
//! targets (20 in the paper) are drawn once with a fixed seed, the same for every run, and
//! left out of the test set. Zero-shot: the predictor's output is mapped to the target metric
//! with μ and σ (and the FLOPs transform) estimated from those `k`. Fine-tuned: the backbone
//! is trained on them (batch 1; adapters frozen), once per seed.

use std::path::Path;

use aiop_predictor::LabelScaling;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tch::Device;

use crate::TrainError;
use crate::data::Sample;
use crate::eval::{Evaluation, evaluate};
use crate::predictor::Predictor;
use crate::train::{Hooks, TrainConfig};

/// Seed of the draw of the `k` labelled targets, fixed across runs as the protocol asks.
pub const TARGET_DRAW_SEED: u64 = 20;

/// The `k` labelled targets and the test set: indices into the target samples.
pub fn draw_targets(count: usize, k: usize) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..count).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(TARGET_DRAW_SEED));
    let k = k.min(count);
    let test = order.split_off(k);
    (order, test)
}

/// Scores of one transfer run.
#[derive(Clone, Debug, Serialize)]
pub struct TransferRun {
    pub seed: u64,
    pub zero_shot: Evaluation,
    pub finetuned: Option<Evaluation>,
}

/// How a transfer is run.
#[derive(Clone, Debug)]
pub struct TransferOptions {
    /// Labelled targets (20 in the paper).
    pub k: usize,
    /// Eq. 5 before standardising the target labels.
    pub flops_transform: bool,
    /// Fine-tuning settings (the seed is replaced by each run's); `None`: zero-shot only.
    pub finetune: Option<TrainConfig>,
    /// One run per seed.
    pub seeds: Vec<u64>,
}

/// Zero-shot and (when asked) fine-tuned scores of the predictor saved in `dir` on `samples`
/// of `task`, one run per seed.
pub fn transfer(
    dir: &Path,
    task: &str,
    samples: &[Sample],
    options: &TransferOptions,
    device: Device,
) -> Result<Vec<TransferRun>, TrainError> {
    let k = options.k;
    let (known_idx, test_idx) = draw_targets(samples.len(), k);
    if test_idx.is_empty() || known_idx.is_empty() {
        return Err(TrainError::Invalid(format!(
            "{} `{task}` records: too few for {k} labelled targets and a test set",
            samples.len()
        )));
    }
    let known: Vec<&Sample> = known_idx.iter().map(|&i| &samples[i]).collect();
    let test: Vec<&Sample> = test_idx.iter().map(|&i| &samples[i]).collect();
    let pairs: Vec<(f64, f64)> = known.iter().map(|s| (s.label, s.gflops)).collect();
    let scaling = LabelScaling::fit(&pairs, options.flops_transform);

    let mut predictor = Predictor::load(dir, device)?;
    predictor.calibrate(scaling);
    let zero_shot = evaluate(&predictor.predict(&test), &test);
    let mut runs = Vec::new();
    for &seed in &options.seeds {
        let finetuned = match &options.finetune {
            Some(config) => {
                let mut p = Predictor::load(dir, device)?;
                let config = TrainConfig {
                    seed,
                    ..config.clone()
                };
                tch::manual_seed(seed as i64);
                p.finetune(task, &known, scaling, &config, Hooks::default())?;
                Some(evaluate(&p.predict(&test), &test))
            }
            None => None,
        };
        runs.push(TransferRun {
            seed,
            zero_shot: zero_shot.clone(),
            finetuned,
        });
    }
    Ok(runs)
}
