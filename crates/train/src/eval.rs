//! Evaluation of a student on whole cases: every requested combination, sliding-window
//! inference in eval mode on the network's grid, probabilities back on the case grid,
//! labels pasted into the native grid and scored there (Dice, HD95 in mm, IoU, sensitivity,
//! specificity) against the case's segmentation. Also the adapter-diversity matrices.

use std::path::Path;

use adamm_model::burn::module::Module;
use adamm_model::burn::tensor::Tensor;
use adamm_model::{Pipeline, Scans, Student};
use adamm_volume::brats::{load_case, Availability, CaseFiles, LabelVolumes, Modality, Region};
use adamm_volume::metrics::region_metrics;
use serde::{Deserialize, Serialize};

use crate::error::TrainError;
use crate::report::{mean_row, summarize, CombinationSummary, EvalRow, RegionVolumes};

/// Evaluates one case under each of `combinations` that its files allow (a combination
/// needing a modality the case lacks is skipped and named in the second return value).
pub fn evaluate_case(
    pipeline: &Pipeline,
    files: &CaseFiles,
    combinations: &[Availability],
    mut done: impl FnMut(Availability),
) -> Result<(Vec<EvalRow>, Vec<Availability>), TrainError> {
    let mut case = load_case(files)?;
    let Some(truth) = case.seg.take() else {
        return Err(TrainError::Invalid(format!(
            "case {} has no segmentation to evaluate against",
            files.id
        )));
    };
    let in_case =
        |e: adamm_model::PipelineError| TrainError::Invalid(format!("case {}: {e}", files.id));
    let scans = Scans::from_case(&mut case).map_err(in_case)?;
    let prepared = pipeline.prepare(&scans).map_err(in_case)?;
    let dims = scans.dims();
    let spacing = scans.spacing_mm().map_err(in_case)?;
    let have = scans.availability();
    let reference = LabelVolumes::of(&truth, spacing);
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for &combination in combinations {
        if Modality::ALL
            .iter()
            .any(|&m| combination.has(m) && !have.has(m))
        {
            skipped.push(combination);
            continue;
        }
        let native = pipeline
            .job(&prepared, combination)
            .and_then(|job| job.run(|_| {}))
            .map_err(in_case)?
            .labels;
        let metrics = region_metrics(&native, &truth, dims, spacing)
            .map_err(|e| TrainError::Invalid(format!("case {}: {e}", files.id)))?;
        let predicted = LabelVolumes::of(&native, spacing);
        for (region, m) in metrics {
            rows.push(EvalRow {
                case: files.id.clone(),
                combination,
                region,
                metrics: m,
                volume_ml: Some(RegionVolumes {
                    predicted: region_volume(&predicted, region),
                    reference: region_volume(&reference, region),
                }),
            });
        }
        done(combination);
    }
    Ok((rows, skipped))
}

/// The volume of `region` in `v`, mL.
fn region_volume(v: &LabelVolumes, region: Region) -> f64 {
    match region {
        Region::WT => v.wt(),
        Region::TC => v.tc(),
        Region::ET => v.et,
    }
}

/// The evaluation summary kept as JSON (`summary.json`) and copied into model cards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalSummary {
    /// Cases evaluated.
    pub cases: usize,
    /// Per combination (code): mean Dice and HD95 (mm) for WT, TC, ET.
    pub combinations: Vec<CombinationEntry>,
    /// The mean over combinations.
    pub mean: CombinationEntry,
    /// The smallest enhancing tumour the pipeline reported, mm³ (0: any; also in summaries
    /// written before it was recorded).
    #[serde(default)]
    pub min_enhancing_mm3: u32,
}

/// One row of [`EvalSummary`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CombinationEntry {
    /// Availability code (`1111` = all four), or `mean`.
    pub combination: String,
    /// Mean Dice for WT, TC, ET.
    pub dice: [f64; 3],
    /// Mean HD95 in mm for WT, TC, ET.
    pub hd95_mm: [f64; 3],
}

impl EvalSummary {
    /// The summary of evaluation rows from a pipeline reporting enhancing tumours of
    /// `min_enhancing_mm3` and more.
    pub fn of(rows: &[EvalRow], min_enhancing_mm3: u32) -> EvalSummary {
        let summary = summarize(rows);
        let entry = |name: String, s: &CombinationSummary| CombinationEntry {
            combination: name,
            dice: s.dice,
            hd95_mm: s.hd95,
        };
        let mut cases: Vec<&str> = rows.iter().map(|r| r.case.as_str()).collect();
        cases.sort_unstable();
        cases.dedup();
        EvalSummary {
            cases: cases.len(),
            combinations: summary.iter().map(|(a, s)| entry(a.code(), s)).collect(),
            mean: entry("mean".into(), &mean_row(&summary)),
            min_enhancing_mm3,
        }
    }

    /// Reads `summary.json`.
    pub fn load(path: &Path) -> Result<EvalSummary, TrainError> {
        crate::json::load(path)
    }

    /// Writes `summary.json`.
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        crate::json::save(path, self)
    }
}

fn flatten(t: Tensor<5>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap_or_default()
}

/// Cosine similarity between the adapter entries of the bank, one matrix per adapter
/// position (encoder positions, then decoder positions): `(position name, entry codes,
/// matrix)`. Each adapter is flattened over its two convolutions' weights and biases.
pub fn adapter_similarity(student: &Student) -> Vec<(String, Vec<String>, Vec<Vec<f64>>)> {
    let bank = &student.bank;
    let codes: Vec<String> = bank
        .codes
        .iter()
        .map(|&b| Availability::from_present([0, 1, 2, 3].map(|i| b >> i & 1 == 1)).code())
        .collect();
    let Some(first) = bank.entries.first() else {
        return Vec::new();
    };
    let positions: Vec<(String, bool, usize)> = (0..first.encoder.len())
        .map(|i| (format!("encoder adapter {}", i + 1), true, i))
        .chain((0..first.decoder.len()).map(|i| (format!("decoder adapter {}", i + 1), false, i)))
        .collect();
    positions
        .into_iter()
        .map(|(name, encoder, i)| {
            let vectors: Vec<Vec<f32>> = bank
                .entries
                .iter()
                .map(|e| {
                    let a = if encoder {
                        &e.encoder[i]
                    } else {
                        &e.decoder[i]
                    };
                    let a = a.clone().valid();
                    let mut v = flatten(a.down.weight.val());
                    v.extend(flatten(a.up.weight.val()));
                    for b in [&a.down.bias, &a.up.bias].into_iter().flatten() {
                        v.extend(
                            b.val()
                                .into_data()
                                .convert::<f32>()
                                .try_into_vec::<f32>()
                                .unwrap_or_default(),
                        );
                    }
                    v
                })
                .collect();
            let norm = |v: &[f32]| {
                v.iter()
                    .map(|&x| f64::from(x) * f64::from(x))
                    .sum::<f64>()
                    .sqrt()
            };
            let matrix = vectors
                .iter()
                .map(|a| {
                    vectors
                        .iter()
                        .map(|b| {
                            let dot: f64 = a
                                .iter()
                                .zip(b)
                                .map(|(&x, &y)| f64::from(x) * f64::from(y))
                                .sum();
                            dot / (norm(a) * norm(b)).max(1e-12)
                        })
                        .collect()
                })
                .collect();
            (name, codes.clone(), matrix)
        })
        .collect()
}
