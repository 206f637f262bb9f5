//! A predictor: the k-GNN backbone with its MLP head and any number of K-Adapters, the label
//! scaling of each, and the stages of AIO-P that train them:
//!
//! 1. [`Predictor::pretrain`]: backbone + head on a large labelled set;
//! 2. [`Predictor::add_adapter`]: a K-Adapter on another task, the backbone frozen (several
//!    adapters train independently; their predictions are averaged);
//! 3. [`Predictor::finetune`]: a few labelled targets, the backbone unfrozen, adapters frozen.
//!
//! All weights live in one `VarStore` (`backbone/…`, `head/…`, `adapter<i>/…`) and are saved
//! as `weights.safetensors` beside `predictor.json`.

use std::path::Path;

use aiop_predictor::{ENCODING_VERSION, EncodedGraph, LabelScaling};
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor, nn};

use crate::TrainError;
use crate::adaproxy::AdaProxyFit;
use crate::batch::GraphBatch;
use crate::data::Sample;
use crate::model::{Adapter, Backbone, Mlp, ModelConfig};
use crate::train::{EpochReport, Hooks, TrainConfig, fit, predict};

/// A task a part of the predictor was trained on, with that task's label scaling.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskFit {
    pub task: String,
    pub scaling: LabelScaling,
    /// Number of labelled architectures used.
    pub samples: usize,
    pub train: TrainConfig,
}

/// What `predictor.json` holds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PredictorMeta {
    /// Node-feature layout the network expects (see `aiop_predictor::encoding`).
    pub encoding_version: u32,
    pub model: ModelConfig,
    /// What the backbone and head were pretrained on.
    pub pretrained: TaskFit,
    /// What each adapter was trained on, in order.
    pub adapters: Vec<TaskFit>,
    /// Fine-tuning on the target task, if any.
    pub finetuned: Option<TaskFit>,
    /// When the fine-tuning was AdaProxy's: its fitted rescaling (already in the weights).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaproxy: Option<AdaProxyFit>,
    /// Maps outputs to the metric of the task predicted now (the last fit's task by default;
    /// zero-shot use sets it from a few target labels, see [`Predictor::calibrate`]).
    pub output: LabelScaling,
}

/// The AIO-P predictor.
pub struct Predictor {
    vs: nn::VarStore,
    backbone: Backbone,
    head: Mlp,
    adapters: Vec<Adapter>,
    pub meta: PredictorMeta,
}

const WEIGHTS: &str = "weights.safetensors";
const META: &str = "predictor.json";

fn graphs<'a>(samples: &[&'a Sample]) -> Vec<&'a EncodedGraph> {
    samples.iter().map(|s| &s.graph).collect()
}

/// The labels of `samples` as training targets.
fn scaled_labels(samples: &[&Sample], scaling: LabelScaling) -> Vec<f32> {
    samples
        .iter()
        .map(|s| scaling.scale(s.label, s.gflops) as f32)
        .collect()
}

/// Marks which variables of `vs` train: those whose name starts with one of `prefixes`.
fn set_trainable(vs: &nn::VarStore, prefixes: &[&str]) {
    for (name, t) in vs.variables() {
        let on = prefixes.iter().any(|p| name.starts_with(&format!("{p}.")));
        let _ = t.set_requires_grad(on);
    }
}

/// Trains the variables of `vs` under `prefixes`, the others frozen, so that `forward`
/// regresses the scaled labels of `samples`.
fn fit_parts(
    vs: &nn::VarStore,
    prefixes: &[&str],
    forward: impl Fn(&GraphBatch) -> Tensor,
    samples: &[&Sample],
    scaling: LabelScaling,
    config: &TrainConfig,
    hooks: Hooks,
) -> Result<Vec<EpochReport>, TrainError> {
    set_trainable(vs, prefixes);
    let targets = scaled_labels(samples, scaling);
    let result = fit(
        forward,
        vs,
        &graphs(samples),
        &targets,
        &family_ids(samples),
        config,
        hooks,
    );
    set_trainable(vs, &[]);
    result
}

/// Each sample's family as a small integer (first appearance order).
fn family_ids(samples: &[&Sample]) -> Vec<i64> {
    let mut ids = std::collections::HashMap::new();
    samples
        .iter()
        .map(|s| {
            let next = ids.len() as i64;
            *ids.entry(s.family.as_str()).or_insert(next)
        })
        .collect()
}

impl TaskFit {
    fn new(task: &str, scaling: LabelScaling, samples: usize, config: &TrainConfig) -> TaskFit {
        TaskFit {
            task: task.into(),
            scaling,
            samples,
            train: config.clone(),
        }
    }
}

impl Predictor {
    /// Pretrains a new backbone and head on `samples` of `task` (weights seeded by
    /// `config.seed`); returns it with the report of every epoch.
    pub fn pretrain(
        model: ModelConfig,
        task: &str,
        samples: &[&Sample],
        scaling: LabelScaling,
        config: &TrainConfig,
        device: Device,
        hooks: Hooks,
    ) -> Result<(Predictor, Vec<EpochReport>), TrainError> {
        tch::manual_seed(config.seed as i64);
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let backbone = Backbone::new(&(&root / "backbone"), &model);
        let head = Mlp::new(
            &(&root / "head"),
            Backbone::readout_width(&model),
            model.hidden,
            model.mlp_layers,
        );
        let fit_record = TaskFit::new(task, scaling, samples.len(), config);
        let p = Predictor {
            vs,
            backbone,
            head,
            adapters: Vec::new(),
            meta: PredictorMeta {
                encoding_version: ENCODING_VERSION,
                model,
                pretrained: fit_record,
                adapters: Vec::new(),
                finetuned: None,
                adaproxy: None,
                output: scaling,
            },
        };
        let forward = |b: &GraphBatch| p.forward(b);
        let history = fit_parts(
            &p.vs,
            &["backbone", "head"],
            forward,
            samples,
            scaling,
            config,
            hooks,
        )?;
        Ok((p, history))
    }

    /// Trains a new K-Adapter on `samples` of `task`, the backbone frozen. From now on the
    /// predictor's output is the mean of its adapters.
    pub fn add_adapter(
        &mut self,
        task: &str,
        samples: &[&Sample],
        scaling: LabelScaling,
        config: &TrainConfig,
        hooks: Hooks,
    ) -> Result<Vec<EpochReport>, TrainError> {
        tch::manual_seed(config.seed as i64 ^ 0xada);
        let name = format!("adapter{}", self.adapters.len());
        let adapter = Adapter::new(&(self.vs.root() / name.as_str()), &self.meta.model);
        // the new adapter trains alone: its own output, not the mean with earlier ones
        let backbone = &self.backbone;
        let forward = |b: &GraphBatch| {
            let layers = tch::no_grad(|| backbone.node_layers(b));
            adapter.forward(&layers, b)
        };
        let history = fit_parts(&self.vs, &[&name], forward, samples, scaling, config, hooks)?;
        self.adapters.push(adapter);
        self.meta
            .adapters
            .push(TaskFit::new(task, scaling, samples.len(), config));
        self.meta.output = scaling;
        Ok(history)
    }

    /// Fine-tunes the backbone (and the head when there are no adapters) on a few labelled
    /// targets; adapters stay frozen. The paper: 20 samples, 100 epochs, batch 1.
    pub fn finetune(
        &mut self,
        task: &str,
        samples: &[&Sample],
        scaling: LabelScaling,
        config: &TrainConfig,
        hooks: Hooks,
    ) -> Result<Vec<EpochReport>, TrainError> {
        let parts: &[&str] = if self.adapters.is_empty() {
            &["backbone", "head"]
        } else {
            &["backbone"]
        };
        let forward = |b: &GraphBatch| self.forward(b);
        let history = fit_parts(&self.vs, parts, forward, samples, scaling, config, hooks)?;
        self.meta.finetuned = Some(TaskFit::new(task, scaling, samples.len(), config));
        self.meta.output = scaling;
        Ok(history)
    }

    /// The AdaProxy alternative to fine-tuning (Lu et al. 2021, as the paper runs it): every
    /// weight stays frozen; only a scalar α and a vector b that rescale the last layer's
    /// weights, `w ← (α + b) ∘ w`, are fitted to `samples` with an L1 penalty `lambda·|b|`
    /// (paper: λ = 1e-5, 1000 epochs). The fitted rescaling is folded into the weights.
    pub fn adaproxy(
        &mut self,
        task: &str,
        samples: &[&Sample],
        scaling: LabelScaling,
        config: &TrainConfig,
        lambda: f64,
    ) -> Result<AdaProxyFit, TrainError> {
        let fit = crate::adaproxy::fit(
            &self.output_features(samples),
            &self.output_layers(),
            &scaled_labels(samples, scaling),
            config,
            lambda,
        )?;
        crate::adaproxy::fold(&fit, &self.output_layers());
        self.meta.finetuned = Some(TaskFit::new(task, scaling, samples.len(), config));
        self.meta.adaproxy = Some(fit.clone());
        self.meta.output = scaling;
        Ok(fit)
    }

    /// The MLPs whose outputs make the prediction: the head, or the adapters' heads.
    fn output_mlps(&self) -> Vec<&Mlp> {
        if self.adapters.is_empty() {
            vec![&self.head]
        } else {
            self.adapters.iter().map(|a| &a.head).collect()
        }
    }

    /// The last linear layer of each output MLP.
    fn output_layers(&self) -> Vec<&nn::Linear> {
        self.output_mlps().into_iter().map(|m| &m.out).collect()
    }

    /// The inputs of each output MLP's last layer for `samples`, `[heads][B, hidden]`.
    fn output_features(&self, samples: &[&Sample]) -> Vec<Tensor> {
        let _guard = tch::no_grad_guard();
        let batch = GraphBatch::new(&graphs(samples), self.vs.device());
        if self.adapters.is_empty() {
            return vec![self.head.hidden(&self.backbone.embed(&batch))];
        }
        let layers = self.backbone.node_layers(&batch);
        self.adapters
            .iter()
            .map(|a| a.head.hidden(&a.pooled(&layers, &batch)))
            .collect()
    }

    /// Sets how outputs map to the target metric without training (zero-shot transfer: μ and
    /// σ from a few labelled targets).
    pub fn calibrate(&mut self, scaling: LabelScaling) {
        self.meta.output = scaling;
    }

    /// Scaled predictions `[B]`: the head's, or the mean of the adapters'.
    pub fn forward(&self, batch: &GraphBatch) -> Tensor {
        if self.adapters.is_empty() {
            return self.head.forward(&self.backbone.embed(batch));
        }
        let layers = self.backbone.node_layers(batch);
        let outputs: Vec<Tensor> = self
            .adapters
            .iter()
            .map(|a| a.forward(&layers, batch))
            .collect();
        Tensor::stack(&outputs, 0).mean_dim(0, false, tch::Kind::Float)
    }

    /// Scaled outputs of every column of the exported predictor (see `export::output_tasks`):
    /// the head, each adapter, and with adapters their mean; `[B][T]`.
    pub fn output_columns(&self, graphs: &[&EncodedGraph]) -> Vec<Vec<f32>> {
        let _guard = tch::no_grad_guard();
        let mut rows = Vec::with_capacity(graphs.len());
        for chunk in graphs.chunks(256) {
            let batch = GraphBatch::new(chunk, self.vs.device());
            let layers = self.backbone.node_layers(&batch);
            let last = layers.last().expect("at least the embedding");
            let mut columns = vec![self.head.forward(&Backbone::readout(last, &batch))];
            let adapters: Vec<Tensor> = self
                .adapters
                .iter()
                .map(|a| a.forward(&layers, &batch))
                .collect();
            if !adapters.is_empty() {
                columns.extend(adapters.iter().map(Tensor::shallow_clone));
                columns.push(Tensor::stack(&adapters, 0).mean_dim(0, false, tch::Kind::Float));
            }
            let table = Tensor::stack(&columns, 1).to_device(Device::Cpu);
            let width = columns.len();
            let flat = Vec::<f32>::try_from(table.flatten(0, -1)).unwrap_or_default();
            rows.extend(flat.chunks(width).map(<[f32]>::to_vec));
        }
        rows
    }

    /// Predictions in the metric of `meta.output`.
    pub fn predict(&self, samples: &[&Sample]) -> Vec<f64> {
        let raw = predict(|b| self.forward(b), &graphs(samples), 256, self.vs.device());
        raw.iter()
            .zip(samples)
            .map(|(z, s)| self.meta.output.unscale(*z, s.gflops))
            .collect()
    }

    /// Writes the predictor into `dir` (created if needed).
    pub fn save(&self, dir: &Path) -> Result<(), TrainError> {
        std::fs::create_dir_all(dir)?;
        self.vs.save(dir.join(WEIGHTS))?;
        let meta = serde_json::to_string_pretty(&self.meta)?;
        std::fs::write(dir.join(META), meta + "\n")?;
        Ok(())
    }

    /// Reads a predictor written by [`Predictor::save`].
    pub fn load(dir: &Path, device: Device) -> Result<Predictor, TrainError> {
        let meta_path = dir.join(META);
        let text = std::fs::read_to_string(&meta_path).map_err(TrainError::reading(&meta_path))?;
        let meta: PredictorMeta = serde_json::from_str(&text)
            .map_err(|e| TrainError::Invalid(format!("{}: {e}", dir.join(META).display())))?;
        if meta.encoding_version != ENCODING_VERSION {
            return Err(TrainError::Invalid(format!(
                "{}: encoding version {} (this build: {ENCODING_VERSION})",
                dir.display(),
                meta.encoding_version
            )));
        }
        let mut p = Predictor::build(meta, device);
        p.vs.load(dir.join(WEIGHTS))?;
        Ok(p)
    }

    /// Every weight by name (`backbone.…`, `head.…`, `adapter<i>.…`), sharing storage.
    pub fn variables(&self) -> std::collections::HashMap<String, Tensor> {
        self.vs.variables()
    }

    /// An independent copy (to fine-tune one way without touching the original).
    pub fn duplicate(&self) -> Result<Predictor, TrainError> {
        let mut p = Predictor::build(self.meta.clone(), self.vs.device());
        p.vs.copy(&self.vs)?;
        Ok(p)
    }

    /// The network that `meta` describes, with freshly initialised weights.
    fn build(meta: PredictorMeta, device: Device) -> Predictor {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let model = meta.model;
        let backbone = Backbone::new(&(&root / "backbone"), &model);
        let head = Mlp::new(
            &(&root / "head"),
            Backbone::readout_width(&model),
            model.hidden,
            model.mlp_layers,
        );
        let adapters = (0..meta.adapters.len())
            .map(|i| Adapter::new(&(&root / format!("adapter{i}")), &model))
            .collect();
        Predictor {
            vs,
            backbone,
            head,
            adapters,
            meta,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiop_predictor::NUMERIC_FEATURES;

    /// A chain of `n` nodes whose label grows (or shrinks) with its length.
    fn chain(n: usize, slope: f64) -> Sample {
        Sample {
            name: format!("chain{n}"),
            family: "chain".into(),
            graph: EncodedGraph {
                ops: (0..n).map(|i| (i % 5) as u16).collect(),
                numeric: vec![0.5; n * NUMERIC_FEATURES],
                edges: (1..n as u32).map(|i| (i - 1, i)).collect(),
                ..Default::default()
            },
            label: 50.0 + slope * n as f64,
            gflops: n as f64 / 10.0,
            params: n as u64,
        }
    }

    /// The values of one variable.
    fn weights(p: &Predictor, name: &str) -> Vec<f32> {
        Vec::try_from(p.vs.variables()[name].flatten(0, -1)).unwrap()
    }

    fn config(epochs: usize, seed: u64) -> TrainConfig {
        TrainConfig {
            epochs,
            batch_size: 4,
            lr: 3e-3,
            seed,
            ..Default::default()
        }
    }

    fn fitted(samples: &[&Sample], flops: bool) -> LabelScaling {
        let pairs: Vec<(f64, f64)> = samples.iter().map(|s| (s.label, s.gflops)).collect();
        LabelScaling::fit(&pairs, flops)
    }

    /// A predictor pretrained on `up` for `epochs` (seed 7), its labels scaled with or
    /// without the FLOPs prior; and its loss history.
    fn pretrained(up: &[&Sample], epochs: usize, flops: bool) -> (Predictor, Vec<EpochReport>) {
        Predictor::pretrain(
            ModelConfig::default(),
            "up",
            up,
            fitted(up, flops),
            &config(epochs, 7),
            Device::Cpu,
            Hooks::default(),
        )
        .unwrap()
    }

    #[test]
    fn pretrain_adapt_finetune_save_load() {
        let up: Vec<Sample> = (2..18).map(|n| chain(n, 1.0)).collect();
        let up: Vec<&Sample> = up.iter().collect();
        let (mut p, history) = pretrained(&up, 60, true);
        assert!(history[59].loss < history[0].loss * 0.2, "{history:?}");
        let eval = crate::eval::evaluate(&p.predict(&up), &up);
        assert!(eval.srcc > 0.9, "{eval:?}");

        // An adapter on the opposite task: the frozen backbone is untouched.
        let backbone_before = weights(&p, "backbone.gnn0.root.weight");
        let down: Vec<Sample> = (2..18).map(|n| chain(n, -1.0)).collect();
        let down: Vec<&Sample> = down.iter().collect();
        p.add_adapter(
            "down",
            &down,
            fitted(&down, false),
            &config(60, 1),
            Hooks::default(),
        )
        .unwrap();
        let backbone_after = weights(&p, "backbone.gnn0.root.weight");
        assert_eq!(backbone_before, backbone_after, "backbone frozen");
        let eval = crate::eval::evaluate(&p.predict(&down), &down);
        assert!(eval.srcc > 0.9, "the adapter learnt the new task: {eval:?}");

        // Fine-tuning moves the backbone, not the adapter.
        let adapter_before = weights(&p, "adapter0.head.out.weight");
        p.finetune(
            "down",
            &down[..4],
            fitted(&down, false),
            &config(5, 2),
            Hooks::default(),
        )
        .unwrap();
        let adapter_after = weights(&p, "adapter0.head.out.weight");
        assert_eq!(adapter_before, adapter_after, "adapters frozen");
        assert!(p.meta.finetuned.is_some());

        let dir = tempfile::tempdir().unwrap();
        p.save(dir.path()).unwrap();
        let again = Predictor::load(dir.path(), Device::Cpu).unwrap();
        assert_eq!(again.predict(&down), p.predict(&down));
        assert_eq!(again.meta.adapters.len(), 1);
    }

    /// A run interrupted after a checkpoint and resumed ends with the weights of an
    /// uninterrupted run; its history has every epoch once.
    #[test]
    fn resumed_run_matches_uninterrupted() {
        let up: Vec<Sample> = (2..18).map(|n| chain(n, 1.0)).collect();
        let up: Vec<&Sample> = up.iter().collect();
        let scaling = fitted(&up, false);
        // with the ranking term and weight averaging from epoch 5, whose running mean the
        // checkpoint after epoch 6 must carry
        let averaged = TrainConfig {
            rank_weight: 0.5,
            average_last: 0.5,
            ..config(9, 4)
        };
        let train = |hooks: Hooks| {
            Predictor::pretrain(
                ModelConfig::default(),
                "up",
                &up,
                scaling,
                &averaged,
                Device::Cpu,
                hooks,
            )
        };
        let (whole, _) = train(Hooks::default()).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let checkpoints = crate::train::Checkpoints {
            dir: dir.path().join("checkpoint"),
            every: 3,
            resume: true,
        };
        let interrupted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let hooks = Hooks {
                checkpoints: Some(checkpoints.clone()),
                ..Hooks::reporting(|r| assert!(r.epoch < 8, "interrupted"))
            };
            train(hooks)
        }));
        assert!(interrupted.is_err());
        assert!(dir.path().join("checkpoint/checkpoint.json").exists());

        let mut epochs = Vec::new();
        let hooks = Hooks {
            checkpoints: Some(checkpoints),
            ..Hooks::reporting(|r| epochs.push(r.epoch))
        };
        let (resumed, history) = train(hooks).unwrap();
        assert_eq!(epochs, (1..=9).collect::<Vec<_>>());
        assert_eq!(history.len(), 9);
        for name in ["backbone.gnn5.neighbours.weight", "head.out.weight"] {
            assert_eq!(weights(&resumed, name), weights(&whole, name), "{name}");
        }
        assert!(!dir.path().join("checkpoint").exists(), "removed when done");

        // a checkpoint of other settings is refused, not reused
        let (p, _) = train(Hooks::default()).unwrap();
        let other = dir.path().join("other");
        crate::checkpoint::save(
            &other,
            &p.vs,
            &crate::optim::Adam::new(Vec::new(), 0.1),
            &crate::average::WeightAverage::new(Vec::new()),
            &config(5, 4),
            up.len(),
            &[],
        )
        .unwrap();
        let hooks = Hooks {
            checkpoints: Some(crate::train::Checkpoints {
                dir: other,
                every: 3,
                resume: true,
            }),
            ..Hooks::default()
        };
        let error = train(hooks).err().expect("refused").to_string();
        assert!(error.contains("another run"), "{error}");
    }

    /// AdaProxy only rescales the last layer: the rest is untouched, the fit lowers the error.
    #[test]
    fn adaproxy_rescales_the_last_layer_only() {
        let up: Vec<Sample> = (2..18).map(|n| chain(n, 1.0)).collect();
        let up: Vec<&Sample> = up.iter().collect();
        let (mut p, _) = pretrained(&up, 40, false);
        // a target task on another scale: twice the slope
        let steep: Vec<Sample> = (2..18).map(|n| chain(n, 2.0)).collect();
        let steep: Vec<&Sample> = steep.iter().collect();
        let scaling = fitted(&up, false);
        let before = crate::eval::evaluate(&p.predict(&steep), &steep).mae;
        let backbone = weights(&p, "backbone.gnn0.root.weight");
        let out = weights(&p, "head.out.weight");
        let fit = p
            .adaproxy("steep", &steep, scaling, &config(300, 1), 1e-5)
            .unwrap();
        p.calibrate(scaling);
        assert_eq!(weights(&p, "backbone.gnn0.root.weight"), backbone);
        let rescaled = weights(&p, "head.out.weight");
        for ((w, new), b) in out.iter().zip(&rescaled).zip(&fit.b) {
            assert!((w * (fit.alpha + b) as f32 - new).abs() < 1e-5);
        }
        let after = crate::eval::evaluate(&p.predict(&steep), &steep).mae;
        assert!(fit.alpha > 1.2, "{fit:?}");
        assert!(after < before * 0.7, "MAE {before} → {after}");
    }
}
