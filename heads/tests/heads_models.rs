//! The libtorch bodies and heads: feature shapes per level, a copied-out subnet computing what
//! the supernet computes for it, the same architecture as the ONNX the converter writes
//! (parameters equal once batch norms are folded), residual blocks that start as identities,
//! and latent statistics.

use aiop_datasets::spaces::ofa::onnx::Head;
use aiop_datasets::spaces::ofa::{Body, Family};
use aiop_heads::bodies::BodyNet;
use aiop_heads::experiment::body_cg;
use aiop_heads::latent::{BodyPool, LatentStats};
use aiop_heads::task_heads::TaskHead;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tch::{Device, Kind, Tensor, nn};

const S: i64 = 64;

fn images(n: i64) -> Tensor {
    tch::manual_seed(0);
    Tensor::rand([n, 3, S, S], (Kind::Float, Device::Cpu))
}

fn bodies(family: Family) -> Vec<Body> {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut all = vec![family.largest()];
    all.extend((0..3).map(|_| family.sample(&mut rng)));
    all
}

#[test]
fn levels_have_the_body_widths_at_strides_4_to_32() {
    for family in [Family::MobileNetV3, Family::ResNet] {
        let store = nn::VarStore::new(Device::Cpu);
        let net = BodyNet::new(&store.root(), &family.largest());
        for body in bodies(family) {
            let levels = net.forward(&images(2), &body, true);
            let widths = body.level_channels();
            for (l, level) in levels.0.iter().enumerate() {
                let side = S >> (l + 2);
                assert_eq!(
                    level.size(),
                    [2, widths[l], side, side],
                    "{} P{}",
                    body.name(),
                    l + 2
                );
            }
        }
    }
}

#[test]
fn an_extracted_body_computes_what_the_supernet_computes() {
    for family in [Family::MobileNetV3, Family::ResNet] {
        let store = nn::VarStore::new(Device::Cpu);
        let net = BodyNet::new(&store.root(), &family.largest());
        let x = images(3);
        for body in bodies(family) {
            let own_store = nn::VarStore::new(Device::Cpu);
            let own = net.extract(&own_store.root(), &body);
            let (a, b) = (net.forward(&x, &body, false), own.forward(&x, &body, false));
            for l in 0..4 {
                let diff = f64::try_from((&a.0[l] - &b.0[l]).abs().max()).expect("scalar");
                assert!(diff < 1e-5, "{} P{}: {diff}", body.name(), l + 2);
            }
        }
    }
}

/// Trainable parameters of `store` with each batch norm folded into the layer before it:
/// scale and shift (2C) become that layer's bias (C).
fn folded_params(store: &nn::VarStore) -> i64 {
    let variables = store.variables();
    let total: i64 = store
        .trainable_variables()
        .iter()
        .map(Tensor::numel)
        .map(|n| n as i64)
        .sum();
    let batch_norm_channels: i64 = variables
        .iter()
        .filter(|(name, _)| name.ends_with("running_mean"))
        .map(|(_, t)| t.numel() as i64)
        .sum();
    total - batch_norm_channels
}

#[test]
fn libtorch_networks_match_the_onnx_the_converter_reads() {
    for family in [Family::MobileNetV3, Family::ResNet] {
        for body in bodies(family) {
            for head in Head::ALL {
                let store = nn::VarStore::new(Device::Cpu);
                let net = BodyNet::new(&(store.root() / "body"), &body);
                let task_head =
                    TaskHead::new(&(store.root() / "head"), head, body.level_channels());
                let out = task_head.forward(&net.forward(&images(1), &body, false), false);
                let cg = body_cg(&body, head, S as usize).expect("converts");
                assert_eq!(cg.unknown_shapes(), 0);
                assert_eq!(
                    cg.params() as i64,
                    folded_params(&store),
                    "{} with the {} head",
                    body.name(),
                    head.name()
                );
                let output = cg
                    .nodes()
                    .find(|n| n.op == aiop_converter::OpCategory::Output)
                    .expect("output");
                assert_eq!(
                    output.output_shape,
                    out.size(),
                    "{} {}",
                    body.name(),
                    head.name()
                );
            }
        }
    }
}

#[test]
fn latent_statistics_are_the_body_sets_mean_and_spread() {
    let family = Family::ResNet;
    let store = nn::VarStore::new(Device::Cpu);
    let net = BodyNet::new(&store.root(), &family.largest());
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut pool = BodyPool::new(family, 3, 2, &mut rng);
    assert_eq!(pool.bodies().count(), 6);
    pool.rotate(&mut rng);
    assert_eq!(pool.bodies().count(), 6);
    for (bin, body) in pool.bodies().enumerate() {
        assert_eq!(pool.bins().of(body.length()), Some(bin / 2));
    }
    let widths = Body::max_level_channels(family);
    let x = images(2);
    let stats = LatentStats::of(&net, &pool, &x, widths);
    for ((mean, std), width) in stats.mean.iter().zip(&stats.std).zip(widths) {
        assert_eq!(mean.size()[1], width);
        assert!(f64::try_from(std.min()).expect("scalar") >= 0.0);
        assert!(f64::try_from(std.max()).expect("scalar") > 0.0);
    }
    let sample = stats.sample();
    assert_eq!(sample.0[3].size(), stats.mean[3].size());
}

/// With the residual branches zero-initialised, every block that adds its input is the
/// identity, so a body one block shallower in a stage computes the same features.
#[test]
fn zero_initialised_residual_blocks_are_identities() {
    for family in [Family::MobileNetV3, Family::ResNet] {
        let store = nn::VarStore::new(Device::Cpu);
        let mut net = BodyNet::new(&store.root(), &family.largest());
        net.zero_init_residuals();
        let deep = family.largest();
        let mut shallow = deep.clone();
        match &mut shallow {
            Body::MobileNetV3(b) => {
                let blocks = &mut b.stages[2];
                blocks.truncate(blocks.len() - 1)
            }
            Body::ResNet(b) => {
                let ratios = &mut b.stages[2].ratios;
                ratios.truncate(ratios.len() - 1)
            }
        }
        let x = images(2);
        let (a, b) = (
            net.forward(&x, &deep, false),
            net.forward(&x, &shallow, false),
        );
        for level in 0..4 {
            let diff = f64::try_from((&a.0[level] - &b.0[level]).abs().max()).expect("scalar");
            assert!(diff < 1e-5, "{family:?} level {level}: {diff}");
        }
    }
}
