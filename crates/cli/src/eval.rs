//! `adamm eval`: a student on every case of one or more test sets under each of the 15
//! combinations, side by side (in distribution beside out of distribution), and on perturbed
//! sets with all four modalities (the robustness table).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use adamm_model::{LoadedStudent, Pipeline};
use adamm_synth::Provenance;
use adamm_train::eval::{adapter_similarity, evaluate_case, EvalSummary};
use adamm_train::plot::{dice_bars, heatmap};
use adamm_train::report::{
    markdown_table, robustness_table, side_by_side_table, summarize, write_metrics_csv,
    CombinationSummary, EvalRow,
};
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
    /// A test set: a folder of BraTS-layout cases with segmentations, as `DIR` or `NAME=DIR`
    /// (the name defaults to the folder's). Repeat for several sets (in distribution first,
    /// then out of distribution): their tables are reported side by side.
    #[arg(long, required = true, value_parser = parse_set)]
    data: Vec<TestSet>,
    /// A perturbed set (`NAME=DIR`, e.g. `noise=runs/robust-noise`), evaluated with all four
    /// modalities only, for the robustness table (against the first --data set). Repeatable.
    #[arg(long, value_parser = parse_set)]
    robustness: Vec<TestSet>,
    /// Output folder: metrics.csv, summary.md, summary.json, dice.png per set (the folder
    /// itself for a single set, `<out>/<name>/` for several, `<out>/robustness/<name>/` for
    /// perturbed sets), adapters-*.png, and for several sets report.md with the tables side by
    /// side.
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

/// A named folder of test cases.
#[derive(Debug, Clone)]
pub struct TestSet {
    /// Its name in reports and as its output folder.
    pub name: String,
    /// The folder.
    pub dir: PathBuf,
}

/// Parses `DIR` or `NAME=DIR`; names are letters, digits, `.`, `_` and `-`.
pub fn parse_set(s: &str) -> anyhow::Result<TestSet> {
    let (name, dir) = match s.split_once('=') {
        Some((name, dir)) => (name.to_owned(), PathBuf::from(dir)),
        None => {
            let dir = PathBuf::from(s);
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, dir)
        }
    };
    anyhow::ensure!(
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            && name != "."
            && name != "..",
        "test set name {name:?} (from {s:?}): use letters, digits, '.', '_' and '-' (NAME=DIR)"
    );
    Ok(TestSet { name, dir })
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
    let mut names = BTreeSet::new();
    for set in args.data.iter().chain(&args.robustness) {
        anyhow::ensure!(
            names.insert(set.name.as_str()),
            "two test sets are called {:?}: name them NAME=DIR",
            set.name
        );
    }
    anyhow::ensure!(
        !args.data.iter().any(|s| s.name == "robustness"),
        "\"robustness\" is the perturbed sets' folder: give the test set another name"
    );
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let similarity = adapter_similarity(&model.student);
    let mut windows = model.sliding_window()?.with_overlap(args.overlap);
    if let Some(w) = args.window {
        windows.window = [w; 3];
    }
    let normalization = model.normalization();
    let min_enhancing_mm3 = model.min_enhancing_mm3();
    let mut pipeline = Pipeline::new(model.student, windows, normalization, &device)?;
    pipeline.set_min_enhancing_mm3(min_enhancing_mm3);
    let evaluator = Evaluator {
        pipeline,
        model_path: &model_path,
        args: &args,
    };

    let nested = args.data.len() > 1 || !args.robustness.is_empty();
    let mut sets = Vec::new();
    for set in &args.data {
        let out = if nested {
            args.out.join(&set.name)
        } else {
            args.out.clone()
        };
        sets.push(evaluator.evaluate(set, &combinations, &out)?);
    }
    let mut perturbed = Vec::new();
    for set in &args.robustness {
        let out = args.out.join("robustness").join(&set.name);
        perturbed.push(evaluator.evaluate(set, &[Availability::FULL], &out)?);
    }

    for (i, (name, codes, matrix)) in similarity.iter().enumerate() {
        heatmap(
            &args.out.join(format!("adapters-{}.png", i + 1)),
            &format!("Cosine similarity of the adapters: {name}"),
            codes,
            matrix,
        )?;
    }
    let mut out = std::io::stdout().lock();
    if nested {
        let report = side_by_side_report(&model_path, &sets, &perturbed);
        let path = args.out.join("report.md");
        std::fs::write(&path, &report).with_context(|| format!("writing {}", path.display()))?;
        writeln!(out, "{report}")?;
        writeln!(out, "wrote {} and one folder per set", path.display())?;
    } else {
        for set in &sets {
            writeln!(out, "{}", markdown_table(&set.summary))?;
        }
    }
    for set in sets.iter().chain(&perturbed) {
        for s in &set.skipped {
            writeln!(
                out,
                "skipped in {} (modality missing in the case): {s}",
                set.name
            )?;
        }
        writeln!(out, "{}", set.done)?;
    }
    writeln!(
        out,
        "{} adapter heatmaps in {}",
        similarity.len(),
        args.out.display()
    )?;
    Ok(())
}

/// One evaluated set.
struct SetResult {
    name: String,
    /// Where its cases come from, in words (from their `synth.json`).
    origin: String,
    summary: Vec<(Availability, CombinationSummary)>,
    skipped: Vec<String>,
    /// What was done and written, in one line.
    done: String,
}

/// The pipeline and settings every set is evaluated with.
struct Evaluator<'a> {
    pipeline: Pipeline,
    model_path: &'a Path,
    args: &'a Args,
}

impl Evaluator<'_> {
    /// Evaluates `set` under `combinations` and writes its files into `out`.
    fn evaluate(
        &self,
        set: &TestSet,
        combinations: &[Availability],
        out: &Path,
    ) -> anyhow::Result<SetResult> {
        let args = self.args;
        let discovery = discover_cases(&set.dir)?;
        let mut cases = discovery.cases;
        if let Some(n) = args.limit {
            cases.truncate(n);
        }
        anyhow::ensure!(
            !cases.is_empty(),
            "no BraTS cases found in {} (test set {})",
            set.dir.display(),
            set.name
        );
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        let bar = ProgressBar::new((cases.len() * combinations.len()) as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} {bar:30} {pos}/{len} case × combination [{elapsed} < {eta}] {msg}",
            )
            .expect("valid template"),
        );
        bar.set_prefix(set.name.clone());
        let started = std::time::Instant::now();
        let skipped = Mutex::new(Vec::new());
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(args.jobs.max(1))
            .build()
            .context("starting the worker threads")?;
        let results: Vec<anyhow::Result<Vec<EvalRow>>> = pool.install(|| {
            cases
                .par_iter()
                .map(|files| {
                    let (rows, skip) = evaluate_case(&self.pipeline, files, combinations, |c| {
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
        write_metrics_csv(&out.join("metrics.csv"), &rows)?;
        let summary = summarize(&rows);
        let min_enhancing_mm3 = self.pipeline.min_enhancing_mm3();
        let json = EvalSummary::of(&rows, min_enhancing_mm3);
        json.save(&out.join("summary.json"))?;
        let window = self.pipeline.segmenter().config().window;
        let origin = origin(&cases.iter().map(|c| c.dir.as_path()).collect::<Vec<_>>());
        let text = format!(
            "# Evaluation of {} on {}\n\n{} cases from `{}` ({origin}), {} combinations; sliding \
             window {}×{}×{} on the network grid, overlap {}; {}; metrics on each case's \
             native grid (HD95 in mm); {elapsed:.0} s.\n\n{}",
            self.model_path.display(),
            set.name,
            json.cases,
            set.dir.display(),
            summary.len(),
            window[0],
            window[1],
            window[2],
            args.overlap,
            if min_enhancing_mm3 == 0 {
                "every enhancing tumour reported".to_string()
            } else {
                format!("enhancing tumour under {min_enhancing_mm3} mm³ reported as necrosis")
            },
            markdown_table(&summary)
        );
        let md = out.join("summary.md");
        std::fs::write(&md, &text).with_context(|| format!("writing {}", md.display()))?;
        dice_bars(
            &out.join("dice.png"),
            &format!("Mean Dice per combination: {}", set.name),
            &summary,
        )?;
        let done = format!(
            "{}: {} cases × {} combinations in {elapsed:.0} s; wrote metrics.csv, summary.md, \
             summary.json and dice.png to {}",
            set.name,
            json.cases,
            summary.len(),
            out.display()
        );
        Ok(SetResult {
            name: set.name.clone(),
            origin,
            summary,
            skipped: skipped.into_inner().unwrap_or_default(),
            done,
        })
    }
}

/// The report of several sets: where each comes from, their 15-row tables side by side, and
/// the robustness table against the first set's all-four row.
fn side_by_side_report(model: &Path, sets: &[SetResult], perturbed: &[SetResult]) -> String {
    let mut text = format!(
        "# Evaluation of {}\n\nMean Dice per combination (fractions); each set's own \
         summary.md has HD95 too.\n\n",
        model.display()
    );
    for set in sets.iter().chain(perturbed) {
        text.push_str(&format!("- **{}**: {}\n", set.name, set.origin));
    }
    text.push('\n');
    let tables: Vec<(String, Vec<(Availability, CombinationSummary)>)> = sets
        .iter()
        .map(|s| (s.name.clone(), s.summary.clone()))
        .collect();
    text.push_str(&side_by_side_table(&tables));
    if !perturbed.is_empty() {
        let full = |s: &SetResult| {
            s.summary
                .iter()
                .find(|(a, _)| *a == Availability::FULL)
                .map(|(_, c)| *c)
        };
        let reference = sets.first().and_then(|s| Some((s.name.as_str(), full(s)?)));
        let rows: Vec<(String, CombinationSummary)> = perturbed
            .iter()
            .filter_map(|s| Some((s.name.clone(), full(s)?)))
            .collect();
        text.push_str("\n## Robustness: all four modalities under each perturbation\n\n");
        text.push_str(&robustness_table(
            reference.as_ref().map(|(n, c)| (*n, c)),
            &rows,
        ));
    }
    text
}

/// Where the cases in `dirs` come from, from their `synth.json` (anatomies, held out or not,
/// contrast and acquisition modes), or that they carry none.
fn origin(dirs: &[&Path]) -> String {
    let mut anatomies = BTreeSet::new();
    let mut modes = BTreeSet::new();
    let (mut held_out, mut without) = (0, 0);
    for dir in dirs {
        match Provenance::read(dir) {
            Ok(Some(p)) => {
                held_out += usize::from(p.held_out);
                anatomies.insert(p.anatomy);
                modes.insert(format!(
                    "contrast {}, acquisition {}",
                    p.contrast, p.acquisition
                ));
            }
            Ok(None) | Err(_) => without += 1,
        }
    }
    if anatomies.is_empty() {
        return "no synth.json: not generated by adamm synth".to_owned();
    }
    let mut words = format!(
        "adamm synth on {} ({}); {}",
        anatomies.into_iter().collect::<Vec<_>>().join(", "),
        if held_out == dirs.len() - without {
            "the held-out anatomy".to_owned()
        } else if held_out == 0 {
            "training anatomies".to_owned()
        } else {
            format!("{held_out} cases of the held-out anatomy")
        },
        modes.into_iter().collect::<Vec<_>>().join("; ")
    );
    if without > 0 {
        words.push_str(&format!("; {without} cases without synth.json"));
    }
    words
}
