//! AdaMM training and evaluation: the run configuration, the training loop (teacher and
//! student, checkpoints, validation), the deterministic train/validation split, preprocessed
//! case caches, patch sampling with augmentation, the CSV/Markdown reports and the PNG plots.
//!
//! Array layout follows [`adamm_volume::geometry`]: x fastest. A patch of `dims = [px, py,
//! pz]` is, as a Burn tensor, `[channels, pz, py, px]` (depth = z, height = y, width = x).

pub mod cache;
pub mod compare;
pub mod config;
pub mod enhancing;
pub mod error;
pub mod eval;
pub mod json;
pub mod plot;
pub mod report;
pub mod run;
pub mod sampler;
pub mod split;
pub mod strip;
pub mod strip_eval;
pub mod trainer;

pub use config::TrainConfig;
pub use error::TrainError;
pub use trainer::{RunPaths, StepLog, Trainer, ValidationLog};
