//! One synthetic case from a seed: deformation, tumour, contrasts, acquisition effects.

use std::path::{Path, PathBuf};

use adamm_volume::brats::{label, Modality, Naming};
use adamm_volume::nifti_io::write_path;
use adamm_volume::Header;

use crate::anatomy::Anatomy;
use crate::contrast::{
    CaseContrast, Class, CYST_FLUID, CYST_TEXTURE, LESION_TEXTURE, TEXTURE_GAIN,
};
use crate::deform::{warp, Deformation, WarpedAnatomy};
use crate::degrade::{self, Degradations, Slabs, Storage, StoredMask};
use crate::error::SynthError;
use crate::field::{gaussian_blur, Fractal};
use crate::perturb::{self, Perturbation};
use crate::provenance::{Appearance, ModalityAppearance, Provenance};
use crate::rng::{hashed_normal_pair, splitmix64, Rand};
use crate::tumour::{grow, place, Lesion, TumourPlan};

/// Range of the WM signal level (stored units): raw BraTS intensities differ by scanner and
/// protocol over about this range.
pub const SCALE_RANGE: (f64, f64) = (300.0, 1500.0);
/// Range of the Rician noise σ relative to the WM level (SNR 25–65 in white matter).
pub const NOISE_RANGE: (f64, f64) = (0.015, 0.04);
/// Range of the Gaussian blur σ in voxels (point-spread function and interpolation).
pub const BLUR_RANGE: (f64, f64) = (0.35, 0.75);
/// Standard deviation of the linear and quadratic coefficients of the log bias field
/// (coordinates normalised to [-1, 1] over the head): about ±15 % across the brain.
pub const BIAS_SD: (f64, f64) = (0.06, 0.04);
/// Fraction of sulcal CSF voxels that show an enhancing vessel on T1Gd.
pub const VESSEL_FRACTION: f64 = 0.04;
/// Fraction of ventricular CSF that shows enhancing choroid plexus on T1Gd.
pub const CHOROID_FRACTION: f64 = 0.20;

/// Randomised acquisition (training data, [`AcquisitionMode::Randomised`]): range of the WM
/// signal level (stored units), from low-range scanners' exports to 12-bit scales.
pub const RANDOM_SCALE_RANGE: (f64, f64) = (100.0, 5000.0);
/// Randomised acquisition: range of the Rician noise σ relative to WM (SNR 12–100).
pub const RANDOM_NOISE_RANGE: (f64, f64) = (0.01, 0.08);
/// Randomised acquisition: range of the Gaussian blur σ in voxels.
pub const RANDOM_BLUR_RANGE: (f64, f64) = (0.3, 1.2);
/// Randomised acquisition: standard deviations of the log bias coefficients (linear,
/// quadratic), 2.4 × the realistic ones: about ±35 % across the brain in a median draw, the
/// stronger ones capped at [`RANDOM_BIAS_MAX`].
pub const RANDOM_BIAS_SD: (f64, f64) = (0.144, 0.096);
/// Randomised acquisition: the bias field stays within `×(1 + max)` and `×1/(1 + max)` over
/// the brain (±40 %); a draw that goes further (about 40 % of them) is weakened to reach it
/// (its log coefficients scaled by one common factor, the field's shape kept).
pub const RANDOM_BIAS_MAX: f64 = 0.4;
/// Points per axis of the lattice over the case's box on which a bias field's extremes are
/// found (those inside the inscribed ellipsoid count).
const BIAS_LATTICE: usize = 13;
/// Randomised acquisition: range (log-uniform) of the exponent of the non-linear intensity
/// curve `s ↦ s^γ` applied to the signal relative to WM (WM stays at 1; orderings are kept,
/// contrasts compressed or stretched).
pub const RANDOM_GAMMA_RANGE: (f64, f64) = (0.6, 1.6);

/// Key that separates the generation stream from the plan stream of the same seed.
const GENERATION_STREAM: u64 = 0x6765_6E65_7261_7465;

/// A generated case: four images, labels and the tissue map, all on the anatomy's full grid
/// (x fastest, see `adamm_volume::geometry`).
#[derive(Debug, Clone)]
pub struct SynthCase {
    /// The case seed.
    pub seed: u64,
    /// The anatomy it was built on ([`Anatomy::name`]).
    pub anatomy: String,
    /// Whether that is the held-out anatomy (out-of-distribution tests only).
    pub held_out: bool,
    /// The options it was generated with.
    pub options: GenerateOptions,
    /// The tumour plan it was drawn from.
    pub plan: TumourPlan,
    /// The contrast table (relative to WM) after this case's jitter.
    pub contrast: CaseContrast,
    /// Grid dimensions.
    pub dims: [usize; 3],
    /// T1, T1Gd, T2, FLAIR (in [`Modality::ALL`] order), in stored units. As int16
    /// ([`Storage::Int16`], always in the realistic acquisition) they hold whole numbers in the
    /// int16 range, written as such; as float32 the values written. Realistic: 0 outside
    /// [`SynthCase::mask`], ≥ 1 inside. Randomised: ≥ 0 inside the mask and 0 outside it,
    /// except that an edge resampling ([`Degradations::edge`]) leaves small values of either
    /// sign at the brain edge and in a shell of 1–2 voxels around the mask.
    pub images: [Vec<f32>; 4],
    /// Internal labels: 0 background, NETC = 1, SNFH = 2, ET = 3 (background where the skull
    /// stripping cut the brain away).
    pub labels: Vec<u8>,
    /// The deformed tissue map: 0 outside the brain (and where the skull stripping cut it away
    /// or left a rim of non-brain), 1 CSF, 2 GM, 3 WM (largest fraction), under the tumour too.
    pub tissue: Vec<u8>,
    /// The stored brain mask: the brain (tissue fractions summing to at least 0.5), or in the
    /// randomised acquisition possibly dilated or eroded by the skull stripping
    /// ([`Degradations::stripping`]).
    pub mask: Vec<bool>,
    /// The degradations of the randomised acquisition this case got (none, stored as int16,
    /// in the realistic acquisition).
    pub degradations: Degradations,
    /// The contrast and acquisition each modality was drawn with (written into `synth.json`).
    pub appearance: Appearance,
}

/// Per-modality acquisition parameters.
struct Acquisition {
    /// Stored value of WM signal 1.0.
    scale: f32,
    /// Rician σ, stored units.
    noise: f32,
    /// Blur σ, voxels.
    blur: f64,
    /// Log bias coefficients: x, y, z, x², y², z², xy, xz, yz.
    bias: [f64; 9],
    /// Key of the voxel noise stream.
    noise_key: u64,
    /// Exponent of the intensity curve applied to the signal relative to WM (1: none).
    gamma: f32,
}

/// The ranges an [`AcquisitionMode`] draws from (the constants above).
struct AcquisitionRanges {
    scale: (f64, f64),
    noise: (f64, f64),
    blur: (f64, f64),
    bias_sd: (f64, f64),
    /// Largest bias over the brain, `1 ± max` (`None`: as drawn).
    bias_max: Option<f64>,
    /// `None`: a linear intensity curve (and no draw for it).
    gamma: Option<(f64, f64)>,
}

impl AcquisitionMode {
    fn ranges(self) -> AcquisitionRanges {
        match self {
            AcquisitionMode::Realistic => AcquisitionRanges {
                scale: SCALE_RANGE,
                noise: NOISE_RANGE,
                blur: BLUR_RANGE,
                bias_sd: BIAS_SD,
                bias_max: None,
                gamma: None,
            },
            AcquisitionMode::Randomised => AcquisitionRanges {
                scale: RANDOM_SCALE_RANGE,
                noise: RANDOM_NOISE_RANGE,
                blur: RANDOM_BLUR_RANGE,
                bias_sd: RANDOM_BIAS_SD,
                bias_max: Some(RANDOM_BIAS_MAX),
                gamma: Some(RANDOM_GAMMA_RANGE),
            },
        }
    }
}

impl Acquisition {
    /// One modality's acquisition in `mode`: scale log-uniform, noise and blur uniform, bias
    /// coefficients normal, the intensity-curve exponent log-uniform (randomised mode only).
    fn draw(rng: &mut Rand, mode: AcquisitionMode) -> Acquisition {
        let r = mode.ranges();
        let scale = rng.log_range(r.scale.0, r.scale.1);
        let noise = scale * rng.range(r.noise.0, r.noise.1);
        let blur = rng.range(r.blur.0, r.blur.1);
        let mut bias = [0.0; 9];
        for (n, b) in bias.iter_mut().enumerate() {
            *b = rng.normal() * if n < 3 { r.bias_sd.0 } else { r.bias_sd.1 };
        }
        let gamma = r.gamma.map_or(1.0, |(lo, hi)| rng.log_range(lo, hi));
        let mut acquisition = Acquisition {
            scale: scale as f32,
            noise: noise as f32,
            blur,
            bias,
            noise_key: rng.bits(),
            gamma: gamma as f32,
        };
        if let Some(max) = r.bias_max {
            if acquisition.bias_extreme() > (1.0 + max).ln() {
                acquisition.scale_bias_to(max);
            }
        }
        acquisition
    }

    /// The field's largest excursion over the brain, `|ln b|`.
    fn bias_extreme(&self) -> f64 {
        let (lo, hi) = self.bias_extremes();
        f64::from(lo).ln().abs().max(f64::from(hi).ln().abs())
    }

    /// Rescales the log bias coefficients so that the field's extremes over the brain (see
    /// [`Acquisition::bias_extremes`]) reach `1 ± edge`: the larger of its highest value and
    /// the inverse of its lowest becomes `1 + edge`.
    fn scale_bias_to(&mut self, edge: f64) {
        let extreme = self.bias_extreme();
        if extreme > 0.0 {
            let factor = (1.0 + edge).ln() / extreme;
            self.bias = self.bias.map(|c| c * factor);
        }
    }

    /// Lowest and highest multiplicative bias over the brain: the ellipsoid inscribed in the
    /// box the case is drawn in, the brain's box plus a margin (normalised coordinates `u`
    /// with `|u| ≤ 1`, on a [`BIAS_LATTICE`]³ lattice); the box's corners lie outside the brain.
    fn bias_extremes(&self) -> (f32, f32) {
        let (mut lo, mut hi) = (f32::INFINITY, 0.0f32);
        let steps = BIAS_LATTICE;
        for k in 0..steps {
            for j in 0..steps {
                for i in 0..steps {
                    let u = [i, j, k].map(|n| 2.0 * n as f64 / (steps - 1) as f64 - 1.0);
                    if u.iter().map(|x| x * x).sum::<f64>() > 1.0 + 1e-9 {
                        continue;
                    }
                    let b = self.bias_at(u);
                    lo = lo.min(b);
                    hi = hi.max(b);
                }
            }
        }
        (lo, hi)
    }

    /// What this acquisition of `modality` records in the case's provenance, with the class
    /// means of the case's contrast table.
    fn record(&self, modality: Modality, contrast: &CaseContrast) -> ModalityAppearance {
        let (lo, hi) = self.bias_extremes();
        ModalityAppearance {
            class_means: contrast.table[modality.index()],
            gamma: self.gamma,
            wm_level: self.scale,
            noise: self.noise / self.scale,
            blur_voxels: self.blur as f32,
            bias_range: [lo, hi],
        }
    }

    /// Multiplicative bias at normalised coordinates `u` (each in about [-1, 1]).
    fn bias_at(&self, u: [f64; 3]) -> f32 {
        let c = &self.bias;
        let log = c[0] * u[0]
            + c[1] * u[1]
            + c[2] * u[2]
            + c[3] * u[0] * u[0]
            + c[4] * u[1] * u[1]
            + c[5] * u[2] * u[2]
            + c[6] * u[0] * u[1]
            + c[7] * u[0] * u[2]
            + c[8] * u[1] * u[2];
        log.exp() as f32
    }
}

/// The T1Gd-only enhancement of vessels and choroid plexus: per work voxel, the fraction of
/// the voxel's CSF that enhances as a vessel and as choroid plexus.
fn enhancement_maps(anat: &WarpedAnatomy, rng: &mut Rand) -> (Vec<f32>, Vec<f32>) {
    let region = anat.region;
    let size = region.dims.map(|d| d as f64);
    let vessels = Fractal::new(rng, [0.0; 3], size, 4.0, 2);
    let choroid = Fractal::new(rng, [0.0; 3], size, 6.0, 2);
    let threshold = |noise: &Fractal, rng: &mut Rand, q: f64| {
        let mut v: Vec<f32> = (0..4000)
            .map(|_| noise.at([0, 1, 2].map(|a| rng.range(0.0, size[a]))))
            .collect();
        v.sort_by(f32::total_cmp);
        v[((q * v.len() as f64) as usize).min(v.len() - 1)]
    };
    let tv = threshold(&vessels, rng, 1.0 - VESSEL_FRACTION);
    let tc = threshold(&choroid, rng, 1.0 - CHOROID_FRACTION);
    let n = region.len();
    let mut v = vec![0f32; n];
    let mut c = vec![0f32; n];
    // A soft edge 0.05 wide in noise units keeps the vessels from looking pixelated.
    let soft = |x: f32, t: f32| ((x - t) / 0.05).clamp(0.0, 1.0);
    for k in 0..region.dims[2] {
        for j in 0..region.dims[1] {
            for i in 0..region.dims[0] {
                let idx = region.local(i, j, k);
                if anat.frac[0][idx] < 0.05 {
                    continue;
                }
                let p = [i as f64, j as f64, k as f64];
                if anat.ventricle[idx] > 0.05 {
                    c[idx] = anat.ventricle[idx] * soft(choroid.at(p), tc);
                } else {
                    v[idx] = soft(vessels.at(p), tv);
                }
            }
        }
    }
    (v, c)
}

/// Noise-free signal of one modality on the work region (relative to WM = 1).
fn signal(
    m: Modality,
    anat: &WarpedAnatomy,
    lesion: &Lesion,
    contrast: &CaseContrast,
    enhancement: Option<&(Vec<f32>, Vec<f32>)>,
) -> Vec<f32> {
    let region = anat.region;
    let mu = |c: Class| contrast.get(m, c);
    let (csf, gm, wm) = (mu(Class::Csf), mu(Class::Gm), mu(Class::Wm));
    let texture_unit = TEXTURE_GAIN * (wm - gm);
    let mut s = vec![0f32; region.len()];
    for (idx, out) in s.iter_mut().enumerate() {
        let f = [anat.frac[0][idx], anat.frac[1][idx], anat.frac[2][idx]];
        let sum = f[0] + f[1] + f[2];
        if sum < 1e-3 {
            continue;
        }
        let mut v = f[0] * csf + f[1] * gm + f[2] * wm + texture_unit * anat.texture[idx] * sum;
        if let Some((vessel, choroid)) = enhancement {
            v += f[0] * vessel[idx] * (contrast.vessel - csf)
                + f[0] * choroid[idx] * (contrast.choroid - csf);
        }
        *out = v;
    }
    // Lesion classes, inside the lesion box only.
    let lr = lesion.region;
    for k in 0..lr.dims[2] {
        for j in 0..lr.dims[1] {
            for i in 0..lr.dims[0] {
                let idx = region.local(lr.lo[0] + i, lr.lo[1] + j, lr.lo[2] + k);
                let l = lesion.labels[idx];
                if l == label::BACKGROUND {
                    continue;
                }
                let r = lr.local(i, j, k);
                let sum = anat.tissue_sum(idx).min(1.0);
                let tex = lesion.texture[r];
                s[idx] = match l {
                    label::NETC => {
                        let solid = mu(Class::Netc) * (1.0 + LESION_TEXTURE[0] * tex) * sum;
                        // A cystic core's fluid (randomised shape mode only).
                        match lesion.cyst.get(r) {
                            Some(&w) if w > 0.0 => {
                                let fluid =
                                    CYST_FLUID[m.index()] * csf * (1.0 + CYST_TEXTURE * tex);
                                (1.0 - w) * solid + w * fluid * sum
                            }
                            _ => solid,
                        }
                    }
                    label::ET => mu(Class::Et) * (1.0 + LESION_TEXTURE[2] * tex) * sum,
                    _ => {
                        let w = lesion.edema_weight[r];
                        (1.0 - w) * s[idx]
                            + w * mu(Class::Snfh) * (1.0 + LESION_TEXTURE[1] * tex) * sum
                    }
                };
            }
        }
    }
    s
}

/// How a case's tissue and lesion class means are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContrastMode {
    /// The realistic table with ±6 % jitter ([`crate::CONTRAST`]).
    #[default]
    Realistic,
    /// The randomised table for training: ×0.6–×1.6 per entry under the physical orderings
    /// (`CaseContrast::draw_randomised`).
    Randomised,
}

impl ContrastMode {
    /// `realistic` or `randomised`.
    pub fn name(self) -> &'static str {
        match self {
            ContrastMode::Realistic => "realistic",
            ContrastMode::Randomised => "randomised",
        }
    }
}

impl AcquisitionMode {
    /// `realistic` or `randomised`.
    pub fn name(self) -> &'static str {
        match self {
            AcquisitionMode::Realistic => "realistic",
            AcquisitionMode::Randomised => "randomised",
        }
    }
}

/// How a case's acquisition (intensity scale, noise, blur, bias field, intensity curve) is
/// drawn, per modality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AcquisitionMode {
    /// Raw-BraTS-like: WM at 300–1500, noise 1.5–4 %, blur σ 0.35–0.75, bias about ±15 %,
    /// a linear intensity curve.
    #[default]
    Realistic,
    /// Training data: WM at 100–5000, noise 1–8 %, blur σ 0.3–1.2, bias up to ±40 %, and a
    /// random intensity curve `s^γ`, γ in 0.6–1.6 (the `RANDOM_*` constants); plus the image
    /// degradations of [`crate::degrade`] (thick slices, edge resampling, skull-stripping
    /// errors, float32 storage), drawn by [`Degradations::draw`].
    Randomised,
}

/// How a case's anatomy shape and tumour are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShapeMode {
    /// BraTS-like: small deformations ([`crate::deform`]) and the tumour kinds of
    /// [`TumourPlan::draw`].
    #[default]
    Realistic,
    /// Training data: larger deformations (±15 % scaling, ±15° rotation, 4–10 mm fields),
    /// ventricles grown or shrunk (surface moved −1 to +1.5 mm), sulcal atrophy 0–0.5 mm
    /// ([`crate::deform`]), and the wide tumour distribution of
    /// [`TumourPlan::draw_randomised`] (0.1 to over 300 mL, 1–4 foci, cysts, no to extensive
    /// edema and mass effect, four kinds of location).
    Randomised,
}

impl ShapeMode {
    /// `realistic` or `randomised`.
    pub fn name(self) -> &'static str {
        match self {
            ShapeMode::Realistic => "realistic",
            ShapeMode::Randomised => "randomised",
        }
    }
}

/// Options of [`generate_with`]; the default is what [`generate`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GenerateOptions {
    /// How the contrast table is drawn.
    pub contrast: ContrastMode,
    /// How the acquisition is drawn.
    pub acquisition: AcquisitionMode,
    /// How the anatomy's shape and the tumour are drawn.
    pub shape: ShapeMode,
    /// One factor pushed to the edge of its training range (robustness test sets), on top of
    /// the modes above (normally realistic); `None` for none.
    pub perturbation: Option<Perturbation>,
}

/// Calls `f(i, j, k, index)` for every voxel of a box of `dims`, x fastest (`index` is
/// [`crate::field::Region::local`]).
fn for_each_voxel(dims: [usize; 3], mut f: impl FnMut(usize, usize, usize, usize)) {
    let mut idx = 0;
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            for i in 0..dims[0] {
                f(i, j, k, idx);
                idx += 1;
            }
        }
    }
}

/// Generates the case with seed `seed` (see [`crate::case_seed`] for runs of many cases).
///
/// Deterministic: the same anatomy and seed give the same voxels, on any thread.
pub fn generate(anatomy: &Anatomy, seed: u64) -> SynthCase {
    generate_with(anatomy, seed, &GenerateOptions::default())
}

/// [`generate`] with options (same determinism; the default options give the same case).
pub fn generate_with(anatomy: &Anatomy, seed: u64, options: &GenerateOptions) -> SynthCase {
    let mut plan = match options.shape {
        ShapeMode::Realistic => TumourPlan::draw(seed),
        ShapeMode::Randomised => TumourPlan::draw_randomised(seed),
    };
    // The perturbation's own draws, apart from every other stream of the seed.
    let mut edge = perturb::stream(seed);
    if options.perturbation == Some(Perturbation::SmallTumour) {
        plan = perturb::small_tumour(&plan, &mut edge);
    }
    let mut rng = Rand::new(splitmix64(seed ^ GENERATION_STREAM));
    let (work, deform) = match options.shape {
        ShapeMode::Realistic => (anatomy.work_region(), Deformation::draw(&mut rng, anatomy)),
        ShapeMode::Randomised => (
            anatomy.random_work_region(),
            Deformation::draw_randomised(&mut rng, anatomy),
        ),
    };
    let foci = place(&plan, anatomy, &deform, &work, &mut rng);
    let anat = warp(anatomy, &deform, &foci, work);
    let lesion = grow(&plan, &foci, &anat, &mut rng);
    let mut contrast = match options.contrast {
        ContrastMode::Realistic => CaseContrast::draw(&mut rng, plan.has_enhancement()),
        ContrastMode::Randomised => CaseContrast::draw_randomised(&mut rng, plan.has_enhancement()),
    };
    if options.perturbation == Some(Perturbation::Contrast) {
        contrast = perturb::edge_contrast(&contrast, plan.has_enhancement(), &mut edge);
    }
    let enhancement = enhancement_maps(&anat, &mut rng);
    let mut acquisitions = Modality::ALL.map(|_| Acquisition::draw(&mut rng, options.acquisition));
    for acq in &mut acquisitions {
        match options.perturbation {
            Some(Perturbation::Noise) => acq.noise = acq.scale * RANDOM_NOISE_RANGE.1 as f32,
            Some(Perturbation::Bias) => acq.scale_bias_to(perturb::EDGE_BIAS),
            _ => {}
        }
    }
    let appearance = Appearance::from_fn(|m| acquisitions[m.index()].record(m, &contrast));

    let dims = anatomy.dims();
    let full = dims[0] * dims[1] * dims[2];
    let full_index = |i: usize, j: usize, k: usize| {
        (work.lo[0] + i) + dims[0] * ((work.lo[1] + j) + dims[1] * (work.lo[2] + k))
    };
    let half = work.dims.map(|d| 0.5 * (d as f64 - 1.0).max(1.0));

    // The randomised acquisition's degradations, from their own stream of the seed (so every
    // draw above is the same in both modes).
    let degradations = match (options.perturbation, options.acquisition) {
        (Some(p @ (Perturbation::ThickSlices | Perturbation::StrippingRim)), _) => {
            perturb::edge_degradations(p, &mut edge)
        }
        (_, AcquisitionMode::Realistic) => Degradations::default(),
        (_, AcquisitionMode::Randomised) => Degradations::draw(seed),
    };
    let stored = StoredMask::new(&anat.mask, work.dims, degradations.stripping);
    // Where an image may be non-zero: the stored mask, and the shell of an edge resampling.
    let shell = degradations
        .edge
        .map(|e| degrade::with_shell(&stored.mask, work.dims, e.shell));
    let support = shell.as_deref().unwrap_or(&stored.mask);
    let store = |v: f32| match (options.acquisition, degradations.storage) {
        (AcquisitionMode::Realistic, _) => v.round().clamp(1.0, i16::MAX as f32),
        // `+ 0.0` turns a rounded −0 into 0.
        (AcquisitionMode::Randomised, Storage::Int16) => {
            v.round().clamp(i16::MIN as f32, i16::MAX as f32) + 0.0
        }
        (AcquisitionMode::Randomised, Storage::Float32) => v,
    };

    let images = Modality::ALL.map(|m| {
        let acq = &acquisitions[m.index()];
        let enh = (m == Modality::T1Gd).then_some(&enhancement);
        let mut s = signal(m, &anat, &lesion, &contrast, enh);
        degrade::fill_rim(&mut s, &stored, &anat, m, &contrast, degradations.stripping);
        gaussian_blur(&mut s, work.dims, acq.blur);
        // The noise-free stored signal: intensity curve, bias field and scale.
        let clean = |i: usize, j: usize, k: usize, idx: usize| {
            let u = [
                i as f64 / half[0] - 1.0,
                j as f64 / half[1] - 1.0,
                k as f64 / half[2] - 1.0,
            ];
            let signal = if acq.gamma == 1.0 {
                s[idx]
            } else {
                s[idx].max(0.0).powf(acq.gamma)
            };
            signal * acq.bias_at(u) * acq.scale
        };
        let mut img = vec![0f32; work.len()];
        if let Some(slices) = &degradations.thick_slices[m.index()] {
            // Slab averages of the noise-free signal, Rician noise per slab, interpolated back.
            let mut c = vec![0f32; work.len()];
            for_each_voxel(work.dims, |i, j, k, idx| {
                if s[idx] != 0.0 {
                    c[idx] = clean(i, j, k, idx);
                }
            });
            let mut slabs = Slabs::sample(&c, work.dims, slices);
            slabs.add_rician_noise(acq.noise, acq.noise_key);
            img = slabs.interpolate();
            for (v, &inside) in img.iter_mut().zip(&stored.mask) {
                if !inside {
                    *v = 0.0;
                }
            }
        } else {
            for_each_voxel(work.dims, |i, j, k, idx| {
                if !stored.mask[idx] {
                    return;
                }
                let g = full_index(i, j, k);
                let (n1, n2) = hashed_normal_pair(acq.noise_key, g as u64);
                let re = clean(i, j, k, idx) + acq.noise * n1;
                let im = acq.noise * n2;
                img[idx] = (re * re + im * im).sqrt();
            });
        }
        if let Some(edge) = &degradations.edge {
            degrade::shift_catmull_rom(&mut img, work.dims, edge.shift[m.index()]);
        }
        let mut out = vec![0f32; full];
        for_each_voxel(work.dims, |i, j, k, idx| {
            if support[idx] {
                out[full_index(i, j, k)] = store(img[idx]);
            }
        });
        out
    });

    let mut labels = vec![label::BACKGROUND; full];
    let mut tissue = vec![0u8; full];
    let mut mask = vec![false; full];
    for k in 0..work.dims[2] {
        for j in 0..work.dims[1] {
            for i in 0..work.dims[0] {
                let idx = work.local(i, j, k);
                mask[full_index(i, j, k)] = stored.mask[idx];
                // Brain voxels the skull stripping kept (a dilated rim is no brain).
                if !anat.mask[idx] || !stored.mask[idx] {
                    continue;
                }
                let g = full_index(i, j, k);
                labels[g] = lesion.labels[idx];
                let f = [anat.frac[0][idx], anat.frac[1][idx], anat.frac[2][idx]];
                tissue[g] = if f[2] >= f[1] && f[2] >= f[0] {
                    3
                } else if f[1] >= f[0] {
                    2
                } else {
                    1
                };
            }
        }
    }
    SynthCase {
        seed,
        anatomy: anatomy.name().to_owned(),
        held_out: anatomy.is_held_out(),
        options: *options,
        plan,
        contrast,
        dims,
        images,
        labels,
        tissue,
        mask,
        degradations,
        appearance,
    }
}

/// The case id of case number `index` in a naming scheme: `SYN-GLI-00007-000` (2023 style)
/// or `SynGLI_00007` (2021 style).
pub fn case_id(index: u64, naming: Naming) -> String {
    match naming {
        Naming::Brats2023 => format!("SYN-GLI-{index:05}-000"),
        Naming::Brats2021 => format!("SynGLI_{index:05}"),
    }
}

/// Sum and count of intensities per modality and class, to average over voxels or cases.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ClassTotals {
    /// `[modality][class]` sum of stored intensities.
    pub sum: [[f64; 6]; 4],
    /// `[class]` number of voxels.
    pub count: [usize; 6],
}

impl ClassTotals {
    /// Mean stored intensity of `class` in modality `m`, `None` when the class is absent.
    pub fn mean(&self, m: Modality, class: Class) -> Option<f64> {
        let n = self.count[class.index()];
        (n > 0).then(|| self.sum[m.index()][class.index()] / n as f64)
    }

    /// Mean of `class` in `m` divided by the mean of white matter in `m`.
    pub fn relative(&self, m: Modality, class: Class) -> Option<f64> {
        Some(self.mean(m, class)? / self.mean(m, Class::Wm)?)
    }
}

impl SynthCase {
    /// The class of every brain voxel: its tumour label where it has one, else its tissue.
    pub fn class_at(&self, voxel: usize) -> Option<Class> {
        match (self.labels[voxel], self.tissue[voxel]) {
            (label::NETC, _) => Some(Class::Netc),
            (label::SNFH, _) => Some(Class::Snfh),
            (label::ET, _) => Some(Class::Et),
            (_, 1) => Some(Class::Csf),
            (_, 2) => Some(Class::Gm),
            (_, 3) => Some(Class::Wm),
            _ => None,
        }
    }

    /// Intensity totals per modality and class (tumour-free tissue by the deformed tissue map).
    pub fn class_totals(&self) -> ClassTotals {
        let mut t = ClassTotals::default();
        for v in 0..self.labels.len() {
            if let Some(c) = self.class_at(v) {
                t.count[c.index()] += 1;
                for m in Modality::ALL {
                    t.sum[m.index()][c.index()] += f64::from(self.images[m.index()][v]);
                }
            }
        }
        t
    }

    /// Number of voxels with each internal label 0..=3.
    pub fn label_counts(&self) -> [usize; 4] {
        let mut n = [0usize; 4];
        for &l in &self.labels {
            n[(l as usize).min(3)] += 1;
        }
        n
    }

    /// Writes the case as `<dir>/<id><suffix>.nii.gz`: the four images as int16 (rounded and
    /// clamped to its range) or float32 by [`Degradations::storage`], and the segmentation as
    /// uint8 in `naming`'s label convention, all in `header`'s grid (qform, sform and pixdim
    /// copied), and its [`Provenance`] as `<dir>/synth.json`. Creates `dir`.
    /// Returns the NIfTI paths written (images in [`Modality::ALL`] order, then the
    /// segmentation).
    pub fn write(
        &self,
        header: &Header,
        dir: &Path,
        id: &str,
        naming: Naming,
    ) -> Result<Vec<PathBuf>, SynthError> {
        std::fs::create_dir_all(dir).map_err(|source| SynthError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut written = Vec::with_capacity(5);
        for m in Modality::ALL {
            let file = dir.join(format!("{id}{}.nii.gz", m.suffix(naming)));
            let image = &self.images[m.index()];
            match self.degradations.storage {
                Storage::Int16 => {
                    let (lo, hi) = (f32::from(i16::MIN), f32::from(i16::MAX));
                    let data: Vec<i16> = image
                        .iter()
                        .map(|&v| v.round().clamp(lo, hi) as i16)
                        .collect();
                    write_path(&file, header, &data)
                }
                Storage::Float32 => write_path(&file, header, image),
            }
            .map_err(|source| SynthError::Write {
                file: file.clone(),
                source,
            })?;
            written.push(file);
        }
        let convention = naming.labels();
        let seg: Vec<u8> = self
            .labels
            .iter()
            .map(|&l| convention.file_value(l))
            .collect();
        let file = dir.join(format!("{id}{}.nii.gz", naming.seg_suffix()));
        write_path(&file, header, &seg).map_err(|source| SynthError::Write {
            file: file.clone(),
            source,
        })?;
        written.push(file);
        Provenance {
            generator: "adamm-synth".to_owned(),
            anatomy: self.anatomy.clone(),
            held_out: self.held_out,
            seed: self.seed,
            contrast: self.options.contrast.name().to_owned(),
            acquisition: self.options.acquisition.name().to_owned(),
            shape: self.options.shape.name().to_owned(),
            degradations: self.degradations,
            perturbation: self.options.perturbation.map(|p| p.name().to_owned()),
            appearance: Some(self.appearance.clone()),
        }
        .write(dir)?;
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn randomised_acquisitions_stay_in_their_ranges_and_realistic_ones_are_linear() {
        let mut rng = Rand::new(9);
        let mut gammas = Vec::new();
        let mut extremes = Vec::new();
        for _ in 0..500 {
            let a = Acquisition::draw(&mut rng, AcquisitionMode::Randomised);
            let scale = f64::from(a.scale);
            assert!((RANDOM_SCALE_RANGE.0..=RANDOM_SCALE_RANGE.1).contains(&scale));
            let noise = f64::from(a.noise) / scale;
            assert!(noise >= RANDOM_NOISE_RANGE.0 - 1e-6 && noise <= RANDOM_NOISE_RANGE.1 + 1e-6);
            assert!((RANDOM_BLUR_RANGE.0..=RANDOM_BLUR_RANGE.1).contains(&a.blur));
            let g = f64::from(a.gamma);
            assert!(g >= RANDOM_GAMMA_RANGE.0 - 1e-6 && g <= RANDOM_GAMMA_RANGE.1 + 1e-6);
            gammas.push(g);
            // The bias stays within ±40 % over the brain (the inscribed ellipsoid, probed
            // off the lattice the cap is found on), and is strongest near its edge.
            let extreme = ball_extreme(&a, 20);
            assert!(extreme <= 1.4f64.ln() + 0.02, "bias ×{}", extreme.exp());
            extremes.push(extreme);
            // What the provenance records is what was drawn.
            let contrast = CaseContrast::draw_randomised(&mut rng, true);
            let r = a.record(Modality::T2, &contrast);
            assert_eq!(r.class_means, contrast.table[Modality::T2.index()]);
            assert_eq!(
                (r.gamma, r.wm_level, r.blur_voxels),
                (a.gamma, a.scale, a.blur as f32)
            );
            assert!((f64::from(r.noise) - noise).abs() < 1e-6);
            let [lo, hi] = r.bias_range;
            assert!(lo <= 1.0 && hi >= 1.0, "{lo} {hi}");
            assert!(lo >= 1.0 / 1.4 - 1e-4 && hi <= 1.4 + 1e-4, "{lo} {hi}");
        }
        assert!(gammas.iter().any(|&g| g < 0.8) && gammas.iter().any(|&g| g > 1.3));
        // The cap weakens the strong draws only: weak fields, fields at the cap, and the
        // median near ±35 %.
        let at_cap = extremes.iter().filter(|&&e| e > 1.4f64.ln() - 1e-3).count();
        let weak = extremes.iter().filter(|&&e| e < 1.2f64.ln()).count();
        assert!(at_cap > 100 && at_cap < 300, "{at_cap} of 500 at the cap");
        assert!(weak > 25, "{weak} of 500 within ±20 %");
        let realistic = Acquisition::draw(&mut rng, AcquisitionMode::Realistic);
        assert_eq!(realistic.gamma, 1.0);
    }

    /// Largest `|ln b|` of `a`'s bias over the unit ball, on an `n`³ lattice of [-1, 1]³.
    fn ball_extreme(a: &Acquisition, n: usize) -> f64 {
        let axis: Vec<f64> = (0..n)
            .map(|i| 2.0 * i as f64 / (n - 1) as f64 - 1.0)
            .collect();
        let mut extreme = 0.0f64;
        for &u in &axis {
            for &v in &axis {
                for &w in &axis {
                    if u * u + v * v + w * w <= 1.0 + 1e-9 {
                        extreme = extreme.max(f64::from(a.bias_at([u, v, w])).ln().abs());
                    }
                }
            }
        }
        extreme
    }

    #[test]
    fn the_edge_bias_reaches_forty_percent_and_keeps_the_fields_shape() {
        let mut rng = Rand::new(4);
        for _ in 0..50 {
            let mut a = Acquisition::draw(&mut rng, AcquisitionMode::Realistic);
            let before = a.bias;
            a.scale_bias_to(0.4);
            let extreme = ball_extreme(&a, BIAS_LATTICE);
            assert!(
                (extreme - 1.4f64.ln()).abs() < 1e-4,
                "reaches ±40 %: {extreme}"
            );
            // One common factor on every coefficient: the same field, stronger.
            let ratio = a.bias[0] / before[0];
            for (x, y) in a.bias.iter().zip(before) {
                assert!((x - ratio * y).abs() < 1e-12);
            }
        }
    }
}
