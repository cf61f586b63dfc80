"""Makes the small derived NIfTI files in derived/ with nibabel 5.4 (run from this folder).

Each file is a 5x4x3 ramp (value = i + 5*j + 20*k, minus 30 for signed types) in one datatype
and byte order, with an oblique-free LPS affine and scl_slope 2 / scl_inter -1 for the integer
types, so that the reader tests cover every scalar datatype, both endiannesses, NIfTI-2 and a
4-D file whose 4th dimension has size 1. The reference values the tests use are printed by
`python3 make_derived.py --print`.
"""
import sys
import numpy as np
import nibabel as nib

AFFINE = np.array([[-1.5, 0, 0, 10.0], [0, -2.0, 0, 20.0], [0, 0, 2.5, -30.0], [0, 0, 0, 1]])
TYPES = ["uint8", "int8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"]

def ramp(dtype):
    i, j, k = np.meshgrid(np.arange(5), np.arange(4), np.arange(3), indexing="ij")
    v = i + 5 * j + 20 * k
    if np.dtype(dtype).kind == "i":
        v = v - 30
    if np.dtype(dtype).kind == "f":
        v = v * 0.25
    return v.astype(dtype)

def make():
    for t in TYPES:
        for order in "<>":
            data = ramp(t)
            hdr = nib.Nifti1Header()
            hdr.set_data_dtype(np.dtype(t))
            if order == ">":
                hdr = hdr.as_byteswapped(">")
            img = nib.Nifti1Image(data, AFFINE, hdr)
            if np.dtype(t).kind != "f":
                img.header.set_slope_inter(2.0, -1.0)
            nib.save(img, f"derived/{t}_{'be' if order == '>' else 'le'}.nii")
    # NIfTI-2, both byte orders, and a 4-D file with one volume.
    data = ramp("float32")
    nib.save(nib.Nifti2Image(data, AFFINE), "derived/nifti2_le.nii.gz")
    img = nib.Nifti2Image(data, AFFINE)
    img = nib.Nifti2Image(data, AFFINE, img.header.as_byteswapped(">"))
    nib.save(img, "derived/nifti2_be.nii")
    nib.save(nib.Nifti1Image(data[..., None], AFFINE), "derived/single_volume_4d.nii.gz")

def show():
    import glob
    for f in sorted(glob.glob("derived/*")):
        img = nib.load(f)
        d = np.asarray(img.dataobj, dtype=np.float64)
        print(f, img.shape, img.header.get_data_dtype(), nib.aff2axcodes(img.affine),
              repr(d.min()), repr(d.max()), repr(d.mean()), repr(float(d[1, 2, 1].squeeze())))

if __name__ == "__main__":
    if "--print" in sys.argv:
        show()
    else:
        make()
