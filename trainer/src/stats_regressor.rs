//! The graph-statistics baseline that every predictor result is compared with: a small
//! regressor on four numbers per network — log MACs, log params, log node count, log input
//! resolution ([`GraphStats::features`], the same numbers the predictor sees on every node) —
//! with no graph structure at all. A predictor that does not beat it on held-out networks has
//! not learnt anything from the graph.
//!
//! Gradient-boosted regression trees (the `gbdt` crate) with scikit-learn's
//! `GradientBoostingRegressor` settings: 200 trees of depth 3, learning rate 0.1, squared
//! error, no subsampling (so it is deterministic). The boosting starts from 0 rather than the
//! mean label; after 200 rounds of shrinkage 0.1 the difference is below 1e-8 of the mean.
//!
//! [`StatsRegressor::to_trees`] flattens the fitted trees into the predictor file's layout
//! ([`aiop_predictor::trees`]), so that every runtime can blend them in without this crate.

use aiop_predictor::encoding::{GRAPH_FEATURES, GraphStats};
use aiop_predictor::trees::{TreeEnsemble, TreeNode};
use gbdt::config::Config;
use gbdt::decision_tree::{Data, DataVec};
use gbdt::gradient_boost::GBDT;
use serde_json::Value;

use crate::TrainError;
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

    /// The fitted trees in the predictor file's layout; they predict exactly what
    /// [`Self::predict`] does. `gbdt` keeps its trees private but serialises them (its model
    /// file format), which is read here.
    pub fn to_trees(&self) -> Result<TreeEnsemble, TrainError> {
        let bad = |what: &str| TrainError::Invalid(format!("unexpected gbdt model: {what}"));
        let model = serde_json::to_value(&self.model)?;
        let conf = &model["conf"];
        let number = |v: &Value, what: &str| v.as_f64().ok_or_else(|| bad(what));
        let base = if conf["initial_guess_enabled"].as_bool() == Some(true) {
            0.0 // every record's initial guess is 0: none is given
        } else {
            number(&model["bias"], "bias")?
        };
        let trees = model["trees"]
            .as_array()
            .ok_or_else(|| bad("trees"))?
            .iter()
            .map(|tree| {
                let nodes = tree["tree"]["tree"]
                    .as_array()
                    .ok_or_else(|| bad("nodes"))?;
                nodes
                    .iter()
                    .map(|node| {
                        let value = &node["value"];
                        let index = |key: &str| {
                            node[key]
                                .as_u64()
                                .and_then(|i| u32::try_from(i).ok())
                                .ok_or_else(|| bad(key))
                        };
                        if value["is_leaf"].as_bool().ok_or_else(|| bad("is_leaf"))? {
                            return Ok(TreeNode::Leaf(number(&value["pred"], "pred")? as f32));
                        }
                        let feature = value["feature_index"]
                            .as_u64()
                            .ok_or_else(|| bad("feature"))?;
                        Ok(TreeNode::Split(
                            u8::try_from(feature).map_err(|_| bad("feature"))?,
                            number(&value["feature_value"], "threshold")? as f32,
                            index("left")?,
                            index("right")?,
                        ))
                    })
                    .collect::<Result<Vec<TreeNode>, TrainError>>()
            })
            .collect::<Result<Vec<_>, TrainError>>()?;
        let ensemble = TreeEnsemble {
            base: base as f32,
            shrinkage: number(&conf["shrinkage"], "shrinkage")? as f32,
            trees,
        };
        ensemble.check().map_err(|e| bad(&e))?;
        Ok(ensemble)
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
        // the flattened trees predict exactly the same, on training and new networks
        let trees = model.to_trees().unwrap();
        assert_eq!(trees.trees.len(), 200);
        for (s, p) in test
            .iter()
            .chain(&train)
            .zip(model.predict(&test).iter().chain(&model.predict(&train)))
        {
            let flat = trees.predict(&s.graph.stats.features());
            assert_eq!(f64::from(flat), *p, "{}", s.name);
        }
    }
}
