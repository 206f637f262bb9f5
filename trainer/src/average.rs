//! Weight averaging over the last epochs of a run (stochastic weight averaging, Izmailov et
//! al. 2018): the mean of the weights at the end of each epoch in the window replaces the
//! final weights. With a few hundred training graphs, where one run's generalisation moves
//! with its seed, the mean of the late weights is a cheaper stand-in for an ensemble: one
//! network, no extra inference cost.
//!
//! The running mean is part of a run's checkpoint (`avg.count`, `avg.<var>`), so a resumed run
//! ends with the same weights as an uninterrupted one.

use tch::{Kind, Tensor};

/// The running mean of a fixed set of named variables.
pub struct WeightAverage {
    /// The variables averaged, sorted by name (shallow clones: they follow the training).
    vars: Vec<(String, Tensor)>,
    /// The mean so far, one per variable; empty before the first [`WeightAverage::add`].
    mean: Vec<Tensor>,
    count: i64,
}

impl WeightAverage {
    /// An empty average over `vars`.
    pub fn new(mut vars: Vec<(String, Tensor)>) -> WeightAverage {
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        WeightAverage {
            vars,
            mean: Vec::new(),
            count: 0,
        }
    }

    /// Adds the variables' current values to the mean.
    pub fn add(&mut self) {
        let _guard = tch::no_grad_guard();
        if self.mean.is_empty() {
            self.mean = self.vars.iter().map(|(_, v)| v.detach().copy()).collect();
        } else {
            let weight = 1.0 / (self.count + 1) as f64;
            for ((_, var), mean) in self.vars.iter().zip(self.mean.iter_mut()) {
                let _ = mean.lerp_(&var.detach(), weight);
            }
        }
        self.count += 1;
    }

    /// How many snapshots the mean holds.
    pub fn count(&self) -> i64 {
        self.count
    }

    /// Writes the mean into the variables (no change when nothing was added).
    pub fn apply(&mut self) {
        let _guard = tch::no_grad_guard();
        for ((_, var), mean) in self.vars.iter_mut().zip(&self.mean) {
            var.copy_(mean);
        }
    }

    /// The state as named tensors, for a checkpoint.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = vec![("avg.count".to_string(), Tensor::from_slice(&[self.count]))];
        for ((name, _), mean) in self.vars.iter().zip(&self.mean) {
            out.push((format!("avg.{name}"), mean.shallow_clone()));
        }
        out
    }

    /// Restores a state written by [`WeightAverage::state`] for the same variables; `false`
    /// (and no change) when it does not match them.
    pub fn restore(&mut self, state: &[(String, Tensor)]) -> bool {
        let find = |key: String| state.iter().find(|(n, _)| *n == key).map(|(_, t)| t);
        let Some(count) = find("avg.count".into()).map(|t| t.int64_value(&[0])) else {
            return false;
        };
        let mut mean = Vec::new();
        if count > 0 {
            for (name, var) in &self.vars {
                match find(format!("avg.{name}")) {
                    Some(m) if m.size() == var.size() => {
                        mean.push(m.to_kind(Kind::Float).to_device(var.device()))
                    }
                    _ => return false,
                }
            }
        }
        self.count = count;
        self.mean = mean;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_of_snapshots_and_restore() {
        let var = Tensor::from_slice(&[1.0f32, 2.0]).set_requires_grad(true);
        let mut average = WeightAverage::new(vec![("w".into(), var.shallow_clone())]);
        average.add();
        {
            let _guard = tch::no_grad_guard();
            let mut moved = var.shallow_clone();
            moved.copy_(&Tensor::from_slice(&[3.0f32, 6.0]));
        }
        average.add();
        let mut again = WeightAverage::new(vec![("w".into(), var.shallow_clone())]);
        assert!(again.restore(&average.state()));
        assert_eq!(again.count(), 2);
        assert!(!again.restore(&[]));
        again.apply();
        assert_eq!(Vec::<f32>::try_from(&var).unwrap(), vec![2.0, 4.0]);
    }
}
