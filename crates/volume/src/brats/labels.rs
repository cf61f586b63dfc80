//! Label values (internal and in BraTS files), their colours, tumour regions and label
//! volumes.

use std::fmt;

/// Internal label values.
pub mod label {
    /// Background.
    pub const BACKGROUND: u8 = 0;
    /// Necrotic / non-enhancing tumour core.
    pub const NETC: u8 = 1;
    /// Surrounding non-enhancing FLAIR hyperintensity (edema).
    pub const SNFH: u8 = 2;
    /// Enhancing tumour.
    pub const ET: u8 = 3;
}

/// Display name and colour (sRGB) of each tumour label, in the paper's colours: NETC yellow,
/// SNFH (edema) green, ET red. Every overlay (CLI montages, the app) uses these.
pub const LABEL_COLOURS: [(u8, &str, [u8; 3]); 3] = [
    (label::NETC, "NETC", [250, 220, 0]),
    (label::SNFH, "SNFH", [40, 200, 60]),
    (label::ET, "ET", [230, 40, 40]),
];

/// The label values a segmentation file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelConvention {
    /// {0, 1 NETC, 2 edema, 4 ET}.
    Brats2021,
    /// {0, 1 NETC, 2 SNFH, 3 ET}.
    Brats2023,
}

/// A label map that cannot be interpreted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LabelError {
    /// A value outside the convention's set.
    #[error("unexpected label value {value} ({count} voxels); BraTS labels are {{0,1,2,4}} (2021) or {{0,1,2,3}} (2023+)")]
    Unknown {
        /// The value.
        value: f32,
        /// How many voxels have it.
        count: usize,
    },
    /// Both 3 and 4 occur, so the convention cannot be told.
    #[error(
        "the label map contains both 3 and 4, which mixes the BraTS 2021 and 2023 conventions"
    )]
    Mixed,
}

impl LabelConvention {
    /// The file value of an internal label.
    pub fn file_value(self, internal: u8) -> u8 {
        match (self, internal) {
            (LabelConvention::Brats2021, label::ET) => 4,
            (_, v) => v,
        }
    }

    /// Guesses the convention from the values present: 4 → 2021, else 2023.
    pub fn detect(values: &[f32]) -> Result<LabelConvention, LabelError> {
        let (has3, has4) = values
            .iter()
            .fold((false, false), |(a, b), &v| (a || v == 3.0, b || v == 4.0));
        match (has3, has4) {
            (true, true) => Err(LabelError::Mixed),
            (false, true) => Ok(LabelConvention::Brats2021),
            _ => Ok(LabelConvention::Brats2023),
        }
    }

    /// Maps a label file's values to internal labels, its convention (2021 or 2023) detected
    /// from the values ([`LabelConvention::detect`]).
    pub fn detect_to_internal(values: &[f32]) -> Result<Vec<u8>, LabelError> {
        LabelConvention::detect(values)?.to_internal(values)
    }

    /// Maps file values to internal labels; any other value is an error naming it.
    pub fn to_internal(self, values: &[f32]) -> Result<Vec<u8>, LabelError> {
        let et = match self {
            LabelConvention::Brats2021 => 4.0,
            LabelConvention::Brats2023 => 3.0,
        };
        let mut out = Vec::with_capacity(values.len());
        let mut bad: Option<f32> = None;
        for &v in values {
            out.push(if v == 0.0 {
                label::BACKGROUND
            } else if v == 1.0 {
                label::NETC
            } else if v == 2.0 {
                label::SNFH
            } else if v == et {
                label::ET
            } else {
                bad.get_or_insert(v);
                0
            });
        }
        match bad {
            Some(value) => Err(LabelError::Unknown {
                value,
                count: values.iter().filter(|&&v| v == value).count(),
            }),
            None => Ok(out),
        }
    }
}

/// A tumour region evaluated by BraTS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Region {
    /// Whole tumour: NETC ∪ SNFH ∪ ET.
    WT,
    /// Tumour core: NETC ∪ ET.
    TC,
    /// Enhancing tumour.
    ET,
}

impl Region {
    /// WT, TC, ET.
    pub const ALL: [Region; 3] = [Region::WT, Region::TC, Region::ET];

    /// Whether internal label `l` belongs to the region.
    pub fn contains(self, l: u8) -> bool {
        match self {
            Region::WT => l == label::NETC || l == label::SNFH || l == label::ET,
            Region::TC => l == label::NETC || l == label::ET,
            Region::ET => l == label::ET,
        }
    }

    /// "WT", "TC" or "ET".
    pub fn name(self) -> &'static str {
        match self {
            Region::WT => "WT",
            Region::TC => "TC",
            Region::ET => "ET",
        }
    }

    /// The region's mask of an internal label map.
    pub fn mask(self, labels: &[u8]) -> Vec<bool> {
        labels.iter().map(|&l| self.contains(l)).collect()
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Volumes of the three labels of an internal label map, in mL.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelVolumes {
    /// Necrotic / non-enhancing tumour core.
    pub netc: f64,
    /// Surrounding non-enhancing FLAIR hyperintensity (edema).
    pub snfh: f64,
    /// Enhancing tumour.
    pub et: f64,
}

impl LabelVolumes {
    /// Counts internal `labels` on a grid whose voxels measure `spacing_mm`.
    pub fn of(labels: &[u8], spacing_mm: [f64; 3]) -> LabelVolumes {
        let mut counts = [0usize; 4];
        for &l in labels {
            if let Some(c) = counts.get_mut(l as usize) {
                *c += 1;
            }
        }
        let ml = spacing_mm.iter().product::<f64>() / 1000.0;
        LabelVolumes {
            netc: counts[label::NETC as usize] as f64 * ml,
            snfh: counts[label::SNFH as usize] as f64 * ml,
            et: counts[label::ET as usize] as f64 * ml,
        }
    }

    /// Whole tumour (NETC + SNFH + ET).
    pub fn wt(&self) -> f64 {
        self.netc + self.snfh + self.et
    }

    /// Tumour core (NETC + ET).
    pub fn tc(&self) -> f64 {
        self.netc + self.et
    }
}

/// Drops the specks of an internal label map on `dims` (x fastest): every 26-connected
/// component of a region smaller than `min_voxels` goes to the next region out, innermost
/// first: an ET speck becomes NETC (as nnU-Net's BraTS post-processing turns small ET into
/// necrosis), then a TC speck becomes SNFH, then a WT speck becomes background. Returns how
/// many voxels changed; a map whose length is not `dims` is left as it is.
///
/// The pipeline calls it with the volume of one voxel of the network's working grid: a
/// component smaller than that is interpolation of a probability that barely crossed the
/// threshold, not a structure the network resolved.
pub fn drop_specks(labels: &mut [u8], dims: [usize; 3], min_voxels: usize) -> usize {
    if labels.len() != dims.iter().product::<usize>() || min_voxels <= 1 {
        return 0;
    }
    let before = labels.to_vec();
    for (region, outer) in [
        (Region::ET, label::NETC),
        (Region::TC, label::SNFH),
        (Region::WT, label::BACKGROUND),
    ] {
        let (component, sizes) = crate::mask::components_26(&region.mask(labels), dims);
        if sizes.iter().all(|&n| n >= min_voxels) {
            continue;
        }
        for (l, &c) in labels.iter_mut().zip(&component) {
            if c != 0 && sizes[c as usize - 1] < min_voxels {
                *l = outer;
            }
        }
    }
    labels.iter().zip(&before).filter(|(a, b)| a != b).count()
}

/// Turns a case's enhancing tumour into necrosis when there is too little of it to be one:
/// when the ET voxels of `labels` (internal values, on a grid whose voxels measure
/// `spacing_mm`) add up to more than nothing and less than `min_mm3` cubic millimetres, every
/// one of them becomes NETC, so the tumour core and whole tumour keep their extent. Returns
/// how many voxels changed (0 when `min_mm3` is 0).
///
/// This is the BraTS post-processing of Isensee et al. (nnU-Net, 2018–2021): a small ET
/// prediction in a case with no enhancing tumour costs a full Dice point of 1 → 0, while
/// calling a truly small ET necrosis costs little. The threshold is the model's, chosen on
/// validation cases and recorded in its weights file.
pub fn drop_small_enhancing(labels: &mut [u8], spacing_mm: [f64; 3], min_mm3: u32) -> usize {
    if min_mm3 == 0 {
        return 0;
    }
    let et_mm3 = LabelVolumes::of(labels, spacing_mm).et * 1000.0;
    if et_mm3 == 0.0 || et_mm3 >= f64::from(min_mm3) {
        return 0;
    }
    let mut changed = 0;
    for l in labels.iter_mut().filter(|l| **l == label::ET) {
        *l = label::NETC;
        changed += 1;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_of_both_conventions_map_to_internal_values() {
        let v2021 = [0.0, 1.0, 2.0, 4.0];
        let c = LabelConvention::detect(&v2021).expect("2021");
        assert_eq!(c, LabelConvention::Brats2021);
        assert_eq!(c.to_internal(&v2021).expect("ok"), [0, 1, 2, 3]);
        let v2023 = [0.0, 1.0, 2.0, 3.0];
        let c = LabelConvention::detect(&v2023).expect("2023");
        assert_eq!(c.to_internal(&v2023).expect("ok"), [0, 1, 2, 3]);
        assert_eq!(LabelConvention::Brats2021.file_value(label::ET), 4);
        assert_eq!(LabelConvention::Brats2023.file_value(label::ET), 3);
        assert_eq!(LabelConvention::detect(&[3.0, 4.0]), Err(LabelError::Mixed));
        let err = LabelConvention::Brats2023
            .to_internal(&[0.0, 5.0, 5.0])
            .expect_err("5");
        assert_eq!(
            err,
            LabelError::Unknown {
                value: 5.0,
                count: 2
            }
        );
        assert!(LabelConvention::Brats2023.to_internal(&[0.5]).is_err());
    }

    #[test]
    fn label_volumes_use_the_voxel_size() {
        // Voxels of 2 × 1 × 0.5 mm = 1 µL; labels beyond ET are not counted.
        let v = LabelVolumes::of(&[0, 1, 2, 2, 3, 3, 3, 9], [2.0, 1.0, 0.5]);
        assert_eq!((v.netc, v.snfh, v.et), (0.001, 0.002, 0.003));
        assert!((v.wt() - 0.006).abs() < 1e-12);
        assert!((v.tc() - 0.004).abs() < 1e-12);
    }

    #[test]
    fn regions_nest_as_brats_defines_them() {
        let labels = [0, 1, 2, 3];
        assert_eq!(Region::WT.mask(&labels), [false, true, true, true]);
        assert_eq!(Region::TC.mask(&labels), [false, true, false, true]);
        assert_eq!(Region::ET.mask(&labels), [false, false, false, true]);
    }
    #[test]
    fn specks_go_to_the_next_region_out_and_lesions_stay() {
        // An 8×4×4 grid: a 2×2×2 ET lesion (8 voxels, the smallest kept) in a 5×3×3 block of
        // edema, one more ET voxel touching the lesion by a corner, a lone ET voxel in the
        // edema, a lone NETC voxel beside the edema (its own TC component) and a lone edema
        // voxel far away (its own WT component).
        let dims = [8, 4, 4];
        let at = |x: usize, y: usize, z: usize| x + dims[0] * (y + dims[1] * z);
        let mut labels = vec![label::BACKGROUND; 128];
        for z in 0..3 {
            for y in 0..3 {
                for x in 0..5 {
                    labels[at(x, y, z)] = if x < 2 && y < 2 && z < 2 {
                        label::ET
                    } else {
                        label::SNFH
                    };
                }
            }
        }
        labels[at(2, 2, 2)] = label::ET;
        labels[at(4, 1, 1)] = label::ET;
        labels[at(5, 0, 3)] = label::NETC;
        labels[at(7, 3, 3)] = label::SNFH;
        let before = labels.clone();
        let changed = drop_specks(&mut labels, dims, 8);
        assert_eq!(
            labels[at(2, 2, 2)],
            label::ET,
            "26-connected to the lesion: kept"
        );
        assert_eq!(
            labels[at(4, 1, 1)],
            label::SNFH,
            "an ET speck in edema: NETC, then SNFH"
        );
        assert_eq!(
            labels[at(5, 0, 3)],
            label::SNFH,
            "a TC speck touching edema: SNFH"
        );
        assert_eq!(
            labels[at(7, 3, 3)],
            label::BACKGROUND,
            "a WT speck: background"
        );
        let moved: Vec<usize> = (0..128).filter(|&i| labels[i] != before[i]).collect();
        assert_eq!(moved, vec![at(4, 1, 1), at(5, 0, 3), at(7, 3, 3)]);
        assert_eq!(changed, 3);
        // One voxel is the smallest lesion there is: nothing is a speck of it.
        let mut again = before.clone();
        assert_eq!(drop_specks(&mut again, dims, 1), 0);
        assert_eq!(again, before);
        // A map of the wrong size is left alone.
        let mut short = before[..127].to_vec();
        assert_eq!(drop_specks(&mut short, dims, 8), 0);
    }

    #[test]
    fn a_small_enhancing_tumour_becomes_necrosis_and_a_large_one_stays() {
        // Voxels of 2 × 2 × 2 mm = 8 mm³: three ET voxels are 24 mm³.
        let spacing = [2.0, 2.0, 2.0];
        let case = [0, 2, 3, 3, 1, 3, 2];
        let mut below = case;
        assert_eq!(drop_small_enhancing(&mut below, spacing, 25), 3);
        assert_eq!(below, [0, 2, 1, 1, 1, 1, 2]);
        // TC and WT keep their extent.
        assert_eq!(Region::TC.mask(&below), Region::TC.mask(&case));
        assert_eq!(Region::WT.mask(&below), Region::WT.mask(&case));
        let mut at = case;
        assert_eq!(drop_small_enhancing(&mut at, spacing, 24), 0);
        assert_eq!(at, case);
        let mut off = case;
        assert_eq!(drop_small_enhancing(&mut off, spacing, 0), 0);
        assert_eq!(off, case);
        let mut none = [0, 1, 2, 2];
        assert_eq!(drop_small_enhancing(&mut none, spacing, 1000), 0);
        assert_eq!(none, [0, 1, 2, 2]);
    }
}
