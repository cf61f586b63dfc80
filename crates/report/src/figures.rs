//! The report's pictures: the three planes through the largest lesion (its RANO calipers on
//! the axial one) and the 3-D view turned towards it, drawn by `adamm_view` as the page draws
//! them, in square millimetre pixels.

use adamm_measure::{Lesion, Measurements, Mesh};
use adamm_view::camera::Camera;
use adamm_view::planes::{
    centroid, draw_segment, render, Layout, Overlay, Plane, Segment, Underlay, BRAIN_OUTLINE,
    CALIPER,
};
use adamm_view::raster::{self, Picture};

use crate::ReportError;

/// The longer side of a plane's picture, pixels.
pub const PLANE_PIXELS: usize = 320;
/// The 3-D picture's edge, pixels.
pub const SURFACE_PIXELS: usize = 480;

/// What the pictures are made of.
#[derive(Debug, Clone, Copy)]
pub struct Scene<'a> {
    /// The scan drawn under the labels, on the labels' grid.
    pub underlay: &'a Underlay,
    /// Its name (e.g. "T1Gd").
    pub underlay_name: &'a str,
    /// The labels (internal values) on the underlay's native grid.
    pub labels: &'a [u8],
    /// The brain mask on the same grid (non-zero inside), outlined when given.
    pub brain: Option<&'a [u8]>,
    /// The measurements of `labels`.
    pub measurements: &'a Measurements,
    /// The surfaces (brain, WT, TC, ET) in world mm.
    pub meshes: &'a [(String, Mesh)],
}

/// One picture and what it shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// A caption for people.
    pub caption: String,
    /// The orientation letters at the picture's left, right, top and bottom edges, when it is
    /// a plane.
    pub letters: Option<[char; 4]>,
    /// The pixels.
    pub picture: Picture,
}

/// Where the pictures look: the canonical voxel the planes go through, the world point the
/// 3-D view faces, and the lesion there when there is one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Focus<'a> {
    /// Canonical voxel `[x, y, z]`.
    pub cursor: [usize; 3],
    /// World RAS mm.
    pub world_mm: Option<[f64; 3]>,
    /// The lesion with the largest RANO product.
    pub lesion: Option<&'a Lesion>,
}

/// The focus of `scene`: the middle of the longest diameter of the lesion with the largest
/// RANO product; else the whole tumour's centroid; else the middle of the grid.
pub fn focus<'a>(scene: &Scene<'a>, canonical_labels: &[u8]) -> Focus<'a> {
    let dims = scene.underlay.dims;
    let clamp = |p: [f64; 3]| [0, 1, 2].map(|a| (p[a].round().max(0.0) as usize).min(dims[a] - 1));
    if let Some(lesion) = scene.measurements.rano.lesions.first() {
        let d = &lesion.longest;
        let mid = |a: [f64; 3], b: [f64; 3]| [0, 1, 2].map(|k| 0.5 * (a[k] + b[k]));
        let native = mid(d.from_voxel, d.to_voxel);
        return Focus {
            cursor: clamp(scene.underlay.canonical_point(native)),
            world_mm: Some(mid(d.from_mm, d.to_mm)),
            lesion: Some(lesion),
        };
    }
    let wt = scene.measurements.regions.iter().find(|r| r.region == "WT");
    match centroid(canonical_labels, dims) {
        Some(cursor) => Focus {
            cursor,
            world_mm: wt.and_then(|r| r.centroid_mm),
            lesion: None,
        },
        None => Focus {
            cursor: dims.map(|d| d / 2),
            world_mm: None,
            lesion: None,
        },
    }
}

/// The three planes through the focus and the 3-D view (when there are surfaces).
pub fn figures(scene: &Scene<'_>) -> Result<Vec<Figure>, ReportError> {
    let u = scene.underlay;
    let grid = || ReportError::Grid {
        voxels: u.data.len(),
    };
    let labels = u.canonical(scene.labels).ok_or_else(grid)?;
    let brain = scene
        .brain
        .map(|b| u.canonical(b).ok_or_else(grid))
        .transpose()?;
    let focus = focus(scene, &labels);
    let layout = u.layout(true);
    let calipers: Vec<Segment> = focus
        .lesion
        .map(|l| {
            [&l.longest, &l.perpendicular]
                .map(|d| Segment {
                    from: u.canonical_point(d.from_voxel),
                    to: u.canonical_point(d.to_voxel),
                })
                .to_vec()
        })
        .unwrap_or_default();
    let outlines: Vec<(&[u8], [u8; 3])> = brain
        .as_deref()
        .map(|b| vec![(b, BRAIN_OUTLINE)])
        .unwrap_or_default();
    let mut out = Vec::new();
    for plane in Plane::ALL {
        let mut rgba = render(
            &layout,
            plane,
            focus.cursor,
            &u.data,
            u.auto,
            Some((&labels, Overlay::default())),
            &outlines,
        );
        if plane == Plane::Axial {
            for &s in &calipers {
                draw_segment(&layout, plane, focus.cursor, s, CALIPER, &mut rgba);
            }
        }
        let slice = focus.cursor[plane.fixed_axis()];
        let of = u.dims[plane.fixed_axis()];
        let from = match plane {
            Plane::Axial => "inferior",
            Plane::Coronal => "posterior",
            Plane::Sagittal => "the patient's left",
        };
        let mut caption = format!(
            "{} {}, slice {} of {of} counted from {from}, radiological convention",
            scene.underlay_name,
            plane.name(),
            slice + 1
        );
        if plane == Plane::Axial && !calipers.is_empty() {
            caption += "; the largest lesion's RANO diameters in magenta";
        }
        out.push(Figure {
            caption,
            letters: Some(layout.letters(plane)),
            picture: square_pixels(&layout, plane, u.spacing, &rgba),
        });
    }
    let surfaces = raster::surfaces(scene.meshes);
    let meshes: Vec<&Mesh> = surfaces.iter().map(|s| s.mesh).collect();
    if let Some(camera) = Camera::framing(&meshes) {
        let camera = match focus.world_mm {
            Some(p) => camera.facing(p.map(|v| v as f32)),
            None => camera,
        };
        let names: Vec<&str> = scene
            .meshes
            .iter()
            .filter(|(_, m)| !m.triangles.is_empty())
            .map(|(n, _)| n.as_str())
            .collect();
        out.push(Figure {
            caption: format!(
                "3-D view ({}), turned towards {}",
                names.join(", "),
                if focus.lesion.is_some() {
                    "the largest lesion"
                } else {
                    "the tumour"
                }
            ),
            letters: None,
            picture: raster::render(&surfaces, &camera, SURFACE_PIXELS, SURFACE_PIXELS),
        });
    }
    Ok(out)
}

/// A plane's pixels (one per voxel) resampled, nearest neighbour, to square pixels of equal
/// millimetres whose longer side is [`PLANE_PIXELS`].
fn square_pixels(layout: &Layout, plane: Plane, spacing: [f64; 3], rgba: &[u8]) -> Picture {
    let (w, h) = layout.size(plane);
    let (w_mm, h_mm) = layout.extent_mm(plane, spacing);
    let scale = PLANE_PIXELS as f64 / w_mm.max(h_mm).max(1e-9);
    let width = ((w_mm * scale).round() as usize).max(1);
    let height = ((h_mm * scale).round() as usize).max(1);
    let mut out = Vec::with_capacity(4 * width * height);
    for y in 0..height {
        let row = (y * h / height).min(h - 1);
        for x in 0..width {
            let column = (x * w / width).min(w - 1);
            let i = 4 * (row * w + column);
            out.extend_from_slice(&rgba[i..i + 4]);
        }
    }
    Picture {
        width,
        height,
        rgba: out,
    }
}
