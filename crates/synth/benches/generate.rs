//! Time to generate one full 240 × 240 × 155 synthetic case on one core, and to write it as
//! five `.nii.gz` files; and to generate one synthetic whole head for brain extraction. The
//! anatomy is loaded once, outside the measurement, as `adamm synth` does.

use std::hint::black_box;
use std::time::Duration;

use adamm_synth::{case_id, case_seed, generate, generate_head, Anatomy, HeadAnatomy, HeadOptions};
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

/// One synthetic whole head (`adamm_synth::head`, 96 × 112 × 96 at 2 mm) on the SRI24 head.
fn bench_head(c: &mut Criterion) {
    let head = match HeadAnatomy::load(&HeadAnatomy::default_dir(), "sri24") {
        Ok(h) => h,
        Err(e) => panic!("the shipped head must load: {e}"),
    };
    let options = HeadOptions::default();
    let mut group = c.benchmark_group("synth");
    group.sample_size(20);
    let mut index = 0u64;
    group.bench_function("generate_head_96x112x96", |b| {
        b.iter(|| {
            index += 1;
            black_box(generate_head(&head, case_seed(2, index), &options))
        })
    });
    group.finish();
}

criterion_group!(benches, bench_generate, bench_head);
criterion_main!(benches);
