//! Teaching mode: a case with all four scans segmented from each of the 15 combinations in
//! turn, through the worker (and its pool) like any job, shown as a grid of small axial views
//! at the crosshair's slice with each combination's Dice (`adamm_app::teaching`). The result
//! from all four scans also becomes the result shown. Labels are kept on the views' canonical
//! grid: 15 label maps, one byte per voxel (about 135 MB for a 240×240×155 case).

use std::rc::Rc;

use adamm_app::outcome::Outcome;
use adamm_app::teaching::{Reference, Teaching};
use adamm_view::planes::{render, Plane};
use adamm_volume::brats::{Availability, Region};
use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use super::State;

/// Starts a teaching run on the case shown.
fn start(state: State) {
    let truth = state.view.truth.get_untracked();
    let mut teaching = Teaching::new(match truth {
        Some(t) => Reference::Truth(t),
        None => Reference::AllFour,
    });
    if let Some(first) = teaching.next() {
        if let Some(job) = super::run::segment(state, first) {
            teaching.started(job, first);
            state.teaching.set(Some(teaching));
        }
    }
}

/// Stops the run (Cancel, a worker that died): what is done stays shown.
pub fn stop(state: State) {
    state.teaching.update(|t| {
        if let Some(t) = t.as_mut() {
            t.abandoned();
        }
    });
}

/// Takes `outcome` when it is the teaching run's, scores it and starts the next combination;
/// `false` when it is not the run's (it is shown as any result).
pub fn take(state: State, outcome: &Rc<Outcome>) -> bool {
    let owned = state
        .teaching
        .with_untracked(|t| t.as_ref().is_some_and(|t| t.owns(outcome.job)));
    if !owned {
        return false;
    }
    // Scored on the views' canonical grid, where the ground truth is.
    let labels = state.view.underlay.with_untracked(|u| {
        u.as_ref()
            .filter(|u| outcome.is_on_grid_of(&u.grid))
            .and_then(|u| u.canonical(&outcome.prediction.labels))
    });
    let Some(labels) = labels else {
        stop(state);
        state.tell("Teaching mode stopped: the case's grid changed.");
        return true;
    };
    let mut failed = None;
    state.teaching.update(|t| {
        if let Some(Some(Err(e))) = t.as_mut().map(|t| t.finished(outcome.job, Rc::new(labels))) {
            failed = Some(e.to_string());
        }
    });
    if let Some(e) = failed {
        stop(state);
        state.tell(format!("Teaching mode stopped: {e}"));
        return true;
    }
    if outcome.availability == Availability::FULL {
        state.outcome.set(Some(outcome.clone()));
    }
    let next = state
        .teaching
        .with_untracked(|t| t.as_ref().and_then(Teaching::next));
    if let Some(next) = next {
        match super::run::segment(state, next) {
            Some(job) => state.teaching.update(|t| {
                if let Some(t) = t.as_mut() {
                    t.started(job, next);
                }
            }),
            None => stop(state),
        }
    }
    true
}

/// Draws tile `index`'s labels on the axial slice through the crosshair.
fn draw(state: State, index: usize, canvas: &web_sys::HtmlCanvasElement) {
    let view = state.view;
    let Some(u) = view.underlay.get() else {
        return;
    };
    let labels = state.teaching.with(|t| {
        t.as_ref()
            .and_then(|t| t.tiles.get(index))
            .map(|tile| tile.labels.clone())
    });
    let Some(labels) = labels.filter(|l| l.len() == u.data.len()) else {
        return;
    };
    let layout = u.layout(view.radiological.get());
    let rgba = render(
        &layout,
        Plane::Axial,
        view.cursor.get(),
        &u.data,
        view.intensity.get().unwrap_or(u.auto),
        Some((&labels, view.overlay.get())),
        &[],
    );
    let (w, h) = layout.size(Plane::Axial);
    canvas.set_width(w as u32);
    canvas.set_height(h as u32);
    let ctx = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<web_sys::CanvasRenderingContext2d>().ok());
    let image = web_sys::ImageData::new_with_u8_clamped_array_and_sh(
        wasm_bindgen::Clamped(&rgba),
        w as u32,
        h as u32,
    );
    if let (Some(ctx), Ok(image)) = (ctx, image) {
        let _ = ctx.put_image_data(&image, 0.0, 0.0);
    }
}

/// One combination's small view and its Dice.
#[component]
fn TileView(index: usize) -> impl IntoView {
    let state = super::state();
    let canvas = NodeRef::<html::Canvas>::new();
    Effect::new(move |_| {
        if let Some(el) = canvas.get() {
            draw(state, index, &el);
        }
    });
    let tile = move || {
        state
            .teaching
            .with(|t| t.as_ref().and_then(|t| t.tiles.get(index)).cloned())
    };
    let code = move || tile().map(|t| t.availability.code()).unwrap_or_default();
    let caption = move || {
        tile().map(|t| {
            let dice: Vec<String> = Region::ALL
                .iter()
                .zip(t.dice)
                .map(|(r, d)| format!("{} {d:.2}", r.name()))
                .collect();
            (t.availability.name(), dice.join(" · "))
        })
    };
    view! {
        <figure class="tile" data-combination=code>
            <canvas node_ref=canvas></canvas>
            <figcaption>
                {move || caption().map(|(name, dice)| view! {
                    <b>{name}</b><br/><span class="dice">{dice}</span>
                })}
            </figcaption>
        </figure>
    }
}

/// The teaching section: the button, the progress and the grid.
#[component]
pub fn TeachingSection() -> impl IntoView {
    let state = super::state();
    let all_four = Memo::new(move |_| state.case.with(|c| c.availability() == Availability::FULL));
    let can_start = Memo::new(move |_| {
        all_four.get()
            && state.session.with(|s| s.can_segment())
            && state.teaching.with(|t| {
                t.as_ref()
                    .is_none_or(|t| t.next().is_none() && !t.running())
            })
    });
    let tiles = Memo::new(move |_| {
        state
            .teaching
            .with(|t| t.as_ref().map_or(0, |t| t.tiles.len()))
    });
    let status = move || {
        state.teaching.with(|t| {
            t.as_ref().map(|t| {
                let (done, all) = t.progress();
                format!(
                    "{done} of {all} combinations segmented; Dice of WT, TC and ET against {}.",
                    t.scored_against()
                )
            })
        })
    };
    view! {
        <section class="teaching">
            <h2>"Teaching: what each missing scan costs"</h2>
            <p>
                <button
                    id="teach"
                    on:click=move |_| start(state)
                    prop:disabled=move || !can_start.get()
                >
                    "Segment all 15 combinations"
                </button>
                {move || (!all_four.get()).then(|| view! {
                    <span class="hint">" Needs a case with all four scans."</span>
                })}
            </p>
            <p class="teaching-status">{status}</p>
            <div class="tiles">
                {move || (0..tiles.get()).map(|i| view! { <TileView index=i /> }).collect_view()}
            </div>
        </section>
    }
}
