//! The body set a shared head learns from (paper, "Latent Sampling Strategy"): `N` bodies in
//! each length bin, the oldest body of one bin replaced every minibatch (round robin over the
//! bins), and latent sampling: per image, the mean `μ(x)` and standard deviation `σ(x)` of
//! the set's features at each level, sampled as `z = μ + ζ∘σ` with a fresh `ζ ~ N(0, 1)` per
//! level.

use std::collections::VecDeque;

use aiop_datasets::spaces::ofa::{Body, Family, LengthBins};
use rand::Rng;
use tch::Tensor;

use super::bodies::{BodyNet, Levels};
use super::layers::{pad_channels, standard_normal_like};

/// `N` bodies per length bin, replaced round robin.
pub struct BodyPool {
    family: Family,
    bins: LengthBins,
    /// Each bin's bodies, oldest first.
    members: Vec<VecDeque<Body>>,
    /// The bin whose oldest body the next [`BodyPool::rotate`] replaces.
    next_bin: usize,
}

impl BodyPool {
    /// `per_bin` random bodies in each of `bins` length bins of `family`.
    pub fn new(family: Family, bins: usize, per_bin: usize, rng: &mut impl Rng) -> BodyPool {
        let bins = LengthBins::new(family, bins);
        let members = bins
            .bins
            .iter()
            .map(|&range| {
                (0..per_bin.max(1))
                    .map(|_| family.sample_with_length(range, rng))
                    .collect()
            })
            .collect();
        BodyPool {
            family,
            bins,
            members,
            next_bin: 0,
        }
    }

    /// Replaces the oldest body of the next bin with a new one of that bin.
    pub fn rotate(&mut self, rng: &mut impl Rng) {
        let bin = self.next_bin % self.members.len();
        let body = self.family.sample_with_length(self.bins.bins[bin], rng);
        self.members[bin].pop_front();
        self.members[bin].push_back(body);
        self.next_bin = (bin + 1) % self.members.len();
    }

    /// Every body in the set.
    pub fn bodies(&self) -> impl Iterator<Item = &Body> {
        self.members.iter().flatten()
    }

    /// The length bins.
    pub fn bins(&self) -> &LengthBins {
        &self.bins
    }
}

/// Per-image mean and standard deviation of the set's features at each level (channels
/// zero-padded to `widths`, the family's widest).
pub struct LatentStats {
    pub mean: [Tensor; 4],
    pub std: [Tensor; 4],
}

impl LatentStats {
    /// The statistics of `images` over the bodies of `pool`, run by `net` (no gradients).
    pub fn of(net: &BodyNet, pool: &BodyPool, images: &Tensor, widths: [i64; 4]) -> LatentStats {
        let _guard = tch::no_grad_guard();
        let mut sum: Option<[Tensor; 4]> = None;
        let mut squares: Option<[Tensor; 4]> = None;
        let mut count = 0.0;
        for body in pool.bodies() {
            let Levels(levels) = net.forward(images, body, true);
            let padded: [Tensor; 4] = std::array::from_fn(|l| pad_channels(&levels[l], widths[l]));
            let squared: [Tensor; 4] = std::array::from_fn(|l| padded[l].square());
            sum = Some(match sum {
                None => padded,
                Some(s) => std::array::from_fn(|l| &s[l] + &padded[l]),
            });
            squares = Some(match squares {
                None => squared,
                Some(s) => std::array::from_fn(|l| &s[l] + &squared[l]),
            });
            count += 1.0;
        }
        let (Some(sum), Some(squares)) = (sum, squares) else {
            let empty = || std::array::from_fn(|_| Tensor::zeros([0], tch::kind::FLOAT_CPU));
            return LatentStats {
                mean: empty(),
                std: empty(),
            };
        };
        let mean: [Tensor; 4] = std::array::from_fn(|l| &sum[l] / count);
        let std = std::array::from_fn(|l| {
            (&squares[l] / count - mean[l].square())
                .clamp_min(0.0)
                .sqrt()
        });
        LatentStats { mean, std }
    }

    /// A latent sample `μ + ζ∘σ`, with a fresh `ζ` at each level.
    pub fn sample(&self) -> Levels {
        Levels(std::array::from_fn(|l| {
            &self.mean[l] + standard_normal_like(&self.std[l]) * &self.std[l]
        }))
    }
}
