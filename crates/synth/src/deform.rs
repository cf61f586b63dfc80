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

use crate::anatomy::Anatomy;
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

/// One case's atlas→output deformation (without the mass effect, which needs the foci).
pub(crate) struct Deformation {
    centre: [f64; 3],
    linear: Mat3,
    inverse_linear: Mat3,
    shift: [f64; 3],
    field: [Fractal; 3],
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
        }
    }

    /// The atlas position shown at output voxel `x` (without mass effect).
    pub(crate) fn source(&self, x: [f64; 3]) -> [f64; 3] {
        let off = [0, 1, 2].map(|a| x[a] - self.centre[a]);
        let lin = mul(&self.linear, off);
        [0, 1, 2].map(|a| {
            self.centre[a]
                + lin[a]
                + self.shift[a]
                + FIELD_AMPLITUDE_MM * self.field[a].at(x) as f64
        })
    }

    /// The output voxel that shows atlas position `s` (fixed-point inversion of
    /// [`Deformation::source`], accurate to well below a voxel).
    pub(crate) fn inverse(&self, s: [f64; 3]) -> [f64; 3] {
        let mut x = s;
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
                let v = anatomy.sample(s);
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
