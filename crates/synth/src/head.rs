//! Synthetic whole-head MR images of any contrast, with their brain masks: training data for a
//! brain-extraction network in the manner of SynthStrip (Hoopes et al., NeuroImage 2022).
//!
//! # The head anatomies
//!
//! A [`HeadAnatomy`] is a label map of a real whole head on a 1 mm grid ([`AIR`], [`CSF`],
//! [`GREY_MATTER`], [`WHITE_MATTER`] = the brain, then [`FLUID`], [`BONE`], [`SOFT_TISSUE`],
//! [`FAT`]), derived from a real template by the `derive_heads` example
//! ([`crate::derive::segment_head`], [`crate::derive::head_from_probabilities`];
//! `data/heads/README.md`): SRI24, Colin27 and the MNI152 average for training
//! ([`TRAINING_HEADS`], in `data/heads`), and MNI ICBM152 2009a, the held-out anatomy, for
//! tests only (`data/heldout`, [`HeadAnatomy::load_held_out`]; [`HeadAnatomy::load`] refuses
//! it).
//!
//! # One head image ([`generate_head`])
//!
//! Every draw comes from the seed ([`HeadDraws::draw`]), with the ranges of the `HEAD_*`
//! constants:
//!
//! 1. **Placement**: the output grid ([`HEAD_GRID_DIMS`] voxels of [`HEAD_VOXEL_MM`], RAS, its
//!    centre at world 0, [`output_world_from_voxel`]) looks at the anatomy's brain centroid
//!    moved by a random shift, through a random rotation (each axis uniform within
//!    ±[`HEAD_MAX_ANGLE_DEG`]), a per-axis scaling of the head ([`HEAD_SCALE_RANGE`]) and a
//!    smooth random displacement field ([`HEAD_FIELD_AMPLITUDE_MM`], lattice
//!    [`HEAD_FIELD_SPACING_MM`]) — a random smooth deformation, different orientation and
//!    position in the field of view for every case ([`HeadWarp`]).
//! 2. **Partial volume**: each 2 mm output voxel reads the 1 mm labels at 2 × 2 × 2 points (the
//!    centres of its 1 mm sub-voxels, nearest label): the label fractions of the voxel, i.e.
//!    the labels box-blurred before any intensity is given. The brain mask is where the brain
//!    ([`CSF`], [`GREY_MATTER`], [`WHITE_MATTER`]) holds at least half of the voxel.
//! 3. **Contrast**: a mean per label, uniform in [`HEAD_MEAN_RANGE`] and independent (any
//!    contrast at all, as SynthStrip draws them), or with probability [`HEAD_ORDERED_CHANCE`]
//!    the same uniform values sorted into a T1-, T2- or FLAIR-like order of the labels
//!    ([`HeadContrast`]); air is 0. Within each label a smooth multiplicative texture
//!    (two-octave value noise, relative standard deviation in [`HEAD_TEXTURE_RANGE`]). The
//!    signal of a voxel is the fraction-weighted mix of its labels' textured means.
//! 4. **Acquisition**: Gaussian blur ([`HEAD_BLUR_RANGE`], output voxels; blurring is linear,
//!    so blurring the mixed signal is blurring every label's fraction map), a smooth
//!    multiplicative bias field of at most ±[`HEAD_BIAS_RANGE`], the brightest label mean
//!    scaled to [`HEAD_INTENSITY_RANGE`], Rician noise of σ in [`HEAD_NOISE_RANGE`] of that
//!    level — or, with probability [`HEAD_THICK_SLICE_CHANCE`], thick slices of
//!    [`HEAD_SLICE_THICKNESS_MM`] along a random axis with the noise on the slabs
//!    ([`crate::degrade`]'s slab model), and a field-of-view crop: each of the six faces of
//!    the grid cut with probability [`HEAD_CROP_CHANCE`] by [`HEAD_CROP_DEPTH_MM`] (the top
//!    of the head or the chin cut away; the neck is in view or not with the shift). Outside
//!    the field of view the image is exactly 0 and the brain mask false.
//!
//! The smooth fields (where each voxel reads the anatomy, the textures, the bias) are evaluated
//! on lattices every 2, 2 and 4 output voxels and interpolated trilinearly: they vary over tens
//! of millimetres. A head is deterministic in (anatomy, seed, options): one ChaCha8 stream for
//! the draws and counter-based hashes for the noise, the same on any thread. It takes about
//! 0.2 s on one core (release build; `cargo bench -p adamm-synth`, `generate_head_96x112x96`).
//!
//! ```no_run
//! use adamm_synth::head::{generate_head, HeadAnatomy, HeadOptions};
//! let head = HeadAnatomy::load(&HeadAnatomy::default_dir(), "sri24")?;
//! let case = generate_head(&head, adamm_synth::case_seed(7, 0), &HeadOptions::default());
//! case.write("out".as_ref(), "head-00000")?;
//! # Ok::<(), adamm_synth::SynthError>(())
//! ```

use std::path::{Path, PathBuf};

use adamm_volume::nifti_io::{write_path, Datatype};
use adamm_volume::{read_path, Affine, Header};

use crate::anatomy::{is_held_out_name, HELD_OUT_ANATOMY, TRAINING_ANATOMIES};
use crate::deform::{mul, rotation, Mat3};
use crate::degrade::{Slabs, ThickSlices};
use crate::derive::check_not_held_out;
use crate::error::SynthError;
use crate::field::{gaussian_blur, Fractal, ValueNoise};
use crate::rng::{hashed_normal_pair, splitmix64, Rand};

/// Head label: air and everything outside the head.
pub const AIR: u8 = 0;
/// Head label: CSF inside the brain mask (ventricles, sulci); part of the brain.
pub const CSF: u8 = 1;
/// Head label: grey matter; part of the brain.
pub const GREY_MATTER: u8 = 2;
/// Head label: white matter; part of the brain.
pub const WHITE_MATTER: u8 = 3;
/// Head label: fluid outside the brain mask (CSF and dura between brain and skull, eyes).
pub const FLUID: u8 = 4;
/// Head label: bone (skull; signal void on most sequences).
pub const BONE: u8 = 5;
/// Head label: soft tissue (muscle, skin, other non-fat tissue outside the skull).
pub const SOFT_TISSUE: u8 = 6;
/// Head label: fat (scalp and orbital fat, marrow: bright on T1).
pub const FAT: u8 = 7;
/// Number of head labels (0 to 7).
pub const HEAD_LABELS: usize = 8;
/// Names of the head labels, by label.
pub const HEAD_LABEL_NAMES: [&str; HEAD_LABELS] = [
    "air",
    "CSF",
    "grey matter",
    "white matter",
    "extra-cerebral fluid",
    "bone",
    "soft tissue",
    "fat",
];

/// The training head anatomies shipped in `data/heads` (one per training anatomy,
/// [`TRAINING_ANATOMIES`]), each [`head_file`] of its name.
pub const TRAINING_HEADS: [&str; 3] = TRAINING_ANATOMIES;

/// The file name of head anatomy `name`'s label map: `{name}_head_labels.nii.gz`.
pub fn head_file(name: &str) -> String {
    format!("{name}_head_labels.nii.gz")
}

/// Output grid dimensions (voxels) of a generated head: 192 × 224 × 192 mm at
/// [`HEAD_VOXEL_MM`], room for a whole adult head turned by 20°.
pub const HEAD_GRID_DIMS: [usize; 3] = [96, 112, 96];
/// Output voxel size (mm, isotropic): the stripping network runs at 2 mm.
pub const HEAD_VOXEL_MM: f64 = 2.0;

/// Probability that the label means follow a T1-, T2- or FLAIR-like order (each a third of
/// it) rather than being independent.
pub const HEAD_ORDERED_CHANCE: f64 = 0.5;
/// Range (uniform, relative units) of each label's mean intensity except air's (0). The
/// brightest mean is then stored at the case's intensity level ([`HEAD_INTENSITY_RANGE`]).
pub const HEAD_MEAN_RANGE: (f64, f64) = (0.0, 1.0);
/// Range (uniform) of the relative standard deviation of each label's smooth texture (a
/// multiplicative `1 + a·n` with `n` of unit standard deviation, clamped at 0).
pub const HEAD_TEXTURE_RANGE: (f64, f64) = (0.0, 0.2);
/// Coarsest lattice spacing (mm) of the label textures (two octaves: 24 and 12 mm).
pub const HEAD_TEXTURE_SPACING_MM: f64 = 24.0;
/// Largest rotation (degrees, uniform in ± this about each axis) of the head in the field of
/// view.
pub const HEAD_MAX_ANGLE_DEG: f64 = 20.0;
/// Largest shift (mm, uniform in ± this along each axis) of the brain centroid from the grid
/// centre.
pub const HEAD_MAX_SHIFT_MM: f64 = 15.0;
/// Range (uniform, per axis) of the scaling of the head: its size in the image relative to
/// the anatomy's.
pub const HEAD_SCALE_RANGE: (f64, f64) = (0.9, 1.1);
/// Range (uniform, mm) of the peak of each component of the smooth displacement field.
pub const HEAD_FIELD_AMPLITUDE_MM: (f64, f64) = (0.0, 4.0);
/// Lattice spacing (mm) of the smooth displacement field.
pub const HEAD_FIELD_SPACING_MM: f64 = 32.0;
/// Probability that each of the six faces of the grid is cut back (a field-of-view crop).
pub const HEAD_CROP_CHANCE: f64 = 0.2;
/// Range (uniform, mm from the grid face) of a field-of-view crop.
pub const HEAD_CROP_DEPTH_MM: (f64, f64) = (0.0, 50.0);
/// Range (uniform) of the bias field's largest relative deviation: the field lies in
/// `[1 − b, 1 + b]`, so at most ±40 %.
pub const HEAD_BIAS_RANGE: (f64, f64) = (0.0, 0.4);
/// Lattice spacing (mm) of the bias field's value noise.
pub const HEAD_BIAS_SPACING_MM: f64 = 80.0;
/// Range (uniform) of the Rician noise σ relative to the brightest label mean.
pub const HEAD_NOISE_RANGE: (f64, f64) = (0.01, 0.10);
/// Range (uniform) of the Gaussian blur σ, in output voxels.
pub const HEAD_BLUR_RANGE: (f64, f64) = (0.0, 1.0);
/// Probability that a head is acquired as thick slices.
pub const HEAD_THICK_SLICE_CHANCE: f64 = 0.5;
/// Range (uniform, mm) of the slice thickness (= spacing) of a thick-slice head; below the
/// 2 mm output voxel a slab is one output voxel thick.
pub const HEAD_SLICE_THICKNESS_MM: (f64, f64) = (1.0, 7.0);
/// Range (log-uniform, stored units) of the stored value of the brightest label mean.
pub const HEAD_INTENSITY_RANGE: (f64, f64) = (100.0, 5000.0);

/// Key of the head-draw stream of a seed.
const HEAD_STREAM: u64 = 0x6865_6164_7374_726d;

/// How the label means of a head were drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadContrast {
    /// Independent uniform means: any contrast.
    Random,
    /// T1-like order, darkest first: bone, extra-cerebral fluid, CSF, soft tissue, GM, WM, fat.
    T1,
    /// T2-like: bone, soft tissue, WM, GM, fat, extra-cerebral fluid, CSF.
    T2,
    /// FLAIR-like: bone, CSF, extra-cerebral fluid, soft tissue, WM, GM, fat.
    Flair,
}

impl HeadContrast {
    /// The labels from darkest to brightest (`None` for [`HeadContrast::Random`]).
    pub fn order(self) -> Option<[u8; 7]> {
        match self {
            HeadContrast::Random => None,
            HeadContrast::T1 => Some([
                BONE,
                FLUID,
                CSF,
                SOFT_TISSUE,
                GREY_MATTER,
                WHITE_MATTER,
                FAT,
            ]),
            HeadContrast::T2 => Some([
                BONE,
                SOFT_TISSUE,
                WHITE_MATTER,
                GREY_MATTER,
                FAT,
                FLUID,
                CSF,
            ]),
            HeadContrast::Flair => Some([
                BONE,
                CSF,
                FLUID,
                SOFT_TISSUE,
                WHITE_MATTER,
                GREY_MATTER,
                FAT,
            ]),
        }
    }
}

/// Everything a head image draws from its seed ([`HeadDraws::draw`]), as applied (the parts
/// that [`HeadOptions`] switch off are neutral).
#[derive(Debug, Clone, PartialEq)]
pub struct HeadDraws {
    /// How the means were drawn.
    pub contrast: HeadContrast,
    /// Mean intensity per label (relative units, [`HEAD_MEAN_RANGE`]; air 0).
    pub means: [f64; HEAD_LABELS],
    /// Relative standard deviation of each label's texture ([`HEAD_TEXTURE_RANGE`]; air 0).
    pub texture: [f64; HEAD_LABELS],
    /// Rotation angles (degrees) about x, y, z ([`HEAD_MAX_ANGLE_DEG`]).
    pub angles_deg: [f64; 3],
    /// Shift (mm) of the brain centroid from the grid centre ([`HEAD_MAX_SHIFT_MM`]).
    pub shift_mm: [f64; 3],
    /// Head scaling per axis ([`HEAD_SCALE_RANGE`]).
    pub scale: [f64; 3],
    /// Peak (mm) of each component of the smooth displacement ([`HEAD_FIELD_AMPLITUDE_MM`]).
    pub field_mm: f64,
    /// Field-of-view crop per axis, `[low face, high face]`, mm from the face (0: none;
    /// [`HEAD_CROP_DEPTH_MM`]).
    pub crop_mm: [[f64; 2]; 3],
    /// Largest relative deviation of the bias field ([`HEAD_BIAS_RANGE`]).
    pub bias: f64,
    /// Gaussian blur σ, output voxels ([`HEAD_BLUR_RANGE`]).
    pub blur: f64,
    /// Rician noise σ relative to the brightest mean ([`HEAD_NOISE_RANGE`]).
    pub noise: f64,
    /// Thick slices (axis of the output grid, thickness and phase in mm), if any
    /// ([`HEAD_SLICE_THICKNESS_MM`]).
    pub thick_slices: Option<ThickSlices>,
    /// Stored value of the brightest label mean ([`HEAD_INTENSITY_RANGE`]).
    pub intensity: f64,
    /// Texture mixing angle per label (radians): each label's texture is its own blend of
    /// two shared noise fields.
    texture_angle: [f64; HEAD_LABELS],
    /// Keys of the displacement, texture, bias and voxel-noise streams.
    keys: [u64; 4],
}

impl HeadDraws {
    /// The draws of seed `seed` (a stream of its own, apart from the tumour cases' streams).
    pub fn draw(seed: u64) -> HeadDraws {
        let mut rng = Rand::new(splitmix64(seed ^ HEAD_STREAM));
        let contrast = if rng.chance(HEAD_ORDERED_CHANCE) {
            [HeadContrast::T1, HeadContrast::T2, HeadContrast::Flair][rng.index(3)]
        } else {
            HeadContrast::Random
        };
        let (m0, m1) = HEAD_MEAN_RANGE;
        let mut values: Vec<f64> = (1..HEAD_LABELS).map(|_| rng.range(m0, m1)).collect();
        let mut means = [0.0; HEAD_LABELS];
        match contrast.order() {
            None => means[1..].copy_from_slice(&values),
            Some(order) => {
                values.sort_by(f64::total_cmp);
                for (&label, &v) in order.iter().zip(&values) {
                    means[usize::from(label)] = v;
                }
            }
        }
        let mut texture = [0.0; HEAD_LABELS];
        let mut texture_angle = [0.0; HEAD_LABELS];
        for l in 1..HEAD_LABELS {
            texture[l] = rng.range(HEAD_TEXTURE_RANGE.0, HEAD_TEXTURE_RANGE.1);
            texture_angle[l] = rng.range(0.0, std::f64::consts::TAU);
        }
        let angles_deg = [0; 3].map(|_| rng.range(-HEAD_MAX_ANGLE_DEG, HEAD_MAX_ANGLE_DEG));
        let shift_mm = [0; 3].map(|_| rng.range(-HEAD_MAX_SHIFT_MM, HEAD_MAX_SHIFT_MM));
        let scale = [0; 3].map(|_| rng.range(HEAD_SCALE_RANGE.0, HEAD_SCALE_RANGE.1));
        let field_mm = rng.range(HEAD_FIELD_AMPLITUDE_MM.0, HEAD_FIELD_AMPLITUDE_MM.1);
        let crop_mm = [0; 3].map(|_| {
            [0; 2].map(|_| {
                let depth = rng.range(HEAD_CROP_DEPTH_MM.0, HEAD_CROP_DEPTH_MM.1);
                if rng.chance(HEAD_CROP_CHANCE) {
                    depth
                } else {
                    0.0
                }
            })
        });
        let bias = rng.range(HEAD_BIAS_RANGE.0, HEAD_BIAS_RANGE.1);
        let blur = rng.range(HEAD_BLUR_RANGE.0, HEAD_BLUR_RANGE.1);
        let noise = rng.range(HEAD_NOISE_RANGE.0, HEAD_NOISE_RANGE.1);
        let thick = rng.chance(HEAD_THICK_SLICE_CHANCE);
        let axis = rng.index(3);
        let thickness_mm = rng.range(HEAD_SLICE_THICKNESS_MM.0, HEAD_SLICE_THICKNESS_MM.1);
        let phase_mm = rng.range(0.0, thickness_mm);
        let thick_slices = thick.then_some(ThickSlices {
            axis,
            thickness_mm,
            phase_mm,
        });
        let intensity = rng.log_range(HEAD_INTENSITY_RANGE.0, HEAD_INTENSITY_RANGE.1);
        let keys = [0; 4].map(|_| rng.bits());
        HeadDraws {
            contrast,
            means,
            texture,
            angles_deg,
            shift_mm,
            scale,
            field_mm,
            crop_mm,
            bias,
            blur,
            noise,
            thick_slices,
            intensity,
            texture_angle,
            keys,
        }
    }

    /// These draws with the parts that `options` switch off made neutral (no rotation, shift,
    /// scaling or field without [`HeadOptions::deform`]; no blur, bias, noise, thick slices or
    /// crop without [`HeadOptions::acquisition`]).
    pub fn restricted_to(mut self, options: &HeadOptions) -> HeadDraws {
        if !options.deform {
            self.angles_deg = [0.0; 3];
            self.shift_mm = [0.0; 3];
            self.scale = [1.0; 3];
            self.field_mm = 0.0;
        }
        if !options.acquisition {
            self.crop_mm = [[0.0; 2]; 3];
            self.bias = 0.0;
            self.blur = 0.0;
            self.noise = 0.0;
            self.thick_slices = None;
        }
        self
    }

    /// The brightest label mean (relative units), which is stored at
    /// [`HeadDraws::intensity`]; at least 10⁻⁶.
    pub fn brightest(&self) -> f64 {
        self.means.iter().copied().fold(1e-6, f64::max)
    }
}

/// What a generated head looks like beyond its seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeadOptions {
    /// Output grid dimensions ([`HEAD_GRID_DIMS`]; at least 2 along each axis).
    pub dims: [usize; 3],
    /// Output voxel size, mm ([`HEAD_VOXEL_MM`]).
    pub voxel_mm: f64,
    /// Random rotation, shift, scaling and smooth field (on by default; off: the anatomy as
    /// it is, its brain centroid at the grid centre).
    pub deform: bool,
    /// Random blur, bias field, noise, thick slices and field-of-view crop (on by default;
    /// off: the noise-free textured label mix at its intensity scale).
    pub acquisition: bool,
}

impl Default for HeadOptions {
    fn default() -> Self {
        HeadOptions {
            dims: HEAD_GRID_DIMS,
            voxel_mm: HEAD_VOXEL_MM,
            deform: true,
            acquisition: true,
        }
    }
}

/// The output grid's `world_from_voxel` for `dims` voxels of `voxel_mm`: RAS axes, the grid
/// centre at world (0, 0, 0) — voxel `v` is at `voxel_mm · (v − (dims − 1) / 2)`. For the
/// default grid: x = 2i − 95, y = 2j − 111, z = 2k − 95 (mm). The world is the generated
/// head's own: its brain centroid is at the drawn shift from the origin.
pub fn output_world_from_voxel(dims: [usize; 3], voxel_mm: f64) -> Affine {
    let mut m = Affine::from_spacing([voxel_mm; 3]);
    for (a, &d) in dims.iter().enumerate() {
        m.0[a][3] = -voxel_mm * 0.5 * (d as f64 - 1.0);
    }
    m
}

/// A real head as a label map on a 1 mm grid (labels [`AIR`] to [`FAT`]), with its brain
/// centroid; cheap to share across threads.
#[derive(Debug, Clone)]
pub struct HeadAnatomy {
    name: String,
    held_out: bool,
    dims: [usize; 3],
    world_from_voxel: Affine,
    voxel_from_world: Affine,
    labels: Vec<u8>,
    brain_centre: [f64; 3],
    counts: [usize; HEAD_LABELS],
    voxel_ml: f64,
}

/// Fewest voxels of each brain tissue, of bone and of soft tissue a head label map must have.
const MIN_CLASS_VOXELS: usize = 1000;

impl HeadAnatomy {
    /// The training heads' folder shipped with the repository (`data/heads`).
    pub fn default_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/heads")
    }

    /// The held-out anatomy's folder (`data/heldout`), where its head is.
    pub fn held_out_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/heldout")
    }

    /// Reads training head `name` ([`head_file`]) from `dir`. Refuses the held-out anatomy
    /// ([`SynthError::HeldOutAnatomy`], naming the file): its head is for out-of-distribution
    /// tests only ([`HeadAnatomy::load_held_out`]).
    pub fn load(dir: &Path, name: &str) -> Result<HeadAnatomy, SynthError> {
        let file = dir.join(head_file(name));
        if is_held_out_name(name) {
            return Err(SynthError::HeldOutAnatomy { file });
        }
        check_not_held_out(&file)?;
        HeadAnatomy::read(&file, name, false)
    }

    /// Reads the held-out anatomy's head (MNI ICBM152, [`HELD_OUT_ANATOMY`]) from `dir`
    /// (normally [`HeadAnatomy::held_out_dir`]): out-of-distribution tests only — the heads
    /// it generates say so ([`SynthHead::held_out`]).
    pub fn load_held_out(dir: &Path) -> Result<HeadAnatomy, SynthError> {
        HeadAnatomy::read(
            &dir.join(head_file(HELD_OUT_ANATOMY)),
            HELD_OUT_ANATOMY,
            true,
        )
    }

    fn read(file: &Path, name: &str, held_out: bool) -> Result<HeadAnatomy, SynthError> {
        let v = read_path(file).map_err(|source| SynthError::Read {
            file: file.to_path_buf(),
            source,
        })?;
        let mut labels = Vec::with_capacity(v.data.len());
        for (voxel, &value) in v.data.iter().enumerate() {
            let l = value as u8;
            if f32::from(l) != value || usize::from(l) >= HEAD_LABELS {
                return Err(SynthError::BadHeadLabel {
                    file: file.to_path_buf(),
                    value,
                    voxel,
                });
            }
            labels.push(l);
        }
        HeadAnatomy::build(labels, v.dims(), v.world_from_voxel(), name, held_out, file)
    }

    /// A training head from a label map in memory (labels [`AIR`] to [`FAT`], x fastest) on a
    /// grid of `dims` placed by `world_from_voxel`; `name` names it (a held-out name is
    /// refused).
    pub fn from_labels(
        labels: Vec<u8>,
        dims: [usize; 3],
        world_from_voxel: Affine,
        name: &str,
    ) -> Result<HeadAnatomy, SynthError> {
        let file = PathBuf::from(name);
        if is_held_out_name(name) {
            return Err(SynthError::HeldOutAnatomy { file });
        }
        if let Some((voxel, &l)) = labels
            .iter()
            .enumerate()
            .find(|(_, &l)| usize::from(l) >= HEAD_LABELS)
        {
            return Err(SynthError::BadHeadLabel {
                file,
                value: f32::from(l),
                voxel,
            });
        }
        HeadAnatomy::build(labels, dims, world_from_voxel, name, false, &file)
    }

    fn build(
        labels: Vec<u8>,
        dims: [usize; 3],
        world_from_voxel: Affine,
        name: &str,
        held_out: bool,
        file: &Path,
    ) -> Result<HeadAnatomy, SynthError> {
        let grid_error = |why: String| SynthError::HeadGrid {
            file: file.to_path_buf(),
            why,
        };
        if labels.len() != dims.iter().product::<usize>() {
            return Err(grid_error(format!(
                "{} labels for a grid of {dims:?}",
                labels.len()
            )));
        }
        let voxel_from_world = world_from_voxel
            .inverse()
            .ok_or_else(|| grid_error("its voxel-to-world affine is singular".into()))?;
        let mut counts = [0usize; HEAD_LABELS];
        let mut sum = [0f64; 3];
        for (i, &l) in labels.iter().enumerate() {
            counts[usize::from(l)] += 1;
            if (CSF..=WHITE_MATTER).contains(&l) {
                let p = [
                    (i % dims[0]) as f64,
                    ((i / dims[0]) % dims[1]) as f64,
                    (i / (dims[0] * dims[1])) as f64,
                ];
                for a in 0..3 {
                    sum[a] += p[a];
                }
            }
        }
        for l in [CSF, GREY_MATTER, WHITE_MATTER, BONE, SOFT_TISSUE] {
            let n = counts[usize::from(l)];
            if n < MIN_CLASS_VOXELS {
                return Err(SynthError::MissingHeadClass {
                    file: file.to_path_buf(),
                    class: HEAD_LABEL_NAMES[usize::from(l)],
                    voxels: n,
                });
            }
        }
        let brain = (counts[1] + counts[2] + counts[3]) as f64;
        let brain_centre = world_from_voxel.apply(sum.map(|s| s / brain));
        let c = world_from_voxel.column_norms();
        Ok(HeadAnatomy {
            name: name.to_owned(),
            held_out,
            dims,
            world_from_voxel,
            voxel_from_world,
            labels,
            brain_centre,
            counts,
            voxel_ml: c[0] * c[1] * c[2] / 1000.0,
        })
    }

    /// Its name (one of [`TRAINING_HEADS`], [`HELD_OUT_ANATOMY`], or the name given to
    /// [`HeadAnatomy::from_labels`]).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this is the held-out anatomy's head (never for training data).
    pub fn is_held_out(&self) -> bool {
        self.held_out
    }

    /// Grid dimensions of the label map.
    pub fn dims(&self) -> [usize; 3] {
        self.dims
    }

    /// The label map's voxel → world (mm) affine.
    pub fn world_from_voxel(&self) -> Affine {
        self.world_from_voxel
    }

    /// The labels, x fastest.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The brain's centroid (labels [`CSF`] to [`WHITE_MATTER`]), world mm.
    pub fn brain_centre(&self) -> [f64; 3] {
        self.brain_centre
    }

    /// Volume (mL) of each label.
    pub fn class_volumes_ml(&self) -> [f64; HEAD_LABELS] {
        self.counts.map(|n| n as f64 * self.voxel_ml)
    }

    /// Volume (mL) of the brain (labels [`CSF`] to [`WHITE_MATTER`]).
    pub fn brain_volume_ml(&self) -> f64 {
        let v = self.class_volumes_ml();
        v[1] + v[2] + v[3]
    }

    /// The label of the voxel nearest to voxel position `p` of the label map ([`AIR`] beyond
    /// the grid).
    pub fn label_at_voxel(&self, p: [f64; 3]) -> u8 {
        let mut idx = 0usize;
        let mut stride = 1usize;
        for (&x, &d) in p.iter().zip(&self.dims) {
            let r = (x + 0.5).floor();
            if !(r >= 0.0 && r < d as f64) {
                return AIR;
            }
            idx += r as usize * stride;
            stride *= d;
        }
        self.labels[idx]
    }

    /// The label at world position `w` (mm; nearest voxel, [`AIR`] beyond the grid).
    pub fn label_at_world(&self, w: [f64; 3]) -> u8 {
        self.label_at_voxel(self.voxel_from_world.apply(w))
    }
}

/// Where the output voxels of one head read the anatomy: output world `o` (mm, grid centre at
/// 0) ↦ anatomy world `c + t + R · diag(1/s) · (o + d(o))`, with `c` the brain centroid, `t`
/// the shift, `R` the rotation, `s` the scaling and `d` the smooth displacement field.
pub struct HeadWarp {
    /// Output voxel → output world.
    output_world_from_voxel: Affine,
    /// Output world → anatomy voxel, linear part.
    linear: Mat3,
    /// Output world → anatomy voxel, offset.
    offset: [f64; 3],
    /// Displacement field, mm per component (`None` without one).
    field: Option<[ValueNoise; 3]>,
    /// Its amplitude, mm.
    amplitude: f32,
}

impl HeadWarp {
    /// The warp of `draws` for `head` on the output grid of `options`.
    pub fn new(head: &HeadAnatomy, draws: &HeadDraws, options: &HeadOptions) -> HeadWarp {
        let output = output_world_from_voxel(options.dims, options.voxel_mm);
        let r = rotation(draws.angles_deg.map(f64::to_radians));
        let v = &head.voxel_from_world.0;
        let vm: Mat3 = [0, 1, 2].map(|i| [v[i][0], v[i][1], v[i][2]]);
        let mut linear = [[0.0; 3]; 3];
        for (i, row) in linear.iter_mut().enumerate() {
            for (j, x) in row.iter_mut().enumerate() {
                *x = (0..3).map(|k| vm[i][k] * r[k][j]).sum::<f64>() / draws.scale[j];
            }
        }
        let centre = [0, 1, 2].map(|a| head.brain_centre[a] + draws.shift_mm[a]);
        let offset = head.voxel_from_world.apply(centre);
        let field = (draws.field_mm > 0.0).then(|| {
            let mut rng = Rand::new(draws.keys[0]);
            let extent = options.dims.map(|d| d as f64 * options.voxel_mm);
            let origin = extent.map(|e| -0.5 * e - options.voxel_mm);
            [0; 3].map(|_| ValueNoise::new(&mut rng, origin, extent, HEAD_FIELD_SPACING_MM))
        });
        HeadWarp {
            output_world_from_voxel: output,
            linear,
            offset,
            field,
            amplitude: draws.field_mm as f32,
        }
    }

    /// The displaced output world position of output world position `o`.
    fn displaced(&self, o: [f64; 3]) -> [f64; 3] {
        match &self.field {
            None => o,
            Some(f) => [0, 1, 2].map(|a| o[a] + f64::from(self.amplitude * f[a].at(o))),
        }
    }

    /// The anatomy voxel position that output voxel position `v` reads.
    pub fn anatomy_voxel(&self, v: [f64; 3]) -> [f64; 3] {
        let o = self.output_world_from_voxel.apply(v);
        let d = mul(&self.linear, self.displaced(o));
        [0, 1, 2].map(|a| d[a] + self.offset[a])
    }
}

/// A smooth function of the output voxel position computed on a coarse lattice (every
/// `stride` voxels along each axis, covering the grid) and interpolated trilinearly: cheap
/// for fields much smoother than the stride (exact for affine ones).
struct Lattice<const C: usize> {
    /// Grid row length.
    width: usize,
    stride: usize,
    n: [usize; 3],
    values: Vec<[f64; C]>,
}

impl<const C: usize> Lattice<C> {
    /// `f` at the lattice points of a grid of `dims`.
    fn new(dims: [usize; 3], stride: usize, f: impl Fn([f64; 3]) -> [f64; C]) -> Lattice<C> {
        let stride = stride.max(1);
        let n = dims.map(|d| d.saturating_sub(1) / stride + 2);
        let mut values = Vec::with_capacity(n[0] * n[1] * n[2]);
        for k in 0..n[2] {
            for j in 0..n[1] {
                for i in 0..n[0] {
                    values.push(f([i, j, k].map(|c| (c * stride) as f64)));
                }
            }
        }
        Lattice {
            width: dims[0],
            stride,
            n,
            values,
        }
    }

    /// The interpolated values along the grid row `(·, j, k)`, `dims[0]` of them, into `out`.
    fn row(&self, j: usize, k: usize, out: &mut Vec<[f64; C]>) {
        let s = self.stride;
        let [nx, ny, _] = self.n;
        let (j0, k0) = (j / s, k / s);
        let (ty, tz) = ((j % s) as f64 / s as f64, (k % s) as f64 / s as f64);
        let w = [
            (1.0 - ty) * (1.0 - tz),
            ty * (1.0 - tz),
            (1.0 - ty) * tz,
            ty * tz,
        ];
        let corners = [
            nx * (j0 + ny * k0),
            nx * (j0 + 1 + ny * k0),
            nx * (j0 + ny * (k0 + 1)),
            nx * (j0 + 1 + ny * (k0 + 1)),
        ];
        let column: Vec<[f64; C]> = (0..nx)
            .map(|i| {
                let mut v = [0.0; C];
                for (c, &wc) in corners.iter().zip(&w) {
                    for (x, y) in v.iter_mut().zip(&self.values[c + i]) {
                        *x += wc * y;
                    }
                }
                v
            })
            .collect();
        out.clear();
        for i in 0..self.width {
            let (i0, t) = (i / s, (i % s) as f64 / s as f64);
            let (a, b) = (&column[i0], &column[i0 + 1]);
            out.push(std::array::from_fn(|c| a[c] + t * (b[c] - a[c])));
        }
    }
}

/// A generated head image with its brain mask, on the output grid (x fastest).
#[derive(Debug, Clone)]
pub struct SynthHead {
    /// The seed.
    pub seed: u64,
    /// The head anatomy's name ([`HeadAnatomy::name`]).
    pub anatomy: String,
    /// Whether that is the held-out anatomy (out-of-distribution tests only).
    pub held_out: bool,
    /// What was drawn and applied.
    pub draws: HeadDraws,
    /// Grid dimensions ([`HeadOptions::dims`]).
    pub dims: [usize; 3],
    /// Voxel → world (mm), [`output_world_from_voxel`].
    pub world_from_voxel: Affine,
    /// The image (stored units, float): Rician magnitudes, so ≥ 0; exactly 0 outside the field
    /// of view.
    pub image: Vec<f32>,
    /// The brain mask: voxels whose 1 mm sub-samples are at least half brain ([`CSF`],
    /// [`GREY_MATTER`], [`WHITE_MATTER`]), inside the field of view.
    pub brain_mask: Vec<bool>,
    /// The most frequent label of each voxel's sub-samples ([`AIR`] outside the field of
    /// view).
    pub labels: Vec<u8>,
}

impl SynthHead {
    /// A NIfTI header for the output grid (float32, RAS, sform and qform).
    pub fn header(&self) -> Header {
        Header::from_affine(self.dims, Datatype::F32, &self.world_from_voxel)
    }

    /// Writes `{id}_image.nii.gz` (float32) and `{id}_brainmask.nii.gz` (uint8, 1 = brain)
    /// into `dir` (created if needed); returns their paths.
    pub fn write(&self, dir: &Path, id: &str) -> Result<[PathBuf; 2], SynthError> {
        std::fs::create_dir_all(dir).map_err(|source| SynthError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let image = dir.join(format!("{id}_image.nii.gz"));
        let mask = dir.join(format!("{id}_brainmask.nii.gz"));
        let header = self.header();
        write_path(&image, &header, &self.image).map_err(|source| SynthError::Write {
            file: image.clone(),
            source,
        })?;
        let m: Vec<u8> = self.brain_mask.iter().map(|&b| u8::from(b)).collect();
        let mask_header = Header::from_affine(self.dims, Datatype::U8, &self.world_from_voxel);
        write_path(&mask, &mask_header, &m).map_err(|source| SynthError::Write {
            file: mask.clone(),
            source,
        })?;
        Ok([image, mask])
    }

    /// Volume (mL) of the brain mask.
    pub fn brain_volume_ml(&self) -> f64 {
        let s = self.world_from_voxel.column_norms();
        self.brain_mask.iter().filter(|&&m| m).count() as f64 * s[0] * s[1] * s[2] / 1000.0
    }
}

/// Generates the head image of seed `seed` on `head` (see the [module](self) for the steps).
///
/// Deterministic: the same head, seed and options give the same voxels, on any thread.
pub fn generate_head(head: &HeadAnatomy, seed: u64, options: &HeadOptions) -> SynthHead {
    let draws = HeadDraws::draw(seed).restricted_to(options);
    let dims = options.dims;
    let n = dims.iter().product::<usize>();
    let vx = options.voxel_mm;
    let world = output_world_from_voxel(dims, vx);
    let warp = HeadWarp::new(head, &draws, options);
    let extent = dims.map(|d| d as f64 * vx);
    let origin = extent.map(|e| -0.5 * e - vx);
    let mut texture_rng = Rand::new(draws.keys[1]);
    let textures =
        [0; 2].map(|_| Fractal::new(&mut texture_rng, origin, extent, HEAD_TEXTURE_SPACING_MM, 2));
    // Per label: mean, and the texture's weights on the two fields (unit standard deviation:
    // a two-octave fractal's is about 1/3).
    let means = draws.means.map(|m| m as f32);
    let weights: [[f32; 2]; HEAD_LABELS] = [0, 1, 2, 3, 4, 5, 6, 7].map(|l| {
        let a = 3.0 * draws.texture[l];
        let t = draws.texture_angle[l];
        [(a * t.cos()) as f32, (a * t.sin()) as f32]
    });
    // The 2 × 2 × 2 sub-sample offsets, in anatomy voxels.
    let q = 0.25;
    let subs: Vec<[f64; 3]> = (0..8)
        .map(|s| {
            let d = [0, 1, 2].map(|a| if s >> a & 1 == 1 { q * vx } else { -q * vx });
            mul(&warp.linear, d)
        })
        .collect();

    // Smooth fields on coarse lattices of the output grid, interpolated per voxel: where each
    // voxel reads the anatomy (every 4 mm), the two texture fields (4 mm), the bias (8 mm).
    let position = Lattice::new(dims, 2, |v| warp.anatomy_voxel(v));
    let texture = Lattice::new(dims, 2, |v| {
        let o = world.apply(v);
        [f64::from(textures[0].at(o)), f64::from(textures[1].at(o))]
    });
    let mut signal = vec![0f32; n];
    let mut labels = vec![AIR; n];
    let mut mask = vec![false; n];
    let (mut p_row, mut t_row) = (Vec::new(), Vec::new());
    let mut idx = 0usize;
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            position.row(j, k, &mut p_row);
            texture.row(j, k, &mut t_row);
            for (p, t) in p_row.iter().zip(&t_row) {
                let mut counts = [0u8; HEAD_LABELS];
                for s in &subs {
                    let l = head.label_at_voxel([p[0] + s[0], p[1] + s[1], p[2] + s[2]]);
                    counts[usize::from(l)] += 1;
                }
                let mut best = 0usize;
                for l in 1..HEAD_LABELS {
                    if counts[l] > counts[best] {
                        best = l;
                    }
                }
                labels[idx] = best as u8;
                mask[idx] = counts[1] + counts[2] + counts[3] >= 4;
                if counts[0] < 8 {
                    let (n1, n2) = (t[0] as f32, t[1] as f32);
                    let mut s = 0f32;
                    for l in 1..HEAD_LABELS {
                        if counts[l] > 0 {
                            let w = &weights[l];
                            let factor = (1.0 + w[0] * n1 + w[1] * n2).max(0.0);
                            s += f32::from(counts[l]) * means[l] * factor;
                        }
                    }
                    signal[idx] = s / 8.0;
                }
                idx += 1;
            }
        }
    }

    gaussian_blur(&mut signal, dims, draws.blur);
    // Bias field and intensity scale: the brightest mean is stored at `intensity`.
    let level = (draws.intensity / draws.brightest()) as f32;
    if draws.bias > 0.0 {
        let mut rng = Rand::new(draws.keys[2]);
        let noise = ValueNoise::new(&mut rng, origin, extent, HEAD_BIAS_SPACING_MM);
        let bias = Lattice::new(dims, 4, |v| [f64::from(noise.at(world.apply(v)))]);
        let b = draws.bias as f32;
        let mut row = Vec::new();
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                bias.row(j, k, &mut row);
                let start = dims[0] * (j + dims[1] * k);
                for (v, f) in signal[start..start + dims[0]].iter_mut().zip(&row) {
                    *v *= level * (1.0 + b * f[0] as f32);
                }
            }
        }
    } else {
        signal.iter_mut().for_each(|v| *v *= level);
    }
    // Noise: on the thick slices' slabs, or per voxel.
    let sigma = (draws.noise * draws.intensity) as f32;
    let noise_key = draws.keys[3];
    let mut image = match &draws.thick_slices {
        Some(t) => {
            let slices = ThickSlices {
                axis: t.axis,
                thickness_mm: t.thickness_mm / vx,
                phase_mm: t.phase_mm / vx,
            };
            let mut slabs = Slabs::sample(&signal, dims, &slices);
            if sigma > 0.0 {
                slabs.add_rician_noise(sigma, noise_key);
            }
            slabs.interpolate()
        }
        None if sigma > 0.0 => signal
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let (n1, n2) = hashed_normal_pair(noise_key, i as u64);
                let re = v + sigma * n1;
                let im = sigma * n2;
                (re * re + im * im).sqrt()
            })
            .collect(),
        None => signal,
    };
    // The field-of-view crop.
    if draws.crop_mm.iter().flatten().any(|&c| c > 0.0) {
        let mut idx = 0usize;
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    let p = [i, j, k];
                    let cut = (0..3).any(|a| {
                        let from_low = (p[a] as f64 + 0.5) * vx;
                        let from_high = (dims[a] as f64 - p[a] as f64 - 0.5) * vx;
                        from_low < draws.crop_mm[a][0] || from_high < draws.crop_mm[a][1]
                    });
                    if cut {
                        image[idx] = 0.0;
                        mask[idx] = false;
                        labels[idx] = AIR;
                    }
                    idx += 1;
                }
            }
        }
    }
    SynthHead {
        seed,
        anatomy: head.name.clone(),
        held_out: head.held_out,
        draws,
        dims,
        world_from_voxel: world,
        image,
        brain_mask: mask,
        labels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_cover_the_seven_tissue_labels_once() {
        for c in [HeadContrast::T1, HeadContrast::T2, HeadContrast::Flair] {
            let mut order = c.order().expect("an order").to_vec();
            order.sort_unstable();
            assert_eq!(order, vec![1, 2, 3, 4, 5, 6, 7], "{c:?}");
        }
        assert!(HeadContrast::Random.order().is_none());
    }

    /// A phantom head on a 2 mm grid centred at world 0: ellipsoidal brain (WM core, GM,
    /// CSF rim) of semi-axes 60 × 75 × 55 mm inside 2 mm of fluid, 6 mm of bone, 4 mm of soft
    /// tissue and 4 mm of fat.
    fn phantom() -> (Vec<u8>, [usize; 3], Affine) {
        let dims = [80, 90, 80];
        let world = output_world_from_voxel(dims, 2.0);
        let axes = [60.0, 75.0, 55.0];
        let mut labels = Vec::new();
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    let w = world.apply([i as f64, j as f64, k as f64]);
                    // Distance-like radius: 1 on the brain surface.
                    let r = (0..3).map(|a| (w[a] / axes[a]).powi(2)).sum::<f64>().sqrt();
                    let mm = (r - 1.0) * 60.0;
                    labels.push(match mm {
                        m if r < 0.6 || m < -20.0 => WHITE_MATTER,
                        m if m < -3.0 => GREY_MATTER,
                        m if m < 0.0 => CSF,
                        m if m < 2.0 => FLUID,
                        m if m < 8.0 => BONE,
                        m if m < 12.0 => SOFT_TISSUE,
                        m if m < 16.0 => FAT,
                        _ => AIR,
                    });
                }
            }
        }
        (labels, dims, world)
    }

    fn phantom_head() -> HeadAnatomy {
        let (labels, dims, world) = phantom();
        HeadAnatomy::from_labels(labels, dims, world, "phantom").expect("a valid phantom")
    }

    #[test]
    fn phantom_heads_load_and_bad_label_maps_are_refused() {
        let head = phantom_head();
        assert!(!head.is_held_out());
        // The brain ellipsoid: 4/3 π a b c.
        let expected = 4.0 / 3.0 * std::f64::consts::PI * 60.0 * 75.0 * 55.0 / 1000.0;
        let brain = head.brain_volume_ml();
        assert!(
            (brain / expected - 1.0).abs() < 0.05,
            "{brain} vs {expected} mL"
        );
        let c = head.brain_centre();
        assert!(c.iter().all(|v| v.abs() < 1.0), "{c:?}");
        assert_eq!(head.label_at_world([0.0, 0.0, 0.0]), WHITE_MATTER);
        assert_eq!(head.label_at_world([70.0, 0.0, 0.0]), SOFT_TISSUE);
        assert_eq!(head.label_at_world([0.0, 0.0, 500.0]), AIR);

        let (labels, dims, world) = phantom();
        let mut bad = labels.clone();
        bad[17] = 8;
        match HeadAnatomy::from_labels(bad, dims, world, "bad") {
            Err(SynthError::BadHeadLabel { value, voxel, .. }) => {
                assert_eq!((value, voxel), (8.0, 17));
            }
            other => panic!("expected a bad label, got {other:?}"),
        }
        let no_bone: Vec<u8> = labels
            .iter()
            .map(|&l| if l == BONE { SOFT_TISSUE } else { l })
            .collect();
        let err = HeadAnatomy::from_labels(no_bone, dims, world, "no-bone").expect_err("no bone");
        assert!(err.to_string().contains("0 bone voxels"), "{err}");
        let err = HeadAnatomy::from_labels(labels.clone(), dims, world, "mni_icbm152_phantom")
            .expect_err("a held-out name");
        assert!(matches!(err, SynthError::HeldOutAnatomy { .. }), "{err}");
        let err = HeadAnatomy::from_labels(labels, [80, 90, 79], world, "short")
            .expect_err("wrong length");
        assert!(err.to_string().contains("for a grid of"), "{err}");
    }

    #[test]
    fn an_undeformed_clean_phantom_head_is_the_label_mix() {
        let head = phantom_head();
        let options = HeadOptions {
            dims: [60, 70, 60],
            voxel_mm: 3.0,
            deform: false,
            acquisition: false,
        };
        let case = generate_head(&head, 11, &options);
        let d = &case.draws;
        assert_eq!(
            (d.noise, d.bias, d.blur, d.thick_slices),
            (0.0, 0.0, 0.0, None)
        );
        assert_eq!(
            (d.angles_deg, d.shift_mm, d.scale),
            ([0.0; 3], [0.0; 3], [1.0; 3])
        );
        // The brain mask is the brain ellipsoid at the grid centre.
        let mask_ml = case.brain_volume_ml();
        assert!(
            (mask_ml / head.brain_volume_ml() - 1.0).abs() < 0.03,
            "{mask_ml} mL"
        );
        let centre = 30 + 60 * (35 + 70 * 30);
        assert!(case.brain_mask[centre] && case.labels[centre] == WHITE_MATTER);
        // Air is exactly 0 without noise; every label's voxels away from the edges average
        // its mean (up to the texture) at the case's scale.
        let level = d.intensity / d.brightest();
        let air: Vec<f32> = case
            .image
            .iter()
            .zip(&case.labels)
            .filter(|(_, &l)| l == AIR)
            .map(|(&v, _)| v)
            .collect();
        let zero = air.iter().filter(|&&v| v == 0.0).count();
        assert!(
            zero as f64 > 0.95 * air.len() as f64,
            "{zero} of {}",
            air.len()
        );
        // Partial volume: an air-majority voxel holds at most half a (textured) tissue mean.
        let most = 0.5 * level * d.brightest() * (1.0 + 3.0 * HEAD_TEXTURE_RANGE.1 * 2f64.sqrt());
        assert!(air.iter().all(|&v| f64::from(v) <= most));
        assert_eq!(case.image[0], 0.0);
        let wm: Vec<f64> = case
            .image
            .iter()
            .zip(&case.labels)
            .filter(|(_, &l)| l == WHITE_MATTER)
            .map(|(&v, _)| f64::from(v))
            .collect();
        let mean = wm.iter().sum::<f64>() / wm.len() as f64;
        let expected = level * d.means[3];
        assert!(
            (mean - expected).abs() <= 0.25 * expected + 1e-3,
            "WM {mean} vs {expected}"
        );
        assert!(case.image.iter().all(|v| v.is_finite() && *v >= 0.0));
    }

    #[test]
    fn lattices_interpolate_affine_fields_exactly() {
        let dims = [13, 7, 6];
        let f = |v: [f64; 3]| [2.0 * v[0] - 3.0 * v[1] + 0.5 * v[2] + 1.0, v[1] * 4.0];
        let lattice = Lattice::new(dims, 4, f);
        let mut row = Vec::new();
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                lattice.row(j, k, &mut row);
                assert_eq!(row.len(), dims[0]);
                for (i, v) in row.iter().enumerate() {
                    let e = f([i as f64, j as f64, k as f64]);
                    assert!((v[0] - e[0]).abs() < 1e-9 && (v[1] - e[1]).abs() < 1e-9);
                }
            }
        }
    }

    #[test]
    fn the_output_grid_is_centred_at_the_origin() {
        let w = output_world_from_voxel(HEAD_GRID_DIMS, HEAD_VOXEL_MM);
        assert_eq!(w.apply([0.0, 0.0, 0.0]), [-95.0, -111.0, -95.0]);
        assert_eq!(w.apply([47.5, 55.5, 47.5]), [0.0, 0.0, 0.0]);
        assert_eq!(w.apply([95.0, 111.0, 95.0]), [95.0, 111.0, 95.0]);
    }
}
