//! Task heads in libtorch, the architecture [`aiop_datasets::spaces::ofa::onnx`] writes (batch
//! norm unfolded): classification (pooling and a linear layer on P5), pose estimation
//! (SimpleBaselines: three stride-2 deconvolutions from P5 to heatmaps at stride 4) and
//! semantic segmentation (an FPN over P2..P5 with deconvolution upsampling, a 3×3 conv and
//! per-pixel logits upsampled to the image). A head built for wider inputs than a body gives
//! (a shared head over a family whose widths vary) zero-pads the body's features first.

use aiop_datasets::spaces::ofa::onnx::{FPN_WIDTH, Head, POSE_WIDTH};
use aiop_datasets::spaces::ofa::{CLASSES, JOINTS};
use tch::nn::{self, Module, ModuleT};
use tch::{Kind, Reduction, Tensor};

use super::bodies::Levels;
use super::layers::pad_channels;
use super::synthetic::SceneTensors;
use super::targets::heatmaps_tensor;

/// Width of the Gaussian heatmap targets, in heatmap cells.
pub const HEATMAP_SIGMA: f64 = 1.0;
/// Stride of the pose heatmaps relative to the image.
pub const HEATMAP_STRIDE: i64 = 4;

/// The layers of one head.
#[derive(Debug)]
enum Layers {
    Classification(nn::Linear),
    Pose {
        deconvs: Vec<(nn::ConvTranspose2D, nn::BatchNorm)>,
        out: nn::Conv2D,
    },
    Segmentation {
        laterals: Vec<nn::Conv2D>,
        /// Upsampling of C5, C4, C3 into the next finer level.
        ups: Vec<nn::ConvTranspose2D>,
        smooth: nn::Conv2D,
        out: nn::Conv2D,
    },
}

/// A task head for features with (at most) `inputs` channels per level.
#[derive(Debug)]
pub struct TaskHead {
    pub head: Head,
    pub inputs: [i64; 4],
    layers: Layers,
}

fn deconv(p: nn::Path, input: i64, output: i64, bias: bool) -> nn::ConvTranspose2D {
    let config = nn::ConvTransposeConfig {
        stride: 2,
        padding: 1,
        bias,
        ..Default::default()
    };
    nn::conv_transpose2d(p, input, output, 4, config)
}

impl TaskHead {
    /// A freshly initialised head under `p`.
    pub fn new(p: &nn::Path, head: Head, inputs: [i64; 4]) -> TaskHead {
        let layers = match head {
            Head::Classification => Layers::Classification(nn::linear(
                p / "linear",
                inputs[3],
                CLASSES,
                Default::default(),
            )),
            Head::Pose => {
                let mut channels = inputs[3];
                let deconvs = (0..3)
                    .map(|i| {
                        let q = p / format!("deconv{i}");
                        let layer = (
                            deconv(&q / "conv", channels, POSE_WIDTH, false),
                            nn::batch_norm2d(&q / "bn", POSE_WIDTH, Default::default()),
                        );
                        channels = POSE_WIDTH;
                        layer
                    })
                    .collect();
                let out = nn::conv2d(p / "out", POSE_WIDTH, JOINTS, 1, Default::default());
                Layers::Pose { deconvs, out }
            }
            Head::Segmentation => {
                let laterals = (0..4)
                    .map(|l| {
                        nn::conv2d(
                            p / format!("lateral{l}"),
                            inputs[l],
                            FPN_WIDTH,
                            1,
                            Default::default(),
                        )
                    })
                    .collect();
                let ups = (0..3)
                    .map(|l| deconv(p / format!("up{l}"), FPN_WIDTH, FPN_WIDTH, true))
                    .collect();
                let same = nn::ConvConfig {
                    padding: 1,
                    ..Default::default()
                };
                Layers::Segmentation {
                    laterals,
                    ups,
                    smooth: nn::conv2d(p / "smooth", FPN_WIDTH, FPN_WIDTH, 3, same),
                    out: nn::conv2d(p / "out", FPN_WIDTH, CLASSES + 1, 1, Default::default()),
                }
            }
        };
        TaskHead {
            head,
            inputs,
            layers,
        }
    }

    /// The head's output: class logits `[N, CLASSES]`, heatmaps `[N, JOINTS, S/4, S/4]` or
    /// per-pixel logits `[N, CLASSES + 1, S, S]`.
    pub fn forward(&self, levels: &Levels, train: bool) -> Tensor {
        let level = |l: usize| pad_channels(&levels.0[l], self.inputs[l]);
        match &self.layers {
            Layers::Classification(linear) => {
                linear.forward(&level(3).adaptive_avg_pool2d([1, 1]).flatten(1, -1))
            }
            Layers::Pose { deconvs, out } => {
                let mut x = level(3);
                for (conv, bn) in deconvs {
                    x = bn.forward_t(&conv.forward(&x), train).relu();
                }
                out.forward(&x)
            }
            Layers::Segmentation {
                laterals,
                ups,
                smooth,
                out,
            } => {
                let mut c = laterals[3].forward(&level(3));
                for l in (0..3).rev() {
                    c = laterals[l].forward(&level(l)) + ups[l].forward(&c);
                }
                let logits = out.forward(&smooth.forward(&c).relu());
                let size = logits.size();
                logits.upsample_bilinear2d([size[2] * 4, size[3] * 4], false, None, None)
            }
        }
    }

    /// The training loss of `output` against the scenes' labels: cross-entropy for classes and
    /// pixels, mean squared error against Gaussian heatmaps for keypoints.
    pub fn loss(&self, output: &Tensor, labels: &SceneTensors) -> Tensor {
        match self.head {
            Head::Classification => output.cross_entropy_for_logits(&labels.classes),
            Head::Pose => {
                let size = output.size();
                let target = heatmaps_tensor(
                    &labels.keypoints,
                    (size[2] as usize, size[3] as usize),
                    HEATMAP_STRIDE as f64,
                    HEATMAP_SIGMA,
                )
                .unwrap_or_else(|_| output.zeros_like().detach());
                // heatmap MSE is tiny per pixel: scaled as SimpleBaselines' 0.5·Σ_joints mean
                output.mse_loss(&target, Reduction::Mean) * (JOINTS as f64 * 500.0)
            }
            Head::Segmentation => {
                let logits = output.permute([0, 2, 3, 1]).reshape([-1, CLASSES + 1]);
                logits.cross_entropy_for_logits(&labels.masks.reshape([-1]).to_kind(Kind::Int64))
            }
        }
    }
}
