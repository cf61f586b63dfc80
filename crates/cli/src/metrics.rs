//! `adamm metrics`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use adamm_volume::brats::{check_same_grid, LabelConvention};
use adamm_volume::metrics::region_metrics;
use adamm_volume::{read_path, Volume};
use anyhow::Context;
use serde::Serialize;

/// Arguments of `adamm metrics`.
#[derive(clap::Args)]
pub struct Args {
    /// Predicted segmentation (BraTS 2021 or 2023 labels).
    #[arg(long)]
    pred: PathBuf,
    /// Ground-truth segmentation on the same grid.
    #[arg(long)]
    truth: PathBuf,
    /// Print `{"WT": {...}, "TC": {...}, "ET": {...}}`.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct RegionReport {
    dice: f64,
    hd95: f64,
    iou: f64,
    sensitivity: f64,
    specificity: f64,
}

/// The internal labels of a label map, its convention (2021 or 2023) detected.
pub fn labels(path: &Path, v: &Volume) -> anyhow::Result<Vec<u8>> {
    LabelConvention::detect_to_internal(&v.data).with_context(|| path.display().to_string())
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let pred = read_path(&args.pred).with_context(|| args.pred.display().to_string())?;
    let truth = read_path(&args.truth).with_context(|| args.truth.display().to_string())?;
    check_same_grid(
        (&args.pred.display().to_string(), &pred.header),
        (&args.truth.display().to_string(), &truth.header),
    )?;
    let metrics = region_metrics(
        &labels(&args.pred, &pred)?,
        &labels(&args.truth, &truth)?,
        truth.dims(),
        truth.spacing_mm(),
    )?;
    let report: BTreeMap<&str, RegionReport> = metrics
        .iter()
        .map(|(region, m)| {
            (
                region.name(),
                RegionReport {
                    dice: m.dice,
                    hd95: m.hd95,
                    iou: m.iou,
                    sensitivity: m.sensitivity,
                    specificity: m.specificity,
                },
            )
        })
        .collect();
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "region   Dice     HD95 (mm)   IoU      sensitivity  specificity"
    )?;
    for (region, m) in &metrics {
        writeln!(
            out,
            "{:<6}   {:.4}   {:>9.3}   {:.4}   {:.4}       {:.6}",
            region.name(),
            m.dice,
            m.hd95,
            m.iou,
            m.sensitivity,
            m.specificity
        )?;
    }
    Ok(())
}
