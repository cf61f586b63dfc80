//! The RANO bidimensional measurement (Wen et al., J Clin Oncol 2010) of a label map.
//!
//! Lesions are the 26-connected components of the enhancing tumour (ET), or of the tumour core
//! (TC) when the map has no ET. On each axial slice a lesion crosses (the slices across the
//! voxel axis closest to superior–inferior), its cross-section is measured as calipers on the
//! image: the **longest diameter** is the greatest distance between the outer edges of its
//! voxels (between corners of the convex hull of the voxels' squares), the **perpendicular
//! diameter** the longest chord of that hull at right angles to it (so a ring-enhancing lesion
//! is measured across its cavity, as a reader would). Both are in world millimetres through the
//! affine. A lesion is reported on the slice where the product of the two is largest. It is
//! **measurable** when both diameters are at least [`MEASURABLE_MM`] and it is seen on at least
//! two axial slices; the sum of the products runs over the measurable lesions.

use adamm_volume::brats::{label, Region};
use adamm_volume::mask::components_26;
use adamm_volume::Affine;
use serde::{Deserialize, Serialize};

use crate::geometry::{axial_axis, convex_hull, farthest_pair, longest_chord_across, SliceFrame};
use crate::MeasureError;

/// The smallest diameter (both of them) of a measurable lesion, mm.
pub const MEASURABLE_MM: f64 = 10.0;

/// The fewest axial slices a measurable lesion is seen on.
pub const MEASURABLE_SLICES: usize = 2;

/// A diameter drawn on an axial slice: its ends in voxel coordinates (fractional: on voxel
/// edges) and in world mm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Diameter {
    /// Length, mm.
    pub length_mm: f64,
    /// One end, world RAS mm.
    pub from_mm: [f64; 3],
    /// The other end, world RAS mm.
    pub to_mm: [f64; 3],
    /// One end, voxel coordinates `(i, j, k)` of the label map's grid.
    pub from_voxel: [f64; 3],
    /// The other end, voxel coordinates.
    pub to_voxel: [f64; 3],
}

/// One lesion's measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lesion {
    /// Its volume, mL.
    pub volume_ml: f64,
    /// The axial slice it is measured on (index along [`Rano::axial_axis`]).
    pub slice: usize,
    /// How many axial slices it is seen on.
    pub slices: usize,
    /// The longest diameter on that slice.
    pub longest: Diameter,
    /// The longest diameter perpendicular to it.
    pub perpendicular: Diameter,
    /// `longest × perpendicular`, mm².
    pub product_mm2: f64,
    /// Both diameters ≥ [`MEASURABLE_MM`] and seen on ≥ [`MEASURABLE_SLICES`] slices.
    pub measurable: bool,
}

/// The RANO measurement of a label map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rano {
    /// What the lesions are components of: `"ET"`, or `"TC"` when there is no ET; `None`
    /// when there is no tumour core at all.
    pub region: Option<String>,
    /// The voxel axis the axial slices are cut across.
    pub axial_axis: usize,
    /// The lesions, largest product first.
    pub lesions: Vec<Lesion>,
    /// How many lesions are measurable.
    pub measurable: usize,
    /// The sum of the measurable lesions' products, mm².
    pub sum_of_products_mm2: f64,
}

impl Rano {
    /// One line per lesion and a total, for people.
    pub fn describe(&self) -> Vec<String> {
        let Some(region) = &self.region else {
            return vec!["RANO: no enhancing lesion or tumour core to measure".to_owned()];
        };
        let mut lines = vec![format!(
            "RANO ({region} lesions, axial slices across voxel axis {}): {} lesion(s), {} \
             measurable, sum of products {:.0} mm²",
            self.axial_axis,
            self.lesions.len(),
            self.measurable,
            self.sum_of_products_mm2
        )];
        for (n, l) in self.lesions.iter().enumerate() {
            lines.push(format!(
                "  lesion {}: {:.1} × {:.1} mm = {:.0} mm² on slice {} ({} slices, {:.2} mL){}",
                n + 1,
                l.longest.length_mm,
                l.perpendicular.length_mm,
                l.product_mm2,
                l.slice,
                l.slices,
                l.volume_ml,
                if l.measurable { "" } else { ", not measurable" }
            ));
        }
        lines
    }
}

/// Measures `labels` (internal labels on the grid `dims`, x fastest) whose voxel-to-world
/// affine is `world_from_voxel`.
pub fn measure_rano(
    labels: &[u8],
    dims: [usize; 3],
    world_from_voxel: &Affine,
) -> Result<Rano, MeasureError> {
    crate::check_grid(labels.len(), dims, world_from_voxel)?;
    let axis = axial_axis(world_from_voxel);
    let frame = SliceFrame::new(world_from_voxel, axis).ok_or(MeasureError::Affine)?;
    let region = if labels.contains(&label::ET) {
        Some(Region::ET)
    } else if labels.iter().any(|&l| Region::TC.contains(l)) {
        Some(Region::TC)
    } else {
        None
    };
    let Some(region) = region else {
        return Ok(Rano {
            region: None,
            axial_axis: axis,
            lesions: Vec::new(),
            measurable: 0,
            sum_of_products_mm2: 0.0,
        });
    };
    let mask: Vec<bool> = labels.iter().map(|&l| region.contains(l)).collect();
    let (component, sizes) = components_26(&mask, dims);
    let voxel_ml = world_from_voxel.det3().abs() / 1000.0;

    // Per lesion and axial slice, the extreme voxels of each in-plane row: their squares'
    // corners span the cross-section's convex hull.
    let [pa, pb] = frame.axes();
    let slices_of = dims[axis];
    let mut rows: Vec<Vec<RowExtent>> = vec![Vec::new(); sizes.len() * slices_of];
    for (i, &c) in component.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let v = [
            i % dims[0],
            (i / dims[0]) % dims[1],
            i / (dims[0] * dims[1]),
        ];
        let slot = &mut rows[(c as usize - 1) * slices_of + v[axis]];
        let (a, b) = (v[pa], v[pb]);
        match slot.iter_mut().find(|r| r.b == b) {
            Some(r) => {
                r.min_a = r.min_a.min(a);
                r.max_a = r.max_a.max(a);
            }
            None => slot.push(RowExtent {
                b,
                min_a: a,
                max_a: a,
            }),
        }
    }

    let mut lesions = Vec::with_capacity(sizes.len());
    for (c, &size) in sizes.iter().enumerate() {
        let mut best: Option<(usize, Diameter, Diameter)> = None;
        let mut seen = 0;
        for slice in 0..slices_of {
            let extents = &rows[c * slices_of + slice];
            if extents.is_empty() {
                continue;
            }
            seen += 1;
            let Some((longest, perpendicular)) = cross_section(&frame, axis, slice, extents) else {
                continue;
            };
            let product = longest.length_mm * perpendicular.length_mm;
            if best
                .as_ref()
                .is_none_or(|(_, l, p)| product > l.length_mm * p.length_mm)
            {
                best = Some((slice, longest, perpendicular));
            }
        }
        if let Some((slice, longest, perpendicular)) = best {
            lesions.push(Lesion {
                volume_ml: size as f64 * voxel_ml,
                slice,
                slices: seen,
                longest,
                perpendicular,
                product_mm2: longest.length_mm * perpendicular.length_mm,
                measurable: longest.length_mm >= MEASURABLE_MM
                    && perpendicular.length_mm >= MEASURABLE_MM
                    && seen >= MEASURABLE_SLICES,
            });
        }
    }
    lesions.sort_by(|a, b| b.product_mm2.total_cmp(&a.product_mm2));
    let measurable = lesions.iter().filter(|l| l.measurable).count();
    let sum_of_products_mm2 = lesions
        .iter()
        .filter(|l| l.measurable)
        .map(|l| l.product_mm2)
        .sum();
    Ok(Rano {
        region: Some(region.name().to_owned()),
        axial_axis: axis,
        lesions,
        measurable,
        sum_of_products_mm2,
    })
}

/// The extent of a cross-section's voxels along one in-plane row.
#[derive(Debug, Clone, Copy)]
struct RowExtent {
    b: usize,
    min_a: usize,
    max_a: usize,
}

/// The longest diameter of one cross-section and the longest perpendicular to it.
fn cross_section(
    frame: &SliceFrame,
    axis: usize,
    slice: usize,
    rows: &[RowExtent],
) -> Option<(Diameter, Diameter)> {
    // Corners of the extreme voxels of every row, in the slice's 2-D mm frame, with their
    // voxel coordinates to map the result back.
    let mut points = Vec::with_capacity(rows.len() * 8);
    for r in rows {
        for a in [r.min_a as f64 - 0.5, r.max_a as f64 + 0.5] {
            for b in [r.b as f64 - 0.5, r.b as f64 + 0.5] {
                points.push(frame.project(frame.world(frame.voxel(axis, slice, a, b))));
            }
        }
    }
    let hull = convex_hull(&points);
    let (p, q, length) = farthest_pair(&hull)?;
    if length <= 0.0 {
        return None;
    }
    let u = [(q[0] - p[0]) / length, (q[1] - p[1]) / length];
    let (r, s, width) = longest_chord_across(&hull, u)?;
    let diameter = |a: [f64; 2], b: [f64; 2], length_mm: f64| {
        let (from_voxel, from_mm) = back(frame, axis, slice, a);
        let (to_voxel, to_mm) = back(frame, axis, slice, b);
        Diameter {
            length_mm,
            from_mm,
            to_mm,
            from_voxel,
            to_voxel,
        }
    };
    Some((diameter(p, q, length), diameter(r, s, width)))
}

/// A point of the slice's 2-D frame back in voxel and world coordinates: the frame is an
/// affine image of the slice's in-plane index coordinates, so solve the 2 × 2 system.
fn back(frame: &SliceFrame, axis: usize, slice: usize, p: [f64; 2]) -> ([f64; 3], [f64; 3]) {
    let o = frame.project(frame.world(frame.voxel(axis, slice, 0.0, 0.0)));
    let ea = frame.project(frame.world(frame.voxel(axis, slice, 1.0, 0.0)));
    let eb = frame.project(frame.world(frame.voxel(axis, slice, 0.0, 1.0)));
    let (a1, a2) = (ea[0] - o[0], ea[1] - o[1]);
    let (b1, b2) = (eb[0] - o[0], eb[1] - o[1]);
    let det = a1 * b2 - a2 * b1;
    let (d1, d2) = (p[0] - o[0], p[1] - o[1]);
    let a = (d1 * b2 - d2 * b1) / det;
    let b = (a1 * d2 - a2 * d1) / det;
    let voxel = frame.voxel(axis, slice, a, b);
    (voxel, frame.world(voxel))
}
