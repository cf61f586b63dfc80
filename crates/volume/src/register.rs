//! Rigid (6-DOF) registration of two scans of one visit on normalised mutual information.
//!
//! Two sequences of one visit (T1Gd and FLAIR, say) are usually exported each on its own grid
//! (voxel size, slice thickness, field of view, obliquity), and their headers already place
//! them in one scanner world. The patient may still have moved between the sequences, so
//! [`register_rigid`] refines the header alignment by a rigid motion that maximises the
//! normalised mutual information (Studholme's NMI, `(H(F) + H(M)) / H(F, M)`) of the two scans'
//! intensities: the contrasts need not be related by any monotonic mapping.
//!
//! The result is `moving_world_from_fixed_world`, the transform
//! [`crate::regrid::resample`] takes as `source_world_from_target_world` to bring the moving
//! scan onto the fixed scan's grid.
//!
//! Method:
//! - a pyramid of levels, coarse to fine ([`RegistrationOptions::levels_mm`], default 8, 4 and
//!   2 mm): at each level both scans are block-averaged by integer factors per voxel axis to
//!   about the level's spacing (a 5 mm slice axis stays 5 mm at the 2 mm level), then smoothed
//!   with `[¼ ½ ¼]` along each axis no coarser than 1.5 × the level (so that the two scans'
//!   kernels are alike whatever their voxel shapes and obliquity, and noise is reduced);
//! - the fixed scan is sampled at the centres of its foreground voxels at that level
//!   (foreground: above [`RegistrationOptions::foreground_fraction`] of the intensity range up
//!   to a robust maximum, the 99.5th percentile), every k-th of them when there are more than
//!   [`RegistrationOptions::max_samples`]; the moving scan is read there through world
//!   coordinates by trilinear interpolation; samples that fall outside the moving grid are
//!   skipped;
//! - the joint histogram has [`RegistrationOptions::bins`] bins per scan over its range (fixed
//!   values binned to the nearest bin, interpolated moving values split linearly between the
//!   two nearest, which keeps the cost continuous in the parameters);
//! - Powell's method (golden-section line searches within the search ranges) optimises the
//!   three rotations and three translations about the fixed foreground's centroid, with 1°
//!   weighed as 1 mm (the arc of 1° at a radius of 57 mm, about half a brain's).
//!
//! Everything is deterministic (no random sampling) and single-threaded.

use crate::geometry::Affine;
use crate::{Result, Volume, VolumeError};

/// A rigid motion: rotations about the world axes through a centre, then a translation.
///
/// As a map of world points (RAS+ mm, see [`crate::geometry`]) about the centre `c`:
/// `p ↦ R · (p − c) + c + t` with `R = Rz · Ry · Rx` (the rotation about x applied first), each
/// rotation counter-clockwise looking from the positive end of its axis towards the origin
/// (right-hand rule).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Rigid {
    /// Rotations in degrees about the world x (left–right), y (posterior–anterior) and
    /// z (inferior–superior) axes.
    pub rotation_deg: [f64; 3],
    /// Translation in mm along world x, y and z, applied after the rotation.
    pub translation_mm: [f64; 3],
}

impl Rigid {
    /// No motion.
    pub const IDENTITY: Rigid = Rigid {
        rotation_deg: [0.0; 3],
        translation_mm: [0.0; 3],
    };

    /// The 3×3 rotation `R = Rz · Ry · Rx` (row-major).
    pub fn rotation_matrix(&self) -> [[f64; 3]; 3] {
        let [a, b, g] = self.rotation_deg.map(f64::to_radians);
        let (sa, ca) = a.sin_cos();
        let (sb, cb) = b.sin_cos();
        let (sg, cg) = g.sin_cos();
        [
            [cg * cb, cg * sb * sa - sg * ca, cg * sb * ca + sg * sa],
            [sg * cb, sg * sb * sa + cg * ca, sg * sb * ca - cg * sa],
            [-sb, cb * sa, cb * ca],
        ]
    }

    /// The motion as a world-to-world affine about `centre_mm`: `p ↦ R · (p − c) + c + t`.
    ///
    /// For a [`Registration`] this is `moving_world_from_fixed_world`: it takes a point of the
    /// fixed scan's world to where the same anatomy lies in the moving scan's world.
    pub fn to_affine(&self, centre_mm: [f64; 3]) -> Affine {
        let r = self.rotation_matrix();
        let mut m = Affine::IDENTITY;
        for row in 0..3 {
            m.0[row][..3].copy_from_slice(&r[row]);
            let rc: f64 = (0..3).map(|k| r[row][k] * centre_mm[k]).sum();
            m.0[row][3] = centre_mm[row] - rc + self.translation_mm[row];
        }
        m
    }

    /// The motion of six optimisation parameters: degrees, then mm.
    fn from_params(p: &[f64; 6]) -> Rigid {
        Rigid {
            rotation_deg: [p[0], p[1], p[2]],
            translation_mm: [p[3], p[4], p[5]],
        }
    }
}

/// Settings of [`register_rigid`]; [`Default`] gives the documented defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrationOptions {
    /// Histogram bins per scan (default 32; 4 to 256).
    pub bins: usize,
    /// Pyramid levels in mm, coarse to fine (default 8, 4, 2 mm). Each scan is block-averaged
    /// along each voxel axis by the integer factor nearest to level ÷ spacing (at least 1), so a
    /// level finer than a scan's voxels uses the scan as it is. The last level measures the
    /// reported mutual information and overlap.
    pub levels_mm: Vec<f64>,
    /// At most this many fixed-foreground samples per level (default 40 000; at least 1 000):
    /// when a level has more foreground voxels, every k-th is used.
    pub max_samples: usize,
    /// Powell iterations (rounds of six line searches) per level, at most (default 10).
    pub max_iterations: usize,
    /// Search range of each rotation, ± degrees from the header alignment (default 20°).
    pub max_rotation_deg: f64,
    /// Search range of each translation, ± mm from the header alignment (default 40 mm).
    pub max_translation_mm: f64,
    /// Line-search tolerance at the finest level, in mm (translations) and degrees
    /// (rotations) (default 0.05); coarser levels scale it by their spacing.
    pub tolerance_mm: f64,
    /// Foreground: voxels above `min + foreground_fraction · (robust max − min)`, the robust
    /// maximum being the 99.5th percentile of the voxels above the minimum (default 0.05).
    pub foreground_fraction: f64,
    /// Refuse the pair ([`VolumeError::NoOverlap`]) when, at the header alignment, less than
    /// this fraction of the fixed scan's foreground samples lie on the moving scan's
    /// foreground (default 0.2).
    pub min_overlap: f64,
}

impl Default for RegistrationOptions {
    fn default() -> Self {
        RegistrationOptions {
            bins: 32,
            levels_mm: vec![8.0, 4.0, 2.0],
            max_samples: 40_000,
            max_iterations: 10,
            max_rotation_deg: 20.0,
            max_translation_mm: 40.0,
            tolerance_mm: 0.05,
            foreground_fraction: 0.05,
            min_overlap: 0.2,
        }
    }
}

impl RegistrationOptions {
    fn validate(&self) -> Result<()> {
        let bad = |detail: String| Err(VolumeError::BadRegistrationOptions(detail));
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !(4..=256).contains(&self.bins) {
            return bad(format!(
                "{} histogram bins (4 to 256 are allowed)",
                self.bins
            ));
        }
        if self.levels_mm.is_empty() {
            return bad("no pyramid levels".into());
        }
        if let Some(l) = self.levels_mm.iter().find(|&&l| !positive(l)) {
            return bad(format!("pyramid level of {l} mm (levels must be positive)"));
        }
        if self.max_samples < 1_000 {
            return bad(format!(
                "{} samples per level (at least 1000 are needed)",
                self.max_samples
            ));
        }
        for (name, v) in [
            ("rotation range (degrees)", self.max_rotation_deg),
            ("translation range (mm)", self.max_translation_mm),
            ("tolerance (mm)", self.tolerance_mm),
        ] {
            if !positive(v) {
                return bad(format!("{name} of {v} (it must be positive)"));
            }
        }
        for (name, v) in [
            ("foreground fraction", self.foreground_fraction),
            ("minimum overlap", self.min_overlap),
        ] {
            if !(v.is_finite() && (0.0..1.0).contains(&v)) {
                return bad(format!("{name} of {v} (0 ≤ it < 1)"));
            }
        }
        Ok(())
    }
}

/// The outcome of [`register_rigid`].
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    /// The motion found, about [`Registration::centre_mm`].
    pub transform: Rigid,
    /// The centre of the rotations: the fixed scan's foreground centroid (world mm).
    pub centre_mm: [f64; 3],
    /// `transform.to_affine(centre_mm)`: a fixed-world point ↦ the moving-world point of the same
    /// anatomy; pass it to [`crate::regrid::resample`] as `source_world_from_target_world` with
    /// the moving scan as source and the fixed grid as target.
    pub moving_world_from_fixed_world: Affine,
    /// Normalised mutual information `(H(F) + H(M)) / H(F, M)` (1 = independent, 2 = each
    /// determines the other) at the finest level after registration.
    pub mutual_information: f64,
    /// The same at the header alignment (identity transform).
    pub initial_mutual_information: f64,
    /// Fraction of the fixed scan's foreground samples (finest level) that lie on the moving
    /// scan's foreground after registration.
    pub overlap_fraction: f64,
    /// The same at the header alignment.
    pub initial_overlap_fraction: f64,
    /// The world-axis-aligned box `[min, max]` (mm) around the fixed scan's foreground voxel
    /// centres at the finest level.
    pub fixed_foreground_bounds_mm: [[f64; 3]; 2],
    /// Powell iterations, all levels together.
    pub iterations: usize,
    /// Evaluations of the mutual information, all levels together.
    pub evaluations: usize,
}

impl Registration {
    /// The largest distance (mm) between where [`Registration::moving_world_from_fixed_world`]
    /// and `other` take the eight corners of the fixed foreground's box: how far apart two
    /// transforms are at the brain's extent.
    pub fn max_displacement_mm(&self, other: &Affine) -> f64 {
        let [lo, hi] = self.fixed_foreground_bounds_mm;
        let mut worst: f64 = 0.0;
        for corner in 0..8 {
            let p = [0, 1, 2].map(|a| if corner >> a & 1 == 1 { hi[a] } else { lo[a] });
            let (u, v) = (self.moving_world_from_fixed_world.apply(p), other.apply(p));
            let d = (0..3).map(|a| (u[a] - v[a]).powi(2)).sum::<f64>().sqrt();
            worst = worst.max(d);
        }
        worst
    }

    /// How far registration moved the scans from their header alignment: the largest
    /// displacement (mm) of the fixed foreground box's corners.
    pub fn correction_mm(&self) -> f64 {
        self.max_displacement_mm(&Affine::IDENTITY)
    }
}

/// Rigidly registers `moving` to `fixed` on normalised mutual information, starting from their
/// header alignment (see the module docs for the method).
///
/// Errors: [`VolumeError::UnusableScan`] for a scan with NaN/infinite voxels, no voxels, a
/// constant image or too little foreground; [`VolumeError::NoOverlap`] when the scans'
/// foregrounds barely overlap at their header positions (different patients or visits, or a
/// wrong file); [`VolumeError::BadRegistrationOptions`]; [`VolumeError::SingularTransform`]
/// for a degenerate affine.
pub fn register_rigid(
    fixed: &Volume,
    moving: &Volume,
    options: &RegistrationOptions,
) -> Result<Registration> {
    options.validate()?;
    let fixed_range = IntensityRange::of(fixed, "fixed", options.foreground_fraction)?;
    let moving_range = IntensityRange::of(moving, "moving", options.foreground_fraction)?;
    let singular = |what| VolumeError::SingularTransform { what };
    let fixed_affine = fixed.world_from_voxel();
    let moving_affine = moving.world_from_voxel();
    fixed_affine
        .inverse()
        .ok_or_else(|| singular("fixed scan's affine"))?;

    let mut levels = Vec::with_capacity(options.levels_mm.len());
    for &spacing in &options.levels_mm {
        let fixed_grid = Grid::block_mean(fixed, fixed_affine, spacing);
        let moving_grid = Grid::block_mean(moving, moving_affine, spacing);
        let moving_voxel_from_world = moving_grid
            .world_from_voxel
            .inverse()
            .ok_or_else(|| singular("moving scan's affine"))?;
        levels.push(Level::new(
            spacing,
            &fixed_grid,
            &fixed_range,
            moving_grid,
            moving_voxel_from_world,
            &moving_range,
            options,
        ));
    }
    let Some(finest) = levels.last() else {
        return Err(VolumeError::BadRegistrationOptions(
            "no pyramid levels".into(),
        ));
    };
    if finest.samples.len() < MIN_SAMPLES {
        return Err(VolumeError::UnusableScan {
            which: "fixed",
            detail: format!(
                "has only {} voxels above its foreground threshold ({:.4}) at the {} mm level; at least {MIN_SAMPLES} are needed",
                finest.samples.len(),
                fixed_range.threshold,
                finest.spacing_mm
            ),
        });
    }
    let centre_mm = finest.centroid_mm;
    let bounds = finest.bounds_mm;

    let mut evaluations = 0usize;
    let initial = finest.evaluate(&Affine::IDENTITY);
    evaluations += 1;
    let initial_overlap = initial.moving_foreground as f64 / finest.samples.len() as f64;
    if initial_overlap < options.min_overlap {
        return Err(VolumeError::NoOverlap {
            overlap_percent: 100.0 * initial_overlap,
            required_percent: 100.0 * options.min_overlap,
            fixed_centre_mm: centre_mm,
            moving_centre_mm: finest.moving_foreground_centroid(),
        });
    }

    let mut x = [0.0f64; 6];
    let mut iterations = 0usize;
    let finest_spacing = finest.spacing_mm;
    let (rot, trans) = (options.max_rotation_deg, options.max_translation_mm);
    let bounds_box = Bounds {
        lower: [-rot, -rot, -rot, -trans, -trans, -trans],
        upper: [rot, rot, rot, trans, trans, trans],
    };
    for level in &levels {
        if level.samples.len() < MIN_SAMPLES {
            continue;
        }
        let start = level.evaluate(&Rigid::from_params(&x).to_affine(centre_mm));
        evaluations += 1;
        // The optimiser may not slide the scans apart: fewer than half the samples that lay on
        // the moving grid at the start of the level count as the worst possible match.
        let min_inside = (start.inside / 2).max(MIN_SAMPLES);
        let mut cost = |p: &[f64; 6]| {
            evaluations += 1;
            let e = level.evaluate(&Rigid::from_params(p).to_affine(centre_mm));
            if e.inside < min_inside {
                0.0
            } else {
                -e.nmi
            }
        };
        let fx = if start.inside < min_inside {
            0.0
        } else {
            -start.nmi
        };
        let scale = level.spacing_mm / finest_spacing;
        let search = Search {
            bounds: &bounds_box,
            step: 0.5 * level.spacing_mm,
            tolerance: options.tolerance_mm * scale,
        };
        iterations += powell(&mut cost, &mut x, fx, &search, options.max_iterations);
    }

    let transform = Rigid::from_params(&x);
    let moving_world_from_fixed_world = transform.to_affine(centre_mm);
    let last = finest.evaluate(&moving_world_from_fixed_world);
    evaluations += 1;
    Ok(Registration {
        transform,
        centre_mm,
        moving_world_from_fixed_world,
        mutual_information: last.nmi,
        initial_mutual_information: initial.nmi,
        overlap_fraction: last.moving_foreground as f64 / finest.samples.len() as f64,
        initial_overlap_fraction: initial_overlap,
        fixed_foreground_bounds_mm: bounds,
        iterations,
        evaluations,
    })
}

/// Fewest fixed samples a level needs to be used (and the finest level to register at all).
const MIN_SAMPLES: usize = 500;

/// At most this many voxels are sorted to find a scan's robust maximum.
const PERCENTILE_SAMPLES: usize = 1 << 20;

/// A scan's intensity range for the histogram and its foreground threshold.
#[derive(Debug, Clone, Copy)]
struct IntensityRange {
    min: f64,
    /// 99.5th percentile of the voxels above `min`.
    max: f64,
    threshold: f64,
}

impl IntensityRange {
    fn of(volume: &Volume, which: &'static str, foreground_fraction: f64) -> Result<Self> {
        let unusable = |detail: String| VolumeError::UnusableScan { which, detail };
        let data = &volume.data;
        if data.is_empty() {
            return Err(unusable("has no voxels".into()));
        }
        let nonfinite = data.iter().filter(|v| !v.is_finite()).count();
        if nonfinite > 0 {
            return Err(unusable(format!(
                "has {nonfinite} NaN or infinite voxels (of {}); replace them (e.g. by 0) first",
                data.len()
            )));
        }
        let min = data.iter().copied().fold(f32::INFINITY, f32::min);
        let stride = data.len().div_ceil(PERCENTILE_SAMPLES).max(1);
        let mut above: Vec<f32> = data
            .iter()
            .step_by(stride)
            .copied()
            .filter(|&v| v > min)
            .collect();
        if above.is_empty() {
            above = data.iter().copied().filter(|&v| v > min).collect();
        }
        if above.is_empty() {
            return Err(unusable(if min == 0.0 {
                "is empty (every voxel is 0)".into()
            } else {
                format!("is constant (every voxel is {min})")
            }));
        }
        let rank = ((above.len() - 1) as f64 * 0.995).round() as usize;
        let (_, max, _) = above.select_nth_unstable_by(rank, f32::total_cmp);
        let (min, max) = (f64::from(min), f64::from(*max));
        Ok(IntensityRange {
            min,
            max,
            threshold: min + foreground_fraction * (max - min),
        })
    }

    /// `v` scaled so that `min ↦ 0` and the robust maximum ↦ `top`, clamped to `[0, top]`.
    fn position(&self, v: f64, top: f64) -> f64 {
        ((v - self.min) / (self.max - self.min) * top).clamp(0.0, top)
    }
}

/// A scan block-averaged to a pyramid level.
struct Grid {
    data: Vec<f32>,
    dims: [usize; 3],
    world_from_voxel: Affine,
}

impl Grid {
    /// `volume` averaged over blocks of `round(spacing_mm / voxel spacing)` voxels (at least 1)
    /// along each axis; a block's value sits at the centre of its voxels.
    fn block_mean(volume: &Volume, world_from_voxel: Affine, spacing_mm: f64) -> Grid {
        let spacing = world_from_voxel.column_norms();
        let factors = [0, 1, 2].map(|a| ((spacing_mm / spacing[a]).round() as usize).max(1));
        let dims = volume.dims();
        let out_dims = [0, 1, 2].map(|a| dims[a].div_ceil(factors[a]));
        let n_out: usize = out_dims.iter().product();
        let data = if factors == [1, 1, 1] {
            volume.data.clone()
        } else {
            let mut sum = vec![0.0f64; n_out];
            let mut count = vec![0u32; n_out];
            for k in 0..dims[2] {
                for j in 0..dims[1] {
                    let row = dims[0] * (j + dims[1] * k);
                    let out_row = out_dims[0] * (j / factors[1] + out_dims[1] * (k / factors[2]));
                    for (i, &v) in volume.data[row..row + dims[0]].iter().enumerate() {
                        sum[out_row + i / factors[0]] += f64::from(v);
                        count[out_row + i / factors[0]] += 1;
                    }
                }
            }
            sum.iter()
                .zip(&count)
                .map(|(&s, &n)| (s / f64::from(n.max(1))) as f32)
                .collect()
        };
        let mut data = data;
        let coarse_spacing: [f64; 3] = std::array::from_fn(|a| spacing[a] * factors[a] as f64);
        for (axis, &s) in coarse_spacing.iter().enumerate() {
            if s <= SMOOTH_UP_TO * spacing_mm {
                binomial(&mut data, out_dims, axis);
            }
        }
        // Coarse index c ↦ fine coordinate c·f + (f − 1)/2.
        let mut fine_from_coarse = Affine::IDENTITY;
        for (a, &f) in factors.iter().enumerate() {
            fine_from_coarse.0[a][a] = f as f64;
            fine_from_coarse.0[a][3] = (f as f64 - 1.0) / 2.0;
        }
        Grid {
            data,
            dims: out_dims,
            world_from_voxel: world_from_voxel.compose(&fine_from_coarse),
        }
    }
}

/// After block averaging, a level is smoothed along each axis whose spacing is at most this
/// many times the level's: the box becomes a smoother kernel, alike for both scans whatever
/// their voxel shapes and obliquity, and the noise is reduced (a thick-slice axis is left as
/// it is).
const SMOOTH_UP_TO: f64 = 1.5;

/// Smooths `data` on `dims` along `axis` with the kernel `[¼, ½, ¼]` (edges repeated).
fn binomial(data: &mut [f32], dims: [usize; 3], axis: usize) {
    let n = dims[axis];
    if n < 2 {
        return;
    }
    let stride = [1, dims[0], dims[0] * dims[1]][axis];
    let mut line = vec![0.0f32; n];
    let lines: usize = dims.iter().product::<usize>() / n;
    for l in 0..lines {
        // The first voxel of line `l`: the index with the axis coordinate 0.
        let start = if axis == 0 {
            l * n
        } else {
            let below = l % stride;
            let above = l / stride;
            below + above * stride * n
        };
        for (t, v) in line.iter_mut().enumerate() {
            *v = data[start + t * stride];
        }
        for t in 0..n {
            let prev = line[t.saturating_sub(1)];
            let next = line[(t + 1).min(n - 1)];
            data[start + t * stride] = 0.25 * prev + 0.5 * line[t] + 0.25 * next;
        }
    }
}

/// One pyramid level: the fixed samples and the moving grid they are compared with.
struct Level {
    spacing_mm: f64,
    /// World positions (mm) of the fixed samples.
    samples: Vec<[f64; 3]>,
    /// The fixed value's histogram bin of each sample.
    fixed_bins: Vec<u8>,
    /// Centroid of all fixed foreground voxels of the level (before thinning).
    centroid_mm: [f64; 3],
    /// Their world-axis-aligned bounding box.
    bounds_mm: [[f64; 3]; 2],
    moving: Grid,
    moving_voxel_from_world: Affine,
    moving_range: IntensityRange,
    bins: usize,
}

/// The match of the scans under one transform.
#[derive(Debug, Clone, Copy)]
struct Evaluation {
    nmi: f64,
    /// Samples that fell on the moving grid.
    inside: usize,
    /// Samples that fell on the moving scan's foreground.
    moving_foreground: usize,
}

impl Level {
    fn new(
        spacing_mm: f64,
        fixed: &Grid,
        fixed_range: &IntensityRange,
        moving: Grid,
        moving_voxel_from_world: Affine,
        moving_range: &IntensityRange,
        options: &RegistrationOptions,
    ) -> Level {
        let [nx, ny, nz] = fixed.dims;
        let foreground: Vec<usize> = (0..fixed.data.len())
            .filter(|&i| f64::from(fixed.data[i]) > fixed_range.threshold)
            .collect();
        let voxel = |i: usize| [i % nx, (i / nx) % ny, i / (nx * ny)].map(|c| c as f64);
        debug_assert!(foreground.iter().all(|&i| i / (nx * ny) < nz));
        let mut sum = [0.0f64; 3];
        let mut bounds_mm = [[f64::INFINITY; 3], [f64::NEG_INFINITY; 3]];
        for &i in &foreground {
            let p = fixed.world_from_voxel.apply(voxel(i));
            for a in 0..3 {
                sum[a] += p[a];
                bounds_mm[0][a] = bounds_mm[0][a].min(p[a]);
                bounds_mm[1][a] = bounds_mm[1][a].max(p[a]);
            }
        }
        let centroid_mm = sum.map(|s| s / foreground.len().max(1) as f64);
        let stride = foreground.len().div_ceil(options.max_samples).max(1);
        let top = options.bins as f64;
        let mut samples = Vec::with_capacity(foreground.len() / stride + 1);
        let mut fixed_bins = Vec::with_capacity(foreground.len() / stride + 1);
        for &i in foreground.iter().step_by(stride) {
            samples.push(fixed.world_from_voxel.apply(voxel(i)));
            let bin = fixed_range.position(f64::from(fixed.data[i]), top) as usize;
            fixed_bins.push(bin.min(options.bins - 1) as u8);
        }
        Level {
            spacing_mm,
            samples,
            fixed_bins,
            centroid_mm,
            bounds_mm,
            moving,
            moving_voxel_from_world,
            moving_range: *moving_range,
            bins: options.bins,
        }
    }

    /// The NMI of the fixed samples and the moving scan moved by `moving_world_from_fixed_world`.
    fn evaluate(&self, moving_world_from_fixed_world: &Affine) -> Evaluation {
        let map = self
            .moving_voxel_from_world
            .compose(moving_world_from_fixed_world)
            .0;
        let sampler = Sampler::new(&self.moving);
        let bins = self.bins;
        let top = (bins - 1) as f64;
        let mut hist = vec![0.0f64; bins * bins];
        let (mut inside, mut moving_foreground) = (0usize, 0usize);
        for (p, &fixed_bin) in self.samples.iter().zip(&self.fixed_bins) {
            let q = [0, 1, 2]
                .map(|r| map[r][0] * p[0] + map[r][1] * p[1] + map[r][2] * p[2] + map[r][3]);
            let Some(v) = sampler.at(q) else {
                continue;
            };
            inside += 1;
            if v > self.moving_range.threshold {
                moving_foreground += 1;
            }
            let pos = self.moving_range.position(v, top);
            let low = (pos as usize).min(bins - 1);
            let w = pos - low as f64;
            let row = usize::from(fixed_bin) * bins;
            hist[row + low] += 1.0 - w;
            if w > 0.0 {
                hist[row + low + 1] += w;
            }
        }
        Evaluation {
            nmi: normalised_mutual_information(&hist, bins),
            inside,
            moving_foreground,
        }
    }

    /// Centroid (world mm) of the moving scan's foreground at this level.
    fn moving_foreground_centroid(&self) -> [f64; 3] {
        let [nx, ny, _] = self.moving.dims;
        let mut sum = [0.0f64; 3];
        let mut n = 0usize;
        for (i, &v) in self.moving.data.iter().enumerate() {
            if f64::from(v) > self.moving_range.threshold {
                let p = self
                    .moving
                    .world_from_voxel
                    .apply([i % nx, (i / nx) % ny, i / (nx * ny)].map(|c| c as f64));
                for a in 0..3 {
                    sum[a] += p[a];
                }
                n += 1;
            }
        }
        sum.map(|s| s / n.max(1) as f64)
    }
}

/// Trilinear reads of a grid at voxel coordinates; points outside `[0, n − 1]` along an axis
/// (`[−0.5, 0.5]` for an axis of one voxel) read nothing.
struct Sampler<'a> {
    data: &'a [f32],
    lo: [f64; 3],
    hi: [f64; 3],
    /// Largest lower corner index per axis.
    last: [usize; 3],
    /// Flat-index steps per axis.
    stride: [usize; 3],
    /// Flat-index step to the upper neighbour (0 on an axis of one voxel).
    next: [usize; 3],
}

impl<'a> Sampler<'a> {
    fn new(grid: &'a Grid) -> Self {
        let d = grid.dims;
        let stride = [1, d[0], d[0] * d[1]];
        let single = d.map(|n| n <= 1);
        Sampler {
            data: &grid.data,
            lo: single.map(|s| if s { -0.5 } else { 0.0 }),
            hi: [0, 1, 2].map(|a| if single[a] { 0.5 } else { (d[a] - 1) as f64 }),
            last: d.map(|n| n.saturating_sub(2)),
            stride,
            next: [0, 1, 2].map(|a| if single[a] { 0 } else { stride[a] }),
        }
    }

    #[inline]
    fn at(&self, q: [f64; 3]) -> Option<f64> {
        let mut base = 0usize;
        let mut t = [0.0f64; 3];
        for a in 0..3 {
            if !(q[a] >= self.lo[a] && q[a] <= self.hi[a]) {
                return None;
            }
            if self.next[a] != 0 {
                let i = (q[a] as usize).min(self.last[a]);
                t[a] = q[a] - i as f64;
                base += i * self.stride[a];
            }
        }
        let [nx, ny, nz] = self.next;
        let v = |o: usize| f64::from(self.data[base + o]);
        let c00 = v(0) + t[0] * (v(nx) - v(0));
        let c10 = v(ny) + t[0] * (v(ny + nx) - v(ny));
        let c01 = v(nz) + t[0] * (v(nz + nx) - v(nz));
        let c11 = v(nz + ny) + t[0] * (v(nz + ny + nx) - v(nz + ny));
        let c0 = c00 + t[1] * (c10 - c00);
        let c1 = c01 + t[1] * (c11 - c01);
        Some(c0 + t[2] * (c1 - c0))
    }
}

/// `(H(F) + H(M)) / H(F, M)` of a joint histogram (rows: fixed bins); 0 for an empty one, 2
/// when the joint entropy is 0 (both constant).
fn normalised_mutual_information(hist: &[f64], bins: usize) -> f64 {
    let total: f64 = hist.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    let plogp = |c: f64| {
        if c > 0.0 {
            let p = c / total;
            -p * p.ln()
        } else {
            0.0
        }
    };
    let mut h_joint = 0.0;
    let mut h_fixed = 0.0;
    let mut columns = vec![0.0f64; bins];
    for row in hist.chunks_exact(bins) {
        let mut row_sum = 0.0;
        for (c, &v) in row.iter().enumerate() {
            h_joint += plogp(v);
            row_sum += v;
            columns[c] += v;
        }
        h_fixed += plogp(row_sum);
    }
    let h_moving: f64 = columns.iter().map(|&c| plogp(c)).sum();
    if h_joint <= 0.0 {
        2.0
    } else {
        (h_fixed + h_moving) / h_joint
    }
}

/// A box of allowed parameters.
struct Bounds {
    lower: [f64; 6],
    upper: [f64; 6],
}

/// How one level searches: within `bounds`, first steps of `step`, to `tolerance`.
struct Search<'a> {
    bounds: &'a Bounds,
    step: f64,
    tolerance: f64,
}

/// The golden ratio's conjugate, 0.618….
const GOLDEN: f64 = 0.618_033_988_749_894_8;

/// Powell's direction-set method from `x` (cost `fx` there), at most `max_iterations` rounds;
/// leaves the best point found in `x` and returns the rounds run.
fn powell(
    cost: &mut impl FnMut(&[f64; 6]) -> f64,
    x: &mut [f64; 6],
    mut fx: f64,
    search: &Search<'_>,
    max_iterations: usize,
) -> usize {
    let mut directions: Vec<[f64; 6]> = (0..6)
        .map(|i| {
            let mut d = [0.0; 6];
            d[i] = 1.0;
            d
        })
        .collect();
    for iteration in 1..=max_iterations {
        let (x_start, f_start) = (*x, fx);
        let (mut biggest, mut biggest_at) = (0.0f64, 0usize);
        for (i, d) in directions.iter().enumerate() {
            let before = fx;
            let (t, f) = line_minimum(cost, x, d, fx, search);
            for a in 0..6 {
                x[a] += t * d[a];
            }
            fx = f;
            if before - fx > biggest {
                (biggest, biggest_at) = (before - fx, i);
            }
        }
        let moved: [f64; 6] = std::array::from_fn(|a| x[a] - x_start[a]);
        let distance = moved.iter().map(|m| m * m).sum::<f64>().sqrt();
        if distance < search.tolerance || f_start - fx <= 1e-7 * (f_start.abs() + fx.abs()) {
            return iteration;
        }
        // Powell's test for replacing the direction of largest decrease by the round's move.
        let extrapolated: [f64; 6] = std::array::from_fn(|a| x[a] + moved[a]);
        let inside = (0..6).all(|a| {
            extrapolated[a] >= search.bounds.lower[a] && extrapolated[a] <= search.bounds.upper[a]
        });
        if !inside {
            continue;
        }
        let fe = cost(&extrapolated);
        if fe < f_start {
            let t = 2.0 * (f_start - 2.0 * fx + fe) * (f_start - fx - biggest).powi(2)
                - biggest * (f_start - fe).powi(2);
            if t < 0.0 {
                let d = moved.map(|m| m / distance);
                let (s, f) = line_minimum(cost, x, &d, fx, search);
                for a in 0..6 {
                    x[a] += s * d[a];
                }
                fx = f;
                directions[biggest_at] = directions[5];
                directions[5] = d;
            }
        }
    }
    max_iterations
}

/// The step `t` along `d` (unit length) from `x` that minimises the cost within the bounds,
/// with the cost there: bracketing from `search.step`, then golden-section search to
/// `search.tolerance`. Never worse than `fx` (the cost at `t = 0`).
fn line_minimum(
    cost: &mut impl FnMut(&[f64; 6]) -> f64,
    x: &[f64; 6],
    d: &[f64; 6],
    fx: f64,
    search: &Search<'_>,
) -> (f64, f64) {
    // The range of t that keeps x + t·d inside the bounds.
    let (mut t_min, mut t_max) = (f64::NEG_INFINITY, f64::INFINITY);
    for a in 0..6 {
        if d[a].abs() > 1e-12 {
            let lo = (search.bounds.lower[a] - x[a]) / d[a];
            let hi = (search.bounds.upper[a] - x[a]) / d[a];
            t_min = t_min.max(lo.min(hi));
            t_max = t_max.min(lo.max(hi));
        }
    }
    let (t_min, t_max) = (t_min.min(0.0), t_max.max(0.0));
    if t_max - t_min < search.tolerance {
        return (0.0, fx);
    }
    let mut g = |t: f64| cost(&std::array::from_fn(|a| x[a] + t * d[a]));

    // Bracket: a < b < c (or the reverse) with f(b) below both ends.
    let a = 0.0;
    let forward = search.step.min(t_max);
    let backward = (-search.step).max(t_min);
    let (mut b, mut fb) = if forward > 0.0 {
        (forward, g(forward))
    } else {
        (0.0, fx)
    };
    if fb >= fx {
        let (c, fc) = if backward < 0.0 {
            (backward, g(backward))
        } else {
            (0.0, fx)
        };
        if fc >= fx {
            // The minimum is between the two trial steps.
            return golden_section(&mut g, b, (a, fx), c, search.tolerance);
        }
        (b, fb) = (c, fc);
    }
    // Downhill from a to b: step on, growing by the golden ratio, until the cost rises again.
    let mut a = a;
    loop {
        let c = (b + (b - a) / GOLDEN).clamp(t_min, t_max);
        if c == b {
            // At the bound and still descending.
            return (b, fb);
        }
        let fc = g(c);
        if fc >= fb {
            return golden_section(&mut g, a, (b, fb), c, search.tolerance);
        }
        a = b;
        (b, fb) = (c, fc);
    }
}

/// Golden-section search for the minimum of `g` between `a` and `c` (either order), given an
/// interior point `b` with `g(b)` below both; returns the best point found and its value.
fn golden_section(
    g: &mut impl FnMut(f64) -> f64,
    a: f64,
    (b, fb): (f64, f64),
    c: f64,
    tolerance: f64,
) -> (f64, f64) {
    let step = 1.0 - GOLDEN;
    let (mut x0, mut x3) = (a, c);
    let (mut x1, mut x2, mut f1, mut f2);
    if (c - b).abs() > (b - a).abs() {
        (x1, f1) = (b, fb);
        x2 = b + step * (c - b);
        f2 = g(x2);
    } else {
        (x2, f2) = (b, fb);
        x1 = b - step * (b - a);
        f1 = g(x1);
    }
    while (x3 - x0).abs() > tolerance {
        if f2 < f1 {
            x0 = x1;
            (x1, f1) = (x2, f2);
            x2 = GOLDEN * x2 + step * x3;
            f2 = g(x2);
        } else {
            x3 = x2;
            (x2, f2) = (x1, f1);
            x1 = GOLDEN * x1 + step * x0;
            f1 = g(x1);
        }
    }
    if f1 < f2 {
        (x1, f1)
    } else {
        (x2, f2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rigid_affine_rotates_about_the_centre_and_translates() {
        let centre = [10.0, -20.0, 30.0];
        let r = Rigid {
            rotation_deg: [0.0, 0.0, 90.0],
            translation_mm: [1.0, 2.0, 3.0],
        };
        let m = r.to_affine(centre);
        // The centre only moves by the translation.
        let c = m.apply(centre);
        assert!((0..3).all(|a| (c[a] - centre[a] - r.translation_mm[a]).abs() < 1e-12));
        // +x from the centre turns to +y (counter-clockwise about +z).
        let p = m.apply([11.0, -20.0, 30.0]);
        let expected = [10.0 + 1.0, -20.0 + 1.0 + 2.0, 33.0];
        assert!((0..3).all(|a| (p[a] - expected[a]).abs() < 1e-12), "{p:?}");
        // Rx is applied first: +y about x by 90° goes to +z, then about z it stays +z.
        let both = Rigid {
            rotation_deg: [90.0, 0.0, 90.0],
            translation_mm: [0.0; 3],
        };
        let q = both.to_affine([0.0; 3]).apply([0.0, 1.0, 0.0]);
        assert!((q[2] - 1.0).abs() < 1e-12 && q[0].abs() < 1e-12, "{q:?}");
        // The rotation is orthonormal.
        let rm = Rigid {
            rotation_deg: [7.0, -3.0, 12.0],
            translation_mm: [0.0; 3],
        }
        .rotation_matrix();
        for i in 0..3 {
            for j in 0..3 {
                let dot: f64 = (0..3).map(|k| rm[k][i] * rm[k][j]).sum();
                assert!((dot - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
        assert_eq!(Rigid::IDENTITY.to_affine(centre), Affine::IDENTITY);
    }

    #[test]
    fn nmi_is_two_for_a_deterministic_relation_and_one_for_independence() {
        let bins = 4;
        // Fixed bin i always goes with moving bin 3 − i (a non-monotonic mapping is fine).
        let mut hist = vec![0.0; 16];
        for i in 0..4 {
            hist[i * 4 + 3 - i] = 25.0;
        }
        assert!((normalised_mutual_information(&hist, bins) - 2.0).abs() < 1e-12);
        // Independent: outer product of marginals.
        let (pf, pm) = ([0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.4, 0.1]);
        let hist: Vec<f64> = (0..16).map(|k| 1000.0 * pf[k / 4] * pm[k % 4]).collect();
        assert!((normalised_mutual_information(&hist, bins) - 1.0).abs() < 1e-12);
        assert_eq!(normalised_mutual_information(&[0.0; 16], bins), 0.0);
    }

    #[test]
    fn powell_finds_the_minimum_of_a_coupled_quadratic_within_bounds() {
        let target = [3.0, -2.0, 1.5, 7.0, -8.0, 0.5];
        let mut evaluations = 0;
        let mut cost = |p: &[f64; 6]| {
            evaluations += 1;
            let d: [f64; 6] = std::array::from_fn(|a| p[a] - target[a]);
            // Coupled: rotations and translations interact as they do in registration.
            d.iter().map(|v| v * v).sum::<f64>() + 0.8 * d[0] * d[4] - 0.5 * d[2] * d[3]
        };
        let bounds = Bounds {
            lower: [-10.0; 6],
            upper: [10.0, 10.0, 10.0, 5.0, 10.0, 10.0],
        };
        let search = Search {
            bounds: &bounds,
            step: 2.0,
            tolerance: 1e-4,
        };
        let mut x = [0.0; 6];
        let f0 = cost(&x);
        powell(&mut cost, &mut x, f0, &search, 50);
        // x[3] is held at its bound 5; the others find the constrained minimum.
        assert!((x[3] - 5.0).abs() < 1e-3, "{x:?}");
        for a in [0, 1, 4, 5] {
            assert!((x[a] - target[a]).abs() < 0.01, "{x:?}");
        }
        assert!(evaluations < 2000, "{evaluations} evaluations");
    }

    #[test]
    fn the_sampler_reproduces_a_linear_field_and_refuses_outside_points() {
        let dims = [4, 3, 1];
        let data: Vec<f32> = (0..12)
            .map(|i| ((i % 4) * 2 + (i / 4) * 10) as f32)
            .collect();
        let grid = Grid {
            data,
            dims,
            world_from_voxel: Affine::IDENTITY,
        };
        let s = Sampler::new(&grid);
        let v = s.at([1.5, 0.25, 0.2]).expect("inside");
        assert!((v - (3.0 + 2.5)).abs() < 1e-12, "{v}");
        assert_eq!(s.at([3.0, 2.0, 0.0]), Some(26.0));
        assert_eq!(s.at([3.01, 0.0, 0.0]), None);
        assert_eq!(s.at([0.0, 0.0, 0.6]), None);
        assert_eq!(s.at([f64::NAN, 0.0, 0.0]), None);
    }
}
