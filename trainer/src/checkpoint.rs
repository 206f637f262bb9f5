//! Checkpoints of a training run: every variable, the optimizer's state and the epochs done,
//! so that an interrupted run resumes where it stopped and ends with the same weights as an
//! uninterrupted one.
//!
//! A checkpoint is two files in its folder: `checkpoint.safetensors` (variables as
//! `var.<name>`, the optimizer as `adam.…`, the weight average as `avg.…`) and `checkpoint.json` (the run it belongs to and
//! the reports of the epochs done). Both are written to a temporary name and renamed, so a
//! crash while saving leaves the previous checkpoint intact.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tch::{Tensor, nn};

use crate::TrainError;
use crate::average::WeightAverage;
use crate::optim::Adam;
use crate::train::{EpochReport, TrainConfig};

const TENSORS: &str = "checkpoint.safetensors";
const PROGRESS: &str = "checkpoint.json";

/// `checkpoint.json`.
#[derive(Serialize, Deserialize)]
struct Progress {
    config: TrainConfig,
    samples: usize,
    history: Vec<EpochReport>,
}

/// Writes the checkpoint of a run after `history.len()` epochs.
pub fn save(
    dir: &Path,
    vs: &nn::VarStore,
    optimizer: &Adam,
    average: &WeightAverage,
    config: &TrainConfig,
    samples: usize,
    history: &[EpochReport],
) -> Result<(), TrainError> {
    std::fs::create_dir_all(dir)?;
    let mut named: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(name, t)| (format!("var.{name}"), t))
        .collect();
    named.extend(optimizer.state());
    named.extend(average.state());
    let tensors = dir.join(TENSORS);
    let temporary = dir.join(format!("{TENSORS}.partial"));
    Tensor::write_safetensors(&named, &temporary)?;
    std::fs::rename(&temporary, &tensors)?;
    let progress = Progress {
        config: config.clone(),
        samples,
        history: history.to_vec(),
    };
    let text = serde_json::to_string(&progress)?;
    let temporary = dir.join(format!("{PROGRESS}.partial"));
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, dir.join(PROGRESS))?;
    Ok(())
}

/// Loads the checkpoint in `dir` into `vs` and `optimizer` and returns the reports of the
/// epochs it had done; nothing (and no change) when `dir` holds none. A checkpoint of a
/// different run (other settings, sample count or variables) is an error, not silently reused.
pub fn restore(
    dir: &Path,
    vs: &nn::VarStore,
    optimizer: &mut Adam,
    average: &mut WeightAverage,
    config: &TrainConfig,
    samples: usize,
) -> Result<Vec<EpochReport>, TrainError> {
    let progress_path = dir.join(PROGRESS);
    if !progress_path.exists() {
        return Ok(Vec::new());
    }
    let mismatch = |why: &str| {
        TrainError::Invalid(format!(
            "{}: the checkpoint there is from another run ({why}); delete it to start afresh",
            dir.display()
        ))
    };
    let progress: Progress = serde_json::from_str(&std::fs::read_to_string(&progress_path)?)
        .map_err(|e| TrainError::Invalid(format!("{}: {e}", progress_path.display())))?;
    if progress.config != *config {
        return Err(mismatch("other training settings"));
    }
    if progress.samples != samples {
        return Err(mismatch("another number of training samples"));
    }
    let saved = Tensor::read_safetensors(dir.join(TENSORS))?;
    let mut variables = vs.variables();
    let _guard = tch::no_grad_guard();
    for (name, var) in &mut variables {
        let Some((_, value)) = saved.iter().find(|(n, _)| n == &format!("var.{name}")) else {
            return Err(mismatch(&format!("no `{name}`")));
        };
        if value.size() != var.size() {
            return Err(mismatch(&format!("`{name}` has another shape")));
        }
        var.copy_(value);
    }
    if !optimizer.restore(&saved) {
        return Err(mismatch("other optimizer variables"));
    }
    if !average.restore(&saved) {
        return Err(mismatch("no weight average"));
    }
    Ok(progress.history)
}

/// Deletes the checkpoint in `dir` (a finished run needs it no more), and `dir` if it is empty.
pub fn remove(dir: &Path) -> Result<(), TrainError> {
    for name in [TENSORS, PROGRESS] {
        match std::fs::remove_file(dir.join(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    let _ = std::fs::remove_dir(dir);
    Ok(())
}
