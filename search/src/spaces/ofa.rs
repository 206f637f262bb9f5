//! The once-for-all spaces of `aiop zoo ofa` as a search space: a point is a subnet (a
//! [`Body`] of the MobileNetV3-like or ResNet-like family) at an input resolution, with a task
//! head; an edit changes one elastic choice — a block's expand ratio or kernel size, a stage's
//! depth, width multiplier or a bottleneck ratio — or the resolution.

use std::fmt;
use std::str::FromStr;

use aiop_datasets::spaces::ofa::onnx::{Head, build};
use aiop_datasets::spaces::ofa::{
    Body, Family, MBV3_DEPTHS, MBV3_EXPANDS, MBV3_KERNELS, RESNET_BASE_DEPTHS, RESNET_EXTRA_DEPTHS,
    RESNET_MULTIPLIERS, RESNET_RATIOS,
};
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use crate::space::Space;

/// The input resolutions a subnet may take.
pub const RESOLUTIONS: [i64; 5] = [128, 160, 192, 224, 256];

/// A subnet at a resolution.
#[derive(Clone, Debug, PartialEq)]
pub struct Subnet {
    pub body: Body,
    pub resolution: i64,
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}@{}", self.body.name(), self.resolution)
    }
}

/// A start given on the command line: a family's largest subnet (`mbv3`, `resnet`), optionally
/// at a resolution (`mbv3@192`).
impl FromStr for Subnet {
    type Err = String;

    fn from_str(s: &str) -> Result<Subnet, String> {
        let (family, resolution) = match s.split_once('@') {
            Some((f, r)) => (f, r.parse().map_err(|_| format!("resolution `{r}`"))?),
            None => (s, 224),
        };
        let family = Family::from_name(family).ok_or_else(|| {
            format!("`{family}` is not an OFA family (mbv3 or resnet, optionally @RESOLUTION)")
        })?;
        if !RESOLUTIONS.contains(&resolution) {
            return Err(format!("resolution {resolution}: one of {RESOLUTIONS:?}"));
        }
        Ok(Subnet {
            body: family.largest(),
            resolution,
        })
    }
}

/// Subnets of one family with one task head.
#[derive(Clone, Copy, Debug)]
pub struct Ofa {
    pub family: Family,
    pub head: Head,
}

/// Another element of `choices` than `current`.
fn other<T: Copy + PartialEq>(choices: &[T], current: T, rng: &mut ChaCha8Rng) -> Option<T> {
    let rest: Vec<T> = choices.iter().copied().filter(|c| *c != current).collect();
    rest.choose(rng).copied()
}

impl Space for Ofa {
    type Point = Subnet;

    fn key(&self, subnet: &Subnet) -> String {
        subnet.to_string()
    }

    fn mutate(&self, subnet: &Subnet, rng: &mut ChaCha8Rng) -> Option<(Subnet, String)> {
        let mut next = subnet.clone();
        let edit = match (&mut next.body, rng.random_range(0..4)) {
            (_, 0) => {
                let r = other(&RESOLUTIONS, subnet.resolution, rng)?;
                next.resolution = r;
                format!("resolution {} → {r}", subnet.resolution)
            }
            (Body::MobileNetV3(b), kind) => {
                let s = rng.random_range(0..b.stages.len());
                let stage = &mut b.stages[s];
                let i = rng.random_range(0..stage.len());
                match kind {
                    1 => {
                        let e = other(&MBV3_EXPANDS, stage[i].expand, rng)?;
                        let old = std::mem::replace(&mut stage[i].expand, e);
                        format!("stage {s} block {i}: expand {old} → {e}")
                    }
                    2 => {
                        let k = other(&MBV3_KERNELS, stage[i].kernel, rng)?;
                        let old = std::mem::replace(&mut stage[i].kernel, k);
                        format!("stage {s} block {i}: kernel {old} → {k}")
                    }
                    _ => {
                        let depth = other(&MBV3_DEPTHS, stage.len(), rng)?;
                        let old = stage.len();
                        let last = *stage.last()?;
                        stage.resize(depth, last);
                        format!("stage {s}: {old} → {depth} blocks")
                    }
                }
            }
            (Body::ResNet(b), kind) => {
                let s = rng.random_range(0..b.stages.len());
                let stage = &mut b.stages[s];
                match kind {
                    1 => {
                        let m = other(&RESNET_MULTIPLIERS, stage.multiplier, rng)?;
                        let old = std::mem::replace(&mut stage.multiplier, m);
                        format!("stage {s}: width ×{old} → ×{m}")
                    }
                    2 => {
                        let i = rng.random_range(0..stage.ratios.len());
                        let r = other(&RESNET_RATIOS, stage.ratios[i], rng)?;
                        let old = std::mem::replace(&mut stage.ratios[i], r);
                        format!("stage {s} block {i}: ratio {old} → {r}")
                    }
                    _ => {
                        let depths = RESNET_EXTRA_DEPTHS.map(|e| RESNET_BASE_DEPTHS[s] + e);
                        let depth = other(&depths, stage.ratios.len(), rng)?;
                        let old = stage.ratios.len();
                        let last = *stage.ratios.last()?;
                        stage.ratios.resize(depth, last);
                        format!("stage {s}: {old} → {depth} blocks")
                    }
                }
            }
        };
        Some((next, edit))
    }

    fn random(&self, rng: &mut ChaCha8Rng) -> Subnet {
        Subnet {
            body: self.family.sample(rng),
            resolution: *RESOLUTIONS.choose(rng).unwrap_or(&224),
        }
    }

    fn model(&self, subnet: &Subnet) -> Result<Vec<u8>, String> {
        if subnet.body.family() != self.family {
            return Err(format!("{subnet} is not a {} subnet", self.family.name()));
        }
        Ok(build(&subnet.body, self.head, subnet.resolution)?.to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Every edit changes the subnet's key and keeps it buildable; the largest subnet is the
    /// most expensive one.
    #[test]
    fn edits_change_one_choice_and_build() {
        for family in [Family::MobileNetV3, Family::ResNet] {
            let space = Ofa {
                family,
                head: Head::Classification,
            };
            let start: Subnet = family.name().parse().unwrap();
            let macs = space.cg(&start).unwrap().macs();
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            let mut edits = 0;
            for _ in 0..30 {
                if let Some((next, edit)) = space.mutate(&start, &mut rng) {
                    assert_ne!(space.key(&next), space.key(&start), "{edit}");
                    let cg = space.cg(&next).unwrap();
                    // from the largest subnet at 224, only a larger resolution costs more
                    if next.resolution <= start.resolution {
                        assert!(cg.macs() <= macs, "{edit}");
                    }
                    edits += 1;
                }
            }
            assert!(edits >= 20, "{edits} edits of {family:?}");
            let random = space.random(&mut rng);
            assert!(space.cg(&random).is_ok());
        }
        assert!("mbv3@100".parse::<Subnet>().is_err());
        assert!("vgg".parse::<Subnet>().is_err());
        assert_eq!("resnet@192".parse::<Subnet>().unwrap().resolution, 192);
    }
}
