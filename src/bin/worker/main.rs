//! The segmentation worker: a Web Worker that holds the student and segments cases, so the
//! page never freezes. Built by Trunk as `worker.js` + `worker_bg.wasm`, started by the page
//! through `worker_loader.js` (see `index.html`).
//!
//! Once listening it says so ([`Reply::Started`]: messages posted earlier would be lost),
//! receives the model file once ([`Request::Model`]), loads it on WebGPU when the browser
//! offers an adapter (else on the wasm CPU backend, saying why) into one pipeline kept for
//! every case, then answers each [`Request::Segment`] with progress per sliding window and
//! the label map (transferred, not copied). On the CPU backend it shares the windows with a
//! pool of helpers (`pool.rs`): copies of itself, which answer [`Request::Case`] and
//! [`Request::Window`].

#[cfg(target_arch = "wasm32")]
mod pool;
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

    use crate::pool::Pool;
    use crate::segment::{load_pipeline, load_stripper, memory_bytes, prepare_files, report};
    use adamm_app::backend::{auto_choice, Probe};
    use adamm_app::pool::helpers_for;
    use adamm_app::protocol::{BackendChoice, Reply, Request, BACKEND_CPU, BACKEND_WEBGPU};
    use adamm_model::burn::tensor::Device;
    use adamm_model::{BrainExtractor, Pipeline, Stripping};
    use adamm_volume::brats::Availability;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{Blob, DedicatedWorkerGlobalScope, MessageEvent};

    thread_local! {
        /// The loaded model's pipeline, built once per model file.
        static MODEL: RefCell<Option<Rc<Pipeline>>> = const { RefCell::new(None) };
        /// The brain-extraction network, when the page gave one that loads.
        static STRIPPER: RefCell<Option<Rc<BrainExtractor>>> = const { RefCell::new(None) };
        /// The model file and whether it runs on the CPU (then the windows may be shared).
        static MODEL_FILE: RefCell<Option<(Blob, bool)>> = const { RefCell::new(None) };
        /// The helpers, once a job has wanted them (taken out while a job runs).
        static POOL: RefCell<Option<Pool>> = const { RefCell::new(None) };
        /// As a helper: the network input of the job its windows belong to.
        static CASE: RefCell<Option<HelperCase>> = const { RefCell::new(None) };
    }

    /// What a helper holds for a job's windows ([`Request::Case`]).
    struct HelperCase {
        job: u32,
        channels: Vec<Vec<f32>>,
        dims: [usize; 3],
        combination: Availability,
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
                    Ok(bytes) => load(bytes, &file, backend, stripper).await,
                    Err(message) => post(&Reply::Failed { job: None, message }),
                }
            }
            Ok(Request::Case {
                job,
                channels,
                dims,
                combination,
            }) => match Availability::parse(&combination) {
                Ok(combination) => CASE.with(|c| {
                    *c.borrow_mut() = Some(HelperCase {
                        job,
                        channels,
                        dims: dims.map(|d| d as usize),
                        combination,
                    })
                }),
                Err(e) => post(&Reply::Failed {
                    job: Some(job),
                    message: e.to_string(),
                }),
            },
            Ok(Request::Window { job, index }) => post(&match window(job, index as usize) {
                Ok(reply) => reply,
                Err(message) => Reply::Failed {
                    job: Some(job),
                    message,
                },
            }),
            Ok(Request::Segment {
                job,
                files,
                strip,
                workers,
            }) => {
                let Some(pipeline) = MODEL.with(|m| m.borrow().clone()) else {
                    post(&Reply::Failed {
                        job: Some(job),
                        message: "no model is loaded yet".into(),
                    });
                    return;
                };
                let stripper = STRIPPER.with(|s| s.borrow().clone());
                let started = js_sys::Date::now();
                let result =
                    segment(&pipeline, stripper.as_deref(), strip, workers, job, files).await;
                match result {
                    Ok(result) => {
                        post(&Reply::Done {
                            job,
                            labels: result.labels.labels,
                            presence: result.labels.presence,
                            seconds: (js_sys::Date::now() - started) / 1000.0,
                            notes: result.notes,
                            warnings: result.warnings,
                            transforms: Box::new(result.transforms),
                            brain: result.brain,
                            measurements: Box::new(Some(result.measurements)),
                        });
                        // The surfaces follow the labels: the result is on screen while they
                        // are made. Without them the 3-D view stays empty; the labels stand.
                        match result.surfaces.meshes() {
                            Ok(meshes) => post(&Reply::Surfaces { job, meshes }),
                            Err(e) => web_sys::console::warn_1(
                                &format!("the surfaces could not be made: {e}").into(),
                            ),
                        }
                    }
                    Err(message) => post(&Reply::Failed {
                        job: Some(job),
                        message,
                    }),
                }
            }
            Err(e) => post(&Reply::Refused {
                message: e.to_string(),
            }),
        }
    }

    /// As a helper: window `index` of job `job`'s plan, on the input of [`Request::Case`].
    fn window(job: u32, index: usize) -> Result<Reply, String> {
        let pipeline = MODEL
            .with(|m| m.borrow().clone())
            .ok_or("no model is loaded yet")?;
        CASE.with(|c| {
            let case = c.borrow();
            let case = case
                .as_ref()
                .filter(|c| c.job == job)
                .ok_or("a window came before its case")?;
            let output = pipeline
                .segmenter()
                .start(&case.channels, case.dims, case.combination)
                .and_then(|w| w.compute_window(index))
                .map_err(|e| e.to_string())?;
            Ok(Reply::Window {
                job,
                index: index as u32,
                probabilities: output.probabilities,
                presence: output.presence,
                memory_bytes: memory_bytes(),
            })
        })
    }

    /// The browser's logical cores, as a worker sees them.
    fn cores() -> u32 {
        scope().navigator().hardware_concurrency() as u32
    }

    /// Reads the posted files and runs the pipeline on them, posting progress: the windows
    /// here, or shared with a pool of helpers on the CPU backend (`workers` in all: 0 = one
    /// per core as memory allows).
    async fn segment(
        pipeline: &Pipeline,
        stripper: Option<&BrainExtractor>,
        strip: bool,
        workers: u32,
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
        let prepared =
            prepare_files(pipeline, stripper, stripping, files).map_err(|e| e.to_string())?;
        let combination = prepared.case.availability();
        let mut windows = pipeline
            .job(&prepared.case, combination)
            .map_err(|e| e.to_string())?;
        let progress = |p: adamm_model::Progress| {
            post(&Reply::Progress {
                job,
                done: p.done as u32,
                total: p.total as u32,
            })
        };
        let model = MODEL_FILE.with(|m| m.borrow().clone());
        let wanted = match workers {
            0 => helpers_for(cores(), windows.total()),
            n => (n as usize).min(windows.total()),
        };
        let started = js_sys::Date::now();
        let (labels, extra) = match model {
            Some((file, true)) if wanted > 1 && !is_helper() => {
                let mut pool = POOL
                    .with(|p| p.borrow_mut().take())
                    .unwrap_or_else(|| Pool::new(file));
                let ran = match pool.grow_to(wanted) {
                    Ok(()) => {
                        pool.run(&mut windows, job, &combination.code(), progress)
                            .await
                    }
                    Err(e) => Err(e),
                };
                let helpers = pool.len();
                let helper_peak = pool.helper_peak_bytes;
                POOL.with(|p| *p.borrow_mut() = Some(pool));
                ran?;
                let labels = windows.finish().map_err(|e| e.to_string())?;
                let memory = format!(
                    "memory: {helpers} helper workers sharing the windows, up to {:.0} MB \
                     each; this worker {:.0} MB (wasm heaps at their peak)",
                    helper_peak / 1e6,
                    memory_bytes() / 1e6
                );
                (labels, vec![memory])
            }
            _ => {
                let labels = windows
                    .run_async(progress)
                    .await
                    .map_err(|e| e.to_string())?;
                let memory = format!(
                    "memory: one worker, {:.0} MB (its wasm heap at its peak)",
                    memory_bytes() / 1e6
                );
                (labels, vec![memory])
            }
        };
        report(&prepared, labels, js_sys::Date::now() - started, extra).map_err(|e| e.to_string())
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

    /// Auto on an adapter not known to be a software one: times one window on WebGPU and on
    /// the CPU (as many workers as the pool would have) and keeps the faster, saying why. A
    /// model that does not load is left for the caller to report.
    async fn faster_of(bytes: &[u8], gpu: Device) -> (Device, &'static str, Option<String>) {
        let now = || js_sys::Date::now();
        let time = |device: Device| async move {
            match load_pipeline(bytes, &device) {
                Ok(p) => p.segmenter().window_seconds(now).await.unwrap_or(f64::NAN),
                Err(_) => f64::NAN,
            }
        };
        let webgpu_window_s = time(gpu.clone()).await;
        let cpu_window_s = time(Device::flex()).await;
        let choice = auto_choice(Probe {
            webgpu_window_s,
            cpu_window_s,
            cpu_workers: helpers_for(cores(), usize::MAX).max(1),
        });
        if choice.webgpu {
            (gpu, BACKEND_WEBGPU, Some(choice.note))
        } else {
            (Device::flex(), BACKEND_CPU, Some(choice.note))
        }
    }

    /// Whether this worker is a helper of another's pool (it never starts a pool itself).
    fn is_helper() -> bool {
        scope().name() == crate::pool::HELPER_NAME
    }

    /// Loads the model `file` (its `bytes`) and the brain-extraction network; on the CPU (and
    /// not being a helper) starts the pool of helpers with the same file; then says it is ready.
    async fn load(
        bytes: Vec<u8>,
        file: &Blob,
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
                None => match webgpu().await {
                    Ok(gpu) => faster_of(&bytes, gpu).await,
                    Err(why) => (Device::flex(), BACKEND_CPU, Some(why)),
                },
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
                let on_cpu = name == BACKEND_CPU;
                MODEL_FILE.with(|m| *m.borrow_mut() = Some((file.clone(), on_cpu)));
                let mut note = note;
                let helpers = helpers_for(cores(), usize::MAX);
                if on_cpu && !is_helper() && helpers > 1 {
                    // Started now, the helpers are ready by the first job. Without them the
                    // windows run here alone.
                    let mut pool = Pool::new(file.clone());
                    match pool.start(helpers).await {
                        Ok(()) => POOL.with(|p| *p.borrow_mut() = Some(pool)),
                        Err(why) => {
                            note = Some(format!(
                                "the helper workers could not start ({why}): one worker only"
                            ))
                        }
                    }
                }
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
