//! Preprocessed training cases, cached on disk so that each one is read and preprocessed once.
//!
//! A [`TrainingCase`] is the brain crop of a case in canonical RAS (see
//! [`adamm_volume::preprocess`]): four channels normalised as the run's configuration says
//! (the same [`Normalization`] its students record for inference) and the internal label map,
//! optionally at a coarser working resolution (every `factor` voxels averaged into one; labels
//! by majority, ties to the higher label) — a [`CasePreparation`]. The cache file is
//! little-endian: the magic `ADAMMCASE1`, three u32 dims, four f32 channels, then the u8
//! labels; its name carries the preparation, so runs prepared differently never share one.

use std::path::{Path, PathBuf};

use adamm_volume::brats::{load_case, CaseFiles, Modality};
use adamm_volume::preprocess::{preprocess_case, Normalization, PreprocessOptions};
use adamm_volume::resample::{block_mean, coarse_dims};

use crate::error::TrainError;

const MAGIC: &[u8; 10] = b"ADAMMCASE1";

/// How a training case is prepared from its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CasePreparation {
    /// Coarsening of the working grid (1 = full resolution; the network's `grid_factor`).
    pub factor: usize,
    /// Intensity normalisation over the brain.
    pub normalization: Normalization,
}

/// One case ready for patch sampling.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingCase {
    /// Case id.
    pub id: String,
    /// Grid `[nx, ny, nz]` of the crop.
    pub dims: [usize; 3],
    /// T1, T1Gd, T2, FLAIR, each `dims` voxels, x fastest.
    pub channels: [Vec<f32>; 4],
    /// Internal labels (NETC 1, SNFH 2, ET 3), `dims` voxels.
    pub labels: Vec<u8>,
}

impl TrainingCase {
    /// Loads and preprocesses a case with all four modalities and a segmentation as
    /// `preparation` says (normalised, then coarsened).
    pub fn from_files(
        files: &CaseFiles,
        preparation: CasePreparation,
    ) -> Result<TrainingCase, TrainError> {
        let case = load_case(files)?;
        let missing: Vec<&str> = Modality::ALL
            .iter()
            .filter(|m| case.images[m.index()].is_none())
            .map(|m| m.name())
            .collect();
        if !missing.is_empty() {
            return Err(TrainError::Invalid(format!(
                "case {} lacks {}: training needs all four modalities (the teacher sees them all)",
                files.id,
                missing.join(", ")
            )));
        }
        let Some(seg) = &case.seg else {
            return Err(TrainError::Invalid(format!(
                "case {} has no segmentation to train on",
                files.id
            )));
        };
        let options = PreprocessOptions {
            normalization: preparation.normalization,
            ..PreprocessOptions::default()
        };
        let pre = preprocess_case(&case, options)?;
        let labels = pre.labels_from_native(seg)?;
        let full = TrainingCase {
            id: files.id.clone(),
            dims: pre.dims(),
            channels: pre.channels,
            labels,
        };
        Ok(full.coarsen(preparation.factor))
    }

    /// Averages `factor`³ blocks (partial blocks at the far edges included).
    pub fn coarsen(self, factor: usize) -> TrainingCase {
        if factor <= 1 {
            return self;
        }
        let d = self.dims;
        let out_dims = coarse_dims(d, factor);
        let n_out: usize = out_dims.iter().product();
        let channels = self.channels.map(|c| block_mean(&c, d, factor));
        let mut votes = vec![[0u32; 4]; n_out];
        for k in 0..d[2] {
            for j in 0..d[1] {
                for i in 0..d[0] {
                    let o = i / factor + out_dims[0] * (j / factor + out_dims[1] * (k / factor));
                    let l = self.labels[i + d[0] * (j + d[1] * k)].min(3) as usize;
                    votes[o][l] += 1;
                }
            }
        }
        let labels = votes
            .iter()
            // `max_by_key` keeps the last of equal maxima: ascending order breaks ties upwards.
            .map(|v| (0..4u8).max_by_key(|&l| v[l as usize]).unwrap_or(0))
            .collect();
        TrainingCase {
            id: self.id,
            dims: out_dims,
            channels,
            labels,
        }
    }

    /// Writes the cache file.
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        let n: usize = self.dims.iter().product();
        let mut out = Vec::with_capacity(22 + n * 17);
        out.extend_from_slice(MAGIC);
        for d in self.dims {
            out.extend_from_slice(&(d as u32).to_le_bytes());
        }
        for c in &self.channels {
            for v in c {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out.extend_from_slice(&self.labels);
        let tmp = path.with_extension("partial");
        std::fs::write(&tmp, out).map_err(|e| TrainError::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| TrainError::io(path, e))
    }

    /// Reads a cache file.
    pub fn load(path: &Path, id: &str) -> Result<TrainingCase, TrainError> {
        let bytes = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
        let bad = |detail: String| TrainError::BadCache {
            path: path.into(),
            detail,
        };
        if bytes.len() < 22 || &bytes[..10] != MAGIC {
            return Err(bad("wrong magic".into()));
        }
        let u32_at = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize
        };
        let dims = [u32_at(10), u32_at(14), u32_at(18)];
        let n = dims
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| bad("dims overflow".into()))?;
        if bytes.len() != 22 + n * 17 {
            return Err(bad(format!("{} bytes for a {dims:?} grid", bytes.len())));
        }
        let mut channels: [Vec<f32>; 4] = Default::default();
        for (c, ch) in channels.iter_mut().enumerate() {
            let start = 22 + c * n * 4;
            *ch = bytes[start..start + n * 4]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
        }
        let labels = bytes[22 + 16 * n..].to_vec();
        Ok(TrainingCase {
            id: id.to_string(),
            dims,
            channels,
            labels,
        })
    }
}

/// Where the cache file of case `id` prepared as `preparation` lives under `dir`:
/// `<id>.x<factor>.<normalisation>.adammcase`.
pub fn cache_path(dir: &Path, id: &str, preparation: CasePreparation) -> PathBuf {
    dir.join(format!(
        "{id}.x{}.{}.adammcase",
        preparation.factor,
        preparation.normalization.name()
    ))
}

/// Returns the cached case, building and saving it first if needed.
pub fn cached_case(
    dir: &Path,
    files: &CaseFiles,
    preparation: CasePreparation,
) -> Result<TrainingCase, TrainError> {
    let path = cache_path(dir, &files.id, preparation);
    if path.exists() {
        return TrainingCase::load(&path, &files.id);
    }
    std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    let case = TrainingCase::from_files(files, preparation)?;
    case.save(&path)?;
    Ok(case)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(dims: [usize; 3]) -> TrainingCase {
        let n: usize = dims.iter().product();
        TrainingCase {
            id: "c".into(),
            dims,
            channels: [0, 1, 2, 3].map(|c| (0..n).map(|i| (i * (c + 1)) as f32).collect()),
            labels: (0..n).map(|i| (i % 4) as u8).collect(),
        }
    }

    #[test]
    fn cache_round_trip_and_corruption_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let c = case([3, 4, 5]);
        let path = cache_path(
            dir.path(),
            "c",
            CasePreparation {
                factor: 1,
                normalization: Normalization::Robust,
            },
        );
        c.save(&path).expect("save");
        assert_eq!(TrainingCase::load(&path, "c").expect("load"), c);
        let bytes = std::fs::read(&path).expect("read");
        std::fs::write(&path, &bytes[..bytes.len() - 1]).expect("write");
        let err = TrainingCase::load(&path, "c").expect_err("truncated");
        assert!(
            err.to_string().contains("not a valid AdaMM case cache"),
            "{err}"
        );
    }

    #[test]
    fn coarsening_averages_blocks_and_votes_labels() {
        let mut c = case([4, 2, 2]);
        c.channels[0] = (0..16).map(|i| i as f32).collect();
        // Block 0 (x 0..2): labels 0,0,0,0,3,3,3,3 → tie, the higher label wins (3).
        // Block 1 (x 2..4): labels 2 ×6, 1 ×2 → 2.
        c.labels = vec![0, 0, 2, 2, 0, 0, 2, 2, 3, 3, 1, 2, 3, 3, 1, 2];
        let small = c.coarsen(2);
        assert_eq!(small.dims, [2, 1, 1]);
        // Mean of x∈{0,1} over all y,z: (0+1+4+5+8+9+12+13)/8 = 6.5.
        assert_eq!(small.channels[0], [6.5, 8.5]);
        assert_eq!(small.labels, [3, 2]);
    }
}
