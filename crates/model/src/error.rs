//! Errors of the model crate.

use thiserror::Error;

/// Everything that can go wrong when configuring, running, saving or loading a network.
#[derive(Debug, Error)]
pub enum ModelError {
    /// A configuration that cannot build a network.
    #[error("invalid network configuration: {0}")]
    InvalidConfig(String),

    /// An input that does not fit the network or the inference settings.
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// A weights file made for another network (kind, configuration or tensor shapes).
    #[error("weights do not match this network: {0}")]
    WeightsMismatch(String),

    /// A weights file that cannot be read or written.
    #[error("weights file {path}: {message}")]
    WeightsIo {
        /// The file (or `<bytes>` for in-memory weights).
        path: String,
        /// What went wrong.
        message: String,
    },

    /// A case that cannot be brought onto (or back from) the network's grid.
    #[error(transparent)]
    Volume(#[from] adamm_volume::VolumeError),

    /// A tensor could not be read back from the device.
    #[error("reading a tensor back from the device failed: {0}")]
    Readback(String),
}

/// Shorthand for results of this crate.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
