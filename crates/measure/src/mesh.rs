//! Surface meshes of label-map regions in world millimetres, for the 3-D view and for export
//! (`.stl`, `.obj`).
//!
//! A region's mask is smoothed by a Gaussian of `smoothing_mm` (per axis in voxels, so
//! anisotropic grids are smoothed evenly in mm) and its 0.5 level extracted with Naive Surface
//! Nets (one vertex per surface cell, at the mean of the edge crossings): the same idea as 3D
//! Slicer's closed-surface representation with smoothing. Vertices go to world RAS mm through
//! the affine; triangles are wound counter-clockwise seen from outside, for any handedness of
//! the grid.

use adamm_volume::Affine;
use fast_surface_nets::ndshape::{RuntimeShape, Shape};
use fast_surface_nets::{surface_nets, SurfaceNetsBuffer};

use crate::MeasureError;

/// A triangle mesh in world RAS millimetres.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mesh {
    /// Vertex positions, world RAS mm.
    pub positions: Vec<[f32; 3]>,
    /// Unit outward normals, one per vertex.
    pub normals: Vec<[f32; 3]>,
    /// Triangles as indices into `positions`, counter-clockwise seen from outside.
    pub triangles: Vec<[u32; 3]>,
}

/// The surface of `mask` (on the grid `dims`, x fastest, voxel-to-world `world_from_voxel`)
/// smoothed by a Gaussian of standard deviation `smoothing_mm` (0: none); empty for an empty
/// mask.
pub fn surface(
    mask: &[bool],
    dims: [usize; 3],
    world_from_voxel: &Affine,
    smoothing_mm: f64,
) -> Result<Mesh, MeasureError> {
    crate::check_grid(mask.len(), dims, world_from_voxel)?;
    // The mask's bounding box, grown by the smoothing's reach and a border of background.
    let mut lo = dims;
    let mut hi = [0usize; 3];
    for (i, _) in mask.iter().enumerate().filter(|(_, &m)| m) {
        let v = [
            i % dims[0],
            (i / dims[0]) % dims[1],
            i / (dims[0] * dims[1]),
        ];
        for a in 0..3 {
            lo[a] = lo[a].min(v[a]);
            hi[a] = hi[a].max(v[a]);
        }
    }
    if lo[0] > hi[0] {
        return Ok(Mesh::default());
    }
    let spacing = world_from_voxel.column_norms();
    let sigma = spacing.map(|s| if s > 0.0 { smoothing_mm / s } else { 0.0 });
    let pad = sigma.map(|s| (3.0 * s).ceil() as usize + 2);
    // Box corner (may lie outside the grid: padding is background) and size.
    let origin: [i64; 3] = [0, 1, 2].map(|a| lo[a] as i64 - pad[a] as i64);
    let size: [usize; 3] = [0, 1, 2].map(|a| hi[a] - lo[a] + 1 + 2 * pad[a]);
    let n = size.iter().product::<usize>();
    let mut field = vec![0.0f32; n];
    for z in 0..size[2] {
        for y in 0..size[1] {
            for x in 0..size[0] {
                let g = [x, y, z].map(|c| c as i64);
                let v: [i64; 3] = [0, 1, 2].map(|a| g[a] + origin[a]);
                let inside = (0..3).all(|a| v[a] >= 0 && (v[a] as usize) < dims[a]) && {
                    let [i, j, k] = v.map(|c| c as usize);
                    mask[i + dims[0] * (j + dims[1] * k)]
                };
                field[x + size[0] * (y + size[1] * z)] = f32::from(u8::from(inside));
            }
        }
    }
    for (axis, &s) in sigma.iter().enumerate() {
        if s > 0.0 {
            blur_axis(&mut field, size, axis, s);
        }
    }
    // Surface Nets: negative inside.
    let sdf: Vec<f32> = field.iter().map(|&f| 0.5 - f).collect();
    let shape = RuntimeShape::<u32, 3>::new(size.map(|s| s as u32));
    let mut buffer = SurfaceNetsBuffer::default();
    surface_nets(
        &sdf,
        &shape,
        [0; 3],
        size.map(|s| s as u32 - 1),
        &mut buffer,
    );
    debug_assert_eq!(shape.size() as usize, n);
    let to_world = |p: [f32; 3]| {
        let v = [0, 1, 2].map(|a| f64::from(p[a]) + origin[a] as f64);
        world_from_voxel.apply(v).map(|c| c as f32)
    };
    // Normals: the field's gradient direction (voxel space) through the affine's inverse
    // transpose, pointing out of the region.
    let linear = {
        let mut m = *world_from_voxel;
        for row in m.0.iter_mut().take(3) {
            row[3] = 0.0;
        }
        m.inverse().ok_or(MeasureError::Affine)?
    };
    let normal_to_world = |g: [f32; 3]| {
        let g = g.map(f64::from);
        // (A⁻¹)ᵀ g
        let w = [0, 1, 2].map(|c| (0..3).map(|r| linear.0[r][c] * g[r]).sum::<f64>());
        let len = (w[0] * w[0] + w[1] * w[1] + w[2] * w[2]).sqrt();
        if len > 0.0 {
            w.map(|c| (c / len) as f32)
        } else {
            [0.0; 3]
        }
    };
    let positions: Vec<[f32; 3]> = buffer.positions.iter().map(|&p| to_world(p)).collect();
    let normals: Vec<[f32; 3]> = buffer.normals.iter().map(|&g| normal_to_world(g)).collect();
    let mut triangles: Vec<[u32; 3]> = buffer
        .indices
        .chunks_exact(3)
        .map(|t| [t[0], t[1], t[2]])
        .collect();
    // Wind every triangle so that its face normal agrees with the outward vertex normals.
    let sub = |a: [f32; 3], b: [f32; 3]| [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
    for t in &mut triangles {
        let [a, b, c] = t.map(|i| positions[i as usize]);
        let (u, v) = (sub(b, a), sub(c, a));
        let face = [
            u[1] * v[2] - u[2] * v[1],
            u[2] * v[0] - u[0] * v[2],
            u[0] * v[1] - u[1] * v[0],
        ];
        let out: f32 = t
            .iter()
            .map(|&i| {
                let nv = normals[i as usize];
                face[0] * nv[0] + face[1] * nv[1] + face[2] * nv[2]
            })
            .sum();
        if out < 0.0 {
            t.swap(1, 2);
        }
    }
    Ok(Mesh {
        positions,
        normals,
        triangles,
    })
}

/// A Gaussian blur of standard deviation `sigma` voxels along one axis of a `size` grid.
fn blur_axis(field: &mut [f32], size: [usize; 3], axis: usize, sigma: f64) {
    let radius = (3.0 * sigma).ceil() as usize;
    let kernel: Vec<f32> = {
        let k: Vec<f64> = (0..=2 * radius)
            .map(|i| {
                let d = i as f64 - radius as f64;
                (-0.5 * d * d / (sigma * sigma)).exp()
            })
            .collect();
        let sum: f64 = k.iter().sum();
        k.iter().map(|v| (v / sum) as f32).collect()
    };
    let stride = match axis {
        0 => 1,
        1 => size[0],
        _ => size[0] * size[1],
    };
    let len = size[axis];
    let mut line = vec![0.0f32; len];
    for start in 0..field.len() {
        // Each line once: from the voxels whose coordinate along `axis` is 0.
        let coordinate = (start / stride) % len;
        if coordinate != 0 {
            continue;
        }
        for (i, l) in line.iter_mut().enumerate() {
            *l = field[start + i * stride];
        }
        for i in 0..len {
            let mut acc = 0.0f32;
            for (k, w) in kernel.iter().enumerate() {
                let j = i as i64 + k as i64 - radius as i64;
                if j >= 0 && (j as usize) < len {
                    acc += w * line[j as usize];
                }
            }
            field[start + i * stride] = acc;
        }
    }
}

impl Mesh {
    /// The volume the mesh encloses, mL (the divergence theorem over its triangles).
    pub fn volume_ml(&self) -> f64 {
        let mut six_v = 0.0f64;
        for t in &self.triangles {
            let [a, b, c] = t.map(|i| self.positions[i as usize].map(f64::from));
            six_v += a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0])
                + a[2] * (b[0] * c[1] - b[1] * c[0]);
        }
        six_v / 6.0 / 1000.0
    }

    /// A binary STL file of the mesh; the 80-byte header names it and its coordinate system
    /// (`SPACE=RAS`, which 3D Slicer reads).
    pub fn to_stl(&self, name: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(84 + 50 * self.triangles.len());
        let mut header = format!("AdaMM {name} mm SPACE=RAS").into_bytes();
        header.resize(80, b' ');
        out.extend_from_slice(&header);
        out.extend_from_slice(&(self.triangles.len() as u32).to_le_bytes());
        for t in &self.triangles {
            let [a, b, c] = t.map(|i| self.positions[i as usize]);
            let (u, v) = (
                [b[0] - a[0], b[1] - a[1], b[2] - a[2]],
                [c[0] - a[0], c[1] - a[1], c[2] - a[2]],
            );
            let n = [
                u[1] * v[2] - u[2] * v[1],
                u[2] * v[0] - u[0] * v[2],
                u[0] * v[1] - u[1] * v[0],
            ];
            let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
            let n = if len > 0.0 { n.map(|x| x / len) } else { n };
            for p in [n, a, b, c] {
                for x in p {
                    out.extend_from_slice(&x.to_le_bytes());
                }
            }
            out.extend_from_slice(&0u16.to_le_bytes());
        }
        out
    }

    /// The mesh as one named object of a Wavefront OBJ file whose vertices are numbered from
    /// `first_vertex` (1 for the first object of a file).
    pub fn to_obj_object(&self, name: &str, first_vertex: usize) -> String {
        let mut out = format!("o {name}\n");
        for p in &self.positions {
            out += &format!("v {:.3} {:.3} {:.3}\n", p[0], p[1], p[2]);
        }
        for n in &self.normals {
            out += &format!("vn {:.4} {:.4} {:.4}\n", n[0], n[1], n[2]);
        }
        for t in &self.triangles {
            let [a, b, c] = t.map(|i| i as usize + first_vertex);
            out += &format!("f {a}//{a} {b}//{b} {c}//{c}\n");
        }
        out
    }
}

/// A Wavefront OBJ file of named meshes (one object each), in world RAS mm, with the comment
/// 3D Slicer reads for the coordinate system.
pub fn obj_file(meshes: &[(&str, &Mesh)]) -> String {
    let mut out = String::from("# AdaMM surfaces, millimetres\n# SPACE=RAS\n");
    let mut first = 1;
    for (name, mesh) in meshes {
        out += &mesh.to_obj_object(name, first);
        first += mesh.positions.len();
    }
    out
}

/// Smoothing of the tumour regions' surfaces, mm.
pub const REGION_SMOOTHING_MM: f64 = 1.0;
/// Smoothing of the brain's surface, mm.
pub const BRAIN_SMOOTHING_MM: f64 = 2.0;

/// The surfaces a case is shown and exported with: WT, TC and ET of `labels` (internal labels)
/// and, when given, the brain (`brain`, a mask on the same grid), each named, empty regions
/// left out.
pub fn case_meshes(
    labels: &[u8],
    dims: [usize; 3],
    world_from_voxel: &Affine,
    brain: Option<&[bool]>,
) -> Result<Vec<(String, Mesh)>, MeasureError> {
    let mut out = Vec::new();
    if let Some(brain) = brain {
        let mesh = surface(brain, dims, world_from_voxel, BRAIN_SMOOTHING_MM)?;
        if !mesh.triangles.is_empty() {
            out.push(("brain".to_owned(), mesh));
        }
    }
    for region in adamm_volume::brats::Region::ALL {
        let mask: Vec<bool> = labels.iter().map(|&l| region.contains(l)).collect();
        let mesh = surface(&mask, dims, world_from_voxel, REGION_SMOOTHING_MM)?;
        if !mesh.triangles.is_empty() {
            out.push((region.name().to_owned(), mesh));
        }
    }
    Ok(out)
}
