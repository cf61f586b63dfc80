//! `adamm train`, `eval`, `segment` and `export` end to end on tiny synthetic cases with a
//! tiny network: a two-iteration run resumes to the same state, eval writes every output
//! with the expected rows, segment writes a label map whose header equals the input's in
//! LAS, RAS and LPS orientation.

use std::path::Path;
use std::process::{Command, Output};

use adamm_model::{AdammConfig, WeightsInfo};
use adamm_train::sampler::SamplerConfig;
use adamm_train::TrainConfig;
use adamm_volume::geometry::Affine;
use adamm_volume::nifti_io::{write_path, Datatype, Header};
use adamm_volume::read_path;

fn adamm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_adamm"))
        .args(args)
        .output()
        .expect("run adamm")
}

fn ok(out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "adamm failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn failed(out: Output) -> String {
    assert!(!out.status.success(), "adamm should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const DIMS: [usize; 3] = [40, 36, 32];

/// A tiny glioma-like case: an ellipsoidal "brain" with a lesion (NETC core, ET shell,
/// edema around) whose position depends on `i`; each modality sees the classes differently.
fn write_case(dir: &Path, id: &str, i: usize, affine: &Affine) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let n: usize = DIMS.iter().product();
    let centre = [
        16.0 + (i % 3) as f64 * 4.0,
        18.0 - (i % 2) as f64 * 3.0,
        15.0,
    ];
    let mut labels = vec![0u8; n];
    let mut images = vec![vec![0f32; n]; 4];
    let gains: [[f32; 4]; 4] = [
        [700.0, 580.0, 680.0, 850.0],    // brain
        [380.0, 340.0, 1380.0, 1070.0],  // NETC
        [550.0, 470.0, 1170.0, 1320.0],  // SNFH
        [520.0, 1000.0, 1150.0, 1230.0], // ET
    ];
    for z in 0..DIMS[2] {
        for y in 0..DIMS[1] {
            for x in 0..DIMS[0] {
                let v = x + DIMS[0] * (y + DIMS[1] * z);
                let e = ((x as f64 - 19.5) / 18.0).powi(2)
                    + ((y as f64 - 17.5) / 16.0).powi(2)
                    + ((z as f64 - 15.5) / 14.0).powi(2);
                if e > 1.0 {
                    continue;
                }
                let r = ((x as f64 - centre[0]).powi(2)
                    + (y as f64 - centre[1]).powi(2)
                    + (z as f64 - centre[2]).powi(2))
                .sqrt();
                let l = if r < 2.5 {
                    1
                } else if r < 4.5 {
                    3
                } else if r < 8.0 {
                    2
                } else {
                    0
                };
                labels[v] = l;
                let class = usize::from(l);
                let noise = ((v * 2654435761) % 97) as f32 - 48.0;
                for (c, img) in images.iter_mut().enumerate() {
                    img[v] = gains[class][c] + noise;
                }
            }
        }
    }
    let header = Header::from_affine(DIMS, Datatype::F32, affine);
    for (suffix, img) in ["t1n", "t1c", "t2w", "t2f"].iter().zip(&images) {
        write_path(&dir.join(format!("{id}-{suffix}.nii.gz")), &header, img).expect("write");
    }
    let seg_header = Header::from_affine(DIMS, Datatype::U8, affine);
    write_path(&dir.join(format!("{id}-seg.nii.gz")), &seg_header, &labels).expect("write");
}

fn las() -> Affine {
    let mut a = Affine::from_spacing([1.0, 1.0, 1.0]);
    a.0[0][0] = -1.0;
    a.0[0][3] = 20.0;
    a.0[1][3] = -18.0;
    a.0[2][3] = -16.0;
    a
}

fn ras() -> Affine {
    let mut a = Affine::from_spacing([1.0, 1.0, 1.0]);
    a.0[0][3] = -20.0;
    a.0[1][3] = -18.0;
    a.0[2][3] = -16.0;
    a
}

fn lps() -> Affine {
    let mut a = Affine::from_spacing([1.0, 1.0, 1.0]);
    a.0[0][0] = -1.0;
    a.0[1][1] = -1.0;
    a.0[0][3] = 20.0;
    a.0[1][3] = 18.0;
    a.0[2][3] = -16.0;
    a
}

fn tiny_config() -> TrainConfig {
    TrainConfig {
        network: AdammConfig::new()
            .with_base_width(8)
            .with_depth(3)
            .with_blocks_per_level(vec![1, 1, 1])
            .with_adapter_hidden(4)
            .with_graph_nodes(4)
            .with_empty_code_entry(false),
        sampler: SamplerConfig {
            patch: [32, 32, 32],
            ..SamplerConfig::default()
        },
        iterations: 2,
        validation_cases: 1,
        validation_every: 1,
        validation_combinations: 1,
        checkpoint_every: 1,
        learning_rate: 1e-3,
        discriminator_learning_rate: 1e-3,
        ..TrainConfig::default()
    }
}

/// The CSV log without the timing column (the last).
fn log_without_times(run: &Path) -> Vec<String> {
    std::fs::read_to_string(run.join("log.csv"))
        .expect("log.csv")
        .lines()
        .map(|l| l.rsplit_once(',').map_or(l, |(a, _)| a).to_string())
        .collect()
}

#[test]
fn train_resume_eval_segment_export() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    for i in 0..3 {
        let id = format!("TINY-{i:03}");
        write_case(&data.join(&id), &id, i, &las());
    }
    let config = tmp.path().join("tiny.json");
    tiny_config().save(&config).expect("config");
    let s = |p: &Path| p.display().to_string();

    // Straight through: two iterations.
    let a = tmp.path().join("a");
    let out = ok(adamm(&[
        "train",
        "--data",
        &s(&data),
        "--run",
        &s(&a),
        "--config",
        &s(&config),
    ]));
    assert!(out.contains("finished at iteration 2"), "{out}");
    for f in [
        "config.json",
        "split.json",
        "log.csv",
        "validation.csv",
        "curves.png",
        "best-student.bpk",
        "checkpoint/state.json",
        "checkpoint/teacher.bpk",
        "checkpoint/optim-student.bpk",
        "checkpoint/discriminator.bpk",
    ] {
        assert!(a.join(f).is_file(), "{f} missing");
    }
    // A second start into the same folder is refused.
    let err = failed(adamm(&[
        "train",
        "--data",
        &s(&data),
        "--run",
        &s(&a),
        "--config",
        &s(&config),
    ]));
    assert!(err.contains("already holds a run"), "{err}");

    // Stopped after one iteration, then resumed.
    let b = tmp.path().join("b");
    let out = ok(adamm(&[
        "train",
        "--data",
        &s(&data),
        "--run",
        &s(&b),
        "--config",
        &s(&config),
        "--stop-after",
        "1",
    ]));
    assert!(out.contains("stopped at iteration 1"), "{out}");
    let out = ok(adamm(&["train", "--resume", &s(&b)]));
    assert!(out.contains("finished at iteration 2"), "{out}");
    assert_eq!(log_without_times(&a), log_without_times(&b));
    assert_eq!(log_without_times(&a).len(), 3, "header and two iterations");
    assert_eq!(
        std::fs::read_to_string(a.join("validation.csv")).expect("a"),
        std::fs::read_to_string(b.join("validation.csv")).expect("b"),
    );

    // A damaged checkpoint is refused with the reason.
    let c = tmp.path().join("c");
    ok(adamm(&[
        "train",
        "--data",
        &s(&data),
        "--run",
        &s(&c),
        "--config",
        &s(&config),
        "--stop-after",
        "1",
    ]));
    let student = c.join("checkpoint/student.bpk");
    let bytes = std::fs::read(&student).expect("read");
    std::fs::write(&student, &bytes[..bytes.len() / 2]).expect("truncate");
    let err = failed(adamm(&["train", "--resume", &s(&c)]));
    assert!(
        err.contains("cannot resume from this checkpoint") && err.contains("student.bpk"),
        "{err}"
    );

    // Evaluation on two cases, all 15 combinations.
    let eval = tmp.path().join("eval");
    let out = ok(adamm(&[
        "eval",
        "--model",
        &s(&a.join("best-student.bpk")),
        "--data",
        &s(&data),
        "--out",
        &s(&eval),
        "--limit",
        "2",
        "--window",
        "32",
    ]));
    assert!(out.contains("2 cases × 15 combinations"), "{out}");
    let csv = std::fs::read_to_string(eval.join("metrics.csv")).expect("metrics.csv");
    assert_eq!(
        csv.lines().count(),
        1 + 2 * 15 * 3,
        "header + case × combination × region"
    );
    assert!(
        csv.starts_with("case,combination,region,dice,hd95,iou,sensitivity"),
        "{csv}"
    );
    let md = std::fs::read_to_string(eval.join("summary.md")).expect("summary.md");
    let table_rows = md.lines().filter(|l| l.starts_with('|')).count();
    assert_eq!(
        table_rows,
        2 + 15 + 1,
        "header, rule, 15 combinations, mean:\n{md}"
    );
    assert!(eval.join("dice.png").is_file() && eval.join("summary.json").is_file());
    let heatmaps = std::fs::read_dir(&eval)
        .expect("ls")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("adapters-"))
        })
        .count();
    assert!(
        heatmaps >= 3,
        "one heatmap per adapter position, got {heatmaps}"
    );

    // Two sets side by side and a perturbed one: one folder each and report.md with both
    // tables.
    let sets = tmp.path().join("eval-sets");
    let out = ok(adamm(&[
        "eval",
        "--model",
        &s(&a.join("best-student.bpk")),
        "--data",
        &format!("id={}", s(&data)),
        "--data",
        &format!("ood={}", s(&data)),
        "--robustness",
        &format!("noise={}", s(&data)),
        "--out",
        &s(&sets),
        "--limit",
        "1",
        "--window",
        "32",
        "--combinations",
        "1000,1111",
    ]));
    let report = std::fs::read_to_string(sets.join("report.md")).expect("report.md");
    assert!(out.contains("| T1 + T1Gd + T2 + FLAIR |"), "{out}");
    assert!(
        report.contains("| modalities | id WT | id TC | id ET (1 cases) | ood WT |"),
        "{report}"
    );
    let side_rows: Vec<&str> = report.lines().filter(|l| l.starts_with("| T1")).collect();
    assert_eq!(side_rows.len(), 2, "two combinations:\n{report}");
    // The same cases in both sets: the same numbers in both column groups.
    for row in &side_rows {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(cells[2..5], cells[5..8], "{row}");
    }
    assert!(report.contains("## Robustness"), "{report}");
    assert!(report.contains("| noise | 1 |"), "{report}");
    assert!(report.contains("| none (id) | 1 |"), "{report}");
    assert!(report.contains("no synth.json"), "{report}");
    for dir in ["id", "ood", "robustness/noise"] {
        assert!(sets.join(dir).join("summary.json").is_file(), "{dir}");
    }
    let noise_csv =
        std::fs::read_to_string(sets.join("robustness/noise/metrics.csv")).expect("csv");
    assert_eq!(noise_csv.lines().count(), 1 + 3, "all four modalities only");
    let err = failed(adamm(&[
        "eval",
        "--model",
        &s(&a.join("best-student.bpk")),
        "--data",
        &format!("x={}", s(&data)),
        "--data",
        &format!("x={}", s(&data)),
        "--out",
        &s(&sets),
    ]));
    assert!(err.contains("two test sets are called \"x\""), "{err}");

    // Export for the browser, with a model card carrying the evaluation.
    let model = tmp.path().join("model.bpk");
    // `adamm export` with these (flag, value) pairs; the card it wrote.
    let export = |flags: &[(&str, String)]| -> serde_json::Value {
        let mut args = vec![
            "export".to_owned(),
            "--run".into(),
            s(&a),
            "--out".into(),
            s(&model),
        ];
        for (flag, value) in flags {
            args.extend([(*flag).to_owned(), value.clone()]);
        }
        ok(adamm(&args.iter().map(String::as_str).collect::<Vec<_>>()));
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("model.json")).expect("card"))
            .expect("json")
    };
    let card = export(&[("--eval", s(&eval))]);
    assert!(card["min_enhancing"].is_null(), "{card}");
    let info = WeightsInfo::from_bytes(&std::fs::read(&model).expect("model")).expect("info");
    assert_eq!(info.recorded_min_enhancing_mm3, Some(0));
    assert_eq!(card["training"]["iterations_done"], 2);
    assert_eq!(card["evaluations"][0]["set"], "eval");
    assert_eq!(
        card["evaluations"][0]["summary"]["combinations"]
            .as_array()
            .map(Vec::len),
        Some(15)
    );
    // Several sets, named, in the order given; a folder of several sets is refused.
    let card = export(&[
        ("--eval", format!("id={}", s(&sets.join("id")))),
        ("--eval", format!("ood={}", s(&sets.join("ood")))),
    ]);
    let names: Vec<&str> = card["evaluations"]
        .as_array()
        .expect("evaluations")
        .iter()
        .filter_map(|e| e["set"].as_str())
        .collect();
    assert_eq!(names, ["id", "ood"]);
    assert_eq!(
        card["evaluations"][1]["summary"]["combinations"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    // Refused before anything is written; a folder that does not exist yet is created.
    let nested = tmp.path().join("new/models/model.bpk");
    let err = failed(adamm(&[
        "export",
        "--run",
        &s(&a),
        "--out",
        &s(&nested),
        "--eval",
        &s(&sets),
    ]));
    assert!(err.contains("has no summary.json"), "{err}");
    assert!(!tmp.path().join("new").exists());
    ok(adamm(&["export", "--run", &s(&a), "--out", &s(&nested)]));
    assert!(nested.is_file() && nested.with_extension("json").is_file());

    // The smallest enhancing tumour, chosen on validation evaluations (two sets pooled):
    // one of the candidates, the sweep in the card, the same threshold in the weights file.
    let card = export(&[
        ("--min-enhancing-from", s(&sets.join("id"))),
        ("--min-enhancing-from", s(&sets.join("ood"))),
    ]);
    let chosen = card["min_enhancing"]["mm3"].as_u64().expect("mm3");
    assert!(
        adamm_train::enhancing::CANDIDATES_MM3.contains(&(chosen as u32)),
        "{card}"
    );
    let sweep = card["min_enhancing"]["sweep"].as_array().expect("sweep");
    assert_eq!(sweep.len(), adamm_train::enhancing::CANDIDATES_MM3.len());
    let best = sweep
        .iter()
        .filter_map(|s| s["et_dice"].as_f64())
        .fold(f64::NEG_INFINITY, f64::max);
    let at_chosen = sweep
        .iter()
        .find(|s| s["min_mm3"].as_u64() == Some(chosen))
        .and_then(|s| s["et_dice"].as_f64());
    assert_eq!(at_chosen, Some(best), "{card}");
    assert_eq!(
        card["min_enhancing"]["chosen_on"].as_array().map(Vec::len),
        Some(2)
    );
    let info = WeightsInfo::from_bytes(&std::fs::read(&model).expect("model")).expect("info");
    assert_eq!(info.recorded_min_enhancing_mm3, Some(chosen as u32));
    // An evaluation made with a threshold already in force is refused: choosing on it would
    // count the rule twice.
    let floored = tmp.path().join("floored");
    std::fs::create_dir_all(&floored).expect("mkdir");
    std::fs::copy(sets.join("id/metrics.csv"), floored.join("metrics.csv")).expect("copy");
    let mut summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(sets.join("id/summary.json")).expect("summary"),
    )
    .expect("json");
    assert_eq!(summary["min_enhancing_mm3"], 0);
    summary["min_enhancing_mm3"] = 500.into();
    std::fs::write(floored.join("summary.json"), summary.to_string()).expect("write");
    let err = failed(adamm(&[
        "export",
        "--run",
        &s(&a),
        "--out",
        &s(&model),
        "--min-enhancing-from",
        &s(&floored),
    ]));
    assert!(
        err.contains("already reports no enhancing tumour under 500"),
        "{err}"
    );

    // Segment in three orientations: the output has the input's grid and header.
    for (name, affine) in [("LAS", las()), ("RAS", ras()), ("LPS", lps())] {
        let dir = tmp.path().join(format!("case-{name}"));
        write_case(&dir, "ONE", 1, &affine);
        let seg = dir.join("pred.nii.gz");
        let out = ok(adamm(&[
            "segment",
            "--t1",
            &s(&dir.join("ONE-t1n.nii.gz")),
            "--t2",
            &s(&dir.join("ONE-t2w.nii.gz")),
            "--flair",
            &s(&dir.join("ONE-t2f.nii.gz")),
            "--out",
            &s(&seg),
            "--model",
            &s(&model),
            "--window",
            "32",
            "--truth",
            &s(&dir.join("ONE-seg.nii.gz")),
        ]));
        assert!(out.contains("mL") && out.contains("WT: Dice"), "{out}");
        let input = read_path(&dir.join("ONE-t1n.nii.gz")).expect("input");
        let pred = read_path(&seg).expect("prediction");
        assert_eq!(pred.dims(), input.dims(), "{name}");
        assert_eq!(pred.world_from_voxel(), input.world_from_voxel(), "{name}");
        assert_eq!(pred.orientation_code(), name);
        assert_eq!(pred.header.qform_code, input.header.qform_code);
        assert_eq!(pred.header.sform_code, input.header.sform_code);
        assert!(pred.data.iter().all(|&v| [0.0, 1.0, 2.0, 3.0].contains(&v)));
    }

    // Scans on two grids: the FLAIR resampled to 2 mm voxels (LAS). The labels come on the
    // T1's grid (the finer, the reference) and, with --each-grid, on the FLAIR's too.
    let dir = tmp.path().join("case-two-grids");
    write_case(&dir, "TWO", 1, &ras());
    let flair = read_path(&dir.join("TWO-t2f.nii.gz")).expect("flair");
    let coarse_dims = DIMS.map(|d| d / 2);
    let mut coarse = las();
    for r in 0..3 {
        for c in 0..3 {
            coarse.0[r][c] *= 2.0;
        }
    }
    let target = adamm_volume::regrid::TargetGrid {
        dims: coarse_dims,
        world_from_voxel: coarse,
    };
    let voxels = adamm_volume::regrid::resample(
        &flair,
        &target,
        &Affine::IDENTITY,
        adamm_volume::regrid::Interpolation::Linear,
        0.0,
    )
    .expect("resampled");
    let coarse_path = dir.join("TWO-coarse-t2f.nii.gz");
    write_path(
        &coarse_path,
        &Header::from_affine(coarse_dims, Datatype::F32, &coarse),
        &voxels,
    )
    .expect("written");
    let seg = dir.join("pred.nii.gz");
    let out = ok(adamm(&[
        "segment",
        "--t1",
        &s(&dir.join("TWO-t1n.nii.gz")),
        "--flair",
        &s(&coarse_path),
        "--out",
        &s(&seg),
        "--model",
        &s(&model),
        "--window",
        "32",
        "--each-grid",
        "--brain",
        &s(&dir.join("brain.nii.gz")),
        "--json",
        &s(&dir.join("summary.json")),
        "--mesh",
        &s(&dir.join("surfaces.obj")),
        "--report",
        &s(&dir.join("report.html")),
    ]));
    // The surfaces: one OBJ object per region found, every vertex inside the T1's field of
    // view in world mm.
    assert!(out.contains("surfaces (brain"), "{out}");
    let obj = std::fs::read_to_string(dir.join("surfaces.obj")).expect("surfaces");
    assert!(
        obj.contains("SPACE=RAS") && obj.contains("o brain"),
        "{}",
        &obj[..200]
    );
    let t1_grid = read_path(&dir.join("TWO-t1n.nii.gz")).expect("t1");
    let t1_affine = t1_grid.world_from_voxel();
    let corners: Vec<[f64; 3]> = (0..8)
        .map(|c| {
            let d = t1_grid.dims();
            t1_affine.apply([0, 1, 2].map(|k| if c >> k & 1 == 1 { d[k] as f64 } else { -1.0 }))
        })
        .collect();
    for line in obj.lines().filter(|l| l.starts_with("v ")) {
        let p: Vec<f64> = line[2..]
            .split(' ')
            .map(|v| v.parse().expect("a number"))
            .collect();
        for k in 0..3 {
            let lo = corners.iter().map(|c| c[k]).fold(f64::INFINITY, f64::min);
            let hi = corners
                .iter()
                .map(|c| c[k])
                .fold(f64::NEG_INFINITY, f64::max);
            assert!(p[k] >= lo && p[k] <= hi, "vertex {line} outside the scan");
        }
    }
    assert!(out.contains("registered to T1"), "{out}");
    // The summary: what was printed, with the measurements `adamm measure` gives the same
    // labels (its midline from the brain mask written beside them).
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).expect("json"))
            .expect("a JSON summary");
    assert_eq!(summary["reference"], "T1");
    assert!(summary["volumes_ml"]["WT"].is_number(), "{summary}");
    assert!(summary["timings_s"]["network"].as_f64().expect("time") > 0.0);
    let measured = ok(adamm(&[
        "measure",
        &s(&seg),
        "--brain",
        &s(&dir.join("brain.nii.gz")),
        "--json",
    ]));
    let measured: serde_json::Value = serde_json::from_str(&measured).expect("measure --json");
    assert_eq!(summary["measurements"]["rano"], measured["rano"]);
    for r in 0..3 {
        let (a, b) = (
            &summary["measurements"]["regions"][r],
            &measured["regions"][r],
        );
        for key in ["region", "volume_ml", "lesions", "centroid_mm", "side"] {
            assert_eq!(a[key], b[key], "{key} of region {r}");
        }
    }
    // The report: the same measurements as the summary, the files, the model's card (export
    // wrote it beside the weights), three planes and the 3-D view embedded, nothing to fetch.
    assert!(out.contains("report → "), "{out}");
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report");
    let json = html
        .split("id=\"adamm-measurements\">")
        .nth(1)
        .and_then(|r| r.split("</script>").next())
        .expect("the measurements in the report");
    let in_report: serde_json::Value = serde_json::from_str(json).expect("JSON");
    assert_eq!(in_report, summary["measurements"]);
    assert_eq!(html.matches("src=\"data:image/png;base64,").count(), 4);
    assert!(!html.contains("http:") && !html.contains("https:"));
    for text in [
        "TWO-t1n.nii.gz",
        "TWO-coarse-t2f.nii.gz",
        "T1 (reference grid)",
        "model.bpk",
        "Model card",
        "registered to T1",
        "not a medical device",
    ] {
        assert!(html.contains(text), "{text} missing from the report");
    }
    let refused = failed(adamm(&[
        "segment",
        "--t1",
        &s(&dir.join("TWO-t1n.nii.gz")),
        "--out",
        &s(&seg),
        "--report",
        &s(&dir.join("report.pdf")),
    ]));
    assert!(refused.contains("give a file ending in .html"), "{refused}");
    assert!(
        out.contains("timings: reading and registering the scans"),
        "{out}"
    );
    let t1 = read_path(&dir.join("TWO-t1n.nii.gz")).expect("t1");
    let pred = read_path(&seg).expect("prediction");
    assert_eq!(pred.dims(), t1.dims());
    assert_eq!(pred.world_from_voxel(), t1.world_from_voxel());
    let on_flair = read_path(&dir.join("pred-t2f.nii.gz")).expect("labels on the FLAIR grid");
    assert_eq!(on_flair.dims(), coarse_dims);
    assert_eq!(on_flair.orientation_code(), "LAS");
    assert!(on_flair.world_from_voxel().max_abs_diff(&coarse) < 1e-4);
    assert!(read_path(&dir.join("pred-t1n.nii.gz")).is_ok());
    // The brain mask the case was segmented in: on the T1 grid, the T1's non-zero voxels (a
    // stripped case) and what the coarse FLAIR adds at their edge, every label inside it.
    let brain = read_path(&dir.join("brain.nii.gz")).expect("brain mask");
    assert_eq!(brain.dims(), t1.dims());
    assert_eq!(brain.world_from_voxel(), t1.world_from_voxel());
    let inside = brain.data.iter().filter(|&&b| b > 0.0).count();
    let t1_brain = t1.data.iter().filter(|&&v| v != 0.0).count();
    let both = brain
        .data
        .iter()
        .zip(&t1.data)
        .filter(|(&b, &v)| b > 0.0 && v != 0.0)
        .count();
    assert!(
        both as f64 >= 0.95 * t1_brain as f64,
        "{both} of {t1_brain}"
    );
    assert!(
        (inside as f64) < 0.5 * brain.data.len() as f64,
        "{inside} of {} voxels",
        brain.data.len()
    );
    assert!(pred
        .data
        .iter()
        .zip(&brain.data)
        .all(|(&l, &b)| l == 0.0 || b > 0.0));

    // A weights file that is not a student is refused by segment.
    let err = failed(adamm(&[
        "segment",
        "--case",
        &s(&data.join("TINY-000")),
        "--out",
        &s(&tmp.path().join("x.nii.gz")),
        "--model",
        &s(&a.join("checkpoint/teacher.bpk")),
    ]));
    assert!(err.contains("teacher"), "{err}");
}

/// A set holding one case made on the held-out anatomy (its synth.json says so) is refused by
/// `adamm train` before anything is written, naming the case.
#[test]
fn train_refuses_cases_of_the_held_out_anatomy() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    for i in 0..3 {
        let id = format!("TINY-{i:03}");
        write_case(&data.join(&id), &id, i, &las());
    }
    let provenance = adamm_synth::Provenance {
        generator: "adamm-synth".into(),
        anatomy: "mni_icbm152".into(),
        held_out: true,
        seed: 1,
        contrast: "realistic".into(),
        acquisition: "realistic".into(),
        shape: "realistic".into(),
        degradations: adamm_synth::Degradations::default(),
        perturbation: None,
        appearance: None,
    };
    provenance
        .write(&data.join("TINY-001"))
        .expect("provenance");
    let config = tmp.path().join("tiny.json");
    tiny_config().save(&config).expect("config");
    let run = tmp.path().join("run");
    let s = |p: &Path| p.display().to_string();
    let err = failed(adamm(&[
        "train",
        "--data",
        &s(&data),
        "--run",
        &s(&run),
        "--config",
        &s(&config),
    ]));
    assert!(
        err.contains("TINY-001") && err.contains("held-out anatomy mni_icbm152"),
        "{err}"
    );
    assert!(!run.exists(), "nothing is written for a refused set");
}
