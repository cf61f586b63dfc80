//! Per-region statistics of a label map: volume, lesions, centroid in world mm, the hemisphere
//! it lies in, and the mean intensity of each scan inside it.

use adamm_volume::brats::Region;
use adamm_volume::mask::components_26;
use adamm_volume::Affine;
use serde::{Deserialize, Serialize};

use crate::MeasureError;

/// A hemisphere of the brain (world RAS: +x is the patient's right).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Hemisphere {
    /// The patient's left (x below the midline).
    Left,
    /// The patient's right.
    Right,
}

/// Where a region lies across the midline, taken as the plane x = the brain's centroid (world
/// RAS), which is exact for a head that is not turned about the superior–inferior axis and off
/// by a few mm for one turned by a few degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Side {
    /// The hemisphere of the region's centroid.
    pub hemisphere: Hemisphere,
    /// The centroid's distance from the midline, mm.
    pub from_midline_mm: f64,
    /// The share of the region's voxels in the other hemisphere (0–1): above 0 it crosses the
    /// midline.
    pub across_midline: f64,
}

impl Side {
    /// For people: "left hemisphere (46 mm from the midline, 12 % across it)".
    pub fn describe(&self) -> String {
        format!(
            "{} hemisphere ({:.0} mm from the midline{})",
            match self.hemisphere {
                Hemisphere::Left => "left",
                Hemisphere::Right => "right",
            },
            self.from_midline_mm,
            if self.across_midline > 0.0 {
                format!(", {:.0} % across it", 100.0 * self.across_midline)
            } else {
                String::new()
            }
        )
    }
}

/// The statistics of one region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionStats {
    /// `"WT"`, `"TC"` or `"ET"`.
    pub region: String,
    /// Volume, mL.
    pub volume_ml: f64,
    /// Its 26-connected components.
    pub lesions: usize,
    /// The centroid of its voxels, world RAS mm; `None` when the region is empty.
    pub centroid_mm: Option<[f64; 3]>,
    /// The hemisphere, when a brain was given and the region is not empty.
    pub side: Option<Side>,
    /// Per scan given, its name and mean intensity inside the region (the file's units).
    pub mean_intensity: Vec<(String, f64)>,
}

impl RegionStats {
    /// One line for people.
    pub fn describe(&self) -> String {
        let mut line = format!(
            "{}: {:.2} mL in {} lesion(s)",
            self.region, self.volume_ml, self.lesions
        );
        if let Some(c) = self.centroid_mm {
            line += &format!(", centroid ({:.1}, {:.1}, {:.1}) mm RAS", c[0], c[1], c[2]);
        }
        if let Some(s) = self.side {
            line += &format!(", {}", s.describe());
        }
        for (name, mean) in &self.mean_intensity {
            line += &format!(", mean {name} {mean:.1}");
        }
        line
    }
}

/// Statistics of WT, TC and ET in `labels` (internal labels on the grid `dims`, x fastest,
/// voxel-to-world `world_from_voxel`). `brain` (a mask on the same grid) sets the midline;
/// each of `scans` (a name and its voxels on the same grid) gets its mean inside each region.
pub fn region_stats(
    labels: &[u8],
    dims: [usize; 3],
    world_from_voxel: &Affine,
    brain: Option<&[bool]>,
    scans: &[(&str, &[f32])],
) -> Result<Vec<RegionStats>, MeasureError> {
    let expected = crate::check_grid(labels.len(), dims, world_from_voxel)?;
    if let Some(b) = brain {
        same_grid("brain mask".into(), expected, b.len())?;
    }
    let mut means = mean_intensities(labels, scans)?;
    let world = |i: usize| {
        world_from_voxel.apply([
            (i % dims[0]) as f64,
            ((i / dims[0]) % dims[1]) as f64,
            (i / (dims[0] * dims[1])) as f64,
        ])
    };
    let midline = brain.and_then(|b| {
        let (mut sum, mut n) = (0.0, 0usize);
        for (i, _) in b.iter().enumerate().filter(|(_, &m)| m) {
            sum += world(i)[0];
            n += 1;
        }
        (n > 0).then(|| sum / n as f64)
    });
    let voxel_ml = world_from_voxel.det3().abs() / 1000.0;
    let mut out = Vec::with_capacity(3);
    for region in Region::ALL {
        let mask: Vec<bool> = labels.iter().map(|&l| region.contains(l)).collect();
        let (_, sizes) = components_26(&mask, dims);
        let count: usize = sizes.iter().sum();
        let mut centre = [0.0f64; 3];
        let mut xs = Vec::with_capacity(count);
        for (i, _) in mask.iter().enumerate().filter(|(_, &m)| m) {
            let p = world(i);
            for a in 0..3 {
                centre[a] += p[a];
            }
            xs.push(p[0]);
        }
        let centroid_mm = (count > 0).then(|| centre.map(|c| c / count as f64));
        let side = match (centroid_mm, midline) {
            (Some(c), Some(m)) => {
                let hemisphere = if c[0] >= m {
                    Hemisphere::Right
                } else {
                    Hemisphere::Left
                };
                let other = xs
                    .iter()
                    .filter(|&&x| (x >= m) != (hemisphere == Hemisphere::Right))
                    .count();
                Some(Side {
                    hemisphere,
                    from_midline_mm: (c[0] - m).abs(),
                    across_midline: other as f64 / count as f64,
                })
            }
            _ => None,
        };
        out.push(RegionStats {
            region: region.name().to_owned(),
            volume_ml: count as f64 * voxel_ml,
            lesions: sizes.len(),
            centroid_mm,
            side,
            mean_intensity: std::mem::take(&mut means[out.len()]),
        });
    }
    Ok(out)
}

/// A `what` of `actual` voxels beside a label map of `expected`: an error unless equal.
fn same_grid(what: String, expected: usize, actual: usize) -> Result<(), MeasureError> {
    if actual == expected {
        Ok(())
    } else {
        Err(MeasureError::Grid {
            what,
            expected,
            actual,
        })
    }
}

/// Per region (WT, TC, ET), the mean of each of `scans` (a name and its voxels on the labels'
/// grid) inside it; empty for an empty region.
pub fn mean_intensities(
    labels: &[u8],
    scans: &[(&str, &[f32])],
) -> Result<Vec<Vec<(String, f64)>>, MeasureError> {
    for (name, v) in scans {
        same_grid(format!("scan {name}"), labels.len(), v.len())?;
    }
    Ok(Region::ALL
        .iter()
        .map(|region| {
            let mut sums = vec![0.0f64; scans.len()];
            let mut count = 0usize;
            for (i, _) in labels
                .iter()
                .enumerate()
                .filter(|(_, &l)| region.contains(l))
            {
                count += 1;
                for (s, (_, v)) in sums.iter_mut().zip(scans) {
                    *s += f64::from(v[i]);
                }
            }
            if count == 0 {
                return Vec::new();
            }
            scans
                .iter()
                .zip(&sums)
                .map(|((name, _), s)| ((*name).to_owned(), s / count as f64))
                .collect()
        })
        .collect())
}
