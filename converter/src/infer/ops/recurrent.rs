//! Recurrent layers: `RNN`, `GRU`, `LSTM` (ONNX layouts 0 and 1).

use super::Registry;
use crate::infer::fact::{Dim, Fact};
use crate::infer::inputs::{Inputs, RuleError};
use crate::ir::Node;

pub fn register(r: &mut Registry) {
    r.add(&["RNN", "GRU", "LSTM"], recurrent);
}

/// `X` is `[seq, batch, input]` (layout 0) or `[batch, seq, input]` (layout 1). Outputs: `Y`
/// `[seq, directions, batch, hidden]` (layout 1: `[batch, seq, directions, hidden]`), then the
/// last hidden state `Y_h` (and `LSTM`'s cell state `Y_c`) `[directions, batch, hidden]`
/// (layout 1: `[batch, directions, hidden]`).
fn recurrent(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.shape(0)?;
    if x.len() != 3 {
        return Err(format!("{} input must have rank 3", node.op_type));
    }
    let batch_first = node.int("layout").unwrap_or(0) == 1;
    let (seq, batch) = if batch_first {
        (x[1], x[0])
    } else {
        (x[0], x[1])
    };
    let directions: Dim = Some(match node.string("direction") {
        Some("bidirectional") => 2,
        _ => 1,
    });
    // hidden_size, else the recurrence weight R: [directions, gates × hidden, hidden]
    let hidden: Dim = match node.int("hidden_size") {
        Some(h) => u64::try_from(h).ok(),
        None => inputs
            .get(2)
            .and_then(|r| r.shape.as_ref())
            .and_then(|r| r.get(2).copied().flatten()),
    };
    let dtype = inputs.req(0)?.dtype;
    let y = if batch_first {
        vec![batch, seq, directions, hidden]
    } else {
        vec![seq, directions, batch, hidden]
    };
    let state = if batch_first {
        vec![batch, directions, hidden]
    } else {
        vec![directions, batch, hidden]
    };
    let mut out = vec![Fact::new(dtype, y), Fact::new(dtype, state.clone())];
    if node.op_type == "LSTM" {
        out.push(Fact::new(dtype, state));
    }
    Ok(out)
}
