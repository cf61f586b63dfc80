//! Tests of the synthetic-case generator: full BraTS-grid cases on the shipped SRI24 anatomy
//! (contrast orderings, labels, grid, determinism, writing) and cheap checks on a small
//! phantom anatomy (error handling, label/mask invariants).

use std::path::Path;
use std::sync::OnceLock;

use adamm_synth::{
    case_seed, generate, generate_with, AcquisitionMode, Anatomy, Class, ClassTotals, ContrastMode,
    Degradations, GenerateOptions, Provenance, Storage, Stripping, SynthCase, SynthError,
    TumourKind, TumourPlan,
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
        assert_eq!(c.mask[v], in_brain, "the stored mask is the brain at {v}");
        for im in &c.images {
            // Skull-stripped: exactly 0 outside, positive inside.
            assert_eq!(im[v] > 0.0, in_brain, "voxel {v}");
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
    // The randomised contrast and acquisition, degradations included, are as deterministic.
    let options = GenerateOptions {
        contrast: ContrastMode::Randomised,
        acquisition: AcquisitionMode::Randomised,
        ..GenerateOptions::default()
    };
    let r = generate_with(anatomy(), seed, &options);
    let s = generate_with(anatomy(), seed, &options);
    assert_eq!(r.degradations, Degradations::draw(seed));
    assert_eq!(r.degradations, s.degradations);
    assert_eq!(r.images, s.images);
    assert_eq!(r.labels, s.labels);
    assert_eq!(r.tissue, s.tissue);
    assert_eq!(r.mask, s.mask);
    assert_ne!(r.images[0], a.images[0]);
}

/// FNV-1a of the images as int16 values followed by the labels, and of the tissue map.
fn fingerprint(c: &SynthCase) -> (u64, u64) {
    let fnv = |h: &mut u64, bytes: &[u8]| {
        for &b in bytes {
            *h ^= u64::from(b);
            *h = h.wrapping_mul(0x0100_0000_01B3);
        }
    };
    let (mut images, mut tissue) = (0xCBF2_9CE4_8422_2325u64, 0xCBF2_9CE4_8422_2325u64);
    for im in &c.images {
        for &v in im {
            fnv(&mut images, &(v as i16).to_le_bytes());
        }
    }
    fnv(&mut images, &c.labels);
    fnv(&mut tissue, &c.tissue);
    (images, tissue)
}

/// The realistic acquisition is untouched by the randomised degradations: the case of seed
/// `case_seed(5, 3)` has the values it had before they were added (fingerprints recorded
/// then), whole numbers in 1..=32767 inside the brain and 0 outside.
#[test]
fn realistic_case_values_are_unchanged() {
    let c = generate(anatomy(), case_seed(5, 3));
    assert!(c.degradations.is_none());
    assert_eq!(c.degradations.storage, Storage::Int16);
    for im in &c.images {
        assert!(im
            .iter()
            .all(|&v| v == 0.0 || (v.fract() == 0.0 && (1.0..=32767.0).contains(&v))));
    }
    assert_eq!(
        fingerprint(&c),
        (0x4A46_BD5A_58AF_3092, 0x511E_903E_6F2D_9F82)
    );
}

/// The first case (run seed 78) whose randomised degradations satisfy `want`.
fn find_degraded(want: impl Fn(&Degradations) -> bool) -> u64 {
    (0..5000)
        .map(|i| case_seed(78, i))
        .find(|&s| want(&Degradations::draw(s)))
        .expect("some case in 5000 matches")
}

/// The randomised acquisition with the realistic contrast table (so the rim and the tissue
/// classes keep their known relative signals).
fn randomised_acquisition() -> GenerateOptions {
    GenerateOptions {
        acquisition: AcquisitionMode::Randomised,
        ..GenerateOptions::default()
    }
}

/// Whether voxel `v` lies within Euclidean distance `r` of a voxel of `mask`.
fn near(mask: &[bool], dims: [usize; 3], v: usize, r: usize) -> bool {
    let p = [
        v % dims[0],
        (v / dims[0]) % dims[1],
        v / (dims[0] * dims[1]),
    ]
    .map(|x| x as isize);
    let r = r as isize;
    (-r..=r).any(|dk| {
        (-r..=r).any(|dj| {
            (-r..=r).any(|di| {
                let q = [p[0] + di, p[1] + dj, p[2] + dk];
                di * di + dj * dj + dk * dk <= r * r
                    && (0..3).all(|a| q[a] >= 0 && (q[a] as usize) < dims[a])
                    && mask[q[0] as usize + dims[0] * (q[1] as usize + dims[1] * q[2] as usize)]
            })
        })
    })
}

/// Mean squared second difference of `image` along `axis` over brain voxels whose two
/// neighbours along it are in the brain too.
fn second_difference_power(image: &[f32], mask: &[bool], dims: [usize; 3], axis: usize) -> f64 {
    let stride = [1, dims[0], dims[0] * dims[1]][axis];
    let (mut sum, mut n) = (0.0f64, 0usize);
    for v in stride..image.len() - stride {
        if mask[v] && mask[v - stride] && mask[v + stride] {
            let d = f64::from(image[v + stride] - 2.0 * image[v] + image[v - stride]);
            sum += d * d;
            n += 1;
        }
    }
    sum / n.max(1) as f64
}

/// An eroded, edge-resampled float32 case: the cut cortex is 0 in the images and background
/// in labels and tissue, everything else as in the realistic case of the seed; the images ring
/// at the edge (small negative values) inside a shell of the documented width and are exactly
/// 0 beyond it; the float32 files and synth.json read back.
#[test]
fn eroded_resampled_float_case() {
    let seed = find_degraded(|d| {
        matches!(d.stripping, Stripping::Eroded { voxels: 2 })
            && d.edge.is_some()
            && d.storage == Storage::Float32
    });
    let case = generate_with(anatomy(), seed, &randomised_acquisition());
    let base = generate(anatomy(), seed);
    let edge = case.degradations.edge.expect("edge resampling");
    let n = case.labels.len();
    let (mut cut, mut cut_lesion) = (0usize, 0usize);
    for v in 0..n {
        let brain = base.tissue[v] > 0;
        assert!(
            !case.mask[v] || brain,
            "the eroded mask lies in the brain ({v})"
        );
        if case.mask[v] {
            assert_eq!(
                (case.labels[v], case.tissue[v]),
                (base.labels[v], base.tissue[v])
            );
        } else {
            assert_eq!((case.labels[v], case.tissue[v]), (0, 0), "cut voxel {v}");
            if brain {
                cut += 1;
                cut_lesion += usize::from(base.labels[v] != 0);
            }
        }
    }
    let brain = base.tissue.iter().filter(|&&t| t > 0).count();
    assert!(
        cut > brain / 20 && cut < brain / 3,
        "{cut} of {brain} voxels cut"
    );
    assert!(cut_lesion > 0, "the erosion cuts into the tumour's edema");
    let outside: Vec<bool> = case.mask.iter().map(|&m| !m).collect();
    for m in Modality::ALL {
        let im = &case.images[m.index()];
        let (mut negative, mut lowest) = (0usize, 0f32);
        for (v, &value) in im.iter().enumerate() {
            if value != 0.0 && !case.mask[v] {
                assert!(
                    near(&case.mask, case.dims, v, edge.shell),
                    "{}: {value} at {v}, beyond the {}-voxel shell",
                    m.name(),
                    edge.shell
                );
            }
            if value < 0.0 {
                negative += 1;
                lowest = lowest.min(value);
                assert!(
                    !case.mask[v] || near(&outside, case.dims, v, 3),
                    "{}: {value} at {v}, deep inside the brain",
                    m.name()
                );
            }
        }
        // Small next to the image's signal.
        let highest = im.iter().copied().fold(0f32, f32::max);
        assert!(negative > 100, "{}: {negative} negative voxels", m.name());
        assert!(
            -lowest < 0.25 * highest,
            "{}: undershoot {lowest} vs a maximum of {highest}",
            m.name()
        );
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let paths = case
        .write(anatomy().header(), dir.path(), "X", Naming::Brats2023)
        .expect("write");
    for m in Modality::ALL {
        let v = read_path(&paths[m.index()]).expect("read");
        assert_eq!(v.header.datatype, Datatype::F32);
        assert!(v.data == case.images[m.index()], "{} round-trips", m.name());
    }
    let provenance = Provenance::read(dir.path())
        .expect("read")
        .expect("synth.json");
    assert_eq!(provenance.degradations, case.degradations);
    // The draws behind the images are recorded, inside the randomised ranges.
    let appearance = provenance.appearance.expect("appearance recorded");
    assert_eq!(appearance, case.appearance);
    let text =
        std::fs::read_to_string(dir.path().join(adamm_synth::PROVENANCE_FILE)).expect("text");
    for m in Modality::ALL {
        assert!(
            text.contains(&format!("\"{}\": {{", m.name())),
            "{} is written under its name: {text}",
            m.name()
        );
    }
    for m in Modality::ALL.map(|m| appearance.get(m)) {
        let (lo, hi) = adamm_synth::generate::RANDOM_GAMMA_RANGE;
        assert!(f64::from(m.gamma) >= lo - 1e-6 && f64::from(m.gamma) <= hi + 1e-6);
        let (lo, hi) = adamm_synth::generate::RANDOM_SCALE_RANGE;
        assert!((lo..=hi).contains(&f64::from(m.wm_level)), "{}", m.wm_level);
        assert_eq!(m.class_means[Class::Wm.index()], 1.0);
    }
}

/// A dilated int16 case with thick slices: labels and tissue as in the realistic case, the rim
/// holds CSF-like signal (bright on T2) with enhancing dura on T1Gd, nothing outside the
/// stored mask, and a thick-slice modality is piecewise linear along its slice axis.
#[test]
fn dilated_thick_slice_int16_case() {
    let seed = find_degraded(|d| {
        let thick = |m: Modality| d.thick_slices[m.index()].is_some_and(|t| t.thickness_mm > 4.0);
        matches!(
            d.stripping,
            Stripping::Dilated {
                voxels: 3,
                dura_t1gd: Some(_)
            }
        ) && d.edge.is_none()
            && d.storage == Storage::Int16
            && thick(Modality::Flair)
            && d.thick_slices[Modality::T1.index()].is_none()
    });
    let case = generate_with(anatomy(), seed, &randomised_acquisition());
    let base = generate(anatomy(), seed);
    assert_eq!(case.labels, base.labels);
    assert_eq!(case.tissue, base.tissue);
    let n = case.labels.len();
    let rim: Vec<bool> = (0..n)
        .map(|v| case.mask[v] && base.tissue[v] == 0)
        .collect();
    assert!((0..n).all(|v| case.mask[v] || base.tissue[v] == 0));
    let rim_count = rim.iter().filter(|&&r| r).count();
    assert!(rim_count > 100_000, "rim of {rim_count} voxels");
    let t = case.class_totals();
    let rim_relative = |m: Modality| {
        let im = &case.images[m.index()];
        let sum: f64 = (0..n).filter(|&v| rim[v]).map(|v| f64::from(im[v])).sum();
        sum / rim_count as f64 / t.mean(m, Class::Wm).expect("white matter")
    };
    for m in Modality::ALL {
        let im = &case.images[m.index()];
        assert!((0..n).all(|v| case.mask[v] || im[v] == 0.0), "{}", m.name());
        assert!(im
            .iter()
            .all(|&v| v.fract() == 0.0 && (-32768.0..=32767.0).contains(&v)));
    }
    assert!(
        rim_relative(Modality::T2) > 1.2,
        "T2 rim {}",
        rim_relative(Modality::T2)
    );
    assert!(
        rim_relative(Modality::T1Gd) > rim_relative(Modality::T1) + 0.1,
        "dura: T1Gd rim {} vs T1 rim {}",
        rim_relative(Modality::T1Gd),
        rim_relative(Modality::T1)
    );
    let slices = case.degradations.thick_slices[Modality::Flair.index()].expect("thick FLAIR");
    let power = |m: Modality, axis: usize| {
        second_difference_power(&case.images[m.index()], &base.mask, case.dims, axis)
    };
    let others = |m: Modality| {
        (0..3)
            .filter(|&a| a != slices.axis)
            .map(|a| power(m, a))
            .sum::<f64>()
            / 2.0
    };
    let flair = power(Modality::Flair, slices.axis) / others(Modality::Flair);
    let t1 = power(Modality::T1, slices.axis) / others(Modality::T1);
    assert!(
        flair < 0.2 && flair < 0.3 * t1,
        "second differences along the slice axis / across: FLAIR {flair:.3}, T1 {t1:.3}"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let paths = case
        .write(anatomy().header(), dir.path(), "X", Naming::Brats2023)
        .expect("write");
    let v = read_path(&paths[Modality::T2.index()]).expect("read");
    assert_eq!(v.header.datatype, Datatype::I16);
    assert!(v.data == case.images[Modality::T2.index()]);
    let provenance = Provenance::read(dir.path())
        .expect("read")
        .expect("synth.json");
    assert_eq!(provenance.degradations, case.degradations);
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
            .all(|(&a, &b)| a == b));
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
            assert!(c.images.iter().all(|im| (im[v] > 0.0) == in_brain));
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
        ..GenerateOptions::default()
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

/// Robustness cases: the realistic case of the same seed with one factor at the edge of its
/// training range, and nothing else changed.
#[test]
fn perturbed_cases_pair_with_the_realistic_case_and_push_only_their_factor() {
    use adamm_synth::Perturbation;
    let realistic = glioblastoma();
    let seed = realistic.seed;
    let brain = |c: &SynthCase| c.mask.iter().filter(|&&m| m).count();
    let wm_mean =
        |c: &SynthCase, m: Modality| c.class_totals().mean(m, Class::Wm).expect("white matter");
    for p in Perturbation::ALL {
        let options = GenerateOptions {
            perturbation: Some(p),
            ..GenerateOptions::default()
        };
        let case = generate_with(anatomy(), seed, &options);
        assert_eq!(case.options.perturbation, Some(p));
        if p == Perturbation::SmallTumour {
            let n = case.label_counts();
            let wt_ml = (n[1] + n[2] + n[3]) as f64 / 1000.0;
            assert!(wt_ml > 0.0 && wt_ml < 3.0, "small tumour of {wt_ml} mL");
            assert_eq!(case.plan.foci.len(), 1);
            continue;
        }
        assert_eq!(case.labels, realistic.labels, "{}: same tumour", p.name());
        assert_eq!(case.tissue, realistic.tissue, "{}: same anatomy", p.name());
        match p {
            Perturbation::Noise => {
                // The same noise draws at 8 % of WM instead of 1.5–4 %: larger deviations.
                for m in Modality::ALL {
                    let (mut sum, mut n) = (0.0, 0usize);
                    for v in 0..case.labels.len() {
                        if realistic.class_at(v) == Some(Class::Wm) {
                            sum += f64::from(
                                (case.images[m.index()][v] - realistic.images[m.index()][v]).abs(),
                            );
                            n += 1;
                        }
                    }
                    let change = sum / n as f64 / wm_mean(realistic, m);
                    assert!(change > 0.02, "{}: noise changed WM by {change}", m.name());
                }
            }
            Perturbation::Bias => {
                let differs = Modality::ALL
                    .iter()
                    .filter(|&&m| case.images[m.index()] != realistic.images[m.index()])
                    .count();
                assert_eq!(differs, 4, "every modality gets the stronger field");
            }
            Perturbation::ThickSlices => {
                let thick = case.degradations.thick_slices;
                assert!(thick
                    .iter()
                    .all(|s| s.is_some_and(|s| s.thickness_mm == 7.0)));
                assert_eq!(case.degradations.stripping, Stripping::Exact);
            }
            Perturbation::Contrast => {
                let (t, base) = (case.class_totals(), realistic.class_totals());
                let mut moved = 0;
                for m in Modality::ALL {
                    for c in [Class::Csf, Class::Gm, Class::Snfh] {
                        // The table entry went to an end of the randomised range…
                        let table = case.appearance.get(m).class_means[c.index()]
                            / realistic.appearance.get(m).class_means[c.index()];
                        assert!(
                            (table - 0.6).abs() < 1e-4 || (table - 1.6).abs() < 1e-4,
                            "{} {}: table ×{table}",
                            m.name(),
                            c.name()
                        );
                        // …and the image's class mean followed it. Not for CSF: most of its
                        // voxels are thin sulci sharing partial volume with cortex (FLAIR CSF
                        // at ×0.6 beside GM at ×1.6 comes out brighter).
                        let image = relative(&t, m, c) / relative(&base, m, c);
                        assert!(
                            c == Class::Csf
                                || ((image - 1.0) * f64::from(table - 1.0) > 0.0
                                    && (image - 1.0).abs() > 0.05),
                            "{} {}: table ×{table}, image ×{image}",
                            m.name(),
                            c.name()
                        );
                        if (image - 1.0).abs() > 0.3 {
                            moved += 1;
                        }
                    }
                }
                assert!(moved >= 9, "only {moved} of 12 class means moved by > 30 %");
            }
            Perturbation::StrippingRim => {
                assert!(brain(&case) > brain(realistic) + 100_000, "a 3-voxel rim");
                assert!(matches!(
                    case.degradations.stripping,
                    Stripping::Dilated { voxels: 3, .. }
                ));
            }
            Perturbation::SmallTumour => unreachable!("handled above"),
        }
        // Written: synth.json names the perturbation.
        if p == Perturbation::StrippingRim {
            let dir = tempfile::tempdir().expect("tmp");
            case.write(anatomy().header(), dir.path(), "P", Naming::Brats2023)
                .expect("write");
            let provenance = Provenance::read(dir.path())
                .expect("read")
                .expect("present");
            assert_eq!(provenance.perturbation.as_deref(), Some("stripping-rim"));
            assert_eq!(provenance.degradations, case.degradations);
        }
    }
    // A realistic case records none.
    assert_eq!(realistic.options.perturbation, None);
}
