//! The normal anatomy a case is built on: a real brain's T1 and tissue map on the BraTS grid
//! (the SRI24 atlas, or one of the anatomies derived from other brains, [`crate::derive`]),
//! read once and turned into interpolable partial-volume maps.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use adamm_volume::brats::check_same_grid;
use adamm_volume::{read_path, Header, Volume};

use crate::error::SynthError;
use crate::field::{depth_inside, distance_to, gaussian_blur, Region};

/// File name of the skull-stripped SRI24 atlas T1 inside an anatomy folder.
pub const T1_FILE: &str = "sri24_t1_stripped.nii.gz";
/// File name of the SRI24 tissue map (0 background, 1 CSF, 2 GM, 3 WM) inside an anatomy folder.
pub const TISSUE_FILE: &str = "sri24_tissues.nii.gz";

/// The anatomies shipped in `data/anatomy` for building training data, by name: anatomy
/// `name` is the pair `{name}_t1_stripped.nii.gz`, `{name}_tissues.nii.gz` on the BraTS grid.
pub const TRAINING_ANATOMIES: [&str; 3] = ["sri24", "colin27", "mni152"];
/// The held-out anatomy (MNI ICBM152 2009a, in `data/heldout`): out-of-distribution tests only.
pub const HELD_OUT_ANATOMY: &str = "mni_icbm152";

/// Whether an anatomy name or a file name is the held-out anatomy's (it starts with
/// [`HELD_OUT_ANATOMY`], case-insensitively): the one test for it everywhere.
pub fn is_held_out_name(name: &str) -> bool {
    name.to_ascii_lowercase().starts_with(HELD_OUT_ANATOMY)
}

/// The file names of anatomy `name`: skull-stripped T1 and tissue map.
pub fn anatomy_files(name: &str) -> [String; 2] {
    [
        format!("{name}_t1_stripped.nii.gz"),
        format!("{name}_tissues.nii.gz"),
    ]
}

/// Standard deviation (voxels) of the Gaussian that turns the hard tissue labels into
/// partial-volume fractions: a 1 mm label boundary becomes a ramp about 2 voxels wide, the
/// partial-volume width of a 1 mm acquisition resampled to a 1 mm grid.
pub const PARTIAL_VOLUME_SIGMA: f64 = 0.6;
/// CSF deeper than this (mm from the brain surface) counts as ventricular (choroid plexus).
pub const VENTRICLE_DEPTH_MM: f32 = 12.0;
/// White matter at least this deep (mm) may seed a tumour.
pub const SEED_DEPTH_MM: f32 = 6.0;
/// Seeds are taken above this fraction of the brain's height (supratentorial, like almost all
/// adult gliomas; the lower part of the atlas is cerebellum and brainstem).
pub const SEED_MIN_HEIGHT: f64 = 0.35;
/// Margin (voxels) around the atlas brain where a deformed brain may reach.
pub const WORK_MARGIN: f64 = 12.0;
/// Margin (voxels) around the atlas brain where a brain deformed in the randomised shape mode
/// (`ShapeMode::Randomised`: up to ±15 % scaling, ±15° rotations, 10 mm fields) may reach.
pub const RANDOM_WORK_MARGIN: f64 = 24.0;
/// Scale of the stored atlas texture: values are kept as `i8` hundredths.
const TEXTURE_SCALE: f32 = 100.0;

/// What the generator reads from one atlas position (trilinearly interpolated).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct AtlasSample {
    /// Partial-volume fractions of CSF, GM and WM (sum ≈ 1 inside the brain, 0 outside).
    pub frac: [f32; 3],
    /// Atlas T1 texture: the deviation of the real T1 from the tissue-mixture prediction, in
    /// units of the atlas GM→WM contrast (clamped to ±1.27).
    pub texture: f32,
    /// Fraction of ventricular CSF.
    pub ventricle: f32,
}

/// Scale of the stored signed ventricle distance: `i8` tenths of a millimetre (±12.7 mm).
const VENTRICLE_DISTANCE_SCALE: f32 = 10.0;

/// Where an anatomy's ventricles (CSF deeper than [`VENTRICLE_DEPTH_MM`]) are.
struct VentricleGeometry {
    /// Per tumour seed: distance (mm) to the nearest ventricular voxel (infinite without
    /// ventricles).
    seed_distance: Vec<f32>,
    /// Over the brain box: the signed distance from the ventricle surface (negative inside),
    /// in `i8` tenths of a millimetre, clamped to ±12.7 mm.
    signed: Vec<i8>,
}

impl VentricleGeometry {
    fn of(anatomy: &Anatomy) -> VentricleGeometry {
        let [nx, ny, _] = anatomy.dims;
        let b = anatomy.brain_box;
        let bd = b.dims;
        let full_index = |l: usize| {
            let (i, j, k) = (l % bd[0], (l / bd[0]) % bd[1], l / (bd[0] * bd[1]));
            (b.lo[0] + i) + nx * ((b.lo[1] + j) + ny * (b.lo[2] + k))
        };
        let ventricle: Vec<bool> = (0..b.len())
            .map(|l| anatomy.packed[full_index(l)][3] >= 128)
            .collect();
        let outside = distance_to(&ventricle, bd);
        let not_ventricle: Vec<bool> = ventricle.iter().map(|&v| !v).collect();
        let inside = distance_to(&not_ventricle, bd);
        // Voxel centres one step from the other side are half a voxel from the surface.
        let signed = (0..b.len())
            .map(|l| {
                let d = if ventricle[l] {
                    0.5 - inside[l]
                } else {
                    outside[l] - 0.5
                };
                (d * VENTRICLE_DISTANCE_SCALE).clamp(-127.0, 127.0).round() as i8
            })
            .collect();
        let seed_distance = anatomy
            .seeds
            .iter()
            .map(|&(idx, _)| {
                let idx = idx as usize;
                let p = [idx % nx, (idx / nx) % ny, idx / (nx * ny)];
                let q = [0, 1, 2].map(|a| p[a] - b.lo[a]);
                outside[q[0] + bd[0] * (q[1] + bd[1] * q[2])]
            })
            .collect();
        VentricleGeometry {
            seed_distance,
            signed,
        }
    }
}

/// The atlas anatomy: grid, header, partial-volume maps and the voxels that may seed tumours.
///
/// Loading costs about a second; load once and share it (it is `Sync`) across cases.
pub struct Anatomy {
    /// Its name (see [`TRAINING_ANATOMIES`]), or the tissue map's file name when built from
    /// volumes in memory.
    name: String,
    header: Header,
    dims: [usize; 3],
    /// Per voxel: CSF, GM, WM, ventricle fractions (×255) and texture (`i8` hundredths as u8).
    packed: Vec<[u8; 5]>,
    /// The atlas brain's bounding box, one voxel larger on each side.
    brain_box: Region,
    /// Where deformed brains can be: the brain box plus [`WORK_MARGIN`].
    work: Region,
    /// Where brains deformed in the randomised shape mode can be: plus [`RANDOM_WORK_MARGIN`].
    random_work: Region,
    /// Deep supratentorial white-matter voxels (index, depth in mm) that may seed a tumour.
    seeds: Vec<(u32, f32)>,
    /// Where the ventricles are, computed on first use (by the randomised shape mode only,
    /// so that realistic runs do not pay for it).
    ventricle_geometry: OnceLock<VentricleGeometry>,
    /// Mean atlas T1 of CSF, GM and WM (the SRI24 file gives about 282, 492, 705).
    t1_means: [f32; 3],
}

impl Anatomy {
    /// The anatomy folder shipped with the repository (`data/anatomy`).
    pub fn default_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/anatomy")
    }

    /// The held-out anatomy's folder shipped with the repository (`data/heldout`).
    pub fn held_out_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/heldout")
    }

    /// Reads the SRI24 anatomy ([`T1_FILE`] and [`TISSUE_FILE`]) from `dir`.
    pub fn load(dir: &Path) -> Result<Anatomy, SynthError> {
        Anatomy::load_named(dir, "sri24")
    }

    /// Reads anatomy `name` (its [`anatomy_files`]) from `dir` and prepares the maps.
    pub fn load_named(dir: &Path, name: &str) -> Result<Anatomy, SynthError> {
        let [t1_name, tissue_name] = anatomy_files(name);
        let read = |name: &str| -> Result<(PathBuf, Volume), SynthError> {
            let file = dir.join(name);
            let v = read_path(&file).map_err(|source| SynthError::Read {
                file: file.clone(),
                source,
            })?;
            Ok((file, v))
        };
        let (t1_file, t1) = read(&t1_name)?;
        let (tissue_file, tissue) = read(&tissue_name)?;
        check_same_grid(
            (&t1_file.display().to_string(), &t1.header),
            (&tissue_file.display().to_string(), &tissue.header),
        )
        .map_err(SynthError::Grid)?;
        let mut anatomy = Anatomy::from_volumes(&t1, &tissue, &tissue_file)?;
        anatomy.name = name.to_owned();
        Ok(anatomy)
    }

    /// Its name: `sri24`, `colin27`, `mni152`, [`HELD_OUT_ANATOMY`], or the tissue map's file
    /// name for an anatomy built by [`Anatomy::from_volumes`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this is the held-out anatomy (never for training data).
    pub fn is_held_out(&self) -> bool {
        is_held_out_name(&self.name)
    }

    /// Builds the anatomy from an atlas T1 and tissue map already in memory (same grid);
    /// `tissue_name` names the tissue map in error messages.
    pub fn from_volumes(
        t1: &Volume,
        tissue: &Volume,
        tissue_name: &Path,
    ) -> Result<Anatomy, SynthError> {
        let dims = t1.dims();
        let n = t1.data.len();
        let mut labels = vec![0u8; n];
        for (i, &v) in tissue.data.iter().enumerate() {
            let class = v as u8;
            if class as f32 != v || class > 3 {
                return Err(SynthError::BadTissue {
                    file: tissue_name.to_path_buf(),
                    value: v,
                    voxel: i,
                });
            }
            labels[i] = class;
        }
        // Class means of the real T1, and a sanity check that each class is there.
        let mut sums = [0f64; 3];
        let mut counts = [0usize; 3];
        for (&l, &v) in labels.iter().zip(&t1.data) {
            if l > 0 {
                sums[l as usize - 1] += v as f64;
                counts[l as usize - 1] += 1;
            }
        }
        for (c, name) in ["CSF", "grey matter", "white matter"]
            .into_iter()
            .enumerate()
        {
            if counts[c] < 1000 {
                return Err(SynthError::MissingTissue {
                    file: tissue_name.to_path_buf(),
                    class: name,
                    voxels: counts[c],
                });
            }
        }
        let t1_means = [0, 1, 2].map(|c| (sums[c] / counts[c] as f64) as f32);

        // Partial-volume fractions: blurred one-hot tissue maps.
        let frac: Vec<Vec<f32>> = (1..=3u8)
            .map(|c| {
                let mut f: Vec<f32> = labels.iter().map(|&l| (l == c) as u8 as f32).collect();
                gaussian_blur(&mut f, dims, PARTIAL_VOLUME_SIGMA);
                f
            })
            .collect();
        let mask: Vec<bool> = labels.iter().map(|&l| l > 0).collect();
        let depth = depth_inside(&mask, dims);

        // The T1 texture the tissue mixture does not explain (deep grey nuclei, myelination
        // gradients, sulcal detail), in units of the GM→WM contrast.
        let contrast = (t1_means[2] - t1_means[1]).abs().max(1e-3);
        let mut packed = vec![[0u8; 5]; n];
        for i in 0..n {
            let f = [frac[0][i], frac[1][i], frac[2][i]];
            let sum: f32 = f.iter().sum();
            let texture = if labels[i] > 0 && sum > 0.05 {
                let predicted = (0..3).map(|c| f[c] * t1_means[c]).sum::<f32>() / sum;
                ((t1.data[i] - predicted) / contrast).clamp(-1.27, 1.27)
            } else {
                0.0
            };
            let ventricle = labels[i] == 1 && depth[i] >= VENTRICLE_DEPTH_MM;
            let q = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
            packed[i] = [
                q(f[0]),
                q(f[1]),
                q(f[2]),
                q(ventricle as u8 as f32),
                ((texture * TEXTURE_SCALE).round() as i8) as u8,
            ];
        }

        // Brain bounding box and the seeds.
        let (nx, ny) = (dims[0], dims[1]);
        let mut lo = [usize::MAX; 3];
        let mut hi = [0usize; 3];
        for (i, &m) in mask.iter().enumerate() {
            if m {
                let p = [i % nx, (i / nx) % ny, i / (nx * ny)];
                for a in 0..3 {
                    lo[a] = lo[a].min(p[a]);
                    hi[a] = hi[a].max(p[a]);
                }
            }
        }
        let to_f = |p: [usize; 3], d: f64| p.map(|v| v as f64 + d);
        let grow = |d: f64| Region::clipped(to_f(lo, -d), to_f(hi, d), dims);
        let (Some(brain_box), Some(work), Some(random_work)) =
            (grow(1.0), grow(WORK_MARGIN), grow(RANDOM_WORK_MARGIN))
        else {
            return Err(SynthError::MissingTissue {
                file: tissue_name.to_path_buf(),
                class: "brain",
                voxels: 0,
            });
        };
        let z_min = lo[2] as f64 + SEED_MIN_HEIGHT * (hi[2] - lo[2]) as f64;
        let seeds: Vec<(u32, f32)> = (0..n)
            .filter(|&i| {
                labels[i] == 3 && depth[i] >= SEED_DEPTH_MM && (i / (nx * ny)) as f64 >= z_min
            })
            .map(|i| (i as u32, depth[i]))
            .collect();
        if seeds.is_empty() {
            return Err(SynthError::MissingTissue {
                file: tissue_name.to_path_buf(),
                class: "deep white matter",
                voxels: 0,
            });
        }
        Ok(Anatomy {
            name: tissue_name
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            header: t1.header.clone(),
            dims,
            packed,
            brain_box,
            work,
            random_work,
            seeds,
            ventricle_geometry: OnceLock::new(),
            t1_means,
        })
    }

    /// The header every case is written with (the atlas T1's grid, qform and sform).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Grid dimensions (240 × 240 × 155 for SRI24).
    pub fn dims(&self) -> [usize; 3] {
        self.dims
    }

    /// Mean atlas T1 intensity of CSF, GM and WM.
    pub fn t1_means(&self) -> [f32; 3] {
        self.t1_means
    }

    /// The part of the grid that generated brains can occupy.
    pub fn work_region(&self) -> Region {
        self.work
    }

    /// The part of the grid that brains deformed in the randomised shape mode can occupy (the
    /// brain box plus [`RANDOM_WORK_MARGIN`], clipped to the grid).
    pub fn random_work_region(&self) -> Region {
        self.random_work
    }

    fn ventricle_geometry(&self) -> &VentricleGeometry {
        self.ventricle_geometry
            .get_or_init(|| VentricleGeometry::of(self))
    }

    /// Number of candidate tumour seed voxels.
    pub fn seed_count(&self) -> usize {
        self.seeds.len()
    }

    /// Candidate seed `i`: its voxel position and depth (mm).
    pub(crate) fn seed(&self, i: usize) -> ([f64; 3], f32) {
        let (idx, depth) = self.seeds[i];
        let idx = idx as usize;
        let [nx, ny, _] = self.dims;
        (
            [
                (idx % nx) as f64,
                ((idx / nx) % ny) as f64,
                (idx / (nx * ny)) as f64,
            ],
            depth,
        )
    }

    /// Candidate seed `i`'s distance (mm) to the nearest ventricular voxel (infinite without
    /// ventricles).
    pub(crate) fn seed_ventricle_distance(&self, i: usize) -> f32 {
        self.ventricle_geometry().seed_distance[i]
    }

    /// The signed distance (mm, negative inside) from the ventricle surface at atlas position
    /// `p`, trilinearly interpolated, within ±12.7 mm (12.7 outside the brain box).
    pub(crate) fn ventricle_distance(&self, p: [f64; 3]) -> f32 {
        let b = &self.brain_box;
        let mut base = [0usize; 3];
        let mut w = [0f32; 3];
        for a in 0..3 {
            let t = p[a] - b.lo[a] as f64;
            if !(t >= 0.0 && t < (b.dims[a] - 1) as f64) {
                return 127.0 / VENTRICLE_DISTANCE_SCALE;
            }
            let f = t.floor();
            base[a] = f as usize;
            w[a] = (t - f) as f32;
        }
        let [bx, by, _] = b.dims;
        let signed = &self.ventricle_geometry().signed;
        let i0 = base[0] + bx * (base[1] + by * base[2]);
        let mut acc = 0f32;
        for (corner, weight) in [
            (0, (1.0 - w[0]) * (1.0 - w[1]) * (1.0 - w[2])),
            (1, w[0] * (1.0 - w[1]) * (1.0 - w[2])),
            (bx, (1.0 - w[0]) * w[1] * (1.0 - w[2])),
            (bx + 1, w[0] * w[1] * (1.0 - w[2])),
            (bx * by, (1.0 - w[0]) * (1.0 - w[1]) * w[2]),
            (bx * by + 1, w[0] * (1.0 - w[1]) * w[2]),
            (bx * by + bx, (1.0 - w[0]) * w[1] * w[2]),
            (bx * by + bx + 1, w[0] * w[1] * w[2]),
        ] {
            acc += weight * f32::from(signed[i0 + corner]);
        }
        acc / VENTRICLE_DISTANCE_SCALE
    }

    /// Trilinear sample of the atlas maps at voxel position `p` (zero outside the brain box).
    pub(crate) fn sample(&self, p: [f64; 3]) -> AtlasSample {
        let b = &self.brain_box;
        let mut base = [0usize; 3];
        let mut w = [0f32; 3];
        for a in 0..3 {
            let lo = b.lo[a] as f64;
            let hi = (b.lo[a] + b.dims[a] - 1) as f64;
            if !(p[a] >= lo && p[a] < hi) {
                return AtlasSample::default();
            }
            let f = p[a].floor();
            base[a] = f as usize;
            w[a] = (p[a] - f) as f32;
        }
        let [nx, ny, _] = self.dims;
        let i0 = base[0] + nx * (base[1] + ny * base[2]);
        let mut acc = [0f32; 5];
        for (corner, weight) in [
            (0, (1.0 - w[0]) * (1.0 - w[1]) * (1.0 - w[2])),
            (1, w[0] * (1.0 - w[1]) * (1.0 - w[2])),
            (nx, (1.0 - w[0]) * w[1] * (1.0 - w[2])),
            (nx + 1, w[0] * w[1] * (1.0 - w[2])),
            (nx * ny, (1.0 - w[0]) * (1.0 - w[1]) * w[2]),
            (nx * ny + 1, w[0] * (1.0 - w[1]) * w[2]),
            (nx * ny + nx, (1.0 - w[0]) * w[1] * w[2]),
            (nx * ny + nx + 1, w[0] * w[1] * w[2]),
        ] {
            let v = &self.packed[i0 + corner];
            for c in 0..4 {
                acc[c] += weight * v[c] as f32;
            }
            acc[4] += weight * (v[4] as i8) as f32;
        }
        AtlasSample {
            frac: [acc[0] / 255.0, acc[1] / 255.0, acc[2] / 255.0],
            ventricle: acc[3] / 255.0,
            texture: acc[4] / TEXTURE_SCALE,
        }
    }
}
