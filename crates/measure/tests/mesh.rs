//! Surfaces of hand-built masks: where they lie in world mm, the volume they enclose, outward
//! winding on grids of either handedness, and the files written.

use adamm_measure::{obj_file, surface};
use adamm_volume::Affine;

fn sphere(dims: [usize; 3], a: &Affine, centre: [f64; 3], radius: f64) -> Vec<bool> {
    let mut m = Vec::new();
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            for i in 0..dims[0] {
                let p = a.apply([i as f64, j as f64, k as f64]);
                let d2: f64 = (0..3).map(|c| (p[c] - centre[c]).powi(2)).sum();
                m.push(d2 <= radius * radius);
            }
        }
    }
    m
}

fn check_sphere(a: &Affine, dims: [usize; 3]) {
    let centre = a.apply([
        dims[0] as f64 / 2.0,
        dims[1] as f64 / 2.0,
        dims[2] as f64 / 2.0,
    ]);
    let mask = sphere(dims, a, centre, 10.0);
    let mesh = surface(&mask, dims, a, 1.0).expect("a surface");
    assert!(mesh.triangles.len() > 500, "{}", mesh.triangles.len());
    // Every vertex within a voxel of the sphere, in world mm.
    for p in &mesh.positions {
        let r = (0..3)
            .map(|c| (f64::from(p[c]) - centre[c]).powi(2))
            .sum::<f64>()
            .sqrt();
        assert!((r - 10.0).abs() < 1.6, "vertex at radius {r}");
    }
    // Outward winding whatever the grid's handedness: the enclosed volume is positive and
    // close to 4/3 π r³ (smoothing shrinks it a little).
    let expected = 4.0 / 3.0 * std::f64::consts::PI * 1000.0 / 1000.0;
    let v = mesh.volume_ml();
    assert!(
        (v - expected).abs() / expected < 0.08,
        "{v} mL, expected {expected}"
    );
    // Normals point away from the centre.
    let outward = mesh
        .positions
        .iter()
        .zip(&mesh.normals)
        .filter(|(p, n)| {
            (0..3)
                .map(|c| (f64::from(p[c]) - centre[c]) * f64::from(n[c]))
                .sum::<f64>()
                > 0.0
        })
        .count();
    assert!(outward as f64 > 0.99 * mesh.positions.len() as f64);
}

#[test]
fn a_sphere_on_an_isotropic_grid() {
    check_sphere(&Affine::from_spacing([1.0, 1.0, 1.0]), [32, 32, 32]);
}

#[test]
fn a_sphere_on_a_left_handed_anisotropic_oblique_grid() {
    // LAS, 0.8 × 0.8 × 2 mm, turned 20° about z, offset.
    let (c, s) = (20f64.to_radians().cos(), 20f64.to_radians().sin());
    let a = Affine([
        [-0.8 * c, -0.8 * s, 0.0, 40.0],
        [-0.8 * s, 0.8 * c, 0.0, -30.0],
        [0.0, 0.0, 2.0, 12.0],
        [0.0, 0.0, 0.0, 1.0],
    ]);
    assert!(a.det3() < 0.0);
    check_sphere(&a, [40, 40, 16]);
}

#[test]
fn empty_masks_and_files() {
    let a = Affine::IDENTITY;
    assert!(surface(&[false; 27], [3, 3, 3], &a, 1.0)
        .unwrap()
        .triangles
        .is_empty());
    assert!(surface(&[false; 26], [3, 3, 3], &a, 1.0).is_err());
    let mut m = vec![false; 512];
    for k in 3..5 {
        for j in 3..5 {
            for i in 3..5 {
                m[i + 8 * (j + 8 * k)] = true;
            }
        }
    }
    let mesh = surface(&m, [8, 8, 8], &a, 0.0).unwrap();
    let stl = mesh.to_stl("ET");
    assert_eq!(stl.len(), 84 + 50 * mesh.triangles.len());
    assert!(std::str::from_utf8(&stl[..80])
        .unwrap()
        .contains("SPACE=RAS"));
    assert_eq!(
        u32::from_le_bytes([stl[80], stl[81], stl[82], stl[83]]) as usize,
        mesh.triangles.len()
    );
    let obj = obj_file(&[("ET", &mesh), ("TC", &mesh)]);
    assert!(obj.contains("SPACE=RAS") && obj.contains("o ET") && obj.contains("o TC"));
    let faces: Vec<&str> = obj.lines().filter(|l| l.starts_with("f ")).collect();
    assert_eq!(faces.len(), 2 * mesh.triangles.len());
    // The second object's faces index its own vertices.
    let last: usize = faces[faces.len() - 1]
        .split(['/', ' '])
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(last > mesh.positions.len() && last <= 2 * mesh.positions.len());
}
