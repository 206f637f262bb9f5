//! Whether an edited graph still fits together. The converter infers output shapes leniently
//! (a linear layer's output comes from its weight alone), so after an edit the operands of the
//! ops that contract or broadcast are checked against each other as ONNX Runtime would.

use std::collections::HashMap;

use aiop_converter::infer::fact::Fact;
use aiop_converter::onnx::proto::GraphProto;

use super::graph::int_attr;

/// The first node whose operands disagree, with the shapes.
pub fn operands_agree(graph: &GraphProto, facts: &HashMap<String, Fact>) -> Result<(), String> {
    let dims = |t: &String| facts.get(t).and_then(Fact::dims);
    for node in &graph.node {
        let inputs: Vec<Option<Vec<u64>>> = node.input.iter().map(dims).collect();
        let disagree = || {
            Err(format!(
                "{} `{}`: operands {:?} disagree",
                node.op_type, node.name, inputs
            ))
        };
        let operand = |i: usize| inputs.get(i).cloned().flatten();
        match node.op_type.as_str() {
            "Conv" => {
                if let (Some(x), Some(w)) = (operand(0), operand(1)) {
                    let groups = int_attr(node, "group").unwrap_or(1).max(1) as u64;
                    if x.len() < 2 || w.len() < 2 || x[1] != w[1] * groups {
                        return disagree();
                    }
                }
            }
            "Gemm" => {
                if let (Some(a), Some(b)) = (operand(0), operand(1)) {
                    let k_a = if int_attr(node, "transA").unwrap_or(0) == 1 {
                        0
                    } else {
                        1
                    };
                    let k_b = if int_attr(node, "transB").unwrap_or(0) == 1 {
                        1
                    } else {
                        0
                    };
                    if a.len() != 2 || b.len() != 2 || a[k_a] != b[k_b] {
                        return disagree();
                    }
                }
            }
            "MatMul" => {
                if let (Some(a), Some(b)) = (operand(0), operand(1))
                    && a.len() >= 2
                    && b.len() >= 2
                    && a[a.len() - 1] != b[b.len() - 2]
                {
                    return disagree();
                }
            }
            "BatchNormalization" => {
                if let (Some(x), Some(scale)) = (operand(0), operand(1))
                    && (x.len() < 2 || scale.first() != Some(&x[1]))
                {
                    return disagree();
                }
            }
            "Add" | "Sub" | "Mul" | "Div" | "Sum" | "Max" | "Min" | "PRelu" => {
                let known: Vec<Vec<u64>> = inputs.iter().flatten().cloned().collect();
                let rank = known.iter().map(Vec::len).max().unwrap_or(0);
                for axis in 0..rank {
                    let sizes: Vec<u64> = known
                        .iter()
                        .filter_map(|d| (axis + d.len()).checked_sub(rank).map(|a| d[a]))
                        .filter(|&s| s != 1)
                        .collect();
                    if sizes.windows(2).any(|w| w[0] != w[1]) {
                        return disagree();
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}
