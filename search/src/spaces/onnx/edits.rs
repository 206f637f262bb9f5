//! The edits of a real network: what each one changes in the ONNX graph, and how a random edit
//! of a given network is drawn. Targets are named by node name, so an edit reads the same in
//! `front.json` and replays on the start file.

use std::collections::{HashMap, HashSet};
use std::fmt;

use aiop_converter::infer::fact::Fact;
use aiop_converter::onnx::proto::{GraphProto, NodeProto};
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use super::channels;
use super::graph::{
    Index, Weight, declared_dims, int_attr, ints_attr, is_constant, remove_dead, set_input_dims,
    set_int, set_ints, string_attr, weight, weight_dims,
};
use super::tensor;

/// One edit of a network.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Edit {
    /// Keep `keep` output channels of a convolution, and with them of everything sharing its
    /// channels (a residual stream: the whole stage).
    Prune { conv: String, keep: usize },
    /// Remove a residual block: the `Add` of an identity shortcut and its branch.
    RemoveBlock { add: String },
    /// Change a "same"-padded convolution's kernel to `size × size` (weights cropped or padded).
    Kernel { conv: String, size: usize },
    /// Replace a dense k×k convolution by a depthwise k×k and a pointwise 1×1 one.
    Separable { conv: String },
    /// Feed the network `size × size` images.
    Resolution { size: usize },
}

impl fmt::Display for Edit {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Edit::Prune { conv, keep } => write!(f, "prune {conv} to {keep} channels"),
            Edit::RemoveBlock { add } => write!(f, "remove the residual block of {add}"),
            Edit::Kernel { conv, size } => write!(f, "kernel of {conv} to {size}×{size}"),
            Edit::Separable { conv } => write!(f, "{conv} as depthwise-separable"),
            Edit::Resolution { size } => write!(f, "input resolution {size}×{size}"),
        }
    }
}

/// The kinds of edit, drawn uniformly by [`propose`].
const KINDS: usize = 5;

impl Edit {
    /// Whether applying the edit needs the shapes of the graph before it.
    pub fn needs_facts(&self) -> bool {
        matches!(self, Edit::Prune { .. } | Edit::RemoveBlock { .. })
    }

    /// Applies the edit to `graph` (`facts`: its tensors' shapes, for [`Edit::needs_facts`]).
    pub fn apply(
        &self,
        graph: &mut GraphProto,
        data: &HashSet<String>,
        facts: &HashMap<String, Fact>,
    ) -> Result<(), String> {
        match self {
            Edit::Prune { conv, keep } => {
                let n = find(graph, conv)?;
                let index = Index::new(graph);
                let group = channels::group(graph, &index, data, facts, n)?;
                channels::prune(graph, &group, *keep)?;
            }
            Edit::RemoveBlock { add } => remove_block(graph, data, facts, find(graph, add)?)?,
            Edit::Kernel { conv, size } => resize_kernel(graph, data, find(graph, conv)?, *size)?,
            Edit::Separable { conv } => separable(graph, data, find(graph, conv)?)?,
            Edit::Resolution { size } => {
                let i = graph
                    .input
                    .iter()
                    .position(|i| data.contains(&i.name))
                    .ok_or("no data input")?;
                let dims = declared_dims(&graph.input[i]).ok_or("an input of open shape")?;
                if dims.len() != 4 || *size < 32 {
                    return Err("resolution: not a 4-D image input".into());
                }
                set_input_dims(graph, i, &[dims[0], dims[1], *size as i64, *size as i64]);
            }
        }
        // annotated intermediate shapes are stale now
        graph.value_info.clear();
        Ok(())
    }
}

fn find(graph: &GraphProto, name: &str) -> Result<usize, String> {
    graph
        .node
        .iter()
        .position(|n| n.name == name)
        .ok_or_else(|| format!("no node `{name}`"))
}

/// A dense or depthwise 2-D convolution with a square, odd, "same"-padded, undilated kernel:
/// (kernel weight, its dims).
fn same_conv(graph: &GraphProto, data: &HashSet<String>, n: usize) -> Option<(Weight, Vec<i64>)> {
    let node = &graph.node[n];
    if node.op_type != "Conv" || !node.domain.is_empty() && node.domain != "ai.onnx" {
        return None;
    }
    let w = weight(graph, data, node.input.get(1)?)?;
    let dims = weight_dims(graph, w)?;
    let k = *dims.get(2)?;
    let padding = string_attr(node, "auto_pad").unwrap_or(b"NOTSET");
    let p = (k - 1) / 2;
    let ok = dims.len() == 4
        && dims[3] == k
        && k % 2 == 1
        && padding == b"NOTSET"
        && ints_attr(node, "dilations").is_none_or(|d| d.iter().all(|&d| d == 1))
        && ints_attr(node, "pads").unwrap_or(&[0, 0, 0, 0]) == [p, p, p, p];
    ok.then_some((w, dims))
}

fn resize_kernel(
    graph: &mut GraphProto,
    data: &HashSet<String>,
    n: usize,
    size: usize,
) -> Result<(), String> {
    let name = graph.node[n].name.clone();
    let (w, dims) =
        same_conv(graph, data, n).ok_or_else(|| format!("`{name}`: not a same-padded kernel"))?;
    if size.is_multiple_of(2) || size as i64 == dims[2] {
        return Err(format!("`{name}`: kernel size {size}"));
    }
    tensor::resize_kernel(graph, w, size)?;
    let p = (size as i64 - 1) / 2;
    let node = &mut graph.node[n];
    set_ints(node, "kernel_shape", vec![size as i64; 2]);
    set_ints(node, "pads", vec![p; 4]);
    Ok(())
}

/// A fresh tensor name based on `base`.
fn fresh(graph: &GraphProto, base: &str) -> String {
    let taken: HashSet<&str> = graph
        .node
        .iter()
        .flat_map(|n| n.output.iter().map(String::as_str))
        .chain(graph.initializer.iter().map(|t| t.name.as_str()))
        .chain(graph.input.iter().map(|t| t.name.as_str()))
        .collect();
    let mut name = base.to_string();
    while taken.contains(name.as_str()) {
        name.push('_');
    }
    name
}

fn separable(graph: &mut GraphProto, data: &HashSet<String>, n: usize) -> Result<(), String> {
    let name = graph.node[n].name.clone();
    let refuse = || format!("`{name}`: not a dense k×k convolution");
    let (w, dims) = same_conv(graph, data, n).ok_or_else(refuse)?;
    let (out_c, in_c, k) = (dims[0], dims[1], dims[2]);
    if int_attr(&graph.node[n], "group").unwrap_or(1) != 1 || k < 3 || in_c < 2 {
        return Err(refuse());
    }
    let kernel_name = graph.node[n].input[1].clone();
    let dw_name = fresh(graph, &format!("{kernel_name}.depthwise"));
    let pw_name = fresh(graph, &format!("{kernel_name}.pointwise"));
    let (dw_dims, pw_dims) = ([in_c, 1, k, k], [out_c, in_c, 1, 1]);
    match w {
        // a weight-stripped file declares the new weights as inputs, like the old one
        Weight::Input(i) => {
            for (name, dims) in [(&dw_name, &dw_dims), (&pw_name, &pw_dims)] {
                let mut decl = graph.input[i].clone();
                decl.name = name.clone();
                graph.input.push(decl);
                set_input_dims(graph, graph.input.len() - 1, dims);
            }
        }
        // with weights: the depthwise kernel averages, the pointwise one sums the old kernel
        // over space (exact on constant images)
        Weight::Initializer(_) => {
            let values =
                tensor::floats(graph, w).ok_or_else(|| format!("`{name}`: kernel not float32"))?;
            let area = (k * k) as usize;
            let pw: Vec<f32> = values.chunks_exact(area).map(|c| c.iter().sum()).collect();
            let dw = vec![1.0 / area as f32; in_c as usize * area];
            graph
                .initializer
                .push(tensor::float_tensor(&dw_name, &dw_dims, &dw));
            graph
                .initializer
                .push(tensor::float_tensor(&pw_name, &pw_dims, &pw));
        }
    }
    let node = &graph.node[n];
    let mid = fresh(graph, &format!("{}.depthwise", node.output[0]));
    let mut depthwise = NodeProto {
        name: format!("{name}.depthwise"),
        op_type: "Conv".into(),
        input: vec![node.input[0].clone(), dw_name],
        output: vec![mid.clone()],
        attribute: node
            .attribute
            .iter()
            .filter(|a| ["strides", "pads", "kernel_shape"].contains(&a.name.as_str()))
            .cloned()
            .collect(),
        ..Default::default()
    };
    set_ints(&mut depthwise, "kernel_shape", vec![k, k]);
    set_int(&mut depthwise, "group", in_c);
    let node = &mut graph.node[n];
    node.input[0] = mid;
    node.input[1] = pw_name;
    node.attribute
        .retain(|a| !["strides", "pads", "dilations", "auto_pad"].contains(&a.name.as_str()));
    set_ints(node, "kernel_shape", vec![1, 1]);
    graph.node.insert(n, depthwise);
    remove_dead(graph, data);
    Ok(())
}

/// Removes the residual block ending at the `Add` node `n`: one input (the shortcut) must be an
/// ancestor of the other (the branch) on every path, with the output's shape.
fn remove_block(
    graph: &mut GraphProto,
    data: &HashSet<String>,
    facts: &HashMap<String, Fact>,
    n: usize,
) -> Result<(), String> {
    let node = &graph.node[n];
    let refuse = || format!("`{}`: not a residual block", node.name);
    if node.op_type != "Add" || node.input.len() != 2 {
        return Err(refuse());
    }
    let index = Index::new(graph);
    let dims = |t: &str| facts.get(t).and_then(Fact::dims);
    let out = dims(&node.output[0]).ok_or_else(refuse)?;
    let (a, b) = (&node.input[0], &node.input[1]);
    let shortcut = [(a, b), (b, a)].into_iter().find(|(skip, branch)| {
        skip != branch
            && dims(skip).as_ref() == Some(&out)
            && dominated(graph, &index, data, branch, skip)
    });
    let Some((skip, _)) = shortcut else {
        return Err(refuse());
    };
    let skip = skip.clone();
    let node = &mut graph.node[n];
    node.op_type = "Identity".into();
    node.input = vec![skip];
    node.attribute.clear();
    remove_dead(graph, data);
    Ok(())
}

/// Whether every path from the graph's inputs to `tensor` passes through `through`.
fn dominated(
    graph: &GraphProto,
    index: &Index,
    data: &HashSet<String>,
    tensor: &str,
    through: &str,
) -> bool {
    let mut stack = vec![tensor];
    let mut seen = HashSet::new();
    while let Some(t) = stack.pop() {
        if t == through || !seen.insert(t) || is_constant(graph, index, data, t) {
            continue;
        }
        match index.producer(t) {
            Some(p) => stack.extend(
                graph.node[p]
                    .input
                    .iter()
                    .filter(|i| !i.is_empty())
                    .map(String::as_str),
            ),
            None => return false,
        }
    }
    true
}

/// Draws one edit of `graph` at random (`None` when the drawn kind has no target).
pub fn propose(graph: &GraphProto, data: &HashSet<String>, rng: &mut ChaCha8Rng) -> Option<Edit> {
    let convs: Vec<(usize, Vec<i64>)> = (0..graph.node.len())
        .filter_map(|n| same_conv(graph, data, n).map(|(_, d)| (n, d)))
        .collect();
    let dense: Vec<&(usize, Vec<i64>)> = convs
        .iter()
        .filter(|(n, _)| int_attr(&graph.node[*n], "group").unwrap_or(1) == 1)
        .collect();
    let name = |n: usize| graph.node[n].name.clone();
    match rng.random_range(0..KINDS) {
        0 => {
            let &&(n, ref dims) = dense.choose(rng)?;
            let channels = dims[0] as usize;
            let ratio = [0.5, 0.75][rng.random_range(0..2)];
            let step = if channels >= 32 { 8 } else { 1 };
            let keep = ((channels as f64 * ratio / step as f64).round() as usize * step).max(1);
            (keep < channels).then(|| Edit::Prune {
                conv: name(n),
                keep,
            })
        }
        1 => {
            let adds: Vec<usize> = (0..graph.node.len())
                .filter(|&n| graph.node[n].op_type == "Add")
                .collect();
            Some(Edit::RemoveBlock {
                add: name(*adds.choose(rng)?),
            })
        }
        2 => {
            let (n, dims) = convs.choose(rng)?;
            let k = dims[2] as usize;
            let size = if k == 1 || (k < 7 && rng.random_bool(0.5)) {
                k + 2
            } else {
                k - 2
            };
            Some(Edit::Kernel {
                conv: name(*n),
                size,
            })
        }
        3 => {
            let wide: Vec<&&(usize, Vec<i64>)> = dense
                .iter()
                .filter(|(_, d)| d[2] >= 3 && d[1] >= 8)
                .collect();
            Some(Edit::Separable {
                conv: name(wide.choose(rng)?.0),
            })
        }
        _ => {
            let input = graph.input.iter().find(|i| data.contains(&i.name))?;
            let dims = declared_dims(input)?;
            let size = *dims.get(2)?;
            let next = if size <= 64 || (size < 512 && rng.random_bool(0.5)) {
                size + 32
            } else {
                size - 32
            };
            Some(Edit::Resolution {
                size: next as usize,
            })
        }
    }
}
