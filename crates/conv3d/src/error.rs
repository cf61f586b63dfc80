//! The one error type of this crate.

use thiserror::Error;

/// Why a convolution cannot run on this crate's kernels.
///
/// Every variant describes a configuration or a buffer the caller passed; none is a failure of
/// the computation. The Burn wiring ([`crate::conv3d`], feature `burn`) never shows these to its
/// caller: for an unsupported configuration it runs Burn's own conv3d instead.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Conv3dError {
    /// A size that must be at least 1 is 0.
    #[error("the {what} of a 3-D convolution must be at least 1, got 0")]
    Zero {
        /// Which size (batch, channels, an input extent, a kernel extent, a stride).
        what: &'static str,
    },
    /// The kernel does not fit in the padded input along one axis.
    #[error(
        "the kernel ({kernel}) is larger than the padded input ({padded}) along axis {axis}: \
         no output voxel"
    )]
    KernelLargerThanInput {
        /// The spatial axis (0 = depth, 1 = height, 2 = width).
        axis: usize,
        /// Kernel extent along that axis.
        kernel: usize,
        /// Input extent plus both paddings along that axis.
        padded: usize,
    },
    /// A configuration these kernels do not implement (dilation, groups, asymmetric padding).
    #[error("unsupported 3-D convolution: {0}")]
    Unsupported(String),
    /// A size so large that the buffers' element counts overflow `usize`.
    #[error("3-D convolution too large: the element count of the {0} overflows")]
    TooLarge(&'static str),
    /// A buffer's length does not match the geometry.
    #[error("the {buffer} buffer holds {actual} values, the geometry needs {expected}")]
    BufferLength {
        /// Which buffer (input, weight, bias, output, output gradient, …).
        buffer: &'static str,
        /// Its length.
        actual: usize,
        /// The length the geometry implies.
        expected: usize,
    },
}
