//! Two-objective Pareto arithmetic — maximise a score, minimise a cost (MACs) — for the
//! search's selection and its evaluation: dominance, non-dominated fronts, crowding distance
//! and the hypervolume of a front against a reference point.

/// A point of the objective space: `score` (higher is better) and `cost` (lower is better).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Objectives {
    pub score: f64,
    pub cost: f64,
}

impl Objectives {
    /// Whether `self` is at least as good as `other` in both objectives and better in one.
    pub fn dominates(&self, other: &Objectives) -> bool {
        self.score >= other.score
            && self.cost <= other.cost
            && (self.score > other.score || self.cost < other.cost)
    }
}

/// The indices of `points` in successive non-dominated fronts (the first is the Pareto front),
/// each sorted by cost.
pub fn fronts(points: &[Objectives]) -> Vec<Vec<usize>> {
    // sorted by cost, then best score first: a point can only be dominated by one before it
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| {
        points[a]
            .cost
            .total_cmp(&points[b].cost)
            .then(points[b].score.total_cmp(&points[a].score))
    });
    let mut fronts: Vec<Vec<usize>> = Vec::new();
    for i in order {
        // the first front none of whose members dominates i (fronts stay sorted by cost)
        let slot = fronts
            .iter()
            .position(|f| !f.iter().any(|&j| points[j].dominates(&points[i])));
        match slot {
            Some(k) => fronts[k].push(i),
            None => fronts.push(vec![i]),
        }
    }
    fronts
}

/// The Pareto front of `points`: indices sorted by cost.
pub fn front(points: &[Objectives]) -> Vec<usize> {
    fronts(points).into_iter().next().unwrap_or_default()
}

/// NSGA-II's crowding distance of each member of `front` (indices into `points`): how far its
/// neighbours are in each objective, normalised; the two ends are infinitely far.
pub fn crowding(points: &[Objectives], front: &[usize]) -> Vec<f64> {
    let n = front.len();
    let mut distance = vec![0.0; n];
    if n <= 2 {
        return vec![f64::INFINITY; n];
    }
    let objectives: [fn(&Objectives) -> f64; 2] = [|o| o.score, |o| o.cost];
    for value in objectives {
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| value(&points[front[a]]).total_cmp(&value(&points[front[b]])));
        let (low, high) = (
            value(&points[front[order[0]]]),
            value(&points[front[order[n - 1]]]),
        );
        distance[order[0]] = f64::INFINITY;
        distance[order[n - 1]] = f64::INFINITY;
        if high > low {
            for k in 1..n - 1 {
                let gap = value(&points[front[order[k + 1]]]) - value(&points[front[order[k - 1]]]);
                distance[order[k]] += gap / (high - low);
            }
        }
    }
    distance
}

/// The area dominated by `points` and bounded by `reference` (a score below and a cost above
/// every point that counts): the larger, the better the set. Points not better than the
/// reference in both objectives add nothing.
pub fn hypervolume(points: &[Objectives], reference: Objectives) -> f64 {
    let inside: Vec<Objectives> = points
        .iter()
        .copied()
        .filter(|p| p.score > reference.score && p.cost < reference.cost)
        .collect();
    let mut area = 0.0;
    let mut best_score = reference.score;
    // sweep by cost: each front member adds the strip between its score and the best so far
    for i in front(&inside) {
        let p = inside[i];
        if p.score > best_score {
            area += (p.score - best_score) * (reference.cost - p.cost);
            best_score = p.score;
        }
    }
    area
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(score: f64, cost: f64) -> Objectives {
        Objectives { score, cost }
    }

    #[test]
    fn fronts_of_a_small_set() {
        let points = [
            o(1.0, 1.0),
            o(2.0, 2.0),
            o(1.5, 3.0),
            o(0.5, 0.5),
            o(2.0, 2.5),
        ];
        assert_eq!(fronts(&points), vec![vec![3, 0, 1], vec![4], vec![2]]);
        assert_eq!(front(&points), vec![3, 0, 1]);
        assert!(o(1.0, 1.0).dominates(&o(1.0, 2.0)));
        assert!(!o(1.0, 1.0).dominates(&o(1.0, 1.0)));
        assert!(fronts(&[]).is_empty());
    }

    #[test]
    fn crowding_favours_the_ends_and_the_lonely() {
        let points = [o(1.0, 1.0), o(2.0, 2.0), o(2.1, 2.1), o(3.0, 4.0)];
        let d = crowding(&points, &[0, 1, 2, 3]);
        assert!(d[0].is_infinite() && d[3].is_infinite());
        // member 2 has neighbours 1 and 3 far apart; member 1 has 0 and 2
        assert!(d[2] > d[1]);
    }

    #[test]
    fn hypervolume_of_known_sets() {
        let reference = o(0.0, 10.0);
        assert_eq!(hypervolume(&[o(1.0, 5.0)], reference), 5.0);
        // by cost: (1, 5) adds 1·(10 − 5), then (3, 9) adds (3 − 1)·(10 − 9)
        assert_eq!(
            hypervolume(&[o(1.0, 5.0), o(3.0, 9.0)], reference),
            5.0 + 2.0 * 1.0
        );
        // a dominated point and a point outside the reference add nothing
        assert_eq!(
            hypervolume(&[o(1.0, 5.0), o(0.5, 6.0), o(4.0, 11.0)], reference),
            5.0
        );
        assert_eq!(hypervolume(&[], reference), 0.0);
    }
}
