//! `adamm strip`: brain extraction of one scan, on its own grid and header.

use std::io::Write;
use std::path::PathBuf;

use adamm_model::strip_mask;
use adamm_model::StripNet;
use adamm_volume::nifti_io::write_path;
use adamm_volume::read_path;
use anyhow::Context;

use crate::device::parse_one;

/// Where the brain-extraction model that ships with the app will live in this repository.
pub const SHIPPED_STRIP_MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../public/models/adamm-strip.bpk"
);

/// Arguments of `adamm strip`.
#[derive(clap::Args)]
pub struct Args {
    /// The scan (`.nii` or `.nii.gz`, 3-D, any grid and orientation, any contrast).
    input: PathBuf,
    /// The skull-stripped image: the input's grid and header, 0 outside the brain.
    output: PathBuf,
    /// Also write the brain mask here (uint8, 1 = brain, the input's grid and header).
    #[arg(long)]
    mask: Option<PathBuf>,
    /// Brain-extraction weights (default: public/models/adamm-strip.bpk).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Device: cpu, wgpu[:N], cuda[:N].
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let device = parse_one(&args.device)?;
    let model_path = args
        .model
        .clone()
        .unwrap_or_else(|| PathBuf::from(SHIPPED_STRIP_MODEL));
    anyhow::ensure!(
        model_path.is_file(),
        "no brain-extraction model at {}: train one with `adamm train-strip --run DIR` and \
         copy its best-strip.bpk there, or give --model FILE",
        model_path.display()
    );
    let started = std::time::Instant::now();
    let scan = read_path(&args.input).with_context(|| args.input.display().to_string())?;
    let (net, grid) = StripNet::load_any(&model_path, &device).with_context(|| {
        format!(
            "loading the brain-extraction model {}",
            model_path.display()
        )
    })?;
    let mask = strip_mask(&net, &scan, grid, &device)
        .with_context(|| format!("stripping {}", args.input.display()))?;
    let stripped: Vec<f32> = scan
        .data
        .iter()
        .zip(&mask)
        .map(|(&v, &m)| if m { v } else { 0.0 })
        .collect();
    // The input's grid and geometry; float32 voxels without scaling (`write_path` writes the
    // voxels' own datatype), so the kept values are the input's scaled values exactly.
    write_path(&args.output, &scan.header, &stripped)
        .with_context(|| format!("writing {}", args.output.display()))?;
    if let Some(path) = &args.mask {
        let values: Vec<u8> = mask.iter().map(|&m| u8::from(m)).collect();
        write_path(path, &scan.header, &values)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let s = scan.spacing_mm();
    let ml = mask.iter().filter(|&&m| m).count() as f64 * s[0] * s[1] * s[2] / 1000.0;
    let mut out = std::io::stdout().lock();
    if ml == 0.0 {
        writeln!(
            out,
            "no brain found: the output is all 0 (is {} a trained brain-extraction model, and \
             the input a head scan?)",
            model_path.display()
        )?;
    }
    writeln!(
        out,
        "brain {ml:.1} mL ({:?} voxels of {:?} mm) in {:.1} s → {}",
        scan.dims(),
        s,
        started.elapsed().as_secs_f64(),
        args.output.display()
    )?;
    Ok(())
}
