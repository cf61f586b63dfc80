//! The combination sampler.

use adamm_model::CombinationSampler;
use adamm_volume::brats::Availability;
use std::collections::BTreeMap;

#[test]
fn draws_every_combination_uniformly_and_reproducibly() {
    let mut s = CombinationSampler::new(42);
    assert_eq!(s.choices().len(), 15);
    let mut counts: BTreeMap<Availability, usize> = BTreeMap::new();
    let draws = 30_000;
    let first: Vec<Availability> = (0..draws).map(|_| s.sample()).collect();
    for a in &first {
        *counts.entry(*a).or_default() += 1;
    }
    assert_eq!(counts.len(), 15, "every combination is drawn");
    let expected = draws as f64 / 15.0;
    for (a, c) in &counts {
        // 5 standard deviations of a binomial(30000, 1/15).
        let sd = (draws as f64 * (1.0 / 15.0) * (14.0 / 15.0)).sqrt();
        assert!((*c as f64 - expected).abs() < 5.0 * sd, "{a}: {c}");
    }
    let mut again = CombinationSampler::new(42);
    let second: Vec<Availability> = (0..draws).map(|_| again.sample()).collect();
    assert_eq!(first, second, "same seed, same draws");
    let mut other = CombinationSampler::new(43);
    let third: Vec<Availability> = (0..100).map(|_| other.sample()).collect();
    assert_ne!(&first[..100], &third[..], "another seed, other draws");
}

#[test]
fn partial_only_never_draws_1111() {
    let mut s = CombinationSampler::partial_only(7);
    assert_eq!(s.choices().len(), 14);
    assert!((0..5000).all(|_| s.sample() != Availability::FULL));
    assert!(CombinationSampler::with_choices(vec![], 1).is_none());
    assert!(
        CombinationSampler::with_choices(vec![Availability::from_present([false; 4])], 1).is_none()
    );
}
