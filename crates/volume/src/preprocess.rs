//! Preprocessing of a case for the network, and the way back to the input grid.
//!
//! Steps (in [`preprocess`]): each present modality is brought to canonical RAS
//! ([`crate::geometry`]); the brain mask is the set of voxels that are non-zero in any present
//! modality; the grid is cropped to the mask's bounding box plus a margin; each present modality
//! is normalised over brain voxels (z-score by default, min–max as the authors did, optional);
//! voxels outside the brain and absent modalities are 0. [`Preprocessed::labels_to_native`]
//! pastes a label map computed on the crop back into the full input grid and orientation.

use crate::brats::{Availability, LoadedCase, Modality};
use crate::error::{Result, VolumeError};
use crate::geometry::{Affine, AxisMap};
use crate::volume::Volume;

/// Intensity normalisation over brain voxels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Normalization {
    /// (v − mean) / std over brain voxels (std floored at 1e-8).
    #[default]
    ZScore,
    /// (v − min) / (max − min) over brain voxels, as the authors' code did.
    MinMax,
}

/// Preprocessing options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreprocessOptions {
    /// Normalisation (default z-score).
    pub normalization: Normalization,
    /// Voxels added around the brain bounding box on every side (default 2), clipped to the
    /// grid.
    pub margin: usize,
}

impl Default for PreprocessOptions {
    fn default() -> Self {
        PreprocessOptions {
            normalization: Normalization::ZScore,
            margin: 2,
        }
    }
}

/// A box of voxels `[start, end)` per axis in the canonical grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropBox {
    /// First voxel per axis.
    pub start: [usize; 3],
    /// One past the last voxel per axis.
    pub end: [usize; 3],
}

impl CropBox {
    /// Size per axis.
    pub fn dims(&self) -> [usize; 3] {
        [0, 1, 2].map(|a| self.end[a] - self.start[a])
    }

    /// The whole grid.
    pub fn full(dims: [usize; 3]) -> CropBox {
        CropBox {
            start: [0; 3],
            end: dims,
        }
    }

    /// Bounding box of `mask` (x fastest in a grid of `dims`) grown by `margin`, or `None`
    /// when the mask is empty.
    pub fn around(mask: &[bool], dims: [usize; 3], margin: usize) -> Option<CropBox> {
        let mut lo = dims;
        let mut hi = [0usize; 3];
        let mut any = false;
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                let row = (k * dims[1] + j) * dims[0];
                for i in 0..dims[0] {
                    if mask[row + i] {
                        any = true;
                        for (a, v) in [i, j, k].into_iter().enumerate() {
                            lo[a] = lo[a].min(v);
                            hi[a] = hi[a].max(v + 1);
                        }
                    }
                }
            }
        }
        any.then(|| CropBox {
            start: [0, 1, 2].map(|a| lo[a].saturating_sub(margin)),
            end: [0, 1, 2].map(|a| (hi[a] + margin).min(dims[a])),
        })
    }

    /// Copies the box out of `data` (grid `dims`).
    pub fn crop<T: Copy>(&self, data: &[T], dims: [usize; 3]) -> Vec<T> {
        let d = self.dims();
        let mut out = Vec::with_capacity(d.iter().product());
        for k in self.start[2]..self.end[2] {
            for j in self.start[1]..self.end[1] {
                let row = (k * dims[1] + j) * dims[0];
                out.extend_from_slice(&data[row + self.start[0]..row + self.end[0]]);
            }
        }
        out
    }

    /// Pastes `cropped` into a grid of `dims` filled with `fill`.
    pub fn paste<T: Copy>(&self, cropped: &[T], dims: [usize; 3], fill: T) -> Vec<T> {
        let mut out = vec![fill; dims.iter().product()];
        let w = self.end[0] - self.start[0];
        let mut src = 0;
        for k in self.start[2]..self.end[2] {
            for j in self.start[1]..self.end[1] {
                let row = (k * dims[1] + j) * dims[0] + self.start[0];
                out[row..row + w].copy_from_slice(&cropped[src..src + w]);
                src += w;
            }
        }
        out
    }
}

/// A case ready for the network: four channels on the cropped canonical grid.
#[derive(Debug, Clone)]
pub struct Preprocessed {
    /// Channels in [`Modality::ALL`] order, each `crop.dims()` voxels, x fastest; absent
    /// modalities are all zero.
    pub channels: [Vec<f32>; 4],
    /// Which modalities are present.
    pub availability: Availability,
    /// The brain mask on the crop.
    pub brain: Vec<bool>,
    /// The crop in the canonical grid.
    pub crop: CropBox,
    /// From the native grid to canonical and back.
    pub map: AxisMap,
    /// Voxel→world affine of the full canonical grid.
    pub world_from_canonical: Affine,
    /// Voxel spacing of the canonical grid in mm.
    pub spacing_mm: [f64; 3],
}

impl Preprocessed {
    /// Dimensions of the cropped grid.
    pub fn dims(&self) -> [usize; 3] {
        self.crop.dims()
    }

    /// Takes a label map on the crop (x fastest) back to the native grid of the input:
    /// pasted into the canonical grid with background around it, then un-reoriented.
    pub fn labels_to_native(&self, labels: &[u8]) -> Result<Vec<u8>> {
        let expected: usize = self.dims().iter().product();
        if labels.len() != expected {
            return Err(VolumeError::LengthMismatch {
                what: "pasting labels back",
                expected,
                actual: labels.len(),
                dims: self.dims(),
            });
        }
        let full = self.crop.paste(labels, self.map.canonical_dims(), 0u8);
        Ok(self.map.native_from_canonical_data(&full))
    }

    /// Brings a native-grid label map (e.g. the ground truth) onto the crop.
    pub fn labels_from_native(&self, native: &[u8]) -> Result<Vec<u8>> {
        let expected: usize = self.map.native_dims.iter().product();
        if native.len() != expected {
            return Err(VolumeError::LengthMismatch {
                what: "cropping labels",
                expected,
                actual: native.len(),
                dims: self.map.native_dims,
            });
        }
        let canonical = self.map.canonical_from_native(native);
        Ok(self.crop.crop(&canonical, self.map.canonical_dims()))
    }
}

/// Preprocesses the present volumes of a case (see the module docs). All volumes must share
/// one grid (as [`crate::brats::load_case`] checks).
pub fn preprocess(
    images: [Option<&Volume>; 4],
    options: PreprocessOptions,
) -> Result<Preprocessed> {
    let availability = Availability::from_present(images.map(|v| v.is_some()));
    // The first present volume gives the case's grid (as `LoadedCase::grid_volume`).
    let Some(grid_volume) = images.iter().flatten().next() else {
        return Err(VolumeError::BadDims("no modality to preprocess".into()));
    };
    let map = grid_volume.canonical_map();
    let world_from_canonical = map.world_from_canonical(&grid_volume.world_from_voxel());
    let dims = map.canonical_dims();
    let n: usize = dims.iter().product();
    let mut canonical: [Option<Vec<f32>>; 4] = Default::default();
    for m in Modality::ALL {
        if let Some(v) = images[m.index()] {
            if v.dims() != grid_volume.dims() {
                return Err(VolumeError::LengthMismatch {
                    what: "preprocessing a case (all modalities must share one grid)",
                    expected: grid_volume.data.len(),
                    actual: v.data.len(),
                    dims: grid_volume.dims(),
                });
            }
            canonical[m.index()] = Some(map.canonical_from_native(&v.data));
        }
    }
    let mut mask = vec![false; n];
    for c in canonical.iter().flatten() {
        for (m, &v) in mask.iter_mut().zip(c) {
            *m |= v != 0.0;
        }
    }
    let crop = CropBox::around(&mask, dims, options.margin).unwrap_or(CropBox::full(dims));
    let brain = crop.crop(&mask, dims);
    let crop_n: usize = crop.dims().iter().product();
    let channels = canonical.map(|c| match c {
        Some(data) => normalize(&crop.crop(&data, dims), &brain, options.normalization),
        None => vec![0.0; crop_n],
    });
    Ok(Preprocessed {
        channels,
        availability,
        brain,
        crop,
        map,
        spacing_mm: world_from_canonical.column_norms(),
        world_from_canonical,
    })
}

/// Preprocesses a loaded case.
pub fn preprocess_case(case: &LoadedCase, options: PreprocessOptions) -> Result<Preprocessed> {
    preprocess(case.images.each_ref().map(|v| v.as_ref()), options)
}

/// Normalises `data` over the voxels where `brain` is true; other voxels become 0.
pub fn normalize(data: &[f32], brain: &[bool], how: Normalization) -> Vec<f32> {
    let inside = || {
        data.iter()
            .zip(brain)
            .filter(|(_, &b)| b)
            .map(|(&v, _)| v as f64)
    };
    let count = brain.iter().filter(|&&b| b).count();
    if count == 0 {
        return vec![0.0; data.len()];
    }
    let (offset, scale) = match how {
        Normalization::ZScore => {
            let mean = inside().sum::<f64>() / count as f64;
            let var = inside().map(|v| (v - mean).powi(2)).sum::<f64>() / count as f64;
            (mean, var.sqrt().max(1e-8))
        }
        Normalization::MinMax => {
            let (lo, hi) = inside().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
            (lo, (hi - lo).max(1e-8))
        }
    };
    data.iter()
        .zip(brain)
        .map(|(&v, &b)| {
            if b {
                ((v as f64 - offset) / scale) as f32
            } else {
                0.0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nifti_io::{Datatype, Header};

    fn volume(dims: [usize; 3], affine: &Affine, f: impl Fn(usize, usize, usize) -> f32) -> Volume {
        let mut data = Vec::new();
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    data.push(f(i, j, k));
                }
            }
        }
        Volume::new(data, Header::from_affine(dims, Datatype::F32, affine)).expect("valid")
    }

    #[test]
    fn crop_normalise_and_paste_back_in_an_las_grid() {
        let mut las = Affine::IDENTITY;
        las.0[0][0] = -1.0;
        let dims = [10, 8, 6];
        // A brain block at native x 2..5, y 3..6, z 1..4 with values 1..; zero outside.
        let inside = |i: usize, j: usize, k: usize| {
            (2..5).contains(&i) && (3..6).contains(&j) && (1..4).contains(&k)
        };
        let t1 = volume(dims, &las, |i, j, k| {
            if inside(i, j, k) {
                (i + j + k) as f32
            } else {
                0.0
            }
        });
        let flair = volume(
            dims,
            &las,
            |i, j, k| if inside(i, j, k) { 5.0 } else { 0.0 },
        );
        let p = preprocess(
            [Some(&t1), None, None, Some(&flair)],
            PreprocessOptions {
                margin: 1,
                ..Default::default()
            },
        )
        .expect("ok");
        assert_eq!(p.availability.code(), "1001");
        // Canonical x = 9 − native x: brain at canonical 5..8, plus margin 1 → 4..9.
        assert_eq!(
            p.crop,
            CropBox {
                start: [4, 2, 0],
                end: [9, 7, 5]
            }
        );
        assert!(
            p.channels[1].iter().all(|&v| v == 0.0),
            "absent T1Gd is zero"
        );
        // z-score over the brain: mean 0, std 1; constant FLAIR gives zeros.
        let brain: Vec<f32> = p.channels[0]
            .iter()
            .zip(&p.brain)
            .filter(|(_, &b)| b)
            .map(|(&v, _)| v)
            .collect();
        assert_eq!(brain.len(), 27);
        let mean: f32 = brain.iter().sum::<f32>() / 27.0;
        let var: f32 = brain.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 27.0;
        assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4);
        // Labels on the crop come back to exactly the native brain block.
        let labels: Vec<u8> = p.brain.iter().map(|&b| b as u8).collect();
        let native = p.labels_to_native(&labels).expect("same size");
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    assert_eq!(
                        native[i + dims[0] * (j + dims[1] * k)] == 1,
                        inside(i, j, k),
                        "{i},{j},{k}"
                    );
                }
            }
        }
        assert_eq!(p.labels_from_native(&native).expect("size"), labels);
        assert!(p.labels_to_native(&[0u8; 3]).is_err());
    }

    #[test]
    fn min_max_maps_brain_to_unit_range() {
        let out = normalize(
            &[0.0, 2.0, 4.0, 6.0],
            &[false, true, true, true],
            Normalization::MinMax,
        );
        assert_eq!(out, [0.0, 0.0, 0.5, 1.0]);
    }
}
