//! Project automation for AdaMM, run as `cargo xtask <command>` (alias in `.cargo/config.toml`).
//!
//! * `cargo xtask test`: install the pinned tools if needed, then format check, clippy (native
//!   and wasm32), native tests, the app's state-logic tests in Chromium (wasm-bindgen-test),
//!   the release wasm build of the app with Trunk and the end-to-end browser tests
//!   (`tests/e2e`). Stops at the first failing step and names it.
//! * `cargo xtask bench-browser`: the same Trunk build, the reference worker built without SIMD
//!   (`target/wasm-reference/`, a second cold wasm build of every crate), and the end-to-end
//!   run with that worker timed beside the shipped one (the SIMD speed-up). Kept out of `test`:
//!   it is a benchmark, and the second build would add a quarter of an hour to CI.
//! * `cargo xtask serve [--port N]`: install the pinned tools if needed, then `trunk serve`.
//! * `cargo xtask fuzz [--seconds N]`: run the `read_bytes` fuzz target of `crates/volume/fuzz`.
//!
//! Every step prints the command it runs and how long it took.

mod lockfile;

use std::{
    env,
    ffi::OsString,
    fmt::Write as _,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

/// The Trunk release that builds with this project's Rust (1.95): 0.22 needs rustc 1.96.1.
const TRUNK_VERSION: &str = "0.21.14";
/// The Rust target the app is built for.
const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The browser app's package (the root package of the workspace).
const APP_PACKAGE: &str = "adamm-app";
/// The segmentation worker's binary in [`APP_PACKAGE`] (`src/bin/worker/`).
const WORKER_BIN: &str = "worker";
/// The feature of [`APP_PACKAGE`] that builds the worker (it brings in the network, Burn):
/// clippy lints the worker with it; the page and its state-logic tests build without it.
const WORKER_FEATURE: &str = "adamm-app/worker";
/// Where `cargo xtask test` builds the reference worker without SIMD (its own Cargo target
/// folder, since other compiler flags rebuild every crate): `dist/` under it holds `worker.js`
/// and `worker_bg.wasm`, which the browser test serves in place of the shipped ones to time
/// the wasm CPU path as it was before SIMD.
const REFERENCE_DIR: &str = "target/wasm-reference";
/// The environment variable naming the reference worker's folder to the browser test; without
/// it the test times the shipped build only.
const REFERENCE_ENV: &str = "ADAMM_REFERENCE_WORKER";
/// The fuzz target run by `cargo xtask fuzz`.
const FUZZ_TARGET: &str = "read_bytes";
/// The crate whose `fuzz/` folder holds the cargo-fuzz project, relative to the workspace root.
const FUZZ_CRATE: &str = "crates/volume";

#[derive(Parser)]
#[command(name = "cargo xtask", about = "AdaMM project automation")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install the pinned tools, then check formatting, lint, test and build everything.
    Test,
    /// Build the app and the reference worker without SIMD, then run the browser tests with
    /// that worker timed beside the shipped one.
    BenchBrowser,
    /// Install the pinned tools, then serve the app (release build) on 127.0.0.1.
    Serve {
        /// Port to listen on (Trunk's default, 8080, when left out).
        #[arg(long)]
        port: Option<u16>,
    },
    /// Run the `read_bytes` fuzz target of `crates/volume/fuzz`.
    Fuzz {
        /// How long to fuzz, in seconds.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut steps = Steps::default();
    let result = match cli.command {
        Cmd::Test => test(&mut steps),
        Cmd::BenchBrowser => bench_browser(&mut steps),
        Cmd::Serve { port } => serve(&mut steps, port),
        Cmd::Fuzz { seconds } => fuzz(&mut steps, seconds),
    };
    steps.print_summary();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nxtask: FAILED: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The steps run so far, with their durations, for the closing summary.
#[derive(Default)]
struct Steps {
    done: Vec<(String, Duration, bool)>,
    started: Option<Instant>,
}

impl Steps {
    /// Runs `cmd` as the step `name`: prints it, times it, and fails naming the step when the
    /// command cannot start or exits unsuccessfully.
    fn run(&mut self, name: &str, cmd: &mut Command) -> Result<()> {
        self.started.get_or_insert_with(Instant::now);
        println!("\n==> [{name}] {}", show(cmd));
        let start = Instant::now();
        let status = cmd.status();
        let took = start.elapsed();
        let ok = matches!(&status, Ok(s) if s.success());
        println!(
            "<== [{name}] {} in {}",
            if ok { "ok" } else { "FAILED" },
            secs(took)
        );
        self.done.push((name.to_owned(), took, ok));
        match status {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => bail!("step `{name}` failed ({s}): {}", show(cmd)),
            Err(e) => bail!("step `{name}` could not start `{}`: {e}", show(cmd)),
        }
    }

    /// Prints a note that is not a step (a tool already present, a step skipped and why).
    fn note(&self, text: &str) {
        println!("--- {text}");
    }

    fn print_summary(&self) {
        if self.done.is_empty() {
            return;
        }
        let mut out = String::from("\nxtask steps:\n");
        for (name, took, ok) in &self.done {
            let mark = if *ok { "ok    " } else { "FAILED" };
            let _ = writeln!(out, "  {mark} {:>9}  {name}", secs(*took));
        }
        if let Some(start) = self.started {
            let _ = writeln!(out, "  total  {:>9}", secs(start.elapsed()));
        }
        print!("{out}");
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// A command line as a shell would show it, with the environment variables this tool set.
fn show(cmd: &Command) -> String {
    let mut parts: Vec<String> = cmd
        .get_envs()
        .filter(|(k, _)| *k != "PATH")
        .filter_map(|(k, v)| Some(format!("{}={}", k.to_str()?, v?.to_string_lossy())))
        .collect();
    let program = cmd.get_program();
    // `cargo()` runs the toolchain's own cargo binary; call it `cargo` when printing.
    if env::var_os("CARGO").as_deref() == Some(program) {
        parts.push("cargo".to_owned());
    } else {
        parts.push(program.to_string_lossy().into_owned());
    }
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

/// The workspace root (the parent of this crate's folder).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one folder below the workspace root")
        .to_path_buf()
}

/// The folder `cargo install` puts binaries in.
fn cargo_bin_dir() -> PathBuf {
    env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from(".cargo"))
        .join("bin")
}

/// `PATH` with cargo's bin folder first, so that freshly installed tools are found (Trunk looks
/// for `wasm-bindgen` on `PATH`).
fn path_with_cargo_bin() -> OsString {
    let mut dirs = vec![cargo_bin_dir()];
    if let Some(path) = env::var_os("PATH") {
        dirs.extend(env::split_paths(&path));
    }
    env::join_paths(dirs).unwrap_or_default()
}

/// A command run in the workspace root, with cargo's bin folder on `PATH`.
fn command(program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(root()).env("PATH", path_with_cargo_bin());
    cmd
}

/// `cargo`, as the one that started this xtask (so the same toolchain is used).
fn cargo() -> Command {
    let program = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    command(&program)
}

/// The first line `program --version` prints, or `None` when it cannot be run.
fn version_of(program: &str, args: &[&str]) -> Option<String> {
    let out = command(program).args(args).arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(text.lines().next().unwrap_or_default().trim().to_owned())
}

/// Whether a `--version` line (`wasm-bindgen 0.2.130`, `trunk 0.21.14`) names exactly `version`.
fn reports_version(line: Option<&str>, version: &str) -> bool {
    line.and_then(|l| l.split_whitespace().nth(1)) == Some(version)
}

/// Installs what building the app needs: the wasm32 target, wasm-bindgen-cli at exactly the
/// version of the `wasm-bindgen` crate in `Cargo.lock`, and Trunk [`TRUNK_VERSION`].
fn ensure_tools(steps: &mut Steps) -> Result<()> {
    if version_of("rustup", &[]).is_some() {
        steps.run(
            "wasm32 target",
            command("rustup").args(["target", "add", WASM_TARGET]),
        )?;
    } else {
        steps.note("rustup not found: assuming the wasm32-unknown-unknown target is installed");
    }

    let lock = std::fs::read_to_string(root().join("Cargo.lock")).context("reading Cargo.lock")?;
    let wasm_bindgen = lockfile::package_version(&lock, "wasm-bindgen")
        .context("Cargo.lock has no `wasm-bindgen` package")?;
    check_trunk_toml(&wasm_bindgen)?;
    let found = version_of("wasm-bindgen", &[]);
    if reports_version(found.as_deref(), &wasm_bindgen) {
        steps.note(&format!("wasm-bindgen {wasm_bindgen} present"));
    } else {
        steps.note(&format!(
            "wasm-bindgen-cli {wasm_bindgen} needed (Cargo.lock), found {}",
            found.as_deref().unwrap_or("none")
        ));
        // Not `--locked`: the lock file published with wasm-bindgen-cli 0.2.130 names a
        // webpki-roots version that is no longer in the registry.
        steps.run(
            "install wasm-bindgen-cli",
            cargo().args([
                "install",
                "wasm-bindgen-cli",
                "--version",
                &format!("={wasm_bindgen}"),
            ]),
        )?;
    }

    let found = version_of("trunk", &[]);
    if reports_version(found.as_deref(), TRUNK_VERSION) {
        steps.note(&format!("trunk {TRUNK_VERSION} present"));
    } else {
        steps.note(&format!(
            "trunk {TRUNK_VERSION} needed, found {}",
            found.as_deref().unwrap_or("none")
        ));
        steps.run(
            "install trunk",
            cargo().args([
                "install",
                "trunk",
                "--version",
                &format!("={TRUNK_VERSION}"),
                "--locked",
            ]),
        )?;
    }
    Ok(())
}

/// Fails unless `Trunk.toml` pins the same wasm-bindgen version as `Cargo.lock`: with
/// `offline = true` Trunk only uses a `wasm-bindgen` on `PATH` of exactly that version.
fn check_trunk_toml(wasm_bindgen: &str) -> Result<()> {
    let trunk_toml =
        std::fs::read_to_string(root().join("Trunk.toml")).context("reading Trunk.toml")?;
    match lockfile::trunk_wasm_bindgen(&trunk_toml) {
        Some(v) if v == wasm_bindgen => Ok(()),
        Some(v) => bail!(
            "Trunk.toml pins wasm_bindgen = \"{v}\" but Cargo.lock has wasm-bindgen {wasm_bindgen}: \
             make them equal"
        ),
        None => bail!("Trunk.toml has no `[tools] wasm_bindgen = \"{wasm_bindgen}\"`"),
    }
}

/// `cargo xtask test`.
fn test(steps: &mut Steps) -> Result<()> {
    ensure_tools(steps)?;
    let e2e = browser_test_packages()?;

    steps.run("fmt", cargo().args(["fmt", "--all", "--", "--check"]))?;
    steps.run(
        "clippy (native)",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--features",
            WORKER_FEATURE,
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    steps.run(
        "clippy (wasm32 app)",
        cargo().args([
            "clippy",
            "--package",
            APP_PACKAGE,
            "--target",
            WASM_TARGET,
            "--all-targets",
            "--features",
            WORKER_FEATURE,
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    let mut native_tests = cargo();
    native_tests.args(["test", "--workspace"]);
    for package in &e2e {
        // Browser tests need the built app; they run after the Trunk build below.
        native_tests.args(["--exclude", package]);
    }
    steps.run("test (native)", &mut native_tests)?;
    steps.run(
        "test (wasm32 app, in Chromium)",
        cargo()
            .args([
                "test",
                "--package",
                APP_PACKAGE,
                "--target",
                WASM_TARGET,
                "--test",
                "web",
            ])
            .env("CHROMEDRIVER", chromedriver()),
    )?;
    steps.run("trunk build", command("trunk").args(["build", "--release"]))?;
    run_browser_tests(steps, &e2e, None)
}

/// `cargo xtask bench-browser`.
fn bench_browser(steps: &mut Steps) -> Result<()> {
    ensure_tools(steps)?;
    let e2e = browser_test_packages()?;
    steps.run("trunk build", command("trunk").args(["build", "--release"]))?;
    let reference = build_reference_worker(steps)?;
    run_browser_tests(steps, &e2e, Some(&reference))
}

/// Builds the worker as the page had it before SIMD (release, `-C target-feature=-simd128`
/// instead of `.cargo/config.toml`'s `+simd128`) into [`REFERENCE_DIR`], bound by wasm-bindgen
/// as Trunk binds a `data-type="worker"` binary (`--target no-modules`, `worker.js`). The browser
/// test times it beside the shipped build. Returns the folder holding `worker.js` and
/// `worker_bg.wasm`.
fn build_reference_worker(steps: &mut Steps) -> Result<PathBuf> {
    let dir = root().join(REFERENCE_DIR);
    steps.run(
        "reference worker without SIMD (cargo build)",
        cargo()
            .args([
                "build",
                "--release",
                "--package",
                APP_PACKAGE,
                "--bin",
                WORKER_BIN,
                "--features",
                WORKER_FEATURE,
                "--target",
                WASM_TARGET,
            ])
            .env("CARGO_TARGET_DIR", &dir)
            // RUSTFLAGS replaces the target's rustflags from .cargo/config.toml.
            .env("RUSTFLAGS", "-C target-feature=-simd128"),
    )?;
    let wasm = dir
        .join(WASM_TARGET)
        .join("release")
        .join(format!("{WORKER_BIN}.wasm"));
    steps.run(
        "reference worker without SIMD (wasm-bindgen)",
        command("wasm-bindgen")
            .args(["--target", "no-modules", "--no-typescript", "--out-name"])
            .arg(WORKER_BIN)
            .arg("--out-dir")
            .arg(dir.join("dist"))
            .arg(wasm),
    )?;
    Ok(dir.join("dist"))
}

/// The chromedriver to use: `$CHROMEDRIVER`, else Debian's (`apt-get install chromium-driver`).
fn chromedriver() -> String {
    env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned())
}

/// The packages of end-to-end browser-test crates, i.e. `tests/<name>/Cargo.toml`.
fn browser_test_packages() -> Result<Vec<String>> {
    let dir = root().join("tests");
    let mut packages = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(packages);
    };
    for entry in entries {
        let manifest = entry?.path().join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&manifest) {
            let name = lockfile::manifest_package_name(&text)
                .with_context(|| format!("{} has no [package] name", manifest.display()))?;
            packages.push(name);
        }
    }
    packages.sort();
    Ok(packages)
}

/// Runs the browser tests (`cargo test -p <crate>` for each crate under `tests/`) against the
/// app Trunk just built; with `reference`, the worker there is timed beside the shipped one
/// (passed as [`REFERENCE_ENV`]). Skipped, with a note, while no such crate exists.
fn run_browser_tests(
    steps: &mut Steps,
    packages: &[String],
    reference: Option<&Path>,
) -> Result<()> {
    if packages.is_empty() {
        steps.note("browser tests: no crate under tests/ yet, nothing to run");
        return Ok(());
    }
    for package in packages {
        let mut cmd = cargo();
        // --nocapture: the e2e run prints its timings (wasm size, first paint, time to
        // segment on each backend).
        cmd.args(["test", "--package", package, "--", "--nocapture"])
            .env("CHROMEDRIVER", chromedriver());
        match reference {
            Some(dir) => cmd.env(REFERENCE_ENV, dir),
            None => cmd.env_remove(REFERENCE_ENV),
        };
        steps.run(&format!("browser tests ({package})"), &mut cmd)?;
    }
    Ok(())
}

/// `cargo xtask serve`.
fn serve(steps: &mut Steps, port: Option<u16>) -> Result<()> {
    ensure_tools(steps)?;
    let mut cmd = command("trunk");
    // Trunk.toml turns auto-reload off: its inline script would break the page's CSP.
    cmd.args(["serve", "--release", "--address", "127.0.0.1"]);
    if let Some(port) = port {
        cmd.args(["--port", &port.to_string()]);
    }
    steps.run("trunk serve", &mut cmd)
}

/// `cargo xtask fuzz`.
fn fuzz(steps: &mut Steps, seconds: u64) -> Result<()> {
    let crate_dir = root().join(FUZZ_CRATE);
    let manifest = crate_dir.join("fuzz").join("Cargo.toml");
    if !manifest.exists() {
        bail!(
            "{} does not exist: there is no fuzz project to run",
            manifest.display()
        );
    }
    if version_of("cargo", &["fuzz"]).is_some() {
        steps.note("cargo-fuzz present");
    } else {
        steps.run(
            "install cargo-fuzz",
            cargo().args(["install", "cargo-fuzz", "--locked"]),
        )?;
    }

    let has_nightly = command("rustup")
        .args(["toolchain", "list"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.starts_with("nightly"))
        })
        .unwrap_or(false);
    steps.note(if has_nightly {
        "using the nightly toolchain"
    } else {
        "no nightly toolchain: using stable with RUSTC_BOOTSTRAP=1"
    });
    let mut cmd = fuzz_command(has_nightly, seconds);
    // cargo-fuzz finds the project in `fuzz/` below the current directory.
    cmd.current_dir(&crate_dir);
    steps.run(&format!("fuzz {FUZZ_TARGET} for {seconds} s"), &mut cmd)
}

/// The `cargo fuzz run` command line. cargo-fuzz passes nightly-only flags to rustc
/// (`-Zsanitizer=address`), so it runs on the nightly toolchain when rustup has one, otherwise
/// on this stable toolchain with `RUSTC_BOOTSTRAP=1`, which lets it accept them.
fn fuzz_command(has_nightly: bool, seconds: u64) -> Command {
    let mut cmd = if has_nightly {
        let mut cmd = command("rustup");
        cmd.args(["run", "nightly", "cargo"]);
        cmd
    } else {
        let mut cmd = cargo();
        cmd.env("RUSTC_BOOTSTRAP", "1");
        cmd
    };
    cmd.args(["fuzz", "run", FUZZ_TARGET, "--"])
        .arg(format!("-max_total_time={seconds}"));
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_lines() {
        assert!(reports_version(Some("wasm-bindgen 0.2.130"), "0.2.130"));
        assert!(reports_version(Some("trunk 0.21.14"), "0.21.14"));
        assert!(!reports_version(Some("trunk 0.21.1"), "0.21.14"));
        assert!(!reports_version(Some("wasm-bindgen"), "0.2.130"));
        assert!(!reports_version(None, "0.2.130"));
    }

    #[test]
    fn trunk_toml_matches_lockfile() {
        let lock = std::fs::read_to_string(root().join("Cargo.lock")).unwrap();
        let version = lockfile::package_version(&lock, "wasm-bindgen").unwrap();
        check_trunk_toml(&version).unwrap();
    }

    #[test]
    fn fuzz_commands() {
        let nightly = fuzz_command(true, 5);
        assert_eq!(
            show(&nightly),
            "rustup run nightly cargo fuzz run read_bytes -- -max_total_time=5"
        );
        assert_eq!(
            show(&fuzz_command(false, 60)),
            "RUSTC_BOOTSTRAP=1 cargo fuzz run read_bytes -- -max_total_time=60"
        );
    }

    #[test]
    fn shows_commands() {
        let mut cmd = Command::new("cargo");
        cmd.args(["fuzz", "run"]).env("RUSTC_BOOTSTRAP", "1");
        assert_eq!(show(&cmd), "RUSTC_BOOTSTRAP=1 cargo fuzz run");
    }
}
