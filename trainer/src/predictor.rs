//! A trained predictor: network, label scaling and the facts needed to use it again, saved as
//! `weights.safetensors` + `predictor.json` in one folder.

use std::path::Path;

use aiop_predictor::{ENCODING_VERSION, EncodedGraph, LabelScaling};
use serde::{Deserialize, Serialize};
use tch::{Device, nn};

use crate::TrainError;
use crate::data::Sample;
use crate::model::{ModelConfig, Regressor};
use crate::train::{TrainConfig, fit, predict};

/// What `predictor.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PredictorMeta {
    /// Node-feature layout the network expects (see `aiop_predictor::encoding`).
    pub encoding_version: u32,
    pub model: ModelConfig,
    /// Task the head predicts.
    pub task: String,
    /// Maps the network's output back to the task's metric.
    pub scaling: LabelScaling,
    pub train: TrainConfig,
    /// Names of the training architectures.
    pub trained_on: usize,
}

/// The plain GNN predictor (backbone + MLP) with its scaling.
pub struct Predictor {
    pub vs: nn::VarStore,
    pub net: Regressor,
    pub meta: PredictorMeta,
}

const WEIGHTS: &str = "weights.safetensors";
const META: &str = "predictor.json";

impl Predictor {
    /// A freshly initialised predictor (weights seeded by `train.seed`).
    pub fn new(
        model: ModelConfig,
        task: &str,
        scaling: LabelScaling,
        train: TrainConfig,
        device: Device,
    ) -> Predictor {
        tch::manual_seed(train.seed as i64);
        let vs = nn::VarStore::new(device);
        let net = Regressor::new(&vs.root(), &model);
        Predictor {
            vs,
            net,
            meta: PredictorMeta {
                encoding_version: ENCODING_VERSION,
                model,
                task: task.into(),
                scaling,
                train,
                trained_on: 0,
            },
        }
    }

    /// Trains on `samples` (labels scaled by `meta.scaling`).
    pub fn train(
        &mut self,
        samples: &[&Sample],
        on_epoch: impl FnMut(usize, f64),
    ) -> Result<(), TrainError> {
        let graphs: Vec<&EncodedGraph> = samples.iter().map(|s| &s.graph).collect();
        let scaling = self.meta.scaling;
        let targets: Vec<f32> = samples
            .iter()
            .map(|s| scaling.scale(s.label, s.gflops) as f32)
            .collect();
        let net = &self.net;
        fit(
            |b| net.forward(b),
            &self.vs,
            &graphs,
            &targets,
            &self.meta.train,
            on_epoch,
        )?;
        self.meta.trained_on = samples.len();
        Ok(())
    }

    /// Predictions in the task's metric.
    pub fn predict(&self, samples: &[&Sample]) -> Vec<f64> {
        let graphs: Vec<&EncodedGraph> = samples.iter().map(|s| &s.graph).collect();
        let raw = predict(|b| self.net.forward(b), &graphs, 256, self.vs.device());
        raw.iter()
            .zip(samples)
            .map(|(z, s)| self.meta.scaling.unscale(*z, s.gflops))
            .collect()
    }

    /// Writes the predictor into `dir` (created if needed).
    pub fn save(&self, dir: &Path) -> Result<(), TrainError> {
        std::fs::create_dir_all(dir)?;
        self.vs.save(dir.join(WEIGHTS))?;
        let meta = serde_json::to_string_pretty(&self.meta)
            .map_err(|e| TrainError::Invalid(e.to_string()))?;
        std::fs::write(dir.join(META), meta + "\n")?;
        Ok(())
    }

    /// Reads a predictor written by [`Predictor::save`].
    pub fn load(dir: &Path, device: Device) -> Result<Predictor, TrainError> {
        let text = std::fs::read_to_string(dir.join(META))?;
        let meta: PredictorMeta = serde_json::from_str(&text)
            .map_err(|e| TrainError::Invalid(format!("{}: {e}", dir.join(META).display())))?;
        if meta.encoding_version != ENCODING_VERSION {
            return Err(TrainError::Invalid(format!(
                "{}: encoding version {} (this build: {ENCODING_VERSION})",
                dir.display(),
                meta.encoding_version
            )));
        }
        let mut vs = nn::VarStore::new(device);
        let net = Regressor::new(&vs.root(), &meta.model);
        vs.load(dir.join(WEIGHTS))?;
        Ok(Predictor { vs, net, meta })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiop_predictor::NUMERIC_FEATURES;

    /// A chain of `n` nodes whose label grows with its length.
    fn chain(n: usize) -> Sample {
        Sample {
            name: format!("chain{n}"),
            family: "chain".into(),
            graph: EncodedGraph {
                ops: (0..n).map(|i| (i % 5) as u16).collect(),
                numeric: vec![0.5; n * NUMERIC_FEATURES],
                edges: (1..n as u32).map(|i| (i - 1, i)).collect(),
            },
            label: 50.0 + n as f64,
            gflops: n as f64 / 10.0,
            params: n as u64,
        }
    }

    #[test]
    fn learns_fits_and_reloads_identically() {
        let samples: Vec<Sample> = (2..18).map(chain).collect();
        let refs: Vec<&Sample> = samples.iter().collect();
        let pairs: Vec<(f64, f64)> = samples.iter().map(|s| (s.label, s.gflops)).collect();
        let config = TrainConfig {
            epochs: 60,
            batch_size: 4,
            lr: 3e-3,
            seed: 7,
        };
        let scaling = LabelScaling::fit(&pairs, true);
        let mut p = Predictor::new(ModelConfig::default(), "t", scaling, config, Device::Cpu);
        let mut losses = Vec::new();
        p.train(&refs, |_, l| losses.push(l)).unwrap();
        assert!(losses[59] < losses[0] * 0.2, "{losses:?}");
        let before = p.predict(&refs);
        let eval = crate::eval::evaluate(&before, &refs);
        assert!(eval.srcc > 0.9, "{eval:?}");

        let dir = tempfile::tempdir().unwrap();
        p.save(dir.path()).unwrap();
        let again = Predictor::load(dir.path(), Device::Cpu).unwrap();
        assert_eq!(again.predict(&refs), before);
        assert_eq!(again.meta.scaling, scaling);
    }
}
