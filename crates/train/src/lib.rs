//! The parts of AdaMM training and evaluation that need no network: the deterministic
//! train/validation split, preprocessed case caches, patch sampling with augmentation, the
//! CSV/Markdown reports and the PNG plots.
//!
//! Array layout follows [`adamm_volume::geometry`]: x fastest. A patch of `dims = [px, py,
//! pz]` is, as a Burn tensor, `[channels, pz, py, px]` (depth = z, height = y, width = x).

pub mod cache;
pub mod error;
pub mod plot;
pub mod report;
pub mod sampler;
pub mod split;

pub use error::TrainError;
