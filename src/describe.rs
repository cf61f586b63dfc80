//! Pure, platform-independent helpers behind the file list: what is said about a file once its
//! bytes have been read (sizes written by `adamm_volume::units::format_size`).
//!
//! Nothing here touches the DOM, so it is unit-tested natively with `cargo test`.

use adamm_volume::units::format_size;

/// What is said under a file decoded from `file_bytes` bytes, e.g.
/// `240 × 240 × 155 voxels · 1 × 1 × 1 mm · LPS · int16 · 2.9 MiB`.
pub fn describe_volume(volume: &adamm_volume::Volume, file_bytes: usize) -> String {
    let [x, y, z] = volume.dims();
    let spacing = volume.spacing_mm().map(format_mm).join(" × ");
    format!(
        "{x} × {y} × {z} voxels · {spacing} mm · {} · {} · {}",
        volume.orientation_code(),
        volume.header.datatype.name(),
        format_size(file_bytes as u64)
    )
}

/// What is said about a file of `file_bytes` bytes that could not be decoded.
pub fn unreadable(file_bytes: usize, error: &adamm_volume::VolumeError) -> String {
    format!(
        "Not readable as a 3-D NIfTI volume ({}): {error}",
        format_size(file_bytes as u64)
    )
}

/// A voxel size in mm with at most three decimals and no trailing zeros (`1`, `0.938`).
fn format_mm(mm: f64) -> String {
    let text = format!("{mm:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Contents;

    /// A minimal uncompressed NIfTI-1 file: a `dims` grid of uint8 voxels, spacing from pixdim,
    /// no qform/sform (so the orientation is RAS). Written by hand, independent of the writer
    /// in `adamm-volume`.
    fn nifti1(dims: [i16; 3], spacing: [f32; 3]) -> Vec<u8> {
        let voxels: usize = dims.iter().map(|&d| d as usize).product();
        let mut f = vec![0u8; 352 + voxels];
        f[0..4].copy_from_slice(&348i32.to_le_bytes());
        let dim = [3, dims[0], dims[1], dims[2], 1, 1, 1, 1];
        for (i, d) in dim.iter().enumerate() {
            f[40 + 2 * i..42 + 2 * i].copy_from_slice(&d.to_le_bytes());
        }
        f[70..72].copy_from_slice(&2i16.to_le_bytes()); // datatype: uint8
        f[72..74].copy_from_slice(&8i16.to_le_bytes()); // bitpix
        let pixdim = [1.0, spacing[0], spacing[1], spacing[2], 0.0, 0.0, 0.0, 0.0];
        for (i, p) in pixdim.iter().enumerate() {
            f[76 + 4 * i..80 + 4 * i].copy_from_slice(&p.to_le_bytes());
        }
        f[108..112].copy_from_slice(&352f32.to_le_bytes()); // vox_offset
        f[344..348].copy_from_slice(b"n+1\0");
        f
    }

    #[test]
    fn describes_a_volume() {
        let file = nifti1([4, 3, 2], [1.0, 0.5, 2.25]);
        let volume = adamm_volume::read_bytes(&file).expect("a valid file");
        assert_eq!(
            describe_volume(&volume, file.len()),
            "4 × 3 × 2 voxels · 1 × 0.5 × 2.25 mm · RAS · uint8 · 376 B"
        );
    }

    #[test]
    fn explains_unreadable_files() {
        let mut truncated = nifti1([4, 3, 2], [1.0; 3]);
        truncated.truncate(360);
        for bytes in [&b"hello"[..], &[], &[0x1f, 0x8b, 0, 0], &truncated] {
            match Contents::read(bytes) {
                Contents::Unreadable(text) => {
                    assert!(
                        text.starts_with("Not readable as a 3-D NIfTI volume"),
                        "{text}"
                    )
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn millimetres() {
        assert_eq!(format_mm(1.0), "1");
        assert_eq!(format_mm(0.9375), "0.938");
        assert_eq!(format_mm(2.5), "2.5");
    }
}
