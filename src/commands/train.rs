//! `aiop train`: train the GNN predictor on one task of a dataset and score it on the rest.

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

/// Arguments of `aiop train`.
#[derive(clap::Args)]
pub struct Args {
    /// A `.aiopds` dataset.
    dataset: PathBuf,
    /// Task whose labels are learnt, e.g. `cifar10-top1`.
    #[arg(long)]
    task: String,
    /// Number of training records (seeded random); the others are the test set.
    #[arg(long, conflicts_with = "train_fraction")]
    train_count: Option<usize>,
    /// Fraction of records for training (seeded random).
    #[arg(long, default_value_t = 0.8)]
    train_fraction: f64,
    #[arg(long, value_enum, default_value = "standard")]
    scaling: Scaling,
    #[arg(long, default_value_t = 100)]
    epochs: usize,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Seed of the split, the initial weights and the sample order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Score on at most this many of the held-out records (the first of the seeded order).
    #[arg(long)]
    test_limit: Option<usize>,
    /// Folder to save the trained predictor in.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Print the scores as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `aiop train`.
pub fn run(args: Args) -> Result<ExitCode> {
    let start = Instant::now();
    let samples = data::load(&args.dataset, &args.task)?;
    let size = args
        .train_count
        .map_or(TrainSize::Fraction(args.train_fraction), TrainSize::Count);
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
    let config = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        lr: args.lr,
        seed: args.seed,
    };
    let device = aiop_trainer::default_device();
    let mut predictor = Predictor::new(ModelConfig::default(), &args.task, scaling, config, device);
    let bar = ProgressBar::new(args.epochs as u64).with_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} epoch {pos}/{len} {msg}",
        )
        .expect("valid template"),
    );
    predictor.train(&train, |_, loss| {
        bar.set_message(format!("loss {loss:.4}"));
        bar.inc(1);
    })?;
    bar.finish_and_clear();
    if let Some(dir) = &args.output {
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
        args.epochs,
        start.elapsed()
    );
    if let Some(s) = scores {
        text += &format!(
            "test ({} records): SRCC {:.4}  Kendall {:.4}  MAE {:.3}  | FLOPs SRCC {:.4}  params SRCC {:.4}\n",
            s.count, s.srcc, s.kendall, s.mae, s.flops_srcc, s.params_srcc
        );
    }
    if let Some(dir) = &args.output {
        text += &format!("saved to {}\n", dir.display());
    }
    emit(&text)?;
    Ok(ExitCode::SUCCESS)
}
