//! `aiop inspect`: a summary of a model (converted on the fly) or of a CG file.

use std::path::PathBuf;
use std::process::ExitCode;

use aiop_converter::cg::summary::summarize;
use anyhow::Result;

use super::{ModelOptions, emit, load_cg};

/// Arguments of `aiop inspect`.
#[derive(clap::Args)]
pub struct Args {
    /// A model file (.onnx) or a CG file (.json or binary).
    model: PathBuf,
    /// Print JSON (keys: nodes, edges, macs, flops, params, unknown_shapes, ops, stages, …).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    model_options: ModelOptions,
}

/// Runs `aiop inspect`.
pub fn run(args: Args) -> Result<ExitCode> {
    let cg = load_cg(&args.model, &args.model_options.to_options()?)?;
    let summary = summarize(&cg);
    if args.json {
        emit(&(serde_json::to_string_pretty(&summary)? + "\n"))?;
    } else {
        emit(&summary.to_text())?;
    }
    Ok(ExitCode::SUCCESS)
}
