//! Edits of real networks (`aiop_search::spaces::onnx`) on weight-stripped torchvision exports:
//! every kind of edit is drawn, every edited file converts with the start's output shape and
//! the expected change of MACs, and ONNX Runtime loads and runs it with the start's output
//! shapes (the ONNX Runtime part runs where its library is installed: `ORT_DYLIB_PATH`, or
//! `.onnxruntime/` in the checkout, which `tools/setup.sh` installs).

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use aiop_search::Space;
use aiop_search::spaces::onnx::{Edit, OnnxEdits};
use ort::session::Session;
use ort::value::{Tensor, TensorElementType, ValueType};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

/// ONNX Runtime's library, where installed.
fn ort_library() -> Option<PathBuf> {
    let path = std::env::var_os("ORT_DYLIB_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".onnxruntime/libonnxruntime.so")
        });
    path.is_file().then_some(path)
}

/// Runs `model` in ONNX Runtime on constant inputs (the weights of a stripped file included)
/// and returns its output shapes.
fn ort_output_shapes(env: &ort::environment::Environment, model: &[u8]) -> Vec<Vec<i64>> {
    let mut session = Session::builder(env)
        .and_then(|mut b| b.commit_from_memory(model))
        .expect("ONNX Runtime loads the edited file");
    let mut feeds = Vec::new();
    for input in session.inputs() {
        let ValueType::Tensor { ty, shape, .. } = input.dtype() else {
            panic!("input {} is not a tensor", input.name());
        };
        assert_eq!(*ty, TensorElementType::Float32, "input {}", input.name());
        let dims: Vec<i64> = shape.iter().map(|&d| d.max(1)).collect();
        let count = dims.iter().product::<i64>() as usize;
        let tensor = Tensor::from_array((dims, vec![0.01f32; count])).unwrap();
        feeds.push((input.name().to_string(), tensor.into_dyn()));
    }
    let outputs = session
        .run(feeds)
        .expect("ONNX Runtime runs the edited file");
    outputs.iter().map(|(_, v)| v.shape().to_vec()).collect()
}

/// The first word of an edit's kind, for counting.
fn kind(edit: &Edit) -> &'static str {
    match edit {
        Edit::Prune { .. } => "prune",
        Edit::RemoveBlock { .. } => "remove-block",
        Edit::Kernel { .. } => "kernel",
        Edit::Separable { .. } => "separable",
        Edit::Resolution { .. } => "resolution",
    }
}

#[test]
fn edited_torchvision_networks_convert_and_run() {
    let env = ort_library().map(|path| {
        ort::init_from(&path)
            .expect("ONNX Runtime's library loads")
            .build()
            .expect("ONNX Runtime starts")
    });
    if env.is_none() {
        eprintln!(
            "ONNX Runtime not installed (tools/install_onnxruntime.sh): conversion checks only"
        );
    }
    let (dir, _) = common::unpack_zoo("torchvision");
    // (network, the kinds of edit it must offer)
    let networks = [
        (
            "resnet18",
            &["prune", "remove-block", "kernel", "separable", "resolution"][..],
        ),
        (
            "resnet50",
            &["prune", "remove-block", "kernel", "separable", "resolution"],
        ),
        (
            "mobilenet_v2",
            &["prune", "remove-block", "kernel", "resolution"],
        ),
        (
            "efficientnet_b0",
            &["prune", "remove-block", "kernel", "resolution"],
        ),
        // its classifier reads a fixed 7×7 map: no resolution change fits
        ("vgg11", &["prune", "kernel", "separable"]),
    ];
    for (name, expected) in networks {
        let bytes = std::fs::read(dir.path().join(format!("{name}.onnx"))).unwrap();
        let space = OnnxEdits::new(bytes.into(), name).unwrap();
        let start = space.cg(&Vec::new()).unwrap();
        let start_shapes = env
            .as_ref()
            .map(|env| ort_output_shapes(env, &space.model(&Vec::new()).unwrap()));
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let mut kinds = BTreeSet::new();
        let mut points = Vec::new();
        for _ in 0..40 {
            if let Some((point, text)) = space.mutate(&Vec::new(), &mut rng) {
                let edit = &point[0];
                assert_eq!(text, edit.to_string());
                kinds.insert(kind(edit));
                let cg = space.cg(&point).unwrap();
                // what each edit must do to the cost
                match edit {
                    Edit::Prune { .. } | Edit::RemoveBlock { .. } | Edit::Separable { .. } => {
                        assert!(cg.macs() < start.macs(), "{name}: {text}")
                    }
                    Edit::Resolution { size } if *size < 224 => {
                        assert!(cg.macs() < start.macs(), "{name}: {text}")
                    }
                    _ => assert_ne!(cg.macs(), start.macs(), "{name}: {text}"),
                }
                points.push(point);
            }
        }
        for want in expected {
            assert!(
                kinds.contains(want),
                "{name}: no `{want}` edit among {kinds:?}"
            );
        }
        // chains of edits (random members of the space) too
        for _ in 0..5 {
            points.push(space.random(&mut rng));
        }
        let Some(env) = &env else { continue };
        // one file per kind and the chains in ONNX Runtime
        let mut tried = BTreeSet::new();
        for point in points
            .iter()
            .filter(|p| p.len() > 1 || tried.insert(kind(&p[0])))
        {
            let model = space.model(point).unwrap();
            assert_eq!(
                Some(ort_output_shapes(env, &model)),
                start_shapes,
                "{name}: {}",
                space.key(point)
            );
        }
    }
}

/// The same edit replays to the same file, and edits refuse what they cannot do with a reason.
#[test]
fn edits_replay_and_refuse_with_reasons() {
    let (dir, _) = common::unpack_zoo("torchvision");
    let bytes = std::fs::read(dir.path().join("resnet18.onnx")).unwrap();
    let space = OnnxEdits::new(bytes.into(), "resnet18").unwrap();
    let prune = vec![Edit::Prune {
        conv: "/layer1/layer1.0/conv1/Conv".into(),
        keep: 32,
    }];
    assert_eq!(space.model(&prune).unwrap(), space.model(&prune).unwrap());
    let refused = [
        // the stem's channels run into the first residual stream and out through the head:
        // prunable; but a block whose shortcut is a projection is not an identity block
        Edit::RemoveBlock {
            add: "/layer2/layer2.0/Add".into(),
        },
        Edit::Kernel {
            conv: "/layer1/layer1.0/conv1/Conv".into(),
            size: 4,
        },
        Edit::Prune {
            conv: "/no/such/Conv".into(),
            keep: 8,
        },
    ];
    for edit in refused {
        let error = space.apply(std::slice::from_ref(&edit)).err().unwrap();
        assert!(error.starts_with("resnet18: "), "{error}");
        assert!(
            error.len() > "resnet18: ".len() + edit.to_string().len(),
            "{error}"
        );
    }
}
