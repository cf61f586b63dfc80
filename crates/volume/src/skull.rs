//! Is a scan skull-stripped? Decided from its voxels alone.
//!
//! A skull-stripped scan is a brain on a constant background: everything outside the brain
//! was set to one value (0 in BraTS data and in the output of BET, SynthStrip, HD-BET). A
//! head scan has signal outside the brain (scalp, fat, skull marrow, the face) and noise in
//! the air. [`check_skull`] measures both:
//!
//! - the **foreground**: voxels above `adamm_volume::mask::foreground_threshold` (5 % of the
//!   99th percentile of the positive voxels), its largest 6-connected component with the
//!   holes filled; its volume in mL;
//! - the **background**: the voxels more than [`BACKGROUND_MARGIN_VOXELS`] voxels (6-steps)
//!   from the foreground; the fraction of them at one value, 0 or the scan's minimum
//!   (interpolation after stripping can leave a few values below 0 at the brain's edge).
//!
//! The scan is **stripped** when the foreground is brain-sized (at most
//! [`MAX_STRIPPED_ML`]: adult brains with cerebellum and brainstem are about 1,000–1,800 mL,
//! a head with its scalp and skull in the field of view is more) and the background is
//! constant (at least [`MIN_CONSTANT_BACKGROUND`] of it at that value) or absent. A scan of
//! part of a head (a slab) has a small foreground but a noisy background, so it is not called
//! stripped.

use crate::mask::{count, dilate, fill_holes, foreground_threshold, largest_component};
use crate::Volume;

/// Largest foreground volume of a skull-stripped scan, mL.
pub const MAX_STRIPPED_ML: f64 = 2300.0;

/// Fraction of the background that must be at one value (0 or the scan's minimum) for it to
/// count as constant (masked).
pub const MIN_CONSTANT_BACKGROUND: f64 = 0.9;

/// Background voxels are this many voxels (6-connected steps) or more from the foreground,
/// so that interpolation values at a stripped brain's edge do not count as background.
pub const BACKGROUND_MARGIN_VOXELS: usize = 3;

/// What [`check_skull`] measured and decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SkullCheck {
    /// Volume of the foreground (largest component, holes filled), mL.
    pub foreground_ml: f64,
    /// Fraction of the background voxels at 0 or at the scan's minimum, whichever is more
    /// (1 when there is no background: the foreground fills the grid).
    pub constant_background: f64,
    /// Number of background voxels.
    pub background_voxels: usize,
    /// The verdict.
    pub stripped: bool,
}

impl SkullCheck {
    /// One line for people: the verdict and why.
    pub fn describe(&self) -> String {
        if self.stripped {
            return format!(
                "skull-stripped (a brain-sized foreground of {:.0} mL on a constant background)",
                self.foreground_ml
            );
        }
        let mut why = Vec::new();
        if self.foreground_ml > MAX_STRIPPED_ML {
            why.push(format!(
                "a foreground of {:.0} mL, more than a brain (over {MAX_STRIPPED_ML:.0} mL)",
                self.foreground_ml
            ));
        }
        if self.constant_background < MIN_CONSTANT_BACKGROUND {
            why.push(format!(
                "signal around it ({:.0} % of the background is not constant)",
                100.0 * (1.0 - self.constant_background)
            ));
        }
        format!("not skull-stripped: {}", why.join(" and "))
    }
}

/// Decides whether `volume` is skull-stripped (see the module docs).
pub fn check_skull(volume: &Volume) -> SkullCheck {
    let dims = volume.dims();
    let s = volume.spacing_mm();
    let voxel_ml = s[0] * s[1] * s[2] / 1000.0;
    let Some(threshold) = foreground_threshold(&volume.data) else {
        // Nothing positive: no brain and no head; nothing to strip either.
        return SkullCheck {
            foreground_ml: 0.0,
            constant_background: 1.0,
            background_voxels: volume.data.len(),
            stripped: true,
        };
    };
    let above: Vec<bool> = volume.data.iter().map(|&v| v > threshold).collect();
    let foreground = fill_holes(&largest_component(&above, dims), dims);
    let foreground_ml = count(&foreground) as f64 * voxel_ml;
    let near = dilate(&foreground, dims, BACKGROUND_MARGIN_VOXELS);
    let min = volume.data.iter().copied().fold(f32::INFINITY, f32::min);
    let (mut background, mut at_min, mut at_zero) = (0usize, 0usize, 0usize);
    for (&v, &n) in volume.data.iter().zip(&near) {
        if !n {
            background += 1;
            at_min += usize::from(v == min);
            at_zero += usize::from(v == 0.0);
        }
    }
    let constant_background = if background == 0 {
        1.0
    } else {
        at_min.max(at_zero) as f64 / background as f64
    };
    SkullCheck {
        foreground_ml,
        constant_background,
        background_voxels: background,
        stripped: foreground_ml <= MAX_STRIPPED_ML
            && constant_background >= MIN_CONSTANT_BACKGROUND,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Affine;
    use crate::nifti_io::{Datatype, Header};

    /// A 2 mm grid of 110³ (220 mm) with an ellipsoid "brain" of radii `brain` mm (value 100)
    /// inside a shell of `scalp` mm (value 60), on a background of `noise` amplitude.
    fn phantom(brain: [f64; 3], scalp: f64, noise: f32) -> Volume {
        let n = 110;
        let mut data = vec![0.0f32; n * n * n];
        let mut state = 12345u32;
        for z in 0..n {
            for y in 0..n {
                for x in 0..n {
                    let p = [x, y, z].map(|c| (c as f64 - 54.5) * 2.0);
                    let r = |extra: f64| {
                        (0..3)
                            .map(|a| (p[a] / (brain[a] + extra)).powi(2))
                            .sum::<f64>()
                    };
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    let u = (state >> 8) as f32 / (1 << 24) as f32;
                    data[x + n * (y + n * z)] = if r(0.0) <= 1.0 {
                        100.0
                    } else if r(scalp) <= 1.0 {
                        60.0
                    } else {
                        noise * u
                    };
                }
            }
        }
        let h = Header::from_affine([n; 3], Datatype::F32, &Affine::from_spacing([2.0; 3]));
        Volume::new(data, h).unwrap()
    }

    #[test]
    fn a_brain_on_zero_is_stripped_and_a_head_is_not() {
        // Radii 80/65/60 mm: 4/3·π·abc ≈ 1307 mL.
        let brain = phantom([80.0, 65.0, 60.0], 0.0, 0.0);
        let c = check_skull(&brain);
        assert!(c.stripped, "{c:?}");
        assert!((c.foreground_ml - 1307.0).abs() < 30.0, "{c:?}");
        assert!(c.describe().starts_with("skull-stripped"));
        // The same brain inside 15 mm of scalp (95/80/75 mm: 2388 mL), air noise of 3 (under
        // the threshold): the foreground is the head.
        let head = phantom([80.0, 65.0, 60.0], 15.0, 3.0);
        let c = check_skull(&head);
        assert!(!c.stripped && c.foreground_ml > MAX_STRIPPED_ML, "{c:?}");
        assert!(c
            .describe()
            .starts_with("not skull-stripped: a foreground of"));
    }

    #[test]
    fn a_small_foreground_on_noise_is_not_called_stripped() {
        // A brain-sized foreground, but the background is noisy air: a slab of a head, or a
        // head whose scalp is dark.
        let c = check_skull(&phantom([80.0, 65.0, 60.0], 0.0, 3.0));
        assert!(c.foreground_ml <= MAX_STRIPPED_ML, "{c:?}");
        assert!(c.constant_background < 0.1 && !c.stripped, "{c:?}");
    }

    #[test]
    fn an_empty_scan_has_nothing_to_strip() {
        let h = Header::from_affine([4; 3], Datatype::F32, &Affine::IDENTITY);
        let c = check_skull(&Volume::new(vec![0.0; 64], h).unwrap());
        assert!(c.stripped && c.foreground_ml == 0.0);
    }
}
