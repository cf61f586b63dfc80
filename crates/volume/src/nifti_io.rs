//! Reading and writing NIfTI-1 / NIfTI-2 files, from paths or from bytes in memory.
//!
//! NIfTI-1 headers are parsed by the [`nifti`] crate (which also detects the byte order);
//! NIfTI-2, which that crate does not read, is parsed here. Both end up in one
//! format-independent [`Header`]. Voxels are decoded here from the raw bytes, so every scalar
//! datatype, both byte orders and header extensions (or arbitrary bytes between the header and
//! `vox_offset`) are handled the same way.
//!
//! Treatment of special values: `scl_slope` of 0 or non-finite means "no scaling" (as in
//! nibabel); non-finite voxels (NaN, ±Inf) are replaced by 0 — background — and counted in
//! [`Volume::nonfinite_voxels`] so that callers can warn.
//!
//! Writing: the [`nifti`] crate writes only to file paths and needs `ndarray`; the browser has
//! no file system, so the 348-byte NIfTI-1 header is serialised here into memory.

use std::cell::Cell;
use std::io::{Cursor, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::error::{product, Result, VolumeError};
use crate::geometry::Affine;
use crate::volume::Volume;

/// The on-disk flavour of a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NiftiFormat {
    /// NIfTI-1 single file (`n+1`).
    Nifti1,
    /// NIfTI-1 header/image pair (`ni1`) or Analyze 7.5 (no magic), read with its `.img`.
    Nifti1Pair,
    /// NIfTI-2 single file (`n+2`).
    Nifti2,
}

/// Scalar voxel datatypes that AdaMM reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datatype {
    /// 8-bit unsigned.
    U8,
    /// 8-bit signed.
    I8,
    /// 16-bit signed.
    I16,
    /// 16-bit unsigned.
    U16,
    /// 32-bit signed.
    I32,
    /// 32-bit unsigned.
    U32,
    /// 64-bit signed.
    I64,
    /// 64-bit unsigned.
    U64,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
}

impl Datatype {
    /// From a NIfTI datatype code; unsupported codes give a specific error.
    pub fn from_code(code: i32) -> Result<Datatype> {
        Ok(match code {
            2 => Datatype::U8,
            256 => Datatype::I8,
            4 => Datatype::I16,
            512 => Datatype::U16,
            8 => Datatype::I32,
            768 => Datatype::U32,
            1024 => Datatype::I64,
            1280 => Datatype::U64,
            16 => Datatype::F32,
            64 => Datatype::F64,
            _ => {
                let name = match code {
                    1 => "binary (1 bit)",
                    32 => "complex64",
                    128 => "RGB24",
                    1536 => "float128",
                    1792 => "complex128",
                    2048 => "complex256",
                    2304 => "RGBA32",
                    _ => "unknown",
                };
                return Err(VolumeError::UnsupportedDatatype { code, name });
            }
        })
    }

    /// The NIfTI datatype code.
    pub fn code(self) -> i16 {
        match self {
            Datatype::U8 => 2,
            Datatype::I16 => 4,
            Datatype::I32 => 8,
            Datatype::F32 => 16,
            Datatype::F64 => 64,
            Datatype::I8 => 256,
            Datatype::U16 => 512,
            Datatype::U32 => 768,
            Datatype::I64 => 1024,
            Datatype::U64 => 1280,
        }
    }

    /// Bytes per voxel.
    pub fn size(self) -> usize {
        match self {
            Datatype::U8 | Datatype::I8 => 1,
            Datatype::I16 | Datatype::U16 => 2,
            Datatype::I32 | Datatype::U32 | Datatype::F32 => 4,
            Datatype::I64 | Datatype::U64 | Datatype::F64 => 8,
        }
    }

    /// Lower-case name as nibabel prints it (`uint8`, `float32`, …).
    pub fn name(self) -> &'static str {
        match self {
            Datatype::U8 => "uint8",
            Datatype::I8 => "int8",
            Datatype::I16 => "int16",
            Datatype::U16 => "uint16",
            Datatype::I32 => "int32",
            Datatype::U32 => "uint32",
            Datatype::I64 => "int64",
            Datatype::U64 => "uint64",
            Datatype::F32 => "float32",
            Datatype::F64 => "float64",
        }
    }
}

/// Where the voxel→world transform of a header comes from (NIfTI rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AffineSource {
    /// `sform_code > 0`: the `srow_*` rows.
    Sform,
    /// `sform_code == 0`, `qform_code > 0`: the quaternion, offsets and pixdim.
    Qform,
    /// Neither: scaling by pixdim, origin at voxel 0 (NIfTI "method 1").
    Pixdim,
}

impl AffineSource {
    /// Lower-case name for messages and JSON.
    pub fn name(self) -> &'static str {
        match self {
            AffineSource::Sform => "sform",
            AffineSource::Qform => "qform",
            AffineSource::Pixdim => "pixdim",
        }
    }
}

/// The parts of a NIfTI header that AdaMM uses, independent of NIfTI-1/2.
///
/// Kept with every [`Volume`] so that outputs can be written in the input's own grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// File flavour.
    pub format: NiftiFormat,
    /// Whether the file was big-endian.
    pub big_endian: bool,
    /// Voxel datatype in the file.
    pub datatype: Datatype,
    /// The three spatial dimensions (trailing size-1 dimensions dropped).
    pub dims: [usize; 3],
    /// `pixdim[0..8]` as stored (`pixdim[0]` is qfac).
    pub pixdim: [f64; 8],
    /// Offset of the voxel data in the file.
    pub vox_offset: usize,
    /// Intensity scaling slope (0 = none).
    pub scl_slope: f64,
    /// Intensity scaling intercept.
    pub scl_inter: f64,
    /// NIFTI_XFORM code of the qform.
    pub qform_code: i32,
    /// NIFTI_XFORM code of the sform.
    pub sform_code: i32,
    /// Quaternion b, c, d.
    pub quatern: [f64; 3],
    /// qoffset x, y, z.
    pub qoffset: [f64; 3],
    /// sform rows.
    pub srow: [[f64; 4]; 3],
    /// Units of space and time (xyzt_units).
    pub xyzt_units: u8,
    /// dim_info (frequency/phase/slice axes).
    pub dim_info: u8,
    /// NIFTI_INTENT code.
    pub intent_code: i32,
    /// Free-text description.
    pub descrip: String,
}

impl Header {
    /// A NIfTI-1 header for a new 3-D grid with the given voxel→world affine, written into
    /// both sform and qform (code 1, scanner anatomical) as nibabel does.
    pub fn from_affine(dims: [usize; 3], datatype: Datatype, world_from_voxel: &Affine) -> Header {
        let spacing = world_from_voxel.column_norms();
        let (quatern, qoffset, qfac) = quaternion_from_affine(world_from_voxel);
        let m = &world_from_voxel.0;
        Header {
            format: NiftiFormat::Nifti1,
            big_endian: false,
            datatype,
            dims,
            pixdim: [qfac, spacing[0], spacing[1], spacing[2], 0.0, 0.0, 0.0, 0.0],
            vox_offset: 352,
            scl_slope: 1.0,
            scl_inter: 0.0,
            qform_code: 1,
            sform_code: 1,
            quatern,
            qoffset,
            srow: [m[0], m[1], m[2]],
            xyzt_units: 2, // NIFTI_UNITS_MM
            dim_info: 0,
            intent_code: 0,
            descrip: String::new(),
        }
    }

    /// Number of voxels.
    pub fn voxel_count(&self) -> usize {
        self.dims.iter().product()
    }

    /// Which field the voxel→world transform comes from.
    pub fn affine_source(&self) -> AffineSource {
        if self.sform_code > 0 {
            AffineSource::Sform
        } else if self.qform_code > 0 {
            AffineSource::Qform
        } else {
            AffineSource::Pixdim
        }
    }

    /// The voxel→world affine by the NIfTI rules: sform when `sform_code > 0`, else qform
    /// when `qform_code > 0`, else scaling by pixdim. Errors if it is degenerate.
    pub fn world_from_voxel(&self) -> Result<Affine> {
        let source = self.affine_source();
        let affine = match source {
            AffineSource::Sform => {
                let mut m = Affine::IDENTITY;
                m.0[..3].copy_from_slice(&self.srow);
                m
            }
            AffineSource::Qform => self.qform_affine(),
            AffineSource::Pixdim => Affine::from_spacing([1, 2, 3].map(|a| {
                let d = self.pixdim[a];
                if d > 0.0 && d.is_finite() {
                    d
                } else {
                    1.0
                }
            })),
        };
        if affine.is_valid() {
            Ok(affine)
        } else {
            Err(VolumeError::BadGeometry {
                source_field: source.name(),
                detail: format!("{:?}", affine.0),
            })
        }
    }

    /// The qform affine (NIfTI-1 "method 2"), regardless of `qform_code`.
    pub fn qform_affine(&self) -> Affine {
        let [mut b, mut c, mut d] = self.quatern;
        let mut a = 1.0 - (b * b + c * c + d * d);
        if a < 1e-7 {
            let n = 1.0 / (b * b + c * c + d * d).sqrt();
            b *= n;
            c *= n;
            d *= n;
            a = 0.0;
        } else {
            a = a.sqrt();
        }
        let r = [
            [
                a * a + b * b - c * c - d * d,
                2.0 * (b * c - a * d),
                2.0 * (b * d + a * c),
            ],
            [
                2.0 * (b * c + a * d),
                a * a + c * c - b * b - d * d,
                2.0 * (c * d - a * b),
            ],
            [
                2.0 * (b * d - a * c),
                2.0 * (c * d + a * b),
                a * a + d * d - c * c - b * b,
            ],
        ];
        let pos = |v: f64| if v > 0.0 { v } else { 1.0 };
        let qfac = if self.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
        let scale = [
            pos(self.pixdim[1]),
            pos(self.pixdim[2]),
            qfac * pos(self.pixdim[3]),
        ];
        let mut m = Affine::IDENTITY;
        for (row, r_row) in r.iter().enumerate() {
            for (col, s) in scale.iter().enumerate() {
                m.0[row][col] = r_row[col] * s;
            }
            m.0[row][3] = self.qoffset[row];
        }
        m
    }
}

/// Quaternion (b, c, d), offset and qfac of an affine (NIfTI-1 `mat44_to_quatern`, for
/// affines without shear). Scaling is removed from the columns first.
pub fn quaternion_from_affine(affine: &Affine) -> ([f64; 3], [f64; 3], f64) {
    let m = &affine.0;
    let norms = affine.column_norms();
    let mut r = [[0.0f64; 3]; 3];
    for row in 0..3 {
        for col in 0..3 {
            r[row][col] = if norms[col] > 0.0 {
                m[row][col] / norms[col]
            } else {
                0.0
            };
        }
    }
    let det = r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1])
        - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0])
        + r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
    let qfac = if det < 0.0 { -1.0 } else { 1.0 };
    if qfac < 0.0 {
        for row in &mut r {
            row[2] = -row[2];
        }
    }
    let trace = r[0][0] + r[1][1] + r[2][2] + 1.0;
    // NIfTI stores b, c, d only (a = sqrt(1 − b² − c² − d²) ≥ 0): where a would come out
    // negative, the quaternion is negated.
    let (b, c, d);
    if trace > 0.5 {
        let a0 = 0.5 * trace.sqrt();
        b = 0.25 * (r[2][1] - r[1][2]) / a0;
        c = 0.25 * (r[0][2] - r[2][0]) / a0;
        d = 0.25 * (r[1][0] - r[0][1]) / a0;
    } else {
        let xd = 1.0 + r[0][0] - (r[1][1] + r[2][2]);
        let yd = 1.0 + r[1][1] - (r[0][0] + r[2][2]);
        let zd = 1.0 + r[2][2] - (r[0][0] + r[1][1]);
        let (qa, mut qb, mut qc, mut qd);
        if xd > 1.0 {
            qb = 0.5 * xd.sqrt();
            qc = 0.25 * (r[0][1] + r[1][0]) / qb;
            qd = 0.25 * (r[0][2] + r[2][0]) / qb;
            qa = 0.25 * (r[2][1] - r[1][2]) / qb;
        } else if yd > 1.0 {
            qc = 0.5 * yd.sqrt();
            qb = 0.25 * (r[0][1] + r[1][0]) / qc;
            qd = 0.25 * (r[1][2] + r[2][1]) / qc;
            qa = 0.25 * (r[0][2] - r[2][0]) / qc;
        } else {
            qd = 0.5 * zd.sqrt();
            qb = 0.25 * (r[0][2] + r[2][0]) / qd;
            qc = 0.25 * (r[1][2] + r[2][1]) / qd;
            qa = 0.25 * (r[1][0] - r[0][1]) / qd;
        }
        if qa < 0.0 {
            qb = -qb;
            qc = -qc;
            qd = -qd;
        }
        b = qb;
        c = qc;
        d = qd;
    }
    ([b, c, d], [m[0][3], m[1][3], m[2][3]], qfac)
}

/// The largest volume AdaMM reads, in voxels: 512 × 512 × 512 = 134,217,728.
///
/// A BraTS case is 240 × 240 × 155 (8.9 million voxels, 7 % of the limit); whole-head
/// clinical scans reach about 512 × 512 × 400 (105 million). At the limit a decoded volume
/// holds 512 MiB of `f32` and its file at most 1 GiB of voxel data (float64), which a browser
/// tab (at most 4 GiB of wasm32 memory) survives.
///
/// A header that announces more is refused with [`VolumeError::TooLarge`] as soon as it is
/// parsed, before any voxel data are decompressed, so a small `.nii.gz` that inflates to
/// gigabytes (a "gzip bomb") costs no more than reading its first 540 bytes. Below the limit
/// the readers still decompress at most `vox_offset` + the announced voxel bytes (plus a few
/// kilobytes to reach the gzip checksum), never the whole stream.
///
/// The limit applies to every reader here — [`read_path`], [`read_bytes`],
/// [`read_pair_bytes`], [`read_header_path`] and [`parse_header`] — and so to scans and label
/// maps alike, in the CLI (`adamm inspect`, `segment`, `metrics`, training data) and in the
/// browser app, whose page and worker decode dropped files with [`read_bytes`].
pub const MAX_VOXELS: usize = 512 * 512 * 512;

/// The most bytes of header and extensions AdaMM skips to reach the voxels (the largest
/// `vox_offset` read): 64 MiB. Extensions (DICOM tags, AFNI attributes, CIFTI XML) are
/// kilobytes to a few megabytes; a larger offset is refused with
/// [`VolumeError::VoxOffsetTooLarge`], so that reaching the voxels is bounded too.
pub const MAX_VOX_OFFSET: usize = 64 << 20;

/// The largest NIfTI file, compressed or not, that can hold a volume within the limits:
/// [`MAX_VOX_OFFSET`] plus [`MAX_VOXELS`] of the widest datatype (8 bytes) plus the gzip
/// trailer's margin. A caller that must copy a whole file before reading it (the browser,
/// from a `Blob`) refuses a larger one unread.
pub const MAX_FILE_BYTES: u64 = MAX_VOX_OFFSET as u64 + 8 * MAX_VOXELS as u64 + (64 << 10);

/// The first two bytes of a gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Bytes read for a header: a NIfTI-2 header is 540 bytes, a NIfTI-1 header 348.
const HEADER_READ: usize = 540;

/// Voxel bytes decoded at a time (a multiple of every datatype's size).
const CHUNK: usize = 1 << 20;

/// Bytes read past the voxel data of a gzip stream, so that a well-formed file reaches (and
/// checks) its CRC; anything longer after the voxels is ignored unread.
const GZIP_TAIL: u64 = 64 << 10;

/// Reads a NIfTI file (`.nii`, `.nii.gz`, or a `.hdr`/`.img` pair) from disk.
///
/// The file is streamed: the header is parsed and checked against [`MAX_VOXELS`] first, and
/// only the voxel bytes it announces are then read (and decompressed).
pub fn read_path(path: &Path) -> Result<Volume> {
    let name = path.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".hdr") || name.ends_with(".hdr.gz") {
        let mut hdr = Source::open(path)?;
        let img = image_path_for(path);
        let Some(img) = img.iter().find(|p| p.exists()) else {
            return Err(VolumeError::MissingImageFile {
                hdr: path.to_path_buf(),
                img: img[0].clone(),
            });
        };
        let header = pair_header(&mut hdr)?;
        return decode(header, &[], &mut Source::open(img)?, None);
    }
    read_single(Source::open(path)?)
}

fn image_path_for(hdr: &Path) -> Vec<PathBuf> {
    let s = hdr.to_string_lossy();
    let stem = s.strip_suffix(".gz").unwrap_or(&s);
    let stem = &stem[..stem.len() - 4];
    vec![
        PathBuf::from(format!("{stem}.img")),
        PathBuf::from(format!("{stem}.img.gz")),
    ]
}

/// Reads only the header of a NIfTI file (decompressing just its first bytes), with the
/// same validation of dimensions, datatype, size ([`MAX_VOXELS`]) and geometry as a full
/// read. Cheap enough to check the grids of thousands of files.
pub fn read_header_path(path: &Path) -> Result<Header> {
    let mut source = Source::open(path)?;
    let head = source.head()?;
    let header = parse_header(&head)?;
    header.world_from_voxel()?;
    Ok(header)
}

/// Reads a single-file NIfTI-1 or NIfTI-2 volume (optionally gzip-compressed) from memory.
///
/// Gzip is decompressed on the fly: the header first, checked against [`MAX_VOXELS`], then
/// at most the voxel bytes it announces. This is the reader of the browser app (page and
/// worker), so the limit holds there too.
pub fn read_bytes(bytes: &[u8]) -> Result<Volume> {
    read_single(Source::from_bytes(bytes))
}

/// Reads a NIfTI-1 pair / Analyze 7.5 volume from its header and image bytes (either may be
/// gzip-compressed), with the same limits as [`read_bytes`].
pub fn read_pair_bytes(hdr: &[u8], img: &[u8]) -> Result<Volume> {
    let header = pair_header(&mut Source::from_bytes(hdr))?;
    decode(header, &[], &mut Source::from_bytes(img), None)
}

/// A single file: header and voxels from one stream.
fn read_single(mut source: Source<'_>) -> Result<Volume> {
    let head = source.head()?;
    let header = parse_header(&head)?;
    if header.format == NiftiFormat::Nifti1Pair {
        return Err(VolumeError::HeaderOnly {
            magic: magic_string(&head),
        });
    }
    // The smallest file that holds any voxel data: the header, and for NIfTI-1 the four
    // extension-flag bytes.
    let min = if header.format == NiftiFormat::Nifti2 {
        544
    } else {
        352
    };
    header.world_from_voxel()?;
    decode(header, &head, &mut source, Some(min))
}

/// The header of a pair (in which `vox_offset` is the offset inside the `.img` file).
fn pair_header(hdr: &mut Source<'_>) -> Result<Header> {
    let mut header = parse_header(&hdr.head()?)?;
    header.format = NiftiFormat::Nifti1Pair;
    header.world_from_voxel()?;
    Ok(header)
}

fn magic_string(bytes: &[u8]) -> String {
    let m = bytes.get(344..347).unwrap_or(&[]);
    String::from_utf8_lossy(m).trim_matches('\0').to_string()
}

/// Remembers the error of an operating-system read, so that a failing disk under a gzip
/// decoder is reported as an I/O error of the file, not as a corrupt gzip stream.
struct Recording<R> {
    inner: R,
    error: Rc<Cell<Option<std::io::Error>>>,
}

impl<R: Read> Read for Recording<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            let copy = std::io::Error::new(e.kind(), e.to_string());
            self.error.set(Some(e));
            copy
        })
    }
}

/// One input (bytes in memory or a file, gzip-compressed or not), read front to back and
/// decompressed on the fly.
struct Source<'a> {
    reader: Box<dyn Read + 'a>,
    /// The file, for I/O errors (`None` for bytes in memory).
    path: Option<&'a Path>,
    /// An operating-system error met while reading the file.
    os_error: Rc<Cell<Option<std::io::Error>>>,
    gzip: bool,
    /// How many (decompressed) bytes the input holds: exact for uncompressed input, the
    /// gzip trailer's ISIZE (length mod 2³²) for gzip; only used to size the voxel buffer.
    len_hint: Option<u64>,
}

impl<'a> Source<'a> {
    fn from_bytes(bytes: &'a [u8]) -> Source<'a> {
        let gzip = bytes.starts_with(&GZIP_MAGIC);
        let (reader, len_hint): (Box<dyn Read + 'a>, _) = if gzip {
            let isize = bytes
                .last_chunk::<4>()
                .map(|t| u32::from_le_bytes(*t) as u64);
            (Box::new(MultiGzDecoder::new(bytes)), isize)
        } else {
            (Box::new(bytes), Some(bytes.len() as u64))
        };
        Source {
            reader,
            path: None,
            os_error: Rc::default(),
            gzip,
            len_hint,
        }
    }

    fn open(path: &'a Path) -> Result<Source<'a>> {
        let io = |e| VolumeError::io(path, e);
        let mut file = std::fs::File::open(path).map_err(io)?;
        let mut magic = [0u8; 2];
        let n = read_full(&mut file, &mut magic).map_err(io)?;
        let gzip = n == 2 && magic == GZIP_MAGIC;
        let len = file.metadata().map_err(io)?.len();
        let len_hint = if gzip {
            // The gzip trailer's ISIZE; a file without one is left to the decoder to refuse.
            let mut isize = [0u8; 4];
            (len >= 4)
                .then(|| {
                    file.seek(SeekFrom::End(-4)).ok()?;
                    file.read_exact(&mut isize).ok()?;
                    Some(u32::from_le_bytes(isize) as u64)
                })
                .flatten()
        } else {
            Some(len)
        };
        file.seek(SeekFrom::Start(n as u64)).map_err(io)?;
        let os_error = Rc::default();
        let raw = Cursor::new(magic[..n].to_vec()).chain(std::io::BufReader::new(Recording {
            inner: file,
            error: Rc::clone(&os_error),
        }));
        let reader: Box<dyn Read + 'a> = if gzip {
            Box::new(MultiGzDecoder::new(raw))
        } else {
            Box::new(raw)
        };
        Ok(Source {
            reader,
            path: Some(path),
            os_error,
            gzip,
            len_hint,
        })
    }

    fn error(&self, e: std::io::Error) -> VolumeError {
        match (self.path, self.os_error.take()) {
            (Some(path), Some(os)) => VolumeError::io(path, os),
            (Some(path), None) if !self.gzip => VolumeError::io(path, e),
            _ => VolumeError::Gzip(e.to_string()),
        }
    }

    /// Fills `buf` unless the input ends first; returns the bytes read.
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize> {
        read_full(&mut self.reader, buf).map_err(|e| self.error(e))
    }

    /// Reads and discards up to `n` bytes; returns how many there were.
    fn skip(&mut self, n: u64) -> Result<u64> {
        std::io::copy(&mut (&mut self.reader).take(n), &mut std::io::sink())
            .map_err(|e| self.error(e))
    }

    /// The first [`HEADER_READ`] bytes (fewer if the input is shorter).
    fn head(&mut self) -> Result<Vec<u8>> {
        let mut head = vec![0u8; HEADER_READ];
        let n = self.fill(&mut head)?;
        head.truncate(n);
        Ok(head)
    }
}

/// `read_exact` that stops quietly at the end of the input; returns the bytes read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Decodes the voxels that follow `header`, applying scaling. `prefix` holds the first bytes
/// of the voxels' input already read (the header of a single file; empty for a pair's
/// `.img`), `source` the rest. Reads at most `vox_offset` + the announced voxel bytes.
/// `single_min`, for single files, is the smallest length that holds voxel data: a shorter
/// file is [`VolumeError::NoVoxelData`] rather than truncated.
fn decode(
    header: Header,
    prefix: &[u8],
    source: &mut Source<'_>,
    single_min: Option<usize>,
) -> Result<Volume> {
    let n = header.voxel_count();
    let size = header.datatype.size();
    // At most MAX_VOXELS × 8 = 1 GiB and MAX_VOX_OFFSET (checked by `parse_header`): no
    // overflow, even in 32 bits.
    let expected = n * size;
    let start = header.vox_offset;
    // Bytes of this input read so far; once it has ended, its length.
    let mut consumed = prefix.len();
    let mut pending = prefix.get(start..).unwrap_or(&[]);
    if start > prefix.len() {
        consumed += source.skip((start - prefix.len()) as u64)? as usize;
    }

    // Sized up front when the input is known to hold all the voxels; otherwise grown as they
    // arrive, so that a header announcing more than a file holds costs only what it holds.
    let known = source
        .len_hint
        .is_some_and(|len| len >= (start + expected) as u64);
    let mut data: Vec<f32> = Vec::with_capacity(if known { n } else { n.min(CHUNK) });
    let mut buf = vec![0u8; expected.min(CHUNK)];
    let scaling = Scaling::of(&header);
    let mut nonfinite = 0usize;
    let mut read = 0usize;
    while read < expected {
        let want = (expected - read).min(CHUNK);
        let from_prefix = pending.len().min(want);
        buf[..from_prefix].copy_from_slice(&pending[..from_prefix]);
        pending = &pending[from_prefix..];
        let from_source = source.fill(&mut buf[from_prefix..want])?;
        consumed += from_source;
        let got = from_prefix + from_source;
        read += got;
        let whole = &buf[..got - got % size];
        let needed = data.len() + whole.len() / size;
        if needed > data.capacity() {
            let target = needed.max(2 * data.capacity()).min(n);
            data.reserve_exact(target - data.len());
        }
        nonfinite += scaling.decode(whole, &mut data);
        if got < want {
            break;
        }
    }

    if let Some(min) = single_min {
        let floor = start.max(min - 4);
        if read == expected && consumed <= floor {
            // The voxels lay inside the header (vox_offset below the header size): is
            // there anything after it?
            consumed += source.skip((floor + 1 - consumed) as u64)? as usize;
        }
        if consumed <= floor {
            return Err(VolumeError::NoVoxelData {
                len: consumed,
                vox_offset: start.max(min),
            });
        }
    }
    if read < expected {
        return Err(VolumeError::Truncated {
            expected,
            actual: read,
            vox_offset: start,
        });
    }
    if source.gzip {
        // A well-formed stream ends here: reading on checks its CRC.
        source.skip(GZIP_TAIL)?;
    }
    Ok(Volume {
        data,
        header,
        nonfinite_voxels: nonfinite,
    })
}

/// How stored voxel values become intensities.
struct Scaling {
    datatype: Datatype,
    big_endian: bool,
    /// `Some((slope, intercept))` when scaling applies (a finite, non-zero slope).
    linear: Option<(f64, f64)>,
}

impl Scaling {
    fn of(header: &Header) -> Scaling {
        let slope = header.scl_slope;
        let scaled = slope != 0.0 && slope.is_finite();
        let inter = if scaled && header.scl_inter.is_finite() {
            header.scl_inter
        } else {
            0.0
        };
        Scaling {
            datatype: header.datatype,
            big_endian: header.big_endian,
            linear: scaled.then_some((slope, inter)),
        }
    }

    /// Appends the intensities of the whole voxels in `raw`; non-finite ones become 0.
    /// Returns how many were non-finite.
    fn decode(&self, raw: &[u8], out: &mut Vec<f32>) -> usize {
        let big = self.big_endian;
        let mut nonfinite = 0usize;
        macro_rules! run {
            ($t:ty) => {{
                const W: usize = std::mem::size_of::<$t>();
                for chunk in raw.chunks_exact(W) {
                    let mut a = [0u8; W];
                    a.copy_from_slice(chunk);
                    let v = if big {
                        <$t>::from_be_bytes(a)
                    } else {
                        <$t>::from_le_bytes(a)
                    } as f64;
                    let v = match self.linear {
                        Some((slope, inter)) => v * slope + inter,
                        None => v,
                    } as f32;
                    if v.is_finite() {
                        out.push(v);
                    } else {
                        nonfinite += 1;
                        out.push(0.0);
                    }
                }
            }};
        }
        match self.datatype {
            Datatype::U8 => run!(u8),
            Datatype::I8 => run!(i8),
            Datatype::I16 => run!(i16),
            Datatype::U16 => run!(u16),
            Datatype::I32 => run!(i32),
            Datatype::U32 => run!(u32),
            Datatype::I64 => run!(i64),
            Datatype::U64 => run!(u64),
            Datatype::F32 => run!(f32),
            Datatype::F64 => run!(f64),
        }
        nonfinite
    }
}

/// Parses a NIfTI-1 (348-byte) or NIfTI-2 (540-byte) header of either byte order.
pub fn parse_header(bytes: &[u8]) -> Result<Header> {
    if bytes.len() < 4 {
        return Err(VolumeError::NotNifti {
            detail: format!("only {} bytes", bytes.len()),
        });
    }
    let size_le = i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let size_be = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    match (size_le, size_be) {
        (348, _) | (_, 348) => {
            if bytes.len() < 348 {
                return Err(VolumeError::NotNifti {
                    detail: format!("a NIfTI-1 header needs 348 bytes, the file has {}", bytes.len()),
                });
            }
            parse_nifti1(bytes)
        }
        (540, _) | (_, 540) => {
            if bytes.len() < 540 {
                return Err(VolumeError::NotNifti {
                    detail: format!("a NIfTI-2 header needs 540 bytes, the file has {}", bytes.len()),
                });
            }
            parse_nifti2(bytes, size_be == 540)
        }
        _ => Err(VolumeError::NotNifti {
            detail: format!(
                "the first 4 bytes should hold the header size 348 (NIfTI-1) or 540 (NIfTI-2), found {size_le}"
            ),
        }),
    }
}

fn parse_nifti1(bytes: &[u8]) -> Result<Header> {
    // Analyze 7.5 has no magic; it is read like a NIfTI-1 pair without orientation or
    // scaling. nifti-rs refuses an empty magic, so it is given the pair magic instead.
    let is_analyze = bytes[344..348].iter().all(|&b| b == 0);
    let mut raw = [0u8; 348];
    raw.copy_from_slice(&bytes[..348]);
    if is_analyze {
        raw[344..348].copy_from_slice(b"ni1\0");
    }
    let h = nifti::NiftiHeader::from_reader(&raw[..]).map_err(|e| VolumeError::NotNifti {
        detail: e.to_string(),
    })?;
    let format = match &h.magic {
        b"n+1\0" => NiftiFormat::Nifti1,
        _ => NiftiFormat::Nifti1Pair,
    };
    // nifti-rs stores dim as u16; the standard says i16: values ≥ 2^15 are negative.
    let raw_dim: Vec<i64> = h.dim.iter().map(|&d| d as i16 as i64).collect();
    let dims = spatial_dims(&raw_dim, h.intent_code as i32)?;
    let datatype = Datatype::from_code(h.datatype as i32)?;
    Ok(Header {
        format,
        big_endian: h.endianness == nifti::Endianness::Big,
        datatype,
        dims: within_limit(dims, datatype)?,
        pixdim: h.pixdim.map(|v| v as f64),
        vox_offset: finite_offset(h.vox_offset as f64)?,
        scl_slope: if is_analyze { 0.0 } else { h.scl_slope as f64 },
        scl_inter: if is_analyze { 0.0 } else { h.scl_inter as f64 },
        qform_code: if is_analyze { 0 } else { h.qform_code as i32 },
        sform_code: if is_analyze { 0 } else { h.sform_code as i32 },
        quatern: [h.quatern_b, h.quatern_c, h.quatern_d].map(|v| v as f64),
        qoffset: [h.quatern_x, h.quatern_y, h.quatern_z].map(|v| v as f64),
        srow: [h.srow_x, h.srow_y, h.srow_z].map(|r| r.map(|v| v as f64)),
        xyzt_units: h.xyzt_units,
        dim_info: h.dim_info,
        intent_code: h.intent_code as i32,
        descrip: c_string(&h.descrip),
    })
}

/// `vox_offset` as a byte offset, at most [`MAX_VOX_OFFSET`].
fn finite_offset(v: f64) -> Result<usize> {
    if !(v >= 0.0 && v.is_finite()) {
        Err(VolumeError::NotNifti {
            detail: format!("invalid vox_offset {v}"),
        })
    } else if v > MAX_VOX_OFFSET as f64 {
        Err(VolumeError::VoxOffsetTooLarge {
            vox_offset: v as u64,
            limit: MAX_VOX_OFFSET,
        })
    } else {
        Ok(v as usize)
    }
}

/// The spatial dimensions as `usize`, refused with [`VolumeError::TooLarge`] when their
/// product exceeds [`MAX_VOXELS`] (so every later size computation fits, even in 32 bits).
fn within_limit(dims: [u64; 3], datatype: Datatype) -> Result<[usize; 3]> {
    if product(&dims).is_some_and(|v| v <= MAX_VOXELS as u128) {
        // Each dimension is at most MAX_VOXELS here.
        return Ok(dims.map(|d| d as usize));
    }
    Err(VolumeError::TooLarge {
        dims,
        datatype,
        limit: MAX_VOXELS,
    })
}

fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Little helper reading fixed-position fields of either byte order.
struct Fields<'a> {
    b: &'a [u8],
    big: bool,
}

impl Fields<'_> {
    fn arr<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut a = [0u8; N];
        a.copy_from_slice(&self.b[at..at + N]);
        if self.big {
            a.reverse();
        }
        a
    }
    fn i32(&self, at: usize) -> i32 {
        i32::from_le_bytes(self.arr(at))
    }
    fn i64(&self, at: usize) -> i64 {
        i64::from_le_bytes(self.arr(at))
    }
    fn f64(&self, at: usize) -> f64 {
        f64::from_le_bytes(self.arr(at))
    }
    fn i16(&self, at: usize) -> i16 {
        i16::from_le_bytes(self.arr(at))
    }
}

fn parse_nifti2(bytes: &[u8], big: bool) -> Result<Header> {
    let f = Fields { b: bytes, big };
    let magic = &bytes[4..8];
    let format = match magic {
        b"n+2\0" => NiftiFormat::Nifti2,
        b"ni2\0" => NiftiFormat::Nifti1Pair,
        m => {
            return Err(VolumeError::NotNifti {
                detail: format!(
                    "540-byte header with unknown magic {:?}",
                    String::from_utf8_lossy(m)
                ),
            })
        }
    };
    let raw_dim: Vec<i64> = (0..8).map(|i| f.i64(16 + 8 * i)).collect();
    let intent_code = f.i32(504);
    let dims = spatial_dims(&raw_dim, intent_code)?;
    let datatype = Datatype::from_code(f.i16(12) as i32)?;
    let srow = [400, 432, 464].map(|at| [0, 1, 2, 3].map(|i| f.f64(at + 8 * i)));
    let vox_offset = f.i64(168);
    Ok(Header {
        format,
        big_endian: big,
        datatype,
        dims: within_limit(dims, datatype)?,
        pixdim: [0, 1, 2, 3, 4, 5, 6, 7].map(|i| f.f64(104 + 8 * i)),
        vox_offset: finite_offset(vox_offset as f64)?,
        scl_slope: f.f64(176),
        scl_inter: f.f64(184),
        qform_code: f.i32(344),
        sform_code: f.i32(348),
        quatern: [352, 360, 368].map(|at| f.f64(at)),
        qoffset: [376, 384, 392].map(|at| f.f64(at)),
        srow,
        xyzt_units: f.i32(500) as u8,
        dim_info: bytes[524],
        intent_code,
        descrip: c_string(&bytes[240..320]),
    })
}

/// NIfTI intent codes 3000–3099 are CIFTI-2.
fn is_cifti(intent: i32) -> bool {
    (3000..3100).contains(&intent)
}

/// Validates `dim[0..8]` and returns the three spatial dimensions (as stored: their size is
/// checked by [`within_limit`]).
fn spatial_dims(raw: &[i64], intent_code: i32) -> Result<[u64; 3]> {
    let ndim = raw[0];
    if !(1..=7).contains(&ndim) {
        return Err(VolumeError::BadDims(format!(
            "dim[0] = {ndim} (must be 1 to 7)"
        )));
    }
    let ndim = ndim as usize;
    let dims = &raw[1..=ndim];
    if let Some(&d) = dims.iter().find(|&&d| d < 0) {
        return Err(VolumeError::BadDims(format!(
            "negative dimension {d} in {dims:?}"
        )));
    }
    let dims: Vec<u64> = dims.iter().map(|&d| d as u64).collect();
    // For messages (a NIfTI-2 dimension may not fit a 32-bit usize).
    let listed = || -> Vec<usize> {
        dims.iter()
            .map(|&d| usize::try_from(d).unwrap_or(usize::MAX))
            .collect()
    };
    if let Some(axis) = dims.iter().position(|&d| d == 0) {
        return Err(VolumeError::ZeroSizeDim {
            axis: axis + 1,
            dims: listed(),
        });
    }
    let cifti = if is_cifti(intent_code) {
        ", CIFTI-2 intent"
    } else {
        ""
    };
    // Trailing size-1 dimensions do not count.
    let effective = dims.iter().rposition(|&d| d > 1).map_or(1, |p| p + 1);
    if effective >= 5 || (!cifti.is_empty() && effective > 3) {
        return Err(VolumeError::NotAVolume {
            ndim: effective,
            dims: listed(),
            cifti,
        });
    }
    let mut spatial = [1u64; 3];
    for (s, d) in spatial.iter_mut().zip(dims.iter()) {
        *s = *d;
    }
    if effective == 4 {
        let listed = listed();
        return Err(VolumeError::FourDimensional {
            dims: [listed[0], listed[1], listed[2]],
            volumes: listed[3],
        });
    }
    Ok(spatial)
}

/// Scalar types that can be written as NIfTI voxels.
pub trait NiftiScalar: Copy {
    /// The datatype written.
    const DATATYPE: Datatype;
    /// Appends the little-endian bytes of `self`.
    fn put(self, out: &mut Vec<u8>);
}

macro_rules! scalar {
    ($t:ty, $d:expr) => {
        impl NiftiScalar for $t {
            const DATATYPE: Datatype = $d;
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    };
}
scalar!(u8, Datatype::U8);
scalar!(i16, Datatype::I16);
scalar!(f32, Datatype::F32);

/// Serialises `voxels` (NIfTI order) as a little-endian NIfTI-1 file in the grid of
/// `reference`: same dims, pixdim, qform and sform (codes and values), units and dim_info.
/// The datatype is that of `T`, with no intensity scaling. `gzip` compresses the result (for
/// `.nii.gz`).
pub fn write_bytes<T: NiftiScalar>(
    reference: &Header,
    voxels: &[T],
    gzip: bool,
) -> Result<Vec<u8>> {
    let n = reference.voxel_count();
    if voxels.len() != n {
        return Err(VolumeError::LengthMismatch {
            what: "writing a NIfTI volume",
            expected: n,
            actual: voxels.len(),
            dims: reference.dims,
        });
    }
    let too_big = reference.dims.iter().any(|&d| d > i16::MAX as usize);
    if too_big {
        return Err(VolumeError::BadDims(format!(
            "{:?} does not fit a NIfTI-1 header (max 32767 per axis)",
            reference.dims
        )));
    }
    let mut out = Vec::with_capacity(352 + n * T::DATATYPE.size());
    let put_i16 = |o: &mut Vec<u8>, v: i16| o.extend_from_slice(&v.to_le_bytes());
    let put_f32 = |o: &mut Vec<u8>, v: f64| o.extend_from_slice(&(v as f32).to_le_bytes());
    out.extend_from_slice(&348i32.to_le_bytes());
    out.extend_from_slice(&[0u8; 10 + 18]); // data_type, db_name
    out.extend_from_slice(&0i32.to_le_bytes()); // extents
    put_i16(&mut out, 0); // session_error
    out.push(b'r'); // regular
    out.push(reference.dim_info);
    let d = reference.dims;
    for v in [3, d[0], d[1], d[2], 1, 1, 1, 1] {
        put_i16(&mut out, v as i16);
    }
    for _ in 0..3 {
        put_f32(&mut out, 0.0); // intent_p1..3
    }
    put_i16(&mut out, 0); // intent_code: a label map / image, no statistic
    put_i16(&mut out, T::DATATYPE.code());
    put_i16(&mut out, (T::DATATYPE.size() * 8) as i16);
    put_i16(&mut out, 0); // slice_start
    let qfac = if reference.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
    let pix = reference.pixdim;
    for v in [qfac, pix[1], pix[2], pix[3], 0.0, 0.0, 0.0, 0.0] {
        put_f32(&mut out, v);
    }
    put_f32(&mut out, 352.0); // vox_offset
    put_f32(&mut out, 1.0); // scl_slope
    put_f32(&mut out, 0.0); // scl_inter
    put_i16(&mut out, 0); // slice_end
    out.push(0); // slice_code
    out.push(reference.xyzt_units);
    for _ in 0..4 {
        put_f32(&mut out, 0.0); // cal_max, cal_min, slice_duration, toffset
    }
    out.extend_from_slice(&[0u8; 8]); // glmax, glmin
    let mut descrip = [0u8; 80];
    let text = b"AdaMM";
    descrip[..text.len()].copy_from_slice(text);
    out.extend_from_slice(&descrip);
    out.extend_from_slice(&[0u8; 24]); // aux_file
    put_i16(&mut out, reference.qform_code as i16);
    put_i16(&mut out, reference.sform_code as i16);
    for v in reference.quatern.iter().chain(reference.qoffset.iter()) {
        put_f32(&mut out, *v);
    }
    for row in &reference.srow {
        for v in row {
            put_f32(&mut out, *v);
        }
    }
    out.extend_from_slice(&[0u8; 16]); // intent_name
    out.extend_from_slice(b"n+1\0");
    out.extend_from_slice(&[0u8; 4]); // no extensions
    debug_assert_eq!(out.len(), 352);
    for v in voxels {
        v.put(&mut out);
    }
    if !gzip {
        return Ok(out);
    }
    let mut enc = GzEncoder::new(Vec::with_capacity(out.len() / 4), Compression::new(6));
    enc.write_all(&out)
        .and_then(|_| enc.finish())
        .map_err(|e| VolumeError::Gzip(e.to_string()))
}

/// Writes `voxels` to `path` in the grid of `reference` (see [`write_bytes`]); gzip when the
/// path ends in `.gz`.
pub fn write_path<T: NiftiScalar>(path: &Path, reference: &Header, voxels: &[T]) -> Result<()> {
    let gzip = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    let bytes = write_bytes(reference, voxels, gzip)?;
    std::fs::write(path, bytes).map_err(|e| VolumeError::io(path, e))
}
