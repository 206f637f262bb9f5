//! `aiop`: convert vision networks to computational graphs, inspect them, and predict their
//! task performance. The commands that train predictors (libtorch) need the default feature
//! `train`; `--no-default-features` builds the converter and the predictor runtime only.

mod commands;
mod plots;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// Conversion allocates many small strings and vectors; mimalloc frees them far faster than the
// system allocator (about 1.5× on large graphs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Convert vision networks (ONNX) to computational graphs with shapes, MACs and params.
#[derive(Parser)]
#[command(name = "aiop", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Convert a model (or a directory of models) to CG files.
    Convert(commands::convert::Args),
    /// Print a summary of a model or CG file.
    Inspect(commands::inspect::Args),
    /// Draw a model's CG as SVG or Graphviz DOT.
    Render(commands::render::Args),
    /// Build labelled CG datasets and print their statistics.
    Dataset(commands::dataset::Args),
    /// Generate networks of NAS search spaces (NAS-Bench-201, OFA-style elastic bodies) as ONNX or CG files.
    Zoo(commands::zoo::Args),
    #[cfg(feature = "train")]
    /// Pretrain the GNN predictor on a task of a dataset; scored on the held-out records.
    Train(commands::train::FitArgs),
    #[cfg(feature = "train")]
    /// Train a K-Adapter on another task beside a trained predictor's frozen backbone.
    Adapt(commands::train::StageArgs),
    #[cfg(feature = "train")]
    /// Fine-tune a predictor's backbone on a few labelled targets (adapters frozen).
    Finetune(commands::train::StageArgs),
    #[cfg(feature = "train")]
    /// Score a predictor on a new task: zero-shot and fine-tuned on k labelled targets; or run
    /// a whole evaluation protocol.
    Eval(commands::eval::Args),
    #[cfg(feature = "train")]
    /// Write a trained predictor as one ONNX file (runs without libtorch).
    Export(commands::export::Args),
    #[cfg(feature = "train")]
    /// Shared task heads with latent sampling: pseudo-labels for new tasks.
    Heads(commands::heads::Args),
    /// Predict the task performance of models with an exported (default: bundled) predictor.
    Predict(commands::predict::PredictArgs),
    /// Rank models by predicted performance (with true values: SRCC, Kendall τ, MAE).
    Rank(commands::predict::RankArgs),
    /// Describe a predictor file, or blend graph-statistics trees into it.
    Predictor(commands::predictor::Args),
    /// Search for cheaper networks that keep their predicted score (NAS-Bench-201 cells).
    Search(commands::search::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Panics are caught and reported as one-line errors (per model where a model caused them).
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(|| match cli.command {
        Command::Convert(a) => commands::convert::run(a),
        Command::Inspect(a) => commands::inspect::run(a),
        Command::Render(a) => commands::render::run(a),
        Command::Zoo(a) => commands::zoo::run(a),
        Command::Dataset(a) => commands::dataset::run(a),
        #[cfg(feature = "train")]
        Command::Train(a) => commands::train::run_train(a),
        #[cfg(feature = "train")]
        Command::Adapt(a) => commands::train::run_adapt(a),
        #[cfg(feature = "train")]
        Command::Finetune(a) => commands::train::run_finetune(a),
        #[cfg(feature = "train")]
        Command::Eval(a) => commands::eval::run(a),
        #[cfg(feature = "train")]
        Command::Export(a) => commands::export::run(a),
        #[cfg(feature = "train")]
        Command::Heads(a) => commands::heads::run(a),
        Command::Predict(a) => commands::predict::run_predict(a),
        Command::Rank(a) => commands::predict::run_rank(a),
        Command::Predictor(a) => commands::predictor::run(a),
        Command::Search(a) => commands::search::run(a),
    })
    .unwrap_or_else(|panic| {
        Err(anyhow::anyhow!(
            "internal error: {}",
            aiop_converter::load::panic_message(&panic)
        ))
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", commands::one_line(&format!("{e:#}")));
            ExitCode::from(commands::exit_code(&e))
        }
    }
}
