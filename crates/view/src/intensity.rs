//! Intensity windows: which voxel values the views draw black, white and grey in between.
//! Pure logic, no DOM.

/// An intensity window: values at `low` or below are black, at `high` or above white.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntensityWindow {
    /// Black level.
    pub low: f32,
    /// White level.
    pub high: f32,
}

impl IntensityWindow {
    /// The 0.5th to 99.5th percentile of the non-zero voxels (the brain, in skull-stripped
    /// scans), as viewers default to; `[0, 1]` for an empty volume. Two selections, not a
    /// sort: linear in the number of voxels.
    pub fn auto(data: &[f32]) -> IntensityWindow {
        let mut v: Vec<f32> = data.iter().copied().filter(|&x| x != 0.0).collect();
        if v.is_empty() {
            return IntensityWindow {
                low: 0.0,
                high: 1.0,
            };
        }
        let rank = |q: f64| ((v.len() - 1) as f64 * q).round() as usize;
        let (at_low, at_high) = (rank(0.005), rank(0.995));
        let (_, &mut low, above) = v.select_nth_unstable_by(at_low, f32::total_cmp);
        let high = if at_high > at_low {
            *above
                .select_nth_unstable_by(at_high - at_low - 1, f32::total_cmp)
                .1
        } else {
            low
        };
        IntensityWindow {
            low,
            high: if high > low { high } else { low + 1.0 },
        }
    }

    /// Level/width adjusted by a mouse drag: right widens, up brightens (lowers the level),
    /// each in units of the current width per 200 pixels, as ITK-SNAP and Slicer do.
    pub fn dragged(self, dx: f64, dy: f64) -> IntensityWindow {
        let width = f64::from(self.high - self.low);
        let level = f64::from(self.high + self.low) / 2.0;
        let width = (width * (1.0 + dx / 200.0)).max(1e-6);
        let level = level + dy / 200.0 * width;
        IntensityWindow {
            low: (level - width / 2.0) as f32,
            high: (level + width / 2.0) as f32,
        }
    }

    /// The grey level (0–255) of `value`.
    pub fn grey(&self, value: f32) -> u8 {
        let t = (value - self.low) / (self.high - self.low);
        (t.clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_map_percentiles_to_black_and_white() {
        let data: Vec<f32> = (0..=1000).map(|i| i as f32).collect();
        let w = IntensityWindow::auto(&data);
        assert_eq!((w.low, w.high), (6.0, 995.0));
        assert_eq!(w.grey(0.0), 0);
        assert_eq!(w.grey(2000.0), 255);
        assert_eq!(w.grey(501.0), 128);
        let wider = w.dragged(200.0, 0.0);
        assert!((wider.high - wider.low - 2.0 * (w.high - w.low)).abs() < 1e-3);
        let brighter = w.dragged(0.0, -100.0);
        assert!(brighter.low < w.low && brighter.grey(501.0) > 128);
        assert_eq!(
            IntensityWindow::auto(&[0.0; 8]),
            IntensityWindow {
                low: 0.0,
                high: 1.0
            }
        );
    }

    #[test]
    fn the_automatic_window_equals_the_sorted_percentiles_in_any_order() {
        // A shuffled volume with repeats and negatives: the selections must pick what a
        // full sort would.
        let data: Vec<f32> = (0..5000u32)
            .map(|i| ((i.wrapping_mul(2_654_435_761) >> 7) % 997) as f32 - 300.0)
            .collect();
        let mut sorted: Vec<f32> = data.iter().copied().filter(|&x| x != 0.0).collect();
        sorted.sort_by(f32::total_cmp);
        let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
        let w = IntensityWindow::auto(&data);
        assert_eq!((w.low, w.high), (at(0.005), at(0.995)));
        // One value only: a window one unit wide.
        let flat = IntensityWindow::auto(&[0.0, 7.0, 7.0]);
        assert_eq!((flat.low, flat.high), (7.0, 8.0));
    }
}
