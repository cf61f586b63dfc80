//! The browser app end to end, in real headless Chromium driven through chromedriver, against
//! the Trunk-built `dist/` served on 127.0.0.1 (build it first: `cargo xtask test` does).
//!
//! One session walks through what a user does: open the page, load a case, segment it,
//! download the result; the labels must equal the native pipeline's (`adamm segment`'s steps)
//! on the same files and carry the input's grid. WebGPU (Chromium's software adapter here) runs
//! a small case and must agree with the CPU backend. A case whose FLAIR is on another grid
//! (3 mm slices, moved) must be registered and segmented as natively. A corrupt file must get
//! its message. A whole-head scan as the scanner wrote it (real, 2-D, 6.5 mm slices) must have
//! its brain extracted, outlined over the scan and the labels kept inside it, as natively.
//! The sample is timed in one worker, with the pool of workers and natively; under `cargo xtask
//! bench-browser` also in one worker of a reference build without SIMD (the folder named by
//! `ADAMM_REFERENCE_WORKER`, served on a second origin).
//! Every request the browser makes must go to the page's own origins. Screenshots and the
//! timings are written to `target/e2e/`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use adamm_model::burn::tensor::Device;
use adamm_model::{BrainExtractor, LoadedStudent, Pipeline, Scans, StripNet};
use adamm_volume::brats::{LabelConvention, Region};
use adamm_volume::metrics::region_metrics;
use adamm_volume::nifti_io::write_bytes;
use adamm_volume::regrid::{resample, Interpolation, TargetGrid};
use adamm_volume::{read_path, Affine, Header, Rigid, Volume};
use anyhow::{bail, ensure, Context, Result};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

const SAMPLE: [&str; 4] = ["t1n", "t1c", "t2w", "t2f"];

/// The repository root, canonical (chromedriver refuses file paths with `..` in them).
fn root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

fn sample_file(suffix: &str) -> PathBuf {
    root().join(format!("public/sample/SYN-GLI-00003-000-{suffix}.nii.gz"))
}

fn artefacts() -> PathBuf {
    let dir = root().join("target/e2e");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

// ---- serving dist/ ----------------------------------------------------------------------

/// Serves `dist/` on 127.0.0.1 and records every path asked for.
struct Server {
    port: u16,
    _thread: std::thread::JoinHandle<()>,
}

fn mime(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// The reference worker built without SIMD by `cargo xtask bench-browser` (`worker.js` and
/// `worker_bg.wasm`, bound as Trunk binds the shipped ones), when `ADAMM_REFERENCE_WORKER`
/// names its folder.
fn reference_worker() -> Option<PathBuf> {
    std::env::var_os("ADAMM_REFERENCE_WORKER").map(PathBuf::from)
}

/// The files of `overlay` that replace the same names in `dist/` (the worker's).
const OVERLAID: [&str; 2] = ["worker.js", "worker_bg.wasm"];

/// Serves `dist/`, with [`OVERLAID`] files taken from `overlay` when given, and records every
/// path asked for in `log`.
fn serve(dist: PathBuf, overlay: Option<PathBuf>, log: Arc<Mutex<Vec<String>>>) -> Result<Server> {
    let server = tiny_http::Server::http("127.0.0.1:0").map_err(|e| anyhow::anyhow!("{e}"))?;
    let port = server
        .server_addr()
        .to_ip()
        .context("not an IP address")?
        .port();
    let thread = std::thread::spawn(move || {
        for request in server.incoming_requests() {
            let url = request.url().split('?').next().unwrap_or("/").to_owned();
            log.lock()
                .expect("no thread panics holding the log")
                .push(url.clone());
            let rel = url.trim_start_matches('/');
            let (root, path) = match &overlay {
                Some(o) if OVERLAID.contains(&rel) => (o, o.join(rel)),
                _ if rel.is_empty() => (&dist, dist.join("index.html")),
                _ => (&dist, dist.join(rel)),
            };
            let inside = path
                .canonicalize()
                .ok()
                .filter(|p| p.starts_with(root.canonicalize().unwrap_or_default()));
            let response = match inside.and_then(|p| std::fs::read(&p).ok().map(|b| (p, b))) {
                Some((p, bytes)) => {
                    let header =
                        tiny_http::Header::from_bytes("Content-Type", mime(&p)).expect("header");
                    tiny_http::Response::from_data(bytes).with_header(header)
                }
                None => tiny_http::Response::from_data(b"not found".to_vec()).with_status_code(404),
            };
            let _ = request.respond(response);
        }
    });
    Ok(Server {
        port,
        _thread: thread,
    })
}

// ---- chromedriver -----------------------------------------------------------------------

struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn start_driver() -> Result<Driver> {
    let exe = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let port = free_port()?;
    let child = Command::new(&exe)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {exe} (apt-get install chromium-driver)"))?;
    let driver = Driver { child, port };
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        ensure!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(driver)
}

/// chromedriver's own commands: read the performance log, run a DevTools command.
#[derive(Debug)]
enum Chrome {
    /// A log: `performance` (network events) or `browser` (the console).
    Log(&'static str),
    Cdp(&'static str, Value),
}

impl WebDriverCompatibleCommand for Chrome {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let id = session_id.unwrap_or_default();
        match self {
            Chrome::Log(_) => base_url.join(&format!("session/{id}/se/log")),
            Chrome::Cdp(..) => base_url.join(&format!("session/{id}/goog/cdp/execute")),
        }
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = match self {
            Chrome::Log(kind) => json!({ "type": kind }),
            Chrome::Cdp(cmd, params) => json!({"cmd": cmd, "params": params}),
        };
        (http::Method::POST, Some(body.to_string()))
    }
}

async fn connect(driver: &Driver, downloads: &Path) -> Result<Client> {
    let mut args = vec![
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        // Containers often give /dev/shm only 64 MB; the renderer's large buffers go to /tmp.
        "--disable-dev-shm-usage",
        "--enable-unsafe-webgpu",
        // WebGL (the 3-D view) on SwiftShader without a GPU: Chromium deprecates the automatic
        // fallback and asks for this flag.
        "--enable-unsafe-swiftshader",
        "--window-size=1400,1100",
    ];
    let profile = tempfile::tempdir()?;
    let profile_arg = format!("--user-data-dir={}", profile.path().display());
    args.push(&profile_arg);
    let mut options = json!({
        "args": args,
        "prefs": {
            "download.default_directory": downloads.display().to_string(),
            "download.prompt_for_download": false,
            // Several downloads from one page (one per result) without a prompt.
            "profile.default_content_setting_values.automatic_downloads": 1,
        },
    });
    if let Ok(binary) = std::env::var("CHROME") {
        options["binary"] = json!(binary);
    } else if Path::new("/usr/bin/chromium").exists() {
        options["binary"] = json!("/usr/bin/chromium");
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    caps.insert(
        "goog:loggingPrefs".into(),
        json!({"performance": "ALL", "browser": "ALL"}),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .context("starting Chromium through chromedriver")?;
    // The profile folder must outlive the browser; it is removed with the test's temp dir.
    std::mem::forget(profile);
    client
        .issue_cmd(Chrome::Cdp(
            "Page.setDownloadBehavior",
            json!({"behavior": "allow", "downloadPath": downloads.display().to_string()}),
        ))
        .await
        .context("allowing downloads")?;
    Ok(client)
}

// ---- page helpers -----------------------------------------------------------------------

async fn text(c: &Client, css: &str) -> Result<String> {
    Ok(c.find(Locator::Css(css)).await?.text().await?)
}

/// Waits until `css` matches an element, up to `limit`.
async fn wait_for(c: &Client, css: &str, limit: Duration) -> Result<()> {
    let started = Instant::now();
    loop {
        if c.find(Locator::Css(css)).await.is_ok() {
            return Ok(());
        }
        if started.elapsed() > limit {
            let body = text(c, "body").await.unwrap_or_default();
            bail!("no {css} after {limit:?}; the page says:\n{body}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn file_count(c: &Client) -> Result<usize> {
    Ok(c.find_all(Locator::Css("ul.files li")).await?.len())
}

async fn clear_files(c: &Client) -> Result<()> {
    while let Ok(button) = c.find(Locator::Css("ul.files li button.remove")).await {
        button.click().await?;
    }
    Ok(())
}

async fn upload(c: &Client, files: &[PathBuf]) -> Result<()> {
    let before = file_count(c).await?;
    let list: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    c.find(Locator::Css("#nifti-files"))
        .await?
        .send_keys(&list.join("\n"))
        .await?;
    let started = Instant::now();
    while file_count(c).await? < before + files.len() {
        ensure!(
            started.elapsed() < Duration::from_secs(60),
            "the files did not appear"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// Clicks "try the sample" and waits for its five files.
async fn load_sample(c: &Client) -> Result<()> {
    c.find(Locator::Css("#sample")).await?.click().await?;
    let started = Instant::now();
    while file_count(c).await? < 5 {
        ensure!(
            started.elapsed() < Duration::from_secs(60),
            "the sample did not load"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

async fn choose_backend(c: &Client, value: &str) -> Result<()> {
    c.find(Locator::Css(&format!(
        "section.model select option[value='{value}']"
    )))
    .await?
    .click()
    .await?;
    wait_for(
        c,
        ".model-state[data-state='ready']",
        Duration::from_secs(120),
    )
    .await
}

/// Sets the CPU workers (`0`: one per core).
async fn choose_workers(c: &Client, value: &str) -> Result<()> {
    c.find(Locator::Css(&format!("#workers option[value='{value}']")))
        .await?
        .click()
        .await?;
    Ok(())
}

/// The current report's notes (what the pipeline did), one per line.
async fn report_notes(c: &Client) -> Result<String> {
    let notes = c
        .execute(
            "return Array.from(document.querySelectorAll('.report.current .notes li'))\
             .map(li => li.textContent).join('\\n');",
            vec![],
        )
        .await?;
    Ok(notes.as_str().unwrap_or_default().to_owned())
}

/// How long one segmentation took.
#[derive(Debug, Clone, Copy)]
struct Timing {
    /// Seconds the worker reported (its own work).
    worker: f64,
    /// Seconds from the click on Segment to the result's report on screen.
    on_screen: f64,
}

/// Clicks Segment and waits for its result (a report with a new job number).
async fn segment(c: &Client, limit: Duration) -> Result<Timing> {
    let current = ".report.current";
    let previous = match c.find(Locator::Css(current)).await {
        Ok(e) => e.attr("data-job").await?,
        Err(_) => None,
    };
    let button = c.find(Locator::Css("#segment")).await?;
    let started = Instant::now();
    button.click().await?;
    loop {
        if let Ok(report) = c.find(Locator::Css(current)).await {
            if report.attr("data-job").await? != previous {
                let t = report.find(Locator::Css("h3")).await?.text().await?;
                let seconds = t
                    .split(" · ")
                    .nth(1)
                    .and_then(|s| s.split(' ').next())
                    .and_then(|s| s.parse().ok())
                    .with_context(|| format!("no time in the report {t:?}"))?;
                return Ok(Timing {
                    worker: seconds,
                    on_screen: started.elapsed().as_secs_f64(),
                });
            }
        }
        if let Ok(n) = c.find(Locator::Css("section.run .notice")).await {
            bail!("segmentation failed: {}", n.text().await?);
        }
        ensure!(
            started.elapsed() < limit,
            "no result after {limit:?}: {}",
            text(c, "section.run").await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// What the 3-D view shows: lit pixels, red ones (ET, seen through the translucent regions
/// around it: red to orange), and a hash of all of them.
#[derive(Debug, Clone, Copy, PartialEq)]
struct SurfacePixels {
    lit: u64,
    red: u64,
    hash: u64,
}

async fn surface_pixels(c: &Client) -> Result<SurfacePixels> {
    let v = c
        .execute(
            "const c = document.querySelector(\"canvas[data-plane='3d']\"); \
             const t = document.createElement('canvas'); t.width = c.width; t.height = c.height; \
             const x = t.getContext('2d'); x.drawImage(c, 0, 0); \
             const d = x.getImageData(0, 0, t.width, t.height).data; \
             let lit = 0, red = 0, hash = 0; \
             for (let i = 0; i < d.length; i += 4) { \
               if (d[i] + d[i + 1] + d[i + 2] > 90) lit++; \
               if (d[i] > d[i + 1] + 20 && d[i] > d[i + 2] + 60) red++; \
               hash = (hash * 31 + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) % 1000000007; \
             } \
             return [lit, red, hash];",
            vec![],
        )
        .await?;
    let n = |i: usize| v[i].as_u64().context("not a pixel count");
    Ok(SurfacePixels {
        lit: n(0)?,
        red: n(1)?,
        hash: n(2)?,
    })
}

/// The slice captions of the three planes (where the crosshair is).
async fn slice_captions(c: &Client) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for e in c.find_all(Locator::Css(".plane figcaption .slice")).await? {
        out.push(e.text().await?);
    }
    Ok(out)
}

/// Drags across the middle of the 3-D view, 60 px to the right, as a mouse would.
async fn drag_3d(c: &Client) -> Result<()> {
    c.execute(
        "const c = document.querySelector(\"canvas[data-plane='3d']\"); \
         const r = c.getBoundingClientRect(); \
         const at = (type, dx) => c.dispatchEvent(new MouseEvent(type, {bubbles: true, \
           clientX: r.left + r.width / 2 + dx, clientY: r.top + r.height / 2})); \
         at('mousedown', 0); at('mousemove', 60); at('mouseup', 60);",
        vec![],
    )
    .await?;
    Ok(())
}

/// Clicks Download and returns the downloaded label map.
async fn download(c: &Client, dir: &Path) -> Result<Volume> {
    c.find(Locator::Css("#download")).await?.click().await?;
    let bytes = downloaded(c, dir, ".nii.gz").await?;
    Ok(adamm_volume::read_bytes(&bytes)?)
}

/// Waits for a finished download whose name ends in `suffix` and returns its bytes; the file
/// is removed, so the next download of the same name is seen too.
async fn downloaded(c: &Client, dir: &Path, suffix: &str) -> Result<Vec<u8>> {
    let started = Instant::now();
    loop {
        let done: Vec<PathBuf> = list(dir)
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with(suffix))
            .collect();
        if let [one] = done.as_slice() {
            let bytes = std::fs::read(one)?;
            std::fs::remove_file(one)?;
            return Ok(bytes);
        }
        ensure!(
            started.elapsed() < Duration::from_secs(30),
            "no *{suffix} download in {} ({:?}); the page says: {}",
            dir.display(),
            list(dir),
            text(c, "section.run").await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn list(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// Saves a screenshot of the top of the page (the views) as a test artefact.
async fn screenshot(c: &Client, name: &str) -> Result<()> {
    c.execute("window.scrollTo(0, 0);", vec![]).await?;
    let png = c.screenshot().await?;
    std::fs::write(artefacts().join(name), png)?;
    Ok(())
}

// ---- references -------------------------------------------------------------------------

/// The native pipeline on the same files (T1, T1Gd, T2, FLAIR in that order): what
/// `adamm segment` computes (labels on the files' grid), on flex.
fn native_labels(files: &[PathBuf]) -> Result<Vec<u8>> {
    native_labels_of([0, 1, 2, 3].map(|i| files.get(i).map(PathBuf::as_path)))
}

/// [`native_labels`] and the seconds the pipeline took (reading, preparing, the network; not
/// loading the model).
fn native_labels_timed(files: &[PathBuf]) -> Result<(Vec<u8>, f64)> {
    timed_native_labels([0, 1, 2, 3].map(|i| files.get(i).map(PathBuf::as_path)))
}

/// [`native_labels`] for any subset of the modalities (T1, T1Gd, T2, FLAIR), on any grids.
fn native_labels_of(files: [Option<&Path>; 4]) -> Result<Vec<u8>> {
    Ok(timed_native_labels(files)?.0)
}

/// [`native_labels_of`] with the seconds of [`native_labels_timed`].
fn timed_native_labels(files: [Option<&Path>; 4]) -> Result<(Vec<u8>, f64)> {
    let device = Device::flex();
    let model = LoadedStudent::load(&root().join("public/models/adamm-light.bpk"), &device)?;
    let pipeline = Pipeline::for_student(model, &device)?;
    let started = Instant::now();
    let scans = Scans::read_paths(files)?;
    let labels = pipeline.segment(&scans, |_| {})?.labels;
    Ok((labels, started.elapsed().as_secs_f64()))
}

/// The native pipeline with the shipped brain-extraction network on a whole-head scan
/// (given as T1Gd): the labels and the brain mask on the scan's grid.
fn native_stripped(t1c: &Path) -> Result<(Vec<u8>, Vec<u8>)> {
    let device = Device::flex();
    let model = LoadedStudent::load(&root().join("public/models/adamm-light.bpk"), &device)?;
    let (net, grid) = StripNet::load_any(root().join("public/models/adamm-strip.bpk"), &device)?;
    let pipeline =
        Pipeline::for_student(model, &device)?.with_brain_extraction(BrainExtractor { net, grid });
    let scans = Scans::read_paths([None, Some(t1c), None, None])?;
    let case = pipeline.prepare(&scans)?;
    let labels = pipeline.job(&case, case.availability())?.run(|_| {})?;
    Ok((labels.labels, case.brain_on_reference()?))
}

/// Pixels of `rgb` in the axial view's canvas.
async fn pixels_of_colour(c: &Client, rgb: [u8; 3]) -> Result<u64> {
    let n = c
        .execute(
            "const [r, g, b] = arguments[0]; \
             const canvas = document.querySelector('.plane canvas'); \
             const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data; \
             let n = 0; \
             for (let i = 0; i < d.length; i += 4) { \
               if (d[i] === r && d[i + 1] === g && d[i + 2] === b) n++; \
             } \
             return n;",
            vec![json!(rgb)],
        )
        .await?;
    n.as_u64().context("the pixel count is not a number")
}

/// `scan` re-acquired as a 2-D series of 3 mm slices after the head moved (3° about z and a
/// few mm): another grid and a motion for the worker to register.
fn reacquired(scan: &Path, dir: &Path) -> Result<PathBuf> {
    let v = read_path(scan)?;
    let dims = v.dims();
    let centre = v
        .world_from_voxel()
        .apply(dims.map(|d| (d as f64 - 1.0) / 2.0));
    let motion = Rigid {
        rotation_deg: [0.0, 0.0, 3.0],
        translation_mm: [3.0, -2.0, 1.0],
    }
    .to_affine(centre);
    let slices = [dims[0], dims[1], dims[2] / 3];
    let mut grid = v
        .world_from_voxel()
        .compose(&Affine::from_spacing([1.0, 1.0, 3.0]));
    for r in 0..3 {
        grid.0[r][3] += motion.0[r][3];
    }
    let target = TargetGrid {
        dims: slices,
        world_from_voxel: grid,
    };
    let fixed_from_moving = motion.inverse().context("a rigid motion inverts")?;
    let data = resample(&v, &target, &fixed_from_moving, Interpolation::Linear, 0.0)?;
    let header = Header::from_affine(slices, adamm_volume::nifti_io::Datatype::F32, &grid);
    let name = scan
        .file_name()
        .map(|n| n.to_string_lossy().replace("SMALL", "MOVED"))
        .unwrap_or_default();
    let path = dir.join(name);
    std::fs::write(&path, write_bytes(&header, &data, true)?)?;
    Ok(path)
}

/// Internal labels of a downloaded (BraTS 2023) file.
fn labels_of(v: &Volume) -> Result<Vec<u8>> {
    Ok(LabelConvention::Brats2023.to_internal(&v.data)?)
}

/// Per-region Dice of two label maps on `reference`'s grid.
fn dice(a: &[u8], b: &[u8], reference: &Volume) -> Result<BTreeMap<&'static str, f64>> {
    let m = region_metrics(a, b, reference.dims(), reference.spacing_mm())?;
    Ok(m.iter().map(|(r, m)| (r.name(), m.dice)).collect())
}

fn assert_same_grid(got: &Volume, input: &Volume) -> Result<()> {
    ensure!(
        got.dims() == input.dims(),
        "dims {:?} vs {:?}",
        got.dims(),
        input.dims()
    );
    let d = got
        .world_from_voxel()
        .max_abs_diff(&input.world_from_voxel());
    ensure!(
        d < 1e-4,
        "the download's affine differs from the input's by {d} mm"
    );
    Ok(())
}

/// The sample cropped to a `size` box around its tumour (a few windows: for the slow
/// software WebGPU adapter), written as NIfTI files with the crop's own affine.
fn small_case(dir: &Path, size: [usize; 3]) -> Result<Vec<PathBuf>> {
    let truth = read_path(&sample_file("seg"))?;
    let dims = truth.dims();
    let (mut sum, mut n) = ([0f64; 3], 0f64);
    for (i, &v) in truth.data.iter().enumerate() {
        if v > 0.0 {
            let (x, y, z) = (i % dims[0], i / dims[0] % dims[1], i / (dims[0] * dims[1]));
            sum = [sum[0] + x as f64, sum[1] + y as f64, sum[2] + z as f64];
            n += 1.0;
        }
    }
    ensure!(n > 0.0, "the sample has no tumour");
    let start: [usize; 3] = [0, 1, 2].map(|a| {
        ((sum[a] / n) as usize)
            .saturating_sub(size[a] / 2)
            .min(dims[a] - size[a])
    });
    let mut out = Vec::new();
    for suffix in SAMPLE {
        let v = read_path(&sample_file(suffix))?;
        let mut data = Vec::with_capacity(size.iter().product());
        for z in 0..size[2] {
            for y in 0..size[1] {
                for x in 0..size[0] {
                    let (i, j, k) = (start[0] + x, start[1] + y, start[2] + z);
                    data.push(v.data[i + dims[0] * (j + dims[1] * k)]);
                }
            }
        }
        // voxel (x, y, z) of the crop = voxel (x, y, z) + start of the sample.
        let mut translate = Affine::IDENTITY;
        for (row, s) in translate.0.iter_mut().zip(start) {
            row[3] = s as f64;
        }
        let affine = v.world_from_voxel().compose(&translate);
        let header = Header::from_affine(size, adamm_volume::nifti_io::Datatype::F32, &affine);
        let path = dir.join(format!("SMALL-00000-000-{suffix}.nii.gz"));
        std::fs::write(&path, write_bytes(&header, &data, true)?)?;
        out.push(path);
    }
    Ok(out)
}

fn gzip_size(path: &Path) -> Result<usize> {
    let bytes = std::fs::read(path)?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&bytes)?;
    Ok(gz.finish()?.len())
}

// ---- the test ---------------------------------------------------------------------------

/// A failed walk-through, shown as its message chain without a backtrace: CI keeps only the end
/// of the output, and with `RUST_BACKTRACE` set anyhow's backtrace would push the message out.
struct Failure(anyhow::Error);

impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_segments_cases_in_the_browser_and_nothing_leaves_the_machine() -> Result<(), Failure>
{
    user_session().await.map_err(Failure)
}

/// The whole session: page, files, segmentations, downloads, and the requests it made.
async fn user_session() -> Result<()> {
    let dist = root().join("dist");
    ensure!(
        dist.join("index.html").exists(),
        "{} has no index.html: build the app first (trunk build --release, or cargo xtask test)",
        dist.display()
    );
    let mut report = Vec::<String>::new();
    for entry in list(&dist) {
        if entry.extension().is_some_and(|e| e == "wasm") {
            let raw = std::fs::metadata(&entry)?.len();
            report.push(format!(
                "wasm {}: {:.1} MB, {:.1} MB gzipped",
                entry.file_name().unwrap_or_default().to_string_lossy(),
                raw as f64 / 1e6,
                gzip_size(&entry)? as f64 / 1e6
            ));
        }
    }

    let requests = Arc::new(Mutex::new(Vec::new()));
    let server = serve(dist.clone(), None, requests.clone())?;
    let origin = format!("http://127.0.0.1:{}", server.port);
    // The same page on a second origin, with the reference worker in place of the shipped one.
    let reference_server = match reference_worker() {
        Some(reference) => {
            ensure!(
                OVERLAID.iter().all(|f| reference.join(f).exists()),
                "{} has no reference worker without SIMD (cargo xtask bench-browser builds it)",
                reference.display()
            );
            Some(serve(dist, Some(reference), requests.clone())?)
        }
        None => None,
    };
    let reference_origin = reference_server
        .as_ref()
        .map(|s| format!("http://127.0.0.1:{}", s.port));
    let origins: Vec<&str> = [Some(origin.as_str()), reference_origin.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let driver = start_driver()?;
    let downloads = tempfile::tempdir()?;
    let work = tempfile::tempdir()?;
    let c = connect(&driver, downloads.path()).await?;

    let result = walk_through(
        &c,
        &origin,
        reference_origin.as_deref(),
        downloads.path(),
        work.path(),
        &mut report,
    )
    .await;

    // Whatever happened, every request the browser made must have stayed on this origin.
    let log = c.issue_cmd(Chrome::Log("performance")).await?;
    let console = c.issue_cmd(Chrome::Log("browser")).await?;
    let console: Vec<String> = console
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| format!("{} {}", e["level"], e["message"]))
        .collect();
    std::fs::write(artefacts().join("console.txt"), console.join("\n") + "\n")?;
    let mut urls = Vec::new();
    for entry in log.as_array().into_iter().flatten() {
        let message: Value = serde_json::from_str(entry["message"].as_str().unwrap_or("{}"))?;
        if message["message"]["method"] == "Network.requestWillBeSent" {
            if let Some(u) = message["message"]["params"]["request"]["url"].as_str() {
                urls.push(u.to_owned());
            }
        }
    }
    let _ = c.close().await;
    println!("\n== e2e report ==");
    for line in &report {
        println!("{line}");
    }
    std::fs::write(artefacts().join("report.txt"), report.join("\n") + "\n")?;
    if result.is_err() {
        println!("browser console:\n{}", console.join("\n"));
    }
    result?;

    ensure!(!urls.is_empty(), "the performance log recorded no request");
    // Anything that can reach a network (http, https, ws, wss, ftp…) must be this origin;
    // data:, blob: and the browser's own chrome:// pages (its start page) never leave it.
    let local_schemes = ["data:", "blob:", "chrome:", "chrome-untrusted:", "about:"];
    let foreign: Vec<&String> = urls
        .iter()
        .filter(|u| !local_schemes.iter().any(|s| u.starts_with(s)))
        .filter(|u| !origins.iter().any(|o| u.starts_with(&format!("{o}/"))))
        .collect();
    ensure!(foreign.is_empty(), "requests left the machine: {foreign:?}");
    let served = requests
        .lock()
        .map_err(|_| anyhow::anyhow!("the file server thread panicked"))?
        .clone();
    ensure!(
        served.iter().any(|p| p.ends_with("adamm-light.bpk")),
        "the model was not fetched from the page's origin: {served:?}"
    );
    println!("{} requests, all to {}", urls.len(), origins.join(" or "));
    Ok(())
}

/// What a user does, on the page served at `origin`; the sample's reference timing on
/// `reference_origin` when given (the page with the worker built without SIMD).
async fn walk_through(
    c: &Client,
    origin: &str,
    reference_origin: Option<&str>,
    downloads: &Path,
    work: &Path,
    report: &mut Vec<String>,
) -> Result<()> {
    c.goto(&format!("{origin}/")).await?;
    wait_for(c, "#sample", Duration::from_secs(60)).await?;
    // The page can be in the DOM before the browser has painted it: wait for the entry.
    let mut paint = Value::Null;
    for _ in 0..50 {
        paint = c
            .execute(
                "const p = performance.getEntriesByName('first-contentful-paint')[0]; \
                 return p ? p.startTime : null;",
                vec![],
            )
            .await?;
        if !paint.is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    report.push(format!(
        "first contentful paint: {} ms",
        paint.as_f64().map_or("n/a".into(), |v| format!("{v:.0}"))
    ));
    wait_for(
        c,
        ".model-state[data-state='ready']",
        Duration::from_secs(120),
    )
    .await?;
    report.push(format!("model: {}", text(c, ".model-state").await?));

    // A corrupt file gets its own message, and the page keeps working.
    let corrupt = work.join("broken-t1n.nii.gz");
    let good = std::fs::read(sample_file("t1n"))?;
    std::fs::write(&corrupt, &good[..good.len() / 3])?;
    upload(c, &[corrupt]).await?;
    let problem = text(c, "ul.files li.bad .problem").await?;
    ensure!(
        problem.to_lowercase().contains("gzip")
            || problem.contains("ends")
            || problem.contains("truncated"),
        "unexpected message for a truncated file: {problem}"
    );
    report.push(format!("truncated file: {problem}"));
    clear_files(c).await?;

    // WebGPU on a small case, checked against the CPU backend on the same files. Auto keeps
    // off a software adapter (Chromium's SwiftShader here): ask for WebGPU.
    choose_backend(c, "webgpu").await?;
    report.push(format!("WebGPU chosen: {}", text(c, ".model-state").await?));
    let small = small_case(work, [64, 64, 48])?;
    upload(c, &small).await?;
    let state = text(c, ".model-state").await?;
    if state.contains("WebGPU") {
        let gpu_seconds = segment(c, Duration::from_secs(300)).await?.worker;
        let gpu = download(c, downloads).await?;
        choose_backend(c, "cpu").await?;
        let cpu_seconds = segment(c, Duration::from_secs(120)).await?.worker;
        let cpu = download(c, downloads).await?;
        let input = read_path(&small[0])?;
        assert_same_grid(&gpu, &input)?;
        let d = dice(&labels_of(&gpu)?, &labels_of(&cpu)?, &input)?;
        report.push(format!(
            "small case 64×64×48: WebGPU {gpu_seconds:.1} s, CPU {cpu_seconds:.1} s; \
             WebGPU vs CPU Dice {d:?}"
        ));
        for (region, value) in &d {
            ensure!(
                *value >= 0.99,
                "WebGPU and CPU disagree on {region}: Dice {value}"
            );
        }
    } else {
        bail!("the browser offered no WebGPU (started with --enable-unsafe-webgpu): {state}");
    }
    clear_files(c).await?;

    // Scans on different grids: the small case's FLAIR re-acquired on 3 mm slices after a
    // motion, beside its T1Gd. The page takes both, the worker registers the FLAIR to the
    // T1Gd, and the labels come back on the T1Gd's grid, as the native pipeline has them.
    let (t1c, flair) = (small[1].clone(), reacquired(&small[3], work)?);
    upload(c, &[t1c.clone(), flair.clone()]).await?;
    ensure!(
        c.find_all(Locator::Css("ul.files li.bad"))
            .await?
            .is_empty(),
        "a scan on another grid was refused: {}",
        text(c, "ul.files").await?
    );
    let seconds = segment(c, Duration::from_secs(300)).await?.worker;
    let got = download(c, downloads).await?;
    let input = read_path(&t1c)?;
    assert_same_grid(&got, &input)?;
    let notes = report_notes(c).await?;
    let registered = notes
        .lines()
        .find(|l| l.starts_with("FLAIR") && l.contains("registered to T1Gd"))
        .with_context(|| format!("the report does not say the FLAIR was registered: {notes}"))?
        .to_owned();
    let native = native_labels_of([None, Some(&t1c), None, Some(&flair)])?;
    let d = dice(&labels_of(&got)?, &native, &input)?;
    report.push(format!(
        "T1Gd + FLAIR on 3 mm slices after a motion (3° about z, (3, −2, 1) mm): \
         {seconds:.1} s in the worker; Dice vs native {d:?}; {}",
        registered.split(';').next().unwrap_or_default()
    ));
    for (region, value) in &d {
        ensure!(
            *value >= 0.99,
            "browser and native disagree on {region} for the two-grid case: Dice {value}"
        );
    }
    clear_files(c).await?;

    // A whole head as the scanner wrote it: a real post-contrast T1, 2-D axial, 6.5 mm slices.
    // The page finds it is not skull-stripped, extracts the brain, outlines it over the scan
    // and keeps the labels inside it; labels and brain mask download on the scan's own grid.
    let head = root().join("data/real/pyradiomics_brain1_t1c.nii.gz");
    choose_backend(c, "cpu").await?;
    ensure!(
        text(c, ".model-state")
            .await?
            .contains("brain extraction ready"),
        "the page has no brain extraction: {}",
        text(c, ".model-state").await?
    );
    upload(c, std::slice::from_ref(&head)).await?;
    // Its name is not a BraTS one: the user says what it is.
    c.find(Locator::Css(
        "ul.files li[data-file='pyradiomics_brain1_t1c.nii.gz'] select option[value='t1gd']",
    ))
    .await?
    .click()
    .await?;
    ensure!(
        c.find(Locator::Css("#strip"))
            .await?
            .prop("checked")
            .await?
            .as_deref()
            == Some("true"),
        "brain extraction is not on by default"
    );
    // The brain outline's colour (`adamm_view::planes::BRAIN_OUTLINE`).
    const BRAIN_OUTLINE: [u8; 3] = [255, 150, 0];
    let outline_before = pixels_of_colour(c, BRAIN_OUTLINE).await?;
    let timing = segment(c, Duration::from_secs(300)).await?;
    let notes = report_notes(c).await?;
    ensure!(
        notes.contains("not skull-stripped") && notes.contains("the brain was extracted"),
        "the report does not say the skull was stripped: {notes}"
    );
    let stage_times = notes
        .lines()
        .find(|l| l.starts_with("timings:"))
        .with_context(|| format!("the report has no timings: {notes}"))?
        .to_owned();
    screenshot(c, "whole-head.png").await?;
    let outline = pixels_of_colour(c, BRAIN_OUTLINE).await?;
    ensure!(
        outline_before == 0 && outline > 100,
        "the brain outline is not drawn over the scan ({outline_before} orange pixels before \
         segmenting, {outline} after)"
    );
    let input = read_path(&head)?;
    let got = download(c, downloads).await?;
    assert_same_grid(&got, &input)?;
    c.find(Locator::Css("#download-brain"))
        .await?
        .click()
        .await?;
    let brain = adamm_volume::read_bytes(&downloaded(c, downloads, "-brain.nii.gz").await?)?;
    assert_same_grid(&brain, &input)?;
    let labels = labels_of(&got)?;
    let outside = labels
        .iter()
        .zip(&brain.data)
        .filter(|(&l, &b)| l > 0 && b == 0.0)
        .count();
    ensure!(
        outside == 0,
        "{outside} labelled voxels lie outside the extracted brain"
    );
    let (native, native_brain) = native_stripped(&head)?;
    // For a look afterwards: the page's labels (internal values) and the native ones.
    for (name, l) in [
        ("whole-head-page.nii.gz", &labels),
        ("whole-head-native.nii.gz", &native),
    ] {
        std::fs::write(artefacts().join(name), write_bytes(&input.header, l, true)?)?;
    }
    let brain_mask: Vec<u8> = brain.data.iter().map(|&v| u8::from(v > 0.0)).collect();
    let same_brain = brain_mask
        .iter()
        .zip(&native_brain)
        .filter(|(a, b)| a == b)
        .count() as f64
        / brain_mask.len() as f64;
    ensure!(
        same_brain >= 0.999,
        "the page's brain mask differs from the native one in {:.2} % of the voxels",
        100.0 * (1.0 - same_brain)
    );
    let d = dice(&labels, &native, &input)?;
    report.push(format!(
        "whole head 256×256×25 (0.78×0.78×6.5 mm, real): {:.1} s in the worker, {:.1} s to \
         labels on screen ({stage_times}); brain mask as native in {:.3} % of voxels; Dice vs \
         native {d:?}",
        timing.worker,
        timing.on_screen,
        100.0 * same_brain
    ));
    for (region, value) in &d {
        ensure!(
            *value >= 0.99,
            "browser and native disagree on {region} for the whole head: Dice {value}"
        );
    }
    clear_files(c).await?;

    // The full-size sample on WebGPU, only when asked (software WebGPU takes minutes here):
    // ADAMM_E2E_WEBGPU_SAMPLE=1 cargo test -p adamm-e2e -- --nocapture
    if std::env::var_os("ADAMM_E2E_WEBGPU_SAMPLE").is_some() {
        choose_backend(c, "webgpu").await?;
        load_sample(c).await?;
        let seconds = segment(c, Duration::from_secs(1800)).await?.worker;
        let got = download(c, downloads).await?;
        let files: Vec<PathBuf> = SAMPLE.iter().map(|s| sample_file(s)).collect();
        let d = dice(
            &labels_of(&got)?,
            &native_labels(&files)?,
            &read_path(&files[0])?,
        )?;
        report.push(format!(
            "sample 240×240×155 on WebGPU ({}): {seconds:.1} s in the worker; Dice vs native {d:?}",
            text(c, ".model-state").await?
        ));
        clear_files(c).await?;
        choose_backend(c, "cpu").await?;
    }

    // The full-size sample on the CPU backend, against the native pipeline: first in one
    // worker, then with the pool of helpers (one per core), timed against `adamm segment`'s
    // steps natively in this process.
    screenshot(c, "before.png").await?;
    load_sample(c).await?;
    choose_workers(c, "1").await?;
    let alone = segment(c, Duration::from_secs(600)).await?;
    let alone_labels = labels_of(&download(c, downloads).await?)?;
    choose_workers(c, "0").await?;
    let pooled = segment(c, Duration::from_secs(600)).await?;
    let pooled_notes = report_notes(c).await?;
    let line_of = |start: &str| {
        pooled_notes
            .lines()
            .find(|l| l.starts_with(start))
            .map(str::to_owned)
            .with_context(|| format!("the report has no {start} line: {pooled_notes}"))
    };
    let memory = line_of("memory:")?;
    let stages = line_of("timings:")?;
    let page_memory = c
        .execute(
            "return performance.memory ? performance.memory.usedJSHeapSize : null;",
            vec![],
        )
        .await?
        .as_f64();
    screenshot(c, "after.png").await?;
    let got = download(c, downloads).await?;
    let files: Vec<PathBuf> = SAMPLE.iter().map(|s| sample_file(s)).collect();
    let input = read_path(&files[0])?;
    assert_same_grid(&got, &input)?;
    let labels = labels_of(&got)?;
    ensure!(
        labels == alone_labels,
        "the pool's labels differ from one worker's"
    );
    let (native, native_seconds) = native_labels_timed(&files)?;
    let identical = labels == native;
    let d = dice(&labels, &native, &input)?;
    report.push(format!(
        "sample 240×240×155 on the CPU backend: one worker {:.1} s, the pool ({}) {:.1} s in \
         the worker ({:.1} s from Segment to labels on screen); native (this process, the same \
         steps, every core) {native_seconds:.1} s: one worker {:.2}× native, the pool {:.2}×; \
         the pool's labels identical to one worker's: true, to the native pipeline's: \
         {identical}; Dice vs native {d:?}; the pool's {stages}",
        alone.worker,
        memory.trim_start_matches("memory: "),
        pooled.worker,
        pooled.on_screen,
        alone.worker / native_seconds,
        pooled.worker / native_seconds,
    ));
    report.push(format!(
        "memory during the sample: {memory}; the page's JavaScript heap {}",
        page_memory.map_or("n/a".into(), |b| format!("{:.0} MB", b / 1e6))
    ));
    if !identical {
        for region in Region::ALL {
            let v = d[region.name()];
            ensure!(
                v >= 0.99,
                "browser and native disagree on {}: Dice {v}",
                region.name()
            );
        }
    }
    let table = text(c, ".report.current table.metrics").await?;
    ensure!(
        table.contains("WT") && table.contains("ET"),
        "no metrics table: {table}"
    );
    // RANO: the page measures as the native code does on the same labels, and a lesion's row
    // brings its calipers onto the axial view.
    let page_sum: f64 = c
        .find(Locator::Css(".report.current .rano-sum"))
        .await?
        .attr("data-sum")
        .await?
        .context("the report has no RANO sum")?
        .parse()?;
    let native_rano =
        adamm_measure::measure_rano(&native, input.dims(), &input.world_from_voxel())?;
    let expected = native_rano.sum_of_products_mm2;
    ensure!(
        if identical {
            (page_sum - expected).abs() < 1e-3
        } else {
            (page_sum - expected).abs() <= 0.1 * expected.max(1.0)
        },
        "RANO sum of products: the page says {page_sum} mm², the native code {expected} mm²"
    );
    let rows = c
        .find_all(Locator::Css(".report.current table.rano tr.lesion"))
        .await?;
    ensure!(
        !rows.is_empty(),
        "no RANO lesion row (the sample has enhancing tumour)"
    );
    // The calipers' colour (`adamm_view::planes::CALIPER`).
    const CALIPER: [u8; 3] = [255, 0, 255];
    rows[0].click().await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let calipers = pixels_of_colour(c, CALIPER).await?;
    ensure!(
        calipers > 10,
        "clicking the first RANO lesion drew {calipers} caliper pixels on the axial view"
    );
    let first = rows[0].text().await?;
    screenshot(c, "rano.png").await?;
    report.push(format!(
        "RANO on the sample: {} lesion(s), {} measurable, sum of products {page_sum:.0} mm² \
         (native {expected:.0}); first row \"{}\"; its calipers {calipers} pixels on the axial \
         view",
        native_rano.lesions.len(),
        native_rano.measurable,
        first.replace(['\n', '\t'], " ")
    ));
    // The 3-D view: the surfaces are drawn (ET in red among them), a drag turns them, the wheel
    // zooms, a click on them moves the planes, and they download as OBJ in world mm.
    // The surfaces follow the labels from the worker: wait for them.
    let started = Instant::now();
    let before = loop {
        let p = surface_pixels(c).await?;
        if (p.lit > 2000 && p.red > 50) || started.elapsed() > Duration::from_secs(20) {
            break p;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    ensure!(
        before.lit > 2000 && before.red > 50,
        "the 3-D view shows too little: {before:?}"
    );
    let cursor_before = slice_captions(c).await?;
    drag_3d(c).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let turned = surface_pixels(c).await?;
    ensure!(
        turned.hash != before.hash,
        "dragging did not turn the 3-D view"
    );
    ensure!(
        slice_captions(c).await? == cursor_before,
        "a drag moved the planes"
    );
    c.execute(
        "const c = document.querySelector(\"canvas[data-plane='3d']\"); \
         c.dispatchEvent(new WheelEvent('wheel', {deltaY: -100, bubbles: true, cancelable: true}));",
        vec![],
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let zoomed = surface_pixels(c).await?;
    ensure!(
        zoomed.lit > turned.lit,
        "zooming in did not enlarge the surfaces: {turned:?} → {zoomed:?}"
    );
    c.execute(
        "const c = document.querySelector(\"canvas[data-plane='3d']\"); \
         const r = c.getBoundingClientRect(); \
         const at = (type) => c.dispatchEvent(new MouseEvent(type, {bubbles: true, \
           clientX: r.left + r.width / 2, clientY: r.top + r.height / 2})); \
         at('mousedown'); at('mouseup');",
        vec![],
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cursor_after = slice_captions(c).await?;
    ensure!(
        cursor_after != cursor_before,
        "a click on the 3-D view did not move the planes ({cursor_before:?})"
    );
    // The planes' crosshair is drawn in the 3-D view too, in its colour.
    let crosshair = c
        .execute(
            "const c = document.querySelector(\"canvas[data-plane='3d']\"); \
             const t = document.createElement('canvas'); t.width = c.width; t.height = c.height; \
             const x = t.getContext('2d'); x.drawImage(c, 0, 0); \
             const d = x.getImageData(0, 0, t.width, t.height).data; let n = 0; \
             for (let i = 0; i < d.length; i += 4) \
               if (d[i] > 240 && Math.abs(d[i + 1] - 200) < 12 && d[i + 2] < 20) n++; \
             return n;",
            vec![],
        )
        .await?
        .as_u64()
        .context("not a pixel count")?;
    ensure!(
        crosshair > 10,
        "the crosshair is not drawn in the 3-D view ({crosshair} pixels)"
    );
    screenshot(c, "surfaces.png").await?;
    c.find(Locator::Css("#download-surfaces"))
        .await?
        .click()
        .await?;
    let obj = String::from_utf8(downloaded(c, downloads, "-surfaces.obj").await?)?;
    let objects: Vec<&str> = obj.lines().filter(|l| l.starts_with("o ")).collect();
    ensure!(
        obj.contains("SPACE=RAS") && objects.contains(&"o ET") && objects.contains(&"o brain"),
        "the surfaces' file lacks objects: {objects:?}"
    );
    // Its vertices lie within the sample's field of view, in world mm.
    let affine = input.world_from_voxel();
    let d = input.dims();
    let corners: Vec<[f64; 3]> = (0..8)
        .map(|k| affine.apply([0, 1, 2].map(|a| if k >> a & 1 == 1 { d[a] as f64 } else { -1.0 })))
        .collect();
    for line in obj.lines().filter(|l| l.starts_with("v ")).step_by(97) {
        let p: Vec<f64> = line[2..]
            .split(' ')
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        for a in 0..3 {
            let lo = corners.iter().map(|c| c[a]).fold(f64::INFINITY, f64::min);
            let hi = corners
                .iter()
                .map(|c| c[a])
                .fold(f64::NEG_INFINITY, f64::max);
            ensure!(
                p[a] >= lo && p[a] <= hi,
                "surface vertex {line} outside the scan"
            );
        }
    }
    report.push(format!(
        "3-D view: {} lit pixels ({} red) → turned by a drag, {} lit after zooming in; a click \
         moved the planes from {cursor_before:?} to {cursor_after:?} ({crosshair} crosshair pixels \
         in 3-D); surfaces file {} objects, {:.1} MB",
        before.lit,
        before.red,
        zoomed.lit,
        objects.len(),
        obj.len() as f64 / 1e6
    ));
    c.find(Locator::Css("#screenshot")).await?.click().await?;
    let png = downloaded(c, downloads, ".png").await?;
    ensure!(
        png.starts_with(b"\x89PNG"),
        "the views' screenshot is not a PNG"
    );
    std::fs::write(artefacts().join("views.png"), png)?;
    // The report: one self-contained HTML file with the page's own measurements, the model's
    // card, three planes and the 3-D view; nothing in it to fetch.
    let saving = Instant::now();
    c.find(Locator::Css("#save-report")).await?.click().await?;
    let html = String::from_utf8(downloaded(c, downloads, "adamm-report.html").await?)?;
    let saved_s = saving.elapsed().as_secs_f64();
    std::fs::write(artefacts().join("report.html"), &html)?;
    let json = html
        .split("id=\"adamm-measurements\">")
        .nth(1)
        .and_then(|r| r.split("</script>").next())
        .context("the report holds no measurements")?;
    let in_report: adamm_measure::Measurements = serde_json::from_str(json)?;
    ensure!(
        (in_report.rano.sum_of_products_mm2 - page_sum).abs() < 0.5,
        "the report's RANO sum {} differs from the page's {page_sum}",
        in_report.rano.sum_of_products_mm2
    );
    let pictures = html.matches("src=\"data:image/png;base64,").count();
    ensure!(
        pictures == 4,
        "the report embeds {pictures} pictures, not 4"
    );
    for needle in ["http:", "https:", "<link", "url("] {
        ensure!(!html.contains(needle), "the report refers to {needle}");
    }
    let sample_name = sample_file("t1c")
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for text in [
        sample_name.as_str(),
        "Model card",
        "intended_use",
        "not a medical device",
        "3-D view",
        "RANO diameters",
    ] {
        ensure!(html.contains(text), "the report lacks {text:?}");
    }
    report.push(format!(
        "report: {:.1} MB of HTML, {pictures} pictures, saved {saved_s:.1} s after the click, \
         RANO sum {:.0} mm² as on the page",
        html.len() as f64 / 1e6,
        in_report.rano.sum_of_products_mm2
    ));
    // Teaching mode: the 15 combinations in turn, each tile scored against the ground truth;
    // the all-four tile as the labels shown, a one-scan tile as the native pipeline on that scan.
    let teaching = Instant::now();
    c.find(Locator::Css("#teach")).await?.click().await?;
    let tiles = loop {
        let tiles = c
            .execute(
                "return [...document.querySelectorAll('.tile')].map(t => [ \
                   t.dataset.combination, \
                   (t.querySelector('.dice') || {}).textContent || '', \
                   t.querySelector('canvas').width]);",
                vec![],
            )
            .await?;
        let tiles: Vec<(String, String, u64)> = serde_json::from_value(tiles)?;
        if tiles.len() == 15 && tiles.iter().all(|t| !t.1.is_empty()) {
            break tiles;
        }
        ensure!(
            teaching.elapsed() < Duration::from_secs(600),
            "teaching mode: {} of 15 tiles after 10 min ({})",
            tiles.len(),
            text(c, "section.teaching").await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let teaching_s = teaching.elapsed().as_secs_f64();
    // The grid itself, for the README (docs/app-teaching.png).
    c.execute(
        "document.querySelector('section.teaching').scrollIntoView();",
        vec![],
    )
    .await?;
    let grid = c.find(Locator::Css("section.teaching")).await?;
    std::fs::write(artefacts().join("teaching.png"), grid.screenshot().await?)?;
    let status = text(c, ".teaching-status").await?;
    ensure!(
        status.contains("15 of 15") && status.contains("ground truth"),
        "teaching status: {status}"
    );
    let wt_of = |code: &str| -> Result<f64> {
        let (_, dice, width) = tiles
            .iter()
            .find(|t| t.0 == code)
            .with_context(|| format!("no tile {code}"))?;
        ensure!(*width > 0, "tile {code} is not drawn");
        Ok(dice
            .split(" · ")
            .find_map(|p| p.strip_prefix("WT "))
            .with_context(|| format!("tile {code}: {dice}"))?
            .parse()?)
    };
    let truth = labels_of(&read_path(&sample_file("seg"))?)?;
    let shown_wt = dice(&labels, &truth, &input)?["WT"];
    ensure!(
        (wt_of("1111")? - shown_wt).abs() <= 0.006,
        "the all-four tile's WT Dice {} differs from the result's {shown_wt:.3}",
        wt_of("1111")?
    );
    let t1_only = native_labels_of([Some(&files[0]), None, None, None])?;
    let native_t1_wt = dice(&t1_only, &truth, &input)?["WT"];
    let tolerance = if identical { 0.006 } else { 0.03 };
    ensure!(
        (wt_of("1000")? - native_t1_wt).abs() <= tolerance,
        "the T1-only tile's WT Dice {} differs from the native T1-only result's {native_t1_wt:.3}",
        wt_of("1000")?
    );
    let summary: Vec<String> = tiles.iter().map(|t| format!("{} {}", t.0, t.1)).collect();
    report.push(format!(
        "teaching mode on the sample: 15 combinations in {teaching_s:.0} s; Dice against the \
         ground truth: {}",
        summary.join("; ")
    ));

    // A file that is not a model, given as the model, is refused with a message.
    c.find(Locator::Css("section.model input[type='file']"))
        .await?
        .send_keys(&sample_file("seg").display().to_string())
        .await?;
    wait_for(
        c,
        ".model-state[data-state='failed']",
        Duration::from_secs(60),
    )
    .await?;
    let refused = text(c, ".model-state").await?;
    ensure!(
        refused.contains("not an AdaMM model file"),
        "unexpected message for a wrong model file: {refused}"
    );
    report.push(format!("wrong model file: {refused}"));

    // The reference (under `cargo xtask bench-browser`): the same page with the worker built
    // without SIMD (the wasm CPU path as it was), one worker, on the sample; timed against the
    // runs above.
    if let Some(reference_origin) = reference_origin {
        c.goto(&format!("{reference_origin}/")).await?;
        wait_for(
            c,
            ".model-state[data-state='ready']",
            Duration::from_secs(120),
        )
        .await?;
        choose_backend(c, "cpu").await?;
        load_sample(c).await?;
        choose_workers(c, "1").await?;
        let plain = segment(c, Duration::from_secs(900)).await?;
        let plain_labels = labels_of(&download(c, downloads).await?)?;
        let d = dice(&plain_labels, &native, &input)?;
        report.push(format!(
            "sample 240×240×155 on the CPU backend, wall time in the worker: one worker without \
             SIMD (reference build) {:.1} s ({:.2}× native), one worker with SIMD {:.1} s ({:.2}×), \
             the pool with SIMD {:.1} s ({:.2}×), native {native_seconds:.1} s; SIMD {:.2}× faster, \
             the pool {:.2}× faster than one worker without SIMD; the reference's labels identical \
             to the shipped build's: {}; Dice vs native {d:?}",
            plain.worker,
            plain.worker / native_seconds,
            alone.worker,
            alone.worker / native_seconds,
            pooled.worker,
            pooled.worker / native_seconds,
            plain.worker / alone.worker,
            plain.worker / pooled.worker,
            plain_labels == alone_labels,
        ));
        for (region, value) in &d {
            ensure!(
                *value >= 0.99,
                "the build without SIMD and native disagree on {region}: Dice {value}"
            );
        }
    } else {
        report.push("one worker without SIMD: not timed (cargo xtask bench-browser builds the reference and times it)".into());
    }

    // A browser without WebGL2 (its context refused, as where it is switched off): the 3-D view
    // is drawn in software, and says so.
    c.goto(&format!("{origin}/")).await?;
    c.execute(
        "const get = HTMLCanvasElement.prototype.getContext; \
         HTMLCanvasElement.prototype.getContext = function (kind, ...rest) { \
           return kind === 'webgl2' ? null : get.call(this, kind, ...rest); };",
        vec![],
    )
    .await?;
    wait_for(
        c,
        ".model-state[data-state='ready']",
        Duration::from_secs(120),
    )
    .await?;
    load_sample(c).await?;
    segment(c, Duration::from_secs(300)).await?;
    let started = Instant::now();
    let software = loop {
        let p = surface_pixels(c).await?;
        if p.lit > 1000 && p.red > 100 {
            break p;
        }
        ensure!(
            started.elapsed() < Duration::from_secs(60),
            "no software-drawn surfaces: {p:?}; the panel says {}",
            text(c, "figure.surface").await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let panel = text(c, "figure.surface").await?;
    ensure!(
        panel.contains("drawn in software"),
        "the 3-D panel does not say it draws in software: {panel}"
    );
    drag_3d(c).await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let turned = surface_pixels(c).await?;
    ensure!(
        turned.hash != software.hash,
        "dragging does not turn the software-drawn view"
    );
    let panel = c.find(Locator::Css("figure.surface")).await?;
    std::fs::write(
        artefacts().join("surfaces-software.png"),
        panel.screenshot().await?,
    )?;
    report.push(format!(
        "3-D view without WebGL2: drawn in software, {} lit pixels ({} red), turned by a drag",
        software.lit, software.red
    ));
    Ok(())
}
