//! The 3-D view's logic, free of the DOM: the camera that orbits the case's surfaces (drag to
//! rotate, wheel to zoom), its matrices for WebGL, and picking — which surface point a click
//! lands on, so that the planes can go there. Surfaces are `adamm_measure::Mesh`es in world
//! RAS mm; the page draws them (`src/page/surface.rs`).

use adamm_measure::Mesh;
use adamm_volume::brats::{label, LABEL_COLOURS};

/// A 4 × 4 matrix, column-major as WebGL takes it (`m[4 * column + row]`).
pub type Mat4 = [f32; 16];

/// The colour (sRGB) and opacity each surface is drawn with: the brain translucent grey, the
/// tumour regions in the paper's label colours (`LABEL_COLOURS`: WT as edema, TC as NETC, ET),
/// the outer ones translucent so the inner ones show.
pub fn surface_style(name: &str) -> ([u8; 3], f32) {
    let colour = |l: u8| {
        LABEL_COLOURS
            .iter()
            .find(|(value, ..)| *value == l)
            .map_or([255; 3], |(_, _, rgb)| *rgb)
    };
    match name {
        "brain" => ([200, 200, 200], 0.15),
        "WT" => (colour(label::SNFH), 0.3),
        "TC" => (colour(label::NETC), 0.4),
        "ET" => (colour(label::ET), 1.0),
        _ => ([255, 255, 255], 1.0),
    }
}

/// An orbiting camera looking at `centre` from outside a sphere of `radius` mm that holds the
/// surfaces, in world RAS (superior up on the screen at zero pitch).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera {
    /// The point looked at, world mm.
    pub centre: [f32; 3],
    /// Radius of the sphere that holds the surfaces, mm.
    pub radius: f32,
    /// Turn about the superior axis, radians (0: looking from the front, anterior).
    pub yaw: f32,
    /// Tilt up or down, radians, within ±89°.
    pub pitch: f32,
    /// Magnification (1: the sphere fills the view), 0.5 to 8.
    pub zoom: f32,
}

/// Radians of turn per CSS pixel dragged.
const TURN_PER_PIXEL: f32 = 0.01;

impl Camera {
    /// A camera that frames `meshes` (their bounding sphere), seen from the front; `None` when
    /// there is nothing to show.
    pub fn framing(meshes: &[&Mesh]) -> Option<Camera> {
        let mut lo = [f32::INFINITY; 3];
        let mut hi = [f32::NEG_INFINITY; 3];
        for p in meshes.iter().flat_map(|m| &m.positions) {
            for a in 0..3 {
                lo[a] = lo[a].min(p[a]);
                hi[a] = hi[a].max(p[a]);
            }
        }
        if lo[0] > hi[0] {
            return None;
        }
        let centre = [0, 1, 2].map(|a| 0.5 * (lo[a] + hi[a]));
        let radius = (0..3)
            .map(|a| (hi[a] - lo[a]).powi(2))
            .sum::<f32>()
            .sqrt()
            .max(1.0)
            * 0.5;
        Some(Camera {
            centre,
            radius,
            yaw: 0.0,
            pitch: 0.0,
            zoom: 1.0,
        })
    }

    /// Turned by a drag of `(dx, dy)` CSS pixels: right turns the case to the right, down
    /// tilts its top towards the viewer.
    pub fn dragged(self, dx: f32, dy: f32) -> Camera {
        let limit = 89f32.to_radians();
        Camera {
            yaw: self.yaw - dx * TURN_PER_PIXEL,
            pitch: (self.pitch + dy * TURN_PER_PIXEL).clamp(-limit, limit),
            ..self
        }
    }

    /// Turned so that `point` (world mm) faces the viewer: the eye on the line from the centre
    /// through it, the tilt kept within ±60° so that superior stays up. Unchanged when the
    /// point is the centre.
    pub fn facing(self, point: [f32; 3]) -> Camera {
        let d = sub(point, self.centre);
        if dot(d, d) < 1e-6 {
            return self;
        }
        let u = normalise(d);
        let limit = 60f32.to_radians();
        Camera {
            yaw: u[0].atan2(u[1]),
            pitch: u[2].clamp(-1.0, 1.0).asin().clamp(-limit, limit),
            ..self
        }
    }

    /// Zoomed by one wheel event (`delta_y` as the browser gives it: negative zooms in).
    pub fn wheeled(self, delta_y: f64) -> Camera {
        let factor = if delta_y < 0.0 { 1.15 } else { 1.0 / 1.15 };
        Camera {
            zoom: (self.zoom * factor).clamp(0.5, 8.0),
            ..self
        }
    }

    /// Where the eye is, world mm.
    pub fn eye(&self) -> [f32; 3] {
        let d = 3.0 * self.radius;
        let (cy, sy) = (self.yaw.cos(), self.yaw.sin());
        let (cp, sp) = (self.pitch.cos(), self.pitch.sin());
        // Yaw 0 looks from anterior (+y) towards posterior.
        [
            self.centre[0] + d * cp * sy,
            self.centre[1] + d * cp * cy,
            self.centre[2] + d * sp,
        ]
    }

    /// The world → camera matrix (looking at the centre, superior up).
    pub fn view(&self) -> Mat4 {
        look_at(self.eye(), self.centre, [0.0, 0.0, 1.0])
    }

    /// The camera → clip matrix for a viewport of `aspect` = width / height.
    pub fn projection(&self, aspect: f32) -> Mat4 {
        let d = 3.0 * self.radius;
        // 2·atan(1/(3·zoom)) spans the sphere's diameter at zoom 1 (with a margin).
        let fov = 2.0 * (1.1 / (3.0 * self.zoom)).atan();
        perspective(
            fov,
            aspect.max(1e-3),
            (d - 2.0 * self.radius).max(1.0),
            d + 2.0 * self.radius,
        )
    }

    /// The ray under a click at normalised device coordinates `(x, y)` (each −1 to 1, y up):
    /// its origin (the eye) and unit direction, world mm.
    pub fn ray(&self, aspect: f32, x: f32, y: f32) -> ([f32; 3], [f32; 3]) {
        let eye = self.eye();
        let fov = 2.0 * (1.1 / (3.0 * self.zoom)).atan();
        let t = (fov / 2.0).tan();
        let forward = normalise(sub(self.centre, eye));
        let right = normalise(cross(forward, [0.0, 0.0, 1.0]));
        let up = cross(right, forward);
        let dir = [0, 1, 2].map(|a| forward[a] + x * t * aspect * right[a] + y * t * up[a]);
        (eye, normalise(dir))
    }
}

/// The nearest point where the ray `(origin, dir)` meets a triangle of `meshes`, and the index
/// of the mesh it is on; `None` when it meets none.
pub fn pick(meshes: &[&Mesh], origin: [f32; 3], dir: [f32; 3]) -> Option<([f32; 3], usize)> {
    let mut best: Option<(f32, usize)> = None;
    for (m, mesh) in meshes.iter().enumerate() {
        for t in &mesh.triangles {
            let [a, b, c] = t.map(|i| mesh.positions[i as usize]);
            if let Some(d) = ray_triangle(origin, dir, a, b, c) {
                if best.is_none_or(|(bd, _)| d < bd) {
                    best = Some((d, m));
                }
            }
        }
    }
    best.map(|(d, m)| ([0, 1, 2].map(|a| origin[a] + d * dir[a]), m))
}

/// Möller–Trumbore: the distance along the ray to triangle `abc`, if it meets it in front.
fn ray_triangle(o: [f32; 3], d: [f32; 3], a: [f32; 3], b: [f32; 3], c: [f32; 3]) -> Option<f32> {
    let (e1, e2) = (sub(b, a), sub(c, a));
    let p = cross(d, e2);
    let det = dot(e1, p);
    if det.abs() < 1e-9 {
        return None;
    }
    let inv = 1.0 / det;
    let s = sub(o, a);
    let u = dot(s, p) * inv;
    if !(0.0..=1.0).contains(&u) {
        return None;
    }
    let q = cross(s, e1);
    let v = dot(d, q) * inv;
    if v < 0.0 || u + v > 1.0 {
        return None;
    }
    let t = dot(e2, q) * inv;
    (t > 0.0).then_some(t)
}

fn sub(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn dot(a: [f32; 3], b: [f32; 3]) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn normalise(a: [f32; 3]) -> [f32; 3] {
    let n = dot(a, a).sqrt();
    if n > 0.0 {
        a.map(|v| v / n)
    } else {
        a
    }
}

/// A right-handed look-at matrix (OpenGL convention: the camera looks down its −z).
fn look_at(eye: [f32; 3], target: [f32; 3], up: [f32; 3]) -> Mat4 {
    let f = normalise(sub(target, eye));
    let s = normalise(cross(f, up));
    let u = cross(s, f);
    [
        s[0],
        u[0],
        -f[0],
        0.0, //
        s[1],
        u[1],
        -f[1],
        0.0, //
        s[2],
        u[2],
        -f[2],
        0.0, //
        -dot(s, eye),
        -dot(u, eye),
        dot(f, eye),
        1.0,
    ]
}

/// An OpenGL perspective projection.
fn perspective(fov_y: f32, aspect: f32, near: f32, far: f32) -> Mat4 {
    let f = 1.0 / (fov_y / 2.0).tan();
    let nf = 1.0 / (near - far);
    [
        f / aspect,
        0.0,
        0.0,
        0.0, //
        0.0,
        f,
        0.0,
        0.0, //
        0.0,
        0.0,
        (far + near) * nf,
        -1.0, //
        0.0,
        0.0,
        2.0 * far * near * nf,
        0.0,
    ]
}

/// `a · b` for column-major matrices.
pub fn multiply(a: &Mat4, b: &Mat4) -> Mat4 {
    let mut out = [0.0; 16];
    for c in 0..4 {
        for r in 0..4 {
            out[4 * c + r] = (0..4).map(|k| a[4 * k + r] * b[4 * c + k]).sum();
        }
    }
    out
}

/// A point through a column-major matrix, with the perspective division: normalised device
/// coordinates.
pub fn project(m: &Mat4, p: [f32; 3]) -> [f32; 3] {
    let v = [p[0], p[1], p[2], 1.0];
    let out: [f32; 4] = [0, 1, 2, 3].map(|r| (0..4).map(|c| m[4 * c + r] * v[c]).sum());
    [out[0] / out[3], out[1] / out[3], out[2] / out[3]]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An axis-aligned cube of side 2·h mm around `c`, outward-wound.
    fn cube(c: [f32; 3], h: f32) -> Mesh {
        let mut positions = Vec::new();
        for i in 0..8 {
            positions.push([0, 1, 2].map(|a| c[a] + if i >> a & 1 == 1 { h } else { -h }));
        }
        let faces = [
            [0, 2, 3, 1],
            [4, 5, 7, 6],
            [0, 1, 5, 4],
            [2, 6, 7, 3],
            [0, 4, 6, 2],
            [1, 3, 7, 5],
        ];
        let triangles = faces
            .iter()
            .flat_map(|f| [[f[0], f[1], f[2]], [f[0], f[2], f[3]]])
            .collect();
        Mesh {
            normals: vec![[0.0; 3]; 8],
            positions,
            triangles,
        }
    }

    #[test]
    fn the_camera_frames_the_surfaces_and_projects_the_centre_to_the_middle() {
        let m = cube([10.0, -20.0, 5.0], 4.0);
        let cam = Camera::framing(&[&m]).unwrap();
        assert_eq!(cam.centre, [10.0, -20.0, 5.0]);
        assert!((cam.radius - 48f32.sqrt()).abs() < 1e-4);
        let vp = multiply(&cam.projection(1.5), &cam.view());
        let centre = project(&vp, cam.centre);
        assert!(centre[0].abs() < 1e-5 && centre[1].abs() < 1e-5);
        // Every corner is on screen.
        for p in &m.positions {
            let q = project(&vp, *p);
            assert!(q.iter().all(|v| v.abs() <= 1.0), "{q:?}");
        }
        // From the front, superior is up and the patient's right (+x) on the left of the
        // screen, as a radiologist faces a patient.
        let up = project(&vp, [10.0, -20.0, 9.0]);
        let right = project(&vp, [14.0, -20.0, 5.0]);
        assert!(up[1] > 0.0 && right[0] < 0.0, "{up:?} {right:?}");
        assert!(Camera::framing(&[]).is_none());
    }

    #[test]
    fn facing_puts_the_eye_on_the_side_of_the_point() {
        let camera = Camera::framing(&[&cube([0.0; 3], 10.0)]).expect("a camera");
        // A lesion on the patient's left (−x): the eye moves to the left of the centre.
        let left = camera.facing([-30.0, 0.0, 0.0]);
        let eye = left.eye();
        assert!(
            eye[0] < -20.0 && eye[1].abs() < 1e-3 && eye[2].abs() < 1e-3,
            "{eye:?}"
        );
        // Straight above: tilted by no more than 60°.
        let top = camera.facing([0.0, 0.0, 50.0]);
        assert!((top.pitch - 60f32.to_radians()).abs() < 1e-5);
        assert_eq!(camera.facing(camera.centre), camera);
    }

    #[test]
    fn dragging_turns_and_the_wheel_zooms_within_limits() {
        let cam = Camera::framing(&[&cube([0.0; 3], 1.0)]).unwrap();
        let turned = cam.dragged(100.0, 0.0);
        assert!((turned.yaw + 1.0).abs() < 1e-6);
        let eye = turned.eye();
        assert!((eye[0].powi(2) + eye[1].powi(2)).sqrt() - 3.0 * cam.radius < 1e-3);
        assert!(cam.dragged(0.0, 1e6).pitch < 89.01f32.to_radians());
        assert!(cam.wheeled(-1.0).zoom > 1.0 && cam.wheeled(1.0).zoom < 1.0);
        let mut z = cam;
        for _ in 0..100 {
            z = z.wheeled(-1.0);
        }
        assert_eq!(z.zoom, 8.0);
    }

    #[test]
    fn a_click_picks_the_nearest_surface_point() {
        let near = cube([0.0, 10.0, 0.0], 2.0);
        let far = cube([0.0, -10.0, 0.0], 5.0);
        let cam = Camera::framing(&[&near, &far]).unwrap();
        // The centre of the screen looks along −y from the front: it meets the near cube's
        // anterior face first.
        let (o, d) = cam.ray(1.0, 0.0, 0.0);
        let (p, m) = pick(&[&near, &far], o, d).unwrap();
        assert_eq!(m, 0);
        assert!(
            (p[1] - 12.0).abs() < 1e-3 && p[0].abs() < 1e-3 && p[2].abs() < 1e-3,
            "{p:?}"
        );
        // The ray through a projected point meets it.
        let vp = multiply(&cam.projection(1.0), &cam.view());
        let target = [4.0, -5.0, 3.0];
        let ndc = project(&vp, target);
        let (o, d) = cam.ray(1.0, ndc[0], ndc[1]);
        let (p, m) = pick(&[&near, &far], o, d).unwrap();
        assert_eq!(m, 1);
        assert!((0..3).all(|a| (p[a] - target[a]).abs() < 0.05), "{p:?}");
        // A click beside everything picks nothing.
        let (o, d) = cam.ray(1.0, 0.99, 0.99);
        assert!(pick(&[&near], o, d).is_none());
    }
}
