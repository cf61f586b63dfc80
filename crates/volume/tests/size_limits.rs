//! Inputs that cannot take the machine down: a gzip bomb (a small `.nii.gz` whose voxels
//! inflate to gigabytes) and headers announcing huge volumes are refused from their header,
//! before any voxel data are decompressed or allocated ([`MAX_VOXELS`]).
//!
//! Every file is built here, in memory; the 2 GB bomb costs O(its 2 MB compressed size) to
//! build. A counting global allocator measures, per thread, the peak bytes allocated while a
//! file is read, so that the refusals are shown to cost kilobytes, not gigabytes.

use std::io::{Read, Write};
use std::path::PathBuf;

use adamm_volume::nifti_io::{
    parse_header, read_header_path, read_pair_bytes, Datatype, MAX_VOXELS, MAX_VOX_OFFSET,
};
use adamm_volume::{read_bytes, read_path, VolumeError};
use flate2::write::DeflateEncoder;
use flate2::Compression;

#[path = "support/peak_alloc.rs"]
mod peak_alloc;
use peak_alloc::peak_allocated;

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

// ---- files built here -----------------------------------------------------------------------

/// A little-endian NIfTI-1 single-file header (348 bytes + 4 extension-flag bytes) for a
/// `dims` grid of datatype `code` (`bits` per voxel), voxels at byte 352, RAS 1 mm by pixdim.
fn nifti1_header(dims: [i16; 3], code: i16, bits: i16) -> Vec<u8> {
    let mut h = vec![0u8; 352];
    h[0..4].copy_from_slice(&348i32.to_le_bytes());
    for (i, d) in [3, dims[0], dims[1], dims[2], 1, 1, 1, 1]
        .iter()
        .enumerate()
    {
        h[40 + 2 * i..42 + 2 * i].copy_from_slice(&d.to_le_bytes());
    }
    h[70..72].copy_from_slice(&code.to_le_bytes());
    h[72..74].copy_from_slice(&bits.to_le_bytes());
    for (i, p) in [1f32, 1.0, 1.0, 1.0].iter().enumerate() {
        h[76 + 4 * i..80 + 4 * i].copy_from_slice(&p.to_le_bytes());
    }
    h[108..112].copy_from_slice(&352f32.to_le_bytes()); // vox_offset
    h[112..116].copy_from_slice(&1f32.to_le_bytes()); // scl_slope
    h[344..348].copy_from_slice(b"n+1\0");
    h
}

const UINT8: (i16, i16) = (2, 8);
const FLOAT64: (i16, i16) = (64, 64);

/// A little-endian NIfTI-2 header (540 bytes + 4) for a `dims` grid of float32.
fn nifti2_header(dims: [i64; 3]) -> Vec<u8> {
    let mut h = vec![0u8; 544];
    h[0..4].copy_from_slice(&540i32.to_le_bytes());
    h[4..12].copy_from_slice(b"n+2\0\r\n\x1a\n");
    h[12..14].copy_from_slice(&16i16.to_le_bytes()); // float32
    h[14..16].copy_from_slice(&32i16.to_le_bytes());
    for (i, d) in [3, dims[0], dims[1], dims[2], 1, 1, 1, 1]
        .iter()
        .enumerate()
    {
        h[16 + 8 * i..24 + 8 * i].copy_from_slice(&d.to_le_bytes());
    }
    for (i, p) in [1f64, 1.0, 1.0, 1.0].iter().enumerate() {
        h[104 + 8 * i..112 + 8 * i].copy_from_slice(&p.to_le_bytes());
    }
    h[168..176].copy_from_slice(&544i64.to_le_bytes()); // vox_offset
    h
}

/// A gzip stream of `header` followed by `zeros` zero bytes (a multiple of 1 MiB, at least
/// 2 MiB), built in time proportional to its compressed size: deflate blocks are
/// byte-aligned after a sync flush, so the block that encodes the second MiB of zeros (whose
/// back references reach only zeros) is repeated for every further MiB. The CRC-32 is
/// combined per MiB rather than computed over the gigabytes.
fn gzip_bomb(header: &[u8], zeros: usize) -> Vec<u8> {
    assert!(zeros.is_multiple_of(MIB) && zeros >= 2 * MIB);
    let mib = vec![0u8; MIB];
    let mut enc = DeflateEncoder::new(Vec::new(), Compression::best());
    enc.write_all(header).expect("in memory");
    enc.write_all(&mib).expect("in memory");
    enc.flush().expect("in memory");
    let first = enc.get_ref().len();
    enc.write_all(&mib).expect("in memory");
    enc.flush().expect("in memory");
    let second = enc.get_ref().len();
    let deflate = enc.finish().expect("in memory");
    let (start, rest) = deflate.split_at(first);
    let (block, end) = rest.split_at(second - first);

    let repeats = zeros / MIB - 1;
    let mut crc = crc32fast::Hasher::new();
    crc.update(header);
    crc.update(&mib);
    let mut mib_crc = crc32fast::Hasher::new();
    mib_crc.update(&mib);
    for _ in 0..repeats {
        crc.combine(&mib_crc);
    }
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.reserve(start.len() + repeats * block.len() + end.len() + 8);
    out.extend_from_slice(start);
    for _ in 0..repeats {
        out.extend_from_slice(block);
    }
    out.extend_from_slice(end);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&((header.len() + zeros) as u32).to_le_bytes());
    out
}

/// A file in the system's temporary folder, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, bytes: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!("adamm-{}-{name}", std::process::id()));
        std::fs::write(&path, bytes).expect("temporary file");
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

// ---- tests ----------------------------------------------------------------------------------

#[test]
fn the_bomb_builder_makes_valid_gzip() {
    // The builder's output, small enough to inflate here, is a valid gzip stream (flate2
    // checks the CRC and length) of exactly the header and the zeros.
    let header = nifti1_header([64, 64, 64], UINT8.0, UINT8.1);
    let gz = gzip_bomb(&header, 4 * MIB);
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut inflated)
        .expect("valid gzip");
    assert_eq!(inflated.len(), header.len() + 4 * MIB);
    assert_eq!(&inflated[..header.len()], &header[..]);
    assert!(inflated[header.len()..].iter().all(|&b| b == 0));
    assert!(gz.len() < 16 * KIB, "4 MiB of zeros in {} bytes", gz.len());
}

#[test]
fn a_gzip_bomb_is_refused_from_its_header() {
    // The file: a 1280³ uint8 volume, 2 GB of voxels, in about 2 MB of gzip.
    let header = nifti1_header([1280, 1280, 1280], UINT8.0, UINT8.1);
    let voxels = 1280usize.pow(3);
    let bomb = gzip_bomb(&header, voxels);
    assert!(bomb.len() < 3 * MIB, "the bomb is {} bytes", bomb.len());
    let isize = u32::from_le_bytes(bomb[bomb.len() - 4..].try_into().expect("4 bytes"));
    assert_eq!(
        isize as usize,
        (352 + voxels) % (1 << 32),
        "gzip trailer ISIZE"
    );

    let check = |got: Result<adamm_volume::Volume, VolumeError>| match got {
        Err(e @ VolumeError::TooLarge { .. }) => {
            let msg = e.to_string();
            let VolumeError::TooLarge {
                dims,
                datatype,
                limit,
            } = e
            else {
                unreachable!()
            };
            assert_eq!(dims, [1280, 1280, 1280]);
            assert_eq!(datatype, Datatype::U8);
            assert_eq!(limit, MAX_VOXELS);
            for part in [
                "1280 × 1280 × 1280",
                "uint8",
                "2097152000 voxels",
                "2097152000 bytes (2.0 GiB)",
                "134217728",
            ] {
                assert!(msg.contains(part), "{part:?} missing from: {msg}");
            }
        }
        other => panic!("expected TooLarge, got {other:?}"),
    };

    // From memory, as the browser reads a dropped file.
    let (got, peak) = peak_allocated(|| read_bytes(&bomb));
    check(got);
    eprintln!("gzip bomb from memory: peak {peak} bytes allocated");
    assert!(peak < 512 * KIB, "refusing the bomb allocated {peak} bytes");

    // Only its first few kilobytes are ever decompressed: cut after 4 KiB, the stream
    // gives the same refusal (not a gzip error), so no more of it was read.
    check(read_bytes(&bomb[..4 * KIB]));

    // From a file, as `adamm inspect` and the training data loader read it.
    let file = TempFile::new("bomb.nii.gz", &bomb);
    let (got, peak) = peak_allocated(|| read_path(&file.0));
    check(got);
    eprintln!("gzip bomb from a file: peak {peak} bytes allocated");
    assert!(peak < 512 * KIB, "refusing the bomb allocated {peak} bytes");
    match read_header_path(&file.0) {
        Err(VolumeError::TooLarge { dims, .. }) => assert_eq!(dims, [1280, 1280, 1280]),
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn oversized_headers_are_refused_before_allocating() {
    // NIfTI-1's largest grid, float64: 35 trillion voxels in a 1 KiB file.
    let mut nifti1 = nifti1_header([32767, 32767, 32767], FLOAT64.0, FLOAT64.1);
    nifti1.extend_from_slice(&[0u8; 1024]);
    // NIfTI-2: 2^40 per axis (2^120 voxels), and a product that overflows 128 bits.
    let mut nifti2 = nifti2_header([1 << 40, 1 << 40, 1 << 40]);
    nifti2.extend_from_slice(&[0u8; 1024]);
    let mut overflow = nifti2_header([i64::MAX, i64::MAX, i64::MAX]);
    overflow.extend_from_slice(&[0u8; 1024]);

    let cases: [(&str, &[u8], [u64; 3], &str); 3] = [
        (
            "nifti1",
            &nifti1,
            [32767; 3],
            "35181150961663 voxels, 281449207693304 bytes (256.0 TiB)",
        ),
        (
            "nifti2",
            &nifti2,
            [1 << 40; 3],
            "1329227995784915872903807060280344576 voxels",
        ),
        (
            "overflow",
            &overflow,
            [i64::MAX as u64; 3],
            "more than 2^128 voxels, more than 2^128 bytes",
        ),
    ];
    for (name, bytes, want_dims, want_size) in cases {
        let file = TempFile::new(&format!("{name}.nii"), bytes);
        let gz = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), Compression::fast());
            e.write_all(bytes).expect("in memory");
            e.finish().expect("in memory")
        };
        let (results, peak) = peak_allocated(|| {
            [
                read_bytes(bytes),
                read_bytes(&gz),
                read_path(&file.0),
                read_pair_bytes(bytes, &[]),
            ]
        });
        for got in results {
            match got {
                Err(e @ VolumeError::TooLarge { .. }) => {
                    let msg = e.to_string();
                    assert!(msg.contains(want_size), "{name}: {msg}");
                    assert!(msg.contains(&MAX_VOXELS.to_string()), "{name}: {msg}");
                    let VolumeError::TooLarge { dims, .. } = e else {
                        unreachable!()
                    };
                    assert_eq!(dims, want_dims, "{name}");
                }
                other => panic!("{name}: expected TooLarge, got {other:?}"),
            }
        }
        eprintln!("{name}: peak {peak} bytes allocated for four refusals");
        assert!(peak < 512 * KIB, "{name}: refusing allocated {peak} bytes");
        assert!(
            matches!(read_header_path(&file.0), Err(VolumeError::TooLarge { .. })),
            "{name}"
        );
    }
}

#[test]
fn the_limit_is_512_cubed_voxels() {
    assert_eq!(MAX_VOXELS, 134_217_728);
    assert!(parse_header(&nifti1_header([512, 512, 512], UINT8.0, UINT8.1)).is_ok());
    // A whole-head clinical grid and a BraTS case are well inside it.
    assert!(parse_header(&nifti1_header([512, 512, 400], FLOAT64.0, FLOAT64.1)).is_ok());
    assert!(parse_header(&nifti1_header([240, 240, 155], UINT8.0, UINT8.1)).is_ok());
    match parse_header(&nifti1_header([512, 512, 513], UINT8.0, UINT8.1)) {
        Err(VolumeError::TooLarge { dims, .. }) => assert_eq!(dims, [512, 512, 513]),
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn a_header_announcing_more_than_the_file_holds_is_truncated() {
    // 400³ uint8 (under the limit: 64 million voxels) with only 1000 bytes of voxels.
    let mut file = nifti1_header([400, 400, 400], UINT8.0, UINT8.1);
    file.extend_from_slice(&[7u8; 1000]);
    let gz = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(&file).expect("in memory");
        e.finish().expect("in memory")
    };
    for (what, bytes) in [("plain", &file), ("gzip", &gz)] {
        let (got, peak) = peak_allocated(|| read_bytes(bytes));
        match got {
            Err(VolumeError::Truncated {
                expected,
                actual,
                vox_offset,
            }) => {
                assert_eq!((expected, actual, vox_offset), (400 * 400 * 400, 1000, 352))
            }
            other => panic!("{what}: expected Truncated, got {other:?}"),
        }
        // The voxel buffer grows with what arrives; it is not sized by the header.
        eprintln!("{what} truncated: peak {peak} bytes allocated");
        assert!(peak < 8 * MIB, "{what}: allocated {peak} bytes");
    }
}

#[test]
fn bytes_after_the_announced_voxels_are_not_decompressed() {
    // A 64³ volume followed by 512 MiB of zeros that its header does not announce: the
    // volume reads, and cut in the middle of those zeros (where inflating to the end would
    // fail) it still reads, so they were never decompressed.
    let header = nifti1_header([64, 64, 64], UINT8.0, UINT8.1);
    let gz = gzip_bomb(&header, 512 * MIB);
    for bytes in [&gz[..], &gz[..gz.len() / 2]] {
        let v = read_bytes(bytes).expect("the announced voxels are all there");
        assert_eq!(v.dims(), [64, 64, 64]);
        assert_eq!(v.data.len(), 64 * 64 * 64);
        assert!(v.data.iter().all(|&x| x == 0.0));
    }
    // A stream cut inside the announced voxels is still a gzip error.
    let small = gzip_bomb(&nifti1_header([128, 128, 128], UINT8.0, UINT8.1), 2 * MIB);
    assert!(matches!(
        read_bytes(&small[..small.len() / 4]),
        Err(VolumeError::Gzip(_))
    ));
}

#[test]
fn a_far_vox_offset_is_refused() {
    let mut file = nifti1_header([4, 4, 4], UINT8.0, UINT8.1);
    file[108..112].copy_from_slice(&1e9f32.to_le_bytes());
    file.extend_from_slice(&[0u8; 64]);
    match read_bytes(&file) {
        Err(e @ VolumeError::VoxOffsetTooLarge { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("1000000000 bytes"), "{msg}");
            assert!(msg.contains(&MAX_VOX_OFFSET.to_string()), "{msg}");
        }
        other => panic!("expected VoxOffsetTooLarge, got {other:?}"),
    }
}
