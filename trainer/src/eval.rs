//! Scores of predictions against labels, beside the naive baselines: ranking by FLOPs, by
//! parameter count, and the graph-statistics regressor ([`StatsRegressor`]).

use aiop_datasets::rank::{kendall_tau, mae, srcc};
use serde::{Deserialize, Serialize};

use crate::data::Sample;
use crate::stats_regressor::StatsRegressor;

/// How well predictions rank and match a test set, with the FLOPs and params baselines.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Evaluation {
    pub count: usize,
    /// Spearman's ρ between predictions and labels.
    pub srcc: f64,
    /// Kendall's τ-b between predictions and labels.
    pub kendall: f64,
    /// Mean absolute error in the task's metric (points).
    pub mae: f64,
    /// Spearman's ρ of FLOPs (MACs) with the labels.
    pub flops_srcc: f64,
    /// Spearman's ρ of parameter counts with the labels.
    pub params_srcc: f64,
    /// Spearman's ρ of the graph-statistics regressor fitted on the same training samples
    /// (absent when no training set was given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats_srcc: Option<f64>,
    /// Its mean absolute error (points).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats_mae: Option<f64>,
    /// The predictions themselves, in the order of the test samples, where a protocol keeps
    /// them to combine runs (seed ensembles); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub predictions: Vec<f64>,
    /// The graph-statistics regressor's predictions of the same samples, likewise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stats_predictions: Vec<f64>,
}

/// Scores `predicted` (in the task's metric) against the labels of `samples`.
pub fn evaluate(predicted: &[f64], samples: &[&Sample]) -> Evaluation {
    let labels: Vec<f64> = samples.iter().map(|s| s.label).collect();
    let (flops_srcc, params_srcc) = baselines(samples);
    Evaluation {
        count: samples.len(),
        srcc: srcc(predicted, &labels),
        kendall: kendall_tau(predicted, &labels),
        mae: mae(predicted, &labels),
        flops_srcc,
        params_srcc,
        stats_srcc: None,
        stats_mae: None,
        predictions: Vec::new(),
        stats_predictions: Vec::new(),
    }
}

/// [`evaluate`], with the graph-statistics regressor fitted on `train` scored beside.
pub fn evaluate_beside(predicted: &[f64], test: &[&Sample], train: &[&Sample]) -> Evaluation {
    let mut evaluation = evaluate(predicted, test);
    if let Some(regressor) = StatsRegressor::fit(train) {
        let labels: Vec<f64> = test.iter().map(|s| s.label).collect();
        let baseline = regressor.predict(test);
        evaluation.stats_srcc = Some(srcc(&baseline, &labels));
        evaluation.stats_mae = Some(mae(&baseline, &labels));
    }
    evaluation
}

/// SRCC against `labels` of the mean of the runs' predictions, each mixed with the
/// graph-statistics regressor's as `(1 − blend) · predictor + blend · regressor` — a seed
/// ensemble, blended as the bundled predictor is; `None` when a run did not keep its
/// predictions (cached by an older build) or there is nothing to rank.
pub fn ensemble_srcc(runs: &[Evaluation], labels: &[f64], blend: f64) -> Option<f64> {
    let n = labels.len();
    let usable = |e: &Evaluation| {
        e.predictions.len() == n && (blend == 0.0 || e.stats_predictions.len() == n)
    };
    if n == 0 || runs.is_empty() || !runs.iter().all(usable) {
        return None;
    }
    let mean: Vec<f64> = (0..n)
        .map(|i| {
            let mixed = runs.iter().map(|e| {
                let stats = e.stats_predictions.get(i).copied().unwrap_or(0.0);
                (1.0 - blend) * e.predictions[i] + blend * stats
            });
            mixed.sum::<f64>() / runs.len() as f64
        })
        .collect();
    Some(srcc(&mean, labels))
}

/// Spearman's ρ of FLOPs and of parameter counts with the labels of `samples`.
pub fn baselines(samples: &[&Sample]) -> (f64, f64) {
    let labels: Vec<f64> = samples.iter().map(|s| s.label).collect();
    let flops: Vec<f64> = samples.iter().map(|s| s.gflops).collect();
    let params: Vec<f64> = samples.iter().map(|s| s.params as f64).collect();
    (srcc(&flops, &labels), srcc(&params, &labels))
}
