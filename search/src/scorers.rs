//! The fitnesses a search can use: a predictor's task output ([`Predicted`]), or MACs alone
//! ([`MacsProxy`], the FLOPs-only baseline that takes a bigger network for a better one).

use aiop_converter::Cg;
use aiop_predictor::{RuntimePredictor, encode};
use rayon::prelude::*;

use crate::evolution::Scorer;

/// One column of a predictor, in its task's metric.
pub struct Predicted<'a> {
    pub predictor: &'a RuntimePredictor,
    pub column: usize,
}

impl Scorer for Predicted<'_> {
    fn scores(&self, cgs: &[Cg]) -> Result<Vec<f64>, String> {
        let graphs: Vec<_> = cgs.par_iter().map(encode).collect();
        let refs: Vec<_> = graphs.iter().collect();
        let gflops: Vec<f64> = cgs.iter().map(|c| c.macs() as f64 / 1e9).collect();
        let rows = self
            .predictor
            .predict_columns(&refs, &gflops, &[self.column])
            .map_err(|e| e.to_string())?;
        Ok(rows.into_iter().map(|r| r[0]).collect())
    }
}

/// log₁₀ MACs as the score: "more compute, better network".
pub struct MacsProxy;

impl Scorer for MacsProxy {
    fn scores(&self, cgs: &[Cg]) -> Result<Vec<f64>, String> {
        Ok(cgs
            .iter()
            .map(|c| (c.macs().max(1) as f64).log10())
            .collect())
    }
}
