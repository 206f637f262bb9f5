//! `aiop zoo`: networks of NAS search spaces, written as ONNX models or converted CGs.

use std::path::PathBuf;
use std::process::ExitCode;

use aiop_converter::{ConvertOptions, convert_onnx_bytes};
use aiop_datasets::spaces::nb201::{Cell, Skeleton, build};
use aiop_datasets::spaces::ofa::onnx::{self as ofa_onnx, Head};
use aiop_datasets::spaces::ofa::{Body, Family};
use anyhow::{Context, Result, anyhow};

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
    /// Once-for-all style elastic bodies (`mbv3`, `resnet`) with a task head, written as
    /// `<body>.<head>.onnx` files: the largest body, or `--count` random ones from `--seed`.
    Ofa {
        /// The search space: `mbv3` or `resnet`.
        #[arg(long, value_parser = parse_family)]
        family: Family,
        /// The task head: `classification`, `pose` or `segmentation`.
        #[arg(long, value_parser = parse_head)]
        head: Head,
        /// Write the largest body (the supernet) instead of random ones.
        #[arg(long, conflicts_with_all = ["seed", "count"])]
        largest: bool,
        /// Seed of the random bodies.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Number of random bodies.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        count: u32,
        /// Input height and width (a multiple of 32, at most 1024).
        #[arg(long, default_value_t = 64)]
        resolution: i64,
        /// Output folder (created if missing).
        #[arg(short, long)]
        output: PathBuf,
    },
}

fn parse_family(name: &str) -> std::result::Result<Family, String> {
    Family::from_name(name).ok_or_else(|| format!("`{name}` is not mbv3 or resnet"))
}

fn parse_head(name: &str) -> std::result::Result<Head, String> {
    Head::from_name(name)
        .ok_or_else(|| format!("`{name}` is not classification, pose or segmentation"))
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
        Space::Ofa {
            family,
            head,
            largest,
            seed,
            count,
            resolution,
            output,
        } => {
            let bodies: Vec<Body> = if largest {
                vec![family.largest()]
            } else {
                ofa_onnx::sample_bodies(family, seed, count as usize)
            };
            // every model first: a bad resolution leaves no folder behind
            let models = bodies
                .iter()
                .map(|body| ofa_onnx::build(body, head, resolution).map_err(|e| anyhow!(e)))
                .collect::<Result<Vec<_>>>()?;
            std::fs::create_dir_all(&output)
                .with_context(|| format!("cannot create {}", output.display()))?;
            for (body, model) in bodies.iter().zip(&models) {
                let path = output.join(format!("{}.{}.onnx", body.name(), head.name()));
                write_atomic(&path, &model.to_bytes())?;
                emit(&format!("{}\n", path.display()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
