//! What a synthetic case was made from, written beside its images as [`PROVENANCE_FILE`], so
//! that the trainer can refuse cases of the held-out anatomy wherever they are copied.

use std::path::Path;

use serde::{Deserialize, Serialize};

use adamm_volume::brats::Modality;

use crate::degrade::Degradations;
use crate::error::SynthError;

/// File name of a case's provenance, inside the case folder.
pub const PROVENANCE_FILE: &str = "synth.json";

/// The provenance of one synthetic case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Always `adamm-synth`.
    pub generator: String,
    /// The anatomy's name (`sri24`, `colin27`, `mni152`, `mni_icbm152`).
    pub anatomy: String,
    /// Whether that is the held-out anatomy: such a case is for out-of-distribution tests only.
    pub held_out: bool,
    /// The case seed.
    pub seed: u64,
    /// How its contrast table was drawn (`realistic`, `randomised`).
    #[serde(default = "realistic")]
    pub contrast: String,
    /// How its acquisition was drawn (`realistic`, `randomised`).
    #[serde(default = "realistic")]
    pub acquisition: String,
    /// How its anatomy shape and tumour were drawn (`realistic`, `randomised`).
    #[serde(default = "realistic")]
    pub shape: String,
    /// The image degradations of the randomised acquisition it got (thick slices, edge
    /// resampling, skull stripping, storage). Omitted from the file when there are none (every
    /// realistic case), and read as none from files without it.
    #[serde(default, skip_serializing_if = "Degradations::is_none")]
    pub degradations: Degradations,
    /// The factor pushed to the edge of its training range
    /// ([`crate::Perturbation::name`]) in a robustness test case; omitted when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perturbation: Option<String>,
    /// The contrast and acquisition each modality was drawn with, so that a failure can be
    /// traced to the factor behind it; absent from files written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appearance: Option<Appearance>,
}

/// What one case's images were drawn with, one entry per modality, written under the
/// modality's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Appearance {
    /// T1.
    #[serde(rename = "T1")]
    pub t1: ModalityAppearance,
    /// T1 after gadolinium.
    #[serde(rename = "T1Gd")]
    pub t1gd: ModalityAppearance,
    /// T2.
    #[serde(rename = "T2")]
    pub t2: ModalityAppearance,
    /// T2-FLAIR.
    #[serde(rename = "FLAIR")]
    pub flair: ModalityAppearance,
}

impl Appearance {
    /// Builds it from one entry per modality, made by `entry`.
    pub fn from_fn(mut entry: impl FnMut(Modality) -> ModalityAppearance) -> Self {
        Appearance {
            t1: entry(Modality::T1),
            t1gd: entry(Modality::T1Gd),
            t2: entry(Modality::T2),
            flair: entry(Modality::Flair),
        }
    }

    /// The entry of `modality`.
    pub fn get(&self, modality: Modality) -> &ModalityAppearance {
        match modality {
            Modality::T1 => &self.t1,
            Modality::T1Gd => &self.t1gd,
            Modality::T2 => &self.t2,
            Modality::Flair => &self.flair,
        }
    }
}

/// One modality's draws (see `adamm_synth::generate` and `adamm_synth::contrast` for the
/// ranges of each mode).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModalityAppearance {
    /// Class means relative to white matter, before the intensity curve: CSF, GM, WM, NETC,
    /// SNFH, ET (for a case without enhancement the NETC entry is the solid non-enhancing
    /// core and no voxel is ET).
    pub class_means: [f32; 6],
    /// Exponent γ of the intensity curve `s ↦ s^γ` on the signal relative to WM (1: linear).
    pub gamma: f32,
    /// Stored value of white matter (before the bias field).
    pub wm_level: f32,
    /// Rician noise σ as a fraction of the white-matter level.
    pub noise: f32,
    /// Gaussian blur σ, voxels.
    pub blur_voxels: f32,
    /// Lowest and highest multiplicative bias over the brain (the ellipsoid inscribed in the box
    /// the case is drawn in).
    pub bias_range: [f32; 2],
}

fn realistic() -> String {
    "realistic".to_owned()
}

impl Provenance {
    /// Writes it into case folder `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), SynthError> {
        let file = dir.join(PROVENANCE_FILE);
        let text = serde_json::to_string_pretty(self).map_err(|e| SynthError::Provenance {
            file: file.clone(),
            why: e.to_string(),
        })?;
        std::fs::write(&file, text + "\n").map_err(|e| SynthError::Provenance {
            file,
            why: e.to_string(),
        })
    }

    /// Reads it from case folder `dir`: `Ok(None)` when the folder has none (a case not made
    /// by `adamm synth`, or made before provenance was written).
    pub fn read(dir: &Path) -> Result<Option<Provenance>, SynthError> {
        let file = dir.join(PROVENANCE_FILE);
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(SynthError::Provenance {
                    file,
                    why: e.to_string(),
                })
            }
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| SynthError::Provenance {
                file,
                why: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provenance_round_trips_and_its_absence_is_none() {
        let dir = tempfile::tempdir().expect("tmp");
        assert_eq!(Provenance::read(dir.path()).expect("no file"), None);
        let p = Provenance {
            generator: "adamm-synth".into(),
            anatomy: "mni_icbm152".into(),
            held_out: true,
            seed: 42,
            contrast: "randomised".into(),
            acquisition: "realistic".into(),
            shape: "randomised".into(),
            degradations: Degradations::default(),
            perturbation: None,
            appearance: None,
        };
        p.write(dir.path()).expect("write");
        assert_eq!(Provenance::read(dir.path()).expect("read"), Some(p.clone()));
        let text = std::fs::read_to_string(dir.path().join(PROVENANCE_FILE)).expect("text");
        assert!(
            !text.contains("degradations"),
            "none is not written: {text}"
        );
        // Drawn degradations round-trip (every kind of stripping among a few seeds).
        let mut kinds = std::collections::HashSet::new();
        for seed in 0..40 {
            let degradations = Degradations::draw(seed);
            kinds.insert(std::mem::discriminant(&degradations.stripping));
            let q = Provenance {
                acquisition: "randomised".into(),
                degradations,
                ..p.clone()
            };
            q.write(dir.path()).expect("write");
            assert_eq!(Provenance::read(dir.path()).expect("read"), Some(q));
        }
        assert_eq!(kinds.len(), 3);
        // The appearance round-trips.
        let q = Provenance {
            appearance: Some(Appearance::from_fn(|m| ModalityAppearance {
                class_means: [0.3, 1.2, 1.0, 1.05, 1.8, 1.5],
                gamma: 0.8 + 0.1 * m.index() as f32,
                wm_level: 812.5,
                noise: 0.03,
                blur_voxels: 0.5,
                bias_range: [0.8, 1.3],
            })),
            ..p.clone()
        };
        q.write(dir.path()).expect("write");
        assert_eq!(Provenance::read(dir.path()).expect("read"), Some(q));
        // A file without the mode fields (the first version) reads as realistic.
        std::fs::write(
            dir.path().join(PROVENANCE_FILE),
            r#"{"generator": "adamm-synth", "anatomy": "sri24", "held_out": false, "seed": 1}"#,
        )
        .expect("write");
        let old = Provenance::read(dir.path())
            .expect("read")
            .expect("present");
        assert_eq!(
            (
                old.contrast.as_str(),
                old.acquisition.as_str(),
                old.shape.as_str()
            ),
            ("realistic", "realistic", "realistic")
        );
        assert!(old.degradations.is_none());
        assert_eq!(old.appearance, None);
        std::fs::write(dir.path().join(PROVENANCE_FILE), "{ not json").expect("write");
        let err = Provenance::read(dir.path()).expect_err("corrupt");
        assert!(err.to_string().contains(PROVENANCE_FILE), "{err}");
    }
}
