//! The network on adamm-conv3d's kernels equals the network on Burn's own conv3d: the student's
//! forward pass and the gradient of every parameter, on flex. Its own test binary, since
//! `adamm_conv3d::set_enabled` switches the kernels for the whole process.

mod common;

use adamm_model::burn::module::{Module, ModuleVisitor, Param};
use adamm_model::burn::tensor::{Device, Gradients, Tensor, TensorData};
use adamm_model::mask_modalities;
use adamm_volume::brats::Availability;
use common::{input, noise, tiny_no_dropout, values};

const SIDE: usize = 24;

/// The gradient of every float parameter, in visiting order (empty where none).
struct AllGradients<'a> {
    grads: &'a Gradients,
    out: Vec<Vec<f32>>,
}

impl ModuleVisitor for AllGradients<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.out
            .push(param.val().grad(self.grads).map(values).unwrap_or_default());
    }
}

/// Probabilities, presence and parameter gradients of one forward and backward pass.
fn run(fast: bool) -> (Vec<f32>, Vec<f32>, Vec<Vec<f32>>) {
    adamm_conv3d::set_enabled(fast);
    let device = Device::flex().autodiff();
    device.seed(11);
    let student = tiny_no_dropout()
        .init_student(&device)
        .expect("the tiny network builds");
    let code = Availability::parse("1101").expect("a combination code");
    let x = mask_modalities(input([1, 4, SIDE, SIDE, SIDE], 3, &device), code);
    let out = student.forward(x, code);
    let shape = out.probabilities.dims();
    let weights = Tensor::<5>::from_data(
        TensorData::new(noise(shape.iter().product(), 5), shape),
        &device,
    );
    let loss = (out.probabilities.clone() * weights).sum() + out.presence.clone().sum();
    let grads = loss.backward();
    let mut visitor = AllGradients {
        grads: &grads,
        out: Vec::new(),
    };
    student.visit(&mut visitor);
    adamm_conv3d::set_enabled(true);
    (values(out.probabilities), values(out.presence), visitor.out)
}

/// Largest |value|.
fn scale(values: &[f32]) -> f32 {
    values.iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

/// Largest element-wise difference over `scale`.
fn max_relative_to(actual: &[f32], expected: &[f32], scale: f32) -> f32 {
    assert_eq!(actual.len(), expected.len());
    actual
        .iter()
        .zip(expected)
        .fold(0.0f32, |m, (a, e)| m.max((a - e).abs()))
        / scale.max(1e-12)
}

#[test]
fn the_student_on_the_fast_kernels_equals_the_student_on_burns_conv3d() {
    let (probabilities, presence, grads) = run(true);
    let (burn_probabilities, burn_presence, burn_grads) = run(false);
    let close = |a: &[f32], b: &[f32]| max_relative_to(a, b, scale(b));
    assert!(close(&probabilities, &burn_probabilities) < 1e-5);
    assert!(close(&presence, &burn_presence) < 1e-5);
    assert_eq!(grads.len(), burn_grads.len());
    let with_gradient = burn_grads.iter().filter(|g| !g.is_empty()).count();
    assert!(
        with_gradient > 50,
        "only {with_gradient} parameters have a gradient"
    );
    // The biases of convolutions followed by a GroupNorm of one channel per group have an
    // analytically zero gradient: both paths give rounding noise there (about 1e-7 of the
    // largest gradient). So each parameter's difference is measured against the larger of its
    // own gradient's scale and 1e-3 of the largest gradient in the network.
    let floor = 1e-3 * burn_grads.iter().map(|g| scale(g)).fold(0.0, f32::max);
    for (i, (g, b)) in grads.iter().zip(&burn_grads).enumerate() {
        assert_eq!(
            g.len(),
            b.len(),
            "parameter {i}: gradient present on one path only"
        );
        if !b.is_empty() {
            let e = max_relative_to(g, b, scale(b).max(floor));
            assert!(e < 1e-3, "parameter {i}: relative gradient difference {e}");
        }
    }
}
