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
