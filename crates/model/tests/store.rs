//! Saving and loading weights.

mod common;

use adamm_model::burn::module::Module;
use adamm_model::burn::store::{BurnpackStore, ModuleSnapshot};
use adamm_model::burn::tensor::Device;
use adamm_model::{ModelError, Precision, Student, Teacher, WeightsInfo};
use adamm_volume::brats::Availability;
use common::{input, max_abs_diff, tiny, values};

const SIDE: usize = 16;

#[test]
fn save_then_load_gives_identical_outputs() {
    let device = Device::flex();
    let config = tiny();
    let student = config.init_student(&device).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("student.bpk");
    student.save(&path, Precision::F32).unwrap();
    let loaded = Student::load(&config, &path, &device).unwrap();
    let x = input([1, 4, SIDE, SIDE, SIDE], 21, &device);
    for code in ["1111", "1000", "0111"] {
        let a = Availability::parse(code).unwrap();
        let p0 = values(student.valid().forward(x.clone(), a).probabilities);
        let p1 = values(loaded.valid().forward(x.clone(), a).probabilities);
        assert_eq!(p0, p1, "{code}");
    }
    // The recorded configuration is enough to rebuild it.
    let any = Student::load_any(&path, &device).unwrap();
    assert_eq!(any.config, config);

    let teacher = config.init_teacher(&device).unwrap();
    let bytes = teacher.to_bytes(Precision::F32).unwrap();
    let back = Teacher::from_bytes(&config, &bytes, &device).unwrap();
    assert_eq!(
        values(teacher.valid().forward(x.clone()).probabilities),
        values(back.valid().forward(x).probabilities)
    );
}

#[test]
fn half_precision_export_is_smaller_and_close() {
    let device = Device::flex();
    let config = tiny();
    let student = config.init_student(&device).unwrap().valid();
    let full = student.to_bytes(Precision::F32).unwrap();
    let half = student.to_bytes(Precision::F16).unwrap();
    assert!(
        (half.len() as f64) < 0.6 * full.len() as f64,
        "f16 {} bytes vs f32 {}",
        half.len(),
        full.len()
    );
    assert_eq!(WeightsInfo::from_bytes(&half).unwrap().precision, "f16");
    let loaded = Student::from_bytes(&config, &half, &device)
        .unwrap()
        .valid();
    let x = input([1, 4, SIDE, SIDE, SIDE], 22, &device);
    let a = Availability::parse("1010").unwrap();
    let p0 = values(student.forward(x.clone(), a).probabilities);
    let p1 = values(loaded.forward(x, a).probabilities);
    let d = max_abs_diff(&p0, &p1);
    assert!(d < 2e-2, "f16 weights moved probabilities by {d}");
    assert!(d > 0.0, "f16 export did not round anything");
}

#[test]
fn a_file_for_another_network_is_refused() {
    let device = Device::flex();
    let config = tiny();
    let other = tiny().with_base_width(16);
    let bytes = other
        .init_student(&device)
        .unwrap()
        .to_bytes(Precision::F32)
        .unwrap();
    match Student::from_bytes(&config, &bytes, &device) {
        Err(ModelError::WeightsMismatch(m)) => {
            assert!(m.contains("base_width"), "{m}");
            assert!(m.contains("16") && m.contains('8'), "{m}");
        }
        other => panic!("expected WeightsMismatch, got {:?}", other.map(|_| ())),
    }

    // A teacher file is not a student.
    let teacher = config
        .init_teacher(&device)
        .unwrap()
        .to_bytes(Precision::F32)
        .unwrap();
    match Student::from_bytes(&config, &teacher, &device) {
        Err(ModelError::WeightsMismatch(m)) => assert!(m.contains("teacher"), "{m}"),
        other => panic!("expected WeightsMismatch, got {:?}", other.map(|_| ())),
    }

    // Right metadata, wrong tensors: a teacher's weights labelled as this student.
    let t = config.init_teacher(&device).unwrap();
    let mut store = BurnpackStore::from_bytes(None)
        .metadata("adamm.kind", "student")
        .metadata("adamm.config", config.to_string());
    t.save_into(&mut store).unwrap();
    let forged = store.get_bytes().unwrap().to_vec();
    match Student::from_bytes(&config, &forged, &device) {
        Err(ModelError::WeightsMismatch(m)) => {
            println!("{m}");
            assert!(m.contains("missing") && m.contains("bank.entries"), "{m}");
            assert!(m.len() < 400, "the message should stay short: {m}");
        }
        other => panic!("expected WeightsMismatch, got {:?}", other.map(|_| ())),
    }

    // Not a burnpack file at all.
    assert!(matches!(
        Student::from_bytes(&config, b"definitely not weights", &device),
        Err(ModelError::WeightsIo { .. })
    ));
    // A missing file names the path.
    match Student::load(&config, "/nonexistent/adamm.bpk", &device) {
        Err(ModelError::WeightsIo { path, .. }) => assert!(path.contains("nonexistent")),
        other => panic!("expected WeightsIo, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn loading_keeps_the_batch_norm_statistics() {
    // Train-mode forwards on an autodiff device update the running statistics of GARM and the
    // presence head; a reload must reproduce the inference outputs that depend on them.
    let ad = Device::flex().autodiff();
    let device = Device::flex();
    let config = tiny();
    let student = config.init_student(&ad).unwrap();
    let a = Availability::parse("0001").unwrap();
    let x = input([1, 4, SIDE, SIDE, SIDE], 40, &device);
    let before = values(student.valid().forward(x.clone(), a).probabilities);
    for seed in 0..3 {
        let _ = student.forward(input([1, 4, SIDE, SIDE, SIDE], 30 + seed, &ad), a);
    }
    let after = values(student.valid().forward(x.clone(), a).probabilities);
    assert!(
        max_abs_diff(&before, &after) > 0.0,
        "running statistics did not move"
    );
    let bytes = student.valid().to_bytes(Precision::F32).unwrap();
    let back = Student::from_bytes(&config, &bytes, &device)
        .unwrap()
        .valid();
    assert_eq!(after, values(back.forward(x, a).probabilities));
}
