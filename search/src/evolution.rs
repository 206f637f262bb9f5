//! The search loop: a seeded NSGA-II over a [`Space`] — a population of networks, children one
//! edit away from parents picked by tournament (Pareto rank, then crowding), survivors picked
//! by the same order — with every new network's CG built and scored in one batch per
//! generation. [`Strategy::Random`] samples the space instead (the baseline of equal budget).

use std::collections::HashMap;

use aiop_converter::Cg;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::pareto::{self, Objectives};
use crate::space::Space;

/// Scores networks (higher is better): a predictor's task output, or a proxy.
pub trait Scorer: Sync {
    /// One score per CG, in order.
    fn scores(&self, cgs: &[Cg]) -> Result<Vec<f64>, String>;
}

/// How new networks are proposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Mutations of the best networks so far (NSGA-II selection).
    Evolution,
    /// Uniformly random networks of the space.
    Random,
}

/// Networks a search evaluates unless told otherwise, the start included.
pub const DEFAULT_BUDGET: usize = 300;
/// Networks kept per generation unless told otherwise.
pub const DEFAULT_POPULATION: usize = 24;
/// The drop of the predicted score accepted when choosing, unless told otherwise.
pub const DEFAULT_MAX_DROP: f64 = 0.5;

/// What a search may spend and how it draws.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Networks evaluated in all, the start included.
    pub budget: usize,
    /// Networks kept from one generation to the next (also the batch of each generation).
    pub population: usize,
    pub seed: u64,
    pub strategy: Strategy,
    /// Stop as soon as a network scores at least `.0` with at most `.1` MACs.
    pub stop_at: Option<(f64, u64)>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            budget: DEFAULT_BUDGET,
            population: DEFAULT_POPULATION,
            seed: 0,
            strategy: Strategy::Evolution,
            stop_at: None,
        }
    }
}

/// One evaluated network.
#[derive(Clone, Debug)]
pub struct Candidate<P> {
    pub point: P,
    /// The space's key of the network.
    pub key: String,
    /// The edits that lead from the start to it, in order (empty for the start and for
    /// random networks).
    pub edits: Vec<String>,
    pub score: f64,
    pub macs: u64,
    pub params: u64,
}

impl<P> Candidate<P> {
    pub fn objectives(&self) -> Objectives {
        Objectives {
            score: self.score,
            cost: self.macs as f64,
        }
    }
}

/// Why a search stopped early.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("the start network: {0}")]
    Start(String),
    #[error("scoring: {0}")]
    Score(String),
}

/// A proposal: the point, its key and the edits that made it.
type Proposal<P> = (P, String, Vec<String>);

struct Run<'a, S: Space> {
    space: &'a S,
    scorer: &'a dyn Scorer,
    settings: &'a Settings,
    progress: &'a (dyn Fn(usize) + Sync),
    rng: ChaCha8Rng,
    archive: Vec<Candidate<S::Point>>,
    seen: HashMap<String, usize>,
}

impl<S: Space> Run<'_, S> {
    /// Builds and scores `proposals` (new keys only); networks whose CG cannot be built are
    /// dropped. Returns their archive indices.
    fn evaluate(&mut self, proposals: Vec<Proposal<S::Point>>) -> Result<Vec<usize>, SearchError> {
        let built: Vec<(Proposal<S::Point>, Cg)> = proposals
            .into_par_iter()
            .filter_map(|p| self.space.cg(&p.0).ok().map(|cg| (p, cg)))
            .collect();
        let (proposals, cgs): (Vec<_>, Vec<_>) = built.into_iter().unzip();
        let scores = self.scorer.scores(&cgs).map_err(SearchError::Score)?;
        let mut added = Vec::new();
        for (((point, key, edits), cg), score) in proposals.into_iter().zip(&cgs).zip(scores) {
            let index = self.archive.len();
            self.seen.insert(key.clone(), index);
            self.archive.push(Candidate {
                point,
                key,
                edits,
                score,
                macs: cg.macs(),
                params: cg.params(),
            });
            added.push(index);
        }
        (self.progress)(self.archive.len());
        Ok(added)
    }

    fn left(&self) -> usize {
        self.settings.budget.saturating_sub(self.archive.len())
    }

    fn reached(&self) -> bool {
        self.settings.stop_at.is_some_and(|(score, macs)| {
            self.archive
                .iter()
                .any(|c| c.score >= score && c.macs <= macs)
        })
    }

    /// A new network one to `max_edits` edits from `parent`, if one is found in a few draws.
    fn child_of(
        &mut self,
        parent: usize,
        max_edits: usize,
        taken: &HashMap<String, ()>,
    ) -> Option<Proposal<S::Point>> {
        for _ in 0..32 {
            let mut point = self.archive[parent].point.clone();
            let mut edits = self.archive[parent].edits.clone();
            let wanted = self.rng.random_range(1..=max_edits);
            let mut made = 0;
            for _ in 0..wanted * 8 {
                if made == wanted {
                    break;
                }
                if let Some((next, edit)) = self.space.mutate(&point, &mut self.rng) {
                    point = next;
                    edits.push(edit);
                    made += 1;
                }
            }
            let key = self.space.key(&point);
            if made > 0 && !self.seen.contains_key(&key) && !taken.contains_key(&key) {
                return Some((point, key, edits));
            }
        }
        None
    }

    /// Pareto rank and crowding of each member of `members` (rank 0 is the front).
    fn order(&self, members: &[usize]) -> Vec<(usize, f64)> {
        let points: Vec<Objectives> = members
            .iter()
            .map(|&i| self.archive[i].objectives())
            .collect();
        let mut out = vec![(0, 0.0); members.len()];
        for (rank, front) in pareto::fronts(&points).into_iter().enumerate() {
            for (&m, d) in front.iter().zip(pareto::crowding(&points, &front)) {
                out[m] = (rank, d);
            }
        }
        out
    }

    /// Whether member `a` goes before `b`: lower rank, then larger crowding distance.
    fn better(a: (usize, f64), b: (usize, f64)) -> bool {
        a.0 < b.0 || (a.0 == b.0 && a.1 > b.1)
    }

    fn evolve(&mut self, start: usize) -> Result<(), SearchError> {
        // the first generation: mutants of the start, one to three edits away
        let mut taken = HashMap::new();
        let mut first = Vec::new();
        while first.len() < self.settings.population.min(self.left()) {
            match self.child_of(start, 3, &taken) {
                Some(p) => {
                    taken.insert(p.1.clone(), ());
                    first.push(p);
                }
                None => break,
            }
        }
        let mut population = vec![start];
        population.extend(self.evaluate(first)?);
        while self.left() > 0 && !self.reached() {
            let order = self.order(&population);
            let mut taken = HashMap::new();
            let mut children = Vec::new();
            let mut misses = 0;
            while children.len() < self.settings.population.min(self.left()) && misses < 64 {
                let (a, b) = (
                    self.rng.random_range(0..population.len()),
                    self.rng.random_range(0..population.len()),
                );
                let parent = if Self::better(order[a], order[b]) {
                    a
                } else {
                    b
                };
                match self.child_of(population[parent], 1, &taken) {
                    Some(p) => {
                        taken.insert(p.1.clone(), ());
                        children.push(p);
                    }
                    None => misses += 1,
                }
            }
            if children.is_empty() {
                break; // every neighbour of the population has been seen
            }
            population.extend(self.evaluate(children)?);
            // survivors: by rank, then crowding
            let order = self.order(&population);
            let mut ranked: Vec<usize> = (0..population.len()).collect();
            ranked.sort_by(|&a, &b| {
                order[a]
                    .0
                    .cmp(&order[b].0)
                    .then(order[b].1.total_cmp(&order[a].1))
            });
            population = ranked
                .into_iter()
                .take(self.settings.population)
                .map(|i| population[i])
                .collect();
        }
        Ok(())
    }

    fn sample(&mut self) -> Result<(), SearchError> {
        while self.left() > 0 && !self.reached() {
            let mut taken = HashMap::new();
            let mut batch = Vec::new();
            let mut misses = 0;
            while batch.len() < self.settings.population.min(self.left()) && misses < 256 {
                let point = self.space.random(&mut self.rng);
                let key = self.space.key(&point);
                if self.seen.contains_key(&key) || taken.contains_key(&key) {
                    misses += 1;
                    continue;
                }
                taken.insert(key.clone(), ());
                batch.push((point, key, Vec::new()));
            }
            if batch.is_empty() {
                break;
            }
            self.evaluate(batch)?;
        }
        Ok(())
    }
}

/// Searches `space` from `start` with `scorer` as the fitness; `progress` is told the number
/// of networks evaluated after each batch. Returns every network evaluated, the start first;
/// [`front`] and [`cheapest_within`] pick from them.
pub fn search<S: Space>(
    space: &S,
    start: S::Point,
    scorer: &dyn Scorer,
    settings: &Settings,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<Candidate<S::Point>>, SearchError> {
    let mut run = Run {
        space,
        scorer,
        settings,
        progress,
        rng: ChaCha8Rng::seed_from_u64(settings.seed),
        archive: Vec::new(),
        seen: HashMap::new(),
    };
    let key = space.key(&start);
    let first = run.evaluate(vec![(start, key, Vec::new())])?;
    let Some(&start) = first.first() else {
        return Err(SearchError::Start("its CG could not be built".into()));
    };
    match settings.strategy {
        Strategy::Evolution => run.evolve(start)?,
        Strategy::Random => run.sample()?,
    }
    Ok(run.archive)
}

/// The Pareto front of `candidates` (score up, MACs down), cheapest first.
pub fn front<P>(candidates: &[Candidate<P>]) -> Vec<&Candidate<P>> {
    let points: Vec<Objectives> = candidates.iter().map(Candidate::objectives).collect();
    pareto::front(&points)
        .into_iter()
        .map(|i| &candidates[i])
        .collect()
}

/// The candidate scoring best among those costing at most `max_macs` and scoring at least
/// `min_score` (ties: the cheaper): the network to pick when a reduction is the target.
pub fn best_within<P>(
    candidates: &[Candidate<P>],
    max_macs: u64,
    min_score: f64,
) -> Option<&Candidate<P>> {
    candidates
        .iter()
        .filter(|c| c.macs <= max_macs && c.score >= min_score)
        .max_by(|a, b| a.score.total_cmp(&b.score).then(b.macs.cmp(&a.macs)))
}

/// How a search picks the network it returns.
#[derive(Clone, Copy, Debug, Default)]
pub struct Choice {
    /// The largest drop of the score accepted.
    pub max_drop: f64,
    /// With a target reduction (a fraction of the start's MACs): the best-scoring network at
    /// least that much cheaper ([`best_within`]); without, the cheapest ([`cheapest_within`]).
    pub target: Option<f64>,
    /// Only networks at most this many edits from the start (a predictor ranks a network's
    /// close neighbours better than far ones: docs/search.md).
    pub max_edits: Option<usize>,
}

/// The network a search returns by `choice`, cheaper than the start (`candidates[0]`).
pub fn choose<P: Clone>(candidates: &[Candidate<P>], choice: &Choice) -> Option<Candidate<P>> {
    let start = candidates.first()?;
    let near: Vec<Candidate<P>> = candidates
        .iter()
        .filter(|c| choice.max_edits.is_none_or(|k| c.edits.len() <= k))
        .cloned()
        .collect();
    let min_score = start.score - choice.max_drop;
    let chosen = match choice.target {
        Some(r) => best_within(&near, (start.macs as f64 * (1.0 - r)) as u64, min_score),
        None => cheapest_within(&near, min_score),
    };
    chosen.filter(|c| c.macs < start.macs).cloned()
}

/// The cheapest candidate scoring at least `min_score` (ties: the higher score).
pub fn cheapest_within<P>(candidates: &[Candidate<P>], min_score: f64) -> Option<&Candidate<P>> {
    candidates
        .iter()
        .filter(|c| c.score >= min_score)
        .min_by(|a, b| a.macs.cmp(&b.macs).then(b.score.total_cmp(&a.score)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spaces::nb201::Nb201;
    use aiop_datasets::spaces::nb201::Cell;

    /// A made-up fitness: more 3×3 convolutions score higher, `none` edges cost a point each.
    struct Toy;

    impl Scorer for Toy {
        fn scores(&self, cgs: &[Cg]) -> Result<Vec<f64>, String> {
            Ok(cgs
                .iter()
                .map(|cg| {
                    let cell: Cell = cg.name.parse().unwrap();
                    let count =
                        |name: &str| cell.0.iter().filter(|o| o.name() == name).count() as f64;
                    count("nor_conv_3x3") * 2.0 + count("nor_conv_1x1") - count("none")
                })
                .collect())
        }
    }

    fn start() -> Cell {
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
            .parse()
            .unwrap()
    }

    #[test]
    fn evolution_is_seeded_distinct_and_within_budget() {
        let settings = Settings {
            budget: 120,
            population: 16,
            ..Settings::default()
        };
        let a = search(&Nb201::default(), start(), &Toy, &settings, &|_| {}).unwrap();
        let b = search(&Nb201::default(), start(), &Toy, &settings, &|_| {}).unwrap();
        assert_eq!(a.len(), 120);
        assert_eq!(
            a.iter().map(|c| &c.key).collect::<Vec<_>>(),
            b.iter().map(|c| &c.key).collect::<Vec<_>>()
        );
        let keys: std::collections::HashSet<_> = a.iter().map(|c| &c.key).collect();
        assert_eq!(keys.len(), a.len());
        assert!(a[0].edits.is_empty() && a[1..].iter().all(|c| !c.edits.is_empty()));
        // the front runs from cheap to expensive (equal points may tie), and includes the
        // start (the best score)
        let f = front(&a);
        assert!(
            f.windows(2)
                .all(|w| w[0].macs <= w[1].macs && w[0].score <= w[1].score)
        );
        assert_eq!(f.last().unwrap().key, a[0].key);
        // the cheapest network within 2 points of the start is cheaper than the start
        let pick = cheapest_within(&a, a[0].score - 2.0).unwrap();
        assert!(pick.macs < a[0].macs && pick.score >= a[0].score - 2.0);
    }

    #[test]
    fn random_search_and_early_stop() {
        let settings = Settings {
            budget: 60,
            strategy: Strategy::Random,
            ..Settings::default()
        };
        let random = search(&Nb201::default(), start(), &Toy, &settings, &|_| {}).unwrap();
        assert_eq!(random.len(), 60);
        assert!(random[1..].iter().all(|c| c.edits.is_empty()));
        let first = search(
            &Nb201::default(),
            start(),
            &Toy,
            &Settings::default(),
            &|_| {},
        )
        .unwrap();
        let (min_score, max_macs) = (first[0].score - 2.0, first[0].macs * 9 / 10);
        let stop_at = Some((min_score, max_macs));
        let stopped = search(
            &Nb201::default(),
            start(),
            &Toy,
            &Settings {
                stop_at,
                ..Settings::default()
            },
            &|_| {},
        )
        .unwrap();
        assert!(stopped.len() < first.len());
        assert!(
            stopped
                .iter()
                .any(|c| c.score >= min_score && c.macs <= max_macs)
        );
    }

    /// The choice rules: the cheapest within the drop; with a target, the best at least that
    /// much cheaper; with an edit limit, only close networks; never the start itself.
    #[test]
    fn choices_follow_their_rule() {
        let c = |key: &str, edits: usize, score: f64, macs: u64| Candidate {
            point: (),
            key: key.into(),
            edits: vec![String::new(); edits],
            score,
            macs,
            params: 0,
        };
        let found = [
            c("start", 0, 70.0, 100),
            c("near", 1, 69.8, 85),
            c("far", 3, 69.9, 80),
            c("cheapest", 4, 69.6, 40),
            c("worse", 1, 68.0, 10),
        ];
        let pick = |max_drop, target, max_edits| {
            let choice = Choice {
                max_drop,
                target,
                max_edits,
            };
            choose(&found, &choice).map(|c| c.key)
        };
        assert_eq!(pick(0.5, None, None).as_deref(), Some("cheapest"));
        assert_eq!(pick(0.5, Some(0.15), None).as_deref(), Some("far"));
        assert_eq!(pick(0.5, Some(0.15), Some(1)).as_deref(), Some("near"));
        assert_eq!(pick(0.1, Some(0.15), Some(1)), None);
        assert_eq!(pick(5.0, None, Some(1)).as_deref(), Some("worse"));
    }
}
