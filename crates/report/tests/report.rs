//! A report of a hand-built case: an anisotropic, mirrored grid with a brain and a tumour of
//! known layers. The pictures show what they say, the document holds everything and needs no
//! network, and the measurements inside it read back equal.

use adamm_measure::{case_meshes, measure_rano, region_stats, Measurements};
use adamm_report::{figures, InputFile, ModelInfo, Report, Scene, MEASUREMENTS_ID};
use adamm_view::camera::{surface_style, Camera};
use adamm_view::planes::{Underlay, CALIPER};
use adamm_view::raster::{render, surfaces, BACKGROUND};
use adamm_volume::brats::label;
use adamm_volume::nifti_io::Datatype;
use adamm_volume::{Affine, Header, Volume};
use base64::Engine as _;

const DIMS: [usize; 3] = [64, 56, 24];

/// x mirrored (as LPS-stored files are), 1 × 1 × 3 mm voxels, the grid's middle at the origin.
fn affine() -> Affine {
    let mut a = Affine::from_spacing([1.0, 1.0, 3.0]);
    a.0[0][0] = -1.0;
    a.0[0][3] = 32.0;
    a.0[1][3] = -28.0;
    a.0[2][3] = -36.0;
    a
}

struct Case {
    scan: Vec<f32>,
    labels: Vec<u8>,
    brain: Vec<bool>,
}

/// A brain ellipsoid (28 × 25 × 33 mm semi-axes) with a tumour centred 10 mm to the patient's
/// left (−x): ET up to 9 mm, a necrotic core inside 5 mm, edema out to 13 mm.
fn case() -> Case {
    let a = affine();
    let mut c = Case {
        scan: Vec::new(),
        labels: Vec::new(),
        brain: Vec::new(),
    };
    for k in 0..DIMS[2] {
        for j in 0..DIMS[1] {
            for i in 0..DIMS[0] {
                let p = a.apply([i as f64, j as f64, k as f64]);
                let inside =
                    (p[0] / 28.0).powi(2) + (p[1] / 25.0).powi(2) + (p[2] / 33.0).powi(2) <= 1.0;
                let r = ((p[0] + 10.0).powi(2) + p[1].powi(2) + p[2].powi(2)).sqrt();
                let l = match r {
                    _ if !inside => label::BACKGROUND,
                    r if r <= 5.0 => label::NETC,
                    r if r <= 9.0 => label::ET,
                    r if r <= 13.0 => label::SNFH,
                    _ => label::BACKGROUND,
                };
                c.brain.push(inside);
                c.labels.push(l);
                c.scan.push(match (inside, l) {
                    (false, _) => 0.0,
                    (true, label::ET) => 300.0,
                    _ => 100.0 + (i % 7) as f32,
                });
            }
        }
    }
    c
}

fn pixels_of(picture: &adamm_view::raster::Picture, colour: [u8; 3]) -> usize {
    picture.rgba.chunks(4).filter(|p| p[..3] == colour).count()
}

fn report() -> (Report, Measurements) {
    let c = case();
    let a = affine();
    let measurements = Measurements {
        rano: measure_rano(&c.labels, DIMS, &a).expect("rano"),
        regions: region_stats(&c.labels, DIMS, &a, Some(&c.brain), &[("T1Gd", &c.scan)])
            .expect("statistics"),
    };
    let meshes = case_meshes(&c.labels, DIMS, &a, Some(&c.brain)).expect("meshes");
    let header = Header::from_affine(DIMS, Datatype::F32, &a);
    let underlay = Underlay::of(&Volume::new(c.scan.clone(), header).expect("volume"));
    let brain: Vec<u8> = c.brain.iter().map(|&b| u8::from(b)).collect();
    let scene = Scene {
        underlay: &underlay,
        underlay_name: "T1Gd",
        labels: &c.labels,
        brain: Some(&brain),
        measurements: &measurements,
        meshes: &meshes,
    };
    let figures = figures(&scene).expect("figures");
    let report = Report {
        made_by: "the test".into(),
        files: vec![InputFile {
            role: "T1Gd".into(),
            name: "case<1>&-t1c.nii.gz".into(),
            grid: "64×56×24, 1×1×3 mm".into(),
        }],
        model: ModelInfo {
            name: "adamm-light.bpk".into(),
            detail: "light preset".into(),
            card: Some("{\"intended_use\": \"research and teaching\"}".into()),
        },
        modalities: "T1Gd".into(),
        notes: vec!["skull-stripped".into()],
        warnings: vec![],
        volumes_ml: vec![("WT".into(), 9.2)],
        presence: Some([0.9, 0.8, 0.7]),
        measurements: measurements.clone(),
        scores: vec![],
        figures,
    };
    (report, measurements)
}

#[test]
fn the_pictures_go_through_the_largest_lesion() {
    let (report, measurements) = report();
    let lesion = &measurements.rano.lesions[0];
    assert!(lesion.measurable, "{lesion:?}");
    let f = &report.figures;
    assert_eq!(f.len(), 4, "three planes and the 3-D view");
    // Square millimetre pixels, the longer side 320: the axial plane is 64 × 56 mm, the
    // coronal 64 × 72 mm, the sagittal 56 × 72 mm.
    let sizes: Vec<(usize, usize)> = f
        .iter()
        .map(|f| (f.picture.width, f.picture.height))
        .collect();
    assert_eq!(sizes, [(320, 280), (284, 320), (249, 320), (480, 480)]);
    // The planes go through the lesion: each shows the enhancing label's colour.
    let et = adamm_volume::brats::LABEL_COLOURS
        .iter()
        .find(|(v, ..)| *v == label::ET)
        .expect("ET colour")
        .2;
    let blended =
        |c: [u8; 3], grey: f32| c.map(|v| (0.5 * f32::from(v) + 0.5 * grey).round() as u8);
    for plane in &f[..3] {
        let lit = plane
            .picture
            .rgba
            .chunks(4)
            .filter(|p| {
                p[..3]
                    .iter()
                    .zip(blended(et, 255.0))
                    .all(|(a, b)| a.abs_diff(b) <= 1)
            })
            .count();
        assert!(lit > 500, "{}: {lit} ET pixels", plane.caption);
    }
    // Calipers on the axial plane only, and the orientation letters of radiological views.
    assert!(pixels_of(&f[0].picture, CALIPER) > 40);
    assert_eq!(pixels_of(&f[1].picture, CALIPER), 0);
    assert_eq!(f[0].letters, Some(['R', 'L', 'A', 'P']));
    assert!(f[0].caption.contains("RANO"));
    // The 3-D view: the background at the corners, the translucent surfaces in the middle.
    let surface = &f[3].picture;
    assert_eq!(&surface.rgba[..3], &BACKGROUND);
    let middle = 4 * (240 * 480 + 240);
    assert_ne!(&surface.rgba[middle..middle + 3], &BACKGROUND);
    assert!(surface_style("ET").1 >= 1.0);
}

/// The centre of the warm pixels of a 3-D picture: the tumour core (red ET, yellow TC) seen
/// through the translucent green WT and grey brain.
fn warm_centre(p: &adamm_view::raster::Picture) -> (f64, f64) {
    let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
    for (i, px) in p.rgba.chunks(4).enumerate() {
        let [r, b] = [px[0], px[2]].map(i32::from);
        if r > b + 60 && r > 80 {
            sx += (i % p.width) as f64;
            sy += (i / p.width) as f64;
            n += 1.0;
        }
    }
    assert!(n > 100.0, "{n} warm pixels");
    (sx / n, sy / n)
}

#[test]
fn the_3d_view_faces_the_lesion() {
    let (report, _) = report();
    // The tumour is 10 mm to the patient's left of the brain's middle. Turned towards it, the
    // eye looks along that line: the tumour sits in the picture's middle.
    let (x, y) = warm_centre(&report.figures[3].picture);
    assert!(
        (x - 240.0).abs() < 8.0 && (y - 240.0).abs() < 8.0,
        "({x}, {y})"
    );
    // Seen from the front instead, it lies well to one side.
    let c = case();
    let meshes = case_meshes(&c.labels, DIMS, &affine(), Some(&c.brain)).expect("meshes");
    let surfaces = surfaces(&meshes);
    let all: Vec<&adamm_measure::Mesh> = meshes.iter().map(|(_, m)| m).collect();
    let front = Camera::framing(&all).expect("a camera");
    let (x, _) = warm_centre(&render(&surfaces, &front, 480, 480));
    assert!((x - 240.0).abs() > 25.0, "{x}");
}

#[test]
fn the_document_is_self_contained_and_holds_the_measurements() {
    let (report, measurements) = report();
    let html = report.to_html().expect("html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Nothing to fetch: no URL but the embedded pictures.
    for needle in [
        "http:", "https:", "src=\"/", "src=\"./", "<link", "@import", "url(",
    ] {
        assert!(!html.contains(needle), "{needle}");
    }
    let sources: Vec<&str> = html.split("src=\"").skip(1).collect();
    assert_eq!(sources.len(), 4);
    for (s, figure) in sources.iter().zip(&report.figures) {
        let data = s
            .strip_prefix("data:image/png;base64,")
            .and_then(|d| d.split('"').next())
            .expect("a PNG data URL");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("base64");
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().expect("a PNG");
        let mut buf = vec![0; reader.output_buffer_size().expect("size")];
        let info = reader.next_frame(&mut buf).expect("a frame");
        assert_eq!(
            (info.width as usize, info.height as usize),
            (figure.picture.width, figure.picture.height)
        );
        assert_eq!(&buf[..info.buffer_size()], figure.picture.rgba.as_slice());
    }
    // The measurements, machine-readable, equal to those given.
    let open = format!("<script type=\"application/json\" id=\"{MEASUREMENTS_ID}\">");
    let json = html
        .split(&open)
        .nth(1)
        .and_then(|s| s.split("</script>").next())
        .expect("the measurements element");
    let back: Measurements = serde_json::from_str(json).expect("JSON");
    assert_eq!(back, measurements);
    // The figures people read: the RANO sum, the lesion's diameters, the caveat, the card.
    let sum = format!("{:.0}", measurements.rano.sum_of_products_mm2);
    assert!(html.contains(&format!("<span class=\"rano-sum\">{sum}</span>")));
    let l = &measurements.rano.lesions[0];
    assert!(html.contains(&format!("{:.1} mm", l.longest.length_mm)));
    assert!(html.contains("not a medical device"));
    assert!(html.contains("intended_use"));
    assert!(
        html.contains("left hemisphere"),
        "the tumour is on the left"
    );
    // File names are text, not markup.
    assert!(html.contains("case&lt;1&gt;&amp;-t1c.nii.gz"));
    assert!(!html.contains("case<1>"));
}

#[test]
fn labels_on_another_grid_are_refused() {
    let c = case();
    let a = affine();
    let measurements = Measurements {
        rano: measure_rano(&c.labels, DIMS, &a).expect("rano"),
        regions: vec![],
    };
    let header = Header::from_affine(DIMS, Datatype::F32, &a);
    let underlay = Underlay::of(&Volume::new(c.scan, header).expect("volume"));
    let scene = Scene {
        underlay: &underlay,
        underlay_name: "T1Gd",
        labels: &c.labels[1..],
        brain: None,
        measurements: &measurements,
        meshes: &[],
    };
    let error = figures(&scene).expect_err("labels of the wrong size");
    assert!(error.to_string().contains("not on the grid"), "{error}");
}
