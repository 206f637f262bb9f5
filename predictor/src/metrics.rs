//! How runtimes are compared: the largest difference between two score tables (parity of
//! tract, ONNX Runtime and libtorch). How predictions are judged against labels (Spearman's ρ,
//! Kendall's τ-b, MAE) is `aiop_datasets::rank`.

/// Largest absolute difference between two score tables (runtime parity checks): infinite when
/// their shapes differ, NaN as soon as a difference is NaN.
pub fn max_abs_difference(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    if a.len() != b.len() || a.iter().zip(b).any(|(x, y)| x.len() != y.len()) {
        return f32::INFINITY;
    }
    let mut max = 0f32;
    for d in a
        .iter()
        .zip(b)
        .flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs()))
    {
        if d.is_nan() {
            return f32::NAN;
        }
        max = max.max(d);
    }
    max
}
