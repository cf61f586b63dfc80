//! Saving and loading weights as burnpack files.
//!
//! Every file records what it holds in its metadata: `adamm.kind` (`teacher`, `student` or
//! `discriminator`), `adamm.config` (the configuration as JSON) and `adamm.precision`
//! (`f32` or `f16`); student files written for inference also record how to run them
//! ([`InferenceSettings`]): `adamm.window`, the sliding window (see [`WeightsInfo::window`]),
//! and `adamm.normalization`, the intensity normalisation the network was trained with (see
//! [`WeightsInfo::normalization`]). Loading checks them against what the caller asks for and refuses a file
//! made for another network with a message naming the differences; it then checks that every
//! tensor was found with the right shape. Half-precision files (for the browser) store the
//! convolution, linear and group-norm weights as f16 and are widened to f32 on load.

use adamm_volume::preprocess::Normalization;
use burn::config::Config;
use burn::module::Module;
use burn::store::burn_pack::{Bytes, Reader};
use burn::store::{BurnpackStore, FloatCastAdapter, HalfPrecisionAdapter, ModuleSnapshot};
use burn::tensor::{DType, Device};

use crate::config::AdammConfig;
use crate::discriminator::{StyleDiscriminator, StyleDiscriminatorConfig};
use crate::error::{ModelError, Result};
use crate::infer::SlidingWindowConfig;
use crate::network::{Student, Teacher};
use crate::strip::{StripNet, StripNetConfig};
use crate::strip_input::StripGrid;

const KEY_KIND: &str = "adamm.kind";
const KEY_CONFIG: &str = "adamm.config";
const KEY_PRECISION: &str = "adamm.precision";
const KEY_WINDOW: &str = "adamm.window";
const KEY_NORMALIZATION: &str = "adamm.normalization";
const KEY_MIN_ENHANCING: &str = "adamm.min_enhancing_mm3";
const KEY_STRIP_GRID: &str = "adamm.strip_grid";
const KEY_STRIP_VOXEL: &str = "adamm.strip_voxel_mm";

/// `adamm.kind` of brain-extraction networks ([`StripNet`]).
pub const STRIPPER_KIND: &str = "stripper";

/// What running a student needs beyond its weights, recorded in the files written for
/// inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InferenceSettings {
    /// The sliding window `[x, y, z]` in voxels of the network's working grid, normally the
    /// training patch.
    pub window: [usize; 3],
    /// The intensity normalisation of the training cases.
    pub normalization: Normalization,
    /// The smallest enhancing tumour the model reports, mm³: a case whose ET adds up to less
    /// becomes necrosis (`adamm_volume::brats::drop_small_enhancing`); 0 reports any ET.
    /// Chosen on validation cases at export, 0 for files written during training.
    pub min_enhancing_mm3: u32,
}

/// The normalisation of student files that record none: every student saved before
/// `adamm.normalization` existed was trained on z-scored cases.
pub const LEGACY_NORMALIZATION: Normalization = Normalization::ZScore;

/// The sliding window of student files that record none: every student saved before
/// `adamm.window` existed is a light-preset network trained on 64³ patches.
pub const LEGACY_LIGHT_WINDOW: [usize; 3] = [64, 64, 64];

/// The largest weights file AdaMM loads: 256 MiB.
///
/// The paper network has 7.1 million parameters (28 MiB in f32, 14 MiB in f16); the limit
/// leaves room for one nine times larger while bounding what loading holds (the file, its
/// copy for the reader and the f32 weights: about three times the file), in the CLI and in
/// the browser worker alike. A longer file is refused with
/// [`ModelError::WeightsFileTooLarge`] before it is read; a file whose tensor descriptors
/// declare more bytes (shape × datatype, summed) than it holds is refused with
/// [`ModelError::TensorsExceedFile`] before any tensor or network is allocated.
pub const MAX_WEIGHTS_BYTES: usize = 256 << 20;

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
    /// The sliding window `[x, y, z]` (voxels of the network's working grid) recorded with the
    /// weights, normally the training patch; `None` in files written before it was recorded.
    pub recorded_window: Option<[usize; 3]>,
    /// The normalisation recorded with the weights; `None` in files written before it was
    /// recorded.
    pub recorded_normalization: Option<Normalization>,
    /// The smallest enhancing tumour reported, mm³ ([`InferenceSettings::min_enhancing_mm3`]);
    /// `None` in files written before it was recorded.
    pub recorded_min_enhancing_mm3: Option<u32>,
}

impl WeightsInfo {
    /// Reads the metadata of a burnpack file held in memory, after checking its length and
    /// its tensors' declared sizes against [`MAX_WEIGHTS_BYTES`] and the file's length.
    pub fn from_bytes(bytes: &[u8]) -> Result<WeightsInfo> {
        check_length(bytes.len() as u64)?;
        let reader = Reader::from_bytes(Bytes::from_bytes_vec(bytes.to_vec())).map_err(|e| {
            ModelError::WeightsIo {
                path: "<bytes>".into(),
                message: format!("not a burnpack file: {e}"),
            }
        })?;
        let meta = reader.metadata().clone();
        check_declared_sizes(reader, bytes.len())?;
        let get = |k: &str| meta.get(k).cloned();
        let recorded_window = match get(KEY_WINDOW) {
            None => None,
            Some(text) => Some(parse_window(&text).ok_or_else(|| {
                ModelError::WeightsMismatch(format!(
                    "unreadable sliding window {text:?} in the file's metadata (expected \
                     three positive sizes such as 64,64,64)"
                ))
            })?),
        };
        let recorded_normalization = match get(KEY_NORMALIZATION) {
            None => None,
            Some(name) => Some(Normalization::from_name(&name).ok_or_else(|| {
                let known: Vec<&str> = Normalization::ALL.iter().map(|n| n.name()).collect();
                ModelError::WeightsMismatch(format!(
                    "unknown intensity normalisation {name:?} in the file's metadata (this \
                     version knows {}): the file was written by a newer AdaMM",
                    known.join(", ")
                ))
            })?),
        };
        let recorded_min_enhancing_mm3 = match get(KEY_MIN_ENHANCING) {
            None => None,
            Some(text) => Some(text.trim().parse::<u32>().map_err(|_| {
                ModelError::WeightsMismatch(format!(
                    "unreadable smallest enhancing tumour {text:?} in the file's metadata \
                     (expected a whole number of mm³ such as 500)"
                ))
            })?),
        };
        match (get(KEY_KIND), get(KEY_CONFIG)) {
            (Some(kind), Some(config_json)) => Ok(WeightsInfo {
                kind,
                config_json,
                precision: get(KEY_PRECISION).unwrap_or_else(|| "f32".into()),
                recorded_window,
                recorded_normalization,
                recorded_min_enhancing_mm3,
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

    /// The sliding window to run this network with, in voxels of its working grid (the
    /// input grid coarsened by the configuration's `grid_factor`): the one recorded in the
    /// file. A file without one (written before it was recorded) gets
    /// [`LEGACY_LIGHT_WINDOW`] when its network is the light preset's — the only network
    /// trained and exported then — and the sliding-window default (128³, the authors'
    /// inference window) for any other network.
    pub fn window(&self) -> Result<[usize; 3]> {
        if let Some(w) = self.recorded_window {
            return Ok(w);
        }
        Ok(if self.network_config()? == AdammConfig::light() {
            LEGACY_LIGHT_WINDOW
        } else {
            SlidingWindowConfig::new().window
        })
    }

    /// The intensity normalisation to prepare cases with: the one recorded in the file, or
    /// [`LEGACY_NORMALIZATION`] for files written before it was recorded.
    pub fn normalization(&self) -> Normalization {
        self.recorded_normalization.unwrap_or(LEGACY_NORMALIZATION)
    }

    /// The smallest enhancing tumour to report, mm³: the one recorded in the file, or 0 (any
    /// ET) for files written before it was recorded.
    pub fn min_enhancing_mm3(&self) -> u32 {
        self.recorded_min_enhancing_mm3.unwrap_or(0)
    }
}

/// Reads `x,y,z` (as written by [`format_window`]).
fn parse_window(text: &str) -> Option<[usize; 3]> {
    let sizes: Vec<usize> = text
        .split(',')
        .map(|p| p.trim().parse().ok().filter(|&v| v > 0))
        .collect::<Option<_>>()?;
    sizes.try_into().ok()
}

fn format_window(window: [usize; 3]) -> String {
    format!("{},{},{}", window[0], window[1], window[2])
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

fn to_bytes<M: Persisted>(
    module: &M,
    precision: Precision,
    inference: Option<InferenceSettings>,
) -> Result<Vec<u8>> {
    to_bytes_with(module, precision, inference, &[])
}

fn to_bytes_with<M: Persisted>(
    module: &M,
    precision: Precision,
    inference: Option<InferenceSettings>,
    extra: &[(&str, String)],
) -> Result<Vec<u8>> {
    let mut store = BurnpackStore::from_bytes(None)
        .metadata(KEY_KIND, M::KIND)
        .metadata(KEY_CONFIG, module.config_json())
        .metadata(KEY_PRECISION, precision.name());
    for (key, value) in extra {
        store = store.metadata(*key, value.clone());
    }
    if let Some(settings) = inference {
        store = store
            .metadata(KEY_WINDOW, format_window(settings.window))
            .metadata(KEY_NORMALIZATION, settings.normalization.name())
            .metadata(KEY_MIN_ENHANCING, settings.min_enhancing_mm3.to_string());
    }
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

/// Loads `bytes` into the module `build` makes, built only once the file has passed the
/// checks of [`WeightsInfo::from_bytes`] (sizes, kind).
fn apply_bytes<M: Persisted>(build: impl FnOnce() -> Result<M>, bytes: &[u8]) -> Result<M> {
    let info = WeightsInfo::from_bytes(bytes)?;
    if info.kind != M::KIND {
        if info.kind == STRIPPER_KIND {
            return Err(ModelError::BrainExtractionModel);
        }
        if M::KIND == STRIPPER_KIND {
            return Err(ModelError::NotAStripper(info.kind));
        }
        return Err(ModelError::WeightsMismatch(format!(
            "the file holds a {} network, not a {}",
            info.kind,
            M::KIND
        )));
    }
    let mut module = build()?;
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

/// Reads a weights file, refusing one longer than [`MAX_WEIGHTS_BYTES`] before reading it.
pub(crate) fn read_file(path: &std::path::Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let io = |e: std::io::Error| ModelError::WeightsIo {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    check_length(len)?;
    // At most one byte past the limit, should the file have grown since.
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(MAX_WEIGHTS_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    check_length(bytes.len() as u64)?;
    Ok(bytes)
}

fn check_length(bytes: u64) -> Result<()> {
    if bytes > MAX_WEIGHTS_BYTES as u64 {
        return Err(ModelError::WeightsFileTooLarge {
            bytes,
            limit: MAX_WEIGHTS_BYTES,
        });
    }
    Ok(())
}

/// Refuses a file whose tensors declare more bytes than it holds. Burn's reader checks that
/// each tensor lies inside the file, not that they do not overlap: a small file can declare
/// any number of tensors over the same bytes, each of which loading would copy out.
fn check_declared_sizes(reader: Reader, file_bytes: usize) -> Result<()> {
    // Views into the reader's buffer: no tensor data is copied here.
    let tensors = reader.into_tensors().map_err(|e| ModelError::WeightsIo {
        path: "<bytes>".into(),
        message: format!("not a burnpack file: {e}"),
    })?;
    let declared: u128 = tensors.iter().map(|t| t.byte_len() as u128).sum();
    if declared > file_bytes as u128 {
        return Err(ModelError::TensorsExceedFile {
            tensors: tensors.len(),
            declared,
            file_bytes,
            limit: MAX_WEIGHTS_BYTES,
        });
    }
    Ok(())
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
                to_bytes(self, precision, None)
            }

            #[doc = concat!("Saves the ", $what, "'s weights to `path` (written as given, \
                             conventionally `*.bpk`).")]
            pub fn save(&self, path: impl AsRef<std::path::Path>, precision: Precision) -> Result<()> {
                write_file(path.as_ref(), &self.to_bytes(precision)?)
            }

            #[doc = concat!("Builds a ", $what, " for `config` on `device` and loads `bytes` \
                             into it; refuses weights saved for another kind or configuration.")]
            pub fn from_bytes(config: &AdammConfig, bytes: &[u8], device: &Device) -> Result<Self> {
                apply_bytes(|| config.$init(device), bytes)
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

impl Student {
    /// The student's weights with how to run it (`adamm.window`, `adamm.normalization`), as a
    /// burnpack file in memory.
    pub fn to_bytes_for_inference(
        &self,
        precision: Precision,
        settings: InferenceSettings,
    ) -> Result<Vec<u8>> {
        to_bytes(self, precision, Some(settings))
    }

    /// [`Student::to_bytes_for_inference`] written to `path`.
    pub fn save_for_inference(
        &self,
        path: impl AsRef<std::path::Path>,
        precision: Precision,
        settings: InferenceSettings,
    ) -> Result<()> {
        write_file(
            path.as_ref(),
            &self.to_bytes_for_inference(precision, settings)?,
        )
    }
}

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
        to_bytes(self, Precision::F32, None)
    }

    /// Builds a discriminator for `config` on `device` and loads `bytes` into it.
    pub fn from_bytes(
        config: &StyleDiscriminatorConfig,
        bytes: &[u8],
        device: &Device,
    ) -> Result<StyleDiscriminator> {
        apply_bytes(|| Ok(config.init(device)), bytes)
    }
}

impl Persisted for StripNet {
    const KIND: &'static str = STRIPPER_KIND;
    fn config_json(&self) -> String {
        self.config.to_string()
    }
}

fn strip_metadata(grid: StripGrid) -> [(&'static str, String); 2] {
    [
        (KEY_STRIP_GRID, format_window(grid.dims)),
        (KEY_STRIP_VOXEL, format!("{}", grid.voxel_mm)),
    ]
}

impl StripNet {
    /// The network's weights as a burnpack file in memory (kind `stripper`, its configuration
    /// and `grid`, the working grid it runs on, recorded).
    pub fn to_bytes(&self, precision: Precision, grid: StripGrid) -> Result<Vec<u8>> {
        to_bytes_with(self, precision, None, &strip_metadata(grid))
    }

    /// [`StripNet::to_bytes`] written to `path`.
    pub fn save(
        &self,
        path: impl AsRef<std::path::Path>,
        precision: Precision,
        grid: StripGrid,
    ) -> Result<()> {
        write_file(path.as_ref(), &self.to_bytes(precision, grid)?)
    }

    /// Builds a network for `config` on `device` and loads `bytes` into it; refuses a file of
    /// another kind (a tumour model: [`ModelError::NotAStripper`]) or configuration.
    pub fn from_bytes(config: &StripNetConfig, bytes: &[u8], device: &Device) -> Result<StripNet> {
        apply_bytes(|| config.init(device), bytes)
    }

    /// Loads a brain-extraction file held in memory with the configuration and working grid
    /// it records.
    pub fn from_bytes_any(bytes: &[u8], device: &Device) -> Result<(StripNet, StripGrid)> {
        let info = WeightsInfo::from_bytes(bytes)?;
        if info.kind != STRIPPER_KIND {
            return Err(ModelError::NotAStripper(info.kind));
        }
        let config = StripNetConfig::load_binary(info.config_json.as_bytes())
            .map_err(|e| ModelError::WeightsMismatch(format!("unreadable configuration: {e}")))?;
        let grid = strip_grid_of(bytes)?;
        Ok((StripNet::from_bytes(&config, bytes, device)?, grid))
    }

    /// [`StripNet::from_bytes_any`] reading the file at `path` (its name in the messages).
    pub fn load_any(
        path: impl AsRef<std::path::Path>,
        device: &Device,
    ) -> Result<(StripNet, StripGrid)> {
        let path = path.as_ref();
        let bytes = read_file(path)?;
        StripNet::from_bytes_any(&bytes, device).map_err(|e| match e {
            ModelError::WeightsMismatch(m) => {
                ModelError::WeightsMismatch(format!("{}: {m}", path.display()))
            }
            ModelError::NotAStripper(kind) => {
                ModelError::NotAStripper(format!("{kind} (in {})", path.display()))
            }
            other => other,
        })
    }
}

/// The working grid recorded in a brain-extraction file (the default grid when none is).
fn strip_grid_of(bytes: &[u8]) -> Result<StripGrid> {
    let reader = Reader::from_bytes(Bytes::from_bytes_vec(bytes.to_vec())).map_err(|e| {
        ModelError::WeightsIo {
            path: "<bytes>".into(),
            message: format!("not a burnpack file: {e}"),
        }
    })?;
    let meta = reader.metadata();
    let mut grid = StripGrid::default();
    if let Some(text) = meta.get(KEY_STRIP_GRID) {
        grid.dims = parse_window(text).ok_or_else(|| {
            ModelError::WeightsMismatch(format!("unreadable working grid {text:?} in the file"))
        })?;
    }
    if let Some(text) = meta.get(KEY_STRIP_VOXEL) {
        grid.voxel_mm = text
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v > 0.0)
            .ok_or_else(|| {
                ModelError::WeightsMismatch(format!("unreadable voxel size {text:?} in the file"))
            })?;
    }
    Ok(grid)
}
