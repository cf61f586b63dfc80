//! Saving and loading weights as burnpack files.
//!
//! Every file records what it holds in its metadata: `adamm.kind` (`teacher`, `student` or
//! `discriminator`), `adamm.config` (the configuration as JSON) and `adamm.precision`
//! (`f32` or `f16`). Loading checks them against what the caller asks for and refuses a file
//! made for another network with a message naming the differences; it then checks that every
//! tensor was found with the right shape. Half-precision files (for the browser) store the
//! convolution, linear and group-norm weights as f16 and are widened to f32 on load.

use burn::config::Config;
use burn::module::Module;
use burn::store::burn_pack::{Bytes, Reader};
use burn::store::{BurnpackStore, FloatCastAdapter, HalfPrecisionAdapter, ModuleSnapshot};
use burn::tensor::{DType, Device};

use crate::config::AdammConfig;
use crate::discriminator::{StyleDiscriminator, StyleDiscriminatorConfig};
use crate::error::{ModelError, Result};
use crate::network::{Student, Teacher};

const KEY_KIND: &str = "adamm.kind";
const KEY_CONFIG: &str = "adamm.config";
const KEY_PRECISION: &str = "adamm.precision";

/// Floating-point precision of a weights file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// 32-bit floats (training checkpoints).
    F32,
    /// 16-bit floats for the convolution, linear and group-norm weights (browser download);
    /// batch-norm statistics and the graph parameters stay f32.
    F16,
}

impl Precision {
    fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
        }
    }
}

/// What a weights file says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightsInfo {
    /// `teacher`, `student` or `discriminator`.
    pub kind: String,
    /// The configuration, as JSON.
    pub config_json: String,
    /// `f32` or `f16`.
    pub precision: String,
}

impl WeightsInfo {
    /// Reads the metadata of a burnpack file held in memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<WeightsInfo> {
        let reader = Reader::from_bytes(Bytes::from_bytes_vec(bytes.to_vec())).map_err(|e| {
            ModelError::WeightsIo {
                path: "<bytes>".into(),
                message: format!("not a burnpack file: {e}"),
            }
        })?;
        let meta = reader.metadata();
        let get = |k: &str| meta.get(k).cloned();
        match (get(KEY_KIND), get(KEY_CONFIG)) {
            (Some(kind), Some(config_json)) => Ok(WeightsInfo {
                kind,
                config_json,
                precision: get(KEY_PRECISION).unwrap_or_else(|| "f32".into()),
            }),
            _ => Err(ModelError::WeightsMismatch(
                "the file has no AdaMM metadata (adamm.kind, adamm.config): it was not saved by \
                 this crate"
                    .into(),
            )),
        }
    }

    /// The network configuration, for teacher and student files.
    pub fn network_config(&self) -> Result<AdammConfig> {
        AdammConfig::load_binary(self.config_json.as_bytes())
            .map_err(|e| ModelError::WeightsMismatch(format!("unreadable configuration: {e}")))
    }
}

/// A module this crate saves: its kind name and its configuration as JSON.
trait Persisted: Module + ModuleSnapshot {
    const KIND: &'static str;
    fn config_json(&self) -> String;
}

impl Persisted for Teacher {
    const KIND: &'static str = "teacher";
    fn config_json(&self) -> String {
        self.config.to_string()
    }
}

impl Persisted for Student {
    const KIND: &'static str = "student";
    fn config_json(&self) -> String {
        self.config.to_string()
    }
}

fn to_bytes<M: Persisted>(module: &M, precision: Precision) -> Result<Vec<u8>> {
    let mut store = BurnpackStore::from_bytes(None)
        .metadata(KEY_KIND, M::KIND)
        .metadata(KEY_CONFIG, module.config_json())
        .metadata(KEY_PRECISION, precision.name());
    if precision == Precision::F16 {
        store = store.with_to_adapter(HalfPrecisionAdapter::new());
    }
    module
        .save_into(&mut store)
        .map_err(|e| ModelError::WeightsIo {
            path: "<bytes>".into(),
            message: e.to_string(),
        })?;
    let bytes = store.get_bytes().map_err(|e| ModelError::WeightsIo {
        path: "<bytes>".into(),
        message: e.to_string(),
    })?;
    Ok(bytes.to_vec())
}

/// Compares two configuration JSONs field by field; `None` if equal.
fn config_difference(expected: &str, found: &str) -> Option<String> {
    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).ok();
    match (parse(expected), parse(found)) {
        (Some(serde_json::Value::Object(e)), Some(serde_json::Value::Object(f))) => {
            let mut diffs = Vec::new();
            for (k, ev) in &e {
                match f.get(k) {
                    Some(fv) if fv == ev => {}
                    Some(fv) => diffs.push(format!("{k}: file has {fv}, expected {ev}")),
                    None => diffs.push(format!("{k}: missing in the file, expected {ev}")),
                }
            }
            for k in f.keys().filter(|k| !e.contains_key(*k)) {
                diffs.push(format!("{k}: unknown field in the file"));
            }
            (!diffs.is_empty()).then(|| diffs.join("; "))
        }
        _ => (expected.trim() != found.trim()).then(|| "unreadable configuration".into()),
    }
}

fn apply_bytes<M: Persisted>(mut module: M, bytes: &[u8]) -> Result<M> {
    let info = WeightsInfo::from_bytes(bytes)?;
    if info.kind != M::KIND {
        return Err(ModelError::WeightsMismatch(format!(
            "the file holds a {} network, not a {}",
            info.kind,
            M::KIND
        )));
    }
    if let Some(diff) = config_difference(&module.config_json(), &info.config_json) {
        return Err(ModelError::WeightsMismatch(format!(
            "the file was saved for another configuration ({diff})"
        )));
    }
    // Partial loading is allowed so that the result lists what is missing; any gap is then
    // refused below with a short message.
    let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(bytes.to_vec())))
        .allow_partial(true)
        .with_from_adapter(FloatCastAdapter::to(DType::F32));
    let result = module
        .load_from(&mut store)
        .map_err(|e| ModelError::WeightsMismatch(e.to_string()))?;
    if !result.errors.is_empty() || !result.missing.is_empty() || !result.unused.is_empty() {
        let mut parts = Vec::new();
        if !result.errors.is_empty() {
            let errs: Vec<String> = result
                .errors
                .iter()
                .take(3)
                .map(|e| format!("{e:?}"))
                .collect();
            parts.push(format!(
                "{} tensors failed ({})",
                result.errors.len(),
                errs.join(", ")
            ));
        }
        if !result.missing.is_empty() {
            let names: Vec<&str> = result
                .missing
                .iter()
                .take(3)
                .map(|(n, _)| n.as_str())
                .collect();
            parts.push(format!(
                "{} tensors missing ({})",
                result.missing.len(),
                names.join(", ")
            ));
        }
        if !result.unused.is_empty() {
            let names: Vec<&str> = result.unused.iter().take(3).map(String::as_str).collect();
            parts.push(format!(
                "{} unexpected tensors ({})",
                result.unused.len(),
                names.join(", ")
            ));
        }
        return Err(ModelError::WeightsMismatch(parts.join("; ")));
    }
    Ok(module)
}

fn read_file(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| ModelError::WeightsIo {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| ModelError::WeightsIo {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

macro_rules! persistence {
    ($ty:ty, $init:ident, $what:literal) => {
        impl $ty {
            #[doc = concat!("The ", $what, "'s weights as a burnpack file in memory.")]
            pub fn to_bytes(&self, precision: Precision) -> Result<Vec<u8>> {
                to_bytes(self, precision)
            }

            #[doc = concat!("Saves the ", $what, "'s weights to `path` (written as given, \
                             conventionally `*.bpk`).")]
            pub fn save(&self, path: impl AsRef<std::path::Path>, precision: Precision) -> Result<()> {
                write_file(path.as_ref(), &self.to_bytes(precision)?)
            }

            #[doc = concat!("Builds a ", $what, " for `config` on `device` and loads `bytes` \
                             into it; refuses weights saved for another kind or configuration.")]
            pub fn from_bytes(config: &AdammConfig, bytes: &[u8], device: &Device) -> Result<Self> {
                apply_bytes(config.$init(device)?, bytes)
            }

            #[doc = concat!("[`Self::from_bytes`] reading the file at `path`.")]
            pub fn load(
                config: &AdammConfig,
                path: impl AsRef<std::path::Path>,
                device: &Device,
            ) -> Result<Self> {
                let path = path.as_ref();
                let bytes = read_file(path)?;
                Self::from_bytes(config, &bytes, device).map_err(|e| match e {
                    ModelError::WeightsMismatch(m) => {
                        ModelError::WeightsMismatch(format!("{}: {m}", path.display()))
                    }
                    other => other,
                })
            }

            #[doc = concat!("Loads a ", $what, " with the configuration recorded in the file.")]
            pub fn load_any(path: impl AsRef<std::path::Path>, device: &Device) -> Result<Self> {
                let path = path.as_ref();
                let bytes = read_file(path)?;
                let config = WeightsInfo::from_bytes(&bytes)?.network_config()?;
                Self::from_bytes(&config, &bytes, device)
            }
        }
    };
}

persistence!(Teacher, init_teacher, "teacher");
persistence!(Student, init_student, "student");

impl Persisted for StyleDiscriminator {
    const KIND: &'static str = "discriminator";
    fn config_json(&self) -> String {
        // The discriminator's shape is fully given by its layers; record them.
        let [out_c, in_c, ..] = self.convs[0].weight.dims();
        format!(
            "{{\"channels\":{in_c},\"base_width\":{out_c},\"slope\":{}}}",
            self.slope
        )
    }
}

impl StyleDiscriminator {
    /// The discriminator's weights as a burnpack file in memory (always f32).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        to_bytes(self, Precision::F32)
    }

    /// Builds a discriminator for `config` on `device` and loads `bytes` into it.
    pub fn from_bytes(
        config: &StyleDiscriminatorConfig,
        bytes: &[u8],
        device: &Device,
    ) -> Result<StyleDiscriminator> {
        apply_bytes(config.init(device), bytes)
    }
}
