//! A training run from a folder of BraTS cases to a run folder: split, case cache, the loop,
//! the CSV logs, checkpoints, validation, the best student and the curve plot. The user
//! interface (progress bar, Ctrl-C) is the caller's, through [`Observer`] and a stop flag.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use adamm_model::burn::tensor::Device;
use adamm_model::Precision;
use adamm_synth::Provenance;
use adamm_volume::brats::{discover_cases, CaseFiles};
use serde::{Deserialize, Serialize};

use crate::cache::{cached_case, CasePreparation, TrainingCase};
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::plot::{line_chart, Series};
use crate::split::Split;
use crate::trainer::{RunPaths, StepLog, Trainer, ValidationLog, TERM_NAMES};

/// Receives what a run does, to show it.
pub trait Observer {
    /// `done` of `total` cases loaded (preprocessed or read from the cache).
    fn loading(&mut self, _done: usize, _total: usize) {}
    /// The loop starts at `iteration` of `total`.
    fn started(&mut self, _iteration: usize, _total: usize) {}
    /// An iteration finished.
    fn step(&mut self, _log: &StepLog) {}
    /// A validation finished; `best` if it is the best so far.
    fn validated(&mut self, _log: &ValidationLog, _best: bool) {}
    /// A checkpoint was written after `iteration`.
    fn checkpointed(&mut self, _iteration: usize) {}
}

/// An observer that shows nothing.
pub struct Silent;
impl Observer for Silent {}

/// Where the data came from (`data.json` in the run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataRecord {
    /// The data folder as given.
    pub folder: PathBuf,
    /// The cache folder.
    pub cache: PathBuf,
    /// Number of training cases.
    pub training_cases: usize,
    /// Number of validation cases.
    pub validation_cases: usize,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// All iterations done.
    Finished {
        /// Iterations done.
        iteration: usize,
    },
    /// Stopped early by the stop flag or `stop_after`; a checkpoint was written.
    Stopped {
        /// Iterations done.
        iteration: usize,
    },
}

/// The options of one invocation (not part of the run's configuration).
pub struct RunOptions<'a> {
    /// Folder of BraTS-layout cases.
    pub data: &'a Path,
    /// Cache of preprocessed cases; shared between runs on the same data and grid factor.
    pub cache: &'a Path,
    /// Devices to train on (data parallel when several).
    pub devices: &'a [Device],
    /// Stop (with a checkpoint) after this many iterations in total.
    pub stop_after: Option<usize>,
    /// Set from outside (Ctrl-C) to stop with a checkpoint after the current iteration.
    pub stop: &'a AtomicBool,
}

/// Refuses the set if any case was made on the held-out anatomy (its `synth.json` says so).
fn refuse_held_out(cases: &[CaseFiles]) -> Result<(), TrainError> {
    for case in cases {
        if let Some(p) = Provenance::read(&case.dir)? {
            if p.held_out {
                return Err(TrainError::HeldOutCase {
                    id: case.id.clone(),
                    dir: case.dir.clone(),
                    anatomy: p.anatomy,
                });
            }
        }
    }
    Ok(())
}

/// The cases of the run's data folder, refused if any is of the held-out anatomy.
fn training_cases(data: &Path) -> Result<Vec<CaseFiles>, TrainError> {
    let discovery = discover_cases(data)?;
    refuse_held_out(&discovery.cases)?;
    Ok(discovery.cases)
}

/// Loads the cases of `ids` (found among `cases`, discovered in `data`) through the cache.
#[allow(clippy::too_many_arguments)]
fn load_cases(
    data: &Path,
    cases: &[CaseFiles],
    cache: &Path,
    ids: &[String],
    preparation: CasePreparation,
    observer: &mut dyn Observer,
    offset: usize,
    total: usize,
) -> Result<Vec<TrainingCase>, TrainError> {
    let mut out = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let files = cases.iter().find(|c| &c.id == id).ok_or_else(|| {
            TrainError::Invalid(format!(
                "case {id} of the run's split is not in {} any more",
                data.display()
            ))
        })?;
        out.push(cached_case(cache, files, preparation)?);
        observer.loading(offset + i + 1, total);
    }
    Ok(out)
}

/// Starts a new run in `paths.root` (which must not hold one) with `config`.
pub fn start(
    paths: &RunPaths,
    config: TrainConfig,
    options: &RunOptions,
    observer: &mut dyn Observer,
) -> Result<Outcome, TrainError> {
    config.validate()?;
    if paths.config().exists() {
        return Err(TrainError::Invalid(format!(
            "{} already holds a run (config.json): resume it with --resume, or choose a new \
             folder",
            paths.root.display()
        )));
    }
    let cases = training_cases(options.data)?;
    let ids: Vec<String> = cases.iter().map(|c| c.id.clone()).collect();
    if ids.is_empty() {
        return Err(TrainError::Invalid(format!(
            "no BraTS cases found in {}",
            options.data.display()
        )));
    }
    let split = Split::new(&ids, config.validation_cases, config.seed)?;
    std::fs::create_dir_all(&paths.root).map_err(|e| TrainError::io(&paths.root, e))?;
    config.save(&paths.config())?;
    split.save(&paths.split())?;
    let record = DataRecord {
        folder: options.data.to_path_buf(),
        cache: options.cache.to_path_buf(),
        training_cases: split.train.len(),
        validation_cases: split.val.len(),
    };
    crate::json::save(&paths.data(), &record)?;
    let trainer = Trainer::new(config, options.devices)?;
    drive(paths, trainer, &split, &cases, options, observer)
}

/// Resumes the run in `paths.root` from its checkpoint; `overrides` may change settings that
/// do not alter what has been trained so far (the iteration count, validation and
/// checkpoint intervals), and are saved into the run's config.
pub fn resume(
    paths: &RunPaths,
    overrides: impl FnOnce(&mut TrainConfig),
    options: &RunOptions,
    observer: &mut dyn Observer,
) -> Result<Outcome, TrainError> {
    let saved = TrainConfig::load(&paths.config())?;
    let split = Split::load(&paths.split())?;
    let cases = training_cases(options.data)?;
    let mut config = saved.clone();
    overrides(&mut config);
    if config != saved {
        if !config.same_training(&saved) {
            return Err(TrainError::Invalid(
                "only iterations, validation_every and checkpoint_every can change when resuming"
                    .into(),
            ));
        }
        config.validate()?;
        config.save(&paths.config())?;
    }
    let trainer = Trainer::load_checkpoint(config, options.devices, &paths.checkpoint())?;
    drive(paths, trainer, &split, &cases, options, observer)
}

fn drive(
    paths: &RunPaths,
    mut trainer: Trainer,
    split: &Split,
    cases: &[CaseFiles],
    options: &RunOptions,
    observer: &mut dyn Observer,
) -> Result<Outcome, TrainError> {
    let preparation = CasePreparation {
        factor: trainer.config().network.grid_factor,
        normalization: trainer.config().normalization,
    };
    let total = split.train.len() + split.val.len();
    let train = load_cases(
        options.data,
        cases,
        options.cache,
        &split.train,
        preparation,
        observer,
        0,
        total,
    )?;
    let mut val = load_cases(
        options.data,
        cases,
        options.cache,
        &split.val,
        preparation,
        observer,
        split.train.len(),
        total,
    )?;
    val.truncate(trainer.config().validation_cases);
    let mut log = CsvLog::open(&paths.log(), trainer.iteration())?;
    let mut vlog = ValidationCsv::open(&paths.validation(), trainer.iteration())?;
    let end = trainer.config().iterations;
    observer.started(trainer.iteration(), end);
    while trainer.iteration() < end {
        let step = trainer.step(&train)?;
        log.append(&step)?;
        observer.step(&step);
        let it = trainer.iteration();
        let last = it == end;
        if it.is_multiple_of(trainer.config().validation_every) || last {
            let (v, best) = trainer.validate(&val)?;
            vlog.append(&v)?;
            if best {
                trainer
                    .student()
                    .save_for_inference(
                        paths.best_student(),
                        Precision::F32,
                        trainer.config().inference_settings(),
                    )
                    .map_err(|e| TrainError::Invalid(e.to_string()))?;
            }
            observer.validated(&v, best);
            plot_curves(paths)?;
        }
        let stop =
            options.stop.load(Ordering::SeqCst) || options.stop_after.is_some_and(|s| it >= s);
        if it.is_multiple_of(trainer.config().checkpoint_every) || last || stop {
            trainer.save_checkpoint(&paths.checkpoint())?;
            observer.checkpointed(it);
        }
        if stop && !last {
            return Ok(Outcome::Stopped { iteration: it });
        }
    }
    Ok(Outcome::Finished {
        iteration: trainer.iteration(),
    })
}

/// `log.csv`, reopened on resume with the rows after the checkpoint dropped (they were
/// computed by iterations that the resumed run repeats).
struct CsvLog {
    file: std::fs::File,
    path: PathBuf,
}

fn keep_rows_until(path: &Path, iteration: usize, header: &str) -> Result<(), TrainError> {
    let text = if path.exists() {
        std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?
    } else {
        String::new()
    };
    let mut out = String::from(header);
    out.push('\n');
    for line in text.lines().skip(1) {
        let it: Option<usize> = line.split(',').next().and_then(|v| v.parse().ok());
        if it.is_some_and(|i| i <= iteration) {
            out.push_str(line);
            out.push('\n');
        }
    }
    std::fs::write(path, out).map_err(|e| TrainError::io(path, e))
}

/// Opens the CSV log at `path` for appending, its rows after `iteration` dropped (a resumed
/// run repeats them) and `header` written first (created if missing).
pub(crate) fn open_csv(
    path: &Path,
    iteration: usize,
    header: &str,
) -> Result<std::fs::File, TrainError> {
    keep_rows_until(path, iteration, header)?;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| TrainError::io(path, e))
}

impl CsvLog {
    fn header() -> String {
        format!(
            "iteration,learning_rate,combination,{},seconds",
            TERM_NAMES.join(",")
        )
    }
    fn open(path: &Path, iteration: usize) -> Result<CsvLog, TrainError> {
        keep_rows_until(path, iteration, &CsvLog::header())?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| TrainError::io(path, e))?;
        Ok(CsvLog {
            file,
            path: path.to_path_buf(),
        })
    }
    fn append(&mut self, s: &StepLog) -> Result<(), TrainError> {
        let terms: Vec<String> = s.terms.iter().map(|v| format!("{v:.6e}")).collect();
        writeln!(
            self.file,
            "{},{:.6e},{},{},{:.3}",
            s.iteration,
            s.learning_rate,
            s.combination.code(),
            terms.join(","),
            s.seconds
        )
        .map_err(|e| TrainError::io(&self.path, e))
    }
}

struct ValidationCsv {
    file: std::fs::File,
    path: PathBuf,
}

impl ValidationCsv {
    const HEADER: &'static str = "iteration,dice_wt,dice_tc,dice_et,score";
    fn open(path: &Path, iteration: usize) -> Result<ValidationCsv, TrainError> {
        keep_rows_until(path, iteration, Self::HEADER)?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| TrainError::io(path, e))?;
        Ok(ValidationCsv {
            file,
            path: path.to_path_buf(),
        })
    }
    fn append(&mut self, v: &ValidationLog) -> Result<(), TrainError> {
        writeln!(
            self.file,
            "{},{:.5},{:.5},{:.5},{:.5}",
            v.iteration, v.dice[0], v.dice[1], v.dice[2], v.score
        )
        .map_err(|e| TrainError::io(&self.path, e))
    }
}

fn read_csv(path: &Path) -> Result<(Vec<String>, Vec<Vec<f64>>), TrainError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    let mut lines = text.lines();
    let header = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| {
            l.split(',')
                .map(|v| v.parse().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    Ok((header, rows))
}

/// Redraws `curves.png`: the total and the two Dice losses (moving average over 50
/// iterations) and the validation Dice per region.
pub fn plot_curves(paths: &RunPaths) -> Result<(), TrainError> {
    let (header, rows) = read_csv(&paths.log())?;
    let col = |name: &str| header.iter().position(|h| h == name);
    let mut series = Vec::new();
    for name in ["total", "teacher_dice", "student_dice"] {
        let Some(c) = col(name) else { continue };
        let values: Vec<(f64, f64)> = rows
            .iter()
            .filter_map(|r| Some((*r.first()?, *r.get(c)?)))
            .collect();
        if values.iter().all(|(_, v)| *v == 0.0) {
            continue;
        }
        let window = 50usize;
        let points = values
            .iter()
            .enumerate()
            .map(|(i, &(x, _))| {
                let lo = i.saturating_sub(window - 1);
                let s: f64 = values[lo..=i].iter().map(|p| p.1).sum();
                (x, s / (i - lo + 1) as f64)
            })
            .collect();
        series.push(Series {
            name: format!("{name} loss"),
            points,
        });
    }
    let (_, vrows) = read_csv(&paths.validation())?;
    for (i, name) in [
        "validation Dice WT",
        "validation Dice TC",
        "validation Dice ET",
    ]
    .iter()
    .enumerate()
    {
        series.push(Series {
            name: name.to_string(),
            points: vrows
                .iter()
                .filter_map(|r| Some((*r.first()?, *r.get(i + 1)?)))
                .collect(),
        });
    }
    line_chart(
        &paths.curves(),
        "Training (losses: 50-iteration moving average)",
        "iteration",
        "loss / Dice",
        &series,
        false,
    )
}
