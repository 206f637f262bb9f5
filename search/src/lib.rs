//! aiop-search: cheaper networks that keep their predicted performance — the paper's
//! mutation-based search, with the predictor as the fitness.
//!
//! A [`space::Space`] says what a network is and what one edit does ([`spaces`]: NAS-Bench-201
//! cells); [`evolution`] runs a seeded NSGA-II over it (or random sampling, the baseline) with a
//! [`evolution::Scorer`] ([`scorers`]: a predictor's task, or MACs alone), scoring each
//! generation in one batch; [`pareto`] holds the
//! two-objective arithmetic (fronts, crowding, hypervolume) that selection and evaluation share;
//! [`benchmark`] judges searches against NAS-Bench-201's true accuracies.

pub mod benchmark;
pub mod evolution;
pub mod pareto;
pub mod scorers;
pub mod space;
pub mod spaces;

pub use evolution::{
    Candidate, Scorer, SearchError, Settings, Strategy, cheapest_within, front, search,
};
pub use space::Space;
