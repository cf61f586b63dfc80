//! Round trips through the writer for every orientation, and property tests for the
//! canonical reorientation and its inverse.

use adamm_volume::geometry::{axis_letter, Affine, AxisMap};
use adamm_volume::nifti_io::{write_bytes, Datatype, Header};
use adamm_volume::read_bytes;
use proptest::prelude::*;

/// All 48 axis permutations × flips, as (perm, signs): voxel axis `n` points along world
/// axis `perm[n]` with sign `signs[n]`.
fn all_orientations() -> Vec<([usize; 3], [f64; 3])> {
    let perms = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    let mut out = Vec::new();
    for p in perms {
        for bits in 0..8 {
            let s = [0, 1, 2].map(|a| if bits >> a & 1 == 1 { -1.0 } else { 1.0 });
            out.push((p, s));
        }
    }
    out
}

fn affine_for(perm: [usize; 3], signs: [f64; 3], spacing: [f64; 3], origin: [f64; 3]) -> Affine {
    let mut m = Affine::IDENTITY;
    for n in 0..3 {
        for w in 0..3 {
            m.0[w][n] = if perm[n] == w {
                signs[n] * spacing[n]
            } else {
                0.0
            };
        }
    }
    for (row, o) in m.0.iter_mut().zip(origin) {
        row[3] = o;
    }
    m
}

fn code(perm: [usize; 3], signs: [f64; 3]) -> String {
    (0..3)
        .map(|n| axis_letter(perm[n], signs[n] > 0.0))
        .collect()
}

#[test]
fn write_read_round_trip_in_every_orientation() {
    let dims = [6, 5, 4];
    let labels: Vec<u8> = (0..120).map(|i| (i * 7 % 5) as u8).collect();
    let floats: Vec<f32> = (0..120).map(|i| i as f32 * 0.5 - 3.0).collect();
    for (perm, signs) in all_orientations() {
        let affine = affine_for(perm, signs, [0.9, 1.2, 2.5], [-10.5, 20.25, 3.0]);
        let header = Header::from_affine(dims, Datatype::U8, &affine);
        let expected_code = code(perm, signs);
        for gzip in [false, true] {
            let v = read_bytes(&write_bytes(&header, &labels, gzip).expect("write")).expect("read");
            assert_eq!(v.orientation_code(), expected_code);
            assert!(
                v.world_from_voxel().max_abs_diff(&affine) < 1e-5,
                "{expected_code}"
            );
            // The qform written beside the sform must describe the same grid.
            assert!(
                v.header.qform_affine().max_abs_diff(&affine) < 1e-4,
                "{expected_code} qform"
            );
            assert_eq!(v.data, labels.iter().map(|&l| l as f32).collect::<Vec<_>>());
        }
        let v = read_bytes(&write_bytes(&header, &floats, true).expect("write")).expect("read");
        assert_eq!(v.data, floats);
        // Writing in the grid of a file read back keeps its geometry exactly.
        let again =
            read_bytes(&write_bytes(&v.header, &labels, true).expect("write")).expect("read");
        assert_eq!(again.world_from_voxel(), v.world_from_voxel());
        assert_eq!(again.header.qform_affine(), v.header.qform_affine());
    }
}

#[test]
fn writing_with_a_wrong_length_is_an_error_not_a_panic() {
    let header = Header::from_affine([2, 2, 2], Datatype::U8, &Affine::IDENTITY);
    let err = write_bytes(&header, &[0u8; 7], false).expect_err("7 voxels for 8");
    assert!(err.to_string().contains("7 voxels"), "{err}");
}

fn orientation() -> impl Strategy<Value = ([usize; 3], [f64; 3])> {
    (0usize..48).prop_map(|i| all_orientations()[i])
}

proptest! {
    #[test]
    fn reorientation_is_inverted_exactly(
        (perm, signs) in orientation(),
        dims in prop::array::uniform3(1usize..7),
        seed in any::<u32>(),
    ) {
        let n: usize = dims.iter().product();
        let data: Vec<u32> = (0..n as u32).map(|i| i.wrapping_mul(2654435761) ^ seed).collect();
        let affine = affine_for(perm, signs, [1.0, 2.0, 3.0], [5.0, -7.0, 11.0]);
        let map = AxisMap::to_canonical(&affine, dims);
        let canonical = map.canonical_from_native(&data);
        prop_assert_eq!(map.native_from_canonical_data(&canonical), data.clone());
        let world_from_canonical = map.world_from_canonical(&affine);
        prop_assert_eq!(world_from_canonical.orientation_code(), "RAS");
        // Every canonical voxel sits at the same world position as the native voxel it holds.
        let cd = map.canonical_dims();
        let native_from_canonical = map.native_from_canonical();
        for k in 0..cd[2] {
            for j in 0..cd[1] {
                for i in 0..cd[0] {
                    let c = [i as f64, j as f64, k as f64];
                    let nat = native_from_canonical.apply(c);
                    let ni = nat.map(|v| v.round() as usize);
                    let flat_native = ni[0] + dims[0] * (ni[1] + dims[1] * ni[2]);
                    prop_assert_eq!(canonical[i + cd[0] * (j + cd[1] * k)], data[flat_native]);
                    let a = world_from_canonical.apply(c);
                    let b = affine.apply(nat);
                    for w in 0..3 {
                        prop_assert!((a[w] - b[w]).abs() < 1e-9);
                    }
                }
            }
        }
    }

    #[test]
    fn orientation_code_survives_small_rotations(
        (perm, signs) in orientation(),
        angle in -0.3f64..0.3,
    ) {
        // A rotation of up to ~17° about z keeps the closest axes.
        let base = affine_for(perm, signs, [1.0, 1.0, 1.0], [0.0; 3]);
        let (s, c) = angle.sin_cos();
        let rot = Affine([[c, -s, 0.0, 0.0], [s, c, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]);
        prop_assert_eq!(rot.compose(&base).orientation_code(), code(perm, signs));
    }
}
