//! Per-case anatomy: a random smooth deformation of the atlas plus the tumour's mass effect.
//!
//! The map goes from an output voxel `x` to the atlas position it shows (a pull-back, so every
//! output voxel gets exactly one value):
//!
//! `source(x) = c + L·(x − c) + t + d(x)`, then `− L·m(x)` for the mass effect, where
//! - `c` is the atlas brain centre, `L = R(θ)·diag(1/s)` a small rotation (θ ~ N(0, 3°) per
//!   axis, clamped to ±6°) and scaling (`s` in [0.93, 1.07] in-plane, [0.95, 1.04] along z:
//!   head sizes differ by about ±7 %), `t ~ N(0, 2 mm)` a shift;
//! - `d(x)` a smooth random field: two octaves of value noise (lattice 28 and 14 mm) with a
//!   peak amplitude of 4 mm per component, which moves gyri and ventricles by a few
//!   millimetres while keeping the map one-to-one (its largest gradient stays below 1);
//! - `m(x)` the mass effect of each tumour focus: a radial push away from its centre of size
//!   `A·r/R` inside the focus (radius `R`) and `A·(R/r)²` outside, the displacement of a
//!   growing sphere in an incompressible medium, with `A` = 5–30 % of `R` (at most 6 mm).
//!
//! The affine and smooth parts are evaluated on a 4-voxel lattice and interpolated (they are
//! smooth at that scale); the mass effect is evaluated per voxel.
//!
//! **Randomised shape mode** (`ShapeMode::Randomised`, training data) widens every part and
//! adds two:
//! - rotation θ ~ N(0, 7°) per axis clamped to ±15° ([`RANDOM_ANGLE_SD_DEG`],
//!   [`RANDOM_MAX_ANGLE_DEG`]); scaling `s` uniform in [0.85, 1.15] in-plane and
//!   [0.88, 1.06] along z ([`RANDOM_HEAD_SCALE_XY`], [`RANDOM_HEAD_SCALE_Z`]: the BraTS grid
//!   leaves only about 15 mm above the brain); the shift as above;
//! - the smooth field's peak amplitude drawn per case, uniform in 4–10 mm
//!   ([`RANDOM_FIELD_AMPLITUDE_MM`], up to 2.5 × the realistic 4 mm), its coarsest lattice
//!   [`RANDOM_FIELD_SPACING_PER_MM`] × the amplitude (at least 28 mm), so its gradient stays
//!   within that of the realistic field and the map one-to-one;
//! - **ventricle size**: the ventricle surface (of the atlas's deep CSF) moves outwards by
//!   `g` uniform in −1 to +1.5 mm ([`RANDOM_VENTRICLE_GROWTH_MM`]; SRI24's 87 mL of deep
//!   CSF become 42–197 mL, ×0.5–×2.3): by the signed distance from that surface in atlas
//!   space, the ventricular fraction becomes that of the moved surface (a 1 mm ramp); a
//!   growing ventricle takes grey and white matter in proportion (ex-vacuo enlargement), a
//!   shrinking one gives its CSF to white matter, so the brain mask does not change;
//! - **atrophy**: every boundary between sulcal (non-ventricular) CSF and tissue moves into the
//!   tissue by `δ` uniform in 0–0.5 mm ([`RANDOM_ATROPHY_MM`]; sulci up to 1 mm wider, on
//!   SRI24 up to 10 % of the grey matter turned to CSF): the partial-volume CSF fraction `p`
//!   of a boundary voxel becomes `logistic(logit p + 1.702 δ / σ)` (σ the partial-volume
//!   blur, the logistic the usual approximation of the Gaussian edge profile), the grey and
//!   white matter fractions giving up what CSF gains, so the brain mask does not change;
//! - the mass effect of randomised tumour plans ranges from none to a push of 45 % of the
//!   focus radius, at most 15 mm (`tumour::RANDOM_PUSH_FRACTION`, always below the half
//!   of the radius at which the radial push would fold the map).
//!
//! All of it comes from the case's random stream, drawn in place of the realistic
//! deformation: a realistic case makes none of these draws and is unchanged.

use crate::anatomy::{Anatomy, AtlasSample, PARTIAL_VOLUME_SIGMA};
use crate::field::{Fractal, Region};
use crate::rng::Rand;
use crate::tumour::Focus;

/// A 3 × 3 matrix, rows first.
pub(crate) type Mat3 = [[f64; 3]; 3];

/// `m · v`.
pub(crate) fn mul(m: &Mat3, v: [f64; 3]) -> [f64; 3] {
    [0, 1, 2].map(|r| m[r][0] * v[0] + m[r][1] * v[1] + m[r][2] * v[2])
}

/// `a · b`.
fn mat_mul(a: &Mat3, b: &Mat3) -> Mat3 {
    let mut out = [[0.0; 3]; 3];
    for (r, row) in out.iter_mut().enumerate() {
        for (c, v) in row.iter_mut().enumerate() {
            *v = (0..3).map(|k| a[r][k] * b[k][c]).sum();
        }
    }
    out
}

/// The transpose.
pub(crate) fn transpose(m: &Mat3) -> Mat3 {
    [0, 1, 2].map(|r| [m[0][r], m[1][r], m[2][r]])
}

/// Rotation `Rz(γ)·Ry(β)·Rx(α)` for angles `[α, β, γ]` in radians.
pub(crate) fn rotation(angles: [f64; 3]) -> Mat3 {
    let (sa, ca) = angles[0].sin_cos();
    let (sb, cb) = angles[1].sin_cos();
    let (sg, cg) = angles[2].sin_cos();
    let rx = [[1.0, 0.0, 0.0], [0.0, ca, -sa], [0.0, sa, ca]];
    let ry = [[cb, 0.0, sb], [0.0, 1.0, 0.0], [-sb, 0.0, cb]];
    let rz = [[cg, -sg, 0.0], [sg, cg, 0.0], [0.0, 0.0, 1.0]];
    mat_mul(&rz, &mat_mul(&ry, &rx))
}

/// Peak amplitude (mm) of each component of the smooth displacement field.
pub const FIELD_AMPLITUDE_MM: f64 = 4.0;
/// Lattice spacing (mm) of the coarsest octave of the smooth displacement field.
pub const FIELD_SPACING_MM: f64 = 28.0;
/// Spacing (voxels) of the lattice on which the affine + smooth map is evaluated.
const MAP_STEP: usize = 4;

/// Randomised shape mode: range (uniform) of the smooth field's peak amplitude, mm.
pub const RANDOM_FIELD_AMPLITUDE_MM: (f64, f64) = (4.0, 10.0);
/// Randomised shape mode: the smooth field's coarsest lattice spacing per mm of amplitude
/// (and at least [`FIELD_SPACING_MM`]); with it the field's steepest slope, at most
/// `4 × amplitude / spacing` per component, stays below 0.67.
pub const RANDOM_FIELD_SPACING_PER_MM: f64 = 6.0;
/// Randomised shape mode: standard deviation of the rotation about each axis, degrees.
pub const RANDOM_ANGLE_SD_DEG: f64 = 7.0;
/// Randomised shape mode: largest rotation about each axis, degrees.
pub const RANDOM_MAX_ANGLE_DEG: f64 = 15.0;
/// Randomised shape mode: range (uniform) of the head scaling along x and y.
pub const RANDOM_HEAD_SCALE_XY: (f64, f64) = (0.85, 1.15);
/// Randomised shape mode: range (uniform) of the head scaling along z (narrower: the BraTS
/// grid leaves about 15 mm above the brain).
pub const RANDOM_HEAD_SCALE_Z: (f64, f64) = (0.88, 1.06);
/// Randomised shape mode: range (uniform) of the distance (mm) by which the ventricle surface
/// moves outwards (negative: the ventricles shrink).
pub const RANDOM_VENTRICLE_GROWTH_MM: (f64, f64) = (-1.0, 1.5);
/// Randomised shape mode: range (uniform) of the atrophy, the distance (mm) by which every
/// sulcal CSF boundary moves into the tissue.
pub const RANDOM_ATROPHY_MM: (f64, f64) = (0.0, 0.5);
/// Slope of the logistic approximation of the standard normal distribution function.
const LOGISTIC_SLOPE: f64 = 1.702;

/// The parameters of a randomised-shape deformation, drawn before its smooth field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RandomShape {
    /// Rotation angles about x, y, z, radians.
    pub angles: [f64; 3],
    /// Head scaling per axis.
    pub scale: [f64; 3],
    /// Shift, mm.
    pub shift: [f64; 3],
    /// Peak amplitude of the smooth field, mm.
    pub amplitude: f64,
    /// Coarsest lattice spacing of the smooth field, mm.
    pub spacing: f64,
    /// Outward move of the ventricle surface, mm.
    pub ventricle_growth_mm: f64,
    /// Sulcal widening, mm.
    pub atrophy_mm: f64,
}

impl RandomShape {
    /// Draws the parameters (the `RANDOM_*` ranges).
    pub(crate) fn draw(rng: &mut Rand) -> RandomShape {
        let max_angle = RANDOM_MAX_ANGLE_DEG.to_radians();
        let angles = [0; 3].map(|_| {
            (rng.normal() * RANDOM_ANGLE_SD_DEG.to_radians()).clamp(-max_angle, max_angle)
        });
        let (xy, z) = (RANDOM_HEAD_SCALE_XY, RANDOM_HEAD_SCALE_Z);
        let scale = [
            rng.range(xy.0, xy.1),
            rng.range(xy.0, xy.1),
            rng.range(z.0, z.1),
        ];
        let shift = [0; 3].map(|_| rng.normal() * 2.0);
        let (a0, a1) = RANDOM_FIELD_AMPLITUDE_MM;
        let amplitude = rng.range(a0, a1);
        let spacing = (RANDOM_FIELD_SPACING_PER_MM * amplitude).max(FIELD_SPACING_MM);
        let (v0, v1) = RANDOM_VENTRICLE_GROWTH_MM;
        let ventricle_growth_mm = rng.range(v0, v1);
        let (t0, t1) = RANDOM_ATROPHY_MM;
        let atrophy_mm = rng.range(t0, t1);
        RandomShape {
            angles,
            scale,
            shift,
            amplitude,
            spacing,
            ventricle_growth_mm,
            atrophy_mm,
        }
    }
}

/// One case's atlas→output deformation (without the mass effect, which needs the foci).
pub(crate) struct Deformation {
    centre: [f64; 3],
    linear: Mat3,
    inverse_linear: Mat3,
    shift: [f64; 3],
    field: [Fractal; 3],
    /// Peak amplitude (mm) of the smooth field.
    amplitude: f64,
    /// Outward move (mm) of the ventricle surface (0: none).
    ventricle_growth_mm: f32,
    /// The atrophy as a shift of the logit of the sulcal CSF fraction (0: none).
    atrophy_logit: f32,
    /// Drawn in the randomised shape mode (whose larger deformations get a damped inverse).
    randomised: bool,
}

impl Deformation {
    /// Draws a deformation for `anatomy`.
    pub(crate) fn draw(rng: &mut Rand, anatomy: &Anatomy) -> Deformation {
        let dims = anatomy.dims();
        let work = anatomy.work_region();
        let centre = [0, 1, 2].map(|a| work.lo[a] as f64 + 0.5 * (work.dims[a] as f64 - 1.0));
        let max_angle = 6f64.to_radians();
        let angles =
            [0; 3].map(|_| (rng.normal() * 3f64.to_radians()).clamp(-max_angle, max_angle));
        let scale = [
            rng.range(0.93, 1.07),
            rng.range(0.93, 1.07),
            rng.range(0.95, 1.04),
        ];
        let rot = rotation(angles);
        // source offset = R · (offset / s); its inverse is s · Rᵀ.
        let linear = [0, 1, 2].map(|r| [0, 1, 2].map(|c| rot[r][c] / scale[c]));
        let rt = transpose(&rot);
        let inverse_linear = [0, 1, 2].map(|r| [0, 1, 2].map(|c| scale[r] * rt[r][c]));
        let shift = [0; 3].map(|_| rng.normal() * 2.0);
        let extent = dims.map(|d| d as f64);
        let field = [0; 3].map(|_| Fractal::new(rng, [0.0; 3], extent, FIELD_SPACING_MM, 2));
        Deformation {
            centre,
            linear,
            inverse_linear,
            shift,
            field,
            amplitude: FIELD_AMPLITUDE_MM,
            ventricle_growth_mm: 0.0,
            atrophy_logit: 0.0,
            randomised: false,
        }
    }

    /// Draws a deformation for `anatomy` in the randomised shape mode (see the module
    /// documentation).
    pub(crate) fn draw_randomised(rng: &mut Rand, anatomy: &Anatomy) -> Deformation {
        let p = RandomShape::draw(rng);
        let dims = anatomy.dims();
        let work = anatomy.work_region();
        let centre = [0, 1, 2].map(|a| work.lo[a] as f64 + 0.5 * (work.dims[a] as f64 - 1.0));
        let rot = rotation(p.angles);
        let linear = [0, 1, 2].map(|r| [0, 1, 2].map(|c| rot[r][c] / p.scale[c]));
        let rt = transpose(&rot);
        let inverse_linear = [0, 1, 2].map(|r| [0, 1, 2].map(|c| p.scale[r] * rt[r][c]));
        let extent = dims.map(|d| d as f64);
        let field = [0; 3].map(|_| Fractal::new(rng, [0.0; 3], extent, p.spacing, 2));
        Deformation {
            centre,
            linear,
            inverse_linear,
            shift: p.shift,
            field,
            amplitude: p.amplitude,
            ventricle_growth_mm: p.ventricle_growth_mm as f32,
            atrophy_logit: (LOGISTIC_SLOPE * p.atrophy_mm / PARTIAL_VOLUME_SIGMA) as f32,
            randomised: true,
        }
    }

    /// The atlas position shown at output voxel `x` (without mass effect).
    pub(crate) fn source(&self, x: [f64; 3]) -> [f64; 3] {
        let off = [0, 1, 2].map(|a| x[a] - self.centre[a]);
        let lin = mul(&self.linear, off);
        [0, 1, 2].map(|a| {
            self.centre[a] + lin[a] + self.shift[a] + self.amplitude * self.field[a].at(x) as f64
        })
    }

    /// The output voxel that shows atlas position `s` (fixed-point inversion of
    /// [`Deformation::source`], accurate to well below a voxel).
    pub(crate) fn inverse(&self, s: [f64; 3]) -> [f64; 3] {
        let mut x = s;
        if self.randomised {
            // Damped steps until the residual is below 0.01 voxel: the larger randomised
            // deformations may overshoot with full ones.
            for _ in 0..80 {
                let r = self.source(x);
                let res = [0, 1, 2].map(|a| s[a] - r[a]);
                if res.iter().map(|v| v * v).sum::<f64>() < 1e-4 {
                    break;
                }
                let step = mul(&self.inverse_linear, res);
                x = [0, 1, 2].map(|a| x[a] + 0.7 * step[a]);
            }
            return x;
        }
        for _ in 0..12 {
            let r = self.source(x);
            let step = mul(&self.inverse_linear, [0, 1, 2].map(|a| s[a] - r[a]));
            x = [0, 1, 2].map(|a| x[a] + step[a]);
        }
        x
    }

    /// The linear part `L` (used to carry the mass effect into atlas space).
    pub(crate) fn linear(&self) -> &Mat3 {
        &self.linear
    }
}

/// The deformed atlas maps on the work region of one case.
pub(crate) struct WarpedAnatomy {
    /// The work region (in the full grid) these arrays cover.
    pub region: Region,
    /// CSF, GM and WM partial-volume fractions.
    pub frac: [Vec<f32>; 3],
    /// Atlas T1 texture (units of the GM→WM contrast).
    pub texture: Vec<f32>,
    /// Ventricular CSF fraction.
    pub ventricle: Vec<f32>,
    /// Brain mask: tissue fractions summing to at least 0.5.
    pub mask: Vec<bool>,
}

impl WarpedAnatomy {
    /// Sum of the tissue fractions at a work-local index.
    pub(crate) fn tissue_sum(&self, i: usize) -> f32 {
        self.frac[0][i] + self.frac[1][i] + self.frac[2][i]
    }
}

/// Radial mass-effect displacement (mm) at distance `r` from a focus of radius `radius` pushed
/// by `push` mm at its surface.
pub(crate) fn mass_effect(r: f64, radius: f64, push: f64) -> f64 {
    if r <= radius {
        push * r / radius
    } else {
        push * (radius / r).powi(2)
    }
}

/// Ventricle resizing at one sample whose signed distance from the ventricle surface is `d`
/// mm: the ventricular fraction becomes that of the surface moved out by `growth` mm (a ramp
/// 1 mm wide), a gain taken from grey and white matter in proportion, a loss given to white
/// matter (the tissue sum does not change).
fn resize_ventricles(mut v: AtlasSample, d: f32, growth: f32) -> AtlasSample {
    let target = (0.5 - (d - growth)).clamp(0.0, 1.0);
    if growth > 0.0 {
        let tissue = v.frac[1] + v.frac[2];
        let gain = (target - v.ventricle).max(0.0).min(tissue);
        if gain > 0.0 {
            let g = (tissue - gain) / tissue;
            v.frac[0] += gain;
            v.ventricle += gain;
            v.frac[1] *= g;
            v.frac[2] *= g;
        }
    } else {
        let loss = (v.ventricle - target).max(0.0).min(v.frac[0]);
        v.frac[0] -= loss;
        v.ventricle -= loss;
        v.frac[2] += loss;
    }
    v
}

/// Atrophy at one sample: the sulcal (non-ventricular) CSF fraction `p` of the CSF + tissue
/// part becomes `logistic(logit p + shift)`, grey and white matter giving up what CSF gains
/// (pure CSF, pure tissue and the ventricles are unchanged; the tissue sum too).
fn widen_csf(mut v: AtlasSample, shift: f32) -> AtlasSample {
    let sulcal = (v.frac[0] - v.ventricle).max(0.0);
    let tissue = v.frac[1] + v.frac[2];
    if sulcal <= 0.0 || tissue <= 0.0 {
        return v;
    }
    let both = sulcal + tissue;
    let p = (sulcal / both).clamp(1e-4, 1.0 - 1e-4);
    let q = 1.0 / (1.0 + (-((p / (1.0 - p)).ln() + shift)).exp());
    let new_tissue = (1.0 - q) * both;
    let g = new_tissue / tissue;
    v.frac[0] += tissue - new_tissue;
    v.frac[1] *= g;
    v.frac[2] *= g;
    v
}

/// Pulls the atlas maps back through `deform` and the foci's mass effect onto `region`.
/// Focus centres are in work-local voxel coordinates.
pub(crate) fn warp(
    anatomy: &Anatomy,
    deform: &Deformation,
    foci: &[Focus],
    region: Region,
) -> WarpedAnatomy {
    let n = region.len();
    // The smooth map on a coarse lattice.
    let nodes = region.dims.map(|d| d / MAP_STEP + 2);
    let mut lattice = Vec::with_capacity(nodes[0] * nodes[1] * nodes[2]);
    for k in 0..nodes[2] {
        for j in 0..nodes[1] {
            for i in 0..nodes[0] {
                let g = [i, j, k].map(|v| (v * MAP_STEP) as f64);
                let x = [0, 1, 2].map(|a| g[a] + region.lo[a] as f64);
                lattice.push(deform.source(x));
            }
        }
    }
    let axis = |d: usize| -> Vec<(usize, f64)> {
        (0..d)
            .map(|v| (v / MAP_STEP, (v % MAP_STEP) as f64 / MAP_STEP as f64))
            .collect()
    };
    let (ax, ay, az) = (
        axis(region.dims[0]),
        axis(region.dims[1]),
        axis(region.dims[2]),
    );
    let lin = *deform.linear();

    let mut frac = [vec![0f32; n], vec![0f32; n], vec![0f32; n]];
    let mut texture = vec![0f32; n];
    let mut ventricle = vec![0f32; n];
    let mut mask = vec![false; n];
    let (sx, sxy) = (nodes[0], nodes[0] * nodes[1]);
    for (k, &(k0, fk)) in az.iter().enumerate() {
        for (j, &(j0, fj)) in ay.iter().enumerate() {
            for (i, &(i0, fi)) in ax.iter().enumerate() {
                let b = i0 + sx * j0 + sxy * k0;
                let mut s = [0f64; 3];
                for (off, w) in [
                    (0, (1.0 - fi) * (1.0 - fj) * (1.0 - fk)),
                    (1, fi * (1.0 - fj) * (1.0 - fk)),
                    (sx, (1.0 - fi) * fj * (1.0 - fk)),
                    (sx + 1, fi * fj * (1.0 - fk)),
                    (sxy, (1.0 - fi) * (1.0 - fj) * fk),
                    (sxy + 1, fi * (1.0 - fj) * fk),
                    (sxy + sx, (1.0 - fi) * fj * fk),
                    (sxy + sx + 1, fi * fj * fk),
                ] {
                    if w != 0.0 {
                        let p = lattice[b + off];
                        for a in 0..3 {
                            s[a] += w * p[a];
                        }
                    }
                }
                let x = [i as f64, j as f64, k as f64];
                let mut push = [0f64; 3];
                for f in foci {
                    let d = [0, 1, 2].map(|a| x[a] - f.centre[a]);
                    let r = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
                    if r > 1e-6 && r < 6.0 * f.plan.radius_mm {
                        let m = mass_effect(r, f.plan.radius_mm, f.push_mm) / r;
                        for a in 0..3 {
                            push[a] += m * d[a];
                        }
                    }
                }
                if push != [0.0; 3] {
                    let p = mul(&lin, push);
                    for a in 0..3 {
                        s[a] -= p[a];
                    }
                }
                let mut v = anatomy.sample(s);
                if deform.ventricle_growth_mm != 0.0 {
                    let d = anatomy.ventricle_distance(s);
                    v = resize_ventricles(v, d, deform.ventricle_growth_mm);
                }
                if deform.atrophy_logit > 0.0 {
                    v = widen_csf(v, deform.atrophy_logit);
                }
                let idx = region.local(i, j, k);
                frac[0][idx] = v.frac[0];
                frac[1][idx] = v.frac[1];
                frac[2][idx] = v.frac[2];
                texture[idx] = v.texture;
                ventricle[idx] = v.ventricle;
                mask[idx] = v.frac[0] + v.frac[1] + v.frac[2] >= 0.5;
            }
        }
    }
    WarpedAnatomy {
        region,
        frac,
        texture,
        ventricle,
        mask,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adamm_volume::nifti_io::Datatype;
    use adamm_volume::{Affine, Header, Volume};

    /// Radii (voxels) of the phantom's layers: ventricle (CSF), WM, GM, sulcal CSF.
    const LAYERS: [f64; 4] = [7.0, 20.0, 25.0, 28.0];

    /// A 64³ phantom brain: a central CSF ball deep enough to be ventricle, white matter, a
    /// grey-matter shell and a CSF shell.
    fn phantom() -> Anatomy {
        let dims = [64usize; 3];
        let c = 31.5;
        let mut t1 = Vec::new();
        let mut tissue = Vec::new();
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    let r = [i, j, k]
                        .map(|v| (v as f64 - c).powi(2))
                        .iter()
                        .sum::<f64>()
                        .sqrt();
                    let t = match LAYERS.iter().position(|&l| r < l) {
                        Some(0) | Some(3) => 1.0,
                        Some(1) => 3.0,
                        Some(_) => 2.0,
                        None => 0.0,
                    };
                    tissue.push(t);
                    t1.push([0.0, 280.0, 490.0, 700.0][t as usize]);
                }
            }
        }
        let header = Header::from_affine(dims, Datatype::F32, &Affine::from_spacing([1.0; 3]));
        let t1 = Volume::new(t1, header.clone()).expect("t1");
        let tissue = Volume::new(tissue, header).expect("tissue");
        Anatomy::from_volumes(&t1, &tissue, std::path::Path::new("phantom")).expect("phantom")
    }

    /// The identity map plus ventricle resizing and atrophy.
    fn identity(anatomy: &Anatomy, ventricle_growth_mm: f32, atrophy_mm: f64) -> Deformation {
        let eye = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        let mut rng = Rand::new(0);
        let extent = anatomy.dims().map(|d| d as f64);
        Deformation {
            centre: [31.5; 3],
            linear: eye,
            inverse_linear: eye,
            shift: [0.0; 3],
            field: [0; 3].map(|_| Fractal::new(&mut rng, [0.0; 3], extent, 28.0, 2)),
            amplitude: 0.0,
            ventricle_growth_mm,
            atrophy_logit: (LOGISTIC_SLOPE * atrophy_mm / PARTIAL_VOLUME_SIGMA) as f32,
            randomised: true,
        }
    }

    #[test]
    fn randomised_shape_draws_stay_in_their_ranges_and_use_them() {
        let mut rng = Rand::new(21);
        let draws: Vec<RandomShape> = (0..3000).map(|_| RandomShape::draw(&mut rng)).collect();
        let inside = |v: f64, (lo, hi): (f64, f64)| (lo..=hi).contains(&v);
        let max_angle = RANDOM_MAX_ANGLE_DEG.to_radians();
        for d in &draws {
            assert!(
                d.angles.iter().all(|a| a.abs() <= max_angle + 1e-12),
                "{d:?}"
            );
            assert!(inside(d.scale[0], RANDOM_HEAD_SCALE_XY), "{d:?}");
            assert!(inside(d.scale[1], RANDOM_HEAD_SCALE_XY), "{d:?}");
            assert!(inside(d.scale[2], RANDOM_HEAD_SCALE_Z), "{d:?}");
            assert!(inside(d.amplitude, RANDOM_FIELD_AMPLITUDE_MM), "{d:?}");
            assert!(d.spacing >= FIELD_SPACING_MM);
            // The documented bound on the field's slope: within the realistic field's 4·4/28.
            assert!(4.0 * d.amplitude / d.spacing <= 0.67, "{d:?}");
            assert!(
                inside(d.ventricle_growth_mm, RANDOM_VENTRICLE_GROWTH_MM),
                "{d:?}"
            );
            assert!(inside(d.atrophy_mm, RANDOM_ATROPHY_MM), "{d:?}");
        }
        // The draws use the ranges, not a corner of them.
        let any = |f: &dyn Fn(&RandomShape) -> bool| draws.iter().any(f);
        assert!(any(&|d| d
            .angles
            .iter()
            .any(|a| a.abs() > 12f64.to_radians())));
        assert!(any(&|d| d
            .angles
            .iter()
            .all(|a| a.abs() < 2f64.to_radians())));
        assert!(any(&|d| d.scale[0] < 0.86) && any(&|d| d.scale[1] > 1.14));
        assert!(any(&|d| d.scale[2] < 0.89) && any(&|d| d.scale[2] > 1.05));
        assert!(any(&|d| d.amplitude > 9.5) && any(&|d| d.amplitude < 4.5));
        assert!(any(&|d| d.ventricle_growth_mm < -0.95) && any(&|d| d.ventricle_growth_mm > 1.45));
        assert!(any(&|d| d.atrophy_mm < 0.02) && any(&|d| d.atrophy_mm > 0.48));
        // Larger than the realistic rotations (σ 3°, at most 6°) in a good share of cases.
        let beyond = draws
            .iter()
            .filter(|d| d.angles.iter().any(|a| a.abs() > 6f64.to_radians()))
            .count();
        assert!(beyond > draws.len() / 2, "{beyond} of {}", draws.len());
    }

    #[test]
    fn randomised_deformations_are_one_to_one_and_invertible() {
        let anatomy = phantom();
        let mut rng = Rand::new(4);
        let mut worst = f64::INFINITY;
        for _ in 0..200 {
            let d = Deformation::draw_randomised(&mut rng, &anatomy);
            for _ in 0..40 {
                let x = [0; 3].map(|_| rng.range(0.0, 63.0));
                let h = 0.25;
                let mut jac = [[0.0; 3]; 3];
                for c in 0..3 {
                    let (mut xp, mut xm) = (x, x);
                    xp[c] += h;
                    xm[c] -= h;
                    let (p, m) = (d.source(xp), d.source(xm));
                    for (r, row) in jac.iter_mut().enumerate() {
                        row[c] = (p[r] - m[r]) / (2.0 * h);
                    }
                }
                let det = jac[0][0] * (jac[1][1] * jac[2][2] - jac[1][2] * jac[2][1])
                    - jac[0][1] * (jac[1][0] * jac[2][2] - jac[1][2] * jac[2][0])
                    + jac[0][2] * (jac[1][0] * jac[2][1] - jac[1][1] * jac[2][0]);
                worst = worst.min(det);
                let back = d.inverse(d.source(x));
                let err = (0..3).map(|a| (back[a] - x[a]).powi(2)).sum::<f64>().sqrt();
                assert!(err < 0.05, "inverse off by {err} at {x:?}");
            }
        }
        assert!(worst > 0.1, "Jacobian determinant down to {worst}");
    }

    #[test]
    fn ventricle_warp_and_atrophy_change_the_csf_as_documented() {
        let anatomy = phantom();
        let region = anatomy.work_region();
        // The signed distance from the ventricle (a ball of radius 7 about the centre).
        for r in [2.0, 4.0, 6.0, 8.0, 11.0] {
            let d = anatomy.ventricle_distance([31.5 + r, 31.5, 31.5]);
            assert!((d - (r as f32 - 7.0)).abs() < 0.8, "at {r}: {d}");
        }
        let total = |w: &WarpedAnatomy, f: &dyn Fn(&WarpedAnatomy, usize) -> f32| {
            (0..w.region.len()).map(|i| f64::from(f(w, i))).sum::<f64>()
        };
        let ventricle = |w: &WarpedAnatomy, i: usize| w.ventricle[i];
        let base = warp(&anatomy, &identity(&anatomy, 0.0, 0.0), &[], region);
        let brain = |w: &WarpedAnatomy, i: usize| w.tissue_sum(i);
        for g in [-1.0f32, 1.5, 3.0] {
            let w = warp(&anatomy, &identity(&anatomy, g, 0.0), &[], region);
            let ratio = total(&w, &ventricle) / total(&base, &ventricle);
            let want = ((LAYERS[0] + f64::from(g)) / LAYERS[0]).powi(3);
            assert!(
                (ratio / want - 1.0).abs() < 0.12,
                "{g} mm: volume ×{ratio}, want ×{want}"
            );
            assert_eq!(w.mask, base.mask);
            assert!((total(&w, &brain) / total(&base, &brain) - 1.0).abs() < 1e-4);
        }
        // Atrophy of 1 mm: the sulcal CSF gains about the GM/CSF boundary's area (the sphere
        // of radius 25) times 1 mm from grey matter; the brain mask and the ventricle stay.
        let w = warp(&anatomy, &identity(&anatomy, 0.0, 1.0), &[], region);
        let sulcal = |w: &WarpedAnatomy, i: usize| (w.frac[0][i] - w.ventricle[i]).max(0.0);
        let grey = |w: &WarpedAnatomy, i: usize| w.frac[1][i];
        let gained = total(&w, &sulcal) - total(&base, &sulcal);
        let nominal = 4.0 * std::f64::consts::PI * LAYERS[2] * LAYERS[2];
        assert!(
            (0.6 * nominal..1.2 * nominal).contains(&gained),
            "sulcal CSF +{gained} voxels, nominal {nominal}"
        );
        let lost = total(&base, &grey) - total(&w, &grey);
        assert!(lost > 0.8 * gained, "GM −{lost}");
        assert_eq!(w.mask, base.mask);
        assert!((total(&w, &ventricle) - total(&base, &ventricle)).abs() < 1e-3);
    }

    #[test]
    fn rotation_is_orthonormal() {
        let r = rotation([0.1, -0.2, 0.3]);
        let p = mat_mul(&r, &transpose(&r));
        for (i, row) in p.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((v - want).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn mass_effect_is_continuous_and_monotone() {
        let (radius, push) = (10.0, 3.0);
        assert!((mass_effect(10.0 - 1e-9, radius, push) - push).abs() < 1e-6);
        assert!((mass_effect(10.0 + 1e-9, radius, push) - push).abs() < 1e-6);
        // The pulled-back radius r − m(r) increases with r: no folding.
        let mut prev = f64::NEG_INFINITY;
        for s in 0..1000 {
            let r = s as f64 * 0.1;
            let v = r - mass_effect(r, radius, push);
            assert!(v > prev);
            prev = v;
        }
    }
}
