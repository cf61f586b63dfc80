//! The one path from a case's scans to its label map, for every caller: `adamm segment`,
//! `adamm eval`, the browser worker and the end-to-end test's reference.
//!
//! 1. **Read** the scans ([`Scans::read_paths`], [`Scans::read_bytes`], or volumes already
//!    read with [`Scans::new`]), each named for messages.
//! 2. **One grid**: the scans must share dims and voxel→world affine (checked when [`Scans`]
//!    is built); labels are written on that grid, with the header of [`Scans::grid`].
//! 3. **Prepare** ([`Pipeline::prepare`]): canonical RAS, brain mask, crop and normalisation
//!    (`adamm_volume::preprocess`, with the normalisation the model file records), then the network's working grid (block means by the
//!    network's `grid_factor`). Any new step before the network belongs here.
//! 4. **Network**: the student over sliding windows with the adapter entry of the chosen
//!    combination ([`Pipeline::job`]), driven by [`Job::run`] (synchronous readback) or
//!    [`Job::run_async`] (asynchronous, for WebGPU in a browser) over the same steps.
//! 5. **Back to the input grid** ([`PreparedCase::finish`]): probabilities interpolated to
//!    the case's grid, tumour classes zeroed outside the brain mask, labels at
//!    [`LABEL_THRESHOLD`], pasted into the native grid and orientation.

use std::path::Path;

use adamm_volume::brats::{check_one_grid, Availability, LoadedCase, Modality};
use adamm_volume::nifti_io::Header;
use adamm_volume::preprocess::{preprocess, Normalization, PreprocessOptions, Preprocessed};
use adamm_volume::{read_bytes, read_path, resample, Volume};
use burn::tensor::Device;

use crate::error::{ModelError, PipelineError};
use crate::infer::{Progress, Segmentation, Segmenter, SlidingWindowConfig, Windows};
use crate::infer::{SegmentationNetwork, LABEL_THRESHOLD};
use crate::network::Student;
use crate::store::WeightsInfo;

/// The tumour classes (NETC, SNFH, ET) lead the probability maps; background, when present,
/// comes after them.
const TUMOUR_CLASSES: usize = 3;

/// The scans of one case (any subset of T1, T1Gd, T2, FLAIR), each with the name it is
/// reported by, checked to share one grid.
#[derive(Debug, Clone)]
pub struct Scans {
    volumes: [Option<Volume>; 4],
    names: [String; 4],
    /// Index of the first present scan, whose grid the case is on.
    grid: usize,
}

impl Scans {
    /// Scans already read, in [`Modality::ALL`] order, each with its name (a path, or the
    /// modality's name). Refuses an empty case and scans on different grids.
    pub fn new(scans: [Option<(String, Volume)>; 4]) -> Result<Scans, PipelineError> {
        let mut volumes: [Option<Volume>; 4] = Default::default();
        let mut names: [String; 4] = Default::default();
        for (i, scan) in scans.into_iter().enumerate() {
            if let Some((name, volume)) = scan {
                names[i] = name;
                volumes[i] = Some(volume);
            }
        }
        let grid = volumes
            .iter()
            .position(Option::is_some)
            .ok_or(PipelineError::NoScan)?;
        check_one_grid(
            names
                .iter()
                .zip(&volumes)
                .filter_map(|(n, v)| Some((n.as_str(), &v.as_ref()?.header))),
        )?;
        Ok(Scans {
            volumes,
            names,
            grid,
        })
    }

    /// Reads the scans at `paths` (T1, T1Gd, T2, FLAIR; `None` where absent), named by path.
    pub fn read_paths(paths: [Option<&Path>; 4]) -> Result<Scans, PipelineError> {
        let mut scans: [Option<(String, Volume)>; 4] = Default::default();
        for (slot, path) in scans.iter_mut().zip(paths) {
            let Some(path) = path else { continue };
            let name = path.display().to_string();
            let volume = read_path(path).map_err(|source| PipelineError::Read {
                file: name.clone(),
                source,
            })?;
            *slot = Some((name, volume));
        }
        Scans::new(scans)
    }

    /// Reads scans given as NIfTI bytes (T1, T1Gd, T2, FLAIR; `None` where absent), named by
    /// their modality.
    pub fn read_bytes(files: [Option<&[u8]>; 4]) -> Result<Scans, PipelineError> {
        let mut scans: [Option<(String, Volume)>; 4] = Default::default();
        for ((slot, bytes), m) in scans.iter_mut().zip(files).zip(Modality::ALL) {
            let Some(bytes) = bytes else { continue };
            let volume = read_bytes(bytes).map_err(|source| PipelineError::Read {
                file: m.name().into(),
                source,
            })?;
            *slot = Some((m.name().into(), volume));
        }
        Scans::new(scans)
    }

    /// The scans of a case read by `adamm_volume::brats::load_case` (its ground truth, if
    /// any, is not a scan and stays in `case`), named by modality.
    pub fn from_case(case: &mut LoadedCase) -> Result<Scans, PipelineError> {
        let mut scans: [Option<(String, Volume)>; 4] = Default::default();
        for ((slot, image), m) in scans
            .iter_mut()
            .zip(std::mem::take(&mut case.images))
            .zip(Modality::ALL)
        {
            *slot = image.map(|v| (m.name().to_owned(), v));
        }
        Scans::new(scans)
    }

    /// Which modalities are present.
    pub fn availability(&self) -> Availability {
        Availability::from_present(self.volumes.each_ref().map(Option::is_some))
    }

    /// The scans in [`Modality::ALL`] order.
    pub fn volumes(&self) -> [Option<&Volume>; 4] {
        self.volumes.each_ref().map(Option::as_ref)
    }

    /// The name a modality's scan is reported by (`None` if absent).
    pub fn name(&self, m: Modality) -> Option<&str> {
        self.volumes[m.index()]
            .as_ref()
            .map(|_| self.names[m.index()].as_str())
    }

    /// The first present scan: the grid and header the labels are written in.
    pub fn grid(&self) -> &Volume {
        // `Scans::new` refuses a case without a scan, so `grid` names a present one.
        self.volumes[self.grid]
            .as_ref()
            .unwrap_or_else(|| unreachable!("Scans::new checked the grid scan is present"))
    }

    /// The header of [`Scans::grid`]: the header the labels are written with.
    pub fn header(&self) -> &Header {
        &self.grid().header
    }
}

/// A case's label map on its native grid, with the presence scores.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseLabels {
    /// Internal labels (see [`Segmentation::labels`]) in the files' voxel order.
    pub labels: Vec<u8>,
    /// See [`Segmentation::presence`].
    pub presence: Vec<f32>,
}

/// A student read from a weights file, with what the file says about running it.
#[derive(Debug, Clone)]
pub struct LoadedStudent {
    /// The network.
    pub student: Student,
    /// The file's metadata.
    pub info: WeightsInfo,
}

impl LoadedStudent {
    /// Reads a student from a weights file's bytes, with the configuration recorded in it;
    /// refuses files that are not AdaMM weights or hold another network than a student.
    pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<LoadedStudent, ModelError> {
        let info =
            WeightsInfo::from_bytes(bytes).map_err(|e| ModelError::NotAModelFile(e.to_string()))?;
        if info.kind == crate::store::STRIPPER_KIND {
            return Err(ModelError::BrainExtractionModel);
        }
        if info.kind != "student" {
            return Err(ModelError::NotAStudent(info.kind));
        }
        let student = Student::from_bytes(&info.network_config()?, bytes, device)?;
        Ok(LoadedStudent { student, info })
    }

    /// [`LoadedStudent::from_bytes`] reading the file at `path`.
    pub fn load(path: &Path, device: &Device) -> Result<LoadedStudent, ModelError> {
        let bytes = crate::store::read_file(path)?;
        LoadedStudent::from_bytes(&bytes, device).map_err(|e| match e {
            ModelError::NotAModelFile(m) => {
                ModelError::NotAModelFile(format!("{}: {m}", path.display()))
            }
            other => other,
        })
    }

    /// The sliding-window settings the file asks for: its window
    /// ([`WeightsInfo::window`]), the other settings at their defaults.
    pub fn sliding_window(&self) -> Result<SlidingWindowConfig, ModelError> {
        Ok(SlidingWindowConfig::new().with_window(self.info.window()?))
    }

    /// The normalisation the file asks for ([`WeightsInfo::normalization`]).
    pub fn normalization(&self) -> Normalization {
        self.info.normalization()
    }
}

/// The segmentation pipeline of one loaded student (see the module docs). Build it once per
/// model and reuse it for every case.
#[derive(Debug)]
pub struct Pipeline {
    segmenter: Segmenter<Student>,
    preprocess: PreprocessOptions,
}

impl Pipeline {
    /// A pipeline running `student` on `device` with the sliding-window settings `windows`
    /// (normally [`LoadedStudent::sliding_window`]) on cases normalised as `normalization`
    /// (the one the student was trained with: [`LoadedStudent::normalization`]).
    pub fn new(
        student: Student,
        windows: SlidingWindowConfig,
        normalization: Normalization,
        device: &Device,
    ) -> Result<Pipeline, ModelError> {
        Ok(Pipeline {
            segmenter: Segmenter::new(student, windows, device)?,
            preprocess: PreprocessOptions {
                normalization,
                ..PreprocessOptions::default()
            },
        })
    }

    /// A pipeline for a loaded student file, with the sliding window and normalisation it
    /// records.
    pub fn for_student(loaded: LoadedStudent, device: &Device) -> Result<Pipeline, ModelError> {
        let windows = loaded.sliding_window()?;
        let normalization = loaded.normalization();
        Pipeline::new(loaded.student, windows, normalization, device)
    }

    /// The normalisation cases are prepared with.
    pub fn normalization(&self) -> Normalization {
        self.preprocess.normalization
    }

    /// The sliding-window segmenter (its network and settings).
    pub fn segmenter(&self) -> &Segmenter<Student> {
        &self.segmenter
    }

    /// Steps 3 of the module docs: the case ready for the network.
    pub fn prepare(&self, scans: &Scans) -> Result<PreparedCase, PipelineError> {
        let case = preprocess(scans.volumes(), self.preprocess).map_err(PipelineError::Prepare)?;
        let factor = self.segmenter.network().network_config().grid_factor;
        let dims = case.dims();
        let channels = case
            .channels
            .iter()
            .map(|c| resample::block_mean(c, dims, factor))
            .collect();
        Ok(PreparedCase {
            network_dims: resample::coarse_dims(dims, factor),
            network_channels: channels,
            factor,
            case,
        })
    }

    /// Step 4: the network's sliding windows over a prepared case with `combination` (the
    /// adapter entry used; modalities it leaves out are zeroed even if the case has them).
    /// Refuses a combination with a modality the case lacks.
    pub fn job<'a>(
        &'a self,
        case: &'a PreparedCase,
        combination: Availability,
    ) -> Result<Job<'a>, PipelineError> {
        let have = case.availability();
        let missing: Vec<&str> = Modality::ALL
            .iter()
            .filter(|&&m| combination.has(m) && !have.has(m))
            .map(|m| m.name())
            .collect();
        if !missing.is_empty() {
            return Err(PipelineError::MissingModality {
                combination: combination.code(),
                missing: missing.join(", "),
            });
        }
        let windows =
            self.segmenter
                .start(&case.network_channels, case.network_dims, combination)?;
        Ok(Job { windows, case })
    }

    /// Every step at once with the scans' own combination, reading back synchronously (not
    /// on WebGPU in a browser: there, [`Pipeline::job`] and [`Job::run_async`]).
    pub fn segment(
        &self,
        scans: &Scans,
        progress: impl FnMut(Progress),
    ) -> Result<CaseLabels, PipelineError> {
        let case = self.prepare(scans)?;
        self.job(&case, case.availability())?.run(progress)
    }
}

/// A case after step 3: preprocessed, and its channels on the network's working grid.
#[derive(Debug, Clone)]
pub struct PreparedCase {
    /// The preprocessed case (canonical RAS crop, brain mask, the way back to native).
    pub case: Preprocessed,
    network_channels: Vec<Vec<f32>>,
    network_dims: [usize; 3],
    factor: usize,
}

impl PreparedCase {
    /// Which modalities the case has.
    pub fn availability(&self) -> Availability {
        self.case.availability
    }

    /// The channels on the network's working grid and that grid's size.
    pub fn network_input(&self) -> (&[Vec<f32>], [usize; 3]) {
        (&self.network_channels, self.network_dims)
    }

    /// Probabilities on the network's grid brought to the case's (cropped) grid: linearly
    /// interpolated when the network works on a coarser grid, then the tumour classes set to
    /// 0 outside the brain mask (the background class, if present, is left as it is).
    pub fn case_probabilities(&self, coarse: Segmentation) -> Segmentation {
        let dims = self.case.dims();
        let mut probabilities = if self.factor <= 1 {
            coarse.probabilities
        } else {
            coarse
                .probabilities
                .iter()
                .map(|p| resample::upsample_linear(p, dims, self.factor))
                .collect()
        };
        for p in probabilities.iter_mut().take(TUMOUR_CLASSES) {
            for (v, &inside) in p.iter_mut().zip(&self.case.brain) {
                if !inside {
                    *v = 0.0;
                }
            }
        }
        Segmentation {
            dims,
            probabilities,
            presence: coarse.presence,
        }
    }

    /// Step 5: the network's output back on the native grid as labels at
    /// [`LABEL_THRESHOLD`], with the presence scores.
    pub fn finish(&self, coarse: Segmentation) -> Result<CaseLabels, PipelineError> {
        let on_case = self.case_probabilities(coarse);
        Ok(CaseLabels {
            labels: self
                .case
                .labels_to_native(&on_case.labels(LABEL_THRESHOLD))
                .map_err(PipelineError::Prepare)?,
            presence: on_case.presence,
        })
    }
}

/// Step 4 under way for one case and combination (from [`Pipeline::job`]).
pub struct Job<'a> {
    windows: Windows<'a, Student>,
    case: &'a PreparedCase,
}

impl Job<'_> {
    /// Windows in all.
    pub fn total(&self) -> usize {
        self.windows.total()
    }

    /// Runs the windows reading back synchronously, then step 5.
    pub fn run(self, progress: impl FnMut(Progress)) -> Result<CaseLabels, PipelineError> {
        let coarse = self.windows.run(progress)?;
        self.case.finish(coarse)
    }

    /// Runs the windows reading back asynchronously (every backend, WebGPU in a browser
    /// included), then step 5.
    pub async fn run_async(
        self,
        progress: impl FnMut(Progress),
    ) -> Result<CaseLabels, PipelineError> {
        let coarse = self.windows.run_async(progress).await?;
        self.case.finish(coarse)
    }
}
