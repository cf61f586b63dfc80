//! The modalities of a BraTS case, the challenges' file-naming schemes and file-name
//! recognition.

use std::fmt;

use super::LabelConvention;

/// One of the four MRI modalities of a BraTS case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Modality {
    /// Native T1-weighted.
    T1,
    /// Post-contrast (gadolinium) T1-weighted.
    T1Gd,
    /// T2-weighted.
    T2,
    /// T2 fluid-attenuated inversion recovery.
    Flair,
}

impl Modality {
    /// The fixed order used everywhere: T1, T1Gd, T2, FLAIR.
    pub const ALL: [Modality; 4] = [Modality::T1, Modality::T1Gd, Modality::T2, Modality::Flair];

    /// Position in [`Modality::ALL`] (channel index, bit position in the code).
    pub fn index(self) -> usize {
        self as usize
    }

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Modality::T1 => "T1",
            Modality::T1Gd => "T1Gd",
            Modality::T2 => "T2",
            Modality::Flair => "FLAIR",
        }
    }

    /// File-name suffix (without extension) in a naming scheme.
    pub fn suffix(self, naming: Naming) -> &'static str {
        match (naming, self) {
            (Naming::Brats2021, Modality::T1) => "_t1",
            (Naming::Brats2021, Modality::T1Gd) => "_t1ce",
            (Naming::Brats2021, Modality::T2) => "_t2",
            (Naming::Brats2021, Modality::Flair) => "_flair",
            (Naming::Brats2023, Modality::T1) => "-t1n",
            (Naming::Brats2023, Modality::T1Gd) => "-t1c",
            (Naming::Brats2023, Modality::T2) => "-t2w",
            (Naming::Brats2023, Modality::Flair) => "-t2f",
        }
    }
}

impl fmt::Display for Modality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A file-naming scheme of the BraTS challenges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Naming {
    /// BraTS 2021: `<id>_t1`, `_t1ce`, `_t2`, `_flair`, `_seg`.
    Brats2021,
    /// BraTS 2023/2024: `<id>-t1n`, `-t1c`, `-t2w`, `-t2f`, `-seg`.
    Brats2023,
}

impl Naming {
    /// Suffix of the segmentation file.
    pub fn seg_suffix(self) -> &'static str {
        match self {
            Naming::Brats2021 => "_seg",
            Naming::Brats2023 => "-seg",
        }
    }

    /// The label convention of this challenge year.
    pub fn labels(self) -> LabelConvention {
        match self {
            Naming::Brats2021 => LabelConvention::Brats2021,
            Naming::Brats2023 => LabelConvention::Brats2023,
        }
    }
}

/// What a BraTS-named file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    /// One of the four modalities.
    Image(Modality),
    /// The ground-truth segmentation.
    Segmentation,
}

/// The name without its `.nii` or `.nii.gz` extension (any case); `None` for other names.
///
/// ```
/// use adamm_volume::brats::nifti_stem;
/// assert_eq!(nifti_stem("scan.NII.gz"), Some("scan"));
/// assert_eq!(nifti_stem("scan.nii"), Some("scan"));
/// assert_eq!(nifti_stem("scan.png"), None);
/// ```
pub fn nifti_stem(name: &str) -> Option<&str> {
    let lower = name.to_ascii_lowercase();
    let cut = [".nii.gz", ".nii"]
        .into_iter()
        .find(|ext| lower.ends_with(ext))?
        .len();
    name.get(..name.len() - cut)
}

/// Recognises a BraTS file name (`.nii` or `.nii.gz`): its case id, role and naming scheme.
///
/// ```
/// use adamm_volume::brats::{classify_file_name, FileRole, Modality, Naming};
/// let (id, role, naming) = classify_file_name("BraTS-GLI-00000-000-t1c.nii.gz").unwrap();
/// assert_eq!((id, role, naming), ("BraTS-GLI-00000-000", FileRole::Image(Modality::T1Gd), Naming::Brats2023));
/// ```
pub fn classify_file_name(name: &str) -> Option<(&str, FileRole, Naming)> {
    let stem = nifti_stem(name)?;
    let stem_len = stem.len();
    let lower_stem = stem.to_ascii_lowercase();
    for naming in [Naming::Brats2021, Naming::Brats2023] {
        let roles = Modality::ALL
            .map(|m| (m.suffix(naming), FileRole::Image(m)))
            .into_iter()
            .chain([(naming.seg_suffix(), FileRole::Segmentation)]);
        for (suffix, role) in roles {
            if lower_stem.ends_with(suffix) && stem_len > suffix.len() {
                return Some((&stem[..stem_len - suffix.len()], role, naming));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_of_both_challenges_are_recognised() {
        let cases = [
            (
                "BraTS2021_00000_t1.nii.gz",
                "BraTS2021_00000",
                FileRole::Image(Modality::T1),
            ),
            (
                "BraTS2021_00000_t1ce.nii.gz",
                "BraTS2021_00000",
                FileRole::Image(Modality::T1Gd),
            ),
            (
                "BraTS2021_00000_t2.nii",
                "BraTS2021_00000",
                FileRole::Image(Modality::T2),
            ),
            (
                "BraTS2021_00000_flair.nii.gz",
                "BraTS2021_00000",
                FileRole::Image(Modality::Flair),
            ),
            (
                "BraTS2021_00000_seg.nii.gz",
                "BraTS2021_00000",
                FileRole::Segmentation,
            ),
            (
                "BraTS-GLI-00001-000-t1n.nii.gz",
                "BraTS-GLI-00001-000",
                FileRole::Image(Modality::T1),
            ),
            (
                "BraTS-GLI-00001-000-t2w.nii",
                "BraTS-GLI-00001-000",
                FileRole::Image(Modality::T2),
            ),
            (
                "BraTS-GLI-00001-000-t2f.NII.GZ",
                "BraTS-GLI-00001-000",
                FileRole::Image(Modality::Flair),
            ),
            (
                "BraTS-GLI-00001-000-seg.nii.gz",
                "BraTS-GLI-00001-000",
                FileRole::Segmentation,
            ),
        ];
        for (name, id, role) in cases {
            let (got_id, got_role, _) = classify_file_name(name).expect(name);
            assert_eq!((got_id, got_role), (id, role), "{name}");
        }
        assert!(classify_file_name("notes_t1.txt").is_none());
        assert!(classify_file_name("_t1.nii").is_none());
    }
}
