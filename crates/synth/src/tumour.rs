//! The tumour model: what tumour a case gets ([`TumourPlan`]), where it sits, and how its
//! labels grow.
//!
//! **Kinds** (probabilities 55 / 15 / 15 / 15 %):
//! - *glioblastoma-like*: one focus, radius 12–32 mm (log-uniform), an enhancing rim 1.5–6 mm
//!   thick around necrosis (85 %) or a solid enhancing mass; edema reach 8–30 mm;
//! - *low-grade-like*: one focus of 12–32 mm, **no enhancement** (its core is solid
//!   non-enhancing tumour, NETC), little edema (2–12 mm), little mass effect;
//! - *small*: one focus of 4–9 mm, enhancing in 80 % (ring or solid), edema 3–25 mm;
//! - *multifocal*: 2–3 foci, the first 10–25 mm, the others 30–70 % of it, 15–60 mm apart;
//!   edema 5–20 mm.
//!
//! The resulting whole-tumour volumes span roughly 5–300 mL like BraTS (median near 80 mL).
//!
//! **Randomised plans** ([`TumourPlan::draw_randomised`], the randomised shape mode for
//! training data, on a random stream of their own so that [`TumourPlan::draw`] is unchanged)
//! cover a far wider range:
//! - *foci*: 1, 2, 3 or 4 with probabilities 70 / 15 / 10 / 5 % ([`RANDOM_FOCI_PROBABILITIES`]);
//!   the first of radius 3–45 mm (log-uniform, [`RANDOM_RADIUS_RANGE_MM`]: 0.1–380 mL of
//!   core), the others 30–80 % of it ([`RANDOM_SATELLITE_FRACTION`], at least 2 mm), placed
//!   like the realistic multifocal foci;
//! - *enhancement*: 65 % of cases enhance ([`RANDOM_ENHANCING_PROBABILITY`]; the first focus
//!   always, each other one with probability 0.8); an enhancing focus of radius ≥ 5 mm is
//!   necrotic (ring-enhancing) with probability 0.6 ([`RANDOM_NECROTIC_PROBABILITY`]), else
//!   solid;
//! - *cysts*: a focus of radius ≥ 5 mm is cystic with probability 0.15
//!   ([`RANDOM_CYSTIC_PROBABILITY`]): its core is fluid, labelled NETC (inside the enhancing
//!   rim when it enhances) but with a CSF-like signal ([`crate::contrast::CYST_FLUID`]) that
//!   fades to the solid tumour's over the outer quarter of the core;
//! - *edema*: none (0 mm) with probability 0.15 ([`RANDOM_NO_EDEMA_PROBABILITY`]), else a
//!   reach of 2–45 mm (log-uniform, [`RANDOM_EDEMA_RANGE_MM`]); signal weight 0.6–0.98;
//! - *mass effect*: none for a quarter of the foci ([`RANDOM_NO_MASS_EFFECT_PROBABILITY`]),
//!   else a push of 5–45 % of the radius ([`RANDOM_PUSH_FRACTION`], always below the half
//!   that would fold the map), at most [`RANDOM_MAX_PUSH_MM`];
//! - *shape*: semi-axes 0.65–1.45 (unit product), irregularity 0.08–0.35, rim thickness from
//!   1 mm to 35 % of the radius (1.5–8 mm), 40 % of rims complete, the others missing 5–60 %;
//! - *location* ([`Location`], probabilities [`LOCATION_PROBABILITIES`] 30 / 30 / 20 / 20 %):
//!   deep white matter (as the realistic plans), lobar subcortical white matter (10–22 mm
//!   below the brain surface and over 10 mm from the ventricles), cortical (centred 6–9 mm
//!   below the surface, so that the focus takes in the cortex and is clipped by the brain's
//!   edge) or periventricular (within 5 mm of a ventricle).
//!
//! A randomised plan's kind says what it looks like: multifocal with several foci, small below
//! 9 mm, low-grade-like without enhancement, glioblastoma-like otherwise. Whole-tumour volumes
//! run from well under 1 mL to over 300 mL (tests/shape.rs measures them on generated cases).
//!
//! **Shape.** A focus is an ellipsoid (semi-axes `R·a`, `a` in [0.75, 1.3] with unit product,
//! random orientation) whose normalised radius `ρ` is perturbed by fractal noise of lattice
//! `0.6·R`: the core is `ρ + 3·σ·N(x) < 1` with irregularity `σ` = 0.12–0.30 (0.20–0.35 for
//! low-grade). Inside the core, the enhancing rim is the outer shell whose local thickness is
//! the rim thickness modulated ±50 % by noise; where a second noise field falls below its
//! `gap` quantile the rim is missing (non-enhancing): 50 % of rims are complete, the others
//! lose 5–40 %. Everything stays inside the brain mask.
//!
//! **Edema.** Geodesic growth (Dijkstra, 26-neighbour) from the core with a travel cost per mm
//! of 1 in white matter, 1/0.35 ≈ 2.9 in grey matter and 10 in CSF, so edema spreads along
//! white-matter tracts, stops at the cortex and rarely crosses sulci or ventricles. A voxel is
//! edema when its geodesic distance is below the local reach `D·(1 + 1.5·N(x))` (smooth noise
//! of lattice ≥ 8 mm, clamped to [0.4 D, 1.8 D]). Edema signal is mixed with the tissue it infiltrates with weight
//! `w0` (0.75–0.95), fading to 60 % of it over the outer few millimetres.

use crate::anatomy::Anatomy;
use crate::deform::{mul, rotation, transpose, Deformation, Mat3, WarpedAnatomy};
use crate::field::{Fractal, Region};
use crate::rng::{splitmix64, Rand};
use adamm_volume::brats::label;

/// Probabilities of glioblastoma-like, low-grade-like, small and multifocal cases.
pub const KIND_PROBABILITIES: [f64; 4] = [0.55, 0.15, 0.15, 0.15];

/// Randomised plans: probabilities of 1, 2, 3 and 4 foci.
pub const RANDOM_FOCI_PROBABILITIES: [f64; 4] = [0.70, 0.15, 0.10, 0.05];
/// Randomised plans: range (log-uniform) of the first focus's radius, mm.
pub const RANDOM_RADIUS_RANGE_MM: (f64, f64) = (3.0, 45.0);
/// Randomised plans: range of the other foci's radius as a fraction of the first's.
pub const RANDOM_SATELLITE_FRACTION: (f64, f64) = (0.3, 0.8);
/// Randomised plans: smallest radius of a satellite focus, mm.
pub const RANDOM_MIN_SATELLITE_MM: f64 = 2.0;
/// Randomised plans: probability that a case enhances.
pub const RANDOM_ENHANCING_PROBABILITY: f64 = 0.65;
/// Randomised plans: probability that an enhancing focus of radius ≥ [`RANDOM_CORE_MIN_MM`]
/// has a necrotic centre (ring enhancement).
pub const RANDOM_NECROTIC_PROBABILITY: f64 = 0.6;
/// Randomised plans: probability that a focus of radius ≥ [`RANDOM_CORE_MIN_MM`] is cystic.
pub const RANDOM_CYSTIC_PROBABILITY: f64 = 0.15;
/// Randomised plans: smallest radius (mm) of a focus with a necrotic or cystic centre.
pub const RANDOM_CORE_MIN_MM: f64 = 5.0;
/// Randomised plans: probability of no edema at all.
pub const RANDOM_NO_EDEMA_PROBABILITY: f64 = 0.15;
/// Randomised plans: range (log-uniform) of the edema reach when there is edema, mm.
pub const RANDOM_EDEMA_RANGE_MM: (f64, f64) = (2.0, 45.0);
/// Randomised plans: probability that a focus has no mass effect.
pub const RANDOM_NO_MASS_EFFECT_PROBABILITY: f64 = 0.25;
/// Randomised plans: range of the mass-effect push as a fraction of the focus radius (below
/// 0.5, where the radial push would fold the map).
pub const RANDOM_PUSH_FRACTION: (f64, f64) = (0.05, 0.45);
/// Randomised plans: largest mass-effect push, mm.
pub const RANDOM_MAX_PUSH_MM: f64 = 15.0;
/// Randomised plans: probabilities of the [`Location`]s in [`Location::ALL`] order (deep,
/// lobar, cortical, periventricular).
pub const LOCATION_PROBABILITIES: [f64; 4] = [0.30, 0.30, 0.20, 0.20];
/// Depth range (mm below the brain surface) of a lobar focus's seed.
pub const LOBAR_DEPTH_MM: (f32, f32) = (10.0, 22.0);
/// Largest depth (mm below the brain surface) of a cortical focus's seed (seeds are at least
/// `anatomy::SEED_DEPTH_MM` deep).
pub const CORTICAL_MAX_DEPTH_MM: f32 = 9.0;
/// Largest distance (mm) from a ventricle of a periventricular focus's seed; lobar seeds are
/// at least twice as far.
pub const PERIVENTRICULAR_MM: f32 = 5.0;
/// Fraction of a cystic core's normalised radius over which the fluid signal fades into the
/// solid tumour's at the core's edge.
pub const CYST_EDGE: f64 = 0.25;
/// Key of the randomised plans' random stream (see [`TumourPlan::draw_randomised`]).
const RANDOM_PLAN_STREAM: u64 = 0x7368_6170_6570_6C6E;

/// Edema travel cost per mm in grey matter (white matter = 1).
pub const GREY_MATTER_COST: f32 = 1.0 / 0.35;
/// Edema travel cost per mm in CSF.
pub const CSF_COST: f32 = 10.0;
/// Gain of the noise (values in [-1, 1], spread about ±0.3) that modulates the edema reach.
pub const EDEMA_REACH_NOISE: f64 = 1.5;
/// The local edema reach stays within these multiples of the plan's reach.
pub const EDEMA_REACH_CLAMP: (f64, f64) = (0.4, 1.8);

/// The kind of tumour a case gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TumourKind {
    /// One necrotic (or solid) enhancing mass with edema.
    Glioblastoma,
    /// One non-enhancing mass: no ET.
    LowGrade,
    /// One small focus.
    Small,
    /// Two or three foci.
    Multifocal,
}

impl TumourKind {
    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            TumourKind::Glioblastoma => "glioblastoma-like",
            TumourKind::LowGrade => "low-grade-like",
            TumourKind::Small => "small",
            TumourKind::Multifocal => "multifocal",
        }
    }
}

/// Where a case's tumour is seeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Location {
    /// Deep white matter, as deep as the focus needs to lie mostly in the brain (every
    /// realistic plan).
    Deep,
    /// Lobar subcortical white matter: [`LOBAR_DEPTH_MM`] below the brain surface and over
    /// 2 × [`PERIVENTRICULAR_MM`] from the ventricles.
    Lobar,
    /// Juxtacortical: at most [`CORTICAL_MAX_DEPTH_MM`] below the brain surface, so the focus
    /// takes in the cortex.
    Cortical,
    /// Within [`PERIVENTRICULAR_MM`] of a ventricle.
    Periventricular,
}

impl Location {
    /// All locations, in [`LOCATION_PROBABILITIES`] order.
    pub const ALL: [Location; 4] = [
        Location::Deep,
        Location::Lobar,
        Location::Cortical,
        Location::Periventricular,
    ];

    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Location::Deep => "deep",
            Location::Lobar => "lobar",
            Location::Cortical => "cortical",
            Location::Periventricular => "periventricular",
        }
    }
}

/// The shape and composition of one tumour focus.
#[derive(Debug, Clone, PartialEq)]
pub struct FocusPlan {
    /// Mean radius of the core (NETC + ET), mm.
    pub radius_mm: f64,
    /// Relative semi-axes (product 1).
    pub axes: [f64; 3],
    /// Orientation (rotation angles about x, y, z, radians).
    pub angles: [f64; 3],
    /// Standard deviation of the surface perturbation, as a fraction of the radius.
    pub irregularity: f64,
    /// Whether the focus enhances (has ET).
    pub enhancing: bool,
    /// Whether an enhancing focus has a necrotic centre (else it is solid).
    pub necrotic: bool,
    /// Mean enhancing rim thickness, mm.
    pub rim_mm: f64,
    /// Fraction of the rim (or solid mass) that does not enhance.
    pub rim_gap: f64,
    /// Mass-effect push at the focus surface, mm.
    pub push_mm: f64,
    /// Whether the core is a fluid-filled cyst (labelled NETC, CSF-like signal); never in
    /// realistic plans.
    pub cystic: bool,
}

/// Everything about a case's tumour that does not depend on the anatomy.
#[derive(Debug, Clone, PartialEq)]
pub struct TumourPlan {
    /// The kind.
    pub kind: TumourKind,
    /// The foci, largest first.
    pub foci: Vec<FocusPlan>,
    /// Mean geodesic reach of the edema beyond the core, mm (white-matter distance).
    pub edema_mm: f64,
    /// Weight of the edema signal against the infiltrated tissue's, at the core.
    pub edema_weight: f64,
    /// Where it is seeded ([`Location::Deep`] in realistic plans).
    pub location: Location,
}

impl TumourPlan {
    /// The plan of the case with seed `case_seed` (cheap: no anatomy involved).
    pub fn draw(case_seed: u64) -> TumourPlan {
        let mut rng = Rand::new(case_seed);
        let u = rng.unit();
        let mut acc = 0.0;
        let mut kind = TumourKind::Multifocal;
        for (p, k) in KIND_PROBABILITIES.iter().zip([
            TumourKind::Glioblastoma,
            TumourKind::LowGrade,
            TumourKind::Small,
            TumourKind::Multifocal,
        ]) {
            acc += p;
            if u < acc {
                kind = k;
                break;
            }
        }
        let (foci, edema_mm) = match kind {
            TumourKind::Glioblastoma => {
                let r = rng.log_range(12.0, 32.0);
                let necrotic = rng.chance(0.85);
                (
                    vec![focus(&mut rng, r, true, necrotic, false)],
                    rng.range(8.0, 30.0),
                )
            }
            TumourKind::LowGrade => {
                let r = rng.log_range(12.0, 32.0);
                (
                    vec![focus(&mut rng, r, false, false, true)],
                    rng.range(2.0, 12.0),
                )
            }
            TumourKind::Small => {
                let r = rng.log_range(4.0, 9.0);
                let enhancing = rng.chance(0.8);
                let necrotic = enhancing && rng.chance(0.5);
                (
                    vec![focus(&mut rng, r, enhancing, necrotic, false)],
                    rng.range(3.0, 25.0),
                )
            }
            TumourKind::Multifocal => {
                let r0 = rng.log_range(10.0, 25.0);
                let count = 2 + rng.chance(0.35) as usize;
                let mut foci = Vec::with_capacity(count);
                for n in 0..count {
                    let r = if n == 0 { r0 } else { r0 * rng.range(0.3, 0.7) };
                    let necrotic = r > 6.0 && rng.chance(0.6);
                    foci.push(focus(&mut rng, r, true, necrotic, false));
                }
                (foci, rng.range(5.0, 20.0))
            }
        };
        TumourPlan {
            kind,
            foci,
            edema_mm,
            edema_weight: rng.range(0.75, 0.95),
            location: Location::Deep,
        }
    }

    /// The randomised plan of the case with seed `case_seed`, for training data (see the
    /// module documentation for the distribution): from a stream of the seed of its own, so
    /// [`TumourPlan::draw`] of the same seed is unaffected.
    pub fn draw_randomised(case_seed: u64) -> TumourPlan {
        let mut rng = Rand::new(splitmix64(case_seed ^ RANDOM_PLAN_STREAM));
        let count = 1 + pick(&mut rng, &RANDOM_FOCI_PROBABILITIES);
        let location = Location::ALL[pick(&mut rng, &LOCATION_PROBABILITIES)];
        let enhancing_case = rng.chance(RANDOM_ENHANCING_PROBABILITY);
        let (lo, hi) = RANDOM_RADIUS_RANGE_MM;
        let r0 = rng.log_range(lo, hi);
        let mut foci = Vec::with_capacity(count);
        for n in 0..count {
            let r = if n == 0 {
                r0
            } else {
                let (a, b) = RANDOM_SATELLITE_FRACTION;
                (r0 * rng.range(a, b)).max(RANDOM_MIN_SATELLITE_MM)
            };
            let enhancing = enhancing_case && (n == 0 || rng.chance(0.8));
            let cystic = r >= RANDOM_CORE_MIN_MM && rng.chance(RANDOM_CYSTIC_PROBABILITY);
            // A cyst inside an enhancing focus sits within its rim.
            let necrotic = enhancing
                && (cystic || (r >= RANDOM_CORE_MIN_MM && rng.chance(RANDOM_NECROTIC_PROBABILITY)));
            foci.push(focus_randomised(&mut rng, r, enhancing, necrotic, cystic));
        }
        let edema_mm = if rng.chance(RANDOM_NO_EDEMA_PROBABILITY) {
            0.0
        } else {
            rng.log_range(RANDOM_EDEMA_RANGE_MM.0, RANDOM_EDEMA_RANGE_MM.1)
        };
        let kind = if count > 1 {
            TumourKind::Multifocal
        } else if r0 < 9.0 {
            TumourKind::Small
        } else if !enhancing_case {
            TumourKind::LowGrade
        } else {
            TumourKind::Glioblastoma
        };
        TumourPlan {
            kind,
            foci,
            edema_mm,
            edema_weight: rng.range(0.6, 0.98),
            location,
        }
    }

    /// The plan's nominal volumes in mL: the foci's cores (ellipsoids of their mean radius)
    /// and an upper estimate of the whole tumour (each core grown by the edema reach, summed;
    /// the generated case is smaller where edema meets grey matter or the brain's edge).
    pub fn nominal_volumes_ml(&self) -> (f64, f64) {
        let ball = |r: f64| 4.0 / 3.0 * std::f64::consts::PI * r.powi(3) / 1000.0;
        let core = self.foci.iter().map(|f| ball(f.radius_mm)).sum();
        let whole = self
            .foci
            .iter()
            .map(|f| ball(f.radius_mm + self.edema_mm))
            .sum();
        (core, whole)
    }

    /// True when some focus enhances (the case has ET voxels, unless clipped away).
    pub fn has_enhancement(&self) -> bool {
        self.foci.iter().any(|f| f.enhancing)
    }
}

/// Index drawn from `probabilities` (which sum to 1; the last index takes any remainder).
fn pick(rng: &mut Rand, probabilities: &[f64]) -> usize {
    let u = rng.unit();
    let mut acc = 0.0;
    for (i, p) in probabilities.iter().enumerate() {
        acc += p;
        if u < acc {
            return i;
        }
    }
    probabilities.len().saturating_sub(1)
}

/// Draws one focus of a randomised plan (wider shapes, rims and mass effect than [`focus`]).
fn focus_randomised(
    rng: &mut Rand,
    r: f64,
    enhancing: bool,
    necrotic: bool,
    cystic: bool,
) -> FocusPlan {
    let mut axes = [0; 3].map(|_| rng.range(0.65, 1.45));
    let g = (axes[0] * axes[1] * axes[2]).cbrt();
    axes = axes.map(|a| a / g);
    let angles = [0; 3].map(|_| rng.range(-std::f64::consts::PI, std::f64::consts::PI));
    let irregularity = rng.range(0.08, 0.35);
    let rim_mm = rng.range(1.0, (0.35 * r).clamp(1.5, 8.0));
    let rim_gap = if rng.chance(0.4) {
        0.0
    } else {
        rng.range(0.05, 0.6)
    };
    let push_mm = if rng.chance(RANDOM_NO_MASS_EFFECT_PROBABILITY) {
        0.0
    } else {
        let (lo, hi) = RANDOM_PUSH_FRACTION;
        (rng.range(lo, hi) * r).min(RANDOM_MAX_PUSH_MM)
    };
    FocusPlan {
        radius_mm: r,
        axes,
        angles,
        irregularity,
        enhancing,
        necrotic,
        rim_mm,
        rim_gap,
        push_mm,
        cystic,
    }
}

/// Draws one focus of radius `r`.
fn focus(rng: &mut Rand, r: f64, enhancing: bool, necrotic: bool, low_grade: bool) -> FocusPlan {
    let mut axes = [0; 3].map(|_| rng.range(0.75, 1.3));
    let g = (axes[0] * axes[1] * axes[2]).cbrt();
    axes = axes.map(|a| a / g);
    let angles = [0; 3].map(|_| rng.range(-std::f64::consts::PI, std::f64::consts::PI));
    let irregularity = if low_grade {
        rng.range(0.20, 0.35)
    } else {
        rng.range(0.12, 0.30)
    };
    let rim_mm = if r < 9.0 {
        rng.range(1.2, 3.0)
    } else {
        rng.range(1.5, 6.0)
    };
    let rim_gap = if rng.chance(0.5) {
        0.0
    } else {
        rng.range(0.05, 0.4)
    };
    let push_frac = if low_grade {
        rng.range(0.05, 0.15)
    } else {
        rng.range(0.05, 0.3)
    };
    FocusPlan {
        radius_mm: r,
        axes,
        angles,
        irregularity,
        enhancing,
        necrotic,
        rim_mm,
        rim_gap,
        push_mm: (push_frac * r).min(6.0),
        cystic: false,
    }
}

/// A focus placed in a case: its plan, centre (work-local voxel coordinates) and orientation.
pub(crate) struct Focus {
    /// The plan.
    pub plan: FocusPlan,
    /// Centre, work-local voxel coordinates.
    pub centre: [f64; 3],
    /// Mass-effect push at the surface, mm.
    pub push_mm: f64,
    /// Rows: the ellipsoid's axis directions.
    pub frame: Mat3,
}

/// How far (mm) a seed of depth `depth` (below the brain surface) and distance `ventricle`
/// from the ventricles is from suiting `location` (0: it suits); `want_depth` is the depth a
/// deep focus asks for.
fn location_miss(
    location: Location,
    want_depth: f32,
    depth: f32,
    ventricle: impl Fn() -> f32,
) -> f32 {
    match location {
        Location::Deep => (want_depth - depth).max(0.0),
        Location::Lobar => {
            (LOBAR_DEPTH_MM.0 - depth).max(0.0)
                + (depth - LOBAR_DEPTH_MM.1).max(0.0)
                + (2.0 * PERIVENTRICULAR_MM - ventricle()).max(0.0)
        }
        Location::Cortical => (depth - CORTICAL_MAX_DEPTH_MM).max(0.0),
        Location::Periventricular => (ventricle() - PERIVENTRICULAR_MM).max(0.0),
    }
}

/// Picks atlas seeds for the foci (supratentorial white matter where the plan's
/// [`Location`] asks: the first of 400 random seeds that suits it, else the one that comes
/// closest) and maps them to the case's output grid (work-local coordinates of `work`).
pub(crate) fn place(
    plan: &TumourPlan,
    anatomy: &Anatomy,
    deform: &Deformation,
    work: &Region,
    rng: &mut Rand,
) -> Vec<Focus> {
    let mut atlas_centres: Vec<[f64; 3]> = Vec::new();
    let mut foci = Vec::with_capacity(plan.foci.len());
    for fp in &plan.foci {
        // Deep enough that most of the focus lies in the brain.
        let want_depth = (0.8 * fp.radius_mm).min(20.0) as f32 + 2.0;
        let mut best: Option<([f64; 3], f32)> = None;
        for _ in 0..400 {
            let i = rng.index(anatomy.seed_count());
            let (p, depth) = anatomy.seed(i);
            let spaced = match atlas_centres.first() {
                None => true,
                Some(c0) => {
                    let d = dist(p, *c0);
                    let r0 = plan.foci[0].radius_mm;
                    d >= r0 + fp.radius_mm + 4.0 && d <= (r0 + fp.radius_mm + 15.0).max(60.0)
                }
            };
            if !spaced {
                continue;
            }
            // Whether the seed suits the location, and its rank (higher is better) if not.
            let (fits, rank) = match plan.location {
                Location::Deep => (depth >= want_depth, depth),
                location => {
                    let miss = location_miss(location, want_depth, depth, || {
                        anatomy.seed_ventricle_distance(i)
                    });
                    (miss == 0.0, -miss)
                }
            };
            if fits {
                best = Some((p, rank));
                break;
            }
            if best.is_none_or(|(_, d)| rank > d) {
                best = Some((p, rank));
            }
        }
        let atlas = match best {
            Some((p, _)) => p,
            // No spaced seed found (tiny anatomy): fall back to any seed.
            None => anatomy.seed(rng.index(anatomy.seed_count())).0,
        };
        atlas_centres.push(atlas);
        let out = deform.inverse(atlas);
        let centre = [0, 1, 2].map(|a| out[a] - work.lo[a] as f64);
        foci.push(Focus {
            plan: fp.clone(),
            centre,
            push_mm: fp.push_mm,
            frame: transpose(&rotation(fp.angles)),
        });
    }
    foci
}

fn dist(a: [f64; 3], b: [f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// The labels of one case on its work region, with what the contrast step needs.
pub(crate) struct Lesion {
    /// Internal labels (0, NETC, SNFH, ET) for every work-region voxel.
    pub labels: Vec<u8>,
    /// The box (work-local) outside which there is no lesion.
    pub region: Region,
    /// Per voxel of `region`: weight of the edema signal (0 outside edema).
    pub edema_weight: Vec<f32>,
    /// Per voxel of `region`: lesion texture in [-1, 1].
    pub texture: Vec<f32>,
    /// Per voxel of `region`: weight (0–1) of the cyst-fluid signal in NETC voxels of cystic
    /// foci; empty when no focus is cystic.
    pub cyst: Vec<f32>,
}

/// The `q` quantile of noise values sampled in a box (to turn "a fraction `q` of the rim is
/// missing" into a noise threshold).
fn noise_quantile(noise: &Fractal, rng: &mut Rand, lo: [f64; 3], hi: [f64; 3], q: f64) -> f32 {
    let mut v: Vec<f32> = (0..1500)
        .map(|_| noise.at([0, 1, 2].map(|a| rng.range(lo[a], hi[a].max(lo[a] + 1.0)))))
        .collect();
    v.sort_by(f32::total_cmp);
    v[((q * v.len() as f64) as usize).min(v.len() - 1)]
}

/// Grows the core and edema labels of `foci` in the warped anatomy.
pub(crate) fn grow(
    plan: &TumourPlan,
    foci: &[Focus],
    anat: &WarpedAnatomy,
    rng: &mut Rand,
) -> Lesion {
    let dims = anat.region.dims;
    let mut labels = vec![label::BACKGROUND; anat.region.len()];
    let reach_max = EDEMA_REACH_CLAMP.1 * plan.edema_mm;
    // The lesion box: every focus's extent plus the longest edema reach.
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    let extent = |f: &Focus| {
        f.plan.radius_mm
            * f.plan.axes.iter().cloned().fold(0.0, f64::max)
            * (1.0 + 3.0 * f.plan.irregularity)
            + 2.0
    };
    for f in foci {
        let e = extent(f) + reach_max + 2.0;
        for a in 0..3 {
            lo[a] = lo[a].min(f.centre[a] - e);
            hi[a] = hi[a].max(f.centre[a] + e);
        }
    }
    let Some(region) = Region::clipped(lo, hi, dims) else {
        return Lesion {
            labels,
            region: Region::full([0; 3]),
            edema_weight: Vec::new(),
            texture: Vec::new(),
            cyst: Vec::new(),
        };
    };
    let origin = region.lo.map(|v| v as f64);
    let size = region.dims.map(|v| v as f64);
    let at = |i: usize, j: usize, k: usize| {
        [
            (region.lo[0] + i) as f64,
            (region.lo[1] + j) as f64,
            (region.lo[2] + k) as f64,
        ]
    };
    let anat_index = |p: [f64; 3]| {
        anat.region
            .local(p[0] as usize, p[1] as usize, p[2] as usize)
    };

    // Cores.
    let mut cyst = if foci.iter().any(|f| f.plan.cystic) {
        vec![0f32; region.len()]
    } else {
        Vec::new()
    };
    for f in foci {
        let fp = &f.plan;
        let e = extent(f);
        let flo = f.centre.map(|c| c - e);
        let fhi = f.centre.map(|c| c + e);
        let Some(fbox) = Region::clipped(flo, fhi, dims) else {
            continue;
        };
        let spacing = (0.6 * fp.radius_mm).max(3.0);
        let shape = Fractal::new(rng, flo, [2.0 * e; 3], spacing, 3);
        let rim = Fractal::new(rng, flo, [2.0 * e; 3], (0.5 * fp.radius_mm).max(3.0), 2);
        let gap = Fractal::new(rng, flo, [2.0 * e; 3], (0.5 * fp.radius_mm).max(3.0), 2);
        let gap_threshold = if fp.rim_gap > 0.0 {
            noise_quantile(&gap, rng, flo, fhi, fp.rim_gap)
        } else {
            f32::NEG_INFINITY
        };
        for k in 0..fbox.dims[2] {
            for j in 0..fbox.dims[1] {
                for i in 0..fbox.dims[0] {
                    let p = [
                        (fbox.lo[0] + i) as f64,
                        (fbox.lo[1] + j) as f64,
                        (fbox.lo[2] + k) as f64,
                    ];
                    let idx = anat_index(p);
                    if !anat.mask[idx] {
                        continue;
                    }
                    let d = [0, 1, 2].map(|a| p[a] - f.centre[a]);
                    let q = mul(&f.frame, d);
                    let rho = (0..3)
                        .map(|a| (q[a] / fp.axes[a]).powi(2))
                        .sum::<f64>()
                        .sqrt()
                        / fp.radius_mm;
                    if rho > 1.0 + 3.0 * fp.irregularity {
                        continue;
                    }
                    let phi = rho + 3.0 * fp.irregularity * shape.at(p) as f64;
                    if phi >= 1.0 {
                        continue;
                    }
                    let enhances = fp.enhancing && gap.at(p) >= gap_threshold;
                    let class = if !enhances {
                        label::NETC
                    } else if fp.necrotic {
                        let thickness = (fp.rim_mm * (1.0 + 1.5 * rim.at(p) as f64)).max(1.0);
                        if (1.0 - phi) * fp.radius_mm < thickness {
                            label::ET
                        } else {
                            label::NETC
                        }
                    } else {
                        label::ET
                    };
                    // Where foci overlap, enhancement wins.
                    if labels[idx] != label::ET {
                        labels[idx] = class;
                    }
                    if fp.cystic && class == label::NETC {
                        // Fluid in the core, fading into solid tumour towards its edge (the
                        // focus box lies inside the lesion box).
                        let r = region.local(
                            p[0] as usize - region.lo[0],
                            p[1] as usize - region.lo[1],
                            p[2] as usize - region.lo[2],
                        );
                        let w = ((1.0 - phi) / CYST_EDGE).clamp(0.0, 1.0) as f32;
                        cyst[r] = cyst[r].max(w);
                    }
                }
            }
        }
    }

    // Edema: geodesic distance from the core through tissue-dependent travel costs.
    let rn = region.len();
    let cost: Vec<f32> = (0..rn)
        .map(|r| {
            let (i, j, k) = (
                r % region.dims[0],
                (r / region.dims[0]) % region.dims[1],
                r / (region.dims[0] * region.dims[1]),
            );
            let idx = anat_index(at(i, j, k));
            if !anat.mask[idx] {
                return f32::INFINITY;
            }
            let f = [anat.frac[0][idx], anat.frac[1][idx], anat.frac[2][idx]];
            let sum = f[0] + f[1] + f[2];
            let speed = (f[2] + f[1] / GREY_MATTER_COST + f[0] / CSF_COST) / sum.max(1e-3);
            1.0 / speed.max(1.0 / CSF_COST)
        })
        .collect();
    let distance = geodesic(
        &region,
        &cost,
        |r| {
            let (i, j, k) = (
                r % region.dims[0],
                (r / region.dims[0]) % region.dims[1],
                r / (region.dims[0] * region.dims[1]),
            );
            let l = labels[anat_index(at(i, j, k))];
            l == label::NETC || l == label::ET
        },
        reach_max as f32,
    );
    let reach_noise = Fractal::new(rng, origin, size, (0.6 * plan.edema_mm).max(8.0), 3);
    let texture_noise = Fractal::new(rng, origin, size, 6.0, 3);
    let mut edema_weight = vec![0f32; rn];
    let mut texture = vec![0f32; rn];
    for k in 0..region.dims[2] {
        for j in 0..region.dims[1] {
            for i in 0..region.dims[0] {
                let r = region.local(i, j, k);
                let p = at(i, j, k);
                let idx = anat_index(p);
                let d = distance[r];
                if labels[idx] != label::BACKGROUND {
                    texture[r] = (3.0 * texture_noise.at(p)).clamp(-1.0, 1.0);
                    continue;
                }
                if !d.is_finite() || !anat.mask[idx] {
                    continue;
                }
                let reach = (plan.edema_mm * (1.0 + EDEMA_REACH_NOISE * reach_noise.at(p) as f64))
                    .clamp(EDEMA_REACH_CLAMP.0 * plan.edema_mm, reach_max)
                    as f32;
                if d < reach {
                    labels[idx] = label::SNFH;
                    let fade = ((reach - d) / (0.3 * reach).max(3.0)).clamp(0.0, 1.0);
                    edema_weight[r] = plan.edema_weight as f32 * (0.6 + 0.4 * fade);
                    texture[r] = (3.0 * texture_noise.at(p)).clamp(-1.0, 1.0);
                }
            }
        }
    }
    Lesion {
        labels,
        region,
        edema_weight,
        texture,
        cyst,
    }
}

/// Dijkstra distances (mm × cost) over a box from the voxels where `source` holds, with edge
/// weight `length · (cost_a + cost_b) / 2` over the 26-neighbourhood, stopping at `limit`.
fn geodesic(region: &Region, cost: &[f32], source: impl Fn(usize) -> bool, limit: f32) -> Vec<f32> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let [nx, ny, nz] = region.dims;
    let mut dist = vec![f32::INFINITY; region.len()];
    let mut heap = BinaryHeap::new();
    for (r, d) in dist.iter_mut().enumerate() {
        if source(r) {
            *d = 0.0;
            heap.push(Reverse((0u32, r as u32)));
        }
    }
    let mut steps = Vec::with_capacity(26);
    for dk in -1i64..=1 {
        for dj in -1i64..=1 {
            for di in -1i64..=1 {
                if (di, dj, dk) != (0, 0, 0) {
                    let len = ((di * di + dj * dj + dk * dk) as f32).sqrt();
                    steps.push((di, dj, dk, len));
                }
            }
        }
    }
    // Non-negative f32 values order like their bit patterns.
    while let Some(Reverse((bits, r))) = heap.pop() {
        let d = f32::from_bits(bits);
        let r = r as usize;
        if d > dist[r] || d > limit {
            continue;
        }
        let (i, j, k) = (
            (r % nx) as i64,
            ((r / nx) % ny) as i64,
            (r / (nx * ny)) as i64,
        );
        for &(di, dj, dk, len) in &steps {
            let (a, b, c) = (i + di, j + dj, k + dk);
            if a < 0 || b < 0 || c < 0 || a >= nx as i64 || b >= ny as i64 || c >= nz as i64 {
                continue;
            }
            let n = a as usize + nx * (b as usize + ny * c as usize);
            let step = len * 0.5 * (cost[r] + cost[n]);
            let nd = d + step;
            if nd < dist[n] {
                dist[n] = nd;
                heap.push(Reverse((nd.to_bits(), n as u32)));
            }
        }
    }
    dist
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_cover_every_kind_with_plausible_sizes() {
        let mut kinds = std::collections::HashMap::new();
        for s in 0..400u64 {
            let p = TumourPlan::draw(crate::rng::case_seed(11, s));
            *kinds.entry(p.kind).or_insert(0) += 1;
            assert!(!p.foci.is_empty() && p.foci.len() <= 3);
            for f in &p.foci {
                assert!((1.0..=32.0).contains(&f.radius_mm));
                assert!((f.axes.iter().product::<f64>() - 1.0).abs() < 1e-9);
                assert!(f.push_mm <= 6.0 && f.push_mm < f.radius_mm);
            }
            assert_eq!(
                p.kind == TumourKind::LowGrade,
                !p.has_enhancement() && p.kind != TumourKind::Small
            );
            assert_eq!(p, TumourPlan::draw(crate::rng::case_seed(11, s)));
        }
        assert_eq!(kinds.len(), 4);
        let no_et = 400
            - (0..400u64)
                .filter(|&s| TumourPlan::draw(crate::rng::case_seed(11, s)).has_enhancement())
                .count();
        assert!((30..=120).contains(&no_et), "{no_et} of 400 without ET");
    }

    #[test]
    fn randomised_plans_are_valid_deterministic_and_apart_from_realistic_ones() {
        let (lo, hi) = RANDOM_RADIUS_RANGE_MM;
        for i in 0..3000u64 {
            let seed = crate::rng::case_seed(13, i);
            let p = TumourPlan::draw_randomised(seed);
            assert_eq!(p, TumourPlan::draw_randomised(seed));
            assert!((1..=4).contains(&p.foci.len()));
            let r0 = p.foci[0].radius_mm;
            assert!((lo..hi).contains(&r0), "{r0}");
            for (n, f) in p.foci.iter().enumerate() {
                if n > 0 {
                    let most = (RANDOM_SATELLITE_FRACTION.1 * r0).max(RANDOM_MIN_SATELLITE_MM);
                    assert!(f.radius_mm >= RANDOM_MIN_SATELLITE_MM && f.radius_mm <= most);
                }
                assert!((f.axes.iter().product::<f64>() - 1.0).abs() < 1e-9);
                // Below half the radius the radial push cannot fold the map.
                assert!(f.push_mm >= 0.0 && f.push_mm < 0.5 * f.radius_mm);
                assert!(f.push_mm <= RANDOM_MAX_PUSH_MM);
                assert!((0.08..0.35).contains(&f.irregularity));
                assert!((1.0..8.0).contains(&f.rim_mm) && (0.0..0.6).contains(&f.rim_gap));
                if f.cystic {
                    assert!(f.radius_mm >= RANDOM_CORE_MIN_MM);
                    assert!(
                        !f.enhancing || f.necrotic,
                        "an enhancing cyst sits in a rim"
                    );
                }
                if f.necrotic {
                    assert!(f.enhancing && f.radius_mm >= RANDOM_CORE_MIN_MM);
                }
            }
            let (e0, e1) = RANDOM_EDEMA_RANGE_MM;
            assert!(p.edema_mm == 0.0 || (e0..e1).contains(&p.edema_mm));
            assert!((0.6..0.98).contains(&p.edema_weight));
            let single = p.foci.len() == 1;
            let want = match p.kind {
                TumourKind::Multifocal => !single,
                TumourKind::Small => single && r0 < 9.0,
                TumourKind::LowGrade => single && r0 >= 9.0 && !p.has_enhancement(),
                TumourKind::Glioblastoma => single && r0 >= 9.0 && p.has_enhancement(),
            };
            assert!(want, "{p:?}");
            // The realistic plan of the same seed: deep, never cystic.
            let q = TumourPlan::draw(seed);
            assert_eq!(q.location, Location::Deep);
            assert!(q.foci.iter().all(|f| !f.cystic));
            assert_ne!(p, q);
        }
    }

    #[test]
    fn every_location_has_seeds_on_the_training_anatomies() {
        for name in crate::anatomy::TRAINING_ANATOMIES {
            let a = Anatomy::load_named(&Anatomy::default_dir(), name).expect("anatomy");
            let n = a.seed_count();
            let sample: Vec<usize> = (0..n).step_by((n / 20_000).max(1)).collect();
            for location in Location::ALL {
                let fits = sample
                    .iter()
                    .filter(|&&i| {
                        let (_, depth) = a.seed(i);
                        // The deepest a deep focus asks for (radius ≥ 25 mm).
                        location_miss(location, 22.0, depth, || a.seed_ventricle_distance(i)) == 0.0
                    })
                    .count();
                assert!(
                    fits * 100 > sample.len(),
                    "{name}: {fits} of {} seeds suit {}",
                    sample.len(),
                    location.name()
                );
            }
            // A seed next to a ventricle is deep in the brain: a true ventricle distance.
            for &i in &sample {
                let v = a.seed_ventricle_distance(i);
                assert!(v.is_finite() && v >= 1.0, "{name}: seed {i} at {v} mm");
                if v <= PERIVENTRICULAR_MM {
                    assert!(a.seed(i).1 >= crate::anatomy::VENTRICLE_DEPTH_MM - v - 1.0);
                }
            }
        }
    }

    #[test]
    fn location_miss_measures_the_distance_from_each_location() {
        let far = || 30.0;
        let near = || 3.0;
        assert_eq!(location_miss(Location::Deep, 12.0, 15.0, far), 0.0);
        assert_eq!(location_miss(Location::Deep, 12.0, 9.0, far), 3.0);
        assert_eq!(location_miss(Location::Lobar, 0.0, 15.0, far), 0.0);
        assert_eq!(location_miss(Location::Lobar, 0.0, 25.0, far), 3.0);
        assert_eq!(location_miss(Location::Lobar, 0.0, 15.0, near), 7.0);
        assert_eq!(location_miss(Location::Cortical, 0.0, 7.0, far), 0.0);
        assert_eq!(location_miss(Location::Cortical, 0.0, 12.0, far), 3.0);
        assert_eq!(
            location_miss(Location::Periventricular, 0.0, 30.0, near),
            0.0
        );
        assert_eq!(
            location_miss(Location::Periventricular, 0.0, 30.0, far),
            25.0
        );
    }

    #[test]
    fn geodesic_prefers_cheap_voxels() {
        let region = Region::full([30, 5, 5]);
        // Cheap left half, expensive right half; the source in the middle.
        let cost: Vec<f32> = (0..region.len())
            .map(|r| if r % 30 < 15 { 1.0 } else { 3.0 })
            .collect();
        let d = geodesic(&region, &cost, |r| r == region.local(15, 2, 2), 100.0);
        let left = d[region.local(5, 2, 2)];
        let right = d[region.local(25, 2, 2)];
        // One mixed step (cost (3 + 1) / 2) then nine cheap ones.
        assert!((left - 11.0).abs() < 1e-3, "left {left}");
        assert!((right - 30.0).abs() < 1e-3, "right {right}");
    }
}
