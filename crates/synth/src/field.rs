//! Small 3-D field tools used by the generator: boxes of voxels, smooth value noise,
//! separable Gaussian blur and a chamfer distance transform. All grids are x fastest, in voxel
//! units (the BraTS grid is 1 mm isotropic, so a voxel is a millimetre).

use crate::rng::Rand;

/// An axis-aligned box of voxels inside a larger grid: its first voxel and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// Index of the box's first voxel in the enclosing grid.
    pub lo: [usize; 3],
    /// Size of the box in voxels.
    pub dims: [usize; 3],
}

impl Region {
    /// The whole of a grid.
    pub fn full(dims: [usize; 3]) -> Region {
        Region { lo: [0; 3], dims }
    }

    /// The box from `lo` to `hi` (both inclusive, in voxel coordinates, possibly fractional
    /// or outside), clipped to a grid of size `grid`; `None` when nothing is left.
    pub fn clipped(lo: [f64; 3], hi: [f64; 3], grid: [usize; 3]) -> Option<Region> {
        let mut r = Region {
            lo: [0; 3],
            dims: [0; 3],
        };
        for a in 0..3 {
            let l = lo[a].floor().max(0.0);
            let h = hi[a].ceil().min(grid[a] as f64 - 1.0);
            if h < l || l.is_nan() || h.is_nan() {
                return None;
            }
            r.lo[a] = l as usize;
            r.dims[a] = (h - l) as usize + 1;
        }
        Some(r)
    }

    /// Number of voxels in the box.
    pub fn len(&self) -> usize {
        self.dims[0] * self.dims[1] * self.dims[2]
    }

    /// True when the box holds no voxel.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Index inside the box of the box-local voxel `(i, j, k)`.
    pub fn local(&self, i: usize, j: usize, k: usize) -> usize {
        i + self.dims[0] * (j + self.dims[1] * k)
    }

    /// The sub-box `inner` (given in the same enclosing grid as `self`) expressed in this
    /// box's own coordinates; `inner` must lie inside `self`.
    pub fn relative(&self, inner: &Region) -> Region {
        Region {
            lo: [
                inner.lo[0] - self.lo[0],
                inner.lo[1] - self.lo[1],
                inner.lo[2] - self.lo[2],
            ],
            dims: inner.dims,
        }
    }
}

/// Smooth random noise: uniform values in [-1, 1] on a cubic lattice, interpolated
/// trilinearly with smoothstep weights (C¹ continuous).
pub(crate) struct ValueNoise {
    origin: [f64; 3],
    inv_spacing: f64,
    n: [usize; 3],
    values: Vec<f32>,
}

impl ValueNoise {
    /// Noise covering the box `[origin, origin + extent]` with lattice spacing `spacing`.
    pub(crate) fn new(rng: &mut Rand, origin: [f64; 3], extent: [f64; 3], spacing: f64) -> Self {
        let spacing = spacing.max(0.5);
        let n = extent.map(|e| (e.max(0.0) / spacing).ceil() as usize + 2);
        let values = (0..n[0] * n[1] * n[2])
            .map(|_| rng.range(-1.0, 1.0) as f32)
            .collect();
        ValueNoise {
            origin,
            inv_spacing: 1.0 / spacing,
            n,
            values,
        }
    }

    /// The noise at a point (clamped to the lattice outside the covered box).
    pub(crate) fn at(&self, p: [f64; 3]) -> f32 {
        let mut base = [0usize; 3];
        let mut w = [0f32; 3];
        for a in 0..3 {
            let t = ((p[a] - self.origin[a]) * self.inv_spacing).clamp(0.0, (self.n[a] - 1) as f64);
            let f = t.floor().min((self.n[a] - 2) as f64);
            base[a] = f as usize;
            let u = (t - f) as f32;
            w[a] = u * u * (3.0 - 2.0 * u);
        }
        let [nx, ny, _] = self.n;
        let i0 = base[0] + nx * (base[1] + ny * base[2]);
        let v = &self.values;
        let lerp = |a: f32, b: f32, t: f32| a + (b - a) * t;
        let c00 = lerp(v[i0], v[i0 + 1], w[0]);
        let c10 = lerp(v[i0 + nx], v[i0 + nx + 1], w[0]);
        let c01 = lerp(v[i0 + nx * ny], v[i0 + nx * ny + 1], w[0]);
        let c11 = lerp(v[i0 + nx * ny + nx], v[i0 + nx * ny + nx + 1], w[0]);
        lerp(lerp(c00, c10, w[1]), lerp(c01, c11, w[1]), w[2])
    }
}

/// A sum of [`ValueNoise`] octaves, each at half the spacing and half the amplitude of the
/// previous one, scaled so that its standard deviation is about 1/3 (values stay in [-1, 1]).
pub(crate) struct Fractal {
    layers: Vec<(ValueNoise, f32)>,
}

impl Fractal {
    /// `octaves` layers over the box `[origin, origin + extent]`, the coarsest at `spacing`.
    pub(crate) fn new(
        rng: &mut Rand,
        origin: [f64; 3],
        extent: [f64; 3],
        spacing: f64,
        octaves: usize,
    ) -> Self {
        let mut layers = Vec::with_capacity(octaves);
        let mut amp = 1.0f32;
        let mut total = 0.0f32;
        let mut s = spacing;
        for _ in 0..octaves.max(1) {
            layers.push((ValueNoise::new(rng, origin, extent, s), amp));
            total += amp;
            amp *= 0.5;
            s *= 0.5;
        }
        for l in &mut layers {
            l.1 /= total;
        }
        Fractal { layers }
    }

    /// The noise at a point, in [-1, 1].
    pub(crate) fn at(&self, p: [f64; 3]) -> f32 {
        self.layers.iter().map(|(n, a)| a * n.at(p)).sum()
    }
}

/// Normalised 1-D Gaussian taps for standard deviation `sigma` voxels (radius ⌈2.5σ⌉).
fn gaussian_taps(sigma: f64) -> Vec<f32> {
    let r = (2.5 * sigma).ceil().max(1.0) as i64;
    let taps: Vec<f64> = (-r..=r)
        .map(|t| (-(t * t) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let s: f64 = taps.iter().sum();
    taps.iter().map(|t| (t / s) as f32).collect()
}

/// Separable Gaussian blur of a 3-D field in place, zero outside the grid; `sigma` in voxels
/// (no-op for `sigma` ≤ 0.05).
pub(crate) fn gaussian_blur(data: &mut [f32], dims: [usize; 3], sigma: f64) {
    if sigma <= 0.05 || data.is_empty() {
        return;
    }
    let taps = gaussian_taps(sigma);
    let r = (taps.len() / 2) as isize;
    let [nx, ny, nz] = dims;
    // x: line by line.
    let mut line = vec![0f32; nx];
    for row in data.chunks_exact_mut(nx) {
        line.copy_from_slice(row);
        for (i, out) in row.iter_mut().enumerate() {
            let mut acc = 0.0;
            for (t, w) in taps.iter().enumerate() {
                let ii = i as isize + t as isize - r;
                if ii >= 0 && (ii as usize) < nx {
                    acc += w * line[ii as usize];
                }
            }
            *out = acc;
        }
    }
    // y and z: whole rows / planes at a time, which keeps the memory access sequential.
    let mut src = data.to_vec();
    for (stride, n, block) in [(nx, ny, nx * ny), (nx * ny, nz, nx * ny * nz)] {
        src.copy_from_slice(data);
        data.fill(0.0);
        for outer in (0..data.len()).step_by(block) {
            for j in 0..n {
                let dst = outer + j * stride;
                for (t, w) in taps.iter().enumerate() {
                    let jj = j as isize + t as isize - r;
                    if jj < 0 || jj as usize >= n {
                        continue;
                    }
                    let s = outer + jj as usize * stride;
                    for (d, v) in data[dst..dst + stride].iter_mut().zip(&src[s..s + stride]) {
                        *d += w * v;
                    }
                }
            }
        }
    }
}

/// For every voxel of `mask`, the chamfer distance (26-neighbour weights 1, √2, √3, in
/// voxels) to the nearest voxel outside it; voxels beyond the grid count as outside.
pub(crate) fn depth_inside(mask: &[bool], dims: [usize; 3]) -> Vec<f32> {
    chamfer(mask, dims, 0.0)
}

/// For every voxel, the chamfer distance (as [`depth_inside`]) to the nearest voxel where
/// `target` holds (0 there), ignoring the grid border: infinite when there is no target.
pub(crate) fn distance_to(target: &[bool], dims: [usize; 3]) -> Vec<f32> {
    let inside: Vec<bool> = target.iter().map(|&t| !t).collect();
    chamfer(&inside, dims, f32::INFINITY)
}

/// Two-pass chamfer distance from the voxels outside `mask`, voxels beyond the grid at
/// distance `border`.
fn chamfer(mask: &[bool], dims: [usize; 3], border: f32) -> Vec<f32> {
    let [nx, ny, nz] = dims;
    let mut d: Vec<f32> = mask
        .iter()
        .map(|&m| if m { f32::INFINITY } else { 0.0 })
        .collect();
    // The 13 neighbours that precede a voxel in scan order.
    let mut before = Vec::new();
    for dk in -1i64..=0 {
        for dj in -1i64..=1 {
            for di in -1i64..=1 {
                if (dk, dj, di) < (0, 0, 0) {
                    let w = ((di * di + dj * dj + dk * dk) as f32).sqrt();
                    before.push((di, dj, dk, w));
                }
            }
        }
    }
    let at = |i: i64, j: i64, k: i64| -> Option<usize> {
        (i >= 0 && j >= 0 && k >= 0 && (i as usize) < nx && (j as usize) < ny && (k as usize) < nz)
            .then(|| i as usize + nx * (j as usize + ny * k as usize))
    };
    for pass in 0..2 {
        let sign = if pass == 0 { 1 } else { -1 };
        for step in 0..nx * ny * nz {
            let idx = if pass == 0 {
                step
            } else {
                nx * ny * nz - 1 - step
            };
            if d[idx] == 0.0 {
                continue;
            }
            let (i, j, k) = (
                (idx % nx) as i64,
                ((idx / nx) % ny) as i64,
                (idx / (nx * ny)) as i64,
            );
            let mut best = d[idx];
            for &(di, dj, dk, w) in &before {
                let v = match at(i + sign * di, j + sign * dj, k + sign * dk) {
                    Some(n) => d[n],
                    None => border,
                };
                best = best.min(v + w);
            }
            d[idx] = best;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blur_preserves_mass_and_smooths() {
        let dims = [21, 19, 17];
        let mut f = vec![0f32; dims[0] * dims[1] * dims[2]];
        let c = 10 + 21 * (9 + 19 * 8);
        f[c] = 1.0;
        gaussian_blur(&mut f, dims, 1.2);
        let total: f32 = f.iter().sum();
        assert!((total - 1.0).abs() < 1e-4, "mass {total}");
        assert!(f[c] < 0.1 && f[c] > 0.0);
        // Symmetric about the impulse along each axis.
        assert!((f[c - 1] - f[c + 1]).abs() < 1e-6);
        assert!((f[c - 21] - f[c + 21]).abs() < 1e-6);
        assert!((f[c - 21 * 19] - f[c + 21 * 19]).abs() < 1e-6);
    }

    #[test]
    fn depth_of_a_ball_is_its_radius_minus_distance() {
        let dims = [41, 41, 41];
        let mask: Vec<bool> = (0..41 * 41 * 41)
            .map(|idx| {
                let (i, j, k) = (idx % 41, (idx / 41) % 41, idx / (41 * 41));
                let r2 = (i as f64 - 20.0).powi(2)
                    + (j as f64 - 20.0).powi(2)
                    + (k as f64 - 20.0).powi(2);
                r2 <= 15.0f64.powi(2)
            })
            .collect();
        let d = depth_inside(&mask, dims);
        let centre = d[20 + 41 * (20 + 41 * 20)];
        // The nearest outside voxel is about 15.03 away, e.g. (12, 9, 1) from the centre;
        // chamfer distances overestimate the Euclidean one by at most a few percent.
        assert!((15.0..15.8).contains(&centre), "centre depth {centre}");
        assert_eq!(d[0], 0.0);
        let edge = d[35 + 41 * (20 + 41 * 20)];
        assert!((0.9..1.6).contains(&edge), "edge depth {edge}");
    }

    #[test]
    fn distance_to_ignores_the_grid_border() {
        let dims = [30, 20, 10];
        let region = Region::full(dims);
        let mut target = vec![false; region.len()];
        target[region.local(5, 10, 5)] = true;
        let d = distance_to(&target, dims);
        assert_eq!(d[region.local(5, 10, 5)], 0.0);
        // Along an axis the chamfer distance is exact, whatever the border's nearness.
        assert_eq!(d[region.local(29, 10, 5)], 24.0);
        assert_eq!(d[region.local(5, 0, 5)], 10.0);
        // Off the axes the chamfer weights overestimate the Euclidean distance (by up to 13 %).
        let far = d[region.local(25, 19, 9)];
        let euclid = (400.0f32 + 81.0 + 16.0).sqrt();
        assert!(far >= euclid && far < 1.15 * euclid, "{far} vs {euclid}");
        let none = distance_to(&vec![false; region.len()], dims);
        assert!(none.iter().all(|v| v.is_infinite()));
    }

    #[test]
    fn value_noise_is_bounded_and_continuous() {
        let mut rng = Rand::new(9);
        let n = Fractal::new(&mut rng, [0.0; 3], [50.0; 3], 8.0, 3);
        let mut prev = n.at([0.0, 10.0, 10.0]);
        for s in 1..500 {
            let x = s as f64 * 0.1;
            let v = n.at([x, 10.0, 10.0]);
            assert!((-1.0..=1.0).contains(&v));
            assert!((v - prev).abs() < 0.1, "jump at {x}");
            prev = v;
        }
    }

    #[test]
    fn clipped_regions() {
        let r = Region::clipped([-3.2, 5.5, 2.0], [4.1, 9.0, 300.0], [10, 10, 10]).unwrap();
        assert_eq!(r.lo, [0, 5, 2]);
        assert_eq!(r.dims, [6, 5, 8]);
        assert!(Region::clipped([11.0, 0.0, 0.0], [12.0, 1.0, 1.0], [10, 10, 10]).is_none());
    }
}
