//! Burn's `nn::conv::Conv3d` layer through [`conv3d`], and the process-wide switch between this
//! crate's kernels and Burn's.

use std::sync::atomic::{AtomicBool, Ordering};

use burn::nn::conv::Conv3d;
use burn::nn::PaddingConfig3d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::Tensor;

use crate::conv3d;

/// Whether [`conv3d`] may take this crate's kernels (see [`set_enabled`]).
static ENABLED: AtomicBool = AtomicBool::new(true);

/// Turns this crate's kernels on or off for the whole process (on by default). Off, [`conv3d`]
/// and [`FastConv3d::fast_forward`] are Burn's conv3d: for comparing the two on one model
/// (benchmarks, equality tests) and as an escape hatch.
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// Whether this crate's kernels are on (see [`set_enabled`]).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The forward pass of Burn's [`Conv3d`] layer through [`conv3d`]: the same values as
/// `Conv3d::forward`, on this crate's kernels wherever [`conv3d`] takes them.
pub trait FastConv3d {
    /// `self.forward(x)`, computed by [`conv3d`].
    fn fast_forward(&self, x: Tensor<5>) -> Tensor<5>;
}

impl FastConv3d for Conv3d {
    fn fast_forward(&self, x: Tensor<5>) -> Tensor<5> {
        let padding = match self.padding {
            PaddingConfig3d::Valid => [0; 3],
            PaddingConfig3d::Explicit(d, h, w) => [d, h, w],
            // `Same` depends on the input size by a rule Burn keeps private: Burn computes it.
            #[allow(clippy::disallowed_methods)] // the fallback this trait stands in front of
            PaddingConfig3d::Same => return self.forward(x),
        };
        conv3d(
            x,
            self.weight.val(),
            self.bias.as_ref().map(|bias| bias.val()),
            ConvOptions::new(self.stride, padding, self.dilation, self.groups),
        )
    }
}
