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
            let a = Availability::parse(code).unwrap();
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
    let wgpu = Device::wgpu(DeviceKind::DefaultDevice);
    let probe = std::panic::catch_unwind(|| {
        let t = Tensor::<1>::ones([4], &wgpu);
        values(t)
    });
    if probe.is_err() {
        eprintln!("no wgpu adapter on this machine: skipped");
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
