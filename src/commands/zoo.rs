//! `aiop zoo`: networks of NAS search spaces, written as ONNX models or converted CGs.

use std::path::PathBuf;
use std::process::ExitCode;

use aiop_converter::zoo::nb201::{Cell, Skeleton, build};
use aiop_converter::{ConvertOptions, convert_onnx_bytes};
use anyhow::{Context, Result};

use super::{emit, encode_for, write_atomic};

/// Arguments of `aiop zoo`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    space: Space,
}

#[derive(clap::Subcommand)]
enum Space {
    /// A NAS-Bench-201 network, e.g.
    /// `|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|`.
    Nb201 {
        /// The architecture string.
        arch: String,
        /// Output: `.onnx` writes the model; `.json` or any other extension the converted CG.
        #[arg(short, long)]
        output: PathBuf,
        /// Classifier outputs (10 for CIFAR-10, 100 for CIFAR-100, 120 for ImageNet16-120).
        #[arg(long, default_value_t = 10)]
        classes: i64,
        /// Input height and width (32 for CIFAR, 16 for ImageNet16-120).
        #[arg(long, default_value_t = 32)]
        resolution: i64,
    },
}

/// Runs `aiop zoo`.
pub fn run(args: Args) -> Result<ExitCode> {
    match args.space {
        Space::Nb201 {
            arch,
            output,
            classes,
            resolution,
        } => {
            let cell: Cell = arch.parse()?;
            let skeleton = Skeleton {
                classes,
                resolution,
                ..Skeleton::default()
            };
            let onnx = build(&cell, &skeleton).to_bytes();
            let bytes = if output.extension().is_some_and(|e| e == "onnx") {
                onnx
            } else {
                let name = output
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("nb201")
                    .trim_end_matches(".cg");
                let cg = convert_onnx_bytes(onnx.into(), name, &ConvertOptions::default())
                    .context("converting the generated network")?;
                encode_for(&output, &cg)
            };
            write_atomic(&output, &bytes)?;
            emit(&format!("{cell} → {}\n", output.display()))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
