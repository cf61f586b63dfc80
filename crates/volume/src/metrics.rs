//! Segmentation metrics with BraTS conventions: Dice, IoU (Jaccard), sensitivity,
//! specificity and the 95th-percentile Hausdorff distance (HD95).
//!
//! # Layout
//!
//! The mask-level functions ([`mask_metrics`], [`hd95`], [`squared_edt`]) take flat `&[bool]`
//! masks in **C order**, as numpy and medpy index arrays: for `dims = [d0, d1, d2]`, voxel
//! `(a, b, c)` lives at index `(a * d1 + b) * d2 + c`, so the **last** axis is the fastest.
//! Voxel spacing is given in millimetres, one entry per axis in the same order as `dims`.
//!
//! That is not the project's voxel layout (x fastest, see [`crate::geometry`]) but the same
//! memory with the axes named in reverse: an x-fastest volume of `[nx, ny, nz]` voxels of
//! `[sx, sy, sz]` mm is the C-order volume of `[nz, ny, nx]` voxels of `[sz, sy, sx]` mm.
//! [`region_metrics`] takes label maps in the project's layout and does this reversal; call it
//! for the volumes of this crate (or pass the reversed dims and spacing to the mask-level
//! functions).
//!
//! # Overlap metrics
//!
//! With `TP`, `FP`, `FN`, `TN` the usual voxel counts of the prediction against the
//! ground truth:
//!
//! * Dice = `2 TP / (2 TP + FP + FN)`, IoU = `TP / (TP + FP + FN)`;
//! * sensitivity = `TP / (TP + FN)`, defined as 1 when the ground truth is empty;
//! * specificity = `TN / (TN + FP)`, defined as 1 when there are no negative voxels
//!   (the ground truth fills the whole volume).
//!
//! # HD95
//!
//! The definition reproduces `medpy.metric.binary.hd95(pred, truth, voxelspacing,
//! connectivity=1)` exactly:
//!
//! 1. The *surface* of a mask is `mask XOR binary_erosion(mask)` where the erosion uses the
//!    6-connected cross structuring element (connectivity 1) and treats everything outside
//!    the array as background (`border_value = 0`). A mask voxel is therefore a surface
//!    voxel when at least one of its 6 face neighbours is background **or lies outside the
//!    array**: mask voxels on the array edge are surface voxels.
//! 2. For every surface voxel of the prediction, take the Euclidean distance in mm (with the
//!    voxel spacing) to the nearest surface voxel of the ground truth. This is read from the
//!    exact Euclidean distance transform of the truth surface (see [`squared_edt`]); no
//!    brute-force search is done.
//! 3. Do the same from every surface voxel of the ground truth to the prediction surface.
//! 4. Pool both lists (without deduplication) and take their 95th percentile with numpy's
//!    default `linear` interpolation: with the `n` pooled values sorted ascending, the
//!    virtual index is `(n - 1) * 0.95` and the result interpolates linearly between the
//!    two neighbouring order statistics.
//!
//! BraTS conventions for empty masks: when both masks are empty, HD95 is 0 (and Dice = IoU
//! = 1); when exactly one mask is empty, HD95 is [`HD95_ONE_EMPTY_MM`] (and Dice = IoU = 0).
//!
//! # Cost
//!
//! Both distance transforms are computed once each (one per direction), exactly, in linear
//! time, and only inside the bounding box of the union of both masks: every surface voxel
//! of either mask lies inside that box, so restricting the transform to it changes no
//! distance. The last transform pass is evaluated only on the lines that contain query
//! voxels. No threads are used, so the module runs unchanged on `wasm32`.

use thiserror::Error;

/// HD95 in mm reported when exactly one of the two masks is empty.
///
/// This is the BraTS convention: the diagonal of the 240 × 240 × 155 BraTS grid at 1 mm
/// isotropic spacing, `sqrt(240² + 240² + 155²) = sqrt(139225) ≈ 373.1287` mm, i.e. the
/// largest distance that can occur inside a BraTS volume.
pub const HD95_ONE_EMPTY_MM: f64 = 373.128_664_2;

/// Overlap and boundary metrics of a predicted mask against a ground-truth mask.
///
/// See the [module documentation](self) for the exact definitions and the conventions for
/// empty masks.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MaskMetrics {
    /// Dice similarity coefficient `2 TP / (2 TP + FP + FN)`, in `[0, 1]`.
    pub dice: f64,
    /// Intersection over union (Jaccard index) `TP / (TP + FP + FN)`, in `[0, 1]`.
    pub iou: f64,
    /// Sensitivity (recall) `TP / (TP + FN)`; 1 when the ground truth is empty.
    pub sensitivity: f64,
    /// Specificity `TN / (TN + FP)`; 1 when the volume has no negative voxel.
    pub specificity: f64,
    /// 95th-percentile symmetric Hausdorff distance between the mask surfaces, in mm.
    pub hd95: f64,
}

/// Why a metric could not be computed from the given masks, dimensions and spacing.
#[derive(Debug, Error)]
pub enum MetricsError {
    /// A mask's length does not equal `nx * ny * nz`.
    #[error(
        "the {which} mask has {len} voxels, but dims {dims:?} describe {expected} voxels \
         ({nx} x {ny} x {nz})",
        nx = dims[0],
        ny = dims[1],
        nz = dims[2]
    )]
    MaskLength {
        /// Which mask is wrong (`"prediction"`, `"ground-truth"` or `"feature"`).
        which: &'static str,
        /// Length of the mask that was passed.
        len: usize,
        /// The dimensions that were passed.
        dims: [usize; 3],
        /// `nx * ny * nz`.
        expected: usize,
    },
    /// The prediction and ground-truth masks have different lengths.
    #[error(
        "the prediction mask has {pred_len} voxels but the ground-truth mask has {truth_len}; \
         both must cover the same volume"
    )]
    PredTruthLength {
        /// Length of the prediction mask.
        pred_len: usize,
        /// Length of the ground-truth mask.
        truth_len: usize,
    },
    /// `nx * ny * nz` does not fit in `usize`.
    #[error("dims {dims:?} describe more voxels than fit in memory (nx * ny * nz overflows)")]
    DimsOverflow {
        /// The dimensions that were passed.
        dims: [usize; 3],
    },
    /// A voxel spacing entry is zero, negative, NaN or infinite.
    #[error(
        "voxel spacing along axis {axis} is {value} mm; every spacing must be a finite \
         number greater than 0"
    )]
    InvalidSpacing {
        /// The axis (0, 1 or 2) whose spacing is invalid.
        axis: usize,
        /// The invalid spacing value in mm.
        value: f64,
    },
}

/// Computes Dice, IoU, sensitivity, specificity and HD95 of `pred` against `truth`.
///
/// Both masks are flat C-order volumes of `dims = [d0, d1, d2]` (index
/// `(a * d1 + b) * d2 + c`, last axis fastest: for an x-fastest volume of this crate pass
/// `[nz, ny, nx]`, see the [module documentation](self#layout)) and `spacing_mm` is the voxel
/// size along each of those axes in mm.
/// Conventions for empty masks follow BraTS (see the [module documentation](self)).
///
/// # Errors
///
/// [`MetricsError`] when a spacing entry is not finite and positive, when the two masks have
/// different lengths, or when a mask's length is not `nx * ny * nz`.
pub fn mask_metrics(
    pred: &[bool],
    truth: &[bool],
    dims: [usize; 3],
    spacing_mm: [f64; 3],
) -> Result<MaskMetrics, MetricsError> {
    validate_pair(pred.len(), truth.len(), dims, spacing_mm)?;

    let (mut tp, mut fp, mut fneg) = (0usize, 0usize, 0usize);
    for (&p, &t) in pred.iter().zip(truth) {
        tp += usize::from(p & t);
        fp += usize::from(p & !t);
        fneg += usize::from(!p & t);
    }
    let tn = pred.len() - tp - fp - fneg;
    let n_pred = tp + fp;
    let n_truth = tp + fneg;

    let ratio = |num: usize, den: usize| {
        if den == 0 {
            1.0
        } else {
            num as f64 / den as f64
        }
    };
    // Both empty: TP = FP = FN = 0, so the ratios below fall back to 1 as BraTS wants.
    let dice = ratio(2 * tp, 2 * tp + fp + fneg);
    let iou = ratio(tp, tp + fp + fneg);
    let sensitivity = ratio(tp, tp + fneg);
    let specificity = ratio(tn, tn + fp);
    let hd95 = hd95_validated(pred, truth, dims, spacing_mm, n_pred, n_truth);

    Ok(MaskMetrics {
        dice,
        iou,
        sensitivity,
        specificity,
        hd95,
    })
}

/// 95th-percentile symmetric Hausdorff distance in mm between the surfaces of `pred` and
/// `truth`, identical to `medpy.metric.binary.hd95(pred, truth, spacing, connectivity=1)`.
///
/// Returns 0 when both masks are empty and [`HD95_ONE_EMPTY_MM`] when exactly one is empty.
/// The layout and spacing are as for [`mask_metrics`].
///
/// # Errors
///
/// The same as [`mask_metrics`].
pub fn hd95(
    pred: &[bool],
    truth: &[bool],
    dims: [usize; 3],
    spacing_mm: [f64; 3],
) -> Result<f64, MetricsError> {
    validate_pair(pred.len(), truth.len(), dims, spacing_mm)?;
    let n_pred = pred.iter().filter(|&&v| v).count();
    let n_truth = truth.iter().filter(|&&v| v).count();
    Ok(hd95_validated(
        pred, truth, dims, spacing_mm, n_pred, n_truth,
    ))
}

/// Exact squared Euclidean distance transform, in mm², to the nearest `true` voxel.
///
/// For every voxel of the C-order volume `dims = [d0, d1, d2]` (as for [`mask_metrics`]; the
/// result has the same layout) the result holds
/// `min over feature voxels f of Σ_axis ((i_axis - f_axis) * spacing_mm[axis])²`, which is 0
/// on feature voxels. When `feature` has no `true` voxel at all, every entry is
/// `f64::INFINITY`.
///
/// The transform is separable and exact: a two-sided scan along axis 0 followed by the
/// Felzenszwalb–Huttenlocher lower envelope of parabolas along axes 1 and 2, with the
/// anisotropic spacing folded into each 1-D pass. It runs in `O(nx * ny * nz)` time.
///
/// # Errors
///
/// [`MetricsError::InvalidSpacing`] for a spacing that is not finite and positive,
/// [`MetricsError::DimsOverflow`] or [`MetricsError::MaskLength`] when `feature` does not
/// have `nx * ny * nz` entries.
pub fn squared_edt(
    feature: &[bool],
    dims: [usize; 3],
    spacing_mm: [f64; 3],
) -> Result<Vec<f64>, MetricsError> {
    validate_spacing(spacing_mm)?;
    check_len("feature", feature.len(), dims)?;
    let mut field = edt_axes01(feature, dims, spacing_mm);
    let nz = dims[2];
    if nz > 0 {
        let mut env = Envelope::with_capacity(nz);
        let mut line_in = vec![0.0; nz];
        for line in field.chunks_exact_mut(nz) {
            line_in.copy_from_slice(line);
            env.transform(&line_in, line, spacing_mm[2]);
        }
    }
    Ok(field)
}

// ---------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------

fn validate_spacing(spacing_mm: [f64; 3]) -> Result<(), MetricsError> {
    for (axis, &value) in spacing_mm.iter().enumerate() {
        if !(value.is_finite() && value > 0.0) {
            return Err(MetricsError::InvalidSpacing { axis, value });
        }
    }
    Ok(())
}

fn voxel_count(dims: [usize; 3]) -> Result<usize, MetricsError> {
    dims[0]
        .checked_mul(dims[1])
        .and_then(|v| v.checked_mul(dims[2]))
        .ok_or(MetricsError::DimsOverflow { dims })
}

fn check_len(which: &'static str, len: usize, dims: [usize; 3]) -> Result<(), MetricsError> {
    let expected = voxel_count(dims)?;
    if len != expected {
        return Err(MetricsError::MaskLength {
            which,
            len,
            dims,
            expected,
        });
    }
    Ok(())
}

fn validate_pair(
    pred_len: usize,
    truth_len: usize,
    dims: [usize; 3],
    spacing_mm: [f64; 3],
) -> Result<(), MetricsError> {
    validate_spacing(spacing_mm)?;
    if pred_len != truth_len {
        return Err(MetricsError::PredTruthLength {
            pred_len,
            truth_len,
        });
    }
    check_len("prediction", pred_len, dims)?;
    check_len("ground-truth", truth_len, dims)
}

// ---------------------------------------------------------------------------------------
// HD95
// ---------------------------------------------------------------------------------------

/// HD95 on validated input, given the number of `true` voxels in each mask.
fn hd95_validated(
    pred: &[bool],
    truth: &[bool],
    dims: [usize; 3],
    spacing_mm: [f64; 3],
    n_pred: usize,
    n_truth: usize,
) -> f64 {
    match (n_pred == 0, n_truth == 0) {
        (true, true) => return 0.0,
        (true, false) | (false, true) => return HD95_ONE_EMPTY_MM,
        (false, false) => {}
    }
    let Some((lo, hi)) = union_bbox(pred, truth, dims) else {
        // Unreachable for non-empty masks; keep the empty-mask convention just in case.
        return HD95_ONE_EMPTY_MM;
    };
    let cdims = [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]];
    let pred_c = crop(pred, dims, lo, cdims);
    let truth_c = crop(truth, dims, lo, cdims);
    let pred_surf = surface(&pred_c, cdims);
    let truth_surf = surface(&truth_c, cdims);

    let mut dists = directed_surface_distances(&truth_surf, &pred_surf, cdims, spacing_mm);
    dists.extend(directed_surface_distances(
        &pred_surf,
        &truth_surf,
        cdims,
        spacing_mm,
    ));
    percentile_linear(&mut dists, 0.95).unwrap_or(HD95_ONE_EMPTY_MM)
}

/// Half-open bounding box `[lo, hi)` of the voxels set in either mask, or `None` when both
/// masks are empty.
fn union_bbox(pred: &[bool], truth: &[bool], dims: [usize; 3]) -> Option<([usize; 3], [usize; 3])> {
    let [nx, ny, nz] = dims;
    let mut lo = [usize::MAX; 3];
    let mut hi = [0usize; 3];
    let mut any = false;
    if nz == 0 {
        return None;
    }
    for x in 0..nx {
        for y in 0..ny {
            let start = (x * ny + y) * nz;
            let p = &pred[start..start + nz];
            let t = &truth[start..start + nz];
            let first = p.iter().zip(t).position(|(&a, &b)| a | b);
            let Some(first) = first else { continue };
            let last = p.iter().zip(t).rposition(|(&a, &b)| a | b).unwrap_or(first);
            any = true;
            lo[0] = lo[0].min(x);
            hi[0] = hi[0].max(x + 1);
            lo[1] = lo[1].min(y);
            hi[1] = hi[1].max(y + 1);
            lo[2] = lo[2].min(first);
            hi[2] = hi[2].max(last + 1);
        }
    }
    any.then_some((lo, hi))
}

/// Copies the box starting at `lo` with size `cdims` out of a C-order volume.
fn crop(mask: &[bool], dims: [usize; 3], lo: [usize; 3], cdims: [usize; 3]) -> Vec<bool> {
    let [_, ny, nz] = dims;
    let mut out = Vec::with_capacity(cdims[0] * cdims[1] * cdims[2]);
    for x in lo[0]..lo[0] + cdims[0] {
        for y in lo[1]..lo[1] + cdims[1] {
            let start = (x * ny + y) * nz + lo[2];
            out.extend_from_slice(&mask[start..start + cdims[2]]);
        }
    }
    out
}

/// `mask XOR erosion(mask)` with the 6-connected cross and background outside the array:
/// a mask voxel is on the surface when a face neighbour is background or out of bounds.
fn surface(mask: &[bool], dims: [usize; 3]) -> Vec<bool> {
    let [nx, ny, nz] = dims;
    let sx = ny * nz;
    let mut out = vec![false; mask.len()];
    for x in 0..nx {
        for y in 0..ny {
            let row = (x * ny + y) * nz;
            for z in 0..nz {
                let i = row + z;
                if !mask[i] {
                    continue;
                }
                let interior = x > 0
                    && x + 1 < nx
                    && y > 0
                    && y + 1 < ny
                    && z > 0
                    && z + 1 < nz
                    && mask[i - sx]
                    && mask[i + sx]
                    && mask[i - nz]
                    && mask[i + nz]
                    && mask[i - 1]
                    && mask[i + 1];
                out[i] = !interior;
            }
        }
    }
    out
}

/// Distances in mm from every `query` voxel to the nearest `feature` voxel, in C order of
/// the query voxels. `feature` must contain at least one `true` voxel.
fn directed_surface_distances(
    feature: &[bool],
    query: &[bool],
    dims: [usize; 3],
    spacing_mm: [f64; 3],
) -> Vec<f64> {
    let nz = dims[2];
    let mut out = Vec::new();
    if nz == 0 {
        return out;
    }
    let partial = edt_axes01(feature, dims, spacing_mm);
    let mut env = Envelope::with_capacity(nz);
    let mut line_out = vec![0.0; nz];
    for (g, q) in partial.chunks_exact(nz).zip(query.chunks_exact(nz)) {
        if !q.iter().any(|&v| v) {
            continue;
        }
        env.transform(g, &mut line_out, spacing_mm[2]);
        out.extend(
            q.iter()
                .zip(&line_out)
                .filter(|(&is_query, _)| is_query)
                .map(|(_, &d2)| d2.sqrt()),
        );
    }
    out
}

/// Percentile with numpy's default `linear` method; `q` in `[0, 1]`. Reorders `values`.
/// Returns `None` for an empty slice.
fn percentile_linear(values: &mut [f64], q: f64) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    // numpy: virtual_index = (n - 1) * q, previous = floor, next = previous + 1 (clipped),
    // gamma = virtual_index - previous, then `_lerp`.
    let virtual_index = (n - 1) as f64 * q;
    let prev_f = virtual_index.floor();
    let gamma = virtual_index - prev_f;
    let prev = (prev_f.max(0.0) as usize).min(n - 1);
    let next = (prev + 1).min(n - 1);

    let (_, &mut a, upper) = values.select_nth_unstable_by(prev, f64::total_cmp);
    let b = if next == prev {
        a
    } else {
        upper.iter().copied().fold(f64::INFINITY, f64::min)
    };
    let diff = b - a;
    Some(if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    })
}

// ---------------------------------------------------------------------------------------
// Distance transform
// ---------------------------------------------------------------------------------------

/// Squared EDT restricted to axes 0 and 1: after this, entry `(x, y, z)` holds the minimum
/// over feature voxels `(fx, fy, z)` in the same z-plane of
/// `((x - fx) sx)² + ((y - fy) sy)²`, or infinity if that plane has no feature voxel.
/// The axis-2 pass (see [`Envelope`]) completes the transform. Summing in axis order keeps
/// the rounding identical to scipy's `distance_transform_edt`.
fn edt_axes01(feature: &[bool], dims: [usize; 3], spacing_mm: [f64; 3]) -> Vec<f64> {
    let [nx, ny, nz] = dims;
    let plane = ny * nz;
    let mut field = vec![f64::INFINITY; feature.len()];
    if plane == 0 || nx == 0 {
        return field;
    }

    // Axis 0: two-sided scan, run over whole (y, z) planes so memory access stays contiguous.
    let sx = spacing_mm[0];
    let mut last: Vec<Option<usize>> = vec![None; plane];
    for x in 0..nx {
        let f = &feature[x * plane..(x + 1) * plane];
        let out = &mut field[x * plane..(x + 1) * plane];
        for ((&is_feature, slot), o) in f.iter().zip(last.iter_mut()).zip(out.iter_mut()) {
            if is_feature {
                *slot = Some(x);
                *o = 0.0;
            } else if let Some(l) = *slot {
                let d = (x - l) as f64 * sx;
                *o = d * d;
            }
        }
    }
    last.fill(None);
    for x in (0..nx).rev() {
        let f = &feature[x * plane..(x + 1) * plane];
        let out = &mut field[x * plane..(x + 1) * plane];
        for ((&is_feature, slot), o) in f.iter().zip(last.iter_mut()).zip(out.iter_mut()) {
            if is_feature {
                *slot = Some(x);
            } else if let Some(l) = *slot {
                let d = (l - x) as f64 * sx;
                let d2 = d * d;
                if d2 < *o {
                    *o = d2;
                }
            }
        }
    }

    // Axis 1: lower envelope along y (stride nz), one (y, z) plane at a time.
    if ny > 1 {
        let sy = spacing_mm[1];
        let mut env = Envelope::with_capacity(ny);
        let mut line_in = vec![0.0; ny];
        let mut line_out = vec![0.0; ny];
        for slab in field.chunks_exact_mut(plane) {
            for z in 0..nz {
                for (y, v) in line_in.iter_mut().enumerate() {
                    *v = slab[y * nz + z];
                }
                if env.transform(&line_in, &mut line_out, sy) {
                    for (y, &v) in line_out.iter().enumerate() {
                        slab[y * nz + z] = v;
                    }
                }
            }
        }
    }
    field
}

/// Scratch space for the 1-D Felzenszwalb–Huttenlocher lower envelope of parabolas.
struct Envelope {
    /// Positions of the parabolas in the lower envelope.
    v: Vec<usize>,
    /// Boundaries between consecutive envelope parabolas (`z[k]..z[k + 1]` is parabola `k`).
    z: Vec<f64>,
}

impl Envelope {
    fn with_capacity(n: usize) -> Self {
        Self {
            v: Vec::with_capacity(n),
            z: Vec::with_capacity(n + 1),
        }
    }

    /// `out[q] = min_p ((q - p) s)² + f[p]` over the finite `f[p]`. When every `f[p]` is
    /// infinite, fills `out` with infinity and returns `false`; otherwise returns `true`.
    fn transform(&mut self, f: &[f64], out: &mut [f64], s: f64) -> bool {
        let s2 = s * s;
        self.v.clear();
        self.z.clear();
        for (q, &fq) in f.iter().enumerate() {
            if !fq.is_finite() {
                continue;
            }
            let qf = q as f64;
            let hq = fq + s2 * qf * qf;
            let mut boundary = f64::NEG_INFINITY;
            while let Some(&p) = self.v.last() {
                let pf = p as f64;
                let hp = f[p] + s2 * pf * pf;
                // Abscissa where the parabolas rooted at p and q intersect.
                let sect = (hq - hp) / (2.0 * s2 * (qf - pf));
                let z_last = self.z.last().copied().unwrap_or(f64::NEG_INFINITY);
                if sect <= z_last {
                    self.v.pop();
                    self.z.pop();
                } else {
                    boundary = sect;
                    break;
                }
            }
            self.v.push(q);
            self.z.push(boundary);
        }
        if self.v.is_empty() {
            out.fill(f64::INFINITY);
            return false;
        }
        let mut k = 0;
        let last = self.v.len() - 1;
        for (q, o) in out.iter_mut().enumerate() {
            let qf = q as f64;
            while k < last && self.z[k + 1] < qf {
                k += 1;
            }
            let p = self.v[k];
            let d = (q as f64 - p as f64) * s;
            *o = d * d + f[p];
        }
        true
    }
}

/// Metrics of the three BraTS regions (WT, TC, ET) for two internal label maps (see
/// [`crate::brats::label`]) stored in the project's layout (NIfTI order, x fastest) on a grid
/// of `dims = [nx, ny, nz]` with `spacing_mm = [sx, sy, sz]`.
///
/// # Errors
///
/// As for [`mask_metrics`], naming the axes and dims in the order given here.
pub fn region_metrics(
    pred: &[u8],
    truth: &[u8],
    dims: [usize; 3],
    spacing_mm: [f64; 3],
) -> Result<[(crate::brats::Region, MaskMetrics); 3], MetricsError> {
    // Checked before the axes are reversed, so that an error names the caller's axes.
    validate_pair(pred.len(), truth.len(), dims, spacing_mm)?;
    // x-fastest storage is C order for the reversed axes.
    let c_dims = [dims[2], dims[1], dims[0]];
    let c_spacing = [spacing_mm[2], spacing_mm[1], spacing_mm[0]];
    let mut out = [(crate::brats::Region::WT, MaskMetrics::default()); 3];
    for (slot, region) in out.iter_mut().zip(crate::brats::Region::ALL) {
        let m = mask_metrics(&region.mask(pred), &region.mask(truth), c_dims, c_spacing)?;
        *slot = (region, m);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ISO: [f64; 3] = [1.0, 1.0, 1.0];

    fn assert_close(got: f64, want: f64, tol: f64, what: &str) {
        assert!(
            (got - want).abs() <= tol,
            "{what}: got {got}, want {want} (tolerance {tol})"
        );
    }

    fn idx(dims: [usize; 3], x: usize, y: usize, z: usize) -> usize {
        (x * dims[1] + y) * dims[2] + z
    }

    /// Builds a mask from a predicate on integer voxel coordinates.
    fn mask_from(dims: [usize; 3], f: impl Fn(i64, i64, i64) -> bool) -> Vec<bool> {
        let mut m = Vec::with_capacity(dims[0] * dims[1] * dims[2]);
        for x in 0..dims[0] as i64 {
            for y in 0..dims[1] as i64 {
                for z in 0..dims[2] as i64 {
                    m.push(f(x, y, z));
                }
            }
        }
        m
    }

    /// Ellipsoid with doubled centre `c2` and integer semi-axes `ax`, in exact integer
    /// arithmetic (same formula as `ellipsoid` in the Python snippet below).
    fn in_ellipsoid(x: i64, y: i64, z: i64, c2: [i64; 3], ax: [i64; 3]) -> bool {
        let [a, b, c] = ax;
        let dx = 2 * x - c2[0];
        let dy = 2 * y - c2[1];
        let dz = 2 * z - c2[2];
        dx * dx * (b * b * c * c) + dy * dy * (a * a * c * c) + dz * dz * (a * a * b * b)
            <= 4 * a * a * b * b * c * c
    }

    fn in_box(x: i64, y: i64, z: i64, lo: [i64; 3], hi: [i64; 3]) -> bool {
        x >= lo[0] && x < hi[0] && y >= lo[1] && y < hi[1] && z >= lo[2] && z < hi[2]
    }

    fn box_mask(dims: [usize; 3], lo: [i64; 3], hi: [i64; 3]) -> Vec<bool> {
        mask_from(dims, |x, y, z| in_box(x, y, z, lo, hi))
    }

    fn coords(dims: [usize; 3], i: usize) -> [i64; 3] {
        [
            (i / (dims[1] * dims[2])) as i64,
            ((i / dims[2]) % dims[1]) as i64,
            (i % dims[2]) as i64,
        ]
    }

    fn brute_dist2(a: [i64; 3], b: [i64; 3], s: [f64; 3]) -> f64 {
        (0..3)
            .map(|k| {
                let d = (a[k] - b[k]) as f64 * s[k];
                d * d
            })
            .sum()
    }

    /// Surface by the literal definition `mask & !erosion(mask)`, border value 0.
    fn brute_surface(mask: &[bool], dims: [usize; 3]) -> Vec<bool> {
        let offsets = [
            [-1, 0, 0],
            [1, 0, 0],
            [0, -1, 0],
            [0, 1, 0],
            [0, 0, -1],
            [0, 0, 1],
        ];
        (0..mask.len())
            .map(|i| {
                if !mask[i] {
                    return false;
                }
                let c = coords(dims, i);
                let eroded = offsets.iter().all(|o| {
                    let n = [c[0] + o[0], c[1] + o[1], c[2] + o[2]];
                    let inside = (0..3).all(|k| n[k] >= 0 && (n[k] as usize) < dims[k]);
                    inside && mask[idx(dims, n[0] as usize, n[1] as usize, n[2] as usize)]
                });
                !eroded
            })
            .collect()
    }

    /// HD95 by brute force: all surface pairs, full sort, numpy linear percentile.
    fn brute_hd95(pred: &[bool], truth: &[bool], dims: [usize; 3], s: [f64; 3]) -> f64 {
        let ps = brute_surface(pred, dims);
        let ts = brute_surface(truth, dims);
        let directed = |from: &[bool], to: &[bool]| -> Vec<f64> {
            (0..from.len())
                .filter(|&i| from[i])
                .map(|i| {
                    (0..to.len())
                        .filter(|&j| to[j])
                        .map(|j| brute_dist2(coords(dims, i), coords(dims, j), s))
                        .fold(f64::INFINITY, f64::min)
                        .sqrt()
                })
                .collect()
        };
        let mut all = directed(&ps, &ts);
        all.extend(directed(&ts, &ps));
        all.sort_by(f64::total_cmp);
        let vi = (all.len() - 1) as f64 * 0.95;
        let lo = vi.floor() as usize;
        let hi = (lo + 1).min(all.len() - 1);
        all[lo] + (all[hi] - all[lo]) * (vi - lo as f64)
    }

    // -----------------------------------------------------------------------------------
    // Hand-worked examples
    // -----------------------------------------------------------------------------------

    /// pred = 3×3×3 cube [2,5)³, truth = the same cube shifted by +1 along x, in a 10³ grid.
    ///
    /// Overlap: TP = 2·9 = 18, FP = FN = 9, TN = 1000 − 36 = 964, so Dice = 36/54 = 2/3,
    /// IoU = 18/36 = 1/2, sensitivity = 18/27 = 2/3, specificity = 964/973.
    ///
    /// Surfaces: each cube's surface is its 26 voxels minus the centre ((3,3,3) for pred,
    /// (4,3,3) for truth). pred → truth: plane x=2 (9 voxels) is 1 voxel from truth's face
    /// x=3 → distance sx; the 8 ring voxels of x=3 and the 8 non-centre voxels of x=4 are
    /// themselves truth surface voxels → 0; (4,3,3) is truth's centre, whose nearest truth
    /// surface voxels are its 6 neighbours → min(sx, sy, sz). truth → pred is the mirror
    /// image: 9 × sx (plane x=5), 16 × 0, and (3,3,3) → min(sx, sy, sz).
    /// Pooled (n = 52) and sorted: 32 zeros, 2 × min(s), 18 × sx. The virtual index is
    /// 51 · 0.95 = 48.45, between sorted entries 48 and 49, both sx (if sx is the largest).
    ///
    /// * isotropic spacing 1: HD95 = 1;
    /// * spacing (2.0, 1.5, 2.5): pool = 32 × 0, 2 × 1.5, 18 × 2.0 → HD95 = 2.0.
    #[test]
    fn cubes_offset_by_one_along_x() {
        let dims = [10, 10, 10];
        let pred = box_mask(dims, [2, 2, 2], [5, 5, 5]);
        let truth = box_mask(dims, [3, 2, 2], [6, 5, 5]);
        let m = mask_metrics(&pred, &truth, dims, ISO).expect("valid input");
        assert_close(m.dice, 2.0 / 3.0, 1e-12, "dice");
        assert_close(m.iou, 0.5, 1e-12, "iou");
        assert_close(m.sensitivity, 2.0 / 3.0, 1e-12, "sensitivity");
        assert_close(m.specificity, 964.0 / 973.0, 1e-12, "specificity");
        assert_close(m.hd95, 1.0, 1e-12, "hd95 isotropic");

        let h = hd95(&pred, &truth, dims, [2.0, 1.5, 2.5]).expect("valid input");
        assert_close(h, 2.0, 1e-12, "hd95 anisotropic");
    }

    /// pred = cube [2,5)³, truth = the same cube shifted by +2 along y; spacing (1, 1.5, 2.5).
    ///
    /// pred → truth: plane y=4 (9 voxels) lies on truth's face y=4 → 0; the 8 surface voxels
    /// of y=3 (ring; (3,3,3) is the interior centre) are one step from truth's face → 1.5;
    /// plane y=2 (9 voxels) is two steps away → 3.0. truth → pred mirrors this.
    /// Pooled (n = 52) sorted: 18 × 0, 16 × 1.5, 18 × 3.0; index 48.45 falls in the 3.0 run
    /// (entries 34..=51) → HD95 = 3.0. Overlap: TP = 9, FP = FN = 18 → Dice = 18/54 = 1/3,
    /// IoU = 9/45 = 1/5, sensitivity = 9/27 = 1/3.
    #[test]
    fn cubes_offset_by_two_along_y_anisotropic() {
        let dims = [8, 9, 7];
        let pred = box_mask(dims, [2, 2, 2], [5, 5, 5]);
        let truth = box_mask(dims, [2, 4, 2], [5, 7, 5]);
        let m = mask_metrics(&pred, &truth, dims, [1.0, 1.5, 2.5]).expect("valid input");
        assert_close(m.hd95, 3.0, 1e-12, "hd95");
        assert_close(m.dice, 1.0 / 3.0, 1e-12, "dice");
        assert_close(m.iou, 0.2, 1e-12, "iou");
        assert_close(m.sensitivity, 1.0 / 3.0, 1e-12, "sensitivity");
        let n = (8 * 9 * 7) as f64;
        assert_close(m.specificity, (n - 45.0) / (n - 27.0), 1e-12, "specificity");
    }

    /// Single voxels, where the percentile interpolation matters.
    ///
    /// Isotropic: pred = {(0,0,0)}, truth = {(3,0,0), (3,4,0)} (each voxel is its own
    /// surface). pred → truth: 3. truth → pred: 3 and 5. Pool sorted [3, 3, 5]; virtual
    /// index 2 · 0.95 = 1.9 → 3 + 0.9 · (5 − 3) = 4.8.
    ///
    /// Anisotropic (1.0, 1.5, 2.5): truth = {(3,0,0), (3,0,2)}. Distances: 3·1 = 3 twice and
    /// sqrt(3² + (2·2.5)²) = sqrt(34) → HD95 = 3 + 0.9 · (sqrt(34) − 3) ≈ 5.547857.
    #[test]
    fn single_voxels_interpolated_percentile() {
        let dims = [5, 5, 3];
        let pred = mask_from(dims, |x, y, z| (x, y, z) == (0, 0, 0));
        let truth = mask_from(dims, |x, y, z| {
            (x, y, z) == (3, 0, 0) || (x, y, z) == (3, 4, 0)
        });
        assert_close(
            hd95(&pred, &truth, dims, ISO).expect("valid"),
            4.8,
            1e-12,
            "iso",
        );

        let truth = mask_from(dims, |x, y, z| {
            (x, y, z) == (3, 0, 0) || (x, y, z) == (3, 0, 2)
        });
        let want = 3.0 + 0.9 * (34f64.sqrt() - 3.0);
        let got = hd95(&pred, &truth, dims, [1.0, 1.5, 2.5]).expect("valid");
        assert_close(got, want, 1e-12, "aniso");
        // HD95 is symmetric in its arguments.
        let back = hd95(&truth, &pred, dims, [1.0, 1.5, 2.5]).expect("valid");
        assert_close(back, want, 1e-12, "aniso swapped");
    }

    /// Mask voxels on the array edge are surface voxels (border_value = 0): in a full 4³
    /// volume only the 2³ inner voxels are interior, so the surface has 64 − 8 = 56 voxels.
    #[test]
    fn surface_counts_array_edge_as_background() {
        let dims = [4, 4, 4];
        let full = vec![true; 64];
        let s = surface(&full, dims);
        assert_eq!(s.iter().filter(|&&v| v).count(), 56);
        assert_eq!(s, brute_surface(&full, dims));
        // A 2-thick full volume has no interior voxel at all.
        let thin = vec![true; 4 * 4 * 2];
        assert!(surface(&thin, [4, 4, 2]).iter().all(|&v| v));
    }

    #[test]
    fn edt_hand_example_anisotropic() {
        // One feature voxel at (1, 2, 0) in a 3×4×2 grid with spacing (2, 1, 3):
        // d²(x, y, z) = (2(x−1))² + (y−2)² + (3z)².
        let dims = [3, 4, 2];
        let s = [2.0, 1.0, 3.0];
        let f = mask_from(dims, |x, y, z| (x, y, z) == (1, 2, 0));
        let d = squared_edt(&f, dims, s).expect("valid");
        for x in 0..3 {
            for y in 0..4 {
                for z in 0..2 {
                    let want = brute_dist2([x, y, z], [1, 2, 0], s);
                    assert_close(
                        d[idx(dims, x as usize, y as usize, z as usize)],
                        want,
                        0.0,
                        "d2",
                    );
                }
            }
        }
        let none = squared_edt(&[false; 24], dims, s).expect("valid");
        assert!(none.iter().all(|v| *v == f64::INFINITY));
    }

    // -----------------------------------------------------------------------------------
    // Conventions and errors
    // -----------------------------------------------------------------------------------

    #[test]
    fn both_empty_convention() {
        let dims = [4, 5, 6];
        let empty = vec![false; 120];
        let m = mask_metrics(&empty, &empty, dims, ISO).expect("valid");
        assert_eq!(
            m,
            MaskMetrics {
                dice: 1.0,
                iou: 1.0,
                sensitivity: 1.0,
                specificity: 1.0,
                hd95: 0.0
            }
        );
    }

    #[test]
    fn one_empty_convention() {
        let dims = [4, 5, 6];
        let empty = vec![false; 120];
        let some = box_mask(dims, [1, 1, 1], [3, 3, 3]);
        let m = mask_metrics(&some, &empty, dims, ISO).expect("valid");
        assert_eq!(m.dice, 0.0);
        assert_eq!(m.iou, 0.0);
        assert_eq!(m.hd95, HD95_ONE_EMPTY_MM);
        assert_eq!(m.sensitivity, 1.0, "truth empty → sensitivity 1");
        assert_close(m.specificity, 112.0 / 120.0, 1e-12, "specificity");

        let m = mask_metrics(&empty, &some, dims, ISO).expect("valid");
        assert_eq!((m.dice, m.iou, m.hd95), (0.0, 0.0, HD95_ONE_EMPTY_MM));
        assert_eq!(m.sensitivity, 0.0);
        assert_eq!(m.specificity, 1.0);
        assert_close(
            HD95_ONE_EMPTY_MM,
            (240f64.powi(2) * 2.0 + 155f64.powi(2)).sqrt(),
            1e-6,
            "const",
        );
    }

    #[test]
    fn truth_fills_volume_specificity_is_one() {
        let dims = [3, 3, 3];
        let full = vec![true; 27];
        let m = mask_metrics(&full, &full, dims, ISO).expect("valid");
        assert_eq!(m.specificity, 1.0);
        assert_eq!((m.dice, m.iou, m.sensitivity, m.hd95), (1.0, 1.0, 1.0, 0.0));
    }

    #[test]
    fn zero_sized_volume_is_both_empty() {
        let m = mask_metrics(&[], &[], [0, 7, 3], ISO).expect("valid");
        assert_eq!((m.dice, m.hd95), (1.0, 0.0));
        assert!(squared_edt(&[], [5, 0, 2], ISO).expect("valid").is_empty());
    }

    #[test]
    fn errors_are_specific() {
        let a = vec![false; 24];
        let b = vec![false; 23];
        let e = mask_metrics(&a, &b, [2, 3, 4], ISO).unwrap_err();
        assert!(matches!(
            e,
            MetricsError::PredTruthLength {
                pred_len: 24,
                truth_len: 23
            }
        ));
        assert!(e.to_string().contains("24") && e.to_string().contains("23"));

        let e = hd95(&a, &a, [2, 3, 5], ISO).unwrap_err();
        assert!(matches!(
            e,
            MetricsError::MaskLength {
                which: "prediction",
                len: 24,
                expected: 30,
                ..
            }
        ));
        assert!(e.to_string().contains("prediction"), "{e}");
        assert!(e.to_string().contains("30"), "{e}");

        let e = squared_edt(&a, [usize::MAX, 2, 1], ISO).unwrap_err();
        assert!(matches!(e, MetricsError::DimsOverflow { .. }));

        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let e = mask_metrics(&a, &a, [2, 3, 4], [1.0, bad, 1.0]).unwrap_err();
            assert!(
                matches!(e, MetricsError::InvalidSpacing { axis: 1, .. }),
                "{e}"
            );
            assert!(matches!(
                squared_edt(&a, [2, 3, 4], [1.0, 1.0, bad]),
                Err(MetricsError::InvalidSpacing { axis: 2, .. })
            ));
        }
    }

    // -----------------------------------------------------------------------------------
    // Values computed by medpy
    // -----------------------------------------------------------------------------------
    //
    // Produced with medpy 0.5.2 / scipy 1.17.1 / numpy 2.4.6 by this script (the masks are
    // built with the same integer formulas as `medpy_case` below):
    //
    // ```python
    // import numpy as np
    // from medpy.metric import binary as mb
    //
    // def grid(dims):
    //     return np.meshgrid(*[np.arange(n, dtype=np.int64) for n in dims], indexing="ij")
    //
    // def ellipsoid(dims, c2, ax):
    //     x, y, z = grid(dims)
    //     a, b, c = ax
    //     return ((2*x - c2[0])**2 * (b*b*c*c) + (2*y - c2[1])**2 * (a*a*c*c)
    //             + (2*z - c2[2])**2 * (a*a*b*b)) <= 4*a*a*b*b*c*c
    //
    // def box(dims, lo, hi):
    //     x, y, z = grid(dims)
    //     return ((x >= lo[0]) & (x < hi[0]) & (y >= lo[1]) & (y < hi[1])
    //             & (z >= lo[2]) & (z < hi[2]))
    //
    // def case(dims, name):
    //     x, y, z = grid(dims)
    //     if name in ("ellipsoids_iso", "ellipsoids_aniso"):
    //         return ellipsoid(dims, (46, 40, 30), (14, 11, 9)), ellipsoid(dims, (50, 37, 33), (12, 12, 8))
    //     if name == "border":
    //         return ellipsoid(dims, (4, 6, 2), (12, 10, 8)), box(dims, (0, 0, 0), (10, 14, 7))
    //     if name == "thin_sheet":
    //         sheet = (z == 8 + (x*x + 3*y) % 7) & (x >= 4) & (x < 36) & (y >= 5) & (y < 31)
    //         shell = ellipsoid(dims, (40, 36, 24), (15, 13, 8)) & ~ellipsoid(dims, (40, 36, 24), (13, 11, 6))
    //         return sheet, shell
    //     if name == "scattered":
    //         sc = ellipsoid(dims, (36, 36, 28), (14, 14, 10)) & ((7*x + 13*y + 5*z) % 11 < 4)
    //         return sc, ellipsoid(dims, (38, 34, 26), (12, 13, 9))
    //
    // CASES = [
    //     ("ellipsoids_iso", (48, 40, 32), (1.0, 1.0, 1.0)),
    //     ("ellipsoids_aniso", (48, 40, 32), (1.0, 1.5, 2.5)),
    //     ("border", (30, 26, 20), (0.8, 1.2, 2.0)),
    //     ("thin_sheet", (40, 36, 24), (1.0, 1.5, 2.5)),
    //     ("scattered", (36, 36, 28), (1.2, 0.7, 3.0)),
    // ]
    // for name, dims, sp in CASES:
    //     p, t = case(dims, name)
    //     print(f"{name}: n_pred={p.sum()} n_truth={t.sum()} "
    //           f"hd95={mb.hd95(p, t, voxelspacing=sp, connectivity=1):.9f} "
    //           f"dice={mb.dc(p, t):.9f} iou={mb.jc(p, t):.9f} "
    //           f"sens={mb.sensitivity(p, t):.9f} spec={mb.specificity(p, t):.9f}")
    // ```
    //
    // Output:
    //
    // ellipsoids_iso: n_pred=5765 n_truth=4824 hd95=3.605551275 dice=0.780999150 iou=0.640687945 sens=0.857172471 spec=0.971209552
    // ellipsoids_aniso: n_pred=5765 n_truth=4824 hd95=5.590169944 dice=0.780999150 iou=0.640687945 sens=0.857172471 spec=0.971209552
    // border: n_pred=1221 n_truth=980 hd95=4.000000000 dice=0.776010904 iou=0.634001485 sens=0.871428571 spec=0.974897401
    // thin_sheet: n_pred=832 n_truth=2908 hd95=10.440306509 dice=0.085561497 iou=0.044692737 sens=0.055020633 spec=0.978769114
    // scattered: n_pred=2996 n_truth=5837 hd95=5.869412236 dice=0.474810370 iou=0.311312352 sens=0.359259894 spec=0.970477160

    /// The masks of the Python snippet above.
    fn medpy_case(name: &str, dims: [usize; 3]) -> (Vec<bool>, Vec<bool>) {
        match name {
            "ellipsoids" => (
                mask_from(dims, |x, y, z| {
                    in_ellipsoid(x, y, z, [46, 40, 30], [14, 11, 9])
                }),
                mask_from(dims, |x, y, z| {
                    in_ellipsoid(x, y, z, [50, 37, 33], [12, 12, 8])
                }),
            ),
            "border" => (
                mask_from(dims, |x, y, z| {
                    in_ellipsoid(x, y, z, [4, 6, 2], [12, 10, 8])
                }),
                box_mask(dims, [0, 0, 0], [10, 14, 7]),
            ),
            "thin_sheet" => (
                mask_from(dims, |x, y, z| {
                    z == 8 + (x * x + 3 * y) % 7 && (4..36).contains(&x) && (5..31).contains(&y)
                }),
                mask_from(dims, |x, y, z| {
                    in_ellipsoid(x, y, z, [40, 36, 24], [15, 13, 8])
                        && !in_ellipsoid(x, y, z, [40, 36, 24], [13, 11, 6])
                }),
            ),
            "scattered" => (
                mask_from(dims, |x, y, z| {
                    in_ellipsoid(x, y, z, [36, 36, 28], [14, 14, 10])
                        && (7 * x + 13 * y + 5 * z) % 11 < 4
                }),
                mask_from(dims, |x, y, z| {
                    in_ellipsoid(x, y, z, [38, 34, 26], [12, 13, 9])
                }),
            ),
            other => panic!("unknown case {other}"),
        }
    }

    /// (case, dims, spacing, n_pred, n_truth, [hd95, dice, iou, sensitivity, specificity])
    type MedpyRef = (&'static str, [usize; 3], [f64; 3], usize, usize, [f64; 5]);

    const MEDPY: [MedpyRef; 5] = [
        (
            "ellipsoids",
            [48, 40, 32],
            [1.0, 1.0, 1.0],
            5765,
            4824,
            [
                3.605551275,
                0.780999150,
                0.640687945,
                0.857172471,
                0.971209552,
            ],
        ),
        (
            "ellipsoids",
            [48, 40, 32],
            [1.0, 1.5, 2.5],
            5765,
            4824,
            [
                5.590169944,
                0.780999150,
                0.640687945,
                0.857172471,
                0.971209552,
            ],
        ),
        (
            "border",
            [30, 26, 20],
            [0.8, 1.2, 2.0],
            1221,
            980,
            [
                4.000000000,
                0.776010904,
                0.634001485,
                0.871428571,
                0.974897401,
            ],
        ),
        (
            "thin_sheet",
            [40, 36, 24],
            [1.0, 1.5, 2.5],
            832,
            2908,
            [
                10.440306509,
                0.085561497,
                0.044692737,
                0.055020633,
                0.978769114,
            ],
        ),
        (
            "scattered",
            [36, 36, 28],
            [1.2, 0.7, 3.0],
            2996,
            5837,
            [
                5.869412236,
                0.474810370,
                0.311312352,
                0.359259894,
                0.970477160,
            ],
        ),
    ];

    #[test]
    fn matches_medpy_values() {
        for (name, dims, spacing, n_pred, n_truth, want) in MEDPY {
            let (pred, truth) = medpy_case(name, dims);
            assert_eq!(
                pred.iter().filter(|&&v| v).count(),
                n_pred,
                "{name}: pred voxels"
            );
            assert_eq!(
                truth.iter().filter(|&&v| v).count(),
                n_truth,
                "{name}: truth voxels"
            );
            let m = mask_metrics(&pred, &truth, dims, spacing).expect("valid input");
            let got = [m.hd95, m.dice, m.iou, m.sensitivity, m.specificity];
            let labels = ["hd95", "dice", "iou", "sensitivity", "specificity"];
            for ((g, w), l) in got.iter().zip(want).zip(labels) {
                // medpy values are printed to 9 decimals; 1e-6 is far inside the 1e-3 target.
                assert_close(*g, w, 1e-6, &format!("{name} {spacing:?} {l}"));
            }
            let swapped = hd95(&truth, &pred, dims, spacing).expect("valid input");
            assert_close(swapped, want[0], 1e-6, &format!("{name} swapped hd95"));
        }
    }

    // -----------------------------------------------------------------------------------
    // Property tests against brute force
    // -----------------------------------------------------------------------------------

    fn small_volume() -> impl Strategy<Value = ([usize; 3], [f64; 3], Vec<bool>, Vec<bool>)> {
        (
            [1usize..7, 1usize..7, 1usize..7],
            [0.3f64..3.0, 0.3f64..3.0, 0.3f64..3.0],
            0.02f64..0.6,
        )
            .prop_flat_map(|(dims, spacing, density)| {
                let n = dims[0] * dims[1] * dims[2];
                (
                    Just(dims),
                    Just(spacing),
                    prop::collection::vec(prop::bool::weighted(density), n),
                    prop::collection::vec(prop::bool::weighted(density), n),
                )
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn edt_matches_brute_force((dims, spacing, feature, _other) in small_volume()) {
            let d = squared_edt(&feature, dims, spacing).expect("valid input");
            prop_assert_eq!(d.len(), feature.len());
            for (i, &got) in d.iter().enumerate() {
                let want = (0..feature.len())
                    .filter(|&j| feature[j])
                    .map(|j| brute_dist2(coords(dims, i), coords(dims, j), spacing))
                    .fold(f64::INFINITY, f64::min);
                if want.is_infinite() {
                    prop_assert!(got.is_infinite());
                } else {
                    prop_assert!((got - want).abs() <= 1e-9 * (1.0 + want), "voxel {}: {} vs {}", i, got, want);
                }
            }
        }

        #[test]
        fn hd95_matches_brute_force((dims, spacing, pred, truth) in small_volume()) {
            let got = hd95(&pred, &truth, dims, spacing).expect("valid input");
            let np = pred.iter().filter(|&&v| v).count();
            let nt = truth.iter().filter(|&&v| v).count();
            let want = match (np, nt) {
                (0, 0) => 0.0,
                (0, _) | (_, 0) => HD95_ONE_EMPTY_MM,
                _ => brute_hd95(&pred, &truth, dims, spacing),
            };
            prop_assert!((got - want).abs() <= 1e-9 * (1.0 + want), "{} vs {}", got, want);
        }

        #[test]
        fn surface_matches_definition((dims, _spacing, mask, _other) in small_volume()) {
            prop_assert_eq!(surface(&mask, dims), brute_surface(&mask, dims));
        }
    }
}
