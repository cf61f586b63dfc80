//! The report of one result: what it used, how long it took and where, volumes in mL, the
//! presence scores, and with a ground truth Dice, HD95 and sensitivity per region.

use std::rc::Rc;

use adamm_app::outcome::Outcome;
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
            <details class="notes">
                <summary>"How the scans were read"</summary>
                <ul>{notes}</ul>
            </details>
        </div>
    }
}
