//! Messages between the page and the segmentation worker, and their JavaScript form (plain
//! objects with a `type` field).
//!
//! Files travel as `Blob`s (a dropped `File` is one): posting a blob shares the same bytes
//! with the worker instead of copying them, and the worker reads each one once. The page
//! posts the model once ([`Request::Model`]) and each segmentation the case's files as the
//! user gave them (compressed NIfTI, a few MB), not decoded voxels; the label map comes back
//! on the files' grid in a buffer that is transferred, not copied ([`Reply::transfer`]).

use adamm_measure::{Measurements, Mesh};
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Blob;

/// The name the worker gives WebGPU in [`Reply::Ready`].
pub const BACKEND_WEBGPU: &str = "WebGPU";
/// The name the worker gives the wasm CPU backend in [`Reply::Ready`].
pub const BACKEND_CPU: &str = "CPU (wasm)";

/// Which backend the worker should use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    /// The CPU when the browser offers no WebGPU or only a software fallback (SwiftShader,
    /// llvmpipe: slower than the wasm CPU path); otherwise whichever of WebGPU and the CPU
    /// path runs a window faster, timed once at load (`crate::backend`).
    Auto,
    /// WebGPU on whatever adapter the browser gives, a software one included.
    WebGpu,
    /// The wasm CPU backend (flex), always.
    Cpu,
}

impl BackendChoice {
    /// The name in messages and form controls: `auto`, `webgpu`, `cpu`.
    pub fn key(self) -> &'static str {
        match self {
            BackendChoice::Auto => "auto",
            BackendChoice::WebGpu => "webgpu",
            BackendChoice::Cpu => "cpu",
        }
    }

    /// The choice whose [`BackendChoice::key`] is `key`.
    pub fn from_key(key: &str) -> Option<BackendChoice> {
        [
            BackendChoice::Auto,
            BackendChoice::WebGpu,
            BackendChoice::Cpu,
        ]
        .into_iter()
        .find(|c| c.key() == key)
    }
}

/// From the page to the worker.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// The student's weights (a burnpack file) and the backend to load them on, with the
    /// brain-extraction network's file when the page has one.
    Model {
        /// The file.
        file: Blob,
        /// Where to run.
        backend: BackendChoice,
        /// The brain-extraction network (`adamm-strip.bpk`), if any.
        stripper: Option<Blob>,
    },
    /// Segment one case.
    Segment {
        /// Echoed in every reply about this job.
        job: u32,
        /// The NIfTI files of T1, T1Gd, T2, FLAIR (absent modalities `None`).
        files: [Option<Blob>; 4],
        /// Extract the brain when the scans are not skull-stripped (else take them as they
        /// are).
        strip: bool,
        /// Workers to share the sliding windows on the CPU backend (0: one per core, as
        /// memory allows; 1: the worker alone).
        workers: u32,
    },
    /// From a worker to a helper of its pool: the network input of job `job`, for the
    /// [`Request::Window`]s that follow (the helper's model came as [`Request::Model`]).
    Case {
        /// The job.
        job: u32,
        /// The network's input channels on its grid, x fastest.
        channels: Vec<Vec<f32>>,
        /// That grid's size.
        dims: [u32; 3],
        /// The modality combination's code (`0101`).
        combination: String,
    },
    /// From a worker to a helper: run window `index` of job `job`'s plan.
    Window {
        /// The job.
        job: u32,
        /// The window.
        index: u32,
    },
}

/// From the worker to the page.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The worker is listening (messages posted before this would be lost): send the model.
    Started,
    /// The model is loaded; `backend` says where it runs (shown to the user), `note` why it
    /// is not on the GPU when it is not.
    Ready {
        /// E.g. `WebGPU` or `CPU (wasm)`.
        backend: String,
        /// Why WebGPU was not used, if it was not.
        note: Option<String>,
        /// Why brain extraction is not available (no or a bad network file); `None` when it is.
        no_brain_extraction: Option<String>,
    },
    /// A window of job `job` is done.
    Progress {
        /// The job.
        job: u32,
        /// Windows done.
        done: u32,
        /// Windows in all.
        total: u32,
    },
    /// Job `job` finished: the label map (internal labels 0–3) on the reference scan's grid.
    Done {
        /// The job.
        job: u32,
        /// One label per voxel, in the reference scan's voxel order.
        labels: Vec<u8>,
        /// The presence head's probability for NETC, SNFH, ET.
        presence: Vec<f32>,
        /// Time spent in the worker.
        seconds: f64,
        /// What the pipeline did, one line each (alignment, skull check, brain extraction).
        notes: Vec<String>,
        /// Why the labels should not be trusted, one line each (`adamm_model::checks`).
        warnings: Vec<String>,
        /// For each modality, the registration found: the reference world → that scan's
        /// world, a 4 × 4 matrix row by row (`None` for the reference, scans on its grid and
        /// absent scans).
        transforms: Box<[Option<[f64; 16]>; 4]>,
        /// The brain mask (1 = brain) on the reference grid, when the brain was extracted.
        brain: Option<Vec<u8>>,
        /// RANO and per-region statistics of the labels (as `adamm segment` prints them);
        /// their JavaScript form is the JSON text.
        measurements: Box<Option<Measurements>>,
    },
    /// After [`Reply::Done`]: the surfaces of job `job`'s brain and tumour regions
    /// (`adamm_measure::case_meshes`), named, for the 3-D view; their buffers are transferred.
    Surfaces {
        /// The job.
        job: u32,
        /// The meshes, world RAS mm.
        meshes: Vec<(String, Mesh)>,
    },
    /// From a helper to its pool's worker: window `index` of job `job` ([`Request::Window`]).
    Window {
        /// The job.
        job: u32,
        /// The window.
        index: u32,
        /// Its class probabilities (classes × window voxels, x fastest), presence-gated.
        probabilities: Vec<f32>,
        /// Its presence probabilities.
        presence: Vec<f32>,
        /// The helper's memory (its wasm heap, at its peak so far), bytes.
        memory_bytes: f64,
    },
    /// Something failed: loading the model (`job` = `None`) or a job.
    Failed {
        /// The job, if the failure belongs to one.
        job: Option<u32>,
        /// What happened, for the user.
        message: String,
    },
    /// The worker could not read a message the page posted (not one of the [`Request`]s):
    /// neither the model nor a job failed, the page and the worker disagree.
    Refused {
        /// Why the message could not be read ([`Malformed`]'s text).
        message: String,
    },
}

/// A message that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed worker message: {0}")]
pub struct Malformed(pub String);

fn object(kind: &str) -> Object {
    let o = Object::new();
    set(&o, "type", &kind.into());
    o
}

fn set(o: &Object, key: &str, value: &JsValue) {
    // Setting a property of a fresh plain object cannot fail.
    let _ = Reflect::set(o, &key.into(), value);
}

fn get(v: &JsValue, key: &str) -> Result<JsValue, Malformed> {
    Reflect::get(v, &key.into()).map_err(|_| Malformed(format!("no field {key}")))
}

fn get_str(v: &JsValue, key: &str) -> Result<String, Malformed> {
    get(v, key)?
        .as_string()
        .ok_or_else(|| Malformed(format!("{key} is not a string")))
}

fn get_u32(v: &JsValue, key: &str) -> Result<u32, Malformed> {
    get(v, key)?
        .as_f64()
        .filter(|n| n.fract() == 0.0 && *n >= 0.0 && *n <= f64::from(u32::MAX))
        .map(|n| n as u32)
        .ok_or_else(|| Malformed(format!("{key} is not a count")))
}

fn get_bytes(v: &JsValue, key: &str) -> Result<Vec<u8>, Malformed> {
    get(v, key)?
        .dyn_ref::<Uint8Array>()
        .map(Uint8Array::to_vec)
        .ok_or_else(|| Malformed(format!("{key} is not bytes")))
}

fn get_floats(v: &JsValue, key: &str) -> Result<Vec<f32>, Malformed> {
    get(v, key)?
        .dyn_ref::<js_sys::Float32Array>()
        .map(js_sys::Float32Array::to_vec)
        .ok_or_else(|| Malformed(format!("{key} is not a Float32Array")))
}

/// The `meshes` of a `done` message.
fn get_meshes(v: &JsValue) -> Result<Vec<(String, Mesh)>, Malformed> {
    let list = get(v, "meshes")?;
    let list = list
        .dyn_ref::<Array>()
        .ok_or_else(|| Malformed("meshes is not a list".into()))?;
    let mut out = Vec::with_capacity(list.length() as usize);
    for m in list.iter() {
        let triples = |key: &str| -> Result<Vec<[f32; 3]>, Malformed> {
            let flat = get_floats(&m, key)?;
            if flat.len() % 3 != 0 {
                return Err(Malformed(format!("mesh {key} is not a list of triples")));
            }
            Ok(flat.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect())
        };
        let positions = triples("positions")?;
        let normals = triples("normals")?;
        let indices = get(&m, "indices")?
            .dyn_ref::<js_sys::Uint32Array>()
            .map(js_sys::Uint32Array::to_vec)
            .ok_or_else(|| Malformed("mesh indices are not a Uint32Array".into()))?;
        if indices.len() % 3 != 0
            || normals.len() != positions.len()
            || indices.iter().any(|&i| i as usize >= positions.len())
        {
            return Err(Malformed(
                "a mesh's triangles do not fit its vertices".into(),
            ));
        }
        let triangles = indices
            .chunks_exact(3)
            .map(|c| [c[0], c[1], c[2]])
            .collect();
        out.push((
            get_str(&m, "name")?,
            Mesh {
                positions,
                normals,
                triangles,
            },
        ));
    }
    Ok(out)
}

fn strings(list: &[String]) -> Array {
    list.iter().map(|s| JsValue::from(s.as_str())).collect()
}

fn get_strings(v: &JsValue, key: &str) -> Result<Vec<String>, Malformed> {
    let list: Array = get(v, key)?
        .dyn_into()
        .map_err(|_| Malformed(format!("{key} is not a list")))?;
    list.iter()
        .map(|s| {
            s.as_string()
                .ok_or_else(|| Malformed(format!("{key} holds a non-string")))
        })
        .collect()
}

fn get_transforms(v: &JsValue) -> Result<[Option<[f64; 16]>; 4], Malformed> {
    let list: Array = get(v, "transforms")?
        .dyn_into()
        .map_err(|_| Malformed("transforms is not a list".into()))?;
    if list.length() != 4 {
        return Err(Malformed(format!(
            "{} transforms, expected 4",
            list.length()
        )));
    }
    let mut out = [None; 4];
    for (i, slot) in out.iter_mut().enumerate() {
        let item = list.get(i as u32);
        if item.is_null() {
            continue;
        }
        let values = item
            .dyn_ref::<js_sys::Float64Array>()
            .map(js_sys::Float64Array::to_vec)
            .ok_or_else(|| Malformed("a transform is not a Float64Array".into()))?;
        *slot = Some(
            values
                .try_into()
                .map_err(|_| Malformed("a transform has not 16 values".into()))?,
        );
    }
    Ok(out)
}

fn get_blob(v: &JsValue, key: &str) -> Result<Blob, Malformed> {
    get(v, key)?
        .dyn_into::<Blob>()
        .map_err(|_| Malformed(format!("{key} is not a file")))
}

impl Request {
    /// The JavaScript object posted to the worker.
    pub fn to_js(&self) -> JsValue {
        match self {
            Request::Model {
                file,
                backend,
                stripper,
            } => {
                let o = object("model");
                set(&o, "file", file);
                set(
                    &o,
                    "stripper",
                    stripper.as_ref().map_or(&JsValue::NULL, |b| b.as_ref()),
                );
                set(&o, "backend", &backend.key().into());
                o.into()
            }
            Request::Segment {
                job,
                files,
                strip,
                workers,
            } => {
                let o = object("segment");
                set(&o, "job", &(*job).into());
                set(&o, "strip", &JsValue::from_bool(*strip));
                set(&o, "workers", &(*workers).into());
                let list = Array::new();
                for f in files {
                    list.push(f.as_ref().map_or(&JsValue::NULL, |b| b.as_ref()));
                }
                set(&o, "files", &list.into());
                o.into()
            }
            Request::Case {
                job,
                channels,
                dims,
                combination,
            } => {
                let o = object("case");
                set(&o, "job", &(*job).into());
                let list: Array = channels
                    .iter()
                    .map(|c| JsValue::from(js_sys::Float32Array::from(c.as_slice())))
                    .collect();
                set(&o, "channels", &list.into());
                set(
                    &o,
                    "dims",
                    &js_sys::Uint32Array::from(dims.as_slice()).into(),
                );
                set(&o, "combination", &combination.into());
                o.into()
            }
            Request::Window { job, index } => {
                let o = object("window");
                set(&o, "job", &(*job).into());
                set(&o, "index", &(*index).into());
                o.into()
            }
        }
    }

    /// Reads a message posted by the page.
    pub fn from_js(v: &JsValue) -> Result<Request, Malformed> {
        match get_str(v, "type")?.as_str() {
            "model" => Ok(Request::Model {
                file: get_blob(v, "file")?,
                backend: {
                    let key = get_str(v, "backend")?;
                    BackendChoice::from_key(&key)
                        .ok_or_else(|| Malformed(format!("unknown backend {key}")))?
                },
                stripper: {
                    let s = get(v, "stripper")?;
                    if s.is_null() {
                        None
                    } else {
                        Some(
                            s.dyn_into()
                                .map_err(|_| Malformed("stripper is not a file".into()))?,
                        )
                    }
                },
            }),
            "segment" => {
                let list: Array = get(v, "files")?
                    .dyn_into()
                    .map_err(|_| Malformed("files is not a list".into()))?;
                if list.length() != 4 {
                    return Err(Malformed(format!("{} files, expected 4", list.length())));
                }
                let mut files: [Option<Blob>; 4] = Default::default();
                for (i, f) in files.iter_mut().enumerate() {
                    let item = list.get(i as u32);
                    if !item.is_null() {
                        *f = Some(
                            item.dyn_into()
                                .map_err(|_| Malformed("a file is not a file".into()))?,
                        );
                    }
                }
                Ok(Request::Segment {
                    job: get_u32(v, "job")?,
                    files,
                    strip: get(v, "strip")?
                        .as_bool()
                        .ok_or_else(|| Malformed("strip is not a boolean".into()))?,
                    workers: get_u32(v, "workers")?,
                })
            }
            "case" => {
                let list: Array = get(v, "channels")?
                    .dyn_into()
                    .map_err(|_| Malformed("channels is not a list".into()))?;
                let channels = list
                    .iter()
                    .map(|c| {
                        c.dyn_ref::<js_sys::Float32Array>()
                            .map(js_sys::Float32Array::to_vec)
                            .ok_or_else(|| Malformed("a channel is not a Float32Array".into()))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let dims: [u32; 3] = get(v, "dims")?
                    .dyn_ref::<js_sys::Uint32Array>()
                    .map(js_sys::Uint32Array::to_vec)
                    .and_then(|d| d.try_into().ok())
                    .ok_or_else(|| Malformed("dims is not three counts".into()))?;
                Ok(Request::Case {
                    job: get_u32(v, "job")?,
                    channels,
                    dims,
                    combination: get_str(v, "combination")?,
                })
            }
            "window" => Ok(Request::Window {
                job: get_u32(v, "job")?,
                index: get_u32(v, "index")?,
            }),
            other => Err(Malformed(format!("unknown request {other}"))),
        }
    }
}

impl Reply {
    /// The JavaScript object posted to the page.
    pub fn to_js(&self) -> JsValue {
        match self {
            Reply::Started => object("started").into(),
            Reply::Ready {
                backend,
                note,
                no_brain_extraction,
            } => {
                let o = object("ready");
                set(&o, "backend", &backend.into());
                set(
                    &o,
                    "note",
                    &note.as_deref().map_or(JsValue::NULL, JsValue::from),
                );
                set(
                    &o,
                    "no_brain_extraction",
                    &no_brain_extraction
                        .as_deref()
                        .map_or(JsValue::NULL, JsValue::from),
                );
                o.into()
            }
            Reply::Progress { job, done, total } => {
                let o = object("progress");
                set(&o, "job", &(*job).into());
                set(&o, "done", &(*done).into());
                set(&o, "total", &(*total).into());
                o.into()
            }
            Reply::Done {
                job,
                labels,
                presence,
                seconds,
                notes,
                warnings,
                transforms,
                brain,
                measurements,
            } => {
                let o = object("done");

                set(
                    &o,
                    "measurements",
                    &measurements
                        .as_ref()
                        .as_ref()
                        .and_then(|m| serde_json::to_string(m).ok())
                        .map_or(JsValue::NULL, |text| text.into()),
                );
                set(
                    &o,
                    "brain",
                    &brain
                        .as_deref()
                        .map_or(JsValue::NULL, |b| Uint8Array::from(b).into()),
                );
                set(&o, "job", &(*job).into());
                set(&o, "labels", &Uint8Array::from(labels.as_slice()).into());
                set(
                    &o,
                    "presence",
                    &js_sys::Float32Array::from(presence.as_slice()).into(),
                );
                set(&o, "seconds", &(*seconds).into());
                set(&o, "notes", &strings(notes).into());
                set(&o, "warnings", &strings(warnings).into());
                let list = Array::new();
                for t in transforms.iter() {
                    list.push(&t.map_or(JsValue::NULL, |m| {
                        js_sys::Float64Array::from(m.as_slice()).into()
                    }));
                }
                set(&o, "transforms", &list.into());
                o.into()
            }
            Reply::Surfaces { job, meshes } => {
                let o = object("surfaces");
                set(&o, "job", &(*job).into());
                let list = Array::new();
                for (name, mesh) in meshes {
                    let m = Object::new();
                    set(&m, "name", &name.as_str().into());
                    let flat = |v: &[[f32; 3]]| {
                        js_sys::Float32Array::from(
                            v.iter().flatten().copied().collect::<Vec<_>>().as_slice(),
                        )
                    };
                    set(&m, "positions", &flat(&mesh.positions).into());
                    set(&m, "normals", &flat(&mesh.normals).into());
                    let indices: Vec<u32> = mesh.triangles.iter().flatten().copied().collect();
                    set(
                        &m,
                        "indices",
                        &js_sys::Uint32Array::from(indices.as_slice()).into(),
                    );
                    list.push(&m);
                }
                set(&o, "meshes", &list.into());
                o.into()
            }
            Reply::Window {
                job,
                index,
                probabilities,
                presence,
                memory_bytes,
            } => {
                let o = object("window");
                set(&o, "job", &(*job).into());
                set(&o, "index", &(*index).into());
                set(
                    &o,
                    "probabilities",
                    &js_sys::Float32Array::from(probabilities.as_slice()).into(),
                );
                set(
                    &o,
                    "presence",
                    &js_sys::Float32Array::from(presence.as_slice()).into(),
                );
                set(&o, "memory_bytes", &(*memory_bytes).into());
                o.into()
            }
            Reply::Failed { job, message } => {
                let o = object("failed");
                set(&o, "job", &job.map_or(JsValue::NULL, JsValue::from));
                set(&o, "message", &message.into());
                o.into()
            }
            Reply::Refused { message } => {
                let o = object("refused");
                set(&o, "message", &message.into());
                o.into()
            }
        }
    }

    /// The buffers of [`Reply::to_js`]'s object to transfer with it instead of copying (the
    /// label map's, the brain mask's and a window's probabilities), as the transfer list of
    /// `postMessage`.
    pub fn transfer(message: &JsValue) -> Array {
        let list = Array::new();
        for key in ["labels", "brain"] {
            if let Ok(value) = Reflect::get(message, &key.into()) {
                if let Some(a) = value.dyn_ref::<Uint8Array>() {
                    list.push(&a.buffer());
                }
            }
        }
        if let Ok(value) = Reflect::get(message, &"probabilities".into()) {
            if let Some(a) = value.dyn_ref::<js_sys::Float32Array>() {
                list.push(&a.buffer());
            }
        }
        if let Ok(meshes) = Reflect::get(message, &"meshes".into()) {
            if let Some(meshes) = meshes.dyn_ref::<Array>() {
                for m in meshes.iter() {
                    for key in ["positions", "normals", "indices"] {
                        if let Ok(v) = Reflect::get(&m, &key.into()) {
                            if let Some(a) = v.dyn_ref::<js_sys::Float32Array>() {
                                list.push(&a.buffer());
                            } else if let Some(a) = v.dyn_ref::<js_sys::Uint32Array>() {
                                list.push(&a.buffer());
                            }
                        }
                    }
                }
            }
        }
        list
    }

    /// Reads a message posted by the worker.
    pub fn from_js(v: &JsValue) -> Result<Reply, Malformed> {
        match get_str(v, "type")?.as_str() {
            "started" => Ok(Reply::Started),
            "ready" => Ok(Reply::Ready {
                backend: get_str(v, "backend")?,
                note: get(v, "note")?.as_string(),
                no_brain_extraction: get(v, "no_brain_extraction")?.as_string(),
            }),
            "progress" => Ok(Reply::Progress {
                job: get_u32(v, "job")?,
                done: get_u32(v, "done")?,
                total: get_u32(v, "total")?,
            }),
            "done" => {
                Ok(Reply::Done {
                    job: get_u32(v, "job")?,
                    labels: get_bytes(v, "labels")?,
                    presence: get_floats(v, "presence")?,
                    seconds: get(v, "seconds")?
                        .as_f64()
                        .ok_or_else(|| Malformed("seconds is not a number".into()))?,
                    notes: get_strings(v, "notes")?,
                    warnings: get_strings(v, "warnings")?,
                    transforms: Box::new(get_transforms(v)?),
                    brain: {
                        let b = get(v, "brain")?;
                        if b.is_null() {
                            None
                        } else {
                            Some(
                                b.dyn_ref::<Uint8Array>()
                                    .map(Uint8Array::to_vec)
                                    .ok_or_else(|| Malformed("brain is not bytes".into()))?,
                            )
                        }
                    },
                    measurements: Box::new(match get(v, "measurements")?.as_string() {
                        None => None,
                        Some(text) => Some(serde_json::from_str(&text).map_err(|e| {
                            Malformed(format!("measurements are not readable: {e}"))
                        })?),
                    }),
                })
            }
            "surfaces" => Ok(Reply::Surfaces {
                job: get_u32(v, "job")?,
                meshes: get_meshes(v)?,
            }),
            "window" => Ok(Reply::Window {
                job: get_u32(v, "job")?,
                index: get_u32(v, "index")?,
                probabilities: get_floats(v, "probabilities")?,
                presence: get_floats(v, "presence")?,
                memory_bytes: get(v, "memory_bytes")?
                    .as_f64()
                    .ok_or_else(|| Malformed("memory_bytes is not a number".into()))?,
            }),
            "failed" => Ok(Reply::Failed {
                job: get(v, "job")?.as_f64().map(|n| n as u32),
                message: get_str(v, "message")?,
            }),
            "refused" => Ok(Reply::Refused {
                message: get_str(v, "message")?,
            }),
            other => Err(Malformed(format!("unknown reply {other}"))),
        }
    }
}
