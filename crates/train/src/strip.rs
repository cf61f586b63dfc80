//! Training the brain-extraction network ([`adamm_model::StripNet`]) on synthetic heads only.
//!
//! Every iteration generates a fresh head image of random contrast
//! (`adamm_synth::head::generate_head`, seed [`head_seed`] from the run seed and the iteration,
//! anatomy rotating over `adamm_synth::head::TRAINING_HEADS`; the held-out head is never
//! loaded), brings it to the network's grid exactly as inference does
//! ([`adamm_model::prepare_strip_input`]; the brain mask by nearest voxel), and takes one Adam
//! step on soft Dice + `bce_weight` · binary cross-entropy. Validation every
//! `validation_every` iterations runs the whole inference path (grid, network, back to the
//! head's grid, largest component, holes filled) on a fixed set of heads drawn from
//! `validation_seed` and scores the mask's Dice against the generator's; the best network is
//! written as `best-strip.bpk` (half precision, its working grid recorded: the file to copy to
//! `public/models/adamm-strip.bpk`). Checkpoints (`checkpoint/`: weights, Adam state,
//! `state.json`) resume bit for bit: nothing random is drawn but from `(seed, iteration)`.
//!
//! A run folder holds `config.json`, `log.csv` (iteration, learning rate, loss, Dice loss,
//! BCE, anatomy, seconds), `validation.csv` (iteration, Dice), `checkpoint/` and
//! `best-strip.bpk`.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use adamm_model::burn::module::Module;
use adamm_model::burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use adamm_model::burn::tensor::{Device, Tensor, TensorData};
use adamm_model::loss::{presence_bce, soft_dice};
use adamm_model::{
    prepare_strip_input, strip_mask, Precision, StripGrid, StripNet, StripNetConfig,
};
use adamm_synth::head::{generate_head, HeadAnatomy, HeadOptions, SynthHead, TRAINING_HEADS};
use adamm_volume::nifti_io::{Datatype, Header};
use adamm_volume::Volume;
use serde::{Deserialize, Serialize};

use crate::error::TrainError;
use crate::trainer::{dice, mix, RunPaths};

/// Every setting of a brain-extraction run (`config.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StripTrainConfig {
    /// The network.
    pub network: StripNetConfig,
    /// The network's working grid, also the generated heads' grid: 96 × 112 × 96 voxels of
    /// 2 mm by default.
    pub grid: [usize; 3],
    /// Voxel size of the grid, mm. Default: 2.
    pub voxel_mm: f64,
    /// Seed of the run (weights, training heads). Default: 1.
    pub seed: u64,
    /// Optimiser steps (one head each). Default: 20,000.
    pub iterations: usize,
    /// Adam learning rate. Default: 1e-3.
    pub learning_rate: f64,
    /// Weight of the binary cross-entropy beside the soft Dice loss. Default: 1.
    pub bce_weight: f64,
    /// Validate every this many iterations (and after the last). Default: 500.
    pub validation_every: usize,
    /// Number of validation heads. Default: 6.
    pub validation_heads: usize,
    /// Seed of the validation heads, apart from the run's. Default: 0x005E_A10F_DA7A.
    pub validation_seed: u64,
    /// Write a checkpoint every this many iterations (and on stopping). Default: 250.
    pub checkpoint_every: usize,
}

impl Default for StripTrainConfig {
    fn default() -> Self {
        StripTrainConfig {
            network: StripNetConfig::new(),
            grid: adamm_synth::head::HEAD_GRID_DIMS,
            voxel_mm: adamm_synth::head::HEAD_VOXEL_MM,
            seed: 1,
            iterations: 20_000,
            learning_rate: 1e-3,
            bce_weight: 1.0,
            validation_every: 500,
            validation_heads: 6,
            validation_seed: 0x005E_A10F_DA7A,
            checkpoint_every: 250,
        }
    }
}

impl StripTrainConfig {
    /// The working grid.
    pub fn strip_grid(&self) -> StripGrid {
        StripGrid {
            dims: self.grid,
            voxel_mm: self.voxel_mm,
        }
    }

    /// The generated heads' options: the working grid, random deformation and acquisition.
    pub fn head_options(&self) -> HeadOptions {
        HeadOptions {
            dims: self.grid,
            voxel_mm: self.voxel_mm,
            ..HeadOptions::default()
        }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: &str| Err(TrainError::Invalid(m.into()));
        self.network
            .validate()
            .map_err(|e| TrainError::Invalid(e.to_string()))?;
        if self.grid.iter().any(|&d| d < 2) {
            return bad("the grid needs at least 2 voxels along each axis");
        }
        if !(self.voxel_mm.is_finite() && self.voxel_mm > 0.0) {
            return bad("voxel_mm must be positive");
        }
        if self.iterations == 0 || self.validation_every == 0 || self.checkpoint_every == 0 {
            return bad("iterations, validation_every and checkpoint_every must be positive");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad("the learning rate must be positive");
        }
        if !(self.bce_weight.is_finite() && self.bce_weight >= 0.0) {
            return bad("bce_weight must be 0 or more");
        }
        Ok(())
    }

    /// Whether `other` trains the same thing (it may differ in iterations, learning rate (a
    /// step decay on resuming), validation and checkpoint intervals only).
    pub fn same_training(&self, other: &StripTrainConfig) -> bool {
        let norm = |c: &StripTrainConfig| StripTrainConfig {
            iterations: 0,
            learning_rate: 1.0,
            validation_every: 1,
            checkpoint_every: 1,
            ..c.clone()
        };
        norm(self) == norm(other)
    }
}

/// The seed of the training head of `iteration` (0-based).
pub fn head_seed(seed: u64, iteration: usize) -> u64 {
    mix(seed, iteration as u64, 0x57A1_9EAD)
}

/// The training anatomy of `iteration`: [`TRAINING_HEADS`] in turn.
pub fn head_anatomy(iteration: usize) -> usize {
    iteration % TRAINING_HEADS.len()
}

/// The training head anatomies (never the held-out one: [`HeadAnatomy::load`] refuses it).
pub fn load_training_heads(dir: &Path) -> Result<Vec<HeadAnatomy>, TrainError> {
    TRAINING_HEADS
        .iter()
        .map(|name| {
            HeadAnatomy::load(dir, name)
                .map_err(|e| TrainError::Invalid(format!("loading head anatomy {name}: {e}")))
        })
        .collect()
}

/// A generated head as the image and mask volumes a scan and its mask would be.
fn head_volumes(head: &SynthHead) -> Result<(Volume, Volume), TrainError> {
    let bad = |e: adamm_volume::VolumeError| TrainError::Invalid(e.to_string());
    let image = Volume::new(head.image.clone(), head.header()).map_err(bad)?;
    let mask: Vec<f32> = head
        .brain_mask
        .iter()
        .map(|&b| f32::from(u8::from(b)))
        .collect();
    let mask = Volume::new(
        mask,
        Header::from_affine(head.dims, Datatype::U8, &head.world_from_voxel),
    )
    .map_err(bad)?;
    Ok((image, mask))
}

/// What one iteration did.
#[derive(Debug, Clone, PartialEq)]
pub struct StripStep {
    /// The iteration just finished (1-based).
    pub iteration: usize,
    /// The loss (Dice loss + weighted BCE).
    pub loss: f64,
    /// Its soft Dice part.
    pub dice_loss: f64,
    /// Its BCE part (unweighted).
    pub bce: f64,
    /// The head anatomy's name.
    pub anatomy: String,
    /// Wall time, seconds.
    pub seconds: f64,
}

/// One validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StripValidation {
    /// Iteration validated.
    pub iteration: usize,
    /// Mean Dice of the brain mask over the validation heads, on their own grids.
    pub dice: f64,
}

/// The checkpoint's bookkeeping (`state.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StripState {
    /// Optimiser steps done.
    pub iteration: usize,
    /// Best validation so far.
    pub best: Option<StripValidation>,
    /// The configuration.
    pub config: StripTrainConfig,
}

/// The network, its optimiser and the head anatomies.
pub struct StripTrainer {
    config: StripTrainConfig,
    device: Device,
    net: StripNet,
    optim: ModuleOptimizer,
    heads: Vec<HeadAnatomy>,
    iteration: usize,
    best: Option<StripValidation>,
}

fn scalar(t: Tensor<1>) -> Result<f64, TrainError> {
    let v = t
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| TrainError::Invalid(format!("reading a loss value: {e:?}")))?;
    Ok(f64::from(v.first().copied().unwrap_or(f32::NAN)))
}

fn model_err(e: adamm_model::ModelError) -> TrainError {
    TrainError::Invalid(e.to_string())
}

impl StripTrainer {
    /// A fresh network for `config` on `device` (autodiff turned on here), trained on `heads`
    /// (in [`TRAINING_HEADS`] order, [`load_training_heads`]).
    pub fn new(
        config: StripTrainConfig,
        device: &Device,
        heads: Vec<HeadAnatomy>,
    ) -> Result<StripTrainer, TrainError> {
        config.validate()?;
        if heads.is_empty() || heads.iter().any(HeadAnatomy::is_held_out) {
            return Err(TrainError::Invalid(
                "training needs the training head anatomies (never the held-out one)".into(),
            ));
        }
        let device = device.clone().autodiff();
        device.seed(config.seed);
        let net = config.network.init(&device).map_err(model_err)?;
        Ok(StripTrainer {
            config,
            device,
            net,
            optim: AdamConfig::new().init(),
            heads,
            iteration: 0,
            best: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &StripTrainConfig {
        &self.config
    }

    /// Steps done.
    pub fn iteration(&self) -> usize {
        self.iteration
    }

    /// The best validation so far.
    pub fn best(&self) -> Option<&StripValidation> {
        self.best.as_ref()
    }

    /// The network being trained.
    pub fn net(&self) -> &StripNet {
        &self.net
    }

    /// One optimiser step on the head of this iteration.
    pub fn step(&mut self) -> Result<StripStep, TrainError> {
        let start = std::time::Instant::now();
        let it = self.iteration;
        let anatomy = &self.heads[head_anatomy(it) % self.heads.len()];
        let head = generate_head(
            anatomy,
            head_seed(self.config.seed, it),
            &self.config.head_options(),
        );
        let (image, mask) = head_volumes(&head)?;
        let prepared = prepare_strip_input(&image, self.config.strip_grid()).map_err(model_err)?;
        let target = prepared.mask_from_native(&mask).map_err(model_err)?;
        let [nx, ny, nz] = prepared.grid.dims;
        let n = nx * ny * nz;
        self.device.seed(mix(self.config.seed, it as u64, 1));
        let x = Tensor::<5>::from_data(
            TensorData::new(prepared.image, [1, 1, nz, ny, nx]),
            &self.device,
        );
        let y: Vec<f32> = target.iter().map(|&b| f32::from(u8::from(b))).collect();
        let y = Tensor::<2>::from_data(TensorData::new(y, [1, n]), &self.device);
        let logits = self.net.forward(x).reshape([1, n]);
        let p = adamm_model::burn::tensor::activation::sigmoid(logits.clone());
        let dice_loss = soft_dice(p, y.clone(), 1.0).mean();
        let bce = presence_bce(logits, y);
        let loss = dice_loss.clone() + bce.clone().mul_scalar(self.config.bce_weight);
        let values = (scalar(loss.clone())?, scalar(dice_loss)?, scalar(bce)?);
        if !values.0.is_finite() {
            return Err(TrainError::Invalid(format!(
                "the loss became {} at iteration {}: lower the learning rate",
                values.0,
                it + 1
            )));
        }
        let grads = GradientsParams::from_grads(loss.backward(), &self.net);
        self.net = self
            .optim
            .step(self.config.learning_rate, self.net.clone(), grads);
        self.iteration += 1;
        Ok(StripStep {
            iteration: self.iteration,
            loss: values.0,
            dice_loss: values.1,
            bce: values.2,
            anatomy: anatomy.name().to_string(),
            seconds: start.elapsed().as_secs_f64(),
        })
    }

    /// The validation heads of this configuration: `validation_heads` heads from
    /// `validation_seed`, the anatomies in turn.
    pub fn validation_heads(&self) -> Vec<SynthHead> {
        (0..self.config.validation_heads)
            .map(|k| {
                generate_head(
                    &self.heads[k % self.heads.len()],
                    mix(self.config.validation_seed, k as u64, 0x7A11),
                    &self.config.head_options(),
                )
            })
            .collect()
    }

    /// Mean Dice of the brain masks the full inference path gives on `heads` (their own
    /// grids); recorded as the best if it beats the previous best.
    pub fn validate(&mut self, heads: &[SynthHead]) -> Result<(StripValidation, bool), TrainError> {
        let device = self.device.clone().without_autodiff();
        let net = self.net.valid();
        let mut sum = 0.0;
        for head in heads {
            let (image, _) = head_volumes(head)?;
            let mask =
                strip_mask(&net, &image, self.config.strip_grid(), &device).map_err(model_err)?;
            sum += dice(&mask, &head.brain_mask);
        }
        let log = StripValidation {
            iteration: self.iteration,
            dice: sum / heads.len().max(1) as f64,
        };
        let improved = self.best.as_ref().is_none_or(|b| log.dice > b.dice);
        if improved {
            self.best = Some(log.clone());
        }
        Ok((log, improved))
    }

    /// Writes the checkpoint into `dir` (replaced as a whole: written beside it, then renamed).
    pub fn save_checkpoint(&self, dir: &Path) -> Result<(), TrainError> {
        let tmp = dir.with_extension("partial");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
        let write = |name: &str, bytes: &[u8]| {
            let p = tmp.join(name);
            std::fs::write(&p, bytes).map_err(|e| TrainError::io(&p, e))
        };
        write(
            "strip.bpk",
            &self
                .net
                .to_bytes(Precision::F32, self.config.strip_grid())
                .map_err(model_err)?,
        )?;
        write(
            "optim.bpk",
            &self
                .optim
                .into_bytes()
                .map_err(|e| TrainError::Invalid(format!("saving optimiser state: {e}")))?,
        )?;
        let state = StripState {
            iteration: self.iteration,
            best: self.best.clone(),
            config: self.config.clone(),
        };
        crate::json::save(&tmp.join("state.json"), &state)?;
        let old = dir.with_extension("old");
        if dir.exists() {
            if old.exists() {
                std::fs::remove_dir_all(&old).map_err(|e| TrainError::io(&old, e))?;
            }
            std::fs::rename(dir, &old).map_err(|e| TrainError::io(dir, e))?;
        }
        std::fs::rename(&tmp, dir).map_err(|e| TrainError::io(dir, e))?;
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| TrainError::io(&old, e))?;
        }
        Ok(())
    }

    /// Restores a trainer from a checkpoint written by [`StripTrainer::save_checkpoint`] for
    /// `config`; refuses a checkpoint of another configuration or a damaged one.
    pub fn load_checkpoint(
        config: StripTrainConfig,
        device: &Device,
        heads: Vec<HeadAnatomy>,
        dir: &Path,
    ) -> Result<StripTrainer, TrainError> {
        let bad = |detail: String| TrainError::Checkpoint {
            path: dir.to_path_buf(),
            detail,
        };
        let read = |name: &str| -> Result<Vec<u8>, TrainError> {
            let p = dir.join(name);
            std::fs::read(&p).map_err(|e| bad(format!("{name}: {e}")))
        };
        let state: StripState = serde_json::from_slice(&read("state.json")?)
            .map_err(|e| bad(format!("state.json: {e}")))?;
        if !state.config.same_training(&config) {
            return Err(bad(
                "it was written by a run with another configuration".into()
            ));
        }
        let mut trainer = StripTrainer::new(config, device, heads)?;
        trainer.net = StripNet::from_bytes(
            &trainer.config.network,
            &read("strip.bpk")?,
            &trainer.device,
        )
        .map_err(|e| bad(format!("strip.bpk: {e}")))?;
        trainer.optim = AdamConfig::new()
            .init()
            .from_bytes(adamm_model::burn::tensor::Bytes::from_bytes_vec(read(
                "optim.bpk",
            )?))
            .map_err(|e| bad(format!("optim.bpk: {e}")))?;
        trainer.iteration = state.iteration;
        trainer.best = state.best;
        Ok(trainer)
    }
}

/// Receives what a run does, to show it.
pub trait StripObserver {
    /// The loop starts at `iteration` of `total`.
    fn started(&mut self, _iteration: usize, _total: usize) {}
    /// An iteration finished.
    fn step(&mut self, _log: &StripStep) {}
    /// A validation finished; `best` if it is the best so far.
    fn validated(&mut self, _log: &StripValidation, _best: bool) {}
}

/// An observer that shows nothing.
pub struct QuietStrip;
impl StripObserver for QuietStrip {}

/// The options of one invocation (not part of the run's configuration).
pub struct StripRunOptions<'a> {
    /// Folder of the training head anatomies (`adamm_synth::head::HeadAnatomy::default_dir`).
    pub heads: &'a Path,
    /// Device to train on.
    pub device: &'a Device,
    /// Stop (with a checkpoint) after this many iterations in total.
    pub stop_after: Option<usize>,
    /// Set from outside (Ctrl-C) to stop with a checkpoint after the current iteration.
    pub stop: &'a AtomicBool,
}

/// Starts a new run in `paths.root` (refused if it already holds one). Returns the
/// iterations done and whether the run finished.
pub fn start_strip(
    paths: &RunPaths,
    config: StripTrainConfig,
    options: &StripRunOptions,
    observer: &mut dyn StripObserver,
) -> Result<(usize, bool), TrainError> {
    config.validate()?;
    if paths.config().exists() {
        return Err(TrainError::Invalid(format!(
            "{} already holds a run (config.json): resume it with --resume, or choose a new \
             folder",
            paths.root.display()
        )));
    }
    let heads = load_training_heads(options.heads)?;
    std::fs::create_dir_all(&paths.root).map_err(|e| TrainError::io(&paths.root, e))?;
    crate::json::save(&paths.config(), &config)?;
    let trainer = StripTrainer::new(config, options.device, heads)?;
    drive(paths, trainer, options, observer)
}

/// Resumes the run in `paths.root` from its checkpoint, with `iterations` and the learning rate
/// (from here on) changed if given.
pub fn resume_strip(
    paths: &RunPaths,
    iterations: Option<usize>,
    learning_rate: Option<f64>,
    options: &StripRunOptions,
    observer: &mut dyn StripObserver,
) -> Result<(usize, bool), TrainError> {
    let mut config: StripTrainConfig = crate::json::load(&paths.config())?;
    if iterations.is_some() || learning_rate.is_some() {
        if let Some(n) = iterations {
            config.iterations = n;
        }
        if let Some(lr) = learning_rate {
            config.learning_rate = lr;
        }
        config.validate()?;
        crate::json::save(&paths.config(), &config)?;
    }
    let heads = load_training_heads(options.heads)?;
    let trainer =
        StripTrainer::load_checkpoint(config, options.device, heads, &paths.checkpoint())?;
    drive(paths, trainer, options, observer)
}

fn drive(
    paths: &RunPaths,
    mut trainer: StripTrainer,
    options: &StripRunOptions,
    observer: &mut dyn StripObserver,
) -> Result<(usize, bool), TrainError> {
    let val = trainer.validation_heads();
    let mut log = crate::run::open_csv(
        &paths.log(),
        trainer.iteration(),
        "iteration,learning_rate,loss,dice_loss,bce,anatomy,seconds",
    )?;
    let mut vlog =
        crate::run::open_csv(&paths.validation(), trainer.iteration(), "iteration,dice")?;
    let end = trainer.config().iterations;
    observer.started(trainer.iteration(), end);
    while trainer.iteration() < end {
        let s = trainer.step()?;
        writeln!(
            log,
            "{},{:.6e},{:.6e},{:.6e},{:.6e},{},{:.3}",
            s.iteration,
            trainer.config().learning_rate,
            s.loss,
            s.dice_loss,
            s.bce,
            s.anatomy,
            s.seconds
        )
        .map_err(|e| TrainError::io(paths.log(), e))?;
        observer.step(&s);
        let it = trainer.iteration();
        let last = it == end;
        if it.is_multiple_of(trainer.config().validation_every) || last {
            let (v, best) = trainer.validate(&val)?;
            writeln!(vlog, "{},{:.5}", v.iteration, v.dice)
                .map_err(|e| TrainError::io(paths.validation(), e))?;
            if best {
                trainer
                    .net()
                    .valid()
                    .save(
                        paths.best_strip(),
                        Precision::F16,
                        trainer.config().strip_grid(),
                    )
                    .map_err(model_err)?;
            }
            observer.validated(&v, best);
        }
        let stop =
            options.stop.load(Ordering::SeqCst) || options.stop_after.is_some_and(|s| it >= s);
        if it.is_multiple_of(trainer.config().checkpoint_every) || last || stop {
            trainer.save_checkpoint(&paths.checkpoint())?;
        }
        if stop && !last {
            return Ok((it, false));
        }
    }
    Ok((trainer.iteration(), true))
}
