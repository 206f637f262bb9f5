//! Elastic layers: a convolution or batch norm sized for the largest choice, run with a slice
//! of its weights (the first channels, the centre of the kernel), as once-for-all supernets
//! share weights between subnets.

use tch::nn::{self, Init};
use tch::{Kind, Tensor};

/// A convolution whose weight holds the largest choice `[out, in/groups, k, k]`.
#[derive(Debug)]
pub struct ElasticConv {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
}

/// The part of an [`ElasticConv`] a subnet uses.
#[derive(Clone, Copy, Debug)]
pub struct ConvUse {
    pub input: i64,
    pub output: i64,
    pub kernel: i64,
    pub stride: i64,
    /// Depthwise: one group per channel (`input == output`).
    pub depthwise: bool,
}

impl ConvUse {
    /// A dense convolution.
    pub fn dense(input: i64, output: i64, kernel: i64, stride: i64) -> ConvUse {
        ConvUse {
            input,
            output,
            kernel,
            stride,
            depthwise: false,
        }
    }

    /// A depthwise convolution over `channels`.
    pub fn depthwise(channels: i64, kernel: i64, stride: i64) -> ConvUse {
        ConvUse {
            input: channels,
            output: channels,
            kernel,
            stride,
            depthwise: true,
        }
    }
}

impl ElasticConv {
    /// A convolution for at most `largest` (Kaiming-uniform weights, zero bias if `bias`).
    pub fn new(p: &nn::Path, largest: ConvUse, bias: bool) -> ElasticConv {
        let per_group = if largest.depthwise { 1 } else { largest.input };
        let dims = [largest.output, per_group, largest.kernel, largest.kernel];
        let fan_in = per_group * largest.kernel * largest.kernel;
        let bound = (6.0 / fan_in as f64).sqrt();
        ElasticConv {
            weight: p.var(
                "weight",
                &dims,
                Init::Uniform {
                    lo: -bound,
                    up: bound,
                },
            ),
            bias: bias.then(|| p.zeros("bias", &[largest.output])),
        }
    }

    /// The weight slice of `use_` (first channels, centred kernel).
    pub fn weight_of(&self, use_: ConvUse) -> Tensor {
        let full = self.weight.size()[2];
        let offset = (full - use_.kernel) / 2;
        let w = self.weight.narrow(0, 0, use_.output);
        let w = if use_.depthwise {
            w
        } else {
            w.narrow(1, 0, use_.input)
        };
        w.narrow(2, offset, use_.kernel)
            .narrow(3, offset, use_.kernel)
    }

    /// The convolution of `x` with the slice `use_` ("same" padding).
    pub fn forward(&self, x: &Tensor, use_: ConvUse) -> Tensor {
        let bias = self.bias.as_ref().map(|b| b.narrow(0, 0, use_.output));
        let groups = if use_.depthwise { use_.output } else { 1 };
        x.conv2d(
            &self.weight_of(use_),
            bias.as_ref(),
            [use_.stride, use_.stride],
            [use_.kernel / 2, use_.kernel / 2],
            [1, 1],
            groups,
        )
    }

    /// Copies the slice `use_` into `target` (a convolution built for exactly `use_`).
    pub fn copy_into(&self, use_: ConvUse, target: &mut ElasticConv) {
        let _guard = tch::no_grad_guard();
        target.weight.copy_(&self.weight_of(use_));
        if let (Some(from), Some(to)) = (&self.bias, &mut target.bias) {
            to.copy_(&from.narrow(0, 0, use_.output));
        }
    }
}

/// A batch norm over at most `channels` channels, run on the first ones.
#[derive(Debug)]
pub struct ElasticBatchNorm {
    pub scale: Tensor,
    pub shift: Tensor,
    pub running_mean: Tensor,
    pub running_var: Tensor,
}

/// Momentum of the running statistics (PyTorch's default).
const MOMENTUM: f64 = 0.1;
const EPSILON: f64 = 1e-5;

impl ElasticBatchNorm {
    pub fn new(p: &nn::Path, channels: i64) -> ElasticBatchNorm {
        ElasticBatchNorm {
            scale: p.ones("scale", &[channels]),
            shift: p.zeros("shift", &[channels]),
            running_mean: p.zeros_no_train("running_mean", &[channels]),
            running_var: p.ones_no_train("running_var", &[channels]),
        }
    }

    /// Normalises the first channels of `x`; `train` uses (and tracks) batch statistics.
    pub fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        let c = x.size()[1];
        x.batch_norm(
            Some(self.scale.narrow(0, 0, c)),
            Some(self.shift.narrow(0, 0, c)),
            Some(self.running_mean.narrow(0, 0, c)),
            Some(self.running_var.narrow(0, 0, c)),
            train,
            MOMENTUM,
            EPSILON,
            false,
        )
    }

    /// Copies the first `channels` into `target`.
    pub fn copy_into(&self, channels: i64, target: &mut ElasticBatchNorm) {
        let _guard = tch::no_grad_guard();
        for (from, to) in [
            (&self.scale, &mut target.scale),
            (&self.shift, &mut target.shift),
            (&self.running_mean, &mut target.running_mean),
            (&self.running_var, &mut target.running_var),
        ] {
            to.copy_(&from.narrow(0, 0, channels));
        }
    }

    /// Forgets the running statistics (before re-estimating them for one subnet).
    pub fn reset_statistics(&mut self) {
        let _guard = tch::no_grad_guard();
        let _ = self.running_mean.fill_(0.0);
        let _ = self.running_var.fill_(1.0);
    }
}

/// Convolution then batch norm, the unit every body is made of.
#[derive(Debug)]
pub struct ConvBn {
    pub conv: ElasticConv,
    pub bn: ElasticBatchNorm,
}

impl ConvBn {
    pub fn new(p: &nn::Path, largest: ConvUse) -> ConvBn {
        ConvBn {
            conv: ElasticConv::new(&(p / "conv"), largest, false),
            bn: ElasticBatchNorm::new(&(p / "bn"), largest.output),
        }
    }

    pub fn forward(&self, x: &Tensor, use_: ConvUse, train: bool) -> Tensor {
        self.bn.forward(&self.conv.forward(x, use_), train)
    }

    pub fn copy_into(&self, use_: ConvUse, target: &mut ConvBn) {
        self.conv.copy_into(use_, &mut target.conv);
        self.bn.copy_into(use_.output, &mut target.bn);
    }
}

/// Zero-pads the channels of `x` up to `channels` (a shared head's input for bodies whose
/// widths vary, as the paper does for ResNet-50).
pub fn pad_channels(x: &Tensor, channels: i64) -> Tensor {
    let c = x.size()[1];
    if c >= channels {
        return x.shallow_clone();
    }
    x.constant_pad_nd([0, 0, 0, 0, 0, channels - c])
}

/// A standard normal tensor shaped like `x` (latent sampling's ζ).
pub fn standard_normal_like(x: &Tensor) -> Tensor {
    Tensor::randn(x.size(), (Kind::Float, x.device()))
}
