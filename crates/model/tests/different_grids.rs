//! A case whose scans come on different grids, orientations and slice thicknesses, each
//! moved by a known rigid motion: the pipeline recovers every motion within 1 mm and 1°, and
//! the shipped model's segmentation on the reference grid is within 0.03 Dice of the same
//! case given on one grid, and within 0.01 of the re-acquired scans aligned with the true
//! motions (what registration costs, apart from what thicker slices lose).

use std::path::Path;

use adamm_model::burn::tensor::Device;
use adamm_model::{LoadedStudent, Pipeline, Scans};
use adamm_synth::{case_seed, generate, Anatomy, TumourPlan};
use adamm_volume::align::ScanAlignment;
use adamm_volume::brats::{Modality, Region};
use adamm_volume::metrics::region_metrics;
use adamm_volume::nifti_io::{Datatype, Header};
use adamm_volume::regrid::{resample, Interpolation, TargetGrid};
use adamm_volume::{Affine, Rigid, Volume};

/// A grid of `dims` voxels of `spacing` mm, its axes turned by `rotation_deg` (about x, y, z)
/// and its centre at `centre`.
fn grid(dims: [usize; 3], spacing: [f64; 3], rotation_deg: [f64; 3], centre: [f64; 3]) -> Affine {
    let r = Rigid {
        rotation_deg,
        translation_mm: [0.0; 3],
    }
    .rotation_matrix();
    let mut m = Affine::IDENTITY;
    for (out, cosines) in m.0.iter_mut().zip(&r) {
        for c in 0..3 {
            out[c] = cosines[c] * spacing[c];
        }
    }
    let mid = m.apply(dims.map(|n| (n as f64 - 1.0) / 2.0));
    for (out, (c, p)) in m.0.iter_mut().zip(centre.iter().zip(mid)) {
        out[3] = c - p;
    }
    m
}

/// `source` imaged on `target` after the head moved by `moving_from_fixed`: each voxel the
/// mean of four points through its slice (voxel axis 2), as a 2-D acquisition's slice
/// profile.
fn acquire(source: &Volume, target: &TargetGrid, moving_from_fixed: &Affine) -> Volume {
    let fixed_from_moving = moving_from_fixed.inverse().expect("rigid");
    let mut sum = vec![0.0f32; target.dims.iter().product()];
    for offset in [-0.375, -0.125, 0.125, 0.375] {
        let mut shifted = target.world_from_voxel;
        let step = [0, 1, 2].map(|r| shifted.0[r][2] * offset);
        for (r, s) in step.iter().enumerate() {
            shifted.0[r][3] += s;
        }
        let grid = TargetGrid {
            dims: target.dims,
            world_from_voxel: shifted,
        };
        let v = resample(
            source,
            &grid,
            &fixed_from_moving,
            Interpolation::Linear,
            0.0,
        )
        .expect("resamples");
        for (a, b) in sum.iter_mut().zip(v) {
            *a += b / 4.0;
        }
    }
    let header = Header::from_affine(target.dims, Datatype::F32, &target.world_from_voxel);
    Volume::new(sum, header).expect("a volume of its grid")
}

/// The angle (degrees) between the rotations of two rigid affines.
fn rotation_error_deg(a: &Affine, b: &Affine) -> f64 {
    let trace: f64 = (0..3)
        .flat_map(|r| (0..3).map(move |c| (r, c)))
        .map(|(r, c)| a.0[r][c] * b.0[r][c])
        .sum();
    ((trace - 1.0) / 2.0).clamp(-1.0, 1.0).acos().to_degrees()
}

fn dice(pipeline: &Pipeline, scans: &Scans, truth: &[u8]) -> Vec<(Region, f64)> {
    let labels = pipeline.segment(scans, |_| {}).expect("segments");
    let spacing = scans.spacing_mm().expect("spacing");
    region_metrics(&labels.labels, truth, scans.dims(), spacing)
        .expect("metrics")
        .into_iter()
        .map(|(r, m)| (r, m.dice))
        .collect()
}

#[test]
fn scans_on_other_grids_with_known_motions_are_aligned_and_segmented_alike() {
    let anatomy = Anatomy::load(&Anatomy::default_dir()).expect("the shipped anatomy");
    // A tumour of some size, so that Dice measures alignment rather than a few voxels.
    let seed = (0..1000)
        .map(|i| case_seed(41, i))
        .find(|&s| TumourPlan::draw(s).foci[0].radius_mm > 18.0)
        .expect("a large tumour in 1000 plans");
    let case = generate(&anatomy, seed);
    let header = anatomy.header().clone();
    let volumes: Vec<Volume> = case
        .images
        .iter()
        .map(|img| Volume::new(img.clone(), header.clone()).expect("the anatomy's grid"))
        .collect();
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../public/models/adamm-light.bpk");
    let device = Device::flex();
    let pipeline = Pipeline::for_student(
        LoadedStudent::load(&model, &device).expect("the shipped model"),
        &device,
    )
    .expect("a pipeline");

    let one_grid = Scans::new([0, 1, 2, 3].map(|i| Some((format!("{i}"), volumes[i].clone()))))
        .expect("one grid");
    let reference_dice = dice(&pipeline, &one_grid, &case.labels);

    // T1Gd stays on the BraTS grid (1 mm: the reference); the others are re-acquired after
    // the head moved, each on its own oblique grid.
    let centre = volumes[1].world_from_voxel().apply([119.5, 119.5, 77.0]);
    let moves = [
        // T1: 1.2 mm isotropic, turned 8° about z.
        (
            [3.0, -2.0, 4.0],
            [4.0, -3.0, 2.0],
            [160, 200, 130],
            [1.2, 1.2, 1.2],
            [0.0, 0.0, 8.0],
        ),
        // T2: 0.8 × 0.8 × 2.5 mm axial slices, tilted 10° about x.
        (
            [-4.0, 3.0, -3.0],
            [-5.0, 4.0, 3.0],
            [250, 300, 66],
            [0.8, 0.8, 2.5],
            [10.0, 0.0, 0.0],
        ),
        // FLAIR: 0.9 × 0.9 × 3 mm coronal-ish slices (turned 80° about x), tilted 6° about z.
        (
            [5.0, -4.0, 6.0],
            [6.0, -7.0, 4.0],
            [220, 200, 80],
            [0.9, 0.9, 3.0],
            [80.0, 0.0, 6.0],
        ),
    ];
    let mut given: [Option<(String, Volume)>; 4] = Default::default();
    given[1] = Some(("T1Gd on the BraTS grid".into(), volumes[1].clone()));
    let mut truths = [None; 4];
    for (m, (rotation, translation, dims, spacing, axes)) in [0usize, 2, 3].into_iter().zip(moves) {
        let truth = Rigid {
            rotation_deg: rotation,
            translation_mm: translation,
        }
        .to_affine(centre);
        let target = TargetGrid {
            dims,
            world_from_voxel: grid(dims, spacing, axes, truth.apply(centre)),
        };
        given[m] = Some((
            format!("{} re-acquired", Modality::ALL[m].name()),
            acquire(&volumes[m], &target, &truth),
        ));
        truths[m] = Some(truth);
    }
    // The same re-acquired scans brought back with the true motions: what perfect alignment
    // gives (thicker slices lose some detail whatever the alignment).
    let reference_grid = TargetGrid {
        dims: header.dims,
        world_from_voxel: volumes[1].world_from_voxel(),
    };
    let oracle: [Option<(String, Volume)>; 4] = std::array::from_fn(|m| {
        let (name, v) = given[m].as_ref()?;
        let t = truths[m].unwrap_or(Affine::IDENTITY);
        let data = resample(v, &reference_grid, &t, Interpolation::Linear, 0.0).expect("resamples");
        Some((
            name.clone(),
            Volume::new(data, volumes[1].header.clone()).expect("the grid"),
        ))
    });
    let oracle_dice = dice(
        &pipeline,
        &Scans::new(oracle).expect("one grid"),
        &case.labels,
    );
    let scans = Scans::new(given).expect("aligned");
    assert_eq!(scans.reference(), Modality::T1Gd);
    for m in [0usize, 2, 3] {
        let Some(ScanAlignment::Registered(r)) = &scans.alignment().alignments[m] else {
            panic!("{} should be registered", Modality::ALL[m].name());
        };
        let truth = truths[m].expect("a motion");
        let mm = r.max_displacement_mm(&truth);
        let deg = rotation_error_deg(&r.moving_world_from_fixed_world, &truth);
        println!(
            "{}: found {:?}; error {mm:.3} mm, {deg:.3}°",
            Modality::ALL[m].name(),
            r.transform
        );
        assert!(
            mm <= 1.0 && deg <= 1.0,
            "{}: {mm} mm, {deg}°",
            Modality::ALL[m].name()
        );
    }
    let moved_dice = dice(&pipeline, &scans, &case.labels);
    for (((region, one), (_, moved)), (_, perfect)) in
        reference_dice.iter().zip(&moved_dice).zip(&oracle_dice)
    {
        println!(
            "{}: Dice on one grid {one:.4}, re-acquired and registered {moved:.4}, re-acquired \
             and perfectly aligned {perfect:.4}",
            region.name()
        );
        assert!(
            (one - moved).abs() <= 0.03,
            "{}: {one} vs {moved}",
            region.name()
        );
        assert!(
            (perfect - moved).abs() <= 0.01,
            "{}: {perfect} vs {moved}",
            region.name()
        );
    }
}
