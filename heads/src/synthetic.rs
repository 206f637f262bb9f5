//! Seeded synthetic scenes: one main object (its shape is the class) on a noisy colour
//! gradient, sometimes a smaller second object behind it, with a segmentation mask and five
//! oriented keypoints of the main object.
//!
//! Every image depends only on `(seed, index)`: it draws from its own ChaCha8 stream, so a set
//! is identical whatever the number of rayon threads, and a prefix of a larger set equals the
//! smaller set. Classes are balanced in blocks of [`CLASSES`] consecutive images: each block
//! holds every class once, in an order shuffled per block (seeded from `(seed, block)`), so any
//! index range is balanced to within one image per class.

use std::io::Write;
use std::ops::Range;
use std::path::Path;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use tch::{Device, Tensor};

use crate::HeadsError;

/// Number of classes: the kinds of [`Shape`].
pub const CLASSES: usize = 8;
/// Keypoints per image (of the main object), in the order of [`JOINT_NAMES`].
pub const JOINTS: usize = 5;
/// Names of the keypoints: the centre, the marker ("head") at the object's angle θ, the points
/// at θ + 90° ("right") and θ − 90° ("left"), and the point at θ + 180° ("tail").
pub const JOINT_NAMES: [&str; JOINTS] = ["centre", "head", "right", "left", "tail"];
/// Keypoint pairs that swap under a horizontal flip.
pub const FLIP_PAIRS: [(usize, usize); 1] = [(2, 3)];
/// Smallest image side accepted by [`SyntheticSet::generate`].
pub const MIN_SIZE: usize = 16;
/// Largest image side accepted by [`SyntheticSet::generate`].
pub const MAX_SIZE: usize = 512;
/// Most memory a set may take, in bytes (4 GiB).
pub const MAX_BYTES: usize = 4 << 30;
/// Most images a preview shows.
pub const MAX_PREVIEW: usize = 64;

/// Distance of the marker dot (and the "head" keypoint) from the centre, in object radii.
pub const MARKER_DISTANCE: f32 = 0.68;
/// Radius of the marker dot, in object radii (at least [`MARKER_MIN_RADIUS`] pixels).
pub const MARKER_RADIUS: f32 = 0.14;
/// Smallest marker dot radius in pixels.
pub const MARKER_MIN_RADIUS: f32 = 1.5;
/// Range of the main object's radius as a fraction of the image side (10–24 px at 64 px).
pub const RADIUS_RANGE: (f32, f32) = (10.0 / 64.0, 24.0 / 64.0);
/// Range of the second object's radius as a fraction of the main object's.
pub const SECOND_RADIUS_RANGE: (f32, f32) = (0.45, 0.7);
/// Probability that a scene has a second object.
pub const SECOND_OBJECT_PROBABILITY: f32 = 0.5;
/// Amplitude of the uniform per-pixel noise added to every channel (then clamped to `[0, 1]`).
pub const NOISE: f32 = 0.04;
/// Smallest RGB (Euclidean) distance between an object's colour and the background under it.
pub const MIN_CONTRAST: f32 = 0.45;

/// Stream tags that keep the per-image and per-block random streams apart.
const STREAM_IMAGE: u64 = 1;
const STREAM_CLASS_BLOCK: u64 = 2;
/// Colour draws before falling back to the best candidate seen.
const COLOUR_TRIES: usize = 32;
/// Placement draws for the second object before leaving it out.
const PLACEMENT_TRIES: usize = 16;

/// The kind of an object; its index is the class label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shape {
    Disc,
    Square,
    Triangle,
    Rhombus,
    Cross,
    Ring,
    Star,
    Hexagon,
}

impl Shape {
    /// All shapes in class order.
    pub const ALL: [Shape; CLASSES] = [
        Shape::Disc,
        Shape::Square,
        Shape::Triangle,
        Shape::Rhombus,
        Shape::Cross,
        Shape::Ring,
        Shape::Star,
        Shape::Hexagon,
    ];

    /// The class label of this shape.
    pub fn class(self) -> usize {
        self as usize
    }

    /// The shape of class `class`, if there is one.
    pub fn from_class(class: usize) -> Option<Shape> {
        Shape::ALL.get(class).copied()
    }

    /// A short lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Disc => "disc",
            Shape::Square => "square",
            Shape::Triangle => "triangle",
            Shape::Rhombus => "rhombus",
            Shape::Cross => "cross",
            Shape::Ring => "ring",
            Shape::Star => "star",
            Shape::Hexagon => "hexagon",
        }
    }

    /// Whether the point `(u, v)` of the shape's own frame is inside it. The frame has the
    /// circumradius as unit and the shape's heading (where the marker goes) along `+u`; every
    /// shape lies within the unit disc and has a vertex, tip or arm along `+u` (the square is
    /// drawn corner first, so that it differs from the rhombus, which is elongated 1 : 0.55).
    pub fn contains(self, u: f32, v: f32) -> bool {
        let r2 = u * u + v * v;
        if r2 > 1.0 {
            return false;
        }
        let (au, av) = (u.abs(), v.abs());
        match self {
            Shape::Disc => true,
            Shape::Square => au + av <= 1.0,
            // vertex at (1, 0); the edges are 0.5 from the centre
            Shape::Triangle => u >= -0.5 && 0.5 * u + 0.866_025_4 * av <= 0.5,
            Shape::Rhombus => au + av / 0.55 <= 1.0,
            Shape::Cross => (au <= 0.95 && av <= 0.3) || (av <= 0.95 && au <= 0.3),
            Shape::Ring => r2 >= 0.55 * 0.55,
            Shape::Star => star_contains(u, v, r2),
            // vertices at 0°, 60°, …; apothem √3/2
            Shape::Hexagon => av <= 0.866_025_4 && 0.866_025_4 * au + 0.5 * av <= 0.866_025_4,
        }
    }
}

/// A five-pointed star with outer radius 1 (a tip along `+u`) and inner radius 0.45.
fn star_contains(u: f32, v: f32, r2: f32) -> bool {
    const INNER: f32 = 0.45;
    // apothem of the inner pentagon: everything closer is inside
    if r2 <= (INNER * 0.809_017) * (INNER * 0.809_017) {
        return true;
    }
    let sector = std::f32::consts::TAU / 5.0;
    let mut a = v.atan2(u).rem_euclid(sector);
    if a > sector / 2.0 {
        a = sector - a;
    }
    let rho = r2.sqrt();
    let (px, py) = (rho * a.cos(), rho * a.sin());
    // edge from the tip (1, 0) to the inner vertex at 36°; the centre is on its left
    let (qx, qy) = (INNER * 0.809_017, INNER * 0.587_785_3);
    let (dx, dy) = (qx - 1.0, qy);
    dx * py - dy * (px - 1.0) >= 0.0
}

/// One drawn object, in pixels.
#[derive(Clone, Copy, Debug)]
struct Object {
    shape: Shape,
    cx: f32,
    cy: f32,
    radius: f32,
    theta: f32,
    colour: [f32; 3],
}

/// Generated scenes with their labels, in flat row-major buffers.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntheticSet {
    /// Image side `S` in pixels.
    pub size: usize,
    /// Images, `[N, 3, S, S]` RGB, values in `[0, 1]`.
    pub images: Vec<f32>,
    /// Class of each image (its main object's [`Shape`]), `[N]`, in `0..CLASSES`.
    pub classes: Vec<i64>,
    /// Segmentation masks, `[N, S, S]`: 0 for background, `1 + class` for either object's pixels
    /// (the marker counts as the main object).
    pub masks: Vec<u8>,
    /// Keypoints of the main object, `[N, JOINTS, 2]`, `(x, y)` in pixels (pixel centres at
    /// integer coordinates), all inside `[0, S - 1]`.
    pub keypoints: Vec<f32>,
    /// Circumradius of each main object in pixels, `[N]`; the keypoints other than the centre
    /// and the head lie at this distance from the centre.
    pub radii: Vec<f32>,
}

/// One range of a [`SyntheticSet`] as tensors.
#[derive(Debug)]
pub struct SceneTensors {
    /// `[n, 3, S, S]` f32.
    pub images: Tensor,
    /// `[n]` i64.
    pub classes: Tensor,
    /// `[n, S, S]` i64 (0 background, `1 + class` objects).
    pub masks: Tensor,
    /// `[n, JOINTS, 2]` f32, `(x, y)` in pixels.
    pub keypoints: Tensor,
}

impl SyntheticSet {
    /// Generates `count` scenes of `size` × `size` pixels from `seed`, in parallel (rayon).
    /// Fails for `size` outside `MIN_SIZE..=MAX_SIZE` or a set larger than [`MAX_BYTES`].
    pub fn generate(seed: u64, count: usize, size: usize) -> Result<SyntheticSet, HeadsError> {
        Self::generate_range(seed, 0..count as u64, size)
    }

    /// The scenes `indices` of the endless sequence of `seed` (image `i` of the result is scene
    /// `indices.start + i`): a training stream never shows the same scene twice.
    pub fn generate_range(
        seed: u64,
        indices: Range<u64>,
        size: usize,
    ) -> Result<SyntheticSet, HeadsError> {
        let count = indices.end.saturating_sub(indices.start);
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        if !(MIN_SIZE..=MAX_SIZE).contains(&size) {
            return Err(HeadsError::Invalid(format!(
                "synthetic image size {size} is outside {MIN_SIZE}..={MAX_SIZE}"
            )));
        }
        let pixels = size * size;
        let per_image = 13 * pixels + 4 * (2 * JOINTS + 1) + 8;
        match count.checked_mul(per_image) {
            Some(bytes) if bytes <= MAX_BYTES => {}
            _ => {
                return Err(HeadsError::Invalid(format!(
                    "{count} synthetic images of {size}×{size} take more than {MAX_BYTES} bytes"
                )));
            }
        }
        let mut set = SyntheticSet {
            size,
            images: vec![0.0; count * 3 * pixels],
            classes: vec![0; count],
            masks: vec![0; count * pixels],
            keypoints: vec![0.0; count * JOINTS * 2],
            radii: vec![0.0; count],
        };
        set.images
            .par_chunks_mut(3 * pixels)
            .zip(set.masks.par_chunks_mut(pixels))
            .zip(set.keypoints.par_chunks_mut(JOINTS * 2))
            .zip(set.classes.par_iter_mut())
            .zip(set.radii.par_iter_mut())
            .enumerate()
            .for_each(|(index, ((((image, mask), keypoints), class), radius))| {
                let scene = render(seed, indices.start + index as u64, size, image, mask);
                keypoints.copy_from_slice(&scene_keypoints(&scene));
                *class = scene.shape.class() as i64;
                *radius = scene.radius;
            });
        Ok(set)
    }

    /// Checks that the fields agree (the size is in range and every buffer holds
    /// [`SyntheticSet::len`] items); sets from [`SyntheticSet::generate`] always do.
    pub fn validate(&self) -> Result<(), HeadsError> {
        let n = self.len();
        // in range, the size cannot overflow what follows
        let pixels = self.size.min(MAX_SIZE).pow(2);
        let consistent = (MIN_SIZE..=MAX_SIZE).contains(&self.size)
            && n.checked_mul(3 * pixels) == Some(self.images.len())
            && n.checked_mul(pixels) == Some(self.masks.len())
            && n.checked_mul(JOINTS * 2) == Some(self.keypoints.len())
            && self.radii.len() == n;
        if consistent {
            Ok(())
        } else {
            Err(HeadsError::Invalid(format!(
                "inconsistent synthetic set: size {}, {n} classes, {} image values, {} mask \
                 values, {} keypoint values, {} radii",
                self.size,
                self.images.len(),
                self.masks.len(),
                self.keypoints.len(),
                self.radii.len()
            )))
        }
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.classes.len()
    }

    /// Whether the set has no images.
    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    /// Image `i`, `[3, S, S]`, if it exists.
    pub fn image(&self, i: usize) -> Option<&[f32]> {
        let n = self.size.checked_mul(self.size)?.checked_mul(3)?;
        self.images
            .get(i.checked_mul(n)?..i.checked_add(1)?.checked_mul(n)?)
    }

    /// Mask `i`, `[S, S]`, if it exists.
    pub fn mask(&self, i: usize) -> Option<&[u8]> {
        let n = self.size.checked_mul(self.size)?;
        self.masks
            .get(i.checked_mul(n)?..i.checked_add(1)?.checked_mul(n)?)
    }

    /// Keypoints of image `i`, `[JOINTS, 2]`, if it exists.
    pub fn joints(&self, i: usize) -> Option<&[f32]> {
        let n = JOINTS * 2;
        self.keypoints
            .get(i.checked_mul(n)?..i.checked_add(1)?.checked_mul(n)?)
    }

    /// The object scale of each image for keypoint metrics: the main object's diameter `2r`
    /// in pixels (OKS uses `s² = (2r)²` as the area, PCK thresholds are fractions of it).
    pub fn scales(&self) -> Vec<f32> {
        self.radii.iter().map(|r| 2.0 * r).collect()
    }

    /// Images `range` as tensors on `device`.
    pub fn to_tensors(
        &self,
        range: Range<usize>,
        device: Device,
    ) -> Result<SceneTensors, HeadsError> {
        self.validate()?;
        if range.start > range.end || range.end > self.len() {
            return Err(HeadsError::Invalid(format!(
                "range {range:?} is not within the {} synthetic images",
                self.len()
            )));
        }
        let (n, s) = ((range.end - range.start) as i64, self.size as i64);
        let pixels = self.size * self.size;
        let images = &self.images[range.start * 3 * pixels..range.end * 3 * pixels];
        let masks: Vec<i64> = self.masks[range.start * pixels..range.end * pixels]
            .iter()
            .map(|&m| i64::from(m))
            .collect();
        let keypoints = &self.keypoints[range.start * JOINTS * 2..range.end * JOINTS * 2];
        Ok(SceneTensors {
            images: Tensor::f_from_slice(images)?
                .f_view([n, 3, s, s])?
                .f_to_device(device)?,
            classes: Tensor::f_from_slice(&self.classes[range])?.f_to_device(device)?,
            masks: Tensor::f_from_slice(&masks)?
                .f_view([n, s, s])?
                .f_to_device(device)?,
            keypoints: Tensor::f_from_slice(keypoints)?
                .f_view([n, JOINTS as i64, 2])?
                .f_to_device(device)?,
        })
    }

    /// Writes the first `count` images (at most all of them, and [`MAX_PREVIEW`]) as a binary PPM (`P6`) picture:
    /// one column per image, the image above its mask (coloured by class), both magnified and
    /// marked with the keypoints (centre white, head red, right green, left blue, tail yellow).
    pub fn write_preview(&self, path: impl AsRef<Path>, count: usize) -> Result<(), HeadsError> {
        let (width, height, rgb) = self.preview(count)?;
        let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
        write!(file, "P6\n{width} {height}\n255\n")?;
        file.write_all(&rgb)?;
        file.flush()?;
        Ok(())
    }

    /// The picture of [`SyntheticSet::write_preview`] as `(width, height, RGB bytes)`.
    pub fn preview(&self, count: usize) -> Result<(usize, usize, Vec<u8>), HeadsError> {
        self.validate()?;
        let count = count.min(self.len()).min(MAX_PREVIEW);
        if count == 0 {
            return Err(HeadsError::Invalid("no synthetic images to preview".into()));
        }
        let s = self.size;
        let zoom = (192 / s).max(1);
        let (cell, gap) = (s * zoom, 4);
        let width = count * (cell + gap) + gap;
        let height = 2 * cell + 3 * gap;
        let mut rgb = vec![255u8; width * height * 3];
        let to_byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        for i in 0..count {
            let (Some(image), Some(mask), Some(joints)) =
                (self.image(i), self.mask(i), self.joints(i))
            else {
                continue;
            };
            let left = gap + i * (cell + gap);
            for (panel, top) in [(0, gap), (1, 2 * gap + cell)] {
                for y in 0..cell {
                    for x in 0..cell {
                        let p = (y / zoom) * s + x / zoom;
                        let colour = if panel == 0 {
                            [image[p], image[s * s + p], image[2 * s * s + p]].map(to_byte)
                        } else {
                            MASK_PALETTE[usize::from(mask[p]).min(CLASSES)]
                        };
                        let o = ((top + y) * width + left + x) * 3;
                        rgb[o..o + 3].copy_from_slice(&colour);
                    }
                }
                for (j, point) in joints.chunks_exact(2).enumerate() {
                    // saturating casts: far-off or non-finite points are simply not drawn
                    let cx = (left as f32 + (point[0] + 0.5) * zoom as f32) as i32;
                    let cy = (top as f32 + (point[1] + 0.5) * zoom as f32) as i32;
                    let arm = zoom.max(2) as i32;
                    for d in -arm..=arm {
                        for (dx, dy) in [(d, 0), (0, d)] {
                            let (x, y) =
                                (i64::from(cx) + i64::from(dx), i64::from(cy) + i64::from(dy));
                            let inside = x >= left as i64
                                && x < (left + cell) as i64
                                && y >= top as i64
                                && y < (top + cell) as i64;
                            if inside {
                                let o = (y as usize * width + x as usize) * 3;
                                rgb[o..o + 3].copy_from_slice(&JOINT_COLOURS[j]);
                            }
                        }
                    }
                }
            }
        }
        Ok((width, height, rgb))
    }
}

/// Preview colours of mask values 0 (background) to `CLASSES`.
const MASK_PALETTE: [[u8; 3]; CLASSES + 1] = [
    [40, 40, 40],
    [230, 25, 75],
    [60, 180, 75],
    [255, 225, 25],
    [0, 130, 200],
    [245, 130, 48],
    [145, 30, 180],
    [70, 240, 240],
    [240, 50, 230],
];

/// Preview colours of the keypoints, in [`JOINT_NAMES`] order.
const JOINT_COLOURS: [[u8; 3]; JOINTS] = [
    [255, 255, 255],
    [255, 0, 0],
    [0, 255, 0],
    [0, 80, 255],
    [255, 255, 0],
];

/// The random stream of `(seed, index, stream)`.
fn stream_rng(seed: u64, index: u64, stream: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&index.to_le_bytes());
    key[16..24].copy_from_slice(&stream.to_le_bytes());
    ChaCha8Rng::from_seed(key)
}

/// The class of image `index`: its slot in its block's shuffled order of all classes.
fn class_of(seed: u64, index: u64) -> usize {
    let block = index / CLASSES as u64;
    let mut order: [usize; CLASSES] = std::array::from_fn(|c| c);
    order.shuffle(&mut stream_rng(seed, block, STREAM_CLASS_BLOCK));
    order[(index % CLASSES as u64) as usize]
}

/// A uniform draw in `[lo, hi)` (or `lo` when the range is empty); never panics.
fn uniform(rng: &mut ChaCha8Rng, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo).max(0.0) * rng.random::<f32>()
}

fn random_colour(rng: &mut ChaCha8Rng) -> [f32; 3] {
    [rng.random(), rng.random(), rng.random()]
}

fn distance(a: [f32; 3], b: [f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// Distance from colour `c` to the segment of colours from `a` to `b`.
fn distance_to_segment(c: [f32; 3], a: [f32; 3], b: [f32; 3]) -> f32 {
    let d = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
    let len2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
    let t = if len2 > 0.0 {
        (((c[0] - a[0]) * d[0] + (c[1] - a[1]) * d[1] + (c[2] - a[2]) * d[2]) / len2)
            .clamp(0.0, 1.0)
    } else {
        0.0
    };
    distance(c, [a[0] + t * d[0], a[1] + t * d[1], a[2] + t * d[2]])
}

/// The colour that differs from `c` by exactly 0.5 in every channel (distance √3/2).
pub fn marker_colour(c: [f32; 3]) -> [f32; 3] {
    c.map(|v| if v < 0.5 { v + 0.5 } else { v - 0.5 })
}

/// The background: a linear gradient from `from` to `to` along `direction`.
struct Gradient {
    from: [f32; 3],
    to: [f32; 3],
    dir: (f32, f32),
    extent: f32,
    half: f32,
}

impl Gradient {
    /// The gradient parameter in `[0, 1]` at pixel `(x, y)`.
    fn t(&self, x: f32, y: f32) -> f32 {
        let proj = (x - self.half) * self.dir.0 + (y - self.half) * self.dir.1;
        (0.5 + proj / self.extent).clamp(0.0, 1.0)
    }

    fn colour(&self, t: f32) -> [f32; 3] {
        std::array::from_fn(|c| self.from[c] + (self.to[c] - self.from[c]) * t)
    }

    /// The ends of the colour segment under a disc of radius `r` at `(x, y)`.
    fn under(&self, x: f32, y: f32, r: f32) -> ([f32; 3], [f32; 3]) {
        let dt = r / self.extent;
        let t = self.t(x, y);
        (
            self.colour((t - dt).clamp(0.0, 1.0)),
            self.colour((t + dt).clamp(0.0, 1.0)),
        )
    }
}

/// A colour at least [`MIN_CONTRAST`] from the background under the disc `(x, y, r)` and at
/// least `apart` from `other` (if any): the first of [`COLOUR_TRIES`] uniform draws that
/// qualifies, else the best of those draws and the cube's corners.
fn contrasting_colour(
    rng: &mut ChaCha8Rng,
    background: &Gradient,
    (x, y, r): (f32, f32, f32),
    other: Option<([f32; 3], f32)>,
) -> [f32; 3] {
    let (a, b) = background.under(x, y, r);
    let score = |c: [f32; 3]| {
        let bg = distance_to_segment(c, a, b) / MIN_CONTRAST;
        match other {
            Some((o, apart)) => bg.min(distance(c, o) / apart),
            None => bg,
        }
    };
    let mut best = ([0.0; 3], f32::NEG_INFINITY);
    for _ in 0..COLOUR_TRIES {
        let c = random_colour(rng);
        let s = score(c);
        if s >= 1.0 {
            return c;
        }
        if s > best.1 {
            best = (c, s);
        }
    }
    for corner in 0..8u8 {
        let c = [corner & 1, (corner >> 1) & 1, (corner >> 2) & 1].map(f32::from);
        let s = score(c);
        if s > best.1 {
            best = (c, s);
        }
    }
    best.0
}

/// Draws `object` over `image` (`[3, S, S]`) with 2 × 2 supersampling, and writes `label` to
/// the mask where at least half the samples are inside. `inside` tests the object's own frame.
fn draw(
    image: &mut [f32],
    mask: &mut [u8],
    size: usize,
    object: &Object,
    label: u8,
    inside: impl Fn(f32, f32) -> bool,
) {
    let plane = size * size;
    let reach = object.radius + 1.0;
    let last = (size - 1) as f32;
    let x0 = (object.cx - reach).floor().clamp(0.0, last) as usize;
    let x1 = (object.cx + reach).ceil().clamp(0.0, last) as usize;
    let y0 = (object.cy - reach).floor().clamp(0.0, last) as usize;
    let y1 = (object.cy + reach).ceil().clamp(0.0, last) as usize;
    let (sin, cos) = object.theta.sin_cos();
    let inv = 1.0 / object.radius.max(1e-3);
    for y in y0..=y1 {
        for x in x0..=x1 {
            let mut hits = 0u8;
            for (ox, oy) in [(-0.25, -0.25), (0.25, -0.25), (-0.25, 0.25), (0.25, 0.25)] {
                let dx = x as f32 + ox - object.cx;
                let dy = y as f32 + oy - object.cy;
                let u = (dx * cos + dy * sin) * inv;
                let v = (-dx * sin + dy * cos) * inv;
                hits += u8::from(inside(u, v));
            }
            if hits == 0 {
                continue;
            }
            let alpha = f32::from(hits) / 4.0;
            let p = y * size + x;
            for c in 0..3 {
                let v = &mut image[c * plane + p];
                *v += (object.colour[c] - *v) * alpha;
            }
            if hits >= 2 {
                mask[p] = label;
            }
        }
    }
}

/// The main object's keypoints `[JOINTS, 2]` in [`JOINT_NAMES`] order.
fn scene_keypoints(main: &Object) -> [f32; JOINTS * 2] {
    let at = |angle: f32, distance: f32| {
        let (s, c) = angle.sin_cos();
        (main.cx + distance * c, main.cy + distance * s)
    };
    let half = std::f32::consts::FRAC_PI_2;
    let points = [
        (main.cx, main.cy),
        at(main.theta, MARKER_DISTANCE * main.radius),
        at(main.theta + half, main.radius),
        at(main.theta - half, main.radius),
        at(main.theta + 2.0 * half, main.radius),
    ];
    let mut out = [0.0; JOINTS * 2];
    for (j, (x, y)) in points.into_iter().enumerate() {
        out[2 * j] = x;
        out[2 * j + 1] = y;
    }
    out
}

/// Renders scene `index` into `image` (`[3, S, S]`) and `mask` (`[S, S]`, zeroed), and returns
/// its main object. `size` must be at least [`MIN_SIZE`].
fn render(seed: u64, index: u64, size: usize, image: &mut [f32], mask: &mut [u8]) -> Object {
    let mut rng = stream_rng(seed, index, STREAM_IMAGE);
    let s = size as f32;
    let plane = size * size;

    // background gradient
    let angle = uniform(&mut rng, 0.0, std::f32::consts::TAU);
    let dir = (angle.cos(), angle.sin());
    let background = Gradient {
        from: random_colour(&mut rng),
        to: random_colour(&mut rng),
        dir,
        extent: (s * (dir.0.abs() + dir.1.abs())).max(1.0),
        half: (s - 1.0) / 2.0,
    };
    for y in 0..size {
        for x in 0..size {
            let colour = background.colour(background.t(x as f32, y as f32));
            for (c, v) in colour.into_iter().enumerate() {
                image[c * plane + y * size + x] = v;
            }
        }
    }

    // main object: its keypoints lie within `radius` of the centre, at least 1 px inside
    let shape = Shape::ALL[class_of(seed, index)];
    let radius = uniform(&mut rng, RADIUS_RANGE.0 * s, RADIUS_RANGE.1 * s);
    let cx = uniform(&mut rng, radius + 1.0, s - 2.0 - radius);
    let cy = uniform(&mut rng, radius + 1.0, s - 2.0 - radius);
    let theta = uniform(&mut rng, 0.0, std::f32::consts::TAU);
    let colour = contrasting_colour(&mut rng, &background, (cx, cy, radius), None);
    let main = Object {
        shape,
        cx,
        cy,
        radius,
        theta,
        colour,
    };

    // second object, behind the main one, with its centre outside most of the main one
    if rng.random::<f32>() < SECOND_OBJECT_PROBABILITY {
        let offset = rng.random_range(1..CLASSES);
        let other = Shape::ALL[(shape.class() + offset) % CLASSES];
        let r2 = radius * uniform(&mut rng, SECOND_RADIUS_RANGE.0, SECOND_RADIUS_RANGE.1);
        let theta2 = uniform(&mut rng, 0.0, std::f32::consts::TAU);
        for _ in 0..PLACEMENT_TRIES {
            let x = uniform(&mut rng, r2 + 1.0, s - 2.0 - r2);
            let y = uniform(&mut rng, r2 + 1.0, s - 2.0 - r2);
            if (x - cx).hypot(y - cy) >= 0.9 * radius + 0.3 * r2 {
                let colour2 =
                    contrasting_colour(&mut rng, &background, (x, y, r2), Some((colour, 0.3)));
                let second = Object {
                    shape: other,
                    cx: x,
                    cy: y,
                    radius: r2,
                    theta: theta2,
                    colour: colour2,
                };
                draw(
                    image,
                    mask,
                    size,
                    &second,
                    1 + other.class() as u8,
                    |u, v| other.contains(u, v),
                );
                break;
            }
        }
    }

    let label = 1 + shape.class() as u8;
    draw(image, mask, size, &main, label, |u, v| shape.contains(u, v));
    // the orientation marker: a dot of the complementary colour at angle θ
    let (sin, cos) = theta.sin_cos();
    let dot = Object {
        shape: Shape::Disc,
        cx: cx + MARKER_DISTANCE * radius * cos,
        cy: cy + MARKER_DISTANCE * radius * sin,
        radius: (MARKER_RADIUS * radius).max(MARKER_MIN_RADIUS),
        theta: 0.0,
        colour: marker_colour(colour),
    };
    draw(image, mask, size, &dot, label, |u, v| u * u + v * v <= 1.0);

    for v in image.iter_mut() {
        *v = (*v + uniform(&mut rng, -NOISE, NOISE)).clamp(0.0, 1.0);
    }
    main
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_shapes_have_their_heading_vertex_and_fit_the_unit_disc() {
        for shape in Shape::ALL {
            // the marker dot's centre is inside every shape
            assert!(shape.contains(MARKER_DISTANCE, 0.0), "{}", shape.name());
            for k in 0..360 {
                let a = (k as f32).to_radians();
                assert!(
                    !shape.contains(1.01 * a.cos(), 1.01 * a.sin()),
                    "{}",
                    shape.name()
                );
            }
        }
        assert!(Shape::Ring.contains(0.8, 0.0) && !Shape::Ring.contains(0.0, 0.0));
        assert!(Shape::Star.contains(0.95, 0.0) && !Shape::Star.contains(0.6, 0.45));
        assert!(Shape::Square.contains(0.9, 0.0) && !Shape::Square.contains(0.6, 0.6));
        assert!(Shape::Rhombus.contains(0.9, 0.0) && !Shape::Rhombus.contains(0.0, 0.6));
        assert!(Shape::Triangle.contains(0.9, 0.0) && !Shape::Triangle.contains(-0.6, 0.0));
        assert!(Shape::Cross.contains(0.0, 0.9) && !Shape::Cross.contains(0.5, 0.5));
        assert!(Shape::Hexagon.contains(0.95, 0.0) && !Shape::Hexagon.contains(0.0, 0.9));
        for (c, shape) in Shape::ALL.iter().enumerate() {
            assert_eq!(Shape::from_class(c), Some(*shape));
            assert_eq!(shape.class(), c);
        }
        assert_eq!(Shape::from_class(CLASSES), None);
    }

    #[test]
    fn heads_a_range_of_scenes_equals_that_part_of_the_set() {
        let all = SyntheticSet::generate(5, 12, 32).expect("set");
        let part = SyntheticSet::generate_range(5, 7..12, 32).expect("part");
        let pixels = 32 * 32;
        assert_eq!(part.len(), 5);
        assert_eq!(part.images, all.images[7 * 3 * pixels..]);
        assert_eq!(part.masks, all.masks[7 * pixels..]);
        assert_eq!(part.classes, all.classes[7..]);
        assert_eq!(part.keypoints, all.keypoints[7 * JOINTS * 2..]);
    }

    #[test]
    fn heads_classes_are_balanced_per_block() {
        for block in 0..50u64 {
            let mut seen = [false; CLASSES];
            for i in 0..CLASSES as u64 {
                seen[class_of(9, block * CLASSES as u64 + i)] = true;
            }
            assert!(seen.iter().all(|&s| s), "block {block}");
        }
        // the order differs between blocks and seeds
        let order = |seed, block: u64| -> Vec<usize> {
            (0..CLASSES as u64)
                .map(|i| class_of(seed, block * CLASSES as u64 + i))
                .collect()
        };
        assert_ne!(order(9, 0), order(9, 1));
        assert_ne!(order(9, 0), order(10, 0));
    }

    #[test]
    fn heads_marker_colour_is_far_from_the_object_colour() {
        for c in [
            [0.0, 0.0, 0.0],
            [0.5, 0.5, 0.5],
            [1.0, 0.2, 0.7],
            [0.49, 0.51, 1.0],
        ] {
            let m = marker_colour(c);
            assert!((distance(c, m) - 0.866).abs() < 1e-3);
            assert!(m.iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }

    #[test]
    fn heads_contrasting_colour_keeps_away_from_the_background() {
        let mut rng = stream_rng(1, 2, 3);
        for _ in 0..200 {
            let grey = [0.5, 0.5, 0.5];
            let background = Gradient {
                from: random_colour(&mut rng),
                to: grey,
                dir: (1.0, 0.0),
                extent: 64.0,
                half: 31.5,
            };
            let c = contrasting_colour(&mut rng, &background, (32.0, 32.0, 20.0), None);
            let (a, b) = background.under(32.0, 32.0, 20.0);
            assert!(distance_to_segment(c, a, b) >= MIN_CONTRAST);
        }
    }
}
