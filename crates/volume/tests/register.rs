//! Rigid registration on mutual information ([`adamm_volume::register`]) of a procedural head
//! imaged in two contrasts on different grids: a known motion is recovered, aligned scans stay
//! aligned, scans of different places are refused, and the result is reproducible.

#[path = "support/phantom.rs"]
mod phantom;

use std::sync::OnceLock;

use adamm_volume::nifti_io::{Datatype, Header};
use adamm_volume::regrid::{resample, Interpolation, TargetGrid};
use adamm_volume::{
    register_rigid, Affine, Registration, RegistrationOptions, Rigid, Volume, VolumeError,
};
use phantom::{grid_affine, scan, Contrast, Imaging, HEAD_CENTRE};

/// The scans the tests share (built once: imaging the phantom is the slow part).
struct Scans {
    /// T1Gd, 2 mm isotropic, LAS, in anatomy space.
    fixed: Volume,
    /// FLAIR of the moved head, 0.9 × 0.9 × 5 mm slices, oblique.
    moved: Volume,
    /// The motion: `moving_world_from_fixed_world` of `moved`.
    truth: Affine,
    /// FLAIR of the unmoved head, 1.5 × 1.5 × 3 mm, oblique the other way.
    aligned: Volume,
}

fn scans() -> &'static Scans {
    static SCANS: OnceLock<Scans> = OnceLock::new();
    SCANS.get_or_init(|| {
        let las = [[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        let fixed_dims = [78, 92, 70];
        let fixed_affine = grid_affine(
            fixed_dims,
            [2.0; 3],
            las,
            [
                HEAD_CENTRE[0] + 1.0,
                HEAD_CENTRE[1] + 3.0,
                HEAD_CENTRE[2] - 2.0,
            ],
        );
        let t1 = Imaging {
            contrast: Contrast::T1Gd,
            slice_samples: 1,
            noise: 0.02,
            seed: 1,
        };
        let fixed = scan(fixed_dims, &fixed_affine, &Affine::IDENTITY, t1);

        let truth = Rigid {
            rotation_deg: [5.0, -6.0, 8.0],
            translation_mm: [8.0, -10.0, 6.0],
        }
        .to_affine(HEAD_CENTRE);
        let moved_centre = truth.apply(HEAD_CENTRE);
        let oblique = Rigid {
            rotation_deg: [15.0, 0.0, 10.0],
            translation_mm: [0.0; 3],
        }
        .rotation_matrix();
        let moved_dims = [200, 218, 28];
        let moved_affine = grid_affine(
            moved_dims,
            [0.9, 0.9, 5.0],
            oblique,
            [
                moved_centre[0] - 4.0,
                moved_centre[1] + 5.0,
                moved_centre[2] + 3.0,
            ],
        );
        let flair = |seed| Imaging {
            contrast: Contrast::Flair,
            slice_samples: 3,
            noise: 0.03,
            seed,
        };
        let moved = scan(moved_dims, &moved_affine, &truth, flair(2));

        let other_oblique = Rigid {
            rotation_deg: [-8.0, 5.0, 0.0],
            translation_mm: [0.0; 3],
        }
        .rotation_matrix();
        let aligned_dims = [120, 131, 48];
        let aligned_affine = grid_affine(
            aligned_dims,
            [1.5, 1.5, 3.0],
            other_oblique,
            [
                HEAD_CENTRE[0] + 3.0,
                HEAD_CENTRE[1] - 2.0,
                HEAD_CENTRE[2] + 4.0,
            ],
        );
        let aligned = scan(aligned_dims, &aligned_affine, &Affine::IDENTITY, flair(3));
        Scans {
            fixed,
            moved,
            truth,
            aligned,
        }
    })
}

/// The angle (degrees) of the rotation between the 3×3 parts of two rigid affines.
fn rotation_error_deg(a: &Affine, b: &Affine) -> f64 {
    // trace(Aᵀ B) = 1 + 2 cos θ
    let trace: f64 = (0..3)
        .flat_map(|r| (0..3).map(move |c| (r, c)))
        .map(|(r, c)| a.0[r][c] * b.0[r][c])
        .sum();
    ((trace - 1.0) / 2.0).clamp(-1.0, 1.0).acos().to_degrees()
}

/// Pearson correlation of two equally long value lists.
fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    sab / (saa * sbb).sqrt()
}

fn report(name: &str, reg: &Registration, truth: &Affine) -> (f64, f64) {
    let mm = reg.max_displacement_mm(truth);
    let deg = rotation_error_deg(&reg.moving_world_from_fixed_world, truth);
    println!(
        "{name}: error {mm:.3} mm, {deg:.3}°; found {:?}; NMI {:.4} → {:.4}; overlap {:.3} → {:.3}; {} iterations, {} evaluations",
        reg.transform,
        reg.initial_mutual_information,
        reg.mutual_information,
        reg.initial_overlap_fraction,
        reg.overlap_fraction,
        reg.iterations,
        reg.evaluations
    );
    (mm, deg)
}

/// The registration of `moved` to `fixed` with the default options (shared by two tests).
fn known_motion_registration() -> &'static Registration {
    static REGISTRATION: OnceLock<Registration> = OnceLock::new();
    REGISTRATION.get_or_init(|| {
        let s = scans();
        register_rigid(&s.fixed, &s.moved, &RegistrationOptions::default()).expect("registers")
    })
}

#[test]
fn register_recovers_a_known_rigid_motion_across_grids_and_contrasts() {
    let s = scans();
    let reg = known_motion_registration();
    let (mm, deg) = report("known motion", reg, &s.truth);
    assert!(mm < 1.0, "{mm:.3} mm from the true motion");
    assert!(deg < 1.0, "{deg:.3}° from the true rotation");
    // The motion was 14 mm or more at the brain's extent, and the match improved.
    assert!(reg.correction_mm() > 14.0, "{}", reg.correction_mm());
    assert!(reg.mutual_information > reg.initial_mutual_information + 0.02);
    assert!(reg.overlap_fraction > 0.95, "{}", reg.overlap_fraction);

    // The result is what `regrid::resample` takes: the moving scan brought onto the fixed grid
    // with it matches the unmoved FLAIR there, and with the header alignment it does not.
    let target = TargetGrid {
        dims: s.fixed.dims(),
        world_from_voxel: s.fixed.world_from_voxel(),
    };
    let reference = scan(
        target.dims,
        &target.world_from_voxel,
        &Affine::IDENTITY,
        Imaging {
            contrast: Contrast::Flair,
            slice_samples: 1,
            noise: 0.0,
            seed: 0,
        },
    );
    let brain: Vec<usize> = (0..reference.data.len())
        .filter(|&i| s.fixed.data[i] > 100.0)
        .collect();
    let agreement = |transform: &Affine| {
        let out =
            resample(&s.moved, &target, transform, Interpolation::Linear, 0.0).expect("resamples");
        let a: Vec<f64> = brain.iter().map(|&i| f64::from(out[i])).collect();
        let b: Vec<f64> = brain
            .iter()
            .map(|&i| f64::from(reference.data[i]))
            .collect();
        correlation(&a, &b)
    };
    let (found, truth, header) = (
        agreement(&reg.moving_world_from_fixed_world),
        agreement(&s.truth),
        agreement(&Affine::IDENTITY),
    );
    println!(
        "correlation with the unmoved FLAIR: registered {found:.4}, true motion {truth:.4}, header {header:.4}"
    );
    assert!(
        found > truth - 0.005,
        "{found} vs {truth} with the true motion"
    );
    assert!(
        header < truth - 0.3,
        "{header} vs {truth} with the true motion"
    );
}

#[test]
fn register_leaves_aligned_scans_aligned() {
    let s = scans();
    let reg =
        register_rigid(&s.fixed, &s.aligned, &RegistrationOptions::default()).expect("registers");
    let (mm, deg) = report("aligned", &reg, &Affine::IDENTITY);
    assert!(mm < 0.3, "moved {mm:.3} mm away from the identity");
    assert!(deg < 0.3, "turned {deg:.3}° away from the identity");
    assert!(reg.initial_overlap_fraction > 0.95);
}

#[test]
fn register_refuses_scans_that_do_not_overlap() {
    let s = scans();
    let mut far = s.aligned.world_from_voxel();
    far.0[0][3] += 300.0;
    let elsewhere = Volume::new(
        s.aligned.data.clone(),
        Header::from_affine(s.aligned.dims(), Datatype::F32, &far),
    )
    .expect("a valid volume");
    let err = register_rigid(&s.fixed, &elsewhere, &RegistrationOptions::default())
        .expect_err("no overlap");
    let message = err.to_string();
    println!("{message}");
    match err {
        VolumeError::NoOverlap {
            overlap_percent,
            fixed_centre_mm,
            moving_centre_mm,
            ..
        } => {
            assert!(overlap_percent < 1.0, "{overlap_percent}");
            // The centres named are 300 mm apart along x.
            assert!((moving_centre_mm[0] - fixed_centre_mm[0] - 300.0).abs() < 10.0);
        }
        other => panic!("expected NoOverlap, got {other:?}"),
    }
    assert!(message.contains("fixed scan's foreground"), "{message}");
    assert!(
        message.contains("different patients or visits"),
        "{message}"
    );
}

#[test]
fn register_is_deterministic() {
    let s = scans();
    let a = known_motion_registration();
    let b = register_rigid(&s.fixed, &s.moved, &RegistrationOptions::default()).expect("registers");
    assert_eq!(*a, b);
    let bits = |r: &Registration| {
        r.moving_world_from_fixed_world
            .0
            .iter()
            .flatten()
            .chain([&r.mutual_information, &r.overlap_fraction])
            .map(|v| v.to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(a), bits(&b));
}

/// A small volume of `data` on a 2 mm grid.
fn small(data: Vec<f32>) -> Volume {
    Volume::new(
        data,
        Header::from_affine([20, 20, 20], Datatype::F32, &Affine::from_spacing([2.0; 3])),
    )
    .expect("a valid volume")
}

fn ball() -> Vec<f32> {
    (0..8000)
        .map(|i| {
            let p = [i % 20, (i / 20) % 20, i / 400].map(|c| c as f64 - 9.5);
            if p.iter().map(|c| c * c).sum::<f64>() < 64.0 {
                100.0 + p[0] as f32
            } else {
                0.0
            }
        })
        .collect()
}

#[test]
fn register_refuses_nan_empty_and_constant_scans_and_bad_options() {
    let good = small(ball());
    let mut with_nan = ball();
    with_nan[17] = f32::NAN;
    with_nan[18] = f32::INFINITY;
    let cases = [
        (
            small(with_nan),
            "the moving scan has 2 NaN or infinite voxels",
        ),
        (
            small(vec![0.0; 8000]),
            "the moving scan is empty (every voxel is 0)",
        ),
        (
            small(vec![7.0; 8000]),
            "the moving scan is constant (every voxel is 7)",
        ),
    ];
    let options = RegistrationOptions::default();
    for (moving, expected) in cases {
        let err = register_rigid(&good, &moving, &options).expect_err("refused");
        assert!(matches!(
            err,
            VolumeError::UnusableScan {
                which: "moving",
                ..
            }
        ));
        assert!(err.to_string().contains(expected), "{err}");
    }
    let bad = RegistrationOptions {
        bins: 1000,
        ..RegistrationOptions::default()
    };
    let err = register_rigid(&good, &good, &bad).expect_err("refused");
    assert!(err.to_string().contains("1000 histogram bins"), "{err}");
    let bad = RegistrationOptions {
        levels_mm: vec![4.0, -1.0],
        ..RegistrationOptions::default()
    };
    assert!(matches!(
        register_rigid(&good, &good, &bad),
        Err(VolumeError::BadRegistrationOptions(_))
    ));
}
