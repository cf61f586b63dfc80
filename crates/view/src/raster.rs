//! A software renderer of the case's surfaces: the picture the 3-D view shows, drawn on the CPU
//! through the same [`Camera`] and with the same lighting (a light at the eye, two-sided, 30 %
//! ambient). It makes the 3-D figure of a report (CLI and page alike) and stands in for the
//! 3-D view where the browser has no WebGL2.
//!
//! Opaque surfaces are drawn with a depth buffer; translucent ones are kept per pixel behind
//! the nearest opaque depth and blended back to front, so the order of the surfaces does not
//! matter.

use adamm_measure::Mesh;

use crate::camera::{multiply, surface_style, Camera, Mat4};

/// The 3-D view's background (sRGB), as the WebGL view clears to.
pub const BACKGROUND: [u8; 3] = [15, 18, 23];

/// One surface to draw: its mesh (world RAS mm), colour (sRGB) and opacity (1: opaque).
#[derive(Debug, Clone, Copy)]
pub struct Surface<'a> {
    /// The triangles.
    pub mesh: &'a Mesh,
    /// Colour, sRGB.
    pub colour: [u8; 3],
    /// Opacity, 0 to 1.
    pub opacity: f32,
}

/// The case's named surfaces (`"brain"`, `"WT"`, `"TC"`, `"ET"`, as `adamm_measure` names
/// them) in the 3-D view's colours and opacities ([`surface_style`]); empty meshes are left out.
pub fn surfaces(named: &[(String, Mesh)]) -> Vec<Surface<'_>> {
    named
        .iter()
        .filter(|(_, mesh)| !mesh.triangles.is_empty())
        .map(|(name, mesh)| {
            let (colour, opacity) = surface_style(name);
            Surface {
                mesh,
                colour,
                opacity,
            }
        })
        .collect()
}

/// An RGBA picture, rows top to bottom.
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    /// Width, pixels.
    pub width: usize,
    /// Height, pixels.
    pub height: usize,
    /// `4 · width · height` bytes, alpha 255.
    pub rgba: Vec<u8>,
}

/// A vertex on the screen: pixel coordinates (x right, y down), depth (−1 near to 1 far) and
/// the light falling on it.
#[derive(Debug, Clone, Copy)]
struct ScreenVertex {
    x: f32,
    y: f32,
    depth: f32,
    light: f32,
}

/// Draws `surfaces` as `camera` sees them on a `width × height` picture.
pub fn render(surfaces: &[Surface<'_>], camera: &Camera, width: usize, height: usize) -> Picture {
    let view = camera.view();
    let clip_from_world = multiply(
        &camera.projection(width as f32 / height.max(1) as f32),
        &view,
    );
    let pixels = width * height;
    let mut depth = vec![f32::INFINITY; pixels];
    let mut colour: Vec<[f32; 3]> = vec![BACKGROUND.map(f32::from); pixels];
    for s in surfaces.iter().filter(|s| s.opacity >= 1.0) {
        let rgb = s.colour.map(f32::from);
        rasterise(
            s.mesh,
            &clip_from_world,
            &view,
            width,
            height,
            |i, z, light| {
                if z < depth[i] {
                    depth[i] = z;
                    colour[i] = rgb.map(|c| c * light);
                }
            },
        );
    }
    // Translucent fragments in front of the opaque ones: (pixel, depth, colour, opacity).
    let mut fragments: Vec<(usize, f32, [f32; 3], f32)> = Vec::new();
    for s in surfaces
        .iter()
        .filter(|s| s.opacity > 0.0 && s.opacity < 1.0)
    {
        let rgb = s.colour.map(f32::from);
        rasterise(
            s.mesh,
            &clip_from_world,
            &view,
            width,
            height,
            |i, z, light| {
                if z < depth[i] {
                    fragments.push((i, z, rgb.map(|c| c * light), s.opacity));
                }
            },
        );
    }
    // Per pixel, farthest first.
    fragments.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
    for &(i, _, rgb, alpha) in &fragments {
        let c = &mut colour[i];
        for k in 0..3 {
            c[k] = c[k] * (1.0 - alpha) + rgb[k] * alpha;
        }
    }
    let mut rgba = Vec::with_capacity(4 * pixels);
    for c in colour {
        rgba.extend(c.map(|v| v.round().clamp(0.0, 255.0) as u8));
        rgba.push(255);
    }
    Picture {
        width,
        height,
        rgba,
    }
}

/// Calls `fragment(pixel, depth, light)` for every pixel centre inside each triangle of `mesh`
/// that lies in front of the camera, with depth and light interpolated across the triangle.
fn rasterise(
    mesh: &Mesh,
    clip_from_world: &Mat4,
    view: &Mat4,
    width: usize,
    height: usize,
    mut fragment: impl FnMut(usize, f32, f32),
) {
    let screen: Vec<Option<ScreenVertex>> = mesh
        .positions
        .iter()
        .zip(&mesh.normals)
        .map(|(p, n)| {
            let clip = transform(clip_from_world, *p, 1.0);
            if clip[3] <= 1e-6 {
                return None;
            }
            let ndc = [clip[0] / clip[3], clip[1] / clip[3], clip[2] / clip[3]];
            // The normal in camera space (no translation); its z faces the eye.
            let n = transform(view, *n, 0.0);
            let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
            let facing = if len > 0.0 { (n[2] / len).abs() } else { 0.0 };
            Some(ScreenVertex {
                x: (ndc[0] + 1.0) * 0.5 * width as f32,
                y: (1.0 - ndc[1]) * 0.5 * height as f32,
                depth: ndc[2],
                light: 0.3 + 0.7 * facing,
            })
        })
        .collect();
    for t in &mesh.triangles {
        let [Some(a), Some(b), Some(c)] = t.map(|i| screen.get(i as usize).copied().flatten())
        else {
            continue;
        };
        let area = edge(a, b, c.x, c.y);
        if area.abs() < 1e-12 {
            continue;
        }
        let x0 = a.x.min(b.x).min(c.x).floor().max(0.0) as usize;
        let y0 = a.y.min(b.y).min(c.y).floor().max(0.0) as usize;
        let x1 = (a.x.max(b.x).max(c.x).ceil().max(0.0) as usize).min(width);
        let y1 = (a.y.max(b.y).max(c.y).ceil().max(0.0) as usize).min(height);
        for y in y0..y1 {
            let py = y as f32 + 0.5;
            for x in x0..x1 {
                let px = x as f32 + 0.5;
                // Barycentric weights; the triangle may face either way (two-sided).
                let wa = edge(b, c, px, py) / area;
                let wb = edge(c, a, px, py) / area;
                let wc = 1.0 - wa - wb;
                if wa < 0.0 || wb < 0.0 || wc < 0.0 {
                    continue;
                }
                let z = wa * a.depth + wb * b.depth + wc * c.depth;
                if !(-1.0..=1.0).contains(&z) {
                    continue;
                }
                let light = wa * a.light + wb * b.light + wc * c.light;
                fragment(y * width + x, z, light);
            }
        }
    }
}

/// Twice the signed area of the triangle `(p, q, (x, y))` on the screen.
fn edge(p: ScreenVertex, q: ScreenVertex, x: f32, y: f32) -> f32 {
    (q.x - p.x) * (y - p.y) - (q.y - p.y) * (x - p.x)
}

/// `m · (p, w)` for a column-major matrix.
fn transform(m: &Mat4, p: [f32; 3], w: f32) -> [f32; 4] {
    [0, 1, 2, 3].map(|row| m[row] * p[0] + m[4 + row] * p[1] + m[8 + row] * p[2] + m[12 + row] * w)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An axis-aligned cube of half-size `h` around `c`, outward normals per vertex.
    fn cube(c: [f32; 3], h: f32) -> Mesh {
        let mut positions = Vec::new();
        for i in 0..8 {
            positions.push([0, 1, 2].map(|a| c[a] + if i >> a & 1 == 1 { h } else { -h }));
        }
        let normals = positions
            .iter()
            .map(|p| {
                let d = [0, 1, 2].map(|a| p[a] - c[a]);
                let n = d.iter().map(|v| v * v).sum::<f32>().sqrt();
                d.map(|v| v / n)
            })
            .collect();
        let quads = [
            [0, 2, 6, 4],
            [1, 5, 7, 3],
            [0, 4, 5, 1],
            [2, 3, 7, 6],
            [0, 1, 3, 2],
            [4, 6, 7, 5],
        ];
        let triangles = quads
            .iter()
            .flat_map(|q| [[q[0], q[1], q[2]], [q[0], q[2], q[3]]])
            .collect();
        Mesh {
            positions,
            normals,
            triangles,
        }
    }

    fn pixel(p: &Picture, x: usize, y: usize) -> [u8; 3] {
        let i = 4 * (y * p.width + x);
        [p.rgba[i], p.rgba[i + 1], p.rgba[i + 2]]
    }

    #[test]
    fn an_opaque_cube_fills_the_middle_and_leaves_the_corners_to_the_background() {
        let mesh = cube([10.0, -5.0, 3.0], 20.0);
        let camera = Camera::framing(&[&mesh]).expect("a camera");
        let red = Surface {
            mesh: &mesh,
            colour: [200, 0, 0],
            opacity: 1.0,
        };
        let p = render(&[red], &camera, 64, 48);
        assert_eq!((p.width, p.height, p.rgba.len()), (64, 48, 64 * 48 * 4));
        // The face looking at the camera, its corner normals 1/√3 towards the eye: lit
        // 0.3 + 0.7/√3 of the colour everywhere on it.
        let lit = (200.0 * (0.3 + 0.7 / 3f32.sqrt())).round() as u8;
        for (x, y) in [(32, 24), (28, 20), (36, 28)] {
            let c = pixel(&p, x, y);
            assert!(
                c[0].abs_diff(lit) <= 1 && c[1] == 0 && c[2] == 0,
                "{c:?} vs {lit}"
            );
        }
        assert_eq!(pixel(&p, 0, 0), BACKGROUND);
        assert_eq!(pixel(&p, 63, 47), BACKGROUND);
        assert!(p.rgba.chunks(4).all(|c| c[3] == 255));
    }

    #[test]
    fn the_nearer_opaque_surface_hides_the_farther_whatever_the_order() {
        // Yaw 0 looks from anterior: the cube at higher y is nearer.
        let far = cube([0.0, -20.0, 0.0], 5.0);
        let near = cube([0.0, 20.0, 0.0], 5.0);
        let camera = Camera::framing(&[&far, &near]).expect("a camera");
        let surfaces = |first: &Mesh, second: &Mesh, c1: [u8; 3], c2: [u8; 3]| {
            let a = Surface {
                mesh: first,
                colour: c1,
                opacity: 1.0,
            };
            let b = Surface {
                mesh: second,
                colour: c2,
                opacity: 1.0,
            };
            render(&[a, b], &camera, 80, 80)
        };
        let one = surfaces(&far, &near, [0, 200, 0], [200, 0, 0]);
        let other = surfaces(&near, &far, [200, 0, 0], [0, 200, 0]);
        assert_eq!(one, other);
        let middle = pixel(&one, 40, 40);
        assert!(middle[0] > 100 && middle[1] == 0, "{middle:?}");
    }

    #[test]
    fn a_translucent_shell_tints_what_lies_inside_it_and_order_does_not_matter() {
        let inner = cube([0.0; 3], 5.0);
        let shell = cube([0.0; 3], 30.0);
        let camera = Camera::framing(&[&shell]).expect("a camera");
        let opaque = Surface {
            mesh: &inner,
            colour: [255, 0, 0],
            opacity: 1.0,
        };
        let glass = Surface {
            mesh: &shell,
            colour: [0, 0, 255],
            opacity: 0.5,
        };
        let p = render(&[glass, opaque], &camera, 60, 60);
        assert_eq!(p, render(&[opaque, glass], &camera, 60, 60));
        // The red cube shows through the shell's near face, tinted blue.
        let middle = pixel(&p, 30, 30);
        assert!(
            middle[0] > 60 && middle[2] > 60 && middle[1] == 0,
            "{middle:?}"
        );
        // Beside the cube but inside the shell: two layers of blue over the background.
        let side = pixel(&p, 30 - 12, 30);
        assert!(side[2] > 100 && side[0] < 30, "{side:?}");
        // Without the shell the middle is pure red.
        let bare = render(&[opaque], &camera, 60, 60);
        assert_eq!(pixel(&bare, 30, 30)[2], 0);
    }
}
