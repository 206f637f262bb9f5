//! What a search explores: a space of networks with a neighbourhood (one edit away), random
//! members, and a way to build each network's CG (for its MACs and its predicted score).

use aiop_converter::Cg;
use rand_chacha::ChaCha8Rng;

/// A search space. Points must be cheap to clone; `key` identifies a network (two points with
/// one key are the same network and are evaluated once).
pub trait Space: Sync {
    type Point: Clone + Send + Sync;

    /// A stable, readable identity of `point` (an architecture string, a list of edits).
    fn key(&self, point: &Self::Point) -> String;

    /// A neighbour of `point` one edit away, with the edit in words; `None` when the draw gave
    /// no valid neighbour (the search draws again).
    fn mutate(&self, point: &Self::Point, rng: &mut ChaCha8Rng) -> Option<(Self::Point, String)>;

    /// A uniformly random member (random search's baseline).
    fn random(&self, rng: &mut ChaCha8Rng) -> Self::Point;

    /// The network as an ONNX model (what the search writes for the networks it returns).
    fn model(&self, point: &Self::Point) -> Result<Vec<u8>, String>;

    /// The network's CG, named by its key.
    fn cg(&self, point: &Self::Point) -> Result<Cg, String> {
        let bytes = self.model(point)?;
        aiop_converter::convert_onnx_bytes(bytes.into(), &self.key(point), &Default::default())
            .map_err(|e| e.to_string())
    }
}
