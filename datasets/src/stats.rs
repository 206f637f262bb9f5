//! Dataset statistics: counts and label ranges per task, node-count histogram, and the naive
//! baselines every predictor is compared with (Spearman rank correlation of FLOPs and of params
//! with each task's labels).

use std::collections::BTreeMap;

use serde::Serialize;

use super::Record;
pub use crate::rank::{ranks, srcc};

/// Per-task summary.
#[derive(Clone, Debug, Serialize)]
pub struct TaskStats {
    pub count: usize,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    /// SRCC between MACs and the labels.
    pub flops_srcc: f64,
    /// SRCC between params and the labels.
    pub params_srcc: f64,
}

/// Summary of a dataset.
#[derive(Clone, Debug, Serialize)]
pub struct Stats {
    pub records: usize,
    pub families: BTreeMap<String, usize>,
    pub tasks: BTreeMap<String, TaskStats>,
    /// `(lower bound of the bucket, count)`: CG node counts in powers-of-two buckets.
    pub node_histogram: Vec<(usize, usize)>,
}

/// One task's labels with the MACs and params of the same records.
#[derive(Default)]
struct Columns {
    labels: Vec<f64>,
    macs: Vec<f64>,
    params: Vec<f64>,
}

/// Computes the statistics of `records`; node counts come from each record's CG.
pub fn compute<'a>(records: impl IntoIterator<Item = &'a Record>) -> Stats {
    let mut acc = Accumulator::default();
    for r in records {
        acc.add(r);
    }
    acc.finish()
}

/// The statistics of records seen one at a time (a dataset streamed from its file keeps only
/// a label, MACs and params per record and task in memory).
#[derive(Default)]
pub struct Accumulator {
    count: usize,
    families: BTreeMap<String, usize>,
    per_task: BTreeMap<String, Columns>,
    buckets: BTreeMap<usize, usize>,
}

impl Accumulator {
    /// Counts `r`.
    pub fn add(&mut self, r: &Record) {
        self.count += 1;
        match self.families.get_mut(&r.family) {
            Some(n) => *n += 1,
            None => {
                self.families.insert(r.family.clone(), 1);
            }
        }
        let nodes = r.node_count();
        *self
            .buckets
            .entry(if nodes == 0 { 0 } else { 1 << nodes.ilog2() })
            .or_insert(0) += 1;
        for (task, label) in &r.labels {
            let e = match self.per_task.get_mut(task) {
                Some(e) => e,
                None => self.per_task.entry(task.clone()).or_default(),
            };
            e.labels.push(*label);
            e.macs.push(r.macs as f64);
            e.params.push(r.params as f64);
        }
    }

    /// The statistics of the records added.
    pub fn finish(self) -> Stats {
        let tasks = self
            .per_task
            .into_iter()
            .map(|(task, c)| {
                let n = c.labels.len();
                let stats = TaskStats {
                    count: n,
                    min: c.labels.iter().copied().fold(f64::INFINITY, f64::min),
                    max: c.labels.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    mean: c.labels.iter().sum::<f64>() / n as f64,
                    flops_srcc: srcc(&c.macs, &c.labels),
                    params_srcc: srcc(&c.params, &c.labels),
                };
                (task, stats)
            })
            .collect();
        Stats {
            records: self.count,
            families: self.families,
            tasks,
            node_histogram: self.buckets.into_iter().collect(),
        }
    }
}

impl Stats {
    /// A table for people.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "{} records; families: {:?}", self.records, self.families);
        let _ = writeln!(
            s,
            "\n  {:<42} {:>6} {:>9} {:>9} {:>9} {:>10} {:>11}",
            "task", "n", "min", "max", "mean", "FLOPs-SRCC", "params-SRCC"
        );
        for (task, t) in &self.tasks {
            let _ = writeln!(
                s,
                "  {task:<42} {:>6} {:>9.3} {:>9.3} {:>9.3} {:>10.3} {:>11.3}",
                t.count, t.min, t.max, t.mean, t.flops_srcc, t.params_srcc
            );
        }
        let _ = writeln!(s, "\n  CG nodes      count");
        let widest = self
            .node_histogram
            .iter()
            .map(|(_, c)| *c)
            .max()
            .unwrap_or(1)
            .max(1);
        for (lower, c) in &self.node_histogram {
            let bar = "█".repeat((c * 40).div_ceil(widest));
            // buckets [lower, 2·lower − 1]; an empty graph is the bucket [0, 0]
            let upper = (lower * 2).saturating_sub(1).max(*lower);
            let _ = writeln!(s, "  {:>5}–{:<6} {c:>6}  {bar}", lower, upper);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_with_ties() {
        assert_eq!(ranks(&[10.0, 20.0, 20.0, 5.0]), vec![2.0, 3.5, 3.5, 1.0]);
        assert!((srcc(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]) - 1.0).abs() < 1e-12);
        assert!((srcc(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
    }

    #[test]
    fn an_empty_graph_gets_its_own_bucket() {
        // issue 19: `dataset build models` writes a record with no nodes for an empty model
        let empty = Record::new(&aiop_converter::Cg::default(), "toy", "empty.onnx", 224);
        let stats = compute([&empty]);
        assert_eq!(stats.node_histogram, vec![(0, 1)]);
        assert!(stats.to_text().contains("0–0"));
    }
}
