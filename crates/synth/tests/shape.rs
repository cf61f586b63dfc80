//! Tests of the shape mode ([`ShapeMode`]): realistic cases stay exactly what they were before
//! the randomised shape mode existed, randomised tumour plans span their documented
//! distribution, and randomised cases (on a phantom and on the shipped SRI24 anatomy) keep the
//! label/mask invariants, are deterministic and reach the documented volumes.

use std::path::Path;
use std::sync::OnceLock;

use adamm_synth::tumour::{
    LOCATION_PROBABILITIES, RANDOM_EDEMA_RANGE_MM, RANDOM_MAX_PUSH_MM, RANDOM_RADIUS_RANGE_MM,
};
use adamm_synth::{
    case_seed, generate, generate_with, Anatomy, Class, GenerateOptions, Location, ShapeMode,
    SynthCase, TumourKind, TumourPlan,
};
use adamm_volume::brats::{label, Modality};
use adamm_volume::nifti_io::Datatype;
use adamm_volume::{Affine, Header, Volume};

fn anatomy() -> &'static Anatomy {
    static ANATOMY: OnceLock<Anatomy> = OnceLock::new();
    ANATOMY.get_or_init(|| match Anatomy::load(&Anatomy::default_dir()) {
        Ok(a) => a,
        Err(e) => panic!("the shipped anatomy must load: {e}"),
    })
}

/// 64-bit FNV-1a.
fn fnv(h: &mut u64, bytes: &[u8]) {
    for &b in bytes {
        *h ^= u64::from(b);
        *h = h.wrapping_mul(0x0100_0000_01B3);
    }
}

/// FNV-1a of a case's images (each value as the int16 it is written as) and of its labels and
/// tissue map.
fn hashes<T: Copy + Into<f64>>(images: &[Vec<T>; 4], c: &SynthCase) -> (u64, u64) {
    let mut hi = 0xCBF2_9CE4_8422_2325u64;
    for im in images {
        for &v in im {
            fnv(&mut hi, &(v.into() as i16).to_le_bytes());
        }
    }
    let mut hl = 0xCBF2_9CE4_8422_2325u64;
    fnv(&mut hl, &c.labels);
    fnv(&mut hl, &c.tissue);
    (hi, hl)
}

/// Realistic cases are byte-identical to those generated before the shape mode existed
/// (hashes recorded then): a glioblastoma-like case and a multifocal one on SRI24.
#[test]
fn realistic_cases_are_byte_identical_to_before_the_shape_mode() {
    let multifocal = (0..1000)
        .map(|i| case_seed(42, i))
        .find(|&s| TumourPlan::draw(s).kind == TumourKind::Multifocal)
        .expect("a multifocal plan");
    assert_eq!(multifocal, 0x5d24_7965_d8a0_1a08);
    for (seed, want_images, want_labels) in [
        (
            case_seed(42, 0),
            0x62e4_c787_79f4_f43c,
            0x3d8a_0587_b32f_63dd,
        ),
        (multifocal, 0xdce3_df2f_17f7_2cb6, 0x0719_7dfe_232b_05b2),
    ] {
        let c = generate(anatomy(), seed);
        assert_eq!(c.options.shape, ShapeMode::Realistic);
        assert_eq!(c.plan.location, Location::Deep);
        let (hi, hl) = hashes(&c.images, &c);
        assert_eq!(hl, want_labels, "labels/tissue of seed {seed:#x} changed");
        assert_eq!(hi, want_images, "images of seed {seed:#x} changed");
    }
}

/// The share of `plans` for which `f` holds.
fn share(plans: &[TumourPlan], f: impl Fn(&TumourPlan) -> bool) -> f64 {
    plans.iter().filter(|p| f(p)).count() as f64 / plans.len() as f64
}

#[test]
fn randomised_plans_span_the_documented_distribution() {
    let plans: Vec<TumourPlan> = (0..4000)
        .map(|i| TumourPlan::draw_randomised(case_seed(3, i)))
        .collect();
    let near = |got: f64, want: f64, what: &str| {
        assert!(
            (got - want).abs() < 0.03,
            "{what}: {got:.3}, documented {want}"
        );
    };
    // Foci: 1–4 with probabilities 70 / 15 / 10 / 5 %.
    for (n, want) in [(1, 0.70), (2, 0.15), (3, 0.10), (4, 0.05)] {
        near(share(&plans, |p| p.foci.len() == n), want, "foci");
    }
    // Locations, 30 / 30 / 20 / 20 %.
    for (location, want) in Location::ALL.iter().zip(LOCATION_PROBABILITIES) {
        near(
            share(&plans, |p| p.location == *location),
            want,
            location.name(),
        );
    }
    near(share(&plans, |p| p.edema_mm == 0.0), 0.15, "no edema");
    near(
        share(&plans, |p| !p.has_enhancement()),
        0.35,
        "no enhancement",
    );
    near(
        share(&plans, |p| p.foci[0].push_mm == 0.0),
        0.25,
        "no mass effect",
    );
    let cystic = share(&plans, |p| p.foci.iter().any(|f| f.cystic));
    assert!((0.09..0.2).contains(&cystic), "cystic {cystic}");
    let ring = share(&plans, |p| p.foci[0].enhancing && p.foci[0].necrotic);
    let solid = share(&plans, |p| p.foci[0].enhancing && !p.foci[0].necrotic);
    assert!(ring > 0.25 && solid > 0.15, "ring {ring}, solid {solid}");
    // Sizes: cores from well under 1 mL to far over 300 mL with edema, extensive edema and
    // strong mass effect in a good share.
    let tiny = share(&plans, |p| p.nominal_volumes_ml().1 < 1.0);
    let huge = share(&plans, |p| p.nominal_volumes_ml().1 > 300.0);
    assert!(tiny > 0.03 && huge > 0.1, "tiny {tiny}, huge {huge}");
    assert!(share(&plans, |p| p.nominal_volumes_ml().0 < 0.2) > 0.02);
    assert!(share(&plans, |p| p.nominal_volumes_ml().0 > 300.0) > 0.02);
    assert!(share(&plans, |p| p.edema_mm > 30.0) > 0.05);
    let (e0, e1) = RANDOM_EDEMA_RANGE_MM;
    assert!(share(&plans, |p| p.edema_mm > 0.0 && p.edema_mm < e0 + 0.5) > 0.01);
    assert!(share(&plans, |p| p.edema_mm > e1 - 3.0) > 0.01);
    assert!(share(&plans, |p| p.foci.iter().any(|f| f.push_mm > 10.0)) > 0.03);
    assert!(plans
        .iter()
        .all(|p| p.foci.iter().all(|f| f.push_mm <= RANDOM_MAX_PUSH_MM)));
    let (r0, r1) = RANDOM_RADIUS_RANGE_MM;
    assert!(share(&plans, |p| p.foci[0].radius_mm < r0 + 0.2) > 0.005);
    assert!(share(&plans, |p| p.foci[0].radius_mm > r1 - 2.0) > 0.005);
    // Every kind occurs.
    for kind in [
        TumourKind::Glioblastoma,
        TumourKind::LowGrade,
        TumourKind::Small,
        TumourKind::Multifocal,
    ] {
        assert!(share(&plans, |p| p.kind == kind) > 0.05, "{}", kind.name());
    }
}

/// Radii (voxels) of a phantom's layers: ventricle (CSF), WM, GM, sulcal CSF.
const LAYERS: [f64; 4] = [7.0, 20.0, 25.0, 28.0];

/// A 64³ phantom brain with a central ventricle.
fn phantom() -> Anatomy {
    let dims = [64usize; 3];
    let mut t1 = Vec::new();
    let mut tissue = Vec::new();
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            for i in 0..dims[0] {
                let r = [i, j, k]
                    .map(|v| (v as f64 - 31.5).powi(2))
                    .iter()
                    .sum::<f64>()
                    .sqrt();
                let t = match LAYERS.iter().position(|&l| r < l) {
                    Some(0) | Some(3) => 1.0,
                    Some(1) => 3.0,
                    Some(_) => 2.0,
                    None => 0.0,
                };
                tissue.push(t);
                t1.push([0.0, 280.0, 490.0, 700.0][t as usize]);
            }
        }
    }
    let header = Header::from_affine(dims, Datatype::F32, &Affine::from_spacing([1.0; 3]));
    let t1 = Volume::new(t1, header.clone()).expect("t1");
    let tissue = Volume::new(tissue, header).expect("tissue");
    Anatomy::from_volumes(&t1, &tissue, Path::new("phantom")).expect("phantom anatomy")
}

const RANDOMISED_SHAPE: GenerateOptions = GenerateOptions {
    contrast: adamm_synth::ContrastMode::Realistic,
    acquisition: adamm_synth::AcquisitionMode::Realistic,
    shape: ShapeMode::Randomised,
    perturbation: None,
};

/// Labels only inside the brain, images positive exactly there (realistic acquisition).
fn assert_invariants(c: &SynthCase, what: &str) {
    for v in 0..c.labels.len() {
        let in_brain = c.tissue[v] > 0;
        assert!(c.labels[v] <= label::ET, "{what}: label {}", c.labels[v]);
        assert!(
            c.labels[v] == 0 || in_brain,
            "{what}: label outside the brain at {v}"
        );
        for im in &c.images {
            assert_eq!(im[v] > 0.0, in_brain, "{what}: image at {v}");
        }
    }
}

#[test]
fn randomised_phantom_cases_keep_the_invariants_and_are_deterministic() {
    let a = phantom();
    for i in 0..8 {
        let seed = case_seed(2, i);
        let c = generate_with(&a, seed, &RANDOMISED_SHAPE);
        assert_eq!(c.options.shape, ShapeMode::Randomised);
        assert_eq!(c.plan, TumourPlan::draw_randomised(seed));
        assert_invariants(&c, &format!("phantom case {i}"));
        assert!(
            c.label_counts()[1..].iter().sum::<usize>() > 0,
            "phantom case {i} has a tumour"
        );
        let again = generate_with(&a, seed, &RANDOMISED_SHAPE);
        assert_eq!(c.labels, again.labels);
        assert_eq!(c.images, again.images);
        assert_eq!(c.tissue, again.tissue);
    }
    // The randomised shape changes the case of a seed; the realistic one stays.
    let seed = case_seed(2, 0);
    let realistic = generate(&a, seed);
    let randomised = generate_with(&a, seed, &RANDOMISED_SHAPE);
    assert_ne!(realistic.tissue, randomised.tissue);
    assert_eq!(realistic.labels, generate(&a, seed).labels);
}

/// The first randomised plan (run seed 7) that satisfies `want`.
fn find_randomised(want: impl Fn(&TumourPlan) -> bool) -> u64 {
    (0..20_000)
        .map(|i| case_seed(7, i))
        .find(|&s| want(&TumourPlan::draw_randomised(s)))
        .expect("some randomised plan matches")
}

/// Whole-tumour volume (mL, 1 mm voxels) of a case.
fn whole_ml(c: &SynthCase) -> f64 {
    c.label_counts()[1..].iter().sum::<usize>() as f64 / 1000.0
}

#[test]
fn randomised_cases_on_sri24_reach_the_documented_extremes() {
    let a = anatomy();
    let single = |p: &TumourPlan| p.foci.len() == 1;
    // A tiny focus without edema: well under 1 mL, yet there.
    let seed = find_randomised(|p| single(p) && p.foci[0].radius_mm < 4.0 && p.edema_mm == 0.0);
    let tiny = generate_with(a, seed, &RANDOMISED_SHAPE);
    assert_invariants(&tiny, "tiny");
    let wt = whole_ml(&tiny);
    assert!(wt > 0.0 && wt < 1.0, "tiny case: {wt} mL");
    assert_eq!(tiny.label_counts()[label::SNFH as usize], 0);
    let again = generate_with(a, seed, &RANDOMISED_SHAPE);
    assert_eq!(tiny.images, again.images);
    assert_eq!(tiny.labels, again.labels);

    // A large focus with wide edema: over 300 mL.
    let seed = find_randomised(|p| single(p) && p.foci[0].radius_mm > 38.0 && p.edema_mm > 25.0);
    let huge = generate_with(a, seed, &RANDOMISED_SHAPE);
    assert_invariants(&huge, "huge");
    let wt = whole_ml(&huge);
    assert!(wt > 300.0, "huge case: {wt} mL");

    // A solid focus without edema: a core and no SNFH at all.
    let seed = find_randomised(|p| single(p) && p.foci[0].radius_mm > 12.0 && p.edema_mm == 0.0);
    let dry = generate_with(a, seed, &RANDOMISED_SHAPE);
    let n = dry.label_counts();
    assert_eq!(n[label::SNFH as usize], 0);
    assert!(
        n[label::NETC as usize] + n[label::ET as usize] > 5000,
        "{n:?}"
    );

    // A non-enhancing cystic focus: its NETC has the fluid's signal, dark on FLAIR (below
    // grey matter, where solid non-enhancing tumour is brighter) and bright on T2.
    let seed = find_randomised(|p| {
        single(p) && p.foci[0].cystic && !p.has_enhancement() && p.foci[0].radius_mm > 15.0
    });
    let cyst = generate_with(a, seed, &RANDOMISED_SHAPE);
    assert_invariants(&cyst, "cystic");
    let t = cyst.class_totals();
    let r = |m: Modality, c: Class| t.relative(m, c).expect("class present");
    assert!(cyst.label_counts()[label::NETC as usize] > 5000);
    assert!(
        r(Modality::Flair, Class::Netc) < r(Modality::Flair, Class::Gm),
        "FLAIR cyst {:.2} vs GM {:.2}",
        r(Modality::Flair, Class::Netc),
        r(Modality::Flair, Class::Gm)
    );
    assert!(r(Modality::T2, Class::Netc) > 1.9 * r(Modality::T2, Class::Wm));
    assert!(r(Modality::T1, Class::Netc) < r(Modality::T1, Class::Gm));
}
