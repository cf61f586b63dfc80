//! The one segmentation pipeline: scans checked and named, the sliding window taken from the
//! model file (and the rule for files without one), the combination checked, and the same
//! labels from the synchronous and the asynchronous driver.

mod common;

use std::path::Path;

use adamm_model::burn::tensor::Device;
use adamm_model::{
    AdammConfig, BrainExtractor, InferenceSettings, LoadedStudent, ModelError, Pipeline,
    PipelineError, Precision, Scans, SlidingWindowConfig, StripGrid, StripNetConfig, StripOutcome,
    Stripping, WeightsInfo, LEGACY_LIGHT_WINDOW, LEGACY_NORMALIZATION,
};
use adamm_volume::align::ScanAlignment;
use adamm_volume::brats::{Availability, Modality};
use adamm_volume::nifti_io::{write_bytes, Datatype, Header};
use adamm_volume::preprocess::Normalization;
use adamm_volume::{Affine, Volume};
use common::{block_on, noise, tiny};

/// A scan of `dims`: noise around 2 inside a box, 0 outside (a "brain" to crop to).
fn scan(dims: [usize; 3], affine: &Affine, seed: u64) -> Volume {
    let n = noise(dims.iter().product(), seed);
    let mut data = Vec::with_capacity(n.len());
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            for i in 0..dims[0] {
                let inside = [i, j, k]
                    .iter()
                    .zip(dims)
                    .all(|(&v, d)| v >= 2 && v + 2 < d);
                data.push(if inside { 2.0 + n[data.len()] } else { 0.0 });
            }
        }
    }
    Volume::new(data, Header::from_affine(dims, Datatype::F32, affine))
        .expect("a volume of its own dims")
}

fn named(name: &str, v: Volume) -> Option<(String, Volume)> {
    Some((name.into(), v))
}

#[test]
fn the_window_comes_from_the_model_file_and_old_files_follow_a_rule() {
    let device = Device::flex();
    let student = tiny().init_student(&device).unwrap();

    // Recorded: the file says how to run it.
    for (normalization, min_enhancing_mm3) in Normalization::ALL.into_iter().zip([0, 500, 7]) {
        let settings = InferenceSettings {
            window: [32, 48, 16],
            normalization,
            min_enhancing_mm3,
        };
        let bytes = student
            .to_bytes_for_inference(Precision::F16, settings)
            .unwrap();
        let info = WeightsInfo::from_bytes(&bytes).unwrap();
        assert_eq!(info.recorded_window, Some([32, 48, 16]));
        assert_eq!(info.recorded_normalization, Some(normalization));
        assert_eq!(info.recorded_min_enhancing_mm3, Some(min_enhancing_mm3));
        let loaded = LoadedStudent::from_bytes(&bytes, &device).unwrap();
        assert_eq!(loaded.sliding_window().unwrap().window, [32, 48, 16]);
        let pipeline = Pipeline::for_student(loaded, &device).unwrap();
        assert_eq!(pipeline.normalization(), normalization);
        assert_eq!(pipeline.min_enhancing_mm3(), min_enhancing_mm3);
    }

    // Not recorded (files written before the fields): z-score, the only normalisation then,
    // and 128³ for a network other than light…
    let old = student.to_bytes(Precision::F32).unwrap();
    let info = WeightsInfo::from_bytes(&old).unwrap();
    assert_eq!(info.recorded_window, None);
    assert_eq!(info.recorded_normalization, None);
    assert_eq!(info.recorded_min_enhancing_mm3, None);
    assert_eq!(info.min_enhancing_mm3(), 0);
    assert_eq!(info.normalization(), Normalization::ZScore);
    assert_eq!(LEGACY_NORMALIZATION, Normalization::ZScore);
    assert_eq!(info.window().unwrap(), SlidingWindowConfig::new().window);
    assert_eq!(info.window().unwrap(), [128, 128, 128]);

    // …and the 64³ training patch of the light preset, the only network exported then.
    let light = AdammConfig::light().init_student(&device).unwrap();
    let old_light = WeightsInfo::from_bytes(&light.to_bytes(Precision::F16).unwrap()).unwrap();
    assert_eq!(old_light.window().unwrap(), LEGACY_LIGHT_WINDOW);
    assert_eq!(LEGACY_LIGHT_WINDOW, [64, 64, 64]);
}

#[test]
fn the_shipped_model_runs_with_its_training_patch() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../public/models/adamm-light.bpk");
    let loaded = LoadedStudent::load(&path, &Device::flex()).unwrap();
    assert_eq!(loaded.student.config, AdammConfig::light());
    assert_eq!(loaded.sliding_window().unwrap().window, [64, 64, 64]);
}

#[test]
fn files_that_are_not_a_student_are_refused_with_what_they_are() {
    let device = Device::flex();
    let teacher = tiny().init_teacher(&device).unwrap();
    let err =
        LoadedStudent::from_bytes(&teacher.to_bytes(Precision::F32).unwrap(), &device).unwrap_err();
    assert!(
        matches!(err, ModelError::NotAStudent(ref k) if k == "teacher"),
        "{err}"
    );
    assert!(err.to_string().contains("not the student"), "{err}");

    let nifti = write_bytes(
        &Header::from_affine([4, 4, 4], Datatype::U8, &Affine::IDENTITY),
        &[0.0; 64],
        true,
    )
    .unwrap();
    let err = LoadedStudent::from_bytes(&nifti, &device).unwrap_err();
    assert!(matches!(err, ModelError::NotAModelFile(_)), "{err}");
    assert!(err.to_string().contains("not an AdaMM model file"), "{err}");
}

#[test]
fn scans_are_named_in_their_problems() {
    assert!(matches!(
        Scans::new(Default::default()),
        Err(PipelineError::NoScan)
    ));

    let a = scan([30, 30, 24], &Affine::IDENTITY, 1);
    // A scan whose world box is half a metre away: not of this patient or visit.
    let far = Affine([
        [1.0, 0.0, 0.0, 500.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ]);
    let b = scan([30, 30, 25], &far, 2);
    let err = Scans::new([
        named("t1.nii", a.clone()),
        None,
        named("flair.nii", b),
        None,
    ])
    .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, PipelineError::Align(_)), "{text}");
    assert!(
        text.contains("t1.nii")
            && text.contains("flair.nii")
            && text.contains("different patients"),
        "{text}"
    );

    let good = write_bytes(&a.header, &a.data, true).unwrap();
    let err = Scans::read_bytes([Some(&good), None, Some(&good[..30]), None]).unwrap_err();
    assert!(
        matches!(err, PipelineError::Read { ref file, .. } if file == "T2"),
        "{err}"
    );

    let scans = Scans::read_bytes([None, Some(&good), None, Some(&good)]).unwrap();
    assert_eq!(scans.availability().code(), "0101");
    assert_eq!(scans.name(Modality::T1Gd), Some("T1Gd"));
    assert_eq!(scans.name(Modality::T1), None);
    assert_eq!(scans.header().dims, a.header.dims);
}

#[test]
fn both_drivers_give_the_same_labels_on_the_scans_grid() {
    let device = Device::flex();
    let student = tiny().with_grid_factor(2).init_student(&device).unwrap();
    // An oblique-free but flipped (LPS-like) grid, so the way back to native is exercised.
    let affine = Affine([
        [-1.0, 0.0, 0.0, 20.0],
        [0.0, -1.0, 0.0, 30.0],
        [0.0, 0.0, 1.0, -5.0],
        [0.0, 0.0, 0.0, 1.0],
    ]);
    let dims = [38, 34, 30];
    let scans = Scans::new([
        named("t1", scan(dims, &affine, 3)),
        None,
        named("t2", scan(dims, &affine, 4)),
        named("flair", scan(dims, &affine, 5)),
    ])
    .unwrap();
    let windows = SlidingWindowConfig::new().with_window([16, 16, 16]);
    let pipeline = Pipeline::new(student, windows, Normalization::Robust, &device).unwrap();
    let case = pipeline.prepare(&scans).unwrap();

    let combination = Availability::parse("0011").unwrap();
    let job = pipeline.job(&case, combination).unwrap();
    assert!(job.total() > 1, "several windows");
    let mut seen = Vec::new();
    let sync = job.run(|p| seen.push(p.done)).unwrap();
    assert_eq!(seen, (1..=seen.len()).collect::<Vec<_>>());
    let asynchronous =
        block_on(pipeline.job(&case, combination).unwrap().run_async(|_| {})).unwrap();
    assert_eq!(sync, asynchronous);
    assert_eq!(sync.labels.len(), dims.iter().product::<usize>());
    assert_eq!(sync.presence.len(), 3);

    // A combination needing a scan the case lacks is refused, naming it.
    let err = pipeline
        .job(&case, Availability::parse("0111").unwrap())
        .err()
        .expect("T1Gd is missing");
    assert!(
        matches!(err, PipelineError::MissingModality { ref missing, .. } if missing == "T1Gd"),
        "{err}"
    );
}

#[test]
fn scans_on_different_grids_are_segmented_on_the_finest_and_written_on_each() {
    let device = Device::flex();
    let student = tiny().with_grid_factor(2).init_student(&device).unwrap();
    let windows = SlidingWindowConfig::new().with_window([16, 16, 16]);
    let pipeline = Pipeline::new(student, windows, Normalization::Robust, &device).unwrap();

    // T1 at 1 mm; FLAIR over the same box at 2 mm (its first voxel's edge on the T1's).
    let t1 = scan([30, 30, 24], &Affine::IDENTITY, 1);
    let mut coarse = Affine::from_spacing([2.0; 3]);
    for a in 0..3 {
        coarse.0[a][3] = 0.5;
    }
    let flair = scan([15, 15, 12], &coarse, 2);
    let scans = Scans::new([named("t1", t1), None, None, named("flair", flair)]).unwrap();
    assert_eq!(scans.reference(), Modality::T1);
    assert_eq!(scans.dims(), [30, 30, 24]);
    let alignment = scans.alignment();
    assert!(alignment.works_on_reference_grid());
    assert!(matches!(
        alignment.alignments[3],
        Some(ScanAlignment::Registered(_))
    ));
    assert_eq!(scans.volumes()[3].unwrap().dims(), [30, 30, 24]);

    let case = pipeline.prepare(&scans).unwrap();
    assert_eq!(case.strip, StripOutcome::AlreadyStripped);
    let labels = pipeline
        .job(&case, case.availability())
        .unwrap()
        .run(|_| {})
        .unwrap();
    assert_eq!(labels.labels.len(), 30 * 30 * 24);
    assert_eq!(labels.on_working_grid, None);
    let on_flair = scans
        .labels_on_scan(&labels, Modality::Flair)
        .unwrap()
        .unwrap();
    assert_eq!(on_flair.len(), 15 * 15 * 12);
    assert_eq!(scans.labels_on_scan(&labels, Modality::T2).unwrap(), None);
}

#[test]
fn a_reference_not_1_mm_is_segmented_on_a_1_mm_grid_and_labels_come_back() {
    let device = Device::flex();
    let student = tiny().with_grid_factor(2).init_student(&device).unwrap();
    let windows = SlidingWindowConfig::new().with_window([16, 16, 16]);
    let pipeline = Pipeline::new(student, windows, Normalization::Robust, &device).unwrap();
    // 0.75 × 0.75 × 3 mm: 30 × 30 × 30 mm.
    let thick = scan([40, 40, 10], &Affine::from_spacing([0.75, 0.75, 3.0]), 3);
    let scans = Scans::new([None, named("t1c", thick), None, None]).unwrap();
    assert!(!scans.alignment().works_on_reference_grid());
    assert_eq!(scans.alignment().working.dims, [30, 30, 30]);
    let case = pipeline.prepare(&scans).unwrap();
    let labels = pipeline
        .job(&case, case.availability())
        .unwrap()
        .run(|_| {})
        .unwrap();
    assert_eq!(labels.labels.len(), 40 * 40 * 10);
    assert_eq!(labels.working().len(), 30 * 30 * 30);
    // Back on the reference grid by the nearest working voxel: every label found there is
    // one the working grid has.
    for l in &labels.labels {
        assert!(labels.working().contains(l));
    }
}

#[test]
fn brain_extraction_runs_when_asked_and_says_what_it_did() {
    let device = Device::flex();
    let student = tiny().with_grid_factor(2).init_student(&device).unwrap();
    let windows = SlidingWindowConfig::new().with_window([16, 16, 16]);
    let mut pipeline = Pipeline::new(student, windows, Normalization::Robust, &device).unwrap();
    let scans = Scans::new([
        named("t1", scan([30, 30, 24], &Affine::IDENTITY, 4)),
        None,
        None,
        None,
    ])
    .unwrap();
    // A box on zeros counts as skull-stripped: nothing to do unless forced.
    assert!(scans.skull_stripped());
    assert_eq!(
        pipeline.prepare(&scans).unwrap().strip,
        StripOutcome::AlreadyStripped
    );
    pipeline.set_stripping(Stripping::Always);
    assert_eq!(
        pipeline.prepare(&scans).unwrap().strip,
        StripOutcome::NoModel
    );
    pipeline.set_stripping(Stripping::Never);
    assert_eq!(
        pipeline.prepare(&scans).unwrap().strip,
        StripOutcome::AlreadyStripped
    );

    // An untrained extractor on a small grid: the mask it gives is the case's brain.
    let net = StripNetConfig::new().with_levels(2).init(&device).unwrap();
    let grid = StripGrid {
        dims: [16, 16, 16],
        voxel_mm: 2.0,
    };
    let mut pipeline = pipeline.with_brain_extraction(BrainExtractor { net, grid });
    assert!(pipeline.has_brain_extraction());
    pipeline.set_stripping(Stripping::Always);
    let case = pipeline.prepare(&scans).unwrap();
    assert_eq!(case.strip, StripOutcome::Extracted);
    let whole = 26.0 * 26.0 * 20.0 / 1000.0;
    assert!(case.brain_ml() >= 0.0 && case.brain_ml() <= 30.0 * 30.0 * 24.0 / 1000.0);
    assert!(
        (case.brain_ml() - whole).abs() > 1e-9,
        "the brain is the network's mask, not the non-zero box ({} mL)",
        case.brain_ml()
    );
}
