//! Preprocessed training cases, cached on disk so that each one is read and preprocessed once.
//!
//! A [`TrainingCase`] is the brain crop of a case in canonical RAS (see
//! [`adamm_volume::preprocess`]): four channels normalised as the run's configuration says
//! (the same [`Normalization`] its students record for inference) and the internal label map,
//! optionally at a coarser working resolution (every `factor` voxels averaged into one; labels
//! by majority, ties to the higher label) — a [`CasePreparation`]. The cache file is
//! little-endian: the magic `ADAMMCASE2`, the u64 [`source_fingerprint`] of the files it was
//! made from, three u32 dims, four f32 channels, then the u8 labels. Its name carries the case
//! id and the preparation, so runs prepared differently never share one; the fingerprint
//! makes a case regenerated under the same id (or another data set's case of that id) rebuild
//! its entry instead of reusing the old one.

use std::path::{Path, PathBuf};

use adamm_volume::brats::{load_case, CaseFiles, Modality};
use adamm_volume::preprocess::{preprocess_case, Normalization, PreprocessOptions};
use adamm_volume::resample::{block_mean, coarse_dims};

use crate::error::TrainError;

const MAGIC: &[u8; 10] = b"ADAMMCASE2";
/// Bytes before the channels: magic, fingerprint, dims.
const HEADER: usize = 10 + 8 + 12;

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

    /// Writes the cache file, made from files whose [`source_fingerprint`] is `source`.
    pub fn save(&self, path: &Path, source: u64) -> Result<(), TrainError> {
        let n: usize = self.dims.iter().product();
        let mut out = Vec::with_capacity(HEADER + n * 17);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&source.to_le_bytes());
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

    /// Reads a cache file made from files whose [`source_fingerprint`] is `source`:
    /// `Ok(None)` when it is stale (made from other files, or by an earlier version of this
    /// format), an error when it is damaged.
    pub fn load(path: &Path, id: &str, source: u64) -> Result<Option<TrainingCase>, TrainError> {
        let bytes = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
        let bad = |detail: String| TrainError::BadCache {
            path: path.into(),
            detail,
        };
        if bytes.starts_with(b"ADAMMCASE") && bytes.get(..10) != Some(MAGIC.as_slice()) {
            return Ok(None);
        }
        if bytes.len() < HEADER || &bytes[..10] != MAGIC {
            return Err(bad("wrong magic".into()));
        }
        let mut fingerprint = [0u8; 8];
        fingerprint.copy_from_slice(&bytes[10..18]);
        if u64::from_le_bytes(fingerprint) != source {
            return Ok(None);
        }
        let u32_at = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize
        };
        let dims = [u32_at(18), u32_at(22), u32_at(26)];
        let n = dims
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| bad("dims overflow".into()))?;
        if bytes.len() != HEADER + n * 17 {
            return Err(bad(format!("{} bytes for a {dims:?} grid", bytes.len())));
        }
        let mut channels: [Vec<f32>; 4] = Default::default();
        for (c, ch) in channels.iter_mut().enumerate() {
            let start = HEADER + c * n * 4;
            *ch = bytes[start..start + n * 4]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
        }
        let labels = bytes[HEADER + 16 * n..].to_vec();
        Ok(Some(TrainingCase {
            id: id.to_string(),
            dims,
            channels,
            labels,
        }))
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

/// What identifies the files a case is read from: FNV-1a over each image's and the
/// segmentation's absolute path, length and modification time. Regenerating a case, or
/// pointing at another data set whose case has the same id, changes it.
pub fn source_fingerprint(files: &CaseFiles) -> Result<u64, TrainError> {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for path in files.images.iter().chain([&files.seg]) {
        let Some(path) = path else {
            eat(b"-");
            continue;
        };
        let absolute = std::path::absolute(path).map_err(|e| TrainError::io(path, e))?;
        let meta = std::fs::metadata(path).map_err(|e| TrainError::io(path, e))?;
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        eat(absolute.as_os_str().as_encoded_bytes());
        eat(&meta.len().to_le_bytes());
        eat(&modified.to_le_bytes());
    }
    Ok(hash)
}

/// Returns the cached case, building and saving it first if there is none or the one there
/// was made from other files.
pub fn cached_case(
    dir: &Path,
    files: &CaseFiles,
    preparation: CasePreparation,
) -> Result<TrainingCase, TrainError> {
    let path = cache_path(dir, &files.id, preparation);
    let source = source_fingerprint(files)?;
    if path.exists() {
        if let Some(case) = TrainingCase::load(&path, &files.id, source)? {
            return Ok(case);
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    let case = TrainingCase::from_files(files, preparation)?;
    case.save(&path, source)?;
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
        c.save(&path, 7).expect("save");
        assert_eq!(TrainingCase::load(&path, "c", 7).expect("load"), Some(c));
        // Made from other files, or by the first version of the format: stale, not an error.
        assert_eq!(TrainingCase::load(&path, "c", 8).expect("load"), None);
        let bytes = std::fs::read(&path).expect("read");
        let mut old = b"ADAMMCASE1".to_vec();
        old.extend_from_slice(&bytes[18..]);
        std::fs::write(&path, &old).expect("write");
        assert_eq!(TrainingCase::load(&path, "c", 7).expect("load"), None);
        std::fs::write(&path, &bytes[..bytes.len() - 1]).expect("write");
        let err = TrainingCase::load(&path, "c", 7).expect_err("truncated");
        assert!(
            err.to_string().contains("not a valid AdaMM case cache"),
            "{err}"
        );
        std::fs::write(&path, b"something else").expect("write");
        let err = TrainingCase::load(&path, "c", 7).expect_err("not a cache");
        assert!(err.to_string().contains("wrong magic"), "{err}");
    }

    #[test]
    fn the_fingerprint_follows_the_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let files_in = |sub: &str| {
            let d = dir.path().join(sub);
            std::fs::create_dir_all(&d).expect("dir");
            let file = |name: &str| {
                let p = d.join(format!("c-{name}.nii.gz"));
                std::fs::write(&p, name).expect("write");
                Some(p)
            };
            CaseFiles {
                id: "c".into(),
                dir: d.clone(),
                images: ["t1n", "t1c", "t2w", "t2f"].map(file),
                seg: file("seg"),
                naming: adamm_volume::brats::Naming::Brats2023,
            }
        };
        let a = files_in("a");
        let first = source_fingerprint(&a).expect("fingerprint");
        assert_eq!(source_fingerprint(&a).expect("again"), first);
        // The same id in another folder.
        let b = files_in("b");
        assert_ne!(source_fingerprint(&b).expect("b"), first);
        // One file rewritten with other content.
        let flair = a.images[3].clone().expect("flair");
        std::fs::write(&flair, "a regenerated FLAIR").expect("rewrite");
        assert_ne!(source_fingerprint(&a).expect("rewritten"), first);
        // A file gone is an I/O error naming it.
        std::fs::remove_file(&flair).expect("remove");
        let err = source_fingerprint(&a).expect_err("missing");
        assert!(err.to_string().contains("t2f"), "{err}");
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
