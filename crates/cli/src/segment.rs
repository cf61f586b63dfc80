//! `adamm segment`: one case (any subset of the four modalities) to a label map in the
//! input's own grid and header.

use std::io::Write;
use std::path::{Path, PathBuf};

use adamm_model::{LoadedStudent, Pipeline, Scans};
use adamm_volume::brats::{
    check_same_grid, discover_cases, CaseFiles, LabelConvention, LabelVolumes,
};
use adamm_volume::metrics::region_metrics;
use adamm_volume::nifti_io::write_path;
use adamm_volume::{read_path, Volume};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::device::parse_one;

/// Where the model that ships with the app lives in this repository.
pub const SHIPPED_MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../public/models/adamm-light.bpk"
);

/// Label convention of the written file.
#[derive(Clone, Copy, clap::ValueEnum)]
enum LabelsArg {
    /// BraTS 2023+: NETC 1, SNFH 2, ET 3.
    #[value(name = "2023")]
    Brats2023,
    /// BraTS 2021: NETC 1, SNFH 2, ET 4.
    #[value(name = "2021")]
    Brats2021,
}

/// Arguments of `adamm segment`.
#[derive(clap::Args)]
pub struct Args {
    /// A case folder with BraTS-named files (any subset of the four modalities).
    #[arg(long, conflicts_with_all = ["t1", "t1c", "t2", "flair"])]
    case: Option<PathBuf>,
    /// T1 (native) image.
    #[arg(long)]
    t1: Option<PathBuf>,
    /// T1 with contrast (T1Gd / T1ce / t1c).
    #[arg(long)]
    t1c: Option<PathBuf>,
    /// T2 image.
    #[arg(long)]
    t2: Option<PathBuf>,
    /// FLAIR image.
    #[arg(long)]
    flair: Option<PathBuf>,
    /// Output label map (`.nii.gz` or `.nii`), in the grid and header of the inputs.
    #[arg(long)]
    out: PathBuf,
    /// Student weights (default: the model shipped in public/models/).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Label values written: 2023 (ET = 3) or 2021 (ET = 4).
    #[arg(long, value_enum, default_value = "2023")]
    labels: LabelsArg,
    /// Ground truth to score the result against (Dice, HD95, IoU, sensitivity per region).
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Sliding-window edge on the network's grid (a multiple of 8). Default: the window the
    /// model file records (its training patch); windows larger than the patches the network
    /// saw make it worse.
    #[arg(long)]
    window: Option<usize>,
    /// Device: cpu, wgpu[:N], cuda[:N].
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// The files of the case: those of `--case DIR` (its ground truth is not read: give
/// `--truth` to score), or those given one by one.
fn case_files(args: &Args) -> anyhow::Result<[Option<PathBuf>; 4]> {
    if let Some(dir) = &args.case {
        let found = discover_cases(dir)?;
        let files: &CaseFiles = match found.cases.as_slice() {
            [one] => one,
            [] => anyhow::bail!("no BraTS-named images in {}", dir.display()),
            many => anyhow::bail!(
                "{} holds {} cases; give one case folder",
                dir.display(),
                many.len()
            ),
        };
        return Ok(files.images.clone());
    }
    let given = [&args.t1, &args.t1c, &args.t2, &args.flair].map(Clone::clone);
    anyhow::ensure!(
        given.iter().any(Option::is_some),
        "give --case DIR or at least one of --t1, --t1c, --t2, --flair"
    );
    Ok(given)
}

fn truth_labels(path: &Path, reference: &Volume) -> anyhow::Result<Vec<u8>> {
    let v = read_path(path).with_context(|| path.display().to_string())?;
    check_same_grid(
        ("the images", &reference.header),
        (&path.display().to_string(), &v.header),
    )?;
    crate::metrics::labels(path, &v)
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let device = parse_one(&args.device)?;
    let model_path = args
        .model
        .clone()
        .unwrap_or_else(|| PathBuf::from(SHIPPED_MODEL));
    let model = LoadedStudent::load(&model_path, &device).with_context(|| {
        format!(
            "loading the model {}{}",
            model_path.display(),
            if args.model.is_none() {
                " (the shipped model; give --model FILE to use another)"
            } else {
                ""
            }
        )
    })?;
    let mut windows = model.sliding_window()?;
    if let Some(w) = args.window {
        windows.window = [w; 3];
    }
    let window = windows.window;
    let normalization = model.normalization();
    let pipeline = Pipeline::new(model.student, windows, normalization, &device)?;
    let files = case_files(&args)?;
    let scans = Scans::read_paths(files.each_ref().map(Option::as_deref))?;
    let started = std::time::Instant::now();
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("segmenting {bar:30} {pos}/{len} windows [{elapsed}]")
            .expect("valid template"),
    );
    let result = pipeline.segment(&scans, |p| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
    })?;
    bar.finish_and_clear();
    let labels = result.labels;
    let grid = scans.grid();
    let convention = match args.labels {
        LabelsArg::Brats2023 => LabelConvention::Brats2023,
        LabelsArg::Brats2021 => LabelConvention::Brats2021,
    };
    let file_values: Vec<u8> = labels.iter().map(|&l| convention.file_value(l)).collect();
    write_path(&args.out, scans.header(), &file_values)
        .with_context(|| format!("writing {}", args.out.display()))?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "segmented {:?} voxels of {:?} mm (modalities {}, window {}×{}×{}) in {:.1} s → {}",
        grid.dims(),
        grid.spacing_mm(),
        scans.availability().name(),
        window[0],
        window[1],
        window[2],
        started.elapsed().as_secs_f64(),
        args.out.display()
    )?;
    let v = LabelVolumes::of(&labels, grid.spacing_mm());
    writeln!(
        out,
        "volumes: NETC {:.1} mL, SNFH (edema) {:.1} mL, ET {:.1} mL; WT {:.1} mL, TC {:.1} mL",
        v.netc,
        v.snfh,
        v.et,
        v.wt(),
        v.tc(),
    )?;
    if let [netc, snfh, et] = result.presence[..] {
        writeln!(out, "presence (the model's probability that each is there): NETC {netc:.2}, SNFH {snfh:.2}, ET {et:.2}")?;
    }
    if let Some(truth_path) = &args.truth {
        let truth = truth_labels(truth_path, grid)?;
        let metrics = region_metrics(&labels, &truth, grid.dims(), grid.spacing_mm())?;
        for (region, m) in metrics {
            writeln!(
                out,
                "{}: Dice {:.4}, HD95 {:.2} mm, IoU {:.4}, sensitivity {:.4}",
                region.name(),
                m.dice,
                m.hd95,
                m.iou,
                m.sensitivity
            )?;
        }
    }
    Ok(())
}
