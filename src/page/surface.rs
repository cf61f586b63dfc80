//! The fourth panel: the result's surfaces in 3-D (WebGL2 through `web-sys`), the brain
//! translucent around the tumour regions in the paper's colours. Drag to rotate, wheel to zoom,
//! click a surface to bring the three planes there. Where the browser has no WebGL2 the same
//! picture is drawn on the CPU (`adamm_view::raster`) into a 2-D canvas: slower, no crosshair. The camera and picking are in
//! `adamm_view::camera`; the meshes come from the worker (`adamm_measure::case_meshes`).

use std::rc::Rc;

use adamm_app::outcome::Outcome;
use adamm_view::camera::{multiply, pick, surface_style, Camera};
use adamm_view::planes::CROSSHAIR;
use adamm_view::raster;
use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{WebGl2RenderingContext as Gl, WebGlBuffer, WebGlProgram, WebGlShader};

const VERTEX: &str = r#"#version 300 es
in vec3 position;
in vec3 normal;
uniform mat4 view_projection;
uniform mat4 view;
uniform float point_size;
out vec3 v_normal;
void main() {
    gl_Position = view_projection * vec4(position, 1.0);
    gl_PointSize = point_size;
    v_normal = mat3(view) * normal;
}
"#;

const FRAGMENT: &str = r#"#version 300 es
precision mediump float;
in vec3 v_normal;
uniform vec4 colour;
uniform float unlit;
out vec4 out_colour;
void main() {
    // Two-sided: lit by a light at the eye, whichever side faces it (the crosshair: unlit,
    // and without normals).
    float light = unlit > 0.5 ? 1.0 : 0.3 + 0.7 * abs(normalize(v_normal).z);
    out_colour = vec4(colour.rgb * light, colour.a);
}
"#;

/// One mesh on the GPU.
struct Uploaded {
    positions: WebGlBuffer,
    normals: WebGlBuffer,
    indices: WebGlBuffer,
    count: i32,
    colour: [f32; 4],
}

/// The GL context, its program and the meshes of one result.
struct Scene {
    gl: Gl,
    program: WebGlProgram,
    meshes: Vec<Uploaded>,
    /// The result (its job) and how many surfaces it had when uploaded: they arrive after it.
    key: (u32, usize),
}

fn shader(gl: &Gl, kind: u32, source: &str) -> Result<WebGlShader, String> {
    let s = gl.create_shader(kind).ok_or("no shader")?;
    gl.shader_source(&s, source);
    gl.compile_shader(&s);
    if gl
        .get_shader_parameter(&s, Gl::COMPILE_STATUS)
        .as_bool()
        .unwrap_or(false)
    {
        Ok(s)
    } else {
        Err(gl.get_shader_info_log(&s).unwrap_or_default())
    }
}

fn program(gl: &Gl) -> Result<WebGlProgram, String> {
    let p = gl.create_program().ok_or("no program")?;
    gl.attach_shader(&p, &shader(gl, Gl::VERTEX_SHADER, VERTEX)?);
    gl.attach_shader(&p, &shader(gl, Gl::FRAGMENT_SHADER, FRAGMENT)?);
    gl.bind_attrib_location(&p, 0, "position");
    gl.bind_attrib_location(&p, 1, "normal");
    gl.link_program(&p);
    if gl
        .get_program_parameter(&p, Gl::LINK_STATUS)
        .as_bool()
        .unwrap_or(false)
    {
        Ok(p)
    } else {
        Err(gl.get_program_info_log(&p).unwrap_or_default())
    }
}

fn buffer(gl: &Gl, target: u32, data: &js_sys::Object) -> Result<WebGlBuffer, String> {
    let b = gl.create_buffer().ok_or("no buffer")?;
    gl.bind_buffer(target, Some(&b));
    gl.buffer_data_with_array_buffer_view(target, data, Gl::STATIC_DRAW);
    Ok(b)
}

/// The WebGL2 context of `canvas` (its drawing kept, so that the page's screenshot and the
/// tests can read it), or why there is none.
fn context(canvas: &web_sys::HtmlCanvasElement) -> Result<Gl, String> {
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"preserveDrawingBuffer".into(), &true.into());
    let _ = js_sys::Reflect::set(&options, &"antialias".into(), &true.into());
    canvas
        .get_context_with_context_options("webgl2", &options)
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<Gl>().ok())
        .ok_or_else(|| "this browser offers no WebGL2".to_owned())
}

/// Uploads `outcome`'s surfaces, innermost first (drawn in that order: the opaque ET, then the
/// translucent regions around it, the brain last).
fn scene(canvas: &web_sys::HtmlCanvasElement, outcome: &Outcome) -> Result<Scene, String> {
    let gl = context(canvas)?;
    let program = program(&gl)?;
    let order = ["ET", "TC", "WT", "brain"];
    let mut meshes = Vec::new();
    for name in order {
        let Some((_, mesh)) = outcome.prediction.meshes.iter().find(|(n, _)| n == name) else {
            continue;
        };
        let positions: Vec<f32> = mesh.positions.iter().flatten().copied().collect();
        let normals: Vec<f32> = mesh.normals.iter().flatten().copied().collect();
        let indices: Vec<u32> = mesh.triangles.iter().flatten().copied().collect();
        let ([r, g, b], alpha) = surface_style(name);
        meshes.push(Uploaded {
            positions: buffer(
                &gl,
                Gl::ARRAY_BUFFER,
                &js_sys::Float32Array::from(positions.as_slice()),
            )?,
            normals: buffer(
                &gl,
                Gl::ARRAY_BUFFER,
                &js_sys::Float32Array::from(normals.as_slice()),
            )?,
            indices: buffer(
                &gl,
                Gl::ELEMENT_ARRAY_BUFFER,
                &js_sys::Uint32Array::from(indices.as_slice()),
            )?,
            count: indices.len() as i32,
            colour: [
                f32::from(r) / 255.0,
                f32::from(g) / 255.0,
                f32::from(b) / 255.0,
                alpha,
            ],
        });
    }
    Ok(Scene {
        gl,
        program,
        meshes,
        key: (outcome.job, outcome.prediction.meshes.len()),
    })
}

impl Scene {
    /// Frees its buffers and program (a new result's scene replaces it).
    fn release(&self) {
        for m in &self.meshes {
            for b in [&m.positions, &m.normals, &m.indices] {
                self.gl.delete_buffer(Some(b));
            }
        }
        self.gl.delete_program(Some(&self.program));
    }
}

/// The crosshair's colour in 3-D: the planes' ([`CROSSHAIR`]).
const CURSOR: [f32; 4] = [
    CROSSHAIR[0] as f32 / 255.0,
    CROSSHAIR[1] as f32 / 255.0,
    CROSSHAIR[2] as f32 / 255.0,
    1.0,
];

/// Draws `scene` as `camera` sees it, with the planes' crosshair at `cursor` (world mm) as a
/// square dot and three short lines along the world axes, seen through the surfaces.
fn draw(scene: &Scene, camera: &Camera, cursor: Option<[f32; 3]>, width: u32, height: u32) {
    let gl = &scene.gl;
    gl.viewport(0, 0, width as i32, height as i32);
    gl.clear_color(0.06, 0.07, 0.09, 1.0);
    gl.clear(Gl::COLOR_BUFFER_BIT | Gl::DEPTH_BUFFER_BIT);
    gl.enable(Gl::DEPTH_TEST);
    gl.enable(Gl::BLEND);
    gl.blend_func(Gl::SRC_ALPHA, Gl::ONE_MINUS_SRC_ALPHA);
    gl.use_program(Some(&scene.program));
    let view = camera.view();
    let vp = multiply(
        &camera.projection(width as f32 / height.max(1) as f32),
        &view,
    );
    let uniform = |name: &str| gl.get_uniform_location(&scene.program, name);
    gl.uniform_matrix4fv_with_f32_array(uniform("view_projection").as_ref(), false, &vp);
    gl.uniform_matrix4fv_with_f32_array(uniform("view").as_ref(), false, &view);
    let colour = uniform("colour");
    for m in &scene.meshes {
        // Translucent surfaces do not hide what is drawn after them.
        gl.depth_mask(m.colour[3] >= 1.0);
        gl.uniform4fv_with_f32_array(colour.as_ref(), &m.colour);
        gl.bind_buffer(Gl::ARRAY_BUFFER, Some(&m.positions));
        gl.enable_vertex_attrib_array(0);
        gl.vertex_attrib_pointer_with_i32(0, 3, Gl::FLOAT, false, 0, 0);
        gl.bind_buffer(Gl::ARRAY_BUFFER, Some(&m.normals));
        gl.enable_vertex_attrib_array(1);
        gl.vertex_attrib_pointer_with_i32(1, 3, Gl::FLOAT, false, 0, 0);
        gl.bind_buffer(Gl::ELEMENT_ARRAY_BUFFER, Some(&m.indices));
        gl.draw_elements_with_i32(Gl::TRIANGLES, m.count, Gl::UNSIGNED_INT, 0);
    }
    gl.depth_mask(true);
    if let Some(c) = cursor {
        let l = 0.12 * camera.radius;
        let mut lines = Vec::with_capacity(21);
        for axis in 0..3 {
            for sign in [-1.0, 1.0] {
                let mut p = c;
                p[axis] += sign * l;
                lines.extend(p);
            }
        }
        lines.extend(c);
        if let Ok(b) = buffer(
            gl,
            Gl::ARRAY_BUFFER,
            &js_sys::Float32Array::from(lines.as_slice()),
        ) {
            gl.disable(Gl::DEPTH_TEST);
            gl.uniform1f(uniform("unlit").as_ref(), 1.0);
            gl.uniform4fv_with_f32_array(colour.as_ref(), &CURSOR);
            gl.enable_vertex_attrib_array(0);
            gl.vertex_attrib_pointer_with_i32(0, 3, Gl::FLOAT, false, 0, 0);
            gl.disable_vertex_attrib_array(1);
            gl.vertex_attrib3f(1, 0.0, 0.0, 1.0);
            gl.draw_arrays(Gl::LINES, 0, 6);
            gl.uniform1f(uniform("point_size").as_ref(), 9.0);
            gl.draw_arrays(Gl::POINTS, 6, 1);
            gl.uniform1f(uniform("point_size").as_ref(), 1.0);
            gl.uniform1f(uniform("unlit").as_ref(), 0.0);
            gl.delete_buffer(Some(&b));
        }
    }
}

/// Draws `outcome`'s surfaces as `camera` sees them on the CPU into `canvas`'s 2-D context (the
/// browser has no WebGL2).
fn draw_software(canvas: &web_sys::HtmlCanvasElement, outcome: &Outcome, camera: &Camera) {
    let surfaces = raster::surfaces(&outcome.prediction.meshes);
    let (w, h) = (canvas.width() as usize, canvas.height() as usize);
    let picture = raster::render(&surfaces, camera, w, h);
    let ctx = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<web_sys::CanvasRenderingContext2d>().ok());
    let image = web_sys::ImageData::new_with_u8_clamped_array_and_sh(
        wasm_bindgen::Clamped(&picture.rgba),
        w as u32,
        h as u32,
    );
    if let (Some(ctx), Ok(image)) = (ctx, image) {
        let _ = ctx.put_image_data(&image, 0.0, 0.0);
    }
}

/// Offers the result's surfaces as one OBJ file (world RAS mm).
fn download_surfaces(state: super::State) {
    let Some(o) = state.outcome.get_untracked() else {
        return;
    };
    let named: Vec<(&str, &adamm_measure::Mesh)> = o
        .prediction
        .meshes
        .iter()
        .map(|(n, m)| (n.as_str(), m))
        .collect();
    let text = adamm_measure::obj_file(&named);
    let name = o.file_name().replace(".nii.gz", "-surfaces.obj");
    if let Err(e) = super::download::save(text.as_bytes(), &name, "model/obj") {
        state.tell(format!("The download failed: {e}"));
    }
}

/// The 3-D view of the result shown.
#[component]
pub fn SurfaceView() -> impl IntoView {
    let state = super::state();
    let canvas = NodeRef::<html::Canvas>::new();
    let camera = RwSignal::new(None::<Camera>);
    let problem = RwSignal::new(None::<String>);
    let held = StoredValue::new_local(None::<Rc<Scene>>);
    // No WebGL2: the surfaces are drawn in software.
    let software = RwSignal::new(false);
    // A new result: its surfaces uploaded, the camera framing them.
    Effect::new(move |_| {
        let (Some(el), Some(o)) = (canvas.get(), state.outcome.get()) else {
            return;
        };
        let key = (o.job, o.prediction.meshes.len());
        if held.with_value(|s| s.as_ref().is_some_and(|s| s.key == key)) {
            return;
        }
        let meshes: Vec<&adamm_measure::Mesh> =
            o.prediction.meshes.iter().map(|(_, m)| m).collect();
        if software.get_untracked() {
            camera.set(Camera::framing(&meshes));
            return;
        }
        match scene(&el, &o) {
            Ok(s) => {
                camera.set(Camera::framing(&meshes));
                if let Some(old) = held.get_value() {
                    old.release();
                }
                held.set_value(Some(Rc::new(s)));
                problem.set(None);
            }
            Err(why) if el.get_context("2d").ok().flatten().is_some() => {
                problem.set(Some(format!("{why}; drawn in software instead (slower)")));
                software.set(true);
                camera.set(Camera::framing(&meshes));
            }
            Err(why) => problem.set(Some(format!("{why}: the 3-D view is off"))),
        }
    });
    // The crosshair in world mm: canonical voxel → the labels' grid → world.
    let cursor_mm = move || {
        let cursor = state.view.cursor.get();
        let o = state.outcome.get()?;
        let u = state.view.underlay.get()?;
        let native = u
            .map
            .native_from_canonical()
            .apply(cursor.map(|c| c as f64));
        let world = o.grid.world_from_voxel().ok()?.apply(native);
        Some(world.map(|v| v as f32))
    };
    Effect::new(move |_| {
        let (Some(el), Some(cam)) = (canvas.get(), camera.get()) else {
            return;
        };
        if software.get() {
            if let Some(o) = state.outcome.get() {
                draw_software(&el, &o, &cam);
            }
            return;
        }
        let cursor = cursor_mm();
        if let Some(s) = held.get_value() {
            draw(&s, &cam, cursor, el.width(), el.height());
        }
    });
    // A drag in progress: where it started, the camera then, and whether it moved.
    let drag = StoredValue::new(None::<(i32, i32, Camera, bool)>);
    let on_down = move |ev: leptos::ev::MouseEvent| {
        if let Some(cam) = camera.get_untracked() {
            ev.prevent_default();
            drag.set_value(Some((ev.client_x(), ev.client_y(), cam, false)));
        }
    };
    let on_move = move |ev: leptos::ev::MouseEvent| {
        if let Some((x0, y0, cam0, _)) = drag.get_value() {
            let (dx, dy) = (ev.client_x() - x0, ev.client_y() - y0);
            if dx.abs() + dy.abs() >= 3 {
                drag.set_value(Some((x0, y0, cam0, true)));
                camera.set(Some(cam0.dragged(dx as f32, dy as f32)));
            }
        }
    };
    // A press that did not move is a click: the planes go to the surface point under it.
    let on_up = move |ev: leptos::ev::MouseEvent| {
        let Some((_, _, cam, moved)) = drag.get_value() else {
            return;
        };
        drag.set_value(None);
        let (Some(el), Some(o), false) =
            (canvas.get_untracked(), state.outcome.get_untracked(), moved)
        else {
            return;
        };
        let r = el.get_bounding_client_rect();
        let x = (2.0 * (f64::from(ev.client_x()) - r.left()) / r.width() - 1.0) as f32;
        let y = (1.0 - 2.0 * (f64::from(ev.client_y()) - r.top()) / r.height()) as f32;
        let aspect = (r.width() / r.height().max(1.0)) as f32;
        let (origin, dir) = cam.ray(aspect, x, y);
        // The tumour regions first: a click on a tumour seen through the translucent brain goes
        // to the tumour; elsewhere, to the brain's surface.
        let of = |brain: bool| -> Vec<&adamm_measure::Mesh> {
            o.prediction
                .meshes
                .iter()
                .filter(|(n, _)| (n == "brain") == brain)
                .map(|(_, m)| m)
                .collect()
        };
        let Some((point, _)) =
            pick(&of(false), origin, dir).or_else(|| pick(&of(true), origin, dir))
        else {
            return;
        };
        let voxel = o
            .grid
            .world_from_voxel()
            .ok()
            .and_then(|a| a.inverse())
            .map(|inv| inv.apply(point.map(f64::from)));
        let underlay = state.view.underlay.get_untracked();
        if let (Some(voxel), Some(u)) = (voxel, underlay) {
            let c = u.canonical_point(voxel);
            let cursor = [0, 1, 2].map(|a| (c[a].round().max(0.0) as usize).min(u.dims[a] - 1));
            state.view.cursor.set(cursor);
        }
    };
    let on_leave = move |_| drag.set_value(None);
    let on_wheel = move |ev: leptos::ev::WheelEvent| {
        ev.prevent_default();
        camera.update(|c| *c = c.map(|c| c.wheeled(ev.delta_y())));
    };
    view! {
        <figure class="plane surface">
            <figcaption>"3-D " <span class="hint">"drag to rotate, wheel to zoom, click to go there"</span></figcaption>
            <div class="canvas-box">
                <canvas
                    node_ref=canvas
                    width="480"
                    height="480"
                    data-plane="3d"
                    on:mousedown=on_down
                    on:mousemove=on_move
                    on:mouseup=on_up
                    on:mouseleave=on_leave
                    on:wheel=on_wheel
                    on:contextmenu=|ev| ev.prevent_default()
                ></canvas>
            </div>
            {move || problem.get().map(|p| view! { <p class="notice">{p}</p> })}
            <button id="download-surfaces" on:click=move |_| download_surfaces(state)>
                "Download surfaces (.obj)"
            </button>
        </figure>
    }
}
