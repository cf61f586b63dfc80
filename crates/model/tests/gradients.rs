//! Gradients reach the right parameters; GARM and every loss term are finite and
//! differentiable.

mod common;

use adamm_model::burn::tensor::{Device, Tensor};
use adamm_model::{
    loss, mask_modalities, GarmConfig, LossConfig, StyleDiscriminatorConfig, Targets,
};
use adamm_volume::brats::Availability;
use common::{input, tiny, values, GradientMass};

const SIDE: usize = 16;

fn labels(seed: u64) -> Vec<u8> {
    // A blob of each class in a 16³ patch.
    let mut out = vec![0u8; SIDE * SIDE * SIDE];
    for z in 0..SIDE {
        for y in 0..SIDE {
            for x in 0..SIDE {
                let r2 = (x as i64 - 8).pow(2) + (y as i64 - 8).pow(2) + (z as i64 - 8).pow(2);
                let i = x + SIDE * (y + SIDE * z);
                out[i] = if r2 < 6 {
                    3
                } else if r2 < 14 {
                    1
                } else if r2 < 30 + (seed as i64 % 3) {
                    2
                } else {
                    0
                };
            }
        }
    }
    out
}

#[test]
fn gradients_reach_the_sampled_entry_only() {
    let device = Device::flex().autodiff();
    let student = tiny().init_student(&device).unwrap();
    let code = Availability::parse("0110").unwrap();
    let x = mask_modalities(input([1, 4, SIDE, SIDE, SIDE], 7, &device), code);
    let out = student.forward(x, code);
    let grads = out.probabilities.mean().backward();

    let own = student.bank.index_of(code).unwrap();
    for (i, entry) in student.bank.entries.iter().enumerate() {
        let g = GradientMass::of(entry, &grads);
        if i == own {
            assert_eq!(
                g.with_grad, g.params,
                "every parameter of the own entry gets a gradient"
            );
            assert!(
                g.finite && g.mass > 0.0,
                "own entry gradient is zero or not finite"
            );
        } else {
            assert_eq!(g.with_grad, 0, "entry {i} got a gradient");
        }
    }
    let garm = GradientMass::of(&student.garm, &grads);
    assert!(garm.with_grad > 0 && garm.finite && garm.mass > 0.0);
    let backbone = GradientMass::of(&student.backbone, &grads);
    assert!(backbone.finite && backbone.mass > 0.0);
}

#[test]
fn code_1111_sends_no_gradient_to_the_bank_or_garm() {
    let device = Device::flex().autodiff();
    let student = tiny().init_student(&device).unwrap();
    let x = input([1, 4, SIDE, SIDE, SIDE], 8, &device);
    let grads = student
        .forward(x, Availability::FULL)
        .probabilities
        .mean()
        .backward();
    assert_eq!(GradientMass::of(&student.bank, &grads).with_grad, 0);
    assert_eq!(GradientMass::of(&student.garm, &grads).with_grad, 0);
    assert!(GradientMass::of(&student.backbone, &grads).mass > 0.0);
}

#[test]
fn garm_is_finite_and_differentiable() {
    let device = Device::flex().autodiff();
    let garm = GarmConfig::new(32).with_nodes(8).init(&device);
    let specific = input([2, 32, 4, 4, 2], 9, &device).require_grad();
    let generic = input([2, 32, 4, 4, 2], 10, &device).require_grad();
    let out = garm.forward(specific.clone(), generic.clone());
    assert_eq!(out.dims(), [2, 32, 4, 4, 2]);
    let v = values(out.clone());
    assert!(v.iter().all(|x| x.is_finite()));
    let grads = out.square().mean().backward();
    for t in [specific, generic] {
        let g = values(t.grad(&grads).expect("input gradient"));
        assert!(g.iter().all(|x| x.is_finite()));
        assert!(g.iter().any(|x| *x != 0.0));
    }
    let m = GradientMass::of(&garm.specific_projection, &grads);
    assert_eq!(
        m.with_grad, 2,
        "anchors and bandwidths of the specific graph get gradients"
    );
    assert!(m.finite && m.mass > 0.0);
    let m = GradientMass::of(&garm.generic_projection, &grads);
    assert_eq!(m.with_grad, 2);
    assert!(m.finite && m.mass > 0.0);
    for (name, m) in [
        ("exchange", GradientMass::of(&garm.exchange, &grads)),
        ("attention", GradientMass::of(&garm.attention, &grads)),
        (
            "specific_conv",
            GradientMass::of(&garm.specific_conv, &grads),
        ),
    ] {
        assert!(m.finite && m.mass > 0.0, "{name} got no gradient");
    }
}

/// Runs teacher + student + discriminator once and returns the chosen term (fresh graph).
fn term(which: &str) -> (f32, f64, bool) {
    let device = Device::flex().autodiff();
    // Three levels, so that a 32³ patch gives the 8³ style maps the discriminator needs.
    let config = tiny().with_depth(3).with_blocks_per_level(vec![1, 1, 1]);
    let teacher = config.init_teacher(&device).expect("a valid config");
    let student = config.init_student(&device).expect("a valid config");
    let disc = StyleDiscriminatorConfig::new(config.bottleneck_width())
        .with_base_width(8)
        .init(&device);
    let side = 32;
    let n = side * side * side;
    let lab: Vec<u8> = (0..n)
        .map(|i| {
            let (x, y, z) = (i % side, (i / side) % side, i / (side * side));
            let r2 = (x as i64 - 16).pow(2) + (y as i64 - 15).pow(2) + (z as i64 - 17).pow(2);
            match r2 {
                0..=8 => 3,
                9..=25 => 1,
                26..=80 => 2,
                _ => 0,
            }
        })
        .collect();
    let targets = Targets::from_labels(&[&lab], [side; 3], &device).expect("labels of the patch");
    let code = Availability::parse("1001").expect("a valid code");
    let x = input([1, 4, side, side, side], 11, &device);
    let t = teacher.forward(x.clone());
    let s = student.forward(mask_modalities(x, code), code);
    let cfg = LossConfig::new();
    let terms = cfg.compute(&t, &s, &targets, 5.0, Some(&disc));
    let chosen: Tensor<1> = match which {
        "teacher_dice" => terms.teacher_dice,
        "student_dice" => terms.student_dice,
        "consistency" => terms.consistency,
        "content" => terms.content,
        "style" => terms.style,
        "cross_gram" => terms.cross_gram,
        "teacher_presence" => terms.teacher_presence,
        "student_presence" => terms.student_presence,
        "adversarial" => terms.adversarial,
        "total" => terms.total,
        "discriminator" => loss::discriminator_loss(&disc, t.style, s.style),
        other => panic!("unknown term {other}"),
    };
    let value = values(chosen.clone())[0];
    let grads = chosen.backward();
    let gs = GradientMass::of(&student, &grads);
    let gd = GradientMass::of(&disc, &grads);
    if which == "discriminator" {
        // Only the discriminator learns from its own loss.
        assert_eq!(
            gs.with_grad, 0,
            "the discriminator loss reached the student"
        );
        return (value, gd.mass, gd.finite);
    }
    let gt = GradientMass::of(&teacher, &grads);
    (value, gs.mass + gt.mass, gs.finite && gt.finite)
}

#[test]
fn every_loss_term_is_finite_with_a_gradient() {
    for which in [
        "teacher_dice",
        "student_dice",
        "consistency",
        "content",
        "style",
        "cross_gram",
        "teacher_presence",
        "student_presence",
        "adversarial",
        "discriminator",
        "total",
    ] {
        let (value, mass, finite) = term(which);
        assert!(value.is_finite() && value >= 0.0, "{which} = {value}");
        assert!(finite, "{which}: gradient not finite");
        assert!(mass > 0.0, "{which}: no gradient reached the parameters");
    }
}

#[test]
fn loss_pieces_match_hand_computed_values() {
    let device = Device::flex();
    // Dice of a perfect prediction is 0, of a disjoint one 1.
    let p = Tensor::<2>::from_floats([[1.0, 0.0, 1.0, 0.0]], &device);
    let g = Tensor::<2>::from_floats([[1.0, 0.0, 1.0, 0.0]], &device);
    let d = values(loss::soft_dice(p.clone(), g, 1e-7))[0];
    assert!(d.abs() < 1e-6, "{d}");
    let disjoint = Tensor::<2>::from_floats([[0.0, 1.0, 0.0, 1.0]], &device);
    let d = values(loss::soft_dice(p, disjoint, 1e-7))[0];
    assert!((d - 1.0).abs() < 1e-6, "{d}");
    // BCE with logits at 0 is ln 2 for either label.
    let z = Tensor::<2>::zeros([2, 3], &device);
    let b = values(loss::bce_with_logits(z, 1.0))[0];
    assert!((b - std::f32::consts::LN_2).abs() < 1e-6, "{b}");
    // Presence BCE at logit 0 (p = 0.5) is ln 2; of a confident right answer near 0.
    let half = Tensor::<2>::zeros([1, 3], &device);
    let y = Tensor::<2>::from_floats([[1.0, 0.0, 1.0]], &device);
    let b = values(loss::presence_bce(half, y.clone()))[0];
    assert!((b - std::f32::consts::LN_2).abs() < 1e-6, "{b}");
    let sure = Tensor::<2>::from_floats([[7.0, -7.0, 7.0]], &device);
    assert!(values(loss::presence_bce(sure, y.clone()))[0] < 0.002);
    // Saturated and wrong: BCE equals the logit's size, and the gradient stays finite
    // ((sigmoid(z) − y) / n), where the probability form would give NaN.
    let ad = Device::flex().autodiff();
    let wrong = Tensor::<2>::from_floats([[-100.0, 100.0, -100.0]], &ad).require_grad();
    let b = loss::presence_bce(wrong.clone(), Tensor::from_floats([[1.0, 0.0, 1.0]], &ad));
    assert!((values(b.clone())[0] - 100.0).abs() < 1e-3);
    let g = values(wrong.grad(&b.backward()).unwrap());
    for (gi, want) in g.iter().zip([-1.0 / 3.0, 1.0 / 3.0, -1.0 / 3.0]) {
        assert!((gi - want).abs() < 1e-6, "{g:?}");
    }
    // The consistency ramp: 10·exp(−5) at epoch 0, 10 from epoch 20 on.
    let cfg = LossConfig::new();
    assert!((cfg.consistency_weight(0.0) - 10.0 * (-5.0f64).exp()).abs() < 1e-12);
    assert!((cfg.consistency_weight(20.0) - 10.0).abs() < 1e-12);
    assert!((cfg.consistency_weight(100.0) - 10.0).abs() < 1e-12);
    assert!((cfg.consistency_weight(10.0) - 10.0 * (-1.25f64).exp()).abs() < 1e-12);
    // Presence targets from labels.
    let lab = labels(0);
    let t = Targets::from_labels(&[&lab], [SIDE; 3], &device).unwrap();
    assert_eq!(values(t.presence), vec![1.0, 1.0, 1.0]);
    let empty = vec![0u8; SIDE * SIDE * SIDE];
    let t = Targets::from_labels(&[&empty], [SIDE; 3], &device).unwrap();
    assert_eq!(values(t.presence), vec![0.0, 0.0, 0.0]);
    let seg = values(t.segmentation);
    assert_eq!(
        seg.iter().sum::<f32>(),
        (SIDE * SIDE * SIDE) as f32,
        "all background"
    );
    assert!(Targets::from_labels(&[&[7u8; 8]], [2, 2, 2], &device).is_err());
    assert!(Targets::from_labels(&[&[0u8; 7]], [2, 2, 2], &device).is_err());
}
