//! A PNG montage of generated heads (`adamm_synth::head`): per head an axial, a coronal and a
//! sagittal slice through the brain, the brain mask's outline in red — or, with `--labels`,
//! the head label maps themselves (the training heads and the held-out one).
//!
//! `cargo run --release -p adamm-synth --example head_montage -- OUT.png [COUNT] [SEED]`
//! `cargo run --release -p adamm-synth --example head_montage -- --labels OUT.png`
//!
//! Generated heads cycle through the training heads; each row gives its anatomy, contrast
//! order and the time it took to generate.

use std::path::Path;
use std::time::Instant;

use adamm_synth::case_seed;
use adamm_synth::head::{generate_head, HeadAnatomy, HeadOptions, HEAD_LABELS, TRAINING_HEADS};
use anyhow::{Context, Result};

/// Colours of the head labels (air, CSF, GM, WM, fluid, bone, soft tissue, fat).
const COLOURS: [[u8; 3]; HEAD_LABELS] = [
    [0, 0, 0],
    [40, 90, 230],
    [150, 150, 150],
    [240, 240, 240],
    [60, 200, 230],
    [230, 210, 120],
    [200, 80, 80],
    [250, 170, 40],
];

/// An RGB canvas.
struct Canvas {
    width: usize,
    height: usize,
    data: Vec<u8>,
}

impl Canvas {
    fn new(width: usize, height: usize) -> Canvas {
        Canvas {
            width,
            height,
            data: vec![20; width * height * 3],
        }
    }

    fn put(&mut self, x: usize, y: usize, c: [u8; 3]) {
        if x < self.width && y < self.height {
            let o = 3 * (x + self.width * y);
            self.data[o..o + 3].copy_from_slice(&c);
        }
    }

    fn write(&self, path: &Path) -> Result<()> {
        let file =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut enc = png::Encoder::new(
            std::io::BufWriter::new(file),
            self.width as u32,
            self.height as u32,
        );
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header()?;
        writer.write_image_data(&self.data)?;
        writer.finish()?;
        Ok(())
    }
}

/// The three slices through voxel `c` of a RAS grid of `dims`, as (width, height, voxel index
/// of each pixel, superior / anterior up): axial (x across, y up), coronal (x across, z up),
/// sagittal (y across, z up).
fn slices(dims: [usize; 3], c: [usize; 3]) -> Vec<(usize, usize, Vec<usize>)> {
    let idx = |x: usize, y: usize, z: usize| x + dims[0] * (y + dims[1] * z);
    let mut out = Vec::new();
    let (w, h) = (dims[0], dims[1]);
    out.push((
        w,
        h,
        (0..w * h)
            .map(|p| idx(p % w, h - 1 - p / w, c[2]))
            .collect(),
    ));
    let (w, h) = (dims[0], dims[2]);
    out.push((
        w,
        h,
        (0..w * h)
            .map(|p| idx(p % w, c[1], h - 1 - p / w))
            .collect(),
    ));
    let (w, h) = (dims[1], dims[2]);
    out.push((
        w,
        h,
        (0..w * h)
            .map(|p| idx(c[0], p % w, h - 1 - p / w))
            .collect(),
    ));
    out
}

/// Draws `slices` in a row at `(x0, y0)`, each pixel `zoom` × `zoom`, coloured by `colour`
/// (of the voxel index); returns the row's height.
fn draw_row(
    canvas: &mut Canvas,
    x0: usize,
    y0: usize,
    zoom: usize,
    slices: &[(usize, usize, Vec<usize>)],
    colour: impl Fn(usize, &[usize], usize, usize, usize) -> [u8; 3],
) -> usize {
    let mut x = x0;
    let mut tallest = 0;
    for (w, h, voxels) in slices {
        for p in 0..w * h {
            let c = colour(voxels[p], voxels, p, *w, *h);
            for dy in 0..zoom {
                for dx in 0..zoom {
                    canvas.put(x + zoom * (p % w) + dx, y0 + zoom * (p / w) + dy, c);
                }
            }
        }
        x += zoom * w + 6;
        tallest = tallest.max(zoom * h);
    }
    tallest
}

fn labels_montage(out: &Path) -> Result<()> {
    let mut heads = Vec::new();
    for name in TRAINING_HEADS {
        heads.push(HeadAnatomy::load(&HeadAnatomy::default_dir(), name)?);
    }
    heads.push(HeadAnatomy::load_held_out(&HeadAnatomy::held_out_dir())?);
    let mut canvas = Canvas::new(3 * 250 + 24, heads.len() * 250 + 10);
    let mut y = 6;
    for head in &heads {
        let dims = head.dims();
        let inv = head
            .world_from_voxel()
            .inverse()
            .context("a singular affine")?;
        let c = inv.apply(head.brain_centre());
        let c = [0, 1, 2].map(|a| (c[a].round().max(0.0) as usize).min(dims[a] - 1));
        let labels = head.labels();
        let h = draw_row(&mut canvas, 6, y, 1, &slices(dims, c), |v, _, _, _, _| {
            COLOURS[usize::from(labels[v])]
        });
        println!("{}: rows {y}..{}", head.name(), y + h);
        y += h.max(200) + 6;
    }
    canvas.height = y;
    canvas.data.truncate(3 * canvas.width * y);
    canvas.write(out)
}

fn heads_montage(out: &Path, count: usize, seed: u64) -> Result<()> {
    let heads: Vec<HeadAnatomy> = TRAINING_HEADS
        .iter()
        .map(|name| HeadAnatomy::load(&HeadAnatomy::default_dir(), name))
        .collect::<Result<_, _>>()?;
    let options = HeadOptions::default();
    let dims = options.dims;
    let zoom = 2;
    let row = zoom * dims[1].max(dims[2]) + 8;
    let mut canvas = Canvas::new(zoom * (2 * dims[0] + dims[1]) + 24, count * row + 8);
    for n in 0..count {
        let head = &heads[n % heads.len()];
        let s = case_seed(seed, n as u64);
        let started = Instant::now();
        let case = generate_head(head, s, &options);
        let took = started.elapsed().as_secs_f64();
        // Window: 0 to the 99.5th percentile.
        let mut sorted = case.image.clone();
        sorted.sort_by(f32::total_cmp);
        let top = sorted[(sorted.len() as f64 * 0.995) as usize].max(1e-6);
        // Slices through the brain mask's centroid.
        let (mut sum, mut k) = ([0f64; 3], 0usize);
        for (i, _) in case.brain_mask.iter().enumerate().filter(|(_, &m)| m) {
            let p = [
                i % dims[0],
                (i / dims[0]) % dims[1],
                i / (dims[0] * dims[1]),
            ];
            for a in 0..3 {
                sum[a] += p[a] as f64;
            }
            k += 1;
        }
        let c = [0, 1, 2].map(|a| {
            if k > 0 {
                (sum[a] / k as f64) as usize
            } else {
                dims[a] / 2
            }
        });
        let mask = &case.brain_mask;
        draw_row(
            &mut canvas,
            6,
            6 + n * row,
            zoom,
            &slices(dims, c),
            |v, voxels, p, w, h| {
                let (x, y) = (p % w, p / w);
                let edge = mask[v]
                    && [(0i64, 1i64), (0, -1), (1, 0), (-1, 0)]
                        .iter()
                        .any(|&(dx, dy)| {
                            let (xx, yy) = (x as i64 + dx, y as i64 + dy);
                            xx < 0
                                || yy < 0
                                || xx >= w as i64
                                || yy >= h as i64
                                || !mask[voxels[(xx as usize) + w * (yy as usize)]]
                        });
                if edge {
                    [255, 40, 40]
                } else {
                    let g = (case.image[v] / top * 255.0).clamp(0.0, 255.0) as u8;
                    [g, g, g]
                }
            },
        );
        println!(
            "head {n}: {} seed {s:#018x}, {:?}, noise {:.3}, bias {:.2}, blur {:.2}, thick {:?}, crop {:?} mm, brain mask {:.0} mL, {:.0} ms",
            case.anatomy,
            case.draws.contrast,
            case.draws.noise,
            case.draws.bias,
            case.draws.blur,
            case.draws.thick_slices.map(|t| (t.axis, (t.thickness_mm * 10.0).round() / 10.0)),
            case.draws.crop_mm.map(|c| c.map(|d| d.round())),
            case.brain_volume_ml(),
            took * 1000.0
        );
    }
    canvas.write(out)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, out] if flag == "--labels" => labels_montage(Path::new(out)),
        [out, rest @ ..] => {
            let count = rest.first().map_or(Ok(4), |c| c.parse()).context("COUNT")?;
            let seed = rest.get(1).map_or(Ok(1), |s| s.parse()).context("SEED")?;
            heads_montage(Path::new(out), count, seed)
        }
        _ => anyhow::bail!(
            "usage: head_montage OUT.png [COUNT] [SEED] | head_montage --labels OUT.png"
        ),
    }
}
