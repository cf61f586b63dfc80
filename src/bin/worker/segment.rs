//! What the worker does with a model file and a case's files: loads the student once into
//! a [`Pipeline`], then runs that pipeline — the same steps as `adamm segment` — on each
//! case, reading back asynchronously (WebGPU in a browser needs it).

use adamm_model::burn::tensor::Device;
use adamm_model::{
    CaseLabels, LoadedStudent, ModelError, Pipeline, PipelineError, Progress, Scans,
};

/// The pipeline of the student in a weights file's bytes, with the sliding window the file
/// records; files that are not an AdaMM student are refused with a message saying what
/// they are.
pub fn load_pipeline(bytes: &[u8], device: &Device) -> Result<Pipeline, ModelError> {
    LoadedStudent::from_bytes(bytes, device).and_then(|model| Pipeline::for_student(model, device))
}

/// Segments a case given as the NIfTI bytes of T1, T1Gd, T2, FLAIR (any subset): the label
/// map (internal labels) in the files' own voxel order, with the presence scores.
pub async fn segment_files(
    pipeline: &Pipeline,
    files: [Option<&[u8]>; 4],
    progress: impl FnMut(Progress),
) -> Result<CaseLabels, PipelineError> {
    let scans = Scans::read_bytes(files)?;
    let case = pipeline.prepare(&scans)?;
    pipeline
        .job(&case, case.availability())?
        .run_async(progress)
        .await
}
