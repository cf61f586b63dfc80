//! A finished segmentation as the page reports it: region volumes in mL, the metrics against
//! a ground truth, and the label file to download.

use adamm_volume::brats::{Availability, LabelConvention, LabelVolumes, Region};
use adamm_volume::metrics::{region_metrics, MaskMetrics};
use adamm_volume::nifti_io::write_bytes;
use adamm_volume::Header;

/// What the worker returned for one job.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// The worker job (distinguishes successive results of one case).
    pub job: u32,
    /// The modalities it used.
    pub availability: Availability,
    /// Internal labels in the files' voxel order.
    pub labels: Vec<u8>,
    /// The presence head's probability that NETC, SNFH, ET are in the case.
    pub presence: Vec<f32>,
    /// Seconds the worker took.
    pub seconds: f64,
    /// Where it ran (`WebGPU`, `CPU (wasm)`).
    pub backend: String,
}

/// One segmentation the page holds: the worker's result and what is reported about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The worker's result.
    pub run: Run,
    /// Volumes in mL.
    pub volumes: LabelVolumes,
    /// Dice, HD95 (mm), … per region against the ground truth, when there is one.
    pub metrics: Option<[(Region, MaskMetrics); 3]>,
}

impl Outcome {
    /// Builds the report of `run`'s labels on the grid of `header`, scored against `truth`
    /// (internal labels on the same grid) if given.
    pub fn new(run: Run, header: &Header, truth: Option<&[u8]>) -> Result<Outcome, String> {
        if run.labels.len() != header.voxel_count() {
            return Err(format!(
                "the worker returned {} labels for a grid of {} voxels",
                run.labels.len(),
                header.voxel_count()
            ));
        }
        let spacing = header
            .world_from_voxel()
            .map_err(|e| e.to_string())?
            .column_norms();
        let metrics = match truth {
            Some(t) => Some(
                region_metrics(&run.labels, t, header.dims, spacing).map_err(|e| e.to_string())?,
            ),
            None => None,
        };
        Ok(Outcome {
            volumes: LabelVolumes::of(&run.labels, spacing),
            run,
            metrics,
        })
    }

    /// The label map as a `.nii.gz` file in the grid and header of `reference` (the input).
    pub fn nifti(
        &self,
        reference: &Header,
        convention: LabelConvention,
    ) -> Result<Vec<u8>, String> {
        let values: Vec<u8> = self
            .run
            .labels
            .iter()
            .map(|&l| convention.file_value(l))
            .collect();
        write_bytes(reference, &values, true).map_err(|e| e.to_string())
    }
}

/// `BraTS-GLI-00001-000-t1c.nii.gz` → `BraTS-GLI-00001-000-seg-T1Gd+FLAIR.nii.gz`: the case's
/// name, `seg`, and the modalities used.
pub fn download_name(input: &str, availability: Availability) -> String {
    let stem = adamm_volume::brats::classify_file_name(input)
        .map(|(id, ..)| id)
        .or_else(|| adamm_volume::brats::nifti_stem(input))
        .unwrap_or(input);
    format!("{stem}-seg-{}.nii.gz", availability.name().replace(' ', ""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use adamm_volume::brats::label;
    use adamm_volume::nifti_io::Datatype;
    use adamm_volume::{read_bytes, Affine};

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
        let run = |labels: Vec<u8>| Run {
            job: 1,
            availability: Availability::FULL,
            labels,
            presence: vec![0.9, 0.8, 0.7],
            seconds: 1.5,
            backend: "CPU (wasm)".into(),
        };
        let outcome = Outcome::new(run(labels.clone()), &header, Some(&labels)).unwrap();
        // One voxel is 2 × 1 × 0.5 mm = 1 µL.
        assert_eq!(outcome.volumes.et, 0.001);
        assert_eq!(outcome.volumes.snfh, 0.002);
        assert!((outcome.volumes.wt() - 0.004).abs() < 1e-12);
        assert!((outcome.volumes.tc() - 0.002).abs() < 1e-12);
        let metrics = outcome.metrics.unwrap();
        assert!(metrics.iter().all(|(_, m)| m.dice == 1.0 && m.hd95 == 0.0));

        let file = outcome.nifti(&header, LabelConvention::Brats2021).unwrap();
        let back = read_bytes(&file).unwrap();
        assert_eq!(back.dims(), dims);
        assert!(back.world_from_voxel().max_abs_diff(&affine) < 1e-6);
        assert_eq!(&back.data[..5], &[4.0, 1.0, 2.0, 2.0, 0.0]);

        let wrong = Outcome::new(run(vec![0; 5]), &header, None);
        assert!(wrong.unwrap_err().contains("5 labels"));
    }

    #[test]
    fn download_names_say_what_was_used() {
        let a = Availability::parse("0101").unwrap();
        assert_eq!(
            download_name("BraTS-GLI-00001-000-t1c.nii.gz", a),
            format!(
                "BraTS-GLI-00001-000-seg-{}.nii.gz",
                a.name().replace(' ', "")
            )
        );
        assert!(download_name("patient7.nii", a).starts_with("patient7-seg-"));
    }
}
