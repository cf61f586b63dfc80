//! The segmentation worker: a Web Worker that holds the student and segments cases, so the
//! page never freezes. Built by Trunk as `worker.js` + `worker_bg.wasm`, started by the page
//! through `worker_loader.js` (see `index.html`).
//!
//! Once listening it says so ([`Reply::Started`]: messages posted earlier would be lost),
//! receives the model's bytes once ([`Request::Model`]), loads them on WebGPU when the
//! browser offers an adapter (else on the wasm CPU backend, saying why), then answers each
//! [`Request::Segment`] with progress per sliding window and the label map.

#[cfg(target_arch = "wasm32")]
mod segment;

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    worker::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the segmentation worker runs in a browser (built by Trunk for wasm32)");
    std::process::exit(2);
}

#[cfg(target_arch = "wasm32")]
mod worker {
    use std::cell::RefCell;
    use std::rc::Rc;

    use crate::segment::{load_student, segment_files};
    use adamm_app::protocol::{BackendChoice, Reply, Request};
    use adamm_model::burn::tensor::Device;
    use adamm_model::Student;
    use wasm_bindgen::prelude::*;
    use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

    /// The loaded model and where it runs.
    struct Loaded {
        student: Student,
        device: Device,
    }

    thread_local! {
        static MODEL: RefCell<Option<Rc<Loaded>>> = const { RefCell::new(None) };
    }

    fn scope() -> DedicatedWorkerGlobalScope {
        js_sys::global().unchecked_into()
    }

    fn post(reply: &Reply) {
        // Posting a plain object to our own page cannot fail in a live worker.
        let _ = scope().post_message(&reply.to_js());
    }

    /// Starts listening for the page's messages.
    pub fn start() {
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(|e: MessageEvent| {
            wasm_bindgen_futures::spawn_local(handle(e.data()));
        });
        scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        // The handler lives as long as the worker.
        on_message.forget();
        post(&Reply::Started);
    }

    async fn handle(data: JsValue) {
        match Request::from_js(&data) {
            Ok(Request::Model { bytes, backend }) => load(bytes, backend).await,
            Ok(Request::Segment { job, files, window }) => {
                let Some(model) = MODEL.with(|m| m.borrow().clone()) else {
                    post(&Reply::Failed {
                        job: Some(job),
                        message: "no model is loaded yet".into(),
                    });
                    return;
                };
                let started = js_sys::Date::now();
                let result = segment_files(
                    &model.student,
                    &model.device,
                    &files,
                    window as usize,
                    |p| {
                        post(&Reply::Progress {
                            job,
                            done: p.done as u32,
                            total: p.total as u32,
                        })
                    },
                )
                .await;
                post(&match result {
                    Ok(result) => Reply::Done {
                        job,
                        labels: result.labels,
                        presence: result.presence,
                        seconds: (js_sys::Date::now() - started) / 1000.0,
                    },
                    Err(message) => Reply::Failed {
                        job: Some(job),
                        message,
                    },
                });
            }
            Err(e) => post(&Reply::Failed {
                job: None,
                message: e.to_string(),
            }),
        }
    }

    /// WebGPU, if the browser gives an adapter; the reason when it does not.
    async fn webgpu() -> Result<Device, String> {
        let gpu = js_sys::Reflect::get(&scope().navigator(), &"gpu".into()).unwrap_or_default();
        if gpu.is_undefined() || gpu.is_null() {
            return Err("this browser offers no WebGPU to workers".into());
        }
        Device::wgpu_options()
            .graphics_api(adamm_model::burn::tensor::wgpu::WgpuBackend::WebGpu)
            .init_async()
            .await
            .map_err(|e| format!("WebGPU could not start: {e}"))
    }

    async fn load(bytes: Vec<u8>, backend: BackendChoice) {
        let (device, name, note) = match backend {
            BackendChoice::Cpu => (Device::flex(), "CPU (wasm)", None),
            BackendChoice::Auto => match webgpu().await {
                Ok(device) => (device, "WebGPU", None),
                Err(why) => (Device::flex(), "CPU (wasm)", Some(why)),
            },
        };
        match load_student(&bytes, &device) {
            Ok(student) => {
                MODEL.with(|m| *m.borrow_mut() = Some(Rc::new(Loaded { student, device })));
                post(&Reply::Ready {
                    backend: name.into(),
                    note,
                });
            }
            Err(message) => post(&Reply::Failed { job: None, message }),
        }
    }
}
