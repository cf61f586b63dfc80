//! PNG plots (plotters, bitmap backend, the DejaVu Sans font shipped in `data/fonts`):
//! training curves, Dice per combination and region, and adapter-similarity heatmaps.

use std::path::Path;
use std::sync::Once;

use adamm_volume::brats::Availability;
use plotters::prelude::*;

use crate::error::TrainError;
use crate::report::CombinationSummary;

static FONT: Once = Once::new();
const FONT_BYTES: &[u8] = include_bytes!("../../../data/fonts/DejaVuSans.ttf");

fn register_font() {
    FONT.call_once(|| {
        // The bytes are a valid TrueType file shipped with the crate; a failure would only
        // make text disappear from plots, so it is not fatal.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT_BYTES);
    });
}

fn plot_err(path: &Path) -> impl Fn(String) -> TrainError + '_ {
    move |detail| TrainError::Plot {
        path: path.into(),
        detail,
    }
}

/// One named line of (x, y) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// Points in x order.
    pub points: Vec<(f64, f64)>,
}

/// Line chart of several series (e.g. loss terms over iterations). With `log_y` the y axis is
/// logarithmic and non-positive values are skipped.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_y: bool,
) -> Result<(), TrainError> {
    register_font();
    let e = plot_err(path);
    let pts = || {
        series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|(_, y)| y.is_finite() && (!log_y || *y > 0.0))
    };
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in pts() {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !x0.is_finite() {
        (x0, x1, y0, y1) = (0.0, 1.0, if log_y { 1e-3 } else { 0.0 }, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        y1 = y0 + y0.abs().max(1.0) * 0.1;
    }
    let root = BitMapBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64);
    let colors = [
        &BLUE,
        &RED,
        &GREEN,
        &MAGENTA,
        &CYAN,
        &BLACK,
        &RGBColor(255, 140, 0),
        &RGBColor(128, 0, 128),
        &RGBColor(120, 80, 40),
        &RGBColor(0, 128, 128),
    ];
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(x_label)
                .y_desc(y_label)
                .label_style(("sans-serif", 14))
                .draw()
                .map_err(|x| e(x.to_string()))?;
            for (i, s) in series.iter().enumerate() {
                let c = colors[i % colors.len()];
                let data: Vec<(f64, f64)> = s
                    .points
                    .iter()
                    .copied()
                    .filter(|(_, y)| y.is_finite() && (!log_y || *y > 0.0))
                    .collect();
                chart
                    .draw_series(LineSeries::new(data, c.stroke_width(2)))
                    .map_err(|x| e(x.to_string()))?
                    .label(s.name.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                    });
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 14))
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(|x| e(x.to_string()))?;
        }};
    }
    if log_y {
        draw!(builder
            .build_cartesian_2d(x0..x1, (y0..y1).log_scale())
            .map_err(|x| e(x.to_string()))?);
    } else {
        draw!(builder
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|x| e(x.to_string()))?);
    }
    root.present().map_err(|x| e(x.to_string()))
}

/// Grouped bars: mean Dice per combination (x) for WT, TC and ET, in the paper's colours.
pub fn dice_bars(
    path: &Path,
    title: &str,
    summary: &[(Availability, CombinationSummary)],
) -> Result<(), TrainError> {
    register_font();
    let e = plot_err(path);
    let root = BitMapBackend::new(path, (1280, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
    let n = summary.len().max(1);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(110)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..n as f64, 0f64..1f64)
        .map_err(|x| e(x.to_string()))?;
    let names: Vec<String> = summary.iter().map(|(a, _)| a.name()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_desc("Dice")
        .x_labels(n)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            if (x - x.floor() - 0.0).abs() < 1e-9 {
                names.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_label_style(
            ("sans-serif", 12)
                .into_font()
                .transform(FontTransform::Rotate90),
        )
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|x| e(x.to_string()))?;
    // WT green, TC yellow, ET red (the paper's label colours: edema, core, enhancing).
    let colors = [
        RGBColor(46, 160, 67),
        RGBColor(230, 190, 30),
        RGBColor(210, 40, 40),
    ];
    for (r, (name, color)) in ["WT", "TC", "ET"].iter().zip(colors).enumerate() {
        chart
            .draw_series(summary.iter().enumerate().map(|(i, (_, s))| {
                let x0 = i as f64 + 0.12 + r as f64 * 0.26;
                Rectangle::new(
                    [(x0, 0.0), (x0 + 0.24, s.dice[r].clamp(0.0, 1.0))],
                    color.filled(),
                )
            }))
            .map_err(|x| e(x.to_string()))?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(|x| e(x.to_string()))?;
    root.present().map_err(|x| e(x.to_string()))
}

/// A square heatmap of `matrix` (row-major, values in [−1, 1], e.g. cosine similarities) with
/// the same `labels` on both axes and the value written in each cell.
pub fn heatmap(
    path: &Path,
    title: &str,
    labels: &[String],
    matrix: &[Vec<f64>],
) -> Result<(), TrainError> {
    register_font();
    let e = plot_err(path);
    let n = labels.len();
    if matrix.len() != n || matrix.iter().any(|r| r.len() != n) {
        return Err(e(format!("a {n}×{n} matrix is needed for {n} labels")));
    }
    let root = BitMapBackend::new(path, (900, 860)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(x.to_string()))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(120)
        .y_label_area_size(120)
        .build_cartesian_2d(0f64..n as f64, 0f64..n as f64)
        .map_err(|x| e(x.to_string()))?;
    let lab = |v: &f64| {
        let i = v.floor() as usize;
        if (v - v.floor() - 0.5).abs() < 1e-6 {
            labels.get(i).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    let ylab = |v: &f64| {
        let i = v.floor() as usize;
        if (v - v.floor() - 0.5).abs() < 1e-6 {
            labels
                .get(n.saturating_sub(1 + i))
                .cloned()
                .unwrap_or_default()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(2 * n + 1)
        .y_labels(2 * n + 1)
        .x_label_formatter(&lab)
        .y_label_formatter(&ylab)
        .x_label_style(
            ("sans-serif", 11)
                .into_font()
                .transform(FontTransform::Rotate90),
        )
        .y_label_style(("sans-serif", 11))
        .draw()
        .map_err(|x| e(x.to_string()))?;
    let color = |v: f64| {
        // Diverging blue–white–red.
        let t = v.clamp(-1.0, 1.0);
        if t >= 0.0 {
            RGBColor(255, (255.0 * (1.0 - t)) as u8, (255.0 * (1.0 - t)) as u8)
        } else {
            RGBColor((255.0 * (1.0 + t)) as u8, (255.0 * (1.0 + t)) as u8, 255)
        }
    };
    for (i, row) in matrix.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(j as f64, y), (j as f64 + 1.0, y + 1.0)],
                    color(v).filled(),
                )))
                .map_err(|x| e(x.to_string()))?;
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("{v:.2}"),
                    (j as f64 + 0.12, y + 0.6),
                    ("sans-serif", 10),
                )))
                .map_err(|x| e(x.to_string()))?;
        }
    }
    root.present().map_err(|x| e(x.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_png_with_ink(path: &Path) -> bool {
        let bytes = std::fs::read(path).expect("written");
        // PNG signature, and a file larger than a blank image of that size compresses to.
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 4000
    }

    #[test]
    fn all_three_plots_write_pngs() {
        let dir = tempfile::tempdir().expect("tmp");
        let curves = dir.path().join("curves.png");
        let s = vec![
            Series {
                name: "loss".into(),
                points: (1..50).map(|i| (i as f64, 1.0 / i as f64)).collect(),
            },
            Series {
                name: "dice".into(),
                points: (1..50).map(|i| (i as f64, 0.01 * i as f64)).collect(),
            },
        ];
        line_chart(&curves, "training", "iteration", "value", &s, true).expect("plot");
        assert!(is_png_with_ink(&curves));
        let bars = dir.path().join("dice.png");
        let summary: Vec<_> = Availability::all_combinations()
            .into_iter()
            .enumerate()
            .map(|(i, a)| {
                (
                    a,
                    CombinationSummary {
                        dice: [0.5 + 0.03 * i as f64, 0.4, 0.3],
                        hd95: [1.0; 3],
                        cases: 2,
                    },
                )
            })
            .collect();
        dice_bars(&bars, "Dice", &summary).expect("plot");
        assert!(is_png_with_ink(&bars));
        let heat = dir.path().join("heat.png");
        let labels: Vec<String> = (0..4).map(|i| format!("c{i}")).collect();
        let m: Vec<Vec<f64>> = (0..4)
            .map(|i| (0..4).map(|j| if i == j { 1.0 } else { -0.3 }).collect())
            .collect();
        heatmap(&heat, "cosine", &labels, &m).expect("plot");
        assert!(is_png_with_ink(&heat));
        assert!(heatmap(&heat, "bad", &labels, &m[..3]).is_err());
    }
}
