//! Time to generate one full 240 × 240 × 155 synthetic case on one core, and to write it as
//! five `.nii.gz` files. The anatomy is loaded once, outside the measurement, as `adamm synth`
//! does.

use std::hint::black_box;
use std::time::Duration;

use adamm_synth::{case_id, case_seed, generate, Anatomy};
use adamm_volume::brats::Naming;
use criterion::{criterion_group, criterion_main, Criterion};

fn bench_generate(c: &mut Criterion) {
    let anatomy = match Anatomy::load(&Anatomy::default_dir()) {
        Ok(a) => a,
        Err(e) => panic!("the shipped anatomy must load: {e}"),
    };
    let mut group = c.benchmark_group("synth");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    let mut index = 0u64;
    group.bench_function("generate_case_240x240x155", |b| {
        b.iter(|| {
            index += 1;
            black_box(generate(&anatomy, case_seed(1, index)))
        })
    });
    let case = generate(&anatomy, case_seed(1, 0));
    let dir = std::env::temp_dir().join(format!("adamm-synth-bench-{}", std::process::id()));
    group.bench_function("write_case_nii_gz", |b| {
        b.iter(|| {
            let id = case_id(0, Naming::Brats2023);
            match case.write(anatomy.header(), &dir, &id, Naming::Brats2023) {
                Ok(paths) => black_box(paths),
                Err(e) => panic!("writing to {}: {e}", dir.display()),
            }
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench_generate);
criterion_main!(benches);
