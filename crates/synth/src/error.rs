//! The error type of the synthetic-case generator.

use std::path::PathBuf;

use adamm_volume::brats::CaseError;
use adamm_volume::VolumeError;

/// What can go wrong loading the anatomy or writing a case.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// An anatomy file could not be read.
    #[error("anatomy file {file}: {source}")]
    Read {
        /// The file.
        file: PathBuf,
        /// Why.
        source: VolumeError,
    },
    /// The atlas T1 and the tissue map are not on one grid.
    #[error("the anatomy T1 and tissue map are not on one grid: {0}")]
    Grid(#[source] CaseError),
    /// The tissue map holds a value other than 0 (background), 1 (CSF), 2 (GM), 3 (WM).
    #[error("{file}: tissue value {value} at voxel {voxel}; expected 0 background, 1 CSF, 2 grey matter, 3 white matter")]
    BadTissue {
        /// The tissue map.
        file: PathBuf,
        /// The unexpected value.
        value: f32,
        /// Its voxel index.
        voxel: usize,
    },
    /// A tissue class is missing (or too small to use) in the tissue map.
    #[error("{file}: the tissue map has only {voxels} {class} voxels; it does not look like a brain tissue map")]
    MissingTissue {
        /// The tissue map.
        file: PathBuf,
        /// The class name.
        class: &'static str,
        /// How many voxels it has.
        voxels: usize,
    },
    /// A case file could not be written.
    #[error("writing {file}: {source}")]
    Write {
        /// The file.
        file: PathBuf,
        /// Why.
        source: VolumeError,
    },
    /// An output folder could not be created.
    #[error("creating {path}: {source}")]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file of the held-out anatomy (MNI ICBM152) was given where a training anatomy goes.
    #[error("{file} is the held-out anatomy (MNI ICBM152): it is kept for out-of-distribution tests and never used to build training data")]
    HeldOutAnatomy {
        /// The file.
        file: PathBuf,
    },
    /// A head label map holds a value other than the head labels 0 (air) to 7 (fat).
    #[error("{file}: head label {value} at voxel {voxel}; expected 0 air, 1 CSF, 2 grey matter, 3 white matter, 4 extra-cerebral fluid, 5 bone, 6 soft tissue, 7 fat")]
    BadHeadLabel {
        /// The label map.
        file: PathBuf,
        /// The unexpected value.
        value: f32,
        /// Its voxel index.
        voxel: usize,
    },
    /// A class a head needs (brain tissues, bone, soft tissue) is missing or too small.
    #[error("{file}: the head label map has only {voxels} {class} voxels; it does not look like a whole head")]
    MissingHeadClass {
        /// The label map.
        file: PathBuf,
        /// The class name.
        class: &'static str,
        /// How many voxels it has.
        voxels: usize,
    },
    /// A head label map's grid cannot be used.
    #[error("{file}: {why}")]
    HeadGrid {
        /// The label map.
        file: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// A case's provenance file could not be written or read.
    #[error("{file}: {why}")]
    Provenance {
        /// The file.
        file: PathBuf,
        /// What went wrong.
        why: String,
    },
}
