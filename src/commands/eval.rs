//! `aiop eval`: a trained predictor on a new task, zero-shot and fine-tuned on k labelled
//! targets (the paper's protocol), beside the FLOPs and params baselines.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aiop_converter::files::Limit;
use aiop_trainer::data;
use aiop_trainer::defaults;
use aiop_trainer::eval::Evaluation;
use aiop_trainer::leave_family_out::{self, LeaveFamilyOut};
use aiop_trainer::leave_zoo_out::{self, LeaveZooOut};
use aiop_trainer::protocol::{self, Protocol, mean_std};
use aiop_trainer::train::TrainConfig;
use aiop_trainer::transfer::{TransferOptions, TransferRun, transfer};
use anyhow::{Context, Result, bail};

use super::emit;

/// Arguments of `aiop eval`.
#[derive(clap::Args)]
pub struct Args {
    /// A protocol file (TOML): pretraining, adapters, targets, methods, seeds; see
    /// `protocols/`. Runs everything and prints the tables.
    #[arg(long, conflicts_with_all = ["predictor", "dataset", "task"])]
    protocol: Option<PathBuf>,
    /// Where a protocol run caches its trained predictors (default: beside the protocol file,
    /// in `<name>.cache/`).
    #[arg(long, requires = "protocol")]
    cache: Option<PathBuf>,
    /// Also write the protocol's Markdown tables (and `.json` beside) to this file.
    #[arg(short, long, requires = "protocol")]
    output: Option<PathBuf>,
    /// Folder of a trained predictor.
    #[arg(long, required_unless_present = "protocol")]
    predictor: Option<PathBuf>,
    /// The target dataset (`.aiopds`).
    #[arg(required_unless_present = "protocol")]
    dataset: Option<PathBuf>,
    /// The target task.
    #[arg(long, required_unless_present = "protocol")]
    task: Option<String>,
    /// Labelled targets, drawn once with a fixed seed and left out of the test set.
    #[arg(long, default_value_t = defaults::TARGETS)]
    k: usize,
    /// Map outputs with Eq. 5 (FLOPs transform) as well as Eq. 4.
    #[arg(long)]
    flops_transform: bool,
    /// Fine-tuning epochs on the k targets (batch 1); 0: zero-shot only.
    #[arg(long, default_value_t = defaults::FINETUNE.epochs)]
    finetune_epochs: usize,
    /// Fine-tuning learning rate.
    #[arg(long, default_value_t = defaults::FINETUNE.lr)]
    lr: f64,
    /// Fine-tuning runs, seeded 0..N.
    #[arg(long, default_value_t = defaults::SEEDS)]
    seeds: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn row(name: &str, runs: &[&Evaluation]) -> String {
    let stat = |f: fn(&Evaluation) -> f64| mean_std(&runs.iter().map(|e| f(e)).collect::<Vec<_>>());
    let (mae, mae_sd) = stat(|e| e.mae);
    let (srcc, srcc_sd) = stat(|e| e.srcc);
    let (tau, tau_sd) = stat(|e| e.kendall);
    format!(
        "  {name:<12} {mae:>7.3} ± {mae_sd:<6.3} {srcc:>7.4} ± {srcc_sd:<6.4} {tau:>7.4} ± {tau_sd:.4}\n"
    )
}

/// Runs `aiop eval`.
pub fn run(args: Args) -> Result<ExitCode> {
    if let Some(file) = &args.protocol {
        return run_protocol(file, &args);
    }
    let (Some(predictor), Some(dataset), Some(task)) = (&args.predictor, &args.dataset, &args.task)
    else {
        bail!("--predictor, a dataset and --task are needed without --protocol");
    };
    let samples = data::load(dataset, task)?;
    let options = TransferOptions {
        k: args.k,
        flops_transform: args.flops_transform,
        finetune: (args.finetune_epochs > 0).then(|| TrainConfig {
            epochs: args.finetune_epochs,
            lr: args.lr,
            ..defaults::FINETUNE.config(0)
        }),
        seeds: (0..args.seeds.max(1)).collect(),
    };
    let device = aiop_trainer::default_device();
    let runs: Vec<TransferRun> = transfer(predictor, task, &samples, &options, device)?;
    if args.json {
        emit(&(serde_json::to_string_pretty(&runs)? + "\n"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let zero = &runs[0].zero_shot;
    let mut text = format!(
        "{} on `{}` of {}: {} labelled targets, {} test records\n  {:<12} {:>16} {:>16} {:>16}\n",
        predictor.display(),
        task,
        dataset.display(),
        args.k,
        zero.count,
        "",
        "MAE",
        "SRCC",
        "Kendall"
    );
    text += &row("zero-shot", &[zero]);
    let tuned: Vec<&Evaluation> = runs.iter().filter_map(|r| r.finetuned.as_ref()).collect();
    if !tuned.is_empty() {
        text += &row(&format!("fine-tuned×{}", tuned.len()), &tuned);
    }
    text += &format!(
        "  baselines    FLOPs SRCC {:.4}   params SRCC {:.4}\n",
        zero.flops_srcc, zero.params_srcc
    );
    emit(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs a protocol file and prints (and writes) its tables.
fn run_protocol(file: &Path, args: &Args) -> Result<ExitCode> {
    let text = aiop_converter::files::read_text_capped(file, Limit::Text.bytes())
        .with_context(|| format!("cannot read {}", file.display()))?;
    let invalid = || format!("{} is not a valid protocol", file.display());
    let kind = toml::from_str::<toml::Table>(&text)
        .with_context(invalid)?
        .get("kind")
        .and_then(|k| k.as_str().map(str::to_string));
    let base = file.parent().unwrap_or(Path::new("."));
    let cache = args
        .cache
        .clone()
        .unwrap_or_else(|| file.with_extension("cache"));
    let device = aiop_trainer::default_device();
    let log = |line: &str| eprintln!("{line}");
    let (markdown, seconds, json) = if kind.as_deref() == Some(leave_family_out::KIND) {
        let spec: LeaveFamilyOut = toml::from_str(&text).with_context(invalid)?;
        let report = leave_family_out::run(&spec, base, &cache, device, log)?;
        let json = serde_json::to_string_pretty(&report)?;
        (report.markdown(), report.seconds, json)
    } else if kind.as_deref() == Some(leave_zoo_out::KIND) {
        let spec: LeaveZooOut = toml::from_str(&text).with_context(invalid)?;
        let report = leave_zoo_out::run(&spec, base, &cache, device, log)?;
        let json = serde_json::to_string_pretty(&report)?;
        (report.markdown(), report.seconds, json)
    } else {
        let protocol: Protocol = toml::from_str(&text).with_context(invalid)?;
        let report = protocol::run(&protocol, base, &cache, device, log)?;
        let json = serde_json::to_string_pretty(&report)?;
        (report.markdown(), report.seconds, json)
    };
    let tables = format!(
        "## Protocol {}\n\n{markdown}({seconds:.0} s on {device:?})\n",
        file.display(),
    );
    let json = json + "\n";
    if let Some(out) = &args.output {
        std::fs::write(out, &tables).with_context(|| format!("cannot write {}", out.display()))?;
        std::fs::write(out.with_extension("json"), &json)?;
    }
    emit(if args.json { &json } else { &tables })?;
    Ok(ExitCode::SUCCESS)
}
