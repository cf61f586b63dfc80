//! The training loop: teacher and student trained jointly (or the student alone), one
//! modality combination per iteration, data-parallel over devices with Burn's own
//! multi-device gradient accumulation (`ModuleOptimizer::step_multi`), checkpoints that
//! resume bit for bit, and validation that keeps the best student.
//!
//! Everything random in an iteration (the patches, their augmentation, the combination and
//! the dropout masks) is derived from `(seed, iteration)` alone, so a run resumed from a
//! checkpoint continues exactly as if it had never stopped. The CPU backends' generator is
//! process-wide: two trainers stepping at once in one process would draw from each other's
//! sequence (the CLI runs one).

use std::path::{Path, PathBuf};

use adamm_model::burn::module::Module;
use adamm_model::burn::optim::{
    decay::WeightDecayConfig, AdamConfig, GradientsParams, ModuleOptimizer, MultiGradientsParams,
};
use adamm_model::burn::tensor::{Device, Tensor, TensorData};
use adamm_model::loss::discriminator_loss;
use adamm_model::{
    mask_modalities, CombinationSampler, LossTerms, Precision, Segmenter, SlidingWindowConfig,
    Student, StyleDiscriminator, StyleDiscriminatorConfig, Targets, Teacher,
};
use adamm_volume::brats::{Availability, Region};
use serde::{Deserialize, Serialize};

use crate::cache::TrainingCase;
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::sampler::{case_index, sample_patch};

/// Names of the logged loss terms, in [`StepLog::terms`] order.
pub const TERM_NAMES: [&str; 12] = [
    "total",
    "teacher_dice",
    "student_dice",
    "consistency",
    "consistency_weight",
    "content",
    "style",
    "cross_gram",
    "teacher_presence",
    "student_presence",
    "adversarial",
    "discriminator",
];

/// What one iteration did.
#[derive(Debug, Clone, PartialEq)]
pub struct StepLog {
    /// The iteration just finished (1-based: the count of optimiser steps so far).
    pub iteration: usize,
    /// Learning rate used.
    pub learning_rate: f64,
    /// The combination the student saw.
    pub combination: Availability,
    /// Loss terms in [`TERM_NAMES`] order, averaged over devices.
    pub terms: [f64; 12],
    /// Wall time of the iteration in seconds.
    pub seconds: f64,
}

/// Mean Dice of one validation pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationLog {
    /// Iteration validated.
    pub iteration: usize,
    /// Mean Dice for WT, TC, ET over the validation cases × combinations (network grid).
    pub dice: [f64; 3],
    /// Mean of the three.
    pub score: f64,
}

/// The checkpoint's bookkeeping (`state.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Optimiser steps done.
    pub iteration: usize,
    /// Best validation so far.
    pub best: Option<ValidationLog>,
    /// The configuration the checkpoint was trained with.
    pub config: TrainConfig,
}

/// The networks, their optimisers and the iteration count.
pub struct Trainer {
    config: TrainConfig,
    devices: Vec<Device>,
    teacher: Option<Teacher>,
    student: Student,
    discriminator: Option<StyleDiscriminator>,
    optim_teacher: ModuleOptimizer,
    optim_student: ModuleOptimizer,
    optim_discriminator: ModuleOptimizer,
    iteration: usize,
    best: Option<ValidationLog>,
}

/// Mixes a seed with up to three counters into a well-spread 64-bit value (SplitMix64).
pub fn mix(seed: u64, a: u64, b: u64) -> u64 {
    let mut z = seed
        .wrapping_add(a.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The combination the student sees at `iteration`: uniform over the 15.
pub fn combination_at(seed: u64, iteration: usize) -> Availability {
    CombinationSampler::new(mix(seed, iteration as u64, 0xC0DE)).sample()
}

fn model_err(e: adamm_model::ModelError) -> TrainError {
    TrainError::Invalid(e.to_string())
}

fn adam(weight_decay: f64) -> ModuleOptimizer {
    let mut config = AdamConfig::new();
    if weight_decay > 0.0 {
        config = config.with_weight_decay(Some(WeightDecayConfig::new(weight_decay as f32)));
    }
    config.init()
}

fn discriminator_config(config: &TrainConfig) -> StyleDiscriminatorConfig {
    StyleDiscriminatorConfig::new(config.network.bottleneck_width())
}

/// Per-device results of one iteration.
struct DeviceStep {
    device: Device,
    teacher: Option<GradientsParams>,
    student: GradientsParams,
    discriminator: Option<GradientsParams>,
    terms: [f64; 12],
}

fn scalar(t: Tensor<1>) -> Result<f64, TrainError> {
    let data = t
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| TrainError::Invalid(format!("reading a loss value: {e:?}")))?;
    Ok(f64::from(data.first().copied().unwrap_or(f32::NAN)))
}

fn term_values(terms: &LossTerms, discriminator: f64) -> Result<[f64; 12], TrainError> {
    Ok([
        scalar(terms.total.clone())?,
        scalar(terms.teacher_dice.clone())?,
        scalar(terms.student_dice.clone())?,
        scalar(terms.consistency.clone())?,
        terms.consistency_weight,
        scalar(terms.content.clone())?,
        scalar(terms.style.clone())?,
        scalar(terms.cross_gram.clone())?,
        scalar(terms.teacher_presence.clone())?,
        scalar(terms.student_presence.clone())?,
        scalar(terms.adversarial.clone())?,
        discriminator,
    ])
}

impl Trainer {
    /// Fresh networks for `config` on `devices` (autodiff is turned on here; the first device
    /// holds the optimiser state). Seeds the first device with `config.seed`.
    pub fn new(config: TrainConfig, devices: &[Device]) -> Result<Trainer, TrainError> {
        config.validate()?;
        let devices: Vec<Device> = devices.iter().map(|d| d.clone().autodiff()).collect();
        let main = devices
            .first()
            .ok_or_else(|| TrainError::Invalid("no device to train on".into()))?
            .clone();
        main.seed(config.seed);
        let student = config.network.init_student(&main).map_err(model_err)?;
        let teacher = if config.distillation {
            Some(config.network.init_teacher(&main).map_err(model_err)?)
        } else {
            None
        };
        let discriminator = (config.distillation && config.adversarial)
            .then(|| discriminator_config(&config).init(&main));
        Ok(Trainer {
            optim_teacher: adam(config.weight_decay),
            optim_student: adam(config.weight_decay),
            optim_discriminator: adam(config.weight_decay),
            config,
            devices,
            teacher,
            student,
            discriminator,
            iteration: 0,
            best: None,
        })
    }

    /// The run's configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Optimiser steps done.
    pub fn iteration(&self) -> usize {
        self.iteration
    }

    /// The best validation so far.
    pub fn best(&self) -> Option<&ValidationLog> {
        self.best.as_ref()
    }

    /// The student being trained.
    pub fn student(&self) -> &Student {
        &self.student
    }

    /// The teacher (none when training without distillation).
    pub fn teacher(&self) -> Option<&Teacher> {
        self.teacher.as_ref()
    }

    fn epoch(&self, cases: usize) -> f64 {
        let per_epoch = if self.config.iterations_per_epoch > 0 {
            self.config.iterations_per_epoch
        } else {
            cases
                .div_ceil(self.config.batch_size * self.devices.len())
                .max(1)
        };
        self.iteration as f64 / per_epoch as f64
    }

    /// One optimiser step on patches of `cases` (all on the network grid).
    pub fn step(&mut self, cases: &[TrainingCase]) -> Result<StepLog, TrainError> {
        if cases.is_empty() {
            return Err(TrainError::Invalid("no training cases".into()));
        }
        let start = std::time::Instant::now();
        let it = self.iteration;
        let combination = combination_at(self.config.seed, it);
        let epoch = self.epoch(cases.len());
        let n = self.devices.len();
        let results: Vec<Result<DeviceStep, TrainError>> = if n == 1 {
            vec![self.device_step(0, combination, epoch, cases)]
        } else {
            let this = &*self;
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..n)
                    .map(|d| s.spawn(move || this.device_step(d, combination, epoch, cases)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(TrainError::Invalid("a device thread panicked".into()))
                        })
                    })
                    .collect()
            })
        };
        let results = results.into_iter().collect::<Result<Vec<_>, _>>()?;
        let mut terms = [0.0; 12];
        for r in &results {
            for (t, v) in terms.iter_mut().zip(r.terms) {
                *t += v / n as f64;
            }
        }
        if !terms[0].is_finite() {
            return Err(TrainError::Invalid(format!(
                "the loss became {} at iteration {}: lower the learning rate or check the data",
                terms[0],
                it + 1
            )));
        }
        let lr = self.config.learning_rate_at(self.config.learning_rate, it);
        let lr_d = self
            .config
            .learning_rate_at(self.config.discriminator_learning_rate, it);
        let mut teacher_grads = Vec::new();
        let mut student_grads = Vec::new();
        let mut disc_grads = Vec::new();
        for r in results {
            if let Some(g) = r.teacher {
                teacher_grads.push((g, r.device.clone()));
            }
            if let Some(g) = r.discriminator {
                disc_grads.push((g, r.device.clone()));
            }
            student_grads.push((r.student, r.device));
        }
        self.student = self.optim_student.step_multi(
            lr,
            self.student.clone(),
            MultiGradientsParams {
                grads: student_grads,
            },
        );
        if let Some(t) = self.teacher.take() {
            self.teacher = Some(self.optim_teacher.step_multi(
                lr,
                t,
                MultiGradientsParams {
                    grads: teacher_grads,
                },
            ));
        }
        if let Some(d) = self.discriminator.take() {
            self.discriminator = Some(self.optim_discriminator.step_multi(
                lr_d,
                d,
                MultiGradientsParams { grads: disc_grads },
            ));
        }
        self.iteration += 1;
        Ok(StepLog {
            iteration: self.iteration,
            learning_rate: lr,
            combination,
            terms,
            seconds: start.elapsed().as_secs_f64(),
        })
    }

    /// Forward and backward of one device's share of the batch; gradients scaled by 1/n so
    /// that their sum over devices is the gradient of the mean loss.
    fn device_step(
        &self,
        d: usize,
        combination: Availability,
        epoch: f64,
        cases: &[TrainingCase],
    ) -> Result<DeviceStep, TrainError> {
        let config = &self.config;
        let device = self.devices[d].clone();
        let it = self.iteration as u64;
        device.seed(mix(config.seed, it, 1 + d as u64));
        let bs = config.batch_size;
        let [px, py, pz] = config.sampler.patch;
        let mut input = Vec::with_capacity(bs * 4 * px * py * pz);
        let mut labels = Vec::with_capacity(bs);
        for b in 0..bs {
            let slot = (d * bs + b) as u64;
            let case = &cases[case_index(config.seed, it, slot, cases.len())];
            let patch = sample_patch(case, &config.sampler, config.seed, it, slot);
            input.extend_from_slice(&patch.input);
            labels.push(patch.labels);
        }
        let x = Tensor::<5>::from_data(TensorData::new(input, [bs, 4, pz, py, px]), &device);
        let label_refs: Vec<&[u8]> = labels.iter().map(Vec::as_slice).collect();
        let targets =
            Targets::from_labels(&label_refs, config.sampler.patch, &device).map_err(model_err)?;
        let scale = 1.0 / self.devices.len() as f64;
        let student = self.student.clone().fork(&device);
        let s = student.forward(mask_modalities(x.clone(), combination), combination);
        match &self.teacher {
            Some(teacher) => {
                let teacher = teacher.clone().fork(&device);
                let disc = self.discriminator.clone().map(|m| m.fork(&device));
                let t = teacher.forward(x);
                let (disc_grads, disc_value) = match &disc {
                    Some(disc) => {
                        let loss = discriminator_loss(disc, t.style.clone(), s.style.clone());
                        let value = scalar(loss.clone())?;
                        let mut g = loss.mul_scalar(scale).backward();
                        (Some(GradientsParams::from_module(&mut g, disc)), value)
                    }
                    None => (None, 0.0),
                };
                let terms = config.loss.compute(&t, &s, &targets, epoch, disc.as_ref());
                let values = term_values(&terms, disc_value)?;
                let mut grads = terms.total.mul_scalar(scale).backward();
                Ok(DeviceStep {
                    teacher: Some(GradientsParams::from_module(&mut grads, &teacher)),
                    student: GradientsParams::from_module(&mut grads, &student),
                    discriminator: disc_grads,
                    terms: values,
                    device,
                })
            }
            None => {
                let terms = config.loss.compute_student_only(&s, &targets);
                let values = term_values(&terms, 0.0)?;
                let mut grads = terms.total.mul_scalar(scale).backward();
                Ok(DeviceStep {
                    teacher: None,
                    student: GradientsParams::from_module(&mut grads, &student),
                    discriminator: None,
                    terms: values,
                    device,
                })
            }
        }
    }

    /// Segments each validation case with `validation_combinations` random combinations (the
    /// same ones at every validation) on the network grid and averages the region Dice.
    /// Records the result as the best if it beats the previous best.
    pub fn validate(
        &mut self,
        cases: &[TrainingCase],
    ) -> Result<(ValidationLog, bool), TrainError> {
        let device = self.devices[0].clone().without_autodiff();
        let window = self.config.validation_window();
        let segmenter = Segmenter::new(
            self.student.clone().valid(),
            SlidingWindowConfig::new()
                .with_window(window)
                .with_overlap(0.25),
            &device,
        )
        .map_err(model_err)?;
        let mut sampler = CombinationSampler::new(mix(self.config.seed, 0x7A11, 0));
        let mut sums = [0.0; 3];
        let mut count = 0usize;
        for case in cases {
            for _ in 0..self.config.validation_combinations.max(1) {
                let code = sampler.sample();
                let seg = segmenter
                    .segment_channels(&case.channels, case.dims, code, |_| {})
                    .map_err(model_err)?;
                let pred = seg.labels(0.5);
                for (s, region) in sums.iter_mut().zip(Region::ALL) {
                    *s += dice(&region.mask(&pred), &region.mask(&case.labels));
                }
                count += 1;
            }
        }
        let dice = sums.map(|s| s / count.max(1) as f64);
        let log = ValidationLog {
            iteration: self.iteration,
            dice,
            score: dice.iter().sum::<f64>() / 3.0,
        };
        let improved = self.best.as_ref().is_none_or(|b| log.score > b.score);
        if improved {
            self.best = Some(log.clone());
        }
        Ok((log, improved))
    }

    /// Folds the batch norms' pending running-statistics updates into their values. Burn's
    /// `RunningState` keeps the last update aside until it is next read, and saving reads the
    /// value without it; `valid()` synchronises the state it shares with the training
    /// network (the returned copy is not needed). Without this a resumed run would lose one
    /// update of every running mean and variance.
    fn sync_running_statistics(&self) {
        let _ = self.student.valid();
        if let Some(t) = &self.teacher {
            let _ = t.valid();
        }
        if let Some(d) = &self.discriminator {
            let _ = d.valid();
        }
    }

    /// Writes the checkpoint into `dir` (replaced atomically: written beside it, then renamed).
    pub fn save_checkpoint(&self, dir: &Path) -> Result<(), TrainError> {
        self.sync_running_statistics();
        let tmp = dir.with_extension("partial");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
        let write = |name: &str, bytes: &[u8]| {
            let p = tmp.join(name);
            std::fs::write(&p, bytes).map_err(|e| TrainError::io(&p, e))
        };
        let werr = |e: adamm_model::ModelError| TrainError::Invalid(e.to_string());
        let oerr = |e: adamm_model::burn::store::RecordError| {
            TrainError::Invalid(format!("saving optimiser state: {e}"))
        };
        write(
            "student.bpk",
            &self.student.to_bytes(Precision::F32).map_err(werr)?,
        )?;
        write(
            "optim-student.bpk",
            &self.optim_student.into_bytes().map_err(oerr)?,
        )?;
        if let Some(t) = &self.teacher {
            write("teacher.bpk", &t.to_bytes(Precision::F32).map_err(werr)?)?;
            write(
                "optim-teacher.bpk",
                &self.optim_teacher.into_bytes().map_err(oerr)?,
            )?;
        }
        if let Some(d) = &self.discriminator {
            write("discriminator.bpk", &d.to_bytes().map_err(werr)?)?;
            write(
                "optim-discriminator.bpk",
                &self.optim_discriminator.into_bytes().map_err(oerr)?,
            )?;
        }
        let state = TrainState {
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

    /// Restores a trainer from a checkpoint written by [`Trainer::save_checkpoint`] for
    /// `config`. A checkpoint of another configuration, or a damaged one, is refused with the
    /// reason.
    pub fn load_checkpoint(
        config: TrainConfig,
        devices: &[Device],
        dir: &Path,
    ) -> Result<Trainer, TrainError> {
        let bad = |detail: String| TrainError::Checkpoint {
            path: dir.to_path_buf(),
            detail,
        };
        let read = |name: &str| -> Result<Vec<u8>, TrainError> {
            let p = dir.join(name);
            std::fs::read(&p).map_err(|e| bad(format!("{name}: {e}")))
        };
        let state: TrainState = serde_json::from_slice(&read("state.json")?)
            .map_err(|e| bad(format!("state.json: {e}")))?;
        if !state.config.same_training(&config) {
            return Err(bad(
                "it was written by a run with another configuration (compare its state.json \
                 with the run's config.json)"
                    .into(),
            ));
        }
        let mut trainer = Trainer::new(config, devices)?;
        let main = trainer.devices[0].clone();
        let net = &trainer.config.network;
        let weights = |name: &str, e: adamm_model::ModelError| bad(format!("{name}: {e}"));
        trainer.student = Student::from_bytes(net, &read("student.bpk")?, &main)
            .map_err(|e| weights("student.bpk", e))?;
        let optim = |o: ModuleOptimizer, name: &str| -> Result<ModuleOptimizer, TrainError> {
            let bytes = read(name)?;
            o.from_bytes(adamm_model::burn::tensor::Bytes::from_bytes_vec(bytes))
                .map_err(|e| bad(format!("{name}: {e}")))
        };
        trainer.optim_student = optim(adam(trainer.config.weight_decay), "optim-student.bpk")?;
        if trainer.teacher.is_some() {
            trainer.teacher = Some(
                Teacher::from_bytes(net, &read("teacher.bpk")?, &main)
                    .map_err(|e| weights("teacher.bpk", e))?,
            );
            trainer.optim_teacher = optim(adam(trainer.config.weight_decay), "optim-teacher.bpk")?;
        }
        if trainer.discriminator.is_some() {
            let config = discriminator_config(&trainer.config);
            trainer.discriminator = Some(
                StyleDiscriminator::from_bytes(&config, &read("discriminator.bpk")?, &main)
                    .map_err(|e| weights("discriminator.bpk", e))?,
            );
            trainer.optim_discriminator =
                optim(adam(trainer.config.weight_decay), "optim-discriminator.bpk")?;
        }
        trainer.iteration = state.iteration;
        trainer.best = state.best;
        Ok(trainer)
    }
}

/// Dice of two masks; 1 when both are empty.
pub fn dice(pred: &[bool], truth: &[bool]) -> f64 {
    let (mut tp, mut p, mut t) = (0usize, 0usize, 0usize);
    for (&a, &b) in pred.iter().zip(truth) {
        tp += usize::from(a && b);
        p += usize::from(a);
        t += usize::from(b);
    }
    if p + t == 0 {
        1.0
    } else {
        2.0 * tp as f64 / (p + t) as f64
    }
}

/// The files of a run folder.
#[derive(Debug, Clone)]
pub struct RunPaths {
    /// The run folder.
    pub root: PathBuf,
}

impl RunPaths {
    /// A run in `root`.
    pub fn new(root: impl Into<PathBuf>) -> RunPaths {
        RunPaths { root: root.into() }
    }
    /// `config.json`: every setting.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.json")
    }
    /// `split.json`: training and validation case ids.
    pub fn split(&self) -> PathBuf {
        self.root.join("split.json")
    }
    /// `log.csv`: every loss term of every iteration.
    pub fn log(&self) -> PathBuf {
        self.root.join("log.csv")
    }
    /// `validation.csv`: the validation Dice over time.
    pub fn validation(&self) -> PathBuf {
        self.root.join("validation.csv")
    }
    /// `checkpoint/`: the latest checkpoint.
    pub fn checkpoint(&self) -> PathBuf {
        self.root.join("checkpoint")
    }
    /// `best-student.bpk`: the student with the best validation score.
    pub fn best_student(&self) -> PathBuf {
        self.root.join("best-student.bpk")
    }
    /// `best-strip.bpk`: a brain-extraction run's best network (half precision, for
    /// inference).
    pub fn best_strip(&self) -> PathBuf {
        self.root.join("best-strip.bpk")
    }
    /// `curves.png`: loss and validation curves.
    pub fn curves(&self) -> PathBuf {
        self.root.join("curves.png")
    }
    /// `data.json`: where the training data came from.
    pub fn data(&self) -> PathBuf {
        self.root.join("data.json")
    }
}
