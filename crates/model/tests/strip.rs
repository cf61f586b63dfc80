//! The brain-extraction network: size, shapes, weights files, and the way to its grid and back.

mod common;

use adamm_model::burn::tensor::Device;
use adamm_model::strip_input::StripInput;
use adamm_model::{
    prepare_strip_input, LoadedStudent, ModelError, Precision, StripGrid, StripNet, StripNetConfig,
    Student,
};
use adamm_volume::nifti_io::{Datatype, Header};
use adamm_volume::{Affine, Volume};
use common::{input, tiny, values};

#[test]
fn parameter_count_and_half_precision_file_size() {
    let device = Device::flex();
    let net = StripNetConfig::new().init(&device).unwrap();
    let params = net.parameters();
    assert_eq!(params, 248_273, "update the documented count in strip.rs");
    assert!((100_000..=300_000).contains(&params), "{params}");
    let bytes = net.to_bytes(Precision::F16, StripGrid::default()).unwrap();
    assert!(bytes.len() < 2 << 20, "{} bytes", bytes.len());
    // f16: about two bytes a parameter plus metadata.
    assert!(bytes.len() < 3 * params, "{} bytes", bytes.len());
}

#[test]
fn forward_shapes_with_and_without_padding() {
    let device = Device::flex();
    let net = StripNetConfig::new().init(&device).unwrap();
    let out = net.forward(input([2, 1, 16, 24, 8], 3, &device));
    assert_eq!(out.dims(), [2, 1, 16, 24, 8]);
    // Not multiples of 8: padded inside, cropped back.
    let p = net.brain_probability(input([1, 1, 10, 13, 7], 4, &device));
    assert_eq!(p.dims(), [1, 1, 10, 13, 7]);
    let v = values(p);
    assert!(v.iter().all(|&x| (0.0..=1.0).contains(&x)));
    let three = StripNetConfig::new().with_levels(3).init(&device).unwrap();
    assert_eq!(
        three.forward(input([1, 1, 12, 8, 4], 5, &device)).dims(),
        [1, 1, 12, 8, 4]
    );
    assert!(StripNetConfig::new().with_groups(3).init(&device).is_err());
}

#[test]
fn save_load_round_trip_and_recorded_grid() {
    let device = Device::flex();
    let config = StripNetConfig::new().with_levels(3);
    let net = config.init(&device).unwrap();
    let grid = StripGrid {
        dims: [32, 48, 40],
        voxel_mm: 2.0,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strip.bpk");
    net.save(&path, Precision::F32, grid).unwrap();
    let (back, back_grid) = StripNet::load_any(&path, &device).unwrap();
    assert_eq!(back.config, config);
    assert_eq!(back_grid, grid);
    let x = input([1, 1, 8, 8, 8], 9, &device);
    assert_eq!(
        values(net.forward(x.clone())),
        values(back.forward(x.clone()))
    );
    // Half precision: close, not equal.
    let half = net.to_bytes(Precision::F16, grid).unwrap();
    let (h, _) = StripNet::from_bytes_any(&half, &device).unwrap();
    let a = values(net.brain_probability(x.clone()));
    let b = values(h.brain_probability(x));
    assert!(common::max_abs_diff(&a, &b) < 1e-2);
    // Another configuration is refused.
    let other = StripNetConfig::new();
    assert!(matches!(
        StripNet::from_bytes(
            &other,
            &net.to_bytes(Precision::F32, grid).unwrap(),
            &device
        ),
        Err(ModelError::WeightsMismatch(_))
    ));
}

#[test]
fn wrong_kind_files_are_refused_with_a_specific_message() {
    let device = Device::flex();
    let student = tiny().init_student(&device).unwrap();
    let student_bytes = student.to_bytes(Precision::F32).unwrap();
    let e = StripNet::from_bytes_any(&student_bytes, &device).unwrap_err();
    assert!(
        matches!(e, ModelError::NotAStripper(ref k) if k == "student"),
        "{e}"
    );
    let text = e.to_string();
    assert!(
        text.contains("not a brain-extraction network") && text.contains("adamm train-strip"),
        "{text}"
    );

    let net = StripNetConfig::new().with_levels(3).init(&device).unwrap();
    let strip_bytes = net.to_bytes(Precision::F16, StripGrid::default()).unwrap();
    let e = LoadedStudent::from_bytes(&strip_bytes, &device)
        .err()
        .unwrap();
    assert!(matches!(e, ModelError::BrainExtractionModel), "{e}");
    assert!(e.to_string().contains("adamm strip"), "{e}");
    let e = Student::from_bytes(&tiny(), &strip_bytes, &device).unwrap_err();
    assert!(matches!(e, ModelError::BrainExtractionModel), "{e}");
}

/// An oblique grid of 1 × 1 × 3 mm: rotated 30° about z and 15° about x, voxel `centre_voxel`
/// at world `centre`.
// Matrix products by index read more plainly than iterator chains here.
#[allow(clippy::needless_range_loop)]
fn oblique(centre_voxel: [f64; 3], centre: [f64; 3]) -> Affine {
    let (a, b) = (30f64.to_radians(), 15f64.to_radians());
    let rz = [
        [a.cos(), -a.sin(), 0.0],
        [a.sin(), a.cos(), 0.0],
        [0.0, 0.0, 1.0],
    ];
    let rx = [
        [1.0, 0.0, 0.0],
        [0.0, b.cos(), -b.sin()],
        [0.0, b.sin(), b.cos()],
    ];
    let spacing = [1.0, 1.0, 3.0];
    let mut m = Affine::IDENTITY;
    for i in 0..3 {
        for j in 0..3 {
            let r: f64 = (0..3).map(|k| rz[i][k] * rx[k][j]).sum();
            m.0[i][j] = r * spacing[j];
        }
    }
    for i in 0..3 {
        let rv: f64 = (0..3).map(|j| m.0[i][j] * centre_voxel[j]).sum();
        m.0[i][3] = centre[i] - rv;
    }
    m
}

fn volume_from(dims: [usize; 3], affine: &Affine, f: impl Fn([f64; 3]) -> f32) -> Volume {
    let [nx, ny, nz] = dims;
    let mut data = Vec::with_capacity(nx * ny * nz);
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                data.push(f(affine.apply([x as f64, y as f64, z as f64])));
            }
        }
    }
    Volume::new(data, Header::from_affine(dims, Datatype::F32, affine)).expect("volume")
}

const HEAD_CENTRE: [f64; 3] = [10.0, -20.0, 5.0];
const BOX_OFFSET: [f64; 3] = [20.0, -10.0, 16.0];

fn inside_box(w: [f64; 3], centre: [f64; 3], half: f64) -> bool {
    (0..3).all(|a| (w[a] - centre[a]).abs() <= half)
}

#[test]
fn oblique_scan_lands_centred_and_a_box_where_expected() {
    let dims = [180, 180, 60];
    let affine = oblique([89.5, 89.5, 29.5], HEAD_CENTRE);
    let box_centre: [f64; 3] = std::array::from_fn(|a| HEAD_CENTRE[a] + BOX_OFFSET[a]);
    let scan = volume_from(dims, &affine, |w| {
        let r2: f64 = (0..3).map(|a| (w[a] - HEAD_CENTRE[a]).powi(2)).sum();
        if inside_box(w, box_centre, 20.0) {
            200.0
        } else if r2 <= 70.0 * 70.0 {
            100.0
        } else {
            0.0
        }
    });
    let grid = StripGrid::default();
    let prepared = prepare_strip_input(&scan, grid).unwrap();
    // The foreground (the sphere) is centred on its centre.
    for (got, want) in prepared.centre.iter().zip(HEAD_CENTRE) {
        assert!((got - want).abs() < 1.0, "{:?}", prepared.centre);
    }
    // RAS 2 mm axes.
    let m = prepared.grid.world_from_voxel;
    assert_eq!([m.0[0][0], m.0[1][1], m.0[2][2]], [2.0, 2.0, 2.0]);
    assert!(prepared.image.iter().all(|v| (0.0..=1.0).contains(v)));
    // The box (the brightest 4.5 %) maps to 1, the sphere to 0; its centroid is at the grid
    // centre plus the offset in 2 mm voxels.
    let [nx, ny, _] = grid.dims;
    let mut sum = [0.0; 3];
    let mut n = 0.0;
    for (i, &v) in prepared.image.iter().enumerate() {
        if v > 0.5 {
            sum[0] += (i % nx) as f64;
            sum[1] += ((i / nx) % ny) as f64;
            sum[2] += (i / (nx * ny)) as f64;
            n += 1.0;
        }
    }
    let expected: [f64; 3] =
        std::array::from_fn(|a| (grid.dims[a] as f64 - 1.0) / 2.0 + BOX_OFFSET[a] / 2.0);
    for a in 0..3 {
        let got = sum[a] / n;
        assert!(
            (got - expected[a]).abs() < 0.75,
            "axis {a}: {got} vs {}",
            expected[a]
        );
    }
    // 40 mm box = 20³ voxels of 2 mm.
    assert!((n - 8000.0).abs() < 800.0, "{n}");
}

#[test]
fn a_mask_on_the_network_grid_goes_back_onto_an_oblique_grid() {
    let grid = StripGrid::default();
    let centre = [3.0, -7.0, 12.0];
    let prepared = StripInput {
        grid: adamm_volume::regrid::TargetGrid {
            dims: grid.dims,
            world_from_voxel: grid.world_from_voxel(centre),
        },
        image: Vec::new(),
        centre,
    };
    // A box of voxels [30, 60) × [40, 70) × [35, 55) on the 2 mm grid, with a hole inside.
    let [nx, ny, nz] = grid.dims;
    let (lo, hi) = ([30usize, 40, 35], [60usize, 70, 55]);
    let mut p = vec![0.0f32; nx * ny * nz];
    for z in lo[2]..hi[2] {
        for y in lo[1]..hi[1] {
            for x in lo[0]..hi[0] {
                let hole = (44..47).contains(&x) && (54..57).contains(&y) && (44..46).contains(&z);
                p[x + nx * (y + ny * z)] = if hole { 0.0 } else { 1.0 };
            }
        }
    }
    // A stray blob far away, which is not the largest component.
    p[5 + nx * (5 + ny * 5)] = 1.0;
    // World extent of the box: voxel faces at index − 0.5 and hi − 0.5.
    let w = prepared.grid.world_from_voxel;
    let wlo = w.apply(lo.map(|v| v as f64 - 0.5));
    let whi = w.apply(hi.map(|v| v as f64 - 0.5));
    let dims = [160, 170, 50];
    let affine = oblique([79.5, 84.5, 24.5], centre);
    let header = Header::from_affine(dims, Datatype::F32, &affine);
    let mask = prepared.mask_to_native(&p, &header).unwrap();
    let [mx, my, _] = dims;
    let (mut wrong, mut inside) = (0usize, 0usize);
    for (i, &m) in mask.iter().enumerate() {
        let v = [
            (i % mx) as f64,
            ((i / mx) % my) as f64,
            (i / (mx * my)) as f64,
        ];
        let q = affine.apply(v);
        let deep = (0..3).all(|a| q[a] > wlo[a] + 2.5 && q[a] < whi[a] - 2.5);
        let far = (0..3).any(|a| q[a] < wlo[a] - 2.5 || q[a] > whi[a] + 2.5);
        inside += usize::from(m);
        if (deep && !m) || (far && m) {
            wrong += 1;
        }
    }
    assert_eq!(wrong, 0);
    // 60 × 60 × 40 mm = 144 mL, in voxels of 3 mm³.
    let ml = inside as f64 * 3.0 / 1000.0;
    assert!((ml - 144.0).abs() < 10.0, "{ml} mL");
}
