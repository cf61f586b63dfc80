//! AdaMM browser app (client-side rendered with Leptos, built by Trunk).
//!
//! The page reads the user's NIfTI files (or the bundled sample), assigns them to the four
//! modalities and the ground truth, posts them to the segmentation worker (`src/bin/worker/`)
//! and shows the result over the scans in three linked views. Nothing is uploaded: the page
//! fetches only its own files (the model and the sample) from the server it came from.
//!
//! This file holds the layout; the parts are in `src/page/`, the logic they act on in the
//! library (`src/lib.rs`).

mod page;

use leptos::prelude::*;

use page::files::CaseSection;
use page::model::ModelSection;
use page::result::ResultSection;
use page::run::RunSection;
use page::teaching::TeachingSection;

#[component]
fn App() -> impl IntoView {
    let state = page::State::new();
    provide_context(state);
    page::worker::load_shipped_model(state);
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
            <ModelSection />
            <CaseSection />
            <RunSection />
            <ResultSection />
            <TeachingSection />
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
