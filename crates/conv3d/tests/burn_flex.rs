//! `adamm_conv3d::conv3d` against Burn's own `conv3d` on the flex device: forward, and under
//! autodiff the gradients of input, weight and bias; plus the fallback decision.

mod common;

use adamm_conv3d::{conv3d, uses_fast_path, Conv3dOps};
use burn::backend::Dispatch;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};
use common::random_values;
use proptest::prelude::*;

const TOLERANCE: f32 = 1e-4;

fn tensor<const D: usize>(shape: [usize; D], seed: u64, device: &Device) -> Tensor<D> {
    let n = shape.iter().product();
    Tensor::from_data(TensorData::new(random_values(n, seed), shape), device)
}

fn values<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
    t.to_data().try_to_vec::<f32>().expect("f32 tensor")
}

/// Largest difference relative to the largest magnitude of `expected`.
fn relative_error(actual: &[f32], expected: &[f32]) -> f32 {
    assert_eq!(actual.len(), expected.len(), "shapes differ");
    let scale = expected
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()))
        .max(1e-30);
    actual
        .iter()
        .zip(expected)
        .map(|(a, e)| (a - e).abs() / scale)
        .fold(0.0, f32::max)
}

#[derive(Debug, Clone)]
struct Case {
    batch: usize,
    ci: usize,
    co: usize,
    input: [usize; 3],
    kernel: usize,
    stride: usize,
    bias: bool,
}

impl Case {
    fn options(&self) -> ConvOptions<3> {
        ConvOptions::new([self.stride; 3], [self.kernel / 2; 3], [1; 3], 1)
    }
}

/// Runs `conv` on one case under autodiff; returns output, dx, dw, db.
fn run(
    case: &Case,
    conv: fn(Tensor<5>, Tensor<5>, Option<Tensor<1>>, ConvOptions<3>) -> Tensor<5>,
) -> [Vec<f32>; 4] {
    let device = Device::flex().autodiff();
    let [d, h, w] = case.input;
    let x = tensor([case.batch, case.ci, d, h, w], 1, &device).require_grad();
    let k = case.kernel;
    let weight = tensor([case.co, case.ci, k, k, k], 2, &device).require_grad();
    let bias = case
        .bias
        .then(|| tensor([case.co], 3, &device).require_grad());
    assert!(uses_fast_path(&x, &weight, bias.as_ref(), &case.options()));
    let y = conv(x.clone(), weight.clone(), bias.clone(), case.options());
    let r = tensor(y.dims(), 4, &device);
    let grads = (y.clone() * r).sum().backward();
    let grad = |t: &Tensor<5>| values(&t.grad(&grads).expect("gradient"));
    let db = bias.map_or_else(Vec::new, |b| {
        values(&b.grad(&grads).expect("bias gradient"))
    });
    [values(&y), grad(&x), grad(&weight), db]
}

fn compare(case: &Case) -> Result<(), String> {
    let ours = run(case, conv3d);
    let burn = run(case, burn::tensor::module::conv3d);
    for ((what, a), e) in [
        "output",
        "input gradient",
        "weight gradient",
        "bias gradient",
    ]
    .iter()
    .zip(&ours)
    .zip(&burn)
    {
        let err = relative_error(a, e);
        if err.is_nan() || err > TOLERANCE {
            return Err(format!("{what}: relative error {err:e} on {case:?}"));
        }
    }
    Ok(())
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (
        1usize..=128,
        1usize..=128,
        1usize..=2,
        any::<bool>(),
        1usize..=2,
        any::<bool>(),
    )
        .prop_flat_map(|(ci, co, batch, k3, stride, bias)| {
            let kernel = if k3 { 3 } else { 1 };
            let budget = 2_000_000 / (batch * ci * co * kernel * kernel * kernel);
            let max_side = (((budget as f64).cbrt() as usize).max(1) * stride).clamp(1, 12);
            let side = 1usize..=max_side;
            (
                Just((ci, co, batch, kernel, stride, bias)),
                [side.clone(), side.clone(), side],
            )
        })
        .prop_map(|((ci, co, batch, kernel, stride, bias), input)| Case {
            batch,
            ci,
            co,
            input,
            kernel,
            stride,
            bias,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Output and the three gradients equal Burn's flex conv3d within 1e-4 on random shapes.
    #[test]
    fn random_shapes_equal_burn_flex(case in case_strategy()) {
        prop_assert!(compare(&case).is_ok(), "{:?}", compare(&case));
    }
}

/// The network's layer kinds at sizes where tiles split rows and threads share the work.
#[test]
fn network_layers_equal_burn_flex() {
    let cases = [
        Case {
            batch: 1,
            ci: 16,
            co: 16,
            input: [20, 19, 18],
            kernel: 3,
            stride: 1,
            bias: true,
        },
        Case {
            batch: 2,
            ci: 8,
            co: 16,
            input: [17, 16, 15],
            kernel: 3,
            stride: 2,
            bias: true,
        },
        Case {
            batch: 1,
            ci: 32,
            co: 4,
            input: [9, 10, 11],
            kernel: 1,
            stride: 1,
            bias: false,
        },
    ];
    for case in &cases {
        compare(case).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// Without autodiff (inference) the fast path is taken and equals Burn.
#[test]
fn inference_on_flex_takes_the_fast_path_and_equals_burn() {
    let device = Device::flex();
    let x = tensor([1, 5, 9, 8, 7], 1, &device);
    let w = tensor([6, 5, 3, 3, 3], 2, &device);
    let b = tensor([6], 3, &device);
    let options = ConvOptions::new([2; 3], [1; 3], [1; 3], 1);
    assert!(uses_fast_path(&x, &w, Some(&b), &options));
    let ours = conv3d(x.clone(), w.clone(), Some(b.clone()), options.clone());
    let burn = burn::tensor::module::conv3d(x, w, Some(b), options);
    assert_eq!(ours.dims(), burn.dims());
    let err = relative_error(&values(&ours), &values(&burn));
    assert!(err <= TOLERANCE, "relative error {err:e}");
}

/// Dilation, groups and asymmetric padding are not this crate's: `conv3d` hands them to Burn,
/// and the extension's own methods fall back to Burn when called with them directly.
#[test]
fn unsupported_configurations_fall_back_to_burn() {
    let device = Device::flex();
    let x = tensor([1, 4, 9, 9, 9], 1, &device);
    let w = tensor([4, 4, 3, 3, 3], 2, &device);
    let grouped_w = tensor([4, 2, 3, 3, 3], 2, &device);
    let dilated = ConvOptions::new([1; 3], [2; 3], [2; 3], 1);
    let grouped = ConvOptions::new([1; 3], [1; 3], [1; 3], 2);
    let asymmetric = ConvOptions::new_with_padding([1; 3], [(1, 0), (1, 1), (1, 1)], [1; 3], 1);
    assert!(!uses_fast_path(&x, &w, None, &dilated));
    assert!(!uses_fast_path(&x, &grouped_w, None, &grouped));
    assert!(!uses_fast_path(&x, &w, None, &asymmetric));
    assert!(uses_fast_path(
        &x,
        &w,
        None,
        &ConvOptions::new([1; 3], [1; 3], [1; 3], 1)
    ));

    for (weight, options) in [(w.clone(), dilated), (grouped_w, grouped)] {
        let expected =
            burn::tensor::module::conv3d(x.clone(), weight.clone(), None, options.clone());
        let ours = conv3d(x.clone(), weight.clone(), None, options.clone());
        assert_eq!(values(&ours), values(&expected));
        // The extension itself, bypassing `conv3d`'s decision.
        let direct = Tensor::<5>::from_dispatch(Dispatch::fast_conv3d(
            x.clone().into_dispatch(),
            weight.into_dispatch(),
            options,
        ));
        assert_eq!(values(&direct), values(&expected));
    }
}

/// Only some inputs need gradients (a constant input, a frozen weight): the others get none,
/// and the ones asked for still equal Burn's.
#[test]
fn partial_gradients_equal_burn() {
    let device = Device::flex().autodiff();
    let options = ConvOptions::new([1; 3], [1; 3], [1; 3], 1);
    for x_needs_grad in [false, true] {
        let run =
            |conv: fn(Tensor<5>, Tensor<5>, Option<Tensor<1>>, ConvOptions<3>) -> Tensor<5>| {
                let x = tensor([2, 3, 6, 5, 4], 1, &device);
                let x = if x_needs_grad { x.require_grad() } else { x };
                let w = tensor([4, 3, 3, 3, 3], 2, &device);
                let w = if x_needs_grad { w } else { w.require_grad() };
                let y = conv(x.clone(), w.clone(), None, options.clone());
                let grads = (y.clone() * tensor(y.dims(), 5, &device)).sum().backward();
                (
                    x.grad(&grads).map(|g| values(&g)),
                    w.grad(&grads).map(|g| values(&g)),
                )
            };
        let (ours, burn) = (run(conv3d), run(burn::tensor::module::conv3d));
        assert_eq!(ours.0.is_some(), x_needs_grad);
        assert_eq!(ours.1.is_some(), !x_needs_grad);
        let (a, e) = if x_needs_grad {
            (ours.0, burn.0)
        } else {
            (ours.1, burn.1)
        };
        let err = relative_error(&a.expect("gradient"), &e.expect("gradient"));
        assert!(err <= TOLERANCE, "relative error {err:e}");
    }
}
