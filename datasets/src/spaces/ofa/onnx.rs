//! An elastic body with a task head as ONNX: the architecture of the module above, written as
//! an eval-mode export (every batch norm folded into the convolution before it, which gains a
//! bias), weights as graph inputs (weight-stripped).

use rand::SeedableRng;

use super::{
    Body, CLASSES, Family, JOINTS, MBV3_FINAL, MBV3_STAGES, MBV3_STEM, MbBody, RESNET_STEM,
    RESNET_STRIDES, RESNET_WIDTHS, ResBody, round8, se_width,
};
use aiop_converter::onnx::writer::{ModelBuilder, attr_float, attr_int, attr_ints, attr_string};
use aiop_converter::value::DType;

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
            w.m.initializer(aiop_converter::onnx::proto::TensorProto {
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

/// `count` random bodies of `family` drawn with [`Family::sample`] from a ChaCha8 generator
/// seeded with `seed` (what `aiop zoo ofa --seed --count` writes; the same on every platform).
pub fn sample_bodies(family: Family, seed: u64, count: usize) -> Vec<Body> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..count).map(|_| family.sample(&mut rng)).collect()
}

/// The most bodies [`bodies_at`] draws through to reach an index: 10 million (a few seconds).
pub const MAX_STREAM_INDEX: usize = 10_000_000;

/// The bodies at `indices` (any order, repeats allowed) of the stream [`sample_bodies`] draws
/// from, keeping only those in memory; `None` when an index is past [`MAX_STREAM_INDEX`].
pub fn bodies_at(family: Family, seed: u64, indices: &[usize]) -> Option<Vec<Body>> {
    let Some(&last) = indices.iter().max() else {
        return Some(Vec::new());
    };
    if last >= MAX_STREAM_INDEX {
        return None;
    }
    let wanted: std::collections::HashSet<usize> = indices.iter().copied().collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut kept = std::collections::HashMap::new();
    for i in 0..=last {
        let body = family.sample(&mut rng);
        if wanted.contains(&i) {
            kept.insert(i, body);
        }
    }
    Some(indices.iter().map(|i| kept[i].clone()).collect())
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
        attrs: Vec<aiop_converter::onnx::proto::AttributeProto>,
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
    use std::collections::BTreeMap;

    use super::*;
    use crate::spaces::ofa::{MbBlock, ResStage};
    use aiop_converter::ConvertOptions;
    use aiop_converter::cg::{Cg, OpCategory};

    #[test]
    fn bodies_at_are_the_stream_s_bodies() {
        let stream = sample_bodies(Family::MobileNetV3, 3, 40);
        let picked = bodies_at(Family::MobileNetV3, 3, &[39, 0, 17, 17]).unwrap();
        assert_eq!(
            picked,
            [&stream[39], &stream[0], &stream[17], &stream[17]].map(Clone::clone)
        );
        assert!(bodies_at(Family::ResNet, 0, &[MAX_STREAM_INDEX]).is_none());
        assert_eq!(bodies_at(Family::ResNet, 0, &[]), Some(vec![]));
    }

    /// `v` rounded to a multiple of 8, at least 8 (written out again, not `round8`).
    fn to8(v: f64) -> i64 {
        ((v / 8.0).round() as i64 * 8).max(8)
    }

    /// What the CG of a body with a head must hold, counted by hand from the body's choices:
    /// MACs, parameters (weights + biases), nodes per op type.
    #[derive(Debug, Default)]
    struct Expected {
        macs: i64,
        params: i64,
        ops: BTreeMap<String, usize>,
    }

    impl Expected {
        fn count(&mut self, op: &str, n: usize) {
            *self.ops.entry(op.to_string()).or_default() += n;
        }

        /// A k×k convolution with a bias and padding k/2 on an `h`×`h` input; the output side.
        fn conv(&mut self, h: i64, cin: i64, cout: i64, k: i64, stride: i64, groups: i64) -> i64 {
            let side = (h + 2 * (k / 2) - k) / stride + 1;
            let fan_in = cin / groups * k * k;
            self.macs += side * side * cout * fan_in;
            self.params += cout * fan_in + cout;
            self.count("Conv", 1);
            side
        }

        /// A 4×4, stride 2, padding 1 transposed convolution with a bias; the output side.
        fn deconv(&mut self, h: i64, cin: i64, cout: i64) -> i64 {
            self.macs += h * h * cin * cout * 16;
            self.params += cin * cout * 16 + cout;
            self.count("ConvTranspose", 1);
            let pad = 1;
            (h - 1) * 2 - 2 * pad + 4
        }
    }

    /// The expected counts and output shape of `body` with `head` at `s`×`s`.
    fn expected(body: &Body, head: Head, s: i64) -> (Expected, Vec<i64>) {
        let mut e = Expected::default();
        e.count("Input", 1);
        e.count("Output", 1);
        // (side, channels) of P2..P5
        let levels: [(i64, i64); 4] = match body {
            Body::MobileNetV3(b) => {
                let mut h = e.conv(s, 3, 16, 3, 2, 1);
                e.count("HardSwish", 1);
                e.conv(h, 16, 16, 3, 1, 16);
                e.count("Relu", 1);
                e.conv(h, 16, 16, 1, 1, 1);
                e.count("Add", 1);
                let mut c = 16;
                let mut outs = Vec::new();
                assert_eq!(b.stages.len(), 5);
                for (stage, blocks) in MBV3_STAGES.iter().zip(&b.stages) {
                    let act = if stage.hard_swish {
                        "HardSwish"
                    } else {
                        "Relu"
                    };
                    for (i, block) in blocks.iter().enumerate() {
                        let stride = if i == 0 { stage.stride } else { 1 };
                        let mid = c * block.expand;
                        e.conv(h, c, mid, 1, 1, 1);
                        let side = e.conv(h, mid, mid, block.kernel, stride, mid);
                        e.count(act, 2);
                        if stage.squeeze_excite {
                            let se = to8(mid as f64 / 4.0);
                            e.conv(1, mid, se, 1, 1, 1);
                            e.conv(1, se, mid, 1, 1, 1);
                            for op in ["GlobalAveragePool", "Relu", "HardSigmoid", "Mul"] {
                                e.count(op, 1);
                            }
                        }
                        e.conv(side, mid, stage.width, 1, 1, 1);
                        if stride == 1 && c == stage.width {
                            e.count("Add", 1);
                        }
                        (h, c) = (side, stage.width);
                    }
                    outs.push((h, c));
                }
                e.count("Concat", 1);
                assert_eq!(outs[2].0, outs[3].0, "stage 3 keeps the resolution");
                e.conv(h, c, 128, 1, 1, 1);
                e.count("HardSwish", 1);
                [
                    outs[0],
                    outs[1],
                    (outs[2].0, outs[2].1 + outs[3].1),
                    (h, 128),
                ]
            }
            Body::ResNet(b) => {
                let h = e.conv(s, 3, 24, 3, 2, 1);
                e.count("Relu", 1);
                let mut h = (h + 2 - 3) / 2 + 1;
                e.count("MaxPool", 1);
                let mut c = 24;
                let mut outs = Vec::new();
                assert_eq!(b.stages.len(), 4);
                for (i, stage) in b.stages.iter().enumerate() {
                    let width = to8(RESNET_WIDTHS[i] as f64 * stage.multiplier);
                    for (j, &ratio) in stage.ratios.iter().enumerate() {
                        let stride = if j == 0 { RESNET_STRIDES[i] } else { 1 };
                        let mid = to8(width as f64 * ratio);
                        e.conv(h, c, mid, 1, 1, 1);
                        let side = e.conv(h, mid, mid, 3, stride, 1);
                        e.conv(side, mid, width, 1, 1, 1);
                        if stride != 1 || c != width {
                            assert_eq!(e.conv(h, c, width, 1, stride, 1), side);
                        }
                        e.count("Relu", 3);
                        e.count("Add", 1);
                        (h, c) = (side, width);
                    }
                    outs.push((h, c));
                }
                [outs[0], outs[1], outs[2], outs[3]]
            }
        };
        assert_eq!(
            levels.map(|l| l.0),
            [s / 4, s / 8, s / 16, s / 32],
            "level strides"
        );
        assert_eq!(levels.map(|l| l.1), body.level_channels(), "level channels");
        let shape = match head {
            Head::Classification => {
                let c5 = levels[3].1;
                e.macs += c5 * 8;
                e.params += c5 * 8 + 8;
                for op in ["GlobalAveragePool", "Flatten", "Gemm"] {
                    e.count(op, 1);
                }
                vec![1, 8]
            }
            Head::Pose => {
                let (mut h, mut c) = levels[3];
                for _ in 0..3 {
                    h = e.deconv(h, c, 64);
                    c = 64;
                }
                e.count("Relu", 3);
                let h = e.conv(h, 64, 5, 1, 1, 1);
                vec![1, 5, h, h]
            }
            Head::Segmentation => {
                for &(side, c) in &levels {
                    e.conv(side, c, 64, 1, 1, 1);
                }
                let mut h = levels[3].0;
                for l in (0..3).rev() {
                    h = e.deconv(h, 64, 64);
                    assert_eq!(h, levels[l].0);
                    e.count("Add", 1);
                }
                e.conv(h, 64, 64, 3, 1, 1);
                e.count("Relu", 1);
                let h = e.conv(h, 64, 9, 1, 1, 1);
                e.count("Resize", 1);
                vec![1, 9, 4 * h, 4 * h]
            }
        };
        (e, shape)
    }

    /// Converts `body` with `head` at `s` and checks it against the hand count.
    fn check(body: &Body, head: Head, s: i64) -> Cg {
        let what = format!("{} {} {s}", body.name(), head.name());
        let bytes = build(body, head, s)
            .unwrap_or_else(|e| panic!("{what}: {e}"))
            .to_bytes();
        let cg = aiop_converter::convert_onnx_bytes(
            bytes.into(),
            &body.name(),
            &ConvertOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(cg.unknown_shapes(), 0, "{what}");
        assert!(cg.warnings.is_empty(), "{what}: {:?}", cg.warnings);
        let (want, shape) = expected(body, head, s);
        let outputs: Vec<_> = cg.nodes().filter(|n| n.op == OpCategory::Output).collect();
        assert_eq!(outputs.len(), 1, "{what}");
        let name = if head == Head::Pose {
            "heatmaps"
        } else {
            "logits"
        };
        assert_eq!(outputs[0].name, name, "{what}");
        assert_eq!(outputs[0].output_shape, shape, "{what}");
        let inputs: Vec<_> = cg.nodes().filter(|n| n.op == OpCategory::Input).collect();
        assert_eq!(inputs.len(), 1, "{what}: the weights are not data");
        assert_eq!(inputs[0].output_shape, [1, 3, s, s], "{what}");
        let mut ops = BTreeMap::new();
        for n in cg.nodes() {
            *ops.entry(n.op_type.clone()).or_default() += 1;
        }
        assert_eq!(ops, want.ops, "{what}");
        assert_eq!(cg.node_count(), want.ops.values().sum::<usize>(), "{what}");
        assert_eq!(cg.macs(), want.macs as u64, "{what}: MACs");
        assert_eq!(cg.params(), want.params as u64, "{what}: params");
        // batch norm folded: every convolution and the linear layer carry a bias
        for n in cg.nodes() {
            if n.macs > 0 {
                assert!(n.bias, "{what}: {} has no bias", n.name);
            }
        }
        cg
    }

    /// The shortest body with every elastic choice at its minimum.
    fn smallest(family: Family) -> Body {
        let body = match family {
            Family::MobileNetV3 => Body::MobileNetV3(MbBody {
                stages: vec![
                    vec![
                        MbBlock {
                            expand: 3,
                            kernel: 3
                        };
                        2
                    ];
                    5
                ],
            }),
            Family::ResNet => Body::ResNet(ResBody {
                stages: [2, 2, 4, 2]
                    .into_iter()
                    .map(|depth| ResStage {
                        multiplier: 0.65,
                        ratios: vec![0.2; depth],
                    })
                    .collect(),
            }),
        };
        assert_eq!(body.length(), family.length_range().0);
        body
    }

    #[test]
    fn sampled_bodies_depend_on_the_seed_only() {
        for family in [Family::MobileNetV3, Family::ResNet] {
            let names = |seed| -> Vec<String> {
                sample_bodies(family, seed, 5)
                    .iter()
                    .map(Body::name)
                    .collect()
            };
            assert_eq!(names(3), names(3));
            assert_ne!(names(3), names(4));
            assert_eq!(
                names(3)[..2],
                sample_bodies(family, 3, 2)
                    .iter()
                    .map(Body::name)
                    .collect::<Vec<_>>()[..]
            );
            assert!(sample_bodies(family, 3, 0).is_empty());
            assert!(names(3).iter().all(|n| n.starts_with(family.name())));
        }
    }

    #[test]
    fn head_names_round_trip_and_bad_resolutions_are_refused() {
        for head in Head::ALL {
            assert_eq!(Head::from_name(head.name()), Some(head));
        }
        assert_eq!(Head::from_name("detection"), None);
        for family in [Family::MobileNetV3, Family::ResNet] {
            let body = family.largest();
            for s in [48, 0, 4096, -32, 1056, 100] {
                let err = build(&body, Head::Pose, s).expect_err("refused");
                assert!(err.contains(&s.to_string()), "{err}");
            }
            for s in [32, MAX_RESOLUTION] {
                assert!(build(&body, Head::Classification, s).is_ok(), "{s}");
            }
        }
    }

    #[test]
    fn largest_and_smallest_bodies_match_the_hand_count() {
        for family in [Family::MobileNetV3, Family::ResNet] {
            for body in [family.largest(), smallest(family)] {
                for head in Head::ALL {
                    for s in [32, 64, 224] {
                        check(&body, head, s);
                    }
                }
            }
        }
    }

    #[test]
    fn random_bodies_match_the_hand_count() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(8);
        for family in [Family::MobileNetV3, Family::ResNet] {
            let mut lengths = std::collections::BTreeSet::new();
            for i in 0..10 {
                let body = family.sample(&mut rng);
                lengths.insert(body.length());
                for head in Head::ALL {
                    check(&body, head, 64);
                }
                check(&body, Head::ALL[i % 3], 224);
            }
            assert!(lengths.len() > 1, "{family:?} {lengths:?}");
        }
    }

    #[test]
    fn operators_carry_the_pytorch_export_attributes() {
        // What the CG does not keep: attributes, and a well-formed graph (each tensor written
        // once, before it is read).
        for family in [Family::MobileNetV3, Family::ResNet] {
            for head in Head::ALL {
                let model = build(&family.largest(), head, 64).expect("valid").build();
                assert_eq!(model.opset_import[0].version, 17);
                let graph = model.graph.expect("a graph");
                assert_eq!(graph.input[0].name, "image");
                let mut defined: std::collections::HashSet<&str> =
                    graph.input.iter().map(|i| i.name.as_str()).collect();
                defined.extend(graph.initializer.iter().map(|t| t.name.as_str()));
                for n in &graph.node {
                    for i in &n.input {
                        assert!(i.is_empty() || defined.contains(i.as_str()), "{i} unread");
                    }
                    for o in &n.output {
                        assert!(defined.insert(o.as_str()), "{o} written twice");
                    }
                }
                for o in &graph.output {
                    assert!(defined.contains(o.name.as_str()), "{}", o.name);
                }
                let attr = |n: &aiop_converter::onnx::proto::NodeProto, name: &str| {
                    n.attribute
                        .iter()
                        .find(|a| a.name == name)
                        .cloned()
                        .unwrap_or_else(|| panic!("{} without {name}", n.op_type))
                };
                let mut seen = BTreeMap::<&str, usize>::new();
                for n in &graph.node {
                    *seen.entry(n.op_type.as_str()).or_default() += 1;
                    match n.op_type.as_str() {
                        "BatchNormalization" => panic!("batch norm is folded"),
                        "Conv" => assert_eq!(n.input.len(), 3, "Conv with a bias"),
                        "ConvTranspose" => {
                            assert_eq!(n.input.len(), 3);
                            assert_eq!(attr(n, "kernel_shape").ints, [4, 4]);
                            assert_eq!(attr(n, "strides").ints, [2, 2]);
                            assert_eq!(attr(n, "pads").ints, [1, 1, 1, 1]);
                        }
                        "HardSigmoid" => {
                            // torch.nn.Hardsigmoid, not ONNX's default alpha = 0.2
                            assert!((attr(n, "alpha").f - 1.0 / 6.0).abs() < 1e-7);
                            assert_eq!(attr(n, "beta").f, 0.5);
                        }
                        "MaxPool" => {
                            assert_eq!(attr(n, "kernel_shape").ints, [3, 3]);
                            assert_eq!(attr(n, "strides").ints, [2, 2]);
                            assert_eq!(attr(n, "pads").ints, [1, 1, 1, 1]);
                        }
                        "Gemm" => assert_eq!(attr(n, "transB").i, 1),
                        "Flatten" | "Concat" => assert_eq!(attr(n, "axis").i, 1),
                        "Resize" => {
                            assert_eq!(&attr(n, "mode").s[..], b"linear");
                            assert_eq!(n.input[1], "", "no roi");
                            let scales = graph
                                .initializer
                                .iter()
                                .find(|t| t.name == n.input[2])
                                .expect("constant scales");
                            assert_eq!(scales.float_data, [1.0, 1.0, 4.0, 4.0]);
                        }
                        _ => {}
                    }
                }
                let readable = match family {
                    Family::MobileNetV3 => ["stage2.block1.expand", "stage4.block3.se.mul"],
                    Family::ResNet => ["stage2.block1.reduce", "stage3.block0.shortcut"],
                };
                for name in readable {
                    assert!(defined.contains(name), "{name}");
                }
                assert_eq!(
                    seen.contains_key("HardSigmoid"),
                    family == Family::MobileNetV3
                );
            }
        }
    }

    #[test]
    fn the_hand_count_tells_architectures_apart() {
        // The checks must be able to fail: a body that differs in one choice gives other counts.
        let body = Family::MobileNetV3.largest();
        let Body::MobileNetV3(mut other) = body.clone() else {
            unreachable!()
        };
        other.stages[3][1].kernel = 5;
        let (a, _) = expected(&body, Head::Pose, 64);
        let (b, _) = expected(&Body::MobileNetV3(other), Head::Pose, 64);
        assert_ne!(a.macs, b.macs);
        let bytes = build(&body, Head::Pose, 64).expect("valid").to_bytes();
        let cg =
            aiop_converter::convert_onnx_bytes(bytes.into(), "ofa", &ConvertOptions::default())
                .expect("converts");
        assert_eq!(cg.macs(), a.macs as u64);
        assert_ne!(cg.macs(), b.macs as u64);
        let Body::ResNet(mut wider) = Family::ResNet.largest() else {
            unreachable!()
        };
        wider.stages[0].ratios[0] = 0.25;
        let (c, _) = expected(&Family::ResNet.largest(), Head::Segmentation, 64);
        let (d, _) = expected(&Body::ResNet(wider), Head::Segmentation, 64);
        assert_ne!(c.params, d.params);
    }
}
