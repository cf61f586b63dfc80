//! The derived anatomies shipped in `data/anatomy` (Colin27 and the MNI152 average) and
//! `data/heldout` (ICBM152), made by the `derive_anatomy` example: on the SRI24 BraTS grid,
//! brain-sized, with the T1 tissue ordering of a real brain, usable by the generator — and the
//! held-out anatomy is only in its own folder, marked as held out.

use std::path::Path;

use adamm_synth::anatomy::{
    anatomy_files, is_held_out_name, HELD_OUT_ANATOMY, T1_FILE, TISSUE_FILE, TRAINING_ANATOMIES,
};
use adamm_synth::{case_seed, generate, Anatomy};
use adamm_volume::read_path;

fn read_in(dir: &Path, name: &str) -> adamm_volume::Volume {
    let path = dir.join(name);
    read_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read(name: &str) -> adamm_volume::Volume {
    read_in(&Anatomy::default_dir(), name)
}

#[test]
fn derived_anatomies_are_brains_on_the_brats_grid_and_generate_cases() {
    let sri24 = read(T1_FILE);
    for (dir, name) in [
        (Anatomy::default_dir(), "colin27"),
        (Anatomy::default_dir(), "mni152"),
        (Anatomy::held_out_dir(), HELD_OUT_ANATOMY),
    ] {
        let [t1_file, tissue_file] = anatomy_files(name);
        let (t1, tissues) = (read_in(&dir, &t1_file), read_in(&dir, &tissue_file));
        for v in [&t1, &tissues] {
            assert_eq!(v.dims(), sri24.dims(), "{name}");
            assert!(v.world_from_voxel().max_abs_diff(&sri24.world_from_voxel()) < 1e-4);
        }
        // Brain volume (1 mm voxels) and T1 means per class: CSF < GM < WM.
        let brain = tissues.data.iter().filter(|&&l| l > 0.0).count() as f64 / 1000.0;
        assert!((1100.0..1900.0).contains(&brain), "{name}: {brain} mL");
        let mean = |class: f32| {
            let (s, n) = t1
                .data
                .iter()
                .zip(&tissues.data)
                .filter(|(_, &l)| l == class)
                .fold((0.0f64, 0usize), |(s, n), (&v, _)| {
                    (s + f64::from(v), n + 1)
                });
            s / n as f64
        };
        let (csf, gm, wm) = (mean(1.0), mean(2.0), mean(3.0));
        assert!(csf < gm && gm < wm, "{name}: {csf} {gm} {wm}");
        // The T1 is zero exactly outside the tissue map.
        assert!(t1
            .data
            .iter()
            .zip(&tissues.data)
            .all(|(&v, &l)| (v > 0.0) == (l > 0.0)));
        let anatomy = Anatomy::load_named(&dir, name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(anatomy.name(), name);
        assert_eq!(anatomy.is_held_out(), name == HELD_OUT_ANATOMY);
        let case = generate(&anatomy, case_seed(5, 0));
        let counts = case.label_counts();
        assert!(
            counts[1] + counts[2] + counts[3] > 1000,
            "{name}: {counts:?}"
        );
    }
}

#[test]
fn the_held_out_anatomy_is_not_shipped_for_training() {
    let dir = Anatomy::default_dir();
    let entries = std::fs::read_dir(&dir).expect("the anatomy folder");
    for entry in entries {
        let name = entry
            .expect("an entry")
            .file_name()
            .to_string_lossy()
            .to_lowercase();
        assert!(!is_held_out_name(&name), "{name} in {}", dir.display());
    }
    assert!(dir.join(TISSUE_FILE).exists());
    for name in TRAINING_ANATOMIES {
        assert_ne!(name, HELD_OUT_ANATOMY);
        for file in anatomy_files(name) {
            assert!(dir.join(&file).exists(), "{file} missing");
        }
    }
}
