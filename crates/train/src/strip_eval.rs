//! How well a brain-extraction network finds the brain: Dice of its mask, through the whole
//! inference path (`adamm_model::strip_mask`), on synthetic heads of a given contrast (the
//! held-out anatomy's among them) and on real head / skull-stripped pairs.
//!
//! Synthetic heads: the first `count` seeds of [`eval_seed`]`(seed, k)`, k = 0, 1, …, whose
//! drawn contrast ([`HeadDraws::draw`]) is the one asked for (T1-, T2- or FLAIR-like label
//! orders), generated with every randomisation on (pose, deformation, acquisition). The
//! evaluation seeds are apart from the training heads' ([`crate::strip::head_seed`]) and the
//! validation heads'.

use adamm_model::burn::tensor::Device;
use adamm_model::{strip_mask, StripGrid, StripNet};
use adamm_synth::head::{generate_head, HeadAnatomy, HeadContrast, HeadDraws, HeadOptions};
use adamm_volume::Volume;

use crate::error::TrainError;
use crate::trainer::{dice, mix};

/// The evaluation seed `k` of a run of `seed`.
pub fn eval_seed(seed: u64, k: u64) -> u64 {
    mix(seed, k, 0xE7A1_5EED)
}

/// The Dice of each head of one set.
#[derive(Debug, Clone, PartialEq)]
pub struct StripScores {
    /// What was evaluated (e.g. `mni_icbm152 T1`, `ch2 vs ch2bet`).
    pub name: String,
    /// Dice per head.
    pub dice: Vec<f64>,
}

impl StripScores {
    /// Mean Dice (0 for an empty set).
    pub fn mean(&self) -> f64 {
        if self.dice.is_empty() {
            return 0.0;
        }
        self.dice.iter().sum::<f64>() / self.dice.len() as f64
    }

    /// Smallest Dice (0 for an empty set).
    pub fn min(&self) -> f64 {
        self.dice.iter().copied().reduce(f64::min).unwrap_or(0.0)
    }
}

/// The name of a head contrast as reported.
pub fn contrast_name(c: HeadContrast) -> &'static str {
    match c {
        HeadContrast::Random => "random",
        HeadContrast::T1 => "T1",
        HeadContrast::T2 => "T2",
        HeadContrast::Flair => "FLAIR",
    }
}

/// Dice of `net`'s mask on `count` synthetic heads of `anatomy` with contrast `contrast`
/// (see the module docs).
pub fn score_synthetic_heads(
    net: &StripNet,
    grid: StripGrid,
    anatomy: &HeadAnatomy,
    contrast: HeadContrast,
    count: usize,
    seed: u64,
    device: &Device,
) -> Result<StripScores, TrainError> {
    let bad = |e: String| TrainError::Invalid(e);
    let options = HeadOptions::default();
    let mut scores = Vec::with_capacity(count);
    let mut k = 0u64;
    while scores.len() < count {
        let s = eval_seed(seed, k);
        k += 1;
        if k > 1000 * count as u64 + 1000 {
            return Err(bad(format!(
                "no {} heads among {k} seeds",
                contrast_name(contrast)
            )));
        }
        if HeadDraws::draw(s).contrast != contrast {
            continue;
        }
        let head = generate_head(anatomy, s, &options);
        let image =
            Volume::new(head.image.clone(), head.header()).map_err(|e| bad(e.to_string()))?;
        let mask = strip_mask(net, &image, grid, device).map_err(|e| bad(e.to_string()))?;
        scores.push(dice(&mask, &head.brain_mask));
    }
    Ok(StripScores {
        name: format!("{} {}", anatomy.name(), contrast_name(contrast)),
        dice: scores,
    })
}

/// Dice of `net`'s mask on a real head scan against a brain mask on the same grid (any voxel
/// above 0: a skull-stripped image or a mask file).
pub fn score_pair(
    net: &StripNet,
    grid: StripGrid,
    head: &Volume,
    brain: &Volume,
    device: &Device,
) -> Result<f64, TrainError> {
    if head.dims() != brain.dims()
        || head
            .world_from_voxel()
            .max_abs_diff(&brain.world_from_voxel())
            > 1e-3
    {
        return Err(TrainError::Invalid(
            "the head and its brain mask are not on one grid".into(),
        ));
    }
    let mask =
        strip_mask(net, head, grid, device).map_err(|e| TrainError::Invalid(e.to_string()))?;
    let truth: Vec<bool> = brain.data.iter().map(|&v| v > 0.0).collect();
    Ok(dice(&mask, &truth))
}
