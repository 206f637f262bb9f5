//! Operator coverage (issue 18): one small model per schema of the standard ONNX domain (each
//! operator at each version it changed in), made by `tools/zoo/export_operators.py` with the
//! output shapes of onnx's own strict shape inference as the reference
//! (`tests/fixtures/operators.tar.xz`, `reference.json`). aiop's shape inference, run as
//! `aiop convert` runs it, must give the reference shape or say it does not know; a wrong shape
//! fails unless listed in [`KNOWN_WRONG`] with its reason. The share it gets right may only grow
//! ([`AT_LEAST`]).

mod common;

use std::collections::BTreeMap;

use aiop_converter::{ConvertOptions, onnx::read_onnx, seed_facts};

/// Outputs aiop infers (model file, output index) that differ from onnx's reference, and why.
const KNOWN_WRONG: &[(&str, &str)] = &[];

/// Files whose every output aiop infers exactly; raise it when coverage grows.
const AT_LEAST: usize = 543;

#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Right,
    Unknown,
    Wrong(Vec<Option<u64>>),
}

fn outcomes(path: &std::path::Path, want: &[Vec<u64>]) -> Vec<Outcome> {
    let Ok(mut model) = read_onnx(path) else {
        return vec![Outcome::Unknown; want.len()];
    };
    aiop_converter::rewrite::rewrite(&mut model.graph);
    let mut warnings = Vec::new();
    let Ok((seed, _)) = seed_facts(&model, &ConvertOptions::default(), &mut warnings) else {
        return vec![Outcome::Unknown; want.len()];
    };
    let Ok(inferred) = aiop_converter::infer::infer(&model.graph, seed) else {
        return vec![Outcome::Unknown; want.len()];
    };
    want.iter()
        .enumerate()
        .map(|(k, want)| {
            let got = model
                .graph
                .outputs
                .get(k)
                .and_then(|o| inferred.facts.get(&o.name))
                .and_then(|f| f.shape.clone());
            match got {
                Some(got) if got.iter().all(Option::is_some) => {
                    let got: Vec<u64> = got.into_iter().flatten().collect();
                    if &got == want {
                        Outcome::Right
                    } else {
                        Outcome::Wrong(got.into_iter().map(Some).collect())
                    }
                }
                _ => Outcome::Unknown,
            }
        })
        .collect()
}

#[test]
fn every_standard_operator_gets_onnx_shapes() {
    let (dir, files) = common::unpack_zoo("operators");
    let reference: BTreeMap<String, Vec<Vec<u64>>> =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("reference.json")).unwrap())
            .unwrap();
    assert_eq!(files.len(), reference.len());
    let (mut right, mut unknown) = (Vec::new(), Vec::new());
    let mut wrong = Vec::new();
    for (file, want) in &reference {
        let results = outcomes(&dir.path().join(file), want);
        if results.iter().all(|r| *r == Outcome::Right) {
            right.push(file.clone());
            continue;
        }
        for (k, r) in results.into_iter().enumerate() {
            match r {
                Outcome::Wrong(got) => {
                    wrong.push(format!("{file}#{k}: {got:?}, onnx {:?}", want[k]))
                }
                Outcome::Unknown => unknown.push(format!("{file}#{k}")),
                Outcome::Right => {}
            }
        }
    }
    eprintln!(
        "{} of {} operator schemas right; unknown: {unknown:?}",
        right.len(),
        reference.len()
    );
    let unexpected: Vec<&String> = wrong
        .iter()
        .filter(|w| !KNOWN_WRONG.iter().any(|(f, _)| w.starts_with(f)))
        .collect();
    assert!(unexpected.is_empty(), "wrong shapes: {unexpected:#?}");
    assert!(
        right.len() >= AT_LEAST,
        "{} right, was {AT_LEAST}",
        right.len()
    );
}
