//! What an exported predictor file says about itself, in the ONNX `metadata_props`: the
//! encoding it expects, the tasks of its output columns with their label scaling, and what it
//! was trained on. The JSON under [`BUNDLE_KEY`] is authoritative; the other `aiop.*` keys
//! repeat it for people reading the file with other tools.

use aiop_converter::OpCategory;
use aiop_converter::onnx::proto::{ModelProto, StringStringEntryProto};
use serde::{Deserialize, Serialize};

use crate::encoding::ENCODING_VERSION;
use crate::scaling::LabelScaling;
use crate::trees::StatsBlend;

/// Metadata key of the bundle description (JSON).
pub const BUNDLE_KEY: &str = "aiop.bundle";
/// Version of the bundle layout (inputs, outputs, metadata). Format 2 added the optional
/// graph-statistics blend of a task ([`TaskOutput::graph_statistics`]); a file without one is
/// written as format 1, which older builds read.
pub const BUNDLE_FORMAT: u32 = 2;

/// Task name of the mean-of-adapters column when it was fitted to no task of its own.
pub const MEAN_OF_ADAPTERS: &str = "mean-of-adapters";

/// One output column: a task and how to map its scores back to the task's metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskOutput {
    pub task: String,
    pub scaling: LabelScaling,
    /// Which part of the network gives it: `head`, `adapter<i>`, or `mean of adapters`.
    pub source: String,
    /// Labelled networks it was fitted on.
    pub samples: usize,
    /// The graph-statistics trees blended into this output, if any (see [`crate::trees`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_statistics: Option<StatsBlend>,
}

/// The description of an exported predictor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BundleMeta {
    pub format: u32,
    pub encoding_version: u32,
    /// FNV-1a hash of the op vocabulary, in order (see [`vocabulary_hash`]).
    pub vocabulary_hash: String,
    /// One per column of the `scores` output, in order.
    pub tasks: Vec<TaskOutput>,
    /// What the predictor was trained on, in words.
    pub training: String,
}

/// The hash of the op categories' names in vocabulary order: two builds with the same hash
/// encode nodes the same way.
pub fn vocabulary_hash() -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for category in OpCategory::ALL {
        for byte in category.name().bytes().chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// Why a predictor file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("not an aiop predictor: {0}")]
    NotAPredictor(String),
    #[error(
        "predictor expects encoding {found} (vocabulary {found_vocab}); this build encodes {expected} (vocabulary {expected_vocab}): retrain or re-export it"
    )]
    EncodingMismatch {
        found: u32,
        found_vocab: String,
        expected: u32,
        expected_vocab: String,
    },
    #[error("the predictor has no task `{task}` (it has: {known})")]
    NoTask { task: String, known: String },
}

impl BundleMeta {
    /// The metadata entries to store in the ONNX model.
    pub fn to_metadata(&self) -> Vec<StringStringEntryProto> {
        let entry = |key: &str, value: String| StringStringEntryProto {
            key: key.into(),
            value,
        };
        let blended = self.tasks.iter().any(|t| t.graph_statistics.is_some());
        let written = BundleMeta {
            format: if blended { BUNDLE_FORMAT } else { 1 },
            ..self.clone()
        };
        let mut out = vec![
            entry(
                BUNDLE_KEY,
                serde_json::to_string(&written).unwrap_or_default(),
            ),
            entry("aiop.encoding_version", self.encoding_version.to_string()),
            entry("aiop.vocabulary_hash", self.vocabulary_hash.clone()),
            entry(
                "aiop.tasks",
                self.tasks
                    .iter()
                    .map(|t| t.task.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            entry("aiop.training", self.training.clone()),
        ];
        for t in &self.tasks {
            let blend = t.graph_statistics.as_ref().map_or(String::new(), |b| {
                format!(" graph_statistics_weight={}", b.weight)
            });
            out.push(entry(
                &format!("aiop.task.{}", t.task),
                format!(
                    "mean={} std={} flops_transform={} source={}{blend}",
                    t.scaling.mean, t.scaling.std, t.scaling.flops_transform, t.source
                ),
            ));
        }
        out
    }

    /// Reads and checks the bundle description of a decoded model.
    pub fn from_model(model: &ModelProto) -> Result<BundleMeta, BundleError> {
        let json = model
            .metadata_props
            .iter()
            .find(|e| e.key == BUNDLE_KEY)
            .ok_or_else(|| BundleError::NotAPredictor(format!("no `{BUNDLE_KEY}` metadata")))?;
        let meta: BundleMeta = serde_json::from_str(&json.value)
            .map_err(|e| BundleError::NotAPredictor(format!("`{BUNDLE_KEY}`: {e}")))?;
        if !(1..=BUNDLE_FORMAT).contains(&meta.format) {
            return Err(BundleError::NotAPredictor(format!(
                "bundle format {} (this build reads {BUNDLE_FORMAT})",
                meta.format
            )));
        }
        if meta.encoding_version != ENCODING_VERSION || meta.vocabulary_hash != vocabulary_hash() {
            return Err(BundleError::EncodingMismatch {
                found: meta.encoding_version,
                found_vocab: meta.vocabulary_hash,
                expected: ENCODING_VERSION,
                expected_vocab: vocabulary_hash(),
            });
        }
        if meta.tasks.is_empty() {
            return Err(BundleError::NotAPredictor("no task outputs".into()));
        }
        for t in &meta.tasks {
            if let Some(blend) = &t.graph_statistics {
                blend.check().map_err(|e| {
                    BundleError::NotAPredictor(format!("task `{}`: graph statistics: {e}", t.task))
                })?;
            }
        }
        Ok(meta)
    }

    /// The columns worth showing by default: every task except a bare mean of adapters
    /// (one fitted to no task of its own).
    pub fn default_columns(&self) -> Vec<usize> {
        (0..self.tasks.len())
            .filter(|&i| self.tasks[i].task != MEAN_OF_ADAPTERS)
            .collect()
    }

    /// The column of `task`.
    pub fn column(&self, task: &str) -> Option<usize> {
        self.tasks.iter().position(|t| t.task == task)
    }

    /// The columns to show: `task`'s, or the [`default_columns`](Self::default_columns).
    pub fn columns(&self, task: Option<&str>) -> Result<Vec<usize>, BundleError> {
        let Some(task) = task else {
            return Ok(self.default_columns());
        };
        self.column(task)
            .map(|i| vec![i])
            .ok_or_else(|| BundleError::NoTask {
                task: task.into(),
                known: self
                    .tasks
                    .iter()
                    .map(|t| t.task.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiop_converter::onnx::writer::ModelBuilder;

    fn model_with(meta: &BundleMeta) -> ModelProto {
        let mut model = ModelBuilder::new(13).build();
        model.metadata_props = meta.to_metadata();
        model
    }

    fn meta() -> BundleMeta {
        BundleMeta {
            format: 1,
            encoding_version: ENCODING_VERSION,
            vocabulary_hash: vocabulary_hash(),
            tasks: vec![TaskOutput {
                task: "imagenet-top1".into(),
                scaling: LabelScaling::IDENTITY,
                source: "head".into(),
                samples: 3,
                graph_statistics: None,
            }],
            training: "test".into(),
        }
    }

    #[test]
    fn reads_back_what_it_writes() {
        let read = BundleMeta::from_model(&model_with(&meta())).unwrap();
        assert_eq!(read, meta());
        assert_eq!(read.column("imagenet-top1"), Some(0));
    }

    /// A file with a graph-statistics blend is format 2 (older builds refuse it rather than
    /// ignore the blend); one without stays format 1; broken trees are refused on reading.
    #[test]
    fn blends_round_trip_as_format_2() {
        use crate::trees::{StatsBlend, TreeEnsemble, TreeNode};
        let leaf = TreeNode::Leaf(1.0);
        let mut blended = meta();
        blended.tasks[0].graph_statistics = Some(StatsBlend {
            weight: 0.5,
            trees: TreeEnsemble {
                base: 70.0,
                shrinkage: 0.1,
                trees: vec![vec![leaf]],
            },
            samples: 3,
        });
        let read = BundleMeta::from_model(&model_with(&blended)).unwrap();
        assert_eq!(read.format, 2);
        assert_eq!(read.tasks, blended.tasks);
        let broken = {
            let mut b = blended.clone();
            let blend = b.tasks[0].graph_statistics.as_mut().unwrap();
            blend.trees.trees[0][0] = TreeNode::Split(0, 1.0, 7, 7);
            b
        };
        let error = BundleMeta::from_model(&model_with(&broken))
            .unwrap_err()
            .to_string();
        assert!(error.contains("graph statistics"), "{error}");
        let mut future = model_with(&meta());
        future.metadata_props[0].value = future.metadata_props[0]
            .value
            .replace("\"format\":1", "\"format\":3");
        assert!(BundleMeta::from_model(&future).is_err());
    }

    #[test]
    fn another_encoding_is_refused_with_both_versions() {
        let mut old = meta();
        old.encoding_version -= 1;
        let error = BundleMeta::from_model(&model_with(&old))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains(&format!("this build encodes {ENCODING_VERSION}")),
            "{error}"
        );
        let mut other_vocab = meta();
        other_vocab.vocabulary_hash = "0".into();
        assert!(matches!(
            BundleMeta::from_model(&model_with(&other_vocab)),
            Err(BundleError::EncodingMismatch { .. })
        ));
        let plain = ModelBuilder::new(13).build();
        assert!(matches!(
            BundleMeta::from_model(&plain),
            Err(BundleError::NotAPredictor(_))
        ));
    }
}
