//! Binary masks on a voxel grid (x fastest): foreground by intensity, 6-connected
//! components, hole filling, erosion and dilation by a number of voxels, and robust
//! percentiles. Used by brain extraction, the skull-stripping check and the input checks.

/// Voxels above this fraction of the 99th percentile of the positive voxels are foreground.
pub const FOREGROUND_FRACTION: f64 = 0.05;

/// `q`-th percentile (0–100) of `values` (reordered in place), nearest rank; `None` if empty.
pub fn percentile(values: &mut [f32], q: f64) -> Option<f32> {
    if values.is_empty() {
        return None;
    }
    let k = ((q / 100.0) * (values.len() - 1) as f64).round() as usize;
    let k = k.min(values.len() - 1);
    let (_, v, _) = values.select_nth_unstable_by(k, f32::total_cmp);
    Some(*v)
}

/// The foreground threshold of `data`: [`FOREGROUND_FRACTION`] of the 99th percentile of its
/// positive values; `None` when no value is positive.
pub fn foreground_threshold(data: &[f32]) -> Option<f32> {
    let mut positive: Vec<f32> = data.iter().copied().filter(|&v| v > 0.0).collect();
    let p99 = percentile(&mut positive, 99.0)?;
    Some((f64::from(p99) * FOREGROUND_FRACTION) as f32)
}

/// The 6-neighbours of voxel `i` on `dims` (x fastest).
pub fn face_neighbours(i: usize, dims: [usize; 3], mut f: impl FnMut(usize)) {
    let [nx, ny, nz] = dims;
    let (x, y, z) = (i % nx, (i / nx) % ny, i / (nx * ny));
    if x > 0 {
        f(i - 1);
    }
    if x + 1 < nx {
        f(i + 1);
    }
    if y > 0 {
        f(i - nx);
    }
    if y + 1 < ny {
        f(i + nx);
    }
    if z > 0 {
        f(i - nx * ny);
    }
    if z + 1 < nz {
        f(i + nx * ny);
    }
}

/// The smallest box `[lo, hi]` (inclusive, voxel indices) holding every voxel of `mask`.
fn bounding_box(mask: &[bool], dims: [usize; 3]) -> Option<([usize; 3], [usize; 3])> {
    let [nx, ny, _] = dims;
    let mut lo = dims;
    let mut hi = [0usize; 3];
    let mut any = false;
    for (row, chunk) in mask.chunks_exact(nx.max(1)).enumerate() {
        let (Some(first), Some(last)) = (
            chunk.iter().position(|&m| m),
            chunk.iter().rposition(|&m| m),
        ) else {
            continue;
        };
        any = true;
        let (y, z) = (row % ny, row / ny);
        lo = [lo[0].min(first), lo[1].min(y), lo[2].min(z)];
        hi = [hi[0].max(last), hi[1].max(y), hi[2].max(z)];
    }
    any.then_some((lo, hi))
}

/// A box of a grid, with a one-voxel border of `false` around it: on it a voxel's 6 neighbours
/// are always at `i ± 1`, `i ± px`, `i ± px·py` (no bounds checks, no divisions).
struct Padded {
    dims: [usize; 3],
    lo: [usize; 3],
    size: [usize; 3],
}

impl Padded {
    /// The box `[lo, hi]` of a `dims` grid.
    fn new(dims: [usize; 3], lo: [usize; 3], hi: [usize; 3]) -> Padded {
        Padded {
            dims,
            lo,
            size: [0, 1, 2].map(|a| hi[a] - lo[a] + 3),
        }
    }

    fn len(&self) -> usize {
        self.size.iter().product()
    }

    /// Index steps to the 6 neighbours.
    fn steps(&self) -> [usize; 3] {
        [1, self.size[0], self.size[0] * self.size[1]]
    }

    /// For each row of the box: its first index on the grid and on the padded box, and its
    /// length.
    fn rows(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        let [nx, ny, _] = self.dims;
        let [px, py, pz] = self.size;
        (0..pz - 2).flat_map(move |z| {
            (0..py - 2).map(move |y| {
                let grid = self.lo[0] + nx * ((self.lo[1] + y) + ny * (self.lo[2] + z));
                let boxed = 1 + px * ((y + 1) + py * (z + 1));
                (grid, boxed, px - 2)
            })
        })
    }

    /// `values` of the grid, inside the box, `fill` on the border.
    fn cut<T: Copy>(&self, values: &[T], fill: T) -> Vec<T> {
        let mut out = vec![fill; self.len()];
        for (g, b, n) in self.rows() {
            out[b..b + n].copy_from_slice(&values[g..g + n]);
        }
        out
    }

    /// The box's `values` written into a grid of `outside` elsewhere.
    fn paste<T: Copy>(&self, values: &[T], outside: T) -> Vec<T> {
        let mut out = vec![outside; self.dims.iter().product()];
        for (g, b, n) in self.rows() {
            out[g..g + n].copy_from_slice(&values[b..b + n]);
        }
        out
    }
}

/// The 6-connected components of `mask`: per voxel its component's number (1, 2, …; 0
/// outside the mask), and each component's size in voxels (component `k` at index `k − 1`).
/// Components are numbered in the order their first voxel comes (x fastest).
pub fn components(mask: &[bool], dims: [usize; 3]) -> (Vec<u32>, Vec<usize>) {
    labelled_components(mask, dims, false)
}

/// The 26-connected components of `mask` (voxels touching by a face, an edge or a corner are
/// one component, as lesions are counted in BraTS' lesion-wise evaluation), numbered as
/// [`components`] numbers them.
pub fn components_26(mask: &[bool], dims: [usize; 3]) -> (Vec<u32>, Vec<usize>) {
    labelled_components(mask, dims, true)
}

/// [`components`] (6-connected) or [`components_26`] (`corners`): a flood fill on the mask's
/// bounding box with a border, where every neighbour is a fixed index step away.
fn labelled_components(mask: &[bool], dims: [usize; 3], corners: bool) -> (Vec<u32>, Vec<usize>) {
    if mask.len() != dims.iter().product::<usize>() {
        return (vec![0; mask.len()], Vec::new());
    }
    let Some((lo, hi)) = bounding_box(mask, dims) else {
        return (vec![0; mask.len()], Vec::new());
    };
    // Only the mask's box holds voxels; its border is outside the mask.
    let boxed = Padded::new(dims, lo, hi);
    let inside = boxed.cut(mask, false);
    let [sx, sy, sz] = boxed.steps().map(|s| s as isize);
    let mut offsets = Vec::with_capacity(26);
    for dz in -1isize..=1 {
        for dy in -1isize..=1 {
            for dx in -1isize..=1 {
                let moves = dx.abs() + dy.abs() + dz.abs();
                if moves == 1 || (corners && moves > 1) {
                    offsets.push(dx * sx + dy * sy + dz * sz);
                }
            }
        }
    }
    let mut label = vec![0u32; inside.len()];
    let mut sizes = Vec::new();
    let mut stack = Vec::new();
    for (_, row, n) in boxed.rows() {
        for start in row..row + n {
            if !inside[start] || label[start] != 0 {
                continue;
            }
            let id = sizes.len() as u32 + 1;
            label[start] = id;
            stack.push(start);
            let mut size = 0usize;
            while let Some(i) = stack.pop() {
                size += 1;
                for &o in &offsets {
                    // Inside the box, every neighbour is on the box or its border.
                    let j = i.wrapping_add_signed(o);
                    if inside[j] && label[j] == 0 {
                        label[j] = id;
                        stack.push(j);
                    }
                }
            }
            sizes.push(size);
        }
    }
    (boxed.paste(&label, 0), sizes)
}

/// The largest 6-connected component of `mask` (x fastest on `dims`); empty if `mask` is.
pub fn largest_component(mask: &[bool], dims: [usize; 3]) -> Vec<bool> {
    let (label, sizes) = components(mask, dims);
    let Some(best) = (0..sizes.len()).max_by_key(|&k| sizes[k]) else {
        return vec![false; mask.len()];
    };
    let id = best as u32 + 1;
    label.iter().map(|&l| l == id).collect()
}

/// `mask` with its holes filled: every background voxel not 6-connected to the border of the
/// grid through background becomes foreground.
pub fn fill_holes(mask: &[bool], dims: [usize; 3]) -> Vec<bool> {
    if mask.len() != dims.iter().product::<usize>() {
        return mask.to_vec();
    }
    let Some((lo, hi)) = bounding_box(mask, dims) else {
        return mask.to_vec();
    };
    // Holes lie inside the mask's box. Its border is background reached from the grid's
    // border (around the box there is no mask), so one flood from a border voxel finds every
    // background voxel of the box that is not a hole.
    let boxed = Padded::new(dims, lo, hi);
    let inside = boxed.cut(mask, false);
    let steps = boxed.steps();
    let n = inside.len();
    let mut outside = vec![false; n];
    let mut stack = vec![0usize];
    outside[0] = true;
    while let Some(i) = stack.pop() {
        for s in steps {
            if i >= s && !inside[i - s] && !outside[i - s] {
                outside[i - s] = true;
                stack.push(i - s);
            }
            if i + s < n && !inside[i + s] && !outside[i + s] {
                outside[i + s] = true;
                stack.push(i + s);
            }
        }
    }
    let filled: Vec<bool> = outside.iter().map(|&o| !o).collect();
    boxed.paste(&filled, false)
}

/// `mask` grown by `steps` voxels (6-connected steps: a city-block ball).
pub fn dilate(mask: &[bool], dims: [usize; 3], steps: usize) -> Vec<bool> {
    let mut out = mask.to_vec();
    let mut front: Vec<usize> = (0..mask.len()).filter(|&i| mask[i]).collect();
    for _ in 0..steps {
        let mut next = Vec::new();
        for &i in &front {
            face_neighbours(i, dims, |j| {
                if !out[j] {
                    out[j] = true;
                    next.push(j);
                }
            });
        }
        front = next;
    }
    out
}

/// `mask` shrunk by `steps` voxels (its complement dilated): the grid's border is not
/// background, so a mask touching the border is not eaten from there.
pub fn erode(mask: &[bool], dims: [usize; 3], steps: usize) -> Vec<bool> {
    let inverse: Vec<bool> = mask.iter().map(|&m| !m).collect();
    dilate(&inverse, dims, steps).iter().map(|&b| !b).collect()
}

/// Number of voxels set in `mask`.
pub fn count(mask: &[bool]) -> usize {
    mask.iter().filter(|&&m| m).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(x: usize, y: usize, z: usize) -> usize {
        x + 6 * (y + 6 * z)
    }

    fn cube() -> Vec<bool> {
        let mut m = vec![false; 216];
        for z in 1..5 {
            for y in 1..5 {
                for x in 1..5 {
                    m[at(x, y, z)] = true;
                }
            }
        }
        m
    }

    #[test]
    fn components_and_holes() {
        let dims = [6, 6, 6];
        let mut m = cube();
        m[at(2, 2, 2)] = false; // a hole
        m[at(0, 0, 0)] = true; // a stray voxel
        let (label, sizes) = components(&m, dims);
        assert_eq!(sizes, vec![1, 63]);
        assert_eq!(label[at(0, 0, 0)], 1);
        let big = largest_component(&m, dims);
        assert!(!big[at(0, 0, 0)] && big[at(1, 1, 1)]);
        let filled = fill_holes(&big, dims);
        assert!(filled[at(2, 2, 2)]);
        assert_eq!(count(&filled), 64);
        assert_eq!(count(&largest_component(&[false; 8], [2, 2, 2])), 0);
    }

    /// Plain, bounds-checked references for the box-cropped implementations.
    fn reference_components(mask: &[bool], dims: [usize; 3]) -> (Vec<u32>, Vec<usize>) {
        let mut label = vec![0u32; mask.len()];
        let mut sizes = Vec::new();
        for start in 0..mask.len() {
            if !mask[start] || label[start] != 0 {
                continue;
            }
            let id = sizes.len() as u32 + 1;
            label[start] = id;
            let mut stack = vec![start];
            let mut size = 0;
            while let Some(i) = stack.pop() {
                size += 1;
                face_neighbours(i, dims, |j| {
                    if mask[j] && label[j] == 0 {
                        label[j] = id;
                        stack.push(j);
                    }
                });
            }
            sizes.push(size);
        }
        (label, sizes)
    }

    fn reference_components_26(mask: &[bool], dims: [usize; 3]) -> (Vec<u32>, Vec<usize>) {
        let [nx, ny, nz] = dims;
        let mut label = vec![0u32; mask.len()];
        let mut sizes = Vec::new();
        for start in 0..mask.len() {
            if !mask[start] || label[start] != 0 {
                continue;
            }
            let id = sizes.len() as u32 + 1;
            label[start] = id;
            let mut stack = vec![start];
            let mut size = 0;
            while let Some(i) = stack.pop() {
                size += 1;
                let (x, y, z) = (i % nx, (i / nx) % ny, i / (nx * ny));
                for zz in z.saturating_sub(1)..=(z + 1).min(nz - 1) {
                    for yy in y.saturating_sub(1)..=(y + 1).min(ny - 1) {
                        for xx in x.saturating_sub(1)..=(x + 1).min(nx - 1) {
                            let j = xx + nx * (yy + ny * zz);
                            if mask[j] && label[j] == 0 {
                                label[j] = id;
                                stack.push(j);
                            }
                        }
                    }
                }
            }
            sizes.push(size);
        }
        (label, sizes)
    }

    fn reference_fill_holes(mask: &[bool], dims: [usize; 3]) -> Vec<bool> {
        let [nx, ny, nz] = dims;
        let mut outside = vec![false; mask.len()];
        for i in 0..mask.len() {
            let (x, y, z) = (i % nx, (i / nx) % ny, i / (nx * ny));
            let border = x == 0 || y == 0 || z == 0 || x + 1 == nx || y + 1 == ny || z + 1 == nz;
            if border && !mask[i] && !outside[i] {
                outside[i] = true;
                let mut stack = vec![i];
                while let Some(k) = stack.pop() {
                    face_neighbours(k, dims, |j| {
                        if !mask[j] && !outside[j] {
                            outside[j] = true;
                            stack.push(j);
                        }
                    });
                }
            }
        }
        outside.iter().map(|&o| !o).collect()
    }

    proptest::proptest! {
        #[test]
        fn components_and_holes_match_plain_flood_fills(
            nx in 1usize..8, ny in 1usize..8, nz in 1usize..8,
            seed in 0u64..u64::MAX, density in 0.05f64..0.95,
        ) {
            let dims = [nx, ny, nz];
            let mut state = seed | 1;
            let mask: Vec<bool> = (0..nx * ny * nz)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 11) as f64 / (1u64 << 53) as f64 <= density
                })
                .collect();
            proptest::prop_assert_eq!(components(&mask, dims), reference_components(&mask, dims));
            proptest::prop_assert_eq!(fill_holes(&mask, dims), reference_fill_holes(&mask, dims));
            proptest::prop_assert_eq!(
                components_26(&mask, dims),
                reference_components_26(&mask, dims)
            );
        }
    }

    #[test]
    fn corner_neighbours_are_one_component_only_with_26_connectivity() {
        let dims = [6, 6, 6];
        let mut m = vec![false; 216];
        // A diagonal chain touching by corners, and a voxel apart from it.
        for i in 0..4 {
            m[at(i, i, i)] = true;
        }
        m[at(5, 0, 0)] = true;
        assert_eq!(components(&m, dims).1.len(), 5);
        let (label, sizes) = components_26(&m, dims);
        assert_eq!(sizes, vec![4, 1]);
        assert_eq!(label[at(3, 3, 3)], 1);
        assert_eq!(label[at(5, 0, 0)], 2);
        assert_eq!(label[at(1, 0, 0)], 0);
        // On a solid cube both agree.
        assert_eq!(components_26(&cube(), dims).1, vec![64]);
        assert!(components_26(&[], [0, 0, 0]).1.is_empty());
    }

    #[test]
    fn dilation_and_erosion_by_city_block_steps() {
        let dims = [6, 6, 6];
        let m = cube();
        // The 4³ cube grown by one face step: 64 + 6 faces of 16.
        assert_eq!(count(&dilate(&m, dims, 1)), 64 + 6 * 16);
        // Shrunk by one: the inner 2³.
        let e = erode(&m, dims, 1);
        assert_eq!(count(&e), 8);
        assert!(e[at(2, 2, 2)] && !e[at(1, 2, 2)]);
        assert_eq!(dilate(&m, dims, 0), m);
    }

    #[test]
    fn percentiles_and_the_foreground_threshold() {
        let mut v: Vec<f32> = (0..=100).map(|i| i as f32).collect();
        assert_eq!(percentile(&mut v, 50.0), Some(50.0));
        assert_eq!(percentile(&mut v, 99.0), Some(99.0));
        assert_eq!(percentile(&mut [], 50.0), None);
        let data: Vec<f32> = (0..=100).map(|i| i as f32).chain([-5.0, 0.0]).collect();
        // 99th percentile of 1..=100 (nearest rank) is 99; 5 % of it.
        let t = foreground_threshold(&data).unwrap();
        assert!((t - 4.95).abs() < 1e-4, "{t}");
        assert_eq!(foreground_threshold(&[0.0, -1.0]), None);
    }
}
