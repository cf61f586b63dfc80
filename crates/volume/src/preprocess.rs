//! Preprocessing of a case for the network, and the way back to the input grid.
//!
//! Steps (in [`preprocess`]): each present modality is brought to canonical RAS
//! ([`crate::geometry`]); the brain mask is the set of voxels that are non-zero in any present
//! modality; the grid is cropped to the mask's bounding box plus a margin; each present modality
//! is normalised over brain voxels ([`Normalization`]: robust by default — median and
//! interquartile range, clipped — or the z-score of the models trained before it, or min–max as
//! the authors did); voxels outside the brain and absent modalities are 0. [`Preprocessed::labels_to_native`]
//! pastes a label map computed on the crop back into the full input grid and orientation.

use crate::brats::{Availability, LoadedCase, Modality};
use crate::error::{Result, VolumeError};
use crate::geometry::{Affine, AxisMap};
use crate::volume::Volume;

/// Intensity normalisation over brain voxels.
///
/// A network is trained with one of them and must be run with the same one: model files record
/// it (`adamm.normalization`), training configurations too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Normalization {
    /// (v − median) / (IQR / 1.349) over brain voxels, clipped to ±[`ROBUST_CLIP`]: the
    /// interquartile range of a normal distribution is 1.349 σ, so tissue lands where a z-score
    /// would put it, but neither a handful of extreme voxels (vessels, artefacts), negative
    /// interpolation values at the edge nor a bright edema of a third of the brain moves the
    /// centre or the scale much. Falls back to the standard deviation when the IQR is 0 (an
    /// image of a few distinct values). The default.
    #[default]
    Robust,
    /// (v − mean) / std over brain voxels (std floored at 1e-8): the models trained before the
    /// robust normalisation (files that record none).
    ZScore,
    /// (v − min) / (max − min) over brain voxels, as the authors' code did.
    MinMax,
}

/// Robust-normalised values are clipped to ±this many robust standard deviations.
pub const ROBUST_CLIP: f32 = 10.0;

impl Normalization {
    /// Every normalisation, in declaration order.
    pub const ALL: [Normalization; 3] = [
        Normalization::Robust,
        Normalization::ZScore,
        Normalization::MinMax,
    ];

    /// The name model files and configurations record: `robust`, `zscore` or `minmax`.
    pub fn name(self) -> &'static str {
        match self {
            Normalization::Robust => "robust",
            Normalization::ZScore => "zscore",
            Normalization::MinMax => "minmax",
        }
    }

    /// The normalisation called `name` (see [`Normalization::name`]).
    pub fn from_name(name: &str) -> Option<Normalization> {
        Normalization::ALL.into_iter().find(|n| n.name() == name)
    }
}

/// Preprocessing options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreprocessOptions {
    /// Normalisation (default [`Normalization::Robust`]).
    pub normalization: Normalization,
    /// Voxels added around the brain bounding box on every side (default 2), clipped to the
    /// grid.
    pub margin: usize,
}

impl Default for PreprocessOptions {
    fn default() -> Self {
        PreprocessOptions {
            normalization: Normalization::Robust,
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
    preprocess_with_mask(images, None, options)
}

/// [`preprocess`] with the brain mask given (on the volumes' grid, x fastest; from brain
/// extraction) instead of taken as the voxels non-zero in any modality.
pub fn preprocess_with_mask(
    images: [Option<&Volume>; 4],
    brain_mask: Option<&[bool]>,
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
    let mask = match brain_mask {
        Some(given) => {
            if given.len() != grid_volume.data.len() {
                return Err(VolumeError::LengthMismatch {
                    what: "preprocessing a case with a brain mask",
                    expected: grid_volume.data.len(),
                    actual: given.len(),
                    dims: grid_volume.dims(),
                });
            }
            map.canonical_from_native(given)
        }
        None => {
            let mut mask = vec![false; n];
            for c in canonical.iter().flatten() {
                for (m, &v) in mask.iter_mut().zip(c) {
                    *m |= v != 0.0;
                }
            }
            mask
        }
    };
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
    let mean_std = || {
        let mean = inside().sum::<f64>() / count as f64;
        let var = inside().map(|v| (v - mean).powi(2)).sum::<f64>() / count as f64;
        (mean, var.sqrt().max(1e-8))
    };
    let (offset, scale, clip) = match how {
        Normalization::Robust => {
            let mut values: Vec<f32> = inside().map(|v| v as f32).collect();
            let [q1, median, q3] = quartiles(&mut values);
            let iqr_sigma = (q3 - q1) / 1.349;
            let scale = if iqr_sigma > 0.0 {
                iqr_sigma
            } else {
                mean_std().1
            };
            (median, scale, Some(f64::from(ROBUST_CLIP)))
        }
        Normalization::ZScore => {
            let (mean, std) = mean_std();
            (mean, std, None)
        }
        Normalization::MinMax => {
            let (lo, hi) = inside().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
            (lo, (hi - lo).max(1e-8), None)
        }
    };
    data.iter()
        .zip(brain)
        .map(|(&v, &b)| {
            if !b {
                return 0.0;
            }
            let z = (v as f64 - offset) / scale;
            match clip {
                Some(c) => z.clamp(-c, c) as f32,
                None => z as f32,
            }
        })
        .collect()
}

/// The first quartile, median and third quartile of `values` (not empty; reordered), each the
/// lower of the two middle values where the position falls between them.
fn quartiles(values: &mut [f32]) -> [f64; 3] {
    let n = values.len();
    [n / 4, n / 2, (3 * n) / 4].map(|rank| {
        let (_, v, _) = values.select_nth_unstable_by(rank.min(n - 1), f32::total_cmp);
        f64::from(*v)
    })
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
                normalization: Normalization::ZScore,
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

    /// A brain of `n` voxels: normal tissue spread over [900, 1100] by a fixed pattern.
    fn tissue(n: usize) -> Vec<f32> {
        (0..n).map(|i| 900.0 + (i * 37 % 201) as f32).collect()
    }

    fn robust(data: &[f32]) -> Vec<f32> {
        normalize(data, &vec![true; data.len()], Normalization::Robust)
    }

    #[test]
    fn robust_normalisation_centres_tissue_like_a_z_score() {
        // A normal-like sample: the IQR rescaled by 1.349 is close to its standard deviation.
        let data: Vec<f32> = (1..=2000)
            .map(|i| {
                // Inverse of the logistic CDF is close enough to normal quantiles for this.
                let p = i as f64 / 2001.0;
                (100.0 + 15.0 * (p / (1.0 - p)).ln() * 0.5513) as f32
            })
            .collect();
        let out = robust(&data);
        let mut sorted = out.clone();
        sorted.sort_by(f32::total_cmp);
        assert!(sorted[1000].abs() < 0.01, "median {}", sorted[1000]);
        let iqr = sorted[1500] - sorted[500];
        assert!((iqr - 1.349).abs() < 0.02, "IQR {iqr}");
    }

    #[test]
    fn robust_normalisation_ignores_outliers_negatives_and_a_large_lesion() {
        let base = tissue(10_000);
        let reference = robust(&base);
        // A few extreme voxels (a vessel, an artefact) and interpolation negatives at the edge.
        let mut spiky = base.clone();
        for v in spiky.iter_mut().take(20) {
            *v = 1.0e6;
        }
        for v in spiky.iter_mut().skip(20).take(30) {
            *v = -50.0;
        }
        let out = robust(&spiky);
        let moved = out[100..]
            .iter()
            .zip(&reference[100..])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(moved < 0.02, "tissue moved by {moved}");
        assert!(
            out[..20].iter().all(|&v| v == ROBUST_CLIP),
            "spikes clipped"
        );
        assert!(out[20..50].iter().all(|&v| v == -ROBUST_CLIP));
        let z = normalize(&spiky, &vec![true; spiky.len()], Normalization::ZScore);
        assert!(
            z[100..].iter().all(|v| v.abs() < 0.1),
            "the z-score squashes all tissue to about 0 (the contrast the robust one keeps)"
        );

        // A bright lesion over 30 % of the brain: the tissue's normalised values move far less
        // under the robust normalisation than under the z-score.
        let mut lesion = base.clone();
        for v in lesion.iter_mut().take(3_000) {
            *v = 2_000.0;
        }
        let shift = |how: Normalization| {
            let a = normalize(&base, &vec![true; base.len()], how);
            let b = normalize(&lesion, &vec![true; lesion.len()], how);
            let tissue_mean = |x: &[f32]| x[3_000..].iter().sum::<f32>() / 7_000.0;
            (tissue_mean(&a) - tissue_mean(&b)).abs()
        };
        let (r, z) = (shift(Normalization::Robust), shift(Normalization::ZScore));
        assert!(r < 0.6 * z, "robust shift {r} vs z-score shift {z}");
    }

    #[test]
    fn robust_normalisation_of_a_flat_image_falls_back_to_the_standard_deviation() {
        // More than three quarters one value: the IQR is 0.
        let data: Vec<f32> = (0..400).map(|i| if i < 310 { 5.0 } else { 9.0 }).collect();
        let out = robust(&data);
        assert!(out.iter().all(|v| v.is_finite()));
        assert_eq!(out[0], 0.0, "the median is the centre");
        // The std of 310 × 5 and 90 × 9 is 4·√(p(1 − p)) with p = 90 / 400.
        let p = 90.0f32 / 400.0;
        let std = 4.0 * (p * (1.0 - p)).sqrt();
        assert!((out[399] - 4.0 / std).abs() < 1e-4, "{}", out[399]);
        let constant = robust(&[7.0; 10]);
        assert!(constant.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn normalisation_names_round_trip() {
        for n in Normalization::ALL {
            assert_eq!(Normalization::from_name(n.name()), Some(n));
        }
        assert_eq!(Normalization::from_name("z-score"), None);
        assert_eq!(Normalization::default(), Normalization::Robust);
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
