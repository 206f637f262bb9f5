//! Adam (Kingma & Ba 2015, PyTorch's defaults and update rule) with its state in plain
//! tensors, so that a checkpoint can save and restore it exactly. `tch`'s optimizer keeps its
//! state inside libtorch with no way to read it back, which would make resumed runs drift
//! from uninterrupted ones.

use tch::{Kind, Tensor};

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPSILON: f64 = 1e-8;

/// Adam over a fixed set of named variables.
pub struct Adam {
    /// The variables it updates, sorted by name.
    vars: Vec<(String, Tensor)>,
    /// First and second moment estimates, one pair per variable.
    first: Vec<Tensor>,
    second: Vec<Tensor>,
    /// Updates done so far.
    steps: i64,
    /// The learning rate of the next update.
    pub lr: f64,
}

impl Adam {
    /// Adam over `vars` (they must require gradients), moments at zero.
    pub fn new(mut vars: Vec<(String, Tensor)>, lr: f64) -> Adam {
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let zeros = |vars: &[(String, Tensor)]| vars.iter().map(|(_, t)| t.zeros_like()).collect();
        Adam {
            first: zeros(&vars),
            second: zeros(&vars),
            vars,
            steps: 0,
            lr,
        }
    }

    /// Clears the gradients, back-propagates `loss` and applies one update.
    pub fn backward_step(&mut self, loss: &Tensor) {
        for (_, t) in &mut self.vars {
            t.zero_grad();
        }
        loss.backward();
        self.steps += 1;
        let bias1 = 1.0 - BETA1.powi(self.steps as i32);
        let bias2 = 1.0 - BETA2.powi(self.steps as i32);
        let step_size = self.lr / bias1;
        let _guard = tch::no_grad_guard();
        for ((_, var), (m, v)) in self
            .vars
            .iter_mut()
            .zip(self.first.iter_mut().zip(self.second.iter_mut()))
        {
            let grad = var.grad();
            if !grad.defined() {
                continue;
            }
            let _ = m.lerp_(&grad, 1.0 - BETA1);
            let _ = v.g_mul_scalar_(BETA2);
            let _ = v.addcmul_(&(&grad * (1.0 - BETA2)), &grad);
            let denom = (v.sqrt() / bias2.sqrt()) + EPSILON;
            let _ = var.g_sub_(&(&*m / denom * step_size));
        }
    }

    /// The state as named tensors (`adam.steps`, `adam.m.<var>`, `adam.v.<var>`).
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = vec![("adam.steps".to_string(), Tensor::from_slice(&[self.steps]))];
        for ((name, _), (m, v)) in self.vars.iter().zip(self.first.iter().zip(&self.second)) {
            out.push((format!("adam.m.{name}"), m.shallow_clone()));
            out.push((format!("adam.v.{name}"), v.shallow_clone()));
        }
        out
    }

    /// Restores a state written by [`Adam::state`] for the same variables; `false` (and no
    /// change) when it does not match them.
    pub fn restore(&mut self, state: &[(String, Tensor)]) -> bool {
        let find = |key: String| state.iter().find(|(n, _)| *n == key).map(|(_, t)| t);
        let Some(steps) = find("adam.steps".into()) else {
            return false;
        };
        let mut first = Vec::with_capacity(self.vars.len());
        let mut second = Vec::with_capacity(self.vars.len());
        for (name, var) in &self.vars {
            let (Some(m), Some(v)) = (
                find(format!("adam.m.{name}")),
                find(format!("adam.v.{name}")),
            ) else {
                return false;
            };
            if m.size() != var.size() || v.size() != var.size() {
                return false;
            }
            let on = |t: &Tensor| t.to_kind(Kind::Float).to_device(var.device());
            first.push(on(m));
            second.push(on(v));
        }
        self.steps = steps.int64_value(&[0]);
        self.first = first;
        self.second = second;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same updates as libtorch's own Adam.
    #[test]
    fn matches_libtorch_adam() {
        let make = || {
            tch::manual_seed(3);
            let vs = tch::nn::VarStore::new(tch::Device::Cpu);
            let lin = tch::nn::linear(vs.root() / "lin", 4, 2, Default::default());
            (vs, lin)
        };
        let x = Tensor::from_slice(&[0.5f32, -1.0, 2.0, 0.1, 1.0, 1.0, -0.3, 0.7]).view([2, 4]);
        let y = Tensor::from_slice(&[1.0f32, -1.0, 0.5, 2.0]).view([2, 2]);
        let loss = |lin: &tch::nn::Linear| {
            (tch::nn::Module::forward(lin, &x) - &y)
                .square()
                .mean(Kind::Float)
        };

        let (vs_ref, lin_ref) = make();
        let mut reference =
            tch::nn::OptimizerConfig::build(tch::nn::Adam::default(), &vs_ref, 0.01).unwrap();
        let (vs, lin) = make();
        let mut ours = Adam::new(vs.variables().into_iter().collect(), 0.01);
        for _ in 0..20 {
            reference.backward_step(&loss(&lin_ref));
            ours.backward_step(&loss(&lin));
        }
        let diff = (&lin.ws - &lin_ref.ws).abs().max().double_value(&[]);
        assert!(diff < 1e-6, "weights differ by {diff}");

        // a restored state continues identically
        let mut again = Adam::new(vs.variables().into_iter().collect(), 0.01);
        assert!(again.restore(&ours.state()));
        assert_eq!(again.steps, 20);
        assert!(!again.restore(&[]));
    }
}
