//! `adamm export`: a run's student for the browser (half precision) with its model card.

use std::io::Write;
use std::path::PathBuf;

use adamm_model::burn::tensor::Device;
use adamm_model::{InferenceSettings, Precision, Student};
use adamm_train::compare::read_metrics_csv;
use adamm_train::enhancing::{self, ThresholdScore};
use adamm_train::eval::EvalSummary;
use adamm_train::run::DataRecord;
use adamm_train::trainer::TrainState;
use adamm_train::{RunPaths, TrainConfig};
use anyhow::Context;
use serde::Serialize;

/// Arguments of `adamm export`.
#[derive(clap::Args)]
pub struct Args {
    /// The training run.
    #[arg(long)]
    run: PathBuf,
    /// Output weights (`.bpk`); the model card is written next to it as `<name>.json`.
    #[arg(long)]
    out: PathBuf,
    /// An `adamm eval` output folder (`DIR` or `NAME=DIR`) whose summary.json goes into the
    /// card under NAME (default: the folder's name). Repeatable: for an evaluation of several
    /// sets, give each set's folder (`--eval id=EVAL/id --eval ood=EVAL/ood`), in
    /// distribution first.
    #[arg(long, value_parser = crate::eval::parse_set)]
    eval: Vec<crate::eval::TestSet>,
    /// Export the last checkpoint's student instead of the best-validated one.
    #[arg(long)]
    last: bool,
    /// An `adamm eval` folder of one validation set (never a test set), evaluated with this
    /// student exported without this flag: the smallest enhancing tumour the model reports is
    /// chosen on it (`adamm_train::enhancing`) and recorded in the weights. Repeatable: the
    /// sets' rows are pooled. Without it, every enhancing tumour is reported.
    #[arg(long, value_name = "DIR")]
    min_enhancing_from: Vec<PathBuf>,
}

/// The model card written next to exported weights.
#[derive(Serialize)]
struct ModelCard {
    /// What this is.
    model: &'static str,
    /// The weights file.
    weights: String,
    /// Precision of the stored weights.
    precision: &'static str,
    /// Which student was exported.
    student: String,
    /// Network configuration (also inside the weights' metadata).
    network: serde_json::Value,
    /// Grid the network works on, relative to a 1 mm input.
    working_grid: String,
    /// How it was trained.
    training: Training,
    /// The smallest enhancing tumour reported, and how it was chosen (absent: any is).
    min_enhancing: Option<MinEnhancing>,
    /// Evaluation summaries, one per test set given, in that order.
    evaluations: Vec<NamedEvaluation>,
    /// What it is not.
    intended_use: &'static str,
}

/// One test set's evaluation in the card.
#[derive(Serialize)]
struct NamedEvaluation {
    /// The set's name.
    set: String,
    /// Its `summary.json`.
    summary: EvalSummary,
}

/// The smallest enhancing tumour reported, in the card.
#[derive(Serialize)]
struct MinEnhancing {
    /// The threshold, mm³: a case whose ET adds up to less is reported as necrosis.
    mm3: u32,
    /// The validation evaluations it was chosen on.
    chosen_on: Vec<String>,
    /// Mean validation ET Dice at each candidate.
    sweep: Vec<ThresholdScore>,
}

/// Chooses the smallest enhancing tumour on the validation evaluations in `dirs`.
fn choose_min_enhancing(dirs: &[PathBuf]) -> anyhow::Result<MinEnhancing> {
    let mut rows = Vec::new();
    for dir in dirs {
        let summary = EvalSummary::load(&dir.join("summary.json")).with_context(|| {
            format!(
                "{} is not the folder of one evaluated set (for an evaluation of several \
                 sets, give each set's folder)",
                dir.display()
            )
        })?;
        anyhow::ensure!(
            summary.min_enhancing_mm3 == 0,
            "{} was evaluated with a model that already reports no enhancing tumour under {} \
             mm³: evaluate the validation set with the student exported without \
             --min-enhancing-from",
            dir.display(),
            summary.min_enhancing_mm3
        );
        rows.extend(read_metrics_csv(&dir.join("metrics.csv"))?);
    }
    let sweep = enhancing::sweep(&rows)?;
    Ok(MinEnhancing {
        mm3: enhancing::choose(&sweep),
        chosen_on: dirs.iter().map(|d| d.display().to_string()).collect(),
        sweep,
    })
}

#[derive(Serialize)]
struct Training {
    config: TrainConfig,
    data: DataRecord,
    iterations_done: usize,
    best_validation: Option<adamm_train::ValidationLog>,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let paths = RunPaths::new(&args.run);
    let config = TrainConfig::load(&paths.config())?;
    let state: TrainState = adamm_train::json::load(&paths.checkpoint().join("state.json"))
        .with_context(|| format!("{} has no readable checkpoint", args.run.display()))?;
    let data: DataRecord = adamm_train::json::load(&paths.data())?;
    let source = if args.last || !paths.best_student().exists() {
        paths.checkpoint().join("student.bpk")
    } else {
        paths.best_student()
    };
    let min_enhancing = if args.min_enhancing_from.is_empty() {
        None
    } else {
        Some(choose_min_enhancing(&args.min_enhancing_from)?)
    };
    let evaluations = args
        .eval
        .iter()
        .map(|set| {
            let file = set.dir.join("summary.json");
            anyhow::ensure!(
                file.is_file(),
                "{} has no summary.json: give the folder of one test set (for an evaluation of \
                 several sets, one --eval NAME=DIR/NAME each)",
                set.dir.display()
            );
            Ok(NamedEvaluation {
                set: set.name.clone(),
                summary: EvalSummary::load(&file)?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let device = Device::flex();
    let student = Student::load(&config.network, &source, &device)
        .with_context(|| format!("loading {}", source.display()))?;
    let settings = InferenceSettings {
        min_enhancing_mm3: min_enhancing.as_ref().map_or(0, |m| m.mm3),
        ..config.inference_settings()
    };
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    student
        .save_for_inference(&args.out, Precision::F16, settings)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let f = config.network.grid_factor;
    let card = ModelCard {
        model: "AdaMM student (missing-modality brain tumour segmentation)",
        weights: args
            .out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        precision: "f16 (convolution, linear and group-norm weights), f32 otherwise",
        student: if source == paths.best_student() {
            format!(
                "best validation (iteration {})",
                state.best.as_ref().map_or(0, |b| b.iteration)
            )
        } else {
            format!("last checkpoint (iteration {})", state.iteration)
        },
        network: serde_json::from_str(&config.network.to_string())
            .context("serialising the network configuration")?,
        working_grid: format!("input grid coarsened {f}× per axis ({f} mm on 1 mm BraTS data)"),
        training: Training {
            config,
            data,
            iterations_done: state.iteration,
            best_validation: state.best,
        },
        min_enhancing,
        evaluations,
        intended_use: "research and teaching; not a medical device",
    };
    let card_path = args.out.with_extension("json");
    std::fs::write(&card_path, serde_json::to_string_pretty(&card)?)
        .with_context(|| format!("writing {}", card_path.display()))?;
    let size = std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "exported {} → {} ({:.2} MB, f16) and model card {}",
        source.display(),
        args.out.display(),
        size as f64 / 1e6,
        card_path.display()
    )?;
    if settings.min_enhancing_mm3 > 0 {
        writeln!(
            out,
            "enhancing tumour under {} mm³ is reported as necrosis (chosen on the validation \
             sets given)",
            settings.min_enhancing_mm3
        )?;
    }
    Ok(())
}
