//! `adamm eval-strip`: Dice of a brain-extraction network's mask on synthetic heads of the
//! held-out anatomy and of the training anatomies, in T1, T2 and FLAIR contrast, and on real
//! head / brain pairs.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use adamm_model::StripNet;
use adamm_synth::head::{HeadAnatomy, HeadContrast, TRAINING_HEADS};
use adamm_train::strip_eval::{score_pair, score_synthetic_heads, StripScores};
use adamm_volume::read_path;
use anyhow::Context;

use crate::device::parse_one;
use crate::strip::SHIPPED_STRIP_MODEL;

/// Arguments of `adamm eval-strip`.
#[derive(clap::Args)]
pub struct Args {
    /// Brain-extraction weights (default: public/models/adamm-strip.bpk).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Synthetic heads of the held-out anatomy per contrast.
    #[arg(long, default_value_t = 20)]
    heads: usize,
    /// Synthetic heads of each training anatomy per contrast (0: none).
    #[arg(long, default_value_t = 5)]
    training_heads: usize,
    /// Seed of the evaluation heads.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// A real pair `NAME=HEAD,BRAIN`: a head scan and its brain (a skull-stripped image or a
    /// mask, > 0 inside) on the same grid. Repeatable.
    #[arg(long, value_parser = parse_pair)]
    pair: Vec<(String, PathBuf, PathBuf)>,
    /// Also write the table here (Markdown).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Device: cpu, wgpu[:N], cuda[:N].
    #[arg(long, default_value = "cpu")]
    device: String,
}

fn parse_pair(s: &str) -> Result<(String, PathBuf, PathBuf), String> {
    let (name, files) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not NAME=HEAD,BRAIN"))?;
    let (head, brain) = files
        .split_once(',')
        .ok_or_else(|| format!("`{files}` is not HEAD,BRAIN"))?;
    Ok((name.to_owned(), head.into(), brain.into()))
}

const CONTRASTS: [HeadContrast; 3] = [HeadContrast::T1, HeadContrast::T2, HeadContrast::Flair];

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let device = parse_one(&args.device)?;
    let path = args
        .model
        .clone()
        .unwrap_or_else(|| PathBuf::from(SHIPPED_STRIP_MODEL));
    let (net, grid) = StripNet::load_any(&path, &device)
        .with_context(|| format!("loading the brain-extraction model {}", path.display()))?;
    let mut rows: Vec<(&str, StripScores)> = Vec::new();
    let held_out = HeadAnatomy::load_held_out(&HeadAnatomy::held_out_dir())?;
    for c in CONTRASTS {
        let s = score_synthetic_heads(&net, grid, &held_out, c, args.heads, args.seed, &device)?;
        eprintln!("{}: mean Dice {:.4}", s.name, s.mean());
        rows.push(("held out", s));
    }
    if args.training_heads > 0 {
        for name in TRAINING_HEADS {
            let anatomy = HeadAnatomy::load(&HeadAnatomy::default_dir(), name)?;
            for c in CONTRASTS {
                let s = score_synthetic_heads(
                    &net,
                    grid,
                    &anatomy,
                    c,
                    args.training_heads,
                    args.seed,
                    &device,
                )?;
                eprintln!("{}: mean Dice {:.4}", s.name, s.mean());
                rows.push(("training anatomy", s));
            }
        }
    }
    for (name, head, brain) in &args.pair {
        let h = read_path(head).with_context(|| head.display().to_string())?;
        let b = read_path(brain).with_context(|| brain.display().to_string())?;
        let d = score_pair(&net, grid, &h, &b, &device)
            .with_context(|| format!("{} vs {}", head.display(), brain.display()))?;
        rows.push((
            "real pair",
            StripScores {
                name: name.clone(),
                dice: vec![d],
            },
        ));
    }
    let mut table = format!(
        "Brain-mask Dice of {} (seed {})\n\n| set | kind | heads | mean Dice | min Dice |\n|---|---|---:|---:|---:|\n",
        path.display(),
        args.seed
    );
    for (kind, s) in &rows {
        let _ = writeln!(
            table,
            "| {} | {kind} | {} | {:.4} | {:.4} |",
            s.name,
            s.dice.len(),
            s.mean(),
            s.min()
        );
    }
    std::io::stdout().lock().write_all(table.as_bytes())?;
    if let Some(out) = &args.out {
        std::fs::write(out, &table).with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}
