//! `adamm strip` and `adamm train-strip` end to end: the refusals, and a stripped image on the
//! input's own grid.

use std::path::Path;
use std::process::{Command, Output};

use adamm_model::burn::tensor::Device;
use adamm_model::{Precision, StripGrid, StripNetConfig};
use adamm_volume::geometry::Affine;
use adamm_volume::nifti_io::{write_path, Datatype, Header};
use adamm_volume::read_path;

fn adamm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_adamm"))
        .args(args)
        .output()
        .expect("run adamm")
}

fn one_line_error(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let s = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        s.trim_end().lines().count(),
        1,
        "one-line error expected, got {s:?}"
    );
    s
}

/// An untrained brain-extraction file of the default network on a small grid.
fn tiny_model(dir: &Path) -> String {
    let net = StripNetConfig::new()
        .init(&Device::flex())
        .expect("network");
    let path = dir.join("strip.bpk");
    let grid = StripGrid {
        dims: [32, 32, 24],
        voxel_mm: 4.0,
    };
    net.save(&path, Precision::F16, grid).expect("save");
    path.display().to_string()
}

/// A 40 × 36 × 20 scan of 1.5 × 1.5 × 3 mm (LPS, so not RAS) with a bright ball in it.
fn scan(dir: &Path) -> String {
    let dims = [40, 36, 20];
    let mut affine = Affine::from_spacing([1.5, 1.5, 3.0]);
    affine.0[0][0] = -1.5;
    affine.0[1][1] = -1.5;
    affine.0[0][3] = 30.0;
    affine.0[1][3] = 27.0;
    affine.0[2][3] = -30.0;
    let mut data = Vec::new();
    for z in 0..dims[2] {
        for y in 0..dims[1] {
            for x in 0..dims[0] {
                let d = [
                    (x as f64 - 20.0) * 1.5,
                    (y as f64 - 18.0) * 1.5,
                    (z as f64 - 10.0) * 3.0,
                ];
                let r = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
                data.push(if r < 25.0 { 400 + (x % 5) as i16 } else { 0 });
            }
        }
    }
    let path = dir.join("scan.nii.gz");
    write_path(
        &path,
        &Header::from_affine(dims, Datatype::I16, &affine),
        &data,
    )
    .expect("write the scan");
    path.display().to_string()
}

#[test]
fn a_missing_model_is_refused_naming_the_file_and_the_training_command() {
    let dir = tempfile::tempdir().unwrap();
    let input = scan(dir.path());
    let out_path = dir.path().join("out.nii.gz").display().to_string();
    let missing = dir.path().join("nope.bpk").display().to_string();
    let out = adamm(&["strip", &input, &out_path, "--model", &missing]);
    let msg = one_line_error(&out);
    assert!(
        msg.contains(&missing) && msg.contains("adamm train-strip"),
        "{msg}"
    );
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../public/models/adamm-strip.bpk");
    if !shipped.exists() {
        let msg = one_line_error(&adamm(&["strip", &input, &out_path]));
        assert!(
            msg.contains("adamm-strip.bpk") && msg.contains("adamm train-strip"),
            "{msg}"
        );
    }
}

#[test]
fn four_d_and_corrupt_inputs_are_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let out_path = dir.path().join("out.nii.gz").display().to_string();
    let four_d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../volume/tests/data/zoo/nibabel/example4d.nii.gz")
        .display()
        .to_string();
    let msg = one_line_error(&adamm(&["strip", &four_d, &out_path, "--model", &model]));
    assert!(msg.contains("4-D"), "{msg}");
    let corrupt = dir.path().join("corrupt.nii.gz");
    std::fs::write(&corrupt, b"\x1f\x8b\x08\x00 this is not a scan").unwrap();
    let msg = one_line_error(&adamm(&[
        "strip",
        &corrupt.display().to_string(),
        &out_path,
        "--model",
        &model,
    ]));
    assert!(msg.contains("corrupt.nii.gz"), "{msg}");
    assert!(!Path::new(&out_path).exists());
}

#[test]
fn wrong_kind_models_are_refused_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let input = scan(dir.path());
    // A stripper given to `adamm segment`.
    let seg = dir.path().join("seg.nii.gz").display().to_string();
    let msg = one_line_error(&adamm(&[
        "segment", "--t1", &input, "--out", &seg, "--model", &model,
    ]));
    assert!(
        msg.contains("brain-extraction") && msg.contains("adamm strip"),
        "{msg}"
    );
    // A file that is not a stripper given to `adamm strip`.
    let junk = dir.path().join("junk.bpk");
    std::fs::write(&junk, b"not weights").unwrap();
    let out_path = dir.path().join("out.nii.gz").display().to_string();
    one_line_error(&adamm(&[
        "strip",
        &input,
        &out_path,
        "--model",
        &junk.display().to_string(),
    ]));
}

#[test]
fn strip_writes_image_and_mask_on_the_input_grid() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let input = scan(dir.path());
    let out_path = dir.path().join("stripped.nii.gz");
    let mask_path = dir.path().join("mask.nii.gz");
    let out = adamm(&[
        "strip",
        &input,
        &out_path.display().to_string(),
        "--mask",
        &mask_path.display().to_string(),
        "--model",
        &model,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(" mL") && stdout.contains(" s "), "{stdout}");
    let scan = read_path(Path::new(&input)).unwrap();
    let stripped = read_path(&out_path).unwrap();
    let mask = read_path(&mask_path).unwrap();
    assert_eq!(mask.header.datatype, Datatype::U8);
    for v in [&stripped, &mask] {
        assert_eq!(v.dims(), scan.dims());
        assert!(v.world_from_voxel().max_abs_diff(&scan.world_from_voxel()) < 1e-4);
    }
    // Inside the mask the input's values, outside 0.
    for ((&s, &m), &o) in scan.data.iter().zip(&mask.data).zip(&stripped.data) {
        assert_eq!(o, if m > 0.5 { s } else { 0.0 });
        assert!(m == 0.0 || m == 1.0);
    }
}

#[test]
fn eval_strip_scores_held_out_heads_per_contrast_and_real_pairs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let model = tiny_model(dir.path());
    let head = scan(dir.path());
    let table_path = dir.path().join("strip.md");
    let out = adamm(&[
        "eval-strip",
        "--model",
        &model,
        "--heads",
        "1",
        "--training-heads",
        "0",
        "--pair",
        &format!("ball={head},{head}"),
        "--out",
        &table_path.display().to_string(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    for set in ["mni_icbm152 T1", "mni_icbm152 T2", "mni_icbm152 FLAIR"] {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("| {set} | held out | 1 |")))
            .unwrap_or_else(|| panic!("no row for {set}:\n{table}"));
        let dice: f64 = row.split('|').nth(4).unwrap().trim().parse().unwrap();
        assert!((0.0..=1.0).contains(&dice), "{row}");
    }
    assert!(table.contains("| ball | real pair | 1 |"), "{table}");
    assert_eq!(std::fs::read_to_string(&table_path).unwrap(), table);

    // A malformed pair is a usage error (clap's, status 2) naming the expected form.
    let bad = adamm(&["eval-strip", "--model", &model, "--pair", "no-comma"]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("NAME=HEAD,BRAIN"));
}
