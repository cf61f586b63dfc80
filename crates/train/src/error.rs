//! Errors of the training data pipeline.

use std::path::PathBuf;

/// What can go wrong preparing data, reports or plots.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A case could not be loaded.
    #[error(transparent)]
    Case(#[from] adamm_volume::brats::CaseError),
    /// A volume could not be processed.
    #[error(transparent)]
    Volume(#[from] adamm_volume::VolumeError),
    /// A cache file is not what this version writes.
    #[error("{path}: not a valid AdaMM case cache ({detail}); delete it to rebuild")]
    BadCache {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// Invalid settings or data.
    #[error("{0}")]
    Invalid(String),
    /// A case of the held-out anatomy in training data.
    #[error("case {id} ({dir}) was made on the held-out anatomy {anatomy}: it is for out-of-distribution tests only and cannot be trained on; generate training data on the training anatomies (`adamm synth --anatomy sri24,colin27,mni152`)")]
    HeldOutCase {
        /// The case id.
        id: String,
        /// Its folder.
        dir: PathBuf,
        /// The anatomy.
        anatomy: String,
    },
    /// A synthetic case's provenance could not be read.
    #[error(transparent)]
    Provenance(#[from] adamm_synth::SynthError),

    /// A checkpoint that cannot be resumed from.
    #[error("{path}: cannot resume from this checkpoint: {detail}")]
    Checkpoint {
        /// The checkpoint folder.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A JSON file could not be parsed or written.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// A plot could not be drawn.
    #[error("plotting {path}: {detail}")]
    Plot {
        /// The output file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
}

impl TrainError {
    /// Attaches a path to an I/O error.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.into(),
            source,
        }
    }
}
