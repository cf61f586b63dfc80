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

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::error::{Result, VolumeError};
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
    /// pixdim[0..8] as stored (pixdim[0] is qfac).
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
    let (a, b, c, d);
    if trace > 0.5 {
        let a0 = 0.5 * trace.sqrt();
        a = a0;
        b = 0.25 * (r[2][1] - r[1][2]) / a0;
        c = 0.25 * (r[0][2] - r[2][0]) / a0;
        d = 0.25 * (r[1][0] - r[0][1]) / a0;
    } else {
        let xd = 1.0 + r[0][0] - (r[1][1] + r[2][2]);
        let yd = 1.0 + r[1][1] - (r[0][0] + r[2][2]);
        let zd = 1.0 + r[2][2] - (r[0][0] + r[1][1]);
        let (mut qa, mut qb, mut qc, mut qd);
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
            qa = -qa;
            qb = -qb;
            qc = -qc;
            qd = -qd;
        }
        a = qa;
        b = qb;
        c = qc;
        d = qd;
    }
    let _ = a;
    ([b, c, d], [m[0][3], m[1][3], m[2][3]], qfac)
}

/// Reads a NIfTI file (`.nii`, `.nii.gz`, or a `.hdr`/`.img` pair) from disk.
pub fn read_path(path: &Path) -> Result<Volume> {
    let name = path.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".hdr") || name.ends_with(".hdr.gz") {
        let img = image_path_for(path);
        let hdr_bytes = std::fs::read(path).map_err(|e| VolumeError::io(path, e))?;
        let Some(img) = img.iter().find(|p| p.exists()) else {
            return Err(VolumeError::MissingImageFile {
                hdr: path.to_path_buf(),
                img: img[0].clone(),
            });
        };
        let img_bytes = std::fs::read(img).map_err(|e| VolumeError::io(img, e))?;
        return read_pair_bytes(&hdr_bytes, &img_bytes);
    }
    let bytes = std::fs::read(path).map_err(|e| VolumeError::io(path, e))?;
    read_bytes(&bytes)
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
/// same validation of dimensions and datatype as a full read. Cheap enough to check the
/// grids of thousands of files.
pub fn read_header_path(path: &Path) -> Result<Header> {
    let file = std::fs::File::open(path).map_err(|e| VolumeError::io(path, e))?;
    let mut head = Vec::with_capacity(540);
    let mut raw = std::io::BufReader::new(file);
    let mut magic = [0u8; 2];
    let n = raw.read(&mut magic).map_err(|e| VolumeError::io(path, e))?;
    let chained = std::io::Cursor::new(magic[..n].to_vec()).chain(raw);
    if n == 2 && magic == [0x1f, 0x8b] {
        MultiGzDecoder::new(chained)
            .take(540)
            .read_to_end(&mut head)
            .map_err(|e| VolumeError::Gzip(e.to_string()))?;
    } else {
        chained
            .take(540)
            .read_to_end(&mut head)
            .map_err(|e| VolumeError::io(path, e))?;
    }
    let header = parse_header(&head)?;
    header.world_from_voxel()?;
    Ok(header)
}

/// Decompresses `bytes` if they are gzip, else borrows them.
fn maybe_gunzip(bytes: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>> {
    if bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b {
        let mut out = Vec::new();
        MultiGzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|e| VolumeError::Gzip(e.to_string()))?;
        Ok(std::borrow::Cow::Owned(out))
    } else {
        Ok(std::borrow::Cow::Borrowed(bytes))
    }
}

/// Reads a single-file NIfTI-1 or NIfTI-2 volume (optionally gzip-compressed) from memory.
pub fn read_bytes(bytes: &[u8]) -> Result<Volume> {
    let bytes = maybe_gunzip(bytes)?;
    let header = parse_header(&bytes)?;
    if header.format == NiftiFormat::Nifti1Pair {
        return Err(VolumeError::HeaderOnly {
            magic: magic_string(&bytes),
        });
    }
    decode(header, &bytes, header_vox_offset_check)
}

/// Reads a NIfTI-1 pair / Analyze 7.5 volume from its header and image bytes.
pub fn read_pair_bytes(hdr: &[u8], img: &[u8]) -> Result<Volume> {
    let hdr = maybe_gunzip(hdr)?;
    let img = maybe_gunzip(img)?;
    let mut header = parse_header(&hdr)?;
    // In a pair, vox_offset is the offset inside the .img file.
    header.format = NiftiFormat::Nifti1Pair;
    decode(header, &img, |_, _| Ok(()))
}

fn magic_string(bytes: &[u8]) -> String {
    let m = bytes.get(344..347).unwrap_or(&[]);
    String::from_utf8_lossy(m).trim_matches('\0').to_string()
}

fn header_vox_offset_check(header: &Header, len: usize) -> Result<()> {
    let min = if header.format == NiftiFormat::Nifti2 {
        544
    } else {
        352
    };
    if len <= header.vox_offset.max(min - 4) {
        return Err(VolumeError::NoVoxelData {
            len,
            vox_offset: header.vox_offset.max(min),
        });
    }
    Ok(())
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
    let (dims, vox_offset) = (spatial_dims(&raw_dim, h.intent_code as i32)?, h.vox_offset);
    Ok(Header {
        format,
        big_endian: h.endianness == nifti::Endianness::Big,
        datatype: Datatype::from_code(h.datatype as i32)?,
        dims,
        pixdim: h.pixdim.map(|v| v as f64),
        vox_offset: finite_offset(vox_offset as f64)?,
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

fn finite_offset(v: f64) -> Result<usize> {
    if (0.0..1e12).contains(&v) {
        Ok(v as usize)
    } else {
        Err(VolumeError::NotNifti {
            detail: format!("invalid vox_offset {v}"),
        })
    }
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
    let srow = [400, 432, 464].map(|at| [0, 1, 2, 3].map(|i| f.f64(at + 8 * i)));
    let vox_offset = f.i64(168);
    Ok(Header {
        format,
        big_endian: big,
        datatype: Datatype::from_code(f.i16(12) as i32)?,
        dims,
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

/// Validates `dim[0..8]` and returns the three spatial dimensions.
fn spatial_dims(raw: &[i64], intent_code: i32) -> Result<[usize; 3]> {
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
    let dims: Vec<usize> = dims.iter().map(|&d| d as usize).collect();
    if let Some(axis) = dims.iter().position(|&d| d == 0) {
        return Err(VolumeError::ZeroSizeDim {
            axis: axis + 1,
            dims,
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
            dims,
            cifti,
        });
    }
    let mut spatial = [1usize; 3];
    for (s, d) in spatial.iter_mut().zip(dims.iter()) {
        *s = *d;
    }
    if effective == 4 {
        return Err(VolumeError::FourDimensional {
            dims: spatial,
            volumes: dims[3],
        });
    }
    Ok(spatial)
}

/// Decodes the voxels that follow `header` in `bytes`, applying scaling.
fn decode(
    header: Header,
    bytes: &[u8],
    offset_check: impl Fn(&Header, usize) -> Result<()>,
) -> Result<Volume> {
    offset_check(&header, bytes.len())?;
    let n = header.voxel_count();
    let size = header.datatype.size();
    let expected = n.checked_mul(size).ok_or_else(|| {
        VolumeError::BadDims(format!(
            "{:?} voxels overflow the address space",
            header.dims
        ))
    })?;
    let start = header.vox_offset;
    let actual = bytes.len().saturating_sub(start);
    if actual < expected {
        return Err(VolumeError::Truncated {
            expected,
            actual,
            vox_offset: start,
        });
    }
    let raw = &bytes[start..start + expected];
    let slope = header.scl_slope;
    let scaled = slope != 0.0 && slope.is_finite();
    let inter = if scaled && header.scl_inter.is_finite() {
        header.scl_inter
    } else {
        0.0
    };
    let big = header.big_endian;
    let mut nonfinite = 0usize;
    let mut data = Vec::with_capacity(n);
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
                let v = if scaled { v * slope + inter } else { v };
                let v = v as f32;
                if v.is_finite() {
                    data.push(v);
                } else {
                    nonfinite += 1;
                    data.push(0.0);
                }
            }
        }};
    }
    match header.datatype {
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
    // Validate the geometry once, here, so every Volume has a usable affine.
    header.world_from_voxel()?;
    Ok(Volume {
        data,
        header,
        nonfinite_voxels: nonfinite,
    })
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
