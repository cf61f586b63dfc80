//! What the worker does with a model file and a case's files: loads the student once into
//! a [`Pipeline`], then runs that pipeline — the same steps as `adamm segment` — on each
//! case: [`prepare_files`], the windows (here or on the pool, `main.rs`), [`report`].

use adamm_model::burn::tensor::Device;
use adamm_model::{
    input_warnings, BrainExtractor, CaseLabels, LoadedStudent, ModelError, Pipeline, PipelineError,
    PreparedCase, Scans, StripNet, StripOutcome, Stripping,
};

/// The pipeline of the student in a weights file's bytes, with the sliding window the file
/// records; files that are not an AdaMM student are refused with a message saying what
/// they are.
pub fn load_pipeline(bytes: &[u8], device: &Device) -> Result<Pipeline, ModelError> {
    LoadedStudent::from_bytes(bytes, device).and_then(|model| Pipeline::for_student(model, device))
}

/// The brain-extraction network in a weights file's bytes (kind `stripper`, its grid
/// recorded); a tumour model or another file is refused with what it is.
pub fn load_stripper(bytes: &[u8], device: &Device) -> Result<BrainExtractor, ModelError> {
    let (net, grid) = StripNet::from_bytes_any(bytes, device)?;
    Ok(BrainExtractor { net, grid })
}

/// A segmented case: the labels and what the pipeline says about them.
pub struct Segmented {
    /// The label map on the reference scan's grid, with the presence scores.
    pub labels: CaseLabels,
    /// What was done (alignment, skull check, brain extraction), one line each.
    pub notes: Vec<String>,
    /// Why the labels should not be trusted (`adamm_model::checks`), one line each.
    pub warnings: Vec<String>,
    /// Each scan's registration to the reference (row-major 4 × 4), where one was made.
    pub transforms: [Option<[f64; 16]>; 4],
    /// The brain mask on the reference grid (1 = brain), when the brain was extracted.
    pub brain: Option<Vec<u8>>,
    /// RANO and per-region statistics of the labels, as `adamm segment` prints them.
    pub measurements: adamm_measure::Measurements,
    /// What the surfaces are made from, once the labels are posted ([`Surfaces::meshes`]).
    pub surfaces: Surfaces,
}

/// A segmented case's labels and brain on the reference grid: its surfaces for the 3-D view.
pub struct Surfaces {
    labels: Vec<u8>,
    brain: Vec<bool>,
    dims: [usize; 3],
    world_from_voxel: adamm_volume::Affine,
}

impl Surfaces {
    /// The brain's and the tumour regions' surfaces, as `adamm segment --mesh` writes them.
    pub fn meshes(&self) -> Result<Vec<(String, adamm_measure::Mesh)>, PipelineError> {
        Ok(adamm_measure::case_meshes(
            &self.labels,
            self.dims,
            &self.world_from_voxel,
            Some(&self.brain),
        )?)
    }
}

/// A case read and prepared for the network, with the times each step took (ms).
pub struct Prepared {
    /// The scans, aligned.
    pub scans: Scans,
    /// The case ready for the network.
    pub case: PreparedCase,
    /// Reading and registering the scans, ms.
    pub read_ms: f64,
    /// Brain extraction and normalisation, ms.
    pub prepare_ms: f64,
}

/// Reads a case given as the NIfTI bytes of T1, T1Gd, T2, FLAIR (any subset, on any grids)
/// and prepares it, extracting the brain first as `stripping` says when `extractor` is
/// given.
pub fn prepare_files(
    pipeline: &Pipeline,
    extractor: Option<&BrainExtractor>,
    stripping: Stripping,
    files: [Option<&[u8]>; 4],
) -> Result<Prepared, PipelineError> {
    let started = js_sys::Date::now();
    let scans = Scans::read_bytes(files)?;
    let read = js_sys::Date::now();
    let case = pipeline.prepare_with(&scans, extractor, stripping)?;
    Ok(Prepared {
        scans,
        case,
        read_ms: read - started,
        prepare_ms: js_sys::Date::now() - read,
    })
}

/// What is reported about a segmented case: the notes (what was done, how long each step
/// took, `extra` lines such as the memory used), the warnings, the registrations, the brain
/// mask and the measurements.
pub fn report(
    prepared: &Prepared,
    labels: CaseLabels,
    network_ms: f64,
    extra: Vec<String>,
) -> Result<Segmented, PipelineError> {
    let Prepared {
        scans,
        case,
        read_ms,
        prepare_ms,
    } = prepared;
    let mut notes = scans.describe();
    notes.push(format!(
        "brain: {} ({:.0} mL segmented)",
        case.strip.describe(),
        case.brain_ml()
    ));
    notes.push(format!(
        "timings: reading and registering the scans {:.1} s, brain extraction and \
         normalisation {:.1} s, the network {:.1} s",
        read_ms / 1000.0,
        prepare_ms / 1000.0,
        network_ms / 1000.0
    ));
    notes.extend(extra);
    let warnings = input_warnings(scans, case, &labels)
        .iter()
        .map(ToString::to_string)
        .collect();
    let transforms = scans
        .transforms()
        .map(|t| t.map(|a| std::array::from_fn(|i| a.0[i / 4][i % 4])));
    let brain_on_reference = case.brain_on_reference()?;
    let brain_mask: Vec<bool> = brain_on_reference.iter().map(|&b| b > 0).collect();
    let measurements = scans.measure(&labels, &brain_mask)?;
    let brain = match case.strip {
        StripOutcome::Extracted => Some(brain_on_reference),
        _ => None,
    };
    let surfaces = Surfaces {
        labels: labels.labels.clone(),
        brain: brain_mask,
        dims: scans.dims(),
        world_from_voxel: scans
            .header()
            .world_from_voxel()
            .map_err(PipelineError::Prepare)?,
    };
    Ok(Segmented {
        labels,
        notes,
        warnings,
        transforms,
        brain,
        measurements,
        surfaces,
    })
}

/// This worker's memory: its wasm heap's size, which only grows (so: its peak so far), bytes.
pub fn memory_bytes() -> f64 {
    use wasm_bindgen::JsCast;
    wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .ok()
        .and_then(|m| m.buffer().dyn_into::<js_sys::ArrayBuffer>().ok())
        .map_or(0.0, |b| f64::from(b.byte_length()))
}
