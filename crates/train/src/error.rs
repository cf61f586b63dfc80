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
    /// A line of an evaluation's `metrics.csv` that cannot be read.
    #[error("{path}, line {line}: {detail}")]
    MetricsCsv {
        /// The file.
        path: PathBuf,
        /// The line (1-based; a record's first line).
        line: usize,
        /// What is wrong.
        detail: String,
    },
    /// Two evaluations without a case in common.
    #[error("{a} and {b} share no case: compare two evaluations of the same test cases")]
    NoCommonCases {
        /// Name of the first evaluation.
        a: String,
        /// Name of the second evaluation.
        b: String,
    },
    /// Two evaluations of different case sets.
    #[error(
        "{a} and {b} hold different cases (only in {a}: {}; only in {b}: {}): compare two \
         evaluations of the same test cases",
        id_list(.only_a),
        id_list(.only_b)
    )]
    DifferentCases {
        /// Name of the first evaluation.
        a: String,
        /// Name of the second evaluation.
        b: String,
        /// Cases only the first holds.
        only_a: Vec<String>,
        /// Cases only the second holds.
        only_b: Vec<String>,
    },
    /// Rows of two evaluations that cannot be paired (a combination or region only one has,
    /// a row given twice).
    #[error("cannot pair the evaluations: {0}")]
    Unpaired(String),
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

/// Up to ten ids, then how many more; `none` for an empty list.
fn id_list(ids: &[String]) -> String {
    const SHOWN: usize = 10;
    if ids.is_empty() {
        return "none".into();
    }
    let mut text = ids
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        text.push_str(&format!(" and {} more", ids.len() - SHOWN));
    }
    text
}
