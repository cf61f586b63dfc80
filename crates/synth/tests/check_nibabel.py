#!/usr/bin/env python3
"""Checks `adamm synth` output the way nibabel sees it (not run in CI; needs nibabel, numpy).

    adamm synth --out /tmp/synth --cases 20 --seed 2024
    python3 crates/synth/tests/check_nibabel.py /tmp/synth

For every case folder under the given root: each of the five files opens in nibabel; shape is
240 x 240 x 155 with 1 mm zooms; the affine, sform, qform and their codes equal the SRI24
atlas's (which has an sform only); images are int16 and the segmentation uint8; the label set
is {0,1,2,3} (2023 names) or {0,1,2,4} (2021 names); every image is exactly 0 outside one
common brain mask and positive inside it; labels lie inside the mask. Prints one line per case and the lesion-class means
(relative to the case's median brain intensity) and exits 1 on the first failure.
"""

import sys
from pathlib import Path

import nibabel as nib
import numpy as np

ATLAS = Path(__file__).resolve().parents[3] / "data" / "anatomy" / "sri24_t1_stripped.nii.gz"
SUFFIXES = {
    2023: ["-t1n", "-t1c", "-t2w", "-t2f", "-seg"],
    2021: ["_t1", "_t1ce", "_t2", "_flair", "_seg"],
}


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def check_case(case_dir, atlas):
    cid = case_dir.name
    naming = 2023 if (case_dir / f"{cid}-t1n.nii.gz").exists() else 2021
    files = [case_dir / f"{cid}{s}.nii.gz" for s in SUFFIXES[naming]]
    imgs = [nib.load(str(f)) for f in files]
    for f, im in zip(files, imgs):
        if im.shape != (240, 240, 155):
            fail(f"{f}: shape {im.shape}")
        if not np.allclose(im.header.get_zooms(), (1, 1, 1)):
            fail(f"{f}: zooms {im.header.get_zooms()}")
        h = im.header
        for name, aff, want in (
            ("affine", im.affine, atlas.affine),
            ("sform", h.get_sform(), atlas.header.get_sform()),
            ("qform", h.get_qform(), atlas.header.get_qform()),
        ):
            if not np.allclose(aff, want, atol=1e-5):
                fail(f"{f}: {name}\n{aff}\nvs atlas\n{want}")
        for code in ("qform_code", "sform_code"):
            if h[code] != atlas.header[code]:
                fail(f"{f}: {code} {h[code]} vs atlas {atlas.header[code]}")
        if nib.aff2axcodes(im.affine) != ("L", "A", "S"):
            fail(f"{f}: orientation {nib.aff2axcodes(im.affine)}")
    dtypes = [im.get_data_dtype() for im in imgs]
    if any(d != np.int16 for d in dtypes[:4]) or dtypes[4] != np.uint8:
        fail(f"{cid}: dtypes {dtypes}")
    data = [np.asarray(im.dataobj) for im in imgs]
    seg = data[4]
    labels = set(np.unique(seg).tolist())
    allowed = {0, 1, 2, 3} if naming == 2023 else {0, 1, 2, 4}
    if not labels <= allowed or 2 not in labels:
        fail(f"{cid}: labels {sorted(labels)} (allowed {sorted(allowed)})")
    mask = data[0] > 0
    for d in data[1:4]:
        if (d < 0).any() or not np.array_equal(d > 0, mask):
            fail(f"{cid}: images do not share one brain mask with background exactly 0")
    if (seg[~mask] != 0).any():
        fail(f"{cid}: labels outside the brain")
    et = 3 if naming == 2023 else 4
    rel = []
    for m in data[:4]:
        ref = np.median(m[mask])
        rel.append([m[seg == v].mean() / ref if (seg == v).any() else np.nan for v in (1, 2, et)])
    vols = [int((seg == v).sum()) / 1000 for v in (1, 2, et)]
    print(
        f"{cid}: ok  naming {naming}  brain {mask.sum() / 1000:.0f} mL  "
        f"NETC/SNFH/ET {vols[0]:.1f}/{vols[1]:.1f}/{vols[2]:.1f} mL  labels {sorted(labels)}"
    )
    return np.array(rel)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    root = Path(sys.argv[1])
    atlas = nib.load(str(ATLAS))
    cases = sorted(p.parent for p in root.rglob("*-seg.nii.gz")) + sorted(
        p.parent for p in root.rglob("*_seg.nii.gz")
    )
    if not cases:
        fail(f"no case under {root}")
    rel = np.array([check_case(c, atlas) for c in cases])
    print(f"\n{len(cases)} cases passed. Lesion means / median brain intensity (mean over cases):")
    print("modality  NETC   SNFH   ET")
    for i, m in enumerate(["T1", "T1Gd", "T2", "FLAIR"]):
        print(f"{m:<8} " + " ".join(f"{v:6.2f}" for v in np.nanmean(rel[:, i, :], axis=0)))


if __name__ == "__main__":
    main()
