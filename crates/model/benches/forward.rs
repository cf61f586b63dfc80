//! Forward pass of the light and paper students on one 128³ window, on each CPU backend
//! Burn 0.22 offers here (flex, ndarray) and on flex with Burn's own conv3d instead of
//! adamm-conv3d's kernels, with all four modalities and with a partial combination; and of the
//! light student on a 96³ window (its browser window) on flex.
//! Run with `cargo bench -p adamm-model --bench forward [-- filter]`; the ndarray cases take
//! about an hour (the paper network needs 80–100 s per forward there).

use std::time::Duration;

use adamm_model::burn::module::Module;
use adamm_model::burn::tensor::{Device, Tensor, TensorData};
use adamm_model::{AdammConfig, Student};
use adamm_volume::brats::Availability;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

#[global_allocator]
static ALLOCATOR: adamm_model::alloc::Jemalloc = adamm_model::alloc::Jemalloc;

const SIDE: usize = 128;

fn input(device: &Device, side: usize) -> Tensor<5> {
    let n = 4 * side * side * side;
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    let data: Vec<f32> = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    Tensor::from_data(TensorData::new(data, [1, 4, side, side, side]), device)
}

/// The CPU backends, and whether the network's convolutions run on adamm-conv3d's kernels
/// (flex only; `flex-burn-conv3d` is flex with Burn's own conv3d, as before those kernels).
#[allow(deprecated)] // ndarray is deprecated in Burn 0.22 but still a CPU backend here
fn backends() -> Vec<(&'static str, Device, bool)> {
    vec![
        ("flex", Device::flex(), true),
        ("flex-burn-conv3d", Device::flex(), false),
        ("ndarray", Device::ndarray(), true),
    ]
}

fn forward(c: &mut Criterion) {
    let mut group = c.benchmark_group("forward_128");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(1));
    group.measurement_time(Duration::from_secs(20));
    for (preset, config) in [
        ("light", AdammConfig::light()),
        ("paper", AdammConfig::paper()),
    ] {
        for (backend, device, fast) in backends() {
            let student: Student = match config.init_student(&device) {
                Ok(s) => s.valid(),
                Err(e) => panic!("{e}"),
            };
            let x = input(&device, SIDE);
            for (combo, code) in [("full", "1111"), ("partial", "1010")] {
                let a = match Availability::parse(code) {
                    Ok(a) => a,
                    Err(e) => panic!("{e}"),
                };
                let id = BenchmarkId::new(format!("{preset}/{backend}"), combo);
                group.bench_with_input(id, &a, |b, &a| {
                    adamm_conv3d::set_enabled(fast);
                    b.iter(|| {
                        let out = student.forward(x.clone(), a);
                        // Read back so lazy backends finish the work inside the timing.
                        out.probabilities.into_data()
                    })
                });
            }
        }
    }
    group.finish();
}

/// The light preset on the window the browser uses (96³), on the default CPU backend.
fn forward_light_96(c: &mut Criterion) {
    let mut group = c.benchmark_group("forward_96");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(1));
    group.measurement_time(Duration::from_secs(20));
    let device = adamm_model::default_cpu_device();
    let student = match AdammConfig::light().init_student(&device) {
        Ok(s) => s.valid(),
        Err(e) => panic!("{e}"),
    };
    let x = input(&device, 96);
    for (combo, a) in [
        ("full", Availability::FULL),
        (
            "partial",
            Availability::from_present([true, false, true, false]),
        ),
    ] {
        group.bench_with_input(BenchmarkId::new("light/flex", combo), &a, |b, &a| {
            b.iter(|| student.forward(x.clone(), a).probabilities.into_data())
        });
    }
    group.finish();
}

criterion_group!(benches, forward, forward_light_96);
criterion_main!(benches);
