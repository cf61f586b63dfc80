//! Image degradations of the randomised acquisition (training data only,
//! [`AcquisitionMode::Randomised`](crate::AcquisitionMode::Randomised)): what real BraTS-like
//! exports show beyond scale, noise, blur, bias and intensity curve.
//!
//! - **Thick slices** ([`ThickSlices`]): a 2-D acquisition with slices 1–7 mm thick along one
//!   grid axis, later resampled to the 1 mm grid. Simulated on the noise-free signal (after
//!   blur, intensity curve, bias and scale) by a box slice profile of width = thickness over
//!   the 1 mm voxels (fractional overlap at the slab ends, zero beyond the grid), sampled at
//!   slab centres `thickness` apart with a random phase; the Rician noise is then added *at
//!   the slab level* (one complex Gaussian per slab sample, σ the acquisition's noise), as in a
//!   real 2-D acquisition whose noise lives on the thick slices, and the noisy magnitudes are
//!   interpolated linearly back onto the 1 mm grid along that axis. The result is piecewise
//!   linear along the slice axis, with noise correlated across the interpolated slices.
//! - **Edge resampling** ([`EdgeResampling`]): the skull-stripped image is resampled by a
//!   sub-voxel shift with the Catmull-Rom cubic kernel (as a registration to the atlas does),
//!   so the brain edge shows overshoot inside and small negative values just outside; those
//!   survive in a shell of 1–2 voxels around the stored mask, beyond which everything is
//!   exactly 0 again.
//! - **Imperfect skull stripping** ([`Stripping`]): the stored brain mask is the brain mask
//!   dilated by 1–3 voxels (a rim of CSF-like signal — the case's CSF mean of each modality —
//!   left in the images, optionally with a brighter enhancing dura on T1Gd in its outermost
//!   layer) or eroded by 1–2 voxels (cortex cut away: 0 in every image, background in the
//!   labels and the tissue map).
//! - **Storage** ([`Storage`]): int16 (values rounded, as most BraTS exports) or float32.
//!
//! The draws come from their own stream of the case seed ([`Degradations::draw`]), so the
//! realistic acquisition and every other draw of a case are unaffected by them.

use adamm_volume::brats::Modality;
use serde::{Deserialize, Serialize};

use crate::contrast::{CaseContrast, Class};
use crate::deform::WarpedAnatomy;
use crate::rng::{hashed_normal_pair, splitmix64, Rand};

/// Randomised acquisition: probability that a modality is acquired as thick slices, per
/// modality in [`Modality::ALL`] order (T1, T1Gd, T2, FLAIR); T2 and FLAIR are the ones most
/// often acquired as 2-D sequences.
pub const RANDOM_THICK_SLICE_CHANCE: [f64; 4] = [0.4, 0.4, 0.6, 0.6];
/// Randomised acquisition: range (uniform, inclusive, in steps of 0.01 mm) of the slice
/// thickness and spacing of a thick-slice modality, in mm (= voxels of the 1 mm grid); the
/// phase of the slab centres is uniform in `[0, thickness)` in the same steps.
pub const RANDOM_SLICE_THICKNESS_RANGE: (f64, f64) = (1.0, 7.0);
/// Randomised acquisition: probability per case that every image is resampled with a cubic
/// kernel (edge ringing, [`EdgeResampling`]).
pub const RANDOM_EDGE_RESAMPLE_CHANCE: f64 = 0.5;
/// Randomised acquisition: range (uniform, inclusive, in steps of 0.001, per modality and
/// axis) of the sub-voxel shift of the edge resampling, in voxels.
pub const RANDOM_EDGE_SHIFT_RANGE: (f64, f64) = (-0.5, 0.5);
/// Randomised acquisition: range (uniform integer, inclusive) of the width in voxels of the
/// shell outside the stored mask where the edge resampling's values are kept.
pub const RANDOM_EDGE_SHELL_RANGE: (usize, usize) = (1, 2);
/// Randomised acquisition: probability per case that the stored brain mask is dilated (a rim
/// of non-brain signal left by the skull stripping).
pub const RANDOM_DILATE_CHANCE: f64 = 0.3;
/// Randomised acquisition: probability per case that the stored brain mask is eroded (cortex
/// cut away by the skull stripping); otherwise (1 − 0.3 − 0.2 = 50 %) it is exact.
pub const RANDOM_ERODE_CHANCE: f64 = 0.2;
/// Randomised acquisition: range (uniform integer, inclusive) of the dilation, in voxels.
pub const RANDOM_DILATION_RANGE: (usize, usize) = (1, 3);
/// Randomised acquisition: range (uniform integer, inclusive) of the erosion, in voxels.
pub const RANDOM_EROSION_RANGE: (usize, usize) = (1, 2);
/// Randomised acquisition: probability that a dilated rim shows enhancing dura on T1Gd.
pub const RANDOM_DURA_CHANCE: f64 = 0.5;
/// Randomised acquisition: range (uniform, inclusive, in steps of 0.01) of the T1Gd signal of
/// enhancing dura, relative to WM (enhancing vessels are at 1.5).
pub const RANDOM_DURA_T1GD_RANGE: (f64, f64) = (1.1, 1.6);
/// Randomised acquisition: probability per case that the images are stored as float32 rather
/// than int16.
pub const RANDOM_FLOAT32_CHANCE: f64 = 0.3;

/// Key of the degradation stream of a case seed.
const DEGRADATION_STREAM: u64 = 0x6465_6772_6164_6521;
/// Key (xor the modality's noise key) of the slab-level noise of thick slices.
const SLAB_NOISE_KEY: u64 = 0x736C_6162_6E6F_6973;

/// The data type the images are stored as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    /// NIfTI int16: values rounded and clamped to the int16 range.
    #[default]
    Int16,
    /// NIfTI float32: values as computed.
    Float32,
}

/// A thick-slice acquisition of one modality (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThickSlices {
    /// The slice axis: 0 = x, 1 = y, 2 = z of the grid.
    pub axis: usize,
    /// Slice thickness and spacing in mm, in [`RANDOM_SLICE_THICKNESS_RANGE`].
    pub thickness_mm: f64,
    /// Position of the first slab centre at or after voxel 0 along the axis, in mm, in
    /// `[0, thickness_mm)`.
    pub phase_mm: f64,
}

/// Cubic (Catmull-Rom) resampling of every image by a sub-voxel shift (see the module
/// documentation).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EdgeResampling {
    /// Per modality ([`Modality::ALL`] order) the shift in voxels along x, y, z, each in
    /// [`RANDOM_EDGE_SHIFT_RANGE`]: the image at voxel `p` takes the value at `p + shift`.
    pub shift: [[f64; 3]; 4],
    /// Width in voxels of the shell around the stored mask where resampled values are kept
    /// (Euclidean distance ≤ `shell`), in [`RANDOM_EDGE_SHELL_RANGE`].
    pub shell: usize,
}

/// How the stored brain mask differs from the brain.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Stripping {
    /// The brain mask itself (tissue fractions summing to at least 0.5).
    #[default]
    Exact,
    /// The brain mask dilated by `voxels` (Euclidean distance ≤ `voxels`): the added rim holds
    /// CSF-like signal in every modality.
    Dilated {
        /// The dilation in voxels, in [`RANDOM_DILATION_RANGE`].
        voxels: usize,
        /// T1Gd signal relative to WM of enhancing dura in the rim's outermost layer (in
        /// [`RANDOM_DURA_T1GD_RANGE`]), `None` for none.
        dura_t1gd: Option<f64>,
    },
    /// The brain mask eroded by `voxels` (voxels within Euclidean distance `voxels` of a
    /// non-brain voxel removed): 0 in the images, background in the labels and tissue map.
    Eroded {
        /// The erosion in voxels, in [`RANDOM_EROSION_RANGE`].
        voxels: usize,
    },
}

/// The degradations applied to one case. The default — none, int16 — is what the realistic
/// acquisition always has.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Degradations {
    /// Per modality ([`Modality::ALL`] order) its thick-slice acquisition, `None` for 1 mm.
    #[serde(default)]
    pub thick_slices: [Option<ThickSlices>; 4],
    /// The cubic edge resampling, `None` for none.
    #[serde(default)]
    pub edge: Option<EdgeResampling>,
    /// The skull-stripping error.
    #[serde(default)]
    pub stripping: Stripping,
    /// The stored data type.
    #[serde(default)]
    pub storage: Storage,
}

/// A uniform integer in `lo..=hi`.
fn int_range(rng: &mut Rand, (lo, hi): (usize, usize)) -> usize {
    lo + rng.index(hi - lo + 1)
}

/// Steps per unit of the recorded real-valued draws: they are uniform over multiples of 1/1000
/// (shifts) or 1/100 (the rest), so that the decimal numbers in `synth.json` read back as
/// exactly the values used.
const FINE_STEPS: f64 = 1000.0;
/// See [`FINE_STEPS`].
const STEPS: f64 = 100.0;

/// Uniform over the multiples of `1 / steps` in `[lo, hi]`.
fn stepped(rng: &mut Rand, (lo, hi): (f64, f64), steps: f64) -> f64 {
    let (a, b) = ((lo * steps).round() as i64, (hi * steps).round() as i64);
    (a + rng.index((b - a + 1) as usize) as i64) as f64 / steps
}

impl Degradations {
    /// The randomised degradations of the case with seed `seed`, from the seed's own
    /// degradation stream and the `RANDOM_*` constants of this module. Real values are drawn
    /// uniformly in steps of 0.01 (shifts: 0.001), so that `synth.json` records them exactly.
    pub fn draw(seed: u64) -> Degradations {
        let mut rng = Rand::new(splitmix64(seed ^ DEGRADATION_STREAM));
        let thick_slices = Modality::ALL.map(|m| {
            let thick = rng.chance(RANDOM_THICK_SLICE_CHANCE[m.index()]);
            let axis = rng.index(3);
            let thickness_mm = stepped(&mut rng, RANDOM_SLICE_THICKNESS_RANGE, STEPS);
            let phase_mm = rng.index((thickness_mm * STEPS).round() as usize) as f64 / STEPS;
            thick.then_some(ThickSlices {
                axis,
                thickness_mm,
                phase_mm,
            })
        });
        let resample = rng.chance(RANDOM_EDGE_RESAMPLE_CHANCE);
        let shift = Modality::ALL
            .map(|_| [0; 3].map(|_| stepped(&mut rng, RANDOM_EDGE_SHIFT_RANGE, FINE_STEPS)));
        let shell = int_range(&mut rng, RANDOM_EDGE_SHELL_RANGE);
        let edge = resample.then_some(EdgeResampling { shift, shell });
        let u = rng.unit();
        let dilation = int_range(&mut rng, RANDOM_DILATION_RANGE);
        let erosion = int_range(&mut rng, RANDOM_EROSION_RANGE);
        let dura = rng.chance(RANDOM_DURA_CHANCE);
        let dura_t1gd = stepped(&mut rng, RANDOM_DURA_T1GD_RANGE, STEPS);
        let stripping = if u < RANDOM_DILATE_CHANCE {
            Stripping::Dilated {
                voxels: dilation,
                dura_t1gd: dura.then_some(dura_t1gd),
            }
        } else if u < RANDOM_DILATE_CHANCE + RANDOM_ERODE_CHANCE {
            Stripping::Eroded { voxels: erosion }
        } else {
            Stripping::Exact
        };
        let storage = if rng.chance(RANDOM_FLOAT32_CHANCE) {
            Storage::Float32
        } else {
            Storage::Int16
        };
        Degradations {
            thick_slices,
            edge,
            stripping,
            storage,
        }
    }

    /// True for no degradation at all, stored as int16 (the realistic acquisition).
    pub fn is_none(&self) -> bool {
        *self == Degradations::default()
    }
}

/// Voxel index of `(i, j, k)` in a grid of `dims` when inside it.
fn at(dims: [usize; 3], p: [isize; 3]) -> Option<usize> {
    let inside = (0..3).all(|a| p[a] >= 0 && (p[a] as usize) < dims[a]);
    inside.then(|| p[0] as usize + dims[0] * (p[1] as usize + dims[1] * p[2] as usize))
}

/// Coordinates of voxel `idx` in a grid of `dims`.
fn coords(dims: [usize; 3], idx: usize) -> [isize; 3] {
    [
        (idx % dims[0]) as isize,
        ((idx / dims[0]) % dims[1]) as isize,
        (idx / (dims[0] * dims[1])) as isize,
    ]
}

/// For every voxel outside `mask` within Euclidean distance `r` (voxels) of a voxel of it,
/// that distance rounded up (1..=`r`); 0 for every other voxel. Exact: the nearest mask voxel
/// of an outside voxel always has a face neighbour outside the mask, so only those are
/// stamped with the ball of radius `r`.
pub(crate) fn distance_layers(mask: &[bool], dims: [usize; 3], r: usize) -> Vec<u8> {
    let mut layer = vec![0u8; mask.len()];
    if r == 0 {
        return layer;
    }
    let ri = r as isize;
    let mut ball = Vec::new();
    for dk in -ri..=ri {
        for dj in -ri..=ri {
            for di in -ri..=ri {
                let d2 = (di * di + dj * dj + dk * dk) as usize;
                if d2 > 0 && d2 <= r * r {
                    let l = (d2 as f64).sqrt().ceil() as u8;
                    ball.push(([di, dj, dk], l));
                }
            }
        }
    }
    let faces = [
        [-1, 0, 0],
        [1, 0, 0],
        [0, -1, 0],
        [0, 1, 0],
        [0, 0, -1],
        [0, 0, 1],
    ];
    for (idx, _) in mask.iter().enumerate().filter(|(_, &m)| m) {
        let p = coords(dims, idx);
        let surface = faces
            .iter()
            .any(|f| at(dims, [p[0] + f[0], p[1] + f[1], p[2] + f[2]]).is_some_and(|q| !mask[q]));
        if !surface {
            continue;
        }
        for &(d, l) in &ball {
            if let Some(q) = at(dims, [p[0] + d[0], p[1] + d[1], p[2] + d[2]]) {
                if !mask[q] && (layer[q] == 0 || l < layer[q]) {
                    layer[q] = l;
                }
            }
        }
    }
    layer
}

/// The brain mask as stored after the skull stripping, on the work region.
pub(crate) struct StoredMask {
    /// The stored mask.
    pub mask: Vec<bool>,
    /// For the voxels a dilation added, their layer 1..=n (distance to the brain rounded up),
    /// 0 elsewhere; empty unless the mask is dilated.
    pub rim: Vec<u8>,
}

impl StoredMask {
    /// The stored mask of a brain mask `brain` on a grid of `dims` under `stripping`.
    pub(crate) fn new(brain: &[bool], dims: [usize; 3], stripping: Stripping) -> StoredMask {
        match stripping {
            Stripping::Exact => StoredMask {
                mask: brain.to_vec(),
                rim: Vec::new(),
            },
            Stripping::Dilated { voxels, .. } => {
                let rim = distance_layers(brain, dims, voxels);
                let mask = brain.iter().zip(&rim).map(|(&b, &l)| b || l > 0).collect();
                StoredMask { mask, rim }
            }
            Stripping::Eroded { voxels } => {
                let outside: Vec<bool> = brain.iter().map(|&b| !b).collect();
                let cut = distance_layers(&outside, dims, voxels);
                let mask = brain.iter().zip(&cut).map(|(&b, &l)| b && l == 0).collect();
                StoredMask {
                    mask,
                    rim: Vec::new(),
                }
            }
        }
    }
}

/// Fills the dilated rim of `stored` in the noise-free signal `s` of modality `m` (relative to
/// WM): the part of each rim voxel not taken by brain tissue gets the case's CSF mean of `m`,
/// or on T1Gd in the outermost layer the dura signal when the stripping has one. No-op unless
/// `stripping` is a dilation.
pub(crate) fn fill_rim(
    s: &mut [f32],
    stored: &StoredMask,
    anat: &WarpedAnatomy,
    m: Modality,
    contrast: &CaseContrast,
    stripping: Stripping,
) {
    let Stripping::Dilated { voxels, dura_t1gd } = stripping else {
        return;
    };
    let csf = contrast.get(m, Class::Csf);
    let dura = dura_t1gd.filter(|_| m == Modality::T1Gd).map(|d| d as f32);
    for (idx, &l) in stored.rim.iter().enumerate() {
        if l == 0 {
            continue;
        }
        let free = 1.0 - anat.tissue_sum(idx).min(1.0);
        let value = match dura {
            Some(d) if usize::from(l) == voxels => d,
            _ => csf,
        };
        s[idx] += free * value;
    }
}

/// The layout of a grid seen along one axis: `outer` blocks of `n` lines of `inner`
/// contiguous values (x: inner 1; y: inner nx; z: inner nx·ny, outer 1).
fn along(dims: [usize; 3], axis: usize) -> (usize, usize, usize) {
    let inner: usize = dims[..axis].iter().product();
    let outer: usize = dims[axis + 1..].iter().product();
    (outer, dims[axis], inner)
}

/// A thick-slice sampling of a 3-D field: the slab averages along the slice axis.
pub(crate) struct Slabs {
    /// The fine grid.
    dims: [usize; 3],
    /// The slice axis.
    axis: usize,
    /// Slab spacing (= thickness), voxels.
    thickness: f64,
    /// Centre of slab 0, in voxel coordinates along the axis (in `[-thickness, 0)`).
    first: f64,
    /// Number of slabs.
    count: usize,
    /// Slab values: `outer` blocks of `count` lines of `inner` values (see [`along`]).
    pub values: Vec<f32>,
}

impl Slabs {
    /// The slab averages of `data` (grid `dims`) under `slices`: a box profile of width
    /// `thickness_mm` centred at `phase_mm + s · thickness_mm` for every slab `s` (from the one
    /// just before voxel 0 to the first at or beyond the last voxel), each 1 mm voxel weighted
    /// by its overlap with the box, zero beyond the grid.
    pub(crate) fn sample(data: &[f32], dims: [usize; 3], slices: &ThickSlices) -> Slabs {
        let axis = slices.axis.min(2);
        let thickness = slices.thickness_mm.max(1.0);
        let first = slices.phase_mm.rem_euclid(thickness) - thickness;
        let (outer, n, inner) = along(dims, axis);
        let last = n as f64 - 1.0;
        let count = ((last - first) / thickness).ceil().max(1.0) as usize + 1;
        // Per slab, the voxels it overlaps and their weights (overlap / thickness).
        let taps: Vec<Vec<(usize, f32)>> = (0..count)
            .map(|s| {
                let c = first + s as f64 * thickness;
                let (lo, hi) = (c - 0.5 * thickness, c + 0.5 * thickness);
                let p0 = (lo + 0.5).floor().max(0.0) as usize;
                let p1 = ((hi + 0.5).ceil().max(0.0) as usize).min(n);
                (p0..p1)
                    .filter_map(|p| {
                        let w = hi.min(p as f64 + 0.5) - lo.max(p as f64 - 0.5);
                        (w > 0.0).then_some((p, (w / thickness) as f32))
                    })
                    .collect()
            })
            .collect();
        let mut values = vec![0f32; outer * count * inner];
        for o in 0..outer {
            for (s, slab) in taps.iter().enumerate() {
                let dst = (o * count + s) * inner;
                for &(p, w) in slab {
                    let src = (o * n + p) * inner;
                    for (d, v) in values[dst..dst + inner]
                        .iter_mut()
                        .zip(&data[src..src + inner])
                    {
                        *d += w * v;
                    }
                }
            }
        }
        Slabs {
            dims,
            axis,
            thickness,
            first,
            count,
            values,
        }
    }

    /// Replaces every slab value by the magnitude of itself plus complex Gaussian noise of
    /// standard deviation `sigma` (Rician noise at the slab level), keyed by `key` and the
    /// slab value's index.
    pub(crate) fn add_rician_noise(&mut self, sigma: f32, key: u64) {
        let key = key ^ SLAB_NOISE_KEY;
        for (n, v) in self.values.iter_mut().enumerate() {
            let (n1, n2) = hashed_normal_pair(key, n as u64);
            let re = *v + sigma * n1;
            let im = sigma * n2;
            *v = (re * re + im * im).sqrt();
        }
    }

    /// The slab values interpolated linearly between slab centres back onto the fine grid.
    pub(crate) fn interpolate(&self) -> Vec<f32> {
        let (outer, n, inner) = along(self.dims, self.axis);
        let mut out = vec![0f32; outer * n * inner];
        for p in 0..n {
            let x = (p as f64 - self.first) / self.thickness;
            let s = (x.floor().max(0.0) as usize).min(self.count - 2);
            let t = (x - s as f64) as f32;
            for o in 0..outer {
                let a = (o * self.count + s) * inner;
                let b = a + inner;
                let dst = (o * n + p) * inner;
                for (q, d) in out[dst..dst + inner].iter_mut().enumerate() {
                    *d = (1.0 - t) * self.values[a + q] + t * self.values[b + q];
                }
            }
        }
        out
    }
}

/// The four Catmull-Rom taps (offset, weight) that interpolate at `p + shift`.
fn catmull_rom_taps(shift: f64) -> [(isize, f32); 4] {
    let f = shift.floor();
    let t = shift - f;
    let (t2, t3) = (t * t, t * t * t);
    let w = [
        0.5 * (-t3 + 2.0 * t2 - t),
        0.5 * (3.0 * t3 - 5.0 * t2 + 2.0),
        0.5 * (-3.0 * t3 + 4.0 * t2 + t),
        0.5 * (t3 - t2),
    ];
    let f = f as isize;
    [
        (f - 1, w[0] as f32),
        (f, w[1] as f32),
        (f + 1, w[2] as f32),
        (f + 2, w[3] as f32),
    ]
}

/// Resamples `data` (grid `dims`) in place at `p + shift` for every voxel `p`, separably with
/// the Catmull-Rom cubic kernel, zero beyond the grid. Reproduces constant and linear fields
/// away from the grid's faces; a step overshoots on both sides (by up to 1/16 of the step at
/// a half-voxel shift).
pub(crate) fn shift_catmull_rom(data: &mut [f32], dims: [usize; 3], shift: [f64; 3]) {
    let mut src = vec![0f32; data.len()];
    for (axis, &sh) in shift.iter().enumerate() {
        if sh == 0.0 {
            continue;
        }
        let taps = catmull_rom_taps(sh);
        let (outer, n, inner) = along(dims, axis);
        src.copy_from_slice(data);
        data.fill(0.0);
        for o in 0..outer {
            for p in 0..n {
                let dst = (o * n + p) * inner;
                for &(off, w) in &taps {
                    let q = p as isize + off;
                    if q < 0 || q as usize >= n || w == 0.0 {
                        continue;
                    }
                    let s = (o * n + q as usize) * inner;
                    for (d, v) in data[dst..dst + inner].iter_mut().zip(&src[s..s + inner]) {
                        *d += w * v;
                    }
                }
            }
        }
    }
}

/// The voxels where an edge-resampled image may be non-zero: `mask` and every voxel within
/// Euclidean distance `shell` of it.
pub(crate) fn with_shell(mask: &[bool], dims: [usize; 3], shell: usize) -> Vec<bool> {
    let layers = distance_layers(mask, dims, shell);
    mask.iter()
        .zip(&layers)
        .map(|(&m, &l)| m || l > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid_len(dims: [usize; 3]) -> usize {
        dims[0] * dims[1] * dims[2]
    }

    /// A deterministic white-noise field in [0, 1).
    fn white(dims: [usize; 3], seed: u64) -> Vec<f32> {
        let mut rng = Rand::new(seed);
        (0..grid_len(dims)).map(|_| rng.unit() as f32).collect()
    }

    /// Variance of the second difference along `axis` over the interior voxels.
    fn second_difference_variance(v: &[f32], dims: [usize; 3], axis: usize) -> f64 {
        let stride = [1, dims[0], dims[0] * dims[1]][axis];
        let (mut s, mut s2, mut n) = (0.0f64, 0.0f64, 0usize);
        for idx in 0..v.len() {
            let p = coords(dims, idx)[axis] as usize;
            if p == 0 || p + 1 >= dims[axis] {
                continue;
            }
            let d = f64::from(v[idx + stride] - 2.0 * v[idx] + v[idx - stride]);
            s += d;
            s2 += d * d;
            n += 1;
        }
        let mean = s / n as f64;
        s2 / n as f64 - mean * mean
    }

    #[test]
    fn degradation_draws_stay_in_their_ranges_and_all_occur() {
        let n = 4000;
        let (mut thick, mut axes, mut edges, mut float32) = ([0usize; 4], [0usize; 3], 0, 0);
        let (mut dilated, mut eroded, mut dura) = ([0usize; 4], [0usize; 3], 0);
        let mut thickness = (f64::INFINITY, f64::NEG_INFINITY);
        let mut shells = [0usize; 3];
        for seed in 0..n {
            let d = Degradations::draw(seed);
            assert_eq!(d, Degradations::draw(seed), "a pure function of the seed");
            for (m, t) in d.thick_slices.iter().enumerate() {
                let Some(t) = t else { continue };
                thick[m] += 1;
                assert!(t.axis < 3);
                axes[t.axis] += 1;
                let (lo, hi) = RANDOM_SLICE_THICKNESS_RANGE;
                assert!((lo..=hi).contains(&t.thickness_mm), "{t:?}");
                assert!((0.0..t.thickness_mm).contains(&t.phase_mm), "{t:?}");
                thickness = (
                    thickness.0.min(t.thickness_mm),
                    thickness.1.max(t.thickness_mm),
                );
            }
            if let Some(e) = d.edge {
                edges += 1;
                let (lo, hi) = RANDOM_EDGE_SHIFT_RANGE;
                assert!(e.shift.iter().flatten().all(|s| (lo..=hi).contains(s)));
                assert!((RANDOM_EDGE_SHELL_RANGE.0..=RANDOM_EDGE_SHELL_RANGE.1).contains(&e.shell));
                shells[e.shell] += 1;
            }
            match d.stripping {
                Stripping::Exact => {}
                Stripping::Dilated { voxels, dura_t1gd } => {
                    assert!((RANDOM_DILATION_RANGE.0..=RANDOM_DILATION_RANGE.1).contains(&voxels));
                    dilated[voxels] += 1;
                    if let Some(v) = dura_t1gd {
                        assert!((RANDOM_DURA_T1GD_RANGE.0..=RANDOM_DURA_T1GD_RANGE.1).contains(&v));
                        dura += 1;
                    }
                }
                Stripping::Eroded { voxels } => {
                    assert!((RANDOM_EROSION_RANGE.0..=RANDOM_EROSION_RANGE.1).contains(&voxels));
                    eroded[voxels] += 1;
                }
            }
            float32 += usize::from(d.storage == Storage::Float32);
        }
        // The frequencies match the documented probabilities (binomial 4σ margins).
        let near = |count: usize, p: f64| {
            let sd = (n as f64 * p * (1.0 - p)).sqrt();
            (count as f64 - n as f64 * p).abs() < 4.0 * sd
        };
        for m in 0..4 {
            assert!(near(thick[m], RANDOM_THICK_SLICE_CHANCE[m]), "{thick:?}");
        }
        assert!(axes.iter().all(|&a| a > 1000), "every axis drawn: {axes:?}");
        assert!(thickness.0 < 1.2 && thickness.1 > 6.8, "{thickness:?}");
        assert!(near(edges, RANDOM_EDGE_RESAMPLE_CHANCE) && shells[1] > 0 && shells[2] > 0);
        let dilations: usize = dilated.iter().sum();
        let erosions: usize = eroded.iter().sum();
        assert!(near(dilations, RANDOM_DILATE_CHANCE), "{dilated:?}");
        assert!(near(erosions, RANDOM_ERODE_CHANCE), "{eroded:?}");
        assert!(dilated[1..].iter().all(|&c| c > 100) && eroded[1..].iter().all(|&c| c > 100));
        assert!(
            dura > dilations / 4 && dura < 3 * dilations / 4,
            "{dura} of {dilations}"
        );
        assert!(near(float32, RANDOM_FLOAT32_CHANCE), "{float32}");
        assert!(Degradations::default().is_none());
        assert_eq!(Degradations::default().storage, Storage::Int16);
    }

    #[test]
    fn thick_slices_are_piecewise_linear_along_their_axis_only() {
        let dims = [23, 26, 29];
        let field = white(dims, 4);
        for axis in 0..3 {
            let slices = ThickSlices {
                axis,
                thickness_mm: 4.3,
                phase_mm: 1.7,
            };
            let slabs = Slabs::sample(&field, dims, &slices);
            let out = slabs.interpolate();
            assert_eq!(out.len(), field.len());
            let along_axis = second_difference_variance(&out, dims, axis);
            for other in (0..3).filter(|&a| a != axis) {
                let across = second_difference_variance(&out, dims, other);
                assert!(
                    along_axis < 0.05 * across,
                    "axis {axis}: {along_axis} along vs {across} along {other}"
                );
            }
            // Exactly linear between two slab centres: the second difference vanishes where
            // p − 1, p, p + 1 lie in one interval.
            let stride = [1, dims[0], dims[0] * dims[1]][axis];
            let mut checked = 0;
            for idx in 0..out.len() {
                let p = coords(dims, idx)[axis] as f64;
                let interval = |x: f64| ((x - slabs.first) / slabs.thickness).floor();
                if p < 1.0 || p + 1.0 >= dims[axis] as f64 || interval(p - 1.0) != interval(p + 1.0)
                {
                    continue;
                }
                let d = out[idx + stride] - 2.0 * out[idx] + out[idx - stride];
                assert!(d.abs() < 1e-5, "second difference {d} at {idx}");
                checked += 1;
            }
            assert!(checked > field.len() / 3, "{checked}");
        }
        // A constant stays constant away from the grid's ends; 1 mm slices at phase 0 are the
        // identity.
        let ones = vec![1f32; grid_len(dims)];
        let slices = ThickSlices {
            axis: 2,
            thickness_mm: 5.0,
            phase_mm: 2.5,
        };
        let flat = Slabs::sample(&ones, dims, &slices).interpolate();
        for (idx, v) in flat.iter().enumerate() {
            let k = coords(dims, idx)[2];
            // Between slab centres whose boxes lie inside the grid.
            if (8..20).contains(&k) {
                assert!((v - 1.0).abs() < 1e-5, "{v} at {idx}");
            }
        }
        let unit = ThickSlices {
            axis: 1,
            thickness_mm: 1.0,
            phase_mm: 0.0,
        };
        let same = Slabs::sample(&field, dims, &unit).interpolate();
        assert!(same.iter().zip(&field).all(|(a, b)| (a - b).abs() < 1e-6));
    }

    #[test]
    fn slab_noise_is_rician_and_deterministic() {
        let dims = [16, 32, 32];
        let field = vec![10f32; grid_len(dims)];
        let slices = ThickSlices {
            axis: 0,
            thickness_mm: 3.0,
            phase_mm: 0.5,
        };
        let mut a = Slabs::sample(&field, dims, &slices);
        let clean = a.values.clone();
        a.add_rician_noise(1.0, 11);
        let mut b = Slabs::sample(&field, dims, &slices);
        b.add_rician_noise(1.0, 11);
        assert_eq!(a.values, b.values);
        assert!(a.values.iter().all(|&v| v >= 0.0));
        // Interior slabs hold the full signal 10: their noise has about unit spread.
        let diffs: Vec<f64> = a
            .values
            .iter()
            .zip(&clean)
            .filter(|(_, &c)| (c - 10.0).abs() < 1e-4)
            .map(|(&v, &c)| f64::from(v - c))
            .collect();
        let mean = diffs.iter().sum::<f64>() / diffs.len() as f64;
        let sd =
            (diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / diffs.len() as f64).sqrt();
        assert!(
            diffs.len() > 1000 && mean.abs() < 0.15 && (0.85..1.15).contains(&sd),
            "{mean} {sd}"
        );
    }

    #[test]
    fn catmull_rom_shift_rings_at_edges_and_keeps_smooth_fields() {
        let dims = [20, 18, 16];
        let n = grid_len(dims);
        // Taps sum to 1; a zero shift is the identity.
        for s in [-0.5, -0.2, 0.0, 0.3, 0.5] {
            let taps = catmull_rom_taps(s);
            let sum: f32 = taps.iter().map(|t| t.1).sum();
            assert!((sum - 1.0).abs() < 1e-6);
        }
        let field = white(dims, 8);
        let mut same = field.clone();
        shift_catmull_rom(&mut same, dims, [0.0; 3]);
        assert_eq!(same, field);
        // A linear ramp is shifted exactly (away from the faces).
        let ramp: Vec<f32> = (0..n)
            .map(|idx| {
                let p = coords(dims, idx);
                (2 * p[0] + 3 * p[1] - p[2]) as f32
            })
            .collect();
        let mut shifted = ramp.clone();
        let shift = [0.3, -0.45, 0.2];
        shift_catmull_rom(&mut shifted, dims, shift);
        let want = 2.0 * shift[0] + 3.0 * shift[1] - shift[2];
        for idx in 0..n {
            let p = coords(dims, idx);
            if (0..3).all(|a| p[a] >= 3 && p[a] < dims[a] as isize - 3) {
                let got = f64::from(shifted[idx] - ramp[idx]);
                assert!((got - want).abs() < 1e-3, "{got} vs {want}");
            }
        }
        // A masked block: overshoot inside, small negative values just outside, nothing more
        // than two voxels out.
        let block: Vec<bool> = (0..n)
            .map(|idx| {
                let p = coords(dims, idx);
                (5..15).contains(&p[0]) && (5..13).contains(&p[1]) && (4..12).contains(&p[2])
            })
            .collect();
        let mut img: Vec<f32> = block.iter().map(|&b| if b { 100.0 } else { 0.0 }).collect();
        shift_catmull_rom(&mut img, dims, [0.5, 0.4, -0.3]);
        let shell1 = with_shell(&block, dims, 1);
        let shell2 = with_shell(&block, dims, 2);
        assert!(img.iter().any(|&v| v > 100.5), "overshoot");
        let outside_min = img
            .iter()
            .zip(&block)
            .filter(|(_, &b)| !b)
            .map(|(&v, _)| v)
            .fold(f32::INFINITY, f32::min);
        assert!(
            (-10.0..-1.0).contains(&outside_min),
            "undershoot {outside_min}"
        );
        assert!(img
            .iter()
            .zip(&shell2)
            .zip(&shell1)
            .any(|((&v, &s2), &s1)| s2 && !s1 && v != 0.0));
        // Beyond the Chebyshev reach of two voxels the image is exactly zero.
        for (idx, &v) in img.iter().enumerate() {
            let p = coords(dims, idx);
            let far = p[0] < 3 || p[0] > 16 || p[1] < 3 || p[1] > 14 || p[2] < 2 || p[2] > 13;
            if far {
                assert_eq!(v, 0.0, "at {p:?}");
            }
        }
    }

    /// Brute-force Euclidean distance (rounded up) from every voxel outside `mask` to it, up to
    /// `r`, to check [`distance_layers`].
    fn brute_layers(mask: &[bool], dims: [usize; 3], r: usize) -> Vec<u8> {
        let inside: Vec<[isize; 3]> = (0..mask.len())
            .filter(|&i| mask[i])
            .map(|i| coords(dims, i))
            .collect();
        (0..mask.len())
            .map(|i| {
                if mask[i] {
                    return 0;
                }
                let p = coords(dims, i);
                let d2 = inside
                    .iter()
                    .map(|q| (0..3).map(|a| (p[a] - q[a]).pow(2)).sum::<isize>())
                    .min()
                    .unwrap_or(isize::MAX);
                if d2 as usize <= r * r {
                    (d2 as f64).sqrt().ceil() as u8
                } else {
                    0
                }
            })
            .collect()
    }

    #[test]
    fn stripping_masks_dilate_and_erode_by_euclidean_distance() {
        let dims = [18, 17, 16];
        let n = grid_len(dims);
        // A blobby mask: a ball with a bump and a notch.
        let noise = white(dims, 2);
        let blob: Vec<bool> = (0..n)
            .map(|i| {
                let p = coords(dims, i).map(|v| v as f64);
                let r = ((p[0] - 8.5).powi(2) + (p[1] - 8.0).powi(2) + (p[2] - 7.5).powi(2)).sqrt();
                r < 4.5 + 1.5 * f64::from(noise[i]) || (p[0] > 12.0 && p[1] < 6.0 && p[2] < 9.0)
            })
            .collect();
        for r in 1..=3 {
            assert_eq!(
                distance_layers(&blob, dims, r),
                brute_layers(&blob, dims, r),
                "r {r}"
            );
        }
        // One voxel dilated: the Euclidean balls of 7, 33 and 123 voxels.
        let mut dot = vec![false; n];
        dot[9 + dims[0] * (8 + dims[1] * 8)] = true;
        for (voxels, count) in [(1, 7), (2, 33), (3, 123)] {
            let s = StoredMask::new(
                &dot,
                dims,
                Stripping::Dilated {
                    voxels,
                    dura_t1gd: None,
                },
            );
            assert_eq!(s.mask.iter().filter(|&&m| m).count(), count);
            assert!(s.rim.iter().any(|&l| usize::from(l) == voxels));
        }
        // Eroded: exactly the voxels farther than `voxels` from any outside voxel remain.
        for voxels in 1..=2 {
            let s = StoredMask::new(&blob, dims, Stripping::Eroded { voxels });
            let outside: Vec<bool> = blob.iter().map(|&b| !b).collect();
            let depth = brute_layers(&outside, dims, voxels);
            for i in 0..n {
                assert_eq!(s.mask[i], blob[i] && depth[i] == 0, "voxel {i}");
            }
            assert!(s.rim.is_empty());
            let kept = s.mask.iter().filter(|&&m| m).count();
            assert!(kept > 0 && kept < blob.iter().filter(|&&b| b).count());
        }
        let exact = StoredMask::new(&blob, dims, Stripping::Exact);
        assert_eq!(exact.mask, blob);
    }
}
