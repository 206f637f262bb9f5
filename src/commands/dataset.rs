//! `aiop dataset`: build labelled CG datasets and summarise them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use aiop_converter::dataset::{Reader, Record, Writer, stats};
use aiop_converter::zoo::nb201::{Cell, Skeleton, build};
use aiop_converter::{ConvertOptions, convert_onnx_bytes};
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use super::emit;

/// Arguments of `aiop dataset`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Build a dataset from a search space and its published labels.
    Build {
        #[command(subcommand)]
        source: Source,
    },
    /// Counts per task, label ranges, node-count histogram, FLOPs/params SRCC baselines.
    Stats {
        /// A `.aiopds` dataset file.
        dataset: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Subcommand)]
enum Source {
    /// All 15,625 NAS-Bench-201 cells (CIFAR-10 skeleton) labelled with NATS-Bench 200-epoch
    /// test accuracy on CIFAR-10/100 and ImageNet16-120 and the AnalogNAS-Bench CIFAR-10 columns.
    Nb201 {
        /// Output dataset (`.aiopds`).
        #[arg(short, long)]
        output: PathBuf,
        /// Labelled data folder (default: `AIOP_DATA` or `../shared/data`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Only the first N cells (for a quick look).
        #[arg(long)]
        limit: Option<usize>,
    },
}

/// Runs `aiop dataset`.
pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Command::Build {
            source:
                Source::Nb201 {
                    output,
                    data_dir,
                    limit,
                },
        } => build_nb201(&output, &data_dir.unwrap_or_else(default_data_dir), limit),
        Command::Stats { dataset, json } => {
            let file = std::fs::File::open(&dataset)
                .with_context(|| format!("cannot open {}", dataset.display()))?;
            let reader = Reader::new(std::io::BufReader::new(file))
                .with_context(|| format!("{}", dataset.display()))?;
            let description = reader.header.description.clone();
            let records: Vec<Record> = reader
                .collect::<Result<_, _>>()
                .with_context(|| format!("{}", dataset.display()))?;
            let s = stats::compute(&records);
            if json {
                emit(&(serde_json::to_string_pretty(&s)? + "\n"))?;
            } else {
                emit(&format!(
                    "{} — {description}\n{}",
                    dataset.display(),
                    s.to_text()
                ))?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `AIOP_DATA`, else the `shared/data` folder next to the working directory's checkout.
fn default_data_dir() -> PathBuf {
    std::env::var_os("AIOP_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/data"))
}

/// Reads a CSV into `key column → (column → value)` for the numeric columns.
fn labels_by(
    path: &Path,
    key: &str,
    prefix: &str,
    rename: &dyn Fn(&str) -> Option<String>,
) -> Result<HashMap<String, Vec<(String, f64)>>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let key_at = headers
        .iter()
        .position(|h| h == key)
        .with_context(|| format!("{}: no column {key}", path.display()))?;
    let mut out = HashMap::new();
    for row in reader.records() {
        let row = row?;
        let labels = headers
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != key_at)
            .filter_map(|(i, h)| {
                Some((
                    format!("{prefix}{}", rename(h)?),
                    row.get(i)?.parse::<f64>().ok()?,
                ))
            })
            .collect();
        out.insert(row[key_at].to_string(), labels);
    }
    Ok(out)
}

fn build_nb201(output: &Path, data: &Path, limit: Option<usize>) -> Result<ExitCode> {
    let start = Instant::now();
    let nats = labels_by(
        &data.join("nb201/nats_tss_200ep_test_acc.csv"),
        "ArchitectureString",
        "",
        &|h| {
            Some(
                match h {
                    "CIFAR10TestAccuracy200Epochs" => "cifar10-top1",
                    "CIFAR100TestAccuracy200Epochs" => "cifar100-top1",
                    "ImageNetTestAccuracy200Epochs" => "imagenet16-120-top1",
                    _ => return None,
                }
                .to_string(),
            )
        },
    )?;
    let analog = labels_by(
        &data.join("nb201/analognasbench_nb201_cifar10.csv"),
        "nb201_arch_str",
        "cifar10-analognas-",
        &|h| (h != "op_indices").then(|| h.replace('_', "-")),
    )?;
    let cells: Vec<Cell> = Cell::all().take(limit.unwrap_or(usize::MAX)).collect();
    let bar = ProgressBar::new(cells.len() as u64).with_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} cells ({per_sec}) {eta}",
        )
        .expect("valid template"),
    );
    let skeleton = Skeleton::default();
    let records: Vec<Record> = cells
        .par_iter()
        .map(|cell| -> Result<Record> {
            let arch = cell.to_string();
            let onnx = build(cell, &skeleton).to_bytes();
            let cg = convert_onnx_bytes(onnx.into(), &arch, &ConvertOptions::default())?;
            let mut record = Record::new(
                &cg,
                "nb201",
                "aiop zoo nb201 (CIFAR-10 skeleton)",
                skeleton.resolution as u32,
            );
            for (task, value) in nats
                .get(&arch)
                .into_iter()
                .chain(analog.get(&arch))
                .flatten()
            {
                record.labels.insert(task.clone(), *value);
            }
            bar.inc(1);
            Ok(record)
        })
        .collect::<Result<_>>()?;
    bar.finish_and_clear();
    let unlabelled = records.iter().filter(|r| r.labels.is_empty()).count();
    if unlabelled == records.len() {
        bail!("no cell matched the label files in {}", data.display());
    }
    let dir = output
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    let mut writer = Writer::new(
        std::io::BufWriter::new(tmp),
        "NAS-Bench-201: all cells, CIFAR-10 skeleton (16 channels, 5 cells/stage, 32×32, 10 classes); labels: NATS-Bench 200-epoch test accuracy, AnalogNAS-Bench CIFAR-10",
    )?;
    for r in &records {
        writer.write(r)?;
    }
    let tmp = writer.finish()?.into_inner().map_err(|e| e.into_error())?;
    tmp.persist(output)
        .with_context(|| format!("cannot write {}", output.display()))?;
    let size = std::fs::metadata(output)?.len();
    emit(&format!(
        "{}: {} cells ({} without labels), {:.1} MB, built in {:.1?}\n",
        output.display(),
        records.len(),
        unlabelled,
        size as f64 / 1e6,
        start.elapsed()
    ))?;
    Ok(ExitCode::SUCCESS)
}
