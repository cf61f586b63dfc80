//! Output shapes for every combination and the choice of adapter entry.

mod common;

use adamm_model::burn::module::Module;
use adamm_model::burn::tensor::Device;
use adamm_model::{AdammConfig, ModelError, Teacher};
use adamm_volume::brats::Availability;
use common::{input, max_abs_diff, tiny, values};

const SIDE: usize = 16;

#[test]
fn every_combination_gives_the_documented_shapes() {
    let device = Device::flex();
    let config = tiny();
    let student = config.init_student(&device).unwrap().valid();
    let x = input([1, 4, SIDE, SIDE, SIDE], 1, &device);
    let combos = Availability::all_combinations();
    assert_eq!(combos.len(), 15);
    let c = config.bottleneck_width();
    let b = SIDE / config.size_multiple();
    for a in combos {
        let out = student.forward(adamm_model::mask_modalities(x.clone(), a), a);
        assert_eq!(out.probabilities.dims(), [1, 4, SIDE, SIDE, SIDE], "{a}");
        assert_eq!(out.logits.dims(), [1, 4, SIDE, SIDE, SIDE], "{a}");
        assert_eq!(out.presence.dims(), [1, 3], "{a}");
        assert_eq!(out.style.dims(), [1, c, b, b, b], "{a}");
        assert_eq!(out.content.dims(), [1, c, b, b, b], "{a}");
        for g in &out.global {
            assert_eq!(g.dims(), [1, c, b, b, b], "{a}");
        }
        let p = values(out.probabilities);
        assert!(
            p.iter().all(|v| (0.0..=1.0).contains(v)),
            "{a}: probabilities out of [0, 1]"
        );
        let presence = values(out.presence);
        assert!(presence.iter().all(|v| (0.0..=1.0).contains(v)), "{a}");
    }
}

#[test]
fn the_bank_has_one_entry_per_partial_code_and_the_paper_keeps_0000() {
    let device = Device::flex();
    let light = AdammConfig::light().init_student(&device).unwrap();
    assert_eq!(light.bank.entries.len(), 14);
    let paper = AdammConfig::paper().init_student(&device).unwrap();
    assert_eq!(paper.bank.entries.len(), 15);
    assert!(paper.bank.codes.contains(&0));
    for a in Availability::all_combinations() {
        let has = paper.bank.index_of(a).is_some();
        assert_eq!(has, a != Availability::FULL, "{a}");
    }
    let codes: std::collections::BTreeSet<u8> = paper.bank.codes.iter().copied().collect();
    assert_eq!(codes.len(), 15, "codes are distinct");
}

#[test]
fn different_codes_use_different_entries() {
    let device = Device::flex();
    let student = tiny().init_student(&device).unwrap().valid();
    // The same input (no modality zeroed) with two codes: only the entry differs.
    let x = input([1, 4, SIDE, SIDE, SIDE], 2, &device);
    let a = Availability::parse("1010").unwrap();
    let b = Availability::parse("0101").unwrap();
    let pa = values(student.forward(x.clone(), a).probabilities);
    let pb = values(student.forward(x.clone(), b).probabilities);
    assert!(
        max_abs_diff(&pa, &pb) > 1e-4,
        "two codes gave the same output"
    );
    // And the same code twice is deterministic in inference mode.
    let pa2 = values(student.forward(x, a).probabilities);
    assert_eq!(pa, pa2);
}

/// Scales every parameter of one module by `factor`.
fn scaled<M: Module>(m: M, factor: f32) -> M {
    struct Scale(f32);
    impl adamm_model::burn::module::ModuleMapper for Scale {
        fn map_float<const D: usize>(
            &mut self,
            param: adamm_model::burn::module::Param<adamm_model::burn::tensor::Tensor<D>>,
        ) -> adamm_model::burn::module::Param<adamm_model::burn::tensor::Tensor<D>> {
            let f = self.0;
            param.map(|t| t.mul_scalar(f))
        }
    }
    m.map(&mut Scale(factor))
}

#[test]
fn a_code_reads_its_own_entry_and_no_other() {
    let device = Device::flex();
    let student = tiny().init_student(&device).unwrap().valid();
    let x = input([1, 4, SIDE, SIDE, SIDE], 3, &device);
    let code = Availability::parse("1100").unwrap();
    let other = Availability::parse("0011").unwrap();
    let before = values(student.forward(x.clone(), code).probabilities);

    let mut changed_other = student.clone();
    let j = changed_other.bank.index_of(other).unwrap();
    changed_other.bank.entries[j] = scaled(changed_other.bank.entries[j].clone(), 3.0);
    let after_other = values(changed_other.forward(x.clone(), code).probabilities);
    assert_eq!(
        before, after_other,
        "changing another entry changed the output"
    );

    let mut changed_own = student.clone();
    let i = changed_own.bank.index_of(code).unwrap();
    changed_own.bank.entries[i] = scaled(changed_own.bank.entries[i].clone(), 3.0);
    let after_own = values(changed_own.forward(x, code).probabilities);
    assert!(
        max_abs_diff(&before, &after_own) > 1e-4,
        "the own entry was not used"
    );
}

#[test]
fn code_1111_takes_the_plain_path() {
    let device = Device::flex();
    let config = tiny();
    let student = config.init_student(&device).unwrap().valid();
    let x = input([1, 4, SIDE, SIDE, SIDE], 4, &device);
    let full = values(student.forward(x.clone(), Availability::FULL).probabilities);

    // A teacher with the same backbone and presence head gives the same output.
    let teacher = Teacher {
        backbone: student.backbone.clone(),
        presence: student.presence.clone(),
        config: config.clone(),
    };
    let t = values(teacher.forward(x.clone()).probabilities);
    assert_eq!(full, t);

    // Changing every entry and GARM changes nothing.
    let mut changed = student.clone();
    changed.bank = scaled(changed.bank, 3.0);
    changed.garm = scaled(changed.garm, 3.0);
    assert_eq!(
        full,
        values(changed.forward(x, Availability::FULL).probabilities)
    );
}

#[test]
fn bad_inputs_are_refused_with_a_reason() {
    let device = Device::flex();
    let config = tiny().with_empty_code_entry(false);
    let student = config.init_student(&device).unwrap();
    let odd = input([1, 4, 12, 16, 16], 5, &device);
    match student.try_forward(odd, Availability::FULL) {
        Err(ModelError::InvalidInput(m)) => assert!(m.contains("multiples of 8"), "{m}"),
        other => panic!("expected InvalidInput, got {other:?}"),
    }
    let three = input([1, 3, 16, 16, 16], 5, &device);
    assert!(matches!(
        student.try_forward(three, Availability::FULL),
        Err(ModelError::InvalidInput(_))
    ));
    let none = Availability::from_present([false; 4]);
    let x = input([1, 4, 16, 16, 16], 5, &device);
    match student.try_forward(x, none) {
        Err(ModelError::InvalidInput(m)) => assert!(m.contains("0000"), "{m}"),
        other => panic!("expected InvalidInput, got {other:?}"),
    }
    assert!(matches!(
        AdammConfig::paper().with_base_width(12).validate(),
        Err(ModelError::InvalidConfig(_))
    ));
    assert!(matches!(
        AdammConfig::paper()
            .with_blocks_per_level(vec![1, 1])
            .validate(),
        Err(ModelError::InvalidConfig(_))
    ));
    assert!(AdammConfig::preset("huge").is_err());
}
