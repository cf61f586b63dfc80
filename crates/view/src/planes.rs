//! The three orthogonal views: which voxel each screen pixel shows, where a mouse click
//! lands, the crosshair, the orientation letters, the underlay and the label overlay.
//!
//! Everything works on the canonical RAS grid (`adamm_volume::Volume::to_canonical`: x towards
//! the patient's right, y anterior, z superior), so the views are the same whatever the files'
//! orientation. Rows are listed top to bottom, columns left to right. Pure logic, no DOM.

use adamm_volume::brats::{label, GRID_TOLERANCE_MM, LABEL_COLOURS};
use adamm_volume::regrid::{resample, Interpolation, TargetGrid};
use adamm_volume::{Affine, AxisMap, Header, Volume, VolumeError};

use crate::intensity::IntensityWindow;

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

/// The scan under the labels on the canonical grid, with its automatic intensity window:
/// built once for each scan shown (a full copy of its voxels and a pass for the window).
#[derive(Debug, Clone)]
pub struct Underlay {
    /// Canonical grid `[nx, ny, nz]`.
    pub dims: [usize; 3],
    /// Voxel size along the canonical axes, mm.
    pub spacing: [f64; 3],
    /// Voxels in canonical order (x fastest).
    pub data: Vec<f32>,
    /// The scan's native grid to canonical.
    pub map: AxisMap,
    /// The scan's header (its native grid).
    pub grid: Header,
    /// The window the views start with ([`IntensityWindow::auto`]).
    pub auto: IntensityWindow,
}

impl Underlay {
    /// `volume` on the canonical grid.
    pub fn of(volume: &Volume) -> Underlay {
        let canonical = volume.to_canonical();
        Underlay {
            dims: canonical.dims(),
            spacing: canonical.world_from_voxel.column_norms(),
            auto: IntensityWindow::auto(&canonical.data),
            data: canonical.data,
            map: canonical.map,
            grid: volume.header.clone(),
        }
    }

    /// `volume` shown on `grid` (the reference scan's header): resampled there trilinearly
    /// through world coordinates, moved by `scan_world_from_grid_world` (a registration's
    /// result; the identity places it as the headers do). A volume on `grid` already, not
    /// moved, is used as it is.
    pub fn on_grid(
        volume: &Volume,
        grid: &Header,
        scan_world_from_grid_world: &Affine,
    ) -> Result<Underlay, VolumeError> {
        let target = TargetGrid {
            dims: grid.dims,
            world_from_voxel: grid.world_from_voxel()?,
        };
        let same = volume.dims() == grid.dims
            && volume
                .world_from_voxel()
                .max_abs_diff(&target.world_from_voxel)
                < GRID_TOLERANCE_MM;
        if same && scan_world_from_grid_world.max_abs_diff(&Affine::IDENTITY) < 1e-9 {
            return Ok(Underlay::of(volume));
        }
        let data = resample(
            volume,
            &target,
            scan_world_from_grid_world,
            Interpolation::Linear,
            0.0,
        )?;
        Ok(Underlay::of(&Volume::new(data, grid.clone())?))
    }

    /// The views' layout of this grid.
    pub fn layout(&self, radiological: bool) -> Layout {
        Layout {
            dims: self.dims,
            radiological,
        }
    }

    /// A point of the native grid (fractional voxel coordinates, e.g. the end of a RANO
    /// diameter) on the canonical grid.
    pub fn canonical_point(&self, native: [f64; 3]) -> [f64; 3] {
        let m = &self.map;
        [0, 1, 2].map(|a| {
            let n = m.perm[a];
            if m.flip[a] {
                m.native_dims[n] as f64 - 1.0 - native[n]
            } else {
                native[n]
            }
        })
    }

    /// Voxels on the scan's native grid (labels, a ground truth) in canonical order; `None`
    /// when there are not as many as the grid has.
    pub fn canonical<T: Copy>(&self, native: &[T]) -> Option<Vec<T>> {
        (native.len() == self.data.len()).then(|| self.map.canonical_from_native(native))
    }
}

/// Where a canvas lies on the page (CSS pixels), as `getBoundingClientRect` gives it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScreenRect {
    /// Left edge.
    pub left: f64,
    /// Top edge.
    pub top: f64,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
}

/// The image pixel `(column, row)` under the mouse at page position `(x, y)` on a canvas of
/// `size` pixels drawn in `rect` (the image is stretched over the box); `None` outside it or
/// on an empty canvas.
pub fn pixel_under(x: f64, y: f64, rect: ScreenRect, size: (u32, u32)) -> Option<(usize, usize)> {
    let fx = (x - rect.left) / rect.width;
    let fy = (y - rect.top) / rect.height;
    let inside = |f: f64| (0.0..=1.0).contains(&f);
    if size.0 == 0 || size.1 == 0 || !inside(fx) || !inside(fy) {
        return None;
    }
    let at = |f: f64, n: u32| ((f * f64::from(n)) as usize).min(n as usize - 1);
    Some((at(fx, size.0), at(fy, size.1)))
}

/// Whether a mouse press changes the intensity window (right button, or Shift) rather than
/// moving the crosshair.
pub fn drags_window(button: i16, shift: bool) -> bool {
    button == 2 || shift
}

/// Slices to move for a wheel turn of `delta_y` (towards the user: down a slice).
pub fn wheel_step(delta_y: f64) -> i64 {
    if delta_y > 0.0 {
        -1
    } else if delta_y < 0.0 {
        1
    } else {
        0
    }
}

/// Slices to move for a key (`KeyboardEvent.key`): ↑ / Page Up one up, ↓ / Page Down one down.
pub fn key_step(key: &str) -> Option<i64> {
    match key {
        "ArrowUp" | "PageUp" => Some(1),
        "ArrowDown" | "PageDown" => Some(-1),
        _ => None,
    }
}

/// Colour of the crosshair.
pub const CROSSHAIR: [u8; 3] = [255, 200, 0];

/// Draws the crosshair through `cursor` over a plane's RGBA pixels (as [`render`] made them).
pub fn draw_crosshair(layout: &Layout, plane: Plane, cursor: [usize; 3], rgba: &mut [u8]) {
    let (w, h) = layout.size(plane);
    let (cx, cy) = layout.pixel_of(plane, cursor);
    for (i, px) in rgba.chunks_exact_mut(4).take(w * h).enumerate() {
        if i / w == cy || i % w == cx {
            px[..3].copy_from_slice(&CROSSHAIR);
        }
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

/// Colour of the RANO calipers (each lesion's longest diameter and its perpendicular).
pub const CALIPER: [u8; 3] = [255, 0, 255];

/// A straight line between two points of the canonical grid (fractional voxel coordinates):
/// a RANO diameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// One end.
    pub from: [f64; 3],
    /// The other end.
    pub to: [f64; 3],
}

/// Draws `segment` in `colour` on `plane` when the slice shown through `cursor` holds it (both
/// ends within half a voxel of that slice), one pixel wide, sampled every quarter pixel.
pub fn draw_segment(
    layout: &Layout,
    plane: Plane,
    cursor: [usize; 3],
    segment: Segment,
    colour: [u8; 3],
    rgba: &mut [u8],
) {
    let fixed = plane.fixed_axis();
    let slice = cursor[fixed] as f64;
    if (segment.from[fixed] - slice).abs() > 0.5 || (segment.to[fixed] - slice).abs() > 0.5 {
        return;
    }
    let (w, h) = layout.size(plane);
    let (c, r) = plane.screen_axes();
    let pixel = |p: [f64; 3]| {
        let column = if plane.columns_reversed(layout.radiological) {
            layout.dims[c] as f64 - 1.0 - p[c]
        } else {
            p[c]
        };
        (column, layout.dims[r] as f64 - 1.0 - p[r])
    };
    let (a, b) = (pixel(segment.from), pixel(segment.to));
    let steps = (4.0 * (b.0 - a.0).abs().max((b.1 - a.1).abs()))
        .ceil()
        .max(1.0) as usize;
    for k in 0..=steps {
        let t = k as f64 / steps as f64;
        let (x, y) = (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
        let (x, y) = (x.round(), y.round());
        if x < 0.0 || y < 0.0 || x >= w as f64 || y >= h as f64 {
            continue;
        }
        let i = 4 * (y as usize * w + x as usize);
        rgba[i..i + 3].copy_from_slice(&colour);
    }
}

/// Colour of the ground truth's outline.
pub const TRUTH_OUTLINE: [u8; 3] = [0, 220, 255];
/// Colour of the extracted brain's outline.
pub const BRAIN_OUTLINE: [u8; 3] = [255, 150, 0];

/// Draws one plane as RGBA pixels: the underlay in `window`, the predicted labels blended in
/// their colours, and the outline of each mask of `outlines` (non-background voxels, e.g. the
/// ground truth's whole tumour or the extracted brain) in its colour, later ones on top.
pub fn render(
    layout: &Layout,
    plane: Plane,
    cursor: [usize; 3],
    underlay: &[f32],
    window: IntensityWindow,
    labels: Option<(&[u8], Overlay)>,
    outlines: &[(&[u8], [u8; 3])],
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
    for &(mask, colour) in outlines {
        let inside = |i: usize| mask.get(voxels[i]).is_some_and(|&l| l != label::BACKGROUND);
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
                    rgba[4 * i..4 * i + 3].copy_from_slice(&colour);
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
    fn a_segment_is_drawn_on_its_own_slice_only() {
        let layout = Layout {
            dims: [8, 6, 3],
            radiological: false,
        };
        let (w, h) = layout.size(Plane::Axial);
        // From voxel (1, 1) to (6, 1) on slice z = 1: row 6 − 1 − 1 = 4, columns 1 to 6.
        let segment = Segment {
            from: [1.0, 1.0, 1.0],
            to: [6.0, 1.0, 1.2],
        };
        let coloured = |cursor: [usize; 3]| {
            let mut rgba = vec![0u8; w * h * 4];
            draw_segment(&layout, Plane::Axial, cursor, segment, CALIPER, &mut rgba);
            (0..w * h)
                .filter(|&i| rgba[4 * i..4 * i + 3] == CALIPER)
                .map(|i| (i % w, i / w))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            coloured([0, 0, 1]),
            (1..=6).map(|x| (x, 4)).collect::<Vec<_>>()
        );
        assert!(coloured([0, 0, 0]).is_empty());
        assert!(coloured([0, 0, 2]).is_empty());
        // Radiological: the columns run the other way.
        let mirrored = Layout {
            radiological: true,
            ..layout
        };
        let mut rgba = vec![0u8; w * h * 4];
        draw_segment(
            &mirrored,
            Plane::Axial,
            [0, 0, 1],
            segment,
            CALIPER,
            &mut rgba,
        );
        assert_eq!(&rgba[4 * (4 * w + 6)..4 * (4 * w + 6) + 3], &CALIPER);
        assert_eq!(&rgba[4 * (4 * w + 1)..4 * (4 * w + 1) + 3], &CALIPER);
        assert_eq!(&rgba[4 * (4 * w)..4 * (4 * w) + 3], &[0, 0, 0]);
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
    fn a_click_lands_on_the_pixel_under_it_and_the_crosshair_follows() {
        let rect = ScreenRect {
            left: 100.0,
            top: 50.0,
            width: 400.0,
            height: 300.0,
        };
        // A 4 × 3 image stretched over 400 × 300 CSS pixels: 100 per image pixel.
        assert_eq!(pixel_under(100.0, 50.0, rect, (4, 3)), Some((0, 0)));
        assert_eq!(pixel_under(399.0, 251.0, rect, (4, 3)), Some((2, 2)));
        assert_eq!(pixel_under(500.0, 350.0, rect, (4, 3)), Some((3, 2)));
        assert_eq!(pixel_under(99.0, 60.0, rect, (4, 3)), None);
        assert_eq!(pixel_under(200.0, 351.0, rect, (4, 3)), None);
        assert_eq!(pixel_under(200.0, 60.0, rect, (0, 0)), None);

        // Clicking a pixel puts the cursor on its voxel, and the crosshair on that pixel.
        let l = layout(true);
        let (column, row) = pixel_under(399.0, 251.0, rect, (4, 3)).unwrap();
        let cursor = l.voxel_at(Plane::Axial, [0, 0, 1], column, row);
        assert_eq!(cursor, [1, 0, 1]);
        let mut rgba = vec![0u8; 4 * 4 * 3];
        draw_crosshair(&l, Plane::Axial, cursor, &mut rgba);
        let marked: Vec<(usize, usize)> = (0..12)
            .filter(|i| rgba[4 * i..4 * i + 3] == CROSSHAIR)
            .map(|i| (i % 4, i / 4))
            .collect();
        assert_eq!(marked, [(2, 0), (2, 1), (0, 2), (1, 2), (2, 2), (3, 2)]);
        assert!(rgba.chunks(4).all(|p| p[3] == 0), "alpha untouched");
    }

    #[test]
    fn wheel_keys_and_buttons() {
        assert_eq!(wheel_step(120.0), -1);
        assert_eq!(wheel_step(-3.0), 1);
        assert_eq!(wheel_step(0.0), 0, "a sideways scroll moves no slice");
        assert_eq!(key_step("ArrowUp"), Some(1));
        assert_eq!(key_step("PageDown"), Some(-1));
        assert_eq!(key_step("a"), None);
        assert!(drags_window(2, false) && drags_window(0, true));
        assert!(!drags_window(0, false));
    }

    #[test]
    fn the_underlay_is_the_scan_on_the_canonical_grid() {
        use adamm_volume::nifti_io::Datatype;
        use adamm_volume::Affine;
        // An LAS grid: x runs to the patient's left, so canonical x is reversed.
        let mut affine = Affine::IDENTITY;
        affine.0[0][0] = -1.0;
        let header = Header::from_affine([2, 1, 1], Datatype::F32, &affine);
        let volume = Volume::new(vec![1.0, 3.0], header).unwrap();
        let u = Underlay::of(&volume);
        assert_eq!(u.dims, [2, 1, 1]);
        assert_eq!(u.data, [3.0, 1.0]);
        assert_eq!(u.canonical(&[5u8, 6]), Some(vec![6, 5]));
        assert_eq!(u.canonical(&[5u8]), None, "another grid's labels");
        // Points move with the voxels: native x 0.25 is canonical x 1 − 0.25.
        assert_eq!(u.canonical_point([0.25, 0.0, 0.0]), [0.75, 0.0, 0.0]);
        assert_eq!((u.auto.low, u.auto.high), (1.0, 3.0));
        assert_eq!(u.layout(false).size(Plane::Axial), (2, 1));
    }

    #[test]
    fn overlay_blends_label_colours_and_outlines_the_truth() {
        let l = Layout {
            dims: [5, 5, 1],
            radiological: false,
        };
        let underlay = vec![100.0; 25];
        let window = IntensityWindow {
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
            &[(&truth, TRUTH_OUTLINE)],
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
        // A second outline (the brain, everywhere but the last column) draws on top where
        // the two borders meet.
        let mut brain = vec![1u8; 25];
        for y in 0..5 {
            brain[4 + 5 * y] = 0;
        }
        let rgba = render(
            &l,
            Plane::Axial,
            [0, 0, 0],
            &underlay,
            window,
            None,
            &[(&truth, TRUTH_OUTLINE), (&brain, BRAIN_OUTLINE)],
        );
        let px = |column: usize, row: usize| {
            let i = 4 * (row * 5 + column);
            [rgba[i], rgba[i + 1], rgba[i + 2]]
        };
        assert_eq!(
            px(3, 2),
            BRAIN_OUTLINE,
            "the brain's border beside the last column"
        );
        assert_eq!(
            px(1, 1),
            TRUTH_OUTLINE,
            "the truth's border inside the brain"
        );
        assert_eq!(
            px(0, 2),
            BRAIN_OUTLINE,
            "the brain's border at the image edge"
        );
    }
}
