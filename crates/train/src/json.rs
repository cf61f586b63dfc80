//! Reading and writing the run's JSON files, with the path in every error.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::TrainError;

/// Reads `path` as JSON.
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<T, TrainError> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    serde_json::from_str(&text).map_err(|source| TrainError::Json {
        path: path.into(),
        source,
    })
}

/// Writes `value` to `path` as pretty JSON.
pub fn save<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<(), TrainError> {
    let text = serde_json::to_string_pretty(value).map_err(|source| TrainError::Json {
        path: path.into(),
        source,
    })?;
    std::fs::write(path, text).map_err(|e| TrainError::io(path, e))
}
