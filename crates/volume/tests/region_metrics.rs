//! Region metrics on x-fastest label maps: the axis order and spacing must be honoured, and
//! errors name the axes in that order.

use adamm_volume::brats::Region;
use adamm_volume::metrics::region_metrics;

#[test]
fn a_one_voxel_shift_along_x_costs_the_x_spacing() {
    let dims = [12, 10, 8];
    let n = dims.iter().product();
    let (mut pred, mut truth) = (vec![0u8; n], vec![0u8; n]);
    for k in 2..6 {
        for j in 2..6 {
            for i in 3..7 {
                truth[i + dims[0] * (j + dims[1] * k)] = 3; // ET
                pred[i + 1 + dims[0] * (j + dims[1] * k)] = 1; // NETC, shifted +1 in x
            }
        }
    }
    let m = region_metrics(&pred, &truth, dims, [2.0, 1.0, 0.5]).expect("valid");
    let by = |r: Region| {
        m.iter()
            .find(|(x, _)| *x == r)
            .map(|(_, v)| *v)
            .expect("region")
    };
    // WT and TC: both masks are 4×4×4 cubes offset by one voxel along x (2 mm).
    for r in [Region::WT, Region::TC] {
        assert!((by(r).dice - 0.75).abs() < 1e-12, "{r}");
        assert!((by(r).hd95 - 2.0).abs() < 1e-12, "{r} hd95 {}", by(r).hd95);
    }
    // ET: the prediction has none → Dice 0 and the BraTS one-empty HD95.
    assert_eq!(by(Region::ET).dice, 0.0);
    assert!((by(Region::ET).hd95 - 373.1286642).abs() < 1e-6);
}

#[test]
fn errors_name_the_callers_axes_and_dims() {
    use adamm_volume::metrics::MetricsError;
    let labels = vec![0u8; 12 * 10 * 8];
    let err = region_metrics(&labels, &labels, [12, 10, 9], [1.0; 3]).expect_err("dims");
    assert!(
        matches!(
            err,
            MetricsError::MaskLength {
                dims: [12, 10, 9],
                len: 960,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("12 x 10 x 9"), "{err}");
    // The x spacing is axis 0 for the caller (not axis 2 of the reversed C-order axes).
    let err = region_metrics(&labels, &labels, [12, 10, 8], [0.0, 1.0, 1.0]).expect_err("sx");
    assert!(
        matches!(err, MetricsError::InvalidSpacing { axis: 0, .. }),
        "{err:?}"
    );
    let err = region_metrics(&labels, &labels[1..], [12, 10, 8], [1.0; 3]).expect_err("lengths");
    assert!(
        matches!(
            err,
            MetricsError::PredTruthLength {
                pred_len: 960,
                truth_len: 959
            }
        ),
        "{err:?}"
    );
}
