//! Tests of the synthetic-case generator: full BraTS-grid cases on the shipped SRI24 anatomy
//! (contrast orderings, labels, grid, determinism, writing) and cheap checks on a small
//! phantom anatomy (error handling, label/mask invariants).

use std::path::Path;
use std::sync::OnceLock;

use adamm_synth::{
    case_seed, generate, Anatomy, Class, ClassTotals, SynthCase, SynthError, TumourKind, TumourPlan,
};
use adamm_volume::brats::{discover_cases, label, load_case, Modality, Naming};
use adamm_volume::nifti_io::{write_path, Datatype};
use adamm_volume::{read_path, Affine, Header, Volume};

fn anatomy() -> &'static Anatomy {
    static ANATOMY: OnceLock<Anatomy> = OnceLock::new();
    ANATOMY.get_or_init(|| match Anatomy::load(&Anatomy::default_dir()) {
        Ok(a) => a,
        Err(e) => panic!("the shipped anatomy must load: {e}"),
    })
}

/// The first case index (run seed 77) whose plan satisfies `want`.
fn find_seed(want: impl Fn(&TumourPlan) -> bool) -> u64 {
    (0..1000)
        .map(|i| case_seed(77, i))
        .find(|&s| want(&TumourPlan::draw(s)))
        .expect("some plan in 1000 matches")
}

/// A necrotic, ring-enhancing glioblastoma-like case on the real anatomy (generated once).
fn glioblastoma() -> &'static SynthCase {
    static CASE: OnceLock<SynthCase> = OnceLock::new();
    CASE.get_or_init(|| {
        let seed = find_seed(|p| {
            p.kind == TumourKind::Glioblastoma && p.foci[0].necrotic && p.foci[0].radius_mm > 15.0
        });
        generate(anatomy(), seed)
    })
}

#[test]
fn anatomy_is_the_brats_grid() {
    let a = anatomy();
    assert_eq!(a.dims(), [240, 240, 155]);
    let affine = a.header().world_from_voxel().expect("valid affine");
    assert_eq!(affine.orientation_code(), "LAS");
    assert_eq!(affine.column_norms(), [1.0, 1.0, 1.0]);
    // The atlas T1 class means documented in data/README.md: 282 / 492 / 705.
    let m = a.t1_means();
    assert!((m[0] - 282.0).abs() < 2.0 && (m[1] - 492.0).abs() < 2.0 && (m[2] - 705.0).abs() < 2.0);
}

#[test]
fn full_case_has_brats_layout_and_labels() {
    let c = glioblastoma();
    let n = 240 * 240 * 155;
    assert_eq!(c.dims, [240, 240, 155]);
    assert!(c.images.iter().all(|im| im.len() == n));
    assert_eq!(c.labels.len(), n);
    let counts = c.label_counts();
    assert!(counts[label::NETC as usize] > 500, "NETC {counts:?}");
    assert!(counts[label::SNFH as usize] > 2000, "SNFH {counts:?}");
    assert!(counts[label::ET as usize] > 500, "ET {counts:?}");
    let brain = c.tissue.iter().filter(|&&t| t > 0).count();
    // The SRI24 brain is 1.45 million voxels; deformation changes it by some percent.
    assert!((1_150_000..1_800_000).contains(&brain), "brain {brain}");
    for v in 0..n {
        let in_brain = c.tissue[v] > 0;
        assert!(c.labels[v] <= label::ET);
        if !in_brain {
            assert_eq!(c.labels[v], 0, "label outside the brain at {v}");
        }
        for im in &c.images {
            // Skull-stripped: exactly 0 outside, positive inside.
            assert_eq!(im[v] > 0, in_brain, "voxel {v}");
        }
    }
    // The tumour and its edema are one connected region around the core, not scattered
    // noise: most SNFH voxels touch another lesion voxel.
    let [nx, ny, _] = c.dims;
    let lesion = |v: usize| c.labels[v] != 0;
    let (mut touching, mut total) = (0, 0);
    for v in 0..n {
        if c.labels[v] == label::SNFH {
            total += 1;
            let nb = [v - 1, v + 1, v - nx, v + nx, v - nx * ny, v + nx * ny];
            if nb.iter().any(|&u| lesion(u)) {
                touching += 1;
            }
        }
    }
    assert!(touching as f64 > 0.98 * total as f64);
}

fn relative(t: &ClassTotals, m: Modality, c: Class) -> f64 {
    t.relative(m, c)
        .unwrap_or_else(|| panic!("class {} absent in {}", c.name(), m.name()))
}

#[test]
fn full_case_contrast_orderings() {
    use Class::*;
    use Modality::*;
    let t = glioblastoma().class_totals();
    let r = |m, c| relative(&t, m, c);
    // Normal tissue.
    assert!(
        r(T1, Wm) > r(T1, Gm) && r(T1, Gm) > r(T1, Csf),
        "T1: WM > GM > CSF"
    );
    assert!(
        r(T1Gd, Wm) > r(T1Gd, Gm) && r(T1Gd, Gm) > r(T1Gd, Csf),
        "T1Gd: WM > GM > CSF"
    );
    assert!(
        r(T2, Csf) > r(T2, Gm) && r(T2, Gm) > r(T2, Wm),
        "T2: CSF > GM > WM"
    );
    assert!(
        r(Flair, Gm) > r(Flair, Wm) && r(Flair, Wm) > r(Flair, Csf),
        "FLAIR: GM > WM > CSF"
    );
    assert!(r(Flair, Csf) < 0.6, "FLAIR suppresses CSF");
    // Necrosis: dark on T1 and T1Gd, bright on T2.
    assert!(r(T1, Netc) < r(T1, Gm) && r(T1Gd, Netc) < r(T1Gd, Gm));
    assert!(r(T2, Netc) > r(T2, Gm) && r(T2, Netc) > r(T2, Snfh));
    // Edema: bright on T2 and FLAIR (brightest FLAIR class), not enhancing.
    assert!(r(T2, Snfh) > r(T2, Gm));
    for c in [Csf, Gm, Wm, Netc, Et] {
        assert!(r(Flair, Snfh) > r(Flair, c), "FLAIR: SNFH > {}", c.name());
    }
    assert!(r(T1, Snfh) < r(T1, Wm));
    // ET: the brightest class on T1Gd, and only there.
    for c in [Csf, Gm, Wm, Netc, Snfh] {
        assert!(r(T1Gd, Et) > 1.3 * r(T1Gd, c), "T1Gd: ET ≫ {}", c.name());
    }
    assert!(r(T1Gd, Et) / r(T1Gd, Snfh) > 1.6);
    for m in [T1, T2, Flair] {
        let ratio = r(m, Et) / r(m, Snfh);
        assert!(
            (0.75..1.25).contains(&ratio),
            "{}: ET/SNFH {ratio:.2} should be ≈ 1",
            m.name()
        );
    }
    assert!(r(T1, Et) < r(T1, Wm));
}

#[test]
fn generation_is_deterministic() {
    let seed = case_seed(5, 3);
    let a = generate(anatomy(), seed);
    let b = generate(anatomy(), seed);
    assert_eq!(a.images, b.images);
    assert_eq!(a.labels, b.labels);
    assert_eq!(a.tissue, b.tissue);
    assert_eq!(a.plan, b.plan);
    let c = generate(anatomy(), case_seed(5, 4));
    assert_ne!(a.images[0], c.images[0]);
    assert_ne!(
        a.tissue, c.tissue,
        "each case deforms the anatomy differently"
    );
}

#[test]
fn some_cases_have_no_enhancing_tumour() {
    let plans: Vec<TumourPlan> = (0..200)
        .map(|i| TumourPlan::draw(case_seed(9, i)))
        .collect();
    let without = plans.iter().filter(|p| !p.has_enhancement()).count();
    assert!(
        (10..=70).contains(&without),
        "{without} of 200 plans without ET"
    );
    let multifocal = plans.iter().filter(|p| p.foci.len() > 1).count();
    let small = plans.iter().filter(|p| p.kind == TumourKind::Small).count();
    assert!(multifocal > 10 && small > 10);
    // Such a plan really gives a case without ET but with a non-enhancing core and edema.
    let seed = find_seed(|p| p.kind == TumourKind::LowGrade);
    let c = generate(anatomy(), seed);
    let n = c.label_counts();
    assert_eq!(n[label::ET as usize], 0);
    assert!(
        n[label::NETC as usize] > 1000 && n[label::SNFH as usize] > 100,
        "{n:?}"
    );
    // The non-enhancing core is bright on FLAIR and T2, dark on T1.
    let t = c.class_totals();
    assert!(relative(&t, Modality::Flair, Class::Netc) > relative(&t, Modality::Flair, Class::Gm));
    assert!(relative(&t, Modality::T2, Class::Netc) > relative(&t, Modality::T2, Class::Gm));
    assert!(relative(&t, Modality::T1, Class::Netc) < relative(&t, Modality::T1, Class::Wm));
}

#[test]
fn written_case_reads_back_on_the_atlas_grid() {
    let c = glioblastoma();
    let dir = tempfile::tempdir().expect("temp dir");
    let paths = c
        .write(
            anatomy().header(),
            dir.path(),
            "SynGLI_00001",
            Naming::Brats2021,
        )
        .expect("write");
    let names: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "SynGLI_00001_t1.nii.gz",
            "SynGLI_00001_t1ce.nii.gz",
            "SynGLI_00001_t2.nii.gz",
            "SynGLI_00001_flair.nii.gz",
            "SynGLI_00001_seg.nii.gz"
        ]
    );
    let want = anatomy().header().world_from_voxel().unwrap();
    let seg_file = read_path(&paths[4]).expect("read seg");
    assert_eq!(seg_file.header.datatype, Datatype::U8);
    assert!(seg_file.world_from_voxel().max_abs_diff(&want) < 1e-6);
    // BraTS 2021 files store ET as 4.
    let mut values: Vec<u8> = seg_file.data.iter().map(|&v| v as u8).collect();
    values.sort_unstable();
    values.dedup();
    assert_eq!(values, [0, 1, 2, 4]);

    let found = discover_cases(dir.path()).expect("discover");
    assert_eq!(found.cases.len(), 1);
    assert!(found.problems.is_empty(), "{:?}", found.problems);
    let loaded = load_case(&found.cases[0]).expect("load");
    assert_eq!(loaded.seg.as_deref(), Some(c.labels.as_slice()));
    for m in Modality::ALL {
        let v = loaded.images[m.index()].as_ref().expect("image present");
        assert_eq!(v.header.datatype, Datatype::I16);
        assert!(v.world_from_voxel().max_abs_diff(&want) < 1e-6);
        assert!(v
            .data
            .iter()
            .zip(&c.images[m.index()])
            .all(|(&a, &b)| a == b as f32));
    }
}

/// A small concentric phantom: WM ball, GM shell, CSF shell, on a 1 mm grid.
fn phantom(dims: [usize; 3], tissue_value: impl Fn(f64) -> f32) -> (Volume, Volume) {
    let c = dims.map(|d| (d as f64 - 1.0) / 2.0);
    let mut t1 = Vec::new();
    let mut tissue = Vec::new();
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            for i in 0..dims[0] {
                let r = ((i as f64 - c[0]).powi(2)
                    + (j as f64 - c[1]).powi(2)
                    + (k as f64 - c[2]).powi(2))
                .sqrt();
                let t = tissue_value(r);
                tissue.push(t);
                t1.push([0.0, 280.0, 490.0, 700.0][(t as usize).min(3)]);
            }
        }
    }
    let header = Header::from_affine(dims, Datatype::F32, &Affine::from_spacing([1.0; 3]));
    (
        Volume::new(t1, header.clone()).expect("t1"),
        Volume::new(tissue, header).expect("tissue"),
    )
}

fn layered(r: f64) -> f32 {
    if r < 20.0 {
        3.0
    } else if r < 25.0 {
        2.0
    } else if r < 28.0 {
        1.0
    } else {
        0.0
    }
}

#[test]
fn small_phantom_cases_keep_the_invariants() {
    let (t1, tissue) = phantom([64, 64, 64], layered);
    let a = Anatomy::from_volumes(&t1, &tissue, Path::new("phantom")).expect("phantom anatomy");
    for i in 0..6 {
        let c = generate(&a, case_seed(1, i));
        for v in 0..c.labels.len() {
            let in_brain = c.tissue[v] > 0;
            assert!(c.labels[v] == 0 || in_brain);
            assert!(c.images.iter().all(|im| (im[v] > 0) == in_brain));
        }
        assert!(
            c.label_counts()[1..].iter().sum::<usize>() > 0,
            "case {i} has a tumour"
        );
        assert_eq!(c.labels, generate(&a, case_seed(1, i)).labels);
    }
}

#[test]
fn bad_anatomy_is_refused_with_a_reason() {
    let (t1, tissue) = phantom(
        [40, 40, 40],
        |r| if r < 6.0 { 5.0 } else { layered(r * 1.6) },
    );
    let err = Anatomy::from_volumes(&t1, &tissue, Path::new("t.nii.gz")).err();
    assert!(
        matches!(err, Some(SynthError::BadTissue { value, .. }) if value == 5.0),
        "{err:?}"
    );
    // A map with no white matter.
    let (t1, tissue) = phantom([40, 40, 40], |r| if r < 12.0 { 2.0 } else { 0.0 });
    let err = Anatomy::from_volumes(&t1, &tissue, Path::new("t.nii.gz")).err();
    assert!(
        matches!(err, Some(SynthError::MissingTissue { .. })),
        "{err:?}"
    );
    // Missing files and mismatched grids.
    let dir = tempfile::tempdir().expect("temp dir");
    let err = Anatomy::load(dir.path()).err().expect("no files");
    assert!(
        err.to_string().contains("sri24_t1_stripped.nii.gz"),
        "{err}"
    );
    let (t1, _) = phantom([40, 40, 40], layered);
    let (_, tissue) = phantom([40, 40, 30], layered);
    write_path(
        &dir.path().join("sri24_t1_stripped.nii.gz"),
        &t1.header,
        &t1.data,
    )
    .unwrap();
    let labels: Vec<u8> = tissue.data.iter().map(|&v| v as u8).collect();
    write_path(
        &dir.path().join("sri24_tissues.nii.gz"),
        &tissue.header,
        &labels,
    )
    .unwrap();
    let err = Anatomy::load(dir.path()).err().expect("grid mismatch");
    assert!(matches!(err, SynthError::Grid(_)), "{err}");
}

/// The randomised contrast mode on the real anatomy: the same tumour plan, class means that
/// differ from the realistic case's, and what physics fixes still visible in the images.
#[test]
fn randomised_contrast_cases_differ_yet_keep_the_physics() {
    use adamm_synth::{generate_with, ContrastMode, GenerateOptions};
    use Class::*;
    use Modality::*;
    let realistic = glioblastoma();
    let options = GenerateOptions {
        contrast: ContrastMode::Randomised,
        ..GenerateOptions::default()
    };
    let case = generate_with(anatomy(), realistic.seed, &options);
    assert_eq!(case.plan, realistic.plan);
    assert_eq!(
        case.labels, realistic.labels,
        "contrast does not move the tumour"
    );
    let (t, base) = (case.class_totals(), realistic.class_totals());
    let r = |m, c| relative(&t, m, c);
    let changed = Modality::ALL
        .iter()
        .flat_map(|&m| [Csf, Gm, Netc, Snfh, Et].map(|c| (m, c)))
        .filter(|&(m, c)| (r(m, c) / relative(&base, m, c) - 1.0).abs() > 0.1)
        .count();
    assert!(
        changed >= 5,
        "only {changed} class means moved by more than 10 %"
    );
    assert!(r(T1, Csf) < r(T1, Gm) && r(T1, Gm) < r(T1, Wm));
    assert!(r(Flair, Csf) < r(Flair, Wm) && r(T2, Csf) > r(T2, Wm));
    assert!(r(T2, Snfh) > r(T2, Wm) && r(Flair, Snfh) > r(Flair, Wm));
    assert!(r(T1Gd, Et) > r(T1Gd, Wm) && r(T1, Et) < r(T1, Wm));

    // With the randomised acquisition too (scale, noise, blur, bias, intensity curve): the
    // orderings survive and the WM level is inside the randomised scale range (with margin for
    // the bias field).
    let both = GenerateOptions {
        contrast: ContrastMode::Randomised,
        acquisition: adamm_synth::AcquisitionMode::Randomised,
    };
    let case = generate_with(anatomy(), realistic.seed, &both);
    let t = case.class_totals();
    let r = |m, c| relative(&t, m, c);
    assert!(r(T1, Csf) < r(T1, Gm) && r(T1, Gm) < r(T1, Wm));
    assert!(r(Flair, Csf) < r(Flair, Wm) && r(T2, Csf) > r(T2, Wm));
    assert!(r(T2, Snfh) > r(T2, Wm) && r(Flair, Snfh) > r(Flair, Wm));
    assert!(r(T1Gd, Et) > r(T1Gd, Wm));
    for m in Modality::ALL {
        let wm = t.mean(m, Wm).expect("white matter");
        assert!((50.0..10_000.0).contains(&wm), "{}: WM at {wm}", m.name());
    }
}
