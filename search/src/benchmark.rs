//! The honest check of a search: NAS-Bench-201, where the true accuracy of every cell is known.
//! From starting cells drawn among the best 10 % (true accuracy), each method searches with the
//! same budget; the networks it returns are judged by their true accuracy:
//!
//! - the **chosen** network (the cheapest within `max_drop` of the start's *predicted* score,
//!   or with a target reduction the best-predicted one at least that much cheaper):
//!   its MACs reduction and its true accuracy change against the start;
//! - the **front** it returns (its Pareto front by its own scores): the share of the box
//!   "cheaper than the start, at most 5 points less accurate" that the true (accuracy, MACs)
//!   of those networks dominate (a normalised hypervolume);
//! - the **explored** set: the same hypervolume of every network it evaluated — equal in
//!   number for every method (the budget), so it compares where each method's guidance led.
//!
//! Methods: the evolutionary search with the predictor, random sampling with the predictor
//! (same budget), and the evolutionary search judged by MACs alone (FLOPs-only; it has no score
//! to choose with, and returns every network it found as its front).

use std::collections::HashMap;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use aiop_datasets::spaces::nb201::Cell;

use crate::evolution::{
    Candidate, Choice, DEFAULT_BUDGET, DEFAULT_MAX_DROP, DEFAULT_POPULATION, Scorer, SearchError,
    Settings, Strategy, choose, front, search,
};
use crate::pareto::{Objectives, hypervolume};
use crate::scorers::MacsProxy;
use crate::space::Space;
use crate::spaces::nb201::Nb201;

/// What the benchmark runs.
#[derive(Clone, Debug)]
pub struct Protocol {
    /// Starting cells, drawn (seed 0) among the best `top_fraction` by true accuracy.
    pub starts: usize,
    /// Starts skipped from the draw: methods are tried on `skip = 20` (starts the table, which
    /// uses the first 20, never sees) before they are run on the table's.
    pub skip: usize,
    pub top_fraction: f64,
    /// Search seeds per start (the spread of the table is over these).
    pub seeds: u64,
    pub budget: usize,
    pub population: usize,
    /// How the chosen network is picked (by predicted score).
    pub choice: Choice,
    /// Depth of the hypervolume box below the start's true accuracy, in points.
    pub box_depth: f64,
}

impl Default for Protocol {
    fn default() -> Self {
        Protocol {
            starts: 20,
            skip: 0,
            top_fraction: 0.1,
            seeds: 5,
            budget: DEFAULT_BUDGET,
            population: DEFAULT_POPULATION,
            choice: Choice {
                max_drop: DEFAULT_MAX_DROP,
                ..Choice::default()
            },
            box_depth: 5.0,
        }
    }
}

/// One method's results: per seed, the mean over starts.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MethodResult {
    pub method: String,
    /// MACs reduction of the chosen network, % (none for FLOPs-only).
    pub reduction: Option<Vec<f64>>,
    /// True accuracy change of the chosen network, points.
    pub accuracy_change: Option<Vec<f64>>,
    /// Normalised hypervolume of the returned front.
    pub hypervolume: Vec<f64>,
    /// Normalised hypervolume of every network the search evaluated (its budget): where the
    /// method's guidance led it, whatever it returns — the same count of networks for every
    /// method, unlike the fronts.
    pub explored_hypervolume: Vec<f64>,
}

/// The `count` starting cells after the first `skip`: a seeded draw among the best `fraction`
/// by `truth`.
pub fn starts(truth: &HashMap<String, f64>, fraction: f64, skip: usize, count: usize) -> Vec<Cell> {
    let mut ranked: Vec<(&String, f64)> = truth.iter().map(|(k, &v)| (k, v)).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    let top = ((ranked.len() as f64 * fraction).ceil() as usize).max(1);
    let mut best: Vec<Cell> = ranked[..top]
        .iter()
        .filter_map(|(k, _)| k.parse().ok())
        .collect();
    best.shuffle(&mut ChaCha8Rng::seed_from_u64(0));
    best.into_iter().skip(skip).take(count).collect()
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// Runs the protocol with `predicted` as the predictor's scorer; `truth` maps architecture
/// strings to true accuracy. `progress` is told each finished search.
pub fn run(
    truth: &HashMap<String, f64>,
    predicted: &dyn Scorer,
    protocol: &Protocol,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<MethodResult>, SearchError> {
    let space = Nb201::default();
    let starts = starts(truth, protocol.top_fraction, protocol.skip, protocol.starts);
    let true_of = |c: &Candidate<Cell>| truth.get(&c.key).copied().unwrap_or(f64::NAN);
    let methods: [(&str, Strategy, bool); 3] = [
        ("evolution + predictor", Strategy::Evolution, true),
        ("random + predictor", Strategy::Random, true),
        ("evolution + MACs only", Strategy::Evolution, false),
    ];
    let mut out = Vec::new();
    for (name, strategy, uses_predictor) in methods {
        let scorer: &dyn Scorer = if uses_predictor {
            predicted
        } else {
            &MacsProxy
        };
        let (mut reduction, mut change, mut volume, mut explored) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for seed in 0..protocol.seeds {
            let (mut r, mut a, mut h, mut e) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for start in &starts {
                let settings = Settings {
                    budget: protocol.budget,
                    population: protocol.population,
                    seed,
                    strategy,
                    stop_at: None,
                };
                let found = search(&space, *start, scorer, &settings, &|_| {})?;
                let base = &found[0];
                if uses_predictor {
                    let chosen = choose(&found, &protocol.choice).unwrap_or_else(|| base.clone());
                    r.push(100.0 * (1.0 - chosen.macs as f64 / base.macs as f64));
                    a.push(true_of(&chosen) - true_of(base));
                }
                // the returned front, judged by truth, in the box below the start
                let reference = Objectives {
                    score: true_of(base) - protocol.box_depth,
                    cost: base.macs as f64,
                };
                // the start itself sits on the box's edge and adds nothing
                let volume = |networks: &[&Candidate<Cell>]| {
                    let points: Vec<Objectives> = networks
                        .iter()
                        .map(|c| Objectives {
                            score: true_of(c),
                            cost: c.macs as f64,
                        })
                        .collect();
                    hypervolume(&points, reference) / (protocol.box_depth * base.macs as f64)
                };
                let all: Vec<&Candidate<Cell>> = found.iter().collect();
                h.push(volume(&if uses_predictor {
                    front(&found)
                } else {
                    all.clone()
                }));
                e.push(volume(&all));
                progress();
            }
            if uses_predictor {
                reduction.push(mean(&r));
                change.push(mean(&a));
            }
            volume.push(mean(&h));
            explored.push(mean(&e));
        }
        out.push(MethodResult {
            method: name.to_string(),
            reduction: uses_predictor.then_some(reduction),
            accuracy_change: uses_predictor.then_some(change),
            hypervolume: volume,
            explored_hypervolume: explored,
        });
    }
    if let Some(r) = protocol.choice.target {
        out.push(oracle(truth, &starts, r, protocol.seeds)?);
    }
    Ok(out)
}

/// What the whole space offers a start when its truth is known: the most accurate cell at
/// least `reduction` cheaper (the ceiling any search's chosen network is judged against).
fn oracle(
    truth: &HashMap<String, f64>,
    starts: &[Cell],
    reduction: f64,
    seeds: u64,
) -> Result<MethodResult, SearchError> {
    let space = Nb201::default();
    let macs_of = |cell: &Cell| {
        space
            .cg(cell)
            .map(|cg| cg.macs())
            .map_err(SearchError::Start)
    };
    let cells: Vec<(Cell, f64)> = truth
        .iter()
        .filter_map(|(k, &v)| k.parse().ok().map(|c| (c, v)))
        .collect();
    let macs: Vec<u64> = cells
        .par_iter()
        .map(|(c, _)| macs_of(c))
        .collect::<Result<_, _>>()?;
    let (mut r, mut a) = (Vec::new(), Vec::new());
    for start in starts {
        let start_macs = macs_of(start)?;
        let start_true = truth.get(&start.to_string()).copied().unwrap_or(f64::NAN);
        let limit = (start_macs as f64 * (1.0 - reduction)) as u64;
        let best = cells
            .iter()
            .zip(&macs)
            .filter(|(_, m)| **m <= limit)
            .max_by(|x, y| x.0.1.total_cmp(&y.0.1));
        if let Some(((_, acc), m)) = best {
            r.push(100.0 * (1.0 - *m as f64 / start_macs as f64));
            a.push(acc - start_true);
        }
    }
    let per_seed = |v: &[f64]| vec![mean(v); seeds as usize];
    Ok(MethodResult {
        method: "oracle: most accurate cell that cheap (truth)".into(),
        reduction: Some(per_seed(&r)),
        accuracy_change: Some(per_seed(&a)),
        hypervolume: Vec::new(),
        explored_hypervolume: Vec::new(),
    })
}

/// `mean ± std` of per-seed values.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let m = mean(values);
    let var =
        values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (values.len().max(2) - 1) as f64;
    (m, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_come_from_the_top() {
        let truth: HashMap<String, f64> = Cell::all()
            .enumerate()
            .map(|(i, c)| (c.to_string(), i as f64))
            .collect();
        let picked = starts(&truth, 0.1, 0, 20);
        assert_eq!(picked.len(), 20);
        let floor = 15_625.0 * 0.9 - 1.0;
        assert!(picked.iter().all(|c| truth[&c.to_string()] >= floor));
        assert_eq!(picked, starts(&truth, 0.1, 0, 20));
        // the tuning starts are others
        let tuning = starts(&truth, 0.1, 20, 20);
        assert!(tuning.iter().all(|c| !picked.contains(c)));
        assert_eq!(mean_std(&[1.0, 3.0]), (2.0, 2f64.sqrt()));
    }
}
