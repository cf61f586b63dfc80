//! Random training patches: crop (tumour-centred with a set probability, as nnU-Net does),
//! flips on the three axes, and per-modality intensity jitter (the authors' scale ± 0.1, shift
//! ± 0.1 on brain voxels). Every draw comes from a generator seeded by (seed, iteration), so a
//! resumed run draws exactly the patches the uninterrupted run would have.

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::cache::TrainingCase;

/// How patches are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SamplerConfig {
    /// Patch size `[px, py, pz]` in voxels of the working grid.
    pub patch: [usize; 3],
    /// Probability that a patch is centred on a tumour voxel (default 1/3).
    pub foreground_probability: f64,
    /// Probability of flipping along each axis (default 0.5).
    pub flip_probability: f64,
    /// Intensity scale jitter: factor drawn from `1 ± scale` (default 0.1).
    pub intensity_scale: f32,
    /// Intensity shift jitter: offset drawn from `± shift` (default 0.1, in units of the normalised intensity).
    pub intensity_shift: f32,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            patch: [128, 128, 128],
            foreground_probability: 1.0 / 3.0,
            flip_probability: 0.5,
            intensity_scale: 0.1,
            intensity_shift: 0.1,
        }
    }
}

/// One training patch.
#[derive(Debug, Clone, PartialEq)]
pub struct Patch {
    /// Case it came from.
    pub case_id: String,
    /// `[px, py, pz]`.
    pub dims: [usize; 3],
    /// Four channels, channel-major, x fastest: tensor `[4, pz, py, px]`.
    pub input: Vec<f32>,
    /// Internal labels, x fastest: tensor `[pz, py, px]`.
    pub labels: Vec<u8>,
}

/// A generator of values in [0, 1).
struct Draw(ChaCha8Rng);

impl Draw {
    fn new(seed: u64, iteration: u64, slot: u64) -> Draw {
        // Mix the three into one seed (SplitMix64 finaliser), so neighbouring iterations differ.
        let mut z = seed
            ^ iteration.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ slot.wrapping_mul(0xD1B5_4A32_D192_ED03);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Draw(ChaCha8Rng::seed_from_u64(z ^ (z >> 31)))
    }
    fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        ((self.unit() * n as f64) as usize).min(n.saturating_sub(1))
    }
}

/// Which case slot `slot` of iteration `iteration` trains on (uniform over cases).
pub fn case_index(seed: u64, iteration: u64, slot: u64, n_cases: usize) -> usize {
    Draw::new(seed, iteration, slot ^ 0xCA5E).below(n_cases)
}

/// Draws the patch for (`seed`, `iteration`, `slot`) from `case`.
pub fn sample_patch(
    case: &TrainingCase,
    config: &SamplerConfig,
    seed: u64,
    iteration: u64,
    slot: u64,
) -> Patch {
    let mut rng = Draw::new(seed, iteration, slot);
    let d = case.dims;
    let p = config.patch;
    // Start of the patch in case coordinates (may be negative or run past the end: padded).
    let mut start = [0isize; 3];
    let centre = if rng.unit() < config.foreground_probability {
        tumour_voxel(case, &mut rng)
    } else {
        None
    };
    for a in 0..3 {
        let slack = d[a] as isize - p[a] as isize;
        start[a] = match centre {
            Some(c) => {
                // Centre on the voxel, jittered by up to a quarter patch, kept inside if possible.
                let jitter = rng.below(p[a] / 2 + 1) as isize - (p[a] / 4) as isize;
                let s = c[a] as isize - p[a] as isize / 2 + jitter;
                if slack >= 0 {
                    s.clamp(0, slack)
                } else {
                    slack / 2
                }
            }
            None if slack >= 0 => rng.below(slack as usize + 1) as isize,
            None => slack / 2,
        };
    }
    let flip = [0, 1, 2].map(|_| rng.unit() < config.flip_probability);
    let jitter: [(f32, f32); 4] = [0, 1, 2, 3].map(|_| {
        let scale = 1.0 + config.intensity_scale * (2.0 * rng.unit() as f32 - 1.0);
        let shift = config.intensity_shift * (2.0 * rng.unit() as f32 - 1.0);
        (scale, shift)
    });
    let n: usize = p.iter().product();
    let mut input = vec![0.0f32; 4 * n];
    let mut labels = vec![0u8; n];
    for k in 0..p[2] {
        for j in 0..p[1] {
            for i in 0..p[0] {
                let q = [i, j, k];
                let src = [0, 1, 2].map(|a| {
                    let local = if flip[a] { p[a] - 1 - q[a] } else { q[a] };
                    start[a] + local as isize
                });
                if (0..3).any(|a| src[a] < 0 || src[a] >= d[a] as isize) {
                    continue;
                }
                let s = src[0] as usize + d[0] * (src[1] as usize + d[1] * src[2] as usize);
                let o = i + p[0] * (j + p[1] * k);
                labels[o] = case.labels[s];
                for (c, (scale, shift)) in jitter.iter().enumerate() {
                    let v = case.channels[c][s];
                    // Background stays exactly 0 (the brain mask is what normalising left non-zero).
                    input[c * n + o] = if v != 0.0 { v * scale + shift } else { 0.0 };
                }
            }
        }
    }
    Patch {
        case_id: case.id.clone(),
        dims: p,
        input,
        labels,
    }
}

/// A random tumour voxel: first a random class present in the case (so small ET regions are
/// sampled as often as edema), then a random voxel of it.
fn tumour_voxel(case: &TrainingCase, rng: &mut Draw) -> Option<[usize; 3]> {
    let mut counts = [0usize; 4];
    for &l in &case.labels {
        counts[(l as usize).min(3)] += 1;
    }
    let present: Vec<u8> = (1..4u8).filter(|&l| counts[l as usize] > 0).collect();
    if present.is_empty() {
        return None;
    }
    let class = present[rng.below(present.len())];
    let nth = rng.below(counts[class as usize]);
    let flat = case
        .labels
        .iter()
        .enumerate()
        .filter(|(_, &l)| l == class)
        .nth(nth)?
        .0;
    let d = case.dims;
    Some([flat % d[0], (flat / d[0]) % d[1], flat / (d[0] * d[1])])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case() -> TrainingCase {
        let dims = [20, 16, 12];
        let n: usize = dims.iter().product();
        let mut labels = vec![0u8; n];
        // A small ET block far from the centre.
        for k in 1..3 {
            for j in 1..3 {
                for i in 16..18 {
                    labels[i + 20 * (j + 16 * k)] = 3;
                }
            }
        }
        TrainingCase {
            id: "c".into(),
            dims,
            channels: [0, 1, 2, 3].map(|c| (0..n).map(|i| 1.0 + (i + c) as f32).collect()),
            labels,
        }
    }

    #[test]
    fn same_seed_and_iteration_give_the_same_patch() {
        let c = case();
        let cfg = SamplerConfig {
            patch: [8, 8, 8],
            ..Default::default()
        };
        assert_eq!(
            sample_patch(&c, &cfg, 1, 5, 0),
            sample_patch(&c, &cfg, 1, 5, 0)
        );
        assert_ne!(
            sample_patch(&c, &cfg, 1, 5, 0),
            sample_patch(&c, &cfg, 1, 6, 0)
        );
    }

    #[test]
    fn foreground_patches_contain_tumour_and_labels_follow_voxels() {
        let c = case();
        let cfg = SamplerConfig {
            patch: [8, 8, 6],
            foreground_probability: 1.0,
            intensity_scale: 0.0,
            intensity_shift: 0.0,
            ..Default::default()
        };
        for it in 0..20 {
            let p = sample_patch(&c, &cfg, 3, it, 0);
            assert!(p.labels.contains(&3), "iteration {it}");
            // With no jitter, every voxel is a copy of a case voxel: T1 value v = 1 + s, and the
            // label at that position matches the case's label at s.
            let n = 8 * 8 * 6;
            for o in 0..n {
                let v = p.input[o];
                if v != 0.0 {
                    let s = (v - 1.0) as usize;
                    assert_eq!(p.labels[o], c.labels[s]);
                    assert_eq!(p.input[3 * n + o], c.channels[3][s]);
                }
            }
        }
    }

    #[test]
    fn small_cases_are_padded_with_background() {
        let c = case();
        let cfg = SamplerConfig {
            patch: [24, 16, 16],
            ..Default::default()
        };
        let p = sample_patch(&c, &cfg, 0, 0, 0);
        let zeros = p.input[..24 * 16 * 16]
            .iter()
            .filter(|&&v| v == 0.0)
            .count();
        // 24×16×16 patch over a 20×16×12 case: at least (24·16·16 − 20·16·12) padded voxels.
        assert!(zeros >= 24 * 16 * 16 - 20 * 16 * 12);
    }
}
