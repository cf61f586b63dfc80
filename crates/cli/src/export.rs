//! `adamm export`: a run's student for the browser (half precision) with its model card.

use std::io::Write;
use std::path::PathBuf;

use adamm_model::burn::tensor::Device;
use adamm_model::{Precision, Student};
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
    let device = Device::flex();
    let student = Student::load(&config.network, &source, &device)
        .with_context(|| format!("loading {}", source.display()))?;
    student
        .save_for_inference(&args.out, Precision::F16, config.inference_settings())
        .with_context(|| format!("writing {}", args.out.display()))?;
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
    Ok(())
}
