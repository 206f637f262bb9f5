//! Heatmap targets for keypoints and their inverse.
//!
//! A heatmap of stride `s` has one cell per `s × s` input pixels; cell `(row k, column l)` is
//! centred on input pixel `((l + 0.5)·s − 0.5, (k + 0.5)·s − 0.5)` (pixel centres at integer
//! coordinates, as in [`super::synthetic`]). A target is an unnormalised Gaussian of standard
//! deviation `sigma` cells centred on the keypoint's exact sub-cell position, so its peak is
//! at most 1; keypoints with a non-finite coordinate get an all-zero map. Decoding takes each
//! map's argmax and moves it a quarter cell toward the higher neighbour on each axis, as
//! SimpleBaselines and HRNet do.

use tch::{Kind, Tensor};

use crate::HeadsError;

/// Largest number of heatmap values [`heatmaps`] builds (2³⁰ f32, 4 GiB).
pub const MAX_VALUES: usize = 1 << 30;

/// The heatmap cell coordinate of input pixel coordinate `pixel` at `stride`.
pub fn pixel_to_cell(pixel: f64, stride: f64) -> f64 {
    (pixel + 0.5) / stride - 0.5
}

/// The input pixel coordinate of heatmap cell coordinate `cell` at `stride`.
pub fn cell_to_pixel(cell: f64, stride: f64) -> f64 {
    (cell + 0.5) * stride - 0.5
}

/// The number of values of `maps` heatmaps of `out_size`, if at most [`MAX_VALUES`].
fn heatmap_values(maps: usize, (h, w): (usize, usize)) -> Result<usize, HeadsError> {
    h.checked_mul(w)
        .filter(|&cells| cells <= MAX_VALUES)
        .and_then(|cells| cells.checked_mul(maps))
        .filter(|&v| v <= MAX_VALUES)
        .ok_or_else(|| HeadsError::Invalid(format!("{maps} heatmaps of {h}×{w} are too many")))
}

fn check_geometry(out_size: (usize, usize), stride: f64, sigma: f64) -> Result<(), HeadsError> {
    if out_size.0 == 0 || out_size.1 == 0 {
        return Err(HeadsError::Invalid(format!(
            "empty heatmap size {out_size:?}"
        )));
    }
    if !(stride.is_finite() && stride > 0.0 && sigma.is_finite() && sigma > 0.0) {
        return Err(HeadsError::Invalid(format!(
            "heatmap stride {stride} and sigma {sigma} must be finite and positive"
        )));
    }
    Ok(())
}

/// Gaussian targets `[n, joints, h, w]` for keypoints `[n, joints, 2]` (`(x, y)` in input
/// pixels), with `out_size = (h, w)`, `stride` input pixels per cell and `sigma` in cells.
pub fn heatmaps(
    keypoints: &[f32],
    joints: usize,
    out_size: (usize, usize),
    stride: f32,
    sigma: f32,
) -> Result<Vec<f32>, HeadsError> {
    check_geometry(out_size, f64::from(stride), f64::from(sigma))?;
    if joints == 0 || !keypoints.len().is_multiple_of(joints * 2) {
        return Err(HeadsError::Invalid(format!(
            "{} keypoint coordinates are not a whole number of {joints}-joint instances",
            keypoints.len()
        )));
    }
    let (h, w) = out_size;
    let maps = keypoints.len() / 2;
    let values = heatmap_values(maps, out_size)?;
    let mut out = vec![0.0f32; values];
    let scale = -1.0 / (2.0 * sigma * sigma);
    let mut row = vec![0.0f32; w];
    for (map, point) in out.chunks_exact_mut(h * w).zip(keypoints.chunks_exact(2)) {
        if !(point[0].is_finite() && point[1].is_finite()) {
            continue;
        }
        let mx = pixel_to_cell(f64::from(point[0]), f64::from(stride)) as f32;
        let my = pixel_to_cell(f64::from(point[1]), f64::from(stride)) as f32;
        for (l, r) in row.iter_mut().enumerate() {
            *r = ((l as f32 - mx).powi(2) * scale).exp();
        }
        for (k, line) in map.chunks_exact_mut(w).enumerate() {
            let gy = ((k as f32 - my).powi(2) * scale).exp();
            for (v, gx) in line.iter_mut().zip(&row) {
                *v = gy * gx;
            }
        }
    }
    Ok(out)
}

/// [`heatmaps`] computed with tensor operations on the device of `keypoints` (`[n, J, 2]`,
/// any floating kind): `[n, J, h, w]` f32.
pub fn heatmaps_tensor(
    keypoints: &Tensor,
    out_size: (usize, usize),
    stride: f64,
    sigma: f64,
) -> Result<Tensor, HeadsError> {
    check_geometry(out_size, stride, sigma)?;
    let size = keypoints.size();
    if size.len() != 3 || size[2] != 2 {
        return Err(HeadsError::Invalid(format!(
            "keypoints must be [n, J, 2], not {size:?}"
        )));
    }
    let (n, j) = (size[0], size[1]);
    heatmap_values((n * j) as usize, out_size)?;
    let (h, w) = (out_size.0 as i64, out_size.1 as i64);
    let device = keypoints.device();
    let points = keypoints.f_to_kind(Kind::Float)?;
    let finite = points
        .f_isfinite()?
        .f_all_dim(-1, false)?
        .f_view([n, j, 1, 1])?;
    let cells = ((points.f_nan_to_num(0.0, 0.0, 0.0)? + 0.5) / stride - 0.5).f_view([n, j, 2])?;
    let mx = cells.f_select(2, 0)?.f_view([n, j, 1, 1])?;
    let my = cells.f_select(2, 1)?.f_view([n, j, 1, 1])?;
    let xs = Tensor::f_arange(w, (Kind::Float, device))?.f_view([1, 1, 1, w])?;
    let ys = Tensor::f_arange(h, (Kind::Float, device))?.f_view([1, 1, h, 1])?;
    let scale = -1.0 / (2.0 * sigma * sigma);
    let gx = ((xs - mx).f_square()? * scale).f_exp()?;
    let gy = ((ys - my).f_square()? * scale).f_exp()?;
    let maps = gy * gx;
    Ok(maps.f_where_self(&finite, &Tensor::f_zeros([1], (Kind::Float, device))?)?)
}

/// Keypoints `[n, J, 2]` (f32, `(x, y)` in input pixels, same device) decoded from heatmaps
/// `[n, J, h, w]` of `stride`: each map's argmax, moved a quarter cell toward the higher of
/// its two neighbours on each axis (where both exist), then mapped to input pixels.
pub fn argmax_keypoints(heatmaps: &Tensor, stride: f64) -> Result<Tensor, HeadsError> {
    if !(stride.is_finite() && stride > 0.0) {
        return Err(HeadsError::Invalid(format!(
            "heatmap stride {stride} must be finite and positive"
        )));
    }
    let size = heatmaps.size();
    if size.len() != 4 || size[2] == 0 || size[3] == 0 {
        return Err(HeadsError::Invalid(format!(
            "heatmaps must be [n, J, h, w], not {size:?}"
        )));
    }
    let (n, j, h, w) = (size[0], size[1], size[2], size[3]);
    let flat = heatmaps.f_to_kind(Kind::Float)?.f_reshape([n, j, h * w])?;
    let index = flat.f_argmax(-1, false)?;
    let xi = index.f_remainder(w)?;
    let yi = index.f_div_scalar_mode(w, "floor")?;
    let value_at = |offset: i64| -> Result<Tensor, HeadsError> {
        let at = (&index + offset).f_clamp(0, h * w - 1)?.f_unsqueeze(-1)?;
        Ok(flat.f_gather(-1, &at, false)?.f_squeeze_dim(-1)?)
    };
    let shift =
        |low: Tensor, high: Tensor, coord: &Tensor, len: i64| -> Result<Tensor, HeadsError> {
            let inner = coord.f_ge(1)?.f_logical_and(&coord.f_le(len - 2)?)?;
            Ok((high - low)
                .f_sign()?
                .f_mul(&inner.f_to_kind(Kind::Float)?)?
                * 0.25)
        };
    let dx = shift(value_at(-1)?, value_at(1)?, &xi, w)?;
    let dy = shift(value_at(-w)?, value_at(w)?, &yi, h)?;
    let x = (xi.f_to_kind(Kind::Float)? + dx + 0.5) * stride - 0.5;
    let y = (yi.f_to_kind(Kind::Float)? + dy + 0.5) * stride - 0.5;
    Ok(Tensor::f_stack(&[x, y], -1)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{JOINTS, SyntheticSet};

    fn to_vec(t: &Tensor) -> Vec<f32> {
        Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()
    }

    #[test]
    fn heads_heatmap_peaks_at_the_keypoint() {
        // stride 1: the peak cell is the pixel itself, with value 1
        let maps = heatmaps(&[3.0, 5.0], 1, (8, 10), 1.0, 1.5).unwrap();
        let (i, max) = maps
            .iter()
            .enumerate()
            .fold((0, f32::MIN), |b, (i, &v)| if v > b.1 { (i, v) } else { b });
        assert_eq!((i % 10, i / 10), (3, 5));
        assert!((max - 1.0).abs() < 1e-6);
        // stride 4: input pixels 5.5 and 9.5 are the centres of cells 1 and 2
        let maps = heatmaps(&[5.5, 9.5], 1, (4, 4), 4.0, 1.0).unwrap();
        assert!((maps[2 * 4 + 1] - 1.0).abs() < 1e-6, "{maps:?}");
        // non-finite keypoints give empty maps
        let maps = heatmaps(&[f32::NAN, 1.0, 2.0, 2.0], 2, (4, 4), 1.0, 1.0).unwrap();
        assert!(maps[..16].iter().all(|&v| v == 0.0));
        assert!(maps[16..].iter().any(|&v| v > 0.5));
    }

    #[test]
    fn heads_heatmaps_reject_bad_arguments() {
        let zeros = |size: &[i64]| Tensor::zeros(size, (Kind::Float, tch::Device::Cpu));
        assert!(heatmaps(&[1.0, 2.0, 3.0], 1, (4, 4), 1.0, 1.0).is_err());
        assert!(heatmaps(&[1.0, 2.0], 0, (4, 4), 1.0, 1.0).is_err());
        assert!(heatmaps(&[1.0, 2.0], 1, (0, 4), 1.0, 1.0).is_err());
        assert!(heatmaps(&[1.0, 2.0], 1, (4, 4), 0.0, 1.0).is_err());
        assert!(heatmaps(&[1.0, 2.0], 1, (4, 4), 1.0, f32::NAN).is_err());
        assert!(heatmaps(&[1.0, 2.0], 1, (1 << 20, 1 << 20), 1.0, 1.0).is_err());
        assert!(heatmaps(&[], 1, (1 << 40, 1 << 40), 1.0, 1.0).is_err());
        assert!(heatmaps_tensor(&zeros(&[2, 3]), (4, 4), 1.0, 1.0).is_err());
        assert!(heatmaps_tensor(&zeros(&[2, 3, 2]), (1 << 20, 1 << 20), 1.0, 1.0).is_err());
        assert!(heatmaps_tensor(&zeros(&[2, 3, 2]), (4, 4), -1.0, 1.0).is_err());
        assert!(argmax_keypoints(&zeros(&[2, 3, 4]), 1.0).is_err());
        assert!(argmax_keypoints(&zeros(&[1, 1, 0, 4]), 1.0).is_err());
        assert!(argmax_keypoints(&zeros(&[1, 1, 4, 4]), -1.0).is_err());
        // empty batches are fine
        assert_eq!(
            argmax_keypoints(&zeros(&[0, 5, 4, 4]), 1.0).unwrap().size(),
            [0, 5, 2]
        );
    }

    #[test]
    fn heads_tensor_heatmaps_match_the_slice_version() {
        let set = SyntheticSet::generate(3, 16, 64).unwrap();
        let mut points = set.keypoints.clone();
        points[7] = f32::INFINITY;
        let reference = heatmaps(&points, JOINTS, (16, 16), 4.0, 2.0).unwrap();
        let kp = Tensor::from_slice(&points).view([16, JOINTS as i64, 2]);
        let maps = heatmaps_tensor(&kp, (16, 16), 4.0, 2.0).unwrap();
        assert_eq!(maps.size(), [16, JOINTS as i64, 16, 16]);
        let got = to_vec(&maps);
        let worst = got
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1e-5, "{worst}");
        assert!(got[3 * 256..4 * 256].iter().all(|&v| v == 0.0));
    }

    #[test]
    fn heads_argmax_recovers_keypoints() {
        let set = SyntheticSet::generate(11, 64, 64).unwrap();
        for (stride, out, sigma) in [(4.0, 16, 2.0), (2.0, 32, 2.0), (1.0, 64, 2.0)] {
            let maps = heatmaps(&set.keypoints, JOINTS, (out, out), stride as f32, sigma).unwrap();
            let maps = Tensor::from_slice(&maps).view([64, JOINTS as i64, out as i64, out as i64]);
            let decoded = argmax_keypoints(&maps, stride).unwrap();
            assert_eq!(decoded.size(), [64, JOINTS as i64, 2]);
            let decoded = to_vec(&decoded);
            let errors: Vec<f32> = decoded
                .iter()
                .zip(&set.keypoints)
                .map(|(a, b)| (a - b).abs())
                .collect();
            let worst = errors.iter().copied().fold(0.0, f32::max);
            let mean = errors.iter().sum::<f32>() / errors.len() as f32;
            // argmax alone is within half a cell; the quarter-cell step halves the mean error
            assert!(
                worst <= 0.5 * stride as f32 + 1e-4,
                "stride {stride}: worst {worst}"
            );
            assert!(mean <= 0.2 * stride as f32, "stride {stride}: mean {mean}");
        }
    }

    #[test]
    fn heads_argmax_refines_toward_the_higher_neighbour() {
        // a peak at cell (2, 1) whose right and lower neighbours are higher than the others
        let mut map = vec![0.0f32; 25];
        map[5 + 2] = 1.0;
        map[5 + 3] = 0.6;
        map[5 + 1] = 0.2;
        map[10 + 2] = 0.5;
        map[2] = 0.1;
        let t = Tensor::from_slice(&map).view([1, 1, 5, 5]);
        assert_eq!(to_vec(&argmax_keypoints(&t, 1.0).unwrap()), [2.25, 1.25]);
        // at stride 4 the same cell maps to input pixels
        assert_eq!(to_vec(&argmax_keypoints(&t, 4.0).unwrap()), [10.5, 6.5]);
        // no refinement on the border
        let mut map = vec![0.0f32; 25];
        map[0] = 1.0;
        map[1] = 0.5;
        let t = Tensor::from_slice(&map).view([1, 1, 5, 5]);
        assert_eq!(to_vec(&argmax_keypoints(&t, 1.0).unwrap()), [0.0, 0.0]);
        assert_eq!(cell_to_pixel(pixel_to_cell(13.0, 4.0), 4.0), 13.0);
    }
}
