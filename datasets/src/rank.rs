//! How predictions are judged: how well one list of values orders items like another
//! (Spearman's ρ, Kendall's τ-b) — the measure every predictor and every naive baseline (FLOPs,
//! params) is judged by — and the mean absolute error in the task's metric.

/// Average ranks (ties share their mean rank), 1-based.
pub fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|a, b| values[*a].total_cmp(&values[*b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for k in &order[i..=j] {
            ranks[*k] = rank;
        }
        i = j + 1;
    }
    ranks
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    if x.len() < 2 {
        return f64::NAN;
    }
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    sxy / (sxx * syy).sqrt()
}

/// Spearman rank correlation coefficient.
pub fn srcc(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
}

/// Kendall's τ-b (ties in either list handled), O(n²): fine for test sets of thousands.
pub fn kendall_tau(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    let (mut concordant, mut discordant, mut ties_x, mut ties_y) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..n {
        for j in i + 1..n {
            let dx = x[i].total_cmp(&x[j]) as i64;
            let dy = y[i].total_cmp(&y[j]) as i64;
            match (dx, dy) {
                (0, 0) => {}
                (0, _) => ties_x += 1,
                (_, 0) => ties_y += 1,
                _ if dx == dy => concordant += 1,
                _ => discordant += 1,
            }
        }
    }
    let denominator =
        (((concordant + discordant + ties_x) * (concordant + discordant + ties_y)) as f64).sqrt();
    if denominator == 0.0 {
        f64::NAN
    } else {
        (concordant - discordant) as f64 / denominator
    }
}

/// Mean absolute error.
pub fn mae(predicted: &[f64], truth: &[f64]) -> f64 {
    let n = predicted.len().min(truth.len());
    if n == 0 {
        return f64::NAN;
    }
    predicted
        .iter()
        .zip(truth)
        .map(|(p, t)| (p - t).abs())
        .sum::<f64>()
        / n as f64
}

/// How a ranking of labelled networks compares with their labels, beside the FLOPs baseline:
/// what `aiop rank --labels` reports.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RankScores {
    /// Labelled networks compared.
    pub n: usize,
    pub srcc: f64,
    pub kendall: f64,
    pub mae: f64,
    /// Spearman's ρ of ranking by MACs.
    pub flops_srcc: f64,
}

impl RankScores {
    /// The scores of `(prediction, label, MACs)` triples.
    pub fn of(labelled: &[(f64, f64, f64)]) -> RankScores {
        let (pred, (truth, flops)): (Vec<f64>, (Vec<f64>, Vec<f64>)) =
            labelled.iter().map(|&(p, t, f)| (p, (t, f))).unzip();
        RankScores {
            n: labelled.len(),
            srcc: srcc(&pred, &truth),
            kendall: kendall_tau(&pred, &truth),
            mae: mae(&pred, &truth),
            flops_srcc: srcc(&flops, &truth),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kendall_of_known_lists() {
        assert_eq!(kendall_tau(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), 1.0);
        assert_eq!(kendall_tau(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), -1.0);
        // one discordant pair of three
        assert!((kendall_tau(&[1.0, 2.0, 3.0], &[1.0, 3.0, 2.0]) - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn mae_of_known_lists() {
        assert_eq!(mae(&[1.0, 2.0], &[2.0, 4.0]), 1.5);
        assert!(mae(&[], &[]).is_nan());
    }
}
