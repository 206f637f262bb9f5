//! Leave-family-out evaluation (issue 25): every family of a labelled dataset with at least
//! `min_family` networks is held out in turn, a predictor is pretrained on all the other
//! families and ranks the held-out one — beside ranking by FLOPs and the graph-statistics
//! regressor ([`crate::stats_regressor`]) fitted on the same training networks. One run per
//! seed, so that the run-to-run variance shows; finished runs are cached (with the settings and
//! encoding they ran under), so an interrupted protocol resumes where it stopped.
//!
//! ```toml
//! kind = "leave-family-out"
//! dataset = "../models/datasets/timm.aiopds"   # relative to this file
//! task = "imagenet-top1"
//! seeds = [0, 1, 2, 3, 4]
//! min_family = 8
//! epochs = 200
//! flops_transform = false     # Eq. 5 before Eq. 4
//! ```
//!
//! With a `[grids]` table, scaling grids are held out instead of families: each grid names
//! networks of one family that differ in width, depth or resolution. The grid's whole family
//! leaves training (every family its networks belong to), and the grid alone is ranked — the
//! question being whether the predictor knows that, inside a family it has never seen, the
//! bigger network is the better one.
//!
//! ```toml
//! [grids]
//! regnetx = ["regnetx_004", "regnetx_008", "regnetx_032", "regnetx_064"]
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use aiop_predictor::{ENCODING_VERSION, LabelScaling};
use serde::{Deserialize, Serialize};
use tch::Device;

use crate::TrainError;
use crate::data::{self, Sample};
use crate::eval::{Evaluation, ensemble_srcc, evaluate_beside};
use crate::model::ModelConfig;
use crate::predictor::Predictor;
use crate::protocol::mean_std;
use crate::stats_regressor::StatsRegressor;
use crate::train::{Hooks, RankPairs, Schedule, TrainConfig};

/// A leave-family-out protocol file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaveFamilyOut {
    /// Always `leave-family-out` (what tells this protocol from the transfer protocol).
    pub kind: String,
    pub dataset: PathBuf,
    pub task: String,
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Families with fewer labelled networks are not held out (they still train).
    #[serde(default = "default_min_family")]
    pub min_family: usize,
    pub epochs: usize,
    #[serde(default = "default_lr")]
    pub lr: f64,
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Eq. 5 (FLOPs transform) before Eq. 4.
    #[serde(default)]
    pub flops_transform: bool,
    /// Weight of the pairwise ranking term ([`TrainConfig::rank_weight`]; default: the
    /// pretraining stage's).
    #[serde(default = "default_rank_weight")]
    pub rank_weight: f64,
    /// Which pairs the ranking term compares ([`TrainConfig::rank_pairs`]; default: the
    /// pretraining stage's).
    #[serde(default = "default_rank_pairs")]
    pub rank_pairs: RankPairs,
    /// Fraction of the last epochs averaged into the weights ([`TrainConfig::average_last`]).
    #[serde(default)]
    pub average_last: f64,
    /// The learning rate over the epochs (`Cosine` or `Constant`).
    #[serde(default)]
    pub schedule: Schedule,
    /// Scaling grids held out instead of families: grid name → its networks' record names.
    #[serde(default)]
    pub grids: BTreeMap<String, Vec<String>>,
}

/// The value of `kind` in a leave-family-out protocol file.
pub const KIND: &str = "leave-family-out";

fn default_seeds() -> Vec<u64> {
    (0..crate::defaults::SEEDS).collect()
}

fn default_min_family() -> usize {
    8
}

fn default_lr() -> f64 {
    crate::defaults::PRETRAIN.lr
}

fn default_batch() -> usize {
    crate::defaults::PRETRAIN.batch_size
}

fn default_rank_weight() -> f64 {
    crate::defaults::PRETRAIN.rank_weight
}

fn default_rank_pairs() -> RankPairs {
    crate::defaults::PRETRAIN.rank_pairs
}

/// One held-out family (or scaling grid): its size and one evaluation per seed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FamilyScores {
    /// The family's name, or the grid's.
    pub family: String,
    /// For a grid: the families left out of training with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<String>,
    pub count: usize,
    pub runs: Vec<Evaluation>,
    /// The labels of the family's networks, in the order of the runs' predictions.
    #[serde(default)]
    pub labels: Vec<f64>,
}

impl FamilyScores {
    /// The better of the two baselines' SRCC (FLOPs, graph-statistics regressor).
    pub fn best_baseline(&self) -> f64 {
        let first = &self.runs[0];
        first
            .flops_srcc
            .max(first.stats_srcc.unwrap_or(f64::NEG_INFINITY))
    }
}

/// What a leave-family-out run measured.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub protocol: LeaveFamilyOut,
    pub families: Vec<FamilyScores>,
    pub seconds: f64,
}

/// Runs `spec`, whose relative paths start at `base`; each finished (family, seed) is cached
/// in `cache`. `log` receives a line per run.
pub fn run(
    spec: &LeaveFamilyOut,
    base: &Path,
    cache: &Path,
    device: Device,
    mut log: impl FnMut(&str),
) -> Result<Report, TrainError> {
    crate::protocol::expect_kind(&spec.kind, KIND)?;
    if spec.seeds.is_empty() || spec.epochs == 0 {
        return Err(TrainError::Invalid("no seeds or no epochs".into()));
    }
    let start = std::time::Instant::now();
    let samples = data::load(&base.join(&spec.dataset), &spec.task)?;
    let units = held_out_units(spec, &samples)?;
    std::fs::create_dir_all(cache)?;
    let mut families = Vec::new();
    for unit in units {
        let (test, train): (Vec<&Sample>, Vec<&Sample>) =
            samples.iter().partition(|s| unit.tests(s));
        let train: Vec<&Sample> = train.into_iter().filter(|s| unit.trains(s)).collect();
        let count = test.len();
        let mut runs = Vec::new();
        for &seed in &spec.seeds {
            let file = cache.join(format!("{}-{seed}.json", sanitize(&unit.name)));
            let key = spec.cache_key() + &unit.key();
            let evaluation = match read_cached(&file, &key) {
                Some(e) => e,
                None => {
                    let e = train_and_score(spec, &train, &test, seed, device)?;
                    let run = CachedRun { key, evaluation: e };
                    std::fs::write(&file, serde_json::to_vec_pretty(&run)?)?;
                    run.evaluation
                }
            };
            log(&format!(
                "{} (n = {count}) seed {seed}: SRCC {:.3}  MAE {:.2}  | FLOPs {:.3}  graph statistics {:.3}",
                unit.name,
                evaluation.srcc,
                evaluation.mae,
                evaluation.flops_srcc,
                evaluation.stats_srcc.unwrap_or(f64::NAN)
            ));
            runs.push(evaluation);
        }
        families.push(FamilyScores {
            family: unit.name.clone(),
            left_out: unit
                .grid
                .as_ref()
                .map(|_| unit.families.iter().cloned().collect())
                .unwrap_or_default(),
            count,
            runs,
            labels: test.iter().map(|s| s.label).collect(),
        });
    }
    Ok(Report {
        protocol: spec.clone(),
        families,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// What one held-out run leaves out: a family, or a scaling grid with its families.
struct Unit {
    name: String,
    /// The families that leave training.
    families: BTreeSet<String>,
    /// The grid's networks (ranked instead of the whole families).
    grid: Option<BTreeSet<String>>,
}

impl Unit {
    /// Whether `sample` is ranked by this run.
    fn tests(&self, sample: &Sample) -> bool {
        match &self.grid {
            Some(grid) => grid.contains(&sample.name),
            None => self.families.contains(&sample.family),
        }
    }

    /// Whether `sample` (not ranked) trains the predictor of this run.
    fn trains(&self, sample: &Sample) -> bool {
        !self.families.contains(&sample.family)
    }

    /// What a cached run of a grid depends on beyond the protocol's settings: its networks.
    fn key(&self) -> String {
        self.grid.as_ref().map_or_else(String::new, |grid| {
            format!(
                " grid {}",
                grid.iter().cloned().collect::<Vec<_>>().join(",")
            )
        })
    }
}

/// The runs `spec` asks for: each family of ≥ `min_family` networks, or each grid.
fn held_out_units(spec: &LeaveFamilyOut, samples: &[Sample]) -> Result<Vec<Unit>, TrainError> {
    if spec.grids.is_empty() {
        let mut sizes: BTreeMap<&str, usize> = BTreeMap::new();
        for s in samples {
            *sizes.entry(&s.family).or_default() += 1;
        }
        let units: Vec<Unit> = sizes
            .into_iter()
            .filter(|&(_, n)| n >= spec.min_family.max(2))
            .map(|(family, _)| Unit {
                name: family.to_string(),
                families: BTreeSet::from([family.to_string()]),
                grid: None,
            })
            .collect();
        if units.is_empty() {
            return Err(TrainError::Invalid(format!(
                "no family has {} labelled networks",
                spec.min_family
            )));
        }
        return Ok(units);
    }
    let family_of: BTreeMap<&str, &str> = samples
        .iter()
        .map(|s| (s.name.as_str(), s.family.as_str()))
        .collect();
    spec.grids
        .iter()
        .map(|(name, networks)| {
            let grid: BTreeSet<String> = networks.iter().cloned().collect();
            if grid.len() < 2 {
                return Err(TrainError::Invalid(format!(
                    "grid `{name}`: fewer than two distinct networks"
                )));
            }
            let family = |network: &String| {
                family_of.get(network.as_str()).map(|f| f.to_string()).ok_or_else(|| {
                    TrainError::Invalid(format!(
                        "grid `{name}`: no network `{network}` labelled with `{}` in the dataset",
                        spec.task
                    ))
                })
            };
            let families = grid.iter().map(family).collect::<Result<_, _>>()?;
            Ok(Unit {
                name: name.clone(),
                families,
                grid: Some(grid),
            })
        })
        .collect()
}

/// A finished run in the cache, with what it was trained with.
#[derive(Serialize, Deserialize)]
struct CachedRun {
    key: String,
    evaluation: Evaluation,
}

impl LeaveFamilyOut {
    /// Everything a cached run depends on besides its family and seed: a run cached under
    /// other settings, or by a build with another encoding, is trained again.
    fn cache_key(&self) -> String {
        let mut key = format!(
            "{} {} epochs {} lr {} batch {} eq5 {} encoding {ENCODING_VERSION}",
            self.dataset.display(),
            self.task,
            self.epochs,
            self.lr,
            self.batch_size,
            self.flops_transform
        );
        // the settings added later join the key only when used, so that earlier caches hold
        if self.rank_weight != 0.0 {
            key += &format!(" rank {}", self.rank_weight);
            // which pairs matters only when the term is on
            if self.rank_pairs != RankPairs::All {
                key += &format!(" pairs {:?}", self.rank_pairs);
            }
        }
        if self.average_last != 0.0 {
            key += &format!(" average {}", self.average_last);
        }
        if self.schedule != Schedule::default() {
            key += &format!(" schedule {:?}", self.schedule);
        }
        key
    }
}

/// The evaluation cached in `file`, if there is one that parses and was run under `key`.
fn read_cached(file: &Path, key: &str) -> Option<Evaluation> {
    let run: CachedRun = serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
    (run.key == key).then_some(run.evaluation)
}

/// A family name as a file name.
fn sanitize(family: &str) -> String {
    family
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Pretrains a predictor on `train` with `seed` and scores it on `test`.
fn train_and_score(
    spec: &LeaveFamilyOut,
    train: &[&Sample],
    test: &[&Sample],
    seed: u64,
    device: Device,
) -> Result<Evaluation, TrainError> {
    let pairs: Vec<(f64, f64)> = train.iter().map(|s| (s.label, s.gflops)).collect();
    let scaling = LabelScaling::fit(&pairs, spec.flops_transform);
    let config = TrainConfig {
        epochs: spec.epochs,
        batch_size: spec.batch_size,
        lr: spec.lr,
        seed,
        rank_weight: spec.rank_weight,
        rank_pairs: spec.rank_pairs,
        average_last: spec.average_last,
        schedule: spec.schedule,
    };
    let (predictor, _) = Predictor::pretrain(
        ModelConfig::default(),
        &spec.task,
        train,
        scaling,
        &config,
        device,
        Hooks::default(),
    )?;
    let predictions = predictor.predict(test);
    let mut evaluation = evaluate_beside(&predictions, test, train);
    evaluation.predictions = predictions;
    evaluation.stats_predictions = StatsRegressor::fit(train)
        .map(|r| r.predict(test))
        .unwrap_or_default();
    Ok(evaluation)
}

impl FamilyScores {
    /// SRCC of the mean of the runs' predictions, each mixed with the graph-statistics
    /// regressor's as `(1 − blend) · predictor + blend · regressor`; `None` when a run did
    /// not keep its predictions (cached by an older build).
    pub fn combined_srcc(&self, blend: f64) -> Option<f64> {
        ensemble_srcc(&self.runs, &self.labels, blend)
    }
}

impl Report {
    /// The results as a Markdown table (mean ± std over seeds) with the summary the issue
    /// asks for: on how many families the predictor beats both baselines, and the means.
    pub fn markdown(&self) -> String {
        let p = &self.protocol;
        let held_out = if p.grids.is_empty() {
            format!(
                "every family with ≥ {} labelled networks held out in turn",
                p.min_family
            )
        } else {
            format!(
                "{} scaling grids held out in turn, each with its whole family (the grid alone is ranked)",
                p.grids.len()
            )
        };
        let mut out = format!(
            "Leave-family-out on `{}` of `{}`: {held_out}; \
             predictor pretrained on the others ({} epochs, lr {}, batch {}, {}), seeds {:?}. \
             Baselines on the same split: FLOPs (MACs) ranking and the graph-statistics regressor \
             (boosted trees on log MACs, params, nodes, resolution) fitted on the same training networks.\n\n",
            p.task,
            p.dataset.display(),
            p.epochs,
            p.lr,
            p.batch_size,
            if p.flops_transform {
                "Eqs. 4–5"
            } else {
                "Eq. 4"
            },
            p.seeds
        );
        if p.rank_weight != 0.0 || p.average_last != 0.0 || p.schedule != Schedule::default() {
            out += &format!(
                "Ranking term weight {} ({:?} pairs), weights averaged over the last {:.0} % of \
                 the epochs, {:?} learning rate.\n\n",
                p.rank_weight,
                p.rank_pairs,
                p.average_last * 100.0,
                p.schedule
            );
        }
        let (unit, units) = if p.grids.is_empty() {
            ("family", "families")
        } else {
            ("grid (families left out)", "grids")
        };
        out += &format!(
            "| held-out {unit} | n | predictor SRCC | predictor MAE | FLOPs SRCC | graph-statistics SRCC | graph-statistics MAE | beats both |\n"
        );
        out += "|---|---|---|---|---|---|---|---|\n";
        let mut wins = 0;
        let (mut ours, mut flops, mut stats) = (Vec::new(), Vec::new(), Vec::new());
        for f in &self.families {
            let stat =
                |g: fn(&Evaluation) -> f64| mean_std(&f.runs.iter().map(g).collect::<Vec<_>>());
            let (srcc, srcc_sd) = stat(|e| e.srcc);
            let (mae, mae_sd) = stat(|e| e.mae);
            let first = &f.runs[0];
            let win = srcc > f.best_baseline();
            wins += usize::from(win);
            ours.push(srcc);
            flops.push(first.flops_srcc);
            stats.push(first.stats_srcc.unwrap_or(f64::NAN));
            let name = if f.left_out.is_empty() {
                f.family.clone()
            } else {
                format!("{} ({})", f.family, f.left_out.join(", "))
            };
            out += &format!(
                "| {name} | {} | {srcc:.3} ± {srcc_sd:.3} | {mae:.2} ± {mae_sd:.2} | {:.3} | {:.3} | {:.2} | {} |\n",
                f.count,
                first.flops_srcc,
                first.stats_srcc.unwrap_or(f64::NAN),
                first.stats_mae.unwrap_or(f64::NAN),
                if win { "yes" } else { "no" }
            );
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        out += &format!(
            "| **mean over {} {units}** | | **{:.3}** | | {:.3} | {:.3} | | {wins} of {} |\n",
            self.families.len(),
            mean(&ours),
            mean(&flops),
            mean(&stats),
            self.families.len()
        );
        for (blend, what) in [
            (
                0.0,
                "the mean of the seeds' predictions (an ensemble of the runs)",
            ),
            (
                0.5,
                "that mean averaged with the graph-statistics regressor's prediction",
            ),
        ] {
            let combined: Option<Vec<f64>> = self
                .families
                .iter()
                .map(|f| f.combined_srcc(blend))
                .collect();
            if let Some(combined) = combined.filter(|_| p.seeds.len() > 1 || blend > 0.0) {
                let wins = self
                    .families
                    .iter()
                    .zip(&combined)
                    .filter(|(f, c)| **c > f.best_baseline())
                    .count();
                let at_flops = self
                    .families
                    .iter()
                    .zip(&combined)
                    .filter(|(f, c)| **c >= f.runs[0].flops_srcc)
                    .count();
                let below: Vec<String> = self
                    .families
                    .iter()
                    .zip(&combined)
                    .filter(|(f, c)| **c < f.runs[0].flops_srcc)
                    .map(|(f, c)| format!("{} {c:.3} vs {:.3}", f.family, f.runs[0].flops_srcc))
                    .collect();
                let below = if below.is_empty() {
                    String::new()
                } else {
                    format!(" Below FLOPs: {}.", below.join(", "))
                };
                out += &format!(
                    "\nRanked by {what}: mean SRCC {:.3}, above both baselines on {wins} of {} {units}, \
                     at or above FLOPs on {at_flops}.{below}\n",
                    mean(&combined),
                    self.families.len()
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cached run is reused only under the settings (and encoding) it ran with.
    #[test]
    fn cached_runs_are_reused_only_under_the_same_settings() {
        let spec: LeaveFamilyOut = toml::from_str(
            "kind = \"leave-family-out\"\ndataset = \"d.aiopds\"\ntask = \"t\"\nepochs = 10\n",
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f-0.json");
        let evaluation = crate::eval::Evaluation {
            count: 3,
            srcc: 0.5,
            kendall: 0.4,
            mae: 1.0,
            flops_srcc: 0.1,
            params_srcc: 0.2,
            stats_srcc: Some(0.3),
            stats_mae: Some(2.0),
            predictions: vec![1.0, 2.0, 3.0],
            stats_predictions: Vec::new(),
        };
        let run = CachedRun {
            key: spec.cache_key(),
            evaluation,
        };
        std::fs::write(&file, serde_json::to_vec(&run).unwrap()).unwrap();
        assert_eq!(
            read_cached(&file, &spec.cache_key()).map(|e| e.srcc),
            Some(0.5)
        );
        let longer = LeaveFamilyOut {
            epochs: 20,
            ..spec.clone()
        };
        assert!(read_cached(&file, &longer.cache_key()).is_none());
        let all_pairs = LeaveFamilyOut {
            rank_pairs: RankPairs::All,
            ..spec.clone()
        };
        assert!(read_cached(&file, &all_pairs.cache_key()).is_none());
        // without the term, its pairs do not matter
        let plain = |rank_pairs| {
            LeaveFamilyOut {
                rank_weight: 0.0,
                rank_pairs,
                ..spec.clone()
            }
            .cache_key()
        };
        assert_eq!(plain(RankPairs::All), plain(RankPairs::SameFamily));
        std::fs::write(&file, b"{ truncated").unwrap();
        assert!(read_cached(&file, &spec.cache_key()).is_none());
        assert_eq!(spec.seeds, [0, 1, 2, 3, 4]);
        assert_eq!(spec.min_family, 8);
        // unsaid, the ranking term is the pretraining stage's
        assert_eq!(spec.rank_weight, crate::defaults::PRETRAIN.rank_weight);
        assert_eq!(spec.rank_pairs, crate::defaults::PRETRAIN.rank_pairs);
    }

    fn sample(name: &str, family: &str) -> Sample {
        Sample {
            name: name.into(),
            family: family.into(),
            graph: Default::default(),
            label: 0.0,
            gflops: 1.0,
            params: 1,
        }
    }

    /// A grid ranks only its networks, and every family they belong to leaves training.
    #[test]
    fn grids_rank_their_networks_and_leave_their_families_out() {
        let samples = [
            sample("a1", "a"),
            sample("a2", "a"),
            sample("a3", "a"),
            sample("b1", "b"),
            sample("b2", "b"),
            sample("c1", "c"),
        ];
        let spec: LeaveFamilyOut = toml::from_str(
            "kind = \"leave-family-out\"\ndataset = \"d.aiopds\"\ntask = \"t\"\nepochs = 1\nmin_family = 2\n\
             [grids]\nab = [\"a1\", \"a2\", \"b1\"]\n",
        )
        .unwrap();
        let units = held_out_units(&spec, &samples).unwrap();
        assert_eq!(units.len(), 1);
        let unit = &units[0];
        let tested: Vec<&str> = samples
            .iter()
            .filter(|s| unit.tests(s))
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(tested, ["a1", "a2", "b1"]);
        let trained: Vec<&str> = samples
            .iter()
            .filter(|s| unit.trains(s))
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(trained, ["c1"]);
        assert_eq!(unit.key(), " grid a1,a2,b1");

        // without grids: the families of at least `min_family` networks
        let families = LeaveFamilyOut {
            grids: BTreeMap::new(),
            ..spec.clone()
        };
        let names: Vec<String> = held_out_units(&families, &samples)
            .unwrap()
            .into_iter()
            .map(|u| u.name)
            .collect();
        assert_eq!(names, ["a", "b"]);

        // unknown networks and one-network grids are errors that name the grid
        for grid in ["[\"a1\", \"zz\"]", "[\"a1\", \"a1\"]"] {
            let bad: LeaveFamilyOut = toml::from_str(&format!(
                "kind = \"leave-family-out\"\ndataset = \"d.aiopds\"\ntask = \"t\"\nepochs = 1\n[grids]\ng = {grid}\n"
            ))
            .unwrap();
            let error = held_out_units(&bad, &samples).err().unwrap().to_string();
            assert!(error.contains("grid `g`"), "{error}");
        }
    }
}
