//! An exported predictor (`aiop export`) loaded and run: natively (the default, feature
//! `native`: the predictor's few operators in Rust, [`crate::native`]), with tract (its ONNX
//! graph, pure Rust) or ONNX Runtime (feature `ort`, the library loaded from `ORT_DYLIB_PATH`).

use std::path::Path;

use aiop_converter::onnx::proto::ModelProto;
use prost::Message;

use crate::bundle::{BundleError, BundleMeta};
use crate::encoding::EncodedGraph;
#[cfg(feature = "ort")]
use crate::inputs::PredictorInputs;
use crate::inputs::{InputShape, MAX_NEIGHBOUR_ENTRIES};

/// Which engine runs the predictor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Backend {
    /// The predictor's operators in Rust, computing only the columns asked for.
    #[default]
    Native,
    /// tract: the ONNX graph in pure Rust.
    Tract,
    /// ONNX Runtime through `ort` (feature `ort`).
    Ort,
}

/// Why a prediction failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("{0}")]
    Bundle(#[from] BundleError),
    #[error("cannot read the predictor: {0}")]
    Io(#[from] std::io::Error),
    #[error("{backend:?}: {message}")]
    Engine { backend: Backend, message: String },
    #[error("this build has no {0:?} backend (enable its cargo feature)")]
    Unavailable(Backend),
    #[error(
        "graph too large for the predictor: {nodes} nodes × {in_degree} in-neighbours of its widest node \
         exceed the budget of {MAX_NEIGHBOUR_ENTRIES} (padded) entries"
    )]
    TooLarge { nodes: usize, in_degree: usize },
    #[error("per-member predictions need the native backend (--backend native)")]
    MembersNeedNative,
    #[error("the predictor's score of graph {graph} (0-based) is not finite")]
    NotFinite { graph: usize },
}

/// Scores of one network: one per task column of the predictor.
pub type Scores = Vec<f32>;

/// One prediction of one model for one task, as `aiop predict --json` and the browser page
/// report it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Prediction {
    pub file: String,
    pub task: String,
    /// In the task's metric.
    pub prediction: f64,
    pub macs: u64,
    pub params: u64,
}

impl Prediction {
    /// The rows of the model `file` (of `macs` and `params`) for the task `columns` of `meta`,
    /// from its predicted `values` (one per column, in that order: see
    /// [`RuntimePredictor::predict_columns`]).
    pub fn rows(
        meta: &BundleMeta,
        file: &str,
        (macs, params): (u64, u64),
        values: &[f64],
        columns: &[usize],
    ) -> Vec<Prediction> {
        columns
            .iter()
            .zip(values)
            .map(|(&i, &prediction)| Prediction {
                file: file.to_string(),
                task: meta.tasks[i].task.clone(),
                prediction,
                macs,
                params,
            })
            .collect()
    }
}

enum Engine {
    #[cfg(feature = "native")]
    Native(crate::native::Model),
    #[cfg(feature = "tract")]
    Tract(tract::Model),
    #[cfg(feature = "ort")]
    Ort(ort_engine::Model),
}

/// A loaded predictor.
pub struct RuntimePredictor {
    pub meta: BundleMeta,
    engine: Engine,
}

impl RuntimePredictor {
    /// Loads a predictor file.
    pub fn load(path: &Path, backend: Backend) -> Result<RuntimePredictor, RuntimeError> {
        let bytes = aiop_converter::files::read_capped(
            path,
            aiop_converter::files::Limit::Predictor.bytes(),
        )?;
        RuntimePredictor::from_bytes(&bytes, backend)
    }

    /// Loads a predictor from the bytes of its `.onnx` file. Only its weights and metadata are
    /// read: the graph that runs is written anew from them ([`crate::graph::rewrite`]), so a
    /// file cannot bring operators of its own (a crafted `ConstantOfShape` of 28,000² took 3 GB
    /// to load), and files of an older graph layout run in the current one.
    pub fn from_bytes(bytes: &[u8], backend: Backend) -> Result<RuntimePredictor, RuntimeError> {
        let model = ModelProto::decode(bytes)
            .map_err(|e| BundleError::NotAPredictor(format!("not an ONNX file ({e})")))?;
        let meta = BundleMeta::from_model(&model)?;
        let weights = crate::graph::weights_of(&model)?;
        #[cfg(feature = "native")]
        if backend == Backend::Native {
            let engine = Engine::Native(crate::native::Model::new(&weights, meta.tasks.len())?);
            return Ok(RuntimePredictor { meta, engine });
        }
        #[cfg(any(feature = "tract", feature = "ort"))]
        {
            let rebuilt = crate::graph::write(weights, &meta)?;
            let bytes = rebuilt.as_slice();
            let engine = match backend {
                #[cfg(feature = "tract")]
                Backend::Tract => Engine::Tract(tract::Model::new(bytes)?),
                #[cfg(feature = "ort")]
                Backend::Ort => Engine::Ort(ort_engine::Model::new(bytes)?),
                #[allow(unreachable_patterns)]
                other => return Err(RuntimeError::Unavailable(other)),
            };
            Ok(RuntimePredictor { meta, engine })
        }
        #[cfg(not(any(feature = "tract", feature = "ort")))]
        {
            let _ = weights;
            Err(RuntimeError::Unavailable(backend))
        }
    }

    /// Scaled scores of `graphs`: `[B][T]`. tract runs each graph on its own (in parallel
    /// with the `parallel` feature); ONNX Runtime runs them as one batch.
    pub fn scores(&self, graphs: &[&EncodedGraph]) -> Result<Vec<Scores>, RuntimeError> {
        let all: Vec<usize> = (0..self.meta.tasks.len()).collect();
        self.scores_of(graphs, &all)
    }

    /// Scaled scores of `graphs` for the task `columns` only, in that order: `[B][columns]`.
    /// The native backend computes only what those columns need; the others compute every
    /// column and keep these.
    pub fn scores_of(
        &self,
        graphs: &[&EncodedGraph],
        columns: &[usize],
    ) -> Result<Vec<Scores>, RuntimeError> {
        if let Some(&c) = columns.iter().find(|&&c| c >= self.meta.tasks.len()) {
            return Err(RuntimeError::Bundle(BundleError::NotAPredictor(format!(
                "no column {c} of {}",
                self.meta.tasks.len()
            ))));
        }
        for g in graphs {
            within_budget(g)?;
        }
        match &self.engine {
            #[cfg(feature = "native")]
            Engine::Native(m) => {
                let rows = for_each_graph(graphs, |g| {
                    m.scores(g, columns)
                        .map_err(|message| RuntimeError::Engine {
                            backend: Backend::Native,
                            message,
                        })
                })?;
                checked(rows)
            }
            #[cfg(any(feature = "tract", feature = "ort"))]
            #[allow(unreachable_patterns)]
            _ => {
                let all = self.all_scores(graphs)?;
                Ok(all
                    .into_iter()
                    .map(|row| columns.iter().map(|&c| row[c]).collect())
                    .collect())
            }
        }
    }

    /// Every column's scaled scores from an ONNX engine, of graphs within the budget.
    #[cfg(any(feature = "tract", feature = "ort"))]
    fn all_scores(&self, graphs: &[&EncodedGraph]) -> Result<Vec<Scores>, RuntimeError> {
        if graphs.is_empty() {
            return Ok(Vec::new());
        }
        let flat: Vec<f32> = match &self.engine {
            #[cfg(feature = "native")]
            Engine::Native(_) => unreachable!("the native engine answers in scores_of"),
            #[cfg(feature = "tract")]
            Engine::Tract(m) => {
                let rows = for_each_graph(graphs, |g| m.run_one(g))?;
                rows.concat()
            }
            #[cfg(feature = "ort")]
            Engine::Ort(m) => {
                let mut flat = Vec::new();
                for batch in budgeted_batches(graphs) {
                    flat.extend(m.run(&PredictorInputs::new(batch))?);
                }
                flat
            }
        };
        let columns = self.meta.tasks.len();
        if flat.len() != graphs.len() * columns {
            return Err(RuntimeError::Bundle(BundleError::NotAPredictor(format!(
                "{} scores for {} graphs × {columns} tasks",
                flat.len(),
                graphs.len()
            ))));
        }
        checked(flat.chunks(columns).map(<[f32]>::to_vec).collect())
    }

    /// Predictions in each task's metric, `[B][T]`; `gflops[i]` are the MACs (in billions)
    /// of graph `i`, needed by tasks scaled with Eq. 5. A task that carries graph-statistics
    /// trees blends their prediction in ([`crate::trees::StatsBlend::apply`]).
    pub fn predict(
        &self,
        graphs: &[&EncodedGraph],
        gflops: &[f64],
    ) -> Result<Vec<Vec<f64>>, RuntimeError> {
        let all: Vec<usize> = (0..self.meta.tasks.len()).collect();
        self.predict_columns(graphs, gflops, &all)
    }

    /// [`Self::predict`] for the task `columns` only, in that order: `[B][columns]`.
    pub fn predict_columns(
        &self,
        graphs: &[&EncodedGraph],
        gflops: &[f64],
        columns: &[usize],
    ) -> Result<Vec<Vec<f64>>, RuntimeError> {
        Ok(self
            .scores_of(graphs, columns)?
            .iter()
            .zip(graphs.iter().zip(gflops))
            .map(|(row, (graph, &g))| {
                row.iter()
                    .zip(columns)
                    .map(|(&z, &c)| self.in_metric(c, z, graph, g))
                    .collect()
            })
            .collect())
    }

    /// Each ensemble member's prediction of task `column`, in its metric: `[B][members]`
    /// (one member for a predictor that is not an ensemble). The native backend only: the
    /// ONNX graph outputs the members' mean.
    pub fn predict_members(
        &self,
        graphs: &[&EncodedGraph],
        gflops: &[f64],
        column: usize,
    ) -> Result<Vec<Vec<f64>>, RuntimeError> {
        #[cfg(feature = "native")]
        if let Engine::Native(m) = &self.engine {
            if column >= self.meta.tasks.len() {
                return Err(RuntimeError::Bundle(BundleError::NotAPredictor(format!(
                    "no column {column} of {}",
                    self.meta.tasks.len()
                ))));
            }
            for g in graphs {
                within_budget(g)?;
            }
            let rows = for_each_graph(graphs, |g| {
                m.member_scores(g, &[column])
                    .map(|members| members.iter().map(|s| s[0]).collect())
                    .map_err(|message| RuntimeError::Engine {
                        backend: Backend::Native,
                        message,
                    })
            })?;
            return Ok(checked(rows)?
                .iter()
                .zip(graphs.iter().zip(gflops))
                .map(|(row, (graph, &g))| {
                    row.iter()
                        .map(|&z| self.in_metric(column, z, graph, g))
                        .collect()
                })
                .collect());
        }
        let _ = (graphs, gflops, column);
        Err(RuntimeError::MembersNeedNative)
    }

    /// The scaled score `z` of task `column` in the task's metric, blended with its
    /// graph-statistics trees when it has them; `gflops`: the graph's MACs in billions.
    fn in_metric(&self, column: usize, z: f32, graph: &EncodedGraph, gflops: f64) -> f64 {
        let task = &self.meta.tasks[column];
        let gnn = task.scaling.unscale(f64::from(z), gflops);
        task.graph_statistics
            .as_ref()
            .map_or(gnn, |b| b.apply(gnn, &graph.stats))
    }
}

/// Rows of scores, refused when one is not finite (a graph's scores overflowed).
fn checked(rows: Vec<Scores>) -> Result<Vec<Scores>, RuntimeError> {
    match rows.iter().position(|r| r.iter().any(|v| !v.is_finite())) {
        Some(graph) => Err(RuntimeError::NotFinite { graph }),
        None => Ok(rows),
    }
}

/// Refuses a graph whose padded inputs (in the coarsest shape bucket a runtime may pad it to)
/// exceed [`MAX_NEIGHBOUR_ENTRIES`]; callers that predict many files check each first, so that
/// one crafted graph fails alone.
pub fn within_budget(graph: &EncodedGraph) -> Result<(), RuntimeError> {
    let exact = InputShape {
        nodes: graph.node_count().max(1),
        max_in_degree: graph.max_in_degree(),
        graphs: 1,
        max_nodes: graph.node_count().max(1),
    };
    if exact.bucket().neighbour_entries() > MAX_NEIGHBOUR_ENTRIES {
        return Err(RuntimeError::TooLarge {
            nodes: exact.nodes,
            in_degree: exact.max_in_degree,
        });
    }
    Ok(())
}

/// Consecutive runs of `graphs` whose batch inputs stay within [`MAX_NEIGHBOUR_ENTRIES`]
/// (every graph is within it on its own): one wide node no longer pads a whole zoo.
#[cfg_attr(not(feature = "ort"), allow(dead_code))]
fn budgeted_batches<'a, 'g>(graphs: &'a [&'g EncodedGraph]) -> Vec<&'a [&'g EncodedGraph]> {
    let mut batches = Vec::new();
    let (mut start, mut nodes, mut degree) = (0, 0usize, 1usize);
    for (i, g) in graphs.iter().enumerate() {
        let (n, d) = (nodes + g.node_count(), degree.max(g.max_in_degree()));
        if i > start && n.saturating_mul(d) > MAX_NEIGHBOUR_ENTRIES {
            batches.push(&graphs[start..i]);
            (start, nodes, degree) = (i, g.node_count(), g.max_in_degree());
        } else {
            (nodes, degree) = (n, d);
        }
    }
    batches.push(&graphs[start..]);
    batches
}

/// `run` on each graph, in parallel with the `parallel` feature.
#[cfg(any(feature = "tract", feature = "native"))]
fn for_each_graph<T: Send>(
    graphs: &[&EncodedGraph],
    run: impl Fn(&EncodedGraph) -> Result<T, RuntimeError> + Sync,
) -> Result<Vec<T>, RuntimeError> {
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        graphs.par_iter().map(|g| run(g)).collect()
    }
    #[cfg(not(feature = "parallel"))]
    {
        graphs.iter().map(|g| run(g)).collect()
    }
}

#[cfg(feature = "tract")]
mod tract {
    //! tract optimises a plan for known shapes far better than for symbolic ones (about 3×
    //! on a 1,000-node CG): each graph is padded to its shape bucket
    //! ([`InputShape::bucket`]) and run with the plan of that bucket, optimised on first use
    //! and kept (up to [`MAX_PLANS`]).

    use std::collections::{HashMap, VecDeque};
    use std::sync::{Arc, Mutex, OnceLock};

    use tract_onnx::prelude::*;

    use super::{Backend, RuntimeError};
    use crate::encoding::{EncodedGraph, NUMERIC_FEATURES};
    use crate::inputs::{InputShape, PredictorInputs};

    /// Plans kept at most; the least recently used is dropped first.
    pub const MAX_PLANS: usize = 64;

    fn engine_error(e: impl std::fmt::Display) -> RuntimeError {
        RuntimeError::Engine {
            backend: Backend::Tract,
            message: e.to_string(),
        }
    }

    type Plan = Arc<TypedRunnableModel>;
    type PlanSlot = Arc<OnceLock<Result<Plan, String>>>;

    pub struct Model {
        model: InferenceModel,
        plans: Mutex<(HashMap<InputShape, PlanSlot>, VecDeque<InputShape>)>,
    }

    impl Model {
        /// Parses the predictor and checks that it optimises (for a small shape).
        pub fn new(bytes: &[u8]) -> Result<Model, RuntimeError> {
            let model = tract_onnx::onnx()
                .model_for_read(&mut &bytes[..])
                .map_err(engine_error)?;
            let model = Model {
                model,
                plans: Mutex::default(),
            };
            let smallest = InputShape {
                nodes: 1,
                max_in_degree: 1,
                graphs: 1,
                max_nodes: 1,
            };
            model.plan(smallest.bucket())?;
            Ok(model)
        }

        /// The plan for `shape`, optimised on first use.
        fn plan(&self, shape: InputShape) -> Result<Plan, RuntimeError> {
            let slot = {
                let mut guard = self.plans.lock().map_err(engine_error)?;
                let (plans, order) = &mut *guard;
                if plans.contains_key(&shape) {
                    // most recently used last
                    order.retain(|s| *s != shape);
                } else if order.len() >= MAX_PLANS
                    && let Some(oldest) = order.pop_front()
                {
                    plans.remove(&oldest);
                }
                order.push_back(shape);
                plans.entry(shape).or_default().clone()
            };
            slot.get_or_init(|| self.optimise(shape).map_err(|e| e.to_string()))
                .clone()
                .map_err(engine_error)
        }

        fn optimise(&self, shape: InputShape) -> TractResult<Plan> {
            let facts: [InferenceFact; 5] = [
                i64::fact([shape.nodes]).into(),
                f32::fact([shape.nodes, NUMERIC_FEATURES]).into(),
                i64::fact([shape.nodes, shape.max_in_degree]).into(),
                i64::fact([shape.graphs, shape.max_nodes]).into(),
                f32::fact([shape.graphs, 1]).into(),
            ];
            let mut model = self.model.clone();
            for (i, fact) in facts.into_iter().enumerate() {
                model = model.with_input_fact(i, fact)?;
            }
            model.into_optimized()?.into_runnable()
        }

        /// Scores of one graph (`[T]`).
        pub fn run_one(&self, graph: &EncodedGraph) -> Result<Vec<f32>, RuntimeError> {
            let exact = PredictorInputs::new(&[graph]);
            let shape = exact.shape().bucket();
            let x = exact.padded(shape);
            let tensor = |shape: &[usize], data: &[i64]| Tensor::from_shape(shape, data);
            let inputs: TVec<TValue> = tvec![
                tensor(&[x.nodes], &x.ops).map_err(engine_error)?.into(),
                Tensor::from_shape(&[x.nodes, NUMERIC_FEATURES], &x.numeric)
                    .map_err(engine_error)?
                    .into(),
                tensor(&[x.nodes, x.max_in_degree], &x.neighbours)
                    .map_err(engine_error)?
                    .into(),
                tensor(&[x.graphs, x.max_nodes], &x.members)
                    .map_err(engine_error)?
                    .into(),
                Tensor::from_shape(&[x.graphs, 1], &x.inv_counts)
                    .map_err(engine_error)?
                    .into(),
            ];
            let outputs = self.plan(shape)?.run(inputs).map_err(engine_error)?;
            let scores = outputs[0]
                .to_plain_array_view::<f32>()
                .map_err(engine_error)?;
            // the first row is the real graph's
            let columns = scores.len() / x.graphs.max(1);
            Ok(scores.iter().take(columns).copied().collect())
        }
    }
}

#[cfg(feature = "ort")]
mod ort_engine {
    use std::sync::{Mutex, OnceLock};

    use ort::session::Session;
    use ort::value::Tensor;

    use super::{Backend, RuntimeError};
    use crate::encoding::NUMERIC_FEATURES;
    use crate::inputs::{OUTPUT_NAME, PredictorInputs};

    fn engine_error(e: impl std::fmt::Display) -> RuntimeError {
        RuntimeError::Engine {
            backend: Backend::Ort,
            message: e.to_string(),
        }
    }

    /// The process's ONNX Runtime environment, loaded once from `ORT_DYLIB_PATH`.
    fn environment() -> Result<&'static ort::environment::Environment, RuntimeError> {
        static ENVIRONMENT: OnceLock<Result<ort::environment::Environment, String>> =
            OnceLock::new();
        ENVIRONMENT
            .get_or_init(|| {
                let path = std::env::var_os("ORT_DYLIB_PATH").ok_or_else(|| {
                    "set ORT_DYLIB_PATH to ONNX Runtime's shared library (tools/install_onnxruntime.sh)"
                        .to_string()
                })?;
                if !std::path::Path::new(&path).is_file() {
                    return Err(format!("ORT_DYLIB_PATH: no file at {}", path.to_string_lossy()));
                }
                ort::init_from(&path)
                    .map_err(|e| e.to_string())?
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(engine_error)
    }

    pub struct Model(Mutex<Session>);

    impl Model {
        pub fn new(bytes: &[u8]) -> Result<Model, RuntimeError> {
            let session = Session::builder(environment()?)
                .and_then(|mut b| b.commit_from_memory(bytes))
                .map_err(engine_error)?;
            Ok(Model(Mutex::new(session)))
        }

        pub fn run(&self, x: &PredictorInputs) -> Result<Vec<f32>, RuntimeError> {
            let dims = |d: &[usize]| d.iter().map(|&v| v as i64).collect::<Vec<i64>>();
            let ints = |d: &[usize], v: &Vec<i64>| Tensor::from_array((dims(d), v.clone()));
            let floats = |d: &[usize], v: &Vec<f32>| Tensor::from_array((dims(d), v.clone()));
            let inputs = ort::inputs![
                "ops" => ints(&[x.nodes], &x.ops).map_err(engine_error)?,
                "numeric" => floats(&[x.nodes, NUMERIC_FEATURES], &x.numeric).map_err(engine_error)?,
                "neighbours" => ints(&[x.nodes, x.max_in_degree], &x.neighbours).map_err(engine_error)?,
                "members" => ints(&[x.graphs, x.max_nodes], &x.members).map_err(engine_error)?,
                "inv_counts" => floats(&[x.graphs, 1], &x.inv_counts).map_err(engine_error)?,
            ];
            let mut session = self.0.lock().map_err(engine_error)?;
            let outputs = session.run(inputs).map_err(engine_error)?;
            let (_, scores) = outputs[OUTPUT_NAME]
                .try_extract_tensor::<f32>()
                .map_err(engine_error)?;
            Ok(scores.to_vec())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::{GraphStats, NUMERIC_FEATURES};

    /// `n` nodes all feeding node 0 (in-degree `n − 1`).
    fn fan_in(n: usize) -> EncodedGraph {
        EncodedGraph {
            ops: vec![0; n],
            numeric: vec![0.0; n * NUMERIC_FEATURES],
            edges: (1..n as u32).map(|i| (i, 0)).collect(),
            stats: GraphStats::default(),
        }
    }

    /// A crafted fan-in is refused before anything is allocated for it; real sizes pass.
    #[test]
    fn wide_fan_in_is_refused() {
        assert!(within_budget(&fan_in(200)).is_ok());
        let error = within_budget(&fan_in(4_000)).unwrap_err().to_string();
        assert!(
            error.contains("too large") && error.contains("4000 nodes"),
            "{error}"
        );
    }

    /// Batches split where one more graph would pass the budget, keeping every graph once.
    #[test]
    fn batches_stay_within_the_budget() {
        let wide = fan_in(1_200);
        let narrow = fan_in(2);
        let graphs: Vec<&EncodedGraph> = [&narrow, &wide, &wide, &narrow, &wide]
            .into_iter()
            .collect();
        let batches = budgeted_batches(&graphs);
        assert_eq!(batches.iter().map(|b| b.len()).sum::<usize>(), graphs.len());
        for b in &batches {
            let nodes: usize = b.iter().map(|g| g.node_count()).sum();
            let degree = b.iter().map(|g| g.max_in_degree()).max().unwrap();
            assert!(nodes * degree <= MAX_NEIGHBOUR_ENTRIES || b.len() == 1);
        }
        assert!(batches.len() >= 3, "{}", batches.len());
        assert_eq!(budgeted_batches(&[&narrow, &narrow]).len(), 1);
    }
}
