//! The `adamm` binary end to end: inspect, metrics, cases, one-line errors on bad input, and a
//! quiet end when the reader of its output goes away.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use adamm_volume::geometry::Affine;
use adamm_volume::nifti_io::{write_path, Datatype, Header};

fn adamm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_adamm"))
        .args(args)
        .output()
        .expect("run adamm")
}

fn zoo(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../volume/tests/data/zoo")
        .join(rel)
        .display()
        .to_string()
}

fn stderr_line(out: &Output) -> String {
    let s = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        s.trim_end().lines().count(),
        1,
        "one-line error expected, got {s:?}"
    );
    s
}

#[test]
fn inspect_json_reports_geometry_and_statistics() {
    let out = adamm(&["inspect", "--json", &zoo("nibabel/anatomical.nii")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let f = &v[0];
    assert_eq!(f["dims"], serde_json::json!([33, 41, 25]));
    assert_eq!(f["datatype"], "int16");
    assert_eq!(f["orientation"], "LAS");
    assert_eq!(f["affine"][0], serde_json::json!([-2.0, 0.0, 0.0, 32.0]));
    assert_eq!(f["spacing"], serde_json::json!([2.0, 2.0, 2.0]));
    // nibabel: data.min(), data.max(), data.mean() = -610, 30393, 8401.066725794532
    assert_eq!(f["min"], -610.0);
    assert_eq!(f["max"], 30393.0);
    assert!((f["mean"].as_f64().expect("mean") - 8401.066725794532).abs() < 1e-3);
}

#[test]
fn inspect_reports_each_unreadable_file_and_fails() {
    let good = zoo("nibabel/standard.nii.gz");
    let bad = zoo("nibabel/example4d.nii.gz");
    let out = adamm(&["inspect", "--json", &good, &bad]);
    assert!(!out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v[0]["dims"], serde_json::json!([4, 5, 7]));
    let msg = v[1]["error"].as_str().expect("error message");
    assert!(msg.contains("4-D image with 2 volumes"), "{msg}");
    assert!(stderr_line(&out).contains("1 of 2 files"));
}

#[test]
fn truncated_file_gets_a_one_line_reason() {
    let dir = tempfile::tempdir().expect("tmp");
    let bytes = std::fs::read(zoo("mricron-data/jhu189.nii.gz")).expect("file");
    let cut = dir.path().join("cut.nii.gz");
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).expect("write");
    let out = adamm(&["inspect", cut.to_str().expect("utf8")]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("gzip stream is corrupt or truncated"),
        "{text}"
    );
    stderr_line(&out);
}

fn las() -> Affine {
    let mut a = Affine::from_spacing([1.0, 1.0, 2.0]);
    a.0[0][0] = -1.0;
    a.0[0][3] = 15.0;
    a
}

fn write_labels(path: &Path, dims: [usize; 3], f: impl Fn(usize, usize, usize) -> u8) {
    let mut v = Vec::new();
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            for i in 0..dims[0] {
                v.push(f(i, j, k));
            }
        }
    }
    write_path(path, &Header::from_affine(dims, Datatype::U8, &las()), &v).expect("write");
}

#[test]
fn metrics_json_matches_hand_computed_values() {
    let dir = tempfile::tempdir().expect("tmp");
    let dims = [16, 16, 8];
    // Truth (2021 labels): a 4×4×2 ET cube inside 8×8×4 edema. Prediction (2023 labels): the
    // same shifted by one voxel in x (1 mm).
    let truth = dir.path().join("truth.nii.gz");
    let pred = dir.path().join("pred.nii.gz");
    let shape = |shift: usize, et: u8| {
        move |i: usize, j: usize, k: usize| {
            let inside = |lo: usize, hi: usize, kl: usize, kh: usize| {
                (lo + shift..hi + shift).contains(&i)
                    && (lo..hi).contains(&j)
                    && (kl..kh).contains(&k)
            };
            if inside(6, 10, 3, 5) {
                et
            } else if inside(4, 12, 2, 6) {
                2
            } else {
                0
            }
        }
    };
    write_labels(&truth, dims, shape(0, 4));
    write_labels(&pred, dims, shape(1, 3));
    let out = adamm(&[
        "metrics",
        "--json",
        "--pred",
        pred.to_str().expect("p"),
        "--truth",
        truth.to_str().expect("t"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    for region in ["WT", "TC", "ET"] {
        for key in ["dice", "hd95", "iou", "sensitivity", "specificity"] {
            assert!(v[region][key].is_number(), "{region}.{key}");
        }
    }
    // WT: 8×8×4 boxes offset by 1 in x → overlap 7/8: Dice = 7/8, HD95 = 1 mm.
    assert!((v["WT"]["dice"].as_f64().expect("d") - 0.875).abs() < 1e-12);
    assert!((v["WT"]["hd95"].as_f64().expect("h") - 1.0).abs() < 1e-12);
    // ET (4 in truth ↔ 3 in pred): 4×4×2 cubes offset by 1 → Dice 3/4.
    assert!((v["ET"]["dice"].as_f64().expect("d") - 0.75).abs() < 1e-12);
    assert_eq!(v["TC"]["dice"], v["ET"]["dice"]);
}

#[test]
fn measure_gives_rano_diameters_and_region_statistics_in_mm() {
    let dir = tempfile::tempdir().expect("tmp");
    let dims = [40, 30, 6];
    // LAS, 1 × 1 × 2 mm: an ET block 20 × 12 voxels (20 × 12 mm) on slices 1–3 inside edema,
    // and a 3 × 3 ET spot on one slice elsewhere.
    let labels = dir.path().join("labels.nii.gz");
    write_labels(&labels, dims, |i, j, k| {
        if (5..25).contains(&i) && (5..17).contains(&j) && (1..4).contains(&k) {
            3
        } else if (3..27).contains(&i) && (3..19).contains(&j) && (1..5).contains(&k) {
            2
        } else if (32..35).contains(&i) && (22..25).contains(&j) && k == 2 {
            3
        } else {
            0
        }
    });
    let out = adamm(&["measure", labels.to_str().expect("p"), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let rano = &v["rano"];
    assert_eq!(rano["region"], "ET");
    assert_eq!(rano["measurable"], 1);
    let big = &rano["lesions"][0];
    // Edge to edge: the diagonal of 20 × 12 mm, and the chord across it.
    let longest = big["longest"]["length_mm"].as_f64().expect("mm");
    assert!(
        (longest - (400.0f64 + 144.0).sqrt()).abs() < 1e-9,
        "{longest}"
    );
    assert_eq!(big["slices"], 3);
    assert_eq!(rano["lesions"][1]["measurable"], false);
    let product = big["product_mm2"].as_f64().expect("mm²");
    assert!((rano["sum_of_products_mm2"].as_f64().expect("sum") - product).abs() < 1e-9);
    // Regions: ET 20·12·3 + 9 voxels of 2 mm³.
    let et = &v["regions"][2];
    assert_eq!(et["region"], "ET");
    assert!((et["volume_ml"].as_f64().expect("mL") - (720.0 + 9.0) * 2.0 / 1000.0).abs() < 1e-12);
    assert_eq!(et["lesions"], 2);
    assert!(et["side"].is_null(), "no brain, no midline");
    // Text, with a scan on the grid for intensities and the midline.
    let flair = dir.path().join("flair.nii.gz");
    write_labels(&flair, dims, |i, _, _| 10 + i as u8);
    let out = adamm(&[
        "measure",
        labels.to_str().expect("p"),
        "--flair",
        flair.to_str().expect("f"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("2 lesion(s), 1 measurable"), "{text}");
    assert!(text.contains("mean FLAIR"), "{text}");
    assert!(text.contains("hemisphere"), "{text}");
    // A scan on another grid is refused, naming both files.
    let other = dir.path().join("other.nii.gz");
    write_labels(&other, [40, 30, 5], |_, _, _| 1);
    let out = adamm(&[
        "measure",
        labels.to_str().expect("p"),
        "--t1",
        other.to_str().expect("o"),
    ]);
    assert!(!out.status.success());
    let line = stderr_line(&out);
    assert!(
        line.contains("other.nii.gz") && line.contains("labels.nii.gz"),
        "{line}"
    );
}

#[test]
fn metrics_refuses_different_grids_naming_both_files() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = dir.path().join("a.nii.gz");
    let b = dir.path().join("b.nii.gz");
    write_labels(&a, [8, 8, 4], |_, _, _| 0);
    write_labels(&b, [8, 8, 5], |_, _, _| 0);
    let out = adamm(&[
        "metrics",
        "--pred",
        a.to_str().expect("a"),
        "--truth",
        b.to_str().expect("b"),
    ]);
    assert!(!out.status.success());
    let line = stderr_line(&out);
    assert!(
        line.contains("a.nii.gz") && line.contains("b.nii.gz") && line.contains("dims"),
        "{line}"
    );
}

#[test]
fn metrics_refuses_unknown_labels() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = dir.path().join("a.nii.gz");
    write_labels(&a, [4, 4, 4], |i, _, _| if i == 0 { 7 } else { 0 });
    let out = adamm(&[
        "metrics",
        "--pred",
        a.to_str().expect("a"),
        "--truth",
        a.to_str().expect("a"),
    ]);
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("unexpected label value 7"));
}

#[test]
fn cases_lists_both_namings_and_reports_problems() {
    let dir = tempfile::tempdir().expect("tmp");
    let root: PathBuf = dir.path().into();
    let c1 = root.join("BraTS2021_00001");
    let c2 = root.join("nested/BraTS-GLI-00002-000");
    std::fs::create_dir_all(&c1).expect("mkdir");
    std::fs::create_dir_all(&c2).expect("mkdir");
    for s in ["t1", "t1ce", "t2", "flair", "seg"] {
        write_labels(
            &c1.join(format!("BraTS2021_00001_{s}.nii.gz")),
            [6, 6, 4],
            |_, _, _| 0,
        );
    }
    write_labels(
        &c2.join("BraTS-GLI-00002-000-t1n.nii.gz"),
        [6, 6, 4],
        |_, _, _| 0,
    );
    // The T2 of the second case has another grid.
    write_labels(
        &c2.join("BraTS-GLI-00002-000-t2w.nii"),
        [6, 6, 5],
        |_, _, _| 0,
    );
    let out = adamm(&["cases", root.to_str().expect("root")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("BraTS2021_00001") && text.contains("1111"),
        "{text}"
    );
    assert!(
        text.contains("BraTS-GLI-00002-000") && text.contains("1010"),
        "{text}"
    );
    assert!(text.contains("2 cases"), "{text}");
    assert!(
        text.contains("1 problems") && text.contains("not on the same grid"),
        "{text}"
    );
}

#[test]
fn cases_on_a_folder_without_cases_fails_clearly() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = adamm(&["cases", dir.path().to_str().expect("d")]);
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("no BraTS case found"));
}

/// Runs `adamm` with stdout connected to a pipe whose reading end is already closed, as in
/// `adamm … | head` once `head` has exited: every write to stdout fails with EPIPE.
fn adamm_into_closed_pipe(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_adamm"))
        .args(args)
        .stdout(writer)
        .output()
        .expect("run adamm")
}

#[test]
fn a_closed_stdout_pipe_ends_every_command_quietly() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().to_str().expect("utf8").to_string();
    let case = dir.path().join("BraTS2021_00003");
    std::fs::create_dir_all(&case).expect("mkdir");
    for s in ["t1", "t1ce", "t2", "flair"] {
        write_labels(
            &case.join(format!("BraTS2021_00003_{s}.nii.gz")),
            [16, 16, 8],
            |i, j, k| (i + j + k) as u8,
        );
    }
    let seg = case.join("BraTS2021_00003_seg.nii.gz");
    write_labels(&seg, [16, 16, 8], |i, j, k| {
        u8::from((4..12).contains(&i) && (4..12).contains(&j) && (2..6).contains(&k)) * 2
    });
    let seg = seg.to_str().expect("utf8");
    let case = case.to_str().expect("utf8");
    let png = format!("{root}/montage.png");
    let image = zoo("nibabel/anatomical.nii");
    let runs: [&[&str]; 10] = [
        &["inspect", "--json", &image],
        &["inspect", &image, &image],
        &["metrics", "--json", "--pred", seg, "--truth", seg],
        &["metrics", "--pred", seg, "--truth", seg],
        &["cases", &root],
        &["render", case, "--png", &png],
        &["model-info", "--preset", "light", "--window", "32"],
        &["--help"],
        &["inspect", "--help"],
        &["--version"],
    ];
    for args in runs {
        let out = adamm_into_closed_pipe(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "adamm {args:?} reported the closed pipe: {stderr}"
        );
        assert!(
            out.status.success(),
            "adamm {args:?} ended with {}: {stderr}",
            out.status
        );
        assert_eq!(stderr, "", "adamm {args:?} wrote to stderr");
    }
    // The commands did their work before writing: the montage is there.
    assert!(std::fs::metadata(&png).expect("montage").len() > 0);
}
