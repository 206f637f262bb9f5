//! `aiop train | adapt | finetune`: the three training stages of AIO-P on one task of a
//! dataset, each scored on the records it did not train on.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use aiop_datasets::split::{Split, TrainSize};
use aiop_predictor::LabelScaling;
use aiop_trainer::adaproxy::AdaProxyFit;
use aiop_trainer::data::{self, Sample};
use aiop_trainer::defaults;
use aiop_trainer::eval::evaluate_beside;
use aiop_trainer::model::ModelConfig;
use aiop_trainer::predictor::Predictor;
use aiop_trainer::protocol::ScalingKind;
use aiop_trainer::train::{Checkpoints, EpochReport, Hooks, RankPairs, TrainConfig, Validation};
use anyhow::{Result, bail};

use super::emit;
use crate::plots;

/// How labels become training targets.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Scaling {
    /// The labels as they are.
    None,
    /// Standardised (paper Eq. 4).
    Standard,
    /// Divided by the FLOPs term (Eq. 5), then standardised.
    Flops,
}

/// How `aiop finetune` adapts the predictor.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Method {
    /// Train the backbone (and the head when there are no adapters); adapters frozen.
    Backbone,
    /// Rescale the last layer's weights only (AdaProxy).
    Adaproxy,
}

/// `--rank-pairs`.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Pairs {
    /// Every pair of a minibatch.
    All,
    /// Pairs of networks of one family (the dataset's `family`).
    SameFamily,
}

impl From<Pairs> for RankPairs {
    fn from(p: Pairs) -> RankPairs {
        match p {
            Pairs::All => RankPairs::All,
            Pairs::SameFamily => RankPairs::SameFamily,
        }
    }
}

/// What every stage needs: data, split, scaling, optimisation, output.
#[derive(clap::Args)]
pub struct FitArgs {
    /// A `.aiopds` dataset.
    dataset: PathBuf,
    /// Task whose labels are learnt, e.g. `cifar10-top1`.
    #[arg(long)]
    task: String,
    /// Number of training records, seeded random (default: 80 % of them; 20 for finetune).
    #[arg(long)]
    train_count: Option<usize>,
    /// Fraction of records for training, seeded random.
    #[arg(long, conflicts_with = "train_count")]
    train_fraction: Option<f64>,
    /// Leave-family-out: these families (comma-separated) are the test set, the others train.
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["train_count", "train_fraction"])]
    test_families: Vec<String>,
    /// Score on at most this many of the held-out records (the first of the seeded order).
    #[arg(long)]
    test_limit: Option<usize>,
    #[arg(long, value_enum, default_value = "standard")]
    scaling: Scaling,
    /// Training epochs (default: 600 for train; 100 for adapt and finetune, as in the paper).
    #[arg(long)]
    epochs: Option<usize>,
    /// Graphs per step (default 32; 1 for finetune, as in the paper).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Adam learning rate, decayed by a half cosine (default: 3e-3; 1e-4 for finetune).
    #[arg(long)]
    lr: Option<f64>,
    /// Weight of the pairwise ranking term beside the squared error (default: 1 for train,
    /// 0 for adapt and finetune; 0 turns it off).
    #[arg(long)]
    rank_weight: Option<f64>,
    /// Which pairs the ranking term compares (default: same-family for train, all otherwise).
    #[arg(long, value_enum)]
    rank_pairs: Option<Pairs>,
    /// Seed of the split, the initial weights and the sample order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Seed of the split alone (default: `--seed`): members of an ensemble train with their
    /// own `--seed` on one split, so that its held-out records stay held out for all.
    #[arg(long)]
    split_seed: Option<u64>,
    /// Folder to save the predictor in (adapt/finetune: default the `--predictor` folder),
    /// with `history.csv` and plots of the run.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Score held-out records (at most 1,000) every N epochs (default: epochs / 25).
    #[arg(long)]
    validate_every: Option<usize>,
    /// Save a resumable checkpoint in OUTPUT/checkpoint every N epochs.
    #[arg(long, default_value_t = 10)]
    checkpoint_every: usize,
    /// Continue the interrupted run whose checkpoint is in OUTPUT/checkpoint (same settings).
    #[arg(long)]
    resume: bool,
    /// Fine-tuning method (finetune only): the backbone (paper), or AdaProxy's rescaling of
    /// the last layer (default then: 1000 epochs, learning rate 1e-3).
    #[arg(long, value_enum, default_value = "backbone")]
    method: Method,
    /// AdaProxy's L1 weight on its sparse vector (paper: 1e-5).
    #[arg(long, default_value_t = defaults::ADAPROXY_LAMBDA)]
    lambda: f64,
    /// Print the scores as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `aiop adapt` and `aiop finetune`: a trained predictor and what to fit next.
#[derive(clap::Args)]
pub struct StageArgs {
    /// Folder of a predictor saved by `aiop train` (or an earlier adapt/finetune).
    #[arg(long)]
    predictor: PathBuf,
    #[command(flatten)]
    fit: FitArgs,
}

/// Which stage runs.
enum Stage {
    Pretrain,
    Adapt(PathBuf),
    Finetune(PathBuf),
}

/// Runs `aiop train`: pretrains the backbone and its MLP head.
pub fn run_train(args: FitArgs) -> Result<ExitCode> {
    run(Stage::Pretrain, args)
}

/// Runs `aiop adapt`: trains a K-Adapter beside the frozen backbone.
pub fn run_adapt(args: StageArgs) -> Result<ExitCode> {
    run(Stage::Adapt(args.predictor), args.fit)
}

/// Runs `aiop finetune`: the backbone on a few labelled targets, adapters frozen.
pub fn run_finetune(args: StageArgs) -> Result<ExitCode> {
    run(Stage::Finetune(args.predictor), args.fit)
}

fn run(stage: Stage, args: FitArgs) -> Result<ExitCode> {
    let start = Instant::now();
    let samples = data::load(&args.dataset, &args.task)?;
    let (train, test) = split_samples(&samples, &args, &stage)?;
    let scaling = ScalingKind::from(args.scaling).fit(&train);
    let config = stage_config(&stage, &args);
    let output = match &stage {
        Stage::Pretrain => args.output.clone(),
        Stage::Adapt(dir) | Stage::Finetune(dir) => {
            Some(args.output.clone().unwrap_or_else(|| dir.clone()))
        }
    };
    if args.resume && output.is_none() {
        bail!("--resume needs the output folder (-o) of the interrupted run");
    }
    let bar = super::progress_bar(config.epochs, "epochs {msg}");
    let mut history = Vec::new();
    let mut last_srcc = None;
    let validation_set = &test[..test.len().min(VALIDATION_LIMIT)];
    let hooks = Hooks {
        validation: (!validation_set.is_empty()).then(|| {
            let every = args.validate_every.unwrap_or((config.epochs / 25).max(1));
            Validation::srcc(validation_set, scaling, every)
        }),
        checkpoints: output.as_ref().map(|dir| Checkpoints {
            dir: dir.join(CHECKPOINT_FOLDER),
            every: args.checkpoint_every,
            resume: args.resume,
        }),
        on_epoch: Some(Box::new(|r: &EpochReport| {
            last_srcc = r.validation_srcc.or(last_srcc);
            let srcc = last_srcc.map_or(String::new(), |s| format!("  validation SRCC {s:.4}"));
            bar.set_position(r.epoch as u64);
            bar.set_message(format!("loss {:.4}{srcc}", r.loss));
            history.push(r.clone());
        })),
    };
    let device = aiop_trainer::default_device();
    let (predictor, adaproxy_fit) = fit(stage, &args, &train, scaling, &config, device, hooks)?;
    bar.finish_and_clear();
    let predicted = predictor.predict(&test);
    let scores = (!test.is_empty()).then(|| evaluate_beside(&predicted, &test, &train));
    if let Some(dir) = &output {
        predictor.save(dir)?;
        write_run_files(dir, &args.task, &history, &test, &predicted)?;
    }
    let summary = RunSummary {
        train: train.len(),
        test: test.len(),
        epochs: config.epochs,
        seconds: start.elapsed().as_secs_f64(),
        device,
        scores,
    };
    emit(&if args.json {
        summary.json(&args.task, adaproxy_fit.as_ref(), &history)?
    } else {
        summary.text(&args, &history, output.as_deref())
    })?;
    Ok(ExitCode::SUCCESS)
}

impl From<Scaling> for ScalingKind {
    fn from(s: Scaling) -> ScalingKind {
        match s {
            Scaling::None => ScalingKind::Raw,
            Scaling::Standard => ScalingKind::Eq4,
            Scaling::Flops => ScalingKind::Eq45,
        }
    }
}

/// The training and test records: the families of `--test-families` held out, else a seeded
/// random split (80 % for training; 20 records when fine-tuning), the test side cut to
/// `--test-limit`.
fn split_samples<'a>(
    samples: &'a [Sample],
    args: &FitArgs,
    stage: &Stage,
) -> Result<(Vec<&'a Sample>, Vec<&'a Sample>)> {
    let rule = if args.test_families.is_empty() {
        let size = match (args.train_count, args.train_fraction) {
            (Some(n), _) => TrainSize::Count(n),
            (None, Some(f)) => TrainSize::Fraction(f),
            (None, None) if matches!(stage, Stage::Finetune(_)) => {
                TrainSize::Count(defaults::TARGETS)
            }
            (None, None) => TrainSize::Fraction(0.8),
        };
        Split::Random {
            size,
            seed: args.split_seed.unwrap_or(args.seed),
        }
    } else {
        Split::Families(args.test_families.clone())
    };
    let families: Vec<&str> = samples.iter().map(|s| s.family.as_str()).collect();
    let (train_idx, mut test_idx) = rule.apply(&families);
    test_idx.truncate(args.test_limit.unwrap_or(usize::MAX));
    if train_idx.is_empty() {
        bail!(
            "no training records ({} with `{}`)",
            samples.len(),
            args.task
        );
    }
    let pick = |idx: Vec<usize>| idx.into_iter().map(|i| &samples[i]).collect();
    Ok((pick(train_idx), pick(test_idx)))
}

/// Whether this run is AdaProxy's fine-tuning.
fn is_adaproxy(stage: &Stage, args: &FitArgs) -> bool {
    matches!(stage, Stage::Finetune(_)) && matches!(args.method, Method::Adaproxy)
}

/// The stage's training settings (`aiop_trainer::defaults`), overridden by the flags given.
fn stage_config(stage: &Stage, args: &FitArgs) -> TrainConfig {
    let stage_defaults = match stage {
        Stage::Pretrain => defaults::PRETRAIN,
        _ if is_adaproxy(stage, args) => defaults::ADAPROXY,
        Stage::Finetune(_) => defaults::FINETUNE,
        Stage::Adapt(_) => defaults::ADAPTER,
    };
    TrainConfig {
        epochs: args.epochs.unwrap_or(stage_defaults.epochs),
        batch_size: args.batch_size.unwrap_or(stage_defaults.batch_size),
        lr: args.lr.unwrap_or(stage_defaults.lr),
        rank_weight: args.rank_weight.unwrap_or(stage_defaults.rank_weight),
        rank_pairs: args
            .rank_pairs
            .map_or(stage_defaults.rank_pairs, RankPairs::from),
        ..stage_defaults.config(args.seed)
    }
}

/// Trains the stage: a new predictor, or the saved one with an adapter added, fine-tuned, or
/// rescaled by AdaProxy (whose fit is returned too).
fn fit(
    stage: Stage,
    args: &FitArgs,
    train: &[&Sample],
    scaling: LabelScaling,
    config: &TrainConfig,
    device: aiop_trainer::Device,
    hooks: Hooks,
) -> Result<(Predictor, Option<AdaProxyFit>)> {
    let adaproxy = is_adaproxy(&stage, args);
    let finetuning = matches!(stage, Stage::Finetune(_));
    let task = &args.task;
    Ok(match stage {
        Stage::Pretrain => {
            let model = ModelConfig::default();
            let p = Predictor::pretrain(model, task, train, scaling, config, device, hooks)?;
            (p.0, None)
        }
        Stage::Adapt(dir) | Stage::Finetune(dir) => {
            let mut p = Predictor::load(&dir, device)?;
            let mut fitted = None;
            if adaproxy {
                drop(hooks);
                fitted = Some(p.adaproxy(task, train, scaling, config, args.lambda)?);
            } else if finetuning {
                p.finetune(task, train, scaling, config, hooks)?;
            } else {
                p.add_adapter(task, train, scaling, config, hooks)?;
            }
            (p, fitted)
        }
    })
}

/// What a finished run reports.
struct RunSummary {
    train: usize,
    test: usize,
    epochs: usize,
    seconds: f64,
    device: aiop_trainer::Device,
    scores: Option<aiop_trainer::eval::Evaluation>,
}

impl RunSummary {
    /// What `aiop train --json` prints.
    fn json(
        &self,
        task: &str,
        adaproxy: Option<&AdaProxyFit>,
        history: &[EpochReport],
    ) -> Result<String> {
        let out = serde_json::json!({
            "task": task, "train": self.train, "test": self.test,
            "seconds": self.seconds, "device": format!("{:?}", self.device),
            "scores": self.scores, "adaproxy": adaproxy, "history": history,
        });
        Ok(serde_json::to_string_pretty(&out)? + "\n")
    }

    /// The lines `aiop train` prints.
    fn text(&self, args: &FitArgs, history: &[EpochReport], output: Option<&Path>) -> String {
        let seconds: Vec<f64> = history.iter().map(|r| r.seconds).collect();
        let mean_epoch = seconds.iter().sum::<f64>() / seconds.len().max(1) as f64;
        let mut text = format!(
            "{}: trained on {} records of `{}` ({} epochs, {:.2} s each, {:?}) in {:.1?}\n",
            args.dataset.display(),
            self.train,
            args.task,
            self.epochs,
            mean_epoch,
            self.device,
            std::time::Duration::from_secs_f64(self.seconds)
        );
        if let Some(s) = &self.scores {
            text += &format!(
                "test ({} records): SRCC {:.4}  Kendall {:.4}  MAE {:.3}  | FLOPs SRCC {:.4}  params SRCC {:.4}",
                s.count, s.srcc, s.kendall, s.mae, s.flops_srcc, s.params_srcc
            );
            if let (Some(srcc), Some(mae)) = (s.stats_srcc, s.stats_mae) {
                text += &format!("  graph-statistics regressor SRCC {srcc:.4} MAE {mae:.3}");
            }
            text += "\n";
        }
        if let Some(dir) = output {
            text += &format!(
                "saved to {} (with history.csv, training.svg, test-scatter.svg)\n",
                dir.display()
            );
        }
        text
    }
}

/// Held-out records scored during training (for the progress bar and the curves).
const VALIDATION_LIMIT: usize = 1000;
/// Subfolder of the output folder that holds the checkpoint of an unfinished run.
const CHECKPOINT_FOLDER: &str = "checkpoint";

/// `history.csv` and the plots of a finished run.
fn write_run_files(
    dir: &Path,
    task: &str,
    history: &[EpochReport],
    test: &[&Sample],
    predicted: &[f64],
) -> Result<()> {
    if !history.is_empty() {
        let mut csv = csv::Writer::from_path(dir.join("history.csv"))?;
        csv.write_record(["epoch", "loss", "lr", "seconds", "validation_srcc"])?;
        for r in history {
            csv.write_record([
                r.epoch.to_string(),
                r.loss.to_string(),
                r.lr.to_string(),
                r.seconds.to_string(),
                r.validation_srcc.map_or(String::new(), |s| s.to_string()),
            ])?;
        }
        csv.flush()?;
        plots::training_curves(
            history,
            &format!("training on {task}"),
            &dir.join("training.svg"),
        )?;
    }
    if !test.is_empty() {
        let truth: Vec<f64> = test.iter().map(|s| s.label).collect();
        plots::scatter(
            &truth,
            predicted,
            &format!("{} held-out networks", test.len()),
            task,
            &dir.join("test-scatter.svg"),
        )?;
    }
    Ok(())
}
