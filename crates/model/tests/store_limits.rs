//! Model files that cannot take the machine down: a file longer than
//! [`MAX_WEIGHTS_BYTES`] is refused unread, and one whose tensor descriptors declare more
//! bytes than it holds (tensors overlapping each other) is refused before any tensor or
//! network is allocated. The crafted files are built here; a counting global allocator
//! measures, per thread, the peak bytes allocated while a file is refused.

use adamm_model::burn::store::burn_pack;
use adamm_model::burn::tensor::{DType, Device};
use adamm_model::store::MAX_WEIGHTS_BYTES;
use adamm_model::{AdammConfig, ModelError, Student, WeightsInfo};
use ciborium::Value;

#[path = "../../volume/tests/support/peak_alloc.rs"]
mod peak_alloc;
use peak_alloc::peak_allocated;

const MIB: usize = 1 << 20;

// ---- crafted burnpack files -----------------------------------------------------------------

/// A burnpack file written by hand (header, CBOR metadata, aligned data section of
/// `data_len` zero bytes) with AdaMM metadata for a light student and f32 tensors of the
/// given shapes and byte ranges, which the format lets overlap.
fn crafted(tensors: &[(String, Vec<u64>, (u64, u64))], data_len: usize) -> Vec<u8> {
    let text = |s: &str| Value::Text(s.to_owned());
    let dtype = Value::serialized(&DType::F32).expect("a dtype serialises");
    let descriptors = tensors
        .iter()
        .map(|(name, shape, (start, end))| {
            let ints = |v: &[u64]| Value::Array(v.iter().map(|&d| Value::from(d)).collect());
            let descriptor = Value::Map(vec![
                (text("dtype"), dtype.clone()),
                (text("shape"), ints(shape)),
                (text("data_offsets"), ints(&[*start, *end])),
            ]);
            (text(name), descriptor)
        })
        .collect();
    let metadata = Value::Map(vec![
        (text("tensors"), Value::Map(descriptors)),
        (
            text("metadata"),
            Value::Map(vec![
                (text("adamm.kind"), text("student")),
                (
                    text("adamm.config"),
                    text(&AdammConfig::light().to_string()),
                ),
                (text("adamm.precision"), text("f32")),
            ]),
        ),
    ]);
    let mut meta = Vec::new();
    ciborium::into_writer(&metadata, &mut meta).expect("in memory");
    let mut file = burn_pack::Header::new(meta.len() as u32)
        .into_bytes()
        .to_vec();
    file.extend_from_slice(&meta);
    let start = burn_pack::aligned_data_section_start(meta.len());
    file.resize(start + data_len, 0);
    file
}

/// `n` tensors of 1024 × 1024 f32 (4 MiB each).
fn square_tensors(n: usize, overlapping: bool) -> Vec<(String, Vec<u64>, (u64, u64))> {
    let size = 4 * MIB as u64;
    (0..n)
        .map(|i| {
            let start = if overlapping { 0 } else { i as u64 * size };
            (format!("t{i:05}"), vec![1024, 1024], (start, start + size))
        })
        .collect()
}

// ---- tests ----------------------------------------------------------------------------------

#[test]
fn the_crafted_files_are_valid_burnpack() {
    // Laid out back to back, the same tensors make a file that reads.
    let bytes = crafted(&square_tensors(3, false), 12 * MIB);
    let info = WeightsInfo::from_bytes(&bytes).expect("a well-formed file");
    assert_eq!(info.kind, "student");
    assert_eq!(info.network_config().expect("config"), AdammConfig::light());
}

#[test]
fn tensors_declaring_more_than_the_file_holds_are_refused_before_loading() {
    // 2000 tensors of 4 MiB over the same 4 MiB: 7.8 GiB declared in a 4 MiB file.
    let bytes = crafted(&square_tensors(2000, true), 4 * MIB);
    let declared = 2000 * 4 * MIB as u128;
    let check = |got: Result<(), ModelError>| match got {
        Err(
            e @ ModelError::TensorsExceedFile {
                tensors: 2000,
                declared: d,
                file_bytes,
                limit,
            },
        ) => {
            assert_eq!(d, declared);
            assert_eq!(file_bytes, bytes.len());
            assert_eq!(limit, MAX_WEIGHTS_BYTES);
            let msg = e.to_string();
            assert!(msg.contains(&declared.to_string()), "{msg}");
            assert!(msg.contains(&bytes.len().to_string()), "{msg}");
        }
        other => panic!("expected TensorsExceedFile, got {other:?}"),
    };

    let (got, peak) = peak_allocated(|| WeightsInfo::from_bytes(&bytes).map(|_| ()));
    check(got);
    eprintln!(
        "overlapping tensors, metadata only: peak {peak} bytes allocated for a {}-byte file",
        bytes.len()
    );
    assert!(peak < 3 * bytes.len(), "refusing allocated {peak} bytes");

    // Loading a student refuses it before building the network.
    let device = Device::flex();
    let (got, peak) =
        peak_allocated(|| Student::from_bytes(&AdammConfig::light(), &bytes, &device).map(|_| ()));
    check(got);
    eprintln!("overlapping tensors, Student::from_bytes: peak {peak} bytes allocated");
    assert!(peak < 3 * bytes.len(), "refusing allocated {peak} bytes");

    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("overlapping.bpk");
    std::fs::write(&path, &bytes).expect("write");
    let (got, peak) = peak_allocated(|| Student::load_any(&path, &device).map(|_| ()));
    check(got);
    eprintln!("overlapping tensors, Student::load_any: peak {peak} bytes allocated");
    assert!(peak < 4 * bytes.len(), "refusing allocated {peak} bytes");
}

#[test]
fn a_tensor_reaching_past_the_end_is_refused() {
    // One 4 MiB tensor in a file whose data section holds 1 MiB: Burn's reader refuses it.
    let bytes = crafted(&square_tensors(1, false), MIB);
    match WeightsInfo::from_bytes(&bytes) {
        Err(ModelError::WeightsIo { message, .. }) => {
            assert!(message.contains("truncated"), "{message}")
        }
        other => panic!("expected WeightsIo, got {other:?}"),
    }
}

#[test]
fn a_weights_file_over_the_limit_is_refused_unread() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("huge.bpk");
    // Sparse: no disk space is used.
    let file = std::fs::File::create(&path).expect("create");
    file.set_len(MAX_WEIGHTS_BYTES as u64 + 1).expect("set_len");
    drop(file);
    let device = Device::flex();
    let too_large = |got: Result<(), ModelError>| match got {
        Err(e @ ModelError::WeightsFileTooLarge { bytes, limit }) => {
            assert_eq!(bytes, MAX_WEIGHTS_BYTES as u64 + 1);
            assert_eq!(limit, MAX_WEIGHTS_BYTES);
            let msg = e.to_string();
            assert!(msg.contains("268435457 bytes"), "{msg}");
            assert!(msg.contains("256 MiB"), "{msg}");
        }
        other => panic!("expected WeightsFileTooLarge, got {other:?}"),
    };
    let (got, peak) = peak_allocated(|| Student::load_any(&path, &device).map(|_| ()));
    too_large(got);
    eprintln!("256 MiB + 1 file, Student::load_any: peak {peak} bytes allocated");
    assert!(peak < 64 * 1024, "refusing allocated {peak} bytes");
    too_large(Student::load(&AdammConfig::light(), &path, &device).map(|_| ()));

    // The same length in memory (zeroed pages, never touched).
    let bytes = vec![0u8; MAX_WEIGHTS_BYTES + 1];
    let (got, peak) = peak_allocated(|| WeightsInfo::from_bytes(&bytes).map(|_| ()));
    too_large(got);
    assert!(peak < 64 * 1024, "refusing allocated {peak} bytes");
}
