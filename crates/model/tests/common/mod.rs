//! Helpers shared by the integration tests.
#![allow(dead_code)]

use adamm_model::burn::module::{Module, ModuleVisitor, Param};
use adamm_model::burn::tensor::{Device, Gradients, Tensor, TensorData};
use adamm_model::AdammConfig;

/// A tiny network: width 8, four levels, one block per level, small adapters and graph.
pub fn tiny() -> AdammConfig {
    AdammConfig::new()
        .with_base_width(8)
        .with_blocks_per_level(vec![1, 1, 1, 1])
        .with_adapter_hidden(8)
        .with_graph_nodes(4)
}

/// The same, without dropout (deterministic training-mode forwards).
pub fn tiny_no_dropout() -> AdammConfig {
    tiny().with_dropout(0.0)
}

/// Deterministic pseudo-random values in [-1, 1) (independent of the backend's RNG).
pub fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// A `[b, c, d, h, w]` tensor of [`noise`].
pub fn input(shape: [usize; 5], seed: u64, device: &Device) -> Tensor<5> {
    let n = shape.iter().product();
    Tensor::from_data(TensorData::new(noise(n, seed), shape), device)
}

/// The values of a tensor as f32.
pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .expect("f32 data")
}

/// Largest absolute element-wise difference.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Sums |gradient| over every float parameter of a module; counts parameters with a gradient.
pub struct GradientMass<'a> {
    pub grads: &'a Gradients,
    pub with_grad: usize,
    pub params: usize,
    pub mass: f64,
    pub finite: bool,
}

impl<'a> GradientMass<'a> {
    pub fn of<M: Module>(module: &M, grads: &'a Gradients) -> GradientMass<'a> {
        let mut v = GradientMass {
            grads,
            with_grad: 0,
            params: 0,
            mass: 0.0,
            finite: true,
        };
        module.visit(&mut v);
        v
    }
}

impl ModuleVisitor for GradientMass<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.params += 1;
        if let Some(g) = param.val().grad(self.grads) {
            self.with_grad += 1;
            let vals = values(g);
            self.finite &= vals.iter().all(|v| v.is_finite());
            self.mass += vals.iter().map(|v| f64::from(v.abs())).sum::<f64>();
        }
    }
}

/// Polls a future to completion on this thread (the flex backend never parks).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}
