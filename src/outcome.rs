//! A finished segmentation as the page reports it: region volumes in mL, the metrics against
//! a ground truth, and the label file to download — all on the grid the job was started on
//! (its [`Snapshot`]), whatever the user did to the case meanwhile.

use adamm_volume::brats::{check_same_grid, Availability, LabelConvention, LabelVolumes, Region};
use adamm_volume::metrics::{region_metrics, MaskMetrics, MetricsError};
use adamm_volume::nifti_io::write_bytes;
use adamm_volume::{Affine, Header, VolumeError};

use crate::case::Snapshot;

/// What the model computed for one job, as the worker sent it back.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Internal labels in the files' voxel order.
    pub labels: Vec<u8>,
    /// The presence head's probability that NETC, SNFH, ET are in the case.
    pub presence: Vec<f32>,
    /// Seconds the worker took.
    pub seconds: f64,
    /// Where it ran (`WebGPU`, `CPU (wasm)`).
    pub backend: String,
    /// What the pipeline did (alignment, skull check, brain extraction), one line each.
    pub notes: Vec<String>,
    /// Why the labels should not be trusted, one line each (none when nothing is amiss).
    pub warnings: Vec<String>,
    /// Each scan's registration to the reference: reference world → scan world.
    pub transforms: [Option<Affine>; 4],
    /// The brain mask on the labels' grid (1 = brain), when the brain was extracted.
    pub brain: Option<Vec<u8>>,
    /// RANO and per-region statistics of the labels, when the worker measured them.
    pub measurements: Option<adamm_measure::Measurements>,
    /// The surfaces of the brain and the tumour regions, named, world RAS mm.
    pub meshes: Vec<(String, adamm_measure::Mesh)>,
}

/// Why a prediction cannot be reported or saved.
#[derive(Debug, thiserror::Error)]
pub enum OutcomeError {
    /// The label map does not fit the job's grid.
    #[error("the worker returned {got} labels for a grid of {expected} voxels")]
    LabelCount {
        /// Labels received.
        got: usize,
        /// Voxels of the grid.
        expected: usize,
    },
    /// The grid's geometry is unusable (it was checked when the file was read).
    #[error("the scans' geometry is unusable: {0}")]
    Geometry(VolumeError),
    /// The scores against the ground truth could not be computed.
    #[error("the scores could not be computed: {0}")]
    Metrics(MetricsError),
    /// The label file could not be written.
    #[error("the file could not be written: {0}")]
    Write(VolumeError),
}

/// One segmentation the page holds: the model's prediction for a job and what is reported
/// about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The worker job (distinguishes successive results of one case).
    pub job: u32,
    /// The modalities it used.
    pub availability: Availability,
    /// What the model computed.
    pub prediction: Prediction,
    /// The header of the grid the labels are on (the job's [`Snapshot::grid`]).
    pub grid: Header,
    /// The file name of that grid's scan (names the download).
    pub grid_name: String,
    /// Volumes in mL.
    pub volumes: LabelVolumes,
    /// Dice, HD95 (mm), … per region against the ground truth, when there was one.
    pub metrics: Option<[(Region, MaskMetrics); 3]>,
}

impl Outcome {
    /// Builds the report of job `job`'s prediction on the grid of the case as the job
    /// found it, scored against that case's ground truth if it had one.
    pub fn new(
        job: u32,
        snapshot: Snapshot,
        prediction: Prediction,
    ) -> Result<Outcome, OutcomeError> {
        let header = &snapshot.grid;
        if prediction.labels.len() != header.voxel_count() {
            return Err(OutcomeError::LabelCount {
                got: prediction.labels.len(),
                expected: header.voxel_count(),
            });
        }
        let spacing = header
            .world_from_voxel()
            .map_err(OutcomeError::Geometry)?
            .column_norms();
        let metrics = match &snapshot.truth {
            Some(t) => Some(
                region_metrics(&prediction.labels, t, header.dims, spacing)
                    .map_err(OutcomeError::Metrics)?,
            ),
            None => None,
        };
        Ok(Outcome {
            job,
            availability: snapshot.availability,
            volumes: LabelVolumes::of(&prediction.labels, spacing),
            prediction,
            grid: snapshot.grid,
            grid_name: snapshot.grid_name,
            metrics,
        })
    }

    /// The label map as a `.nii.gz` file in the grid and header of the input it was
    /// computed on.
    pub fn nifti(&self, convention: LabelConvention) -> Result<Vec<u8>, OutcomeError> {
        let values: Vec<u8> = self
            .prediction
            .labels
            .iter()
            .map(|&l| convention.file_value(l))
            .collect();
        write_bytes(&self.grid, &values, true).map_err(OutcomeError::Write)
    }

    /// The download's file name ([`download_name`]).
    pub fn file_name(&self) -> String {
        download_name(&self.grid_name, self.availability)
    }

    /// The extracted brain's mask (uint8, 1 = brain) as a `.nii.gz` file in the grid and
    /// header of the input, when the brain was extracted.
    pub fn brain_nifti(&self) -> Option<Result<Vec<u8>, OutcomeError>> {
        let brain = self.prediction.brain.as_deref()?;
        if brain.len() != self.grid.voxel_count() {
            return Some(Err(OutcomeError::LabelCount {
                got: brain.len(),
                expected: self.grid.voxel_count(),
            }));
        }
        Some(write_bytes(&self.grid, brain, true).map_err(OutcomeError::Write))
    }

    /// The brain mask download's file name: the case's name and `brain`.
    pub fn brain_file_name(&self) -> String {
        format!("{}-brain.nii.gz", case_stem(&self.grid_name))
    }

    /// Whether the labels lie on the grid of `header` (so they can be drawn over its scan).
    pub fn is_on_grid_of(&self, header: &Header) -> bool {
        check_same_grid(("result", &self.grid), ("scan", header)).is_ok()
    }
}

/// `BraTS-GLI-00001-000-t1c.nii.gz` → `BraTS-GLI-00001-000-seg-T1Gd+FLAIR.nii.gz`: the case's
/// name, `seg`, and the modalities used.
pub fn download_name(input: &str, availability: Availability) -> String {
    format!("{}-seg-{}.nii.gz", case_stem(input), availability.name())
}

/// The case's name in a scan's file name: its BraTS case id, or the name without extension.
fn case_stem(input: &str) -> &str {
    adamm_volume::brats::classify_file_name(input)
        .map(|(id, ..)| id)
        .or_else(|| adamm_volume::brats::nifti_stem(input))
        .unwrap_or(input)
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;
    use adamm_volume::brats::label;
    use adamm_volume::nifti_io::Datatype;
    use adamm_volume::read_bytes;

    fn prediction(labels: Vec<u8>) -> Prediction {
        Prediction {
            labels,
            presence: vec![0.9, 0.8, 0.7],
            seconds: 1.5,
            backend: "CPU (wasm)".into(),
            notes: Vec::new(),
            warnings: Vec::new(),
            transforms: [None; 4],
            brain: None,
            measurements: None,
            meshes: Vec::new(),
        }
    }

    #[test]
    fn volumes_scores_and_the_download_keep_the_input_grid() {
        let dims = [4, 3, 2];
        let mut affine = Affine::from_spacing([2.0, 1.0, 0.5]);
        affine.0[0][0] = -2.0; // LAS
        affine.0[1][3] = 7.5;
        let header = Header::from_affine(dims, Datatype::I16, &affine);
        let mut labels = vec![0u8; 24];
        labels[0] = label::ET;
        labels[1] = label::NETC;
        labels[2] = label::SNFH;
        labels[3] = label::SNFH;
        let snapshot = |truth: Option<Vec<u8>>| Snapshot {
            availability: Availability::FULL,
            grid: header.clone(),
            grid_name: "BraTS-GLI-00001-000-t1n.nii.gz".into(),
            truth: truth.map(Rc::new),
        };
        let outcome = Outcome::new(
            1,
            snapshot(Some(labels.clone())),
            prediction(labels.clone()),
        )
        .unwrap();
        // One voxel is 2 × 1 × 0.5 mm = 1 µL.
        assert_eq!(outcome.volumes.et, 0.001);
        assert_eq!(outcome.volumes.snfh, 0.002);
        assert!((outcome.volumes.wt() - 0.004).abs() < 1e-12);
        assert!((outcome.volumes.tc() - 0.002).abs() < 1e-12);
        let metrics = outcome.metrics.unwrap();
        assert!(metrics.iter().all(|(_, m)| m.dice == 1.0 && m.hd95 == 0.0));
        assert_eq!(
            outcome.file_name(),
            "BraTS-GLI-00001-000-seg-T1+T1Gd+T2+FLAIR.nii.gz"
        );
        assert!(outcome.is_on_grid_of(&header));
        let other = Header::from_affine([4, 3, 3], Datatype::I16, &affine);
        assert!(!outcome.is_on_grid_of(&other));

        let file = outcome.nifti(LabelConvention::Brats2021).unwrap();
        let back = read_bytes(&file).unwrap();
        assert_eq!(back.dims(), dims);
        assert!(back.world_from_voxel().max_abs_diff(&affine) < 1e-6);
        assert_eq!(&back.data[..5], &[4.0, 1.0, 2.0, 2.0, 0.0]);

        let wrong = Outcome::new(2, snapshot(None), prediction(vec![0; 5])).unwrap_err();
        assert!(
            matches!(
                wrong,
                OutcomeError::LabelCount {
                    got: 5,
                    expected: 24
                }
            ),
            "{wrong:?}"
        );
        assert!(wrong.to_string().contains("5 labels"), "{wrong}");
        assert!(outcome.brain_nifti().is_none(), "no brain was extracted");
    }

    #[test]
    fn the_brain_mask_downloads_on_the_input_grid() {
        let dims = [3, 2, 2];
        let mut affine = Affine::from_spacing([0.8, 0.8, 6.5]);
        affine.0[2][3] = -40.0;
        let header = Header::from_affine(dims, Datatype::I16, &affine);
        let snapshot = Snapshot {
            availability: Availability::parse("0100").unwrap(),
            grid: header.clone(),
            grid_name: "head_t1c.nii.gz".into(),
            truth: None,
        };
        let brain = vec![0, 1, 1, 0, 1, 1, 0, 0, 1, 0, 0, 0];
        let mut p = prediction(vec![0; 12]);
        p.brain = Some(brain.clone());
        let outcome = Outcome::new(3, snapshot.clone(), p.clone()).unwrap();
        let back = read_bytes(&outcome.brain_nifti().unwrap().unwrap()).unwrap();
        assert_eq!(back.dims(), dims);
        assert!(back.world_from_voxel().max_abs_diff(&affine) < 1e-6);
        let values: Vec<u8> = back.data.iter().map(|&v| v as u8).collect();
        assert_eq!(values, brain);
        assert_eq!(outcome.brain_file_name(), "head_t1c-brain.nii.gz");

        p.brain = Some(vec![1; 5]);
        let short = Outcome::new(4, snapshot, p).unwrap();
        assert!(matches!(
            short.brain_nifti(),
            Some(Err(OutcomeError::LabelCount {
                got: 5,
                expected: 12
            }))
        ));
    }

    #[test]
    fn download_names_say_what_was_used() {
        let a = Availability::parse("0101").unwrap();
        assert_eq!(
            download_name("BraTS-GLI-00001-000-t1c.nii.gz", a),
            "BraTS-GLI-00001-000-seg-T1Gd+FLAIR.nii.gz"
        );
        assert_eq!(
            download_name("BraTS2021_00042_flair.nii.gz", a),
            "BraTS2021_00042-seg-T1Gd+FLAIR.nii.gz"
        );
        assert_eq!(
            download_name("patient7.nii", a),
            "patient7-seg-T1Gd+FLAIR.nii.gz"
        );
    }
}
