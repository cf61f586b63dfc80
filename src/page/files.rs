//! Loading files — scans dropped or picked (a model file among them replaces the model), the
//! bundled sample, the shipped model — and the Case section: the drop zone and the file list.
//!
//! Each file is kept as the browser's `Blob` (a dropped `File` is one; the sample's files
//! are fetched as blobs): the page reads its bytes once, to decode it for the views and
//! checks, and posts the blob itself to the worker.

use adamm_app::case::{Contents, Role, MAX_FILES};
use adamm_app::describe;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, File, FileList};

use super::{js_text, worker, State};

/// The bundled synthetic case.
const SAMPLE_FILES: [&str; 5] = [
    "SYN-GLI-00003-000-t1n.nii.gz",
    "SYN-GLI-00003-000-t1c.nii.gz",
    "SYN-GLI-00003-000-t2w.nii.gz",
    "SYN-GLI-00003-000-t2f.nii.gz",
    "SYN-GLI-00003-000-seg.nii.gz",
];

/// Why a file could not be had.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The request for one of the page's own files failed.
    #[error("{url}: {detail}")]
    Fetch {
        /// What was asked for.
        url: String,
        /// What the browser said.
        detail: String,
    },
    /// The server answered with an error status.
    #[error("{url}: HTTP {status}")]
    Status {
        /// What was asked for.
        url: String,
        /// The status.
        status: u16,
    },
    /// The browser could not read the file's bytes.
    #[error("{0}")]
    Read(String),
    /// The file is larger than any volume the app reads could be.
    #[error(
        "the file is {} MB, more than the {} MB a NIfTI volume within the app's limit \
         (512³ voxels) can take; it was not read",
        bytes / 1_000_000,
        limit / 1_000_000
    )]
    TooLarge {
        /// The file's size in bytes.
        bytes: u64,
        /// [`adamm_volume::nifti_io::MAX_FILE_BYTES`].
        limit: u64,
    },
}

/// Fetches one of the page's own files as a blob (it is not copied into the page's memory).
pub async fn fetch_blob(url: &str) -> Result<Blob, LoadError> {
    let failed = |detail: String| LoadError::Fetch {
        url: url.to_owned(),
        detail,
    };
    let response = gloo_net::http::Request::get(url)
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    if !response.ok() {
        return Err(LoadError::Status {
            url: url.to_owned(),
            status: response.status(),
        });
    }
    let body = web_sys::Response::from(response)
        .blob()
        .map_err(|e| failed(js_text(&e)))?;
    JsFuture::from(body)
        .await
        .map_err(|e| failed(js_text(&e)))?
        .dyn_into::<Blob>()
        .map_err(|_| failed("the answer is not a file".to_owned()))
}

/// The bytes of a file or blob: one copy, into the page's memory, for its own decode; a file
/// too large to be a volume within the limits is refused unread.
pub async fn read_blob(blob: &Blob) -> Result<Vec<u8>, LoadError> {
    let limit = adamm_volume::nifti_io::MAX_FILE_BYTES;
    if blob.size() > limit as f64 {
        return Err(LoadError::TooLarge {
            bytes: blob.size() as u64,
            limit,
        });
    }
    let buffer = JsFuture::from(blob.array_buffer())
        .await
        .map_err(|e| LoadError::Read(js_text(&e)))?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// Reads `blob` once, decodes it, and adds it to the case (keeping the blob, not the bytes).
async fn add(state: State, name: String, blob: Blob) {
    let contents = match read_blob(&blob).await {
        Ok(bytes) => Contents::read(&bytes),
        Err(e) => Contents::Unreadable(format!("could not read: {e}")),
    };
    let id = state.next_file.get_value();
    state.next_file.set_value(id + 1);
    state.case.update(|c| c.add(id, name, contents, blob));
}

/// After the case changed: no result, the crosshair in the middle of the grid.
fn reset_view(state: State) {
    state.outcome.set(None);
    let dims = state.case.with_untracked(|c| {
        c.reference_scan()
            .and_then(|f| f.volume())
            .map(|v| v.canonical_map().canonical_dims())
    });
    if let Some(dims) = dims {
        state.view.cursor.set(dims.map(|d| d / 2));
    }
}

/// Files dropped or picked: a `.bpk` among them is the model, the rest join the case.
pub fn add_files(state: State, list: FileList) {
    let files: Vec<File> = (0..list.length()).filter_map(|i| list.get(i)).collect();
    let (models, files): (Vec<File>, Vec<File>) = files
        .into_iter()
        .partition(|f| f.name().to_ascii_lowercase().ends_with(".bpk"));
    if let Some(model) = models.into_iter().next() {
        let name = model.name();
        worker::use_model(state, model.into(), name);
    }
    if files.len() + state.case.with_untracked(|c| c.files().len()) > MAX_FILES {
        state.tell(format!(
            "A case has at most {MAX_FILES} files (four scans and a ground truth); remove some \
             first."
        ));
        return;
    }
    for file in files {
        spawn_local(async move {
            add(state, file.name(), file.into()).await;
            reset_view(state);
        });
    }
}

/// Replaces the case by the bundled sample.
fn load_sample(state: State) {
    state.case.update(|c| c.clear());
    state.outcome.set(None);
    state.kept.set(None);
    state.session.update(|s| s.notice = None);
    spawn_local(async move {
        for name in SAMPLE_FILES {
            match fetch_blob(&format!("public/sample/{name}")).await {
                Ok(blob) => add(state, name.to_owned(), blob).await,
                Err(e) => state.tell(format!("The sample could not be loaded: {e}")),
            }
        }
        reset_view(state);
    });
}

/// One row of the file list: name, role menu, remove button, description or problem.
fn file_row(state: State, id: u64) -> impl IntoView {
    let case = state.case;
    move || {
        case.with(|c| {
            let f = c.file(id)?;
            let problem = c.problem(id);
            let bad = problem.is_some();
            let detail = match &f.contents {
                Contents::Volume { volume, size } => describe::describe_volume(volume, *size),
                Contents::Unreadable(_) => String::new(),
            };
            let current = f.role.map_or("none", Role::key);
            let name = f.name.clone();
            Some(view! {
                <li class:bad=bad data-file=f.name.clone()>
                    <span class="name">{name}</span>
                    <select
                        aria-label="use as"
                        on:change=move |ev| {
                            let role = Role::from_key(&event_target_value(&ev));
                            case.update(|c| c.set_role(id, role));
                            state.outcome.set(None);
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
                            state.outcome.set(None);
                        }
                    >
                        "×"
                    </button>
                    <span class="detail">{detail}</span>
                    {problem.map(|p| view! { <span class="problem" role="alert">{p}</span> })}
                </li>
            })
        })
    }
}

/// The Case section: drop zone, file picker, the sample, and the file list.
#[component]
pub fn CaseSection() -> impl IntoView {
    let state = super::state();
    let dragging = RwSignal::new(false);
    let on_pick = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        if let Some(list) = input.files() {
            add_files(state, list);
        }
        input.set_value("");
    };
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        if let Some(list) = ev.data_transfer().and_then(|d| d.files()) {
            add_files(state, list);
        }
    };
    view! {
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
                <button id="sample" on:click=move |_| load_sample(state)>"try the sample"</button>
                "."
            </p>
            <ul class="files" aria-live="polite">
                <For
                    each=move || state.case.with(|c| c.files().iter().map(|f| f.id).collect::<Vec<_>>())
                    key=|id| *id
                    let:id
                >
                    {file_row(state, id)}
                </For>
            </ul>
        </section>
    }
}
