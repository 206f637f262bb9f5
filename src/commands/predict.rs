//! `aiop predict` and `aiop rank`: an exported predictor (the bundled
//! default, or any file from `aiop export`) run on model files with tract or ONNX Runtime.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aiop_datasets::rank::Ranking;
use aiop_predictor::{Backend, Prediction, RuntimePredictor, encode};
use anyhow::{Context, Result};

use super::convert::find_models_and_cgs;
use super::{ModelOptions, emit, load_cg};

use aiop_predictor::DEFAULT_PREDICTOR;

/// Which engine runs the predictor.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum BackendArg {
    /// The predictor's operators in Rust, only the asked task's part (the fastest).
    Native,
    /// tract: the predictor's ONNX graph, pure Rust.
    Tract,
    /// ONNX Runtime; its library from `ORT_DYLIB_PATH` (tools/install_onnxruntime.sh).
    Ort,
}

impl From<BackendArg> for Backend {
    fn from(b: BackendArg) -> Backend {
        match b {
            BackendArg::Native => Backend::Native,
            BackendArg::Tract => Backend::Tract,
            BackendArg::Ort => Backend::Ort,
        }
    }
}

/// Which predictor and how to run it.
#[derive(clap::Args)]
pub struct PredictorArgs {
    /// An exported predictor (`aiop export`); default: the bundled one.
    #[arg(long)]
    pub predictor: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "native")]
    pub backend: BackendArg,
}

/// A predictor file that cannot be used (exit status 2, like a bad model).
#[derive(Debug)]
pub struct BadPredictor {
    pub path: String,
    pub error: aiop_predictor::RuntimeError,
}

impl std::fmt::Display for BadPredictor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.error)
    }
}

impl std::error::Error for BadPredictor {}

impl PredictorArgs {
    /// Loads the chosen predictor.
    pub fn load(&self) -> Result<RuntimePredictor> {
        let backend = self.backend.into();
        let (path, loaded) = match &self.predictor {
            Some(p) => (p.display().to_string(), RuntimePredictor::load(p, backend)),
            None => (
                "bundled predictor".to_string(),
                RuntimePredictor::from_bytes(DEFAULT_PREDICTOR, backend),
            ),
        };
        loaded.map_err(|error| BadPredictor { path, error }.into())
    }
}

/// Arguments of `aiop predict`.
#[derive(clap::Args)]
pub struct PredictArgs {
    /// Model files (ONNX) or CG files.
    #[arg(required = true)]
    models: Vec<PathBuf>,
    /// Only this task (default: every task of the predictor).
    #[arg(long)]
    task: Option<String>,
    #[command(flatten)]
    predictor: PredictorArgs,
    /// Print a JSON list of `{file, task, prediction, macs, params}`.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    model_options: ModelOptions,
}

/// A converted model with its predictions for the columns asked for, in their order.
struct Predicted {
    path: PathBuf,
    macs: u64,
    params: u64,
    values: Vec<f64>,
}

/// Graphs per predictor run.
const BATCH: usize = 64;

/// Converts `paths` and predicts the task `columns` of each (values in that order); files that
/// fail are reported and skipped (`failed`).
fn predict_files(
    predictor: &RuntimePredictor,
    paths: &[PathBuf],
    columns: &[usize],
    model_options: &ModelOptions,
    failed: &mut usize,
) -> Result<Vec<Predicted>> {
    let options = model_options.to_options()?;
    let mut out = Vec::new();
    for chunk in paths.chunks(BATCH) {
        let mut graphs = Vec::new();
        let mut converted = Vec::new();
        // several files: each converted in a worker process, so that one hostile file cannot
        // take the others down with it; one file: in process (no worker to start)
        let loaded = if paths.len() > 1 {
            super::convert::load_isolated(chunk, model_options)?
        } else {
            chunk.iter().map(|p| load_cg(p, &options)).collect()
        };
        for (path, loaded) in chunk.iter().zip(loaded) {
            let encoded = loaded.and_then(|cg| {
                let graph = encode(&cg);
                aiop_predictor::runtime::within_budget(&graph)
                    .with_context(|| format!("{}", path.display()))?;
                Ok((graph, cg))
            });
            match encoded {
                Ok((graph, cg)) => {
                    graphs.push(graph);
                    converted.push((path.clone(), cg.macs(), cg.params()));
                }
                Err(e) => {
                    eprintln!("error: {}", super::one_line(&format!("{e:#}")));
                    *failed += 1;
                }
            }
        }
        let refs: Vec<_> = graphs.iter().collect();
        let gflops: Vec<f64> = converted.iter().map(|c| c.1 as f64 / 1e9).collect();
        let values = predictor.predict_columns(&refs, &gflops, columns)?;
        for ((path, macs, params), values) in converted.into_iter().zip(values) {
            out.push(Predicted {
                path,
                macs,
                params,
                values,
            });
        }
    }
    Ok(out)
}

/// Runs `aiop predict`.
pub fn run_predict(args: PredictArgs) -> Result<ExitCode> {
    let predictor = args.predictor.load()?;
    let shown = predictor.meta.columns(args.task.as_deref())?;
    let mut failed = 0;
    let predicted = predict_files(
        &predictor,
        &args.models,
        &shown,
        &args.model_options,
        &mut failed,
    )?;
    let rows: Vec<Prediction> = predicted
        .iter()
        .flat_map(|p| {
            let file = p.path.display().to_string();
            Prediction::rows(
                &predictor.meta,
                &file,
                (p.macs, p.params),
                &p.values,
                &shown,
            )
        })
        .collect();
    if args.json {
        emit(&(serde_json::to_string_pretty(&rows)? + "\n"))?;
    } else {
        let mut text = String::new();
        for p in &predicted {
            text += &format!(
                "{}  ({:.3} GMACs, {:.2} M params)\n",
                p.path.display(),
                p.macs as f64 / 1e9,
                p.params as f64 / 1e6
            );
            for (&i, value) in shown.iter().zip(&p.values) {
                text += &format!("  {:<28} {:>8.2}\n", predictor.meta.tasks[i].task, value);
            }
        }
        emit(&text)?;
    }
    Ok(exit_status(failed))
}

fn exit_status(failed: usize) -> ExitCode {
    if failed > 0 {
        ExitCode::from(super::EXIT_BAD_INPUT)
    } else {
        ExitCode::SUCCESS
    }
}

/// Arguments of `aiop rank`.
#[derive(clap::Args)]
pub struct RankArgs {
    /// Directories (searched for `.onnx`, `.pb` and `.cg` files), model files and CG files.
    #[arg(required = true)]
    models: Vec<PathBuf>,
    /// The task to rank by.
    #[arg(long)]
    task: String,
    /// True values: a CSV with a header and the columns `name` (the model file's stem) and
    /// `value`; adds SRCC, Kendall τ, MAE and the FLOPs baseline's SRCC.
    #[arg(long)]
    labels: Option<PathBuf>,
    #[command(flatten)]
    predictor: PredictorArgs,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    model_options: ModelOptions,
}

/// `name → value` from a labels CSV.
fn read_labels(path: &Path) -> Result<HashMap<String, f64>> {
    let file = aiop_converter::files::open_capped(path, aiop_converter::files::Limit::Text.bytes())
        .with_context(|| format!("cannot read labels {}", path.display()))?;
    Ok(aiop_datasets::labels::read_values(
        file,
        &path.display().to_string(),
    )?)
}

/// Runs `aiop rank`.
pub fn run_rank(args: RankArgs) -> Result<ExitCode> {
    let predictor = args.predictor.load()?;
    let column = predictor.meta.columns(Some(&args.task))?[0];
    let labels = args.labels.as_deref().map(read_labels).transpose()?;
    let mut files = Vec::new();
    for m in &args.models {
        if m.is_dir() {
            files.extend(find_models_and_cgs(m)?);
        } else {
            files.push(m.clone());
        }
    }
    let mut failed = 0;
    let predicted = predict_files(
        &predictor,
        &files,
        &[column],
        &args.model_options,
        &mut failed,
    )?;
    let networks = predicted
        .into_iter()
        .map(|p| {
            let name = p
                .path
                .file_stem()
                .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
            let file = p.path.display().to_string();
            (file, name, p.values[0], p.macs, p.params)
        })
        .collect();
    let ranking = Ranking::new(&args.task, networks, labels.as_ref());
    let text = if args.json {
        serde_json::to_string_pretty(&ranking)? + "\n"
    } else {
        rank_text(&ranking)
    };
    emit(&text)?;
    Ok(exit_status(failed))
}

/// `aiop rank`'s table, then the scores' line when labels were given.
fn rank_text(ranking: &Ranking) -> String {
    let mut text = format!(
        "{:>4}  {:<40} {:>10} {:>10} {:>9}\n",
        "rank", "model", ranking.task, "true", "GMACs"
    );
    for r in &ranking.ranking {
        text += &format!(
            "{:>4}  {:<40} {:>10.2} {:>10} {:>9.3}\n",
            r.rank,
            r.name,
            r.prediction,
            r.value.map_or("–".into(), |t| format!("{t:.2}")),
            r.macs as f64 / 1e9
        );
    }
    if let Some(s) = &ranking.scores {
        text += &format!(
            "{} labelled: SRCC {:.4}  Kendall {:.4}  MAE {:.3}  | FLOPs SRCC {:.4}\n",
            s.n, s.srcc, s.kendall, s.mae, s.flops_srcc
        );
    }
    text
}
