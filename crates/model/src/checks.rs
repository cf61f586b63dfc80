//! Is the input what the tumour model was made for? Checks made after a segmentation, so that
//! `adamm segment` and the page say plainly when the labels should not be trusted.
//!
//! The model was trained on whole adult brains, skull-stripped, at about 1 mm, with all of the
//! brain in the field of view. [`input_warnings`] flags what falls outside that:
//!
//! | check | warned when |
//! |---|---|
//! | brain volume | the brain segmented in is under [`MIN_BRAIN_ML`] or over [`MAX_BRAIN_ML`] |
//! | field of view | more than [`MAX_CUT_MM2`] mm² of the brain lies on the grid's border |
//! | a slice or a slab | a scan has fewer than [`MIN_SLICES`] voxels or less than [`MIN_EXTENT_MM`] along an axis |
//! | skull | the scans are not skull-stripped and the brain was not extracted |
//! | tumour size | the whole tumour is more than [`MAX_TUMOUR_FRACTION`] of the brain |
//! | presence head | the presence head gives a region under [`PRESENCE_LOW`] where over [`MIN_DISAGREEING_ML`] mL is labelled, or over [`PRESENCE_HIGH`] where nothing is |

use std::fmt;

use adamm_volume::brats::{LabelVolumes, Modality};

use crate::pipeline::{CaseLabels, PreparedCase, Scans, StripOutcome};

/// Smallest plausible brain, mL (adult brains are about 1,000–1,800 mL).
pub const MIN_BRAIN_ML: f64 = 700.0;
/// Largest plausible brain, mL.
pub const MAX_BRAIN_ML: f64 = 2300.0;
/// Brain on the border of the field of view above this area (mm²) means the brain is cut.
pub const MAX_CUT_MM2: f64 = 1000.0;
/// Fewest voxels along any axis of a volume scan.
pub const MIN_SLICES: usize = 8;
/// Smallest extent along any axis, mm (a brain is 120–180 mm along each).
pub const MIN_EXTENT_MM: f64 = 60.0;
/// Largest plausible fraction of the brain labelled tumour.
pub const MAX_TUMOUR_FRACTION: f64 = 0.5;
/// Presence below this contradicts a labelled region.
pub const PRESENCE_LOW: f32 = 0.2;
/// Presence above this contradicts an empty region.
pub const PRESENCE_HIGH: f32 = 0.8;
/// A region labelled with more than this (mL) while the presence head says it is absent.
pub const MIN_DISAGREEING_ML: f64 = 1.0;

/// One reason not to trust a segmentation.
#[derive(Debug, Clone, PartialEq)]
pub enum InputWarning {
    /// The brain segmented in has an implausible volume.
    BrainVolume {
        /// Its volume, mL.
        ml: f64,
    },
    /// The field of view cuts the brain.
    BrainCut {
        /// Area of brain on the grid's border, mm².
        border_mm2: f64,
    },
    /// A scan is a slice or a thin slab, not a volume.
    Flat {
        /// The scan's name.
        scan: String,
        /// Its voxels per axis.
        dims: [usize; 3],
        /// Its extent per axis, mm.
        extent_mm: [f64; 3],
    },
    /// The scans are not skull-stripped and the brain was not extracted.
    WithSkull,
    /// The whole tumour is an implausible part of the brain.
    TumourTooLarge {
        /// Whole tumour, mL.
        tumour_ml: f64,
        /// Brain, mL.
        brain_ml: f64,
    },
    /// The presence head contradicts the labels of a region.
    PresenceDisagrees {
        /// The region's name.
        region: &'static str,
        /// The presence head's probability that it is there.
        presence: f32,
        /// Its labelled volume, mL.
        labelled_ml: f64,
    },
}

impl fmt::Display for InputWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputWarning::BrainVolume { ml } => write!(
                f,
                "the brain segmented in is {ml:.0} mL, outside the {MIN_BRAIN_ML:.0}–\
                 {MAX_BRAIN_ML:.0} mL of an adult brain: this may not be a brain MRI of the kind \
                 the model was made for"
            ),
            InputWarning::BrainCut { border_mm2 } => write!(
                f,
                "the field of view cuts the brain ({:.0} cm² of brain on the border of the \
                 scan): the model was made for scans that hold the whole brain",
                border_mm2 / 100.0
            ),
            InputWarning::Flat {
                scan,
                dims,
                extent_mm,
            } => write!(
                f,
                "{scan} is a slice or a thin slab ({}×{}×{} voxels, {:.0}×{:.0}×{:.0} mm), not a \
                 volume of the whole brain",
                dims[0], dims[1], dims[2], extent_mm[0], extent_mm[1], extent_mm[2]
            ),
            InputWarning::WithSkull => write!(
                f,
                "the scans are not skull-stripped and the brain was not extracted: labels \
                 outside the brain are likely"
            ),
            InputWarning::TumourTooLarge {
                tumour_ml,
                brain_ml,
            } => write!(
                f,
                "the tumour labels cover {tumour_ml:.0} mL, {:.0} % of the {brain_ml:.0} mL \
                 brain: implausible; the input is probably not what the model was made for",
                100.0 * tumour_ml / brain_ml.max(1e-9)
            ),
            InputWarning::PresenceDisagrees {
                region,
                presence,
                labelled_ml,
            } => {
                if *labelled_ml > 0.0 {
                    write!(
                        f,
                        "{labelled_ml:.1} mL is labelled {region}, but the model's presence \
                         head gives {region} only {presence:.2}: the labels disagree with the \
                         model's own judgement"
                    )
                } else {
                    write!(
                        f,
                        "the model's presence head gives {region} {presence:.2}, but nothing is \
                         labelled {region}: the labels disagree with the model's own judgement"
                    )
                }
            }
        }
    }
}

/// Area (mm²) of the brain mask of `case` on the border faces of its full canonical grid.
fn brain_on_border_mm2(case: &PreparedCase) -> f64 {
    let p = &case.case;
    let full = p.map.canonical_dims();
    let dims = p.dims();
    let s = p.spacing_mm;
    // The area of one voxel face perpendicular to each axis.
    let face = [s[1] * s[2], s[0] * s[2], s[0] * s[1]];
    let mut area = 0.0;
    for (i, &inside) in p.brain.iter().enumerate() {
        if !inside {
            continue;
        }
        let local = [
            i % dims[0],
            (i / dims[0]) % dims[1],
            i / (dims[0] * dims[1]),
        ];
        for a in 0..3 {
            let g = p.crop.start[a] + local[a];
            if g == 0 || g + 1 == full[a] {
                area += face[a];
            }
        }
    }
    area
}

/// The warnings for a segmented case (see the module docs); empty when nothing is amiss.
pub fn input_warnings(
    scans: &Scans,
    case: &PreparedCase,
    labels: &CaseLabels,
) -> Vec<InputWarning> {
    let mut warnings = Vec::new();
    for m in Modality::ALL {
        let (Some(name), Some(header)) = (
            scans.name(m),
            scans.alignment().native_headers[m.index()].as_ref(),
        ) else {
            continue;
        };
        let spacing = header
            .world_from_voxel()
            .map(|a| a.column_norms())
            .unwrap_or([1.0; 3]);
        let extent_mm = [0, 1, 2].map(|a| header.dims[a] as f64 * spacing[a]);
        let flat = (0..3).any(|a| header.dims[a] < MIN_SLICES || extent_mm[a] < MIN_EXTENT_MM);
        if flat {
            warnings.push(InputWarning::Flat {
                scan: name.to_owned(),
                dims: header.dims,
                extent_mm,
            });
        }
    }
    if matches!(
        case.strip,
        StripOutcome::NoModel | StripOutcome::SwitchedOff
    ) {
        warnings.push(InputWarning::WithSkull);
    }
    let brain_ml = case.brain_ml();
    if !(MIN_BRAIN_ML..=MAX_BRAIN_ML).contains(&brain_ml) {
        warnings.push(InputWarning::BrainVolume { ml: brain_ml });
    }
    let border_mm2 = brain_on_border_mm2(case);
    if border_mm2 > MAX_CUT_MM2 {
        warnings.push(InputWarning::BrainCut { border_mm2 });
    }
    let spacing = case.case.spacing_mm;
    let volumes = LabelVolumes::of(labels.working(), spacing);
    if volumes.wt() > MAX_TUMOUR_FRACTION * brain_ml {
        warnings.push(InputWarning::TumourTooLarge {
            tumour_ml: volumes.wt(),
            brain_ml,
        });
    }
    let regions = [
        ("NETC", volumes.netc),
        ("SNFH (edema)", volumes.snfh),
        ("ET", volumes.et),
    ];
    for ((region, labelled_ml), &presence) in regions.into_iter().zip(&labels.presence) {
        let contradicts = (presence < PRESENCE_LOW && labelled_ml > MIN_DISAGREEING_ML)
            || (presence > PRESENCE_HIGH && labelled_ml == 0.0);
        if contradicts {
            warnings.push(InputWarning::PresenceDisagrees {
                region,
                presence,
                labelled_ml,
            });
        }
    }
    warnings
}
