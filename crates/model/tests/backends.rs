//! The same weights give the same output on different Burn backends.

mod common;

use adamm_model::burn::module::Module;
use adamm_model::burn::tensor::Device;
use adamm_model::{AdammConfig, Precision, Student};
use adamm_volume::brats::Availability;
use common::{input, max_abs_diff, values};

fn outputs(student: &Student, device: &Device) -> Vec<Vec<f32>> {
    let x = input([1, 4, 32, 32, 32], 90, device);
    ["1111", "0100", "1011"]
        .iter()
        .flat_map(|code| {
            let a = Availability::parse(code).expect("a valid code");
            let out = student
                .valid()
                .forward(adamm_model::mask_modalities(x.clone(), a), a);
            [values(out.probabilities), values(out.presence)]
        })
        .collect()
}

#[test]
#[allow(deprecated)] // ndarray is the second CPU backend Burn 0.22 offers
fn flex_and_ndarray_agree() {
    let config = AdammConfig::light();
    let flex = Device::flex();
    let ndarray = Device::ndarray();
    let student = config.init_student(&flex).unwrap();
    let bytes = student.to_bytes(Precision::F32).unwrap();
    let on_ndarray = Student::from_bytes(&config, &bytes, &ndarray).unwrap();
    let a = outputs(&student, &flex);
    let b = outputs(&on_ndarray, &ndarray);
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let d = max_abs_diff(x, y);
        println!("output {i}: max |flex − ndarray| = {d:.2e}");
        assert!(d <= 1e-4, "output {i} differs by {d}");
    }
}

#[cfg(feature = "wgpu")]
#[test]
fn flex_and_wgpu_agree_where_an_adapter_exists() {
    use adamm_model::burn::tensor::{DeviceKind, Tensor};
    use std::io::Write;
    let wgpu = Device::wgpu(DeviceKind::DefaultDevice);
    let probe = std::panic::catch_unwind(|| {
        let t = Tensor::<1>::ones([4], &wgpu);
        values(t)
    });
    if let Err(payload) = probe {
        let why = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("the backend gave no reason");
        // Straight to the process's stderr, past the harness's capture of `eprintln!`, so that
        // every `cargo test` run shows the skip instead of a silent pass.
        let _ = writeln!(
            std::io::stderr(),
            "flex_and_wgpu_agree_where_an_adapter_exists: skipped, no wgpu adapter on this \
             machine ({why})"
        );
        return;
    }
    let config = AdammConfig::light();
    let flex = Device::flex();
    let student = config.init_student(&flex).unwrap();
    let bytes = student.to_bytes(Precision::F32).unwrap();
    let on_gpu = Student::from_bytes(&config, &bytes, &wgpu).unwrap();
    let a = outputs(&student, &flex);
    let b = outputs(&on_gpu, &wgpu);
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let d = max_abs_diff(x, y);
        assert!(d <= 1e-4, "output {i} differs by {d}");
    }
}
