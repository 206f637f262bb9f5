//! `aiop train | adapt | finetune`: the three training stages of AIO-P on one task of a
//! dataset, each scored on the records it did not train on.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use aiop_converter::dataset::split::{self, TrainSize};
use aiop_predictor::LabelScaling;
use aiop_trainer::data::{self, Sample};
use aiop_trainer::eval::evaluate;
use aiop_trainer::model::ModelConfig;
use aiop_trainer::predictor::Predictor;
use aiop_trainer::train::TrainConfig;
use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};

use super::emit;

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
    /// Score on at most this many of the held-out records (the first of the seeded order).
    #[arg(long)]
    test_limit: Option<usize>,
    #[arg(long, value_enum, default_value = "standard")]
    scaling: Scaling,
    /// Training epochs (default: 300 for train, 100 for adapt and finetune, as in the paper).
    #[arg(long)]
    epochs: Option<usize>,
    /// Graphs per step (default 32; 1 for finetune, as in the paper).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Adam learning rate, decayed by a half cosine (default: 3e-3; 1e-4 for finetune).
    #[arg(long)]
    lr: Option<f64>,
    /// Seed of the split, the initial weights and the sample order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Folder to save the predictor in (adapt/finetune: default the `--predictor` folder).
    #[arg(short, long)]
    output: Option<PathBuf>,
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
    let finetuning = matches!(stage, Stage::Finetune(_));
    let samples = data::load(&args.dataset, &args.task)?;
    let size = match (args.train_count, args.train_fraction) {
        (Some(n), _) => TrainSize::Count(n),
        (None, Some(f)) => TrainSize::Fraction(f),
        (None, None) if finetuning => TrainSize::Count(20),
        (None, None) => TrainSize::Fraction(0.8),
    };
    let (train_idx, mut test_idx) = split::random(samples.len(), size, args.seed);
    test_idx.truncate(args.test_limit.unwrap_or(usize::MAX));
    if train_idx.is_empty() {
        bail!(
            "no training records ({} with `{}`)",
            samples.len(),
            args.task
        );
    }
    let train: Vec<&Sample> = train_idx.iter().map(|&i| &samples[i]).collect();
    let test: Vec<&Sample> = test_idx.iter().map(|&i| &samples[i]).collect();
    let pairs: Vec<(f64, f64)> = train.iter().map(|s| (s.label, s.gflops)).collect();
    let scaling = match args.scaling {
        Scaling::None => LabelScaling::IDENTITY,
        Scaling::Standard => LabelScaling::fit(&pairs, false),
        Scaling::Flops => LabelScaling::fit(&pairs, true),
    };
    let pretraining = matches!(stage, Stage::Pretrain);
    let epochs = args.epochs.unwrap_or(if pretraining { 300 } else { 100 });
    let config = TrainConfig {
        epochs,
        batch_size: args.batch_size.unwrap_or(if finetuning { 1 } else { 32 }),
        lr: args.lr.unwrap_or(if finetuning { 1e-4 } else { 3e-3 }),
        seed: args.seed,
        schedule: Default::default(),
    };
    let device = aiop_trainer::default_device();
    let bar = ProgressBar::new(epochs as u64).with_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} epoch {pos}/{len} {msg}",
        )
        .expect("valid template"),
    );
    let on_epoch = |_, loss: f64| {
        bar.set_message(format!("loss {loss:.4}"));
        bar.inc(1);
    };
    let (predictor, output) = match stage {
        Stage::Pretrain => {
            let p = Predictor::pretrain(
                ModelConfig::default(),
                &args.task,
                &train,
                scaling,
                &config,
                device,
                on_epoch,
            )?;
            (p, args.output.clone())
        }
        Stage::Adapt(dir) | Stage::Finetune(dir) => {
            let mut p = Predictor::load(&dir, device)?;
            if finetuning {
                p.finetune(&args.task, &train, scaling, &config, on_epoch)?;
            } else {
                p.add_adapter(&args.task, &train, scaling, &config, on_epoch)?;
            }
            (p, Some(args.output.clone().unwrap_or(dir)))
        }
    };
    bar.finish_and_clear();
    if let Some(dir) = &output {
        predictor.save(dir)?;
    }
    let scores = (!test.is_empty()).then(|| evaluate(&predictor.predict(&test), &test));
    if args.json {
        let out = serde_json::json!({
            "task": args.task, "train": train.len(), "test": test.len(),
            "seconds": start.elapsed().as_secs_f64(), "device": format!("{device:?}"),
            "scores": scores,
        });
        emit(&(serde_json::to_string_pretty(&out)? + "\n"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = format!(
        "{}: trained on {} records of `{}` ({} epochs, {device:?}) in {:.1?}\n",
        args.dataset.display(),
        train.len(),
        args.task,
        epochs,
        start.elapsed()
    );
    if let Some(s) = scores {
        text += &format!(
            "test ({} records): SRCC {:.4}  Kendall {:.4}  MAE {:.3}  | FLOPs SRCC {:.4}  params SRCC {:.4}\n",
            s.count, s.srcc, s.kendall, s.mae, s.flops_srcc, s.params_srcc
        );
    }
    if let Some(dir) = &output {
        text += &format!("saved to {}\n", dir.display());
    }
    emit(&text)?;
    Ok(ExitCode::SUCCESS)
}
