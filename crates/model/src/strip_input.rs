//! The brain-extraction network's input and output: one path for training and inference.
//!
//! **To the network** ([`prepare_strip_input`]): the scan (any grid, any orientation) is
//! resampled trilinearly through world coordinates (`adamm_volume::regrid::resample`) onto the
//! network's grid ([`StripGrid`]: 96 × 112 × 96 voxels of 2 mm, RAS axes, the size of the
//! synthetic heads it is trained on), centred on the scan's *foreground centre*: the mean world
//! position of the voxels above `adamm_volume::mask::FOREGROUND_FRACTION` of the 99th percentile of the positive
//! voxels (the head, not the air around it). Outside the scan reads 0. Intensities are then
//! scaled robustly to [0, 1]: `(v − p0.5) / (p99.5 − p0.5)`, clamped, the percentiles taken over
//! the resampled voxels above the same threshold — so neither the scanner's units, the amount of
//! air in the field of view nor a few bright vessels change what the network sees.
//!
//! **Back** ([`StripInput::mask_to_native`]): the probabilities are resampled trilinearly onto
//! the scan's own grid, thresholded at 0.5; the largest 6-connected component is kept and the
//! holes in it (background not 6-connected to the grid's border) are filled.

use adamm_volume::mask::{fill_holes, foreground_threshold, largest_component, percentile};
use adamm_volume::nifti_io::{Datatype, Header};
use adamm_volume::regrid::{resample, Interpolation, TargetGrid};
use adamm_volume::{Affine, Volume};

use crate::error::{ModelError, Result};

/// The grid of the synthetic training heads (`adamm_synth::head::HEAD_GRID_DIMS`).
pub const STRIP_GRID_DIMS: [usize; 3] = [96, 112, 96];
/// Voxel size of the network's grid, mm.
pub const STRIP_VOXEL_MM: f64 = 2.0;
/// Lower intensity percentile mapped to 0.
pub const LOW_PERCENTILE: f64 = 0.5;
/// Upper intensity percentile mapped to 1.
pub const HIGH_PERCENTILE: f64 = 99.5;
/// Probability above which a voxel is brain.
pub const BRAIN_THRESHOLD: f32 = 0.5;

/// The network's working grid: its size and voxel size (RAS axes, centred on the scan).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StripGrid {
    /// Voxels along x, y, z.
    pub dims: [usize; 3],
    /// Voxel size, mm (isotropic).
    pub voxel_mm: f64,
}

impl Default for StripGrid {
    fn default() -> Self {
        StripGrid {
            dims: STRIP_GRID_DIMS,
            voxel_mm: STRIP_VOXEL_MM,
        }
    }
}

impl StripGrid {
    /// The grid's voxel → world affine with its centre at world `centre`: RAS axes, voxel `v`
    /// at `centre + voxel_mm · (v − (dims − 1) / 2)`.
    pub fn world_from_voxel(&self, centre: [f64; 3]) -> Affine {
        let mut m = Affine::from_spacing([self.voxel_mm; 3]);
        for (a, (&c, &d)) in centre.iter().zip(&self.dims).enumerate() {
            m.0[a][3] = c - self.voxel_mm * 0.5 * (d as f64 - 1.0);
        }
        m
    }
}

/// A scan on the network's grid, ready for [`crate::StripNet::probability_map`].
#[derive(Debug, Clone)]
pub struct StripInput {
    /// Where the network's grid lies in the scan's world.
    pub grid: TargetGrid,
    /// The normalised image on it (x fastest), in [0, 1].
    pub image: Vec<f32>,
    /// The scan's foreground centre (world, mm): the grid's centre.
    pub centre: [f64; 3],
}

/// The mean world position (mm) of the voxels of `volume` above its foreground threshold.
pub fn foreground_centre(volume: &Volume) -> Result<[f64; 3]> {
    let empty = || {
        ModelError::InvalidInput(
            "the image has no positive voxels: there is no head to find a brain in".into(),
        )
    };
    let threshold = foreground_threshold(&volume.data).ok_or_else(empty)?;
    let [nx, ny, _] = volume.dims();
    let mut sum = [0.0f64; 3];
    let mut count = 0usize;
    for (i, &v) in volume.data.iter().enumerate() {
        if v > threshold {
            sum[0] += (i % nx) as f64;
            sum[1] += ((i / nx) % ny) as f64;
            sum[2] += (i / (nx * ny)) as f64;
            count += 1;
        }
    }
    if count == 0 {
        return Err(empty());
    }
    let voxel = sum.map(|s| s / count as f64);
    Ok(volume.world_from_voxel().apply(voxel))
}

/// Scales `data` to [0, 1] by its [`LOW_PERCENTILE`] and [`HIGH_PERCENTILE`] over the voxels
/// above its foreground threshold (clamped; all 0 when nothing is positive).
pub fn normalize_strip_intensities(data: &[f32]) -> Vec<f32> {
    let Some(threshold) = foreground_threshold(data) else {
        return vec![0.0; data.len()];
    };
    let mut fg: Vec<f32> = data.iter().copied().filter(|&v| v > threshold).collect();
    let (Some(lo), Some(hi)) = (
        percentile(&mut fg, LOW_PERCENTILE),
        percentile(&mut fg, HIGH_PERCENTILE),
    ) else {
        return vec![0.0; data.len()];
    };
    let scale = if hi > lo {
        1.0 / (hi - lo)
    } else {
        1.0 / hi.max(1e-12)
    };
    data.iter()
        .map(|&v| ((v - lo) * scale).clamp(0.0, 1.0))
        .collect()
}

/// The brain mask of `image` on its own grid: the whole inference path
/// ([`prepare_strip_input`], the network on `grid`, [`StripInput::mask_to_native`]).
pub fn strip_mask(
    net: &crate::StripNet,
    image: &Volume,
    grid: StripGrid,
    device: &burn::tensor::Device,
) -> Result<Vec<bool>> {
    let prepared = prepare_strip_input(image, grid)?;
    let p = net.probability_map(&prepared.image, prepared.grid.dims, device)?;
    prepared.mask_to_native(&p, &image.header)
}

/// Brings `volume` onto the network's `grid` around its foreground centre and normalises it
/// (see the [module](self)).
pub fn prepare_strip_input(volume: &Volume, grid: StripGrid) -> Result<StripInput> {
    let centre = foreground_centre(volume)?;
    let target = TargetGrid {
        dims: grid.dims,
        world_from_voxel: grid.world_from_voxel(centre),
    };
    let raw = resample(
        volume,
        &target,
        &Affine::IDENTITY,
        Interpolation::Linear,
        0.0,
    )?;
    Ok(StripInput {
        grid: target,
        image: normalize_strip_intensities(&raw),
        centre,
    })
}

impl StripInput {
    /// A mask on the scan's grid (`mask`, any value > 0.5 is brain) read onto the network's
    /// grid (nearest voxel; outside the scan is background): the training target.
    pub fn mask_from_native(&self, mask: &Volume) -> Result<Vec<bool>> {
        let values = resample(
            mask,
            &self.grid,
            &Affine::IDENTITY,
            Interpolation::Nearest,
            0.0,
        )?;
        Ok(values.iter().map(|&v| v > 0.5).collect())
    }

    /// The brain mask on `native`'s grid (the scan's own) from the network's probabilities on
    /// this grid: trilinear resampling, threshold [`BRAIN_THRESHOLD`], largest 6-connected
    /// component, holes filled.
    pub fn mask_to_native(&self, probability: &[f32], native: &Header) -> Result<Vec<bool>> {
        let [nx, ny, nz] = self.grid.dims;
        if probability.len() != nx * ny * nz {
            return Err(ModelError::InvalidInput(format!(
                "{} probabilities for the {nx}×{ny}×{nz} network grid",
                probability.len()
            )));
        }
        let on_grid = Volume::new(
            probability.to_vec(),
            Header::from_affine(self.grid.dims, Datatype::F32, &self.grid.world_from_voxel),
        )?;
        let target = TargetGrid {
            dims: native.dims,
            world_from_voxel: native.world_from_voxel()?,
        };
        let p = resample(
            &on_grid,
            &target,
            &Affine::IDENTITY,
            Interpolation::Linear,
            0.0,
        )?;
        let mask: Vec<bool> = p.iter().map(|&v| v > BRAIN_THRESHOLD).collect();
        Ok(fill_holes(
            &largest_component(&mask, native.dims),
            native.dims,
        ))
    }
}
