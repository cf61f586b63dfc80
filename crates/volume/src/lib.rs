//! Volume I/O, geometry, BraTS conventions, preprocessing and metrics for AdaMM.
//!
//! This crate has no Burn dependency and compiles for `wasm32-unknown-unknown` as well as natively.

pub mod metrics;
