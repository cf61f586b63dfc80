//! The deterministic train/validation split, written next to a run.

use std::path::Path;

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::TrainError;

/// Case ids for training and validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// The seed the split was drawn with.
    pub seed: u64,
    /// Training case ids, sorted.
    pub train: Vec<String>,
    /// Validation case ids, sorted.
    pub val: Vec<String>,
}

impl Split {
    /// Splits `ids` (any order; duplicates removed) so that `val_count` cases validate. The
    /// same ids and seed always give the same split, whatever order the ids came in.
    pub fn new(ids: &[String], val_count: usize, seed: u64) -> Result<Split, TrainError> {
        let mut ids: Vec<String> = ids.to_vec();
        ids.sort();
        ids.dedup();
        if ids.len() < 2 || val_count == 0 || val_count >= ids.len() {
            return Err(TrainError::Invalid(format!(
                "cannot hold out {val_count} validation cases from {} cases (need at least one of each)",
                ids.len()
            )));
        }
        // Fisher–Yates with a seeded generator.
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for i in (1..ids.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            ids.swap(i, j);
        }
        let mut val = ids.split_off(ids.len() - val_count);
        ids.sort();
        val.sort();
        Ok(Split {
            seed,
            train: ids,
            val,
        })
    }

    /// Writes `split.json`.
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        crate::json::save(path, self)
    }

    /// Reads `split.json`.
    pub fn load(path: &Path) -> Result<Split, TrainError> {
        crate::json::load(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_deterministic_disjoint_and_order_independent() {
        let ids: Vec<String> = (0..20).map(|i| format!("case{i:02}")).collect();
        let a = Split::new(&ids, 4, 7).expect("valid");
        let mut reversed = ids.clone();
        reversed.reverse();
        assert_eq!(a, Split::new(&reversed, 4, 7).expect("valid"));
        assert_eq!((a.train.len(), a.val.len()), (16, 4));
        assert!(a.val.iter().all(|v| !a.train.contains(v)));
        assert_ne!(
            a.val,
            Split::new(&ids, 4, 8).expect("valid").val,
            "another seed, another split"
        );
        assert!(Split::new(&ids[..1], 1, 0).is_err());
        assert!(Split::new(&ids, 20, 0).is_err());
    }

    #[test]
    fn save_and_load_round_trip() {
        let dir = tempfile::tempdir().expect("tmp");
        let ids: Vec<String> = (0..5).map(|i| i.to_string()).collect();
        let s = Split::new(&ids, 2, 1).expect("valid");
        let path = dir.path().join("split.json");
        s.save(&path).expect("save");
        assert_eq!(Split::load(&path).expect("load"), s);
    }
}
