//! The training loop on in-memory tiny cases: a resumed run reaches exactly the state of an
//! uninterrupted one, a run checkpointed on Burn's conv3d resumes on adamm-conv3d's kernels,
//! damaged or foreign checkpoints are refused, and data-parallel training
//! runs on two CPU devices (flex and ndarray) through Burn's multi-device gradients.

use adamm_model::burn::module::Module;
use adamm_model::burn::store::ModuleSnapshot;
use adamm_model::burn::tensor::{Device, Tensor, TensorData};
use adamm_model::{AdammConfig, Student};
use adamm_train::cache::TrainingCase;
use adamm_train::sampler::SamplerConfig;
use adamm_train::{TrainConfig, Trainer};
use adamm_volume::brats::Availability;

const SIDE: usize = 24;

/// The CPU backends' random generator is process-wide: tests that seed it and then draw
/// weights or dropout masks must not interleave.
static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    RNG.lock().unwrap_or_else(|e| e.into_inner())
}

fn case(i: usize) -> TrainingCase {
    let n = SIDE * SIDE * SIDE;
    let mut labels = vec![0u8; n];
    let mut channels: [Vec<f32>; 4] = Default::default();
    for c in &mut channels {
        c.resize(n, 0.0);
    }
    let centre = [10.0 + i as f64, 12.0, 11.0];
    for z in 0..SIDE {
        for y in 0..SIDE {
            for x in 0..SIDE {
                let v = x + SIDE * (y + SIDE * z);
                let r = ((x as f64 - centre[0]).powi(2)
                    + (y as f64 - centre[1]).powi(2)
                    + (z as f64 - centre[2]).powi(2))
                .sqrt();
                let l: u8 = match r {
                    r if r < 2.0 => 1,
                    r if r < 4.0 => 3,
                    r if r < 7.0 => 2,
                    _ => 0,
                };
                labels[v] = l;
                for (c, ch) in channels.iter_mut().enumerate() {
                    ch[v] = 0.2 * c as f32 + [0.0, 1.0, 0.5, 1.5][usize::from(l)] * (c + 1) as f32;
                }
            }
        }
    }
    TrainingCase {
        id: format!("c{i}"),
        dims: [SIDE; 3],
        channels,
        labels,
    }
}

fn config(distillation: bool) -> TrainConfig {
    TrainConfig {
        network: AdammConfig::new()
            .with_base_width(8)
            .with_depth(3)
            .with_blocks_per_level(vec![1, 1, 1])
            .with_adapter_hidden(4)
            .with_graph_nodes(4)
            .with_empty_code_entry(false),
        sampler: SamplerConfig {
            patch: [16, 16, 16],
            ..SamplerConfig::default()
        },
        iterations: 4,
        adversarial: false,
        distillation,
        validation_window: [24, 24, 24],
        learning_rate: 1e-3,
        ..TrainConfig::default()
    }
}

/// Every parameter and buffer of a network, by path, as raw bytes (bit-exact comparison).
fn params<M: ModuleSnapshot>(module: &M) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = module
        .collect(None, None, false)
        .into_iter()
        .map(|s| {
            let bytes = s.to_bytes().expect("tensor bytes").to_vec();
            (s.name.clone(), bytes)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn forward(student: &Student) -> Vec<f32> {
    let device = Device::flex();
    let x = Tensor::<5>::from_data(
        TensorData::new(
            (0..4 * 16 * 16 * 16)
                .map(|i| (i % 7) as f32 / 7.0)
                .collect::<Vec<_>>(),
            [1, 4, 16, 16, 16],
        ),
        &device,
    );
    let code = Availability::parse("0101").expect("code");
    student
        .clone()
        .valid()
        .to_device(&device)
        .forward(x, code)
        .probabilities
        .into_data()
        .try_into_vec::<f32>()
        .expect("f32")
}

#[test]
fn resumed_training_reaches_the_same_state() {
    let _rng = rng_lock();
    let cases: Vec<TrainingCase> = (0..3).map(case).collect();
    let devices = [Device::flex()];
    let mut straight = Trainer::new(config(true), &devices).expect("trainer");
    let mut losses = Vec::new();
    for _ in 0..4 {
        losses.push(straight.step(&cases).expect("step").terms);
    }

    let dir = tempfile::tempdir().expect("tmp");
    let ckpt = dir.path().join("checkpoint");
    let mut first = Trainer::new(config(true), &devices).expect("trainer");
    let mut resumed_losses = Vec::new();
    for _ in 0..2 {
        resumed_losses.push(first.step(&cases).expect("step").terms);
    }
    first.save_checkpoint(&ckpt).expect("save");
    drop(first);
    let mut second = Trainer::load_checkpoint(config(true), &devices, &ckpt).expect("load");
    assert_eq!(second.iteration(), 2);
    for _ in 0..2 {
        resumed_losses.push(second.step(&cases).expect("step").terms);
    }
    assert_eq!(losses, resumed_losses, "every loss term of every iteration");
    let (pa, pb) = (params(straight.student()), params(second.student()));
    let differing: Vec<String> = pa
        .iter()
        .zip(&pb)
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("{} / {} ({} vs {} bytes)", a.0, b.0, a.1.len(), b.1.len()))
        .collect();
    assert_eq!(pa.len(), pb.len(), "same parameters");
    assert!(
        differing.is_empty(),
        "student parameters differ: {differing:?}"
    );
    assert_eq!(
        params(straight.teacher().expect("teacher")),
        params(second.teacher().expect("teacher"))
    );
    assert_eq!(forward(straight.student()), forward(second.student()));
    // The run did learn something: the loss moved.
    assert_ne!(losses[0][0], losses[3][0]);
}

/// Switches the network's convolutions to Burn's conv3d until dropped (then back to
/// adamm-conv3d's kernels, also when a test fails).
struct BurnConv3d;

impl BurnConv3d {
    fn on() -> BurnConv3d {
        adamm_conv3d::set_enabled(false);
        BurnConv3d
    }
}

impl Drop for BurnConv3d {
    fn drop(&mut self) {
        adamm_conv3d::set_enabled(true);
    }
}

/// A run checkpointed while the convolutions ran on Burn's conv3d (every run before
/// adamm-conv3d) resumes on adamm-conv3d's kernels and goes on as the run would have on
/// Burn's: the same iteration, and loss terms and outputs equal up to rounding.
#[test]
fn a_run_checkpointed_on_burns_conv3d_resumes_on_the_fast_kernels() {
    let _rng = rng_lock();
    let cases: Vec<TrainingCase> = (0..3).map(case).collect();
    let devices = [Device::flex()];
    let dir = tempfile::tempdir().expect("tmp");
    let ckpt = dir.path().join("checkpoint");
    let (losses, reference) = {
        let _burn = BurnConv3d::on();
        let mut straight = Trainer::new(config(true), &devices).expect("trainer");
        let losses: Vec<[f64; 12]> = (0..4)
            .map(|_| straight.step(&cases).expect("step").terms)
            .collect();
        let mut first = Trainer::new(config(true), &devices).expect("trainer");
        for _ in 0..2 {
            first.step(&cases).expect("step");
        }
        first.save_checkpoint(&ckpt).expect("save");
        (losses, forward(straight.student()))
    };
    assert!(adamm_conv3d::enabled());
    let mut second = Trainer::load_checkpoint(config(true), &devices, &ckpt).expect("load");
    assert_eq!(second.iteration(), 2);
    for expected in &losses[2..] {
        let got = second.step(&cases).expect("step").terms;
        for (g, e) in got.iter().zip(expected) {
            assert!(
                (g - e).abs() <= 1e-3 * e.abs().max(1e-3),
                "loss term {g} on the fast kernels, {e} on Burn's"
            );
        }
    }
    assert_eq!(second.iteration(), 4);
    let got = forward(second.student());
    let worst = got
        .iter()
        .zip(&reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-3, "probabilities differ by up to {worst}");
}

#[test]
fn damaged_or_foreign_checkpoints_are_refused() {
    let _rng = rng_lock();
    let cases: Vec<TrainingCase> = (0..2).map(case).collect();
    let devices = [Device::flex()];
    let dir = tempfile::tempdir().expect("tmp");
    let ckpt = dir.path().join("checkpoint");
    let mut t = Trainer::new(config(false), &devices).expect("trainer");
    t.step(&cases).expect("step");
    t.save_checkpoint(&ckpt).expect("save");

    let other = TrainConfig {
        seed: 7,
        ..config(false)
    };
    let err = Trainer::load_checkpoint(other, &devices, &ckpt)
        .err()
        .expect("foreign config");
    assert!(err.to_string().contains("another configuration"), "{err}");

    let state = ckpt.join("state.json");
    std::fs::write(&state, "{").expect("write");
    let err = Trainer::load_checkpoint(config(false), &devices, &ckpt)
        .err()
        .expect("broken state");
    assert!(err.to_string().contains("state.json"), "{err}");

    std::fs::remove_dir_all(&ckpt).expect("rm");
    let err = Trainer::load_checkpoint(config(false), &devices, &ckpt)
        .err()
        .expect("missing");
    assert!(err.to_string().contains("cannot resume"), "{err}");
}

#[test]
// ndarray is deprecated in favour of flex, but it is the only second CPU device Burn offers.
#[allow(deprecated)]
fn data_parallel_training_on_two_cpu_devices() {
    let _rng = rng_lock();
    let cases: Vec<TrainingCase> = (0..3).map(case).collect();
    let devices = [Device::flex(), Device::ndarray()];
    let mut t = Trainer::new(config(true), &devices).expect("trainer");
    let before = forward(t.student());
    let log = t.step(&cases).expect("step");
    assert!(log.terms.iter().all(|v| v.is_finite()), "{:?}", log.terms);
    let after = forward(t.student());
    assert_ne!(before, after, "the step changed the student");
    t.step(&cases)
        .expect("a second step from parameters updated across devices");
    let (v, _) = t.validate(&cases[..1]).expect("validate");
    assert!((0.0..=1.0).contains(&v.score));
}
