//! The three orthogonal views: which voxel each screen pixel shows, the crosshair, the
//! orientation letters, intensity windowing and the label overlay.
//!
//! Everything works on the canonical RAS grid (`adamm_volume::Volume::to_canonical`: x towards
//! the patient's right, y anterior, z superior), so the views are the same whatever the files'
//! orientation. Rows are listed top to bottom, columns left to right. Pure logic, no DOM.

use adamm_volume::brats::{label, LABEL_COLOURS};

/// One of the three orthogonal planes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Plane {
    /// Fixed z (superior–inferior): seen from below in radiological convention.
    Axial,
    /// Fixed y (anterior–posterior): seen from the front in radiological convention.
    Coronal,
    /// Fixed x (left–right): anterior on the left.
    Sagittal,
}

impl Plane {
    /// The three planes in the order the page shows them.
    pub const ALL: [Plane; 3] = [Plane::Axial, Plane::Coronal, Plane::Sagittal];

    /// Display name.
    pub fn name(self) -> &'static str {
        match self {
            Plane::Axial => "axial",
            Plane::Coronal => "coronal",
            Plane::Sagittal => "sagittal",
        }
    }

    /// The canonical axis this plane holds fixed (0 x, 1 y, 2 z).
    pub fn fixed_axis(self) -> usize {
        match self {
            Plane::Axial => 2,
            Plane::Coronal => 1,
            Plane::Sagittal => 0,
        }
    }

    /// The canonical axes along the screen's columns and rows.
    fn screen_axes(self) -> (usize, usize) {
        match self {
            Plane::Axial => (0, 1),
            Plane::Coronal => (0, 2),
            Plane::Sagittal => (1, 2),
        }
    }

    /// Whether the voxel index decreases from left to right along the columns: in
    /// radiological convention the patient's right (high x) is on the screen's left; the
    /// sagittal view puts anterior (high y) on the left.
    fn columns_reversed(self, radiological: bool) -> bool {
        match self {
            Plane::Axial | Plane::Coronal => radiological,
            Plane::Sagittal => true,
        }
    }
}

/// How the views are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Canonical grid `[nx, ny, nz]`.
    pub dims: [usize; 3],
    /// Patient's right on the screen's left (radiological) or on its right (neurological).
    pub radiological: bool,
}

impl Layout {
    /// `(columns, rows)` of a plane's image.
    pub fn size(&self, plane: Plane) -> (usize, usize) {
        let (c, r) = plane.screen_axes();
        (self.dims[c], self.dims[r])
    }

    /// The size in mm of a plane's image, for its aspect ratio on screen.
    pub fn extent_mm(&self, plane: Plane, spacing_mm: [f64; 3]) -> (f64, f64) {
        let (c, r) = plane.screen_axes();
        (
            self.dims[c] as f64 * spacing_mm[c],
            self.dims[r] as f64 * spacing_mm[r],
        )
    }

    /// The voxel shown at pixel `(column, row)` of `plane` through `cursor`.
    pub fn voxel_at(
        &self,
        plane: Plane,
        cursor: [usize; 3],
        column: usize,
        row: usize,
    ) -> [usize; 3] {
        let (c, r) = plane.screen_axes();
        let mut v = cursor;
        v[c] = if plane.columns_reversed(self.radiological) {
            self.dims[c] - 1 - column.min(self.dims[c] - 1)
        } else {
            column.min(self.dims[c] - 1)
        };
        v[r] = self.dims[r] - 1 - row.min(self.dims[r] - 1);
        v
    }

    /// The pixel `(column, row)` where `cursor` lies in `plane` (the crosshair).
    pub fn pixel_of(&self, plane: Plane, cursor: [usize; 3]) -> (usize, usize) {
        let (c, r) = plane.screen_axes();
        let column = if plane.columns_reversed(self.radiological) {
            self.dims[c] - 1 - cursor[c]
        } else {
            cursor[c]
        };
        (column, self.dims[r] - 1 - cursor[r])
    }

    /// Index into canonical data (x fastest) of every pixel of `plane` at `cursor`'s slice,
    /// rows top to bottom.
    pub fn pixel_voxels(&self, plane: Plane, cursor: [usize; 3]) -> Vec<usize> {
        let (w, h) = self.size(plane);
        let [nx, ny, _] = self.dims;
        let mut out = Vec::with_capacity(w * h);
        for row in 0..h {
            for column in 0..w {
                let [x, y, z] = self.voxel_at(plane, cursor, column, row);
                out.push(x + nx * (y + ny * z));
            }
        }
        out
    }

    /// Orientation letters at the left, right, top and bottom edges of `plane`.
    pub fn letters(&self, plane: Plane) -> [char; 4] {
        let (left, right) = match (plane, self.radiological) {
            (Plane::Sagittal, _) => ('A', 'P'),
            (_, true) => ('R', 'L'),
            (_, false) => ('L', 'R'),
        };
        let (top, bottom) = match plane {
            Plane::Axial => ('A', 'P'),
            Plane::Coronal | Plane::Sagittal => ('S', 'I'),
        };
        [left, right, top, bottom]
    }

    /// `cursor` moved by `delta` slices along `plane`'s fixed axis, kept in the grid.
    pub fn scroll(&self, plane: Plane, cursor: [usize; 3], delta: i64) -> [usize; 3] {
        let a = plane.fixed_axis();
        let mut c = cursor;
        c[a] = (c[a] as i64 + delta).clamp(0, self.dims[a] as i64 - 1) as usize;
        c
    }
}

/// The voxel nearest the centre of mass of the non-background voxels of `labels` (x
/// fastest, `dims`), where the views go after a segmentation; `None` when all is background.
pub fn centroid(labels: &[u8], dims: [usize; 3]) -> Option<[usize; 3]> {
    let (mut sum, mut n) = ([0f64; 3], 0f64);
    for (i, _) in labels
        .iter()
        .enumerate()
        .filter(|(_, &l)| l != label::BACKGROUND)
    {
        let v = [i % dims[0], i / dims[0] % dims[1], i / (dims[0] * dims[1])];
        for a in 0..3 {
            sum[a] += v[a] as f64;
        }
        n += 1.0;
    }
    (n > 0.0).then(|| [0, 1, 2].map(|a| ((sum[a] / n).round() as usize).min(dims[a] - 1)))
}

/// An intensity window: values at `low` or below are black, at `high` or above white.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// Black level.
    pub low: f32,
    /// White level.
    pub high: f32,
}

impl Window {
    /// The 0.5th to 99.5th percentile of the non-zero voxels (the brain, in skull-stripped
    /// scans), as viewers default to; `[0, 1]` for an empty volume.
    pub fn auto(data: &[f32]) -> Window {
        let mut v: Vec<f32> = data.iter().copied().filter(|&x| x != 0.0).collect();
        if v.is_empty() {
            return Window {
                low: 0.0,
                high: 1.0,
            };
        }
        v.sort_by(f32::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        let (low, high) = (at(0.005), at(0.995));
        Window {
            low,
            high: if high > low { high } else { low + 1.0 },
        }
    }

    /// Level/width adjusted by a mouse drag: right widens, up brightens (lowers the level),
    /// each in units of the current width per 200 pixels, as ITK-SNAP and Slicer do.
    pub fn dragged(self, dx: f64, dy: f64) -> Window {
        let width = f64::from(self.high - self.low);
        let level = f64::from(self.high + self.low) / 2.0;
        let width = (width * (1.0 + dx / 200.0)).max(1e-6);
        let level = level + dy / 200.0 * width;
        Window {
            low: (level - width / 2.0) as f32,
            high: (level + width / 2.0) as f32,
        }
    }

    /// The grey level (0–255) of `value`.
    pub fn grey(&self, value: f32) -> u8 {
        let t = (value - self.low) / (self.high - self.low);
        (t.clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

/// Which labels are drawn and how.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Overlay {
    /// Opacity of the label colours, 0 to 1.
    pub opacity: f32,
    /// Show NETC, SNFH, ET (in [`LABEL_COLOURS`] order).
    pub shown: [bool; 3],
}

impl Default for Overlay {
    fn default() -> Overlay {
        Overlay {
            opacity: 0.5,
            shown: [true; 3],
        }
    }
}

/// Colour of the ground truth's outline.
pub const TRUTH_OUTLINE: [u8; 3] = [0, 220, 255];

/// Draws one plane as RGBA pixels: the underlay in `window`, the predicted labels blended in
/// their colours, and the outline of the ground truth's whole tumour.
pub fn render(
    layout: &Layout,
    plane: Plane,
    cursor: [usize; 3],
    underlay: &[f32],
    window: Window,
    labels: Option<(&[u8], Overlay)>,
    truth: Option<&[u8]>,
) -> Vec<u8> {
    let (w, h) = layout.size(plane);
    let voxels = layout.pixel_voxels(plane, cursor);
    let mut rgba = Vec::with_capacity(w * h * 4);
    for &v in &voxels {
        let g = window.grey(underlay.get(v).copied().unwrap_or(0.0));
        let mut px = [f32::from(g); 3];
        if let Some((labels, overlay)) = labels {
            let l = labels.get(v).copied().unwrap_or(label::BACKGROUND);
            if let Some(k) = LABEL_COLOURS.iter().position(|(value, ..)| *value == l) {
                if overlay.shown[k] {
                    let colour = LABEL_COLOURS[k].2;
                    for (p, c) in px.iter_mut().zip(colour) {
                        *p = *p * (1.0 - overlay.opacity) + f32::from(c) * overlay.opacity;
                    }
                }
            }
        }
        rgba.extend(px.map(|p| p.round().clamp(0.0, 255.0) as u8));
        rgba.push(255);
    }
    if let Some(truth) = truth {
        let inside = |i: usize| {
            truth
                .get(voxels[i])
                .is_some_and(|&l| l != label::BACKGROUND)
        };
        for row in 0..h {
            for column in 0..w {
                let i = row * w + column;
                if !inside(i) {
                    continue;
                }
                let edge = column == 0
                    || row == 0
                    || column + 1 == w
                    || row + 1 == h
                    || !inside(i - 1)
                    || !inside(i + 1)
                    || !inside(i - w)
                    || !inside(i + w);
                if edge {
                    rgba[4 * i..4 * i + 3].copy_from_slice(&TRUTH_OUTLINE);
                }
            }
        }
    }
    rgba
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIMS: [usize; 3] = [4, 3, 2];

    fn layout(radiological: bool) -> Layout {
        Layout {
            dims: DIMS,
            radiological,
        }
    }

    #[test]
    fn axial_view_puts_anterior_up_and_the_right_where_the_convention_says() {
        let cursor = [0, 0, 1];
        // Neurological: column 0 is x 0 (patient's left); row 0 is the most anterior y.
        assert_eq!(
            layout(false).voxel_at(Plane::Axial, cursor, 0, 0),
            [0, 2, 1]
        );
        // Radiological: column 0 is the patient's right (x 3).
        assert_eq!(layout(true).voxel_at(Plane::Axial, cursor, 0, 0), [3, 2, 1]);
        assert_eq!(layout(true).letters(Plane::Axial), ['R', 'L', 'A', 'P']);
        assert_eq!(layout(false).letters(Plane::Axial), ['L', 'R', 'A', 'P']);
        assert_eq!(layout(true).letters(Plane::Sagittal), ['A', 'P', 'S', 'I']);
        assert_eq!(layout(true).size(Plane::Axial), (4, 3));
        assert_eq!(layout(true).size(Plane::Sagittal), (3, 2));
    }

    #[test]
    fn pixels_and_voxels_are_inverse_in_every_plane_and_convention() {
        for radiological in [false, true] {
            let l = layout(radiological);
            for plane in Plane::ALL {
                let (w, h) = l.size(plane);
                for row in 0..h {
                    for column in 0..w {
                        let v = l.voxel_at(plane, [1, 1, 1], column, row);
                        assert_eq!(v[plane.fixed_axis()], 1);
                        assert_eq!(l.pixel_of(plane, v), (column, row), "{plane:?}");
                    }
                }
                // Every voxel of the slice appears exactly once.
                let mut seen = l.pixel_voxels(plane, [1, 1, 1]);
                seen.sort_unstable();
                seen.dedup();
                assert_eq!(seen.len(), w * h);
            }
        }
    }

    #[test]
    fn the_views_centre_on_the_tumour() {
        let mut labels = vec![0u8; 24];
        assert_eq!(centroid(&labels, DIMS), None);
        labels[1 + 4 * (2 + 3)] = label::ET; // x 1, y 2, z 1
        labels[3 + 4 * (2 + 3)] = label::SNFH; // x 3, y 2, z 1
        assert_eq!(centroid(&labels, DIMS), Some([2, 2, 1]));
    }

    #[test]
    fn scrolling_stays_in_the_grid() {
        let l = layout(true);
        assert_eq!(l.scroll(Plane::Axial, [1, 1, 0], 5), [1, 1, 1]);
        assert_eq!(l.scroll(Plane::Sagittal, [2, 1, 0], -9), [0, 1, 0]);
        assert_eq!(l.scroll(Plane::Coronal, [2, 1, 0], 1), [2, 2, 0]);
    }

    #[test]
    fn windows_map_percentiles_to_black_and_white() {
        let data: Vec<f32> = (0..=1000).map(|i| i as f32).collect();
        let w = Window::auto(&data);
        assert_eq!((w.low, w.high), (6.0, 995.0));
        assert_eq!(w.grey(0.0), 0);
        assert_eq!(w.grey(2000.0), 255);
        assert_eq!(w.grey(501.0), 128);
        let wider = w.dragged(200.0, 0.0);
        assert!((wider.high - wider.low - 2.0 * (w.high - w.low)).abs() < 1e-3);
        let brighter = w.dragged(0.0, -100.0);
        assert!(brighter.low < w.low && brighter.grey(501.0) > 128);
        assert_eq!(
            Window::auto(&[0.0; 8]),
            Window {
                low: 0.0,
                high: 1.0
            }
        );
    }

    #[test]
    fn overlay_blends_label_colours_and_outlines_the_truth() {
        let l = Layout {
            dims: [5, 5, 1],
            radiological: false,
        };
        let underlay = vec![100.0; 25];
        let window = Window {
            low: 0.0,
            high: 100.0,
        };
        let mut labels = vec![0u8; 25];
        labels[12] = label::ET; // x 2, y 2: the centre pixel
        labels[0] = label::SNFH; // x 0, y 0: bottom-left pixel
        let mut truth = vec![0u8; 25];
        for y in 1..4 {
            for x in 1..4 {
                truth[x + 5 * y] = label::NETC;
            }
        }
        let overlay = Overlay {
            opacity: 1.0,
            shown: [true, false, true],
        };
        let rgba = render(
            &l,
            Plane::Axial,
            [0, 0, 0],
            &underlay,
            window,
            Some((&labels, overlay)),
            Some(&truth),
        );
        let px = |column: usize, row: usize| {
            let i = 4 * (row * 5 + column);
            [rgba[i], rgba[i + 1], rgba[i + 2]]
        };
        assert_eq!(px(2, 2), [230, 40, 40], "ET in red, inside the outline");
        assert_eq!(px(0, 4), [255, 255, 255], "SNFH hidden");
        assert_eq!(px(1, 1), TRUTH_OUTLINE, "truth border");
        assert_eq!(px(4, 0), [255, 255, 255], "outside");
        assert!(rgba.chunks(4).all(|p| p[3] == 255));
    }
}
