//! Realistic synthetic multi-modal glioma cases on real anatomy, in the BraTS layout.
//!
//! BraTS cannot be downloaded everywhere AdaMM is developed, yet the model must be trained,
//! evaluated and demonstrated. This crate makes cases that look and behave like BraTS: the
//! BraTS grid (240 × 240 × 155, 1 mm, the SRI24 atlas space), skull-stripped with background
//! exactly 0, four modalities T1, T1Gd, T2, FLAIR and a label map NETC = 1, SNFH = 2, ET = 3.
//! What matters most for AdaMM is that the *modality dependencies* are those of real data:
//! enhancing tumour is visible on T1Gd only, edema mostly on FLAIR and T2, necrosis is dark on
//! T1 and bright on T2 — so a missing modality costs what it costs on real cases.
//!
//! # The model, step by step
//!
//! 1. **Anatomy** ([`anatomy`]): the SRI24 atlas T1 and its CSF/GM/WM map (`data/anatomy`),
//!    loaded once. The hard tissue labels are blurred (σ 0.6 voxel) into partial-volume
//!    fractions; the part of the real atlas T1 that the tissue mixture does not explain (deep
//!    grey nuclei, myelination gradients) is kept as a *texture* map in units of the GM→WM
//!    contrast; deep CSF (≥ 12 mm inside the brain) is marked ventricular.
//! 2. **Deformation** ([`deform`]): each case pulls the atlas through a random small
//!    rotation/scaling/shift and a smooth random displacement field (peak 4 mm), so no two
//!    cases share a brain shape; the tumour adds a radial mass effect.
//! 3. **Tumour** ([`tumour`]): a plan (kind, foci, sizes, rim, edema) drawn from the seed;
//!    foci seeded in deep supratentorial white matter, shaped as noisy irregular ellipsoids
//!    with a necrotic core, an enhancing rim of varying thickness and completeness (or no
//!    enhancement at all for low-grade-like cases), and edema grown geodesically along white
//!    matter.
//! 4. **Contrast** ([`contrast`]): each voxel's signal is the partial-volume mixture of its
//!    tissue means plus the atlas texture, replaced by the lesion class means inside the
//!    tumour (edema is mixed with the tissue it infiltrates), with per-case ±6 % jitter of
//!    every class mean. T1Gd adds enhancing sulcal vessels and choroid plexus.
//!
//!    | relative to WM | CSF | GM | WM | NETC | SNFH | ET |
//!    |---|---|---|---|---|---|---|
//!    | T1    | 0.40 | 0.70 | 1 | 0.42 | 0.72 | 0.75 |
//!    | T1Gd  | 0.42 | 0.72 | 1 | 0.44 | 0.75 | 1.80 |
//!    | T2    | 2.60 | 1.35 | 1 | 2.30 | 2.00 | 1.70 |
//!    | FLAIR | 0.30 | 1.20 | 1 | 1.05 | 1.80 | 1.50 |
//!
//!    (NETC of non-enhancing cases: 0.60, 0.62, 1.95, 1.60.) Why these numbers: see
//!    [`contrast`].
//! 5. **Acquisition** ([`generate`](mod@generate)): per modality a Gaussian blur (σ 0.35–0.75 voxel), a
//!    smooth multiplicative bias field (exp of a random quadratic, about ±15 %), a global
//!    scale (WM at 300–1500, like raw BraTS intensities), Rician noise (σ 1.5–4 % of WM, the
//!    magnitude of a complex Gaussian signal), rounding to int16, and the brain mask: exactly
//!    0 outside, at least 1 inside.
//!
//! For training data, [`generate_with`] can randomise the contrast table ([`ContrastMode`]:
//! ×0.6–×1.6 per class mean under the physical orderings) and the acquisition
//! ([`AcquisitionMode`]: WM at 100–5000, noise 1–8 %, blur σ 0.3–1.2, bias up to ±40 % over
//! the brain, an intensity curve `s^γ` with γ in 0.6–1.6), in the spirit of SynthSeg (`adamm synth --mode
//! randomised`). The randomised acquisition also degrades the images as real exports are
//! ([`degrade`]): thick slices of 1–7 mm along a random axis, cubic-resampling ringing with
//! small negative values at the brain edge, a skull stripping that leaves a rim of CSF/dura or
//! cuts into the cortex, and float32 instead of int16 storage; what a case got is recorded in
//! [`SynthCase::degradations`] and its `synth.json`.
//!
//! The randomised shape mode ([`ShapeMode::Randomised`], also part of `--mode randomised`)
//! widens the anatomy and the tumour: head scaling ±15 %, rotations up to ±15°, smooth fields
//! of 4–10 mm, ventricles grown or shrunk and sulcal atrophy ([`deform`]); tumours from
//! [`TumourPlan::draw_randomised`] of 0.1 mL to over 300 mL with 1–4 foci, with or without
//! enhancement, necrosis, cysts (fluid-filled NETC), edema (0–45 mm) and mass effect, in deep,
//! lobar, cortical or periventricular locations ([`tumour`]). Realistic cases do not change.
//!
//! **Whole heads for brain extraction** ([`head`]): besides tumour cases, the crate makes
//! synthetic whole-head images of any contrast with their brain masks, SynthStrip-style, on
//! label maps of real heads (SRI24, Colin27, MNI152 in `data/heads`; the held-out ICBM152 head
//! in `data/heldout`, for tests only): random label means, textures, deformation, orientation,
//! field of view, bias, noise, blur and thick slices, on a 2 mm grid ([`generate_head`]).
//!
//! Everything random comes from the case seed ([`case_seed`] derives it from a run seed and a
//! case index), through ChaCha8 for the draws and a counter-based hash for the voxel noise, so
//! a case is identical whatever the number of threads or cases in the run.
//!
//! ```no_run
//! use adamm_synth::{case_seed, generate, Anatomy};
//! use adamm_volume::brats::Naming;
//! let anatomy = Anatomy::load(&Anatomy::default_dir())?;
//! let case = generate(&anatomy, case_seed(42, 0));
//! case.write(anatomy.header(), "out/SYN-GLI-00000-000".as_ref(), "SYN-GLI-00000-000", Naming::Brats2023)?;
//! # Ok::<(), adamm_synth::SynthError>(())
//! ```

pub mod anatomy;
pub mod contrast;
pub mod deform;
pub mod degrade;
pub mod derive;
pub mod error;
pub mod field;
pub mod generate;
pub mod head;
pub mod perturb;
pub mod provenance;
mod rng;
pub mod tumour;

pub use anatomy::Anatomy;
pub use contrast::{CaseContrast, Class, CONTRAST};
pub use degrade::{Degradations, EdgeResampling, Storage, Stripping, ThickSlices};
pub use error::SynthError;
pub use generate::{
    case_id, generate, generate_with, AcquisitionMode, ClassTotals, ContrastMode, GenerateOptions,
    ShapeMode, SynthCase,
};
pub use head::{generate_head, HeadAnatomy, HeadDraws, HeadOptions, SynthHead};
pub use perturb::Perturbation;
pub use provenance::{Appearance, ModalityAppearance, Provenance, PROVENANCE_FILE};
pub use rng::{anatomy_for, case_seed};
pub use tumour::{Location, TumourKind, TumourPlan};
