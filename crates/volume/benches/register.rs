//! Benchmark of [`adamm_volume::register_rigid`] on two BraTS-sized scans of the procedural
//! head of `tests/support/phantom.rs`: a T1Gd on 240 × 240 × 155 voxels of 1 mm (LAS) and a
//! FLAIR of the head moved by 3°, −4°, 5° and 5, −6, 4 mm on 240 × 240 × 31 slices of
//! 1 × 1 × 5 mm, slightly oblique; default options (8, 4, 2 mm levels). Building the scans is
//! not timed.

#[path = "../tests/support/phantom.rs"]
mod phantom;

use std::hint::black_box;

use adamm_volume::{register_rigid, Affine, RegistrationOptions, Rigid};
use criterion::{criterion_group, criterion_main, Criterion};
use phantom::{grid_affine, scan, Contrast, Imaging, HEAD_CENTRE};

fn bench_register(c: &mut Criterion) {
    let las = [[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    let fixed_dims = [240, 240, 155];
    let fixed_affine = grid_affine(fixed_dims, [1.0; 3], las, HEAD_CENTRE);
    let t1 = Imaging {
        contrast: Contrast::T1Gd,
        slice_samples: 1,
        noise: 0.02,
        seed: 1,
    };
    let fixed = scan(fixed_dims, &fixed_affine, &Affine::IDENTITY, t1);

    let truth = Rigid {
        rotation_deg: [3.0, -4.0, 5.0],
        translation_mm: [5.0, -6.0, 4.0],
    }
    .to_affine(HEAD_CENTRE);
    let oblique = Rigid {
        rotation_deg: [6.0, 0.0, 0.0],
        translation_mm: [0.0; 3],
    }
    .rotation_matrix();
    let moving_dims = [240, 240, 31];
    let moving_affine = grid_affine(
        moving_dims,
        [1.0, 1.0, 5.0],
        oblique,
        truth.apply(HEAD_CENTRE),
    );
    let flair = Imaging {
        contrast: Contrast::Flair,
        slice_samples: 5,
        noise: 0.03,
        seed: 2,
    };
    let moving = scan(moving_dims, &moving_affine, &truth, flair);

    let options = RegistrationOptions::default();
    let found = register_rigid(&fixed, &moving, &options).expect("registers");
    eprintln!(
        "register_rigid 240x240x155 vs 240x240x31 (5 mm): {:.3} mm from the true motion at the \
         brain's extent, {} evaluations",
        found.max_displacement_mm(&truth),
        found.evaluations
    );
    let mut group = c.benchmark_group("register");
    group.sample_size(10);
    group.bench_function("rigid_nmi_240x240x155_vs_1x1x5mm", |b| {
        b.iter(|| {
            register_rigid(black_box(&fixed), black_box(&moving), &options).expect("registers")
        })
    });
    group.finish();
}

criterion_group!(benches, bench_register);
criterion_main!(benches);
