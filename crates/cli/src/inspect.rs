//! `adamm inspect`.

use std::io::{self, Write};
use std::path::PathBuf;

use adamm_volume::skull::check_skull;
use adamm_volume::{read_path, Volume};
use anyhow::bail;
use serde::Serialize;

/// Arguments of `adamm inspect`.
#[derive(clap::Args)]
pub struct Args {
    /// NIfTI files (.nii, .nii.gz, .hdr with its .img).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// One JSON object per file (an array), with `error` for unreadable files.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Report {
    Ok(Box<Info>),
    Err { file: String, error: String },
}

#[derive(Serialize)]
struct Info {
    file: String,
    dims: [usize; 3],
    spacing: [f64; 3],
    datatype: &'static str,
    orientation: String,
    affine_source: &'static str,
    affine: [[f64; 4]; 4],
    scl_slope: f64,
    scl_inter: f64,
    min: f64,
    max: f64,
    mean: f64,
    nonfinite_voxels: usize,
    /// `adamm_volume::skull::check_skull`'s verdict and figures.
    skull_stripped: bool,
    foreground_ml: f64,
    constant_background: f64,
    skull: String,
}

fn report(file: String, v: &Volume) -> Report {
    let s = v.stats();
    let skull = check_skull(v);
    Report::Ok(Box::new(Info {
        file,
        dims: v.dims(),
        spacing: v.spacing_mm(),
        datatype: v.header.datatype.name(),
        orientation: v.orientation_code(),
        affine_source: v.header.affine_source().name(),
        affine: v.world_from_voxel().0,
        scl_slope: v.header.scl_slope,
        scl_inter: v.header.scl_inter,
        min: s.min,
        max: s.max,
        mean: s.mean,
        nonfinite_voxels: v.nonfinite_voxels,
        skull_stripped: skull.stripped,
        foreground_ml: skull.foreground_ml,
        constant_background: skull.constant_background,
        skull: skull.describe(),
    }))
}

/// Runs the command; fails (after printing all files) if any file could not be read.
pub fn run(args: Args) -> anyhow::Result<()> {
    let reports: Vec<Report> = args
        .files
        .iter()
        .map(|f| {
            let file = f.display().to_string();
            match read_path(f) {
                Ok(v) => report(file, &v),
                Err(e) => Report::Err {
                    file,
                    error: e.to_string(),
                },
            }
        })
        .collect();
    let mut out = io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&reports)?)?;
    } else {
        for r in &reports {
            write_text(&mut out, r)?;
        }
    }
    let failed: Vec<&str> = reports
        .iter()
        .filter_map(|r| match r {
            Report::Err { file, .. } => Some(file.as_str()),
            Report::Ok(_) => None,
        })
        .collect();
    if !failed.is_empty() {
        bail!(
            "{} of {} files could not be read: {}",
            failed.len(),
            reports.len(),
            failed.join(", ")
        );
    }
    Ok(())
}

/// Writes one file's report as indented text.
fn write_text(out: &mut impl Write, r: &Report) -> io::Result<()> {
    match r {
        Report::Err { file, error } => writeln!(out, "{file}\n  error        {error}\n"),
        Report::Ok(info) => {
            let Info {
                file,
                dims,
                spacing,
                datatype,
                orientation,
                affine_source,
                affine,
                scl_slope,
                scl_inter,
                min,
                max,
                mean,
                nonfinite_voxels,
                skull,
                ..
            } = info.as_ref();
            writeln!(out, "{file}")?;
            writeln!(
                out,
                "  dims         {} × {} × {}",
                dims[0], dims[1], dims[2]
            )?;
            writeln!(
                out,
                "  spacing      {:.4} × {:.4} × {:.4} mm",
                spacing[0], spacing[1], spacing[2]
            )?;
            writeln!(out, "  datatype     {datatype}")?;
            let identity = *scl_slope == 1.0 && *scl_inter == 0.0;
            let scaling = if *scl_slope != 0.0 && scl_slope.is_finite() && !identity {
                format!("value × {scl_slope} + {scl_inter}")
            } else {
                "none".to_string()
            };
            writeln!(out, "  scaling      {scaling}")?;
            writeln!(
                out,
                "  orientation  {orientation} (voxel→world from the {affine_source})"
            )?;
            for (i, row) in affine.iter().enumerate() {
                let label = if i == 0 {
                    "  affine      "
                } else {
                    "              "
                };
                writeln!(
                    out,
                    "{label} [{:>10.4} {:>10.4} {:>10.4} {:>10.4}]",
                    row[0], row[1], row[2], row[3]
                )?;
            }
            writeln!(
                out,
                "  values       min {min:.6}  max {max:.6}  mean {mean:.6}"
            )?;
            writeln!(out, "  skull        {skull}")?;
            if *nonfinite_voxels > 0 {
                writeln!(
                    out,
                    "  warning      {nonfinite_voxels} NaN/Inf voxels were read as 0"
                )?;
            }
            writeln!(out)
        }
    }
}
