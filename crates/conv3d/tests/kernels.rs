//! The kernels against the naive f64 definition, on random shapes, and a finite-difference
//! check of the gradients.

mod common;

use adamm_conv3d::{
    conv3d_bias_grad, conv3d_forward, conv3d_input_grad, conv3d_weight_grad, Conv3dError,
    Conv3dGeometry,
};
use common::{
    max_relative_error, random_values, reference_forward, reference_input_grad,
    reference_weight_grad,
};
use proptest::prelude::*;

/// Relative tolerance (against each tensor's largest magnitude) for every comparison.
const TOLERANCE: f64 = 1e-4;

struct Results {
    y: Vec<f32>,
    dx: Vec<f32>,
    dw: Vec<f32>,
    db: Vec<f32>,
}

fn run_all(g: &Conv3dGeometry, x: &[f32], w: &[f32], b: &[f32], dy: &[f32]) -> Results {
    let mut y = vec![f32::NAN; g.output_len()];
    conv3d_forward(g, x, w, Some(b), &mut y).expect("forward");
    let mut dx = vec![f32::NAN; g.input_len()];
    conv3d_input_grad(g, w, dy, &mut dx).expect("input gradient");
    let mut dw = vec![f32::NAN; g.weight_len()];
    conv3d_weight_grad(g, x, dy, &mut dw).expect("weight gradient");
    let mut db = vec![f32::NAN; g.channels_out()];
    conv3d_bias_grad(g, dy, &mut db).expect("bias gradient");
    Results { y, dx, dw, db }
}

/// Compares all four kernels with the reference on one geometry.
fn check_against_reference(g: &Conv3dGeometry, seed: u64) -> Result<(), String> {
    let x = random_values(g.input_len(), seed);
    let w = random_values(g.weight_len(), seed + 1);
    let b = random_values(g.channels_out(), seed + 2);
    let dy = random_values(g.output_len(), seed + 3);
    let r = run_all(g, &x, &w, &b, &dy);
    let plane: usize = g.output().iter().product();
    let db_ref: Vec<f64> = (0..g.channels_out())
        .map(|c| {
            (0..g.batch())
                .flat_map(|n| {
                    dy[(n * g.channels_out() + c) * plane..][..plane]
                        .iter()
                        .map(|&v| f64::from(v))
                })
                .sum()
        })
        .collect();
    let checks = [
        (
            "forward",
            max_relative_error(&r.y, &reference_forward(g, &x, &w, Some(&b))),
        ),
        (
            "input gradient",
            max_relative_error(&r.dx, &reference_input_grad(g, &w, &dy)),
        ),
        (
            "weight gradient",
            max_relative_error(&r.dw, &reference_weight_grad(g, &x, &dy)),
        ),
        ("bias gradient", max_relative_error(&r.db, &db_ref)),
    ];
    for (what, err) in checks {
        if err.is_nan() || err > TOLERANCE {
            return Err(format!("{what}: relative error {err:e} on {g:?}"));
        }
    }
    Ok(())
}

/// The network's own layer kinds, one small case each (deterministic, always run).
#[test]
fn network_layer_kinds_match_reference() {
    let cases = [
        // 3×3×3 stride 1 pad 1, the residual blocks
        (1, 8, 8, [7, 6, 5], [3, 3, 3], [1, 1, 1], [1, 1, 1]),
        // 3×3×3 stride 2 pad 1, the down-sampling convolutions (odd and even sizes)
        (2, 4, 8, [9, 8, 7], [3, 3, 3], [2, 2, 2], [1, 1, 1]),
        // 1×1×1, the heads and channel reductions
        (2, 16, 3, [5, 4, 6], [1, 1, 1], [1, 1, 1], [0, 0, 0]),
        // 1×1×1 stride 2 (strided shortcut)
        (1, 5, 7, [7, 6, 5], [1, 1, 1], [2, 2, 2], [0, 0, 0]),
        // deep layers: the packed forward path, with a partial last channel block
        (1, 70, 5, [5, 6, 4], [3, 3, 3], [1, 1, 1], [1, 1, 1]),
        (2, 64, 3, [5, 5, 6], [3, 3, 3], [2, 2, 2], [1, 1, 1]),
        // 4×4×4 stride 2 pad 1, the style discriminator
        (1, 3, 4, [8, 9, 10], [4, 4, 4], [2, 2, 2], [1, 1, 1]),
        // the direct kernel (output channels a multiple of 8): rows of one full vector, of
        // two full vectors and a part (37), channels in several chunks (40), stride 2
        (1, 8, 8, [4, 3, 16], [3, 3, 3], [1, 1, 1], [1, 1, 1]),
        (2, 40, 16, [3, 4, 37], [3, 3, 3], [1, 1, 1], [1, 1, 1]),
        (1, 24, 24, [5, 6, 35], [3, 3, 3], [2, 2, 2], [1, 1, 1]),
        (1, 17, 32, [3, 2, 33], [1, 1, 1], [1, 1, 1], [0, 0, 0]),
    ];
    for (seed, (n, ci, co, input, kernel, stride, padding)) in cases.into_iter().enumerate() {
        let g = Conv3dGeometry::new(n, ci, co, input, kernel, stride, padding).expect("geometry");
        check_against_reference(&g, seed as u64 * 10).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// A geometry whose naive reference stays cheap: channels 1–128, spatial 1–12, both kernels,
/// both strides, batch 1–2; the spatial extent shrinks as the channel product grows.
fn geometry_strategy() -> impl Strategy<Value = Conv3dGeometry> {
    (
        1usize..=128,
        1usize..=128,
        1usize..=2,
        any::<bool>(),
        1usize..=2,
    )
        .prop_flat_map(|(ci, co, batch, k3, stride)| {
            let k = if k3 { 3 } else { 1 };
            // Keep batch·ci·co·k³·out³ under about 4 M multiply-adds.
            let budget = 4_000_000 / (batch * ci * co * k * k * k);
            let max_out = (budget as f64).cbrt().floor() as usize;
            let max_side = (max_out.max(1) * stride).clamp(1, 12);
            let side = 1usize..=max_side;
            (
                Just((ci, co, batch, k, stride)),
                [side.clone(), side.clone(), side],
            )
        })
        .prop_filter_map(
            "kernel larger than padded input",
            |((ci, co, n, k, s), input)| {
                let p = k / 2;
                Conv3dGeometry::new(n, ci, co, input, [k; 3], [s; 3], [p; 3]).ok()
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Forward, input, weight and bias gradients equal the definition within 1e-4 on random
    /// shapes of the kinds the network uses.
    #[test]
    fn random_shapes_match_reference(g in geometry_strategy(), seed in 0u64..1000) {
        prop_assert!(check_against_reference(&g, seed).is_ok(), "{:?}", check_against_reference(&g, seed));
    }

    /// Any kernel 1–4, stride 1–3 and padding 0–kernel per axis (mixed between axes).
    #[test]
    fn general_configurations_match_reference(
        kernel in [1usize..=4, 1usize..=4, 1usize..=4],
        stride in [1usize..=3, 1usize..=3, 1usize..=3],
        pad in [0usize..=4, 0usize..=4, 0usize..=4],
        input in [1usize..=9, 1usize..=9, 1usize..=9],
        ci in 1usize..=6,
        co in 1usize..=6,
        batch in 1usize..=2,
        seed in 0u64..1000,
    ) {
        let padding = [0, 1, 2].map(|a| pad[a].min(kernel[a]));
        if let Ok(g) = Conv3dGeometry::new(batch, ci, co, input, kernel, stride, padding) {
            prop_assert!(check_against_reference(&g, seed).is_ok(), "{:?}", check_against_reference(&g, seed));
        }
    }
}

/// The gradients against central finite differences of `L = Σ y · r` (r fixed, random),
/// computed with the forward kernel itself, in f32 on a tiny case.
#[test]
fn gradients_match_finite_differences() {
    for (kernel, stride, padding) in [(3, 1, 1), (3, 2, 1), (1, 2, 0)] {
        let g = Conv3dGeometry::new(1, 2, 3, [5, 4, 5], [kernel; 3], [stride; 3], [padding; 3])
            .expect("geometry");
        let x = random_values(g.input_len(), 1);
        let w = random_values(g.weight_len(), 2);
        let b = random_values(g.channels_out(), 3);
        let r = random_values(g.output_len(), 4);
        let loss = |x: &[f32], w: &[f32], b: &[f32]| -> f64 {
            let mut y = vec![0.0; g.output_len()];
            conv3d_forward(&g, x, w, Some(b), &mut y).expect("forward");
            y.iter()
                .zip(&r)
                .map(|(&a, &c)| f64::from(a) * f64::from(c))
                .sum()
        };
        let grads = run_all(&g, &x, &w, &b, &r);
        let eps = 1e-2f32;
        let numeric = |values: &[f32], i: usize, which: u8| -> f64 {
            let mut plus = values.to_vec();
            let mut minus = values.to_vec();
            plus[i] += eps;
            minus[i] -= eps;
            let (lp, lm) = match which {
                0 => (loss(&plus, &w, &b), loss(&minus, &w, &b)),
                1 => (loss(&x, &plus, &b), loss(&x, &minus, &b)),
                _ => (loss(&x, &w, &plus), loss(&x, &w, &minus)),
            };
            (lp - lm) / (2.0 * f64::from(eps))
        };
        // The loss is linear in each input, so central differences are exact up to rounding.
        let sets: [(&[f32], &[f32], u8); 3] =
            [(&x, &grads.dx, 0), (&w, &grads.dw, 1), (&b, &grads.db, 2)];
        for (values, analytic, which) in sets {
            for i in (0..values.len()).step_by(7) {
                let fd = numeric(values, i, which);
                let a = f64::from(analytic[i]);
                assert!(
                    (fd - a).abs() <= 2e-3 * (1.0 + a.abs()),
                    "kernel {kernel} stride {stride}: gradient {which} at {i}: analytic {a}, finite difference {fd}"
                );
            }
        }
    }
}

/// Bad geometries and buffers are refused with their own error, never a panic.
#[test]
fn invalid_geometries_and_buffers_are_errors() {
    assert_eq!(
        Conv3dGeometry::new(0, 1, 1, [4; 3], [3; 3], [1; 3], [1; 3]),
        Err(Conv3dError::Zero { what: "batch size" })
    );
    assert_eq!(
        Conv3dGeometry::new(1, 1, 1, [4, 0, 4], [3; 3], [1; 3], [1; 3]),
        Err(Conv3dError::Zero {
            what: "input extent"
        })
    );
    assert_eq!(
        Conv3dGeometry::new(1, 1, 1, [4; 3], [3; 3], [1, 0, 1], [1; 3]),
        Err(Conv3dError::Zero { what: "stride" })
    );
    assert_eq!(
        Conv3dGeometry::new(1, 1, 1, [2, 4, 4], [5, 3, 3], [1; 3], [1; 3]),
        Err(Conv3dError::KernelLargerThanInput {
            axis: 0,
            kernel: 5,
            padded: 4
        })
    );
    assert!(matches!(
        Conv3dGeometry::new(1, usize::MAX / 2, 4, [1 << 20; 3], [3; 3], [1; 3], [1; 3]),
        Err(Conv3dError::TooLarge(_))
    ));
    let g = Conv3dGeometry::new(1, 2, 3, [4; 3], [3; 3], [1; 3], [1; 3]).expect("geometry");
    assert_eq!(g.output(), [4; 3]);
    let x = vec![0.0; g.input_len()];
    let w = vec![0.0; g.weight_len()];
    let mut y = vec![0.0; g.output_len()];
    assert_eq!(
        conv3d_forward(&g, &x[1..], &w, None, &mut y),
        Err(Conv3dError::BufferLength {
            buffer: "input",
            actual: g.input_len() - 1,
            expected: g.input_len()
        })
    );
    assert_eq!(
        conv3d_forward(&g, &x, &w, Some(&[0.0; 2]), &mut y),
        Err(Conv3dError::BufferLength {
            buffer: "bias",
            actual: 2,
            expected: 3
        })
    );
    let mut dx = vec![0.0; g.input_len() + 1];
    assert!(matches!(
        conv3d_input_grad(&g, &w, &y, &mut dx),
        Err(Conv3dError::BufferLength {
            buffer: "input gradient",
            ..
        })
    ));
}

/// Output shape follows `(i + 2p − k) / s + 1`.
#[test]
fn output_extent_follows_the_formula() {
    let g =
        Conv3dGeometry::new(1, 1, 1, [9, 8, 7], [3, 3, 1], [2, 2, 2], [1, 1, 0]).expect("geometry");
    assert_eq!(g.output(), [5, 4, 4]);
    assert_eq!(g.multiply_adds(), (5 * 4 * 4 * 9) as u64);
}
