//! Published results of model zoos, turned into labels keyed by task.
//!
//! Every zoo publishes its numbers in its own layout; each reader here maps one file of
//! the vendored `data/` folder to [`Candidate`]s per model name, and [`LabelTable::labels_for`] applies
//! one rule for all of them: per task, the candidates at the record's resolution (or with no
//! resolution), ImageNet-1k-only/preferred ones first, then the best value. Task keys are
//! `<dataset>-<metric>` in lower case (`imagenet-top1`, `coco-box-ap`, `cityscapes-miou`), and
//! every metric is in percent, so one task means the same thing whichever zoo it comes from.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;

/// Why a label file (a zoo's or a benchmark's published results) could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    #[error("{path}: {source}")]
    Csv {
        path: String,
        #[source]
        source: csv::Error,
    },
    #[error("{path}: no column `{column}`")]
    Column { path: String, column: String },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("{path} row {row}: column `{column}` is `{value}`, not a finite number")]
    Value {
        path: String,
        row: usize,
        column: String,
        value: String,
    },
}

/// One published result of a model.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// Task key, e.g. `imagenet-top1`.
    pub task: String,
    /// The result, in percent.
    pub value: f64,
    /// Input resolution the result was measured at, when the source says.
    pub resolution: Option<u32>,
    /// Taken before the others of its task (timm: trained on ImageNet-1k alone).
    pub preferred: bool,
}

/// Published results by model name.
#[derive(Clone, Debug, Default)]
pub struct LabelTable {
    by_name: HashMap<String, Vec<Candidate>>,
}

/// The zoos whose result files are understood.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zoo {
    /// `timm/timm_imagenet_flat.csv`: ImageNet-1k top-1 per architecture and resolution.
    Timm,
    /// `torchvision/torchvision_weights_meta.csv`: ImageNet top-1, COCO box/mask/keypoint AP,
    /// COCO-with-VOC-labels mIoU.
    Torchvision,
    /// `mmseg/mmseg_results.csv`: single-scale mIoU per dataset.
    Mmseg,
    /// `mmdet/mmdet_results.csv`: box AP and mask AP per dataset.
    Mmdet,
    /// `mmpose/mmpose_results.csv`: AP per dataset (a 0–1 fraction there, percent here).
    Mmpose,
}

impl std::str::FromStr for Zoo {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Zoo::ALL
            .iter()
            .copied()
            .find(|z| z.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Zoo::ALL.iter().map(|z| z.name()).collect();
                format!("unknown zoo `{s}` (known: {})", names.join(", "))
            })
    }
}

impl Zoo {
    /// Every zoo.
    pub const ALL: [Zoo; 5] = [
        Zoo::Timm,
        Zoo::Torchvision,
        Zoo::Mmseg,
        Zoo::Mmdet,
        Zoo::Mmpose,
    ];

    /// Lower-case name, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Zoo::Timm => "timm",
            Zoo::Torchvision => "torchvision",
            Zoo::Mmseg => "mmseg",
            Zoo::Mmdet => "mmdet",
            Zoo::Mmpose => "mmpose",
        }
    }

    /// The zoo's result file, relative to the labelled-data folder.
    pub fn file(self) -> &'static str {
        match self {
            Zoo::Timm => "timm/timm_imagenet_flat.csv",
            Zoo::Torchvision => "torchvision/torchvision_weights_meta.csv",
            Zoo::Mmseg => "mmseg/mmseg_results.csv",
            Zoo::Mmdet => "mmdet/mmdet_results.csv",
            Zoo::Mmpose => "mmpose/mmpose_results.csv",
        }
    }

    /// Reads the zoo's result file from the labelled-data folder.
    pub fn read(self, data_dir: &Path) -> Result<LabelTable, LabelError> {
        let path = data_dir.join(self.file());
        // a regular file only: a FIFO or device named as labels gets an error, not a hang
        let file =
            aiop_converter::files::open_capped(&path, aiop_converter::files::Limit::Text.bytes())
                .map_err(|e| LabelError::Csv {
                path: path.display().to_string(),
                source: csv::Error::from(e),
            })?;
        self.parse(file, &path.display().to_string())
    }

    /// Reads the zoo's result file from `input`; `path` names it in errors.
    pub fn parse(self, input: impl Read + 'static, path: &str) -> Result<LabelTable, LabelError> {
        let rows = Rows::new(Box::new(input), path)?;
        Ok(match self {
            Zoo::Timm => timm(rows)?,
            Zoo::Torchvision => torchvision(rows)?,
            Zoo::Mmseg | Zoo::Mmdet | Zoo::Mmpose => openmmlab(rows, self)?,
        })
    }
}

/// `<dataset>-<metric>` in lower case, runs of other characters turned into one `-`.
pub fn task_key(dataset: &str, metric: &str) -> String {
    let mut key = String::new();
    for c in format!("{dataset}-{metric}").chars() {
        if c.is_ascii_alphanumeric() {
            key.push(c.to_ascii_lowercase());
        } else if !key.is_empty() && !key.ends_with('-') {
            key.push('-');
        }
    }
    key.trim_end_matches('-').to_string()
}

impl LabelTable {
    /// Adds a candidate for `name`.
    pub fn push(&mut self, name: &str, candidate: Candidate) {
        self.by_name
            .entry(name.to_string())
            .or_default()
            .push(candidate);
    }

    /// Number of models with at least one candidate.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// The names of the models with a candidate, in no particular order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// Whether no model has a candidate.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// One label per task for `name` measured at `resolution`: among the candidates at that
    /// resolution or with none given, preferred ones first, then the highest value.
    pub fn labels_for(&self, name: &str, resolution: u32) -> BTreeMap<String, f64> {
        let mut best: BTreeMap<String, &Candidate> = BTreeMap::new();
        let fits = |c: &&Candidate| c.resolution.is_none_or(|r| r == resolution);
        for c in self.by_name.get(name).into_iter().flatten().filter(fits) {
            let better = best
                .get(&c.task)
                .is_none_or(|b| (c.preferred, c.value) > (b.preferred, b.value));
            if better {
                best.insert(c.task.clone(), c);
            }
        }
        best.into_iter().map(|(t, c)| (t, c.value)).collect()
    }
}

/// A label file opened for reading: a regular file (a FIFO or device named as labels gets an
/// error, not a hang) within the text cap.
fn open_labels(path: &Path) -> Result<std::fs::File, LabelError> {
    aiop_converter::files::open_capped(path, aiop_converter::files::Limit::Text.bytes()).map_err(
        |e| LabelError::Csv {
            path: path.display().to_string(),
            source: csv::Error::from(e),
        },
    )
}

/// A `name,value` CSV (what `aiop rank --labels` compares predictions with) from `input`; `path`
/// names it in errors. Names and values are trimmed; a value that is not a finite number is an
/// error naming its row.
pub fn read_values(
    input: impl Read + 'static,
    path: &str,
) -> Result<HashMap<String, f64>, LabelError> {
    let mut out = HashMap::new();
    Rows::new(Box::new(input), path)?.try_for_each(["name", "value"], |row, [name, text]| {
        let value = text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| LabelError::Value {
                path: path.into(),
                row,
                column: "value".into(),
                value: text.trim().escape_debug().to_string(),
            })?;
        out.insert(name.trim().to_string(), value);
        Ok(())
    })?;
    Ok(out)
}

/// Labels by key from a wide CSV (one row per architecture, one column per result): for every
/// row, the `key` column's value → `(task, value)` for each other column that `task_of` names and
/// that holds a number. Empty and non-numeric cells carry no label; NaN or infinity is an error
/// naming the file, row and column.
pub fn read_columns(
    path: &Path,
    key: &str,
    task_of: &dyn Fn(&str) -> Option<String>,
) -> Result<HashMap<String, Vec<(String, f64)>>, LabelError> {
    let path_text = path.display().to_string();
    let file = open_labels(path)?;
    let mut rows = Rows::new(Box::new(file), &path_text)?;
    let key_at = rows.column(key)?;
    let tasks: Vec<(usize, String)> = rows
        .headers
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != key_at)
        .filter_map(|(i, h)| task_of(h).map(|t| (i, t)))
        .collect();
    let mut out = HashMap::new();
    for (line, row) in rows.reader.records().enumerate() {
        let row = row.map_err(|source| LabelError::Csv {
            path: path_text.clone(),
            source,
        })?;
        let mut labels = Vec::new();
        for (i, task) in &tasks {
            let Some(Ok(value)) = row.get(*i).map(str::parse::<f64>) else {
                continue;
            };
            if !value.is_finite() {
                return Err(LabelError::Value {
                    path: path_text,
                    row: line + 2,
                    column: rows.headers[*i].escape_debug().to_string(),
                    value: value.to_string(),
                });
            }
            labels.push((task.clone(), value));
        }
        out.insert(row.get(key_at).unwrap_or("").to_string(), labels);
    }
    Ok(out)
}

/// A CSV file with a header, read row by row with columns looked up by name.
struct Rows {
    path: String,
    headers: csv::StringRecord,
    reader: csv::Reader<Box<dyn Read>>,
}

impl Rows {
    fn new(input: Box<dyn Read>, path: &str) -> Result<Rows, LabelError> {
        let mut reader = csv::Reader::from_reader(input);
        let headers = reader
            .headers()
            .map_err(|source| LabelError::Csv {
                path: path.into(),
                source,
            })?
            .clone();
        Ok(Rows {
            path: path.into(),
            headers,
            reader,
        })
    }

    fn column(&self, name: &str) -> Result<usize, LabelError> {
        self.headers
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| LabelError::Column {
                path: self.path.clone(),
                column: name.into(),
            })
    }

    /// Calls `each` with every row, its fields in the order of `columns`.
    fn for_each<const N: usize>(
        self,
        columns: [&str; N],
        mut each: impl FnMut([&str; N]),
    ) -> Result<(), LabelError> {
        self.try_for_each(columns, |_, fields| {
            each(fields);
            Ok(())
        })
    }

    /// Calls `each` with every row's number (counting the header as row 1) and its fields in
    /// the order of `columns`, stopping at the first error.
    fn try_for_each<const N: usize>(
        mut self,
        columns: [&str; N],
        mut each: impl FnMut(usize, [&str; N]) -> Result<(), LabelError>,
    ) -> Result<(), LabelError> {
        let mut at = [0; N];
        for (slot, name) in at.iter_mut().zip(columns) {
            *slot = self.column(name)?;
        }
        for (line, row) in self.reader.records().enumerate() {
            let row = row.map_err(|source| LabelError::Csv {
                path: self.path.clone(),
                source,
            })?;
            each(line + 2, at.map(|i| row.get(i).unwrap_or("")))?;
        }
        Ok(())
    }
}

/// A published number: empty, non-numeric and non-finite cells carry no result.
fn number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

fn timm(rows: Rows) -> Result<LabelTable, LabelError> {
    let mut table = LabelTable::default();
    rows.for_each(
        ["arch", "in1k_only", "img_size", "top1"],
        |[arch, in1k, size, top1]| {
            if let (Some(value), Ok(size)) = (number(top1), size.parse()) {
                let candidate = Candidate {
                    task: "imagenet-top1".into(),
                    value,
                    resolution: Some(size),
                    preferred: in1k == "1",
                };
                table.push(arch, candidate);
            }
        },
    )?;
    Ok(table)
}

/// torchvision's metric names → task keys; others (pixel accuracy, top-5, …) are left out.
fn torchvision_task(dataset: &str, metric: &str) -> Option<String> {
    let metric = match metric {
        "acc@1" => "top1",
        "box_map" => "box-ap",
        "mask_map" => "mask-ap",
        "kp_map" => "kp-ap",
        "miou" => "miou",
        _ => return None,
    };
    let dataset = match dataset {
        "ImageNet-1K" => "imagenet",
        "COCO-val2017" => "coco",
        "COCO-val2017-VOC-labels" => "coco-voc",
        _ => return None,
    };
    Some(task_key(dataset, metric))
}

fn torchvision(rows: Rows) -> Result<LabelTable, LabelError> {
    let mut table = LabelTable::default();
    rows.for_each(
        ["module", "model", "metrics"],
        |[module, model, metrics]| {
            // quantized, video and optical-flow weights are other networks or other tasks
            if !matches!(module, "classification" | "detection" | "segmentation") {
                return;
            }
            let Ok(metrics) =
                serde_json::from_str::<BTreeMap<String, BTreeMap<String, f64>>>(metrics)
            else {
                return;
            };
            for (dataset, values) in &metrics {
                for (metric, value) in values {
                    if let Some(task) = torchvision_task(dataset, metric) {
                        let candidate = Candidate {
                            task,
                            value: *value,
                            resolution: None,
                            preferred: false,
                        };
                        table.push(model, candidate);
                    }
                }
            }
        },
    )?;
    Ok(table)
}

/// The metric names of each OpenMMLab zoo that become labels (single-scale, main metric).
fn openmmlab_metric(zoo: Zoo, metric: &str) -> Option<&'static str> {
    match (zoo, metric) {
        (Zoo::Mmseg, "mIoU") => Some("miou"),
        (Zoo::Mmdet, "box AP") => Some("box-ap"),
        (Zoo::Mmdet, "mask AP") => Some("mask-ap"),
        (Zoo::Mmpose, "AP") => Some("kp-ap"),
        _ => None,
    }
}

fn openmmlab(rows: Rows, zoo: Zoo) -> Result<LabelTable, LabelError> {
    // mmpose reports AP as a fraction; the others in percent
    let scale = if zoo == Zoo::Mmpose { 100.0 } else { 1.0 };
    let mut table = LabelTable::default();
    rows.for_each(
        ["name", "dataset", "metric", "value"],
        |[name, dataset, metric, value]| {
            let (Some(metric), Some(value)) = (openmmlab_metric(zoo, metric), number(value)) else {
                return;
            };
            let candidate = Candidate {
                task: task_key(dataset, metric),
                value: value * scale,
                resolution: None,
                preferred: false,
            };
            table.push(name, candidate);
        },
    )?;
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(task: &str, value: f64, resolution: Option<u32>, preferred: bool) -> Candidate {
        Candidate {
            task: task.into(),
            value,
            resolution,
            preferred,
        }
    }

    #[test]
    fn name_value_csvs_are_trimmed_and_checked() {
        let ok = read_values(
            &b"name , value\n resnet18 , 69.76\nvgg11,69.02\n"[..],
            "l.csv",
        );
        let ok = ok.unwrap();
        assert_eq!((ok["resnet18"], ok["vgg11"]), (69.76, 69.02));
        let nan = read_values(&b"name,value\na,1\nb,NaN\n"[..], "l.csv").unwrap_err();
        assert_eq!(
            nan.to_string(),
            "l.csv row 3: column `value` is `NaN`, not a finite number"
        );
        let missing = read_values(&b"model,value\n"[..], "l.csv").unwrap_err();
        assert_eq!(missing.to_string(), "l.csv: no column `name`");
        // a zoo file read from memory: NaN and empty cells carry no label
        let csv =
            "name,dataset,metric,value\nm,Cityscapes,mIoU,NaN\nm,ADE20K,mIoU,40.5\nn,x,mIoU,\n";
        let table = Zoo::Mmseg.parse(csv.as_bytes(), "mmseg.csv").unwrap();
        assert_eq!(table.len(), 1);
        assert_eq!(table.labels_for("m", 512)["ade20k-miou"], 40.5);
    }

    #[test]
    fn task_keys_are_lower_case_and_dashed() {
        assert_eq!(
            task_key("Pascal VOC 2012 + Aug", "miou"),
            "pascal-voc-2012-aug-miou"
        );
        assert_eq!(task_key("COCO", "box-ap"), "coco-box-ap");
        assert_eq!(task_key("ImageNet-1K", "top1"), "imagenet-1k-top1");
    }

    #[test]
    fn preferred_first_then_best_at_the_resolution() {
        let mut t = LabelTable::default();
        t.push("m", candidate("imagenet-top1", 80.0, Some(224), true));
        t.push("m", candidate("imagenet-top1", 84.0, Some(224), false));
        t.push("m", candidate("imagenet-top1", 86.0, Some(384), true));
        t.push("m", candidate("coco-box-ap", 40.0, None, false));
        let at_224 = t.labels_for("m", 224);
        assert_eq!(at_224["imagenet-top1"], 80.0);
        assert_eq!(at_224["coco-box-ap"], 40.0);
        assert_eq!(t.labels_for("m", 384)["imagenet-top1"], 86.0);
        assert!(!t.labels_for("m", 300).contains_key("imagenet-top1"));
        assert!(t.labels_for("other", 224).is_empty());
    }

    #[test]
    fn zoo_names_round_trip() {
        for z in Zoo::ALL {
            assert_eq!(z.name().parse::<Zoo>(), Ok(z));
        }
        assert!("keras".parse::<Zoo>().is_err());
    }
}
