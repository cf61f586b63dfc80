//! Reading a BraTS-size `.nii.gz` (the SRI24 T1, 240×240×155 int16), and preprocessing four
//! such volumes (canonical reorientation, brain mask, crop, robust normalisation).

use std::path::Path;

use adamm_volume::preprocess::{preprocess, PreprocessOptions};
use adamm_volume::read_bytes;
use criterion::{criterion_group, criterion_main, Criterion};

fn brats_size_file() -> Vec<u8> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/anatomy/sri24_t1_stripped.nii.gz");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read_nii_gz(c: &mut Criterion) {
    let bytes = brats_size_file();
    let mut group = c.benchmark_group("io");
    group.sample_size(20);
    group.bench_function("read_nii_gz_240x240x155", |b| {
        b.iter(|| read_bytes(std::hint::black_box(&bytes)).expect("readable"))
    });
    group.finish();
}

fn preprocess_case(c: &mut Criterion) {
    let v = read_bytes(&brats_size_file()).expect("readable");
    let mut group = c.benchmark_group("preprocess");
    group.sample_size(20);
    group.bench_function("four_modalities_240x240x155", |b| {
        b.iter(|| {
            preprocess(
                [Some(&v), Some(&v), Some(&v), Some(&v)],
                PreprocessOptions::default(),
            )
            .expect("valid")
        })
    });
    group.finish();
}

criterion_group!(benches, read_nii_gz, preprocess_case);
criterion_main!(benches);
