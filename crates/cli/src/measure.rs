//! `adamm measure`: RANO diameters and per-region statistics of any label map (a segmentation
//! from this tool or elsewhere, a ground truth), in world millimetres.

use std::io::Write;
use std::path::PathBuf;

use adamm_measure::{measure_rano, region_stats, Measurements};
use adamm_volume::brats::{check_same_grid, Modality};
use adamm_volume::read_path;
use anyhow::Context;

/// Arguments of `adamm measure`.
#[derive(clap::Args)]
pub struct Args {
    /// The label map (BraTS 2021 or 2023 labels, detected).
    labels: PathBuf,
    /// Scans on the label map's grid: each one's mean intensity per region.
    #[command(flatten)]
    scans: crate::segment::ScanFiles,
    /// The brain mask (non-zero = brain) on the label map's grid, for the midline; without it
    /// the non-zero voxels of the scans given stand in for the brain, and without those no
    /// hemisphere is given.
    #[arg(long)]
    brain: Option<PathBuf>,
    /// Print the measurements as JSON (`{"rano": …, "regions": […]}`) instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let labels_name = args.labels.display().to_string();
    let volume = read_path(&args.labels).with_context(|| labels_name.clone())?;
    let labels = crate::metrics::labels(&args.labels, &volume)?;
    let header = &volume.header;
    let affine = volume.world_from_voxel();
    let same_grid = |path: &PathBuf| -> anyhow::Result<Vec<f32>> {
        let name = path.display().to_string();
        let v = read_path(path).with_context(|| name.clone())?;
        check_same_grid((&labels_name, header), (&name, &v.header))?;
        Ok(v.data)
    };
    let mut scans = Vec::new();
    for (m, path) in Modality::ALL.into_iter().zip(args.scans.paths()) {
        if let Some(path) = path {
            scans.push((m.name(), same_grid(&path)?));
        }
    }
    let brain: Option<Vec<bool>> = match &args.brain {
        Some(path) => Some(same_grid(path)?.iter().map(|&v| v != 0.0).collect()),
        None if !scans.is_empty() => Some(
            (0..labels.len())
                .map(|i| scans.iter().any(|(_, s)| s[i] != 0.0))
                .collect(),
        ),
        None => None,
    };
    let scan_refs: Vec<(&str, &[f32])> = scans.iter().map(|(n, s)| (*n, s.as_slice())).collect();
    let measured = Measurements {
        rano: measure_rano(&labels, header.dims, &affine)?,
        regions: region_stats(&labels, header.dims, &affine, brain.as_deref(), &scan_refs)?,
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&measured)?)?;
    } else {
        for line in measured.describe() {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}
