//! The segmentation worker: a Web Worker that holds the student and segments cases, so the
//! page never freezes. Built by Trunk as `worker.js` + `worker_bg.wasm`, started by the page
//! through `worker_loader.js` (see `index.html`).
//!
//! Once listening it says so ([`Reply::Started`]: messages posted earlier would be lost),
//! receives the model file once ([`Request::Model`]), loads it on WebGPU when the browser
//! offers an adapter (else on the wasm CPU backend, saying why) into one pipeline kept for
//! every case, then answers each [`Request::Segment`] with progress per sliding window and
//! the label map (transferred, not copied).

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

    use crate::segment::{load_pipeline, load_stripper, segment_files};
    use adamm_app::protocol::{BackendChoice, Reply, Request, BACKEND_CPU, BACKEND_WEBGPU};
    use adamm_model::burn::tensor::Device;
    use adamm_model::{BrainExtractor, Pipeline, Stripping};
    use wasm_bindgen::prelude::*;
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{Blob, DedicatedWorkerGlobalScope, MessageEvent};

    thread_local! {
        /// The loaded model's pipeline, built once per model file.
        static MODEL: RefCell<Option<Rc<Pipeline>>> = const { RefCell::new(None) };
        /// The brain-extraction network, when the page gave one that loads.
        static STRIPPER: RefCell<Option<Rc<BrainExtractor>>> = const { RefCell::new(None) };
    }

    fn scope() -> DedicatedWorkerGlobalScope {
        js_sys::global().unchecked_into()
    }

    fn post(reply: &Reply) {
        let message = reply.to_js();
        // Posting a plain object (and its own buffers) to our own page cannot fail in a
        // live worker.
        let _ = scope().post_message_with_transfer(&message, &Reply::transfer(&message));
    }

    /// The bytes of a file the page posted (one copy, into this worker's memory), refused
    /// unread when it is longer than `limit` bytes.
    async fn read(blob: &Blob, what: &str, limit: u64) -> Result<Vec<u8>, String> {
        let size = blob.size();
        if size > limit as f64 {
            return Err(format!(
                "The {what} is {:.0} MB, more than the {:.0} MB this app reads.",
                size / 1e6,
                limit as f64 / 1e6
            ));
        }
        let buffer = JsFuture::from(blob.array_buffer())
            .await
            .map_err(|e| format!("a file could not be read: {e:?}"))?;
        Ok(js_sys::Uint8Array::new(&buffer).to_vec())
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
            Ok(Request::Model {
                file,
                backend,
                stripper,
            }) => {
                let limit = adamm_model::store::MAX_WEIGHTS_BYTES as u64;
                let stripper = match stripper {
                    Some(blob) => Some(read(&blob, "brain-extraction model", limit).await),
                    None => None,
                };
                match read(&file, "model file", limit).await {
                    Ok(bytes) => load(bytes, backend, stripper).await,
                    Err(message) => post(&Reply::Failed { job: None, message }),
                }
            }
            Ok(Request::Segment { job, files, strip }) => {
                let Some(pipeline) = MODEL.with(|m| m.borrow().clone()) else {
                    post(&Reply::Failed {
                        job: Some(job),
                        message: "no model is loaded yet".into(),
                    });
                    return;
                };
                let stripper = STRIPPER.with(|s| s.borrow().clone());
                let started = js_sys::Date::now();
                let result = segment(&pipeline, stripper.as_deref(), strip, job, files).await;
                post(&match result {
                    Ok(result) => Reply::Done {
                        job,
                        labels: result.labels.labels,
                        presence: result.labels.presence,
                        seconds: (js_sys::Date::now() - started) / 1000.0,
                        notes: result.notes,
                        warnings: result.warnings,
                        transforms: Box::new(result.transforms),
                        brain: result.brain,
                    },
                    Err(message) => Reply::Failed {
                        job: Some(job),
                        message,
                    },
                });
            }
            Err(e) => post(&Reply::Refused {
                message: e.to_string(),
            }),
        }
    }

    /// Reads the posted files and runs the pipeline on them, posting progress.
    async fn segment(
        pipeline: &Pipeline,
        stripper: Option<&BrainExtractor>,
        strip: bool,
        job: u32,
        files: [Option<Blob>; 4],
    ) -> Result<crate::segment::Segmented, String> {
        let mut bytes: [Option<Vec<u8>>; 4] = Default::default();
        for (slot, file) in bytes.iter_mut().zip(&files) {
            if let Some(file) = file {
                *slot = Some(read(file, "scan", adamm_volume::nifti_io::MAX_FILE_BYTES).await?);
            }
        }
        let stripping = if strip {
            Stripping::Auto
        } else {
            Stripping::Never
        };
        let files = bytes.each_ref().map(Option::as_deref);
        segment_files(pipeline, stripper, stripping, files, |p| {
            post(&Reply::Progress {
                job,
                done: p.done as u32,
                total: p.total as u32,
            })
        })
        .await
        .map_err(|e| e.to_string())
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

    /// Why the browser's WebGPU adapter is a software fallback (SwiftShader, llvmpipe, WARP:
    /// slower than the wasm CPU path), when it is one; `None` for a hardware adapter or when
    /// there is none (then [`webgpu`] says why).
    async fn software_adapter() -> Option<String> {
        let gpu = js_sys::Reflect::get(&scope().navigator(), &"gpu".into()).ok()?;
        let request = js_sys::Reflect::get(&gpu, &"requestAdapter".into()).ok()?;
        let request: js_sys::Function = request.dyn_into().ok()?;
        let promise: js_sys::Promise = request.call0(&gpu).ok()?.dyn_into().ok()?;
        let adapter = JsFuture::from(promise).await.ok()?;
        if adapter.is_null() || adapter.is_undefined() {
            return None;
        }
        let info = js_sys::Reflect::get(&adapter, &"info".into()).unwrap_or_default();
        let flag = |o: &JsValue| {
            js_sys::Reflect::get(o, &"isFallbackAdapter".into())
                .ok()
                .and_then(|v| v.as_bool())
                .unwrap_or(false)
        };
        let text = |key: &str| {
            js_sys::Reflect::get(&info, &key.into())
                .ok()
                .and_then(|v| v.as_string())
                .unwrap_or_default()
        };
        let described = [text("vendor"), text("architecture"), text("description")]
            .into_iter()
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let lower = described.to_lowercase();
        let software = [
            "swiftshader",
            "llvmpipe",
            "lavapipe",
            "software",
            "microsoft basic",
        ]
        .iter()
        .any(|s| lower.contains(s));
        (flag(&adapter) || flag(&info) || software).then(|| {
            if described.is_empty() {
                "the browser's WebGPU adapter is a software fallback".to_owned()
            } else {
                format!("the browser's WebGPU adapter is a software fallback ({described})")
            }
        })
    }

    async fn load(
        bytes: Vec<u8>,
        backend: BackendChoice,
        stripper: Option<Result<Vec<u8>, String>>,
    ) {
        let on_webgpu = |result: Result<Device, String>| match result {
            Ok(device) => (device, BACKEND_WEBGPU, None),
            Err(why) => (Device::flex(), BACKEND_CPU, Some(why)),
        };
        let (device, name, note) = match backend {
            BackendChoice::Cpu => (Device::flex(), BACKEND_CPU, None),
            BackendChoice::WebGpu => on_webgpu(webgpu().await),
            BackendChoice::Auto => match software_adapter().await {
                Some(why) => (
                    Device::flex(),
                    BACKEND_CPU,
                    Some(format!(
                        "{why}, slower than the CPU path: choose WebGPU to use it all the same"
                    )),
                ),
                None => on_webgpu(webgpu().await),
            },
        };
        match load_pipeline(&bytes, &device) {
            Ok(pipeline) => {
                MODEL.with(|m| *m.borrow_mut() = Some(Rc::new(pipeline)));
                let extractor = match stripper {
                    None => Err("the page has no brain-extraction model".to_owned()),
                    Some(Err(why)) => Err(why),
                    Some(Ok(bytes)) => load_stripper(&bytes, &device).map_err(|e| e.to_string()),
                };
                let no_brain_extraction = extractor.as_ref().err().cloned();
                STRIPPER.with(|s| *s.borrow_mut() = extractor.ok().map(Rc::new));
                post(&Reply::Ready {
                    backend: name.into(),
                    note,
                    no_brain_extraction,
                });
            }
            Err(e) => post(&Reply::Failed {
                job: None,
                message: e.to_string(),
            }),
        }
    }
}
