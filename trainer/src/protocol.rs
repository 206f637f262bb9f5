//! Evaluation protocols (paper, "Fine-Tuning" and Tables 3–7) described in a TOML file and run
//! end to end: per seed, a backbone is pretrained for each label scaling the compared methods
//! need, K-Adapters are added, and every target task is scored zero-shot, fine-tuned on the
//! same `k` labelled targets, and (optionally) with AdaProxy — beside the FLOPs, params and
//! zero-cost-proxy baselines. Trained predictors are cached, so an interrupted or extended
//! protocol does not train them again.
//!
//! ```toml
//! seeds = [0, 1, 2, 3, 4]
//! k = 20
//! methods = ["gnn", "gnn-eq4", "gnn-eq4-5", "aiop-eq4", "aiop"]
//! [pretrain]
//! dataset = "../models/datasets/nb201.aiopds"   # relative to this file
//! task = "cifar10-top1"
//! train_count = 1000
//! epochs = 300
//! [[adapters]]
//! dataset = "../models/datasets/nb201.aiopds"
//! task = "cifar100-top1"
//! train_count = 1000
//! epochs = 100
//! [[targets]]
//! dataset = "../models/datasets/nb201.aiopds"
//! task = "imagenet16-120-top1"
//! proxies = { naslib = "../data/naslib/zc_nasbench201.json", dataset = "ImageNet16-120" }
//! [finetune]
//! epochs = 100
//! [adaproxy]
//! lambda = 1e-5
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use aiop_datasets::rank::srcc;
use aiop_datasets::split::{self, TrainSize};
use aiop_predictor::LabelScaling;
use serde::{Deserialize, Serialize};
use tch::Device;

use crate::TrainError;
use crate::data::{self, Sample};
use crate::defaults;
use crate::eval::{Evaluation, baselines, evaluate};
use crate::model::ModelConfig;
use crate::predictor::Predictor;
use crate::train::{Hooks, TrainConfig};
use crate::transfer::draw_targets;
use aiop_datasets::benchmarks::{ProxyScores, naslib_nb201_proxies};

/// Targets with fewer test networks than this (after the `k` labelled ones) are not scored.
pub const MIN_TEST: usize = 10;

/// A protocol file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protocol {
    /// One full run (pretraining, adapters, fine-tuning) per seed.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Labelled targets per target task, drawn once with a fixed seed.
    #[serde(default = "default_k")]
    pub k: usize,
    #[serde(default = "Method::all")]
    pub methods: Vec<Method>,
    pub pretrain: StageSpec,
    #[serde(default)]
    pub adapters: Vec<StageSpec>,
    pub targets: Vec<TargetSpec>,
    /// Fine-tuning on the `k` targets; absent: zero-shot only.
    #[serde(default)]
    pub finetune: Option<FinetuneSpec>,
    /// AdaProxy on the `k` targets; absent: not run.
    #[serde(default)]
    pub adaproxy: Option<AdaProxySpec>,
}

fn default_seeds() -> Vec<u64> {
    (0..defaults::SEEDS).collect()
}

fn default_k() -> usize {
    defaults::TARGETS
}

/// A training stage: a task of a dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    pub dataset: PathBuf,
    pub task: String,
    /// Seeded random records to train on (default: all).
    #[serde(default)]
    pub train_count: Option<usize>,
    pub epochs: usize,
    #[serde(default = "default_lr")]
    pub lr: f64,
    #[serde(default = "default_batch")]
    pub batch_size: usize,
}

fn default_lr() -> f64 {
    defaults::ADAPTER.lr
}

fn default_batch() -> usize {
    defaults::ADAPTER.batch_size
}

/// A target task, with zero-cost proxies to compare against when available.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    pub dataset: PathBuf,
    pub task: String,
    #[serde(default)]
    pub proxies: Option<ProxySpec>,
}

/// NASLib's zero-cost proxies of one dataset (`cifar10`, `cifar100`, `ImageNet16-120`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxySpec {
    pub naslib: PathBuf,
    pub dataset: String,
}

/// Fine-tuning settings (paper: 100 epochs, batch 1).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinetuneSpec {
    #[serde(default = "default_finetune_epochs")]
    pub epochs: usize,
    #[serde(default = "default_finetune_lr")]
    pub lr: f64,
}

fn default_finetune_epochs() -> usize {
    defaults::FINETUNE.epochs
}

fn default_finetune_lr() -> f64 {
    defaults::FINETUNE.lr
}

/// AdaProxy settings (paper: 1000 epochs, λ = 1e-5).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaProxySpec {
    #[serde(default = "default_adaproxy_epochs")]
    pub epochs: usize,
    #[serde(default = "default_adaproxy_lr")]
    pub lr: f64,
    #[serde(default = "default_lambda")]
    pub lambda: f64,
}

fn default_adaproxy_epochs() -> usize {
    defaults::ADAPROXY.epochs
}

fn default_adaproxy_lr() -> f64 {
    defaults::ADAPROXY.lr
}

fn default_lambda() -> f64 {
    defaults::ADAPROXY_LAMBDA
}

/// How labels are scaled for training and mapped to the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScalingKind {
    /// Raw labels; outputs are read as the target metric directly.
    Raw,
    /// Eq. 4: standardised per task.
    Eq4,
    /// Eqs. 4–5: FLOPs transform, then standardised.
    Eq45,
}

impl ScalingKind {
    /// The label scaling of this kind fitted to `samples`.
    pub fn fit(self, samples: &[&Sample]) -> LabelScaling {
        let pairs: Vec<(f64, f64)> = samples.iter().map(|s| (s.label, s.gflops)).collect();
        match self {
            ScalingKind::Raw => LabelScaling::IDENTITY,
            ScalingKind::Eq4 => LabelScaling::fit(&pairs, false),
            ScalingKind::Eq45 => LabelScaling::fit(&pairs, true),
        }
    }
}

/// A compared predictor (the columns of the paper's tables).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// The plain GNN on raw labels.
    Gnn,
    /// The GNN with Eq. 4.
    GnnEq4,
    /// The GNN with Eqs. 4–5.
    #[serde(rename = "gnn-eq4-5")]
    GnnEq45,
    /// AIO-P (K-Adapters) with Eq. 4 only.
    AiopEq4,
    /// AIO-P: K-Adapters with Eqs. 4–5.
    Aiop,
}

impl Method {
    fn all() -> Vec<Method> {
        vec![
            Method::Gnn,
            Method::GnnEq4,
            Method::GnnEq45,
            Method::AiopEq4,
            Method::Aiop,
        ]
    }

    fn scaling(self) -> ScalingKind {
        match self {
            Method::Gnn => ScalingKind::Raw,
            Method::GnnEq4 | Method::AiopEq4 => ScalingKind::Eq4,
            Method::GnnEq45 | Method::Aiop => ScalingKind::Eq45,
        }
    }

    fn adapters(self) -> bool {
        matches!(self, Method::AiopEq4 | Method::Aiop)
    }

    /// The name used in protocol files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Method::Gnn => "gnn",
            Method::GnnEq4 => "gnn-eq4",
            Method::GnnEq45 => "gnn-eq4-5",
            Method::AiopEq4 => "aiop-eq4",
            Method::Aiop => "aiop",
        }
    }
}

/// How a predictor met the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    ZeroShot,
    FineTuned,
    AdaProxy,
}

/// One score of one method on one target in one seed's run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Score {
    pub target: String,
    pub method: Method,
    pub mode: Mode,
    pub seed: u64,
    pub evaluation: Evaluation,
}

/// What does not depend on the predictor: the test set and the baselines' SRCC on it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TargetBaselines {
    pub target: String,
    pub records: usize,
    pub test: usize,
    pub flops_srcc: f64,
    pub params_srcc: f64,
    /// Proxy → (SRCC, networks of the test set it covers).
    pub proxies: BTreeMap<String, (f64, usize)>,
    /// Why the target was not scored, if it was not.
    pub skipped: Option<String>,
}

/// Everything a protocol run measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub protocol: Protocol,
    pub targets: Vec<TargetBaselines>,
    pub scores: Vec<Score>,
    pub seconds: f64,
}

/// A target's samples split into the `k` labelled ones and the test set.
struct Target {
    name: String,
    known: Vec<Sample>,
    test: Vec<Sample>,
}

/// Runs `protocol`, whose relative paths start at `base`; trained predictors are cached in
/// `cache`. `log` receives a line per step.
pub fn run(
    protocol: &Protocol,
    base: &Path,
    cache: &Path,
    device: Device,
    mut log: impl FnMut(&str),
) -> Result<Report, TrainError> {
    let start = std::time::Instant::now();
    let mut datasets = Datasets {
        base,
        loaded: HashMap::new(),
    };
    let (targets, target_baselines) = prepare_targets(protocol, &mut datasets)?;
    let mut kinds: Vec<ScalingKind> = protocol.methods.iter().map(|m| m.scaling()).collect();
    kinds.sort();
    kinds.dedup();
    let mut scores = Vec::new();
    for &seed in &protocol.seeds {
        for &kind in &kinds {
            let run = SeedRun {
                protocol,
                cache,
                device,
                seed,
                kind,
            };
            let pretrained = run.pretrain(&mut datasets, &mut log)?;
            let adapted = run.adapt(&mut datasets, &pretrained, &mut log)?;
            for &method in protocol.methods.iter().filter(|m| m.scaling() == kind) {
                let predictor = match (&adapted, method.adapters()) {
                    (Some(p), true) => p,
                    _ => &pretrained,
                };
                for target in &targets {
                    log(&format!(
                        "seed {seed}: {} on {}",
                        method.name(),
                        target.name
                    ));
                    scores.extend(run.score(method, predictor, target)?);
                }
            }
        }
    }
    Ok(Report {
        protocol: protocol.clone(),
        targets: target_baselines,
        scores,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Each target's `k` labelled records and test set, and the baselines on that test set; a
/// target with too few test records is reported as skipped and not scored.
fn prepare_targets(
    protocol: &Protocol,
    datasets: &mut Datasets,
) -> Result<(Vec<Target>, Vec<TargetBaselines>), TrainError> {
    let mut targets = Vec::new();
    let mut target_baselines = Vec::new();
    for spec in &protocol.targets {
        let samples = datasets.load(&spec.dataset, &spec.task)?;
        let name = format!("{} ({})", spec.task, file_stem(&spec.dataset));
        let (known_idx, test_idx) = draw_targets(samples.len(), protocol.k);
        let test: Vec<Sample> = test_idx.iter().map(|&i| samples[i].clone()).collect();
        let test_refs: Vec<&Sample> = test.iter().collect();
        let (flops_srcc, params_srcc) = baselines(&test_refs);
        let proxies = match &spec.proxies {
            Some(p) => proxy_srcc(
                &naslib_nb201_proxies(&datasets.base.join(&p.naslib), &p.dataset)?,
                &test,
            ),
            None => BTreeMap::new(),
        };
        let skipped = (test.len() < MIN_TEST).then(|| {
            format!(
                "{} records: {} labelled targets leave {} to test (fewer than {MIN_TEST})",
                samples.len(),
                protocol.k,
                test.len()
            )
        });
        target_baselines.push(TargetBaselines {
            target: name.clone(),
            records: samples.len(),
            test: test.len(),
            flops_srcc,
            params_srcc,
            proxies,
            skipped: skipped.clone(),
        });
        if skipped.is_none() {
            targets.push(Target {
                name,
                known: known_idx.iter().map(|&i| samples[i].clone()).collect(),
                test,
            });
        }
    }
    Ok((targets, target_baselines))
}

/// One seed's run of the methods that share a label scaling.
struct SeedRun<'a> {
    protocol: &'a Protocol,
    cache: &'a Path,
    device: Device,
    seed: u64,
    kind: ScalingKind,
}

impl SeedRun<'_> {
    /// The pretrained backbone and head (cached).
    fn pretrain(
        &self,
        datasets: &mut Datasets,
        log: &mut impl FnMut(&str),
    ) -> Result<Predictor, TrainError> {
        let (protocol, seed, kind) = (self.protocol, self.seed, self.kind);
        log(&format!(
            "seed {seed}: pretraining ({kind:?} labels) on {}",
            protocol.pretrain.task
        ));
        let samples = datasets.training_subset(&protocol.pretrain, seed)?;
        let name = format!("{kind:?}-seed{seed}-pretrain");
        cached(
            self.cache,
            &name,
            &(&protocol.pretrain, kind, seed),
            self.device,
            || {
                let refs: Vec<&Sample> = samples.iter().collect();
                let config = stage_config(&protocol.pretrain, seed);
                let model = ModelConfig::default();
                let task = &protocol.pretrain.task;
                let scaling = kind.fit(&refs);
                let hooks = Hooks::default();
                Ok(
                    Predictor::pretrain(model, task, &refs, scaling, &config, self.device, hooks)?
                        .0,
                )
            },
        )
    }

    /// The pretrained predictor with the protocol's adapters (cached), when a method of this
    /// scaling uses adapters.
    fn adapt(
        &self,
        datasets: &mut Datasets,
        pretrained: &Predictor,
        log: &mut impl FnMut(&str),
    ) -> Result<Option<Predictor>, TrainError> {
        let (protocol, seed, kind) = (self.protocol, self.seed, self.kind);
        let wants_adapters = protocol
            .methods
            .iter()
            .any(|m| m.scaling() == kind && m.adapters());
        if !wants_adapters || protocol.adapters.is_empty() {
            return Ok(None);
        }
        let mut stages = Vec::new();
        for spec in &protocol.adapters {
            stages.push((spec, datasets.training_subset(spec, seed)?));
        }
        log(&format!(
            "seed {seed}: {} adapters ({kind:?} labels)",
            stages.len()
        ));
        let key = (&protocol.pretrain, &protocol.adapters, kind, seed);
        let name = format!("{kind:?}-seed{seed}-adapters");
        let adapted = cached(self.cache, &name, &key, self.device, || {
            let mut p = pretrained.duplicate()?;
            for (spec, samples) in &stages {
                let refs: Vec<&Sample> = samples.iter().collect();
                let config = stage_config(spec, seed);
                p.add_adapter(
                    &spec.task,
                    &refs,
                    kind.fit(&refs),
                    &config,
                    Hooks::default(),
                )?;
            }
            Ok(p)
        })?;
        Ok(Some(adapted))
    }

    /// The scores of `method` (through `predictor`) on `target`: zero-shot, then fine-tuned and
    /// AdaProxy when the protocol asks for them.
    fn score(
        &self,
        method: Method,
        predictor: &Predictor,
        target: &Target,
    ) -> Result<Vec<Score>, TrainError> {
        let (protocol, seed) = (self.protocol, self.seed);
        let known: Vec<&Sample> = target.known.iter().collect();
        let test: Vec<&Sample> = target.test.iter().collect();
        let scaling = self.kind.fit(&known);
        let score = |mode, evaluation| Score {
            target: target.name.clone(),
            method,
            mode,
            seed,
            evaluation,
        };
        let few_shot = |epochs, lr| TrainConfig {
            epochs,
            batch_size: 1,
            lr,
            seed,
            ..Default::default()
        };
        let mut scores = Vec::new();
        let mut p = predictor.duplicate()?;
        p.calibrate(scaling);
        scores.push(score(Mode::ZeroShot, evaluate(&p.predict(&test), &test)));
        if let Some(f) = &protocol.finetune {
            let mut p = predictor.duplicate()?;
            let config = few_shot(f.epochs, f.lr);
            p.finetune(&target.name, &known, scaling, &config, Hooks::default())?;
            scores.push(score(Mode::FineTuned, evaluate(&p.predict(&test), &test)));
        }
        if let Some(a) = &protocol.adaproxy {
            let mut p = predictor.duplicate()?;
            p.adaproxy(
                &target.name,
                &known,
                scaling,
                &few_shot(a.epochs, a.lr),
                a.lambda,
            )?;
            scores.push(score(Mode::AdaProxy, evaluate(&p.predict(&test), &test)));
        }
        Ok(scores)
    }
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
}

/// Datasets read once per protocol run, by path and task.
struct Datasets<'a> {
    base: &'a Path,
    loaded: HashMap<(PathBuf, String), Rc<Vec<Sample>>>,
}

impl Datasets<'_> {
    /// The samples of `task` in `dataset` (relative to the protocol's folder).
    fn load(&mut self, dataset: &Path, task: &str) -> Result<Rc<Vec<Sample>>, TrainError> {
        let key = (self.base.join(dataset), task.to_string());
        if !self.loaded.contains_key(&key) {
            let samples = data::load(&key.0, task)?;
            self.loaded.insert(key.clone(), Rc::new(samples));
        }
        Ok(Rc::clone(&self.loaded[&key]))
    }

    /// The records a stage trains on in the run of `seed`.
    fn training_subset(&mut self, spec: &StageSpec, seed: u64) -> Result<Vec<Sample>, TrainError> {
        let all = self.load(&spec.dataset, &spec.task)?;
        Ok(match spec.train_count {
            Some(n) => {
                let (train, _) = split::random(all.len(), TrainSize::Count(n), seed);
                train.into_iter().map(|i| all[i].clone()).collect()
            }
            None => all.to_vec(),
        })
    }
}

/// An error unless a protocol file's `kind` is `expected`.
pub(crate) fn expect_kind(kind: &str, expected: &str) -> Result<(), TrainError> {
    if kind == expected {
        return Ok(());
    }
    Err(TrainError::Invalid(format!(
        "protocol kind `{kind}`: expected `{expected}`"
    )))
}

pub(crate) fn stage_config(spec: &StageSpec, seed: u64) -> TrainConfig {
    TrainConfig {
        epochs: spec.epochs,
        batch_size: spec.batch_size,
        lr: spec.lr,
        seed,
        ..Default::default()
    }
}

/// The predictor cached as `cache/name` when it was trained for the same `key`; else the one
/// `train` makes, then cached.
pub(crate) fn cached(
    cache: &Path,
    name: &str,
    key: &impl Serialize,
    device: Device,
    train: impl FnOnce() -> Result<Predictor, TrainError>,
) -> Result<Predictor, TrainError> {
    let dir = cache.join(name);
    let key = serde_json::to_string_pretty(key)?;
    let key_file = dir.join("protocol-stage.json");
    if std::fs::read_to_string(&key_file).is_ok_and(|saved| saved == key)
        && let Ok(p) = Predictor::load(&dir, device)
    {
        return Ok(p);
    }
    let p = train()?;
    p.save(&dir)?;
    std::fs::write(key_file, key)?;
    Ok(p)
}

/// SRCC of each proxy against the labels of the test networks it covers.
fn proxy_srcc(proxies: &ProxyScores, test: &[Sample]) -> BTreeMap<String, (f64, usize)> {
    proxies
        .iter()
        .map(|(proxy, by_arch)| {
            let (scores, labels): (Vec<f64>, Vec<f64>) = test
                .iter()
                .filter_map(|s| Some((*by_arch.get(&s.name)?, s.label)))
                .unzip();
            (proxy.clone(), (srcc(&scores, &labels), scores.len()))
        })
        .collect()
}

/// Mean and population standard deviation.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

impl Report {
    /// The report as Markdown tables: per target, MAE / SRCC / Kendall τ (mean ± std over
    /// seeds) of each method and mode, then the baselines.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        for target in &self.targets {
            out += &format!("### {}\n\n", target.target);
            if let Some(why) = &target.skipped {
                out += &format!("Not scored: {why}.\n\n");
                continue;
            }
            out += &format!(
                "{} networks: {} labelled targets, {} tested; {} seeds.\n\n",
                target.records,
                self.protocol.k,
                target.test,
                self.protocol.seeds.len()
            );
            out += "| method | mode | MAE | SRCC | Kendall τ |\n|---|---|---|---|---|\n";
            for &method in &self.protocol.methods {
                for mode in [Mode::ZeroShot, Mode::FineTuned, Mode::AdaProxy] {
                    let runs: Vec<&Evaluation> = self
                        .scores
                        .iter()
                        .filter(|s| {
                            s.target == target.target && s.method == method && s.mode == mode
                        })
                        .map(|s| &s.evaluation)
                        .collect();
                    if runs.is_empty() {
                        continue;
                    }
                    let cell = |f: fn(&Evaluation) -> f64, digits: usize| {
                        let (m, s) = mean_std(&runs.iter().map(|e| f(e)).collect::<Vec<_>>());
                        format!("{m:.digits$} ± {s:.digits$}")
                    };
                    out += &format!(
                        "| {} | {} | {} | {} | {} |\n",
                        method.name(),
                        match mode {
                            Mode::ZeroShot => "zero-shot",
                            Mode::FineTuned => "fine-tuned",
                            Mode::AdaProxy => "AdaProxy",
                        },
                        cell(|e| e.mae, 2),
                        cell(|e| e.srcc, 3),
                        cell(|e| e.kendall, 3)
                    );
                }
            }
            out += &format!("| FLOPs | – | – | {:.3} | – |\n", target.flops_srcc);
            out += &format!("| params | – | – | {:.3} | – |\n", target.params_srcc);
            for (proxy, (rho, n)) in &target.proxies {
                out += &format!("| {proxy} (zero-cost, {n} networks) | – | – | {rho:.3} | – |\n");
            }
            out += "\n";
        }
        out
    }
}
