//! The scans of one visit onto one grid: the reference scan, the working grid, and each other
//! scan resampled there through world coordinates after a rigid registration.
//!
//! **Reference scan** ([`reference_scan`]): the scan whose coarsest voxel axis is finest (a
//! 1 mm 3-D T1Gd before a 0.45 × 0.45 × 5 mm 2-D FLAIR), ties (within 1 %) broken by the
//! smaller voxel volume, then by the order T1, T1Gd, T2, FLAIR. Labels are written on its grid
//! and with its header.
//!
//! **Working grid** ([`working_grid`]): where the tumour network runs. The reference grid
//! itself when each voxel axis is within [`ISOTROPIC_TOLERANCE`] of 1 mm (BraTS data: 1 mm
//! isotropic), otherwise a 1 mm isotropic grid on the reference grid's axes covering the same
//! box (the networks were trained on 1 mm data).
//!
//! **Alignment** ([`align_scans`]): a scan on the working grid already is used as it is. Any
//! other scan is registered rigidly to the reference scan on mutual information
//! ([`crate::register::register_rigid`], starting from the headers' world positions) and then
//! resampled onto the working grid trilinearly through the transform found (0 outside its
//! field of view). A scan on the reference grid is not registered: it shares the reference's
//! voxels, as BraTS data and the series of one acquisition do.

use crate::brats::GRID_TOLERANCE_MM;
use crate::geometry::Affine;
use crate::nifti_io::{Datatype, Header};
use crate::register::{register_rigid, Registration, RegistrationOptions};
use crate::regrid::{resample, Interpolation, TargetGrid};
use crate::{Result, Volume, VolumeError};

/// A voxel axis within this many mm of 1 mm counts as 1 mm for the working grid.
pub const ISOTROPIC_TOLERANCE: f64 = 0.1;

/// Spacing of the working grid when the reference grid is not 1 mm isotropic, mm.
pub const WORKING_SPACING_MM: f64 = 1.0;

/// Index of the reference scan among `scans` (see the module docs); `None` if none is
/// present.
pub fn reference_scan(scans: [Option<&Volume>; 4]) -> Option<usize> {
    let key = |v: &Volume| {
        let s = v.spacing_mm();
        let coarsest = s.iter().copied().fold(0.0f64, f64::max);
        (coarsest, s[0] * s[1] * s[2])
    };
    let mut best: Option<(usize, (f64, f64))> = None;
    for (i, v) in scans.iter().enumerate() {
        let Some(v) = v else { continue };
        let k = key(v);
        best = match best {
            None => Some((i, k)),
            Some((bi, bk)) => {
                let finer = k.0 < bk.0 * 0.99;
                let tie = !finer && k.0 <= bk.0 * 1.01;
                if finer || (tie && k.1 < bk.1 * 0.99) {
                    Some((i, k))
                } else {
                    Some((bi, bk))
                }
            }
        };
    }
    best.map(|(i, _)| i)
}

/// The working grid for a reference scan's header (see the module docs).
pub fn working_grid(reference: &Header) -> Result<TargetGrid> {
    let affine = reference.world_from_voxel()?;
    let spacing = affine.column_norms();
    let dims = reference.dims;
    if spacing
        .iter()
        .all(|s| (s - WORKING_SPACING_MM).abs() <= ISOTROPIC_TOLERANCE)
    {
        return Ok(TargetGrid {
            dims,
            world_from_voxel: affine,
        });
    }
    // New voxel k along axis a sits at reference voxel coordinate −½ + (k + ½)·w/s: the
    // first new voxel's edge on the first reference voxel's edge, spacing w.
    let mut scale = Affine::IDENTITY;
    let mut new_dims = [0usize; 3];
    for a in 0..3 {
        let ratio = WORKING_SPACING_MM / spacing[a];
        scale.0[a][a] = ratio;
        scale.0[a][3] = -0.5 + 0.5 * ratio;
        new_dims[a] = ((dims[a] as f64 * spacing[a] / WORKING_SPACING_MM).round() as usize).max(1);
    }
    Ok(TargetGrid {
        dims: new_dims,
        world_from_voxel: affine.compose(&scale),
    })
}

/// How one scan got onto the working grid.
#[derive(Debug, Clone, PartialEq)]
pub enum ScanAlignment {
    /// The scan is on the working grid: used as it is.
    OnWorkingGrid,
    /// The scan is on the reference grid (not the working grid): resampled, not registered.
    OnReferenceGrid,
    /// Registered to the reference scan, then resampled.
    Registered(Box<Registration>),
}

impl ScanAlignment {
    /// The transform from the working grid's world to the scan's own world (the identity
    /// unless registered): what [`labels_onto`] takes to write labels on the scan's grid.
    pub fn scan_world_from_working_world(&self) -> Affine {
        match self {
            ScanAlignment::Registered(r) => r.moving_world_from_fixed_world,
            _ => Affine::IDENTITY,
        }
    }
}

/// The scans of a case on one working grid.
#[derive(Debug, Clone)]
pub struct AlignedScans {
    /// Each present scan on the working grid.
    pub volumes: [Option<Volume>; 4],
    /// Each present scan's own header, as read.
    pub native_headers: [Option<Header>; 4],
    /// How each present scan got onto the working grid.
    pub alignments: [Option<ScanAlignment>; 4],
    /// Index of the reference scan (see the module docs).
    pub reference: usize,
    /// The working grid.
    pub working: TargetGrid,
}

impl AlignedScans {
    /// Whether the working grid is the reference scan's own grid.
    pub fn works_on_reference_grid(&self) -> bool {
        matches!(
            self.alignments[self.reference],
            Some(ScanAlignment::OnWorkingGrid)
        )
    }

    /// Whether every scan was on the working grid already (nothing was resampled).
    pub fn all_on_working_grid(&self) -> bool {
        self.alignments
            .iter()
            .flatten()
            .all(|a| *a == ScanAlignment::OnWorkingGrid)
    }

    /// The reference scan's own header: the labels' header.
    pub fn reference_header(&self) -> &Header {
        // `align_scans` sets the reference's header.
        self.native_headers[self.reference]
            .as_ref()
            .unwrap_or_else(|| unreachable!("the reference scan is present"))
    }

    /// Labels on the working grid written on scan `index`'s own grid (the reference's for
    /// the reference), through its alignment; `None` if that scan is absent.
    pub fn labels_on_scan(&self, labels: &[u8], index: usize) -> Result<Option<Vec<u8>>> {
        let (Some(header), Some(alignment)) = (
            self.native_headers.get(index).and_then(Option::as_ref),
            self.alignments.get(index).and_then(Option::as_ref),
        ) else {
            return Ok(None);
        };
        if *alignment == ScanAlignment::OnWorkingGrid {
            return Ok(Some(labels.to_vec()));
        }
        let target = TargetGrid {
            dims: header.dims,
            world_from_voxel: header.world_from_voxel()?,
        };
        let working_from_scan = alignment.scan_world_from_working_world().inverse().ok_or(
            VolumeError::SingularTransform {
                what: "transform between the scans",
            },
        )?;
        labels_onto(labels, &self.working, &target, &working_from_scan).map(Some)
    }
}

fn same_grid(a: &Header, b: &TargetGrid) -> Result<bool> {
    Ok(a.dims == b.dims
        && a.world_from_voxel()?.max_abs_diff(&b.world_from_voxel) < GRID_TOLERANCE_MM)
}

/// Brings the present `scans` (in [`crate::brats::Modality::ALL`] order, `names` for
/// messages) onto one working grid (see the module docs); scans already on it are moved, not
/// copied. Errors: [`VolumeError::Alignment`] naming both scans when a scan cannot be
/// registered to the reference (no overlap at the header positions: different patients or
/// visits, or a wrong file); [`VolumeError::BadDims`] when no scan is present.
pub fn align_scans(
    mut scans: [Option<Volume>; 4],
    names: [&str; 4],
    options: &RegistrationOptions,
) -> Result<AlignedScans> {
    let reference = reference_scan(scans.each_ref().map(Option::as_ref))
        .ok_or_else(|| VolumeError::BadDims("no scan to align".into()))?;
    let native_headers = scans
        .each_ref()
        .map(|s| s.as_ref().map(|v| v.header.clone()));
    let mut volumes: [Option<Volume>; 4] = Default::default();
    let mut alignments: [Option<ScanAlignment>; 4] = Default::default();
    let working;
    {
        let fixed = scans[reference]
            .as_ref()
            .ok_or_else(|| VolumeError::BadDims("no scan to align".into()))?;
        working = working_grid(&fixed.header)?;
        let header = Header::from_affine(working.dims, Datatype::F32, &working.world_from_voxel);
        // Every scan but the reference first: the reference is registered against.
        let order = (0..4).filter(|&i| i != reference).chain([reference]);
        for i in order {
            let Some(scan) = scans[i].as_ref() else {
                continue;
            };
            if same_grid(&scan.header, &working)? {
                alignments[i] = Some(ScanAlignment::OnWorkingGrid);
                continue;
            }
            let on_reference = i == reference
                || (scan.dims() == fixed.dims()
                    && scan
                        .world_from_voxel()
                        .max_abs_diff(&fixed.world_from_voxel())
                        < GRID_TOLERANCE_MM);
            let (transform, alignment) = if on_reference {
                (Affine::IDENTITY, ScanAlignment::OnReferenceGrid)
            } else {
                let registration = register_rigid(fixed, scan, options).map_err(|source| {
                    VolumeError::Alignment {
                        fixed: names[reference].to_owned(),
                        moving: names[i].to_owned(),
                        source: Box::new(source),
                    }
                })?;
                (
                    registration.moving_world_from_fixed_world,
                    ScanAlignment::Registered(Box::new(registration)),
                )
            };
            let data = resample(scan, &working, &transform, Interpolation::Linear, 0.0)?;
            volumes[i] = Some(Volume::new(data, header.clone())?);
            alignments[i] = Some(alignment);
        }
    }
    for (i, scan) in scans.iter_mut().enumerate() {
        if alignments[i] == Some(ScanAlignment::OnWorkingGrid) {
            volumes[i] = scan.take();
        }
    }
    Ok(AlignedScans {
        volumes,
        native_headers,
        alignments,
        reference,
        working,
    })
}

/// A label map on the working grid read onto another grid of the same world (`target`, e.g.
/// the reference scan's or an input scan's own), the nearest working voxel for each target
/// voxel; `source_world_from_target_world` maps the target's world to the working grid's
/// (the identity for the reference scan; for a registered scan, the inverse of its
/// [`Registration::moving_world_from_fixed_world`]). Outside the working grid reads 0.
pub fn labels_onto(
    labels: &[u8],
    working: &TargetGrid,
    target: &TargetGrid,
    source_world_from_target_world: &Affine,
) -> Result<Vec<u8>> {
    let source = Volume::new(
        labels.iter().map(|&l| f32::from(l)).collect(),
        Header::from_affine(working.dims, Datatype::F32, &working.world_from_voxel),
    )?;
    let values = resample(
        &source,
        target,
        source_world_from_target_world,
        Interpolation::Nearest,
        0.0,
    )?;
    Ok(values.iter().map(|&v| v.round() as u8).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(dims: [usize; 3], spacing: [f64; 3]) -> Header {
        Header::from_affine(dims, Datatype::F32, &Affine::from_spacing(spacing))
    }

    fn volume(spacing: [f64; 3]) -> Volume {
        Volume::new(vec![0.0; 8], header([2, 2, 2], spacing)).unwrap()
    }

    #[test]
    fn the_reference_is_the_scan_with_the_finest_coarsest_axis() {
        let t1c = volume([1.0, 1.0, 1.0]);
        let flair = volume([0.45, 0.45, 5.0]);
        let t2 = volume([0.9, 0.9, 5.0]);
        assert_eq!(
            reference_scan([None, Some(&t1c), Some(&t2), Some(&flair)]),
            Some(1)
        );
        // Between the two 5 mm scans the smaller voxel wins.
        assert_eq!(
            reference_scan([None, None, Some(&t2), Some(&flair)]),
            Some(3)
        );
        // Equal grids: the first in modality order.
        assert_eq!(
            reference_scan([Some(&t1c), Some(&t1c), None, None]),
            Some(0)
        );
        assert_eq!(reference_scan([None; 4]), None);
    }

    #[test]
    fn the_working_grid_is_1_mm_over_the_reference_box() {
        let brats = header([240, 240, 155], [1.0, 1.0, 1.0]);
        let w = working_grid(&brats).unwrap();
        assert_eq!(w.dims, [240, 240, 155]);
        let thick = header([256, 256, 25], [0.78125, 0.78125, 6.5]);
        let w = working_grid(&thick).unwrap();
        assert_eq!(w.dims, [200, 200, 163]);
        assert!((w.world_from_voxel.column_norms()[2] - 1.0).abs() < 1e-9);
        // The boxes' first edges coincide: new voxel 0's centre is 0.5 mm inside the old
        // grid's first edge at −s/2.
        let p = w.world_from_voxel.apply([0.0, 0.0, 0.0]);
        assert!((p[0] - (-0.78125 / 2.0 + 0.5)).abs() < 1e-9, "{p:?}");
        assert!((p[2] - (-3.25 + 0.5)).abs() < 1e-9, "{p:?}");
    }
}
