//! The graph-statistics baseline that every predictor result is compared with: a small
//! regressor on four numbers per network — log MACs, log params, log node count, log input
//! resolution ([`GraphStats::features`], the same numbers the predictor sees on every node) —
//! with no graph structure at all. A predictor that does not beat it on held-out networks has
//! not learnt anything from the graph.
//!
//! Gradient-boosted regression trees (the `gbdt` crate) with scikit-learn's
//! `GradientBoostingRegressor` settings: 200 trees of depth 3, learning rate 0.1, squared
//! error, the mean label as the initial guess, no subsampling (so it is deterministic).

use aiop_predictor::encoding::{GRAPH_FEATURES, GraphStats};
use gbdt::config::Config;
use gbdt::decision_tree::{Data, DataVec};
use gbdt::gradient_boost::GBDT;

use crate::data::Sample;

/// Trees in the ensemble.
const TREES: usize = 200;
/// Depth of each tree.
const DEPTH: u32 = 3;
/// Shrinkage of each tree's contribution.
const LEARNING_RATE: f32 = 0.1;

/// Gradient-boosted trees from graph statistics to a task's label.
pub struct StatsRegressor {
    model: GBDT,
}

fn features(stats: &GraphStats) -> Vec<f32> {
    stats.features().to_vec()
}

impl StatsRegressor {
    /// Fits the trees to the labels of `samples` (in the task's metric). `None` when there
    /// are fewer than two samples.
    pub fn fit(samples: &[&Sample]) -> Option<StatsRegressor> {
        if samples.len() < 2 {
            return None;
        }
        let mut config = Config::new();
        config.set_feature_size(GRAPH_FEATURES);
        config.set_max_depth(DEPTH);
        config.set_iterations(TREES);
        config.set_shrinkage(LEARNING_RATE);
        config.set_loss("SquaredError");
        config.set_min_leaf_size(1);
        config.enabled_initial_guess(true);
        let mut data: DataVec = samples
            .iter()
            .map(|s| Data::new_training_data(features(&s.graph.stats), 1.0, s.label as f32, None))
            .collect();
        let mut model = GBDT::new(&config);
        model.fit(&mut data);
        Some(StatsRegressor { model })
    }

    /// Predicted labels of `samples`.
    pub fn predict(&self, samples: &[&Sample]) -> Vec<f64> {
        let data: DataVec = samples
            .iter()
            .map(|s| Data::new_test_data(features(&s.graph.stats), None))
            .collect();
        self.model
            .predict(&data)
            .into_iter()
            .map(f64::from)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiop_datasets::rank::srcc;
    use aiop_predictor::EncodedGraph;

    fn sample(macs: u64, resolution: u32, label: f64) -> Sample {
        Sample {
            name: format!("m{macs}-{resolution}"),
            family: "f".into(),
            graph: EncodedGraph {
                stats: GraphStats {
                    macs,
                    params: macs / 100,
                    nodes: 100,
                    resolution,
                },
                ..Default::default()
            },
            label,
            gflops: macs as f64 / 1e9,
            params: macs / 100,
        }
    }

    /// Labels that grow with log MACs and resolution are learnt, and ranked on new networks.
    #[test]
    fn learns_a_monotone_size_rule_and_is_deterministic() {
        let rule = |macs: u64, res: u32| 10.0 * (macs as f64).log10() + f64::from(res) / 32.0;
        let train: Vec<Sample> = (0..60)
            .map(|i| {
                let macs = 100_000_000 + 97_000_000 * i as u64;
                let res = [160, 224, 288][i % 3];
                sample(macs, res, rule(macs, res))
            })
            .collect();
        let test: Vec<Sample> = (0..20)
            .map(|i| {
                let macs = 150_000_000 + 290_000_000 * i as u64;
                sample(macs, 224, rule(macs, 224))
            })
            .collect();
        let train: Vec<&Sample> = train.iter().collect();
        let test: Vec<&Sample> = test.iter().collect();
        let model = StatsRegressor::fit(&train).unwrap();
        let predicted = model.predict(&test);
        let labels: Vec<f64> = test.iter().map(|s| s.label).collect();
        assert!(srcc(&predicted, &labels) > 0.95, "{predicted:?}");
        let again = StatsRegressor::fit(&train).unwrap().predict(&test);
        assert_eq!(predicted, again);
        assert!(StatsRegressor::fit(&train[..1]).is_none());
    }
}
