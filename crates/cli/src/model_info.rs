//! `adamm model-info`.

use std::io::Write;

use adamm_model::burn::tensor::Device;
use adamm_model::info::authors;
use adamm_model::{forward_flops, AdammConfig, ParameterBreakdown};
use anyhow::Context;

/// Arguments of `adamm model-info`.
#[derive(clap::Args)]
pub struct Args {
    /// Network preset: `paper` (the authors' network) or `light` (CPU/browser).
    #[arg(long, default_value = "paper")]
    preset: String,
    /// Edge of the cubic window the FLOPs are counted on (a multiple of 8).
    #[arg(long, default_value_t = 128)]
    window: usize,
}

fn percent(ours: usize, theirs: usize) -> String {
    format!(
        "{:+.2} %",
        100.0 * (ours as f64 - theirs as f64) / theirs as f64
    )
}

/// Runs the command: the parameter breakdown (against the authors' numbers for `paper`) and
/// the FLOPs of one forward pass.
pub fn run(args: Args) -> anyhow::Result<()> {
    let config = AdammConfig::preset(&args.preset)?;
    let multiple = config.size_multiple();
    if args.window == 0 || !args.window.is_multiple_of(multiple) {
        anyhow::bail!(
            "--window {} must be a positive multiple of {multiple}",
            args.window
        );
    }
    let p = ParameterBreakdown::of(&config, &Device::flex())
        .context("building the network to count its parameters")?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "preset {}: base width {}, depth {}, blocks {:?}, adapter hidden {}, {} graph nodes",
        args.preset,
        config.base_width,
        config.depth,
        config.blocks_per_level,
        config.adapter_hidden,
        config.graph_nodes
    )?;
    writeln!(out)?;
    let paper = args.preset == "paper";
    let row = |name: &str, ours: usize, theirs: Option<usize>| match theirs {
        Some(t) if paper => format!(
            "{name:<28} {ours:>12}   authors {t:>12}   {}",
            percent(ours, t)
        ),
        _ => format!("{name:<28} {ours:>12}"),
    };
    writeln!(out, "parameters")?;
    let rows = [
        row("  backbone", p.backbone, Some(authors::BACKBONE)),
        row("  adapter entry", p.entry, Some(authors::ENTRY)),
        row(
            &format!("  adapter bank ({} entries)", p.bank_entries),
            p.bank,
            Some(authors::BANK_ENTRIES * authors::ENTRY),
        ),
        row("  GARM", p.garm, Some(authors::GARM)),
        row("  presence head", p.presence, Some(authors::PRESENCE)),
        row("  student total", p.total, Some(authors::TOTAL)),
        row("  teacher total", p.teacher(), None),
    ];
    for line in rows {
        writeln!(out, "{line}")?;
    }
    if paper {
        writeln!(
            out,
            "  (the authors' GARM registers {} parameters their forward never uses; ours has none)",
            authors::GARM_UNUSED
        )?;
    }
    let w = args.window;
    let flops = forward_flops(&config, [w; 3]);
    writeln!(out)?;
    writeln!(out, "FLOPs of one forward pass on a {w}³ window")?;
    writeln!(
        out,
        "  all four modalities   {:>8.1} GFLOP",
        flops.full / 1e9
    )?;
    writeln!(
        out,
        "  partial combination   {:>8.1} GFLOP",
        flops.partial / 1e9
    )?;
    Ok(())
}
