//! Convolutions and pooling: sliding windows over the spatial dimensions of NCHW tensors.

use super::Registry;
use crate::infer::fact::{Dim, Fact};
use crate::infer::inputs::{Inputs, RuleError};
use crate::ir::Node;
use crate::value::DType;

pub fn register(r: &mut Registry) {
    r.add(&["Conv", "DeformConv"], conv);
    r.add(&["ConvTranspose"], conv_transpose);
    r.add(&["MaxPool", "AveragePool", "LpPool"], pool);
    r.add(&["MaxUnpool"], max_unpool);
    r.add(&["Col2Im"], col2im);
    r.add(&["AffineGrid"], affine_grid);
    r.add(&["Attention"], attention);
    r.add(
        &["GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"],
        global_pool,
    );
}

/// Window parameters of a sliding-window operator, one entry per spatial axis.
pub struct Window {
    pub kernel: Vec<u64>,
    pub strides: Vec<u64>,
    pub dilations: Vec<u64>,
    /// Begin and end padding.
    pub pads: Vec<(u64, u64)>,
    pub auto_pad: String,
    pub ceil_mode: bool,
}

impl Window {
    /// Reads `strides`, `dilations`, `pads`, `auto_pad`, `ceil_mode` for the given kernel.
    pub fn from_node(node: &Node, kernel: Vec<u64>) -> Result<Window, RuleError> {
        let n = kernel.len();
        let list = |name: &str, default: u64| -> Result<Vec<u64>, RuleError> {
            match node.ints(name) {
                Some(v) if v.len() == n => v
                    .iter()
                    .map(|x| u64::try_from(*x).map_err(|_| format!("negative {name}")))
                    .collect(),
                Some(v) if !v.is_empty() => {
                    Err(format!("{name} has {} values for {n} axes", v.len()))
                }
                _ => Ok(vec![default; n]),
            }
        };
        let strides = list("strides", 1)?;
        let dilations = list("dilations", 1)?;
        let pads = match node.ints("pads") {
            Some(p) if p.len() == 2 * n => (0..n)
                .map(|i| Ok((nonneg(p[i])?, nonneg(p[i + n])?)))
                .collect::<Result<_, RuleError>>()?,
            Some(p) if !p.is_empty() => {
                return Err(format!("pads has {} values for {n} axes", p.len()));
            }
            _ => vec![(0, 0); n],
        };
        if strides.contains(&0) || dilations.contains(&0) {
            return Err("zero stride or dilation".into());
        }
        Ok(Window {
            kernel,
            strides,
            dilations,
            pads,
            auto_pad: node.string("auto_pad").unwrap_or("NOTSET").to_string(),
            ceil_mode: node.int("ceil_mode").unwrap_or(0) != 0,
        })
    }

    /// Output length of spatial axis `i` for an input of length `len`.
    pub fn output_len(&self, i: usize, len: u64) -> Result<u64, RuleError> {
        let s = self.strides[i];
        match self.auto_pad.as_str() {
            "SAME_UPPER" | "SAME_LOWER" => return Ok(len.div_ceil(s)),
            "VALID" => {
                let span = self.dilations[i]
                    .saturating_mul(self.kernel[i].saturating_sub(1))
                    .saturating_add(1);
                return Ok(len.saturating_sub(span) / s + 1);
            }
            _ => {}
        }
        let (pb, pe) = self.pads[i];
        let padded = len.saturating_add(pb).saturating_add(pe);
        let span = self.dilations[i]
            .saturating_mul(self.kernel[i].saturating_sub(1))
            .saturating_add(1);
        if padded < span {
            return Err(format!("window {span} larger than padded input {padded}"));
        }
        let mut out = if self.ceil_mode {
            (padded - span).div_ceil(s).saturating_add(1)
        } else {
            (padded - span) / s + 1
        };
        // The last window must start inside the input or left padding (PyTorch's rule).
        if self.ceil_mode && (out - 1).saturating_mul(s) >= len.saturating_add(pb) {
            out -= 1;
        }
        Ok(out)
    }
}

fn nonneg(v: i64) -> Result<u64, RuleError> {
    u64::try_from(v).map_err(|_| format!("negative padding {v}"))
}

fn spatial(window: &Window, x: &[Dim]) -> Result<Vec<Dim>, RuleError> {
    x[2..]
        .iter()
        .enumerate()
        .map(|(i, d)| d.map(|len| window.output_len(i, len)).transpose())
        .collect()
}

/// The kernel size: the `kernel_shape` attribute, else the weight's spatial dimensions.
fn kernel_of(node: &Node, weight: &[Dim]) -> Result<Vec<u64>, RuleError> {
    match node.ints("kernel_shape") {
        Some(k) if !k.is_empty() => k.iter().map(|v| nonneg(*v)).collect(),
        _ => weight[2..]
            .iter()
            .map(|d| d.ok_or_else(|| "kernel size unknown".to_string()))
            .collect(),
    }
}

fn conv(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.shape(0)?;
    let w = inputs.shape(1)?;
    if x.len() < 3 || w.len() != x.len() {
        return Err(format!(
            "input rank {} and weight rank {} do not fit",
            x.len(),
            w.len()
        ));
    }
    // TF's Conv2D (lowered without `group`) groups by the channel ratio; ONNX says `group`
    let group = node.int("group");
    if group.is_some_and(|g| g < 1) {
        return Err(format!("group {}", group.unwrap_or_default()));
    }
    let fits = |c: u64, wc: u64| match group {
        Some(g) => Some(c) == wc.checked_mul(g as u64),
        None => wc > 0 && c.is_multiple_of(wc),
    };
    if let (Some(c), Some(wc)) = (x[1], w[1])
        && !fits(c, wc)
    {
        let group = group.unwrap_or(1);
        return Err(format!(
            "{c} input channels for weights of {wc} channels in {group} group(s)"
        ));
    }
    let kernel = kernel_of(node, w)?;
    let window = Window::from_node(node, kernel)?;
    let mut out = vec![x[0], w[0]];
    out.extend(spatial(&window, x)?);
    Ok(vec![Fact::new(inputs.req(0)?.dtype, out)])
}

fn conv_transpose(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.shape(0)?;
    let w = inputs.shape(1)?;
    if x.len() < 3 || w.len() != x.len() {
        return Err("input and weight ranks do not fit".into());
    }
    let n = x.len() - 2;
    let group = node.int("group").unwrap_or(1).max(1) as u64;
    let kernel = kernel_of(node, w)?;
    let window = Window::from_node(node, kernel)?;
    let out_pad = node.ints("output_padding").unwrap_or_default();
    let mut out = vec![x[0], w[1].map(|c| c.saturating_mul(group))];
    if let Some(shape) = node.ints("output_shape").filter(|s| !s.is_empty()) {
        let tail = &shape[shape.len().saturating_sub(n)..];
        out.extend(tail.iter().map(|v| u64::try_from(*v).ok()));
    } else {
        for i in 0..n {
            out.push(x[i + 2].map(|len| {
                let (pb, pe) = window.pads[i];
                let full = window.strides[i]
                    .saturating_mul(len.saturating_sub(1))
                    .saturating_add(out_pad.get(i).copied().unwrap_or(0).max(0) as u64)
                    .saturating_add(
                        window.kernel[i]
                            .saturating_sub(1)
                            .saturating_mul(window.dilations[i]),
                    )
                    .saturating_add(1);
                match window.auto_pad.as_str() {
                    "SAME_UPPER" | "SAME_LOWER" => len.saturating_mul(window.strides[i]),
                    _ => full.saturating_sub(pb.saturating_add(pe)),
                }
            }));
        }
    }
    Ok(vec![Fact::new(inputs.req(0)?.dtype, out)])
}

/// The `kernel_shape` of a pooling-like op on `x` (`[N, C, spatial…]`), one entry per spatial
/// axis.
fn pool_kernel(node: &Node, x: &[Dim]) -> Result<Vec<u64>, RuleError> {
    if x.len() < 3 {
        return Err(format!("pooling needs rank ≥ 3, got {}", x.len()));
    }
    let kernel = node
        .ints("kernel_shape")
        .ok_or("no kernel_shape")?
        .iter()
        .map(|v| nonneg(*v))
        .collect::<Result<Vec<_>, _>>()?;
    if kernel.len() != x.len() - 2 {
        return Err("kernel_shape does not match the input rank".into());
    }
    Ok(kernel)
}

fn pool(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.shape(0)?;
    let window = Window::from_node(node, pool_kernel(node, x)?)?;
    let mut out = vec![x[0], x[1]];
    out.extend(spatial(&window, x)?);
    let y = Fact::new(inputs.req(0)?.dtype, out.clone());
    Ok(vec![y, Fact::new(DType::I64, out)])
}

fn global_pool(_: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.shape(0)?;
    if x.len() < 2 {
        return Err("global pooling needs rank ≥ 2".into());
    }
    let mut out = x[..2].to_vec();
    out.extend(std::iter::repeat_n(Some(1), x.len() - 2));
    Ok(vec![Fact::new(inputs.req(0)?.dtype, out)])
}

/// Non-negative integers of constant input `i`.
fn lengths(inputs: &Inputs, i: usize) -> Result<Vec<u64>, RuleError> {
    super::sizes(&inputs.ints(i)?, "length")
}

/// `MaxUnpool(X, I, output_shape)`: `output_shape` when given, else per spatial axis
/// `(in − 1) · stride − pads + kernel`.
fn max_unpool(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let dtype = inputs.req(0)?.dtype;
    if inputs.get(2).is_some() {
        return Ok(vec![Fact::fixed(dtype, &lengths(inputs, 2)?)]);
    }
    let x = inputs.shape(0)?;
    let window = Window::from_node(node, pool_kernel(node, x)?)?;
    let mut out = vec![x[0], x[1]];
    for (i, d) in x[2..].iter().enumerate() {
        out.push(d.and_then(|len| {
            let (begin, end) = window.pads[i];
            (len.checked_sub(1)? * window.strides[i] + window.kernel[i]).checked_sub(begin + end)
        }));
    }
    Ok(vec![Fact::new(dtype, out)])
}

/// `Col2Im(input [N, C·∏block, L], image_shape, block_shape)`: `[N, C, image_shape…]`.
fn col2im(_: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.shape(0)?;
    let (image, block) = (lengths(inputs, 1)?, lengths(inputs, 2)?);
    let cells: u64 = block.iter().product();
    if x.len() != 3 || cells == 0 {
        return Err("Col2Im input must be [N, C·∏block, L]".into());
    }
    let mut out = vec![x[0], x[1].map(|c| c / cells)];
    out.extend(image.into_iter().map(Some));
    Ok(vec![Fact::new(inputs.req(0)?.dtype, out)])
}

/// `AffineGrid(theta, size [N, C, H, W] or [N, C, D, H, W])`: `[N, H, W, 2]` or
/// `[N, D, H, W, 3]`.
fn affine_grid(_: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let size = lengths(inputs, 1)?;
    if !(4..=5).contains(&size.len()) {
        return Err("AffineGrid size must have 4 or 5 entries".into());
    }
    let mut out = vec![size[0]];
    out.extend(&size[2..]);
    out.push(size.len() as u64 - 2);
    Ok(vec![Fact::fixed(inputs.req(0)?.dtype, &out)])
}

/// `Attention(Q, K, V, …)` (opset 23): Q `[B, heads, S, head]` and V `[B, kv_heads, S_kv, v_head]`
/// give `[B, heads, S, v_head]`; 3-D Q `[B, S, hidden]` and V `[B, S_kv, v_hidden]` give
/// `[B, S, q_num_heads · v_hidden / kv_num_heads]`.
fn attention(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let (q, v) = (inputs.shape(0)?, inputs.shape(2)?);
    let out = match (q.len(), v.len()) {
        (4, 4) => vec![q[0], q[1], q[2], v[3]],
        (3, 3) => {
            let heads = |name: &str| node.int(name).and_then(|h| u64::try_from(h).ok());
            let hidden = match (heads("q_num_heads"), heads("kv_num_heads"), v[2]) {
                (Some(qh), Some(kvh), Some(vh)) if kvh > 0 => Some(qh * (vh / kvh)),
                _ => None,
            };
            vec![q[0], q[1], hidden]
        }
        _ => return Err("Attention needs 3-D or 4-D Q and V".into()),
    };
    Ok(vec![Fact::new(inputs.req(0)?.dtype, out)])
}
