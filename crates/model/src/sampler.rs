//! The combination sampler: which modalities the student sees in a training step.

use adamm_volume::brats::Availability;

/// Draws modality combinations uniformly from a fixed list (by default the 15 non-empty
/// combinations, `1111` included, as the authors' training does), reproducibly from a seed.
#[derive(Debug, Clone)]
pub struct CombinationSampler {
    choices: Vec<Availability>,
    state: u64,
}

impl CombinationSampler {
    /// Uniform over all 15 non-empty combinations.
    pub fn new(seed: u64) -> CombinationSampler {
        CombinationSampler::with_choices(Availability::all_combinations(), seed)
            .expect("the 15 combinations are not empty")
    }

    /// Uniform over the 14 partial combinations (`1111` excluded).
    pub fn partial_only(seed: u64) -> CombinationSampler {
        let partial = Availability::all_combinations()
            .into_iter()
            .filter(|&a| a != Availability::FULL)
            .collect();
        CombinationSampler::with_choices(partial, seed).expect("14 partial combinations")
    }

    /// Uniform over `choices`; `None` if the list is empty or holds the empty code.
    pub fn with_choices(choices: Vec<Availability>, seed: u64) -> Option<CombinationSampler> {
        if choices.is_empty() || choices.iter().any(|a| a.is_empty()) {
            return None;
        }
        Some(CombinationSampler {
            choices,
            state: seed,
        })
    }

    /// The combinations it draws from.
    pub fn choices(&self) -> &[Availability] {
        &self.choices
    }

    /// The next combination.
    pub fn sample(&mut self) -> Availability {
        let n = self.choices.len() as u64;
        // Rejection sampling on SplitMix64 output keeps the draw exactly uniform.
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let r = self.next_u64();
            if r < zone {
                return self.choices[(r % n) as usize];
            }
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
