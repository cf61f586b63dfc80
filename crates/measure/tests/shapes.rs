//! RANO diameters and region statistics against shapes built by hand with known sizes, on
//! isotropic, anisotropic, permuted and oblique grids.

use adamm_measure::{measure_rano, region_stats, Hemisphere, MeasureError};
use adamm_volume::brats::label;
use adamm_volume::Affine;

/// A grid whose voxel `(i, j, k)` sits at `world_from_voxel · (i, j, k)`, labelled by `f` at
/// each voxel centre's world position.
fn rasterise(dims: [usize; 3], a: &Affine, f: impl Fn([f64; 3]) -> u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(dims.iter().product());
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            for i in 0..dims[0] {
                out.push(f(a.apply([i as f64, j as f64, k as f64])));
            }
        }
    }
    out
}

fn spacing(s: [f64; 3], origin: [f64; 3]) -> Affine {
    let mut a = Affine::from_spacing(s);
    for (row, o) in a.0.iter_mut().zip(origin) {
        row[3] = o;
    }
    a
}

fn rotation(axis: usize, degrees: f64) -> Affine {
    let (c, s) = (degrees.to_radians().cos(), degrees.to_radians().sin());
    let (p, q) = match axis {
        0 => (1, 2),
        1 => (2, 0),
        _ => (0, 1),
    };
    let mut m = Affine::IDENTITY;
    m.0[p][p] = c;
    m.0[p][q] = -s;
    m.0[q][p] = s;
    m.0[q][q] = c;
    m
}

/// An elliptic cylinder along world z (|z| ≤ half_height) with semi-axes `a` along the
/// direction `degrees` from +x and `b` across it.
fn elliptic_cylinder(a: f64, b: f64, degrees: f64, half_height: f64) -> impl Fn([f64; 3]) -> u8 {
    let (c, s) = (degrees.to_radians().cos(), degrees.to_radians().sin());
    move |p| {
        let u = p[0] * c + p[1] * s;
        let v = -p[0] * s + p[1] * c;
        u8::from((u / a).powi(2) + (v / b).powi(2) <= 1.0 && p[2].abs() <= half_height) * label::ET
    }
}

/// Digitisation: edges of voxels whose centres sample a shape lie up to half a voxel outside it
/// at each end, or inside it: a 1 mm grid measures within a voxel's diagonal, √2 mm.
const TOLERANCE: f64 = 1.42;

fn angle_of(d: &adamm_measure::Diameter) -> f64 {
    let dx = d.to_mm[0] - d.from_mm[0];
    let dy = d.to_mm[1] - d.from_mm[1];
    // Undirected: fold into [0, 180).
    dy.atan2(dx).to_degrees().rem_euclid(180.0)
}

#[test]
fn an_ellipse_on_a_one_mm_grid_measures_its_axes() {
    let dims = [64, 64, 9];
    let a = spacing([1.0, 1.0, 1.0], [-32.0, -32.0, -4.0]);
    let labels = rasterise(dims, &a, elliptic_cylinder(15.0, 8.0, 30.0, 3.0));
    let r = measure_rano(&labels, dims, &a).unwrap();
    assert_eq!(r.region.as_deref(), Some("ET"));
    assert_eq!(r.axial_axis, 2);
    assert_eq!(r.lesions.len(), 1);
    let l = &r.lesions[0];
    // Edge to edge: the true 30 × 16 mm within a voxel.
    assert!((l.longest.length_mm - 30.0).abs() <= TOLERANCE, "{l:?}");
    assert!(
        (l.perpendicular.length_mm - 16.0).abs() <= TOLERANCE,
        "{l:?}"
    );
    assert!(
        (angle_of(&l.longest) - 30.0).abs() <= 4.0,
        "{}",
        angle_of(&l.longest)
    );
    // The two diameters are at right angles.
    let turn = (angle_of(&l.perpendicular) - angle_of(&l.longest)).rem_euclid(180.0);
    assert!((turn - 90.0).abs() <= 1e-6, "{turn}");
    assert_eq!(l.slices, 7);
    assert!(l.measurable);
    assert!((r.sum_of_products_mm2 - l.product_mm2).abs() < 1e-9);
    assert!((l.product_mm2 - l.longest.length_mm * l.perpendicular.length_mm).abs() < 1e-9);
    // Its ends lie on the slice it is measured on, in voxel and world coordinates alike.
    assert_eq!(l.longest.from_voxel[2], l.slice as f64);
    let w = a.apply(l.longest.from_voxel);
    assert!((0..3).all(|i| (w[i] - l.longest.from_mm[i]).abs() < 1e-9));
    // Volume: π·15·8 mm² × 7 slices of 1 mm, within the digitisation.
    let expected = std::f64::consts::PI * 15.0 * 8.0 * 7.0 / 1000.0;
    assert!(
        (l.volume_ml - expected).abs() / expected < 0.05,
        "{}",
        l.volume_ml
    );
}

#[test]
fn anisotropic_and_permuted_grids_give_the_same_millimetres() {
    let shape = || elliptic_cylinder(15.0, 8.0, 30.0, 6.0);
    // 0.5 × 1.2 mm in plane, 4 mm slices.
    let dims = [128, 54, 5];
    let a = spacing([0.5, 1.2, 4.0], [-32.0, -32.0, -8.0]);
    let r = measure_rano(&rasterise(dims, &a, shape()), dims, &a).unwrap();
    let l = &r.lesions[0];
    assert!((l.longest.length_mm - 30.0).abs() <= 1.2, "{l:?}");
    assert!((l.perpendicular.length_mm - 16.0).abs() <= 1.2, "{l:?}");
    // Stored coronally, as some scanners write it: voxel axis 1 runs inferior, axis 2
    // anterior. The axial slices are found across voxel axis 1.
    let coronal = Affine([
        [1.0, 0.0, 0.0, -32.0],
        [0.0, 0.0, 1.0, -32.0],
        [0.0, -2.0, 0.0, 8.0],
        [0.0, 0.0, 0.0, 1.0],
    ]);
    let dims = [64, 9, 64];
    let r = measure_rano(&rasterise(dims, &coronal, shape()), dims, &coronal).unwrap();
    assert_eq!(r.axial_axis, 1);
    let l = &r.lesions[0];
    assert!((l.longest.length_mm - 30.0).abs() <= TOLERANCE, "{l:?}");
    assert!(
        (l.perpendicular.length_mm - 16.0).abs() <= TOLERANCE,
        "{l:?}"
    );
    assert!((angle_of(&l.longest) - 30.0).abs() <= 4.0);
}

#[test]
fn a_sphere_on_an_oblique_grid_measures_its_diameter() {
    // 0.8 × 0.8 × 2 mm voxels, the grid turned 25° about x and 15° about z.
    let a = rotation(2, 15.0)
        .compose(&rotation(0, 25.0))
        .compose(&spacing([0.8, 0.8, 2.0], [-40.0, -40.0, -40.0]));
    let world_from_voxel = {
        let mut m = a;
        // Centre the grid on the sphere.
        let c = m.apply([50.0, 50.0, 20.0]);
        for (row, o) in m.0.iter_mut().zip(c) {
            row[3] -= o;
        }
        m
    };
    let dims = [100, 100, 40];
    let labels = rasterise(dims, &world_from_voxel, |p| {
        u8::from(p.iter().map(|v| v * v).sum::<f64>() <= 144.0) * label::ET
    });
    let r = measure_rano(&labels, dims, &world_from_voxel).unwrap();
    assert_eq!(r.axial_axis, 2);
    let l = &r.lesions[0];
    // 24 mm across; the best slice is at most 1 mm off the centre.
    assert!((l.longest.length_mm - 24.0).abs() <= 1.2, "{l:?}");
    assert!((l.perpendicular.length_mm - 24.0).abs() <= 1.6, "{l:?}");
    let expected = 4.0 / 3.0 * std::f64::consts::PI * 1728.0 / 1000.0;
    assert!(
        (l.volume_ml - expected).abs() / expected < 0.05,
        "{}",
        l.volume_ml
    );
}

#[test]
fn only_lesions_of_ten_by_ten_mm_on_two_slices_are_measurable() {
    let dims = [80, 40, 6];
    let a = spacing([1.0, 1.0, 2.0], [0.0, 0.0, 0.0]);
    let labels = rasterise(dims, &a, |p| {
        let disc = |cx: f64, r: f64| (p[0] - cx).powi(2) + (p[1] - 20.0).powi(2) <= r * r;
        // 20 mm across on 4 slices, 6 mm across, and 16 mm across on one slice only.
        let big = disc(20.0, 10.0) && p[2] <= 6.0;
        let small = disc(50.0, 3.0) && p[2] <= 6.0;
        let flat = disc(68.0, 8.0) && p[2] == 10.0;
        if big || small || flat {
            label::ET
        } else {
            0
        }
    });
    let r = measure_rano(&labels, dims, &a).unwrap();
    assert_eq!(r.lesions.len(), 3);
    // Largest product first.
    assert!(r.lesions[0].product_mm2 > r.lesions[1].product_mm2);
    assert!(r.lesions[1].product_mm2 > r.lesions[2].product_mm2);
    let [big, single, small] = [&r.lesions[0], &r.lesions[1], &r.lesions[2]];
    assert!(big.measurable && (big.longest.length_mm - 20.0).abs() <= TOLERANCE);
    assert_eq!(single.slices, 1);
    assert!(!single.measurable && single.longest.length_mm >= 10.0);
    assert!(!small.measurable && small.longest.length_mm < 10.0);
    assert_eq!(r.measurable, 1);
    assert!((r.sum_of_products_mm2 - big.product_mm2).abs() < 1e-9);
    let text = r.describe().join("\n");
    assert!(text.contains("3 lesion(s), 1 measurable"), "{text}");
    assert!(text.contains("not measurable"), "{text}");
}

#[test]
fn a_ring_is_measured_across_its_cavity_and_tc_stands_in_for_missing_et() {
    let dims = [50, 50, 5];
    let a = spacing([1.0, 1.0, 1.0], [-25.0, -25.0, -2.0]);
    let ring = |p: [f64; 3]| {
        let r2 = p[0] * p[0] + p[1] * p[1];
        if r2 <= 100.0 {
            label::NETC
        } else if r2 <= 196.0 {
            label::ET
        } else if r2 <= 400.0 {
            label::SNFH
        } else {
            0
        }
    };
    let labels = rasterise(dims, &a, ring);
    let r = measure_rano(&labels, dims, &a).unwrap();
    assert_eq!(r.region.as_deref(), Some("ET"));
    let l = &r.lesions[0];
    assert!((l.longest.length_mm - 28.0).abs() <= TOLERANCE, "{l:?}");
    assert!(
        (l.perpendicular.length_mm - 28.0).abs() <= TOLERANCE,
        "{l:?}"
    );
    // Without enhancement, the core (NETC) is measured.
    let no_et: Vec<u8> = labels
        .iter()
        .map(|&v| if v == label::ET { label::SNFH } else { v })
        .collect();
    let r = measure_rano(&no_et, dims, &a).unwrap();
    assert_eq!(r.region.as_deref(), Some("TC"));
    assert!((r.lesions[0].longest.length_mm - 20.0).abs() <= TOLERANCE);
    // Edema alone has nothing to measure.
    let edema: Vec<u8> = labels
        .iter()
        .map(|&v| u8::from(v > 0) * label::SNFH)
        .collect();
    let r = measure_rano(&edema, dims, &a).unwrap();
    assert_eq!(r.region, None);
    assert!(r.lesions.is_empty() && r.sum_of_products_mm2 == 0.0);
}

#[test]
fn bad_input_is_refused() {
    let a = Affine::IDENTITY;
    assert!(matches!(
        measure_rano(&[0; 7], [2, 2, 2], &a),
        Err(MeasureError::Length { expected: 8, .. })
    ));
    let mut singular = Affine::IDENTITY;
    singular.0[2][2] = 0.0;
    assert_eq!(
        measure_rano(&[0; 8], [2, 2, 2], &singular),
        Err(MeasureError::Affine)
    );
    let err = region_stats(&[0; 8], [2, 2, 2], &a, Some(&[true; 7]), &[]).unwrap_err();
    assert!(err.to_string().contains("brain mask"), "{err}");
    let err = region_stats(&[0; 8], [2, 2, 2], &a, None, &[("FLAIR", &[0.0; 9])]).unwrap_err();
    assert!(err.to_string().contains("FLAIR"), "{err}");
}

#[test]
fn region_statistics_of_two_boxes() {
    // 2 × 1 × 3 mm voxels. The brain fills x in [0, 40) voxels (80 mm): midline at x = 79 mm.
    let dims = [40, 20, 10];
    let a = spacing([2.0, 1.0, 3.0], [0.0, 0.0, 0.0]);
    let mut labels = vec![0u8; 8000];
    let at = |i: usize, j: usize, k: usize| i + 40 * (j + 20 * k);
    // ET: a 3 × 4 × 2 box at voxels x 30..33 (right of the midline); edema: 2 × 2 × 2 at x 5..7.
    for k in 2..4 {
        for j in 4..8 {
            for i in 30..33 {
                labels[at(i, j, k)] = label::ET;
            }
        }
        for j in 0..2 {
            for i in 5..7 {
                labels[at(i, j, k)] = label::SNFH;
            }
        }
    }
    let brain = vec![true; 8000];
    let flair: Vec<f32> = (0..8000).map(|i| (i % 40) as f32).collect();
    let stats = region_stats(&labels, dims, &a, Some(&brain), &[("FLAIR", &flair)]).unwrap();
    let [wt, tc, et] = [&stats[0], &stats[1], &stats[2]];
    assert_eq!([&wt.region, &tc.region, &et.region], ["WT", "TC", "ET"]);
    // A voxel is 6 mm³: ET 24 voxels = 0.144 mL; WT adds 8.
    assert!((et.volume_ml - 0.144).abs() < 1e-12);
    assert!((wt.volume_ml - 0.192).abs() < 1e-12);
    assert_eq!((wt.lesions, tc.lesions, et.lesions), (2, 1, 1));
    let c = et.centroid_mm.unwrap();
    assert!((c[0] - 62.0).abs() < 1e-9 && (c[1] - 5.5).abs() < 1e-9 && (c[2] - 7.5).abs() < 1e-9);
    // +x is the patient's right in RAS.
    let side = et.side.unwrap();
    assert_eq!(side.hemisphere, Hemisphere::Right);
    assert!(
        (side.from_midline_mm - (62.0 - 39.0)).abs() < 1e-9,
        "{side:?}"
    );
    assert_eq!(side.across_midline, 0.0);
    assert_eq!(wt.side.unwrap().across_midline, 8.0 / 32.0);
    assert_eq!(et.mean_intensity, vec![("FLAIR".to_owned(), 31.0)]);
    assert!(
        et.describe().contains("right hemisphere"),
        "{}",
        et.describe()
    );
    // Without a brain there is no side; an empty region has no centroid.
    let stats = region_stats(&labels, dims, &a, None, &[]).unwrap();
    assert!(stats[0].side.is_none());
    let none = region_stats(&[0; 8000], dims, &a, Some(&brain), &[]).unwrap();
    assert!(none[2].centroid_mm.is_none() && none[2].side.is_none() && none[2].lesions == 0);
    // And it serialises for --json.
    let json = serde_json::to_string(&stats).unwrap();
    assert!(json.contains("\"region\":\"ET\""), "{json}");
}
