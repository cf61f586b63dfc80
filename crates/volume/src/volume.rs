//! [`Volume`]: one 3-D scalar image with its header and geometry.

use crate::error::{Result, VolumeError};
use crate::geometry::{Affine, AxisMap};
use crate::nifti_io::Header;

/// A 3-D scalar image: scaled voxel values in NIfTI order (x fastest, see
/// [`crate::geometry`]) and the header they came from.
#[derive(Debug, Clone)]
pub struct Volume {
    /// Voxel values after `scl_slope`/`scl_inter`, non-finite values replaced by 0.
    pub data: Vec<f32>,
    /// The source header (grid, geometry, datatype).
    pub header: Header,
    /// How many voxels were NaN or ±Inf in the file (now 0).
    pub nonfinite_voxels: usize,
}

/// Minimum, maximum and mean of the voxel values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VoxelStats {
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

impl Volume {
    /// A volume from voxels and a header; the length must match the header's grid.
    pub fn new(data: Vec<f32>, header: Header) -> Result<Volume> {
        let expected = header.voxel_count();
        if data.len() != expected {
            return Err(VolumeError::LengthMismatch {
                what: "building a volume",
                expected,
                actual: data.len(),
                dims: header.dims,
            });
        }
        header.world_from_voxel()?;
        Ok(Volume {
            data,
            header,
            nonfinite_voxels: 0,
        })
    }

    /// Grid dimensions `[nx, ny, nz]`.
    pub fn dims(&self) -> [usize; 3] {
        self.header.dims
    }

    /// The voxel→world affine (validated when the volume was built).
    pub fn world_from_voxel(&self) -> Affine {
        // Checked in `Volume::new` and the reader; a header is not mutated afterwards.
        self.header.world_from_voxel().unwrap_or(Affine::IDENTITY)
    }

    /// Voxel spacing along each voxel axis in mm (column norms of the affine).
    pub fn spacing_mm(&self) -> [f64; 3] {
        self.world_from_voxel().column_norms()
    }

    /// Orientation code such as `"LAS"`.
    pub fn orientation_code(&self) -> String {
        self.world_from_voxel().orientation_code()
    }

    /// Min, max and mean of the voxels (accumulated in f64).
    pub fn stats(&self) -> VoxelStats {
        let mut min = f64::INFINITY;
        let mut max = f64::NEG_INFINITY;
        let mut sum = 0.0f64;
        for &v in &self.data {
            let v = v as f64;
            min = min.min(v);
            max = max.max(v);
            sum += v;
        }
        VoxelStats {
            min,
            max,
            mean: sum / self.data.len().max(1) as f64,
        }
    }

    /// The map from this volume's native grid to canonical RAS.
    pub fn canonical_map(&self) -> AxisMap {
        AxisMap::to_canonical(&self.world_from_voxel(), self.dims())
    }

    /// The voxels reordered to canonical RAS, with the map back and the canonical affine.
    pub fn to_canonical(&self) -> CanonicalVolume {
        let map = self.canonical_map();
        CanonicalVolume {
            data: map.canonical_from_native(&self.data),
            world_from_voxel: map.world_from_canonical(&self.world_from_voxel()),
            map,
        }
    }
}

/// A volume's voxels in canonical RAS order (see [`crate::geometry`]).
#[derive(Debug, Clone)]
pub struct CanonicalVolume {
    /// Voxels, RAS order, x fastest.
    pub data: Vec<f32>,
    /// The canonical grid's voxel→world affine.
    pub world_from_voxel: Affine,
    /// How to get back to the native grid.
    pub map: AxisMap,
}

impl CanonicalVolume {
    /// Canonical grid dimensions.
    pub fn dims(&self) -> [usize; 3] {
        self.map.canonical_dims()
    }
}
