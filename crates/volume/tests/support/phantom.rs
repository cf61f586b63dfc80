//! A procedural head for the registration tests and benchmark: an ellipsoidal brain (white
//! matter inside a cortical shell) with ventricles, deep grey nuclei, a cerebellum and a tumour
//! (edema, enhancing rim, necrotic core), a smooth texture, and two contrasts of it (T1Gd-like
//! and FLAIR-like, related non-monotonically: grey/white and core/rim are inverted between
//! them). [`scan`] images it on any grid, moved by a rigid transform, with thick-slice
//! averaging and deterministic noise. Included with `#[path]` by `tests/register.rs` and
//! `benches/register.rs`.

#![allow(dead_code)]

use adamm_volume::nifti_io::{Datatype, Header};
use adamm_volume::{Affine, Volume};

/// Centre of the head in anatomy coordinates (mm); the fixed scans' world is anatomy space.
pub const HEAD_CENTRE: [f64; 3] = [2.0, -12.0, 18.0];
/// Semi-axes of the brain (mm).
pub const HEAD_AXES: [f64; 3] = [66.0, 80.0, 58.0];

/// The two contrasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contrast {
    /// T1 after gadolinium: white brighter than grey, enhancing tumour rim brightest.
    T1Gd,
    /// FLAIR: grey brighter than white, CSF dark, edema brightest, core brighter than CSF.
    Flair,
}

/// Tissue classes: background, white, grey, nuclei, CSF, cerebellum, edema, enhancing rim,
/// necrotic core.
const TISSUES: usize = 9;

/// T1Gd and FLAIR intensities of each tissue.
const VALUES: [[f64; TISSUES]; 2] = [
    [0.0, 800.0, 520.0, 640.0, 120.0, 700.0, 600.0, 1000.0, 180.0],
    [0.0, 420.0, 560.0, 470.0, 60.0, 500.0, 820.0, 700.0, 300.0],
];

/// Width (mm) of the logistic edge between tissues: the phantom is smooth at the scale of a
/// voxel, as a scan's partial-volume effect makes real images, so that point samples of it do
/// not alias.
const EDGE_MM: f64 = 0.8;

/// How much of point `u` (head coordinates) is inside the ellipsoid at `centre` with semi-axes
/// `axes`: 1 deep inside, ½ on the surface, 0 far outside (logistic in the approximate signed
/// distance to the surface).
fn membership(u: [f64; 3], centre: [f64; 3], axes: [f64; 3]) -> f64 {
    let d: [f64; 3] = std::array::from_fn(|a| u[a] - centre[a]);
    let q = (0..3).map(|a| (d[a] / axes[a]).powi(2)).sum::<f64>();
    // The distance to the surface along the ray from the centre is at least
    // min_axis · |r − 1|: far from the surface the logistic is 0 or 1 to 5e-5.
    let scale = EDGE_MM / 4.0;
    let margin = 10.0 * scale / axes[0].min(axes[1]).min(axes[2]);
    if q > (1.0 + margin).powi(2) {
        return 0.0;
    }
    if q < (1.0 - margin).max(0.0).powi(2) {
        return 1.0;
    }
    let r = q.sqrt();
    let len = (0..3).map(|a| d[a] * d[a]).sum::<f64>().sqrt();
    // Distance outside the surface along the ray from the centre.
    let outside = if r > 1e-9 { len - len / r } else { -1.0 };
    1.0 / (1.0 + (outside / scale).exp())
}

/// The tissue fractions at anatomy point `p`: each structure drawn over the earlier ones with
/// its membership.
fn tissues(p: [f64; 3]) -> [f64; TISSUES] {
    let u: [f64; 3] = std::array::from_fn(|a| p[a] - HEAD_CENTRE[a]);
    let mut f = [0.0; TISSUES];
    f[0] = 1.0;
    let draw = |f: &mut [f64; TISSUES], tissue: usize, m: f64| {
        if m > 1e-6 {
            for v in f.iter_mut() {
                *v *= 1.0 - m;
            }
            f[tissue] += m;
        }
    };
    let head = membership(u, [0.0; 3], HEAD_AXES);
    if head < 1e-6 {
        return f;
    }
    draw(&mut f, 2, head);
    draw(
        &mut f,
        1,
        membership(u, [0.0; 3], HEAD_AXES.map(|a| a - 9.0)),
    );
    for s in [-1.0, 1.0] {
        draw(
            &mut f,
            3,
            membership(u, [21.0 * s, -4.0, -2.0], [8.0, 11.0, 8.0]),
        );
        draw(
            &mut f,
            4,
            membership(u, [8.0 * s, 2.0, 6.0], [5.0, 20.0, 9.0]),
        );
    }
    draw(
        &mut f,
        5,
        membership(u, [0.0, -50.0, -30.0], [34.0, 16.0, 14.0]),
    );
    let tumour = [-28.0, 22.0, 16.0];
    draw(&mut f, 6, membership(u, tumour, [20.0; 3]));
    draw(&mut f, 7, membership(u, tumour, [12.0, 11.0, 12.0]));
    draw(&mut f, 8, membership(u, tumour, [6.0, 5.0, 7.0]));
    f
}

/// The noise-free intensity at anatomy point `p` (mm).
pub fn intensity(p: [f64; 3], contrast: Contrast) -> f64 {
    let f = tissues(p);
    if f[0] >= 1.0 {
        return 0.0;
    }
    let values = &VALUES[contrast as usize];
    let value: f64 = (0..TISSUES).map(|t| f[t] * values[t]).sum();
    let u: [f64; 3] = std::array::from_fn(|a| p[a] - HEAD_CENTRE[a]);
    let texture = 1.0
        + 0.06 * (u[0] / 6.0).sin() * (u[1] / 7.0 + 1.0).sin() * (u[2] / 5.0 + 2.0).sin()
        + 0.04 * ((u[0] + u[1]) / 11.0).sin();
    value * texture
}

/// A standard-normal-ish deterministic number for voxel `index` (Irwin–Hall of 4 uniforms).
fn noise(seed: u64, index: u64) -> f64 {
    let mut s = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut sum = 0.0;
    for _ in 0..4 {
        // splitmix64
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        sum += (z >> 11) as f64 / (1u64 << 53) as f64;
    }
    (sum - 2.0) / (4.0f64 / 12.0).sqrt()
}

/// How a scan is imaged.
#[derive(Debug, Clone, Copy)]
pub struct Imaging {
    /// The contrast.
    pub contrast: Contrast,
    /// Points per voxel along voxel axis 2 averaged for the slice profile (1 = point sampling).
    pub slice_samples: usize,
    /// Noise standard deviation as a fraction of white matter's intensity (magnitude image:
    /// |value + noise|).
    pub noise: f64,
    /// Noise seed.
    pub seed: u64,
}

/// The phantom imaged on a grid of `dims` and `world_from_voxel`, its anatomy placed in that
/// world by `world_from_anatomy` (a scan of the moved patient: the moving scan's
/// `moving_world_from_fixed_world`).
pub fn scan(
    dims: [usize; 3],
    world_from_voxel: &Affine,
    world_from_anatomy: &Affine,
    imaging: Imaging,
) -> Volume {
    let anatomy_from_voxel = world_from_anatomy
        .inverse()
        .expect("a rigid transform")
        .compose(world_from_voxel);
    let white = intensity(HEAD_CENTRE, imaging.contrast);
    let sigma = imaging.noise * white;
    let n = imaging.slice_samples.max(1);
    let offsets: Vec<f64> = (0..n).map(|m| (m as f64 + 0.5) / n as f64 - 0.5).collect();
    let mut data = Vec::with_capacity(dims.iter().product());
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            for i in 0..dims[0] {
                let mut v = 0.0;
                for &o in &offsets {
                    let p = anatomy_from_voxel.apply([i as f64, j as f64, k as f64 + o]);
                    v += intensity(p, imaging.contrast);
                }
                let index = (i + dims[0] * (j + dims[1] * k)) as u64;
                let v = (v / n as f64 + sigma * noise(imaging.seed, index)).abs();
                data.push(v as f32);
            }
        }
    }
    let header = Header::from_affine(dims, Datatype::F32, world_from_voxel);
    Volume::new(data, header).expect("a valid volume")
}

/// A grid affine with spacing `spacing_mm`, voxel axes turned by `rotation` (direction cosines
/// as columns) and the grid's centre at `centre_mm`.
pub fn grid_affine(
    dims: [usize; 3],
    spacing_mm: [f64; 3],
    rotation: [[f64; 3]; 3],
    centre_mm: [f64; 3],
) -> Affine {
    let mut m = Affine::IDENTITY;
    for (row, cosines) in m.0.iter_mut().zip(&rotation) {
        for c in 0..3 {
            row[c] = cosines[c] * spacing_mm[c];
        }
    }
    let mid = dims.map(|n| (n as f64 - 1.0) / 2.0);
    let at_mid = m.apply(mid);
    for r in 0..3 {
        m.0[r][3] = centre_mm[r] - at_mid[r];
    }
    m
}
