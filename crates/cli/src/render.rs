//! `adamm render`: a PNG montage of a case — the four modalities and the label overlay on one
//! axial slice through the tumour, with a built-in legend.

use std::io::Write;
use std::path::{Path, PathBuf};

use adamm_volume::brats::{
    classify_file_name, discover_cases, load_case, LoadedCase, Modality, LABEL_COLOURS,
};
use anyhow::{bail, Context};

/// Arguments of `adamm render`.
#[derive(clap::Args)]
pub struct Args {
    /// A case folder (BraTS 2021 or 2023 file names) or any one file of the case.
    case: PathBuf,
    /// The PNG file to write.
    #[arg(long, value_name = "PNG")]
    png: PathBuf,
    /// Axial slice (canonical RAS index, 0 = most inferior); default: the slice with the
    /// largest tumour area, or the largest brain area when there is no tumour.
    #[arg(long)]
    slice: Option<usize>,
    /// Which case, when the folder holds several.
    #[arg(long)]
    id: Option<String>,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let slice = render_case(&args.case, args.id.as_deref(), args.slice, &args.png)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "wrote {} (axial slice {slice})", args.png.display())?;
    Ok(())
}

/// Finds the case at `path` (a folder or one of its files), renders it and writes the PNG;
/// returns the axial slice shown.
pub fn render_case(
    path: &Path,
    id: Option<&str>,
    slice: Option<usize>,
    png: &Path,
) -> anyhow::Result<usize> {
    let (dir, id) = if path.is_file() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let Some((file_id, _, _)) = classify_file_name(name) else {
            bail!(
                "{} does not have a BraTS file name (<id>-t1n.nii.gz, <id>_flair.nii.gz, …)",
                path.display()
            );
        };
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        (dir, Some(id.unwrap_or(file_id).to_string()))
    } else {
        (path.to_path_buf(), id.map(str::to_string))
    };
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    let found = discover_cases(&dir).with_context(|| format!("scanning {}", dir.display()))?;
    let mut cases: Vec<_> = found
        .cases
        .into_iter()
        .filter(|c| id.as_deref().is_none_or(|id| c.id == id))
        .collect();
    let files = match cases.len() {
        0 => bail!(
            "no BraTS case{} found in {}",
            id.map(|i| format!(" {i}")).unwrap_or_default(),
            dir.display()
        ),
        1 => cases.remove(0),
        n => bail!(
            "{} holds {n} cases ({}, …); choose one with --id",
            dir.display(),
            cases[0].id
        ),
    };
    let case = load_case(&files).with_context(|| format!("loading case {}", files.id))?;
    let (image, shown) = montage(&case, slice)?;
    write_png(png, &image)?;
    Ok(shown)
}

/// An RGB image, rows top to bottom.
pub struct Rgb {
    width: usize,
    height: usize,
    data: Vec<u8>,
}

impl Rgb {
    fn new(width: usize, height: usize, fill: [u8; 3]) -> Rgb {
        Rgb {
            width,
            height,
            data: fill.repeat(width * height),
        }
    }

    fn put(&mut self, x: usize, y: usize, c: [u8; 3]) {
        if x < self.width && y < self.height {
            let o = 3 * (x + self.width * y);
            self.data[o..o + 3].copy_from_slice(&c);
        }
    }

    fn rect(&mut self, x: usize, y: usize, w: usize, h: usize, c: [u8; 3]) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.put(xx, yy, c);
            }
        }
    }

    /// Draws `text` with the built-in 5 × 7 font, each font pixel `scale` pixels wide; returns
    /// the x after the text.
    fn text(&mut self, x: usize, y: usize, text: &str, scale: usize, c: [u8; 3]) -> usize {
        let mut cx = x;
        for ch in text.chars() {
            let rows = glyph(ch.to_ascii_uppercase());
            for (ry, bits) in rows.iter().enumerate() {
                for rx in 0..5 {
                    if bits & (0b10000 >> rx) != 0 {
                        self.rect(cx + rx * scale, y + ry * scale, scale, scale, c);
                    }
                }
            }
            cx += 6 * scale;
        }
        cx
    }
}

/// The 5 × 7 bitmap of a character (bit 4 is the leftmost column); unknown characters are
/// drawn as a hollow box.
fn glyph(c: char) -> [u8; 7] {
    match c {
        'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1E],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        ' ' => [0; 7],
        '-' => [0, 0, 0, 0x1F, 0, 0, 0],
        '_' => [0, 0, 0, 0, 0, 0, 0x1F],
        '=' => [0, 0, 0x1F, 0, 0x1F, 0, 0],
        '.' => [0, 0, 0, 0, 0, 0x0C, 0x0C],
        ',' => [0, 0, 0, 0, 0x0C, 0x04, 0x08],
        ':' => [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        '/' => [0x01, 0x02, 0x02, 0x04, 0x08, 0x08, 0x10],
        '%' => [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        _ => [0x1F, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1F],
    }
}

const BACKGROUND: [u8; 3] = [16, 16, 20];
const TEXT: [u8; 3] = [235, 235, 235];
const FONT: usize = 2;

/// The 0.5th and 99.5th percentiles of the non-zero voxels (display window).
fn window(data: &[f32]) -> (f32, f32) {
    let mut v: Vec<f32> = data.iter().copied().filter(|&x| x != 0.0).collect();
    if v.is_empty() {
        return (0.0, 1.0);
    }
    let lo = (v.len() as f64 * 0.005) as usize;
    let hi = ((v.len() as f64 * 0.995) as usize).min(v.len() - 1);
    let (_, &mut l, _) = v.select_nth_unstable_by(lo, f32::total_cmp);
    let (_, &mut h, _) = v.select_nth_unstable_by(hi, f32::total_cmp);
    (l.min(0.0), if h > l { h } else { l + 1.0 })
}

/// Builds the montage: one panel per modality (absent ones say so), then the labels over
/// FLAIR (or the first present image); radiological view (patient's right on the left).
pub fn montage(case: &LoadedCase, slice: Option<usize>) -> anyhow::Result<(Rgb, usize)> {
    let Some(grid_volume) = case.grid_volume() else {
        bail!("case {} has no image", case.id);
    };
    let map = grid_volume.canonical_map();
    let [nx, ny, nz] = map.canonical_dims();
    let images: Vec<Option<Vec<f32>>> = case
        .images
        .iter()
        .map(|v| v.as_ref().map(|v| map.canonical_from_native(&v.data)))
        .collect();
    let seg: Option<Vec<u8>> = case.seg.as_ref().map(|s| map.canonical_from_native(s));
    let plane = nx * ny;
    let brain = |v: usize| images.iter().flatten().any(|im| im[v] != 0.0);

    let k = match slice {
        Some(k) if k < nz => k,
        Some(k) => bail!("slice {k} is outside the volume (0..{nz})"),
        None => {
            let tumour_area = |k: usize| {
                seg.as_ref().map_or(0, |s| {
                    s[k * plane..(k + 1) * plane]
                        .iter()
                        .filter(|&&l| l > 0)
                        .count()
                })
            };
            let best = (0..nz).max_by_key(|&k| tumour_area(k)).unwrap_or(nz / 2);
            if tumour_area(best) > 0 {
                best
            } else {
                (0..nz)
                    .max_by_key(|&k| (k * plane..(k + 1) * plane).filter(|&v| brain(v)).count())
                    .unwrap_or(nz / 2)
            }
        }
    };

    // Crop every panel to the brain's in-plane bounding box (over the whole volume).
    let (mut x0, mut x1, mut y0, mut y1) = (nx, 0, ny, 0);
    for v in 0..nx * ny * nz {
        if brain(v) {
            let (x, y) = (v % nx, (v / nx) % ny);
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0, nx - 1, 0, ny - 1);
    }
    let margin = 6;
    let (x0, x1) = (x0.saturating_sub(margin), (x1 + margin).min(nx - 1));
    let (y0, y1) = (y0.saturating_sub(margin), (y1 + margin).min(ny - 1));
    let (cw, ch) = (x1 - x0 + 1, y1 - y0 + 1);
    let zoom = if cw.max(ch) <= 200 { 2 } else { 1 };
    let (pw, ph) = (cw * zoom, ch * zoom);
    let gap = 8;
    let header = 7 * FONT + 14;
    let footer = 7 * FONT + 20;
    let width = 5 * pw + 6 * gap;
    let height = header + ph + footer;
    let mut img = Rgb::new(width, height, BACKGROUND);

    let overlay_on = [Modality::Flair, Modality::T2, Modality::T1Gd, Modality::T1]
        .into_iter()
        .find(|m| images[m.index()].is_some())
        .unwrap_or(Modality::Flair);
    let grey = |m: Modality| -> Option<Box<dyn Fn(usize, usize) -> u8 + '_>> {
        let data = images[m.index()].as_ref()?;
        let (lo, hi) = window(data);
        Some(Box::new(move |x: usize, y: usize| {
            let v = data[x + nx * (y + ny * k)];
            ((v - lo) / (hi - lo) * 255.0).clamp(0.0, 255.0) as u8
        }))
    };
    // Panel pixel (px, py) shows canonical voxel (x1 - px, y1 - py): right on the left,
    // anterior at the top.
    for (p, m) in Modality::ALL
        .into_iter()
        .map(Some)
        .chain([None])
        .enumerate()
    {
        let left = gap + p * (pw + gap);
        let title = match m {
            Some(m) => m.name().to_string(),
            None => format!("LABELS ON {}", overlay_on.name()),
        };
        img.text(left, 7, &title, FONT, TEXT);
        let source = m.unwrap_or(overlay_on);
        let Some(g) = grey(source) else {
            img.text(left + 8, header + ph / 2, "ABSENT", FONT, [150, 150, 150]);
            continue;
        };
        for py in 0..ph {
            for px in 0..pw {
                let (x, y) = (x1 - px / zoom, y1 - py / zoom);
                let v = g(x, y);
                let mut c = [v, v, v];
                if m.is_none() {
                    if let Some(s) = &seg {
                        let l = s[x + nx * (y + ny * k)];
                        if let Some((_, _, col)) = LABEL_COLOURS.iter().find(|(lv, _, _)| *lv == l)
                        {
                            c = [0, 1, 2]
                                .map(|i| ((c[i] as u16 * 2 + col[i] as u16 * 3) / 5) as u8);
                        }
                    }
                }
                img.put(left + px, header + py, c);
            }
        }
    }

    // Legend and slice information.
    let y = header + ph + 10;
    let mut x = gap;
    for (_, name, col) in LABEL_COLOURS {
        img.rect(x, y, 7 * FONT, 7 * FONT, col);
        x = img.text(x + 7 * FONT + 6, y, name, FONT, TEXT) + 18;
    }
    let info = format!(
        "{}   AXIAL SLICE {k} OF {nz}   RADIOLOGICAL VIEW (R ON LEFT)",
        case.id
    );
    img.text(x + 12, y, &info, FONT, [180, 180, 180]);
    if seg.is_none() {
        let left = gap + 4 * (pw + gap);
        img.text(
            left + 8,
            header + 8,
            "NO SEGMENTATION",
            FONT,
            [230, 120, 120],
        );
    }
    Ok((img, k))
}

/// Writes an RGB image as an 8-bit PNG.
pub fn write_png(path: &Path, image: &Rgb) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut enc = png::Encoder::new(
        std::io::BufWriter::new(file),
        image.width as u32,
        image.height as u32,
    );
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc
        .write_header()
        .with_context(|| format!("writing {}", path.display()))?;
    writer
        .write_image_data(&image.data)
        .with_context(|| format!("writing {}", path.display()))?;
    writer
        .finish()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
