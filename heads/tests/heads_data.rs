//! The synthetic scenes of `heads::synthetic` against their contract: determinism, balance,
//! masks and keypoints that agree with the drawn objects, and the metrics on them.

use aiop_heads::Device;
use aiop_heads::metrics::{keypoint_ap, mean_iou, pck, top1_accuracy};
use aiop_heads::synthetic::{
    CLASSES, JOINTS, MARKER_DISTANCE, MARKER_MIN_RADIUS, MARKER_RADIUS, Shape, SyntheticSet,
};
use aiop_heads::targets::{argmax_keypoints, heatmaps};
use tch::Tensor;

const S: usize = 64;

fn bits(set: &SyntheticSet) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
    (
        set.images.iter().map(|v| v.to_bits()).collect(),
        set.keypoints.iter().map(|v| v.to_bits()).collect(),
        set.radii.iter().map(|v| v.to_bits()).collect(),
    )
}

#[test]
fn heads_same_seed_same_bytes_other_seed_other_bytes() {
    let a = SyntheticSet::generate(42, 64, S).unwrap();
    let b = SyntheticSet::generate(42, 64, S).unwrap();
    assert_eq!(bits(&a), bits(&b));
    assert_eq!((&a.classes, &a.masks), (&b.classes, &b.masks));
    let c = SyntheticSet::generate(43, 64, S).unwrap();
    assert_ne!(bits(&a).0, bits(&c).0);
    assert_ne!(a.masks, c.masks);
    assert_ne!(a.keypoints, c.keypoints);
    // a prefix of a larger set is the smaller set
    let d = SyntheticSet::generate(42, 100, S).unwrap();
    assert_eq!(&d.images[..a.images.len()], &a.images[..]);
    assert_eq!(&d.classes[..64], &a.classes[..]);
}

#[test]
fn heads_generation_does_not_depend_on_the_thread_count() {
    let with = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| SyntheticSet::generate(7, 97, 48).unwrap())
    };
    let (one, two) = (with(1), with(2));
    assert_eq!(bits(&one), bits(&two));
    assert_eq!((&one.classes, &one.masks), (&two.classes, &two.masks));
}

#[test]
fn heads_classes_are_balanced() {
    let set = SyntheticSet::generate(5, 803, S).unwrap();
    let counts = |range: std::ops::Range<usize>| {
        let mut counts = [0usize; CLASSES];
        for &c in &set.classes[range] {
            counts[usize::try_from(c).unwrap()] += 1;
        }
        counts
    };
    assert_eq!(counts(0..800), [100; CLASSES]);
    // any range: within one per class of its share
    for c in counts(3..803) {
        assert!((99..=101).contains(&c), "{:?}", counts(3..803));
    }
    // the order is not a plain cycle
    assert_ne!(&set.classes[..8], &set.classes[8..16]);
}

/// θ of image `i` from its centre and head keypoints.
fn heading(set: &SyntheticSet, i: usize) -> f32 {
    let k = set.joints(i).unwrap();
    (k[3] - k[1]).atan2(k[2] - k[0])
}

/// Whether the main shape of image `i` covers all (`all`) or any of the 5 × 5 points at
/// steps of 0.25 px within ±0.5 px of pixel `(x, y)` (they include the renderer's samples).
fn covers(set: &SyntheticSet, i: usize, (x, y): (usize, usize), all: bool) -> bool {
    let shape = Shape::from_class(set.classes[i] as usize).unwrap();
    let k = set.joints(i).unwrap();
    let (r, theta) = (set.radii[i], heading(set, i));
    let (sin, cos) = theta.sin_cos();
    const STEPS: [f32; 5] = [-0.5, -0.25, 0.0, 0.25, 0.5];
    let mut inside = STEPS.into_iter().flat_map(|oy| {
        STEPS.into_iter().map(move |ox| {
            let dx = x as f32 + ox - k[0];
            let dy = y as f32 + oy - k[1];
            shape.contains((dx * cos + dy * sin) / r, (-dx * sin + dy * cos) / r)
        })
    });
    if all {
        inside.all(|b| b)
    } else {
        inside.any(|b| b)
    }
}

fn marker_radius(set: &SyntheticSet, i: usize) -> f32 {
    (MARKER_RADIUS * set.radii[i]).max(MARKER_MIN_RADIUS)
}

fn near_marker(set: &SyntheticSet, i: usize, (x, y): (usize, usize), margin: f32) -> bool {
    let k = set.joints(i).unwrap();
    (x as f32 - k[2]).hypot(y as f32 - k[3]) <= marker_radius(set, i) + margin
}

#[test]
fn heads_masks_follow_the_main_object() {
    let set = SyntheticSet::generate(21, 160, S).unwrap();
    let mut with_second = 0;
    for i in 0..set.len() {
        let mask = set.mask(i).unwrap();
        let label = 1 + set.classes[i] as u8;
        let k = set.joints(i).unwrap();
        let at = |x: f32, y: f32| mask[y.round() as usize * S + x.round() as usize];
        // the centre is the main object's, except for the ring's hole
        if set.classes[i] == Shape::Ring.class() as i64 {
            assert_eq!(at(k[0], k[1]), 0, "image {i}");
        } else {
            assert_eq!(at(k[0], k[1]), label, "image {i}");
        }
        // the marker is part of the main object
        assert_eq!(at(k[2], k[3]), label, "image {i}");
        for y in 0..S {
            for x in 0..S {
                let m = mask[y * S + x];
                if covers(&set, i, (x, y), true) {
                    assert_eq!(
                        m, label,
                        "image {i} pixel ({x}, {y}) is inside the main object"
                    );
                }
                if m == label {
                    assert!(
                        covers(&set, i, (x, y), false) || near_marker(&set, i, (x, y), 0.75),
                        "image {i} pixel ({x}, {y}) is labelled but outside the main object"
                    );
                }
                assert!(usize::from(m) <= CLASSES);
            }
        }
        let others: Vec<u8> = mask
            .iter()
            .copied()
            .filter(|&m| m != 0 && m != label)
            .collect();
        if !others.is_empty() {
            with_second += 1;
            assert!(
                others.iter().all(|&m| m == others[0]),
                "image {i}: one second object"
            );
        }
    }
    // about half the scenes have a second object (a few have no room for it)
    assert!((50..=100).contains(&with_second), "{with_second} of 160");
}

#[test]
fn heads_keypoints_are_inside_the_image_and_oriented() {
    let set = SyntheticSet::generate(8, 400, S).unwrap();
    assert!(
        set.keypoints
            .iter()
            .all(|&v| (0.0..=(S - 1) as f32).contains(&v))
    );
    for i in 0..set.len() {
        let k = set.joints(i).unwrap();
        let r = set.radii[i];
        assert!((10.0..=24.0).contains(&r), "radius {r}");
        let d = |j: usize| (k[2 * j] - k[0]).hypot(k[2 * j + 1] - k[1]);
        assert!((d(1) - MARKER_DISTANCE * r).abs() < 1e-3);
        for j in 2..JOINTS {
            assert!((d(j) - r).abs() < 1e-3, "joint {j}");
        }
        // "right" is θ + 90°: clockwise on screen (y down) from the head direction
        let (hx, hy) = (k[2] - k[0], k[3] - k[1]);
        let (rx, ry) = (k[4] - k[0], k[5] - k[1]);
        assert!(hx * ry - hy * rx > 0.0, "image {i}");
        // tail opposite the head, left opposite the right
        assert!((k[8] - k[0] + hx / MARKER_DISTANCE).abs() < 1e-3);
        assert!((k[6] - k[0] + rx).abs() < 1e-3 && (k[7] - k[1] + ry).abs() < 1e-3);
    }
    assert_eq!(set.scales()[3], 2.0 * set.radii[3]);
}

fn colour(set: &SyntheticSet, i: usize, (x, y): (usize, usize)) -> [f32; 3] {
    let image = set.image(i).unwrap();
    std::array::from_fn(|c| image[c * S * S + y * S + x])
}

fn mean(colours: &[[f32; 3]]) -> [f32; 3] {
    std::array::from_fn(|c| colours.iter().map(|p| p[c]).sum::<f32>() / colours.len() as f32)
}

fn distance(a: [f32; 3], b: [f32; 3]) -> f32 {
    (0..3).map(|c| (a[c] - b[c]).powi(2)).sum::<f32>().sqrt()
}

#[test]
fn heads_marker_and_object_colours_stand_out() {
    let set = SyntheticSet::generate(13, 120, S).unwrap();
    assert!(set.images.iter().all(|v| (0.0..=1.0).contains(v)));
    for i in 0..set.len() {
        let k = set.joints(i).unwrap();
        let mut body = Vec::new();
        let mut around = Vec::new();
        for y in 0..S {
            for x in 0..S {
                if covers(&set, i, (x, y), true) && !near_marker(&set, i, (x, y), 1.5) {
                    body.push(colour(&set, i, (x, y)));
                }
                let d = (x as f32 - k[0]).hypot(y as f32 - k[1]);
                let m = set.mask(i).unwrap()[y * S + x];
                if m == 0 && d > set.radii[i] + 1.0 && d < set.radii[i] + 3.0 {
                    around.push(colour(&set, i, (x, y)));
                }
            }
        }
        assert!(body.len() > 20, "image {i}: {} body pixels", body.len());
        let object = mean(&body);
        let marker = colour(&set, i, (k[2].round() as usize, k[3].round() as usize));
        assert!(
            distance(marker, object) > 0.6,
            "image {i}: marker {marker:?} object {object:?}"
        );
        if !around.is_empty() {
            let gap = distance(mean(&around), object);
            assert!(
                gap > 0.3,
                "image {i}: object {object:?} on background {:?}",
                mean(&around)
            );
        }
    }
}

#[test]
fn heads_bad_sizes_and_ranges_are_errors() {
    assert!(SyntheticSet::generate(0, 4, 15).is_err());
    assert!(SyntheticSet::generate(0, 4, 513).is_err());
    assert!(SyntheticSet::generate(0, usize::MAX, 64).is_err());
    assert!(SyntheticSet::generate(0, 40_000_000, 64).is_err());
    let empty = SyntheticSet::generate(0, 0, 16).unwrap();
    assert!(empty.is_empty());
    assert!(empty.preview(3).is_err());
    let set = SyntheticSet::generate(0, 4, 16).unwrap();
    assert_eq!(set.len(), 4);
    assert!(set.to_tensors(0..5, Device::Cpu).is_err());
    #[allow(clippy::reversed_empty_ranges)]
    let backwards = 3..1;
    assert!(set.to_tensors(backwards, Device::Cpu).is_err());
    assert!(set.image(4).is_none() && set.mask(usize::MAX).is_none() && set.joints(9).is_none());
    // hand-edited sets: inconsistent buffers are errors, odd values are drawn or skipped
    let mut broken = set.clone();
    broken.images.pop();
    assert!(broken.validate().is_err() && broken.to_tensors(0..1, Device::Cpu).is_err());
    assert!(broken.preview(1).is_err());
    for size in [0, usize::MAX] {
        let mut odd_size = set.clone();
        odd_size.size = size;
        assert!(odd_size.preview(1).is_err() && odd_size.to_tensors(0..1, Device::Cpu).is_err());
        assert!(size == 0 || odd_size.image(0).is_none());
    }
    let mut odd = set.clone();
    odd.keypoints[0] = f32::NAN;
    odd.keypoints[1] = 1e30;
    odd.keypoints[2] = -1e30;
    odd.classes[0] = -3;
    odd.masks[5] = 200;
    assert!(odd.validate().is_ok() && odd.preview(4).is_ok());
}

#[test]
fn heads_tensors_hold_the_set() {
    let set = SyntheticSet::generate(2, 10, 32).unwrap();
    let t = set.to_tensors(3..7, Device::Cpu).unwrap();
    assert_eq!(t.images.size(), [4, 3, 32, 32]);
    assert_eq!(t.classes.size(), [4]);
    assert_eq!(t.masks.size(), [4, 32, 32]);
    assert_eq!(t.keypoints.size(), [4, JOINTS as i64, 2]);
    let images = Vec::<f32>::try_from(t.images.flatten(0, -1)).unwrap();
    assert_eq!(images, set.images[3 * 3 * 1024..7 * 3 * 1024]);
    assert_eq!(Vec::<i64>::try_from(&t.classes).unwrap(), set.classes[3..7]);
    let masks = Vec::<i64>::try_from(t.masks.flatten(0, -1)).unwrap();
    assert!(
        masks
            .iter()
            .zip(&set.masks[3 * 1024..7 * 1024])
            .all(|(a, &b)| *a == i64::from(b))
    );
    let keypoints = Vec::<f32>::try_from(t.keypoints.flatten(0, -1)).unwrap();
    assert_eq!(keypoints, set.keypoints[3 * 10..7 * 10]);
    let empty = set.to_tensors(4..4, Device::Cpu).unwrap();
    assert_eq!(empty.images.size(), [0, 3, 32, 32]);
}

#[test]
fn heads_preview_is_a_ppm_of_images_and_masks() {
    let set = SyntheticSet::generate(1, 6, S).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("preview.ppm");
    set.write_preview(&path, 4).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let (w, h) = (4 * (192 + 4) + 4, 2 * 192 + 3 * 4);
    let header = format!("P6\n{w} {h}\n255\n");
    assert!(bytes.starts_with(header.as_bytes()));
    assert_eq!(bytes.len(), header.len() + w * h * 3);
    // more than there are: all of them
    assert_eq!(set.preview(100).unwrap().0, 6 * (192 + 4) + 4);
}

#[test]
fn heads_perfect_predictions_score_one_through_targets_and_metrics() {
    let set = SyntheticSet::generate(4, 48, S).unwrap();
    let scales = set.scales();
    // heatmaps at stride 4 decode to keypoints that still score well
    let maps = heatmaps(&set.keypoints, JOINTS, (16, 16), 4.0, 2.0).unwrap();
    let maps = Tensor::from_slice(&maps).view([48, JOINTS as i64, 16, 16]);
    let decoded =
        Vec::<f32>::try_from(argmax_keypoints(&maps, 4.0).unwrap().flatten(0, -1)).unwrap();
    assert_eq!(
        keypoint_ap(&set.keypoints, &set.keypoints, &scales, JOINTS).unwrap(),
        1.0
    );
    let pck_decoded = pck(&decoded, &set.keypoints, &scales, JOINTS, 0.1).unwrap();
    assert!(
        pck_decoded > 0.97,
        "PCK@0.1 of decoded heatmaps {pck_decoded}"
    );
    let ap = keypoint_ap(&decoded, &set.keypoints, &scales, JOINTS).unwrap();
    assert!(ap > 0.9, "AP of decoded heatmaps {ap}");
    // a prediction swapping left and right is much worse
    let mut swapped = set.keypoints.clone();
    for k in swapped.chunks_exact_mut(2 * JOINTS) {
        k.swap(4, 6);
        k.swap(5, 7);
    }
    assert!(keypoint_ap(&swapped, &set.keypoints, &scales, JOINTS).unwrap() < 0.5);
    let truth: Vec<i64> = set.masks.iter().map(|&m| i64::from(m)).collect();
    assert_eq!(mean_iou(&truth, &truth, CLASSES + 1).unwrap(), 1.0);
    let background: Vec<i64> = vec![0; truth.len()];
    assert!(mean_iou(&background, &truth, CLASSES + 1).unwrap() < 0.2);
    assert_eq!(top1_accuracy(&set.classes, &set.classes).unwrap(), 1.0);
}
