//! Signal processing: `DFT`, `STFT`, the window functions and `MelWeightMatrix` (opset 17 on).
//! Complex values are a trailing dimension of 2 (real, imaginary).

use super::{Registry, axis};
use crate::infer::fact::{Dim, Fact};
use crate::infer::inputs::{Inputs, RuleError};
use crate::ir::Node;
use crate::value::DType;

pub fn register(r: &mut Registry) {
    r.add(&["DFT"], dft);
    r.add(&["STFT"], stft);
    r.add(&["HannWindow", "HammingWindow", "BlackmanWindow"], window);
    r.add(&["MelWeightMatrix"], mel_weight_matrix);
}

/// A scalar integer constant at input `i`, non-negative.
fn scalar(inputs: &Inputs, i: usize) -> Result<u64, RuleError> {
    let v = inputs.ints(i)?;
    v.first()
        .and_then(|x| u64::try_from(*x).ok())
        .ok_or_else(|| format!("input {i} is not a non-negative scalar"))
}

/// The bins a transform of length `n` keeps: all, or `n / 2 + 1` when `onesided`.
fn bins(node: &Node, n: u64) -> u64 {
    if node.int("onesided").unwrap_or(0) != 0 {
        n / 2 + 1
    } else {
        n
    }
}

/// `DFT(input, dft_length, axis)`: the transformed axis gets `dft_length` (or keeps its length)
/// bins, the last dimension becomes 2. The axis is an attribute before opset 20 (default 1), an
/// input from 20 (default −2); both defaults name the signal axis of a `[batch, n, 1|2]` input.
fn dft(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.shape(0)?;
    let rank = x.len();
    if rank < 2 {
        return Err("DFT input needs a signal and a component axis".into());
    }
    let raw_axis = match node.int("axis") {
        Some(a) => a,
        None if inputs.get(2).is_some() => inputs.ints(2)?.first().copied().unwrap_or(-2),
        None => -2,
    };
    let a = axis(raw_axis, rank)?;
    if a == rank - 1 {
        return Err("DFT over the component axis".into());
    }
    let length: Dim = match inputs.get(1) {
        Some(_) => Some(scalar(inputs, 1)?),
        None => x[a],
    };
    let inverse = node.int("inverse").unwrap_or(0) != 0;
    let mut out = x.to_vec();
    out[a] = length.map(|n| if inverse { n } else { bins(node, n) });
    out[rank - 1] = Some(2);
    Ok(vec![Fact::new(inputs.req(0)?.dtype, out)])
}

/// `STFT(signal [batch, length, 1|2], frame_step, window, frame_length)` →
/// `[batch, frames, bins, 2]`.
fn stft(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.shape(0)?;
    if x.len() != 3 {
        return Err("STFT signal must be [batch, length, 1|2]".into());
    }
    let step = scalar(inputs, 1)?;
    let frame: Dim = match (inputs.get(3), inputs.get(2)) {
        (Some(_), _) => Some(scalar(inputs, 3)?),
        (None, Some(w)) => w.dims().and_then(|d| d.first().copied()),
        (None, None) => return Err("STFT needs a window or a frame length".into()),
    };
    if step == 0 {
        return Err("STFT frame step 0".into());
    }
    let frames = match (x[1], frame) {
        (Some(len), Some(f)) if len >= f => Some((len - f) / step + 1),
        (Some(_), Some(_)) => return Err("STFT frame longer than the signal".into()),
        _ => None,
    };
    let out = vec![x[0], frames, frame.map(|f| bins(node, f)), Some(2)];
    Ok(vec![Fact::new(inputs.req(0)?.dtype, out)])
}

/// `HannWindow(size)` and its kin: `[size]`.
fn window(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let size = scalar(inputs, 0)?;
    let dtype = node
        .int("output_datatype")
        .map_or(DType::F32, |t| DType::from_onnx(t as i32));
    Ok(vec![Fact::fixed(dtype, &[size])])
}

/// `MelWeightMatrix(num_mel_bins, dft_length, …)`: `[dft_length / 2 + 1, num_mel_bins]`.
fn mel_weight_matrix(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let (mels, dft) = (scalar(inputs, 0)?, scalar(inputs, 1)?);
    let dtype = node
        .int("output_datatype")
        .map_or(DType::F32, |t| DType::from_onnx(t as i32));
    Ok(vec![Fact::fixed(dtype, &[dft / 2 + 1, mels])])
}
