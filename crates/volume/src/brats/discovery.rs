//! Finding BraTS cases on disk and checking their headers without reading voxels.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{check_same_grid, classify_file_name, Availability, FileRole, Naming};
use crate::error::VolumeError;
use crate::nifti_io::{read_header_path, Header};

/// The files of one BraTS case found on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseFiles {
    /// Case id (file name without the modality suffix).
    pub id: String,
    /// The folder holding the files.
    pub dir: PathBuf,
    /// Each modality's file, in [`Modality::ALL`](super::Modality::ALL) order.
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
