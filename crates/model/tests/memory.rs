//! Sliding-window memory stays bounded by the window, not the volume. This file is its own
//! test process, so the peak resident size it reads belongs to this test alone.

mod common;

use adamm_model::burn::tensor::Device;
use adamm_model::{AdammConfig, Segmenter, SlidingWindowConfig};
use adamm_volume::brats::Availability;
use common::noise;

/// Peak resident set size of this process in bytes (Linux `VmHWM`).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[test]
fn sliding_window_memory_is_bounded_by_the_window() {
    let Some(start) = peak_rss() else {
        eprintln!("no /proc/self/status here: the memory bound cannot be measured");
        return;
    };
    let device = Device::flex();
    let config = AdammConfig::new()
        .with_base_width(4)
        .with_norm_groups(4)
        .with_blocks_per_level(vec![1, 1, 1, 1])
        .with_adapter_hidden(4)
        .with_graph_nodes(2);
    let student = config.init_student(&device).unwrap();
    let dims = [240, 240, 155];
    let n: usize = dims.iter().product();
    let channels: Vec<Vec<f32>> = (0..4).map(|c| noise(n, 80 + c)).collect();
    let a = Availability::parse("0111").unwrap();
    let base = peak_rss().unwrap().max(start);

    let window = [80, 80, 80];
    let sliding = Segmenter::new(
        student.clone(),
        SlidingWindowConfig::new()
            .with_window(window)
            .with_overlap(0.0),
        &device,
    )
    .unwrap();
    let windows = sliding.window_count(dims);
    let out = sliding
        .segment_channels(&channels, dims, a, |_| {})
        .unwrap();
    assert!(out.probabilities[0].iter().all(|v| v.is_finite()));
    let after_sliding = peak_rss().unwrap();
    drop(out);

    let full = Segmenter::full_volume(student, dims, &device).unwrap();
    let out = full.segment_channels(&channels, dims, a, |_| {}).unwrap();
    assert!(out.probabilities[0].iter().all(|v| v.is_finite()));
    let after_full = peak_rss().unwrap();

    let mb = |b: u64| b as f64 / 1048576.0;
    let sliding_growth = after_sliding.saturating_sub(base);
    let full_growth = after_full.saturating_sub(base);
    // Host buffers: 4 class sums + the weight sum (f32) for the whole volume.
    let host = 5 * n as u64 * 4;
    // Device side: 24 window-sized tensors of `base_width` channels (about three times what
    // one forward keeps alive at once).
    let window_voxels: u64 = window.iter().map(|&w| w as u64).product();
    let device_budget = 24 * window_voxels * config.base_width as u64 * 4;
    println!(
        "{windows} windows of {window:?}: peak grew {:.0} MB (bound {:.0} MB = host {:.0} + window {:.0}); \
         a full pass grew it to {:.0} MB",
        mb(sliding_growth),
        mb(host + device_budget),
        mb(host),
        mb(device_budget),
        mb(full_growth)
    );
    assert!(
        sliding_growth <= host + device_budget,
        "sliding windows used {:.0} MB",
        mb(sliding_growth)
    );
    assert!(
        full_growth > 2 * sliding_growth,
        "the full pass ({:.0} MB) should need far more than the windows ({:.0} MB)",
        mb(full_growth),
        mb(sliding_growth)
    );
}
