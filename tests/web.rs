//! The app's state logic inside a real browser (wasm32, headless Chromium through
//! `wasm-bindgen-test-runner`; `cargo xtask test` runs it): files assigned by name, the messages
//! for bad files, and the worker messages' JavaScript form.
#![cfg(target_arch = "wasm32")]

use adamm_app::case::{Case, Contents, Role};
use adamm_app::protocol::{BackendChoice, Reply, Request};
use adamm_volume::brats::Modality;
use adamm_volume::nifti_io::{write_bytes, Datatype};
use adamm_volume::{Affine, Header};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// A gzipped NIfTI file of `dims` with constant `value`, as a user would drop it.
fn nifti(dims: [usize; 3], value: f32) -> Vec<u8> {
    let header = Header::from_affine(dims, Datatype::F32, &Affine::IDENTITY);
    let n = dims.iter().product();
    write_bytes(&header, &vec![value; n], true).unwrap()
}

#[wasm_bindgen_test]
fn files_are_assigned_by_name_and_problems_named() {
    let mut case = Case::default();
    case.add(
        0,
        "BraTS-GLI-00001-000-t2f.nii.gz".into(),
        Contents::read(nifti([6, 5, 4], 1.0)),
    );
    case.add(
        1,
        "BraTS-GLI-00001-000-seg.nii.gz".into(),
        Contents::read(nifti([6, 5, 4], 3.0)),
    );
    case.add(
        2,
        "BraTS2021_00001_t1ce.nii.gz".into(),
        Contents::read(nifti([6, 5, 5], 1.0)),
    );
    let mut truncated = nifti([6, 5, 4], 1.0);
    truncated.truncate(40);
    case.add(
        3,
        "BraTS-GLI-00001-000-t1n.nii.gz".into(),
        Contents::read(truncated),
    );

    let role = |id: u64| {
        case.files()
            .iter()
            .find(|f| f.id == id)
            .and_then(|f| f.role)
    };
    assert_eq!(role(0), Some(Role::Image(Modality::Flair)));
    assert_eq!(role(1), Some(Role::Truth));
    assert_eq!(role(2), Some(Role::Image(Modality::T1Gd)));
    assert_eq!(role(3), Some(Role::Image(Modality::T1)));

    assert_eq!(case.problem(0), None);
    assert_eq!(case.problem(1), None);
    let grid = case.problem(2).expect("a grid problem");
    assert!(grid.contains("dims"), "{grid}");
    assert!(
        case.problem(3).is_some(),
        "a truncated file must have a message"
    );
    // The T1 file is unreadable and T1Gd is on another grid: only FLAIR can be used.
    assert_eq!(case.availability().code(), "0001");
    assert_eq!(case.truth().map(|t| t[0]), Some(3));
}

#[wasm_bindgen_test]
fn worker_messages_survive_their_javascript_form() {
    let requests = [
        Request::Model {
            bytes: vec![1, 2, 3],
            backend: BackendChoice::Cpu,
        },
        Request::Segment {
            job: 7,
            files: [Some(vec![9; 5]), None, None, Some(vec![])],
            window: 64,
        },
    ];
    for r in requests {
        assert_eq!(Request::from_js(&r.to_js()), Ok(r));
    }
    let replies = [
        Reply::Started,
        Reply::Ready {
            backend: "WebGPU".into(),
            note: None,
        },
        Reply::Ready {
            backend: "CPU (wasm)".into(),
            note: Some("no adapter".into()),
        },
        Reply::Progress {
            job: 1,
            done: 2,
            total: 18,
        },
        Reply::Done {
            job: 1,
            labels: vec![0, 1, 2, 3],
            presence: vec![0.25, 0.5, 1.0],
            seconds: 1.5,
        },
        Reply::Failed {
            job: None,
            message: "not a model".into(),
        },
        Reply::Failed {
            job: Some(4),
            message: "lost".into(),
        },
    ];
    for r in replies {
        assert_eq!(Reply::from_js(&r.to_js()), Ok(r));
    }
    assert!(Request::from_js(&JsValue::from_str("hello")).is_err());
    assert!(Reply::from_js(&JsValue::NULL).is_err());
}
