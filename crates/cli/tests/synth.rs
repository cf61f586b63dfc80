//! `adamm synth` and `adamm render` end to end: files, names, grid, labels, the preview PNG,
//! independence from --threads/--start, and one-line errors.

use std::path::Path;
use std::process::{Command, Output};

use adamm_volume::brats::{discover_cases, load_case, Naming};
use adamm_volume::read_path;

fn adamm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_adamm"))
        .args(args)
        .output()
        .expect("run adamm")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "adamm failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn one_line_error(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1));
    let s = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        s.trim_end().lines().count(),
        1,
        "one-line error expected: {s:?}"
    );
    s
}

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).expect("read png");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |o: usize| u32::from_be_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
    (be(16), be(20))
}

#[test]
fn synth_writes_brats_cases_a_preview_and_stats() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("set");
    let out_s = out.display().to_string();
    let stdout = ok(&adamm(&[
        "synth",
        "--out",
        &out_s,
        "--cases",
        "2",
        "--seed",
        "5",
        "--threads",
        "2",
        "--naming",
        "2021",
        "--anatomy",
        "sri24,colin27",
        "--preview",
        "--stats",
    ]));
    assert!(stdout.contains("wrote 2 cases"), "{stdout}");
    assert!(stdout.contains("| FLAIR |"), "stats table: {stdout}");

    let found = discover_cases(&out).expect("discover");
    assert!(found.problems.is_empty(), "{:?}", found.problems);
    let ids: Vec<&str> = found.cases.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["SynGLI_00000", "SynGLI_00001"]);
    for case in &found.cases {
        let provenance = adamm_synth::Provenance::read(&case.dir)
            .expect("readable")
            .expect("synth.json beside the case");
        assert!(["sri24", "colin27"].contains(&provenance.anatomy.as_str()));
        assert!(!provenance.held_out);
        assert_eq!(provenance.contrast, "realistic");
        assert_eq!(provenance.shape, "realistic");
        assert_eq!(case.naming, Naming::Brats2021);
        assert_eq!(case.availability().code(), "1111");
        assert_eq!(case.dir, out.join(&case.id));
    }
    {
        let loaded = load_case(&found.cases[0]).expect("load");
        let t1 = loaded.images[0].as_ref().expect("t1");
        assert_eq!(t1.dims(), [240, 240, 155]);
        assert_eq!(t1.spacing_mm(), [1.0, 1.0, 1.0]);
        assert_eq!(t1.orientation_code(), "LAS");
        let seg = loaded.seg.as_ref().expect("seg");
        assert!(seg.contains(&2), "every case has edema");
        // Labels sit inside the brain (non-zero images).
        assert!(seg.iter().zip(&t1.data).all(|(&l, &v)| l == 0 || v > 0.0));
    }
    let (w, h) = png_size(&out.join("preview.png"));
    assert!(w > 5 * 150 && h > 150, "{w} × {h}");

    // The same case from a run with another --start, --cases and --threads: identical files.
    let again = dir.path().join("again");
    ok(&adamm(&[
        "synth",
        "--out",
        &again.display().to_string(),
        "--start",
        "1",
        "--cases",
        "1",
        "--seed",
        "5",
        "--threads",
        "1",
        "--naming",
        "2021",
        "--anatomy",
        "sri24,colin27",
    ]));
    for suffix in ["_t1ce", "_seg"] {
        let name = format!("SynGLI_00001/SynGLI_00001{suffix}.nii.gz");
        let a = read_path(&out.join(&name)).expect("first run");
        let b = read_path(&again.join(&name)).expect("second run");
        let differing = a.data.iter().zip(&b.data).filter(|(x, y)| x != y).count();
        assert!(
            a.data.len() == b.data.len() && differing == 0,
            "{name} differs between runs in {differing} voxels"
        );
    }

    // --mode randomised: recorded in synth.json (contrast, acquisition and shape), and the case
    // of the same seed (same anatomy) looks different.
    let randomised = dir.path().join("randomised");
    ok(&adamm(&[
        "synth",
        "--out",
        &randomised.display().to_string(),
        "--cases",
        "1",
        "--seed",
        "5",
        "--naming",
        "2021",
        "--mode",
        "randomised",
        "--anatomy",
        "sri24,colin27",
    ]));
    let case = randomised.join("SynGLI_00000");
    let provenance = adamm_synth::Provenance::read(&case)
        .expect("readable")
        .expect("synth.json");
    assert_eq!(
        (
            provenance.contrast.as_str(),
            provenance.acquisition.as_str()
        ),
        ("randomised", "randomised")
    );
    assert_eq!(provenance.shape, "randomised");
    let name = "SynGLI_00000/SynGLI_00000_flair.nii.gz";
    let a = read_path(&out.join(name)).expect("realistic");
    let b = read_path(&randomised.join(name)).expect("randomised");
    assert!(
        a.data != b.data,
        "randomised FLAIR equals the realistic one"
    );

    // adamm render on one file of a case (the folder form runs for --preview above).
    let png = dir.path().join("r.png");
    let file = out.join("SynGLI_00001/SynGLI_00001_flair.nii.gz");
    let text = ok(&adamm(&[
        "render",
        &file.display().to_string(),
        "--png",
        &png.display().to_string(),
        "--slice",
        "80",
    ]));
    assert!(text.contains("axial slice 80"), "{text}");
    let (w2, h2) = png_size(&png);
    assert!(w2 > 5 * 150 && h2 > 150, "{w2} × {h2}");
    // Two cases in one folder need --id.
    let err = one_line_error(&adamm(&[
        "render",
        &out_s,
        "--png",
        &png.display().to_string(),
    ]));
    assert!(err.contains("--id"), "{err}");
}

#[test]
fn synth_and_render_fail_with_one_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path().display().to_string();
    let err = one_line_error(&adamm(&["synth", "--out", &d, "--anatomy-dir", &d]));
    assert!(
        err.contains("loading the anatomy") && err.contains("sri24"),
        "{err}"
    );
    let err = one_line_error(&adamm(&[
        "synth",
        "--out",
        &d,
        "--anatomy",
        "sri24,mni_icbm152",
    ]));
    assert!(err.contains("held-out"), "{err}");
    let err = one_line_error(&adamm(&["synth", "--out", &d, "--anatomy", "colin28"]));
    assert!(err.contains("\"colin28\""), "{err}");
    let err = one_line_error(&adamm(&["render", &d, "--png", &format!("{d}/x.png")]));
    assert!(err.contains("no BraTS case"), "{err}");
    let bad = adamm(&["synth", "--out", &d, "--naming", "2022"]);
    assert_eq!(bad.status.code(), Some(2), "clap rejects an unknown naming");
}

#[test]
fn synth_perturb_writes_realistic_cases_with_one_factor_at_its_edge() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("noise");
    let s = out.display().to_string();
    ok(&adamm(&[
        "synth",
        "--out",
        &s,
        "--cases",
        "1",
        "--seed",
        "9",
        "--perturb",
        "noise",
    ]));
    let case = discover_cases(&out).expect("discover").cases.remove(0);
    let json = std::fs::read_to_string(case.dir.join("synth.json")).expect("synth.json");
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v["perturbation"], "noise", "{json}");
    assert_eq!(v["acquisition"], "realistic", "{json}");
    // A perturbation is on realistic cases only.
    let refused = adamm(&[
        "synth",
        "--out",
        &s,
        "--perturb",
        "bias",
        "--mode",
        "randomised",
    ]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("--perturb") && err.contains("--mode"), "{err}");
}
