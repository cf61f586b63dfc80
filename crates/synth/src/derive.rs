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

use std::path::Path;

use adamm_volume::geometry::Affine;

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
}
