//! The shared-head experiment (paper, Table 1), small enough for a CPU: bodies of one family
//! pretrained on the synthetic scenes' classification as a weight-sharing supernet; test
//! bodies sampled round robin over length bins; for each, the ground truth (body and a fresh
//! head trained individually) against pseudo-labels from a short fine-tune of the body with a
//! shared head trained by body swapping or by latent sampling. Every body's CG (body and task
//! head, written as ONNX and converted) is returned with its labels.
//!
//! Whether the ground truth can be trusted is measured, not assumed: each body is trained
//! `ground_truth_runs` times from different random states and scenes, and the SRCC between
//! halves of those runs (test-retest) comes with a bootstrap 95 % interval, in every measure
//! of the task (the headline metric, others, the negative test loss).

use std::time::Instant;

use aiop_converter::Cg;
use aiop_datasets::spaces::ofa::onnx::{self as ofa_onnx, Head};
use aiop_datasets::spaces::ofa::{Body, Family, LengthBins};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Tensor};

use super::bodies::{BodyNet, Levels};
use super::latent::{BodyPool, LatentStats};
use super::metrics::{Confusion, keypoint_ap, pck, pck_auc};
use super::retest::{Repeatability, halves, mean};
use super::synthetic::{SceneTensors, SyntheticSet};
use super::targets::argmax_keypoints;
use super::task_heads::{HEATMAP_STRIDE, TaskHead};
use crate::HeadsError;

/// Every knob of the experiment (the defaults: see [`ExperimentConfig::default`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExperimentConfig {
    pub family: String,
    /// `pose` or `segmentation` (`classification` works too).
    pub task: String,
    pub seed: u64,
    pub resolution: usize,
    pub test_images: usize,
    pub batch: i64,
    /// Supernet pretraining on classification (a random body per step).
    pub pretrain_steps: usize,
    /// Test bodies.
    pub bodies: usize,
    /// How the test bodies are drawn (see [`TestSpread`]).
    pub spread: TestSpread,
    pub bins: usize,
    /// `N`: bodies per bin in the latent-sampling set.
    pub per_bin: usize,
    /// Steps of an individually trained body and head (the ground truth).
    pub ground_truth_steps: usize,
    /// Independent trainings of each ground-truth body (each with its own initial head weights
    /// and training scenes). The ground truth is their mean; the SRCC between the means of
    /// the two halves of the runs (run 1 vs run 2 for two) is the test-retest SRCC, how far
    /// the ground truth can be trusted.
    pub ground_truth_runs: usize,
    /// The body's learning rate as a fraction of the head's, in the ground-truth and
    /// pseudo-label trials (1: one rate for both; the head starts from scratch or from a shared
    /// head, the body from the pretrained supernet).
    pub body_rate: f64,
    /// Steps of each shared head.
    pub shared_steps: usize,
    /// Body swapping changes the body every this many minibatches (the paper: 10).
    pub swap_every: usize,
    /// Steps of the fine-tune that turns a shared head into a pseudo-label.
    pub finetune_steps: usize,
    /// Adam's peak learning rate in every training: a warm-up over the first 5 % of the steps,
    /// then a cosine decay to zero.
    pub learning_rate: f64,
    /// Resamples of the bootstrap behind every SRCC's 95 % interval.
    pub bootstrap: usize,
}

/// How the test bodies are drawn from their family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestSpread {
    /// Round robin over the length bins, uniform choices otherwise (the paper's sampling).
    Length,
    /// Evenly spaced in log MACs, from bodies whose choices lean to the smallest options to
    /// bodies leaning to the largest ([`Family::sample_toward`]): more different bodies.
    Macs,
}

impl Default for ExperimentConfig {
    /// Sized for under 45 minutes on two CPU cores: 16 bodies spread over MACs, each trained
    /// twice for the test-retest SRCC (docs/heads.md: 12 resnet segmentation bodies took
    /// 35 min; a body at a tenth of the head's rate did not make the ground truth more
    /// repeatable, so one rate trains both, as the paper's ground truth does).
    fn default() -> Self {
        ExperimentConfig {
            family: "mbv3".into(),
            task: "pose".into(),
            seed: 0,
            resolution: 64,
            test_images: 512,
            batch: 32,
            pretrain_steps: 1000,
            bodies: 16,
            spread: TestSpread::Macs,
            bins: 5,
            per_bin: 2,
            ground_truth_steps: 300,
            ground_truth_runs: 2,
            body_rate: 1.0,
            shared_steps: 400,
            swap_every: 10,
            finetune_steps: 40,
            learning_rate: 5e-3,
            bootstrap: 1000,
        }
    }
}

/// One test body's labels in the task's metric (PCK@0.2 for pose, mIoU for segmentation,
/// top-1 for classification; all in %).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BodyLabels {
    pub name: String,
    pub length: usize,
    pub bin: usize,
    pub macs: u64,
    pub params: u64,
    /// The mean of `ground_truth_runs`.
    pub ground_truth: f64,
    /// The metric of each independent ground-truth training.
    pub ground_truth_runs: Vec<f64>,
    pub body_swap: f64,
    pub latent_sampling: f64,
    /// Every measure of the task (the headline first; see [`measures`]) by each method.
    pub measures: Vec<MeasureLabels>,
}

/// One body's labels in one measure.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MeasureLabels {
    pub measure: String,
    pub ground_truth_runs: Vec<f64>,
    pub body_swap: f64,
    pub latent_sampling: f64,
}

/// How one measure behaves over the bodies: the SRCC between halves of the ground-truth runs
/// (test-retest, with its bootstrap 95 % interval) and each method's SRCC to the ground truth
/// (the mean of the runs) in that measure.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MeasureSummary {
    pub measure: String,
    pub test_retest: Option<f64>,
    pub test_retest_interval: Option<[f64; 2]>,
    /// Standard deviation of one body's runs (pooled), in the measure's units.
    #[serde(default)]
    pub run_noise: Option<f64>,
    /// Standard deviation of the bodies' true values (see [`Repeatability`]).
    #[serde(default)]
    pub body_spread: Option<f64>,
    /// How well one run would correlate with another (ICC(1), [`Repeatability::one_run`]).
    #[serde(default)]
    pub one_run_reliability: Option<f64>,
    /// Runs per body whose mean would reach a reliability of 0.8 (Spearman–Brown).
    #[serde(default)]
    pub runs_for_0_8: Option<f64>,
    /// The reliability of the ground truth as used: the mean of every body's runs
    /// (Spearman–Brown from the one-run ICC).
    #[serde(default)]
    pub ground_truth_reliability: Option<f64>,
    pub body_swap: Option<f64>,
    pub latent_sampling: Option<f64>,
    pub macs: Option<f64>,
}

/// Mean, standard deviation and SRCC to the ground truth (with its bootstrap 95 % interval) of
/// one labelling method; for the test-retest row, the SRCC between the halves of the
/// ground-truth runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MethodSummary {
    pub method: String,
    /// Mean and standard deviation in the metric (none for MACs).
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub srcc: Option<f64>,
    pub srcc_interval: Option<[f64; 2]>,
}

/// Seconds spent in each phase.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Timings {
    pub data: f64,
    pub pretrain: f64,
    pub ground_truth: f64,
    pub body_swap_head: f64,
    pub latent_head: f64,
    pub pseudo_labels: f64,
    pub total: f64,
}

/// What the experiment measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExperimentReport {
    pub config: ExperimentConfig,
    pub metric: String,
    /// Top-1 (%) of the pretrained supernet's largest body on the test scenes.
    pub pretrain_top1: f64,
    pub bodies: Vec<BodyLabels>,
    pub summary: Vec<MethodSummary>,
    /// Test-retest and method SRCCs in every measure of the task.
    pub measures: Vec<MeasureSummary>,
    pub timings: Timings,
}

/// Phases the experiment reports progress for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Pretrain,
    GroundTruth,
    BodySwapHead,
    LatentHead,
    PseudoLabels,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Pretrain => "pretrain supernet",
            Phase::GroundTruth => "ground truth",
            Phase::BodySwapHead => "body-swap head",
            Phase::LatentHead => "latent-sampling head",
            Phase::PseudoLabels => "pseudo-labels",
        }
    }
}

/// Reports `(phase, done, total)`.
pub type Progress<'a> = &'a dyn Fn(Phase, usize, usize);

/// Pixel standardisation of every image the networks see: `(x − 0.5) / 0.25`.
const PIXEL_MEAN: f64 = 0.5;
const PIXEL_STD: f64 = 0.25;

/// Stream tags that keep the random streams of the experiment's phases apart.
const SEED_TEST_SCENES: u64 = 0x7e57;
const SEED_TRIAL: u64 = 0x7121;
const SEED_SHARED_HEAD: u64 = 0x5ead;
/// The stride between the seeds of independent runs of a trial.
const SEED_RUN: u64 = 0x9e37_79b9_7f4a_7c15;

/// Optimiser groups of a trial: the head at the peak rate, the body at `body_rate` times it.
const HEAD_GROUP: usize = 0;
const BODY_GROUP: usize = 1;

fn standardise(mut scenes: SceneTensors) -> SceneTensors {
    scenes.images = (scenes.images - PIXEL_MEAN) / PIXEL_STD;
    scenes
}

/// The fixed test scenes as tensors on the device.
struct TestSet {
    set: SyntheticSet,
    tensors: SceneTensors,
}

impl TestSet {
    fn new(seed: u64, count: usize, size: usize, device: Device) -> Result<TestSet, HeadsError> {
        let set = SyntheticSet::generate(seed, count, size)?;
        let tensors = standardise(set.to_tensors(0..count, device)?);
        Ok(TestSet { set, tensors })
    }
}

/// The endless training scenes: minibatch `k` holds scenes `k·B .. (k+1)·B` of the seed, so no
/// scene is seen twice and every trial that starts at minibatch 0 sees the same ones.
#[derive(Clone, Copy)]
struct TrainStream {
    seed: u64,
    size: usize,
    device: Device,
}

impl TrainStream {
    /// The stream of independent run `run` (run 0: this one).
    fn for_run(&self, run: u64) -> TrainStream {
        TrainStream {
            seed: self.seed.wrapping_add(run.wrapping_mul(SEED_RUN)),
            ..*self
        }
    }

    fn batch(&self, k: usize, size: i64) -> Result<SceneTensors, HeadsError> {
        let size = size as u64;
        let start = k as u64 * size;
        let set = SyntheticSet::generate_range(self.seed, start..start + size, self.size)?;
        Ok(standardise(set.to_tensors(0..set.len(), self.device)?))
    }
}

/// The learning rate at `step` of `total`: a linear warm-up over the first 5 % of the steps,
/// then a cosine decay to zero.
fn learning_rate(base: f64, step: usize, total: usize) -> f64 {
    let warm_up = (total / 20).max(1);
    if step < warm_up {
        return base * (step + 1) as f64 / warm_up as f64;
    }
    let progress = (step - warm_up) as f64 / (total - warm_up).max(1) as f64;
    base * 0.5 * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos())
}

/// Runs the experiment (see the module docs).
pub fn run(
    config: &ExperimentConfig,
    device: Device,
    progress: Progress,
) -> Result<(ExperimentReport, Vec<(Cg, BodyLabels)>), HeadsError> {
    let start = Instant::now();
    let mut timings = Timings::default();
    let mut experiment = Experiment::new(config, device, progress, &mut timings)?;

    // 1. the supernet, pretrained on classification with a random body per step
    let t = Instant::now();
    let (supernet, pretrain_top1) = experiment.pretrain()?;
    timings.pretrain = t.elapsed().as_secs_f64();

    // 2. test bodies, round robin over the length bins or spread over MACs
    let (bins, tests) = experiment.test_bodies()?;

    // 3. ground truth: each body with a fresh head of its own widths, `ground_truth_runs` times
    let t = Instant::now();
    let ground_truth = experiment.ground_truth(&supernet, &tests)?;
    timings.ground_truth = t.elapsed().as_secs_f64();

    // 4. shared heads, from the same initial weights: body swapping, then latent sampling
    let t = Instant::now();
    let swap = experiment.body_swap_head(&supernet)?;
    timings.body_swap_head = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let latent = experiment.latent_head(&supernet)?;
    timings.latent_head = t.elapsed().as_secs_f64();

    // 5. pseudo-labels: each body fine-tuned briefly with a copy of each shared head
    let t = Instant::now();
    let mut results = Vec::with_capacity(tests.len());
    for (i, body) in tests.iter().enumerate() {
        let [swap, latent] = experiment.pseudo_labels(&supernet, body, [&swap, &latent])?;
        let cg = body_cg(body, experiment.head, config.resolution)?;
        let gt = &ground_truth[i];
        let headline_runs: Vec<f64> = gt.iter().map(|run| run[0]).collect();
        let labels = BodyLabels {
            name: body.name(),
            length: body.length(),
            bin: bins.of(body.length()).unwrap_or(0),
            macs: cg.macs(),
            params: cg.params(),
            ground_truth: mean(&headline_runs),
            ground_truth_runs: headline_runs,
            body_swap: swap[0],
            latent_sampling: latent[0],
            measures: measures(experiment.head)
                .iter()
                .enumerate()
                .map(|(m, name)| MeasureLabels {
                    measure: (*name).into(),
                    ground_truth_runs: gt.iter().map(|run| run[m]).collect(),
                    body_swap: swap[m],
                    latent_sampling: latent[m],
                })
                .collect(),
        };
        results.push((cg, labels));
        progress(Phase::PseudoLabels, i + 1, tests.len());
    }
    timings.pseudo_labels = t.elapsed().as_secs_f64();
    timings.total = start.elapsed().as_secs_f64();

    let bodies: Vec<BodyLabels> = results.iter().map(|(_, l)| l.clone()).collect();
    let measures = summarise_measures(&bodies, config);
    let report = ExperimentReport {
        config: config.clone(),
        metric: metric_name(experiment.head).into(),
        pretrain_top1,
        summary: summarise(&bodies, &measures, config),
        measures,
        bodies,
        timings,
    };
    Ok((report, results))
}

/// A trial's test measures, in the order of [`measures`] (the headline metric first).
type Score = Vec<f64>;

/// The measures a trial of `head` reports, the headline first, every one higher-is-better:
/// other metrics of the task, and the negative test loss (the smoothest, most repeatable).
pub fn measures(head: Head) -> &'static [&'static str] {
    match head {
        Head::Pose => &["PCK@0.2", "keypoint AP", "PCK AUC", "-heatmap loss"],
        Head::Segmentation => &["mIoU", "pixel accuracy", "-cross-entropy"],
        Head::Classification => &["top-1", "-cross-entropy"],
    }
}

/// Candidate bodies drawn per test body when the test bodies are spread over MACs.
const CANDIDATES_PER_BODY: usize = 8;

/// What the phases of one run share: the settings, the random stream that picks bodies, and
/// the training and test scenes.
struct Experiment<'a> {
    config: &'a ExperimentConfig,
    family: Family,
    head: Head,
    progress: Progress<'a>,
    rng: ChaCha8Rng,
    train: TrainStream,
    test: TestSet,
}

/// The weight-sharing supernet, pretrained and frozen (its store keeps the weights).
struct Supernet {
    _store: nn::VarStore,
    net: BodyNet,
}

impl<'a> Experiment<'a> {
    /// Checks the settings, seeds every random stream and generates the test scenes (the time
    /// that takes is `timings.data`).
    fn new(
        config: &'a ExperimentConfig,
        device: Device,
        progress: Progress<'a>,
        timings: &mut Timings,
    ) -> Result<Self, HeadsError> {
        let family = Family::from_name(&config.family)
            .ok_or_else(|| HeadsError::Invalid(format!("unknown family `{}`", config.family)))?;
        let head = Head::from_name(&config.task)
            .ok_or_else(|| HeadsError::Invalid(format!("unknown task `{}`", config.task)))?;
        if config.batch < 1 || config.bodies == 0 {
            return Err(HeadsError::Invalid(
                "batch and bodies must be positive".into(),
            ));
        }
        if !(config.body_rate.is_finite() && config.body_rate >= 0.0) {
            return Err(HeadsError::Invalid(format!(
                "body_rate {} is not a fraction ≥ 0 of the learning rate",
                config.body_rate
            )));
        }
        tch::manual_seed(config.seed as i64);
        let rng = ChaCha8Rng::seed_from_u64(config.seed);
        let t = Instant::now();
        let train = TrainStream {
            seed: config.seed,
            size: config.resolution,
            device,
        };
        let test = TestSet::new(
            config.seed ^ SEED_TEST_SCENES,
            config.test_images.max(1),
            config.resolution,
            device,
        )?;
        timings.data = t.elapsed().as_secs_f64();
        Ok(Experiment {
            config,
            family,
            head,
            progress,
            rng,
            train,
            test,
        })
    }

    /// Channels per level of the family's widest body (what a shared head takes).
    fn widths(&self) -> [i64; 4] {
        Body::max_level_channels(self.family)
    }

    /// Pretrains the supernet on classification, the largest body every fourth step and a
    /// random one otherwise; returns it frozen with its largest body's test top-1 (%).
    fn pretrain(&mut self) -> Result<(Supernet, f64), HeadsError> {
        let (config, family) = (self.config, self.family);
        let mut store = nn::VarStore::new(self.train.device);
        let mut net = BodyNet::new(&(store.root() / "body"), &family.largest());
        net.zero_init_residuals();
        let classifier = TaskHead::new(
            &(store.root() / "head"),
            Head::Classification,
            self.widths(),
        );
        let (train, rng, progress) = (&self.train, &mut self.rng, self.progress);
        train_scheduled(
            &store,
            config.learning_rate,
            None,
            config.pretrain_steps,
            |step| {
                let body = if step % 4 == 0 {
                    family.largest()
                } else {
                    family.sample(rng)
                };
                let batch = train.batch(step, config.batch * 2)?;
                let out = classifier.forward(&net.forward(&batch.images, &body, true), true);
                Ok(classifier.loss(&out, &batch))
            },
            |step| progress(Phase::Pretrain, step + 1, config.pretrain_steps),
        )?;
        // the shared batch-norm statistics mix every body: measure with batch statistics
        let top1 = evaluate(&net, &family.largest(), &classifier, &self.test, true)?[0];
        store.freeze();
        Ok((Supernet { _store: store, net }, top1))
    }

    /// The test bodies (see [`TestSpread`]) and the length bins.
    fn test_bodies(&mut self) -> Result<(LengthBins, Vec<Body>), HeadsError> {
        let bins = LengthBins::new(self.family, self.config.bins);
        let n = self.config.bodies;
        let tests = match self.config.spread {
            TestSpread::Length => (0..n)
                .map(|i| {
                    let bin = bins.bins[i % bins.bins.len()];
                    self.family.sample_with_length(bin, &mut self.rng)
                })
                .collect(),
            TestSpread::Macs => self.bodies_over_macs(n)?,
        };
        Ok((bins, tests))
    }

    /// `n` bodies evenly spaced in log MACs (with the task head) between the smallest and the
    /// largest of `n · CANDIDATES_PER_BODY` candidates drawn from small to large.
    fn bodies_over_macs(&mut self, n: usize) -> Result<Vec<Body>, HeadsError> {
        let count = n * CANDIDATES_PER_BODY;
        let mut candidates = Vec::with_capacity(count);
        for i in 0..count {
            let size = i as f64 / (count - 1).max(1) as f64;
            let body = self.family.sample_toward(size, &mut self.rng);
            let macs = body_cg(&body, self.head, self.config.resolution)?.macs();
            candidates.push(((macs.max(1) as f64).ln(), Some(body)));
        }
        candidates.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (lo, hi) = (candidates[0].0, candidates[count - 1].0);
        let mut picked = Vec::with_capacity(n);
        for i in 0..n {
            let target = lo + (hi - lo) * i as f64 / (n - 1).max(1) as f64;
            // the nearest candidate not picked yet (there are more candidates than picks)
            let nearest = candidates
                .iter_mut()
                .filter(|c| c.1.is_some())
                .min_by(|a, b| (a.0 - target).abs().total_cmp(&(b.0 - target).abs()));
            picked.extend(nearest.and_then(|c| c.1.take()));
        }
        Ok(picked)
    }

    /// Each body trained `ground_truth_runs` times with a fresh head of its own widths.
    fn ground_truth(
        &self,
        supernet: &Supernet,
        tests: &[Body],
    ) -> Result<Vec<Vec<Score>>, HeadsError> {
        let runs = self.config.ground_truth_runs.max(1);
        let mut scores = Vec::with_capacity(tests.len());
        for (i, body) in tests.iter().enumerate() {
            let body_scores = (0..runs)
                .map(|run| {
                    let fresh = Trial {
                        inputs: body.level_channels(),
                        shared: None,
                        steps: self.config.ground_truth_steps,
                        run,
                    };
                    self.score(&fresh, supernet, body)
                })
                .collect::<Result<Vec<_>, _>>()?;
            scores.push(body_scores);
            (self.progress)(Phase::GroundTruth, i + 1, tests.len());
        }
        Ok(scores)
    }

    /// A shared head trained on the features of a random body, changed every `swap_every`
    /// steps.
    fn body_swap_head(&mut self, supernet: &Supernet) -> Result<nn::VarStore, HeadsError> {
        let (store, head) = self.shared_head_init();
        let family = self.family;
        let mut body = family.sample(&mut self.rng);
        let swap_every = self.config.swap_every.max(1);
        let rng = &mut self.rng;
        let shared = SharedTraining {
            train: &self.train,
            config: self.config,
            progress: self.progress,
        };
        shared.run(&store, &head, Phase::BodySwapHead, |step, images| {
            if step % swap_every == 0 {
                body = family.sample(rng);
            }
            supernet.net.forward(images, &body, true)
        })?;
        Ok(store)
    }

    /// A shared head trained on features sampled from the latent statistics of a rotating
    /// pool of bodies.
    fn latent_head(&mut self, supernet: &Supernet) -> Result<nn::VarStore, HeadsError> {
        let (store, head) = self.shared_head_init();
        let widths = self.widths();
        let config = self.config;
        let mut pool = BodyPool::new(self.family, config.bins, config.per_bin, &mut self.rng);
        let rng = &mut self.rng;
        let shared = SharedTraining {
            train: &self.train,
            config: self.config,
            progress: self.progress,
        };
        shared.run(&store, &head, Phase::LatentHead, |_, images| {
            pool.rotate(rng);
            LatentStats::of(&supernet.net, &pool, images, widths).sample()
        })?;
        Ok(store)
    }

    /// A shared head of the widest body's widths, from the same initial weights every time.
    fn shared_head_init(&self) -> (nn::VarStore, TaskHead) {
        let store = nn::VarStore::new(self.train.device);
        tch::manual_seed((self.config.seed ^ SEED_SHARED_HEAD) as i64);
        let head = TaskHead::new(&store.root(), self.head, self.widths());
        (store, head)
    }

    /// `body` fine-tuned briefly with a copy of each shared head: its pseudo-labels.
    fn pseudo_labels(
        &self,
        supernet: &Supernet,
        body: &Body,
        shared: [&nn::VarStore; 2],
    ) -> Result<[Score; 2], HeadsError> {
        let tune = |store| {
            let tuned = Trial {
                inputs: self.widths(),
                shared: Some(store),
                steps: self.config.finetune_steps,
                run: 0,
            };
            self.score(&tuned, supernet, body)
        };
        Ok([tune(shared[0])?, tune(shared[1])?])
    }

    fn score(&self, trial: &Trial, supernet: &Supernet, body: &Body) -> Result<Score, HeadsError> {
        trial.score(
            &supernet.net,
            body,
            self.head,
            &self.train,
            &self.test,
            self.config,
        )
    }
}

/// Mean and spread of each labelling method and its SRCC (bootstrap 95 % interval) to the
/// ground truth; the test-retest row is the headline measure's (`measures[0]`, computed by
/// [`summarise_measures`]) with the mean and spread of the first half of the runs, the MACs
/// row ranks by MACs alone.
fn summarise(
    labels: &[BodyLabels],
    measures: &[MeasureSummary],
    config: &ExperimentConfig,
) -> Vec<MethodSummary> {
    use aiop_datasets::rank;
    let truth: Vec<f64> = labels.iter().map(|l| l.ground_truth).collect();
    let spread = |values: &[f64]| {
        let n = values.len().max(1) as f64;
        let mean = values.iter().sum::<f64>() / n;
        let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        (Some(mean), Some(std))
    };
    let correlated = |method: &str, values: Vec<f64>, against: &[f64], (mean, std)| {
        let srcc = Some(rank::srcc(&values, against)).filter(|v| v.is_finite());
        let interval = rank::srcc_interval(&values, against, config.bootstrap, config.seed);
        MethodSummary {
            method: method.into(),
            mean,
            std,
            srcc,
            srcc_interval: interval.map(|(lo, hi)| [lo, hi]),
        }
    };
    let mut rows = vec![MethodSummary {
        method: "ground truth".into(),
        mean: spread(&truth).0,
        std: spread(&truth).1,
        srcc: None,
        srcc_interval: None,
    }];
    let runs: Vec<&[f64]> = labels.iter().map(|l| &l.ground_truth_runs[..]).collect();
    if let (Some((first, _)), Some(headline)) = (halves(&runs), measures.first()) {
        let k = config.ground_truth_runs / 2;
        let method = match k {
            1 => "test-retest (run 1 vs 2)".to_string(),
            _ => format!("test-retest (runs 1–{k} vs {}–{})", k + 1, 2 * k),
        };
        let (mean, std) = spread(&first);
        rows.push(MethodSummary {
            method,
            mean,
            std,
            srcc: headline.test_retest,
            srcc_interval: headline.test_retest_interval,
        });
    }
    for (method, values) in [
        (
            "body swap",
            labels.iter().map(|l| l.body_swap).collect::<Vec<_>>(),
        ),
        (
            "latent sampling",
            labels.iter().map(|l| l.latent_sampling).collect(),
        ),
    ] {
        let moments = spread(&values);
        rows.push(correlated(method, values, &truth, moments));
    }
    let macs = labels.iter().map(|l| l.macs as f64).collect();
    rows.push(correlated("MACs", macs, &truth, (None, None)));
    rows
}

/// Test-retest and every method's SRCC to the ground truth in each measure of the task.
fn summarise_measures(labels: &[BodyLabels], config: &ExperimentConfig) -> Vec<MeasureSummary> {
    use aiop_datasets::rank::{srcc, srcc_interval};
    let Some(first) = labels.first() else {
        return Vec::new();
    };
    let finite = |v: f64| Some(v).filter(|v| v.is_finite());
    let macs: Vec<f64> = labels.iter().map(|l| l.macs as f64).collect();
    (0..first.measures.len())
        .map(|m| {
            let runs: Vec<&[f64]> = labels
                .iter()
                .map(|l| &l.measures[m].ground_truth_runs[..])
                .collect();
            let truth: Vec<f64> = runs.iter().map(|r| mean(r)).collect();
            let method = |pick: fn(&MeasureLabels) -> f64| -> Vec<f64> {
                labels.iter().map(|l| pick(&l.measures[m])).collect()
            };
            let runs_per_body = runs.iter().map(|r| r.len()).min().unwrap_or(0);
            let retest = halves(&runs);
            let split = Repeatability::of(&runs);
            MeasureSummary {
                measure: first.measures[m].measure.clone(),
                test_retest: retest.as_ref().and_then(|(a, b)| finite(srcc(a, b))),
                test_retest_interval: retest
                    .as_ref()
                    .and_then(|(a, b)| srcc_interval(a, b, config.bootstrap, config.seed))
                    .map(|(lo, hi)| [lo, hi]),
                run_noise: split.map(|r| r.run_noise),
                body_spread: split.map(|r| r.body_spread),
                one_run_reliability: split.map(|r| r.one_run),
                runs_for_0_8: split.and_then(|r| r.runs_for(0.8)),
                ground_truth_reliability: split.map(|r| r.of_mean(runs_per_body as f64)),
                body_swap: finite(srcc(&method(|l| l.body_swap), &truth)),
                latent_sampling: finite(srcc(&method(|l| l.latent_sampling), &truth)),
                macs: finite(srcc(&macs, &truth)),
            }
        })
        .collect()
}

/// The name of the headline metric of `head`'s task.
fn metric_name(head: Head) -> &'static str {
    match head {
        Head::Pose => "PCK@0.2 [%]",
        Head::Segmentation => "mIoU [%]",
        Head::Classification => "top-1 [%]",
    }
}

/// The training of a shared head: minibatches of the stream, features from the supernet (no
/// gradient reaches it), the learning-rate schedule and progress reports.
struct SharedTraining<'a> {
    train: &'a TrainStream,
    config: &'a ExperimentConfig,
    progress: Progress<'a>,
}

impl SharedTraining<'_> {
    /// Trains `head` (the variables of `store`) on `features(step, images)`.
    fn run(
        &self,
        store: &nn::VarStore,
        head: &TaskHead,
        phase: Phase,
        mut features: impl FnMut(usize, &Tensor) -> Levels,
    ) -> Result<(), HeadsError> {
        let config = self.config;
        train_scheduled(
            store,
            config.learning_rate,
            None,
            config.shared_steps,
            |step| {
                let batch = self.train.batch(step, config.batch)?;
                let levels = tch::no_grad(|| features(step, &batch.images));
                Ok(head.loss(&head.forward(&levels, true), &batch))
            },
            |step| (self.progress)(phase, step + 1, config.shared_steps),
        )
    }
}

/// The CG of `body` with `head` (written as ONNX, converted like any file).
pub fn body_cg(body: &Body, head: Head, resolution: usize) -> Result<Cg, HeadsError> {
    let model = ofa_onnx::build(body, head, resolution as i64).map_err(HeadsError::Invalid)?;
    let bytes = bytes::Bytes::from(model.to_bytes());
    let mut cg = aiop_converter::convert_onnx_bytes(
        bytes,
        &body.name(),
        &aiop_converter::ConvertOptions::default(),
    )
    .map_err(|e| HeadsError::Invalid(e.to_string()))?;
    cg.name = format!("{}.{}", body.name(), head.name());
    Ok(cg)
}

/// One body trained with a head: a fresh head (the ground truth) or a copy of a shared one
/// (a pseudo-label).
struct Trial<'a> {
    /// Channels per level the head takes.
    inputs: [i64; 4],
    /// The shared head to start from.
    shared: Option<&'a nn::VarStore>,
    steps: usize,
    /// Which independent training this is: run 0 is every trial's common start; run `r`
    /// starts from another random state and sees other scenes.
    run: usize,
}

impl Trial<'_> {
    /// The body copied out of the supernet and trained with the head; its test metric.
    fn score(
        &self,
        supernet: &BodyNet,
        body: &Body,
        head: Head,
        train: &TrainStream,
        test: &TestSet,
        config: &ExperimentConfig,
    ) -> Result<Score, HeadsError> {
        // every trial starts from the same random state and sees the same minibatches, so
        // that bodies differ by their architecture, not by luck
        let run = self.run as u64;
        tch::manual_seed(
            (config.seed ^ SEED_TRIAL).wrapping_add(run.wrapping_mul(SEED_RUN)) as i64,
        );
        let train = &train.for_run(run);
        let store = nn::VarStore::new(train.device);
        let net = supernet.extract(&(store.root().set_group(BODY_GROUP) / "body"), body);
        let task_head = TaskHead::new(&(store.root() / "head"), head, self.inputs);
        if let Some(shared) = self.shared {
            copy_head(shared, &store)?;
        }
        fit(&store, &net, body, &task_head, train, self.steps, config)?;
        evaluate(&net, body, &task_head, test, false)
    }
}

/// Trains every variable of `store` (a body and a head) for `steps` minibatches.
fn fit(
    store: &nn::VarStore,
    net: &BodyNet,
    body: &Body,
    head: &TaskHead,
    train: &TrainStream,
    steps: usize,
    config: &ExperimentConfig,
) -> Result<(), HeadsError> {
    train_scheduled(
        store,
        config.learning_rate,
        Some(config.body_rate),
        steps,
        |step| {
            let batch = train.batch(step, config.batch)?;
            let out = head.forward(&net.forward(&batch.images, body, true), true);
            Ok(head.loss(&out, &batch))
        },
        |_| {},
    )
}

/// Adam over the trainable variables of `store` for `steps` steps on the schedule of
/// [`learning_rate`] (peak `base_rate`; with `body_rate`, the variables of [`BODY_GROUP`] at
/// that fraction of it): `loss(step)` gives each step's loss, `done(step)` follows each step.
fn train_scheduled(
    store: &nn::VarStore,
    base_rate: f64,
    body_rate: Option<f64>,
    steps: usize,
    mut loss: impl FnMut(usize) -> Result<Tensor, HeadsError>,
    mut done: impl FnMut(usize),
) -> Result<(), HeadsError> {
    let mut opt = nn::Adam::default().build(store, base_rate)?;
    for step in 0..steps {
        let rate = learning_rate(base_rate, step, steps);
        match body_rate {
            Some(fraction) => {
                opt.set_lr_group(HEAD_GROUP, rate);
                opt.set_lr_group(BODY_GROUP, rate * fraction);
            }
            None => opt.set_lr(rate),
        }
        opt.backward_step(&loss(step)?);
        done(step);
    }
    Ok(())
}

/// Copies a shared head's variables into the head of `to` (named `head/…` there).
fn copy_head(from: &nn::VarStore, to: &nn::VarStore) -> Result<(), HeadsError> {
    let source = from.variables();
    let _guard = tch::no_grad_guard();
    for (name, mut var) in to.variables() {
        if let Some(stripped) = name.strip_prefix("head.")
            && let Some(value) = source.get(stripped)
        {
            var.copy_(value);
        }
    }
    Ok(())
}

/// The headline metric (%) of `body` with `head` on the test scenes, and keypoint AP (%) for
/// pose. `batch_statistics` normalises with each chunk's statistics instead of the running
/// estimates.
fn evaluate(
    net: &BodyNet,
    body: &Body,
    head: &TaskHead,
    test: &TestSet,
    batch_statistics: bool,
) -> Result<Score, HeadsError> {
    let _guard = tch::no_grad_guard();
    let n = test.set.len() as i64;
    let chunk = 128;
    let mut outputs = Vec::new();
    for start in (0..n).step_by(chunk as usize) {
        let len = chunk.min(n - start);
        let images = test.tensors.images.narrow(0, start, len);
        outputs.push(head.forward(&net.forward(&images, body, batch_statistics), false));
    }
    let output = Tensor::cat(&outputs, 0);
    let negative_loss = -f64::try_from(head.loss(&output, &test.tensors))?;
    match head.head {
        Head::Classification => {
            let pred = Vec::<i64>::try_from(output.argmax(1, false))?;
            let truth = Vec::<i64>::try_from(&test.tensors.classes)?;
            let top1 = super::metrics::top1_accuracy(&pred, &truth)? * 100.0;
            Ok(vec![top1, negative_loss])
        }
        Head::Segmentation => {
            let pred = Vec::<i64>::try_from(output.argmax(1, false).reshape([-1]))?;
            let truth = Vec::<i64>::try_from(test.tensors.masks.reshape([-1]))?;
            let mut confusion = Confusion::new(aiop_datasets::spaces::ofa::CLASSES as usize + 1)?;
            confusion.add(&pred, &truth)?;
            let miou = confusion.mean_iou().unwrap_or(0.0) * 100.0;
            let accuracy = confusion.pixel_accuracy().unwrap_or(0.0) * 100.0;
            Ok(vec![miou, accuracy, negative_loss])
        }
        Head::Pose => {
            let points = argmax_keypoints(&output, HEATMAP_STRIDE as f64)?;
            let pred = Vec::<f32>::try_from(points.reshape([-1]))?;
            let truth = Vec::<f32>::try_from(test.tensors.keypoints.reshape([-1]))?;
            let scales = test.set.scales();
            let joints = aiop_datasets::spaces::ofa::JOINTS as usize;
            let pck = pck(&pred, &truth, &scales, joints, 0.2)? * 100.0;
            let ap = keypoint_ap(&pred, &truth, &scales, joints)? * 100.0;
            let auc = pck_auc(&pred, &truth, &scales, joints)? * 100.0;
            Ok(vec![pck, ap, auc, negative_loss])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::learning_rate;

    #[test]
    fn the_learning_rate_warms_up_then_decays_to_zero() {
        let rates: Vec<f64> = (0..100).map(|step| learning_rate(1.0, step, 100)).collect();
        assert!(rates[..5].windows(2).all(|w| w[0] < w[1]), "{rates:?}");
        assert_eq!(rates[4], 1.0);
        assert!(rates[5..].windows(2).all(|w| w[0] >= w[1]));
        assert!(rates[99] < 1e-3);
        assert_eq!(learning_rate(1.0, 0, 1), 1.0);
    }
}
