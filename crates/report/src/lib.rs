//! One self-contained HTML report of a segmented case, written by `adamm segment --report` and
//! by the page's "Save report" from the same code: the case's files, the model and its card,
//! the modalities used, the three planes and the 3-D view at the largest lesion
//! ([`figures`]), volumes, per-region statistics, RANO measurements, warnings and the model's
//! caveat. Pictures are embedded as PNG `data:` URLs and the measurements as JSON, so the file
//! opens anywhere without a network and nothing leaves the machine.

pub mod figures;

use std::fmt::Write as _;

use adamm_measure::Measurements;
use base64::Engine as _;

pub use figures::{figures, focus, Figure, Focus, Scene};

/// What can go wrong making a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The labels or the brain mask are not on the underlay's grid.
    #[error("the labels are not on the grid of the scan drawn under them ({voxels} voxels)")]
    Grid {
        /// The underlay's voxel count.
        voxels: usize,
    },
    /// PNG encoding failed.
    #[error("encoding a picture as PNG: {0}")]
    Png(#[from] png::EncodingError),
    /// The measurements could not be written as JSON.
    #[error("writing the measurements as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The caveat every report carries.
pub const CAVEAT: &str = "AdaMM is research and teaching software, not a medical device. These \
    labels were made by a network trained on synthetic images only and have not been checked by \
    a reader; volumes and RANO measurements follow from the labels and share their errors. Do \
    not use them for diagnosis or treatment.";

/// One input file.
#[derive(Debug, Clone, PartialEq)]
pub struct InputFile {
    /// What it was used as ("T1Gd", "ground truth").
    pub role: String,
    /// Its file name.
    pub name: String,
    /// Its grid, for people (dimensions, voxel size, orientation).
    pub grid: String,
}

/// The model that made the labels.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// Its file name.
    pub name: String,
    /// What it is, for people (network, window, backend).
    pub detail: String,
    /// Its model card (the JSON written by `adamm export`), when at hand.
    pub card: Option<String>,
}

/// Everything a report says.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// What made it ("adamm segment 0.1.0", "AdaMM in the browser").
    pub made_by: String,
    /// The input files.
    pub files: Vec<InputFile>,
    /// The model.
    pub model: ModelInfo,
    /// The modalities the labels were made from ("T1Gd+FLAIR").
    pub modalities: String,
    /// What was found about the input, for people (stripping, registration, grids).
    pub notes: Vec<String>,
    /// The out-of-distribution warnings (empty when none).
    pub warnings: Vec<String>,
    /// Label volumes, mL, by name (NETC, SNFH, ET, WT, TC).
    pub volumes_ml: Vec<(String, f64)>,
    /// The presence head's probabilities for NETC, SNFH and ET.
    pub presence: Option<[f32; 3]>,
    /// RANO and per-region statistics.
    pub measurements: Measurements,
    /// Scores against a ground truth, one line each, when one was given.
    pub scores: Vec<String>,
    /// The pictures ([`figures()`]).
    pub figures: Vec<Figure>,
}

/// The id of the `<script type="application/json">` element that holds the measurements.
pub const MEASUREMENTS_ID: &str = "adamm-measurements";

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;max-width:1060px;margin:2em auto;\
padding:0 1em;color:#1b1f24}h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;\
margin-top:1.6em;border-bottom:1px solid #ccd}table{border-collapse:collapse;margin:.5em 0}\
td,th{border:1px solid #ccd;padding:.25em .6em;text-align:left}td.n{text-align:right;\
font-variant-numeric:tabular-nums}.caveat{background:#fff4d6;border:1px solid #e0b84c;\
padding:.6em .9em}.warning{background:#ffe1e1;border:1px solid #d66;padding:.6em .9em}\
.figures{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}figure{margin:0}\
.frame{position:relative;display:inline-block;background:#000}.frame img{display:block}\
.frame span{position:absolute;color:#ffd400;font:bold 13px monospace}.frame .l{left:3px;\
top:45%}.frame .r{right:3px;top:45%}.frame .t{top:2px;left:48%}.frame .b{bottom:2px;left:48%}\
figcaption{font-size:.85em}pre{background:#f4f5f7;padding:.6em;overflow:auto;\
font-size:.8em}";

impl Report {
    /// The report as one self-contained HTML document.
    pub fn to_html(&self) -> Result<String, ReportError> {
        let mut h = String::with_capacity(1 << 20);
        let e = escape;
        // `write!` to a String cannot fail.
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>AdaMM report: {}</title><style>{STYLE}</style></head><body>\n\
             <h1>AdaMM segmentation report</h1>\n<p>Made by {} on this computer; nothing was \
             sent anywhere. Labels from the modalities <b>{}</b>.</p>\n\
             <p class=\"caveat\"><b>Caveat.</b> {}</p>\n",
            e(&self.files_summary()),
            e(&self.made_by),
            e(&self.modalities),
            e(CAVEAT)
        );
        if !self.warnings.is_empty() {
            h += "<div class=\"warning\"><b>Do not trust these labels: the input is not what \
                  the model was made for.</b><ul>";
            for w in &self.warnings {
                let _ = write!(h, "<li>{}</li>", e(w));
            }
            h += "</ul></div>\n";
        }
        h += "<h2>Input</h2>\n<table><tr><th>used as</th><th>file</th><th>grid</th></tr>";
        for f in &self.files {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                e(&f.role),
                e(&f.name),
                e(&f.grid)
            );
        }
        h += "</table>\n";
        if !self.notes.is_empty() {
            h += "<ul>";
            for n in &self.notes {
                let _ = write!(h, "<li>{}</li>", e(n));
            }
            h += "</ul>\n";
        }
        let _ = write!(
            h,
            "<h2>Model</h2>\n<p><b>{}</b>: {}</p>\n",
            e(&self.model.name),
            e(&self.model.detail)
        );
        match &self.model.card {
            Some(card) => {
                let _ = writeln!(
                    h,
                    "<details><summary>Model card</summary><pre>{}</pre></details>",
                    e(card)
                );
            }
            None => h += "<p>No model card was found beside the model file.</p>\n",
        }
        h += "<h2>Pictures</h2>\n<div class=\"figures\">\n";
        for f in &self.figures {
            h += &figure_html(f)?;
        }
        h += "</div>\n";
        self.tables(&mut h);
        if !self.scores.is_empty() {
            h += "<h2>Against the ground truth</h2>\n<ul>";
            for s in &self.scores {
                let _ = write!(h, "<li>{}</li>", e(s));
            }
            h += "</ul>\n";
        }
        let json = serde_json::to_string(&self.measurements)?;
        let _ = write!(
            h,
            "<script type=\"application/json\" id=\"{MEASUREMENTS_ID}\">{}</script>\n\
             <p class=\"caveat\">{}</p>\n</body></html>\n",
            // JSON inside a script element: only "</" could end it early.
            json.replace("</", "<\\/"),
            e(CAVEAT)
        );
        Ok(h)
    }

    /// The input files' names, comma-separated (the document's title).
    fn files_summary(&self) -> String {
        let names: Vec<&str> = self.files.iter().map(|f| f.name.as_str()).collect();
        names.join(", ")
    }

    /// Volumes, per-region statistics and RANO as tables.
    fn tables(&self, h: &mut String) {
        let e = escape;
        *h += "<h2>Volumes</h2>\n<table><tr>";
        for (name, _) in &self.volumes_ml {
            let _ = write!(h, "<th>{}</th>", e(name));
        }
        *h += "</tr><tr>";
        for (_, ml) in &self.volumes_ml {
            let _ = write!(h, "<td class=\"n\">{ml:.2} mL</td>");
        }
        *h += "</tr></table>\n";
        if let Some([netc, snfh, et]) = self.presence {
            let _ = writeln!(
                h,
                "<p>The model's probability that each is there: NETC {netc:.2}, SNFH {snfh:.2}, \
                 ET {et:.2}.</p>"
            );
        }
        *h += "<h2>Regions</h2>\n<table><tr><th>region</th><th>volume</th><th>lesions</th>\
               <th>centroid (RAS mm)</th><th>side</th><th>mean intensity</th></tr>";
        for r in &self.measurements.regions {
            let centroid = r.centroid_mm.map_or_else(
                || "—".to_owned(),
                |c| format!("{:.1}, {:.1}, {:.1}", c[0], c[1], c[2]),
            );
            let side = r.side.map_or_else(|| "—".to_owned(), |s| s.describe());
            let means: Vec<String> = r
                .mean_intensity
                .iter()
                .map(|(n, m)| format!("{n} {m:.1}"))
                .collect();
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"n\">{:.2} mL</td><td class=\"n\">{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td></tr>",
                e(&r.region),
                r.volume_ml,
                r.lesions,
                centroid,
                e(&side),
                e(&means.join(", "))
            );
        }
        *h += "</table>\n<h2>RANO</h2>\n";
        let rano = &self.measurements.rano;
        let Some(region) = &rano.region else {
            *h += "<p>No enhancing lesion or tumour core to measure.</p>\n";
            return;
        };
        let _ = write!(
            h,
            "<p>{} lesions (26-connected components), measured on axial slices in world mm: \
             <b>sum of the products of the {} measurable lesion(s): <span class=\"rano-sum\">\
             {:.0}</span> mm²</b> (measurable: both diameters ≥ 10 mm, seen on ≥ 2 slices).</p>\n\
             <table><tr><th>lesion</th><th>longest</th><th>perpendicular</th><th>product</th>\
             <th>axial slice (voxel index)</th><th>slices</th><th>volume</th><th>measurable</th></tr>",
            e(region),
            rano.measurable,
            rano.sum_of_products_mm2
        );
        for (n, l) in rano.lesions.iter().enumerate() {
            let _ = write!(
                h,
                "<tr><td class=\"n\">{}</td><td class=\"n\">{:.1} mm</td><td class=\"n\">{:.1} \
                 mm</td><td class=\"n\">{:.0} mm²</td><td class=\"n\">{}</td><td class=\"n\">{}\
                 </td><td class=\"n\">{:.2} mL</td><td>{}</td></tr>",
                n + 1,
                l.longest.length_mm,
                l.perpendicular.length_mm,
                l.product_mm2,
                l.slice,
                l.slices,
                l.volume_ml,
                if l.measurable { "yes" } else { "no" }
            );
        }
        *h += "</table>\n";
    }
}

/// One figure: the PNG as a data URL, its orientation letters, its caption.
fn figure_html(f: &Figure) -> Result<String, ReportError> {
    let png = encode_png(&f.picture)?;
    let mut h = format!(
        "<figure style=\"width:{}px\"><div class=\"frame\"><img width=\"{}\" height=\"{}\" alt=\"{}\" \
         src=\"data:image/png;base64,{}\">",
        f.picture.width,
        f.picture.width,
        f.picture.height,
        escape(&f.caption),
        base64::engine::general_purpose::STANDARD.encode(png)
    );
    if let Some([l, r, t, b]) = f.letters {
        let _ = write!(
            h,
            "<span class=\"l\">{l}</span><span class=\"r\">{r}</span><span class=\"t\">{t}\
             </span><span class=\"b\">{b}</span>"
        );
    }
    let _ = writeln!(
        h,
        "</div><figcaption>{}</figcaption></figure>",
        escape(&f.caption)
    );
    Ok(h)
}

/// The NETC, SNFH, ET, WT and TC volumes, mL, by name, as a report lists them.
pub fn volume_rows(v: &adamm_volume::brats::LabelVolumes) -> Vec<(String, f64)> {
    [
        ("NETC", v.netc),
        ("SNFH (edema)", v.snfh),
        ("ET", v.et),
        ("WT", v.wt()),
        ("TC", v.tc()),
    ]
    .map(|(n, ml)| (n.to_owned(), ml))
    .to_vec()
}

/// One region's scores against a ground truth, for people (the CLI prints the same line).
pub fn score_line(region: &str, m: &adamm_volume::metrics::MaskMetrics) -> String {
    format!(
        "{region}: Dice {:.4}, HD95 {:.2} mm, IoU {:.4}, sensitivity {:.4}",
        m.dice, m.hd95, m.iou, m.sensitivity
    )
}

/// A grid for people: `240×240×155 voxels of 1.00×1.00×1.00 mm, LPS`.
pub fn grid_text(header: &adamm_volume::Header) -> String {
    let [nx, ny, nz] = header.dims;
    match header.world_from_voxel() {
        Ok(a) => {
            let [sx, sy, sz] = a.column_norms();
            format!(
                "{nx}×{ny}×{nz} voxels of {sx:.2}×{sy:.2}×{sz:.2} mm, {}",
                a.orientation_code()
            )
        }
        Err(_) => format!("{nx}×{ny}×{nz} voxels"),
    }
}

/// The scan a report draws under the labels, of those present (in `Modality::ALL` order):
/// T1Gd, where enhancement shows, else FLAIR, T2, T1.
pub fn preferred_underlay(present: [bool; 4]) -> Option<adamm_volume::brats::Modality> {
    use adamm_volume::brats::Modality;
    [Modality::T1Gd, Modality::Flair, Modality::T2, Modality::T1]
        .into_iter()
        .find(|m| present[m.index()])
}

/// `picture` as an 8-bit RGBA PNG.
pub fn encode_png(picture: &adamm_view::raster::Picture) -> Result<Vec<u8>, ReportError> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, picture.width as u32, picture.height as u32);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&picture.rgba)?;
    writer.finish()?;
    Ok(bytes)
}

/// `text` safe inside HTML elements and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out += "&amp;",
            '<' => out += "&lt;",
            '>' => out += "&gt;",
            '"' => out += "&quot;",
            '\'' => out += "&#39;",
            c => out.push(c),
        }
    }
    out
}
