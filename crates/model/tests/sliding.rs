//! Sliding-window inference: tiling, Gaussian blending, async readback, label maps, and the
//! equality with a full-volume pass.

mod common;

use adamm_model::burn::module::{Module, Param};
use adamm_model::burn::tensor::{Device, Tensor, TensorData};
use adamm_model::infer::{gaussian_weights, window_starts};
use adamm_model::{probabilities_to_labels, Segmenter, SlidingWindowConfig, Student};
use adamm_volume::brats::Availability;
use adamm_volume::preprocess::Normalization;
use common::{block_on, max_abs_diff, noise, tiny, values};

fn channels(dims: [usize; 3], seed: u64) -> Vec<Vec<f32>> {
    let n: usize = dims.iter().product();
    (0..4).map(|c| noise(n, seed + c)).collect()
}

#[test]
fn windows_cover_every_axis_with_the_requested_overlap() {
    assert_eq!(window_starts(100, 128, 0.5), vec![0]);
    assert_eq!(window_starts(128, 128, 0.5), vec![0]);
    assert_eq!(window_starts(155, 128, 0.5), vec![0, 27]);
    assert_eq!(window_starts(240, 128, 0.5), vec![0, 56, 112]);
    assert_eq!(window_starts(240, 96, 0.0), vec![0, 72, 144]);
    for (size, w, o) in [
        (240, 96, 0.5),
        (155, 64, 0.25),
        (1000, 128, 0.75),
        (97, 32, 0.5),
    ] {
        let s = window_starts(size, w, o);
        assert_eq!(s[0], 0);
        assert_eq!(
            *s.last().unwrap() + w,
            size,
            "the last window ends at the edge"
        );
        let stride = (w as f64 * (1.0 - o)).round() as usize;
        for p in s.windows(2) {
            assert!(
                p[1] > p[0] && p[1] - p[0] <= stride,
                "{size} {w} {o}: {s:?}"
            );
        }
    }
}

#[test]
fn gaussian_weights_peak_in_the_middle_and_stay_positive() {
    let g = gaussian_weights([8, 6, 4], 0.125);
    assert_eq!(g.len(), 8 * 6 * 4);
    assert!(g.iter().all(|&v| v > 0.0 && v <= 1.0));
    let at = |x: usize, y: usize, z: usize| g[x + 8 * (y + 6 * z)];
    assert!(at(3, 2, 1) > at(0, 0, 0));
    assert!(
        (at(3, 2, 1) - at(4, 3, 2)).abs() < 1e-6,
        "symmetric about the centre"
    );
    assert!(at(0, 2, 1) < at(1, 2, 1));
}

#[test]
fn blending_equals_a_hand_computed_gaussian_average() {
    let device = Device::flex();
    let config = tiny();
    let student = config.init_student(&device).unwrap();
    let dims = [40, 24, 20];
    let window = [24, 16, 16];
    let cfg = SlidingWindowConfig::new()
        .with_window(window)
        .with_overlap(0.5)
        .with_presence_gating(false);
    let a = Availability::parse("1101").unwrap();
    let ch = channels(dims, 50);
    let seg = Segmenter::new(student.clone(), cfg, &device).unwrap();
    let mut calls = Vec::new();
    let out = seg
        .segment_channels(&ch, dims, a, |p| calls.push(p))
        .unwrap();
    let starts: Vec<Vec<usize>> = (0..3)
        .map(|i| window_starts(dims[i], window[i], 0.5))
        .collect();
    let total = starts.iter().map(Vec::len).product::<usize>();
    assert_eq!(calls.len(), total);
    assert_eq!(
        calls.last().map(|p| (p.done, p.total)),
        Some((total, total))
    );

    // Reference: run each window by hand and average with the Gaussian weights.
    let net = student.valid();
    let g = gaussian_weights(window, 0.125);
    let n: usize = dims.iter().product();
    let mut num = vec![vec![0f64; n]; 4];
    let mut den = vec![0f64; n];
    let [wx, wy, wz] = window;
    for &z0 in &starts[2] {
        for &y0 in &starts[1] {
            for &x0 in &starts[0] {
                let mut crop = vec![0f32; 4 * wx * wy * wz];
                for (c, chan) in ch.iter().enumerate() {
                    if !a.present()[c] {
                        continue;
                    }
                    for z in 0..wz {
                        for y in 0..wy {
                            for x in 0..wx {
                                crop[x + wx * (y + wy * (z + wz * c))] =
                                    chan[(x0 + x) + dims[0] * ((y0 + y) + dims[1] * (z0 + z))];
                            }
                        }
                    }
                }
                let t = Tensor::<5>::from_data(TensorData::new(crop, [1, 4, wz, wy, wx]), &device);
                let p = values(net.forward(t, a).probabilities);
                for z in 0..wz {
                    for y in 0..wy {
                        for x in 0..wx {
                            let wi = x + wx * (y + wy * z);
                            let vi = (x0 + x) + dims[0] * ((y0 + y) + dims[1] * (z0 + z));
                            den[vi] += f64::from(g[wi]);
                            for c in 0..4 {
                                num[c][vi] += f64::from(g[wi] * p[c * wx * wy * wz + wi]);
                            }
                        }
                    }
                }
            }
        }
    }
    for (c, (num_c, got)) in num.iter().zip(&out.probabilities).enumerate() {
        let reference: Vec<f32> = num_c
            .iter()
            .zip(&den)
            .map(|(a, b)| (a / b) as f32)
            .collect();
        let d = max_abs_diff(&reference, got);
        assert!(d < 1e-5, "class {c}: {d}");
    }

    // The asynchronous path gives the same result.
    let out_async = block_on(seg.start(&ch, dims, a).unwrap().run_async(|_| {})).unwrap();
    assert_eq!(out.probabilities, out_async.probabilities);
}

#[test]
fn presence_gating_zeroes_absent_classes_only() {
    let device = Device::flex();
    let mut student = tiny().init_student(&device).unwrap();
    // Force the presence head: NETC and ET present, SNFH absent, whatever the features.
    student.presence.classify.bias = Some(Param::from_tensor(Tensor::from_floats(
        [20.0, -20.0, 20.0],
        &device,
    )));
    let dims = [16, 16, 16];
    let ch = channels(dims, 60);
    let a = Availability::FULL;
    let gated = Segmenter::new(
        student.clone(),
        SlidingWindowConfig::new().with_window(dims),
        &device,
    )
    .unwrap()
    .segment_channels(&ch, dims, a, |_| {})
    .unwrap();
    let plain = Segmenter::new(
        student.clone(),
        SlidingWindowConfig::new()
            .with_window(dims)
            .with_presence_gating(false),
        &device,
    )
    .unwrap()
    .segment_channels(&ch, dims, a, |_| {})
    .unwrap();
    let x = Tensor::<5>::from_data(TensorData::new(ch.concat(), [1, 4, 16, 16, 16]), &device);
    let presence = values(student.valid().forward(x, a).presence);
    assert!(
        presence[0] > 0.5 && presence[1] < 0.5 && presence[2] > 0.5,
        "{presence:?}"
    );
    for (c, p) in presence.iter().enumerate() {
        if *p > 0.5 {
            assert_eq!(gated.probabilities[c], plain.probabilities[c]);
        } else {
            assert!(gated.probabilities[c].iter().all(|&v| v == 0.0));
            assert!(plain.probabilities[c].iter().any(|&v| v > 0.0));
        }
    }
    assert_eq!(
        gated.probabilities[3], plain.probabilities[3],
        "background is never gated"
    );
}

#[test]
fn labels_follow_the_region_hierarchy() {
    let p = vec![
        vec![0.9, 0.9, 0.1, 0.1, 0.2], // NETC
        vec![0.9, 0.1, 0.9, 0.1, 0.2], // SNFH
        vec![0.9, 0.1, 0.1, 0.1, 0.6], // ET
        vec![0.0; 5],
    ];
    assert_eq!(probabilities_to_labels(&p, 0.5), vec![3, 1, 2, 0, 3]);
    assert_eq!(probabilities_to_labels(&p, 0.95), vec![0; 5]);
}

#[test]
fn bad_settings_and_inputs_are_refused() {
    let device = Device::flex();
    let student: Student = tiny().init_student(&device).unwrap();
    let bad_window = SlidingWindowConfig::new().with_window([20, 16, 16]);
    assert!(Segmenter::new(student.clone(), bad_window, &device).is_err());
    let bad_overlap = SlidingWindowConfig::new().with_overlap(1.0);
    assert!(Segmenter::new(student.clone(), bad_overlap, &device).is_err());
    let seg = Segmenter::new(
        student,
        SlidingWindowConfig::new().with_window([16, 16, 16]),
        &device,
    )
    .unwrap();
    let short = vec![vec![0.0; 10]; 4];
    assert!(seg
        .segment_channels(&short, [4, 4, 4], Availability::FULL, |_| {})
        .is_err());
    let empty = Availability::from_present([false; 4]);
    let ok = vec![vec![0.0; 64]; 4];
    assert!(seg.segment_channels(&ok, [4, 4, 4], empty, |_| {}).is_err());
    // A volume smaller than the window is padded, not refused.
    let small = seg
        .segment_channels(&ok, [4, 4, 4], Availability::FULL, |_| {})
        .unwrap();
    assert_eq!(small.probabilities[0].len(), 64);
}

#[test]
fn brats_sized_volume_single_window_equals_a_full_pass() {
    // 240×240×155 with a tiny-width network: the window covering the whole (padded) volume
    // must reproduce one direct forward pass on the zero-padded input.
    let device = Device::flex();
    let config = adamm_model::AdammConfig::new()
        .with_base_width(4)
        .with_norm_groups(4)
        .with_blocks_per_level(vec![1, 1, 1, 1])
        .with_adapter_hidden(4)
        .with_graph_nodes(2);
    let student = config.init_student(&device).unwrap();
    let dims = [240, 240, 155];
    let ch = channels(dims, 70);
    let a = Availability::parse("1011").unwrap();
    let seg = Segmenter::full_volume(student.clone(), dims, &device).unwrap();
    assert_eq!(seg.config().window, [240, 240, 160]);
    assert_eq!(seg.window_count(dims), 1);
    let out = seg.segment_channels(&ch, dims, a, |_| {}).unwrap();

    // Direct pass on the padded tensor, with the same gating.
    let (nx, ny, nz) = (240, 240, 155);
    let mut padded = vec![0f32; 4 * nx * ny * 160];
    for c in 0..4 {
        if a.present()[c] {
            let n = nx * ny * nz;
            padded[c * nx * ny * 160..c * nx * ny * 160 + n].copy_from_slice(&ch[c]);
        }
    }
    let x = Tensor::<5>::from_data(TensorData::new(padded, [1, 4, 160, ny, nx]), &device);
    let full = student.valid().forward(x, a);
    let presence = values(full.presence);
    let probs = values(full.probabilities);
    let n = nx * ny * nz;
    let plane = nx * ny * 160;
    for c in 0..4 {
        let gate = if c < 3 && presence[c] <= 0.5 {
            0.0
        } else {
            1.0
        };
        let direct: Vec<f32> = probs[c * plane..c * plane + n]
            .iter()
            .map(|v| v * gate)
            .collect();
        let d = max_abs_diff(&direct, &out.probabilities[c]);
        assert!(d <= 1e-4, "class {c}: {d}");
    }
}

#[test]
fn whole_case_tumour_probabilities_vanish_outside_the_brain() {
    // A 36×30×28 case whose brain is an ellipsoid (zero outside) inside its bounding box, on a
    // network working at half resolution: the pipeline's probabilities on the case grid must
    // equal the coarse segmentation interpolated back inside the brain, and give no tumour
    // anywhere outside it.
    use adamm_model::{Pipeline, Scans};
    use adamm_volume::nifti_io::{Datatype, Header};
    use adamm_volume::{resample, Affine, Volume};

    let device = Device::flex();
    let student = tiny().with_grid_factor(2).init_student(&device).unwrap();
    let dims = [36, 30, 28];
    let inside = |i: usize, j: usize, k: usize| {
        let d = |v: usize, n: usize| (v as f64 - (n as f64 - 1.0) / 2.0) / (n as f64 / 2.0 - 1.0);
        d(i, dims[0]).powi(2) + d(j, dims[1]).powi(2) + d(k, dims[2]).powi(2) <= 1.0
    };
    let scan = |seed: u64| {
        let n = noise(dims.iter().product(), seed);
        let mut data = Vec::with_capacity(n.len());
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    let v = n[data.len()];
                    data.push(if inside(i, j, k) { 2.0 + v } else { 0.0 });
                }
            }
        }
        Volume::new(
            data,
            Header::from_affine(dims, Datatype::F32, &Affine::IDENTITY),
        )
        .unwrap()
    };
    let (t1c, flair) = (scan(80), scan(81));
    let scans = Scans::new([
        None,
        Some(("T1Gd".into(), t1c)),
        None,
        Some(("FLAIR".into(), flair)),
    ])
    .unwrap();
    let config = SlidingWindowConfig::new().with_window([16, 16, 16]);
    let pipeline = Pipeline::new(student, config, Normalization::Robust, &device).unwrap();
    let prepared = pipeline.prepare(&scans).unwrap();
    let case = &prepared.case;
    assert!(
        case.brain.iter().any(|&b| !b),
        "the crop has voxels outside the brain"
    );

    let (channels, coarse_dims) = prepared.network_input();
    assert_eq!(coarse_dims, resample::coarse_dims(case.dims(), 2));
    let coarse = pipeline
        .segmenter()
        .segment_channels(channels, coarse_dims, case.availability, |_| {})
        .unwrap();
    let out = prepared.case_probabilities(coarse.clone());
    assert_eq!(out.dims, case.dims());
    for (c, (got, coarse)) in out
        .probabilities
        .iter()
        .zip(&coarse.probabilities)
        .enumerate()
    {
        let up = resample::upsample_linear(coarse, case.dims(), 2);
        for (v, ((g, u), &b)) in got.iter().zip(&up).zip(&case.brain).enumerate() {
            let expected = if b || c >= 3 { *u } else { 0.0 };
            assert_eq!(*g, expected, "class {c}, voxel {v} (brain: {b})");
        }
    }
    // The whole pipeline gives the same labels, less the specks smaller than one voxel of
    // the 2× coarser network grid, on the scans' native grid.
    let native = pipeline.segment(&scans, |_| {}).unwrap();
    let mut thresholded = out.labels(adamm_model::LABEL_THRESHOLD);
    adamm_volume::brats::drop_specks(&mut thresholded, case.dims(), 8);
    assert_eq!(native.labels, case.labels_to_native(&thresholded).unwrap());
    let labels = out.labels(0.0);
    for (l, &b) in labels.iter().zip(&case.brain) {
        if !b {
            assert_eq!(*l, 0, "a tumour label outside the brain");
        }
    }
}

/// What a pool of workers does: each computes windows of the same plan on its own copy of the
/// input, one place blends them. In plan order that is bit-for-bit the one-worker result; in
/// another order equal to rounding; a window twice or out of the plan is refused.
#[test]
fn windows_computed_apart_blend_into_the_same_segmentation() {
    let device = Device::flex();
    let student = tiny().init_student(&device).unwrap();
    let dims = [40, 24, 20];
    let cfg = SlidingWindowConfig::new()
        .with_window([24, 16, 16])
        .with_overlap(0.5);
    let a = Availability::parse("0111").unwrap();
    let ch = channels(dims, 77);
    let seg = Segmenter::new(student, cfg, &device).unwrap();
    let reference = seg.segment_channels(&ch, dims, a, |_| {}).unwrap();

    // A second worker's own copy of the case and of the plan.
    let copy = ch.clone();
    let elsewhere = seg.start(&copy, dims, a).unwrap();
    let total = elsewhere.total();
    assert!(total >= 4, "{total} windows");
    let outputs: Vec<_> = (0..total)
        .map(|i| elsewhere.compute_window(i).unwrap())
        .collect();
    assert!(outputs.iter().enumerate().all(|(i, o)| o.index == i));

    let mut in_order = seg.start(&ch, dims, a).unwrap();
    for o in &outputs {
        in_order.land_window(o).unwrap();
    }
    assert_eq!(in_order.finish(), reference, "plan order is bit-for-bit");

    let mut reversed = seg.start(&ch, dims, a).unwrap();
    let mut last = None;
    for o in outputs.iter().rev() {
        last = Some(reversed.land_window(o).unwrap());
    }
    assert_eq!(last, Some(adamm_model::Progress { done: total, total }));
    let again = reversed.land_window(&outputs[0]).unwrap_err();
    assert!(again.to_string().contains("landed already"), "{again}");
    let mut beyond = outputs[0].clone();
    beyond.index = total;
    let beyond = reversed.land_window(&beyond).unwrap_err();
    assert!(beyond.to_string().contains("of a plan of"), "{beyond}");
    let reversed = reversed.finish();
    assert_eq!(reversed.presence, reference.presence);
    for (r, e) in reversed.probabilities.iter().zip(&reference.probabilities) {
        assert!(max_abs_diff(r, e) < 1e-5, "{}", max_abs_diff(r, e));
    }

    // A window whose values do not fit the plan's window is refused, not blended.
    let mut short = seg.start(&ch, dims, a).unwrap();
    let mut bad = outputs[1].clone();
    bad.probabilities.truncate(10);
    assert!(short.land_window(&bad).is_err());
}

#[test]
fn window_seconds_times_one_window_by_the_given_clock() {
    let device = Device::flex();
    let student = tiny().init_student(&device).unwrap();
    let seg = Segmenter::new(
        student,
        SlidingWindowConfig::new().with_window([16, 16, 16]),
        &device,
    )
    .unwrap();
    // A clock that advances 250 ms at every reading: each run reads it twice.
    let ticks = std::cell::Cell::new(0.0);
    let clock = || {
        ticks.set(ticks.get() + 250.0);
        ticks.get()
    };
    let seconds = block_on(seg.window_seconds(clock)).unwrap();
    assert_eq!(seconds, 0.25);
    assert_eq!(ticks.get(), 1000.0, "two runs, each read the clock twice");
    // On the real clock it is a positive time.
    let started = std::time::Instant::now();
    let real = block_on(seg.window_seconds(|| started.elapsed().as_secs_f64() * 1000.0)).unwrap();
    assert!(real > 0.0 && real < 60.0, "{real}");
}
