//! Pictures of a CG: Graphviz DOT text and a self-contained SVG (layered layout, no external
//! tools). Long single-input/single-output chains (`Conv → BatchNorm → Relu`) are collapsed into
//! one box so that big networks stay readable.

use std::collections::HashMap;
use std::fmt::Write;

use crate::cg::summary::human;
use crate::cg::{Cg, CgNode, OpCategory, ShapeStatus};

/// How much of the CG to draw.
#[derive(Clone, Debug)]
pub struct RenderOptions {
    /// Merge linear chains into single boxes.
    pub collapse_chains: bool,
    /// Draw at most this many boxes (the rest is cut, with a note).
    pub max_boxes: usize,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            collapse_chains: true,
            max_boxes: 2000,
        }
    }
}

/// A drawn box: one node or a collapsed chain of nodes.
struct Block {
    nodes: Vec<usize>,
}

struct Layout {
    blocks: Vec<Block>,
    edges: Vec<(usize, usize)>,
    truncated: usize,
}

fn layout(cg: &Cg, opts: &RenderOptions) -> Layout {
    let n = cg.node_count();
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut pred: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (a, b) in cg.edges() {
        succ[a].push(b);
        pred[b].push(a);
    }
    let mut block_of = vec![usize::MAX; n];
    let mut blocks: Vec<Block> = Vec::new();
    for i in 0..n {
        if block_of[i] != usize::MAX {
            continue;
        }
        let mut chain = vec![i];
        // nodes are marked as they join, so a cycle in a hand-made file ends the chain
        block_of[i] = blocks.len();
        if opts.collapse_chains {
            let mut cur = i;
            while succ[cur].len() == 1 {
                let next = succ[cur][0];
                let io = |k: usize| cg.graph[petgraph::graph::NodeIndex::new(k)].op;
                if pred[next].len() != 1
                    || block_of[next] != usize::MAX
                    || matches!(io(next), OpCategory::Output)
                    || matches!(io(cur), OpCategory::Input)
                {
                    break;
                }
                block_of[next] = blocks.len();
                chain.push(next);
                cur = next;
            }
        }
        blocks.push(Block { nodes: chain });
    }
    let truncated = blocks.len().saturating_sub(opts.max_boxes);
    blocks.truncate(opts.max_boxes);
    let mut edges: Vec<(usize, usize)> = cg
        .edges()
        .map(|(a, b)| (block_of[a], block_of[b]))
        .filter(|(a, b)| a != b && *a < blocks.len() && *b < blocks.len())
        .collect();
    edges.sort_unstable();
    edges.dedup();
    Layout {
        blocks,
        edges,
        truncated,
    }
}

fn node_at(cg: &Cg, i: usize) -> &CgNode {
    &cg.graph[petgraph::graph::NodeIndex::new(i)]
}

fn shape_text(s: &[i64]) -> String {
    let dims: Vec<String> = s
        .iter()
        .map(|d| if *d < 0 { "?".into() } else { d.to_string() })
        .collect();
    format!("[{}]", dims.join(","))
}

fn block_label(cg: &Cg, b: &Block) -> (String, String) {
    let ops: Vec<&str> = b.nodes.iter().map(|i| node_at(cg, *i).op.name()).collect();
    let title = if ops.len() > 4 {
        format!("{} … {} ({} ops)", ops[0], ops[ops.len() - 1], ops.len())
    } else {
        ops.join(" → ")
    };
    let last = node_at(cg, *b.nodes.last().unwrap_or(&0));
    let macs = b
        .nodes
        .iter()
        .fold(0u64, |a, i| a.saturating_add(node_at(cg, *i).macs));
    let mut detail = shape_text(&last.output_shape);
    if macs > 0 {
        let _ = write!(detail, "  {} MACs", human(macs));
    }
    (title, detail)
}

fn color(op: OpCategory) -> &'static str {
    use OpCategory::*;
    match op {
        Input | Output => "#d9d9d9",
        Conv | DepthwiseConv | ConvTranspose => "#9ecae1",
        Linear | MatMul => "#a1d99b",
        BatchNorm | LayerNorm | GroupNorm | InstanceNorm | OtherNorm => "#fdd0a2",
        MaxPool | AvgPool | GlobalMaxPool | GlobalAvgPool => "#dadaeb",
        Relu | Clip | LeakyRelu | Elu | Gelu | Sigmoid | HardSigmoid | HardSwish | Tanh
        | OtherActivation | Softmax => "#fcbba1",
        ControlFlow | Other => "#fb6a4a",
        _ => "#f0f0f0",
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Graphviz DOT of the CG.
pub fn to_dot(cg: &Cg, opts: &RenderOptions) -> String {
    let l = layout(cg, opts);
    let mut s = String::new();
    let _ = writeln!(s, "digraph \"{}\" {{", cg.name.replace('"', "'"));
    let _ = writeln!(
        s,
        "  rankdir=TB; node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];"
    );
    for (i, b) in l.blocks.iter().enumerate() {
        let (title, detail) = block_label(cg, b);
        let first = node_at(cg, b.nodes[0]);
        let _ = writeln!(
            s,
            "  n{i} [label=\"{}\\n{}\", fillcolor=\"{}\"{}];",
            title.replace('"', "'"),
            detail,
            color(first.op),
            if b.nodes
                .iter()
                .any(|k| node_at(cg, *k).shape == ShapeStatus::Unknown)
            {
                ", color=red, penwidth=2"
            } else {
                ""
            }
        );
    }
    for (a, b) in &l.edges {
        let _ = writeln!(s, "  n{a} -> n{b};");
    }
    if l.truncated > 0 {
        let _ = writeln!(
            s,
            "  more [label=\"… {} more boxes not drawn\", shape=plaintext];",
            l.truncated
        );
    }
    s.push_str("}\n");
    s
}

/// A standalone SVG picture of the CG (top to bottom, layered by longest path).
pub fn to_svg(cg: &Cg, opts: &RenderOptions) -> String {
    let l = layout(cg, opts);
    let nb = l.blocks.len();
    // Layer = longest path from a source (edges go forward in topological block order).
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); nb];
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); nb];
    for (a, b) in &l.edges {
        preds[*b].push(*a);
        succs[*a].push(*b);
    }
    let mut layer = vec![0usize; nb];
    for order in topo(nb, &succs, &preds) {
        layer[order] = preds[order]
            .iter()
            .map(|p| layer[*p] + 1)
            .max()
            .unwrap_or(0);
    }
    let depth = layer.iter().max().map_or(0, |m| m + 1);
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); depth];
    for (b, lay) in layer.iter().enumerate() {
        rows[*lay].push(b);
    }
    // Order each row by the mean position of its predecessors (one barycentre sweep).
    let mut pos: HashMap<usize, f64> = HashMap::new();
    for row in &mut rows {
        row.sort_by(|a, b| {
            let bary = |x: &usize| {
                let p = &preds[*x];
                if p.is_empty() {
                    *x as f64
                } else {
                    p.iter()
                        .map(|q| pos.get(q).copied().unwrap_or(0.0))
                        .sum::<f64>()
                        / p.len() as f64
                }
            };
            bary(a).total_cmp(&bary(b))
        });
        for (i, b) in row.iter().enumerate() {
            pos.insert(*b, i as f64 - (row.len() as f64 - 1.0) / 2.0);
        }
    }
    let (bw, bh, gx, gy) = (210.0, 40.0, 30.0, 34.0);
    let widest = rows.iter().map(Vec::len).max().unwrap_or(1) as f64;
    let width = widest * (bw + gx) + gx;
    let height = depth as f64 * (bh + gy) + gy + 40.0;
    let center = |b: usize| -> (f64, f64) {
        let x = width / 2.0 + pos[&b] * (bw + gx);
        let y = gy + 30.0 + layer[b] as f64 * (bh + gy) + bh / 2.0;
        (x, y)
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="Helvetica, Arial, sans-serif">"#
    );
    let _ = writeln!(
        s,
        r#"<text x="10" y="20" font-size="14" font-weight="bold">{} — {} nodes, {} MACs, {} params{}</text>"#,
        escape(&cg.name),
        cg.node_count(),
        human(cg.macs()),
        human(cg.params()),
        if l.truncated > 0 {
            format!(" ({} boxes not drawn)", l.truncated)
        } else {
            String::new()
        }
    );
    s.push_str(r##"<defs><marker id="a" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0L10,5L0,10z" fill="#666"/></marker></defs>"##);
    s.push('\n');
    for (a, b) in &l.edges {
        let ((x1, y1), (x2, y2)) = (center(*a), center(*b));
        let (y1, y2) = (y1 + bh / 2.0, y2 - bh / 2.0);
        let my = (y1 + y2) / 2.0;
        // Edges that skip layers bow out to the right instead of hiding behind boxes.
        let bow = if layer[*b] > layer[*a] + 1 {
            bw * 0.75
        } else {
            0.0
        };
        let (c1, c2) = (x1 + bow, x2 + bow);
        let _ = writeln!(
            s,
            r##"<path d="M{x1:.1},{y1:.1} C{c1:.1},{my:.1} {c2:.1},{my:.1} {x2:.1},{y2:.1}" fill="none" stroke="#666" stroke-width="1" marker-end="url(#a)"/>"##
        );
    }
    for (i, b) in l.blocks.iter().enumerate() {
        let (x, y) = center(i);
        let (title, detail) = block_label(cg, b);
        let first = node_at(cg, b.nodes[0]);
        let unknown = b
            .nodes
            .iter()
            .any(|k| node_at(cg, *k).shape == ShapeStatus::Unknown);
        let names: Vec<&str> = b
            .nodes
            .iter()
            .map(|k| node_at(cg, *k).name.as_str())
            .collect();
        let _ = writeln!(
            s,
            r##"<g><title>{}</title><rect x="{:.1}" y="{:.1}" width="{bw}" height="{bh}" rx="6" fill="{}" stroke="{}" stroke-width="{}"/><text x="{x:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text><text x="{x:.1}" y="{:.1}" font-size="9" fill="#444" text-anchor="middle">{}</text></g>"##,
            escape(&names.join("\n")),
            x - bw / 2.0,
            y - bh / 2.0,
            color(first.op),
            if unknown { "#d00" } else { "#555" },
            if unknown { 2 } else { 1 },
            y - 3.0,
            escape(&truncate(&title, 34)),
            y + 11.0,
            escape(&detail)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).chain(std::iter::once('…')).collect()
    }
}

fn topo(n: usize, succs: &[Vec<usize>], preds: &[Vec<usize>]) -> Vec<usize> {
    let mut pending: Vec<usize> = preds.iter().map(Vec::len).collect();
    let mut ready: Vec<usize> = (0..n).filter(|i| pending[*i] == 0).rev().collect();
    let mut out = Vec::with_capacity(n);
    while let Some(i) = ready.pop() {
        out.push(i);
        for s in &succs[i] {
            pending[*s] -= 1;
            if pending[*s] == 0 {
                ready.push(*s);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cg::CgNode;

    #[test]
    fn a_cycle_ends_the_chain() {
        // issue 19: files with cycles are refused when read, but a graph built in memory may
        // still hold one; drawing it must end
        let mut cg = Cg::default();
        let a = cg.add_node(CgNode::new("a", OpCategory::Relu, "Relu"));
        let b = cg.add_node(CgNode::new("b", OpCategory::Relu, "Relu"));
        cg.graph.add_edge(a, b, ());
        cg.graph.add_edge(b, a, ());
        let c = cg.add_node(CgNode::new("c", OpCategory::Relu, "Relu"));
        cg.graph.add_edge(c, c, ());
        assert!(to_svg(&cg, &RenderOptions::default()).contains("<svg"));
        assert!(to_dot(&cg, &RenderOptions::default()).contains("digraph"));
    }
}
