//! Benchmark of [`adamm_volume::metrics::mask_metrics`] on a BraTS-sized 240 × 240 × 155
//! volume with a realistic tumour-sized pair of masks (two offset ellipsoids of about
//! 100 000 voxels each, 1 mm isotropic spacing).

use std::hint::black_box;

use adamm_volume::metrics::mask_metrics;
use criterion::{criterion_group, criterion_main, Criterion};

const DIMS: [usize; 3] = [240, 240, 155];

/// Ellipsoid with centre `c` and semi-axes `ax` (in voxels), C order, last axis fastest.
fn ellipsoid(c: [f64; 3], ax: [f64; 3]) -> Vec<bool> {
    let mut m = Vec::with_capacity(DIMS[0] * DIMS[1] * DIMS[2]);
    for x in 0..DIMS[0] {
        for y in 0..DIMS[1] {
            for z in 0..DIMS[2] {
                let p = [x as f64, y as f64, z as f64];
                let r: f64 = (0..3).map(|k| ((p[k] - c[k]) / ax[k]).powi(2)).sum();
                m.push(r <= 1.0);
            }
        }
    }
    m
}

fn bench_metrics(c: &mut Criterion) {
    // 4/3 π · 35 · 30 · 23 ≈ 101 000 voxels and 4/3 π · 33 · 31 · 22 ≈ 94 000 voxels.
    let pred = ellipsoid([120.0, 115.0, 78.0], [35.0, 30.0, 23.0]);
    let truth = ellipsoid([126.0, 111.0, 81.0], [33.0, 31.0, 22.0]);
    c.bench_function("metrics_240x240x155", |b| {
        b.iter(|| {
            mask_metrics(
                black_box(&pred),
                black_box(&truth),
                DIMS,
                black_box([1.0, 1.0, 1.0]),
            )
        })
    });
}

criterion_group!(benches, bench_metrics);
criterion_main!(benches);
