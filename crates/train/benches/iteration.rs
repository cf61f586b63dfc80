//! One training iteration of the light preset (64³ patches at 2 mm, teacher + student +
//! discriminator, the `adamm train --preset light` recipe) on flex, with the network's
//! convolutions on adamm-conv3d's kernels and on Burn's own conv3d, in one run.
//! Run with `cargo bench -p adamm-train --bench iteration`.

use std::time::Duration;

use adamm_model::burn::tensor::Device;
use adamm_train::cache::TrainingCase;
use adamm_train::{TrainConfig, Trainer};
use criterion::{criterion_group, criterion_main, Criterion};

#[global_allocator]
static ALLOCATOR: adamm_model::alloc::Jemalloc = adamm_model::alloc::Jemalloc;

/// A BraTS case on the 2 mm grid (240×240×155 at 1 mm, coarsened by 2).
const DIMS: [usize; 3] = [120, 120, 78];

/// A head-sized case with a three-region tumour and noisy intensities.
fn case(i: usize) -> TrainingCase {
    let n = DIMS.iter().product();
    let mut labels = vec![0u8; n];
    let mut channels: [Vec<f32>; 4] = Default::default();
    for c in &mut channels {
        c.resize(n, 0.0);
    }
    let centre = [50.0 + 4.0 * i as f64, 60.0, 40.0];
    let mut s = 0x9E37_79B9_7F4A_7C15u64 ^ i as u64;
    for z in 0..DIMS[2] {
        for y in 0..DIMS[1] {
            for x in 0..DIMS[0] {
                let v = x + DIMS[0] * (y + DIMS[1] * z);
                let r = ((x as f64 - centre[0]).powi(2)
                    + (y as f64 - centre[1]).powi(2)
                    + (z as f64 - centre[2]).powi(2))
                .sqrt();
                let l: u8 = match r {
                    r if r < 5.0 => 1,
                    r if r < 9.0 => 3,
                    r if r < 15.0 => 2,
                    _ => 0,
                };
                labels[v] = l;
                for (c, ch) in channels.iter_mut().enumerate() {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    let noise = (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                    ch[v] =
                        [0.0, 1.0, 0.5, 1.5][usize::from(l)] * (c + 1) as f32 * 0.3 + 0.1 * noise;
                }
            }
        }
    }
    TrainingCase {
        id: format!("bench{i}"),
        dims: DIMS,
        channels,
        labels,
    }
}

fn iteration(c: &mut Criterion) {
    let cases: Vec<TrainingCase> = (0..2).map(case).collect();
    let mut group = c.benchmark_group("train_light_iteration");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(1));
    group.measurement_time(Duration::from_secs(40));
    for (name, fast) in [("adamm-conv3d", true), ("burn-conv3d", false)] {
        adamm_conv3d::set_enabled(fast);
        let mut trainer = match Trainer::new(TrainConfig::light(), &[Device::flex()]) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        group.bench_function(name, |b| {
            b.iter(|| match trainer.step(&cases) {
                Ok(log) => log,
                Err(e) => panic!("{e}"),
            })
        });
    }
    adamm_conv3d::set_enabled(true);
    group.finish();
}

criterion_group!(benches, iteration);
criterion_main!(benches);
