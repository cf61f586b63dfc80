//! Loading a case: reading its volumes, checking they share one grid and mapping its labels.

use std::path::PathBuf;

use super::{Availability, CaseFiles, LabelConvention, LabelError, Modality};
use crate::error::VolumeError;
use crate::nifti_io::{read_path, Header};
use crate::volume::Volume;

/// A case whose volumes were read and checked to share one grid.
#[derive(Debug, Clone)]
pub struct LoadedCase {
    /// Case id.
    pub id: String,
    /// Each modality's volume, in [`Modality::ALL`] order.
    pub images: [Option<Volume>; 4],
    /// The ground truth as internal labels (see [`label`](super::label)), if present.
    pub seg: Option<Vec<u8>>,
}

impl LoadedCase {
    /// Which modalities are loaded.
    pub fn availability(&self) -> Availability {
        Availability::from_present(self.images.each_ref().map(|v| v.is_some()))
    }

    /// The first present volume in [`Modality::ALL`] order; its header is the case's grid,
    /// which every volume and the segmentation share ([`load_case`] checks). `None` when there
    /// is no image (never for a case from [`load_case`]).
    pub fn grid_volume(&self) -> Option<&Volume> {
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
    let Some((grid_name, grid_volume)) = names
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
                (grid_name, &grid_volume.header),
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
}
