//! Brain-extraction training: a run stopped and resumed continues bit for bit.

use std::sync::atomic::AtomicBool;

use adamm_model::burn::store::ModuleSnapshot;
use adamm_model::burn::tensor::Device;
use adamm_model::{StripNet, StripNetConfig};
use adamm_synth::head::HeadAnatomy;
use adamm_train::strip::{
    head_anatomy, head_seed, resume_strip, start_strip, QuietStrip, StripRunOptions,
    StripTrainConfig,
};
use adamm_train::RunPaths;

fn tiny() -> StripTrainConfig {
    StripTrainConfig {
        network: StripNetConfig::new().with_levels(3),
        grid: [16, 16, 16],
        voxel_mm: 12.0,
        iterations: 2,
        validation_every: 1,
        validation_heads: 1,
        checkpoint_every: 1,
        ..StripTrainConfig::default()
    }
}

/// Every parameter of a network, by path, as raw bytes.
fn params<M: ModuleSnapshot>(module: &M) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = module
        .collect(None, None, false)
        .into_iter()
        .map(|s| (s.name.clone(), s.to_bytes().expect("tensor bytes").to_vec()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn rows_without_seconds(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("log")
        .lines()
        .map(|l| l.rsplit_once(',').map_or(l, |(a, _)| a).to_string())
        .collect()
}

// One test: the CPU backends' generator is process-wide, so two trainers initialising at once
// in parallel tests would draw from each other's sequence.
#[test]
fn two_iteration_run_resumes_bit_for_bit() {
    let device = Device::flex();
    let heads = HeadAnatomy::default_dir();
    let stop = AtomicBool::new(false);
    let dir = tempfile::tempdir().unwrap();

    // Straight through.
    let straight = RunPaths::new(dir.path().join("straight"));
    let options = StripRunOptions {
        heads: &heads,
        device: &device,
        stop_after: None,
        stop: &stop,
    };
    assert_eq!(
        start_strip(&straight, tiny(), &options, &mut QuietStrip).unwrap(),
        (2, true)
    );

    // Stopped after one, then resumed.
    let resumed = RunPaths::new(dir.path().join("resumed"));
    let stopping = StripRunOptions {
        stop_after: Some(1),
        ..options
    };
    assert_eq!(
        start_strip(&resumed, tiny(), &stopping, &mut QuietStrip).unwrap(),
        (1, false)
    );
    // A second start in the same folder is refused.
    assert!(start_strip(&resumed, tiny(), &options, &mut QuietStrip).is_err());
    let options = StripRunOptions {
        heads: &heads,
        device: &device,
        stop_after: None,
        stop: &stop,
    };
    assert_eq!(
        resume_strip(&resumed, None, None, &options, &mut QuietStrip).unwrap(),
        (2, true)
    );

    // Every parameter bit for bit (the files themselves record the networks' parameter ids,
    // which a resumed run draws anew), and the bookkeeping.
    let load = |p: &RunPaths| {
        let bytes = std::fs::read(p.checkpoint().join("strip.bpk")).unwrap();
        StripNet::from_bytes(&tiny().network, &bytes, &device).unwrap()
    };
    let (pa, pb) = (params(&load(&straight)), params(&load(&resumed)));
    assert_eq!(pa.len(), pb.len());
    let differing: Vec<&str> = pa
        .iter()
        .zip(&pb)
        .filter(|(a, b)| a != b)
        .map(|(a, _)| a.0.as_str())
        .collect();
    assert!(
        differing.is_empty(),
        "parameters differ after resuming: {differing:?}"
    );
    assert_eq!(
        std::fs::read(straight.checkpoint().join("state.json")).unwrap(),
        std::fs::read(resumed.checkpoint().join("state.json")).unwrap()
    );
    assert_eq!(
        rows_without_seconds(&straight.log()),
        rows_without_seconds(&resumed.log())
    );
    assert_eq!(rows_without_seconds(&straight.log()).len(), 3);
    let val = std::fs::read_to_string(resumed.validation()).unwrap();
    assert_eq!(val.lines().count(), 3, "{val}");
    assert_eq!(
        std::fs::read_to_string(straight.validation()).unwrap(),
        val,
        "validation Dice differs"
    );
    // The best network loads for inference with its grid.
    let (net, grid) = StripNet::load_any(straight.best_strip(), &device).unwrap();
    assert_eq!(grid, tiny().strip_grid());
    assert_eq!(net.config, tiny().network);
    // The anatomies rotate and seeds differ per iteration.
    assert_eq!((0..4).map(head_anatomy).collect::<Vec<_>>(), [0, 1, 2, 0]);
    assert_ne!(head_seed(1, 0), head_seed(1, 1));
}
