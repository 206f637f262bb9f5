//! The fitnesses a search can use: a predictor's task output ([`Predicted`]; for an ensemble,
//! optionally less its members' disagreement), or MACs alone ([`MacsProxy`], the FLOPs-only
//! baseline that takes a bigger network for a better one).

use aiop_converter::Cg;
use aiop_predictor::{RuntimePredictor, encode};
use rayon::prelude::*;

use crate::evolution::Scorer;

/// One column of a predictor, in its task's metric.
pub struct Predicted<'a> {
    pub predictor: &'a RuntimePredictor,
    pub column: usize,
    /// With `caution` > 0 the score is the members' mean less `caution` × their standard
    /// deviation (a lower confidence bound: where the ensemble's members disagree, the
    /// network may be one the predictor does not know). 0: the ensemble's prediction.
    pub caution: f64,
}

impl Scorer for Predicted<'_> {
    fn scores(&self, cgs: &[Cg]) -> Result<Vec<f64>, String> {
        let graphs: Vec<_> = cgs.par_iter().map(encode).collect();
        let refs: Vec<_> = graphs.iter().collect();
        let gflops: Vec<f64> = cgs.iter().map(|c| c.macs() as f64 / 1e9).collect();
        if self.caution > 0.0 {
            let rows = self
                .predictor
                .predict_members(&refs, &gflops, self.column)
                .map_err(|e| e.to_string())?;
            return Ok(rows.iter().map(|r| lower_bound(r, self.caution)).collect());
        }
        let rows = self
            .predictor
            .predict_columns(&refs, &gflops, &[self.column])
            .map_err(|e| e.to_string())?;
        Ok(rows.into_iter().map(|r| r[0]).collect())
    }
}

/// The mean of `members` less `caution` times their (population) standard deviation.
fn lower_bound(members: &[f64], caution: f64) -> f64 {
    let n = members.len().max(1) as f64;
    let mean = members.iter().sum::<f64>() / n;
    let var = members.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    mean - caution * var.sqrt()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_lower_bound_penalises_disagreement() {
        assert_eq!(lower_bound(&[70.0, 70.0, 70.0], 2.0), 70.0);
        // mean 70, population std 1
        assert!((lower_bound(&[69.0, 71.0], 1.5) - 68.5).abs() < 1e-12);
        assert_eq!(lower_bound(&[69.0, 71.0], 0.0), 70.0);
    }
}
