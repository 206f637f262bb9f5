//! Blending the graph-statistics regressor ([`crate::stats_regressor`]) into an exported
//! predictor: the trees are fitted on a task's training networks and stored in the file's
//! metadata beside that task's output ([`aiop_predictor::trees`]), which every runtime then
//! blends in. The GNN's weights and graph are left as they are (its parity with libtorch is
//! unchanged).

use aiop_converter::onnx::proto::ModelProto;
use aiop_predictor::BundleMeta;
use aiop_predictor::bundle::BundleError;
use aiop_predictor::trees::StatsBlend;
use prost::Message;

use crate::TrainError;
use crate::data::Sample;
use crate::stats_regressor::StatsRegressor;

/// The predictor file `bytes` with `task`'s output blended, with `weight`, with trees fitted
/// on `train` (labels in the task's metric); a blend already there is replaced.
pub fn blend(
    bytes: &[u8],
    task: &str,
    train: &[&Sample],
    weight: f64,
) -> Result<Vec<u8>, TrainError> {
    let mut model = ModelProto::decode(bytes).map_err(|e| {
        TrainError::Bundle(BundleError::NotAPredictor(format!(
            "not an ONNX file ({e})"
        )))
    })?;
    let mut meta = BundleMeta::from_model(&model)?;
    let column = meta.columns(Some(task))?[0];
    let regressor = StatsRegressor::fit(train).ok_or_else(|| {
        TrainError::Invalid(format!(
            "{} labelled training networks: the trees need at least 2",
            train.len()
        ))
    })?;
    let blend = StatsBlend {
        weight,
        trees: regressor.to_trees()?,
        samples: train.len(),
    };
    blend.check().map_err(TrainError::Invalid)?;
    meta.tasks[column].graph_statistics = Some(blend);
    model.metadata_props.retain(|e| !e.key.starts_with("aiop."));
    model.metadata_props.extend(meta.to_metadata());
    Ok(model.encode_to_vec())
}
