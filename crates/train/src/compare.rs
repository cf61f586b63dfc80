//! Paired comparison of two evaluations (`adamm compare`), for ablations such as "does the
//! teacher earn its place?".
//!
//! Both evaluations' `metrics.csv` rows are paired by (case, combination, region); the two
//! must hold the same cases. For each region the comparison reports the mean Dice of A and B
//! (the mean over cases of each case's mean over the chosen combinations), the mean paired
//! difference A − B, a 95 % percentile bootstrap interval of that difference, and the number
//! of cases where A beats B; then the same for the all-four-modalities combination (1111)
//! alone.
//!
//! The unit of pairing, and of resampling, is the **case**: the bootstrap draws cases with
//! replacement and every combination of a drawn case comes with it. The 15 combinations of
//! one case share its anatomy and tumour, so their differences are strongly correlated;
//! resampling rows as if they were independent would give intervals about √15 times too
//! narrow.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use adamm_volume::brats::{Availability, Region};
use adamm_volume::metrics::MaskMetrics;
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::TrainError;
use crate::report::{EvalRow, RegionVolumes};

/// The confidence level of the reported intervals (95 %).
pub const CONFIDENCE: f64 = 0.95;

/// The columns of `metrics.csv` (see [`crate::report::write_metrics_csv`]).
const COLUMNS: [&str; 8] = [
    "case",
    "combination",
    "region",
    "dice",
    "hd95",
    "iou",
    "sensitivity",
    "specificity",
];

/// The volume columns of `metrics.csv`, absent from files written before them.
const VOLUME_COLUMNS: [&str; 2] = ["predicted_ml", "reference_ml"];

/// Reads an evaluation's `metrics.csv` (as [`crate::report::write_metrics_csv`] writes it).
///
/// Refuses, naming the file and line, a missing column, a row with the wrong number of
/// fields, an unknown combination or region, a metric that is not a finite number (NaN
/// included), a Dice outside [0, 1], a (case, combination, region) given twice, and a file
/// without rows.
pub fn read_metrics_csv(path: &Path) -> Result<Vec<EvalRow>, TrainError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    parse_metrics_csv(path, &text)
}

/// Parses the text of a `metrics.csv`; `path` names the file in errors.
pub fn parse_metrics_csv(path: &Path, text: &str) -> Result<Vec<EvalRow>, TrainError> {
    let bad = |line: usize, detail: String| TrainError::MetricsCsv {
        path: path.into(),
        line,
        detail,
    };
    let mut records = csv_records(text)
        .map_err(|(line, detail)| bad(line, detail))?
        .into_iter();
    let Some((header_line, header)) = records.next() else {
        return Err(bad(
            1,
            format!("empty file; expected the header `{}`", COLUMNS.join(",")),
        ));
    };
    let mut index = [0usize; COLUMNS.len()];
    for (slot, name) in index.iter_mut().zip(COLUMNS) {
        *slot = header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| {
                bad(
                    header_line,
                    format!(
                        "no `{name}` column in the header (an `adamm eval` metrics.csv starts \
                         with `{}`)",
                        COLUMNS.join(",")
                    ),
                )
            })?;
    }
    let volume_index: Option<[usize; 2]> =
        match VOLUME_COLUMNS.map(|name| header.iter().position(|h| h.trim() == name)) {
            [Some(p), Some(r)] => Some([p, r]),
            [None, None] => None,
            _ => {
                return Err(bad(
                    header_line,
                    format!(
                        "the header has one of `{}` without the other",
                        VOLUME_COLUMNS.join("`, `")
                    ),
                ))
            }
        };
    let mut first_seen: BTreeMap<Key, usize> = BTreeMap::new();
    let mut rows = Vec::new();
    for (line, fields) in records {
        if fields.len() == 1 && fields[0].trim().is_empty() {
            continue; // a blank line
        }
        if fields.len() != header.len() {
            return Err(bad(
                line,
                format!(
                    "{} fields where the header has {}",
                    fields.len(),
                    header.len()
                ),
            ));
        }
        let field = |column: usize| fields[index[column]].as_str();
        let case = field(0).to_string();
        if case.trim().is_empty() {
            return Err(bad(line, "empty case id".into()));
        }
        let combination = Availability::parse(field(1)).map_err(|e| bad(line, e.to_string()))?;
        let region = Region::ALL
            .into_iter()
            .find(|r| r.name() == field(2).trim())
            .ok_or_else(|| {
                bad(
                    line,
                    format!("region {:?} is not one of WT, TC, ET", field(2)),
                )
            })?;
        let number = |column: usize| -> Result<f64, TrainError> {
            let text = field(column).trim();
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(v),
                Ok(_) => Err(bad(
                    line,
                    format!("{} is {text}, not a finite number", COLUMNS[column]),
                )),
                Err(_) => Err(bad(
                    line,
                    format!("{} {text:?} is not a number", COLUMNS[column]),
                )),
            }
        };
        let metrics = MaskMetrics {
            dice: number(3)?,
            hd95: number(4)?,
            iou: number(5)?,
            sensitivity: number(6)?,
            specificity: number(7)?,
        };
        if !(0.0..=1.0).contains(&metrics.dice) {
            return Err(bad(
                line,
                format!("dice {} is outside [0, 1]", metrics.dice),
            ));
        }
        let volume = |column: usize, name: &str| -> Result<Option<f64>, TrainError> {
            let text = fields[column].trim();
            if text.is_empty() {
                return Ok(None);
            }
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
                _ => Err(bad(
                    line,
                    format!("{name} {text:?} is not a volume (a number of mL, 0 or more)"),
                )),
            }
        };
        let volume_ml = match volume_index {
            None => None,
            Some([p, r]) => match (volume(p, VOLUME_COLUMNS[0])?, volume(r, VOLUME_COLUMNS[1])?) {
                (Some(predicted), Some(reference)) => Some(RegionVolumes {
                    predicted,
                    reference,
                }),
                (None, None) => None,
                _ => return Err(bad(line, "one volume given without the other".into())),
            },
        };
        if let Some(before) = first_seen.insert((case.clone(), combination, region), line) {
            return Err(bad(
                line,
                format!(
                    "case {case}, combination {combination}, region {} was already given on \
                     line {before}",
                    region.name()
                ),
            ));
        }
        rows.push(EvalRow {
            case,
            combination,
            region,
            metrics,
            volume_ml,
        });
    }
    if rows.is_empty() {
        return Err(bad(header_line, "no rows after the header".into()));
    }
    Ok(rows)
}

/// A CSV record: the line it starts on and its fields.
type Record = (usize, Vec<String>);

/// Splits CSV text into records of fields (RFC 4180 quoting: `"…"`, `""` inside quotes),
/// each with the line it starts on. Errors: (line, what is wrong).
fn csv_records(text: &str) -> Result<Vec<Record>, (usize, String)> {
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut at_field_start = true;
        loop {
            let Some(c) = chars.next() else {
                if quoted {
                    return Err((start, "a quoted field is not closed".into()));
                }
                fields.push(field);
                break;
            };
            if quoted {
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        field.push('"');
                    } else {
                        quoted = false;
                    }
                } else {
                    if c == '\n' {
                        line += 1;
                    }
                    field.push(c);
                }
                continue;
            }
            match c {
                '"' if at_field_start => {
                    quoted = true;
                    at_field_start = false;
                }
                ',' => {
                    fields.push(std::mem::take(&mut field));
                    at_field_start = true;
                }
                '\n' => {
                    line += 1;
                    fields.push(field);
                    break;
                }
                '\r' if chars.peek() == Some(&'\n') => {}
                c => {
                    field.push(c);
                    at_field_start = false;
                }
            }
        }
        records.push((start, fields));
    }
    Ok(records)
}

/// One evaluation to compare: a name for tables and messages, and its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The name shown in tables and messages (e.g. `teacher`, `no-teacher`).
    pub name: String,
    /// Its `metrics.csv` rows.
    pub rows: Vec<EvalRow>,
}

/// How to compare.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareOptions {
    /// The combinations to average over; `None`: every combination the evaluations hold.
    pub combinations: Option<Vec<Availability>>,
    /// Bootstrap resamples (at least 1; 10 000 is customary).
    pub resamples: usize,
    /// Seed of the bootstrap's generator: the same seed gives the same intervals.
    pub seed: u64,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            combinations: None,
            resamples: 10_000,
            seed: 0,
        }
    }
}

/// The comparison of one region over one selection of combinations. Dice values are
/// fractions (0–1).
#[derive(Debug, Clone, PartialEq)]
pub struct RegionComparison {
    /// The region.
    pub region: Region,
    /// Cases compared.
    pub cases: usize,
    /// Mean Dice of A: the mean over cases of each case's mean over the combinations.
    pub mean_a: f64,
    /// Mean Dice of B, likewise.
    pub mean_b: f64,
    /// Mean paired difference A − B (over cases).
    pub difference: f64,
    /// The [`CONFIDENCE`] percentile bootstrap interval of `difference` (cases resampled).
    pub interval: (f64, f64),
    /// Cases where A's Dice is higher than B's.
    pub a_better: usize,
}

/// The paired comparison of two evaluations.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Name of evaluation A.
    pub name_a: String,
    /// Name of evaluation B.
    pub name_b: String,
    /// Cases both hold.
    pub cases: usize,
    /// The combinations averaged over, in table order.
    pub combinations: Vec<Availability>,
    /// Bootstrap resamples.
    pub resamples: usize,
    /// Bootstrap seed.
    pub seed: u64,
    /// Per region (WT, TC, ET), over the combinations.
    pub over_combinations: Vec<RegionComparison>,
    /// Per region, for all four modalities (1111) alone; empty when 1111 is not compared.
    pub all_four: Vec<RegionComparison>,
}

/// Pairs the rows of `a` and `b` by (case, combination, region) and compares their Dice.
///
/// Refuses two evaluations without a common case ([`TrainError::NoCommonCases`]), of
/// different case sets ([`TrainError::DifferentCases`], naming the cases only one holds),
/// and rows that cannot be paired ([`TrainError::Unpaired`]: a requested combination one of
/// them lacks, a (case, combination, region) only one holds or one holds twice). A case
/// evaluated on fewer combinations (`adamm eval` skips those needing a modality the case
/// lacks) is averaged over those it has, in both evaluations alike.
pub fn compare(
    a: &Evaluation,
    b: &Evaluation,
    options: &CompareOptions,
) -> Result<Comparison, TrainError> {
    if options.resamples == 0 {
        return Err(TrainError::Invalid(
            "the bootstrap needs at least one resample".into(),
        ));
    }
    let cases =
        |e: &Evaluation| -> BTreeSet<String> { e.rows.iter().map(|r| r.case.clone()).collect() };
    let (cases_a, cases_b) = (cases(a), cases(b));
    if cases_a.is_disjoint(&cases_b) {
        return Err(TrainError::NoCommonCases {
            a: a.name.clone(),
            b: b.name.clone(),
        });
    }
    if cases_a != cases_b {
        return Err(TrainError::DifferentCases {
            a: a.name.clone(),
            b: b.name.clone(),
            only_a: cases_a.difference(&cases_b).cloned().collect(),
            only_b: cases_b.difference(&cases_a).cloned().collect(),
        });
    }
    let held = |e: &Evaluation| -> BTreeSet<Availability> {
        e.rows.iter().map(|r| r.combination).collect()
    };
    let (held_a, held_b) = (held(a), held(b));
    let combinations: Vec<Availability> = match &options.combinations {
        Some(wanted) => {
            for c in wanted {
                for (e, held) in [(a, &held_a), (b, &held_b)] {
                    if !held.contains(c) {
                        return Err(TrainError::Unpaired(format!(
                            "{} has no combination {c} (it has {})",
                            e.name,
                            codes(held)
                        )));
                    }
                }
            }
            Availability::all_combinations()
                .into_iter()
                .filter(|c| wanted.contains(c))
                .collect()
        }
        None => Availability::all_combinations()
            .into_iter()
            .filter(|c| held_a.contains(c) || held_b.contains(c))
            .collect(),
    };
    let dice_a = dice_by_key(a, &combinations)?;
    let dice_b = dice_by_key(b, &combinations)?;
    for (x, map_x, y, map_y) in [(a, &dice_a, b, &dice_b), (b, &dice_b, a, &dice_a)] {
        let missing: Vec<&Key> = map_x.keys().filter(|k| !map_y.contains_key(*k)).collect();
        if let Some((case, combination, region)) = missing.first() {
            return Err(TrainError::Unpaired(format!(
                "case {case} has combination {combination}, region {} in {} but not in {}{}; \
                 compare only combinations both hold",
                region.name(),
                x.name,
                y.name,
                if missing.len() > 1 {
                    format!(" ({} such rows in all)", missing.len())
                } else {
                    String::new()
                }
            )));
        }
    }
    // Per region: per case, the (A, B) Dice of each compared combination.
    let mut per_case: BTreeMap<Region, ByCase> = BTreeMap::new();
    for ((case, combination, region), &da) in &dice_a {
        let db = dice_b
            .get(&(case.clone(), *combination, *region))
            .copied()
            .unwrap_or(f64::NAN); // both key sets were checked equal above
        per_case
            .entry(*region)
            .or_default()
            .entry(case.as_str())
            .or_default()
            .push((*combination, da, db));
    }
    let mut over_combinations = Vec::new();
    let mut all_four = Vec::new();
    for region in Region::ALL {
        let Some(by_case) = per_case.get(&region) else {
            continue;
        };
        let means: Vec<(f64, f64)> = by_case
            .values()
            .map(|values| {
                let n = values.len() as f64;
                let (sa, sb) = values
                    .iter()
                    .fold((0.0, 0.0), |(sa, sb), (_, da, db)| (sa + da, sb + db));
                (sa / n, sb / n)
            })
            .collect();
        over_combinations.push(region_comparison(region, &means, options)?);
        let full: Vec<(f64, f64)> = by_case
            .values()
            .filter_map(|values| {
                values
                    .iter()
                    .find(|(c, _, _)| *c == Availability::FULL)
                    .map(|&(_, da, db)| (da, db))
            })
            .collect();
        if !full.is_empty() {
            all_four.push(region_comparison(region, &full, options)?);
        }
    }
    Ok(Comparison {
        name_a: a.name.clone(),
        name_b: b.name.clone(),
        cases: cases_a.len(),
        combinations,
        resamples: options.resamples,
        seed: options.seed,
        over_combinations,
        all_four,
    })
}

/// Per case, the (combination, Dice of A, Dice of B) of one region.
type ByCase<'a> = BTreeMap<&'a str, Vec<(Availability, f64, f64)>>;

/// A row's pairing key: (case, combination, region).
type Key = (String, Availability, Region);

/// An evaluation's Dice by (case, combination, region), restricted to `combinations`.
fn dice_by_key(
    e: &Evaluation,
    combinations: &[Availability],
) -> Result<BTreeMap<Key, f64>, TrainError> {
    let mut map = BTreeMap::new();
    for r in e
        .rows
        .iter()
        .filter(|r| combinations.contains(&r.combination))
    {
        if !r.metrics.dice.is_finite() {
            return Err(TrainError::Unpaired(format!(
                "{}: case {}, combination {}, region {} has Dice {}",
                e.name,
                r.case,
                r.combination,
                r.region.name(),
                r.metrics.dice
            )));
        }
        if map
            .insert((r.case.clone(), r.combination, r.region), r.metrics.dice)
            .is_some()
        {
            return Err(TrainError::Unpaired(format!(
                "{} holds case {}, combination {}, region {} twice",
                e.name,
                r.case,
                r.combination,
                r.region.name()
            )));
        }
    }
    Ok(map)
}

/// Space-separated codes, in table order.
fn codes(set: &BTreeSet<Availability>) -> String {
    Availability::all_combinations()
        .into_iter()
        .filter(|c| set.contains(c))
        .map(|c| c.code())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Means, paired difference, bootstrap interval and wins from per-case (A, B) values.
fn region_comparison(
    region: Region,
    per_case: &[(f64, f64)],
    options: &CompareOptions,
) -> Result<RegionComparison, TrainError> {
    let n = per_case.len() as f64;
    let differences: Vec<f64> = per_case.iter().map(|(a, b)| a - b).collect();
    Ok(RegionComparison {
        region,
        cases: per_case.len(),
        mean_a: per_case.iter().map(|(a, _)| a).sum::<f64>() / n,
        mean_b: per_case.iter().map(|(_, b)| b).sum::<f64>() / n,
        difference: differences.iter().sum::<f64>() / n,
        interval: bootstrap_interval(&differences, options.resamples, options.seed, CONFIDENCE)?,
        a_better: per_case.iter().filter(|(a, b)| a > b).count(),
    })
}

/// The percentile bootstrap interval at `confidence` (e.g. 0.95) of the mean of
/// `per_case`, one value per case (a case's paired difference): `resamples` times, draw as
/// many cases as there are with replacement and take the mean of their values; the interval
/// is the (1 − confidence)/2 and (1 + confidence)/2 quantiles of those means (linearly
/// interpolated, as numpy's default). Deterministic given `seed`.
pub fn bootstrap_interval(
    per_case: &[f64],
    resamples: usize,
    seed: u64,
    confidence: f64,
) -> Result<(f64, f64), TrainError> {
    if per_case.is_empty() || resamples == 0 {
        return Err(TrainError::Invalid(
            "the bootstrap needs at least one case and one resample".into(),
        ));
    }
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(TrainError::Invalid(format!(
            "confidence {confidence} is not in (0, 1)"
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = per_case.len();
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| {
            let sum: f64 = (0..n).map(|_| per_case[uniform_index(&mut rng, n)]).sum();
            sum / n as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let tail = (1.0 - confidence) / 2.0;
    Ok((quantile(&means, tail), quantile(&means, 1.0 - tail)))
}

/// An index in `0..n` (n ≥ 1), uniform up to a bias of n / 2⁶⁴ (Lemire's multiply-shift).
fn uniform_index(rng: &mut ChaCha8Rng, n: usize) -> usize {
    ((u128::from(rng.next_u64()) * n as u128) >> 64) as usize
}

/// The `q` quantile of sorted, non-empty `values`, linearly interpolated (numpy's default).
fn quantile(values: &[f64], q: f64) -> f64 {
    let h = (values.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(values.len() - 1);
    values[lo] + (h - lo as f64) * (values[hi] - values[lo])
}

impl Comparison {
    /// The comparison as Markdown: a sentence saying what was compared, then a table per
    /// selection (mean over the combinations; all four modalities, when compared) with
    /// columns region | A | B | A − B | 95 % interval | cases A > B. Dice in %, differences
    /// in percentage points.
    pub fn markdown(&self) -> String {
        let (a, b) = (escape(&self.name_a), escape(&self.name_b));
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Paired comparison of **{a}** and **{b}** on {} cases: Dice (%) per region, {a} − {b} \
             in percentage points with its {:.0} % percentile bootstrap interval over cases \
             ({} resamples, seed {}; a case's combinations are resampled together).",
            self.cases,
            100.0 * CONFIDENCE,
            self.resamples,
            self.seed
        );
        let table = |out: &mut String, title: String, rows: &[RegionComparison]| {
            let _ = writeln!(out, "\n**{title}**\n");
            let _ = writeln!(
                out,
                "| region | {a} | {b} | {a} − {b} | {:.0} % interval | cases {a} > {b} |",
                100.0 * CONFIDENCE
            );
            let _ = writeln!(out, "|---|---|---|---|---|---|");
            for r in rows {
                let _ = writeln!(
                    out,
                    "| {} | {:.2} | {:.2} | {} | [{}, {}] | {} / {} |",
                    r.region.name(),
                    100.0 * r.mean_a,
                    100.0 * r.mean_b,
                    signed(r.difference),
                    signed(r.interval.0),
                    signed(r.interval.1),
                    r.a_better,
                    r.cases
                );
            }
        };
        let n = self.combinations.len();
        let title = if n == 1 {
            format!("Combination {}", self.combinations[0])
        } else {
            format!("Mean over {n} combinations")
        };
        table(&mut out, title, &self.over_combinations);
        if self.all_four.is_empty() {
            let _ = writeln!(out, "\nAll four modalities (1111) were not compared.");
        } else {
            table(
                &mut out,
                "All four modalities (1111)".into(),
                &self.all_four,
            );
        }
        out
    }
}

/// A difference (a fraction) in percentage points with its sign; no `-0.00`.
fn signed(x: f64) -> String {
    let text = format!("{:+.2}", 100.0 * x);
    if text == "-0.00" {
        "+0.00".into()
    } else {
        text
    }
}

/// A name fit for a Markdown table cell.
fn escape(name: &str) -> String {
    name.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::write_metrics_csv;

    fn metrics(dice: f64) -> MaskMetrics {
        MaskMetrics {
            dice,
            hd95: 3.0,
            iou: dice / (2.0 - dice),
            sensitivity: 0.9,
            specificity: 0.99,
        }
    }

    /// Rows for every case × combination × region, Dice from `dice(case index, combination
    /// index, region index)`.
    fn rows(
        cases: &[&str],
        combinations: &[Availability],
        dice: impl Fn(usize, usize, usize) -> f64,
    ) -> Vec<EvalRow> {
        let mut out = Vec::new();
        for (i, case) in cases.iter().enumerate() {
            for (j, &combination) in combinations.iter().enumerate() {
                for (k, region) in Region::ALL.into_iter().enumerate() {
                    out.push(EvalRow {
                        case: (*case).into(),
                        combination,
                        region,
                        metrics: metrics(dice(i, j, k)),
                        volume_ml: None,
                    });
                }
            }
        }
        out
    }

    fn eval(name: &str, rows: Vec<EvalRow>) -> Evaluation {
        Evaluation {
            name: name.into(),
            rows,
        }
    }

    const CASES: [&str; 8] = ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"];

    #[test]
    fn a_constant_lead_gives_that_difference_and_a_collapsed_interval() {
        let all = Availability::all_combinations();
        let base =
            |i: usize, j: usize, k: usize| 0.5 + 0.03 * i as f64 + 0.01 * j as f64 - 0.1 * k as f64;
        let a = eval("A", rows(&CASES, &all, base));
        let b = eval("B", rows(&CASES, &all, |i, j, k| base(i, j, k) - 0.05));
        let c = compare(&a, &b, &CompareOptions::default()).expect("compare");
        assert_eq!(c.cases, 8);
        assert_eq!(c.combinations.len(), 15);
        assert_eq!(c.over_combinations.len(), 3);
        assert_eq!(c.all_four.len(), 3);
        for r in c.over_combinations.iter().chain(&c.all_four) {
            assert!((r.difference - 0.05).abs() < 1e-12, "{r:?}");
            assert!((r.mean_a - r.mean_b - 0.05).abs() < 1e-12, "{r:?}");
            assert!((r.interval.0 - 0.05).abs() < 1e-12, "{r:?}");
            assert!((r.interval.1 - 0.05).abs() < 1e-12, "{r:?}");
            assert_eq!((r.a_better, r.cases), (8, 8));
        }
        // Mean over combinations of WT: mean over cases (0.5 + 0.03 i) plus the mean 0.01 j.
        let wt = &c.over_combinations[0];
        assert_eq!(wt.region, Region::WT);
        assert!((wt.mean_a - (0.5 + 0.03 * 3.5 + 0.01 * 7.0)).abs() < 1e-12);
        // 1111 is the last combination in table order: j = 14.
        let full_et = &c.all_four[2];
        assert_eq!(full_et.region, Region::ET);
        assert!((full_et.mean_a - (0.5 + 0.03 * 3.5 + 0.14 - 0.2)).abs() < 1e-12);
        let table = c.markdown();
        assert!(
            table.contains("| region | A | B | A − B | 95 % interval | cases A > B |"),
            "{table}"
        );
        assert!(
            table.contains("| +5.00 | [+5.00, +5.00] | 8 / 8 |"),
            "{table}"
        );
        assert!(table.contains("**Mean over 15 combinations**"), "{table}");
        assert!(table.contains("**All four modalities (1111)**"), "{table}");
    }

    #[test]
    fn differences_of_mixed_sign_give_an_interval_holding_zero() {
        let full = [Availability::FULL];
        let lead = [0.04, -0.03, 0.02, -0.05, 0.03, -0.01, 0.05, -0.04];
        let a = eval("A", rows(&CASES, &full, |i, _, _| 0.7 + lead[i]));
        let b = eval("B", rows(&CASES, &full, |_, _, _| 0.7));
        let c = compare(&a, &b, &CompareOptions::default()).expect("compare");
        for r in c.over_combinations.iter().chain(&c.all_four) {
            assert!(r.interval.0 < 0.0 && 0.0 < r.interval.1, "{r:?}");
            assert!(r.interval.0 <= r.difference && r.difference <= r.interval.1);
            assert!((r.difference - 0.00125).abs() < 1e-12, "{r:?}");
            assert_eq!(r.a_better, 4);
        }
    }

    /// A row-level bootstrap, the wrong one: rows drawn independently.
    fn row_bootstrap(differences: &[f64], resamples: usize, seed: u64) -> (f64, f64) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = differences.len();
        let mut means: Vec<f64> = (0..resamples)
            .map(|_| {
                (0..n)
                    .map(|_| differences[uniform_index(&mut rng, n)])
                    .sum::<f64>()
                    / n as f64
            })
            .collect();
        means.sort_by(f64::total_cmp);
        (quantile(&means, 0.025), quantile(&means, 0.975))
    }

    #[test]
    fn the_bootstrap_is_seeded_and_resamples_cases_not_rows() {
        // Each case's lead is the same on all 15 combinations: the combinations of a case
        // are one observation, not 15.
        let all = Availability::all_combinations();
        let lead = [0.10, -0.05, 0.08, -0.02, 0.12, 0.0, -0.06, 0.09];
        let a = eval("A", rows(&CASES, &all, |i, _, _| 0.6 + lead[i]));
        let b = eval("B", rows(&CASES, &all, |_, _, _| 0.6));
        let options = CompareOptions {
            combinations: None,
            resamples: 4000,
            seed: 7,
        };
        let c = compare(&a, &b, &options).expect("compare");
        assert_eq!(c, compare(&a, &b, &options).expect("again"), "same seed");
        let other = compare(
            &a,
            &b,
            &CompareOptions {
                seed: 8,
                ..options.clone()
            },
        )
        .expect("other seed");
        assert_ne!(
            c.over_combinations[0].interval,
            other.over_combinations[0].interval
        );

        // Case-level: the same as the bootstrap of the 8 per-case leads.
        let wt = &c.over_combinations[0];
        let by_case =
            bootstrap_interval(&lead.map(|l| (0.6 + l) - 0.6), 4000, 7, 0.95).expect("ci");
        assert!(
            (wt.interval.0 - by_case.0).abs() < 1e-12,
            "{wt:?} {by_case:?}"
        );
        assert!(
            (wt.interval.1 - by_case.1).abs() < 1e-12,
            "{wt:?} {by_case:?}"
        );
        // ... and the same as comparing one combination per case.
        let one = [Availability::FULL];
        let c1 = compare(
            &eval("A", rows(&CASES, &one, |i, _, _| 0.6 + lead[i])),
            &eval("B", rows(&CASES, &one, |_, _, _| 0.6)),
            &options,
        )
        .expect("one combination");
        assert!((c1.over_combinations[0].interval.0 - wt.interval.0).abs() < 1e-12);
        assert!((c1.over_combinations[0].interval.1 - wt.interval.1).abs() < 1e-12);

        // Resampling the 120 rows as independent would claim an interval about √15 narrower.
        let rows_wt: Vec<f64> = lead.iter().flat_map(|&l| [l; 15]).collect();
        let by_row = row_bootstrap(&rows_wt, 4000, 7);
        let case_width = wt.interval.1 - wt.interval.0;
        let row_width = by_row.1 - by_row.0;
        assert!(
            case_width > 2.5 * row_width,
            "case-level width {case_width}, row-level width {row_width}"
        );
        // The case-level width is near the normal approximation 2 · 1.96 · sd / √n.
        let mean = lead.iter().sum::<f64>() / 8.0;
        let sd = (lead.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / 8.0).sqrt();
        let normal = 2.0 * 1.96 * sd / 8f64.sqrt();
        assert!(
            (case_width / normal - 1.0).abs() < 0.2,
            "case-level width {case_width}, normal approximation {normal}"
        );
    }

    #[test]
    fn different_case_sets_are_refused_naming_the_cases() {
        let full = [Availability::FULL];
        let a = eval("teacher", rows(&["a", "b", "c"], &full, |_, _, _| 0.8));
        let b = eval("no-teacher", rows(&["a", "b", "d"], &full, |_, _, _| 0.8));
        let e = compare(&a, &b, &CompareOptions::default()).expect_err("refused");
        assert!(
            matches!(&e, TrainError::DifferentCases { only_a, only_b, .. }
                if only_a == &["c"] && only_b == &["d"]),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(msg.contains("only in teacher: c;"), "{msg}");
        assert!(msg.contains("only in no-teacher: d)"), "{msg}");

        let c = eval("other", rows(&["x", "y"], &full, |_, _, _| 0.8));
        let e = compare(&a, &c, &CompareOptions::default()).expect_err("refused");
        assert!(matches!(e, TrainError::NoCommonCases { .. }), "{e:?}");
        assert!(
            e.to_string().contains("teacher and other share no case"),
            "{e}"
        );
    }

    #[test]
    fn unpaired_rows_and_missing_combinations_are_refused() {
        let all = Availability::all_combinations();
        let full = [Availability::FULL];
        let flair = Availability::parse("0001").expect("code");
        let a = eval("A", rows(&["a", "b"], &all, |_, _, _| 0.8));
        let mut b = eval("B", rows(&["a", "b"], &all, |_, _, _| 0.7));
        b.rows
            .retain(|r| !(r.case == "b" && r.combination == flair && r.region == Region::TC));
        let e = compare(&a, &b, &CompareOptions::default()).expect_err("refused");
        let msg = e.to_string();
        assert!(
            msg.contains("case b has combination 0001, region TC in A but not in B"),
            "{msg}"
        );
        // Restricting to 1111 pairs what is there.
        let only_full = CompareOptions {
            combinations: Some(full.to_vec()),
            ..CompareOptions::default()
        };
        let c = compare(&a, &b, &only_full).expect("1111 pairs");
        assert_eq!(c.combinations, full);
        assert!((c.over_combinations[1].difference - 0.1).abs() < 1e-12);
        // A combination one evaluation lacks.
        let small = eval("small", rows(&["a", "b"], &full, |_, _, _| 0.7));
        let flair_only = CompareOptions {
            combinations: Some(vec![flair]),
            ..CompareOptions::default()
        };
        let e = compare(&a, &small, &flair_only).expect_err("refused");
        assert!(
            e.to_string()
                .contains("small has no combination 0001 (it has 1111)"),
            "{e}"
        );
        // A row given twice.
        let mut twice = a.clone();
        twice.rows.push(twice.rows[0].clone());
        let e = compare(&twice, &a, &CompareOptions::default()).expect_err("refused");
        assert!(e.to_string().contains("twice"), "{e}");
        // Without 1111 there is no all-four table.
        let c = compare(
            &a,
            &eval("B", rows(&["a", "b"], &all, |_, _, _| 0.7)),
            &flair_only,
        )
        .expect("0001");
        assert!(c.all_four.is_empty());
        assert!(c.markdown().contains("were not compared"));
    }

    #[test]
    fn metrics_csv_round_trips_and_bad_lines_are_named() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("metrics.csv");
        let mut written = rows(
            &["odd,\"id\"", "plain"],
            &[Availability::FULL],
            |i, _, k| 0.25 * (i + k) as f64,
        );
        written[0].metrics.iou = 0.5;
        written[1].volume_ml = Some(RegionVolumes {
            predicted: 12.5,
            reference: 0.0,
        });
        write_metrics_csv(&path, &written).expect("write");
        let read = read_metrics_csv(&path).expect("read");
        assert_eq!(read.len(), written.len());
        for (r, w) in read.iter().zip(&written) {
            assert_eq!(
                (&r.case, r.combination, r.region),
                (&w.case, w.combination, w.region)
            );
            assert!((r.metrics.dice - w.metrics.dice).abs() < 1e-6);
            assert!((r.metrics.iou - w.metrics.iou).abs() < 1e-6);
            assert_eq!(r.volume_ml, w.volume_ml);
        }

        let header = "case,combination,region,dice,hd95,iou,sensitivity,specificity\n";
        let good = "x,1111,WT,0.5,1.0,0.3,0.9,0.99\n";
        let check = |body: &str, line: usize, wanted: &str| {
            let e = parse_metrics_csv(&path, &format!("{header}{good}{body}")).expect_err(body);
            assert!(
                matches!(&e, TrainError::MetricsCsv { line: l, .. } if *l == line),
                "{e:?}"
            );
            let msg = e.to_string();
            assert!(
                msg.contains(&format!("metrics.csv, line {line}: ")),
                "{msg}"
            );
            assert!(msg.contains(wanted), "{msg}");
        };
        check("x,1111,TC,NaN,1.0,0.3,0.9,0.99\n", 3, "dice is NaN");
        check(
            "x,1111,TC,0.5,abc,0.3,0.9,0.99\n",
            3,
            "hd95 \"abc\" is not a number",
        );
        check(
            "\"multi\nline\",1111,TC,0.5,1,0.3,0.9,0.99\ny,1111,WT,,1,0.3,0.9,0.99\n",
            5,
            "dice \"\"",
        );
        check("x,1111,ZZ,0.5,1,0.3,0.9,0.99\n", 3, "region \"ZZ\"");
        check("x,0000,TC,0.5,1,0.3,0.9,0.99\n", 3, "0000");
        check(
            "x,1111,TC,0.5,1,0.3\n",
            3,
            "6 fields where the header has 8",
        );
        check(
            "x,1111,WT,0.6,1,0.3,0.9,0.99\n",
            3,
            "already given on line 2",
        );
        check("x,1111,TC,1.5,1,0.3,0.9,0.99\n", 3, "outside [0, 1]");
        // Files from before the volume columns still read; the columns come in pairs.
        let old = parse_metrics_csv(&path, &format!("{header}{good}")).expect("old file");
        assert_eq!(old[0].volume_ml, None);
        let with = "case,combination,region,dice,hd95,iou,sensitivity,specificity,predicted_ml,\
                    reference_ml\n";
        let e = parse_metrics_csv(&path, &format!("{with}x,1111,WT,0.5,1,0.3,0.9,0.99,-1,2\n"))
            .expect_err("negative volume");
        assert!(
            e.to_string()
                .contains("predicted_ml \"-1\" is not a volume"),
            "{e}"
        );
        let e = parse_metrics_csv(&path, &format!("{with}x,1111,WT,0.5,1,0.3,0.9,0.99,1,\n"))
            .expect_err("one volume");
        assert!(
            e.to_string().contains("one volume given without the other"),
            "{e}"
        );
        let half = "case,combination,region,dice,hd95,iou,sensitivity,specificity,predicted_ml\n";
        let e = parse_metrics_csv(&path, &format!("{half}x,1111,WT,0.5,1,0.3,0.9,0.99,1\n"))
            .expect_err("one column");
        assert!(e.to_string().contains("without the other"), "{e}");
        let e = parse_metrics_csv(&path, "case,region,dice\n").expect_err("no columns");
        assert!(e.to_string().contains("no `combination` column"), "{e}");
        let e = parse_metrics_csv(&path, header).expect_err("no rows");
        assert!(e.to_string().contains("no rows"), "{e}");
    }
}
