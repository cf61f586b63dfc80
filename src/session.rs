//! Where the page stands with its segmentation worker: the model's state, the job in flight,
//! the notice shown to the user, and what follows from each reply or crash of the worker.
//!
//! Pure logic, no DOM: the page's worker client (`src/page/worker.rs`) feeds a [`Session`]
//! the worker's replies and does what [`Session::on_reply`] and [`Session::on_crash`] return.

use std::rc::Rc;

use adamm_volume::Affine;

use crate::case::Snapshot;
use crate::outcome::{Outcome, Prediction};
use crate::protocol::{BackendChoice, Malformed, Reply, BACKEND_CPU};

/// Where the model stands.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelState {
    /// Sent to the worker, not loaded yet.
    Loading,
    /// Loaded.
    Ready {
        /// Where it runs ([`crate::protocol::BACKEND_WEBGPU`], [`BACKEND_CPU`]).
        backend: String,
        /// Why it is not on the GPU, when it is not.
        note: Option<String>,
        /// Why brain extraction is not available, when it is not.
        no_brain_extraction: Option<String>,
    },
    /// Not usable; the text says why.
    Failed(String),
}

impl ModelState {
    /// `loading`, `ready` or `failed` (the page's `data-state`).
    pub fn key(&self) -> &'static str {
        match self {
            ModelState::Loading => "loading",
            ModelState::Ready { .. } => "ready",
            ModelState::Failed(_) => "failed",
        }
    }

    /// What the page says about it.
    pub fn describe(&self) -> String {
        match self {
            ModelState::Loading => "loading…".to_owned(),
            ModelState::Ready {
                backend,
                note,
                no_brain_extraction,
            } => {
                let mut text = format!("runs on {backend}");
                if let Some(note) = note {
                    text += &format!(" ({note})");
                }
                match no_brain_extraction {
                    Some(why) => text += &format!("; no brain extraction: {why}"),
                    None => text += "; brain extraction ready",
                }
                text
            }
            ModelState::Failed(why) => why.clone(),
        }
    }

    /// Whether it is loaded.
    pub fn is_ready(&self) -> bool {
        matches!(self, ModelState::Ready { .. })
    }
}

/// A segmentation asked of the worker, from Segment to its result.
#[derive(Debug, Clone)]
pub struct Job {
    /// Echoed in the worker's replies.
    pub id: u32,
    /// The case as it was when the job started.
    pub snapshot: Snapshot,
    /// Sliding windows done.
    pub done: u32,
    /// Sliding windows in all (0 until the worker says).
    pub total: u32,
    /// When it started (ms since the epoch).
    pub started_ms: f64,
}

impl Job {
    /// Job `id` on the case as `snapshot` took it, started at `started_ms`.
    pub fn new(id: u32, snapshot: Snapshot, started_ms: f64) -> Job {
        Job {
            id,
            snapshot,
            done: 0,
            total: 0,
            started_ms,
        }
    }
}

/// What the page must do after a reply.
#[derive(Debug)]
pub enum Next {
    /// Nothing more.
    Nothing,
    /// Post the model to the worker (it listens now).
    PostModel,
    /// Show this result.
    Show(Rc<Outcome>),
    /// Give the result of job `job`, if it is still shown, these surfaces.
    Surfaces {
        /// The job.
        job: u32,
        /// The meshes.
        meshes: Vec<(String, adamm_measure::Mesh)>,
    },
}

/// The page's side of its conversation with the worker.
#[derive(Debug, Clone)]
pub struct Session {
    /// The backend the worker was started on.
    pub choice: BackendChoice,
    /// Where the model stands.
    pub model: ModelState,
    /// The job in flight.
    pub job: Option<Job>,
    /// What the user is told under the Segment button (an error, a cancellation).
    pub notice: Option<String>,
}

impl Default for Session {
    fn default() -> Session {
        Session {
            choice: BackendChoice::Auto,
            model: ModelState::Loading,
            job: None,
            notice: None,
        }
    }
}

impl Session {
    /// A fresh worker was started on `choice`: the model is loading, no job is in flight.
    pub fn restarted(&mut self, choice: BackendChoice) {
        self.choice = choice;
        self.model = ModelState::Loading;
        self.job = None;
    }

    /// Whether a job can be started now.
    pub fn can_segment(&self) -> bool {
        self.job.is_none() && self.model.is_ready()
    }

    /// Takes in one of the worker's replies.
    pub fn on_reply(&mut self, reply: Reply) -> Next {
        match reply {
            Reply::Started => return Next::PostModel,
            Reply::Ready {
                backend,
                note,
                no_brain_extraction,
            } => {
                self.model = ModelState::Ready {
                    backend,
                    note,
                    no_brain_extraction,
                }
            }
            Reply::Progress { job, done, total } => {
                if let Some(j) = self.job.as_mut().filter(|j| j.id == job) {
                    j.done = done;
                    j.total = total;
                }
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
                let Some(finished) = self.job.take_if(|j| j.id == job) else {
                    // A job the page no longer waits for.
                    return Next::Nothing;
                };
                let backend = match &self.model {
                    ModelState::Ready { backend, .. } => backend.clone(),
                    _ => String::new(),
                };
                let prediction = Prediction {
                    labels,
                    presence,
                    seconds,
                    backend,
                    notes,
                    warnings,
                    brain,
                    measurements: *measurements,
                    meshes: Vec::new(),
                    transforms: (*transforms).map(|t| {
                        t.map(|m| {
                            Affine(std::array::from_fn(|r| {
                                std::array::from_fn(|c| m[4 * r + c])
                            }))
                        })
                    }),
                };
                match Outcome::new(finished.id, finished.snapshot, prediction) {
                    Ok(outcome) => {
                        self.notice = None;
                        return Next::Show(Rc::new(outcome));
                    }
                    Err(e) => self.notice = Some(format!("The result cannot be shown: {e}.")),
                }
            }
            Reply::Failed { job: None, message } => self.model = ModelState::Failed(message),
            Reply::Failed {
                job: Some(job),
                message,
            } => {
                if self.job.take_if(|j| j.id == job).is_some() {
                    self.notice = Some(message);
                }
            }
            Reply::Refused { message } => {
                // The request may have been the job's: it will not come back.
                self.job = None;
                self.notice = Some(format!(
                    "The segmentation worker could not read what the page sent ({message}); \
                     reload the page."
                ));
            }
            Reply::Surfaces { job, meshes } => return Next::Surfaces { job, meshes },
            // Only a helper of the worker's own pool sends windows; the page never asks.
            Reply::Window { .. } => {}
        }
        Next::Nothing
    }

    /// A message from the worker that is not a [`Reply`]: said, and nothing else changes.
    pub fn on_unreadable(&mut self, error: &Malformed) {
        self.notice = Some(format!(
            "The page could not read a message from the segmentation worker ({error}); \
             reload the page."
        ));
    }

    /// The worker stopped (`detail`: the browser's error text). Returns the backend to start
    /// a fresh worker on, or `None` when the model is given up on (it could not even load on
    /// the CPU). A worker on WebGPU is replaced by one on the CPU (the GPU was most likely lost
    /// or out of memory); one already on the CPU that had loaded the model is replaced by
    /// another, so the case is kept.
    pub fn on_crash(&mut self, detail: &str) -> Option<BackendChoice> {
        self.job = None;
        let ready = self.model.is_ready();
        let on_cpu = self.choice == BackendChoice::Cpu
            || matches!(&self.model, ModelState::Ready { backend, .. } if backend == BACKEND_CPU);
        match (on_cpu, ready) {
            (false, true) => {
                self.notice = Some(format!(
                    "The GPU worker stopped ({detail}); switched to the CPU. Segment again."
                ));
            }
            (false, false) => {
                self.notice = Some(format!(
                    "The segmentation worker stopped while loading the model ({detail}); \
                     trying the CPU."
                ));
            }
            (true, true) => {
                self.notice = Some(format!(
                    "The CPU worker stopped ({detail}), perhaps out of memory; a fresh one \
                     is starting. Segment again."
                ));
            }
            (true, false) => {
                self.model = ModelState::Failed(format!(
                    "The segmentation worker stopped while loading the model on the CPU \
                     ({detail}). Reload the page to try again."
                ));
                return None;
            }
        }
        Some(BackendChoice::Cpu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Case, Contents};
    use crate::protocol::BACKEND_WEBGPU;
    use adamm_volume::brats::{label, Availability};
    use adamm_volume::nifti_io::{Datatype, Header};
    use adamm_volume::{Affine, Volume};

    fn file(dims: [usize; 3], value: f32) -> Contents {
        let header = Header::from_affine(dims, Datatype::F32, &Affine::IDENTITY);
        let n = dims.iter().product();
        Contents::Volume {
            volume: Rc::new(Volume::new(vec![value; n], header).unwrap()),
            size: 0,
        }
    }

    fn ready(backend: &str, note: Option<&str>) -> ModelState {
        ModelState::Ready {
            backend: backend.into(),
            note: note.map(Into::into),
            no_brain_extraction: None,
        }
    }

    fn running(job: u32, dims: [usize; 3]) -> Session {
        let mut case: Case = Case::default();
        case.add(0, "A-t1n.nii.gz".into(), file(dims, 1.0), ());
        let (snapshot, _) = case.snapshot(Availability::FULL).unwrap();
        Session {
            choice: BackendChoice::Auto,
            model: ready(BACKEND_CPU, None),
            job: Some(Job::new(job, snapshot, 0.0)),
            notice: None,
        }
    }

    fn done(job: u32, labels: Vec<u8>) -> Reply {
        Reply::Done {
            job,
            labels,
            presence: vec![0.5; 3],
            seconds: 2.0,
            notes: vec!["T1 (A-t1n.nii.gz): the reference grid".into()],
            warnings: Vec::new(),
            transforms: Box::new([None; 4]),
            brain: None,
            measurements: Box::new(None),
        }
    }

    #[test]
    fn a_result_is_read_on_the_case_as_its_job_found_it() {
        let grid = [4, 5, 6];
        let mut case: Case = Case::default();
        case.add(0, "A-t1n.nii.gz".into(), file(grid, 1.0), ());
        case.add(1, "A-seg.nii.gz".into(), file(grid, 2.0), ());
        let (snapshot, _) = case.snapshot(Availability::FULL).unwrap();
        let mut session = Session {
            model: ready(BACKEND_CPU, None),
            ..Session::default()
        };
        session.job = Some(Job::new(7, snapshot, 0.0));
        // While the job runs, the user swaps the case for one on another grid, without a
        // ground truth.
        case.clear();
        case.add(2, "B-t2f.nii.gz".into(), file([8, 8, 8], 1.0), ());
        let other = case
            .reference_scan()
            .unwrap()
            .volume()
            .unwrap()
            .header
            .clone();

        let labels = vec![label::SNFH; 4 * 5 * 6];
        let Next::Show(outcome) = session.on_reply(done(7, labels)) else {
            panic!("no result: {:?}", session.notice);
        };
        assert_eq!(outcome.grid.dims, grid);
        assert_eq!(outcome.file_name(), "A-seg-T1.nii.gz");
        assert!(!outcome.is_on_grid_of(&other));
        // Scored against the ground truth the case had when the job started.
        let metrics = outcome.metrics.expect("metrics against the truth");
        assert!(metrics.iter().all(|(_, m)| m.dice == 1.0), "{metrics:?}");
        assert_eq!(outcome.prediction.backend, BACKEND_CPU);
        assert!(session.job.is_none() && session.notice.is_none());
        // The surfaces come after the labels, for the page to give that job's result.
        assert!(outcome.prediction.meshes.is_empty());
        let meshes = vec![("ET".to_owned(), adamm_measure::Mesh::default())];
        let next = session.on_reply(Reply::Surfaces {
            job: 7,
            meshes: meshes.clone(),
        });
        assert!(
            matches!(&next, Next::Surfaces { job: 7, meshes: m } if *m == meshes),
            "{next:?}"
        );
    }

    #[test]
    fn replies_for_other_jobs_are_ignored() {
        let mut session = running(3, [2, 2, 2]);
        session.on_reply(Reply::Progress {
            job: 2,
            done: 5,
            total: 9,
        });
        session.on_reply(Reply::Progress {
            job: 3,
            done: 1,
            total: 4,
        });
        let job = session.job.as_ref().unwrap();
        assert_eq!((job.done, job.total), (1, 4));
        assert!(matches!(
            session.on_reply(done(2, vec![0; 8])),
            Next::Nothing
        ));
        session.on_reply(Reply::Failed {
            job: Some(2),
            message: "old".into(),
        });
        assert!(session.job.is_some() && session.notice.is_none());
        // A label map that does not fit the job's grid is said, not shown.
        assert!(matches!(
            session.on_reply(done(3, vec![0; 5])),
            Next::Nothing
        ));
        let notice = session.notice.unwrap();
        assert!(
            notice.contains("5 labels for a grid of 8 voxels"),
            "{notice}"
        );
    }

    #[test]
    fn a_message_the_worker_could_not_read_is_not_a_model_failure() {
        let mut session = running(1, [2, 2, 2]);
        session.on_reply(Reply::Refused {
            message: "malformed worker message: no field type".into(),
        });
        assert!(session.model.is_ready(), "{:?}", session.model);
        assert!(session.job.is_none());
        let notice = session.notice.clone().unwrap();
        assert!(notice.contains("could not read"), "{notice}");
        assert!(session.can_segment());

        // Nor is a reply the page cannot read.
        session.on_unreadable(&Malformed("unknown reply hello".into()));
        assert!(session.model.is_ready());
        assert!(session.notice.unwrap().contains("unknown reply hello"));

        // A model the worker could not load is one.
        let mut session = running(1, [2, 2, 2]);
        session.on_reply(Reply::Failed {
            job: None,
            message: "This is not an AdaMM model file".into(),
        });
        assert_eq!(
            session.model.key(),
            "failed",
            "{}",
            session.model.describe()
        );
        assert!(!session.can_segment());
    }

    #[test]
    fn a_crash_is_told_as_on_the_backend_the_worker_was_on() {
        // On WebGPU: go on on the CPU.
        let mut session = running(1, [2, 2, 2]);
        session.model = ready(BACKEND_WEBGPU, None);
        assert_eq!(session.on_crash("lost"), Some(BackendChoice::Cpu));
        let notice = session.notice.clone().unwrap();
        assert!(
            notice.starts_with("The GPU worker stopped (lost)"),
            "{notice}"
        );
        assert!(session.job.is_none());

        // "WebGPU if available" without WebGPU: the worker was on the CPU all along.
        let mut session = running(1, [2, 2, 2]);
        session.model = ready(
            BACKEND_CPU,
            Some("this browser offers no WebGPU to workers"),
        );
        assert_eq!(session.on_crash("out of memory"), Some(BackendChoice::Cpu));
        let notice = session.notice.clone().unwrap();
        assert!(!notice.contains("GPU"), "{notice}");
        assert!(
            notice.starts_with("The CPU worker stopped (out of memory)"),
            "{notice}"
        );
        assert!(session.model.is_ready());

        // Loading in Auto: perhaps WebGPU's start; the CPU is tried.
        let mut session = Session::default();
        assert_eq!(session.on_crash("x"), Some(BackendChoice::Cpu));
        assert!(session.notice.unwrap().contains("trying the CPU"));

        // Loading on the CPU: given up, with the reason.
        let mut session = Session::default();
        session.restarted(BackendChoice::Cpu);
        assert_eq!(session.on_crash("x"), None);
        assert_eq!(session.model.key(), "failed");
        assert!(session.model.describe().contains("on the CPU (x)"));
    }

    #[test]
    fn the_model_state_reads_as_the_page_shows_it() {
        assert_eq!(ModelState::Loading.describe(), "loading…");
        assert_eq!(
            ready(BACKEND_WEBGPU, None).describe(),
            "runs on WebGPU; brain extraction ready"
        );
        let without = ModelState::Ready {
            backend: BACKEND_CPU.into(),
            note: Some("no adapter".into()),
            no_brain_extraction: Some("no adamm-strip.bpk".into()),
        };
        assert_eq!(
            without.describe(),
            "runs on CPU (wasm) (no adapter); no brain extraction: no adamm-strip.bpk"
        );
        assert_eq!(ModelState::Failed("bad".into()).key(), "failed");
    }
}
