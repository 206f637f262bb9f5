//! Published results of NAS benchmarks: NAS-Bench-201 cells with NATS-Bench 200-epoch test
//! accuracies and the AnalogNAS-Bench CIFAR-10 columns as labels (files of the labelled-data
//! folder, `data/nb201/`), and NASLib's zero-cost proxy scores of the same cells as ranking
//! baselines (`data/naslib/`).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use aiop_converter::files::{Limit, read_text_capped};
use aiop_converter::{ConvertError, ConvertOptions, convert_onnx_bytes};

use crate::Record;
use crate::labels::{LabelError, read_columns};
use crate::spaces::nb201::{Cell, Skeleton, build};

/// NATS-Bench (topology search space) 200-epoch test accuracy, one row per cell.
pub const NATS_FILE: &str = "nb201/nats_tss_200ep_test_acc.csv";
/// AnalogNAS-Bench CIFAR-10 results, one row per cell.
pub const ANALOG_FILE: &str = "nb201/analognasbench_nb201_cifar10.csv";
/// What a NAS-Bench-201 dataset holds (its header's description).
pub const NB201_DESCRIPTION: &str = "NAS-Bench-201: all cells, CIFAR-10 skeleton (16 channels, 5 cells/stage, 32×32, 10 classes); labels: NATS-Bench 200-epoch test accuracy, AnalogNAS-Bench CIFAR-10";

/// The task of a NATS-Bench column.
fn nats_task(column: &str) -> Option<String> {
    Some(
        match column {
            "CIFAR10TestAccuracy200Epochs" => "cifar10-top1",
            "CIFAR100TestAccuracy200Epochs" => "cifar100-top1",
            "ImageNetTestAccuracy200Epochs" => "imagenet16-120-top1",
            _ => return None,
        }
        .to_string(),
    )
}

/// The task of an AnalogNAS-Bench column (`cifar10-analognas-<column>`).
fn analog_task(column: &str) -> Option<String> {
    (column != "op_indices").then(|| format!("cifar10-analognas-{}", column.replace('_', "-")))
}

/// The published labels of every NAS-Bench-201 cell, by architecture string, from the
/// labelled-data folder `data_dir`.
pub fn nb201_labels(data_dir: &Path) -> Result<HashMap<String, Vec<(String, f64)>>, LabelError> {
    let mut labels = read_columns(&data_dir.join(NATS_FILE), "ArchitectureString", &nats_task)?;
    for (arch, values) in read_columns(&data_dir.join(ANALOG_FILE), "nb201_arch_str", &analog_task)?
    {
        labels.entry(arch).or_default().extend(values);
    }
    Ok(labels)
}

/// The record of `cell` built on `skeleton`, labelled from `labels` ([`nb201_labels`]).
pub fn nb201_record(
    cell: &Cell,
    skeleton: &Skeleton,
    labels: &HashMap<String, Vec<(String, f64)>>,
) -> Result<Record, ConvertError> {
    let arch = cell.to_string();
    let onnx = build(cell, skeleton).to_bytes();
    let cg = convert_onnx_bytes(onnx.into(), &arch, &ConvertOptions::default())?;
    let mut record = Record::new(
        &cg,
        "nb201",
        "aiop zoo nb201 (CIFAR-10 skeleton)",
        skeleton.resolution as u32,
    );
    record
        .labels
        .extend(labels.get(&arch).into_iter().flatten().cloned());
    Ok(record)
}

/// Proxy name → (architecture string → score).
pub type ProxyScores = BTreeMap<String, BTreeMap<String, f64>>;

/// Entries of each cell that are not zero-cost proxies: costs and the label itself.
const NOT_PROXIES: [&str; 3] = ["flops", "params", "val_accuracy"];

/// The zero-cost proxies (SNIP, GraSP, synflow, jacov, …, computed at initialisation on a
/// minibatch) of `dataset` (`cifar10`, `cifar100` or `ImageNet16-120`) in NASLib's
/// `zc_nasbench201.json`, keyed by the NAS-Bench-201 architecture string that names aiop's
/// records.
pub fn naslib_nb201_proxies(path: &Path, dataset: &str) -> Result<ProxyScores, LabelError> {
    let invalid = |message: String| LabelError::Invalid {
        path: path.display().to_string(),
        message,
    };
    let text = read_text_capped(path, Limit::Text.bytes()).map_err(|e| invalid(e.to_string()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    let cells = json
        .get("nasbench201")
        .and_then(|space| space.get(dataset))
        .and_then(|cells| cells.as_object())
        .ok_or_else(|| invalid(format!("no `nasbench201.{dataset}` entry")))?;
    let mut out = ProxyScores::new();
    for (key, values) in cells {
        let indices: Vec<usize> = key
            .trim_matches(|c| c == '(' || c == ')')
            .split(',')
            .filter_map(|v| v.trim().parse().ok())
            .collect();
        let Some(cell) = <[usize; 6]>::try_from(indices)
            .ok()
            .and_then(Cell::from_naslib)
        else {
            return Err(invalid(format!("`{key}` is not a NASLib cell")));
        };
        let arch = cell.to_string();
        for (proxy, score) in values.as_object().into_iter().flatten() {
            if let (false, Some(score)) = (NOT_PROXIES.contains(&proxy.as_str()), score.as_f64()) {
                out.entry(proxy.clone())
                    .or_default()
                    .insert(arch.clone(), score);
            }
        }
    }
    Ok(out)
}
