//! Seeded randomness: a ChaCha8 stream for the per-case draws and a stateless hash for the
//! per-voxel noise.
//!
//! The distributions (uniform, log-uniform, normal) are written here on top of the raw
//! 64-bit ChaCha stream rather than taken from `rand`, so that a seed gives the same case for
//! as long as ChaCha8 is ChaCha8, whatever `rand`'s distribution code does between versions.
//! Per-voxel Rician noise uses a counter-based hash of (stream key, voxel index), so it does
//! not depend on the order in which voxels are visited.

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// SplitMix64 finaliser: a bijective 64-bit mix with good avalanche.
pub(crate) fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The seed of case number `index` of a run started with `seed`.
///
/// A case depends only on its own seed, so case 7 of `--seed 1` is the same whether 10 or 1000
/// cases are generated, on one thread or many.
pub fn case_seed(seed: u64, index: u64) -> u64 {
    splitmix64(seed ^ splitmix64(index.wrapping_add(0x5EED_CA5E)))
}

/// Which of `count` anatomies the case with seed `seed` is built on (uniform over them; 0 when
/// `count` ≤ 1). Its own stream of the seed, so the tumour plan and the rest of the case do not
/// change with the number of anatomies.
pub fn anatomy_for(seed: u64, count: usize) -> usize {
    if count <= 1 {
        return 0;
    }
    (splitmix64(seed ^ 0x414E_4154_4F4D_5921) % count as u64) as usize
}

/// A uniform in [0, 1) from the top 53 bits of a 64-bit word.
fn unit_from_bits(bits: u64) -> f64 {
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Two independent standard normals for voxel `index` of the noise stream `key` (Box–Muller).
pub(crate) fn hashed_normal_pair(key: u64, index: u64) -> (f32, f32) {
    let a = splitmix64(key ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
    let b = splitmix64(a ^ 0xA076_1D64_78BD_642F);
    // 1 - u lies in (0, 1], so the logarithm is finite.
    let u1 = 1.0 - unit_from_bits(a);
    let u2 = unit_from_bits(b);
    let r = (-2.0 * u1.ln()).sqrt();
    let t = std::f64::consts::TAU * u2;
    ((r * t.cos()) as f32, (r * t.sin()) as f32)
}

/// The per-case random stream.
pub(crate) struct Rand(ChaCha8Rng);

impl Rand {
    /// A stream from a 64-bit seed.
    pub(crate) fn new(seed: u64) -> Rand {
        Rand(ChaCha8Rng::seed_from_u64(seed))
    }

    /// A raw 64-bit word (used to key sub-streams such as the voxel noise).
    pub(crate) fn bits(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        unit_from_bits(self.0.next_u64())
    }

    /// Uniform in [lo, hi).
    pub(crate) fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Log-uniform in [lo, hi) (both positive): sizes spread evenly over orders of magnitude.
    pub(crate) fn log_range(&mut self, lo: f64, hi: f64) -> f64 {
        (lo.ln() + (hi.ln() - lo.ln()) * self.unit()).exp()
    }

    /// Standard normal (Box–Muller, one of the pair).
    pub(crate) fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform index in `0..n` (`n > 0`).
    pub(crate) fn index(&mut self, n: usize) -> usize {
        ((self.unit() * n as f64) as usize).min(n.saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let mut a = Rand::new(42);
        let mut b = Rand::new(42);
        let mut c = Rand::new(43);
        let xa: Vec<u64> = (0..8).map(|_| a.bits()).collect();
        let xb: Vec<u64> = (0..8).map(|_| b.bits()).collect();
        let xc: Vec<u64> = (0..8).map(|_| c.bits()).collect();
        assert_eq!(xa, xb);
        assert_ne!(xa, xc);
        assert_ne!(case_seed(1, 0), case_seed(1, 1));
        assert_ne!(case_seed(1, 0), case_seed(2, 0));
    }

    #[test]
    fn hashed_normals_have_unit_moments() {
        let n = 200_000u64;
        let (mut s, mut s2) = (0.0f64, 0.0f64);
        for i in 0..n {
            let (a, b) = hashed_normal_pair(7, i);
            for v in [a as f64, b as f64] {
                s += v;
                s2 += v * v;
            }
        }
        let mean = s / (2 * n) as f64;
        let var = s2 / (2 * n) as f64 - mean * mean;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "variance {var}");
    }

    #[test]
    fn ranges_stay_in_bounds() {
        let mut r = Rand::new(3);
        for _ in 0..10_000 {
            let x = r.range(2.0, 5.0);
            assert!((2.0..5.0).contains(&x));
            let y = r.log_range(4.0, 30.0);
            assert!((4.0..30.0).contains(&y));
            assert!(r.index(7) < 7);
        }
    }
}

#[cfg(test)]
mod anatomy_tests {
    use super::*;

    #[test]
    fn anatomy_choice_is_a_pure_function_of_the_seed_and_uses_every_anatomy() {
        let picks: Vec<usize> = (0..300).map(|i| anatomy_for(case_seed(3, i), 3)).collect();
        let again: Vec<usize> = (0..300).map(|i| anatomy_for(case_seed(3, i), 3)).collect();
        assert_eq!(picks, again);
        for a in 0..3 {
            let n = picks.iter().filter(|&&p| p == a).count();
            assert!((70..130).contains(&n), "anatomy {a} drawn {n} times in 300");
        }
        assert_eq!(anatomy_for(12345, 1), 0);
        assert_eq!(anatomy_for(12345, 0), 0);
    }
}
