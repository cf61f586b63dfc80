//! The error type of the volume crate.

use std::path::PathBuf;

use crate::nifti_io::Datatype;

/// Everything that can go wrong reading, validating or writing a volume.
///
/// Each variant carries enough context to tell a person what is wrong with *their* file.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    /// The operating system refused to read or write a file.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The bytes do not start with a NIfTI-1 or NIfTI-2 header.
    #[error("not a NIfTI file: {detail}")]
    NotNifti {
        /// What was found instead.
        detail: String,
    },
    /// The gzip stream could not be decompressed.
    #[error("the gzip stream is corrupt or truncated ({0}); re-export or re-download the file")]
    Gzip(String),
    /// The header says the voxel data live in a separate `.img` file that is missing.
    #[error("{hdr} is a header-only file (NIfTI-1 pair or Analyze 7.5); its image file {img} is missing")]
    MissingImageFile {
        /// The header file.
        hdr: PathBuf,
        /// The image file that was looked for.
        img: PathBuf,
    },
    /// A header of a NIfTI pair / Analyze file was given without its image bytes.
    #[error("this is a header-only file (NIfTI-1 pair or Analyze 7.5, magic {magic:?}): the voxels are in a separate .img file, which was not given")]
    HeaderOnly {
        /// The magic string found.
        magic: String,
    },
    /// The header claims voxel data but the file ends at (or before) its start.
    #[error("the file holds a header but no voxel data (it ends at byte {len}, voxel data should start at byte {vox_offset})")]
    NoVoxelData {
        /// File length in bytes.
        len: usize,
        /// Where the voxel data should begin.
        vox_offset: usize,
    },
    /// The file ends before all voxels described by the header.
    #[error("the file is truncated: the header describes {expected} bytes of voxel data after byte {vox_offset}, but only {actual} are present")]
    Truncated {
        /// Bytes needed.
        expected: usize,
        /// Bytes present.
        actual: usize,
        /// Start of voxel data.
        vox_offset: usize,
    },
    /// A time series or other 4-D image.
    #[error("this is a 4-D image with {volumes} volumes of {dims:?}; AdaMM needs one 3-D volume per modality (extract one volume first, e.g. with fslroi)")]
    FourDimensional {
        /// Spatial dimensions.
        dims: [usize; 3],
        /// Number of volumes along the 4th axis.
        volumes: usize,
    },
    /// A 5-D or higher dataset, e.g. CIFTI.
    #[error("this is a {ndim}-D dataset (dims {dims:?}{cifti}), not a 3-D brain volume")]
    NotAVolume {
        /// Number of dimensions.
        ndim: usize,
        /// All dimensions.
        dims: Vec<usize>,
        /// A note when the intent code says CIFTI.
        cifti: &'static str,
    },
    /// The header announces a volume larger than AdaMM reads
    /// ([`crate::nifti_io::MAX_VOXELS`]); refused before any voxel data are decompressed.
    #[error(
        "the header announces a {} volume of {}: {} voxels, {} of voxel data; AdaMM reads at \
         most {limit} voxels (512 × 512 × 512; 512 MiB as float32), so the file was refused \
         before its voxel data were decompressed (crop or resample the image first)",
        dims_text(dims),
        datatype.name(),
        count_text(product(dims)),
        bytes_text(product(dims).and_then(|v| v.checked_mul(datatype.size() as u128)))
    )]
    TooLarge {
        /// The three spatial dimensions the header announces.
        dims: [u64; 3],
        /// The voxel datatype the header announces.
        datatype: Datatype,
        /// [`crate::nifti_io::MAX_VOXELS`].
        limit: usize,
    },
    /// The header puts the voxel data further into the file than AdaMM skips
    /// ([`crate::nifti_io::MAX_VOX_OFFSET`]).
    #[error(
        "the header's vox_offset says the voxel data begin after {} of header and \
         extensions; AdaMM skips at most {} to reach them",
        bytes_text(Some(*vox_offset as u128)),
        bytes_text(Some(*limit as u128))
    )]
    VoxOffsetTooLarge {
        /// Where the header says the voxel data begin.
        vox_offset: u64,
        /// [`crate::nifti_io::MAX_VOX_OFFSET`].
        limit: usize,
    },
    /// `dim[0]` is outside 1..=7 or a dimension is negative.
    #[error("the header's dimensions are invalid: {0}")]
    BadDims(String),
    /// One of the spatial dimensions is zero.
    #[error("the image is empty: dimension {axis} has size 0 (dims {dims:?})")]
    ZeroSizeDim {
        /// Axis index (1-based, as in the header's dim[]).
        axis: usize,
        /// All dimensions.
        dims: Vec<usize>,
    },
    /// The voxel data type cannot be read as scalar intensities.
    #[error("unsupported voxel data type {name} (NIfTI code {code}); AdaMM reads scalar u8/i8/i16/u16/i32/u32/i64/u64/f32/f64 images")]
    UnsupportedDatatype {
        /// NIfTI datatype code.
        code: i32,
        /// Its name.
        name: &'static str,
    },
    /// The voxel-to-world transform is degenerate or not finite.
    #[error("the voxel-to-world transform ({source_field}) is degenerate or not finite: {detail}")]
    BadGeometry {
        /// Which header field was used (sform, qform, pixdim).
        source_field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A resampling transform cannot be inverted.
    #[error("cannot resample: the {what} is singular (it does not map voxels to a 3-D space)")]
    SingularTransform {
        /// Which transform.
        what: &'static str,
    },
    /// Data length does not match the grid when building or writing a volume.
    #[error("{what}: {actual} voxels given for a {dims:?} grid ({expected} voxels)")]
    LengthMismatch {
        /// What was being built.
        what: &'static str,
        /// Expected voxels.
        expected: usize,
        /// Given voxels.
        actual: usize,
        /// The grid.
        dims: [usize; 3],
    },
    /// Two scans to register barely overlap in world space at their header positions.
    #[error(
        "cannot register the moving scan to the fixed scan: at their header positions only \
         {overlap_percent:.1} % of the fixed scan's foreground lies on the moving scan's \
         foreground (at least {required_percent:.0} % is needed); in world coordinates the \
         fixed scan's foreground is centred at {} mm and the moving scan's at {} mm. The scans \
         are probably of different patients or visits, or one is the wrong file",
        point_text(fixed_centre_mm),
        point_text(moving_centre_mm)
    )]
    NoOverlap {
        /// Percentage of the fixed foreground samples on the moving foreground.
        overlap_percent: f64,
        /// The percentage required ([`crate::register::RegistrationOptions::min_overlap`]).
        required_percent: f64,
        /// Centroid of the fixed scan's foreground (world mm).
        fixed_centre_mm: [f64; 3],
        /// Centroid of the moving scan's foreground (world mm).
        moving_centre_mm: [f64; 3],
    },
    /// A scan cannot take part in a registration.
    #[error("cannot register: the {which} scan {detail}")]
    UnusableScan {
        /// `"fixed"` or `"moving"`.
        which: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// [`crate::register::RegistrationOptions`] out of range.
    #[error("invalid registration options: {0}")]
    BadRegistrationOptions(String),
    /// A scan of a case could not be aligned to the case's reference scan.
    #[error("cannot align {moving} to {fixed}: {source}")]
    Alignment {
        /// The reference scan's name.
        fixed: String,
        /// The scan that could not be aligned.
        moving: String,
        /// Why.
        source: Box<VolumeError>,
    },
}

impl VolumeError {
    /// Attaches a path to an I/O error.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        VolumeError::Io {
            path: path.into(),
            source,
        }
    }
}

/// The number of voxels of a grid (`None` if it overflows 128 bits).
pub(crate) fn product(dims: &[u64; 3]) -> Option<u128> {
    dims.iter()
        .try_fold(1u128, |acc, &d| acc.checked_mul(d as u128))
}

/// `(12.3, -4.0, 20.5)`.
fn point_text(p: &[f64; 3]) -> String {
    format!("({:.1}, {:.1}, {:.1})", p[0], p[1], p[2])
}

/// `512 × 512 × 400`.
fn dims_text(dims: &[u64; 3]) -> String {
    format!("{} × {} × {}", dims[0], dims[1], dims[2])
}

/// A count, or "more than 2^128" when it overflowed.
fn count_text(n: Option<u128>) -> String {
    n.map_or_else(|| "more than 2^128".into(), |n| n.to_string())
}

/// `2147483648 bytes (2.0 GiB)`.
fn bytes_text(n: Option<u128>) -> String {
    let Some(n) = n else {
        return "more than 2^128 bytes".into();
    };
    match u64::try_from(n) {
        Ok(small) if small >= 1024 => format!("{n} bytes ({})", crate::units::format_size(small)),
        _ => format!("{n} bytes"),
    }
}

/// Result alias for this crate.
pub type Result<T, E = VolumeError> = std::result::Result<T, E>;
