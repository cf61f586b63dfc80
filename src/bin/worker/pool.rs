//! The worker's pool of helpers: more copies of this same worker, started from it, each given
//! the model file once (as the page gives it to this one) and, per job, the network input
//! once; then one window at a time ([`Request::Window`]) until the job's windows are done.
//! The windows come back transferred and are blended here in plan order
//! ([`adamm_app::pool::WindowQueue`]), so the labels are the one-worker labels. A helper that
//! dies is replaced and its window run again. The helpers live as long as this worker: the
//! page's Cancel, which replaces this worker, stops them too.

use adamm_app::pool::WindowQueue;
use adamm_app::protocol::{BackendChoice, Reply, Request};
use adamm_model::{Job, PipelineError, Progress, WindowOutput};
use futures_channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures_util::StreamExt;
use wasm_bindgen::prelude::*;
use web_sys::{Blob, ErrorEvent, Event, MessageEvent};

/// The name helpers are started with (`DedicatedWorkerGlobalScope.name`): a helper never
/// starts a pool of its own.
pub const HELPER_NAME: &str = "adamm-helper";

/// What a helper said, or that it died; `id` tells a helper from its replacement.
enum HelperEvent {
    Message { id: u64, data: JsValue },
    Crashed { id: u64, why: String },
}

/// Where a helper stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Started; its model not posted yet (it posts [`Reply::Started`] when it listens).
    Starting,
    /// Loading the model.
    Loading,
    /// Ready; holds the input of this job (`None`: of no job yet).
    Ready(Option<u32>),
}

struct Helper {
    id: u64,
    worker: web_sys::Worker,
    stage: Stage,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(Event)>,
}

impl Drop for Helper {
    fn drop(&mut self) {
        self.worker.set_onmessage(None);
        self.worker.set_onerror(None);
        self.worker.terminate();
    }
}

/// The helpers, the model file they are given, and the channel their messages come on.
pub struct Pool {
    helpers: Vec<Helper>,
    model: Blob,
    next_id: u64,
    sender: UnboundedSender<HelperEvent>,
    events: UnboundedReceiver<HelperEvent>,
    /// The largest wasm heap a helper reported, bytes.
    pub helper_peak_bytes: f64,
}

impl Pool {
    /// No helpers yet; those started later get `model`.
    pub fn new(model: Blob) -> Pool {
        let (sender, events) = unbounded();
        Pool {
            helpers: Vec::new(),
            model,
            next_id: 0,
            sender,
            events,
            helper_peak_bytes: 0.0,
        }
    }

    /// Helpers running.
    pub fn len(&self) -> usize {
        self.helpers.len()
    }

    fn spawn(&mut self) -> Result<Helper, String> {
        let options = web_sys::WorkerOptions::new();
        options.set_name(HELPER_NAME);
        // Relative to this worker's own script: the same loader the page starts it with.
        let worker = web_sys::Worker::new_with_options("./worker_loader.js", &options)
            .map_err(|e| format!("a helper worker could not start: {e:?}"))?;
        let id = self.next_id;
        self.next_id += 1;
        let sender = self.sender.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            let _ = sender.unbounded_send(HelperEvent::Message { id, data: e.data() });
        });
        let sender = self.sender.clone();
        let on_error = Closure::<dyn FnMut(Event)>::new(move |e: Event| {
            let why = e
                .dyn_ref::<ErrorEvent>()
                .map(ErrorEvent::message)
                .unwrap_or_default();
            let _ = sender.unbounded_send(HelperEvent::Crashed { id, why });
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(Helper {
            id,
            worker,
            stage: Stage::Starting,
            _on_message: on_message,
            _on_error: on_error,
        })
    }

    /// Starts helpers until there are `n`.
    pub fn grow_to(&mut self, n: usize) -> Result<(), String> {
        while self.helpers.len() < n {
            let helper = self.spawn()?;
            self.helpers.push(helper);
        }
        Ok(())
    }

    /// Starts helpers until there are `n` and waits until each has loaded the model, so that
    /// the first job does not wait for them.
    pub async fn start(&mut self, n: usize) -> Result<(), String> {
        self.grow_to(n)?;
        while self
            .helpers
            .iter()
            .any(|h| !matches!(h.stage, Stage::Ready(_)))
        {
            let Some(event) = self.events.next().await else {
                return Err("the helpers' channel closed".into());
            };
            let (id, data) = match event {
                HelperEvent::Message { id, data } => (id, data),
                HelperEvent::Crashed { why, .. } => {
                    return Err(format!("a helper worker stopped while starting: {why}"))
                }
            };
            let Some(slot) = self.helpers.iter().position(|h| h.id == id) else {
                continue;
            };
            match Reply::from_js(&data).map_err(|e| e.to_string())? {
                Reply::Started => self.load_model(slot)?,
                Reply::Ready { .. } => self.helpers[slot].stage = Stage::Ready(None),
                Reply::Failed { message, .. } | Reply::Refused { message } => return Err(message),
                _ => {}
            }
        }
        Ok(())
    }

    /// Gives helper `slot` (listening now) the model.
    fn load_model(&mut self, slot: usize) -> Result<(), String> {
        let model = Request::Model {
            file: self.model.clone(),
            backend: BackendChoice::Cpu,
            stripper: None,
        };
        self.post(slot, &model.to_js())?;
        self.helpers[slot].stage = Stage::Loading;
        Ok(())
    }

    fn post(&self, slot: usize, request: &JsValue) -> Result<(), String> {
        self.helpers[slot]
            .worker
            .post_message(request)
            .map_err(|e| format!("a helper could not be reached: {e:?}"))
    }

    /// Runs `job`'s windows on the helpers, blending them into `job` in plan order, with
    /// `progress` after each.
    pub async fn run(
        &mut self,
        job: &mut Job<'_>,
        job_id: u32,
        combination: &str,
        mut progress: impl FnMut(Progress),
    ) -> Result<(), String> {
        let (channels, dims) = job.input();
        let case = Request::Case {
            job: job_id,
            channels: channels.to_vec(),
            dims: dims.map(|d| d as u32),
            combination: combination.to_owned(),
        }
        .to_js();
        let mut queue = WindowQueue::<WindowOutput>::new(job.total(), self.helpers.len());
        for slot in 0..self.helpers.len() {
            self.advance(slot, job_id, &case, &mut queue)?;
        }
        while !queue.is_done() {
            let Some(event) = self.events.next().await else {
                return Err("the helpers' channel closed".into());
            };
            let (id, outcome) = match event {
                HelperEvent::Message { id, data } => (id, Ok(data)),
                HelperEvent::Crashed { id, why } => (id, Err(why)),
            };
            // Messages of a helper already replaced are stale.
            let Some(slot) = self.helpers.iter().position(|h| h.id == id) else {
                continue;
            };
            let data = match outcome {
                Ok(data) => data,
                Err(why) => {
                    queue.lost(slot).map_err(|e| format!("{e} ({why})"))?;
                    self.helpers[slot] = self.spawn()?;
                    continue;
                }
            };
            match Reply::from_js(&data).map_err(|e| e.to_string())? {
                Reply::Started => self.load_model(slot)?,
                Reply::Ready { .. } => {
                    self.helpers[slot].stage = Stage::Ready(None);
                    self.advance(slot, job_id, &case, &mut queue)?;
                }
                Reply::Window {
                    job: j,
                    index,
                    probabilities,
                    presence,
                    memory_bytes,
                } if j == job_id => {
                    self.helper_peak_bytes = self.helper_peak_bytes.max(memory_bytes);
                    let index = index as usize;
                    let output = WindowOutput {
                        index,
                        probabilities,
                        presence,
                    };
                    for (_, ready) in queue
                        .returned(slot, index, output)
                        .map_err(|e| e.to_string())?
                    {
                        let p = job.land(&ready).map_err(|e: PipelineError| e.to_string())?;
                        progress(p);
                    }
                    self.advance(slot, job_id, &case, &mut queue)?;
                }
                Reply::Failed { message, .. } => return Err(message),
                Reply::Refused { message } => return Err(message),
                // Another job's window, or a message a helper does not send: nothing to do.
                _ => {}
            }
        }
        Ok(())
    }

    /// Gives helper `slot`, if it is ready, the job's input (once) and its next window.
    fn advance(
        &mut self,
        slot: usize,
        job_id: u32,
        case: &JsValue,
        queue: &mut WindowQueue<WindowOutput>,
    ) -> Result<(), String> {
        let Stage::Ready(has) = self.helpers[slot].stage else {
            return Ok(());
        };
        if has != Some(job_id) {
            self.post(slot, case)?;
            self.helpers[slot].stage = Stage::Ready(Some(job_id));
        }
        if let Some(index) = queue.next_for(slot) {
            let window = Request::Window {
                job: job_id,
                index: index as u32,
            };
            self.post(slot, &window.to_js())?;
        }
        Ok(())
    }
}
