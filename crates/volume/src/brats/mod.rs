//! BraTS conventions, defined once for the whole project: the modality order, the
//! availability code, file naming, label mapping and tumour regions; and case discovery and
//! loading.
//!
//! - **Modality order** (everywhere: tensors, codes, tables): T1, T1Gd, T2, FLAIR — see
//!   [`Modality::ALL`].
//! - **Availability code**: four characters, one per modality in that order, `1` = present:
//!   `"1010"` means T1 and T2 are present — see [`Availability`].
//! - **Labels** inside AdaMM: 0 background, 1 NETC (necrotic / non-enhancing core), 2 SNFH
//!   (edema), 3 ET (enhancing tumour). BraTS 2021 files use {0, 1, 2, 4}, BraTS 2023+ files
//!   {0, 1, 2, 3} — see [`LabelConvention`].
//! - **Regions**: WT = {1, 2, 3}, TC = {1, 3}, ET = {3} — see [`Region`].
//!
//! The submodules split these by subject; everything is used from here, as
//! `adamm_volume::brats::Name`:
//! - `names`: [`Modality`], [`Naming`], [`FileRole`], [`classify_file_name`], [`nifti_stem`];
//! - `availability`: [`Availability`], [`AvailabilityError`];
//! - `labels`: [`label`], [`LABEL_COLOURS`], [`LabelConvention`], [`LabelError`], [`Region`],
//!   [`LabelVolumes`];
//! - `discovery`: [`CaseFiles`], [`Discovery`], [`discover_cases`], [`check_case_headers`];
//! - `case`: [`LoadedCase`], [`load_case`], [`CaseError`], [`check_same_grid`],
//!   [`check_one_grid`], [`GRID_TOLERANCE_MM`].

mod availability;
mod case;
mod discovery;
mod labels;
mod names;

pub use availability::{Availability, AvailabilityError};
pub use case::{
    check_one_grid, check_same_grid, load_case, CaseError, LoadedCase, GRID_TOLERANCE_MM,
};
pub use discovery::{check_case_headers, discover_cases, CaseFiles, Discovery};
pub use labels::{
    drop_small_enhancing, drop_specks, label, LabelConvention, LabelError, LabelVolumes, Region,
    LABEL_COLOURS,
};
pub use names::{classify_file_name, nifti_stem, FileRole, Modality, Naming};
