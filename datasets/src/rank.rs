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

/// The 95 % percentile-bootstrap interval of Spearman's ρ between `x` and `y`: `resamples`
/// draws of the pairs with replacement (seeded, so the same data give the same interval).
/// `None` when fewer than 3 pairs or no draw gives a finite ρ (every value tied).
pub fn srcc_interval(x: &[f64], y: &[f64], resamples: usize, seed: u64) -> Option<(f64, f64)> {
    use rand::{Rng, SeedableRng};
    let n = x.len().min(y.len());
    if n < 3 {
        return None;
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
    let mut draws: Vec<f64> = (0..resamples)
        .filter_map(|_| {
            for k in 0..n {
                let i = rng.random_range(0..n);
                (a[k], b[k]) = (x[i], y[i]);
            }
            Some(srcc(&a, &b)).filter(|r| r.is_finite())
        })
        .collect();
    if draws.is_empty() {
        return None;
    }
    draws.sort_by(f64::total_cmp);
    let at = |q: f64| draws[((q * draws.len() as f64) as usize).min(draws.len() - 1)];
    Some((at(0.025), at(0.975)))
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

/// One network of a [`Ranking`].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Ranked {
    /// 1 for the best predicted network.
    pub rank: usize,
    /// Where it came from (a file path, or a description of a generated network).
    pub file: String,
    /// Its key in the labels (a file's stem).
    pub name: String,
    pub prediction: f64,
    /// Its label, when the labels have one.
    pub value: Option<f64>,
    pub macs: u64,
    pub params: u64,
}

/// Networks sorted by predicted score, best first, with the [`RankScores`] of the labelled ones
/// when labels were given: what `aiop rank --json` prints and `aiop.rank` returns.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Ranking {
    pub task: String,
    pub ranking: Vec<Ranked>,
    #[serde(flatten)]
    pub scores: Option<RankScores>,
}

/// A network to rank: `(file, name, prediction, MACs, params)`.
pub type Unranked = (String, String, f64, u64, u64);

impl Ranking {
    /// Sorts `networks` by prediction (best first; ties keep their order) and, with `labels`
    /// (`name → value`), scores the labelled ones.
    pub fn new(
        task: &str,
        networks: Vec<Unranked>,
        labels: Option<&std::collections::HashMap<String, f64>>,
    ) -> Ranking {
        let mut ranking: Vec<Ranked> = networks
            .into_iter()
            .map(|(file, name, prediction, macs, params)| Ranked {
                rank: 0,
                value: labels.and_then(|l| l.get(&name).copied()),
                file,
                name,
                prediction,
                macs,
                params,
            })
            .collect();
        ranking.sort_by(|a, b| b.prediction.total_cmp(&a.prediction));
        for (i, r) in ranking.iter_mut().enumerate() {
            r.rank = i + 1;
        }
        let scores = labels.map(|_| {
            let labelled: Vec<(f64, f64, f64)> = ranking
                .iter()
                .filter_map(|r| Some((r.prediction, r.value?, r.macs as f64)))
                .collect();
            RankScores::of(&labelled)
        });
        Ranking {
            task: task.to_string(),
            ranking,
            scores,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srcc_interval_brackets_the_estimate_and_narrows_with_more_pairs() {
        let x: Vec<f64> = (0..30).map(f64::from).collect();
        // a noisy monotone relation: ρ near 0.8
        let y: Vec<f64> = x.iter().map(|v| v + 12.0 * ((v * 7.3).sin())).collect();
        let rho = srcc(&x, &y);
        let (lo, hi) = srcc_interval(&x, &y, 1000, 0).unwrap();
        assert!(lo < rho && rho < hi && hi <= 1.0, "{lo} {rho} {hi}");
        assert_eq!(srcc_interval(&x, &y, 1000, 0), Some((lo, hi)), "seeded");
        let x4: Vec<f64> = (0..120).map(f64::from).collect();
        let y4: Vec<f64> = x4.iter().map(|v| v + 48.0 * ((v * 7.3).sin())).collect();
        let (lo4, hi4) = srcc_interval(&x4, &y4, 1000, 0).unwrap();
        assert!(hi4 - lo4 < hi - lo, "{lo4}..{hi4} vs {lo}..{hi}");
        assert_eq!(srcc_interval(&x[..2], &y[..2], 100, 0), None);
        assert_eq!(srcc_interval(&[1.0; 5], &[2.0; 5], 100, 0), None);
    }

    #[test]
    fn kendall_of_known_lists() {
        assert_eq!(kendall_tau(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), 1.0);
        assert_eq!(kendall_tau(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), -1.0);
        // one discordant pair of three
        assert!((kendall_tau(&[1.0, 2.0, 3.0], &[1.0, 3.0, 2.0]) - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn ranking_sorts_and_scores_the_labelled() {
        let net =
            |name: &str, p: f64, macs: u64| (format!("{name}.onnx"), name.to_string(), p, macs, 7);
        let labels = [("a", 70.0), ("b", 75.0)]
            .map(|(k, v)| (k.to_string(), v))
            .into_iter()
            .collect();
        let r = Ranking::new(
            "t",
            vec![net("a", 60.0, 5), net("c", 90.0, 1), net("b", 80.0, 9)],
            Some(&labels),
        );
        let order: Vec<_> = r
            .ranking
            .iter()
            .map(|r| (r.rank, r.name.as_str(), r.value))
            .collect();
        assert_eq!(
            order,
            [(1, "c", None), (2, "b", Some(75.0)), (3, "a", Some(70.0))]
        );
        let s = r.scores.as_ref().unwrap();
        assert_eq!((s.n, s.srcc, s.flops_srcc), (2, 1.0, 1.0));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["srcc"], 1.0);
        assert_eq!(json["ranking"][0]["value"], serde_json::Value::Null);
        assert!(Ranking::new("t", vec![], None).scores.is_none());
    }

    #[test]
    fn mae_of_known_lists() {
        assert_eq!(mae(&[1.0, 2.0], &[2.0, 4.0]), 1.5);
        assert!(mae(&[], &[]).is_nan());
    }
}
