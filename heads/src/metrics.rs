//! Task metrics on plain slices: top-1 accuracy (classification), mean IoU (semantic
//! segmentation), and COCO-style keypoint AP and PCK (pose estimation, one instance per image).
//!
//! Keypoint metrics take an object scale `s` per image in pixels; for
//! [`super::synthetic::SyntheticSet`] it is the main object's diameter `2r`
//! ([`super::synthetic::SyntheticSet::scales`]), the same for every shape of that size.

use crate::HeadsError;

/// The per-keypoint constant `k` of OKS (COCO's `2σ`), the same for every joint: 0.1, close
/// to COCO's values for the body's larger joints (0.07–0.107 for shoulders to ankles).
pub const OKS_K: f64 = 0.1;
/// The OKS thresholds that keypoint AP averages over: 0.50, 0.55, …, 0.95.
pub const OKS_THRESHOLDS: [f64; 10] = [0.50, 0.55, 0.60, 0.65, 0.70, 0.75, 0.80, 0.85, 0.90, 0.95];
/// Largest class count a [`Confusion`] accepts.
pub const MAX_CLASSES: usize = 4096;

fn same_length(what: &str, a: usize, b: usize) -> Result<(), HeadsError> {
    if a != b {
        return Err(HeadsError::Invalid(format!(
            "{what}: {a} predictions for {b} labels"
        )));
    }
    if a == 0 {
        return Err(HeadsError::Invalid(format!("{what}: nothing to evaluate")));
    }
    Ok(())
}

/// Fraction of predictions equal to their label.
pub fn top1_accuracy(pred: &[i64], truth: &[i64]) -> Result<f64, HeadsError> {
    same_length("top-1 accuracy", pred.len(), truth.len())?;
    let hits = pred.iter().zip(truth).filter(|(p, t)| p == t).count();
    Ok(hits as f64 / truth.len() as f64)
}

/// A confusion matrix over `classes` labels, accumulated over any number of batches.
/// Pixels whose label is outside `0..classes` are ignored; a prediction outside it (for a
/// pixel with a valid label) counts as a miss of the label's class and a hit of no class.
#[derive(Clone, Debug, PartialEq)]
pub struct Confusion {
    classes: usize,
    /// `[label][prediction]` counts; prediction `classes` is "out of range".
    counts: Vec<u64>,
}

impl Confusion {
    /// An empty matrix for `classes` labels (1 to [`MAX_CLASSES`]).
    pub fn new(classes: usize) -> Result<Confusion, HeadsError> {
        if !(1..=MAX_CLASSES).contains(&classes) {
            return Err(HeadsError::Invalid(format!(
                "{classes} segmentation classes is outside 1..={MAX_CLASSES}"
            )));
        }
        Ok(Confusion {
            classes,
            counts: vec![0; classes * (classes + 1)],
        })
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Adds predictions and labels of the same pixels.
    pub fn add(&mut self, pred: &[i64], truth: &[i64]) -> Result<(), HeadsError> {
        if pred.len() != truth.len() {
            return Err(HeadsError::Invalid(format!(
                "confusion matrix: {} predictions for {} labels",
                pred.len(),
                truth.len()
            )));
        }
        let n = self.classes as i64;
        for (&p, &t) in pred.iter().zip(truth) {
            if !(0..n).contains(&t) {
                continue;
            }
            let p = if (0..n).contains(&p) { p } else { n };
            self.counts[t as usize * (self.classes + 1) + p as usize] += 1;
        }
        Ok(())
    }

    /// Count of pixels labelled `truth` and predicted `pred` (`pred == classes`: out of range).
    pub fn count(&self, truth: usize, pred: usize) -> u64 {
        if truth < self.classes && pred <= self.classes {
            self.counts[truth * (self.classes + 1) + pred]
        } else {
            0
        }
    }

    /// IoU of each class, `None` for classes that appear in neither labels nor predictions.
    pub fn iou(&self) -> Vec<Option<f64>> {
        let c = self.classes;
        (0..c)
            .map(|k| {
                let hits = self.count(k, k);
                let labelled: u64 = (0..=c).map(|p| self.count(k, p)).sum();
                let predicted: u64 = (0..c).map(|t| self.count(t, k)).sum();
                let union = labelled + predicted - hits;
                (union > 0).then(|| hits as f64 / union as f64)
            })
            .collect()
    }

    /// The fraction of labelled pixels predicted right, `None` without labelled pixels.
    pub fn pixel_accuracy(&self) -> Option<f64> {
        let c = self.classes;
        let hits: u64 = (0..c).map(|k| self.count(k, k)).sum();
        let labelled: u64 = self.counts.iter().sum();
        (labelled > 0).then(|| hits as f64 / labelled as f64)
    }

    /// Mean of [`Confusion::iou`] over the classes that appear, `None` if none does.
    pub fn mean_iou(&self) -> Option<f64> {
        let present: Vec<f64> = self.iou().into_iter().flatten().collect();
        (!present.is_empty()).then(|| present.iter().sum::<f64>() / present.len() as f64)
    }
}

/// Mean IoU of a whole set: one confusion matrix over all pixels, averaged over the classes
/// that appear in the predictions or labels (see [`Confusion`] for out-of-range values).
pub fn mean_iou(pred: &[i64], truth: &[i64], classes: usize) -> Result<f64, HeadsError> {
    let mut confusion = Confusion::new(classes)?;
    confusion.add(pred, truth)?;
    confusion
        .mean_iou()
        .ok_or_else(|| HeadsError::Invalid("mean IoU: no pixel has a label in range".into()))
}

/// Checks `[n, joints, 2]` predictions and labels against `n` scales; returns `n`.
fn check_keypoints(
    pred: &[f32],
    truth: &[f32],
    scales: &[f32],
    joints: usize,
) -> Result<usize, HeadsError> {
    same_length("keypoints", pred.len(), truth.len())?;
    let n = scales.len();
    let coordinates = joints.checked_mul(2).and_then(|c| c.checked_mul(n));
    if joints == 0 || coordinates != Some(truth.len()) {
        return Err(HeadsError::Invalid(format!(
            "{} keypoint coordinates are not {n} instances of {joints} joints",
            truth.len()
        )));
    }
    if let Some(s) = scales.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        return Err(HeadsError::Invalid(format!(
            "object scale {s} is not positive"
        )));
    }
    Ok(n)
}

/// Squared distances between predicted and true joints of one instance (`[J, 2]` each);
/// infinite where any coordinate is not finite.
fn squared_distances<'a>(pred: &'a [f32], truth: &'a [f32]) -> impl Iterator<Item = f64> + 'a {
    pred.chunks_exact(2)
        .zip(truth.chunks_exact(2))
        .map(|(p, t)| {
            let dx = f64::from(p[0]) - f64::from(t[0]);
            let dy = f64::from(p[1]) - f64::from(t[1]);
            let d2 = dx * dx + dy * dy;
            if d2.is_finite() { d2 } else { f64::INFINITY }
        })
}

/// Object keypoint similarity of one instance (`[J, 2]` predictions and labels, all joints
/// visible): the mean over joints of `exp(−d² / (2·s²·k²))` with `s²` = `scale²`.
pub fn oks(pred: &[f32], truth: &[f32], scale: f32, k: f64) -> Result<f64, HeadsError> {
    check_keypoints(pred, truth, &[scale], truth.len() / 2)?;
    if !(k.is_finite() && k > 0.0) {
        return Err(HeadsError::Invalid(format!(
            "OKS constant {k} is not positive"
        )));
    }
    let denominator = 2.0 * f64::from(scale).powi(2) * k * k;
    let sum: f64 = squared_distances(pred, truth)
        .map(|d2| (-d2 / denominator).exp())
        .sum();
    Ok(sum / (truth.len() / 2) as f64)
}

/// COCO-style keypoint AP for one instance and one prediction per image: the mean over
/// [`OKS_THRESHOLDS`] of the fraction of images whose OKS (with [`OKS_K`]) reaches the
/// threshold. With every instance matched and no scores to rank, this is what COCO's
/// precision/recall averaging reduces to (its AR equals it too).
pub fn keypoint_ap(
    pred: &[f32],
    truth: &[f32],
    scales: &[f32],
    joints: usize,
) -> Result<f64, HeadsError> {
    let n = check_keypoints(pred, truth, scales, joints)?;
    let step = joints * 2;
    let similarities = (0..n)
        .map(|i| {
            oks(
                &pred[i * step..(i + 1) * step],
                &truth[i * step..(i + 1) * step],
                scales[i],
                OKS_K,
            )
        })
        .collect::<Result<Vec<f64>, HeadsError>>()?;
    let per_threshold = OKS_THRESHOLDS
        .iter()
        .map(|&t| similarities.iter().filter(|&&s| s >= t).count() as f64 / n as f64);
    Ok(per_threshold.sum::<f64>() / OKS_THRESHOLDS.len() as f64)
}

/// PCK@`alpha`: the fraction of joints within `alpha · scale` pixels of their labels.
pub fn pck(
    pred: &[f32],
    truth: &[f32],
    scales: &[f32],
    joints: usize,
    alpha: f64,
) -> Result<f64, HeadsError> {
    let n = check_keypoints(pred, truth, scales, joints)?;
    if !(alpha.is_finite() && alpha > 0.0) {
        return Err(HeadsError::Invalid(format!(
            "PCK threshold {alpha} is not positive"
        )));
    }
    let step = joints * 2;
    let mut hits = 0usize;
    for (i, &scale) in scales.iter().enumerate() {
        let limit = (alpha * f64::from(scale)).powi(2);
        let range = i * step..(i + 1) * step;
        hits += squared_distances(&pred[range.clone()], &truth[range])
            .filter(|&d2| d2 <= limit)
            .count();
    }
    Ok(hits as f64 / (n * joints) as f64)
}

/// Thresholds of [`pck_auc`]: 0.05, 0.10, …, 0.50 of the object scale.
const PCK_AUC_THRESHOLDS: [f64; 10] = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5];

/// The area under the PCK curve: the mean of PCK@α over α = 0.05, 0.10, …, 0.50. A smoother
/// measure than one threshold, since a joint just across one threshold moves it by a tenth.
pub fn pck_auc(
    pred: &[f32],
    truth: &[f32],
    scales: &[f32],
    joints: usize,
) -> Result<f64, HeadsError> {
    let sum = PCK_AUC_THRESHOLDS
        .iter()
        .map(|&alpha| pck(pred, truth, scales, joints, alpha))
        .sum::<Result<f64, HeadsError>>()?;
    Ok(sum / PCK_AUC_THRESHOLDS.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_pixel_accuracy_and_pck_auc_of_known_cases() {
        let mut confusion = Confusion::new(3).unwrap();
        confusion.add(&[0, 1, 2, 2], &[0, 1, 1, 2]).unwrap();
        assert_eq!(confusion.pixel_accuracy(), Some(0.75));
        assert_eq!(Confusion::new(3).unwrap().pixel_accuracy(), None);
        // one joint, scale 10: 2 px off is within α ≥ 0.2 (7 of the 10 thresholds)
        let auc = pck_auc(&[2.0, 0.0], &[0.0, 0.0], &[10.0], 1).unwrap();
        assert!((auc - 0.7).abs() < 1e-12, "{auc}");
        assert_eq!(pck_auc(&[0.0, 0.0], &[0.0, 0.0], &[10.0], 1).unwrap(), 1.0);
    }

    #[test]
    fn heads_top1_accuracy_counts_hits() {
        assert_eq!(top1_accuracy(&[1, 2, 3, 4], &[1, 2, 0, 4]).unwrap(), 0.75);
        assert!(top1_accuracy(&[1], &[1, 2]).is_err());
        assert!(top1_accuracy(&[], &[]).is_err());
    }

    #[test]
    fn heads_mean_iou_of_a_hand_computed_confusion() {
        // labels    0 0 0 1 1 2 | 9 (ignored)
        // predicted 0 0 1 1 2 2 | 0
        // class 0: hits 2, union 3 → 2/3; class 1: hits 1, union 3 → 1/3;
        // class 2: hits 1, union 2 → 1/2; class 3 appears nowhere
        let pred = [0, 0, 1, 1, 2, 2, 0];
        let truth = [0, 0, 0, 1, 1, 2, 9];
        let miou = mean_iou(&pred, &truth, 4).unwrap();
        assert!(
            (miou - (2.0 / 3.0 + 1.0 / 3.0 + 0.5) / 3.0).abs() < 1e-12,
            "{miou}"
        );
        let mut confusion = Confusion::new(4).unwrap();
        confusion.add(&pred, &truth).unwrap();
        assert_eq!(confusion.iou()[3], None);
        assert_eq!(confusion.count(0, 1), 1);
        // an out-of-range prediction (-1) misses its pixel's class 1 and adds to no class:
        // class 0: 2/3; class 1: hits 1, union 3 → 1/3; class 2: 1/1
        let miou = mean_iou(&[0, 0, 1, 1, -1, 2], &[0, 0, 0, 1, 1, 2], 3).unwrap();
        assert!(
            (miou - (2.0 / 3.0 + 1.0 / 3.0 + 1.0) / 3.0).abs() < 1e-12,
            "{miou}"
        );
    }

    #[test]
    fn heads_mean_iou_is_one_for_perfect_and_lower_for_shifted() {
        let truth: Vec<i64> = (0..400).map(|i| ((i % 20) / 5) as i64).collect();
        assert_eq!(mean_iou(&truth, &truth, 4).unwrap(), 1.0);
        let mut shifted = truth.clone();
        shifted.rotate_right(1);
        let m = mean_iou(&shifted, &truth, 4).unwrap();
        assert!(m < 0.9, "{m}");
    }

    #[test]
    fn heads_mean_iou_rejects_bad_inputs() {
        assert!(mean_iou(&[0, 1], &[0], 2).is_err());
        assert!(mean_iou(&[0], &[0], 0).is_err());
        assert!(mean_iou(&[0], &[0], MAX_CLASSES + 1).is_err());
        assert!(mean_iou(&[0, 1], &[5, -1], 2).is_err());
        assert!(mean_iou(&[], &[], 2).is_err());
    }

    fn instances(n: usize, joints: usize) -> (Vec<f32>, Vec<f32>) {
        let truth: Vec<f32> = (0..n * joints * 2)
            .map(|i| 10.0 + (i * 7 % 41) as f32)
            .collect();
        (truth, vec![20.0; n])
    }

    #[test]
    fn heads_keypoint_metrics_are_one_for_perfect_and_lower_for_shifted() {
        let (truth, scales) = instances(12, 5);
        assert_eq!(keypoint_ap(&truth, &truth, &scales, 5).unwrap(), 1.0);
        assert_eq!(pck(&truth, &truth, &scales, 5, 0.1).unwrap(), 1.0);
        // 1 px off per axis: d² = 2, s·k = 2 → OKS = exp(-2/8) ≈ 0.78: counts for 0.50–0.75
        let shifted: Vec<f32> = truth.iter().map(|v| v + 1.0).collect();
        let expected_oks = (-2.0f64 / 8.0).exp();
        assert!(
            (oks(&shifted[..10], &truth[..10], 20.0, OKS_K).unwrap() - expected_oks).abs() < 1e-9
        );
        assert!((keypoint_ap(&shifted, &truth, &scales, 5).unwrap() - 0.6).abs() < 1e-12);
        // within 0.1 · 20 = 2 px (d = √2) but not within 0.05 · 20 = 1 px
        assert_eq!(pck(&shifted, &truth, &scales, 5, 0.1).unwrap(), 1.0);
        assert_eq!(pck(&shifted, &truth, &scales, 5, 0.05).unwrap(), 0.0);
        // far off: AP 0
        let far: Vec<f32> = truth.iter().map(|v| v + 30.0).collect();
        assert_eq!(keypoint_ap(&far, &truth, &scales, 5).unwrap(), 0.0);
        // a non-finite prediction is a miss, not a NaN
        let mut broken = truth.clone();
        broken[0] = f32::NAN;
        assert_eq!(pck(&broken, &truth, &scales, 5, 0.1).unwrap(), 59.0 / 60.0);
        let oks0 = oks(&broken[..10], &truth[..10], 20.0, OKS_K).unwrap();
        assert!((oks0 - 0.8).abs() < 1e-12, "{oks0}");
    }

    #[test]
    fn heads_keypoint_metrics_reject_bad_inputs() {
        let (truth, scales) = instances(3, 5);
        assert!(keypoint_ap(&truth, &truth, &scales, 4).is_err());
        assert!(keypoint_ap(&truth[..10], &truth, &scales, 5).is_err());
        assert!(keypoint_ap(&truth, &truth, &[20.0, 0.0, 20.0], 5).is_err());
        assert!(pck(&truth, &truth, &scales, 5, f64::NAN).is_err());
        assert!(pck(&truth, &truth, &scales, 0, 0.1).is_err());
        assert!(pck(&[], &[], &[], 5, 0.1).is_err());
        assert!(oks(&truth[..10], &truth[..10], 20.0, 0.0).is_err());
        assert!(oks(&truth[..9], &truth[..9], 20.0, OKS_K).is_err());
    }
}
