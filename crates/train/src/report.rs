//! Evaluation records and reports: `metrics.csv` (one row per case × combination × region)
//! and `summary.md` in the paper's layout (15 combinations × Dice and HD95 for WT/TC/ET, plus
//! the mean row); for several test sets, the 15-row Dice tables side by side
//! ([`side_by_side_table`]) and the all-four-modalities Dice under perturbations
//! ([`robustness_table`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use adamm_volume::brats::{Availability, Modality, Region};
use adamm_volume::metrics::MaskMetrics;

use crate::error::TrainError;

/// One evaluated (case, combination, region).
#[derive(Debug, Clone, PartialEq)]
pub struct EvalRow {
    /// Case id.
    pub case: String,
    /// Modalities given to the student.
    pub combination: Availability,
    /// Region.
    pub region: Region,
    /// The metrics.
    pub metrics: MaskMetrics,
    /// The region's volume in the prediction and in the reference; `None` when read from a
    /// `metrics.csv` written before the volumes were.
    pub volume_ml: Option<RegionVolumes>,
}

/// A region's volume in one case, mL.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegionVolumes {
    /// In the predicted labels.
    pub predicted: f64,
    /// In the reference labels.
    pub reference: f64,
}

/// Writes `metrics.csv`:
/// `case,combination,region,dice,hd95,iou,sensitivity,specificity,predicted_ml,reference_ml`
/// (HD95 in mm; the two volumes empty for a row without them).
pub fn write_metrics_csv(path: &Path, rows: &[EvalRow]) -> Result<(), TrainError> {
    let mut out = String::from(
        "case,combination,region,dice,hd95,iou,sensitivity,specificity,predicted_ml,\
         reference_ml\n",
    );
    for r in rows {
        let m = &r.metrics;
        let (predicted, reference) = match r.volume_ml {
            Some(v) => (format!("{:.4}", v.predicted), format!("{:.4}", v.reference)),
            None => (String::new(), String::new()),
        };
        let _ = writeln!(
            out,
            "{},{},{},{:.6},{:.4},{:.6},{:.6},{:.6},{predicted},{reference}",
            csv_field(&r.case),
            r.combination.code(),
            r.region.name(),
            m.dice,
            m.hd95,
            m.iou,
            m.sensitivity,
            m.specificity
        );
    }
    std::fs::write(path, out).map_err(|e| TrainError::io(path, e))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Mean Dice and HD95 per region for each combination (over cases).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CombinationSummary {
    /// Mean Dice for WT, TC, ET.
    pub dice: [f64; 3],
    /// Mean HD95 (mm) for WT, TC, ET.
    pub hd95: [f64; 3],
    /// Number of cases averaged.
    pub cases: usize,
}

/// Averages rows per combination; combinations in table order (singles first, all four last).
pub fn summarize(rows: &[EvalRow]) -> Vec<(Availability, CombinationSummary)> {
    let mut acc: BTreeMap<Availability, (CombinationSummary, [usize; 3])> = BTreeMap::new();
    for r in rows {
        let (s, n) = acc.entry(r.combination).or_default();
        let i = Region::ALL.iter().position(|x| *x == r.region).unwrap_or(0);
        s.dice[i] += r.metrics.dice;
        s.hd95[i] += r.metrics.hd95;
        n[i] += 1;
    }
    Availability::all_combinations()
        .into_iter()
        .filter_map(|a| {
            let (mut s, n) = acc.remove(&a)?;
            for ((d, h), k) in s.dice.iter_mut().zip(s.hd95.iter_mut()).zip(n) {
                *d /= k.max(1) as f64;
                *h /= k.max(1) as f64;
            }
            s.cases = n[0];
            Some((a, s))
        })
        .collect()
}

/// The mean over combinations of a summary (the table's last row).
pub fn mean_row(summary: &[(Availability, CombinationSummary)]) -> CombinationSummary {
    let mut m = CombinationSummary::default();
    let n = summary.len().max(1) as f64;
    for (_, s) in summary {
        for i in 0..3 {
            m.dice[i] += s.dice[i] / n;
            m.hd95[i] += s.hd95[i] / n;
        }
        m.cases = m.cases.max(s.cases);
    }
    m
}

/// The table in the paper's layout as Markdown: ● present / ○ missing per modality, Dice (%)
/// and HD95 (mm) for WT, TC, ET, then the mean row.
pub fn markdown_table(summary: &[(Availability, CombinationSummary)]) -> String {
    let mut out = String::new();
    let names: Vec<&str> = Modality::ALL.iter().map(|m| m.name()).collect();
    let _ = writeln!(
        out,
        "| {} | Dice WT | Dice TC | Dice ET | HD95 WT | HD95 TC | HD95 ET |",
        names.join(" | ")
    );
    let _ = writeln!(out, "|{}", "---|".repeat(names.len() + 6));
    let row = |out: &mut String, marks: Vec<&str>, s: &CombinationSummary| {
        let _ = writeln!(
            out,
            "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            marks.join(" | "),
            100.0 * s.dice[0],
            100.0 * s.dice[1],
            100.0 * s.dice[2],
            s.hd95[0],
            s.hd95[1],
            s.hd95[2]
        );
    };
    for (a, s) in summary {
        let marks = Modality::ALL
            .iter()
            .map(|m| if a.has(*m) { "●" } else { "○" })
            .collect();
        row(&mut out, marks, s);
    }
    let mut marks = vec!["**mean**"];
    marks.extend(std::iter::repeat_n("", names.len() - 1));
    row(&mut out, marks, &mean_row(summary));
    out
}

/// The 15-row Dice tables of several evaluated sets side by side: one row per combination
/// (the union of the sets', in table order) and the mean row; per set, Dice WT, TC and ET as
/// fractions (`–` where a set lacks the combination). The mean row of each set averages its
/// own combinations.
pub fn side_by_side_table(sets: &[(String, Vec<(Availability, CombinationSummary)>)]) -> String {
    let mut out = String::new();
    let mut head = String::from("| modalities |");
    for (name, summary) in sets {
        let cases = summary.iter().map(|(_, s)| s.cases).max().unwrap_or(0);
        let _ = write!(head, " {name} WT | {name} TC | {name} ET ({cases} cases) |");
    }
    let _ = writeln!(out, "{head}");
    let _ = writeln!(out, "|---|{}", "---:|".repeat(3 * sets.len()));
    let cells = |s: Option<&CombinationSummary>| match s {
        Some(s) => s.dice.map(|d| format!("{d:.3}")).join(" | "),
        None => "– | – | –".to_owned(),
    };
    for a in Availability::all_combinations() {
        if !sets.iter().any(|(_, sum)| sum.iter().any(|(b, _)| *b == a)) {
            continue;
        }
        let row: Vec<String> = sets
            .iter()
            .map(|(_, sum)| cells(sum.iter().find(|(b, _)| *b == a).map(|(_, s)| s)))
            .collect();
        let _ = writeln!(out, "| {} | {} |", modality_names(a), row.join(" | "));
    }
    let means: Vec<String> = sets
        .iter()
        .map(|(_, sum)| cells(Some(&mean_row(sum))))
        .collect();
    let _ = writeln!(out, "| **mean** | {} |", means.join(" | "));
    out
}

/// The robustness table: per perturbed set, the all-four-modalities Dice for WT, TC, ET and
/// its change against `reference` (the unperturbed set's all-four row), in Dice points.
pub fn robustness_table(
    reference: Option<(&str, &CombinationSummary)>,
    perturbed: &[(String, CombinationSummary)],
) -> String {
    let mut out = String::new();
    match reference {
        Some((name, _)) => {
            let _ = writeln!(
                out,
                "| perturbation | cases | Dice WT | Dice TC | Dice ET | Δ WT | Δ TC | Δ ET (vs {name}) |"
            );
            let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
        }
        None => {
            let _ = writeln!(
                out,
                "| perturbation | cases | Dice WT | Dice TC | Dice ET |"
            );
            let _ = writeln!(out, "|---|---:|---:|---:|---:|");
        }
    }
    if let Some((name, r)) = reference {
        let _ = writeln!(
            out,
            "| none ({name}) | {} | {:.3} | {:.3} | {:.3} | | | |",
            r.cases, r.dice[0], r.dice[1], r.dice[2]
        );
    }
    for (name, s) in perturbed {
        let _ = write!(
            out,
            "| {name} | {} | {:.3} | {:.3} | {:.3} |",
            s.cases, s.dice[0], s.dice[1], s.dice[2]
        );
        if let Some((_, r)) = reference {
            let _ = write!(
                out,
                " {:+.1} | {:+.1} | {:+.1} |",
                100.0 * (s.dice[0] - r.dice[0]),
                100.0 * (s.dice[1] - r.dice[1]),
                100.0 * (s.dice[2] - r.dice[2])
            );
        }
        out.push('\n');
    }
    out
}

/// `T1 + T2`: the present modalities' names.
fn modality_names(a: Availability) -> String {
    Modality::ALL
        .iter()
        .filter(|m| a.has(**m))
        .map(|m| m.name())
        .collect::<Vec<_>>()
        .join(" + ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(dice: f64, hd95: f64) -> MaskMetrics {
        MaskMetrics {
            dice,
            hd95,
            iou: dice / (2.0 - dice),
            sensitivity: 1.0,
            specificity: 1.0,
        }
    }

    #[test]
    fn summary_averages_cases_and_orders_combinations_like_the_paper() {
        let full = Availability::FULL;
        let flair = Availability::parse("0001").expect("code");
        let mut rows = Vec::new();
        for (case, d) in [("a", 0.8), ("b", 0.6)] {
            for region in Region::ALL {
                rows.push(EvalRow {
                    case: case.into(),
                    combination: full,
                    region,
                    metrics: m(d, 2.0),
                    volume_ml: None,
                });
                rows.push(EvalRow {
                    case: case.into(),
                    combination: flair,
                    region,
                    metrics: m(d / 2.0, 4.0),
                    volume_ml: None,
                });
            }
        }
        let s = summarize(&rows);
        assert_eq!(
            s.iter().map(|(a, _)| a.code()).collect::<Vec<_>>(),
            ["0001", "1111"]
        );
        assert!((s[1].1.dice[0] - 0.7).abs() < 1e-12);
        assert!((s[0].1.dice[2] - 0.35).abs() < 1e-12);
        assert_eq!(s[0].1.cases, 2);
        let mean = mean_row(&s);
        assert!((mean.dice[1] - 0.525).abs() < 1e-12);
        assert!((mean.hd95[0] - 3.0).abs() < 1e-12);
        let table = markdown_table(&s);
        assert!(
            table.contains("| ○ | ○ | ○ | ● | 35.00 | 35.00 | 35.00 | 4.00 | 4.00 | 4.00 |"),
            "{table}"
        );
        assert!(table.contains("| **mean** |"), "{table}");
        assert_eq!(table.lines().count(), 2 + 2 + 1);
    }

    fn summary_of(dice: [f64; 3], cases: usize) -> CombinationSummary {
        CombinationSummary {
            dice,
            hd95: [1.0; 3],
            cases,
        }
    }

    #[test]
    fn side_by_side_puts_each_set_in_its_columns_and_marks_what_a_set_lacks() {
        let full = Availability::FULL;
        let t1 = Availability::parse("1000").expect("code");
        let id = vec![
            (t1, summary_of([0.5, 0.4, 0.3], 20)),
            (full, summary_of([0.9, 0.8, 0.7], 20)),
        ];
        let ood = vec![(full, summary_of([0.6, 0.5, 0.25], 24))];
        let table = side_by_side_table(&[("ID".into(), id), ("OOD".into(), ood)]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 2 + 2 + 1, "{table}");
        assert!(lines[0].contains("ID WT") && lines[0].contains("OOD ET (24 cases)"));
        assert_eq!(lines[2], "| T1 | 0.500 | 0.400 | 0.300 | – | – | – |");
        assert_eq!(
            lines[3],
            "| T1 + T1Gd + T2 + FLAIR | 0.900 | 0.800 | 0.700 | 0.600 | 0.500 | 0.250 |"
        );
        // Each set's mean is over its own combinations.
        assert_eq!(
            lines[4],
            "| **mean** | 0.700 | 0.600 | 0.500 | 0.600 | 0.500 | 0.250 |"
        );
    }

    #[test]
    fn robustness_rows_show_the_drop_from_the_reference() {
        let reference = summary_of([0.9, 0.8, 0.7], 20);
        let noisy = summary_of([0.85, 0.8, 0.6], 10);
        let table = robustness_table(Some(("ID", &reference)), &[("noise 8 %".into(), noisy)]);
        assert!(
            table.contains("| noise 8 % | 10 | 0.850 | 0.800 | 0.600 | -5.0 | +0.0 | -10.0 |"),
            "{table}"
        );
        assert!(table.contains("| none (ID) | 20 | 0.900 |"), "{table}");
        let bare = robustness_table(None, &[("bias".into(), noisy)]);
        assert_eq!(bare.lines().count(), 3);
        assert!(!bare.contains('Δ'));
    }

    #[test]
    fn csv_has_one_row_per_record_and_quotes_odd_ids() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("metrics.csv");
        let row = EvalRow {
            case: "odd,id".into(),
            combination: Availability::FULL,
            region: Region::ET,
            metrics: m(0.5, 1.25),
            volume_ml: Some(RegionVolumes {
                predicted: 1.5,
                reference: 0.25,
            }),
        };
        let rows = vec![
            row.clone(),
            EvalRow {
                volume_ml: None,
                ..row
            },
        ];
        write_metrics_csv(&path, &rows).expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(
            text.lines().nth(1),
            Some("\"odd,id\",1111,ET,0.500000,1.2500,0.333333,1.000000,1.000000,1.5000,0.2500")
        );
        assert_eq!(
            text.lines().nth(2),
            Some("\"odd,id\",1111,ET,0.500000,1.2500,0.333333,1.000000,1.000000,,")
        );
    }
}
