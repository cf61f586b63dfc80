//! `adamm train`: teacher and student trained jointly on a folder of BraTS cases.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use adamm_model::alloc::{release_freed_memory, RELEASE_EVERY_ITERATIONS};
use adamm_train::run::{self, Observer, Outcome, RunOptions};
use adamm_train::{RunPaths, StepLog, TrainConfig, ValidationLog};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::device::parse_devices;

/// Arguments of `adamm train`.
#[derive(clap::Args)]
pub struct Args {
    /// Folder of BraTS-layout cases (all four modalities and a segmentation each).
    #[arg(long, required_unless_present = "resume")]
    data: Option<PathBuf>,
    /// Run folder (created): config, split, logs, checkpoint, best student, plots.
    #[arg(long, conflicts_with = "resume")]
    run: Option<PathBuf>,
    /// Continue the run in this folder from its checkpoint, bit for bit.
    #[arg(long, value_name = "RUN")]
    resume: Option<PathBuf>,
    /// Starting configuration (JSON, as the run's config.json); flags override it.
    #[arg(long, value_name = "JSON")]
    config: Option<PathBuf>,
    /// Preset when no --config is given: light (CPU-sized, 2 mm) or paper.
    #[arg(long, default_value = "light")]
    preset: String,
    /// Total iterations (the poly learning-rate decay ends here).
    #[arg(long)]
    iterations: Option<usize>,
    /// Patch size on the network grid, e.g. 48 or 48,48,48 (x,y,z).
    #[arg(long)]
    patch: Option<String>,
    /// Patches per iteration and device.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Adam learning rate (default 1e-4, the authors').
    #[arg(long)]
    lr: Option<f64>,
    /// Train the student alone with modality dropout (no teacher, no distillation).
    #[arg(long)]
    no_teacher: bool,
    /// Seed of the split, weights, patches, combinations and dropout.
    #[arg(long)]
    seed: Option<u64>,
    /// Cases held out for validation.
    #[arg(long)]
    val_cases: Option<usize>,
    /// Validate every N iterations.
    #[arg(long)]
    val_every: Option<usize>,
    /// Write a checkpoint every N iterations.
    #[arg(long)]
    checkpoint_every: Option<usize>,
    /// Stop with a checkpoint after this many iterations in total (resume later).
    #[arg(long)]
    stop_after: Option<usize>,
    /// Cache of preprocessed cases (default: <run>/cache); share it between runs.
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Device(s): cpu, wgpu[:N], cuda[:N]; comma-separated for data-parallel training.
    #[arg(long, default_value = "cpu")]
    device: String,
}

fn parse_patch(s: &str) -> anyhow::Result<[usize; 3]> {
    let v: Vec<usize> = s
        .split(',')
        .map(|p| p.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("--patch {s:?}: expected N or X,Y,Z"))?;
    match v.as_slice() {
        [n] => Ok([*n; 3]),
        [x, y, z] => Ok([*x, *y, *z]),
        _ => anyhow::bail!("--patch {s:?}: expected N or X,Y,Z"),
    }
}

impl Args {
    fn apply(&self, c: &mut TrainConfig) -> anyhow::Result<()> {
        if let Some(v) = self.iterations {
            c.iterations = v;
        }
        if let Some(p) = &self.patch {
            c.sampler.patch = parse_patch(p)?;
        }
        if let Some(v) = self.batch_size {
            c.batch_size = v;
        }
        if let Some(v) = self.lr {
            c.learning_rate = v;
            c.discriminator_learning_rate = v;
        }
        if self.no_teacher {
            c.distillation = false;
        }
        if let Some(v) = self.seed {
            c.seed = v;
        }
        if let Some(v) = self.val_cases {
            c.validation_cases = v;
        }
        if let Some(v) = self.val_every {
            c.validation_every = v;
        }
        if let Some(v) = self.checkpoint_every {
            c.checkpoint_every = v;
        }
        Ok(())
    }
}

/// Progress bar with the loss terms, iterations/s and the last validation.
struct Bar {
    bar: ProgressBar,
    started: Instant,
    first: usize,
    last_val: String,
    loading: Option<ProgressBar>,
}

impl Observer for Bar {
    fn loading(&mut self, done: usize, total: usize) {
        let bar = self.loading.get_or_insert_with(|| {
            let b = ProgressBar::new(total as u64);
            b.set_style(
                ProgressStyle::with_template("loading cases {bar:30} {pos}/{len} [{elapsed}]")
                    .expect("valid template"),
            );
            b
        });
        bar.set_position(done as u64);
        if done == total {
            bar.finish();
        }
    }
    fn started(&mut self, iteration: usize, total: usize) {
        self.bar.set_length(total as u64);
        self.bar.set_position(iteration as u64);
        self.first = iteration;
        self.started = Instant::now();
    }
    fn step(&mut self, s: &StepLog) {
        let rate = (s.iteration - self.first) as f64 / self.started.elapsed().as_secs_f64();
        self.bar.set_position(s.iteration as u64);
        self.bar.set_message(format!(
            "{:.2} it/s | {} | loss {:.3} (T dice {:.3}, S dice {:.3}, mse {:.4}) | {}",
            rate,
            s.combination.code(),
            s.terms[0],
            s.terms[1],
            s.terms[2],
            s.terms[3],
            self.last_val
        ));
        // This binary's allocator keeps freed pages and, over many iterations, would keep
        // taking new ones: hand them back now and then (see `adamm_model::alloc`).
        if s.iteration.is_multiple_of(RELEASE_EVERY_ITERATIONS) {
            release_freed_memory();
        }
    }
    fn validated(&mut self, v: &ValidationLog, best: bool) {
        self.last_val = format!(
            "val Dice WT {:.3} TC {:.3} ET {:.3}{}",
            v.dice[0],
            v.dice[1],
            v.dice[2],
            if best { " (best)" } else { "" }
        );
        self.bar
            .println(format!("iteration {}: {}", v.iteration, self.last_val));
    }
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let devices = parse_devices(&args.device)?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                // A second Ctrl-C: give up without the checkpoint.
                std::process::exit(130);
            }
            eprintln!(
                "\nstopping after this iteration (writing a checkpoint; Ctrl-C again to abort)"
            );
        })
        .context("installing the Ctrl-C handler")?;
    }
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
        loading: None,
    };
    let (paths, outcome) = if let Some(dir) = &args.resume {
        let paths = RunPaths::new(dir);
        let data_record: run::DataRecord = adamm_train::json::load(&paths.data())
            .with_context(|| format!("{} is not a run folder", dir.display()))?;
        let data = args.data.clone().unwrap_or(data_record.folder);
        let cache = args.cache.clone().unwrap_or(data_record.cache);
        let options = RunOptions {
            data: &data,
            cache: &cache,
            devices: &devices,
            stop_after: args.stop_after,
            stop: &stop,
        };
        let mut bad = None;
        let outcome = run::resume(
            &paths,
            |c| {
                if let Err(e) = args.apply(c) {
                    bad = Some(e);
                }
            },
            &options,
            &mut observer,
        );
        if let Some(e) = bad {
            return Err(e);
        }
        (paths, outcome?)
    } else {
        let data = args.data.clone().context("--data is required")?;
        let run_dir = args
            .run
            .clone()
            .context("--run is required for a new run")?;
        let mut config = match &args.config {
            Some(p) => TrainConfig::load(p)?,
            None => TrainConfig::preset(&args.preset)?,
        };
        args.apply(&mut config)?;
        let paths = RunPaths::new(&run_dir);
        let cache = args.cache.clone().unwrap_or_else(|| run_dir.join("cache"));
        let options = RunOptions {
            data: &data,
            cache: &cache,
            devices: &devices,
            stop_after: args.stop_after,
            stop: &stop,
        };
        let outcome = run::start(&paths, config, &options, &mut observer)?;
        (paths, outcome)
    };
    observer.bar.finish();
    let elapsed = observer.started.elapsed().as_secs_f64();
    let mut out = std::io::stdout().lock();
    let (what, it) = match outcome {
        Outcome::Finished { iteration } => ("finished", iteration),
        Outcome::Stopped { iteration } => ("stopped", iteration),
    };
    let done = it.saturating_sub(observer.first);
    writeln!(
        out,
        "{what} at iteration {it}: {done} iterations in {elapsed:.0} s ({:.3} it/s)",
        done as f64 / elapsed.max(1e-9)
    )?;
    if let Ok(best) = std::fs::metadata(paths.best_student()) {
        writeln!(
            out,
            "best student: {} ({} bytes); curves: {}; checkpoint: {}",
            paths.best_student().display(),
            best.len(),
            paths.curves().display(),
            paths.checkpoint().display()
        )?;
    }
    if what == "stopped" {
        writeln!(
            out,
            "resume with: adamm train --resume {}",
            paths.root.display()
        )?;
    }
    Ok(())
}
