//! `aiop export`: a trained predictor (a folder written by `aiop train|adapt|finetune`) as one
//! ONNX file that runs without libtorch (`aiop predict`, tract, ONNX Runtime, browsers). Given
//! a predictor file instead, it writes it again in the current graph layout.

use std::path::PathBuf;
use std::process::ExitCode;

use aiop_trainer::export::export_ensemble;
use aiop_trainer::predictor::{Predictor, PredictorMeta};
use anyhow::{Context, Result};

use super::write_atomic;

/// Arguments of `aiop export`.
#[derive(clap::Args)]
pub struct Args {
    /// Folder of a trained predictor, or an exported predictor (`.onnx`) to rewrite. Several
    /// folders (predictors of one architecture and the same tasks, e.g. trained with
    /// different seeds) make one ensemble predictor that outputs their mean.
    #[arg(required = true, num_args = 1..)]
    checkpoints: Vec<PathBuf>,
    /// The ONNX file to write.
    #[arg(short, long)]
    output: PathBuf,
    /// What the predictor was trained on, in words (default: from its training record).
    #[arg(long)]
    training: Option<String>,
    /// Parity check on the records of these datasets (at most `--check-count` in all): the
    /// libtorch scores are written to `<output>.reference.json`, and tract (and ONNX Runtime
    /// when `ORT_DYLIB_PATH` is set) are compared with them.
    #[arg(long)]
    check: Vec<PathBuf>,
    #[arg(long, default_value_t = 1000)]
    check_count: usize,
}

/// libtorch's scores of one record, for parity checks.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct ReferenceScores {
    pub dataset: String,
    pub name: String,
    pub scores: Vec<f32>,
}

/// The first `count` records of `datasets`, encoded.
pub fn encoded_records(
    datasets: &[PathBuf],
    count: usize,
) -> Result<Vec<(String, String, aiop_predictor::EncodedGraph)>> {
    let mut out = Vec::new();
    for path in datasets {
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let reader = aiop_datasets::Reader::new(std::io::BufReader::new(file))?;
        let stem = path
            .file_name()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        for record in reader {
            if out.len() >= count {
                return Ok(out);
            }
            let record = record?;
            let cg = record.cg().map_err(aiop_datasets::DatasetError::from)?;
            out.push((
                stem.clone(),
                record.name.clone(),
                aiop_predictor::encode(&cg),
            ));
        }
    }
    Ok(out)
}

/// Largest difference `--check` accepts between two runtimes' scaled scores.
const PARITY_TOLERANCE: f32 = 1e-4;

/// An error when `difference` is out of tolerance (or NaN).
fn check_tolerance(what: &str, difference: f32) -> Result<()> {
    if difference <= PARITY_TOLERANCE {
        Ok(())
    } else {
        anyhow::bail!(
            "parity check failed: {what} differ by {difference:e} (> {PARITY_TOLERANCE:e})"
        )
    }
}

/// Writes the libtorch reference of `members` (their mean) and compares the runtimes with it.
fn check_parity(members: &[Predictor], bytes: &[u8], args: &Args) -> Result<()> {
    let records = encoded_records(&args.check, args.check_count)?;
    let graphs: Vec<&aiop_predictor::EncodedGraph> = records.iter().map(|r| &r.2).collect();
    let mut expected = members[0].output_columns(&graphs);
    for member in &members[1..] {
        for (sum, row) in expected.iter_mut().zip(member.output_columns(&graphs)) {
            sum.iter_mut().zip(row).for_each(|(s, v)| *s += v);
        }
    }
    let share = 1.0 / members.len() as f32;
    expected.iter_mut().flatten().for_each(|v| *v *= share);
    let reference: Vec<ReferenceScores> = records
        .iter()
        .zip(&expected)
        .map(|((dataset, name, _), scores)| ReferenceScores {
            dataset: dataset.clone(),
            name: name.clone(),
            scores: scores.clone(),
        })
        .collect();
    let path = args.output.with_extension("reference.json");
    write_atomic(
        &path,
        (serde_json::to_string(&reference)? + "\n").as_bytes(),
    )?;
    let mut backends = vec![
        aiop_predictor::Backend::Native,
        aiop_predictor::Backend::Tract,
    ];
    if std::env::var_os("ORT_DYLIB_PATH").is_some() {
        backends.push(aiop_predictor::Backend::Ort);
    }
    for backend in backends {
        let runtime = aiop_predictor::RuntimePredictor::from_bytes(bytes, backend)?;
        let mut got = Vec::new();
        for chunk in graphs.chunks(64) {
            got.extend(runtime.scores(chunk)?);
        }
        let difference = aiop_predictor::metrics::max_abs_difference(&got, &expected);
        eprintln!(
            "parity on {} CGs: max |{backend:?} − libtorch| = {difference:.2e}",
            graphs.len()
        );
        check_tolerance(&format!("{backend:?} and libtorch"), difference)?;
    }
    eprintln!("libtorch scores: {}", path.display());
    Ok(())
}

/// The training record of `meta` in words.
pub fn describe_training(meta: &PredictorMeta) -> String {
    let fit = |f: &aiop_trainer::predictor::TaskFit| {
        format!(
            "{} ({} networks, {} epochs)",
            f.task, f.samples, f.train.epochs
        )
    };
    let mut text = format!("pretrained on {}", fit(&meta.pretrained));
    if !meta.adapters.is_empty() {
        let adapters: Vec<String> = meta.adapters.iter().map(fit).collect();
        text += &format!("; K-Adapters on {}", adapters.join(", "));
    }
    if let Some(tuned) = &meta.finetuned {
        let how = if meta.adaproxy.is_some() {
            "AdaProxy"
        } else {
            "fine-tuned"
        };
        text += &format!("; {how} on {}", fit(tuned));
    }
    text
}

/// Rewrites the predictor file `args.checkpoint` in the current graph layout; `--check`
/// compares the two files' scores (tract).
fn rewrite(args: &Args) -> Result<ExitCode> {
    let path = &args.checkpoints[0];
    let old = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let bytes = aiop_predictor::graph::rewrite(&old)?;
    write_atomic(&args.output, &bytes)?;
    if !args.check.is_empty() {
        let records = encoded_records(&args.check, args.check_count)?;
        let graphs: Vec<&aiop_predictor::EncodedGraph> = records.iter().map(|r| &r.2).collect();
        let backend = aiop_predictor::Backend::Tract;
        let before = aiop_predictor::RuntimePredictor::from_bytes(&old, backend)?;
        let after = aiop_predictor::RuntimePredictor::from_bytes(&bytes, backend)?;
        let (mut expected, mut got) = (Vec::new(), Vec::new());
        for chunk in graphs.chunks(64) {
            expected.extend(before.scores(chunk)?);
            got.extend(after.scores(chunk)?);
        }
        let difference = aiop_predictor::metrics::max_abs_difference(&got, &expected);
        eprintln!(
            "parity on {} CGs: max |rewritten − original| = {difference:.2e} (tract)",
            graphs.len()
        );
        check_tolerance("the rewritten and the original predictor", difference)?;
    }
    eprintln!(
        "{}: {} KB, rewritten from {}",
        args.output.display(),
        bytes.len().div_ceil(1024),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `aiop export`.
pub fn run(args: Args) -> Result<ExitCode> {
    if let [file] = args.checkpoints.as_slice()
        && file.is_file()
    {
        return rewrite(&args);
    }
    let members: Vec<Predictor> = args
        .checkpoints
        .iter()
        .map(|dir| {
            Predictor::load(dir, aiop_trainer::Device::Cpu)
                .with_context(|| format!("cannot load the predictor in {}", dir.display()))
        })
        .collect::<Result<_>>()?;
    let predictor = &members[0];
    let mut training = args
        .training
        .clone()
        .unwrap_or_else(|| describe_training(&predictor.meta));
    if members.len() > 1 && args.training.is_none() {
        training += &format!("; an ensemble of {} such predictors (seeds)", members.len());
    }
    let refs: Vec<&Predictor> = members.iter().collect();
    let bytes = export_ensemble(&refs, &training)?;
    write_atomic(&args.output, &bytes)?;
    if !args.check.is_empty() {
        check_parity(&members, &bytes, &args)?;
    }
    let tasks = aiop_trainer::export::output_tasks(predictor);
    let names: Vec<&str> = tasks.iter().map(|t| t.task.as_str()).collect();
    eprintln!(
        "{}: {} KB, tasks {}{}",
        args.output.display(),
        bytes.len().div_ceil(1024),
        names.join(", "),
        if members.len() > 1 {
            format!(", {} members", members.len())
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}
