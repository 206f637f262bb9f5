//! Seeded training loops and batched prediction.

use std::path::PathBuf;
use std::time::Instant;

use aiop_datasets::rank::srcc;
use aiop_predictor::{EncodedGraph, LabelScaling};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Device, Reduction, Tensor, nn};

use crate::TrainError;
use crate::average::WeightAverage;
use crate::batch::GraphBatch;
use crate::checkpoint;
use crate::data::Sample;
use crate::optim::Adam;

/// How long and how fast to train.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Seeds the weights' initialisation and the order of samples.
    pub seed: u64,
    /// Learning rate over the epochs.
    #[serde(default)]
    pub schedule: Schedule,
    /// Weight of the pairwise ranking term beside the mean squared error (0: MSE alone): a
    /// logistic loss on the order of every pair of graphs in a minibatch (RankNet), since what
    /// users read from a predictor is mostly a ranking.
    #[serde(default)]
    pub rank_weight: f64,
    /// Which pairs the ranking term compares.
    #[serde(default)]
    pub rank_pairs: RankPairs,
    /// Fraction of the last epochs whose end-of-epoch weights are averaged into the final
    /// weights (0: the last weights; see [`crate::average`]).
    #[serde(default)]
    pub average_last: f64,
}

/// Which pairs of a minibatch the ranking term compares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RankPairs {
    /// Every pair.
    #[default]
    All,
    /// Only pairs of networks of one family (the samples' `family`): the term then teaches
    /// how width, depth and resolution order the networks inside a family, apart from the
    /// offsets between families (training recipes, eras) that the squared error fits.
    SameFamily,
}

/// How the learning rate changes over the epochs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Schedule {
    /// The same rate throughout.
    Constant,
    /// Half a cosine from the rate down to zero.
    #[default]
    Cosine,
}

impl Schedule {
    /// The learning rate of `epoch` (0-based) of `epochs`.
    pub fn rate(self, lr: f64, epoch: usize, epochs: usize) -> f64 {
        match self {
            Schedule::Constant => lr,
            Schedule::Cosine => {
                let t = epoch as f64 / epochs.max(1) as f64;
                lr * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }
}

impl TrainConfig {
    /// The 0-based epoch from which the weights are averaged (`epochs` when they are not).
    pub fn average_from(&self) -> usize {
        let window = (self.average_last.clamp(0.0, 1.0) * self.epochs as f64).round() as usize;
        self.epochs - window.min(self.epochs)
    }

    /// The training loss of one minibatch: MSE plus the weighted ranking term; `groups` holds
    /// each graph's family id (used by [`RankPairs::SameFamily`]).
    pub fn loss(&self, predicted: &Tensor, target: &Tensor, groups: &Tensor) -> Tensor {
        let mse = predicted.mse_loss(target, Reduction::Mean);
        if self.rank_weight > 0.0 {
            let same = (self.rank_pairs == RankPairs::SameFamily).then_some(groups);
            mse + pairwise_rank_loss(predicted, target, same) * self.rank_weight
        } else {
            mse
        }
    }
}

/// RankNet's loss over the ordered pairs of a minibatch: softplus(−sign(yᵢ − yⱼ)·(pᵢ − pⱼ)),
/// averaged over the pairs whose labels differ (0 when none do). With `groups`, only pairs
/// of one group count.
pub fn pairwise_rank_loss(predicted: &Tensor, target: &Tensor, groups: Option<&Tensor>) -> Tensor {
    let predicted = predicted.view([-1]);
    let target = target.view([-1]);
    let dp = predicted.unsqueeze(1) - predicted.unsqueeze(0);
    let mut sign = (target.unsqueeze(1) - target.unsqueeze(0)).sign();
    if let Some(groups) = groups {
        let groups = groups.view([-1]);
        let same = groups.unsqueeze(1).eq_tensor(&groups.unsqueeze(0));
        sign *= same.to_kind(tch::Kind::Float);
    }
    let pairs = sign.abs().sum(tch::Kind::Float);
    let losses = (-(&sign * dp)).softplus() * sign.abs();
    losses.sum(tch::Kind::Float) / pairs.clamp_min(1.0)
}

impl Default for TrainConfig {
    /// A K-Adapter's stage ([`crate::defaults::ADAPTER`]), seed 0.
    fn default() -> Self {
        crate::defaults::ADAPTER.config(0)
    }
}

/// What one epoch of training did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// 1-based.
    pub epoch: usize,
    /// Mean training loss (MSE on scaled labels).
    pub loss: f64,
    /// Learning rate of the epoch.
    pub lr: f64,
    /// Wall-clock time of the epoch's updates (without validation or checkpointing).
    pub seconds: f64,
    /// SRCC on the validation graphs, on the epochs where they were scored.
    pub validation_srcc: Option<f64>,
}

/// Maps the scaled predictions of the validation graphs to a score.
pub type Scorer<'a> = Box<dyn Fn(&[f64]) -> f64 + 'a>;

/// Runs after every epoch.
pub type EpochCallback<'a> = Box<dyn FnMut(&EpochReport) + 'a>;

/// Held-out graphs scored during training, for progress and curves only: they never choose
/// weights.
pub struct Validation<'a> {
    pub graphs: Vec<&'a EncodedGraph>,
    /// Score every this many epochs (and after the last).
    pub every: usize,
    /// Scaled predictions → SRCC.
    pub score: Scorer<'a>,
}

impl<'a> Validation<'a> {
    /// SRCC of the predictions mapped back to the metric (Eq. 5 reorders networks, so ranks
    /// are taken after the inverse scaling) against the labels of `samples`.
    pub fn srcc(samples: &'a [&'a Sample], scaling: LabelScaling, every: usize) -> Validation<'a> {
        Validation {
            graphs: samples.iter().map(|s| &s.graph).collect(),
            every: every.max(1),
            score: Box::new(move |raw| {
                let predicted: Vec<f64> = raw
                    .iter()
                    .zip(samples)
                    .map(|(z, s)| scaling.unscale(*z, s.gflops))
                    .collect();
                let labels: Vec<f64> = samples.iter().map(|s| s.label).collect();
                srcc(&predicted, &labels)
            }),
        }
    }
}

/// Where and how often training saves a checkpoint that a later run can resume from.
#[derive(Clone, Debug)]
pub struct Checkpoints {
    pub dir: PathBuf,
    /// Save every this many epochs.
    pub every: usize,
    /// Continue from the checkpoint in `dir` if there is one.
    pub resume: bool,
}

/// Optional companions of a training run.
#[derive(Default)]
pub struct Hooks<'a> {
    pub validation: Option<Validation<'a>>,
    pub checkpoints: Option<Checkpoints>,
    /// Runs after every epoch (also for the epochs a resumed run restores).
    pub on_epoch: Option<EpochCallback<'a>>,
}

impl<'a> Hooks<'a> {
    /// Hooks that only report epochs.
    pub fn reporting(on_epoch: impl FnMut(&EpochReport) + 'a) -> Hooks<'a> {
        Hooks {
            on_epoch: Some(Box::new(on_epoch)),
            ..Default::default()
        }
    }

    fn report(&mut self, report: &EpochReport) {
        if let Some(f) = &mut self.on_epoch {
            f(report);
        }
    }
}

/// Trains the variables of `vs` that require gradients to regress `targets` with `forward`
/// (mean squared error, Adam); `groups` gives each graph's family id, for the ranking term.
/// Returns the report of every epoch.
pub fn fit(
    forward: impl Fn(&GraphBatch) -> Tensor,
    vs: &nn::VarStore,
    graphs: &[&EncodedGraph],
    targets: &[f32],
    groups: &[i64],
    config: &TrainConfig,
    mut hooks: Hooks,
) -> Result<Vec<EpochReport>, TrainError> {
    if graphs.len() != targets.len() || graphs.len() != groups.len() || graphs.is_empty() {
        return Err(TrainError::Invalid(format!(
            "{} graphs for {} targets and {} groups",
            graphs.len(),
            targets.len(),
            groups.len()
        )));
    }
    let trained: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .filter(|(_, t)| t.requires_grad())
        .collect();
    let mut average = WeightAverage::new(
        trained
            .iter()
            .map(|(n, t)| (n.clone(), t.shallow_clone()))
            .collect(),
    );
    let mut optimizer = Adam::new(trained, config.lr);
    let mut history = Vec::new();
    if let Some(c) = hooks.checkpoints.as_ref().filter(|c| c.resume) {
        history = checkpoint::restore(
            &c.dir,
            vs,
            &mut optimizer,
            &mut average,
            config,
            graphs.len(),
        )?;
        for report in &history {
            hooks.report(report);
        }
    }
    let batch_size = config.batch_size.max(1);
    for epoch in history.len()..config.epochs {
        let start = Instant::now();
        optimizer.lr = config.schedule.rate(config.lr, epoch, config.epochs);
        // the order of an epoch depends only on the seed and the epoch: resumable
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        rng.set_stream(epoch as u64);
        let mut order: Vec<usize> = (0..graphs.len()).collect();
        order.shuffle(&mut rng);
        let mut total = 0.0;
        for chunk in order.chunks(batch_size) {
            let picked: Vec<&EncodedGraph> = chunk.iter().map(|&i| graphs[i]).collect();
            let batch = GraphBatch::new(&picked, vs.device());
            let target: Vec<f32> = chunk.iter().map(|&i| targets[i]).collect();
            let target = Tensor::from_slice(&target).to_device(vs.device());
            let group: Vec<i64> = chunk.iter().map(|&i| groups[i]).collect();
            let group = Tensor::from_slice(&group).to_device(vs.device());
            let loss = config.loss(&forward(&batch), &target, &group);
            optimizer.backward_step(&loss);
            total += loss.double_value(&[]) * chunk.len() as f64;
        }
        if epoch >= config.average_from() {
            average.add();
        }
        if epoch + 1 == config.epochs && average.count() > 0 {
            average.apply();
        }
        let seconds = start.elapsed().as_secs_f64();
        let done = epoch + 1;
        let validation_srcc = hooks
            .validation
            .as_ref()
            .filter(|v| done % v.every == 0 || done == config.epochs)
            .map(|v| (v.score)(&predict(&forward, &v.graphs, 256, vs.device())));
        let report = EpochReport {
            epoch: done,
            loss: total / graphs.len() as f64,
            lr: optimizer.lr,
            seconds,
            validation_srcc,
        };
        hooks.report(&report);
        history.push(report);
        if let Some(c) = &hooks.checkpoints
            && (done % c.every.max(1) == 0 && done < config.epochs)
        {
            checkpoint::save(
                &c.dir,
                vs,
                &optimizer,
                &average,
                config,
                graphs.len(),
                &history,
            )?;
        }
    }
    if let Some(c) = &hooks.checkpoints {
        checkpoint::remove(&c.dir)?;
    }
    Ok(history)
}

/// `forward` over `graphs` in batches, without gradients.
pub fn predict(
    forward: impl Fn(&GraphBatch) -> Tensor,
    graphs: &[&EncodedGraph],
    batch_size: usize,
    device: Device,
) -> Vec<f64> {
    let _guard = tch::no_grad_guard();
    let mut out = Vec::with_capacity(graphs.len());
    for chunk in graphs.chunks(batch_size.max(1)) {
        let batch = GraphBatch::new(chunk, device);
        let y = forward(&batch).to_device(Device::Cpu);
        out.extend(
            Vec::<f32>::try_from(&y)
                .unwrap_or_default()
                .into_iter()
                .map(f64::from),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(t: Tensor) -> f64 {
        t.double_value(&[])
    }

    #[test]
    fn the_ranking_term_can_keep_to_pairs_of_one_family() {
        // networks 0 and 1 (family 0) are ordered right, 2 and 3 (family 1) too; every pair
        // across the families is ordered wrong
        let target = Tensor::from_slice(&[1f32, 2., 3., 4.]);
        let predicted = Tensor::from_slice(&[10f32, 20., -20., -10.]);
        let groups = Tensor::from_slice(&[0i64, 0, 1, 1]);
        let within = value(pairwise_rank_loss(&predicted, &target, Some(&groups)));
        let all = value(pairwise_rank_loss(&predicted, &target, None));
        // softplus(−10) over the 4 ordered same-family pairs
        assert!((within - (-10f64).exp().ln_1p()).abs() < 1e-6, "{within}");
        assert!(all > 10.0, "{all}");
        // the configuration picks the pairs
        let config = TrainConfig {
            rank_weight: 1.0,
            rank_pairs: RankPairs::SameFamily,
            ..TrainConfig::default()
        };
        let mse = value(predicted.mse_loss(&target, Reduction::Mean));
        let loss = value(config.loss(&predicted, &target, &groups));
        assert!(
            (loss - mse - within).abs() < 1e-3,
            "{loss} vs {mse} + {within}"
        );
    }
}
