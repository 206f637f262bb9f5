//! A trained predictor written as one ONNX file (the graph: [`aiop_predictor::graph`]), so
//! that it runs without libtorch: tract, ONNX Runtime, browsers.
//!
//! Output columns (`scores`, `[B, T]`, scaled): the MLP head (the pretraining task, or the
//! fine-tuned task when fine-tuning had no adapters), each adapter (its own task), and, with
//! adapters, their mean (the fine-tuned or last calibrated task: the predictor's own output).

use aiop_predictor::ENCODING_VERSION;
use aiop_predictor::bundle::{
    BUNDLE_FORMAT, BundleMeta, MEAN_OF_ADAPTERS, TaskOutput, vocabulary_hash,
};
use aiop_predictor::graph::{self, Weight, Weights};
use tch::Kind;

use crate::TrainError;
use crate::predictor::Predictor;

/// The tasks of the output columns of `p`, in order.
pub fn output_tasks(p: &Predictor) -> Vec<TaskOutput> {
    let meta = &p.meta;
    let mut tasks = Vec::new();
    let head = match (&meta.finetuned, meta.adapters.is_empty()) {
        (Some(tuned), true) => TaskOutput {
            task: tuned.task.clone(),
            scaling: meta.output,
            source: "head".into(),
            samples: tuned.samples,
            graph_statistics: None,
        },
        _ => TaskOutput {
            task: meta.pretrained.task.clone(),
            scaling: meta.pretrained.scaling,
            source: "head".into(),
            samples: meta.pretrained.samples,
            graph_statistics: None,
        },
    };
    tasks.push(head);
    for (i, a) in meta.adapters.iter().enumerate() {
        tasks.push(TaskOutput {
            task: a.task.clone(),
            scaling: a.scaling,
            source: format!("adapter{i}"),
            samples: a.samples,
            graph_statistics: None,
        });
    }
    if !meta.adapters.is_empty() {
        let (task, samples) = match &meta.finetuned {
            Some(t) => (t.task.clone(), t.samples),
            None => (MEAN_OF_ADAPTERS.to_string(), 0),
        };
        tasks.push(TaskOutput {
            task,
            scaling: meta.output,
            source: "mean of adapters".into(),
            samples,
            graph_statistics: None,
        });
    }
    // a later column of the same task (e.g. fine-tuned) is the one to use: keep names unique
    let mut seen = std::collections::HashSet::new();
    for t in tasks.iter_mut().rev() {
        if !seen.insert(t.task.clone()) {
            t.task = format!("{}@{}", t.task, t.source.replace(' ', "-"));
        }
    }
    tasks
}

/// The ONNX bytes of `p`; `training` describes its training data in words (stored in the
/// metadata).
pub fn export(p: &Predictor, training: &str) -> Result<Vec<u8>, TrainError> {
    export_ensemble(&[p], training)
}

/// The ONNX bytes of the ensemble of `members` (their mean scores): predictors of one
/// architecture and the same tasks and label scalings, e.g. trained with different seeds.
pub fn export_ensemble(members: &[&Predictor], training: &str) -> Result<Vec<u8>, TrainError> {
    let first = members
        .first()
        .ok_or_else(|| TrainError::Invalid("an ensemble of no predictors".into()))?;
    let tasks = output_tasks(first);
    let mut weights = Weights::new();
    for (m, p) in members.iter().enumerate() {
        if output_tasks(p) != tasks {
            return Err(TrainError::Invalid(format!(
                "ensemble member {m} has other tasks or label scalings than the first"
            )));
        }
        let prefix = graph::member_prefix(m);
        for (name, tensor) in p.variables() {
            let dims = tensor.size();
            let values = Vec::<f32>::try_from(tensor.to_kind(Kind::Float).flatten(0, -1))?;
            weights.insert(format!("{prefix}{name}"), Weight { dims, values });
        }
    }
    let meta = BundleMeta {
        format: BUNDLE_FORMAT,
        encoding_version: ENCODING_VERSION,
        vocabulary_hash: vocabulary_hash(),
        tasks,
        training: training.to_string(),
    };
    Ok(graph::write(weights, &meta)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Sample;
    use crate::model::ModelConfig;
    use crate::train::{Hooks, TrainConfig};
    use aiop_predictor::NUMERIC_FEATURES;
    use aiop_predictor::{Backend, EncodedGraph, LabelScaling, RuntimePredictor};

    /// A small random DAG with fan-in (several in-neighbours) and fan-out.
    fn graph(n: usize, seed: usize) -> EncodedGraph {
        let mut edges = Vec::new();
        for i in 1..n as u32 {
            edges.push((i - 1, i));
            if i >= 3 && (i as usize + seed).is_multiple_of(3) {
                edges.push((i - 3, i));
            }
        }
        EncodedGraph {
            ops: (0..n).map(|i| ((i * 7 + seed) % 55) as u16).collect(),
            numeric: (0..n * NUMERIC_FEATURES)
                .map(|i| ((i * 13 + seed) % 17) as f32 / 10.0)
                .collect(),
            edges,
            ..Default::default()
        }
    }

    /// tract runs the exported file to the same scores as libtorch, column by column.
    #[test]
    fn tract_matches_libtorch() {
        let samples: Vec<Sample> = (0..24)
            .map(|i| Sample {
                name: format!("g{i}"),
                family: "f".into(),
                graph: graph(5 + i, i),
                label: i as f64,
                gflops: 0.1 * i as f64,
                params: i as u64,
            })
            .collect();
        let refs: Vec<&Sample> = samples.iter().collect();
        let config = TrainConfig {
            epochs: 3,
            ..Default::default()
        };
        let scaling = LabelScaling::fit(&[(1.0, 1.0), (3.0, 2.0)], true);
        // pretrained on task `a`, with adapters for `adapters`
        let trained = |seed: u64, adapters: &[&str]| {
            let config = TrainConfig { seed, ..config };
            let (mut p, _) = Predictor::pretrain(
                ModelConfig::default(),
                "a",
                &refs,
                scaling,
                &config,
                tch::Device::Cpu,
                Hooks::default(),
            )
            .unwrap();
            for task in adapters {
                p.add_adapter(task, &refs, scaling, &config, Hooks::default())
                    .unwrap();
            }
            p
        };
        let p = trained(0, &["b", "c"]);
        let bytes = export(&p, "test").unwrap();
        let runtime = RuntimePredictor::from_bytes(&bytes, Backend::Tract).unwrap();
        let names: Vec<&str> = runtime.meta.tasks.iter().map(|t| t.task.as_str()).collect();
        assert_eq!(names, ["a", "b", "c", "mean-of-adapters"]);
        let graphs: Vec<&EncodedGraph> = samples.iter().map(|s| &s.graph).collect();
        let expected = p.output_columns(&graphs);
        // batched, and one graph at a time
        let batched = runtime.scores(&graphs).unwrap();
        for (row, want) in batched.iter().zip(&expected) {
            for (a, b) in row.iter().zip(want) {
                assert!((a - b).abs() < 1e-4, "{row:?} vs {want:?}");
            }
        }
        let single = runtime.scores(&graphs[5..6]).unwrap();
        assert!((single[0][1] - expected[5][1]).abs() < 1e-4);
        // the mean column is the predictor's own output
        let own = p.predict(&refs[..1])[0];
        let mapped = runtime.predict(&graphs[..1], &[refs[0].gflops]).unwrap()[0][3];
        assert!((own - mapped).abs() < 1e-3, "{own} vs {mapped}");

        // an ensemble with a second seed outputs the mean of the two members
        let q = trained(1, &["b", "c"]);
        let ensemble = export_ensemble(&[&p, &q], "test").unwrap();
        let runtime = RuntimePredictor::from_bytes(&ensemble, Backend::Tract).unwrap();
        let other = q.output_columns(&graphs);
        for ((row, a), b) in runtime
            .scores(&graphs)
            .unwrap()
            .iter()
            .zip(&expected)
            .zip(&other)
        {
            for (i, v) in row.iter().enumerate() {
                let mean = (a[i] + b[i]) / 2.0;
                assert!((v - mean).abs() < 1e-4, "{v} vs {mean}");
            }
        }
        let rewritten = aiop_predictor::graph::rewrite(&ensemble).unwrap();
        assert_eq!(rewritten.len(), ensemble.len());
        // members of other tasks do not combine
        let lone = trained(0, &[]);
        assert!(export_ensemble(&[&p, &lone], "test").is_err());
    }

    #[test]
    fn bad_bytes_are_errors() {
        assert!(RuntimePredictor::from_bytes(b"not onnx at all", Backend::Tract).is_err());
        assert!(RuntimePredictor::from_bytes(&[], Backend::Tract).is_err());
    }
}
