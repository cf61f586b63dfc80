//! `adamm synth`: realistic synthetic multi-modal glioma cases in the BraTS layout (see the
//! `adamm-synth` crate for the model).

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Instant;

use adamm_synth::anatomy::{is_held_out_name, HELD_OUT_ANATOMY};
use adamm_synth::{
    anatomy_for, case_id, case_seed, generate_with, AcquisitionMode, Anatomy, Class, ClassTotals,
    ContrastMode, GenerateOptions, Perturbation, ShapeMode, TumourPlan,
};
use adamm_volume::brats::{label, Modality, Naming};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

/// File naming and label convention of the written cases.
#[derive(Clone, Copy, clap::ValueEnum)]
enum NamingArg {
    /// BraTS 2021: `<id>_t1`, `_t1ce`, `_t2`, `_flair`, `_seg` with ET = 4.
    #[value(name = "2021")]
    Brats2021,
    /// BraTS 2023+: `<id>-t1n`, `-t1c`, `-t2w`, `-t2f`, `-seg` with ET = 3.
    #[value(name = "2023")]
    Brats2023,
}

/// How cases look: realistic (evaluation, demonstration) or randomised (training data).
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ModeArg {
    /// Raw-BraTS-like contrasts (±6 %), acquisition, brain shapes and tumours.
    Realistic,
    /// Contrasts ×0.6–1.6 per class under the physical orderings; WM at 100–5000, noise 1–8 %,
    /// blur σ 0.3–1.2, bias up to ±40 % over the brain, a random intensity curve, 1–7 mm thick
    /// slices, interpolation ringing at the brain edge, a stripping rim or cut, int16 or float32
    /// files; larger brain deformations, ventricle size and atrophy; tumours of 0.1 to over
    /// 300 mL, 1–4 foci, cysts, no to extensive edema, in deep, lobar, cortical or
    /// periventricular locations (see adamm_synth).
    Randomised,
}

/// The `--perturb` values: [`Perturbation::ALL`] by name, each with what it pins.
fn perturbation_parser() -> impl clap::builder::TypedValueParser<Value = Perturbation> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    let values = Perturbation::ALL.map(|p| PossibleValue::new(p.name()).help(p.describe()));
    PossibleValuesParser::new(values).try_map(|name| {
        Perturbation::from_name(&name).ok_or_else(|| format!("unknown perturbation {name:?}"))
    })
}

/// Arguments of `adamm synth`.
#[derive(clap::Args)]
pub struct Args {
    /// Output folder; case `<id>` goes to `<out>/<id>/`.
    #[arg(long)]
    out: PathBuf,
    /// Number of cases.
    #[arg(long, default_value_t = 1)]
    cases: u64,
    /// Run seed. Case i depends only on (seed, i), not on --cases or --threads.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Index of the first case (e.g. --start 100 --cases 50 adds cases 100–149 to a set).
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// File names and labels: 2023 (-t1n … -seg, ET = 3) or 2021 (_t1 … _seg, ET = 4).
    #[arg(long, value_enum, default_value = "2023")]
    naming: NamingArg,
    /// Realistic cases, or randomised ones for training (wide contrasts, acquisitions, brain
    /// shapes and tumours).
    #[arg(long, value_enum, default_value = "realistic")]
    mode: ModeArg,
    /// Realistic cases with one factor at the edge of the randomised training range, for the
    /// robustness table of `adamm eval --robustness` (the same seeds pair with the realistic
    /// set case by case).
    #[arg(long, conflicts_with = "mode", value_parser = perturbation_parser())]
    perturb: Option<Perturbation>,
    /// Cases generated at once, one per thread (default: all cores; each needs about
    /// 0.5 GB of memory).
    #[arg(long)]
    threads: Option<usize>,
    /// The anatomies to build cases on, comma-separated; each case draws one from its seed.
    /// Training anatomies: sri24, colin27, mni152. `mni_icbm152` is the held-out anatomy, for
    /// out-of-distribution test sets only (its cases are marked so in synth.json and refused by
    /// `adamm train`); it cannot be mixed with the others.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "sri24",
        value_name = "NAMES"
    )]
    anatomy: Vec<String>,
    /// Folder holding the anatomies' `<name>_t1_stripped.nii.gz` and `<name>_tissues.nii.gz`
    /// (default: the repository's data/anatomy, or data/heldout for the held-out anatomy).
    #[arg(long, value_name = "DIR")]
    anatomy_dir: Option<PathBuf>,
    /// Also write a PNG montage of the first case (default file: <out>/preview.png).
    #[arg(long, value_name = "PNG", num_args = 0..=1)]
    #[allow(clippy::option_option)]
    preview: Option<Option<PathBuf>>,
    /// Print the mean intensity of each class (CSF, GM, WM outside the tumour, NETC, SNFH,
    /// ET) relative to white matter, averaged over the generated cases.
    #[arg(long)]
    stats: bool,
}

/// What is reported about each written case.
struct Summary {
    id: String,
    plan: TumourPlan,
    /// Label volumes in mL (1 mm voxels): NETC, SNFH, ET.
    volumes_ml: [f64; 3],
    totals: ClassTotals,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let naming = match args.naming {
        NamingArg::Brats2021 => Naming::Brats2021,
        NamingArg::Brats2023 => Naming::Brats2023,
    };
    anyhow::ensure!(args.cases > 0, "--cases must be at least 1");
    let options = match args.mode {
        ModeArg::Realistic => GenerateOptions {
            perturbation: args.perturb,
            ..GenerateOptions::default()
        },
        ModeArg::Randomised => GenerateOptions {
            contrast: ContrastMode::Randomised,
            acquisition: AcquisitionMode::Randomised,
            shape: ShapeMode::Randomised,
            perturbation: None,
        },
    };
    let held_out = args
        .anatomy
        .iter()
        .filter(|name| is_held_out_name(name))
        .count();
    anyhow::ensure!(
        held_out == 0 || held_out == args.anatomy.len(),
        "--anatomy mixes the held-out anatomy {HELD_OUT_ANATOMY} with training anatomies: a set is either training data or an out-of-distribution test set"
    );
    let dir = args.anatomy_dir.clone().unwrap_or_else(|| {
        if held_out > 0 {
            Anatomy::held_out_dir()
        } else {
            Anatomy::default_dir()
        }
    });
    let started = Instant::now();
    let anatomies: Vec<Anatomy> = args
        .anatomy
        .iter()
        .map(|name| {
            Anatomy::load_named(&dir, name).with_context(|| {
                format!(
                    "loading the anatomy {name:?} from {} (--anatomy-dir: a folder holding {name}_t1_stripped.nii.gz and {name}_tissues.nii.gz)",
                    dir.display()
                )
            })
        })
        .collect::<anyhow::Result<_>>()?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("starting the worker threads")?;
    let bar = ProgressBar::new(args.cases);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40.cyan/blue}] {pos}/{len} cases ({per_sec}, eta {eta})",
        )
        .context("progress bar template")?
        .progress_chars("=> "),
    );
    let indices: Vec<u64> = (args.start..args.start + args.cases).collect();
    let summaries: Vec<Summary> = pool.install(|| {
        indices
            .par_iter()
            .map(|&i| -> anyhow::Result<Summary> {
                let seed = case_seed(args.seed, i);
                let anatomy = &anatomies[anatomy_for(seed, anatomies.len())];
                let case = generate_with(anatomy, seed, &options);
                let id = case_id(i, naming);
                case.write(anatomy.header(), &args.out.join(&id), &id, naming)?;
                let n = case.label_counts();
                bar.inc(1);
                Ok(Summary {
                    id,
                    volumes_ml: [label::NETC, label::SNFH, label::ET]
                        .map(|l| n[l as usize] as f64 / 1000.0),
                    totals: case.class_totals(),
                    plan: case.plan,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    bar.finish_and_clear();

    let mut out = io::stdout().lock();
    writeln!(
        out,
        "{:<20} {:<18} {:>5} {:>9} {:>9} {:>9} {:>9}",
        "case", "kind", "foci", "NETC mL", "SNFH mL", "ET mL", "WT mL"
    )?;
    for s in &summaries {
        let [netc, snfh, et] = s.volumes_ml;
        writeln!(
            out,
            "{:<20} {:<18} {:>5} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            s.id,
            s.plan.kind.name(),
            s.plan.foci.len(),
            netc,
            snfh,
            et,
            netc + snfh + et
        )?;
    }
    let secs = started.elapsed().as_secs_f64();
    writeln!(
        out,
        "\nwrote {} cases to {} ({} names) in {secs:.1} s on {threads} thread{}",
        summaries.len(),
        args.out.display(),
        match naming {
            Naming::Brats2021 => "BraTS 2021",
            Naming::Brats2023 => "BraTS 2023",
        },
        if threads == 1 { "" } else { "s" }
    )?;
    if args.stats {
        write_stats(&mut out, &summaries)?;
    }
    if let Some(png) = &args.preview {
        let png = png.clone().unwrap_or_else(|| args.out.join("preview.png"));
        let first = &summaries[0].id;
        let slice = crate::render::render_case(&args.out.join(first), Some(first), None, &png)?;
        writeln!(
            out,
            "preview of {first} (axial slice {slice}): {}",
            png.display()
        )?;
    }
    Ok(())
}

/// Writes the per-class mean intensity relative to WM (Markdown table), averaged over cases.
fn write_stats(out: &mut impl Write, summaries: &[Summary]) -> io::Result<()> {
    writeln!(
        out,
        "\nMean intensity per class relative to WM of the same case and modality, averaged over \
         {} cases (cases with the class / total in the last row):\n",
        summaries.len()
    )?;
    let header: Vec<&str> = Class::ALL.iter().map(|c| c.name()).collect();
    writeln!(out, "| modality | {} |", header.join(" | "))?;
    writeln!(out, "|---|{}", "---|".repeat(Class::ALL.len()))?;
    for m in Modality::ALL {
        let cells: Vec<String> = Class::ALL
            .iter()
            .map(|&c| {
                let v: Vec<f64> = summaries
                    .iter()
                    .filter_map(|s| s.totals.relative(m, c))
                    .collect();
                if v.is_empty() {
                    "–".to_string()
                } else {
                    let mean = v.iter().sum::<f64>() / v.len() as f64;
                    let sd =
                        (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
                    format!("{mean:.2} ± {sd:.2}")
                }
            })
            .collect();
        writeln!(out, "| {} | {} |", m.name(), cells.join(" | "))?;
    }
    let present: Vec<String> = Class::ALL
        .iter()
        .map(|&c| {
            let n = summaries
                .iter()
                .filter(|s| s.totals.count[c.index()] > 0)
                .count();
            format!("{n}/{}", summaries.len())
        })
        .collect();
    writeln!(out, "| cases | {} |", present.join(" | "))?;
    let raw: Vec<String> = Modality::ALL
        .iter()
        .map(|&m| {
            let v: Vec<f64> = summaries
                .iter()
                .filter_map(|s| s.totals.mean(m, Class::Wm))
                .collect();
            format!(
                "{} {:.0}",
                m.name(),
                v.iter().sum::<f64>() / v.len().max(1) as f64
            )
        })
        .collect();
    writeln!(out, "\nMean raw WM intensity: {}", raw.join(", "))
}
