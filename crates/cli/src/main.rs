//! `adamm`: the AdaMM command line.
//!
//! Every command prints a one-line reason and exits with status 1 on bad input. Commands write
//! their output through a locked stdout with `writeln!` and pass write errors up; a closed pipe
//! (`adamm inspect --json f.nii | head`) ends the command quietly with status 0, as other Unix
//! tools end.

mod cases;
mod compare;
mod device;
mod eval;
mod eval_strip;
mod export;
mod inspect;
mod measure;
mod metrics;
mod model_info;
mod render;
mod segment;
mod strip;
mod synth;
mod train;
mod train_strip;

use clap::{Parser, Subcommand};

/// AdaMM: brain-tumour segmentation from MRI with missing modalities.
#[derive(Parser)]
#[command(name = "adamm", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show the header, geometry and voxel statistics of NIfTI files.
    Inspect(inspect::Args),
    /// Dice, IoU, sensitivity, specificity and HD95 of a predicted segmentation for WT/TC/ET.
    Metrics(metrics::Args),
    /// List the BraTS cases found in a folder tree, their modalities and problems.
    Cases(cases::Args),
    /// Parameter breakdown of a network preset and the FLOPs of one forward pass.
    ModelInfo(model_info::Args),
    /// Generate synthetic multi-modal glioma cases (BraTS layout, real anatomies): realistic,
    /// randomised for training, or with one factor at its edge for robustness tests.
    Synth(synth::Args),
    /// Write a PNG montage of a case: the four modalities and the labels on one slice.
    Render(render::Args),
    /// Train teacher and student (AdaMM) on a folder of BraTS cases, or resume a run.
    Train(train::Args),
    /// Evaluate a student on test sets under all 15 modality combinations, side by side.
    Eval(eval::Args),
    /// Compare two evaluations of the same cases: paired Dice differences with bootstrap intervals.
    Compare(compare::Args),
    /// RANO diameters and per-region statistics (volume, lesions, centroid, hemisphere, mean
    /// intensities) of a label map, in world millimetres.
    Measure(measure::Args),
    /// Segment one case (any subset of T1, T1Gd, T2, FLAIR) into a label map.
    Segment(segment::Args),
    /// Export a run's student for the browser (half precision) with a model card.
    Export(export::Args),
    /// Brain extraction: the skull-stripped image and the brain mask on the input's own grid.
    Strip(strip::Args),
    /// Dice of a brain-extraction network on held-out and training synthetic heads (T1, T2,
    /// FLAIR) and on real head / brain pairs.
    EvalStrip(eval_strip::Args),
    /// Train the brain-extraction network on synthetic heads of random contrast, or resume.
    TrainStrip(train_strip::Args),
}

/// jemalloc, tuned for the network's large activations (see `adamm_model::alloc`).
#[global_allocator]
static ALLOCATOR: adamm_model::alloc::Jemalloc = adamm_model::alloc::Jemalloc;

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => inspect::run(args),
        Command::Metrics(args) => metrics::run(args),
        Command::Cases(args) => cases::run(args),
        Command::ModelInfo(args) => model_info::run(args),
        Command::Synth(args) => synth::run(args),
        Command::Render(args) => render::run(args),
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Measure(args) => measure::run(args),
        Command::Segment(args) => segment::run(args),
        Command::Export(args) => export::run(args),
        Command::Strip(args) => strip::run(args),
        Command::EvalStrip(args) => eval_strip::run(args),
        Command::TrainStrip(args) => train_strip::run(args),
    };
    if let Err(e) = result {
        if is_closed_pipe(&e) {
            // The reader of our output has gone (`| head`): it has all it wanted.
            return;
        }
        // One line: the error and its causes, outermost first; a cause already quoted by the
        // message above it (as `path: io error` messages do) is not repeated.
        let mut line = e.to_string();
        for cause in e.chain().skip(1) {
            let text = cause.to_string();
            if !line.contains(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
        }
        eprintln!("error: {line}");
        std::process::exit(1);
    }
}

/// Whether `e` comes from writing to a pipe whose reader has closed it.
fn is_closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
