//! "Save report": the result shown as one self-contained HTML file (`adamm_report`, the same
//! document `adamm segment --report` writes), made in the page and offered as a download;
//! nothing leaves the machine. The only request is for the shipped model's card, from the
//! page's own origin.

use adamm_app::case::Role;
use adamm_report::{
    grid_text, preferred_underlay, score_line, volume_rows, InputFile, ModelInfo, Report, Scene,
};
use adamm_view::planes::Underlay;
use adamm_volume::Affine;
use leptos::prelude::*;

use super::worker::{MODEL_URL, SHIPPED_MODEL};
use super::State;

/// The shipped model's card, beside its weights.
const MODEL_CARD_URL: &str = "public/models/adamm-light.json";

/// The report's file name.
pub const REPORT_FILE: &str = "adamm-report.html";

/// Builds the report of the result shown and offers it as a download; a failure is told to
/// the user.
pub fn save_report(state: State) {
    let model_name = state.worker.model_name.get_untracked();
    leptos::task::spawn_local(async move {
        let card = if model_name == SHIPPED_MODEL {
            fetch_text(MODEL_CARD_URL).await
        } else {
            None
        };
        let made = build(state, &model_name, card).and_then(|html| {
            super::download::save(html.as_bytes(), REPORT_FILE, "text/html")
                .map_err(|e| e.to_string())
        });
        match made {
            Ok(()) => state.tell(format!("Report saved as {REPORT_FILE}.")),
            Err(e) => state.tell(format!("The report could not be made: {e}")),
        }
    });
}

/// The text at `url` (of the page's own origin), `None` when it cannot be had.
async fn fetch_text(url: &str) -> Option<String> {
    let response = gloo_net::http::Request::get(url).send().await.ok()?;
    if !response.ok() {
        return None;
    }
    response.text().await.ok()
}

/// The report as HTML.
fn build(state: State, model_name: &str, card: Option<String>) -> Result<String, String> {
    let outcome = state
        .outcome
        .get_untracked()
        .ok_or("there is no result to report")?;
    let p = &outcome.prediction;
    let measurements = p
        .measurements
        .clone()
        .ok_or("the worker did not measure this result")?;
    let (files, shown) = state.case.with_untracked(|c| {
        let images = c.images();
        let mut files: Vec<InputFile> = images
            .iter()
            .flatten()
            .filter_map(|f| {
                let Some(Role::Image(m)) = f.role else {
                    return None;
                };
                if !outcome.availability.has(m) {
                    return None;
                }
                let header = &f.volume()?.header;
                let reference = f.name == outcome.grid_name;
                Some(InputFile {
                    role: if reference {
                        format!("{} (reference grid)", m.name())
                    } else {
                        m.name().to_owned()
                    },
                    name: f.name.clone(),
                    grid: grid_text(header),
                })
            })
            .collect();
        if let Some(t) = c.holder(Role::Truth) {
            files.push(InputFile {
                role: "ground truth".to_owned(),
                name: t.name.clone(),
                grid: "the reference grid".to_owned(),
            });
        }
        // The scan drawn under the labels, by the CLI's rule, aligned as the worker found.
        let present = adamm_volume::brats::Modality::ALL
            .map(|m| outcome.availability.has(m) && images[m.index()].is_some());
        let shown = preferred_underlay(present).and_then(|m| {
            let volume = images[m.index()]?.volume()?.clone();
            Some((m, volume))
        });
        (files, shown)
    });
    let (modality, volume) = shown.ok_or("the case's scans are no longer loaded")?;
    let transform = p.transforms[modality.index()].unwrap_or(Affine::IDENTITY);
    let underlay =
        Underlay::on_grid(&volume, &outcome.grid, &transform).map_err(|e| e.to_string())?;
    let figures = adamm_report::figures(&Scene {
        underlay: &underlay,
        underlay_name: modality.name(),
        labels: &p.labels,
        brain: p.brain.as_deref(),
        measurements: &measurements,
        meshes: &p.meshes,
    })
    .map_err(|e| e.to_string())?;
    let report = Report {
        made_by: "AdaMM in the browser".to_owned(),
        files,
        model: ModelInfo {
            name: if model_name == SHIPPED_MODEL {
                MODEL_URL.rsplit('/').next().unwrap_or(MODEL_URL).to_owned()
            } else {
                model_name.to_owned()
            },
            detail: format!("AdaMM student, run in the browser on {}", p.backend),
            card,
        },
        modalities: outcome.availability.name(),
        notes: p.notes.clone(),
        warnings: p.warnings.clone(),
        volumes_ml: volume_rows(&outcome.volumes),
        presence: match p.presence[..] {
            [a, b, c] => Some([a, b, c]),
            _ => None,
        },
        measurements,
        scores: outcome
            .metrics
            .iter()
            .flatten()
            .map(|(region, m)| score_line(region.name(), m))
            .collect(),
        figures,
    };
    report.to_html().map_err(|e| e.to_string())
}
