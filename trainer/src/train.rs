//! Seeded training loops and batched prediction.

use aiop_predictor::EncodedGraph;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::{Device, Reduction, Tensor, nn};

use crate::TrainError;
use crate::batch::GraphBatch;

/// How long and how fast to train.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Seeds the weights' initialisation and the order of samples.
    pub seed: u64,
    /// Learning rate over the epochs.
    #[serde(default)]
    pub schedule: Schedule,
}

/// How the learning rate changes over the epochs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Schedule {
    /// The same rate throughout.
    Constant,
    /// Half a cosine from the rate down to zero.
    #[default]
    Cosine,
}

impl Schedule {
    /// The learning rate of `epoch` (0-based) of `epochs`.
    pub fn rate(self, lr: f64, epoch: usize, epochs: usize) -> f64 {
        match self {
            Schedule::Constant => lr,
            Schedule::Cosine => {
                let t = epoch as f64 / epochs.max(1) as f64;
                lr * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 100,
            batch_size: 32,
            lr: 1e-3,
            seed: 0,
            schedule: Schedule::Cosine,
        }
    }
}

/// Trains the variables of `vs` that are not frozen to regress `targets` with `forward`
/// (mean squared error, Adam). `on_epoch(epoch, mean loss)` runs after every epoch.
pub fn fit(
    forward: impl Fn(&GraphBatch) -> Tensor,
    vs: &nn::VarStore,
    graphs: &[&EncodedGraph],
    targets: &[f32],
    config: &TrainConfig,
    mut on_epoch: impl FnMut(usize, f64),
) -> Result<(), TrainError> {
    if graphs.len() != targets.len() || graphs.is_empty() {
        return Err(TrainError::Invalid(format!(
            "{} graphs for {} targets",
            graphs.len(),
            targets.len()
        )));
    }
    let mut optimizer = nn::OptimizerConfig::build(nn::Adam::default(), vs, config.lr)?;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut order: Vec<usize> = (0..graphs.len()).collect();
    let batch_size = config.batch_size.max(1);
    for epoch in 0..config.epochs {
        optimizer.set_lr(config.schedule.rate(config.lr, epoch, config.epochs));
        order.shuffle(&mut rng);
        let mut total = 0.0;
        for chunk in order.chunks(batch_size) {
            let picked: Vec<&EncodedGraph> = chunk.iter().map(|&i| graphs[i]).collect();
            let batch = GraphBatch::new(&picked, vs.device());
            let target: Vec<f32> = chunk.iter().map(|&i| targets[i]).collect();
            let target = Tensor::from_slice(&target).to_device(vs.device());
            let loss = forward(&batch).mse_loss(&target, Reduction::Mean);
            optimizer.backward_step(&loss);
            total += loss.double_value(&[]) * chunk.len() as f64;
        }
        on_epoch(epoch, total / graphs.len() as f64);
    }
    Ok(())
}

/// `forward` over `graphs` in batches, without gradients.
pub fn predict(
    forward: impl Fn(&GraphBatch) -> Tensor,
    graphs: &[&EncodedGraph],
    batch_size: usize,
    device: Device,
) -> Vec<f64> {
    let _guard = tch::no_grad_guard();
    let mut out = Vec::with_capacity(graphs.len());
    for chunk in graphs.chunks(batch_size.max(1)) {
        let batch = GraphBatch::new(chunk, device);
        let y = forward(&batch).to_device(Device::Cpu);
        out.extend(
            Vec::<f32>::try_from(&y)
                .unwrap_or_default()
                .into_iter()
                .map(f64::from),
        );
    }
    out
}
