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

    /// A weights file larger than [`crate::store::MAX_WEIGHTS_BYTES`]; refused unread.
    #[error(
        "the weights file is {bytes} bytes ({:.1} MiB), more than the {limit} bytes ({} MiB) \
         AdaMM loads; it was not read",
        *bytes as f64 / 1048576.0,
        limit >> 20
    )]
    WeightsFileTooLarge {
        /// The file's length.
        bytes: u64,
        /// [`crate::store::MAX_WEIGHTS_BYTES`].
        limit: usize,
    },

    /// A weights file whose tensors declare more data than the file holds (ranges that
    /// overlap or run past its end); refused before any tensor is loaded.
    #[error(
        "the weights file is corrupt: its {tensors} tensors declare {declared} bytes of data \
         ({:.1} MiB), but the file holds only {file_bytes} bytes (AdaMM loads at most \
         {limit} bytes); no tensor was loaded",
        *declared as f64 / 1048576.0
    )]
    TensorsExceedFile {
        /// Number of tensors in the file.
        tensors: usize,
        /// The sum of their declared sizes (shape × datatype).
        declared: u128,
        /// The file's length.
        file_bytes: usize,
        /// [`crate::store::MAX_WEIGHTS_BYTES`].
        limit: usize,
    },

    /// A case that cannot be brought onto (or back from) the network's grid.
    #[error(transparent)]
    Volume(#[from] adamm_volume::VolumeError),

    /// A tensor could not be read back from the device.
    #[error("reading a tensor back from the device failed: {0}")]
    Readback(String),

    /// Bytes given as a model that are not AdaMM weights.
    #[error("This is not an AdaMM model file: {0}")]
    NotAModelFile(String),

    /// AdaMM weights of another network than a student (a teacher or a discriminator).
    #[error(
        "This model file holds the {0}, not the student: export the student with \
         `adamm export --run RUN --out FILE`."
    )]
    NotAStudent(String),

    /// A brain-extraction network (`adamm train-strip`) given where a tumour model is expected.
    #[error(
        "This model file holds a brain-extraction network (stripper), not a tumour model: use \
         it with `adamm strip`."
    )]
    BrainExtractionModel,

    /// A tumour model (or another AdaMM network) given where a brain-extraction network is
    /// expected.
    #[error(
        "This model file holds a tumour-model {0}, not a brain-extraction network (stripper): \
         train one with `adamm train-strip`."
    )]
    NotAStripper(String),
}

/// What can stop the segmentation pipeline (`crate::pipeline`), worded for the person whose
/// scans they are.
#[derive(Debug, Error)]
pub enum PipelineError {
    /// A scan could not be read.
    #[error("{file}: {source}")]
    Read {
        /// The scan's name (its path, or its modality).
        file: String,
        /// Why.
        source: adamm_volume::VolumeError,
    },
    /// The scans could not be brought onto one grid.
    #[error(transparent)]
    Align(adamm_volume::VolumeError),
    /// No scan was given.
    #[error("no scan to segment: give at least one of T1, T1Gd, T2, FLAIR")]
    NoScan,
    /// A combination asks for a modality the case does not have.
    #[error("the combination {combination} needs {missing}, which the case does not have")]
    MissingModality {
        /// The availability code asked for.
        combination: String,
        /// The modalities it needs that are absent.
        missing: String,
    },
    /// The case could not be brought to the network's grid or back.
    #[error("preparing the case: {0}")]
    Prepare(adamm_volume::VolumeError),
    /// The network failed.
    #[error("segmentation failed: {0}")]
    Model(#[from] ModelError),
    /// The labels could not be measured.
    #[error("measuring the labels: {0}")]
    Measure(#[from] adamm_measure::MeasureError),
}

/// Shorthand for results of this crate.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
