//! `adamm compare`: two evaluations of the same cases, paired by case, with bootstrap
//! intervals of the Dice difference (see `adamm_train::compare`).

use std::io::Write;
use std::path::{Path, PathBuf};

use adamm_train::compare::{compare, read_metrics_csv, CompareOptions, Evaluation};
use adamm_volume::brats::Availability;
use anyhow::Context;

/// Arguments of `adamm compare`.
#[derive(clap::Args)]
pub struct Args {
    /// Evaluation A: an `adamm eval` output folder or its metrics.csv.
    #[arg(long)]
    a: PathBuf,
    /// Evaluation B: an `adamm eval` output folder or its metrics.csv.
    #[arg(long)]
    b: PathBuf,
    /// Name of A in the table.
    #[arg(long, default_value = "A")]
    name_a: String,
    /// Name of B in the table.
    #[arg(long, default_value = "B")]
    name_b: String,
    /// Combinations to average over: `all` (every one in the evaluations; both must hold it) or codes such
    /// as 1111,0001 (T1 T1Gd T2 FLAIR).
    #[arg(long, default_value = "all")]
    combinations: String,
    /// Bootstrap resamples of the cases.
    #[arg(long, default_value_t = 10_000)]
    resamples: usize,
    /// Seed of the bootstrap: the same seed gives the same intervals.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Also write the table to this Markdown file.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// `metrics.csv` inside `path` when it is a folder, else `path`.
fn metrics_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("metrics.csv")
    } else {
        path.to_path_buf()
    }
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let combinations = if args.combinations.trim() == "all" {
        None
    } else {
        Some(
            args.combinations
                .split(',')
                .map(|c| Availability::parse(c.trim()))
                .collect::<Result<Vec<_>, _>>()?,
        )
    };
    anyhow::ensure!(args.resamples > 0, "--resamples must be at least 1");
    let (file_a, file_b) = (metrics_file(&args.a), metrics_file(&args.b));
    let a = Evaluation {
        name: args.name_a,
        rows: read_metrics_csv(&file_a)?,
    };
    let b = Evaluation {
        name: args.name_b,
        rows: read_metrics_csv(&file_b)?,
    };
    let options = CompareOptions {
        combinations,
        resamples: args.resamples,
        seed: args.seed,
    };
    let comparison = compare(&a, &b, &options)
        .with_context(|| format!("comparing {} with {}", file_a.display(), file_b.display()))?;
    let text = format!(
        "# {} vs {}\n\n- {}: `{}`\n- {}: `{}`\n\n{}",
        a.name,
        b.name,
        a.name,
        file_a.display(),
        b.name,
        file_b.display(),
        comparison.markdown()
    );
    if let Some(out) = &args.out {
        std::fs::write(out, &text).with_context(|| format!("writing {}", out.display()))?;
    }
    let mut stdout = std::io::stdout().lock();
    write!(stdout, "{text}")?;
    if let Some(out) = &args.out {
        writeln!(stdout, "\nwrote {}", out.display())?;
    }
    Ok(())
}
