//! The input checks: constructed cases that are not what the model was made for each get
//! their warning, and a plausible one gets none.

mod common;

use adamm_model::burn::tensor::Device;
use adamm_model::{
    input_warnings, CaseLabels, InputWarning, Pipeline, PreparedCase, Scans, SlidingWindowConfig,
};
use adamm_volume::brats::label;
use adamm_volume::nifti_io::{Datatype, Header};
use adamm_volume::preprocess::Normalization;
use adamm_volume::{Affine, Volume};
use common::{noise, tiny};

fn pipeline() -> Pipeline {
    let device = Device::flex();
    let student = tiny()
        .with_grid_factor(2)
        .init_student(&device)
        .expect("a tiny student");
    let windows = SlidingWindowConfig::new().with_window([16, 16, 16]);
    Pipeline::new(student, windows, Normalization::Robust, &device).expect("a pipeline")
}

/// A scan of `dims` voxels of `spacing` mm: noise around 2 inside, 0 in a margin of `margin`
/// voxels (none: the "brain" fills the field of view).
fn scan(dims: [usize; 3], spacing: [f64; 3], margin: usize) -> Volume {
    let n = noise(dims.iter().product(), 7);
    let mut data = Vec::with_capacity(n.len());
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            for i in 0..dims[0] {
                let inside = [i, j, k]
                    .iter()
                    .zip(dims)
                    .all(|(&v, d)| v >= margin && v + margin < d);
                data.push(if inside { 2.0 + n[data.len()] } else { 0.0 });
            }
        }
    }
    let header = Header::from_affine(dims, Datatype::F32, &Affine::from_spacing(spacing));
    Volume::new(data, header).expect("a volume of its own dims")
}

fn run(pipeline: &Pipeline, volume: Volume) -> (Scans, PreparedCase, CaseLabels) {
    let scans = Scans::new([None, Some(("t1c.nii".into(), volume)), None, None]).expect("scans");
    let case = pipeline.prepare(&scans).expect("prepared");
    let labels = pipeline
        .job(&case, case.availability())
        .expect("a job")
        .run(|_| {})
        .expect("labels");
    (scans, case, labels)
}

fn has(warnings: &[InputWarning], f: impl Fn(&InputWarning) -> bool) -> bool {
    warnings.iter().any(f)
}

#[test]
fn a_small_thin_scan_is_flagged_as_a_slab_with_too_little_brain() {
    let p = pipeline();
    // 64 × 64 × 4 voxels of 1 × 1 × 5 mm: 20 mm thick.
    let (scans, case, labels) = run(&p, scan([64, 64, 4], [1.0, 1.0, 5.0], 0));
    let w = input_warnings(&scans, &case, &labels);
    assert!(
        has(
            &w,
            |w| matches!(w, InputWarning::Flat { scan, dims, .. } if scan == "t1c.nii" && *dims == [64, 64, 4])
        ),
        "{w:?}"
    );
    assert!(
        has(
            &w,
            |w| matches!(w, InputWarning::BrainVolume { ml } if *ml < 100.0)
        ),
        "{w:?}"
    );
    let text: Vec<String> = w.iter().map(ToString::to_string).collect();
    assert!(
        text.iter().any(|t| t.contains("slice or a thin slab")),
        "{text:?}"
    );
}

#[test]
fn a_brain_filling_the_field_of_view_is_flagged_as_cut() {
    let p = pipeline();
    // 64 mm cube, non-zero up to the border on every face: 6 faces of 4096 mm².
    let (scans, case, labels) = run(&p, scan([64, 64, 64], [1.0; 3], 0));
    let w = input_warnings(&scans, &case, &labels);
    assert!(
        has(
            &w,
            |w| matches!(w, InputWarning::BrainCut { border_mm2 } if (*border_mm2 - 6.0 * 4096.0).abs() < 1.0)
        ),
        "{w:?}"
    );
    // With a margin of zeros the brain does not touch the border.
    let (scans, case, labels) = run(&p, scan([64, 64, 64], [1.0; 3], 3));
    let w = input_warnings(&scans, &case, &labels);
    assert!(
        !has(&w, |w| matches!(w, InputWarning::BrainCut { .. })),
        "{w:?}"
    );
}

#[test]
fn labels_that_fill_the_brain_or_contradict_the_presence_head_are_flagged() {
    let p = pipeline();
    let (scans, case, labels) = run(&p, scan([64, 64, 64], [1.0; 3], 3));
    // Every voxel ET, the presence head sure there is no ET and sure there is edema.
    let forged = CaseLabels {
        labels: vec![label::ET; labels.labels.len()],
        on_working_grid: None,
        presence: vec![0.5, 0.95, 0.05],
    };
    let w = input_warnings(&scans, &case, &forged);
    assert!(
        has(&w, |w| matches!(w, InputWarning::TumourTooLarge { .. })),
        "{w:?}"
    );
    assert!(
        has(
            &w,
            |w| matches!(w, InputWarning::PresenceDisagrees { region: "ET", labelled_ml, .. } if *labelled_ml > 100.0)
        ),
        "{w:?}"
    );
    assert!(
        has(
            &w,
            |w| matches!(w, InputWarning::PresenceDisagrees { region, labelled_ml, .. } if region.starts_with("SNFH") && *labelled_ml == 0.0)
        ),
        "{w:?}"
    );
    // NETC at 0.5 is neither sure nor contradicted.
    assert!(!has(&w, |w| matches!(
        w,
        InputWarning::PresenceDisagrees { region: "NETC", .. }
    )));
    // Nothing labelled and nothing expected: no presence or size warning.
    let quiet = CaseLabels {
        labels: vec![0; labels.labels.len()],
        on_working_grid: None,
        presence: vec![0.01, 0.02, 0.03],
    };
    let w = input_warnings(&scans, &case, &quiet);
    assert!(
        !has(&w, |w| matches!(
            w,
            InputWarning::TumourTooLarge { .. } | InputWarning::PresenceDisagrees { .. }
        )),
        "{w:?}"
    );
}
