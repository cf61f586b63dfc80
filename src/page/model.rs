//! The Model section: which model, where it runs (or why it does not), the backend choice and
//! another model file.

use adamm_app::protocol::BackendChoice;
use adamm_app::session::ModelState;
use leptos::prelude::*;

use super::worker::{self, SHIPPED_MODEL};

/// The Model section.
#[component]
pub fn ModelSection() -> impl IntoView {
    let state = super::state();
    let model = Memo::new(move |_| state.session.with(|s| s.model.clone()));
    let choice = Memo::new(move |_| state.session.with(|s| s.choice));
    let on_backend = move |ev: leptos::ev::Event| {
        let choice =
            BackendChoice::from_key(&event_target_value(&ev)).unwrap_or(BackendChoice::Auto);
        worker::start(state, choice);
    };
    let on_model_file = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        if let Some(file) = input.files().and_then(|l| l.get(0)) {
            let name = file.name();
            worker::use_model(state, file.into(), name);
        }
        input.set_value("");
    };
    view! {
        <section class="model" aria-live="polite">
            <h2>"Model"</h2>
            <p>
                <span class="model-name">{move || state.worker.model_name.get()}</span>
                " — "
                <span class="model-state" data-state=move || model.with(ModelState::key)>
                    {move || model.with(ModelState::describe)}
                </span>
            </p>
            <Show when=move || state.worker.model_name.with(|n| n == SHIPPED_MODEL)>
                <p class="note">
                    "The shipped model was trained on synthetic cases only and is below the \
                     project's accuracy targets (see its model card, "
                    <a href="public/models/adamm-light.json">"adamm-light.json"</a>
                    "). Do not use its output clinically."
                </p>
            </Show>
            <label>
                "Run on "
                <select
                    on:change=on_backend
                    prop:value=move || choice.get().key()
                >
                    <option value="auto">"the fastest (WebGPU or CPU, timed)"</option>
                    <option value="webgpu">"WebGPU, even on a software adapter"</option>
                    <option value="cpu">"CPU"</option>
                </select>
            </label>
            <label class="file-button">
                "Use another model file (.bpk from adamm export) "
                <input type="file" accept=".bpk" on:change=on_model_file />
            </label>
        </section>
    }
}
