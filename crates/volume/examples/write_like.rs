//! Writes a label map in the grid of a reference NIfTI file: `write_like REF OUT`.
//! Used to check by hand that nibabel, ITK-SNAP or Slicer overlay it exactly on REF.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, reference, out] = args.as_slice() else {
        return Err("usage: write_like REF OUT.nii.gz".into());
    };
    let v = adamm_volume::read_path(reference.as_ref())?;
    let mean = v.stats().mean as f32;
    let labels: Vec<u8> = v.data.iter().map(|&x| u8::from(x > mean)).collect();
    adamm_volume::nifti_io::write_path(out.as_ref(), &v.header, &labels)?;
    Ok(())
}
