//! Volume I/O, geometry, BraTS conventions, preprocessing and metrics for AdaMM.
//!
//! This crate has no Burn dependency and compiles for `wasm32-unknown-unknown` as well as
//! natively. Its modules:
//! - [`nifti_io`]: NIfTI-1/2 reading (paths or bytes), and writing with a `reference` header's
//!   grid and fields (the input's, so an output overlays its input exactly);
//! - [`geometry`]: affines, orientation codes, canonical RAS reorientation;
//! - [`volume`]: a 3-D image with its header;
//! - [`align`]: the scans of one visit onto one working grid (reference scan, registration);
//! - [`brats`]: BraTS conventions (modalities, availability codes, file names, labels,
//!   regions), case discovery and loading;
//! - [`preprocess`]: canonical orientation, brain crop and normalisation for the network;
//! - [`resample`]: the network's working grid (block means and trilinear interpolation);
//! - [`regrid`]: resampling a volume onto another grid through world coordinates;
//! - [`register`]: rigid registration of two scans of one visit on mutual information;
//! - [`skull`]: whether a scan is skull-stripped, from its voxels;
//! - [`units`]: sizes written for people;
//! - [`mask`]: binary masks: foreground, connected components, holes, erosion and dilation;
//! - [`metrics`]: Dice, IoU, sensitivity, specificity, HD95 (BraTS conventions).

pub mod align;
pub mod brats;
pub mod error;
pub mod geometry;
pub mod mask;
pub mod metrics;
pub mod nifti_io;
pub mod preprocess;
pub mod register;
pub mod regrid;
pub mod resample;
pub mod skull;
pub mod units;
pub mod volume;

pub use error::{Result, VolumeError};
pub use geometry::{Affine, AxisMap};
pub use nifti_io::{read_bytes, read_path, Header};
pub use register::{register_rigid, Registration, RegistrationOptions, Rigid};
pub use volume::Volume;
