//! `aiop dataset`: build labelled CG datasets and summarise them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use aiop_datasets::benchmarks;
use aiop_datasets::labels::{LabelTable, Zoo, read_columns};
use aiop_datasets::models::{file_stem, model_record, read_manifest};
use aiop_datasets::spaces::nb201::{Cell, Skeleton};
use aiop_datasets::split::{self, TrainSize};
use aiop_datasets::{Reader, Record, Writer, stats};
use anyhow::{Context, Result, bail};
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
    /// Add labels from a CSV (with a header) to the records whose name matches its key column.
    JoinLabels {
        /// A `.aiopds` dataset file.
        dataset: PathBuf,
        /// CSV file with a header row.
        csv: PathBuf,
        /// Column holding the record name.
        #[arg(long, default_value = "name")]
        key: String,
        /// `COLUMN=TASK` pairs: the column's numbers become labels of that task (repeatable).
        #[arg(long = "task", value_name = "COLUMN=TASK", required = true)]
        tasks: Vec<String>,
        /// Output dataset (default: overwrite the input).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Split a dataset into OUTDIR/train.aiopds and OUTDIR/test.aiopds (seeded).
    Split {
        /// A `.aiopds` dataset file.
        dataset: PathBuf,
        /// Output folder.
        #[arg(short, long)]
        output: PathBuf,
        /// Fraction of records for training (random split).
        #[arg(long, default_value_t = 0.8)]
        train: f64,
        /// Exact number of training records (random split), e.g. 1000 for NB-201.
        #[arg(long, conflicts_with = "test_families")]
        train_count: Option<usize>,
        /// Leave-family-out: these families (comma-separated) form the test set.
        #[arg(long, value_delimiter = ',')]
        test_families: Vec<String>,
        /// Seed of the random split.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Write the encoded graphs of one task as tensors (safetensors), for other frameworks,
    /// e.g. the PyTorch Geometric reference in `tools/reference/`.
    #[cfg(feature = "train")]
    Tensors {
        /// A `.aiopds` dataset file.
        dataset: PathBuf,
        /// Records with a label of this task.
        #[arg(long)]
        task: String,
        /// Output file (`.safetensors`).
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Write the records labelled with one task as CG files (`<name>.cg`) beside a
    /// `labels.csv` (`name,value`), for `aiop rank DIR --labels DIR/labels.csv`. With
    /// `--held-out`, only the records `aiop train|adapt --seed S` leaves out of training (the
    /// seeded `1 − F` of the records carrying the label).
    Export {
        /// A `.aiopds` dataset file.
        dataset: PathBuf,
        /// Records with a label of this task.
        #[arg(long)]
        task: String,
        /// Output folder.
        #[arg(short, long)]
        output: PathBuf,
        /// Only the held-out side of the seeded random split of training.
        #[arg(long)]
        held_out: bool,
        /// Fraction of the labelled records the training side had.
        #[arg(long, default_value_t = 0.8)]
        train: f64,
        /// Seed of that split (`aiop train --split-seed`, else `--seed`).
        #[arg(long, default_value_t = 0)]
        seed: u64,
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
        /// Labelled data folder (default: `AIOP_DATA`, else the checkout's `data/`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Only the first N cells (for a quick look).
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Every model file under a directory (a zoo export), labelled from a zoo's published
    /// results with `--labels` (or later with `join-labels`). The names and families in the
    /// exporter's `manifest.json` are used when present. Files that fail to convert are
    /// reported and left out.
    Models {
        /// Directory searched recursively for `.onnx` files.
        dir: PathBuf,
        /// Output dataset (`.aiopds`).
        #[arg(short, long)]
        output: PathBuf,
        /// Family of every record; default: the manifest's, else the leading letters of each
        /// model's name (`resnet50` → `resnet`, `efficientnet_b0` → `efficientnet`).
        #[arg(long)]
        family: Option<String>,
        /// Label the records from this zoo's results: timm, torchvision, mmseg, mmdet, mmpose.
        #[arg(long)]
        labels: Option<Zoo>,
        /// Labelled data folder (default: `AIOP_DATA`, else the checkout's `data/`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[command(flatten)]
        model_options: super::ModelOptions,
    },
}

/// Runs `aiop dataset`.
pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Command::Build { source } => build(source),
        Command::JoinLabels {
            dataset,
            csv,
            key,
            tasks,
            output,
        } => join_labels(&dataset, &csv, &key, &tasks, output.as_deref()),
        Command::Split {
            dataset,
            output,
            train,
            train_count,
            test_families,
            seed,
        } => {
            let size = train_count.map_or(TrainSize::Fraction(train), TrainSize::Count);
            split_dataset(&dataset, &output, size, &test_families, seed)
        }
        Command::Stats { dataset, json } => print_stats(&dataset, json),
        Command::Export {
            dataset,
            task,
            output,
            held_out,
            train,
            seed,
        } => {
            let split = held_out.then_some((TrainSize::Fraction(train), seed));
            export_records(&dataset, &task, &output, split)
        }
        #[cfg(feature = "train")]
        Command::Tensors {
            dataset,
            task,
            output,
        } => {
            let samples = aiop_trainer::data::load(&dataset, &task)?;
            aiop_trainer::data::write_tensors(&samples, &output)?;
            eprintln!("{} graphs written to {}", samples.len(), output.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `aiop dataset build`.
fn build(source: Source) -> Result<ExitCode> {
    match source {
        Source::Nb201 {
            output,
            data_dir,
            limit,
        } => build_nb201(&output, &data_dir.unwrap_or_else(default_data_dir), limit),
        Source::Models {
            dir,
            output,
            family,
            labels,
            data_dir,
            model_options,
        } => {
            let labels = labels
                .map(|zoo| {
                    let data = data_dir.unwrap_or_else(default_data_dir);
                    zoo.read(&data).map(|table| (zoo, table))
                })
                .transpose()?;
            build_models(
                &dir,
                &output,
                family.as_deref(),
                labels.as_ref(),
                &model_options.to_options()?,
            )
        }
    }
}

/// A dataset file opened for reading its records one at a time (streamed: a small file that
/// decompresses to gigabytes never sits in memory whole).
pub fn open_dataset(path: &Path) -> Result<Reader<std::io::BufReader<std::fs::File>>> {
    let file = aiop_converter::files::open_regular(path, true)
        .with_context(|| format!("cannot open {}", path.display()))?;
    Reader::new(std::io::BufReader::new(file)).with_context(|| format!("{}", path.display()))
}

/// Each record of the dataset at `path` with the file named in its error.
fn records_of(
    path: &Path,
    reader: Reader<std::io::BufReader<std::fs::File>>,
) -> impl Iterator<Item = Result<Record>> + '_ {
    reader.map(move |r| r.with_context(|| format!("{}", path.display())))
}

/// Writes a dataset file through a temporary file in the same folder (no partial files).
fn write_dataset<'a>(
    path: &Path,
    description: &str,
    records: impl IntoIterator<Item = &'a Record>,
) -> Result<()> {
    super::persist(staged_dataset(path, description, records)?, path)
}

/// The dataset written to a temporary file beside `path`, not yet in place.
fn staged_dataset<'a>(
    path: &Path,
    description: &str,
    records: impl IntoIterator<Item = &'a Record>,
) -> Result<tempfile::NamedTempFile> {
    let mut writer = staged_writer(path, description)?;
    for r in records {
        writer.write(r)?;
    }
    finish_staged(writer)
}

/// A dataset writer into a temporary file beside `path` ([`finish_staged`] ends it).
type StagedWriter = Writer<std::io::BufWriter<tempfile::NamedTempFile>>;

fn staged_writer(path: &Path, description: &str) -> Result<StagedWriter> {
    let tmp = super::temp_beside(path)?;
    Ok(Writer::new(std::io::BufWriter::new(tmp), description)?)
}

/// The temporary file of a finished [`StagedWriter`], for [`super::persist`].
fn finish_staged(writer: StagedWriter) -> Result<tempfile::NamedTempFile> {
    Ok(writer.finish()?.into_inner().map_err(|e| e.into_error())?)
}

/// `AIOP_DATA`, else the vendored `data/` folder of the checkout this binary was built from.
fn default_data_dir() -> PathBuf {
    std::env::var_os("AIOP_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("data"))
}

fn build_nb201(output: &Path, data: &Path, limit: Option<usize>) -> Result<ExitCode> {
    let start = Instant::now();
    let labels = benchmarks::nb201_labels(data)?;
    let cells: Vec<Cell> = Cell::all().take(limit.unwrap_or(usize::MAX)).collect();
    let bar = super::progress_bar(cells.len(), "cells ({per_sec}) {eta}");
    let skeleton = Skeleton::default();
    let records: Vec<Record> = cells
        .par_iter()
        .map(|cell| {
            let record = benchmarks::nb201_record(cell, &skeleton, &labels);
            bar.inc(1);
            record
        })
        .collect::<Result<_, _>>()?;
    bar.finish_and_clear();
    let unlabelled = records.iter().filter(|r| r.labels.is_empty()).count();
    if unlabelled == records.len() {
        bail!("no cell matched the label files in {}", data.display());
    }
    write_dataset(output, benchmarks::NB201_DESCRIPTION, &records)?;
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

fn build_models(
    dir: &Path,
    output: &Path,
    family: Option<&str>,
    labels: Option<&(Zoo, LabelTable)>,
    options: &aiop_converter::ConvertOptions,
) -> Result<ExitCode> {
    let start = Instant::now();
    let models = super::convert::find_models(dir)?;
    if models.is_empty() {
        bail!("no .onnx files under {}", dir.display());
    }
    let manifest = read_manifest(dir)?;
    let bar = super::progress_bar(models.len(), "models {msg}");
    let results: Vec<(PathBuf, Result<Record>)> = models
        .par_iter()
        .map(|path| {
            let rel = path.strip_prefix(dir).unwrap_or(path).to_path_buf();
            let listed = manifest.get(&rel.display().to_string());
            let record = super::load_cg(path, options).map(|cg| {
                let table = labels.map(|(_, table)| table);
                model_record(&cg, &rel.display().to_string(), listed, family, table)
            });
            bar.inc(1);
            (rel, record)
        })
        .collect();
    bar.finish_and_clear();
    let mut records = Vec::new();
    for (rel, result) in results {
        match result {
            Ok(r) => records.push(r),
            Err(e) => eprintln!(
                "warning: {}",
                super::one_line(&format!("{} left out: {e:#}", rel.display()))
            ),
        }
    }
    if records.is_empty() {
        bail!("no model under {} converted", dir.display());
    }
    let mut description = format!("models under {}", dir.display());
    let mut labelled = String::new();
    if let Some((zoo, _)) = labels {
        description += &format!("; labels: {} ({})", zoo.name(), zoo.file());
        labelled = format!(
            ", {} labelled",
            records.len() - warn_unlabelled(&records, *zoo)
        );
    }
    write_dataset(output, &description, &records)?;
    emit(&format!(
        "{}: {} of {} models{labelled} in {:.1?}\n",
        output.display(),
        records.len(),
        models.len(),
        start.elapsed()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// Warns of the records `zoo` has no result for; returns how many.
fn warn_unlabelled(records: &[Record], zoo: Zoo) -> usize {
    let unlabelled: Vec<&str> = records
        .iter()
        .filter(|r| r.labels.is_empty())
        .map(|r| r.name.as_str())
        .collect();
    if !unlabelled.is_empty() {
        eprintln!(
            "warning: no {} result for {} model(s): {}",
            zoo.name(),
            unlabelled.len(),
            unlabelled.join(", ")
        );
    }
    unlabelled.len()
}

/// `aiop dataset join-labels`.
fn join_labels(
    dataset: &Path,
    csv: &Path,
    key: &str,
    tasks: &[String],
    output: Option<&Path>,
) -> Result<ExitCode> {
    let mapping: Vec<(String, String)> = tasks
        .iter()
        .map(|t| {
            t.split_once('=')
                .map(|(c, t)| (c.to_string(), t.to_string()))
                .with_context(|| format!("--task `{t}` is not COLUMN=TASK"))
        })
        .collect::<Result<_>>()?;
    let labels = read_columns(csv, key, &|h| {
        mapping.iter().find(|(c, _)| c == h).map(|(_, t)| t.clone())
    })?;
    let reader = open_dataset(dataset)?;
    let out = output.unwrap_or(dataset);
    let note = format!(
        "{} | labels {} from {}",
        reader.header.description,
        tasks.join(","),
        csv.display()
    );
    let (mut joined, mut count) = (0, 0);
    let mut writer = staged_writer(out, &note)?;
    for r in records_of(dataset, reader) {
        let mut r = r?;
        if let Some(values) = labels.get(&r.name).filter(|v| !v.is_empty()) {
            r.labels.extend(values.iter().cloned());
            joined += 1;
        }
        count += 1;
        writer.write(&r)?;
    }
    super::persist(finish_staged(writer)?, out)?;
    emit(&format!(
        "{}: labels for {joined} of {count} records from {} → {}\n",
        dataset.display(),
        csv.display(),
        out.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `aiop dataset split`.
fn split_dataset(
    dataset: &Path,
    output: &Path,
    size: TrainSize,
    test_families: &[String],
    seed: u64,
) -> Result<ExitCode> {
    // first pass: the side of each record; the second streams each record to its side
    let reader = open_dataset(dataset)?;
    let description = reader.header.description.clone();
    let mut in_test_families = Vec::new();
    for r in records_of(dataset, reader) {
        in_test_families.push(test_families.contains(&r?.family));
    }
    let test_mask = if test_families.is_empty() {
        split::random_test_mask(in_test_families.len(), size, seed)
    } else {
        in_test_families
    };
    let how = if test_families.is_empty() {
        format!("random split, seed {seed}")
    } else {
        format!("test families {}", test_families.join(","))
    };
    let mut sides = Vec::new();
    for file in ["train.aiopds", "test.aiopds"] {
        let path = output.join(file);
        let writer = staged_writer(&path, &format!("{description} | {file} ({how})"))?;
        sides.push((writer, path, 0usize));
    }
    let mut records = records_of(dataset, open_dataset(dataset)?);
    for &test in &test_mask {
        // the file changed between the passes if it now ends early
        let r = records
            .next()
            .with_context(|| format!("{}: changed while being split", dataset.display()))??;
        let side = &mut sides[usize::from(test)];
        side.0.write(&r)?;
        side.2 += 1;
    }
    // both halves are written before either is put in place: a failure leaves neither
    let mut staged = Vec::new();
    let counts: Vec<usize> = sides.iter().map(|s| s.2).collect();
    for (writer, path, _) in sides {
        staged.push((finish_staged(writer)?, path));
    }
    for (tmp, path) in staged {
        super::persist(tmp, &path)?;
    }
    emit(&format!(
        "{}: {} train, {} test ({how}) → {}\n",
        dataset.display(),
        counts[0],
        counts[1],
        output.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `aiop dataset export`: CG files and their labels, all or the held-out side of `split`.
fn export_records(
    dataset: &Path,
    task: &str,
    output: &Path,
    split: Option<(TrainSize, u64)>,
) -> Result<ExitCode> {
    // first pass: how many records carry the label (the split is over those, in file order)
    let mut labelled = 0;
    for r in records_of(dataset, open_dataset(dataset)?) {
        labelled += usize::from(r?.labels.contains_key(task));
    }
    let keep = match split {
        Some((size, seed)) => split::random_test_mask(labelled, size, seed),
        None => vec![true; labelled],
    };
    std::fs::create_dir_all(output)
        .with_context(|| format!("cannot create {}", output.display()))?;
    let mut csv = String::from("name,value\n");
    let (mut index, mut written) = (0, 0);
    for r in records_of(dataset, open_dataset(dataset)?) {
        let r = r?;
        let Some(&label) = r.labels.get(task) else {
            continue;
        };
        index += 1;
        if !keep.get(index - 1).copied().unwrap_or(false) {
            continue;
        }
        let stem = file_stem(&r.name);
        let cg = r
            .cg()
            .with_context(|| format!("{}: record `{}`", dataset.display(), r.name))?;
        super::write_atomic(
            &output.join(format!("{stem}.cg")),
            &aiop_converter::cg::format::to_binary(&cg),
        )?;
        csv += &format!("{stem},{label}\n");
        written += 1;
    }
    super::write_atomic(&output.join("labels.csv"), csv.as_bytes())?;
    emit(&format!(
        "{}: {written} of {labelled} `{task}` records → {} (with labels.csv)\n",
        dataset.display(),
        output.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `aiop dataset stats`.
fn print_stats(dataset: &Path, json: bool) -> Result<ExitCode> {
    let reader = open_dataset(dataset)?;
    let description = reader.header.description.clone();
    let mut acc = stats::Accumulator::default();
    for r in records_of(dataset, reader) {
        acc.add(&r?);
    }
    let s = acc.finish();
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
