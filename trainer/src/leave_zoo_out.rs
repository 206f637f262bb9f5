//! Leave-zoo-out evaluation (issue 25, item 3): a backbone is pretrained on one zoo, and each
//! *transfer* ranks the networks of a zoo — or of a dataset's results — that no stage of it
//! trained on: either zero-shot with the pretraining task's head (e.g. timm-pretrained, ranking
//! torchvision's classifiers), or through a K-Adapter trained on a source task and read as the
//! target task (e.g. an adapter on Cityscapes mIoU ranking the Pascal VOC-aug networks). Beside
//! it, on the same networks: ranking by FLOPs, and the graph-statistics regressor
//! ([`crate::stats_regressor`]) fitted on the networks the transfer's last stage trained on.
//! One run per seed; the report also ranks by the mean of the runs' predictions (a seed
//! ensemble) and by that mean blended with the regressor, as the bundled predictor is built.
//! Pretrained backbones and finished runs are cached, keyed by their settings and encoding.
//!
//! ```toml
//! kind = "leave-zoo-out"
//! seeds = [0, 1, 2, 3, 4]
//! [pretrain]
//! dataset = "../models/datasets/timm.aiopds"   # relative to this file
//! task = "imagenet-top1"
//! epochs = 300
//! [[transfers]]                                # zero-shot from the pretraining task
//! target = { dataset = "../models/datasets/torchvision.aiopds", task = "imagenet-top1" }
//! [[transfers]]                                # through an adapter on another dataset's results
//! source = { dataset = "../models/datasets/mmseg.aiopds", task = "cityscapes-miou" }
//! target = { dataset = "../models/datasets/mmseg.aiopds", task = "pascal-voc-2012-aug-miou" }
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use aiop_predictor::{ENCODING_VERSION, LabelScaling};
use serde::{Deserialize, Serialize};
use tch::Device;

use crate::TrainError;
use crate::data::{self, Sample};
use crate::defaults;
use crate::eval::{Evaluation, ensemble_srcc, evaluate_beside};
use crate::model::ModelConfig;
use crate::predictor::Predictor;
use crate::protocol::{StageSpec, cached, mean_std, stage_config};
use crate::stats_regressor::StatsRegressor;
use crate::train::Hooks;

/// The value of `kind` in a leave-zoo-out protocol file.
pub const KIND: &str = "leave-zoo-out";

/// A leave-zoo-out protocol file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaveZooOut {
    /// Always `leave-zoo-out`.
    pub kind: String,
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// The backbone and head's stage (every labelled record of its dataset trains).
    pub pretrain: StageSpec,
    pub transfers: Vec<Transfer>,
}

fn default_seeds() -> Vec<u64> {
    (0..defaults::SEEDS).collect()
}

/// The task of a dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskOf {
    pub dataset: PathBuf,
    pub task: String,
}

/// One ranked zoo: the `target` networks, ranked through the pretraining head (no `source`) or
/// through a K-Adapter trained on every `source` network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    #[serde(default)]
    pub source: Option<TaskOf>,
    pub target: TaskOf,
    /// The adapter's epochs (default: the adapter stage's).
    #[serde(default = "default_adapter_epochs")]
    pub epochs: usize,
}

fn default_adapter_epochs() -> usize {
    defaults::ADAPTER.epochs
}

impl Transfer {
    /// `source → target`, as the report names the transfer.
    fn name(&self, pretrain: &StageSpec) -> String {
        let source = self.source.as_ref().map_or(&pretrain.task, |s| &s.task);
        format!(
            "{source} → {} ({})",
            self.target.task,
            stem(&self.target.dataset)
        )
    }
}

/// One transfer's runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TransferScores {
    pub transfer: String,
    /// Networks ranked.
    pub count: usize,
    /// Networks that trained the transfer's last stage (the adapter, or the head).
    pub trained_on: usize,
    /// Ranked networks whose family is also among those training networks (same architecture
    /// family, other dataset or zoo): the transfer's distance from its training data.
    pub shared_family: usize,
    /// One evaluation per seed, predictions kept.
    pub runs: Vec<Evaluation>,
    /// The ranked networks' labels, in the order of the predictions.
    pub labels: Vec<f64>,
}

/// What a leave-zoo-out run measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub protocol: LeaveZooOut,
    pub transfers: Vec<TransferScores>,
    pub seconds: f64,
}

/// Runs `spec`, whose relative paths start at `base`; backbones and finished runs are cached in
/// `cache`. `log` receives a line per run.
pub fn run(
    spec: &LeaveZooOut,
    base: &Path,
    cache: &Path,
    device: Device,
    mut log: impl FnMut(&str),
) -> Result<Report, TrainError> {
    crate::protocol::expect_kind(&spec.kind, KIND)?;
    if spec.seeds.is_empty() || spec.pretrain.epochs == 0 || spec.transfers.is_empty() {
        return Err(TrainError::Invalid(
            "no seeds, no pretraining epochs or no transfers".into(),
        ));
    }
    let start = std::time::Instant::now();
    std::fs::create_dir_all(cache)?;
    let pretrain = data::load(&base.join(&spec.pretrain.dataset), &spec.pretrain.task)?;
    let pretrain: Vec<&Sample> = pretrain.iter().collect();
    let mut loaded = Vec::new();
    for t in &spec.transfers {
        let source = match &t.source {
            Some(s) => Some(data::load(&base.join(&s.dataset), &s.task)?),
            None => None,
        };
        let target = data::load(&base.join(&t.target.dataset), &t.target.task)?;
        if target.len() < 2 {
            return Err(TrainError::Invalid(format!(
                "{}: fewer than two networks to rank",
                t.name(&spec.pretrain)
            )));
        }
        loaded.push((source, target));
    }
    let mut runs: Vec<Vec<Evaluation>> = vec![Vec::new(); spec.transfers.len()];
    for &seed in &spec.seeds {
        let mut backbone = None;
        for (i, (t, (source, target))) in spec.transfers.iter().zip(&loaded).enumerate() {
            let name = t.name(&spec.pretrain);
            let file = cache.join(format!("transfer{i}-seed{seed}.json"));
            let key = run_key(spec, t, seed);
            let evaluation = match read_cached(&file, &key) {
                Some(e) => e,
                None => {
                    if backbone.is_none() {
                        log(&format!(
                            "seed {seed}: pretraining on {}",
                            spec.pretrain.task
                        ));
                        backbone = Some(pretrained(spec, &pretrain, seed, cache, device)?);
                    }
                    let p = backbone.as_ref().expect("pretrained above");
                    let e = score(p, &pretrain, source.as_deref(), target, t, seed)?;
                    std::fs::write(&file, serde_json::to_vec_pretty(&(&key, &e))?)?;
                    e
                }
            };
            log(&format!(
                "{name} seed {seed}: SRCC {:.3}  MAE {:.2}  | FLOPs {:.3}  graph statistics {:.3}",
                evaluation.srcc,
                evaluation.mae,
                evaluation.flops_srcc,
                evaluation.stats_srcc.unwrap_or(f64::NAN)
            ));
            runs[i].push(evaluation);
        }
    }
    let transfers = spec
        .transfers
        .iter()
        .zip(&loaded)
        .zip(runs)
        .map(|((t, (source, target)), runs)| {
            let trained: &[Sample] = source.as_deref().unwrap_or(&[]);
            let families: BTreeSet<&str> = if source.is_some() {
                trained.iter().map(|s| s.family.as_str()).collect()
            } else {
                pretrain.iter().map(|s| s.family.as_str()).collect()
            };
            TransferScores {
                transfer: t.name(&spec.pretrain),
                count: target.len(),
                trained_on: if source.is_some() {
                    trained.len()
                } else {
                    pretrain.len()
                },
                shared_family: target
                    .iter()
                    .filter(|s| families.contains(s.family.as_str()))
                    .count(),
                runs,
                labels: target.iter().map(|s| s.label).collect(),
            }
        })
        .collect();
    Ok(Report {
        protocol: spec.clone(),
        transfers,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The backbone and head pretrained with `seed` on every pretraining record (cached).
fn pretrained(
    spec: &LeaveZooOut,
    samples: &[&Sample],
    seed: u64,
    cache: &Path,
    device: Device,
) -> Result<Predictor, TrainError> {
    let key = (&spec.pretrain, seed, ENCODING_VERSION);
    cached(cache, &format!("pretrain-seed{seed}"), &key, device, || {
        let scaling = fit_eq4(samples);
        let config = stage_config(&spec.pretrain, seed);
        let model = ModelConfig::default();
        let (p, _) = Predictor::pretrain(
            model,
            &spec.pretrain.task,
            samples,
            scaling,
            &config,
            device,
            Hooks::default(),
        )?;
        Ok(p)
    })
}

/// Eq. 4 (the bundled predictor's label scaling) fitted to `samples`.
fn fit_eq4(samples: &[&Sample]) -> LabelScaling {
    let pairs: Vec<(f64, f64)> = samples.iter().map(|s| (s.label, s.gflops)).collect();
    LabelScaling::fit(&pairs, false)
}

/// One seed's ranking of the target: through a new adapter on `source`, or the head.
fn score(
    backbone: &Predictor,
    pretrain: &[&Sample],
    source: Option<&[Sample]>,
    target: &[Sample],
    transfer: &Transfer,
    seed: u64,
) -> Result<Evaluation, TrainError> {
    let test: Vec<&Sample> = target.iter().collect();
    let (predictions, trained_on) = match (source, &transfer.source) {
        (Some(source), Some(spec)) => {
            let source: Vec<&Sample> = source.iter().collect();
            let mut p = backbone.duplicate()?;
            let config = defaults::StageDefaults {
                epochs: transfer.epochs,
                ..defaults::ADAPTER
            }
            .config(seed);
            p.add_adapter(
                &spec.task,
                &source,
                fit_eq4(&source),
                &config,
                Hooks::default(),
            )?;
            (p.predict(&test), source)
        }
        _ => (backbone.predict(&test), pretrain.to_vec()),
    };
    let mut evaluation = evaluate_beside(&predictions, &test, &trained_on);
    evaluation.predictions = predictions;
    evaluation.stats_predictions = StatsRegressor::fit(&trained_on)
        .map(|r| r.predict(&test))
        .unwrap_or_default();
    Ok(evaluation)
}

/// Everything a cached run depends on: settings, seed and encoding.
fn run_key(spec: &LeaveZooOut, transfer: &Transfer, seed: u64) -> String {
    serde_json::to_string(&(&spec.pretrain, transfer, seed, ENCODING_VERSION)).unwrap_or_default()
}

/// The evaluation cached in `file`, if there is one that parses and was run under `key`.
fn read_cached(file: &Path, key: &str) -> Option<Evaluation> {
    let (saved, e): (String, Evaluation) =
        serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
    (saved == key).then_some(e)
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
}

impl Report {
    /// The results as a Markdown table: per transfer, one run (mean ± std over seeds), the
    /// seeds' ensemble, the ensemble blended with the graph-statistics regressor, and the two
    /// baselines on the same networks.
    pub fn markdown(&self) -> String {
        let p = &self.protocol;
        let mut out = format!(
            "Leave-zoo-out: backbone pretrained on `{}` of `{}` ({} epochs, lr {}, batch {}, Eq. 4), \
             seeds {:?}; each transfer ranks networks no stage trained on, zero-shot through the \
             head or through a K-Adapter on the source task ({} epochs by default). Baselines on the \
             same networks: FLOPs (MACs) ranking, and the graph-statistics regressor (boosted trees \
             on log MACs, params, nodes, resolution) fitted on the networks the last stage trained \
             on. The blend is the bundled predictor's ({:.1} × ensemble + {:.1} × trees).\n\n",
            p.pretrain.task,
            p.pretrain.dataset.display(),
            p.pretrain.epochs,
            p.pretrain.lr,
            p.pretrain.batch_size,
            p.seeds,
            defaults::ADAPTER.epochs,
            1.0 - defaults::STATS_BLEND_WEIGHT,
            defaults::STATS_BLEND_WEIGHT,
        );
        out += "| transfer | n | trained on | same family | one run SRCC | one run MAE | ensemble SRCC | blend SRCC | FLOPs SRCC | graph-statistics SRCC / MAE |\n";
        out += "|---|---|---|---|---|---|---|---|---|---|\n";
        for t in &self.transfers {
            let stat =
                |g: fn(&Evaluation) -> f64| mean_std(&t.runs.iter().map(g).collect::<Vec<_>>());
            let (srcc, srcc_sd) = stat(|e| e.srcc);
            let (mae, mae_sd) = stat(|e| e.mae);
            let show = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.3}"));
            let Some(first) = t.runs.first() else {
                continue;
            };
            out += &format!(
                "| {} | {} | {} | {} | {srcc:.3} ± {srcc_sd:.3} | {mae:.2} ± {mae_sd:.2} | {} | {} | {:.3} | {:.3} / {:.2} |\n",
                t.transfer,
                t.count,
                t.trained_on,
                t.shared_family,
                show(ensemble_srcc(&t.runs, &t.labels, 0.0)),
                show(ensemble_srcc(
                    &t.runs,
                    &t.labels,
                    defaults::STATS_BLEND_WEIGHT
                )),
                first.flops_srcc,
                first.stats_srcc.unwrap_or(f64::NAN),
                first.stats_mae.unwrap_or(f64::NAN),
            );
        }
        out += "\nMAE of a transfer between datasets compares one dataset's metric with another's \
                (e.g. Cityscapes mIoU predicted for VOC networks): read its SRCC.\n\n";
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_files_parse_and_name_their_transfers() {
        let spec: LeaveZooOut = toml::from_str(
            r#"
            kind = "leave-zoo-out"
            [pretrain]
            dataset = "timm.aiopds"
            task = "imagenet-top1"
            epochs = 3
            [[transfers]]
            target = { dataset = "tv.aiopds", task = "imagenet-top1" }
            [[transfers]]
            source = { dataset = "seg.aiopds", task = "cityscapes-miou" }
            target = { dataset = "seg.aiopds", task = "voc-miou" }
            epochs = 7
            "#,
        )
        .unwrap();
        assert_eq!(spec.seeds, vec![0, 1, 2, 3, 4]);
        assert_eq!(spec.transfers[0].epochs, defaults::ADAPTER.epochs);
        assert_eq!(spec.transfers[1].epochs, 7);
        assert_eq!(
            spec.transfers[0].name(&spec.pretrain),
            "imagenet-top1 → imagenet-top1 (tv)"
        );
        assert_eq!(
            spec.transfers[1].name(&spec.pretrain),
            "cityscapes-miou → voc-miou (seg)"
        );
        // a key differs with the seed and the transfer, so no cached run is reused for another
        let k = |t: usize, seed| run_key(&spec, &spec.transfers[t], seed);
        assert_ne!(k(0, 0), k(0, 1));
        assert_ne!(k(0, 0), k(1, 0));
        assert!(toml::from_str::<LeaveZooOut>("kind = \"leave-zoo-out\"\nbogus = 1").is_err());
    }
}
