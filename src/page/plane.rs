//! One view (axial, coronal or sagittal): the canvas, its orientation letters and slice
//! number, and the mouse, wheel and keys on it. The pixel↔voxel and crosshair maths are in
//! `adamm_view::planes`.

use adamm_view::intensity::IntensityWindow;
use adamm_view::planes::{
    drags_window, draw_crosshair, draw_segment, key_step, pixel_under, render, wheel_step, Plane,
    ScreenRect, BRAIN_OUTLINE, CALIPER, TRUTH_OUTLINE,
};
use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

fn context(canvas: &web_sys::HtmlCanvasElement) -> Option<web_sys::CanvasRenderingContext2d> {
    canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into().ok())
}

/// Draws `plane` on `canvas` from the view state (nothing, once the case has no scan).
fn draw(state: super::State, plane: Plane, canvas: &web_sys::HtmlCanvasElement) {
    let view = state.view;
    let Some(u) = view.underlay.get() else {
        if let Some(ctx) = context(canvas) {
            let (w, h) = (f64::from(canvas.width()), f64::from(canvas.height()));
            ctx.clear_rect(0.0, 0.0, w, h);
        }
        return;
    };
    let layout = u.layout(view.radiological.get());
    let cursor = view.cursor.get();
    let window = view.intensity.get().unwrap_or(u.auto);
    let labels = view.labels.get();
    let truth = view.truth.get();
    let brain = view.brain.get();
    let overlay = view.overlay.get();
    let mut outlines = Vec::new();
    if let Some(b) = brain.as_deref() {
        outlines.push((b.as_slice(), BRAIN_OUTLINE));
    }
    if let Some(t) = truth.as_deref() {
        outlines.push((t.as_slice(), TRUTH_OUTLINE));
    }
    let mut rgba = render(
        &layout,
        plane,
        cursor,
        &u.data,
        window,
        labels.as_deref().map(|l| (l.as_slice(), overlay)),
        &outlines,
    );
    if plane == Plane::Axial {
        for segment in view.calipers.get().iter() {
            draw_segment(&layout, plane, cursor, *segment, CALIPER, &mut rgba);
        }
    }
    draw_crosshair(&layout, plane, cursor, &mut rgba);
    let (w, h) = layout.size(plane);
    canvas.set_width(w as u32);
    canvas.set_height(h as u32);
    let (mw, mh) = layout.extent_mm(plane, u.spacing);
    let _ = AsRef::<web_sys::HtmlElement>::as_ref(canvas)
        .style()
        .set_property("aspect-ratio", &format!("{mw} / {mh}"));
    let ctx = context(canvas);
    let image = web_sys::ImageData::new_with_u8_clamped_array_and_sh(
        wasm_bindgen::Clamped(&rgba),
        w as u32,
        h as u32,
    );
    if let (Some(ctx), Ok(image)) = (ctx, image) {
        let _ = ctx.put_image_data(&image, 0.0, 0.0);
    }
}

/// One of the three views.
#[component]
pub fn PlaneView(plane: Plane) -> impl IntoView {
    let state = super::state();
    let view = state.view;
    let canvas = NodeRef::<html::Canvas>::new();
    Effect::new(move |_| {
        if let Some(el) = canvas.get() {
            draw(state, plane, &el);
        }
    });
    // How the view is laid out now (for the handlers).
    let layout_now = move || {
        view.underlay.with_untracked(|u| {
            u.as_ref()
                .map(|u| u.layout(view.radiological.get_untracked()))
        })
    };
    let pixel = move |ev: &web_sys::MouseEvent| {
        let el = canvas.get_untracked()?;
        let r = el.get_bounding_client_rect();
        let rect = ScreenRect {
            left: r.left(),
            top: r.top(),
            width: r.width(),
            height: r.height(),
        };
        let (x, y) = (f64::from(ev.client_x()), f64::from(ev.client_y()));
        pixel_under(x, y, rect, (el.width(), el.height()))
    };
    let step = move |delta: i64| {
        if let Some(layout) = layout_now() {
            view.cursor
                .set(layout.scroll(plane, view.cursor.get_untracked(), delta));
        }
    };
    // A window drag in progress: where it started and the window then.
    let drag = StoredValue::new(None::<(i32, i32, IntensityWindow)>);
    let on_mouse_down = move |ev: leptos::ev::MouseEvent| {
        if drags_window(ev.button(), ev.shift_key()) {
            ev.prevent_default();
            let current = view.underlay.with_untracked(|u| {
                let auto = u.as_ref()?.auto;
                Some(view.intensity.get_untracked().unwrap_or(auto))
            });
            if let Some(w) = current {
                drag.set_value(Some((ev.client_x(), ev.client_y(), w)));
            }
            return;
        }
        if let (Some(layout), Some((column, row))) = (layout_now(), pixel(&ev)) {
            let cursor = view.cursor.get_untracked();
            view.cursor.set(layout.voxel_at(plane, cursor, column, row));
        }
    };
    let on_mouse_move = move |ev: leptos::ev::MouseEvent| {
        if let Some((x0, y0, w0)) = drag.get_value() {
            let dx = f64::from(ev.client_x() - x0);
            let dy = f64::from(ev.client_y() - y0);
            view.intensity.set(Some(w0.dragged(dx, dy)));
        }
    };
    let on_mouse_up = move |_| drag.set_value(None);
    let on_wheel = move |ev: leptos::ev::WheelEvent| {
        ev.prevent_default();
        step(wheel_step(ev.delta_y()));
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if let Some(delta) = key_step(&ev.key()) {
            ev.prevent_default();
            step(delta);
        }
    };
    let letters = move || {
        let dims = view
            .underlay
            .with(|u| u.as_ref().map_or([1; 3], |u| u.dims));
        let radiological = view.radiological.get();
        adamm_view::planes::Layout { dims, radiological }.letters(plane)
    };
    let slice = move || {
        let dims = view.underlay.with(|u| u.as_ref().map(|u| u.dims))?;
        let a = plane.fixed_axis();
        Some(format!("{} / {}", view.cursor.get()[a] + 1, dims[a]))
    };
    view! {
        <figure class="plane">
            <figcaption>{plane.name()} " " <span class="slice">{slice}</span></figcaption>
            <div class="canvas-box">
                <span class="letter left">{move || letters()[0].to_string()}</span>
                <span class="letter right">{move || letters()[1].to_string()}</span>
                <span class="letter top">{move || letters()[2].to_string()}</span>
                <span class="letter bottom">{move || letters()[3].to_string()}</span>
                <canvas
                    node_ref=canvas
                    tabindex="0"
                    data-plane=plane.name()
                    on:mousedown=on_mouse_down
                    on:mousemove=on_mouse_move
                    on:mouseup=on_mouse_up
                    on:mouseleave=on_mouse_up
                    on:contextmenu=|ev| ev.prevent_default()
                    on:wheel=on_wheel
                    on:keydown=on_key
                ></canvas>
            </div>
        </figure>
    }
}
