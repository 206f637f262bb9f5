//! NAS-Bench-201 as a search space: a point is a cell, an edit replaces the operation of one of
//! its six edges; the network is the benchmark's CIFAR-10 skeleton around the cell.

use aiop_datasets::spaces::nb201::{Cell, Op, Skeleton, build};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::space::Space;

/// The five operations an edge can take.
const OPS: [Op; 5] = [Op::None, Op::Skip, Op::Conv1x1, Op::Conv3x3, Op::AvgPool3x3];

/// NAS-Bench-201 cells in a skeleton (the benchmark's CIFAR-10 network by default).
#[derive(Clone, Debug, Default)]
pub struct Nb201 {
    pub skeleton: Skeleton,
}

impl Space for Nb201 {
    type Point = Cell;

    fn key(&self, cell: &Cell) -> String {
        cell.to_string()
    }

    fn mutate(&self, cell: &Cell, rng: &mut ChaCha8Rng) -> Option<(Cell, String)> {
        let edge = rng.random_range(0..6);
        let op = OPS[rng.random_range(0..OPS.len())];
        if op == cell.0[edge] {
            return None;
        }
        let mut next = *cell;
        next.0[edge] = op;
        let edit = format!("edge {edge}: {} → {}", cell.0[edge].name(), op.name());
        Some((next, edit))
    }

    fn random(&self, rng: &mut ChaCha8Rng) -> Cell {
        Cell(std::array::from_fn(|_| OPS[rng.random_range(0..OPS.len())]))
    }

    fn model(&self, cell: &Cell) -> Result<Vec<u8>, String> {
        Ok(build(cell, &self.skeleton).to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn mutations_change_one_edge() {
        let space = Nb201::default();
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let start = space.random(&mut rng);
        let mut seen = 0;
        for _ in 0..200 {
            if let Some((next, edit)) = space.mutate(&start, &mut rng) {
                let changed = (0..6).filter(|&e| next.0[e] != start.0[e]).count();
                assert_eq!(changed, 1, "{edit}");
                assert!(edit.starts_with("edge "));
                seen += 1;
            }
        }
        // an op is redrawn unchanged one time in five
        assert!((120..=190).contains(&seen), "{seen}");
        let cg = space.cg(&start).unwrap();
        assert_eq!(cg.name, space.key(&start));
        assert!(cg.macs() > 0);
    }
}
