//! Parameter counts and FLOPs of the presets against the authors' network.

use adamm_model::burn::tensor::Device;
use adamm_model::info::authors;
use adamm_model::{forward_flops, AdammConfig, ParameterBreakdown};

fn rel(ours: usize, theirs: usize) -> f64 {
    (ours as f64 - theirs as f64).abs() / theirs as f64
}

#[test]
fn paper_parameter_counts_match_the_authors() {
    let p = ParameterBreakdown::of(&AdammConfig::paper(), &Device::flex()).unwrap();
    println!("paper preset:");
    println!(
        "  backbone       {:>9}  (authors {:>9})",
        p.backbone,
        authors::BACKBONE
    );
    println!(
        "  adapter entry  {:>9}  (authors {:>9})",
        p.entry,
        authors::ENTRY
    );
    println!(
        "  adapter bank   {:>9}  ({} entries; authors {} × {})",
        p.bank,
        p.bank_entries,
        authors::BANK_ENTRIES,
        authors::ENTRY
    );
    println!(
        "  GARM           {:>9}  (authors {:>9}, of which {} unused)",
        p.garm,
        authors::GARM,
        authors::GARM_UNUSED
    );
    println!(
        "  presence head  {:>9}  (authors {:>9})",
        p.presence,
        authors::PRESENCE
    );
    println!(
        "  total          {:>9}  (authors {:>9}, {:+.2} %)",
        p.total,
        authors::TOTAL,
        100.0 * (p.total as f64 - authors::TOTAL as f64) / authors::TOTAL as f64
    );
    assert!(rel(p.backbone, authors::BACKBONE) < 0.01);
    assert!(rel(p.entry, authors::ENTRY) < 0.01);
    assert!(rel(p.total, authors::TOTAL) < 0.03);
    // Exact equalities behind those tolerances: the same layers as the authors, minus the
    // GARM modules their forward never reaches.
    assert_eq!(p.backbone, authors::BACKBONE);
    assert_eq!(p.entry, authors::ENTRY);
    assert_eq!(p.bank_entries, authors::BANK_ENTRIES);
    assert_eq!(p.presence, authors::PRESENCE);
    assert_eq!(p.garm, authors::GARM - authors::GARM_UNUSED);
    assert_eq!(p.total, p.backbone + p.bank + p.garm + p.presence);
    assert_eq!(p.bank, p.bank_entries * p.entry);
}

#[test]
fn light_preset_is_much_smaller() {
    let paper = ParameterBreakdown::of(&AdammConfig::paper(), &Device::flex()).unwrap();
    let light = ParameterBreakdown::of(&AdammConfig::light(), &Device::flex()).unwrap();
    println!("light preset: {light:?}");
    assert_eq!(light.bank_entries, 14);
    assert!(light.total * 4 < paper.total);
    assert!(light.garm > 0 && light.presence > 0 && light.entry > 0);
}

#[test]
fn paper_flops_match_the_reference_measurement() {
    // The authors' student on a 128³ window: 326 GFLOP (all four), 341 GFLOP (partial).
    let f = forward_flops(&AdammConfig::paper(), [128; 3]);
    println!(
        "paper 128³: {:.1} GFLOP full, {:.1} GFLOP partial",
        f.full / 1e9,
        f.partial / 1e9
    );
    assert!((f.full / 1e9 - 326.0).abs() / 326.0 < 0.01, "{}", f.full);
    assert!(
        (f.partial / 1e9 - 341.0).abs() / 341.0 < 0.01,
        "{}",
        f.partial
    );
    let light = forward_flops(&AdammConfig::light(), [128; 3]);
    println!(
        "light 128³: {:.1} GFLOP full, {:.1} GFLOP partial",
        light.full / 1e9,
        light.partial / 1e9
    );
    assert!(light.partial * 3.0 < f.full);
    // FLOPs scale with the number of voxels.
    let half = forward_flops(&AdammConfig::paper(), [64; 3]);
    assert!((f.full / half.full - 8.0).abs() < 1e-9);
}

#[test]
fn configurations_too_large_to_build_are_refused_before_building() {
    use adamm_model::config::{MAX_DEPTH, MAX_PARAMETERS};
    // The presets pass, far below the limit.
    let paper = ParameterBreakdown::of(&AdammConfig::paper(), &Device::flex()).unwrap();
    assert!(AdammConfig::paper().validate().is_ok());
    assert!(AdammConfig::light().validate().is_ok());
    assert!((paper.total as u128) * 20 < MAX_PARAMETERS);

    // What a model file's configuration could ask for: refused with a reason, no panic.
    let wide = AdammConfig::paper()
        .with_base_width(4096)
        .with_norm_groups(8);
    let err = wide.validate().unwrap_err().to_string();
    assert!(err.contains("parameters"), "{err}");
    let deep = AdammConfig::paper()
        .with_depth(64)
        .with_blocks_per_level(vec![1; 64]);
    let err = deep.validate().unwrap_err().to_string();
    assert!(err.contains(&MAX_DEPTH.to_string()), "{err}");
    assert!(deep.init_student(&Device::flex()).is_err());
}
