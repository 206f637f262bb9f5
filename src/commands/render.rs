//! `aiop render`: a picture of a model's CG (SVG or Graphviz DOT).

use std::path::PathBuf;
use std::process::ExitCode;

use aiop_converter::render::{RenderOptions, to_dot, to_svg};
use anyhow::{Result, bail};

use super::{ModelOptions, emit, load_cg, write_atomic};

/// Arguments of `aiop render`.
#[derive(clap::Args)]
pub struct Args {
    /// A model file (.onnx) or a CG file.
    model: PathBuf,
    /// Output picture: `.svg` or `.dot`.
    #[arg(short, long)]
    output: PathBuf,
    /// Draw every node instead of collapsing linear chains.
    #[arg(long)]
    no_collapse: bool,
    /// Draw at most this many boxes.
    #[arg(long, default_value_t = 2000)]
    max_boxes: usize,
    #[command(flatten)]
    model_options: ModelOptions,
}

/// Runs `aiop render`.
pub fn run(args: Args) -> Result<ExitCode> {
    let cg = load_cg(&args.model, &args.model_options.to_options()?)?;
    let opts = RenderOptions {
        collapse_chains: !args.no_collapse,
        max_boxes: args.max_boxes,
    };
    let text = match args.output.extension().and_then(|e| e.to_str()) {
        Some("svg") => to_svg(&cg, &opts),
        Some("dot") | Some("gv") => to_dot(&cg, &opts),
        _ => bail!(
            "render writes .svg or .dot files, not {}",
            args.output.display()
        ),
    };
    write_atomic(&args.output, text.as_bytes())?;
    emit(&format!(
        "{} → {}\n",
        args.model.display(),
        args.output.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}
