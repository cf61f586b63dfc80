//! `adamm model-info` end to end.

use std::process::{Command, Output};

fn adamm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_adamm"))
        .args(args)
        .output()
        .expect("run adamm")
}

#[test]
fn paper_preset_prints_the_breakdown_against_the_authors_and_the_flops() {
    let out = adamm(&["model-info"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "backbone",
        "4778212",
        "adapter entry",
        "134288",
        "adapter bank (15 entries)",
        "7101885",
        "GARM",
        "182406",
        "128³",
        "325.9 GFLOP",
        "341.1 GFLOP",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
}

#[test]
fn light_preset_and_window_are_honoured() {
    let out = adamm(&["model-info", "--preset", "light", "--window", "64"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("preset light: base width 8"), "{text}");
    assert!(text.contains("adapter bank (14 entries)"), "{text}");
    assert!(text.contains("64³"), "{text}");
    assert!(
        !text.contains("authors"),
        "no comparison for the light preset:\n{text}"
    );
}

#[test]
fn bad_preset_or_window_is_a_one_line_error() {
    for args in [
        &["model-info", "--preset", "huge"][..],
        &["model-info", "--window", "100"][..],
    ] {
        let out = adamm(args);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.starts_with("error: "), "{err}");
    }
}
