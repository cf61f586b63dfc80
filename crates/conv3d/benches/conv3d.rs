//! This crate's conv3d beside Burn's flex conv3d, on the same inputs, for the four layers of
//! the crate's speed table (3×3×3, stride 1, padding 1, batch 1, with bias; `pytorch_conv3d.py`
//! runs PyTorch on the same layers):
//! 16→16 at 128³, 32→32 at 64³, 64→64 at 32³, 128→128 at 16³.
//!
//! `forward`: `y = conv(x, w) + b` through each backend op (`<Flex as Conv3dOps>::fast_conv3d_bias`
//! against `<Flex as ModuleOps>::conv3d`). `backward`: what one autodiff backward step runs,
//! the input, weight and bias gradients from `dy` (this crate's kernels against
//! `conv3d_x_backward` + `conv3d_weight_backward` + `conv3d_bias_backward`, Burn's defaults that
//! flex uses). Throughput is in multiply-adds.
//!
//! `cargo bench -p adamm-conv3d --bench conv3d -- --sample-size 10 [filter]`; medians are in
//! `target/criterion/<group>/<id>/new/estimates.json`.

use std::time::Duration;

use adamm_conv3d::{
    conv3d_bias_grad, conv3d_input_grad, conv3d_weight_grad, Conv3dGeometry, Conv3dOps,
};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::ModuleOps;
use burn::backend::Flex;
use burn::tensor::ops::ConvOptions;
use burn::tensor::TensorData;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// (channels, side) of the four layers.
const LAYERS: [(usize, usize); 4] = [(16, 128), (32, 64), (64, 32), (128, 16)];

fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

struct Layer {
    name: String,
    geometry: Conv3dGeometry,
    options: ConvOptions<3>,
    x: Vec<f32>,
    w: Vec<f32>,
    b: Vec<f32>,
    dy: Vec<f32>,
}

impl Layer {
    fn new(channels: usize, side: usize) -> Self {
        let geometry =
            Conv3dGeometry::new(1, channels, channels, [side; 3], [3; 3], [1; 3], [1; 3])
                .expect("valid layer");
        Layer {
            name: format!("{channels}to{channels}_{side}cubed"),
            options: ConvOptions::new([1; 3], [1; 3], [1; 3], 1),
            x: values(geometry.input_len(), 1),
            w: values(geometry.weight_len(), 2),
            b: values(channels, 3),
            dy: values(geometry.output_len(), 4),
            geometry,
        }
    }

    fn flex(&self, values: &[f32], shape: [usize; 5]) -> FlexTensor {
        FlexTensor::from_data(TensorData::new(values.to_vec(), shape))
    }

    fn tensors(&self) -> (FlexTensor, FlexTensor, FlexTensor, FlexTensor) {
        let g = &self.geometry;
        let (c, co) = (g.channels_in(), g.channels_out());
        let [d, h, w] = g.input();
        let [od, oh, ow] = g.output();
        let [kd, kh, kw] = g.kernel();
        (
            self.flex(&self.x, [1, c, d, h, w]),
            self.flex(&self.w, [co, c, kd, kh, kw]),
            FlexTensor::from_data(TensorData::new(self.b.clone(), [co])),
            self.flex(&self.dy, [1, co, od, oh, ow]),
        )
    }
}

fn forward(c: &mut Criterion) {
    let mut group = c.benchmark_group("conv3d_forward");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    for (channels, side) in LAYERS {
        let layer = Layer::new(channels, side);
        let (x, w, b, _) = layer.tensors();
        group.throughput(Throughput::Elements(layer.geometry.multiply_adds()));
        group.bench_function(BenchmarkId::new("adamm", &layer.name), |bench| {
            bench.iter(|| {
                <Flex as Conv3dOps>::fast_conv3d_bias(
                    x.clone(),
                    w.clone(),
                    b.clone(),
                    layer.options.clone(),
                )
            })
        });
        group.bench_function(BenchmarkId::new("burn_flex", &layer.name), |bench| {
            bench.iter(|| {
                <Flex as ModuleOps<Flex>>::conv3d(
                    x.clone(),
                    w.clone(),
                    Some(b.clone()),
                    layer.options.clone(),
                )
            })
        });
    }
    group.finish();
}

fn backward(c: &mut Criterion) {
    let mut group = c.benchmark_group("conv3d_backward");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    for (channels, side) in LAYERS {
        let layer = Layer::new(channels, side);
        let g = layer.geometry;
        let (x, w, b, dy) = layer.tensors();
        // Both gradients of one backward step: twice the forward's multiply-adds.
        group.throughput(Throughput::Elements(2 * g.multiply_adds()));
        group.bench_function(BenchmarkId::new("adamm", &layer.name), |bench| {
            bench.iter(|| {
                let mut dx = vec![0.0f32; g.input_len()];
                let mut dw = vec![0.0f32; g.weight_len()];
                let mut db = vec![0.0f32; g.channels_out()];
                conv3d_input_grad(&g, &layer.w, &layer.dy, &mut dx).expect("input gradient");
                conv3d_weight_grad(&g, &layer.x, &layer.dy, &mut dw).expect("weight gradient");
                conv3d_bias_grad(&g, &layer.dy, &mut db).expect("bias gradient");
                (dx, dw, db)
            })
        });
        group.bench_function(BenchmarkId::new("burn_flex", &layer.name), |bench| {
            bench.iter(|| {
                let o = layer.options.clone();
                let dx = <Flex as ModuleOps<Flex>>::conv3d_x_backward(
                    x.clone(),
                    w.clone(),
                    dy.clone(),
                    o.clone(),
                );
                let dw = <Flex as ModuleOps<Flex>>::conv3d_weight_backward(
                    x.clone(),
                    w.clone(),
                    dy.clone(),
                    o,
                );
                let db = <Flex as ModuleOps<Flex>>::conv3d_bias_backward(
                    x.clone(),
                    b.clone(),
                    dy.clone(),
                );
                (dx, dw, db)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, forward, backward);
criterion_main!(benches);
