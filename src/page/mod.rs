//! The page's parts, in the manner of candle's wasm examples and Leptos apps: the worker
//! client ([`worker`]), file loading and the file list ([`files`]), the model panel
//! ([`model`]), the segmentation control ([`run`]), the views and their controls
//! ([`result`], [`plane`]), the report ([`report`]) and downloads ([`download`]). They share
//! one [`State`] of signals by context; the logic they act on lives in the library
//! (`adamm_app`), DOM-free and unit-tested natively.

pub mod download;
pub mod files;
pub mod model;
pub mod plane;
pub mod report;
pub mod report_file;
pub mod result;
pub mod run;
pub mod surface;
pub mod teaching;
pub mod worker;

use std::rc::Rc;

use adamm_app::case::Case;
use adamm_app::outcome::Outcome;
use adamm_app::session::Session;
use adamm_view::intensity::IntensityWindow;
use adamm_view::planes::{Overlay, Segment, Underlay};
use adamm_volume::brats::Modality;
use leptos::prelude::*;
use wasm_bindgen::JsValue;
use web_sys::Blob;

/// Everything the page's parts share (copyable handles to signals and stored values).
#[derive(Clone, Copy)]
pub struct State {
    /// The files the user gave and their roles; each keeps its browser `Blob`.
    pub case: RwSignal<Case<Blob>, LocalStorage>,
    /// The id the next file gets.
    pub next_file: StoredValue<u64>,
    /// The model, the job in flight and the notice ([`Session`]).
    pub session: RwSignal<Session, LocalStorage>,
    /// The result shown.
    pub outcome: RwSignal<Option<Rc<Outcome>>, LocalStorage>,
    /// The result kept for comparison.
    pub kept: RwSignal<Option<Rc<Outcome>>, LocalStorage>,
    /// The scans the user switched off (in `Modality::ALL` order).
    pub switched_off: RwSignal<[bool; 4]>,
    /// Extract the brain when the scans are not skull-stripped.
    pub strip: RwSignal<bool>,
    /// Workers sharing the windows on the CPU backend (0: one per core, as memory allows).
    pub workers: RwSignal<u32>,
    /// The worker and the model it is given.
    pub worker: worker::Worker,
    /// What the views show.
    pub view: View,
    /// The teaching run, when one was started.
    pub teaching: RwSignal<Option<adamm_app::teaching::Teaching>, LocalStorage>,
}

/// The views' state.
#[derive(Clone, Copy)]
pub struct View {
    /// The voxel the crosshair is on (canonical grid).
    pub cursor: RwSignal<[usize; 3]>,
    /// Patient's right on the screen's left.
    pub radiological: RwSignal<bool>,
    /// The modality chosen as underlay (`None`: the first available).
    pub underlay_choice: RwSignal<Option<Modality>>,
    /// The intensity window the user set (`None`: the underlay's automatic one).
    pub intensity: RwSignal<Option<IntensityWindow>>,
    /// Label opacity and which labels are shown.
    pub overlay: RwSignal<Overlay>,
    /// The underlay, rebuilt only when the scan it shows changes.
    pub underlay: RwSignal<Option<Rc<Underlay>>, LocalStorage>,
    /// The result's labels on the underlay's canonical grid.
    pub labels: RwSignal<Option<Rc<Vec<u8>>>, LocalStorage>,
    /// The ground truth on the underlay's canonical grid.
    pub truth: RwSignal<Option<Rc<Vec<u8>>>, LocalStorage>,
    /// The extracted brain's mask on the underlay's canonical grid.
    pub brain: RwSignal<Option<Rc<Vec<u8>>>, LocalStorage>,
    /// The result's RANO calipers (each lesion's two diameters) on the canonical grid.
    pub calipers: RwSignal<Rc<Vec<Segment>>, LocalStorage>,
}

impl State {
    /// Fresh state; call inside the app's reactive owner.
    pub fn new() -> State {
        State {
            case: RwSignal::new_local(Case::default()),
            next_file: StoredValue::new(0),
            session: RwSignal::new_local(Session::default()),
            outcome: RwSignal::new_local(None),
            kept: RwSignal::new_local(None),
            switched_off: RwSignal::new([false; 4]),
            strip: RwSignal::new(true),
            workers: RwSignal::new(0),
            worker: worker::Worker::new(),
            teaching: RwSignal::new_local(None),
            view: View {
                cursor: RwSignal::new([0; 3]),
                radiological: RwSignal::new(true),
                underlay_choice: RwSignal::new(None),
                intensity: RwSignal::new(None),
                overlay: RwSignal::new(Overlay::default()),
                underlay: RwSignal::new_local(None),
                labels: RwSignal::new_local(None),
                truth: RwSignal::new_local(None),
                brain: RwSignal::new_local(None),
                calipers: RwSignal::new_local(Rc::new(Vec::new())),
            },
        }
    }

    /// Tells the user `text` under the Segment button.
    pub fn tell(&self, text: impl Into<String>) {
        let text = text.into();
        self.session.update(|s| s.notice = Some(text));
    }
}

/// The state the app provided.
pub fn state() -> State {
    expect_context::<State>()
}

/// A JavaScript exception as text.
pub fn js_text(e: &JsValue) -> String {
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}
