//! The whole-head label maps shipped in `data/heads` (SRI24, Colin27, MNI152) and
//! `data/heldout` (ICBM152), made by the `derive_heads` example, and the synthetic head images
//! of any contrast generated on them (`adamm_synth::head`): classes and volumes, the held-out
//! guard, determinism, the brain mask against the deformed labels, the documented ranges of
//! every draw, contrast randomisation, and signal outside the brain.

use std::sync::OnceLock;

use adamm_synth::anatomy::{is_held_out_name, HELD_OUT_ANATOMY, TISSUE_FILE};
use adamm_synth::head::*;
use adamm_synth::{case_seed, Anatomy, SynthError};
use adamm_volume::read_path;

fn heads() -> &'static [HeadAnatomy] {
    static HEADS: OnceLock<Vec<HeadAnatomy>> = OnceLock::new();
    HEADS.get_or_init(|| {
        TRAINING_HEADS
            .iter()
            .map(|name| {
                HeadAnatomy::load(&HeadAnatomy::default_dir(), name)
                    .unwrap_or_else(|e| panic!("the shipped head {name} must load: {e}"))
            })
            .collect()
    })
}

fn head(name: &str) -> &'static HeadAnatomy {
    heads()
        .iter()
        .find(|h| h.name() == name)
        .expect("a training head")
}

/// Brain volumes (mL) of the masks the heads' brains come from, in [`TRAINING_HEADS`] order:
/// SRI24's tissue map (1452 mL on the BraTS grid), Colin27's `ch2bet` (1.74 L) and SPM's
/// intracranial mask (1.89 L), as `../shared/data/README.md` gives them.
const SOURCE_BRAIN_ML: [f64; 3] = [1452.0, 1740.0, 1890.0];

fn is_brain(l: u8) -> bool {
    (CSF..=WHITE_MATTER).contains(&l)
}

#[test]
fn training_heads_have_every_class_with_plausible_volumes() {
    for (head, source_ml) in heads().iter().zip(SOURCE_BRAIN_ML) {
        let name = head.name();
        assert!(!head.is_held_out());
        assert_eq!(
            head.world_from_voxel().column_norms(),
            [1.0, 1.0, 1.0],
            "{name}: 1 mm"
        );
        let v = head.class_volumes_ml();
        let brain = head.brain_volume_ml();
        assert!(
            (brain / source_ml - 1.0).abs() < 0.02,
            "{name}: brain {brain:.0} mL vs {source_ml} mL"
        );
        for (label, range) in [
            (CSF, 100.0..500.0),
            (GREY_MATTER, 500.0..1200.0),
            (WHITE_MATTER, 400.0..900.0),
            (FLUID, 10.0..400.0),
            (BONE, 300.0..1200.0),
            (SOFT_TISSUE, 400.0..2000.0),
            (FAT, 50.0..1000.0),
        ] {
            let ml = v[usize::from(label)];
            assert!(
                range.contains(&ml),
                "{name}: {} {ml:.0} mL not in {range:?}",
                HEAD_LABEL_NAMES[usize::from(label)]
            );
        }
        let non_brain: f64 = v[4..].iter().sum();
        assert!(
            (1200.0..3500.0).contains(&non_brain),
            "{name}: {non_brain:.0} mL of head outside the brain"
        );
    }
}

/// The labels met walking from the brain centroid along `direction` (world, 1 mm steps)
/// between the last brain voxel and the air beyond the head (10 mm of air in a row).
fn shell_along(head: &HeadAnatomy, direction: [f64; 3]) -> Vec<u8> {
    let c = head.brain_centre();
    let at = |t: f64| head.label_at_world([0, 1, 2].map(|a| c[a] + t * direction[a]));
    let mut last_brain = 0;
    let mut t = 0;
    let mut air_run = 0;
    while air_run < 10 && t < 200 {
        let l = at(t as f64);
        if is_brain(l) {
            last_brain = t;
        }
        air_run = if l == AIR { air_run + 1 } else { 0 };
        t += 1;
    }
    (last_brain + 1..t - air_run)
        .map(|t| at(t as f64))
        .collect()
}

/// Fewest of the seven rays of [`bone_and_soft_tissue_surround_the_brain`] that cross bone,
/// per training head: SRI24's head T1 is an average in which the vault's cortical bone is
/// blurred into marrow and scalp (intermediate to bright T1, so labelled soft tissue and
/// fat; `data/heads/README.md`), while Colin27 (one subject's T1) and the TPM of MNI152 show
/// the skull all round.
const MIN_RAYS_WITH_BONE: [usize; 3] = [0, 5, 5];

#[test]
fn bone_and_soft_tissue_surround_the_brain() {
    let directions = [
        [1.0, 0.0, 0.0],
        [-1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0],
        [0.0, -1.0, 0.0],
        [0.0, 0.0, 1.0],
        [0.0, 0.6, 0.8],
        [0.0, -0.6, 0.8],
    ];
    for (head, min_bone) in heads().iter().zip(MIN_RAYS_WITH_BONE) {
        let name = head.name();
        let (mut with_bone, mut with_dark) = (0, 0);
        for d in directions {
            let shell = shell_along(head, d);
            assert!(
                (3..45).contains(&shell.len()),
                "{name} {d:?}: {} mm between brain and air: {shell:?}",
                shell.len()
            );
            assert!(
                shell.iter().any(|&l| l == SOFT_TISSUE || l == FAT),
                "{name} {d:?}: no scalp in {shell:?}"
            );
            assert!(!shell.iter().any(|&l| is_brain(l) || l == AIR));
            with_bone += usize::from(shell.contains(&BONE));
            with_dark += usize::from(shell.iter().any(|&l| l == BONE || l == FLUID));
        }
        assert!(
            with_bone >= min_bone,
            "{name}: bone on {with_bone} of 7 rays"
        );
        assert!(
            with_dark >= 5,
            "{name}: bone or fluid on {with_dark} of 7 rays"
        );
    }
}

#[test]
fn the_sri24_head_brain_is_the_shipped_tissue_map() {
    let tissues = read_path(&Anatomy::default_dir().join(TISSUE_FILE)).expect("the tissue map");
    let dims = tissues.dims();
    let world = tissues.world_from_voxel();
    let head = head("sri24");
    let mut checked = 0;
    for i in (0..tissues.data.len()).step_by(7) {
        let p = [
            i % dims[0],
            (i / dims[0]) % dims[1],
            i / (dims[0] * dims[1]),
        ];
        let w = world.apply(p.map(|c| c as f64));
        let l = head.label_at_world(w);
        let t = tissues.data[i] as u8;
        if t > 0 {
            assert_eq!(l, t, "voxel {p:?}");
            checked += 1;
        } else {
            assert!(
                !is_brain(l),
                "voxel {p:?}: {l} outside the tissue map's brain"
            );
        }
    }
    assert!(checked > 150_000, "{checked}");
}

#[test]
fn the_held_out_head_is_refused_for_training() {
    let dir = HeadAnatomy::held_out_dir();
    for name in [HELD_OUT_ANATOMY, "MNI_ICBM152"] {
        match HeadAnatomy::load(&dir, name) {
            Err(e @ SynthError::HeldOutAnatomy { .. }) => {
                let message = e.to_string();
                assert!(
                    message.contains(&head_file(name)) && message.contains("held-out"),
                    "{message}"
                );
            }
            other => panic!("{name}: expected a refusal, got {other:?}"),
        }
    }
    // Out-of-distribution tests load it on purpose, and its heads say where they come from.
    let held_out = HeadAnatomy::load_held_out(&dir).expect("the held-out head");
    assert!(held_out.is_held_out());
    assert_eq!(held_out.name(), HELD_OUT_ANATOMY);
    let brain = held_out.brain_volume_ml();
    assert!((1700.0..2100.0).contains(&brain), "{brain} mL");
    let v = held_out.class_volumes_ml();
    assert!(v[usize::from(BONE)] > 300.0 && v[usize::from(SOFT_TISSUE)] > 300.0);
    let case = generate_head(&held_out, 3, &HeadOptions::default());
    assert!(case.held_out);
    assert_eq!(case.anatomy, HELD_OUT_ANATOMY);
    // The training folder holds the training heads and nothing of the held-out anatomy.
    let training = HeadAnatomy::default_dir();
    for entry in std::fs::read_dir(&training).expect("data/heads") {
        let name = entry.expect("an entry").file_name();
        let name = name.to_string_lossy();
        assert!(!is_held_out_name(&name), "{name} in {}", training.display());
    }
    for name in TRAINING_HEADS {
        assert!(training.join(head_file(name)).exists(), "{name}");
    }
}

fn same(a: &SynthHead, b: &SynthHead) -> bool {
    a.image.len() == b.image.len()
        && a.image
            .iter()
            .zip(&b.image)
            .all(|(x, y)| x.to_bits() == y.to_bits())
        && a.brain_mask == b.brain_mask
        && a.labels == b.labels
        && a.draws == b.draws
}

#[test]
fn heads_are_deterministic_and_differ_across_seeds() {
    let options = HeadOptions::default();
    let seed = case_seed(9, 4);
    let a = generate_head(head("colin27"), seed, &options);
    let b = generate_head(head("colin27"), seed, &options);
    let c = std::thread::spawn(move || generate_head(head("colin27"), seed, &options))
        .join()
        .expect("the thread");
    assert!(same(&a, &b) && same(&a, &c));
    let d = generate_head(head("colin27"), case_seed(9, 5), &options);
    assert!(!same(&a, &d));
    let differing = a.image.iter().zip(&d.image).filter(|(x, y)| x != y).count();
    assert!(differing > a.image.len() / 2, "{differing}");
    // The grid is the documented one.
    assert_eq!(a.dims, HEAD_GRID_DIMS);
    assert_eq!(
        a.world_from_voxel,
        output_world_from_voxel(HEAD_GRID_DIMS, HEAD_VOXEL_MM)
    );
    assert_eq!(a.image.len(), 96 * 112 * 96);

    // Written as NIfTI, read back the same.
    let dir = tempfile::tempdir().expect("a temporary folder");
    let [image, mask] = a.write(dir.path(), "head-0").expect("written");
    let image = read_path(&image).expect("the image");
    let mask = read_path(&mask).expect("the mask");
    assert_eq!(image.dims(), HEAD_GRID_DIMS);
    assert!(image.world_from_voxel().max_abs_diff(&a.world_from_voxel) < 1e-6);
    assert_eq!(image.data, a.image);
    let m: Vec<bool> = mask.data.iter().map(|&v| v == 1.0).collect();
    assert_eq!(m, a.brain_mask);
}

#[test]
fn the_brain_mask_is_the_deformed_brain() {
    for n in 0..6u64 {
        let head = &heads()[n as usize % 3];
        let seed = case_seed(21, n);
        // The field of view uncut, so that every voxel can be compared with the anatomy.
        let options = HeadOptions {
            acquisition: false,
            ..HeadOptions::default()
        };
        let case = generate_head(head, seed, &options);
        let mask_count = case.brain_mask.iter().filter(|&&m| m).count();
        // The mask is where the sub-samples are mostly brain: the majority label agrees.
        let disagree = case
            .brain_mask
            .iter()
            .zip(&case.labels)
            .filter(|(&m, &l)| m != is_brain(l))
            .count();
        assert!(
            (disagree as f64) < 0.01 * mask_count as f64,
            "{}: {disagree} of {mask_count}",
            head.name()
        );
        // The anatomy label at each voxel centre, through the warp: brain where the mask is.
        let warp = HeadWarp::new(head, &case.draws, &options);
        let dims = case.dims;
        let mut off = 0usize;
        for (i, &m) in case.brain_mask.iter().enumerate() {
            let v = [
                i % dims[0],
                (i / dims[0]) % dims[1],
                i / (dims[0] * dims[1]),
            ];
            let l = head.label_at_voxel(warp.anatomy_voxel(v.map(|c| c as f64)));
            off += usize::from(m != is_brain(l));
        }
        assert!(
            (off as f64) < 0.05 * mask_count as f64,
            "{}: {off} of {mask_count} voxels off the warped brain",
            head.name()
        );
        // Its volume is the anatomy's brain scaled by the drawn head scaling.
        let scale: f64 = case.draws.scale.iter().product();
        let expected = head.brain_volume_ml() * scale;
        let got = case.brain_volume_ml();
        assert!(
            (got / expected - 1.0).abs() < 0.06,
            "{}: mask {got:.0} mL vs {expected:.0} mL",
            head.name()
        );
    }
}

#[test]
fn head_draws_stay_in_their_documented_ranges() {
    let inside = |v: f64, (lo, hi): (f64, f64)| v >= lo && v <= hi;
    let n = 4000u64;
    let mut ordered = 0;
    let mut templates = [0usize; 3];
    let mut thick = 0;
    let mut axes = [0usize; 3];
    let mut crops = 0;
    let mut intensities = Vec::new();
    for i in 0..n {
        let d = HeadDraws::draw(case_seed(5, i));
        assert_eq!(d.means[0], 0.0, "air is dark");
        assert_eq!(d.texture[0], 0.0);
        for l in 1..HEAD_LABELS {
            assert!(inside(d.means[l], HEAD_MEAN_RANGE));
            assert!(inside(d.texture[l], HEAD_TEXTURE_RANGE));
        }
        if let Some(order) = d.contrast.order() {
            ordered += 1;
            let t = [HeadContrast::T1, HeadContrast::T2, HeadContrast::Flair]
                .iter()
                .position(|&c| c == d.contrast)
                .expect("a template");
            templates[t] += 1;
            for w in order.windows(2) {
                assert!(d.means[usize::from(w[0])] <= d.means[usize::from(w[1])]);
            }
        }
        for a in 0..3 {
            assert!(d.angles_deg[a].abs() <= HEAD_MAX_ANGLE_DEG);
            assert!(d.shift_mm[a].abs() <= HEAD_MAX_SHIFT_MM);
            assert!(inside(d.scale[a], HEAD_SCALE_RANGE));
            for &c in &d.crop_mm[a] {
                assert!(inside(c, HEAD_CROP_DEPTH_MM));
                crops += usize::from(c > 0.0);
            }
        }
        assert!(inside(d.field_mm, HEAD_FIELD_AMPLITUDE_MM));
        assert!(inside(d.bias, HEAD_BIAS_RANGE) && d.bias <= 0.4);
        assert!(inside(d.blur, HEAD_BLUR_RANGE));
        assert!(inside(d.noise, HEAD_NOISE_RANGE));
        assert!(d.noise >= 0.01 && d.noise <= 0.10);
        if let Some(t) = d.thick_slices {
            thick += 1;
            axes[t.axis] += 1;
            assert!(inside(t.thickness_mm, HEAD_SLICE_THICKNESS_MM));
            assert!(t.phase_mm >= 0.0 && t.phase_mm < t.thickness_mm);
        }
        assert!(inside(d.intensity, HEAD_INTENSITY_RANGE));
        intensities.push(d.intensity);
        // Switched-off parts are neutral.
        let off = d.clone().restricted_to(&HeadOptions {
            deform: false,
            acquisition: false,
            ..HeadOptions::default()
        });
        assert_eq!(
            (off.angles_deg, off.shift_mm, off.scale),
            ([0.0; 3], [0.0; 3], [1.0; 3])
        );
        assert_eq!(
            (off.field_mm, off.bias, off.blur, off.noise),
            (0.0, 0.0, 0.0, 0.0)
        );
        assert_eq!((off.thick_slices, off.crop_mm), (None, [[0.0; 2]; 3]));
        assert_eq!((off.means, off.intensity), (d.means, d.intensity));
    }
    let share = |k: usize, of: u64| k as f64 / of as f64;
    assert!(
        (share(ordered, n) - HEAD_ORDERED_CHANCE).abs() < 0.04,
        "{ordered}"
    );
    for t in templates {
        assert!(
            (share(t, n) - HEAD_ORDERED_CHANCE / 3.0).abs() < 0.03,
            "{templates:?}"
        );
    }
    assert!(
        (share(thick, n) - HEAD_THICK_SLICE_CHANCE).abs() < 0.04,
        "{thick}"
    );
    assert!(axes.iter().all(|&a| a > thick / 4), "{axes:?}");
    assert!(
        (share(crops, 6 * n) - HEAD_CROP_CHANCE).abs() < 0.02,
        "{crops}"
    );
    // Log-uniform: the median is near the geometric mean of the range (707).
    intensities.sort_by(f64::total_cmp);
    let median = intensities[intensities.len() / 2];
    assert!((600.0..830.0).contains(&median), "{median}");
}

/// Mean of `image` over the voxels whose label is `label` (and count).
fn label_mean(case: &SynthHead, label: u8) -> (f64, usize) {
    let (s, n) = case
        .image
        .iter()
        .zip(&case.labels)
        .filter(|(_, &l)| l == label)
        .fold((0f64, 0usize), |(s, n), (&v, _)| (s + f64::from(v), n + 1));
    (s / n.max(1) as f64, n)
}

#[test]
fn the_contrast_is_random_and_follows_the_drawn_means() {
    let options = HeadOptions {
        acquisition: false,
        ..HeadOptions::default()
    };
    let mut ratios = Vec::new();
    for n in 0..10u64 {
        let head = &heads()[n as usize % 3];
        let case = generate_head(head, case_seed(33, n), &options);
        let d = &case.draws;
        let level = d.intensity / d.brightest();
        for label in [GREY_MATTER, WHITE_MATTER, SOFT_TISSUE] {
            let (mean, count) = label_mean(&case, label);
            assert!(
                count > 5000,
                "{} label {label}: {count} voxels",
                head.name()
            );
            let expected = level * d.means[usize::from(label)];
            // Partial volume with the neighbours and the texture move it a little.
            assert!(
                (mean - expected).abs() < 0.2 * expected + 0.08 * d.intensity,
                "{} label {label}: {mean:.1} vs {expected:.1}",
                head.name()
            );
        }
        ratios.push(label_mean(&case, GREY_MATTER).0 / label_mean(&case, WHITE_MATTER).0);
    }
    // Grey matter darker than white matter in some heads (T1-like), brighter in others.
    assert!(ratios.iter().any(|&r| r < 0.9), "{ratios:?}");
    assert!(ratios.iter().any(|&r| r > 1.1), "{ratios:?}");
}

#[test]
fn the_head_around_the_brain_carries_signal_and_air_is_noise() {
    let options = HeadOptions::default();
    let seeds = 15u64;
    let mut bright_enough = 0;
    for n in 0..seeds {
        let head = &heads()[n as usize % 3];
        let case = generate_head(head, case_seed(47, n), &options);
        let inside = {
            let (s, k) = case
                .image
                .iter()
                .zip(&case.brain_mask)
                .filter(|(_, &m)| m)
                .fold((0f64, 0usize), |(s, k), (&v, _)| (s + f64::from(v), k + 1));
            s / k.max(1) as f64
        };
        let (s, k) = (FLUID..=FAT)
            .map(|l| label_mean(&case, l))
            .fold((0f64, 0usize), |(s, k), (m, c)| (s + m * c as f64, k + c));
        let outside = s / k.max(1) as f64;
        bright_enough += usize::from(outside >= 0.1 * inside);
        // Air in the field of view (the crop is exactly 0) is Rician noise on 0: its median is
        // σ √(2 ln 2) ≈ 1.18 σ.
        let sigma = case.draws.noise * case.draws.intensity;
        let mut air: Vec<f32> = case
            .image
            .iter()
            .zip(&case.labels)
            .filter(|(&v, &l)| l == AIR && v != 0.0)
            .map(|(&v, _)| v)
            .collect();
        assert!(air.len() > 100_000, "{}", air.len());
        air.sort_by(f32::total_cmp);
        let median = f64::from(air[air.len() / 2]) / sigma;
        assert!(
            (0.8..1.6).contains(&median),
            "{} seed {n}: air median {median:.2} σ ({:?})",
            head.name(),
            case.draws.thick_slices
        );
    }
    assert!(bright_enough >= 13, "{bright_enough} of {seeds}");
}

/// The skull-stripping check (`adamm_volume::skull`) calls every generated head a head, and
/// the same image with everything outside its brain mask set to 0 skull-stripped: the rule
/// holds on the data the brain-extraction network learns from, whatever the contrast, pose,
/// noise and field of view.
#[test]
fn generated_heads_are_heads_and_their_brains_are_stripped() {
    use adamm_volume::skull::check_skull;
    use adamm_volume::Volume;
    for (k, name) in TRAINING_HEADS.iter().enumerate() {
        for i in 0..3u64 {
            let h = generate_head(
                head(name),
                case_seed(31 + k as u64, i),
                &HeadOptions::default(),
            );
            let image = Volume::new(h.image.clone(), h.header()).expect("the head's grid");
            let c = check_skull(&image);
            assert!(!c.stripped, "{name} head {i}: {}", c.describe());
            let brain: Vec<f32> = h
                .image
                .iter()
                .zip(&h.brain_mask)
                .map(|(&v, &b)| if b { v.max(0.0) } else { 0.0 })
                .collect();
            let stripped = Volume::new(brain, h.header()).expect("the head's grid");
            let c = check_skull(&stripped);
            assert!(c.stripped, "{name} brain {i}: {}", c.describe());
        }
    }
}
