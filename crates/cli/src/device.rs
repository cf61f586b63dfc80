//! `--device`: which Burn device(s) a command runs on.

use adamm_model::burn::tensor::Device;

/// Parses a device list: `cpu` (flex, the default), `wgpu` / `wgpu:N` (the N-th
/// discrete GPU; needs the `wgpu` feature), `cuda` / `cuda:N` (needs `cuda`); several,
/// comma-separated, train data-parallel (e.g. `cuda:0,cuda:1`).
pub fn parse_devices(spec: &str) -> anyhow::Result<Vec<Device>> {
    spec.split(',')
        .map(|s| parse_device(s.trim()))
        .collect::<anyhow::Result<Vec<_>>>()
}

fn index(s: &str, name: &str) -> anyhow::Result<usize> {
    match s.strip_prefix(name) {
        Some("") => Ok(0),
        Some(rest) => rest
            .strip_prefix(':')
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("device {s:?}: expected {name} or {name}:N")),
        None => unreachable!("called with a matching prefix"),
    }
}

fn parse_device(s: &str) -> anyhow::Result<Device> {
    match s {
        "cpu" | "flex" => Ok(Device::flex()),
        _ if s.starts_with("wgpu") => {
            let i = index(s, "wgpu")?;
            wgpu(i)
        }
        _ if s.starts_with("cuda") => {
            let i = index(s, "cuda")?;
            cuda(i)
        }
        _ => anyhow::bail!(
            "unknown device {s:?}: use cpu, wgpu[:N] or cuda[:N] (comma-separated for \
             several)"
        ),
    }
}

#[cfg(feature = "wgpu")]
fn wgpu(i: usize) -> anyhow::Result<Device> {
    use adamm_model::burn::tensor::DeviceKind;
    Ok(Device::wgpu(DeviceKind::DiscreteGpu(i)))
}

#[cfg(not(feature = "wgpu"))]
fn wgpu(_: usize) -> anyhow::Result<Device> {
    anyhow::bail!(
        "this adamm was built without wgpu: cargo build --release -p adamm-cli --features wgpu"
    )
}

#[cfg(feature = "cuda")]
fn cuda(i: usize) -> anyhow::Result<Device> {
    Ok(Device::cuda(i))
}

#[cfg(not(feature = "cuda"))]
fn cuda(_: usize) -> anyhow::Result<Device> {
    anyhow::bail!(
        "this adamm was built without CUDA: cargo build --release -p adamm-cli --features cuda"
    )
}

/// The first device of a list (inference runs on one).
pub fn parse_one(spec: &str) -> anyhow::Result<Device> {
    parse_devices(spec)?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("no device given"))
}
