//! NAS-Bench-201 (NATS-Bench topology space) networks.
//!
//! The skeleton of the benchmark's `TinyNetwork`: a 3×3 stem with 16 channels and batch norm;
//! three stages of 5 cells with 16, 32 and 64 channels; a residual reduction block between
//! stages (ReLU-Conv-BN 3×3 stride 2, ReLU-Conv-BN 3×3, shortcut AvgPool 2×2 + Conv 1×1); then
//! BN, ReLU, global average pooling and a linear classifier. A cell has 4 nodes and 6 edges;
//! node *i* is the sum of its incoming edges' operations: `none` (multiplication by zero, as in
//! the benchmark's `Zero`), `skip_connect`, `nor_conv_1x1`, `nor_conv_3x3` (ReLU-Conv-BN) or
//! `avg_pool_3x3` (padding not counted).
//!
//! Weights are graph inputs (a weight-stripped model): only the structure matters here.

use std::fmt;
use std::str::FromStr;

use aiop_converter::onnx::writer::{ModelBuilder, attr_int, attr_ints};
use aiop_converter::value::DType;

/// An edge operation of the NB-201 space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    None,
    Skip,
    Conv1x1,
    Conv3x3,
    AvgPool3x3,
}

impl Op {
    /// The name used in architecture strings.
    pub fn name(self) -> &'static str {
        match self {
            Op::None => "none",
            Op::Skip => "skip_connect",
            Op::Conv1x1 => "nor_conv_1x1",
            Op::Conv3x3 => "nor_conv_3x3",
            Op::AvgPool3x3 => "avg_pool_3x3",
        }
    }

    /// All operations, in the order NASLib indexes them in its `(a, b, c, d, e, f)` encoding.
    pub const NASLIB_ORDER: [Op; 5] =
        [Op::Skip, Op::None, Op::Conv3x3, Op::Conv1x1, Op::AvgPool3x3];

    fn parse(s: &str) -> Option<Op> {
        [Op::None, Op::Skip, Op::Conv1x1, Op::Conv3x3, Op::AvgPool3x3]
            .into_iter()
            .find(|o| o.name() == s)
    }
}

/// A cell: the operation of each edge, in architecture-string order
/// `node1←0, node2←0, node2←1, node3←0, node3←1, node3←2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell(pub [Op; 6]);

/// Source node of each edge, in [`Cell`] order.
const EDGE_SOURCES: [usize; 6] = [0, 0, 1, 0, 1, 2];
/// Target node of each edge, in [`Cell`] order.
const EDGE_TARGETS: [usize; 6] = [1, 2, 2, 3, 3, 3];

/// Why an architecture string could not be read.
#[derive(Debug, thiserror::Error)]
#[error(
    "not a NAS-Bench-201 architecture `{0}`: expected |op~0|+|op~0|op~1|+|op~0|op~1|op~2| with ops none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3"
)]
pub struct ParseError(String);

impl FromStr for Cell {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Cell, ParseError> {
        let err = || ParseError(s.to_string());
        let nodes: Vec<&str> = s.trim().split('+').collect();
        if nodes.len() != 3 {
            return Err(err());
        }
        let mut ops = Vec::with_capacity(6);
        for (target, node) in nodes.iter().enumerate() {
            let edges: Vec<&str> = node.trim_matches('|').split('|').collect();
            if edges.len() != target + 1 {
                return Err(err());
            }
            for (source, edge) in edges.iter().enumerate() {
                let (op, from) = edge.split_once('~').ok_or_else(err)?;
                if from.parse::<usize>().ok() != Some(source) {
                    return Err(err());
                }
                ops.push(Op::parse(op).ok_or_else(err)?);
            }
        }
        Ok(Cell(ops.try_into().map_err(|_| err())?))
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = |i: usize| format!("{}~{}", self.0[i].name(), EDGE_SOURCES[i]);
        write!(
            f,
            "|{}|+|{}|{}|+|{}|{}|{}|",
            e(0),
            e(1),
            e(2),
            e(3),
            e(4),
            e(5)
        )
    }
}

impl Cell {
    /// The cell of NASLib's `(a, b, c, d, e, f)` encoding (edges 1→2, 1→3, 1→4, 2→3, 2→4, 3→4
    /// of its 1-based node numbering; op indices in [`Op::NASLIB_ORDER`]).
    pub fn from_naslib(indices: [usize; 6]) -> Option<Cell> {
        let op = |k: usize| Op::NASLIB_ORDER.get(indices[k]).copied();
        Some(Cell([op(0)?, op(1)?, op(3)?, op(2)?, op(4)?, op(5)?]))
    }

    /// `count` different cells (at most all 15,625): the first of every cell in an order
    /// shuffled by a ChaCha8 generator seeded with `seed`, the same on every platform (so a
    /// larger `count` extends a smaller one).
    pub fn sample(count: usize, seed: u64) -> Vec<Cell> {
        use rand::SeedableRng;
        use rand::seq::SliceRandom;
        let mut all: Vec<Cell> = Cell::all().collect();
        all.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
        all.truncate(count);
        all
    }

    /// Every one of the 5^6 = 15,625 cells, in a fixed order.
    pub fn all() -> impl Iterator<Item = Cell> {
        const OPS: [Op; 5] = [Op::None, Op::Skip, Op::Conv1x1, Op::Conv3x3, Op::AvgPool3x3];
        (0..15_625usize).map(|mut n| {
            let mut ops = [Op::None; 6];
            for op in ops.iter_mut() {
                *op = OPS[n % 5];
                n /= 5;
            }
            Cell(ops)
        })
    }
}

/// Network hyper-parameters (the benchmark's defaults: 16 channels, 5 cells per stage).
#[derive(Clone, Debug)]
pub struct Skeleton {
    pub channels: i64,
    pub cells_per_stage: usize,
    pub classes: i64,
    pub resolution: i64,
}

impl Default for Skeleton {
    fn default() -> Self {
        Skeleton {
            channels: 16,
            cells_per_stage: 5,
            classes: 10,
            resolution: 32,
        }
    }
}

/// Emits the network of `cell` as a weight-stripped ONNX model.
pub fn build(cell: &Cell, skeleton: &Skeleton) -> ModelBuilder {
    let mut b = Builder {
        m: ModelBuilder::new(17),
        next: 0,
    };
    let c = skeleton.channels;
    b.m.input(
        "input",
        DType::F32,
        &[1, 3, skeleton.resolution, skeleton.resolution],
    );
    b.m.weight("zero", &[]);
    let stem = b.conv("input", 3, c, 3, 1, 1);
    let mut x = b.batch_norm(&stem, c);
    let mut channels = c;
    for stage in 0..3 {
        let width = c << stage;
        if stage > 0 {
            x = b.reduction(&x, channels, width);
            channels = width;
        }
        for _ in 0..skeleton.cells_per_stage {
            x = b.cell(&x, cell, channels);
        }
    }
    let x = b.batch_norm(&x, channels);
    let x = b.op("Relu", &[&x], vec![]);
    let x = b.op("GlobalAveragePool", &[&x], vec![]);
    let x = b.op("Flatten", &[&x], vec![attr_int("axis", 1)]);
    let w = b.weight(&[skeleton.classes, channels]);
    let bias = b.weight(&[skeleton.classes]);
    b.m.node(
        "Gemm",
        &[&x, &w, &bias],
        &["logits"],
        vec![attr_int("transB", 1)],
    )
    .output_shaped("logits", DType::F32, &[1, skeleton.classes]);
    b.m
}

struct Builder {
    m: ModelBuilder,
    next: usize,
}

impl Builder {
    fn name(&mut self, kind: &str) -> String {
        self.next += 1;
        format!("{kind}_{}", self.next)
    }

    fn weight(&mut self, dims: &[i64]) -> String {
        let name = self.name("w");
        self.m.weight_input(&name, dims);
        name
    }

    fn op(
        &mut self,
        op: &str,
        inputs: &[&str],
        attrs: Vec<aiop_converter::onnx::proto::AttributeProto>,
    ) -> String {
        let out = self.name(&op.to_lowercase());
        self.m.node(op, inputs, &[&out], attrs);
        out
    }

    fn conv(&mut self, x: &str, c_in: i64, c_out: i64, k: i64, stride: i64, pad: i64) -> String {
        let w = self.weight(&[c_out, c_in, k, k]);
        self.op(
            "Conv",
            &[x, &w],
            vec![
                attr_ints("kernel_shape", &[k, k]),
                attr_ints("strides", &[stride, stride]),
                attr_ints("pads", &[pad, pad, pad, pad]),
            ],
        )
    }

    fn batch_norm(&mut self, x: &str, c: i64) -> String {
        let [scale, bias, mean, var] = [(); 4].map(|_| self.weight(&[c]));
        self.op(
            "BatchNormalization",
            &[x, &scale, &bias, &mean, &var],
            vec![],
        )
    }

    fn relu_conv_bn(&mut self, x: &str, c_in: i64, c_out: i64, k: i64, stride: i64) -> String {
        let r = self.op("Relu", &[x], vec![]);
        let y = self.conv(&r, c_in, c_out, k, stride, k / 2);
        self.batch_norm(&y, c_out)
    }

    fn avg_pool(&mut self, x: &str, k: i64, stride: i64, pad: i64) -> String {
        self.op(
            "AveragePool",
            &[x],
            vec![
                attr_ints("kernel_shape", &[k, k]),
                attr_ints("strides", &[stride, stride]),
                attr_ints("pads", &[pad, pad, pad, pad]),
                attr_int("count_include_pad", 0),
            ],
        )
    }

    /// The residual block between stages (`ResNetBasicblock`, stride 2).
    fn reduction(&mut self, x: &str, c_in: i64, c_out: i64) -> String {
        let a = self.relu_conv_bn(x, c_in, c_out, 3, 2);
        let b = self.relu_conv_bn(&a, c_out, c_out, 3, 1);
        let pooled = self.avg_pool(x, 2, 2, 0);
        let shortcut = self.conv(&pooled, c_in, c_out, 1, 1, 0);
        self.op("Add", &[&shortcut, &b], vec![])
    }

    fn edge(&mut self, op: Op, x: &str, c: i64) -> String {
        match op {
            Op::None => self.op("Mul", &[x, "zero"], vec![]),
            Op::Skip => x.to_string(),
            Op::Conv1x1 => self.relu_conv_bn(x, c, c, 1, 1),
            Op::Conv3x3 => self.relu_conv_bn(x, c, c, 3, 1),
            Op::AvgPool3x3 => self.avg_pool(x, 3, 1, 1),
        }
    }

    fn cell(&mut self, x: &str, cell: &Cell, c: i64) -> String {
        let mut nodes = vec![x.to_string()];
        for target in 1..4 {
            let mut sum: Option<String> = None;
            for e in (0..6).filter(|e| EDGE_TARGETS[*e] == target) {
                let source = nodes[EDGE_SOURCES[e]].clone();
                let term = self.edge(cell.0[e], &source, c);
                sum = Some(match sum {
                    None => term,
                    Some(acc) => self.op("Add", &[&acc, &term], vec![]),
                });
            }
            nodes.push(sum.expect("every node has an incoming edge"));
        }
        nodes.pop().expect("four nodes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_distinct_seeded_and_capped() {
        let a = Cell::sample(500, 7);
        assert_eq!(a.len(), 500);
        let distinct: std::collections::HashSet<String> = a.iter().map(Cell::to_string).collect();
        assert_eq!(distinct.len(), 500);
        assert_eq!(a, Cell::sample(500, 7));
        assert_eq!(Cell::sample(20, 7), a[..20]);
        assert_ne!(a, Cell::sample(500, 8));
        assert_eq!(Cell::sample(20_000, 0).len(), 15_625);
    }

    #[test]
    fn parses_prints_and_enumerates() {
        let s = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|";
        let cell: Cell = s.parse().unwrap();
        assert_eq!(cell.to_string(), s);
        assert!("|nor_conv_3x3~0|+|none~1|".parse::<Cell>().is_err());
        assert!(
            "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|"
                .parse::<Cell>()
                .is_err()
        );
        let all: Vec<Cell> = Cell::all().collect();
        assert_eq!(all.len(), 15_625);
        let mut unique: Vec<String> = all.iter().map(Cell::to_string).collect();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 15_625);
        // NASLib (4,3,3,3,2,3): edges 1→2 avg_pool, 1→3 1x1, 1→4 1x1, 2→3 1x1, 2→4 3x3, 3→4 1x1.
        let naslib = Cell::from_naslib([4, 3, 3, 3, 2, 3]).unwrap();
        assert_eq!(
            naslib.to_string(),
            "|avg_pool_3x3~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|nor_conv_1x1~0|nor_conv_3x3~1|nor_conv_1x1~2|"
        );
    }
}
