//! Voxel↔world geometry: affines, orientation codes and reorientation.
//!
//! Conventions (defined here, once, for the whole project):
//! - World space is NIfTI's RAS+ scanner space in millimetres: +x = Right, +y = Anterior,
//!   +z = Superior.
//! - Voxel arrays are stored in NIfTI order: x (first index `i`) varies fastest, so the flat
//!   index of voxel `(i, j, k)` is `i + nx * (j + ny * k)`. (The mask-level functions of
//!   [`crate::metrics`] name the axes the other way round, as numpy does; see there.)
//! - Orientation codes follow nibabel's `aff2axcodes`: the letter of voxel axis `n` names the
//!   world direction that *increasing* index along that axis points to ("RAS", "LAS", "LPS"…).
//! - The canonical orientation used for all processing is **RAS**: voxel axis 0 runs to the
//!   Right, axis 1 to Anterior, axis 2 to Superior (nibabel's `as_closest_canonical`).
//!   [`AxisMap`] takes a volume from its native orientation to canonical and back.

/// A 4×4 affine transform in homogeneous coordinates, row-major (`m[row][col]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine(pub [[f64; 4]; 4]);

impl Affine {
    /// The identity transform.
    pub const IDENTITY: Affine = Affine([
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ]);

    /// A diagonal scaling (voxel spacing in mm) with no rotation or offset.
    pub fn from_spacing(spacing_mm: [f64; 3]) -> Affine {
        let mut m = Affine::IDENTITY;
        for (a, s) in spacing_mm.iter().enumerate() {
            m.0[a][a] = *s;
        }
        m
    }

    /// Matrix product `self · rhs` (apply `rhs` first).
    pub fn compose(&self, rhs: &Affine) -> Affine {
        let mut out = [[0.0; 4]; 4];
        for (r, row) in out.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = (0..4).map(|k| self.0[r][k] * rhs.0[k][c]).sum();
            }
        }
        Affine(out)
    }

    /// The inverse transform of an affine map (last row `0 0 0 1`), or `None` when its 3×3
    /// part is singular (relative determinant below 1e-12).
    pub fn inverse(&self) -> Option<Affine> {
        let m = &self.0;
        let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
        let scale = self.column_norms().iter().product::<f64>();
        if !det.is_finite() || scale == 0.0 || det.abs() < 1e-12 * scale {
            return None;
        }
        // Inverse of the 3×3 part by cofactors, then the translation.
        let mut out = Affine::IDENTITY;
        for r in 0..3 {
            for c in 0..3 {
                let (r1, r2) = ((c + 1) % 3, (c + 2) % 3);
                let (c1, c2) = ((r + 1) % 3, (r + 2) % 3);
                out.0[r][c] = (m[r1][c1] * m[r2][c2] - m[r1][c2] * m[r2][c1]) / det;
            }
        }
        let t = [m[0][3], m[1][3], m[2][3]];
        for r in 0..3 {
            out.0[r][3] = -(0..3).map(|k| out.0[r][k] * t[k]).sum::<f64>();
        }
        Some(out)
    }

    /// Maps a point (voxel index or world position) through the transform.
    pub fn apply(&self, p: [f64; 3]) -> [f64; 3] {
        let m = &self.0;
        [0, 1, 2].map(|r| m[r][0] * p[0] + m[r][1] * p[1] + m[r][2] * p[2] + m[r][3])
    }

    /// Length of each column of the 3×3 part: the voxel spacing in mm along each voxel axis.
    pub fn column_norms(&self) -> [f64; 3] {
        [0, 1, 2].map(|c| (0..3).map(|r| self.0[r][c].powi(2)).sum::<f64>().sqrt())
    }

    /// Largest absolute element-wise difference to `other`.
    pub fn max_abs_diff(&self, other: &Affine) -> f64 {
        let mut d: f64 = 0.0;
        for r in 0..4 {
            for c in 0..4 {
                d = d.max((self.0[r][c] - other.0[r][c]).abs());
            }
        }
        d
    }

    /// Whether every element is finite and the 3×3 part is invertible.
    pub fn is_valid(&self) -> bool {
        self.0.iter().flatten().all(|v| v.is_finite()) && self.det3().abs() > 1e-12
    }

    /// The determinant of the 3×3 part: a voxel's volume in mm³ (signed: negative for a
    /// left-handed grid).
    pub fn det3(&self) -> f64 {
        let m = &self.0;
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    }

    /// The world axis (0 = x/R–L, 1 = y/A–P, 2 = z/S–I) and sign that each voxel axis points
    /// to, chosen as nibabel's `io_orientation` does for non-oblique affines: the largest
    /// absolute direction cosine wins, each world axis used once.
    pub fn axis_directions(&self) -> [(usize, bool); 3] {
        let norms = self.column_norms();
        let mut cos = [[0.0f64; 3]; 3];
        for (c, n) in norms.iter().enumerate() {
            for (r, row) in cos.iter_mut().enumerate() {
                row[c] = if *n > 0.0 { self.0[r][c] / n } else { 0.0 };
            }
        }
        let mut out = [(usize::MAX, true); 3];
        let mut used_world = [false; 3];
        for _ in 0..3 {
            let mut best = (0.0f64, 0usize, 0usize);
            for (r, row) in cos.iter().enumerate() {
                for (c, v) in row.iter().enumerate() {
                    if !used_world[r] && out[c].0 == usize::MAX && v.abs() >= best.0 {
                        best = (v.abs(), r, c);
                    }
                }
            }
            let (_, r, c) = best;
            used_world[r] = true;
            out[c] = (r, cos[r][c] >= 0.0);
        }
        out
    }

    /// The three-letter orientation code, e.g. `"RAS"` or `"LPS"` (see the module docs).
    pub fn orientation_code(&self) -> String {
        self.axis_directions()
            .iter()
            .map(|&(world, positive)| axis_letter(world, positive))
            .collect()
    }
}

/// The letter naming world axis `world` (0, 1, 2) in direction `positive`.
pub fn axis_letter(world: usize, positive: bool) -> char {
    match (world, positive) {
        (0, true) => 'R',
        (0, false) => 'L',
        (1, true) => 'A',
        (1, false) => 'P',
        (2, true) => 'S',
        _ => 'I',
    }
}

/// A permutation and flip of voxel axes that takes a native grid to canonical RAS
/// (`canonical_from_native`) and back (`native_from_canonical`).
///
/// Canonical axis `a` is native axis `perm[a]`, traversed backwards when `flip[a]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AxisMap {
    /// For each canonical axis, the native axis it comes from.
    pub perm: [usize; 3],
    /// For each canonical axis, whether the native axis runs the opposite way.
    pub flip: [bool; 3],
    /// Dimensions of the native grid.
    pub native_dims: [usize; 3],
}

impl AxisMap {
    /// The map that brings a grid with affine `world_from_native` and dims `native_dims` to
    /// the closest canonical RAS orientation.
    pub fn to_canonical(world_from_native: &Affine, native_dims: [usize; 3]) -> AxisMap {
        let dirs = world_from_native.axis_directions();
        let mut perm = [0; 3];
        let mut flip = [false; 3];
        for (native, &(world, positive)) in dirs.iter().enumerate() {
            perm[world] = native;
            flip[world] = !positive;
        }
        AxisMap {
            perm,
            flip,
            native_dims,
        }
    }

    /// The identity map for a grid of `dims`.
    pub fn identity(dims: [usize; 3]) -> AxisMap {
        AxisMap {
            perm: [0, 1, 2],
            flip: [false; 3],
            native_dims: dims,
        }
    }

    /// Dimensions of the canonical grid.
    pub fn canonical_dims(&self) -> [usize; 3] {
        self.perm.map(|n| self.native_dims[n])
    }

    /// The voxel transform from canonical indices to native indices.
    pub fn native_from_canonical(&self) -> Affine {
        let mut m = [[0.0; 4]; 4];
        m[3][3] = 1.0;
        for a in 0..3 {
            let n = self.perm[a];
            if self.flip[a] {
                m[n][a] = -1.0;
                m[n][3] = self.native_dims[n] as f64 - 1.0;
            } else {
                m[n][a] = 1.0;
            }
        }
        Affine(m)
    }

    /// The affine of the canonical grid, given the native grid's affine.
    pub fn world_from_canonical(&self, world_from_native: &Affine) -> Affine {
        world_from_native.compose(&self.native_from_canonical())
    }

    /// For walking the canonical grid: the native flat index of canonical voxel 0 and the
    /// native flat-index step of one canonical step along each axis.
    fn native_walk(&self) -> (isize, [isize; 3]) {
        let nd = self.native_dims;
        let nstride = [1, nd[0], nd[0] * nd[1]].map(|s| s as isize);
        let mut start = 0isize;
        let mut step = [0isize; 3];
        for (a, (&n, &flip)) in self.perm.iter().zip(&self.flip).enumerate() {
            if flip {
                start += (nd[n] as isize - 1) * nstride[n];
                step[a] = -nstride[n];
            } else {
                step[a] = nstride[n];
            }
        }
        (start, step)
    }

    /// Calls `f(canonical_index, native_index)` for every voxel, canonical order.
    fn for_each_pair(&self, mut f: impl FnMut(usize, usize)) {
        let cd = self.canonical_dims();
        let (start, step) = self.native_walk();
        let mut c = 0;
        for k in 0..cd[2] {
            let bk = start + k as isize * step[2];
            for j in 0..cd[1] {
                let bj = bk + j as isize * step[1];
                for i in 0..cd[0] {
                    f(c, (bj + i as isize * step[0]) as usize);
                    c += 1;
                }
            }
        }
    }

    /// Reorders (exactly, no interpolation) native-ordered voxels into canonical order.
    pub fn canonical_from_native<T: Copy>(&self, native: &[T]) -> Vec<T> {
        let mut out = Vec::with_capacity(native.len());
        self.for_each_pair(|_, n| out.push(native[n]));
        out
    }

    /// Inverse of [`AxisMap::canonical_from_native`]: canonical-ordered voxels back to native.
    pub fn native_from_canonical_data<T: Copy + Default>(&self, canonical: &[T]) -> Vec<T> {
        let mut out = vec![T::default(); canonical.len()];
        self.for_each_pair(|c, n| out[n] = canonical[c]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn las_affine_maps_to_ras_with_same_world_positions() {
        // BraTS-like LAS grid: x runs right-to-left.
        let mut m = Affine::from_spacing([1.0, 1.0, 1.0]);
        m.0[0][0] = -1.0;
        m.0[0][3] = 239.0;
        assert_eq!(m.orientation_code(), "LAS");
        let map = AxisMap::to_canonical(&m, [240, 240, 155]);
        assert_eq!(map.perm, [0, 1, 2]);
        assert_eq!(map.flip, [true, false, false]);
        let canon = map.world_from_canonical(&m);
        assert_eq!(canon.orientation_code(), "RAS");
        // Canonical voxel 0 is native voxel 239: same world point.
        assert_eq!(canon.apply([0.0, 5.0, 7.0]), m.apply([239.0, 5.0, 7.0]));
    }

    #[test]
    fn permuted_axes_are_detected() {
        // Voxel axis 0 → world z (S), axis 1 → world x (L), axis 2 → world y (P).
        let m = Affine([
            [0.0, -2.0, 0.0, 10.0],
            [0.0, 0.0, -3.0, 20.0],
            [1.5, 0.0, 0.0, 30.0],
            [0.0, 0.0, 0.0, 1.0],
        ]);
        assert_eq!(m.orientation_code(), "SLP");
        assert_eq!(m.column_norms(), [1.5, 2.0, 3.0]);
        let map = AxisMap::to_canonical(&m, [4, 5, 6]);
        assert_eq!(map.canonical_dims(), [5, 6, 4]);
        assert_eq!(map.world_from_canonical(&m).orientation_code(), "RAS");
    }
}
