//! Every setting of a training run, saved as `config.json` in the run folder.

use std::path::Path;

use adamm_model::{AdammConfig, InferenceSettings, LossConfig};
use adamm_volume::preprocess::Normalization;
use serde::{Deserialize, Serialize};

use crate::error::TrainError;
use crate::sampler::SamplerConfig;

/// A training run's settings. The defaults are the authors' recipe (paper network, Adam with
/// learning rate 1e-4 and weight decay 1e-5, poly decay with power 0.9, batch 1, the
/// discriminator with its own Adam, teacher and student trained jointly); `light()` is the
/// CPU-sized variant this project ships.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// The network (teacher and student share it).
    pub network: AdammConfig,
    /// Loss weights.
    pub loss: LossConfig,
    /// Patch size, foreground oversampling, flips and intensity jitter. The patch is on the
    /// network's grid (see `network.grid_factor`).
    pub sampler: SamplerConfig,
    /// Total optimiser iterations (the poly schedule ends here). Default: 20 000.
    pub iterations: usize,
    /// Patches per iteration and device. Default: 1.
    pub batch_size: usize,
    /// Adam learning rate at iteration 0. Default: 1e-4.
    pub learning_rate: f64,
    /// Adam weight decay. Default: 1e-5.
    pub weight_decay: f64,
    /// Poly decay power: `lr · (1 − i / iterations)^power`. Default: 0.9.
    pub poly_power: f64,
    /// Learning rate of the style discriminator's own Adam (also poly-decayed). Default: 1e-4.
    pub discriminator_learning_rate: f64,
    /// Train the full-modality teacher with the student and distil (AdaMM). `false` trains
    /// the student alone with modality dropout (the ablation baseline). Default: true.
    pub distillation: bool,
    /// Use the adversarial style discriminator (with distillation only). Default: true.
    pub adversarial: bool,
    /// Iterations counted as one epoch for the consistency ramp-up; 0 = one pass over the
    /// training cases. Default: 0.
    pub iterations_per_epoch: usize,
    /// Seed of everything random: split, initial weights, patches, combinations, dropout.
    /// Default: 2024.
    pub seed: u64,
    /// Cases held out for validation. Default: 10.
    pub validation_cases: usize,
    /// Validate every this many iterations (and at the end). Default: 500.
    pub validation_every: usize,
    /// Random combinations per validation case. Default: 2.
    pub validation_combinations: usize,
    /// Sliding-window size for validation on the network grid; `[0, 0, 0]` = the patch.
    pub validation_window: [usize; 3],
    /// Write a checkpoint every this many iterations (and at the end). Default: 100.
    pub checkpoint_every: usize,
    /// Intensity normalisation of the training cases, recorded in the students it saves.
    /// Default: robust (median and IQR); a `config.json` without it (written before it
    /// existed) is a z-score run.
    #[serde(default = "legacy_normalization")]
    pub normalization: Normalization,
}

fn legacy_normalization() -> Normalization {
    adamm_model::LEGACY_NORMALIZATION
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            network: AdammConfig::paper(),
            loss: LossConfig::new(),
            sampler: SamplerConfig {
                patch: [160, 192, 128],
                ..SamplerConfig::default()
            },
            iterations: 20_000,
            batch_size: 1,
            learning_rate: 1e-4,
            weight_decay: 1e-5,
            poly_power: 0.9,
            discriminator_learning_rate: 1e-4,
            distillation: true,
            adversarial: true,
            iterations_per_epoch: 0,
            seed: 2024,
            validation_cases: 10,
            validation_every: 500,
            validation_combinations: 2,
            validation_window: [0, 0, 0],
            checkpoint_every: 100,
            normalization: Normalization::Robust,
        }
    }
}

impl TrainConfig {
    /// The authors' recipe with the paper network and their 160×192×128 patch (x, y, z) on
    /// the 1 mm grid.
    pub fn paper() -> TrainConfig {
        TrainConfig::default()
    }

    /// The light network at 2 mm with 64³ patches (128 mm, most of a brain; the smallest
    /// patch the style discriminator accepts), the recipe otherwise unchanged.
    pub fn light() -> TrainConfig {
        TrainConfig {
            network: AdammConfig::light(),
            sampler: SamplerConfig {
                patch: [64, 64, 64],
                ..SamplerConfig::default()
            },
            ..TrainConfig::default()
        }
    }

    /// A preset by name: `paper` or `light`.
    pub fn preset(name: &str) -> Result<TrainConfig, TrainError> {
        match name {
            "paper" => Ok(TrainConfig::paper()),
            "light" => Ok(TrainConfig::light()),
            other => Err(TrainError::Invalid(format!(
                "unknown preset {other:?}; the presets are \"paper\" and \"light\""
            ))),
        }
    }

    /// Checks that the settings can run.
    pub fn validate(&self) -> Result<(), TrainError> {
        let fail = |m: String| Err(TrainError::Invalid(m));
        self.network
            .validate()
            .map_err(|e| TrainError::Invalid(e.to_string()))?;
        let m = self.network.size_multiple();
        if self.sampler.patch.iter().any(|&p| p == 0 || p % m != 0) {
            return fail(format!(
                "patch {:?} must be positive multiples of {m} (2^(depth−1))",
                self.sampler.patch
            ));
        }
        if self.distillation && self.adversarial && self.sampler.patch.iter().any(|&p| p / m < 8) {
            return fail(format!(
                "the style discriminator needs a bottleneck of at least 8³, i.e. a patch of at \
                 least {} per axis (got {:?}); enlarge the patch or set adversarial to false",
                8 * m,
                self.sampler.patch
            ));
        }
        if self.validation_window.iter().any(|&w| w != 0 && w % m != 0) {
            return fail(format!(
                "validation_window {:?} must be multiples of {m}",
                self.validation_window
            ));
        }
        if self.iterations == 0 || self.batch_size == 0 {
            return fail("iterations and batch_size must be positive".into());
        }
        if !(self.learning_rate > 0.0 && self.discriminator_learning_rate > 0.0) {
            return fail("learning rates must be positive".into());
        }
        if self.weight_decay < 0.0 || self.poly_power < 0.0 {
            return fail("weight_decay and poly_power must not be negative".into());
        }
        if self.validation_every == 0 || self.checkpoint_every == 0 {
            return fail("validation_every and checkpoint_every must be positive".into());
        }
        Ok(())
    }

    /// Whether `other` trains the same way (it may differ only in the schedule: `iterations`,
    /// `validation_every`, `checkpoint_every`, which a resumed run may change).
    pub fn same_training(&self, other: &TrainConfig) -> bool {
        let normalise = |c: &TrainConfig| TrainConfig {
            iterations: 0,
            validation_every: 1,
            checkpoint_every: 1,
            ..c.clone()
        };
        normalise(self) == normalise(other)
    }

    /// The validation window: `validation_window`, or the patch when that is zero.
    pub fn validation_window(&self) -> [usize; 3] {
        if self.validation_window.contains(&0) {
            self.sampler.patch
        } else {
            self.validation_window
        }
    }

    /// How the students this run saves are to be run: the validation window and the
    /// normalisation, every enhancing tumour reported (the smallest one worth reporting is
    /// chosen on validation cases at export).
    pub fn inference_settings(&self) -> InferenceSettings {
        InferenceSettings {
            window: self.validation_window(),
            normalization: self.normalization,
            min_enhancing_mm3: 0,
        }
    }

    /// Learning rate at `iteration` under the poly schedule.
    pub fn learning_rate_at(&self, base: f64, iteration: usize) -> f64 {
        let done = (iteration as f64 / self.iterations as f64).min(1.0);
        base * (1.0 - done).powf(self.poly_power)
    }

    /// Reads a JSON config; unknown keys are refused (a typo must not pass silently), missing
    /// keys take their defaults.
    pub fn load(path: &Path) -> Result<TrainConfig, TrainError> {
        crate::json::load(path)
    }

    /// Writes the config as pretty JSON.
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        crate::json::save(path, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_and_refuses_unknown_keys() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("config.json");
        let c = TrainConfig::light();
        c.save(&path).expect("save");
        assert_eq!(TrainConfig::load(&path).expect("load"), c);
        std::fs::write(&path, r#"{"iterations": 5, "learnig_rate": 1}"#).expect("write");
        let err = TrainConfig::load(&path).expect_err("typo");
        assert!(err.to_string().contains("learnig_rate"), "{err}");
        std::fs::write(&path, r#"{"iterations": 5}"#).expect("write");
        let partial = TrainConfig::load(&path).expect("partial");
        assert_eq!(partial.iterations, 5);
        assert_eq!(partial.learning_rate, 1e-4);
    }

    #[test]
    fn new_runs_normalise_robustly_and_old_configs_stay_z_score_runs() {
        assert_eq!(TrainConfig::light().normalization, Normalization::Robust);
        assert_eq!(TrainConfig::paper().normalization, Normalization::Robust);
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("config.json");
        // A config.json written before the field existed.
        let mut old = serde_json::to_value(TrainConfig::light()).expect("json");
        old.as_object_mut().expect("object").remove("normalization");
        std::fs::write(&path, old.to_string()).expect("write");
        let loaded = TrainConfig::load(&path).expect("load");
        assert_eq!(loaded.normalization, Normalization::ZScore);
        assert!(
            !loaded.same_training(&TrainConfig::light()),
            "resuming it must not switch"
        );
        assert_eq!(
            loaded.inference_settings().normalization,
            Normalization::ZScore
        );
        std::fs::write(&path, r#"{"normalization": "robust"}"#).expect("write");
        assert_eq!(
            TrainConfig::load(&path).expect("load").normalization,
            Normalization::Robust
        );
    }

    #[test]
    fn poly_schedule_starts_at_base_and_ends_at_zero() {
        let c = TrainConfig {
            iterations: 100,
            ..TrainConfig::light()
        };
        assert_eq!(c.learning_rate_at(1e-4, 0), 1e-4);
        assert!((c.learning_rate_at(1e-4, 50) - 1e-4 * 0.5f64.powf(0.9)).abs() < 1e-15);
        assert_eq!(c.learning_rate_at(1e-4, 100), 0.0);
    }
}
