//! A readable summary of a CG: totals, op histogram and a per-stage table.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Cg, CgNode, OpCategory};

/// Totals and histograms of a CG (the `aiop inspect --json` record).
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub name: String,
    pub source: String,
    pub nodes: usize,
    pub edges: usize,
    pub macs: u64,
    pub flops: u64,
    pub params: u64,
    /// Nodes whose output shape is not fully known.
    pub unknown_shapes: usize,
    /// Nodes whose shape is a data-dependent worst case.
    pub bounded_shapes: usize,
    /// CG category → node count.
    pub ops: BTreeMap<String, usize>,
    /// Original op type → node count.
    pub op_types: BTreeMap<String, usize>,
    /// Numeric precision (`int8`, `fp16`, …) → node count, for nodes that are not 32-bit float;
    /// empty for a float network.
    pub precisions: BTreeMap<String, usize>,
    pub inputs: Vec<Port>,
    pub outputs: Vec<Port>,
    pub stages: Vec<Stage>,
    pub warnings: Vec<String>,
}

/// A network input or output.
#[derive(Clone, Debug, Serialize)]
pub struct Port {
    pub name: String,
    pub shape: Vec<i64>,
}

/// Nodes grouped by the resolution of their output (feature-map size or token count).
#[derive(Clone, Debug, Serialize)]
pub struct Stage {
    /// `56x56` for feature maps, `197 tokens`, or `vector`.
    pub resolution: String,
    pub nodes: usize,
    /// Largest channel count seen in the stage.
    pub channels: i64,
    pub macs: u64,
    pub params: u64,
}

fn resolution(node: &CgNode) -> String {
    let s = &node.output_shape;
    match s.len() {
        0..=2 => "vector".into(),
        3 => format!("{} tokens", s[1]),
        _ => {
            let (h, w, _) = CgNode::hwc(s);
            format!("{h}x{w}")
        }
    }
}

/// Summarises a CG.
pub fn summarize(cg: &Cg) -> Summary {
    let mut ops = BTreeMap::new();
    let mut op_types = BTreeMap::new();
    let mut precisions = BTreeMap::new();
    let mut stages: Vec<Stage> = Vec::new();
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    for n in cg.nodes() {
        *ops.entry(n.op.name().to_string()).or_insert(0) += 1;
        if let Some(p) = n.precision {
            *precisions.entry(p.name().to_string()).or_insert(0) += 1;
        }
        match n.op {
            OpCategory::Input => inputs.push(Port {
                name: n.name.clone(),
                shape: n.output_shape.clone(),
            }),
            OpCategory::Output => outputs.push(Port {
                name: n.name.clone(),
                shape: n.output_shape.clone(),
            }),
            _ => {
                *op_types.entry(n.op_type.clone()).or_insert(0) += 1;
                let res = resolution(n);
                let idx = match stages.iter().position(|s| s.resolution == res) {
                    Some(i) => i,
                    None => {
                        stages.push(Stage {
                            resolution: res,
                            nodes: 0,
                            channels: 0,
                            macs: 0,
                            params: 0,
                        });
                        stages.len() - 1
                    }
                };
                let st = &mut stages[idx];
                st.nodes += 1;
                st.channels = st.channels.max(CgNode::hwc(&n.output_shape).2);
                st.macs = st.macs.saturating_add(n.macs);
                st.params = st.params.saturating_add(n.params);
            }
        }
    }
    Summary {
        name: cg.name.clone(),
        source: cg.source.clone(),
        nodes: cg.node_count(),
        edges: cg.edge_count(),
        macs: cg.macs(),
        flops: cg.flops(),
        params: cg.params(),
        unknown_shapes: cg.unknown_shapes(),
        bounded_shapes: cg.bounded_shapes(),
        ops,
        op_types,
        precisions,
        inputs,
        outputs,
        stages,
        warnings: cg.warnings.clone(),
    }
}

/// `1234567` → `1.23M` (people-facing numbers).
pub fn human(n: u64) -> String {
    let f = n as f64;
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{:.2}K", f / 1e3),
        1_000_000..1_000_000_000 => format!("{:.2}M", f / 1e6),
        1_000_000_000..1_000_000_000_000 => format!("{:.2}G", f / 1e9),
        _ => format!("{:.2}T", f / 1e12),
    }
}

impl Summary {
    /// The summary as a table for a terminal.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(s, "{} — {}", self.name, self.source);
        for p in &self.inputs {
            let _ = writeln!(s, "  input  {} {:?}", p.name, p.shape);
        }
        for p in &self.outputs {
            let _ = writeln!(s, "  output {} {:?}", p.name, p.shape);
        }
        let _ = writeln!(
            s,
            "nodes {}  edges {}  MACs {}  FLOPs {}  params {}  unknown shapes {}{}",
            self.nodes,
            self.edges,
            human(self.macs),
            human(self.flops),
            human(self.params),
            self.unknown_shapes,
            if self.bounded_shapes > 0 {
                format!("  data-dependent (bounded) {}", self.bounded_shapes)
            } else {
                String::new()
            }
        );
        let _ = writeln!(s, "\nops:");
        let mut ops: Vec<_> = self.ops.iter().collect();
        ops.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let width = ops.first().map_or(1, |(_, n)| **n).max(1);
        for (op, n) in ops {
            let bar = "█".repeat((n * 30).div_ceil(width));
            let _ = writeln!(s, "  {op:<18} {n:>6}  {bar}");
        }
        if !self.precisions.is_empty() {
            let counts: Vec<String> = self
                .precisions
                .iter()
                .map(|(p, n)| format!("{p} {n}"))
                .collect();
            let float = self.nodes - self.precisions.values().sum::<usize>();
            let _ = writeln!(s, "\nprecision: {}, float {float}", counts.join(", "));
        }
        let _ = writeln!(
            s,
            "\n  {:<14} {:>6} {:>9} {:>10} {:>10}",
            "stage", "nodes", "channels", "MACs", "params"
        );
        for st in &self.stages {
            let _ = writeln!(
                s,
                "  {:<14} {:>6} {:>9} {:>10} {:>10}",
                st.resolution,
                st.nodes,
                st.channels,
                human(st.macs),
                human(st.params)
            );
        }
        if !self.warnings.is_empty() {
            let _ = writeln!(s, "\nwarnings:");
            for w in &self.warnings {
                let _ = writeln!(s, "  {}", crate::error::one_line(w));
            }
        }
        s
    }
}
