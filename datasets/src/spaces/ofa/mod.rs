//! Once-for-all style elastic search spaces, scaled for small images and CPUs: a
//! MobileNetV3-like family (elastic depth per stage, expand ratio and kernel size per block) and
//! a ResNet-like family (elastic depth, bottleneck ratio and width per stage). A [`Body`] is one
//! subnet; [`LengthBins`] groups bodies by their number of blocks, as the paper's round robin
//! does. The trainer builds these bodies in libtorch (weights shared by a supernet) and
//! [`onnx`] writes any body with a task head as ONNX, so its CG comes from the converter like
//! any other model.
//!
//! Resolution levels follow Detectron2: `P2..P5` are the features at strides 4, 8, 16 and 32.
//!
//! **MobileNetV3-like** (`mbv3`): stem Conv 3×3/2 (16) + BN + hard swish; a fixed first block
//! (depthwise 3×3, BN, ReLU, Conv 1×1 16→16, BN, residual); five stages of MBConv blocks with
//! [`MBV3_STAGES`] widths, strides, activations and squeeze-excite; a final Conv 1×1 → 128, BN,
//! hard swish. An MBConv block: Conv 1×1 (c → c·e), BN, act; depthwise k×k (stride on a stage's
//! first block), BN, act; optional squeeze-excite (global pool, Conv 1×1 → c·e/4 rounded to 8,
//! ReLU, Conv 1×1 → c·e, hard sigmoid, multiply); Conv 1×1 → width, BN; residual when the
//! stride is 1 and the widths match. Levels: P2 = stage 1, P3 = stage 2, P4 = stages 3 and 4
//! concatenated (stage 4 keeps the resolution), P5 = the final 1×1 conv. Depth ∈ {2, 3, 4}
//! per stage (10–20 blocks), expand ∈ {3, 4, 6}, kernel ∈ {3, 5, 7}.
//!
//! **ResNet-like** (`resnet`): stem Conv 3×3/2 (24) + BN + ReLU, MaxPool 3×3/2; four stages of
//! bottlenecks with base widths [`RESNET_WIDTHS`] times a per-stage multiplier ∈ {0.65, 0.8,
//! 1.0} (rounded to 8), stage strides 1, 2, 2, 2. A bottleneck: Conv 1×1 → mid, BN, ReLU; Conv
//! 3×3 (stride), BN, ReLU; Conv 1×1 → width, BN; shortcut Conv 1×1 (stride) + BN when the shape
//! changes; add; ReLU; mid = width·ratio rounded to 8, ratio ∈ {0.2, 0.25, 0.35}. Depth = base
//! [`RESNET_BASE_DEPTHS`] + {0, 1, 2} per stage (10–18 blocks). Levels: P2..P5 = stage outputs.

pub mod onnx;

use rand::Rng;
use rand::seq::IndexedRandom;

/// Number of task classes of the image heads (the synthetic scenes' shape kinds).
pub const CLASSES: i64 = 8;
/// Number of keypoints of the pose head.
pub const JOINTS: i64 = 5;

/// One MobileNetV3-like stage: output width, stride of its first block, hard swish (else ReLU),
/// squeeze-excite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MbStage {
    pub width: i64,
    pub stride: i64,
    pub hard_swish: bool,
    pub squeeze_excite: bool,
}

/// The five MobileNetV3-like stages (OFA's MobileNetV3 with narrower widths).
pub const MBV3_STAGES: [MbStage; 5] = [
    MbStage {
        width: 24,
        stride: 2,
        hard_swish: false,
        squeeze_excite: false,
    },
    MbStage {
        width: 32,
        stride: 2,
        hard_swish: false,
        squeeze_excite: true,
    },
    MbStage {
        width: 48,
        stride: 2,
        hard_swish: true,
        squeeze_excite: false,
    },
    MbStage {
        width: 64,
        stride: 1,
        hard_swish: true,
        squeeze_excite: true,
    },
    MbStage {
        width: 96,
        stride: 2,
        hard_swish: true,
        squeeze_excite: true,
    },
];
/// Width of the stem and of the fixed first block.
pub const MBV3_STEM: i64 = 16;
/// Width of the final 1×1 conv (P5).
pub const MBV3_FINAL: i64 = 128;
/// Choices of each elastic dimension.
pub const MBV3_DEPTHS: [usize; 3] = [2, 3, 4];
pub const MBV3_EXPANDS: [i64; 3] = [3, 4, 6];
pub const MBV3_KERNELS: [i64; 3] = [3, 5, 7];

/// ResNet-like base widths (multiplier 1.0), stem width, depths and elastic choices.
pub const RESNET_WIDTHS: [i64; 4] = [64, 128, 256, 384];
pub const RESNET_STEM: i64 = 24;
pub const RESNET_STRIDES: [i64; 4] = [1, 2, 2, 2];
pub const RESNET_BASE_DEPTHS: [usize; 4] = [2, 2, 4, 2];
pub const RESNET_EXTRA_DEPTHS: [usize; 3] = [0, 1, 2];
pub const RESNET_RATIOS: [f64; 3] = [0.2, 0.25, 0.35];
pub const RESNET_MULTIPLIERS: [f64; 3] = [0.65, 0.8, 1.0];
/// The indices of every elastic dimension's three options (each list above is in increasing
/// order of size).
const OPTION_INDICES: [usize; 3] = [0, 1, 2];

/// A search space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    MobileNetV3,
    ResNet,
}

impl Family {
    /// Short name (`mbv3`, `resnet`), used in body names and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Family::MobileNetV3 => "mbv3",
            Family::ResNet => "resnet",
        }
    }

    /// The family of a short name.
    pub fn from_name(name: &str) -> Option<Family> {
        [Family::MobileNetV3, Family::ResNet]
            .into_iter()
            .find(|f| f.name() == name)
    }

    /// Fewest and most blocks a body of this family has.
    pub fn length_range(self) -> (usize, usize) {
        match self {
            Family::MobileNetV3 => (
                MBV3_STAGES.len() * MBV3_DEPTHS[0],
                MBV3_STAGES.len() * MBV3_DEPTHS[2],
            ),
            Family::ResNet => {
                let base: usize = RESNET_BASE_DEPTHS.iter().sum();
                (base, base + 4 * RESNET_EXTRA_DEPTHS[2])
            }
        }
    }

    /// The largest body (every elastic dimension at its maximum): the supernet.
    pub fn largest(self) -> Body {
        match self {
            Family::MobileNetV3 => Body::MobileNetV3(MbBody {
                stages: MBV3_STAGES
                    .map(|_| {
                        vec![
                            MbBlock {
                                expand: 6,
                                kernel: 7
                            };
                            MBV3_DEPTHS[2]
                        ]
                    })
                    .to_vec(),
            }),
            Family::ResNet => Body::ResNet(ResBody {
                stages: (0..4)
                    .map(|s| ResStage {
                        multiplier: 1.0,
                        ratios: vec![0.35; RESNET_BASE_DEPTHS[s] + RESNET_EXTRA_DEPTHS[2]],
                    })
                    .collect(),
            }),
        }
    }

    /// A uniformly random body.
    pub fn sample(self, rng: &mut impl Rng) -> Body {
        // choosing an index of a 3-option list draws as choosing the option itself did
        self.sample_by(|options| *OPTION_INDICES[..options].choose(rng).unwrap_or(&0))
    }

    /// A random body whose every elastic choice leans toward the `size` quantile of its options
    /// (0: the smallest, 1: the largest): that option with probability 3/4, else a uniform one.
    /// Sweeping `size` over [0, 1] gives bodies across the family's whole range of MACs, which
    /// uniform sampling (a sum of many independent choices) rarely reaches.
    pub fn sample_toward(self, size: f64, rng: &mut impl Rng) -> Body {
        let size = size.clamp(0.0, 1.0);
        self.sample_by(|options| {
            if rng.random_bool(0.75) {
                (size * (options - 1) as f64).round() as usize
            } else {
                rng.random_range(0..options)
            }
        })
    }

    /// A body whose every elastic choice is `pick(number of options)`, an index into the
    /// options in increasing order of size.
    fn sample_by(self, mut pick: impl FnMut(usize) -> usize) -> Body {
        let options = OPTION_INDICES.len();
        let mut choose = || pick(options).min(options - 1);
        match self {
            Family::MobileNetV3 => Body::MobileNetV3(MbBody {
                stages: (0..MBV3_STAGES.len())
                    .map(|_| {
                        let depth = MBV3_DEPTHS[choose()];
                        (0..depth)
                            .map(|_| MbBlock {
                                expand: MBV3_EXPANDS[choose()],
                                kernel: MBV3_KERNELS[choose()],
                            })
                            .collect()
                    })
                    .collect(),
            }),
            Family::ResNet => Body::ResNet(ResBody {
                stages: (0..4)
                    .map(|s| {
                        let depth = RESNET_BASE_DEPTHS[s] + RESNET_EXTRA_DEPTHS[choose()];
                        ResStage {
                            multiplier: RESNET_MULTIPLIERS[choose()],
                            ratios: (0..depth).map(|_| RESNET_RATIOS[choose()]).collect(),
                        }
                    })
                    .collect(),
            }),
        }
    }

    /// A random body whose length lies in `range` (inclusive): depths are drawn until one fits
    /// (each length of the family is reachable).
    pub fn sample_with_length(self, range: (usize, usize), rng: &mut impl Rng) -> Body {
        let (lo, hi) = self.length_range();
        let (a, b) = (range.0.clamp(lo, hi), range.1.clamp(lo, hi));
        let (a, b) = (a.min(b), a.max(b));
        loop {
            let body = self.sample(rng);
            if (a..=b).contains(&body.length()) {
                return body;
            }
        }
    }
}

/// A MobileNetV3-like block's elastic choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MbBlock {
    pub expand: i64,
    pub kernel: i64,
}

/// A MobileNetV3-like body: the blocks of each of the five stages.
#[derive(Clone, Debug, PartialEq)]
pub struct MbBody {
    pub stages: Vec<Vec<MbBlock>>,
}

/// A ResNet-like stage: width multiplier and the bottleneck ratio of each block.
#[derive(Clone, Debug, PartialEq)]
pub struct ResStage {
    pub multiplier: f64,
    pub ratios: Vec<f64>,
}

/// A ResNet-like body: four stages.
#[derive(Clone, Debug, PartialEq)]
pub struct ResBody {
    pub stages: Vec<ResStage>,
}

/// One subnet of a family.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    MobileNetV3(MbBody),
    ResNet(ResBody),
}

/// `v` rounded to the nearest multiple of 8 (at least 8), as OFA's `make_divisible`.
pub fn round8(v: f64) -> i64 {
    (((v / 8.0).round() as i64) * 8).max(8)
}

/// Squeeze-excite width of an expanded width.
pub fn se_width(expanded: i64) -> i64 {
    round8(expanded as f64 / 4.0)
}

impl Body {
    /// The family this body belongs to.
    pub fn family(&self) -> Family {
        match self {
            Body::MobileNetV3(_) => Family::MobileNetV3,
            Body::ResNet(_) => Family::ResNet,
        }
    }

    /// Number of elastic blocks (the fixed first MobileNetV3 block not counted).
    pub fn length(&self) -> usize {
        match self {
            Body::MobileNetV3(b) => b.stages.iter().map(Vec::len).sum(),
            Body::ResNet(b) => b.stages.iter().map(|s| s.ratios.len()).sum(),
        }
    }

    /// Channels of the P2..P5 features.
    pub fn level_channels(&self) -> [i64; 4] {
        match self {
            Body::MobileNetV3(_) => [
                MBV3_STAGES[0].width,
                MBV3_STAGES[1].width,
                MBV3_STAGES[2].width + MBV3_STAGES[3].width,
                MBV3_FINAL,
            ],
            Body::ResNet(b) => {
                let mut c = [0; 4];
                for (s, stage) in b.stages.iter().enumerate().take(4) {
                    c[s] = round8(RESNET_WIDTHS[s] as f64 * stage.multiplier);
                }
                c
            }
        }
    }

    /// The most channels each level can have in this family (what a shared head pads to).
    pub fn max_level_channels(family: Family) -> [i64; 4] {
        family.largest().level_channels()
    }

    /// A stable name encoding every choice, e.g. `mbv3-e346k357-…` (used as the CG's name).
    pub fn name(&self) -> String {
        match self {
            Body::MobileNetV3(b) => {
                let stages: Vec<String> = b
                    .stages
                    .iter()
                    .map(|s| {
                        let e: String = s.iter().map(|b| b.expand.to_string()).collect();
                        let k: String = s.iter().map(|b| b.kernel.to_string()).collect();
                        format!("e{e}k{k}")
                    })
                    .collect();
                format!("mbv3-{}", stages.join("-"))
            }
            Body::ResNet(b) => {
                let stages: Vec<String> = b
                    .stages
                    .iter()
                    .map(|s| {
                        let r: String = s
                            .ratios
                            .iter()
                            .map(|r| ((r * 100.0).round() as i64).to_string())
                            .collect::<Vec<_>>()
                            .join(".");
                        format!("w{}r{r}", (s.multiplier * 100.0).round() as i64)
                    })
                    .collect();
                format!("resnet-{}", stages.join("-"))
            }
        }
    }
}

/// Length bins over a family's block counts (the paper uses 5 bins).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LengthBins {
    /// Inclusive `(fewest, most)` blocks of each bin, in increasing order.
    pub bins: Vec<(usize, usize)>,
}

impl LengthBins {
    /// `count` bins of (nearly) equal width over the family's length range.
    pub fn new(family: Family, count: usize) -> LengthBins {
        let (lo, hi) = family.length_range();
        let lengths = hi - lo + 1;
        let count = count.clamp(1, lengths);
        let bins = (0..count)
            .map(|i| (lo + i * lengths / count, lo + (i + 1) * lengths / count - 1))
            .collect();
        LengthBins { bins }
    }

    /// The bin a length falls in.
    pub fn of(&self, length: usize) -> Option<usize> {
        self.bins
            .iter()
            .position(|&(a, b)| (a..=b).contains(&length))
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn samples_stay_in_the_space_and_bins_cover_every_length() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        for family in [Family::MobileNetV3, Family::ResNet] {
            let (lo, hi) = family.length_range();
            let bins = LengthBins::new(family, 5);
            assert_eq!(bins.bins.len(), 5);
            assert_eq!(bins.bins[0].0, lo);
            assert_eq!(bins.bins[4].1, hi);
            for length in lo..=hi {
                assert!(bins.of(length).is_some(), "{family:?} {length}");
            }
            for (i, &bin) in bins.bins.iter().enumerate() {
                let body = family.sample_with_length(bin, &mut rng);
                assert_eq!(bins.of(body.length()), Some(i));
                assert_eq!(body.family(), family);
            }
            let largest = family.largest();
            assert_eq!(largest.length(), hi);
            for _ in 0..50 {
                let c = family.sample(&mut rng).level_channels();
                let max = Body::max_level_channels(family);
                assert!((0..4).all(|l| c[l] <= max[l] && c[l] > 0), "{c:?} {max:?}");
            }
        }
        // equal-width bins (the paper uses [10,11],[12,13],[14,16],[17,18],[19,20])
        assert_eq!(
            LengthBins::new(Family::MobileNetV3, 5).bins,
            [(10, 11), (12, 13), (14, 15), (16, 17), (18, 20)]
        );
    }

    #[test]
    fn names_tell_bodies_apart() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let names: std::collections::HashSet<String> = (0..100)
            .map(|_| Family::MobileNetV3.sample(&mut rng).name())
            .collect();
        assert_eq!(names.len(), 100);
        assert!(
            Family::ResNet
                .largest()
                .name()
                .starts_with("resnet-w100r35.35.35.35")
        );
    }
}
