//! BraTS conventions, defined once for the whole project: the modality order, the
//! availability code, file naming, label mapping and tumour regions; and case discovery.
//!
//! - **Modality order** (everywhere: tensors, codes, tables): T1, T1Gd, T2, FLAIR — see
//!   [`Modality::ALL`].
//! - **Availability code**: four characters, one per modality in that order, `1` = present:
//!   `"1010"` means T1 and T2 are present — see [`Availability`].
//! - **Labels** inside AdaMM: 0 background, 1 NETC (necrotic / non-enhancing core), 2 SNFH
//!   (edema), 3 ET (enhancing tumour). BraTS 2021 files use {0, 1, 2, 4}, BraTS 2023+ files
//!   {0, 1, 2, 3} — see [`LabelConvention`].
//! - **Regions**: WT = {1, 2, 3}, TC = {1, 3}, ET = {3} — see [`Region`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::VolumeError;
use crate::nifti_io::{read_header_path, read_path, Header};
use crate::volume::Volume;

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

/// Which modalities are present, as a 4-bit code in [`Modality::ALL`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Availability(u8);

impl Availability {
    /// All four modalities.
    pub const FULL: Availability = Availability(0b1111);

    /// From a per-modality presence array.
    pub fn from_present(present: [bool; 4]) -> Availability {
        let mut bits = 0u8;
        for (i, p) in present.iter().enumerate() {
            if *p {
                bits |= 1 << i;
            }
        }
        Availability(bits)
    }

    /// Whether `m` is present.
    pub fn has(self, m: Modality) -> bool {
        self.0 >> m.index() & 1 == 1
    }

    /// Presence per modality.
    pub fn present(self) -> [bool; 4] {
        Modality::ALL.map(|m| self.has(m))
    }

    /// The 15 non-empty combinations, ordered by the number of modalities, then by code
    /// (the order of the paper's tables: single modalities first, all four last).
    pub fn all_combinations() -> Vec<Availability> {
        let mut all: Vec<Availability> = (1u8..16).map(Availability).collect();
        all.sort_by_key(|a| (a.count(), std::cmp::Reverse(a.code())));
        all
    }

    /// Number of modalities present.
    pub fn count(self) -> u32 {
        self.0.count_ones()
    }

    /// Whether no modality is present.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The code string, e.g. `"1010"` (T1, T1Gd, T2, FLAIR).
    pub fn code(self) -> String {
        Modality::ALL
            .iter()
            .map(|&m| if self.has(m) { '1' } else { '0' })
            .collect()
    }

    /// A readable name, e.g. `"T1+T2"`.
    pub fn name(self) -> String {
        let names: Vec<&str> = Modality::ALL
            .iter()
            .filter(|&&m| self.has(m))
            .map(|m| m.name())
            .collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join("+")
        }
    }

    /// Dense index 0..15 of a non-empty code (bits − 1), e.g. for an adapter bank.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Parses a 4-character code such as `"1010"`.
    pub fn parse(code: &str) -> Result<Availability, String> {
        let chars: Vec<char> = code.trim().chars().collect();
        if chars.len() != 4 || chars.iter().any(|c| *c != '0' && *c != '1') {
            return Err(format!(
                "availability code {code:?} must be four 0/1 characters for T1, T1Gd, T2, FLAIR (e.g. 1010)"
            ));
        }
        let a = Availability::from_present([0, 1, 2, 3].map(|i| chars[i] == '1'));
        if a.is_empty() {
            return Err("availability code 0000 has no modality; at least one is needed".into());
        }
        Ok(a)
    }
}

impl fmt::Display for Availability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code())
    }
}

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

/// The files of one BraTS case found on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseFiles {
    /// Case id (file name without the modality suffix).
    pub id: String,
    /// The folder holding the files.
    pub dir: PathBuf,
    /// Each modality's file, in [`Modality::ALL`] order.
    pub images: [Option<PathBuf>; 4],
    /// The segmentation, if present.
    pub seg: Option<PathBuf>,
    /// The naming scheme of the files.
    pub naming: Naming,
}

impl CaseFiles {
    /// Which modalities have a file.
    pub fn availability(&self) -> Availability {
        Availability::from_present(self.images.each_ref().map(|p| p.is_some()))
    }
}

/// The result of scanning a folder tree.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    /// Cases with at least one modality, sorted by id.
    pub cases: Vec<CaseFiles>,
    /// Things that look wrong (duplicates, segmentations without images), one line each.
    pub problems: Vec<String>,
}

/// Scans `root` recursively for BraTS-named NIfTI files and groups them into cases.
pub fn discover_cases(root: &Path) -> Result<Discovery, VolumeError> {
    let mut files = Vec::new();
    collect_files(root, &mut files)?;
    files.sort();
    let mut by_case: BTreeMap<(PathBuf, String), CaseFiles> = BTreeMap::new();
    let mut problems = Vec::new();
    for path in files {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some((id, role, naming)) = classify_file_name(name) else {
            continue;
        };
        let dir = path.parent().unwrap_or(root).to_path_buf();
        let entry = by_case
            .entry((dir.clone(), id.to_string()))
            .or_insert_with(|| CaseFiles {
                id: id.to_string(),
                dir,
                images: Default::default(),
                seg: None,
                naming,
            });
        if entry.naming != naming {
            problems.push(format!(
                "{}: mixes BraTS 2021 and 2023 file names",
                entry.id
            ));
        }
        let slot = match role {
            FileRole::Image(m) => &mut entry.images[m.index()],
            FileRole::Segmentation => &mut entry.seg,
        };
        match slot {
            Some(existing) => problems.push(format!(
                "{}: two files for the same role: {} and {} (keeping the first)",
                entry.id,
                existing.display(),
                path.display()
            )),
            None => *slot = Some(path),
        }
    }
    let mut cases = Vec::new();
    for (_, case) in by_case {
        if case.availability().is_empty() {
            problems.push(format!("{}: a segmentation without any image", case.id));
        } else {
            cases.push(case);
        }
    }
    cases.sort_by(|a, b| a.id.cmp(&b.id).then(a.dir.cmp(&b.dir)));
    Ok(Discovery { cases, problems })
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), VolumeError> {
    let entries = std::fs::read_dir(dir).map_err(|e| VolumeError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| VolumeError::io(dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| VolumeError::io(&path, e))?;
        if kind.is_dir() {
            collect_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// A case whose volumes were read and checked to share one grid.
#[derive(Debug, Clone)]
pub struct LoadedCase {
    /// Case id.
    pub id: String,
    /// Each modality's volume, in [`Modality::ALL`] order.
    pub images: [Option<Volume>; 4],
    /// The ground truth as internal labels (see [`label`]), if present.
    pub seg: Option<Vec<u8>>,
}

impl LoadedCase {
    /// Which modalities are loaded.
    pub fn availability(&self) -> Availability {
        Availability::from_present(self.images.each_ref().map(|v| v.is_some()))
    }

    /// The first present volume: the reference grid of the case.
    pub fn reference(&self) -> Option<&Volume> {
        self.images.iter().flatten().next()
    }
}

/// What can go wrong loading a case.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// A file could not be read.
    #[error("{file}: {source}")]
    Read {
        /// The file.
        file: PathBuf,
        /// Why.
        source: VolumeError,
    },
    /// Two volumes of a case have different grids.
    #[error("{a} and {b} are not on the same grid: {detail}")]
    GridMismatch {
        /// First file.
        a: String,
        /// Second file.
        b: String,
        /// What differs.
        detail: String,
    },
    /// The segmentation has values that are not BraTS labels.
    #[error("{file}: {source}")]
    Labels {
        /// The file.
        file: PathBuf,
        /// Why.
        source: LabelError,
    },
    /// No modality at all.
    #[error("case {0} has no image file")]
    Empty(String),
}

/// Largest affine difference in mm accepted between volumes of one case.
pub const GRID_TOLERANCE_MM: f64 = 1e-3;

/// Checks that two headers describe the same grid: equal dims and voxel→world affines within
/// [`GRID_TOLERANCE_MM`]. The names are used in the error message.
pub fn check_same_grid(a: (&str, &Header), b: (&str, &Header)) -> Result<(), CaseError> {
    let (na, ha) = a;
    let (nb, hb) = b;
    let mismatch = |detail: String| CaseError::GridMismatch {
        a: na.into(),
        b: nb.into(),
        detail,
    };
    if ha.dims != hb.dims {
        return Err(mismatch(format!("dims {:?} vs {:?}", ha.dims, hb.dims)));
    }
    let affine = |h: &Header, name: &str| {
        h.world_from_voxel().map_err(|source| CaseError::Read {
            file: PathBuf::from(name),
            source,
        })
    };
    let d = affine(ha, na)?.max_abs_diff(&affine(hb, nb)?);
    if d > GRID_TOLERANCE_MM {
        return Err(mismatch(format!(
            "voxel-to-world affines differ by up to {d:.4} mm (tolerance {GRID_TOLERANCE_MM} mm)"
        )));
    }
    Ok(())
}

/// Checks that every named header shares the first one's grid ([`check_same_grid`]).
pub fn check_one_grid<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a Header)>,
) -> Result<(), CaseError> {
    let mut headers = headers.into_iter();
    let Some(first) = headers.next() else {
        return Ok(());
    };
    headers.try_for_each(|other| check_same_grid(first, other))
}

/// Checks a case's files without reading their voxels: every header must be readable, and
/// all must share one grid. Returns the problems found (empty when the case is fine).
pub fn check_case_headers(files: &CaseFiles) -> Vec<String> {
    let mut problems = Vec::new();
    let mut first: Option<(String, Header)> = None;
    let paths = files.images.iter().flatten().chain(files.seg.iter());
    for path in paths {
        let name = path.display().to_string();
        match read_header_path(path) {
            Err(e) => problems.push(format!("{name}: {e}")),
            Ok(h) => match &first {
                None => first = Some((name, h)),
                Some((fname, fh)) => {
                    if let Err(e) = check_same_grid((fname, fh), (&name, &h)) {
                        problems.push(e.to_string());
                    }
                }
            },
        }
    }
    problems
}

/// Reads a case's files, checks they share a grid and maps its labels to internal values.
pub fn load_case(files: &CaseFiles) -> Result<LoadedCase, CaseError> {
    let mut images: [Option<Volume>; 4] = Default::default();
    let mut names: [String; 4] = Default::default();
    for m in Modality::ALL {
        let Some(path) = &files.images[m.index()] else {
            continue;
        };
        let v = read_path(path).map_err(|source| CaseError::Read {
            file: path.clone(),
            source,
        })?;
        names[m.index()] = path.display().to_string();
        images[m.index()] = Some(v);
    }
    check_one_grid(
        names
            .iter()
            .zip(&images)
            .filter_map(|(n, v)| Some((n.as_str(), &v.as_ref()?.header))),
    )?;
    let Some((ref_name, reference)) = names
        .iter()
        .zip(&images)
        .find_map(|(n, v)| Some((n, v.as_ref()?)))
    else {
        return Err(CaseError::Empty(files.id.clone()));
    };
    let seg = match &files.seg {
        Some(path) => {
            let v = read_path(path).map_err(|source| CaseError::Read {
                file: path.clone(),
                source,
            })?;
            check_same_grid(
                (ref_name, &reference.header),
                (&path.display().to_string(), &v.header),
            )?;
            Some(
                LabelConvention::detect_to_internal(&v.data).map_err(|source| {
                    CaseError::Labels {
                        file: path.clone(),
                        source,
                    }
                })?,
            )
        }
        None => None,
    };
    Ok(LoadedCase {
        id: files.id.clone(),
        images,
        seg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_follow_the_fixed_order() {
        let a = Availability::parse("1010").expect("valid");
        assert!(a.has(Modality::T1) && a.has(Modality::T2));
        assert!(!a.has(Modality::T1Gd) && !a.has(Modality::Flair));
        assert_eq!(a.name(), "T1+T2");
        assert_eq!(a.code(), "1010");
        assert_eq!(Availability::FULL.name(), "T1+T1Gd+T2+FLAIR");
        assert!(Availability::parse("0000").is_err());
        assert!(Availability::parse("10a0").is_err());
        assert!(Availability::parse("101").is_err());
    }

    #[test]
    fn fifteen_distinct_combinations_singles_first_full_last() {
        let all = Availability::all_combinations();
        assert_eq!(all.len(), 15);
        let mut codes: Vec<String> = all.iter().map(|a| a.code()).collect();
        assert_eq!(&codes[..4], ["1000", "0100", "0010", "0001"]);
        assert_eq!(codes[14], "1111");
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), 15);
    }

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
    fn one_grid_is_checked_against_the_first_header() {
        use crate::geometry::Affine;
        use crate::nifti_io::Datatype;
        let a = Header::from_affine([4, 4, 4], Datatype::F32, &Affine::IDENTITY);
        let shifted = Header::from_affine(
            [4, 4, 4],
            Datatype::F32,
            &Affine::from_spacing([1.0, 1.0, 1.01]),
        );
        let small = Header::from_affine([4, 4, 3], Datatype::F32, &Affine::IDENTITY);
        assert!(check_one_grid([("t1", &a), ("t2", &a.clone())]).is_ok());
        assert!(check_one_grid(std::iter::empty()).is_ok());
        let err = check_one_grid([("t1", &a), ("t2", &a), ("flair", &shifted)])
            .expect_err("affines differ");
        assert!(err.to_string().contains("flair"), "{err}");
        let err = check_one_grid([("t1", &a), ("t1c", &small)]).expect_err("dims differ");
        assert!(err.to_string().contains("t1c"), "{err}");
    }

    #[test]
    fn regions_nest_as_brats_defines_them() {
        let labels = [0, 1, 2, 3];
        assert_eq!(Region::WT.mask(&labels), [false, true, true, true]);
        assert_eq!(Region::TC.mask(&labels), [false, true, false, true]);
        assert_eq!(Region::ET.mask(&labels), [false, false, false, true]);
    }
}
