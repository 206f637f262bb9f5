//! AdaProxy (Lu et al. 2021), the paper's alternative to fine-tuning: the predictor stays
//! frozen and only the weights `w` of its last layer are rescaled, `w ← (α + b) ∘ w`, with a
//! scalar α and a sparse vector b fitted to a few labelled targets:
//! `min_{α,b} |((α·1 + b) ∘ w)·x + c − y|² + λ|b|₁`.
//! With several adapters, every adapter's last layer takes the same α and b and the
//! prediction is still their mean.

use serde::{Deserialize, Serialize};
use tch::{Kind, Reduction, Tensor, nn};

use crate::TrainError;
use crate::optim::Adam;
use crate::train::TrainConfig;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// A fitted rescaling.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdaProxyFit {
    pub alpha: f64,
    pub b: Vec<f64>,
    pub lambda: f64,
    /// Mean training loss (without the penalty) after the last epoch.
    pub loss: f64,
}

/// Fits α and b. `features[i]` is `[B, hidden]`, the input of `layers[i]` for the B
/// samples whose scaled labels are `targets`.
pub fn fit(
    features: &[Tensor],
    layers: &[&nn::Linear],
    targets: &[f32],
    config: &TrainConfig,
    lambda: f64,
) -> Result<AdaProxyFit, TrainError> {
    let count = targets.len();
    if count == 0 || features.len() != layers.len() || layers.is_empty() {
        return Err(TrainError::Invalid(
            "AdaProxy needs labelled samples".into(),
        ));
    }
    let device = features[0].device();
    let width = layers[0].ws.size()[1];
    let alpha = Tensor::ones([1], (Kind::Float, device)).set_requires_grad(true);
    let b = Tensor::zeros([width], (Kind::Float, device)).set_requires_grad(true);
    let mut optimizer = Adam::new(
        vec![
            ("alpha".into(), alpha.shallow_clone()),
            ("b".into(), b.shallow_clone()),
        ],
        config.lr,
    );
    let frozen: Vec<(Tensor, Tensor)> = layers
        .iter()
        .map(|l| {
            let bias =
                l.bs.as_ref()
                    .map_or_else(|| Tensor::zeros([1], (Kind::Float, device)), |t| t.detach());
            (l.ws.detach(), bias)
        })
        .collect();
    let predict = |rows: &Tensor| {
        let scale = &alpha + &b;
        let outputs: Vec<Tensor> = features
            .iter()
            .zip(&frozen)
            .map(|(x, (w, c))| {
                (x.index_select(0, rows) * (&scale * w.squeeze_dim(0))).sum_dim_intlist(
                    1,
                    false,
                    Kind::Float,
                ) + c
            })
            .collect();
        Tensor::stack(&outputs, 0).mean_dim(0, false, Kind::Float)
    };
    let labels = Tensor::from_slice(targets).to_device(device);
    let mut order: Vec<usize> = (0..count).collect();
    let mut loss = f64::NAN;
    for epoch in 0..config.epochs {
        optimizer.lr = config.schedule.rate(config.lr, epoch, config.epochs);
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        rng.set_stream(epoch as u64);
        order.shuffle(&mut rng);
        let mut total = 0.0;
        for chunk in order.chunks(config.batch_size.max(1)) {
            let idx: Vec<i64> = chunk.iter().map(|&i| i as i64).collect();
            let rows = Tensor::from_slice(&idx).to_device(device);
            let error = predict(&rows).mse_loss(&labels.index_select(0, &rows), Reduction::Mean);
            total += error.double_value(&[]) * chunk.len() as f64;
            optimizer.backward_step(&(error + b.abs().sum(Kind::Float) * lambda));
        }
        loss = total / count as f64;
    }
    Ok(AdaProxyFit {
        alpha: alpha.double_value(&[0]),
        b: Vec::<f32>::try_from(&b.detach().to_device(tch::Device::Cpu))
            .unwrap_or_default()
            .into_iter()
            .map(f64::from)
            .collect(),
        lambda,
        loss,
    })
}

/// Folds a fitted rescaling into the weights of `layers`.
pub fn fold(fit: &AdaProxyFit, layers: &[&nn::Linear]) {
    let _guard = tch::no_grad_guard();
    for layer in layers {
        let scale: Vec<f32> = fit.b.iter().map(|b| (fit.alpha + b) as f32).collect();
        let scale = Tensor::from_slice(&scale).to_device(layer.ws.device());
        let mut ws = layer.ws.shallow_clone();
        let _ = ws.g_mul_(&scale.unsqueeze(0));
    }
}
