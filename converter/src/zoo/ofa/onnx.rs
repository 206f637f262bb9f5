//! An elastic body with a task head as ONNX: the architecture of the module above, written as
//! an eval-mode export (every batch norm folded into the convolution before it, which gains a
//! bias), weights as graph inputs (weight-stripped).

use super::{
    Body, CLASSES, JOINTS, MBV3_FINAL, MBV3_STAGES, MBV3_STEM, MbBody, RESNET_STEM, RESNET_STRIDES,
    RESNET_WIDTHS, ResBody, round8, se_width,
};
use crate::onnx::writer::{ModelBuilder, attr_float, attr_int, attr_ints, attr_string};
use crate::value::DType;

/// The task head put on a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Head {
    /// Global pooling and a linear layer on P5.
    Classification,
    /// SimpleBaselines: three stride-2 deconvolutions from P5, then 1×1 to joint heatmaps.
    Pose,
    /// FPN over P2..P5 with deconvolution upsampling, 3×3 conv, per-pixel logits ×4.
    Segmentation,
}

impl Head {
    pub const ALL: [Head; 3] = [Head::Classification, Head::Pose, Head::Segmentation];

    /// `classification`, `pose` or `segmentation`.
    pub fn name(self) -> &'static str {
        match self {
            Head::Classification => "classification",
            Head::Pose => "pose",
            Head::Segmentation => "segmentation",
        }
    }

    /// The head of a name.
    pub fn from_name(name: &str) -> Option<Head> {
        Head::ALL.into_iter().find(|h| h.name() == name)
    }
}

/// Width of the FPN levels.
pub const FPN_WIDTH: i64 = 64;
/// Width of the pose head's deconvolutions.
pub const POSE_WIDTH: i64 = 64;
/// Largest input side written.
pub const MAX_RESOLUTION: i64 = 1024;

/// `body` with `head` for `resolution`² RGB images (a positive multiple of 32, at most
/// [`MAX_RESOLUTION`]).
pub fn build(body: &Body, head: Head, resolution: i64) -> Result<ModelBuilder, String> {
    if resolution <= 0 || resolution % 32 != 0 || resolution > MAX_RESOLUTION {
        return Err(format!(
            "resolution {resolution} is not a positive multiple of 32 up to {MAX_RESOLUTION}"
        ));
    }
    let mut w = Writer {
        m: ModelBuilder::new(17),
        weights: 0,
    };
    w.m.input("image", DType::F32, &[1, 3, resolution, resolution]);
    let levels = match body {
        Body::MobileNetV3(b) => w.mobilenet(b),
        Body::ResNet(b) => w.resnet(b),
    };
    let channels = body.level_channels();
    let s = resolution;
    match head {
        Head::Classification => {
            let x = w.op("GlobalAveragePool", "head.pool", &[&levels[3]], vec![]);
            let x = w.op("Flatten", "head.flatten", &[&x], vec![attr_int("axis", 1)]);
            let weight = w.weight(&[CLASSES, channels[3]]);
            let bias = w.weight(&[CLASSES]);
            w.m.node(
                "Gemm",
                &[&x, &weight, &bias],
                &["logits"],
                vec![attr_int("transB", 1)],
            )
            .output_shaped("logits", DType::F32, &[1, CLASSES]);
        }
        Head::Pose => {
            let mut x = levels[3].clone();
            let mut c = channels[3];
            for i in 0..3 {
                x = w.deconv(&format!("head.deconv{i}"), &x, c, POSE_WIDTH);
                x = w.op("Relu", &format!("head.deconv{i}.relu"), &[&x], vec![]);
                c = POSE_WIDTH;
            }
            let weight = w.weight(&[JOINTS, POSE_WIDTH, 1, 1]);
            let bias = w.weight(&[JOINTS]);
            w.m.node("Conv", &[&x, &weight, &bias], &["heatmaps"], vec![])
                .output_shaped("heatmaps", DType::F32, &[1, JOINTS, s / 4, s / 4]);
        }
        Head::Segmentation => {
            let laterals: Vec<String> = (0..4)
                .map(|l| {
                    w.conv(
                        &format!("head.lateral{l}"),
                        &levels[l],
                        channels[l],
                        FPN_WIDTH,
                        1,
                        1,
                        1,
                    )
                })
                .collect();
            let mut c = laterals[3].clone();
            for l in (0..3).rev() {
                let up = w.deconv(&format!("head.up{l}"), &c, FPN_WIDTH, FPN_WIDTH);
                c = w.op("Add", &format!("head.fpn{l}"), &[&laterals[l], &up], vec![]);
            }
            let x = w.conv("head.smooth", &c, FPN_WIDTH, FPN_WIDTH, 3, 1, 1);
            let x = w.op("Relu", "head.smooth.relu", &[&x], vec![]);
            let x = w.conv("head.out", &x, FPN_WIDTH, CLASSES + 1, 1, 1, 1);
            let scales = "head.scales";
            w.m.initializer(crate::onnx::proto::TensorProto {
                dims: vec![4],
                data_type: 1,
                float_data: vec![1.0, 1.0, 4.0, 4.0],
                name: scales.into(),
                ..Default::default()
            });
            w.m.node(
                "Resize",
                &[&x, "", scales],
                &["logits"],
                vec![attr_string("mode", "linear")],
            )
            .output_shaped("logits", DType::F32, &[1, CLASSES + 1, s, s]);
        }
    }
    Ok(w.m)
}

/// Writes nodes with fresh weight names.
struct Writer {
    m: ModelBuilder,
    weights: usize,
}

impl Writer {
    fn weight(&mut self, dims: &[i64]) -> String {
        self.weights += 1;
        let name = format!("w{}", self.weights);
        self.m.weight_input(&name, dims);
        name
    }

    fn op(
        &mut self,
        op: &str,
        name: &str,
        inputs: &[&str],
        attrs: Vec<crate::onnx::proto::AttributeProto>,
    ) -> String {
        self.m.node(op, inputs, &[name], attrs);
        name.to_string()
    }

    /// A convolution with a bias ("same" padding), `groups` = 1 or the channel count.
    #[allow(clippy::too_many_arguments)]
    fn conv(
        &mut self,
        name: &str,
        x: &str,
        input: i64,
        output: i64,
        kernel: i64,
        stride: i64,
        groups: i64,
    ) -> String {
        let weight = self.weight(&[output, input / groups, kernel, kernel]);
        let bias = self.weight(&[output]);
        let pad = kernel / 2;
        self.m.node(
            "Conv",
            &[x, &weight, &bias],
            &[name],
            vec![
                attr_ints("kernel_shape", &[kernel, kernel]),
                attr_ints("strides", &[stride, stride]),
                attr_ints("pads", &[pad, pad, pad, pad]),
                attr_int("group", groups),
            ],
        );
        name.to_string()
    }

    /// A 4×4 stride-2 transposed convolution with a bias (doubles the resolution).
    fn deconv(&mut self, name: &str, x: &str, input: i64, output: i64) -> String {
        let weight = self.weight(&[input, output, 4, 4]);
        let bias = self.weight(&[output]);
        self.m.node(
            "ConvTranspose",
            &[x, &weight, &bias],
            &[name],
            vec![
                attr_ints("kernel_shape", &[4, 4]),
                attr_ints("strides", &[2, 2]),
                attr_ints("pads", &[1, 1, 1, 1]),
            ],
        );
        name.to_string()
    }

    fn act(&mut self, x: &str, hard_swish: bool) -> String {
        let name = format!("{x}.act");
        self.op(
            if hard_swish { "HardSwish" } else { "Relu" },
            &name,
            &[x],
            vec![],
        )
    }

    fn mobilenet(&mut self, body: &MbBody) -> [String; 4] {
        let x = self.conv("stem", "image", 3, MBV3_STEM, 3, 2, 1);
        let x = self.act(&x, true);
        let y = self.conv("first.dw", &x, MBV3_STEM, MBV3_STEM, 3, 1, MBV3_STEM);
        let y = self.act(&y, false);
        let y = self.conv("first.pw", &y, MBV3_STEM, MBV3_STEM, 1, 1, 1);
        let mut x = self.op("Add", "first.add", &[&x, &y], vec![]);
        let mut input = MBV3_STEM;
        let mut outputs = Vec::new();
        for (s, (stage, blocks)) in MBV3_STAGES.iter().zip(&body.stages).enumerate() {
            for (b, block) in blocks.iter().enumerate() {
                let p = format!("stage{s}.block{b}");
                let stride = if b == 0 { stage.stride } else { 1 };
                let mid = input * block.expand;
                let y = self.conv(&format!("{p}.expand"), &x, input, mid, 1, 1, 1);
                let y = self.act(&y, stage.hard_swish);
                let y = self.conv(&format!("{p}.dw"), &y, mid, mid, block.kernel, stride, mid);
                let mut y = self.act(&y, stage.hard_swish);
                if stage.squeeze_excite {
                    let se = se_width(mid);
                    let g = self.op("GlobalAveragePool", &format!("{p}.se.pool"), &[&y], vec![]);
                    let g = self.conv(&format!("{p}.se.squeeze"), &g, mid, se, 1, 1, 1);
                    let g = self.op("Relu", &format!("{p}.se.relu"), &[&g], vec![]);
                    let g = self.conv(&format!("{p}.se.excite"), &g, se, mid, 1, 1, 1);
                    let g = self.op(
                        "HardSigmoid",
                        &format!("{p}.se.gate"),
                        &[&g],
                        vec![attr_float("alpha", 1.0 / 6.0), attr_float("beta", 0.5)],
                    );
                    y = self.op("Mul", &format!("{p}.se.mul"), &[&y, &g], vec![]);
                }
                let y = self.conv(&format!("{p}.project"), &y, mid, stage.width, 1, 1, 1);
                x = if stride == 1 && input == stage.width {
                    self.op("Add", &format!("{p}.add"), &[&x, &y], vec![])
                } else {
                    y
                };
                input = stage.width;
            }
            outputs.push(x.clone());
        }
        let p4 = self.op(
            "Concat",
            "p4.concat",
            &[&outputs[2], &outputs[3]],
            vec![attr_int("axis", 1)],
        );
        let p5 = self.conv("last", &x, input, MBV3_FINAL, 1, 1, 1);
        let p5 = self.act(&p5, true);
        [outputs[0].clone(), outputs[1].clone(), p4, p5]
    }

    fn resnet(&mut self, body: &ResBody) -> [String; 4] {
        let x = self.conv("stem", "image", 3, RESNET_STEM, 3, 2, 1);
        let x = self.act(&x, false);
        let mut x = self.op(
            "MaxPool",
            "stem.pool",
            &[&x],
            vec![
                attr_ints("kernel_shape", &[3, 3]),
                attr_ints("strides", &[2, 2]),
                attr_ints("pads", &[1, 1, 1, 1]),
            ],
        );
        let mut input = RESNET_STEM;
        let mut outputs = Vec::new();
        for (s, stage) in body.stages.iter().enumerate().take(4) {
            let width = round8(RESNET_WIDTHS[s] as f64 * stage.multiplier);
            for (b, &ratio) in stage.ratios.iter().enumerate() {
                let p = format!("stage{s}.block{b}");
                let stride = if b == 0 { RESNET_STRIDES[s] } else { 1 };
                let mid = round8(width as f64 * ratio);
                let y = self.conv(&format!("{p}.reduce"), &x, input, mid, 1, 1, 1);
                let y = self.act(&y, false);
                let y = self.conv(&format!("{p}.spatial"), &y, mid, mid, 3, stride, 1);
                let y = self.act(&y, false);
                let y = self.conv(&format!("{p}.expand"), &y, mid, width, 1, 1, 1);
                let shortcut = if stride != 1 || input != width {
                    self.conv(&format!("{p}.shortcut"), &x, input, width, 1, stride, 1)
                } else {
                    x.clone()
                };
                let sum = self.op("Add", &format!("{p}.add"), &[&y, &shortcut], vec![]);
                x = self.act(&sum, false);
                input = width;
            }
            outputs.push(x.clone());
        }
        [
            outputs[0].clone(),
            outputs[1].clone(),
            outputs[2].clone(),
            outputs[3].clone(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zoo::ofa::Family;

    #[test]
    fn every_head_converts_with_known_shapes_and_bad_resolutions_are_refused() {
        for family in [Family::MobileNetV3, Family::ResNet] {
            let body = family.largest();
            for head in Head::ALL {
                assert_eq!(Head::from_name(head.name()), Some(head));
                for s in [64, 224] {
                    let bytes = build(&body, head, s).expect("valid").to_bytes();
                    let cg = crate::convert_onnx_bytes(
                        bytes::Bytes::from(bytes),
                        "ofa",
                        &crate::ConvertOptions::default(),
                    )
                    .expect("converts");
                    assert_eq!(cg.unknown_shapes(), 0, "{family:?} {head:?} {s}");
                    assert!(cg.macs() > 0 && cg.params() > 0);
                }
            }
            for s in [0, 48, 4096] {
                assert!(build(&body, Head::Pose, s).is_err(), "{s}");
            }
        }
    }
}
