//! Robustness test sets: a realistic case with one factor of the randomised training
//! distribution pushed to the edge of its range ([`Perturbation`]), for the robustness table
//! of `adamm eval --robustness`.
//!
//! Everything else about the case is the realistic case of the same seed: the same anatomy,
//! deformation, tumour (but for [`Perturbation::SmallTumour`]), contrast, noise and bias. The
//! perturbation's own draws (signs, axes, phases) come from a separate stream of the seed, so
//! a perturbed set and the realistic set of the same seeds pair case by case.
//!
//! | perturbation | what is pinned | training range |
//! |---|---|---|
//! | `noise` | Rician σ = [`RANDOM_NOISE_RANGE`]`.1` (8 %) of WM, every modality | 1–8 % |
//! | `bias` | the bias field rescaled so that it reaches ±[`EDGE_BIAS`] (±40 %) over the brain | up to ±40 % |
//! | `thick-slices` | every modality acquired as [`RANDOM_SLICE_THICKNESS_RANGE`]`.1` (7 mm) slices, on one axis per modality | 1–7 mm |
//! | `contrast` | every class mean at ×0.6 or ×1.6 ([`RANDOM_FACTOR`]'s ends), but for those the physical orderings force inside the range | ×0.6–1.6 |
//! | `stripping-rim` | a [`RANDOM_DILATION_RANGE`]`.1` (3) voxel rim left by the stripping, dura on T1Gd at [`RANDOM_DURA_T1GD_RANGE`]`.1` | 1–3 voxels |
//! | `small-tumour` | one focus of radius [`RANDOM_RADIUS_RANGE_MM`]`.0` (3 mm), edema 0–5 mm: well under 1 mL | 3–45 mm |

use adamm_volume::brats::Modality;

use crate::contrast::{ordering_violations, CaseContrast, Class, RANDOM_FACTOR};
use crate::degrade::{
    Degradations, Stripping, ThickSlices, RANDOM_DILATION_RANGE, RANDOM_DURA_T1GD_RANGE,
    RANDOM_SLICE_THICKNESS_RANGE,
};
use crate::generate::RANDOM_NOISE_RANGE;
use crate::rng::{splitmix64, Rand};
use crate::tumour::{TumourKind, TumourPlan, RANDOM_RADIUS_RANGE_MM};

/// The bias field of [`Perturbation::Bias`] reaches `1 ± EDGE_BIAS` at its extremes over the
/// brain, the randomised acquisition's cap.
pub const EDGE_BIAS: f64 = crate::generate::RANDOM_BIAS_MAX;
/// The largest edema reach (mm) of a [`Perturbation::SmallTumour`] case.
pub const SMALL_TUMOUR_MAX_EDEMA_MM: f64 = 5.0;

/// Key of a case seed's perturbation stream.
const PERTURBATION_STREAM: u64 = 0x7065_7274_7572_6221;
/// Single-entry flips tried at most while looking for an ordered [`Perturbation::Contrast`]
/// table.
pub const CONTRAST_FLIPS: usize = 4000;

/// One factor pushed to the edge of its training range (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Perturbation {
    /// Rician noise at 8 % of white matter.
    Noise,
    /// A ±40 % bias field.
    Bias,
    /// 7 mm thick slices in every modality.
    ThickSlices,
    /// Class means at ×0.6 or ×1.6 where the physics allows.
    Contrast,
    /// A 3-voxel rim of CSF and dura left by the skull stripping.
    StrippingRim,
    /// A tumour of 3 mm radius.
    SmallTumour,
}

impl Perturbation {
    /// Every perturbation, in the order of the robustness table.
    pub const ALL: [Perturbation; 6] = [
        Perturbation::Noise,
        Perturbation::Bias,
        Perturbation::ThickSlices,
        Perturbation::Contrast,
        Perturbation::StrippingRim,
        Perturbation::SmallTumour,
    ];

    /// Its name on the command line and in `synth.json`.
    pub fn name(self) -> &'static str {
        match self {
            Perturbation::Noise => "noise",
            Perturbation::Bias => "bias",
            Perturbation::ThickSlices => "thick-slices",
            Perturbation::Contrast => "contrast",
            Perturbation::StrippingRim => "stripping-rim",
            Perturbation::SmallTumour => "small-tumour",
        }
    }

    /// The perturbation called `name`.
    pub fn from_name(name: &str) -> Option<Perturbation> {
        Perturbation::ALL.into_iter().find(|p| p.name() == name)
    }

    /// What it pins, in words.
    pub fn describe(self) -> String {
        match self {
            Perturbation::Noise => format!(
                "Rician noise at {:.0} % of white matter",
                100.0 * RANDOM_NOISE_RANGE.1
            ),
            Perturbation::Bias => format!("bias field reaching ±{:.0} %", 100.0 * EDGE_BIAS),
            Perturbation::ThickSlices => format!(
                "{:.0} mm slices in every modality",
                RANDOM_SLICE_THICKNESS_RANGE.1
            ),
            Perturbation::Contrast => format!(
                "class means at ×{} or ×{} where the physics allows",
                RANDOM_FACTOR.0, RANDOM_FACTOR.1
            ),
            Perturbation::StrippingRim => format!(
                "{}-voxel stripping rim, dura at {} × WM on T1Gd",
                RANDOM_DILATION_RANGE.1, RANDOM_DURA_T1GD_RANGE.1
            ),
            Perturbation::SmallTumour => format!(
                "one focus of {:.0} mm radius, edema ≤ {SMALL_TUMOUR_MAX_EDEMA_MM:.0} mm",
                RANDOM_RADIUS_RANGE_MM.0
            ),
        }
    }
}

/// The perturbation stream of a case seed.
pub(crate) fn stream(seed: u64) -> Rand {
    Rand::new(splitmix64(seed ^ PERTURBATION_STREAM))
}

/// [`Perturbation::SmallTumour`]: `plan` reduced to its first focus at the smallest training
/// radius, solid (too small for necrosis), with a little edema and mass effect.
pub(crate) fn small_tumour(plan: &TumourPlan, rng: &mut Rand) -> TumourPlan {
    let r = RANDOM_RADIUS_RANGE_MM.0;
    let mut focus = plan.foci[0].clone();
    focus.radius_mm = r;
    focus.necrotic = false;
    focus.cystic = false;
    focus.rim_mm = focus.rim_mm.min(0.5 * r);
    focus.push_mm = focus.push_mm.min(0.3 * r);
    TumourPlan {
        kind: TumourKind::Small,
        foci: vec![focus],
        edema_mm: rng.range(0.0, SMALL_TUMOUR_MAX_EDEMA_MM),
        edema_weight: plan.edema_weight,
        location: plan.location,
    }
}

/// [`Perturbation::Contrast`]: every non-WM entry of `realistic`'s table (and the vessels and
/// choroid plexus) times a factor at one end of [`RANDOM_FACTOR`] (×0.6 or ×1.6), the ends
/// chosen so that the physical orderings hold (ET's only where the case is `enhancing`): from
/// random ends, single entries are flipped to the other end whenever that breaks no more
/// orderings than before, until none is broken ([`CONTRAST_FLIPS`] tries at most; then the
/// realistic table stays).
pub(crate) fn edge_contrast(
    realistic: &CaseContrast,
    enhancing: bool,
    rng: &mut Rand,
) -> CaseContrast {
    let (lo, hi) = RANDOM_FACTOR;
    let classes = Class::ALL.len();
    let entries = 4 * classes + 2;
    let wm = Class::Wm.index();
    let apply = |high: &[bool]| {
        let f = |e: usize| (if high[e] { hi } else { lo }) as f32;
        let mut drawn = realistic.clone();
        for (m, row) in drawn.table.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                if c != wm {
                    *v *= f(m * classes + c);
                }
            }
        }
        drawn.vessel *= f(entries - 2);
        drawn.choroid *= f(entries - 1);
        drawn
    };
    let broken = |drawn: &CaseContrast| {
        // Without enhancement there is no ET to order: check the rest with ET as it was.
        let mut check = drawn.table;
        if !enhancing {
            for (row, original) in check.iter_mut().zip(&realistic.table) {
                row[Class::Et.index()] = original[Class::Et.index()];
            }
        }
        ordering_violations(&check)
    };
    let mut high: Vec<bool> = (0..entries).map(|_| rng.chance(0.5)).collect();
    let mut current = broken(&apply(&high));
    for _ in 0..CONTRAST_FLIPS {
        if current == 0 {
            return apply(&high);
        }
        let e = rng.index(entries);
        if e < 4 * classes && e % classes == wm {
            continue;
        }
        high[e] = !high[e];
        let after = broken(&apply(&high));
        if after <= current {
            current = after;
        } else {
            high[e] = !high[e];
        }
    }
    if current == 0 {
        apply(&high)
    } else {
        realistic.clone()
    }
}

/// [`Perturbation::ThickSlices`] and [`Perturbation::StrippingRim`]: the degradations with
/// that one pinned.
pub(crate) fn edge_degradations(perturbation: Perturbation, rng: &mut Rand) -> Degradations {
    let mut d = Degradations::default();
    match perturbation {
        Perturbation::ThickSlices => {
            let thickness_mm = RANDOM_SLICE_THICKNESS_RANGE.1;
            d.thick_slices = Modality::ALL.map(|_| {
                Some(ThickSlices {
                    axis: rng.index(3),
                    thickness_mm,
                    phase_mm: rng.index(thickness_mm as usize) as f64,
                })
            });
        }
        Perturbation::StrippingRim => {
            d.stripping = Stripping::Dilated {
                voxels: RANDOM_DILATION_RANGE.1,
                dura_t1gd: Some(RANDOM_DURA_T1GD_RANGE.1),
            };
        }
        _ => {}
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contrast::physically_ordered;

    #[test]
    fn names_round_trip() {
        for p in Perturbation::ALL {
            assert_eq!(Perturbation::from_name(p.name()), Some(p));
            assert!(!p.describe().is_empty());
        }
        assert_eq!(Perturbation::from_name("thick"), None);
    }

    #[test]
    fn edge_contrasts_are_far_from_the_realistic_table_and_keep_the_physics() {
        let mut rng = Rand::new(3);
        for seed in 0..20 {
            let realistic = CaseContrast::draw(&mut Rand::new(seed), true);
            let edge = edge_contrast(&realistic, true, &mut rng);
            assert!(physically_ordered(&edge.table));
            let mut logs = Vec::new();
            for m in Modality::ALL {
                for c in Class::ALL {
                    let ratio = f64::from(edge.get(m, c) / realistic.get(m, c));
                    if c == Class::Wm {
                        assert_eq!(ratio, 1.0);
                    } else {
                        let at_lo = (ratio - RANDOM_FACTOR.0).abs() < 1e-4;
                        let at_hi = (ratio - RANDOM_FACTOR.1).abs() < 1e-4;
                        assert!(at_lo || at_hi, "{m} {c:?}: ×{ratio}");
                        logs.push(ratio.ln().abs());
                    }
                }
            }
            // Every entry at an end: mean |log factor| about 0.49 (a log-uniform one: 0.25).
            let mean = logs.iter().sum::<f64>() / logs.len() as f64;
            assert!(mean > 0.45, "mean |log factor| {mean}");
        }
    }

    #[test]
    fn a_small_tumour_is_one_solid_focus_at_the_smallest_training_radius() {
        let mut rng = stream(7);
        for seed in 0..200 {
            let plan = TumourPlan::draw(seed);
            let small = small_tumour(&plan, &mut rng);
            assert_eq!(small.foci.len(), 1);
            assert_eq!(small.foci[0].radius_mm, RANDOM_RADIUS_RANGE_MM.0);
            assert!(!small.foci[0].necrotic && !small.foci[0].cystic);
            assert!((0.0..=SMALL_TUMOUR_MAX_EDEMA_MM).contains(&small.edema_mm));
            let (core, whole) = small.nominal_volumes_ml();
            assert!(core < 0.2 && whole < 3.0, "{core} / {whole} mL");
        }
    }

    #[test]
    fn edge_degradations_pin_only_their_own_factor() {
        let mut rng = stream(1);
        let thick = edge_degradations(Perturbation::ThickSlices, &mut rng);
        for s in thick.thick_slices {
            let s = s.expect("every modality");
            assert_eq!(s.thickness_mm, RANDOM_SLICE_THICKNESS_RANGE.1);
            assert!(s.axis < 3 && s.phase_mm < s.thickness_mm);
        }
        assert_eq!(thick.stripping, Stripping::Exact);
        assert!(thick.edge.is_none());
        let rim = edge_degradations(Perturbation::StrippingRim, &mut rng);
        assert_eq!(
            rim.stripping,
            Stripping::Dilated {
                voxels: 3,
                dura_t1gd: Some(RANDOM_DURA_T1GD_RANGE.1)
            }
        );
        assert!(rim.thick_slices.iter().all(Option::is_none));
        assert!(edge_degradations(Perturbation::Noise, &mut rng).is_none());
    }
}
