//! A tiny teacher–student pair overfits one small synthetic patch.

mod common;

use adamm_model::burn::optim::{AdamConfig, GradientsParams};
use adamm_model::burn::tensor::{Device, Tensor, TensorData};
use adamm_model::{mask_modalities, LossConfig, Targets};
use adamm_volume::brats::Availability;
use common::{tiny_no_dropout, values};

const SIDE: usize = 16;

/// A synthetic case: concentric NETC/ET core in SNFH, with modalities that see it.
fn case() -> (Vec<f32>, Vec<u8>) {
    let n = SIDE * SIDE * SIDE;
    let mut labels = vec![0u8; n];
    let mut image = vec![0f32; 4 * n];
    for z in 0..SIDE {
        for y in 0..SIDE {
            for x in 0..SIDE {
                let i = x + SIDE * (y + SIDE * z);
                let r2 = (x as i64 - 7).pow(2) + (y as i64 - 8).pow(2) + (z as i64 - 9).pow(2);
                let l = match r2 {
                    0..=3 => 1,
                    4..=10 => 3,
                    11..=30 => 2,
                    _ => 0,
                };
                labels[i] = l;
                let base = [0.1, -0.2, 0.3, 0.0];
                let gain: [f32; 4] = match l {
                    1 => [0.5, -0.5, 1.0, 0.8],
                    2 => [0.2, 0.1, 1.2, 1.5],
                    3 => [0.4, 1.5, 0.6, 0.7],
                    _ => [0.0; 4],
                };
                for c in 0..4 {
                    image[c * n + i] = base[c] + gain[c];
                }
            }
        }
    }
    (image, labels)
}

#[test]
fn a_tiny_model_overfits_one_patch() {
    let device = Device::flex().autodiff();
    device.seed(17);
    let config = tiny_no_dropout();
    let mut nets = (
        config.init_teacher(&device).unwrap(),
        config.init_student(&device).unwrap(),
    );
    let (image, labels) = case();
    let x = Tensor::<5>::from_data(TensorData::new(image, [1, 4, SIDE, SIDE, SIDE]), &device);
    let targets = Targets::from_labels(&[&labels], [SIDE; 3], &device).unwrap();
    let code = Availability::parse("0011").unwrap();
    let xs = mask_modalities(x.clone(), code);
    let losses = LossConfig::new();
    // A small learning rate: with batch 1 the batch norms over GARM's few graph nodes and the
    // 2³ bottleneck make larger steps unstable once the Dice saturates.
    let mut optim = AdamConfig::new().init();
    let mut first = None;
    let mut last = f32::INFINITY;
    for step in 0..400 {
        let t = nets.0.forward(x.clone());
        let s = nets.1.forward(xs.clone(), code);
        let terms = losses.compute(&t, &s, &targets, 20.0, None);
        let value = values(terms.total.clone())[0];
        assert!(value.is_finite(), "step {step}: loss {value}");
        first.get_or_insert(value);
        last = value;
        if value <= first.unwrap() / 10.0 {
            println!("10× lower after {step} steps");
            break;
        }
        let grads = GradientsParams::from_grads(terms.total.backward(), &nets);
        nets = optim.step(1e-3, nets, grads);
    }
    let first = first.unwrap();
    println!("loss {first:.4} → {last:.4}");
    assert!(
        last <= first / 10.0,
        "loss fell only from {first} to {last}"
    );
}
