//! `adamm eval`: a student on every case of a folder under each of the 15 combinations.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use adamm_model::{LoadedStudent, Pipeline};
use adamm_train::eval::{adapter_similarity, evaluate_case, EvalSummary};
use adamm_train::plot::{dice_bars, heatmap};
use adamm_train::report::{markdown_table, summarize, write_metrics_csv};
use adamm_volume::brats::{discover_cases, Availability};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use crate::device::parse_one;

/// Arguments of `adamm eval`.
#[derive(clap::Args)]
pub struct Args {
    /// Student weights (`.bpk`, f32 or f16).
    #[arg(long, required_unless_present = "run", conflicts_with = "run")]
    model: Option<PathBuf>,
    /// A training run: evaluates its best student.
    #[arg(long)]
    run: Option<PathBuf>,
    /// Folder of BraTS-layout cases with segmentations.
    #[arg(long)]
    data: PathBuf,
    /// Output folder: metrics.csv, summary.md, summary.json, dice.png, adapters-*.png.
    #[arg(long)]
    out: PathBuf,
    /// Combinations to evaluate: `all` (the 15) or codes such as 1111,0001 (T1 T1Gd T2 FLAIR).
    #[arg(long, default_value = "all")]
    combinations: String,
    /// Sliding-window edge on the network's grid (a multiple of 8). Default: the window the
    /// model file records (its training patch); windows larger than the patches the network
    /// saw make it worse.
    #[arg(long)]
    window: Option<usize>,
    /// Overlap of neighbouring windows, in [0, 1).
    #[arg(long, default_value_t = 0.5)]
    overlap: f64,
    /// Cases evaluated at once (each holds one case and one window of activations).
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Evaluate only the first N cases (sorted by id).
    #[arg(long)]
    limit: Option<usize>,
    /// Device: cpu, wgpu[:N], cuda[:N].
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// Parses `all` or a comma-separated list of availability codes.
pub fn parse_combinations(s: &str) -> anyhow::Result<Vec<Availability>> {
    if s == "all" {
        return Ok(Availability::all_combinations());
    }
    // `Availability::parse` refuses `0000` itself.
    Ok(s.split(',')
        .map(|c| Availability::parse(c.trim()))
        .collect::<Result<_, _>>()?)
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let device = parse_one(&args.device)?;
    let model_path = match (&args.model, &args.run) {
        (Some(m), _) => m.clone(),
        (None, Some(r)) => r.join("best-student.bpk"),
        (None, None) => anyhow::bail!("give --model or --run"),
    };
    let model = LoadedStudent::load(&model_path, &device)
        .with_context(|| format!("loading {}", model_path.display()))?;
    let combinations = parse_combinations(&args.combinations)?;
    let discovery = discover_cases(&args.data)?;
    let mut cases = discovery.cases;
    if let Some(n) = args.limit {
        cases.truncate(n);
    }
    anyhow::ensure!(
        !cases.is_empty(),
        "no BraTS cases found in {}",
        args.data.display()
    );
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let similarity = adapter_similarity(&model.student);
    let mut windows = model.sliding_window()?.with_overlap(args.overlap);
    if let Some(w) = args.window {
        windows.window = [w; 3];
    }
    let window = windows.window;
    let normalization = model.normalization();
    let pipeline = Pipeline::new(model.student, windows, normalization, &device)?;
    let bar = ProgressBar::new((cases.len() * combinations.len()) as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} case × combination [{elapsed} < {eta}] {msg}",
        )
        .expect("valid template"),
    );
    let started = std::time::Instant::now();
    let skipped = Mutex::new(Vec::new());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.max(1))
        .build()
        .context("starting the worker threads")?;
    let results: Vec<anyhow::Result<Vec<adamm_train::report::EvalRow>>> = pool.install(|| {
        cases
            .par_iter()
            .map(|files| {
                let (rows, skip) = evaluate_case(&pipeline, files, &combinations, |c| {
                    bar.set_message(format!("{} {}", files.id, c.code()));
                    bar.inc(1);
                })?;
                if !skip.is_empty() {
                    bar.inc(skip.len() as u64);
                    let codes: Vec<String> = skip.iter().map(|a| a.code()).collect();
                    skipped
                        .lock()
                        .map_err(|_| anyhow::anyhow!("a worker failed"))?
                        .push(format!("{}: {}", files.id, codes.join(" ")));
                }
                Ok(rows)
            })
            .collect()
    });
    bar.finish_and_clear();
    let mut rows = Vec::new();
    for r in results {
        rows.extend(r?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let metrics_csv = args.out.join("metrics.csv");
    write_metrics_csv(&metrics_csv, &rows)?;
    let summary = summarize(&rows);
    let table = markdown_table(&summary);
    let json = EvalSummary::of(&rows);
    json.save(&args.out.join("summary.json"))?;
    let text = format!(
        "# Evaluation of {}\n\n{} cases from `{}`, {} combinations; sliding window {}×{}×{} on \
         the network grid, overlap {}; metrics on each case's native grid (HD95 in mm).\n\n{}",
        model_path.display(),
        json.cases,
        args.data.display(),
        summary.len(),
        window[0],
        window[1],
        window[2],
        args.overlap,
        table
    );
    std::fs::write(args.out.join("summary.md"), &text)
        .with_context(|| format!("writing {}", args.out.join("summary.md").display()))?;
    dice_bars(
        &args.out.join("dice.png"),
        "Mean Dice per combination",
        &summary,
    )?;
    for (i, (name, codes, matrix)) in similarity.iter().enumerate() {
        heatmap(
            &args.out.join(format!("adapters-{}.png", i + 1)),
            &format!("Cosine similarity of the adapters: {name}"),
            codes,
            matrix,
        )?;
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{table}")?;
    let skipped = skipped.into_inner().unwrap_or_default();
    for s in &skipped {
        writeln!(out, "skipped (modality missing in the case): {s}")?;
    }
    writeln!(
        out,
        "{} cases × {} combinations in {elapsed:.0} s; wrote {}, summary.md, summary.json, \
         dice.png and {} adapter heatmaps to {}",
        json.cases,
        summary.len(),
        metrics_csv.display(),
        similarity.len(),
        args.out.display()
    )?;
    Ok(())
}
