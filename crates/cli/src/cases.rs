//! `adamm cases`.

use std::io::Write;
use std::path::PathBuf;

use adamm_volume::brats::{check_case_headers, discover_cases, Modality};
use anyhow::{bail, Context};

/// Arguments of `adamm cases`.
#[derive(clap::Args)]
pub struct Args {
    /// Folder to scan recursively (BraTS 2021 `*_t1.nii.gz` … or 2023 `*-t1n.nii.gz` … names).
    dir: PathBuf,
}

/// Runs the command: one line per case, then the problems; fails if no case is found.
pub fn run(args: Args) -> anyhow::Result<()> {
    let found =
        discover_cases(&args.dir).with_context(|| format!("scanning {}", args.dir.display()))?;
    if found.cases.is_empty() {
        bail!(
            "no BraTS case found under {} (expected files like <id>_t1.nii.gz or <id>-t1n.nii.gz)",
            args.dir.display()
        );
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<32} {:<6} {:<20} seg  naming",
        "case", "code", "modalities"
    )?;
    let mut problems = found.problems.clone();
    for case in &found.cases {
        let a = case.availability();
        let names: Vec<&str> = Modality::ALL
            .iter()
            .filter(|m| a.has(**m))
            .map(|m| m.name())
            .collect();
        writeln!(
            out,
            "{:<32} {:<6} {:<20} {:<4} {}",
            case.id,
            a.code(),
            names.join(","),
            if case.seg.is_some() { "yes" } else { "no" },
            match case.naming {
                adamm_volume::brats::Naming::Brats2021 => "2021",
                adamm_volume::brats::Naming::Brats2023 => "2023",
            }
        )?;
        problems.extend(
            check_case_headers(case)
                .into_iter()
                .map(|p| format!("{}: {p}", case.id)),
        );
    }
    writeln!(out, "\n{} cases", found.cases.len())?;
    if problems.is_empty() {
        writeln!(out, "no problems found")?;
    } else {
        writeln!(out, "{} problems:", problems.len())?;
        for p in &problems {
            writeln!(out, "  {p}")?;
        }
    }
    Ok(())
}
