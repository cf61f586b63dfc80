//! What the worker does with a model file and a case's files: the same steps as
//! `adamm segment` (read, check one grid, preprocess, sliding window on the network's grid,
//! labels back on the files' grid), with errors worded for the page.

use adamm_model::burn::tensor::Device;
use adamm_model::{CaseLabels, Progress, Segmenter, SlidingWindowConfig, Student, WeightsInfo};
use adamm_volume::brats::{check_one_grid, Modality};
use adamm_volume::preprocess::{preprocess, PreprocessOptions};
use adamm_volume::{read_bytes, Volume};

/// Loads a student from a weights file's bytes, refusing files that are not an AdaMM student
/// with a message that says what they are.
pub fn load_student(bytes: &[u8], device: &Device) -> Result<Student, String> {
    let info = WeightsInfo::from_bytes(bytes)
        .map_err(|e| format!("This is not an AdaMM model file: {e}"))?;
    if info.kind != "student" {
        return Err(format!(
            "This model file holds the {}, not the student: export the student with \
             `adamm export --run RUN --out FILE`.",
            info.kind
        ));
    }
    let config = info
        .network_config()
        .map_err(|e| format!("The model file's configuration is unreadable: {e}"))?;
    Student::from_bytes(&config, bytes, device)
        .map_err(|e| format!("The model file does not match its own configuration: {e}"))
}

/// Segments a case given as the NIfTI bytes of T1, T1Gd, T2, FLAIR (any subset): the label
/// map (internal labels) in the files' own voxel order, with the presence scores.
pub async fn segment_files(
    student: &Student,
    device: &Device,
    files: &[Option<Vec<u8>>; 4],
    window: usize,
    progress: impl FnMut(Progress),
) -> Result<CaseLabels, String> {
    let mut volumes: [Option<Volume>; 4] = Default::default();
    for (m, bytes) in Modality::ALL.iter().zip(files) {
        let Some(bytes) = bytes else { continue };
        volumes[m.index()] = Some(read_bytes(bytes).map_err(|e| format!("{}: {e}", m.name()))?);
    }
    if volumes.iter().all(Option::is_none) {
        return Err("no scan to segment".into());
    }
    check_one_grid(
        Modality::ALL
            .iter()
            .zip(&volumes)
            .filter_map(|(m, v)| Some((m.name(), &v.as_ref()?.header))),
    )
    .map_err(|e| e.to_string())?;
    let case = preprocess(
        volumes.each_ref().map(Option::as_ref),
        PreprocessOptions::default(),
    )
    .map_err(|e| e.to_string())?;
    let segmenter = Segmenter::new(
        student.clone(),
        SlidingWindowConfig::new().with_window([window; 3]),
        device,
    )
    .map_err(|e| e.to_string())?;
    segmenter
        .segment_labels_async(&case, case.availability, progress)
        .await
        .map_err(|e| format!("segmentation failed: {e}"))
}
