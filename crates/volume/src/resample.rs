//! Resampling between a grid and the same grid coarsened by an integer factor.
//!
//! A network that works at 2 mm sees each case through [`block_mean`] (averages of 2×2×2
//! voxel blocks) and hands back probabilities that [`upsample_linear`] returns to the case's
//! own grid. Both treat voxels as cells: coarse voxel `c` covers fine voxels
//! `c·f … c·f + f − 1` along each axis (the last block may be partial), and its centre lies at
//! fine coordinate `c·f + (f − 1)/2`. Volumes are x fastest, `dims = [nx, ny, nz]`.

/// Size of a grid of `dims` coarsened by `factor` (partial blocks at the far ends count).
pub fn coarse_dims(dims: [usize; 3], factor: usize) -> [usize; 3] {
    let f = factor.max(1);
    dims.map(|n| n.div_ceil(f))
}

/// Means of `factor³` blocks (fewer at the far ends) of `data` on `dims`. A factor of 0 or 1
/// returns a copy.
///
/// # Panics
/// If `data.len()` is not the product of `dims` (a programming error, not user data).
pub fn block_mean(data: &[f32], dims: [usize; 3], factor: usize) -> Vec<f32> {
    assert_eq!(
        data.len(),
        dims.iter().product::<usize>(),
        "data and dims disagree"
    );
    if factor <= 1 {
        return data.to_vec();
    }
    let out = coarse_dims(dims, factor);
    let n_out: usize = out.iter().product();
    let mut sum = vec![0.0f64; n_out];
    let mut count = vec![0u32; n_out];
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            let row = dims[0] * (j + dims[1] * k);
            let orow = out[0] * (j / factor + out[1] * (k / factor));
            for i in 0..dims[0] {
                sum[orow + i / factor] += f64::from(data[row + i]);
                count[orow + i / factor] += 1;
            }
        }
    }
    sum.iter()
        .zip(&count)
        .map(|(&s, &n)| (s / f64::from(n.max(1))) as f32)
        .collect()
}

/// Trilinear interpolation of `coarse` (on `coarse_dims(dims, factor)`) back to `dims`,
/// with cell-centred sampling and edge values held beyond the outermost centres. The inverse
/// direction of [`block_mean`]; a factor of 0 or 1 returns a copy.
///
/// # Panics
/// If `coarse.len()` does not match `coarse_dims(dims, factor)`.
pub fn upsample_linear(coarse: &[f32], dims: [usize; 3], factor: usize) -> Vec<f32> {
    if factor <= 1 {
        assert_eq!(
            coarse.len(),
            dims.iter().product::<usize>(),
            "size mismatch"
        );
        return coarse.to_vec();
    }
    let c = coarse_dims(dims, factor);
    assert_eq!(coarse.len(), c.iter().product::<usize>(), "size mismatch");
    // Per axis: for each fine index, the two coarse neighbours and the weight of the second.
    let taps = |axis: usize| -> Vec<(usize, usize, f32)> {
        let f = factor as f64;
        (0..dims[axis])
            .map(|i| {
                let pos = (i as f64 + 0.5) / f - 0.5;
                let last = c[axis] - 1;
                if pos <= 0.0 {
                    (0, 0, 0.0)
                } else if pos >= last as f64 {
                    (last, last, 0.0)
                } else {
                    let lo = pos.floor() as usize;
                    (lo, lo + 1, (pos - lo as f64) as f32)
                }
            })
            .collect()
    };
    let (tx, ty, tz) = (taps(0), taps(1), taps(2));
    let at = |x: usize, y: usize, z: usize| coarse[x + c[0] * (y + c[1] * z)];
    let mut out = Vec::with_capacity(dims.iter().product());
    for &(z0, z1, wz) in &tz {
        for &(y0, y1, wy) in &ty {
            for &(x0, x1, wx) in &tx {
                let lerp = |a: f32, b: f32, w: f32| a + (b - a) * w;
                let plane = |z: usize| {
                    lerp(
                        lerp(at(x0, y0, z), at(x1, y0, z), wx),
                        lerp(at(x0, y1, z), at(x1, y1, z), wx),
                        wy,
                    )
                };
                out.push(lerp(plane(z0), plane(z1), wz));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_mean_averages_full_and_partial_blocks() {
        // 3×2×1: blocks of 2 give x-blocks {0,1} and {2}.
        let data = [1.0, 3.0, 10.0, 5.0, 7.0, 20.0];
        assert_eq!(coarse_dims([3, 2, 1], 2), [2, 1, 1]);
        assert_eq!(block_mean(&data, [3, 2, 1], 2), [4.0, 15.0]);
        assert_eq!(block_mean(&data, [3, 2, 1], 1), data);
    }

    #[test]
    fn upsampling_keeps_constants_and_linear_ramps() {
        let dims = [8, 6, 4];
        let c = coarse_dims(dims, 2);
        let constant = vec![0.25f32; c.iter().product()];
        assert!(upsample_linear(&constant, dims, 2)
            .iter()
            .all(|&v| (v - 0.25).abs() < 1e-7));
        // A ramp along x sampled at coarse centres (fine coordinate 2c + 0.5) comes back as
        // the same ramp between the first and last centres.
        let ramp: Vec<f32> = (0..c.iter().product::<usize>())
            .map(|i| (2 * (i % c[0])) as f32 + 0.5)
            .collect();
        let up = upsample_linear(&ramp, dims, 2);
        for (i, v) in up.iter().enumerate().take(dims[0]) {
            let expected = (i as f32).clamp(0.5, 6.5);
            assert!((v - expected).abs() < 1e-5, "x={i}: {v} vs {expected}");
        }
    }

    #[test]
    fn block_mean_then_upsample_preserves_a_large_region() {
        let dims = [20, 20, 20];
        let mask: Vec<f32> = (0..8000)
            .map(|i| {
                let (x, y, z) = (i % 20, (i / 20) % 20, i / 400);
                f32::from(u8::from(
                    (4..16).contains(&x) && (4..16).contains(&y) && z < 12,
                ))
            })
            .collect();
        let back = upsample_linear(&block_mean(&mask, dims, 2), dims, 2);
        let differ: Vec<(usize, usize, usize)> = mask
            .iter()
            .zip(&back)
            .enumerate()
            .filter(|(_, (a, b))| (**a > 0.5) != (**b > 0.5))
            .map(|(i, _)| (i % 20, (i / 20) % 20, i / 400))
            .collect();
        // Trilinear interpolation keeps faces and edges (weights 0.75 and 0.75² > 0.5) and
        // rounds off the free corners (0.75³ < 0.5); the corners on the z = 0 face are held.
        assert_eq!(
            differ,
            [(4, 4, 11), (15, 4, 11), (4, 15, 11), (15, 15, 11)],
            "only the box's four free corners are lost"
        );
    }
}
