//! What the page shows of one model file, computed from its bytes: the CG summary, the CG
//! itself, its drawing and its predictions. Plain Rust (tested natively); `lib.rs` exposes it
//! to JavaScript. Error messages are the CLI's (`<file>: <reason>`).

use aiop_converter::cg::format;
use aiop_converter::cg::summary::summarize;
use aiop_converter::load::load_bytes;
use aiop_converter::render::{RenderOptions, to_svg};
use aiop_converter::{Cg, ConvertOptions};
use aiop_predictor::{Prediction, RuntimePredictor, encode};

/// A converted model.
pub struct Converted {
    pub name: String,
    pub cg: Cg,
}

impl Converted {
    /// Converts the bytes of an ONNX file, a frozen TensorFlow graph (`.pb`) or a CG file
    /// written by `aiop convert`, named `name`, with the CLI's default options (batch 1, 224×224 for open spatial dims).
    pub fn new(bytes: Vec<u8>, name: &str) -> Result<Converted, String> {
        // a converter panic is caught natively; in WASM (panic = abort) it traps, and the page
        // restarts its worker (wasm/www/app.js)
        let cg = load_bytes(bytes, name, &ConvertOptions::default())
            .map_err(|e| format!("{name}: {e}"))?;
        Ok(Converted {
            name: name.to_string(),
            cg,
        })
    }

    /// The summary as `aiop inspect --json` writes it.
    pub fn summary_json(&self) -> String {
        serde_json::to_string(&summarize(&self.cg)).unwrap_or_default()
    }

    /// The CG as `aiop convert -o X.json` writes it.
    pub fn cg_json(&self) -> String {
        format::to_json(&self.cg)
    }

    /// The drawing as `aiop render` makes it (chains collapsed).
    pub fn svg(&self) -> String {
        to_svg(&self.cg, &RenderOptions::default())
    }

    /// The predictions of `predictor` for its default tasks, as `aiop predict --json`.
    pub fn predict(&self, predictor: &RuntimePredictor) -> Result<Vec<Prediction>, String> {
        let graph = encode(&self.cg);
        let gflops = self.cg.macs() as f64 / 1e9;
        let meta = &predictor.meta;
        let columns = meta.default_columns();
        let values = predictor
            .predict_columns(&[&graph], &[gflops], &columns)
            .map_err(|e| format!("{}: {e}", self.name))?;
        let row = values.into_iter().next().unwrap_or_default();
        let costs = (self.cg.macs(), self.cg.params());
        Ok(Prediction::rows(meta, &self.name, costs, &row, &columns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aiop_predictor::{Backend, DEFAULT_PREDICTOR};

    fn sample() -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../models/samples/resnet18.onnx"
        );
        std::fs::read(path).expect("sample model")
    }

    #[test]
    fn converts_summarises_draws_and_predicts_the_sample() {
        let m = Converted::new(sample(), "resnet18.onnx").unwrap();
        let summary: serde_json::Value = serde_json::from_str(&m.summary_json()).unwrap();
        assert_eq!(summary["macs"].as_u64(), Some(m.cg.macs()));
        assert!(m.cg.macs() > 1_700_000_000 && m.cg.params() > 11_000_000);
        assert!(m.svg().contains("<svg"));
        let back = format::from_json(&m.cg_json()).unwrap();
        assert_eq!(back.macs(), m.cg.macs());
        let predictor = RuntimePredictor::from_bytes(DEFAULT_PREDICTOR, Backend::Native).unwrap();
        let predictions = m.predict(&predictor).unwrap();
        let tasks: Vec<&str> = predictions.iter().map(|p| p.task.as_str()).collect();
        assert_eq!(
            tasks,
            [
                "imagenet-top1",
                "cityscapes-miou",
                "coco-box-ap",
                "coco-kp-ap"
            ]
        );
        assert!(predictions.iter().all(|p| p.prediction.is_finite()));
    }

    #[test]
    fn bad_bytes_are_errors_naming_the_file() {
        for bytes in [
            vec![],
            b"hello, not a model".to_vec(),
            sample()[..5000].to_vec(),
        ] {
            let e = Converted::new(bytes, "bad.onnx").err().expect("an error");
            assert!(e.starts_with("bad.onnx: "), "{e}");
        }
    }
}
