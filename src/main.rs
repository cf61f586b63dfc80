//! AdaMM browser app (client-side rendered with Leptos, built by Trunk).
//!
//! For now this is a minimal page: it explains what AdaMM is, lets the user choose one to four
//! NIfTI files and reads each one in the browser with `adamm-volume`, showing its name, grid,
//! voxel size and orientation, or why it cannot be read. Nothing is uploaded: the bytes stay in
//! the page's memory.

mod describe;

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlInputElement;

/// Where a chosen file stands.
#[derive(Debug, Clone, PartialEq)]
enum Status {
    /// Its bytes are being read.
    Reading,
    /// Its bytes were read and decoded (or found unreadable).
    Read(describe::Summary),
    /// Reading failed; the text is the browser's error.
    Failed(String),
}

/// One file the user chose.
#[derive(Debug, Clone, PartialEq)]
struct Chosen {
    /// Unique across all choices made in this page, so late reads of an old choice are ignored.
    id: u64,
    /// The file name as the browser reports it (no path).
    name: String,
    /// The size the browser reports before reading.
    size: u64,
    status: Status,
}

/// Reads a whole file into memory, in the page.
async fn read_bytes(file: &web_sys::File) -> Result<Vec<u8>, String> {
    let buffer = JsFuture::from(file.array_buffer())
        .await
        .map_err(|e| e.as_string().unwrap_or_else(|| format!("{e:?}")))?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// The whole page.
#[component]
fn App() -> impl IntoView {
    let (files, set_files) = signal(Vec::<Chosen>::new());
    let (notice, set_notice) = signal(None::<String>);
    let next_id = StoredValue::new(0u64);

    let on_change = move |ev: leptos::ev::Event| {
        let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
        else {
            return;
        };
        let list = input.files();
        let count = list.as_ref().map_or(0, |l| l.length() as usize);
        set_notice.set(describe::count_problem(count));
        let Some(list) = list else {
            set_files.set(Vec::new());
            return;
        };

        let mut chosen = Vec::new();
        for index in 0..count.min(describe::MAX_FILES) {
            let Some(file) = list.get(index as u32) else {
                continue;
            };
            let id = next_id.get_value();
            next_id.set_value(id + 1);
            chosen.push(Chosen {
                id,
                name: file.name(),
                size: file.size() as u64,
                status: Status::Reading,
            });
            spawn_local(async move {
                let status = match read_bytes(&file).await {
                    Ok(bytes) => Status::Read(describe::summarize(&bytes)),
                    Err(e) => Status::Failed(e),
                };
                set_files.update(|files| {
                    if let Some(entry) = files.iter_mut().find(|f| f.id == id) {
                        entry.status = status;
                    }
                });
            });
        }
        set_files.set(chosen);
    };

    view! {
        <header>
            <h1>"AdaMM"</h1>
            <p class="tagline">"Brain-tumour segmentation of MRI scans, in your browser."</p>
        </header>
        <main>
            <section class="intro">
                <p>
                    "AdaMM segments brain tumours in multi-sequence MRI (the BraTS sequences: T1, "
                    "T1 with contrast, T2 and FLAIR). The model runs in this page, on your own "
                    "computer."
                </p>
                <p class="status">
                    "This build does not include the model yet: it reads the files you choose "
                    "and shows their grid, voxel size and orientation."
                </p>
                <p class="privacy">
                    <strong>"Nothing leaves your machine."</strong>
                    " Files you choose are read by this page only; they are never uploaded, and "
                    "the page fetches nothing but its own files from the server it came from."
                </p>
            </section>
            <section class="picker">
                <label for="nifti-files">
                    "Choose 1 to 4 NIfTI files (.nii or .nii.gz) of one case:"
                </label>
                <input
                    id="nifti-files"
                    type="file"
                    multiple
                    accept=".nii,.nii.gz,.gz"
                    on:change=on_change
                />
                {move || notice.get().map(|text| view! { <p class="notice" role="alert">{text}</p> })}
            </section>
            <ul class="files" aria-live="polite">
                {move || {
                    files
                        .get()
                        .into_iter()
                        .map(|f| {
                            let (class, detail) = match f.status {
                                Status::Reading => {
                                    (
                                        "reading",
                                        format!("{} — reading…", describe::format_size(f.size)),
                                    )
                                }
                                Status::Read(describe::Summary::Volume(text)) => ("read", text),
                                Status::Read(describe::Summary::Unreadable(text)) => {
                                    ("failed", text)
                                }
                                Status::Failed(err) => ("failed", format!("Could not read: {err}")),
                            };
                            view! {
                                <li class=class>
                                    <span class="name">{f.name}</span>
                                    <span class="detail">{detail}</span>
                                </li>
                            }
                        })
                        .collect_view()
                }}
            </ul>
        </main>
        <footer>
            <p>"AdaMM is a research tool, not a medical device."</p>
        </footer>
    }
}

fn main() {
    console_error_panic_hook::set_once();
    mount_to_body(App);
}
