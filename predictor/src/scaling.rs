//! Label scaling (paper, "Label Scaling"). Eq. 4 standardises a task's labels,
//! `z = (y − μ) / σ`, so that tasks with different metrics share one output range. Eq. 5
//! first divides a label by a FLOPs term, `y_F = y / (log10(F + 1) + 1)` with F in GFLOPs,
//! which takes out the part of performance that size alone explains. Predictions map back
//! through the inverse of both, with the target task's μ and σ and the network's FLOPs.

use serde::{Deserialize, Serialize};

/// How one task's labels are scaled; the inverse maps predictions back to the metric.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelScaling {
    /// Mean of the (FLOPs-transformed) labels.
    pub mean: f64,
    /// Standard deviation of the (FLOPs-transformed) labels; 1 when they do not vary.
    pub std: f64,
    /// Whether Eq. 5 is applied before standardising.
    pub flops_transform: bool,
}

/// Eq. 5's divisor for a network of `gflops` GFLOPs.
pub fn flops_divisor(gflops: f64) -> f64 {
    (gflops.max(0.0) + 1.0).log10() + 1.0
}

impl LabelScaling {
    /// The identity: labels used as they are.
    pub const IDENTITY: LabelScaling = LabelScaling {
        mean: 0.0,
        std: 1.0,
        flops_transform: false,
    };

    /// Fits μ and σ to `(label, gflops)` pairs (population σ).
    pub fn fit(samples: &[(f64, f64)], flops_transform: bool) -> LabelScaling {
        let partial = LabelScaling {
            mean: 0.0,
            std: 1.0,
            flops_transform,
        };
        let ys: Vec<f64> = samples
            .iter()
            .map(|&(y, f)| partial.transform(y, f))
            .collect();
        let n = ys.len().max(1) as f64;
        let mean = ys.iter().sum::<f64>() / n;
        let var = ys.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / n;
        let std = if var.sqrt() > 1e-12 { var.sqrt() } else { 1.0 };
        LabelScaling {
            mean,
            std,
            flops_transform,
        }
    }

    fn transform(&self, label: f64, gflops: f64) -> f64 {
        if self.flops_transform {
            label / flops_divisor(gflops)
        } else {
            label
        }
    }

    /// A label in the task's metric → the training target.
    pub fn scale(&self, label: f64, gflops: f64) -> f64 {
        (self.transform(label, gflops) - self.mean) / self.std
    }

    /// A prediction → the task's metric.
    pub fn unscale(&self, prediction: f64, gflops: f64) -> f64 {
        let y = prediction * self.std + self.mean;
        if self.flops_transform {
            y * flops_divisor(gflops)
        } else {
            y
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_and_unscale_are_inverse() {
        let samples = [(70.0, 0.1), (80.0, 4.0), (85.0, 15.0)];
        for flops_transform in [false, true] {
            let s = LabelScaling::fit(&samples, flops_transform);
            let zs: Vec<f64> = samples.iter().map(|&(y, f)| s.scale(y, f)).collect();
            let mean = zs.iter().sum::<f64>() / 3.0;
            let var = zs.iter().map(|z| (z - mean).powi(2)).sum::<f64>() / 3.0;
            assert!(mean.abs() < 1e-9 && (var - 1.0).abs() < 1e-9, "{zs:?}");
            for (&(y, f), z) in samples.iter().zip(zs) {
                assert!((s.unscale(z, f) - y).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn flops_divisor_follows_eq5() {
        assert_eq!(flops_divisor(0.0), 1.0);
        assert!((flops_divisor(9.0) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn constant_labels_keep_unit_std() {
        let s = LabelScaling::fit(&[(5.0, 1.0), (5.0, 2.0)], false);
        assert_eq!(s.std, 1.0);
        assert_eq!(s.scale(5.0, 1.0), 0.0);
    }
}
