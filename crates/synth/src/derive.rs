//! Deriving an anatomy (skull-stripped T1 and CSF/GM/WM map on the BraTS grid) from another
//! real brain, so that synthetic cases can be built on more than one brain.
//!
//! The shipped derived anatomies (`data/anatomy/README.md`) are made by
//! `cargo run --release -p adamm-synth --example derive_anatomy -- ../shared/data data`
//! from Colin27 (`ch2bet`) and the MNI152 average (`avg152T1` inside SPM's intracranial mask),
//! and the held-out one (`data/heldout/README.md`) from MNI ICBM152 2009a. The steps:
//!
//! 1. **Tissues** ([`segment_tissues`]): a three-class k-means on the T1 intensities inside the
//!    brain mask (initialised at the 15th, 50th and 85th percentiles), darkest class CSF, then
//!    GM, then WM; for ICBM152, the most probable class of its own GM/WM probability maps.
//! 2. **Placement** ([`align_by_moments`]): the brain is moved onto the SRI24 brain of the
//!    BraTS grid by matching the centroids and, per world axis, the spread (standard deviation)
//!    of the two brain masks — translation and per-axis scaling, no rotation (both brains are in
//!    MNI-like orientation). The brains keep their own shapes; only position and size are
//!    matched, as the case generator then deforms them further.
//! 3. **Resampling** ([`adamm_volume::regrid`]): T1 trilinear, tissues nearest, onto the BraTS
//!    grid and header; the T1 is scaled so that its white matter averages the SRI24 atlas's.
//!
//! The held-out anatomy (MNI ICBM152, files `mni_icbm152_*`) is refused by [`check_not_held_out`]
//! wherever a training anatomy is read: it is the anatomy of the out-of-distribution test set.
//!
//! # Whole heads
//!
//! The head label maps of [`crate::head`] (`data/heads/README.md`) are made by
//! `cargo run --release -p adamm-synth --example derive_heads -- ../shared/data data`, in each
//! template's own world and 1 mm grid (no moving onto the BraTS grid: the head generator places
//! and deforms them itself):
//!
//! - from a whole-head T1 and a brain tissue map (SRI24: its head T1 and the shipped tissue
//!   map; Colin27: `ch2` and the k-means tissues inside `ch2bet`, as above): the head is the
//!   closed bright part of the image ([`head_mask`]), and the head outside the brain is split
//!   by its T1 relative to the brain's own tissue means ([`segment_head`]);
//! - from tissue probability maps (the MNI152 average: `avg152T1` inside SPM's intracranial
//!   mask for the brain, SPM's TPM around it; the held-out ICBM152 brain, its brain mask and
//!   GM/WM maps, inside the same TPM): the most probable non-brain class, with the brightest
//!   soft tissue of `avg152T1` as fat ([`head_from_probabilities`]);
//! - cropped to the head plus a margin ([`crop_to_content`]) and stored as uint8.

use std::path::Path;

use adamm_volume::geometry::Affine;
use adamm_volume::mask::largest_component;

use crate::anatomy::is_held_out_name;
use crate::error::SynthError;

/// Refuses a file of the held-out anatomy (by its file name, [`is_held_out_name`]).
pub fn check_not_held_out(path: &Path) -> Result<(), SynthError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if is_held_out_name(&name) {
        return Err(SynthError::HeldOutAnatomy {
            file: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Three-class k-means tissue labels of `t1` inside `mask`: 0 outside, 1 CSF (darkest),
/// 2 grey matter, 3 white matter (brightest). `None` when the mask holds fewer than 3 voxels
/// or the intensities inside it are all equal.
pub fn segment_tissues(t1: &[f32], mask: &[bool]) -> Option<Vec<u8>> {
    let mut inside: Vec<f32> = t1
        .iter()
        .zip(mask)
        .filter(|(_, &m)| m)
        .map(|(&v, _)| v)
        .collect();
    if inside.len() < 3 {
        return None;
    }
    inside.sort_by(f32::total_cmp);
    let at = |q: f64| f64::from(inside[((inside.len() - 1) as f64 * q) as usize]);
    let mut centres = [at(0.15), at(0.50), at(0.85)];
    if centres[0] >= centres[2] {
        return None;
    }
    // Lloyd iterations on the sorted values: each class is a contiguous run of them.
    for _ in 0..50 {
        let cut1 = 0.5 * (centres[0] + centres[1]);
        let cut2 = 0.5 * (centres[1] + centres[2]);
        let mut sums = [0f64; 3];
        let mut counts = [0usize; 3];
        for &v in &inside {
            let v = f64::from(v);
            let class = usize::from(v >= cut1) + usize::from(v >= cut2);
            sums[class] += v;
            counts[class] += 1;
        }
        let next = [0, 1, 2].map(|c| {
            if counts[c] > 0 {
                sums[c] / counts[c] as f64
            } else {
                centres[c]
            }
        });
        if next == centres {
            break;
        }
        centres = next;
    }
    let cut1 = 0.5 * (centres[0] + centres[1]);
    let cut2 = 0.5 * (centres[1] + centres[2]);
    Some(
        t1.iter()
            .zip(mask)
            .map(|(&v, &m)| {
                if !m {
                    0
                } else {
                    let v = f64::from(v);
                    1 + u8::from(v >= cut1) + u8::from(v >= cut2)
                }
            })
            .collect(),
    )
}

/// Centroid and per-axis standard deviation (world mm) of the voxels of `mask` on a grid of
/// `dims` placed by `world_from_voxel`; `None` for an empty mask.
pub fn mask_moments(
    mask: &[bool],
    dims: [usize; 3],
    world_from_voxel: &Affine,
) -> Option<([f64; 3], [f64; 3])> {
    let mut sum = [0f64; 3];
    let mut sq = [0f64; 3];
    let mut n = 0usize;
    for z in 0..dims[2] {
        for y in 0..dims[1] {
            for x in 0..dims[0] {
                if mask[x + dims[0] * (y + dims[1] * z)] {
                    let w = world_from_voxel.apply([x as f64, y as f64, z as f64]);
                    for a in 0..3 {
                        sum[a] += w[a];
                        sq[a] += w[a] * w[a];
                    }
                    n += 1;
                }
            }
        }
    }
    if n == 0 {
        return None;
    }
    let mean = sum.map(|s| s / n as f64);
    let sd = [0, 1, 2].map(|a| (sq[a] / n as f64 - mean[a] * mean[a]).max(0.0).sqrt());
    Some((mean, sd))
}

/// The world-to-world transform `source_world_from_reference_world` that puts the source brain
/// where the reference brain is: `s = c_source + (σ_source / σ_reference) ⊙ (r − c_reference)`
/// per world axis, from [`mask_moments`] of both.
pub fn align_by_moments(source: ([f64; 3], [f64; 3]), reference: ([f64; 3], [f64; 3])) -> Affine {
    let ((cs, ss), (cr, sr)) = (source, reference);
    let mut m = Affine::IDENTITY;
    for a in 0..3 {
        let scale = if sr[a] > 0.0 { ss[a] / sr[a] } else { 1.0 };
        m.0[a][a] = scale;
        m.0[a][3] = cs[a] - scale * cr[a];
    }
    m
}

/// Lloyd iterations of a one-dimensional k-means on `sorted` (ascending) from the centres
/// `init` (ascending): each class is the run of values nearest its centre. Returns the final
/// centres, ascending.
fn lloyd(sorted: &[f32], init: &[f64]) -> Vec<f64> {
    let mut centres = init.to_vec();
    let k = centres.len();
    for _ in 0..100 {
        let cuts: Vec<f64> = centres.windows(2).map(|w| 0.5 * (w[0] + w[1])).collect();
        let mut sums = vec![0f64; k];
        let mut counts = vec![0usize; k];
        for &v in sorted {
            let v = f64::from(v);
            let class = cuts.iter().filter(|&&c| v >= c).count();
            sums[class] += v;
            counts[class] += 1;
        }
        let next: Vec<f64> = (0..k)
            .map(|c| {
                if counts[c] > 0 {
                    sums[c] / counts[c] as f64
                } else {
                    centres[c]
                }
            })
            .collect();
        if next == centres {
            break;
        }
        centres = next;
    }
    centres
}

/// The centres (ascending) of a one-dimensional k-means of `values`, one class per entry of
/// `quantiles` (ascending, in [0, 1]) where its centre starts. `None` with fewer values than
/// classes or when the starting centres are not strictly increasing (too few distinct
/// values).
pub fn kmeans_centres(values: &[f32], quantiles: &[f64]) -> Option<Vec<f64>> {
    if values.len() < quantiles.len() || quantiles.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f32::total_cmp);
    let at = |q: f64| f64::from(sorted[((sorted.len() - 1) as f64 * q.clamp(0.0, 1.0)) as usize]);
    let init: Vec<f64> = quantiles.iter().map(|&q| at(q)).collect();
    if init.windows(2).any(|w| w[0] >= w[1]) {
        return None;
    }
    Some(lloyd(&sorted, &init))
}

/// The class (0 = lowest centre) of value `v` among k-means `centres` (ascending): the
/// number of midpoints between consecutive centres at or below it.
pub fn nearest_class(v: f32, centres: &[f64]) -> usize {
    let v = f64::from(v);
    centres
        .windows(2)
        .filter(|w| v >= 0.5 * (w[0] + w[1]))
        .count()
}

/// The voxel `(x, y, z)` of index `i` on a grid of `dims` (x fastest).
fn coords(i: usize, dims: [usize; 3]) -> [usize; 3] {
    [
        i % dims[0],
        (i / dims[0]) % dims[1],
        i / (dims[0] * dims[1]),
    ]
}

/// The six face neighbours of voxel `i` inside a grid of `dims`.
fn face_neighbours(i: usize, dims: [usize; 3]) -> impl Iterator<Item = usize> {
    let p = coords(i, dims);
    let strides = [1, dims[0], dims[0] * dims[1]];
    (0..6).filter_map(move |n| {
        let (axis, up) = (n / 2, n % 2 == 1);
        match up {
            true if p[axis] + 1 < dims[axis] => Some(i + strides[axis]),
            false if p[axis] > 0 => Some(i - strides[axis]),
            _ => None,
        }
    })
}

/// The voxels of the head in a whole-head image `t1` on a grid of `dims` (1 mm voxels): the
/// voxels at or above `threshold`, closed by `closing_mm` (a dilation, the background flooded
/// from the grid faces through what the dilation left, and the erosion back: cavities and
/// dark tissue enclosed by the scalp — bone, sinuses, ear canals narrower than twice the
/// radius — are head), then the largest 6-connected component, so that isolated background
/// speckle is not. The background is not flooded from the face `neck`, `(axis, at the high
/// end)`, where the head leaves the grid: dark tissue cut there is not background.
pub fn head_mask(
    t1: &[f32],
    dims: [usize; 3],
    threshold: f32,
    closing_mm: f32,
    neck: Option<(usize, bool)>,
) -> Vec<bool> {
    use crate::field::distance_to;
    let bright: Vec<bool> = t1.iter().map(|&v| v >= threshold).collect();
    let dilated: Vec<bool> = distance_to(&bright, dims)
        .iter()
        .map(|&d| d <= closing_mm)
        .collect();
    let mut outside = vec![false; t1.len()];
    let mut stack = Vec::new();
    for (i, &d) in dilated.iter().enumerate() {
        let p = coords(i, dims);
        let on_face = (0..3).any(|a| {
            let low = p[a] == 0 && neck != Some((a, false));
            let high = p[a] + 1 == dims[a] && neck != Some((a, true));
            low || high
        });
        if on_face && !d {
            outside[i] = true;
            stack.push(i);
        }
    }
    while let Some(i) = stack.pop() {
        for n in face_neighbours(i, dims) {
            if !outside[n] && !dilated[n] {
                outside[n] = true;
                stack.push(n);
            }
        }
    }
    let closed: Vec<bool> = distance_to(&outside, dims)
        .iter()
        .zip(&bright)
        .map(|(&d, &b)| b || d > closing_mm)
        .collect();
    largest_component(&closed, dims)
}

/// Non-brain head voxels darker than this fraction of the brain's white-matter T1 are bone
/// ([`segment_head`]): cortical bone gives no signal, and on T1 even CSF is at 0.4–0.5 of
/// white matter.
pub const HEAD_BONE_BELOW_WM: f64 = 0.3;
/// Non-brain head voxels at least this many times as bright as the brain's white matter on
/// T1 are fat ([`segment_head`]; fat is at about 1.2–1.5 × white matter on T1).
pub const HEAD_FAT_ABOVE_WM: f64 = 1.15;

/// The T1 levels a [`segment_head`] split the head outside the brain at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeadThresholds {
    /// Mean T1 of the brain's CSF, grey and white matter.
    pub brain_means: [f64; 3],
    /// Below: bone ([`HEAD_BONE_BELOW_WM`] × the white-matter mean).
    pub bone: f64,
    /// Below (and above `bone`): fluid-like (the midpoint of the CSF and grey-matter means).
    pub fluid: f64,
    /// At or above: fat ([`HEAD_FAT_ABOVE_WM`] × the white-matter mean).
    pub fat: f64,
}

/// A whole-head label map (labels of [`crate::head`]) from a whole-head T1 `t1`, the brain's
/// tissue map `tissues` (0 outside, 1 CSF, 2 GM, 3 WM) and the head mask `head`
/// ([`head_mask`]) on one grid of `dims` (1 mm voxels):
///
/// - the brain keeps its tissue labels;
/// - the rest of the head is split by its T1 relative to the brain's own tissue means (T1
///   contrast between tissues is much the same from one T1 scan to another, [`HeadThresholds`]):
///   below [`HEAD_BONE_BELOW_WM`] × WM bone ([`BONE`]); below the CSF–GM midpoint
///   fluid-like, which is extra-cerebral fluid ([`FLUID`]: CSF and dura between brain and
///   skull) within `fluid_shell_mm` of the brain and soft tissue elsewhere (mostly the
///   partial volume of skin and air, or of bone and marrow); from [`HEAD_FAT_ABOVE_WM`] × WM
///   fat ([`FAT`]: scalp and orbital fat, bright marrow); soft tissue ([`SOFT_TISSUE`]:
///   muscle, skin) in between; and soft tissue, not bone, wherever it is dark within
///   `skin_mm` of the air around the head (the skin's partial volume with the air);
/// - everything outside the head is air ([`AIR`]).
///
/// `None` when a brain tissue class is empty or the means are not ordered CSF < GM < WM.
///
/// [`AIR`]: crate::head::AIR
/// [`FLUID`]: crate::head::FLUID
/// [`BONE`]: crate::head::BONE
/// [`SOFT_TISSUE`]: crate::head::SOFT_TISSUE
/// [`FAT`]: crate::head::FAT
pub fn segment_head(
    t1: &[f32],
    dims: [usize; 3],
    tissues: &[u8],
    head: &[bool],
    fluid_shell_mm: f32,
    skin_mm: f32,
) -> Option<(Vec<u8>, HeadThresholds)> {
    use crate::head::{AIR, BONE, FAT, FLUID, SOFT_TISSUE};
    let mut sums = [0f64; 3];
    let mut counts = [0usize; 3];
    for (&v, &l) in t1.iter().zip(tissues) {
        if (1..=3).contains(&l) {
            sums[usize::from(l) - 1] += f64::from(v);
            counts[usize::from(l) - 1] += 1;
        }
    }
    if counts.contains(&0) {
        return None;
    }
    let brain_means = [0, 1, 2].map(|c| sums[c] / counts[c] as f64);
    let [csf, gm, wm] = brain_means;
    if !(csf < gm && gm < wm) {
        return None;
    }
    let levels = HeadThresholds {
        brain_means,
        bone: HEAD_BONE_BELOW_WM * wm,
        fluid: 0.5 * (csf + gm),
        fat: HEAD_FAT_ABOVE_WM * wm,
    };
    let brain: Vec<bool> = tissues.iter().map(|&l| l > 0).collect();
    let distance = crate::field::distance_to(&brain, dims);
    let air: Vec<bool> = head.iter().map(|&h| !h).collect();
    let from_air = crate::field::distance_to(&air, dims);
    let labels = (0..t1.len())
        .map(|i| {
            let v = f64::from(t1[i]);
            match (tissues[i], head[i]) {
                (l @ 1..=3, _) => l,
                (_, false) => AIR,
                _ if v < levels.fluid && from_air[i] <= skin_mm => SOFT_TISSUE,
                _ if v < levels.bone => BONE,
                _ if v < levels.fluid && distance[i] <= fluid_shell_mm => FLUID,
                _ if v >= levels.fat => FAT,
                _ => SOFT_TISSUE,
            }
        })
        .collect();
    Some((labels, levels))
}

/// A whole-head label map (labels of [`crate::head`]) from a brain tissue map `tissues`
/// (0 outside, 1 CSF, 2 GM, 3 WM) and tissue probability maps on the same grid (SPM's TPM:
/// `intracranial` = its GM + WM + CSF, `bone`, `soft`, `air`): the brain keeps its labels;
/// elsewhere the most probable of intracranial ([`FLUID`]: CSF, eyes and other fluid outside
/// the brain mask), bone, soft tissue and air. With a T1 of the head `t1` (same grid), soft
/// tissue at least as bright as the midpoint of a two-class k-means of the soft tissue's T1
/// becomes fat ([`FAT`]). Voxels where every probability is 0 (beyond the maps) are air.
///
/// [`FLUID`]: crate::head::FLUID
/// [`FAT`]: crate::head::FAT
pub fn head_from_probabilities(
    tissues: &[u8],
    intracranial: &[f32],
    bone: &[f32],
    soft: &[f32],
    air: &[f32],
    t1: Option<&[f32]>,
) -> Vec<u8> {
    use crate::head::{AIR, BONE, FAT, FLUID, SOFT_TISSUE};
    let mut labels: Vec<u8> = (0..tissues.len())
        .map(|i| {
            if (1..=3).contains(&tissues[i]) {
                return tissues[i];
            }
            let p = [intracranial[i], bone[i], soft[i], air[i]];
            let (best, &top) = p
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
                .unwrap_or((3, &0.0));
            if top <= 0.0 {
                return AIR;
            }
            [FLUID, BONE, SOFT_TISSUE, AIR][best]
        })
        .collect();
    if let Some(t1) = t1 {
        let values: Vec<f32> = labels
            .iter()
            .zip(t1)
            .filter(|(&l, _)| l == SOFT_TISSUE)
            .map(|(_, &v)| v)
            .collect();
        if let Some(centres) = kmeans_centres(&values, &[0.25, 0.75]) {
            for (l, &v) in labels.iter_mut().zip(t1) {
                if *l == SOFT_TISSUE && nearest_class(v, &centres) == 1 {
                    *l = FAT;
                }
            }
        }
    }
    labels
}

/// Crops a label map `labels` on a grid of `dims` placed by `world_from_voxel` to the box of
/// its non-zero voxels plus `margin` voxels (clipped to the grid): the cropped labels, their
/// dimensions and their `world_from_voxel`. `None` when every label is 0.
pub fn crop_to_content(
    labels: &[u8],
    dims: [usize; 3],
    world_from_voxel: &Affine,
    margin: usize,
) -> Option<(Vec<u8>, [usize; 3], Affine)> {
    let mut lo = [usize::MAX; 3];
    let mut hi = [0usize; 3];
    for (i, &l) in labels.iter().enumerate() {
        if l != 0 {
            let p = coords(i, dims);
            for a in 0..3 {
                lo[a] = lo[a].min(p[a]);
                hi[a] = hi[a].max(p[a]);
            }
        }
    }
    if lo[0] == usize::MAX {
        return None;
    }
    let lo = [0, 1, 2].map(|a| lo[a].saturating_sub(margin));
    let hi = [0, 1, 2].map(|a| (hi[a] + margin).min(dims[a] - 1));
    let out_dims = [0, 1, 2].map(|a| hi[a] - lo[a] + 1);
    let mut out = Vec::with_capacity(out_dims.iter().product());
    for z in lo[2]..=hi[2] {
        for y in lo[1]..=hi[1] {
            let row = dims[0] * (y + dims[1] * z);
            out.extend_from_slice(&labels[row + lo[0]..=row + hi[0]]);
        }
    }
    let mut shift = Affine::IDENTITY;
    for (row, &l) in shift.0.iter_mut().zip(&lo) {
        row[3] = l as f64;
    }
    Some((out, out_dims, world_from_voxel.compose(&shift)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_held_out_anatomy_is_refused_by_name() {
        for name in [
            "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
            "MNI_ICBM152_gm.nii",
        ] {
            let err = check_not_held_out(Path::new("some/dir").join(name).as_path())
                .expect_err("held out");
            assert!(err.to_string().contains("held-out"), "{err}");
        }
        for name in ["ch2bet.nii.gz", "avg152T1.nii", "sri24_t1_stripped.nii.gz"] {
            assert!(check_not_held_out(Path::new(name)).is_ok(), "{name}");
        }
    }

    #[test]
    fn k_means_orders_three_intensity_groups() {
        // Three noisy groups around 100, 250 and 400, and voxels outside the mask.
        let mut t1 = Vec::new();
        let mut mask = Vec::new();
        let mut truth = Vec::new();
        for i in 0..3000usize {
            let class = i % 3;
            let jitter = ((i * 7919) % 41) as f32 - 20.0;
            t1.push(100.0 + 150.0 * class as f32 + jitter);
            mask.push(i % 10 != 0);
            truth.push(if i % 10 == 0 { 0 } else { class as u8 + 1 });
        }
        let labels = segment_tissues(&t1, &mask).expect("three classes");
        assert_eq!(labels, truth);
        assert!(segment_tissues(&[5.0; 10], &[true; 10]).is_none());
        assert!(segment_tissues(&[1.0, 2.0], &[true, true]).is_none());
    }

    #[test]
    fn moments_alignment_maps_one_box_onto_another() {
        // A 4×6×4 box at offset (2, 3, 1) on a 1 mm grid, and a box twice as large elsewhere.
        let dims = [16, 16, 16];
        let boxed = |lo: [usize; 3], size: [usize; 3]| -> Vec<bool> {
            let mut m = vec![false; dims.iter().product()];
            for z in lo[2]..lo[2] + size[2] {
                for y in lo[1]..lo[1] + size[1] {
                    for x in lo[0]..lo[0] + size[0] {
                        m[x + dims[0] * (y + dims[1] * z)] = true;
                    }
                }
            }
            m
        };
        let affine = Affine::from_spacing([1.0, 1.0, 1.0]);
        let source = mask_moments(&boxed([2, 3, 1], [4, 6, 4]), dims, &affine).expect("voxels");
        let reference = mask_moments(&boxed([5, 1, 2], [8, 12, 8]), dims, &affine).expect("voxels");
        let t = align_by_moments(source, reference);
        // The reference box's centre and corners land on the source box's.
        let centre = t.apply(reference.0);
        for (a, (c, s)) in centre.iter().zip(source.0).enumerate() {
            assert!((c - s).abs() < 1e-9);
            assert!((t.0[a][a] - 0.5).abs() < 0.02, "scale {}", t.0[a][a]);
        }
        assert!(mask_moments(&vec![false; 4096], dims, &affine).is_none());
    }

    /// A phantom head on a 1 mm grid of `dims`: a brain ball (WM core, GM shell, CSF rim) of
    /// radius 20 inside a dark shell (bone, radius 24), a mid shell (soft, 27), a bright
    /// shell (fat, 29) and a dark skin (30), in a background of 0 with one bright speckle;
    /// the T1 and the tissues.
    fn phantom(dims: [usize; 3]) -> (Vec<f32>, Vec<u8>) {
        let c = dims.map(|d| d as f64 / 2.0);
        let mut t1 = Vec::new();
        let mut tissues = Vec::new();
        for z in 0..dims[2] {
            for y in 0..dims[1] {
                for x in 0..dims[0] {
                    let r = ((x as f64 - c[0]).powi(2)
                        + (y as f64 - c[1]).powi(2)
                        + (z as f64 - c[2]).powi(2))
                    .sqrt();
                    let (v, l) = match r {
                        r if r < 12.0 => (100.0, 3),
                        r if r < 18.0 => (70.0, 2),
                        r if r < 20.0 => (40.0, 1),
                        r if r < 21.5 => (35.0, 0),
                        r if r < 24.0 => (5.0, 0),
                        r if r < 27.0 => (80.0, 0),
                        r if r < 29.0 => (140.0, 0),
                        r if r < 30.0 => (20.0, 0),
                        _ => (0.0, 0),
                    };
                    t1.push(v);
                    tissues.push(l);
                }
            }
        }
        t1[1 + dims[0] * (1 + dims[1])] = 200.0;
        (t1, tissues)
    }

    #[test]
    fn the_head_mask_keeps_enclosed_dark_tissue_and_drops_background_speckle() {
        let dims = [80, 80, 80];
        let (t1, _) = phantom(dims);
        let head = head_mask(&t1, dims, 10.0, 3.0, None);
        let at = |x: usize, y: usize, z: usize| head[x + 80 * (y + 80 * z)];
        assert!(at(40, 40, 40), "brain");
        assert!(
            at(40 + 23, 40, 40),
            "the dark bone shell is enclosed by the scalp"
        );
        assert!(at(40 + 28, 40, 40), "scalp");
        assert!(at(40 + 29, 40, 40), "skin");
        assert!(!at(40 + 31, 40, 40), "air");
        assert!(
            !at(1, 1, 1),
            "a bright speckle in the background is not head"
        );
        // A head cut by the grid's low z face: dark tissue at the cut is not background when
        // that face is the neck.
        let dims = [64, 64, 40];
        let mut t1 = vec![0f32; 64 * 64 * 40];
        for z in 0..40 {
            for y in 16..48 {
                for x in 16..48 {
                    let inner = (20..44).contains(&x) && (20..44).contains(&y);
                    t1[x + 64 * (y + 64 * z)] = if inner && z < 36 { 2.0 } else { 50.0 };
                }
            }
        }
        let open = head_mask(&t1, dims, 10.0, 3.0, None);
        let neck = head_mask(&t1, dims, 10.0, 3.0, Some((2, false)));
        let inside = 30 + 64 * (30 + 64 * 5);
        assert!(!open[inside], "flooded from the cut");
        assert!(neck[inside], "kept with the neck face closed");
    }

    #[test]
    fn head_segmentation_labels_bone_fluid_soft_tissue_and_fat() {
        use crate::head::{AIR, BONE, FAT, FLUID, SOFT_TISSUE};
        let dims = [80, 80, 80];
        let (t1, tissues) = phantom(dims);
        let head = head_mask(&t1, dims, 10.0, 3.0, None);
        let (labels, levels) = segment_head(&t1, dims, &tissues, &head, 2.0, 1.5).expect("ordered");
        assert_eq!(levels.brain_means, [40.0, 70.0, 100.0]);
        assert!((levels.bone - 30.0).abs() < 1e-9 && (levels.fluid - 55.0).abs() < 1e-9);
        assert!((levels.fat - 115.0).abs() < 1e-9);
        let at = |dx: usize| labels[40 + dx + 80 * (40 + 80 * 40)];
        assert_eq!(
            [at(0), at(15), at(19)],
            [3, 2, 1],
            "the brain keeps its labels"
        );
        assert_eq!(at(21), FLUID, "dark and next to the brain");
        assert_eq!(at(23), BONE);
        assert_eq!(at(25), SOFT_TISSUE);
        assert_eq!(at(28), FAT);
        assert_eq!(at(29), SOFT_TISSUE, "dark skin next to the air is not bone");
        assert_eq!(at(31), AIR);
        let (no_skin, _) = segment_head(&t1, dims, &tissues, &head, 2.0, 0.0).expect("ordered");
        assert_eq!(no_skin[40 + 29 + 80 * (40 + 80 * 40)], BONE);
        // Dark but far from the brain: soft tissue (partial volume), not fluid.
        let (far, _) = segment_head(&t1, dims, &tissues, &head, 0.5, 0.5).expect("ordered");
        assert_eq!(far[40 + 21 + 80 * (40 + 80 * 40)], SOFT_TISSUE);
        // A brain whose T1 means are not CSF < GM < WM is refused.
        let flat = vec![50.0f32; t1.len()];
        assert!(segment_head(&flat, dims, &tissues, &head, 2.0, 0.5).is_none());
    }

    #[test]
    fn probability_heads_take_the_most_probable_class_and_split_fat() {
        use crate::head::{AIR, BONE, FAT, FLUID, SOFT_TISSUE};
        // Voxel 0 is brain; 1 to 8 are not; 6 is beyond the maps (all probabilities 0).
        let tissues = [2, 0, 0, 0, 0, 0, 0, 0, 0];
        let intracranial = [0.0, 0.7, 0.1, 0.1, 0.1, 0.0, 0.0, 0.1, 0.1];
        let bone = [0.0, 0.2, 0.6, 0.1, 0.1, 0.2, 0.0, 0.1, 0.1];
        let soft = [0.0, 0.1, 0.2, 0.7, 0.7, 0.1, 0.0, 0.8, 0.8];
        let air = [1.0, 0.0, 0.1, 0.1, 0.1, 0.7, 0.0, 0.0, 0.0];
        let t1 = [0.5, 0.2, 0.1, 0.3, 0.9, 0.0, 0.0, 0.35, 0.85];
        let plain = head_from_probabilities(&tissues, &intracranial, &bone, &soft, &air, None);
        let soft4 = [SOFT_TISSUE; 2];
        assert_eq!(
            plain,
            [&[2, FLUID, BONE][..], &soft4, &[AIR, AIR], &soft4].concat()
        );
        let with_fat =
            head_from_probabilities(&tissues, &intracranial, &bone, &soft, &air, Some(&t1));
        assert_eq!(
            with_fat,
            vec![2, FLUID, BONE, SOFT_TISSUE, FAT, AIR, AIR, SOFT_TISSUE, FAT]
        );
    }

    #[test]
    fn k_means_helpers_and_cropping() {
        let values: Vec<f32> = (0..300).map(|i| [10.0, 50.0, 90.0][i % 3]).collect();
        let centres = kmeans_centres(&values, &[0.1, 0.5, 0.9]).expect("three groups");
        assert_eq!(centres, vec![10.0, 50.0, 90.0]);
        assert_eq!(nearest_class(29.0, &centres), 0);
        assert_eq!(nearest_class(31.0, &centres), 1);
        assert_eq!(nearest_class(200.0, &centres), 2);
        assert!(kmeans_centres(&[1.0; 10], &[0.2, 0.8]).is_none());
        assert!(kmeans_centres(&[1.0], &[0.2, 0.8]).is_none());

        let dims = [10, 8, 6];
        let mut labels = vec![0u8; 480];
        labels[3 + 10 * (2 + 8)] = 5;
        labels[6 + 10 * (5 + 8 * 4)] = 7;
        let affine = Affine::from_spacing([1.0, 2.0, 3.0]);
        let (cropped, cdims, caffine) = crop_to_content(&labels, dims, &affine, 1).expect("some");
        assert_eq!(cdims, [6, 6, 6]);
        assert_eq!(cropped.iter().filter(|&&l| l != 0).count(), 2);
        // The cropped grid's first voxel is the original voxel (2, 1, 0).
        assert_eq!(caffine.apply([0.0, 0.0, 0.0]), [2.0, 2.0, 0.0]);
        assert_eq!(cropped[1 + 6 * (1 + 6)], 5);
        assert!(crop_to_content(&[0u8; 480], dims, &affine, 1).is_none());
        let two = largest_component(
            &[
                true, true, false, true, false, false, true, true, true, false,
            ],
            [10, 1, 1],
        );
        assert_eq!(
            two,
            vec![false, false, false, false, false, false, true, true, true, false]
        );
    }
}
