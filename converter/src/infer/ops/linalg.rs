//! Matrix products: MatMul (numpy semantics), Gemm, Einsum.

use std::collections::HashMap;

use super::Registry;
use crate::infer::fact::{Dim, Fact};
use crate::infer::fold;
use crate::infer::inputs::{Inputs, RuleError};
use crate::ir::Node;

pub fn register(r: &mut Registry) {
    r.add(&["MatMul", "FusedMatMul"], matmul);
    r.add(&["Gemm"], gemm);
    r.add(&["Einsum"], einsum);
    r.add(&["Det"], det);
}

/// Output shape of `a @ b` with numpy's rules (1-D promotion, broadcast batch dims).
pub fn matmul_shape(a: &[Dim], b: &[Dim]) -> Result<Vec<Dim>, RuleError> {
    if a.is_empty() || b.is_empty() {
        return Err("MatMul of a scalar".into());
    }
    let a2: Vec<Dim> = if a.len() == 1 {
        vec![Some(1), a[0]]
    } else {
        a.to_vec()
    };
    let b2: Vec<Dim> = if b.len() == 1 {
        vec![b[0], Some(1)]
    } else {
        b.to_vec()
    };
    let (ka, kb) = (a2[a2.len() - 1], b2[b2.len() - 2]);
    if let (Some(x), Some(y)) = (ka, kb)
        && x != y
    {
        return Err(format!("inner dimensions {x} and {y} differ"));
    }
    let mut out = fold::broadcast(&a2[..a2.len() - 2], &b2[..b2.len() - 2])?;
    if a.len() > 1 {
        out.push(a2[a2.len() - 2]);
    }
    if b.len() > 1 {
        out.push(b2[b2.len() - 1]);
    }
    Ok(out)
}

fn matmul(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let a = fused_operand(node, 'A', inputs.shape(0)?);
    let b = fused_operand(node, 'B', inputs.shape(1)?);
    let shape = matmul_shape(&a, &b)?;
    Ok(vec![Fact::new(inputs.req(0)?.dtype, shape)])
}

/// Operand `which` (`'A'` or `'B'`) of a matrix product as multiplied. `com.microsoft`
/// `FusedMatMul` first moves an operand's first dimension to second-to-last when
/// `transBatchA`/`transBatchB` is set (`[d0, d1, …, dn-2, dn-1]` → `[d1, …, dn-2, d0, dn-1]`),
/// then swaps the last two when `transA`/`transB` is (checked against ONNX Runtime 1.32).
pub fn fused_operand<T: Clone>(node: &Node, which: char, shape: &[T]) -> Vec<T> {
    let mut s = shape.to_vec();
    let n = s.len();
    if node.op_type != "FusedMatMul" || n < 2 {
        return s;
    }
    let set = |flag: &str| node.int(&format!("{flag}{which}")).unwrap_or(0) != 0;
    if set("transBatch") {
        s[..n - 1].rotate_left(1);
    }
    if set("trans") {
        s.swap(n - 1, n - 2);
    }
    s
}

fn gemm(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let (a, b) = (inputs.shape(0)?, inputs.shape(1)?);
    if a.len() != 2 || b.len() != 2 {
        return Err("Gemm needs 2-D operands".into());
    }
    let (trans_a, trans_b) = (
        node.int("transA").unwrap_or(0) != 0,
        node.int("transB").unwrap_or(0) != 0,
    );
    let (m, ka) = if trans_a { (a[1], a[0]) } else { (a[0], a[1]) };
    let (kb, n) = if trans_b { (b[1], b[0]) } else { (b[0], b[1]) };
    if let (Some(x), Some(y)) = (ka, kb)
        && x != y
    {
        return Err(format!("inner dimensions {x} and {y} differ"));
    }
    Ok(vec![Fact::new(inputs.req(0)?.dtype, vec![m, n])])
}

/// Splits an einsum equation into input terms and the output term (explicit or implicit).
pub fn einsum_terms(equation: &str) -> Result<(Vec<Vec<char>>, Vec<char>), RuleError> {
    let eq: String = equation.chars().filter(|c| !c.is_whitespace()).collect();
    if eq.contains("...") {
        return Err("einsum with ellipsis".into());
    }
    let (lhs, rhs) = match eq.split_once("->") {
        Some((l, r)) => (l, Some(r)),
        None => (eq.as_str(), None),
    };
    let terms: Vec<Vec<char>> = lhs.split(',').map(|t| t.chars().collect()).collect();
    let out = match rhs {
        Some(r) => r.chars().collect(),
        None => {
            let mut counts: HashMap<char, usize> = HashMap::new();
            terms
                .iter()
                .flatten()
                .for_each(|c| *counts.entry(*c).or_default() += 1);
            let mut once: Vec<char> = counts
                .into_iter()
                .filter(|(_, n)| *n == 1)
                .map(|(c, _)| c)
                .collect();
            once.sort_unstable();
            once
        }
    };
    Ok((terms, out))
}

fn einsum(node: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let (terms, out) = einsum_terms(node.string("equation").ok_or("no equation")?)?;
    let mut sizes: HashMap<char, Dim> = HashMap::new();
    for (i, term) in terms.iter().enumerate() {
        let shape = inputs.shape(i)?;
        if shape.len() != term.len() {
            return Err(format!(
                "term {i} has {} letters for rank {}",
                term.len(),
                shape.len()
            ));
        }
        for (c, d) in term.iter().zip(shape) {
            let e = sizes.entry(*c).or_insert(*d);
            if e.is_none() || *e == Some(1) {
                *e = *d;
            }
        }
    }
    let shape = out
        .iter()
        .map(|c| {
            sizes
                .get(c)
                .copied()
                .ok_or(format!("output letter {c} not in inputs"))
        })
        .collect::<Result<_, _>>()?;
    Ok(vec![Fact::new(inputs.req(0)?.dtype, shape)])
}

/// Multiply-accumulates of an einsum: the product of every index's size.
pub fn contraction_macs(equation: &str, shapes: &[Vec<u64>]) -> Option<u64> {
    let (terms, _) = einsum_terms(equation).ok()?;
    let mut sizes: HashMap<char, u64> = HashMap::new();
    for (term, shape) in terms.iter().zip(shapes) {
        for (c, d) in term.iter().zip(shape) {
            let e = sizes.entry(*c).or_insert(*d);
            *e = (*e).max(*d);
        }
    }
    Some(sizes.values().fold(1u64, |a, d| a.saturating_mul(*d)))
}

/// `Det(X [..., M, M])`: `[...]`.
fn det(_: &Node, inputs: &Inputs) -> Result<Vec<Fact>, RuleError> {
    let x = inputs.shape(0)?;
    if x.len() < 2 {
        return Err("Det needs square matrices".into());
    }
    Ok(vec![Fact::new(
        inputs.req(0)?.dtype,
        x[..x.len() - 2].to_vec(),
    )])
}
