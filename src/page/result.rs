//! The result section: the views' controls, the three planes, the reports and the actions
//! (download, keep for comparison, save the views). It also derives what the views draw: the
//! underlay is rebuilt only when the scan it shows changes, the labels and the ground truth
//! are brought to its grid when they or it change.

use std::rc::Rc;

use adamm_app::case::Role;
use adamm_view::planes::{centroid, Plane, Segment, Underlay};
use adamm_volume::brats::{LabelConvention, Modality, LABEL_COLOURS};
use adamm_volume::Affine;
use leptos::prelude::*;

use super::download;
use super::plane::PlaneView;
use super::report::Report;
use super::surface::SurfaceView;
use super::State;

/// Keeps the views' derived signals up to date.
fn derive(state: State) {
    let (case, view) = (state.case, state.view);
    // The file the underlay shows: the chosen modality's usable scan, else the first one.
    let underlay_file = Memo::new(move |_| {
        let choice = view.underlay_choice.get();
        case.with(|c| {
            let images = c.images();
            choice
                .and_then(|m| images[m.index()])
                .or_else(|| images.iter().flatten().next().copied())
                .map(|f| f.id)
        })
    });
    // The grid the views show: the reference scan's (the finest), where the labels are.
    let reference_file = Memo::new(move |_| case.with(|c| c.reference_scan().map(|f| f.id)));
    let shown_file = StoredValue::new(None::<u64>);
    Effect::new(move |_| {
        let id = underlay_file.get();
        let reference = reference_file.get();
        let (volume, role, grid) = case.with_untracked(|c| {
            let file = id.and_then(|id| c.file(id));
            let grid = reference.and_then(|r| Some(c.file(r)?.volume()?.header.clone()));
            (
                file.and_then(|f| f.volume().cloned()),
                file.and_then(|f| f.role),
                grid,
            )
        });
        // Aligned as the last result's registration found, when it is on this grid.
        let transform = state.outcome.with(|o| {
            let (o, grid, Some(Role::Image(m))) = (o.as_ref()?, grid.as_ref()?, role) else {
                return None;
            };
            o.is_on_grid_of(grid)
                .then(|| o.prediction.transforms[m.index()])
                .flatten()
        });
        let underlay = match (volume, grid) {
            (Some(v), Some(g)) => Underlay::on_grid(&v, &g, &transform.unwrap_or(Affine::IDENTITY))
                .map_err(|e| {
                    state.tell(format!(
                        "The scan cannot be shown on the reference grid: {e}"
                    ))
                })
                .ok(),
            _ => None,
        };
        view.underlay.set(underlay.map(Rc::new));
        if shown_file.get_value() != id {
            shown_file.set_value(id);
            view.intensity.set(None);
        }
    });
    Effect::new(move |_| {
        let labels = state.outcome.with(|o| {
            let o = o.as_ref()?;
            view.underlay.with(|u| {
                let u = u.as_ref().filter(|u| o.is_on_grid_of(&u.grid))?;
                u.canonical(&o.prediction.labels)
            })
        });
        view.labels.set(labels.map(Rc::new));
        let brain = state.outcome.with(|o| {
            let o = o.as_ref()?;
            view.underlay.with(|u| {
                let u = u.as_ref().filter(|u| o.is_on_grid_of(&u.grid))?;
                u.canonical(o.prediction.brain.as_deref()?)
            })
        });
        view.brain.set(brain.map(Rc::new));
        let calipers = state.outcome.with(|o| {
            let o = o.as_ref()?;
            let rano = &o.prediction.measurements.as_ref()?.rano;
            view.underlay.with(|u| {
                let u = u.as_ref().filter(|u| o.is_on_grid_of(&u.grid))?;
                let segment = |d: &adamm_measure::Diameter| Segment {
                    from: u.canonical_point(d.from_voxel),
                    to: u.canonical_point(d.to_voxel),
                };
                Some(
                    rano.lesions
                        .iter()
                        .flat_map(|l| [segment(&l.longest), segment(&l.perpendicular)])
                        .collect::<Vec<_>>(),
                )
            })
        });
        view.calipers.set(Rc::new(calipers.unwrap_or_default()));
    });
    // The ground truth file, when it is usable.
    let truth_file = Memo::new(move |_| {
        case.with(|c| {
            c.holder(Role::Truth)
                .filter(|f| c.problem(f.id).is_none())
                .map(|f| f.id)
        })
    });
    Effect::new(move |_| {
        let _ = truth_file.get();
        let truth = case.with_untracked(|c| c.truth());
        let canonical = view
            .underlay
            .with(|u| u.as_ref()?.canonical(truth.as_deref()?));
        view.truth.set(canonical.map(Rc::new));
    });
    // A new result brings the crosshair to the tumour.
    let centred_job = StoredValue::new(0u32);
    Effect::new(move |_| {
        let Some(labels) = view.labels.get() else {
            return;
        };
        let job = state
            .outcome
            .with_untracked(|o| o.as_ref().map_or(0, |o| o.job));
        if centred_job.get_value() == job {
            return;
        }
        centred_job.set_value(job);
        let dims = view.underlay.with_untracked(|u| u.as_ref().map(|u| u.dims));
        if let Some(c) = dims.and_then(|d| centroid(&labels, d)) {
            view.cursor.set(c);
        }
    });
}

/// Offers the result shown as a `.nii.gz` file.
fn download_result(state: State, legacy_labels: bool) {
    let Some(o) = state.outcome.get_untracked() else {
        return;
    };
    let convention = if legacy_labels {
        LabelConvention::Brats2021
    } else {
        LabelConvention::Brats2023
    };
    match o.nifti(convention) {
        Ok(bytes) => {
            if let Err(e) = download::save(&bytes, &o.file_name(), "application/gzip") {
                state.tell(format!("The download failed: {e}"));
            }
        }
        Err(e) => state.tell(format!("The segmentation could not be saved: {e}")),
    }
}

/// Offers the extracted brain's mask of the result shown as a `.nii.gz` file.
fn download_brain(state: State) {
    let Some(o) = state.outcome.get_untracked() else {
        return;
    };
    match o.brain_nifti() {
        Some(Ok(bytes)) => {
            if let Err(e) = download::save(&bytes, &o.brain_file_name(), "application/gzip") {
                state.tell(format!("The download failed: {e}"));
            }
        }
        Some(Err(e)) => state.tell(format!("The brain mask could not be saved: {e}")),
        None => state.tell("No brain was extracted for this result.".to_owned()),
    }
}

/// The views' controls: underlay, convention, opacity, labels shown.
fn controls(state: State) -> impl IntoView {
    let view = state.view;
    // The modality the views show (the chosen one if the case has it, else the first).
    let shown = Memo::new(move |_| {
        let choice = view.underlay_choice.get();
        state.case.with(|c| {
            let images = c.images();
            choice.filter(|m| images[m.index()].is_some()).or_else(|| {
                Modality::ALL
                    .into_iter()
                    .find(|m| images[m.index()].is_some())
            })
        })
    });
    view! {
        <div class="controls">
            <label>
                "Underlay "
                <select
                    prop:value=move || shown.get().map_or("", |m| m.name())
                    on:change=move |ev| {
                    let v = event_target_value(&ev);
                    view.underlay_choice.set(Modality::ALL.into_iter().find(|m| m.name() == v));
                }>
                    {Modality::ALL
                        .iter()
                        .map(|m| view! { <option value=m.name()>{m.name()}</option> })
                        .collect_view()}
                </select>
            </label>
            <label>
                <input
                    type="checkbox"
                    prop:checked=move || view.radiological.get()
                    on:change=move |ev| view.radiological.set(event_target_checked(&ev))
                />
                "Radiological (patient's right on the left)"
            </label>
            <label>
                "Opacity "
                <input
                    type="range"
                    min="0"
                    max="1"
                    step="0.05"
                    prop:value=move || view.overlay.get().opacity.to_string()
                    on:input=move |ev| {
                        let v = event_target_value(&ev).parse().unwrap_or(0.5);
                        view.overlay.update(|o| o.opacity = v);
                    }
                />
            </label>
            {LABEL_COLOURS
                .iter()
                .enumerate()
                .map(|(k, (_, name, _))| {
                    view! {
                        <label class=format!("swatch label-{k}")>
                            <input
                                type="checkbox"
                                prop:checked=move || view.overlay.get().shown[k]
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    view.overlay.update(|o| o.shown[k] = on);
                                }
                            />
                            {*name}
                        </label>
                    }
                })
                .collect_view()}
            <span class="hint">
                "Click to move the crosshair, wheel or ↑/↓ to change slice, \
                 right-drag (or Shift-drag) to change the window."
            </span>
        </div>
    }
}

/// The actions on the result shown.
fn actions(state: State) -> impl IntoView {
    let legacy_labels = RwSignal::new(false);
    view! {
        <p class="actions">
            <button
                id="download"
                on:click=move |_| download_result(state, legacy_labels.get_untracked())
            >
                "Download segmentation (.nii.gz)"
            </button>
            <label>
                <input
                    type="checkbox"
                    on:change=move |ev| legacy_labels.set(event_target_checked(&ev))
                />
                "BraTS 2021 labels (ET = 4)"
            </label>
            <Show when=move || {
                state.outcome.with(|o| o.as_ref().is_some_and(|o| o.prediction.brain.is_some()))
            }>
                <button id="download-brain" on:click=move |_| download_brain(state)>
                    "Download brain mask (.nii.gz)"
                </button>
            </Show>
            <button on:click=move |_| state.kept.set(state.outcome.get_untracked())>
                "Keep for comparison"
            </button>
            <button
                id="screenshot"
                on:click=move |_| {
                    if let Err(e) = download::save_views_png() {
                        state.tell(format!("The screenshot failed: {e}"));
                    }
                }
            >
                "Save views (.png)"
            </button>
            <button id="save-report" on:click=move |_| super::report_file::save_report(state)>
                "Save report (.html)"
            </button>
        </p>
    }
}

/// The result section.
#[component]
pub fn ResultSection() -> impl IntoView {
    let state = super::state();
    derive(state);
    let has_outcome = Memo::new(move |_| state.outcome.with(Option::is_some));
    view! {
        <section class="result" class:empty=move || state.view.underlay.with(Option::is_none)>
            {controls(state)}
            <div class="views">
                {Plane::ALL.map(|plane| view! { <PlaneView plane=plane /> }).into_iter().collect_view()}
                <SurfaceView />
            </div>
            <div class="reports">
                {move || {
                    state.outcome.get().map(|o| view! { <Report outcome=o title="This result" current=true /> })
                }}
                {move || {
                    state.kept.get().map(|o| view! { <Report outcome=o title="Kept for comparison" current=false /> })
                }}
            </div>
            <Show when=move || has_outcome.get()>{actions(state)}</Show>
        </section>
    }
}
