//! The one path from a case's scans to its label map, for every caller: `adamm segment`,
//! `adamm eval`, the browser worker and the end-to-end test's reference.
//!
//! 1. **Read** the scans ([`Scans::read_paths`], [`Scans::read_bytes`], or volumes already
//!    read with [`Scans::new`]), each named for messages.
//! 2. **One grid** (when [`Scans`] is built, `adamm_volume::align`): the reference scan (the
//!    finest) gives the grid labels are written on, with its header ([`Scans::header`]); the
//!    network runs on the working grid (the reference grid, or 1 mm isotropic over it when the
//!    reference is not 1 mm); scans on other grids are registered rigidly to the reference
//!    on mutual information and resampled there. Each scan's skull-stripping check is made.
//! 3. **Prepare** ([`Pipeline::prepare`]): brain extraction when the scans are not
//!    skull-stripped and a network for it is loaded ([`Stripping`], [`StripOutcome`]: the
//!    reference scan's brain mask applied to every scan); canonical RAS, brain mask, crop and normalisation
//!    (`adamm_volume::preprocess`, with the normalisation the model file records), then the network's working grid (block means by the
//!    network's `grid_factor`). Any new step before the network belongs here.
//! 4. **Network**: the student over sliding windows with the adapter entry of the chosen
//!    combination ([`Pipeline::job`]), driven by [`Job::run`] (synchronous readback) or
//!    [`Job::run_async`] (asynchronous, for WebGPU in a browser) over the same steps.
//! 5. **Back to the input grid** ([`PreparedCase::finish`]): probabilities interpolated to
//!    the case's grid, tumour classes zeroed outside the brain mask, labels at
//!    [`LABEL_THRESHOLD`], components smaller than one network voxel dropped, pasted into the working grid's orientation, then (nearest voxel) onto
//!    the reference grid; [`Scans::labels_on_scan`] writes them on any input's own grid.

use std::path::Path;

use adamm_measure::{mean_intensities, measure_rano, region_stats, Measurements};
use adamm_volume::align::{align_scans, labels_onto, AlignedScans, ScanAlignment};
use adamm_volume::brats::{drop_small_enhancing, drop_specks, Availability, LoadedCase, Modality};
use adamm_volume::nifti_io::Header;
use adamm_volume::preprocess::{
    preprocess_with_mask, Normalization, PreprocessOptions, Preprocessed,
};
use adamm_volume::register::RegistrationOptions;
use adamm_volume::regrid::TargetGrid;
use adamm_volume::skull::{check_skull, SkullCheck};
use adamm_volume::{read_bytes, read_path, resample, Affine, Volume};
use burn::tensor::Device;

use crate::error::{ModelError, PipelineError};
use crate::infer::{Progress, Segmentation, Segmenter, SlidingWindowConfig, WindowOutput, Windows};
use crate::infer::{SegmentationNetwork, LABEL_THRESHOLD};
use crate::network::Student;
use crate::store::WeightsInfo;
use crate::strip_input::{strip_mask, StripGrid};

/// The tumour classes (NETC, SNFH, ET) lead the probability maps; background, when present,
/// comes after them.
const TUMOUR_CLASSES: usize = 3;

/// The scans of one case (any subset of T1, T1Gd, T2, FLAIR), each with the name it is
/// reported by, on one working grid (`adamm_volume::align`: scans on different grids are
/// registered to the reference scan and resampled), with the skull-stripping check of each.
#[derive(Debug, Clone)]
pub struct Scans {
    aligned: AlignedScans,
    names: [String; 4],
    skull: [Option<SkullCheck>; 4],
}

impl Scans {
    /// Scans already read, in [`Modality::ALL`] order, each with its name (a path, or the
    /// modality's name). Refuses an empty case, and scans that cannot be aligned (naming
    /// them).
    pub fn new(scans: [Option<(String, Volume)>; 4]) -> Result<Scans, PipelineError> {
        let mut volumes: [Option<Volume>; 4] = Default::default();
        let mut names: [String; 4] = Default::default();
        for (i, scan) in scans.into_iter().enumerate() {
            if let Some((name, volume)) = scan {
                names[i] = name;
                volumes[i] = Some(volume);
            }
        }
        if volumes.iter().all(Option::is_none) {
            return Err(PipelineError::NoScan);
        }
        let skull = volumes.each_ref().map(|v| v.as_ref().map(check_skull));
        let aligned = align_scans(
            volumes,
            names.each_ref().map(String::as_str),
            &RegistrationOptions::default(),
        )
        .map_err(PipelineError::Align)?;
        Ok(Scans {
            aligned,
            names,
            skull,
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
        Availability::from_present(self.aligned.volumes.each_ref().map(Option::is_some))
    }

    /// The scans on the working grid, in [`Modality::ALL`] order.
    pub fn volumes(&self) -> [Option<&Volume>; 4] {
        self.aligned.volumes.each_ref().map(Option::as_ref)
    }

    /// The name a modality's scan is reported by (`None` if absent).
    pub fn name(&self, m: Modality) -> Option<&str> {
        self.aligned.volumes[m.index()]
            .as_ref()
            .map(|_| self.names[m.index()].as_str())
    }

    /// How the scans were brought onto one grid: the reference scan, the working grid, each
    /// scan's registration.
    pub fn alignment(&self) -> &AlignedScans {
        &self.aligned
    }

    /// The reference scan's modality: labels are written on its grid.
    pub fn reference(&self) -> Modality {
        Modality::ALL[self.aligned.reference]
    }

    /// Each present scan's skull-stripping check (`adamm_volume::skull`), on its own grid.
    pub fn skull_checks(&self) -> [Option<SkullCheck>; 4] {
        self.skull
    }

    /// Whether every present scan is skull-stripped.
    pub fn skull_stripped(&self) -> bool {
        self.skull.iter().flatten().all(|c| c.stripped)
    }

    /// The reference scan's own header: the grid and header the labels are written with.
    pub fn header(&self) -> &Header {
        self.aligned.reference_header()
    }

    /// Labels on scan `m`'s own grid (through its registration; nearest voxel of the working
    /// grid); `None` if the case has no such scan.
    pub fn labels_on_scan(
        &self,
        labels: &CaseLabels,
        m: Modality,
    ) -> Result<Option<Vec<u8>>, PipelineError> {
        self.aligned
            .labels_on_scan(labels.working(), m.index())
            .map_err(PipelineError::Prepare)
    }

    /// Measures a segmentation of these scans (`adamm_measure`): RANO, volumes, lesions,
    /// centroids and hemispheres on the reference grid (the labels as written; `brain`, the
    /// mask of [`PreparedCase::brain_on_reference`], sets the midline), and each scan's mean
    /// intensity per region on the working grid, where the scans are aligned.
    pub fn measure(
        &self,
        labels: &CaseLabels,
        brain: &[bool],
    ) -> Result<Measurements, PipelineError> {
        let header = self.header();
        let affine = header.world_from_voxel().map_err(PipelineError::Prepare)?;
        let rano = measure_rano(&labels.labels, header.dims, &affine)?;
        let mut regions = region_stats(&labels.labels, header.dims, &affine, Some(brain), &[])?;
        let scans: Vec<(&str, &[f32])> = Modality::ALL
            .iter()
            .filter_map(|m| {
                let v = self.aligned.volumes[m.index()].as_ref()?;
                Some((m.name(), v.data.as_slice()))
            })
            .collect();
        let means = mean_intensities(labels.working(), &scans)?;
        for (r, m) in regions.iter_mut().zip(means) {
            r.mean_intensity = m;
        }
        Ok(Measurements { rano, regions })
    }

    /// One line per scan for people: its grid's part (the reference, on it, or registered to
    /// it with the motion found) and its skull-stripping check; then, when the network works
    /// on a 1 mm grid over the reference, a line saying so.
    pub fn describe(&self) -> Vec<String> {
        let reference = self.reference();
        let mut lines = Vec::new();
        for m in Modality::ALL {
            let (Some(name), Some(how), Some(check)) = (
                self.name(m),
                self.aligned.alignments[m.index()].as_ref(),
                self.skull[m.index()],
            ) else {
                continue;
            };
            let place = match how {
                _ if m == reference => "the reference grid".to_owned(),
                ScanAlignment::OnWorkingGrid | ScanAlignment::OnReferenceGrid => {
                    "on the reference grid".to_owned()
                }
                ScanAlignment::Registered(r) => {
                    let [rx, ry, rz] = r.transform.rotation_deg;
                    let [tx, ty, tz] = r.transform.translation_mm;
                    format!(
                        "registered to {}: rotation ({rx:.2}°, {ry:.2}°, {rz:.2}°), translation \
                         ({tx:.2}, {ty:.2}, {tz:.2}) mm, mutual information {:.3} → {:.3}",
                        reference.name(),
                        r.initial_mutual_information,
                        r.mutual_information
                    )
                }
            };
            lines.push(format!(
                "{} ({name}): {place}; {}",
                m.name(),
                check.describe()
            ));
        }
        if !self.aligned.works_on_reference_grid() {
            let [nx, ny, nz] = self.aligned.working.dims;
            lines.push(format!(
                "the network works on a 1 mm grid of {nx}×{ny}×{nz} over the reference scan; \
                 labels go back to the reference grid"
            ));
        }
        lines
    }

    /// For each modality, the transform from the reference scan's world to that scan's own
    /// world found by registration (`None` for the reference, scans on its grid, and absent
    /// scans): how to show a scan aligned on the reference grid.
    pub fn transforms(&self) -> [Option<Affine>; 4] {
        self.aligned.alignments.each_ref().map(|a| match a {
            Some(ScanAlignment::Registered(r)) => Some(r.moving_world_from_fixed_world),
            _ => None,
        })
    }

    /// Dimensions of the labels' grid (the reference scan's).
    pub fn dims(&self) -> [usize; 3] {
        self.header().dims
    }

    /// Voxel size of the labels' grid (the reference scan's), mm.
    pub fn spacing_mm(&self) -> Result<[f64; 3], PipelineError> {
        Ok(self
            .header()
            .world_from_voxel()
            .map_err(PipelineError::Prepare)?
            .column_norms())
    }
}

/// A case's label map on the reference scan's grid, with the presence scores.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseLabels {
    /// Internal labels (see [`Segmentation::labels`]) on the reference scan's grid
    /// ([`Scans::header`]), in its voxel order.
    pub labels: Vec<u8>,
    /// The same on the working grid when that is not the reference grid (a scan not 1 mm
    /// isotropic was resampled for the network); `None` when `labels` is on it.
    pub on_working_grid: Option<Vec<u8>>,
    /// See [`Segmentation::presence`].
    pub presence: Vec<f32>,
}

impl CaseLabels {
    /// The labels on the working grid (where the network ran).
    pub fn working(&self) -> &[u8] {
        self.on_working_grid.as_deref().unwrap_or(&self.labels)
    }
}

/// When the pipeline extracts the brain before segmenting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stripping {
    /// When the scans are not skull-stripped ([`Scans::skull_stripped`]). The default.
    #[default]
    Auto,
    /// Always (the mask replaces the non-zero voxels as the brain).
    Always,
    /// Never: the scans are taken as they are.
    Never,
}

/// A brain-extraction network and the grid it works on ([`crate::StripNet::load_any`]).
#[derive(Debug)]
pub struct BrainExtractor {
    /// The network.
    pub net: crate::StripNet,
    /// Its working grid.
    pub grid: StripGrid,
}

/// What the pipeline did about the skull for one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StripOutcome {
    /// The scans are skull-stripped already: the brain is their non-zero voxels.
    AlreadyStripped,
    /// The brain was extracted from the reference scan and every scan masked with it.
    Extracted,
    /// The scans are not skull-stripped but no brain-extraction model is loaded: segmented as
    /// they are (labels outside the brain are likely).
    NoModel,
    /// Stripping was switched off ([`Stripping::Never`]) for scans that are not skull-stripped.
    SwitchedOff,
}

impl StripOutcome {
    /// One line for people.
    pub fn describe(self) -> &'static str {
        match self {
            StripOutcome::AlreadyStripped => "the scans are skull-stripped",
            StripOutcome::Extracted => {
                "not skull-stripped: the brain was extracted (stripped the skull)"
            }
            StripOutcome::NoModel => {
                "not skull-stripped, and no brain-extraction model is loaded: segmented with the \
                 skull (labels outside the brain are likely)"
            }
            StripOutcome::SwitchedOff => {
                "not skull-stripped; brain extraction switched off: segmented with the skull"
            }
        }
    }
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

    /// The smallest enhancing tumour the file reports, mm³ ([`WeightsInfo::min_enhancing_mm3`]).
    pub fn min_enhancing_mm3(&self) -> u32 {
        self.info.min_enhancing_mm3()
    }
}

/// The segmentation pipeline of one loaded student (see the module docs). Build it once per
/// model and reuse it for every case.
#[derive(Debug)]
pub struct Pipeline {
    segmenter: Segmenter<Student>,
    preprocess: PreprocessOptions,
    extractor: Option<BrainExtractor>,
    stripping: Stripping,
    min_enhancing_mm3: u32,
    device: Device,
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
            extractor: None,
            stripping: Stripping::default(),
            min_enhancing_mm3: 0,
            device: device.clone(),
        })
    }

    /// The pipeline with a brain-extraction network, used as [`Pipeline::set_stripping`]
    /// says (by default when the scans are not skull-stripped).
    pub fn with_brain_extraction(mut self, extractor: BrainExtractor) -> Pipeline {
        self.extractor = Some(extractor);
        self
    }

    /// When to extract the brain (default [`Stripping::Auto`]).
    pub fn set_stripping(&mut self, stripping: Stripping) {
        self.stripping = stripping;
    }

    /// Whether a brain-extraction network is loaded.
    pub fn has_brain_extraction(&self) -> bool {
        self.extractor.is_some()
    }

    /// A pipeline for a loaded student file, with the sliding window and normalisation it
    /// records.
    pub fn for_student(loaded: LoadedStudent, device: &Device) -> Result<Pipeline, ModelError> {
        let windows = loaded.sliding_window()?;
        let normalization = loaded.normalization();
        let min_enhancing_mm3 = loaded.min_enhancing_mm3();
        let mut pipeline = Pipeline::new(loaded.student, windows, normalization, device)?;
        pipeline.set_min_enhancing_mm3(min_enhancing_mm3);
        Ok(pipeline)
    }

    /// Sets the smallest enhancing tumour reported, mm³ (normally
    /// [`LoadedStudent::min_enhancing_mm3`]; 0, the default of [`Pipeline::new`], reports
    /// any): step 5 turns a case's ET into necrosis when it adds up to less
    /// ([`drop_small_enhancing`]).
    pub fn set_min_enhancing_mm3(&mut self, mm3: u32) {
        self.min_enhancing_mm3 = mm3;
    }

    /// The smallest enhancing tumour reported, mm³ (see [`Pipeline::set_min_enhancing_mm3`]).
    pub fn min_enhancing_mm3(&self) -> u32 {
        self.min_enhancing_mm3
    }

    /// The normalisation cases are prepared with.
    pub fn normalization(&self) -> Normalization {
        self.preprocess.normalization
    }

    /// The sliding-window segmenter (its network and settings).
    pub fn segmenter(&self) -> &Segmenter<Student> {
        &self.segmenter
    }

    /// Steps 3 of the module docs: the case ready for the network, with this pipeline's
    /// brain extraction and [`Stripping`].
    pub fn prepare(&self, scans: &Scans) -> Result<PreparedCase, PipelineError> {
        self.prepare_with(scans, self.extractor.as_ref(), self.stripping)
    }

    /// [`Pipeline::prepare`] with the brain-extraction network and the rule given here (the
    /// browser worker loads the two networks apart and lets the user switch stripping off).
    pub fn prepare_with(
        &self,
        scans: &Scans,
        extractor: Option<&BrainExtractor>,
        stripping: Stripping,
    ) -> Result<PreparedCase, PipelineError> {
        let volumes = scans.volumes();
        let head = !scans.skull_stripped();
        let wanted = match stripping {
            Stripping::Auto => head,
            Stripping::Always => true,
            Stripping::Never => false,
        };
        let (mask, strip) = match (extractor, wanted) {
            (Some(x), true) => {
                let reference =
                    volumes[scans.alignment().reference].ok_or(PipelineError::NoScan)?;
                let mask = strip_mask(&x.net, reference, x.grid, &self.device)?;
                (Some(mask), StripOutcome::Extracted)
            }
            (None, true) => (None, StripOutcome::NoModel),
            (_, false) if head => (None, StripOutcome::SwitchedOff),
            (_, false) => (None, StripOutcome::AlreadyStripped),
        };
        let case = preprocess_with_mask(volumes, mask.as_deref(), self.preprocess)
            .map_err(PipelineError::Prepare)?;
        let alignment = scans.alignment();
        let to_reference = if alignment.works_on_reference_grid() {
            None
        } else {
            let h = alignment.reference_header();
            Some(TargetGrid {
                dims: h.dims,
                world_from_voxel: h.world_from_voxel().map_err(PipelineError::Prepare)?,
            })
        };
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
            min_enhancing_mm3: self.min_enhancing_mm3,
            case,
            strip,
            working: alignment.working,
            to_reference,
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
    min_enhancing_mm3: u32,
    /// What was done about the skull.
    pub strip: StripOutcome,
    working: TargetGrid,
    to_reference: Option<TargetGrid>,
}

impl PreparedCase {
    /// Which modalities the case has.
    pub fn availability(&self) -> Availability {
        self.case.availability
    }

    /// Volume of the brain the case was segmented in (the brain mask), mL.
    pub fn brain_ml(&self) -> f64 {
        let s = self.case.spacing_mm;
        let voxels = self.case.brain.iter().filter(|&&b| b).count();
        voxels as f64 * s[0] * s[1] * s[2] / 1000.0
    }

    /// The brain mask the case was segmented in (1 = brain), on the reference scan's grid
    /// (nearest voxel of the working grid): the outline the page draws.
    pub fn brain_on_reference(&self) -> Result<Vec<u8>, PipelineError> {
        let brain: Vec<u8> = self.case.brain.iter().map(|&b| u8::from(b)).collect();
        let working = self
            .case
            .labels_to_native(&brain)
            .map_err(PipelineError::Prepare)?;
        match &self.to_reference {
            None => Ok(working),
            Some(reference) => labels_onto(&working, &self.working, reference, &Affine::IDENTITY)
                .map_err(PipelineError::Prepare),
        }
    }

    /// The working grid (where the network ran; labels on it: [`CaseLabels::working`]).
    pub fn working_grid(&self) -> &TargetGrid {
        &self.working
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
    /// [`LABEL_THRESHOLD`], less the specks smaller than one voxel of the network's grid
    /// ([`drop_specks`]) and an enhancing tumour smaller than the model's smallest
    /// ([`drop_small_enhancing`], measured on the working grid), with the presence scores.
    pub fn finish(&self, coarse: Segmentation) -> Result<CaseLabels, PipelineError> {
        let on_case = self.case_probabilities(coarse);
        let mut labels = on_case.labels(LABEL_THRESHOLD);
        drop_specks(&mut labels, on_case.dims, self.factor.pow(3));
        drop_small_enhancing(&mut labels, self.case.spacing_mm, self.min_enhancing_mm3);
        let working = self
            .case
            .labels_to_native(&labels)
            .map_err(PipelineError::Prepare)?;
        let (labels, on_working_grid) = match &self.to_reference {
            None => (working, None),
            Some(reference) => (
                labels_onto(&working, &self.working, reference, &Affine::IDENTITY)
                    .map_err(PipelineError::Prepare)?,
                Some(working),
            ),
        };
        Ok(CaseLabels {
            labels,
            on_working_grid,
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

    /// The combination and the network input a worker of a pool needs to compute this job's
    /// windows itself ([`Segmenter::start`] on them, then [`Windows::compute_window`]).
    pub fn input(&self) -> (&[Vec<f32>], [usize; 3]) {
        self.case.network_input()
    }

    /// Blends in a window computed elsewhere ([`Windows::land_window`]).
    pub fn land(&mut self, output: &WindowOutput) -> Result<Progress, PipelineError> {
        Ok(self.windows.land_window(output)?)
    }

    /// Step 5 once the windows have landed ([`Job::land`]).
    pub fn finish(self) -> Result<CaseLabels, PipelineError> {
        self.case.finish(self.windows.finish())
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
