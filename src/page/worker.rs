//! The worker client: starts the segmentation worker (`src/bin/worker/`), hands it the model
//! file, posts requests, and feeds its replies and crashes to the [`Session`]
//! (`adamm_app::session`), doing what that says: post the model, show a result, start a
//! fresh worker.

use adamm_app::protocol::{BackendChoice, Reply, Request};
use adamm_app::session::{ModelState, Next};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::prelude::*;
use web_sys::{Blob, ErrorEvent, Event, MessageEvent};

use super::{js_text, State};

/// The model that ships with the app (same origin).
pub const MODEL_URL: &str = "public/models/adamm-light.bpk";
/// The brain-extraction network that ships with the app (same origin), when there is one.
pub const STRIPPER_URL: &str = "public/models/adamm-strip.bpk";
/// What the shipped model is called on the page.
pub const SHIPPED_MODEL: &str = "adamm-light (shipped)";

/// The running worker and the handlers it calls; dropping it stops the worker.
struct WorkerHandle {
    worker: web_sys::Worker,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(Event)>,
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        // Unhook first: the handlers are freed with this handle.
        self.worker.set_onmessage(None);
        self.worker.set_onerror(None);
        self.worker.terminate();
    }
}

/// Why a request could not be posted.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// No worker runs (it could not start, or was given up on).
    #[error("the segmentation worker is not running")]
    NotRunning,
    /// The browser refused the message.
    #[error("{0}")]
    Browser(String),
}

/// The worker and the model it is given.
#[derive(Clone, Copy)]
pub struct Worker {
    handle: StoredValue<Option<WorkerHandle>, LocalStorage>,
    /// The model file (the shipped one fetched once, or one the user gave), posted as it
    /// is: the page never reads it.
    model: StoredValue<Option<Blob>, LocalStorage>,
    /// The brain-extraction network's file, when the app ships one (posted with the model).
    stripper: StoredValue<Option<Blob>, LocalStorage>,
    /// The model's name as shown.
    pub model_name: RwSignal<String>,
    next_job: StoredValue<u32>,
}

impl Worker {
    /// No worker yet.
    pub fn new() -> Worker {
        Worker {
            handle: StoredValue::new_local(None),
            model: StoredValue::new_local(None),
            stripper: StoredValue::new_local(None),
            model_name: RwSignal::new(SHIPPED_MODEL.to_owned()),
            next_job: StoredValue::new(1),
        }
    }

    /// A number for the next job.
    pub fn next_job(&self) -> u32 {
        let job = self.next_job.get_value();
        self.next_job.set_value(job.wrapping_add(1));
        job
    }

    /// Posts `request` to the running worker.
    pub fn post(&self, request: &Request) -> Result<(), PostError> {
        self.handle.with_value(|h| match h {
            Some(h) => h
                .worker
                .post_message(&request.to_js())
                .map_err(|e| PostError::Browser(js_text(&e))),
            None => Err(PostError::NotRunning),
        })
    }
}

/// Uses `file` (called `name`) as the model: a fresh worker gets it.
pub fn use_model(state: State, file: Blob, name: String) {
    state.worker.model.set_value(Some(file));
    state.worker.model_name.set(name);
    let choice = state.session.with_untracked(|s| s.choice);
    start(state, choice);
}

/// Starts a fresh worker on `choice` (terminating the one before, which also cancels its
/// job); the model follows when it says it listens.
pub fn start(state: State, choice: BackendChoice) {
    state.worker.handle.set_value(None);
    if state.worker.model.with_value(Option::is_none) {
        // The shipped model is still being fetched; it starts the worker when it comes.
        state.session.update(|s| s.choice = choice);
        return;
    }
    state.session.update(|s| s.restarted(choice));
    let options = web_sys::WorkerOptions::new();
    options.set_name("adamm-segmentation");
    let worker = match web_sys::Worker::new_with_options("./worker_loader.js", &options) {
        Ok(w) => w,
        Err(e) => {
            let why = format!("The segmentation worker could not start: {}", js_text(&e));
            state.session.update(|s| s.model = ModelState::Failed(why));
            return;
        }
    };
    let on_message =
        Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| on_message(state, &e));
    let on_error = Closure::<dyn FnMut(Event)>::new(move |e: Event| on_crash(state, &e));
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    state.worker.handle.set_value(Some(WorkerHandle {
        worker,
        _on_message: on_message,
        _on_error: on_error,
    }));
}

/// Fetches the shipped brain-extraction network (when the app has one) and the shipped model
/// once, and starts the worker with them (unless the user gave a model meanwhile).
pub fn load_shipped_model(state: State) {
    spawn_local(async move {
        // Without the file the page segments scans as they come (the worker says so).
        if let Ok(stripper) = super::files::fetch_blob(STRIPPER_URL).await {
            state.worker.stripper.set_value(Some(stripper));
        }
        match super::files::fetch_blob(MODEL_URL).await {
            Ok(file) if state.worker.model.with_value(Option::is_none) => {
                use_model(state, file, SHIPPED_MODEL.to_owned())
            }
            Ok(_) => {}
            Err(e) => state.session.update(|s| {
                s.model = ModelState::Failed(format!("The shipped model could not be loaded: {e}"))
            }),
        }
    });
}

fn on_message(state: State, event: &MessageEvent) {
    let reply = match Reply::from_js(&event.data()) {
        Ok(reply) => reply,
        Err(e) => {
            state.session.update(|s| s.on_unreadable(&e));
            return;
        }
    };
    match state.session.try_update(|s| s.on_reply(reply)) {
        Some(Next::PostModel) => post_model(state),
        Some(Next::Show(outcome)) => {
            if !super::teaching::take(state, &outcome) {
                state.outcome.set(Some(outcome));
            }
        }
        Some(Next::Surfaces { job, meshes }) => state.outcome.update(|o| {
            if let Some(shown) = o.as_mut().filter(|o| o.job == job) {
                let mut with = (**shown).clone();
                with.prediction.meshes = meshes;
                *shown = std::rc::Rc::new(with);
            }
        }),
        Some(Next::Nothing) | None => {}
    }
}

fn post_model(state: State) {
    let Some(file) = state.worker.model.get_value() else {
        return;
    };
    let backend = state.session.with_untracked(|s| s.choice);
    let stripper = state.worker.stripper.get_value();
    if let Err(e) = state.worker.post(&Request::Model {
        file,
        backend,
        stripper,
    }) {
        state.session.update(|s| {
            s.model = ModelState::Failed(format!("The model could not be sent to the worker: {e}"))
        });
    }
}

fn on_crash(state: State, event: &Event) {
    let detail = event
        .dyn_ref::<ErrorEvent>()
        .map(ErrorEvent::message)
        .unwrap_or_default();
    let restart = state.session.try_update(|s| s.on_crash(&detail)).flatten();
    super::teaching::stop(state);
    // This handler belongs to the worker being replaced: replace it once the handler is done.
    spawn_local(async move {
        match restart {
            Some(choice) => start(state, choice),
            None => state.worker.handle.set_value(None),
        }
    });
}
