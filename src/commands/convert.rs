//! `aiop convert`: one model to a CG file, or a whole directory of models in parallel.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use aiop_converter::cg::format;
use aiop_converter::files;
use aiop_converter::{Cg, ConvertOptions};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::{EXIT_BAD_INPUT, ModelOptions, emit, encode_for, load_cg, workers, write_atomic};

/// Arguments of `aiop convert`.
#[derive(clap::Args)]
pub struct Args {
    /// A model file (.onnx) or a directory searched recursively for models.
    model: PathBuf,
    /// Output file (`.json` → JSON, anything else → compact binary); for a directory, the
    /// output directory. Default: `<model stem>.cg.json` in the current directory.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Encoding of the files written for a directory.
    #[arg(long, value_enum, default_value_t = Encoding::Binary)]
    format: Encoding,
    /// Worker processes for a directory (default: all cores).
    #[arg(short = 'j', long)]
    jobs: Option<usize>,
    /// Internal: convert the `[MODEL, OUTPUT]` JSON lines of stdin, one JSON result line each
    /// (the worker processes of a directory conversion; see `workers`).
    #[arg(long, hide = true)]
    worker: bool,
    #[command(flatten)]
    model_options: ModelOptions,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq)]
enum Encoding {
    Binary,
    Json,
}

/// Runs `aiop convert`.
pub fn run(args: Args) -> Result<ExitCode> {
    let options = args.model_options.to_options()?;
    if args.worker {
        return serve(&args, &options);
    }
    if args.model.is_dir() {
        let out = args
            .output
            .clone()
            .context("converting a directory needs -o OUTDIR")?;
        return convert_dir(&args, &out, &options);
    }
    let cg = load_cg(&args.model, &options)?;
    let out = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.cg.json", cg.name)));
    write_atomic(&out, &encode_for(&out, &cg))?;
    emit(&format!(
        "{} → {}: {} nodes, {} MACs, {} params, {} unknown shapes\n",
        args.model.display(),
        out.display(),
        cg.node_count(),
        cg.macs(),
        cg.params(),
        cg.unknown_shapes()
    ))?;
    for w in &cg.warnings {
        eprintln!("warning: {}", super::one_line(w));
    }
    Ok(ExitCode::SUCCESS)
}

/// One model's line in `report.json`.
#[derive(Serialize, Deserialize)]
struct Entry {
    file: String,
    status: String,
    error: Option<String>,
    output: Option<String>,
    nodes: usize,
    macs: u64,
    params: u64,
    unknown_shapes: usize,
    warnings: usize,
    millis: f64,
}

impl Entry {
    /// The line printed above the progress bar when the model is done.
    fn progress_line(&self) -> String {
        match &self.error {
            Some(error) => format!(" failed  {}  {error}", self.file),
            None => format!(
                "{:>7}  {}  {} nodes  {} MACs  {} params{}",
                self.status,
                self.file,
                self.nodes,
                self.macs,
                self.params,
                if self.unknown_shapes > 0 {
                    format!("  ({} unknown shapes)", self.unknown_shapes)
                } else {
                    String::new()
                }
            ),
        }
    }

    /// The entry of a worker's answer: its JSON line, or — when the worker died on the file —
    /// a failure named `file()`, with what it left at `output` removed.
    fn answered(
        answer: &Result<String, String>,
        file: impl Fn() -> String,
        output: &Path,
    ) -> Entry {
        let parsed = answer
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|line| serde_json::from_str::<Entry>(line).map_err(|e| e.to_string()));
        parsed.unwrap_or_else(|why| {
            remove_leftovers(output);
            let error =
                format!("the converter process stopped on this file ({why}); nothing was written");
            Entry::failed(file(), Some(error))
        })
    }

    /// A model that produced no CG (yet), with why.
    fn failed(file: String, error: Option<String>) -> Entry {
        Entry {
            file,
            status: "failed".into(),
            error,
            output: None,
            nodes: 0,
            macs: 0,
            params: 0,
            unknown_shapes: 0,
            warnings: 0,
            millis: 0.0,
        }
    }
}

/// Model files under `dir`, sorted ([`files::find`]).
pub fn find_models(dir: &Path) -> Result<Vec<PathBuf>> {
    files::find(dir, files::MODEL_EXTENSIONS)
        .with_context(|| format!("cannot list {}", dir.display()))
}

/// Model files and CG files under `dir`, for the commands that read either.
pub fn find_models_and_cgs(dir: &Path) -> Result<Vec<PathBuf>> {
    files::find(dir, files::MODEL_AND_CG_EXTENSIONS)
        .with_context(|| format!("cannot list {}", dir.display()))
}

/// Where each model's CG goes: `<out>/<relative path>.<ext>` in place of the model's extension,
/// or after it (`net.onnx.cg`, `net.pb.cg`) where two models would otherwise share one file.
fn output_paths(models: &[PathBuf], root: &Path, out_dir: &Path, ext: &str) -> Vec<PathBuf> {
    let rel = |m: &PathBuf| m.strip_prefix(root).unwrap_or(m).to_path_buf();
    let plain: Vec<PathBuf> = models
        .iter()
        .map(|m| out_dir.join(rel(m)).with_extension(ext))
        .collect();
    let mut uses: HashMap<&PathBuf, usize> = HashMap::new();
    for p in &plain {
        *uses.entry(p).or_default() += 1;
    }
    models
        .iter()
        .zip(&plain)
        .map(|(m, p)| {
            if uses[p] > 1 {
                out_dir.join(format!("{}.{ext}", rel(m).display()))
            } else {
                p.clone()
            }
        })
        .collect()
}

/// Converts `model` to `out` (relative name `rel` in the report).
fn convert_one(
    model: &Path,
    out: &Path,
    rel: &Path,
    format: Encoding,
    options: &ConvertOptions,
) -> Entry {
    let t = Instant::now();
    let result = load_cg(model, options).and_then(|cg| {
        write_atomic(out, &encode(&cg, format))?;
        Ok(cg)
    });
    let mut entry = Entry::failed(rel.display().to_string(), None);
    entry.millis = t.elapsed().as_secs_f64() * 1e3;
    match result {
        Ok(cg) => {
            entry.status = if cg.unknown_shapes() > 0 {
                "partial"
            } else {
                "ok"
            }
            .into();
            entry.output = Some(out.display().to_string());
            entry.nodes = cg.node_count();
            entry.macs = cg.macs();
            entry.params = cg.params();
            entry.unknown_shapes = cg.unknown_shapes();
            entry.warnings = cg.warnings.len();
        }
        Err(e) => entry.error = Some(super::one_line(&format!("{e:#}"))),
    }
    entry
}

/// A worker of a directory conversion: each stdin line, a JSON array `[MODEL, OUTPUT]` (any
/// file name survives it, newlines included), is converted and answered with its report
/// entry as one JSON line.
fn serve(args: &Args, options: &ConvertOptions) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let (model, output): (PathBuf, PathBuf) = serde_json::from_str(&line?)
            .context("a worker request is a JSON array [MODEL, OUTPUT]")?;
        let model = model.as_path();
        let rel = model.strip_prefix(&args.model).unwrap_or(model);
        let entry = convert_one(model, &output, rel, args.format, options);
        writeln!(out, "{}", serde_json::to_string(&entry)?)?;
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The CGs of `models`, each converted in a worker process as `convert DIR` does, then read
/// back from its CG file: a model that kills its worker (an abort, the memory limit) fails alone
/// and the others are still loaded. One result per model, in order; errors name the file.
pub fn load_isolated(models: &[PathBuf], options: &ModelOptions) -> Result<Vec<Result<Cg>>> {
    let dir = tempfile::tempdir().context("cannot create a temporary folder")?;
    let outputs: Vec<PathBuf> = (0..models.len())
        .map(|i| dir.path().join(format!("{i}.cg")))
        .collect();
    let mut args: Vec<OsString> = ["convert", ".", "--worker", "--format", "binary"]
        .into_iter()
        .map(OsString::from)
        .collect();
    args.extend(options.to_args().into_iter().map(OsString::from));
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let requests = worker_requests(models, &outputs);
    let answers = workers::run(
        &args,
        &requests,
        workers,
        workers::memory_limit(),
        |_, _| {},
    );
    let read_back = ConvertOptions::default(); // the worker applied the options already
    Ok(answers
        .iter()
        .enumerate()
        .map(|(i, answer)| {
            let entry = Entry::answered(answer, || models[i].display().to_string(), &outputs[i]);
            match (&entry.error, answer) {
                (None, _) => load_cg(&outputs[i], &read_back),
                // the converter's own error names the file; a dead worker's does not
                (Some(error), Ok(_)) => Err(anyhow::anyhow!("{error}")),
                (Some(error), Err(_)) => Err(anyhow::anyhow!("{}: {error}", models[i].display())),
            }
        })
        .collect())
}

/// The arguments that start a worker for `args`: the same root, format and model options.
fn worker_args(args: &Args) -> Vec<OsString> {
    let mut out: Vec<OsString> = vec!["convert".into(), args.model.clone().into_os_string()];
    out.push("--worker".into());
    out.push("--format".into());
    out.push(
        if args.format == Encoding::Json {
            "json"
        } else {
            "binary"
        }
        .into(),
    );
    out.extend(args.model_options.to_args().into_iter().map(OsString::from));
    out
}

/// Removes what a worker that died while writing `out` left: its temporary file beside it.
fn remove_leftovers(out: &Path) {
    let (Some(dir), Some(name)) = (out.parent(), out.file_name()) else {
        return;
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The request lines of the workers: `[MODEL, OUTPUT]` as JSON, one per model (a name that
/// is not UTF-8 arrives changed, is not found and fails alone).
fn worker_requests(models: &[PathBuf], outputs: &[PathBuf]) -> Vec<String> {
    models
        .iter()
        .zip(outputs)
        .map(|(m, o)| {
            serde_json::to_string(&[m.to_string_lossy(), o.to_string_lossy()]).unwrap_or_default()
        })
        .collect()
}

/// The last line of `aiop convert DIR`.
fn batch_summary(entries: &[Entry], took: std::time::Duration, report: &Path) -> String {
    let failed = entries.iter().filter(|e| e.status == "failed").count();
    let partial = entries.iter().filter(|e| e.status == "partial").count();
    format!(
        "converted {} of {} models in {took:.1?} ({} complete, {} with unknown shapes, {} failed); report: {}\n",
        entries.len() - failed,
        entries.len(),
        entries.len() - failed - partial,
        partial,
        failed,
        report.display()
    )
}

fn convert_dir(args: &Args, out_dir: &Path, options: &ConvertOptions) -> Result<ExitCode> {
    let models = find_models(&args.model)?;
    if models.is_empty() {
        bail!("no .onnx or .pb files under {}", args.model.display());
    }
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let _ = options; // the workers receive the same options as arguments
    let bar = super::progress_bar(models.len(), "{msg}");
    let ext = if args.format == Encoding::Json {
        "cg.json"
    } else {
        "cg"
    };
    let outputs = output_paths(&models, &args.model, out_dir, ext);
    let requests = worker_requests(&models, &outputs);
    let rel = |i: usize| {
        models[i]
            .strip_prefix(&args.model)
            .unwrap_or(&models[i])
            .display()
            .to_string()
    };
    let workers = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let start = Instant::now();
    let entry_of =
        |i: usize, answer: &Result<String, String>| Entry::answered(answer, || rel(i), &outputs[i]);
    let answers = workers::run(
        &worker_args(args),
        &requests,
        workers,
        workers::memory_limit(),
        |i, answer| {
            let e = entry_of(i, answer);
            bar.inc(1);
            bar.set_message(e.file.clone());
            bar.println(e.progress_line());
        },
    );
    let entries: Vec<Entry> = answers
        .iter()
        .enumerate()
        .map(|(i, a)| entry_of(i, a))
        .collect();
    bar.finish_and_clear();
    let report = out_dir.join("report.json");
    write_atomic(&report, serde_json::to_string_pretty(&entries)?.as_bytes())?;
    let failed = entries.iter().filter(|e| e.status == "failed").count();
    emit(&batch_summary(&entries, start.elapsed(), &report))?;
    Ok(if failed > 0 {
        ExitCode::from(EXIT_BAD_INPUT)
    } else {
        ExitCode::SUCCESS
    })
}

fn encode(cg: &Cg, encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Json => format::to_json(cg).into_bytes(),
        Encoding::Binary => format::to_binary(cg),
    }
}
