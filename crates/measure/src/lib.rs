//! Measurements of a brain-tumour label map, in world millimetres through the NIfTI affine
//! (anisotropic voxels and oblique grids included), for the CLI (`adamm measure`, `adamm
//! segment`) and the browser app alike:
//! - [`rano`]: the RANO bidimensional measurement of each enhancing lesion (the longest
//!   axial diameter, the longest perpendicular to it, their product) and the sum over the
//!   measurable ones;
//! - [`stats`]: per region (WT, TC, ET) the volume, the number of lesions, the centroid, the
//!   hemisphere and the mean intensity of each scan inside it;
//! - [`mesh`]: smoothed surface meshes of regions in world mm, as STL or OBJ files.
//!
//! Labels are the internal ones of [`adamm_volume::brats::label`] (convert a file's with
//! [`adamm_volume::brats::LabelConvention`]).

pub mod geometry;
pub mod mesh;
pub mod rano;
pub mod stats;

pub use mesh::{case_meshes, obj_file, surface, Mesh};
pub use rano::{measure_rano, Diameter, Lesion, Rano};
pub use stats::{mean_intensities, region_stats, Hemisphere, RegionStats, Side};

/// Everything measured of one label map: what `adamm measure` and `adamm segment` print and
/// write as JSON, and what the page shows.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Measurements {
    /// The RANO measurement.
    pub rano: Rano,
    /// WT, TC and ET statistics.
    pub regions: Vec<RegionStats>,
}

impl Measurements {
    /// The lines for people: the regions, then RANO.
    pub fn describe(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.regions.iter().map(RegionStats::describe).collect();
        lines.extend(self.rano.describe());
        lines
    }
}

/// Checks that `voxels` values fill the grid `dims` and that its affine is usable; the grid's
/// voxel count.
fn check_grid(
    voxels: usize,
    dims: [usize; 3],
    world_from_voxel: &adamm_volume::Affine,
) -> Result<usize, MeasureError> {
    let expected = dims.iter().product::<usize>();
    if voxels != expected {
        return Err(MeasureError::Length {
            expected,
            actual: voxels,
            dims,
        });
    }
    if !world_from_voxel.is_valid() {
        return Err(MeasureError::Affine);
    }
    Ok(expected)
}

/// A label map that cannot be measured.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MeasureError {
    /// The labels do not fill the grid.
    #[error("the label map has {actual} voxels but its grid {dims:?} holds {expected}")]
    Length {
        /// Voxels the grid holds.
        expected: usize,
        /// Voxels given.
        actual: usize,
        /// The grid.
        dims: [usize; 3],
    },
    /// A scan given for intensities is not on the labels' grid.
    #[error("the {what} has {actual} voxels, the label map {expected}: they are not on one grid")]
    Grid {
        /// Which scan.
        what: String,
        /// The label map's voxels.
        expected: usize,
        /// The scan's voxels.
        actual: usize,
    },
    /// The affine cannot be used (singular or not finite).
    #[error("the label map's voxel-to-world affine is not invertible")]
    Affine,
}
