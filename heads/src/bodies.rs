//! The elastic bodies of [`aiop_datasets::spaces::ofa`] in libtorch: one network built for the
//! largest choices (the supernet) runs any subnet with a slice of its weights, and a subnet can
//! be copied out into a network of its own for fine-tuning. The architecture is the one the
//! converter writes as ONNX (batch norm unfolded here).

use aiop_datasets::spaces::ofa::{
    Body, MBV3_FINAL, MBV3_STAGES, MBV3_STEM, MbBody, RESNET_STEM, RESNET_STRIDES, RESNET_WIDTHS,
    ResBody, round8, se_width,
};
use tch::Tensor;
use tch::nn;

use super::layers::{ConvBn, ConvUse, ElasticBatchNorm, ElasticConv};

/// Features at strides 4, 8, 16 and 32 (Detectron2's P2..P5).
pub struct Levels(pub [Tensor; 4]);

/// A body network: weights for the largest body it was built for, run as any smaller one.
#[derive(Debug)]
pub enum BodyNet {
    MobileNetV3(MbNet),
    ResNet(ResNet),
}

impl BodyNet {
    /// A network under `p` able to run every body up to `largest` (a family's largest body for
    /// a supernet, or one body for a network of its own).
    pub fn new(p: &nn::Path, largest: &Body) -> BodyNet {
        match largest {
            Body::MobileNetV3(b) => BodyNet::MobileNetV3(MbNet::new(p, b)),
            Body::ResNet(b) => BodyNet::ResNet(ResNet::new(p, b)),
        }
    }

    /// The features of images `x` ([N, 3, S, S]) through `body`. `train` uses batch statistics
    /// in the batch norms (and updates their running estimates).
    ///
    /// # Panics
    /// When `body` is of another family or larger than what this network was built for
    /// (programming errors: bodies come from [`aiop_datasets::spaces::ofa::Family`]).
    pub fn forward(&self, x: &Tensor, body: &Body, train: bool) -> Levels {
        match (self, body) {
            (BodyNet::MobileNetV3(net), Body::MobileNetV3(b)) => net.forward(x, b, train),
            (BodyNet::ResNet(net), Body::ResNet(b)) => net.forward(x, b, train),
            _ => panic!("body of another family"),
        }
    }

    /// A network of its own for `body`, with this network's weights for it, under `p`.
    pub fn extract(&self, p: &nn::Path, body: &Body) -> BodyNet {
        let mut own = BodyNet::new(p, body);
        match (self, body, &mut own) {
            (BodyNet::MobileNetV3(from), Body::MobileNetV3(b), BodyNet::MobileNetV3(to)) => {
                from.copy_into(b, to)
            }
            (BodyNet::ResNet(from), Body::ResNet(b), BodyNet::ResNet(to)) => from.copy_into(b, to),
            _ => panic!("body of another family"),
        }
        own
    }

    /// Every batch norm, to reset their statistics before re-estimating them for one body.
    pub fn batch_norms_mut(&mut self) -> Vec<&mut ElasticBatchNorm> {
        match self {
            BodyNet::MobileNetV3(net) => net.batch_norms_mut(),
            BodyNet::ResNet(net) => net.batch_norms_mut(),
        }
    }

    /// Sets the scale of the last batch norm of every residual branch to zero, so that each
    /// block starts as the identity (Goyal et al., 2017): deep bodies then train as stably as
    /// shallow ones, which a supernet that samples depths needs.
    pub fn zero_init_residuals(&mut self) {
        let last_norms: Vec<&mut ElasticBatchNorm> = match self {
            BodyNet::MobileNetV3(net) => net
                .stages
                .iter_mut()
                .flatten()
                .filter(|block| block.residual)
                .map(|block| &mut block.project.bn)
                .collect(),
            BodyNet::ResNet(net) => net
                .stages
                .iter_mut()
                .flatten()
                .map(|block| &mut block.expand.bn)
                .collect(),
        };
        let _guard = tch::no_grad_guard();
        for norm in last_norms {
            let _ = norm.scale.zero_();
        }
    }
}

fn activation(x: Tensor, hard_swish: bool) -> Tensor {
    if hard_swish { x.hardswish() } else { x.relu() }
}

/// A MobileNetV3-like block.
#[derive(Debug)]
struct MbBlockNet {
    input: i64,
    stride: i64,
    /// Whether the block adds its input to its output (stride 1, same width).
    residual: bool,
    expand: ConvBn,
    depthwise: ConvBn,
    squeeze_excite: Option<(ElasticConv, ElasticConv)>,
    project: ConvBn,
}

/// What one block of a body uses of the weights.
struct MbBlockUse {
    expand: ConvUse,
    depthwise: ConvUse,
    squeeze: ConvUse,
    excite: ConvUse,
    project: ConvUse,
}

impl MbBlockNet {
    fn uses(&self, width: i64, expand: i64, kernel: i64) -> MbBlockUse {
        mb_uses(self.input, self.stride, width, expand, kernel)
    }
}

/// What a block with `input` channels and `stride` uses for an output `width`, an `expand`
/// ratio and a `kernel`.
fn mb_uses(input: i64, stride: i64, width: i64, expand: i64, kernel: i64) -> MbBlockUse {
    let mid = input * expand;
    let se = se_width(mid);
    MbBlockUse {
        expand: ConvUse::dense(input, mid, 1, 1),
        depthwise: ConvUse::depthwise(mid, kernel, stride),
        squeeze: ConvUse::dense(mid, se, 1, 1),
        excite: ConvUse::dense(se, mid, 1, 1),
        project: ConvUse::dense(mid, width, 1, 1),
    }
}

/// The MobileNetV3-like network.
#[derive(Debug)]
pub struct MbNet {
    stem: ConvBn,
    first_depthwise: ConvBn,
    first_pointwise: ConvBn,
    stages: Vec<Vec<MbBlockNet>>,
    last: ConvBn,
}

impl MbNet {
    fn new(p: &nn::Path, largest: &MbBody) -> MbNet {
        let mut input = MBV3_STEM;
        let stages = MBV3_STAGES
            .iter()
            .zip(&largest.stages)
            .enumerate()
            .map(|(s, (stage, blocks))| {
                blocks
                    .iter()
                    .enumerate()
                    .map(|(b, block)| {
                        let q = p / format!("stage{s}") / format!("block{b}");
                        let stride = if b == 0 { stage.stride } else { 1 };
                        let u = mb_uses(input, stride, stage.width, block.expand, block.kernel);
                        let net = MbBlockNet {
                            input,
                            stride,
                            residual: stride == 1 && input == stage.width,
                            expand: ConvBn::new(&(&q / "expand"), u.expand),
                            depthwise: ConvBn::new(&(&q / "dw"), u.depthwise),
                            squeeze_excite: stage.squeeze_excite.then(|| {
                                (
                                    ElasticConv::new(&(&q / "squeeze"), u.squeeze, true),
                                    ElasticConv::new(&(&q / "excite"), u.excite, true),
                                )
                            }),
                            project: ConvBn::new(&(&q / "project"), u.project),
                        };
                        input = stage.width;
                        net
                    })
                    .collect()
            })
            .collect();
        MbNet {
            stem: ConvBn::new(&(p / "stem"), ConvUse::dense(3, MBV3_STEM, 3, 2)),
            first_depthwise: ConvBn::new(&(p / "first_dw"), ConvUse::depthwise(MBV3_STEM, 3, 1)),
            first_pointwise: ConvBn::new(
                &(p / "first_pw"),
                ConvUse::dense(MBV3_STEM, MBV3_STEM, 1, 1),
            ),
            stages,
            last: ConvBn::new(&(p / "last"), Self::last_use()),
        }
    }

    fn last_use() -> ConvUse {
        ConvUse::dense(MBV3_STAGES[4].width, MBV3_FINAL, 1, 1)
    }

    fn forward(&self, x: &Tensor, body: &MbBody, train: bool) -> Levels {
        let stem_use = ConvUse::dense(3, MBV3_STEM, 3, 2);
        let x = self.stem.forward(x, stem_use, train).hardswish();
        let y = self
            .first_depthwise
            .forward(&x, ConvUse::depthwise(MBV3_STEM, 3, 1), train)
            .relu();
        let mut x =
            x + self
                .first_pointwise
                .forward(&y, ConvUse::dense(MBV3_STEM, MBV3_STEM, 1, 1), train);
        let mut outputs = Vec::with_capacity(5);
        for (s, (stage, blocks)) in MBV3_STAGES.iter().zip(&body.stages).enumerate() {
            for (net, block) in self.stages[s].iter().zip(blocks) {
                let u = net.uses(stage.width, block.expand, block.kernel);
                let mut y = activation(net.expand.forward(&x, u.expand, train), stage.hard_swish);
                y = activation(
                    net.depthwise.forward(&y, u.depthwise, train),
                    stage.hard_swish,
                );
                if let Some((squeeze, excite)) = &net.squeeze_excite {
                    let g = y.adaptive_avg_pool2d([1, 1]);
                    let g = squeeze.forward(&g, u.squeeze).relu();
                    y = &y * excite.forward(&g, u.excite).hardsigmoid();
                }
                y = net.project.forward(&y, u.project, train);
                x = if net.residual { x + y } else { y };
            }
            outputs.push(x.shallow_clone());
        }
        let p5 = self.last.forward(&x, Self::last_use(), train).hardswish();
        let p4 = Tensor::cat(&[&outputs[2], &outputs[3]], 1);
        Levels([
            outputs[0].shallow_clone(),
            outputs[1].shallow_clone(),
            p4,
            p5,
        ])
    }

    fn copy_into(&self, body: &MbBody, to: &mut MbNet) {
        let stem_use = ConvUse::dense(3, MBV3_STEM, 3, 2);
        self.stem.copy_into(stem_use, &mut to.stem);
        self.first_depthwise
            .copy_into(ConvUse::depthwise(MBV3_STEM, 3, 1), &mut to.first_depthwise);
        self.first_pointwise.copy_into(
            ConvUse::dense(MBV3_STEM, MBV3_STEM, 1, 1),
            &mut to.first_pointwise,
        );
        for (s, (stage, blocks)) in MBV3_STAGES.iter().zip(&body.stages).enumerate() {
            for (b, block) in blocks.iter().enumerate() {
                let from = &self.stages[s][b];
                let target = &mut to.stages[s][b];
                let u = from.uses(stage.width, block.expand, block.kernel);
                from.expand.copy_into(u.expand, &mut target.expand);
                from.depthwise.copy_into(u.depthwise, &mut target.depthwise);
                from.project.copy_into(u.project, &mut target.project);
                if let (Some((sq, ex)), Some((tsq, tex))) =
                    (&from.squeeze_excite, &mut target.squeeze_excite)
                {
                    sq.copy_into(u.squeeze, tsq);
                    ex.copy_into(u.excite, tex);
                }
            }
        }
        self.last.copy_into(Self::last_use(), &mut to.last);
    }

    fn batch_norms_mut(&mut self) -> Vec<&mut ElasticBatchNorm> {
        let mut all = vec![
            &mut self.stem.bn,
            &mut self.first_depthwise.bn,
            &mut self.first_pointwise.bn,
            &mut self.last.bn,
        ];
        for block in self.stages.iter_mut().flatten() {
            all.push(&mut block.expand.bn);
            all.push(&mut block.depthwise.bn);
            all.push(&mut block.project.bn);
        }
        all
    }
}

/// A ResNet-like bottleneck.
#[derive(Debug)]
struct Bottleneck {
    stride: i64,
    reduce: ConvBn,
    spatial: ConvBn,
    expand: ConvBn,
    shortcut: Option<ConvBn>,
}

/// The ResNet-like network.
#[derive(Debug)]
pub struct ResNet {
    stem: ConvBn,
    stages: Vec<Vec<Bottleneck>>,
}

/// Output width of stage `s` at `multiplier`.
fn stage_width(s: usize, multiplier: f64) -> i64 {
    round8(RESNET_WIDTHS[s] as f64 * multiplier)
}

/// What block `b` of stage `s` uses, given the stage's input and width.
fn bottleneck_uses(
    input: i64,
    width: i64,
    ratio: f64,
    stride: i64,
) -> (ConvUse, ConvUse, ConvUse, ConvUse) {
    let mid = round8(width as f64 * ratio);
    (
        ConvUse::dense(input, mid, 1, 1),
        ConvUse::dense(mid, mid, 3, stride),
        ConvUse::dense(mid, width, 1, 1),
        ConvUse::dense(input, width, 1, stride),
    )
}

impl ResNet {
    fn stem_use() -> ConvUse {
        ConvUse::dense(3, RESNET_STEM, 3, 2)
    }

    fn new(p: &nn::Path, largest: &ResBody) -> ResNet {
        let mut input = RESNET_STEM;
        let stages = largest
            .stages
            .iter()
            .enumerate()
            .map(|(s, stage)| {
                let width = stage_width(s, stage.multiplier);
                let blocks = stage
                    .ratios
                    .iter()
                    .enumerate()
                    .map(|(b, &ratio)| {
                        let q = p / format!("stage{s}") / format!("block{b}");
                        let stride = if b == 0 { RESNET_STRIDES[s] } else { 1 };
                        let block_input = if b == 0 { input } else { width };
                        let (r, sp, e, sc) = bottleneck_uses(block_input, width, ratio, stride);
                        Bottleneck {
                            stride,
                            reduce: ConvBn::new(&(&q / "reduce"), r),
                            spatial: ConvBn::new(&(&q / "spatial"), sp),
                            expand: ConvBn::new(&(&q / "expand"), e),
                            shortcut: (b == 0).then(|| ConvBn::new(&(&q / "shortcut"), sc)),
                        }
                    })
                    .collect();
                input = width;
                blocks
            })
            .collect();
        ResNet {
            stem: ConvBn::new(&(p / "stem"), Self::stem_use()),
            stages,
        }
    }

    fn forward(&self, x: &Tensor, body: &ResBody, train: bool) -> Levels {
        let mut x = self
            .stem
            .forward(x, Self::stem_use(), train)
            .relu()
            .max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false);
        let mut input = RESNET_STEM;
        let mut outputs = Vec::with_capacity(4);
        for (s, stage) in body.stages.iter().enumerate() {
            let width = stage_width(s, stage.multiplier);
            for (net, &ratio) in self.stages[s].iter().zip(&stage.ratios) {
                let (r, sp, e, sc) = bottleneck_uses(input, width, ratio, net.stride);
                let y = net.reduce.forward(&x, r, train).relu();
                let y = net.spatial.forward(&y, sp, train).relu();
                let y = net.expand.forward(&y, e, train);
                let shortcut = match &net.shortcut {
                    Some(conv) => conv.forward(&x, sc, train),
                    None => x.shallow_clone(),
                };
                x = (y + shortcut).relu();
                input = width;
            }
            outputs.push(x.shallow_clone());
        }
        let [p2, p3, p4, p5]: [Tensor; 4] = outputs
            .try_into()
            .unwrap_or_else(|_| panic!("a ResNet body has four stages"));
        Levels([p2, p3, p4, p5])
    }

    fn copy_into(&self, body: &ResBody, to: &mut ResNet) {
        self.stem.copy_into(Self::stem_use(), &mut to.stem);
        let mut input = RESNET_STEM;
        for (s, stage) in body.stages.iter().enumerate() {
            let width = stage_width(s, stage.multiplier);
            for (b, &ratio) in stage.ratios.iter().enumerate() {
                let (from, target) = (&self.stages[s][b], &mut to.stages[s][b]);
                let (r, sp, e, sc) = bottleneck_uses(input, width, ratio, from.stride);
                from.reduce.copy_into(r, &mut target.reduce);
                from.spatial.copy_into(sp, &mut target.spatial);
                from.expand.copy_into(e, &mut target.expand);
                if let (Some(f), Some(t)) = (&from.shortcut, &mut target.shortcut) {
                    f.copy_into(sc, t);
                }
                input = width;
            }
        }
    }

    fn batch_norms_mut(&mut self) -> Vec<&mut ElasticBatchNorm> {
        let mut all = vec![&mut self.stem.bn];
        for block in self.stages.iter_mut().flatten() {
            all.push(&mut block.reduce.bn);
            all.push(&mut block.spatial.bn);
            all.push(&mut block.expand.bn);
            if let Some(s) = &mut block.shortcut {
                all.push(&mut s.bn);
            }
        }
        all
    }
}
