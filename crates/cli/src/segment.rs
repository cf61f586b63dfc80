//! `adamm segment`: one case (any subset of the four modalities) to a label map in the
//! input's own grid and header.

use std::io::Write;
use std::path::{Path, PathBuf};

use adamm_model::{
    input_warnings, BrainExtractor, LoadedStudent, Pipeline, Scans, StripNet, Stripping,
};
use adamm_report::{
    grid_text, preferred_underlay, score_line, volume_rows, InputFile, ModelInfo, Report, Scene,
};
use adamm_view::planes::Underlay;
use adamm_volume::brats::{
    check_same_grid, discover_cases, nifti_stem, CaseFiles, LabelConvention, LabelVolumes,
    Modality, Naming,
};
use adamm_volume::metrics::region_metrics;
use adamm_volume::nifti_io::write_path;
use adamm_volume::{read_path, Affine, Header};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::device::parse_one;
use crate::strip::SHIPPED_STRIP_MODEL;

/// Where the model that ships with the app lives in this repository.
pub const SHIPPED_MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../public/models/adamm-light.bpk"
);

/// The four scans given one by one (`--t1`, `--t1c`, `--t2`, `--flair`, any subset), for the
/// commands that take them.
#[derive(clap::Args)]
pub struct ScanFiles {
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
}

impl ScanFiles {
    /// The paths in `Modality::ALL` order (T1, T1Gd, T2, FLAIR).
    pub fn paths(&self) -> [Option<PathBuf>; 4] {
        [&self.t1, &self.t1c, &self.t2, &self.flair].map(Clone::clone)
    }
}

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
    #[command(flatten)]
    scans: ScanFiles,
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
    /// Brain extraction before segmenting: auto (when the scans are not skull-stripped),
    /// always, never.
    #[arg(long, value_enum, default_value = "auto")]
    strip: StripArg,
    /// Brain-extraction weights (default: public/models/adamm-strip.bpk).
    #[arg(long)]
    strip_model: Option<PathBuf>,
    /// Also write the labels on each input scan's own grid and header (through its
    /// registration), as OUT with the BraTS 2023 modality suffix before the extension (`seg-t2w.nii.gz`).
    #[arg(long)]
    each_grid: bool,
    /// Also write the brain mask the case was segmented in (uint8, 1 = brain; the reference
    /// scan's grid and header): the extracted brain, or the non-zero voxels of a stripped scan.
    #[arg(long)]
    brain: Option<PathBuf>,
    /// Also write surface meshes in world RAS mm (smoothed; `SPACE=RAS` for 3D Slicer):
    /// `FILE.obj`, one object per region (the brain, WT, TC, ET), or `FILE.stl`, one file per
    /// region (`FILE-brain.stl`, `FILE-wt.stl`, …).
    #[arg(long)]
    mesh: Option<PathBuf>,
    /// Also write what was found as JSON: the files, volumes (mL), presence scores, warnings,
    /// RANO and per-region statistics (as `adamm measure --json`), the timings.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Also write a self-contained HTML report (`FILE.html`): the files, the model and its
    /// card, the three planes and the 3-D view at the largest lesion, volumes, RANO, the
    /// warnings and the caveat; the page's "Save report" writes the same.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Device: cpu, wgpu[:N], cuda[:N].
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// What `--json` writes.
#[derive(serde::Serialize)]
struct Summary<'a> {
    labels: String,
    reference: &'static str,
    modalities: String,
    volumes_ml: std::collections::BTreeMap<&'static str, f64>,
    presence: std::collections::BTreeMap<&'static str, f32>,
    warnings: Vec<String>,
    measurements: &'a adamm_measure::Measurements,
    timings_s: std::collections::BTreeMap<&'static str, f64>,
}

/// When to extract the brain.
#[derive(Clone, Copy, clap::ValueEnum)]
enum StripArg {
    /// When the scans are not skull-stripped.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
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
    let given = args.scans.paths();
    anyhow::ensure!(
        given.iter().any(Option::is_some),
        "give --case DIR or at least one of --t1, --t1c, --t2, --flair"
    );
    Ok(given)
}

fn truth_labels(path: &Path, reference: &Header) -> anyhow::Result<Vec<u8>> {
    let v = read_path(path).with_context(|| path.display().to_string())?;
    check_same_grid(
        ("the reference scan", reference),
        (&path.display().to_string(), &v.header),
    )?;
    crate::metrics::labels(path, &v)
}

/// The brain-extraction network at `path` (default: the shipped one); `None`, with a note on
/// stderr, when the default file is not there.
fn load_extractor(
    path: Option<&Path>,
    device: &adamm_model::burn::tensor::Device,
) -> anyhow::Result<Option<BrainExtractor>> {
    let default = PathBuf::from(SHIPPED_STRIP_MODEL);
    let chosen = path.unwrap_or(&default);
    if path.is_none() && !chosen.is_file() {
        eprintln!(
            "note: no brain-extraction model at {} (give --strip-model FILE)",
            chosen.display()
        );
        return Ok(None);
    }
    let (net, grid) = StripNet::load_any(chosen, device)
        .with_context(|| format!("loading the brain-extraction model {}", chosen.display()))?;
    Ok(Some(BrainExtractor { net, grid }))
}

/// `path` with `suffix` (`-t2w`) before its extension (`.nii.gz` or `.nii`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = nifti_stem(&name).unwrap_or(&name);
    let ext = &name[stem.len()..];
    path.with_file_name(format!("{stem}{suffix}{ext}"))
}

/// The file format `--mesh` asks for.
#[derive(Clone, Copy)]
enum MeshFormat {
    /// One OBJ file, an object per mesh.
    Obj,
    /// One STL file per mesh.
    Stl,
}

impl MeshFormat {
    /// The format `path`'s extension names.
    fn of(path: &Path) -> anyhow::Result<MeshFormat> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        if ext.eq_ignore_ascii_case("obj") {
            Ok(MeshFormat::Obj)
        } else if ext.eq_ignore_ascii_case("stl") {
            Ok(MeshFormat::Stl)
        } else {
            anyhow::bail!(
                "--mesh {}: give a file ending in .obj or .stl",
                path.display()
            )
        }
    }
}

/// Writes `meshes` to `path` as `format`: one OBJ file, or an STL file per mesh (the mesh's
/// name as a suffix); one line per file written.
fn write_meshes(
    path: &Path,
    format: MeshFormat,
    meshes: &[(String, adamm_measure::Mesh)],
) -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::new();
    let triangles = |m: &adamm_measure::Mesh| m.triangles.len();
    match format {
        MeshFormat::Obj => {
            let named: Vec<(&str, &adamm_measure::Mesh)> =
                meshes.iter().map(|(n, m)| (n.as_str(), m)).collect();
            std::fs::write(path, adamm_measure::obj_file(&named))
                .with_context(|| format!("writing {}", path.display()))?;
            let parts: Vec<String> = meshes
                .iter()
                .map(|(n, m)| format!("{n} {} triangles", triangles(m)))
                .collect();
            lines.push(format!(
                "surfaces ({}) → {}",
                parts.join(", "),
                path.display()
            ));
        }
        MeshFormat::Stl => {
            for (name, mesh) in meshes {
                let file = path.with_file_name(format!(
                    "{}-{}.stl",
                    path.file_stem()
                        .map(|s| s.to_string_lossy())
                        .unwrap_or_default(),
                    name.to_ascii_lowercase()
                ));
                std::fs::write(&file, mesh.to_stl(name))
                    .with_context(|| format!("writing {}", file.display()))?;
                lines.push(format!(
                    "surface {name} ({} triangles) → {}",
                    triangles(mesh),
                    file.display()
                ));
            }
        }
    }
    Ok(lines)
}

/// The report's list of input files: each scan with its role and own grid, then the ground
/// truth.
fn report_files(
    paths: &[Option<PathBuf>; 4],
    scans: &Scans,
    truth: Option<&Path>,
) -> Vec<InputFile> {
    let name = |p: &Path| {
        p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    let mut files: Vec<InputFile> = Modality::ALL
        .iter()
        .filter_map(|m| {
            let path = paths[m.index()].as_deref()?;
            let header = scans.alignment().native_headers[m.index()].as_ref()?;
            Some(InputFile {
                role: if *m == scans.reference() {
                    format!("{} (reference grid)", m.name())
                } else {
                    m.name().to_owned()
                },
                name: name(path),
                grid: grid_text(header),
            })
        })
        .collect();
    if let Some(t) = truth {
        files.push(InputFile {
            role: "ground truth".to_owned(),
            name: name(t),
            grid: "the reference grid".to_owned(),
        });
    }
    files
}

/// The report's model: its file, window and device, and the model card `adamm export` wrote
/// beside it (`<name>.json`) when there is one.
fn report_model(path: &Path, window: [usize; 3], device: &str) -> ModelInfo {
    let card = std::fs::read_to_string(path.with_extension("json")).ok();
    ModelInfo {
        name: path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
        detail: format!(
            "AdaMM student, sliding windows of {}×{}×{} on the network's grid, run on {device} \
             by adamm segment",
            window[0], window[1], window[2]
        ),
        card,
    }
}

/// The report's pictures: the preferred scan (`adamm_report::preferred_underlay`) on the
/// reference grid under the labels and the brain's outline, and the surfaces.
fn report_figures(
    scans: &Scans,
    labels: &[u8],
    brain: &[u8],
    measured: &adamm_measure::Measurements,
    meshes: &[(String, adamm_measure::Mesh)],
) -> anyhow::Result<Vec<adamm_report::Figure>> {
    let volumes = scans.volumes();
    let shown = preferred_underlay(volumes.map(|v| v.is_some()))
        .context("a case without scans has nothing to draw")?;
    let volume = volumes[shown.index()].context("the preferred scan is present")?;
    let underlay = Underlay::on_grid(volume, scans.header(), &Affine::IDENTITY)?;
    Ok(adamm_report::figures(&Scene {
        underlay: &underlay,
        underlay_name: shown.name(),
        labels,
        brain: Some(brain),
        measurements: measured,
        meshes,
    })?)
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    // Refused before the work, not after it.
    let mesh_format = args.mesh.as_deref().map(MeshFormat::of).transpose()?;
    if let Some(path) = &args.report {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default();
        anyhow::ensure!(
            ext.eq_ignore_ascii_case("html") || ext.eq_ignore_ascii_case("htm"),
            "--report {}: give a file ending in .html",
            path.display()
        );
    }
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
    let min_enhancing_mm3 = model.min_enhancing_mm3();
    let mut pipeline = Pipeline::new(model.student, windows, normalization, &device)?;
    pipeline.set_min_enhancing_mm3(min_enhancing_mm3);
    pipeline.set_stripping(match args.strip {
        StripArg::Auto => Stripping::Auto,
        StripArg::Always => Stripping::Always,
        StripArg::Never => Stripping::Never,
    });
    let files = case_files(&args)?;
    let reading = std::time::Instant::now();
    let scans = Scans::read_paths(files.each_ref().map(Option::as_deref))?;
    let read_s = reading.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    for line in scans.describe() {
        writeln!(out, "{line}")?;
    }
    let wants_strip = match args.strip {
        StripArg::Auto => !scans.skull_stripped(),
        StripArg::Always => true,
        StripArg::Never => false,
    };
    if wants_strip {
        if let Some(extractor) = load_extractor(args.strip_model.as_deref(), &device)? {
            pipeline = pipeline.with_brain_extraction(extractor);
        }
    }
    let started = std::time::Instant::now();
    let case = pipeline.prepare(&scans)?;
    let prepare_s = started.elapsed().as_secs_f64();
    writeln!(
        out,
        "brain: {} ({:.0} mL segmented)",
        case.strip.describe(),
        case.brain_ml()
    )?;
    // The brain mask on the reference grid: written with --brain, the midline of the
    // measurements, the brain's surface.
    let brain_on_reference = case.brain_on_reference()?;
    let brain: Vec<bool> = brain_on_reference.iter().map(|&b| b > 0).collect();
    if let Some(path) = &args.brain {
        write_path(path, scans.header(), &brain_on_reference)
            .with_context(|| format!("writing {}", path.display()))?;
        writeln!(out, "brain mask → {}", path.display())?;
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("segmenting {bar:30} {pos}/{len} windows [{elapsed}]")
            .expect("valid template"),
    );
    let result = pipeline.job(&case, case.availability())?.run(|p| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
    })?;
    bar.finish_and_clear();
    let network_s = started.elapsed().as_secs_f64() - prepare_s;
    writeln!(
        out,
        "timings: reading and registering the scans {read_s:.1} s, brain extraction and \
         normalisation {prepare_s:.1} s, the network {network_s:.1} s"
    )?;
    let convention = match args.labels {
        LabelsArg::Brats2023 => LabelConvention::Brats2023,
        LabelsArg::Brats2021 => LabelConvention::Brats2021,
    };
    let write = |path: &Path, header: &Header, labels: &[u8]| -> anyhow::Result<()> {
        let values: Vec<u8> = labels.iter().map(|&l| convention.file_value(l)).collect();
        write_path(path, header, &values).with_context(|| format!("writing {}", path.display()))
    };
    let labels = &result.labels;
    write(&args.out, scans.header(), labels)?;
    let spacing = scans.spacing_mm()?;
    writeln!(
        out,
        "segmented {:?} voxels of {:?} mm (the {} grid; modalities {}, window {}×{}×{}) in {:.1} s → {}",
        scans.dims(),
        spacing,
        scans.reference().name(),
        scans.availability().name(),
        window[0],
        window[1],
        window[2],
        started.elapsed().as_secs_f64(),
        args.out.display()
    )?;
    if args.each_grid {
        for m in Modality::ALL {
            let (Some(on_scan), Some(header)) = (
                scans.labels_on_scan(&result, m)?,
                scans.alignment().native_headers[m.index()].as_ref(),
            ) else {
                continue;
            };
            let path = with_suffix(&args.out, m.suffix(Naming::Brats2023));
            write(&path, header, &on_scan)?;
            writeln!(out, "labels on the {} grid → {}", m.name(), path.display())?;
        }
    }
    let v = LabelVolumes::of(labels, spacing);
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
    let meshes = if args.mesh.is_some() || args.report.is_some() {
        let affine = scans.header().world_from_voxel()?;
        adamm_measure::case_meshes(labels, scans.dims(), &affine, Some(&brain))?
    } else {
        Vec::new()
    };
    if let (Some(path), Some(format)) = (&args.mesh, mesh_format) {
        for line in write_meshes(path, format, &meshes)? {
            writeln!(out, "{line}")?;
        }
    }
    let measured = scans.measure(&result, &brain)?;
    for line in measured.describe() {
        writeln!(out, "{line}")?;
    }
    let warnings = input_warnings(&scans, &case, &result);
    for w in &warnings {
        writeln!(out, "WARNING: {w}")?;
    }
    if let Some(path) = &args.json {
        let summary = Summary {
            labels: args.out.display().to_string(),
            reference: scans.reference().name(),
            modalities: scans.availability().name(),
            volumes_ml: [
                ("NETC", v.netc),
                ("SNFH", v.snfh),
                ("ET", v.et),
                ("WT", v.wt()),
                ("TC", v.tc()),
            ]
            .into(),
            presence: ["NETC", "SNFH", "ET"]
                .into_iter()
                .zip(result.presence.iter().copied())
                .collect(),
            warnings: warnings.iter().map(ToString::to_string).collect(),
            measurements: &measured,
            timings_s: [
                ("reading_and_registering", read_s),
                ("brain_extraction_and_normalisation", prepare_s),
                ("network", network_s),
            ]
            .into(),
        };
        std::fs::write(path, serde_json::to_string_pretty(&summary)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        writeln!(out, "summary → {}", path.display())?;
    }
    if !warnings.is_empty() {
        writeln!(
            out,
            "WARNING: do not trust these labels: the input is not what the model was made for"
        )?;
    }
    let mut scores = Vec::new();
    if let Some(truth_path) = &args.truth {
        let truth = truth_labels(truth_path, scans.header())?;
        let metrics = region_metrics(labels, &truth, scans.dims(), spacing)?;
        for (region, m) in metrics {
            let line = score_line(region.name(), &m);
            writeln!(out, "{line}")?;
            scores.push(line);
        }
    }
    if let Some(path) = &args.report {
        let report = Report {
            made_by: format!("adamm segment {}", env!("CARGO_PKG_VERSION")),
            files: report_files(&files, &scans, args.truth.as_deref()),
            model: report_model(&model_path, window, &args.device),
            modalities: scans.availability().name(),
            notes: scans
                .describe()
                .into_iter()
                .chain([format!(
                    "brain: {} ({:.0} mL segmented)",
                    case.strip.describe(),
                    case.brain_ml()
                )])
                .collect(),
            warnings: warnings.iter().map(ToString::to_string).collect(),
            volumes_ml: volume_rows(&v),
            presence: match result.presence[..] {
                [a, b, c] => Some([a, b, c]),
                _ => None,
            },
            measurements: measured.clone(),
            scores,
            figures: report_figures(&scans, labels, &brain_on_reference, &measured, &meshes)?,
        };
        std::fs::write(path, report.to_html()?)
            .with_context(|| format!("writing {}", path.display()))?;
        writeln!(out, "report → {}", path.display())?;
    }
    Ok(())
}
