//! The training defaults of AIO-P, written once: what `aiop train | adapt | finetune`, `aiop
//! eval` and the protocol files use where nothing else is said. The paper's settings (§ 5,
//! Appendix), kept where the experiments of issue 25 found nothing better: Adam at 3e-3 with
//! a half-cosine decay, batches of 32 for pretraining and adapters; fine-tuning on k = 20
//! labelled targets with batch 1 at 1e-4; AdaProxy 1,000 epochs at 1e-3, λ = 1e-5; five
//! seeds per evaluation. Pretraining adds, beside the squared error, a pairwise ranking term
//! on pairs of networks of one family (weight 1): on the timm leave-family-out protocol every
//! seed of it ranks held-out families better than every seed without it. The same term over
//! all pairs, Eq. 5 and weight averaging were measured and not kept
//! (`protocols/results/timm-leave-family-out.md`).

use crate::train::{RankPairs, Schedule, TrainConfig};

/// How long, in what batches and how fast one training stage runs by default.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StageDefaults {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    /// Weight of the pairwise ranking term ([`TrainConfig::rank_weight`]).
    pub rank_weight: f64,
    /// Its pairs ([`TrainConfig::rank_pairs`]).
    pub rank_pairs: RankPairs,
}

impl StageDefaults {
    /// The stage as a training configuration with `seed`.
    pub fn config(self, seed: u64) -> TrainConfig {
        TrainConfig {
            epochs: self.epochs,
            batch_size: self.batch_size,
            lr: self.lr,
            seed,
            schedule: Schedule::Cosine,
            rank_weight: self.rank_weight,
            rank_pairs: self.rank_pairs,
            average_last: 0.0,
        }
    }
}

/// A stage trained on the squared error alone (the fields every stage below sets are
/// placeholders).
const NO_RANKING: StageDefaults = StageDefaults {
    epochs: 0,
    batch_size: 1,
    lr: 0.0,
    rank_weight: 0.0,
    rank_pairs: RankPairs::All,
};

/// Pretraining the backbone and MLP head (`aiop train`). The bundled predictor's members train
/// 300 epochs (`tools/train_default_predictor.sh`); protocols say their own.
pub const PRETRAIN: StageDefaults = StageDefaults {
    epochs: 600,
    batch_size: 32,
    lr: 3e-3,
    rank_weight: 1.0,
    rank_pairs: RankPairs::SameFamily,
};

/// A K-Adapter beside the frozen backbone (`aiop adapt`).
pub const ADAPTER: StageDefaults = StageDefaults {
    epochs: 100,
    batch_size: 32,
    lr: 3e-3,
    ..NO_RANKING
};

/// Fine-tuning on a few labelled targets (`aiop finetune`, `aiop eval`).
pub const FINETUNE: StageDefaults = StageDefaults {
    epochs: 100,
    batch_size: 1,
    lr: 1e-4,
    ..NO_RANKING
};

/// AdaProxy (`aiop finetune --method adaproxy`).
pub const ADAPROXY: StageDefaults = StageDefaults {
    epochs: 1000,
    batch_size: 1,
    lr: 1e-3,
    ..NO_RANKING
};

/// AdaProxy's regularisation weight λ.
pub const ADAPROXY_LAMBDA: f64 = 1e-5;

/// Labelled targets for fine-tuning (k).
pub const TARGETS: usize = 20;

/// Seeds of an evaluation (runs reported as mean ± std).
pub const SEEDS: u64 = 5;

/// The weight of the graph-statistics trees in a blended task output (`aiop predictor blend`):
/// the plain mean of the GNN's and the trees' predictions, the blend the leave-family-out
/// protocol measured (`protocols/results/timm-leave-family-out.md`).
pub const STATS_BLEND_WEIGHT: f64 = 0.5;
