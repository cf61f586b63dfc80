//! Resampling a volume onto another grid through world coordinates.
//!
//! The target grid is given by its dimensions and `world_from_voxel` affine (from its NIfTI
//! header); an extra world-to-world transform (`source_world_from_target_world`, the identity
//! when both scans share a world, a rigid registration's result otherwise) can move the
//! source. Each target voxel centre `v` is mapped to source voxel coordinates
//! `source_voxel_from_world · source_world_from_target_world · target_world_from_voxel · v` and
//! read there, trilinearly or from the nearest voxel. Points more than half a voxel outside the
//! source grid read `fill`; within that half voxel the edge value is used.

use crate::geometry::Affine;
use crate::{Result, Volume, VolumeError};

/// How a value between voxel centres is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpolation {
    /// The nearest voxel's value (label maps).
    Nearest,
    /// Trilinear interpolation of the eight surrounding voxels (intensities).
    Linear,
}

/// A grid to resample onto: dimensions `[nx, ny, nz]` and where its voxels are in the world.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TargetGrid {
    /// Voxels along each axis.
    pub dims: [usize; 3],
    /// Voxel index → world position (mm).
    pub world_from_voxel: Affine,
}

/// The values of `source` at the voxel centres of `target` (x fastest), the source moved by
/// `source_world_from_target_world`.
///
/// Errors when the source's affine or the transform cannot be inverted.
pub fn resample(
    source: &Volume,
    target: &TargetGrid,
    source_world_from_target_world: &Affine,
    interpolation: Interpolation,
    fill: f32,
) -> Result<Vec<f32>> {
    let singular = |what: &'static str| VolumeError::SingularTransform { what };
    let voxel_from_world = source
        .world_from_voxel()
        .inverse()
        .ok_or_else(|| singular("source scan's affine"))?;
    if source_world_from_target_world.inverse().is_none() {
        return Err(singular("transform between the scans"));
    }
    let map = voxel_from_world
        .compose(source_world_from_target_world)
        .compose(&target.world_from_voxel);
    let dims = source.dims();
    let [nx, ny, nz] = target.dims;
    let mut out = Vec::with_capacity(nx * ny * nz);
    let step = [map.0[0][0], map.0[1][0], map.0[2][0]];
    for z in 0..nz {
        for y in 0..ny {
            let mut p = map.apply([0.0, y as f64, z as f64]);
            for _ in 0..nx {
                out.push(sample(&source.data, dims, p, interpolation, fill));
                for a in 0..3 {
                    p[a] += step[a];
                }
            }
        }
    }
    Ok(out)
}

/// The value at voxel coordinates `p` of `data` on `dims`.
fn sample(
    data: &[f32],
    dims: [usize; 3],
    p: [f64; 3],
    interpolation: Interpolation,
    fill: f32,
) -> f32 {
    let mut clamped = [0.0f64; 3];
    for a in 0..3 {
        let n = dims[a] as f64;
        if !(p[a] >= -0.5 && p[a] <= n - 0.5) {
            return fill;
        }
        clamped[a] = p[a].clamp(0.0, n - 1.0);
    }
    let index = |x: usize, y: usize, z: usize| x + dims[0] * (y + dims[1] * z);
    match interpolation {
        Interpolation::Nearest => {
            let [x, y, z] = clamped.map(|c| c.round() as usize);
            data[index(x, y, z)]
        }
        Interpolation::Linear => {
            let lo =
                [0, 1, 2].map(|a| (clamped[a].floor() as usize).min(dims[a].saturating_sub(2)));
            let t = [0, 1, 2].map(|a| clamped[a] - lo[a] as f64);
            let hi = [0, 1, 2].map(|a| (lo[a] + 1).min(dims[a] - 1));
            let mut value = 0.0f64;
            for (dz, wz) in [(lo[2], 1.0 - t[2]), (hi[2], t[2])] {
                for (dy, wy) in [(lo[1], 1.0 - t[1]), (hi[1], t[1])] {
                    for (dx, wx) in [(lo[0], 1.0 - t[0]), (hi[0], t[0])] {
                        let w = wx * wy * wz;
                        if w != 0.0 {
                            value += w * f64::from(data[index(dx, dy, dz)]);
                        }
                    }
                }
            }
            value as f32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nifti_io::Datatype;
    use crate::nifti_io::Header;

    fn volume(
        dims: [usize; 3],
        world_from_voxel: &Affine,
        f: impl Fn([usize; 3]) -> f32,
    ) -> Volume {
        let mut data = Vec::new();
        for z in 0..dims[2] {
            for y in 0..dims[1] {
                for x in 0..dims[0] {
                    data.push(f([x, y, z]));
                }
            }
        }
        let header = Header::from_affine(dims, Datatype::F32, world_from_voxel);
        Volume::new(data, header).expect("a valid volume")
    }

    #[test]
    fn the_same_grid_gives_the_same_values() {
        let affine = Affine::from_spacing([1.0, 2.0, 1.5]);
        let v = volume([5, 4, 3], &affine, |[x, y, z]| {
            (x * 100 + y * 10 + z) as f32
        });
        let target = TargetGrid {
            dims: [5, 4, 3],
            world_from_voxel: affine,
        };
        for interpolation in [Interpolation::Nearest, Interpolation::Linear] {
            let out =
                resample(&v, &target, &Affine::IDENTITY, interpolation, -1.0).expect("resample");
            assert_eq!(out, v.data);
        }
    }

    #[test]
    fn a_linear_field_is_reproduced_on_a_rotated_finer_grid() {
        // value = 2x + 3y − z + 5 in world mm; trilinear interpolation is exact on it.
        let source_affine = Affine([
            [1.2, 0.0, 0.0, -10.0],
            [0.0, 0.9, 0.0, 4.0],
            [0.0, 0.0, 2.0, -7.0],
            [0.0, 0.0, 0.0, 1.0],
        ]);
        let field = |w: [f64; 3]| 2.0 * w[0] + 3.0 * w[1] - w[2] + 5.0;
        let v = volume([20, 24, 12], &source_affine, |i| {
            field(source_affine.apply(i.map(|c| c as f64))) as f32
        });
        let (c, s) = (0.3f64.cos(), 0.3f64.sin());
        let target_affine = Affine([
            [0.5 * c, -0.5 * s, 0.0, -2.0],
            [0.5 * s, 0.5 * c, 0.0, 8.0],
            [0.0, 0.0, 0.7, -1.0],
            [0.0, 0.0, 0.0, 1.0],
        ]);
        let target = TargetGrid {
            dims: [12, 10, 8],
            world_from_voxel: target_affine,
        };
        let out = resample(
            &v,
            &target,
            &Affine::IDENTITY,
            Interpolation::Linear,
            f32::NAN,
        )
        .expect("resample");
        let mut checked = 0;
        for z in 0..8 {
            for y in 0..10 {
                for x in 0..12 {
                    let w = target_affine.apply([x as f64, y as f64, z as f64]);
                    let got = out[x + 12 * (y + 10 * z)];
                    assert!(got.is_finite(), "voxel {x},{y},{z} fell outside");
                    assert!(
                        (f64::from(got) - field(w)).abs() < 1e-3,
                        "{got} vs {}",
                        field(w)
                    );
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 960);
    }

    #[test]
    fn a_world_shift_moves_the_values_and_outside_reads_fill() {
        let affine = Affine::from_spacing([1.0, 1.0, 1.0]);
        let v = volume([6, 1, 1], &affine, |[x, _, _]| x as f32 * 10.0);
        let target = TargetGrid {
            dims: [6, 1, 1],
            world_from_voxel: affine,
        };
        // The source moved 2 mm along +x: target voxel x reads source voxel x + 2.
        let mut shift = Affine::IDENTITY;
        shift.0[0][3] = 2.0;
        for interpolation in [Interpolation::Nearest, Interpolation::Linear] {
            let out = resample(&v, &target, &shift, interpolation, -1.0).expect("resample");
            assert_eq!(out, vec![20.0, 30.0, 40.0, 50.0, -1.0, -1.0]);
        }
    }

    #[test]
    fn nearest_keeps_labels_and_singular_transforms_are_errors() {
        let affine = Affine::from_spacing([1.0, 1.0, 1.0]);
        let v = volume([4, 4, 4], &affine, |[x, y, z]| ((x + y + z) % 3) as f32);
        let target = TargetGrid {
            dims: [7, 7, 7],
            world_from_voxel: Affine::from_spacing([0.5, 0.5, 0.5]),
        };
        let out = resample(&v, &target, &Affine::IDENTITY, Interpolation::Nearest, 0.0)
            .expect("resample");
        assert!(out.iter().all(|&l| l == 0.0 || l == 1.0 || l == 2.0));
        let flat = Affine::from_spacing([1.0, 1.0, 0.0]);
        let err = resample(&v, &target, &flat, Interpolation::Linear, 0.0).expect_err("singular");
        assert!(err.to_string().contains("singular"), "{err}");
    }

    #[test]
    fn the_inverse_undoes_an_affine() {
        let a = Affine([
            [0.9, 0.1, -0.2, 3.0],
            [-0.1, 1.1, 0.05, -4.0],
            [0.2, 0.0, 1.3, 7.5],
            [0.0, 0.0, 0.0, 1.0],
        ]);
        let inv = a.inverse().expect("invertible");
        assert!(inv.compose(&a).max_abs_diff(&Affine::IDENTITY) < 1e-12);
        assert!(Affine::from_spacing([1.0, 0.0, 1.0]).inverse().is_none());
    }
}
