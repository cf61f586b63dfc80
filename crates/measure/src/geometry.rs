//! Plane geometry for measurements on the slices of a voxel grid: which voxel axis the axial
//! slices are cut along, an orthonormal millimetre frame in a slice, convex hulls, and the
//! longest chord of a convex polygon across a direction.

use adamm_volume::Affine;

/// The voxel axis (0, 1, 2) whose direction in world space is closest to superior–inferior:
/// slices across it are the grid's axial slices, whatever the file's orientation.
pub fn axial_axis(world_from_voxel: &Affine) -> usize {
    let m = &world_from_voxel.0;
    let z_share = |c: usize| {
        let norm = (0..3).map(|r| m[r][c].powi(2)).sum::<f64>().sqrt();
        if norm > 0.0 {
            m[2][c].abs() / norm
        } else {
            0.0
        }
    };
    let mut best = 2;
    for c in [1, 0] {
        if z_share(c) > z_share(best) {
            best = c;
        }
    }
    best
}

/// The two in-plane voxel axes of slices across `axis`, in index order.
pub fn in_plane_axes(axis: usize) -> [usize; 2] {
    match axis {
        0 => [1, 2],
        1 => [0, 2],
        _ => [0, 1],
    }
}

/// An orthonormal frame (mm) in the slices across one voxel axis: a point's 2-D coordinates
/// are its world position's components along `e1` (the first in-plane voxel axis) and `e2`
/// (perpendicular to it, in the plane). In-plane distances are world distances.
#[derive(Debug, Clone, Copy)]
pub struct SliceFrame {
    world_from_voxel: Affine,
    axes: [usize; 2],
    e1: [f64; 3],
    e2: [f64; 3],
}

fn column(a: &Affine, c: usize) -> [f64; 3] {
    [a.0[0][c], a.0[1][c], a.0[2][c]]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn normalised(a: [f64; 3]) -> Option<[f64; 3]> {
    let n = dot(a, a).sqrt();
    (n > 0.0 && n.is_finite()).then(|| a.map(|v| v / n))
}

impl SliceFrame {
    /// The frame of slices across `axis` of the grid `world_from_voxel`; `None` when the two
    /// in-plane axes are degenerate (zero or parallel columns).
    pub fn new(world_from_voxel: &Affine, axis: usize) -> Option<SliceFrame> {
        let axes = in_plane_axes(axis);
        let u = column(world_from_voxel, axes[0]);
        let v = column(world_from_voxel, axes[1]);
        let e1 = normalised(u)?;
        let along = dot(v, e1);
        let e2 = normalised([0, 1, 2].map(|i| v[i] - along * e1[i]))?;
        Some(SliceFrame {
            world_from_voxel: *world_from_voxel,
            axes,
            e1,
            e2,
        })
    }

    /// The in-plane voxel axes.
    pub fn axes(&self) -> [usize; 2] {
        self.axes
    }

    /// The voxel position of in-plane index coordinates `(a, b)` on slice `slice` (fractional
    /// coordinates allowed: a voxel's corners are at ±0.5).
    pub fn voxel(&self, axis: usize, slice: usize, a: f64, b: f64) -> [f64; 3] {
        let mut p = [0.0; 3];
        p[axis] = slice as f64;
        p[self.axes[0]] = a;
        p[self.axes[1]] = b;
        p
    }

    /// The world position (mm) of a voxel position.
    pub fn world(&self, voxel: [f64; 3]) -> [f64; 3] {
        self.world_from_voxel.apply(voxel)
    }

    /// The 2-D frame coordinates (mm) of a world position.
    pub fn project(&self, world: [f64; 3]) -> [f64; 2] {
        [dot(world, self.e1), dot(world, self.e2)]
    }
}

/// The convex hull of `points`, counter-clockwise, without collinear points (Andrew's
/// monotone chain). Fewer than three distinct points give those points.
pub fn convex_hull(points: &[[f64; 2]]) -> Vec<[f64; 2]> {
    let mut p: Vec<[f64; 2]> = points.to_vec();
    p.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    p.dedup();
    if p.len() < 3 {
        return p;
    }
    let cross = |o: [f64; 2], a: [f64; 2], b: [f64; 2]| {
        (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    };
    let mut hull: Vec<[f64; 2]> = Vec::with_capacity(2 * p.len());
    for pass in 0..2 {
        let start = hull.len();
        let ordered: Box<dyn Iterator<Item = &[f64; 2]>> = if pass == 0 {
            Box::new(p.iter())
        } else {
            Box::new(p.iter().rev())
        };
        for &q in ordered {
            while hull.len() >= start + 2
                && cross(hull[hull.len() - 2], hull[hull.len() - 1], q) <= 0.0
            {
                hull.pop();
            }
            hull.push(q);
        }
        // The last point of each half is the first of the other.
        hull.pop();
    }
    hull
}

/// The two points of `points` farthest apart and their distance; `None` for no points.
pub fn farthest_pair(points: &[[f64; 2]]) -> Option<([f64; 2], [f64; 2], f64)> {
    let mut best: Option<([f64; 2], [f64; 2], f64)> = None;
    for (i, &a) in points.iter().enumerate() {
        for &b in &points[i..] {
            let d = ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
            if best.is_none_or(|(_, _, bd)| d > bd) {
                best = Some((a, b, d));
            }
        }
    }
    best
}

/// The longest chord of the convex polygon `hull` (counter-clockwise) perpendicular to the
/// unit direction `u`: its two ends and its length. The chord's length along `u` is concave
/// and piecewise linear, so its maximum lies on a line through a vertex.
pub fn longest_chord_across(hull: &[[f64; 2]], u: [f64; 2]) -> Option<([f64; 2], [f64; 2], f64)> {
    let v = [-u[1], u[0]];
    let s = |p: [f64; 2]| p[0] * u[0] + p[1] * u[1];
    let t = |p: [f64; 2]| p[0] * v[0] + p[1] * v[1];
    let at = |s0: f64, t0: f64| [s0 * u[0] + t0 * v[0], s0 * u[1] + t0 * v[1]];
    let mut best: Option<([f64; 2], [f64; 2], f64)> = None;
    let n = hull.len();
    for &vertex in hull {
        let s0 = s(vertex);
        // Where the line s = s0 meets the polygon's edges.
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for k in 0..n {
            let (a, b) = (hull[k], hull[(k + 1) % n]);
            let (sa, sb) = (s(a), s(b));
            if (sa - s0) * (sb - s0) > 0.0 {
                continue;
            }
            let hits = if (sb - sa).abs() < 1e-12 {
                [t(a), t(b)]
            } else {
                let w = (s0 - sa) / (sb - sa);
                let th = t(a) + w * (t(b) - t(a));
                [th, th]
            };
            for h in hits {
                lo = lo.min(h);
                hi = hi.max(h);
            }
        }
        if lo.is_finite() && best.is_none_or(|(_, _, d)| hi - lo > d) {
            best = Some((at(s0, lo), at(s0, hi), hi - lo));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hull_of_a_square_with_inner_points_is_its_corners() {
        let mut pts = vec![[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0]];
        pts.extend([[1.0, 1.0], [1.0, 0.0], [0.5, 1.5]]);
        let hull = convex_hull(&pts);
        assert_eq!(hull.len(), 4);
        for c in [[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0]] {
            assert!(hull.contains(&c), "{hull:?}");
        }
        let (_, _, d) = farthest_pair(&hull).unwrap();
        assert!((d - 8f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn chords_across_a_rectangle() {
        // A 4 × 2 rectangle: across x (u = x), every chord is 2 long.
        let hull = convex_hull(&[[0.0, 0.0], [4.0, 0.0], [4.0, 2.0], [0.0, 2.0]]);
        let (_, _, d) = longest_chord_across(&hull, [1.0, 0.0]).unwrap();
        assert!((d - 2.0).abs() < 1e-12);
        // Across y, 4.
        let (a, b, d) = longest_chord_across(&hull, [0.0, 1.0]).unwrap();
        assert!((d - 4.0).abs() < 1e-12, "{a:?} {b:?}");
        // A diamond with diagonals 6 (x) and 2 (y): the chord across x peaks at its centre.
        let diamond = convex_hull(&[[-3.0, 0.0], [0.0, -1.0], [3.0, 0.0], [0.0, 1.0]]);
        let (a, b, d) = longest_chord_across(&diamond, [1.0, 0.0]).unwrap();
        assert!((d - 2.0).abs() < 1e-12);
        assert!(a[0].abs() < 1e-12 && b[0].abs() < 1e-12);
    }

    #[test]
    fn the_axial_axis_follows_the_affine() {
        assert_eq!(axial_axis(&Affine::IDENTITY), 2);
        // A coronal acquisition: voxel axis 1 runs superior-inferior.
        let coronal = Affine([
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 3.0, 0.0],
            [0.0, -1.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ]);
        assert_eq!(axial_axis(&coronal), 1);
        assert_eq!(in_plane_axes(1), [0, 2]);
    }
}
