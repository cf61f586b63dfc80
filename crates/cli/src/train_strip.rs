//! `adamm train-strip`: the brain-extraction network trained on synthetic heads only.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use adamm_model::alloc::{release_freed_memory, RELEASE_EVERY_ITERATIONS};
use adamm_synth::head::HeadAnatomy;
use adamm_train::strip::{
    resume_strip, start_strip, StripObserver, StripRunOptions, StripStep, StripTrainConfig,
    StripValidation,
};
use adamm_train::RunPaths;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::device::parse_one;

/// Arguments of `adamm train-strip`.
#[derive(clap::Args)]
pub struct Args {
    /// The run folder (created for a new run; with --resume, the run to continue).
    #[arg(long)]
    run: PathBuf,
    /// Optimiser steps in total, one synthetic head each (default for a new run: 20000).
    #[arg(long)]
    iterations: Option<usize>,
    /// Stop with a checkpoint after this many iterations in total (resume later).
    #[arg(long)]
    stop_after: Option<usize>,
    /// Continue the run in --run from its checkpoint.
    #[arg(long)]
    resume: bool,
    /// With --resume: the learning rate from the checkpoint on (a step decay; every
    /// iteration's rate is in the run's log.csv).
    #[arg(long)]
    lr: Option<f64>,
    /// Seed of a new run.
    #[arg(long)]
    seed: Option<u64>,
    /// Folder of the training head anatomies (default: data/heads of this repository).
    #[arg(long)]
    heads: Option<PathBuf>,
    /// Device: cpu, wgpu[:N], cuda[:N].
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// Progress bar with the loss and the last validation Dice.
struct Bar {
    bar: ProgressBar,
    started: Instant,
    first: usize,
    last_val: String,
}

impl StripObserver for Bar {
    fn started(&mut self, iteration: usize, total: usize) {
        self.bar.set_length(total as u64);
        self.bar.set_position(iteration as u64);
        self.first = iteration;
        self.started = Instant::now();
    }
    fn step(&mut self, s: &StripStep) {
        let rate = (s.iteration - self.first) as f64 / self.started.elapsed().as_secs_f64();
        self.bar.set_position(s.iteration as u64);
        self.bar.set_message(format!(
            "{rate:.2} it/s | {} | loss {:.3} (dice {:.3}, bce {:.3}) | {}",
            s.anatomy, s.loss, s.dice_loss, s.bce, self.last_val
        ));
        if s.iteration.is_multiple_of(RELEASE_EVERY_ITERATIONS) {
            release_freed_memory();
        }
    }
    fn validated(&mut self, v: &StripValidation, best: bool) {
        self.last_val = format!(
            "val brain Dice {:.4}{}",
            v.dice,
            if best { " (best)" } else { "" }
        );
        self.bar
            .println(format!("iteration {}: {}", v.iteration, self.last_val));
    }
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let device = parse_one(&args.device)?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!(
                "\nstopping after this iteration (writing a checkpoint; Ctrl-C again to abort)"
            );
        })
        .context("installing the Ctrl-C handler")?;
    }
    let heads = args.heads.clone().unwrap_or_else(HeadAnatomy::default_dir);
    let options = StripRunOptions {
        heads: &heads,
        device: &device,
        stop_after: args.stop_after,
        stop: &stop,
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed} < {eta}] {msg}")
            .expect("valid template"),
    );
    let mut observer = Bar {
        bar,
        started: Instant::now(),
        first: 0,
        last_val: String::new(),
    };
    let paths = RunPaths::new(&args.run);
    let (it, finished) = if args.resume {
        anyhow::ensure!(
            args.seed.is_none(),
            "--seed cannot change when resuming (the run's seed is in its config.json)"
        );
        anyhow::ensure!(
            paths.config().exists(),
            "{} is not a brain-extraction run folder (no config.json)",
            args.run.display()
        );
        resume_strip(&paths, args.iterations, args.lr, &options, &mut observer)?
    } else {
        anyhow::ensure!(
            args.lr.is_none(),
            "--lr is for --resume (a new run starts at the configured rate)"
        );
        let mut config = StripTrainConfig::default();
        if let Some(n) = args.iterations {
            config.iterations = n;
        }
        if let Some(s) = args.seed {
            config.seed = s;
        }
        start_strip(&paths, config, &options, &mut observer)?
    };
    observer.bar.finish();
    let elapsed = observer.started.elapsed().as_secs_f64();
    let done = it.saturating_sub(observer.first);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} at iteration {it}: {done} iterations in {elapsed:.0} s ({:.3} it/s)",
        if finished { "finished" } else { "stopped" },
        done as f64 / elapsed.max(1e-9)
    )?;
    if let Ok(best) = std::fs::metadata(paths.best_strip()) {
        writeln!(
            out,
            "best network: {} ({} bytes; copy it to public/models/adamm-strip.bpk for \
             `adamm strip`)",
            paths.best_strip().display(),
            best.len()
        )?;
    }
    if !finished {
        writeln!(
            out,
            "resume with: adamm train-strip --run {} --resume",
            paths.root.display()
        )?;
    }
    Ok(())
}
