//! Published results of NAS benchmarks as labels: NAS-Bench-201 cells with NATS-Bench 200-epoch
//! test accuracies and the AnalogNAS-Bench CIFAR-10 columns (files of the labelled-data folder,
//! `data/nb201/`).

use std::collections::HashMap;
use std::path::Path;

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
