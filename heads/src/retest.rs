//! How repeatable a ground truth is, from several independent trainings of each body: the
//! two halves of the runs to correlate (the test-retest SRCC), and the split of the values'
//! variance into run-to-run noise and real differences between bodies.
//!
//! The variance split is the one-way random-effects intraclass correlation, ICC(1): with `k`
//! runs of each of `n` bodies, the run noise `σ_w²` is the mean over bodies of the runs'
//! sample variance, the spread between bodies `σ_b² = max(0, var(body means) − σ_w² / k)`, and
//! the reliability of one run `σ_b² / (σ_b² + σ_w²)`. By the Spearman–Brown formula, the mean
//! of `m` runs then correlates with another such mean at `m·ICC / (1 + (m − 1)·ICC)`, which
//! says how many runs a ground truth needs for a target reliability. Being a variance ratio,
//! the ICC is estimated more steadily than a rank correlation over a few bodies: it is the
//! number to extrapolate a budget from, the test-retest SRCC the number to compare methods to.

/// The bodies' mean of the first and of the second half of their runs (run 1 and run 2 for
/// two runs): two independent measurements to correlate. `None` under two runs.
pub fn halves(runs: &[&[f64]]) -> Option<(Vec<f64>, Vec<f64>)> {
    let k = runs.iter().map(|r| r.len()).min()? / 2;
    (k > 0).then(|| {
        let half =
            |range: std::ops::Range<usize>| runs.iter().map(|r| mean(&r[range.clone()])).collect();
        (half(0..k), half(k..2 * k))
    })
}

/// Run noise against differences between bodies, in the metric's units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Repeatability {
    /// `σ_w`: the standard deviation of one body's runs (pooled over the bodies).
    pub run_noise: f64,
    /// `σ_b`: the standard deviation of the bodies' true values (their means, less the share
    /// of the run noise that the means still carry).
    pub body_spread: f64,
    /// `σ_b² / (σ_b² + σ_w²)`: how well one run would correlate with another (ICC(1)).
    pub one_run: f64,
}

impl Repeatability {
    /// The variance split of `runs` (one slice per body, its runs' values; every body's first
    /// `k` runs, `k` the fewest any body has). `None` under two bodies or two runs, or when
    /// every value is the same.
    pub fn of(runs: &[&[f64]]) -> Option<Repeatability> {
        let k = runs.iter().map(|r| r.len()).min()?;
        if k < 2 || runs.len() < 2 {
            return None;
        }
        let within = runs.iter().map(|r| variance(&r[..k])).sum::<f64>() / runs.len() as f64;
        let means: Vec<f64> = runs.iter().map(|r| mean(&r[..k])).collect();
        let between = (variance(&means) - within / k as f64).max(0.0);
        let total = between + within;
        (total > 0.0 && total.is_finite()).then(|| Repeatability {
            run_noise: within.sqrt(),
            body_spread: between.sqrt(),
            one_run: between / total,
        })
    }

    /// The reliability of the mean of `m` runs (Spearman–Brown).
    pub fn of_mean(&self, m: f64) -> f64 {
        m * self.one_run / (1.0 + (m - 1.0) * self.one_run)
    }

    /// Runs per body whose mean reaches `target` reliability (fractional: round up), `None`
    /// when the bodies show no real difference at all.
    pub fn runs_for(&self, target: f64) -> Option<f64> {
        (self.one_run > 0.0)
            .then(|| (target * (1.0 - self.one_run) / ((1.0 - target) * self.one_run)).max(1.0))
    }
}

/// The arithmetic mean; 0 for no values.
pub(crate) fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// Sample variance (`n − 1` in the denominator); 0 for fewer than two values.
fn variance(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let m = mean(values);
    values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (values.len() - 1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_halves_average_each_half_of_the_runs() {
        let runs: [&[f64]; 2] = [&[1.0, 3.0, 5.0, 7.0], &[2.0, 2.0, 4.0, 4.0, 9.0]];
        let (a, b) = halves(&runs).expect("two halves");
        assert_eq!(a, vec![2.0, 2.0]);
        assert_eq!(b, vec![6.0, 4.0]);
        assert!(halves(&[&[1.0][..], &[2.0, 3.0][..]]).is_none());
    }

    #[test]
    fn heads_repeatability_splits_noise_from_body_differences() {
        // bodies 0, 10, 20 measured twice with ±1 noise: σ_w² = 2, var(means) = 100
        let runs: [&[f64]; 3] = [&[-1.0, 1.0], &[9.0, 11.0], &[19.0, 21.0]];
        let r = Repeatability::of(&runs).expect("defined");
        assert!((r.run_noise - 2f64.sqrt()).abs() < 1e-12);
        assert!((r.body_spread - 99f64.sqrt()).abs() < 1e-12);
        assert!((r.one_run - 99.0 / 101.0).abs() < 1e-12);
        // reliability rises with runs and reaches the target at the runs it asks for
        let m = r.runs_for(0.999).expect("bodies differ");
        assert!((r.of_mean(m) - 0.999).abs() < 1e-9);
        assert!(r.of_mean(2.0) > r.one_run);

        // pure noise: identical bodies, different runs
        let noise: [&[f64]; 3] = [&[0.0, 2.0], &[2.0, 0.0], &[1.0, 1.0]];
        let r = Repeatability::of(&noise).expect("defined");
        assert_eq!(r.one_run, 0.0);
        assert_eq!(r.runs_for(0.8), None);
        // undefined cases
        assert!(Repeatability::of(&[&[1.0][..], &[2.0][..]]).is_none());
        assert!(Repeatability::of(&[&[1.0, 1.0][..], &[1.0, 1.0][..]]).is_none());
    }
}
