//! `aiop predictor`: what a predictor file holds (`info`), and blending a task's output with
//! graph-statistics trees (`blend`, with the `train` feature).

use std::path::PathBuf;
use std::process::ExitCode;

use aiop_predictor::DEFAULT_PREDICTOR;
use anyhow::Result;

use super::emit;
use super::predict::{BackendArg, PredictorArgs};

/// Arguments of `aiop predictor`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// What a predictor file holds: tasks, label scaling, encoding, training.
    Info {
        /// An exported predictor (default: the bundled one).
        predictor: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Blend a task's output with graph-statistics trees (log MACs, params, nodes,
    /// resolution) fitted on the task's training networks: the output becomes the mean of
    /// the GNN's and the trees' predictions.
    #[cfg(feature = "train")]
    Blend(BlendArgs),
}

/// Arguments of `aiop predictor blend`.
#[cfg(feature = "train")]
#[derive(clap::Args)]
struct BlendArgs {
    /// The labelled dataset (`.aiopds`) the task's output was trained on.
    dataset: PathBuf,
    /// The task whose output to blend.
    #[arg(long)]
    task: String,
    /// The predictor to blend (default: the bundled one).
    #[arg(long)]
    predictor: Option<PathBuf>,
    /// The predictor file to write.
    #[arg(short, long)]
    output: PathBuf,
    /// Weight of the trees' prediction (0: the GNN alone, 1: the trees alone).
    #[arg(long, default_value_t = aiop_trainer::defaults::STATS_BLEND_WEIGHT)]
    weight: f64,
    /// Seed of the random split that the task's output was trained with (`aiop train
    /// --split-seed`): the trees are fitted on the same training networks.
    #[arg(long, default_value_t = 0)]
    split_seed: u64,
    /// Fraction of the records on the training side of that split.
    #[arg(long, default_value_t = 0.8)]
    train_fraction: f64,
}

/// Runs `aiop predictor`.
pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Action::Info { predictor, json } => run_info(predictor, json),
        #[cfg(feature = "train")]
        Action::Blend(args) => run_blend(args),
    }
}

/// Runs `aiop predictor blend`.
#[cfg(feature = "train")]
fn run_blend(args: BlendArgs) -> Result<ExitCode> {
    use aiop_converter::files::Limit;
    use aiop_datasets::split::{Split, TrainSize};
    use anyhow::Context;
    let samples = aiop_trainer::data::load(&args.dataset, &args.task)?;
    let families: Vec<&str> = samples.iter().map(|s| s.family.as_str()).collect();
    let split = Split::Random {
        size: TrainSize::Fraction(args.train_fraction),
        seed: args.split_seed,
    };
    let train: Vec<_> = split
        .apply(&families)
        .0
        .into_iter()
        .map(|i| &samples[i])
        .collect();
    let (path, bytes) = match &args.predictor {
        Some(p) => (
            p.display().to_string(),
            aiop_converter::files::read_capped(p, Limit::Predictor.bytes())
                .with_context(|| format!("cannot read predictor {}", p.display()))?,
        ),
        None => ("bundled predictor".into(), DEFAULT_PREDICTOR.to_vec()),
    };
    // a file that is no usable predictor is refused as `predict` refuses it (exit status 2)
    aiop_predictor::RuntimePredictor::from_bytes(&bytes, aiop_predictor::Backend::Native)
        .map_err(|error| super::predict::BadPredictor { path, error })?;
    let blended = aiop_trainer::blend::blend(&bytes, &args.task, &train, args.weight)?;
    super::write_atomic(&args.output, &blended)?;
    emit(&format!(
        "{}: `{}` blended with graph-statistics trees (weight {}) fitted on {} of {} networks\n",
        args.output.display(),
        args.task,
        args.weight,
        train.len(),
        samples.len()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `aiop predictor info`.
fn run_info(predictor: Option<PathBuf>, json: bool) -> Result<ExitCode> {
    let size = match &predictor {
        Some(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
        None => DEFAULT_PREDICTOR.len() as u64,
    };
    let loaded = PredictorArgs {
        predictor,
        backend: BackendArg::Native,
    }
    .load()?;
    let meta = &loaded.meta;
    if json {
        emit(&(serde_json::to_string_pretty(meta)? + "\n"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = format!(
        "aiop predictor ({} KB), bundle format {}, encoding {} (vocabulary {})\ntrained: {}\ntasks:\n",
        size.div_ceil(1024),
        meta.format,
        meta.encoding_version,
        meta.vocabulary_hash,
        meta.training
    );
    for t in &meta.tasks {
        text += &format!(
            "  {:<28} from {:<18} μ {:>9.4}  σ {:>8.4}  FLOPs transform {}  ({} networks)\n",
            t.task, t.source, t.scaling.mean, t.scaling.std, t.scaling.flops_transform, t.samples
        );
        if let Some(b) = &t.graph_statistics {
            text += &format!(
                "  {:<28} blended with graph-statistics trees: weight {}, {} trees ({} networks)\n",
                "",
                b.weight,
                b.trees.trees.len(),
                b.samples
            );
        }
    }
    emit(&text)?;
    Ok(ExitCode::SUCCESS)
}
