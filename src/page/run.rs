//! The Segment section: the scans to use, the Segment button, progress and Cancel, and the
//! notice. A job starts with a snapshot of the case ([`Case::snapshot`]): its result is read
//! on that, whatever the user changes meanwhile.

use adamm_app::case::Case;
use adamm_app::protocol::Request;
use adamm_app::session::Job;
use adamm_volume::brats::{Availability, Modality};
use leptos::prelude::*;

use super::{worker, State};

fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// The browser's logical cores (`navigator.hardwareConcurrency`).
fn cores() -> u32 {
    web_sys::window().map_or(1, |w| w.navigator().hardware_concurrency() as u32)
}

/// Starts a job on the scans of `wanted` the case can use; its id, `None` (the user told
/// why) when it could not start.
pub fn segment(state: State, wanted: Availability) -> Option<u32> {
    let Some((snapshot, files)) = state.case.with_untracked(|c| c.snapshot(wanted)) else {
        state.tell("Switch on at least one available scan.");
        return None;
    };
    let id = state.worker.next_job();
    let strip = state.strip.get_untracked();
    let workers = state.workers.get_untracked();
    match state.worker.post(&Request::Segment {
        job: id,
        files,
        strip,
        workers,
    }) {
        Ok(()) => {
            state.session.update(|s| {
                s.notice = None;
                s.job = Some(Job::new(id, snapshot, now_ms()));
            });
            Some(id)
        }
        Err(e) => {
            state.tell(format!("The job could not be sent: {e}."));
            None
        }
    }
}

/// Stops the job at once: the worker is replaced by a fresh one.
fn cancel(state: State) {
    let choice = state.session.with_untracked(|s| s.choice);
    worker::start(state, choice);
    super::teaching::stop(state);
    state.tell("Cancelled.");
}

/// The Segment section.
#[component]
pub fn RunSection() -> impl IntoView {
    let state = super::state();
    let (case, session, switched_off) = (state.case, state.session, state.switched_off);
    // The scans the case has, and those of them switched on.
    let have = Memo::new(move |_| case.with(Case::availability));
    let wanted = Memo::new(move |_| {
        let off = switched_off.get();
        let have = have.get().present();
        Availability::from_present([0, 1, 2, 3].map(|i| have[i] && !off[i]))
    });
    let can_segment = Memo::new(move |_| session.with(|s| s.can_segment()));
    // The job's progress: (done, total, started).
    let progress = Memo::new(move |_| {
        session.with(|s| s.job.as_ref().map(|j| (j.done, j.total, j.started_ms)))
    });
    let notice = Memo::new(move |_| session.with(|s| s.notice.clone()));
    // Elapsed time while a job runs.
    let tick = RwSignal::new(0.0f64);
    if let Ok(handle) = set_interval_with_handle(
        move || {
            if progress.get_untracked().is_some() {
                tick.set(now_ms());
            }
        },
        std::time::Duration::from_millis(250),
    ) {
        on_cleanup(move || handle.clear());
    }
    view! {
        <section class="run">
            <h2>"Segment"</h2>
            <p class="modalities">
                "Scans used: "
                {Modality::ALL
                    .iter()
                    .map(|&m| {
                        let i = m.index();
                        view! {
                            <label class:absent=move || !have.get().has(m)>
                                <input
                                    type="checkbox"
                                    prop:checked=move || !switched_off.get()[i]
                                    prop:disabled=move || !have.get().has(m)
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        switched_off.update(|s| s[i] = !on);
                                    }
                                />
                                {m.name()}
                            </label>
                        }
                    })
                    .collect_view()}
            </p>
            <p class="strip">
                <label>
                    <input
                        type="checkbox"
                        id="strip"
                        prop:checked=move || state.strip.get()
                        on:change=move |ev| state.strip.set(event_target_checked(&ev))
                    />
                    "Extract the brain when the scans are not skull-stripped"
                </label>
            </p>
            <p class="workers">
                <label>
                    "CPU workers "
                    <select
                        id="workers"
                        on:change=move |ev| {
                            state.workers.set(event_target_value(&ev).parse().unwrap_or(0));
                        }
                    >
                        <option value="0" selected=true>
                            {format!("one per core ({})", cores())}
                        </option>
                        {[1u32, 2, 4, 8]
                            .into_iter()
                            .map(|n| view! { <option value=n.to_string()>{n.to_string()}</option> })
                            .collect_view()}
                    </select>
                </label>
            </p>
            <button
                id="segment"
                on:click=move |_| {
                    segment(state, wanted.get_untracked());
                }
                prop:disabled=move || !can_segment.get() || wanted.get().is_empty()
            >
                "Segment"
            </button>
            {move || {
                progress
                    .get()
                    .map(|(done, total, started_ms)| {
                        let _ = tick.get();
                        let elapsed = (now_ms() - started_ms) / 1000.0;
                        view! {
                            <span class="progress">
                                <progress max=total.max(1) value=done></progress>
                                {format!(" window {done} of {total} · {elapsed:.0} s ")}
                                <button id="cancel" on:click=move |_| cancel(state)>
                                    "Cancel"
                                </button>
                            </span>
                        }
                    })
            }}
            {move || case.with(Case::not_ready).map(|t| view! { <p class="hint">{t}</p> })}
            {move || notice.get().map(|t| view! { <p class="notice" role="alert">{t}</p> })}
        </section>
    }
}
