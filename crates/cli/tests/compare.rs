//! `adamm compare` end to end: two small metrics.csv files in, the paired table out (on
//! stdout and in --out), and one-line errors for evaluations that cannot be paired.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Output};

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

/// A metrics.csv for `cases` on 1111 and 0001; Dice from `dice(case index, combination
/// index, region index)`.
fn write_metrics(path: &Path, cases: &[&str], dice: impl Fn(usize, usize, usize) -> f64) {
    let mut text = String::from("case,combination,region,dice,hd95,iou,sensitivity,specificity\n");
    for (i, case) in cases.iter().enumerate() {
        for (j, combination) in ["0001", "1111"].iter().enumerate() {
            for (k, region) in ["WT", "TC", "ET"].iter().enumerate() {
                let d = dice(i, j, k);
                writeln!(
                    text,
                    "{case},{combination},{region},{d:.6},2.0000,{:.6},0.900000,0.999000",
                    d / (2.0 - d)
                )
                .expect("format");
            }
        }
    }
    std::fs::write(path, text).expect("write metrics.csv");
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn compare_prints_the_paired_table_and_writes_it() {
    let dir = tempfile::tempdir().expect("tmp");
    // A as an eval output folder, B as the csv itself.
    let eval_a = dir.path().join("eval-a");
    std::fs::create_dir(&eval_a).expect("mkdir");
    let csv_b = dir.path().join("b.csv");
    let cases = ["c1", "c2", "c3"];
    // Combination 0001: A leads by 0.05 everywhere; 1111: A leads by 0.02.
    let base =
        |i: usize, j: usize, k: usize| 0.6 + 0.1 * i as f64 + 0.1 * j as f64 - 0.1 * k as f64;
    write_metrics(&eval_a.join("metrics.csv"), &cases, base);
    write_metrics(&csv_b, &cases, |i, j, k| {
        base(i, j, k) - if j == 0 { 0.05 } else { 0.02 }
    });
    let md = dir.path().join("compare.md");
    let out = adamm(&[
        "compare",
        "--a",
        s(&eval_a),
        "--b",
        s(&csv_b),
        "--name-a",
        "teacher",
        "--name-b",
        "no-teacher",
        "--resamples",
        "500",
        "--seed",
        "3",
        "--out",
        s(&md),
    ]);
    let text = ok(&out);
    assert!(text.contains("# teacher vs no-teacher"), "{text}");
    assert!(text.contains("on 3 cases"), "{text}");
    assert!(text.contains("500 resamples, seed 3"), "{text}");
    assert!(
        text.contains(
            "| region | teacher | no-teacher | teacher − no-teacher | 95 % interval | cases teacher > no-teacher |"
        ),
        "{text}"
    );
    // Mean over the two combinations: WT of A = mean over cases (0.7) + 0.05; lead 0.035.
    assert!(text.contains("**Mean over 2 combinations**"), "{text}");
    assert!(
        text.contains("| WT | 75.00 | 71.50 | +3.50 | [+3.50, +3.50] | 3 / 3 |"),
        "{text}"
    );
    assert!(
        text.contains("| ET | 55.00 | 51.50 | +3.50 | [+3.50, +3.50] | 3 / 3 |"),
        "{text}"
    );
    // All four alone: WT of A = 0.8, lead 0.02.
    assert!(text.contains("**All four modalities (1111)**"), "{text}");
    assert!(
        text.contains("| WT | 80.00 | 78.00 | +2.00 | [+2.00, +2.00] | 3 / 3 |"),
        "{text}"
    );
    let written = std::fs::read_to_string(&md).expect("--out file");
    assert!(
        written.contains("| TC | 70.00 | 68.00 | +2.00 |"),
        "{written}"
    );
    assert!(
        text.starts_with(&written),
        "stdout is the file, then where it went"
    );
    assert!(text.contains(&format!("wrote {}", md.display())), "{text}");

    // --combinations 0001 alone: one combination, no all-four table.
    let out = adamm(&[
        "compare",
        "--a",
        s(&eval_a),
        "--b",
        s(&csv_b),
        "--combinations",
        "0001",
    ]);
    let text = ok(&out);
    assert!(text.contains("**Combination 0001**"), "{text}");
    assert!(text.contains("| region | A | B | A − B |"), "{text}");
    assert!(
        text.contains("| WT | 70.00 | 65.00 | +5.00 | [+5.00, +5.00] | 3 / 3 |"),
        "{text}"
    );
    assert!(text.contains("(1111) were not compared"), "{text}");
}

#[test]
fn compare_refuses_evaluations_it_cannot_pair() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = dir.path().join("a.csv");
    let b = dir.path().join("b.csv");
    let c = dir.path().join("c.csv");
    write_metrics(&a, &["c1", "c2", "c3"], |_, _, _| 0.8);
    write_metrics(&b, &["c1", "c2", "c4"], |_, _, _| 0.7);
    write_metrics(&c, &["x1"], |_, _, _| 0.7);

    let err = one_line_error(&adamm(&["compare", "--a", s(&a), "--b", s(&b)]));
    assert!(err.contains("only in A: c3; only in B: c4"), "{err}");
    assert!(err.contains(&format!("comparing {}", a.display())), "{err}");

    let err = one_line_error(&adamm(&["compare", "--a", s(&a), "--b", s(&c)]));
    assert!(err.contains("A and B share no case"), "{err}");

    let mut text = std::fs::read_to_string(&b).expect("read");
    text = text.replacen("0.700000", "nan", 2);
    std::fs::write(&b, text).expect("write");
    let err = one_line_error(&adamm(&["compare", "--a", s(&a), "--b", s(&b)]));
    assert!(
        err.contains(&format!("{}, line 2: dice is nan", b.display())),
        "{err}"
    );

    let missing = dir.path().join("nothing-here");
    let err = one_line_error(&adamm(&["compare", "--a", s(&missing), "--b", s(&a)]));
    assert!(err.contains("nothing-here"), "{err}");
}
