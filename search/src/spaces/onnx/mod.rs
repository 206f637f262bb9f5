//! Edits of a real network as a search space: a point is a list of [`Edit`]s replayed on the
//! start file (channel pruning of a convolution or a whole residual stage, residual-block
//! removal, kernel-size changes, depthwise-separable replacement, input resolution). Every edit
//! is checked before it is kept: the edited file must convert with the start's output shapes.
//!
//! The file is edited through the converter's ONNX schema ([`aiop_converter::onnx::proto`]),
//! which keeps what running the network needs (graph, weights, opsets, metadata) and drops
//! documentation strings. Files whose weights are stored outside them are refused: the edited
//! file would point at data it no longer matches.

mod channels;
mod check;
mod edits;
mod graph;
mod tensor;

use std::collections::{HashMap, HashSet};

use aiop_converter::infer::fact::Fact;
use aiop_converter::onnx::proto::ModelProto;
use aiop_converter::{ConvertError, ConvertOptions};
use bytes::Bytes;
use prost::Message;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

pub use edits::Edit;

use crate::space::Space;

/// Why a file cannot be searched.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The converter cannot read it.
    #[error(transparent)]
    Convert(#[from] ConvertError),
    /// It reads, but edits could not be checked or written back.
    #[error("{0}")]
    Unsupported(String),
}

/// Draws of an edit before [`Space::mutate`] gives up on a network.
const DRAWS: usize = 8;

/// A network in an ONNX file and the edits of it.
pub struct OnnxEdits {
    name: String,
    start: ModelProto,
    /// The graph inputs that carry data (the rest, in weight-stripped files, are weights).
    data: HashSet<String>,
    /// The start's output dims, which every edited network must keep.
    outputs: Vec<Option<Vec<u64>>>,
    /// The start's input resolution (of a square image input).
    start_size: Option<usize>,
}

impl OnnxEdits {
    /// The space of edits of the model `bytes` (called `name` in the edits' messages).
    pub fn new(bytes: Bytes, name: &str) -> Result<OnnxEdits, OpenError> {
        let lowered = aiop_converter::onnx::parse_onnx(bytes.clone(), None)?;
        let data = aiop_converter::data_inputs(&lowered, &ConvertOptions::default());
        let unsupported = |why: &str| OpenError::Unsupported(why.to_string());
        let mut start =
            ModelProto::decode(bytes).map_err(|e| ConvertError::Decode(e.to_string()))?;
        let graph = start
            .graph
            .as_mut()
            .ok_or_else(|| unsupported("no graph"))?;
        if graph.initializer.iter().any(|t| t.data_location == 1) {
            return Err(unsupported(
                "weights stored outside the file (external data) cannot be edited; \
                 save the model with its weights inside, or weight-stripped",
            ));
        }
        graph::name_nodes(graph);
        let mut space = OnnxEdits {
            name: name.to_string(),
            start,
            data: data.into_iter().collect(),
            outputs: Vec::new(),
            start_size: None,
        };
        let facts = space.facts(&space.start).map_err(OpenError::Unsupported)?;
        space.outputs = space
            .start
            .graph
            .iter()
            .flat_map(|g| &g.output)
            .map(|o| facts.get(&o.name).and_then(Fact::dims))
            .collect();
        space.start_size = space
            .start
            .graph
            .iter()
            .flat_map(|g| &g.input)
            .find(|i| space.data.contains(&i.name))
            .and_then(|i| facts.get(&i.name))
            .and_then(Fact::dims)
            .filter(|d| d.len() == 4 && d[2] == d[3])
            .map(|d| d[2] as usize);
        if space.outputs.iter().any(Option::is_none) {
            return Err(unsupported(
                "output shapes unknown: edits could not be checked",
            ));
        }
        Ok(space)
    }

    /// The shapes of every tensor of `model`, as the converter infers them.
    fn facts(&self, model: &ModelProto) -> Result<HashMap<String, Fact>, String> {
        let bytes = Bytes::from(model.encode_to_vec());
        let lowered = aiop_converter::onnx::parse_onnx(bytes, None).map_err(|e| e.to_string())?;
        let mut warnings = Vec::new();
        let (seed, _) =
            aiop_converter::seed_facts(&lowered, &ConvertOptions::default(), &mut warnings)
                .map_err(|e| e.to_string())?;
        let inferred = aiop_converter::infer::infer(&lowered.graph, seed.into_iter().collect())
            .map_err(|e| e.to_string())?;
        Ok(inferred.facts.into_iter().collect())
    }

    /// The start with `edits` applied.
    pub fn apply(&self, edits: &[Edit]) -> Result<ModelProto, String> {
        let mut model = self.start.clone();
        for edit in edits {
            self.apply_one(&mut model, edit)?;
        }
        Ok(model)
    }

    fn apply_one(&self, model: &mut ModelProto, edit: &Edit) -> Result<(), String> {
        let facts = if edit.needs_facts() {
            self.facts(model)?
        } else {
            HashMap::new()
        };
        let graph = model.graph.as_mut().ok_or("no graph")?;
        edit.apply(graph, &self.data, &facts)
            .map_err(|e| format!("{}: {edit}: {e}", self.name))
    }

    /// Whether an edited model converts with the start's output shapes and its operands agree.
    fn check(&self, model: &ModelProto) -> Result<(), String> {
        let facts = self.facts(model)?;
        let outputs: Vec<Option<Vec<u64>>> = model
            .graph
            .iter()
            .flat_map(|g| &g.output)
            .map(|o| facts.get(&o.name).and_then(Fact::dims))
            .collect();
        if outputs != self.outputs {
            return Err(format!(
                "output shapes {outputs:?} instead of {:?}",
                self.outputs
            ));
        }
        check::operands_agree(model.graph.as_ref().ok_or("no graph")?, &facts)
    }
}

impl Space for OnnxEdits {
    type Point = Vec<Edit>;

    fn key(&self, edits: &Vec<Edit>) -> String {
        if edits.is_empty() {
            return self.name.clone();
        }
        edits
            .iter()
            .map(Edit::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn mutate(&self, edits: &Vec<Edit>, rng: &mut ChaCha8Rng) -> Option<(Vec<Edit>, String)> {
        let model = self.apply(edits).ok()?;
        let graph = model.graph.as_ref()?;
        // the shapes of `model`, inferred once for all the draws that need them
        let facts = std::cell::OnceCell::new();
        let no_facts = HashMap::new();
        for _ in 0..DRAWS {
            let Some(edit) = edits::propose(graph, &self.data, rng) else {
                continue;
            };
            let text = edit.to_string();
            let (next, point) = if let Edit::Resolution { size } = edit {
                // a resolution replaces the earlier ones (and back at the start's, none is left)
                let mut point: Vec<Edit> = edits
                    .iter()
                    .filter(|e| !matches!(e, Edit::Resolution { .. }))
                    .cloned()
                    .collect();
                if Some(size) != self.start_size {
                    point.push(edit);
                }
                match self.apply(&point) {
                    Ok(next) => (next, point),
                    Err(_) => continue,
                }
            } else {
                if edit.needs_facts() && facts.get().is_none() {
                    let _ = facts.set(self.facts(&model).ok()?);
                }
                let mut next = model.clone();
                let graph = next.graph.as_mut()?;
                if edit
                    .apply(graph, &self.data, facts.get().unwrap_or(&no_facts))
                    .is_err()
                {
                    continue;
                }
                let mut point = edits.clone();
                point.push(edit);
                (next, point)
            };
            if self.check(&next).is_ok() {
                return Some((point, text));
            }
        }
        None
    }

    fn random(&self, rng: &mut ChaCha8Rng) -> Vec<Edit> {
        let steps = rng.random_range(1..=4);
        let mut point = Vec::new();
        for _ in 0..steps * 2 {
            if point.len() == steps {
                break;
            }
            if let Some((next, _)) = self.mutate(&point, rng) {
                point = next;
            }
        }
        point
    }

    fn model(&self, edits: &Vec<Edit>) -> Result<Vec<u8>, String> {
        Ok(self.apply(edits)?.encode_to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiop_converter::onnx::writer::{ModelBuilder, attr_int, attr_ints};
    use aiop_converter::value::DType;

    /// stem (1×1, 3 → 8) → a; a + conv3×3(a) → r; pool, flatten, linear → 4 classes; plus a
    /// second branch from `a` concatenated (only with `concat`).
    fn model(concat: bool) -> Bytes {
        let mut m = ModelBuilder::new(17);
        m.input("image", DType::F32, &[1, 3, 8, 8])
            .weight("stem.w", &[8, 3, 1, 1])
            .weight("conv.w", &[8, 8, 3, 3])
            .weight("conv.b", &[8])
            .weight("fc.w", &[4, 8])
            .weight("fc.b", &[4])
            .node(
                "Conv",
                &["image", "stem.w"],
                &["a"],
                vec![attr_ints("kernel_shape", &[1, 1])],
            )
            .node(
                "Conv",
                &["a", "conv.w", "conv.b"],
                &["b"],
                vec![
                    attr_ints("kernel_shape", &[3, 3]),
                    attr_ints("pads", &[1; 4]),
                ],
            )
            .node("Add", &["a", "b"], &["r"], vec![]);
        let pooled = if concat {
            m.node("Concat", &["r", "a"], &["c"], vec![attr_int("axis", 1)])
                .weight("fc2.w", &[4, 16]);
            "c"
        } else {
            "r"
        };
        m.node("GlobalAveragePool", &[pooled], &["g"], vec![])
            .node("Flatten", &["g"], &["f"], vec![])
            .node(
                "Gemm",
                &["f", if concat { "fc2.w" } else { "fc.w" }, "fc.b"],
                &["logits"],
                vec![attr_int("transB", 1)],
            )
            .output("logits");
        m.to_bytes().into()
    }

    /// Pruning the stem prunes the residual sum's other writer too (a convolution that reads
    /// and writes the group: both kernel axes) and the classifier's inputs; the result checks.
    #[test]
    fn pruning_follows_the_residual_stream() {
        let space = OnnxEdits::new(model(false), "toy").unwrap();
        let edit = Edit::Prune {
            conv: "Conv_0".into(),
            keep: 4,
        };
        let pruned = space.apply(std::slice::from_ref(&edit)).unwrap();
        space.check(&pruned).unwrap();
        let dims = |name: &str| {
            let g = pruned.graph.as_ref().unwrap();
            g.initializer
                .iter()
                .find(|t| t.name == name)
                .unwrap()
                .dims
                .clone()
        };
        assert_eq!(dims("stem.w"), [4, 3, 1, 1]);
        assert_eq!(dims("conv.w"), [4, 4, 3, 3]);
        assert_eq!(dims("conv.b"), [4]);
        assert_eq!(dims("fc.w"), [4, 4]);
        assert_eq!(dims("fc.b"), [4]);
        // the whole-stream prune is also reachable from the inner convolution
        let inner = Edit::Prune {
            conv: "Conv_1".into(),
            keep: 4,
        };
        assert_eq!(space.model(&[inner].to_vec()), space.model(&vec![edit]));
    }

    /// A channel group that reaches a concatenation is refused with the reason.
    #[test]
    fn pruning_refuses_concatenated_channels() {
        let space = OnnxEdits::new(model(true), "toy").unwrap();
        let error = space
            .apply(&[Edit::Prune {
                conv: "Conv_0".into(),
                keep: 4,
            }])
            .unwrap_err();
        assert!(error.contains("Concat"), "{error}");
        // the block whose shortcut is `a` can go
        let removed = space
            .apply(&[Edit::RemoveBlock {
                add: "Add_2".into(),
            }])
            .unwrap();
        space.check(&removed).unwrap();
        let graph = removed.graph.unwrap();
        assert!(!graph.initializer.iter().any(|t| t.name == "conv.w"));
    }
}
