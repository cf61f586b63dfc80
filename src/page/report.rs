//! The report of one result: what it used, how long it took and where, volumes in mL, the
//! presence scores, with a ground truth Dice, HD95 and sensitivity per region, and the
//! measurements: per region its lesions, centroid, hemisphere and mean intensities, and the
//! RANO diameters of each enhancing lesion (a row's click shows its calipers).

use std::rc::Rc;

use adamm_app::outcome::Outcome;
use adamm_measure::{Lesion, Measurements};
use leptos::prelude::*;

/// A result's report: the current one (`current`) or the one kept for comparison.
#[component]
pub fn Report(outcome: Rc<Outcome>, title: &'static str, current: bool) -> impl IntoView {
    let o = outcome;
    let v = o.volumes;
    let metrics = o.metrics.map(|m| {
        m.iter()
            .map(|(region, m)| {
                view! {
                    <tr>
                        <td>{region.name()}</td>
                        <td class="dice">{format!("{:.3}", m.dice)}</td>
                        <td>{format!("{:.1}", m.hd95)}</td>
                        <td>{format!("{:.3}", m.sensitivity)}</td>
                    </tr>
                }
            })
            .collect_view()
    });
    let presence = match o.prediction.presence[..] {
        [netc, snfh, et] => format!(
            "Presence (the model's probability that each is in the case): NETC {netc:.2} · \
             SNFH {snfh:.2} · ET {et:.2}"
        ),
        _ => String::new(),
    };
    let heading = format!(
        "{title}: {} · {:.1} s on {}",
        o.availability.name(),
        o.prediction.seconds,
        o.prediction.backend
    );
    let volumes = format!(
        "Volumes: NETC {:.1} mL · edema (SNFH) {:.1} mL · ET {:.1} mL · whole tumour {:.1} mL · \
         tumour core {:.1} mL",
        v.netc,
        v.snfh,
        v.et,
        v.wt(),
        v.tc()
    );
    let measured = o.prediction.measurements.as_ref().map(measurements);
    let notes = o
        .prediction
        .notes
        .iter()
        .map(|n| view! { <li>{n.clone()}</li> })
        .collect_view();
    let warnings = (!o.prediction.warnings.is_empty()).then(|| {
        let items = o
            .prediction
            .warnings
            .iter()
            .map(|w| view! { <li>{w.clone()}</li> })
            .collect_view();
        view! {
            <div class="warnings" role="alert">
                <p>
                    <strong>"Do not trust these labels: "</strong>
                    "the input is not what the model was made for."
                </p>
                <ul>{items}</ul>
            </div>
        }
    });
    view! {
        <div
            class="report"
            class:current=current
            class:kept=!current
            data-code=o.availability.code()
            data-job=o.job
        >
            <h3>{heading}</h3>
            {warnings}
            <p class="volumes">{volumes}</p>
            <p class="presence">{presence}</p>
            {metrics
                .map(|rows| {
                    view! {
                        <table class="metrics">
                            <thead>
                                <tr>
                                    <th>"Region"</th>
                                    <th>"Dice"</th>
                                    <th>"HD95 (mm)"</th>
                                    <th>"Sensitivity"</th>
                                </tr>
                            </thead>
                            <tbody>{rows}</tbody>
                        </table>
                    }
                })}
            {measured}
            <details class="notes">
                <summary>"How the scans were read"</summary>
                <ul>{notes}</ul>
            </details>
        </div>
    }
}

/// The measurements' tables: regions, then RANO (click a lesion to see it).
fn measurements(m: &Measurements) -> impl IntoView {
    let state = super::state();
    let regions = m
        .regions
        .iter()
        .map(|r| {
            let side = r.side.map_or("—".to_owned(), |s| s.describe());
            let centroid = r.centroid_mm.map_or("—".to_owned(), |c| {
                format!("{:.0}, {:.0}, {:.0}", c[0], c[1], c[2])
            });
            let means = r
                .mean_intensity
                .iter()
                .map(|(name, v)| format!("{name} {v:.0}"))
                .collect::<Vec<_>>()
                .join(" · ");
            view! {
                <tr data-region=r.region.clone()>
                    <td>{r.region.clone()}</td>
                    <td>{format!("{:.1}", r.volume_ml)}</td>
                    <td>{r.lesions}</td>
                    <td>{centroid}</td>
                    <td>{side}</td>
                    <td>{means}</td>
                </tr>
            }
        })
        .collect_view();
    let rano = &m.rano;
    let lesions = rano
        .lesions
        .iter()
        .enumerate()
        .map(|(n, l)| {
            let lesion: Lesion = l.clone();
            let show = move |_| {
                // The calipers' slice and the middle of the longest diameter, on the views'
                // canonical grid.
                let u = state.view.underlay.get_untracked();
                if let Some(u) = u {
                    let (a, b) = (
                        u.canonical_point(lesion.longest.from_voxel),
                        u.canonical_point(lesion.longest.to_voxel),
                    );
                    let cursor = [0, 1, 2].map(|k| {
                        (((a[k] + b[k]) / 2.0).round().max(0.0) as usize).min(u.dims[k] - 1)
                    });
                    state.view.cursor.set(cursor);
                }
            };
            view! {
                <tr class="lesion" class:measurable=l.measurable on:click=show>
                    <td>{n + 1}</td>
                    <td class="longest">{format!("{:.1}", l.longest.length_mm)}</td>
                    <td class="perpendicular">{format!("{:.1}", l.perpendicular.length_mm)}</td>
                    <td class="product">{format!("{:.0}", l.product_mm2)}</td>
                    <td>{l.slice + 1}</td>
                    <td>{format!("{:.2}", l.volume_ml)}</td>
                    <td>{if l.measurable { "yes" } else { "no" }}</td>
                </tr>
            }
        })
        .collect_view();
    let summary = match &rano.region {
        None => "RANO: no enhancing lesion or tumour core to measure.".to_owned(),
        Some(region) => format!(
            "RANO ({region} lesions on axial slices): {} measurable of {}, sum of products \
             {:.0} mm². Lesions ≥ 10 × 10 mm on two or more slices are measurable; diameters \
             are edge to edge, in mm; click a lesion to see its calipers.",
            rano.measurable,
            rano.lesions.len(),
            rano.sum_of_products_mm2
        ),
    };
    view! {
        <table class="regions">
            <thead>
                <tr>
                    <th>"Region"</th>
                    <th>"Volume (mL)"</th>
                    <th>"Lesions"</th>
                    <th>"Centroid (mm, RAS)"</th>
                    <th>"Side"</th>
                    <th>"Mean intensity"</th>
                </tr>
            </thead>
            <tbody>{regions}</tbody>
        </table>
        <p class="rano-sum" data-sum=format!("{:.3}", rano.sum_of_products_mm2)>{summary}</p>
        <table class="rano">
            <thead>
                <tr>
                    <th>"Lesion"</th>
                    <th>"Longest (mm)"</th>
                    <th>"Perpendicular (mm)"</th>
                    <th>"Product (mm²)"</th>
                    <th>"Slice (in the file)"</th>
                    <th>"Volume (mL)"</th>
                    <th>"Measurable"</th>
                </tr>
            </thead>
            <tbody>{lesions}</tbody>
        </table>
    }
}
