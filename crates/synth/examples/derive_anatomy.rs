//! Derives the extra anatomies of `data/anatomy` (Colin27 and the MNI152 average, each as a
//! skull-stripped T1 and a CSF/GM/WM map on the BraTS grid) from the real brains they come from.
//! See `adamm_synth::derive` for the method.
//!
//! `cargo run --release -p adamm-synth --example derive_anatomy -- SOURCE_DIR OUT_DIR`
//! (SOURCE_DIR holds `ch2bet.nii.gz`, `avg152T1.nii` and `spm_mask_ICV.nii.gz`; OUT_DIR the
//! SRI24 files that define the grid, and receives `colin27_*` and `mni152_*`).

use std::path::{Path, PathBuf};

use adamm_synth::anatomy::{T1_FILE, TISSUE_FILE};
use adamm_synth::derive::{align_by_moments, check_not_held_out, mask_moments, segment_tissues};
use adamm_volume::nifti_io::write_path;
use adamm_volume::regrid::{resample, Interpolation, TargetGrid};
use adamm_volume::{read_path, Affine, Volume};
use anyhow::{bail, Context, Result};

/// Where a source brain's mask comes from.
enum Mask {
    /// The T1 is brain-extracted: its non-zero voxels.
    NonZero,
    /// A mask file in the same world (resampled onto the T1's grid).
    File(&'static str),
}

fn read(path: &Path) -> Result<Volume> {
    check_not_held_out(path)?;
    read_path(path).with_context(|| format!("reading {}", path.display()))
}

/// Mean of `values` where `labels == class`.
fn class_mean(values: &[f32], labels: &[f32], class: f32) -> f64 {
    let (sum, n) = values
        .iter()
        .zip(labels)
        .filter(|(_, &l)| l == class)
        .fold((0f64, 0usize), |(s, n), (&v, _)| (s + f64::from(v), n + 1));
    sum / n.max(1) as f64
}

fn main() -> Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [source_dir, out_dir] = args.as_slice() else {
        bail!("usage: derive_anatomy SOURCE_DIR OUT_DIR");
    };
    let reference_t1 = read(&out_dir.join(T1_FILE))?;
    let reference_tissues = read(&out_dir.join(TISSUE_FILE))?;
    let reference_mask: Vec<bool> = reference_tissues.data.iter().map(|&l| l > 0.0).collect();
    let reference_moments = mask_moments(
        &reference_mask,
        reference_t1.dims(),
        &reference_t1.world_from_voxel(),
    )
    .context("the SRI24 tissue map is empty")?;
    let reference_wm = class_mean(&reference_t1.data, &reference_tissues.data, 3.0);
    let target = TargetGrid {
        dims: reference_t1.dims(),
        world_from_voxel: reference_t1.world_from_voxel(),
    };
    let voxel_ml = reference_t1.spacing_mm().iter().product::<f64>() / 1000.0;

    for (name, t1_file, mask) in [
        ("colin27", "ch2bet.nii.gz", Mask::NonZero),
        ("mni152", "avg152T1.nii", Mask::File("spm_mask_ICV.nii.gz")),
    ] {
        let t1 = read(&source_dir.join(t1_file))?;
        let brain: Vec<bool> = match mask {
            Mask::NonZero => t1.data.iter().map(|&v| v > 0.0).collect(),
            Mask::File(file) => {
                let m = read(&source_dir.join(file))?;
                let grid = TargetGrid {
                    dims: t1.dims(),
                    world_from_voxel: t1.world_from_voxel(),
                };
                resample(&m, &grid, &Affine::IDENTITY, Interpolation::Nearest, 0.0)?
                    .iter()
                    .map(|&v| v > 0.5)
                    .collect()
            }
        };
        let tissues = segment_tissues(&t1.data, &brain)
            .with_context(|| format!("{t1_file}: no three tissue classes inside the brain"))?;
        let moments = mask_moments(&brain, t1.dims(), &t1.world_from_voxel())
            .with_context(|| format!("{t1_file}: empty brain mask"))?;
        let source_world_from_reference_world = align_by_moments(moments, reference_moments);
        let tissue_volume = Volume::new(
            tissues.iter().map(|&l| f32::from(l)).collect(),
            t1.header.clone(),
        )?;
        let labels = resample(
            &tissue_volume,
            &target,
            &source_world_from_reference_world,
            Interpolation::Nearest,
            0.0,
        )?;
        let intensities = resample(
            &t1,
            &target,
            &source_world_from_reference_world,
            Interpolation::Linear,
            0.0,
        )?;
        let wm = class_mean(&intensities, &labels, 3.0);
        let scale = reference_wm / wm;
        let t1_out: Vec<i16> = intensities
            .iter()
            .zip(&labels)
            .map(|(&v, &l)| {
                if l > 0.0 {
                    (f64::from(v) * scale)
                        .round()
                        .clamp(1.0, f64::from(i16::MAX)) as i16
                } else {
                    0
                }
            })
            .collect();
        let labels_out: Vec<u8> = labels.iter().map(|&l| l as u8).collect();
        let t1_path = out_dir.join(format!("{name}_t1_stripped.nii.gz"));
        let tissue_path = out_dir.join(format!("{name}_tissues.nii.gz"));
        write_path(&t1_path, &reference_t1.header, &t1_out)?;
        write_path(&tissue_path, &reference_tissues.header, &labels_out)?;

        let counts = [1u8, 2, 3].map(|c| labels_out.iter().filter(|&&l| l == c).count());
        let total: usize = counts.iter().sum();
        let overlap = labels_out
            .iter()
            .zip(&reference_mask)
            .filter(|(&l, &r)| l > 0 && r)
            .count();
        let dice =
            2.0 * overlap as f64 / (total + reference_mask.iter().filter(|&&r| r).count()) as f64;
        let means = [1.0, 2.0, 3.0].map(|c| class_mean(&intensities, &labels, c) * scale);
        println!(
            "{name}: brain {:.0} mL on the BraTS grid (CSF {:.0} %, GM {:.0} %, WM {:.0} %), \
             T1 means CSF/GM/WM {:.0}/{:.0}/{:.0}, per-axis scale {:.3}/{:.3}/{:.3}, \
             brain-mask Dice with SRI24 {dice:.3} -> {} and {}",
            total as f64 * voxel_ml,
            100.0 * counts[0] as f64 / total as f64,
            100.0 * counts[1] as f64 / total as f64,
            100.0 * counts[2] as f64 / total as f64,
            means[0],
            means[1],
            means[2],
            source_world_from_reference_world.0[0][0],
            source_world_from_reference_world.0[1][1],
            source_world_from_reference_world.0[2][2],
            t1_path.display(),
            tissue_path.display(),
        );
    }
    Ok(())
}
