//! AdaMM browser app (client-side rendered with Leptos, built by Trunk).
//!
//! The page reads the user's NIfTI files (or the bundled sample), assigns them to the four
//! modalities and the ground truth, posts them to the segmentation worker (`src/bin/worker/`)
//! and shows the result over the scans in three linked views. Nothing is uploaded: the page
//! fetches only its own files (the model and the sample) from the server it came from.

use std::rc::Rc;

use adamm_app::case::{Case, Contents, Role, MAX_FILES};
use adamm_app::describe;
use adamm_app::outcome::{download_name, Outcome, Run};
use adamm_app::protocol::{BackendChoice, Reply, Request};
use adamm_app::view::{centroid, render, Layout, Overlay, Plane, Window};
use adamm_volume::brats::{Availability, LabelConvention, Modality, LABEL_COLOURS};
use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// The model that ships with the app (same origin).
const MODEL_URL: &str = "public/models/adamm-light.bpk";
/// The bundled synthetic case.
const SAMPLE_FILES: [&str; 5] = [
    "SYN-GLI-00003-000-t1n.nii.gz",
    "SYN-GLI-00003-000-t1c.nii.gz",
    "SYN-GLI-00003-000-t2w.nii.gz",
    "SYN-GLI-00003-000-t2f.nii.gz",
    "SYN-GLI-00003-000-seg.nii.gz",
];
/// Sliding-window edge on the network's grid (the light model's training patch).
const WINDOW: u32 = 64;

/// Fetches one of the page's own files.
async fn fetch_bytes(url: &str) -> Result<Vec<u8>, String> {
    let response = gloo_net::http::Request::get(url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if !response.ok() {
        return Err(format!("{url}: HTTP {}", response.status()));
    }
    response.binary().await.map_err(|e| format!("{url}: {e}"))
}

/// Reads a file the user gave, in the page.
async fn read_file(file: &web_sys::File) -> Result<Vec<u8>, String> {
    let buffer = JsFuture::from(file.array_buffer())
        .await
        .map_err(|e| e.as_string().unwrap_or_else(|| format!("{e:?}")))?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// The running worker and the handlers it calls.
struct WorkerHandle {
    worker: web_sys::Worker,
    _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

/// Where the model stands.
#[derive(Debug, Clone, PartialEq)]
enum ModelState {
    Loading,
    Ready {
        backend: String,
        note: Option<String>,
    },
    Failed(String),
}

/// A segmentation in progress.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Running {
    job: u32,
    done: u32,
    total: u32,
    started_ms: f64,
    availability: Availability,
}

/// The view's underlay on the canonical RAS grid.
struct Underlay {
    dims: [usize; 3],
    spacing: [f64; 3],
    data: Vec<f32>,
    map: adamm_volume::AxisMap,
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

#[component]
fn App() -> impl IntoView {
    let case = RwSignal::new_local(Case::default());
    let next_id = StoredValue::new(0u64);
    let model_bytes = StoredValue::new_local(None::<Rc<Vec<u8>>>);
    let model_name = RwSignal::new(String::from("adamm-light (shipped)"));
    let model_state = RwSignal::new(ModelState::Loading);
    let backend_choice = RwSignal::new(BackendChoice::Auto);
    let worker = StoredValue::new_local(None::<WorkerHandle>);
    let running = RwSignal::new(None::<Running>);
    let next_job = StoredValue::new(1u32);
    let outcome = RwSignal::new_local(None::<Rc<Outcome>>);
    let kept = RwSignal::new_local(None::<Rc<Outcome>>);
    let message = RwSignal::new(None::<String>);
    let switched_off = RwSignal::new([false; 4]);
    let tick = RwSignal::new(0.0f64);
    let fall_back = RwSignal::new(0u32);

    // Views.
    let cursor = RwSignal::new([0usize; 3]);
    let radiological = RwSignal::new(true);
    let underlay_choice = RwSignal::new(None::<Modality>);
    let window = RwSignal::new(None::<Window>);
    let overlay = RwSignal::new(Overlay::default());

    // ---- the worker -------------------------------------------------------------------
    let on_reply = move |reply: Reply| match reply {
        Reply::Started => {
            let request = model_bytes.get_value().map(|bytes| Request::Model {
                bytes: bytes.as_ref().clone(),
                backend: backend_choice.get_untracked(),
            });
            let posted = request.and_then(|r| {
                worker.with_value(|w| w.as_ref().map(|w| w.worker.post_message(&r.to_js())))
            });
            if let Some(Err(e)) = posted {
                model_state.set(ModelState::Failed(format!(
                    "The model could not be sent to the worker: {e:?}"
                )));
            }
        }
        Reply::Ready { backend, note } => model_state.set(ModelState::Ready { backend, note }),
        Reply::Progress { job, done, total } => running.update(|r| {
            if let Some(r) = r.as_mut().filter(|r| r.job == job) {
                r.done = done;
                r.total = total;
            }
        }),
        Reply::Done {
            job,
            labels,
            presence,
            seconds,
        } => {
            let Some(finished) = running.get_untracked().filter(|r| r.job == job) else {
                return;
            };
            running.set(None);
            let backend = match model_state.get_untracked() {
                ModelState::Ready { backend, .. } => backend,
                _ => String::new(),
            };
            let built = case.with_untracked(|c| {
                let header = c.reference()?.volume()?.header.clone();
                let truth = c.truth();
                let run = Run {
                    job,
                    availability: finished.availability,
                    labels,
                    presence,
                    seconds,
                    backend,
                };
                Some(Outcome::new(
                    run,
                    &header,
                    truth.as_ref().map(|t| t.as_slice()),
                ))
            });
            match built {
                Some(Ok(o)) => {
                    outcome.set(Some(Rc::new(o)));
                    message.set(None);
                }
                Some(Err(e)) => message.set(Some(e)),
                None => message.set(Some("The case changed while it was segmented.".into())),
            }
        }
        Reply::Failed { job, message: text } => {
            if job.is_none() {
                model_state.set(ModelState::Failed(text));
            } else {
                running.set(None);
                message.set(Some(text));
            }
        }
    };

    // Starts a fresh worker and posts the model to it (also used to cancel: the old worker
    // is terminated when its handle is dropped).
    let start_worker = move |choice: BackendChoice| {
        worker.set_value(None);
        backend_choice.set(choice);
        if model_bytes.get_value().is_none() {
            return;
        }
        model_state.set(ModelState::Loading);
        let options = web_sys::WorkerOptions::new();
        options.set_name("adamm-segmentation");
        let w = match web_sys::Worker::new_with_options("./worker_loader.js", &options) {
            Ok(w) => w,
            Err(e) => {
                model_state.set(ModelState::Failed(format!(
                    "The segmentation worker could not start: {e:?}"
                )));
                return;
            }
        };
        let on_message =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
                match Reply::from_js(&e.data()) {
                    Ok(reply) => on_reply(reply),
                    Err(e) => message.set(Some(e.to_string())),
                }
            });
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
            let detail = e
                .dyn_ref::<web_sys::ErrorEvent>()
                .map(|e| e.message())
                .unwrap_or_default();
            running.set(None);
            if backend_choice.get_untracked() == BackendChoice::Auto {
                // Most likely the GPU was lost or ran out of memory: go on on the CPU.
                message.set(Some(format!(
                    "The GPU worker stopped ({detail}); switched to the CPU. Segment again."
                )));
                fall_back.set(fall_back.get_untracked() + 1);
            } else {
                model_state.set(ModelState::Failed(format!(
                    "The segmentation worker stopped ({detail}). Reload the page to try again."
                )));
            }
        });
        w.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        w.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        // The model follows when the worker says it listens (`Reply::Started`).
        worker.set_value(Some(WorkerHandle {
            worker: w,
            _on_message: on_message,
            _on_error: on_error,
        }));
    };

    // A worker that died on the GPU is replaced by one on the CPU.
    Effect::new(move |_| {
        if fall_back.get() > 0 {
            start_worker(BackendChoice::Cpu);
        }
    });

    // Load the shipped model once.
    spawn_local(async move {
        match fetch_bytes(MODEL_URL).await {
            Ok(bytes) => {
                model_bytes.set_value(Some(Rc::new(bytes)));
                start_worker(backend_choice.get_untracked());
            }
            Err(e) => model_state.set(ModelState::Failed(format!(
                "The shipped model could not be loaded: {e}"
            ))),
        }
    });

    // Elapsed time while running.
    if let Ok(handle) = set_interval_with_handle(
        move || {
            if running.get_untracked().is_some() {
                tick.set(now_ms());
            }
        },
        std::time::Duration::from_millis(250),
    ) {
        on_cleanup(move || handle.clear());
    }

    // ---- loading files ----------------------------------------------------------------
    let add_bytes = move |name: String, bytes: Vec<u8>| {
        let id = next_id.get_value();
        next_id.set_value(id + 1);
        case.update(|c| c.add(id, name, Contents::read(bytes)));
    };
    let reset_view = move || {
        outcome.set(None);
        window.set(None);
        case.with_untracked(|c| {
            if let Some(v) = c.reference().and_then(|f| f.volume()) {
                let dims = v.canonical_map().canonical_dims();
                cursor.set(dims.map(|d| d / 2));
            }
        });
    };
    // A model file given by the user (picked, or dropped with the scans).
    let load_model = move |file: web_sys::File| {
        spawn_local(async move {
            match read_file(&file).await {
                Ok(bytes) => {
                    model_name.set(file.name());
                    model_bytes.set_value(Some(Rc::new(bytes)));
                    start_worker(backend_choice.get_untracked());
                }
                Err(e) => model_state.set(ModelState::Failed(e)),
            }
        });
    };
    let add_files = move |list: web_sys::FileList| {
        let files: Vec<web_sys::File> = (0..list.length()).filter_map(|i| list.get(i)).collect();
        let (models, files): (Vec<_>, Vec<_>) = files
            .into_iter()
            .partition(|f| f.name().to_ascii_lowercase().ends_with(".bpk"));
        if let Some(model) = models.into_iter().next() {
            load_model(model);
        }
        let count = files.len();
        if count + case.with_untracked(|c| c.files().len()) > MAX_FILES {
            message.set(Some(format!(
                "A case has at most {MAX_FILES} files (four scans and a ground truth); \
                 remove some first."
            )));
            return;
        }
        for file in files {
            spawn_local(async move {
                match read_file(&file).await {
                    Ok(bytes) => add_bytes(file.name(), bytes),
                    Err(e) => {
                        let id = next_id.get_value();
                        next_id.set_value(id + 1);
                        case.update(|c| {
                            c.add(
                                id,
                                file.name(),
                                Contents::Unreadable(format!("could not read: {e}")),
                            )
                        });
                    }
                }
                reset_view();
            });
        }
    };
    let on_pick = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        if let Some(list) = input.files() {
            add_files(list);
        }
        input.set_value("");
    };
    let dragging = RwSignal::new(false);
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        if let Some(list) = ev.data_transfer().and_then(|d| d.files()) {
            add_files(list);
        }
    };
    let load_sample = move |_| {
        case.update(Case::clear);
        outcome.set(None);
        kept.set(None);
        message.set(None);
        spawn_local(async move {
            for name in SAMPLE_FILES {
                match fetch_bytes(&format!("public/sample/{name}")).await {
                    Ok(bytes) => add_bytes(name.to_owned(), bytes),
                    Err(e) => message.set(Some(format!("The sample could not be loaded: {e}"))),
                }
            }
            reset_view();
        });
    };
    let on_model_file = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        if let Some(file) = input.files().and_then(|l| l.get(0)) {
            load_model(file);
        }
        input.set_value("");
    };

    // ---- segmenting -------------------------------------------------------------------
    // The scans the case has, and those of them switched on.
    let have = Memo::new(move |_| case.with(Case::availability));
    let availability = Memo::new(move |_| {
        let off = switched_off.get();
        let have = have.get().present();
        Availability::from_present([0, 1, 2, 3].map(|i| have[i] && !off[i]))
    });
    let segment = move |_| {
        let a = availability.get_untracked();
        if a.is_empty() {
            message.set(Some("Switch on at least one available scan.".into()));
            return;
        }
        // The usable scan of each modality switched on, as the bytes read.
        let files = case.with_untracked(|c| {
            let images = c.images();
            Modality::ALL.map(|m| match images[m.index()].map(|f| &f.contents) {
                Some(Contents::Volume { bytes, .. }) if a.has(m) => Some(bytes.as_ref().clone()),
                _ => None,
            })
        });
        let job = next_job.get_value();
        next_job.set_value(job + 1);
        let request = Request::Segment {
            job,
            files,
            window: WINDOW,
        };
        let posted = worker.with_value(|w| {
            w.as_ref()
                .map(|w| w.worker.post_message(&request.to_js()).is_ok())
        });
        if posted == Some(true) {
            message.set(None);
            running.set(Some(Running {
                job,
                done: 0,
                total: 0,
                started_ms: now_ms(),
                availability: a,
            }));
        } else {
            message.set(Some("The segmentation worker is not running.".into()));
        }
    };
    let cancel = move |_| {
        running.set(None);
        message.set(Some("Cancelled.".into()));
        start_worker(backend_choice.get_untracked());
    };
    let on_backend = move |ev: leptos::ev::Event| {
        let choice = if event_target_value(&ev) == "cpu" {
            BackendChoice::Cpu
        } else {
            BackendChoice::Auto
        };
        backend_choice.set(choice);
        running.set(None);
        start_worker(choice);
    };

    // ---- viewing ----------------------------------------------------------------------
    // The underlay on the canonical grid: the chosen modality, else the first available.
    // Derived from the case and the result; kept in local signals (the volumes are not
    // `Send`), refreshed by effects.
    let underlay = RwSignal::new_local(None::<Rc<Underlay>>);
    Effect::new(move |_| {
        let choice = underlay_choice.get();
        let u = case.with(|c| {
            let images = c.images();
            let pick = choice
                .and_then(|m| images[m.index()])
                .or_else(|| images.iter().flatten().next().copied())?;
            let v = pick.volume()?;
            let canonical = v.to_canonical();
            Some(Rc::new(Underlay {
                dims: canonical.dims(),
                spacing: canonical.world_from_voxel.column_norms(),
                data: canonical.data,
                map: canonical.map,
            }))
        });
        underlay.set(u);
    });
    let labels_canonical = RwSignal::new_local(None::<Rc<Vec<u8>>>);
    Effect::new(move |_| {
        let l = outcome
            .get()
            .zip(underlay.get())
            .map(|(o, u)| Rc::new(u.map.canonical_from_native(&o.run.labels)));
        labels_canonical.set(l);
    });
    // A new result brings the crosshair to the tumour.
    let centred_job = StoredValue::new(0u32);
    Effect::new(move |_| {
        let Some(labels) = labels_canonical.get() else {
            return;
        };
        let job = outcome.get_untracked().map_or(0, |o| o.run.job);
        if centred_job.get_value() == job {
            return;
        }
        centred_job.set_value(job);
        let dims = underlay.with_untracked(|u| u.as_ref().map(|u| u.dims));
        if let Some(c) = dims.and_then(|d| centroid(&labels, d)) {
            cursor.set(c);
        }
    });
    let truth_canonical = RwSignal::new_local(None::<Rc<Vec<u8>>>);
    Effect::new(move |_| {
        let t = case
            .with(Case::truth)
            .zip(underlay.get())
            .map(|(t, u)| Rc::new(u.map.canonical_from_native(&t)));
        truth_canonical.set(t);
    });

    // How the views are laid out now (for the event handlers).
    let layout_now = move || {
        underlay.with_untracked(|u| {
            u.as_ref().map(|u| Layout {
                dims: u.dims,
                radiological: radiological.get_untracked(),
            })
        })
    };

    let plane_view = move |plane: Plane| {
        let canvas = NodeRef::<html::Canvas>::new();
        Effect::new(move |_| {
            let Some(u) = underlay.get() else { return };
            let Some(el) = canvas.get() else { return };
            let (dims, spacing, data) = (&u.dims, u.spacing, &u.data);
            let layout = Layout {
                dims: *dims,
                radiological: radiological.get(),
            };
            let c = cursor.get();
            let win = window.get().unwrap_or_else(|| {
                let w = Window::auto(data);
                window.set(Some(w));
                w
            });
            let labels = labels_canonical.get();
            let truth = truth_canonical.get();
            let ov = overlay.get();
            let mut rgba = render(
                &layout,
                plane,
                c,
                data,
                win,
                labels.as_deref().map(|l| (l.as_slice(), ov)),
                truth.as_deref().map(Vec::as_slice),
            );
            let (w, h) = layout.size(plane);
            // The crosshair.
            let (cx, cy) = layout.pixel_of(plane, c);
            for x in 0..w {
                let i = 4 * (cy * w + x);
                rgba[i..i + 3].copy_from_slice(&[255, 200, 0]);
            }
            for y in 0..h {
                let i = 4 * (y * w + cx);
                rgba[i..i + 3].copy_from_slice(&[255, 200, 0]);
            }
            el.set_width(w as u32);
            el.set_height(h as u32);
            let (mw, mh) = layout.extent_mm(plane, spacing);
            let _ = AsRef::<web_sys::HtmlElement>::as_ref(&*el)
                .style()
                .set_property("aspect-ratio", &format!("{mw} / {mh}"));
            let ctx = el
                .get_context("2d")
                .ok()
                .flatten()
                .and_then(|c| c.dyn_into::<web_sys::CanvasRenderingContext2d>().ok());
            let image = web_sys::ImageData::new_with_u8_clamped_array_and_sh(
                wasm_bindgen::Clamped(&rgba),
                w as u32,
                h as u32,
            );
            if let (Some(ctx), Ok(image)) = (ctx, image) {
                let _ = ctx.put_image_data(&image, 0.0, 0.0);
            }
        });
        let pixel = move |ev: &web_sys::MouseEvent| -> Option<(usize, usize)> {
            let el = canvas.get_untracked()?;
            let rect = el.get_bounding_client_rect();
            let fx = (f64::from(ev.client_x()) - rect.left()) / rect.width();
            let fy = (f64::from(ev.client_y()) - rect.top()) / rect.height();
            Some((
                (fx * f64::from(el.width())).max(0.0) as usize,
                (fy * f64::from(el.height())).max(0.0) as usize,
            ))
        };
        let drag = StoredValue::new(None::<(i32, i32, Window)>);
        let on_mouse_down = move |ev: leptos::ev::MouseEvent| {
            if ev.button() == 2 || ev.shift_key() {
                // Windowing: drag with the right button or with Shift.
                ev.prevent_default();
                if let Some(w) = window.get_untracked() {
                    drag.set_value(Some((ev.client_x(), ev.client_y(), w)));
                }
                return;
            }
            if let (Some(layout), Some((x, y))) = (layout_now(), pixel(&ev)) {
                cursor.set(layout.voxel_at(plane, cursor.get_untracked(), x, y));
            }
        };
        let on_mouse_move = move |ev: leptos::ev::MouseEvent| {
            if let Some((x0, y0, w0)) = drag.get_value() {
                let dx = f64::from(ev.client_x() - x0);
                let dy = f64::from(ev.client_y() - y0);
                window.set(Some(w0.dragged(dx, dy)));
            }
        };
        let on_mouse_up = move |_| drag.set_value(None);
        let on_wheel = move |ev: leptos::ev::WheelEvent| {
            ev.prevent_default();
            if let Some(layout) = layout_now() {
                let delta = if ev.delta_y() > 0.0 { -1 } else { 1 };
                cursor.set(layout.scroll(plane, cursor.get_untracked(), delta));
            }
        };
        let on_key = move |ev: leptos::ev::KeyboardEvent| {
            let delta = match ev.key().as_str() {
                "ArrowUp" | "PageUp" => 1,
                "ArrowDown" | "PageDown" => -1,
                _ => return,
            };
            ev.prevent_default();
            if let Some(layout) = layout_now() {
                cursor.set(layout.scroll(plane, cursor.get_untracked(), delta));
            }
        };
        let letters = move || {
            let layout = Layout {
                dims: underlay.get().map_or([1; 3], |u| u.dims),
                radiological: radiological.get(),
            };
            layout.letters(plane)
        };
        let slice = move || {
            let u = underlay.get()?;
            let a = plane.fixed_axis();
            Some(format!("{} / {}", cursor.get()[a] + 1, u.dims[a]))
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
    };

    let legacy_labels = RwSignal::new(false);
    let download = move |_| {
        let Some(o) = outcome.get_untracked() else {
            return;
        };
        let convention = if legacy_labels.get_untracked() {
            LabelConvention::Brats2021
        } else {
            LabelConvention::Brats2023
        };
        let made = case.with_untracked(|c| {
            let f = c.reference()?;
            let header = f.volume()?.header.clone();
            Some((
                o.nifti(&header, convention),
                download_name(&f.name, o.run.availability),
            ))
        });
        match made {
            Some((Ok(bytes), name)) => {
                if let Err(e) = save(&bytes, &name, "application/gzip") {
                    message.set(Some(e));
                }
            }
            Some((Err(e), _)) => message.set(Some(format!("The file could not be written: {e}"))),
            None => message.set(Some("The case changed; segment it again.".into())),
        }
    };
    view! {
        <header>
            <h1>"AdaMM"</h1>
            <p class="tagline">"Brain-tumour segmentation of MRI scans, in your browser."</p>
            <p class="privacy">
                <strong>"Nothing leaves your machine."</strong>
                " Your files are read and segmented inside this page; they are never uploaded, \
                 and the page fetches nothing but its own files."
            </p>
        </header>
        <main>
            <section class="model" aria-live="polite">
                <h2>"Model"</h2>
                <p>
                    <span class="model-name">{move || model_name.get()}</span>
                    " — "
                    <span class="model-state" data-state=move || match model_state.get() {
                        ModelState::Loading => "loading",
                        ModelState::Ready { .. } => "ready",
                        ModelState::Failed(_) => "failed",
                    }>
                        {move || match model_state.get() {
                            ModelState::Loading => "loading…".to_owned(),
                            ModelState::Ready { backend, note } => match note {
                                Some(n) => format!("runs on {backend} ({n})"),
                                None => format!("runs on {backend}"),
                            },
                            ModelState::Failed(e) => e,
                        }}
                    </span>
                </p>
                <p class="note">
                    "The shipped model is an interim one, trained briefly on synthetic cases: \
                     it misses the project's accuracy targets. Do not use its output clinically."
                </p>
                <label>
                    "Run on "
                    <select
                        on:change=on_backend
                        prop:value=move || match backend_choice.get() {
                            BackendChoice::Auto => "auto",
                            BackendChoice::Cpu => "cpu",
                        }
                    >
                        <option value="auto">"WebGPU if available"</option>
                        <option value="cpu">"CPU"</option>
                    </select>
                </label>
                <label class="file-button">
                    "Use another model file (.bpk from adamm export) "
                    <input type="file" accept=".bpk" on:change=on_model_file />
                </label>
            </section>

            <section
                class="drop"
                class:dragging=move || dragging.get()
                on:dragover=move |ev: leptos::ev::DragEvent| {
                    ev.prevent_default();
                    dragging.set(true);
                }
                on:dragleave=move |_| dragging.set(false)
                on:drop=on_drop
            >
                <h2>"Case"</h2>
                <p>
                    "Drop 1–4 NIfTI scans (.nii, .nii.gz) of one case here, plus its ground truth \
                     if you have it (a .bpk model file dropped here replaces the model), or "
                    <label class="file-button">
                        "choose files"
                        <input
                            id="nifti-files"
                            type="file"
                            multiple
                            accept=".nii,.nii.gz,.gz"
                            on:change=on_pick
                        />
                    </label>
                    ", or "
                    <button id="sample" on:click=load_sample>"try the sample"</button>
                    "."
                </p>
                <ul class="files" aria-live="polite">
                    <For
                        each=move || case.with(|c| c.files().iter().map(|f| f.id).collect::<Vec<_>>())
                        key=|id| *id
                        let:id
                    >
                        {move || {
                            case.with(|c| {
                                let f = c.files().iter().find(|f| f.id == id)?.clone();
                                let problem = c.problem(id);
                                let bad = problem.is_some();
                                let detail = match &f.contents {
                                    Contents::Volume { volume, bytes } => {
                                        describe::describe_volume(volume, bytes.len())
                                    }
                                    Contents::Unreadable(_) => String::new(),
                                };
                                let current = f.role.map_or("none", Role::key);
                                Some(view! {
                                    <li class:bad=bad data-file=f.name.clone()>
                                        <span class="name">{f.name.clone()}</span>
                                        <select
                                            aria-label="use as"
                                            on:change=move |ev| {
                                                let role = Role::from_key(&event_target_value(&ev));
                                                case.update(|c| c.set_role(id, role));
                                                outcome.set(None);
                                            }
                                        >
                                            {Role::ALL
                                                .iter()
                                                .map(|r| {
                                                    view! {
                                                        <option value=r.key() selected=r.key() == current>
                                                            {r.name()}
                                                        </option>
                                                    }
                                                })
                                                .collect_view()}
                                            <option value="none" selected=current == "none">
                                                "not used"
                                            </option>
                                        </select>
                                        <button
                                            class="remove"
                                            aria-label="remove"
                                            on:click=move |_| {
                                                case.update(|c| c.remove(id));
                                                outcome.set(None);
                                            }
                                        >
                                            "×"
                                        </button>
                                        <span class="detail">{detail}</span>
                                        {problem.map(|p| view! { <span class="problem" role="alert">{p}</span> })}
                                    </li>
                                })
                            })
                        }}
                    </For>
                </ul>
            </section>

            <section class="run">
                <h2>"Segment"</h2>
                <p class="modalities">
                    "Scans used: "
                    {Modality::ALL
                        .iter()
                        .map(|&m| {
                            let i = m.index();
                            view! {
                                <label class:absent=move || !have.get().has(m)>
                                    <input
                                        type="checkbox"
                                        prop:checked=move || !switched_off.get()[i]
                                        prop:disabled=move || !have.get().has(m)
                                        on:change=move |ev| {
                                            let on = event_target_checked(&ev);
                                            switched_off.update(|s| s[i] = !on);
                                        }
                                    />
                                    {m.name()}
                                </label>
                            }
                        })
                        .collect_view()}
                </p>
                <button
                    id="segment"
                    on:click=segment
                    prop:disabled=move || {
                        running.get().is_some()
                            || availability.get().is_empty()
                            || !matches!(model_state.get(), ModelState::Ready { .. })
                    }
                >
                    "Segment"
                </button>
                {move || {
                    running
                        .get()
                        .map(|r| {
                            let _ = tick.get();
                            let elapsed = (now_ms() - r.started_ms) / 1000.0;
                            view! {
                                <span class="progress">
                                    <progress max=r.total.max(1) value=r.done></progress>
                                    {format!(" window {} of {} · {elapsed:.0} s ", r.done, r.total)}
                                    <button id="cancel" on:click=cancel>"Cancel"</button>
                                </span>
                            }
                        })
                }}
                {move || case.with(Case::not_ready).map(|t| view! { <p class="hint">{t}</p> })}
                {move || message.get().map(|t| view! { <p class="notice" role="alert">{t}</p> })}
            </section>

            <section class="result" class:empty=move || underlay.get().is_none()>
                <div class="controls">
                    <label>
                        "Underlay "
                        <select on:change=move |ev| {
                            let v = event_target_value(&ev);
                            underlay_choice.set(Modality::ALL.into_iter().find(|m| m.name() == v));
                            window.set(None);
                        }>
                            {Modality::ALL
                                .iter()
                                .map(|m| view! { <option value=m.name()>{m.name()}</option> })
                                .collect_view()}
                        </select>
                    </label>
                    <label>
                        <input
                            type="checkbox"
                            prop:checked=move || radiological.get()
                            on:change=move |ev| radiological.set(event_target_checked(&ev))
                        />
                        "Radiological (patient's right on the left)"
                    </label>
                    <label>
                        "Opacity "
                        <input
                            type="range"
                            min="0"
                            max="1"
                            step="0.05"
                            prop:value=move || overlay.get().opacity.to_string()
                            on:input=move |ev| {
                                let v = event_target_value(&ev).parse().unwrap_or(0.5);
                                overlay.update(|o| o.opacity = v);
                            }
                        />
                    </label>
                    {LABEL_COLOURS
                        .iter()
                        .enumerate()
                        .map(|(k, (_, name, _))| {
                            view! {
                                <label class=format!("swatch label-{k}")>
                                    <input
                                        type="checkbox"
                                        prop:checked=move || overlay.get().shown[k]
                                        on:change=move |ev| {
                                            let on = event_target_checked(&ev);
                                            overlay.update(|o| o.shown[k] = on);
                                        }
                                    />
                                    {*name}
                                </label>
                            }
                        })
                        .collect_view()}
                    <span class="hint">
                        "Click to move the crosshair, wheel or ↑/↓ to change slice, \
                         right-drag (or Shift-drag) to change the window."
                    </span>
                </div>
                <div class="views">{Plane::ALL.map(plane_view).into_iter().collect_view()}</div>
                <div class="reports">
                    {move || outcome.get().map(|o| report(&o, "This result", true))}
                    {move || kept.get().map(|o| report(&o, "Kept for comparison", false))}
                </div>
                {move || {
                    outcome
                        .get()
                        .map(|_| {
                            view! {
                                <p class="actions">
                                    <button id="download" on:click=download>
                                        "Download segmentation (.nii.gz)"
                                    </button>
                                    <label>
                                        <input
                                            type="checkbox"
                                            on:change=move |ev| legacy_labels.set(event_target_checked(&ev))
                                        />
                                        "BraTS 2021 labels (ET = 4)"
                                    </label>
                                    <button on:click=move |_| kept.set(outcome.get_untracked())>
                                        "Keep for comparison"
                                    </button>
                                    <button
                                        id="screenshot"
                                        on:click=move |_| {
                                            if let Err(e) = save_views_png() {
                                                message.set(Some(format!("The screenshot failed: {e}")));
                                            }
                                        }
                                    >
                                        "Save views (.png)"
                                    </button>
                                </p>
                            }
                        })
                }}
            </section>
        </main>
        <footer>
            <p>"AdaMM is a research tool, not a medical device."</p>
        </footer>
    }
}

/// Volumes (and scores, with a ground truth) of one result: the current one or the one kept
/// for comparison.
fn report(o: &Outcome, title: &str, current: bool) -> impl IntoView {
    let v = o.volumes;
    let metrics = o.metrics.map(|m| {
        m.iter()
            .map(|(region, m)| {
                view! {
                    <tr>
                        <td>{region.name()}</td>
                        <td class="dice">{format!("{:.3}", m.dice)}</td>
                        <td>{format!("{:.1}", m.hd95)}</td>
                        <td>{format!("{:.3}", m.sensitivity)}</td>
                    </tr>
                }
            })
            .collect_view()
    });
    let presence = match o.run.presence[..] {
        [netc, snfh, et] => format!(
            "Presence (the model's probability that each is in the case): NETC {netc:.2} · \
             SNFH {snfh:.2} · ET {et:.2}"
        ),
        _ => String::new(),
    };
    view! {
        <div
            class="report"
            class:current=current
            class:kept=!current
            data-code=o.run.availability.code()
            data-job=o.run.job
        >
            <h3>
                {format!(
                    "{title}: {} · {:.1} s on {}",
                    o.run.availability.name(),
                    o.run.seconds,
                    o.run.backend
                )}
            </h3>
            <p class="volumes">
                {format!(
                    "Volumes: NETC {:.1} mL · edema (SNFH) {:.1} mL · ET {:.1} mL · whole tumour {:.1} mL · tumour core {:.1} mL",
                    v.netc,
                    v.snfh,
                    v.et,
                    v.wt(),
                    v.tc()
                )}
            </p>
            <p class="presence">
                {presence}
            </p>
            {metrics
                .map(|rows| {
                    view! {
                        <table class="metrics">
                            <thead>
                                <tr>
                                    <th>"Region"</th>
                                    <th>"Dice"</th>
                                    <th>"HD95 (mm)"</th>
                                    <th>"Sensitivity"</th>
                                </tr>
                            </thead>
                            <tbody>{rows}</tbody>
                        </table>
                    }
                })}
        </div>
    }
}

/// The three views side by side, as a PNG download.
fn save_views_png() -> Result<(), String> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let views = document
        .query_selector_all(".plane canvas")
        .map_err(|e| format!("{e:?}"))?;
    let canvases: Vec<web_sys::HtmlCanvasElement> = (0..views.length())
        .filter_map(|i| views.get(i))
        .filter_map(|n| n.dyn_into().ok())
        .collect();
    let gap = 8u32;
    let width: u32 = canvases.iter().map(|c| c.width() + gap).sum();
    let height = canvases.iter().map(|c| c.height()).max().unwrap_or(0);
    if width == 0 || height == 0 {
        return Err("nothing is shown yet".into());
    }
    let out: web_sys::HtmlCanvasElement = document
        .create_element("canvas")
        .map_err(|e| format!("{e:?}"))?
        .unchecked_into();
    out.set_width(width);
    out.set_height(height);
    let ctx: web_sys::CanvasRenderingContext2d = out
        .get_context("2d")
        .ok()
        .flatten()
        .ok_or("no 2D context")?
        .unchecked_into();
    let mut x = 0.0;
    for c in &canvases {
        ctx.draw_image_with_html_canvas_element(c, x, 0.0)
            .map_err(|e| format!("{e:?}"))?;
        x += f64::from(c.width() + gap);
    }
    let url = out
        .to_data_url_with_type("image/png")
        .map_err(|e| format!("{e:?}"))?;
    let a: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(|e| format!("{e:?}"))?
        .unchecked_into();
    a.set_href(&url);
    a.set_download("adamm-views.png");
    let body = document.body().ok_or("no page body")?;
    let _ = body.append_child(&a);
    a.click();
    a.remove();
    Ok(())
}

/// Offers `bytes` as a download named `name`, without leaving the page.
fn save(bytes: &[u8], name: &str, mime: &str) -> Result<(), String> {
    let array = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes).into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&array, &options)
        .map_err(|e| format!("{e:?}"))?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| format!("{e:?}"))?;
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement = document
        .create_element("a")
        .map_err(|e| format!("{e:?}"))?
        .unchecked_into();
    a.set_href(&url);
    a.set_download(name);
    let body = document.body().ok_or("no page body")?;
    let _ = body.append_child(&a);
    a.click();
    a.remove();
    // The browser reads the blob after this returns: release it a minute later.
    set_timeout(
        move || {
            let _ = web_sys::Url::revoke_object_url(&url);
        },
        std::time::Duration::from_secs(60),
    );
    Ok(())
}

fn main() {
    console_error_panic_hook::set_once();
    mount_to_body(App);
}
