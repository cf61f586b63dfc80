//! The smallest enhancing tumour a model reports, chosen on validation evaluations.
//!
//! The pipeline turns a case's enhancing tumour (ET) into necrosis when it adds up to less
//! than the model's threshold (`adamm_volume::brats::drop_small_enhancing`). The threshold
//! changes nothing but the ET of the cases under it: there the ET Dice becomes 1 when the
//! reference has no ET and 0 when it has some; WT and TC keep their extent. So the Dice of
//! every candidate follows from one evaluation without the rule, from each row's ET Dice and
//! its predicted and reference volumes (`metrics.csv`), and the threshold is the candidate
//! with the best mean ET Dice over every case and combination of the validation sets.
//!
//! The volumes of `metrics.csv` are measured on each case's native grid and the rule on the
//! pipeline's working grid; on cases whose scans share one grid the two are the same grid.

use serde::Serialize;

use crate::error::TrainError;
use crate::report::EvalRow;
use adamm_volume::brats::{Availability, Region};

/// The thresholds tried, mm³ (0 = every enhancing tumour reported). nnU-Net's BraTS
/// post-processing used 500 voxels of 1 mm³.
pub const CANDIDATES_MM3: [u32; 12] = [0, 25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000];

/// The validation ET Dice at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ThresholdScore {
    /// The threshold, mm³.
    pub min_mm3: u32,
    /// Mean ET Dice over every (case, combination) row.
    pub et_dice: f64,
    /// Mean ET Dice over the all-four-modalities rows (`None` without such rows).
    pub et_dice_all_four: Option<f64>,
}

/// The ET Dice of `row` (an ET row with volumes) had the pipeline reported enhancing
/// tumours of `min_mm3` and more only.
pub fn et_dice_at(row: &EvalRow, min_mm3: u32) -> Option<f64> {
    let v = row.volume_ml?;
    let predicted_mm3 = v.predicted * 1000.0;
    Some(
        if predicted_mm3 > 0.0 && predicted_mm3 < f64::from(min_mm3) {
            if v.reference > 0.0 {
                0.0
            } else {
                1.0
            }
        } else {
            row.metrics.dice
        },
    )
}

/// The mean ET Dice of `rows` at each of [`CANDIDATES_MM3`]. Refuses rows without ET, and
/// ET rows without volumes (a `metrics.csv` written before they were recorded).
pub fn sweep(rows: &[EvalRow]) -> Result<Vec<ThresholdScore>, TrainError> {
    let et: Vec<&EvalRow> = rows.iter().filter(|r| r.region == Region::ET).collect();
    if et.is_empty() {
        return Err(TrainError::Invalid(
            "no ET rows to choose the smallest enhancing tumour on".into(),
        ));
    }
    if let Some(r) = et.iter().find(|r| r.volume_ml.is_none()) {
        return Err(TrainError::Invalid(format!(
            "case {} has no volumes in metrics.csv (written before `adamm eval` recorded \
             them): evaluate the validation set again",
            r.case
        )));
    }
    let mean = |rows: &[&EvalRow], min_mm3: u32| -> Option<f64> {
        if rows.is_empty() {
            return None;
        }
        let sum: f64 = rows.iter().filter_map(|r| et_dice_at(r, min_mm3)).sum();
        Some(sum / rows.len() as f64)
    };
    let all_four: Vec<&EvalRow> = et
        .iter()
        .copied()
        .filter(|r| r.combination == Availability::FULL)
        .collect();
    Ok(CANDIDATES_MM3
        .iter()
        .map(|&min_mm3| ThresholdScore {
            min_mm3,
            et_dice: mean(&et, min_mm3).unwrap_or(0.0),
            et_dice_all_four: mean(&all_four, min_mm3),
        })
        .collect())
}

/// The threshold with the best mean ET Dice (the smallest of equals); 0 for an empty sweep.
pub fn choose(scores: &[ThresholdScore]) -> u32 {
    let mut best: Option<ThresholdScore> = None;
    for &s in scores {
        if best.is_none_or(|b| s.et_dice > b.et_dice) {
            best = Some(s);
        }
    }
    best.map_or(0, |b| b.min_mm3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::RegionVolumes;
    use adamm_volume::metrics::MaskMetrics;

    fn row(case: &str, dice: f64, predicted: f64, reference: f64) -> EvalRow {
        EvalRow {
            case: case.into(),
            combination: Availability::FULL,
            region: Region::ET,
            metrics: MaskMetrics {
                dice,
                ..MaskMetrics::default()
            },
            volume_ml: Some(RegionVolumes {
                predicted,
                reference,
            }),
        }
    }

    #[test]
    fn a_threshold_scores_what_the_rule_would_have_done() {
        // A 0.04 mL false ET (Dice 0), a 0.3 mL true ET found (Dice 0.6), a 5 mL ET (0.9).
        let rows = [
            row("false", 0.0, 0.04, 0.0),
            row("small", 0.6, 0.3, 0.35),
            row("large", 0.9, 5.0, 4.0),
        ];
        assert_eq!(et_dice_at(&rows[0], 0), Some(0.0));
        assert_eq!(et_dice_at(&rows[0], 50), Some(1.0));
        assert_eq!(et_dice_at(&rows[0], 40), Some(0.0)); // 40 mm³ is not under 40
        assert_eq!(et_dice_at(&rows[1], 500), Some(0.0));
        assert_eq!(et_dice_at(&rows[2], 3000), Some(0.9));
        // No prediction, no reference: Dice 1 whatever the threshold.
        assert_eq!(et_dice_at(&row("none", 1.0, 0.0, 0.0), 3000), Some(1.0));

        let scores = sweep(&rows).expect("sweep");
        let at = |mm3: u32| scores.iter().find(|s| s.min_mm3 == mm3).expect("candidate");
        assert!((at(0).et_dice - 0.5).abs() < 1e-12);
        assert!((at(50).et_dice - 2.5 / 3.0).abs() < 1e-12);
        assert!((at(500).et_dice - 1.9 / 3.0).abs() < 1e-12);
        assert_eq!(at(50).et_dice_all_four, Some(at(50).et_dice));
        // 50, 100 and 200 tie at the best: the smallest wins.
        assert_eq!(choose(&scores), 50);
    }

    #[test]
    fn rows_without_volumes_or_et_are_refused() {
        let mut old = row("old", 0.5, 1.0, 1.0);
        old.volume_ml = None;
        let e = sweep(&[old]).expect_err("no volumes");
        assert!(
            e.to_string().contains("evaluate the validation set again"),
            "{e}"
        );
        let mut wt = row("wt", 0.5, 1.0, 1.0);
        wt.region = Region::WT;
        assert!(sweep(&[wt]).is_err());
        assert_eq!(choose(&[]), 0);
    }
}
