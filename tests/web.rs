//! The app's state logic inside a real browser (wasm32, headless Chromium through
//! `wasm-bindgen-test-runner`; `cargo xtask test` runs it): files assigned by name, the messages
//! for bad files, and the worker messages' JavaScript form.
#![cfg(target_arch = "wasm32")]

use adamm_app::case::{Case, Contents, Role};
use adamm_app::protocol::{BackendChoice, Reply, Request};
use adamm_volume::brats::{Availability, Modality};
use adamm_volume::nifti_io::{write_bytes, Datatype};
use adamm_volume::{Affine, Header};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// A gzipped NIfTI file of `dims` with constant `value`, as a user would drop it.
fn nifti(dims: [usize; 3], value: f32) -> Vec<u8> {
    let header = Header::from_affine(dims, Datatype::F32, &Affine::IDENTITY);
    let n = dims.iter().product();
    write_bytes(&header, &vec![value; n], true).expect("a file of its own dims")
}

#[wasm_bindgen_test]
fn files_are_assigned_by_name_and_problems_named() {
    let mut case: Case = Case::default();
    case.add(
        0,
        "BraTS-GLI-00001-000-t2f.nii.gz".into(),
        Contents::read(&nifti([6, 5, 4], 1.0)),
        (),
    );
    case.add(
        1,
        "BraTS-GLI-00001-000-seg.nii.gz".into(),
        Contents::read(&nifti([6, 5, 4], 3.0)),
        (),
    );
    case.add(
        2,
        "BraTS2021_00001_t1ce.nii.gz".into(),
        Contents::read(&nifti([6, 5, 5], 1.0)),
        (),
    );
    let mut truncated = nifti([6, 5, 4], 1.0);
    truncated.truncate(40);
    case.add(
        3,
        "BraTS-GLI-00001-000-t1n.nii.gz".into(),
        Contents::read(&truncated),
        (),
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
    // A scan on another grid is used (the worker aligns it); the T1Gd, first of the two
    // alike grids in modality order, is the reference, and the truth is not on its grid.
    assert_eq!(case.problem(2), None);
    let grid = case.problem(1).expect("a grid problem");
    assert!(
        grid.contains("finest scan") && grid.contains("dims"),
        "{grid}"
    );
    assert!(
        case.problem(3).is_some(),
        "a truncated file must have a message"
    );
    // The T1 file is unreadable: T1Gd and FLAIR can be used, without the truth.
    assert_eq!(case.availability().code(), "0101");
    assert_eq!(case.truth(), None);
}

/// A blob holding `bytes`, as the page posts a file.
fn blob(bytes: &[u8]) -> web_sys::Blob {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    web_sys::Blob::new_with_u8_array_sequence(&parts).expect("a blob of bytes")
}

#[wasm_bindgen_test]
fn a_job_posts_the_files_the_user_gave_not_copies() {
    let bytes = nifti([6, 5, 4], 1.0);
    let flair = blob(&bytes);
    let mut case: Case<web_sys::Blob> = Case::default();
    case.add(
        0,
        "BraTS-GLI-00001-000-t2f.nii.gz".into(),
        Contents::read(&bytes),
        flair.clone(),
    );
    let (snapshot, files) = case.snapshot(Availability::FULL).expect("a usable scan");
    assert_eq!(snapshot.availability.code(), "0001");
    let posted = Request::Segment {
        job: 1,
        files,
        strip: true,
        workers: 0,
    }
    .to_js();
    match Request::from_js(&posted) {
        Ok(Request::Segment { files, .. }) => {
            assert!(files[..3].iter().all(Option::is_none));
            // The very blob the case holds (JavaScript identity), not a copy of its bytes.
            assert_eq!(files[3].as_ref(), Some(&flair));
        }
        other => panic!("{other:?}"),
    }
}

/// One triangle.
fn triangle() -> adamm_measure::Mesh {
    adamm_measure::Mesh {
        positions: vec![[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.5, -2.0]],
        normals: vec![[0.0, 0.0, 1.0]; 3],
        triangles: vec![[0, 1, 2]],
    }
}

/// The measurements of a 12 × 12 mm enhancing square on two 1 mm slices.
fn measured() -> adamm_measure::Measurements {
    let dims = [14, 14, 2];
    let labels: Vec<u8> = (0..14 * 14 * 2)
        .map(|i| {
            let (x, y) = (i % 14, (i / 14) % 14);
            u8::from((1..13).contains(&x) && (1..13).contains(&y)) * 3
        })
        .collect();
    let affine = Affine::IDENTITY;
    adamm_measure::Measurements {
        rano: adamm_measure::measure_rano(&labels, dims, &affine).expect("measurable"),
        regions: adamm_measure::region_stats(&labels, dims, &affine, None, &[]).expect("stats"),
    }
}

#[wasm_bindgen_test]
fn worker_messages_survive_their_javascript_form() {
    let requests = [
        Request::Model {
            file: blob(&[1, 2, 3]),
            backend: BackendChoice::Cpu,
            stripper: None,
        },
        Request::Model {
            file: blob(&[1, 2, 3]),
            backend: BackendChoice::Auto,
            stripper: Some(blob(&[4, 5])),
        },
        Request::Model {
            file: blob(&[1]),
            backend: BackendChoice::WebGpu,
            stripper: None,
        },
        Request::Segment {
            job: 7,
            files: [Some(blob(&[9; 5])), None, None, Some(blob(&[]))],
            strip: false,
            workers: 2,
        },
        Request::Case {
            job: 7,
            channels: vec![vec![0.5, -1.0, 2.0]; 4],
            dims: [3, 1, 1],
            combination: "0101".into(),
        },
        Request::Window { job: 7, index: 17 },
    ];
    for r in requests {
        // The same blobs come back: posting a file shares it, nothing is copied.
        assert_eq!(Request::from_js(&r.to_js()), Ok(r));
    }
    let done = Reply::Done {
        job: 3,
        labels: vec![1; 10],
        presence: vec![0.5; 3],
        seconds: 0.5,
        notes: Vec::new(),
        warnings: Vec::new(),
        transforms: Box::new([None; 4]),
        brain: Some(vec![1; 10]),
        measurements: Box::new(None),
    }
    .to_js();
    assert_eq!(
        Reply::transfer(&done).length(),
        2,
        "the label map's and the brain mask's buffers are transferred"
    );
    let surfaces = Reply::Surfaces {
        job: 3,
        meshes: vec![("ET".into(), triangle())],
    }
    .to_js();
    assert_eq!(
        Reply::transfer(&surfaces).length(),
        3,
        "a mesh's positions, normals and triangles are transferred"
    );
    assert_eq!(Reply::transfer(&Reply::Started.to_js()).length(), 0);
    let window = Reply::Window {
        job: 2,
        index: 5,
        probabilities: vec![0.25; 8],
        presence: vec![0.5; 3],
        memory_bytes: 3.0e8,
    };
    assert_eq!(
        Reply::transfer(&window.to_js()).length(),
        1,
        "a window's probabilities are transferred"
    );
    let replies = [
        Reply::Started,
        Reply::Ready {
            backend: "WebGPU".into(),
            note: None,
            no_brain_extraction: None,
        },
        Reply::Ready {
            backend: "CPU (wasm)".into(),
            note: Some("no adapter".into()),
            no_brain_extraction: Some("the page has no brain-extraction model".into()),
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
            notes: vec!["T1Gd (a.nii): the reference grid".into()],
            warnings: vec!["the field of view cuts the brain".into()],
            brain: None,
            measurements: Box::new(Some(measured())),
            transforms: Box::new([
                Some(std::array::from_fn(|i| i as f64 * 0.5)),
                None,
                None,
                Some([1.0; 16]),
            ]),
        },
        Reply::Surfaces {
            job: 1,
            meshes: vec![("ET".into(), triangle()), ("brain".into(), triangle())],
        },
        Reply::Failed {
            job: None,
            message: "not a model".into(),
        },
        Reply::Failed {
            job: Some(4),
            message: "lost".into(),
        },
        Reply::Refused {
            message: "malformed worker message: unknown request hello".into(),
        },
        window,
    ];
    for r in replies {
        assert_eq!(Reply::from_js(&r.to_js()), Ok(r));
    }
    assert!(Request::from_js(&JsValue::from_str("hello")).is_err());
    assert!(Reply::from_js(&JsValue::NULL).is_err());
}
