//! aiop in the browser (wasm-bindgen, `--target web`): a model's bytes in, its CG summary,
//! CG, drawing and predictions out, with the bundled predictor or one the user supplies.
//! Everything runs locally; errors are thrown as JavaScript `Error`s with the CLI's messages.
//! `wasm/build.sh` builds it into `wasm/www/pkg`; `wasm/www` is the page.

pub mod model;

use aiop_converter::onnx::skeleton::{Buffered, skeleton};
use aiop_predictor::{Backend, DEFAULT_PREDICTOR, RuntimePredictor};
use wasm_bindgen::prelude::*;

use model::Converted;

/// A JavaScript byte array read by range, without copying it whole into the module.
struct JsBytes<'a>(&'a js_sys::Uint8Array);

impl aiop_converter::onnx::skeleton::Source for JsBytes<'_> {
    fn len(&self) -> usize {
        self.0.length() as usize
    }

    fn read(&self, offset: usize, out: &mut [u8]) {
        self.0
            .subarray(offset as u32, (offset + out.len()) as u32)
            .copy_to(out);
    }
}

/// A converted model.
#[wasm_bindgen]
pub struct Model(Converted);

#[wasm_bindgen]
impl Model {
    /// Converts the bytes of a model file named `name` (`.onnx`, `.pb`, or a CG file). Of an
    /// ONNX file only the skeleton is copied into the module (`aiop_converter::onnx::skeleton`:
    /// the weights' bytes stay in JavaScript), which converts to the same CG.
    #[wasm_bindgen(constructor)]
    pub fn new(bytes: &js_sys::Uint8Array, name: &str) -> Result<Model, JsError> {
        let skeleton = name
            .to_ascii_lowercase()
            .ends_with(".onnx")
            .then(|| skeleton(&Buffered::new(JsBytes(bytes))).ok())
            .flatten();
        // anything the skeleton walk refuses goes to the converter whole, for its message
        let bytes = skeleton.map_or_else(|| bytes.to_vec(), |(s, _)| s);
        Converted::new(bytes, name)
            .map(Model)
            .map_err(|e| JsError::new(&e))
    }

    /// The summary (JSON of `aiop inspect --json`: nodes, edges, macs, params, ops, …).
    pub fn summary(&self) -> String {
        self.0.summary_json()
    }

    /// The CG (JSON of `aiop convert -o X.json`).
    #[wasm_bindgen(js_name = cgJson)]
    pub fn cg_json(&self) -> String {
        self.0.cg_json()
    }

    /// The CG drawn as SVG (`aiop render`).
    pub fn svg(&self) -> String {
        self.0.svg()
    }

    /// Predictions per task (JSON of `aiop predict --json`).
    pub fn predict(&self, predictor: &Predictor) -> Result<String, JsError> {
        let rows = self.0.predict(&predictor.0).map_err(|e| JsError::new(&e))?;
        serde_json::to_string(&rows).map_err(|e| JsError::new(&e.to_string()))
    }
}

/// A predictor: the bundled default or an exported file.
#[wasm_bindgen]
pub struct Predictor(RuntimePredictor);

#[wasm_bindgen]
impl Predictor {
    /// The bundled default predictor.
    pub fn bundled() -> Result<Predictor, JsError> {
        RuntimePredictor::from_bytes(DEFAULT_PREDICTOR, Backend::Native)
            .map(Predictor)
            .map_err(|e| JsError::new(&format!("bundled predictor: {e}")))
    }

    /// A predictor file (`aiop export`) named `name`.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Predictor, JsError> {
        RuntimePredictor::from_bytes(bytes, Backend::Native)
            .map(Predictor)
            .map_err(|e| JsError::new(&format!("{name}: {e}")))
    }

    /// The predictor's description (JSON: tasks with their scaling, training).
    pub fn info(&self) -> String {
        serde_json::to_string(&self.0.meta).unwrap_or_default()
    }
}
